//! The response body: a small fixed body (errors), or the upstream body
//! streamed chunk by chunk through decoder -> redactor -> encoder.
//!
//! Any failure after the response head was sent ends the stream with an
//! error, which hyper turns into a connection closed without the final
//! chunk (HTTP/1.1) or a reset stream (HTTP/2): the client sees a broken
//! response, never a clean truncated one.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use super::upstream::ResponseBody;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::audit::AuditRecord;
use super::codec::{Decoder, Encoder};
use crate::class::Purpose;
use crate::consent::{BoxFuture, ConsentError, ConsentSource, SubjectState, decide};
use crate::redact::{BodyRedactor, PseudonymKey, RecordVerdict, RedactError};
use crate::rules::ConsentMode;

/// Why a streamed body was cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BodyAbort {
    #[error("the upstream body failed")]
    Upstream,
    #[error("the upstream body could not be decoded")]
    Decode,
    #[error("the body could not be re-encoded")]
    Encode,
    #[error("redaction failed: {0}")]
    Redact(RedactError),
    #[error("the audit sink refused the event")]
    Audit,
    #[error("the upstream body stalled")]
    Stalled,
    #[error("the consent of a record's subject could not be looked up")]
    Consent,
}

/// Record-level consent for a list body: where to look subjects up and
/// how the purpose decides.
pub struct RecordConsent {
    pub source: Arc<dyn ConsentSource>,
    pub mode: ConsentMode,
    pub purpose: Purpose,
    /// For the pseudonyms of the subjects whose records went out.
    pub key: PseudonymKey,
}

type Lookup = BoxFuture<'static, Result<Vec<SubjectState>, ConsentError>>;

impl BodyAbort {
    pub fn code(self) -> &'static str {
        match self {
            BodyAbort::Upstream => "upstream_aborted",
            BodyAbort::Decode => "bad_encoding",
            BodyAbort::Encode => "encode_failed",
            BodyAbort::Redact(e) => e.code(),
            BodyAbort::Audit => "audit_unavailable",
            BodyAbort::Stalled => "upstream_timeout",
            BodyAbort::Consent => "consent_unavailable",
        }
    }
}

/// The body type of every proxy response.
pub enum ProxyBody {
    Full(Option<Bytes>),
    Stream(Box<RedactingBody>),
}

impl ProxyBody {
    pub fn full(b: Bytes) -> ProxyBody {
        ProxyBody::Full(Some(b))
    }

    pub fn empty() -> ProxyBody {
        ProxyBody::Full(None)
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BodyAbort;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyAbort>>> {
        match self.get_mut() {
            ProxyBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            ProxyBody::Stream(s) => Pin::new(s.as_mut()).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ProxyBody::Full(b) => b.is_none(),
            ProxyBody::Stream(s) => s.done && s.pending.is_empty(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ProxyBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            ProxyBody::Full(None) => SizeHint::with_exact(0),
            ProxyBody::Stream(_) => SizeHint::default(),
        }
    }
}

/// The upstream body through the engine.
pub struct RedactingBody {
    upstream: ResponseBody,
    /// Fires when the upstream sent nothing for `stall_after` while the
    /// client was waiting; armed at the first `Pending`.
    stall: Pin<Box<tokio::time::Sleep>>,
    stall_armed: bool,
    stall_after: Duration,
    decoder: Option<Decoder>,
    /// `None` for bodies passed through unchanged (other content that the
    /// purpose allows); then there is no decoder or encoder either.
    redactor: Option<BodyRedactor>,
    encoder: Option<Encoder>,
    audit: AuditRecord,
    /// Output produced before the head was sent, or not yet polled.
    pending: VecDeque<Bytes>,
    done: bool,
    /// Whether the response head went out: after it, failures abort the
    /// stream and are audited here; before it, the handler answers with an
    /// error and audits.
    committed: bool,
    bytes_in: u64,
    bytes_out: u64,
    decoded: Vec<u8>,
    /// Redacted bytes waiting for the encoder.
    redacted: Vec<u8>,
    /// Output not yet handed to hyper.
    out: Vec<u8>,
    records: Option<RecordConsent>,
    /// The batched consent lookup of the held-back records' subjects.
    lookup: Option<Lookup>,
    /// The upstream body ended (and the decoder was flushed).
    upstream_done: bool,
    /// The subjects whose records were disclosed.
    record_subjects: Disclosed,
}

/// The subjects whose records went out, each once, in the order they first
/// did: a list may hold several records of one subject (a day's
/// appointments), and the audit names whom the response was about.
#[derive(Default)]
struct Disclosed {
    seen: rustc_hash::FxHashSet<String>,
    pseudonyms: Vec<String>,
}

impl Disclosed {
    fn add(&mut self, key: &crate::redact::PseudonymKey, subject: String) {
        if self.seen.contains(&subject) {
            return;
        }
        self.pseudonyms.push(crate::redact::pseudo::pseudonym(
            key,
            "subject",
            subject.as_bytes(),
        ));
        self.seen.insert(subject);
    }
}

/// Output is handed on once this much has gathered (or nothing more is
/// ready upstream).
const COALESCE: usize = 64 * 1024;

impl RedactingBody {
    pub fn new(
        upstream: ResponseBody,
        decoder: Option<Decoder>,
        redactor: Option<BodyRedactor>,
        encoder: Option<Encoder>,
        audit: AuditRecord,
        stall_after: Duration,
    ) -> RedactingBody {
        RedactingBody {
            upstream,
            stall: Box::pin(tokio::time::sleep(stall_after)),
            stall_armed: false,
            stall_after,
            decoder,
            redactor,
            encoder,
            audit,
            pending: VecDeque::new(),
            done: false,
            committed: false,
            bytes_in: 0,
            bytes_out: 0,
            decoded: Vec::new(),
            redacted: Vec::new(),
            out: Vec::new(),
            records: None,
            lookup: None,
            upstream_done: false,
            record_subjects: Disclosed::default(),
        }
    }

    /// Turns on record-level consent (the redactor was built
    /// `with_records`).
    pub fn with_record_consent(mut self, records: Option<RecordConsent>) -> RedactingBody {
        self.records = records;
        self
    }

    /// The subjects of held-back records, when a lookup must start.
    fn start_lookup(&mut self) -> bool {
        let (Some(rc), Some(redactor)) = (self.records.as_ref(), self.redactor.as_ref()) else {
            return false;
        };
        let pending = redactor.pending_subjects();
        if pending.is_empty() {
            return false;
        }
        let subjects = pending.to_vec();
        let source = rc.source.clone();
        self.lookup = Some(Box::pin(async move { source.lookup(&subjects).await }));
        true
    }

    /// Applies the looked-up states to the held-back records and redacts
    /// on.
    fn apply_verdicts(&mut self, states: &[SubjectState]) -> Result<(), BodyAbort> {
        let (Some(rc), Some(redactor)) = (self.records.as_ref(), self.redactor.as_mut()) else {
            return Ok(());
        };
        // Records released at once came before these, in document order.
        for subject in redactor.take_released() {
            self.record_subjects.add(&rc.key, subject);
        }
        let pending = redactor.pending_subjects();
        if states.len() != pending.len() {
            return Err(BodyAbort::Consent);
        }
        let mut verdicts = Vec::with_capacity(states.len());
        for (subject, state) in pending.iter().zip(states) {
            if decide(rc.mode, rc.purpose, state).allowed() {
                verdicts.push(RecordVerdict::Keep);
                self.record_subjects.add(&rc.key, subject.clone());
            } else {
                verdicts.push(RecordVerdict::Drop);
            }
        }
        let sink = if self.encoder.is_some() {
            &mut self.redacted
        } else {
            &mut self.out
        };
        redactor
            .resolve(&verdicts, sink)
            .map_err(BodyAbort::Redact)?;
        self.encode_redacted()
    }

    fn encode_redacted(&mut self) -> Result<(), BodyAbort> {
        if let Some(e) = self.encoder.as_mut() {
            e.write(&self.redacted, &mut self.out)
                .map_err(|_| BodyAbort::Encode)?;
            self.redacted.clear();
        }
        Ok(())
    }

    /// Whether the body is the upstream's bytes unchanged.
    pub fn is_transparent(&self) -> bool {
        self.redactor.is_none()
    }

    /// Takes the audit record back (for an error answered before the head).
    pub fn into_audit(self) -> AuditRecord {
        self.audit
    }

    pub fn audit(&mut self) -> &mut AuditRecord {
        &mut self.audit
    }

    /// Reads and redacts until some output is ready or the body ended, so
    /// that a block or a malformed start is answered with a clean error
    /// before the head is sent. Bounded by `limit` input bytes.
    pub async fn prefetch(&mut self, limit: u64) -> Result<(), BodyAbort> {
        while self.pending.is_empty() && !self.done && self.bytes_in < limit {
            let next = std::future::poll_fn(|cx| self.poll_step(cx)).await;
            match next {
                Some(Ok(b)) => self.pending.push_back(b),
                Some(Err(e)) => return Err(e),
                None => break,
            }
        }
        Ok(())
    }

    /// The whole body, when prefetching already read it to its end (a
    /// small response): it can then go out with a Content-Length in one
    /// write. `None` while more is to come.
    pub fn take_complete(&mut self) -> Option<Bytes> {
        if !self.done {
            return None;
        }
        let body = match self.pending.len() {
            0 => Bytes::new(),
            1 => self.pending.pop_front().unwrap_or_default(),
            _ => {
                let mut all = Vec::with_capacity(self.pending.iter().map(Bytes::len).sum());
                for b in self.pending.drain(..) {
                    all.extend_from_slice(&b);
                }
                Bytes::from(all)
            }
        };
        Some(body)
    }

    /// Marks the head as sent: from now on failures abort the stream.
    pub fn commit(&mut self) {
        self.committed = true;
    }

    /// Decodes, redacts and encodes one upstream chunk, appending to `out`.
    fn process(&mut self, chunk: &[u8]) -> Result<(), BodyAbort> {
        let Some(redactor) = self.redactor.as_mut() else {
            self.out.extend_from_slice(chunk);
            return Ok(());
        };
        let plain: &[u8] = match self.decoder.as_mut() {
            Some(d) => {
                d.write(chunk, &mut self.decoded)
                    .map_err(|_| BodyAbort::Decode)?;
                &self.decoded
            }
            None => chunk,
        };
        let sink = if self.encoder.is_some() {
            &mut self.redacted
        } else {
            &mut self.out
        };
        sink.reserve(plain.len() + plain.len() / 8);
        redactor.feed(plain, sink).map_err(BodyAbort::Redact)?;
        self.decoded.clear();
        self.encode_redacted()
    }

    /// The upstream ended: flushes the decoder into the redactor (which may
    /// hold records back for a lookup before `finish`).
    fn drain_decoder(&mut self) -> Result<(), BodyAbort> {
        self.upstream_done = true;
        let (Some(redactor), Some(d)) = (self.redactor.as_mut(), self.decoder.as_mut()) else {
            return Ok(());
        };
        let sink = if self.encoder.is_some() {
            &mut self.redacted
        } else {
            &mut self.out
        };
        d.finish(&mut self.decoded).map_err(|_| BodyAbort::Decode)?;
        redactor
            .feed(&self.decoded, sink)
            .map_err(BodyAbort::Redact)?;
        self.decoded.clear();
        self.encode_redacted()
    }

    /// Ends the body: flushes the decoder, the redactor and the encoder
    /// into `out`, checking that each stream is whole.
    fn finish(&mut self) -> Result<(), BodyAbort> {
        let Some(redactor) = self.redactor.as_mut() else {
            return Ok(());
        };
        let sink = if self.encoder.is_some() {
            &mut self.redacted
        } else {
            &mut self.out
        };
        redactor.finish(sink).map_err(BodyAbort::Redact)?;
        if let Some(e) = self.encoder.as_mut() {
            e.write(&self.redacted, &mut self.out)
                .map_err(|_| BodyAbort::Encode)?;
            e.finish(&mut self.out).map_err(|_| BodyAbort::Encode)?;
            self.redacted.clear();
        }
        Ok(())
    }

    fn take_out(&mut self) -> Bytes {
        let out = std::mem::take(&mut self.out);
        self.bytes_out += out.len() as u64;
        Bytes::from(out)
    }

    fn fill_audit(&mut self) {
        if let (Some(rc), Some(redactor)) = (self.records.as_ref(), self.redactor.as_mut()) {
            for subject in redactor.take_released() {
                self.record_subjects.add(&rc.key, subject);
            }
        }
        let (bytes_in, bytes_out) = (self.bytes_in, self.bytes_out);
        let stats = self.redactor.as_ref().map(|r| r.stats().clone());
        if let (Some(s), Some(m)) = (&stats, self.audit.metrics()) {
            m.count_fields(s);
        }
        let subjects = std::mem::take(&mut self.record_subjects.pseudonyms);
        if let Some(ev) = self.audit.event() {
            if let Some(s) = &stats {
                ev.set_counts(s);
            }
            ev.bytes_in = bytes_in;
            ev.bytes_out = bytes_out;
            ev.subjects.extend(subjects);
        }
    }

    fn fail(&mut self, e: BodyAbort) -> BodyAbort {
        self.done = true;
        self.pending.clear();
        self.out.clear();
        if self.committed {
            self.fill_audit();
            let _ = self.audit.submit("abort", e.code());
            tracing::warn!(
                reason = e.code(),
                "response aborted after its head was sent"
            );
        }
        e
    }

    /// The end of the upstream body: flush, audit, and the last bytes.
    fn end(&mut self) -> Option<Result<Bytes, BodyAbort>> {
        if let Err(e) = self.finish() {
            return Some(Err(self.fail(e)));
        }
        let last = self.take_out();
        self.done = true;
        self.fill_audit();
        if self.audit.submit("allow", "ok").is_err() {
            // The record of this disclosure could not be kept: the
            // disclosure does not complete either.
            return Some(Err(self.fail(BodyAbort::Audit)));
        }
        (!last.is_empty()).then_some(Ok(last))
    }

    /// The next upstream frame, or `Stalled` when none came in time.
    fn poll_upstream(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyAbort>>> {
        match Pin::new(&mut self.upstream).poll_frame(cx) {
            Poll::Ready(r) => {
                self.stall_armed = false;
                Poll::Ready(r.map(|r| r.map_err(|_| BodyAbort::Upstream)))
            }
            Poll::Pending => {
                if !self.stall_armed {
                    let deadline = tokio::time::Instant::now() + self.stall_after;
                    self.stall.as_mut().reset(deadline);
                    self.stall_armed = true;
                }
                match self.stall.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(BodyAbort::Stalled))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    /// One step: the next non-empty output chunk, an error, or the end.
    /// Upstream chunks that are already there are coalesced, up to
    /// `COALESCE` bytes, so that small reads do not become small writes.
    fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, BodyAbort>>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.redactor.is_none() {
            // Passed through unchanged: no copy, frame for frame.
            loop {
                return match ready!(self.poll_upstream(cx)) {
                    Some(Ok(frame)) => match frame.into_data() {
                        Ok(data) => {
                            self.bytes_in += data.len() as u64;
                            self.bytes_out += data.len() as u64;
                            Poll::Ready(Some(Ok(data)))
                        }
                        // Trailers are dropped: they are not redacted.
                        Err(_) => continue,
                    },
                    Some(Err(e)) => Poll::Ready(Some(Err(self.fail(e)))),
                    None => Poll::Ready(self.end()),
                };
            }
        }
        loop {
            if let Some(lookup) = self.lookup.as_mut() {
                match lookup.as_mut().poll(cx) {
                    Poll::Pending if self.out.is_empty() => return Poll::Pending,
                    Poll::Pending => return Poll::Ready(Some(Ok(self.take_out()))),
                    Poll::Ready(r) => {
                        self.lookup = None;
                        let applied = match r {
                            Ok(states) => self.apply_verdicts(&states),
                            Err(e) => {
                                tracing::warn!(error = %e, "record consent lookup failed");
                                Err(BodyAbort::Consent)
                            }
                        };
                        if let Err(e) = applied {
                            return Poll::Ready(Some(Err(self.fail(e))));
                        }
                        continue;
                    }
                }
            }
            if self.start_lookup() {
                continue;
            }
            if self.upstream_done {
                return Poll::Ready(self.end());
            }
            match self.poll_upstream(cx) {
                Poll::Pending if self.out.is_empty() => return Poll::Pending,
                Poll::Pending => return Poll::Ready(Some(Ok(self.take_out()))),
                Poll::Ready(Some(Ok(frame))) => {
                    // Trailers are dropped: they are not redacted.
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    self.bytes_in += data.len() as u64;
                    if let Err(e) = self.process(&data) {
                        return Poll::Ready(Some(Err(self.fail(e))));
                    }
                    if self.out.len() >= COALESCE {
                        return Poll::Ready(Some(Ok(self.take_out())));
                    }
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(self.fail(e)))),
                Poll::Ready(None) => {
                    if let Err(e) = self.drain_decoder() {
                        return Poll::Ready(Some(Err(self.fail(e))));
                    }
                }
            }
        }
    }

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyAbort>>> {
        let this = &mut *self;
        if let Some(b) = this.pending.pop_front() {
            return Poll::Ready(Some(Ok(Frame::data(b))));
        }
        this.poll_step(cx).map(|o| o.map(|r| r.map(Frame::data)))
    }
}
