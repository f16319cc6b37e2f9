//! The PostgreSQL sink against the real server on 127.0.0.1:5432: batched
//! chain, restart, its connection killed mid-run, an unreachable database.

// Test helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio_postgres::NoTls;
use zaslon::audit::postgres::{application_name, export};
use zaslon::audit::query::{Window, query_postgres, subject_pseudonym};
use zaslon::audit::{
    AuditConfig, AuditError, AuditEvent, AuditSink, PostgresSink, SinkKind, open_sink, verify,
};
use zaslon::metrics::{AuditMetrics, Metrics};
use zaslon::redact::PseudonymKey;

const DSN: &str = "host=127.0.0.1 port=5432 user=postgres dbname=test";

fn cfg(schema: &str) -> AuditConfig {
    let mut c = AuditConfig::file("unused.jsonl");
    c.sink = SinkKind::Postgres;
    c.dsn = Some(DSN.into());
    c.schema = schema.into();
    c.chain = schema.into();
    c.retry_ms = 50;
    c.validate().unwrap();
    c
}

/// A fresh schema, dropped at the end.
struct Schema(String);

impl Schema {
    async fn new(name: &str) -> Schema {
        let s = Schema(format!("zaslon_audit_test_{name}_{}", std::process::id()));
        admin(&format!("DROP SCHEMA IF EXISTS {} CASCADE", s.0)).await;
        s
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.0);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(admin(&sql));
        })
        .join()
        .unwrap();
    }
}

async fn admin(sql: &str) -> u64 {
    let (client, conn) = tokio_postgres::connect(DSN, NoTls).await.unwrap();
    tokio::spawn(conn);
    let rows = client.query(sql, &[]).await.unwrap();
    rows.len() as u64
}

fn event(id: &str, subject: &str) -> AuditEvent {
    AuditEvent {
        time: "2026-11-25T07:30:00Z".into(),
        request_id: id.to_owned(),
        client: "doctor-app".into(),
        actor: Some("doctor-3".into()),
        purpose: Some("care".into()),
        route: Some("/api/patients/{patient_id}".into()),
        method: "GET".into(),
        subjects: vec![subject.to_owned()],
        decision: "allow".into(),
        reason: "ok".into(),
        ..Default::default()
    }
}

async fn wait_ready(sink: &dyn AuditSink) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !sink.ready() {
        assert!(Instant::now() < deadline, "the sink never became ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Exports the chain, verifies it, returns the request ids in order.
async fn exported(c: &AuditConfig) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.jsonl");
    let mut out = Vec::new();
    let n = export(c, &mut out).await.unwrap();
    std::fs::write(&path, &out).unwrap();
    let report = verify(std::slice::from_ref(&path)).unwrap();
    assert_eq!(report.records, n);
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["request_id"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_chain_restart_and_subject_query() {
    let schema = Schema::new("batch").await;
    let c = cfg(&schema.0);
    let key = PseudonymKey::new(b"synthetic test key");
    let alice = subject_pseudonym(&key, "10234");
    let bob = subject_pseudonym(&key, "10235");
    let metrics = Metrics::new();
    let sink = Arc::new(PostgresSink::open(&c, metrics.audit.clone()).unwrap());
    wait_ready(&*sink).await;
    let mut tasks = Vec::new();
    for t in 0..8 {
        let (sink, alice, bob) = (sink.clone(), alice.clone(), bob.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..500u32 {
                let who = if i.is_multiple_of(100) { &alice } else { &bob };
                sink.submit(event(&format!("t{t}-{i}"), who)).unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    tokio::time::timeout(Duration::from_secs(30), sink.flush())
        .await
        .unwrap();
    assert_eq!(metrics.audit.events_written.get(), 4000);
    assert!(
        metrics.audit.write_duration.get_sample_count() < 4000,
        "no batching"
    );
    Arc::into_inner(sink).unwrap().close().await;

    // A restart continues the chain from the table's tail.
    let sink = PostgresSink::open(&c, AuditMetrics::detached()).unwrap();
    wait_ready(&sink).await;
    sink.submit(event("after-restart", &alice)).unwrap();
    tokio::time::timeout(Duration::from_secs(10), sink.flush())
        .await
        .unwrap();
    sink.close().await;

    let ids = exported(&c).await;
    assert_eq!(ids.len(), 4001);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 4001);
    assert_eq!(ids[4000], "after-restart");

    let found = query_postgres(&c, &alice, Window::default()).await.unwrap();
    assert_eq!(found.len(), 8 * 5 + 1);
    assert!(
        found
            .iter()
            .all(|a| a.client == "doctor-app" && a.actor.as_deref() == Some("doctor-3"))
    );
    let w = Window::parse(Some("2026-11-26"), None).unwrap();
    assert!(query_postgres(&c, &alice, w).await.unwrap().is_empty());
    // Append-only: the table refuses edits.
    let (client, conn) = tokio_postgres::connect(DSN, NoTls).await.unwrap();
    tokio::spawn(conn);
    let edit = client
        .execute(
            &format!("UPDATE {}.audit_events SET client = 'x'", schema.0),
            &[],
        )
        .await;
    assert!(edit.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_killed_mid_run_loses_nothing_acknowledged() {
    let schema = Schema::new("kill").await;
    let c = cfg(&schema.0);
    let metrics = Metrics::new();
    let sink = Arc::new(PostgresSink::open(&c, metrics.audit.clone()).unwrap());
    wait_ready(&*sink).await;
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (sink, stop) = (sink.clone(), stop.clone());
        tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut refused = 0u64;
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let id = format!("k{i}");
                match sink.submit(event(&id, "psn_x")) {
                    Ok(()) => acked.push(id),
                    Err(AuditError::SinkFailed | AuditError::QueueFull) => refused += 1,
                }
                i += 1;
                if i.is_multiple_of(20) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            (acked, refused)
        })
    };
    let kill = format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{}'",
        application_name(&c.chain)
    );
    // Four kills, each once the sink has reconnected and written again.
    let mut killed = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while killed < 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(300)).await;
        killed += admin(&kill).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let (acked, _refused) = producer.await.unwrap();
    assert!(killed >= 4, "only {killed} backends terminated");
    tokio::time::timeout(Duration::from_secs(30), sink.flush())
        .await
        .unwrap();
    assert!(
        metrics.audit.write_errors.get() >= 1,
        "no write failed: the kill missed"
    );
    Arc::into_inner(sink).unwrap().close().await;
    let ids = exported(&c).await;
    // Exactly the acknowledged events, once each, in order.
    if ids != acked {
        let got: HashSet<&String> = ids.iter().collect();
        let want: HashSet<&String> = acked.iter().collect();
        let missing: Vec<_> = acked.iter().filter(|i| !got.contains(i)).take(10).collect();
        let extra: Vec<_> = ids.iter().filter(|i| !want.contains(i)).take(10).collect();
        let first_diff = ids.iter().zip(&acked).position(|(a, b)| a != b);
        panic!(
            "stored {} events, acknowledged {}; missing {missing:?}; unexpected {extra:?}; \
             first difference at {first_diff:?}; distinct stored {}",
            ids.len(),
            acked.len(),
            got.len()
        );
    }
}

#[tokio::test]
async fn unreachable_database_fails_closed_unless_fail_open_by_name() {
    let mut c = cfg("zaslon_audit_unreachable");
    c.dsn = Some("host=127.0.0.1 port=1 user=postgres dbname=test connect_timeout=1".into());
    let sink = PostgresSink::open(&c, AuditMetrics::detached()).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!sink.ready());
    assert_eq!(
        sink.submit(event("x", "psn_x")),
        Err(AuditError::SinkFailed)
    );
    drop(sink);

    c.fail_open = true;
    let metrics = Metrics::new();
    let sink = open_sink(&c, metrics.audit.clone()).unwrap();
    assert!(sink.ready());
    assert_eq!(sink.submit(event("y", "psn_x")), Ok(()));
    assert_eq!(metrics.audit.events_dropped.get(), 1);
}
