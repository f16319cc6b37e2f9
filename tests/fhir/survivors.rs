//! What of the ground truth survives a purpose's redaction, and, for the
//! purposes that may see everything, what changed that should not have.
//!
//! A value survives when it can still be read in the output: it occurs in
//! a string of the output either as it is (JSON-decoded) or XML-escaped,
//! since the narrative `text.div` is XHTML. Matching is on whole words (a
//! value that starts or ends with a letter or digit must not continue into
//! another one), so a pseudonym or a longer word that happens to contain
//! the value is not a survivor. When the output is not JSON at all, the raw
//! bytes are searched for the JSON-escaped forms instead.
//!
//! Within one document each distinct (class, value) counts once, whatever
//! number of places holds it. A value that the same document also holds
//! under a class the purpose allows (the given name "James" of one person
//! and the middle name of another) is left out: its presence in the output
//! is then no evidence of a leak.

use std::collections::{BTreeMap, BTreeSet};

use memchr::memmem;
use serde_json::Value;
use zaslon::class::{ClassSet, FieldClass, Purpose};
use zaslon::detect::Detectors;
use zaslon::redact::RedactError;
use zaslon::rules::{Action, RuleSet};

use super::truth::{TRUTH_CLASSES, Truth};

/// One value the purpose may not see, found in the output.
#[derive(Debug, Clone)]
pub struct Survivor {
    pub file: String,
    pub class: FieldClass,
    pub value: String,
    pub locations: Vec<String>,
    pub found: Found,
}

/// A purpose's figures over a set of documents.
#[derive(Debug, Clone)]
pub struct Report {
    pub purpose: Purpose,
    pub files: usize,
    /// Distinct values per class that the purpose does not allow.
    pub forbidden: [usize; FieldClass::COUNT],
    pub survived: [usize; FieldClass::COUNT],
    pub survivors: Vec<Survivor>,
    /// Values left out because an allowed class holds them too.
    pub ambiguous: usize,
    /// Documents the redactor refused, with the reason.
    pub errors: Vec<(String, RedactError)>,
    /// Documents whose output does not parse as JSON.
    pub invalid_json: Vec<String>,
    /// Documents whose output differs from the input in any byte.
    pub changed_files: Vec<String>,
    /// Leaves (file, pointer, what happened) that changed without a rule of
    /// the purpose explaining it: filled for purposes that allow every
    /// class of the ground truth (`care`, `legal`).
    pub unexplained: Vec<(String, String, String)>,
}

impl Report {
    pub fn new(purpose: Purpose) -> Report {
        Report {
            purpose,
            files: 0,
            forbidden: [0; FieldClass::COUNT],
            survived: [0; FieldClass::COUNT],
            survivors: Vec::new(),
            ambiguous: 0,
            errors: Vec::new(),
            invalid_json: Vec::new(),
            changed_files: Vec::new(),
            unexplained: Vec::new(),
        }
    }

    pub fn total_forbidden(&self) -> usize {
        self.forbidden.iter().sum()
    }

    pub fn total_survived(&self) -> usize {
        self.survived.iter().sum()
    }

    /// Survivors that only a narrative still shows.
    pub fn narrative_only(&self) -> usize {
        self.survivors
            .iter()
            .filter(|s| s.found == Found::NarrativeOnly)
            .count()
    }

    /// Adds one document: its input, its ground truth and what the
    /// redactor made of it.
    pub fn add(
        &mut self,
        rules: &RuleSet,
        file: &str,
        input: &[u8],
        input_json: &Value,
        truth: &[Truth],
        output: &Result<Vec<u8>, RedactError>,
    ) {
        self.files += 1;
        let out = match output {
            Ok(o) => o,
            Err(e) => {
                self.errors.push((file.to_owned(), *e));
                return;
            }
        };
        if out.as_slice() != input {
            self.changed_files.push(file.to_owned());
        }
        let parsed: Option<Value> = serde_json::from_slice(out).ok();
        if parsed.is_none() {
            self.invalid_json.push(file.to_owned());
        }
        let hay = Haystack::new(parsed.as_ref(), out);
        let actions = rules.purpose(self.purpose);
        let allowed: BTreeSet<&str> = truth
            .iter()
            .filter(|t| actions.action(t.class) == Action::Allow)
            .map(|t| t.value.as_str())
            .collect();
        let mut distinct: BTreeMap<(FieldClass, &str), Vec<String>> = BTreeMap::new();
        for t in truth {
            if actions.action(t.class) != Action::Allow {
                distinct
                    .entry((t.class, t.value.as_str()))
                    .or_default()
                    .push(t.location.clone());
            }
        }
        // Dates held by other elements (an address period starting on the
        // birthday): such a date in the output is not the birth date.
        let mut all = BTreeMap::new();
        leaves(input_json, String::new(), &mut all);
        let truth_at: BTreeSet<&str> = truth.iter().map(|t| t.location.as_str()).collect();
        let other_dates: BTreeSet<&str> = all
            .iter()
            .filter(|(at, _)| !truth_at.contains(at.as_str()))
            .filter_map(|(_, v)| v.as_str())
            .map(|v| v.split('T').next().unwrap_or(v))
            .collect();
        // A word of a value the purpose may see (a surname inside an
        // allowed email) is there because that value is.
        let within_allowed = |v: &str| {
            allowed.iter().any(|a| {
                *a != v
                    && a.split(|c: char| !c.is_alphanumeric())
                        .any(|w| w.eq_ignore_ascii_case(v))
            })
        };
        for ((class, value), locations) in distinct {
            if allowed.contains(value) || within_allowed(value) {
                self.ambiguous += 1;
                continue;
            }
            let Some(needle) = needle(class, value, actions.action(class)) else {
                continue;
            };
            if class == FieldClass::BirthDate && other_dates.contains(needle) {
                self.ambiguous += 1;
                continue;
            }
            self.forbidden[class.index()] += 1;
            if let Some(found) = hay.find(needle) {
                self.survived[class.index()] += 1;
                self.survivors.push(Survivor {
                    file: file.to_owned(),
                    class,
                    value: value.to_owned(),
                    locations,
                    found,
                });
            }
        }
        // A purpose that allows every class of the ground truth should
        // change nothing but what its other rules name: look at each leaf.
        let denied = denied_classes(rules, self.purpose);
        if let (Some(after), true) = (
            parsed.as_ref(),
            TRUTH_CLASSES.iter().all(|c| !denied.contains(*c)),
        ) {
            self.diff(rules, denied, file, input_json, after);
        }
    }

    /// Records the leaves that changed between `before` and `after` which
    /// no denied class explains: a key on the leaf's path whose family is
    /// denied, or a detector finding of a denied class in the old value.
    /// Added leaves under `meta.security` are the REDACTED label that a
    /// change brings, not a change of content.
    fn diff(
        &mut self,
        rules: &RuleSet,
        denied: ClassSet,
        file: &str,
        before: &Value,
        after: &Value,
    ) {
        let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
        leaves(before, String::new(), &mut a);
        leaves(after, String::new(), &mut b);
        let detectors = Detectors::new(denied);
        let explained = |path: &str, old: Option<&Value>| {
            let by_key = path
                .split('/')
                .any(|k| rules.key_info(k).class.is_some_and(|c| denied.contains(c)));
            let by_value = old.and_then(Value::as_str).is_some_and(|s| {
                let mut found = Vec::new();
                detectors.scan(s, &mut found);
                !found.is_empty()
            });
            by_key || by_value
        };
        for (path, old) in &a {
            let what = match b.get(path) {
                Some(new) if new == old => continue,
                Some(new) => format!("{old} -> {new}"),
                None => format!("{old} removed"),
            };
            if !explained(path, Some(old)) {
                self.unexplained.push((file.to_owned(), path.clone(), what));
            }
        }
        for (path, new) in &b {
            let label = path.contains("/meta/security/");
            if !a.contains_key(path) && !label && !explained(path, None) {
                self.unexplained
                    .push((file.to_owned(), path.clone(), format!("{new} added")));
            }
        }
    }
}

/// The classes a purpose does not allow.
pub fn denied_classes(rules: &RuleSet, purpose: Purpose) -> ClassSet {
    FieldClass::ALL
        .into_iter()
        .filter(|c| rules.purpose(purpose).action(*c) != Action::Allow)
        .collect()
}

/// What to look for: a birth date by its date part (a birth time carries
/// the date before its `T`). Under `generalize` only the full date counts,
/// since the year may stay; a value that is a year already is not
/// searched at all.
fn needle(class: FieldClass, value: &str, action: Action) -> Option<&str> {
    if class != FieldClass::BirthDate {
        return Some(value);
    }
    let date = value.split('T').next().unwrap_or(value);
    if action == Action::Generalize && date.len() <= 4 {
        return None;
    }
    Some(date)
}

/// Every leaf of a JSON value by its pointer, with empty arrays and
/// objects as leaves so that their removal shows.
fn leaves(v: &Value, at: String, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(o) if !o.is_empty() => {
            for (k, x) in o {
                leaves(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, x) in a.iter().enumerate() {
                leaves(x, format!("{at}/{i}"), out);
            }
        }
        _ => {
            out.insert(at, v.clone());
        }
    }
}

/// The output's text, searched for values.
struct Haystack {
    /// Every decoded string of the output (keys too) outside narratives,
    /// joined by NUL, or the raw output when it is not JSON.
    text: String,
    /// The decoded narratives (`div` strings), joined by NUL.
    narrative: String,
    /// Whether `text` is decoded strings (else raw JSON bytes).
    decoded: bool,
}

/// Where a survivor was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// Outside any narrative (and maybe in one as well).
    Structured,
    /// In a narrative `div` only.
    NarrativeOnly,
}

impl Haystack {
    fn new(parsed: Option<&Value>, raw: &[u8]) -> Haystack {
        match parsed {
            Some(v) => {
                let mut h = Haystack {
                    text: String::new(),
                    narrative: String::new(),
                    decoded: true,
                };
                h.strings(v, false);
                h
            }
            None => Haystack {
                text: String::from_utf8_lossy(raw).into_owned(),
                narrative: String::new(),
                decoded: false,
            },
        }
    }

    fn strings(&mut self, v: &Value, in_div: bool) {
        match v {
            Value::String(s) => {
                let to = if in_div {
                    &mut self.narrative
                } else {
                    &mut self.text
                };
                to.push_str(s);
                to.push('\0');
            }
            Value::Array(a) => a.iter().for_each(|x| self.strings(x, in_div)),
            Value::Object(o) => {
                for (k, x) in o {
                    self.text.push_str(k);
                    self.text.push('\0');
                    self.strings(x, k == "div");
                }
            }
            _ => {}
        }
    }

    fn find(&self, value: &str) -> Option<Found> {
        let mut forms = xml_forms(value);
        if !self.decoded {
            forms = forms.iter().map(|f| json_escaped(f)).collect();
        }
        if forms.iter().any(|f| find_word(&self.text, f)) {
            Some(Found::Structured)
        } else if forms.iter().any(|f| find_word(&self.narrative, f)) {
            Some(Found::NarrativeOnly)
        } else {
            None
        }
    }
}

/// The value as it is and as XHTML text may write it.
fn xml_forms(value: &str) -> Vec<String> {
    let base = value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let mut forms = vec![value.to_owned(), base.clone()];
    for (c, names) in [('"', ["&quot;", "&#34;"]), ('\'', ["&apos;", "&#39;"])] {
        if value.contains(c) {
            for n in names {
                forms.push(base.replace(c, n));
            }
        }
    }
    forms.sort();
    forms.dedup();
    forms
}

fn json_escaped(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    quoted[1..quoted.len() - 1].to_owned()
}

/// Whether `needle` occurs in `hay` not glued to a letter or digit on a
/// side where the needle itself ends in one.
fn find_word(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let first = needle.chars().next();
    let last = needle.chars().next_back();
    memmem::find_iter(hay.as_bytes(), needle.as_bytes()).any(|at| {
        let before = hay[..at].chars().next_back();
        let after = hay[at + needle.len()..].chars().next();
        let glued_before = word(first) && word(before);
        let glued_after = word(last) && word(after);
        !glued_before && !glued_after
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_escapes() {
        assert!(find_word("x Chalmers</b>", "Chalmers"));
        assert!(!find_word("Jimmy", "Jim"));
        assert!(!find_word("ps_a12345", "12345"));
        assert!(find_word("tel:(03) 5555", "(03) 5555"));
        let v = r#"{"div":"<p>O&apos;Brien &amp; Co</p>"}"#;
        let parsed: Value = serde_json::from_str(v).unwrap();
        let hay = Haystack::new(Some(&parsed), v.as_bytes());
        assert_eq!(hay.find("O'Brien & Co"), Some(Found::NarrativeOnly));
        let raw = Haystack::new(None, br#"{"a":"say \"hi\" now"#);
        assert_eq!(raw.find("say \"hi\""), Some(Found::Structured));
    }

    #[test]
    fn birth_dates() {
        let g = Action::Generalize;
        assert_eq!(
            needle(FieldClass::BirthDate, "1974-12-25T14:35:45-05:00", g),
            Some("1974-12-25")
        );
        assert_eq!(needle(FieldClass::BirthDate, "1974", g), None);
        assert_eq!(
            needle(FieldClass::BirthDate, "1974", Action::Remove),
            Some("1974")
        );
    }
}
