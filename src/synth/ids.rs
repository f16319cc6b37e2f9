//! Identifier values (always checksum-valid) and decoy values (numbers that
//! look like identifiers but must not be taken for personal data).

use super::checksum::{
    inn10_check, inn12_checks, luhn_digit, ogrn_check, plain_digits, snils_check, snils_valid,
};
use super::rng::Rng;

fn to_string(d: &[u8]) -> String {
    d.iter().map(|x| char::from(b'0' + x)).collect()
}

fn random_digits(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n).map(|_| rng.digit()).collect()
}

fn snils_sum(body: &[u8]) -> u32 {
    body.iter()
        .zip((1..=9u32).rev())
        .map(|(d, w)| u32::from(*d) * w)
        .sum()
}

/// 11 digits of a checksum-valid SNILS above the unchecked range. About one
/// in eight is steered to the edge cases (sum 100 or 101, remainder 100).
pub(crate) fn snils(rng: &mut Rng) -> String {
    let edge = rng.chance(12);
    let mut body = [0u8; 9];
    for _ in 0..400 {
        for d in body.iter_mut() {
            *d = rng.digit();
        }
        let number = body.iter().fold(0u32, |a, x| a * 10 + u32::from(*x));
        if number <= 1_001_998 {
            continue;
        }
        let s = snils_sum(&body);
        if !edge || s == 100 || s == 101 || s % 101 == 100 {
            break;
        }
    }
    let c = snils_check(&body);
    format!("{}{:02}", to_string(&body), c)
}

/// SNILS digits in one of the written forms.
pub(crate) fn snils_fmt(d: &str, form: u64) -> String {
    match form {
        0 => format!("{}-{}-{} {}", &d[0..3], &d[3..6], &d[6..9], &d[9..11]),
        1 => d.to_owned(),
        2 => format!("{}-{}-{}-{}", &d[0..3], &d[3..6], &d[6..9], &d[9..11]),
        _ => format!("{} {} {} {}", &d[0..3], &d[3..6], &d[6..9], &d[9..11]),
    }
}

/// A 16-digit ENP: region code, 13 digits, the FFOMS (Luhn) check digit.
pub(crate) fn enp(rng: &mut Rng, region: &str) -> String {
    let mut d = plain_digits(region).unwrap_or_default();
    d.extend(random_digits(rng, 15 - d.len()));
    let c = luhn_digit(&d);
    d.push(c);
    to_string(&d)
}

pub(crate) fn group4(d: &str) -> String {
    format!("{} {} {} {}", &d[0..4], &d[4..8], &d[8..12], &d[12..16])
}

/// A 12-digit personal INN: region, tax office, record number, two checks.
pub(crate) fn inn12(rng: &mut Rng, region: &str) -> String {
    let mut d = plain_digits(region).unwrap_or_default();
    d.extend([rng.range(0, 10) as u8, rng.range(1, 10) as u8]);
    d.extend(random_digits(rng, 10 - d.len()));
    let (c1, c2) = inn12_checks(&d);
    d.extend([c1, c2]);
    to_string(&d)
}

/// An organisation's 10-digit INN (valid; not personal data).
pub(crate) fn inn10(rng: &mut Rng, region: &str) -> String {
    let mut d = plain_digits(region).unwrap_or_default();
    d.extend([rng.range(0, 10) as u8, rng.range(1, 10) as u8]);
    d.extend(random_digits(rng, 9 - d.len()));
    let c = inn10_check(&d);
    d.push(c);
    to_string(&d)
}

/// An organisation's 13-digit OGRN (valid; not personal data).
pub(crate) fn ogrn(rng: &mut Rng, region: &str) -> String {
    let mut d = vec![1, 0, rng.range(2, 10) as u8];
    d.extend(plain_digits(region).unwrap_or_default());
    d.extend(random_digits(rng, 12 - d.len()));
    let c = ogrn_check(&d);
    d.push(c);
    to_string(&d)
}

/// A 16-digit Mir, Visa or Mastercard number with a valid Luhn digit.
pub(crate) fn card(rng: &mut Rng) -> String {
    let mut d: Vec<u8> = match rng.below(10) {
        0..=5 => vec![2, 2, 0, rng.below(5) as u8],
        6..=7 => vec![4],
        _ => vec![5, rng.range(1, 6) as u8],
    };
    d.extend(random_digits(rng, 15 - d.len()));
    let c = luhn_digit(&d);
    d.push(c);
    to_string(&d)
}

/// A 15-digit IMEI (8-digit TAC, serial, Luhn digit).
pub(crate) fn imei(rng: &mut Rng) -> String {
    let mut d = vec![3, 5];
    d.extend(random_digits(rng, 12));
    let c = luhn_digit(&d);
    d.push(c);
    to_string(&d)
}

const HEX: &[u8] = b"0123456789abcdef";

/// A version-4 UUID whose groups are never all digits and hold no run of
/// more than 6 digits, so nothing inside it looks like an identifier.
pub(crate) fn uuid(rng: &mut Rng) -> String {
    loop {
        let mut h = rng.chars(HEX, 32).into_bytes();
        h[12] = b'4';
        h[16] = *rng.pick(b"89ab");
        let s = format!(
            "{}-{}-{}-{}-{}",
            String::from_utf8_lossy(&h[0..8]),
            String::from_utf8_lossy(&h[8..12]),
            String::from_utf8_lossy(&h[12..16]),
            String::from_utf8_lossy(&h[16..20]),
            String::from_utf8_lossy(&h[20..32])
        );
        let all_digit_group = s.split('-').any(|g| g.bytes().all(|b| b.is_ascii_digit()));
        if !all_digit_group && longest_digit_run(&s) <= 6 {
            return s;
        }
    }
}

pub(crate) fn longest_digit_run(s: &str) -> usize {
    s.split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0)
}

/// A 16-hex-digit Android id with at least one letter.
pub(crate) fn android_id(rng: &mut Rng) -> String {
    loop {
        let s = rng.chars(HEX, 16);
        if longest_digit_run(&s) < 9 {
            return s;
        }
    }
}

fn luhn_fails(d: &[u8]) -> bool {
    d.split_last().is_some_and(|(l, p)| luhn_digit(p) != *l)
}

fn snils_fails(d: &[u8]) -> bool {
    d.len() != 11 || !snils_valid(&to_string(d))
}

/// 11 digits that fail the SNILS checksum (and lie above the unchecked range).
pub(crate) fn bad_snils(rng: &mut Rng) -> String {
    loop {
        let mut d = vec![rng.range(1, 10) as u8];
        d.extend(random_digits(rng, 10));
        if snils_fails(&d) {
            return to_string(&d);
        }
    }
}

/// `YYYY-NNNNNNN`: a referral number whose 11 digits DO pass the SNILS
/// checksum; only the 4-7 grouping says it is not one.
pub(crate) fn referral(rng: &mut Rng) -> String {
    let mut body = [2, 0, 2, rng.range(1, 6) as u8, 0, 0, 0, 0, 0];
    for d in &mut body[4..] {
        *d = rng.digit();
    }
    let d = format!("{}{:02}", to_string(&body), snils_check(&body));
    format!("{}-{}", &d[..4], &d[4..])
}

/// 16 digits that fail Luhn (a payment transaction id).
pub(crate) fn bad_luhn16(rng: &mut Rng) -> String {
    loop {
        let mut d = vec![rng.range(1, 10) as u8];
        d.extend(random_digits(rng, 15));
        if luhn_fails(&d) {
            return to_string(&d);
        }
    }
}

/// 12 digits that fail the personal-INN checks (a registry number).
pub(crate) fn bad_inn12(rng: &mut Rng) -> String {
    loop {
        let mut d = vec![rng.range(1, 10) as u8];
        d.extend(random_digits(rng, 11));
        if inn12_checks(&d[..10]) != (d[10], d[11]) {
            return to_string(&d);
        }
    }
}

/// A toll-free `8 800` number; its 11 digits never pass the SNILS check, so a
/// plain form cannot be taken for one either.
pub(crate) fn tollfree(rng: &mut Rng) -> String {
    loop {
        let n = rng.digits(7);
        let d: Vec<u8> = format!("8800{n}").bytes().map(|b| b - b'0').collect();
        if !snils_fails(&d) || !luhn_fails(&d) {
            continue;
        }
        return match rng.below(4) {
            0 => format!("8 800 {}-{}-{}", &n[0..3], &n[3..5], &n[5..7]),
            1 => format!("8-800-{}-{}-{}", &n[0..3], &n[3..5], &n[5..7]),
            2 => format!("8 (800) {}-{}-{}", &n[0..3], &n[3..5], &n[5..7]),
            _ => format!("8800{n}"),
        };
    }
}

/// An order number in an MIS's own pattern.
pub(crate) fn order_number(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => format!("ЗП-{}-{}", rng.range(2023, 2027), rng.digits(7)),
        1 => format!("{}/{:05}", rng.range(2023, 2027), rng.below(100_000)),
        2 => format!("№{}-{}", rng.range(100, 999), rng.digits(6)),
        _ => format!("ORD-{}", rng.digits(8)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::checksum::*;
    use super::*;

    #[test]
    fn generated_values_pass_and_decoys_fail() {
        let mut rng = Rng::new(1, 99, 0);
        for _ in 0..500 {
            assert!(snils_valid(&snils(&mut rng)));
            assert!(enp_valid(&enp(&mut rng, "66")));
            assert!(inn12_valid(&inn12(&mut rng, "77")));
            assert!(inn10_valid(&inn10(&mut rng, "77")));
            assert!(ogrn_valid(&ogrn(&mut rng, "77")));
            assert!(card_valid(&card(&mut rng)));
            assert!(!snils_valid(&bad_snils(&mut rng)));
            assert!(snils_valid(&referral(&mut rng).replace('-', "")));
            assert!(!enp_valid(&bad_luhn16(&mut rng)));
            assert!(!inn12_valid(&bad_inn12(&mut rng)));
        }
    }
}
