//! The work queue: which keys to reconcile, when, and never two at once for one key.
//!
//! A key is in one of three places: **waiting** (with the time it is due), **running** (handed
//! out as a [`Lease`], not yet finished) or nowhere. [`WorkQueue::add`] of a waiting key only
//! moves its due time earlier, so a key is held once however many events arrive for it. A key
//! added while it runs is remembered and waits again once its lease is finished, so it is never
//! handed out twice at once. [`WorkQueue::next`] hands out the earliest due key while fewer than
//! [`QueueConfig::concurrency`] leases are out.
//!
//! Finishing a lease: [`Lease::done`] with an [`Action`] (requeue after a delay, or wait for a
//! change) forgets the key's failures; [`Lease::failed`] requeues it after its backoff
//! (`base * 2^failures` with jitter, client-go's 5 ms base and 1000 s cap by default).
//!
//! ```
//! # async fn run() {
//! use std::time::Duration;
//! use k8s_runtime::{Action, QueueConfig, WorkQueue};
//!
//! let queue = WorkQueue::<String>::new(QueueConfig::default().concurrency(4));
//! queue.add("default/web".to_string());
//! queue.add("default/web".to_string()); // still once
//! let lease = queue.next().await.unwrap();
//! assert_eq!(lease.key(), "default/web");
//! lease.done(Action::requeue(Duration::from_secs(300)));
//! queue.shutdown(Duration::from_secs(10)).await;
//! # }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::Backoff;

/// What to do with a key after a successful reconcile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Reconcile again after this delay (or sooner, when the key is added).
    RequeueAfter(Duration),
    /// Nothing until the key is added again (a change of the object).
    AwaitChange,
}

impl Action {
    /// [`Action::RequeueAfter`] `delay`.
    pub fn requeue(delay: Duration) -> Self {
        Action::RequeueAfter(delay)
    }

    /// [`Action::AwaitChange`].
    pub fn await_change() -> Self {
        Action::AwaitChange
    }
}

/// How a [`WorkQueue`] hands out keys.
///
/// ```
/// use std::time::Duration;
/// let c = k8s_runtime::QueueConfig::default().concurrency(8).backoff(Duration::from_millis(10), Duration::from_secs(60));
/// assert_eq!(c.concurrency, 8);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueConfig {
    /// The most leases out at once (at least 1; default 1, like client-go's one worker).
    pub concurrency: usize,
    /// Per-key retry backoff after failures (default: client-go's 5 ms base, 1000 s cap).
    pub backoff: Backoff,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            concurrency: 1,
            backoff: Backoff::new(Duration::from_millis(5), Duration::from_secs(1000)),
        }
    }
}

impl QueueConfig {
    /// Sets [`QueueConfig::concurrency`] (0 counts as 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Sets the per-key backoff: `base * 2^failures`, at most `max`.
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.backoff = Backoff::new(base, max);
        self
    }
}

/// How [`WorkQueue::shutdown`] ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Shutdown<K> {
    /// Every running reconcile finished.
    Drained,
    /// The grace period ended with these keys still running.
    TimedOut {
        /// The keys whose leases were still out.
        still_running: Vec<K>,
    },
}

struct State<K> {
    /// Waiting keys and when each is due (with its entry in `order`).
    waiting: HashMap<K, (Instant, u64)>,
    /// Waiting keys by due time, then by arrival.
    order: BTreeMap<(Instant, u64), K>,
    /// Keys handed out; `Some(t)` when added again while running, due at `t`.
    running: HashMap<K, Option<Instant>>,
    /// Consecutive failures per key.
    failures: HashMap<K, u32>,
    seq: u64,
    shutting_down: bool,
}

impl<K: Clone + Eq + Hash> State<K> {
    /// Makes `key` due at `at` at the latest (a running key: once its lease is finished).
    fn schedule(&mut self, key: K, at: Instant) {
        if let Some(pending) = self.running.get_mut(&key) {
            *pending = Some(pending.map_or(at, |p| p.min(at)));
            return;
        }
        if let Some(&(due, seq)) = self.waiting.get(&key) {
            if due <= at {
                return;
            }
            self.order.remove(&(due, seq));
        }
        self.seq += 1;
        self.waiting.insert(key.clone(), (at, self.seq));
        self.order.insert((at, self.seq), key);
    }
}

struct Shared<K> {
    config: QueueConfig,
    state: Mutex<State<K>>,
    /// Woken when a key is added, a lease finishes or the queue shuts down.
    changed: Notify,
}

impl<K> Shared<K> {
    fn lock(&self) -> MutexGuard<'_, State<K>> {
        // A panic while holding the lock leaves consistent maps (no update spans a panic point).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A queue of keys to reconcile: de-duplicating, delaying, never handing out a key twice at
/// once, with a concurrency limit and per-key backoff (see the [module docs](self)).
///
/// Cloning gives another handle to the same queue.
pub struct WorkQueue<K> {
    shared: Arc<Shared<K>>,
}

impl<K> Clone for WorkQueue<K> {
    fn clone(&self) -> Self {
        WorkQueue {
            shared: self.shared.clone(),
        }
    }
}

impl<K: fmt::Debug> fmt::Debug for WorkQueue<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.shared.lock();
        f.debug_struct("WorkQueue")
            .field("waiting", &s.waiting.len())
            .field("running", &s.running.len())
            .field("shutting_down", &s.shutting_down)
            .finish()
    }
}

impl<K: Clone + Eq + Hash + Send + 'static> WorkQueue<K> {
    /// An empty queue.
    pub fn new(config: QueueConfig) -> Self {
        WorkQueue {
            shared: Arc::new(Shared {
                config: config.concurrency(config.concurrency),
                state: Mutex::new(State {
                    waiting: HashMap::new(),
                    order: BTreeMap::new(),
                    running: HashMap::new(),
                    failures: HashMap::new(),
                    seq: 0,
                    shutting_down: false,
                }),
                changed: Notify::new(),
            }),
        }
    }

    /// Makes `key` due now. A key already waiting stays once; a running key is handed out again
    /// after its lease is finished.
    pub fn add(&self, key: K) {
        self.add_at(key, Instant::now());
    }

    /// Makes `key` due after `delay`, unless it is already due sooner.
    pub fn add_after(&self, key: K, delay: Duration) {
        self.add_at(key, Instant::now() + delay);
    }

    fn add_at(&self, key: K, at: Instant) {
        self.shared.lock().schedule(key, at);
        self.shared.changed.notify_waiters();
    }

    /// How many keys wait (due or not).
    pub fn len(&self) -> usize {
        self.shared.lock().waiting.len()
    }

    /// Whether no key waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many leases are out.
    pub fn running(&self) -> usize {
        self.shared.lock().running.len()
    }

    /// The next due key, once fewer than [`QueueConfig::concurrency`] leases are out; `None`
    /// once the queue shuts down.
    pub async fn next(&self) -> Option<Lease<K>> {
        loop {
            let changed = self.shared.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            let wake = {
                let mut s = self.shared.lock();
                if s.shutting_down {
                    return None;
                }
                let now = Instant::now();
                let first = s.order.first_key_value().map(|(&(due, seq), _)| (due, seq));
                match first {
                    _ if s.running.len() >= self.shared.config.concurrency => None,
                    Some((due, seq)) if due <= now => {
                        if let Some(key) = s.order.remove(&(due, seq)) {
                            s.waiting.remove(&key);
                            s.running.insert(key.clone(), None);
                            return Some(Lease {
                                key,
                                finished: false,
                                shared: self.shared.clone(),
                            });
                        }
                        None
                    }
                    Some((due, _)) => Some(due),
                    None => None,
                }
            };
            match wake {
                Some(due) => {
                    let _ = tokio::time::timeout_at(due, changed).await;
                }
                None => changed.await,
            }
        }
    }

    /// Stops handing out keys ([`next`](Self::next) returns `None`) and waits up to `grace` for
    /// the running reconciles to finish.
    pub async fn shutdown(&self, grace: Duration) -> Shutdown<K> {
        let deadline = Instant::now() + grace;
        self.shared.lock().shutting_down = true;
        self.shared.changed.notify_waiters();
        loop {
            let changed = self.shared.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            {
                let s = self.shared.lock();
                if s.running.is_empty() {
                    return Shutdown::Drained;
                }
                if Instant::now() >= deadline {
                    return Shutdown::TimedOut {
                        still_running: s.running.keys().cloned().collect(),
                    };
                }
            }
            let _ = tokio::time::timeout_at(deadline, changed).await;
        }
    }

    /// Hands out keys to `reconcile`, each in its own task, until the queue shuts down. A
    /// failure (logged with `tracing`) requeues the key with its backoff.
    ///
    /// ```
    /// # async fn run() {
    /// use std::time::Duration;
    /// use k8s_runtime::{Action, QueueConfig, WorkQueue};
    ///
    /// let queue = WorkQueue::<String>::new(QueueConfig::default().concurrency(2));
    /// let worker = tokio::spawn(queue.clone().run(|key: String| async move {
    ///     println!("reconciling {key}");
    ///     Ok::<_, std::io::Error>(Action::await_change())
    /// }));
    /// queue.add("a".to_string());
    /// queue.shutdown(Duration::from_secs(5)).await;
    /// let _ = worker.await;
    /// # }
    /// ```
    pub async fn run<F, Fut, E>(self, reconcile: F)
    where
        F: Fn(K) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Action, E>> + Send + 'static,
        E: fmt::Display + Send + 'static,
        K: fmt::Debug + Sync,
    {
        while let Some(lease) = self.next().await {
            let work = reconcile(lease.key().clone());
            tokio::spawn(async move {
                match work.await {
                    Ok(action) => lease.done(action),
                    Err(e) => {
                        let key = lease.key().clone();
                        let delay = lease.failed();
                        tracing::warn!(?key, error = %e, ?delay, "reconcile failed; requeued with backoff");
                    }
                }
            });
        }
    }
}

/// A key handed out by [`WorkQueue::next`]: while it exists, the key is not handed out again.
/// Finish it with [`done`](Lease::done) or [`failed`](Lease::failed); dropping it releases the
/// key without requeueing it (a key added meanwhile is still due).
pub struct Lease<K: Clone + Eq + Hash> {
    key: K,
    finished: bool,
    shared: Arc<Shared<K>>,
}

impl<K: Clone + Eq + Hash + fmt::Debug> fmt::Debug for Lease<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease").field("key", &self.key).finish()
    }
}

impl<K: Clone + Eq + Hash> Lease<K> {
    /// The key to reconcile.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// The reconcile succeeded: forget the key's failures and do what `action` says.
    pub fn done(mut self, action: Action) {
        let at = match action {
            Action::RequeueAfter(d) => Some(Instant::now() + d),
            Action::AwaitChange => None,
        };
        self.finish(Outcome::Success(at));
    }

    /// The reconcile failed: requeue the key after its backoff, which grows with each failure in
    /// a row. Returns that delay.
    pub fn failed(mut self) -> Duration {
        self.finish(Outcome::Failure)
    }

    fn finish(&mut self, outcome: Outcome) -> Duration {
        if self.finished {
            return Duration::ZERO;
        }
        self.finished = true;
        let key = self.key.clone();
        let mut s = self.shared.lock();
        let pending = s.running.remove(&key).flatten();
        let (at, delay) = match outcome {
            Outcome::Success(at) => {
                s.failures.remove(&key);
                (at, Duration::ZERO)
            }
            Outcome::Failure => {
                let n = s.failures.entry(key.clone()).or_insert(0);
                let delay = self.shared.config.backoff.delay(*n);
                *n = n.saturating_add(1);
                (Some(Instant::now() + delay), delay)
            }
            Outcome::Released => (None, Duration::ZERO),
        };
        let at = match (at, pending) {
            (Some(a), Some(p)) => Some(a.min(p)),
            (a, p) => a.or(p),
        };
        if let Some(at) = at {
            s.schedule(key, at);
        }
        drop(s);
        self.shared.changed.notify_waiters();
        delay
    }
}

impl<K: Clone + Eq + Hash> Drop for Lease<K> {
    fn drop(&mut self) {
        self.finish(Outcome::Released);
    }
}

enum Outcome {
    Success(Option<Instant>),
    Failure,
    Released,
}
