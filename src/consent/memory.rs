//! An in-memory consent source: for tests, benches and the demo's seed data.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use super::{BoxFuture, ConsentError, ConsentSource, SubjectState};
use crate::class::Purpose;

/// Subjects and their states in a map. It counts the calls made to it and
/// can be told to fail, to stand in for a backend that is down.
#[derive(Debug, Default)]
pub struct MemorySource {
    states: RwLock<HashMap<String, SubjectState>>,
    calls: AtomicU64,
    failing: AtomicBool,
}

impl MemorySource {
    pub fn new() -> MemorySource {
        MemorySource::default()
    }

    pub fn set(&self, subject: &str, state: SubjectState) {
        let mut map = match self.states.write() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        map.insert(subject.to_owned(), state);
    }

    pub fn set_purpose(&self, subject: &str, purpose: Purpose, granted: bool) {
        let mut state = self.state(subject);
        state.purposes[purpose.index()] = Some(granted);
        self.set(subject, state);
    }

    pub fn set_blocked(&self, subject: &str, blocked: bool) {
        let mut state = self.state(subject);
        state.blocked = blocked;
        self.set(subject, state);
    }

    pub fn state(&self, subject: &str) -> SubjectState {
        let map = match self.states.read() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        map.get(subject).copied().unwrap_or_default()
    }

    /// While set, every lookup fails with `Unavailable`.
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Relaxed);
    }

    /// Lookups made so far (one per batch).
    pub fn calls(&self) -> u64 {
        self.calls.load(Relaxed)
    }
}

impl ConsentSource for MemorySource {
    fn lookup<'a>(
        &'a self,
        subjects: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<SubjectState>, ConsentError>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Relaxed);
            if self.failing.load(Relaxed) {
                return Err(ConsentError::Unavailable);
            }
            Ok(subjects.iter().map(|s| self.state(s)).collect())
        })
    }
}
