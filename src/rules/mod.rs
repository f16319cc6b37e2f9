//! Rules: `rules/*.toml` compiled into an immutable [`RuleSet`].
//!
//! A rule set has the field classes (key families, context rules, value
//! detectors) and, per purpose, a consent mode and an action per class.

use crate::class::{FieldClass, Purpose};

/// How a purpose consults the subject's consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentMode {
    /// Allowed unless the subject withdrew consent for this purpose.
    OptOut,
    /// Denied unless the subject granted consent for this purpose.
    OptIn,
    /// Consent is never consulted (`legal`); such accesses are flagged.
    None,
}

/// What a purpose does with one class of personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Allow,
    /// Keep the last `keep` characters, mask the rest, keep separators.
    Mask { keep: u8 },
    Pseudonymize,
    Generalize,
    Remove,
    Null,
    Block,
}

/// The per-purpose policy.
#[derive(Debug, Clone)]
pub struct PurposeRules {
    pub purpose: Purpose,
    pub consent: ConsentMode,
    pub actions: [Action; FieldClass::COUNT],
    /// Whether bodies that are neither JSON nor text may pass.
    pub allow_other_content: bool,
}

impl PurposeRules {
    pub fn action(&self, class: FieldClass) -> Action {
        self.actions[class.index()]
    }
}
