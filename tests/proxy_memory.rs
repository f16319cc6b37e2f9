//! Memory: a 1 GiB response through the proxy. Its own test binary, so no
//! other test shares the process whose RSS it measures.

#![allow(clippy::unwrap_used)]

mod support;

use support::*;

/// `legal` streams through the same decode-redact-encode pipeline with no
/// detectors to run, which keeps this test fast in a debug build; the
/// engine's own bound with detectors on is measured on `zaslon redact`
/// (benches/README.md).
fn care() -> [(&'static str, &'static str); 2] {
    [("x-api-key", ALL_KEY), ("x-purpose", "legal")]
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1_gb_response_streams_in_constant_memory() {
    use http_body_util::BodyExt;
    const TOTAL: u64 = 1 << 30;
    // The upstream streams one 64 KiB JSON chunk over and over.
    let mut unit = String::new();
    while unit.len() < 65_000 {
        unit.push_str("{\"id\":\"10234\",\"note\":\"synthetic note text\"},");
    }
    let unit = bytes::Bytes::from(unit);
    let expected = 1 + TOTAL / unit.len() as u64 * unit.len() as u64 + 3;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let unit = unit.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req| {
                    let unit = unit.clone();
                    async move {
                        let n = TOTAL / unit.len() as u64;
                        let chunks = futures_util::stream::iter(
                            std::iter::once(bytes::Bytes::from_static(b"["))
                                .chain((0..n).map(move |_| unit.clone()))
                                .chain(std::iter::once(bytes::Bytes::from_static(b"{}]")))
                                .map(|b| {
                                    Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(b))
                                }),
                        );
                        let mut resp = http::Response::new(http_body_util::StreamBody::new(chunks));
                        resp.headers_mut()
                            .insert("content-type", "application/json".parse().unwrap());
                        Ok::<_, std::convert::Infallible>(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    let proxy = ProxyBuilder::new(&format!("http://{up}")).start().await;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let started = std::time::Instant::now();
    let resp = client
        .request(request("GET", &proxy.url("/api/patients"), &care()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let mut seen = 0u64;
    let mut base = 0u64;
    let mut peak = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.expect("the body was cut");
        if let Some(d) = frame.data_ref() {
            seen += d.len() as u64;
        }
        // Baseline once the pipeline is warm (first 64 MiB).
        if base == 0 && seen > 64 << 20 {
            base = rss_kib();
        }
        if base > 0 && seen % (32 << 20) < 70_000 {
            peak = peak.max(rss_kib());
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(50),
            "too slow: {seen} bytes"
        );
    }
    assert_eq!(seen, expected, "not every byte arrived");
    let grown = peak.saturating_sub(base);
    assert!(grown < 32 * 1024, "RSS grew by {grown} KiB over the body");
    println!(
        "1 GiB in {:?}, RSS {base} KiB -> peak {peak} KiB",
        started.elapsed()
    );
}
