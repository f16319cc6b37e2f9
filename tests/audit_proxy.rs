//! Issue 6, the load test: 20,000 requests across purposes through the
//! proxy as `serve` builds it, with the file audit sink; some denied, some
//! aborted mid-body. Afterwards: exactly one event per request, the chain
//! verifies, the metrics agree with the events, and neither the audit nor
//! zaslon's own log output holds any synthetic identifier that was served.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use http_body_util::BodyExt;
use support::*;
use zaslon::synth::{self, Kind};

const REQUESTS: usize = 20_000;
const CARDS: u64 = 50;

/// zaslon's tracing output, kept for the scan.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A JSON body whose head goes out (more than the proxy prefetches) and
/// that then breaks: the response must be aborted.
fn broken_body(list: &str) -> Vec<u8> {
    let mut b = list.as_bytes()[..list.len() - 2].to_vec();
    b.extend_from_slice(b",}}");
    b
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Outcome {
    Allow,
    Deny,
    Abort,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_requests_leave_twenty_thousand_chained_events() {
    let logs = LogBuffer::default();
    let w = logs.clone();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("zaslon=debug,warn"))
        .with_writer(move || w.clone())
        .with_ansi(false)
        .init();

    // The synthetic MIS: 50 cards, a list of about 100 KiB, a broken list.
    let cards: Vec<synth::Doc> = (0..CARDS).map(|i| synth::patient(1, i)).collect();
    let list = synth::page(Kind::Patients, 1, 100 << 10);
    let broken = broken_body(&list.json);
    let mut identifiers: Vec<String> = cards
        .iter()
        .chain(std::iter::once(&list))
        .flat_map(|d| d.truth.iter().map(|t| t.text.clone()))
        .filter(|t| t.chars().count() >= 5)
        .collect();
    identifiers.sort();
    identifiers.dedup();
    assert!(identifiers.len() > 200, "{}", identifiers.len());
    let card_json: Vec<String> = cards.iter().map(|c| c.json.clone()).collect();
    let list_json = list.json.clone();
    let up = Upstream::start(move |seen| {
        let path = seen.path_and_query.as_str();
        if path == "/files/broken" {
            return Reply::with("application/json", broken.clone());
        }
        if path == "/api/patients" {
            return Reply::json(&list_json);
        }
        let i = path
            .rsplit('/')
            .next()
            .and_then(synth::patient_index)
            .unwrap_or(0);
        Reply::json(&card_json[(i % CARDS) as usize])
    })
    .await;

    let tmp = tempfile::tempdir().unwrap();
    let audit_dir = tmp.path().join("audit");
    let config = format!(
        "{}\n[audit]\nsink = \"file\"\npath = \"{}/zaslon.jsonl\"\n",
        // Idle pooled connections must outlive the test's pauses.
        default_config(&up.url()).replace(
            "header_read_timeout_ms = 500",
            "header_read_timeout_ms = 30000"
        ),
        audit_dir.display()
    );
    let proxy = Served::start(&config).await;

    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let started = Instant::now();
    let outcomes: Vec<Outcome> = futures_util::stream::iter(0..REQUESTS)
        .map(|i| {
            let client = client.clone();
            let id = synth::patient_id(1, i as u64 % CARDS);
            let card = proxy.url(&format!("/api/patients/{id}"));
            let (url, key, purpose) = match i % 10 {
                0..=3 => (card, CARE_KEY, "care"),
                4 => (card, CALL_CENTER_KEY, "support"),
                5 => (card, ALL_KEY, "analytics"),
                6 => (card, ALL_KEY, "marketing"), // opt-in, nothing granted: denied
                7 => (card, CALL_CENTER_KEY, "care"), // not granted to the client
                8 => (card, ALL_KEY, "legal"),
                _ if i % 50 == 9 => (proxy.url("/files/broken"), CARE_KEY, "care"),
                _ => (proxy.url("/api/patients"), CALL_CENTER_KEY, "support"),
            };
            async move {
                let req = request("GET", &url, &[("x-api-key", key), ("x-purpose", purpose)]);
                let resp = client.request(req).await.expect("request failed");
                let status = resp.status().as_u16();
                let body = resp.into_body().collect().await;
                match (status, body) {
                    (200, Ok(_)) => Outcome::Allow,
                    (200, Err(_)) => Outcome::Abort,
                    (s, Ok(_)) if s >= 400 => Outcome::Deny,
                    (s, r) => panic!("request {i}: status {s}, body {:?}", r.map(|_| ())),
                }
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let mut counted: HashMap<Outcome, u64> = HashMap::new();
    for o in &outcomes {
        *counted.entry(*o).or_default() += 1;
    }
    eprintln!(
        "{REQUESTS} requests in {elapsed:?} ({:.0}/s): {counted:?}",
        REQUESTS as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(outcomes.len(), REQUESTS);
    // Every broken body fails closed: cut after the head (abort), or, when
    // the break is already read before the head, refused (deny).
    assert!(counted[&Outcome::Deny] >= 4000 && counted[&Outcome::Abort] > 0);
    assert_eq!(
        counted[&Outcome::Abort] + counted[&Outcome::Deny],
        4000 + (REQUESTS / 50) as u64
    );

    let metrics = proxy.metrics.clone();
    proxy.stop().await;

    // Every event is written within a group commit of the sink's close.
    let files = || {
        let mut v: Vec<_> = std::fs::read_dir(&audit_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let report = loop {
        let r = zaslon::audit::verify(&files()).unwrap_or_else(|e| panic!("{e}"));
        if r.records >= REQUESTS as u64 || Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(report.records, REQUESTS as u64, "{report}");

    let mut audit_text = String::new();
    let mut by_decision: HashMap<String, u64> = HashMap::new();
    let mut failed_closed = 0u64;
    for f in files() {
        let text = std::fs::read_to_string(f).unwrap();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let decision = v["decision"].as_str().unwrap();
            *by_decision.entry(decision.to_owned()).or_default() += 1;
            if decision == "abort" || v["reason"] == "malformed_body" {
                failed_closed += 1;
            }
        }
        audit_text.push_str(&text);
    }
    assert_eq!(by_decision.get("allow"), counted.get(&Outcome::Allow));
    assert_eq!(by_decision.get("deny"), counted.get(&Outcome::Deny));
    assert_eq!(by_decision.get("abort"), counted.get(&Outcome::Abort));

    // The metrics agree with the events.
    let text = metrics.render();
    let mut from_metrics: HashMap<String, u64> = HashMap::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("zaslon_requests_total{"))
    {
        let decision = line
            .split("decision=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let n: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        *from_metrics.entry(decision.to_owned()).or_default() += n;
    }
    assert_eq!(from_metrics, by_decision, "{text}");
    let fail_closed: u64 = text
        .lines()
        .filter(|l| l.starts_with("zaslon_fail_closed_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(fail_closed, failed_closed, "{text}");
    assert_eq!(failed_closed, (REQUESTS / 50) as u64);
    let written: u64 = text
        .lines()
        .find(|l| l.starts_with("zaslon_audit_events_written_total "))
        .and_then(|l| l.rsplit(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(written, REQUESTS as u64);

    // No identifier that was served is in the audit or in the logs.
    let log_text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(!log_text.is_empty());
    let found = |hay: &str| -> Vec<String> {
        let alternation = identifiers
            .iter()
            .map(|i| regex::escape(i))
            .collect::<Vec<_>>()
            .join("|");
        let re = regex::Regex::new(&alternation).unwrap();
        // A match inside a longer token (a hex hash, a timestamp's
        // fraction) is a coincidence of digits, not a served value.
        let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
        re.find_iter(hay)
            .filter(|m| {
                !word(hay[..m.start()].chars().next_back()) && !word(hay[m.end()..].chars().next())
            })
            .map(|m| m.as_str().to_owned())
            .collect()
    };
    // The scan itself finds a served value where one is.
    let control = format!("{{\"x\":\"{}\"}}", identifiers[identifiers.len() / 2]);
    assert_eq!(found(&control).len(), 1, "{control}");
    let in_audit = found(&audit_text);
    assert!(in_audit.is_empty(), "the audit holds {in_audit:?}");
    let in_log = found(&log_text);
    assert!(in_log.is_empty(), "the log holds {in_log:?}");
    eprintln!(
        "scanned {} bytes of audit and {} bytes of log for {} identifiers",
        audit_text.len(),
        log_text.len(),
        identifiers.len()
    );
}
