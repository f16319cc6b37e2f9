//! Phone numbers.
//!
//! Russian numbers: `+7`, `7` or `8`, then a 10-digit national number,
//! written with spaces, hyphens and an area code in parentheses:
//! `+7 (912) 345-67-89`, `8 (3435) 47-67-44`, `+79088481487`,
//! `8-999-963-08-06`. How much the digits must prove depends on how much the
//! layout already says:
//!
//! - a phone shape (`+7`, parentheses around the area code, or a lone `8`/`7`
//!   followed by phone grouping: an area code of 3 to 5 digits, then groups of
//!   2 to 4), or a phone keyword before it, takes any area code of the +7
//!   zone, Kazakhstan's (6xx, 7xx) and unassigned ones included:
//!   `+7 (236) 406-8412`, `8 296 303 7276`, `+7 (042) 095-02-41`. A number
//!   written as a phone is somebody's phone whether or not its code is in
//!   today's plan;
//! - any other layout needs an area code Russia assigns to people (3, 4, 8
//!   or 9), and eleven digits in one run with no `+` must be a mobile (9xx):
//!   barcodes and registry numbers look just like landlines.
//!
//! International numbers: `+`, a country code of the ITU-T E.164 list, and
//! at most 15 digits in all (`+44 20 7946 0958`, `+375 29 123-45-67`).
//!
//! Toll-free numbers (800, 804) belong to organisations and are not personal
//! data: the detector recognises and skips them. A phone is a whole cluster
//! of digits: digits inside a longer run, or a number followed by one more
//! group in the same layout, are not a phone.

use super::digits::{Cluster, Sep};
use super::text::{LookBehind, sentence_end_after};
use crate::class::FieldClass;

/// Keywords (lower case) that say a number is a phone.
pub(crate) const PHONE_WORDS: &[&str] = &[
    "тел",
    "phone",
    "моб",
    "звон",
    "перезвон",
    "позвон",
    "дозвон",
    "связ",
    "контакт",
    "входящ",
    "исходящ",
    "по номеру",
    "whatsapp",
    "telegram",
    "viber",
    "sms",
    "смс",
];

/// Keywords (lower case) after a number that say it is a phone: the phone
/// words, and what is said of a call (не отвечает, недоступен, абонент).
const AFTER_WORDS: &[&str] = &[
    "тел",
    "звон",
    "перезвон",
    "позвон",
    "дозвон",
    "sms",
    "смс",
    "whatsapp",
    "telegram",
    "viber",
    "не отвечает",
    "не берёт",
    "не берет",
    "недоступен",
    "абонент",
    "вне зоны",
];

/// How far before a number a phone keyword counts, in chars.
const KEYWORD_CHARS: usize = 40;

/// What a phone-shaped cluster turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PhoneKind {
    Personal,
    /// 8 800 … and 8 804 …: an organisation's line, skipped.
    TollFree,
}

/// Whether the national number (10 ASCII digits) is one a person can hold:
/// starts with 3, 4, 8 or 9. Toll-free numbers pass this check (see
/// [`is_toll_free`]).
pub fn is_valid_national(national: &[u8]) -> bool {
    national.len() == 10
        && national.iter().all(u8::is_ascii_digit)
        && matches!(national[0], b'3' | b'4' | b'8' | b'9')
}

/// Whether the national number is a toll-free line (800 or 804).
pub fn is_toll_free(national: &[u8]) -> bool {
    national.starts_with(b"800") || national.starts_with(b"804")
}

/// Whether `cc` (ASCII digits) is a country code of ITU-T E.164 (the list
/// of assigned codes, Russia's 7 aside).
fn is_country_code(cc: &[u8]) -> bool {
    let n = cc.iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0'));
    match cc.len() {
        1 => n == 1,
        2 => matches!(
            n,
            20 | 27 | 30..=34 | 36 | 39 | 40 | 41 | 43..=49 | 51..=58 | 60..=66 | 81 | 82 | 84
                | 86 | 90..=95 | 98
        ),
        3 => {
            let two = n / 10;
            // The two-digit codes above are not the start of three-digit ones.
            !is_country_code(&cc[..2])
                && cc[0] != b'1'
                && matches!(
                    two,
                    21..=29 | 35 | 37 | 38 | 42 | 50 | 59 | 67..=69 | 85 | 87 | 88 | 96..=99
                )
                // Reserved, not assigned.
                && !matches!(n, 997 | 999)
        }
        _ => false,
    }
}

/// An international number at the cluster's first group, after its `+`:
/// a country code and at most 15 digits in all, to the cluster's end.
fn match_international(c: &Cluster<'_>) -> Option<usize> {
    let g = c.groups();
    let b = c.text.as_bytes();
    let first = g.first()?;
    let cc_ok =
        (1..=3).any(|k| k <= first.len() && is_country_code(&b[first.start..first.start + k]));
    if !cc_ok {
        return None;
    }
    let mut count = 0;
    for (k, grp) in g.iter().enumerate() {
        if k > 0 && !matches!(grp.sep, Sep::Space | Sep::Hyphen | Sep::Open | Sep::Close) {
            return None;
        }
        count += grp.len();
        if count > 15 {
            return None;
        }
        if k + 1 == g.len() {
            return (count >= 10 && c.can_end(k)).then_some(k);
        }
    }
    None
}

/// Matches a phone at group `gi`; returns the last group and the kind.
pub(crate) fn match_at(c: &Cluster<'_>, gi: usize) -> Option<(usize, PhoneKind)> {
    let g = c.groups();
    let first = g.get(gi)?;
    let b = c.text.as_bytes();
    let prefix = b[first.start];
    let plus = gi == 0 && c.plus.is_some();
    if plus && prefix != b'7' {
        return match_international(c).map(|last| (last, PhoneKind::Personal));
    }
    if !(prefix == b'7' || (prefix == b'8' && !plus)) {
        return None;
    }
    // Groups until exactly 11 digits.
    let mut count = 0;
    let mut last = gi;
    for (k, grp) in g.iter().enumerate().skip(gi) {
        if k > gi && !matches!(grp.sep, Sep::Space | Sep::Hyphen | Sep::Open | Sep::Close) {
            return None;
        }
        count += grp.len();
        last = k;
        if count >= 11 {
            break;
        }
    }
    if count != 11 {
        return None;
    }
    // National groups: the prefix digit stands alone or leads the first group.
    let alone = first.len() == 1;
    let nat_from = if alone { gi + 1 } else { gi };
    let nat_len = |k: usize| if k == gi { g[k].len() - 1 } else { g[k].len() };
    if alone && !matches!(g[gi + 1].sep, Sep::Space | Sep::Hyphen | Sep::Open) {
        return None;
    }
    if nat_from < last {
        if !(3..=5).contains(&nat_len(nat_from)) {
            return None;
        }
        if (nat_from + 1..=last).any(|k| nat_len(k) > 7) {
            return None;
        }
    }
    // Parentheses only around the area code, right after a lone prefix.
    let (mut parens, mut open_at, mut close_at) = (0, 0, 0);
    for (k, grp) in g.iter().enumerate().take(last + 1).skip(gi + 1) {
        match grp.sep {
            Sep::Open => (parens, open_at) = (parens + 1, k),
            Sep::Close => (parens, close_at) = (parens + 1, k),
            _ => {}
        }
    }
    let parens_ok =
        parens == 0 || (parens == 2 && alone && open_at == gi + 1 && close_at == gi + 2);
    if !parens_ok {
        return None;
    }
    // The same layout going on means a longer number, not a phone.
    let spaced = (gi + 1..=last).any(|k| g[k].sep == Sep::Space);
    if let Some(next) = g.get(last + 1)
        && spaced
        && next.sep == Sep::Space
    {
        return None;
    }
    if !c.can_end(last) {
        return None;
    }
    let mut buf = [0u8; 32];
    let n = c.digits(gi, last, &mut buf);
    let national = &buf[1..n];
    // A lone prefix, then an area code of 3 to 5 digits and groups of 2 to 4.
    let grouped = alone
        && last >= gi + 3
        && (3..=5).contains(&g[gi + 1].len())
        && (gi + 2..=last).all(|k| (2..=4).contains(&g[k].len()));
    let shape = plus || parens == 2 || grouped;
    // A phone word before the number, or after it in the same sentence
    // («…, звонить только в экстренном случае», «… — не отвечает»).
    let said = || {
        let end = g[last].end;
        let to = sentence_end_after(c.text, end, KEYWORD_CHARS);
        let after = c.text[end..to].chars().count();
        LookBehind::new(c.text, g[gi].start, KEYWORD_CHARS).contains(PHONE_WORDS)
            || LookBehind::new(c.text, to, after).contains(AFTER_WORDS)
    };
    if national.len() != 10 || !national.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if !is_valid_national(national) {
        // An area code Russia does not give people: only a layout or a
        // keyword that says "phone" makes it one.
        if !(shape || said()) {
            return None;
        }
    } else if gi == last && !plus && national[0] != b'9' && !said() {
        // Eleven digits in one run with no `+` are a mobile number (9xx) or
        // something else: barcodes and registry numbers look just like
        // landlines.
        return None;
    }
    let kind = if is_toll_free(national) {
        PhoneKind::TollFree
    } else {
        PhoneKind::Personal
    };
    Some((last, kind))
}

/// Whether a whole value (surrounding spaces ignored) is a personal phone
/// number, Russian or international.
pub fn is_valid_value(value: &str) -> bool {
    super::whole_value_is(value, FieldClass::Phone)
}

/// [`is_valid_value`] for numbers of Russia's plan only: `+7`, `7` or `8`
/// and a national number whose area code Russia assigns (3, 4, 8, 9).
/// Kazakhstan's +7 6xx/7xx and unassigned codes are phones, not Russian ones.
pub fn is_valid_russian_value(value: &str) -> bool {
    let v = value.trim();
    let international = v.starts_with('+') && !v.starts_with("+7");
    let digits: Vec<u8> = v.bytes().filter(u8::is_ascii_digit).collect();
    !international && digits.len() == 11 && is_valid_national(&digits[1..]) && is_valid_value(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: [&str; 19] = [
        "+7 (912) 345-67-89",
        "+79123456789",
        "89123456789",
        "8-912-345-67-89",
        "+7 912 345 67 89",
        "8 (343) 212-85-06",
        "+7 960 700 5745",
        "7 912 3456789",
        "+7-912-345-67-89",
        "8 (3435) 47-67-44",
        "8(912)345-67-89",
        "79677301116",
        // Area codes outside Russia's plan, in a layout that says phone.
        "+7 (236) 406-8412",
        "8 296 303 7276",
        "8 (236) 406-84-12",
        // International, by country code.
        "+44 20 7946 0958",
        "+375 29 123-45-67",
        "+1 (212) 555-0142",
        "+4915112345678",
    ];

    const INVALID: [&str; 16] = [
        "+7 (912) 345-67-8",
        "+8 912 345 67 89",
        "345-67-89",
        "8912345678",
        // Not phone-shaped, and an area code no person has.
        "8-296-303-72-76-1",
        "82963037276",
        "7 2963037276",
        // No such country code; too long for E.164.
        "+80 1234 5678 90",
        "+44 20 7946 0958 1234",
        "+7 912 345 67 89 0",
        "+7 912 345 67 8A",
        "9123456789",
        "8 800 555-35-35",
        "8-800-555-35-35",
        "+7 800 555 35 35",
        "189123456789",
    ];

    #[test]
    fn a_keyword_makes_any_area_code_a_phone() {
        let mut d = Vec::new();
        crate::detect::Detectors::new(crate::class::ClassSet::ALL).scan("тел. 82963037276", &mut d);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].class, FieldClass::Phone);
        d.clear();
        crate::detect::Detectors::new(crate::class::ClassSet::ALL)
            .scan("заказ 82963037276", &mut d);
        assert!(d.iter().all(|f| f.class != FieldClass::Phone), "{d:?}");
        // After the number, in its sentence.
        for t in [
            "Номер дочери 84912052613, звонить только в экстренном случае.",
            "84282267031 — не отвечает, повторить завтра.",
        ] {
            d.clear();
            crate::detect::Detectors::new(crate::class::ClassSet::ALL).scan(t, &mut d);
            assert_eq!(d.len(), 1, "{t}: {d:?}");
            assert_eq!(d[0].class, FieldClass::Phone, "{t}");
        }
        // Not from the next sentence.
        d.clear();
        crate::detect::Detectors::new(crate::class::ClassSet::ALL)
            .scan("Заказ 84912052613. Звонить после обеда.", &mut d);
        assert!(d.iter().all(|f| f.class != FieldClass::Phone), "{d:?}");
    }

    #[test]
    fn country_codes() {
        for cc in ["1", "44", "49", "375", "380", "998", "86", "971"] {
            assert!(is_country_code(cc.as_bytes()), "{cc}");
        }
        for cc in ["2", "80", "440", "999", "0", "7"] {
            assert!(!is_country_code(cc.as_bytes()), "{cc}");
        }
    }

    #[test]
    fn valid_vectors() {
        for v in VALID {
            assert!(is_valid_value(v), "{v}");
        }
    }

    #[test]
    fn invalid_vectors() {
        for v in INVALID {
            assert!(!is_valid_value(v), "{v}");
            assert!(!is_valid_russian_value(v), "{v}");
        }
    }

    #[test]
    fn written_as_a_phone_outside_the_russian_plan() {
        // Kazakhstan's codes and codes the plan does not assign: a phone
        // all the same once the layout says so, but not a Russian one.
        for v in [
            "+7 (012) 345-67-89",
            "+7 (712) 345-67-89",
            "8 (612) 345-67-89",
        ] {
            assert!(is_valid_value(v), "{v}");
            assert!(!is_valid_russian_value(v), "{v}");
        }
        // Without a phone layout or keyword such a code is no phone.
        for v in ["80123456789", "87123456789", "+7 0123456789 1"] {
            assert!(!is_valid_value(v), "{v}");
        }
        for v in VALID
            .iter()
            .filter(|v| !v.starts_with('+') || v.starts_with("+7"))
        {
            let d: Vec<u8> = v.bytes().filter(u8::is_ascii_digit).collect();
            let planned = d.len() == 11 && b"3489".contains(&d[1]);
            assert_eq!(is_valid_russian_value(v), planned, "{v}");
        }
    }

    #[test]
    fn national_number_rules() {
        assert!(is_valid_national(b"9123456789"));
        assert!(is_valid_national(b"3435476744"));
        assert!(!is_valid_national(b"7123456789"));
        assert!(is_toll_free(b"8005553535"));
        assert!(!is_toll_free(b"8123456789"));
    }
}
