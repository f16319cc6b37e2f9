//! The consent cache: a size-bounded moka cache in front of a backend.
//!
//! - Every answer is cached, "no records" too (a negative entry is just
//!   `SubjectState::default()`).
//! - Misses are single-flight: the subjects of concurrent lookups that are
//!   already being fetched wait for that fetch; the rest of a batch goes to
//!   the backend in one call. The fetch runs in its own task, so a request
//!   that goes away does not cancel it for the others.
//! - Backends push invalidations ([`Invalidator`]). An invalidation that
//!   arrives while its subject is being fetched marks the fetch dirty and
//!   the fetch is repeated, so a value read before a change never stays.
//! - An entry is fresh for `ttl`; after that (or after [`Invalidator::expire_all`])
//!   it is refetched, and while the backend cannot answer it may still be
//!   served up to `stale_serve` after it was fetched. With `stale_serve`
//!   at 0 a backend failure is an error: fail closed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture as SendBoxFuture, Shared};
use tokio::sync::oneshot;
use tokio::task::AbortHandle;

use super::{BoxFuture, ConsentError, ConsentSource, SubjectState};

/// How often a fetch is repeated because its subjects were invalidated
/// while it ran, before its answer is handed out uncached.
const MAX_DIRTY_RETRIES: u32 = 3;

/// A subject id as a cache key: up to 30 bytes inline, so that a hit
/// follows one pointer less (at a million entries each one is a cache
/// miss) and a key costs no allocation of its own; longer ids on the heap.
#[derive(Clone)]
enum Key {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

const INLINE: usize = 30;

impl Key {
    fn new(s: &str) -> Key {
        if s.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            Key::Inline {
                len: s.len() as u8,
                bytes,
            }
        } else {
            Key::Heap(s.into())
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => &bytes[..*len as usize],
            Key::Heap(s) => s.as_bytes(),
        }
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}
impl Eq for Key {}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write(self.as_bytes());
    }
}

/// A borrowed subject id to look a [`Key`] up with, without building one.
struct KeyRef<'a>(&'a str);

impl std::hash::Hash for KeyRef<'_> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write(self.0.as_bytes());
    }
}

impl moka::Equivalent<Key> for KeyRef<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        self.0.as_bytes() == key.as_bytes()
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    state: SubjectState,
    fetched: Instant,
    /// The expiry generation when the fetch started.
    generation: u64,
}

type FetchResult = Result<Arc<Vec<SubjectState>>, ConsentError>;
type Fetch = Shared<SendBoxFuture<'static, FetchResult>>;

struct Pending {
    fetch: Fetch,
    index: usize,
    dirty: bool,
    /// Which fetch registered this entry.
    id: u64,
}

/// Clears what a fetch task registered if the task dies without clearing
/// it (a panicking backend): its waiters then fail (`Unavailable`) and the
/// next lookup starts a new fetch instead of joining a dead one.
struct PendingGuard {
    inner: Arc<Inner>,
    subjects: Vec<String>,
    id: u64,
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        let mut pending = lock(&self.inner.pending);
        for s in &self.subjects {
            if pending.get(s.as_str()).is_some_and(|p| p.id == self.id) {
                pending.remove(s.as_str());
            }
        }
    }
}

/// Counters, read with [`ConsentCache::stats`].
#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    backend_calls: AtomicU64,
    backend_errors: AtomicU64,
    stale_served: AtomicU64,
    invalidations: AtomicU64,
}

/// A snapshot of the cache's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Subjects answered from a fresh entry.
    pub hits: u64,
    /// Subjects that needed the backend (or joined a fetch under way).
    pub misses: u64,
    /// Calls made to the backend (one per batch of misses).
    pub backend_calls: u64,
    /// Backend calls that failed or timed out.
    pub backend_errors: u64,
    /// Subjects answered from a stale entry because the backend failed.
    pub stale_served: u64,
    /// Invalidations received (per subject, or all).
    pub invalidations: u64,
    /// Entries in the cache (approximate, as moka counts).
    pub entries: u64,
}

/// Tuning of a [`ConsentCache`]; [`super::ConsentConfig`] gives these.
#[derive(Debug, Clone, Copy)]
pub struct CacheSettings {
    pub ttl: Duration,
    pub max_subjects: u64,
    pub stale_serve: Duration,
    /// The deadline of one backend call.
    pub timeout: Duration,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            ttl: Duration::from_secs(60),
            max_subjects: 1_000_000,
            stale_serve: Duration::ZERO,
            timeout: Duration::from_secs(1),
        }
    }
}

struct Inner {
    cache: moka::future::Cache<Key, Entry>,
    backend: Arc<dyn ConsentSource>,
    settings: CacheSettings,
    generation: AtomicU64,
    pending: Mutex<HashMap<Arc<str>, Pending>>,
    next_fetch: AtomicU64,
    counters: Counters,
    tasks: Mutex<Vec<AbortHandle>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let tasks = match self.tasks.get_mut() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        for t in tasks.drain(..) {
            t.abort();
        }
    }
}

/// The cached consent state. It is itself a [`ConsentSource`], so the proxy
/// holds one `Arc<dyn ConsentSource>` whatever the backend.
#[derive(Clone)]
pub struct ConsentCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ConsentCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsentCache")
            .field("settings", &self.inner.settings)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// A handle the backends use to push invalidations into the cache. It does
/// not keep the cache alive: once the cache is dropped, its calls do
/// nothing and [`Invalidator::is_closed`] is true.
#[derive(Clone)]
pub struct Invalidator {
    inner: Weak<Inner>,
}

impl Invalidator {
    /// The subject changed: forget its entry, stale copy included.
    pub async fn subject(&self, subject: &str) {
        if let Some(inner) = self.inner.upgrade() {
            inner.invalidate(subject).await;
        }
    }

    /// Changes may have been missed (a reconnect): every entry must be
    /// refetched before it is used again, but stays as a stale fallback.
    pub fn expire_all(&self) {
        if let Some(inner) = self.inner.upgrade() {
            inner.expire_all();
        }
    }

    /// Forget everything, stale copies included.
    pub fn all(&self) {
        if let Some(inner) = self.inner.upgrade() {
            inner.invalidate_all();
        }
    }

    /// The cache is gone; a watcher task holding this can stop.
    pub fn is_closed(&self) -> bool {
        self.inner.strong_count() == 0
    }
}

impl ConsentCache {
    pub fn new(backend: Arc<dyn ConsentSource>, settings: CacheSettings) -> ConsentCache {
        // moka keeps an entry as long as it may be served at all, fresh or
        // stale; freshness is checked on every read.
        let keep = settings.ttl.max(settings.stale_serve);
        // LRU rather than TinyLFU: a hit then costs no frequency-sketch
        // updates (cache misses at a million entries), and recency is
        // what consent traffic has.
        let cache = moka::future::Cache::builder()
            .max_capacity(settings.max_subjects)
            .eviction_policy(moka::policy::EvictionPolicy::lru())
            .time_to_live(keep)
            .build();
        ConsentCache {
            inner: Arc::new(Inner {
                cache,
                backend,
                settings,
                generation: AtomicU64::new(0),
                pending: Mutex::new(HashMap::new()),
                next_fetch: AtomicU64::new(0),
                counters: Counters::default(),
                tasks: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The handle a backend's watcher pushes invalidations through.
    pub fn invalidator(&self) -> Invalidator {
        Invalidator {
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// Ties a background task (a watcher, a listener) to the cache: it is
    /// aborted when the last clone of the cache is dropped.
    pub fn attach_task(&self, task: AbortHandle) {
        lock(&self.inner.tasks).push(task);
    }

    /// Forget one subject, stale copy included (the admin endpoint).
    pub async fn invalidate(&self, subject: &str) {
        self.inner.invalidate(subject).await;
    }

    /// Forget every subject, stale copies included (the admin endpoint).
    pub fn invalidate_all(&self) {
        self.inner.invalidate_all();
    }

    pub fn stats(&self) -> CacheStats {
        let c = &self.inner.counters;
        CacheStats {
            hits: c.hits.load(Relaxed),
            misses: c.misses.load(Relaxed),
            backend_calls: c.backend_calls.load(Relaxed),
            backend_errors: c.backend_errors.load(Relaxed),
            stale_served: c.stale_served.load(Relaxed),
            invalidations: c.invalidations.load(Relaxed),
            entries: self.inner.cache.entry_count(),
        }
    }

    /// Runs moka's pending maintenance (so that `stats().entries` is exact).
    pub async fn sync(&self) {
        self.inner.cache.run_pending_tasks().await;
    }

    /// The synchronous fast path: the subject's state if a fresh entry is
    /// at hand without waiting, `None` otherwise (then call `lookup`).
    pub fn try_cached(&self, subject: &str) -> Option<SubjectState> {
        let entry = self
            .inner
            .cache
            .get(&KeyRef(subject))
            .now_or_never()
            .flatten()?;
        if self.inner.fresh(&entry, Instant::now) {
            self.inner.counters.hits.fetch_add(1, Relaxed);
            Some(entry.state)
        } else {
            None
        }
    }

    /// Looks a batch of subjects up, in the order given.
    pub async fn get(&self, subjects: &[String]) -> Result<Vec<SubjectState>, ConsentError> {
        Inner::lookup(&self.inner, subjects).await
    }
}

impl ConsentSource for ConsentCache {
    fn lookup<'a>(
        &'a self,
        subjects: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<SubjectState>, ConsentError>> {
        Box::pin(Inner::lookup(&self.inner, subjects))
    }

    fn cached(&self, subject: &str) -> Option<SubjectState> {
        self.try_cached(subject)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded maps stay consistent across a panic (single inserts and
    // removes), so a poisoned lock is still usable.
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl Inner {
    fn fresh(&self, e: &Entry, now: impl FnOnce() -> Instant) -> bool {
        // Without a stale window moka's own TTL is the freshness bound, and
        // the clock need not be read on a hit.
        e.generation == self.generation.load(Relaxed)
            && (self.settings.stale_serve <= self.settings.ttl
                || now().saturating_duration_since(e.fetched) < self.settings.ttl)
    }

    fn servable_stale(&self, e: &Entry, now: Instant) -> bool {
        now.saturating_duration_since(e.fetched) <= self.settings.stale_serve
            && !self.settings.stale_serve.is_zero()
    }

    async fn invalidate(&self, subject: &str) {
        self.counters.invalidations.fetch_add(1, Relaxed);
        // Mark a fetch under way first, then drop the entry: whichever way
        // this interleaves with the fetch's insert, no old value stays.
        if let Some(p) = lock(&self.pending).get_mut(subject) {
            p.dirty = true;
        }
        self.cache.invalidate(&KeyRef(subject)).await;
    }

    fn expire_all(&self) {
        self.counters.invalidations.fetch_add(1, Relaxed);
        self.generation.fetch_add(1, Relaxed);
    }

    fn invalidate_all(&self) {
        self.counters.invalidations.fetch_add(1, Relaxed);
        self.generation.fetch_add(1, Relaxed);
        for p in lock(&self.pending).values_mut() {
            p.dirty = true;
        }
        self.cache.invalidate_all();
    }

    async fn lookup(
        self: &Arc<Self>,
        subjects: &[String],
    ) -> Result<Vec<SubjectState>, ConsentError> {
        // The clock is read once per batch, and only if needed.
        let mut now: Option<Instant> = None;
        let mut out = Vec::with_capacity(subjects.len());
        // (position in `subjects`, the entry to fall back on if the backend fails)
        let mut misses: Vec<(usize, Option<Entry>)> = Vec::new();
        for (i, s) in subjects.iter().enumerate() {
            match self.cache.get(&KeyRef(s)).await {
                Some(e) if self.fresh(&e, || *now.get_or_insert_with(Instant::now)) => {
                    out.push(e.state)
                }
                other => {
                    out.push(SubjectState::default());
                    let t = *now.get_or_insert_with(Instant::now);
                    misses.push((i, other.filter(|e| self.servable_stale(e, t))));
                }
            }
        }
        let hits = (subjects.len() - misses.len()) as u64;
        if hits > 0 {
            self.counters.hits.fetch_add(hits, Relaxed);
        }
        if misses.is_empty() {
            return Ok(out);
        }
        self.counters.misses.fetch_add(misses.len() as u64, Relaxed);

        let waits = self.join_or_fetch(subjects, &misses);
        for ((i, stale), (fetch, index)) in misses.into_iter().zip(waits) {
            match fetch.await {
                Ok(states) => match states.get(index) {
                    Some(s) => out[i] = *s,
                    None => return Err(ConsentError::Unavailable),
                },
                Err(e) => match stale {
                    Some(entry) if self.servable_stale(&entry, Instant::now()) => {
                        self.counters.stale_served.fetch_add(1, Relaxed);
                        out[i] = entry.state;
                    }
                    _ => return Err(e),
                },
            }
        }
        Ok(out)
    }

    /// For each miss: the fetch to wait for and the subject's index in it.
    /// Subjects already being fetched join that fetch; the others go to the
    /// backend together in one new fetch.
    fn join_or_fetch(
        self: &Arc<Self>,
        subjects: &[String],
        misses: &[(usize, Option<Entry>)],
    ) -> Vec<(Fetch, usize)> {
        let mut waits = Vec::with_capacity(misses.len());
        let mut lead: Vec<String> = Vec::new();
        let id = self.next_fetch.fetch_add(1, Relaxed);
        let (tx, rx) = oneshot::channel::<FetchResult>();
        let fetch: Fetch = rx
            .map(|r| r.unwrap_or(Err(ConsentError::Unavailable)))
            .boxed()
            .shared();
        {
            let mut pending = lock(&self.pending);
            for (i, _) in misses {
                let s = subjects[*i].as_str();
                if let Some(p) = pending.get(s) {
                    waits.push((p.fetch.clone(), p.index));
                } else {
                    let index = lead.len();
                    lead.push(s.to_owned());
                    pending.insert(
                        Arc::from(s),
                        Pending {
                            fetch: fetch.clone(),
                            index,
                            dirty: false,
                            id,
                        },
                    );
                    waits.push((fetch.clone(), index));
                }
            }
        }
        if !lead.is_empty() {
            let guard = PendingGuard {
                inner: Arc::clone(self),
                subjects: lead,
                id,
            };
            tokio::spawn(async move {
                let result = guard.inner.fetch(&guard.subjects).await;
                drop(guard);
                let _ = tx.send(result);
            });
        }
        waits
    }

    /// One backend call for `subjects`; caches the answers and clears the
    /// pending marks. Subjects invalidated while the call ran are fetched
    /// again (only those), so a value read before a change never stays.
    async fn fetch(&self, subjects: &[String]) -> FetchResult {
        let mut states = vec![SubjectState::default(); subjects.len()];
        let mut todo: Vec<usize> = (0..subjects.len()).collect();
        let mut attempt = 0;
        loop {
            let batch: Vec<String> = if todo.len() == subjects.len() {
                subjects.to_vec()
            } else {
                todo.iter().map(|&i| subjects[i].clone()).collect()
            };
            let generation = self.generation.load(Relaxed);
            self.counters.backend_calls.fetch_add(1, Relaxed);
            let answer = match tokio::time::timeout(
                self.settings.timeout,
                self.backend.lookup(&batch),
            )
            .await
            {
                Ok(Ok(got)) if got.len() == batch.len() => Ok(got),
                Ok(Ok(_)) => Err(ConsentError::Unavailable),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(ConsentError::Timeout),
            };
            let got = match answer {
                Ok(got) => got,
                Err(e) => {
                    self.counters.backend_errors.fetch_add(1, Relaxed);
                    let mut pending = lock(&self.pending);
                    for &i in &todo {
                        pending.remove(subjects[i].as_str());
                    }
                    return Err(e);
                }
            };
            let fetched = Instant::now();
            for (&i, state) in todo.iter().zip(&got) {
                states[i] = *state;
                let entry = Entry {
                    state: *state,
                    fetched,
                    generation,
                };
                self.cache.insert(Key::new(&subjects[i]), entry).await;
            }
            let retry = attempt < MAX_DIRTY_RETRIES;
            let mut dirty = Vec::new();
            {
                let mut pending = lock(&self.pending);
                for &i in &todo {
                    let s = subjects[i].as_str();
                    let is_dirty = pending.get(s).is_some_and(|p| p.dirty);
                    match pending.get_mut(s) {
                        Some(p) if is_dirty && retry => p.dirty = false,
                        _ => {
                            pending.remove(s);
                        }
                    }
                    if is_dirty {
                        dirty.push(i);
                    }
                }
            }
            // Changed while being read: drop what was just cached for them.
            for &i in &dirty {
                self.cache.invalidate(&KeyRef(&subjects[i])).await;
            }
            if dirty.is_empty() || !retry {
                // When still changing after the retries, this answer (current
                // when read) is handed out but nothing of it is kept.
                return Ok(Arc::new(states));
            }
            todo = dirty;
            attempt += 1;
        }
    }
}
