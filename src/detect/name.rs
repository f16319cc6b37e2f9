//! Full names in Cyrillic prose:
//!
//! - surname and initials: `Иванов И.И.`, `Иванов И. И.`, `И.И. Иванов`;
//! - given name and patronymic, told by the patronymic suffix (-ович, -евич,
//!   -ич, -овна, -евна, -ична, -инична, and their case forms, or a separate
//!   `оглы`/`кызы`), extended to a capitalised surname right before it or,
//!   failing that, right after it: `Данилов Николай Анатольевич`;
//! - a given name and a surname with no patronymic, in either order and any
//!   case (`Самсонова Антонина`, `Мария Иванова`, `Ивановой Марии`), the
//!   given name known from the lexicon ([`super::lexicon`]). A given name
//!   that is also a word (`Вера`, `Роман`) needs a neighbour shaped like a
//!   surname (`Вера Соколова`, not `Слава России`);
//! - a given name the lexicon does not know (`Гостомысл Федотов`,
//!   `Некрасова Радима`), told by the surname beside it: two capitalised
//!   words side by side, one with a possessive or invariable surname ending
//!   (-ов, -ев, -ин in their case forms; -енко, -ук, -ян, -их, -дзе...). The
//!   first word of a sentence is capitalised whatever it is, so when a third
//!   capitalised word follows, the name is the later pair (`Жалобу
//!   Некрасова Радима`). A bare -ин/-ын
//!   word (`Метформин Канон`, `Инсулин Хумулин`) is a drug more often than a
//!   surname: without a case ending it needs the lexicon;
//! - surname and one initial, either order: `Русаковой Е.`, `А. Кондратьевой`,
//!   the surname shaped as one.
//!
//! A capitalised word is Cyrillic, starts with a capital and goes on in
//! small letters (`ГУ МВД` is not one). Role words that stand before names
//! (Пациент, Врач, …) are never taken for a surname.

use super::text::{
    char_at, char_before, is_cyr_upper, is_letter, letter_before, letter_len, next_capital,
    word_end,
};
use super::{FieldClass, Finding, lexicon};

/// Capitalised words that precede names but are not surnames (a `match`
/// compiles to a length switch, cheaper than a list search).
fn is_role_word(word: &str) -> bool {
    matches!(
        word,
        "Пациент"
            | "Пациентка"
            | "Пациента"
            | "Пациенту"
            | "Пациентке"
            | "Пациентки"
            | "Больной"
            | "Больная"
            | "Больного"
            | "Врач"
            | "Врача"
            | "Врачу"
            | "Доктор"
            | "Доктора"
            | "Медсестра"
            | "Фельдшер"
            | "Заведующий"
            | "Заведующая"
            | "Гражданин"
            | "Гражданка"
            | "Уважаемый"
            | "Уважаемая"
            | "Дорогой"
            | "Дорогая"
            | "Мать"
            | "Отец"
            | "Сын"
            | "Дочь"
            | "Муж"
            | "Жена"
            | "Супруг"
            | "Супруга"
            | "Ребенок"
            | "Ребёнок"
            | "Представитель"
            | "Клиент"
            | "Клиентка"
            | "Сотрудник"
            | "Специалист"
            | "Терапевт"
            | "Хирург"
            | "Невролог"
            | "Кардиолог"
            | "Педиатр"
            | "Лечащий"
            | "Лечащая"
            | "Главный"
            | "Главная"
            | "Просьба"
            | "Подпись"
            | "Вас"
            | "Вам"
            | "Вы"
            | "Для"
            | "Прием"
            | "Приём"
            | "Запись"
            | "Тел"
            | "Диагноз"
            | "Направление"
            | "Консультация"
            | "Осмотр"
            | "Со"
            | "На"
            | "По"
            | "От"
            | "Не"
            | "При"
    )
}

/// Patronymic endings (nominative and oblique cases).
const PATRONYMIC_ENDINGS: &[&str] = &[
    "ич",
    "ича",
    "ичу",
    "ичем",
    "иче",
    "вна",
    "вны",
    "вне",
    "вну",
    "вной",
    "ична",
    "ичны",
    "ичне",
    "ичну",
    "ичной",
];

/// A capitalised Cyrillic word at `pos` (upper first, then small letters,
/// inner hyphens allowed, each part capitalised or small): its end. Works on
/// bytes: capitals are D0 90..AF and D0 81, small letters D0 B0..BF,
/// D1 80..8F and D1 91.
fn cap_word(text: &str, pos: usize) -> Option<usize> {
    let b = text.as_bytes();
    let capital = |i: usize| {
        b.get(i) == Some(&0xD0)
            && b.get(i + 1)
                .is_some_and(|&c| (0x90..=0xAF).contains(&c) || c == 0x81)
    };
    let small = |i: usize| match (b.get(i), b.get(i + 1)) {
        (Some(0xD0), Some(&c)) => (0xB0..=0xBF).contains(&c),
        (Some(0xD1), Some(&c)) => (0x80..=0x8F).contains(&c) || c == 0x91,
        _ => false,
    };
    if !capital(pos) || letter_before(b, pos) {
        return None;
    }
    let mut i = pos + 2;
    let mut letters = 1;
    loop {
        if small(i) {
            i += 2;
            letters += 1;
        } else if b.get(i) == Some(&b'-') && (small(i + 1) || capital(i + 1)) && letters > 1 {
            i += 3;
            letters += 1;
        } else {
            break;
        }
    }
    // A word glued to other letters (Latin, other scripts, a capital) is not one.
    if letters < 2 || letter_len(b, i).is_some() {
        return None;
    }
    Some(i)
}

fn is_patronymic(word: &str) -> bool {
    // Every ending holds «ич» or «вн» within the last five letters.
    let b = word.as_bytes();
    let tail = &b[b.len().saturating_sub(10)..];
    let hint = tail
        .windows(4)
        .any(|w| w == "ич".as_bytes() || w == "вн".as_bytes());
    hint && word.chars().count() >= 5 && PATRONYMIC_ENDINGS.iter().any(|e| word.ends_with(e))
}

fn usable_surname(word: &str) -> bool {
    !is_role_word(word) && !is_patronymic(word) && !is_eponym_head(word)
}

/// Whether the word is a clinical noun that heads an eponym (`Болезнь
/// Бехтерева`, `Лимфома Ходжкина`, `Ангина Людвига`, `Проба Манту`): the
/// surname after it names a disease, sign or method, not a person, and the
/// head is capitalised only because it opens a sentence. A stem with a noun
/// case ending; -ов and -ев are left out, so a surname built on the same
/// stem still counts.
fn is_eponym_head(word: &str) -> bool {
    lexicon::eponym_head_tail(word).is_some_and(|tail| EPONYM_ENDINGS.contains(&tail))
}

/// The noun case endings after an eponym head's stem.
const EPONYM_ENDINGS: &[&str] = &[
    "", "а", "у", "ом", "е", "ы", "и", "ь", "ью", "ей", "ой", "ою", "ам", "ами", "ах", "я", "ю",
    "ем", "ям", "ями", "ях",
];

/// Endings of Russian surnames in their case forms: a possessive stem
/// (-ов, -ев, -ин, -ын) or an adjective one (-ск-, -цк-) with its case
/// ending (Иванов, Ивановой, Ильиным, Вяземская, Вяземскому), or an
/// invariable one (-их, -ых, -енко, -дзе, -швили), or -ук, -юк, -ян, which
/// decline for men (Ковальчука, Саркисяну). Only a given name that is also
/// a word needs its neighbour to have one.
fn surname_shaped(word: &str) -> bool {
    surname_shape(word).is_some()
}

/// Which kind of surname ending a word has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// -ов, -ев, -ин... with a case ending (Иванова, Ильиным).
    Possessive,
    /// -ин, -ын with no ending: a drug's name as often (Метформин).
    BareIn,
    /// -ский, -цкая...: an adjective, like the names of places and bodies.
    Adjective,
    /// -енко, -их, -ук, -ян...
    Invariable,
}

fn surname_shape(word: &str) -> Option<Shape> {
    const POSSESSIVE: &[&str] = &["ов", "ев", "ёв", "ин", "ын"];
    const POSSESSIVE_CASES: &[&str] = &["а", "у", "ым", "е", "ой", "ою", "ы"];
    const ADJECTIVE: &[&str] = &["ск", "цк"];
    const ADJECTIVE_CASES: &[&str] = &["ий", "ая", "ого", "ому", "им", "ом", "ой", "ую"];
    const INVARIABLE: &[&str] = &["их", "ых", "енко", "дзе", "швили"];
    const MALE_DECLINED: &[&str] = &["ук", "юк", "ян"];
    const MALE_CASES: &[&str] = &["", "а", "у", "ом", "е"];
    let stem_case = |stems: &[&str], cases: &[&str]| {
        cases.iter().any(|c| {
            word.strip_suffix(c)
                .is_some_and(|w| stems.iter().any(|s| w.ends_with(s)))
        })
    };
    if word.chars().count() < 4 {
        return None;
    }
    if ["ов", "ев", "ёв"].iter().any(|e| word.ends_with(e))
        || stem_case(POSSESSIVE, POSSESSIVE_CASES)
    {
        Some(Shape::Possessive)
    } else if ["ин", "ын"].iter().any(|e| word.ends_with(e)) {
        Some(Shape::BareIn)
    } else if stem_case(ADJECTIVE, ADJECTIVE_CASES) {
        Some(Shape::Adjective)
    } else if INVARIABLE.iter().any(|e| word.ends_with(e)) || stem_case(MALE_DECLINED, MALE_CASES) {
        Some(Shape::Invariable)
    } else {
        None
    }
}

/// A surname ending strong enough to name a person beside any capitalised
/// word: possessive with a case ending, or invariable.
fn tells_a_surname(word: &str) -> bool {
    matches!(
        surname_shape(word),
        Some(Shape::Possessive | Shape::Invariable)
    ) && usable_surname(word)
}

/// Whether the word at `pos` follows a street or place word (`ул.`,
/// `проспект`, `им.`): streets and bodies named after people
/// (`ул. Академика Бардина`) are not persons.
fn after_place_word(text: &str, pos: usize) -> bool {
    const PLACE_WORDS: &[&str] = &[
        "ул.",
        "улица",
        "улицы",
        "пр.",
        "пр-т",
        "проспект",
        "пер.",
        "переулок",
        "пл.",
        "площадь",
        "б-р",
        "бульвар",
        "наб.",
        "набережная",
        "ш.",
        "шоссе",
        "им.",
        "имени",
        "г.",
        "пос.",
        "мкр.",
        "проезд",
    ];
    let before = text[..pos].trim_end_matches([' ', '\u{a0}']);
    let start = before
        .char_indices()
        .rev()
        .find(|&(_, c)| !(is_letter(c) || c == '.' || c == '-'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let word = before[start..].to_lowercase();
    PLACE_WORDS.contains(&word.as_str())
}

/// Whether the word at `pos` opens a sentence: nothing before it but
/// spaces, or a mark that ends a sentence or opens a quote, list or aside.
/// A word after a letter, digit or comma stands inside a sentence, where
/// only names and other proper nouns are capitalised.
fn opens_sentence(text: &str, pos: usize) -> bool {
    let before = text[..pos].trim_end_matches([' ', '\u{a0}']);
    match before.chars().next_back() {
        None => true,
        Some(c) => !(is_letter(c) || c.is_ascii_digit() || c == ','),
    }
}

/// A given name and a surname side by side, either order: `first` and
/// `second` are the two capitalised words.
fn given_and_surname(first: &str, second: &str) -> bool {
    let pair = |given: &str, surname: &str| {
        lexicon::is_given_name(given)
            && usable_surname(surname)
            && (!lexicon::is_ambiguous(given) || surname_shaped(surname))
    };
    pair(first, second) || pair(second, first)
}

/// One space (or no-break space) at `pos`: the offset after it.
fn one_space(text: &str, pos: usize) -> Option<usize> {
    match char_at(text, pos)? {
        ' ' | '\u{a0}' => {
            let next = pos + char_at(text, pos)?.len_utf8();
            (!matches!(char_at(text, next), Some(' ' | '\u{a0}'))).then_some(next)
        }
        _ => None,
    }
}

/// Two initials at `pos` (`И.И.` or `И. И.`): the offset after the second dot.
fn initials(text: &str, pos: usize) -> Option<usize> {
    let b = text.as_bytes();
    let c1 = char_at(text, pos)?;
    if !is_cyr_upper(c1) || char_before(text, pos).is_some_and(is_letter) {
        return None;
    }
    let mut p = pos + c1.len_utf8();
    (b.get(p) == Some(&b'.')).then_some(())?;
    p += 1;
    if b.get(p) == Some(&b' ') {
        p += 1;
    }
    let c2 = char_at(text, p)?;
    is_cyr_upper(c2).then_some(())?;
    p += c2.len_utf8();
    (b.get(p) == Some(&b'.')).then_some(())?;
    p += 1;
    // `И.И.Иванов` reads as initials glued to a surname: still initials.
    Some(p)
}

/// One initial at `pos` (`Е.`) that is not the first of two: the offset
/// after its dot.
fn one_initial(text: &str, pos: usize) -> Option<usize> {
    let c = char_at(text, pos)?;
    if !is_cyr_upper(c) || char_before(text, pos).is_some_and(is_letter) {
        return None;
    }
    let p = pos + c.len_utf8();
    (text.as_bytes().get(p) == Some(&b'.')).then_some(())?;
    (initials(text, pos).is_none()).then_some(p + 1)
}

/// The capitalised word that ends one space before `pos`: its start.
fn cap_word_before(text: &str, pos: usize) -> Option<usize> {
    let sp = char_before(text, pos)?;
    if !matches!(sp, ' ' | '\u{a0}') {
        return None;
    }
    let end = pos - sp.len_utf8();
    let mut start = end;
    while let Some(c) = char_before(text, start) {
        if is_letter(c) || c == '-' {
            start -= c.len_utf8();
        } else {
            break;
        }
    }
    (start < end && cap_word(text, start) == Some(end)).then_some(start)
}

/// A patronymic one space after `pos` (`Петровна`, `Мамед оглы`): its end.
fn patronymic_after(text: &str, pos: usize) -> Option<usize> {
    let s = one_space(text, pos)?;
    let e = cap_word(text, s)?;
    if is_patronymic(&text[s..e]) {
        return Some(e);
    }
    let o = one_space(text, e)?;
    let o_end = ["оглы", "кызы"]
        .iter()
        .find(|x| text[o..].starts_with(**x))
        .map(|x| o + x.len())?;
    (!char_at(text, o_end).is_some_and(is_letter)).then_some(o_end)
}

/// A full name starting at `pos`: its end.
fn match_at(text: &str, pos: usize) -> Option<(usize, usize)> {
    // Initials first: `И.И. Иванов`.
    if let Some(after) = initials(text, pos) {
        let s = one_space(text, after).unwrap_or(after);
        if let Some(end) = cap_word(text, s).filter(|&e| usable_surname(&text[s..e])) {
            return Some((pos, end));
        }
        return None;
    }
    // One initial and a surname: `А. Кондратьевой`.
    if let Some(after) = one_initial(text, pos) {
        let s = one_space(text, after)?;
        let end = cap_word(text, s)?;
        let surname = &text[s..end];
        let ok = surname_shaped(surname) && usable_surname(surname) && !after_place_word(text, pos);
        return ok.then_some((pos, end));
    }
    let w_end = cap_word(text, pos)?;
    let w = &text[pos..w_end];
    let next = one_space(text, w_end)?;
    // Surname and initials: `Иванов И.И.`, or one initial after a word
    // shaped as a surname: `Русаковой Е.`
    if let Some(end) = initials(text, next)
        && !char_at(text, end).is_some_and(is_letter)
    {
        return usable_surname(w).then_some((pos, end));
    }
    if let Some(end) = one_initial(text, next)
        && surname_shaped(w)
        && usable_surname(w)
    {
        return Some((pos, end));
    }
    // Given name and patronymic.
    let p_end = cap_word(text, next)?;
    let p = &text[next..p_end];
    let opens = opens_sentence(text, pos);
    let mut end = if is_patronymic(p) {
        p_end
    } else if given_and_surname(w, p) {
        // The first word of a sentence before a given name is capitalised
        // whatever it is (`Звонила Дарья Алексеева`): when a capitalised
        // word follows the given name, the name is that pair.
        if opens
            && !surname_shaped(w)
            && lexicon::is_given_name(p)
            && one_space(text, p_end)
                .and_then(|s| cap_word(text, s))
                .is_some()
        {
            return None;
        }
        // A given name and a surname; a patronymic after them belongs to
        // the name too (`Иванова Мария Петровна`).
        return Some((pos, patronymic_after(text, p_end).unwrap_or(p_end)));
    } else if !after_place_word(text, pos) && (tells_a_surname(w) && usable_surname(p))
        || (tells_a_surname(p)
            && !after_place_word(text, pos)
            && usable_surname(w)
            && !(opens
                && one_space(text, p_end)
                    .and_then(|s| cap_word(text, s))
                    .is_some()))
    {
        // A given name the lexicon does not know, beside a surname.
        return Some((pos, patronymic_after(text, p_end).unwrap_or(p_end)));
    } else {
        // `Рашид Мамед оглы`
        let o = one_space(text, p_end)?;
        let o_end = ["оглы", "кызы"]
            .iter()
            .find(|x| text[o..].starts_with(**x))
            .map(|x| o + x.len())?;
        if char_at(text, o_end).is_some_and(is_letter) {
            return None;
        }
        o_end
    };
    if !usable_surname(w) {
        return None;
    }
    let mut start = pos;
    match cap_word_before(text, pos).filter(|&s| usable_surname(text[s..pos].trim_end())) {
        Some(s) => start = s,
        None => {
            if let Some(s) = one_space(text, end)
                && let Some(e) = cap_word(text, s).filter(|&e| usable_surname(&text[s..e]))
            {
                end = e;
            }
        }
    }
    Some((start, end))
}

/// Appends every full name in `text`.
pub(crate) fn scan(text: &str, out: &mut Vec<Finding>) {
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(p) = next_capital(b, i) {
        i = p;
        match match_at(text, i) {
            Some((start, end)) => {
                out.push(Finding {
                    start,
                    end,
                    class: FieldClass::FullName,
                });
                i = end;
            }
            // Not a name here: go on after this word (`СНИЛС` is one visit).
            None => i = word_end(text, i).max(i + 2),
        }
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

    const VALID: [(&str, &str); 12] = [
        ("Пациент Иванов И.И., 45 лет", "Иванов И.И."),
        ("Врач: Михайлова К.Ф.", "Михайлова К.Ф."),
        ("осмотрен Ивановым И. И. повторно", "Ивановым И. И."),
        ("подпись И.И. Иванов", "И.И. Иванов"),
        ("подпись И. И. Иванов", "И. И. Иванов"),
        (
            "Просьба перезвонить Ольга Анатольевна по номеру",
            "Ольга Анатольевна",
        ),
        (
            "Пациент Данилов Николай Анатольевич, 11.05.2003",
            "Данилов Николай Анатольевич",
        ),
        (
            "ответил Николай Анатольевич Данилов.",
            "Николай Анатольевич Данилов",
        ),
        ("Пациентка Галкина Ирина Ивановна", "Галкина Ирина Ивановна"),
        ("передать Петру Ильичу", "Петру Ильичу"),
        ("Алиев Рашид Мамед оглы, 1980", "Алиев Рашид Мамед оглы"),
        (
            "Римская-Корсакова Анна Павловна",
            "Римская-Корсакова Анна Павловна",
        ),
    ];

    const INVALID: [&str; 10] = [
        "ГУ МВД России по Свердловской области",
        "Боль внизу спины",
        "ООО «Капитал МС»",
        "г. Нижний Тагил",
        "Пациент И.И.",
        "ул. Академика Бардина",
        "COVID-19, вирус идентифицирован",
        "Острая инфекция верхних дыхательных путей",
        "Диагноз: M54.5 Боль",
        "Программа ДМС № 32",
    ];

    /// No patronymic: the given name comes from the lexicon.
    const WITHOUT_PATRONYMIC: [(&str, &str); 9] = [
        (
            "Пациентка Самсонова Антонина, 1943 г.р.",
            "Самсонова Антонина",
        ),
        ("звонила Мария Иванова по поводу записи", "Мария Иванова"),
        ("передать Ивановой Марии результаты", "Ивановой Марии"),
        ("с Тимофеем Громовым согласовано", "Тимофеем Громовым"),
        (
            "Иванова Мария Петровна, 30.11.1943",
            "Иванова Мария Петровна",
        ),
        ("Вера Соколова пришла на приём", "Вера Соколова"),
        ("Любовь Орлова, палата 3", "Любовь Орлова"),
        ("консультировал Ярослав Ким", "Ярослав Ким"),
        ("сообщить Алёне Зайцевой", "Алёне Зайцевой"),
    ];

    /// Given names that are also words, next to a capitalised word that is
    /// no surname; capitalised words that are no given names.
    const NOT_NAMES: [&str; 7] = [
        "Слава России",
        "Надежда Москвы на победу",
        "Роман Толстого прочитан",
        "Вера в выздоровление",
        "Городская Больница № 2",
        "Тверская Область",
        "Мария",
    ];

    /// Given names the lexicon does not know, told by the surname beside
    /// them; one initial with a surname.
    const BY_THE_SURNAME: [(&str, &str); 14] = [
        (
            "Гостомысл Федотов (1951 г.р.) — жалобы",
            "Гостомысл Федотов",
        ),
        ("Жалобу Некрасова Радима передали", "Некрасова Радима"),
        (
            "Соединили с Гостомыслом Крюковым, вопрос снят",
            "Гостомыслом Крюковым",
        ),
        ("Звонил Мина Герасимов, просит", "Мина Герасимов"),
        (
            "Результаты отправлены Шевченко Вышеславу, номер",
            "Шевченко Вышеславу",
        ),
        ("Со слов Саркисяна Андрона, у мамы", "Саркисяна Андрона"),
        ("Звонила Дарья Алексеева, просит", "Дарья Алексеева"),
        ("Амбулаторную карту Русаковой Е. передали", "Русаковой Е."),
        ("Консультация А. Кондратьевой перенесена", "А. Кондратьевой"),
        ("Осмотр провёл Е. Калинин, диагноз", "Е. Калинин"),
        ("Талон для Ковальчук А. аннулирован", "Ковальчук А."),
        ("По поручению И. Мельничука пациенту", "И. Мельничука"),
        ("Консультация В. Долгих перенесена", "В. Долгих"),
        ("Направлен к Новицкому С., приём", "Новицкому С."),
    ];

    /// Capitalised pairs that name nobody.
    const NOT_PERSONS: [&str; 18] = [
        "Болезнь Бехтерева, HLA-B27 положительный",
        "Лимфома Ходжкина в анамнезе",
        "Ангина Людвига исключена",
        "Синдромом Иценко-Кушинга не страдает",
        "Проба Манту отрицательная",
        "назначен Метформин Канон по 500 мг",
        "Инсулин Хумулин 10 ЕД перед едой",
        "Аспирин Кардио 100 мг на ночь",
        "Жалобу Пациента передали",
        "Запись на приём к терапевту",
        "в Московской Области",
        "Российской Федерации",
        "Приложение Б. к договору",
        "Корпус В. этаж 2",
        "витамин Д. Назначен повторно",
        "анализ мочи по Нечипоренко, болезнь Боткина",
        "Результатов пока нет",
        "ул. Маршала Жукова, д. 5",
    ];

    #[test]
    fn names_told_by_the_surname() {
        for (text, name) in BY_THE_SURNAME {
            assert_eq!(names(text), vec![name], "{text}");
        }
        for text in NOT_PERSONS {
            assert!(names(text).is_empty(), "{text}: {:?}", names(text));
        }
    }

    #[test]
    fn names_without_a_patronymic() {
        for (text, name) in WITHOUT_PATRONYMIC {
            assert_eq!(names(text), vec![name], "{text}");
        }
        for text in NOT_NAMES {
            assert!(names(text).is_empty(), "{text}: {:?}", names(text));
        }
    }

    #[test]
    fn valid_vectors() {
        for (text, name) in VALID {
            assert_eq!(names(text), vec![name], "{text}");
        }
    }

    #[test]
    fn invalid_vectors() {
        for text in INVALID {
            assert!(names(text).is_empty(), "{text}: {:?}", names(text));
        }
    }
}
