//! Value detectors: find identifiers inside string values and free text.
//!
//! Each identifier class has its own file with its checksum and its test
//! vectors. A detector reports only what passes its checksum: a number that
//! fails is not personal data and passes unchanged.

use crate::class::{ClassSet, FieldClass};

/// One identifier found in a text: a byte range and its class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finding {
    pub start: usize,
    pub end: usize,
    pub class: FieldClass,
}

/// The compiled set of detectors a rule set enables.
#[derive(Debug, Clone)]
pub struct Detectors {
    enabled: ClassSet,
}

impl Detectors {
    pub fn new(enabled: ClassSet) -> Self {
        Detectors { enabled }
    }

    pub fn enabled(&self) -> ClassSet {
        self.enabled
    }

    /// Appends to `out` the identifiers found in `text`, sorted by start and
    /// not overlapping.
    pub fn scan(&self, text: &str, out: &mut Vec<Finding>) {
        let _ = (text, out);
    }
}
