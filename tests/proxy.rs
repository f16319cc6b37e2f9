//! `zaslon serve` end to end on loopback: a real upstream per test, the
//! proxy through `server::run`, real clients.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use support::*;
use zaslon::class::Purpose;
use zaslon::consent::SubjectState;

fn care() -> [(&'static str, &'static str); 2] {
    [("x-api-key", CARE_KEY), ("x-purpose", "care")]
}

#[tokio::test]
async fn forwards_with_own_headers_stripped_and_request_id_added() {
    let up = Upstream::json(PATIENT).await;
    let proxy = ProxyBuilder::new(&up.url()).start().await;
    let r = get(
        &proxy.url("/api/patients/10234?fields=all"),
        &[
            ("x-api-key", CARE_KEY),
            ("x-purpose", "care"),
            ("x-actor", "doctor-17"),
            ("accept-encoding", "gzip, zstd"),
            ("connection", "keep-alive, x-secret-hop"),
            ("x-secret-hop", "1"),
        ],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_length_is_the_proxys(&r);
    let rid = r.header("x-request-id").expect("x-request-id").to_owned();
    assert_eq!(rid.len(), 36);

    let seen = up.last();
    assert_eq!(seen.path_and_query, "/api/patients/10234?fields=all");
    assert!(
        seen.headers.get("x-api-key").is_none(),
        "the API key reached the upstream"
    );
    assert!(
        seen.headers.get("x-secret-hop").is_none(),
        "a hop-by-hop header was forwarded"
    );
    assert_eq!(seen.headers["x-purpose"], "care");
    assert_eq!(seen.headers["x-actor"], "doctor-17");
    assert_eq!(seen.headers["x-request-id"], rid.as_str());
    assert_eq!(seen.headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(seen.headers["x-forwarded-proto"], "http");
    assert_eq!(seen.headers["accept-encoding"], "gzip");
    assert_eq!(seen.headers["host"], up.addr.to_string().as_str());

    let ev = proxy.wait_events(1).await;
    assert_eq!(ev.len(), 1);
    let e = &ev[0];
    assert_eq!((e.decision.as_str(), e.reason.as_str()), ("allow", "ok"));
    assert_eq!(e.client, "clinic");
    assert_eq!(e.actor.as_deref(), Some("doctor-17"));
    assert_eq!(e.purpose.as_deref(), Some("care"));
    assert_eq!(e.route.as_deref(), Some("/api/patients/{patient_id}"));
    assert_eq!(e.request_id, rid);
    assert_eq!(e.upstream_status, Some(200));
    assert_eq!(e.subjects.len(), 1);
    assert!(e.subjects[0].starts_with("psn_") && !e.subjects[0].contains("10234"));
    assert_eq!(e.bytes_in, PATIENT.len() as u64);
    assert_eq!(e.consent.as_deref(), Some("allow"));
}

#[tokio::test]
async fn an_incoming_forwarded_for_is_appended_to() {
    let up = Upstream::json(PATIENT).await;
    let proxy = ProxyBuilder::new(&up.url()).start().await;
    for (sent, forwarded) in [
        (Some("203.0.113.7"), "203.0.113.7, 127.0.0.1"),
        (None, "127.0.0.1"),
    ] {
        let mut headers = care().to_vec();
        headers.extend(sent.map(|v| ("x-forwarded-for", v)));
        let r = get(&proxy.url("/api/patients/10234"), &headers).await;
        assert_eq!(r.status, 200);
        assert_eq!(up.last().headers["x-forwarded-for"], forwarded);
    }
}

/// The body went through the redactor: a Content-Length, if any, is the
/// one of the bytes the proxy sent, never the upstream's.
fn assert_length_is_the_proxys(r: &Got) {
    if let Some(n) = r.header("content-length") {
        assert_eq!(
            n.parse::<usize>().ok(),
            r.body.as_ref().ok().map(|b| b.len())
        );
    }
}

#[tokio::test]
async fn a_small_body_read_whole_goes_out_with_its_new_length() {
    let addr = raw_upstream(
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{PATIENT}",
            PATIENT.len()
        )
        .into_bytes(),
    )
    .await;
    let proxy = ProxyBuilder::new(&format!("http://{addr}")).start().await;
    let req = format!(
        "GET /api/patients/1 HTTP/1.1\r\nHost: x\r\nx-api-key: {CARE_KEY}\r\nx-purpose: care\r\nconnection: close\r\n\r\n"
    );
    let out = String::from_utf8(raw(proxy.addr, req.as_bytes()).await).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("transfer-encoding"),
        "{head}"
    );
    assert!(
        head.contains(&format!("content-length: {}", body.len())),
        "{head}"
    );
    assert_eq!(body, PATIENT);
    let ev = proxy.wait_events(1).await;
    assert_eq!(
        (ev[0].decision.as_str(), ev[0].bytes_out),
        ("allow", PATIENT.len() as u64)
    );
}

#[tokio::test]
async fn a_client_request_id_is_kept() {
    let up = Upstream::json(PATIENT).await;
    let proxy = ProxyBuilder::new(&up.url()).start().await;
    let mut h = care().to_vec();
    h.push(("x-request-id", "req-42.a"));
    let r = get(&proxy.url("/api/patients/1"), &h).await;
    assert_eq!(r.header("x-request-id"), Some("req-42.a"));
    assert_eq!(up.last().headers["x-request-id"], "req-42.a");
}

#[tokio::test]
async fn identity_and_purpose_are_checked_before_the_upstream() {
    let up = Upstream::json(PATIENT).await;
    let proxy = ProxyBuilder::new(&up.url()).start().await;
    let u = proxy.url("/api/patients/10234");
    type Case<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);
    let cases: &[Case] = &[
        (&[("x-purpose", "care")], 401, "unauthenticated"),
        (
            &[("x-api-key", "wrong"), ("x-purpose", "care")],
            401,
            "unauthenticated",
        ),
        (&[("x-api-key", CARE_KEY)], 403, "purpose_missing"),
        (
            &[("x-api-key", CARE_KEY), ("x-purpose", "spying")],
            403,
            "purpose_unknown",
        ),
        (
            &[("x-api-key", CARE_KEY), ("x-purpose", "Care")],
            403,
            "purpose_unknown",
        ),
        (
            &[("x-api-key", CARE_KEY), ("x-purpose", "marketing")],
            403,
            "purpose_not_granted",
        ),
        (
            &[("x-api-key", CALL_CENTER_KEY), ("x-purpose", "care")],
            403,
            "purpose_not_granted",
        ),
    ];
    for (headers, status, code) in cases {
        let r = get(&u, headers).await;
        assert_eq!(
            (r.status, r.error_code()),
            (*status, code.to_string()),
            "{headers:?}"
        );
        let j = r.json();
        assert_eq!(j["request_id"].as_str(), r.header("x-request-id"));
        assert_eq!(j.as_object().unwrap().len(), 2);
    }
    assert_eq!(up.count(), 0, "a refused request reached the upstream");
    let ev = proxy.wait_events(cases.len()).await;
    assert_eq!(ev.len(), cases.len());
    assert!(ev.iter().all(|e| e.decision == "deny"));
    assert_eq!(ev[0].client, "-");
    assert_eq!(
        ev[3].purpose, None,
        "an unknown purpose string was recorded"
    );
    assert_eq!(ev[5].purpose.as_deref(), Some("marketing"));
}

#[tokio::test]
async fn methods_are_per_purpose() {
    let up = Upstream::json(PATIENT).await;
    let proxy = ProxyBuilder::new(&up.url()).start().await;
    let u = proxy.url("/api/patients/1");
    let r = send(request("PUT", &u, &care())).await;
    assert_eq!(r.status, 200);
    let r = send(request(
        "PUT",
        &u,
        &[("x-api-key", ALL_KEY), ("x-purpose", "marketing")],
    ))
    .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (405, "method_not_allowed")
    );
    let r = send(request("DELETE", &u, &care())).await;
    assert_eq!(r.status, 405);
    let r = send(request("HEAD", &u, &care())).await;
    assert_eq!(r.status, 200);
    assert_eq!(up.count(), 2);
}

#[tokio::test]
async fn the_same_patient_through_several_purposes() {
    let up = Upstream::json(PATIENT).await;
    // Marketing is opt-in: this patient granted it.
    let mut granted = SubjectState::default();
    granted.purposes[Purpose::Marketing.index()] = Some(true);
    let proxy = ProxyBuilder::new(&up.url())
        .consent(FixedConsent(vec![("10234".into(), granted)]))
        .start()
        .await;
    for p in ["care", "support", "marketing", "analytics"] {
        let r = get(
            &proxy.url("/api/patients/10234"),
            &[("x-api-key", ALL_KEY), ("x-purpose", p)],
        )
        .await;
        assert_eq!(r.status, 200, "{p}");
        assert_length_is_the_proxys(&r);
        assert!(r.header("vary").is_some_and(|v| v.contains("x-purpose")));
        // Output stays a JSON document for every purpose; the MIS's id of
        // the subject is a person_id: care sees it, analytics the token
        // the audit keys the subject by, support and marketing nothing.
        let key = zaslon::redact::PseudonymKey::new(PSEUDONYM_KEY.as_bytes());
        let id = match p {
            "care" => serde_json::json!("10234"),
            "analytics" => zaslon::audit::query::subject_pseudonym(&key, "10234").into(),
            _ => serde_json::Value::Null,
        };
        assert_eq!(r.json()["id"], id, "{p}");
        assert_eq!(up.last().headers["x-purpose"], p);
    }
    let ev = proxy.wait_events(4).await;
    let purposes: Vec<_> = ev.iter().map(|e| e.purpose.clone().unwrap()).collect();
    assert_eq!(purposes, ["care", "support", "marketing", "analytics"]);
    // One subject, one pseudonym, whatever the purpose.
    assert!(ev.windows(2).all(|w| w[0].subjects == w[1].subjects));
}

/// Issue 19, item 4: an HL7 v3 PurposeOfUse code in `x-purpose` stands for
/// the purpose `rules/purpose_of_use.toml` maps it to: the grant, consent
/// and redaction are that purpose's, the upstream gets the code as sent,
/// and the audit records the purpose and the code.
#[tokio::test]
async fn hl7_purpose_of_use_codes_act_as_their_mapped_purpose() {
    let up = Upstream::json(PATIENT).await;
    let mut granted = SubjectState::default();
    granted.purposes[Purpose::Marketing.index()] = Some(true);
    let proxy = ProxyBuilder::new(&up.url())
        .consent(FixedConsent(vec![("10234".into(), granted)]))
        .start()
        .await;
    let u = proxy.url("/api/patients/10234");
    let through = |key: &'static str, purpose: &'static str| {
        let u = u.clone();
        async move { get(&u, &[("x-api-key", key), ("x-purpose", purpose)]).await }
    };

    // The same bytes as the purpose itself gives.
    let care = through(CARE_KEY, "care").await;
    assert_eq!(care.status, 200);
    assert_eq!(up.last().headers["x-purpose"], "care");
    for code in [
        "TREAT",
        "treat",
        "http://terminology.hl7.org/CodeSystem/v3-ActReason|TREAT",
    ] {
        let r = through(CARE_KEY, code).await;
        assert_eq!(r.status, 200, "{code}");
        assert_eq!(r.text(), care.text(), "{code}");
        // Forwarded as the client sent it.
        assert_eq!(up.last().headers["x-purpose"], code);
    }
    let marketing = through(ALL_KEY, "marketing").await;
    assert_eq!(marketing.status, 200);
    let hmarkt = through(ALL_KEY, "HMARKT").await;
    assert_eq!(hmarkt.status, 200);
    assert_eq!(hmarkt.text(), marketing.text());
    let body = hmarkt.json();
    assert_eq!(body["given_name"], "Мария");
    for removed in ["surname", "snils", "birth_date", "diagnosis"] {
        assert!(
            body.get(removed).is_none(),
            "marketing saw {removed}: {body}"
        );
    }
    assert!(care.json()["snils"].is_string());
    let seen = up.count();

    // The grant and consent checked are the mapped purpose's.
    let r = through(CARE_KEY, "HMARKT").await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (403, "purpose_not_granted")
    );
    let r = get(
        &proxy.url("/api/patients/10235"),
        &[("x-api-key", ALL_KEY), ("x-purpose", "HMARKT")],
    )
    .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (403, "consent_withdrawn")
    );
    // A code the mapping leaves out, another system, or a spelling of an
    // id: unknown.
    for unknown in [
        "BTG",
        "HRESCH",
        "http://example.org/purposes|TREAT",
        "|TREAT",
        "CARE",
    ] {
        let r = through(ALL_KEY, unknown).await;
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (403, "purpose_unknown"),
            "{unknown}"
        );
    }
    assert_eq!(up.count(), seen, "a refused request reached the upstream");

    let ev = proxy.wait_events(13).await;
    assert_eq!(ev.len(), 13);
    let got: Vec<(&str, Option<&str>, Option<&str>, &str)> = ev
        .iter()
        .map(|e| {
            (
                e.decision.as_str(),
                e.purpose.as_deref(),
                e.purpose_of_use.as_deref(),
                e.reason.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got[..8],
        [
            ("allow", Some("care"), None, "ok"),
            ("allow", Some("care"), Some("TREAT"), "ok"),
            ("allow", Some("care"), Some("TREAT"), "ok"),
            ("allow", Some("care"), Some("TREAT"), "ok"),
            ("allow", Some("marketing"), None, "ok"),
            ("allow", Some("marketing"), Some("HMARKT"), "ok"),
            (
                "deny",
                Some("marketing"),
                Some("HMARKT"),
                "purpose_not_granted"
            ),
            (
                "deny",
                Some("marketing"),
                Some("HMARKT"),
                "consent_withdrawn"
            ),
        ]
    );
    assert!(
        got[8..]
            .iter()
            .all(|g| *g == ("deny", None, None, "purpose_unknown")),
        "{got:?}"
    );
    // The written record carries both, right after each other.
    let mut line = Vec::new();
    zaslon::audit::chain::ChainState::default().append(&ev[1], &mut line);
    let line = String::from_utf8(line).unwrap();
    assert!(
        line.contains(
            r#""purpose":"care","purpose_of_use":"TREAT","route":"/api/patients/{patient_id}""#
        ),
        "{line}"
    );
}

#[tokio::test]
async fn consent_is_checked_per_subject_and_purpose() {
    let mut withdrawn = SubjectState::default();
    withdrawn.purposes[Purpose::Marketing.index()] = Some(false);
    let blocked = SubjectState {
        blocked: true,
        ..SubjectState::default()
    };
    let up = Upstream::json(PATIENT).await;
    let proxy = ProxyBuilder::new(&up.url())
        .consent(FixedConsent(vec![
            ("7".into(), withdrawn),
            ("8".into(), blocked),
        ]))
        .start()
        .await;
    let all = |p: &'static str| [("x-api-key", ALL_KEY), ("x-purpose", p)];
    let r = get(&proxy.url("/api/patients/7"), &all("marketing")).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (403, "consent_withdrawn")
    );
    let r = get(&proxy.url("/api/patients/7"), &all("care")).await;
    assert_eq!(r.status, 200);
    let r = get(&proxy.url("/api/patients/8"), &all("care")).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (403, "subject_blocked")
    );
    // The subject may come from the query too; given twice it is refused.
    let r = get(&proxy.url("/api/search?patient=7"), &all("marketing")).await;
    assert_eq!(r.error_code(), "consent_withdrawn");
    let r = get(
        &proxy.url("/api/search?patient=1&patient=7"),
        &all("marketing"),
    )
    .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (400, "subject_ambiguous")
    );
    let r = get(&proxy.url("/api/search"), &all("marketing")).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (400, "subject_missing")
    );
    assert_eq!(up.count(), 1);
    let ev = proxy.wait_events(6).await;
    assert_eq!(ev[0].consent.as_deref(), Some("consent_withdrawn"));
}

#[tokio::test]
async fn consent_and_audit_failures_fail_closed() {
    let up = Upstream::json(PATIENT).await;
    let proxy = ProxyBuilder::new(&up.url())
        .consent(DownConsent)
        .start()
        .await;
    let r = get(&proxy.url("/api/patients/1"), &care()).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (503, "consent_unavailable")
    );
    // A route without a subject does not ask the consent backend.
    let r = get(&proxy.url("/api/patients"), &care()).await;
    assert_eq!(r.status, 200);

    let proxy = ProxyBuilder::new(&up.url())
        .audit(Arc::new(FullSink))
        .start()
        .await;
    let r = get(&proxy.url("/api/patients/1"), &care()).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (503, "audit_unavailable")
    );
    assert_eq!(up.count(), 1);
}

#[tokio::test]
async fn other_content_is_blocked_unless_the_purpose_allows_it() {
    let up = Upstream::start(|_| Reply::with("application/pdf", b"%PDF-1.7 scan".to_vec())).await;
    let proxy = ProxyBuilder::new(&up.url()).start().await;
    // Support may not see scans (rules/support.toml: other_content = "block").
    let support = [("x-api-key", CALL_CENTER_KEY), ("x-purpose", "support")];
    let r = get(&proxy.url("/files/scan.pdf"), &support).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (403, "blocked_by_rule")
    );
    assert!(!r.text().contains("PDF"));
    // Care may (a doctor reads the patient's scans).
    let r = get(&proxy.url("/files/scan.pdf"), &care()).await;
    assert_eq!((r.status, r.text().as_str()), (200, "%PDF-1.7 scan"));
    let up = Upstream::start(|_| Reply::with("text/plain; charset=utf-8", "note".into())).await;
    let proxy = ProxyBuilder::new(&up.url()).start().await;
    let r = get(&proxy.url("/files/note.txt"), &care()).await;
    assert_eq!((r.status, r.text().as_str()), (200, "note"));
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn brotli(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        w.write_all(b).unwrap();
    }
    out
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(b), &mut out).unwrap();
    out
}

fn unbrotli(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut brotli::Decompressor::new(b, 4096), &mut out).unwrap();
    out
}

#[tokio::test]
async fn gzip_and_br_bodies_are_decoded_before_redaction() {
    for (coding, encoded) in [
        ("gzip", gzip(PATIENT.as_bytes())),
        ("br", brotli(PATIENT.as_bytes())),
    ] {
        let up = Upstream::start(move |_| {
            let mut r =
                Reply::with("application/json", encoded.clone()).header("content-encoding", coding);
            // Split the compressed body across chunks.
            let body = r.chunks.remove(0);
            r.chunks = body.chunks(7).map(<[u8]>::to_vec).collect();
            r
        })
        .await;
        let proxy = ProxyBuilder::new(&up.url()).start().await;
        // A client that takes no compression gets identity.
        let r = get(&proxy.url("/api/patients/1"), &care()).await;
        assert_eq!(r.status, 200, "{coding}");
        assert_eq!(r.header("content-encoding"), None, "{coding}");
        assert_eq!(r.text(), PATIENT, "{coding}");
        assert_eq!(up.last().headers["accept-encoding"], "identity");
        // A client that takes it gets it re-encoded.
        let mut h = care().to_vec();
        h.push(("accept-encoding", coding));
        let r = get(&proxy.url("/api/patients/1"), &h).await;
        assert_eq!(r.header("content-encoding"), Some(coding));
        let body = r.body.unwrap();
        let plain = if coding == "gzip" {
            gunzip(&body)
        } else {
            unbrotli(&body)
        };
        assert_eq!(plain, PATIENT.as_bytes(), "{coding}");
        assert_eq!(up.last().headers["accept-encoding"], coding);
        let ev = proxy.wait_events(2).await;
        assert_eq!(
            ev[0].bytes_out,
            PATIENT.len() as u64,
            "{coding}: counted compressed bytes"
        );
    }
}

#[tokio::test]
async fn an_unknown_encoding_is_refused() {
    let up = Upstream::start(|_| Reply::json(PATIENT).header("content-encoding", "zstd")).await;
    let proxy = ProxyBuilder::new(&up.url()).start().await;
    let r = get(&proxy.url("/api/patients/1"), &care()).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (502, "unknown_encoding")
    );
    let up = Upstream::start(|_| Reply::json(PATIENT).header("content-encoding", "gzip")).await;
    let proxy = ProxyBuilder::new(&up.url()).start().await;
    let r = get(&proxy.url("/api/patients/1"), &care()).await;
    assert_eq!((r.status, r.error_code().as_str()), (502, "bad_encoding"));
    assert!(!r.text().contains("10234"));
}

#[tokio::test]
async fn paths_are_normalized_before_routing() {
    let up = Upstream::json(PATIENT).await;
    let proxy = ProxyBuilder::new(&up.url()).start().await;
    for p in [
        "/api/%70atients/1",
        "/api//patients/1",
        "/api/x/../patients/1",
        "/api/./patients/1",
        "/%61pi/patients/1",
    ] {
        // A call-center key may not use `care`: had the path escaped its
        // route, the route's rules would not have applied either way, so
        // check the subject too.
        let r = get(&proxy.url(p), &care()).await;
        assert_eq!(r.status, 200, "{p}");
        assert_eq!(up.last().path_and_query, "/api/patients/1", "{p}");
    }
    let ev = proxy.wait_events(5).await;
    assert!(
        ev.iter()
            .all(|e| e.route.as_deref() == Some("/api/patients/{patient_id}"))
    );
    assert!(ev.windows(2).all(|w| w[0].subjects == w[1].subjects));
    let before = up.count();
    for p in [
        "/api/patients%2F1",
        "/api/patients%2f1",
        "/api/patients/1%2F..%2F2",
        "/api/%2E%2E/api/patients/1",
        "/api/patients/%2e%2e/2",
        "/api/../../patients/1",
        "/api/patients/1%00",
        "/api/patients/%zz",
        "/api%5Cpatients/1",
    ] {
        let r = get(&proxy.url(p), &care()).await;
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (400, "bad_path"),
            "{p}"
        );
    }
    let r = get(&proxy.url("/admin/patients"), &care()).await;
    assert_eq!((r.status, r.error_code().as_str()), (404, "no_route"));
    assert_eq!(up.count(), before);
}

#[tokio::test]
async fn unmatched_paths_may_pass_when_configured() {
    let up = Upstream::json("{\"ok\":true}").await;
    let proxy = ProxyBuilder::new(&up.url())
        .edit(|c| c.replace("[limits]", "[routing]\nunmatched = \"pass\"\n\n[limits]"))
        .start()
        .await;
    let r = get(&proxy.url("/health/x"), &care()).await;
    assert_eq!(r.status, 200);
    let r = send(request("POST", &proxy.url("/health/x"), &care())).await;
    assert_eq!(r.status, 405);
    let ev = proxy.wait_events(2).await;
    assert_eq!(ev[0].route.as_deref(), Some("(unmatched)"));
}

#[tokio::test]
async fn a_smuggling_attempt_is_rejected() {
    let up = Upstream::json(PATIENT).await;
    let proxy = ProxyBuilder::new(&up.url()).start().await;
    let attack = format!(
        "POST /api/patients/1 HTTP/1.1\r\nHost: x\r\nx-api-key: {CARE_KEY}\r\nx-purpose: care\r\n\
         Content-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n\
         GET /api/patients/2 HTTP/1.1\r\nHost: x\r\n\r\n"
    );
    let out = String::from_utf8_lossy(&raw(proxy.addr, attack.as_bytes()).await).into_owned();
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    assert!(out.contains("bad_request"));
    assert_eq!(
        out.matches("HTTP/1.1").count(),
        1,
        "a second request was served: {out}"
    );
    // The reverse order, and a duplicated Content-Length.
    let attack = format!(
        "GET /api/patients/1 HTTP/1.1\r\nHost: x\r\nx-api-key: {CARE_KEY}\r\nx-purpose: care\r\n\
         Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n"
    );
    let out = String::from_utf8_lossy(&raw(proxy.addr, attack.as_bytes()).await).into_owned();
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    let attack = "GET /api/patients/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabc";
    let out = String::from_utf8_lossy(&raw(proxy.addr, attack.as_bytes()).await).into_owned();
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn a_request_body_over_the_limit_is_refused() {
    let up = Upstream::json(PATIENT).await;
    let proxy = ProxyBuilder::new(&up.url()).start().await;
    let mut req = request("PUT", &proxy.url("/api/patients/1"), &care());
    *req.body_mut() = http_body_util::Full::new(bytes::Bytes::from(vec![b'x'; 2000]));
    let r = send(req).await;
    assert_eq!((r.status, r.error_code().as_str()), (413, "body_too_large"));
    let mut req = request("PUT", &proxy.url("/api/patients/1"), &care());
    *req.body_mut() = http_body_util::Full::new(bytes::Bytes::from_static(b"{\"phone\":\"1\"}"));
    let r = send(req).await;
    assert_eq!(r.status, 200);
    assert_eq!(&up.last().body[..], b"{\"phone\":\"1\"}");
}

/// The head promises 100,000 bytes; 8 KiB arrive, then the socket closes.
fn dying_upstream_bytes() -> Vec<u8> {
    let mut b =
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n["
            .to_vec();
    while b.len() < 8192 {
        b.extend_from_slice(b"{\"id\":\"1\",\"phone\":\"+79161234567\"},");
    }
    b
}

#[tokio::test]
async fn an_upstream_dying_mid_body_aborts_the_response() {
    let addr = raw_upstream(dying_upstream_bytes()).await;
    let proxy = ProxyBuilder::new(&format!("http://{addr}")).start().await;
    let r = get(&proxy.url("/api/patients"), &care()).await;
    assert_eq!(r.status, 200);
    assert!(r.body.is_err(), "HTTP/1.1: the client saw a clean end");
    let r = send_h2(request("GET", &proxy.url("/api/patients"), &care())).await;
    assert_eq!(r.version, http::Version::HTTP_2);
    assert!(r.body.is_err(), "HTTP/2: the client saw a clean end");
    let ev = proxy.wait_events(2).await;
    assert_eq!(ev.len(), 2);
    assert!(
        ev.iter()
            .all(|e| e.decision == "abort" && e.reason == "upstream_aborted"),
        "{ev:?}"
    );
}

#[tokio::test]
async fn a_corrupt_compressed_body_aborts_after_the_head() {
    // A valid gzip start, then garbage: the decoder fails after the first
    // chunk went out.
    let mut big = String::from("[");
    while big.len() < 200_000 {
        big.push_str("{\"id\":\"1\",\"note\":\"lorem ipsum dolor sit amet\"},");
    }
    let gz = gzip(big.as_bytes());
    let mut body = gz[..gz.len() / 2].to_vec();
    body.extend_from_slice(&[0xff; 64]);
    let up = Upstream::start(move |_| {
        let mut r = Reply::with("application/json", Vec::new()).header("content-encoding", "gzip");
        r.chunks = body.chunks(512).map(<[u8]>::to_vec).collect();
        r
    })
    .await;
    let proxy = ProxyBuilder::new(&up.url()).start().await;
    let r = get(&proxy.url("/api/patients"), &care()).await;
    assert_eq!(r.status, 200);
    assert!(r.body.is_err(), "HTTP/1.1: the client saw a clean end");
    let r = send_h2(request("GET", &proxy.url("/api/patients"), &care())).await;
    assert!(r.body.is_err(), "HTTP/2: the client saw a clean end");
    let ev = proxy.wait_events(2).await;
    assert!(
        ev.iter()
            .all(|e| e.decision == "abort" && e.reason == "bad_encoding"),
        "{ev:?}"
    );
}

#[tokio::test]
async fn malformed_upstream_json_aborts_the_response() {
    // Needs the real JSON engine: the placeholder passes any bytes through.
    let mut body = String::from("{\"items\":[");
    while body.len() < 200_000 {
        body.push_str("{\"id\":\"1\",\"phone\":\"+79161234567\"},");
    }
    body.push_str("{\"id\": oops");
    let up = Upstream::start(move |_| {
        let mut r = Reply::json("");
        r.chunks = body.as_bytes().chunks(4096).map(<[u8]>::to_vec).collect();
        r
    })
    .await;
    let proxy = ProxyBuilder::new(&up.url()).start().await;
    let r = get(&proxy.url("/api/patients"), &care()).await;
    assert!(
        r.status == 502 || r.body.is_err(),
        "malformed JSON ended cleanly with status {}",
        r.status
    );
    let r = send_h2(request("GET", &proxy.url("/api/patients"), &care())).await;
    assert!(
        r.status == 502 || r.body.is_err(),
        "HTTP/2: malformed JSON ended cleanly"
    );
}

#[tokio::test]
async fn upstream_down_or_slow_is_an_error_response() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = l.local_addr().unwrap();
    drop(l);
    let proxy = ProxyBuilder::new(&format!("http://{dead}")).start().await;
    let r = get(&proxy.url("/api/patients/1"), &care()).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (502, "upstream_unavailable")
    );

    let up = Upstream::start(|_| {
        let mut r = Reply::json(PATIENT);
        r.delay = Duration::from_millis(800);
        r
    })
    .await;
    // The head is sent at once, the body is late: not a timeout. A late
    // head is.
    let slow_head = raw_upstream_after(Duration::from_millis(1500)).await;
    let proxy = ProxyBuilder::new(&format!("http://{slow_head}"))
        .edit(|c| c.replace("upstream_timeout_ms = 3000", "upstream_timeout_ms = 300"))
        .start()
        .await;
    let r = get(&proxy.url("/api/patients/1"), &care()).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (504, "upstream_timeout")
    );
    let proxy = ProxyBuilder::new(&up.url()).start().await;
    let r = get(&proxy.url("/api/patients/1"), &care()).await;
    assert_eq!(r.status, 200);
}

async fn raw_upstream_after(delay: Duration) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                drop(s);
            });
        }
    });
    addr
}

#[tokio::test]
async fn slowloris_is_cut_off() {
    let up = Upstream::json(PATIENT).await;
    let proxy = ProxyBuilder::new(&up.url()).start().await;
    let mut s = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(b"GET /api/patients/1 HTTP/1.1\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut closed = false;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if s.write_all(b"x-a: b\r\n").await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 256];
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(1), s.read(&mut buf)).await {
            // A 408 or a plain close.
            closed = n == 0 || buf.starts_with(b"HTTP/1.1 408");
            if closed {
                break;
            }
        }
    }
    assert!(closed, "a dripping request head was not cut off");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn shutdown_drains_in_flight_requests() {
    let up = Upstream::start(|_| {
        let mut r = Reply::json(PATIENT);
        r.delay = Duration::from_millis(400);
        r
    })
    .await;
    let mut proxy = ProxyBuilder::new(&up.url()).start().await;
    let url = proxy.url("/api/patients/1");
    let inflight = tokio::spawn(async move { get(&url, &care()).await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let addr = proxy.addr;
    proxy.signal_shutdown();
    let r = inflight.await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), PATIENT);
    tokio::time::timeout(Duration::from_secs(5), proxy.join())
        .await
        .expect("run() did not return")
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still accepting"
    );
}

#[tokio::test]
async fn mtls_identifies_the_client_over_http1_and_http2() {
    let up = Upstream::json(PATIENT).await;
    let server_pki = Pki::new("zaslon test server CA");
    let client_pki = Pki::new("zaslon test client CA");
    let proxy = ProxyBuilder::new(&up.url())
        .tls(server_tls(&server_pki, Some(&client_pki)))
        .start()
        .await;
    let url = format!("https://localhost:{}/api/patients/10234", proxy.addr.port());
    for alpn in [&b"http/1.1"[..], &b"h2"[..]] {
        let cfg = client_tls(
            &server_pki,
            Some(client_pki.client("clinic-app.zaslon.test")),
            &[alpn],
        );
        let r = send_tls(
            proxy.addr,
            cfg,
            request("GET", &url, &[("x-purpose", "care")]),
        )
        .await
        .unwrap();
        assert_eq!(r.status, 200, "{alpn:?}");
        assert_eq!(r.text(), PATIENT);
        let want = if alpn == b"h2" {
            http::Version::HTTP_2
        } else {
            http::Version::HTTP_11
        };
        assert_eq!(r.version, want);
        assert_eq!(up.last().headers["x-forwarded-proto"], "https");
    }
    let ev = proxy.wait_events(2).await;
    assert!(ev.iter().all(|e| e.client == "clinic-app"));

    // A certificate naming no client: 401 without a key.
    let cfg = client_tls(&server_pki, Some(client_pki.client("stranger")), &[b"h2"]);
    let r = send_tls(
        proxy.addr,
        cfg,
        request("GET", &url, &[("x-purpose", "care")]),
    )
    .await
    .unwrap();
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (401, "unauthenticated")
    );

    // A client certificate from another CA: the handshake fails.
    let rogue = Pki::new("rogue CA");
    let cfg = client_tls(
        &server_pki,
        Some(rogue.client("clinic-app.zaslon.test")),
        &[b"h2"],
    );
    let r = send_tls(
        proxy.addr,
        cfg,
        request("GET", &url, &[("x-purpose", "care")]),
    )
    .await;
    assert!(r.is_err(), "a certificate from a wrong CA was accepted");
    // No certificate at all: refused too.
    let cfg = client_tls(&server_pki, None, &[b"h2"]);
    let r = send_tls(
        proxy.addr,
        cfg,
        request("GET", &url, &[("x-purpose", "care")]),
    )
    .await;
    assert!(r.is_err(), "a client without a certificate was accepted");
    assert_eq!(up.count(), 2);
}

#[tokio::test]
async fn tls_with_api_keys_and_http2() {
    let up = Upstream::json(PATIENT).await;
    let pki = Pki::new("zaslon test CA");
    let proxy = ProxyBuilder::new(&up.url())
        .tls(server_tls(&pki, None))
        .start()
        .await;
    let url = format!("https://localhost:{}/api/patients/1", proxy.addr.port());
    let cfg = client_tls(&pki, None, &[b"h2", b"http/1.1"]);
    let r = send_tls(proxy.addr, cfg, request("GET", &url, &care()))
        .await
        .unwrap();
    assert_eq!(r.version, http::Version::HTTP_2);
    assert_eq!(r.status, 200);
    assert!(up.last().headers.get("x-api-key").is_none());
    // Plain HTTP on a TLS port gets nothing.
    let out = raw(proxy.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(!out.starts_with(b"HTTP/1.1 200"));
}

#[tokio::test]
async fn a_client_that_leaves_mid_body_is_audited_as_abort() {
    let up = Upstream::start(|_| {
        let mut r = Reply::json("");
        r.chunks = (0..50).map(|_| vec![b' '; 1000]).collect();
        r.chunks.insert(0, b"[".to_vec());
        r.delay = Duration::from_millis(20);
        r
    })
    .await;
    let proxy = ProxyBuilder::new(&up.url()).start().await;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let resp = client
        .request(request("GET", &proxy.url("/api/patients"), &care()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    drop(resp);
    let ev = proxy.wait_events(1).await;
    assert_eq!(ev.len(), 1);
    assert_eq!(
        (ev[0].decision.as_str(), ev[0].reason.as_str()),
        ("abort", "client_gone")
    );
}

#[test]
fn every_config_file_in_the_repository_validates() {
    let env = std::collections::HashMap::from([
        ("ZASLON_PSEUDONYM_KEY", "0123456789abcdef0123456789abcdef"),
        ("ZASLON_ADMIN_TOKEN", "admin-token-for-tests"),
    ]);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            if let Err(e) = zaslon::config::Config::load(&path, &env) {
                panic!("{e}");
            }
            checked.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    checked.sort();
    assert!(
        checked.contains(&"demo.toml".to_owned()) && checked.contains(&"prod-tls.toml".to_owned()),
        "{checked:?}"
    );
    // Without the key in the environment, startup refuses.
    let none = std::collections::HashMap::<&str, &str>::new();
    let e = zaslon::config::Config::load(&dir.join("demo.toml"), &none).unwrap_err();
    assert!(e.to_string().contains("ZASLON_PSEUDONYM_KEY"));
}

#[tokio::test]
async fn an_https_upstream_is_verified_against_the_configured_ca() {
    let pki = Pki::new("MIS internal CA");
    let up = tls_upstream(&pki, PATIENT).await;
    let ca = temp_pem("mis-ca.pem", &pki.ca_cert.pem());
    let url = format!("https://localhost:{}", up.port());
    let with_ca = |c: String| {
        c.replace(
            &format!("url = \"{url}\""),
            &format!("url = \"{url}\"\nca = \"{}\"", ca.display()),
        )
    };
    let proxy = ProxyBuilder::new(&url).edit(with_ca).start().await;
    let r = get(&proxy.url("/api/patients/1"), &care()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), PATIENT);
    // Another CA: the upstream is not trusted.
    let other = Pki::new("someone else");
    let ca2 = temp_pem("other-ca.pem", &other.ca_cert.pem());
    let proxy = ProxyBuilder::new(&url)
        .edit(|c| {
            c.replace(
                &format!("url = \"{url}\""),
                &format!("url = \"{url}\"\nca = \"{}\"", ca2.display()),
            )
        })
        .start()
        .await;
    let r = get(&proxy.url("/api/patients/1"), &care()).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (502, "upstream_unavailable")
    );
}

#[tokio::test]
async fn oversized_request_heads_are_refused() {
    let up = Upstream::json(PATIENT).await;
    let proxy = ProxyBuilder::new(&up.url()).start().await;
    let big = "a".repeat(40_000);
    let req = format!("GET /api/patients/1 HTTP/1.1\r\nHost: x\r\nx-big: {big}\r\n\r\n");
    let out = raw(proxy.addr, req.as_bytes()).await;
    let text = String::from_utf8_lossy(&out);
    assert!(out.is_empty() || text.starts_with("HTTP/1.1 431"), "{text}");
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn an_empty_body_without_a_content_type_passes() {
    let up = Upstream::start(|_| Reply {
        status: 204,
        headers: vec![],
        chunks: vec![],
        delay: Duration::ZERO,
    })
    .await;
    let proxy = ProxyBuilder::new(&up.url()).start().await;
    let r = send(request("PUT", &proxy.url("/api/patients/1"), &care())).await;
    assert_eq!(r.status, 204);
    let ev = proxy.wait_events(1).await;
    assert_eq!(
        (ev[0].decision.as_str(), ev[0].upstream_status),
        ("allow", Some(204))
    );
}

/// An upstream serving PATIENT and a proxy closing connections idle for
/// 300 ms.
async fn proxy_with_idle_timeout_300ms() -> (Upstream, Proxy) {
    let up = Upstream::json(PATIENT).await;
    let proxy = ProxyBuilder::new(&up.url())
        .edit(|c| c.replace("[limits]", "[limits]\nidle_timeout_ms = 300"))
        .start()
        .await;
    (up, proxy)
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let (_up, proxy) = proxy_with_idle_timeout_300ms().await;
    use tokio::io::AsyncReadExt;
    // Connected, silent: neither a request head nor a TLS hello.
    let mut s = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf))
        .await
        .expect("the idle connection stayed open")
        .unwrap_or(0);
    assert_eq!(n, 0);
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn a_busy_connection_outlives_the_idle_timeout() {
    let (up, proxy) = proxy_with_idle_timeout_300ms().await;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    let request = format!(
        "GET /api/patients/1 HTTP/1.1\r\nHost: x\r\nx-api-key: {CARE_KEY}\r\nx-purpose: care\r\n\r\n"
    );
    let started = std::time::Instant::now();
    // Eight requests 100 ms apart on one connection: 800 ms in all, far
    // past the idle timeout, but never 300 ms without a byte.
    for i in 0..8 {
        s.write_all(request.as_bytes()).await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 16384];
        while !got.ends_with(b"\r\n0\r\n\r\n") {
            let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf))
                .await
                .expect("no answer")
                .unwrap();
            assert!(n > 0, "request {i}: the busy connection was closed");
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got.starts_with(b"HTTP/1.1 200"), "request {i}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert_eq!(up.count(), 8);
}

#[tokio::test]
async fn a_malformed_actor_is_refused() {
    let up = Upstream::json(PATIENT).await;
    let proxy = ProxyBuilder::new(&up.url()).start().await;
    let long = "a".repeat(200);
    for actor in ["doctor 17", long.as_str(), "\"quoted\""] {
        let mut h = care().to_vec();
        h.push(("x-actor", actor));
        let r = get(&proxy.url("/api/patients/1"), &h).await;
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (400, "bad_request"),
            "{actor}"
        );
    }
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn the_proxys_own_headers_cannot_be_doubled_or_hidden() {
    let up = Upstream::json(PATIENT).await;
    let proxy = ProxyBuilder::new(&up.url()).start().await;
    let u = proxy.url("/api/patients/1");
    let mut req = request("GET", &u, &care());
    req.headers_mut()
        .append("x-purpose", "marketing".parse().unwrap());
    let r = send(req).await;
    assert_eq!((r.status, r.error_code().as_str()), (400, "bad_request"));
    let mut req = request("GET", &u, &care());
    req.headers_mut()
        .append("x-api-key", ALL_KEY.parse().unwrap());
    assert_eq!(send(req).await.status, 401);
    assert_eq!(up.count(), 0);
    // Naming them in `Connection` does not strip them.
    let mut h = care().to_vec();
    h.push(("x-actor", "op-3"));
    h.push(("connection", "x-purpose, x-actor, x-request-id"));
    let r = get(&u, &h).await;
    assert_eq!(r.status, 200);
    let seen = up.last();
    assert_eq!(seen.headers["x-purpose"], "care");
    assert_eq!(seen.headers["x-actor"], "op-3");
    assert!(seen.headers.contains_key("x-request-id"));
}

/// An upstream that sends `bytes`, then holds the connection open, silent.
async fn stalling_upstream(bytes: &'static [u8]) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(bytes).await;
                tokio::time::sleep(Duration::from_secs(5)).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_stalled_upstream_body_times_out() {
    let short = |c: String| c.replace("upstream_timeout_ms = 3000", "upstream_timeout_ms = 300");
    // Stalled before any body byte: a clean 504.
    let up = stalling_upstream(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 50\r\n\r\n",
    )
    .await;
    let proxy = ProxyBuilder::new(&format!("http://{up}"))
        .edit(short)
        .start()
        .await;
    let r = get(&proxy.url("/api/patients"), &care()).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (504, "upstream_timeout")
    );
    // Stalled after the head went out: the response is cut.
    let up = stalling_upstream(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 50\r\n\r\n[{\"id\":\"1\"},",
    )
    .await;
    let proxy = ProxyBuilder::new(&format!("http://{up}"))
        .edit(short)
        .start()
        .await;
    let started = std::time::Instant::now();
    let r = get(&proxy.url("/api/patients"), &care()).await;
    assert_eq!(r.status, 200);
    assert!(r.body.is_err(), "a stalled body ended cleanly");
    assert!(started.elapsed() < Duration::from_secs(3));
    let ev = proxy.wait_events(1).await;
    assert_eq!(
        (ev[0].decision.as_str(), ev[0].reason.as_str()),
        ("abort", "upstream_timeout")
    );
}

#[tokio::test]
async fn routes_pick_named_upstreams_with_path_prefixes() {
    let main = Upstream::json(PATIENT).await;
    let docs = Upstream::json("{\"items\":[]}").await;
    let docs_url = format!("{}/archive/v2/", docs.url());
    let proxy = ProxyBuilder::new(&main.url())
        .edit(|c| {
            c.replace(
                "[[routes]]\npath = \"/files/{name}\"",
                &format!("[upstreams.docs]\nurl = \"{docs_url}\"\n\n[[routes]]\npath = \"/files/{{name}}\"\nupstream = \"docs\""),
            )
        })
        .start()
        .await;
    let r = get(&proxy.url("/files/a.json?v=1"), &care()).await;
    assert_eq!(r.status, 200);
    assert_eq!(docs.last().path_and_query, "/archive/v2/files/a.json?v=1");
    assert_eq!(docs.last().headers["host"], docs.addr.to_string().as_str());
    assert_eq!(main.count(), 0);
    let r = get(&proxy.url("/api/patients/1"), &care()).await;
    assert_eq!(r.status, 200);
    assert_eq!(main.count(), 1);
}

/// Upstream connections come from a pool per worker thread: a run of
/// requests reuses them instead of connecting each time.
#[tokio::test]
async fn upstream_connections_are_pooled_and_reused() {
    let up = Upstream::json(PATIENT).await;
    let proxy = ProxyBuilder::new(&up.url()).start().await;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    for _ in 0..30 {
        let resp = client
            .request(request("GET", &proxy.url("/api/patients/1"), &care()))
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert!(!body.is_empty());
    }
    assert_eq!(up.count(), 30);
    // One client connection stays on one worker: its requests share one
    // upstream connection.
    let opened = up.connections.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(opened, 1, "upstream connections opened for 30 requests");
}

/// A response the client abandoned halfway leaves its upstream connection
/// unusable: it is closed, not handed to the next request.
#[tokio::test]
async fn a_connection_whose_body_was_abandoned_is_not_reused() {
    let up = Upstream::start(|s| {
        if s.path_and_query.ends_with("slow") {
            let mut r = Reply::json("");
            r.chunks = (0..40).map(|_| vec![b' '; 1000]).collect();
            r.chunks.insert(0, b"[".to_vec());
            r.chunks.push(b"]".to_vec());
            r.delay = Duration::from_millis(20);
            r
        } else {
            Reply::json(PATIENT)
        }
    })
    .await;
    // One worker: the next request would get the abandoned connection if
    // it went back to the pool.
    let proxy = ProxyBuilder::new(&up.url())
        .edit(|c| c.replace("[limits]", "[limits]\nworkers = 1"))
        .start()
        .await;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let resp = client
        .request(request("GET", &proxy.url("/api/patients?slow"), &care()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    drop(resp);
    proxy.wait_events(1).await;
    let r = get(&proxy.url("/api/patients/1"), &care()).await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("\"id\""), "{}", r.text());
    assert_eq!(up.connections.load(std::sync::atomic::Ordering::SeqCst), 2);
}

/// An upstream that closes each connection as soon as it has answered
/// (without saying `connection: close`): the pooled connection is found
/// closed and the next request connects anew.
#[tokio::test]
async fn an_upstream_that_closes_after_each_response_is_reconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{PATIENT}",
        PATIENT.len()
    );
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s.write_all(answer.as_bytes()).await;
                // Dropped here: closed right after the answer.
            });
        }
    });
    let proxy = ProxyBuilder::new(&format!("http://{addr}"))
        .edit(|c| c.replace("[limits]", "[limits]\nworkers = 1"))
        .start()
        .await;
    for i in 0..5 {
        let r = get(&proxy.url("/api/patients/1"), &care()).await;
        assert_eq!(r.status, 200, "request {i}");
        assert_eq!(r.text(), PATIENT, "request {i}");
    }
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 5);
}
