//! The PostgreSQL sink: the same hash chain, one row per record, batched
//! inserts, reconnect with backoff.
//!
//! A writer task takes everything queued (up to [`MAX_BATCH`]), encodes it
//! onto the chain and inserts it in one statement (`unnest` of arrays). If
//! an insert fails, the task reconnects and reads the chain's tail: when the
//! batch did commit before the connection broke, it is reported durable;
//! otherwise it is inserted again. Rows are append-only (a trigger refuses
//! UPDATE and DELETE); the table holds one chain per `chain` id, one id per
//! replica. The schema is `config/sql/audit.sql`.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_postgres::{Client, NoTls};

use super::chain::ChainState;
use super::queue::{Durable, Front, Shared};
use super::{AuditConfig, AuditError, AuditEvent, AuditSink, OpenError};
use crate::metrics::AuditMetrics;

/// The table definition, run (idempotently) on every connect.
pub const SCHEMA_SQL: &str = include_str!("../../config/sql/audit.sql");

/// Records inserted per statement at most.
pub const MAX_BATCH: usize = 2000;
/// Failed inserts in a row before the sink refuses new events.
pub const RETRIES: u32 = 3;
/// An insert that takes longer is abandoned and the connection replaced.
const INSERT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest pause between reconnect attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

const INSERT_SQL: &str = "INSERT INTO audit_events \
    (chain, seq, prev, hash, time, client, actor, purpose, route, decision, legal_override, subjects, line) \
    SELECT $1, u.seq, u.prev, u.hash, u.time, u.client, u.actor, u.purpose, u.route, u.decision, \
           u.legal, string_to_array(u.subjects, chr(31)), u.line \
    FROM unnest($2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[], \
                $8::text[], $9::text[], $10::text[], $11::bool[], $12::text[], $13::text[]) \
         AS u(seq, prev, hash, time, client, actor, purpose, route, decision, legal, subjects, line)";

/// See the module docs.
pub struct PostgresSink {
    front: Front,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for PostgresSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSink")
            .field("ready", &self.front.ready())
            .finish()
    }
}

impl PostgresSink {
    /// Starts the writer task; the sink is not ready until it has
    /// connected, created the schema and read the chain's tail.
    pub fn open(cfg: &AuditConfig, metrics: AuditMetrics) -> Result<PostgresSink, OpenError> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| OpenError::Config("the PostgreSQL sink needs a tokio runtime".into()))?;
        let dsn = cfg
            .dsn
            .clone()
            .ok_or_else(|| OpenError::Config("[audit] dsn is required".into()))?;
        let shared = Shared::new(false, 0, metrics);
        let (tx, rx) = mpsc::channel(cfg.queue_capacity);
        let writer = PgWriter {
            dsn,
            schema: cfg.schema.clone(),
            chain_id: cfg.chain.clone(),
            retry: Duration::from_millis(cfg.retry_ms),
            shared: shared.clone(),
        };
        let task = runtime.spawn(writer.run(rx));
        Ok(PostgresSink {
            front: Front {
                tx: Some(tx),
                shared,
            },
            task: Some(task),
        })
    }

    pub fn durable(&self) -> tokio::sync::watch::Receiver<Durable> {
        self.front.durable()
    }

    /// Waits until every event accepted before the call is durable.
    pub async fn flush(&self) {
        self.front.flush().await;
    }

    /// Stops accepting, writes what is queued and waits for the writer.
    /// Gives up on what is left if the database stays unreachable.
    pub async fn close(mut self) {
        self.front.close();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for PostgresSink {
    fn drop(&mut self) {
        // The task drains what is queued and ends by itself.
        self.front.close();
    }
}

impl AuditSink for PostgresSink {
    fn submit(&self, event: AuditEvent) -> Result<(), AuditError> {
        self.front.submit(event)
    }
    fn ready(&self) -> bool {
        self.front.ready()
    }
}

/// The application_name of the sink's connections (to find them in
/// `pg_stat_activity`).
pub fn application_name(chain_id: &str) -> String {
    let mut name = format!("zaslon-audit/{chain_id}");
    name.truncate(63);
    name
}

/// Connects, sets the search path to `schema` (creating it and the table
/// if absent).
pub async fn connect(dsn: &str, schema: &str, app: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::connect(dsn, NoTls).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let app = app.replace('\'', "");
    // `schema` is a checked identifier (config validation).
    client
        .batch_execute(&format!(
            "SET application_name = '{app}'; CREATE SCHEMA IF NOT EXISTS \"{schema}\"; \
             SET search_path TO \"{schema}\";"
        ))
        .await?;
    client.batch_execute(SCHEMA_SQL).await?;
    Ok(client)
}

/// The chain's tail in the table.
pub async fn chain_tail(
    client: &Client,
    chain_id: &str,
) -> Result<ChainState, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT seq, line FROM audit_events WHERE chain = $1 ORDER BY seq DESC LIMIT 1",
            &[&chain_id],
        )
        .await?;
    Ok(match row {
        Some(row) => {
            let seq: i64 = row.get(0);
            let line: String = row.get(1);
            ChainState::after(u64::try_from(seq).unwrap_or(0), line.as_bytes())
        }
        None => ChainState::default(),
    })
}

/// A batch encoded onto the chain, not yet known durable.
struct Batch {
    events: Vec<AuditEvent>,
    /// The chain before the batch.
    base: ChainState,
    seqs: Vec<i64>,
    prevs: Vec<String>,
    hashes: Vec<String>,
    lines: Vec<String>,
}

impl Batch {
    fn encode(events: Vec<AuditEvent>, chain: &mut ChainState) -> Batch {
        let base = chain.clone();
        let mut b = Batch {
            seqs: Vec::with_capacity(events.len()),
            prevs: Vec::with_capacity(events.len()),
            hashes: Vec::with_capacity(events.len()),
            lines: Vec::with_capacity(events.len()),
            events: Vec::new(),
            base,
        };
        let mut buf = Vec::with_capacity(512);
        for e in &events {
            buf.clear();
            b.prevs.push(chain.prev.clone());
            let seq = chain.append(e, &mut buf);
            buf.pop();
            b.seqs.push(i64::try_from(seq).unwrap_or(i64::MAX));
            b.hashes.push(chain.prev.clone());
            b.lines.push(String::from_utf8_lossy(&buf).into_owned());
        }
        b.events = events;
        b
    }

    fn len(&self) -> u64 {
        self.events.len() as u64
    }

    /// The chain after the batch.
    fn end(&self) -> ChainState {
        match self.hashes.last() {
            Some(hash) => ChainState {
                next_seq: self.base.next_seq + self.len(),
                prev: hash.clone(),
            },
            None => self.base.clone(),
        }
    }

    /// Inserts the batch in an explicit transaction: a bare `execute`
    /// returns at CommandComplete, before the implicit commit at Sync, so a
    /// connection killed in between would report rows that never committed.
    /// `COMMIT`'s reply comes only after the commit (and, with the default
    /// `synchronous_commit`, its WAL flush).
    async fn insert(
        &self,
        client: &mut Client,
        chain_id: &str,
    ) -> Result<(), tokio_postgres::Error> {
        let e = &self.events;
        let times: Vec<Option<OffsetDateTime>> = e
            .iter()
            .map(|e| {
                OffsetDateTime::parse(&e.time, &time::format_description::well_known::Rfc3339).ok()
            })
            .collect();
        let clients: Vec<&str> = e.iter().map(|e| e.client.as_str()).collect();
        let actors: Vec<Option<&str>> = e.iter().map(|e| e.actor.as_deref()).collect();
        let purposes: Vec<Option<&str>> = e.iter().map(|e| e.purpose.as_deref()).collect();
        let routes: Vec<Option<&str>> = e.iter().map(|e| e.route.as_deref()).collect();
        let decisions: Vec<&str> = e.iter().map(|e| e.decision.as_str()).collect();
        let legal: Vec<bool> = e.iter().map(|e| e.legal_override).collect();
        let subjects: Vec<String> = e.iter().map(|e| e.subjects.join("\u{1f}")).collect();
        let tx = client.transaction().await?;
        tx.execute(
            INSERT_SQL,
            &[
                &chain_id,
                &self.seqs,
                &self.prevs,
                &self.hashes,
                &times,
                &clients,
                &actors,
                &purposes,
                &routes,
                &decisions,
                &legal,
                &subjects,
                &self.lines,
            ],
        )
        .await?;
        tx.commit().await
    }
}

struct PgWriter {
    dsn: String,
    schema: String,
    chain_id: String,
    retry: Duration,
    shared: Arc<Shared>,
}

impl PgWriter {
    async fn run(self, mut rx: mpsc::Receiver<AuditEvent>) {
        let mut written: u64 = 0;
        let mut pending: Option<Batch> = None;
        let mut failures: u32 = 0;
        'connect: loop {
            let Some((mut client, mut chain)) = self.connect_with_backoff(&mut failures).await
            else {
                return;
            };
            // Settle the batch that was in flight when the connection broke.
            if let Some(b) = pending.take() {
                if chain == b.end() {
                    written += b.len();
                    self.shared.publish(written, chain.next_seq, b.len());
                } else if chain == b.base {
                    // Not committed: insert it again, and encode the next
                    // batch after it.
                    chain = b.end();
                    pending = Some(b);
                } else {
                    // The table moved under us (another writer on this
                    // chain id?): put the same events on the chain as it is.
                    pending = Some(Batch::encode(b.events, &mut chain));
                }
            }
            self.shared.set_healthy(true);
            loop {
                let batch = match pending.take() {
                    Some(b) => b,
                    None => {
                        let Some(first) = rx.recv().await else {
                            return;
                        };
                        let mut events = vec![first];
                        while events.len() < MAX_BATCH {
                            match rx.try_recv() {
                                Ok(e) => events.push(e),
                                Err(_) => break,
                            }
                        }
                        Batch::encode(events, &mut chain)
                    }
                };
                let started = std::time::Instant::now();
                let result =
                    tokio::time::timeout(INSERT_TIMEOUT, batch.insert(&mut client, &self.chain_id))
                        .await;
                if let Ok(Ok(())) = result {
                    self.shared
                        .metrics
                        .write_duration
                        .observe(started.elapsed().as_secs_f64());
                    failures = 0;
                    self.shared.set_healthy(true);
                    written += batch.len();
                    self.shared.publish(written, chain.next_seq, batch.len());
                    continue;
                }
                self.shared.metrics.write_errors.inc();
                failures += 1;
                if failures >= RETRIES {
                    self.shared.set_healthy(false);
                }
                pending = Some(batch);
                if self.shared.closing() && failures >= RETRIES {
                    return;
                }
                tokio::time::sleep(self.retry).await;
                // Whether the connection broke or the statement failed, a
                // fresh connection and a fresh look at the tail settle it.
                continue 'connect;
            }
        }
    }

    /// Connects and reads the tail, retrying with backoff. `None` when the
    /// sink is closing and the database stays unreachable.
    async fn connect_with_backoff(&self, failures: &mut u32) -> Option<(Client, ChainState)> {
        let mut backoff = self.retry;
        let app = application_name(&self.chain_id);
        loop {
            let attempt = async {
                let client = connect(&self.dsn, &self.schema, &app).await?;
                let tail = chain_tail(&client, &self.chain_id).await?;
                Ok::<_, tokio_postgres::Error>((client, tail))
            };
            match tokio::time::timeout(INSERT_TIMEOUT, attempt).await {
                Ok(Ok(found)) => return Some(found),
                _ => {
                    self.shared.metrics.write_errors.inc();
                    *failures += 1;
                    if *failures >= RETRIES {
                        self.shared.set_healthy(false);
                        if self.shared.closing() {
                            return None;
                        }
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF.max(self.retry));
                }
            }
        }
    }
}

/// Writes the chain `chain_id` from the table as JSON Lines, exactly as
/// hashed, so `verify` can check it.
pub async fn export(cfg: &AuditConfig, out: &mut impl std::io::Write) -> Result<u64, String> {
    let dsn = cfg.dsn.as_deref().ok_or("[audit] dsn is required")?;
    let client = connect(dsn, &cfg.schema, "zaslon-audit-export")
        .await
        .map_err(|e| format!("PostgreSQL: {e}"))?;
    let rows = client
        .query(
            "SELECT line FROM audit_events WHERE chain = $1 ORDER BY seq",
            &[&cfg.chain],
        )
        .await
        .map_err(|e| format!("PostgreSQL: {e}"))?;
    let mut n = 0;
    for row in rows {
        let line: String = row.get(0);
        out.write_all(line.as_bytes()).map_err(|e| e.to_string())?;
        out.write_all(b"\n").map_err(|e| e.to_string())?;
        n += 1;
    }
    Ok(n)
}
