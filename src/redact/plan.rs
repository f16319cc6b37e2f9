//! A [`Plan`]: the rules of one purpose, compiled for the hot path and
//! shared by every body redactor of that purpose.

use std::sync::{Arc, Mutex, RwLock};

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
    /// FHIR narratives are kept (and scanned) rather than replaced.
    pub fhir_narrative_kept: bool,
    keys: Arc<RwLock<FxHashMap<Box<[u8]>, KeyInfo>>>,
    /// Warm key caches handed from one redactor to the next, so a small
    /// response does not pay for a cold cache.
    caches: Mutex<Vec<KeyCache>>,
}

/// How a key's scalar values may be handled on the fast path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fast {
    /// Siblings or the action need the slow path (a context rule that
    /// applies sends any key there too: see [`Plan::fast`]).
    No,
    /// No class at all: copied as is (after detectors, if any).
    Inert,
    /// A class this purpose allows: copied and counted as disclosed.
    Allowed(FieldClass),
    /// A class this purpose removes, whatever the value: a scalar member
    /// is dropped without being decoded.
    Removed(FieldClass),
    /// A given name, which its value may show to be a patronymic or a full
    /// name: refined by the value, then handled as `Allowed` or `Removed`
    /// for the class it turns out to be.
    GivenName,
}

/// Warm caches kept per purpose.
const POOLED_CACHES: usize = 64;

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
                let allowed: ClassSet = FieldClass::ALL
                    .into_iter()
                    .filter(|c| purpose.action(*c) == Action::Allow)
                    .collect();
                let fhir_narrative_kept = rules.fhir().is_none_or(|f| f.keeps_narrative(allowed));
                Arc::new(Plan {
                    fhir_narrative_kept,
                    rules: rules.clone(),
                    purpose,
                    // Every detector runs, so that an ambiguous number (an
                    // ENP passes the card check too) is read by its context,
                    // not by which classes this purpose happens to act on.
                    detectors: (!needed.is_empty()).then(|| Detectors::new(rules.detected())),
                    keys: keys.clone(),
                    caches: Mutex::new(Vec::new()),
                })
            })
            .collect()
    }

    pub fn take_key_cache(&self) -> KeyCache {
        self.caches
            .lock()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_else(KeyCache::new_table)
    }

    pub fn return_key_cache(&self, cache: KeyCache) {
        if cache.is_empty() {
            return;
        }
        if let Ok(mut p) = self.caches.lock() {
            if p.len() < POOLED_CACHES {
                p.push(cache);
            }
        }
    }

    /// Whether a scalar under this key can be handled without a look at
    /// its value (see [`Fast`]), where no context rule of the key applies.
    /// A key that context rules name (`ctx_keys`, as `phone` under
    /// `clinic`) is given its own class's answer here; the tokenizer takes
    /// it only after checking that none of those rules' `within` keys
    /// encloses the member (`JsonRedactor::fast_members`).
    pub fn fast(&self, info: &KeyInfo) -> Fast {
        let plain = info.sibling_value == 0 && info.sibling_disc == 0 && info.sibling_within == 0;
        match info.class {
            _ if !plain => Fast::No,
            // An allowlist removes it, unless it is structural: looked at.
            None if self.purpose.allowlist => Fast::No,
            None => Fast::Inert,
            // A given name may refine to another class: its value decides.
            Some(FieldClass::GivenName) => Fast::GivenName,
            Some(c) if self.action(c) == Action::Allow => Fast::Allowed(c),
            // An INN's value may show it is an organisation's: looked at.
            Some(c) if c != FieldClass::Inn && self.action(c) == Action::Remove => Fast::Removed(c),
            Some(_) => Fast::No,
        }
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

/// A direct-mapped cache of key infos in front of the plan's shared map:
/// MIS documents repeat a few dozen keys, so a slot hit is the common case.
/// A key is fingerprinted by its length and two overlapping words, which for
/// keys up to 16 bytes are the key itself; longer keys also keep their bytes.
#[derive(Default)]
pub struct KeyCache {
    /// Small slots, so the table stays in the first-level cache.
    slots: Vec<Slot>,
    entries: Vec<Entry>,
}

#[derive(Clone, Copy, Default)]
struct Slot {
    head: u64,
    tail: u64,
    len: u32,
    /// Index into `entries` plus one; 0 is an empty slot.
    entry: u32,
}

struct Entry {
    long: Option<Box<[u8]>>,
    key: CachedKey,
}

/// What the cache keeps for a key. Handed out by reference: returning the
/// pair by value went through a misaligned stack copy that stalled on
/// store forwarding, and was a third of the key-rules profile.
#[derive(Clone, Copy)]
pub struct CachedKey {
    pub info: KeyInfo,
    pub fast: Fast,
}

/// Entries kept before the cache starts over (collisions orphan entries).
const MAX_ENTRIES: usize = 4096;

const KEY_SLOTS: usize = 1024;

fn word8(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[..8]);
    u64::from_le_bytes(w)
}

fn word4(b: &[u8]) -> u64 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[..4]);
    u64::from(u32::from_le_bytes(w))
}

/// The first and last bytes of a key as two words (overlapping when short).
fn head_tail(raw: &[u8]) -> (u64, u64) {
    let n = raw.len();
    match n {
        8.. => (word8(raw), word8(&raw[n - 8..])),
        4..=7 => (word4(raw), word4(&raw[n - 4..])),
        1..=3 => (
            u64::from(raw[0]) | u64::from(raw[n / 2]) << 8 | u64::from(raw[n - 1]) << 16,
            0,
        ),
        0 => (0, 0),
    }
}

impl KeyCache {
    /// A cache with its table allocated. (`default()` allocates nothing:
    /// it is what a dropped redactor leaves behind.)
    pub fn new_table() -> Self {
        KeyCache {
            slots: vec![Slot::default(); KEY_SLOTS],
            entries: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn index(head: u64, tail: u64, n: usize) -> usize {
        let h = (head ^ tail.rotate_left(29) ^ n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h >> 54) as usize & (KEY_SLOTS - 1)
    }

    #[inline(always)]
    pub fn get(&self, raw: &[u8]) -> Option<&CachedKey> {
        let (head, tail) = head_tail(raw);
        let i = Self::index(head, tail, raw.len());
        // Two ways: a key lives in its slot or the one beside it, so two
        // keys of a document that share a slot do not evict each other
        // on every record.
        self.hit(i, raw, head, tail)
            .or_else(|| self.hit(i ^ 1, raw, head, tail))
    }

    #[inline(always)]
    fn hit(&self, i: usize, raw: &[u8], head: u64, tail: u64) -> Option<&CachedKey> {
        let slot = self.slots.get(i)?;
        if slot.len as usize != raw.len() || slot.head != head || slot.tail != tail {
            return None;
        }
        let e = self.entries.get((slot.entry as usize).checked_sub(1)?)?;
        e.long.as_deref().is_none_or(|l| l == raw).then_some(&e.key)
    }

    pub fn put(&mut self, raw: &[u8], info: KeyInfo, fast: Fast) {
        if self.entries.len() >= MAX_ENTRIES || raw.len() > u32::MAX as usize {
            self.entries.clear();
            self.slots.fill(Slot::default());
        }
        let (head, tail) = head_tail(raw);
        let mut i = Self::index(head, tail, raw.len());
        if self.slots.get(i).is_some_and(|s| s.entry != 0)
            && self.slots.get(i ^ 1).is_some_and(|s| s.entry == 0)
        {
            i ^= 1;
        }
        self.entries.push(Entry {
            long: (raw.len() > 16).then(|| raw.into()),
            key: CachedKey { info, fast },
        });
        if let Some(s) = self.slots.get_mut(i) {
            *s = Slot {
                head,
                tail,
                len: raw.len() as u32,
                entry: self.entries.len() as u32,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_cache_tells_keys_apart() {
        let keys: Vec<String> = (0..40)
            .map(|n| "k".repeat(n))
            .chain(
                [
                    "snils",
                    "snilS",
                    "a",
                    "b",
                    "ab",
                    "ba",
                    "abcdefghijklmnopq",
                    "abcdefghijklmnopr",
                ]
                .map(String::from),
            )
            .collect();
        let mut c = KeyCache::new_table();
        for k in &keys {
            let info = KeyInfo {
                ctx_keys: k.len() as u64 + 1,
                ..KeyInfo::default()
            };
            c.put(k.as_bytes(), info, Fast::Inert);
            let got = c.get(k.as_bytes()).unwrap().info;
            assert_eq!(got.ctx_keys, k.len() as u64 + 1, "{k}");
        }
        for k in &keys {
            if let Some(got) = c.get(k.as_bytes()) {
                assert_eq!(
                    got.info.ctx_keys,
                    k.len() as u64 + 1,
                    "{k}: a hit must be this key's"
                );
            }
        }
        // Keys that share a slot both stay (the bench patients page has
        // such a pair).
        let mut c = KeyCache::new_table();
        let (a, b) = (b"diagnosis".as_slice(), b"oms_policy".as_slice());
        let (ha, ta) = head_tail(a);
        let (hb, tb) = head_tail(b);
        assert_eq!(
            KeyCache::index(ha, ta, a.len()),
            KeyCache::index(hb, tb, b.len())
        );
        c.put(a, KeyInfo::default(), Fast::Inert);
        c.put(b, KeyInfo::default(), Fast::No);
        assert_eq!(c.get(a).map(|k| k.fast), Some(Fast::Inert));
        assert_eq!(c.get(b).map(|k| k.fast), Some(Fast::No));
        c.put(b"abcdefghijklmnopq", KeyInfo::default(), Fast::No);
        assert!(
            c.get(b"abcdefghijklmnopr")
                .is_none_or(|k| k.fast != Fast::No)
        );
    }
}
