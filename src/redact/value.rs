//! What an action makes of one value: masking, generalizing, pseudonyms,
//! and the JSON string escaping around them.

use std::sync::OnceLock;

use crate::class::FieldClass;
use crate::redact::PseudonymKey;
use crate::redact::pseudo::pseudonym_into;
use crate::rules::Action;

/// The replacement of a value or of a span inside a text.
pub enum Replacement {
    /// Replace with this text.
    Text(String),
    /// Drop the member (a whole value) or write a placeholder (inside text).
    Remove,
    /// Write JSON `null` (a whole value) or a placeholder (inside text).
    Null,
}

/// Applies a non-`Allow`, non-`Block` action to `text` of class `class`.
pub fn apply(action: Action, class: FieldClass, text: &str, key: &PseudonymKey) -> Replacement {
    match action {
        Action::Mask { keep } => Replacement::Text(mask(text, keep as usize)),
        Action::Pseudonymize => {
            let mut out = Vec::with_capacity(28);
            let norm = normalize_for_pseudonym(class, text);
            pseudonym_into(key, pseudonym_domain(class), norm.as_bytes(), &mut out);
            Replacement::Text(String::from_utf8(out).unwrap_or_default())
        }
        Action::Generalize => match generalize(class, text) {
            Some(g) => Replacement::Text(g),
            None => Replacement::Remove,
        },
        Action::Null => Replacement::Null,
        Action::Remove | Action::Allow | Action::Block => Replacement::Remove,
    }
}

/// The placeholder written where a span inside free text was removed:
/// `[snils]`. Made once per class, since a note may hold several.
pub fn placeholder(class: FieldClass) -> &'static str {
    static ALL: OnceLock<Vec<String>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        FieldClass::ALL
            .iter()
            .map(|c| format!("[{}]", c.as_str()))
            .collect()
    });
    &all[class.index()]
}

/// Masks every letter and digit but the last `keep`, keeping separators, so
/// the shape stays readable: `+7 (912) 345-67-89` -> `+* (***) ***-**-89`.
pub fn mask(text: &str, keep: usize) -> String {
    let total = text.chars().filter(|c| c.is_alphanumeric()).count();
    let mut seen = 0;
    text.chars()
        .map(|c| {
            if c.is_alphanumeric() {
                seen += 1;
                if seen > total.saturating_sub(keep) {
                    c
                } else {
                    '*'
                }
            } else {
                c
            }
        })
        .collect()
}

/// The pseudonym domain of a class: its name, but a person's id in the MIS
/// takes the domain of the audit's subjects, so that analysts can join what
/// they receive with the access log (`zaslon audit --subject`).
pub fn pseudonym_domain(class: FieldClass) -> &'static str {
    match class {
        FieldClass::PersonId => "subject",
        c => c.as_str(),
    }
}

/// Identifiers are pseudonymized by their canonical form, so that
/// `748-569-701 67` and `74856970167` give one token.
fn normalize_for_pseudonym(class: FieldClass, text: &str) -> String {
    use FieldClass::*;
    match class {
        Snils | OmsPolicy | Inn | Card | Passport => {
            text.chars().filter(|c| c.is_ascii_digit()).collect()
        }
        Phone => {
            let d: String = text.chars().filter(|c| c.is_ascii_digit()).collect();
            // 8XXXXXXXXXX and +7XXXXXXXXXX are one number.
            match d.strip_prefix('8') {
                Some(rest) if d.len() == 11 => format!("7{rest}"),
                _ => d,
            }
        }
        // As the audit keys a subject: the id as the MIS wrote it.
        PersonId => text.to_owned(),
        _ => text.trim().to_lowercase(),
    }
}

/// A birth date to its year; an address to its region and city.
pub fn generalize(class: FieldClass, text: &str) -> Option<String> {
    match class {
        FieldClass::BirthDate => year_of(text),
        FieldClass::Address => region_of(text),
        _ => None,
    }
}

fn year_of(text: &str) -> Option<String> {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(3)).find_map(|i| {
        let w = &b[i..i + 4];
        let boundary_before = i == 0 || !b[i - 1].is_ascii_digit();
        let boundary_after = b.get(i + 4).is_none_or(|c| !c.is_ascii_digit());
        let year_like =
            (w.starts_with(b"19") || w.starts_with(b"20")) && w.iter().all(u8::is_ascii_digit);
        (boundary_before && boundary_after && year_like).then(|| text[i..i + 4].to_owned())
    })
}

/// Keeps the comma-separated parts of an address that name a region or a
/// city; streets, houses, flats and postcodes go.
fn region_of(text: &str) -> Option<String> {
    const MARKERS: &[&str] = &[
        "обл",
        "край",
        "респ",
        "округ",
        "ао",
        "г.",
        "г ",
        "город",
        "москва",
        "санкт-петербург",
        "севастополь",
        "region",
        "oblast",
        "krai",
        "city",
    ];
    let parts: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|p| {
            let l = p.to_lowercase();
            !l.starts_with("ул")
                && !l.starts_with("д.")
                && !l.starts_with("кв")
                && MARKERS.iter().any(|m| {
                    l.starts_with(m) || l.contains(&format!(" {m}")) || l.ends_with(m.trim_end())
                })
        })
        .collect();
    if parts.is_empty() {
        None
    } else {
        Some(parts.join(", "))
    }
}

/// Appends `s` as a JSON string literal (with quotes).
pub fn write_json_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    // Most replacements need no escape: one branch-free pass (it
    // vectorises) tells, and the text is copied whole.
    let plain = !bytes
        .iter()
        .fold(false, |a, &b| a | (b == b'"') | (b == b'\\') | (b < 0x20));
    if plain {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if esc.is_empty() {
            out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Decodes the body of a JSON string (between the quotes) that contains at
/// least one backslash. `Err(i)`: the escape at byte `i` is invalid.
pub fn unescape(raw: &[u8], out: &mut String) -> Result<(), usize> {
    let mut i = 0;
    let mut bytes: Vec<u8> = Vec::with_capacity(raw.len());
    while i < raw.len() {
        let b = raw[i];
        if b != b'\\' {
            bytes.push(b);
            i += 1;
            continue;
        }
        let e = *raw.get(i + 1).ok_or(i)?;
        let simple = match e {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(8),
            b'f' => Some(12),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'u' => None,
            _ => return Err(i),
        };
        if let Some(c) = simple {
            bytes.push(c);
            i += 2;
            continue;
        }
        let hi = hex4(raw, i + 2).ok_or(i)?;
        let (cp, used) = if (0xD800..0xDC00).contains(&hi) {
            // A high surrogate must be followed by \uDC00..\uDFFF.
            if raw.get(i + 6) != Some(&b'\\') || raw.get(i + 7) != Some(&b'u') {
                return Err(i);
            }
            let lo = hex4(raw, i + 8).ok_or(i)?;
            if !(0xDC00..0xE000).contains(&lo) {
                return Err(i);
            }
            (0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00), 12)
        } else if (0xDC00..0xE000).contains(&hi) {
            return Err(i);
        } else {
            (hi, 6)
        };
        let c = char::from_u32(cp).ok_or(i)?;
        let mut buf = [0u8; 4];
        bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        i += used;
    }
    match String::from_utf8(bytes) {
        Ok(s) => {
            out.push_str(&s);
            Ok(())
        }
        Err(e) => Err(e.utf8_error().valid_up_to()),
    }
}

fn hex4(raw: &[u8], at: usize) -> Option<u32> {
    let h = raw.get(at..at + 4)?;
    let s = std::str::from_utf8(h).ok()?;
    u32::from_str_radix(s, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_class_has_its_own_placeholder() {
        for c in FieldClass::ALL {
            assert_eq!(placeholder(c), format!("[{}]", c.as_str()));
        }
        assert_eq!(placeholder(FieldClass::Snils), "[snils]");
        assert_eq!(placeholder(FieldClass::Health), "[health]");
    }

    #[test]
    fn masks_keep_separators_and_tail() {
        assert_eq!(mask("+7 (912) 345-67-89", 2), "+* (***) ***-**-89");
        assert_eq!(mask("nvsavin@ya.ru", 0), "*******@**.**");
        assert_eq!(mask("4276 1234 5678 9012", 4), "**** **** **** 9012");
        assert_eq!(mask("ab", 4), "ab");
        assert_eq!(mask("Иванов", 0), "******");
    }

    #[test]
    fn generalizes() {
        assert_eq!(
            generalize(FieldClass::BirthDate, "1988-09-23").as_deref(),
            Some("1988")
        );
        assert_eq!(
            generalize(FieldClass::BirthDate, "23.09.1988").as_deref(),
            Some("1988")
        );
        assert_eq!(generalize(FieldClass::BirthDate, "23 сентября"), None);
        let a = "622824, Свердловская область, г. Нижний Тагил, ул. Советская, д. 100, кв. 340";
        assert_eq!(
            generalize(FieldClass::Address, a).as_deref(),
            Some("Свердловская область, г. Нижний Тагил")
        );
        assert_eq!(
            generalize(FieldClass::Address, "ул. Советская, д. 100, кв. 340"),
            None
        );
        assert_eq!(generalize(FieldClass::Address, "340"), None);
    }

    #[test]
    fn pseudonyms_use_canonical_form() {
        let k = PseudonymKey::new(b"k");
        let t = |c, s| match apply(Action::Pseudonymize, c, s, &k) {
            Replacement::Text(t) => t,
            _ => String::new(),
        };
        assert_eq!(
            t(FieldClass::Snils, "748-569-701 67"),
            t(FieldClass::Snils, "74856970167")
        );
        assert_eq!(
            t(FieldClass::Phone, "8 (912) 345-67-89"),
            t(FieldClass::Phone, "+79123456789")
        );
        assert_ne!(
            t(FieldClass::Snils, "74856970167"),
            t(FieldClass::Inn, "74856970167")
        );
    }

    #[test]
    fn escaping_round_trips() {
        let mut out = Vec::new();
        write_json_string("a\"b\\c\nd\u{1}е", &mut out);
        assert_eq!(out, "\"a\\\"b\\\\c\\nd\\u0001е\"".as_bytes());
        // Each escaped byte alone, after a long plain run, and text with
        // nothing to escape.
        for (c, esc) in [
            ("\"", "\\\""),
            ("\\", "\\\\"),
            ("\t", "\\t"),
            ("\u{1f}", "\\u001f"),
        ] {
            let long = "я".repeat(40);
            out.clear();
            write_json_string(&format!("{long}{c}"), &mut out);
            assert_eq!(out, format!("\"{long}{esc}\"").as_bytes(), "{c:?}");
        }
        out.clear();
        write_json_string("[snils] и Иванов", &mut out);
        assert_eq!(out, "\"[snils] и Иванов\"".as_bytes());
        let mut s = String::new();
        unescape(br#"\u0031\/x\n\ud83d\ude00"#, &mut s).unwrap();
        assert_eq!(s, "1/x\n😀");
        for bad in [&br"\x"[..], br"\u12", br"\ud83d", br"\udc00", br"\"] {
            assert!(unescape(bad, &mut String::new()).is_err(), "{bad:?}");
        }
    }
}
