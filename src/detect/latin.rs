//! Russian names written in Latin letters (`Ivanova Maria`, `MARIIA
//! IVANOVA`, `Dmitry Sokolov`), as passports, insurance documents and
//! letters to foreign clinics spell them.
//!
//! A name is two words side by side, either order: a given name the lexicon
//! knows in Latin letters ([`lexicon::is_latin_given`], the Cyrillic lexicon
//! transliterated) and a word with a Russian surname ending in Latin
//! (-ov, -eva, -in, -sky, -skaya, -enko, -uk, -dze, -shvili...). A Latin
//! patronymic after them (-ovna, -evich) belongs to the name too. Both parts
//! are needed: English prose is full of capitalised given names (Mark,
//! Roman, Vera) and of surnames, and neither alone names a Russian patient.
//! A word is Capitalised or ALL CAPITALS, ASCII letters, optionally two parts
//! joined by a hyphen.

use super::text::next_ascii_upper;
use super::{FieldClass, Finding, lexicon};

/// Russian surname endings as transliterated (ICAO 9303 and the common
/// popular spellings); a surname doesn't decline in Latin prose.
const SURNAME_ENDINGS: &[&str] = &[
    "ova", "eva", "ina", "yna", "ov", "ev", "in", "yn", "sky", "skiy", "skii", "skij", "ski",
    "skaya", "skaia", "tskaya", "enko", "uk", "yuk", "iuk", "chuk", "yan", "dze", "shvili", "ikh",
    "ykh", "vich",
];

const PATRONYMIC_ENDINGS: &[&str] = &[
    "ovna", "evna", "ichna", "ovich", "evich", "ich", "ovic", "evic",
];

/// The end of the Latin word that starts at `pos`, when one does: a capital
/// and then small letters only, or capitals only (at least two letters);
/// one hyphen may join two such parts. It must not be glued to other
/// letters or digits on either side.
fn word_at(b: &[u8], pos: usize) -> Option<usize> {
    if pos > 0 && (b[pos - 1].is_ascii_alphanumeric() || b[pos - 1] >= 0x80) {
        return None;
    }
    let part = |from: usize| -> Option<usize> {
        if !b.get(from)?.is_ascii_uppercase() {
            return None;
        }
        let mut end = from + 1;
        let upper = b.get(end).is_some_and(u8::is_ascii_uppercase);
        while b.get(end).is_some_and(|c| {
            if upper {
                c.is_ascii_uppercase()
            } else {
                c.is_ascii_lowercase()
            }
        }) {
            end += 1;
        }
        (end - from >= 2).then_some(end)
    };
    let mut end = part(pos)?;
    if b.get(end) == Some(&b'-')
        && let Some(e) = part(end + 1)
    {
        end = e;
    }
    match b.get(end) {
        Some(c) if c.is_ascii_alphanumeric() || *c >= 0x80 => None,
        _ => Some(end),
    }
}

fn ends_with_any(word: &[u8], endings: &[&str], min_stem: usize) -> bool {
    endings.iter().any(|e| {
        word.len() >= e.len() + min_stem
            && word[word.len() - e.len()..].eq_ignore_ascii_case(e.as_bytes())
    })
}

/// A word with a Russian surname ending and a stem of three letters or more
/// (`Popov`, `Ivanova`, `Tsereteli` is not one: the lexicon of endings is
/// the Russian one).
fn surname_shaped(word: &[u8]) -> bool {
    // The last hyphenated part carries the ending (`Petrova-Vodkina`).
    let last = word.rsplit(|&c| c == b'-').next().unwrap_or(word);
    // -in and -ina follow a consonant in Russian surnames (Pushkin, Ilyin);
    // after a vowel they are English or German (Twain, Stein, Klein).
    let lower = last.to_ascii_lowercase();
    let after_vowel = |ending: &str| {
        lower
            .strip_suffix(ending.as_bytes())
            .and_then(|stem| stem.last())
            .is_some_and(|c| b"aeou".contains(c))
    };
    ends_with_any(last, SURNAME_ENDINGS, 3)
        && !ends_with_any(last, PATRONYMIC_ENDINGS, 3)
        && !after_vowel("in")
        && !after_vowel("ina")
}

fn given(word: &str) -> bool {
    lexicon::is_latin_given(word)
}

/// Appends every Latin-letter Russian name in `text`.
pub(crate) fn scan(text: &str, out: &mut Vec<Finding>) {
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(pos) = next_ascii_upper(b, i) {
        let Some(w_end) = word_at(b, pos) else {
            i = pos + 1;
            continue;
        };
        i = w_end;
        if b.get(w_end) != Some(&b' ') {
            continue;
        }
        let next = w_end + 1;
        let Some(n_end) = word_at(b, next) else {
            continue;
        };
        let (w, n) = (&text[pos..w_end], &text[next..n_end]);
        let named = (given(w) && surname_shaped(n.as_bytes()))
            || (surname_shaped(w.as_bytes()) && given(n));
        if !named {
            continue;
        }
        let mut end = n_end;
        if b.get(end) == Some(&b' ')
            && let Some(p_end) = word_at(b, end + 1)
            && ends_with_any(&b[end + 1..p_end], PATRONYMIC_ENDINGS, 3)
        {
            end = p_end;
        }
        out.push(Finding {
            start: pos,
            end,
            class: FieldClass::FullName,
        });
        i = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        scan(text, &mut out);
        out.iter().map(|f| &text[f.start..f.end]).collect()
    }

    #[test]
    fn russian_names_in_latin_letters() {
        for (text, name) in [
            ("Seen by Ivanova Maria today", "Ivanova Maria"),
            ("patient Maria Ivanova, 54", "Maria Ivanova"),
            ("MARIIA IVANOVA", "MARIIA IVANOVA"),
            ("Dear Dmitry Sokolov,", "Dmitry Sokolov"),
            ("Dmitrii Sokolovskii", "Dmitrii Sokolovskii"),
            ("Yuliya Kovalenko was", "Yuliya Kovalenko"),
            ("Aleksandr Petrov-Vodkin", "Aleksandr Petrov-Vodkin"),
            (
                "Anna Sergeevna? no: Petrova Anna Sergeevna.",
                "Petrova Anna Sergeevna",
            ),
            ("Giorgi? Nino Beridze", "Nino Beridze"),
            ("Sergei Ivanovich", ""),
        ] {
            let want: Vec<&str> = if name.is_empty() { vec![] } else { vec![name] };
            assert_eq!(names(text), want, "{text}");
        }
    }

    #[test]
    fn english_names_and_words_are_not_russian_names() {
        for text in [
            "Peter James Chalmers was seen by Adam Careful",
            "Mark Twain and the Roman Empire",
            "Anna Klein and Boris Stein",
            "Vera Bradley handbag",
            "Ivanov alone is a surname",
            "Maria alone is a name",
            "xMaria Ivanova glued to a letter",
            "Maria Ivanova2",
            "MARIA ivanova",
            "",
        ] {
            assert!(names(text).is_empty(), "{text}: {:?}", names(text));
        }
    }
}
