//! The `[consent]` section of the config: the raw serde shape and its
//! validation. Nothing here touches the network or the disk.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Which backend answers cache misses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    File,
    Postgres,
    Http,
}

impl BackendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::File => "file",
            BackendKind::Postgres => "postgres",
            BackendKind::Http => "http",
        }
    }
}

/// The `[consent]` TOML section. Build it with [`ConsentConfig::from_toml`],
/// which also validates it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentConfig {
    pub backend: BackendKind,

    /// `file`: the JSON Lines journal.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// `file`: how often the journal is checked for changes.
    #[serde(default = "default_poll_ms")]
    pub poll_ms: u64,

    /// `postgres`: a libpq-style `key=value` string or a `postgresql://` URL.
    #[serde(default, alias = "url")]
    pub dsn: Option<String>,
    /// `postgres`: the name of an environment variable holding the DSN
    /// (use this when it carries a password).
    #[serde(default)]
    pub dsn_env: Option<String>,
    /// `postgres`: the schema holding the tables.
    #[serde(default = "default_schema")]
    pub schema: String,
    #[serde(default = "default_consent_table")]
    pub consent_table: String,
    #[serde(default = "default_state_table")]
    pub state_table: String,
    /// `postgres`: the NOTIFY channel the triggers use.
    #[serde(default = "default_channel")]
    pub channel: String,

    /// `http`: the consent service's URL per subject, with `{subject}`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// `http`: an environment variable holding a bearer token, if any.
    #[serde(default)]
    pub token_env: Option<String>,
    /// `http`: retries after a failed attempt, within `timeout_ms`.
    #[serde(default = "default_retries")]
    pub retries: u32,

    /// How long a cached state is trusted without an invalidation.
    #[serde(default = "default_ttl_secs")]
    pub ttl_secs: u64,
    /// The cache's bound, in subjects.
    #[serde(default = "default_max_subjects")]
    pub max_subjects: u64,
    /// How long after it was fetched a state may still be served while the
    /// backend cannot answer. 0: never (fail closed).
    #[serde(default)]
    pub stale_serve_secs: u64,
    /// The deadline of one backend lookup, retries included.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_poll_ms() -> u64 {
    200
}
fn default_schema() -> String {
    "public".into()
}
fn default_consent_table() -> String {
    "consent".into()
}
fn default_state_table() -> String {
    "subject_state".into()
}
fn default_channel() -> String {
    "zaslon_consent".into()
}
fn default_retries() -> u32 {
    2
}
fn default_ttl_secs() -> u64 {
    60
}
fn default_max_subjects() -> u64 {
    1_000_000
}
fn default_timeout_ms() -> u64 {
    1000
}

impl ConsentConfig {
    /// Parses and validates the `[consent]` table. The error says what is
    /// wrong and what to write instead.
    pub fn from_toml(table: toml::Table) -> Result<ConsentConfig, String> {
        let cfg: ConsentConfig = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| format!("[consent]: {}", e.message()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses the body of a `[consent]` section given as TOML text.
    pub fn from_toml_str(text: &str) -> Result<ConsentConfig, String> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| format!("[consent]: {}", e.message()))?;
        Self::from_toml(table)
    }

    /// A file-backed config with every default, for the demo and tests.
    pub fn file(path: impl Into<PathBuf>) -> ConsentConfig {
        ConsentConfig {
            backend: BackendKind::File,
            path: Some(path.into()),
            poll_ms: default_poll_ms(),
            dsn: None,
            dsn_env: None,
            schema: default_schema(),
            consent_table: default_consent_table(),
            state_table: default_state_table(),
            channel: default_channel(),
            endpoint: None,
            token_env: None,
            retries: default_retries(),
            ttl_secs: default_ttl_secs(),
            max_subjects: default_max_subjects(),
            stale_serve_secs: 0,
            timeout_ms: default_timeout_ms(),
        }
    }

    pub fn ttl(&self) -> Duration {
        Duration::from_secs(self.ttl_secs)
    }
    pub fn stale_serve(&self) -> Duration {
        Duration::from_secs(self.stale_serve_secs)
    }
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
    pub fn poll(&self) -> Duration {
        Duration::from_millis(self.poll_ms)
    }

    /// Checks what serde cannot: keys that belong to another backend,
    /// missing keys, ranges and SQL identifiers.
    pub fn validate(&self) -> Result<(), String> {
        let b = self.backend.as_str();
        let foreign = |key: &str, owner: &str| {
            format!(
                "[consent]: `{key}` applies only to backend = \"{owner}\", not \"{b}\"; remove it"
            )
        };
        if self.backend != BackendKind::File && self.path.is_some() {
            return Err(foreign("path", "file"));
        }
        if self.backend != BackendKind::Postgres {
            if self.dsn.is_some() {
                return Err(foreign("dsn", "postgres"));
            }
            if self.dsn_env.is_some() {
                return Err(foreign("dsn_env", "postgres"));
            }
        }
        if self.backend != BackendKind::Http {
            if self.endpoint.is_some() {
                return Err(foreign("endpoint", "http"));
            }
            if self.token_env.is_some() {
                return Err(foreign("token_env", "http"));
            }
        }
        match self.backend {
            BackendKind::File => {
                if self.path.is_none() {
                    return Err(
                        "[consent]: backend = \"file\" needs `path`, e.g. path = \"consent.jsonl\""
                            .into(),
                    );
                }
                if self.poll_ms == 0 {
                    return Err(
                        "[consent]: `poll_ms` must be at least 1, e.g. poll_ms = 200".into(),
                    );
                }
            }
            BackendKind::Postgres => {
                match (&self.dsn, &self.dsn_env) {
                    (None, None) => return Err("[consent]: backend = \"postgres\" needs `dsn` (e.g. dsn = \"host=127.0.0.1 user=zaslon dbname=mis\") or `dsn_env` (the name of a variable holding it)".into()),
                    (Some(_), Some(_)) => return Err("[consent]: give either `dsn` or `dsn_env`, not both".into()),
                    _ => {}
                }
                for (key, value) in [
                    ("schema", &self.schema),
                    ("consent_table", &self.consent_table),
                    ("state_table", &self.state_table),
                    ("channel", &self.channel),
                ] {
                    if !is_identifier(value) {
                        return Err(format!(
                            "[consent]: `{key}` = {value:?} is not a plain SQL identifier; use lower-case letters, digits and `_`, starting with a letter or `_` (at most 63)"
                        ));
                    }
                }
            }
            BackendKind::Http => {
                let Some(endpoint) = &self.endpoint else {
                    return Err("[consent]: backend = \"http\" needs `endpoint`, e.g. endpoint = \"http://127.0.0.1:8090/consent/{subject}\"".into());
                };
                if !endpoint.contains("{subject}") {
                    return Err(format!(
                        "[consent]: `endpoint` = {endpoint:?} must contain `{{subject}}` where the subject id goes"
                    ));
                }
                if !endpoint.starts_with("http://") {
                    return Err(format!(
                        "[consent]: `endpoint` = {endpoint:?} must start with http:// (https is not supported yet; put a local TLS-terminating sidecar in front)"
                    ));
                }
            }
        }
        if self.ttl_secs == 0 {
            return Err("[consent]: `ttl_secs` must be at least 1, e.g. ttl_secs = 60".into());
        }
        if self.max_subjects == 0 {
            return Err(
                "[consent]: `max_subjects` must be at least 1, e.g. max_subjects = 1000000".into(),
            );
        }
        if self.timeout_ms == 0 {
            return Err(
                "[consent]: `timeout_ms` must be at least 1, e.g. timeout_ms = 1000".into(),
            );
        }
        Ok(())
    }
}

/// A plain, unquoted SQL identifier: validated once here so that the
/// queries built from it at startup need no escaping.
pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && s.len() <= 63
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_defaults() {
        let c = ConsentConfig::from_toml_str("backend = \"file\"\npath = \"c.jsonl\"").unwrap();
        assert_eq!(c, ConsentConfig::file("c.jsonl"));
        assert_eq!(c.ttl_secs, 60);
        assert_eq!(c.max_subjects, 1_000_000);
        assert_eq!(c.stale_serve_secs, 0);
    }

    #[test]
    fn postgres_with_url_alias() {
        let c = ConsentConfig::from_toml_str(
            "backend = \"postgres\"\nurl = \"postgresql://postgres@127.0.0.1/test\"\nschema = \"mis\"\nstale_serve_secs = 300",
        )
        .unwrap();
        assert_eq!(
            c.dsn.as_deref(),
            Some("postgresql://postgres@127.0.0.1/test")
        );
        assert_eq!(c.schema, "mis");
        assert_eq!(c.stale_serve(), Duration::from_secs(300));
    }

    #[test]
    fn errors_say_what_to_write() {
        let e = ConsentConfig::from_toml_str("backend = \"file\"\npth = \"x\"").unwrap_err();
        assert!(e.contains("pth"), "{e}");
        let e = ConsentConfig::from_toml_str("backend = \"redis\"").unwrap_err();
        assert!(e.contains("redis"), "{e}");
        let e = ConsentConfig::from_toml_str("backend = \"file\"").unwrap_err();
        assert!(e.contains("needs `path`"), "{e}");
        let e = ConsentConfig::from_toml_str("backend = \"http\"\nendpoint = \"http://x/c\"")
            .unwrap_err();
        assert!(e.contains("{subject}"), "{e}");
        let e = ConsentConfig::from_toml_str(
            "backend = \"postgres\"\ndsn = \"host=x\"\nschema = \"a; drop table t\"",
        )
        .unwrap_err();
        assert!(e.contains("identifier"), "{e}");
        let e =
            ConsentConfig::from_toml_str("backend = \"postgres\"\ndsn = \"host=x\"\npath = \"p\"")
                .unwrap_err();
        assert!(e.contains("applies only to backend = \"file\""), "{e}");
        let e = ConsentConfig::from_toml_str("backend = \"file\"\npath = \"p\"\nttl_secs = 0")
            .unwrap_err();
        assert!(e.contains("ttl_secs"), "{e}");
    }
}
