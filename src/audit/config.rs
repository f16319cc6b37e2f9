//! The `[audit]` section of the config.

use std::path::PathBuf;

/// Which sink receives the events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    File,
    Postgres,
}

/// `[audit]`: where events go and how hard the proxy insists on them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    pub sink: SinkKind,
    /// File sink: `dir/name.jsonl`; files are written as
    /// `dir/name-YYYYMMDDTHHMMSS-<first seq>.jsonl`.
    #[serde(default = "default_path")]
    pub path: PathBuf,
    /// PostgreSQL sink: a libpq-style connection string.
    #[serde(default)]
    pub dsn: Option<String>,
    /// PostgreSQL sink: the schema holding `audit_events` (created if absent).
    #[serde(default = "default_schema")]
    pub schema: String,
    /// PostgreSQL sink: the chain id, one per replica (the table holds one
    /// hash chain per id).
    #[serde(default = "default_chain")]
    pub chain: String,
    /// Events the queue holds before `submit` refuses with `QueueFull`.
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: usize,
    /// The durability budget: an acknowledged event is durable within this
    /// interval while each commit takes at most half of it (docs/audit.md).
    #[serde(default = "default_group_commit_ms")]
    pub group_commit_ms: u64,
    /// Rotate the file before it would pass this size; 0 = never.
    #[serde(default = "default_rotate_bytes")]
    pub rotate_bytes: u64,
    /// Rotate a file this many seconds after it was opened; 0 = never.
    #[serde(default = "default_rotate_secs")]
    pub rotate_secs: u64,
    /// Accept requests even when the sink cannot take their events. Off by
    /// default; turning it on loses the guarantee that every access is
    /// recorded.
    #[serde(default)]
    pub fail_open: bool,
    /// Pause between retries of a failed write or connection.
    #[serde(default = "default_retry_ms")]
    pub retry_ms: u64,
}

fn default_path() -> PathBuf {
    PathBuf::from("audit/zaslon.jsonl")
}
fn default_schema() -> String {
    "zaslon_audit".to_owned()
}
fn default_chain() -> String {
    "zaslon".to_owned()
}
fn default_queue_capacity() -> usize {
    65536
}
fn default_group_commit_ms() -> u64 {
    10
}
fn default_rotate_bytes() -> u64 {
    64 * 1024 * 1024
}
fn default_rotate_secs() -> u64 {
    86400
}
fn default_retry_ms() -> u64 {
    200
}

impl AuditConfig {
    /// A file sink at `path` with every other key at its default.
    pub fn file(path: impl Into<PathBuf>) -> AuditConfig {
        AuditConfig {
            sink: SinkKind::File,
            path: path.into(),
            dsn: None,
            schema: default_schema(),
            chain: default_chain(),
            queue_capacity: default_queue_capacity(),
            group_commit_ms: default_group_commit_ms(),
            rotate_bytes: default_rotate_bytes(),
            rotate_secs: default_rotate_secs(),
            fail_open: false,
            retry_ms: default_retry_ms(),
        }
    }

    /// Parses and checks the `[audit]` table.
    pub fn from_toml(table: toml::Table) -> Result<AuditConfig, String> {
        let cfg: AuditConfig = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| format!("[audit]: {}", e.message()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The checks serde cannot express.
    pub fn validate(&self) -> Result<(), String> {
        if self.queue_capacity == 0 {
            return Err("[audit] queue_capacity: must be at least 1 (default 65536)".into());
        }
        if self.group_commit_ms == 0 {
            return Err("[audit] group_commit_ms: must be at least 1 (default 10)".into());
        }
        if self.retry_ms == 0 {
            return Err("[audit] retry_ms: must be at least 1 (default 200)".into());
        }
        match self.sink {
            SinkKind::File => {
                let name = self.path.file_name().and_then(|n| n.to_str());
                if name.is_none_or(|n| n.is_empty()) {
                    return Err(
                        "[audit] path: name a file such as \"audit/zaslon.jsonl\"".to_owned()
                    );
                }
            }
            SinkKind::Postgres => {
                if self.dsn.as_deref().is_none_or(str::is_empty) {
                    return Err("[audit] dsn: required when sink = \"postgres\", e.g. \
                         \"host=127.0.0.1 user=zaslon dbname=mis\""
                        .to_owned());
                }
                if !is_identifier(&self.schema) {
                    return Err(format!(
                        "[audit] schema: {:?} is not a plain identifier; write lowercase \
                         letters, digits and '_' (default \"zaslon_audit\")",
                        self.schema
                    ));
                }
                if self.chain.is_empty() || self.chain.len() > 64 {
                    return Err("[audit] chain: 1 to 64 characters, one id per replica".into());
                }
            }
        }
        Ok(())
    }
}

/// A PostgreSQL identifier we can quote without surprises.
pub(crate) fn is_identifier(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'_'))
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
        && s.len() <= 63
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<AuditConfig, String> {
        AuditConfig::from_toml(s.parse::<toml::Table>().unwrap())
    }

    #[test]
    fn defaults() {
        let c = parse("sink = \"file\"\npath = \"a/z.jsonl\"").unwrap();
        assert_eq!(c.queue_capacity, 65536);
        assert_eq!(c.group_commit_ms, 10);
        assert!(!c.fail_open);
        assert_eq!(c, AuditConfig::file("a/z.jsonl"));
    }

    #[test]
    fn rejects_misspelt_and_bad_values() {
        assert!(
            parse("sink = \"file\"\nfailopen = true")
                .unwrap_err()
                .contains("failopen")
        );
        assert!(parse("sink = \"s3\"").is_err());
        assert!(parse("sink = \"postgres\"").unwrap_err().contains("dsn"));
        let e = parse("sink = \"postgres\"\ndsn = \"host=x\"\nschema = \"a;drop\"").unwrap_err();
        assert!(e.contains("schema"));
        assert!(parse("sink = \"file\"\nqueue_capacity = 0").is_err());
        let c = parse("sink = \"postgres\"\ndsn = \"host=x\"\nfail_open = true").unwrap();
        assert!(c.fail_open);
    }
}
