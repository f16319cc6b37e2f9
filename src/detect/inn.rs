//! ИНН: the 12-digit taxpayer number of a person, with two check digits
//! (weights 7,2,4,10,3,5,9,4,6,8 and 3,7,2,4,10,3,5,9,4,6,8, each sum mod 11
//! mod 10). The 10-digit INN and the 13-digit OGRN belong to organisations:
//! they are validated here but never reported as personal data.

use crate::class::FieldClass;

const W10: [u32; 9] = [2, 4, 10, 3, 5, 9, 4, 6, 8];
const W11: [u32; 10] = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
const W12: [u32; 11] = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8];

fn weighted(weights: &[u32], digits: &[u8]) -> u8 {
    let s: u32 = weights
        .iter()
        .zip(digits)
        .map(|(w, d)| w * u32::from(d - b'0'))
        .sum();
    (s % 11 % 10) as u8
}

fn all_digits(d: &[u8], len: usize) -> bool {
    d.len() == len && d.iter().all(u8::is_ascii_digit)
}

/// True for a 12-digit personal INN whose two check digits are right.
pub fn is_valid(digits: &[u8]) -> bool {
    all_digits(digits, 12)
        && weighted(&W11, &digits[..10]) == digits[10] - b'0'
        && weighted(&W12, &digits[..11]) == digits[11] - b'0'
}

/// True for a 10-digit INN of an organisation with a right check digit.
/// Not personal data: the detector does not report it.
pub fn is_valid_inn10(digits: &[u8]) -> bool {
    all_digits(digits, 10) && weighted(&W10, &digits[..9]) == digits[9] - b'0'
}

fn remainder(digits: &[u8], m: u64) -> u64 {
    digits
        .iter()
        .fold(0u64, |acc, d| (acc * 10 + u64::from(d - b'0')) % m)
}

/// True for a 13-digit OGRN of an organisation (first 12 digits mod 11 mod 10).
/// Not personal data: the detector does not report it.
pub fn is_valid_ogrn(digits: &[u8]) -> bool {
    all_digits(digits, 13)
        && digits[0] != b'0'
        && remainder(&digits[..12], 11) % 10 == u64::from(digits[12] - b'0')
}

/// True for a 15-digit OGRNIP (first 14 digits mod 13, last digit of the
/// remainder).
pub fn is_valid_ogrnip(digits: &[u8]) -> bool {
    all_digits(digits, 15)
        && digits[0] != b'0'
        && remainder(&digits[..14], 13) % 10 == u64::from(digits[14] - b'0')
}

/// Whether a whole value (surrounding spaces ignored) is a valid personal INN.
pub fn is_valid_value(value: &str) -> bool {
    super::whole_value_is(value, FieldClass::Inn)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID12: [&str; 10] = [
        "123456789047",
        "500100732259",
        "660000000005",
        "772000000054",
        "665912345616",
        "590123456718",
        "742345678941",
        "720987654352",
        "026123450050",
        "781000000108",
    ];

    const INVALID12: [&str; 11] = [
        "123456789037",
        "123456789048",
        "500100732258",
        "660000000018",
        "12345678904",
        "1234567890471",
        "12345678904A",
        "665912345670",
        "590123456700",
        "742345678900",
        "7707083893",
    ];

    #[test]
    fn valid_vectors() {
        for v in VALID12 {
            assert!(is_valid(v.as_bytes()), "{v}");
            assert!(is_valid_value(v), "{v}");
        }
    }

    #[test]
    fn invalid_vectors() {
        for v in INVALID12 {
            assert!(!is_valid_value(v), "{v}");
        }
    }

    #[test]
    fn organisation_numbers_validate_but_are_not_reported() {
        for v in [
            "1234567894",
            "7707083893",
            "7736050003",
            "7702070139",
            "0216755068",
        ] {
            assert!(is_valid_inn10(v.as_bytes()), "{v}");
            assert!(!is_valid_value(v), "{v}");
        }
        for v in ["1234567895", "7707083894", "6660000001"] {
            assert!(!is_valid_inn10(v.as_bytes()), "{v}");
        }
        for v in ["1022200525819", "1027700132195", "1037739010891"] {
            assert!(is_valid_ogrn(v.as_bytes()), "{v}");
            assert!(!is_valid_value(v), "{v}");
        }
        for v in ["1022500001328", "0022500001325", "1027700132196"] {
            assert!(!is_valid_ogrn(v.as_bytes()), "{v}");
        }
        assert!(is_valid_ogrnip(b"316665800000011"));
        assert!(!is_valid_ogrnip(b"316665800000012"));
    }
}
