//! The raw shape of `zaslon.toml`, exactly as serde reads it.
//!
//! Every table denies unknown keys: a misspelt security setting is an error,
//! never silently ignored. Values keep their spans so that validation can
//! point at the line to fix.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawListen {
    pub address: Spanned<String>,
    pub tls: Option<RawTls>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub cert: Spanned<String>,
    pub key: Spanned<String>,
    pub client_ca: Option<Spanned<String>>,
    /// With a client CA: whether a client without a certificate may still
    /// connect (and identify with an API key). Default false.
    pub client_cert_optional: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    pub address: Spanned<String>,
    pub token_env: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpstream {
    pub url: Spanned<String>,
    /// PEM bundle of CAs trusted for an `https` upstream; default: the
    /// system's roots.
    pub ca: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRules {
    pub dir: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPseudonymization {
    pub key_env: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouting {
    pub unmatched: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClient {
    pub id: Spanned<String>,
    pub api_key_sha256: Option<Spanned<String>>,
    /// The certificate name (subject CN or a DNS SAN) that identifies this
    /// client over mTLS.
    pub tls_name: Option<Spanned<String>>,
    pub purposes: Spanned<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub path: Spanned<String>,
    pub upstream: Option<Spanned<String>>,
    pub subject: Option<Spanned<String>>,
    pub methods: Option<RawMethods>,
    pub records: Option<Spanned<String>>,
    pub record_subject: Option<Spanned<String>>,
    pub record_counts: Option<Spanned<Vec<String>>>,
}

/// `methods = { care = ["GET", "PUT"], "*" = ["GET"] }`
pub type RawMethods = Spanned<BTreeMap<String, Spanned<Vec<Spanned<String>>>>>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub max_header_bytes: Option<Spanned<u64>>,
    pub max_request_body_bytes: Option<Spanned<u64>>,
    pub header_read_timeout_ms: Option<Spanned<u64>>,
    pub idle_timeout_ms: Option<Spanned<u64>>,
    pub upstream_timeout_ms: Option<Spanned<u64>>,
    pub shutdown_grace_ms: Option<Spanned<u64>>,
    pub max_connections: Option<Spanned<u64>>,
    pub workers: Option<Spanned<u64>>,
}
