use super::*;
use crate::class::Purpose;
use crate::redact::{ContentKind, Engine, PseudonymKey};
use crate::rules::RuleSet;

pub(crate) fn engine() -> Engine {
    Engine::new(
        Arc::new(RuleSet::embedded()),
        PseudonymKey::new(b"test key, synthetic only"),
    )
}

pub(crate) fn redact(p: Purpose, input: &str) -> Result<String, RedactError> {
    let e = engine();
    let mut r = e.redactor(p, ContentKind::Json).unwrap();
    let mut out = Vec::new();
    r.feed(input.as_bytes(), &mut out)?;
    r.finish(&mut out)?;
    Ok(String::from_utf8(out).unwrap())
}

#[test]
fn sibling_capture_replays() {
    assert_eq!(
        redact(Purpose::Legal, r#"{"identityDocuments":[{"number":"1"}]}"#).unwrap(),
        r#"{"identityDocuments":[{"number":"1"}]}"#
    );
}

use crate::redact::{RecordSpec, RecordVerdict};

/// Drives a redactor with record-level consent, as the proxy does, three
/// ways: every record held for a batched verdict, every verdict known at
/// once (an oracle), and an oracle that knows only some subjects. All three
/// must give the same result; the first one's is returned, with its batch
/// sizes.
fn redact_records(
    p: Purpose,
    input: &[u8],
    chunk: usize,
    spec: &RecordSpec,
    verdict: impl Fn(&str) -> RecordVerdict + Copy + Send + Sync + 'static,
) -> Result<(String, Vec<usize>), RedactError> {
    redact_records_as(ContentKind::Json, p, input, chunk, spec, verdict)
}

/// [`redact_records`] of a body of content kind `kind`.
fn redact_records_as(
    kind: ContentKind,
    p: Purpose,
    input: &[u8],
    chunk: usize,
    spec: &RecordSpec,
    verdict: impl Fn(&str) -> RecordVerdict + Copy + Send + Sync + 'static,
) -> Result<(String, Vec<usize>), RedactError> {
    let held = drive_records(kind, p, input, chunk, spec, verdict, Oracle::None);
    for oracle in [Oracle::All, Oracle::Some] {
        let streamed = drive_records(kind, p, input, chunk, spec, verdict, oracle);
        match (&held, &streamed) {
            (Ok((a, _, _, dropped_a)), Ok((b, _, released, dropped_b))) => {
                assert_eq!(a, b, "chunk {chunk}, {oracle:?}");
                assert_eq!(dropped_a, dropped_b, "chunk {chunk}, {oracle:?}");
                assert!(
                    released.iter().all(|s| verdict(s) == RecordVerdict::Keep),
                    "{released:?}"
                );
            }
            (a, b) => assert_eq!(
                a.as_ref().err(),
                b.as_ref().err(),
                "chunk {chunk}, {oracle:?}"
            ),
        }
    }
    held.map(|(out, batches, _, _)| (out, batches))
}

#[derive(Debug, Clone, Copy)]
enum Oracle {
    None,
    All,
    /// Knows the subjects whose last byte is even.
    Some,
}

/// Output, lookup batch sizes, released subjects, records dropped.
type Driven = (String, Vec<usize>, Vec<String>, u32);

fn drive_records(
    kind: ContentKind,
    p: Purpose,
    input: &[u8],
    chunk: usize,
    spec: &RecordSpec,
    verdict: impl Fn(&str) -> RecordVerdict + Send + Sync + 'static,
    oracle: Oracle,
) -> Result<Driven, RedactError> {
    let e = engine();
    let mut r = e
        .redactor(p, kind)
        .unwrap()
        .with_records(Arc::new(spec.clone()));
    let verdict = Arc::new(verdict);
    match oracle {
        Oracle::None => {}
        Oracle::All => {
            let v = verdict.clone();
            r = r.with_record_oracle(Box::new(move |s| Some(v(s))));
        }
        Oracle::Some => {
            let v = verdict.clone();
            r = r.with_record_oracle(Box::new(move |s| {
                (s.bytes().last().unwrap_or(0) % 2 == 0).then(|| v(s))
            }));
        }
    }
    let mut out = Vec::new();
    let mut batches = Vec::new();
    let mut released = Vec::new();
    let mut settle = |r: &mut crate::redact::BodyRedactor, out: &mut Vec<u8>| {
        released.extend(r.take_released());
        while !r.pending_subjects().is_empty() {
            batches.push(r.pending_subjects().len());
            let v: Vec<RecordVerdict> = r.pending_subjects().iter().map(|s| verdict(s)).collect();
            r.resolve(&v, out)?;
            released.extend(r.take_released());
        }
        Ok::<(), RedactError>(())
    };
    for c in input.chunks(chunk.max(1)) {
        r.feed(c, &mut out)?;
        settle(&mut r, &mut out)?;
    }
    settle(&mut r, &mut out)?;
    r.finish(&mut out)?;
    let dropped = r.stats().records_dropped;
    Ok((String::from_utf8(out).unwrap(), batches, released, dropped))
}

#[test]
fn records_known_at_once_stream_without_being_held() {
    // The subject first (the usual MIS layout), a nested path, sibling
    // objects after it, personal fields, and a withdrawn subject.
    let mut doc = String::from("{\"data\":{\"list\":[");
    for i in 0..40 {
        if i > 0 {
            doc.push_str(", ");
        }
        doc.push_str(&format!(
            "{{\"patient\":{{\"id\":{},\"snils\":\"112-233-445 95\"}},\"telecom\":[{{\"value\":\"p{i}@example.test\",\"system\":\"email\"}}],\"note\":\"Иванов И.И.\"}}",
            20000 + i
        ));
    }
    doc.push_str("]},\"total\":40}");
    let spec = RecordSpec::parse("$.data.list[*]", "patient.id").unwrap();
    let verdict = |s: &str| {
        if s.ends_with('7') {
            RecordVerdict::Drop
        } else {
            RecordVerdict::Keep
        }
    };
    for chunk in [1, 3, 16, 100, 1 << 20] {
        // `redact_records` checks the three ways agree.
        let (out, _) =
            redact_records(Purpose::Care, doc.as_bytes(), chunk, &spec, verdict).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v["data"]["list"].as_array().unwrap().len(),
            36,
            "chunk {chunk}"
        );
        let (_, batches, released, dropped) = drive_records(
            ContentKind::Json,
            Purpose::Care,
            doc.as_bytes(),
            chunk,
            &spec,
            verdict,
            Oracle::All,
        )
        .unwrap();
        // Every verdict was known at once: no record waited.
        assert_eq!(released.len(), 36, "chunk {chunk}: {released:?}");
        assert!(batches.is_empty(), "chunk {chunk}: {batches:?}");
        assert_eq!(dropped, 4, "chunk {chunk}");
        let (marketing, _) =
            redact_records(Purpose::Marketing, doc.as_bytes(), chunk, &spec, verdict).unwrap();
        assert!(!marketing.contains("112-233"), "{marketing}");
    }
}

/// Records whose id is their first member are decided when their `{` is
/// read (nothing before the id to hold); the others are captured until the
/// id. Either way: the same bytes, the same drops, and the subjects
/// released in document order, at any chunking.
#[test]
fn records_whose_id_comes_first_stream_from_their_brace() {
    let doc = concat!(
        r#"{"items":[{"id":"1","lastName":"Иванов","phone":"+7 912 345-67-89"},"#,
        r#" { "id" : 2 , "lastName":"Петров"},"#,
        r#"{"id":"3","lastName":"Сидоров"},"#,
        r#"{"id":"4\u0030","lastName":"Кузнецов"},"#,
        r#"{"lastName":"Смирнов","id":"5"},"#,
        r#"{"id":"6","lastName":"Попов","nested":{"id":"x"}},"#,
        r#"{"id":"13","lastName":"Волков"}],"total":7}"#
    );
    let spec = RecordSpec::parse("$.items[*]", "id").unwrap();
    let verdict = |s: &str| {
        if s.ends_with('3') {
            RecordVerdict::Drop
        } else {
            RecordVerdict::Keep
        }
    };
    for chunk in [1, 2, 7, 30, 1 << 20] {
        let (out, _) =
            redact_records(Purpose::Care, doc.as_bytes(), chunk, &spec, verdict).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let ids: Vec<String> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].to_string())
            .collect();
        assert_eq!(
            ids,
            [r#""1""#, "2", r#""40""#, r#""5""#, r#""6""#],
            "chunk {chunk}"
        );
        let (_, batches, released, dropped) = drive_records(
            ContentKind::Json,
            Purpose::Care,
            doc.as_bytes(),
            chunk,
            &spec,
            verdict,
            Oracle::All,
        )
        .unwrap();
        assert_eq!(released, ["1", "2", "40", "5", "6"], "chunk {chunk}");
        assert!(batches.is_empty(), "chunk {chunk}: {batches:?}");
        assert_eq!(dropped, 2, "chunk {chunk}");
    }
}

#[test]
fn records_of_withdrawn_subjects_are_dropped_at_any_chunking() {
    let doc = r#"{"items": [{"id":"1","lastName":"Иванов"}, {"lastName":"Петров","id":"2"}, {"id":"3","lastName":"Сидоров"}], "total": 3}"#;
    let spec = RecordSpec::parse("$.items[*]", "id").unwrap();
    // `total` says how many were returned, not how many the MIS had.
    let want_drop2 = r#"{"items": [{"id":"1","lastName":"Иванов"}, {"id":"3","lastName":"Сидоров"}], "total": 2}"#;
    // The whitespace after a dropped first record's comma stays, as it does
    // for any removed first member.
    let want_drop1 = r#"{"items": [ {"lastName":"Петров","id":"2"}, {"id":"3","lastName":"Сидоров"}], "total": 2}"#;
    for chunk in [1, 2, 3, 7, 16, 1000] {
        let (out, _) = redact_records(Purpose::Care, doc.as_bytes(), chunk, &spec, |s| {
            if s == "2" {
                RecordVerdict::Drop
            } else {
                RecordVerdict::Keep
            }
        })
        .unwrap();
        assert_eq!(out, want_drop2, "chunk {chunk}");
        let (out, _) = redact_records(Purpose::Care, doc.as_bytes(), chunk, &spec, |s| {
            if s == "1" {
                RecordVerdict::Drop
            } else {
                RecordVerdict::Keep
            }
        })
        .unwrap();
        assert_eq!(out, want_drop1, "chunk {chunk}");
        let (out, _) = redact_records(Purpose::Care, doc.as_bytes(), chunk, &spec, |_| {
            RecordVerdict::Drop
        })
        .unwrap();
        assert_eq!(out, r#"{"items": [], "total": 0}"#, "chunk {chunk}");
        let (out, _) = redact_records(Purpose::Care, doc.as_bytes(), chunk, &spec, |_| {
            RecordVerdict::Keep
        })
        .unwrap();
        assert_eq!(out, doc, "chunk {chunk}");
    }
}

#[test]
fn stripped_records_keep_no_personal_field() {
    let doc = r#"{"data":{"patients":[{"id":"7","snils":"112-233-445 95","phone":"+7 912 345-67-89","status":"active"}]}}"#;
    let spec = RecordSpec::parse("$.data.patients[*]", "id").unwrap();
    let (out, _) = redact_records(Purpose::Care, doc.as_bytes(), 5, &spec, |_| {
        RecordVerdict::Strip
    })
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["data"]["patients"][0]["status"], "active");
    assert!(!out.contains("112-233") && !out.contains("345-67"), "{out}");
}

#[test]
fn a_thousand_records_every_tenth_withdrawn() {
    let mut doc = String::from("{\"items\":[");
    for i in 0..1000 {
        if i > 0 {
            doc.push(',');
        }
        // The subject key comes last in every other record.
        if i % 2 == 0 {
            doc.push_str(&format!(
                "{{\"id\":\"{}\",\"email\":\"p{i}@example.test\"}}",
                10000 + i
            ));
        } else {
            doc.push_str(&format!(
                "{{\"email\":\"p{i}@example.test\",\"id\":\"{}\"}}",
                10000 + i
            ));
        }
    }
    doc.push_str("],\"total\":1000}");
    let spec = RecordSpec::parse("$.items[*]", "id").unwrap();
    let withdrawn = |s: &str| s.parse::<u32>().unwrap() % 10 == 0;
    let (out, batches) = redact_records(
        Purpose::Marketing,
        doc.as_bytes(),
        16 << 10,
        &spec,
        move |s| {
            if withdrawn(s) {
                RecordVerdict::Drop
            } else {
                RecordVerdict::Keep
            }
        },
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // Marketing gets no person id: each record is known by its email.
    let ids: Vec<u32> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(r.get("id").is_none(), "{r}");
            let email = r["email"].as_str().unwrap();
            10000 + email[1..email.find('@').unwrap()].parse::<u32>().unwrap()
        })
        .collect();
    assert_eq!(ids.len(), 900);
    assert!(ids.iter().all(|id| id % 10 != 0));
    // Lookups come in batches, not one per record.
    assert!(batches.len() < 20, "{batches:?}");
}

#[test]
fn a_record_past_the_bound_fails_closed() {
    let big = "x".repeat(2 << 20);
    let doc = format!("{{\"items\":[{{\"note\":\"{big}\",\"id\":\"1\"}}]}}");
    let spec = RecordSpec::parse("$.items[*]", "id").unwrap();
    let r = redact_records(Purpose::Care, doc.as_bytes(), 64 << 10, &spec, |_| {
        RecordVerdict::Keep
    });
    assert!(matches!(r, Err(RedactError::HoldBackOverflow(_))), "{r:?}");
}

#[test]
fn records_with_nested_objects_across_chunk_boundaries() {
    let mut doc = String::from("{\"items\":[");
    for i in 0..50 {
        if i > 0 {
            doc.push(',');
        }
        doc.push_str(&format!(
            "{{\"name\":{{\"family\":\"Иванов\",\"given\":[\"Иван\"]}},\"contacts\":[{{\"type\":\"email\",\"value\":\"p{i}@example.test\"}}],\"id\":\"{}\"}}",
            10000 + i
        ));
    }
    doc.push_str("]}");
    let spec = RecordSpec::parse("$.items[*]", "id").unwrap();
    let verdict = |s: &str| {
        if s.ends_with('3') {
            RecordVerdict::Drop
        } else {
            RecordVerdict::Keep
        }
    };
    let (whole, _) =
        redact_records(Purpose::Care, doc.as_bytes(), 1 << 20, &spec, verdict).unwrap();
    for chunk in [1, 5, 17, 64, 333] {
        let (out, _) =
            redact_records(Purpose::Care, doc.as_bytes(), chunk, &spec, verdict).unwrap();
        assert_eq!(out, whole, "chunk {chunk}");
    }
    let v: serde_json::Value = serde_json::from_str(&whole).unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 45);
}

#[test]
fn a_given_name_that_ends_like_a_patronymic_is_one_in_any_case() {
    for v in [
        "Петрович",
        "ПЕТРОВНА",
        "Ильинична",
        "Мамед оглы",
        "АЛИЕВ КЫЗЫ",
    ] {
        let single = !v.contains(' ');
        let want = if single {
            FieldClass::Patronymic
        } else {
            FieldClass::FullName
        };
        assert_eq!(refine(FieldClass::GivenName, v), Some(want), "{v}");
    }
    // Any Unicode whitespace inside separates words; at the ends it is
    // trimmed.
    for v in [
        "Анна\u{a0}Мария",
        "Анна\tМария",
        "Анна\u{3000}Мария",
        "Анна\u{2009}Мария",
        "Anna\u{85}Maria",
    ] {
        assert_eq!(
            refine(FieldClass::GivenName, v),
            Some(FieldClass::FullName),
            "{v:?}"
        );
    }
    for v in [" Мария\u{a0}", "\u{2028}Мария", "Мария№", "Мари«я»"] {
        assert_eq!(
            refine(FieldClass::GivenName, v),
            Some(FieldClass::GivenName),
            "{v:?}"
        );
    }
    // Four letters or fewer are too short to tell ("Ёжич").
    for v in ["Иван", "Мария", "Ёжич", "ич", "John", "ИЛЬИЧ"] {
        let want = match v {
            "ИЛЬИЧ" => FieldClass::Patronymic,
            _ => FieldClass::GivenName,
        };
        assert_eq!(refine(FieldClass::GivenName, v), Some(want), "{v}");
    }
}

#[test]
fn removed_members_are_dropped_and_counted_at_any_chunking() {
    // Removed first, middle and last members; a string, a number, an
    // escaped string and kept members between them.
    let doc = r#"{"snils":"112-233-445 95","a":1, "passport" : "4510 123456","oms":7700000000000014,"b":"x","snils_number":"112\u002d233-445 95"}"#;
    let e = engine();
    for chunk in 1..=doc.len() {
        let mut r = e.redactor(Purpose::Support, ContentKind::Json).unwrap();
        let mut out = Vec::new();
        for c in doc.as_bytes().chunks(chunk) {
            r.feed(c, &mut out).unwrap();
        }
        r.finish(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":1,"b":"x"}"#,
            "chunk {chunk}"
        );
        let removed = &r.stats().removed;
        assert_eq!(removed[FieldClass::Snils.index()], 2, "chunk {chunk}");
        assert_eq!(removed[FieldClass::Passport.index()], 1, "chunk {chunk}");
        assert_eq!(removed[FieldClass::OmsPolicy.index()], 1, "chunk {chunk}");
    }
}

#[test]
fn a_context_key_takes_the_fast_path_only_outside_its_context() {
    // `phone`, `address`, `email`, `surname` and `patronymic` are named by
    // context rules (an organisation's phone is not a patient's). Outside
    // those contexts they are decided by their own class on the fast path;
    // under `clinic`, `insurer` or `name` the slow path decides. The
    // expected bytes are what the slow path gave for every member before
    // the fast path took context keys.
    let doc = r#"{"items":[{"id":"1","surname":"Иванова","phone":"+7 916 123-45-67","clinic":{"phone":"+7 495 123-45-67","address":"г. Москва, ул. Лесная, д. 5","name":"Поликлиника 1","inn":"7707083893"},"address":"г. Москва, ул. Лесная, д. 5, кв. 12","email":"m.ivanova@example.ru","name":{"family":"Иванова","given":"Мария"},"insurer":{"email":"info@example.ru","title":"СК"},"patronymic":"Петровна"}]}"#;
    let cases = [
        (
            Purpose::Marketing,
            // An allowlist: the clinic's phone is a phone by its value; its
            // name, INN and address (of which a detector reads a part) go.
            r#"{"items":[{"phone":"+7 916 123-45-67","clinic":{"phone":"+7 495 123-45-67"},"email":"m.ivanova@example.ru","name":{"given":"Мария"},"insurer":{"email":"info@example.ru"}}]}"#,
        ),
        (
            Purpose::Support,
            r#"{"items":[{"id":"1","surname":"Иванова","phone":"+* *** ***-**-67","clinic":{"phone":"+* *** ***-**-67","address":"г. Москва, [address]","name":"Поликлиника 1","inn":"7707083893"},"email":"*.*******@*******.**","name":{"family":"Иванова","given":"Мария"},"insurer":{"email":"****@*******.**","title":"СК"},"patronymic":"Петровна"}]}"#,
        ),
        (Purpose::Care, doc),
    ];
    let e = engine();
    for (purpose, want) in cases {
        for chunk in 1..=doc.len() {
            let mut r = e.redactor(purpose, ContentKind::Json).unwrap();
            let mut out = Vec::new();
            for c in doc.as_bytes().chunks(chunk) {
                r.feed(c, &mut out).unwrap();
            }
            r.finish(&mut out).unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                want,
                "{purpose:?}, chunk {chunk}"
            );
        }
    }
}

#[test]
fn given_names_are_refined_by_their_value_at_any_chunking() {
    // A given name that reads as a patronymic or a full name is one, for
    // marketing removed; an escaped one, a number and null take the slow
    // path. The expected bytes are those of the slow path, which handled
    // every given name before the fast path took them.
    let doc = r#"{"a":[{"given_name":"Мария","first_name":"Петрович","givenName":"Анна Мария","given_name2":"Ильинична","x":1},{"firstName":"Оль\u0433а","given_name":null,"given_name_3":7,"given_name_4":"ЮЛИЯ"}]}"#;
    let marketing = r#"{"a":[{"given_name":"Мария"},{"firstName":"Оль\u0433а","given_name":null,"given_name_3":7,"given_name_4":"ЮЛИЯ"}]}"#;
    let e = engine();
    for (purpose, want) in [(Purpose::Marketing, marketing), (Purpose::Support, doc)] {
        for chunk in 1..=doc.len() {
            let mut r = e.redactor(purpose, ContentKind::Json).unwrap();
            let mut out = Vec::new();
            for c in doc.as_bytes().chunks(chunk) {
                r.feed(c, &mut out).unwrap();
            }
            r.finish(&mut out).unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                want,
                "{purpose:?}, chunk {chunk}"
            );
            if purpose == Purpose::Marketing {
                let st = r.stats();
                assert_eq!(
                    st.removed[FieldClass::Patronymic.index()],
                    2,
                    "chunk {chunk}"
                );
                assert_eq!(st.removed[FieldClass::FullName.index()], 1, "chunk {chunk}");
                assert_eq!(
                    st.disclosed[FieldClass::GivenName.index()],
                    4,
                    "chunk {chunk}"
                );
            }
        }
    }
}

#[test]
fn fhir_search_bundle_records_by_subject_reference() {
    // A search Bundle of Observations: each entry's subject is
    // `Patient/<id>`; the entries of patient 2 are dropped at any chunking,
    // and the Bundle stays JSON.
    let entry = |id: &str, p: &str| {
        format!(
            r#"{{"fullUrl":"urn:uuid:{id}","resource":{{"resourceType":"Observation","id":"{id}","status":"final","code":{{"text":"glucose"}},"subject":{{"reference":"Patient/{p}"}},"valueQuantity":{{"value":5.5,"unit":"mmol/L"}}}}}}"#
        )
    };
    let doc = format!(
        r#"{{"resourceType":"Bundle","type":"searchset","entry":[{},{},{}]}}"#,
        entry("o1", "1"),
        entry("o2", "2"),
        entry("o3", "1/_history/3")
    );
    let spec = RecordSpec::parse("$.entry[*]", "resource.subject.reference").unwrap();
    for chunk in [1, 5, 64, 100_000] {
        let (out, _) = redact_records(Purpose::Care, doc.as_bytes(), chunk, &spec, |s| match s {
            "1" => RecordVerdict::Keep,
            "2" => RecordVerdict::Drop,
            other => panic!("subject {other:?} is not a patient id"),
        })
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let ids: Vec<&str> = v["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["resource"]["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["o1", "o3"], "chunk {chunk}");
    }
}

#[test]
fn fhir_search_bundle_records_for_marketing_are_redacted_and_labelled() {
    // The same shape for a purpose that changes every entry: a display
    // that names the patient goes, the note's required text is marked, and
    // each kept entry carries the label, at any chunking.
    let entry = |id: &str, p: &str| {
        format!(
            r#"{{"fullUrl":"https://mis.example/fhir/Observation/{id}","resource":{{"resourceType":"Observation","id":"{id}","status":"final","code":{{"text":"ЧСС"}},"subject":{{"reference":"Patient/{p}","display":"Громов Тимофей Романович"}},"note":[{{"text":"Пациент Громов жалуется"}}]}},"search":{{"mode":"match"}}}}"#
        )
    };
    let doc = format!(
        r#"{{"resourceType":"Bundle","type":"searchset","total":3,"entry":[{},{},{}]}}"#,
        entry("o1", "1"),
        entry("o2", "2"),
        entry("o3", "3")
    );
    // The same with every resourceType last, as a serializer that sorts
    // keys writes it: the Bundle and its entries are held until it is read.
    let sorted = doc
        .replace(r#""resourceType":"Bundle","#, "")
        .replace(r#""resourceType":"Observation","#, "")
        .replace(
            r#"]}},"search""#,
            r#"],"resourceType":"Observation"}},"search""#,
        )
        .trim_end_matches('}')
        .to_owned()
        + r#","resourceType":"Bundle"}"#;
    let spec = RecordSpec::parse("$.entry[*]", "resource.subject.reference").unwrap();
    // (application/json is FHIR only when resourceType comes first.)
    let cases = [
        (&doc, ContentKind::Json),
        (&doc, ContentKind::Fhir),
        (&sorted, ContentKind::Fhir),
    ];
    for (doc, kind, chunk) in cases
        .into_iter()
        .flat_map(|(d, k)| [1, 5, 64, 100_000].map(|c| (d, k, c)))
    {
        let verdict = |s: &str| {
            if s == "2" {
                RecordVerdict::Drop
            } else {
                RecordVerdict::Keep
            }
        };
        let (out, _) = redact_records_as(
            kind,
            Purpose::Marketing,
            doc.as_bytes(),
            chunk,
            &spec,
            verdict,
        )
        .unwrap_or_else(|e| panic!("{kind:?}, chunk {chunk}: {e}"));
        assert!(!out.contains("Громов"), "chunk {chunk}: {out}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let entries = v["entry"].as_array().unwrap();
        assert_eq!(entries.len(), 2, "chunk {chunk}: {out}");
        // Bundle.total says what was returned, before or after the entries.
        assert_eq!(v["total"], 2, "chunk {chunk}: {out}");
        for e in entries {
            assert_eq!(
                e["resource"]["meta"]["security"][0]["code"], "REDACTED",
                "{out}"
            );
            assert_eq!(
                e["resource"]["note"][0]["_text"]["extension"][0]["valueCode"],
                "masked"
            );
        }
    }
}

#[test]
fn counts_beside_the_records_say_only_what_was_returned() {
    // `total` before the list (held until the list closes), `count` after
    // it, a string count, and a page whose records are all kept.
    let items: Vec<String> = (1..=6)
        .map(|i| format!(r#"{{"id":"{i}","note":"запись {i}"}}"#))
        .collect();
    let list = items.join(",");
    let spec = RecordSpec::parse("$.items[*]", "id").unwrap();
    let drop_even = |s: &str| {
        if s.parse::<u32>().unwrap() % 2 == 0 {
            RecordVerdict::Drop
        } else {
            RecordVerdict::Keep
        }
    };
    let keep_all = |_: &str| RecordVerdict::Keep;
    let before = format!(r#"{{"total":6,"page":1,"items":[{list}],"count":"6","next":null}}"#);
    for chunk in [1, 3, 16, 100_000] {
        let (out, _) =
            redact_records(Purpose::Care, before.as_bytes(), chunk, &spec, drop_even).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["items"].as_array().unwrap().len(), 3, "{out}");
        assert_eq!(v["total"], 3, "chunk {chunk}: {out}");
        assert_eq!(v["count"], "3", "chunk {chunk}: {out}");
        assert_eq!(v["page"], 1);
        // Nothing dropped: the document is as the MIS wrote it.
        let (out, _) =
            redact_records(Purpose::Care, before.as_bytes(), chunk, &spec, keep_all).unwrap();
        assert_eq!(out, before, "chunk {chunk}");
    }
    // Nested lists and FHIR Bundles count the same way.
    let spec = RecordSpec::parse("$.data.list[*]", "id").unwrap();
    let nested = format!(r#"{{"data":{{"total":6,"list":[{list}]}},"total":99}}"#);
    let (out, _) = redact_records(Purpose::Care, nested.as_bytes(), 7, &spec, drop_even).unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["data"]["total"], 3, "{out}");
    assert_eq!(v["total"], 99, "a count elsewhere is not this list's");
}

#[test]
fn a_count_held_past_the_bound_is_written_as_unknown() {
    // A count before a list longer than the hold: the output cannot wait,
    // and the MIS's number may tell how many consent drops.
    let items: Vec<String> = (0..4000)
        .map(|i| format!(r#"{{"id":"{i}","note":"{}"}}"#, "x".repeat(300)))
        .collect();
    let doc = format!(r#"{{"total":4000,"items":[{}]}}"#, items.join(","));
    assert!(doc.len() > 1 << 20);
    let spec = RecordSpec::parse("$.items[*]", "id").unwrap();
    let (out, _) = redact_records(Purpose::Care, doc.as_bytes(), 64 << 10, &spec, |_| {
        RecordVerdict::Keep
    })
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["total"], serde_json::Value::Null);
    assert_eq!(v["items"].as_array().unwrap().len(), 4000);
}

#[test]
fn postcodes_and_address_register_ids_are_the_address() {
    let input = r#"{"patient":{"postalCode":"420000","индекс":"420003","fiasGuid":"0c5b2444-70a0-4932-980c-b4dc0d3f02b5","kladrCode":"1600000100000","clinic":{"name":"ГБУЗ","postalCode":"420005"}}}"#;
    for p in [Purpose::Support, Purpose::Marketing, Purpose::Analytics] {
        let out = redact(p, input).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        // An allowlist has no use for the clinic's name and postcode either.
        let clinic = match p {
            Purpose::Marketing => serde_json::json!({}),
            _ => serde_json::json!({"name": "ГБУЗ", "postalCode": "420005"}),
        };
        assert_eq!(v, serde_json::json!({"patient": {"clinic": clinic}}), "{p}");
    }
    assert_eq!(redact(Purpose::Care, input).unwrap(), input);
}

/// A redactor for `p` told the request's subject, as the proxy tells it.
fn redact_for_subject(p: Purpose, subject: &str, input: &str, chunk: usize) -> String {
    let e = engine();
    let mut r = e
        .redactor(p, ContentKind::Json)
        .unwrap()
        .with_subject(subject.to_owned());
    let mut out = Vec::new();
    for c in input.as_bytes().chunks(chunk) {
        r.feed(c, &mut out).unwrap();
    }
    r.finish(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn the_subjects_id_is_a_person_id_keyed_as_the_audit_keys_it() {
    let input =
        r#"{"id":"10234","visit":{"patientId":10234,"doctorId":"77","room":"10234a"},"n":3}"#;
    let token = crate::audit::query::subject_pseudonym(&engine().key().clone(), "10234");
    for chunk in [1, 5, input.len()] {
        let out = redact_for_subject(Purpose::Analytics, "10234", input, chunk);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"id": token, "visit": {"patientId": token, "doctorId": "77", "room": "10234a"}, "n": 3}),
            "chunk {chunk}"
        );
        let out = redact_for_subject(Purpose::Marketing, "10234", input, chunk);
        assert!(!out.contains("10234\""), "chunk {chunk}: {out}");
        assert_eq!(
            redact_for_subject(Purpose::Care, "10234", input, chunk),
            input
        );
    }
    // Without a subject, an `id` of no class is left as it is.
    assert!(
        redact(Purpose::Analytics, input)
            .unwrap()
            .contains(r#""id":"10234""#)
    );
}

#[test]
fn a_records_subject_id_is_a_person_id() {
    let doc = r#"{"items":[{"id":"1","referredBy":"2","note":"ok"},{"note":"x","id":"2","referredBy":"1"}],"total":2}"#;
    let spec = RecordSpec::parse("$.items[*]", "id").unwrap();
    let key = engine().key().clone();
    let token = |id: &str| crate::audit::query::subject_pseudonym(&key, id);
    for chunk in [1, 4, doc.len()] {
        // `redact_records` checks that held, released and streamed records agree.
        let (out, _) = redact_records(Purpose::Analytics, doc.as_bytes(), chunk, &spec, |_| {
            RecordVerdict::Keep
        })
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["items"][0]["id"], token("1"), "chunk {chunk}: {out}");
        assert_eq!(v["items"][1]["id"], token("2"), "chunk {chunk}: {out}");
        // Another record's id is not this record's subject.
        assert_eq!(v["items"][0]["referredBy"], "2", "chunk {chunk}");
        assert_eq!(v["items"][1]["referredBy"], "1", "chunk {chunk}");
        let (care, _) = redact_records(Purpose::Care, doc.as_bytes(), chunk, &spec, |_| {
            RecordVerdict::Keep
        })
        .unwrap();
        assert_eq!(care, doc);
    }
}

#[test]
fn passport_issue_date_and_office_are_the_passport() {
    let input = r#"{"passport":{"series":"4510","number":"123456","issueDate":"2015-03-01","issuedBy":"ОУФМС России по г. Москве","departmentCode":"770-001","дата_выдачи":"01.03.2015","кем выдан":"ОВД района"}}"#;
    for p in [Purpose::Support, Purpose::Marketing, Purpose::Analytics] {
        let out = redact(p, input).unwrap();
        for raw in ["2015-03-01", "ОУФМС", "770-001", "01.03.2015", "ОВД района"] {
            assert!(!out.contains(raw), "{p}: {raw} in {out}");
        }
    }
    assert_eq!(redact(Purpose::Care, input).unwrap(), input);
}

#[test]
fn allowlist_purposes_remove_what_no_rule_names() {
    let input = r#"{"page":2,"next_cursor":"c3","items":[{"given_name":"Мария","status":"active","lastVisit":"2023-09-12","flag":true,"note":"позвонить","значение":"+7 916 123-45-67","org":{"name":"ГБУЗ"},"tags":["a",1]}],"total":1}"#;
    let want = serde_json::json!({"page": 2, "next_cursor": "c3", "items": [{"given_name": "Мария",
        "значение": "+7 916 123-45-67", "org": {}, "tags": []}], "total": 1});
    let e = engine();
    assert!(e.rules().purpose(Purpose::Marketing).allowlist);
    assert!(e.rules().purpose(Purpose::Feedback).allowlist);
    for chunk in [1, 3, input.len()] {
        let mut r = e.redactor(Purpose::Marketing, ContentKind::Json).unwrap();
        let mut out = Vec::new();
        for c in input.as_bytes().chunks(chunk) {
            r.feed(c, &mut out).unwrap();
        }
        r.finish(&mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v, want, "chunk {chunk}: {}", String::from_utf8_lossy(&out));
        // status, lastVisit, flag, note, org.name, and the two tags.
        assert_eq!(r.stats().unlisted_removed, 7, "chunk {chunk}");
    }
    let run = |p: Purpose, input: &str| {
        let mut r = e.redactor(p, ContentKind::Json).unwrap();
        let mut out = Vec::new();
        r.feed(input.as_bytes(), &mut out).unwrap();
        r.finish(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    // Not an allowlist: support keeps what no rule names.
    let support: serde_json::Value = serde_json::from_str(&run(Purpose::Support, input)).unwrap();
    assert_eq!(support["items"][0]["lastVisit"], "2023-09-12");
    assert_eq!(support["items"][0]["status"], "active");
    // A page's structure is kept only at its root.
    let nested = r#"{"data":{"page":3,"total":9}}"#;
    assert_eq!(run(Purpose::Marketing, nested), r#"{"data":{}}"#);
    // A top-level scalar stays a JSON document.
    assert_eq!(run(Purpose::Marketing, r#""active""#), "null");
    // An order number or a barcode of no class is removed, not scanned.
    assert_eq!(
        run(Purpose::Marketing, r#"{"barcode":"89071903671"}"#),
        "{}"
    );
}
