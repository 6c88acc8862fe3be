//! A read-optimised cache of a collection, filled from a [`watcher()`](crate::watcher()).
//!
//! A [`Writer`] applies watcher [`Event`]s; any number of [`Store`] handles read. Objects are
//! kept behind [`Arc`], so a read clones a pointer, not an object. An initial state
//! (`Init`…`InitDone`) is collected aside and replaces the cache at once at `InitDone`: readers
//! see the old state or the new one, never a mix, and objects deleted while the watcher was
//! away disappear. The store is *ready* after the first `InitDone`.
//!
//! Memory per cached object: [`Store::stats`] reports the number of objects and their size as
//! JSON ([`StoreStats`]); the heap behind it was measured in the bench (BENCHMARKS.md,
//! *Runtime*): a Pod as the test server returns it (≈ 5.3 KB of JSON with managedFields) costs
//! ≈ 23.5 KiB of heap in the store; its metadata only
//! ([`metadata_watcher`](crate::watcher::metadata_watcher),
//! [`PartialObjectMetadata`](crate::PartialObjectMetadata)) ≈ 3.8 KiB.
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

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use futures::{Stream, StreamExt};
use k8s_core::Object;
use tokio::sync::watch;

use crate::watcher::Event;

/// Objects by namespace (`""` for cluster-scoped ones), then by name.
type Objects<T> = HashMap<String, HashMap<String, Arc<T>>>;

/// A key function of an index: the index keys of an object.
type KeyFn<T> = Arc<dyn Fn(&T) -> Vec<String> + Send + Sync>;

/// One index: its key function, and `(namespace, name)` of the objects under each key.
struct Index<T> {
    keys: KeyFn<T>,
    entries: HashMap<String, BTreeSet<(String, String)>>,
}

impl<T> Index<T> {
    fn empty(keys: KeyFn<T>) -> Self {
        Index {
            keys,
            entries: HashMap::new(),
        }
    }
    fn add(&mut self, keys: Vec<String>, at: &(String, String)) {
        for k in keys {
            self.entries.entry(k).or_default().insert(at.clone());
        }
    }
    fn remove(&mut self, keys: Vec<String>, at: &(String, String)) {
        for k in keys {
            if let Some(set) = self.entries.get_mut(&k) {
                set.remove(at);
                if set.is_empty() {
                    self.entries.remove(&k);
                }
            }
        }
    }
}

/// The objects and their indexes, changed together under one lock.
struct Cache<T> {
    objects: Objects<T>,
    indexes: HashMap<String, Index<T>>,
}

impl<T> Cache<T> {
    /// Puts `o` at `namespace/name`, replacing (and unindexing) what was there.
    fn put(&mut self, ns: String, name: String, o: Arc<T>) {
        let at = (ns, name);
        let old = self.objects.get(&at.0).and_then(|m| m.get(&at.1));
        // The key functions (user code) run before anything changes.
        let keys: Vec<(Vec<String>, Vec<String>)> = self
            .indexes
            .values()
            .map(|i| {
                (
                    old.map(|old| (i.keys)(old)).unwrap_or_default(),
                    (i.keys)(&o),
                )
            })
            .collect();
        self.objects
            .entry(at.0.clone())
            .or_default()
            .insert(at.1.clone(), o);
        for (index, (old, new)) in self.indexes.values_mut().zip(keys) {
            index.remove(old, &at);
            index.add(new, &at);
        }
    }

    fn remove(&mut self, ns: &str, name: &str) {
        let Some(m) = self.objects.get_mut(ns) else {
            return;
        };
        let old = m.remove(name);
        if m.is_empty() {
            self.objects.remove(ns);
        }
        if let Some(old) = old {
            let at = (ns.to_owned(), name.to_owned());
            for index in self.indexes.values_mut() {
                let keys = (index.keys)(&old);
                index.remove(keys, &at);
            }
        }
    }
}

struct Shared<T> {
    cache: RwLock<Cache<T>>,
}

impl<T> Shared<T> {
    fn read(&self) -> RwLockReadGuard<'_, Cache<T>> {
        // Every update is finished before the lock is released; the key functions (user code)
        // of `put` run before it changes anything. A key function panicking in `remove` leaves
        // index entries that `by_index` skips (their object is gone).
        self.cache.read().unwrap_or_else(|e| e.into_inner())
    }
    fn write(&self) -> RwLockWriteGuard<'_, Cache<T>> {
        self.cache.write().unwrap_or_else(|e| e.into_inner())
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
            .objects
            .get(namespace.unwrap_or(""))
            .and_then(|m| m.get(name))
            .cloned()
    }

    /// The objects of one namespace (`""` for the cluster-scoped ones), at one moment.
    pub fn list(&self, namespace: &str) -> Vec<Arc<T>> {
        self.shared
            .read()
            .objects
            .get(namespace)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Every object, at one moment (a consistent snapshot).
    pub fn state(&self) -> Vec<Arc<T>> {
        self.shared
            .read()
            .objects
            .values()
            .flat_map(|m| m.values().cloned())
            .collect()
    }

    /// The objects under `key` in the index `index` (see [`Writer::index`]), at one moment;
    /// empty for an unknown index or key.
    pub fn by_index(&self, index: &str, key: &str) -> Vec<Arc<T>> {
        let cache = self.shared.read();
        let Some(at) = cache.indexes.get(index).and_then(|i| i.entries.get(key)) else {
            return Vec::new();
        };
        at.iter()
            .filter_map(|(ns, name)| cache.objects.get(ns)?.get(name).cloned())
            .collect()
    }

    /// The keys of the index `index` that hold at least one object.
    pub fn index_keys(&self, index: &str) -> Vec<String> {
        self.shared
            .read()
            .indexes
            .get(index)
            .map(|i| i.entries.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// How many objects the cache holds.
    pub fn len(&self) -> usize {
        self.shared.read().objects.values().map(HashMap::len).sum()
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

/// What a [`Store`] holds, from [`Store::stats`].
///
/// `json_bytes` is the size of the cached objects **serialized as JSON** (compact, as
/// `serde_json` writes them), not their heap: Rust has no portable way to measure the heap of a
/// value graph without a counting allocator, and this crate neither installs one nor guesses
/// per-type sizes. It is a stable, comparable measure of how much data the cache holds (it
/// grows and shrinks with the objects, and a metadata-only store shows its savings in it). The
/// heap is larger: for the test server's Pods (≈ 5.3 KB of JSON each) the bench measured
/// ≈ 23.5 KiB of heap per Pod in a full store, about 4.5 bytes of heap per byte of JSON
/// (BENCHMARKS.md, *Runtime*; the bench prints both figures side by side).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreStats {
    /// How many objects the cache holds.
    pub objects: usize,
    /// Their total size as compact JSON, in bytes (see the type's docs).
    pub json_bytes: usize,
}

impl StoreStats {
    /// `json_bytes / objects` (0 for an empty store).
    pub fn json_bytes_per_object(&self) -> usize {
        self.json_bytes.checked_div(self.objects).unwrap_or(0)
    }
}

/// Counts the bytes written to it.
struct CountingWriter(usize);

impl std::io::Write for CountingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<T: serde::Serialize> Store<T> {
    /// How many objects the store holds and their size as JSON ([`StoreStats`] says exactly
    /// what is measured, and why not the heap).
    ///
    /// It serializes every cached object (into a counter, allocating nothing for the output):
    /// about as costly as encoding the whole collection once, so call it for reporting, not on
    /// every reconcile. The objects are taken as one consistent snapshot; the lock is not held
    /// while they are measured. An object that fails to serialize (a `Serialize` impl that can
    /// fail) counts with 0 bytes.
    pub fn stats(&self) -> StoreStats {
        let objects = self.state();
        let json_bytes = objects
            .iter()
            .map(|o| {
                let mut w = CountingWriter(0);
                match serde_json::to_writer(&mut w, &**o) {
                    Ok(()) => w.0,
                    Err(_) => 0,
                }
            })
            .sum();
        StoreStats {
            objects: objects.len(),
            json_bytes,
        }
    }
}

/// Fills a [`Store`] from watcher events; there is one writer per cache.
pub struct Writer<T> {
    shared: Arc<Shared<T>>,
    ready: watch::Sender<bool>,
    ready_rx: watch::Receiver<bool>,
    /// The initial state being collected (between `Init` and `InitDone`).
    buffer: Option<Vec<Arc<T>>>,
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
                cache: RwLock::new(Cache {
                    objects: HashMap::new(),
                    indexes: HashMap::new(),
                }),
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

    /// Adds the index `name`: `keys` gives the index keys of an object (none, one or several),
    /// and [`Store::by_index`] the objects under a key. [`by_owner`] and [`by_label`] are such
    /// functions; objects by namespace need no index ([`Store::list`]).
    pub fn index(
        self,
        name: &str,
        keys: impl Fn(&T) -> Vec<String> + Send + Sync + 'static,
    ) -> Self {
        add_index(&self.shared, name, Arc::new(keys));
        self
    }

    /// Applies one watcher event. Objects without a name are ignored.
    ///
    /// The cache keeps its own copy of each object (a clone behind an `Arc`), since the event
    /// stays the caller's; [`apply_shared`](Self::apply_shared) avoids that copy.
    pub fn apply(&mut self, event: &Event<T>) {
        match event {
            Event::Init => self.init(),
            Event::InitApply(o) => {
                if o.name().is_some() {
                    self.init_apply(Arc::new(o.clone()));
                }
            }
            Event::InitDone => self.init_done(),
            Event::Apply(o) => {
                if o.name().is_some() {
                    self.put(Arc::new(o.clone()));
                }
            }
            Event::Delete(o) => self.delete(o),
        }
    }

    /// Applies one watcher event and returns it with its object behind the same `Arc` the
    /// cache holds: the object is not copied (a full Pod is some hundred allocations). Objects
    /// without a name are ignored by the cache and passed on all the same.
    pub fn apply_shared(&mut self, event: Event<T>) -> Event<Arc<T>> {
        match event {
            Event::Init => {
                self.init();
                Event::Init
            }
            Event::InitApply(o) => {
                let o = Arc::new(o);
                if o.name().is_some() {
                    self.init_apply(o.clone());
                }
                Event::InitApply(o)
            }
            Event::InitDone => {
                self.init_done();
                Event::InitDone
            }
            Event::Apply(o) => {
                let o = Arc::new(o);
                if o.name().is_some() {
                    self.put(o.clone());
                }
                Event::Apply(o)
            }
            Event::Delete(o) => {
                self.delete(&o);
                Event::Delete(Arc::new(o))
            }
        }
    }

    fn init(&mut self) {
        self.buffer = Some(Vec::new());
    }

    fn init_apply(&mut self, o: Arc<T>) {
        self.buffer.get_or_insert_with(Vec::new).push(o);
    }

    fn init_done(&mut self) {
        let fresh = self.buffer.take().unwrap_or_default();
        let mut cache = self.shared.write();
        let mut next = Cache {
            objects: HashMap::new(),
            indexes: cache
                .indexes
                .iter()
                .map(|(k, i)| (k.clone(), Index::empty(i.keys.clone())))
                .collect(),
        };
        for o in fresh {
            let ns = o.namespace().unwrap_or("").to_owned();
            let name = o.name().unwrap_or("").to_owned();
            next.put(ns, name, o);
        }
        *cache = next;
        drop(cache);
        self.ready.send_replace(true);
    }

    /// Puts a named object.
    fn put(&mut self, o: Arc<T>) {
        let ns = o.namespace().unwrap_or("").to_owned();
        let name = o.name().unwrap_or("").to_owned();
        self.shared.write().put(ns, name, o);
    }

    fn delete(&mut self, o: &T) {
        if let Some(name) = o.name() {
            self.shared
                .write()
                .remove(o.namespace().unwrap_or(""), name);
        }
    }
}

/// Adds (or replaces) the index `name`, built from what the cache holds.
fn add_index<T>(shared: &Shared<T>, name: &str, keys: KeyFn<T>) {
    let mut index = Index::empty(keys);
    let mut cache = shared.write();
    for (ns, m) in &cache.objects {
        for (n, o) in m {
            let keys = (index.keys)(o);
            index.add(keys, &(ns.clone(), n.clone()));
        }
    }
    cache.indexes.insert(name.to_owned(), index);
}

impl<T> Store<T> {
    /// [`Writer::index`] for a store whose writer is out of reach (a controller's).
    pub(crate) fn add_index(&self, name: &str, keys: KeyFn<T>) {
        add_index(&self.shared, name, keys);
    }
}

/// An index key function: the uids of an object's owners.
pub fn by_owner<T: Object>(o: &T) -> Vec<String> {
    o.owner_references().iter().map(|r| r.uid.clone()).collect()
}

/// An index key function: the value of label `label` (no key when the label is absent).
pub fn by_label<T: Object>(label: &'static str) -> impl Fn(&T) -> Vec<String> + Send + Sync {
    move |o| o.labels().get(label).cloned().into_iter().collect()
}

/// Applies each event of `events` to `writer` and passes it on (errors pass unchanged).
///
/// The cache keeps a copy of each object; [`shared_reflector`] passes the cache's own `Arc`
/// on instead, without the copy.
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

/// Like [`reflector`], but passes each event on with its object behind the `Arc` the cache holds
/// ([`Writer::apply_shared`]): no object is copied. The controller reads its main kind this way.
pub fn shared_reflector<T, E, S>(
    mut writer: Writer<T>,
    events: S,
) -> impl Stream<Item = Result<Event<Arc<T>>, E>>
where
    T: Object + Clone,
    S: Stream<Item = Result<Event<T>, E>>,
{
    events.map(move |item| item.map(|event| writer.apply_shared(event)))
}
