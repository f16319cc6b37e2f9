//! Russian phone numbers: `+7`, `7` or `8`, then a 10-digit national number
//! whose first digit is 3, 4, 8 or 9 (7xx is Kazakhstan), written with
//! spaces, hyphens and an area code in parentheses: `+7 (912) 345-67-89`,
//! `8 (3435) 47-67-44`, `+79088481487`, `8-999-963-08-06`.
//!
//! Toll-free numbers (800, 804) belong to organisations and are not personal
//! data: the detector recognises and skips them. A phone is a whole cluster
//! of digits: digits inside a longer run, or a number followed by one more
//! group in the same layout, are not a phone.

use super::digits::{Cluster, Sep};
use crate::class::FieldClass;

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

/// Matches a phone at group `gi`; returns the last group and the kind.
pub(crate) fn match_at(c: &Cluster<'_>, gi: usize) -> Option<(usize, PhoneKind)> {
    let g = c.groups();
    let first = g.get(gi)?;
    let b = c.text.as_bytes();
    let prefix = b[first.start];
    let plus = gi == 0 && c.plus.is_some();
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
    if !is_valid_national(national) {
        return None;
    }
    // Eleven digits in one run with no `+` are a mobile number (9xx) or
    // something else: barcodes and registry numbers look just like landlines.
    if gi == last && !plus && national[0] != b'9' {
        return None;
    }
    let kind = if is_toll_free(national) {
        PhoneKind::TollFree
    } else {
        PhoneKind::Personal
    };
    Some((last, kind))
}

/// Whether a whole value (surrounding spaces ignored) is a personal Russian
/// phone number.
pub fn is_valid_value(value: &str) -> bool {
    super::whole_value_is(value, FieldClass::Phone)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: [&str; 12] = [
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
    ];

    const INVALID: [&str; 14] = [
        "+7 (912) 345-67-8",
        "+8 912 345 67 89",
        "345-67-89",
        "+7 (712) 345-67-89",
        "+7 (012) 345-67-89",
        "+44 20 7946 0958",
        "8912345678",
        "+7 912 345 67 89 0",
        "+7 912 345 67 8A",
        "9123456789",
        "8 800 555-35-35",
        "8-800-555-35-35",
        "+7 800 555 35 35",
        "189123456789",
    ];

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
