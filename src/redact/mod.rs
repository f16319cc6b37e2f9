//! The redaction engine: a compiled rule set, a pseudonymization key, and
//! streaming body redactors chosen by content type.
//!
//! A body redactor is driven chunk by chunk: `feed(chunk, out)` appends the
//! redacted bytes it can already emit to `out`, holding back at most an
//! incomplete token; `finish(out)` flushes and checks the document is whole.
//! Any error means the response must not be completed: the caller aborts it.

use std::sync::Arc;

use crate::class::{FieldClass, Purpose};
use crate::rules::RuleSet;

mod json;
mod plan;
pub mod pseudo;
pub mod records;
pub mod stream;
mod text;
pub mod value;

pub use json::JsonRedactor;
pub use plan::{Limits, Plan};
pub use records::{RecordSpec, RecordVerdict};
pub use text::TextRedactor;

/// Why a body could not be redacted. Small and `Copy`: it is a hot-path
/// error, a metric label and an audit reason code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RedactError {
    #[error("malformed JSON at byte {0}")]
    Malformed(u64),
    #[error("the document ended before it was complete")]
    Truncated,
    #[error("the body is empty; a JSON document was expected")]
    Empty,
    #[error("a single token longer than the limit at byte {0}")]
    TokenTooLong(u64),
    #[error("nesting deeper than the limit at byte {0}")]
    TooDeep(u64),
    #[error("invalid UTF-8 inside a string at byte {0}")]
    InvalidUtf8(u64),
    #[error("a held-back object grew past its bound at byte {0}")]
    HoldBackOverflow(u64),
    #[error("the rules block responses that contain {0}")]
    Blocked(FieldClass),
    #[error("records of a list were held back and never given a consent verdict")]
    RecordsUnresolved,
}

impl RedactError {
    /// The stable code used in error bodies, metrics and the audit.
    pub fn code(self) -> &'static str {
        match self {
            RedactError::Malformed(_) => "malformed_body",
            RedactError::Truncated => "truncated_body",
            RedactError::Empty => "empty_body",
            RedactError::TokenTooLong(_) => "token_too_long",
            RedactError::TooDeep(_) => "nesting_too_deep",
            RedactError::InvalidUtf8(_) => "invalid_utf8",
            RedactError::HoldBackOverflow(_) => "hold_back_overflow",
            RedactError::Blocked(_) => "blocked_by_rule",
            RedactError::RecordsUnresolved => "records_unresolved",
        }
    }
}

/// What the engine did, per field class, for the audit and the metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedactStats {
    pub disclosed: [u32; FieldClass::COUNT],
    pub masked: [u32; FieldClass::COUNT],
    pub pseudonymized: [u32; FieldClass::COUNT],
    pub generalized: [u32; FieldClass::COUNT],
    pub removed: [u32; FieldClass::COUNT],
    /// Records of a list dropped for their subject's consent.
    pub records_dropped: u32,
    /// FHIR narratives replaced because the purpose may not see them.
    pub narratives_replaced: u32,
    /// Count members (`total`) rewritten because records were dropped.
    pub counts_rewritten: u32,
    /// FHIR arrays left empty by removals, removed with them.
    pub containers_pruned: u32,
    /// FHIR objects left empty by removals, marked data-absent.
    pub containers_marked: u32,
    /// Members an allowlist purpose removed because no rule names them.
    pub unlisted_removed: u32,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// How a body is handled, by its content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentKind {
    Json,
    Ndjson,
    /// `application/fhir+json`: every top-level object is a FHIR resource.
    Fhir,
    /// `application/fhir+ndjson`: a FHIR bulk export, a resource a line.
    FhirNdjson,
    Text,
    Other,
}

impl ContentKind {
    /// Whether the body goes through the JSON redactor.
    pub fn is_json(self) -> bool {
        !matches!(self, ContentKind::Text | ContentKind::Other)
    }

    /// `application/fhir+json` -> Fhir; `application/fhir+ndjson` ->
    /// FhirNdjson; `application/json`, `*/*+json` -> Json (a FHIR resource
    /// is still recognised when `resourceType` is its first member);
    /// `application/x-ndjson`, `application/jsonl` -> Ndjson; `text/*` ->
    /// Text; anything else Other. Parameters (`fhirVersion=4.0`) are ignored.
    pub fn from_content_type(ct: &str) -> ContentKind {
        let essence = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/json" => ContentKind::Json,
            "application/fhir+json" | "application/json+fhir" => ContentKind::Fhir,
            "application/fhir+ndjson" => ContentKind::FhirNdjson,
            "application/x-ndjson" | "application/jsonl" | "application/x-jsonlines" => {
                ContentKind::Ndjson
            }
            e if e.ends_with("+json") => ContentKind::Json,
            e if e.starts_with("text/") => ContentKind::Text,
            _ => ContentKind::Other,
        }
    }
}

/// The key for keyed pseudonyms (HMAC-SHA256). Comes from the environment,
/// never from the rules.
#[derive(Clone)]
pub struct PseudonymKey(Arc<KeyState>);

struct KeyState {
    bytes: Box<[u8]>,
    /// HMAC with the key already absorbed: each pseudonym clones it instead
    /// of hashing the key's pads again (half the SHA-256 blocks).
    mac: pseudo::KeyedMac,
}

impl PseudonymKey {
    pub fn new(bytes: &[u8]) -> PseudonymKey {
        PseudonymKey(Arc::new(KeyState {
            bytes: bytes.into(),
            mac: pseudo::keyed(bytes),
        }))
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0.bytes
    }
    pub(crate) fn mac(&self) -> &pseudo::KeyedMac {
        &self.0.mac
    }
}

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey(..)")
    }
}

/// A rule set and a key: everything a body redactor needs.
#[derive(Clone)]
pub struct Engine {
    rules: Arc<RuleSet>,
    key: PseudonymKey,
    plans: Vec<Arc<Plan>>,
    limits: Limits,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("rules_version", &self.rules.version())
            .field("limits", &self.limits)
            .finish()
    }
}

impl Engine {
    pub fn new(rules: Arc<RuleSet>, key: PseudonymKey) -> Engine {
        Engine::with_limits(rules, key, Limits::default())
    }

    pub fn with_limits(rules: Arc<RuleSet>, key: PseudonymKey, limits: Limits) -> Engine {
        let plans = Plan::for_each_purpose(&rules);
        Engine {
            rules,
            key,
            plans,
            limits,
        }
    }

    pub fn rules(&self) -> &Arc<RuleSet> {
        &self.rules
    }

    pub fn key(&self) -> &PseudonymKey {
        &self.key
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// A redactor for one body of the given kind, or `None` for `Other`
    /// (the caller allows or blocks such bodies per purpose).
    pub fn redactor(&self, purpose: Purpose, kind: ContentKind) -> Option<BodyRedactor> {
        let plan = self.plans[purpose.index()].clone();
        let key = self.key.clone();
        let inner = match kind {
            ContentKind::Json => {
                Inner::Json(Box::new(JsonRedactor::new(plan, key, self.limits, false)))
            }
            ContentKind::Ndjson => {
                Inner::Json(Box::new(JsonRedactor::new(plan, key, self.limits, true)))
            }
            ContentKind::Fhir | ContentKind::FhirNdjson => {
                let ndjson = kind == ContentKind::FhirNdjson;
                let mut j = JsonRedactor::new(plan, key, self.limits, ndjson);
                j.set_fhir();
                Inner::Json(Box::new(j))
            }
            ContentKind::Text => Inner::Text(Box::new(TextRedactor::new(plan, key))),
            ContentKind::Other => return None,
        };
        Some(BodyRedactor { inner })
    }
}

enum Inner {
    Json(Box<JsonRedactor>),
    Text(Box<TextRedactor>),
}

/// A record's verdict when it is known without waiting (see
/// [`BodyRedactor::with_record_oracle`]).
pub type RecordOracle = Box<dyn Fn(&str) -> Option<RecordVerdict> + Send + Sync>;

/// A streaming redactor for one body.
pub struct BodyRedactor {
    inner: Inner,
}

impl BodyRedactor {
    /// Redacts `chunk`, appending what can be emitted to `out`. After an
    /// error the body must be aborted, never completed.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), RedactError> {
        match &mut self.inner {
            Inner::Json(j) => j.feed(chunk, out),
            Inner::Text(t) => t.feed(chunk, out),
        }
    }

    /// Ends the body: flushes held-back bytes and checks the document is whole.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), RedactError> {
        match &mut self.inner {
            Inner::Json(j) => j.finish(out),
            Inner::Text(t) => t.finish(out),
        }
    }

    pub fn stats(&self) -> &RedactStats {
        match &self.inner {
            Inner::Json(j) => j.stats(),
            Inner::Text(t) => t.stats(),
        }
    }

    /// The id of the subject the request names: in a JSON body, a member
    /// that no rule classifies and holds it is the subject's `person_id`.
    pub fn with_subject(mut self, subject: String) -> BodyRedactor {
        if let Inner::Json(j) = &mut self.inner {
            j.set_subject(subject);
        }
        self
    }

    /// Turns on record-level consent for a JSON list body. The caller then
    /// drives it as: `feed`, and while `pending_subjects()` is not empty,
    /// look those subjects up (one batch) and `resolve` with their verdicts;
    /// the same before `finish`.
    pub fn with_records(mut self, spec: std::sync::Arc<RecordSpec>) -> BodyRedactor {
        if let Inner::Json(j) = &mut self.inner {
            j.set_records(spec);
        }
        self
    }

    /// Lets records stream without being held back when their verdict is
    /// known at once: `oracle` is asked as soon as a record's subject is
    /// read, and a `Some(Keep)` releases the record (when no record before
    /// it waits). Any other answer holds it back as usual. The subjects of
    /// released records are collected for [`BodyRedactor::take_released`].
    pub fn with_record_oracle(mut self, oracle: RecordOracle) -> BodyRedactor {
        if let Inner::Json(j) = &mut self.inner {
            j.set_oracle(oracle);
        }
        self
    }

    /// The subjects of records released by the oracle since the last call.
    pub fn take_released(&mut self) -> Vec<String> {
        match &mut self.inner {
            Inner::Json(j) => j.take_released(),
            Inner::Text(_) => Vec::new(),
        }
    }

    /// Subjects of held-back records whose verdict is needed to go on.
    pub fn pending_subjects(&self) -> &[String] {
        match &self.inner {
            Inner::Json(j) => j.pending_subjects(),
            Inner::Text(_) => &[],
        }
    }

    /// Gives the verdicts for `pending_subjects()` (same order) and goes on
    /// with the input held since, appending output.
    pub fn resolve(
        &mut self,
        verdicts: &[RecordVerdict],
        out: &mut Vec<u8>,
    ) -> Result<(), RedactError> {
        match &mut self.inner {
            Inner::Json(j) => j.resolve(verdicts, out),
            Inner::Text(_) => Ok(()),
        }
    }
}
