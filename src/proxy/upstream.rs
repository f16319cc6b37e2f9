//! The upstream side: HTTP/1.1 connections to each upstream, plain or
//! HTTPS (rustls with the configured CA bundle or the system roots), kept
//! in a pool per thread.
//!
//! The server runs one single-threaded runtime per core
//! ([`crate::server::run`]), so a request, its upstream connection and the
//! task driving that connection all stay on one thread. The pool is a
//! thread-local list of idle connections: no lock, no cross-thread wake-up
//! between the client's connection and the upstream's. A connection goes
//! back to its thread's pool when its response body has been read to the
//! end; one dropped halfway is closed.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::config::UpstreamConfig;

/// Idle connections kept per upstream and thread at most.
const MAX_IDLE: usize = 1024;
/// An idle connection older than this is closed rather than reused.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

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

/// Why a request could not be sent upstream. Never carries request data.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("connect to {authority} failed: {source}")]
    Connect {
        authority: String,
        source: std::io::Error,
    },
    #[error("connect to {authority} timed out")]
    ConnectTimeout { authority: String },
    #[error("TLS handshake with {authority} failed: {source}")]
    Tls {
        authority: String,
        source: std::io::Error,
    },
    #[error("HTTP/1.1 exchange with {authority} failed: {source}")]
    Http {
        authority: String,
        source: hyper::Error,
    },
}

/// One upstream. Cloning shares its pool.
#[derive(Clone)]
pub struct Upstream {
    pub name: String,
    /// The key of this upstream's idle connections in each thread's pool.
    id: u64,
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
    host: String,
    port: u16,
    /// A path prefix without the trailing slash (may be empty).
    prefix: String,
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    connect_timeout: Duration,
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
    /// Sets the upstream up. `connect_timeout` bounds the TCP connect.
    pub fn new(
        cfg: &UpstreamConfig,
        connect_timeout: Duration,
    ) -> Result<Upstream, UpstreamBuildError> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let parts = cfg.url.clone().into_parts();
        let (Some(scheme), Some(authority)) = (parts.scheme, parts.authority) else {
            return Err(UpstreamBuildError::Tls {
                name: cfg.name.clone(),
                reason: "the URL has no scheme or authority".into(),
            });
        };
        let https = scheme == http::uri::Scheme::HTTPS;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tls = if https {
            let mut tls = rustls::ClientConfig::builder_with_provider(crypto_provider())
                .with_safe_default_protocol_versions()
                .map_err(|e| UpstreamBuildError::Tls {
                    name: cfg.name.clone(),
                    reason: e.to_string(),
                })?
                .with_root_certificates(roots(cfg)?)
                .with_no_client_auth();
            tls.alpn_protocols = vec![b"http/1.1".to_vec()];
            let server_name =
                ServerName::try_from(host.clone()).map_err(|e| UpstreamBuildError::Tls {
                    name: cfg.name.clone(),
                    reason: format!("{host} is not a valid server name: {e}"),
                })?;
            Some((tokio_rustls::TlsConnector::from(Arc::new(tls)), server_name))
        } else {
            None
        };
        let prefix = cfg.url.path().trim_end_matches('/').to_owned();
        Ok(Upstream {
            name: cfg.name.clone(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            scheme,
            authority,
            host,
            port,
            prefix,
            tls,
            connect_timeout,
        })
    }

    pub fn authority(&self) -> &http::uri::Authority {
        &self.authority
    }

    pub fn is_https(&self) -> bool {
        self.scheme == http::uri::Scheme::HTTPS
    }

    /// The upstream request target (origin form: the upstream's path prefix,
    /// the normalized path and the raw query).
    pub fn uri(&self, path: &str, query: Option<&str>) -> Result<Uri, http::Error> {
        let mut pq =
            String::with_capacity(self.prefix.len() + path.len() + 1 + query.map_or(0, str::len));
        pq.push_str(&self.prefix);
        pq.push_str(path);
        if let Some(q) = query {
            pq.push('?');
            pq.push_str(q);
        }
        Uri::builder().path_and_query(pq).build()
    }

    /// Sends `req` (origin-form target, `Host` set) on an idle connection
    /// of this thread's pool, or on a new one. A request that a reused
    /// connection could not even start sending (the upstream had just
    /// closed it) is sent again once on a new connection.
    pub async fn send(
        &self,
        req: Request<UpstreamBody>,
    ) -> Result<Response<ResponseBody>, SendError> {
        let mut req = req;
        // After a stale connection the others in the pool are likely stale
        // too (the upstream restarted, say): the retry connects anew.
        let mut pool = true;
        loop {
            let idle = if pool { checkout(self.id).await } else { None };
            let (mut sender, reused) = match idle {
                Some(s) => (s, true),
                // Boxed: the TLS handshake makes `connect` a large future,
                // and inline it would be moved with every request's.
                None => (Box::pin(self.connect()).await?, false),
            };
            match sender.try_send_request(req).await {
                Ok(resp) => {
                    let key = self.id;
                    return Ok(resp.map(|inner| ResponseBody {
                        inner,
                        done: false,
                        sender: Some((key, sender)),
                    }));
                }
                Err(mut e) => match e.take_message() {
                    Some(again) if reused => {
                        req = again;
                        pool = false;
                    }
                    _ => {
                        return Err(SendError::Http {
                            authority: self.authority.to_string(),
                            source: e.into_error(),
                        });
                    }
                },
            }
        }
    }

    async fn connect(&self) -> Result<SendRequest<UpstreamBody>, SendError> {
        let authority = || self.authority.to_string();
        let tcp = tokio::time::timeout(
            self.connect_timeout,
            tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| SendError::ConnectTimeout {
            authority: authority(),
        })?
        .map_err(|source| SendError::Connect {
            authority: authority(),
            source,
        })?;
        let _ = tcp.set_nodelay(true);
        let http = |source| SendError::Http {
            authority: authority(),
            source,
        };
        match &self.tls {
            None => handshake(tcp).await.map_err(http),
            Some((connector, name)) => {
                let tls = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|source| SendError::Tls {
                        authority: authority(),
                        source,
                    })?;
                handshake(tls).await.map_err(http)
            }
        }
    }
}

/// Starts HTTP/1.1 on `io`; the task driving the connection runs on this
/// thread's runtime.
async fn handshake<I>(io: I) -> Result<SendRequest<UpstreamBody>, hyper::Error>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "upstream connection ended with an error");
        }
    });
    Ok(sender)
}

struct Idle {
    sender: SendRequest<UpstreamBody>,
    since: Instant,
}

thread_local! {
    /// This thread's idle connections, per upstream id.
    static POOL: RefCell<Vec<(u64, VecDeque<Idle>)>> = const { RefCell::new(Vec::new()) };
}

/// The most recently used idle connection, once it is ready for a request
/// (its previous response was read to the end, but the task driving it may
/// not have run since).
async fn checkout(key: u64) -> Option<SendRequest<UpstreamBody>> {
    loop {
        let mut sender = POOL.with(|pool| {
            let mut pool = pool.borrow_mut();
            let idle = &mut pool.iter_mut().find(|(k, _)| *k == key)?.1;
            while let Some(c) = idle.pop_back() {
                if !c.sender.is_closed() && c.since.elapsed() < IDLE_TIMEOUT {
                    return Some(c.sender);
                }
            }
            None
        })?;
        if sender.ready().await.is_ok() {
            return Some(sender);
        }
    }
}

/// Puts a connection whose response was read to its end back.
fn checkin(key: u64, sender: SendRequest<UpstreamBody>) {
    if sender.is_closed() {
        return;
    }
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        let idle = match pool.iter().position(|(k, _)| *k == key) {
            Some(i) => &mut pool[i].1,
            None => {
                pool.push((key, VecDeque::new()));
                &mut pool.last_mut().expect("just pushed").1
            }
        };
        let now = Instant::now();
        while idle
            .front()
            .is_some_and(|c| c.sender.is_closed() || now - c.since >= IDLE_TIMEOUT)
        {
            idle.pop_front();
        }
        if idle.len() < MAX_IDLE {
            idle.push_back(Idle { sender, since: now });
        }
    });
}

/// An upstream response body. Its connection goes back to the pool once
/// the body was read to its end, and is closed if the body is dropped
/// before that.
pub struct ResponseBody {
    inner: Incoming,
    done: bool,
    sender: Option<(u64, SendRequest<UpstreamBody>)>,
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let r = Pin::new(&mut self.inner).poll_frame(cx);
        match &r {
            Poll::Ready(None) => self.done = true,
            Poll::Ready(Some(Err(_))) => self.sender = None,
            _ => {}
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        if let Some((key, sender)) = self.sender.take() {
            if self.done || self.inner.is_end_stream() {
                checkin(key, sender);
            }
        }
    }
}
