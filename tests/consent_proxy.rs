//! Record-level consent through the proxy (issue 5): a list page whose
//! records belong to many patients, each record kept or dropped by its own
//! patient's consent for the request's purpose.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use support::*;
use zaslon::class::Purpose;
use zaslon::consent::SubjectState;
use zaslon::synth::{self, Kind};

const PATIENTS: usize = 1000;

/// A page of exactly 1,000 synthetic patient summaries (some with their id
/// as the last key, so records are held back until it is read).
fn page() -> String {
    let mut doc: serde_json::Value =
        serde_json::from_str(&synth::page_json(Kind::Patients, 1, 3 << 20)).unwrap();
    let items = doc["items"].as_array_mut().unwrap();
    assert!(items.len() >= PATIENTS, "{}", items.len());
    items.truncate(PATIENTS);
    for item in items.iter_mut() {
        let mark = marker(item["id"].as_str().unwrap());
        item["email"] = mark.into();
    }
    doc["total"] = PATIENTS.into();
    doc.to_string()
}

fn id(i: usize) -> String {
    synth::patient_id(1, i as u64)
}

/// Marketing granted for everyone, withdrawn by every tenth patient.
fn consent() -> FixedConsent {
    FixedConsent(
        (0..PATIENTS)
            .map(|i| {
                let mut s = SubjectState::default();
                s.purposes[Purpose::Marketing.index()] = Some(i % 10 != 0);
                (id(i), s)
            })
            .collect(),
    )
}

/// An email that names the record's patient: marketing may see an email but
/// not the MIS's id, so records are told apart by it.
fn marker(id: &str) -> String {
    format!("record{id}@example.test")
}

/// The patient of each record served, read from its marker.
fn ids(r: &Got) -> Vec<String> {
    r.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let email = p["email"].as_str().unwrap_or("");
            let id = email
                .strip_prefix("record")
                .and_then(|e| e.strip_suffix("@example.test"));
            id.unwrap_or("").to_owned()
        })
        .collect()
}

#[tokio::test]
async fn every_tenth_patient_withdrew_marketing_and_is_absent_only_there() {
    let body = Arc::new(page());
    let b = body.clone();
    let up = Upstream::start(move |_| Reply::json(&b)).await;
    let proxy = ProxyBuilder::new(&up.url())
        .consent(consent())
        .start()
        .await;
    let url = proxy.url("/api/patients");

    let care = get(&url, &[("x-api-key", ALL_KEY), ("x-purpose", "care")]).await;
    assert_eq!(care.status, 200);
    let all: Vec<String> = (0..PATIENTS).map(id).collect();
    assert_eq!(ids(&care), all, "care sees every record");

    let mk = get(&url, &[("x-api-key", ALL_KEY), ("x-purpose", "marketing")]).await;
    assert_eq!(mk.status, 200);
    let kept: Vec<String> = (0..PATIENTS).filter(|i| i % 10 != 0).map(id).collect();
    let got = ids(&mk);
    let leaked: Vec<&String> = got.iter().filter(|g| !kept.contains(g)).collect();
    assert!(
        leaked.is_empty(),
        "{} records of patients who withdrew marketing were served, e.g. {:?}",
        leaked.len(),
        &leaked[..leaked.len().min(5)]
    );
    assert_eq!(got, kept);
    proxy.stop().await.unwrap();
}

/// Through the consent cache: the first page is decided by batched
/// lookups (every record held back), the second from the warm cache (each
/// record streams as soon as its id is read). Both serve exactly the
/// granted records, and both audit exactly their subjects, in page order.
#[tokio::test]
async fn a_warm_consent_cache_streams_records_with_the_same_result() {
    use zaslon::consent::{CacheSettings, ConsentCache};
    let body = Arc::new(page());
    let b = body.clone();
    let up = Upstream::start(move |_| Reply::json(&b)).await;
    let cache = ConsentCache::new(Arc::new(consent()), CacheSettings::default());
    let proxy = ProxyBuilder::new(&up.url()).consent(cache).start().await;
    let url = proxy.url("/api/patients");
    let kept: Vec<String> = (0..PATIENTS).filter(|i| i % 10 != 0).map(id).collect();
    let key = zaslon::redact::PseudonymKey::new(PSEUDONYM_KEY.as_bytes());
    let audited: Vec<String> = kept
        .iter()
        .map(|s| zaslon::redact::pseudo::pseudonym(&key, "subject", s.as_bytes()))
        .collect();
    for round in 1..=2 {
        let mk = get(&url, &[("x-api-key", ALL_KEY), ("x-purpose", "marketing")]).await;
        assert_eq!(mk.status, 200, "round {round}");
        assert_eq!(ids(&mk), kept, "round {round}");
        let events = proxy.wait_events(round).await;
        assert_eq!(events.len(), round);
        assert_eq!(events[round - 1].subjects, audited, "round {round}");
    }
    proxy.stop().await.unwrap();
}

/// A list with several records of one patient (a day's appointments, say):
/// every granted record is served, and the audit names each patient once,
/// in the order their first record went out, whether the records were
/// held back for a batched lookup (first round) or streamed from the warm
/// cache (second).
#[tokio::test]
async fn a_patient_with_several_records_is_audited_once() {
    use zaslon::consent::{CacheSettings, ConsentCache};
    // Patients 3, 1, 3, 2, 1, 10, 3: patient 10 withdrew marketing.
    let order = [3usize, 1, 3, 2, 1, 10, 3];
    let items: Vec<serde_json::Value> = order
        .iter()
        .map(|&i| serde_json::json!({"id": id(i), "email": marker(&id(i)), "given_name": "Synthetic", "snils": "112-233-445 95"}))
        .collect();
    let body = Arc::new(serde_json::json!({ "items": items }).to_string());
    let b = body.clone();
    let up = Upstream::start(move |_| Reply::json(&b)).await;
    let cache = ConsentCache::new(Arc::new(consent()), CacheSettings::default());
    let proxy = ProxyBuilder::new(&up.url()).consent(cache).start().await;
    let url = proxy.url("/api/patients");
    let served: Vec<String> = [3, 1, 3, 2, 1, 3].into_iter().map(id).collect();
    let key = zaslon::redact::PseudonymKey::new(PSEUDONYM_KEY.as_bytes());
    let audited: Vec<String> = [3, 1, 2]
        .into_iter()
        .map(|i| zaslon::redact::pseudo::pseudonym(&key, "subject", id(i).as_bytes()))
        .collect();
    for round in 1..=2 {
        let mk = get(&url, &[("x-api-key", ALL_KEY), ("x-purpose", "marketing")]).await;
        assert_eq!(mk.status, 200, "round {round}");
        assert_eq!(ids(&mk), served, "round {round}");
        let events = proxy.wait_events(round).await;
        assert_eq!(events[round - 1].subjects, audited, "round {round}");
    }
    proxy.stop().await.unwrap();
}

#[tokio::test]
async fn a_consent_backend_down_aborts_a_list_response() {
    let up =
        Upstream::start(|_| Reply::json(r#"{"items":[{"id":"10001","surname":"Петрова"}]}"#)).await;
    let proxy = ProxyBuilder::new(&up.url())
        .consent(DownConsent)
        .start()
        .await;
    let r = get(
        &proxy.url("/api/patients"),
        &[("x-api-key", ALL_KEY), ("x-purpose", "care")],
    )
    .await;
    // Fail closed: refused before the head, or cut after it.
    assert!(
        r.status == 503 || r.body.is_err(),
        "status {} body {:?}",
        r.status,
        r.body
    );
    proxy.stop().await.unwrap();
}

#[path = "consent_support/mod.rs"]
mod consent_support;

/// Issue 5: two `serve` replicas share one PostgreSQL consent schema; an
/// SQL UPDATE withdraws a patient's consent; both deny within 1 s.
#[tokio::test]
async fn a_withdrawal_in_postgres_reaches_two_replicas_within_a_second() {
    let db = consent_support::TestSchema::create().await;
    db.exec(
        "insert into consent (subject, purpose, granted, source) values ('10234', 'care', true, 'test')",
    )
    .await;
    let up = Upstream::json(PATIENT).await;
    let tmp = tempfile::tempdir().unwrap();
    let config = |n: u32| {
        format!(
            "{}\n[consent]\nbackend = \"postgres\"\ndsn = \"host=127.0.0.1 port=5432 user=postgres dbname=test\"\nschema = \"{}\"\n\n[audit]\nsink = \"file\"\npath = \"{}/replica{n}/zaslon.jsonl\"\n",
            default_config(&up.url()),
            db.name,
            tmp.path().display()
        )
    };
    let a = Served::start(&config(1)).await;
    let b = Served::start(&config(2)).await;
    let care = [("x-api-key", CARE_KEY), ("x-purpose", "care")];
    for r in [&a, &b] {
        // Warm each replica's cache with the grant.
        let got = get(&r.url("/api/patients/10234"), &care).await;
        assert_eq!(got.status, 200, "{}", got.text());
    }
    let started = std::time::Instant::now();
    db.exec("update consent set granted = false, changed_at = now() where subject = '10234' and purpose = 'care'")
        .await;
    let mut denied = [None, None];
    while denied.iter().any(Option::is_none)
        && started.elapsed() < std::time::Duration::from_secs(5)
    {
        for (i, r) in [&a, &b].into_iter().enumerate() {
            if denied[i].is_none() {
                let got = get(&r.url("/api/patients/10234"), &care).await;
                if got.status == 403 {
                    assert_eq!(got.error_code(), "consent_withdrawn");
                    denied[i] = Some(started.elapsed());
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    eprintln!(
        "postgres through the proxy: withdrawal (UPDATE sent -> 403) replica A {:?}, replica B {:?}",
        denied[0], denied[1]
    );
    println!(
        "withdrawal propagation through two proxies: A {:?}, B {:?}",
        denied[0], denied[1]
    );
    for d in denied {
        let d = d.expect("a replica never denied");
        assert!(d < std::time::Duration::from_secs(1), "{d:?}");
    }
    a.stop().await;
    b.stop().await;
    db.drop().await;
}
