//! The `zaslon` binary: flags, then the library does the work.

use std::io::{BufWriter, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use zaslon::class::Purpose;
use zaslon::redact::stream::redact_stream;
use zaslon::redact::{ContentKind, Engine, PseudonymKey};
use zaslon::rules::RuleSet;

#[derive(Parser)]
#[command(
    name = "zaslon",
    version,
    about = "A privacy-enforcing reverse proxy for medical information systems"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Stream stdin to stdout through the redaction engine.
    Redact {
        /// The rules directory (classes.toml and one file per purpose).
        #[arg(long, default_value = "rules")]
        rules: PathBuf,
        /// The purpose of processing: auth, appointments, care, documents,
        /// support, feedback, analytics, marketing, legal.
        #[arg(long)]
        purpose: String,
        /// application/json (default), application/x-ndjson or text/plain.
        #[arg(long, default_value = "application/json")]
        content_type: String,
        /// The environment variable holding the pseudonymization key.
        #[arg(long, default_value = "ZASLON_PSEUDONYM_KEY")]
        key_env: String,
    },
    /// Validate rules (and, with --config, a config file).
    Check {
        #[arg(long)]
        rules: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("zaslon: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.cmd {
        Cmd::Redact {
            rules,
            purpose,
            content_type,
            key_env,
        } => {
            let purpose: Purpose = purpose.parse()?;
            let rules = RuleSet::load_dir(&rules)
                .with_context(|| format!("rules in {} are not valid", rules.display()))?;
            let kind = ContentKind::from_content_type(&content_type);
            let key = pseudonym_key(&key_env, &rules, purpose)?;
            let engine = Engine::new(Arc::new(rules), key);
            let Some(mut redactor) = engine.redactor(purpose, kind) else {
                anyhow::bail!(
                    "content type {content_type:?} cannot be redacted; use application/json, application/x-ndjson or text/plain"
                );
            };
            let stdin = std::io::stdin();
            let mut input = stdin.lock();
            // Write to the descriptor directly: stdout's line buffering would
            // search every chunk for newlines.
            let stdout = std::io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .context("cannot use standard output")?;
            let mut output = BufWriter::with_capacity(64 << 10, std::fs::File::from(stdout));
            match redact_stream(&mut redactor, &mut input, &mut output) {
                Ok(_) => Ok(ExitCode::SUCCESS),
                Err(e) => {
                    // Whatever was written is incomplete: say so loudly.
                    let _ = output.flush();
                    anyhow::bail!("{e}; the output is incomplete and must be discarded")
                }
            }
        }
        Cmd::Check { rules } => {
            let dir = rules.unwrap_or_else(|| PathBuf::from("rules"));
            match RuleSet::load_dir(&dir) {
                Ok(r) => {
                    println!("{}: rules valid (version {})", dir.display(), r.version());
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    for line in &e.0 {
                        eprintln!("{}/{line}", dir.display());
                    }
                    eprintln!("{} error(s) in {}", e.0.len(), dir.display());
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

/// The pseudonymization key from the environment. Required only when the
/// purpose pseudonymizes something.
fn pseudonym_key(var: &str, rules: &RuleSet, purpose: Purpose) -> anyhow::Result<PseudonymKey> {
    let needs = zaslon::class::FieldClass::ALL
        .iter()
        .any(|c| rules.purpose(purpose).action(*c) == zaslon::rules::Action::Pseudonymize);
    match std::env::var(var) {
        Ok(k) if k.len() >= 16 => Ok(PseudonymKey::new(k.as_bytes())),
        Ok(_) => anyhow::bail!("{var} must hold at least 16 bytes of secret key"),
        Err(_) if needs => anyhow::bail!(
            "purpose {purpose} pseudonymizes values: set {var} to a secret key of at least 16 bytes (e.g. `export {var}=$(head -c 32 /dev/urandom | base64)`)"
        ),
        Err(_) => Ok(PseudonymKey::new(
            b"unused: this purpose pseudonymizes nothing",
        )),
    }
}
