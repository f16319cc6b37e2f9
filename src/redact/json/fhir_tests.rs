//! FHIR structure in the redactor, on synthetic Russian resources written
//! here: identifier systems in every spelling, type codes, a SNILS that
//! fails its checksum, a late resourceType, the REDACTED label.

use super::tests::engine;
use crate::class::Purpose;
use crate::redact::{ContentKind, RedactError};

fn run(p: Purpose, kind: ContentKind, input: &str, chunk: usize) -> Result<String, RedactError> {
    let e = engine();
    let mut r = e.redactor(p, kind).unwrap();
    let mut out = Vec::new();
    for c in input.as_bytes().chunks(chunk) {
        r.feed(c, &mut out)?;
    }
    r.finish(&mut out)?;
    Ok(String::from_utf8(out).unwrap())
}

/// Every chunking gives the same output; returns it.
fn redact(p: Purpose, kind: ContentKind, input: &str) -> String {
    let whole = run(p, kind, input, usize::MAX).unwrap();
    for chunk in [1, 2, 3, 7, 64] {
        assert_eq!(
            run(p, kind, input, chunk).unwrap(),
            whole,
            "{p} at chunk {chunk}"
        );
    }
    whole
}

const PATIENT: &str = r#"{"resourceType":"Patient","id":"p1",
 "identifier":[
  {"system":"1.2.643.100.3","value":"112-233-445 95"},
  {"system":"urn:identity:snils:Patient","value":"112-233-445 00"},
  {"type":{"coding":[{"code":"ENP"}]},"value":"7751320843000123"},
  {"value":"4509 123456","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"PPN"}]}},
  {"system":"http://mis.example.ru/mrn","value":"MRN-000731"}],
 "name":[{"family":"Зайцева","given":["Алёна","Игоревна"]}],
 "telecom":[{"system":"sms","value":"+7 912 000-11-22"},{"system":"email","value":"a.z@example.ru"}],
 "birthDate":"1981-03-04",
 "address":[{"line":["ул. Садовая, д. 5, кв. 12"],"city":"Казань","postalCode":"420000"}],
 "generalPractitioner":[{"reference":"Practitioner/d7","display":"Орлов Пётр Ильич"}]}"#;

const SECRETS: &[&str] = &[
    "112-233-445 95",
    "112-233-445 00",
    "7751320843000123",
    "4509 123456",
    "MRN-000731",
    "Зайцева",
    "Игоревна",
    "1981-03-04",
    "Садовая",
    "420000",
    "Орлов",
];

#[test]
fn russian_patient_for_marketing_keeps_only_what_a_mailing_needs() {
    let out = redact(Purpose::Marketing, ContentKind::Fhir, PATIENT);
    for s in SECRETS {
        assert!(!out.contains(s), "{s} survived: {out}");
    }
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["name"][0]["given"][0], "Алёна");
    assert_eq!(v["telecom"][1]["value"], "a.z@example.ru");
    assert_eq!(v["meta"]["security"][0]["code"], "REDACTED");
}

#[test]
fn russian_patient_for_analytics_is_pseudonymized_and_generalized() {
    let out = redact(Purpose::Analytics, ContentKind::Json, PATIENT);
    for s in SECRETS {
        assert!(!out.contains(s), "{s} survived: {out}");
    }
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // The wrong-checksum SNILS is still an identifier: its structure says so.
    for i in 0..5 {
        let id = v["identifier"][i]["value"].as_str().unwrap();
        assert!(id.starts_with("psn_"), "identifier {i}: {id}");
    }
    assert_eq!(v["birthDate"], "1981");
    assert_eq!(v["address"][0]["city"], "Казань");
}

#[test]
fn legal_and_care_leave_the_resource_byte_identical() {
    for p in [Purpose::Legal, Purpose::Care] {
        assert_eq!(redact(p, ContentKind::Fhir, PATIENT), PATIENT, "{p}");
    }
}

#[test]
fn a_late_resource_type_is_held_until_read() {
    let late = r#"{"name":[{"family":"Зайцева"}],"resourceType":"Patient"}"#;
    let out = redact(Purpose::Marketing, ContentKind::Fhir, late);
    assert!(!out.contains("Зайцева"), "{out}");
    // As application/json the object is not FHIR by its first member, and
    // the key rules still remove the surname.
    let out = redact(Purpose::Marketing, ContentKind::Json, late);
    assert!(!out.contains("Зайцева"), "{out}");
}

#[test]
fn a_late_resource_type_past_the_bound_fails_closed() {
    let big = format!(
        r#"{{"note":[{{"text":"{}"}}],"resourceType":"Patient"}}"#,
        "x".repeat(2 << 20)
    );
    let got = run(Purpose::Marketing, ContentKind::Fhir, &big, 64 << 10);
    assert!(
        matches!(got, Err(RedactError::HoldBackOverflow(_))),
        "{got:?}"
    );
}

#[test]
fn the_label_goes_into_an_existing_meta_once() {
    let with_security = r#"{"resourceType":"Patient","meta":{"security":[{"code":"N"}]},"name":[{"family":"Зайцева"}]}"#;
    let out = redact(Purpose::Marketing, ContentKind::Fhir, with_security);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["meta"]["security"][1]["code"], "REDACTED", "{out}");
    let with_meta =
        r#"{"resourceType":"Patient","meta":{"versionId":"2"},"name":[{"family":"Зайцева"}]}"#;
    let out = redact(Purpose::Marketing, ContentKind::Fhir, with_meta);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["meta"]["versionId"], "2");
    assert_eq!(v["meta"]["security"][0]["code"], "REDACTED", "{out}");
    // Redacting the output again adds no second label.
    assert_eq!(redact(Purpose::Marketing, ContentKind::Fhir, &out), out);
}

#[test]
fn bundle_entries_are_labelled_one_by_one_and_the_bundle_is_not() {
    let bundle = format!(
        r#"{{"resourceType":"Bundle","type":"searchset","entry":[{{"resource":{PATIENT}}},{{"resource":{{"resourceType":"Organization","name":"ГБУЗ РКБ"}}}}]}}"#
    );
    let out = redact(Purpose::Marketing, ContentKind::Fhir, &bundle);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v.get("meta").is_none(), "{out}");
    assert_eq!(
        v["entry"][0]["resource"]["meta"]["security"][0]["code"],
        "REDACTED"
    );
    assert!(v["entry"][1]["resource"].get("meta").is_none(), "{out}");
    assert_eq!(v["entry"][1]["resource"]["name"], "ГБУЗ РКБ");
}

#[test]
fn fhir_ndjson_lines_are_resources() {
    let lines = format!(
        "{}\n{}\n",
        PATIENT.replace('\n', ""),
        PATIENT.replace('\n', "")
    );
    let out = redact(Purpose::Marketing, ContentKind::FhirNdjson, &lines);
    assert_eq!(out.lines().count(), 2);
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["meta"]["security"][0]["code"], "REDACTED");
        assert!(!line.contains("Зайцева"));
    }
}

/// The data-absent-reason extension zaslon writes for a removed required
/// element, as `rules/fhir.toml` [absent] names it.
const MASKED: &str = r#"{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"masked"}]}"#;

#[test]
fn a_removed_required_element_is_written_back_as_masked() {
    // Annotation.text is 1..1: marketing may not read the note, and the
    // note stays valid FHIR by saying why its text is absent.
    let obs = r#"{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"АД"},
     "note":[{"text":"Пациентка жалуется на головную боль","time":"2026-01-02"}],
     "subject":{"reference":"Patient/p1"}}"#;
    let out = redact(Purpose::Marketing, ContentKind::Fhir, obs);
    assert!(!out.contains("головную"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let masked: serde_json::Value = serde_json::from_str(MASKED).unwrap();
    assert_eq!(v["note"][0]["_text"], masked, "{out}");
    assert_eq!(v["note"][0]["time"], "2026-01-02");
    assert!(v["note"][0].get("text").is_none());
    // The note was the only member: no stray comma, one `_text`.
    let alone = r#"{"resourceType":"Observation","note":[{"text":"Жалобы на кашель"}]}"#;
    let out = redact(Purpose::Marketing, ContentKind::Fhir, alone);
    assert!(
        out.starts_with(&format!(
            r#"{{"resourceType":"Observation","note":[{{"_text":{MASKED}}}]"#
        )),
        "{out}"
    );
    // A care reader sees the note: nothing is marked.
    let out = redact(Purpose::Care, ContentKind::Fhir, obs);
    assert_eq!(out, obs);
}

#[test]
fn a_required_element_with_its_own_extension_is_not_marked_twice() {
    // `_text` kept, in either order around `text`: the element is present
    // in FHIR's sense, so no second `_text` is written.
    for note in [
        r#"{"text":"Жалобы на кашель","_text":{"id":"t1"}}"#,
        r#"{"_text":{"id":"t1"},"text":"Жалобы на кашель"}"#,
    ] {
        let doc = format!(r#"{{"resourceType":"Observation","note":[{note}]}}"#);
        let out = redact(Purpose::Marketing, ContentKind::Fhir, &doc);
        assert_eq!(out.matches("\"_text\"").count(), 1, "{out}");
        assert!(!out.contains("кашель"), "{out}");
        assert!(!out.contains("data-absent-reason"), "{out}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap();
    }
}

#[test]
fn a_conditional_request_of_a_person_keeps_a_valid_bundle_entry() {
    // Bundle.entry.request.url is 1..1; for a person it is removed (it may
    // search by an identifier), and marked.
    let bundle = r#"{"resourceType":"Bundle","type":"transaction","entry":[
     {"resource":{"resourceType":"Patient","name":[{"family":"Зайцева"}]},
      "request":{"method":"PUT","url":"Patient?identifier=http://fhir.ru/core/systems/snils|11223344595"}}]}"#;
    let out = redact(Purpose::Marketing, ContentKind::Fhir, bundle);
    assert!(!out.contains("11223344595"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let req = &v["entry"][0]["request"];
    assert_eq!(req["method"], "PUT");
    assert_eq!(req["_url"]["extension"][0]["valueCode"], "masked", "{out}");
}

#[test]
fn names_read_from_a_person_are_found_again_in_later_free_text() {
    // The subject's display names the patient; a clinical display later in
    // the same resource retells it. Analytics may read health data, so the
    // display is kept, and the name in it goes as analytics' rules say.
    let cond = r#"{"resourceType":"Condition","id":"c1",
     "subject":{"reference":"Patient/p1","display":"Roel Jansen"},
     "evidence":[{"detail":[{"reference":"DiagnosticReport/d1","display":"Report of Roel's tumour (Jansen)"}]}],
     "note":[{"text":"Roeland and Roelof are other people"}]}"#;
    let out = redact(Purpose::Analytics, ContentKind::Fhir, cond);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let detail = v["evidence"][0]["detail"][0]["display"].as_str().unwrap();
    assert_eq!(detail, "Report of [full_name]'s tumour ([full_name])");
    // Only whole words: longer names that start alike are not touched.
    assert_eq!(v["note"][0]["text"], "Roeland and Roelof are other people");
    // A second document knows nothing of the first's names.
    let other = r#"{"resourceType":"Observation","note":[{"text":"Roel's result"}]}"#;
    let out = redact(Purpose::Analytics, ContentKind::Fhir, other);
    assert!(out.contains("Roel's result"), "{out}");
    // Care may see names: nothing changes, not even an escape.
    let escaped = cond
        .replace("Report of", "Report\u{2014}of")
        .replace("tumour", "tum\\u006fur");
    assert_eq!(redact(Purpose::Care, ContentKind::Fhir, &escaped), escaped);
}

/// An Encounter whose identifier spells its patient's name before the
/// subject names him: the identifier is the patient's through the MIS.
const ENCOUNTER: &str = r#"{"resourceType":"Encounter","id":"e5",
 "identifier":[{"use":"temp","value":"Encounter_Gromov_20240412"}],
 "status":"finished",
 "subject":{"reference":"Patient/p9","display":"Громов Тимофей"},
 "serviceProvider":{"reference":"Organization/o1","identifier":{"value":"1027700132195"}}}"#;

#[test]
fn identifiers_of_a_record_about_a_person_are_the_persons() {
    let m = redact(Purpose::Marketing, ContentKind::Fhir, ENCOUNTER);
    assert!(!m.contains("Gromov"), "{m}");
    let v: serde_json::Value = serde_json::from_str(&m).unwrap();
    assert_eq!(v["identifier"][0]["use"], "temp");
    // The organisation a reference names keeps its identifier.
    assert_eq!(v["serviceProvider"]["identifier"]["value"], "1027700132195");
    let a = redact(Purpose::Analytics, ContentKind::Fhir, ENCOUNTER);
    let v: serde_json::Value = serde_json::from_str(&a).unwrap();
    let token = v["identifier"][0]["value"].as_str().unwrap();
    assert!(token.starts_with("psn_"), "{a}");
    // Care sees the record as the MIS wrote it.
    assert_eq!(
        redact(Purpose::Care, ContentKind::Fhir, ENCOUNTER),
        ENCOUNTER
    );
    // An Organization's own identifiers are not a person's.
    let org = r#"{"resourceType":"Organization","identifier":[{"value":"Org_Gromov_1"}],"name":"Клиника"}"#;
    assert_eq!(redact(Purpose::Marketing, ContentKind::Fhir, org), org);
}

/// The places in `v` that FHIR JSON forbids: empty objects and arrays.
fn empties(v: &serde_json::Value, path: String, found: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            if m.is_empty() {
                found.push(path.clone());
            }
            for (k, x) in m {
                empties(x, format!("{path}.{k}"), found);
            }
        }
        serde_json::Value::Array(a) => {
            if a.is_empty() {
                found.push(path.clone());
            }
            for (i, x) in a.iter().enumerate() {
                empties(x, format!("{path}[{i}]"), found);
            }
        }
        _ => {}
    }
}

fn masked(v: &serde_json::Value) -> bool {
    *v == serde_json::json!({"extension": [{
        "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
        "valueCode": "masked"}]})
}

#[test]
fn objects_left_empty_say_why_and_arrays_left_empty_go() {
    let input = r#"{"resourceType":"Observation","status":"final",
 "code":{"text":"жалобы"},
 "performer":[{"display":"Громов Тимофей"},{"display":"Орлова Нина"}],
 "component":[{"valueString":"x","code":{"coding":[{"display":"Ильин Пётр"}]}}],
 "subject":{"reference":"Patient/p9","display":"Громов Тимофей"}}"#;
    let out = redact(Purpose::Marketing, ContentKind::Fhir, input);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut found = Vec::new();
    empties(&v, "$".into(), &mut found);
    assert!(found.is_empty(), "{found:?} in {out}");
    // Observation.code is required: it stays, marked as withheld.
    assert!(masked(&v["code"]), "{out}");
    assert!(masked(&v["performer"][1]), "{out}");
    assert!(masked(&v["component"][0]["code"]["coding"][0]), "{out}");
    assert_eq!(v["component"][0]["valueString"], "x");
    // The patient's id in the MIS is a person_id, which marketing is not
    // given: the reference goes, and its object says why.
    assert!(masked(&v["subject"]), "{out}");
    assert_eq!(v["meta"]["security"][0]["code"], "REDACTED");
    assert_eq!(redact(Purpose::Care, ContentKind::Fhir, input), input);

    // Arrays of removed values go with their member, in every position.
    let patient = r#"{"resourceType":"Patient",
 "name":[{"given":["Тимофей","Ильич"],"family":"Громов","use":"official"}],
 "address":[{"use":"home","line":["ул. Садовая, 5"]}],
 "extension":[]}"#;
    let out = redact(Purpose::Marketing, ContentKind::Fhir, patient);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["name"][0]["given"], serde_json::json!(["Тимофей"]));
    assert_eq!(v["address"][0], serde_json::json!({"use": "home"}), "{out}");
    // An array the MIS wrote empty is left as it was.
    assert_eq!(v["extension"], serde_json::json!([]));
    let a = redact(Purpose::Analytics, ContentKind::Fhir, patient);
    let v: serde_json::Value = serde_json::from_str(&a).unwrap();
    assert!(v["name"][0].get("given").is_none(), "{a}");
    assert_eq!(v["name"][0]["use"], "official");
}

#[test]
fn an_array_waiting_past_the_bound_fails_closed() {
    // Every element is removed for analytics, so the array's opening waits;
    // whitespace past hold_back_bytes may not make it wait without bound.
    let big = format!(
        r#"{{"resourceType":"Patient","name":[{{"given":["Тимофей",{}"Ильич"]}}]}}"#,
        " ".repeat(2 << 20)
    );
    let got = run(Purpose::Analytics, ContentKind::Fhir, &big, 64 << 10);
    assert!(
        matches!(got, Err(RedactError::HoldBackOverflow(_))),
        "{got:?}"
    );
    // Within the bound the array goes, and nothing of it is written.
    let small = big.replace(&" ".repeat(2 << 20), " ");
    let out = run(Purpose::Analytics, ContentKind::Fhir, &small, 7).unwrap();
    assert!(!out.contains("given") && !out.contains("Тимофей"), "{out}");
}

#[test]
fn a_persons_id_in_the_mis_is_a_person_id_in_fhir_form() {
    let input = r#"{"resourceType":"Bundle","type":"searchset","entry":[
 {"fullUrl":"https://mis.example/fhir/Patient/10234","resource":{"resourceType":"Patient","id":"10234","gender":"female"}},
 {"fullUrl":"https://mis.example/fhir/Encounter/e1","resource":{"resourceType":"Encounter","id":"e1","status":"finished",
  "subject":{"reference":"Patient/10234"},"serviceProvider":{"reference":"Organization/o1"}}}]}"#;
    let token = crate::audit::query::subject_pseudonym(engine().key(), "10234").replace('_', "-");
    let out = redact(Purpose::Analytics, ContentKind::Fhir, input);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let e = &v["entry"];
    assert_eq!(
        e[0]["fullUrl"],
        format!("https://mis.example/fhir/Patient/{token}"),
        "{out}"
    );
    assert_eq!(e[0]["resource"]["id"], token);
    assert_eq!(
        e[1]["resource"]["subject"]["reference"],
        format!("Patient/{token}")
    );
    // Not a person: kept, and so is the encounter's own id.
    assert_eq!(e[1]["fullUrl"], "https://mis.example/fhir/Encounter/e1");
    assert_eq!(e[1]["resource"]["id"], "e1");
    assert_eq!(
        e[1]["resource"]["serviceProvider"]["reference"],
        "Organization/o1"
    );
    // A FHIR id: [A-Za-z0-9\-\.]{1,64}.
    assert!(
        token.len() <= 64
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    );
    for r in [&e[0]["resource"], &e[1]["resource"]] {
        assert_eq!(r["meta"]["security"][0]["code"], "REDACTED", "{out}");
    }
    // Marketing gets no person id; care sees them all.
    let out = redact(Purpose::Marketing, ContentKind::Fhir, input);
    assert!(!out.contains("10234"), "{out}");
    assert_eq!(redact(Purpose::Care, ContentKind::Fhir, input), input);
}
