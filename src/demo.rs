//! `zaslon demo`: a synthetic MIS upstream and the proxy in front of it, on
//! loopback, with the embedded defaults, and the curl commands to try.
//!
//! The upstream serves whatever a [`DataSource`] returns for a path; the
//! built-in [`fixture`] holds two synthetic patients. The same server, with
//! [`fixed`] data, is the benchmark's upstream.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use crate::audit::{AuditError, AuditEvent, AuditSink};
use crate::config::{Config, ConfigError, Env};
use crate::consent::{ConsentSource, NoRecords};
use crate::proxy::{BuildError, ProxyState};
use crate::redact::Engine;
use crate::rules::RuleSet;

/// Path (with query) to content type and body; `None` is a 404.
pub type DataSource = Arc<dyn Fn(&str) -> Option<(String, Vec<u8>)> + Send + Sync>;

/// The demo config, the same text as `config/demo.toml`.
pub const DEMO_CONFIG: &str = include_str!("../config/demo.toml");

/// The demo's public API keys, by client: (key, purpose it is for).
pub const DEMO_KEYS: [(&str, &str); 4] = [
    ("demo-doctor-key", "care"),
    ("demo-support-key", "support"),
    ("demo-marketing-key", "marketing"),
    ("demo-analytics-key", "analytics"),
];

const PATIENTS: [&str; 2] = [
    r#"{"id":"10234","surname":"Иванова","given_name":"Мария","patronymic":"Петровна","birth_date":"1984-03-12","snils":"112-233-445 95","oms_policy":"7700000000000014","phone":"+7 916 123-45-67","email":"m.ivanova@example.ru","address":"г. Москва, ул. Лесная, д. 5, кв. 12","diagnosis":"J06.9 Острая инфекция верхних дыхательных путей","note":"Пациентка просила перезвонить на +7 916 123-45-67; СНИЛС 112-233-445 95"}"#,
    r#"{"id":"10235","surname":"Петров","given_name":"Алексей","patronymic":"Сергеевич","birth_date":"1979-11-02","snils":"087-654-303 00","oms_policy":"5000000000000028","phone":"+7 903 765-43-21","email":"petrov.as@example.ru","address":"Московская обл., г. Химки, ул. Мира, д. 1","diagnosis":"I10 Эссенциальная гипертензия","note":"Контроль давления через 2 недели"}"#,
];

/// Two synthetic patients at realistic MIS paths.
pub fn fixture() -> DataSource {
    Arc::new(|path_and_query: &str| {
        let path = path_and_query.split('?').next().unwrap_or("");
        let json = |s: String| Some(("application/json; charset=utf-8".to_owned(), s.into_bytes()));
        let patient = |id: &str| {
            PATIENTS
                .iter()
                .find(|p| p.contains(&format!("\"id\":\"{id}\"")))
        };
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match segs.as_slice() {
            ["api", "patients"] => json(format!(
                "{{\"total\":{},\"items\":[{}]}}",
                PATIENTS.len(),
                PATIENTS.join(",")
            )),
            ["api", "patients", id] => patient(id).map(|p| (*p).to_owned()).and_then(json),
            ["api", "patients", id, "appointments"] => patient(id).and_then(|_| {
                json(format!(
                    "{{\"items\":[{{\"id\":\"a-1\",\"patient_id\":\"{id}\",\"doctor\":\"Смирнова Е.А.\",\"at\":\"2026-12-01T10:30:00+03:00\",\"reason\":\"Повторный приём\",\"phone\":\"+7 916 123-45-67\"}}]}}"
                ))
            }),
            ["api", "patients", id, "documents"] => patient(id).and_then(|_| {
                json(format!(
                    "{{\"items\":[{{\"id\":\"d-1\",\"patient_id\":\"{id}\",\"kind\":\"Протокол осмотра\",\"text\":\"Жалобы на кашель. Диагноз J06.9. Рекомендовано обильное питьё.\"}}]}}"
                ))
            }),
            ["fhir", "Patient", id] => patient(id).map(|_| {
                (
                    "application/fhir+json".to_owned(),
                    format!(
                        "{{\"resourceType\":\"Patient\",\"id\":\"{id}\",\"name\":[{{\"family\":\"Иванова\",\"given\":[\"Мария\",\"Петровна\"]}}],\"telecom\":[{{\"system\":\"phone\",\"value\":\"+7 916 123-45-67\"}}],\"birthDate\":\"1984-03-12\",\"identifier\":[{{\"system\":\"urn:oid:1.2.643.100.3\",\"value\":\"11223344595\"}}]}}"
                    )
                    .into_bytes(),
                )
            }),
            _ => None,
        }
    })
}

/// The same body for every path (the benchmark's upstream).
pub fn fixed(content_type: &str, body: Vec<u8>) -> DataSource {
    let ct = content_type.to_owned();
    Arc::new(move |_| Some((ct.clone(), body.clone())))
}

/// A JSON patient list of at least `size` bytes, shaped like an MIS answer.
pub fn sample_json(size: usize) -> Vec<u8> {
    let mut out = String::with_capacity(size + 1024);
    out.push_str("{\"items\":[");
    let mut i = 0u32;
    loop {
        if i > 0 {
            out.push(',');
        }
        out.push_str(PATIENTS[(i % 2) as usize]);
        i += 1;
        if out.len() + 2 >= size {
            break;
        }
    }
    out.push_str("]}");
    out.into_bytes()
}

/// Serves `data` on `listener` until `shutdown`.
pub async fn serve_upstream(
    listener: TcpListener,
    data: DataSource,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(_) => continue,
            },
            () = &mut shutdown => return,
        };
        let _ = stream.set_nodelay(true);
        let data = data.clone();
        tokio::spawn(async move {
            let svc =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let pq = req
                        .uri()
                        .path_and_query()
                        .map(|p| p.as_str().to_owned())
                        .unwrap_or_default();
                    let found = data(&pq);
                    async move {
                        let resp = match found {
                            Some((ct, body)) => Response::builder()
                                .header(header::CONTENT_TYPE, ct)
                                .body(Full::new(Bytes::from(body))),
                            None => Response::builder()
                                .status(StatusCode::NOT_FOUND)
                                .header(header::CONTENT_TYPE, "application/json")
                                .body(Full::new(Bytes::from_static(b"{\"error\":\"not found\"}"))),
                        };
                        Ok::<_, Infallible>(
                            resp.unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))),
                        )
                    }
                });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// The demo's audit: each event as one JSON line on stdout, so the user
/// sees what would be recorded. (`serve` uses the configured sink.)
#[derive(Debug, Default)]
pub struct PrintSink;

impl AuditSink for PrintSink {
    fn submit(&self, event: AuditEvent) -> Result<(), AuditError> {
        use std::io::Write;
        let line = serde_json::to_string(&event).map_err(|_| AuditError::SinkFailed)?;
        writeln!(std::io::stdout().lock(), "audit: {line}").map_err(|_| AuditError::SinkFailed)
    }
    fn ready(&self) -> bool {
        true
    }
}

/// The environment, with a session pseudonymization key when none is set.
struct DemoEnv<'e> {
    inner: &'e dyn Env,
    session: HashMap<String, String>,
}

impl Env for DemoEnv<'_> {
    fn var(&self, name: &str) -> Option<String> {
        self.inner
            .var(name)
            .or_else(|| self.session.get(name).cloned())
    }
}

fn session_key() -> String {
    // Fresh per session: pseudonyms are stable within the demo only.
    let a = crate::proxy::request_id_generate();
    let b = crate::proxy::request_id_generate();
    format!("{a}{b}").replace('-', "")
}

/// Where the demo listens.
#[derive(Debug, Clone, Copy)]
pub struct DemoAddrs {
    pub proxy: SocketAddr,
    pub upstream: SocketAddr,
}

/// The demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Binds the demo's listeners (port 0 picks free ones) and builds the
/// proxy state, with `consent` and `audit` (the embedded defaults when the
/// caller has them).
pub async fn prepare(
    proxy_addr: SocketAddr,
    upstream_addr: SocketAddr,
    env: &dyn Env,
    consent: Arc<dyn ConsentSource>,
    audit: Arc<dyn AuditSink>,
) -> Result<(TcpListener, TcpListener, Arc<ProxyState>, DemoAddrs), DemoError> {
    let bind = |addr: SocketAddr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|source| DemoError::Bind { addr, source })
    };
    let up = bind(upstream_addr).await?;
    let px = bind(proxy_addr).await?;
    let addrs = DemoAddrs {
        proxy: px.local_addr().map_err(|source| DemoError::Bind {
            addr: proxy_addr,
            source,
        })?,
        upstream: up.local_addr().map_err(|source| DemoError::Bind {
            addr: upstream_addr,
            source,
        })?,
    };
    let env = DemoEnv {
        inner: env,
        session: HashMap::from([("ZASLON_PSEUDONYM_KEY".to_owned(), session_key())]),
    };
    let text = DEMO_CONFIG.replace("127.0.0.1:8081", &addrs.upstream.to_string());
    let cfg = Config::parse(&text, "config/demo.toml (embedded)", &env)?;
    let engine = Engine::new(Arc::new(RuleSet::embedded()), cfg.pseudonym_key.clone());
    let state = ProxyState::from_config(&cfg, engine, consent, audit)?;
    Ok((px, up, Arc::new(state), addrs))
}

/// What to try, for the addresses the demo got.
pub fn instructions(addrs: &DemoAddrs) -> String {
    let base = format!("http://{}", addrs.proxy);
    let mut s = String::new();
    s.push_str(&format!(
        "zaslon demo: proxy on {base}, synthetic MIS on http://{} (all data is synthetic)\n\n",
        addrs.upstream
    ));
    s.push_str("The same patient through four purposes:\n\n");
    for (key, purpose) in DEMO_KEYS {
        s.push_str(&format!(
            "  curl -s -H 'x-api-key: {key}' -H 'x-purpose: {purpose}' {base}/api/patients/10234\n"
        ));
    }
    s.push_str("\nRefused before the MIS is asked:\n\n");
    s.push_str(&format!(
        "  curl -si -H 'x-api-key: demo-marketing-key' -H 'x-purpose: care' {base}/api/patients/10234   # 403 purpose_not_granted\n"
    ));
    s.push_str(&format!(
        "  curl -si -H 'x-purpose: care' {base}/api/patients/10234   # 401 unauthenticated\n"
    ));
    s.push_str(&format!(
        "  curl -si -H 'x-api-key: demo-doctor-key' -H 'x-purpose: care' '{base}/api/patients%2F10234'   # 400 bad_path\n"
    ));
    s.push_str(&format!(
        "\nMore: {base}/api/patients (a list), {base}/fhir/Patient/10234 (FHIR), {base}/api/patients/10234/appointments\n"
    ));
    s.push_str("Each request prints its audit event below. Ctrl-C stops the demo.\n");
    s
}

/// Runs the demo until `shutdown`.
pub async fn run(
    proxy_addr: SocketAddr,
    upstream_addr: SocketAddr,
    data: DataSource,
    env: &dyn Env,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DemoError> {
    let (px, up, state, addrs) = prepare(
        proxy_addr,
        upstream_addr,
        env,
        Arc::new(NoRecords),
        Arc::new(PrintSink),
    )
    .await?;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut rx2 = rx.clone();
    let upstream = tokio::spawn(serve_upstream(up, data, async move {
        let _ = rx2.changed().await;
    }));
    println!("{}", instructions(&addrs));
    let mut rx3 = rx;
    let proxy = tokio::spawn(crate::server::run(px, state, async move {
        let _ = rx3.changed().await;
    }));
    shutdown.await;
    let _ = tx.send(true);
    let _ = proxy.await;
    let _ = upstream.await;
    Ok(())
}
