//! HL7 v3 PurposeOfUse codes (`rules/purpose_of_use.toml`): which of the
//! nine purposes a code that a client sends in `x-purpose` stands for.
//!
//! The file is optional: without it no code is accepted. Codes are matched
//! without regard to case, alone or as `system|code` with the v3-ActReason
//! system.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use toml::Spanned;

use super::load::Errors;
use crate::class::Purpose;

/// The rules file that holds the mapping.
pub const FILE: &str = "purpose_of_use.toml";

/// The code system of the PurposeOfUse codes.
pub const SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";

/// The same code system as FHIR STU3 and earlier name it.
const SYSTEM_STU3: &str = "http://hl7.org/fhir/v3/ActReason";

/// The longest code accepted; the longest in the code system has 11 letters.
const MAX_CODE: usize = 32;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    purposes: BTreeMap<Spanned<String>, Vec<Spanned<String>>>,
}

/// The compiled mapping: upper-case code -> purpose.
#[derive(Debug, Clone, Default)]
pub struct PurposeOfUse {
    codes: HashMap<Box<str>, Purpose>,
}

impl PurposeOfUse {
    /// The purpose `declared` (a code, or `system|code`) maps to, and the
    /// code as the rules write it.
    pub fn get(&self, declared: &str) -> Option<(Purpose, &str)> {
        let code = match declared.split_once('|') {
            Some((system, code)) if system == SYSTEM || system == SYSTEM_STU3 => code,
            Some(_) => return None,
            None => declared,
        };
        if code.is_empty() || code.len() > MAX_CODE {
            return None;
        }
        // Upper-cased on the stack: a request allocates nothing here.
        let mut buf = [0u8; MAX_CODE];
        let buf = &mut buf[..code.len()];
        buf.copy_from_slice(code.as_bytes());
        buf.make_ascii_uppercase();
        let key = std::str::from_utf8(buf).ok()?;
        self.codes.get_key_value(key).map(|(k, p)| (*p, &**k))
    }

    /// How many codes are mapped.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// Every (code, purpose), sorted by code.
    pub fn entries(&self) -> Vec<(&str, Purpose)> {
        let mut v: Vec<(&str, Purpose)> = self.codes.iter().map(|(k, p)| (&**k, *p)).collect();
        v.sort_unstable();
        v
    }
}

fn purpose_names() -> String {
    Purpose::ALL.map(Purpose::as_str).join(", ")
}

/// Compiles the mapping from the file's text; problems go to `errors`.
pub(super) fn load(text: &str, errors: &mut Vec<String>) -> PurposeOfUse {
    let mut errs = Errors {
        file: FILE,
        text,
        out: errors,
    };
    let raw: Raw = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            errs.at(e.span().map(|s| s.start).unwrap_or(0), e.message());
            return PurposeOfUse::default();
        }
    };
    let mut out = PurposeOfUse::default();
    // Where each code was first mapped, for the duplicate message.
    let mut first: HashMap<String, (Purpose, usize)> = HashMap::new();
    for (name, codes) in &raw.purposes {
        let Some(purpose) = Purpose::ALL
            .into_iter()
            .find(|p| p.as_str() == name.get_ref())
        else {
            errs.at(
                name.span().start,
                format!(
                    "unknown purpose {:?}; write one of: {}",
                    name.get_ref(),
                    purpose_names()
                ),
            );
            continue;
        };
        for code in codes {
            let at = code.span().start;
            let c = code.get_ref();
            if let Err(msg) = check_code(c, purpose) {
                errs.at(at, msg);
                continue;
            }
            if let Some((prev, prev_at)) = first.get(c) {
                let line = errs.line(*prev_at);
                errs.at(
                    at,
                    if *prev == purpose {
                        format!("code {c:?} is listed twice for {purpose} (line {line}); remove this one")
                    } else {
                        format!(
                            "code {c:?} is already mapped to {prev} (line {line}); a code maps to one purpose: remove it from {purpose} or from {prev}"
                        )
                    },
                );
                continue;
            }
            first.insert(c.clone(), (purpose, at));
            out.codes.insert(c.as_str().into(), purpose);
        }
    }
    out
}

/// A code is upper-case ASCII letters, as the code system writes it, and
/// is not a purpose id in capitals that would stand for another purpose.
fn check_code(c: &str, purpose: Purpose) -> Result<(), String> {
    if c.is_empty() {
        return Err("empty code; write a PurposeOfUse code such as \"TREAT\"".into());
    }
    if let Some((_, code)) = c.split_once('|') {
        return Err(format!(
            "code {c:?} names a system; write the code alone (\"{}\"): clients may send system|code, the file holds codes",
            code.to_ascii_uppercase()
        ));
    }
    if !c.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(format!(
            "code {c:?} is not upper-case letters; write the code as the v3-ActReason code system spells it (A-Z only, e.g. \"HMARKT\")"
        ));
    }
    if c.len() > MAX_CODE {
        return Err(format!(
            "code {c:?} is longer than {MAX_CODE} letters; write a PurposeOfUse code"
        ));
    }
    if !c.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "code {c:?} is not upper-case letters; write {:?} (clients' codes are matched in any case)",
            c.to_ascii_uppercase()
        ));
    }
    if let Some(other) = Purpose::ALL
        .into_iter()
        .find(|p| p.as_str().eq_ignore_ascii_case(c) && *p != purpose)
    {
        return Err(format!(
            "code {c:?} spells the purpose id `{other}` but is mapped to {purpose}; remove it, a client writing `{other}` means {other}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(text: &str) -> Result<PurposeOfUse, Vec<String>> {
        let mut errors = Vec::new();
        let m = load(text, &mut errors);
        if errors.is_empty() {
            Ok(m)
        } else {
            Err(errors)
        }
    }

    #[test]
    fn codes_match_in_any_case_and_with_the_system() {
        let m = compile("[purposes]\ncare = [\"TREAT\"]\nmarketing = [\"HMARKT\"]\n").unwrap();
        for s in [
            "TREAT",
            "treat",
            "Treat",
            "http://terminology.hl7.org/CodeSystem/v3-ActReason|TREAT",
            "http://terminology.hl7.org/CodeSystem/v3-ActReason|treat",
            "http://hl7.org/fhir/v3/ActReason|TREAT",
        ] {
            assert_eq!(m.get(s), Some((Purpose::Care, "TREAT")), "{s}");
        }
        assert_eq!(m.get("hmarkt"), Some((Purpose::Marketing, "HMARKT")));
        for s in [
            "",
            "TREA",
            "TREATX",
            " TREAT",
            "|TREAT",
            "http://example.org/purpose|TREAT",
            "http://terminology.hl7.org/CodeSystem/v3-ActReason|",
            "http://terminology.hl7.org/CodeSystem/v3-ActReason|TREAT|TREAT",
            "care",
            "TREATTREATTREATTREATTREATTREATTREAT",
            "ТРЕАТ",
        ] {
            assert_eq!(m.get(s), None, "{s:?}");
        }
    }

    #[test]
    fn an_empty_file_accepts_no_code() {
        let m = compile("").unwrap();
        assert!(m.is_empty());
        assert_eq!(m.get("TREAT"), None);
    }

    #[test]
    fn errors_name_the_line_and_what_to_write() {
        let text = "[purposes]\n\
                    care = [\"TREAT\", \"ETREAT\"]\n\
                    treatment = [\"COC\"]\n\
                    marketing = [\"TREAT\"]\n\
                    analytics = [\"hqualimp\", \"H-OPERAT\", \"v3|PERFMSR\", \"\"]\n\
                    support = [\"HSYSADMIN\", \"HSYSADMIN\", \"LEGAL\"]\n";
        let errors = compile(text).unwrap_err();
        let find = |needle: &str| {
            errors
                .iter()
                .find(|e| e.contains(needle))
                .unwrap_or_else(|| panic!("no error with {needle:?} in {errors:#?}"))
                .clone()
        };
        assert!(
            find("unknown purpose").starts_with("purpose_of_use.toml:3: unknown purpose \"treatment\"; write one of: auth, appointments, care,"),
            "{errors:#?}"
        );
        assert_eq!(
            find("already mapped"),
            "purpose_of_use.toml:4: code \"TREAT\" is already mapped to care (line 2); a code maps to one purpose: remove it from marketing or from care"
        );
        assert_eq!(
            find("\"hqualimp\""),
            "purpose_of_use.toml:5: code \"hqualimp\" is not upper-case letters; write \"HQUALIMP\" (clients' codes are matched in any case)"
        );
        assert!(find("\"H-OPERAT\"").contains("A-Z only"), "{errors:#?}");
        assert!(
            find("names a system").contains("write the code alone (\"PERFMSR\")"),
            "{errors:#?}"
        );
        assert!(find("empty code").starts_with("purpose_of_use.toml:5:"));
        assert_eq!(
            find("listed twice"),
            "purpose_of_use.toml:6: code \"HSYSADMIN\" is listed twice for support (line 6); remove this one"
        );
        assert!(
            find("\"LEGAL\"").contains("spells the purpose id `legal` but is mapped to support"),
            "{errors:#?}"
        );
        assert_eq!(errors.len(), 8, "{errors:#?}");
    }

    #[test]
    fn a_misspelt_table_is_an_error() {
        let errors = compile("[purpose]\ncare = [\"TREAT\"]\n").unwrap_err();
        assert!(
            errors[0].starts_with("purpose_of_use.toml:1: unknown field `purpose`"),
            "{errors:?}"
        );
        let errors = compile("[purposes]\ncare = \"TREAT\"\n").unwrap_err();
        assert!(
            errors[0].starts_with("purpose_of_use.toml:2:"),
            "{errors:?}"
        );
    }
}
