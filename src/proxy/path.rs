//! Path normalization: one canonical form before any rule is matched.
//!
//! A path is routed only in the form the upstream will see, so an encoding
//! trick cannot route a request past a rule:
//! - percent-encoded unreserved characters are decoded (`%70` is `p`), other
//!   escapes are kept with upper-case hex;
//! - empty segments (`//`) collapse, `.` segments go, `..` removes the
//!   segment before it;
//! - ambiguous forms are rejected: an encoded slash or backslash, an encoded
//!   dot segment (`%2E%2E`), `..` above the root, NUL, a raw backslash,
//!   invalid percent-encoding.

/// Why a path was rejected (always `400 bad_path`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("the path is not absolute")]
    NotAbsolute,
    #[error("invalid percent-encoding")]
    BadEscape,
    #[error("an encoded slash or backslash")]
    EncodedSeparator,
    #[error("an encoded dot segment")]
    EncodedDot,
    #[error("a dot segment above the root")]
    AboveRoot,
    #[error("a NUL or control byte")]
    Control,
    #[error("a backslash")]
    Backslash,
}

/// A normalized path: the string forwarded upstream and its segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalPath {
    path: String,
    /// Byte ranges of the segments in `path`, without empty ones.
    segments: Vec<(usize, usize)>,
}

impl NormalPath {
    pub fn as_str(&self) -> &str {
        &self.path
    }

    pub fn segments(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.segments.iter().map(|&(a, b)| &self.path[a..b])
    }

    pub fn segment(&self, i: usize) -> Option<&str> {
        self.segments.get(i).map(|&(a, b)| &self.path[a..b])
    }

    pub fn len(&self) -> usize {
        self.segments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Normalizes one raw segment into `out`; returns whether it held an
/// encoded dot.
fn segment_into(raw: &[u8], out: &mut String) -> Result<bool, PathError> {
    let mut encoded_dot = false;
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        match b {
            b'%' => {
                let hi = raw.get(i + 1).copied().and_then(hex);
                let lo = raw.get(i + 2).copied().and_then(hex);
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(PathError::BadEscape);
                };
                let d = hi << 4 | lo;
                match d {
                    b'/' | b'\\' => return Err(PathError::EncodedSeparator),
                    0..=0x1f | 0x7f => return Err(PathError::Control),
                    b'.' => {
                        encoded_dot = true;
                        out.push('.');
                    }
                    d if is_unreserved(d) => out.push(char::from(d)),
                    d => {
                        const HEX: &[u8; 16] = b"0123456789ABCDEF";
                        out.push('%');
                        out.push(char::from(HEX[usize::from(d >> 4)]));
                        out.push(char::from(HEX[usize::from(d & 15)]));
                    }
                }
                i += 3;
                continue;
            }
            b'\\' => return Err(PathError::Backslash),
            0..=0x1f | 0x7f => return Err(PathError::Control),
            // A valid URI path holds only ASCII; anything else was rejected
            // by the HTTP parser, so a byte-to-char push is exact here.
            b => {
                out.push(char::from(b));
            }
        }
        i += 1;
    }
    Ok(encoded_dot)
}

/// Normalizes a raw request path (without the query).
pub fn normalize(raw: &str) -> Result<NormalPath, PathError> {
    let bytes = raw.as_bytes();
    if bytes.first() != Some(&b'/') {
        return Err(PathError::NotAbsolute);
    }
    if !raw.is_ascii() {
        return Err(PathError::BadEscape);
    }
    let trailing_slash = bytes.len() > 1 && bytes.ends_with(b"/");
    let mut path = String::with_capacity(raw.len());
    let mut segments: Vec<(usize, usize)> = Vec::new();
    let mut seg = String::new();
    for raw_seg in bytes[1..].split(|&b| b == b'/') {
        seg.clear();
        let encoded_dot = segment_into(raw_seg, &mut seg)?;
        match seg.as_str() {
            "" => {}
            "." | ".." if encoded_dot => return Err(PathError::EncodedDot),
            "." => {}
            ".." => {
                let Some((start, _)) = segments.pop() else {
                    return Err(PathError::AboveRoot);
                };
                // Drop the segment and its leading slash.
                path.truncate(start - 1);
            }
            s => {
                path.push('/');
                let start = path.len();
                path.push_str(s);
                segments.push((start, path.len()));
            }
        }
    }
    if path.is_empty() || trailing_slash {
        path.push('/');
    }
    Ok(NormalPath { path, segments })
}

/// Fully percent-decodes a normalized segment or a query value into UTF-8,
/// for subject ids. `plus_is_space` for query strings.
pub fn decode_component(s: &str, plus_is_space: bool) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hi = b.get(i + 1).copied().and_then(hex)?;
                let lo = b.get(i + 2).copied().and_then(hex)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    let s = String::from_utf8(out).ok()?;
    if s.chars().any(char::is_control) {
        return None;
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(p: &str) -> Result<String, PathError> {
        normalize(p).map(|p| p.as_str().to_owned())
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(n("/api/patients/1").as_deref(), Ok("/api/patients/1"));
        assert_eq!(n("/api/%70atients/1").as_deref(), Ok("/api/patients/1"));
        assert_eq!(n("/api//patients/1").as_deref(), Ok("/api/patients/1"));
        assert_eq!(n("/api/./patients/1").as_deref(), Ok("/api/patients/1"));
        assert_eq!(n("/api/x/../patients/1").as_deref(), Ok("/api/patients/1"));
        assert_eq!(n("/api/patients/1/").as_deref(), Ok("/api/patients/1/"));
        assert_eq!(n("/").as_deref(), Ok("/"));
        assert_eq!(n("//").as_deref(), Ok("/"));
        assert_eq!(n("/a/..").as_deref(), Ok("/"));
        assert_eq!(n("/q/a%20b%c3%a9").as_deref(), Ok("/q/a%20b%C3%A9"));
        let p = normalize("/api//patients/1/").unwrap();
        assert_eq!(p.segments().collect::<Vec<_>>(), ["api", "patients", "1"]);
    }

    #[test]
    fn ambiguous_forms_are_rejected() {
        assert_eq!(n("/api/patients%2F1"), Err(PathError::EncodedSeparator));
        assert_eq!(n("/api/patients%2f1"), Err(PathError::EncodedSeparator));
        assert_eq!(n("/api%5Cpatients"), Err(PathError::EncodedSeparator));
        assert_eq!(n("/api/%2E%2E/x"), Err(PathError::EncodedDot));
        assert_eq!(n("/api/.%2e/x"), Err(PathError::EncodedDot));
        assert_eq!(n("/api/%2e/x"), Err(PathError::EncodedDot));
        assert_eq!(n("/../etc"), Err(PathError::AboveRoot));
        assert_eq!(n("/a/../../etc"), Err(PathError::AboveRoot));
        assert_eq!(n("/a%00b"), Err(PathError::Control));
        assert_eq!(n("/a%zz"), Err(PathError::BadEscape));
        assert_eq!(n("/a%4"), Err(PathError::BadEscape));
        assert_eq!(n("/a\\b"), Err(PathError::Backslash));
        assert_eq!(n("a/b"), Err(PathError::NotAbsolute));
        assert_eq!(n("*"), Err(PathError::NotAbsolute));
    }

    #[test]
    fn dots_inside_names_are_kept() {
        assert_eq!(n("/a/..b/c...").as_deref(), Ok("/a/..b/c..."));
        assert_eq!(n("/a/%2E%2Eb").as_deref(), Ok("/a/..b"));
    }

    #[test]
    fn components_decode() {
        assert_eq!(decode_component("a%20b", false).as_deref(), Some("a b"));
        assert_eq!(decode_component("a+b", true).as_deref(), Some("a b"));
        assert_eq!(decode_component("a+b", false).as_deref(), Some("a+b"));
        assert_eq!(decode_component("%ff", false), None);
        assert_eq!(decode_component("a%00", false), None);
    }
}
