//! СНИЛС: 11 digits, `XXX-XXX-XXX YY`, `XXX XXX XXX YY`, `XXX-XXX-XXX-YY` or
//! plain. The last two digits check the first nine: the sum of digit × weight
//! (weights 9 down to 1) below 100 is the check number itself, 100 and 101
//! give 00, a larger sum is taken mod 101 and the same rule applies.
//!
//! Numbers up to 001-001-998 were issued before the checksum existed; nothing
//! can be checked for them, so they are not reported (a detector reports only
//! what passes its checksum).

use super::digits::{Cluster, Sep};

/// Largest number (first nine digits) that is issued without a check number.
const LAST_UNCHECKED: u32 = 1_001_998;

/// The check number for the first nine digits (ASCII).
pub fn check_number(body: &[u8; 9]) -> u32 {
    let sum: u32 = body
        .iter()
        .zip((1..=9u32).rev())
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let r = if sum > 101 { sum % 101 } else { sum };
    if r >= 100 { 0 } else { r }
}

/// True when `digits` is 11 ASCII digits, above 001-001-998, whose last two
/// digits are the check number of the first nine.
pub fn is_valid(digits: &[u8]) -> bool {
    let Ok(all) = <&[u8; 11]>::try_from(digits) else {
        return false;
    };
    if !all.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut body = [0u8; 9];
    body.copy_from_slice(&all[..9]);
    let number = body
        .iter()
        .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    if number <= LAST_UNCHECKED {
        return false;
    }
    let check = u32::from(all[9] - b'0') * 10 + u32::from(all[10] - b'0');
    check == check_number(&body)
}

/// Whether groups `gi..` of the cluster are written as a SNILS; returns the
/// index of its last group.
pub(crate) fn match_layout(c: &Cluster<'_>, gi: usize) -> Option<usize> {
    let g = c.groups();
    let first = g.get(gi)?;
    if first.len() == 11 {
        return Some(gi);
    }
    let [a, b, d, e] = g.get(gi..gi + 4)?.try_into().ok()?;
    let lens_ok = a.len() == 3 && b.len() == 3 && d.len() == 3 && e.len() == 2;
    let seps_ok = b.sep == d.sep
        && matches!(b.sep, Sep::Hyphen | Sep::Space)
        && matches!(e.sep, Sep::Hyphen | Sep::Space);
    (lens_ok && seps_ok).then_some(gi + 3)
}

/// Whether a whole value (surrounding spaces ignored) is a valid SNILS in one
/// of the accepted layouts.
pub fn is_valid_value(value: &str) -> bool {
    super::whole_value_is(value, super::FieldClass::Snils)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: [&str; 12] = [
        "112-233-445 95",
        "11223344595",
        "112-233-445-95",
        "112 233 445 95",
        "174-003-542 29",
        "13877203988",
        "01521621597",
        "123-456-789 64",
        "026-002-389 00",
        "030-214-884 00",
        "543-546-368 00",
        "001-001-999 65",
    ];

    const INVALID: [&str; 12] = [
        "112-233-445 96",
        "11223344594",
        "152-873-614 14",
        "001-001-999 00",
        "026-002-389 01",
        "543-546-368 99",
        "123-456-789 65",
        "112-233-445 9",
        "112-233-445 955",
        "112/233/445 95",
        "2021-6085910",
        "001-001-998 47",
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
    fn check_number_cases() {
        assert_eq!(check_number(b"112233445"), 95);
        assert_eq!(check_number(b"026002389"), 0); // S = 100
        assert_eq!(check_number(b"030214884"), 0); // S = 101
        assert_eq!(check_number(b"543546368"), 0); // S = 201 -> 100 -> 00
        assert_eq!(check_number(b"123456789"), 64); // S = 165 -> 64
    }

    #[test]
    fn unchecked_range_is_not_reported() {
        assert!(!is_valid(b"00100199800"));
        assert!(is_valid(b"00100199965"));
        assert!(!is_valid(b"1122334459"));
        assert!(!is_valid(b"1122334459A"));
    }
}
