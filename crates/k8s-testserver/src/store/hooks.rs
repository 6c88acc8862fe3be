//! Per-kind behaviour: the [`KindHooks`] the generic verbs call, and the [`Hooks`] registry that
//! finds them by group and resource. The kinds themselves live in `crate::kinds`, which fills
//! the registry; the store never names a kind.

use std::collections::HashMap;

use serde_json::Value;

use super::{R, Req, State};
use crate::errors::ApiError;
use crate::registry::ResourceDef;
use crate::validate::Cause;

/// What a kind adds to the generic verbs. Every method has a default that does nothing special,
/// so a kind implements only what differs. Called in this order:
///
/// * create: [`create`](Self::create) (may take over), [`validate`](Self::validate),
///   [`defaults`](Self::defaults), [`allocate`](Self::allocate),
///   [`server_status`](Self::server_status), uid and generation set,
///   [`identified`](Self::identified), stored, [`written`](Self::written);
/// * POST to a subresource: [`create_subresource`](Self::create_subresource);
/// * update, patch, apply: [`validate_update`](Self::validate_update) and
///   [`validate`](Self::validate) (main resource only), generation bumped when
///   [`has_generation`](Self::has_generation), [`server_status`](Self::server_status), stored,
///   then [`written`](Self::written), or, when the last finalizer of a deleting object is gone
///   and [`removed_when_finalized`](Self::removed_when_finalized), removed and
///   [`removed`](Self::removed);
/// * delete: [`delete`](Self::delete) (may take over), finalizers, removed,
///   [`removed`](Self::removed), answered with [`deleted_object`](Self::deleted_object) or a
///   Status;
/// * `Table` answers (`http/table.rs`): [`table_columns`](Self::table_columns) and
///   [`table_cells`](Self::table_cells).
pub(crate) trait KindHooks: Sync {
    /// Objects carry `metadata.generation`, bumped when anything but metadata and status
    /// changes.
    fn has_generation(&self) -> bool {
        false
    }

    /// Answers a POST to the collection instead of storing an object (reviews, bindings).
    fn create(&self, _st: &mut State, _req: &Req) -> Option<R> {
        None
    }

    /// Answers a POST to subresource `sub` (`pods/eviction`); `None` answers 405.
    fn create_subresource(&self, _st: &mut State, _req: &Req, _sub: &str) -> Option<R> {
        None
    }

    /// Checks a new object, or the new state of the main resource on update: the causes of a
    /// 422 (empty when valid). May prune the object (custom resources) and add warnings.
    fn validate(
        &self,
        _def: &ResourceDef,
        _obj: &mut Value,
        _warnings: &mut Vec<String>,
    ) -> Vec<Cause> {
        Vec::new()
    }

    /// Checks an update of the main resource against the stored object (immutable fields).
    fn validate_update(&self, _name: &str, _current: &Value, _new: &Value) -> Result<(), ApiError> {
        Ok(())
    }

    /// Fills the defaults of a new object (spec defaults, initial status).
    fn defaults(&self, _obj: &mut Value) {}

    /// Allocates what a new object takes from the cluster (a Service's clusterIP).
    fn allocate(&self, _st: &mut State, _obj: &mut Value, _name: &str) -> Result<(), ApiError> {
        Ok(())
    }

    /// Status the server computes on every write (a CRD's conditions).
    fn server_status(&self, _obj: &mut Value) {}

    /// A new object has its uid, name and generation (a Job's generated selector).
    fn identified(&self, _obj: &mut Value) {}

    /// The object was written and still exists (controllers reacting to it).
    fn written(&self, _st: &mut State, _obj: &Value) {}

    /// A write removed the object from storage.
    fn removed(&self, _st: &mut State, _obj: &Value) {}

    /// Takes over a DELETE of `current` (a namespace's controller, a pod's graceful
    /// termination); `None` leaves it to the generic path.
    fn delete(
        &self,
        _st: &mut State,
        _req: &Req,
        _current: &Value,
        _grace: Option<i64>,
        _dry: bool,
    ) -> Option<R> {
        None
    }

    /// What DELETE answers once the object is gone: the object, or `None` for a Status.
    fn deleted_object(&self, _removed: &Value) -> Option<Value> {
        None
    }

    /// An update that leaves a deleting object without finalizers removes it (pods wait for
    /// their kubelet instead).
    fn removed_when_finalized(&self) -> bool {
        true
    }

    /// The kind's own `Table` columns, between Name and Age: `(name, description)`, strings.
    fn table_columns(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// The cells of [`table_columns`](Self::table_columns) for `obj`.
    fn table_cells(&self, _obj: &Value) -> Vec<Value> {
        Vec::new()
    }
}

/// A kind with no behaviour of its own.
pub(crate) struct Plain;

impl KindHooks for Plain {}

/// The hooks of every kind, by group and resource (plural); custom resources share one set.
pub(crate) struct Hooks {
    by_resource: HashMap<(&'static str, &'static str), &'static dyn KindHooks>,
    by_group: HashMap<&'static str, &'static dyn KindHooks>,
    custom: &'static dyn KindHooks,
}

impl Hooks {
    /// No kind has behaviour of its own; custom resources get `custom`.
    pub(crate) fn new(custom: &'static dyn KindHooks) -> Hooks {
        Hooks {
            by_resource: HashMap::new(),
            by_group: HashMap::new(),
            custom,
        }
    }

    /// Gives `group`/`plural` the behaviour of `hooks`.
    pub(crate) fn register(
        &mut self,
        group: &'static str,
        plural: &'static str,
        hooks: &'static dyn KindHooks,
    ) -> &mut Self {
        self.by_resource.insert((group, plural), hooks);
        self
    }

    /// Gives every resource of `group` not registered on its own the behaviour of `hooks`.
    pub(crate) fn register_group(
        &mut self,
        group: &'static str,
        hooks: &'static dyn KindHooks,
    ) -> &mut Self {
        self.by_group.insert(group, hooks);
        self
    }

    /// The group/resource pairs registered on their own.
    #[cfg(test)]
    pub(crate) fn resources(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        self.by_resource.keys().copied()
    }

    /// The hooks of a served resource.
    pub(crate) fn of(&self, def: &ResourceDef) -> &'static dyn KindHooks {
        if def.custom.is_some() {
            return self.custom;
        }
        self.by_resource
            .get(&(def.group.as_str(), def.plural.as_str()))
            .or_else(|| self.by_group.get(def.group.as_str()))
            .copied()
            .unwrap_or(&Plain)
    }
}
