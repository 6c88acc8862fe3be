//! The options of the standard verbs, and how each goes into a [`Request`] (query parameters,
//! or a `DeleteOptions` body).

use serde::Serialize;

use crate::request::{Request, RequestError};

/// `resourceVersionMatch`
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceVersionMatch {
    /// `NotOlderThan`: any state at least as new as `resourceVersion`.
    NotOlderThan,
    /// `Exact`: exactly `resourceVersion`.
    Exact,
}

impl ResourceVersionMatch {
    fn as_str(self) -> &'static str {
        match self {
            ResourceVersionMatch::NotOlderThan => "NotOlderThan",
            ResourceVersionMatch::Exact => "Exact",
        }
    }
}

/// `fieldValidation`: what the server does with unknown or duplicate fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and answer with a `Warning` header (the server's default).
    Warn,
    /// Reject the request with 400.
    Strict,
}

impl FieldValidation {
    fn as_str(self) -> &'static str {
        match self {
            FieldValidation::Ignore => "Ignore",
            FieldValidation::Warn => "Warn",
            FieldValidation::Strict => "Strict",
        }
    }
}

/// `propagationPolicy`: what happens to dependents on delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PropagationPolicy {
    /// Dependents are orphaned.
    Orphan,
    /// Dependents are deleted in the background.
    Background,
    /// The object stays (with a `foregroundDeletion` finalizer) until its dependents are gone.
    Foreground,
}

/// Options of a list (and of the list part of a delete-collection).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListParams {
    /// `labelSelector`
    pub label_selector: Option<String>,
    /// `fieldSelector`
    pub field_selector: Option<String>,
    /// `limit`: page size.
    pub limit: Option<i64>,
    /// `continue`: token of the next page.
    pub continue_token: Option<String>,
    /// `resourceVersion`
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`
    pub resource_version_match: Option<ResourceVersionMatch>,
    /// `timeoutSeconds`
    pub timeout_seconds: Option<i64>,
    /// `shardSelector` (Kubernetes 1.36+, alpha `ShardedListAndWatch`; older servers ignore it).
    pub shard_selector: Option<String>,
}

impl ListParams {
    pub(super) fn apply(&self, r: &mut Request) {
        if let Some(v) = &self.label_selector {
            r.push_query("labelSelector", v.clone());
        }
        if let Some(v) = &self.field_selector {
            r.push_query("fieldSelector", v.clone());
        }
        if let Some(v) = self.limit {
            r.push_query("limit", v.to_string());
        }
        if let Some(v) = &self.continue_token {
            r.push_query("continue", v.clone());
        }
        if let Some(v) = &self.resource_version {
            r.push_query("resourceVersion", v.clone());
        }
        if let Some(v) = self.resource_version_match {
            r.push_query("resourceVersionMatch", v.as_str());
        }
        if let Some(v) = self.timeout_seconds {
            r.push_query("timeoutSeconds", v.to_string());
        }
        if let Some(v) = &self.shard_selector {
            r.push_query("shardSelector", v.clone());
        }
    }
}

/// Options of a watch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WatchParams {
    /// `labelSelector`
    pub label_selector: Option<String>,
    /// `fieldSelector`
    pub field_selector: Option<String>,
    /// `resourceVersion` to start from.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`
    pub resource_version_match: Option<ResourceVersionMatch>,
    /// `allowWatchBookmarks`
    pub allow_bookmarks: bool,
    /// `sendInitialEvents`: a streaming list (needs `resourceVersionMatch=NotOlderThan`).
    pub send_initial_events: Option<bool>,
    /// `timeoutSeconds`: the server ends the watch after this long.
    pub timeout_seconds: Option<i64>,
    /// `shardSelector` (Kubernetes 1.36+, alpha `ShardedListAndWatch`; older servers ignore it).
    pub shard_selector: Option<String>,
}

impl WatchParams {
    pub(super) fn apply(&self, r: &mut Request) {
        r.push_query("watch", "1");
        if let Some(v) = &self.label_selector {
            r.push_query("labelSelector", v.clone());
        }
        if let Some(v) = &self.field_selector {
            r.push_query("fieldSelector", v.clone());
        }
        if let Some(v) = &self.resource_version {
            r.push_query("resourceVersion", v.clone());
        }
        if let Some(v) = self.resource_version_match {
            r.push_query("resourceVersionMatch", v.as_str());
        }
        if self.allow_bookmarks {
            r.push_query("allowWatchBookmarks", "true");
        }
        if let Some(v) = self.send_initial_events {
            r.push_query("sendInitialEvents", if v { "true" } else { "false" });
        }
        if let Some(v) = self.timeout_seconds {
            r.push_query("timeoutSeconds", v.to_string());
        }
        if let Some(v) = &self.shard_selector {
            r.push_query("shardSelector", v.clone());
        }
    }
}

/// Options of create and replace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteParams {
    /// `dryRun=All`: validate and admit, but do not persist.
    pub dry_run: bool,
    /// `fieldManager`
    pub field_manager: Option<String>,
    /// `fieldValidation`
    pub field_validation: Option<FieldValidation>,
}

impl WriteParams {
    pub(super) fn apply(&self, r: &mut Request) {
        if self.dry_run {
            r.push_query("dryRun", "All");
        }
        if let Some(v) = &self.field_manager {
            r.push_query("fieldManager", v.clone());
        }
        if let Some(v) = self.field_validation {
            r.push_query("fieldValidation", v.as_str());
        }
    }
}

/// Options of a patch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PatchParams {
    /// `dryRun`, `fieldManager`, `fieldValidation`.
    pub write: WriteParams,
    /// `force`: take ownership of conflicting fields (server-side apply only).
    pub force: bool,
}

/// Options of delete and delete-collection.
///
/// `dryRun` and `gracePeriodSeconds` travel in the query; `propagationPolicy` and preconditions
/// in a `DeleteOptions` body (the server reads both; preconditions exist only in the body).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeleteParams {
    /// `dryRun=All`
    pub dry_run: bool,
    /// `gracePeriodSeconds`; `0` deletes at once.
    pub grace_period_seconds: Option<i64>,
    /// `propagationPolicy`
    pub propagation_policy: Option<PropagationPolicy>,
    /// `preconditions.uid`
    pub precondition_uid: Option<String>,
    /// `preconditions.resourceVersion`
    pub precondition_resource_version: Option<String>,
}

impl DeleteParams {
    pub(super) fn apply(&self, r: &mut Request) -> Result<(), RequestError> {
        if self.dry_run {
            r.push_query("dryRun", "All");
        }
        if let Some(v) = self.grace_period_seconds {
            r.push_query("gracePeriodSeconds", v.to_string());
        }
        if self.propagation_policy.is_some()
            || self.precondition_uid.is_some()
            || self.precondition_resource_version.is_some()
        {
            #[derive(Serialize)]
            #[serde(rename_all = "camelCase")]
            struct Preconditions<'a> {
                #[serde(skip_serializing_if = "Option::is_none")]
                resource_version: Option<&'a str>,
                #[serde(skip_serializing_if = "Option::is_none")]
                uid: Option<&'a str>,
            }
            #[derive(Serialize)]
            #[serde(rename_all = "camelCase")]
            struct Body<'a> {
                api_version: &'static str,
                kind: &'static str,
                #[serde(skip_serializing_if = "Option::is_none")]
                preconditions: Option<Preconditions<'a>>,
                #[serde(skip_serializing_if = "Option::is_none")]
                propagation_policy: Option<PropagationPolicy>,
            }
            let pre = (self.precondition_uid.is_some()
                || self.precondition_resource_version.is_some())
            .then_some(Preconditions {
                resource_version: self.precondition_resource_version.as_deref(),
                uid: self.precondition_uid.as_deref(),
            });
            let body = Body {
                api_version: "v1",
                kind: "DeleteOptions",
                preconditions: pre,
                propagation_policy: self.propagation_policy,
            };
            r.body =
                Some(serde_json::to_vec(&body).map_err(|e| RequestError::Body(e.to_string()))?);
            r.content_type = Some("application/json");
        }
        Ok(())
    }
}
