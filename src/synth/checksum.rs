//! Checksums of the Russian identifiers the generator writes, and validators
//! over their written forms. The generator builds every identifier with the
//! check functions here; `tests/synth.rs` checks these validators against the
//! reference test vectors and checks the generated values with validators of
//! its own.

/// The SNILS check number (0..=99) of a 9-digit body.
pub fn snils_check(body: &[u8; 9]) -> u8 {
    let sum: u32 = body
        .iter()
        .zip((1..=9u32).rev())
        .map(|(d, w)| u32::from(*d) * w)
        .sum();
    // Below 100 the sum is the check number; 100 and 101 give 00; above,
    // the remainder mod 101, where a remainder of 100 also gives 00.
    let r = if sum < 100 { sum } else { sum % 101 };
    if r >= 100 { 0 } else { r as u8 }
}

/// The Luhn (= FFOMS mod 10 for the ENP) check digit for `payload`, the
/// number without its last digit.
pub fn luhn_digit(payload: &[u8]) -> u8 {
    let sum: u32 = payload
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(*d);
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

const INN_W10: [u32; 9] = [2, 4, 10, 3, 5, 9, 4, 6, 8];
const INN_W11: [u32; 10] = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
const INN_W12: [u32; 11] = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8];

fn weighted(weights: &[u32], digits: &[u8]) -> u8 {
    let s: u32 = weights
        .iter()
        .zip(digits)
        .map(|(w, d)| w * u32::from(*d))
        .sum();
    (s % 11 % 10) as u8
}

/// The two check digits of a personal INN, from its first 10 digits.
pub fn inn12_checks(first10: &[u8]) -> (u8, u8) {
    let c1 = weighted(&INN_W11, first10);
    let mut eleven = first10.to_vec();
    eleven.push(c1);
    (c1, weighted(&INN_W12, &eleven))
}

/// The check digit of an organisation's 10-digit INN, from its first 9.
pub fn inn10_check(first9: &[u8]) -> u8 {
    weighted(&INN_W10, first9)
}

/// The check digit of a 13-digit OGRN, from its first 12 digits.
pub fn ogrn_check(first12: &[u8]) -> u8 {
    let r = first12
        .iter()
        .fold(0u64, |acc, d| (acc * 10 + u64::from(*d)) % 11);
    (r % 10) as u8
}

/// Digits of an all-ASCII-digit string, or None.
pub(crate) fn plain_digits(s: &str) -> Option<Vec<u8>> {
    s.bytes()
        .map(|b| b.is_ascii_digit().then(|| b - b'0'))
        .collect()
}

/// Digits of `s` if it is plain digits of length `sum(groups)` or those groups
/// joined by one separator from `seps`, used consistently.
fn grouped_digits(s: &str, groups: &[usize], seps: &[u8]) -> Option<Vec<u8>> {
    let total: usize = groups.iter().sum();
    if s.len() == total {
        return plain_digits(s);
    }
    if s.len() != total + groups.len() - 1 {
        return None;
    }
    let bytes = s.as_bytes();
    let sep = bytes[groups[0]];
    if !seps.contains(&sep) {
        return None;
    }
    let mut out = Vec::with_capacity(total);
    let mut at = 0;
    for (i, g) in groups.iter().enumerate() {
        if i > 0 {
            if bytes[at] != sep {
                return None;
            }
            at += 1;
        }
        out.extend(plain_digits(s.get(at..at + g)?)?);
        at += g;
    }
    Some(out)
}

/// SNILS as `XXX-XXX-XXX YY`, `XXX-XXX-XXX-YY`, `XXX XXX XXX YY` or 11 digits.
pub fn snils_valid(s: &str) -> bool {
    let digits = if s.len() == 14 {
        let b = s.as_bytes();
        let sep = b[3];
        if !(sep == b'-' || sep == b' ') || b[7] != sep || !(b[11] == b'-' || b[11] == b' ') {
            return false;
        }
        let joined: String = [&s[0..3], &s[4..7], &s[8..11], &s[12..14]].concat();
        plain_digits(&joined)
    } else if s.len() == 11 {
        plain_digits(s)
    } else {
        None
    };
    let Some(d) = digits else { return false };
    let body: [u8; 9] = match d[..9].try_into() {
        Ok(b) => b,
        Err(_) => return false,
    };
    let number = body.iter().fold(0u32, |a, x| a * 10 + u32::from(*x));
    // Numbers up to 001-001-998 were issued before the check was introduced.
    number <= 1_001_998 || snils_check(&body) == d[9] * 10 + d[10]
}

fn luhn_ok(d: &[u8]) -> bool {
    match d.split_last() {
        Some((last, payload)) => luhn_digit(payload) == *last,
        None => false,
    }
}

/// A 16-digit OMS policy number (ENP), plain or grouped 4-4-4-4.
pub fn enp_valid(s: &str) -> bool {
    grouped_digits(s, &[4, 4, 4, 4], b" -").is_some_and(|d| luhn_ok(&d))
}

/// A 16-digit Mir, Visa or Mastercard number with a valid Luhn digit, plain
/// or grouped 4-4-4-4.
pub fn card_valid(s: &str) -> bool {
    let Some(d) = grouped_digits(s, &[4, 4, 4, 4], b" -") else {
        return false;
    };
    let p4 = d[..4].iter().fold(0u32, |a, x| a * 10 + u32::from(*x));
    let brand = (2200..=2204).contains(&p4)
        || d[0] == 4
        || (5100..=5599).contains(&p4)
        || (2221..=2720).contains(&p4);
    brand && luhn_ok(&d)
}

/// A personal (12-digit) INN.
pub fn inn12_valid(s: &str) -> bool {
    match plain_digits(s) {
        Some(d) if d.len() == 12 => inn12_checks(&d[..10]) == (d[10], d[11]),
        _ => false,
    }
}

/// An organisation's (10-digit) INN.
pub fn inn10_valid(s: &str) -> bool {
    match plain_digits(s) {
        Some(d) if d.len() == 10 => inn10_check(&d[..9]) == d[9],
        _ => false,
    }
}

/// A 13-digit OGRN of a legal entity.
pub fn ogrn_valid(s: &str) -> bool {
    match plain_digits(s) {
        Some(d) if d.len() == 13 && d[0] != 0 => ogrn_check(&d[..12]) == d[12],
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert!(snils_valid("112-233-445 95"));
        assert!(!snils_valid("112-233-445 96"));
        assert!(enp_valid("8451 9991 2289 9990"));
        assert!(card_valid("4111111111111111"));
        assert!(!card_valid("6011000990139424"));
        assert!(inn12_valid("500100732259"));
        assert!(inn10_valid("7707083893"));
        assert!(ogrn_valid("1027700132195"));
    }
}
