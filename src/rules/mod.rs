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
    Mask {
        keep: u8,
    },
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

/// The compiled, immutable rule set.
#[derive(Debug, Clone)]
pub struct RuleSet {
    purposes: Vec<PurposeRules>,
    version: String,
}

impl RuleSet {
    pub fn purpose(&self, p: Purpose) -> &PurposeRules {
        &self.purposes[p.index()]
    }

    /// A short hash of the rules files, recorded in the audit and metrics.
    pub fn version(&self) -> &str {
        &self.version
    }
}

/// Everything wrong with a rules directory: each error names the file, the
/// line and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct RulesError(pub Vec<String>);

impl RuleSet {
    /// Loads and compiles `rules/*.toml` from a directory.
    pub fn load_dir(dir: &std::path::Path) -> Result<RuleSet, RulesError> {
        // PLACEHOLDER until the rules compiler lands on main.
        let _ = dir;
        Ok(Self::embedded())
    }

    /// The default rules shipped in `rules/`, embedded in the binary.
    pub fn embedded() -> RuleSet {
        // PLACEHOLDER until the rules compiler lands on main.
        RuleSet {
            purposes: Purpose::ALL
                .into_iter()
                .map(|purpose| PurposeRules {
                    purpose,
                    consent: ConsentMode::OptOut,
                    actions: [Action::Allow; FieldClass::COUNT],
                    allow_other_content: false,
                })
                .collect(),
            version: "placeholder".into(),
        }
    }
}
