//! `zaslon demo` as a user meets it: every command it prints is run, and
//! each gives what its title promises.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use support::get;
use zaslon::demo::{DemoOptions, Step};

fn audit_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("audit"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn every_printed_command_does_what_it_says() {
    let tmp = tempfile::tempdir().unwrap();
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let opts = DemoOptions {
        proxy: any,
        upstream: any,
        admin: any,
        dir: tmp.path().join("zaslon-demo"),
        program: "zaslon".into(),
    };
    let none = std::collections::HashMap::<&str, &str>::new();
    let demo = zaslon::demo::prepare(opts, &none).await.unwrap();
    let text = demo.instructions();
    let tries = demo.tries();
    let addrs = demo.addrs;
    let dir = demo.dir.clone();
    let shells: Vec<String> = tries.iter().map(|t| demo.shell(&t.step)).collect();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(demo.run(async move {
        let _ = rx.await;
    }));

    for (t, shell) in tries.iter().zip(&shells) {
        assert!(text.contains(shell.as_str()), "not printed: {shell}");
        match &t.step {
            Step::Http {
                path,
                headers,
                admin,
                status,
                expect,
                ..
            } => {
                let addr = if *admin { addrs.admin } else { addrs.proxy };
                let h: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                // A withdrawal takes up to a journal poll to be seen.
                let started = Instant::now();
                let r = loop {
                    let r = get(&format!("http://{addr}{path}"), &h).await;
                    if r.status == *status || started.elapsed() > Duration::from_secs(3) {
                        break r;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                };
                assert_eq!(r.status, *status, "{shell}: {}", r.text());
                if let Some(e) = expect {
                    assert!(r.text().contains(e.as_str()), "{shell}: {}", r.text());
                }
                eprintln!("ok ({} ms): {shell}", started.elapsed().as_millis());
            }
            Step::Append { line } => {
                use std::io::Write;
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(dir.join("consent.jsonl"))
                    .unwrap();
                writeln!(f, "{line}").unwrap();
            }
            Step::Verify => {
                // Events are durable within a group commit (10 ms).
                tokio::time::sleep(Duration::from_millis(200)).await;
                let report = zaslon::audit::verify(&audit_files(&dir)).unwrap();
                let http = tries
                    .iter()
                    .filter(|t| matches!(t.step, Step::Http { admin: false, .. }))
                    .count() as u64;
                assert!(report.records >= http, "{report}");
            }
            Step::Query { subject } => {
                let key =
                    zaslon::redact::PseudonymKey::new(zaslon::demo::DEMO_PSEUDONYM_KEY.as_bytes());
                let p = zaslon::audit::query::subject_pseudonym(&key, subject);
                let found = zaslon::audit::query::query_files(
                    &audit_files(&dir),
                    &p,
                    zaslon::audit::query::Window::default(),
                )
                .unwrap();
                // Four purposes, the FHIR read, the refusal for care, the
                // marketing refusal after the withdrawal.
                assert!(found.len() >= 7, "{found:?}");
                assert!(found.iter().any(|a| a.reason == "consent_withdrawn"));
            }
        }
    }
    // The FHIR list and the appointments answer too.
    for path in ["/fhir/Patient", "/api/appointments", "/api/documents/3"] {
        let r = get(
            &format!("http://{}{path}", addrs.proxy),
            &[("x-api-key", "demo-doctor-key"), ("x-purpose", "care")],
        )
        .await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
    }
    let r = get(
        &format!("http://{}/api/patients/19999", addrs.proxy),
        &[("x-api-key", "demo-doctor-key"), ("x-purpose", "care")],
    )
    .await;
    assert_eq!(r.status, 404);
    let r = get(&format!("http://{}/readyz", addrs.admin), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    tx.send(()).unwrap();
    task.await.unwrap().unwrap();
}
