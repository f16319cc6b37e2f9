//! Which identifier a digit cluster holds: dates first (never identifiers,
//! birth dates in context), then at each group the layouts of phone, SNILS,
//! card/ENP, INN and passport, each confirmed by its checksum or context.
//! The longest match wins; a plain 11-digit number that is both a valid SNILS
//! and a phone is decided by the nearest keyword.

use super::digits::{Cluster, Sep, start_ok};
use super::phone::{PHONE_WORDS, PhoneKind};
use super::text::{LookBehind, next_digit};
use super::{Detectors, Finding, birth_date, card, inn, passport, phone, snils};
use crate::class::FieldClass;

const SNILS_WORDS: &[&str] = &["снилс", "snils", "страхов"];

/// One candidate at a group: its last group and classes in preference order.
#[derive(Clone, Copy)]
struct Candidate {
    last: usize,
    /// `None` entries are unused; all `None` means "recognised, not personal"
    /// (a toll-free number): the digits are skipped without a finding.
    classes: [Option<FieldClass>; 2],
}

/// Scans every digit cluster of `text` and appends the findings.
pub(crate) fn scan(d: &Detectors, text: &str, out: &mut Vec<Finding>) {
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(p) = next_digit(b, i) {
        i = p;
        let plus = (i > 0 && b[i - 1] == b'+').then(|| i - 1);
        let start = plus.unwrap_or(i);
        if !start_ok(text, start) {
            // Glued to a word: skip the whole token (a hash, a UUID part).
            i = token_end(b, i);
            continue;
        }
        if let Some(end) = birth_date::match_date(text, i) {
            if d.on(FieldClass::BirthDate) && birth_date::in_birth_context(text, i, end) {
                out.push(Finding {
                    start: i,
                    end,
                    class: FieldClass::BirthDate,
                });
            }
            i = time_end(b, end);
            continue;
        }
        let c = Cluster::parse(text, i, plus);
        scan_cluster(d, &c, out);
        i = c.end();
    }
}

/// End of the ASCII letters, digits and `_` from `i`.
fn token_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
        i += 1;
    }
    i
}

/// After a date at `end`: the end of an ISO time glued to it
/// (`T16:30:00+05:00`), which holds no identifier.
fn time_end(b: &[u8], end: usize) -> usize {
    if b.get(end) != Some(&b'T') {
        return end;
    }
    let mut i = end + 1;
    while i < b.len() && matches!(b[i], b'0'..=b'9' | b':' | b'.' | b'+' | b'-' | b'Z') {
        i += 1;
    }
    i
}

fn scan_cluster(d: &Detectors, c: &Cluster<'_>, out: &mut Vec<Finding>) {
    let groups = c.groups();
    // The shortest identifier (a passport) has ten digits.
    if groups.iter().map(|g| g.end - g.start).sum::<usize>() < 10 {
        return;
    }
    let mut gi = 0;
    while gi < groups.len() {
        if gi > 0 && groups[gi].sep != Sep::Space {
            gi += 1;
            continue;
        }
        let Some(m) = best_at(c, gi) else {
            gi += 1;
            continue;
        };
        if let Some(class) = m.classes.into_iter().flatten().find(|k| d.on(*k)) {
            let start = match c.plus {
                Some(p) if gi == 0 && class == FieldClass::Phone => p,
                _ => groups[gi].start,
            };
            out.push(Finding {
                start,
                end: groups[m.last].end,
                class,
            });
        }
        gi = m.last + 1;
    }
}

/// Keeps `cand` when it is longer than the best so far.
fn keep(best: &mut Option<Candidate>, cand: Candidate) {
    if best.is_none_or(|b| cand.last > b.last) {
        *best = Some(cand);
    }
}

/// The longest identifier that starts at group `gi`.
fn best_at(c: &Cluster<'_>, gi: usize) -> Option<Candidate> {
    let g = c.groups();
    let mut best: Option<Candidate> = None;
    let mut buf = [0u8; 32];

    let phone_match = phone::match_at(c, gi);
    if let Some((last, kind)) = phone_match {
        let classes = match kind {
            PhoneKind::Personal => [Some(FieldClass::Phone), None],
            PhoneKind::TollFree => [None, None],
        };
        keep(&mut best, Candidate { last, classes });
    }

    // A `+` before the number makes it an international phone number and
    // nothing else.
    if gi == 0 && c.plus.is_some() {
        return best;
    }

    if let Some(last) = snils::match_layout(c, gi).filter(|&l| c.can_end(l)) {
        let n = c.digits(gi, last, &mut buf);
        if snils::is_valid(&buf[..n]) {
            match phone_match {
                // Same digits valid as both: the keyword decides, and the
                // decision replaces the phone candidate.
                Some((pl, kind)) if pl == last => {
                    let phone_first = snils_or_phone(c.text, g[gi].start);
                    let classes = match (phone_first, kind) {
                        (true, PhoneKind::Personal) => {
                            [Some(FieldClass::Phone), Some(FieldClass::Snils)]
                        }
                        (true, PhoneKind::TollFree) => [None, None],
                        (false, PhoneKind::Personal) => {
                            [Some(FieldClass::Snils), Some(FieldClass::Phone)]
                        }
                        (false, PhoneKind::TollFree) => [Some(FieldClass::Snils), None],
                    };
                    best = Some(Candidate { last, classes });
                }
                _ => keep(
                    &mut best,
                    Candidate {
                        last,
                        classes: [Some(FieldClass::Snils), None],
                    },
                ),
            }
        }
    }

    // Longest layout first, but four groups of four that pass the check
    // win over the same with a short group after them: `… 5655 2 300,00 ₽`
    // is a card and a price.
    let mut card_at = None;
    for last in card::match_layouts(c, gi).into_iter().flatten() {
        if !c.can_end(last) {
            continue;
        }
        let n = c.digits(gi, last, &mut buf);
        let digits = &buf[..n];
        if !card::luhn(digits) {
            continue;
        }
        let classes = if n == 16 {
            card::classify16(c.text, g[gi].start, g[last].end, digits)
        } else if card::is_valid(digits) {
            [Some(FieldClass::Card), None]
        } else {
            continue;
        };
        let sixteen = n == 16;
        card_at = Some(Candidate { last, classes });
        if sixteen {
            break;
        }
    }
    if let Some(card) = card_at {
        keep(&mut best, card);
    }

    if g[gi].len() == 12 && c.can_end(gi) {
        let n = c.digits(gi, gi, &mut buf);
        if inn::is_valid(&buf[..n]) {
            keep(
                &mut best,
                Candidate {
                    last: gi,
                    classes: [Some(FieldClass::Inn), None],
                },
            );
        }
    }

    if let Some(last) = passport::match_layout(c, gi).filter(|&l| c.can_end(l))
        && best.is_none_or(|b| last > b.last)
        && let Some(class) =
            passport::context_class(c.text, g[gi].start, passport::split_series(c, gi))
    {
        best = Some(Candidate {
            last,
            classes: [Some(class), None],
        });
    }
    best
}

/// A plain 11-digit number valid as both SNILS and phone: whether it is a
/// phone, by the nearest keyword. SNILS is the default: a phone passes the
/// SNILS checksum about once in a hundred, a SNILS looks like a phone far
/// more often.
fn snils_or_phone(text: &str, pos: usize) -> bool {
    let lb = LookBehind::new(text, pos, card::KEYWORD_CHARS);
    let snils = lb.last(SNILS_WORDS);
    let phone = lb.last(PHONE_WORDS);
    phone.is_some_and(|p| snils.is_none_or(|s| p > s))
}
