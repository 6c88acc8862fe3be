//! Generic storage, the server's etcd: objects by storage key (`group/plural`) and
//! `namespace/name`, one cluster-wide resource version, and the bounded event history that
//! watches and continue tokens read. Nothing here knows about kinds.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Value, json};

use crate::json::{meta, set_meta};

/// One change, as watchers see it.
#[derive(Clone, Debug)]
pub(crate) struct Event {
    pub rv: u64,
    pub key: String,
    pub ns: String,
    pub etype: &'static str,
    pub object: Value,
    pub prev: Option<Value>,
}

fn key_of(ns: &str, name: &str) -> String {
    format!("{ns}/{name}")
}

/// Objects, resource versions and the event history.
pub(crate) struct Storage {
    /// The last resource version handed out.
    pub rv: u64,
    objects: BTreeMap<String, BTreeMap<String, Value>>,
    history: VecDeque<Event>,
    /// Events up to this resource version have been dropped.
    pub compacted: u64,
    cap: usize,
}

impl Storage {
    /// Empty storage keeping at most `cap` events.
    pub(crate) fn new(cap: usize) -> Storage {
        Storage {
            rv: 200,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            compacted: 0,
            cap: cap.max(1),
        }
    }

    // ------------------------------------------------------------ reads

    pub(crate) fn object(&self, storage_key: &str, ns: &str, name: &str) -> Option<&Value> {
        self.objects.get(storage_key)?.get(&key_of(ns, name))
    }

    /// `(namespace/name, object)` in key order: in `ns` only, or all with `None`.
    pub(crate) fn entries(&self, storage_key: &str, ns: Option<&str>) -> Vec<(&String, &Value)> {
        let Some(m) = self.objects.get(storage_key) else {
            return Vec::new();
        };
        match ns {
            Some(ns) => {
                let prefix = format!("{ns}/");
                m.range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .collect()
            }
            None => m.iter().collect(),
        }
    }

    pub(crate) fn objects_of(&self, storage_key: &str) -> Vec<&Value> {
        self.entries(storage_key, None)
            .into_iter()
            .map(|(_, v)| v)
            .collect()
    }

    pub(crate) fn objects_in(&self, storage_key: &str, ns: &str) -> Vec<&Value> {
        self.entries(storage_key, Some(ns))
            .into_iter()
            .map(|(_, v)| v)
            .collect()
    }

    /// The storage keys that hold (or held) objects.
    pub(crate) fn storage_keys(&self) -> Vec<String> {
        self.objects.keys().cloned().collect()
    }

    /// Whether no storage key but `except` holds an object in namespace `ns`.
    pub(crate) fn namespace_is_empty(&self, ns: &str, except: &str) -> bool {
        let prefix = format!("{ns}/");
        self.objects
            .iter()
            .filter(|(k, _)| k.as_str() != except)
            .all(|(_, m)| {
                m.range(prefix.clone()..)
                    .next()
                    .is_none_or(|(k, _)| !k.starts_with(&prefix))
            })
    }

    /// Events after `rv` (None when they are no longer all kept).
    pub(crate) fn events_since(&self, rv: u64) -> Option<Vec<Event>> {
        if rv < self.compacted {
            return None;
        }
        Some(self.history.iter().filter(|e| e.rv > rv).cloned().collect())
    }

    // ------------------------------------------------------------ writes

    fn record(
        &mut self,
        key: &str,
        ns: &str,
        etype: &'static str,
        object: Value,
        prev: Option<Value>,
    ) {
        self.history.push_back(Event {
            rv: self.rv,
            key: key.to_string(),
            ns: ns.to_string(),
            etype,
            object,
            prev,
        });
        while self.history.len() > self.cap {
            if let Some(e) = self.history.pop_front() {
                self.compacted = self.compacted.max(e.rv);
            }
        }
    }

    /// Creates or replaces an object with a new resourceVersion; records the event.
    pub(crate) fn put(
        &mut self,
        storage_key: &str,
        ns: &str,
        name: &str,
        mut obj: Value,
        prev: Option<Value>,
    ) -> Value {
        self.rv += 1;
        set_meta(&mut obj, "resourceVersion", json!(self.rv.to_string()));
        self.objects
            .entry(storage_key.to_string())
            .or_default()
            .insert(key_of(ns, name), obj.clone());
        let etype = if prev.is_some() { "MODIFIED" } else { "ADDED" };
        self.record(storage_key, ns, etype, obj.clone(), prev);
        obj
    }

    /// Removes an object; the DELETED event carries a new resourceVersion.
    pub(crate) fn remove(&mut self, storage_key: &str, ns: &str, name: &str) -> Option<Value> {
        let mut obj = self
            .objects
            .get_mut(storage_key)?
            .remove(&key_of(ns, name))?;
        self.rv += 1;
        set_meta(&mut obj, "resourceVersion", json!(self.rv.to_string()));
        self.record(storage_key, ns, "DELETED", obj.clone(), None);
        Some(obj)
    }

    /// Replaces `metadata.managedFields` of a stored object and of the last event when that
    /// event is about the object, without a new resource version (server-side apply sets its
    /// own entries after the shared write path computed an Update entry).
    pub(crate) fn set_managed_fields(
        &mut self,
        storage_key: &str,
        ns: &str,
        name: &str,
        entries: &Value,
    ) {
        if let Some(stored) = self
            .objects
            .get_mut(storage_key)
            .and_then(|m| m.get_mut(&key_of(ns, name)))
        {
            set_meta(stored, "managedFields", entries.clone());
        }
        if let Some(e) = self.history.back_mut() {
            if e.key == storage_key && meta(&e.object, "name").as_deref() == Some(name) {
                set_meta(&mut e.object, "managedFields", entries.clone());
            }
        }
    }

    /// Drops all kept events: older resource versions and continue tokens expire.
    pub(crate) fn compact(&mut self) {
        self.history.clear();
        self.rv += 1;
        self.compacted = self.rv;
    }
}
