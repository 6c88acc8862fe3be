//! A read-optimised cache of a collection, filled from a [`watcher()`](crate::watcher()).
//!
//! A [`Writer`] applies watcher [`Event`]s; any number of [`Store`] handles read. Objects are
//! kept behind [`Arc`], so a read clones a pointer, not an object. An initial state
//! (`Init`…`InitDone`) is collected aside and replaces the cache at once at `InitDone`: readers
//! see the old state or the new one, never a mix, and objects deleted while the watcher was
//! away disappear. The store is *ready* after the first `InitDone`.
//!
//! [`reflector`] puts a writer in a watcher's stream:
//!
//! ```no_run
//! use futures::StreamExt;
//! use k8s_runtime::{reflector, watcher, store::Writer};
//! # async fn run<Pod: k8s_core::Object + serde::de::DeserializeOwned + Clone + Send + Sync + 'static>(client: k8s_client::Client) {
//! let writer = Writer::<Pod>::new();
//! let store = writer.store();
//! let events = watcher::watcher::<Pod>(client, "/api/v1/pods", watcher::Config::default());
//! tokio::spawn(reflector(writer, events).for_each(|_| async {}));
//! store.wait_until_ready().await.unwrap();
//! println!("{} pods; web-0: {:?}", store.len(), store.get(Some("default"), "web-0").is_some());
//! # }
//! ```

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use futures::{Stream, StreamExt};
use k8s_core::Object;
use tokio::sync::watch;

use crate::watcher::Event;

/// Objects by namespace (`""` for cluster-scoped ones), then by name.
type Objects<T> = HashMap<String, HashMap<String, Arc<T>>>;

struct Shared<T> {
    objects: RwLock<Objects<T>>,
}

impl<T> Shared<T> {
    fn read(&self) -> RwLockReadGuard<'_, Objects<T>> {
        // Every update is one map operation or one swap: a panic cannot leave a half-done one.
        self.objects.read().unwrap_or_else(|e| e.into_inner())
    }
    fn write(&self) -> RwLockWriteGuard<'_, Objects<T>> {
        self.objects.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// The writer was dropped before the store's first initial state was complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the store's writer was dropped before the store was ready")]
pub struct WriterDropped;

/// A read handle of the cache (cheap to clone; see the [module docs](self)).
pub struct Store<T> {
    shared: Arc<Shared<T>>,
    ready: watch::Receiver<bool>,
}

impl<T> Clone for Store<T> {
    fn clone(&self) -> Self {
        Store {
            shared: self.shared.clone(),
            ready: self.ready.clone(),
        }
    }
}

impl<T> std::fmt::Debug for Store<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("len", &self.len())
            .field("ready", &self.is_ready())
            .finish()
    }
}

impl<T> Store<T> {
    /// The object `name` in `namespace` (`None` for a cluster-scoped object).
    pub fn get(&self, namespace: Option<&str>, name: &str) -> Option<Arc<T>> {
        self.shared
            .read()
            .get(namespace.unwrap_or(""))
            .and_then(|m| m.get(name))
            .cloned()
    }

    /// The objects of one namespace (`""` for the cluster-scoped ones), at one moment.
    pub fn list(&self, namespace: &str) -> Vec<Arc<T>> {
        self.shared
            .read()
            .get(namespace)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Every object, at one moment (a consistent snapshot).
    pub fn state(&self) -> Vec<Arc<T>> {
        self.shared
            .read()
            .values()
            .flat_map(|m| m.values().cloned())
            .collect()
    }

    /// How many objects the cache holds.
    pub fn len(&self) -> usize {
        self.shared.read().values().map(HashMap::len).sum()
    }

    /// Whether the cache holds no object.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a first initial state is complete.
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// Waits until a first initial state is complete.
    pub async fn wait_until_ready(&self) -> Result<(), WriterDropped> {
        let mut ready = self.ready.clone();
        ready
            .wait_for(|r| *r)
            .await
            .map(|_| ())
            .map_err(|_| WriterDropped)
    }
}

/// Fills a [`Store`] from watcher events; there is one writer per cache.
pub struct Writer<T> {
    shared: Arc<Shared<T>>,
    ready: watch::Sender<bool>,
    ready_rx: watch::Receiver<bool>,
    /// The initial state being collected (between `Init` and `InitDone`).
    buffer: Option<Objects<T>>,
}

impl<T> std::fmt::Debug for Writer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("collecting", &self.buffer.is_some())
            .finish()
    }
}

impl<T: Object + Clone> Default for Writer<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Object + Clone> Writer<T> {
    /// An empty, not yet ready cache.
    pub fn new() -> Self {
        let (ready, ready_rx) = watch::channel(false);
        Writer {
            shared: Arc::new(Shared {
                objects: RwLock::new(HashMap::new()),
            }),
            ready,
            ready_rx,
            buffer: None,
        }
    }

    /// A read handle.
    pub fn store(&self) -> Store<T> {
        Store {
            shared: self.shared.clone(),
            ready: self.ready_rx.clone(),
        }
    }

    /// Applies one watcher event. Objects without a name are ignored.
    pub fn apply(&mut self, event: &Event<T>) {
        match event {
            Event::Init => self.buffer = Some(HashMap::new()),
            Event::InitApply(o) => {
                let buffer = self.buffer.get_or_insert_with(HashMap::new);
                insert(buffer, o);
            }
            Event::InitDone => {
                let fresh = self.buffer.take().unwrap_or_default();
                *self.shared.write() = fresh;
                self.ready.send_replace(true);
            }
            Event::Apply(o) => insert(&mut self.shared.write(), o),
            Event::Delete(o) => {
                if let Some(name) = o.name() {
                    let ns = o.namespace().unwrap_or("");
                    let mut objects = self.shared.write();
                    if let Some(m) = objects.get_mut(ns) {
                        m.remove(name);
                        if m.is_empty() {
                            objects.remove(ns);
                        }
                    }
                }
            }
        }
    }
}

fn insert<T: Object + Clone>(objects: &mut Objects<T>, o: &T) {
    if let Some(name) = o.name() {
        objects
            .entry(o.namespace().unwrap_or("").to_owned())
            .or_default()
            .insert(name.to_owned(), Arc::new(o.clone()));
    }
}

/// Applies each event of `events` to `writer` and passes it on (errors pass unchanged).
pub fn reflector<T, E, S>(
    mut writer: Writer<T>,
    events: S,
) -> impl Stream<Item = Result<Event<T>, E>>
where
    T: Object + Clone,
    S: Stream<Item = Result<Event<T>, E>>,
{
    events.map(move |item| {
        if let Ok(event) = &item {
            writer.apply(event);
        }
        item
    })
}
