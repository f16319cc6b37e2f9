//! FHIR through the proxy (issue 19): synthetic Russian resources written
//! here, served by a test MIS as `application/fhir+json`, read through
//! zaslon's routes with path and record-level consent.
//!
//! - a Patient read, its identifiers under several system spellings (fhir.ru
//!   URIs, `urn:oid:` and bare OIDs, a type code only, an unknown system, a
//!   SNILS whose checksum is wrong);
//! - a search Bundle of Observations whose entries belong to many patients,
//!   each entry kept or dropped by its own patient's consent.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use serde_json::{Value, json};
use support::*;
use zaslon::class::Purpose;
use zaslon::consent::SubjectState;

const FHIR_JSON: &str = "application/fhir+json; fhirVersion=4.0";

/// A SNILS for `n` (nine digits) with its check number; `valid = false`
/// gives the same digits with a wrong one.
fn snils(n: u32, valid: bool) -> String {
    let d: Vec<u32> = format!("{n:09}")
        .bytes()
        .map(|b| u32::from(b - b'0'))
        .collect();
    let sum: u32 = d.iter().zip((1..=9).rev()).map(|(x, w)| x * w).sum();
    let check = match sum % 101 {
        100 => 0,
        c => c,
    };
    let check = if valid { check } else { (check + 1) % 100 };
    let s = format!("{n:09}");
    format!("{}-{}-{} {check:02}", &s[0..3], &s[3..6], &s[6..9])
}

/// Synthetic Russian names and places, none from the shared corpus.
const FAMILIES: [&str; 4] = ["Кузьмина", "Тарасов", "Белоусова", "Громов"];
const GIVEN: [&str; 4] = ["Олеся", "Ярослав", "Милена", "Тимофей"];
const PATRONYMICS: [&str; 4] = ["Артёмовна", "Денисович", "Глебовна", "Романович"];

/// A Patient and the values in it that marketing may not see (its rules
/// allow the given name, the phone and the email: whom to greet and where
/// to send).
fn patient(i: u32) -> (Value, Vec<String>) {
    let k = i as usize % 4;
    let good = snils(100_200_300 + i * 7, true);
    let bad = snils(200_300_400 + i * 11, false);
    let enp = format!("{:016}", 5_550_000_000_000_000u64 + u64::from(i) * 13);
    let passport = format!("45{:02} {:06}", i % 100, 300_000 + i);
    let mrn = format!("MK-{:06}", 900_000 + i);
    let phone = format!(
        "+7 9{:02} {:03}-{:02}-{:02}",
        10 + i % 80,
        100 + i % 900,
        i % 100,
        (i * 3) % 100
    );
    let birth = format!("19{:02}-0{}-1{}", 50 + i % 40, 1 + i % 9, i % 10);
    let street = format!("ул. Лесная, д. {}, кв. {}", 3 + i % 40, 10 + i % 90);
    let doc = json!({
        "resourceType": "Patient",
        "id": i.to_string(),
        "identifier": [
            {"system": "http://fhir.ru/core/systems/snils", "value": good},
            {"system": "urn:oid:1.2.643.100.3", "value": bad},
            {"system": "urn:oid:1.2.643.2.69.1.1.1.6.228", "value": enp},
            {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "PPN"}]},
             "value": passport},
            {"system": "http://mis.region.example/ids/mrn", "value": mrn}
        ],
        "name": [{"use": "official", "family": FAMILIES[k], "given": [GIVEN[k], PATRONYMICS[k]]}],
        "telecom": [{"system": "phone", "value": phone, "use": "mobile"}],
        "gender": if k.is_multiple_of(2) { "female" } else { "male" },
        "birthDate": birth,
        "address": [{"line": [street], "city": "Тверь", "postalCode": format!("17{:04}", 9000 + i)}]
    });
    let secrets = vec![
        format!("17{:04}", 9000 + i),
        "Тверь".to_owned(),
        birth,
        good,
        bad,
        enp,
        passport,
        mrn,
        FAMILIES[k].to_owned(),
        PATRONYMICS[k].to_owned(),
        street,
    ];
    (doc, secrets)
}

/// A searchset Bundle of Observations, one per patient 0..n, each with a
/// note that names its patient.
fn observations(n: u32) -> String {
    let entries: Vec<Value> = (0..n)
        .map(|i| {
            let k = i as usize % 4;
            json!({
                "fullUrl": format!("https://mis.region.example/fhir/Observation/obs-{i}"),
                "resource": {
                    "resourceType": "Observation",
                    "id": format!("obs-{i}"),
                    "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}], "text": "ЧСС"},
                    "subject": {"reference": format!("Patient/{i}"),
                                "display": format!("{} {} {}", FAMILIES[k], GIVEN[k], PATRONYMICS[k])},
                    "valueQuantity": {"value": 60 + i % 40, "unit": "/min"},
                    "note": [{"text": format!("Пациент {} жалуется на сердцебиение", FAMILIES[k])}]
                },
                "search": {"mode": "match"}
            })
        })
        .collect();
    json!({"resourceType": "Bundle", "type": "searchset", "total": n, "entry": entries}).to_string()
}

fn config(upstream: &str) -> String {
    default_config(upstream)
        + r#"
[[routes]]
path = "/fhir/Patient/{patient_id}"
subject = "path:patient_id"

[[routes]]
path = "/fhir/Observation"
records = "$.entry[*]"
record_subject = "resource.subject.reference"
"#
}

/// Marketing granted to every patient but every third.
fn consent(n: u32) -> FixedConsent {
    FixedConsent(
        (0..n)
            .map(|i| {
                let mut s = SubjectState::default();
                s.purposes[Purpose::Marketing.index()] = Some(i % 3 != 0);
                s.purposes[Purpose::Analytics.index()] = Some(true);
                (i.to_string(), s)
            })
            .collect(),
    )
}

async fn mis(n: u32) -> Upstream {
    let bundle = Arc::new(observations(n));
    Upstream::start(move |seen| {
        let path = seen.path_and_query.split('?').next().unwrap_or("");
        match path.strip_prefix("/fhir/Patient/") {
            Some(id) => {
                let (doc, _) = patient(id.parse().unwrap_or(0));
                Reply::with(FHIR_JSON, doc.to_string().into_bytes())
            }
            None => Reply::with(FHIR_JSON, bundle.as_bytes().to_vec()),
        }
    })
    .await
}

fn is_labelled(resource: &Value) -> bool {
    resource["meta"]["security"]
        .as_array()
        .is_some_and(|l| l.iter().any(|c| c["code"] == "REDACTED"))
}

#[tokio::test]
async fn a_russian_patient_read_for_marketing_loses_every_identifier_spelling() {
    const N: u32 = 12;
    let up = mis(N).await;
    let proxy = ProxyBuilder::new(&up.url())
        .config(config(&up.url()))
        .consent(consent(N))
        .start()
        .await;
    let all = |p: &'static str| [("x-api-key", ALL_KEY), ("x-purpose", p)];
    for i in [1, 2, 4, 5] {
        let (_, secrets) = patient(i);
        let r = get(&proxy.url(&format!("/fhir/Patient/{i}")), &all("marketing")).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("content-type"), Some(FHIR_JSON));
        let body = r.text();
        for s in &secrets {
            assert!(
                !body.contains(s.as_str()),
                "patient {i}: {s} survived: {body}"
            );
        }
        let v = r.json();
        assert!(is_labelled(&v), "{body}");
        // What a mailing needs stays: whom to greet, where to send.
        let (doc, _) = patient(i);
        assert_eq!(v["name"][0]["given"][0], GIVEN[i as usize % 4]);
        assert_eq!(v["telecom"], doc["telecom"]);
        // Care sees the patient as the MIS wrote it.
        let care = get(&proxy.url(&format!("/fhir/Patient/{i}")), &all("care")).await;
        assert_eq!(care.json(), patient(i).0);
    }
    // A patient who withdrew marketing is refused before the MIS is asked.
    let before = up.count();
    let r = get(&proxy.url("/fhir/Patient/3"), &all("marketing")).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (403, "consent_withdrawn")
    );
    assert_eq!(up.count(), before);
    proxy.stop().await.unwrap();
}

#[tokio::test]
async fn a_search_bundle_keeps_only_the_entries_whose_patients_consent() {
    const N: u32 = 60;
    let up = mis(N).await;
    let proxy = ProxyBuilder::new(&up.url())
        .config(config(&up.url()))
        .consent(consent(N))
        .start()
        .await;
    let all = |p: &'static str| [("x-api-key", ALL_KEY), ("x-purpose", p)];
    let r = get(
        &proxy.url("/fhir/Observation?code=8867-4"),
        &all("marketing"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.text();
    let v = r.json();
    // Marketing gets no patient id (a person_id): each entry is known by
    // its Observation's id, obs-{patient}.
    let subjects: Vec<String> = v["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap_or("").to_owned())
        .collect();
    let granted: Vec<String> = (0..N)
        .filter(|i| i % 3 != 0)
        .map(|i| format!("obs-{i}"))
        .collect();
    assert_eq!(subjects, granted);
    for e in v["entry"].as_array().unwrap() {
        let res = &e["resource"];
        assert!(res["subject"].get("reference").is_none(), "{res}");
        // The display of a reference to a patient is a name: gone. The note
        // is health data marketing may not read: its text is withheld the
        // FHIR way, so the entry stays valid.
        assert!(res["subject"].get("display").is_none(), "{res}");
        assert_eq!(
            res["note"][0]["_text"]["extension"][0]["valueCode"],
            "masked"
        );
        assert!(is_labelled(res), "{res}");
        assert!(!is_labelled(&v), "the Bundle itself is never labelled");
    }
    for f in FAMILIES {
        assert!(!body.contains(f), "{f} survived");
    }
    // The audit names exactly the granted subjects, pseudonymized.
    let events = proxy.wait_events(1).await;
    let key = zaslon::redact::PseudonymKey::new(PSEUDONYM_KEY.as_bytes());
    let audited: Vec<String> = (0..N)
        .filter(|i| i % 3 != 0)
        .map(|i| zaslon::redact::pseudo::pseudonym(&key, "subject", i.to_string().as_bytes()))
        .collect();
    assert_eq!(events[0].subjects, audited);

    // Analytics is granted for everyone: every entry is served.
    let r = get(
        &proxy.url("/fhir/Observation?code=8867-4"),
        &all("analytics"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["entry"].as_array().unwrap().len(), N as usize);
    proxy.stop().await.unwrap();
}
