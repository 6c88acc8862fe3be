//! A controller: watches that feed a [`WorkQueue`], and a reconcile function run on each key.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use futures::StreamExt;
//! use k8s_runtime::{Action, Controller, watcher};
//! # async fn run<Widget, ConfigMap>(client: k8s_client::Client, stop: tokio::sync::oneshot::Receiver<()>)
//! # where Widget: k8s_core::Object + serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
//! #       ConfigMap: k8s_core::Object + serde::de::DeserializeOwned + Clone + Send + Sync + 'static {
//! struct Ctx { client: k8s_client::Client }
//!
//! async fn reconcile<W: k8s_core::Object>(w: Arc<W>, ctx: Arc<Ctx>) -> Result<Action, k8s_client::Error> {
//!     // … make the world look like `w` says …
//!     Ok(Action::requeue(Duration::from_secs(300)))
//! }
//!
//! let ctx = Arc::new(Ctx { client: client.clone() });
//! Controller::<Widget>::namespaced(client, "default", watcher::Config::default())
//!     .owns::<ConfigMap>(watcher::Config::default())
//!     .with_predicate(k8s_runtime::predicates::generation)
//!     .shutdown_on(async { let _ = stop.await; }) // or tokio::signal::ctrl_c()
//!     .run(reconcile, |_w, _err, _ctx| None, ctx)
//!     .for_each(|result| async move {
//!         if let Err(e) = result { eprintln!("{e}") }
//!     })
//!     .await;
//! # }
//! ```
//!
//! How it works:
//! * **Triggers.** The main kind's watcher fills a [`Store`] and queues the key ([`ObjectRef`]) of
//!   every object it sees (after the first initial state is complete, so that the reconcile
//!   finds the object in the store). [`Controller::owns`] queues the *controller* owner of every
//!   object of another kind that changes or goes; [`Controller::watches`] queues what a mapping
//!   function returns for a changed object of any kind. Deleting a main object queues nothing
//!   (use a [finalizer](crate::finalizer()) to act on deletion).
//! * **Predicates** ([`Controller::with_predicate`], [`predicates`]) drop events of the main kind
//!   that change nothing the controller cares about: an object is queued when it is new to the
//!   controller or when any predicate's value changed (or is `None`).
//! * **Scheduling** is the [`WorkQueue`]'s: a key is held once however many events arrive while
//!   it waits, never reconciled twice at once, at most [`Config::concurrency`] reconciles run at
//!   once, and failures are retried with per-key exponential backoff.
//! * **The reconcile** gets the object from the store (a key whose object is gone is dropped)
//!   and a shared context; its [`Action`] says when to reconcile again. On an error the
//!   `error_policy` decides: `None` retries with the key's backoff, `Some(action)` does `action`.
//! * **Shutdown** ([`Controller::shutdown_on`], or dropping the result stream): the watches stop,
//!   no new reconcile starts, running ones get [`Config::grace`] to finish (then are aborted), and
//!   the result stream ends.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{BoxStream, SelectAll};
use futures::{Stream, StreamExt};
use k8s_client::Client;
use k8s_core::{Object, Resource, Scope};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::queue::Shutdown;
use crate::store::{Store, Writer};
use crate::watcher::{self, Event};
use crate::{
    Action, Backoff, ObjectRef, QueueConfig, WorkQueue, collection_path, shared_reflector,
};

/// How a [`Controller`] schedules reconciles.
///
/// ```
/// use std::time::Duration;
/// let c = k8s_runtime::controller::Config::default().concurrency(8).grace(Duration::from_secs(5));
/// assert_eq!(c.concurrency, 8);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The most reconciles at once (default 1, like controller-runtime's).
    pub concurrency: usize,
    /// Per-key retry backoff after failures (default: client-go's 5 ms base, 1000 s cap).
    pub backoff: Backoff,
    /// How long running reconciles may take to finish at shutdown (default 30 s).
    pub grace: Duration,
}

impl Default for Config {
    fn default() -> Self {
        let queue = QueueConfig::default();
        Config {
            concurrency: queue.concurrency,
            backoff: queue.backoff,
            grace: Duration::from_secs(30),
        }
    }
}

impl Config {
    /// Sets [`Config::concurrency`] (0 counts as 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Sets the per-key backoff: `base * 2^failures`, at most `max`.
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.backoff = Backoff::new(base, max);
        self
    }

    /// Sets [`Config::grace`].
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }
}

/// What went wrong in a [`Controller`]; it goes on after each.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error<E: std::error::Error + 'static> {
    /// The reconcile of `object` failed (the `error_policy` said what happens next).
    #[error("reconciling {object} failed: {source}")]
    Reconcile {
        /// The object.
        object: ObjectRef,
        /// The reconcile's error.
        #[source]
        source: E,
    },
    /// A watch of the controller (`kind` names which) failed; it goes on by itself.
    #[error("watching {kind} failed: {source}")]
    Watch {
        /// The kind watched.
        kind: &'static str,
        /// The watcher's error.
        #[source]
        source: watcher::Error,
    },
}

/// A predicate: a value of an object; the object is reconciled when it changes.
type Predicate<K> = Box<dyn Fn(&K) -> Option<u64> + Send + Sync>;

/// What the watches of a controller yield.
enum Trigger<K> {
    /// An event of the main kind (its object shared with the store).
    Main(Event<Arc<K>>),
    /// Keys to queue (from owned or watched kinds).
    Refs(Vec<ObjectRef>),
    /// A watch error.
    Error(&'static str, watcher::Error),
}

type Triggers<K> = BoxStream<'static, Trigger<K>>;

/// A controller of kind `K` (see the [module docs](self)): build it, then [`run`](Self::run) it.
pub struct Controller<K> {
    client: Client,
    namespace: Option<String>,
    store: Store<K>,
    triggers: SelectAll<Triggers<K>>,
    predicates: Vec<Predicate<K>>,
    config: Config,
    shutdown: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl<K> fmt::Debug for Controller<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Controller")
            .field("namespace", &self.namespace)
            .field("watches", &self.triggers.len())
            .field("predicates", &self.predicates.len())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<K> Controller<K>
where
    K: Object + DeserializeOwned + Clone + Send + Sync + 'static,
{
    /// A controller of the objects of kind `K` in every namespace (selected by `config`).
    pub fn new(client: Client, config: watcher::Config) -> Self {
        Self::build(client, None, config)
    }

    /// A controller of the objects of kind `K` in `namespace`; the watches of
    /// [`owns`](Self::owns) and [`watches`](Self::watches) are limited to it as well.
    pub fn namespaced(client: Client, namespace: &str, config: watcher::Config) -> Self {
        Self::build(client, Some(namespace.to_owned()), config)
    }

    fn build(client: Client, namespace: Option<String>, config: watcher::Config) -> Self {
        let writer = Writer::<K>::new();
        let store = writer.store();
        let events = watcher::watcher::<K>(
            client.clone(),
            collection_path::<K>(namespace.as_deref()),
            config,
        );
        let main = shared_reflector(writer, events).map(|item| match item {
            Ok(e) => Trigger::Main(e),
            Err(e) => Trigger::Error(K::KIND, e),
        });
        let mut triggers = SelectAll::new();
        triggers.push(main.boxed());
        Controller {
            client,
            namespace,
            store,
            triggers,
            predicates: Vec::new(),
            config: Config::default(),
            shutdown: None,
        }
    }

    /// The cache of the main kind that the reconciles read from.
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    /// Adds the index `name` to the [store](Self::store) (see
    /// [`Writer::index`](crate::store::Writer::index)), for reconciles that look objects up by
    /// owner, label or any other key.
    pub fn index(
        self,
        name: &str,
        keys: impl Fn(&K) -> Vec<String> + Send + Sync + 'static,
    ) -> Self {
        self.store.add_index(name, Arc::new(keys));
        self
    }

    /// Reconciles the controller owner (an owner reference of kind `K` with `controller: true`)
    /// of every object of kind `C` that is created, changes or is deleted.
    pub fn owns<C>(self, config: watcher::Config) -> Self
    where
        C: Object + DeserializeOwned + Clone + Send + 'static,
    {
        self.watches::<C, _, _>(config, owners::<K, C>)
    }

    /// Reconciles the objects that `mapper` names for every object of kind `W` that is
    /// created, changes or is deleted.
    pub fn watches<W, I, F>(mut self, config: watcher::Config, mapper: F) -> Self
    where
        W: Object + DeserializeOwned + Clone + Send + 'static,
        I: IntoIterator<Item = ObjectRef>,
        F: Fn(&W) -> I + Send + 'static,
    {
        let path = collection_path::<W>(self.namespace.as_deref());
        let events = watcher::watcher::<W>(self.client.clone(), path, config);
        let refs = events.map(move |item| match item {
            Ok(Event::InitApply(o) | Event::Apply(o) | Event::Delete(o)) => {
                Trigger::Refs(mapper(&o).into_iter().collect())
            }
            Ok(_) => Trigger::Refs(Vec::new()),
            Err(e) => Trigger::Error(W::KIND, e),
        });
        self.triggers.push(refs.boxed());
        self
    }

    /// Queues an object of the main kind only when it is new to the controller or when
    /// `predicate`'s value for it changed (see [`predicates`]). With several predicates, a
    /// change of any of them queues the object.
    pub fn with_predicate(
        mut self,
        predicate: impl Fn(&K) -> Option<u64> + Send + Sync + 'static,
    ) -> Self {
        self.predicates.push(Box::new(predicate));
        self
    }

    /// Sets how reconciles are scheduled.
    pub fn with_config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Shuts the controller down gracefully when `signal` completes.
    pub fn shutdown_on(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Self {
        self.shutdown = Some(Box::pin(signal));
        self
    }

    /// Starts the controller (on the current tokio runtime) and returns the stream of its
    /// results: each reconcile's key and [`Action`], each reconcile and watch error. The stream
    /// ends after a graceful shutdown; dropping it shuts the controller down.
    ///
    /// `reconcile(object, ctx)` is run for each key taken from the queue whose object is in
    /// the store. When it fails, `error_policy(object, &error, ctx)` says what next: `None`
    /// retries with the key's exponential backoff, `Some(action)` does `action`.
    pub fn run<R, Fut, E, P, Ctx>(
        self,
        reconcile: R,
        error_policy: P,
        ctx: Arc<Ctx>,
    ) -> impl Stream<Item = Result<(ObjectRef, Action), Error<E>>> + Send + 'static
    where
        R: Fn(Arc<K>, Arc<Ctx>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Action, E>> + Send + 'static,
        E: std::error::Error + Send + 'static,
        P: Fn(Arc<K>, &E, Arc<Ctx>) -> Option<Action> + Send + Sync + 'static,
        Ctx: Send + Sync + 'static,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        let queue = WorkQueue::new(
            QueueConfig::default()
                .concurrency(self.config.concurrency)
                .backoff(self.config.backoff.base, self.config.backoff.max),
        );
        let run = Run {
            queue,
            store: self.store,
            reconcile: Arc::new(reconcile),
            error_policy: Arc::new(error_policy),
            ctx,
            tx,
        };
        tokio::spawn(run.run(
            self.triggers,
            self.predicates,
            self.shutdown,
            self.config.grace,
        ));
        futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })
    }
}

/// The controller owners of `child` of kind `K`.
fn owners<K: Resource, C: Object>(child: &C) -> Vec<ObjectRef> {
    let namespace = match K::SCOPE {
        Scope::Namespaced => child.namespace(),
        Scope::Cluster => None,
    };
    child
        .owner_references()
        .iter()
        .filter(|o| {
            let group = o.api_version.rsplit_once('/').map_or("", |(g, _)| g);
            o.controller == Some(true) && o.kind == K::KIND && group == K::GROUP
        })
        .map(|o| ObjectRef::new::<K>(namespace, &o.name))
        .collect()
}

type Sender<E> = mpsc::UnboundedSender<Result<(ObjectRef, Action), Error<E>>>;

/// A running controller.
struct Run<K, R, P, Ctx, E: std::error::Error + 'static> {
    queue: WorkQueue<ObjectRef>,
    store: Store<K>,
    reconcile: Arc<R>,
    error_policy: Arc<P>,
    ctx: Arc<Ctx>,
    tx: Sender<E>,
}

impl<K, R, Fut, E, P, Ctx> Run<K, R, P, Ctx, E>
where
    K: Object + Send + Sync + 'static,
    R: Fn(Arc<K>, Arc<Ctx>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Action, E>> + Send + 'static,
    E: std::error::Error + Send + 'static,
    P: Fn(Arc<K>, &E, Arc<Ctx>) -> Option<Action> + Send + Sync + 'static,
    Ctx: Send + Sync + 'static,
{
    async fn run(
        self,
        triggers: SelectAll<Triggers<K>>,
        predicates: Vec<Predicate<K>>,
        shutdown: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
        grace: Duration,
    ) {
        let feeder = tokio::spawn(feed(
            self.queue.clone(),
            triggers,
            predicates,
            self.tx.clone(),
        ));
        let queue = self.queue.clone();
        let tx = self.tx.clone();
        let workers = tokio::spawn(self.work());
        let signal = async move {
            match shutdown {
                Some(s) => s.await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = signal => tracing::info!("controller shutting down"),
            () = tx.closed() => tracing::debug!("controller results dropped; shutting down"),
        }
        drop(tx);
        feeder.abort();
        let outcome = queue.shutdown(grace).await;
        let Ok(mut tasks) = workers.await else {
            return;
        };
        if let Shutdown::TimedOut { still_running } = outcome {
            tracing::warn!(
                ?still_running,
                "reconciles still running after the grace period; aborting them"
            );
            tasks.abort_all();
        }
        while let Some(done) = tasks.join_next().await {
            log_panic(done);
        }
    }

    /// Hands out keys until the queue shuts down; returns the reconciles still running.
    async fn work(self) -> JoinSet<()> {
        let mut tasks = JoinSet::new();
        while let Some(lease) = self.queue.next().await {
            while let Some(done) = tasks.try_join_next() {
                log_panic(done);
            }
            let key = lease.key().clone();
            let Some(object) = self.store.get(key.namespace.as_deref(), &key.name) else {
                tracing::debug!(%key, "object gone; not reconciled");
                lease.done(Action::AwaitChange);
                continue;
            };
            let reconcile = self.reconcile.clone();
            let error_policy = self.error_policy.clone();
            let ctx = self.ctx.clone();
            let tx = self.tx.clone();
            tasks.spawn(async move {
                let result = reconcile(object.clone(), ctx.clone()).await;
                let item = match result {
                    Ok(action) => {
                        lease.done(action);
                        Ok((key, action))
                    }
                    Err(e) => {
                        match error_policy(object, &e, ctx) {
                            Some(action) => lease.done(action),
                            None => {
                                let delay = lease.failed();
                                tracing::debug!(%key, ?delay, "reconcile failed; retried after a backoff");
                            }
                        }
                        Err(Error::Reconcile {
                            object: key,
                            source: e,
                        })
                    }
                };
                let _ = tx.send(item);
            });
        }
        tasks
    }
}

fn log_panic(done: Result<(), tokio::task::JoinError>) {
    match done {
        Err(e) if e.is_panic() => tracing::error!("a reconcile panicked: {e}"),
        _ => {}
    }
}

/// Feeds the queue from the watches (until aborted).
async fn feed<K: Object, E: std::error::Error + Send + 'static>(
    queue: WorkQueue<ObjectRef>,
    mut triggers: SelectAll<Triggers<K>>,
    predicates: Vec<Predicate<K>>,
    tx: Sender<E>,
) {
    let mut filter = Filter {
        predicates,
        seen: HashMap::new(),
        initial: None,
    };
    while let Some(trigger) = triggers.next().await {
        match trigger {
            Trigger::Main(event) => {
                for key in filter.event(event) {
                    queue.add(key);
                }
            }
            Trigger::Refs(keys) => keys.into_iter().for_each(|k| queue.add(k)),
            Trigger::Error(kind, source) => {
                tracing::warn!(kind, error = %source, "watch error");
                let _ = tx.send(Err(Error::Watch { kind, source }));
            }
        }
    }
}

/// Which events of the main kind queue their object.
struct Filter<K> {
    predicates: Vec<Predicate<K>>,
    /// Each known object's predicate values.
    seen: HashMap<ObjectRef, Vec<Option<u64>>>,
    /// Keys of the initial state being read, and which of them to queue.
    initial: Option<(HashSet<ObjectRef>, Vec<ObjectRef>)>,
}

impl<K: Object> Filter<K> {
    /// The keys to queue for `event`.
    fn event(&mut self, event: Event<Arc<K>>) -> Vec<ObjectRef> {
        match event {
            Event::Init => {
                self.initial = Some((HashSet::new(), Vec::new()));
                Vec::new()
            }
            Event::InitApply(o) => {
                let Some(key) = ObjectRef::from_obj(&*o) else {
                    return Vec::new();
                };
                let changed = self.changed(&key, &o);
                let (present, queue) = self.initial.get_or_insert_with(Default::default);
                present.insert(key.clone());
                if changed {
                    queue.push(key);
                }
                Vec::new()
            }
            Event::InitDone => {
                let (present, queue) = self.initial.take().unwrap_or_default();
                self.seen.retain(|k, _| present.contains(k));
                queue
            }
            Event::Apply(o) => match ObjectRef::from_obj(&*o) {
                Some(key) if self.changed(&key, &o) => vec![key],
                _ => Vec::new(),
            },
            Event::Delete(o) => {
                if let Some(key) = ObjectRef::from_obj(&*o) {
                    self.seen.remove(&key);
                }
                Vec::new()
            }
        }
    }

    /// Records the predicate values of `o`; whether it is to be queued.
    fn changed(&mut self, key: &ObjectRef, o: &K) -> bool {
        if self.predicates.is_empty() {
            return true;
        }
        let values: Vec<Option<u64>> = self.predicates.iter().map(|p| p(o)).collect();
        let changed = match self.seen.get(key) {
            Some(old) => old
                .iter()
                .zip(&values)
                .any(|(a, b)| a.is_none() || b.is_none() || a != b),
            None => true,
        };
        self.seen.insert(key.clone(), values);
        changed
    }
}

/// Predicates for [`Controller::with_predicate`]: a value of an object, so that the controller
/// reconciles it only when that value changes.
pub mod predicates {
    use std::hash::{DefaultHasher, Hash, Hasher};

    use k8s_core::Object;

    fn hash<T: Hash>(value: T) -> u64 {
        let mut h = DefaultHasher::new();
        value.hash(&mut h);
        h.finish()
    }

    /// `metadata.generation`: changes of the spec (and the start of a deletion, which the API
    /// server marks with a new generation); `None` (always reconciled) for kinds without one.
    pub fn generation<K: Object>(o: &K) -> Option<u64> {
        o.generation().map(hash)
    }

    /// `metadata.resourceVersion`: any change at all.
    pub fn resource_version<K: Object>(o: &K) -> Option<u64> {
        o.resource_version().map(hash)
    }

    /// `metadata.labels`.
    pub fn labels<K: Object>(o: &K) -> Option<u64> {
        Some(hash(o.labels()))
    }

    /// `metadata.annotations`.
    pub fn annotations<K: Object>(o: &K) -> Option<u64> {
        Some(hash(o.annotations()))
    }

    /// `metadata.finalizers` and whether a deletion started.
    pub fn finalizers<K: Object>(o: &K) -> Option<u64> {
        Some(hash((o.finalizers(), o.deletion_timestamp().is_some())))
    }
}
