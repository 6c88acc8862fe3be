//! The finalizer helper against the test server: added on the first reconcile, cleanup on
//! deletion, then removed so the server removes the object; a stale object gets 409.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_core::Object;
use k8s_core::ops::GetRequest;
use k8s_runtime::finalizer::{self, Event};
use k8s_runtime::watcher::Config;
use k8s_runtime::{Action, Controller};
use support::*;

const NAME: &str = "example.com/cleanup";

async fn get(client: &k8s_client::Client, name: &str) -> Result<ConfigMap, k8s_client::Error> {
    client
        .send(GetRequest::<ConfigMap>::new(format!("{CMS}/{name}")))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finalizer_is_added_then_cleanup_runs_on_deletion_and_it_is_removed() {
    let (_server, client) = server_and_client().await;
    let created = create(&client, "a", true).await;
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let ctx = Arc::new((client.clone(), log.clone()));
    let results = Controller::<ConfigMap>::namespaced(
        client.clone(),
        "default",
        Config::default().labels(SEL),
    )
    .run(
        |cm: Arc<ConfigMap>, ctx: Arc<(k8s_client::Client, Arc<Mutex<Vec<String>>>)>| async move {
            let log = ctx.1.clone();
            finalizer::finalizer(&ctx.0, NAME, cm, |event| async move {
                let entry = match event {
                    Event::Apply(cm) => format!("apply {}", cm.summary()),
                    Event::Cleanup(cm) => format!("cleanup {}", cm.summary()),
                };
                log.lock().unwrap().push(entry);
                Ok::<_, std::io::Error>(Action::await_change())
            })
            .await
        },
        |_, _, _| None,
        ctx,
    );
    let _results = tokio::spawn(results.for_each(|_| async {}));

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while log.lock().unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no apply");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let now = get(&client, "a").await.unwrap();
    assert_eq!(now.finalizers(), [NAME]);
    assert!(created.finalizers().is_empty());
    assert_eq!(
        *log.lock().unwrap(),
        ["apply a=v0"],
        "apply only once the finalizer is on"
    );

    delete(&client, "a").await;
    loop {
        match get(&client, "a").await {
            Err(e) if e.is_not_found() => break,
            Ok(cm) => assert!(cm.deletion_timestamp().is_some()),
            Err(e) => panic!("{e}"),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not removed: {:?}",
            log.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(*log.lock().unwrap(), ["apply a=v0", "cleanup a=v0"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_object_gets_a_conflict_and_other_finalizers_are_kept() {
    let (_server, client) = server_and_client().await;
    let stale = Arc::new(create(&client, "a", true).await);
    set(&client, "a", "v1").await;
    let never = |_: Event<ConfigMap>| async { Ok::<_, std::io::Error>(Action::await_change()) };
    let err = finalizer::finalizer(&client, NAME, stale, never)
        .await
        .unwrap_err();
    match &err {
        finalizer::Error::Add { source, .. } => assert!(source.is_conflict(), "{err}"),
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("ConfigMap default/a"), "{err}");

    // With another finalizer present, adding and removing ours keeps it.
    let patch =
        k8s_core::Patch::Merge(serde_json::json!({"metadata": {"finalizers": ["other/keep"]}}));
    client
        .send(k8s_core::ops::PatchRequest::<ConfigMap>::new(
            format!("{CMS}/a"),
            patch,
        ))
        .await
        .unwrap();
    let fresh = Arc::new(get(&client, "a").await.unwrap());
    finalizer::finalizer(&client, NAME, fresh, never)
        .await
        .unwrap();
    assert_eq!(
        get(&client, "a").await.unwrap().finalizers(),
        ["other/keep", NAME]
    );
    delete(&client, "a").await;
    let deleting = Arc::new(get(&client, "a").await.unwrap());
    assert!(deleting.deletion_timestamp().is_some());
    finalizer::finalizer(&client, NAME, deleting, never)
        .await
        .unwrap();
    let left = get(&client, "a").await.unwrap();
    assert_eq!(left.finalizers(), ["other/keep"]);
}
