//! The file sink as an operator runs it: rotation, restarts, load, a full
//! disk, `kill -9`, and no raw identifiers in what it writes.

// Test helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use zaslon::audit::file::chain_files;
use zaslon::audit::query::{Window, query_files, subject_pseudonym};
use zaslon::audit::{AuditConfig, AuditError, AuditEvent, AuditSink, FileSink, verify};
use zaslon::class::FieldClass;
use zaslon::metrics::{AuditMetrics, Metrics};
use zaslon::redact::{PseudonymKey, RedactStats};

fn event(id: &str) -> AuditEvent {
    AuditEvent {
        time: "2026-11-25T07:30:00Z".into(),
        request_id: id.to_owned(),
        client: "call-center".into(),
        actor: Some("operator-17".into()),
        purpose: Some("appointments".into()),
        route: Some("/api/patients/{patient_id}".into()),
        method: "GET".into(),
        subjects: vec!["psn_aaaaaaaaaaaaaaaaaaaaaaaa".into()],
        decision: "allow".into(),
        reason: "ok".into(),
        upstream_status: Some(200),
        rules_version: "r1".into(),
        ..Default::default()
    }
}

/// Request ids in every record of `files`.
fn request_ids(files: &[PathBuf]) -> Vec<String> {
    let mut ids = Vec::new();
    for f in files {
        for line in std::fs::read_to_string(f).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            ids.push(v["request_id"].as_str().unwrap().to_owned());
        }
    }
    ids
}

async fn flush(sink: &FileSink) {
    tokio::time::timeout(Duration::from_secs(20), sink.flush())
        .await
        .expect("the sink did not make its events durable in 20 s");
}

#[tokio::test]
async fn chain_continues_across_rotation_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = AuditConfig::file(dir.path().join("zaslon.jsonl"));
    cfg.rotate_bytes = 8 * 1024;
    for run in 0..3 {
        let sink = FileSink::open(&cfg, AuditMetrics::detached()).unwrap();
        for i in 0..100u32 {
            sink.submit(event(&format!("run{run}-{i}"))).unwrap();
            if i.is_multiple_of(10) {
                // Several commits per run, so size rotation happens between them.
                flush(&sink).await;
            }
        }
        flush(&sink).await;
        sink.close();
    }
    // Rotation by time: a file older than rotate_secs is closed at the
    // next commit.
    cfg.rotate_secs = 1;
    let sink = FileSink::open(&cfg, AuditMetrics::detached()).unwrap();
    sink.submit(event("late-0")).unwrap();
    flush(&sink).await;
    let before = chain_files(&cfg.path).unwrap().len();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    sink.submit(event("late-1")).unwrap();
    flush(&sink).await;
    assert_eq!(chain_files(&cfg.path).unwrap().len(), before + 1);
    drop(sink);

    let files = chain_files(&cfg.path).unwrap();
    assert!(
        files.len() > 6,
        "expected size rotation, got {} files",
        files.len()
    );
    for f in &files {
        assert!(std::fs::metadata(f).unwrap().len() <= 8 * 1024 + 1024);
    }
    let report = verify(&files).unwrap();
    assert_eq!(report.records, 302);
    assert_eq!((report.first_seq, report.last_seq), (Some(0), Some(301)));
    let ids = request_ids(&files);
    assert_eq!(ids[0], "run0-0");
    assert_eq!(ids[299], "run2-99");
    assert_eq!(ids[301], "late-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_thousand_events_from_many_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = AuditConfig::file(dir.path().join("zaslon.jsonl"));
    let metrics = Metrics::new();
    let sink = Arc::new(FileSink::open(&cfg, metrics.audit.clone()).unwrap());
    let mut tasks = Vec::new();
    for t in 0..40 {
        let sink = sink.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..500u32 {
                sink.submit(event(&format!("t{t}-{i}"))).unwrap();
                if i.is_multiple_of(50) {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    flush(&sink).await;
    let files = chain_files(&cfg.path).unwrap();
    let report = verify(&files).unwrap();
    assert_eq!(report.records, 20_000);
    let ids: HashSet<String> = request_ids(&files).into_iter().collect();
    assert_eq!(ids.len(), 20_000);
    assert_eq!(metrics.audit.events_written.get(), 20_000);
    assert_eq!(metrics.audit.queue_depth.get(), 0);
    assert_eq!(metrics.audit.write_errors.get(), 0);
    // Group commit: far fewer fsyncs than events.
    let commits = metrics.audit.write_duration.get_sample_count();
    assert!(commits < 20_000, "{commits} commits for 20,000 events");
}

#[tokio::test]
async fn a_full_queue_refuses_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = AuditConfig::file(dir.path().join("zaslon.jsonl"));
    cfg.queue_capacity = 4;
    let sink = FileSink::open(&cfg, AuditMetrics::detached()).unwrap();
    let mut accepted = Vec::new();
    let mut full = 0;
    let started = Instant::now();
    for i in 0..20_000 {
        match sink.submit(event(&format!("q{i}"))) {
            Ok(()) => accepted.push(format!("q{i}")),
            Err(AuditError::QueueFull) => full += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(full > 0, "a 4-slot queue never filled");
    flush(&sink).await;
    drop(sink);
    let files = chain_files(&cfg.path).unwrap();
    verify(&files).unwrap();
    assert_eq!(request_ids(&files), accepted);
}

/// A 256 KiB tmpfs, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path) -> Option<Tmpfs> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test]
async fn full_disk_refuses_keeps_every_acknowledged_event_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let Some(_fs) = Tmpfs::mount(dir.path()) else {
        eprintln!("SKIPPED: cannot mount a tmpfs (needs root)");
        return;
    };
    // Leave about 40 KiB free.
    let ballast = dir.path().join("ballast");
    std::fs::write(&ballast, vec![0u8; 216 * 1024]).unwrap();
    let mut cfg = AuditConfig::file(dir.path().join("zaslon.jsonl"));
    cfg.retry_ms = 20;
    let metrics = Metrics::new();
    let sink = FileSink::open(&cfg, metrics.audit.clone()).unwrap();
    let mut acked = Vec::new();
    let mut refused = None;
    for i in 0..5000 {
        match sink.submit(event(&format!("d{i}"))) {
            Ok(()) => acked.push(format!("d{i}")),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(
        refused,
        Some(AuditError::SinkFailed),
        "the disk never filled"
    );
    assert!(!sink.ready());
    assert!(metrics.audit.write_errors.get() >= 3);
    // Space returns: the held events are written and service resumes.
    std::fs::remove_file(&ballast).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sink.ready() {
        assert!(Instant::now() < deadline, "the sink did not recover");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sink.submit(event("after")).unwrap();
    acked.push("after".into());
    flush(&sink).await;
    drop(sink);
    let files = chain_files(&cfg.path).unwrap();
    let report = verify(&files).unwrap();
    assert_eq!(
        request_ids(&files),
        acked,
        "an acknowledged event is missing"
    );
    assert_eq!(report.records as usize, acked.len());
}

const CHILD_DIR: &str = "ZASLON_AUDIT_KILL9_DIR";
const CHILD_RUN: &str = "ZASLON_AUDIT_KILL9_RUN";

/// In the child: submit events as fast as the sink takes them and print
/// each durable count; never returns (the parent kills it).
fn kill9_child(dir: &str, run: &str) -> ! {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let cfg = AuditConfig::file(Path::new(dir).join("zaslon.jsonl"));
        let sink = FileSink::open(&cfg, AuditMetrics::detached()).unwrap();
        let mut durable = sink.durable();
        tokio::spawn(async move {
            while durable.changed().await.is_ok() {
                let d = *durable.borrow_and_update();
                println!("durable {}", d.events);
            }
        });
        let mut i = 0u64;
        loop {
            match sink.submit(event(&format!("{run}-{i}"))) {
                Ok(()) => i += 1,
                Err(_) => tokio::time::sleep(Duration::from_micros(200)).await,
            }
            if i.is_multiple_of(64) {
                tokio::task::yield_now().await;
            }
        }
    })
}

#[test]
fn kill_9_keeps_every_durable_event_and_the_chain() {
    if let (Ok(dir), Ok(run)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_RUN)) {
        kill9_child(&dir, &run);
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut durable_per_run = Vec::new();
    for run in ["k0", "k1", "k2"] {
        let mut child = Command::new(&exe)
            .args([
                "kill_9_keeps_every_durable_event_and_the_chain",
                "--exact",
                "--nocapture",
            ])
            .env(CHILD_DIR, dir.path())
            .env(CHILD_RUN, run)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let seen = Arc::new(AtomicU64::new(0));
        let reader = {
            let seen = seen.clone();
            std::thread::spawn(move || {
                // The last durable count the child printed before it died.
                let mut last = 0u64;
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if let Some(n) = line.strip_prefix("durable ") {
                        last = n.parse().unwrap();
                        seen.store(last, Ordering::SeqCst);
                    }
                }
                last
            })
        };
        // Kill mid-load: once thousands of events are durable, a few
        // milliseconds into the next commits.
        let deadline = Instant::now() + Duration::from_secs(30);
        while seen.load(Ordering::SeqCst) < 5_000 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(3));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let durable = reader.join().unwrap();
        assert!(durable > 0, "run {run} made nothing durable");
        durable_per_run.push((run, durable));
    }
    // A clean run after the kills continues the same chain.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cfg = AuditConfig::file(dir.path().join("zaslon.jsonl"));
    rt.block_on(async {
        let sink = FileSink::open(&cfg, AuditMetrics::detached()).unwrap();
        sink.submit(event("final")).unwrap();
        flush(&sink).await;
    });
    let files = chain_files(&cfg.path).unwrap();
    let report = verify(&files).unwrap();
    let ids: HashSet<String> = request_ids(&files).into_iter().collect();
    assert_eq!(ids.len() as u64, report.records);
    for (run, durable) in durable_per_run {
        for i in 0..durable {
            assert!(
                ids.contains(&format!("{run}-{i}")),
                "{run}-{i} was reported durable and is missing"
            );
        }
    }
    assert!(ids.contains("final"));
}

#[tokio::test]
async fn events_built_like_the_proxy_carry_no_raw_identifiers() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = AuditConfig::file(dir.path().join("zaslon.jsonl"));
    let key = PseudonymKey::new(b"synthetic test key, not a secret");
    let sink = FileSink::open(&cfg, AuditMetrics::detached()).unwrap();
    // Synthetic subject ids and identifiers (valid checksums, made-up people).
    let subjects = ["10234", "10235", "88001"];
    let raw_values = ["112-233-445 95", "11223344595", "7700123456789012"];
    let mut stats = RedactStats::default();
    stats.disclosed[FieldClass::Surname.index()] = 1;
    stats.masked[FieldClass::Snils.index()] = 2;
    stats.pseudonymized[FieldClass::Phone.index()] = 1;
    for (i, subject) in subjects.iter().enumerate() {
        for purpose in ["care", "legal", "marketing"] {
            let mut e = event(&format!("req-{i}-{purpose}"));
            e.purpose = Some(purpose.into());
            e.subjects = vec![subject_pseudonym(&key, subject)];
            e.legal_override = purpose == "legal";
            e.decision = if purpose == "marketing" {
                "deny"
            } else {
                "allow"
            }
            .into();
            e.reason = if purpose == "marketing" {
                "consent_withdrawn"
            } else {
                "ok"
            }
            .into();
            e.time = format!("2026-11-{:02}T10:00:00Z", 10 + i);
            e.set_counts(&stats);
            sink.submit(e).unwrap();
        }
    }
    flush(&sink).await;
    drop(sink);
    let files = chain_files(&cfg.path).unwrap();
    let text: String = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    for raw in subjects.iter().chain(raw_values.iter()) {
        assert!(
            !text.contains(raw),
            "raw identifier {raw} in the audit file"
        );
    }
    // The subject access report finds exactly that subject's accesses.
    let accesses =
        query_files(&files, &subject_pseudonym(&key, "10235"), Window::default()).unwrap();
    assert_eq!(accesses.len(), 3);
    assert!(accesses.iter().all(|a| a.request_id.starts_with("req-1-")));
    let legal = accesses
        .iter()
        .find(|a| a.purpose.as_deref() == Some("legal"))
        .unwrap();
    assert!(legal.legal_override);
    assert_eq!(legal.disclosed, ["surname"]);
    assert_eq!(legal.withheld, ["snils", "phone"]);
    let w = Window::parse(Some("2026-11-12"), None).unwrap();
    assert!(
        query_files(&files, &subject_pseudonym(&key, "10235"), w)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        query_files(&files, &subject_pseudonym(&key, "88001"), w)
            .unwrap()
            .len(),
        3
    );
    // The same through the config, as `zaslon audit query` calls it.
    let via_cfg = zaslon::audit::query::query(&cfg, &key, "10235", Window::default())
        .await
        .unwrap();
    assert_eq!(via_cfg, accesses);
    assert!(zaslon::audit::query::render(&via_cfg).contains("legal [legal override]"));
    let wrong_key = PseudonymKey::new(b"another key");
    assert!(
        query_files(
            &files,
            &subject_pseudonym(&wrong_key, "10235"),
            Window::default()
        )
        .unwrap()
        .is_empty()
    );
}
