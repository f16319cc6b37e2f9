//! The hash chain: how an event becomes a written record.
//!
//! A record is one JSON line: `{"seq":N,"prev":"<hex>",` followed by the
//! event's own fields in their declared order. `prev` is the SHA-256 of the
//! previous record's exact line bytes (without the newline); the first
//! record of a chain has 64 zeros. The line as written is the canonical
//! encoding: verification hashes bytes, it never re-serializes.

use sha2::{Digest, Sha256};

use super::AuditEvent;

/// The `prev` of the first record of a chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Where the chain stands: the next record's `seq` and `prev`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainState {
    pub next_seq: u64,
    pub prev: String,
}

impl Default for ChainState {
    fn default() -> ChainState {
        ChainState {
            next_seq: 0,
            prev: GENESIS.to_owned(),
        }
    }
}

impl ChainState {
    /// The state after `line`, a record whose `seq` is `seq`.
    pub fn after(seq: u64, line: &[u8]) -> ChainState {
        ChainState {
            next_seq: seq + 1,
            prev: line_hash(line),
        }
    }

    /// Appends the next record for `event` to `out` (with its newline),
    /// advances the chain and returns the record's `seq`.
    pub fn append(&mut self, event: &AuditEvent, out: &mut Vec<u8>) -> u64 {
        let start = out.len();
        encode_record(self.next_seq, &self.prev, event, out);
        let seq = self.next_seq;
        self.prev = line_hash(&out[start..]);
        self.next_seq += 1;
        out.push(b'\n');
        seq
    }
}

/// Writes the record line (without newline) for `event` at `seq`/`prev`.
///
/// The writer thread encodes every event, so this is written out by hand
/// rather than through serde: the same bytes serde_json gives for
/// `{"seq":..,"prev":..}` followed by the event's fields in declared order
/// (a test holds the two equal), at a third of the instructions.
pub fn encode_record(seq: u64, prev: &str, event: &AuditEvent, out: &mut Vec<u8>) {
    let AuditEvent {
        time,
        request_id,
        client,
        actor,
        purpose,
        purpose_of_use,
        route,
        method,
        subjects,
        decision,
        reason,
        consent,
        classes,
        upstream_status,
        bytes_in,
        bytes_out,
        duration_us,
        rules_version,
        legal_override,
    } = event;
    let mut num = itoa::Buffer::new();
    out.extend_from_slice(b"{\"seq\":");
    out.extend_from_slice(num.format(seq).as_bytes());
    out.extend_from_slice(b",\"prev\":");
    json_str(prev, out);
    out.extend_from_slice(b",\"time\":");
    json_str(time, out);
    out.extend_from_slice(b",\"request_id\":");
    json_str(request_id, out);
    out.extend_from_slice(b",\"client\":");
    json_str(client, out);
    out.extend_from_slice(b",\"actor\":");
    json_opt(actor.as_deref(), out);
    out.extend_from_slice(b",\"purpose\":");
    json_opt(purpose.as_deref(), out);
    // Absent rather than null, as serde skips it: a record without an HL7
    // code is the same bytes it was before the field existed.
    if let Some(code) = purpose_of_use {
        out.extend_from_slice(b",\"purpose_of_use\":");
        json_str(code, out);
    }
    out.extend_from_slice(b",\"route\":");
    json_opt(route.as_deref(), out);
    out.extend_from_slice(b",\"method\":");
    json_str(method, out);
    out.extend_from_slice(b",\"subjects\":[");
    for (i, s) in subjects.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_str(s, out);
    }
    out.extend_from_slice(b"],\"decision\":");
    json_str(decision, out);
    out.extend_from_slice(b",\"reason\":");
    json_str(reason, out);
    out.extend_from_slice(b",\"consent\":");
    json_opt(consent.as_deref(), out);
    out.extend_from_slice(b",\"classes\":[");
    for (i, c) in classes.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"class\":");
        json_str(&c.class, out);
        for (name, n) in [
            (&b",\"disclosed\":"[..], c.disclosed),
            (b",\"masked\":", c.masked),
            (b",\"pseudonymized\":", c.pseudonymized),
            (b",\"generalized\":", c.generalized),
            (b",\"removed\":", c.removed),
        ] {
            out.extend_from_slice(name);
            out.extend_from_slice(num.format(n).as_bytes());
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"upstream_status\":");
    match upstream_status {
        Some(s) => out.extend_from_slice(num.format(*s).as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
    for (name, n) in [
        (&b",\"bytes_in\":"[..], *bytes_in),
        (b",\"bytes_out\":", *bytes_out),
        (b",\"duration_us\":", *duration_us),
    ] {
        out.extend_from_slice(name);
        out.extend_from_slice(num.format(n).as_bytes());
    }
    out.extend_from_slice(b",\"rules_version\":");
    json_str(rules_version, out);
    out.extend_from_slice(if *legal_override {
        b",\"legal_override\":true}"
    } else {
        b",\"legal_override\":false}"
    });
}

fn json_opt(s: Option<&str>, out: &mut Vec<u8>) {
    match s {
        Some(s) => json_str(s, out),
        None => out.extend_from_slice(b"null"),
    }
}

/// A JSON string literal, escaped as serde_json escapes it.
fn json_str(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    // Nearly every string needs no escape: one branch-free pass tells.
    if !bytes
        .iter()
        .fold(false, |a, &b| a | (b == b'"') | (b == b'\\') | (b < 0x20))
    {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ]);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Lowercase hex SHA-256 of one record line (without its newline).
pub fn line_hash(line: &[u8]) -> String {
    hex::encode(Sha256::digest(line))
}

/// The chain fields of a record; every other field is ignored.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct RecordHead {
    pub seq: u64,
    pub prev: String,
}

/// A whole record as read back.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Record {
    pub seq: u64,
    pub prev: String,
    #[serde(flatten)]
    pub event: AuditEvent,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_rfc3339_utc() {
        let t = crate::audit::now_rfc3339();
        let parsed =
            time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339)
                .unwrap();
        assert_eq!(parsed.offset(), time::UtcOffset::UTC);
        assert_eq!(t.len(), "2026-11-25T07:30:00.123456Z".len());
    }

    /// What `encode_record` must equal: serde_json's encoding of the chain
    /// fields followed by the event's.
    fn serde_record(seq: u64, prev: &str, event: &AuditEvent) -> Vec<u8> {
        let mut out = format!("{{\"seq\":{seq},\"prev\":").into_bytes();
        serde_json::to_writer(&mut out, prev).unwrap();
        out.push(b',');
        let ev = serde_json::to_vec(event).unwrap();
        out.extend_from_slice(&ev[1..]);
        out
    }

    fn tricky() -> Vec<String> {
        let mut v: Vec<String> = (0u8..0x20).map(|b| format!("a{}b", b as char)).collect();
        v.extend(
            [
                "",
                "\"",
                "\\",
                "plain",
                "Иванова",
                "x\u{7f}y",
                "\u{2028}",
                "😀\"\\/",
            ]
            .iter()
            .map(|s| (*s).to_owned()),
        );
        v
    }

    #[test]
    fn the_hand_encoder_gives_serde_jsons_bytes() {
        let strings = tricky();
        for (i, s) in strings.iter().enumerate() {
            let other = &strings[(i * 7 + 3) % strings.len()];
            let ev = AuditEvent {
                time: s.clone(),
                request_id: other.clone(),
                client: s.clone(),
                actor: (i % 2 == 0).then(|| other.clone()),
                purpose: (i % 3 != 0).then(|| s.clone()),
                purpose_of_use: (i % 4 == 1).then(|| other.clone()),
                route: (i % 5 != 0).then(|| other.clone()),
                method: s.clone(),
                subjects: strings[..i % 4].to_vec(),
                decision: other.clone(),
                reason: s.clone(),
                consent: (i % 2 == 1).then(|| s.clone()),
                classes: (0..i % 3)
                    .map(|k| crate::audit::ClassCounts {
                        class: strings[(i + k) % strings.len()].clone().into(),
                        disclosed: k as u32,
                        masked: u32::MAX,
                        pseudonymized: 7,
                        generalized: 0,
                        removed: 1_000_000,
                    })
                    .collect(),
                upstream_status: (i % 4 != 0).then_some(200 + i as u16),
                bytes_in: u64::MAX - i as u64,
                bytes_out: i as u64,
                duration_us: 0,
                rules_version: other.clone(),
                legal_override: i % 2 == 0,
            };
            let seq = if i == 0 { u64::MAX } else { i as u64 };
            let mut got = Vec::new();
            encode_record(seq, s, &ev, &mut got);
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&serde_record(seq, s, &ev)),
                "string {i}: {s:?}"
            );
        }
        let mut got = Vec::new();
        encode_record(0, GENESIS, &AuditEvent::default(), &mut got);
        assert_eq!(got, serde_record(0, GENESIS, &AuditEvent::default()));
    }

    #[test]
    fn record_is_event_plus_chain_fields_and_hash_links() {
        let mut st = ChainState::default();
        let ev = AuditEvent {
            time: "2026-11-25T07:30:00Z".into(),
            client: "call-center".into(),
            decision: "allow".into(),
            ..Default::default()
        };
        let mut out = Vec::new();
        assert_eq!(st.append(&ev, &mut out), 0);
        let first_end = out.len() - 1;
        assert_eq!(st.append(&ev, &mut out), 1);
        let text = std::str::from_utf8(&out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with(&format!("{{\"seq\":0,\"prev\":\"{GENESIS}\",\"time\":")));
        let rec: Record = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(rec.seq, 1);
        assert_eq!(rec.prev, line_hash(&out[..first_end]));
        assert_eq!(rec.event, ev);
        assert_eq!(st.next_seq, 2);
        assert_eq!(st.prev, line_hash(lines[1].as_bytes()));
    }
}
