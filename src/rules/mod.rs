//! Rules: `rules/*.toml` compiled into an immutable [`RuleSet`].
//!
//! A rule set has the field classes (key families, context rules, value
//! detectors) and, per purpose, a consent mode and an action per class.

use std::collections::HashMap;

use crate::class::{ClassSet, FieldClass, Purpose};

pub mod fhir;
pub mod keys;
mod load;
pub mod purpose_of_use;

pub use load::parse_action;
pub use purpose_of_use::PurposeOfUse;

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
    /// A member that no rule classifies is removed (outside FHIR
    /// resources, and but for the structural members of a page): a purpose
    /// whose need is narrow gets only what a rule names.
    pub allowlist: bool,
}

impl PurposeRules {
    pub fn action(&self, class: FieldClass) -> Action {
        self.actions[class.index()]
    }
}

/// A generic key that takes its class from an enclosing key.
#[derive(Debug, Clone)]
pub struct ContextRule {
    /// `None`: the value is not personal data (an organisation's INN).
    pub class: Option<FieldClass>,
    pub keys: Vec<Vec<String>>,
    pub within: Vec<Vec<String>>,
    /// Part of the class's record but not an identifier (a passport's issue
    /// date): a purpose that may not see the class as written gets it
    /// removed, since a mask or a pseudonym of it would say nothing.
    pub part: bool,
}

/// A value whose class is named by a sibling (FHIR `identifier.system`).
#[derive(Debug, Clone)]
pub struct SiblingRule {
    pub within: Vec<Vec<String>>,
    pub discriminators: Vec<Vec<String>>,
    pub values: Vec<Vec<String>>,
    /// Lower-cased discriminator value -> class.
    pub classes: HashMap<String, FieldClass>,
}

/// What the rules say about one key, computed once per distinct key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyInfo {
    /// The class of the key's family, if any.
    pub class: Option<FieldClass>,
    /// Bit i: the key is one of context rule i's `keys`.
    pub ctx_keys: u64,
    /// Bit i: the key is one of context rule i's `within`.
    pub ctx_within: u64,
    /// Bit i: objects under this key are held back for sibling rule i.
    pub sibling_within: u32,
    /// Bit i: this key is a discriminator of sibling rule i.
    pub sibling_disc: u32,
    /// Bit i: this key holds the value sibling rule i classifies.
    pub sibling_value: u32,
    /// The key names an identifier of a thing (a barcode, an order): its
    /// value is not scanned by the detectors unless a class claims it.
    pub opaque: bool,
    /// The key is one paging needs (`page`, `total`): a page's root member
    /// under it is structure, which an allowlist purpose keeps.
    pub paging: bool,
}

/// The compiled, immutable rule set.
#[derive(Debug, Clone)]
pub struct RuleSet {
    purposes: Vec<PurposeRules>,
    version: String,
    families: HashMap<Vec<String>, FieldClass>,
    max_term_words: usize,
    generic_suffixes: Vec<String>,
    org_qualifiers: Vec<Vec<String>>,
    opaque_keys: Vec<Vec<String>>,
    contexts: Vec<ContextRule>,
    siblings: Vec<SiblingRule>,
    detect: ClassSet,
    mask_keep: [u8; FieldClass::COUNT],
    /// FHIR R4 structure (`fhir.toml`); without it FHIR documents are read
    /// by their keys like any JSON.
    fhir: Option<std::sync::Arc<fhir::FhirSchema>>,
    /// HL7 PurposeOfUse codes accepted in `x-purpose`.
    purpose_of_use: PurposeOfUse,
}

/// Everything wrong with a rules directory: each error names the file, the
/// line and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct RulesError(pub Vec<String>);

macro_rules! embedded_rules {
    ($($name:literal),*) => {
        &[$(($name, include_str!(concat!("../../rules/", $name)))),*]
    };
}

/// The rules shipped in `rules/`, compiled into the binary.
const EMBEDDED: &[(&str, &str)] = embedded_rules!(
    "classes.toml",
    "fhir.toml",
    "auth.toml",
    "appointments.toml",
    "care.toml",
    "documents.toml",
    "support.toml",
    "feedback.toml",
    "analytics.toml",
    "marketing.toml",
    "legal.toml",
    "purpose_of_use.toml"
);

impl RuleSet {
    fn empty(version: String) -> RuleSet {
        RuleSet {
            purposes: Vec::new(),
            version,
            families: HashMap::new(),
            max_term_words: 1,
            generic_suffixes: Vec::new(),
            org_qualifiers: Vec::new(),
            opaque_keys: Vec::new(),
            contexts: Vec::new(),
            siblings: Vec::new(),
            detect: ClassSet::EMPTY,
            mask_keep: [0; FieldClass::COUNT],
            fhir: None,
            purpose_of_use: PurposeOfUse::default(),
        }
    }

    /// Loads and compiles `*.toml` from a directory.
    pub fn load_dir(dir: &std::path::Path) -> Result<RuleSet, RulesError> {
        load::compile(&load::read_dir(dir)?)
    }

    /// Compiles rules given as (file name, contents) pairs.
    pub fn from_files(files: &[(String, String)]) -> Result<RuleSet, RulesError> {
        load::compile(files)
    }

    /// The files of the default rules, as (file name, contents) pairs.
    pub fn embedded_files() -> Vec<(String, String)> {
        EMBEDDED
            .iter()
            .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
            .collect()
    }

    /// The default rules shipped in `rules/`, embedded in the binary.
    pub fn embedded() -> RuleSet {
        let files = Self::embedded_files();
        // The shipped rules are checked by a unit test; a failure here is a
        // build defect, not an operator's input.
        load::compile(&files).unwrap_or_else(|e| panic!("embedded rules do not compile: {e}"))
    }

    pub fn purpose(&self, p: Purpose) -> &PurposeRules {
        &self.purposes[p.index()]
    }

    /// The purpose an `x-purpose` value declares: one of the nine ids as
    /// written (`care`), else an HL7 PurposeOfUse code through
    /// `purpose_of_use.toml`, which also returns the code as the rules
    /// write it (`treat` -> `TREAT`).
    pub fn purpose_for(&self, declared: &str) -> Option<(Purpose, Option<&str>)> {
        if let Some(p) = Purpose::ALL.into_iter().find(|p| p.as_str() == declared) {
            return Some((p, None));
        }
        self.purpose_of_use
            .get(declared)
            .map(|(p, code)| (p, Some(code)))
    }

    /// The HL7 PurposeOfUse mapping (empty without `purpose_of_use.toml`).
    pub fn purpose_of_use(&self) -> &PurposeOfUse {
        &self.purpose_of_use
    }

    /// A short hash of the rules files, recorded in the audit and metrics.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The same rules with value detectors switched off: only keys decide.
    pub fn keys_only(mut self) -> RuleSet {
        self.detect = ClassSet::EMPTY;
        self
    }

    /// The same rules without the FHIR schema: FHIR documents are then
    /// read by their keys like any JSON (what the key-rule reference of the
    /// property tests models).
    pub fn without_fhir(mut self) -> RuleSet {
        self.fhir = None;
        self
    }

    /// The classes whose value detectors run over every value.
    pub fn detected(&self) -> ClassSet {
        self.detect
    }

    pub fn fhir(&self) -> Option<&fhir::FhirSchema> {
        self.fhir.as_deref()
    }

    pub fn contexts(&self) -> &[ContextRule] {
        &self.contexts
    }

    pub fn siblings(&self) -> &[SiblingRule] {
        &self.siblings
    }

    /// What the rules say about a key.
    pub fn key_info(&self, key: &str) -> KeyInfo {
        let w = keys::words(key);
        let mut forms = vec![w.clone()];
        if let Some(s) = keys::singular(&w) {
            forms.push(s);
        }
        // Drop trailing generic words and numbers ("phoneNumber",
        // "phone2", "DS0_TEXT" -> "ds").
        let mut stripped = Vec::new();
        for f in &forms {
            let mut f = f.clone();
            while f.len() > 1
                && f.last().is_some_and(|l| {
                    self.generic_suffixes.contains(l) || l.bytes().all(|b| b.is_ascii_digit())
                })
            {
                f.pop();
            }
            stripped.push(f);
        }
        forms.extend(stripped);
        let mut info = KeyInfo::default();
        // The longest family term that ends the key wins, unless the words
        // before it name an organisation ("clinicInn").
        let mut best = 0;
        for f in &forms {
            for n in (1..=self.max_term_words.min(f.len())).rev() {
                if n <= best {
                    break;
                }
                if let Some(&c) = self.families.get(&f[f.len() - n..]) {
                    best = n;
                    let prefix = &f[..f.len() - n];
                    let org = self
                        .org_qualifiers
                        .iter()
                        .any(|q| prefix.windows(q.len()).any(|w| w == q.as_slice()));
                    info.class = if org { None } else { Some(c) };
                }
            }
        }
        info.paging = keys::paging(key);
        let is = |terms: &Vec<Vec<String>>| terms.iter().any(|t| forms.contains(t));
        info.opaque = self
            .opaque_keys
            .iter()
            .any(|t| w.windows(t.len()).any(|x| x == t.as_slice()));
        for (i, ctx) in self.contexts.iter().enumerate() {
            if is(&ctx.keys) {
                info.ctx_keys |= 1 << i;
            }
            if is(&ctx.within) {
                info.ctx_within |= 1 << i;
            }
        }
        for (i, s) in self.siblings.iter().enumerate() {
            if is(&s.within) {
                info.sibling_within |= 1 << i;
            }
            if is(&s.discriminators) {
                info.sibling_disc |= 1 << i;
            }
            if is(&s.values) {
                info.sibling_value |= 1 << i;
            }
        }
        info
    }
}

#[cfg(test)]
mod tests;
