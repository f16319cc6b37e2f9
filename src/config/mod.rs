//! `zaslon.toml`: the raw serde shape ([`raw`]) validated into [`Config`],
//! the only thing the runtime sees.
//!
//! Validation collects every problem of a file, each with its line and what
//! to write instead, so `zaslon check` can report them all at once. Nothing
//! here touches the filesystem except [`Config::load`] reading the file and
//! [`Config::file_problems`] checking that referenced files exist.
//! Relative paths are relative to the working directory.

use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::class::Purpose;
use crate::proxy::route::Route;
use crate::redact::PseudonymKey;

mod check;
pub mod diag;
pub mod env;
mod raw;
#[cfg(test)]
mod tests;

pub use diag::{ConfigError, Problem};
pub use env::{Env, OsEnv};

use check::*;
use diag::Diag;
use raw::*;

/// Files for the listener's TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// With a client CA, clients present certificates (mTLS).
    pub client_ca: Option<PathBuf>,
    pub client_cert_optional: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenConfig {
    pub address: SocketAddr,
    pub tls: Option<TlsFiles>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    pub address: SocketAddr,
    /// The bearer token for everything but health, from `token_env`.
    pub token: Option<String>,
}

/// An upstream: `[upstream]` is the default (index 0), `[upstreams.NAME]`
/// are named ones that routes may pick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamConfig {
    pub name: String,
    pub url: http::Uri,
    pub ca: Option<PathBuf>,
}

/// A client and the purposes it is granted.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientConfig {
    pub id: String,
    pub api_key_sha256: Option<[u8; 32]>,
    pub tls_name: Option<String>,
    pub purposes: Vec<Purpose>,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("id", &self.id)
            .field("api_key_sha256", &self.api_key_sha256.map(|_| ".."))
            .field("tls_name", &self.tls_name)
            .field("purposes", &self.purposes)
            .finish()
    }
}

/// What to do with a request no route matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unmatched {
    /// 404 `no_route`.
    #[default]
    Deny,
    /// Forward to the default upstream, without a subject, reads only; the
    /// purpose check and the redaction still apply.
    Pass,
}

/// Limits and timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_header_bytes: usize,
    pub max_request_body_bytes: u64,
    /// Time to read a request head (and the TLS handshake): slowloris cut.
    pub header_read_timeout: Duration,
    /// A connection with no bytes either way for this long is closed (the
    /// watch looks every quarter of it, so within 1.25 times this).
    pub idle_timeout: Duration,
    /// Time for the upstream to answer with its response head.
    pub upstream_timeout: Duration,
    /// How long in-flight requests may drain at shutdown.
    pub shutdown_grace: Duration,
    pub max_connections: usize,
    /// Threads serving connections, each with its own single-threaded
    /// runtime and upstream connection pool; 0 means one per CPU.
    pub workers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 16 * 1024,
            max_request_body_bytes: 1024 * 1024,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            upstream_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            max_connections: 10_000,
            workers: 0,
        }
    }
}

/// The validated config.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: ListenConfig,
    pub admin: Option<AdminConfig>,
    /// The default upstream first.
    pub upstreams: Vec<UpstreamConfig>,
    pub rules_dir: Option<PathBuf>,
    pub pseudonym_key: PseudonymKey,
    /// `[consent]` as written; the consent module validates it.
    pub consent: toml::Table,
    /// `[audit]` as written; the audit module validates it.
    pub audit: toml::Table,
    pub clients: Vec<ClientConfig>,
    pub routes: Vec<Route>,
    pub unmatched: Unmatched,
    pub limits: Limits,
}

const SECTIONS: &[&str] = &[
    "listen",
    "admin",
    "upstream",
    "upstreams",
    "rules",
    "pseudonymization",
    "consent",
    "audit",
    "clients",
    "routes",
    "routing",
    "limits",
];

/// The least length of the pseudonymization key, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path, env: &dyn Env) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            problems: vec![Problem {
                line: 0,
                column: 0,
                message: format!("cannot read the file: {}", e.kind()),
                fix: "give the path of a readable zaslon.toml".into(),
            }],
        })?;
        Config::parse(&text, &file, env)
    }

    /// Validates config text; `file` names it in the problems.
    pub fn parse(text: &str, file: &str, env: &dyn Env) -> Result<Config, ConfigError> {
        let mut d = Diag::new(text);
        let cfg = parse_into(text, &mut d, env);
        match cfg {
            Some(cfg) if d.problems.is_empty() => Ok(cfg),
            _ => {
                if d.problems.is_empty() {
                    d.global(
                        "the config is incomplete",
                        "see config/demo.toml for a full example",
                    );
                }
                Err(ConfigError {
                    file: file.to_owned(),
                    problems: d.problems,
                })
            }
        }
    }

    /// Files the config names that do not exist or cannot be read (for
    /// `zaslon check`; `serve` fails on them when it opens them).
    pub fn file_problems(&self) -> Vec<String> {
        let mut files: Vec<(&str, &Path)> = Vec::new();
        if let Some(tls) = &self.listen.tls {
            files.push(("listen.tls.cert", &tls.cert));
            files.push(("listen.tls.key", &tls.key));
            if let Some(ca) = &tls.client_ca {
                files.push(("listen.tls.client_ca", ca));
            }
        }
        for u in &self.upstreams {
            if let Some(ca) = &u.ca {
                files.push(("upstream.ca", ca));
            }
        }
        files
            .into_iter()
            .filter(|(_, p)| std::fs::metadata(p).is_err())
            .map(|(k, p)| format!("{k}: the file {} cannot be read", p.display()))
            .collect()
    }
}

fn section<'i, T: Deserialize<'i>>(d: &mut Diag<'_>, v: Spanned<DeValue<'i>>) -> Option<T> {
    let span = v.span();
    match T::deserialize(ValueDeserializer::from(v)) {
        Ok(t) => Some(t),
        Err(e) => {
            d.toml_error(&e, span);
            None
        }
    }
}

/// Deserializes each element of an array of tables on its own, so that one
/// bad element does not hide the problems of the next.
fn elements<'i, T: Deserialize<'i>>(
    d: &mut Diag<'_>,
    name: &str,
    v: Spanned<DeValue<'i>>,
) -> Vec<T> {
    let span = v.span();
    match v.into_inner() {
        DeValue::Array(items) => items.into_iter().filter_map(|i| section(d, i)).collect(),
        _ => {
            d.at(
                span,
                format!("`{name}` must be an array of tables"),
                format!("write each entry as a `[[{name}]]` table"),
            );
            Vec::new()
        }
    }
}

fn parse_into(text: &str, d: &mut Diag<'_>, env: &dyn Env) -> Option<Config> {
    let root = match DeTable::parse(text) {
        Ok(t) => t,
        Err(e) => {
            d.toml_error(&e, 0..text.len());
            return None;
        }
    };
    let mut listen = None;
    let mut admin = None;
    let mut upstream = None;
    let mut named: Vec<(String, Range<usize>, RawUpstream)> = Vec::new();
    let mut rules = None;
    let mut pseudo = None;
    let mut consent = toml::Table::new();
    let mut audit = toml::Table::new();
    let mut clients: Vec<RawClient> = Vec::new();
    let mut routes: Vec<RawRoute> = Vec::new();
    let mut routing: Option<RawRouting> = None;
    let mut limits: Option<RawLimits> = None;
    // Sections present in the file, valid or not: a broken section is
    // reported once, not also as missing.
    let mut present: Vec<&str> = Vec::new();

    for (k, v) in root.into_inner() {
        if let Some(s) = SECTIONS.iter().find(|s| **s == k.get_ref().as_ref()) {
            present.push(s);
        }
        match k.as_ref().as_ref() {
            "listen" => listen = section::<RawListen>(d, v),
            "admin" => admin = section::<RawAdmin>(d, v),
            "upstream" => upstream = section::<RawUpstream>(d, v),
            "upstreams" => {
                let span = v.span();
                match v.into_inner() {
                    DeValue::Table(t) => {
                        for (name, u) in t {
                            let s = name.span();
                            if let Some(u) = section::<RawUpstream>(d, u) {
                                named.push((name.into_inner().into_owned(), s, u));
                            }
                        }
                    }
                    _ => d.at(
                        span,
                        "`upstreams` must be a table of named upstreams",
                        "write `[upstreams.NAME]` with `url = \"...\"`",
                    ),
                }
            }
            "rules" => rules = section::<RawRules>(d, v),
            "pseudonymization" => pseudo = section::<RawPseudonymization>(d, v),
            "consent" => consent = section::<toml::Table>(d, v).unwrap_or_default(),
            "audit" => audit = section::<toml::Table>(d, v).unwrap_or_default(),
            "clients" => clients = elements(d, "clients", v),
            "routes" => routes = elements(d, "routes", v),
            "routing" => routing = section::<RawRouting>(d, v),
            "limits" => limits = section::<RawLimits>(d, v),
            other => d.at(
                k.span(),
                format!("unknown section `{other}`"),
                format!("remove it, or use one of: {}", SECTIONS.join(", ")),
            ),
        }
    }

    let listen = match listen {
        Some(l) => check_listen(d, l),
        None if present.contains(&"listen") => None,
        None => {
            d.global(
                "the `[listen]` section is missing",
                "add `[listen]` with `address = \"127.0.0.1:8080\"`",
            );
            None
        }
    };
    let admin = admin.and_then(|a| check_admin(d, a, env));
    let upstreams = check_upstreams(d, upstream, present.contains(&"upstream"), named);
    let pseudonym_key = match pseudo {
        Some(p) => check_key(d, p, env),
        None if present.contains(&"pseudonymization") => None,
        None => {
            d.global(
                "the `[pseudonymization]` section is missing",
                "add `[pseudonymization]` with `key_env = \"ZASLON_PSEUDONYM_KEY\"`",
            );
            None
        }
    };
    let clients = check_clients(d, clients);
    let routes = check_routes(d, routes, &upstreams);
    let unmatched = routing
        .and_then(|r| r.unmatched)
        .map(|u| match u.get_ref().as_str() {
            "deny" => Unmatched::Deny,
            "pass" => Unmatched::Pass,
            other => {
                d.at(
                    u.span(),
                    format!("unknown `unmatched = \"{other}\"`"),
                    "write `unmatched = \"deny\"` (404, the default) or `\"pass\"`",
                );
                Unmatched::Deny
            }
        })
        .unwrap_or_default();
    let limits = check_limits(d, limits.unwrap_or_default());

    Some(Config {
        listen: listen?,
        admin,
        upstreams,
        rules_dir: rules.map(|r| PathBuf::from(r.dir.into_inner())),
        pseudonym_key: pseudonym_key?,
        consent,
        audit,
        clients,
        routes,
        unmatched,
        limits,
    })
}
