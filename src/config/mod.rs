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
use crate::proxy::route::{MethodRules, MethodSet, Route, RoutePattern, SubjectSource};
use crate::redact::PseudonymKey;

pub mod diag;
pub mod env;
mod raw;
#[cfg(test)]
mod tests;

pub use diag::{ConfigError, Problem};
pub use env::{Env, OsEnv};

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
    /// A connection with no bytes either way for this long is closed.
    pub idle_timeout: Duration,
    /// Time for the upstream to answer with its response head.
    pub upstream_timeout: Duration,
    /// How long in-flight requests may drain at shutdown.
    pub shutdown_grace: Duration,
    pub max_connections: usize,
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

fn check_addr(d: &mut Diag<'_>, a: &Spanned<String>, key: &str) -> Option<SocketAddr> {
    match a.get_ref().parse::<SocketAddr>() {
        Ok(s) => Some(s),
        Err(_) => {
            d.at(
                a.span(),
                format!(
                    "`{key}` is not an IP address with a port: {:?}",
                    a.get_ref()
                ),
                format!("write `{key} = \"127.0.0.1:8080\"` (an IP, not a host name)"),
            );
            None
        }
    }
}

fn check_listen(d: &mut Diag<'_>, l: RawListen) -> Option<ListenConfig> {
    let address = check_addr(d, &l.address, "address");
    let tls = l.tls.map(|t| TlsFiles {
        cert: PathBuf::from(t.cert.into_inner()),
        key: PathBuf::from(t.key.into_inner()),
        client_ca: t.client_ca.map(|c| PathBuf::from(c.into_inner())),
        client_cert_optional: t.client_cert_optional.unwrap_or(false),
    });
    Some(ListenConfig {
        address: address?,
        tls,
    })
}

fn check_admin(d: &mut Diag<'_>, a: RawAdmin, env: &dyn Env) -> Option<AdminConfig> {
    let address = check_addr(d, &a.address, "address");
    let token = match a.token_env {
        Some(name) => match env.var(name.get_ref()) {
            Some(t) if !t.is_empty() => Some(t),
            _ => {
                d.at(
                    name.span(),
                    format!("the environment variable {} is not set", name.get_ref()),
                    format!(
                        "export {}=<a long random token> before starting",
                        name.get_ref()
                    ),
                );
                None
            }
        },
        None => None,
    };
    Some(AdminConfig {
        address: address?,
        token,
    })
}

fn check_upstream(d: &mut Diag<'_>, name: String, u: RawUpstream) -> Option<UpstreamConfig> {
    let url = match u.url.get_ref().parse::<http::Uri>() {
        Ok(uri)
            if matches!(uri.scheme_str(), Some("http" | "https"))
                && uri.authority().is_some()
                && uri.query().is_none() =>
        {
            Some(uri)
        }
        _ => {
            d.at(
                u.url.span(),
                format!("`url` is not an http(s) URL: {:?}", u.url.get_ref()),
                "write `url = \"http://127.0.0.1:8081\"` or `\"https://mis.internal\"` (an optional path prefix, no query)",
            );
            None
        }
    };
    let ca = u.ca.map(|c| PathBuf::from(c.into_inner()));
    Some(UpstreamConfig {
        name,
        url: url?,
        ca,
    })
}

fn check_upstreams(
    d: &mut Diag<'_>,
    default: Option<RawUpstream>,
    default_present: bool,
    named: Vec<(String, Range<usize>, RawUpstream)>,
) -> Vec<UpstreamConfig> {
    let mut out = Vec::new();
    match default {
        Some(u) => out.extend(check_upstream(d, "default".into(), u)),
        None if default_present => {}
        None => d.global(
            "the `[upstream]` section is missing",
            "add `[upstream]` with `url = \"http://127.0.0.1:8081\"`",
        ),
    }
    for (name, span, u) in named {
        if name == "default" {
            d.at(
                span,
                "the name `default` is taken by `[upstream]`",
                "choose another name",
            );
            continue;
        }
        out.extend(check_upstream(d, name, u));
    }
    out
}

fn check_key(d: &mut Diag<'_>, p: RawPseudonymization, env: &dyn Env) -> Option<PseudonymKey> {
    let name = p.key_env;
    match env.var(name.get_ref()) {
        Some(k) if k.len() >= MIN_KEY_BYTES => Some(PseudonymKey::new(k.as_bytes())),
        Some(_) => {
            d.at(
                name.span(),
                format!(
                    "the key in {} is shorter than {MIN_KEY_BYTES} bytes",
                    name.get_ref()
                ),
                format!("export {}=$(openssl rand -hex 32)", name.get_ref()),
            );
            None
        }
        None => {
            d.at(
                name.span(),
                format!("the environment variable {} is not set", name.get_ref()),
                format!(
                    "export {}=$(openssl rand -hex 32), and keep it: pseudonyms change with the key",
                    name.get_ref()
                ),
            );
            None
        }
    }
}

fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks(2).enumerate() {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        out[i] = u8::try_from(hi << 4 | lo).ok()?;
    }
    Some(out)
}

fn check_purposes(d: &mut Diag<'_>, list: &[Spanned<String>]) -> Vec<Purpose> {
    let mut out = Vec::new();
    for p in list {
        match p.get_ref().parse::<Purpose>() {
            Ok(p) => out.push(p),
            Err(e) => d.at(p.span(), e.to_string(), "write one of the nine purpose ids"),
        }
    }
    out
}

fn check_clients(d: &mut Diag<'_>, raw: Vec<RawClient>) -> Vec<ClientConfig> {
    let mut out: Vec<ClientConfig> = Vec::new();
    for c in raw {
        if out.iter().any(|o| &o.id == c.id.get_ref()) {
            d.at(
                c.id.span(),
                format!("client id {:?} appears twice", c.id.get_ref()),
                "give each client its own id",
            );
        }
        let key = c.api_key_sha256.as_ref().and_then(|k| {
            let parsed = parse_hex32(k.get_ref());
            if parsed.is_none() {
                d.at(
                    k.span(),
                    "`api_key_sha256` is not 64 hex digits",
                    "write the SHA-256 of the key in hex: `printf %s \"$KEY\" | sha256sum`",
                );
            }
            parsed
        });
        if c.api_key_sha256.is_none() && c.tls_name.is_none() {
            d.at(
                c.id.span(),
                format!("client {:?} has no credential", c.id.get_ref()),
                "add `api_key_sha256 = \"<hex>\"` or `tls_name = \"<certificate CN or SAN>\"`",
            );
        }
        if key.is_some_and(|k| out.iter().any(|o| o.api_key_sha256 == Some(k)))
            && let Some(k) = &c.api_key_sha256
        {
            d.at(
                k.span(),
                "two clients share one API key",
                "give each client its own key",
            );
        }
        let purposes = check_purposes(d, c.purposes.get_ref());
        if c.purposes.get_ref().is_empty() {
            d.at(
                c.purposes.span(),
                "a client without purposes can do nothing",
                "grant at least one purpose, e.g. `purposes = [\"care\"]`",
            );
        }
        out.push(ClientConfig {
            id: c.id.into_inner(),
            api_key_sha256: key,
            tls_name: c.tls_name.map(Spanned::into_inner),
            purposes,
        });
    }
    out
}

fn check_methods(d: &mut Diag<'_>, raw: &RawMethods) -> MethodRules {
    let parse_set = |d: &mut Diag<'_>, list: &Spanned<Vec<Spanned<String>>>| {
        let mut set = MethodSet::EMPTY;
        for m in list.get_ref() {
            match set.with_name(m.get_ref()) {
                Some(s) => set = s,
                None => d.at(
                    m.span(),
                    format!("unknown method {:?}", m.get_ref()),
                    "write GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS (upper case)",
                ),
            }
        }
        set
    };
    let mut rules = MethodRules::default();
    if let Some(all) = raw.get_ref().get("*") {
        rules = MethodRules([parse_set(d, all); 9]);
    }
    for (purpose, list) in raw.get_ref() {
        if purpose == "*" {
            continue;
        }
        match purpose.parse::<Purpose>() {
            Ok(p) => rules.0[p.index()] = parse_set(d, list),
            Err(e) => d.at(
                raw.span(),
                e.to_string(),
                "key `methods` by purpose ids, or `\"*\"` for all purposes",
            ),
        }
    }
    rules
}

fn check_routes(d: &mut Diag<'_>, raw: Vec<RawRoute>, upstreams: &[UpstreamConfig]) -> Vec<Route> {
    let mut out: Vec<Route> = Vec::new();
    for r in raw {
        let pattern = match RoutePattern::parse(r.path.get_ref()) {
            Ok(p) => Some(p),
            Err(e) => {
                d.at(
                    r.path.span(),
                    format!("route path: {e}"),
                    "write a path like `/api/patients/{patient_id}`",
                );
                None
            }
        };
        if out.iter().any(|o| o.pattern.template() == r.path.get_ref()) {
            d.at(
                r.path.span(),
                "this route path appears twice",
                "merge the two `[[routes]]` entries",
            );
        }
        let upstream = match &r.upstream {
            None => Some(0),
            Some(name) => {
                let i = upstreams.iter().position(|u| &u.name == name.get_ref());
                if i.is_none() {
                    d.at(
                        name.span(),
                        format!("no upstream named {:?}", name.get_ref()),
                        "define it as `[upstreams.NAME]` or leave `upstream` out for the default",
                    );
                }
                i
            }
        };
        let subject = r
            .subject
            .as_ref()
            .and_then(|s| match SubjectSource::parse(s.get_ref()) {
                Ok(src) => {
                    if let (SubjectSource::Path(name), Some(p)) = (&src, &pattern)
                        && !p.has_param(name)
                    {
                        d.at(
                            s.span(),
                            format!("the path has no parameter `{{{name}}}`"),
                            format!("add `{{{name}}}` to the path or name one of its parameters"),
                        );
                    }
                    Some(src)
                }
                Err(e) => {
                    d.at(
                        s.span(),
                        format!("subject {e}"),
                        "write `path:NAME`, `query:NAME` or `header:NAME`",
                    );
                    None
                }
            });
        let methods = r
            .methods
            .as_ref()
            .map(|m| check_methods(d, m))
            .unwrap_or_default();
        if r.records.is_some() != r.record_subject.is_some() {
            d.at(
                r.path.span(),
                "`records` and `record_subject` go together",
                "set both (`records = \"$.items[*]\"`, `record_subject = \"id\"`) or neither",
            );
        }
        if let Some(rec) = &r.records
            && !rec.get_ref().starts_with('$')
        {
            d.at(
                rec.span(),
                "`records` is a JSON path",
                "write it like `records = \"$.items[*]\"`",
            );
        }
        if let (Some(pattern), Some(upstream)) = (pattern, upstream) {
            out.push(Route {
                pattern,
                upstream,
                subject,
                methods,
                records: r.records.map(Spanned::into_inner),
                record_subject: r.record_subject.map(Spanned::into_inner),
            });
        }
    }
    out
}

fn check_limits(d: &mut Diag<'_>, raw: RawLimits) -> Limits {
    let def = Limits::default();
    let mut range =
        |v: &Option<Spanned<u64>>, key: &str, min: u64, max: u64, default: u64| -> u64 {
            match v {
                None => default,
                Some(s) if (min..=max).contains(s.get_ref()) => *s.get_ref(),
                Some(s) => {
                    d.at(
                        s.span(),
                        format!("`{key}` = {} is out of range", s.get_ref()),
                        format!("write a value from {min} to {max}, or leave it out for {default}"),
                    );
                    default
                }
            }
        };
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    Limits {
        max_header_bytes: usize::try_from(range(
            &raw.max_header_bytes,
            "max_header_bytes",
            8192,
            1 << 20,
            def.max_header_bytes as u64,
        ))
        .unwrap_or(def.max_header_bytes),
        max_request_body_bytes: range(
            &raw.max_request_body_bytes,
            "max_request_body_bytes",
            0,
            1 << 34,
            def.max_request_body_bytes,
        ),
        header_read_timeout: Duration::from_millis(range(
            &raw.header_read_timeout_ms,
            "header_read_timeout_ms",
            10,
            600_000,
            ms(def.header_read_timeout),
        )),
        idle_timeout: Duration::from_millis(range(
            &raw.idle_timeout_ms,
            "idle_timeout_ms",
            10,
            3_600_000,
            ms(def.idle_timeout),
        )),
        upstream_timeout: Duration::from_millis(range(
            &raw.upstream_timeout_ms,
            "upstream_timeout_ms",
            10,
            600_000,
            ms(def.upstream_timeout),
        )),
        shutdown_grace: Duration::from_millis(range(
            &raw.shutdown_grace_ms,
            "shutdown_grace_ms",
            0,
            600_000,
            ms(def.shutdown_grace),
        )),
        max_connections: usize::try_from(range(
            &raw.max_connections,
            "max_connections",
            1,
            1_000_000,
            def.max_connections as u64,
        ))
        .unwrap_or(def.max_connections),
    }
}
