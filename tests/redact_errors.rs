//! Bad input gives a specific `RedactError` (or a correct output), never a
//! panic and never `Ok` for a document that is not whole; and the
//! `zaslon redact` command line behaves the same way.

mod common;

use std::sync::Arc;

use common::cli::{redact_cli, rules_dir, rules_files, stderr, zaslon};
use common::{engine, engine_with, key, redact, redact_bytewise, redact_cut, redact_str};
use zaslon::class::{FieldClass, Purpose};
use zaslon::redact::{ContentKind, Engine, Limits, RedactError};
use zaslon::rules::RuleSet;

/// The same result whole, one byte at a time, and cut in three.
fn redact_all_ways(e: &Engine, p: Purpose, input: &[u8]) -> Result<Vec<u8>, RedactError> {
    let whole = redact(e, p, input);
    assert_eq!(
        redact_bytewise(e, p, input),
        whole,
        "{p}: 1-byte chunks differ on {input:?}"
    );
    let thirds = [input.len() / 3, 2 * input.len() / 3];
    let cut = redact_cut(e, p, ContentKind::Json, input, &thirds).map(|(o, _)| o);
    assert_eq!(cut, whole, "{p}: thirds differ on {input:?}");
    whole
}

fn assert_err(input: &[u8], want: fn(RedactError) -> bool, what: &str) {
    let e = engine();
    for p in Purpose::ALL {
        let got = redact_all_ways(&e, p, input);
        assert!(
            matches!(got, Err(err) if want(err)),
            "{p}: {what}: {:?} gave {got:?}",
            String::from_utf8_lossy(input)
        );
    }
}

fn malformed(e: RedactError) -> bool {
    matches!(e, RedactError::Malformed(_))
}

#[test]
fn malformed_json_is_malformed() {
    let cases: &[(&str, &[u8])] = &[
        ("missing colon", br#"{"a" 1}"#),
        ("missing colon before object", br#"{"snils" {"x":1}}"#),
        ("trailing comma in object", br#"{"a":1,}"#),
        ("trailing comma in array", br#"{"a":[1,2,]}"#),
        ("leading comma", br#"[,1]"#),
        ("double comma", br#"{"a":1,,"b":2}"#),
        ("bad literal tru", br#"{"a":tru}"#),
        ("bad literal flase", br#"{"a":flase}"#),
        ("bad literal nul", br#"[nul]"#),
        ("capitalised literal", br#"{"a":True}"#),
        ("unquoted key", br#"{a:1}"#),
        ("single quotes", br#"{'a':1}"#),
        ("leading zero", br#"{"price":01}"#),
        ("leading zero negative", br#"{"price":-01.5}"#),
        ("bare minus", br#"[-]"#),
        ("dot without digits", br#"[1.]"#),
        ("leading dot", br#"[.5]"#),
        ("empty exponent", br#"[1e]"#),
        ("plus sign", br#"[+1]"#),
        ("trailing garbage", br#"{"a":1} x"#),
        ("second document", br#"{"a":1} {"b":2}"#),
        ("extra closer", br#"{"a":1}}"#),
        ("mismatched closer", br#"{"a":[1}"#),
        ("array closed by brace", br#"[1}"#),
        ("raw control character in string", b"{\"a\":\"x\x01y\"}"),
        (
            "raw control character deep in a long string",
            b"{\"a\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\x1fy\"}",
        ),
        ("raw control character between tokens", b"{\"a\":\x0b1}"),
        ("raw newline in key", b"{\"sn\nils\":\"1\"}"),
        ("bad escape", br#"{"a":"\x41"}"#),
        ("short unicode escape", br#"{"a":"\u41"}"#),
        ("lone high surrogate", br#"{"a":"\ud800x"}"#),
        ("lone low surrogate", br#"{"snils":"\udc00"}"#),
        ("bad escape in key", br#"{"\q":1}"#),
        ("value where key expected", br#"{1:2}"#),
        ("colon in array", br#"[1:2]"#),
    ];
    for (what, input) in cases {
        assert_err(input, malformed, what);
    }
    // A byte that is not UTF-8 is refused as such wherever it stands.
    assert_err(
        b"{\"a\":1}\xff",
        |e| e == RedactError::InvalidUtf8(7),
        "byte outside string",
    );
}

#[test]
fn malformed_offsets_point_at_the_fault() {
    let e = engine();
    for (input, at) in [
        (&br#"{"a" 1}"#[..], 5),
        (br#"{"a":1,}"#, 7),
        (br#"[1,2,]"#, 5),
        (br#"{"a":1} x"#, 8),
    ] {
        assert_eq!(
            redact_all_ways(&e, Purpose::Care, input),
            Err(RedactError::Malformed(at))
        );
    }
}

const SMALL: &str = r#"{"id":12,"snils":"748-569-701 67","name":[{"family":"Иванов","given":["Иван"]}],"ok":true,"n":null,"esc":"\u0041\"\\","f":-1.5e3,"a":[]}"#;

/// Every proper prefix fails at `finish`: `Empty` for no bytes, otherwise
/// `Truncated`, except that a body cut inside a number (`-`, `-1.`, `-1.5e`)
/// is reported as `Malformed` at the number: the engine takes the end of the
/// body as the end of the number. Either way the body is rejected.
#[test]
fn every_proper_prefix_is_truncated_or_empty() {
    let e = engine();
    let doc = SMALL.as_bytes();
    let number_at = SMALL.find("-1.5e3").unwrap_or_default();
    let cut_number = [number_at + 1, number_at + 3, number_at + 5];
    for p in Purpose::ALL {
        assert!(
            redact_all_ways(&e, p, doc).is_ok(),
            "{p}: the whole document must pass"
        );
        for n in 0..doc.len() {
            let want = match n {
                0 => RedactError::Empty,
                n if cut_number.contains(&n) => RedactError::Malformed(number_at as u64),
                _ => RedactError::Truncated,
            };
            assert_eq!(
                redact_all_ways(&e, p, &doc[..n]),
                Err(want),
                "{p}: prefix of {n} bytes"
            );
        }
    }
}

#[test]
fn truncation_is_reported_by_finish() {
    let e = engine();
    let mut r = e
        .redactor(Purpose::Care, ContentKind::Json)
        .unwrap_or_else(|| panic!("json"));
    let mut out = Vec::new();
    assert_eq!(r.feed(br#"{"snils":"748-5"#, &mut out), Ok(()));
    assert_eq!(r.finish(&mut out), Err(RedactError::Truncated));
}

fn nested(depth: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..depth {
        v.extend_from_slice(if i % 2 == 0 { b"[" } else { b"{\"a\":" });
    }
    v.push(b'0');
    for i in (0..depth).rev() {
        v.push(if i % 2 == 0 { b']' } else { b'}' });
    }
    v
}

/// `max_depth` is the number of containers that may be open at once: the
/// default 128 accepts 127 and 128 levels and rejects the 129th opener.
#[test]
fn nesting_past_the_limit_is_too_deep() {
    let e = engine();
    assert_eq!(Limits::default().max_depth, 128);
    for p in [Purpose::Care, Purpose::Legal] {
        for depth in [127, 128] {
            let doc = nested(depth);
            assert_eq!(
                redact_all_ways(&e, p, &doc),
                Ok(doc.clone()),
                "{p}: depth {depth}"
            );
        }
        // The 129th opener: 64 `[` and 64 `{"a":` before it.
        let at = 64 + 64 * 5;
        assert_eq!(
            redact_all_ways(&e, p, &nested(129)),
            Err(RedactError::TooDeep(at))
        );
        assert_eq!(
            redact_all_ways(&e, p, &nested(1000)),
            Err(RedactError::TooDeep(at))
        );
    }
    let small = engine_with(Limits {
        max_depth: 3,
        ..Limits::default()
    });
    assert_eq!(
        redact_all_ways(&small, Purpose::Care, b"[[[0]]]"),
        Ok(b"[[[0]]]".to_vec())
    );
    assert_eq!(
        redact_all_ways(&small, Purpose::Care, b"[[[[0]]]]"),
        Err(RedactError::TooDeep(3))
    );
}

fn invalid_utf8(e: RedactError) -> bool {
    matches!(e, RedactError::InvalidUtf8(_))
}

#[test]
fn invalid_utf8_in_strings_and_keys() {
    let cases: &[(&str, &[u8])] = &[
        ("stray continuation byte", b"{\"a\":\"x\x80y\"}"),
        ("0xff", b"{\"snils\":\"\xff\"}"),
        ("overlong slash", b"{\"a\":\"\xc0\xaf\"}"),
        ("encoded surrogate", b"{\"a\":\"\xed\xa0\x80\"}"),
        ("cut multi-byte character", b"{\"a\":\"\xd0\"}"),
        ("after an escape", b"{\"a\":\"\\n\xfe\"}"),
        ("in a neutral key", b"{\"i\xffd\":1}"),
        (
            "in a rule key",
            b"{\"\xd0\xa1\xd0\x9d\xd0\x98\xd0\x9b\xd0\xa1\xd0\":\"1\"}",
        ),
        ("in an array element", b"[\"ok\",\"\xf5\x80\x80\x80\"]"),
    ];
    for (what, input) in cases {
        assert_err(input, invalid_utf8, what);
    }
    assert_eq!(
        redact_all_ways(&engine(), Purpose::Legal, b"{\"a\":\"x\x80\"}"),
        Err(RedactError::InvalidUtf8(7))
    );
}

#[test]
fn empty_and_whitespace_only_bodies_are_empty() {
    for input in [&b""[..], b" ", b"\n", b" \t\r\n  \n"] {
        assert_err(input, |e| e == RedactError::Empty, "empty");
    }
}

#[test]
fn top_level_scalars_are_documents() {
    let e = engine();
    for doc in [
        &b"1"[..],
        b"-0.5e-3",
        b"true",
        b"null",
        b" \"x\" ",
        b"[]",
        b"{}",
    ] {
        assert_eq!(redact_all_ways(&e, Purpose::Support, doc), Ok(doc.to_vec()));
        // An allowlist purpose has no rule for a bare scalar: it is removed,
        // and the document stays a document.
        let token = doc.trim_ascii();
        let want = if token == b"[]" || token == b"{}" {
            doc.to_vec()
        } else {
            let at = doc.len() - doc.trim_ascii_start().len();
            [&doc[..at], b"null", &doc[at + token.len()..]].concat()
        };
        assert_eq!(redact_all_ways(&e, Purpose::Marketing, doc), Ok(want));
    }
}

/// Streams `{"note":"aaa…a"}` (a string of `len` bytes) in 64 KiB chunks;
/// never holds the input whole. Returns the error, or the output length
/// after checking it equals the input.
fn stream_long_string(e: &Engine, p: Purpose, len: usize) -> Result<usize, RedactError> {
    const CHUNK: usize = 64 << 10;
    let head = br#"{"note":""#;
    let tail = br#""}"#;
    let mut r = e
        .redactor(p, ContentKind::Json)
        .unwrap_or_else(|| panic!("json"));
    let mut out = Vec::new();
    r.feed(head, &mut out)?;
    let chunk = vec![b'a'; CHUNK];
    let mut left = len;
    while left > 0 {
        let n = left.min(CHUNK);
        r.feed(&chunk[..n], &mut out)?;
        left -= n;
    }
    r.feed(tail, &mut out)?;
    r.finish(&mut out)?;
    assert_eq!(out.len(), head.len() + len + tail.len());
    assert!(out.starts_with(head) && out.ends_with(tail));
    assert!(
        out[head.len()..out.len() - tail.len()]
            .iter()
            .all(|b| *b == b'a')
    );
    Ok(out.len())
}

#[test]
fn a_100_mb_string_is_too_long_by_default_and_passes_with_a_raised_limit() {
    const MB100: usize = 100 << 20;
    let e = engine();
    // Stops at the default 8 MiB bound, long before the end: the string
    // starts at byte 8.
    assert_eq!(
        stream_long_string(&e, Purpose::Care, MB100),
        Err(RedactError::TokenTooLong(8))
    );
    assert_eq!(
        stream_long_string(&e, Purpose::Legal, MB100),
        Err(RedactError::TokenTooLong(8))
    );
    // Raised past the string: the output is the input (`note` names no
    // class; `legal` runs no detectors, so this does not depend on them).
    let big = engine_with(Limits {
        max_token_bytes: MB100 + 16,
        ..Limits::default()
    });
    assert_eq!(
        stream_long_string(&big, Purpose::Legal, MB100),
        Ok(MB100 + 11)
    );
}

#[test]
fn a_long_number_is_too_long() {
    let e = engine_with(Limits {
        max_token_bytes: 1 << 20,
        ..Limits::default()
    });
    let mut doc = b"[".to_vec();
    doc.resize(1 + (1 << 20) + 10, b'7');
    doc.push(b']');
    let got = redact_cut(
        &e,
        Purpose::Care,
        ContentKind::Json,
        &doc,
        &(1..doc.len()).step_by(4096).collect::<Vec<_>>(),
    );
    assert_eq!(got.map(|(o, _)| o.len()), Err(RedactError::TokenTooLong(1)));
}

/// A sibling object (FHIR identifier) is held back until its `system` is
/// known; past `hold_back_bytes` that fails closed.
#[test]
fn a_held_back_object_past_its_bound_fails_closed() {
    let mut doc = br#"{"identifier":[{"value":""#.to_vec();
    doc.resize(doc.len() + (2 << 20), b'7');
    doc.extend_from_slice(br#"","system":"urn:oid:1.2.643.100.3"}]}"#);
    let cuts: Vec<usize> = (0..doc.len()).step_by(64 << 10).collect();
    let e = engine();
    let got = redact_cut(&e, Purpose::Support, ContentKind::Json, &doc, &cuts);
    assert!(
        matches!(got, Err(RedactError::HoldBackOverflow(_))),
        "{:?}",
        got.map(|(o, _)| o.len())
    );
    let roomy = engine_with(Limits {
        hold_back_bytes: 4 << 20,
        ..Limits::default()
    });
    let got = redact_cut(&roomy, Purpose::Support, ContentKind::Json, &doc, &cuts).map(|(o, _)| o);
    assert_eq!(
        got.as_deref(),
        Ok(&br#"{"identifier":[{"system":"urn:oid:1.2.643.100.3"}]}"#[..])
    );
}

#[test]
fn a_blocking_rule_gives_blocked() {
    let files: Vec<(String, String)> = rules_files()
        .into_iter()
        .map(|(n, t)| {
            let t = if n == "support.toml" {
                t.replace("[actions]", "[actions]\nsnils = \"block\"")
            } else {
                t
            };
            (n, t)
        })
        .collect();
    let rules = RuleSet::from_files(&files).unwrap_or_else(|e| panic!("{e}"));
    let e = Engine::new(Arc::new(rules), key());
    assert_eq!(
        redact_all_ways(
            &e,
            Purpose::Support,
            br#"{"id":1,"snils":"748-569-701 67"}"#
        ),
        Err(RedactError::Blocked(FieldClass::Snils))
    );
    assert_eq!(
        redact_str(&e, Purpose::Support, r#"{"id":1}"#),
        Ok(r#"{"id":1}"#.to_owned())
    );
}

// The command line.

const PATIENT: &str = r#"{"id":7,"snils":"748-569-701 67","firstName":"Иван","lastName":"Иванов","phone":"+7 (912) 345-67-89"}"#;

#[test]
fn cli_redacts_a_valid_document() {
    let o = redact_cli("marketing", "application/json", PATIENT.as_bytes());
    assert!(o.status.success(), "{}", stderr(&o));
    let want = redact_str(&engine(), Purpose::Marketing, PATIENT).unwrap_or_default();
    assert_eq!(String::from_utf8_lossy(&o.stdout), want);
    assert!(
        !want.contains("748-569-701") && !want.contains("Иванов"),
        "{want}"
    );
}

#[test]
fn cli_pseudonymizes_with_the_key_from_the_environment() {
    let dir = rules_dir();
    let dir = dir.to_str().unwrap_or_default();
    let args = ["redact", "--rules", dir, "--purpose", "analytics"];
    let o = zaslon(&args, PATIENT.as_bytes(), &[]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("ZASLON_PSEUDONYM_KEY"),
        "{}",
        stderr(&o)
    );
    // One minimum everywhere: a key `serve` would refuse is refused here.
    let short = "0123456789abcdef0123456789abcde";
    let o = zaslon(
        &args,
        PATIENT.as_bytes(),
        &[("ZASLON_PSEUDONYM_KEY", short)],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("at least 32 bytes"), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let key = std::str::from_utf8(common::KEY).unwrap_or_default();
    assert_eq!(key.len(), 32);
    let o = zaslon(&args, PATIENT.as_bytes(), &[("ZASLON_PSEUDONYM_KEY", key)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let want = redact_str(&engine(), Purpose::Analytics, PATIENT).unwrap_or_default();
    assert!(want.contains("psn_"), "{want}");
    assert_eq!(String::from_utf8_lossy(&o.stdout), want);
}

#[test]
fn cli_fails_on_malformed_input() {
    for bad in [
        &br#"{"snils":"748-569-701 67","#[..],
        br#"{"a" 1}"#,
        b"",
        b"{\"a\":\"\xff\"}",
    ] {
        let o = redact_cli("care", "application/json", bad);
        assert!(!o.status.success(), "{bad:?}");
        let msg = stderr(&o);
        assert!(
            msg.contains("zaslon:") && msg.contains("discarded"),
            "{msg}"
        );
        assert!(
            !msg.contains("748-569-701"),
            "personal data in the error: {msg}"
        );
    }
    let o = redact_cli("care", "application/json", br#"{"a" 1}"#);
    assert!(
        stderr(&o).contains("malformed JSON at byte 5"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn cli_rejects_an_unknown_purpose_and_content_type() {
    let o = redact_cli("spam", "application/json", b"{}");
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("unknown purpose") && stderr(&o).contains("marketing"),
        "{}",
        stderr(&o)
    );
    let o = redact_cli("care", "image/png", b"{}");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("image/png"), "{}", stderr(&o));
}

#[test]
fn cli_rejects_a_bad_rules_dir() {
    let missing = std::env::temp_dir().join(format!("zaslon-no-rules-{}", std::process::id()));
    let m = missing.to_string_lossy().into_owned();
    let o = zaslon(&["redact", "--rules", &m, "--purpose", "care"], b"{}", &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains(&m), "{}", stderr(&o));

    let broken = std::env::temp_dir().join(format!("zaslon-bad-rules-{}", std::process::id()));
    std::fs::create_dir_all(&broken).unwrap_or_else(|e| panic!("{e}"));
    for (n, t) in rules_files() {
        let t = if n == "care.toml" {
            t.replace("snils = \"allow\"", "snils = \"obliterate\"")
        } else {
            t
        };
        std::fs::write(broken.join(n), t).unwrap_or_else(|e| panic!("{e}"));
    }
    let b = broken.to_string_lossy().into_owned();
    let o = zaslon(&["redact", "--rules", &b, "--purpose", "care"], b"{}", &[]);
    let _ = std::fs::remove_dir_all(&broken);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("care.toml") && stderr(&o).contains("obliterate"),
        "{}",
        stderr(&o)
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn cli_ndjson_keeps_lines() {
    let lines = [
        PATIENT,
        r#"{"id":8,"identifier":[{"value":"74856970167","system":"urn:oid:1.2.643.100.3"}]}"#,
        r#"{"id":9,"status":"active"}"#,
    ];
    let input = format!("{}\n", lines.join("\n"));
    let o = redact_cli("support", "application/x-ndjson", input.as_bytes());
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got.len(), 3, "{out}");
    let e = engine();
    for (g, l) in got.iter().zip(lines) {
        assert_eq!(*g, redact_str(&e, Purpose::Support, l).unwrap_or_default());
    }
    assert_eq!(
        got[1],
        r#"{"id":8,"identifier":[{"system":"urn:oid:1.2.643.100.3"}]}"#
    );
    assert_eq!(got[2], lines[2]);
}

#[test]
fn cli_text_plain_passes_plain_text() {
    let text = "Запись на приём подтверждена.\nКабинет 12, второй этаж.\n";
    for p in ["care", "marketing", "legal"] {
        let o = redact_cli(p, "text/plain; charset=utf-8", text.as_bytes());
        assert!(o.status.success(), "{p}: {}", stderr(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout), text, "{p}");
    }
    let o = redact_cli("legal", "text/plain", b"caf\xc3");
    assert!(
        !o.status.success(),
        "a cut UTF-8 character at the end of text"
    );
}

/// An invalid string inside a held-back sibling object (FHIR identifier) is
/// found when the object is replayed. The error must still name the
/// string's offset (24 here, as for any other string), whatever the
/// chunking: any split of the input gives the same result, errors included.
#[test]
fn errors_inside_held_back_objects_have_the_same_offset_for_any_chunking() {
    let cases: [(&[u8], RedactError); 3] = [
        (
            b"{\"identifier\":[{\"value\":\"\xff\",\"system\":\"snils\"}]}",
            RedactError::InvalidUtf8(25),
        ),
        (
            b"{\"identifier\":[{\"value\":\"a\x01\",\"system\":\"snils\"}]}",
            RedactError::Malformed(26),
        ),
        (
            br#"{"identifier":[{"value":"\q","system":"snils"}]}"#,
            RedactError::Malformed(25),
        ),
    ];
    let e = engine();
    for (input, want) in cases {
        for p in [Purpose::Legal, Purpose::Support] {
            let shown = String::from_utf8_lossy(input);
            assert_eq!(redact(&e, p, input), Err(want), "{p}, whole: {shown}");
            assert_eq!(
                redact_bytewise(&e, p, input),
                Err(want),
                "{p}, 1-byte chunks: {shown}"
            );
            let cut = redact_cut(&e, p, ContentKind::Json, input, &[5]).map(|(o, _)| o);
            assert_eq!(cut, Err(want), "{p}, cut at 5: {shown}");
        }
    }
}
