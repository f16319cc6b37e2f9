//! Consent: the per-subject state, the decision a purpose's consent mode
//! makes from it, and the [`ConsentSource`] seam that backends fill.
//!
//! ```text
//! proxy --lookup(&[subject])--> ConsentCache (moka, TTL, single-flight, stale window)
//!                                   | miss (one call per batch)
//!                                   v
//!                  FileSource | PgSource | HttpSource
//!                                   | change (journal poll, NOTIFY)
//!                                   `--> Invalidator --> cache entry dropped
//! ```
//!
//! [`build`] turns a [`ConsentConfig`] into the cache with its backend and
//! watcher running. `docs/consent.md` is the operator's guide.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub mod cache;
pub mod config;
pub mod file;
pub mod http;
pub mod memory;
pub mod postgres;

pub use cache::{CacheSettings, CacheStats, ConsentCache, Invalidator};
pub use config::{BackendKind, ConsentConfig};
pub use file::{FileSource, consent_line, state_line};
pub use http::HttpSource;
pub use memory::MemorySource;
pub use postgres::{PgNames, PgSource};

use crate::class::Purpose;
use crate::rules::ConsentMode;

/// What is known of one subject: blocked or not, and per purpose whether
/// consent was granted (`Some(true)`), withdrawn (`Some(false)`) or never
/// recorded (`None`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubjectState {
    pub blocked: bool,
    pub purposes: [Option<bool>; 9],
}

impl SubjectState {
    pub fn granted(&self, p: Purpose) -> Option<bool> {
        self.purposes[p.index()]
    }
}

/// The consent decision for one (subject, purpose).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentDecision {
    Allow,
    /// Allowed because the purpose never consults consent (`legal`), while
    /// the subject had withdrawn or is blocked: flagged in the audit.
    LegalOverride,
    Withdrawn,
    /// Opt-in purpose without a recorded grant.
    NotGranted,
    Blocked,
}

impl ConsentDecision {
    pub fn allowed(self) -> bool {
        matches!(
            self,
            ConsentDecision::Allow | ConsentDecision::LegalOverride
        )
    }

    /// The error code of a denial, the audit's consent result otherwise.
    pub fn code(self) -> &'static str {
        match self {
            ConsentDecision::Allow => "allow",
            ConsentDecision::LegalOverride => "legal_override",
            ConsentDecision::Withdrawn => "consent_withdrawn",
            ConsentDecision::NotGranted => "consent_withdrawn",
            ConsentDecision::Blocked => "subject_blocked",
        }
    }
}

/// Applies a purpose's consent mode to a subject's state.
pub fn decide(mode: ConsentMode, purpose: Purpose, state: &SubjectState) -> ConsentDecision {
    let granted = state.granted(purpose);
    match mode {
        ConsentMode::None => {
            if state.blocked || granted == Some(false) {
                ConsentDecision::LegalOverride
            } else {
                ConsentDecision::Allow
            }
        }
        _ if state.blocked => ConsentDecision::Blocked,
        ConsentMode::OptOut if granted == Some(false) => ConsentDecision::Withdrawn,
        ConsentMode::OptOut => ConsentDecision::Allow,
        ConsentMode::OptIn if granted == Some(true) => ConsentDecision::Allow,
        ConsentMode::OptIn => ConsentDecision::NotGranted,
    }
}

/// A backend could not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConsentError {
    #[error("the consent backend is unavailable")]
    Unavailable,
    #[error("the consent backend did not answer in time")]
    Timeout,
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where consent state comes from. `lookup` answers for a batch of subjects
/// (a list page asks once per page), in the order asked; a subject without
/// any record gets `SubjectState::default()`.
pub trait ConsentSource: Send + Sync + 'static {
    fn lookup<'a>(
        &'a self,
        subjects: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<SubjectState>, ConsentError>>;

    /// The subject's state when it is at hand without waiting (a fresh
    /// cache entry), with the same freshness rules as `lookup`; `None`
    /// means "ask `lookup`". Lets list records stream instead of waiting
    /// for a batched lookup.
    fn cached(&self, _subject: &str) -> Option<SubjectState> {
        None
    }
}

/// A source that has no records: every opt-out purpose is allowed, every
/// opt-in purpose denied. For tests and for routes without consent.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoRecords;

impl ConsentSource for NoRecords {
    fn lookup<'a>(
        &'a self,
        subjects: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<SubjectState>, ConsentError>> {
        Box::pin(async move { Ok(vec![SubjectState::default(); subjects.len()]) })
    }

    fn cached(&self, _subject: &str) -> Option<SubjectState> {
        Some(SubjectState::default())
    }
}

/// Why the consent backend could not be set up. Messages name the config
/// key to fix and never carry consent data.
#[derive(Debug, thiserror::Error)]
pub enum ConsentSetupError {
    #[error("{0}")]
    Config(String),
    #[error("[consent]: environment variable {0} is not set")]
    MissingEnv(String),
    #[error(
        "[consent]: cannot read the consent journal {path}: {kind}; create it (an empty file is a journal without events)"
    )]
    Journal {
        path: std::path::PathBuf,
        kind: std::io::ErrorKind,
    },
    #[error("[consent]: PostgreSQL: {0}")]
    Postgres(String),
}

impl CacheSettings {
    pub fn from_config(cfg: &ConsentConfig) -> CacheSettings {
        CacheSettings {
            ttl: cfg.ttl(),
            max_subjects: cfg.max_subjects,
            stale_serve: cfg.stale_serve(),
            timeout: cfg.timeout(),
        }
    }
}

/// Builds the cache over the configured backend and starts its watcher
/// (journal poll or LISTEN), which lives as long as the cache. `env` reads
/// environment variables (`dsn_env`, `token_env`); pass
/// `&|k| std::env::var(k).ok()` in production.
///
/// A PostgreSQL server that cannot be reached is not an error here: lookups
/// fail closed until it can. Tables that are not where the config says are.
pub async fn build(
    cfg: &ConsentConfig,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<Arc<ConsentCache>, ConsentSetupError> {
    cfg.validate().map_err(ConsentSetupError::Config)?;
    let settings = CacheSettings::from_config(cfg);
    let from_env =
        |name: &str| env(name).ok_or_else(|| ConsentSetupError::MissingEnv(name.to_owned()));
    match cfg.backend {
        BackendKind::File => {
            let path = cfg.path.as_deref().ok_or_else(|| {
                ConsentSetupError::Config("[consent]: backend = \"file\" needs `path`".into())
            })?;
            let source = FileSource::open(path).map_err(|e| ConsentSetupError::Journal {
                path: path.to_owned(),
                kind: e.kind(),
            })?;
            let cache = ConsentCache::new(source.clone(), settings);
            let task = source.watch(cache.invalidator(), cfg.poll());
            cache.attach_task(task.abort_handle());
            Ok(Arc::new(cache))
        }
        BackendKind::Postgres => {
            let dsn = match (&cfg.dsn, &cfg.dsn_env) {
                (Some(d), _) => d.clone(),
                (None, Some(var)) => from_env(var)?,
                (None, None) => {
                    return Err(ConsentSetupError::Config(
                        "[consent]: backend = \"postgres\" needs `dsn` or `dsn_env`".into(),
                    ));
                }
            };
            let pg_config: tokio_postgres::Config = dsn.parse().map_err(|e| {
                ConsentSetupError::Config(format!("[consent]: `dsn` does not parse: {e}"))
            })?;
            let names = PgNames {
                schema: cfg.schema.clone(),
                consent_table: cfg.consent_table.clone(),
                state_table: cfg.state_table.clone(),
                channel: cfg.channel.clone(),
            };
            let source = Arc::new(
                PgSource::new(pg_config, names, cfg.timeout())
                    .map_err(ConsentSetupError::Config)?,
            );
            source.probe().await.map_err(ConsentSetupError::Postgres)?;
            let cache = ConsentCache::new(source.clone(), settings);
            let task = source.listen(cache.invalidator());
            cache.attach_task(task.abort_handle());
            Ok(Arc::new(cache))
        }
        BackendKind::Http => {
            let endpoint = cfg.endpoint.as_deref().ok_or_else(|| {
                ConsentSetupError::Config("[consent]: backend = \"http\" needs `endpoint`".into())
            })?;
            let token = cfg.token_env.as_deref().map(from_env).transpose()?;
            let source = HttpSource::new(endpoint, token, cfg.timeout(), cfg.retries)
                .map_err(|e| ConsentSetupError::Config(format!("[consent]: {e}")))?;
            Ok(Arc::new(ConsentCache::new(Arc::new(source), settings)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_decide() {
        let mut s = SubjectState::default();
        assert_eq!(
            decide(ConsentMode::OptOut, Purpose::Care, &s),
            ConsentDecision::Allow
        );
        assert_eq!(
            decide(ConsentMode::OptIn, Purpose::Marketing, &s),
            ConsentDecision::NotGranted
        );
        s.purposes[Purpose::Marketing.index()] = Some(true);
        assert_eq!(
            decide(ConsentMode::OptIn, Purpose::Marketing, &s),
            ConsentDecision::Allow
        );
        s.purposes[Purpose::Care.index()] = Some(false);
        assert_eq!(
            decide(ConsentMode::OptOut, Purpose::Care, &s),
            ConsentDecision::Withdrawn
        );
        s.blocked = true;
        assert_eq!(
            decide(ConsentMode::OptIn, Purpose::Marketing, &s),
            ConsentDecision::Blocked
        );
        assert_eq!(
            decide(ConsentMode::None, Purpose::Legal, &s),
            ConsentDecision::LegalOverride
        );
        assert_eq!(
            decide(ConsentMode::None, Purpose::Legal, &SubjectState::default()),
            ConsentDecision::Allow
        );
    }
}
