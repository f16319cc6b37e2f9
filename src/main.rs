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
use zaslon::proxy::assemble;
use zaslon::redact::Engine;
use zaslon::rules::RuleSet;

/// Under load glibc's malloc made request threads wait on each other's arena
/// locks (a buffer allocated on one worker and freed on another: futex waits
/// per request under `serve`); mimalloc keeps a heap per thread.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Validate a config (and its rules), or a rules directory alone: every
    /// problem with file, line and fix; exit non-zero on any.
    Check {
        #[arg(long, required_unless_present = "rules")]
        config: Option<PathBuf>,
        /// Check this rules directory instead of the config's `[rules] dir`.
        #[arg(long)]
        rules: Option<PathBuf>,
    },
    /// Stream stdin to stdout through the redaction engine.
    Redact {
        /// The rules directory (classes.toml and one file per purpose).
        #[arg(long, default_value = "rules")]
        rules: PathBuf,
        /// The purpose: auth, appointments, care, documents, support,
        /// feedback, analytics, marketing, legal.
        #[arg(long)]
        purpose: String,
        /// application/json (default), application/x-ndjson or text/plain.
        #[arg(long, default_value = "application/json")]
        content_type: String,
        /// The environment variable holding the pseudonymization key.
        #[arg(long, default_value = "ZASLON_PSEUDONYM_KEY")]
        key_env: String,
    },
    /// Start a synthetic MIS and the proxy in front of it on loopback.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        #[arg(long, default_value = "127.0.0.1:8081")]
        upstream: SocketAddr,
        /// The admin listener (metrics, readiness, reload).
        #[arg(long, default_value = "127.0.0.1:9901")]
        admin: SocketAddr,
        /// The demo's consent journal (rewritten at start) and audit files.
        #[arg(long, default_value = "zaslon-demo")]
        dir: PathBuf,
    },
    /// The audit: verify the hash chain, or list a subject's accesses.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// `serve` with the audit events dropped: benchmarks only.
    #[command(hide = true)]
    BenchProxy {
        #[arg(long)]
        config: PathBuf,
    },
    /// A bare hyper pass-through proxy with no policy at all: the load
    /// benchmark's reference for what hyper alone costs. Benchmarks only.
    #[command(hide = true)]
    BenchPassthrough {
        #[arg(long)]
        listen: SocketAddr,
        #[arg(long)]
        upstream: http::Uri,
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

#[derive(Subcommand)]
enum AuditCommand {
    /// Checks the hash chain across FILEs, in order; names the first
    /// broken, missing or reordered record.
    Verify {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Every recorded access to one subject's data.
    Query {
        /// The subject (patient) id, as the MIS writes it.
        #[arg(long)]
        subject: String,
        /// From this time (RFC 3339 or YYYY-MM-DD), inclusive.
        #[arg(long)]
        from: Option<String>,
        /// Until this time (RFC 3339 or YYYY-MM-DD), exclusive.
        #[arg(long)]
        to: Option<String>,
        /// Read the sink `[audit]` of this config names (and its key_env).
        #[arg(long, required_unless_present = "file")]
        config: Option<PathBuf>,
        /// Read these audit files instead.
        #[arg(long, num_args = 1..)]
        file: Vec<PathBuf>,
        /// The pseudonymization key variable when no config names one.
        #[arg(long, default_value = "ZASLON_PSEUDONYM_KEY")]
        key_env: String,
        /// JSON Lines instead of a table.
        #[arg(long)]
        json: bool,
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
        Command::Check { config, rules } => check(config.as_deref(), rules),
        Command::Redact {
            rules,
            purpose,
            content_type,
            key_env,
        } => redact(&rules, &purpose, &content_type, &key_env),
        Command::Audit {
            command: AuditCommand::Verify { files },
        } => audit_verify(&files),
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
        Command::Audit {
            command:
                AuditCommand::Query {
                    subject,
                    from,
                    to,
                    config,
                    file,
                    key_env,
                    json,
                },
        } => {
            audit_query(
                &subject,
                from.as_deref(),
                to.as_deref(),
                config.as_deref(),
                &file,
                &key_env,
                json,
            )
            .await
        }
        Command::BenchProxy { config } => {
            tracing::warn!("bench-proxy: audit events are dropped; never use this in production");
            serve(&config, Some(Arc::new(DropSink))).await
        }
        Command::Demo {
            listen,
            upstream,
            admin,
            dir,
        } => {
            let program = std::env::args().next().unwrap_or_else(|| "zaslon".into());
            let opts = zaslon::demo::DemoOptions {
                proxy: listen,
                upstream,
                admin,
                dir,
                program,
            };
            let demo = zaslon::demo::prepare(opts, &OsEnv).await?;
            println!("{}", demo.instructions());
            demo.run(zaslon::server::shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchPassthrough { listen, upstream } => {
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            tracing::warn!("bench-passthrough forwards everything unredacted: benchmarks only");
            zaslon::passthrough::run(listener, upstream, zaslon::server::shutdown_signal()).await;
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
        Command::Check { .. }
        | Command::Redact { .. }
        | Command::Audit {
            command: AuditCommand::Verify { .. },
        } => bail!("runs without a runtime"),
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

/// A short version label for the config file: its SHA-256, 12 hex digits.
fn config_version(path: &std::path::Path) -> String {
    use sha2::{Digest, Sha256};
    std::fs::read(path)
        .map(|b| hex::encode(&Sha256::digest(&b)[..6]))
        .unwrap_or_default()
}

async fn serve(
    path: &std::path::Path,
    audit: Option<Arc<dyn AuditSink>>,
) -> anyhow::Result<ExitCode> {
    let cfg = Config::load(path, &OsEnv).map_err(|e| anyhow::anyhow!("{e}"))?;
    let opts = assemble::Options {
        config_version: config_version(path),
        audit,
    };
    let parts = assemble::assemble(&cfg, opts)
        .await
        .with_context(|| format!("{}: cannot start", path.display()))?;
    let listener = zaslon::server::bind(cfg.listen.address)
        .with_context(|| format!("cannot listen on {}", cfg.listen.address))?;
    let admin = match &parts.admin {
        Some((addr, _)) => {
            let l = zaslon::server::bind(*addr)
                .with_context(|| format!("cannot listen on {addr} (admin)"))?;
            tracing::info!(address = %addr, "admin listening");
            Some(l)
        }
        None => {
            tracing::warn!("no [admin] section: no metrics, readiness, reload or invalidation");
            None
        }
    };
    tracing::info!(address = %cfg.listen.address, tls = cfg.listen.tls.is_some(), "zaslon serving");
    parts
        .run(&cfg, listener, admin, zaslon::server::shutdown_signal())
        .await?;
    tracing::info!("zaslon stopped");
    Ok(ExitCode::SUCCESS)
}

/// `zaslon audit verify`.
fn audit_verify(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    match zaslon::audit::verify(files) {
        Ok(report) => {
            println!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("broken: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `zaslon audit query`.
async fn audit_query(
    subject: &str,
    from: Option<&str>,
    to: Option<&str>,
    config: Option<&std::path::Path>,
    files: &[PathBuf],
    key_env: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    use zaslon::audit::query;
    let window = query::Window::parse(from, to)?;
    let accesses = if files.is_empty() {
        let path = config.context("--config or --file is required")?;
        let cfg = Config::load(path, &OsEnv).map_err(|e| anyhow::anyhow!("{e}"))?;
        let audit = assemble::audit_config(&cfg)?;
        query::query(&audit, &cfg.pseudonym_key, subject, window).await?
    } else {
        let key = query::key_from_env(key_env)?;
        let pseudonym = query::subject_pseudonym(&key, subject);
        query::query_files(files, &pseudonym, window)?
    };
    if json {
        for a in &accesses {
            println!("{}", serde_json::to_string(a)?);
        }
    } else {
        print!("{}", query::render(&accesses));
    }
    eprintln!("{} access(es)", accesses.len());
    Ok(ExitCode::SUCCESS)
}

fn check(config: Option<&std::path::Path>, rules: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let mut problems = 0usize;
    let cfg = match config.map(|c| Config::load(c, &OsEnv)) {
        Some(Ok(c)) => Some(c),
        Some(Err(e)) => {
            println!("{e}");
            problems += e.problems.len();
            None
        }
        None => None,
    };
    if let (Some(cfg), Some(path)) = (&cfg, config) {
        for p in cfg.file_problems() {
            println!(
                "{}: {p}\n    fix: create the file or correct the path",
                path.display()
            );
            problems += 1;
        }
    }
    if let (Some(cfg), Some(path)) = (&cfg, config)
        && let Err(e) = zaslon::proxy::record_specs(&cfg.routes)
    {
        println!(
            "{}: {e}\n    fix: write records = \"$.items[*]\" and record_subject = \"id\"",
            path.display()
        );
        problems += 1;
    }
    let dir = rules.or_else(|| cfg.as_ref().and_then(|c| c.rules_dir.clone()));
    if let Some(dir) = &dir
        && let Err(e) = RuleSet::load_dir(dir)
    {
        for line in &e.0 {
            println!("{}/{line}", dir.display());
        }
        problems += e.0.len().max(1);
    }
    let what = config.map_or_else(
        || {
            dir.as_ref()
                .map_or_else(String::new, |d| d.display().to_string())
        },
        |c| c.display().to_string(),
    );
    if problems == 0 {
        println!("{what}: ok");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{problems} problem(s)");
        Ok(ExitCode::FAILURE)
    }
}

/// `zaslon redact`: stdin to stdout in bounded chunks.
fn redact(
    rules: &std::path::Path,
    purpose: &str,
    content_type: &str,
    key_env: &str,
) -> anyhow::Result<ExitCode> {
    use std::io::{BufWriter, Write};
    use std::os::fd::AsFd;
    use zaslon::redact::ContentKind;
    use zaslon::redact::stream::redact_stream;

    let purpose: zaslon::class::Purpose = purpose.parse()?;
    let rules = RuleSet::load_dir(rules)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("the rules in {} are not valid", rules.display()))?;
    let kind = ContentKind::from_content_type(content_type);
    let key = redact_key(key_env, &rules, purpose)?;
    let engine = Engine::new(Arc::new(rules), key);
    let Some(mut redactor) = engine.redactor(purpose, kind) else {
        bail!(
            "content type {content_type:?} cannot be redacted; use application/json, application/x-ndjson, application/fhir+json, application/fhir+ndjson or text/plain"
        );
    };
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    // Write to the descriptor directly: stdout's line buffering would search
    // every chunk for newlines.
    let fd = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .context("cannot use standard output")?;
    let mut output = BufWriter::with_capacity(64 << 10, std::fs::File::from(fd));
    match redact_stream(&mut redactor, &mut input, &mut output) {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            let _ = output.flush();
            bail!("{e}; the output is incomplete and must be discarded")
        }
    }
}

/// The pseudonymization key from the environment; required only when the
/// purpose pseudonymizes something.
fn redact_key(
    var: &str,
    rules: &RuleSet,
    purpose: zaslon::class::Purpose,
) -> anyhow::Result<zaslon::redact::PseudonymKey> {
    let needs = zaslon::class::FieldClass::ALL
        .iter()
        .any(|c| rules.purpose(purpose).action(*c) == zaslon::rules::Action::Pseudonymize);
    use zaslon::config::MIN_KEY_BYTES;
    match std::env::var(var) {
        Ok(k) if k.len() >= MIN_KEY_BYTES => Ok(zaslon::redact::PseudonymKey::new(k.as_bytes())),
        Ok(_) => bail!(
            "{var} must hold at least {MIN_KEY_BYTES} bytes of secret key, as `serve` requires (e.g. `export {var}=$(head -c 32 /dev/urandom | base64)`)"
        ),
        Err(_) if needs => bail!(
            "purpose {purpose} pseudonymizes values: set {var} to a secret key of at least {MIN_KEY_BYTES} bytes (e.g. `export {var}=$(head -c 32 /dev/urandom | base64)`)"
        ),
        Err(_) => Ok(zaslon::redact::PseudonymKey::new(
            b"unused: this purpose pseudonymizes nothing",
        )),
    }
}
