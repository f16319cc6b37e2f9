//! Reading `rules/*.toml`: the raw serde shape, then validation into the
//! compiled [`RuleSet`]. Every problem is reported with its file, its line
//! and what to write instead; loading goes on after an error so that one run
//! of `zaslon check` lists them all.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use super::fhir::{FHIR_FILE, FhirSchema};
use super::keys::words;
use super::purpose_of_use;
use super::{Action, ConsentMode, ContextRule, PurposeRules, RuleSet, RulesError, SiblingRule};
use crate::class::{FieldClass, Purpose};

const CLASSES_FILE: &str = "classes.toml";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClasses {
    #[serde(default)]
    generic_suffixes: Vec<String>,
    #[serde(default)]
    org_qualifiers: Vec<String>,
    #[serde(default)]
    opaque_keys: Vec<String>,
    #[serde(rename = "class", default)]
    classes: Vec<RawClass>,
    #[serde(rename = "context", default)]
    contexts: Vec<RawContext>,
    #[serde(rename = "sibling", default)]
    siblings: Vec<RawSibling>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClass {
    name: Spanned<String>,
    #[serde(default)]
    keys: Vec<String>,
    #[serde(default)]
    detect: bool,
    mask_keep: Option<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContext {
    class: Spanned<String>,
    keys: Vec<String>,
    within: Vec<String>,
    #[serde(default)]
    part: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSibling {
    within: Vec<String>,
    discriminators: Vec<String>,
    values: Vec<String>,
    classes: BTreeMap<String, Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPurpose {
    purpose: Spanned<String>,
    consent: Spanned<String>,
    default: Spanned<String>,
    #[serde(default)]
    other_content: Option<Spanned<String>>,
    allowlist: Option<Spanned<bool>>,
    #[serde(default)]
    actions: BTreeMap<Spanned<String>, Spanned<String>>,
}

/// Collects errors as `file:line: message`.
pub(super) struct Errors<'a> {
    pub(super) file: &'a str,
    pub(super) text: &'a str,
    pub(super) out: &'a mut Vec<String>,
}

impl Errors<'_> {
    pub(super) fn at(&mut self, offset: usize, msg: impl std::fmt::Display) {
        let line = self.line(offset);
        self.out.push(format!("{}:{}: {}", self.file, line, msg));
    }

    /// The 1-based line of a byte offset.
    pub(super) fn line(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }
}

fn class_names() -> String {
    FieldClass::ALL.map(|c| c.as_str()).join(", ")
}

fn parse_class(name: &Spanned<String>, errs: &mut Errors<'_>) -> Option<FieldClass> {
    match name.get_ref().parse::<FieldClass>() {
        Ok(c) => Some(c),
        Err(()) => {
            errs.at(
                name.span().start,
                format!(
                    "unknown field class {:?}; write one of: {}",
                    name.get_ref(),
                    class_names()
                ),
            );
            None
        }
    }
}

/// Parses an action: `allow`, `mask`, `mask:N`, `pseudonymize`, `generalize`,
/// `remove`, `null`, `block`.
pub fn parse_action(s: &str, default_keep: u8) -> Result<Action, String> {
    let (name, arg) = match s.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (s, None),
    };
    let action = match (name, arg) {
        ("allow", None) => Action::Allow,
        ("mask", None) => Action::Mask { keep: default_keep },
        ("mask", Some(n)) => match n.parse::<u8>() {
            Ok(keep) if keep <= 8 => Action::Mask { keep },
            _ => {
                return Err(format!(
                    "`mask:{n}`: the kept length must be a number from 0 to 8"
                ));
            }
        },
        ("pseudonymize", None) => Action::Pseudonymize,
        ("generalize", None) => Action::Generalize,
        ("remove", None) => Action::Remove,
        ("null", None) => Action::Null,
        ("block", None) => Action::Block,
        _ => {
            return Err(format!(
                "unknown action {s:?}; write one of: allow, mask, mask:N, pseudonymize, generalize, remove, null, block"
            ));
        }
    };
    Ok(action)
}

fn term_list(list: &[String]) -> Vec<Vec<String>> {
    list.iter()
        .map(|t| words(t))
        .filter(|w| !w.is_empty())
        .collect()
}

/// Loads every rules file from `files` (name, text) into a rule set.
pub fn compile(files: &[(String, String)]) -> Result<RuleSet, RulesError> {
    let mut errors = Vec::new();
    let mut hasher = Sha256::new();
    let mut sorted: Vec<&(String, String)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, text) in &sorted {
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update(text.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    let version: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();

    let mut rs = RuleSet::empty(version);
    let mut purposes: [Option<PurposeRules>; 9] = Default::default();

    let Some((_, classes_text)) = sorted.iter().find(|(n, _)| n == CLASSES_FILE) else {
        return Err(RulesError(vec![format!(
            "{CLASSES_FILE}: missing; the rules directory needs a {CLASSES_FILE} with the field classes (see rules/README.md)"
        )]));
    };
    load_classes(classes_text, &mut rs, &mut errors);
    if let Some((_, text)) = sorted.iter().find(|(n, _)| n == FHIR_FILE) {
        let mut errs = Errors {
            file: FHIR_FILE,
            text,
            out: &mut errors,
        };
        rs.fhir = FhirSchema::compile(text, &mut errs).map(std::sync::Arc::new);
    }

    for (name, text) in &sorted {
        if name == CLASSES_FILE || name == FHIR_FILE {
            continue;
        }
        if name == purpose_of_use::FILE {
            rs.purpose_of_use = purpose_of_use::load(text, &mut errors);
            continue;
        }
        if !name.ends_with(".toml") {
            continue;
        }
        load_purpose(name, text, &rs, &mut purposes, &mut errors);
    }
    for p in Purpose::ALL {
        if purposes[p.index()].is_none() {
            errors.push(format!(
                "{}.toml: missing; every purpose needs a rules file (purpose = \"{}\", consent, default, [actions])",
                p.as_str(),
                p.as_str()
            ));
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| {
            let mut parts = e.splitn(3, ':');
            let file = parts.next().unwrap_or("").to_owned();
            let line = parts
                .next()
                .and_then(|l| l.parse::<usize>().ok())
                .unwrap_or(0);
            (file, line)
        });
        return Err(RulesError(errors));
    }
    rs.purposes = purposes.into_iter().flatten().collect();
    Ok(rs)
}

fn load_classes(text: &str, rs: &mut RuleSet, errors: &mut Vec<String>) {
    let mut errs = Errors {
        file: CLASSES_FILE,
        text,
        out: errors,
    };
    let raw: RawClasses = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let at = e.span().map(|s| s.start).unwrap_or(0);
            errs.at(at, e.message());
            return;
        }
    };
    rs.generic_suffixes = term_list(&raw.generic_suffixes)
        .into_iter()
        .flatten()
        .collect();
    rs.org_qualifiers = term_list(&raw.org_qualifiers);
    rs.opaque_keys = term_list(&raw.opaque_keys);
    let mut seen: HashMap<Vec<String>, FieldClass> = HashMap::new();
    for c in &raw.classes {
        let Some(class) = parse_class(&c.name, &mut errs) else {
            continue;
        };
        if c.detect {
            rs.detect = rs.detect.with(class);
        }
        if let Some(k) = c.mask_keep {
            rs.mask_keep[class.index()] = k.min(8);
        }
        for term in term_list(&c.keys) {
            if let Some(prev) = seen.insert(term.clone(), class) {
                if prev != class {
                    errs.at(
                        c.name.span().start,
                        format!(
                            "key {:?} is in both {} and {}; keep it in one class and use a [[context]] rule for the other meaning",
                            term.join(" "),
                            prev,
                            class
                        ),
                    );
                }
            }
            rs.max_term_words = rs.max_term_words.max(term.len());
            rs.families.insert(term, class);
        }
    }
    for ctx in &raw.contexts {
        let class = if ctx.class.get_ref() == "none" {
            None
        } else {
            match parse_class(&ctx.class, &mut errs) {
                Some(c) => Some(c),
                None => continue,
            }
        };
        if ctx.part && class.is_none() {
            errs.at(
                ctx.class.span().start,
                "`part = true` says the value belongs to a class's record: name that class, not \"none\"",
            );
            continue;
        }
        if rs.contexts.len() >= 64 {
            errs.at(
                ctx.class.span().start,
                "at most 64 [[context]] rules; merge rules of one class",
            );
            continue;
        }
        rs.contexts.push(ContextRule {
            class,
            keys: term_list(&ctx.keys),
            within: term_list(&ctx.within),
            part: ctx.part,
        });
    }
    for sib in &raw.siblings {
        let mut classes = HashMap::new();
        for (k, v) in &sib.classes {
            if let Some(c) = parse_class(v, &mut errs) {
                classes.insert(k.to_lowercase(), c);
            }
        }
        rs.siblings.push(SiblingRule {
            within: term_list(&sib.within),
            discriminators: term_list(&sib.discriminators),
            values: term_list(&sib.values),
            classes,
        });
    }
    if rs.siblings.len() > 32 {
        errs.at(0, "at most 32 [[sibling]] rules");
    }
}

fn load_purpose(
    name: &str,
    text: &str,
    rs: &RuleSet,
    purposes: &mut [Option<PurposeRules>; 9],
    errors: &mut Vec<String>,
) {
    let mut errs = Errors {
        file: name,
        text,
        out: errors,
    };
    let raw: RawPurpose = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let at = e.span().map(|s| s.start).unwrap_or(0);
            errs.at(at, e.message());
            return;
        }
    };
    let purpose = match raw.purpose.get_ref().parse::<Purpose>() {
        Ok(p) => p,
        Err(e) => {
            errs.at(raw.purpose.span().start, e);
            return;
        }
    };
    let expected = format!("{}.toml", purpose.as_str());
    if name != expected {
        errs.at(
            raw.purpose.span().start,
            format!("purpose {purpose:?} belongs in {expected}; rename the file or fix `purpose`"),
        );
    }
    if purposes[purpose.index()].is_some() {
        errs.at(
            raw.purpose.span().start,
            format!("purpose {purpose} is defined twice"),
        );
        return;
    }
    let consent = match raw.consent.get_ref().as_str() {
        "opt_in" => ConsentMode::OptIn,
        "opt_out" => ConsentMode::OptOut,
        "none" => ConsentMode::None,
        other => {
            errs.at(
                raw.consent.span().start,
                format!("unknown consent mode {other:?}; write opt_in, opt_out or none"),
            );
            ConsentMode::OptIn
        }
    };
    if consent == ConsentMode::None && purpose != Purpose::Legal {
        errs.at(
            raw.consent.span().start,
            "consent = \"none\" is reserved for `legal` (processing required by law); write opt_out or opt_in",
        );
    }
    let default = match parse_action(raw.default.get_ref(), 0) {
        Ok(Action::Mask { .. } | Action::Generalize) => {
            errs.at(
                raw.default.span().start,
                "the default action must be allow, pseudonymize, remove, null or block",
            );
            Action::Remove
        }
        Ok(a) => a,
        Err(e) => {
            errs.at(raw.default.span().start, e);
            Action::Remove
        }
    };
    let mut actions = [default; FieldClass::COUNT];
    for (class_name, action) in &raw.actions {
        let Some(class) = parse_class(class_name, &mut errs) else {
            continue;
        };
        match parse_action(action.get_ref(), rs.mask_keep[class.index()]) {
            Ok(Action::Generalize)
                if !matches!(class, FieldClass::BirthDate | FieldClass::Address) =>
            {
                errs.at(
                    action.span().start,
                    format!(
                        "generalize applies to birth_date and address only; for {class} write pseudonymize or remove"
                    ),
                );
            }
            Ok(a) => actions[class.index()] = a,
            Err(e) => errs.at(action.span().start, e),
        }
    }
    let allow_other_content = match raw.other_content.as_ref().map(|s| s.get_ref().as_str()) {
        None | Some("block") => false,
        Some("allow") => true,
        Some(other) => {
            if let Some(s) = &raw.other_content {
                errs.at(
                    s.span().start,
                    format!("other_content = {other:?}; write \"allow\" or \"block\""),
                );
            }
            false
        }
    };
    let allowlist = match &raw.allowlist {
        Some(a) if *a.get_ref() => {
            if purpose == Purpose::Legal {
                errs.at(
                    a.span().start,
                    "`legal` discloses what the law requires and cannot be an allowlist; remove `allowlist`",
                );
            } else if matches!(default, Action::Allow | Action::Pseudonymize) {
                errs.at(
                    a.span().start,
                    "an allowlist purpose removes what no rule names, so its `default` must be remove, null or block",
                );
            }
            true
        }
        _ => false,
    };
    purposes[purpose.index()] = Some(PurposeRules {
        purpose,
        consent,
        actions,
        allow_other_content,
        allowlist,
    });
}

/// Reads every `*.toml` in `dir`.
pub fn read_dir(dir: &Path) -> Result<Vec<(String, String)>, RulesError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        RulesError(vec![format!(
            "{}: cannot read the rules directory ({e}); pass --rules with the directory that holds classes.toml and the purpose files",
            dir.display()
        )])
    })?;
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        match std::fs::read_to_string(&path) {
            Ok(text) => files.push((name, text)),
            Err(e) => errors.push(format!("{}: cannot read ({e})", path.display())),
        }
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(RulesError(errors))
    }
}
