//! The upstream side: one pooled hyper-util client per upstream, plain HTTP
//! or HTTPS (rustls with the configured CA bundle or the system roots).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Uri;
use http_body_util::combinators::BoxBody;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::config::UpstreamConfig;

/// The body of a forwarded request.
pub type UpstreamBody = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// Why an upstream client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamBuildError {
    #[error("upstream {name}: cannot read the CA bundle {path}: {reason}")]
    Ca {
        name: String,
        path: String,
        reason: String,
    },
    #[error("upstream {name}: no trusted CA certificates")]
    NoRoots { name: String },
    #[error("upstream {name}: TLS setup failed: {reason}")]
    Tls { name: String, reason: String },
}

/// One upstream and its connection pool.
#[derive(Clone)]
pub struct Upstream {
    pub name: String,
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
    /// A path prefix without the trailing slash (may be empty).
    prefix: String,
    client: Client<HttpsConnector<HttpConnector>, UpstreamBody>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("name", &self.name)
            .field("authority", &self.authority)
            .finish()
    }
}

/// A rustls provider, fixed to ring (aws-lc-rs needs cmake and nasm).
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(cfg: &UpstreamConfig) -> Result<rustls::RootCertStore, UpstreamBuildError> {
    let mut store = rustls::RootCertStore::empty();
    match &cfg.ca {
        Some(path) => {
            let err = |reason: String| UpstreamBuildError::Ca {
                name: cfg.name.clone(),
                path: path.display().to_string(),
                reason,
            };
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| err(e.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err(e.to_string()))?;
            for c in certs {
                store.add(c).map_err(|e| err(e.to_string()))?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            for c in native.certs {
                // Skip the odd unparsable system certificate.
                let _ = store.add(c);
            }
        }
    }
    if store.is_empty() {
        return Err(UpstreamBuildError::NoRoots {
            name: cfg.name.clone(),
        });
    }
    Ok(store)
}

impl Upstream {
    /// Builds the client. `connect_timeout` bounds the TCP connect.
    pub fn new(
        cfg: &UpstreamConfig,
        connect_timeout: Duration,
    ) -> Result<Upstream, UpstreamBuildError> {
        let https = cfg.url.scheme_str() == Some("https");
        let tls = if https {
            let roots = roots(cfg)?;
            rustls::ClientConfig::builder_with_provider(crypto_provider())
                .with_safe_default_protocol_versions()
                .map_err(|e| UpstreamBuildError::Tls {
                    name: cfg.name.clone(),
                    reason: e.to_string(),
                })?
                .with_root_certificates(roots)
                .with_no_client_auth()
        } else {
            // Never used for plain http, but the connector type wants one.
            rustls::ClientConfig::builder_with_provider(crypto_provider())
                .with_safe_default_protocol_versions()
                .map_err(|e| UpstreamBuildError::Tls {
                    name: cfg.name.clone(),
                    reason: e.to_string(),
                })?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        };
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(connect_timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(1024)
            .build(connector);
        let parts = cfg.url.clone().into_parts();
        let (Some(scheme), Some(authority)) = (parts.scheme, parts.authority) else {
            return Err(UpstreamBuildError::Tls {
                name: cfg.name.clone(),
                reason: "the URL has no scheme or authority".into(),
            });
        };
        let prefix = cfg.url.path().trim_end_matches('/').to_owned();
        Ok(Upstream {
            name: cfg.name.clone(),
            scheme,
            authority,
            prefix,
            client,
        })
    }

    pub fn authority(&self) -> &http::uri::Authority {
        &self.authority
    }

    pub fn is_https(&self) -> bool {
        self.scheme == http::uri::Scheme::HTTPS
    }

    /// The upstream URI for a normalized path and the raw query.
    pub fn uri(&self, path: &str, query: Option<&str>) -> Result<Uri, http::Error> {
        let mut pq =
            String::with_capacity(self.prefix.len() + path.len() + 1 + query.map_or(0, str::len));
        pq.push_str(&self.prefix);
        pq.push_str(path);
        if let Some(q) = query {
            pq.push('?');
            pq.push_str(q);
        }
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(pq)
            .build()
    }

    pub fn client(&self) -> &Client<HttpsConnector<HttpConnector>, UpstreamBody> {
        &self.client
    }
}
