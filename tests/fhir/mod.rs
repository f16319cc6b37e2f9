//! Shared by `tests/fhir_conformance.rs` and `examples/fhir_survivors.rs`:
//! loading the official FHIR R4 examples from `../shared/conformance/`,
//! driving the engine over them, the ground truth of personal data read
//! from FHIR's structure ([`truth`]) and the survivor counts ([`survivors`]).
//!
//! The examples are public material kept outside the repository, so a
//! test that needs them skips visibly when they are absent, and fails
//! instead when `ZASLON_REQUIRE_CONFORMANCE=1` (CI sets it): a missing
//! folder must never look like a pass there.
#![allow(dead_code, clippy::unwrap_used)]

pub mod survivors;
pub mod truth;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use zaslon::class::Purpose;
use zaslon::redact::{ContentKind, Engine, PseudonymKey, RedactError};
use zaslon::rules::RuleSet;

/// The key every run uses; analytics pseudonymizes with it.
pub const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

/// One example resource, as bytes and parsed.
pub struct Example {
    pub name: String,
    pub bytes: Vec<u8>,
    pub json: serde_json::Value,
}

/// `../shared/conformance/fhir-r4/examples` next to the repository (a git
/// worktree beside the main checkout sees the same `../shared`).
pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/fhir-r4/examples")
}

/// The repository's `rules/`: the tests follow the rules as edited, not a
/// copy embedded at some earlier build.
pub fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")
}

/// Whether a missing conformance folder is a failure rather than a skip.
pub fn conformance_required() -> bool {
    std::env::var("ZASLON_REQUIRE_CONFORMANCE").is_ok_and(|v| v == "1")
}

/// The examples in `dir`, sorted by file name, or `None` when the folder
/// is absent. Any unreadable or unparsable file is a panic: the material
/// is fixed, so that would be a broken checkout, not a skip.
pub fn load_examples(dir: &Path) -> Option<Vec<Example>> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    let examples = names
        .into_iter()
        .map(|name| {
            let bytes = std::fs::read(dir.join(&name)).unwrap();
            let json = serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("{name} is not valid JSON: {e}"));
            Example { name, bytes, json }
        })
        .collect();
    Some(examples)
}

/// Says that test `test` cannot run for want of the examples: a panic
/// when they are required, else a skip line. The line goes straight to the
/// process's stderr, past the test harness's output capture, so that a
/// skipped run shows in `cargo test` output.
pub fn skip(test: &str) {
    let dir = examples_dir();
    if conformance_required() {
        panic!(
            "{test}: {} not found (or empty) and ZASLON_REQUIRE_CONFORMANCE=1",
            dir.display()
        );
    }
    // One write, so that parallel tests do not interleave within a line.
    let line = format!(
        "SKIPPED {test}: ../shared/conformance not found ({})\n",
        dir.display()
    );
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// The engine over the repository's rules.
pub fn engine() -> Engine {
    let rules =
        RuleSet::load_dir(&rules_dir()).unwrap_or_else(|e| panic!("rules/ does not compile:\n{e}"));
    Engine::new(Arc::new(rules), PseudonymKey::new(KEY))
}

/// Redacts `input` as one JSON body, fed in chunks of `chunk` bytes (the
/// whole input at once when `None`).
pub fn redact(
    engine: &Engine,
    purpose: Purpose,
    input: &[u8],
    chunk: Option<usize>,
) -> Result<Vec<u8>, RedactError> {
    let cuts: Vec<usize> = match chunk {
        None => Vec::new(),
        Some(n) => (n..input.len()).step_by(n.max(1)).collect(),
    };
    redact_at(engine, purpose, input, &cuts)
}

/// Redacts `input` fed in pieces cut at the sorted offsets `cuts`.
pub fn redact_at(
    engine: &Engine,
    purpose: Purpose,
    input: &[u8],
    cuts: &[usize],
) -> Result<Vec<u8>, RedactError> {
    let mut r = engine
        .redactor(purpose, ContentKind::Json)
        .expect("JSON is always redactable");
    let mut out = Vec::with_capacity(input.len() + 256);
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        let cut = cut.clamp(start, input.len());
        r.feed(&input[start..cut], &mut out)?;
        start = cut;
    }
    r.finish(&mut out)?;
    Ok(out)
}
