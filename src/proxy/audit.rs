//! Exactly one audit event per request: built as the request goes through
//! the phases, submitted once when its outcome is known, or as an abort
//! when the response is dropped half-sent.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::audit::{AuditError, AuditEvent, AuditSink};
use crate::metrics::Metrics;

/// Reasons that mean a request was refused or cut because something
/// failed (not because the policy said no): `zaslon_fail_closed_total`.
/// Every abort after the head is one too.
const FAIL_CLOSED: &[&str] = &[
    "consent_unavailable",
    "audit_unavailable",
    "unknown_encoding",
    "bad_encoding",
    "malformed_body",
    "truncated_body",
    "empty_body",
    "token_too_long",
    "nesting_too_deep",
    "invalid_utf8",
    "hold_back_overflow",
];

/// The event of one request and the sink it goes to.
pub struct AuditRecord {
    sink: Arc<dyn AuditSink>,
    event: Option<AuditEvent>,
    started: Instant,
    metrics: Option<Arc<Metrics>>,
}

impl AuditRecord {
    pub fn new(sink: Arc<dyn AuditSink>, event: AuditEvent) -> AuditRecord {
        AuditRecord {
            sink,
            event: Some(event),
            started: Instant::now(),
            metrics: None,
        }
    }

    /// Counts the request in `metrics` when its event is submitted: the
    /// counters then agree with the audit by construction.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> AuditRecord {
        self.metrics = Some(metrics);
        self
    }

    pub fn metrics(&self) -> Option<&Metrics> {
        self.metrics.as_deref()
    }

    /// Moves the open event into a new record, leaving this one empty (it
    /// then submits nothing).
    pub fn take(&mut self) -> AuditRecord {
        AuditRecord {
            sink: self.sink.clone(),
            event: self.event.take(),
            started: self.started,
            metrics: self.metrics.clone(),
        }
    }

    /// The event while it is still open (always, until submitted).
    pub fn event(&mut self) -> Option<&mut AuditEvent> {
        self.event.as_mut()
    }

    pub fn sink_ready(&self) -> bool {
        self.sink.ready()
    }

    /// Submits the event with its outcome: `allow`, `deny` or `abort`, and
    /// `ok` or an error code.
    pub fn submit(&mut self, decision: &str, reason: &str) -> Result<(), AuditError> {
        let Some(mut ev) = self.event.take() else {
            return Ok(());
        };
        ev.decision = decision.to_owned();
        ev.reason = reason.to_owned();
        let elapsed = self.started.elapsed();
        ev.duration_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        if let Some(m) = &self.metrics {
            count(m, &ev, elapsed.as_secs_f64());
        }
        let r = self.sink.submit(ev);
        if let Err(e) = r {
            tracing::warn!(error = %e, "audit sink refused an event");
            if let Some(m) = &self.metrics {
                m.fail_closed_total
                    .with_label_values(&["audit_unavailable"])
                    .inc();
            }
        }
        r
    }
}

/// The request's metrics, from its finished event. Every label value comes
/// from the config or a fixed list: client ids, purpose ids, route
/// templates, decisions and reason codes.
fn count(m: &Metrics, ev: &AuditEvent, seconds: f64) {
    let purpose = ev.purpose.as_deref().unwrap_or("-");
    let route = ev.route.as_deref().unwrap_or("-");
    m.requests_total
        .with_label_values(&[purpose, ev.client.as_str(), route, ev.decision.as_str()])
        .inc();
    m.request_duration_seconds
        .with_label_values(&[purpose, route])
        .observe(seconds);
    m.bytes_in_total.inc_by(ev.bytes_in);
    m.bytes_out_total.inc_by(ev.bytes_out);
    if ev.decision == "abort" || FAIL_CLOSED.contains(&ev.reason.as_str()) {
        m.fail_closed_total
            .with_label_values(&[ev.reason.as_str()])
            .inc();
    }
}

impl Drop for AuditRecord {
    fn drop(&mut self) {
        // The response was dropped before it ended: the client went away
        // or the connection broke.
        let _ = self.submit("abort", "client_gone");
    }
}

/// Now, as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    rfc3339(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default(),
    )
}

/// A time since the Unix epoch as RFC 3339 UTC with milliseconds
/// (`2026-11-25T07:30:00.123Z`). Every request's audit record carries one,
/// so the digits are written straight into the string, without `format!`.
fn rfc3339(since_epoch: Duration) -> String {
    let secs = since_epoch.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or(0));
    let mut b = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut v: u64| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, u64::try_from(y.clamp(0, 9999)).unwrap_or(0));
    put(5, 2, u64::from(m));
    put(8, 2, u64::from(d));
    put(11, 2, rem / 3600);
    put(14, 2, rem % 3600 / 60);
    put(17, 2, rem % 60);
    put(20, 3, u64::from(since_epoch.subsec_millis()));
    b.iter().map(|&c| char::from(c)).collect()
}

/// Howard Hinnant's days-to-civil for the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::MemorySink;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_788), (2026, 12, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(now_rfc3339().len(), "2026-11-25T07:31:44.000Z".len());
    }

    #[test]
    fn rfc3339_writes_every_field_zero_padded() {
        let at = |s: u64, ms: u64| rfc3339(Duration::from_millis(s * 1000 + ms));
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        // 2026-11-25T07:30:00.123Z, the example in docs/audit.md.
        assert_eq!(at(1_795_591_800, 123), "2026-11-25T07:30:00.123Z");
        assert_eq!(at(951_782_399, 9), "2000-02-28T23:59:59.009Z");
        assert_eq!(at(951_782_400 + 3_723, 45), "2000-02-29T01:02:03.045Z");
        assert_eq!(at(253_402_300_799, 999), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn one_event_per_record_and_abort_on_drop() {
        let sink = Arc::new(MemorySink::default());
        let mut r = AuditRecord::new(sink.clone(), AuditEvent::default());
        r.submit("allow", "ok").unwrap();
        r.submit("deny", "late").unwrap();
        drop(r);
        drop(AuditRecord::new(sink.clone(), AuditEvent::default()));
        let ev = sink.events.lock().unwrap();
        assert_eq!(ev.len(), 2);
        assert_eq!(
            (ev[0].decision.as_str(), ev[0].reason.as_str()),
            ("allow", "ok")
        );
        assert_eq!(
            (ev[1].decision.as_str(), ev[1].reason.as_str()),
            ("abort", "client_gone")
        );
    }
}
