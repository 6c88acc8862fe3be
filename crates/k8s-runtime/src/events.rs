//! An event recorder: `events.k8s.io/v1` Events about objects, with repeats aggregated into a
//! series, as client-go's `tools/events` does.
//!
//! The first occurrence of an event (the same regarding object, type, reason, action, note and
//! reporter) creates an Event named `<object>.<random hex>`; a repeat within
//! [`SERIES_WINDOW`] (6 minutes, client-go's) does not create another, it patches the first
//! one's `series` (`count`, the number of occurrences, and `lastObservedTime`). When that Event is
//! gone (expired on the server), the repeat creates a new one.
//!
//! ```no_run
//! use k8s_runtime::events::{EventType, Recorder, Reference};
//! # async fn run<Widget: k8s_core::Object>(client: k8s_client::Client, w: &Widget) -> Result<(), k8s_runtime::events::Error> {
//! let recorder = Recorder::new(client, "example.com/widget-operator", "widget-operator-7d9f");
//! recorder
//!     .publish(&Reference::from_obj(w), EventType::Normal, "Synced", "Reconcile", Some("ConfigMap updated"))
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! The Event is a small hand-written wire type (only what the recorder writes), not the
//! generated `k8s-api` one, so the runtime does not depend on generated code.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use k8s_client::Client;
use k8s_core::ops::{CreateRequest, PatchRequest};
use k8s_core::{MicroTime, Object, ObjectMeta, Patch, Resource, Scope};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::{collection_path, object_path};

/// How long after its last occurrence a repeat still joins an event's series (6 minutes).
pub const SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);

/// The object an event is about (`regarding`, an `ObjectReference`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Reference {
    /// `apiVersion` of the object.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// Kind of the object.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Namespace (empty for cluster-scoped objects).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Uid.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
}

impl Reference {
    /// A reference to `obj`.
    pub fn from_obj<K: Object>(obj: &K) -> Self {
        Reference {
            api_version: K::API_VERSION.to_owned(),
            kind: K::KIND.to_owned(),
            namespace: obj.namespace().unwrap_or_default().to_owned(),
            name: obj.name().unwrap_or_default().to_owned(),
            uid: obj.uid().unwrap_or_default().to_owned(),
        }
    }
}

/// `type` of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventType {
    /// Something expected happened.
    Normal,
    /// Something may need attention.
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// `events.k8s.io/v1` `Event`: the fields the recorder writes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Event {
    /// Standard metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// When the event first happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<MicroTime>,
    /// Repeats of the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<Series>,
    /// The controller that reported it (`example.com/widget-operator`).
    #[serde(default)]
    pub reporting_controller: String,
    /// Which instance of that controller.
    #[serde(default)]
    pub reporting_instance: String,
    /// What was done (or failed).
    #[serde(default)]
    pub action: String,
    /// Why (CamelCase).
    #[serde(default)]
    pub reason: String,
    /// The object it is about.
    #[serde(default)]
    pub regarding: Reference,
    /// A human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// `Normal` or `Warning`.
    #[serde(rename = "type", default)]
    pub type_: String,
}

/// `series` of an [`Event`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Series {
    /// How often the event happened.
    pub count: i32,
    /// When it last happened.
    pub last_observed_time: MicroTime,
}

impl Resource for Event {
    const API_VERSION: &'static str = "events.k8s.io/v1";
    const GROUP: &'static str = "events.k8s.io";
    const VERSION: &'static str = "v1";
    const KIND: &'static str = "Event";
    const PLURAL: &'static str = "events";
    const SCOPE: Scope = Scope::Namespaced;
    const VERBS: &'static [&'static str] = &[
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    ];
    const SUBRESOURCES: &'static [&'static str] = &[];
}

impl Object for Event {
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// Writing an event failed.
#[derive(Debug, thiserror::Error)]
#[error("recording event {reason} about {kind} {name}: {source}")]
#[non_exhaustive]
pub struct Error {
    /// The event's reason.
    pub reason: String,
    /// Kind of the object.
    pub kind: String,
    /// `namespace/name` of the object.
    pub name: String,
    /// The client's error.
    #[source]
    pub source: k8s_client::Error,
}

/// What makes two events the same event.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    regarding: Reference,
    type_: EventType,
    reason: String,
    action: String,
    note: Option<String>,
}

/// The Event of a series, its count, and when it last happened.
struct Entry {
    namespace: String,
    name: String,
    count: i32,
    last: Instant,
}

/// Records events for one reporting controller instance (see the [module docs](self)).
pub struct Recorder {
    client: Client,
    controller: String,
    instance: String,
    series: Mutex<HashMap<Key, Entry>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("controller", &self.controller)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// A recorder reporting as `controller` (`example.com/widget-operator`), instance
    /// `instance` (such as the Pod name).
    pub fn new(client: Client, controller: &str, instance: &str) -> Self {
        Recorder {
            client,
            controller: controller.to_owned(),
            instance: instance.to_owned(),
            series: Mutex::new(HashMap::new()),
        }
    }

    /// Records an event about `regarding`: a new Event, or a repeat of an earlier one counted in
    /// its series. Events of cluster-scoped objects go to the `default` namespace.
    pub async fn publish(
        &self,
        regarding: &Reference,
        type_: EventType,
        reason: &str,
        action: &str,
        note: Option<&str>,
    ) -> Result<(), Error> {
        let key = Key {
            regarding: regarding.clone(),
            type_,
            reason: reason.to_owned(),
            action: action.to_owned(),
            note: note.map(str::to_owned),
        };
        let now = Instant::now();
        let repeat = {
            let mut series = self.lock();
            series.retain(|_, e| now.duration_since(e.last) < SERIES_WINDOW);
            series.get_mut(&key).map(|e| {
                e.count = e.count.saturating_add(1);
                e.last = now;
                (e.namespace.clone(), e.name.clone(), e.count)
            })
        };
        let fail = |source| Error {
            reason: reason.to_owned(),
            kind: regarding.kind.clone(),
            name: format!("{}/{}", regarding.namespace, regarding.name),
            source,
        };
        if let Some((ns, name, count)) = repeat {
            let patch = Patch::Merge(serde_json::json!({"series": {
                "count": count, "lastObservedTime": MicroTime::now()}}));
            let path = object_path::<Event>(Some(&ns), &name);
            match self
                .client
                .send(PatchRequest::<serde::de::IgnoredAny>::new(path, patch))
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(fail(e)),
            }
        }
        let ns = if regarding.namespace.is_empty() {
            "default".to_owned()
        } else {
            regarding.namespace.clone()
        };
        let name = format!("{}.{:016x}", regarding.name, fastrand::u64(..));
        let mut event = serde_json::json!({
            "apiVersion": Event::API_VERSION, "kind": Event::KIND,
            "metadata": {"name": name, "namespace": ns},
            "eventTime": MicroTime::now(),
            "reportingController": self.controller,
            "reportingInstance": self.instance,
            "action": action, "reason": reason, "type": type_.as_str(),
            "regarding": regarding,
        });
        if let Some(note) = note {
            event["note"] = serde_json::Value::from(note);
        }
        self.client
            .send(CreateRequest::<serde::de::IgnoredAny>::new(
                collection_path::<Event>(Some(&ns)),
                &event,
            ))
            .await
            .map_err(fail)?;
        self.lock().insert(
            key,
            Entry {
                namespace: ns,
                name,
                count: 1,
                last: now,
            },
        );
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        // Every update is one map operation: a panic cannot leave a half-done one.
        self.series.lock().unwrap_or_else(|e| e.into_inner())
    }
}
