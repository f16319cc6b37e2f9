//! The `zaslon` binary: flags, tracing, config, and the library's entry
//! points. `anyhow` lives here only.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use zaslon::audit::AuditSink;
use zaslon::config::{Config, OsEnv};
use zaslon::consent::{ConsentSource, NoRecords};
use zaslon::proxy::ProxyState;
use zaslon::redact::Engine;
use zaslon::rules::RuleSet;

#[derive(Parser)]
#[command(
    name = "zaslon",
    version,
    about = "A privacy-enforcing reverse proxy for medical information systems"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the proxy.
    Serve {
        #[arg(long)]
        config: PathBuf,
    },
    /// Validate a config (and its rules): every problem with file, line
    /// and fix; exit non-zero on any.
    Check {
        #[arg(long)]
        config: PathBuf,
        /// Check this rules directory instead of the config's `[rules] dir`.
        #[arg(long)]
        rules: Option<PathBuf>,
    },
    /// Start a synthetic MIS and the proxy in front of it on loopback.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        #[arg(long, default_value = "127.0.0.1:8081")]
        upstream: SocketAddr,
    },
    /// `serve` with the audit events counted and dropped: benchmarks only,
    /// until an audit sink is wired in this build.
    #[command(hide = true)]
    BenchProxy {
        #[arg(long)]
        config: PathBuf,
    },
    /// A fixed-response upstream for benchmarks (JSON of about SIZE bytes).
    #[command(hide = true)]
    BenchUpstream {
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: SocketAddr,
        #[arg(long)]
        size: usize,
    },
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ZASLON_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check { config, rules } => check(&config, rules),
        other => {
            init_tracing();
            runtime().and_then(|rt| rt.block_on(run(other)))
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("zaslon: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

async fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Serve { config } => serve(&config, None).await,
        Command::BenchProxy { config } => {
            tracing::warn!("bench-proxy: audit events are dropped; never use this in production");
            serve(&config, Some(Arc::new(DropSink))).await
        }
        Command::Demo { listen, upstream } => {
            zaslon::demo::run(
                listen,
                upstream,
                zaslon::demo::fixture(),
                &OsEnv,
                zaslon::server::shutdown_signal(),
            )
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchUpstream { listen, size } => {
            let body = zaslon::demo::sample_json(size);
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            eprintln!("bench upstream on {listen}: {} bytes of JSON", body.len());
            zaslon::demo::serve_upstream(
                listener,
                zaslon::demo::fixed("application/json", body),
                zaslon::server::shutdown_signal(),
            )
            .await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { .. } => bail!("check runs without a runtime"),
    }
}

/// The consent source named by `[consent]`. Backends are added by the
/// consent module; until one is wired, only an absent section (no consent
/// records: opt-out purposes allowed, opt-in denied) starts.
fn consent_source(section: &toml::Table) -> anyhow::Result<Arc<dyn ConsentSource>> {
    match section.get("backend").and_then(|v| v.as_str()) {
        None if section.is_empty() => Ok(Arc::new(NoRecords)),
        Some(other) => bail!("[consent] backend = {other:?} is not available in this build"),
        None => bail!("[consent] needs `backend = \"file\" | \"postgres\" | \"http\"`"),
    }
}

/// The audit sink named by `[audit]`; refusing to start without one keeps
/// every request recorded.
fn audit_sink(section: &toml::Table) -> anyhow::Result<Arc<dyn AuditSink>> {
    match section.get("sink").and_then(|v| v.as_str()) {
        Some(other) => bail!("[audit] sink = {other:?} is not available in this build"),
        None => bail!("[audit] needs `sink = \"file\" | \"postgres\"`"),
    }
}

/// Drops audit events (bench-proxy only).
struct DropSink;

impl AuditSink for DropSink {
    fn submit(&self, _: zaslon::audit::AuditEvent) -> Result<(), zaslon::audit::AuditError> {
        Ok(())
    }
    fn ready(&self) -> bool {
        true
    }
}

async fn serve(
    path: &std::path::Path,
    audit: Option<Arc<dyn AuditSink>>,
) -> anyhow::Result<ExitCode> {
    let cfg = Config::load(path, &OsEnv).map_err(|e| anyhow::anyhow!("{e}"))?;
    let rules = match &cfg.rules_dir {
        Some(dir) => RuleSet::load_dir(dir).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => RuleSet::embedded(),
    };
    let engine = Engine::new(Arc::new(rules), cfg.pseudonym_key.clone());
    let consent = consent_source(&cfg.consent)?;
    let audit = match audit {
        Some(a) => a,
        None => audit_sink(&cfg.audit)?,
    };
    let state = ProxyState::from_config(&cfg, engine, consent, audit)?;
    let listener = zaslon::server::bind(cfg.listen.address)
        .with_context(|| format!("cannot listen on {}", cfg.listen.address))?;
    tracing::info!(address = %cfg.listen.address, tls = cfg.listen.tls.is_some(), "zaslon serving");
    zaslon::server::run(listener, Arc::new(state), zaslon::server::shutdown_signal()).await?;
    tracing::info!("zaslon stopped");
    Ok(ExitCode::SUCCESS)
}

fn check(config: &std::path::Path, rules: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let mut problems = 0usize;
    let cfg = match Config::load(config, &OsEnv) {
        Ok(c) => Some(c),
        Err(e) => {
            println!("{e}");
            problems += e.problems.len();
            None
        }
    };
    if let Some(cfg) = &cfg {
        for p in cfg.file_problems() {
            println!(
                "{}: {p}\n    fix: create the file or correct the path",
                config.display()
            );
            problems += 1;
        }
    }
    let dir = rules.or_else(|| cfg.as_ref().and_then(|c| c.rules_dir.clone()));
    if let Some(dir) = dir
        && let Err(e) = RuleSet::load_dir(&dir)
    {
        for line in &e.0 {
            println!("{line}");
        }
        problems += e.0.len().max(1);
    }
    if problems == 0 {
        println!("{}: ok", config.display());
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{problems} problem(s)");
        Ok(ExitCode::FAILURE)
    }
}
