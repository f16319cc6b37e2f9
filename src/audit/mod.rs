//! The audit: one [`AuditEvent`] per request, handed to an [`AuditSink`].
//!
//! Events never hold raw personal data: subjects are keyed pseudonyms and
//! paths are route templates.

use std::path::PathBuf;
use std::sync::Arc;

use crate::class::FieldClass;
use crate::metrics::AuditMetrics;

pub mod chain;
pub mod config;
pub mod file;
pub mod postgres;
pub mod query;
mod queue;
pub mod verify;

pub use config::{AuditConfig, SinkKind};
pub use file::FileSink;
pub use postgres::PostgresSink;
pub use queue::Durable;
pub use verify::{VerifyError, VerifyReport, verify};

/// Per field class, what happened to the values of one response.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClassCounts {
    /// The class's name: borrowed from `FieldClass::as_str` when the proxy
    /// counts a response (no allocation per class and request), owned when
    /// a record is read back.
    pub class: std::borrow::Cow<'static, str>,
    pub disclosed: u32,
    pub masked: u32,
    pub pseudonymized: u32,
    pub generalized: u32,
    pub removed: u32,
}

/// One request, allowed or not.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditEvent {
    /// RFC 3339, UTC.
    pub time: String,
    pub request_id: String,
    pub client: String,
    pub actor: Option<String>,
    pub purpose: Option<String>,
    /// The HL7 v3 PurposeOfUse code the client declared instead of a
    /// purpose id (`TREAT`), as `rules/purpose_of_use.toml` writes it.
    /// Written only when present, so records without it keep their shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose_of_use: Option<String>,
    /// The route template, never the raw path.
    pub route: Option<String>,
    pub method: String,
    /// Keyed pseudonyms of the subjects, never raw ids.
    pub subjects: Vec<String>,
    /// `allow`, `deny` or `abort`.
    pub decision: String,
    /// `ok` or the error code.
    pub reason: String,
    pub consent: Option<String>,
    pub classes: Vec<ClassCounts>,
    pub upstream_status: Option<u16>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub duration_us: u64,
    pub rules_version: String,
    pub legal_override: bool,
}

/// The current time as the event's `time`: RFC 3339, UTC, microseconds.
pub fn now_rfc3339() -> String {
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(fmt)
        .unwrap_or_default()
}

impl AuditEvent {
    /// Fills `classes` from a redactor's statistics, omitting classes that
    /// were not seen.
    pub fn set_counts(&mut self, stats: &crate::redact::RedactStats) {
        self.classes = FieldClass::ALL
            .into_iter()
            .map(|c| {
                let i = c.index();
                ClassCounts {
                    class: c.as_str().into(),
                    disclosed: stats.disclosed[i],
                    masked: stats.masked[i],
                    pseudonymized: stats.pseudonymized[i],
                    generalized: stats.generalized[i],
                    removed: stats.removed[i],
                }
            })
            .filter(|c| c.disclosed + c.masked + c.pseudonymized + c.generalized + c.removed > 0)
            .collect();
    }
}

/// The sink refused an event: the request must be refused (503
/// `audit_unavailable`) unless the config asked for fail-open by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    #[error("the audit queue is full")]
    QueueFull,
    #[error("the audit sink is failing")]
    SinkFailed,
}

/// Where events go. `submit` never blocks: it enqueues or refuses.
pub trait AuditSink: Send + Sync + 'static {
    fn submit(&self, event: AuditEvent) -> Result<(), AuditError>;
    /// Whether a new request's event would be accepted now (for admission
    /// before the upstream call and for `/readyz`).
    fn ready(&self) -> bool;
}

/// Keeps events in memory; for tests.
#[derive(Debug, Default)]
pub struct MemorySink {
    pub events: std::sync::Mutex<Vec<AuditEvent>>,
}

impl AuditSink for MemorySink {
    fn submit(&self, event: AuditEvent) -> Result<(), AuditError> {
        self.events
            .lock()
            .map_err(|_| AuditError::SinkFailed)?
            .push(event);
        Ok(())
    }
    fn ready(&self) -> bool {
        true
    }
}

/// Why a sink could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("audit directory {}: {source}", dir.display())]
    Dir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("audit file {}: {message}", file.display())]
    Resume { file: PathBuf, message: String },
    #[error("cannot start the audit writer thread: {0}")]
    Thread(std::io::Error),
    #[error("audit config: {0}")]
    Config(String),
}

/// Accepts every event, even when the inner sink refuses it (counted in
/// `zaslon_audit_events_dropped_total`). Only built when the config says
/// `fail_open = true`.
pub struct FailOpen<S: ?Sized> {
    inner: Arc<S>,
    dropped: prometheus::IntCounter,
}

impl<S: AuditSink + ?Sized> FailOpen<S> {
    pub fn new(inner: Arc<S>, metrics: &AuditMetrics) -> FailOpen<S> {
        FailOpen {
            inner,
            dropped: metrics.events_dropped.clone(),
        }
    }
}

impl<S: AuditSink + ?Sized> AuditSink for FailOpen<S> {
    fn submit(&self, event: AuditEvent) -> Result<(), AuditError> {
        if self.inner.submit(event).is_err() {
            self.dropped.inc();
        }
        Ok(())
    }
    fn ready(&self) -> bool {
        true
    }
}

/// The sink the config asks for, wrapped in [`FailOpen`] only when
/// `fail_open = true`. Must be called inside a tokio runtime (the
/// PostgreSQL writer is a task).
pub fn open_sink(
    cfg: &AuditConfig,
    metrics: AuditMetrics,
) -> Result<Arc<dyn AuditSink>, OpenError> {
    cfg.validate().map_err(OpenError::Config)?;
    let sink: Arc<dyn AuditSink> = match cfg.sink {
        SinkKind::File => Arc::new(FileSink::open(cfg, metrics.clone())?),
        SinkKind::Postgres => Arc::new(PostgresSink::open(cfg, metrics.clone())?),
    };
    Ok(if cfg.fail_open {
        Arc::new(FailOpen::new(sink, &metrics))
    } else {
        sink
    })
}
