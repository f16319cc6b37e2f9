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
pub fn encode_record(seq: u64, prev: &str, event: &AuditEvent, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"seq\":");
    out.extend_from_slice(seq.to_string().as_bytes());
    out.extend_from_slice(b",\"prev\":\"");
    out.extend_from_slice(prev.as_bytes());
    out.extend_from_slice(b"\",");
    let at = out.len();
    // An AuditEvent always serializes: it holds only strings, numbers and
    // plain structs. The `{` it starts with is replaced by our two fields.
    if serde_json::to_writer(&mut *out, event).is_err() {
        out.truncate(at);
        out.extend_from_slice(b"\"unencodable\":true}");
        return;
    }
    out.remove(at);
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
