//! `zaslon serve` as assembled: the admin listener's readiness, reload and
//! consent invalidation, and what the config must hold to start.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use support::*;
use tokio::net::TcpListener;
use zaslon::config::Config;
use zaslon::proxy::assemble::{AssembleError, Options, assemble};

const TOKEN: &str = "admin-token-for-tests-0123";

fn env() -> HashMap<&'static str, &'static str> {
    HashMap::from([
        ("ZASLON_PSEUDONYM_KEY", PSEUDONYM_KEY),
        ("ADMIN_TOKEN", TOKEN),
    ])
}

fn copy_rules(to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
}

fn config(upstream: &str, dir: &std::path::Path) -> String {
    format!(
        "{}\n[admin]\naddress = \"127.0.0.1:0\"\ntoken_env = \"ADMIN_TOKEN\"\n\n[rules]\ndir = \"{d}/rules\"\n\n[consent]\nbackend = \"file\"\npath = \"{d}/consent.jsonl\"\npoll_ms = 50\n\n[audit]\nsink = \"file\"\npath = \"{d}/audit/zaslon.jsonl\"\n",
        default_config(upstream),
        d = dir.display()
    )
}

struct Running {
    proxy: std::net::SocketAddr,
    admin: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(text: &str) -> Running {
    let cfg = Config::parse(text, "serve.toml", &env()).unwrap_or_else(|e| panic!("{e}"));
    let parts = assemble(&cfg, Options::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (proxy, admin) = (l.local_addr().unwrap(), a.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        parts
            .run(&cfg, l, Some(a), async move {
                let _ = rx.await;
            })
            .await
    });
    Running {
        proxy,
        admin,
        stop: tx,
    }
}

async fn admin(addr: std::net::SocketAddr, method: &str, path: &str, body: &str) -> Got {
    let mut req = request(
        method,
        &format!("http://{addr}{path}"),
        &[("authorization", &format!("Bearer {TOKEN}"))],
    );
    *req.body_mut() = http_body_util::Full::new(bytes::Bytes::from(body.to_owned()));
    send(req).await
}

async fn ready_within(addr: std::net::SocketAddr, limit: Duration) -> Got {
    let started = Instant::now();
    loop {
        let r = get(&format!("http://{addr}/readyz"), &[]).await;
        if r.status == 200 || started.elapsed() > limit {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn reload_swaps_rules_and_a_broken_dir_keeps_the_old_ones() {
    let tmp = tempfile::tempdir().unwrap();
    copy_rules(&tmp.path().join("rules"));
    std::fs::write(tmp.path().join("consent.jsonl"), "").unwrap();
    let up = Upstream::json(PATIENT).await;
    let run = start(&config(&up.url(), tmp.path())).await;
    let care = [("x-api-key", CARE_KEY), ("x-purpose", "care")];
    let patient = format!("http://{}/api/patients/10234", run.proxy);

    let r = ready_within(run.admin, Duration::from_secs(3)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(get(&patient, &care).await.status, 200);

    let r = admin(run.admin, "POST", "/reload", "").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("rules "), "{}", r.text());

    // A broken rules file: the reload fails, names it, and the proxy goes
    // on with the rules it had.
    let care_rules = tmp.path().join("rules/care.toml");
    let mut text = std::fs::read_to_string(&care_rules).unwrap();
    text.push_str("\nthis is = [not toml\n");
    std::fs::write(&care_rules, text).unwrap();
    let r = admin(run.admin, "POST", "/reload", "").await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("care.toml"), "{}", r.text());
    assert_eq!(get(&patient, &care).await.status, 200);

    // Invalidation reaches the consent cache; metrics carry the versions.
    let r = admin(
        run.admin,
        "POST",
        "/consent/invalidate",
        r#"{"subject":"10234"}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = admin(run.admin, "GET", "/metrics", "").await;
    assert!(r.text().contains("zaslon_config_info{"), "{}", r.text());
    assert!(r.text().contains("zaslon_requests_total{"), "{}", r.text());
    let unauthorized = get(&format!("http://{}/metrics", run.admin), &[]).await;
    assert_eq!(unauthorized.status, 401);
    run.stop.send(()).unwrap();
}

#[tokio::test]
async fn a_withdrawal_appended_to_the_journal_is_enforced_by_serve() {
    let tmp = tempfile::tempdir().unwrap();
    copy_rules(&tmp.path().join("rules"));
    let journal = tmp.path().join("consent.jsonl");
    std::fs::write(&journal, "").unwrap();
    let up = Upstream::json(PATIENT).await;
    let run = start(&config(&up.url(), tmp.path())).await;
    let care = [("x-api-key", CARE_KEY), ("x-purpose", "care")];
    let patient = format!("http://{}/api/patients/10234", run.proxy);
    assert_eq!(get(&patient, &care).await.status, 200);
    // A second request is served from the cache: the hit counted below
    // does not depend on when the journal's poll notices the withdrawal.
    assert_eq!(get(&patient, &care).await.status, 200);
    std::fs::write(
        &journal,
        "{\"subject\":\"10234\",\"purpose\":\"care\",\"granted\":false,\"at\":\"2026-11-01T10:00:00Z\",\"source\":\"test\"}\n",
    )
    .unwrap();
    let started = Instant::now();
    let r = loop {
        let r = get(&patient, &care).await;
        if r.status == 403 || started.elapsed() > Duration::from_secs(3) {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(r.error_code(), "consent_withdrawn");
    eprintln!(
        "file journal withdrawal enforced after {:?}",
        started.elapsed()
    );
    // The consent cache's counters reach /metrics (copied every second).
    let counter = |text: &str, name: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let started = Instant::now();
    loop {
        let text = admin(run.admin, "GET", "/metrics", "").await.text();
        let misses = counter(&text, "zaslon_consent_cache_misses_total");
        let hits = counter(&text, "zaslon_consent_cache_hits_total");
        if misses >= 2 && hits >= 1 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(3), "{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    run.stop.send(()).unwrap();
}

#[tokio::test]
async fn readiness_names_an_unreachable_upstream() {
    let tmp = tempfile::tempdir().unwrap();
    copy_rules(&tmp.path().join("rules"));
    std::fs::write(tmp.path().join("consent.jsonl"), "").unwrap();
    // A port nothing listens on.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let run = start(&config(&url, tmp.path())).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = get(&format!("http://{}/readyz", run.admin), &[]).await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.json()["failing"], serde_json::json!(["upstream"]));
    run.stop.send(()).unwrap();
}

#[tokio::test]
async fn serve_refuses_to_start_without_an_audit_section() {
    let cfg = Config::parse(&default_config("http://127.0.0.1:9"), "t.toml", &env()).unwrap();
    let e = assemble(&cfg, Options::default()).await.err().unwrap();
    assert!(matches!(e, AssembleError::NoAudit), "{e}");
    assert!(e.to_string().contains("[audit]"), "{e}");
}

#[tokio::test]
async fn without_a_consent_section_no_records_decide() {
    let tmp = tempfile::tempdir().unwrap();
    let up = Upstream::json(PATIENT).await;
    let text = format!(
        "{}\n[audit]\nsink = \"file\"\npath = \"{}/audit/z.jsonl\"\n",
        default_config(&up.url()),
        tmp.path().display()
    );
    let run = start(&text).await;
    let patient = format!("http://{}/api/patients/10234", run.proxy);
    // opt-out allowed, opt-in (marketing) denied.
    let care = get(&patient, &[("x-api-key", CARE_KEY), ("x-purpose", "care")]).await;
    assert_eq!(care.status, 200);
    let mk = get(
        &patient,
        &[("x-api-key", ALL_KEY), ("x-purpose", "marketing")],
    )
    .await;
    assert_eq!(mk.error_code(), "consent_withdrawn");
    run.stop.send(()).unwrap();
}
