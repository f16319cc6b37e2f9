//! The front half every sink shares: a bounded queue, the health flag and
//! the durable-progress watch. `submit` never blocks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::{mpsc, watch};

use super::{AuditError, AuditEvent};
use crate::metrics::AuditMetrics;

/// Progress of a sink's writer, published after each durable commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Durable {
    /// Events accepted by this sink instance that are durable.
    pub events: u64,
    /// The chain's next seq: every record below it is durable.
    pub next_seq: u64,
}

/// State shared by the front and the writer.
pub(crate) struct Shared {
    pub healthy: AtomicBool,
    pub closing: AtomicBool,
    pub submitted: AtomicU64,
    pub durable: watch::Sender<Durable>,
    pub metrics: AuditMetrics,
}

impl Shared {
    pub fn new(healthy: bool, next_seq: u64, metrics: AuditMetrics) -> Arc<Shared> {
        let (durable, _) = watch::channel(Durable {
            events: 0,
            next_seq,
        });
        Arc::new(Shared {
            healthy: AtomicBool::new(healthy),
            closing: AtomicBool::new(false),
            submitted: AtomicU64::new(0),
            durable,
            metrics,
        })
    }

    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Release);
    }

    pub fn closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// After a durable commit: `events` durable in total, chain at `next_seq`.
    pub fn publish(&self, events: u64, next_seq: u64, batch: u64) {
        self.metrics.events_written.inc_by(batch);
        let submitted = self.submitted.load(Ordering::SeqCst);
        let depth = i64::try_from(submitted.saturating_sub(events)).unwrap_or(i64::MAX);
        self.metrics.queue_depth.set(depth);
        self.durable.send_replace(Durable { events, next_seq });
    }
}

/// The sink side of the queue.
pub(crate) struct Front {
    pub tx: Option<mpsc::Sender<AuditEvent>>,
    pub shared: Arc<Shared>,
}

impl Front {
    pub fn submit(&self, event: AuditEvent) -> Result<(), AuditError> {
        if !self.shared.healthy.load(Ordering::Acquire) {
            return Err(AuditError::SinkFailed);
        }
        let tx = self.tx.as_ref().ok_or(AuditError::SinkFailed)?;
        match tx.try_send(event) {
            Ok(()) => {
                self.shared.submitted.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(_)) => Err(AuditError::QueueFull),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(AuditError::SinkFailed),
        }
    }

    pub fn ready(&self) -> bool {
        self.shared.healthy.load(Ordering::Acquire)
            && self.tx.as_ref().is_some_and(|tx| tx.capacity() > 0)
    }

    pub fn durable(&self) -> watch::Receiver<Durable> {
        self.shared.durable.subscribe()
    }

    pub async fn flush(&self) {
        let target = self.shared.submitted.load(Ordering::SeqCst);
        let mut rx = self.durable();
        let _ = rx.wait_for(|d| d.events >= target).await;
    }

    /// Closes the queue: the writer drains what is left and stops.
    pub fn close(&mut self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        self.tx = None;
    }
}
