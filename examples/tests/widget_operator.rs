//! The Widget operator (`k8s_sdk_examples::widget_operator`) end to end: against the in-process
//! test server, and against the real kube-apiserver with kube-controller-manager (skipped with
//! one line unless the envtest binaries are installed; `K8S_ENVTEST_REQUIRED=1` makes that a
//! failure), where the garbage collector deletes the Widget's ConfigMap after the Widget.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use k8s_api::latest::core::v1::ConfigMap;
use k8s_client::{Client, ConfigLoader};
use k8s_core::ops::DeleteRequest;
use k8s_core::{Object, Patch};
use k8s_runtime::object_path;
use k8s_sdk_examples::widget_operator::{self as op, ConditionStatus, Widget};
use k8s_testserver::TestServer;
use tokio::sync::oneshot;

/// Polls `probe` until it returns `Some` (30 s at most).
async fn eventually<T, F, Fut>(what: &str, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_within(Duration::from_secs(30), what, probe).await
}

/// Polls `probe` until it returns `Some` (`limit` at most).
async fn eventually_within<T, F, Fut>(limit: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The Widget `name` is synced: its ConfigMap holds `want`, its status is Ready for its current
/// generation. Returns the Widget.
async fn synced(client: &Client, ns: &str, name: &str, want: &BTreeMap<String, String>) -> Widget {
    eventually(&format!("Widget {name} synced to {want:?}"), || async {
        let w = op::get_widget(client, ns, name).await.ok()?;
        let cm = op::get_config_map(client, ns, &w.config_map_name())
            .await
            .ok()?;
        let status = w.status.as_ref()?;
        let ready = w.ready()?;
        (cm.data.as_ref() == Some(want)
            && status.observed_generation == w.generation()
            && ready.status == ConditionStatus::True
            && ready.observed_generation == w.generation())
        .then_some(w)
    })
    .await
}

/// The whole life of a Widget under the operator; `gc` says whether a garbage collector runs.
async fn widget_life(client: Client, ns: &str, gc: bool) {
    op::install_crd(&client).await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let results = op::run(client.clone(), ns, async {
        let _ = stopped.await;
    });
    let results = tokio::spawn(
        results
            .inspect(|r| {
                if let Err(e) = r {
                    eprintln!("operator: {e}: {:?}", std::error::Error::source(e));
                }
            })
            .collect::<Vec<_>>(),
    );

    // Created: ConfigMap, owner reference, finalizer, index entry, status.
    let widget = Widget::new(ns, "w1", data(&[("color", "blue")]));
    client.send(Widget::create(ns, &widget)).await.unwrap();
    let w = synced(&client, ns, "w1", &data(&[("color", "blue")])).await;
    assert_eq!(w.finalizers(), [op::FINALIZER]);
    let cm = op::get_config_map(&client, ns, "w1-config").await.unwrap();
    let owner = &cm.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
        ("Widget", "w1", w.uid().unwrap())
    );
    assert_eq!(owner.controller, Some(true));
    let index = op::get_config_map(&client, ns, op::INDEX).await.unwrap();
    assert_eq!(index.data, Some(data(&[("w1", "w1-config")])));

    // The spec changes: the ConfigMap follows, observedGeneration moves on.
    let patch = Patch::Merge(serde_json::json!({"spec": {"data": {"color": "red", "size": "L"}}}));
    client.send(Widget::patch(ns, "w1", patch)).await.unwrap();
    let w2 = synced(&client, ns, "w1", &data(&[("color", "red"), ("size", "L")])).await;
    assert!(w2.generation() > w.generation());

    // The ConfigMap deleted by hand comes back (the controller owns it).
    let cm_path = object_path::<ConfigMap>(Some(ns), "w1-config");
    client
        .send(DeleteRequest::<serde_json::Value>::new(cm_path))
        .await
        .unwrap();
    let old_uid = cm.uid().unwrap().to_owned();
    eventually("the ConfigMap recreated", || async {
        let cm = op::get_config_map(&client, ns, "w1-config").await.ok()?;
        (cm.uid() != Some(old_uid.as_str())).then_some(())
    })
    .await;

    // Deleted: the finalizer removes the index entry, then the Widget goes.
    client.send(Widget::delete(ns, "w1")).await.unwrap();
    eventually("the Widget removed", || async {
        match op::get_widget(&client, ns, "w1").await {
            Err(op::Error::Api { source, .. }) if source.is_not_found() => Some(()),
            _ => None,
        }
    })
    .await;
    let index = op::get_config_map(&client, ns, op::INDEX).await.unwrap();
    assert_eq!(index.data.unwrap_or_default(), BTreeMap::new());
    if gc {
        // kube-controller-manager's garbage collector watches a new custom resource only after
        // its next discovery resync (every 30 s), so this can take a while.
        let t = tokio::time::Instant::now();
        eventually_within(
            Duration::from_secs(120),
            "the garbage collector deleted the ConfigMap",
            || async {
                match op::get_config_map(&client, ns, "w1-config").await {
                    Err(op::Error::Api { source, .. }) if source.is_not_found() => Some(()),
                    _ => None,
                }
            },
        )
        .await;
        eprintln!(
            "garbage collection of the ConfigMap took {:.1?}",
            t.elapsed()
        );
    } else {
        // No garbage collector: the ConfigMap stays, owned by a Widget that is gone.
        let cm = op::get_config_map(&client, ns, "w1-config").await.unwrap();
        assert_eq!(cm.owner_references()[0].uid, w.uid().unwrap());
    }

    stop.send(()).unwrap();
    let results = tokio::time::timeout(Duration::from_secs(30), results)
        .await
        .expect("the operator stops")
        .unwrap();
    let failures: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(ToString::to_string))
        .collect();
    assert!(
        results.iter().any(Result::is_ok),
        "no successful reconcile; failures: {failures:?}"
    );
    // Conflicts are retried (a reconcile working on a state older than the last write); nothing
    // else fails.
    for f in &failures {
        assert!(f.contains("409") || f.contains("Conflict"), "{f}");
    }
    assert_eq!(op::list_widgets(&client, ns).await.unwrap().items.len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn widget_operator_against_the_test_server() {
    let server = TestServer::builder()
        .token("admin-token", "admin", &["system:masters"])
        .start()
        .await
        .unwrap();
    let config = ConfigLoader::new()
        .env_map(BTreeMap::new())
        .kubeconfig_paths([server.kubeconfig_for("admin-token")])
        .kubeconfig()
        .unwrap();
    widget_life(Client::try_from(config).unwrap(), "default", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn widget_operator_against_the_real_apiserver_with_garbage_collection() {
    let Some(binaries) = k8s_envtest::binaries_or_skip().unwrap() else {
        return;
    };
    let env = k8s_envtest::EnvTest::builder()
        .controller_manager()
        .binaries(binaries)
        .start()
        .await
        .unwrap();
    widget_life(env.client(), "default", true).await;
}
