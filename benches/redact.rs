//! Throughput of the streaming redactor on synthetic MIS documents, with a
//! serde_json parse-walk-serialize round trip as the baseline in the same run.
//!
//! `cargo bench --bench redact`; figures are recorded in benches/README.md.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use zaslon::class::Purpose;
use zaslon::redact::{ContentKind, Engine, PseudonymKey};
use zaslon::rules::RuleSet;
use zaslon::synth::{Kind, page_json};

const SIZES: &[(&str, usize)] = &[("1KiB", 1 << 10), ("64KiB", 64 << 10), ("16MiB", 16 << 20)];

fn engine(keys_only: bool) -> Engine {
    let rules = RuleSet::embedded();
    let rules = if keys_only { rules.keys_only() } else { rules };
    Engine::new(
        Arc::new(rules),
        PseudonymKey::new(b"bench key, synthetic data only"),
    )
}

/// Redacts `doc` fed in `chunk`-byte pieces. Each piece's output is handed
/// on and the buffer reused, as the proxy and `zaslon redact` do, so the
/// output of a 16 MiB page never sits in memory whole.
fn redact(engine: &Engine, purpose: Purpose, doc: &[u8], chunk: usize, out: &mut Vec<u8>) {
    let mut r = engine
        .redactor(purpose, ContentKind::Json)
        .expect("json is redactable");
    for c in doc.chunks(chunk) {
        out.clear();
        r.feed(c, out).expect("synthetic documents are valid");
        black_box(&out[..]);
    }
    out.clear();
    r.finish(out).expect("synthetic documents are whole");
    black_box(&out[..]);
}

/// Parse, walk every value, serialize: what a DOM-based redactor costs at least.
fn serde_round_trip(doc: &[u8]) -> Vec<u8> {
    fn walk(v: &mut serde_json::Value) -> usize {
        match v {
            serde_json::Value::Object(m) => m.values_mut().map(walk).sum::<usize>() + 1,
            serde_json::Value::Array(a) => a.iter_mut().map(walk).sum::<usize>() + 1,
            _ => 1,
        }
    }
    let mut v: serde_json::Value = serde_json::from_slice(doc).expect("valid");
    black_box(walk(&mut v));
    serde_json::to_vec(&v).expect("serializable")
}

fn fixtures() -> Vec<(&'static str, Vec<u8>)> {
    SIZES
        .iter()
        .map(|(name, size)| (*name, page_json(Kind::Mixed, 7, *size).into_bytes()))
        .collect()
}

fn throughput(c: &mut Criterion) {
    let docs = fixtures();
    let keys = engine(true);
    let full = engine(false);
    let mut out = Vec::new();
    let mut g = c.benchmark_group("redact");
    g.sample_size(10);
    for (name, doc) in &docs {
        g.throughput(Throughput::Bytes(doc.len() as u64));
        g.bench_with_input(BenchmarkId::new("keys/marketing", name), doc, |b, d| {
            b.iter(|| redact(&keys, Purpose::Marketing, d, 64 << 10, &mut out))
        });
        g.bench_with_input(
            BenchmarkId::new("detectors/marketing", name),
            doc,
            |b, d| b.iter(|| redact(&full, Purpose::Marketing, d, 64 << 10, &mut out)),
        );
        g.bench_with_input(
            BenchmarkId::new("detectors/analytics", name),
            doc,
            |b, d| b.iter(|| redact(&full, Purpose::Analytics, d, 64 << 10, &mut out)),
        );
        g.bench_with_input(
            BenchmarkId::new("serde_json_round_trip", name),
            doc,
            |b, d| b.iter(|| serde_round_trip(d)),
        );
    }
    g.finish();
}

/// A list response with record-level consent, all records kept: `held`,
/// every record held back until a batched verdict (a cold consent cache);
/// `streamed`, every verdict known when the record's id is read (a warm
/// cache: the oracle), so records stream; `plain`, no record-level consent.
fn records(c: &mut Criterion) {
    let doc = page_json(Kind::Patients, 7, 1 << 20).into_bytes();
    let spec =
        std::sync::Arc::new(zaslon::redact::RecordSpec::parse("$.items[*]", "id").expect("valid"));
    let full = engine(false);
    let mut out = Vec::new();
    let mut g = c.benchmark_group("records");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(doc.len() as u64));
    g.bench_function("detectors/marketing/1MiB/held", |b| {
        b.iter(|| {
            let mut r = full
                .redactor(Purpose::Marketing, ContentKind::Json)
                .expect("json")
                .with_records(spec.clone());
            let keep = |r: &mut zaslon::redact::BodyRedactor, out: &mut Vec<u8>| {
                while !r.pending_subjects().is_empty() {
                    let v = vec![zaslon::redact::RecordVerdict::Keep; r.pending_subjects().len()];
                    r.resolve(&v, out).expect("verdicts");
                }
            };
            for ch in doc.chunks(64 << 10) {
                out.clear();
                r.feed(ch, &mut out).expect("valid");
                keep(&mut r, &mut out);
                black_box(&out[..]);
            }
            out.clear();
            r.finish(&mut out).expect("whole");
            black_box(&out[..]);
        })
    });
    g.bench_function("detectors/marketing/1MiB/streamed", |b| {
        b.iter(|| {
            let mut r = full
                .redactor(Purpose::Marketing, ContentKind::Json)
                .expect("json")
                .with_records(spec.clone())
                .with_record_oracle(Box::new(|_| Some(zaslon::redact::RecordVerdict::Keep)));
            for ch in doc.chunks(64 << 10) {
                out.clear();
                r.feed(ch, &mut out).expect("valid");
                assert!(r.pending_subjects().is_empty(), "a record was held");
                black_box(&out[..]);
            }
            out.clear();
            r.finish(&mut out).expect("whole");
            black_box(&out[..]);
        })
    });
    g.bench_function("detectors/marketing/1MiB/plain", |b| {
        b.iter(|| redact(&full, Purpose::Marketing, &doc, 64 << 10, &mut out))
    });
    g.finish();
}

fn chunk_sizes(c: &mut Criterion) {
    let doc = page_json(Kind::Mixed, 7, 64 << 10).into_bytes();
    let full = engine(false);
    let mut out = Vec::new();
    let mut g = c.benchmark_group("chunks");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(doc.len() as u64));
    for chunk in [1, 16, 256, 4 << 10, 64 << 10] {
        g.bench_with_input(
            BenchmarkId::new("detectors/marketing", chunk),
            &chunk,
            |b, &k| b.iter(|| redact(&full, Purpose::Marketing, &doc, k, &mut out)),
        );
    }
    g.finish();
}

/// A FHIR searchset Bundle of about `size` bytes whose entries are the HL7
/// R4 example resources (`../shared/conformance/fhir-r4/examples`), in
/// file order, repeated; `None` when the folder is absent.
fn fhir_bundle(size: usize) -> Option<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/conformance/fhir-r4/examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let resources: Vec<Vec<u8>> = files
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .filter(|b| !b.windows(24).any(|w| w == b"\"resourceType\": \"Bundle\""))
        .collect();
    let mut doc = b"{\"resourceType\":\"Bundle\",\"type\":\"searchset\",\"entry\":[".to_vec();
    let mut n = 0;
    while doc.len() < size {
        if n > 0 {
            doc.push(b',');
        }
        doc.extend_from_slice(format!("{{\"fullUrl\":\"urn:uuid:{n}\",\"resource\":").as_bytes());
        doc.extend_from_slice(resources[n % resources.len()].trim_ascii());
        doc.push(b'}');
        n += 1;
    }
    doc.extend_from_slice(b"]}");
    Some(doc)
}

/// FHIR search Bundles through the FHIR-aware redactor, against the
/// serde_json round trip of the same document.
fn fhir(c: &mut Criterion) {
    let full = engine(false);
    let mut out = Vec::new();
    let mut g = c.benchmark_group("fhir");
    g.sample_size(10);
    for (name, size) in [("1MiB", 1 << 20), ("16MiB", 16 << 20)] {
        let Some(doc) = fhir_bundle(size) else {
            eprintln!("SKIPPED bench fhir: ../shared/conformance/fhir-r4/examples not found");
            return;
        };
        g.throughput(Throughput::Bytes(doc.len() as u64));
        g.bench_with_input(
            BenchmarkId::new("detectors/marketing", name),
            &doc,
            |b, d| b.iter(|| redact(&full, Purpose::Marketing, d, 64 << 10, &mut out)),
        );
        g.bench_with_input(
            BenchmarkId::new("serde_json_round_trip", name),
            &doc,
            |b, d| b.iter(|| serde_round_trip(d)),
        );
    }
    g.finish();
}

criterion_group!(benches, throughput, records, chunk_sizes, fhir);
criterion_main!(benches);
