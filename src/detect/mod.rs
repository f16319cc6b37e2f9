//! Value detectors: find identifiers inside string values and free text.
//!
//! Each identifier class has its own file with its checksum and its test
//! vectors. A detector reports only what passes its checksum: a number that
//! fails is not personal data and passes unchanged.
//!
//! [`Detectors::scan`] runs on every string value, so it is built for the
//! common case of a string with nothing in it: a short string gets one
//! table-driven pass that tells whether it holds an ASCII digit, an `@` or
//! a Cyrillic capital, and only the scanners that need them run; a long one goes straight to
//! the scanners, whose skip loops work 16 bytes at a time. Numbers are found
//! by one pass over digit runs and their separators ([`digits`]), then
//! classified by layout, checksum and nearby keywords ([`numbers`]); e-mails
//! from each `@` (memchr); names from each Cyrillic capital; addresses from
//! the dots, hyphens and colons of their markers (memchr3); birth dates from
//! the dates the number pass meets. No regex, and no allocation unless two
//! findings overlap.
//!
//! Classes: `Snils`, `OmsPolicy`, `Card`, `Inn`, `Phone`, `Passport`,
//! `Email`, `FullName`, `BirthDate`, `Address`. `DmsPolicy`, `Surname`,
//! `GivenName`, `Patronymic`, `DeviceId` and `Health` are left to key rules.

pub mod address;
pub mod birth_date;
pub mod card;
mod digits;
pub mod email;
pub mod inn;
mod latin;
mod lexicon;
pub mod name;
mod numbers;
pub mod oms;
pub mod passport;
pub mod phone;
pub mod snils;
mod text;

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod tests;

pub use passport::{looks_like_birth_certificate, looks_like_passport};

use crate::class::{ClassSet, FieldClass};

/// One identifier found in a text: a byte range and its class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finding {
    pub start: usize,
    pub end: usize,
    pub class: FieldClass,
}

/// The compiled set of detectors a rule set enables.
#[derive(Debug, Clone)]
pub struct Detectors {
    enabled: ClassSet,
}

/// Classes found in digit clusters.
const NUMBER_CLASSES: [FieldClass; 7] = [
    FieldClass::Snils,
    FieldClass::OmsPolicy,
    FieldClass::Phone,
    FieldClass::Card,
    FieldClass::Inn,
    FieldClass::Passport,
    FieldClass::BirthDate,
];

/// Strings shorter than this are prefiltered in one pass.
const PREFILTER_MAX: usize = 256;

const HAS_DIGIT: u8 = 1;
const HAS_AT: u8 = 2;
/// Maybe a Cyrillic capital letter.
const HAS_CAPITAL: u8 = 4;
/// A Cyrillic letter (its lead byte D0 or D1).
const HAS_CYRILLIC: u8 = 8;

/// A date separator (`-`, `.` or a space).
const HAS_SEP: u8 = 16;
/// An ASCII capital letter (a name in Latin letters).
const HAS_LATIN_CAPITAL: u8 = 32;

/// Whether a short string has the digits any number detector needs: ten
/// for the shortest identifier (a passport), or five and a date separator
/// for a date (`1 мая 1990`, `1.2.1990`, `1990-05-12`). Record ids and
/// counters (`"10234"`) fail it and skip the number scanner.
fn may_hold_number(flags: u8, digits: u32) -> bool {
    digits >= 10 || (digits >= 5 && flags & HAS_SEP != 0)
}

/// What kinds of bytes a short string holds, and how many ASCII digits.
/// Every test is a compare, with no table lookup, and the bytes go in
/// 16 lanes of bytes: the compiler vectorises the loop, one pass for all.
fn prefilter(b: &[u8]) -> (u8, u32) {
    const LANES: usize = 16;
    let mut flags = [0u8; LANES];
    // At most PREFILTER_MAX / LANES digits per lane: no overflow.
    let mut digits = [0u8; LANES];
    let mut chunks = b.chunks_exact(LANES);
    for c in &mut chunks {
        for k in 0..LANES {
            flags[k] |= byte_flags(c[k]);
            digits[k] += u8::from(c[k].wrapping_sub(b'0') < 10);
        }
    }
    let mut f = flags.iter().fold(0, |a, x| a | x);
    let mut n: u32 = digits.iter().map(|&d| u32::from(d)).sum();
    for &x in chunks.remainder() {
        f |= byte_flags(x);
        n += u32::from(x.wrapping_sub(b'0') < 10);
    }
    (f, n)
}

/// The prefilter's flags of one byte.
#[inline(always)]
fn byte_flags(x: u8) -> u8 {
    (u8::from(x.wrapping_sub(b'0') < 10) * HAS_DIGIT)
        | (u8::from(x == b'@') * HAS_AT)
        // Second bytes of the Cyrillic capitals А..Я (D0 90..AF). They also
        // occur in a few other characters (no-break space, «», №), which
        // only costs a look for capitals; small Cyrillic letters never set
        // it. Ё (D0 81) shares its second byte with «с» and is left out: a
        // full name always has another capital.
        | (u8::from(x.wrapping_sub(0x90) < 0x20) * HAS_CAPITAL)
        | (u8::from(x & 0xFE == 0xD0) * HAS_CYRILLIC)
        | (u8::from(matches!(x, b'-' | b'.' | b' ')) * HAS_SEP)
        | (u8::from(x.wrapping_sub(b'A') < 26) * HAS_LATIN_CAPITAL)
}

impl Detectors {
    pub fn new(enabled: ClassSet) -> Self {
        if enabled.contains(FieldClass::FullName) {
            lexicon::warm();
        }
        Detectors { enabled }
    }

    pub fn enabled(&self) -> ClassSet {
        self.enabled
    }

    fn on(&self, class: FieldClass) -> bool {
        self.enabled.contains(class)
    }

    /// Appends to `out` the identifiers found in `text`, sorted by start and
    /// not overlapping, for the enabled classes only. Offsets are bytes into
    /// `text` and fall on char boundaries.
    pub fn scan(&self, text: &str, out: &mut Vec<Finding>) {
        // Short strings (most JSON values) get the one-pass prefilter; long
        // ones skip it, since each scanner's own skip loop is as fast.
        let (flags, digits) = if text.len() < PREFILTER_MAX {
            prefilter(text.as_bytes())
        } else {
            let digit = text::next_digit(text.as_bytes(), 0).is_some();
            let flags =
                HAS_AT | HAS_CAPITAL | HAS_CYRILLIC | HAS_SEP | if digit { HAS_DIGIT } else { 0 };
            (flags, 0)
        };
        if flags == 0 {
            return;
        }
        let base = out.len();
        if flags & HAS_DIGIT != 0
            && NUMBER_CLASSES.iter().any(|c| self.on(*c))
            && (text.len() >= PREFILTER_MAX || may_hold_number(flags, digits))
        {
            numbers::scan(self, text, out);
        }
        if flags & HAS_AT != 0 && self.on(FieldClass::Email) {
            for at in memchr::memchr_iter(b'@', text.as_bytes()) {
                if let Some((start, end)) = email::match_at(text, at) {
                    out.push(Finding {
                        start,
                        end,
                        class: FieldClass::Email,
                    });
                }
            }
        }
        if flags & HAS_CAPITAL != 0 && self.on(FieldClass::FullName) {
            name::scan(text, out);
        }
        // A Latin name is two words: a capital and a space at least.
        let latin_bytes = HAS_LATIN_CAPITAL | HAS_SEP;
        if flags & latin_bytes == latin_bytes && self.on(FieldClass::FullName) {
            latin::scan(text, out);
        }
        // An address worth reporting has Cyrillic words and a house number.
        let address_bytes = HAS_DIGIT | HAS_CYRILLIC;
        if flags & address_bytes == address_bytes && self.on(FieldClass::Address) {
            address::scan(text, out);
        }
        resolve(text, out, base);
    }

    /// The class of a whole value (surrounding spaces ignored) when exactly
    /// one enabled detector finding covers all of it: `Some(Snils)` for
    /// `"748-569-701-67"` or the JSON number text `74856970167`.
    pub fn classify_value(&self, value: &str) -> Option<FieldClass> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return None;
        }
        let off = value.len() - value.trim_start().len();
        let mut out = Vec::new();
        self.scan(value, &mut out);
        match out.as_slice() {
            [f] if f.start == off && f.end == off + trimmed.len() => Some(f.class),
            _ => None,
        }
    }
}

/// Whether a whole value is one finding of `class` (the detector of that
/// class alone).
pub(crate) fn whole_value_is(value: &str, class: FieldClass) -> bool {
    Detectors::new(ClassSet::EMPTY.with(class)).classify_value(value) == Some(class)
}

/// Which finding keeps its bytes when two overlap: checksum-validated
/// identifiers first, context-found text classes last.
fn priority(class: FieldClass) -> u8 {
    match class {
        FieldClass::Email => 10,
        FieldClass::Snils => 9,
        FieldClass::Card => 8,
        FieldClass::OmsPolicy => 7,
        FieldClass::Inn => 6,
        FieldClass::Phone => 5,
        FieldClass::Passport => 4,
        FieldClass::BirthDate => 3,
        FieldClass::Address => 2,
        FieldClass::FullName => 1,
        _ => 0,
    }
}

/// Sorts `out[base..]` by start and removes overlaps: overlapping findings of
/// one class merge; otherwise the higher-priority finding keeps its bytes and
/// the other keeps what lies outside it (if any of that is a word or number).
fn resolve(text: &str, out: &mut Vec<Finding>, base: usize) {
    let tail = &mut out[base..];
    tail.sort_unstable_by_key(|f| (f.start, f.end));
    if tail.windows(2).all(|w| w[0].end <= w[1].start) {
        return;
    }
    // Rare slow path: a handful of findings.
    let mut merged: Vec<Finding> = Vec::with_capacity(tail.len());
    for f in tail.iter() {
        match merged
            .iter_mut()
            .find(|m| m.class == f.class && m.start < f.end && f.start < m.end)
        {
            Some(m) => {
                m.start = m.start.min(f.start);
                m.end = m.end.max(f.end);
            }
            None => merged.push(*f),
        }
    }
    merged.sort_by_key(|f| std::cmp::Reverse(priority(f.class)));
    let mut kept: Vec<Finding> = Vec::with_capacity(merged.len());
    // A piece left over keeps its words and numbers, not the punctuation
    // and spaces at its edges.
    let trim = |f: Finding| {
        let s = &text[f.start..f.end];
        let t = s.trim_start_matches(|c: char| !c.is_alphanumeric());
        let start = f.start + (s.len() - t.len());
        let t = t.trim_end_matches(|c: char| !c.is_alphanumeric());
        Finding {
            start,
            end: start + t.len(),
            ..f
        }
    };
    for f in merged {
        let mut pieces = vec![f];
        for k in &kept {
            pieces = pieces
                .into_iter()
                .flat_map(|p| {
                    if p.end <= k.start || k.end <= p.start {
                        return vec![p];
                    }
                    let left = Finding { end: k.start, ..p };
                    let right = Finding { start: k.end, ..p };
                    [left, right]
                        .into_iter()
                        .filter(|x| x.start < x.end)
                        .collect()
                })
                .collect();
        }
        // A finding nothing cut keeps its edges (`+7...`, `К.Ф.`).
        let whole = pieces.len() == 1 && pieces[0] == f;
        kept.extend(
            pieces
                .into_iter()
                .map(|p| if whole { p } else { trim(p) })
                .filter(|p| p.start < p.end),
        );
    }
    kept.sort_unstable_by_key(|f| f.start);
    out.truncate(base);
    out.extend(kept);
}
