//! The controller against the test server: what triggers a reconcile (the main kind, owned
//! objects, mapped objects, predicates), that each object's last state is reconciled, never two
//! reconciles of one object at once, retries after failures, and a graceful shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_core::Object;
use k8s_core::ops::CreateRequest;
use k8s_runtime::controller::{Config as ControllerConfig, Error};
use k8s_runtime::watcher::Config;
use k8s_runtime::{Action, Controller, ObjectRef, predicates};
use support::*;
use tokio::sync::oneshot;

/// What the reconciles saw.
#[derive(Default)]
struct Seen {
    /// `name=value` of each reconcile, in order.
    log: Mutex<Vec<String>>,
    /// Reconciles running now, and the most ever at once.
    running: AtomicUsize,
    most: AtomicUsize,
    /// Names being reconciled now, and whether one was ever reconciled twice at once.
    names: Mutex<std::collections::HashSet<String>>,
    overlap: std::sync::atomic::AtomicBool,
    /// Failures still to report, per name.
    fail: Mutex<BTreeMap<String, usize>>,
    /// How long each reconcile takes.
    delay: Mutex<Duration>,
}

impl Seen {
    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
    /// The last value reconciled of each name.
    fn last(&self) -> BTreeMap<String, String> {
        self.log()
            .iter()
            .filter_map(|s| s.split_once('='))
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }
    fn count(&self, name: &str) -> usize {
        let prefix = format!("{name}=");
        self.log().iter().filter(|s| s.starts_with(&prefix)).count()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("injected failure")]
struct Injected;

async fn reconcile(cm: Arc<ConfigMap>, seen: Arc<Seen>) -> Result<Action, Injected> {
    let now = seen.running.fetch_add(1, Ordering::SeqCst) + 1;
    seen.most.fetch_max(now, Ordering::SeqCst);
    if !seen.names.lock().unwrap().insert(cm.name_any().to_string()) {
        seen.overlap.store(true, Ordering::SeqCst);
    }
    let delay = *seen.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    seen.running.fetch_sub(1, Ordering::SeqCst);
    let name = cm.name_any().to_string();
    seen.names.lock().unwrap().remove(&name);
    seen.log.lock().unwrap().push(cm.summary());
    let mut fail = seen.fail.lock().unwrap();
    if let Some(n) = fail.get_mut(&name).filter(|n| **n > 0) {
        *n -= 1;
        return Err(Injected);
    }
    Ok(Action::await_change())
}

/// Waits (10 s at most) until `cond` holds.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn fast() -> Config {
    Config::default()
        .labels(SEL)
        .backoff(Duration::from_millis(10), Duration::from_millis(50))
}

fn key(name: &str) -> ObjectRef {
    ObjectRef::new::<ConfigMap>(Some("default"), name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_objects_last_state_is_reconciled_never_two_at_once_per_object() {
    let (_server, client) = server_and_client().await;
    for n in ["a", "b"] {
        create(&client, n, true).await;
    }
    create(&client, "unselected", false).await;
    let seen = Arc::new(Seen::default());
    *seen.delay.lock().unwrap() = Duration::from_millis(20);
    let (stop, stopped) = oneshot::channel::<()>();
    let results = Controller::<ConfigMap>::namespaced(client.clone(), "default", fast())
        .with_config(ControllerConfig::default().concurrency(4))
        .shutdown_on(async {
            let _ = stopped.await;
        })
        .run(reconcile, |_, _, _| None, seen.clone());
    let results = tokio::spawn(results.collect::<Vec<_>>());

    eventually("a and b reconciled", || {
        seen.count("a") == 1 && seen.count("b") == 1
    })
    .await;
    // Many changes of one object while it is being reconciled: its reconciles never overlap
    // and the last one sees the last value.
    for i in 1..=20 {
        set(&client, "a", &format!("v{i}")).await;
    }
    create(&client, "c", true).await;
    delete(&client, "b").await;
    eventually("the last values reconciled", || {
        seen.last().get("a").map(String::as_str) == Some("v20")
            && seen.last().get("c").map(String::as_str) == Some("v0")
    })
    .await;
    assert!(
        seen.count("a") < 21,
        "changes arriving while a waits are merged: {:?}",
        seen.log()
    );
    assert_eq!(seen.count("b"), 1, "a deletion is not reconciled");
    assert_eq!(seen.count("unselected"), 0);
    // Different objects run at once, never one object twice.
    assert!(!seen.overlap.load(Ordering::SeqCst), "{:?}", seen.log());
    assert!(seen.most.load(Ordering::SeqCst) >= 2);

    stop.send(()).unwrap();
    let results = tokio::time::timeout(Duration::from_secs(10), results)
        .await
        .expect("the result stream ends after shutdown")
        .unwrap();
    let reconciled: Vec<&ObjectRef> = results.iter().map(|r| &r.as_ref().unwrap().0).collect();
    assert_eq!(reconciled.len(), seen.log().len());
    assert!(reconciled.contains(&&key("c")));
}

/// Creates a config map `name` owned (as controller) by the config map `owner`.
async fn create_child(client: &k8s_client::Client, name: &str, owner: &ConfigMap) {
    let body = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"test": "child"},
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "controller": true,
                "name": owner.name_any(), "uid": owner.uid().unwrap()}]},
        "data": {"k": "v0"}});
    client
        .send(CreateRequest::<ConfigMap>::new(CMS.into(), &body))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owned_and_mapped_objects_trigger_their_owners() {
    let (_server, client) = server_and_client().await;
    let parent = create(&client, "parent", true).await;
    create(&client, "other", true).await;
    let seen = Arc::new(Seen::default());
    let results = Controller::<ConfigMap>::namespaced(client.clone(), "default", fast())
        .owns::<ConfigMap>(Config::default().labels("test=child"))
        .watches::<ConfigMap, _, _>(Config::default().labels("test=pointer"), |cm| {
            cm.annotations()
                .get("points-to")
                .map(|n| ObjectRef::new::<ConfigMap>(cm.namespace(), n))
        })
        .run(reconcile, |_, _, _| None, seen.clone());
    let _results = tokio::spawn(results.for_each(|_| async {}));
    eventually("initial reconciles", || {
        seen.count("parent") == 1 && seen.count("other") == 1
    })
    .await;

    create_child(&client, "child", &parent).await;
    eventually("the owner reconciled for its child", || {
        seen.count("parent") == 2
    })
    .await;
    delete(&client, "child").await;
    eventually("the owner reconciled for its child's deletion", || {
        seen.count("parent") == 3
    })
    .await;

    let body = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "pointer", "labels": {"test": "pointer"},
            "annotations": {"points-to": "other"}}});
    client
        .send(CreateRequest::<ConfigMap>::new(CMS.into(), &body))
        .await
        .unwrap();
    eventually("the mapped object reconciled", || seen.count("other") == 2).await;
    assert_eq!(seen.count("parent"), 3, "{:?}", seen.log());
    assert_eq!(seen.count("child"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_predicate_drops_changes_it_does_not_care_about() {
    let (_server, client) = server_and_client().await;
    create(&client, "a", true).await;
    let seen = Arc::new(Seen::default());
    let results = Controller::<ConfigMap>::namespaced(client.clone(), "default", fast())
        .with_predicate(predicates::annotations)
        .run(reconcile, |_, _, _| None, seen.clone());
    let _results = tokio::spawn(results.for_each(|_| async {}));
    eventually("reconciled once", || seen.count("a") == 1).await;

    set(&client, "a", "data-only").await;
    let patch = k8s_core::Patch::Merge(serde_json::json!({
        "metadata": {"annotations": {"x": "1"}}, "data": {"k": "annotated"}}));
    client
        .send(k8s_core::ops::PatchRequest::<ConfigMap>::new(
            format!("{CMS}/a"),
            patch,
        ))
        .await
        .unwrap();
    eventually("reconciled after the annotation changed", || {
        seen.count("a") == 2
    })
    .await;
    assert_eq!(seen.log(), ["a=v0", "a=annotated"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_with_backoff_or_as_the_error_policy_says() {
    let (_server, client) = server_and_client().await;
    create(&client, "retried", true).await;
    create(&client, "given-up", true).await;
    let seen = Arc::new(Seen::default());
    seen.fail
        .lock()
        .unwrap()
        .extend([("retried".to_string(), 3), ("given-up".to_string(), 100)]);
    let results = Controller::<ConfigMap>::namespaced(client.clone(), "default", fast())
        .with_config(
            ControllerConfig::default()
                .backoff(Duration::from_millis(5), Duration::from_millis(40)),
        )
        .run(
            reconcile,
            |cm: Arc<ConfigMap>, _: &Injected, _| {
                (cm.name_any() == "given-up").then(Action::await_change)
            },
            seen.clone(),
        );
    let errors = Arc::new(Mutex::new(Vec::new()));
    let sink = errors.clone();
    let _results = tokio::spawn(results.for_each(move |r| {
        if let Err(Error::Reconcile { object, .. }) = r {
            sink.lock().unwrap().push(object.name);
        }
        async {}
    }));
    eventually("retried until it succeeded", || seen.count("retried") == 4).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(seen.count("retried"), 4, "no retry after the success");
    assert_eq!(
        seen.count("given-up"),
        1,
        "the error policy said: await a change"
    );
    let mut errors = errors.lock().unwrap().clone();
    errors.sort();
    assert_eq!(errors, ["given-up", "retried", "retried", "retried"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_running_reconciles_finish_and_starts_no_new_one() {
    let (_server, client) = server_and_client().await;
    create(&client, "slow", true).await;
    let seen = Arc::new(Seen::default());
    *seen.delay.lock().unwrap() = Duration::from_millis(500);
    let (stop, stopped) = oneshot::channel::<()>();
    let results = Controller::<ConfigMap>::namespaced(client.clone(), "default", fast())
        .shutdown_on(async {
            let _ = stopped.await;
        })
        .run(reconcile, |_, _, _| None, seen.clone());
    let results = tokio::spawn(results.collect::<Vec<_>>());
    eventually("the reconcile started", || {
        seen.running.load(Ordering::SeqCst) == 1
    })
    .await;
    stop.send(()).unwrap();
    set(&client, "slow", "after-shutdown").await;
    let results = tokio::time::timeout(Duration::from_secs(10), results)
        .await
        .expect("the result stream ends")
        .unwrap();
    assert_eq!(seen.log(), ["slow=v0"], "the running reconcile finished");
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].as_ref().unwrap().0, key("slow"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_aborts_reconciles_that_outlive_the_grace_period() {
    let (_server, client) = server_and_client().await;
    create(&client, "stuck", true).await;
    let seen = Arc::new(Seen::default());
    *seen.delay.lock().unwrap() = Duration::from_secs(3600);
    let (stop, stopped) = oneshot::channel::<()>();
    let results = Controller::<ConfigMap>::namespaced(client.clone(), "default", fast())
        .with_config(ControllerConfig::default().grace(Duration::from_millis(100)))
        .shutdown_on(async {
            let _ = stopped.await;
        })
        .run(reconcile, |_, _, _| None, seen.clone());
    let results = tokio::spawn(results.collect::<Vec<_>>());
    eventually("the reconcile started", || {
        seen.running.load(Ordering::SeqCst) == 1
    })
    .await;
    stop.send(()).unwrap();
    let results = tokio::time::timeout(Duration::from_secs(5), results)
        .await
        .expect("the result stream ends after the grace period")
        .unwrap();
    assert!(results.is_empty());
    assert!(seen.log().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controllers_store_has_the_indexes_it_was_given() {
    let (_server, client) = server_and_client().await;
    create(&client, "a", true).await;
    let controller = Controller::<ConfigMap>::namespaced(
        client.clone(),
        "default",
        Config::default(), // every config map, selected or not
    )
    .index("test", k8s_runtime::store::by_label("test"));
    let store = controller.store();
    let seen = Arc::new(Seen::default());
    let results = controller.run(reconcile, |_, _, _| None, seen.clone());
    let _results = tokio::spawn(results.for_each(|_| async {}));
    store.wait_until_ready().await.unwrap();
    create(&client, "b", true).await;
    create(&client, "c", false).await;
    eventually("c reconciled", || seen.count("c") == 1).await;
    let mut selected: Vec<String> = store
        .by_index("test", "runtime")
        .iter()
        .map(|o| o.name_any().to_string())
        .collect();
    selected.sort();
    assert_eq!(selected, ["a", "b"]);
    assert_eq!(store.by_index("test", "other").len(), 1);
}
