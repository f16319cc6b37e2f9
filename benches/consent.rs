//! A cached consent decision with 1,000,000 subjects in the cache, and the
//! cache's memory per subject.
//!
//! cargo bench --bench consent

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use zaslon::class::Purpose;
use zaslon::consent::{CacheSettings, ConsentCache, ConsentSource, MemorySource, decide};
use zaslon::rules::ConsentMode;

/// The full million under `cargo bench`; a smoke run's worth under
/// `cargo test --all-targets` (which runs benches without `--bench`).
fn subjects_to_cache() -> u64 {
    if std::env::args().any(|a| a == "--bench") {
        1_000_000
    } else {
        10_000
    }
}

fn subject(i: u64) -> String {
    format!("patient-{i:08}")
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn filled_cache(rt: &tokio::runtime::Runtime, total: u64) -> ConsentCache {
    let mem = Arc::new(MemorySource::new());
    for i in (0..total).step_by(10) {
        mem.set_purpose(&subject(i), Purpose::Marketing, false);
    }
    // A TTL longer than the run: every measured lookup is a hit.
    let settings = CacheSettings {
        ttl: std::time::Duration::from_secs(3600),
        ..CacheSettings::default()
    };
    let cache = ConsentCache::new(mem, settings);
    let before = rss_bytes();
    rt.block_on(async {
        let mut batch = Vec::with_capacity(10_000);
        for i in 0..total {
            batch.push(subject(i));
            if batch.len() == 10_000 || i + 1 == total {
                cache.get(&batch).await.unwrap();
                batch.clear();
            }
        }
        cache.sync().await;
    });
    let after = rss_bytes();
    let entries = cache.stats().entries;
    println!(
        "consent cache: {entries} subjects cached; RSS {:.1} MiB -> {:.1} MiB: {:.0} bytes per subject",
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        (after.saturating_sub(before)) as f64 / entries.max(1) as f64
    );
    assert_eq!(entries, total);
    cache
}

/// The calling thread's CPU time: on a machine shared with other builds,
/// wall time also counts the time the thread waited for a core.
struct ThreadCpu;

static WALL: WallTime = WallTime;

impl Measurement for ThreadCpu {
    type Intermediate = cpu_time::ThreadTime;
    type Value = std::time::Duration;
    fn start(&self) -> Self::Intermediate {
        cpu_time::ThreadTime::now()
    }
    fn end(&self, i: Self::Intermediate) -> Self::Value {
        i.elapsed()
    }
    fn add(&self, v1: &Self::Value, v2: &Self::Value) -> Self::Value {
        *v1 + *v2
    }
    fn zero(&self) -> Self::Value {
        std::time::Duration::ZERO
    }
    fn to_f64(&self, value: &Self::Value) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        WALL.formatter()
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let total = subjects_to_cache();
    let cache = filled_cache(&rt, total);
    let _in_runtime = rt.enter();
    // Spread over the whole cache, as real traffic is.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let keys: Vec<String> = (0..65_536)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            subject(x % total)
        })
        .collect();

    run(c.benchmark_group("consent"), &cache, &keys);
    let mut cpu = Criterion::default()
        .with_measurement(ThreadCpu)
        .sample_size(50)
        .measurement_time(std::time::Duration::from_secs(4))
        .configure_from_args();
    run(cpu.benchmark_group("consent_thread_cpu"), &cache, &keys);
    let s = cache.stats();
    println!(
        "consent cache stats: hits {} misses {} backend calls {}",
        s.hits, s.misses, s.backend_calls
    );
}

fn run<M: Measurement>(
    mut g: criterion::BenchmarkGroup<'_, M>,
    cache: &ConsentCache,
    keys: &[String],
) {
    // 65,536 subjects spread over the million (past the CPU caches), and a
    // hot set of 1,024 (cache-resident).
    for (name, n) in [
        ("random_65536_of_1M", 65_536usize),
        ("hot_1024_of_1M", 1_024),
    ] {
        let mask = n - 1;
        let mut i = 0usize;
        g.bench_function(format!("try_cached+decide/{name}"), |b| {
            b.iter(|| {
                i = (i + 1) & mask;
                let st = cache.try_cached(black_box(&keys[i])).unwrap();
                black_box(decide(ConsentMode::OptIn, Purpose::Marketing, &st))
            })
        });
        let mut i = 0usize;
        g.bench_function(format!("lookup+decide/{name}"), |b| {
            b.iter(|| {
                i = (i + 1) & mask;
                let one = std::slice::from_ref(&keys[i]);
                let st = cache
                    .lookup(black_box(one))
                    .now_or_never()
                    .unwrap()
                    .unwrap();
                black_box(decide(ConsentMode::OptIn, Purpose::Marketing, &st[0]))
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
