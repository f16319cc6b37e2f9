//! A bare hyper pass-through proxy, for the load benchmark only: no
//! clients, purposes, routes, consent, redaction, audit or metrics. It
//! shows what hyper and the loopback cost on this machine, so that
//! `benches/load.sh` can tell zaslon's own share of the gap to nginx.
//! Never deploy it: it forwards personal data unredacted.

use std::convert::Infallible;
use std::future::Future;

use http::{Request, Response, Uri};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::{Bytes, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

type Body = BoxBody<Bytes, hyper::Error>;

/// Forwards every request on `listener` to `upstream` (an `http://` origin)
/// until `shutdown`, streaming the response back.
pub async fn run(listener: TcpListener, upstream: Uri, shutdown: impl Future<Output = ()>) {
    let client: Client<HttpConnector, Incoming> =
        Client::builder(TokioExecutor::new()).build_http();
    crate::demo::accept_until(listener, shutdown, |stream| {
        let client = client.clone();
        let upstream = upstream.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let client = client.clone();
                let upstream = upstream.clone();
                async move { Ok::<_, Infallible>(forward(&client, &upstream, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    })
    .await;
}

async fn forward(
    client: &Client<HttpConnector, Incoming>,
    upstream: &Uri,
    req: Request<Incoming>,
) -> Response<Body> {
    let (mut parts, body) = req.into_parts();
    let pq = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut uri = upstream.clone().into_parts();
    uri.path_and_query = pq.parse().ok();
    parts.uri = match Uri::from_parts(uri) {
        Ok(u) => u,
        Err(_) => return status(400),
    };
    match client.request(Request::from_parts(parts, body)).await {
        Ok(resp) => resp.map(BodyExt::boxed),
        Err(_) => status(502),
    }
}

fn status(code: u16) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::new()).map_err(|e| match e {}).boxed());
    *r.status_mut() = http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::BAD_GATEWAY);
    r
}
