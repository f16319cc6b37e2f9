//! `zaslon audit query --subject ID`: every recorded access to one
//! subject's data, for a subject access request.
//!
//! The raw id is turned into the subject's keyed pseudonym (the same key
//! the proxy uses), and only that pseudonym is searched for.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::AuditConfig;
use super::chain::Record;
use crate::redact::PseudonymKey;

/// One access, as shown to the subject.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Access {
    pub time: String,
    pub request_id: String,
    pub client: String,
    pub actor: Option<String>,
    pub purpose: Option<String>,
    /// The HL7 PurposeOfUse code the client declared, if it sent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose_of_use: Option<String>,
    pub route: Option<String>,
    pub method: String,
    pub decision: String,
    pub reason: String,
    pub legal_override: bool,
    /// Classes with at least one value disclosed as is.
    pub disclosed: Vec<String>,
    /// Classes with values masked, pseudonymized, generalized or removed.
    pub withheld: Vec<String>,
}

/// A time window; either end may be open. `to` is exclusive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
}

impl Window {
    /// From the `--from`/`--to` flags (RFC 3339, or a date `YYYY-MM-DD`).
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<Window, QueryError> {
        Ok(Window {
            from: from.map(parse_time).transpose()?,
            to: to.map(parse_time).transpose()?,
        })
    }

    fn contains(&self, t: Option<OffsetDateTime>) -> bool {
        match t {
            Some(t) => self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|e| t < e),
            // An unparseable time cannot be placed; show it only when the
            // window is open on both sides.
            None => self.from.is_none() && self.to.is_none(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("{0}: not a time; write RFC 3339 (2026-11-25T07:30:00Z) or a date (2026-11-25)")]
    BadTime(String),
    #[error("{file}: {message}")]
    Io { file: String, message: String },
    #[error("{file}:{line}: not an audit record")]
    Malformed { file: String, line: u64 },
    #[error("the pseudonymization key variable {0} is not set or empty")]
    NoKey(String),
    #[error("PostgreSQL: {0}")]
    Postgres(String),
}

fn parse_time(s: &str) -> Result<OffsetDateTime, QueryError> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, fmt)
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| QueryError::BadTime(s.to_owned()))
}

/// The subject's pseudonym as it appears in audit events.
pub fn subject_pseudonym(key: &PseudonymKey, subject_id: &str) -> String {
    crate::redact::pseudo::pseudonym(key, "subject", subject_id.as_bytes())
}

/// The key from an environment variable's value (`--key-env`).
pub fn key_from_env(var: &str) -> Result<PseudonymKey, QueryError> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(PseudonymKey::new(v.as_bytes())),
        _ => Err(QueryError::NoKey(var.to_owned())),
    }
}

fn access(r: Record) -> Access {
    let e = r.event;
    let disclosed = e
        .classes
        .iter()
        .filter(|c| c.disclosed > 0)
        .map(|c| c.class.to_string())
        .collect();
    let withheld = e
        .classes
        .iter()
        .filter(|c| c.masked + c.pseudonymized + c.generalized + c.removed > 0)
        .map(|c| c.class.to_string())
        .collect();
    Access {
        time: e.time,
        request_id: e.request_id,
        client: e.client,
        actor: e.actor,
        purpose: e.purpose,
        purpose_of_use: e.purpose_of_use,
        route: e.route,
        method: e.method,
        decision: e.decision,
        reason: e.reason,
        legal_override: e.legal_override,
        disclosed,
        withheld,
    }
}

fn event_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// Every access to `pseudonym` in the file sink's files, in file order.
pub fn query_files(
    paths: &[PathBuf],
    pseudonym: &str,
    window: Window,
) -> Result<Vec<Access>, QueryError> {
    let mut out = Vec::new();
    let needle = format!("\"{pseudonym}\"");
    for path in paths {
        let file = path.display().to_string();
        let f = File::open(path).map_err(|e| QueryError::Io {
            file: file.clone(),
            message: e.to_string(),
        })?;
        for (i, line) in BufReader::new(f).split(b'\n').enumerate() {
            let line = line.map_err(|e| QueryError::Io {
                file: file.clone(),
                message: e.to_string(),
            })?;
            // Cheap filter first: most records are about someone else.
            if memchr::memmem::find(&line, needle.as_bytes()).is_none() {
                continue;
            }
            let rec: Record = serde_json::from_slice(&line).map_err(|_| QueryError::Malformed {
                file: file.clone(),
                line: i as u64 + 1,
            })?;
            if rec.event.subjects.iter().any(|s| s == pseudonym)
                && window.contains(event_time(&rec.event.time))
            {
                out.push(access(rec));
            }
        }
    }
    Ok(out)
}

/// Every access to `pseudonym` in the PostgreSQL sink's table (all chains),
/// in time order.
pub async fn query_postgres(
    cfg: &AuditConfig,
    pseudonym: &str,
    window: Window,
) -> Result<Vec<Access>, QueryError> {
    let dsn = cfg
        .dsn
        .as_deref()
        .ok_or_else(|| QueryError::Postgres("[audit] dsn is required".into()))?;
    let pg = |e: tokio_postgres::Error| QueryError::Postgres(e.to_string());
    let client = super::postgres::connect(dsn, &cfg.schema, "zaslon-audit-query")
        .await
        .map_err(pg)?;
    let rows = client
        .query(
            "SELECT line FROM audit_events WHERE subjects @> ARRAY[$1::text] \
             AND ($2::timestamptz IS NULL OR time >= $2) AND ($3::timestamptz IS NULL OR time < $3) \
             ORDER BY time, chain, seq",
            &[&pseudonym, &window.from, &window.to],
        )
        .await
        .map_err(pg)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let line: String = row.get(0);
        let rec: Record = serde_json::from_str(&line).map_err(|_| QueryError::Malformed {
            file: "audit_events".into(),
            line: 0,
        })?;
        out.push(access(rec));
    }
    Ok(out)
}

/// `zaslon audit query`: the subject's accesses from the sink the config
/// names (the file sink's files next to `path`, or the PostgreSQL table).
pub async fn query(
    cfg: &AuditConfig,
    key: &PseudonymKey,
    subject_id: &str,
    window: Window,
) -> Result<Vec<Access>, QueryError> {
    let pseudonym = subject_pseudonym(key, subject_id);
    match cfg.sink {
        super::SinkKind::File => {
            let files = super::file::chain_files(&cfg.path).map_err(|e| QueryError::Io {
                file: cfg.path.display().to_string(),
                message: e.to_string(),
            })?;
            query_files(&files, &pseudonym, window)
        }
        super::SinkKind::Postgres => query_postgres(cfg, &pseudonym, window).await,
    }
}

/// A plain table for the terminal.
pub fn render(accesses: &[Access]) -> String {
    let mut s =
        String::from("time\tclient\tactor\tpurpose\troute\tdecision\tdisclosed\twithheld\n");
    for a in accesses {
        let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
        let list = |v: &[String]| {
            if v.is_empty() {
                "-".to_owned()
            } else {
                v.join(",")
            }
        };
        s.push_str(&format!(
            "{}\t{}\t{}\t{}{}{}\t{} {}\t{} ({})\t{}\t{}\n",
            a.time,
            a.client,
            opt(&a.actor),
            opt(&a.purpose),
            a.purpose_of_use
                .as_ref()
                .map_or_else(String::new, |c| format!(" (HL7 {c})")),
            if a.legal_override {
                " [legal override]"
            } else {
                ""
            },
            a.method,
            opt(&a.route),
            a.decision,
            a.reason,
            list(&a.disclosed),
            list(&a.withheld),
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hl7_code_is_shown_beside_the_purpose() {
        let a = |code: Option<&str>| Access {
            time: "2026-11-25T07:30:00Z".into(),
            request_id: "r1".into(),
            client: "his".into(),
            actor: None,
            purpose: Some("legal".into()),
            purpose_of_use: code.map(str::to_owned),
            route: Some("/api/patients/{patient_id}".into()),
            method: "GET".into(),
            decision: "allow".into(),
            reason: "ok".into(),
            legal_override: true,
            disclosed: vec![],
            withheld: vec![],
        };
        let text = render(&[a(Some("HLEGAL")), a(None)]);
        let rows: Vec<&str> = text.lines().skip(1).collect();
        assert!(
            rows[0].contains("\tlegal (HL7 HLEGAL) [legal override]\t"),
            "{text}"
        );
        assert!(rows[1].contains("\tlegal [legal override]\t"), "{text}");
        let json = serde_json::to_string(&a(None)).unwrap();
        assert!(!json.contains("purpose_of_use"), "{json}");
    }

    #[test]
    fn windows() {
        let w = Window::parse(Some("2026-11-01"), Some("2026-11-02T00:00:00Z")).unwrap();
        assert!(w.contains(event_time("2026-11-01T10:00:00Z")));
        assert!(!w.contains(event_time("2026-11-02T00:00:00Z")));
        assert!(!w.contains(event_time("2026-10-31T23:59:59Z")));
        assert!(!w.contains(None));
        assert!(Window::default().contains(None));
        assert!(matches!(
            Window::parse(Some("yesterday"), None),
            Err(QueryError::BadTime(_))
        ));
    }
}
