//! ОМС: the unified policy number (ЕНП), 16 digits, plain or in groups of
//! four. The 16th digit is the FFOMS check digit (the ISO/HL7 27931 Mod10
//! procedure), which is arithmetically the Luhn digit: a valid card number is
//! a valid ENP too, and the detector tells them apart by context (see
//! [`super::card::classify16`]).

use crate::class::FieldClass;

/// The FFOMS check digit for a 15-digit payload (ASCII digits), computed as
/// the procedure states it: the digits in odd positions from the right form a
/// number that is doubled, the digits in even positions are written before
/// it, all digits of the result are summed and the check digit brings the sum
/// up to a multiple of ten.
pub fn enp_check_digit(payload: &[u8; 15]) -> u8 {
    let mut odd: u64 = 0;
    let mut even_sum: u32 = 0;
    // From the left, odd positions from the right are indices 14, 12, .., 0.
    for (i, d) in payload.iter().enumerate() {
        let v = d - b'0';
        if (14 - i) % 2 == 0 {
            odd = odd * 10 + u64::from(v);
        } else {
            even_sum += u32::from(v);
        }
    }
    let mut doubled = odd * 2;
    let mut sum = even_sum;
    while doubled > 0 {
        // Digit sums fit in u32: at most 17 digits of 9.
        sum += (doubled % 10) as u32;
        doubled /= 10;
    }
    ((10 - sum % 10) % 10) as u8
}

/// True when `digits` is 16 ASCII digits whose last digit is the FFOMS check
/// digit of the first 15.
pub fn is_valid_enp(digits: &[u8]) -> bool {
    let Ok(all) = <&[u8; 16]>::try_from(digits) else {
        return false;
    };
    if !all.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut payload = [0u8; 15];
    payload.copy_from_slice(&all[..15]);
    enp_check_digit(&payload) == all[15] - b'0'
}

/// Whether a whole value (surrounding spaces ignored) is a valid ENP, plain
/// or grouped in fours.
pub fn is_valid_value(value: &str) -> bool {
    super::whole_value_is(value, FieldClass::OmsPolicy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::card::luhn;

    const VALID: [&str; 10] = [
        "8451999122899990",
        "5598718357093420",
        "8451 9991 2289 9990",
        "6650000000000000",
        "7700000000000008",
        "0000000000000000",
        "6612345678901238",
        "5987654321098766",
        "4111111111111111",
        "2200000000000004",
    ];

    const INVALID: [&str; 10] = [
        "1234567898765432",
        "8451999122899991",
        "5598718357093421",
        "845199912289999",
        "84519991228999900",
        "8451-9991-2289-999O",
        "6650000000000009",
        "7700000000000000",
        "6612345678901230",
        "845199912 2899990",
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
    fn worked_example() {
        assert_eq!(enp_check_digit(b"845199912289999"), 0);
    }

    proptest::proptest! {
        #[test]
        fn ffoms_equals_luhn(n in 0u64..10_000_000_000_000_000) {
            let s = format!("{n:016}");
            proptest::prop_assert_eq!(is_valid_enp(s.as_bytes()), luhn(s.as_bytes()));
        }
    }
}
