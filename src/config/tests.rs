use std::collections::HashMap;

use super::*;

const KEY: &str = "0123456789abcdef0123456789abcdef";

fn env() -> HashMap<&'static str, &'static str> {
    HashMap::from([
        ("ZASLON_PSEUDONYM_KEY", KEY),
        ("ZASLON_ADMIN_TOKEN", "t0ken"),
    ])
}

const GOOD: &str = r#"
[listen]
address = "127.0.0.1:8080"

[admin]
address = "127.0.0.1:9901"
token_env = "ZASLON_ADMIN_TOKEN"

[upstream]
url = "http://127.0.0.1:8081"

[upstreams.docs]
url = "https://docs.mis.internal/v2"
ca = "certs/mis-ca.pem"

[rules]
dir = "rules"

[pseudonymization]
key_env = "ZASLON_PSEUDONYM_KEY"

[consent]
backend = "file"
path = "consent.jsonl"

[audit]
sink = "file"
path = "audit/zaslon.jsonl"

[[clients]]
id = "call-center"
api_key_sha256 = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
purposes = ["appointments", "support"]

[[routes]]
path = "/api/patients/{patient_id}"
subject = "path:patient_id"
methods = { care = ["GET", "PUT"], "*" = ["GET"] }

[[routes]]
path = "/api/patients"
records = "$.items[*]"
record_subject = "id"

[[routes]]
path = "/api/documents/{id}"
upstream = "docs"
subject = "query:patient"

[routing]
unmatched = "pass"

[limits]
upstream_timeout_ms = 5000
"#;

#[test]
fn the_design_shape_validates() {
    let c = Config::parse(GOOD, "good.toml", &env()).unwrap();
    assert_eq!(c.listen.address.port(), 8080);
    assert_eq!(c.admin.as_ref().unwrap().token.as_deref(), Some("t0ken"));
    assert_eq!(c.upstreams.len(), 2);
    assert_eq!(c.upstreams[1].name, "docs");
    assert_eq!(c.pseudonym_key.as_bytes(), KEY.as_bytes());
    assert_eq!(
        c.consent.get("backend").and_then(|v| v.as_str()),
        Some("file")
    );
    assert_eq!(c.audit.get("sink").and_then(|v| v.as_str()), Some("file"));
    assert_eq!(
        c.clients[0].purposes,
        [Purpose::Appointments, Purpose::Support]
    );
    assert_eq!(c.clients[0].api_key_sha256.unwrap()[0], 0x5e);
    assert_eq!(c.routes.len(), 3);
    let m = &c.routes[0].methods;
    assert!(m.allows(Purpose::Care, &http::Method::PUT));
    assert!(!m.allows(Purpose::Marketing, &http::Method::HEAD));
    assert!(m.allows(Purpose::Marketing, &http::Method::GET));
    assert_eq!(c.routes[1].records.as_deref(), Some("$.items[*]"));
    assert_eq!(c.routes[2].upstream, 1);
    assert_eq!(c.unmatched, Unmatched::Pass);
    assert_eq!(c.limits.upstream_timeout, Duration::from_secs(5));
    assert_eq!(
        c.limits.max_header_bytes,
        Limits::default().max_header_bytes
    );
}

#[test]
fn every_problem_is_reported_with_its_line() {
    let bad = r#"
[listen]
adress = "127.0.0.1:8080"

[upstream]
url = "ftp://x"

[pseudonymization]
key_env = "MISSING_KEY"

[[clients]]
id = "a"
api_key_sha256 = "xyz"
purposes = ["care", "spying"]

[[routes]]
path = "/api/patients/{id}"
subject = "path:patient_id"
methods = { care = ["get"] }

[limits]
header_read_timeout_ms = 0

[extra]
"#;
    let e = Config::parse(bad, "bad.toml", &env()).unwrap_err();
    let text = e.to_string();
    let lines: Vec<usize> = e.problems.iter().map(|p| p.line).collect();
    // unknown key, url, key env, hex, purpose, subject param, method, limit, section.
    for (line, what) in [
        (3, "adress"),
        (6, "url"),
        (9, "MISSING_KEY"),
        (13, "hex"),
        (14, "spying"),
        (18, "patient_id"),
        (19, "get"),
        (22, "out of range"),
        (24, "extra"),
    ] {
        assert!(
            lines.contains(&line),
            "no problem at line {line} ({what}):\n{text}"
        );
        assert!(text.contains(what), "{what} not named:\n{text}");
    }
    assert!(e.problems.iter().all(|p| !p.fix.is_empty()));
    assert!(text.starts_with("bad.toml:"));
}

#[test]
fn missing_sections_are_named() {
    let e = Config::parse("", "empty.toml", &env()).unwrap_err();
    let text = e.to_string();
    for s in ["[listen]", "[upstream]", "[pseudonymization]"] {
        assert!(text.contains(s), "{s} missing from:\n{text}");
    }
}

#[test]
fn syntax_errors_have_a_line() {
    let e = Config::parse("[listen]\naddress = \n", "x.toml", &env()).unwrap_err();
    assert_eq!(e.problems.len(), 1);
    assert_eq!(e.problems[0].line, 2);
}

#[test]
fn short_keys_and_shared_api_keys_are_refused() {
    let short = HashMap::from([("K", "short")]);
    let text = "[listen]\naddress = \"127.0.0.1:1\"\n[upstream]\nurl = \"http://a\"\n[pseudonymization]\nkey_env = \"K\"\n";
    let e = Config::parse(text, "x.toml", &short).unwrap_err();
    assert!(e.to_string().contains("shorter"));
    let k = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";
    let text = format!(
        "{}[pseudonymization]\nkey_env = \"ZASLON_PSEUDONYM_KEY\"\n[[clients]]\nid = \"a\"\napi_key_sha256 = \"{k}\"\npurposes = [\"care\"]\n[[clients]]\nid = \"b\"\napi_key_sha256 = \"{k}\"\npurposes = [\"care\"]\n",
        "[listen]\naddress = \"127.0.0.1:1\"\n[upstream]\nurl = \"http://a\"\n"
    );
    let e = Config::parse(&text, "x.toml", &env()).unwrap_err();
    assert!(e.to_string().contains("share one API key"), "{e}");
}
