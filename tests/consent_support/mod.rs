//! Loopback builders for the consent scenarios: a slow backend wrapper, a
//! temporary directory, a PostgreSQL schema per test, a TCP gate that can
//! make PostgreSQL unreachable, and a real HTTP consent service.

#![allow(dead_code, clippy::unwrap_used)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};
use zaslon::consent::{
    BoxFuture, ConsentCache, ConsentConfig, ConsentError, ConsentSource, PgNames, PgSource,
    SubjectState,
};

fn unique() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Relaxed)
    )
}

/// Polls `check` until it holds; the time it took, or `None` past `limit`.
pub async fn wait_until<F, Fut>(limit: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let t0 = Instant::now();
    loop {
        if check().await {
            return Some(t0.elapsed());
        }
        if t0.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// A backend that answers from `inner` as of the call, but only after `delay`.
pub struct Slow {
    inner: Arc<dyn ConsentSource>,
    delay: Duration,
    asked: Mutex<Vec<String>>,
}

impl Slow {
    pub fn new(inner: Arc<dyn ConsentSource>, delay: Duration) -> Slow {
        Slow {
            inner,
            delay,
            asked: Mutex::new(Vec::new()),
        }
    }
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

impl ConsentSource for Slow {
    fn lookup<'a>(
        &'a self,
        subjects: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<SubjectState>, ConsentError>> {
        Box::pin(async move {
            self.asked.lock().unwrap().extend(subjects.iter().cloned());
            let answer = self.inner.lookup(subjects).await;
            tokio::time::sleep(self.delay).await;
            answer
        })
    }
}

/// A backend that panics until healed.
pub struct Panicky {
    inner: Arc<dyn ConsentSource>,
    broken: std::sync::atomic::AtomicBool,
}

impl Panicky {
    pub fn new(inner: Arc<dyn ConsentSource>) -> Panicky {
        Panicky {
            inner,
            broken: std::sync::atomic::AtomicBool::new(true),
        }
    }
    pub fn heal(&self) {
        self.broken.store(false, Relaxed);
    }
}

impl ConsentSource for Panicky {
    fn lookup<'a>(
        &'a self,
        subjects: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<SubjectState>, ConsentError>> {
        Box::pin(async move {
            assert!(
                !self.broken.load(Relaxed),
                "the backend panics (on purpose)"
            );
            self.inner.lookup(subjects).await
        })
    }
}

pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("zaslon-consent-{tag}-{}", unique()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Waits until the cache's LISTEN connection is up (it expires the cache
/// once listening, which counts as an invalidation).
pub async fn wait_listening(cache: &ConsentCache) {
    wait_until(Duration::from_secs(5), || async {
        cache.stats().invalidations >= 1
    })
    .await
    .expect("the LISTEN connection came up");
}

/// A fresh schema `zt_<unique>` in database `test` with the shipped tables.
pub struct TestSchema {
    pub name: String,
    client: tokio_postgres::Client,
}

impl TestSchema {
    pub async fn create() -> TestSchema {
        let (client, conn) = tokio_postgres::connect(
            "host=127.0.0.1 port=5432 user=postgres dbname=test",
            tokio_postgres::NoTls,
        )
        .await
        .expect("PostgreSQL on 127.0.0.1:5432 (scripts/test.sh starts it)");
        tokio::spawn(conn);
        let name = format!("zt_{}", unique());
        zaslon::consent::postgres::install_schema(&client, &name)
            .await
            .unwrap();
        client
            .batch_execute(&format!("set search_path to {name}"))
            .await
            .unwrap();
        TestSchema { name, client }
    }

    fn dsn(&self, port: u16) -> String {
        format!(
            "host=127.0.0.1 port={port} user=postgres dbname=test application_name={}",
            self.name
        )
    }

    pub fn config_via(&self, port: u16) -> ConsentConfig {
        ConsentConfig::from_toml_str(&format!(
            "backend = \"postgres\"\ndsn = \"{}\"\nschema = \"{}\"",
            self.dsn(port),
            self.name
        ))
        .unwrap()
    }

    pub fn config(&self) -> ConsentConfig {
        self.config_via(5432)
    }

    pub fn source(&self) -> PgSource {
        let names = PgNames {
            schema: self.name.clone(),
            ..PgNames::default()
        };
        PgSource::new(
            self.dsn(5432).parse().unwrap(),
            names,
            Duration::from_secs(2),
        )
        .unwrap()
    }

    pub async fn exec(&self, sql: &str) {
        self.client.batch_execute(sql).await.unwrap();
    }

    /// Terminates the server sessions of the caches built from `config()`.
    pub async fn terminate_own_connections(&self) -> i64 {
        let row = self
            .client
            .query_one(
                "select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name = $1",
                &[&self.name],
            )
            .await
            .unwrap();
        row.get(0)
    }

    pub async fn drop(self) {
        self.client
            .batch_execute(&format!("drop schema {} cascade", self.name))
            .await
            .unwrap();
    }
}

type Running = (JoinHandle<()>, Arc<Mutex<Vec<AbortHandle>>>);

/// A TCP forwarder in front of PostgreSQL: `close` makes it unreachable
/// (connection refused, open sessions cut), `reopen` brings it back on the
/// same port. The machine's server is never touched.
pub struct Gate {
    addr: SocketAddr,
    target: String,
    running: tokio::sync::Mutex<Option<Running>>,
}

impl Gate {
    pub async fn open(target: &str) -> Gate {
        let gate = Gate {
            addr: "127.0.0.1:0".parse().unwrap(),
            target: target.to_owned(),
            running: tokio::sync::Mutex::new(None),
        };
        let addr = gate.start("127.0.0.1:0".parse().unwrap()).await;
        Gate { addr, ..gate }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    async fn start(&self, at: SocketAddr) -> SocketAddr {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind(at).unwrap();
        let listener: TcpListener = socket.listen(64).unwrap();
        let addr = listener.local_addr().unwrap();
        let conns: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let target = self.target.clone();
        let c = conns.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                c.lock().unwrap().push(task.abort_handle());
            }
        });
        *self.running.lock().await = Some((accept, conns));
        addr
    }

    pub async fn close(&self) {
        if let Some((accept, conns)) = self.running.lock().await.take() {
            accept.abort();
            let _ = accept.await;
            for c in conns.lock().unwrap().drain(..) {
                c.abort();
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    pub async fn reopen(&self) {
        self.start(self.addr).await;
    }
}

/// A consent service on loopback; the subject names the behaviour.
pub struct ConsentService {
    pub addr: SocketAddr,
    pub bearer_seen: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Drop for ConsentService {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ConsentService {
    pub async fn start() -> ConsentService {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let bearer_seen = Arc::new(AtomicU64::new(0));
        let flaky_calls = Arc::new(AtomicU64::new(0));
        let seen = bearer_seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let seen = seen.clone();
                let flaky_calls = flaky_calls.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(
                        move |req: Request<hyper::body::Incoming>| {
                            let seen = seen.clone();
                            let flaky_calls = flaky_calls.clone();
                            async move {
                                if req
                                    .headers()
                                    .get("authorization")
                                    .is_some_and(|v| v == "Bearer t0ken")
                                {
                                    seen.fetch_add(1, Relaxed);
                                }
                                let subject =
                                    req.uri().path().rsplit('/').next().unwrap_or("").to_owned();
                                let (status, body) = match subject.as_str() {
                                    "withdrawn" => (
                                        200,
                                        r#"{"blocked":false,"purposes":{"marketing":false,"care":true,"unknown":true}}"#,
                                    ),
                                    "blocked" => (200, r#"{"blocked":true}"#),
                                    "missing" => (404, ""),
                                    "flaky" if flaky_calls.fetch_add(1, Relaxed) == 0 => (500, ""),
                                    "flaky" => (200, r#"{"purposes":{"care":false}}"#),
                                    "hang" => {
                                        tokio::time::sleep(Duration::from_secs(10)).await;
                                        (200, "{}")
                                    }
                                    "teapot" => (418, ""),
                                    "garbled" => (200, "not json"),
                                    _ => (404, ""),
                                };
                                let mut resp =
                                    Response::new(Full::new(Bytes::from_static(body.as_bytes())));
                                *resp.status_mut() = StatusCode::from_u16(status).unwrap();
                                Ok::<_, Infallible>(resp)
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        ConsentService {
            addr,
            bearer_seen,
            task,
        }
    }
}
