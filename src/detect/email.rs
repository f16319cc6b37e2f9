//! E-mail addresses: a local part (`A-Za-z0-9._%+-`, Cyrillic letters
//! allowed), `@`, and a domain of at least two labels whose last label (the
//! TLD) has two or more letters. Labels may be Cyrillic (`почта@клиника.рф`).
//!
//! Found from each `@` (memchr), expanding left over the local part and right
//! over the domain; a trailing dot (end of sentence) is not part of it.

use super::text::{char_at, char_before};
use crate::class::FieldClass;

fn is_local_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '.' | '_' | '%' | '+' | '-')
        || ('\u{400}'..='\u{4FF}').contains(&c)
}

fn is_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || ('\u{400}'..='\u{4FF}').contains(&c)
}

/// The e-mail address around the `@` at `at`, as a byte range.
pub(crate) fn match_at(text: &str, at: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    // Local part: at most 64 bytes, not starting or ending with a dot.
    let mut start = at;
    while let Some(c) = char_before(text, start).filter(|c| is_local_char(*c)) {
        if at - start >= 64 {
            break;
        }
        start -= c.len_utf8();
    }
    while start < at && b[start] == b'.' {
        start += 1;
    }
    if start == at || b[at - 1] == b'.' {
        return None;
    }
    // Domain: labels separated by single dots.
    let mut pos = at + 1;
    let mut labels = 0;
    let mut end = None;
    loop {
        let label_start = pos;
        let mut letters_only = true;
        while let Some(c) = char_at(text, pos).filter(|c| is_label_char(*c)) {
            letters_only &= c.is_alphabetic();
            pos += c.len_utf8();
        }
        let label = &text[label_start..pos];
        if label.is_empty() || label.starts_with('-') || label.ends_with('-') {
            break;
        }
        labels += 1;
        if labels >= 2 && letters_only && label.chars().count() >= 2 {
            end = Some(pos);
        }
        if b.get(pos) == Some(&b'.') && char_at(text, pos + 1).is_some_and(is_label_char) {
            pos += 1;
        } else {
            break;
        }
    }
    let end = end?;
    // The whole address must not run on into a word.
    if char_at(text, end).is_some_and(|c| c.is_alphanumeric() || c == '@') {
        return None;
    }
    Some((start, end))
}

/// Whether a whole value (surrounding spaces ignored) is one e-mail address.
pub fn is_valid_value(value: &str) -> bool {
    super::whole_value_is(value, FieldClass::Email)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: [&str; 10] = [
        "danilov.n03@rambler.ru",
        "galkina.i04@gmail.com",
        "nvsavin@ya.ru",
        "a@b.co",
        "first.last+tag@mail.example.org",
        "user_name%x@sub-domain.example.com",
        "USER@EXAMPLE.RU",
        "почта@клиника.рф",
        "ivan-petrov@list.ru",
        "x1@inbox.ru",
    ];

    const INVALID: [&str; 10] = [
        "plainaddress",
        "@mail.ru",
        "user@",
        "user@localhost",
        "user@mail.r",
        "user@.ru",
        "user@-mail.ru",
        "user.@mail.ru",
        "user@mail..ru",
        "user@@mail.ru",
    ];

    #[test]
    fn valid_vectors() {
        for v in VALID {
            assert!(is_valid_value(v), "{v}");
        }
    }

    #[test]
    fn invalid_vectors() {
        for v in INVALID {
            assert!(!is_valid_value(v), "{v}");
        }
    }

    #[test]
    fn sentence_end_is_not_part_of_the_address() {
        let t = "e-mail: danilov.n03@rambler.ru.";
        let at = t.find('@').unwrap();
        let (s, e) = match_at(t, at).unwrap();
        assert_eq!(&t[s..e], "danilov.n03@rambler.ru");
    }
}
