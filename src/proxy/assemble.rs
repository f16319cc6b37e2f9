//! `zaslon serve` put together: the validated config turned into the proxy
//! state, the consent cache, the audit sink, one metrics registry shared by
//! all three, and the admin listener with readiness, reload and consent
//! invalidation. `main` calls [`assemble`] then [`Assembled::run`]; tests do
//! the same on `127.0.0.1:0`.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;

use super::{BuildError, ProxyState};
use crate::admin::{AdminState, Invalidate, InvalidateFn, ReloadFn};
use crate::audit::{AuditConfig, AuditSink, OpenError};
use crate::config::Config;
use crate::consent::{
    BackendKind, ConsentCache, ConsentConfig, ConsentSetupError, ConsentSource, NoRecords,
};
use crate::metrics::Metrics;
use crate::redact::Engine;
use crate::rules::RuleSet;

/// How often the readiness probes and the consent cache counters refresh.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Why `serve` cannot start. Messages name the config key to fix.
#[derive(Debug, thiserror::Error)]
pub enum AssembleError {
    #[error("rules: {0}")]
    Rules(String),
    #[error(transparent)]
    Consent(#[from] ConsentSetupError),
    #[error("{0}")]
    ConsentConfig(String),
    #[error(
        "no [audit] section: every access must be audited; add e.g.\n[audit]\nsink = \"file\"\npath = \"audit/zaslon.jsonl\""
    )]
    NoAudit,
    #[error("{0}")]
    AuditConfig(String),
    #[error(transparent)]
    Audit(#[from] OpenError),
    #[error(transparent)]
    Build(#[from] BuildError),
}

/// What `assemble` may be told besides the config.
#[derive(Default)]
pub struct Options {
    /// A version label for the config (`zaslon_config_info`), e.g. a hash
    /// of the file.
    pub config_version: String,
    /// Replaces the configured audit sink (`bench-proxy` only).
    pub audit: Option<Arc<dyn AuditSink>>,
}

/// Everything `serve` runs.
pub struct Assembled {
    pub state: Arc<ProxyState>,
    pub metrics: Arc<Metrics>,
    pub audit: Arc<dyn AuditSink>,
    /// `None` without a `[consent]` section (no records).
    pub consent: Option<Arc<ConsentCache>>,
    /// The admin address and routes; `None` without an `[admin]` section.
    pub admin: Option<(SocketAddr, AdminState)>,
    probes: Probes,
}

/// Readiness flags kept fresh by a background task.
#[derive(Clone)]
struct Probes {
    upstream: Arc<AtomicBool>,
    consent: Arc<AtomicBool>,
}

/// The rules the config names, or the embedded defaults.
pub fn load_rules(cfg: &Config) -> Result<RuleSet, String> {
    match &cfg.rules_dir {
        Some(dir) => RuleSet::load_dir(dir).map_err(|e| e.to_string()),
        None => Ok(RuleSet::embedded()),
    }
}

/// The consent cache over `[consent]`, or `None` for an absent section.
pub async fn consent_cache(cfg: &Config) -> Result<Option<Arc<ConsentCache>>, AssembleError> {
    if cfg.consent.is_empty() {
        return Ok(None);
    }
    let cc = ConsentConfig::from_toml(cfg.consent.clone()).map_err(AssembleError::ConsentConfig)?;
    let env = |k: &str| std::env::var(k).ok();
    Ok(Some(crate::consent::build(&cc, &env).await?))
}

/// The audit config of `[audit]`; an absent section is an error.
pub fn audit_config(cfg: &Config) -> Result<AuditConfig, AssembleError> {
    if cfg.audit.is_empty() {
        return Err(AssembleError::NoAudit);
    }
    AuditConfig::from_toml(cfg.audit.clone()).map_err(AssembleError::AuditConfig)
}

/// Builds every part from a validated config. Must run inside a tokio
/// runtime (the consent watcher and the audit writer are tasks).
pub async fn assemble(cfg: &Config, opts: Options) -> Result<Assembled, AssembleError> {
    let metrics = Arc::new(Metrics::new());
    let rules = load_rules(cfg).map_err(AssembleError::Rules)?;
    let engine = Engine::new(Arc::new(rules), cfg.pseudonym_key.clone());
    let rules_version = engine.rules().version().to_owned();

    let cache = consent_cache(cfg).await?;
    let consent: Arc<dyn ConsentSource> = match &cache {
        Some(c) => c.clone(),
        None => {
            tracing::warn!(
                "no [consent] section: consent source is NoRecords (opt-out purposes allowed, opt-in purposes denied)"
            );
            Arc::new(NoRecords)
        }
    };
    let audit = match opts.audit {
        Some(a) => a,
        None => crate::audit::open_sink(&audit_config(cfg)?, metrics.audit.clone())?,
    };
    let state = Arc::new(
        ProxyState::from_config(cfg, engine, consent, audit.clone())?.with_metrics(metrics.clone()),
    );
    let config_version = if opts.config_version.is_empty() {
        "unversioned".to_owned()
    } else {
        opts.config_version
    };
    metrics.set_config_info(&config_version, &rules_version);

    let probes = Probes {
        upstream: Arc::new(AtomicBool::new(false)),
        consent: Arc::new(AtomicBool::new(cache.is_none())),
    };
    let admin = cfg.admin.as_ref().map(|a| {
        let admin = admin_state(
            cfg,
            &state,
            &metrics,
            &audit,
            cache.as_ref(),
            &probes,
            config_version.clone(),
            a.token.as_deref(),
        );
        (a.address, admin)
    });
    Ok(Assembled {
        state,
        metrics,
        audit,
        consent: cache,
        admin,
        probes,
    })
}

#[allow(clippy::too_many_arguments)]
fn admin_state(
    cfg: &Config,
    state: &Arc<ProxyState>,
    metrics: &Arc<Metrics>,
    audit: &Arc<dyn AuditSink>,
    cache: Option<&Arc<ConsentCache>>,
    probes: &Probes,
    config_version: String,
    token: Option<&str>,
) -> AdminState {
    let audit = audit.clone();
    let up = probes.upstream.clone();
    let co = probes.consent.clone();
    let reload: ReloadFn = {
        let state = state.clone();
        let metrics = metrics.clone();
        let cfg = cfg.clone();
        Arc::new(move || {
            // A bad rules dir leaves the old rules in place.
            let rules = load_rules(&cfg)?;
            let version = rules.version().to_owned();
            state.swap_engine(Engine::new(Arc::new(rules), cfg.pseudonym_key.clone()));
            metrics.set_config_info(&config_version, &version);
            tracing::info!(rules_version = %version, "rules reloaded");
            Ok(format!("rules {version}"))
        })
    };
    let invalidate: InvalidateFn = match cache {
        Some(cache) => {
            let cache = cache.clone();
            let handle = tokio::runtime::Handle::current();
            Arc::new(move |what| {
                match what {
                    // Runs on a blocking thread (the admin's spawn_blocking).
                    Invalidate::Subject(s) => handle.block_on(cache.invalidate(&s)),
                    Invalidate::All => cache.invalidate_all(),
                }
                Ok("invalidated".to_owned())
            })
        }
        None => Arc::new(|_| Ok("no consent cache".to_owned())),
    };
    AdminState::new(metrics.clone(), token)
        .check("audit", Arc::new(move || audit.ready()))
        .check("upstream", Arc::new(move || up.load(Ordering::Relaxed)))
        .check("consent", Arc::new(move || co.load(Ordering::Relaxed)))
        .on_reload(reload)
        .on_invalidate(invalidate)
}

/// How the consent backend is probed for `/readyz`.
enum ConsentProbe {
    /// No records: always ready.
    None,
    /// The journal file is readable.
    File(PathBuf),
    Postgres(Arc<crate::consent::PgSource>),
    /// The HTTP service has no probe: ready while its lookups do not fail.
    Http,
}

fn consent_probe(cfg: &Config) -> ConsentProbe {
    let Ok(cc) = ConsentConfig::from_toml(cfg.consent.clone()) else {
        return ConsentProbe::None;
    };
    match cc.backend {
        BackendKind::File => cc.path.map_or(ConsentProbe::None, ConsentProbe::File),
        BackendKind::Postgres => {
            let dsn = cc
                .dsn
                .clone()
                .or_else(|| cc.dsn_env.as_deref().and_then(|v| std::env::var(v).ok()));
            let Some(pg) = dsn.and_then(|d| d.parse::<tokio_postgres::Config>().ok()) else {
                return ConsentProbe::Http;
            };
            let names = crate::consent::PgNames {
                schema: cc.schema.clone(),
                consent_table: cc.consent_table.clone(),
                state_table: cc.state_table.clone(),
                channel: cc.channel.clone(),
            };
            match crate::consent::PgSource::new(pg, names, cc.timeout()) {
                Ok(s) => ConsentProbe::Postgres(Arc::new(s)),
                Err(_) => ConsentProbe::Http,
            }
        }
        BackendKind::Http => ConsentProbe::Http,
    }
}

impl Assembled {
    /// Serves the proxy on `listener` and the admin routes on `admin` (when
    /// given) until `shutdown`.
    pub async fn run(
        self,
        cfg: &Config,
        listener: TcpListener,
        admin: Option<TcpListener>,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let probe_task = tokio::spawn(probe_loop(
            self.state.clone(),
            self.metrics.clone(),
            self.consent.clone(),
            consent_probe(cfg),
            self.probes.clone(),
        ));
        let admin_task = match (admin, self.admin) {
            (Some(l), Some((_, state))) => Some(tokio::spawn(crate::admin::run_admin(
                l,
                state,
                stopped(rx.clone()),
            ))),
            _ => None,
        };
        let proxy = crate::server::run(listener, self.state.clone(), stopped(rx.clone()));
        tokio::pin!(proxy);
        tokio::pin!(shutdown);
        let result = tokio::select! {
            r = &mut proxy => r,
            () = &mut shutdown => {
                let _ = tx.send(true);
                proxy.await
            }
        };
        let _ = tx.send(true);
        probe_task.abort();
        if let Some(t) = admin_task {
            let _ = t.await;
        }
        result
    }
}

/// Every `PROBE_EVERY`: the upstream's TCP port, the consent backend, and
/// the consent cache's counters copied into the metrics.
async fn probe_loop(
    state: Arc<ProxyState>,
    metrics: Arc<Metrics>,
    cache: Option<Arc<ConsentCache>>,
    probe: ConsentProbe,
    flags: Probes,
) {
    let mut last = crate::consent::CacheStats::default();
    loop {
        let upstream_ok = match state.upstreams.first() {
            Some(u) => {
                let port = u
                    .authority()
                    .port_u16()
                    .unwrap_or(if u.is_https() { 443 } else { 80 });
                let addr = format!("{}:{port}", u.authority().host());
                matches!(
                    tokio::time::timeout(PROBE_EVERY, tokio::net::TcpStream::connect(addr)).await,
                    Ok(Ok(_))
                )
            }
            None => false,
        };
        flags.upstream.store(upstream_ok, Ordering::Relaxed);
        let consent_ok = match &probe {
            ConsentProbe::None => true,
            ConsentProbe::File(p) => std::fs::metadata(p).is_ok(),
            ConsentProbe::Postgres(pg) => matches!(
                tokio::time::timeout(PROBE_EVERY, pg.probe()).await,
                Ok(Ok(true))
            ),
            ConsentProbe::Http => cache
                .as_ref()
                .is_none_or(|c| c.stats().backend_errors == last.backend_errors),
        };
        flags.consent.store(consent_ok, Ordering::Relaxed);
        if let Some(c) = &cache {
            let now = c.stats();
            metrics
                .consent_cache_hits_total
                .inc_by(now.hits.saturating_sub(last.hits));
            metrics
                .consent_cache_misses_total
                .inc_by(now.misses.saturating_sub(last.misses));
            metrics
                .consent_cache_backend_errors_total
                .inc_by(now.backend_errors.saturating_sub(last.backend_errors));
            last = now;
        }
        tokio::time::sleep(PROBE_EVERY).await;
    }
}
