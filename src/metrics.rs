//! Every metric handle, registered once in zaslon's own registry.
//!
//! Cardinality is bounded by construction: label values come only from the
//! config and from fixed code lists — client ids, purpose ids, route
//! templates (never raw paths), field class names, actions, decisions
//! (`allow`, `deny`, `abort`) and error/reason codes. Nothing taken from a
//! request (headers, paths, subject ids, actor ids) is ever a label value.
//! Callers resolve labelled handles when they build a route or client
//! (`with_label_values` once), not per request.

use std::sync::{Arc, OnceLock};

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::class::FieldClass;

/// The `action` label values of `field_values_total`, in the order of
/// [`Metrics::count_fields`]'s counts.
const FIELD_ACTIONS: [&str; 5] = [
    "disclosed",
    "masked",
    "pseudonymized",
    "generalized",
    "removed",
];

/// Latency buckets in seconds, 100 µs to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Audit write (write + fsync of one batch) buckets, 50 µs to 5 s.
const WRITE_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0,
];

/// The registry and every handle in it.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// `{purpose, client, route, decision}`.
    pub requests_total: IntCounterVec,
    /// End to end, `{purpose, route}`.
    pub request_duration_seconds: HistogramVec,
    /// The upstream exchange until response headers, `{route}`.
    pub upstream_duration_seconds: HistogramVec,
    /// `{class, action}` with action one of disclosed, masked,
    /// pseudonymized, generalized, removed.
    pub field_values_total: IntCounterVec,
    /// `field_values_total`'s children, each resolved on its first count
    /// (so that `/metrics` lists only the pairs that occurred) and then
    /// taken without hashing its labels again.
    field_counters: Arc<[[OnceLock<IntCounter>; FIELD_ACTIONS.len()]; FieldClass::COUNT]>,
    pub consent_cache_hits_total: IntCounter,
    pub consent_cache_misses_total: IntCounter,
    pub consent_cache_backend_errors_total: IntCounter,
    pub audit: AuditMetrics,
    pub bytes_in_total: IntCounter,
    pub bytes_out_total: IntCounter,
    /// `{reason}`: a fixed error code such as `consent_unavailable`.
    pub fail_closed_total: IntCounterVec,
    /// Always 1; `{config_version, rules_version}` of what is loaded.
    pub config_info: IntGaugeVec,
}

/// The handles the audit sinks update.
#[derive(Clone)]
pub struct AuditMetrics {
    pub queue_depth: IntGauge,
    pub events_written: IntCounter,
    pub write_errors: IntCounter,
    pub write_duration: Histogram,
    /// Events accepted under `fail_open = true` although the sink could not
    /// take them.
    pub events_dropped: IntCounter,
}

impl AuditMetrics {
    /// Handles registered nowhere, for a sink used without metrics.
    pub fn detached() -> AuditMetrics {
        let m = Metrics::new();
        m.audit
    }
}

/// Every metric name `Metrics` registers (for dashboards and alert checks).
pub const METRIC_NAMES: &[&str] = &[
    "zaslon_requests_total",
    "zaslon_request_duration_seconds",
    "zaslon_upstream_duration_seconds",
    "zaslon_field_values_total",
    "zaslon_consent_cache_hits_total",
    "zaslon_consent_cache_misses_total",
    "zaslon_consent_cache_backend_errors_total",
    "zaslon_audit_queue_depth",
    "zaslon_audit_events_written_total",
    "zaslon_audit_write_errors_total",
    "zaslon_audit_write_duration_seconds",
    "zaslon_audit_events_dropped_total",
    "zaslon_bytes_in_total",
    "zaslon_bytes_out_total",
    "zaslon_fail_closed_total",
    "zaslon_config_info",
];

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics(..)")
    }
}

fn opts(name: &str, help: &str) -> Opts {
    Opts::new(name, help).namespace("zaslon")
}

fn hopts(name: &str, help: &str, buckets: &[f64]) -> HistogramOpts {
    HistogramOpts::new(name, help)
        .namespace("zaslon")
        .buckets(buckets.to_vec())
}

/// Registers `c` and returns it. The names are fixed and distinct, so
/// registration cannot fail; if it ever did, the metric would only be
/// missing from `/metrics`, never break a request.
fn reg<C: prometheus::core::Collector + Clone + 'static>(r: &Registry, c: C) -> C {
    let _ = r.register(Box::new(c.clone()));
    c
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        // The names and label sets below are constants: construction only
        // fails on an invalid name, which a unit test rules out.
        let counter_vec =
            |name, help, labels: &[&str]| valid(IntCounterVec::new(opts(name, help), labels));
        let counter = |name, help| valid(IntCounter::with_opts(opts(name, help)));
        let histogram_vec = |name, help, labels: &[&str]| {
            valid(HistogramVec::new(
                hopts(name, help, LATENCY_BUCKETS),
                labels,
            ))
        };
        Metrics {
            requests_total: reg(
                &r,
                counter_vec(
                    "requests_total",
                    "Requests by purpose, client, route template and decision.",
                    &["purpose", "client", "route", "decision"],
                ),
            ),
            request_duration_seconds: reg(
                &r,
                histogram_vec(
                    "request_duration_seconds",
                    "End-to-end request duration, until the last response byte.",
                    &["purpose", "route"],
                ),
            ),
            upstream_duration_seconds: reg(
                &r,
                histogram_vec(
                    "upstream_duration_seconds",
                    "Upstream exchange duration until response headers.",
                    &["route"],
                ),
            ),
            field_counters: Arc::new(std::array::from_fn(|_| {
                std::array::from_fn(|_| OnceLock::new())
            })),
            field_values_total: reg(
                &r,
                counter_vec(
                    "field_values_total",
                    "Personal-data values handled, by field class and action.",
                    &["class", "action"],
                ),
            ),
            consent_cache_hits_total: reg(
                &r,
                counter(
                    "consent_cache_hits_total",
                    "Consent decisions served from cache.",
                ),
            ),
            consent_cache_misses_total: reg(
                &r,
                counter(
                    "consent_cache_misses_total",
                    "Consent lookups that went to the backend.",
                ),
            ),
            consent_cache_backend_errors_total: reg(
                &r,
                counter(
                    "consent_cache_backend_errors_total",
                    "Consent backend lookups that failed.",
                ),
            ),
            audit: AuditMetrics {
                queue_depth: reg(
                    &r,
                    valid(IntGauge::with_opts(opts(
                        "audit_queue_depth",
                        "Audit events accepted and not yet written.",
                    ))),
                ),
                events_written: reg(
                    &r,
                    counter("audit_events_written_total", "Audit events made durable."),
                ),
                write_errors: reg(
                    &r,
                    counter(
                        "audit_write_errors_total",
                        "Failed audit writes, fsyncs, rotations and inserts.",
                    ),
                ),
                write_duration: reg(
                    &r,
                    valid(Histogram::with_opts(hopts(
                        "audit_write_duration_seconds",
                        "Duration of one audit group commit (write and fsync, or insert).",
                        WRITE_BUCKETS,
                    ))),
                ),
                events_dropped: reg(
                    &r,
                    counter(
                        "audit_events_dropped_total",
                        "Events lost because fail_open = true let requests through a failed sink.",
                    ),
                ),
            },
            bytes_in_total: reg(
                &r,
                counter("bytes_in_total", "Request body bytes received."),
            ),
            bytes_out_total: reg(&r, counter("bytes_out_total", "Response body bytes sent.")),
            fail_closed_total: reg(
                &r,
                counter_vec(
                    "fail_closed_total",
                    "Requests denied or aborted because something failed, by reason code.",
                    &["reason"],
                ),
            ),
            config_info: reg(
                &r,
                valid(IntGaugeVec::new(
                    opts(
                        "config_info",
                        "The loaded config and rules versions (value 1).",
                    ),
                    &["config_version", "rules_version"],
                )),
            ),
            registry: r,
        }
    }

    /// Marks `config_version`/`rules_version` as loaded (and no other).
    pub fn set_config_info(&self, config_version: &str, rules_version: &str) {
        self.config_info.reset();
        self.config_info
            .with_label_values(&[config_version, rules_version])
            .set(1);
    }

    /// Counts a redactor's statistics into `field_values_total`.
    pub fn count_fields(&self, stats: &crate::redact::RedactStats) {
        for c in FieldClass::ALL {
            let i = c.index();
            let counts = [
                stats.disclosed[i],
                stats.masked[i],
                stats.pseudonymized[i],
                stats.generalized[i],
                stats.removed[i],
            ];
            for (a, n) in counts.into_iter().enumerate() {
                if n > 0 {
                    self.field_counters[i][a]
                        .get_or_init(|| {
                            self.field_values_total
                                .with_label_values(&[c.as_str(), FIELD_ACTIONS[a]])
                        })
                        .inc_by(u64::from(n));
                }
            }
        }
        // Members an allowlist purpose removed: no class names them.
        if stats.unlisted_removed > 0 {
            self.field_values_total
                .with_label_values(&["unlisted", "removed"])
                .inc_by(u64::from(stats.unlisted_removed));
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .is_err()
        {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// Metric definitions are constants: they are only rejected for an invalid
/// name, which `registers_every_name_once` rules out.
fn valid<T>(r: prometheus::Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("a constant metric definition was rejected: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_every_name_once() {
        let m = Metrics::new();
        // Touch the vectors so they appear in the output.
        m.requests_total
            .with_label_values(&["care", "call-center", "/api/patients/{id}", "allow"])
            .inc();
        m.request_duration_seconds
            .with_label_values(&["care", "/api/patients/{id}"])
            .observe(0.001);
        m.upstream_duration_seconds
            .with_label_values(&["/api/patients/{id}"])
            .observe(0.001);
        m.field_values_total
            .with_label_values(&["snils", "masked"])
            .inc();
        m.fail_closed_total
            .with_label_values(&["audit_unavailable"])
            .inc();
        m.set_config_info("c1", "r1");
        m.set_config_info("c2", "r2");
        let text = m.render();
        for name in METRIC_NAMES {
            assert!(text.contains(&format!("# TYPE {name} ")), "{name} missing");
        }
        let families = m.registry().gather();
        assert_eq!(families.len(), METRIC_NAMES.len());
        assert!(text.contains("zaslon_config_info{config_version=\"c2\",rules_version=\"r2\"} 1"));
        assert!(!text.contains("config_version=\"c1\""));
        // A second instance has its own registry: no duplicate registration
        // (labelled vectors without children are not gathered).
        let m2 = Metrics::new();
        assert_eq!(m2.registry().gather().len(), METRIC_NAMES.len() - 6);
    }

    #[test]
    fn field_counts_add_up_and_list_only_what_occurred() {
        let m = Metrics::new();
        let mut stats = crate::redact::RedactStats::default();
        stats.masked[FieldClass::Snils.index()] = 2;
        stats.removed[FieldClass::Address.index()] = 1;
        m.count_fields(&stats);
        stats.removed[FieldClass::Address.index()] = 4;
        stats.disclosed[FieldClass::Email.index()] = 3;
        stats.unlisted_removed = 6;
        m.count_fields(&stats);
        let text = m.render();
        let series: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("zaslon_field_values_total{"))
            .collect();
        assert_eq!(
            series,
            [
                "zaslon_field_values_total{action=\"disclosed\",class=\"email\"} 3",
                "zaslon_field_values_total{action=\"masked\",class=\"snils\"} 4",
                "zaslon_field_values_total{action=\"removed\",class=\"address\"} 5",
                "zaslon_field_values_total{action=\"removed\",class=\"unlisted\"} 6",
            ]
        );
        // A clone shares the counters.
        m.clone().count_fields(&stats);
        assert!(
            m.render()
                .contains("zaslon_field_values_total{action=\"removed\",class=\"address\"} 9")
        );
    }
}
