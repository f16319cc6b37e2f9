//! Byte-level helpers the detectors share: word boundaries, Cyrillic letter
//! classes and the case-insensitive keyword look-behind that decides context.
//!
//! Everything here works on `&str` byte offsets that are char boundaries;
//! no allocation and no Unicode tables beyond the Cyrillic block.

/// True for a Cyrillic capital letter (А..Я, Ё).
pub(crate) fn is_cyr_upper(c: char) -> bool {
    matches!(c, 'А'..='Я' | 'Ё')
}

/// True for a Cyrillic small letter (а..я, ё).
pub(crate) fn is_cyr_lower(c: char) -> bool {
    matches!(c, 'а'..='я' | 'ё')
}

/// True for a letter that makes a word: ASCII letters and the Cyrillic block.
pub(crate) fn is_letter(c: char) -> bool {
    c.is_ascii_alphabetic() || ('\u{400}'..='\u{4FF}').contains(&c)
}

/// True for a character that glues to a digit run and makes it part of a
/// longer token (hex hashes, record ids, `ID_Pac_123`).
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_ascii_digit() || c == '_' || is_letter(c)
}

/// The char that ends just before byte offset `pos`.
pub(crate) fn char_before(text: &str, pos: usize) -> Option<char> {
    text.get(..pos)?.chars().next_back()
}

/// The char that starts at byte offset `pos`.
pub(crate) fn char_at(text: &str, pos: usize) -> Option<char> {
    text.get(pos..)?.chars().next()
}

/// The byte offset `n` chars before `pos` (or 0).
pub(crate) fn back_chars(text: &str, pos: usize, n: usize) -> usize {
    let bytes = text.as_bytes();
    let mut i = pos.min(bytes.len());
    let mut seen = 0;
    while i > 0 && seen < n {
        i -= 1;
        // Count a char at its first byte, i.e. at every non-continuation byte.
        if bytes[i] & 0xC0 != 0x80 {
            seen += 1;
        }
    }
    while i > 0 && bytes[i] & 0xC0 == 0x80 {
        i -= 1;
    }
    i
}

/// Largest window a keyword look-behind folds, in bytes.
const WINDOW_BYTES: usize = 192;

/// Lower-cases ASCII and Cyrillic capitals of `src` into `dst`, keeping every
/// byte offset (Cyrillic capitals and small letters are both two bytes).
/// Returns the number of bytes written.
pub(crate) fn fold_lower(src: &[u8], dst: &mut [u8]) -> usize {
    let n = src.len().min(dst.len());
    let mut i = 0;
    while i < n {
        let b = src[i];
        if b == 0xD0 && i + 1 < n {
            let c = src[i + 1];
            let (x, y) = match c {
                0x90..=0x9F => (0xD0, c + 0x20),
                0xA0..=0xAF => (0xD1, c - 0x20),
                0x81 => (0xD1, 0x91),
                _ => (0xD0, c),
            };
            dst[i] = x;
            dst[i + 1] = y;
            i += 2;
        } else {
            dst[i] = b.to_ascii_lowercase();
            i += 1;
        }
    }
    n
}

/// Lower-cased copy of the text just before a position, for keyword search.
pub(crate) struct LookBehind {
    buf: [u8; WINDOW_BYTES],
    len: usize,
}

impl LookBehind {
    /// The last `chars` chars before `pos` (capped to the window size).
    pub(crate) fn new(text: &str, pos: usize, chars: usize) -> Self {
        let mut start = back_chars(text, pos, chars);
        while pos - start > WINDOW_BYTES {
            start += 1;
            while !text.is_char_boundary(start) {
                start += 1;
            }
        }
        let mut buf = [0u8; WINDOW_BYTES];
        let len = fold_lower(&text.as_bytes()[start..pos], &mut buf);
        LookBehind { buf, len }
    }

    fn hay(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The end offset (within the window) of the last occurrence of any of
    /// `keywords` (given in lower case) that starts a word, or `None`.
    pub(crate) fn last(&self, keywords: &[&str]) -> Option<usize> {
        let hay = self.hay();
        keywords
            .iter()
            .filter_map(|k| {
                memchr::memmem::rfind_iter(hay, k.as_bytes())
                    .find(|&p| !letter_ends_at(hay, p))
                    .map(|p| p + k.len())
            })
            .max()
    }

    pub(crate) fn contains(&self, keywords: &[&str]) -> bool {
        self.last(keywords).is_some()
    }
}

/// Whether the bytes just before `p` end a letter (ASCII or Cyrillic).
fn letter_ends_at(hay: &[u8], p: usize) -> bool {
    match p.checked_sub(1).map(|i| hay[i]) {
        None => false,
        Some(b) if b.is_ascii_alphabetic() => true,
        Some(b) if b & 0xC0 == 0x80 => p >= 2 && matches!(hay[p - 2], 0xD0 | 0xD1),
        Some(_) => false,
    }
}

/// True when the text at `pos` starts with `word` (given in lower case),
/// ignoring the case of ASCII and Cyrillic letters.
pub(crate) fn starts_with_folded(text: &str, pos: usize, word: &str) -> bool {
    let Some(src) = text.as_bytes().get(pos..pos + word.len()) else {
        return false;
    };
    let mut buf = [0u8; 64];
    if word.len() > buf.len() {
        return false;
    }
    let n = fold_lower(src, &mut buf);
    &buf[..n] == word.as_bytes()
}

/// Skips ASCII spaces and no-break spaces from `pos`.
pub(crate) fn skip_spaces(text: &str, mut pos: usize) -> usize {
    let b = text.as_bytes();
    loop {
        match b.get(pos) {
            Some(b' ') | Some(b'\t') => pos += 1,
            Some(0xC2) if b.get(pos + 1) == Some(&0xA0) => pos += 2,
            _ => return pos,
        }
    }
}

/// End of the run of letters (and inner hyphens) that starts at `pos`.
pub(crate) fn word_end(text: &str, pos: usize) -> usize {
    let mut end = pos;
    let mut it = text[pos..].char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if is_letter(c) {
            end = pos + i + c.len_utf8();
        } else if c == '-' {
            match it.peek() {
                Some((_, n)) if is_letter(*n) => {}
                _ => break,
            }
        } else {
            break;
        }
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_keeps_offsets() {
        let s = "ПАСПОРТ Ёж AbC";
        let mut buf = [0u8; 64];
        let n = fold_lower(s.as_bytes(), &mut buf);
        assert_eq!(std::str::from_utf8(&buf[..n]).unwrap(), "паспорт ёж abc");
    }

    #[test]
    fn look_behind_finds_last_keyword() {
        let s = "Полис ОМС, а не карта: 1234";
        let lb = LookBehind::new(s, s.len() - 4, 40);
        let oms = lb.last(&["омс", "полис"]).unwrap();
        let card = lb.last(&["карт"]).unwrap();
        assert!(card > oms);
        assert!(!lb.contains(&["паспорт"]));
    }

    #[test]
    fn back_chars_counts_chars_not_bytes() {
        let s = "абв12";
        assert_eq!(back_chars(s, s.len(), 3), "аб".len());
        assert_eq!(back_chars(s, s.len(), 100), 0);
    }

    #[test]
    fn word_end_takes_inner_hyphens() {
        let s = "Петров-Водкин, ";
        assert_eq!(&s[..word_end(s, 0)], "Петров-Водкин");
        assert_eq!(word_end("тест- x", 0), "тест".len());
    }
}
