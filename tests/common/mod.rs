//! Shared by the engine's integration tests: an order-preserving JSON tree
//! ([`doc::Doc`]), generators of realistic MIS documents ([`docgen`]), an
//! independent whole-document reference redactor ([`reference`]) and small
//! helpers that drive the streaming engine.
#![allow(dead_code)]

pub mod cli;
pub mod doc;
pub mod docgen;
pub mod reference;

use std::sync::Arc;

use zaslon::class::Purpose;
use zaslon::redact::{ContentKind, Engine, Limits, PseudonymKey, RedactError, RedactStats};
use zaslon::rules::RuleSet;

/// The synthetic key every test uses.
pub const KEY: &[u8] = b"engine tests: synthetic key only";

pub fn key() -> PseudonymKey {
    PseudonymKey::new(KEY)
}

pub fn rules() -> Arc<RuleSet> {
    Arc::new(RuleSet::embedded())
}

pub fn engine() -> Engine {
    Engine::new(rules(), key())
}

/// The engine with key rules alone, no FHIR schema: what the reference
/// redactor of the property tests models. FHIR structure is checked against
/// its own ground truth (tests/fhir_conformance.rs).
pub fn key_rules_engine() -> Engine {
    Engine::new(Arc::new(RuleSet::embedded().without_fhir()), key())
}

pub fn engine_with(limits: Limits) -> Engine {
    Engine::with_limits(rules(), key(), limits)
}

/// Redacts `input` fed in chunks cut at `cuts` (byte offsets, any order,
/// out-of-range and duplicate cuts ignored), then finishes.
pub fn redact_cut(
    engine: &Engine,
    purpose: Purpose,
    kind: ContentKind,
    input: &[u8],
    cuts: &[usize],
) -> Result<(Vec<u8>, RedactStats), RedactError> {
    let mut cuts: Vec<usize> = cuts
        .iter()
        .copied()
        .filter(|c| *c > 0 && *c < input.len())
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut r = engine.redactor(purpose, kind).ok_or(RedactError::Empty)?;
    let mut out = Vec::new();
    let mut last = 0;
    for c in cuts.into_iter().chain([input.len()]) {
        r.feed(&input[last..c], &mut out)?;
        last = c;
    }
    r.finish(&mut out)?;
    Ok((out, r.stats().clone()))
}

/// Redacts `input` as one chunk.
pub fn redact(engine: &Engine, purpose: Purpose, input: &[u8]) -> Result<Vec<u8>, RedactError> {
    redact_cut(engine, purpose, ContentKind::Json, input, &[]).map(|(o, _)| o)
}

/// Redacts `input` one byte at a time.
pub fn redact_bytewise(
    engine: &Engine,
    purpose: Purpose,
    input: &[u8],
) -> Result<Vec<u8>, RedactError> {
    let cuts: Vec<usize> = (1..input.len()).collect();
    redact_cut(engine, purpose, ContentKind::Json, input, &cuts).map(|(o, _)| o)
}

/// Redacts a `&str` as one chunk and returns the output as a `String`.
pub fn redact_str(engine: &Engine, purpose: Purpose, input: &str) -> Result<String, RedactError> {
    let out = redact(engine, purpose, input.as_bytes())?;
    Ok(String::from_utf8(out).unwrap_or_else(|e| panic!("output is not UTF-8: {e}")))
}
