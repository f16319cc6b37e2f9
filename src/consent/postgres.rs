//! The `postgres` backend: consent in tables the MIS owns (or the schema in
//! `config/sql/consent.sql`), invalidations pushed by LISTEN/NOTIFY.
//!
//! Two connections per replica: one for lookups (one statement, prepared
//! once per connection, `subject = ANY($1)` for a whole batch), one that
//! only LISTENs. The listener reconnects with backoff and, once listening
//! again, expires every cached entry: notifications sent while it was away
//! are lost. Lookups reconnect on demand; while the server cannot be
//! reached they fail (`Unavailable`) and the cache decides (stale window or
//! fail closed).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tokio::sync::{Mutex, RwLock, mpsc};
use tokio_postgres::{AsyncMessage, Client, NoTls, Statement};

use super::cache::Invalidator;
use super::{BoxFuture, ConsentError, ConsentSource, SubjectState};
use crate::class::Purpose;

/// The shipped schema (`config/sql/consent.sql`): tables, the notify
/// function and its triggers, created in the current `search_path`.
pub const SCHEMA_SQL: &str = include_str!("../../config/sql/consent.sql");

/// Creates `schema` (if absent) and the shipped tables and triggers in it,
/// in one transaction. For `zaslon demo`, setup scripts and tests.
pub async fn install_schema(client: &tokio_postgres::Client, schema: &str) -> Result<(), String> {
    if !super::config::is_identifier(schema) {
        return Err(format!("{schema:?} is not a plain SQL identifier"));
    }
    client
        .batch_execute(&format!(
            "begin; create schema if not exists \"{schema}\"; set local search_path to \"{schema}\";\n{SCHEMA_SQL}\ncommit;"
        ))
        .await
        .map_err(|e| describe(&e))
}

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How often the listener checks that its connection still answers (a dead
/// peer that sends no reset is otherwise noticed only by TCP keepalive).
const LISTEN_PING: Duration = Duration::from_secs(5);

/// Where the tables are; every name a validated plain identifier.
#[derive(Debug, Clone)]
pub struct PgNames {
    pub schema: String,
    pub consent_table: String,
    pub state_table: String,
    pub channel: String,
}

impl Default for PgNames {
    fn default() -> Self {
        PgNames {
            schema: "public".into(),
            consent_table: "consent".into(),
            state_table: "subject_state".into(),
            channel: "zaslon_consent".into(),
        }
    }
}

struct Conn {
    client: Client,
    lookup: Statement,
}

/// The `postgres` consent backend.
pub struct PgSource {
    config: tokio_postgres::Config,
    names: PgNames,
    sql: String,
    conn: RwLock<Option<Arc<Conn>>>,
    connecting: Mutex<()>,
    queries: AtomicU64,
}

impl std::fmt::Debug for PgSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSource")
            .field("names", &self.names)
            .field("queries", &self.queries())
            .finish_non_exhaustive()
    }
}

impl PgSource {
    /// `names` must hold plain identifiers (the config validates them);
    /// anything else is refused here too.
    pub fn new(
        mut config: tokio_postgres::Config,
        names: PgNames,
        connect_timeout: Duration,
    ) -> Result<PgSource, String> {
        for n in [
            &names.schema,
            &names.consent_table,
            &names.state_table,
            &names.channel,
        ] {
            if !super::config::is_identifier(n) {
                return Err(format!("{n:?} is not a plain SQL identifier"));
            }
        }
        config
            .connect_timeout(connect_timeout)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(10));
        if config.get_application_name().is_none() {
            config.application_name("zaslon-consent");
        }
        // Identifiers are validated above; values are always parameters.
        let PgNames {
            schema,
            consent_table,
            state_table,
            ..
        } = &names;
        let sql = format!(
            "select subject, purpose, granted, null::text as state \
               from \"{schema}\".\"{consent_table}\" where subject = any($1) \
             union all \
             select subject, null::text, null::bool, state \
               from \"{schema}\".\"{state_table}\" where subject = any($1)"
        );
        Ok(PgSource {
            config,
            names,
            sql,
            conn: RwLock::new(None),
            connecting: Mutex::new(()),
            queries: AtomicU64::new(0),
        })
    }

    /// Lookup statements executed so far (one per batch).
    pub fn queries(&self) -> u64 {
        self.queries.load(Relaxed)
    }

    pub fn names(&self) -> &PgNames {
        &self.names
    }

    async fn conn(&self) -> Result<Arc<Conn>, tokio_postgres::Error> {
        if let Some(c) = self.conn.read().await.as_ref()
            && !c.client.is_closed()
        {
            return Ok(Arc::clone(c));
        }
        let _one_at_a_time = self.connecting.lock().await;
        if let Some(c) = self.conn.read().await.as_ref()
            && !c.client.is_closed()
        {
            return Ok(Arc::clone(c));
        }
        let (client, connection) = self.config.connect(NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "consent: PostgreSQL lookup connection ended");
            }
        });
        let lookup = client.prepare(&self.sql).await?;
        let conn = Arc::new(Conn { client, lookup });
        *self.conn.write().await = Some(Arc::clone(&conn));
        Ok(conn)
    }

    /// Connects and runs an empty lookup: an error means the tables are not
    /// where the config says. `Ok(false)`: the server could not be reached
    /// (lookups fail until it can).
    pub async fn probe(&self) -> Result<bool, String> {
        match self.conn().await {
            Ok(_) => {}
            Err(e) if e.as_db_error().is_some() => return Err(describe(&e)),
            Err(e) => {
                tracing::warn!(error = %e, "consent: PostgreSQL not reachable at startup; lookups fail until it is");
                return Ok(false);
            }
        }
        self.query(&[])
            .await
            .map(|_| true)
            .map_err(|e| e.to_string())
    }

    /// One lookup statement; once more on a new connection when the old one
    /// turned out closed (the server restarted, or dropped an idle session).
    async fn query(&self, subjects: &[String]) -> Result<Vec<SubjectState>, tokio_postgres::Error> {
        match self.query_once(subjects).await {
            Err(e) if e.is_closed() || self.closed().await => self.query_once(subjects).await,
            other => other,
        }
    }

    async fn closed(&self) -> bool {
        self.conn.read().await.is_none()
    }

    async fn query_once(
        &self,
        subjects: &[String],
    ) -> Result<Vec<SubjectState>, tokio_postgres::Error> {
        let conn = self.conn().await?;
        self.queries.fetch_add(1, Relaxed);
        let rows = match conn.client.query(&conn.lookup, &[&subjects]).await {
            Ok(rows) => rows,
            Err(e) => {
                if conn.client.is_closed() {
                    let mut slot = self.conn.write().await;
                    if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, &conn)) {
                        *slot = None;
                    }
                }
                return Err(e);
            }
        };
        let mut states: HashMap<&str, SubjectState> = HashMap::with_capacity(subjects.len());
        for row in &rows {
            let subject: &str = row.try_get(0)?;
            let purpose: Option<&str> = row.try_get(1)?;
            let granted: Option<bool> = row.try_get(2)?;
            let state: Option<&str> = row.try_get(3)?;
            let entry = states.entry(subject).or_default();
            match (purpose, granted, state) {
                (Some(p), Some(g), _) => {
                    if let Ok(p) = p.parse::<Purpose>() {
                        entry.purposes[p.index()] = Some(g);
                    }
                }
                // Anything but `active` blocks: an unknown state fails closed.
                (None, _, Some(st)) => entry.blocked = st != "active",
                _ => {}
            }
        }
        Ok(subjects
            .iter()
            .map(|s| states.get(s.as_str()).copied().unwrap_or_default())
            .collect())
    }

    /// Listens on its own connection and pushes invalidations into the
    /// cache until the cache is dropped; reconnects with backoff.
    pub fn listen(&self, invalidator: Invalidator) -> tokio::task::JoinHandle<()> {
        let config = self.config.clone();
        let channel = self.names.channel.clone();
        tokio::spawn(listen_loop(config, channel, invalidator))
    }
}

impl ConsentSource for PgSource {
    fn lookup<'a>(
        &'a self,
        subjects: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<SubjectState>, ConsentError>> {
        Box::pin(async move {
            self.query(subjects).await.map_err(|e| {
                tracing::warn!(error = %describe(&e), "consent: PostgreSQL lookup failed");
                ConsentError::Unavailable
            })
        })
    }
}

async fn listen_loop(config: tokio_postgres::Config, channel: String, inv: Invalidator) {
    let mut backoff = BACKOFF_MIN;
    let mut was_down = false;
    while !inv.is_closed() {
        match listen_once(&config, &channel, &inv).await {
            Ok(()) => backoff = BACKOFF_MIN,
            Err(e) => {
                if !was_down {
                    tracing::warn!(error = %e, "consent: PostgreSQL LISTEN connection lost; reconnecting");
                }
                was_down = true;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        }
        was_down = false;
    }
}

/// One connection's life: LISTEN, expire everything (what happened before
/// is unknown), then invalidate per notification until the connection
/// ends. `Ok` when it ended after having listened.
async fn listen_once(
    config: &tokio_postgres::Config,
    channel: &str,
    inv: &Invalidator,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let driver = tokio::spawn(async move {
        loop {
            let msg = std::future::poll_fn(|cx| connection.poll_message(cx)).await;
            match msg {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if tx.send(n.payload().to_owned()).is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "consent: PostgreSQL LISTEN connection failed");
                    return;
                }
                None => return,
            }
        }
    });
    let abort = driver.abort_handle();
    let _stop_driver = scopeguard(move || abort.abort());
    client
        .batch_execute(&format!("LISTEN \"{channel}\""))
        .await?;
    inv.expire_all();
    tracing::info!("consent: listening for PostgreSQL consent changes");
    let mut ping = tokio::time::interval(LISTEN_PING);
    ping.tick().await;
    loop {
        tokio::select! {
            payload = rx.recv() => match payload {
                Some(p) if p == "*" => inv.all(),
                Some(subject) => inv.subject(&subject).await,
                None => return Ok(()),
            },
            _ = ping.tick() => {
                if inv.is_closed() {
                    return Ok(());
                }
                match tokio::time::timeout(LISTEN_PING, client.simple_query("select 1")).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return Err(e),
                    Err(_) => return Ok(()),
                }
            }
        }
    }
}

/// The server's message without its DETAIL (which may quote row values).
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({}): {}", db.severity(), db.code().code(), db.message()),
        None => e.to_string(),
    }
}

struct Guard<F: FnOnce()>(Option<F>);
impl<F: FnOnce()> Drop for Guard<F> {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}
fn scopeguard<F: FnOnce()>(f: F) -> Guard<F> {
    Guard(Some(f))
}
