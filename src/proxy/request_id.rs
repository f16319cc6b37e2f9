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
pub fn generate() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut h = Sha256::new();
    h.update(seed());
    h.update(n.to_le_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
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
}
