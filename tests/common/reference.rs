//! A whole-document reference redactor: it walks a parsed tree (never the
//! bytes) and applies the rules the way `rules/classes.toml` describes them.
//! The streaming engine must produce the same document.
//!
//! How the reference classifies a scalar (string or number; `true`, `false`
//! and `null` are never touched):
//!
//! - The value's *key* is its member name; an array element takes the key of
//!   its array (`"phone": ["+7…", "+7…"]`: both elements are phones). A
//!   top-level scalar has no key.
//! - The *enclosing containers* of a value are the open containers around
//!   the point where its key is written: for a member, every container up to
//!   and including its object; for an array element, those around the array
//!   (the array lends its key, so it does not enclose it). Each container is
//!   known by its own key, the same way (an object in an array is known by
//!   the array's key).
//! - Sibling rules first: an object known by a key that a sibling rule's
//!   `within` names (`identifier`, `telecom`, `contacts`, ...) looks at its
//!   direct string members whose key is a discriminator (`system`, `type`,
//!   ...). The first of them, in document order, whose lower-cased text the
//!   rule's table names gives the class of the object's direct scalar
//!   members keyed by the rule's `values` (`value`, `number`, `text`), wherever
//!   the discriminator stands (before or after the value).
//! - Then context rules: if the key is one of a context rule's `keys`, the
//!   nearest of up to 4 enclosing containers whose key is in some rule's
//!   `within` decides, the earlier rule winning at the same container;
//!   `class = "none"` makes the value unclassified.
//! - Otherwise the class of the key's family, if any.
//! - A `given_name` is refined: two or more words make a `full_name`; one word
//!   of more than 4 letters ending in a patronymic suffix (-вич, -вна, -ична,
//!   -инична, оглы, кызы, угли, гызы) makes a `patronymic`.
//!
//! What the purpose's action does to a classified scalar (through
//! `zaslon::redact::value::apply`): `remove` (and `generalize` that finds
//! nothing to keep) drops the member or the array element (a top-level
//! value becomes `null`); `null` writes `null`; `mask`, `pseudonymize` and
//! `generalize` write a string; `allow` keeps the value.
//!
//! A scalar whose key gives it a class the purpose allows is kept as it is,
//! unless that class is `health` (free text).
//! An unclassified scalar is then scanned by every value detector (as the
//! engine does whenever the purpose acts on some detected class), so this
//! reference stays right whatever the detectors find: one finding that is the whole value (up to
//! whitespace) is treated as a whole value of that class; otherwise every
//! non-allowed finding is replaced in the text (a removed one by `[class]`)
//! and the value becomes a string.
//!
//! An allowlist purpose (`allowlist = true`) removes, outside FHIR
//! resources, every value of no class: a scalar whose key gives no class is
//! kept only if one detector finding is the whole value (then it is that
//! class); an opaque one, a `true`, `false` or `null` of no class, and one
//! in which a detector finds only a part, go whole. The root object's
//! paging members (`page`, `total`, ...) are kept. A FHIR resource is a
//! root object with a `resourceType` string (when the rules have a FHIR
//! schema), and, inside one, an object
//! under `resource` or in `contained` that has its own; the allowlist does
//! not apply within them (the schema decides there).

use zaslon::class::{ClassSet, FieldClass, Purpose};
use zaslon::detect::{Detectors, Finding};
use zaslon::redact::value::{self, Replacement};
use zaslon::redact::{PseudonymKey, RedactError};
use zaslon::rules::{Action, KeyInfo, RuleSet};

use super::doc::Doc;

/// Per-class counts of non-`allow` actions, as the engine's stats keep them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    pub masked: [u32; FieldClass::COUNT],
    pub pseudonymized: [u32; FieldClass::COUNT],
    pub generalized: [u32; FieldClass::COUNT],
    pub removed: [u32; FieldClass::COUNT],
}

/// A scalar the key rules classified, with its text and the action taken.
#[derive(Debug, Clone)]
pub struct Seen {
    pub text: String,
    pub class: Option<FieldClass>,
    pub action: Action,
}

pub struct Reference<'r> {
    rules: &'r RuleSet,
    purpose: Purpose,
    key: PseudonymKey,
    detectors: Option<Detectors>,
    pub tally: Tally,
    /// Every string and number, in document order, with its key-rule class.
    pub seen: Vec<Seen>,
}

/// What becomes of one value.
enum Out {
    Keep(Doc),
    Drop,
}

/// A sibling object's state: the rule bits its key carries and the class its
/// discriminator named.
type Sib = Option<(u32, Option<FieldClass>)>;

/// Where a value stands, as far as an allowlist cares.
#[derive(Clone, Copy, Default)]
struct Place {
    /// A paging member of the root object.
    structural: bool,
    /// Inside a FHIR resource.
    fhir: bool,
    /// An object here is a resource of its own (`resource`, `contained`).
    slot: bool,
}

fn has_resource_type(members: &[(String, Doc)]) -> bool {
    members
        .iter()
        .any(|(k, v)| k == "resourceType" && matches!(v, Doc::Str(_)))
}

impl<'r> Reference<'r> {
    pub fn new(rules: &'r RuleSet, purpose: Purpose, key: PseudonymKey) -> Reference<'r> {
        let p = rules.purpose(purpose);
        let needed: ClassSet = rules
            .detected()
            .iter()
            .filter(|c| p.action(*c) != Action::Allow)
            .collect();
        Reference {
            rules,
            purpose,
            key,
            detectors: (!needed.is_empty()).then(|| Detectors::new(rules.detected())),
            tally: Tally::default(),
            seen: Vec::new(),
        }
    }

    fn action(&self, c: FieldClass) -> Action {
        self.rules.purpose(self.purpose).action(c)
    }

    /// Whether a value of no class here is removed: see the module comment.
    fn unlisted_here(&self, place: Place) -> bool {
        self.rules.purpose(self.purpose).allowlist && !place.structural && !place.fhir
    }

    /// The redacted document.
    pub fn redact(&mut self, doc: &Doc) -> Result<Doc, RedactError> {
        // Without a FHIR schema nothing is read as a resource.
        let place = Place {
            slot: self.rules.fhir().is_some(),
            ..Place::default()
        };
        match self.value(doc, KeyInfo::default(), &[], false, None, place)? {
            Out::Keep(d) => Ok(d),
            Out::Drop => Ok(Doc::Null),
        }
    }

    /// `key`: the key `v` is known by; `frames`: the keys of the open
    /// containers (arrays included), outermost first; `in_array`: `v` is an
    /// element of the last of them; `sib`: the state of `v`'s parent object
    /// if it is a sibling object.
    fn value(
        &mut self,
        v: &Doc,
        key: KeyInfo,
        frames: &[KeyInfo],
        in_array: bool,
        sib: Sib,
        place: Place,
    ) -> Result<Out, RedactError> {
        let enclosing = if in_array {
            &frames[..frames.len() - 1]
        } else {
            frames
        };
        match v {
            Doc::Null | Doc::Bool(_) => {
                if self.unlisted_here(place) && self.classify(key, enclosing, sib).0.is_none() {
                    return Ok(Out::Drop);
                }
                Ok(Out::Keep(v.clone()))
            }
            Doc::Num(n) => self.scalar(v, &n.to_string(), key, enclosing, sib, place),
            Doc::Str(s) => self.scalar(v, s, key, enclosing, sib, place),
            Doc::Arr(items) => {
                let mut inner = frames.to_vec();
                inner.push(key);
                let mut out = Vec::with_capacity(items.len());
                // A root array's objects are not resources; `contained`'s are.
                let place = Place {
                    structural: false,
                    fhir: place.fhir,
                    slot: place.fhir && place.slot,
                };
                for item in items {
                    if let Out::Keep(d) = self.value(item, key, &inner, true, None, place)? {
                        out.push(d);
                    }
                }
                Ok(Out::Keep(Doc::Arr(out)))
            }
            Doc::Obj(members) => {
                let mut inner = frames.to_vec();
                inner.push(key);
                let infos: Vec<KeyInfo> = members
                    .iter()
                    .map(|(k, _)| self.rules.key_info(k))
                    .collect();
                let own = if key.sibling_within != 0 {
                    Some((
                        key.sibling_within,
                        self.discriminator(key.sibling_within, members, &infos),
                    ))
                } else {
                    None
                };
                let fhir = if place.slot {
                    has_resource_type(members)
                } else {
                    place.fhir
                };
                let mut out = Vec::with_capacity(members.len());
                for ((k, mv), info) in members.iter().zip(&infos) {
                    let place = Place {
                        structural: frames.is_empty() && info.paging,
                        fhir,
                        slot: fhir && (k == "resource" || k == "contained"),
                    };
                    if let Out::Keep(d) = self.value(mv, *info, &inner, false, own, place)? {
                        out.push((k.clone(), d));
                    }
                }
                Ok(Out::Keep(Doc::Obj(out)))
            }
        }
    }

    /// The class named by the first discriminator member that names one.
    fn discriminator(
        &self,
        bits: u32,
        members: &[(String, Doc)],
        infos: &[KeyInfo],
    ) -> Option<FieldClass> {
        let rules = self.rules.siblings();
        members.iter().zip(infos).find_map(|((_, v), info)| {
            let Doc::Str(s) = v else { return None };
            if info.sibling_disc & bits == 0 {
                return None;
            }
            let lower = s.to_lowercase();
            (0..rules.len())
                .filter(|i| bits & (1 << i) != 0)
                .find_map(|i| rules[i].classes.get(&lower).copied())
        })
    }

    /// The class the key rules give a scalar (before refining), and
    /// whether a `part = true` context gave it.
    fn classify(
        &self,
        key: KeyInfo,
        enclosing: &[KeyInfo],
        sib: Sib,
    ) -> (Option<FieldClass>, bool) {
        if let Some((bits, Some(class))) = sib
            && key.sibling_value & bits != 0
        {
            return (Some(class), false);
        }
        if key.ctx_keys != 0 {
            let contexts = self.rules.contexts();
            for f in enclosing.iter().rev().take(4) {
                if let Some(i) = (0..contexts.len())
                    .find(|i| key.ctx_keys & (1 << i) != 0 && f.ctx_within & (1 << i) != 0)
                {
                    return (contexts[i].class, contexts[i].part);
                }
            }
        }
        (key.class, false)
    }

    fn scalar(
        &mut self,
        v: &Doc,
        text: &str,
        key: KeyInfo,
        enclosing: &[KeyInfo],
        sib: Sib,
        place: Place,
    ) -> Result<Out, RedactError> {
        let (classified, part) = self.classify(key, enclosing, sib);
        if let Some(c) = classified.filter(|_| part) {
            // A passport's issue date: shown as written or not at all.
            let action = self.action(c);
            if matches!(
                action,
                Action::Mask { .. } | Action::Pseudonymize | Action::Generalize
            ) {
                self.seen.push(Seen {
                    text: text.to_owned(),
                    class: Some(c),
                    action: Action::Remove,
                });
                return self.whole(c, Action::Remove, text);
            }
        }
        if classified.is_none() && self.unlisted_here(place) {
            return self.unlisted(v, text, key);
        }
        if classified.is_none() && key.opaque {
            // A barcode or an order number: kept, never scanned.
            self.seen.push(Seen {
                text: text.to_owned(),
                class: None,
                action: Action::Allow,
            });
            return Ok(Out::Keep(v.clone()));
        }
        let class = classified.and_then(|c| refine(c, text));
        let action = class.map_or(Action::Allow, |c| self.action(c));
        self.seen.push(Seen {
            text: text.to_owned(),
            class,
            action,
        });
        if let Some(c) = class
            && action != Action::Allow
        {
            return self.whole(c, action, text);
        }
        // An allowed class is not scanned: the key said what the value is
        // (but health data is free text, and is scanned).
        if class.is_some_and(|c| c != FieldClass::Health) {
            return Ok(Out::Keep(v.clone()));
        }
        let Some(det) = &self.detectors else {
            return Ok(Out::Keep(v.clone()));
        };
        let mut found: Vec<Finding> = Vec::new();
        det.scan(text, &mut found);
        if found.is_empty() {
            return Ok(Out::Keep(v.clone()));
        }
        if let [f] = found[..]
            && text[..f.start].trim().is_empty()
            && text[f.end..].trim().is_empty()
        {
            let action = self.action(f.class);
            if action == Action::Allow {
                return Ok(Out::Keep(v.clone()));
            }
            return self.whole(f.class, action, text);
        }
        let mut rebuilt = String::new();
        let mut last = 0;
        for f in found {
            rebuilt.push_str(&text[last..f.start]);
            let span = &text[f.start..f.end];
            match self.action(f.class) {
                Action::Allow => rebuilt.push_str(span),
                Action::Block => return Err(RedactError::Blocked(f.class)),
                a => {
                    self.count(f.class, a);
                    match value::apply(a, f.class, span, &self.key) {
                        Replacement::Text(t) => rebuilt.push_str(&t),
                        Replacement::Remove | Replacement::Null => {
                            rebuilt.push_str(&format!("[{}]", f.class.as_str()))
                        }
                    }
                }
            }
            last = f.end;
        }
        rebuilt.push_str(&text[last..]);
        Ok(Out::Keep(Doc::Str(rebuilt)))
    }

    /// A value of no class for an allowlist purpose: a detector's one
    /// whole-value finding makes it that class; anything else goes.
    fn unlisted(&mut self, v: &Doc, text: &str, key: KeyInfo) -> Result<Out, RedactError> {
        let mut found: Vec<Finding> = Vec::new();
        if let Some(det) = self.detectors.as_ref().filter(|_| !key.opaque) {
            det.scan(text, &mut found);
        }
        let (class, action) = match found[..] {
            [f] if text[..f.start].trim().is_empty() && text[f.end..].trim().is_empty() => {
                (Some(f.class), self.action(f.class))
            }
            _ => (None, Action::Remove),
        };
        self.seen.push(Seen {
            text: text.to_owned(),
            class,
            action,
        });
        match class {
            Some(_) if action == Action::Allow => Ok(Out::Keep(v.clone())),
            Some(c) => self.whole(c, action, text),
            None => Ok(Out::Drop),
        }
    }

    fn whole(&mut self, class: FieldClass, action: Action, text: &str) -> Result<Out, RedactError> {
        if action == Action::Block {
            return Err(RedactError::Blocked(class));
        }
        self.count(class, action);
        Ok(match value::apply(action, class, text, &self.key) {
            Replacement::Text(t) => Out::Keep(Doc::Str(t)),
            Replacement::Null => Out::Keep(Doc::Null),
            Replacement::Remove => Out::Drop,
        })
    }

    fn count(&mut self, class: FieldClass, action: Action) {
        let i = class.index();
        match action {
            Action::Mask { .. } => self.tally.masked[i] += 1,
            Action::Pseudonymize => self.tally.pseudonymized[i] += 1,
            Action::Generalize => self.tally.generalized[i] += 1,
            _ => self.tally.removed[i] += 1,
        }
    }
}

/// `given_name` refined by the value: see the module comment.
/// What the value says about its key's class: see `refine` in the engine.
/// A ten-digit INN (a legal entity's, checked by its own check digit here)
/// is not personal data.
pub fn refine(class: FieldClass, text: &str) -> Option<FieldClass> {
    if class == FieldClass::Inn {
        let t = text.trim();
        let d: Vec<u32> = t.chars().filter_map(|c| c.to_digit(10)).collect();
        let weights = [2, 4, 10, 3, 5, 9, 4, 6, 8];
        let org = t.len() == 10
            && d.len() == 10
            && weights.iter().zip(&d).map(|(w, x)| w * x).sum::<u32>() % 11 % 10 == d[9];
        return if org { None } else { Some(class) };
    }
    if class != FieldClass::GivenName {
        return Some(class);
    }
    let t = text.trim();
    if t.split_whitespace().nth(1).is_some() {
        return Some(FieldClass::FullName);
    }
    let lower = t.to_lowercase();
    let patronymic = ["ич", "вна", "ична", "оглы", "кызы", "угли", "гызы"]
        .iter()
        .any(|s| lower.ends_with(s));
    if patronymic && lower.chars().count() > 4 {
        Some(FieldClass::Patronymic)
    } else {
        Some(class)
    }
}
