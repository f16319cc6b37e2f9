//! The file sink: hash-chained JSON Lines, group commit with fsync,
//! rotation by size and time.
//!
//! `submit` puts the event on a bounded queue and returns. One writer
//! thread takes everything queued, encodes it onto the chain, writes it in
//! one `write`, fsyncs, and only then publishes the new durable count. A
//! failed write is undone (the file is truncated back to its last durable
//! length) and retried with the same bytes; after [`RETRIES`] failures the
//! sink turns unhealthy and refuses new events until a retry succeeds.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::chain::{ChainState, RecordHead};
use super::queue::{Durable, Front, Shared};
use super::{AuditConfig, AuditError, AuditEvent, AuditSink, OpenError};
use crate::metrics::AuditMetrics;

/// Failed commits in a row before the sink refuses new events.
pub const RETRIES: u32 = 3;
/// Events written per group commit at most.
const MAX_BATCH: usize = 8192;
/// How far back from the end of a file the resume looks for the last line.
const TAIL_WINDOW: u64 = 1 << 20;

/// See the module docs.
pub struct FileSink {
    front: Front,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for FileSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSink")
            .field("ready", &self.front.ready())
            .field("durable", &*self.front.shared.durable.borrow())
            .finish()
    }
}

impl FileSink {
    /// Resumes the chain from the newest file next to `cfg.path` and starts
    /// the writer thread.
    pub fn open(cfg: &AuditConfig, metrics: AuditMetrics) -> Result<FileSink, OpenError> {
        let (dir, prefix) = split_path(&cfg.path);
        fs::create_dir_all(&dir).map_err(|source| OpenError::Dir {
            dir: dir.clone(),
            source,
        })?;
        let chain = resume(&dir, &prefix)?;
        let shared = Shared::new(true, chain.next_seq, metrics);
        let (tx, rx) = mpsc::channel(cfg.queue_capacity);
        let writer = Writer {
            dir,
            prefix,
            rotate_bytes: cfg.rotate_bytes,
            rotate_secs: Duration::from_secs(cfg.rotate_secs),
            retry: Duration::from_millis(cfg.retry_ms),
            pace: Duration::from_millis(cfg.group_commit_ms) / 4,
            file: None,
            file_len: 0,
            opened_at: Instant::now(),
            chain,
            shared: shared.clone(),
        };
        let handle = std::thread::Builder::new()
            .name("zaslon-audit".into())
            .spawn(move || writer.run(rx))
            .map_err(OpenError::Thread)?;
        Ok(FileSink {
            front: Front {
                tx: Some(tx),
                shared,
            },
            writer: Some(handle),
        })
    }

    /// Watches the durable progress.
    pub fn durable(&self) -> watch::Receiver<Durable> {
        self.front.durable()
    }

    /// Waits until every event accepted before the call is durable. Waits
    /// as long as the sink keeps failing: wrap it in a timeout.
    pub async fn flush(&self) {
        self.front.flush().await;
    }

    /// Stops accepting, writes what is queued (unless the disk keeps
    /// failing) and joins the writer.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.front.close();
        if let Some(h) = self.writer.take() {
            let _ = h.join();
        }
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl AuditSink for FileSink {
    fn submit(&self, event: AuditEvent) -> Result<(), AuditError> {
        self.front.submit(event)
    }

    fn ready(&self) -> bool {
        self.front.ready()
    }
}

struct Writer {
    dir: PathBuf,
    prefix: String,
    rotate_bytes: u64,
    rotate_secs: Duration,
    retry: Duration,
    /// Commits start at least this far apart (`group_commit_ms` / 4), so
    /// that under load events gather into fewer fsyncs and the request
    /// threads rarely have to wake the writer.
    pace: Duration,
    file: Option<File>,
    /// The file's durable length.
    file_len: u64,
    opened_at: Instant,
    chain: ChainState,
    shared: Arc<Shared>,
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<AuditEvent>) {
        let mut events = Vec::with_capacity(MAX_BATCH);
        let mut buf = Vec::with_capacity(1 << 20);
        let mut written: u64 = 0;
        let mut last_start: Option<Instant> = None;
        while let Some(first) = rx.blocking_recv() {
            // An idle sink commits at once; a busy one waits out the pace.
            if let Some(wait) = last_start.and_then(|t| self.pace.checked_sub(t.elapsed())) {
                if !self.shared.closing() {
                    std::thread::sleep(wait);
                }
            }
            last_start = Some(Instant::now());
            events.push(first);
            while events.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(e) => events.push(e),
                    Err(_) => break,
                }
            }
            buf.clear();
            let first_seq = self.chain.next_seq;
            for e in events.drain(..) {
                self.chain.append(&e, &mut buf);
            }
            let n = self.chain.next_seq - first_seq;
            if !self.commit_with_retry(&buf, first_seq) {
                // Closing while the disk fails: what is left cannot be
                // written; it was never reported durable.
                return;
            }
            written += n;
            self.shared.publish(written, self.chain.next_seq, n);
        }
    }

    /// Commits `buf`, retrying; false only when closing with a failing disk.
    fn commit_with_retry(&mut self, buf: &[u8], first_seq: u64) -> bool {
        let mut failures = 0;
        loop {
            let started = Instant::now();
            match self.commit(buf, first_seq) {
                Ok(()) => {
                    self.shared
                        .metrics
                        .write_duration
                        .observe(started.elapsed().as_secs_f64());
                    self.shared.set_healthy(true);
                    return true;
                }
                Err(_) => {
                    self.shared.metrics.write_errors.inc();
                    failures += 1;
                    if failures >= RETRIES {
                        self.shared.set_healthy(false);
                        if self.shared.closing() {
                            return false;
                        }
                    }
                    std::thread::sleep(self.retry);
                }
            }
        }
    }

    /// One group commit: rotate if due, write, fsync. On error the file is
    /// cut back to its durable length so a retry rewrites the same bytes.
    fn commit(&mut self, buf: &[u8], first_seq: u64) -> std::io::Result<()> {
        let due_size = self.rotate_bytes > 0
            && self.file_len > 0
            && self.file_len + buf.len() as u64 > self.rotate_bytes;
        let due_time = !self.rotate_secs.is_zero() && self.opened_at.elapsed() >= self.rotate_secs;
        if self.file.is_none() || due_size || due_time {
            self.rotate(first_seq)?;
        }
        let Some(file) = self.file.as_mut() else {
            return Err(std::io::Error::other("no audit file"));
        };
        let result = file.write_all(buf).and_then(|()| file.sync_data());
        match result {
            Ok(()) => {
                self.file_len += buf.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Undo a partial write. If even that fails, the next attempt
                // starts a new file; the torn tail is cut off on restart.
                let undone = file
                    .set_len(self.file_len)
                    .and_then(|()| file.metadata())
                    .is_ok_and(|m| m.len() == self.file_len);
                if !undone {
                    self.file = None;
                }
                Err(e)
            }
        }
    }

    fn rotate(&mut self, first_seq: u64) -> std::io::Result<()> {
        let name = file_name(&self.prefix, first_seq);
        let path = self.dir.join(name);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let len = file.metadata()?.len();
        // Make the new name durable before records in it are reported.
        File::open(&self.dir)?.sync_all()?;
        self.file = Some(file);
        self.file_len = len;
        self.opened_at = Instant::now();
        Ok(())
    }
}

/// `audit/zaslon.jsonl` -> (`audit`, `zaslon`).
pub fn split_path(path: &Path) -> (PathBuf, String) {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let prefix = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("zaslon")
        .to_owned();
    (dir, prefix)
}

fn file_name(prefix: &str, first_seq: u64) -> String {
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]");
    let stamp = time::OffsetDateTime::now_utc()
        .format(fmt)
        .unwrap_or_else(|_| "00000000T000000".to_owned());
    format!("{prefix}-{stamp}-{first_seq:020}.jsonl")
}

/// The chain files for `path` (as configured), oldest first: ordered by
/// the first seq in their name, then by time.
pub fn chain_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let (dir, prefix) = split_path(path);
    list_files(&dir, &prefix)
}

fn list_files(dir: &Path, prefix: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = name
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('-'))
            .and_then(|r| r.strip_suffix(".jsonl"))
        else {
            continue;
        };
        let Some((stamp, seq)) = rest.rsplit_once('-') else {
            continue;
        };
        let (Ok(seq), true) = (seq.parse::<u64>(), stamp.len() == 15) else {
            continue;
        };
        found.push((seq, stamp.to_owned(), entry.path()));
    }
    found.sort();
    Ok(found.into_iter().map(|(_, _, p)| p).collect())
}

/// Where the chain stands after the newest non-empty file; cuts off a torn
/// last line (a write that never reached fsync).
fn resume(dir: &Path, prefix: &str) -> Result<ChainState, OpenError> {
    let files = list_files(dir, prefix).map_err(|source| OpenError::Dir {
        dir: dir.to_path_buf(),
        source,
    })?;
    for path in files.iter().rev() {
        let err = |message: String| OpenError::Resume {
            file: path.clone(),
            message,
        };
        if let Some(state) = tail_state(path).map_err(|e| err(e.to_string()))? {
            return Ok(state);
        }
    }
    Ok(ChainState::default())
}

fn tail_state(path: &Path) -> std::io::Result<Option<ChainState>> {
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(TAIL_WINDOW);
    file.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)?;
    let Some(end) = tail.iter().rposition(|&b| b == b'\n') else {
        if start == 0 {
            cut(&file, 0, len)?;
            return Ok(None);
        }
        return Err(std::io::Error::other("last line longer than 1 MiB"));
    };
    cut(&file, start + end as u64 + 1, len)?;
    let line_start = match tail[..end].iter().rposition(|&b| b == b'\n') {
        Some(p) => p + 1,
        None if start == 0 => 0,
        None => return Err(std::io::Error::other("last line longer than 1 MiB")),
    };
    let line = &tail[line_start..end];
    let head: RecordHead = serde_json::from_slice(line)
        .map_err(|_| std::io::Error::other("the last line is not an audit record"))?;
    Ok(Some(ChainState::after(head.seq, line)))
}

/// Truncates a torn tail (bytes after the last newline).
fn cut(file: &File, keep: u64, len: u64) -> std::io::Result<()> {
    if keep < len {
        file.set_len(keep)?;
        file.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_first_seq_then_time() {
        let dir = tempfile::tempdir().unwrap();
        for n in [
            "z-20261125T070000-00000000000000000100.jsonl",
            "z-20261125T060000-00000000000000000000.jsonl",
            "z-20261125T080000-00000000000000000100.jsonl",
            "other-20261125T060000-00000000000000000000.jsonl",
            "z.jsonl",
        ] {
            fs::write(dir.path().join(n), b"").unwrap();
        }
        let files = chain_files(&dir.path().join("z.jsonl")).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            names,
            [
                "z-20261125T060000-00000000000000000000.jsonl",
                "z-20261125T070000-00000000000000000100.jsonl",
                "z-20261125T080000-00000000000000000100.jsonl",
            ]
        );
    }

    #[test]
    fn resume_cuts_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let mut st = ChainState::default();
        let mut out = Vec::new();
        for _ in 0..3 {
            st.append(&AuditEvent::default(), &mut out);
        }
        let good = out.len() as u64;
        out.extend_from_slice(b"{\"seq\":3,\"prev\":\"ab");
        let p = dir
            .path()
            .join("z-20261125T060000-00000000000000000000.jsonl");
        fs::write(&p, &out).unwrap();
        let resumed = resume(dir.path(), "z").unwrap();
        assert_eq!(resumed, st);
        assert_eq!(fs::metadata(&p).unwrap().len(), good);
    }
}
