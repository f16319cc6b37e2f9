//! Dates of birth in prose: `11.05.2003`, `30.11.43`, `2003-05-11`,
//! `11 мая 2003`, but only in a birth context:
//!
//! - followed by «г.р.» / «года рождения»;
//! - preceded within 25 chars by «дата рождения», «д.р.», «род.»,
//!   «родился», «родилась», `DOB`, `born`;
//! - right after a person's full name, alone or in parentheses:
//!   `Самсонова Антонина (30.11.1943)`, `Иванов И.И., 11.05.2003`.
//!
//! Other dates (visits, issue dates, timestamps) are health or bookkeeping
//! data, not identifiers, and are left to the key rules.

use super::text::{
    LookBehind, chars_in_sentence_before, fold_lower, skip_spaces, starts_with_folded,
};

const MONTHS: [&str; 12] = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
];

/// Keywords (lower case) before a date that make it a birth date.
const BEFORE: &[&str] = &[
    "рожд",
    "род.",
    "д.р",
    "д. р.",
    "д/р",
    "родил",
    "dob",
    "born",
    "birth",
];
const BEFORE_CHARS: usize = 25;

fn digits_at(b: &[u8], pos: usize, min: usize, max: usize) -> Option<(u32, usize)> {
    let mut v = 0u32;
    let mut i = pos;
    while i < b.len() && i - pos < max && b[i].is_ascii_digit() {
        v = v * 10 + u32::from(b[i] - b'0');
        i += 1;
    }
    let n = i - pos;
    // Exactly min..=max digits: a longer run is not this field.
    if n < min || b.get(i).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some((v, i))
}

fn valid(day: u32, month: u32, year: u32) -> bool {
    (1..=31).contains(&day) && (1..=12).contains(&month) && (1900..=2100).contains(&year)
}

/// A date written at `pos` (a digit that starts a token): its end offset.
pub(crate) fn match_date(text: &str, pos: usize) -> Option<usize> {
    let b = text.as_bytes();
    let (first, i) = digits_at(b, pos, 1, 4)?;
    let n = i - pos;
    match (n, b.get(i)) {
        (4, Some(b'-')) => {
            let (month, j) = digits_at(b, i + 1, 2, 2)?;
            (b.get(j) == Some(&b'-')).then_some(())?;
            let (day, k) = digits_at(b, j + 1, 2, 2)?;
            valid(day, month, first).then_some(k)
        }
        (1 | 2, Some(b'.')) => {
            let (month, j) = digits_at(b, i + 1, 1, 2)?;
            (b.get(j) == Some(&b'.')).then_some(())?;
            let (year, k) = digits_at(b, j + 1, 2, 4)?;
            // Two digits stand for a year of either century: `30.11.43`.
            let year = match k - (j + 1) {
                2 => 1900 + year,
                4 => year,
                _ => return None,
            };
            valid(first, month, year).then_some(k)
        }
        (1 | 2, Some(b' ')) if matches!(b.get(i + 1), Some(0xD0 | 0xD1)) => {
            let j = i + 1;
            let mut buf = [0u8; 16];
            let n = fold_lower(&b[j..(j + 16).min(b.len())], &mut buf);
            let (m, name) = MONTHS
                .iter()
                .enumerate()
                .find(|(_, m)| buf[..n].starts_with(m.as_bytes()))?;
            let j = j + name.len();
            (b.get(j) == Some(&b' ')).then_some(())?;
            let (year, k) = digits_at(b, j + 1, 4, 4)?;
            valid(first, m as u32 + 1, year).then_some(k)
        }
        _ => None,
    }
}

/// Whether the date `start..end` is a birth date by the words around it.
pub(crate) fn in_birth_context(text: &str, start: usize, end: usize) -> bool {
    let after = skip_spaces(text, end);
    // Every phrase after the date starts with «г» or «Г».
    let g = matches!(
        text.as_bytes().get(after..after + 2),
        Some([0xD0, 0xB3 | 0x93])
    );
    if g && after_phrase(text, after) {
        return true;
    }
    start > 0
        && (LookBehind::new(
            text,
            start,
            chars_in_sentence_before(text, start, BEFORE_CHARS),
        )
        .contains(BEFORE)
            || after_name(text, start))
}

/// Whether a full name ends right before `start`, with at most a comma or
/// an opening parenthesis and spaces between: `Иванов И.И., 11.05.2003`,
/// `Самсонова Антонина (30.11.1943)`.
fn after_name(text: &str, start: usize) -> bool {
    let b = text.as_bytes();
    let mut p = start;
    while p > 0 && b[p - 1] == b' ' {
        p -= 1;
    }
    if p > 0 && matches!(b[p - 1], b'(' | b',') {
        p -= 1;
        while p > 0 && b[p - 1] == b' ' {
            p -= 1;
        }
    }
    if p == start || p == 0 {
        return false;
    }
    // A name is at most a few words: look at the 60 chars before.
    let from = super::text::back_chars(text, p, 60);
    let mut names = Vec::new();
    super::name::scan(&text[from..p], &mut names);
    names.last().is_some_and(|n| from + n.end == p)
}

/// «г.р.», «г. р.», «гр.», «года рождения» at `after`.
fn after_phrase(text: &str, after: usize) -> bool {
    let mark = ["г.р", "г. р", "гр."]
        .iter()
        .find(|m| starts_with_folded(text, after, m));
    if let Some(m) = mark {
        let next = super::text::char_at(text, after + m.len());
        if !next.is_some_and(super::text::is_letter) {
            return true;
        }
    }
    ["года рождения", "г. рождения", "г.рождения", "год рождения"]
        .iter()
        .any(|phrase| starts_with_folded(text, after, phrase))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::class::{ClassSet, FieldClass};
    use crate::detect::Detectors;

    fn found(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        Detectors::new(ClassSet::ALL).scan(text, &mut out);
        out.iter()
            .filter(|f| f.class == FieldClass::BirthDate)
            .map(|f| &text[f.start..f.end])
            .collect()
    }

    const VALID: [(&str, &str); 16] = [
        ("Пациент Иванов И.И., 11.05.2003 г.р., жалобы", "11.05.2003"),
        ("11.05.2003 г. р.", "11.05.2003"),
        ("1.5.2003 года рождения", "1.5.2003"),
        ("Дата рождения: 2003-05-11", "2003-05-11"),
        ("д.р. 11.05.2003", "11.05.2003"),
        ("родилась 11 мая 2003 года", "11 мая 2003"),
        ("Родился 3 Января 1950 г.", "3 Января 1950"),
        ("DOB 1988-09-23", "1988-09-23"),
        ("born 23.09.1988", "23.09.1988"),
        ("11.05.2003г.р.", "11.05.2003"),
        // Two-digit years, `род.`, and a date right after a name.
        ("Самсонова Антонина, 30.11.43 г.р.", "30.11.43"),
        ("род. 30.11.1943 в Твери", "30.11.1943"),
        ("Самсонова Антонина (30.11.1943) направлена", "30.11.1943"),
        (
            "Пациент Данилов Николай Анатольевич, 11.05.2003",
            "11.05.2003",
        ),
        ("Мария Иванова 12.04.1990 обратилась", "12.04.1990"),
        ("Иванов И.И., 11.05.2003", "11.05.2003"),
    ];

    const INVALID: [&str; 14] = [
        "Повторный приём 23.06.2025.",
        "Выдан 2008-04-27 ГУ МВД",
        "2025-10-01T16:30:00+05:00",
        "Симптомы появились 12.03.2024.",
        "32.05.2003 г.р.",
        "11.13.2003 г.р.",
        "11.05.203 г.р.",
        "111.05.2003 г.р.",
        "Дата рождения указана в карте, визит 12.03.2024",
        "11.05.2003 г. Курган",
        // Dates after words that are not names, and a two-digit year with
        // no birth context.
        "Повторный Прием (12.03.2025)",
        "Заключение МРТ, 12.03.2025",
        "визит 12.03.25, без жалоб",
        "Иванов И.И. принят. 12.03.2025 повторно",
    ];

    #[test]
    fn the_cue_counts_in_its_sentence() {
        assert_eq!(
            found("Кириллова Елена, д.р. 13.02.2003. Приём 18.06.2025 в 13:40."),
            ["13.02.2003"]
        );
    }

    #[test]
    fn valid_vectors() {
        for (text, date) in VALID {
            assert_eq!(found(text), vec![date], "{text}");
        }
    }

    #[test]
    fn invalid_vectors() {
        for text in INVALID {
            assert!(found(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn date_shapes() {
        assert_eq!(match_date("2003-05-11", 0), Some(10));
        assert_eq!(match_date("20030-05-11", 0), None);
        assert_eq!(match_date("11 мая 2003", 0), Some("11 мая 2003".len()));
        assert_eq!(match_date("11 маяк 2003", 0), None);
    }
}
