//! The real `zaslon` binary, as a user runs it: `check`, `demo`, `audit`.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_zaslon");
const KEY: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn check_reports_every_problem_with_its_line_and_fails() {
    let dir = std::env::temp_dir().join(format!("zaslon-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[listen]\naddress = \"localhost:80\"\n\n[upstream]\nurl = \"http://127.0.0.1:1\"\ntimeout = 5\n\n[pseudonymization]\nkey_env = \"ZASLON_TEST_KEY\"\n\n[[clients]]\nid = \"x\"\npurposes = [\"ads\"]\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&bad)
        .env("ZASLON_TEST_KEY", KEY)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    let file = bad.display().to_string();
    for (line, what) in [
        (2, "address"),
        (6, "timeout"),
        (12, "credential"),
        (13, "ads"),
    ] {
        assert!(
            text.contains(&format!("{file}:{line}:")),
            "no problem on line {line}:\n{text}"
        );
        assert!(text.contains(what), "{what} not named:\n{text}");
    }
    assert!(text.matches("fix:").count() >= 4, "{text}");

    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo.toml");
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&demo)
        .env("ZASLON_PSEUDONYM_KEY", KEY)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn the_demo_answers_and_stops_cleanly_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args([
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
            "--dir",
        ])
        .arg(tmp.path().join("zaslon-demo"))
        .env_remove("ZASLON_PSEUDONYM_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .split("proxy on http://")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap()
        .to_owned();
    let mut printed = String::new();
    for l in lines.by_ref().take(10) {
        printed.push_str(&l.unwrap());
        printed.push('\n');
    }
    for purpose in ["care", "support", "marketing", "analytics"] {
        assert!(
            printed.contains(&format!(
                "x-purpose: {purpose}' http://{addr}/api/patients/10001"
            )),
            "{printed}"
        );
    }
    // One request over a plain socket, as curl would send it.
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.write_all(b"GET /api/patients/10001 HTTP/1.1\r\nHost: x\r\nx-api-key: demo-doctor-key\r\nx-purpose: care\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains("10001"));

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("the demo did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "exit status {exit:?}");
}

#[test]
fn audit_verify_and_query_from_the_command_line() {
    use zaslon::audit::AuditEvent;
    use zaslon::audit::chain::ChainState;
    let tmp = tempfile::tempdir().unwrap();
    let key = zaslon::redact::PseudonymKey::new(KEY.as_bytes());
    let who = zaslon::audit::query::subject_pseudonym(&key, "10001");
    let mut chain = ChainState::default();
    let mut out = Vec::new();
    for i in 0..5 {
        let ev = AuditEvent {
            time: format!("2026-11-25T08:0{i}:00.000000Z"),
            request_id: format!("r{i}"),
            client: "crm".into(),
            purpose: Some("marketing".into()),
            route: Some("/api/patients/{patient_id}".into()),
            method: "GET".into(),
            subjects: if i % 2 == 0 {
                vec![who.clone()]
            } else {
                vec![]
            },
            decision: "allow".into(),
            reason: "ok".into(),
            ..AuditEvent::default()
        };
        chain.append(&ev, &mut out);
    }
    let good = tmp.path().join("good.jsonl");
    std::fs::write(&good, &out).unwrap();
    let run = |args: &[&std::ffi::OsStr]| {
        Command::new(BIN)
            .args(args)
            .env("ZASLON_PSEUDONYM_KEY", KEY)
            .output()
            .unwrap()
    };
    let o = run(&["audit".as_ref(), "verify".as_ref(), good.as_os_str()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    assert!(String::from_utf8_lossy(&o.stdout).contains("ok: 5 records"));

    let text = String::from_utf8(out).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(2);
    let broken = tmp.path().join("broken.jsonl");
    std::fs::write(&broken, lines.join("\n") + "\n").unwrap();
    let o = run(&["audit".as_ref(), "verify".as_ref(), broken.as_os_str()]);
    assert!(!o.status.success());
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        said.contains("broken.jsonl:3") && said.contains("missing"),
        "{said}"
    );

    let o = run(&[
        "audit".as_ref(),
        "query".as_ref(),
        "--subject".as_ref(),
        "10001".as_ref(),
        "--json".as_ref(),
        "--file".as_ref(),
        good.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let found = String::from_utf8_lossy(&o.stdout);
    assert_eq!(found.lines().count(), 3, "{found}");
    assert!(found.contains("\"request_id\":\"r4\""), "{found}");
}
