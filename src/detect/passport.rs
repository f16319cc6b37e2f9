//! Паспорт РФ: a 4-digit series (region and year, may be written `45 09`) and
//! a 6-digit number: `4509 123456`, `45 09 123456`, `4509№123456`,
//! `45 09 № 123456`, the N3.Health form `4509:123456`, or `4509123456`.
//!
//! There is no check digit, so in prose the detector reports a passport only
//! when a passport or identity-document keyword («паспорт», «документ»,
//! «удостоверение») is the nearest keyword within 40 chars before it, or,
//! with no keyword of any number before it, when it is written the way only
//! passports are written: the series split in two (`45 09 123456`,
//! `45 09 № 123456`) with a region code that is not `00` and a blank year
//! from 97 to 35 (the series' last two digits are the year the blank was
//! printed; the Russian passport of this form exists since 1997).
//! The same 4+6 layout after «полис»/«ОМС» is an old-style OMS policy.
//! Whole values under a passport key are checked by [`looks_like_passport`].

use super::digits::{Cluster, Sep};
use super::text::LookBehind;
use crate::class::FieldClass;

/// Keywords (lower case) that introduce a passport.
const PASSPORT_WORDS: &[&str] = &["паспорт", "пасп.", "passport", "удостоверени", "документ"];
/// «серия» introduces a passport, or an old OMS policy after «полис».
const SERIES_WORDS: &[&str] = &["серия", "серии", "series"];
const OMS_WORDS: &[&str] = &["полис", "омс", "oms", "policy"];
/// Keywords of other numbers: the nearest keyword wins.
const OTHER_WORDS: &[&str] = &[
    "инн",
    "огрн",
    "снилс",
    "тел",
    "счет",
    "счёт",
    "кпп",
    "бик",
    "inn",
];

const KEYWORD_CHARS: usize = 40;

/// Whether groups `gi..` are written as series and number; returns the last
/// group index.
pub(crate) fn match_layout(c: &Cluster<'_>, gi: usize) -> Option<usize> {
    let g = c.groups();
    let first = g.get(gi)?;
    let number_sep = |s: Sep| matches!(s, Sep::Space | Sep::Numero | Sep::Colon);
    if first.len() == 10 {
        return Some(gi);
    }
    if first.len() == 4 {
        let n = g.get(gi + 1)?;
        return (n.len() == 6 && number_sep(n.sep)).then_some(gi + 1);
    }
    if first.len() == 2 {
        let [s2, n] = g.get(gi + 1..gi + 3)?.try_into().ok()?;
        let ok = s2.len() == 2 && s2.sep == Sep::Space && n.len() == 6 && number_sep(n.sep);
        return ok.then_some(gi + 2);
    }
    None
}

/// Whether the series-and-number at `gi` is written with the series split in
/// two (`45 09 123456`), a region code other than `00` and a plausible blank
/// year (97–99, 00–35): the layout alone says passport.
pub(crate) fn split_series(c: &Cluster<'_>, gi: usize) -> bool {
    let g = c.groups();
    let Some([region, year, _]) = g.get(gi..gi + 3) else {
        return false;
    };
    if region.len() != 2 || year.len() != 2 {
        return false;
    }
    let mut buf = [0u8; 32];
    if c.digits(gi, gi + 1, &mut buf) != 4 {
        return false;
    }
    let region = [buf[0], buf[1]];
    let yy = u32::from(buf[2] - b'0') * 10 + u32::from(buf[3] - b'0');
    region != *b"00" && (yy >= 97 || yy <= 35)
}

/// The class of a series-and-number found at `pos`, decided by the nearest
/// keyword before it: a passport, an old OMS policy, or nothing. With no
/// keyword at all, `split_series` (see [`split_series`]) makes it a passport.
pub(crate) fn context_class(text: &str, pos: usize, split_series: bool) -> Option<FieldClass> {
    let lb = LookBehind::new(text, pos, KEYWORD_CHARS);
    let passport = lb.last(PASSPORT_WORDS);
    let series = lb.last(SERIES_WORDS);
    let oms = lb.last(OMS_WORDS);
    let other = lb.last(OTHER_WORDS);
    let Some(best) = [passport, series, oms, other].into_iter().flatten().max() else {
        return split_series.then_some(FieldClass::Passport);
    };
    if Some(best) == passport {
        Some(FieldClass::Passport)
    } else if Some(best) == series {
        // «Полис ОМС серия 6601 номер 974501» is a policy, not a passport.
        match (oms, passport) {
            (Some(o), p) if p.is_none_or(|p| p < o) => Some(FieldClass::OmsPolicy),
            _ => Some(FieldClass::Passport),
        }
    } else if Some(best) == oms {
        Some(FieldClass::OmsPolicy)
    } else {
        None
    }
}

/// Whether a whole value under a passport key looks like a passport: the
/// series alone (`6508`, `65 08`), the number alone (`479149`), or series and
/// number in one of the layouts above. Surrounding spaces are ignored.
pub fn looks_like_passport(value: &str) -> bool {
    let v = value.trim();
    if !v.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return false;
    }
    let c = Cluster::parse(v, 0, None);
    if c.end() != v.len() {
        return false;
    }
    let g = c.groups();
    let lens: Vec<usize> = g.iter().map(|x| x.len()).collect();
    match lens.as_slice() {
        [4] | [6] => true,
        [2, 2] => g[1].sep == Sep::Space,
        _ => match_layout(&c, 0) == Some(g.len() - 1),
    }
}

/// Whether a whole value looks like a birth certificate (свидетельство о
/// рождении): a Roman-numeral series with two Cyrillic capitals (`IV-АИ`),
/// a 6-digit number, or both (`IV-АИ 123456`, `IV-АИ № 123456`,
/// `II-СЛ:777003`).
pub fn looks_like_birth_certificate(value: &str) -> bool {
    let v = value.trim();
    let roman_len = v.bytes().take_while(|b| b"IVXLC".contains(b)).count();
    if roman_len == 0 {
        return v.len() == 6 && v.bytes().all(|b| b.is_ascii_digit());
    }
    let rest = &v[roman_len..];
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let mut chars = rest.chars();
    let two_caps = (0..2).all(|_| chars.next().is_some_and(super::text::is_cyr_upper));
    if !two_caps || !is_roman(&v[..roman_len]) {
        return false;
    }
    let tail = chars.as_str();
    if tail.is_empty() {
        return true;
    }
    let tail = tail.trim_start_matches([' ', ':']);
    let tail = tail.strip_prefix('№').unwrap_or(tail).trim_start();
    tail.len() == 6 && tail.bytes().all(|b| b.is_ascii_digit())
}

/// A Roman numeral up to 399 in canonical form.
fn is_roman(s: &str) -> bool {
    let mut rest = s;
    let mut take = |options: &[&str]| {
        if let Some(o) = options.iter().find(|o| rest.starts_with(**o)) {
            rest = &rest[o.len()..];
        }
    };
    take(&["CCC", "CC", "C"]);
    take(&["XC", "XL", "LXXX", "LXX", "LX", "L", "XXX", "XX", "X"]);
    take(&["IX", "IV", "VIII", "VII", "VI", "V", "III", "II", "I"]);
    rest.is_empty() && !s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::class::ClassSet;
    use crate::detect::{Detectors, Finding};

    const VALID: [&str; 10] = [
        "6512 345678",
        "65 12 345678",
        "6512345678",
        "65 12 № 345678",
        "6512:345678",
        "7816:726279",
        "7412 809982",
        "4510 000001",
        "0399 123456",
        "5704№123456",
    ];

    const INVALID: [&str; 10] = [
        "651 2345678",
        "6512 34567",
        "6512 3456789",
        "АБ12 345678",
        "6512-345678",
        "65123 45678",
        "6512  345678",
        "6512/345678",
        "",
        "6512 345678 9",
    ];

    fn found_in_prose(value: &str) -> bool {
        let text = format!("Паспорт {value}, выдан ОВД");
        let mut out: Vec<Finding> = Vec::new();
        Detectors::new(ClassSet::ALL).scan(&text, &mut out);
        let start = "Паспорт ".len();
        out.iter().any(|f| {
            f.class == FieldClass::Passport && f.start == start && f.end == start + value.len()
        })
    }

    #[test]
    fn valid_vectors() {
        for v in VALID {
            assert!(looks_like_passport(v), "{v}");
            assert!(found_in_prose(v), "{v}");
        }
    }

    #[test]
    fn invalid_vectors() {
        for v in INVALID {
            assert!(!looks_like_passport(v), "{v}");
            assert!(!found_in_prose(v), "{v}");
        }
    }

    #[test]
    fn parts_under_a_passport_key() {
        for v in ["6508", "65 08", "479149", " 6508 479149 "] {
            assert!(looks_like_passport(v), "{v}");
        }
        for v in ["650", "47914", "6508 47914", "6508-479149", "паспорт"] {
            assert!(!looks_like_passport(v), "{v}");
        }
    }

    #[test]
    fn needs_a_passport_keyword_in_prose() {
        let mut out = Vec::new();
        let d = Detectors::new(ClassSet::ALL);
        d.scan("Код 4509 123456 в реестре", &mut out);
        assert!(out.is_empty(), "{out:?}");
        d.scan("паспорт серии 45 09 номер 123456", &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].class, FieldClass::Passport);
        out.clear();
        d.scan("Паспорт 4509 123456, ИНН 6672773806", &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        out.clear();
        d.scan("Полис ОМС серия 6601 номер 974501", &mut out);
        assert_eq!(out[0].class, FieldClass::OmsPolicy);
        out.clear();
        d.scan("Документ 4509 123456 внесён в карту", &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].class, FieldClass::Passport);
    }

    #[test]
    fn a_split_series_is_a_passport_without_a_keyword() {
        let d = Detectors::new(ClassSet::ALL);
        let found = |t: &str| {
            let mut out = Vec::new();
            d.scan(t, &mut out);
            out.iter()
                .filter(|f| f.class == FieldClass::Passport)
                .map(|f| t[f.start..f.end].to_owned())
                .collect::<Vec<String>>()
        };
        assert_eq!(found("Внесён 45 09 123456 в карту"), ["45 09 123456"]);
        assert_eq!(found("сверили 34 18 № 868289."), ["34 18 № 868289"]);
        assert_eq!(found("серия-номер 71 98 123456"), ["71 98 123456"]);
        // A region code 00, a year that no blank has, or another number's
        // keyword: not a passport.
        assert!(found("Внесён 00 09 123456 в карту").is_empty());
        assert!(found("Внесён 45 60 123456 в карту").is_empty());
        assert!(found("ИНН 45 09 123456").is_empty());
        // Unsplit layouts still need a keyword.
        assert!(found("Код 4509 123456").is_empty());
        assert!(found("Код 4509123456").is_empty());
    }

    #[test]
    fn birth_certificates() {
        for v in [
            "IV-АИ 123456",
            "IV-АИ № 123456",
            "XII-МЮ 654321",
            "I-АБ 000001",
            "II-СЛ:777003",
            "XVI-ЖШ",
            "646216",
            "XVIII-ЯЭ 496171",
        ] {
            assert!(looks_like_birth_certificate(v), "{v}");
        }
        for v in [
            "IV-AI 123456",
            "4-АИ 123456",
            "IV-А 123456",
            "IV-АИ 12345",
            "IIII-АБ 123456",
            "",
        ] {
            assert!(!looks_like_birth_certificate(v), "{v}");
        }
    }
}
