//! Keyed pseudonyms: `psn_` + base32 of a truncated HMAC-SHA256.
//!
//! The same input under the same key always gives the same token, so
//! analytics can join on it; without the key the token cannot be reversed
//! or recomputed from a guessed value.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::PseudonymKey;

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
/// 15 bytes of the MAC: 120 bits, 24 base32 characters.
const TOKEN_BYTES: usize = 15;

/// The pseudonym of `value` in `domain` (a field class name, or "subject"
/// for audit subjects), appended to `out`.
pub fn pseudonym_into(key: &PseudonymKey, domain: &str, value: &[u8], out: &mut Vec<u8>) {
    let mut mac = key.mac().clone();
    mac.update(domain.as_bytes());
    mac.update(&[0]);
    mac.update(value);
    let tag = mac.finalize().into_bytes();
    out.extend_from_slice(b"psn_");
    base32_into(&tag[..TOKEN_BYTES], out);
}

/// The pseudonym as a `String`.
pub fn pseudonym(key: &PseudonymKey, domain: &str, value: &[u8]) -> String {
    let mut out = Vec::with_capacity(4 + TOKEN_BYTES * 8 / 5);
    pseudonym_into(key, domain, value, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// HMAC-SHA256 with its key absorbed.
pub(crate) type KeyedMac = Hmac<Sha256>;

pub(crate) fn keyed(key: &[u8]) -> KeyedMac {
    <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable_key())
}

// HMAC accepts keys of any length, so this cannot happen.
fn unreachable_key() -> Hmac<Sha256> {
    panic!("HMAC-SHA256 rejected a key, which it never does")
}

fn base32_into(bytes: &[u8], out: &mut Vec<u8>) {
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize]);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_per_key_and_domain() {
        let k1 = PseudonymKey::new(b"key one");
        let k2 = PseudonymKey::new(b"key two");
        let a = pseudonym(&k1, "snils", b"11223344595");
        assert_eq!(a, pseudonym(&k1, "snils", b"11223344595"));
        assert_ne!(a, pseudonym(&k2, "snils", b"11223344595"));
        assert_ne!(a, pseudonym(&k1, "inn", b"11223344595"));
        assert!(a.starts_with("psn_"));
        assert_eq!(a.len(), 4 + 24);
        assert!(a[4..].bytes().all(|b| ALPHABET.contains(&b)));
    }

    #[test]
    fn cloned_keyed_state_matches_a_fresh_hmac() {
        let key = PseudonymKey::new(b"a key of some length");
        for value in [&b""[..], b"10234", &[b'x'; 200]] {
            let mut fresh = <Hmac<Sha256> as KeyInit>::new_from_slice(b"a key of some length")
                .unwrap_or_else(|_| unreachable_key());
            fresh.update(b"subject\0");
            fresh.update(value);
            let mut want = b"psn_".to_vec();
            base32_into(&fresh.finalize().into_bytes()[..TOKEN_BYTES], &mut want);
            assert_eq!(pseudonym(&key, "subject", value).as_bytes(), &want[..]);
        }
    }

    #[test]
    fn base32_known_vector() {
        // RFC 4648 test vector "foobar" -> MZXW6YTBOI (lowercase, no padding).
        let mut out = Vec::new();
        base32_into(b"foobar", &mut out);
        assert_eq!(out, b"mzxw6ytboi");
    }
}
