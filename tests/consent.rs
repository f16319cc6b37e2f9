//! Consent scenarios: the cache over a memory backend, the journal file,
//! the real PostgreSQL on 127.0.0.1:5432 (each test in its own schema) and
//! a real loopback HTTP consent service.

#[path = "consent_support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use support::*;
use zaslon::class::Purpose;
use zaslon::consent::{
    self, CacheSettings, ConsentCache, ConsentConfig, ConsentDecision, ConsentError, ConsentSource,
    MemorySource, SubjectState, decide,
};
use zaslon::rules::ConsentMode;

fn subjects(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

// ---------------------------------------------------------------- cache ---

#[tokio::test]
async fn cache_hits_negative_entries_and_batches_misses_into_one_call() {
    let mem = Arc::new(MemorySource::new());
    mem.set_purpose("p1", Purpose::Marketing, false);
    let cache = ConsentCache::new(mem.clone(), CacheSettings::default());

    let batch = subjects("p", 1000);
    let states = cache.get(&batch).await.unwrap();
    assert_eq!(mem.calls(), 1, "1,000 misses make one backend call");
    assert_eq!(states[1].granted(Purpose::Marketing), Some(false));
    assert_eq!(states[2], SubjectState::default());

    // Everything, "no records" included, is now cached.
    let again = cache.get(&batch).await.unwrap();
    assert_eq!(again, states);
    assert_eq!(mem.calls(), 1);
    let st = cache.stats();
    assert_eq!((st.hits, st.misses, st.backend_calls), (1000, 1000, 1));
    assert_eq!(
        cache.try_cached("p1").unwrap().granted(Purpose::Marketing),
        Some(false)
    );
    assert_eq!(cache.try_cached("nobody"), None);
}

#[tokio::test]
async fn concurrent_misses_are_single_flight() {
    let mem = Arc::new(MemorySource::new());
    let slow = Arc::new(Slow::new(mem.clone(), Duration::from_millis(100)));
    let cache = ConsentCache::new(slow.clone(), CacheSettings::default());
    let mut tasks = Vec::new();
    for i in 0..50 {
        let cache = cache.clone();
        // Half ask for one subject, half for a batch that includes it.
        let ask = if i % 2 == 0 {
            vec!["s".to_string()]
        } else {
            vec!["s".to_string(), format!("other{i}")]
        };
        tasks.push(tokio::spawn(async move { cache.get(&ask).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let asked = slow.asked();
    let s_asked = asked.iter().filter(|s| s.as_str() == "s").count();
    assert_eq!(
        s_asked, 1,
        "subject `s` was fetched once for 50 concurrent lookups"
    );
    assert!(mem.calls() < 50, "{} backend calls", mem.calls());
}

#[tokio::test]
async fn a_change_during_a_fetch_is_not_lost() {
    let mem = Arc::new(MemorySource::new());
    mem.set_purpose("s", Purpose::Care, true);
    let slow = Arc::new(Slow::new(mem.clone(), Duration::from_millis(200)));
    let cache = ConsentCache::new(slow.clone(), CacheSettings::default());
    let reader = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.get(&["s".to_string()]).await })
    };
    // The backend has read the old state; now it changes and is invalidated.
    tokio::time::sleep(Duration::from_millis(50)).await;
    mem.set_purpose("s", Purpose::Care, false);
    cache.invalidate("s").await;
    let first = reader.await.unwrap().unwrap();
    assert_eq!(
        first[0].granted(Purpose::Care),
        Some(false),
        "the fetch was repeated"
    );
    let later = cache.get(&["s".to_string()]).await.unwrap();
    assert_eq!(later[0].granted(Purpose::Care), Some(false));
}

#[tokio::test]
async fn backend_down_fails_closed_by_default_and_serves_stale_within_the_window() {
    let settings = |stale| CacheSettings {
        ttl: Duration::from_millis(100),
        stale_serve: stale,
        ..CacheSettings::default()
    };
    for stale in [Duration::ZERO, Duration::from_millis(600)] {
        let mem = Arc::new(MemorySource::new());
        mem.set_purpose("known", Purpose::Care, false);
        let cache = ConsentCache::new(mem.clone(), settings(stale));
        cache.get(&["known".into()]).await.unwrap();
        mem.set_failing(true);
        tokio::time::sleep(Duration::from_millis(150)).await;

        let known = cache.get(&["known".into()]).await;
        let new = cache.get(&["new".into()]).await;
        assert_eq!(
            new,
            Err(ConsentError::Unavailable),
            "a miss never passes silently"
        );
        if stale.is_zero() {
            assert_eq!(
                known,
                Err(ConsentError::Unavailable),
                "stale_serve 0: fail closed"
            );
        } else {
            let st = known.unwrap()[0];
            assert_eq!(
                decide(ConsentMode::OptOut, Purpose::Care, &st),
                ConsentDecision::Withdrawn
            );
            assert!(cache.stats().stale_served >= 1);
            tokio::time::sleep(Duration::from_millis(600)).await;
            assert_eq!(
                cache.get(&["known".into()]).await,
                Err(ConsentError::Unavailable),
                "past the stale window: fail closed"
            );
        }
        assert!(cache.stats().backend_errors >= 2);
        mem.set_failing(false);
        assert!(
            cache.get(&["new".into()]).await.is_ok(),
            "recovers by itself"
        );
    }
}

#[tokio::test]
async fn a_hung_backend_is_a_timeout() {
    let mem = Arc::new(MemorySource::new());
    let slow = Arc::new(Slow::new(mem, Duration::from_secs(30)));
    let cache = ConsentCache::new(
        slow,
        CacheSettings {
            timeout: Duration::from_millis(200),
            ..CacheSettings::default()
        },
    );
    let t = Instant::now();
    assert_eq!(cache.get(&["s".into()]).await, Err(ConsentError::Timeout));
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn the_cache_is_size_bounded() {
    let mem = Arc::new(MemorySource::new());
    let cache = ConsentCache::new(
        mem,
        CacheSettings {
            max_subjects: 100,
            ..CacheSettings::default()
        },
    );
    for chunk in subjects("b", 1000).chunks(100) {
        cache.get(chunk).await.unwrap();
    }
    cache.sync().await;
    assert!(
        cache.stats().entries <= 100,
        "{} entries",
        cache.stats().entries
    );
}

#[tokio::test]
async fn a_panicking_backend_fails_closed_and_does_not_wedge_the_subject() {
    let mem = Arc::new(MemorySource::new());
    let panicky = Arc::new(Panicky::new(mem.clone()));
    let cache = ConsentCache::new(panicky.clone(), CacheSettings::default());
    let s = vec!["p".to_string()];
    assert_eq!(cache.get(&s).await, Err(ConsentError::Unavailable));
    panicky.heal();
    assert_eq!(cache.get(&s).await, Ok(vec![SubjectState::default()]));
}

#[tokio::test]
async fn duplicates_in_a_batch_and_admin_invalidation() {
    let mem = Arc::new(MemorySource::new());
    mem.set_blocked("d", true);
    let cache = ConsentCache::new(mem.clone(), CacheSettings::default());
    let batch = vec!["d".to_string(), "e".to_string(), "d".to_string()];
    let st = cache.get(&batch).await.unwrap();
    assert!(st[0].blocked && !st[1].blocked && st[2].blocked);
    assert_eq!(mem.calls(), 1);

    mem.set_blocked("d", false);
    mem.set_blocked("e", true);
    cache.invalidate("d").await;
    let st = cache.get(&batch).await.unwrap();
    assert!(!st[0].blocked && !st[1].blocked, "only `d` was invalidated");
    cache.invalidate_all();
    let st = cache.get(&batch).await.unwrap();
    assert!(st[1].blocked, "everything was invalidated");
    assert_eq!(mem.calls(), 3);
}

// ----------------------------------------------------------------- file ---

#[tokio::test]
async fn file_backend_an_append_takes_effect_without_restart() {
    let dir = TempDir::new("append");
    let path = dir.path().join("consent.jsonl");
    std::fs::write(
        &path,
        "{\"subject\":\"10234\",\"purpose\":\"marketing\",\"granted\":true,\"at\":\"2026-11-01T10:00:00Z\",\"source\":\"app\"}\n",
    )
    .unwrap();
    let cfg = ConsentConfig::file(&path);
    let cache: Arc<dyn ConsentSource> = consent::build(&cfg, &|_| None).await.unwrap();
    let s = vec!["10234".to_string()];
    let st = cache.lookup(&s).await.unwrap()[0];
    assert_eq!(
        decide(ConsentMode::OptIn, Purpose::Marketing, &st),
        ConsentDecision::Allow
    );
    // Let the watcher settle into its polling rhythm, so that the time
    // below is what an append meets in steady state (up to `poll_ms`).
    tokio::time::sleep(Duration::from_millis(350)).await;

    let t0 = Instant::now();
    append(
        &path,
        "{\"subject\":\"10234\",\"purpose\":\"marketing\",\"granted\":false,\"at\":\"2026-11-02T10:00:00Z\",\"source\":\"app\"}\n",
    );
    let took = wait_until(Duration::from_secs(2), || async {
        let st = cache.lookup(&s).await.unwrap()[0];
        decide(ConsentMode::OptIn, Purpose::Marketing, &st) == ConsentDecision::NotGranted
    })
    .await
    .expect("the appended withdrawal took effect");
    println!(
        "file backend: append -> deny in {took:?} (since append: {:?})",
        t0.elapsed()
    );
    assert!(took < Duration::from_secs(1));

    // A blocking event, a malformed line in between, a line written in two parts.
    append(&path, "garbage\n{\"subject\":\"10234\",\"state\":");
    append(
        &path,
        "\"blocked\",\"at\":\"2026-11-03T10:00:00Z\",\"source\":\"letter\"}\n",
    );
    wait_until(Duration::from_secs(2), || async {
        cache.lookup(&s).await.unwrap()[0].blocked
    })
    .await
    .expect("the blocking event took effect");
}

#[tokio::test]
async fn file_backend_replaced_or_unreadable_journal() {
    let dir = TempDir::new("replace");
    let path = dir.path().join("consent.jsonl");
    let line = |s: &str, g: bool| {
        format!(
            "{{\"subject\":\"{s}\",\"purpose\":\"care\",\"granted\":{g},\"at\":\"2026-11-01T10:00:00Z\",\"source\":\"t\"}}\n"
        )
    };
    std::fs::write(&path, line("a", false) + &line("b", false)).unwrap();
    let mut cfg = ConsentConfig::file(&path);
    cfg.stale_serve_secs = 60;
    let cache = consent::build(&cfg, &|_| None).await.unwrap();
    let ab = vec!["a".to_string(), "b".to_string()];
    let st = cache.get(&ab).await.unwrap();
    assert_eq!(st[0].granted(Purpose::Care), Some(false));

    // Compaction: a shorter file moved into place. `a` is now granted, `b`
    // has no event any more.
    let tmp = dir.path().join("new.jsonl");
    std::fs::write(&tmp, line("a", true)).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    wait_until(Duration::from_secs(2), || async {
        let st = cache.get(&ab).await.unwrap();
        st[0].granted(Purpose::Care) == Some(true) && st[1] == SubjectState::default()
    })
    .await
    .expect("the replaced journal was reloaded");

    // Unreadable: cached subjects keep their state (stale window), new ones fail.
    std::fs::remove_file(&path).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        cache.get(&["c".into()]).await,
        Err(ConsentError::Unavailable)
    );
    assert!(cache.get(&ab).await.is_ok());
    std::fs::write(&path, line("c", false)).unwrap();
    wait_until(Duration::from_secs(2), || async {
        matches!(cache.get(&["c".into()]).await, Ok(v) if v[0].granted(Purpose::Care) == Some(false))
    })
    .await
    .expect("the journal is used again once readable");
}

#[tokio::test]
async fn file_backend_an_in_place_rewrite_is_not_misread_as_an_append() {
    let dir = TempDir::new("rewrite");
    let path = dir.path().join("consent.jsonl");
    let at = "2026-11-01T10:00:00Z";
    std::fs::write(
        &path,
        consent::consent_line("r1", Purpose::Care, false, at, "t"),
    )
    .unwrap();
    let cache = consent::build(&ConsentConfig::file(&path), &|_| None)
        .await
        .unwrap();
    let r = vec!["r1".to_string(), "r2".to_string()];
    assert_eq!(
        cache.get(&r).await.unwrap()[0].granted(Purpose::Care),
        Some(false)
    );

    // The same file truncated and written again, longer than before: read
    // from the old offset it would be a torn line; it must be reloaded whole.
    let rewritten = consent::consent_line("r2", Purpose::Care, false, at, "t")
        + &consent::consent_line("r1", Purpose::Care, true, at, "a longer source")
        + &consent::state_line("r2", true, at, "t");
    std::fs::write(&path, rewritten).unwrap();
    wait_until(Duration::from_secs(2), || async {
        let st = cache.get(&r).await.unwrap();
        st[0].granted(Purpose::Care) == Some(true) && st[1].blocked
    })
    .await
    .expect("the rewritten journal was reloaded whole");
}

#[tokio::test]
async fn file_backend_refuses_an_unreadable_journal_at_startup() {
    let cfg = ConsentConfig::file("/nonexistent/zaslon/consent.jsonl");
    let err = consent::build(&cfg, &|_| None).await.unwrap_err();
    assert!(
        err.to_string().contains("cannot read the consent journal"),
        "{err}"
    );
}

// ------------------------------------------------------------- postgres ---

#[tokio::test]
async fn postgres_withdrawal_reaches_two_replicas_within_a_second() {
    let db = TestSchema::create().await;
    db.exec(
        "insert into consent (subject, purpose, granted, source) \
             select 'pt' || g, 'marketing', true, 'app' from generate_series(0, 99) g",
    )
    .await;
    let a = consent::build(&db.config(), &|_| None).await.unwrap();
    let b = consent::build(&db.config(), &|_| None).await.unwrap();
    for r in [&a, &b] {
        wait_listening(r).await;
    }
    let s = vec!["pt7".to_string()];
    for r in [&a, &b] {
        let st = r.get(&s).await.unwrap()[0];
        assert_eq!(
            decide(ConsentMode::OptIn, Purpose::Marketing, &st),
            ConsentDecision::Allow
        );
    }

    // Both replicas serve traffic for the subject while the MIS withdraws.
    let t0 = Instant::now();
    let traffic: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .map(|r| {
            let s = s.clone();
            tokio::spawn(async move {
                loop {
                    if let Ok(v) = r.get(&s).await
                        && decide(ConsentMode::OptIn, Purpose::Marketing, &v[0]).code()
                            == "consent_withdrawn"
                    {
                        return t0.elapsed();
                    }
                    if t0.elapsed() > Duration::from_secs(3) {
                        return Duration::MAX;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
        })
        .collect();
    db.exec(
        "update consent set granted = false, changed_at = now(), source = 'app' \
             where subject = 'pt7' and purpose = 'marketing'",
    )
    .await;
    let committed = t0.elapsed();
    let mut times = Vec::new();
    for t in traffic {
        times.push(t.await.unwrap());
    }
    println!(
        "postgres: withdrawal propagation (UPDATE sent -> deny): replica A {:?}, replica B {:?} (UPDATE committed after {committed:?})",
        times[0], times[1]
    );
    for t in &times {
        assert!(*t < Duration::from_secs(1), "propagation took {t:?}");
    }
    // Other subjects were not disturbed.
    let other = a.get(&["pt8".into()]).await.unwrap()[0];
    assert_eq!(other.granted(Purpose::Marketing), Some(true));
    db.drop().await;
}

#[tokio::test]
async fn postgres_a_page_of_1000_is_one_query() {
    let db = TestSchema::create().await;
    // Every tenth patient withdrew marketing; patient 5 is blocked.
    db.exec(
        "insert into consent (subject, purpose, granted, source) \
             select 'pt' || g, 'marketing', g % 10 <> 0, 'app' from generate_series(0, 999) g",
    )
    .await;
    db.exec(
        "insert into subject_state (subject, state, source) values ('pt5', 'blocked', 'letter')",
    )
    .await;
    let src = Arc::new(db.source());
    let cache = ConsentCache::new(src.clone(), CacheSettings::default());
    let page: Vec<String> = subjects("pt", 1000);
    let before = src.queries();
    let states = cache.get(&page).await.unwrap();
    assert_eq!(
        src.queries() - before,
        1,
        "one SQL statement for 1,000 subjects"
    );
    assert_eq!(cache.stats().backend_calls, 1);
    for (i, st) in states.iter().enumerate() {
        let marketing = decide(ConsentMode::OptIn, Purpose::Marketing, st);
        let care = decide(ConsentMode::OptOut, Purpose::Care, st);
        match i {
            5 => assert_eq!(
                (marketing, care),
                (ConsentDecision::Blocked, ConsentDecision::Blocked)
            ),
            _ if i % 10 == 0 => assert_eq!(
                (marketing, care),
                (ConsentDecision::NotGranted, ConsentDecision::Allow)
            ),
            _ => assert_eq!(
                (marketing, care),
                (ConsentDecision::Allow, ConsentDecision::Allow)
            ),
        }
    }
    db.drop().await;
}

#[tokio::test]
async fn postgres_outage_keeps_cached_decisions_fails_new_subjects_and_recovers() {
    let db = TestSchema::create().await;
    db.exec(
        "insert into consent (subject, purpose, granted, source) values \
             ('known', 'care', false, 'app'), ('later', 'care', false, 'app')",
    )
    .await;
    let gate = Gate::open("127.0.0.1:5432").await;
    let mut cfg = db.config_via(gate.port());
    cfg.stale_serve_secs = 30;
    cfg.timeout_ms = 500;
    let cache = consent::build(&cfg, &|_| None).await.unwrap();
    wait_listening(&cache).await;
    let st = cache.get(&["known".into()]).await.unwrap()[0];
    assert_eq!(
        decide(ConsentMode::OptOut, Purpose::Care, &st),
        ConsentDecision::Withdrawn
    );

    gate.close().await;
    cache.invalidator().expire_all(); // as if the TTL had passed
    let st = cache.get(&["known".into()]).await.unwrap()[0];
    assert_eq!(
        decide(ConsentMode::OptOut, Purpose::Care, &st),
        ConsentDecision::Withdrawn,
        "a cached subject keeps its decision within the stale window"
    );
    assert!(cache.stats().stale_served >= 1);
    assert_eq!(
        cache.get(&["later".into()]).await,
        Err(ConsentError::Unavailable),
        "a new subject gets consent_unavailable"
    );

    let invalidations = cache.stats().invalidations;
    gate.reopen().await;
    let took = wait_until(Duration::from_secs(10), || async {
        cache.get(&["later".into()]).await.is_ok()
    })
    .await
    .expect("lookups recover without recreating the cache");
    println!("postgres: lookups answered again {took:?} after the server came back");
    // And invalidations flow again over the re-established LISTEN connection.
    wait_until(Duration::from_secs(10), || async {
        cache.stats().invalidations > invalidations
    })
    .await
    .expect("the listener reconnected");
    let st = cache.get(&["known".into()]).await.unwrap()[0];
    assert_eq!(st.granted(Purpose::Care), Some(false));
    db.exec("update consent set granted = true where subject = 'known'")
        .await;
    wait_until(Duration::from_secs(1), || async {
        matches!(cache.get(&["known".into()]).await,
            Ok(v) if v[0].granted(Purpose::Care) == Some(true))
    })
    .await
    .expect("NOTIFY reaches the cache after the reconnect");
    gate.close().await;
    db.drop().await;
}

#[tokio::test]
async fn postgres_terminated_connections_reconnect_and_expire_the_cache() {
    let db = TestSchema::create().await;
    db.exec("insert into consent (subject, purpose, granted, source) values ('t1', 'care', true, 'app')")
        .await;
    let cfg = db.config();
    let cache = consent::build(&cfg, &|_| None).await.unwrap();
    wait_listening(&cache).await;
    let s = vec!["t1".to_string()];
    cache.get(&s).await.unwrap();
    let invalidations = cache.stats().invalidations;

    let killed = db.terminate_own_connections().await;
    assert!(
        killed >= 2,
        "the lookup and the LISTEN connections ({killed})"
    );
    // The listener reconnects and expires everything it may have missed.
    wait_until(Duration::from_secs(5), || async {
        cache.stats().invalidations > invalidations
    })
    .await
    .expect("the listener reconnected");
    db.exec("update consent set granted = false where subject = 't1'")
        .await;
    let took = wait_until(Duration::from_secs(2), || async {
        matches!(cache.get(&s).await, Ok(v) if v[0].granted(Purpose::Care) == Some(false))
    })
    .await
    .expect("the withdrawal arrived over the new connection");
    assert!(took < Duration::from_secs(1), "{took:?}");
    db.drop().await;
}

#[tokio::test]
async fn postgres_misconfigured_tables_are_a_startup_error() {
    let db = TestSchema::create().await;
    let mut cfg = db.config();
    cfg.consent_table = "no_such_table".into();
    let err = consent::build(&cfg, &|_| None).await.unwrap_err();
    assert!(err.to_string().contains("no_such_table"), "{err}");
    db.drop().await;
}

// ----------------------------------------------------------------- http ---

#[tokio::test]
async fn http_backend_answers_404s_retries_and_times_out() {
    let server = ConsentService::start().await;
    let mut cfg = ConsentConfig::from_toml_str(&format!(
        "backend = \"http\"\nendpoint = \"http://{}/consent/{{subject}}\"\ntimeout_ms = 600\nretries = 2\ntoken_env = \"CONSENT_TOKEN\"",
        server.addr
    ))
    .unwrap();
    let env = |k: &str| (k == "CONSENT_TOKEN").then(|| "t0ken".to_string());
    let cache = consent::build(&cfg, &env).await.unwrap();

    let st = cache
        .get(&["withdrawn".into(), "missing".into(), "blocked".into()])
        .await
        .unwrap();
    assert_eq!(st[0].granted(Purpose::Marketing), Some(false));
    assert_eq!(st[0].granted(Purpose::Care), Some(true));
    assert_eq!(st[1], SubjectState::default(), "404: no records");
    assert!(st[2].blocked);
    assert_eq!(
        server.bearer_seen.load(Relaxed),
        3,
        "the bearer token was sent"
    );

    let st = cache.get(&["flaky".into()]).await.unwrap();
    assert_eq!(
        st[0].granted(Purpose::Care),
        Some(false),
        "a 500 was retried"
    );

    let t = Instant::now();
    let hung = cache.get(&["hang".into()]).await;
    println!(
        "http: hung consent service -> {hung:?} after {:?}",
        t.elapsed()
    );
    assert!(matches!(
        hung,
        Err(ConsentError::Timeout | ConsentError::Unavailable)
    ));
    assert!(t.elapsed() < Duration::from_millis(1500));

    assert_eq!(
        cache.get(&["teapot".into()]).await,
        Err(ConsentError::Unavailable)
    );
    assert_eq!(
        cache.get(&["garbled".into()]).await,
        Err(ConsentError::Unavailable)
    );

    // Nothing listening at all.
    cfg.endpoint = Some("http://127.0.0.1:1/consent/{subject}".into());
    let closed = consent::build(&cfg, &env).await.unwrap();
    assert!(closed.get(&["withdrawn".into()]).await.is_err());
}
