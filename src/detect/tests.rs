//! Tests of the whole scan: classes together, overlaps, disabled classes and
//! the strings that must pass untouched.

use super::*;

fn scan_all(text: &str) -> Vec<(FieldClass, &str)> {
    let mut out = Vec::new();
    Detectors::new(ClassSet::ALL).scan(text, &mut out);
    for w in out.windows(2) {
        assert!(w[0].end <= w[1].start, "overlap in {text:?}: {out:?}");
    }
    out.iter()
        .map(|f| (f.class, &text[f.start..f.end]))
        .collect()
}

#[test]
fn clinical_note() {
    let t = "Больной Данилов Николай Анатольевич, 11.05.2003 г.р., СНИЛС 709-071-330 79, \
             тел. +79088481487, e-mail: danilov.n03@rambler.ru, обратился с жалобами. \
             Полис ОМС 4511029549538588 (ООО «Капитал МС»). Проживает по адресу: г. Курган, \
             ул. Академика Бардина, д. 97/2, кв. 385. ИНН 458414930135. Диагноз: M54.5 Боль \
             внизу спины. Повторный приём 23.06.2025. Направление № 2024-71490. Стоимость \
             консультации 450,00 ₽. Лаб. заказ № 407-685-786 99. Транзакция оплаты \
             9751111758255420. Справки по тел. 8 800 186-39-31. Врач: Михайлова К.Ф.";
    let found = scan_all(t);
    let expect = [
        (FieldClass::FullName, "Данилов Николай Анатольевич"),
        (FieldClass::BirthDate, "11.05.2003"),
        (FieldClass::Snils, "709-071-330 79"),
        (FieldClass::Phone, "+79088481487"),
        (FieldClass::Email, "danilov.n03@rambler.ru"),
        (FieldClass::OmsPolicy, "4511029549538588"),
        (
            FieldClass::Address,
            "г. Курган, ул. Академика Бардина, д. 97/2, кв. 385",
        ),
        (FieldClass::Inn, "458414930135"),
        (FieldClass::FullName, "Михайлова К.Ф."),
    ];
    assert_eq!(found, expect);
}

#[test]
fn strings_without_identifiers_pass() {
    for t in [
        "",
        "booked",
        "Мужской",
        "580090ff-effc-414a-80aa-45c78bababf9",
        "e77f5bcf-b908-4fe3-b66c-904e6eb72eec",
        "3f9a1b2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8",
        "ID_Pac_MIS_29257116_18",
        "1.2.643.5.1.13.13.12.2.66.6548",
        "2025-10-01T16:30:00+05:00",
        "ЗП-2025-0061650",
        "2024/47594",
        "№ 2024-71490",
        "M54.5",
        "J06.9",
        "1 850,00 ₽",
        "450,00 ₽",
        "2021-6085910",
        "407-685-786 99",
        "51030524676",
        "7772939004280529",
        "6672773806",
        "1066603459966",
        "8 800 941-67-77",
        "+7 800 555 35 35",
        "ГУ МВД России по Свердловской области",
        "ООО «Клиника телемедицины „Здоровье онлайн“»",
        "Программа ДМС № 32",
        "Диклофенак 75 мг в/м № 5, ЛФК, консультация невролога.",
        "до 160/95 мм рт. ст.",
        "12345678901234567890",
    ] {
        assert_eq!(scan_all(t), vec![], "{t}");
    }
}

#[test]
fn disabled_classes_are_not_reported_and_ambiguity_falls_back() {
    let only_phone = Detectors::new(ClassSet::EMPTY.with(FieldClass::Phone));
    let mut out = Vec::new();
    only_phone.scan("СНИЛС 709-071-330 79, danilov@mail.ru", &mut out);
    assert!(out.is_empty());
    // A Visa-prefixed ENP: a card by default, the policy when cards are off.
    let only_oms = Detectors::new(ClassSet::EMPTY.with(FieldClass::OmsPolicy));
    assert_eq!(
        only_oms.classify_value("4111111111111111"),
        Some(FieldClass::OmsPolicy)
    );
    let all = Detectors::new(ClassSet::ALL);
    assert_eq!(
        all.classify_value("4111111111111111"),
        Some(FieldClass::Card)
    );
    assert_eq!(all.classify_value(" 74856970167 "), Some(FieldClass::Snils));
    assert_eq!(all.classify_value("Иванов И.И. и другие"), None);
}

#[test]
fn email_wins_over_digits_inside_it() {
    assert_eq!(
        scan_all("89123456789@mail.ru"),
        vec![(FieldClass::Email, "89123456789@mail.ru")]
    );
}

#[test]
fn card_keyword_and_bin() {
    assert_eq!(
        scan_all("оплата картой 2200 4129 7669 5347"),
        vec![(FieldClass::Card, "2200 4129 7669 5347")]
    );
    assert_eq!(
        scan_all("ЕНП 4511029549538588"),
        vec![(FieldClass::OmsPolicy, "4511029549538588")]
    );
    assert_eq!(
        scan_all("номер 6677773385527990"),
        vec![(FieldClass::OmsPolicy, "6677773385527990")]
    );
}

#[test]
fn snils_or_phone_by_keyword() {
    // 8 (964) 135-08-48 written plain passes the SNILS checksum too.
    let d = b"89641350848";
    assert!(snils::is_valid(d));
    assert_eq!(
        scan_all("тел. 89641350848"),
        vec![(FieldClass::Phone, "89641350848")]
    );
    assert_eq!(
        scan_all("СНИЛС 89641350848"),
        vec![(FieldClass::Snils, "89641350848")]
    );
}

#[test]
fn adjacent_identifiers_in_one_cluster() {
    assert_eq!(
        scan_all("8 (912) 345-67-89 89123456780"),
        vec![
            (FieldClass::Phone, "8 (912) 345-67-89"),
            (FieldClass::Phone, "89123456780")
        ]
    );
}

#[test]
fn prefilter_flags() {
    assert_eq!(prefilter(b"abc"), (0, 0));
    assert_eq!(prefilter(b"a1"), (HAS_DIGIT, 1));
    assert_eq!(
        prefilter("x@Ж".as_bytes()),
        (HAS_AT | HAS_CAPITAL | HAS_CYRILLIC, 0)
    );
    assert_eq!(
        prefilter("только строчные буквы".as_bytes()),
        (HAS_CYRILLIC | HAS_SEP, 0)
    );
    assert_eq!(prefilter(b"1990-05-12"), (HAS_DIGIT | HAS_SEP, 8));
    // Every byte value against its own definition, one at a time and in a
    // string long enough for the vectorised loop.
    for x in 0..=255u8 {
        let want = (u8::from(x.is_ascii_digit()) * HAS_DIGIT)
            | (u8::from(x == b'@') * HAS_AT)
            | (u8::from((0x90..=0xAF).contains(&x)) * HAS_CAPITAL)
            | (u8::from(x == 0xD0 || x == 0xD1) * HAS_CYRILLIC)
            | (u8::from(x == b'-' || x == b'.' || x == b' ') * HAS_SEP)
            | (u8::from(x.is_ascii_uppercase()) * HAS_LATIN_CAPITAL);
        let n = u32::from(x.is_ascii_digit());
        assert_eq!(prefilter(&[x]), (want, n), "{x:#x}");
        let mut long = vec![b'a'; 100];
        long[37] = x;
        long[99] = x;
        assert_eq!(prefilter(&long), (want, 2 * n), "{x:#x}");
    }
    // Small letters alone cost one pass; an address needs a digit anyway.
    assert_eq!(
        scan_all("в д. 5, кв. 3"),
        vec![(FieldClass::Address, "д. 5, кв. 3")]
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

    /// Any text, built from the characters the scanners look at: no panic,
    /// findings sorted, disjoint, in bounds and on char boundaries.
    #[test]
    fn findings_are_well_formed(parts in proptest::collection::vec(proptest::sample::select(vec![
        "0", "1", "7", "8", "9", "4509", "123456", "+7", " ", "  ", "-", "(", ")", ".", ",", ":",
        "/", "№", "\u{a0}", "@", "mail.ru", "a", "Z", "_", "ул.", "д.", "кв.", "Иванов", "И.", "И",
        "Петрович", "Анна", "г.р.", "паспорт", "полис", "карта", "адрес:", "мая", "2003", "11",
        "\n", "оглы", "Ё", "ё", "рф", "т", "ж", "é",
    ]), 0..40)) {
        let text: String = parts.concat();
        let mut out = Vec::new();
        Detectors::new(ClassSet::ALL).scan(&text, &mut out);
        for f in &out {
            proptest::prop_assert!(f.start < f.end && f.end <= text.len());
            proptest::prop_assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        }
        for w in out.windows(2) {
            proptest::prop_assert!(w[0].end <= w[1].start);
        }
    }

    /// Arbitrary Unicode never panics a scanner.
    #[test]
    fn arbitrary_text_does_not_panic(text in "\\PC{0,200}") {
        let mut out = Vec::new();
        Detectors::new(ClassSet::ALL).scan(&text, &mut out);
        for f in &out {
            proptest::prop_assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        }
    }
}

#[test]
fn assorted_phrases() {
    let cases: [(&str, &[(FieldClass, &str)]); 10] = [
        (
            "Тел.: +7 912 345-67-89; email: a.b@c.ru",
            &[
                (FieldClass::Phone, "+7 912 345-67-89"),
                (FieldClass::Email, "a.b@c.ru"),
            ],
        ),
        (
            "СНИЛС: 112-233-445 95.",
            &[(FieldClass::Snils, "112-233-445 95")],
        ),
        (
            "паспорт 45 09 № 123456 выдан 12.03.2010",
            &[(FieldClass::Passport, "45 09 № 123456")],
        ),
        (
            "Дата рождения: 11 мая 2003 г.",
            &[(FieldClass::BirthDate, "11 мая 2003")],
        ),
        (
            "Иванов Иван Иванович (11.05.1980 г.р.)",
            &[
                (FieldClass::FullName, "Иванов Иван Иванович"),
                (FieldClass::BirthDate, "11.05.1980"),
            ],
        ),
        ("ИНН 500100732259", &[(FieldClass::Inn, "500100732259")]),
        (
            "карта 4111 1111 1111 1111, срок 12/25",
            &[(FieldClass::Card, "4111 1111 1111 1111")],
        ),
        (
            "со слов Ивановой Марии Петровны",
            &[(FieldClass::FullName, "Ивановой Марии Петровны")],
        ),
        (
            "зарегистрирован по адресу: ул. Ленина, д. 5, корп. 2, кв. 7; тел. нет",
            &[(FieldClass::Address, "ул. Ленина, д. 5, корп. 2, кв. 7")],
        ),
        ("ОГРН 1027700132195, ИНН 7707083893, КПП 773601001", &[]),
    ];
    for (text, expect) in cases {
        assert_eq!(scan_all(text), expect.to_vec(), "{text}");
    }
}

/// The digit-count gate before the number scanner drops nothing it could
/// find: the shortest date (five digits and a separator) and the shortest
/// identifier (ten digits) are still found; ids and counters are not
/// scanned.
#[test]
fn the_number_gate_keeps_the_shortest_findings() {
    let gate = |b: &[u8]| {
        let (flags, digits) = prefilter(b);
        may_hold_number(flags, digits)
    };
    assert!(!gate(b"10234"));
    assert!(!gate(b"123456789"));
    assert!(!gate(b"1.2.3"));
    assert!(gate(b"1 2345"));
    assert!(gate(b"1234567890"));
    assert_eq!(
        scan_all("1 мая 1990 г.р."),
        [(FieldClass::BirthDate, "1 мая 1990")]
    );
    assert_eq!(
        scan_all("родился 1.2.1990 г."),
        [(FieldClass::BirthDate, "1.2.1990")]
    );
    assert_eq!(
        scan_all("паспорт 4509 123456"),
        [(FieldClass::Passport, "4509 123456")]
    );
    assert_eq!(
        scan_all("+79088481487"),
        [(FieldClass::Phone, "+79088481487")]
    );
    for inert in ["10234", "ID 99812", "заказ 4411", "123456789"] {
        assert_eq!(scan_all(inert), [], "{inert}");
    }
}

#[test]
fn a_card_does_not_take_the_price_after_it() {
    // 2416 3422 9436 5655 is Luhn-valid, and so is it with the 2 after it.
    assert_eq!(
        scan_all("Оплатил картой 2416 3422 9436 5655 2 300,00 ₽, чек не пришёл."),
        vec![(FieldClass::Card, "2416 3422 9436 5655")]
    );
}
