//! A [`Plan`]: the rules of one purpose, compiled for the hot path and
//! shared by every body redactor of that purpose.

use std::sync::{Arc, RwLock};

use rustc_hash::FxHashMap;

use crate::class::{ClassSet, FieldClass, Purpose};
use crate::detect::Detectors;
use crate::rules::{Action, KeyInfo, PurposeRules, RuleSet};

/// Bounds that keep a redactor's memory constant in the body's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Containers nested deeper than this are an error.
    pub max_depth: usize,
    /// The longest single token (a string, a number) held whole.
    pub max_token_bytes: usize,
    /// The largest object held back until a sibling decides its class.
    pub hold_back_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 128,
            max_token_bytes: 8 << 20,
            hold_back_bytes: 1 << 20,
        }
    }
}

/// Distinct keys remembered per rule set; a hostile upstream inventing keys
/// cannot grow it past this.
const SHARED_KEY_CACHE: usize = 16_384;

pub struct Plan {
    pub rules: Arc<RuleSet>,
    pub purpose: PurposeRules,
    /// Detectors for the classes this purpose does not simply allow; `None`
    /// when there are none (then string values are copied untouched).
    pub detectors: Option<Detectors>,
    keys: Arc<RwLock<FxHashMap<Box<[u8]>, KeyInfo>>>,
}

impl Plan {
    pub fn for_each_purpose(rules: &Arc<RuleSet>) -> Vec<Arc<Plan>> {
        let keys = Arc::new(RwLock::new(FxHashMap::default()));
        Purpose::ALL
            .into_iter()
            .map(|p| {
                let purpose = rules.purpose(p).clone();
                let needed: ClassSet = rules
                    .detected()
                    .iter()
                    .filter(|c| purpose.action(*c) != Action::Allow)
                    .collect();
                Arc::new(Plan {
                    rules: rules.clone(),
                    purpose,
                    detectors: (!needed.is_empty()).then(|| Detectors::new(needed)),
                    keys: keys.clone(),
                })
            })
            .collect()
    }

    pub fn action(&self, class: FieldClass) -> Action {
        self.purpose.action(class)
    }

    /// What the rules say about a raw key (its JSON bytes without quotes,
    /// decoded to `text`), through the shared cache.
    pub fn key_info(&self, raw: &[u8], text: &str) -> KeyInfo {
        if let Ok(map) = self.keys.read() {
            if let Some(k) = map.get(raw) {
                return *k;
            }
        }
        let info = self.rules.key_info(text);
        if let Ok(mut map) = self.keys.write() {
            if map.len() >= SHARED_KEY_CACHE {
                map.clear();
            }
            map.insert(raw.into(), info);
        }
        info
    }
}
