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
}

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

static LEXICON: LazyLock<Lexicon> = LazyLock::new(|| Lexicon {
    given: automaton(GIVEN),
    ambiguous: automaton(AMBIGUOUS),
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
