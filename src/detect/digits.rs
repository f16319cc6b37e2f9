//! The digit-run scanner: one pass that finds runs of ASCII digits with the
//! separators written between them (`+7 (912) 345-67-89`, `4509 № 123456`),
//! so that each identifier detector only has to check a group layout and a
//! checksum.
//!
//! A cluster starts at a digit (or a `+` before one) that is not glued to a
//! word: a digit run inside a hex hash, a UUID or `ID_123` is never a start.
//! Separators are single characters, or a space next to a parenthesis or `№`;
//! a dot, a slash or a comma between digits ends the cluster, so dates,
//! decimals, OIDs and house numbers never join a group.

use super::text::{char_at, char_before, is_word_char};

/// Most digit groups a cluster keeps; longer clusters end there and their
/// last kept group cannot end an identifier.
pub(crate) const MAX_GROUPS: usize = 8;
/// Most digits a cluster keeps (the longest identifier is a 19-digit card).
const MAX_DIGITS: usize = 24;

/// The separator written before a digit group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sep {
    /// The first group of a cluster.
    Start,
    Space,
    Hyphen,
    /// `(` or ` (`.
    Open,
    /// `)`, `) ` or `)-`.
    Close,
    Colon,
    /// `№`, with or without spaces around it, or the word ` номер `.
    Numero,
}

/// A run of digits and the separator before it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Group {
    pub start: usize,
    pub end: usize,
    pub sep: Sep,
}

impl Group {
    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }
}

/// Digit groups that follow one another with separators.
#[derive(Debug)]
pub(crate) struct Cluster<'a> {
    pub text: &'a str,
    /// Offset of a `+` written before the first group.
    pub plus: Option<usize>,
    groups: [Group; MAX_GROUPS],
    n: usize,
    /// The cluster was cut at a limit: its last group is followed by more.
    truncated: bool,
}

impl<'a> Cluster<'a> {
    /// Parses the cluster whose first digit is at `pos`.
    pub(crate) fn parse(text: &'a str, pos: usize, plus: Option<usize>) -> Cluster<'a> {
        let b = text.as_bytes();
        let empty = Group {
            start: pos,
            end: pos,
            sep: Sep::Start,
        };
        let mut c = Cluster {
            text,
            plus,
            groups: [empty; MAX_GROUPS],
            n: 0,
            truncated: false,
        };
        let mut start = pos;
        let mut sep = Sep::Start;
        let mut digits = 0;
        loop {
            let end = digit_run_end(b, start);
            digits += end - start;
            c.groups[c.n] = Group { start, end, sep };
            c.n += 1;
            match separator(b, end) {
                Some((s, len)) => {
                    if c.n == MAX_GROUPS || digits > MAX_DIGITS {
                        c.truncated = true;
                        return c;
                    }
                    sep = s;
                    start = end + len;
                }
                None => return c,
            }
        }
    }

    pub(crate) fn groups(&self) -> &[Group] {
        &self.groups[..self.n]
    }

    /// Byte offset just past the cluster.
    pub(crate) fn end(&self) -> usize {
        self.groups[self.n - 1].end
    }

    /// Whether an identifier may end after group `k`: the next group follows a
    /// space (a new token), or the cluster ends there at a word boundary.
    pub(crate) fn can_end(&self, k: usize) -> bool {
        if k + 1 < self.n {
            return matches!(self.groups[k + 1].sep, Sep::Space | Sep::Numero);
        }
        !self.truncated && boundary_after(self.text, self.groups[k].end)
    }

    /// Copies the digits of groups `from..=to` into `buf`; returns how many.
    pub(crate) fn digits(&self, from: usize, to: usize, buf: &mut [u8; 32]) -> usize {
        let b = self.text.as_bytes();
        let mut n = 0;
        for g in &self.groups[from..=to] {
            for &d in &b[g.start..g.end] {
                if n == buf.len() {
                    return n;
                }
                buf[n] = d;
                n += 1;
            }
        }
        n
    }
}

fn digit_run_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    i
}

const NUMERO: &[u8] = "№".as_bytes();
const NOMER: &[u8] = "номер ".as_bytes();

fn is_digit_at(b: &[u8], i: usize) -> bool {
    b.get(i).is_some_and(u8::is_ascii_digit)
}

/// `№`, `№ `: returns the length if a digit follows.
fn numero(b: &[u8], i: usize) -> Option<usize> {
    if !b[i..].starts_with(NUMERO) {
        return None;
    }
    let j = i + NUMERO.len();
    if is_digit_at(b, j) {
        Some(j - i)
    } else if b.get(j) == Some(&b' ') && is_digit_at(b, j + 1) {
        Some(j + 1 - i)
    } else {
        None
    }
}

/// The separator at `i` (just after a digit run) and its length, when a digit
/// follows it.
fn separator(b: &[u8], i: usize) -> Option<(Sep, usize)> {
    let c = *b.get(i)?;
    let next_digit = is_digit_at(b, i + 1);
    match c {
        b' ' => {
            if next_digit {
                return Some((Sep::Space, 1));
            }
            match b.get(i + 1)? {
                b'(' if is_digit_at(b, i + 2) => Some((Sep::Open, 2)),
                _ if b[i + 1..].starts_with(NUMERO) => {
                    numero(b, i + 1).map(|n| (Sep::Numero, n + 1))
                }
                _ if b[i + 1..].starts_with(NOMER) && is_digit_at(b, i + 1 + NOMER.len()) => {
                    Some((Sep::Numero, 1 + NOMER.len()))
                }
                _ => None,
            }
        }
        0xC2 if b.get(i + 1) == Some(&0xA0) && is_digit_at(b, i + 2) => Some((Sep::Space, 2)),
        b'-' if next_digit => Some((Sep::Hyphen, 1)),
        b'(' if next_digit => Some((Sep::Open, 1)),
        b')' if next_digit => Some((Sep::Close, 1)),
        b')' if matches!(b.get(i + 1), Some(b' ') | Some(b'-')) && is_digit_at(b, i + 2) => {
            Some((Sep::Close, 2))
        }
        b':' if next_digit => Some((Sep::Colon, 1)),
        0xE2 => numero(b, i).map(|n| (Sep::Numero, n)),
        _ => None,
    }
}

/// Whether a cluster may start at `pos` (a digit, or the `+` before one):
/// not glued to a word, and not the tail of a dotted or dashed token such as
/// `1.2.643.100` or `a1b2-1234`.
pub(crate) fn start_ok(text: &str, pos: usize) -> bool {
    let Some(prev) = char_before(text, pos) else {
        return true;
    };
    if is_word_char(prev) {
        return false;
    }
    let before = char_before(text, pos - prev.len_utf8());
    match prev {
        '-' | '/' => !before.is_some_and(|c| c.is_ascii_alphanumeric()),
        '.' | ':' | ',' => !before.is_some_and(|c| c.is_ascii_digit()),
        _ => true,
    }
}

/// Whether a token may end at `pos`: not glued to a word and not followed by
/// a separator that continues the number (`-5`, `.5`, `/2`, `,00`).
pub(crate) fn boundary_after(text: &str, pos: usize) -> bool {
    let Some(next) = char_at(text, pos) else {
        return true;
    };
    if is_word_char(next) {
        return false;
    }
    match next {
        '-' | '.' | '/' | ',' | ':' => {
            !text.as_bytes().get(pos + 1).is_some_and(u8::is_ascii_digit)
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(s: &str) -> Vec<(usize, Sep)> {
        let start = s.find(|c: char| c.is_ascii_digit()).unwrap();
        Cluster::parse(s, start, None)
            .groups()
            .iter()
            .map(|g| (g.len(), g.sep))
            .collect()
    }

    #[test]
    fn phone_layout() {
        assert_eq!(
            layout("+7 (912) 345-67-89"),
            vec![
                (1, Sep::Start),
                (3, Sep::Open),
                (3, Sep::Close),
                (2, Sep::Hyphen),
                (2, Sep::Hyphen)
            ]
        );
    }

    #[test]
    fn passport_layouts() {
        assert_eq!(layout("45 09 № 123456").last().unwrap().1, Sep::Numero);
        assert_eq!(layout("4509№123456").len(), 2);
        assert_eq!(layout("4509 номер 123456").last().unwrap().1, Sep::Numero);
        assert_eq!(layout("4509:123456").last().unwrap().1, Sep::Colon);
    }

    #[test]
    fn dots_commas_and_slashes_end_a_cluster() {
        assert_eq!(layout("11.05.2003").len(), 1);
        assert_eq!(layout("1 850,00 ₽").len(), 2);
        assert_eq!(layout("97/2").len(), 1);
    }

    #[test]
    fn starts_and_ends() {
        assert!(start_ok("тел.89123456789", "тел.".len()));
        assert!(!start_ok("ab12", 2));
        assert!(!start_ok("1.2.643", 2));
        assert!(!start_ok("a1b2-1234", 5));
        assert!(start_ok("ЗП-2025", "ЗП-".len()));
        assert!(!boundary_after("414a", 3));
        assert!(!boundary_after("97/2", 2));
        assert!(boundary_after("385.", 3));
        assert!(boundary_after("385. Д", 3));
    }
}
