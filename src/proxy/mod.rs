//! The per-request pipeline, in phase order:
//!
//! ```text
//! identify client -> normalize path -> route -> purpose -> method
//!   -> subject -> consent -> audit admission -> upstream request
//!   -> response: content kind -> decode -> redact -> encode -> client
//! ```
//!
//! Every refusal happens before the upstream is called, and every request
//! leaves exactly one audit event ([`audit::AuditRecord`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::audit::{AuditEvent, AuditSink};
use crate::class::Purpose;
use crate::config::{Config, Limits, Unmatched};
use crate::consent::{ConsentDecision, ConsentError, ConsentSource, decide};
use crate::metrics::Metrics;
use crate::redact::{ContentKind, Engine, RecordSpec, RedactError};

pub mod assemble;
pub mod audit;
pub mod body;
pub mod client;
pub mod codec;
pub mod error;
pub mod path;
mod request_id;

/// A new UUID-like id (request ids, demo session keys).
pub fn request_id_generate() -> String {
    request_id::generate()
}
pub mod route;
pub mod upstream;

pub use body::{BodyAbort, ProxyBody};
pub use error::Deny;

use audit::AuditRecord;
use body::RedactingBody;
use client::Clients;
use codec::{Accepted, Coding, Decoder, Encoder};
use route::{MethodRules, Route, RoutePattern, Router, SubjectError};
use upstream::{Upstream, UpstreamBody, UpstreamBuildError};

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
pub const X_PURPOSE: HeaderName = HeaderName::from_static("x-purpose");
pub const X_ACTOR: HeaderName = HeaderName::from_static("x-actor");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// How much upstream body is read before the response head is sent, at
/// most, to answer a block or a malformed start with a clean error.
const PREFETCH_LIMIT: u64 = 64 * 1024;

/// The route template recorded for requests passed without a route.
const UNMATCHED_ROUTE: &str = "(unmatched)";

/// Everything a request needs; shared by all connections.
pub struct ProxyState {
    /// Swapped whole by a reload; each request takes one snapshot.
    engine: RwLock<Arc<Engine>>,
    pub clients: Clients,
    pub router: Router,
    /// The default upstream first.
    pub upstreams: Vec<Upstream>,
    pub unmatched: Unmatched,
    pub consent: Arc<dyn ConsentSource>,
    pub audit: Arc<dyn AuditSink>,
    pub limits: Limits,
    /// TLS for the listener; `None` serves plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Registered once; the proxy, consent and audit share it.
    pub metrics: Arc<Metrics>,
    /// Record-level consent per route template (routes with `records`).
    records: HashMap<String, Arc<RecordSpec>>,
    /// `upstream_duration_seconds{route}` per route template, resolved
    /// when the metrics are set.
    upstream_timers: HashMap<String, prometheus::Histogram>,
    fallback: Route,
}

/// Why the state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Upstream(#[from] UpstreamBuildError),
    #[error(transparent)]
    Tls(#[from] crate::server::TlsError),
    #[error("route {route}: {message}")]
    Records { route: String, message: String },
}

/// The record specs of every route with `records`, or the first error.
pub fn record_specs(routes: &[Route]) -> Result<HashMap<String, Arc<RecordSpec>>, BuildError> {
    let mut out = HashMap::new();
    for r in routes {
        let template = r.pattern.template().to_owned();
        match (&r.records, &r.record_subject) {
            (None, None) => {}
            (Some(records), Some(subject)) => {
                let mut spec =
                    RecordSpec::parse(records, subject).map_err(|message| BuildError::Records {
                        route: template.clone(),
                        message,
                    })?;
                if let Some(counts) = &r.record_counts {
                    spec.counts.clone_from(counts);
                }
                out.insert(template, Arc::new(spec));
            }
            _ => {
                return Err(BuildError::Records {
                    route: template,
                    message: "`records` and `record_subject` go together, e.g. \
                              records = \"$.items[*]\", record_subject = \"id\""
                        .into(),
                });
            }
        }
    }
    Ok(out)
}

impl ProxyState {
    /// Builds the state from a validated config. TLS files, if any, are
    /// read here.
    pub fn from_config(
        cfg: &Config,
        engine: Engine,
        consent: Arc<dyn ConsentSource>,
        audit: Arc<dyn AuditSink>,
    ) -> Result<ProxyState, BuildError> {
        let upstreams = cfg
            .upstreams
            .iter()
            .map(|u| Upstream::new(u, cfg.limits.upstream_timeout))
            .collect::<Result<Vec<_>, _>>()?;
        let tls = match &cfg.listen.tls {
            Some(files) => Some(crate::server::tls_config(files)?),
            None => None,
        };
        let records = record_specs(&cfg.routes)?;
        let metrics = Arc::new(Metrics::new());
        let upstream_timers = upstream_timers(&metrics, &cfg.routes);
        Ok(ProxyState {
            engine: RwLock::new(Arc::new(engine)),
            clients: Clients::new(cfg.clients.clone()),
            router: Router::new(cfg.routes.clone()),
            upstreams,
            unmatched: cfg.unmatched,
            consent,
            audit,
            limits: cfg.limits,
            tls,
            metrics,
            records,
            upstream_timers,
            fallback: fallback_route(),
        })
    }

    /// Uses `metrics` (the one registry shared with consent, audit and the
    /// admin listener) instead of the state's own.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> ProxyState {
        let routes: Vec<Route> = self.router.routes().to_vec();
        self.upstream_timers = upstream_timers(&metrics, &routes);
        self.metrics = metrics;
        self
    }

    /// The engine now; a request keeps the one it started with.
    pub fn engine(&self) -> Arc<Engine> {
        match self.engine.read() {
            Ok(e) => e.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the engine (a rules reload); requests in flight finish
    /// with the old one.
    pub fn swap_engine(&self, engine: Engine) {
        let new = Arc::new(engine);
        match self.engine.write() {
            Ok(mut e) => *e = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }
}

fn upstream_timers(m: &Metrics, routes: &[Route]) -> HashMap<String, prometheus::Histogram> {
    routes
        .iter()
        .map(|r| r.pattern.template())
        .chain([UNMATCHED_ROUTE])
        .map(|t| {
            (
                t.to_owned(),
                m.upstream_duration_seconds.with_label_values(&[t]),
            )
        })
        .collect()
}

fn fallback_route() -> Route {
    Route {
        pattern: RoutePattern::parse("/").unwrap_or_else(|_| unreachable_pattern()),
        upstream: 0,
        subject: None,
        methods: MethodRules::default(),
        records: None,
        record_subject: None,
        record_counts: None,
    }
}

// "/" is a valid pattern; kept out of line so the code above reads plainly.
fn unreachable_pattern() -> RoutePattern {
    panic!("the root pattern failed to parse")
}

/// What the server knows of the connection a request came on.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    pub tls: bool,
    /// Names of a verified client certificate (CN and SANs).
    pub cert_names: Option<Arc<[String]>>,
    /// The peer's IP as `x-forwarded-for` gives it, formatted once per
    /// connection rather than once per request.
    peer_ip: HeaderValue,
}

impl ConnInfo {
    pub fn new(peer: SocketAddr, tls: bool, cert_names: Option<Arc<[String]>>) -> Self {
        let peer_ip = HeaderValue::from_str(&peer.ip().to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("unknown"));
        Self {
            peer,
            tls,
            cert_names,
            peer_ip,
        }
    }
}

/// A request after the policy phases: where it goes and what it may see.
struct Admitted<'s> {
    purpose: Purpose,
    /// The client's `x-purpose` when it was an HL7 code, forwarded as sent.
    purpose_sent: Option<HeaderValue>,
    actor: Option<HeaderValue>,
    route: &'s Route,
    path: path::NormalPath,
}

/// Whether a header of the proxy's own appears more than once: which one
/// the upstream would read is then unknown.
fn repeated(h: &HeaderMap, name: &HeaderName) -> bool {
    h.get_all(name).iter().nth(1).is_some()
}

/// Handles one request. Never fails: refusals are responses.
pub async fn handle(
    state: &ProxyState,
    conn: &ConnInfo,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    let request_id = request_id::from_headers(req.headers());
    let engine = state.engine();
    let mut event = AuditEvent {
        time: audit::now_rfc3339(),
        request_id: request_id.clone(),
        method: req.method().as_str().to_owned(),
        rules_version: engine.rules().version().to_owned(),
        ..AuditEvent::default()
    };
    event.client = "-".into();
    let mut record =
        AuditRecord::new(state.audit.clone(), event).with_metrics(state.metrics.clone());
    match serve(state, &engine, conn, req, &request_id, &mut record).await {
        Ok(resp) => resp,
        Err(deny) => {
            let _ = record.submit("deny", deny.code());
            deny.response(&request_id)
        }
    }
}

/// The phases before the upstream call.
fn admit<'s>(
    state: &'s ProxyState,
    rules: &crate::rules::RuleSet,
    conn: &ConnInfo,
    req: &Request<Incoming>,
    record: &mut AuditRecord,
) -> Result<Admitted<'s>, Deny> {
    let h = req.headers();
    // Hyper reads a request with both Content-Length and Transfer-Encoding
    // as chunked and drops the length, so the pair cannot be seen here: a
    // chunked request body over HTTP/1 is refused as a whole. Requests
    // with bodies carry Content-Length.
    if req.version() <= Version::HTTP_11 && h.contains_key(header::TRANSFER_ENCODING) {
        return Err(Deny::BadRequest);
    }
    if repeated(h, &X_API_KEY) {
        return Err(Deny::Unauthenticated);
    }
    if repeated(h, &X_PURPOSE) || repeated(h, &X_ACTOR) {
        return Err(Deny::BadRequest);
    }
    let client = state
        .clients
        .identify(
            conn.cert_names.as_deref(),
            h.get(X_API_KEY).map(HeaderValue::as_bytes),
        )
        .map_err(|_| Deny::Unauthenticated)?;
    let actor = match h.get(X_ACTOR) {
        Some(v) => Some(valid_actor(v).ok_or(Deny::BadRequest)?),
        None => None,
    };
    if let Some(ev) = record.event() {
        ev.client = client.id.clone();
        ev.actor = actor.clone();
    }

    let path = path::normalize(req.uri().path()).map_err(|_| Deny::BadPath)?;
    let (route, template) = match state.router.find(&path) {
        Some(r) => (r, r.pattern.template()),
        None if state.unmatched == Unmatched::Pass => (&state.fallback, UNMATCHED_ROUTE),
        None => return Err(Deny::NoRoute),
    };
    if let Some(ev) = record.event() {
        ev.route = Some(template.to_owned());
    }

    // One of the nine ids, else an HL7 PurposeOfUse code that the rules
    // map to one; grants, consent and redaction go by the purpose.
    let sent = h.get(X_PURPOSE).ok_or(Deny::PurposeMissing)?;
    let (purpose, code) = sent
        .to_str()
        .ok()
        .and_then(|s| rules.purpose_for(s))
        .ok_or(Deny::PurposeUnknown)?;
    let purpose_sent = code.is_some().then(|| sent.clone());
    if let Some(ev) = record.event() {
        ev.purpose = Some(purpose.as_str().to_owned());
        ev.purpose_of_use = code.map(str::to_owned);
    }
    if !client.purposes.contains(&purpose) {
        return Err(Deny::PurposeNotGranted);
    }
    if !route.methods.allows(purpose, req.method()) {
        return Err(Deny::MethodNotAllowed);
    }
    Ok(Admitted {
        purpose,
        purpose_sent,
        actor: actor.and_then(|a| HeaderValue::from_str(&a).ok()),
        route,
        path,
    })
}

/// An `x-actor`: an operator or doctor id, a short printable token.
fn valid_actor(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
    ok.then(|| s.to_owned())
}

/// A list record's verdict from a cached consent state, so that the record
/// streams instead of waiting for the page's batched lookup. The same
/// decision as the batched path (`body::RedactingBody`): a subject not in
/// the cache is left to that path.
///
/// A verdict, once given, holds for the rest of the response: every record
/// of one subject in a list (a day's appointments) gets the same answer,
/// even if the cached state changes while the list streams, and the
/// shared cache is asked once per subject rather than once per record.
/// The memo is bounded ([`ORACLE_MEMO`] subjects); past that, the cache
/// is asked for each new subject.
fn record_oracle(
    source: &Arc<dyn ConsentSource>,
    mode: crate::rules::ConsentMode,
    purpose: Purpose,
) -> crate::redact::RecordOracle {
    use crate::redact::RecordVerdict;
    let source = Arc::clone(source);
    let memo: std::sync::Mutex<rustc_hash::FxHashMap<Box<str>, RecordVerdict>> =
        std::sync::Mutex::default();
    Box::new(move |subject| {
        let mut memo = memo
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(v) = memo.get(subject) {
            return Some(*v);
        }
        let state = source.cached(subject)?;
        let verdict = if decide(mode, purpose, &state).allowed() {
            RecordVerdict::Keep
        } else {
            RecordVerdict::Drop
        };
        if memo.len() < ORACLE_MEMO {
            memo.insert(subject.into(), verdict);
        }
        Some(verdict)
    })
}

/// Subjects whose record verdict one response remembers at most.
const ORACLE_MEMO: usize = 1024;

async fn consent_check(
    state: &ProxyState,
    engine: &Engine,
    purpose: Purpose,
    subject: &str,
    record: &mut AuditRecord,
) -> Result<(), Deny> {
    let subjects = [subject.to_owned()];
    let states = state
        .consent
        .lookup(&subjects)
        .await
        .map_err(|e: ConsentError| {
            tracing::warn!(error = %e, "consent lookup failed");
            Deny::ConsentUnavailable
        })?;
    let s = states.first().ok_or(Deny::ConsentUnavailable)?;
    let mode = engine.rules().purpose(purpose).consent;
    let decision = decide(mode, purpose, s);
    if let Some(ev) = record.event() {
        ev.consent = Some(decision.code().to_owned());
        ev.legal_override = decision == ConsentDecision::LegalOverride;
    }
    if decision.allowed() {
        Ok(())
    } else {
        Err(Deny::Consent(decision))
    }
}

async fn serve(
    state: &ProxyState,
    engine: &Arc<Engine>,
    conn: &ConnInfo,
    req: Request<Incoming>,
    request_id: &str,
    record: &mut AuditRecord,
) -> Result<Response<ProxyBody>, Deny> {
    let admitted = admit(state, engine.rules(), conn, &req, record)?;
    let purpose = admitted.purpose;
    let subject = admitted
        .route
        .subject(&admitted.path, req.uri().query(), req.headers())
        .map_err(|e| match e {
            SubjectError::Ambiguous => Deny::SubjectAmbiguous,
            SubjectError::Missing | SubjectError::Invalid => Deny::SubjectMissing,
        })?;
    if let Some(s) = &subject {
        if let Some(ev) = record.event() {
            ev.subjects = vec![crate::redact::pseudo::pseudonym(
                engine.key(),
                "subject",
                s.as_bytes(),
            )];
        }
        consent_check(state, engine, purpose, s, record).await?;
    }
    if !record.sink_ready() {
        return Err(Deny::AuditUnavailable);
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.limits.max_request_body_bytes) {
        return Err(Deny::BodyTooLarge);
    }

    let upstream = state
        .upstreams
        .get(admitted.route.upstream)
        .ok_or(Deny::UpstreamUnavailable)?;
    let accepted = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(Accepted::parse)
        .unwrap_or_default();
    let is_head = req.method() == Method::HEAD;
    let own = OwnHeaders {
        request_id,
        purpose,
        purpose_sent: admitted.purpose_sent.clone(),
        actor: admitted.actor.clone(),
        accepted,
    };
    let up_req = upstream_request(state, conn, req, upstream, &admitted.path, &own)?;

    let up_started = Instant::now();
    let up_result =
        tokio::time::timeout(state.limits.upstream_timeout, upstream.send(up_req)).await;
    let template = if std::ptr::eq(admitted.route, &state.fallback) {
        UNMATCHED_ROUTE
    } else {
        admitted.route.pattern.template()
    };
    if let Some(h) = state.upstream_timers.get(template) {
        h.observe(up_started.elapsed().as_secs_f64());
    }
    let resp = match up_result {
        Err(_) => return Err(Deny::UpstreamTimeout),
        Ok(Err(e)) => {
            tracing::warn!(upstream = %upstream.name, error = %e, "upstream request failed");
            return Err(Deny::UpstreamUnavailable);
        }
        Ok(Ok(r)) => r,
    };
    if let Some(ev) = record.event() {
        ev.upstream_status = Some(resp.status().as_u16());
    }
    let records = state
        .records
        .get(admitted.route.pattern.template())
        .cloned();
    let reply = Reply {
        purpose,
        is_head,
        accepted,
        request_id,
        records,
        subject,
    };
    respond(state, engine, resp, reply, record).await
}

/// What `respond` needs to know of the request.
struct Reply<'r> {
    purpose: Purpose,
    is_head: bool,
    accepted: Accepted,
    request_id: &'r str,
    /// Record-level consent for this route's list bodies.
    records: Option<Arc<RecordSpec>>,
    /// The subject the request names: its id in the body is a `person_id`.
    subject: Option<String>,
}

/// The headers the proxy sets on the upstream request.
struct OwnHeaders<'r> {
    request_id: &'r str,
    purpose: Purpose,
    /// An HL7 code as the client sent it, which the upstream gets instead
    /// of the purpose id.
    purpose_sent: Option<HeaderValue>,
    actor: Option<HeaderValue>,
    accepted: Accepted,
}

/// Hop-by-hop headers (RFC 9110 7.6.1) and those named in `Connection`.
fn strip_hop_by_hop(h: &mut HeaderMap) {
    // Most messages carry none of these, and without `Connection` nothing
    // else is named: one pass over the names instead of a lookup for each.
    if !h.keys().any(|n| HOP_BY_HOP.contains(&n.as_str())) {
        return;
    }
    let named: Vec<HeaderName> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in named {
        h.remove(n);
    }
    for n in HOP_BY_HOP {
        h.remove(n);
    }
}

/// Removed from every message in either direction, whatever `Connection`
/// names besides.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
    "keep-alive",
    "proxy-connection",
];

fn upstream_request(
    state: &ProxyState,
    conn: &ConnInfo,
    req: Request<Incoming>,
    upstream: &Upstream,
    path: &path::NormalPath,
    own: &OwnHeaders<'_>,
) -> Result<Request<UpstreamBody>, Deny> {
    let uri = upstream
        .uri(path.as_str(), req.uri().query())
        .map_err(|_| Deny::BadPath)?;
    let (parts, body) = req.into_parts();
    let mut h = parts.headers;
    let original_host = h.remove(header::HOST).or_else(|| {
        parts
            .uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    });
    strip_hop_by_hop(&mut h);
    h.remove(X_API_KEY);
    // The proxy's own headers are set from what it checked, after the
    // hop-by-hop strip (a client could name them in `Connection`).
    // `x-purpose` goes on as the client sent it: the id, or the HL7 code
    // in the client's spelling (an MIS that speaks HL7 reads its codes).
    let purpose = match &own.purpose_sent {
        Some(v) => v.clone(),
        None => HeaderValue::from_static(own.purpose.as_str()),
    };
    h.insert(X_PURPOSE, purpose);
    match &own.actor {
        Some(a) => h.insert(X_ACTOR, a.clone()),
        None => h.remove(X_ACTOR),
    };
    let (request_id, accepted) = (own.request_id, own.accepted);
    // A range of a document cannot be redacted on its own.
    h.remove(header::RANGE);
    h.remove(header::IF_RANGE);
    h.remove(header::EXPECT);
    h.insert(
        header::ACCEPT_ENCODING,
        HeaderValue::from_static(accepted.upstream_header()),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert(X_REQUEST_ID, v);
    }
    let xff = match h.get(X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(prev) => {
            let peer_ip = conn.peer_ip.to_str().unwrap_or_default();
            HeaderValue::from_str(&format!("{prev}, {peer_ip}")).ok()
        }
        None => Some(conn.peer_ip.clone()),
    };
    if let Some(v) = xff {
        h.insert(X_FORWARDED_FOR, v);
    }
    h.insert(
        X_FORWARDED_PROTO,
        HeaderValue::from_static(if conn.tls { "https" } else { "http" }),
    );
    if let Some(host) = original_host {
        h.insert(X_FORWARDED_HOST, host);
    }
    if let Ok(v) = HeaderValue::from_str(upstream.authority().as_str()) {
        h.insert(header::HOST, v);
    }
    let limit = usize::try_from(state.limits.max_request_body_bytes).unwrap_or(usize::MAX);
    let body: UpstreamBody = http_body_util::Limited::new(body, limit).boxed();
    let mut out = Request::new(body);
    *out.method_mut() = parts.method;
    *out.uri_mut() = uri;
    *out.headers_mut() = h;
    Ok(out)
}

/// Headers that describe the upstream's exact bytes and so are wrong for a
/// redacted body.
const BODY_HEADERS: [HeaderName; 3] = [header::CONTENT_LENGTH, header::ETAG, header::ACCEPT_RANGES];

async fn respond(
    state: &ProxyState,
    engine: &Arc<Engine>,
    resp: Response<upstream::ResponseBody>,
    reply: Reply<'_>,
    record: &mut AuditRecord,
) -> Result<Response<ProxyBody>, Deny> {
    let Reply {
        purpose,
        is_head,
        accepted,
        request_id,
        records,
        subject,
    } = reply;
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    if let Ok(v) = HeaderValue::from_str(request_id) {
        parts.headers.insert(X_REQUEST_ID, v);
    }
    parts
        .headers
        .append(header::VARY, HeaderValue::from_static("x-purpose"));
    let no_body = is_head
        || parts.status.is_informational()
        || parts.status == http::StatusCode::NO_CONTENT
        || parts.status == http::StatusCode::NOT_MODIFIED
        || http_body::Body::is_end_stream(&body);

    let kind = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map_or(ContentKind::Other, ContentKind::from_content_type);
    let rules = engine.rules().purpose(purpose);
    let redactor = engine.redactor(purpose, kind).map(|r| match subject {
        Some(s) => r.with_subject(s),
        None => r,
    });
    let consent_mode = rules.consent;
    // A purpose that never consults consent drops no record: its counts
    // tell nothing and stay as the MIS wrote them.
    let records = match records {
        Some(spec)
            if consent_mode == crate::rules::ConsentMode::None && !spec.counts.is_empty() =>
        {
            Some(Arc::new(crate::redact::RecordSpec {
                counts: Vec::new(),
                ..(*spec).clone()
            }))
        }
        r => r,
    };
    let (redactor, record_consent) = match (redactor, records) {
        (Some(r), Some(spec)) if kind.is_json() => (
            Some(r.with_records(spec).with_record_oracle(record_oracle(
                &state.consent,
                consent_mode,
                purpose,
            ))),
            Some(body::RecordConsent {
                source: state.consent.clone(),
                mode: consent_mode,
                purpose,
                key: engine.key().clone(),
            }),
        ),
        (r, _) => (r, None),
    };
    if redactor.is_none() && !rules.allow_other_content && !no_body {
        return Err(Deny::BlockedByRule);
    }
    if no_body {
        for h in BODY_HEADERS {
            parts.headers.remove(h);
        }
        parts.headers.remove(header::CONTENT_ENCODING);
        let _ = record.submit("allow", "ok");
        return Ok(Response::from_parts(parts, ProxyBody::empty()));
    }

    let (decoder, encoder) = if redactor.is_some() {
        let coding = match parts.headers.get(header::CONTENT_ENCODING) {
            None => None,
            Some(v) => v
                .to_str()
                .ok()
                .and_then(|v| Coding::from_content_encoding(v).ok())
                .ok_or(Deny::UnknownEncoding)?,
        };
        for h in BODY_HEADERS {
            parts.headers.remove(h);
        }
        parts.headers.remove(header::CONTENT_ENCODING);
        let encoder = coding.filter(|c| accepted.accepts(*c)).map(|c| {
            parts.headers.insert(
                header::CONTENT_ENCODING,
                HeaderValue::from_static(c.as_str()),
            );
            Encoder::new(c)
        });
        (coding.map(Decoder::new), encoder)
    } else {
        (None, None)
    };

    // From here the body owns the event: it is submitted when the stream
    // ends, fails or is dropped.
    let mut stream = RedactingBody::new(
        body,
        decoder,
        redactor,
        encoder,
        record.take(),
        state.limits.upstream_timeout,
    )
    .with_record_consent(record_consent);
    if let Err(e) = stream.prefetch(PREFETCH_LIMIT).await {
        // Nothing was sent yet: answer with an error; `handle` audits it.
        *record = stream.into_audit();
        let deny = match e {
            BodyAbort::Redact(RedactError::Blocked(_)) => Deny::BlockedByRule,
            BodyAbort::Redact(r) => Deny::Redact(r),
            BodyAbort::Decode => Deny::BadEncoding,
            BodyAbort::Audit => Deny::AuditUnavailable,
            BodyAbort::Consent => Deny::ConsentUnavailable,
            BodyAbort::Stalled => Deny::UpstreamTimeout,
            BodyAbort::Upstream | BodyAbort::Encode => Deny::UpstreamUnavailable,
        };
        return Err(deny);
    }
    if !stream.is_transparent()
        && let Some(body) = stream.take_complete()
    {
        // Already redacted to its end (and audited): send it whole.
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        return Ok(Response::from_parts(parts, ProxyBody::full(body)));
    }
    stream.commit();
    Ok(Response::from_parts(
        parts,
        ProxyBody::Stream(Box::new(stream)),
    ))
}

#[cfg(test)]
mod oracle_tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::consent::SubjectState;
    use crate::consent::memory::MemorySource;
    use crate::redact::RecordVerdict;

    /// A cache that always has an answer, and counts the questions.
    struct Counting {
        states: MemorySource,
        asked: AtomicU64,
    }

    impl ConsentSource for Counting {
        fn lookup<'a>(
            &'a self,
            subjects: &'a [String],
        ) -> futures_util::future::BoxFuture<'a, Result<Vec<SubjectState>, ConsentError>> {
            self.states.lookup(subjects)
        }
        fn cached(&self, subject: &str) -> Option<SubjectState> {
            self.asked.fetch_add(1, Ordering::SeqCst);
            Some(self.states.state(subject))
        }
    }

    #[test]
    fn a_record_verdict_holds_for_the_rest_of_the_response() {
        let counting = Arc::new(Counting {
            states: MemorySource::new(),
            asked: AtomicU64::new(0),
        });
        counting.states.set_purpose("p-1", Purpose::Marketing, true);
        let source: Arc<dyn ConsentSource> = counting.clone();
        let oracle = record_oracle(
            &source,
            crate::rules::ConsentMode::OptIn,
            Purpose::Marketing,
        );
        assert_eq!(oracle("p-1"), Some(RecordVerdict::Keep));
        assert_eq!(oracle("p-2"), Some(RecordVerdict::Drop));
        // A withdrawal and a grant while the list streams: this response
        // keeps its answers, so a patient's records agree with each other.
        counting
            .states
            .set_purpose("p-1", Purpose::Marketing, false);
        counting.states.set_purpose("p-2", Purpose::Marketing, true);
        for _ in 0..10 {
            assert_eq!(oracle("p-1"), Some(RecordVerdict::Keep));
            assert_eq!(oracle("p-2"), Some(RecordVerdict::Drop));
        }
        assert_eq!(counting.asked.load(Ordering::SeqCst), 2);
        // The next response sees the new states.
        let next = record_oracle(
            &source,
            crate::rules::ConsentMode::OptIn,
            Purpose::Marketing,
        );
        assert_eq!(next("p-1"), Some(RecordVerdict::Drop));
        assert_eq!(next("p-2"), Some(RecordVerdict::Keep));
    }

    #[test]
    fn the_memo_is_bounded() {
        let counting = Arc::new(Counting {
            states: MemorySource::new(),
            asked: AtomicU64::new(0),
        });
        let source: Arc<dyn ConsentSource> = counting.clone();
        let oracle = record_oracle(
            &source,
            crate::rules::ConsentMode::OptOut,
            Purpose::Marketing,
        );
        let n = ORACLE_MEMO + 100;
        for i in 0..n {
            assert_eq!(oracle(&format!("s-{i}")), Some(RecordVerdict::Keep));
        }
        // Remembered subjects are not asked again; those past the bound are.
        for i in 0..n {
            oracle(&format!("s-{i}"));
        }
        assert_eq!(counting.asked.load(Ordering::SeqCst), (n + 100) as u64);
    }
}

#[cfg(test)]
mod hop_tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn names(h: &HeaderMap) -> Vec<&str> {
        h.keys().map(HeaderName::as_str).collect()
    }

    #[test]
    fn end_to_end_headers_are_left_alone() {
        let mut h = headers(&[("accept", "application/json"), ("x-request-id", "r1")]);
        strip_hop_by_hop(&mut h);
        assert_eq!(names(&h), ["accept", "x-request-id"]);
    }

    #[test]
    fn every_hop_by_hop_name_is_removed_without_a_connection_header() {
        for name in HOP_BY_HOP {
            let mut h = headers(&[(name, "1"), ("accept", "*/*")]);
            strip_hop_by_hop(&mut h);
            assert_eq!(names(&h), ["accept"], "{name} was kept");
        }
    }

    #[test]
    fn names_in_connection_are_removed_too() {
        let mut h = headers(&[
            ("connection", "keep-alive, X-Secret-Hop"),
            ("x-secret-hop", "1"),
            ("te", "trailers"),
            ("accept", "*/*"),
        ]);
        strip_hop_by_hop(&mut h);
        assert_eq!(names(&h), ["accept"]);
    }
}
