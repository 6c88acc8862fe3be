//! Finalizers: cleanup that runs before the API server removes an object.
//!
//! [`finalizer()`] wraps a reconcile: on the first reconcile of an object it adds the
//! finalizer `name` (and waits for the change that brings); while the object lives it runs
//! the reconcile with [`Event::Apply`]; once the object's deletion has started it runs it with
//! [`Event::Cleanup`] and, when that succeeds, removes the finalizer so that the server can
//! remove the object. Both changes of `metadata.finalizers` are JSON merge patches that carry the
//! object's `resourceVersion`, so a change based on an old state fails with 409 Conflict (and the
//! controller retries on the newer object) instead of dropping another finalizer.
//!
//! ```no_run
//! use std::sync::Arc;
//! use k8s_runtime::{Action, finalizer::{self, Event}};
//! # async fn reconcile<Widget: k8s_core::Object + serde::de::DeserializeOwned>(w: Arc<Widget>, client: k8s_client::Client) -> Result<Action, finalizer::Error<k8s_client::Error>> {
//! finalizer::finalizer(&client, "example.com/cleanup", w, |event| async move {
//!     match event {
//!         Event::Apply(w) => { /* create or update what `w` owns */ }
//!         Event::Cleanup(w) => { /* delete what the garbage collector would not */ }
//!     }
//!     Ok::<_, k8s_client::Error>(Action::await_change())
//! })
//! .await
//! # }
//! ```

use std::future::Future;
use std::sync::Arc;

use k8s_client::Client;
use k8s_core::ops::PatchRequest;
use k8s_core::{Object, Patch};
use serde::de::DeserializeOwned;

use crate::{Action, object_path};

/// What the reconcile inside [`finalizer()`] is asked to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Event<K> {
    /// The object lives (and carries the finalizer): make the world match it.
    Apply(Arc<K>),
    /// The object is being deleted: clean up; the finalizer is removed when this succeeds.
    Cleanup(Arc<K>),
}

/// What went wrong in [`finalizer()`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error<E: std::error::Error + 'static> {
    /// The reconcile (apply or cleanup) failed; the finalizer stays.
    #[error("{0}")]
    Reconcile(#[source] E),
    /// Adding the finalizer failed (409 Conflict when the object changed meanwhile).
    #[error("adding finalizer {name} to {object}: {source}")]
    Add {
        /// The finalizer.
        name: String,
        /// `namespace/name` of the object.
        object: String,
        /// The API error.
        #[source]
        source: k8s_client::Error,
    },
    /// Removing the finalizer after the cleanup failed (the cleanup runs again).
    #[error("removing finalizer {name} from {object}: {source}")]
    Remove {
        /// The finalizer.
        name: String,
        /// `namespace/name` of the object.
        object: String,
        /// The API error.
        #[source]
        source: k8s_client::Error,
    },
    /// The object has no name (it cannot be patched).
    #[error("the object has no name")]
    Unnamed,
}

/// Runs `reconcile` for `object` under the finalizer `name` (see the [module docs](self)).
///
/// Returns what the reconcile returned, or [`Action::AwaitChange`] after adding the finalizer
/// (the patch is itself a change, which queues the object again) and for an object being deleted
/// without this finalizer (nothing left to do).
pub async fn finalizer<K, F, Fut, E>(
    client: &Client,
    name: &str,
    object: Arc<K>,
    reconcile: F,
) -> Result<Action, Error<E>>
where
    K: Object + DeserializeOwned,
    F: FnOnce(Event<K>) -> Fut,
    Fut: Future<Output = Result<Action, E>>,
    E: std::error::Error + 'static,
{
    let Some(object_name) = object.name().map(str::to_owned) else {
        return Err(Error::Unnamed);
    };
    let has = object.finalizers().iter().any(|f| f == name);
    let deleting = object.deletion_timestamp().is_some();
    let describe = || match object.namespace() {
        Some(ns) => format!("{} {ns}/{object_name}", K::KIND),
        None => format!("{} {object_name}", K::KIND),
    };
    match (deleting, has) {
        (false, false) => {
            let mut finalizers = object.finalizers().to_vec();
            finalizers.push(name.to_owned());
            set_finalizers(client, &*object, &object_name, finalizers)
                .await
                .map_err(|source| Error::Add {
                    name: name.to_owned(),
                    object: describe(),
                    source,
                })?;
            Ok(Action::AwaitChange)
        }
        (false, true) => reconcile(Event::Apply(object))
            .await
            .map_err(Error::Reconcile),
        (true, true) => {
            let action = reconcile(Event::Cleanup(object.clone()))
                .await
                .map_err(Error::Reconcile)?;
            let finalizers: Vec<String> = object
                .finalizers()
                .iter()
                .filter(|f| *f != name)
                .cloned()
                .collect();
            match set_finalizers(client, &*object, &object_name, finalizers).await {
                Ok(()) => Ok(action),
                // Already gone: the cleanup was the last thing it waited for.
                Err(e) if e.is_not_found() => Ok(Action::AwaitChange),
                Err(source) => Err(Error::Remove {
                    name: name.to_owned(),
                    object: describe(),
                    source,
                }),
            }
        }
        (true, false) => Ok(Action::AwaitChange),
    }
}

/// Sets `metadata.finalizers` with a merge patch guarded by the object's resource version.
async fn set_finalizers<K: Object + DeserializeOwned>(
    client: &Client,
    object: &K,
    name: &str,
    finalizers: Vec<String>,
) -> Result<(), k8s_client::Error> {
    let mut metadata = serde_json::json!({ "finalizers": finalizers });
    if let Some(rv) = object.resource_version() {
        metadata["resourceVersion"] = serde_json::Value::from(rv);
    }
    let patch = Patch::Merge(serde_json::json!({ "metadata": metadata }));
    let path = object_path::<K>(object.namespace(), name);
    client
        .send(PatchRequest::<serde::de::IgnoredAny>::new(path, patch))
        .await
        .map(|_| ())
}
