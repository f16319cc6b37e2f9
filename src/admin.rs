//! The admin listener: metrics, health, reload, consent invalidation.
//!
//! | route | auth | answer |
//! |---|---|---|
//! | `GET /healthz` | none | 200 while the process serves |
//! | `GET /readyz` | none | 200 when every named check passes, else 503 naming the failing ones |
//! | `GET /metrics` | bearer | Prometheus text |
//! | `POST /reload` | bearer | calls the reload callback |
//! | `POST /consent/invalidate` | bearer | `{"subject":"ID"}` or `{"all":true}` |
//!
//! Without a configured token every authenticated route answers 401: the
//! listener fails closed. Bodies never echo request data (a subject id sent
//! to `/consent/invalidate` is personal data).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

use crate::metrics::Metrics;

/// A readiness check: true when the dependency is usable now.
pub type Check = Arc<dyn Fn() -> bool + Send + Sync>;
/// Reloads config and rules; `Ok` carries a short summary (e.g. versions).
pub type ReloadFn = Arc<dyn Fn() -> Result<String, String> + Send + Sync>;
/// Drops cached consent for one subject or for all.
pub type InvalidateFn = Arc<dyn Fn(Invalidate) -> Result<String, String> + Send + Sync>;

/// What `POST /consent/invalidate` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidate {
    Subject(String),
    All,
}

/// Largest accepted request body.
const MAX_BODY: usize = 4096;

/// Everything the admin routes need.
#[derive(Clone)]
pub struct AdminState {
    pub metrics: Arc<Metrics>,
    /// SHA-256 of the bearer token; `None` refuses every protected route.
    token_digest: Option<[u8; 32]>,
    /// Named checks for `/readyz`, e.g. `upstream`, `consent`, `audit`.
    pub checks: Vec<(String, Check)>,
    pub reload: Option<ReloadFn>,
    pub invalidate: Option<InvalidateFn>,
}

impl std::fmt::Debug for AdminState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminState")
            .field("token", &self.token_digest.map(|_| ".."))
            .field(
                "checks",
                &self.checks.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl AdminState {
    pub fn new(metrics: Arc<Metrics>, token: Option<&str>) -> AdminState {
        AdminState {
            metrics,
            token_digest: token
                .filter(|t| !t.is_empty())
                .map(|t| Sha256::digest(t.as_bytes()).into()),
            checks: Vec::new(),
            reload: None,
            invalidate: None,
        }
    }

    /// The token from the environment variable `var` (`[admin] token_env`).
    pub fn token_from_env(metrics: Arc<Metrics>, var: &str) -> AdminState {
        let token = std::env::var(var).ok();
        AdminState::new(metrics, token.as_deref())
    }

    pub fn check(mut self, name: &str, check: Check) -> AdminState {
        self.checks.push((name.to_owned(), check));
        self
    }

    pub fn on_reload(mut self, f: ReloadFn) -> AdminState {
        self.reload = Some(f);
        self
    }

    pub fn on_invalidate(mut self, f: InvalidateFn) -> AdminState {
        self.invalidate = Some(f);
        self
    }

    /// Constant time in the token's content: both sides are hashed first.
    fn authorized(&self, header: Option<&HeaderValue>) -> bool {
        let Some(want) = self.token_digest else {
            return false;
        };
        // The scheme name is case-insensitive (RFC 9110 section 11.1).
        let Some(given) = header
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token)
        else {
            return false;
        };
        let got: [u8; 32] = Sha256::digest(given.trim().as_bytes()).into();
        got.iter()
            .zip(want.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

/// Serves the admin routes on `listener` until `shutdown` completes.
pub async fn run_admin(
    listener: TcpListener,
    state: AdminState,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let state = Arc::new(state);
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                // Out of descriptors and the like: keep serving.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(&state, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

type Body = Full<Bytes>;

fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn json(status: StatusCode, value: serde_json::Value) -> Response<Body> {
    respond(status, "application/json", value.to_string())
}

fn error(status: StatusCode, code: &str) -> Response<Body> {
    json(status, serde_json::json!({ "error": code }))
}

/// One admin request.
pub async fn handle(state: &AdminState, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    let method = &parts.method;
    match path {
        "/healthz" | "/readyz" if method != Method::GET && method != Method::HEAD => {
            error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
        }
        "/healthz" => json(StatusCode::OK, serde_json::json!({ "status": "ok" })),
        "/readyz" => readyz(state),
        "/metrics" | "/reload" | "/consent/invalidate" => {
            if !state.authorized(parts.headers.get(AUTHORIZATION)) {
                let mut r = error(StatusCode::UNAUTHORIZED, "unauthorized");
                r.headers_mut()
                    .insert("www-authenticate", HeaderValue::from_static("Bearer"));
                return r;
            }
            match (path, method) {
                ("/metrics", &Method::GET) => respond(
                    StatusCode::OK,
                    "text/plain; version=0.0.4; charset=utf-8",
                    state.metrics.render(),
                ),
                ("/reload", &Method::POST) => reload(state).await,
                ("/consent/invalidate", &Method::POST) => invalidate(state, body).await,
                _ => error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            }
        }
        _ => error(StatusCode::NOT_FOUND, "not_found"),
    }
}

fn readyz(state: &AdminState) -> Response<Body> {
    let failing: Vec<&str> = state
        .checks
        .iter()
        .filter(|(_, check)| !check())
        .map(|(name, _)| name.as_str())
        .collect();
    if failing.is_empty() {
        json(StatusCode::OK, serde_json::json!({ "ready": true }))
    } else {
        json(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "ready": false, "failing": failing }),
        )
    }
}

async fn reload(state: &AdminState) -> Response<Body> {
    let Some(f) = state.reload.clone() else {
        return error(StatusCode::NOT_IMPLEMENTED, "reload_unavailable");
    };
    match tokio::task::spawn_blocking(move || f()).await {
        Ok(Ok(summary)) => json(StatusCode::OK, serde_json::json!({ "reloaded": summary })),
        // Config errors name files and keys, never request data.
        Ok(Err(message)) => json(
            StatusCode::UNPROCESSABLE_ENTITY,
            serde_json::json!({ "error": "reload_failed", "message": message }),
        ),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct InvalidateBody {
    subject: Option<String>,
    all: Option<bool>,
}

async fn invalidate(state: &AdminState, body: Incoming) -> Response<Body> {
    let Some(f) = state.invalidate.clone() else {
        return error(StatusCode::NOT_IMPLEMENTED, "invalidate_unavailable");
    };
    let bytes = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return error(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
    };
    let what = match serde_json::from_slice::<InvalidateBody>(&bytes) {
        Ok(InvalidateBody {
            subject: Some(s),
            all: None | Some(false),
        }) if !s.is_empty() => Invalidate::Subject(s),
        Ok(InvalidateBody {
            subject: None,
            all: Some(true),
        }) => Invalidate::All,
        _ => return error(StatusCode::BAD_REQUEST, "bad_request"),
    };
    let scope = match what {
        Invalidate::Subject(_) => "subject",
        Invalidate::All => "all",
    };
    match tokio::task::spawn_blocking(move || f(what)).await {
        Ok(Ok(_)) => json(StatusCode::OK, serde_json::json!({ "invalidated": scope })),
        Ok(Err(_)) => error(StatusCode::SERVICE_UNAVAILABLE, "invalidate_failed"),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}
