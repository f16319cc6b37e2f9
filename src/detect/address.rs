//! Street addresses in prose. Two rules:
//!
//! - a street line: a street marker (`ул.`, `улица`, `пр-т`, `проспект`,
//!   `пер.`, `ш.`, `б-р`, `наб.`, …) with the street name, then the house
//!   (`д. 97/2`, or a bare `5-12`) and its parts (`корп.`, `стр.`, `кв.`);
//!   `д. 5, кв. 12` without a street counts too;
//! - the whole line after `по адресу:`, `адрес:` or `проживает`, up to the
//!   end of the sentence, when it holds a digit or a street marker.
//!
//! A city, region or postcode alone is not reported, nor is a street without
//! a house number. The scan visits only dots, hyphens and colons (every
//! abbreviated marker, `д.`, `кв.` and `адрес:` has one), so a line written
//! entirely in full words (`улица Ленина дом 5`) is not found.

use super::text::{
    char_at, char_before, fold_lower, is_cyr_upper, is_letter, letter_before, skip_spaces,
    starts_with_folded, word_end,
};
use super::{FieldClass, Finding};

/// Street markers written with a dot or a hyphen (lower case, no dot).
const ABBREV: &[&str] = &[
    "ул",
    "пр",
    "просп",
    "пр-т",
    "пр-кт",
    "пр-д",
    "пер",
    "ш",
    "наб",
    "пл",
    "мкр",
    "мкр-н",
    "мкрн",
    "б-р",
    "бул",
    "туп",
];
/// Street markers written in full.
const FULL: &[&str] = &[
    "улица",
    "проспект",
    "переулок",
    "шоссе",
    "набережная",
    "бульвар",
    "площадь",
    "проезд",
    "микрорайон",
    "тупик",
    "аллея",
    "тракт",
];
/// Small words inside a street name (`ул. 50 лет Октября`, `им. Ленина`).
const CONNECTORS: &[&str] = &["лет", "им", "имени"];
/// Street types written after the name (`ул. Сибирский тракт`).
const STREET_TYPES_AFTER: &[&str] = &["тракт", "линия", "шоссе", "проезд"];
/// Parts of a house after the house number.
const PARTS: &[&str] = &[
    "корп",
    "корпус",
    "к",
    "стр",
    "строение",
    "кв",
    "квартира",
    "оф",
    "офис",
    "лит",
    "литер",
    "пом",
    "помещение",
];
/// Words that end an address line (the next field of a note starts).
const LINE_STOP: &[&str] = &[
    "тел",
    "телефон",
    "моб",
    "e-mail",
    "email",
    "эл",
    "паспорт",
    "снилс",
    "инн",
    "полис",
    "диагноз",
    "дата",
];

/// Longest address line taken after a keyword, in bytes.
const MAX_LINE: usize = 300;

/// The lower-cased word at `[s, e)` into `buf`.
fn folded<'b>(text: &str, s: usize, e: usize, buf: &'b mut [u8; 64]) -> &'b [u8] {
    if e - s > buf.len() {
        return &[];
    }
    let n = fold_lower(&text.as_bytes()[s..e], buf);
    &buf[..n]
}

fn is_in(word: &[u8], list: &[&str]) -> bool {
    list.iter().any(|w| w.as_bytes() == word)
}

/// A house number at `pos`: `97`, `134а`, `97/2`, `5-12`, `5к2`.
fn house_number(text: &str, pos: usize) -> Option<usize> {
    let b = text.as_bytes();
    let digits = |mut p: usize| {
        let s = p;
        while p < b.len() && b[p].is_ascii_digit() && p - s < 5 {
            p += 1;
        }
        (p > s).then_some(p)
    };
    let letter = |p: usize| match char_at(text, p) {
        Some(c)
            if super::text::is_cyr_lower(c)
                && !char_at(text, p + c.len_utf8()).is_some_and(is_letter) =>
        {
            p + c.len_utf8()
        }
        _ => p,
    };
    let mut p = letter(digits(pos)?);
    if matches!(b.get(p), Some(b'/') | Some(b'-'))
        && let Some(q) = digits(p + 1)
    {
        p = letter(q);
    }
    if b.get(p).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some(p)
}

/// The word (letters and inner hyphens) at `pos`, if a word starts there.
fn word_at(text: &str, pos: usize) -> Option<usize> {
    let c = char_at(text, pos)?;
    (is_letter(c) && !char_before(text, pos).is_some_and(is_letter)).then(|| word_end(text, pos))
}

/// After a marker word ending at `e`: skips an optional dot and spaces.
fn after_marker(text: &str, e: usize) -> usize {
    let e = if text.as_bytes().get(e) == Some(&b'.') {
        e + 1
    } else {
        e
    };
    skip_spaces(text, e)
}

/// A street marker at word `[s, e)`: where the street name may start, and
/// whether a name may stand before it instead (`Ленинский проспект`,
/// `Варшавское ш.`).
fn street_marker(text: &str, s: usize, e: usize) -> Option<(usize, bool)> {
    let mut buf = [0u8; 64];
    let w = folded(text, s, e, &mut buf);
    let dotted = text.as_bytes().get(e) == Some(&b'.');
    let hyphenated = w.contains(&b'-');
    let small = !char_at(text, s).is_some_and(char::is_uppercase);
    let abbrev = is_in(w, ABBREV) && (dotted || hyphenated);
    let full = is_in(w, FULL);
    (abbrev || full).then(|| (after_marker(text, e), small))
}

/// A street name from `pos`: up to five tokens, capitalised words, numbers
/// before a word (`8 Марта`), connectors (`50 лет`, `им.`) and street types
/// after a name (`Сибирский тракт`). Its end.
fn street_name(text: &str, pos: usize) -> Option<usize> {
    let b = text.as_bytes();
    let mut end = None;
    let mut p = pos;
    for _ in 0..5 {
        let Some(c) = char_at(text, p) else { break };
        let (tok_end, is_name) = if is_cyr_upper(c) {
            match word_at(text, p) {
                Some(e) => (e, true),
                None => break,
            }
        } else if c.is_ascii_digit() {
            // A number is part of the name only before another name word.
            let mut q = p;
            while b.get(q).is_some_and(u8::is_ascii_digit) {
                q += 1;
            }
            if text[q..].starts_with("-й") || text[q..].starts_with("-я") {
                q += "-й".len();
            }
            let after = skip_spaces(text, q);
            let next_is_name = after > q
                && (char_at(text, after).is_some_and(is_cyr_upper)
                    || starts_with_folded(text, after, "лет "));
            if !next_is_name {
                break;
            }
            (q, false)
        } else if let Some(we) = word_at(text, p) {
            let mut buf = [0u8; 64];
            let w = folded(text, p, we, &mut buf);
            if end.is_some() && is_in(w, STREET_TYPES_AFTER) {
                (we, true)
            } else if is_in(w, CONNECTORS) {
                (if b.get(we) == Some(&b'.') { we + 1 } else { we }, false)
            } else {
                break;
            }
        } else {
            break;
        };
        if is_name {
            end = Some(tok_end);
        }
        let next = skip_spaces(text, tok_end);
        if next == tok_end {
            break;
        }
        p = next;
    }
    end
}

/// The house and its parts after a street (or a `д.` marker) ending at
/// `pos`: the end of the last part, if any.
fn house_and_parts(text: &str, pos: usize, bare_number: bool) -> Option<usize> {
    let b = text.as_bytes();
    let sep = |p: usize| {
        let q = if b.get(p) == Some(&b',') { p + 1 } else { p };
        skip_spaces(text, q)
    };
    let mut p = sep(pos);
    let mut end = None;
    // The house: `д. 97`, `дом 97`, or a bare number right after the street.
    if let Some(we) = word_at(text, p) {
        let mut buf = [0u8; 64];
        let w = folded(text, p, we, &mut buf);
        if (w == "д".as_bytes() || w == "дом".as_bytes())
            && let Some(h) = house_number(text, after_marker(text, we))
        {
            end = Some(h);
        }
    } else if bare_number && b.get(p).is_some_and(u8::is_ascii_digit) {
        end = house_number(text, p);
    }
    let mut last = end?;
    // Its parts: `корп. 2`, `стр. 1`, `кв. 385`.
    loop {
        p = sep(last);
        let Some(we) = word_at(text, p) else { break };
        let mut buf = [0u8; 64];
        if !is_in(folded(text, p, we, &mut buf), PARTS) {
            break;
        }
        match house_number(text, after_marker(text, we)) {
            Some(h) => last = h,
            None => break,
        }
    }
    Some(last)
}

/// A street line starting at the marker word `[s, e)`.
fn street_line(text: &str, s: usize, e: usize) -> Option<(usize, usize)> {
    let (name_at, name_before) = street_marker(text, s, e)?;
    let (start, street_end) = match street_name(text, name_at) {
        Some(end) => (s, end),
        None if name_before => {
            // `Ленинский проспект`: the name stands before the marker.
            let before = char_before(text, s).filter(|c| *c == ' ')?;
            let we = s - before.len_utf8();
            let mut ws = we;
            while let Some(c) = char_before(text, ws).filter(|c| is_letter(*c) || *c == '-') {
                ws -= c.len_utf8();
            }
            if ws == we || !char_at(text, ws).is_some_and(is_cyr_upper) {
                return None;
            }
            let marker_end = if text.as_bytes().get(e) == Some(&b'.') {
                e + 1
            } else {
                e
            };
            (ws, marker_end)
        }
        None => return None,
    };
    let end = house_and_parts(text, street_end, true).unwrap_or(street_end);
    Some((start, end))
}

/// `д. 5, кв. 12` with no street before it.
fn house_only(text: &str, s: usize) -> Option<(usize, usize)> {
    let end = house_and_parts(text, s, false)?;
    // Only with a part after the house: `д. 5` alone is too weak.
    let house_end = {
        let we = word_at(text, s)?;
        house_number(text, after_marker(text, we))?
    };
    (end > house_end).then_some((s, end))
}

/// The line after an address keyword at word `[s, e)`: `по адресу: …`,
/// `Адрес регистрации: …`, `проживает …`.
fn keyword_line(text: &str, s: usize, e: usize) -> Option<(usize, usize)> {
    let mut buf = [0u8; 64];
    let w = folded(text, s, e, &mut buf);
    let is_address = w.starts_with("адрес".as_bytes());
    let is_lives =
        w.starts_with("прожива".as_bytes()) || w.starts_with("зарегистрирован".as_bytes());
    if !is_address && !is_lives {
        return None;
    }
    // Skip small words up to a colon (`адрес регистрации:`, `по адресу:`).
    let mut p = e;
    let limit = (e + 60).min(text.len());
    let mut q = e;
    while q < limit {
        match char_at(text, q) {
            Some(':') => {
                p = q + 1;
                break;
            }
            Some(c) if is_letter(c) || c == ' ' => q += c.len_utf8(),
            _ => break,
        }
    }
    if p == e {
        // No colon: `проживает по адресу г. …` or `проживает г. …`.
        p = skip_spaces(text, e);
        if starts_with_folded(text, p, "по адрес") {
            p = word_end(text, p + "по ".len());
        }
    }
    let start = skip_spaces(text, p);
    let end = line_end(text, start);
    let line = &text[start..end];
    let has_street = line.bytes().any(|c| c.is_ascii_digit()) || has_marker(text, start, end);
    (end > start && has_street).then_some((start, end))
}

fn has_marker(text: &str, start: usize, end: usize) -> bool {
    let mut p = start;
    while p < end {
        match word_at(text, p) {
            Some(we) => {
                if street_marker(text, p, we).is_some() {
                    return true;
                }
                p = we;
            }
            None => p += char_at(text, p).map_or(1, char::len_utf8),
        }
    }
    false
}

/// End of an address line: the end of the sentence, a line break, `;`, or
/// the start of the next field (`тел.`, `e-mail`).
fn line_end(text: &str, start: usize) -> usize {
    let limit = (start + MAX_LINE).min(text.len());
    let mut p = start;
    let mut end = start;
    while p < limit {
        let Some(c) = char_at(text, p) else { break };
        match c {
            '\n' | '\r' | ';' | '(' | '"' | '«' | '»' => break,
            '.' => {
                if sentence_ends(text, start, p) {
                    break;
                }
                p += 1;
            }
            c if is_letter(c) && !char_before(text, p).is_some_and(is_letter) => {
                let we = word_end(text, p);
                let mut buf = [0u8; 64];
                if is_in(folded(text, p, we, &mut buf), LINE_STOP) {
                    break;
                }
                p = we;
                end = we;
                continue;
            }
            c => {
                p += c.len_utf8();
                if !matches!(c, ' ' | ',' | '\u{a0}') {
                    end = p;
                }
                continue;
            }
        }
        end = p;
    }
    // Trim trailing spaces, commas and dots.
    let trimmed = text[start..end.max(start)].trim_end_matches([' ', ',', '.', '\u{a0}', '-']);
    start + trimmed.len()
}

/// Whether the dot at `dot` ends a sentence: it follows a number or a word
/// that is not an address abbreviation, and a capital, a line end or the
/// end of the text follows it.
fn sentence_ends(text: &str, start: usize, dot: usize) -> bool {
    let after = skip_spaces(text, dot + 1);
    let next_ok = match char_at(text, after) {
        None => true,
        Some(c) => after > dot + 1 && (c.is_uppercase() || c == '\n'),
    };
    if !next_ok {
        return false;
    }
    let mut ws = dot;
    while ws > start {
        match char_before(text, ws) {
            Some(c) if is_letter(c) || c == '-' => ws -= c.len_utf8(),
            _ => break,
        }
    }
    if ws == dot {
        return true; // a number or a closing mark before the dot
    }
    let word = &text[ws..dot];
    let abbreviation = word.chars().count() <= 5 && word.starts_with(|c: char| c.is_lowercase());
    !abbreviation
}

/// Start of the word of letters that ends at `end` (at most 24 bytes back).
fn word_start_before(text: &str, end: usize) -> Option<usize> {
    let b = text.as_bytes();
    let mut s = end;
    while letter_before(b, s) {
        // An ASCII letter is one byte, a Cyrillic one two.
        s -= if b[s - 1].is_ascii() { 1 } else { 2 };
        // Markers and house words are at most six letters.
        if end - s > 12 {
            return None;
        }
    }
    (s < end).then_some(s)
}

/// A street line that ends with the house marker word at `house` (`д.`,
/// `дом`): the street marker is found among the few words before it.
fn street_before_house(text: &str, house: usize) -> Option<(usize, usize)> {
    let limit = house.saturating_sub(80);
    let mut p = house;
    while p > limit {
        let c = char_before(text, p)?;
        p -= c.len_utf8();
        if is_letter(c) && !char_before(text, p).is_some_and(is_letter) {
            let we = word_end(text, p);
            if let Some(found) = street_line(text, p, we).filter(|(_, e)| *e > house) {
                return Some(found);
            }
        }
    }
    None
}

/// Appends every address in `text`. Every street line has a dot, a hyphen
/// or a colon near its start (`ул.`, `пр-т`, `д.`, `адрес:`), so the scan
/// visits only those bytes (memchr3) and parses the words around them.
pub(crate) fn scan(text: &str, out: &mut Vec<Finding>) {
    let mut from = 0;
    for p in memchr::memchr3_iter(b'.', b'-', b':', text.as_bytes()) {
        if p < from {
            continue;
        }
        let found = match text.as_bytes()[p] {
            b':' => colon_keyword(text, p),
            _ => {
                // Markers are Cyrillic words: a Cyrillic letter before the
                // dot or hyphen, or nothing to do.
                if p < 2 || !matches!(text.as_bytes()[p - 2], 0xD0 | 0xD1) {
                    continue;
                }
                let Some(ws) = word_start_before(text, p) else {
                    continue;
                };
                let we = word_end(text, ws);
                // Markers and house words are short: `просп`, `пр-кт`, `корп`.
                if we - ws > 12 {
                    continue;
                }
                let mut buf = [0u8; 64];
                let w = folded(text, ws, we, &mut buf);
                if w == "д".as_bytes() || w == "дом".as_bytes() {
                    street_before_house(text, ws).or_else(|| house_only(text, ws))
                } else if is_in(w, PARTS) {
                    street_before_house(text, ws)
                } else if is_in(w, ABBREV) {
                    street_line(text, ws, we)
                } else {
                    None
                }
            }
        };
        if let Some((start, end)) = found.filter(|(s, e)| e > s && *e > from) {
            let start = start.max(from);
            out.push(Finding {
                start,
                end,
                class: FieldClass::Address,
            });
            from = end;
        }
    }
}

/// `адрес:`, `по адресу:`, `Адрес регистрации:` ending at the colon at `p`:
/// the label before the colon (letters and spaces) must hold «адрес».
fn colon_keyword(text: &str, p: usize) -> Option<(usize, usize)> {
    let limit = p.saturating_sub(60);
    let mut q = p;
    while q > limit {
        match char_before(text, q) {
            Some(c) if is_letter(c) || c == ' ' => q -= c.len_utf8(),
            _ => break,
        }
    }
    let mut buf = [0u8; 64];
    let label = folded(text, q, p, &mut buf);
    let key = "адрес".as_bytes();
    let at = label.windows(key.len()).position(|w| w == key)?;
    let s = q + at;
    if char_before(text, s).is_some_and(is_letter) {
        return None;
    }
    keyword_line(text, s, word_end(text, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        scan(text, &mut out);
        out.iter().map(|f| &text[f.start..f.end]).collect()
    }

    const VALID: [(&str, &str); 12] = [
        (
            "г. Уфа, ул. Академика Бардина, д. 97/2, кв. 385, этаж",
            "ул. Академика Бардина, д. 97/2, кв. 385",
        ),
        ("живёт на пр-т Ленина 5-12 давно", "пр-т Ленина 5-12"),
        ("улица Ленина, дом 5, кв. 3", "улица Ленина, дом 5, кв. 3"),
        (
            "Ленинский проспект, д. 3, корп. 2, кв. 7",
            "Ленинский проспект, д. 3, корп. 2, кв. 7",
        ),
        ("пер. Северный, д. 5", "пер. Северный, д. 5"),
        (
            "ул. 8 Марта, д. 134а, кв. 370",
            "ул. 8 Марта, д. 134а, кв. 370",
        ),
        ("Варшавское ш., д. 1, стр. 2", "Варшавское ш., д. 1, стр. 2"),
        ("б-р Культуры, д. 4", "б-р Культуры, д. 4"),
        ("ул. Сибирский тракт, д. 12", "ул. Сибирский тракт, д. 12"),
        (
            "наб. Реки Фонтанки, д. 10, кв. 1",
            "наб. Реки Фонтанки, д. 10, кв. 1",
        ),
        ("ремонт д. 5, кв. 12 завершён", "д. 5, кв. 12"),
        ("ул. 50 лет Октября, д. 2", "ул. 50 лет Октября, д. 2"),
    ];

    const INVALID: [&str; 10] = [
        "622824, Свердловская область, г. Нижний Тагил",
        "г. Курган",
        "Проживает с семьёй.",
        "д.р. 11.05.2003",
        "в/м № 5, ЛФК",
        "Диклофенак 75 мг",
        "Улица была пуста",
        "по ул",
        "д. 5 раз в день",
        "пл. 12",
    ];

    #[test]
    fn valid_vectors() {
        for (text, addr) in VALID {
            assert_eq!(found(text), vec![addr], "{text}");
        }
    }

    #[test]
    fn invalid_vectors() {
        for text in INVALID {
            assert!(found(text).is_empty(), "{text}: {:?}", found(text));
        }
    }

    #[test]
    fn keyword_lines() {
        let t = "Проживает по адресу: г. Курган, ул. Академика Бардина, д. 97/2, кв. 385. Диагноз: M54.5";
        assert_eq!(
            found(t),
            vec!["г. Курган, ул. Академика Бардина, д. 97/2, кв. 385"]
        );
        let t = "Адрес регистрации: 640686, г. Курган, Советская 115-219; тел. 8";
        assert_eq!(found(t), vec!["640686, г. Курган, Советская 115-219"]);
        let t = "адрес: ул. Ленина, д. 5, тел. 8 912 345-67-89";
        assert_eq!(found(t), vec!["ул. Ленина, д. 5"]);
    }
}
