//! Why a request was refused, and the one function that turns it into a
//! response. The body is `{"error": "<code>", "request_id": "..."}` and
//! never carries upstream data or `Display` text.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

use crate::consent::ConsentDecision;
use crate::redact::RedactError;

use super::body::ProxyBody;

/// A refusal. Small and `Copy`; its code is the error body, the metric
/// label and the audit reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deny {
    Unauthenticated,
    PurposeMissing,
    PurposeUnknown,
    PurposeNotGranted,
    MethodNotAllowed,
    BadPath,
    /// A request the proxy will not forward as written (a chunked request
    /// body over HTTP/1, a malformed header of its own).
    BadRequest,
    NoRoute,
    SubjectMissing,
    SubjectAmbiguous,
    Consent(ConsentDecision),
    ConsentUnavailable,
    AuditUnavailable,
    BodyTooLarge,
    BlockedByRule,
    UnknownEncoding,
    BadEncoding,
    UpstreamUnavailable,
    UpstreamTimeout,
    Redact(RedactError),
}

impl Deny {
    pub fn code(self) -> &'static str {
        match self {
            Deny::Unauthenticated => "unauthenticated",
            Deny::PurposeMissing => "purpose_missing",
            Deny::PurposeUnknown => "purpose_unknown",
            Deny::PurposeNotGranted => "purpose_not_granted",
            Deny::MethodNotAllowed => "method_not_allowed",
            Deny::BadPath => "bad_path",
            Deny::BadRequest => "bad_request",
            Deny::NoRoute => "no_route",
            Deny::SubjectMissing => "subject_missing",
            Deny::SubjectAmbiguous => "subject_ambiguous",
            Deny::Consent(d) => d.code(),
            Deny::ConsentUnavailable => "consent_unavailable",
            Deny::AuditUnavailable => "audit_unavailable",
            Deny::BodyTooLarge => "body_too_large",
            Deny::BlockedByRule => "blocked_by_rule",
            Deny::UnknownEncoding => "unknown_encoding",
            Deny::BadEncoding => "bad_encoding",
            Deny::UpstreamUnavailable => "upstream_unavailable",
            Deny::UpstreamTimeout => "upstream_timeout",
            Deny::Redact(e) => e.code(),
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Deny::Unauthenticated => StatusCode::UNAUTHORIZED,
            Deny::PurposeMissing
            | Deny::PurposeUnknown
            | Deny::PurposeNotGranted
            | Deny::Consent(_)
            | Deny::BlockedByRule
            | Deny::Redact(RedactError::Blocked(_)) => StatusCode::FORBIDDEN,
            Deny::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Deny::BadPath | Deny::BadRequest | Deny::SubjectMissing | Deny::SubjectAmbiguous => {
                StatusCode::BAD_REQUEST
            }
            Deny::NoRoute => StatusCode::NOT_FOUND,
            Deny::ConsentUnavailable | Deny::AuditUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Deny::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Deny::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Deny::UnknownEncoding
            | Deny::BadEncoding
            | Deny::UpstreamUnavailable
            | Deny::Redact(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// The JSON error response.
    pub fn response(self, request_id: &str) -> Response<ProxyBody> {
        let mut body = Vec::with_capacity(64 + request_id.len());
        body.extend_from_slice(b"{\"error\":\"");
        body.extend_from_slice(self.code().as_bytes());
        body.extend_from_slice(b"\",\"request_id\":\"");
        // Request ids are checked to be plain tokens before they get here.
        body.extend_from_slice(request_id.as_bytes());
        body.extend_from_slice(b"\"}");
        let mut resp = Response::new(ProxyBody::full(Bytes::from(body)));
        *resp.status_mut() = self.status();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Ok(v) = HeaderValue::from_str(request_id) {
            h.insert(super::X_REQUEST_ID, v);
        }
        if self == Deny::BadRequest {
            h.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}
