//! `x-request-id`: the client's, when it is a plain token, or a new one.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use http::HeaderMap;
use sha2::{Digest, Sha256};

/// The request id of a request: its own if usable, else a new UUID-like id.
pub fn from_headers(h: &HeaderMap) -> String {
    if let Some(v) = h.get(super::X_REQUEST_ID).and_then(|v| v.to_str().ok())
        && valid(v)
    {
        return v.to_owned();
    }
    generate()
}

/// 1 to 128 characters of `[A-Za-z0-9._:-]`: safe in a header, a JSON
/// string and a log line without escaping.
pub fn valid(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

fn seed() -> &'static [u8; 32] {
    static SEED: OnceLock<[u8; 32]> = OnceLock::new();
    SEED.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        // Per-process randomness from the std hasher keys, the clock and
        // the pid; ids need to be unique, not secret.
        let mut h = Sha256::new();
        for _ in 0..4 {
            let mut s = std::collections::hash_map::RandomState::new().build_hasher();
            s.write_u64(0);
            h.update(s.finish().to_le_bytes());
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        h.update(now.as_nanos().to_le_bytes());
        h.update(std::process::id().to_le_bytes());
        h.finalize().into()
    })
}

/// A new id in the UUID v4 layout.
///
/// The per-process seed keeps ids of different processes apart; within one
/// process, 64 of the id's bits are a bijection of a counter, so no two ids
/// repeat before 2^64 of them. Ids need to be unique, not secret: a hash
/// per id would cost more than the rest of this function.
pub fn generate() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let seed = seed();
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&seed[i * 8..i * 8 + 8]);
        u64::from_le_bytes(w)
    };
    let unique = mix(n ^ word(0)).to_le_bytes();
    let spread = mix(n.wrapping_add(word(1)) ^ word(2)).to_le_bytes();
    // The UUID version and variant bits fall in bytes 6 and 8: they take
    // from `spread`, and the eight bytes of `unique` stay whole.
    let mut b = [0u8; 16];
    b[..7].copy_from_slice(&spread[..7]);
    b[7] = unique[0];
    b[8] = spread[7];
    b[9..].copy_from_slice(&unique[1..]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::with_capacity(36);
    for (i, v) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            id.push('-');
        }
        id.push(char::from(HEX[usize::from(v >> 4)]));
        id.push(char::from(HEX[usize::from(v & 15)]));
    }
    id
}

/// The splitmix64 finalizer: a bijection on `u64` that spreads every input
/// bit over the output.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        for (i, c) in a.char_indices() {
            if matches!(i, 8 | 13 | 18 | 23) {
                assert_eq!(c, '-', "{a}");
            } else {
                assert!(c.is_ascii_hexdigit() && !c.is_ascii_uppercase(), "{a}");
            }
        }
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
        assert!(valid(&a));
        assert!(!valid("a b"));
        assert!(!valid("\"x\""));
        assert!(!valid(""));
        let mut h = HeaderMap::new();
        h.insert("x-request-id", "abc-123".parse().unwrap());
        assert_eq!(from_headers(&h), "abc-123");
        h.insert("x-request-id", "bad id".parse().unwrap());
        assert_ne!(from_headers(&h), "bad id");
    }

    #[test]
    fn a_run_of_ids_has_no_repeats() {
        let ids: std::collections::HashSet<String> = (0..100_000).map(|_| generate()).collect();
        assert_eq!(ids.len(), 100_000);
    }

    #[test]
    fn mix_is_a_bijection_on_small_inputs() {
        // Distinct inputs, distinct outputs: checked on a range, since the
        // finalizer's steps are each invertible.
        let out: std::collections::HashSet<u64> = (0..1u64 << 16).map(mix).collect();
        assert_eq!(out.len(), 1 << 16);
        assert_ne!(mix(0), mix(1));
    }
}
