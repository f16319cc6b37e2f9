//! Listeners, TLS, connection limits and graceful shutdown.
//!
//! [`run`] is the testable entry point: it serves a bound listener until
//! the `shutdown` future completes, then stops accepting, lets in-flight
//! requests drain for `limits.shutdown_grace`, and returns.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::config::TlsFiles;
use crate::proxy::{self, ConnInfo, ProxyState};

/// The listener's TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {what} from {path}: {reason}")]
    Read {
        what: &'static str,
        path: String,
        reason: String,
    },
    #[error("TLS configuration rejected: {0}")]
    Config(String),
}

fn read_err<'a>(what: &'static str, path: &'a std::path::Path) -> impl Fn(String) -> TlsError + 'a {
    move |reason| TlsError::Read {
        what,
        path: path.display().to_string(),
        reason,
    }
}

/// The listener's rustls config: certificate chain, key, and with a client
/// CA, client certificates verified against it (mTLS). ALPN offers h2 and
/// http/1.1.
pub fn tls_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| read_err("certificates", &files.cert)(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| read_err("certificates", &files.cert)(e.to_string()))?;
    if certs.is_empty() {
        return Err(read_err("certificates", &files.cert)(
            "no certificate in the file".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| read_err("the private key", &files.key)(e.to_string()))?;
    let client_ca = match &files.client_ca {
        Some(path) => {
            let cas = CertificateDer::pem_file_iter(path)
                .map_err(|e| read_err("client CA certificates", path)(e.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| read_err("client CA certificates", path)(e.to_string()))?;
            let mut roots = rustls::RootCertStore::empty();
            for c in cas {
                roots
                    .add(c)
                    .map_err(|e| read_err("client CA certificates", path)(e.to_string()))?;
            }
            Some(roots)
        }
        None => None,
    };
    server_config(certs, key, client_ca, files.client_cert_optional)
}

/// The rustls server config from parsed parts (tests build certificates in
/// memory and come in here).
pub fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_ca: Option<rustls::RootCertStore>,
    client_cert_optional: bool,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = proxy::upstream::crypto_provider();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match client_ca {
        Some(roots) => {
            let v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            );
            let v = if client_cert_optional {
                v.allow_unauthenticated()
            } else {
                v
            };
            builder
                .with_client_cert_verifier(v.build().map_err(|e| TlsError::Config(e.to_string()))?)
        }
        None => builder.with_no_client_auth(),
    };
    let mut cfg = builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// A stream that counts its reads and writes, so that the idle watch
/// ([`idle_for`]) can tell a quiet connection without a clock read per
/// read or write.
struct Activity<T> {
    inner: T,
    count: Arc<AtomicU64>,
}

impl<T> Activity<T> {
    /// Only this stream writes the counter: a load and a store, no atomic
    /// read-modify-write.
    fn bump(&self) {
        let n = self.count.load(Ordering::Relaxed);
        self.count.store(n.wrapping_add(1), Ordering::Relaxed);
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Activity<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.bump();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Activity<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.bump();
        }
        r
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.bump();
        }
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Looks at the activity count every quarter of `idle`.
const IDLE_TICKS: u32 = 4;

/// Completes once nothing was read or written for `idle`: when the count
/// is what it was [`IDLE_TICKS`] ticks ago. So a quiet connection is
/// closed between `idle` and 1.25 times `idle` after its last byte.
async fn idle_for(count: Arc<AtomicU64>, idle: Duration) {
    let tick = idle / IDLE_TICKS;
    // seen[k % IDLE_TICKS] holds the count at tick k; u64::MAX stands for
    // the ticks before the watch started, which no count can equal.
    let mut seen = [u64::MAX; IDLE_TICKS as usize];
    seen[0] = count.load(Ordering::Relaxed);
    let mut k = 0usize;
    loop {
        tokio::time::sleep(tick).await;
        k += 1;
        let now = count.load(Ordering::Relaxed);
        let slot = &mut seen[k % IDLE_TICKS as usize];
        if *slot == now {
            return;
        }
        *slot = now;
    }
}

fn http_builder(state: &ProxyState) -> auto::Builder<TokioExecutor> {
    let l = &state.limits;
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(l.header_read_timeout)
        .max_buf_size(l.max_header_bytes.max(8192))
        .keep_alive(true);
    b.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(l.max_header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(256)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    b
}

/// A connection accepted, on its way to a worker.
struct Handoff {
    stream: std::net::TcpStream,
    peer: std::net::SocketAddr,
    permit: tokio::sync::OwnedSemaphorePermit,
}

/// One worker thread: its inbox and how many connections it serves.
struct WorkerSlot {
    tx: tokio::sync::mpsc::UnboundedSender<Handoff>,
    open: Arc<AtomicU64>,
}

/// The number of worker threads for `limits.workers` (0: one per CPU).
pub fn worker_count(configured: usize) -> usize {
    if configured > 0 {
        return configured;
    }
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// Serves `listener` until `shutdown` completes, then drains.
///
/// Connections are served by `limits.workers` threads, each running a
/// single-threaded runtime: a connection, its requests, their upstream
/// connections and the tasks driving those stay on one thread, with no
/// work stealing and no cross-thread wake-ups on the request path (the
/// upstream pool is per thread, see [`proxy::upstream`]). This task
/// accepts and hands each connection to the worker serving the fewest.
/// At `shutdown` it stops accepting; each worker then lets its in-flight
/// requests drain for `limits.shutdown_grace`, and `run` returns when all
/// have finished.
pub async fn run(
    listener: TcpListener,
    state: Arc<ProxyState>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let n = worker_count(state.limits.workers);
    let mut slots = Vec::with_capacity(n);
    let mut finished = Vec::with_capacity(n);
    for i in 0..n {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let open = Arc::new(AtomicU64::new(0));
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let worker_state = state.clone();
        let worker_open = open.clone();
        std::thread::Builder::new()
            .name(format!("zaslon-worker-{i}"))
            .spawn(move || {
                rt.block_on(worker(rx, worker_state, worker_open));
                let _ = done_tx.send(());
            })?;
        slots.push(WorkerSlot { tx, open });
        finished.push(done_rx);
    }
    let limit = Arc::new(Semaphore::new(state.limits.max_connections));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    // Out of descriptors, say: back off rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot hand a connection to a worker");
                continue;
            }
        };
        let slot = slots
            .iter()
            .min_by_key(|w| w.open.load(Ordering::Relaxed))
            .expect("at least one worker");
        slot.open.fetch_add(1, Ordering::Relaxed);
        if let Err(back) = slot.tx.send(Handoff {
            stream,
            peer,
            permit,
        }) {
            // The worker is gone (it panicked): the connection is closed.
            drop(back);
            slot.open.fetch_sub(1, Ordering::Relaxed);
            tracing::error!("a worker thread has stopped; connection closed");
        }
    }
    drop(listener);
    // Closing the inboxes tells the workers to drain and stop.
    drop(slots);
    for done in finished {
        let _ = done.await;
    }
    Ok(())
}

/// Serves the connections handed to this worker until its inbox closes,
/// then drains them.
async fn worker(
    mut inbox: tokio::sync::mpsc::UnboundedReceiver<Handoff>,
    state: Arc<ProxyState>,
    open: Arc<AtomicU64>,
) {
    let tls = state.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let builder = Arc::new(http_builder(&state));
    let graceful = GracefulShutdown::new();
    while let Some(Handoff {
        stream,
        peer,
        permit,
    }) = inbox.recv().await
    {
        let stream = match tokio::net::TcpStream::from_std(stream) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot register a connection");
                open.fetch_sub(1, Ordering::Relaxed);
                continue;
            }
        };
        let watcher = graceful.watcher();
        let state = state.clone();
        let builder = builder.clone();
        let tls = tls.clone();
        let open = open.clone();
        tokio::spawn(async move {
            let _permit = permit;
            serve_stream(stream, peer, state, &builder, tls, watcher).await;
            open.fetch_sub(1, Ordering::Relaxed);
        });
    }
    let grace = state.limits.shutdown_grace;
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace period ended with requests in flight");
    }
}

/// One accepted connection: TLS if configured, then HTTP until it closes,
/// idles out or the worker drains.
async fn serve_stream(
    stream: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    state: Arc<ProxyState>,
    builder: &auto::Builder<TokioExecutor>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let activity = Arc::new(AtomicU64::new(0));
    let io = Activity {
        inner: stream,
        count: activity.clone(),
    };
    let idle = state.limits.idle_timeout;
    match tls {
        None => {
            let info = ConnInfo::new(peer, false, None);
            serve_conn(io, info, state, builder, watcher, activity, idle).await;
        }
        Some(acceptor) => {
            let hs =
                tokio::time::timeout(state.limits.header_read_timeout, acceptor.accept(io)).await;
            let Ok(Ok(tls_stream)) = hs else {
                tracing::debug!(%peer, "TLS handshake failed or timed out");
                return;
            };
            let cert_names = tls_stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| Arc::<[String]>::from(proxy::client::cert_names(c)));
            let info = ConnInfo::new(peer, true, cert_names);
            serve_conn(tls_stream, info, state, builder, watcher, activity, idle).await;
        }
    }
}

async fn serve_conn<I>(
    io: I,
    info: ConnInfo,
    state: Arc<ProxyState>,
    builder: &auto::Builder<TokioExecutor>,
    watcher: hyper_util::server::graceful::Watcher,
    activity: Arc<AtomicU64>,
    idle: Duration,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let info = Arc::new(info);
    let svc = hyper::service::service_fn(move |req| {
        let state = state.clone();
        let info = info.clone();
        async move { Ok::<_, Infallible>(proxy::handle(&state, &info, req).await) }
    });
    let conn = builder.serve_connection(TokioIo::new(io), svc).into_owned();
    tokio::select! {
        r = watcher.watch(conn) => {
            if let Err(e) = r {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        () = idle_for(activity, idle) => {
            tracing::debug!("idle connection closed");
        }
    }
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Binds a listener with a large backlog.
pub fn bind(addr: std::net::SocketAddr) -> io::Result<TcpListener> {
    let sock = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    sock.set_reuseaddr(true)?;
    sock.bind(addr)?;
    sock.listen(1024)
}
