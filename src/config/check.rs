//! Semantic checks of each section: every problem is recorded with its
//! place and a fix, and checking goes on, so one run reports them all.

use std::net::SocketAddr;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;

use super::diag::Diag;
use super::env::Env;
use super::raw::*;
use super::{
    AdminConfig, ClientConfig, Limits, ListenConfig, MIN_KEY_BYTES, TlsFiles, UpstreamConfig,
};
use crate::class::Purpose;
use crate::proxy::route::{MethodRules, MethodSet, Route, RoutePattern, SubjectSource};
use crate::redact::PseudonymKey;

pub(super) fn check_addr(d: &mut Diag<'_>, a: &Spanned<String>, key: &str) -> Option<SocketAddr> {
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

pub(super) fn check_listen(d: &mut Diag<'_>, l: RawListen) -> Option<ListenConfig> {
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

pub(super) fn check_admin(d: &mut Diag<'_>, a: RawAdmin, env: &dyn Env) -> Option<AdminConfig> {
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

pub(super) fn check_upstream(
    d: &mut Diag<'_>,
    name: String,
    u: RawUpstream,
) -> Option<UpstreamConfig> {
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

pub(super) fn check_upstreams(
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

pub(super) fn check_key(
    d: &mut Diag<'_>,
    p: RawPseudonymization,
    env: &dyn Env,
) -> Option<PseudonymKey> {
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

pub(super) fn parse_hex32(s: &str) -> Option<[u8; 32]> {
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

pub(super) fn check_purposes(d: &mut Diag<'_>, list: &[Spanned<String>]) -> Vec<Purpose> {
    let mut out = Vec::new();
    for p in list {
        match p.get_ref().parse::<Purpose>() {
            Ok(p) => out.push(p),
            Err(e) => d.at(p.span(), e.to_string(), "write one of the nine purpose ids"),
        }
    }
    out
}

pub(super) fn check_clients(d: &mut Diag<'_>, raw: Vec<RawClient>) -> Vec<ClientConfig> {
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

pub(super) fn check_methods(d: &mut Diag<'_>, raw: &RawMethods) -> MethodRules {
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

pub(super) fn check_routes(
    d: &mut Diag<'_>,
    raw: Vec<RawRoute>,
    upstreams: &[UpstreamConfig],
) -> Vec<Route> {
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
        if let Some(c) = &r.record_counts
            && r.records.is_none()
        {
            d.at(
                c.span(),
                "`record_counts` names members beside a records array",
                "set `records` and `record_subject` too, or remove `record_counts`",
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
                record_counts: r.record_counts.map(Spanned::into_inner),
            });
        }
    }
    out
}

pub(super) fn check_limits(d: &mut Diag<'_>, raw: RawLimits) -> Limits {
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
        workers: usize::try_from(range(&raw.workers, "workers", 0, 256, def.workers as u64))
            .unwrap_or(def.workers),
    }
}
