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
    while i > 0 && bytes.get(i).is_some_and(|b| b & 0xC0 == 0x80) {
        i -= 1;
    }
    i
}

/// The first ASCII digit at or after `from`. Skips 16 bytes at a time with
/// a branch-free test the compiler vectorises.
pub(crate) fn next_digit(b: &[u8], mut from: usize) -> Option<usize> {
    while let Some(chunk) = b.get(from..from + 16) {
        let any = chunk
            .iter()
            .fold(0u8, |acc, &x| acc | u8::from(x.wrapping_sub(b'0') < 10));
        if any != 0 {
            break;
        }
        from += 16;
    }
    b.get(from..)?
        .iter()
        .position(u8::is_ascii_digit)
        .map(|p| from + p)
}

/// Whether `a b` are the two bytes of a Cyrillic capital (А..Я, Ё).
fn capital_pair(a: u8, b: u8) -> bool {
    a == 0xD0 && (b.wrapping_sub(0x90) < 0x20 || b == 0x81)
}

/// The first Cyrillic capital letter at or after `from`, 16 bytes at a time.
pub(crate) fn next_capital(b: &[u8], mut from: usize) -> Option<usize> {
    while let Some(w) = b.get(from..from + 17) {
        // Fixed-size arrays and `&`/`|` instead of `&&`/`||`: no branches,
        // so the compiler turns the loop into vector compares.
        let (Ok(x), Ok(y)) = (
            <[u8; 16]>::try_from(&w[..16]),
            <[u8; 16]>::try_from(&w[1..]),
        ) else {
            break;
        };
        let mut any = 0u8;
        for j in 0..16 {
            let lead = u8::from(x[j] == 0xD0);
            let upper = u8::from(y[j].wrapping_sub(0x90) < 0x20) | u8::from(y[j] == 0x81);
            any |= lead & upper;
        }
        if any != 0 {
            break;
        }
        from += 16;
    }
    b.get(from..)?
        .windows(2)
        .position(|p| capital_pair(p[0], p[1]))
        .map(|p| from + p)
}

/// The first ASCII capital letter at or after `from`, 16 bytes at a time
/// (branch-free compares, as in [`next_capital`]).
pub(crate) fn next_ascii_upper(b: &[u8], mut from: usize) -> Option<usize> {
    while let Some(w) = b.get(from..from + 16) {
        let Ok(x) = <[u8; 16]>::try_from(w) else {
            break;
        };
        let mut any = 0u8;
        for c in x {
            any |= u8::from(c.wrapping_sub(b'A') < 26);
        }
        if any != 0 {
            break;
        }
        from += 16;
    }
    b.get(from..)?
        .iter()
        .position(u8::is_ascii_uppercase)
        .map(|p| from + p)
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

/// Whether a sentence ends at the mark (`.`, `!`, `?`) that ends at byte
/// `i`: spaces, then a capital letter, and not after a lone letter (an
/// initial or `г.р.`, `д.р.`).
fn sentence_ends(text: &str, i: usize) -> bool {
    let after = &text[i..];
    let rest = after.trim_start_matches([' ', '\u{a0}']);
    let mut before = text[..i].chars().rev().skip(1);
    let lone_letter = before.next().is_some_and(is_letter) && !before.next().is_some_and(is_letter);
    rest.len() < after.len() && !lone_letter && rest.chars().next().is_some_and(char::is_uppercase)
}

/// How many chars before `pos`, at most `max`, stay within the sentence that
/// holds `pos` (see [`sentence_ends`]).
pub(crate) fn chars_in_sentence_before(text: &str, pos: usize, max: usize) -> usize {
    let from = back_chars(text, pos, max);
    let window = &text[from..pos];
    let start = window
        .char_indices()
        .rev()
        .find(|&(i, c)| matches!(c, '.' | '!' | '?') && sentence_ends(window, i + 1))
        .map_or(0, |(i, _)| i + 1);
    window[start..]
        .trim_start_matches([' ', '\u{a0}'])
        .chars()
        .count()
}

/// The byte offset at most `max` chars after `pos` where the sentence that
/// holds `pos` ends (see [`chars_in_sentence_before`]).
pub(crate) fn sentence_end_after(text: &str, pos: usize, max: usize) -> usize {
    let window_end = text[pos..]
        .char_indices()
        .nth(max)
        .map_or(text.len(), |(i, _)| pos + i);
    text[pos..window_end]
        .char_indices()
        .find(|&(i, c)| matches!(c, '.' | '!' | '?') && sentence_ends(text, pos + i + 1))
        .map_or(window_end, |(i, _)| pos + i)
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
                // Windows are short: a plain search beats building a searcher.
                let k = k.as_bytes();
                let last = hay.len().checked_sub(k.len())?;
                // The last byte of a keyword is rarer than its first (UTF-8
                // lead bytes repeat): find it with memrchr, then compare.
                let tail = *k.last()?;
                let mut end = hay.len();
                while let Some(q) = memchr::memrchr(tail, &hay[..end]) {
                    end = q;
                    let Some(p) = (q + 1).checked_sub(k.len()) else {
                        break;
                    };
                    if p <= last && hay[p..].starts_with(k) && !letter_ends_at(hay, p) {
                        return Some(p + k.len());
                    }
                }
                None
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

/// Whether a letter (ASCII or Cyrillic) ends just before byte `i`: the
/// byte-level form of `char_before(..).is_some_and(is_letter)`.
pub(crate) fn letter_before(b: &[u8], i: usize) -> bool {
    match i.checked_sub(1).map(|j| b[j]) {
        Some(x) if x.is_ascii_alphabetic() => true,
        Some(x) if x & 0xC0 == 0x80 => i >= 2 && matches!(b[i - 2], 0xD0..=0xD3),
        _ => false,
    }
}

/// Whether a letter (ASCII, or the Cyrillic block U+0400..U+04FF) starts at
/// byte `i`; returns its length.
pub(crate) fn letter_len(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        x if x.is_ascii_alphabetic() => Some(1),
        0xD0..=0xD3 if b.get(i + 1).is_some_and(|c| c & 0xC0 == 0x80) => Some(2),
        _ => None,
    }
}

/// End of the run of letters (and inner hyphens) that starts at `pos`.
pub(crate) fn word_end(text: &str, pos: usize) -> usize {
    let b = text.as_bytes();
    let mut i = pos;
    loop {
        if let Some(n) = letter_len(b, i) {
            i += n;
        } else if i > pos && b.get(i) == Some(&b'-') && letter_len(b, i + 1).is_some() {
            i += 1;
        } else {
            return i;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_bound_keyword_windows() {
        let t = "полис ОМС привязан. Клиент назвал номер 123";
        let pos = t.find("123").unwrap();
        assert_eq!(
            chars_in_sentence_before(t, pos, 40),
            "Клиент назвал номер ".chars().count()
        );
        // A dot inside a sentence (`г.р.`, `т. е.`) does not end it.
        let t = "род. 1950 г.р. с номером 123";
        let pos = t.find("123").unwrap();
        assert_eq!(chars_in_sentence_before(t, pos, 8), 8);
        // Nor does one after an initial or `д.р.`.
        let t = "Иванов И. И., д.р. 13.02.2003. Приём 18.06.2025";
        let pos = t.find("18.06").unwrap();
        assert_eq!(
            chars_in_sentence_before(t, pos, 40),
            "Приём ".chars().count()
        );
        let pos = t.find("13.02").unwrap();
        assert_eq!(
            chars_in_sentence_before(t, pos, 40),
            t[..pos].chars().count()
        );
        let t = "123, звонить вечером. Звонок не нужен";
        assert_eq!(&t[3..sentence_end_after(t, 3, 40)], ", звонить вечером");
        assert_eq!(t[3..sentence_end_after(t, 3, 4)].chars().count(), 4);
    }

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
    fn chunked_finders() {
        let s = "abcdefghijklmnopqrstuvwxyz тест 7";
        assert_eq!(next_digit(s.as_bytes(), 0), Some(s.len() - 1));
        assert_eq!(next_digit(b"abc", 0), None);
        let s = "строчные буквы без заглавных, и вот: Ёж";
        assert_eq!(next_capital(s.as_bytes(), 0), s.find('Ё'));
        assert_eq!(
            next_capital("нет заглавных совсем, ничего".as_bytes(), 0),
            None
        );
        let s = "ЯЯ";
        assert_eq!(next_capital(s.as_bytes(), 1), Some(2));
    }

    #[test]
    fn word_end_takes_inner_hyphens() {
        let s = "Петров-Водкин, ";
        assert_eq!(&s[..word_end(s, 0)], "Петров-Водкин");
        assert_eq!(word_end("тест- x", 0), "тест".len());
    }
}
