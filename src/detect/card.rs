//! Bank card numbers (PAN): 13 to 19 digits with a Luhn check digit and the
//! issuer prefix (IIN) and length of a network: Mir 2200–2204, Visa 4,
//! Mastercard 51–55 and 2221–2720, American Express 34/37 (15 digits),
//! UnionPay 62, JCB 3528–3589, Discover 6011/644–649/65, Diners Club
//! 300–305/36/38/39, Maestro 50/56–58/63/67. Written in one run, in groups
//! of four (`2202 2000 0000 0008`, an optional short last group) or in the
//! 4-6-5 and 4-6-4 layouts of American Express and Diners Club.
//!
//! Every Luhn-valid 16-digit number is also a valid ENP (OMS policy), so a
//! 16-digit number is told apart by a keyword before it and, failing that, by
//! its prefix: a card network's prefix makes it a card first (see
//! [`classify16`]). The prefixes of JCB, Discover, UnionPay and Maestro
//! (35, 60, 62, 65...) are also region codes that start ENPs; without a
//! keyword such a number is reported as a card, so a purpose that may see
//! policies but not cards (`care`) masks it: failing closed costs a policy
//! number written without «полис» its digits, where the other way would let
//! a card through.

use super::digits::{Cluster, Sep};
use super::text::{LookBehind, chars_in_sentence_before, sentence_end_after};
use crate::class::FieldClass;

/// Card brands the detector recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Brand {
    Mir,
    Visa,
    Mastercard,
    Amex,
    UnionPay,
    Jcb,
    Discover,
    Diners,
    Maestro,
}

impl Brand {
    /// The card lengths the network issues.
    fn lengths(self) -> std::ops::RangeInclusive<usize> {
        match self {
            Brand::Visa => 13..=19,
            Brand::Amex => 15..=15,
            Brand::Diners => 14..=19,
            // Maestro also issues 12 digits, which an INN has too: left out.
            Brand::Maestro => 13..=19,
            Brand::Mir | Brand::Mastercard | Brand::UnionPay | Brand::Jcb | Brand::Discover => {
                16..=19
            }
        }
    }
}

/// Luhn (ISO/IEC 7812-1) check over ASCII digits, check digit last.
pub fn luhn(digits: &[u8]) -> bool {
    if digits.len() < 2 || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let v = u32::from(d - b'0');
            if i % 2 == 1 {
                let x = v * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                v
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The brand of a card number by its prefix (IIN), if a known one.
pub fn brand(digits: &[u8]) -> Option<Brand> {
    if digits.len() < 12 || !digits[..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let p4 = digits[..4]
        .iter()
        .fold(0u32, |a, d| a * 10 + u32::from(d - b'0'));
    let p2 = p4 / 100;
    let p3 = p4 / 10;
    Some(match p4 {
        2200..=2204 => Brand::Mir,
        _ if digits[0] == b'4' => Brand::Visa,
        2221..=2720 => Brand::Mastercard,
        _ if (51..=55).contains(&p2) => Brand::Mastercard,
        _ if p2 == 34 || p2 == 37 => Brand::Amex,
        3528..=3589 => Brand::Jcb,
        _ if (300..=305).contains(&p3) || matches!(p2, 36 | 38 | 39) => Brand::Diners,
        6011 => Brand::Discover,
        _ if (644..=649).contains(&p3) || p2 == 65 => Brand::Discover,
        _ if p2 == 62 => Brand::UnionPay,
        _ if matches!(p2, 50 | 56..=58 | 63 | 67) => Brand::Maestro,
        _ => return None,
    })
}

/// True for a Luhn-valid card number of a known network, of a length that
/// network issues.
pub fn is_valid(digits: &[u8]) -> bool {
    brand(digits).is_some_and(|b| b.lengths().contains(&digits.len())) && luhn(digits)
}

/// Keywords (lower case) that say a number is a bank card: the card's
/// names and the words of a payment made with one (оплата, списание,
/// возврат, платёж, транзакция).
pub(crate) const CARD_WORDS: &[&str] = &[
    "карт",
    "card",
    "visa",
    "мир",
    "mastercard",
    "maestro",
    "оплат",
    "списан",
    "возврат",
    "плат",
    "транзакц",
    "деньг",
    "автоплат",
    "payment",
];

/// How far after a number a card word counts, in chars («продиктовал номер
/// … для оплаты»).
const AFTER_CHARS: usize = 40;
/// Keywords (lower case) that say a number is an OMS policy.
pub(crate) const OMS_WORDS: &[&str] = &["полис", "омс", "енп", "policy", "oms", "enp"];

/// How far before a number a keyword counts, in chars.
pub(crate) const KEYWORD_CHARS: usize = 40;

/// Card or OMS policy, for a Luhn-valid 16-digit number starting at `pos`:
/// the nearest keyword within 40 chars decides, otherwise a card network's
/// prefix means a card and anything else an ENP. Returns the classes the
/// number may be reported as, in order of preference; a card only when it
/// has a known network's prefix or a card keyword.
pub(crate) fn classify16(
    text: &str,
    pos: usize,
    end: usize,
    digits: &[u8],
) -> [Option<FieldClass>; 2] {
    // Keywords count within the number's sentence: «полис ОМС привязан.
    // Клиент продиктовал номер …» says nothing of the number.
    let lb = LookBehind::new(
        text,
        pos,
        chars_in_sentence_before(text, pos, KEYWORD_CHARS),
    );
    let card_word = lb.last(CARD_WORDS);
    let oms_word = lb.last(OMS_WORDS);
    let branded = is_valid(digits);
    // A card word right after the number counts when none stands before it.
    let card_after = || {
        let to = sentence_end_after(text, end, AFTER_CHARS);
        let n = text[end..to].chars().count();
        LookBehind::new(text, to, n).contains(CARD_WORDS)
    };
    let after = card_word.is_none() && oms_word.is_none() && card_after();
    let is_card = card_word.is_some() || branded || after;
    let card_first = match (card_word, oms_word) {
        (Some(c), Some(o)) => c > o,
        (Some(_), None) => true,
        (None, Some(_)) => false,
        (None, None) => branded || after,
    };
    match (card_first, is_card) {
        (true, _) => [Some(FieldClass::Card), Some(FieldClass::OmsPolicy)],
        (false, true) => [Some(FieldClass::OmsPolicy), Some(FieldClass::Card)],
        (false, false) => [Some(FieldClass::OmsPolicy), None],
    }
}

/// Whether groups `gi..` of the cluster are written as a card or ENP number:
/// one run of 13–19 digits, groups of four with one separator (space or
/// hyphen) and an optional short last group, or 4-6-5 / 4-6-4. Returns the
/// last group index of every layout that fits, longest first.
pub(crate) fn match_layouts(c: &Cluster<'_>, gi: usize) -> [Option<usize>; 2] {
    let g = c.groups();
    let Some(first) = g.get(gi) else {
        return [None, None];
    };
    if (13..=19).contains(&first.len()) {
        return [Some(gi), None];
    }
    if let Some([a, b, x]) = g.get(gi..gi + 3).and_then(|s| <&[_; 3]>::try_from(s).ok())
        && a.len() == 4
        && b.len() == 6
        && matches!(x.len(), 4 | 5)
        && matches!(b.sep, Sep::Space | Sep::Hyphen)
        && x.sep == b.sep
    {
        return [Some(gi + 2), None];
    }
    let Some(four) = g.get(gi..gi + 4) else {
        return [None, None];
    };
    let sep = four[1].sep;
    let fours = four.iter().all(|x| x.len() == 4)
        && matches!(sep, Sep::Space | Sep::Hyphen)
        && four[2].sep == sep
        && four[3].sep == sep;
    if !fours {
        return [None, None];
    }
    let tail = g
        .get(gi + 4)
        .filter(|x| x.sep == sep && (1..=3).contains(&x.len()))
        .map(|_| gi + 4);
    match tail {
        Some(t) => [Some(t), Some(gi + 3)],
        None => [Some(gi + 3), None],
    }
}

/// Whether a whole value (surrounding spaces ignored) is a valid card number.
pub fn is_valid_value(value: &str) -> bool {
    super::whole_value_is(value, FieldClass::Card)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: [&str; 18] = [
        "4111111111111111",
        "5555555555554444",
        "4012888888881881",
        "2200000000000004",
        "2202 2000 0000 0008",
        "2204 1234 5678 9015",
        "5105105105105100",
        "2221000000000009",
        "4000 0000 0000 0002",
        "2201382000000013",
        "4222222222222",
        // Other networks (public test numbers of their acquirers).
        "378282246310005",
        "3782 822463 10005",
        "371449635398431",
        "6212345678901234569",
        "3530111333300000126",
        "30569309025904",
        "3056 930902 5904",
    ];

    const INVALID: [&str; 13] = [
        "4111111111111112",
        "5555555555554445",
        "2200000000000005",
        "7011000990139422",
        "411111111111111",
        "4111 1111 1111 111",
        "4111-1111 1111-1111",
        "41111111111111O1",
        "1234567890123452",
        "2205000000000009",
        "4111 1111 1111 1111 1",
        // American Express is 15 digits, Luhn-valid or not.
        "378282246310006",
        "3782822463100052",
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
    fn luhn_and_brand() {
        assert!(luhn(b"79927398713"));
        assert!(!luhn(b"79927398710"));
        assert_eq!(brand(b"2204123456789015"), Some(Brand::Mir));
        assert_eq!(brand(b"2720993456789015"), Some(Brand::Mastercard));
        assert_eq!(brand(b"2721993456789015"), None);
        assert_eq!(brand(b"6011000990139424"), Some(Brand::Discover));
        assert_eq!(brand(b"3714496353984310"), Some(Brand::Amex));
        assert_eq!(brand(b"9011000990139424"), None);
    }

    #[test]
    fn other_networks_at_16_digits_are_cards_unless_a_policy_word() {
        // Their prefixes also start ENPs (region 35, 60, 62...): alone they
        // read as a card first (fail closed), after a policy word as a policy.
        for n in ["6011111111111117", "3530111333300000", "6200000000000005"] {
            let t = format!("номер {n}");
            let p = t.len() - n.len();
            assert_eq!(
                classify16(&t, p, t.len(), n.as_bytes()),
                [Some(FieldClass::Card), Some(FieldClass::OmsPolicy)],
                "{n}"
            );
            let t = format!("полис {n}");
            let p = t.len() - n.len();
            assert_eq!(
                classify16(&t, p, t.len(), n.as_bytes()),
                [Some(FieldClass::OmsPolicy), Some(FieldClass::Card)],
                "{n}"
            );
        }
    }

    #[test]
    fn payment_words_say_card() {
        // 3505... is in no network's range; the payment says card.
        for t in [
            "Двойное списание по 3505914570478905, передано",
            "вернуть деньги, возврат на 3505 9145 7047 8905",
            "оплата 3505-9145-7047-8905 не прошла",
        ] {
            let p = t.find('3').unwrap();
            let n: Vec<u8> = t[p..].bytes().filter(u8::is_ascii_digit).take(16).collect();
            assert_eq!(
                classify16(t, p, t.len(), &n)[0],
                Some(FieldClass::Card),
                "{t}"
            );
        }
        // After the number: «продиктовал номер … для оплаты».
        let t = "продиктовал номер 3505914570478905 для оплаты";
        let p = t.find('3').unwrap();
        assert_eq!(
            classify16(t, p, p + 16, b"3505914570478905")[0],
            Some(FieldClass::Card)
        );
        let t = "3505 9145 7047 8905 — привязана в личном кабинете, автоплатёж";
        assert_eq!(
            classify16(t, 0, 19, b"3505914570478905")[0],
            Some(FieldClass::Card)
        );
        // A keyword of the sentence before does not count.
        let t = "полис ОМС привязан. Клиент продиктовал номер 4838295171886696";
        let p = t.find('4').unwrap();
        assert_eq!(
            classify16(t, p, t.len(), b"4838295171886696")[0],
            Some(FieldClass::Card)
        );
        let t = "номер 3505914570478905";
        let p = t.find('3').unwrap();
        assert_eq!(
            classify16(t, p, t.len(), b"3505914570478905"),
            [Some(FieldClass::OmsPolicy), None]
        );
    }

    #[test]
    fn keyword_decides_between_card_and_policy() {
        let t = "Полис ОМС 4111111111111111";
        let p = t.find('4').unwrap();
        assert_eq!(
            classify16(t, p, t.len(), b"4111111111111111")[0],
            Some(FieldClass::OmsPolicy)
        );
        let t = "карта 7700000000000008";
        let p = t.find('7').unwrap();
        assert_eq!(
            classify16(t, p, t.len(), b"7700000000000008")[0],
            Some(FieldClass::Card)
        );
        let t = "номер 7700000000000008";
        let p = t.find('7').unwrap();
        assert_eq!(
            classify16(t, p, t.len(), b"7700000000000008"),
            [Some(FieldClass::OmsPolicy), None]
        );
    }
}
