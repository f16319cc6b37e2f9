//! Loopback builders for the proxy's integration tests: a real upstream, the
//! proxy through `server::run`, clients over HTTP/1.1, HTTP/2 and TLS.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use zaslon::audit::{AuditError, AuditEvent, AuditSink, MemorySink};
use zaslon::config::Config;
use zaslon::consent::{BoxFuture, ConsentError, ConsentSource, NoRecords, SubjectState};
use zaslon::proxy::ProxyState;
use zaslon::redact::{Engine, PseudonymKey};
use zaslon::rules::RuleSet;

pub const PSEUDONYM_KEY: &str = "test-pseudonym-key-0123456789abcdef";

/// A patient document as the MIS would serve it (synthetic).
pub const PATIENT: &str = r#"{"id":"10234","surname":"Иванова","given_name":"Мария","patronymic":"Петровна","snils":"112-233-445 95","phone":"+7 916 123-45-67","birth_date":"1984-03-12","diagnosis":"J06.9 ОРВИ"}"#;

pub fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---------------------------------------------------------------- upstream

/// What a test upstream answers.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub chunks: Vec<Vec<u8>>,
    /// Pause before each chunk.
    pub delay: Duration,
}

impl Reply {
    pub fn json(body: &str) -> Reply {
        Reply {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            chunks: vec![body.as_bytes().to_vec()],
            delay: Duration::ZERO,
        }
    }
    pub fn with(ct: &str, body: Vec<u8>) -> Reply {
        Reply {
            status: 200,
            headers: vec![("content-type".into(), ct.into())],
            chunks: vec![body],
            delay: Duration::ZERO,
        }
    }
    pub fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.into(), v.into()));
        self
    }
}

/// A request as the upstream saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path_and_query: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

/// A real hyper upstream on 127.0.0.1:0 (HTTP/1.1 and h2c).
pub struct Upstream {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// Connections accepted so far.
    pub connections: Arc<std::sync::atomic::AtomicUsize>,
}

impl Upstream {
    pub async fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Handler = Arc::new(handler);
        let seen2 = seen.clone();
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let accepted = connections.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let handler = handler.clone();
                let seen = seen2.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let handler = handler.clone();
                        let seen = seen.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|c| c.to_bytes())
                                .unwrap_or_default();
                            let s = Seen {
                                method: parts.method.to_string(),
                                path_and_query: parts
                                    .uri
                                    .path_and_query()
                                    .map(|p| p.to_string())
                                    .unwrap_or_default(),
                                headers: parts.headers,
                                body,
                            };
                            let reply = handler(&s);
                            seen.lock().unwrap().push(s);
                            Ok::<_, Infallible>(reply_response(reply))
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Upstream {
            addr,
            seen,
            connections,
        }
    }

    /// Always the same JSON.
    pub async fn json(body: &'static str) -> Upstream {
        Upstream::start(move |_| Reply::json(body)).await
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub fn last(&self) -> Seen {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("the upstream saw no request")
    }
}

fn reply_response(reply: Reply) -> Response<BoxBody<Bytes, Infallible>> {
    let delay = reply.delay;
    let chunks = reply.chunks;
    let stream = futures_util::stream::unfold(chunks.into_iter(), move |mut it| async move {
        let c = it.next()?;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Some((Ok::<_, Infallible>(Frame::data(Bytes::from(c))), it))
    });
    let mut resp = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    *resp.status_mut() = http::StatusCode::from_u16(reply.status).unwrap();
    for (k, v) in reply.headers {
        resp.headers_mut().append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    resp
}

/// An upstream that answers every connection with raw bytes and closes
/// (an upstream that dies mid-body, a lying Content-Length).
pub async fn raw_upstream(bytes: Vec<u8>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let bytes = Arc::new(bytes);
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let bytes = bytes.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s.write_all(&bytes).await;
                let _ = s.flush().await;
                tokio::time::sleep(Duration::from_millis(20)).await;
                // Dropping the socket closes it mid-body.
            });
        }
    });
    addr
}

// ------------------------------------------------------------------ proxy

/// A consent source with fixed answers: (subject, state).
pub struct FixedConsent(pub Vec<(String, SubjectState)>);

impl ConsentSource for FixedConsent {
    fn lookup<'a>(
        &'a self,
        subjects: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<SubjectState>, ConsentError>> {
        Box::pin(async move {
            Ok(subjects
                .iter()
                .map(|s| {
                    self.0
                        .iter()
                        .find(|(id, _)| id == s)
                        .map(|(_, st)| *st)
                        .unwrap_or_default()
                })
                .collect())
        })
    }
}

/// A consent backend that is down.
pub struct DownConsent;

impl ConsentSource for DownConsent {
    fn lookup<'a>(
        &'a self,
        _: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<SubjectState>, ConsentError>> {
        Box::pin(async { Err(ConsentError::Unavailable) })
    }
}

/// An audit sink that refuses everything.
pub struct FullSink;

impl AuditSink for FullSink {
    fn submit(&self, _: AuditEvent) -> Result<(), AuditError> {
        Err(AuditError::QueueFull)
    }
    fn ready(&self) -> bool {
        false
    }
}

/// Builds a proxy: config text (with `{UPSTREAM}` replaced), consent,
/// audit, TLS.
pub struct ProxyBuilder {
    config: String,
    consent: Arc<dyn ConsentSource>,
    audit: Option<Arc<dyn AuditSink>>,
    tls: Option<Arc<rustls::ServerConfig>>,
}

/// Clients and keys of the default test config.
pub const CARE_KEY: &str = "care-key-0001";
pub const ALL_KEY: &str = "all-purposes-key-0002";
pub const CALL_CENTER_KEY: &str = "call-center-key-0003";

pub fn default_config(upstream: &str) -> String {
    format!(
        r#"
[listen]
address = "127.0.0.1:0"

[upstream]
url = "{upstream}"

[pseudonymization]
key_env = "ZASLON_PSEUDONYM_KEY"

[[clients]]
id = "clinic"
api_key_sha256 = "{care}"
purposes = ["care", "documents"]

[[clients]]
id = "everything"
api_key_sha256 = "{all}"
purposes = ["auth", "appointments", "care", "documents", "support", "feedback", "analytics", "marketing", "legal"]

[[clients]]
id = "call-center"
api_key_sha256 = "{cc}"
purposes = ["appointments", "support"]

[[clients]]
id = "clinic-app"
tls_name = "clinic-app.zaslon.test"
purposes = ["care"]

[[routes]]
path = "/api/patients/{{patient_id}}"
subject = "path:patient_id"
methods = {{ care = ["GET", "HEAD", "PUT"] }}

[[routes]]
path = "/api/patients"
records = "$.items[*]"
record_subject = "id"

[[routes]]
path = "/api/search"
subject = "query:patient"

[[routes]]
path = "/files/{{name}}"

[limits]
header_read_timeout_ms = 500
upstream_timeout_ms = 3000
shutdown_grace_ms = 3000
max_request_body_bytes = 1024
"#,
        care = sha256_hex(CARE_KEY),
        all = sha256_hex(ALL_KEY),
        cc = sha256_hex(CALL_CENTER_KEY),
    )
}

impl ProxyBuilder {
    pub fn new(upstream: &str) -> ProxyBuilder {
        ProxyBuilder {
            config: default_config(upstream),
            consent: Arc::new(NoRecords),
            audit: None,
            tls: None,
        }
    }
    pub fn config(mut self, text: String) -> Self {
        self.config = text;
        self
    }
    pub fn edit(mut self, f: impl FnOnce(String) -> String) -> Self {
        self.config = f(self.config);
        self
    }
    pub fn consent(mut self, c: impl ConsentSource) -> Self {
        self.consent = Arc::new(c);
        self
    }
    pub fn audit(mut self, a: Arc<dyn AuditSink>) -> Self {
        self.audit = Some(a);
        self
    }
    pub fn tls(mut self, t: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(t);
        self
    }

    pub async fn start(self) -> Proxy {
        let env = HashMap::from([("ZASLON_PSEUDONYM_KEY", PSEUDONYM_KEY)]);
        let cfg = Config::parse(&self.config, "test.toml", &env).unwrap_or_else(|e| panic!("{e}"));
        let engine = Engine::new(
            Arc::new(RuleSet::embedded()),
            PseudonymKey::new(PSEUDONYM_KEY.as_bytes()),
        );
        let memory = Arc::new(MemorySink::default());
        let sink: Arc<dyn AuditSink> = self.audit.unwrap_or_else(|| memory.clone());
        let mut state = ProxyState::from_config(&cfg, engine, self.consent, sink).unwrap();
        if self.tls.is_some() {
            state.tls = self.tls;
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(zaslon::server::run(listener, Arc::new(state), async move {
            let _ = rx.await;
        }));
        Proxy {
            addr,
            audit: memory,
            shutdown: Some(tx),
            task: Some(task),
        }
    }
}

pub struct Proxy {
    pub addr: SocketAddr,
    pub audit: Arc<MemorySink>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Proxy {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn events(&self) -> Vec<AuditEvent> {
        self.audit.events.lock().unwrap().clone()
    }

    /// Waits until `n` audit events were recorded (bodies end after the
    /// client read them), at most 2 s.
    pub async fn wait_events(&self, n: usize) -> Vec<AuditEvent> {
        for _ in 0..200 {
            let ev = self.events();
            if ev.len() >= n {
                return ev;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.events()
    }

    /// Signals shutdown and waits for `run` to return.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(t) => t.await.unwrap(),
            None => Ok(()),
        }
    }

    pub fn signal_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    pub async fn join(mut self) -> std::io::Result<()> {
        match self.task.take() {
            Some(t) => t.await.unwrap(),
            None => Ok(()),
        }
    }
}

// ----------------------------------------------------------------- clients

/// A response and its body, or the error that cut the body.
pub struct Got {
    pub status: u16,
    pub version: http::Version,
    pub headers: http::HeaderMap,
    pub body: Result<Bytes, String>,
}

impl Got {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(self.body.as_ref().expect("the body was cut")).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(self.body.as_ref().expect("the body was cut")).expect("not JSON")
    }
    pub fn error_code(&self) -> String {
        self.json()["error"].as_str().unwrap_or("").to_owned()
    }
    pub fn header(&self, k: &str) -> Option<&str> {
        self.headers.get(k).and_then(|v| v.to_str().ok())
    }
}

pub async fn got(resp: Response<Incoming>) -> Got {
    let (parts, body) = resp.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| e.to_string());
    Got {
        status: parts.status.as_u16(),
        version: parts.version,
        headers: parts.headers,
        body,
    }
}

pub fn request(method: &str, url: &str, headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let mut b = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(Bytes::new())).unwrap()
}

/// GET over HTTP/1.1 on a fresh connection.
pub async fn get(url: &str, headers: &[(&str, &str)]) -> Got {
    send(request("GET", url, headers)).await
}

pub async fn send(req: Request<Full<Bytes>>) -> Got {
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    got(client.request(req).await.expect("request failed")).await
}

/// Over HTTP/2 with prior knowledge (h2c).
pub async fn send_h2(req: Request<Full<Bytes>>) -> Got {
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    got(client.request(req).await.expect("request failed")).await
}

/// Raw bytes in, everything the server sends until it closes (or 3 s).
pub async fn raw(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut out)).await;
    out
}

// --------------------------------------------------------------------- TLS

/// A CA, a server certificate for 127.0.0.1/localhost, and client
/// certificates, generated per test.
pub struct Pki {
    pub ca_cert: rcgen::Certificate,
    ca_key: rcgen::KeyPair,
    ca_params: rcgen::CertificateParams,
}

pub struct Leaf {
    pub cert: rustls_pki_types::CertificateDer<'static>,
    pub key: rustls_pki_types::PrivateKeyDer<'static>,
}

impl Pki {
    pub fn new(name: &str) -> Pki {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Pki {
            ca_cert: cert,
            ca_key: key,
            ca_params: params,
        }
    }

    fn leaf(&self, cn: &str, sans: Vec<String>, client: bool) -> Leaf {
        let mut params = rcgen::CertificateParams::new(sans).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.extended_key_usages = vec![if client {
            rcgen::ExtendedKeyUsagePurpose::ClientAuth
        } else {
            rcgen::ExtendedKeyUsagePurpose::ServerAuth
        }];
        let key = rcgen::KeyPair::generate().unwrap();
        let issuer = rcgen::Issuer::from_params(&self.ca_params, &self.ca_key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        Leaf {
            cert: cert.der().clone(),
            key: rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        }
    }

    pub fn server(&self) -> Leaf {
        self.leaf(
            "localhost",
            vec!["localhost".into(), "127.0.0.1".into()],
            false,
        )
    }

    pub fn client(&self, cn: &str) -> Leaf {
        self.leaf(cn, vec![cn.into()], true)
    }

    pub fn roots(&self) -> rustls::RootCertStore {
        let mut r = rustls::RootCertStore::empty();
        r.add(self.ca_cert.der().clone()).unwrap();
        r
    }
}

/// The proxy's TLS config: server cert from `pki`, client certs verified
/// against `client_ca`.
pub fn server_tls(pki: &Pki, client_ca: Option<&Pki>) -> Arc<rustls::ServerConfig> {
    let leaf = pki.server();
    zaslon::server::server_config(vec![leaf.cert], leaf.key, client_ca.map(Pki::roots), false)
        .unwrap()
}

pub fn client_tls(
    server_ca: &Pki,
    client: Option<Leaf>,
    alpn: &[&[u8]],
) -> Arc<rustls::ClientConfig> {
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(server_ca.roots());
    let mut cfg = match client {
        Some(l) => b.with_client_auth_cert(vec![l.cert], l.key).unwrap(),
        None => b.with_no_client_auth(),
    };
    cfg.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
    Arc::new(cfg)
}

/// One request over TLS; HTTP/2 if ALPN chose h2. Errors as strings.
pub async fn send_tls(
    addr: SocketAddr,
    cfg: Arc<rustls::ClientConfig>,
    req: Request<Full<Bytes>>,
) -> Result<Got, String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tokio_rustls::TlsConnector::from(cfg)
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let io = TokioIo::new(tls);
    let resp = if h2 {
        let (mut sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        sender.send_request(req).await.map_err(|e| e.to_string())?
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        sender.send_request(req).await.map_err(|e| e.to_string())?
    };
    Ok(got(resp).await)
}

/// An HTTPS upstream serving `body` as JSON with a certificate from `pki`.
pub async fn tls_upstream(pki: &Pki, body: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(server_tls(pki, None));
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(s).await else {
                    return;
                };
                let svc = hyper::service::service_fn(move |_req: Request<Incoming>| async move {
                    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
                    r.headers_mut()
                        .insert("content-type", "application/json".parse().unwrap());
                    Ok::<_, Infallible>(r)
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    addr
}

/// Writes a PEM file into a fresh temporary directory.
pub fn temp_pem(name: &str, pem: &str) -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "zaslon-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, pem).unwrap();
    path
}

// ------------------------------------------------- the proxy as `serve` runs it

/// A proxy built by `proxy::assemble` (the consent and audit the config
/// names, one metrics registry), as `zaslon serve` builds it.
pub struct Served {
    pub addr: SocketAddr,
    pub metrics: Arc<zaslon::metrics::Metrics>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Served {
    pub async fn start(config: &str) -> Served {
        let env = HashMap::from([("ZASLON_PSEUDONYM_KEY", PSEUDONYM_KEY)]);
        let cfg = Config::parse(config, "test.toml", &env).unwrap_or_else(|e| panic!("{e}"));
        let parts =
            zaslon::proxy::assemble::assemble(&cfg, zaslon::proxy::assemble::Options::default())
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        let metrics = parts.metrics.clone();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            parts
                .run(&cfg, listener, None, async move {
                    let _ = rx.await;
                })
                .await
        });
        Served {
            addr,
            metrics,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops serving and waits until every part is dropped (the audit
    /// sink flushes when it is).
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }
}
