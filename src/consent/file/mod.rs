//! The `file` backend: an append-only JSON Lines journal of consent events,
//! the latest event per (subject, purpose) and per subject state winning in
//! file order.
//!
//! ```json
//! {"subject": "10234", "purpose": "marketing", "granted": false, "at": "2026-11-01T10:00:00Z", "source": "app"}
//! {"subject": "10234", "state": "blocked", "at": "2026-11-02T09:30:00Z", "source": "written request"}
//! ```
//!
//! The journal is held in memory and re-read on change: a watcher polls the
//! file's size, mtime and inode, reads only the appended bytes when it grew,
//! and reloads it whole when it shrank or was replaced; the subjects that
//! changed are invalidated in the cache. A malformed line is skipped with a
//! warning naming its number (never its content). A journal that cannot be
//! read makes every lookup fail (`Unavailable`) until it can be read again.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use super::cache::Invalidator;
use super::{BoxFuture, ConsentError, ConsentSource, SubjectState};
use crate::class::Purpose;

/// A line longer than this is malformed (and skipped up to its newline).
const MAX_LINE: usize = 64 * 1024;

/// A full reload that changes more subjects than this invalidates the whole
/// cache instead of each subject.
const MAX_PRECISE_INVALIDATIONS: usize = 10_000;

/// What one poll of the journal found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    None,
    Subjects(Vec<String>),
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ident {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl Ident {
    fn of(meta: &std::fs::Metadata) -> Ident {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        Ident {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode,
        }
    }
}

/// The journal as read so far.
#[derive(Debug, Default)]
struct Journal {
    states: HashMap<String, SubjectState>,
    /// Bytes of the file consumed, the incomplete last line included.
    consumed: u64,
    /// Lines completed so far (for warnings).
    lines: u64,
    /// The bytes after the last newline: a line still being written.
    partial: Vec<u8>,
    /// Inside an over-long line: drop bytes up to the next newline.
    skipping: bool,
    ident: Option<Ident>,
    /// The last bytes consumed: an append must leave them in place, or the
    /// file was rewritten and is reloaded whole.
    tail: Vec<u8>,
}

/// How many consumed bytes are compared before an incremental read.
const TAIL: usize = 64;

/// The `file` consent backend.
#[derive(Debug)]
pub struct FileSource {
    path: PathBuf,
    journal: Mutex<Journal>,
    available: AtomicBool,
    malformed: AtomicU64,
}

impl FileSource {
    /// Reads the whole journal. A journal that cannot be read is an error
    /// here (create an empty file for "no events yet").
    pub fn open(path: &Path) -> io::Result<Arc<FileSource>> {
        let src = FileSource {
            path: path.to_owned(),
            journal: Mutex::new(Journal::default()),
            available: AtomicBool::new(false),
            malformed: AtomicU64::new(0),
        };
        src.reload()?;
        Ok(Arc::new(src))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Malformed lines skipped so far (counted again when the journal is
    /// reloaded whole).
    pub fn malformed_lines(&self) -> u64 {
        self.malformed.load(Relaxed)
    }

    /// Subjects with at least one event.
    pub fn subjects(&self) -> usize {
        self.lock().states.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Journal> {
        match self.journal.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Checks the file once and takes in what changed. Blocking: the
    /// watcher runs it on the blocking pool.
    pub fn poll_once(&self) -> Change {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) => return self.unreadable(&e),
        };
        let now = Ident::of(&meta);
        let (prev, consumed) = {
            let j = self.lock();
            (j.ident, j.consumed)
        };
        let was_available = self.available.load(Relaxed);
        let result = match prev {
            Some(p) if was_available && p.inode == now.inode && now.len > consumed => {
                self.read_appended(consumed)
            }
            Some(p) if was_available && p == now => return Change::None,
            // Same size and file but a new mtime: an in-place rewrite is
            // possible, so reload; a mere `touch` costs one reload.
            _ => self.reload(),
        };
        match result {
            Ok(change) => change,
            Err(e) => self.unreadable(&e),
        }
    }

    fn unreadable(&self, e: &io::Error) -> Change {
        if self.available.swap(false, Relaxed) {
            tracing::warn!(
                path = %self.path.display(),
                error = %e.kind(),
                "consent journal unreadable; consent lookups fail until it is back"
            );
        }
        Change::None
    }

    /// Reads the journal whole and swaps it in; the change is the subjects
    /// whose state differs from before.
    fn reload(&self) -> io::Result<Change> {
        let mut file = File::open(&self.path)?;
        let ident = Ident::of(&file.metadata()?);
        let mut bytes = Vec::with_capacity(ident.len as usize);
        file.read_to_end(&mut bytes)?;
        let mut fresh = Journal {
            ident: Some(ident),
            ..Journal::default()
        };
        self.feed(&mut fresh, &bytes, None);
        let mut j = self.lock();
        let old = std::mem::take(&mut j.states);
        *j = fresh;
        let mut changed: Vec<String> = Vec::new();
        for (s, st) in &j.states {
            if old.get(s) != Some(st) {
                changed.push(s.clone());
            }
        }
        for s in old.keys() {
            if !j.states.contains_key(s) {
                changed.push(s.clone());
            }
        }
        drop(j);
        self.available.store(true, Relaxed);
        Ok(if changed.len() > MAX_PRECISE_INVALIDATIONS {
            Change::All
        } else if changed.is_empty() {
            Change::None
        } else {
            Change::Subjects(changed)
        })
    }

    fn read_appended(&self, from: u64) -> io::Result<Change> {
        let tail = self.lock().tail.clone();
        let mut file = File::open(&self.path)?;
        let ident = Ident::of(&file.metadata()?);
        let start = from - tail.len() as u64;
        file.seek(SeekFrom::Start(start))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        if !bytes.starts_with(&tail) {
            // Rewritten in place rather than appended to: start over.
            return self.reload();
        }
        let appended = &bytes[tail.len()..];
        let mut touched = HashSet::new();
        let mut j = self.lock();
        if j.consumed != from {
            // Another poll got here first; the next poll sorts it out.
            return Ok(Change::None);
        }
        j.ident = Some(Ident {
            len: from + appended.len() as u64,
            ..ident
        });
        self.feed(&mut j, appended, Some(&mut touched));
        drop(j);
        Ok(if touched.is_empty() {
            Change::None
        } else {
            Change::Subjects(touched.into_iter().collect())
        })
    }

    /// Applies the complete lines of `bytes` (after what is held back from
    /// before) and holds back an incomplete last line.
    fn feed(&self, j: &mut Journal, bytes: &[u8], mut touched: Option<&mut HashSet<String>>) {
        j.consumed += bytes.len() as u64;
        let keep = TAIL.min(bytes.len());
        let drop_old = (j.tail.len() + keep).saturating_sub(TAIL);
        j.tail.drain(..drop_old);
        j.tail.extend_from_slice(&bytes[bytes.len() - keep..]);
        let mut rest = bytes;
        while let Some(nl) = memchr::memchr(b'\n', rest) {
            let (line, tail) = rest.split_at(nl);
            rest = &tail[1..];
            j.lines += 1;
            if j.skipping {
                j.skipping = false;
                j.partial.clear();
                continue;
            }
            let event = if j.partial.is_empty() {
                parse_line(line)
            } else {
                j.partial.extend_from_slice(line);
                let whole = std::mem::take(&mut j.partial);
                parse_line(&whole)
            };
            match event {
                Ok(Some(ev)) => {
                    let state = j.states.entry(ev.subject.clone()).or_default();
                    ev.apply(state);
                    if let Some(t) = touched.as_deref_mut() {
                        t.insert(ev.subject);
                    }
                }
                Ok(None) => {}
                Err(reason) => self.malformed_line(j.lines, reason),
            }
        }
        if !j.skipping {
            j.partial.extend_from_slice(rest);
            if j.partial.len() > MAX_LINE {
                j.partial.clear();
                j.skipping = true;
                self.malformed_line(j.lines + 1, "line too long");
            }
        }
    }

    fn malformed_line(&self, line: u64, reason: &'static str) {
        self.malformed.fetch_add(1, Relaxed);
        // The line's content may be personal data: only its number is logged.
        tracing::warn!(path = %self.path.display(), line, reason, "consent journal: skipping a malformed line");
    }

    /// Polls the journal every `every` and invalidates what changed, until
    /// the cache is dropped.
    pub fn watch(
        self: &Arc<Self>,
        invalidator: Invalidator,
        every: Duration,
    ) -> tokio::task::JoinHandle<()> {
        let src = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if invalidator.is_closed() {
                    return;
                }
                let s = Arc::clone(&src);
                let change = match tokio::task::spawn_blocking(move || s.poll_once()).await {
                    Ok(c) => c,
                    Err(_) => continue,
                };
                match change {
                    Change::None => {}
                    Change::All => invalidator.all(),
                    Change::Subjects(subjects) => {
                        for s in &subjects {
                            invalidator.subject(s).await;
                        }
                    }
                }
            }
        })
    }
}

impl ConsentSource for FileSource {
    fn lookup<'a>(
        &'a self,
        subjects: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<SubjectState>, ConsentError>> {
        Box::pin(async move {
            if !self.available.load(Relaxed) {
                return Err(ConsentError::Unavailable);
            }
            let j = self.lock();
            Ok(subjects
                .iter()
                .map(|s| j.states.get(s).copied().unwrap_or_default())
                .collect())
        })
    }
}

/// A journal line (with its newline) recording a grant or a withdrawal;
/// `at` is an RFC 3339 time.
pub fn consent_line(
    subject: &str,
    purpose: Purpose,
    granted: bool,
    at: &str,
    source: &str,
) -> String {
    let mut line = serde_json::json!({
        "subject": subject, "purpose": purpose.as_str(), "granted": granted, "at": at, "source": source,
    })
    .to_string();
    line.push('\n');
    line
}

/// A journal line (with its newline) blocking or unblocking a subject.
pub fn state_line(subject: &str, blocked: bool, at: &str, source: &str) -> String {
    let state = if blocked { "blocked" } else { "active" };
    let mut line =
        serde_json::json!({ "subject": subject, "state": state, "at": at, "source": source })
            .to_string();
    line.push('\n');
    line
}

/// One journal line as written.
#[derive(Deserialize)]
struct RawEvent {
    subject: Option<serde_json::Value>,
    purpose: Option<String>,
    granted: Option<bool>,
    state: Option<String>,
    at: Option<String>,
    #[allow(dead_code)]
    source: Option<String>,
}

enum Kind {
    Purpose(Purpose, bool),
    Blocked(bool),
}

struct Event {
    subject: String,
    kind: Kind,
}

impl Event {
    fn apply(&self, s: &mut SubjectState) {
        match self.kind {
            Kind::Purpose(p, granted) => s.purposes[p.index()] = Some(granted),
            Kind::Blocked(b) => s.blocked = b,
        }
    }
}

/// `Ok(None)` for a blank line; the error is a reason without content.
fn parse_line(line: &[u8]) -> Result<Option<Event>, &'static str> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let raw: RawEvent =
        serde_json::from_slice(line).map_err(|_| "not a JSON object of the journal's shape")?;
    let subject = match raw.subject {
        Some(serde_json::Value::String(s)) if !s.is_empty() => s,
        Some(serde_json::Value::Number(n)) if n.is_u64() => n.to_string(),
        _ => return Err("missing or empty `subject`"),
    };
    if raw.at.as_deref().is_none_or(str::is_empty) {
        return Err("missing `at`");
    }
    let kind = match (raw.purpose, raw.granted, raw.state) {
        (Some(p), Some(g), None) => Kind::Purpose(p.parse().map_err(|_| "unknown `purpose`")?, g),
        (None, None, Some(st)) => match st.as_str() {
            "blocked" => Kind::Blocked(true),
            "active" => Kind::Blocked(false),
            _ => return Err("`state` is neither \"blocked\" nor \"active\""),
        },
        _ => return Err("needs either `purpose` and `granted`, or `state`"),
    };
    Ok(Some(Event { subject, kind }))
}

#[cfg(test)]
mod tests;
