//! proptest generators of synthetic MIS documents: patient records with
//! the keys real systems use (flat, nested, FHIR), lists and bundles of
//! them, and documents with only neutral keys. All values are invented.

use proptest::prelude::*;
use proptest::sample::select;

use super::doc::Doc;

type Member = (String, Doc);

/// Keys that name no class, no context and no sibling rule (checked by a
/// test), under which every purpose must pass the value unchanged.
pub const NEUTRAL_KEYS: &[&str] = &[
    "id",
    "createdAt",
    "status",
    "price",
    "total",
    "meta",
    "tags",
    "flags",
    "count",
    "version",
    "active",
    "items",
    "extra",
    "weight",
    "updated_at",
    "ok",
    "details",
];

/// Characters of neutral strings: escapes, non-ASCII, but no digits, `@`
/// or capitalised Cyrillic, so no value detector can take them for data.
const NEUTRAL_CHARS: &[char] = &[
    'a', 'b', 'k', 'x', 'z', ' ', 'A', 'Q', 'я', 'ж', 'ё', 'ы', '€', '😀', 'é', '"', '\\', '/',
    '\n', '\t', '\u{1}', '\u{1f}', '\u{7f}', '\u{2028}',
];

pub fn neutral_string() -> impl Strategy<Value = String> {
    prop::collection::vec(select(NEUTRAL_CHARS), 0..12).prop_map(|v| v.into_iter().collect())
}

pub fn neutral_leaf() -> impl Strategy<Value = Doc> {
    prop_oneof![
        Just(Doc::Null),
        any::<bool>().prop_map(Doc::Bool),
        (-100_000i64..100_000).prop_map(Doc::int),
        (0u32..1_000_000).prop_map(|c| Doc::Num(
            serde_json::Number::from_f64(f64::from(c) / 100.0).unwrap_or_else(|| 0.into())
        )),
        Just(Doc::Num(
            serde_json::Number::from_f64(-1.5e-7).unwrap_or_else(|| 0.into())
        )),
        neutral_string().prop_map(Doc::Str),
        Just(Doc::s("2024-03-05T10:20:30Z")),
    ]
}

/// A tree of neutral keys and values, up to 4 levels deep.
pub fn neutral_tree() -> impl Strategy<Value = Doc> {
    neutral_leaf().prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Doc::Arr),
            prop::collection::vec((select(NEUTRAL_KEYS), inner), 0..5).prop_map(|m| {
                let mut seen = Vec::new();
                let members = m
                    .into_iter()
                    .filter(|(k, _)| {
                        let fresh = !seen.contains(k);
                        seen.push(*k);
                        fresh
                    })
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect();
                Doc::Obj(members)
            }),
        ]
    })
}

/// A document with neutral keys only, always a container at the top.
pub fn neutral_doc() -> impl Strategy<Value = Doc> {
    neutral_tree().prop_map(|d| match d {
        Doc::Arr(_) | Doc::Obj(_) => d,
        leaf => Doc::obj(vec![("id", Doc::int(7)), ("extra", leaf)]),
    })
}

const SURNAMES: &[&str] = &[
    "Иванов",
    "Петрова",
    "Смирнов",
    "Кузнецова",
    "Соколов",
    "Лебедева",
];
const GIVEN: &[&str] = &["Иван", "Мария", "Алексей", "Ольга", "Дмитрий", "Анна"];
const PATRONYMICS: &[&str] = &[
    "Петрович",
    "Сергеевна",
    "Алексеевич",
    "Ильинична",
    "Николаевна",
];

fn pick<T: Clone + std::fmt::Debug + 'static>(v: &'static [T]) -> impl Strategy<Value = T> {
    select(v)
}

fn member(
    key: &'static [&'static str],
    v: impl Strategy<Value = Doc>,
) -> impl Strategy<Value = Member> {
    (select(key), v).prop_map(|(k, v)| (k.to_owned(), v))
}

/// An object whose members are shuffled (order matters to sibling rules).
fn shuffled(parts: Vec<BoxedStrategy<Option<Member>>>) -> impl Strategy<Value = Doc> {
    parts
        .prop_flat_map(|m| Just(m.into_iter().flatten().collect::<Vec<_>>()).prop_shuffle())
        .prop_map(Doc::Obj)
}

fn some(s: impl Strategy<Value = Member> + 'static) -> BoxedStrategy<Option<Member>> {
    s.prop_map(Some).boxed()
}

fn maybe(s: impl Strategy<Value = Member> + 'static) -> BoxedStrategy<Option<Member>> {
    prop::option::weighted(0.6, s).boxed()
}

fn digits(n: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(0u8..10, n)
        .prop_map(|d| d.into_iter().map(|x| char::from(b'0' + x)).collect())
}

pub fn snils() -> impl Strategy<Value = Doc> {
    prop_oneof![
        digits(11).prop_map(|d| Doc::s(format!(
            "{}-{}-{} {}",
            &d[..3],
            &d[3..6],
            &d[6..9],
            &d[9..]
        ))),
        digits(11).prop_map(Doc::Str),
        (10_000_000_000i64..99_999_999_999).prop_map(Doc::int),
    ]
}

pub fn phone() -> impl Strategy<Value = String> {
    (digits(2), digits(3), digits(2), digits(2), any::<bool>()).prop_map(|(a, b, c, d, plus)| {
        if plus {
            format!("+7 (9{a}) {b}-{c}-{d}")
        } else {
            format!("89{a}{b}{c}{d}")
        }
    })
}

pub fn email() -> impl Strategy<Value = String> {
    (
        pick(&["ivanov", "m.petrova", "sokol_a", "anna.l"]),
        10u32..99,
    )
        .prop_map(|(n, k)| format!("{n}{k}@example.ru"))
}

fn birth_date() -> impl Strategy<Value = Doc> {
    (1940u32..2020, 1u32..13, 1u32..29, any::<bool>()).prop_map(|(y, m, d, iso)| {
        Doc::s(if iso {
            format!("{y}-{m:02}-{d:02}")
        } else {
            format!("{d:02}.{m:02}.{y}")
        })
    })
}

fn address_text() -> impl Strategy<Value = String> {
    (
        100_000u32..700_000,
        pick(&[
            "Свердловская область, г. Нижний Тагил",
            "г. Казань",
            "Московская обл., г. Химки",
        ]),
        pick(&["ул. Советская", "ул. Ленина", "пр-т Мира"]),
        1u32..200,
        1u32..400,
    )
        .prop_map(|(z, city, street, h, f)| format!("{z}, {city}, {street}, д. {h}, кв. {f}"))
}

fn address() -> impl Strategy<Value = Doc> {
    prop_oneof![
        address_text().prop_map(Doc::Str),
        shuffled(vec![
            maybe(member(&["text", "full"], address_text().prop_map(Doc::Str))),
            maybe(member(
                &["street"],
                (pick(&["ул. Советская", "ул. Ленина"]), 1u32..99)
                    .prop_map(|(s, h)| Doc::s(format!("{s}, д. {h}")))
            )),
            maybe(member(
                &["city"],
                pick(&["г. Казань", "Нижний Тагил"]).prop_map(Doc::s)
            )),
            maybe(member(
                &["flat", "apartment"],
                (1i64..400).prop_map(Doc::int)
            )),
        ]),
    ]
}

fn identity_document() -> impl Strategy<Value = Doc> {
    shuffled(vec![
        some(member(&["series"], digits(4).prop_map(Doc::Str))),
        some(member(&["number"], digits(6).prop_map(Doc::Str))),
        maybe(member(
            &["type"],
            pick(&["passport", "birth-certificate", "Паспорт"]).prop_map(Doc::s),
        )),
        maybe(member(
            &["issuedBy"],
            Just(Doc::s("ГУ МВД России по г. Москве")),
        )),
    ])
}

fn insurance() -> impl Strategy<Value = Doc> {
    let insurer = || {
        shuffled(vec![
            some(member(&["name"], Just(Doc::s("АО «СОГАЗ-Мед»")))),
            maybe(member(&["inn"], Just(Doc::s("7728170427")))),
            maybe(member(&["phone"], Just(Doc::s("8 800 100-07-02")))),
        ])
    };
    let dms = shuffled(vec![
        some(member(
            &["policyNumber", "number"],
            digits(8).prop_map(|d| Doc::s(format!("ДМС-{d}"))),
        )),
        maybe(member(&["insurer"], insurer())),
    ]);
    shuffled(vec![
        maybe(member(
            &["oms"],
            shuffled(vec![
                some(member(&["number", "enp"], digits(16).prop_map(Doc::Str))),
                maybe(member(&["validTo"], Just(Doc::s("2030-12-31")))),
            ]),
        )),
        maybe(member(
            &["dms"],
            prop::collection::vec(dms, 1..3).prop_map(Doc::Arr),
        )),
        maybe(member(&["insurer"], insurer())),
    ])
}

/// A FHIR identifier: `system` and `value` in either order.
fn identifier() -> impl Strategy<Value = Doc> {
    let sv = prop_oneof![
        (Just("http://fhir.ru/core/systems/snils"), digits(11)),
        (Just("urn:oid:1.2.643.100.3"), digits(11)),
        (Just("http://fhir.ru/core/systems/OMS"), digits(16)),
        (Just("urn:oid:1.2.643.2.69.1.1.1.6.14"), digits(10)),
        (Just("http://fhir.ru/core/systems/inn"), digits(12)),
        (Just("urn:oid:1.2.643.5.1.13.2.1.1.1"), digits(7)),
        (Just("https://mis.example/patient-id"), digits(9)),
    ];
    (
        sv,
        any::<bool>(),
        prop::option::of(pick(&["official", "usual"])),
    )
        .prop_map(|((sys, v), after, use_)| {
            let mut m = vec![
                ("system".to_owned(), Doc::s(sys)),
                ("value".to_owned(), Doc::s(v)),
            ];
            if after {
                m.reverse();
            }
            if let Some(u) = use_ {
                m.insert(1, ("use".to_owned(), Doc::s(u)));
            }
            Doc::Obj(m)
        })
}

/// A FHIR ContactPoint or an MIS contact: the kind names the value's class.
fn contact_point(disc: &'static [&'static str]) -> impl Strategy<Value = Doc> {
    let sv = prop_oneof![
        (
            pick(&["phone", "mobile", "sms", "Телефон", "мобильный"]),
            phone()
        ),
        (pick(&["email", "E-mail", "почта"]), email()),
        (Just("fax"), phone()),
        (Just("url"), Just("https://example.ru/ivanov".to_owned())),
    ];
    (
        select(disc),
        sv,
        any::<bool>(),
        prop::option::of(pick(&["home", "work", "mobile"])),
    )
        .prop_map(|(dk, (sys, v), after, use_)| {
            let mut m = vec![
                (dk.to_owned(), Doc::s(sys)),
                ("value".to_owned(), Doc::s(v)),
            ];
            if after {
                m.reverse();
            }
            if let Some(u) = use_ {
                m.push(("use".to_owned(), Doc::s(u)));
            }
            Doc::Obj(m)
        })
}

fn first_name() -> impl Strategy<Value = Doc> {
    prop_oneof![
        pick(GIVEN).prop_map(Doc::s),
        (pick(GIVEN), pick(PATRONYMICS)).prop_map(|(g, p)| Doc::s(format!("{g} {p}"))),
        pick(PATRONYMICS).prop_map(Doc::s),
    ]
}

/// A FHIR HumanName.
fn human_name() -> impl Strategy<Value = Doc> {
    (
        pick(SURNAMES),
        pick(GIVEN),
        prop::option::of(pick(PATRONYMICS)),
    )
        .prop_flat_map(|(f, g, p)| {
            let mut given = vec![Doc::s(g)];
            given.extend(p.map(Doc::s));
            let text = format!("{f} {g} {}", p.unwrap_or_default())
                .trim()
                .to_owned();
            shuffled(vec![
                some(Just(("family".to_owned(), Doc::s(f)))),
                some(Just(("given".to_owned(), Doc::Arr(given)))),
                maybe(Just(("text".to_owned(), Doc::s(text)))),
                maybe(Just(("use".to_owned(), Doc::s("official")))),
            ])
        })
}

fn diagnosis() -> impl Strategy<Value = Doc> {
    shuffled(vec![
        some(member(
            &["code"],
            pick(&["J06.9", "I10", "E11.9"]).prop_map(Doc::s),
        )),
        maybe(member(
            &["text", "display"],
            pick(&["ОРВИ", "Гипертензия", "Диабет 2 типа"]).prop_map(Doc::s),
        )),
        maybe(member(&["createdAt"], Just(Doc::s("2024-02-01")))),
    ])
}

/// A generic key (`number`, `value`, ...) under a context key, wrapped in
/// 0..6 neutral objects and arrays, so the nearest-of-4-containers bound is
/// crossed both ways.
fn deep_context() -> impl Strategy<Value = Member> {
    (
        pick(&[
            "passport",
            "card",
            "oms",
            "dms",
            "address",
            "diagnosis",
            "insurer",
            "name",
        ]),
        prop::collection::vec(any::<bool>(), 0..6),
        pick(&["number", "value", "text", "series", "given"]),
        digits(10),
    )
        .prop_map(|(k, wraps, leaf, d)| {
            let mut v = Doc::obj(vec![(leaf, Doc::Str(d))]);
            for w in wraps {
                v = if w {
                    Doc::obj(vec![("details", v)])
                } else {
                    Doc::Arr(vec![v])
                };
            }
            (k.to_owned(), v)
        })
}

/// A FHIR Patient.contact: a sibling object (held back) holding a name and
/// ContactPoints that are sibling objects themselves.
fn fhir_contact() -> impl Strategy<Value = Doc> {
    shuffled(vec![
        maybe(member(
            &["relationship"],
            Just(Doc::Arr(vec![Doc::obj(vec![("text", Doc::s("мать"))])])),
        )),
        maybe(member(&["name"], human_name())),
        maybe(member(&["telecom"], list(contact_point(&["system"]), 1..3))),
        maybe(member(&["address"], address())),
    ])
}

fn list<S: Strategy<Value = Doc> + 'static>(s: S, n: std::ops::Range<usize>) -> BoxedStrategy<Doc> {
    prop::collection::vec(s, n).prop_map(Doc::Arr).boxed()
}

/// One patient record as a list or a card endpoint would return it.
pub fn patient() -> impl Strategy<Value = Doc> {
    shuffled(vec![
        some(member(
            &["id"],
            prop_oneof![
                (1i64..1_000_000).prop_map(Doc::int),
                digits(6).prop_map(|d| Doc::s(format!("p-{d}")))
            ],
        )),
        maybe(member(&["createdAt"], Just(Doc::s("2024-03-05T10:20:30Z")))),
        maybe(member(
            &["status"],
            pick(&["active", "archived"]).prop_map(Doc::s),
        )),
        maybe(member(
            &["price"],
            (0u32..100_000).prop_map(|c| {
                Doc::Num(
                    serde_json::Number::from_f64(f64::from(c) / 100.0).unwrap_or_else(|| 0.into()),
                )
            }),
        )),
        maybe(member(
            &["snils", "SNILS", "snilsNumber", "snils_number", "СНИЛС"],
            snils(),
        )),
        maybe(member(
            &["phone", "mobilePhone", "phoneNumber", "телефон"],
            prop_oneof![
                phone().prop_map(Doc::Str),
                list(phone().prop_map(Doc::Str), 1..3),
            ],
        )),
        maybe(member(&["email"], email().prop_map(Doc::Str))),
        maybe(member(
            &["lastName", "last_name", "surname", "фамилия"],
            pick(SURNAMES).prop_map(Doc::s),
        )),
        maybe(member(&["firstName", "first_name", "имя"], first_name())),
        maybe(member(
            &["middleName", "patronymic", "отчество"],
            pick(PATRONYMICS).prop_map(Doc::s),
        )),
        maybe(member(
            &["birthDate", "dateOfBirth", "дата рождения", "dob"],
            birth_date(),
        )),
        maybe(member(
            &["address", "registrationAddress", "адрес"],
            address(),
        )),
        maybe(member(
            &["identityDocuments", "passport"],
            list(identity_document(), 1..3),
        )),
        maybe(member(&["insurance"], insurance())),
        maybe(member(&["identifier"], list(identifier(), 1..4))),
        maybe(member(&["telecom"], list(contact_point(&["system"]), 1..3))),
        maybe(member(
            &["contacts"],
            list(contact_point(&["type", "kind"]), 1..3),
        )),
        maybe(member(&["name"], list(human_name(), 1..2))),
        maybe(member(&["diagnosis"], diagnosis())),
        maybe(member(&["tags", "extra"], neutral_tree())),
        maybe(member(&["flags"], list(neutral_leaf(), 0..4))),
        maybe(deep_context()),
        maybe(member(&["contact"], list(fhir_contact(), 1..3))),
        maybe(member(
            &["contactInfo", "контакт"],
            contact_point(&["type", "тип"]),
        )),
    ])
}

/// A whole response: a patient, a page, a FHIR Bundle, a bare list or a
/// wrapped patient.
pub fn mis_doc() -> impl Strategy<Value = Doc> {
    prop_oneof![
        patient().boxed(),
        (list(patient(), 0..4), 0i64..1000)
            .prop_map(|(items, total)| Doc::obj(vec![("items", items), ("total", Doc::int(total))]))
            .boxed(),
        list(
            (patient(), 1u32..99).prop_map(|(p, n)| Doc::obj(vec![
                ("fullUrl", Doc::s(format!("urn:uuid:{n:08}"))),
                ("resource", p),
            ])),
            1..3
        )
        .prop_map(|entry| Doc::obj(vec![("resourceType", Doc::s("Bundle")), ("entry", entry)]))
        .boxed(),
        list(patient(), 0..3),
        (patient(), list(diagnosis(), 0..3))
            .prop_map(|(p, d)| Doc::obj(vec![("patient", p), ("diagnoses", d),]))
            .boxed(),
    ]
}

/// Cut points for splitting a document into chunks: up to 8 offsets in
/// `0..=len`, as fractions so they apply to any serialization.
pub fn cuts() -> impl Strategy<Value = Vec<prop::sample::Index>> {
    prop::collection::vec(any::<prop::sample::Index>(), 0..8)
}

pub fn cut_offsets(idx: &[prop::sample::Index], len: usize) -> Vec<usize> {
    idx.iter().map(|i| i.index(len + 1)).collect()
}
