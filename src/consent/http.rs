//! The `http` backend: a consent service answering `GET <endpoint>` per
//! subject with `{"blocked": bool, "purposes": {"marketing": false, ...}}`.
//!
//! - 200: that state;
//! - 404: no records (the same as `{}`);
//! - anything else, a body that does not parse, or no answer: the lookup
//!   fails. Connection errors, 5xx and 429 are retried (at most `retries`
//!   times) while the lookup's deadline allows; each attempt gets an equal
//!   share of the deadline so a hung first attempt leaves time to retry.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::{Request, StatusCode, Uri, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

use super::{BoxFuture, ConsentError, ConsentSource, SubjectState};
use crate::class::Purpose;

/// The most a consent answer may weigh.
const MAX_BODY: usize = 64 * 1024;
/// Concurrent requests of one batch.
const CONCURRENCY: usize = 16;

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    purposes: HashMap<String, Option<bool>>,
}

/// The `http` consent backend.
pub struct HttpSource {
    client: Client<HttpConnector, Empty<Bytes>>,
    /// The endpoint split at `{subject}`.
    prefix: String,
    suffix: String,
    authorization: Option<String>,
    deadline: Duration,
    retries: u32,
}

impl std::fmt::Debug for HttpSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSource")
            .field(
                "endpoint",
                &format_args!("{}{{subject}}{}", self.prefix, self.suffix),
            )
            .field("deadline", &self.deadline)
            .field("retries", &self.retries)
            .finish_non_exhaustive()
    }
}

impl HttpSource {
    /// `endpoint` holds `{subject}` once; `token` is sent as a bearer token.
    pub fn new(
        endpoint: &str,
        token: Option<String>,
        deadline: Duration,
        retries: u32,
    ) -> Result<HttpSource, String> {
        let Some((prefix, suffix)) = endpoint.split_once("{subject}") else {
            return Err(format!("endpoint {endpoint:?} has no {{subject}}"));
        };
        let probe = format!("{prefix}x{suffix}");
        let uri: Uri = probe
            .parse()
            .map_err(|e| format!("endpoint {endpoint:?} is not a valid URL: {e}"))?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            return Err(format!(
                "endpoint {endpoint:?} must be an http:// URL with a host"
            ));
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(deadline));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(HttpSource {
            client,
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
            authorization: token.map(|t| format!("Bearer {t}")),
            deadline,
            retries,
        })
    }

    fn uri(&self, subject: &str) -> Result<Uri, ConsentError> {
        if subject.is_empty() {
            return Err(ConsentError::Unavailable);
        }
        let mut url =
            String::with_capacity(self.prefix.len() + subject.len() * 3 + self.suffix.len());
        url.push_str(&self.prefix);
        percent_encode(subject, &mut url);
        url.push_str(&self.suffix);
        url.parse().map_err(|_| ConsentError::Unavailable)
    }

    async fn one(&self, subject: &str, deadline: Instant) -> Result<SubjectState, ConsentError> {
        let uri = self.uri(subject)?;
        let share = self.deadline / (self.retries + 1);
        let mut attempt = 0;
        loop {
            let now = Instant::now();
            let Some(left) = deadline
                .checked_duration_since(now)
                .filter(|d| !d.is_zero())
            else {
                return Err(ConsentError::Timeout);
            };
            let last = attempt >= self.retries;
            let budget = if last { left } else { share.min(left) };
            match tokio::time::timeout(budget, self.attempt(&uri)).await {
                Ok(Ok(state)) => return Ok(state),
                Ok(Err(Outcome::Fatal)) => return Err(ConsentError::Unavailable),
                Ok(Err(Outcome::Retry)) if last => return Err(ConsentError::Unavailable),
                Err(_) if last => return Err(ConsentError::Timeout),
                _ => {}
            }
            attempt += 1;
            let pause = Duration::from_millis(10 << attempt.min(6));
            if Instant::now() + pause >= deadline {
                return Err(ConsentError::Timeout);
            }
            tokio::time::sleep(pause).await;
        }
    }

    async fn attempt(&self, uri: &Uri) -> Result<SubjectState, Outcome> {
        let mut req = Request::get(uri.clone()).header(header::ACCEPT, "application/json");
        if let Some(a) = &self.authorization {
            req = req.header(header::AUTHORIZATION, a);
        }
        let req = req.body(Empty::new()).map_err(|_| Outcome::Fatal)?;
        let resp = self.client.request(req).await.map_err(|_| Outcome::Retry)?;
        let status = resp.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(SubjectState::default());
        }
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(Outcome::Retry);
        }
        if status != StatusCode::OK {
            tracing::warn!(
                status = status.as_u16(),
                "consent: the consent service refused a lookup"
            );
            return Err(Outcome::Fatal);
        }
        let body = Limited::new(resp.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|_| Outcome::Retry)?
            .to_bytes();
        let answer: Answer = serde_json::from_slice(&body).map_err(|_| {
            tracing::warn!("consent: the consent service's answer does not parse");
            Outcome::Fatal
        })?;
        let mut state = SubjectState {
            blocked: answer.blocked,
            ..SubjectState::default()
        };
        for (p, granted) in answer.purposes {
            if let Ok(p) = p.parse::<Purpose>() {
                state.purposes[p.index()] = granted;
            }
        }
        Ok(state)
    }
}

enum Outcome {
    Retry,
    Fatal,
}

/// Everything but RFC 3986's unreserved characters is %-encoded, so a
/// subject can never change the path or add a query.
fn percent_encode(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
}

impl ConsentSource for HttpSource {
    fn lookup<'a>(
        &'a self,
        subjects: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<SubjectState>, ConsentError>> {
        Box::pin(async move {
            let deadline = Instant::now() + self.deadline;
            let lookups: Vec<_> = subjects
                .iter()
                .map(|s| Box::pin(self.one(s, deadline)))
                .collect();
            futures_util::stream::iter(lookups)
                .buffered(CONCURRENCY)
                .try_collect()
                .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_percent_encoded() {
        let mut s = String::new();
        percent_encode("a/b?c=1 д", &mut s);
        assert_eq!(s, "a%2Fb%3Fc%3D1%20%D0%B4");
        let src = HttpSource::new(
            "http://127.0.0.1:1/c/{subject}?v=1",
            None,
            Duration::from_secs(1),
            0,
        )
        .unwrap();
        assert_eq!(src.uri("../x").unwrap().path(), "/c/..%2Fx");
        assert!(HttpSource::new("https://x/{subject}", None, Duration::from_secs(1), 0).is_err());
    }
}
