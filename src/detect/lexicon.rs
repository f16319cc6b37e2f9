//! Russian given names, from a real linguistic resource rather than a list
//! of one corpus: every singular case form of every lexeme the OpenCorpora
//! dictionary tags `Name` (`rules/names/given.txt`, CC BY-SA 3.0; built by
//! `scripts/name-lexicon/`), and those forms that are also ordinary words
//! (`rules/names/ambiguous.txt`: Вера, Надежда, Роман, Слава...).
//!
//! A name starts at a capital, which the name scanner already visits, so
//! the question asked here is "is this whole capitalised word a given
//! name?". Each list is an aho-corasick automaton of the capitalised forms,
//! searched anchored at the word's start: the word is a name when the
//! longest form that starts it ends where it ends. Both are built once per
//! process ([`warm`]).

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, Anchored, Input, MatchKind, StartKind};

const GIVEN: &str = include_str!("../../rules/names/given.txt");
const AMBIGUOUS: &str = include_str!("../../rules/names/ambiguous.txt");

struct Lexicon {
    given: AhoCorasick,
    ambiguous: AhoCorasick,
    latin: AhoCorasick,
    eponym_heads: AhoCorasick,
}

/// Stems of the clinical nouns that head an eponym (`Болезнь Бехтерева`,
/// `Лимфома Ходжкина`, `Проба Манту`), capitalised as at a sentence's start.
const EPONYM_HEADS: &[&str] = &[
    "болезн",
    "синдром",
    "симптом",
    "признак",
    "феномен",
    "рефлекс",
    "проб",
    "тест",
    "реакци",
    "метод",
    "методик",
    "операци",
    "шкал",
    "индекс",
    "классификаци",
    "критери",
    "лимфом",
    "сарком",
    "опухол",
    "ангин",
    "паралич",
    "перелом",
    "грыж",
    "язв",
    "аномали",
    "дивертикул",
    "кист",
    "тиреоидит",
    "энцефалопати",
    "атакси",
    "хоре",
    "дистрофи",
    "миопати",
    "пятн",
    "узелк",
    "клетк",
    "триад",
    "формул",
    "точк",
    "лини",
    "зон",
    "желез",
    "окраск",
    "посев",
    "доступ",
    "резекци",
    "пластик",
];

/// A list's entries (lines that are not `#` comments), capitalised as they
/// stand in prose.
fn capitalised(list: &str) -> Vec<String> {
    list.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut c = l.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        })
        .collect()
}

fn automaton(list: &str) -> AhoCorasick {
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .start_kind(StartKind::Anchored)
        .build(capitalised(list))
        .expect("the shipped name lists compile")
}

/// The Latin spellings of one lower-case Cyrillic form: ICAO 9303 (Russian
/// passports since 2013: `Мария` → `mariia`, `Юрий` → `iurii`) and the
/// popular one (`mariya`, `yuriy`), with its usual short forms of a final
/// -ий (`yuri`, `yury`) and `x` for `кс` (`alexandr`). Letters outside the
/// Cyrillic alphabet give no spelling.
fn latin_spellings(form: &str) -> Vec<String> {
    fn letter(c: char, icao: bool) -> Option<&'static str> {
        Some(match c {
            'а' => "a",
            'б' => "b",
            'в' => "v",
            'г' => "g",
            'д' => "d",
            'е' | 'ё' | 'э' => "e",
            'ж' => "zh",
            'з' => "z",
            'и' => "i",
            'й' => {
                if icao {
                    "i"
                } else {
                    "y"
                }
            }
            'к' => "k",
            'л' => "l",
            'м' => "m",
            'н' => "n",
            'о' => "o",
            'п' => "p",
            'р' => "r",
            'с' => "s",
            'т' => "t",
            'у' => "u",
            'ф' => "f",
            'х' => "kh",
            'ц' => "ts",
            'ч' => "ch",
            'ш' => "sh",
            'щ' => "shch",
            'ъ' => {
                if icao {
                    "ie"
                } else {
                    ""
                }
            }
            'ы' => "y",
            'ь' => "",
            'ю' => {
                if icao {
                    "iu"
                } else {
                    "yu"
                }
            }
            'я' => {
                if icao {
                    "ia"
                } else {
                    "ya"
                }
            }
            _ => return None,
        })
    }
    let spell = |icao: bool| -> Option<String> {
        form.chars()
            .map(|c| letter(c, icao))
            .collect::<Option<String>>()
    };
    let (Some(icao), Some(popular)) = (spell(true), spell(false)) else {
        return Vec::new();
    };
    let mut out = vec![popular.replace("ks", "x")];
    if let Some(stem) = popular.strip_suffix("iy") {
        out.push(format!("{stem}i"));
        out.push(format!("{stem}y"));
    }
    out.push(icao);
    out.push(popular);
    out.retain(|s| s.len() >= 2);
    out.sort();
    out.dedup();
    out
}

/// The given names of the lexicon in Latin letters, matched whatever their
/// letter case (`Maria`, `MARIA`).
fn latin_automaton() -> AhoCorasick {
    let mut spellings: Vec<String> = GIVEN
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .flat_map(latin_spellings)
        .collect();
    spellings.sort();
    spellings.dedup();
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .start_kind(StartKind::Anchored)
        .ascii_case_insensitive(true)
        .build(spellings)
        .expect("the shipped name lists compile")
}

static LEXICON: LazyLock<Lexicon> = LazyLock::new(|| Lexicon {
    given: automaton(GIVEN),
    ambiguous: automaton(AMBIGUOUS),
    latin: latin_automaton(),
    eponym_heads: automaton(&EPONYM_HEADS.join("\n")),
});

/// Builds the automata now, so that no request pays for it.
pub(crate) fn warm() {
    LazyLock::force(&LEXICON);
}

fn whole(ac: &AhoCorasick, word: &str) -> bool {
    ac.find(Input::new(word).anchored(Anchored::Yes))
        .is_some_and(|m| m.end() == word.len())
}

/// Whether a capitalised word is a form of a given name.
pub(crate) fn is_given_name(word: &str) -> bool {
    whole(&LEXICON.given, word)
}

/// Whether a Latin word (any letter case) is a given name of the lexicon
/// in one of its usual transliterations.
pub(crate) fn is_latin_given(word: &str) -> bool {
    whole(&LEXICON.latin, word)
}

/// When a capitalised word starts with the stem of a clinical noun that
/// heads an eponym, what follows the stem (the name scanner checks it is a
/// case ending).
pub(crate) fn eponym_head_tail(word: &str) -> Option<&str> {
    LEXICON
        .eponym_heads
        .find(Input::new(word).anchored(Anchored::Yes))
        .map(|m| &word[m.end()..])
}

/// Whether a given-name form is also an ordinary word (`Вера`, `Роман`).
pub(crate) fn is_ambiguous(word: &str) -> bool {
    whole(&LEXICON.ambiguous, word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_names_in_every_case_and_spelling() {
        for w in [
            "Мария",
            "Марии",
            "Марией",
            "Антонина",
            "Антонины",
            "Олеся",
            "Ярослав",
            "Тимофея",
            "Милене",
            "Алёна",
            "Алена",
            "Вера",
        ] {
            assert!(is_given_name(w), "{w}");
        }
        // Not names, or not whole: a longer word that starts with a name,
        // a surname, a lower-case word, a word cut short.
        for w in ["Мариечкин", "Иванова", "мария", "Пациентка", "Москва", ""]
        {
            assert!(!is_given_name(w), "{w}");
        }
    }

    #[test]
    fn given_names_in_latin_letters() {
        for w in [
            "Maria",
            "Mariya",
            "Mariia",
            "MARIIA",
            "Yuri",
            "Yuriy",
            "Iurii",
            "Yury",
            "Aleksandr",
            "Alexandr",
            "Dmitry",
            "Dmitrii",
            "Natalya",
            "Nataliia",
            "Sergei",
            "Sergey",
        ] {
            assert!(is_latin_given(w), "{w}");
        }
        for w in ["Chalmers", "Ivanova", "Mariax", "Careful", ""] {
            assert!(!is_latin_given(w), "{w}");
        }
    }

    #[test]
    fn names_that_are_also_words() {
        for w in ["Вера", "Надежда", "Любовь", "Роман", "Слава"] {
            assert!(is_ambiguous(w), "{w}");
        }
        for w in ["Мария", "Антонина", "Тимофей"] {
            assert!(!is_ambiguous(w), "{w}");
        }
    }

    #[test]
    fn the_lists_name_their_source_and_license() {
        for list in [GIVEN, AMBIGUOUS] {
            let head: Vec<&str> = list.lines().take_while(|l| l.starts_with('#')).collect();
            assert!(head.iter().any(|l| l.contains("CC BY-SA 3.0")), "{head:?}");
            assert!(
                head.iter().any(|l| l.contains("opencorpora.org")),
                "{head:?}"
            );
        }
    }
}
