//! `widget-operator`: a controller for a `Widget` custom resource, on `k8s-runtime`.
//!
//! A `Widget` (`example.com/v1`, namespaced, with status and scale subresources) holds
//! `spec.data`, a map of strings. For each Widget the operator
//! * keeps a ConfigMap `<widget>-config` whose `data` is the Widget's `spec.data` (server-side
//!   apply, field manager [`MANAGER`]), owned by the Widget (controller owner reference with
//!   `blockOwnerDeletion`), so that the garbage collector deletes it with the Widget;
//! * lists the Widget in the namespace's index ConfigMap [`INDEX`] (`data.<widget>` = its
//!   ConfigMap's name). The index is shared by every Widget, so no owner reference can clean it:
//!   the finalizer [`FINALIZER`] removes the Widget's entry before the Widget goes;
//! * writes `status.observedGeneration` and a `Ready` condition through the status subresource
//!   (server-side apply of the generated apply types).
//!
//! The controller reconciles a Widget when its generation changes (a spec change or the start
//! of its deletion), when its finalizers change (the finalizer it adds) and when its ConfigMap
//! changes or is deleted (`owns`), so a ConfigMap edited or deleted by hand is put back.
//!
//! The `Widget` types are generated from the CustomResourceDefinition `crds/widget.yaml` by this
//! crate's `build.rs` (`k8s_codegen::crd`, as an operator's own build script would), and [`crd`]
//! is that same manifest: [`Widget`], [`WidgetSpec`], [`WidgetStatus`] and the apply types of
//! [`apply`] (used for the status, by server-side apply) are the generated ones; this module adds
//! only the few methods the operator needs ([`Widget::new`], [`Widget::config_map_name`],
//! [`Widget::ready`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use k8s_api::latest::core::v1::ConfigMap;
use k8s_client::Client;
use k8s_core::ops::{CreateRequest, GetRequest, PatchRequest};
use k8s_core::{List, Object, ObjectMeta, OwnerReference, Patch, Resource};
use k8s_runtime::finalizer::{self, Event};
use k8s_runtime::{
    Action, Controller, ObjectRef, collection_path, object_path, predicates, watcher,
};

/// The types generated from `crds/widget.yaml` (group `example.com`, version `v1`).
// The generator documents every field from the CRD's descriptions but leaves the standard
// `metadata` field without a doc comment; the operator uses only some of the operations.
#[allow(missing_docs, dead_code)]
pub mod generated {
    include!(concat!(env!("OUT_DIR"), "/crds/all.rs"));
}

pub use generated::example_com::v1::{
    Widget, WidgetSpec, WidgetStatus, WidgetStatusConditions as Condition,
    WidgetStatusConditionsStatus as ConditionStatus, apply,
};

/// The field manager of the operator's server-side applies.
pub const MANAGER: &str = "widget-operator";
/// The finalizer that removes a Widget's index entry.
pub const FINALIZER: &str = "example.com/widget-index";
/// The name of each namespace's index ConfigMap.
pub const INDEX: &str = "widget-index";

impl Widget {
    /// A Widget `namespace/name` with `spec.data`.
    pub fn new(namespace: &str, name: &str, data: BTreeMap<String, String>) -> Self {
        Widget {
            metadata: ObjectMeta::namespaced(namespace, name),
            spec: Some(WidgetSpec {
                data: Some(data),
                ..WidgetSpec::default()
            }),
            status: None,
        }
    }

    /// `spec.data` (empty when unset).
    pub fn data(&self) -> BTreeMap<String, String> {
        self.spec
            .as_ref()
            .and_then(|s| s.data.clone())
            .unwrap_or_default()
    }

    /// The name of the Widget's ConfigMap.
    pub fn config_map_name(&self) -> String {
        format!("{}-config", self.name_any())
    }

    /// The `Ready` condition, if set.
    pub fn ready(&self) -> Option<&Condition> {
        self.status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_ == "Ready")
    }
}

/// The CustomResourceDefinition of [`Widget`]: `crds/widget.yaml`, the manifest the types were
/// generated from (as JSON, written by `build.rs`).
pub fn crd() -> Result<serde_json::Value, serde_json::Error> {
    serde_json::from_str(include_str!(concat!(env!("OUT_DIR"), "/widget-crd.json")))
}

/// What went wrong in the operator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An API request failed.
    #[error("{what}: {source}")]
    Api {
        /// Which request.
        what: String,
        /// The client's error.
        #[source]
        source: k8s_client::Error,
    },
    /// A request could not be built.
    #[error("{0}")]
    Request(#[from] k8s_core::RequestError),
    /// The finalizer failed.
    #[error(transparent)]
    Finalizer(Box<finalizer::Error<Error>>),
    /// The embedded CRD manifest could not be read (a build defect).
    #[error("the embedded Widget CRD (crds/widget.yaml): {0}")]
    Crd(#[source] serde_json::Error),
    /// The CRD did not become served in time.
    #[error("the Widget CRD was not served after {0:?}")]
    CrdNotServed(Duration),
}

fn api(what: impl Into<String>) -> impl FnOnce(k8s_client::Error) -> Error {
    let what = what.into();
    move |source| Error::Api { what, source }
}

/// Creates the Widget CRD (if absent) and waits until Widgets are served.
pub async fn install_crd(client: &Client) -> Result<(), Error> {
    let path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions".to_string();
    match client
        .send(CreateRequest::<serde::de::IgnoredAny>::new(
            path,
            &crd().map_err(Error::Crd)?,
        ))
        .await
    {
        Ok(_) => {}
        Err(e) if e.is_already_exists() => {}
        Err(e) => return Err(api("creating the Widget CRD")(e)),
    }
    let wait = Duration::from_secs(30);
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let list = Widget::list_all_namespaces().limit(1);
        match client.send(list).await {
            Ok(_) => return Ok(()),
            Err(e) if e.is_not_found() && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) if e.is_not_found() => return Err(Error::CrdNotServed(wait)),
            Err(e) => return Err(api("listing Widgets")(e)),
        }
    }
}

/// Runs the operator for the Widgets of `namespace` until `shutdown` completes; the stream of
/// reconcile results (see [`Controller::run`]).
pub fn run<S>(
    client: Client,
    namespace: &str,
    shutdown: S,
) -> impl Stream<Item = Result<(ObjectRef, Action), k8s_runtime::controller::Error<Error>>> + Send + use<S>
where
    S: std::future::Future<Output = ()> + Send + 'static,
{
    Controller::<Widget>::namespaced(client.clone(), namespace, watcher::Config::default())
        .owns::<ConfigMap>(watcher::Config::default())
        .with_predicate(predicates::generation)
        // The finalizer's arrival is a metadata change without a new generation.
        .with_predicate(predicates::finalizers)
        .shutdown_on(shutdown)
        .with_config(k8s_runtime::controller::Config::default().concurrency(4))
        .run(reconcile, |_, _, _| None, Arc::new(client))
}

/// One reconcile of a Widget, under the finalizer.
pub async fn reconcile(widget: Arc<Widget>, client: Arc<Client>) -> Result<Action, Error> {
    finalizer::finalizer(&client, FINALIZER, widget, |event| async {
        match event {
            Event::Apply(w) => apply(&client, &w).await,
            Event::Cleanup(w) => cleanup(&client, &w).await,
        }
    })
    .await
    .map_err(|e| match e {
        finalizer::Error::Reconcile(e) => e,
        other => Error::Finalizer(Box::new(other)),
    })
}

/// Makes the ConfigMap and the index match the Widget, then writes the status.
async fn apply(client: &Client, w: &Widget) -> Result<Action, Error> {
    let ns = w.namespace().unwrap_or("default");
    let cm_name = w.config_map_name();
    let mut owner = OwnerReference::new(
        Widget::API_VERSION,
        Widget::KIND,
        w.name_any(),
        w.uid().unwrap_or_default(),
    );
    owner.controller = Some(true);
    owner.block_owner_deletion = Some(true);
    let cm = ConfigMap {
        metadata: ObjectMeta {
            owner_references: Some(vec![owner]),
            ..ObjectMeta::namespaced(ns, &cm_name)
        },
        data: Some(w.data()),
        ..ConfigMap::default()
    };
    let path = object_path::<ConfigMap>(Some(ns), &cm_name);
    client
        .send(
            PatchRequest::<ConfigMap>::new(path, Patch::apply(&cm)?)
                .field_manager(MANAGER)
                .force(),
        )
        .await
        .map_err(api(format!("applying ConfigMap {ns}/{cm_name}")))?;

    set_index_entry(client, ns, w.name_any(), Some(&cm_name)).await?;

    let generation = w.generation();
    let already = w.status.as_ref().and_then(|s| s.observed_generation) == generation
        && w.ready().is_some_and(|c| c.status == ConditionStatus::True);
    if !already {
        // Server-side apply of the status with the generated apply types: the operator owns
        // `observedGeneration` and the `Ready` condition (`conditions` is a map keyed by type).
        let mut status = apply::Widget::namespaced(ns, w.name_any());
        status.status = Some(apply::WidgetStatus {
            observed_generation: generation,
            conditions: Some(vec![apply::WidgetStatusConditions {
                type_: Some("Ready".into()),
                status: Some(ConditionStatus::True),
                observed_generation: generation,
                last_transition_time: Some(k8s_core::Time::now()),
                reason: Some("ConfigMapSynced".into()),
                message: Some(format!("ConfigMap {cm_name} holds spec.data")),
            }]),
            ..apply::WidgetStatus::default()
        });
        client
            .send(
                Widget::patch_status(ns, w.name_any(), Patch::apply(&status)?)
                    .field_manager(MANAGER)
                    .force(),
            )
            .await
            .map_err(api(format!(
                "writing the status of Widget {ns}/{}",
                w.name_any()
            )))?;
    }
    Ok(Action::requeue(Duration::from_secs(300)))
}

/// Removes the Widget's index entry (its ConfigMap goes with it, by garbage collection).
async fn cleanup(client: &Client, w: &Widget) -> Result<Action, Error> {
    let ns = w.namespace().unwrap_or("default");
    set_index_entry(client, ns, w.name_any(), None).await?;
    Ok(Action::await_change())
}

/// Sets (or with `None` removes) `data.<widget>` of the namespace's index ConfigMap.
async fn set_index_entry(
    client: &Client,
    ns: &str,
    widget: &str,
    value: Option<&str>,
) -> Result<(), Error> {
    let path = object_path::<ConfigMap>(Some(ns), INDEX);
    let patch = Patch::Merge(serde_json::json!({"data": {widget: value}}));
    match client
        .send(PatchRequest::<ConfigMap>::new(path.clone(), patch))
        .await
    {
        Ok(_) => return Ok(()),
        Err(e) if e.is_not_found() && value.is_some() => {}
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(api(format!("updating ConfigMap {ns}/{INDEX}"))(e)),
    }
    let index = ConfigMap {
        metadata: ObjectMeta::namespaced(ns, INDEX),
        data: Some(BTreeMap::from([(
            widget.to_owned(),
            value.unwrap_or_default().to_owned(),
        )])),
        ..ConfigMap::default()
    };
    match client
        .send(CreateRequest::<ConfigMap>::new(
            collection_path::<ConfigMap>(Some(ns)),
            &index,
        ))
        .await
    {
        Ok(_) => Ok(()),
        // Created by another reconcile meanwhile: patch it.
        Err(e) if e.is_already_exists() => {
            let patch = Patch::Merge(serde_json::json!({"data": {widget: value}}));
            client
                .send(PatchRequest::<ConfigMap>::new(path, patch))
                .await
                .map(|_| ())
                .map_err(api(format!("updating ConfigMap {ns}/{INDEX}")))
        }
        Err(e) => Err(api(format!("creating ConfigMap {ns}/{INDEX}"))(e)),
    }
}

/// Reads the Widget `namespace/name`.
pub async fn get_widget(client: &Client, namespace: &str, name: &str) -> Result<Widget, Error> {
    client
        .send(Widget::read(namespace, name))
        .await
        .map_err(api(format!("reading Widget {namespace}/{name}")))
}

/// Reads the ConfigMap `namespace/name`.
pub async fn get_config_map(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<ConfigMap, Error> {
    client
        .send(GetRequest::<ConfigMap>::new(object_path::<ConfigMap>(
            Some(namespace),
            name,
        )))
        .await
        .map_err(api(format!("reading ConfigMap {namespace}/{name}")))
}

/// The Widgets of `namespace`.
pub async fn list_widgets(client: &Client, namespace: &str) -> Result<List<Widget>, Error> {
    client
        .send(Widget::list(namespace))
        .await
        .map_err(api(format!("listing Widgets in {namespace}")))
}
