//! Byte-level scanning for the JSON tokenizer: string ends (eight bytes at a
//! time), the number grammar, and UTF-8 validation across chunk boundaries.

use crate::redact::RedactError;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Where a string whose body starts at `i` ends.
pub enum StrEnd {
    /// Index just past the closing quote.
    End(usize),
    /// The string goes on past the end of the input.
    Incomplete,
    /// A raw control character (below 0x20) at this index: not JSON.
    Control(usize),
    /// An escape that JSON does not have (`\x`, `\u12`) at this index.
    BadEscape(usize),
}

/// Bytes that end a plain run of a string body: a quote, a backslash or a
/// control character, flagged by their high bit. Borrows can only flag
/// bytes above a real hit, so the lowest flag is exact.
#[inline(always)]
fn special(v: u64) -> u64 {
    let q = v ^ (ONES * u64::from(b'"'));
    let b = v ^ (ONES * u64::from(b'\\'));
    ((q.wrapping_sub(ONES) & !q) | (b.wrapping_sub(ONES) & !b) | (v.wrapping_sub(ONES * 0x20) & !v))
        & HIGH
}

#[inline(always)]
fn word(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[..8]);
    u64::from_le_bytes(w)
}

/// Finds the closing quote of a string whose body starts at `i`, skipping
/// escapes and rejecting raw control characters. Most keys and values of an
/// MIS document end within 16 bytes without an escape: that case is
/// inlined into the tokenizer, two words and no call; the rest goes on in
/// [`string_end_from`].
#[inline(always)]
pub fn string_end(inp: &[u8], i: usize) -> StrEnd {
    let Some(w) = inp.get(i..i + 16) else {
        return string_end_from(inp, i);
    };
    let m = special(word(w));
    let (m, at) = if m != 0 {
        (m, i)
    } else {
        (special(word(&w[8..])), i + 8)
    };
    if m == 0 {
        return string_end_from(inp, i + 16);
    }
    let j = at + (m.trailing_zeros() / 8) as usize;
    if inp[j] == b'"' {
        return StrEnd::End(j + 1);
    }
    string_end_from(inp, j)
}

/// [`string_end`] from `i` on, eight bytes at a time and then, for a long
/// string, a vectorised search.
#[inline(never)]
fn string_end_from(inp: &[u8], mut i: usize) -> StrEnd {
    let n = inp.len();
    let body = i;
    // Most MIS strings end within a few words: scan those eight bytes at a
    // time, checking control characters on the way.
    let mut words = 0;
    loop {
        while i + 8 <= n && words < 4 {
            let m = special(word(&inp[i..]));
            if m != 0 {
                i += (m.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
            words += 1;
        }
        if words >= 4 && i + 8 <= n {
            // A long string: let the vectorised search find its end, then
            // look for raw control characters in what it skipped.
            let Some(p) = memchr::memchr2(b'"', b'\\', &inp[i..]) else {
                return match control_byte(&inp[body..]) {
                    Some(c) => StrEnd::Control(body + c),
                    None => StrEnd::Incomplete,
                };
            };
            if let Some(c) = control_byte(&inp[i..i + p]) {
                return StrEnd::Control(i + c);
            }
            i += p;
        }
        if i >= n {
            return StrEnd::Incomplete;
        }
        match inp[i] {
            b'"' => return StrEnd::End(i + 1),
            b'\\' => match inp.get(i + 1) {
                None => return StrEnd::Incomplete,
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                Some(b'u') => match unicode_escape(inp, i) {
                    Esc::Ok(len) => i += len,
                    Esc::Incomplete => return StrEnd::Incomplete,
                    Esc::Bad => return StrEnd::BadEscape(i),
                },
                Some(_) => return StrEnd::BadEscape(i),
            },
            c if c < 0x20 => return StrEnd::Control(i),
            _ => i += 1,
        }
    }
}

/// The first raw control character (below 0x20) in a string's body, if
/// any: JSON has none there. 64 bytes at a time, which vectorises.
fn control_byte(body: &[u8]) -> Option<usize> {
    let any = body
        .chunks(64)
        .any(|c| c.iter().fold(false, |a, &b| a | (b < 0x20)));
    if !any {
        return None;
    }
    body.iter().position(|&b| b < 0x20)
}

enum Esc {
    Ok(usize),
    Incomplete,
    Bad,
}

/// A `\uXXXX` escape at `i`: a surrogate must come as a high-low pair.
fn unicode_escape(inp: &[u8], i: usize) -> Esc {
    let hex4 = |at: usize| -> Result<Option<u32>, ()> {
        let h = &inp[at.min(inp.len())..(at + 4).min(inp.len())];
        if !h.iter().all(u8::is_ascii_hexdigit) {
            return Err(());
        }
        if h.len() < 4 {
            return Ok(None);
        }
        Ok(Some(h.iter().fold(0, |a, &c| {
            a * 16 + (c as char).to_digit(16).unwrap_or(0)
        })))
    };
    let hi = match hex4(i + 2) {
        Err(()) => return Esc::Bad,
        Ok(None) => return Esc::Incomplete,
        Ok(Some(v)) => v,
    };
    match hi {
        0xDC00..=0xDFFF => Esc::Bad,
        0xD800..=0xDBFF => {
            match (inp.get(i + 6), inp.get(i + 7)) {
                (None, _) | (Some(b'\\'), None) => return Esc::Incomplete,
                (Some(b'\\'), Some(b'u')) => {}
                _ => return Esc::Bad,
            }
            match hex4(i + 8) {
                Ok(Some(0xDC00..=0xDFFF)) => Esc::Ok(12),
                Ok(None) => Esc::Incomplete,
                _ => Esc::Bad,
            }
        }
        _ => Esc::Ok(6),
    }
}

pub fn is_number_byte(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
}

/// RFC 8259 number grammar.
pub fn valid_number(t: &[u8]) -> bool {
    let digits = |t: &[u8], mut i: usize| {
        let s = i;
        while t.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i, i > s)
    };
    let mut i = usize::from(t.first() == Some(&b'-'));
    match t.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(t, i).0,
        _ => return false,
    }
    if t.get(i) == Some(&b'.') {
        let (j, any) = digits(t, i + 1);
        if !any {
            return false;
        }
        i = j;
    }
    if matches!(t.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(t.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let (j, any) = digits(t, i);
        if !any {
            return false;
        }
        i = j;
    }
    i == t.len()
}

/// How much of `chunk` ends on a character boundary: a character split
/// between chunks waits with the next chunk, so that every slice the
/// tokenizer sees is whole UTF-8 and is validated once. (Only a lead byte
/// near the end with too few bytes after it is cut off; anything invalid is
/// left for the validation to refuse.)
pub fn whole_chars(chunk: &[u8]) -> usize {
    let n = chunk.len();
    for back in 1..=n.min(4) {
        let b = chunk[n - back];
        if b & 0xC0 != 0x80 {
            let need = match b {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF7 => 4,
                _ => 1,
            };
            return if need > back { n - back } else { n };
        }
    }
    n
}

/// The error for input that is not UTF-8, at absolute offset `base`: the
/// offset of the first bad byte, or `Truncated` when the input stops inside
/// a character.
pub fn utf8_error(inp: &[u8], base: u64) -> RedactError {
    match std::str::from_utf8(inp) {
        Err(e) if e.error_len().is_none() => RedactError::Truncated,
        Err(e) => RedactError::InvalidUtf8(base + e.valid_up_to() as u64),
        Ok(_) => RedactError::InvalidUtf8(base),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(s: &[u8]) -> Option<usize> {
        match string_end(s, 1) {
            StrEnd::End(e) => Some(e),
            _ => None,
        }
    }

    #[test]
    fn string_ends_at_every_alignment() {
        // Past 32 bytes the vectorised path takes over: controls are
        // refused there too, every one of them.
        for pad in 0..80 {
            let body = "x".repeat(pad);
            let s = format!("\"{body}\\\"q\\\\\" tail");
            assert_eq!(end(s.as_bytes()), Some(pad + 7), "{s}");
            let open = format!("\"{body}\\");
            assert!(matches!(string_end(open.as_bytes(), 1), StrEnd::Incomplete));
            for c in ['\n', '\u{1}', '\u{1f}', '\t'] {
                let ctl = format!("\"{body}{c}{body}\"");
                assert!(
                    matches!(string_end(ctl.as_bytes(), 1), StrEnd::Control(p) if p == pad + 1),
                    "{ctl:?}"
                );
                let unclosed = format!("\"{body}{body}{c}{body}");
                assert!(
                    matches!(string_end(unclosed.as_bytes(), 1), StrEnd::Control(p) if p == 2 * pad + 1),
                    "{unclosed:?}"
                );
            }
        }
        // Non-ASCII bytes are not flagged.
        assert_eq!(end("\"Иванов Иван Иванович\"".as_bytes()), Some(40));
    }

    /// The fast path drops a removed string without decoding it, which is
    /// sound only if every string `string_end` accepts decodes.
    #[test]
    fn string_end_accepts_just_the_escapes_unescape_decodes() {
        let atoms = [
            "a",
            "\\\"",
            "\\\\",
            "\\/",
            "\\b",
            "\\f",
            "\\n",
            "\\r",
            "\\t",
            "\\x",
            "\\u0041",
            "\\u00e9",
            "\\u0000",
            "\\uD83D",
            "\\uDE00",
            "\\uDBFF",
            "\\uDC00",
            "\\uD83D\\uDE00",
            "\\u12",
            "\\uZZZZ",
            "\\u",
            "\\",
            "й",
        ];
        // A lone backslash is tried last only: before another atom it
        // would escape that atom's first byte instead.
        for a in atoms.iter().filter(|a| **a != "\\") {
            for b in atoms {
                let body = format!("{a}{b}");
                let quoted = format!("\"{body}\" ");
                let lexed = matches!(string_end(quoted.as_bytes(), 1), StrEnd::End(e) if e == quoted.len() - 1);
                let decoded =
                    crate::redact::value::unescape(body.as_bytes(), &mut String::new()).is_ok();
                assert_eq!(lexed, decoded, "{body}");
            }
        }
    }

    #[test]
    fn numbers() {
        for ok in ["0", "-0", "12", "1.5", "-1.5e10", "1E+2", "11223344595"] {
            assert!(valid_number(ok.as_bytes()), "{ok}");
        }
        for bad in ["01", "-", "1.", ".5", "1e", "+1", "1-2", "--1"] {
            assert!(!valid_number(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn chunks_are_cut_at_character_boundaries() {
        let s = "ab Иванов 😀 z".as_bytes();
        for cut in 0..=s.len() {
            let k = whole_chars(&s[..cut]);
            assert!(std::str::from_utf8(&s[..k]).is_ok(), "cut at {cut}");
            assert!(
                cut - k < 4,
                "cut at {cut}: at most a character's bytes wait"
            );
            assert_eq!(
                k == cut,
                std::str::from_utf8(&s[..cut]).is_ok(),
                "cut at {cut}"
            );
        }
        // Bytes that are no character's start are left to the validation.
        assert_eq!(whole_chars(b"ab\xff"), 3);
        assert_eq!(whole_chars(b"ab\x80\x80\x80\x80"), 6);
        assert_eq!(utf8_error(b"ab\xff", 10), RedactError::InvalidUtf8(12));
        assert_eq!(
            utf8_error("ab\u{416}".as_bytes().split_last().unwrap().1, 0),
            RedactError::Truncated
        );
    }
}
