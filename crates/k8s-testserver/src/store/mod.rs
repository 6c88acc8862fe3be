//! The verbs with Kubernetes semantics, over the generic [`Storage`]: create, get, list,
//! update, patch, server-side apply, delete (graceful, finalizers), dry runs. What a kind adds
//! (defaults, validation, allocation, status, deletion, subresources) comes from its
//! [`KindHooks`] in `crate::kinds`; nothing in this module names a kind.
//!
//! * `request.rs`: the routed request, its query and body decoding, the reply;
//! * `read.rs`: get and list (selectors, pages, continue tokens);
//! * `write.rs`: create, update and patch, and the write path they share;
//! * `apply.rs`: server-side apply and `managedFields`;
//! * `delete.rs`: delete and deletecollection;
//! * `hooks.rs`: the per-kind hooks and their registry.

mod apply;
mod delete;
mod hooks;
mod read;
mod request;
mod write;

use std::collections::HashMap;
use std::sync::Arc;

use k8s_core::{ResourceInfo, Status};
use serde_json::{Value, json};

pub(crate) use hooks::{Hooks, KindHooks};
pub(crate) use request::{Query, Reply, Req};

use crate::authz::UserInfo;
use crate::errors::{self, ApiError};
use crate::json::{meta, now, set_meta};
use crate::patch::MergeKeys;
use crate::registry::{Registry, ResourceDef};
use crate::storage::Storage;
use crate::validate::Cause;

/// What a verb answers.
pub(crate) type R = Result<Reply, ApiError>;

/// The server's state.
pub(crate) struct State {
    storage: Storage,
    pub registry: Registry,
    pub keys: MergeKeys,
    pub swagger: Option<Arc<Value>>,
    pub tokens: HashMap<String, UserInfo>,
    hooks: Hooks,
    /// The next Service clusterIP to try, as an offset in 10.96.0.0/12.
    pub next_cluster_ip: u32,
    /// The CA that signs the serving certificate (published in ConfigMaps).
    pub ca_pem: String,
}

impl State {
    /// Empty state (no object yet) serving `table`, with the kinds' `hooks`.
    pub(crate) fn new(
        table: &[ResourceInfo],
        cap: usize,
        swagger: Option<Arc<Value>>,
        ca_pem: String,
        hooks: Hooks,
    ) -> State {
        let mut keys = MergeKeys::default();
        if let Some(s) = &swagger {
            keys.add_from_swagger(s);
        }
        State {
            storage: Storage::new(cap),
            registry: Registry::new(table),
            keys,
            swagger,
            tokens: HashMap::new(),
            hooks,
            next_cluster_ip: 2,
            ca_pem,
        }
    }

    /// The stored objects and events, read-only (authorization, watches).
    pub(crate) fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The current cluster-wide resource version.
    pub(crate) fn rv(&self) -> u64 {
        self.storage.rv
    }

    /// Drops all kept events: older resource versions and continue tokens expire.
    pub(crate) fn compact(&mut self) {
        self.storage.compact();
    }

    pub(crate) fn hooks(&self, def: &ResourceDef) -> &'static dyn KindHooks {
        self.hooks.of(def)
    }

    // ------------------------------------------------------------ storage, for the kinds

    pub(crate) fn object(&self, storage_key: &str, ns: &str, name: &str) -> Option<&Value> {
        self.storage.object(storage_key, ns, name)
    }

    pub(crate) fn objects_of(&self, storage_key: &str) -> Vec<&Value> {
        self.storage.objects_of(storage_key)
    }

    pub(crate) fn objects_in(&self, storage_key: &str, ns: &str) -> Vec<&Value> {
        self.storage.objects_in(storage_key, ns)
    }

    /// Creates or replaces an object with a new resourceVersion; records the event.
    pub(crate) fn put(
        &mut self,
        storage_key: &str,
        ns: &str,
        name: &str,
        obj: Value,
        prev: Option<Value>,
    ) -> Value {
        self.storage.put(storage_key, ns, name, obj, prev)
    }

    /// Removes an object (DELETED event); a terminating namespace left empty goes too.
    pub(crate) fn remove(&mut self, storage_key: &str, ns: &str, name: &str) -> Option<Value> {
        let removed = self.storage.remove(storage_key, ns, name)?;
        if !ns.is_empty() {
            self.finalize_namespace_if_empty(ns);
        }
        Some(removed)
    }

    /// The namespace controller's last step: a terminating namespace with nothing left in it
    /// is removed. (Generic: every removal of a namespaced object may finish its namespace.)
    pub(crate) fn finalize_namespace_if_empty(&mut self, ns: &str) {
        let terminating = self
            .object(NAMESPACES, "", ns)
            .is_some_and(|n| n.pointer("/metadata/deletionTimestamp").is_some());
        if terminating && self.storage.namespace_is_empty(ns, NAMESPACES) {
            self.remove(NAMESPACES, "", ns);
        }
    }

    /// Stores an object created by the control plane itself (bootstrap, controllers): uid and
    /// creation time set, no defaults, no validation, no hooks.
    pub(crate) fn system_create(&mut self, storage_key: &str, mut obj: Value) {
        let ns = meta(&obj, "namespace").unwrap_or_default();
        let name = meta(&obj, "name").unwrap_or_default();
        set_meta(&mut obj, "uid", json!(uuid::Uuid::new_v4().to_string()));
        set_meta(&mut obj, "creationTimestamp", json!(now()));
        self.put(storage_key, &ns, &name, obj, None);
    }

    // ------------------------------------------------------------ shared by the verbs

    pub(crate) fn current(&self, req: &Req) -> Result<Value, ApiError> {
        self.object(&req.def.storage_key(), req.ns(), req.name())
            .cloned()
            .ok_or_else(|| errors::not_found(&req.def.plural, &req.def.group, req.name()))
    }

    fn check_namespace(&self, req: &Req, name: &str) -> Result<(), ApiError> {
        if !req.def.namespaced {
            return Ok(());
        }
        match self.object(NAMESPACES, "", req.ns()) {
            None => Err(errors::not_found("namespaces", "", req.ns())),
            Some(ns) if ns.pointer("/metadata/deletionTimestamp").is_some() => Err(
                errors::namespace_terminating(&req.def.plural, &req.def.group, name, req.ns()),
            ),
            Some(_) => Ok(()),
        }
    }
}

/// The storage key of namespaces.
pub(crate) const NAMESPACES: &str = "/namespaces";

/// `obj` with the `apiVersion` and `kind` of `def`.
pub(crate) fn with_gvk(def: &ResourceDef, mut obj: Value) -> Value {
    if let Value::Object(m) = &mut obj {
        m.insert("apiVersion".into(), json!(def.api_version()));
        m.insert("kind".into(), json!(def.kind));
    }
    obj
}

/// The 422 for an object of `def` named `name`.
fn invalid(def: &ResourceDef, name: &str, causes: &[Cause]) -> ApiError {
    let group = if def.custom.is_some() {
        def.group.as_str()
    } else {
        ""
    };
    errors::invalid(&def.kind, group, name, causes)
}

/// A success Status with `code` (the answer of eviction and binding).
pub(crate) fn success(code: u16) -> Reply {
    let mut st = Status::success();
    st.code = Some(i32::from(code));
    Reply::ok(code, serde_json::to_value(st).unwrap_or(Value::Null))
}
