//! Key normalization: `snils`, `SNILS`, `snils_number`, `snilsNumber` and
//! `СНИЛС` are one key family.
//!
//! A key is split into words at separators and camelCase boundaries,
//! lower-cased, and Cyrillic is transliterated to Latin, so a family written
//! once in the rules matches every spelling an MIS uses.

/// The words of a key, normalized.
pub fn words(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = key.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            flush(&mut cur, &mut out);
            continue;
        }
        if !cur.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            // fooBar | FOOBar (split before the last capital of a run) | a1 -> keep
            let boundary = (prev.is_lowercase() && c.is_uppercase())
                || (prev.is_uppercase() && c.is_uppercase() && next_lower)
                || (prev.is_alphabetic() != c.is_alphabetic());
            if boundary {
                flush(&mut cur, &mut out);
            }
        }
        for l in c.to_lowercase() {
            transliterate(l, &mut cur);
        }
    }
    flush(&mut cur, &mut out);
    out
}

fn flush(cur: &mut String, out: &mut Vec<String>) {
    if !cur.is_empty() {
        out.push(std::mem::take(cur));
    }
}

/// A simple Cyrillic-to-Latin transliteration; what matters is that rules
/// and keys go through the same one.
fn transliterate(c: char, out: &mut String) {
    match latin(c) {
        Some(s) => out.push_str(s),
        None => out.push(c),
    }
}

/// The Latin spelling of a lower-case Cyrillic letter (`None` for any other
/// character). The synthetic generator spells e-mail addresses with it too.
pub fn latin(c: char) -> Option<&'static str> {
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
        'й' | 'ы' => "y",
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
        'ъ' | 'ь' => "",
        'ю' => "yu",
        'я' => "ya",
        _ => return None,
    })
}

/// The words of a key as one string joined by `_`, for map lookups.
pub fn normalize(key: &str) -> String {
    words(key).join("_")
}

/// The singular of the last word, if it looks like an English plural.
pub fn singular(words: &[String]) -> Option<Vec<String>> {
    let last = words.last()?;
    let stem = if let Some(s) = last.strip_suffix("ies") {
        format!("{s}y")
    } else if last.ends_with("sses") || last.ends_with("xes") {
        last[..last.len() - 2].to_owned()
    } else if last.ends_with('s') && !last.ends_with("ss") && last.len() > 3 {
        last[..last.len() - 1].to_owned()
    } else {
        return None;
    };
    let mut w = words.to_vec();
    *w.last_mut()? = stem;
    Some(w)
}

/// Whether a key is one that paging needs (`page`, `pageSize`,
/// `next_cursor`, `total`): at a page's root, an allowlist purpose keeps
/// it. Compared without case, `_` and `-`.
pub fn paging(key: &str) -> bool {
    const KEYS: [&str; 22] = [
        "page",
        "pages",
        "pagesize",
        "perpage",
        "pagenumber",
        "limit",
        "offset",
        "size",
        "next",
        "prev",
        "previous",
        "cursor",
        "nextcursor",
        "prevcursor",
        "nextpage",
        "prevpage",
        "hasmore",
        "hasnext",
        "total",
        "count",
        "totalcount",
        "totalpages",
    ];
    if key.len() > 16 {
        return false;
    }
    let mut k = [0u8; 16];
    let mut n = 0;
    for b in key.bytes() {
        if b != b'_' && b != b'-' {
            k[n] = b.to_ascii_lowercase();
            n += 1;
        }
    }
    KEYS.iter().any(|w| w.as_bytes() == &k[..n])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_family_many_spellings() {
        for k in ["snils", "SNILS", "Snils", "СНИЛС", "снилс"] {
            assert_eq!(words(k), ["snils"], "{k}");
        }
        assert_eq!(words("snils_number"), ["snils", "number"]);
        assert_eq!(words("snilsNumber"), ["snils", "number"]);
        assert_eq!(words("SNILSNumber"), ["snils", "number"]);
        assert_eq!(words("snils-number"), ["snils", "number"]);
        assert_eq!(words("Дата рождения"), ["data", "rozhdeniya"]);
        assert_eq!(words("датаРождения"), ["data", "rozhdeniya"]);
        assert_eq!(words("ДАТА_РОЖДЕНИЯ"), ["data", "rozhdeniya"]);
        assert_eq!(words("icd10"), ["icd", "10"]);
        assert_eq!(words("e-mail"), ["e", "mail"]);
        assert_eq!(words("  "), Vec::<String>::new());
    }

    #[test]
    fn plurals() {
        let w = |s: &str| words(s);
        assert_eq!(singular(&w("phones")), Some(w("phone")));
        assert_eq!(singular(&w("addresses")), Some(w("address")));
        assert_eq!(
            singular(&w("identityDocuments")),
            Some(w("identityDocument"))
        );
        assert_eq!(singular(&w("address")), None);
        assert_eq!(singular(&w("diagnoses")), Some(w("diagnose")));
    }
}
