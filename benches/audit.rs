//! The audit path: file sink throughput with group fsync, and what one
//! request pays for its audit event.
//!
//! Run: `cargo bench --bench audit`. Files go to `target/bench-audit/` on
//! the build disk (not /tmp, which may be a tmpfs where fsync is free).

// Benches may unwrap: a failure is a broken setup.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use zaslon::audit::chain::ChainState;
use zaslon::audit::query::subject_pseudonym;
use zaslon::audit::{AuditConfig, AuditEvent, AuditSink, FileSink};
use zaslon::class::FieldClass;
use zaslon::metrics::Metrics;
use zaslon::redact::{PseudonymKey, RedactStats};

fn bench_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/bench-audit")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn stats() -> RedactStats {
    let mut s = RedactStats::default();
    s.disclosed[FieldClass::Surname.index()] = 1;
    s.disclosed[FieldClass::GivenName.index()] = 1;
    s.masked[FieldClass::Snils.index()] = 1;
    s.masked[FieldClass::Phone.index()] = 2;
    s.removed[FieldClass::Passport.index()] = 1;
    s
}

/// The event the proxy builds for one allowed request.
fn build_event(key: &PseudonymKey, stats: &RedactStats, i: u64) -> AuditEvent {
    let mut e = AuditEvent {
        time: "2026-11-25T07:30:00.123456Z".into(),
        request_id: format!("01JDZ8Q7W3{i:016}"),
        client: "call-center".into(),
        actor: Some("operator-17".into()),
        purpose: Some("appointments".into()),
        route: Some("/api/patients/{patient_id}".into()),
        method: "GET".into(),
        subjects: vec![subject_pseudonym(key, "10234")],
        decision: "allow".into(),
        reason: "ok".into(),
        consent: Some("granted".into()),
        upstream_status: Some(200),
        bytes_in: 0,
        bytes_out: 1843,
        duration_us: 912,
        rules_version: "2026-11-25.1".into(),
        ..Default::default()
    };
    e.set_counts(stats);
    e
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Events/s through the file sink, each batch timed until fsynced.
fn file_sink_throughput(c: &mut Criterion) {
    const N: u64 = 20_000;
    let key = PseudonymKey::new(b"bench key");
    let stats = stats();
    let events: Vec<AuditEvent> = (0..N).map(|i| build_event(&key, &stats, i)).collect();
    let rt = runtime();
    let cfg = AuditConfig::file(bench_dir("throughput").join("zaslon.jsonl"));
    let metrics = Metrics::new();
    let sink = FileSink::open(&cfg, metrics.audit.clone()).unwrap();
    let mut g = c.benchmark_group("audit_file_sink");
    g.throughput(Throughput::Elements(N));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("20k_events_until_durable", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let batch = events.clone();
                let start = Instant::now();
                for e in batch {
                    // 20,000 < the 65,536-slot queue: never full.
                    sink.submit(e).unwrap();
                }
                rt.block_on(sink.flush());
                total += start.elapsed();
            }
            total
        })
    });
    // An idle sink: the latency from submit to durable of a lone event,
    // i.e. one commit (write + fdatasync) on this disk.
    g.throughput(Throughput::Elements(1));
    g.bench_function("one_event_until_durable", |b| {
        b.iter(|| {
            sink.submit(events[0].clone()).unwrap();
            rt.block_on(sink.flush());
        })
    });
    g.finish();
    let commits = metrics.audit.write_duration.get_sample_count();
    let written = metrics.audit.events_written.get();
    eprintln!(
        "audit_file_sink: {written} events in {commits} group commits ({:.0} events per fsync, mean commit {:.3} ms)",
        written as f64 / commits.max(1) as f64,
        metrics.audit.write_duration.get_sample_sum() * 1000.0 / commits.max(1) as f64
    );
}

/// What one request pays: build its event (pseudonym, class counts) and
/// submit it, with the writer running and fsyncing behind.
fn per_request_cost(c: &mut Criterion) {
    let key = PseudonymKey::new(b"bench key");
    let stats = stats();
    let rt = runtime();
    let cfg = AuditConfig::file(bench_dir("per-request").join("zaslon.jsonl"));
    let sink = FileSink::open(&cfg, Metrics::new().audit.clone()).unwrap();
    let mut g = c.benchmark_group("audit_per_request");
    g.throughput(Throughput::Elements(1));
    g.bench_function("build_event_and_submit", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                // Chunks well below the queue capacity, drained untimed, so
                // the timing is the submit path and never a full queue.
                let chunk = (iters - done).min(10_000);
                let start = Instant::now();
                for i in 0..chunk {
                    let e = build_event(&key, &stats, done + i);
                    black_box(sink.submit(e)).unwrap();
                }
                total += start.elapsed();
                rt.block_on(sink.flush());
                done += chunk;
            }
            total
        })
    });
    g.bench_function("encode_onto_chain", |b| {
        let e = build_event(&key, &stats, 1);
        let mut chain = ChainState::default();
        let mut buf = Vec::with_capacity(1024);
        b.iter(|| {
            buf.clear();
            black_box(chain.append(black_box(&e), &mut buf));
        })
    });
    g.finish();
}

criterion_group!(benches, file_sink_throughput, per_request_cost);
criterion_main!(benches);
