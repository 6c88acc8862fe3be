//! k8s-client end to end against a real kube-apiserver 1.36 (issue 14, part 3): every way a
//! kubeconfig authenticates (static token, client certificate, basic credentials, an exec
//! plugin, a token file, a certificate of a foreign CA) and verifies the server (CA,
//! `tls-server-name`, `insecure-skip-tls-verify`), in-cluster configuration with a real service-account token, token
//! rotation after a revoked token (the token file re-read and the exec plugin re-run after a
//! 401), `list_all` over more than 500 objects in small pages, server-side apply conflicts and
//! `force`, dry-run defaults, an immutable field's 422, a watch across an apiserver restart and a
//! watch that resumes after etcd compacted its resource version (410, then `Restarted`), and a
//! `list_all` given a continue token that compaction expired (410, then the list starts again).
//!
//! Every assertion is on the real server's answer, typed through `k8s_client::Error`.
//!
//! One control plane serves every case (cases run concurrently, each in its own namespace; the
//! restart and the compaction cases run last, as they restart the apiserver). A case that fails
//! does not stop the others: the test fails at the end naming each failed case. The time of
//! each case and of the whole run is printed.
//!
//! Without the binaries (`cargo xtask envtest install`) the test prints one line and passes;
//! `K8S_ENVTEST_REQUIRED=1` makes a missing installation a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_api::v1_36::authentication::v1::TokenRequest;
use k8s_api::v1_36::core::v1::{ConfigMap, Namespace, Pod, Secret, ServiceAccount};
use k8s_api::v1_36::rbac::v1::{Role, RoleBinding};
use k8s_client::{Client, ConfigLoader, Error, WatchUpdate};
use k8s_core::ops::ResourceVersionMatch;
use k8s_core::{Patch, WatchEvent};
use k8s_envtest::{ControlPlane, EnvTest};

/// A static token of the token file: an administrator.
const ADMIN_TOKEN: &str = "e2e-admin-token-7f3a";
/// A static token of the token file: a user without any RBAC.
const NOBODY_TOKEN: &str = "e2e-nobody-token-91c2";

type Case = (&'static str, futures::future::BoxFuture<'static, ()>);

fn case<F>(name: &'static str, f: F) -> Case
where
    F: Future<Output = ()> + Send + 'static,
{
    (name, Box::pin(f))
}

/// Runs the cases concurrently, each in its own task; returns the names of those that failed
/// (a panic in one does not stop the others).
async fn run_all(cases: Vec<Case>) -> Vec<&'static str> {
    let handles: Vec<_> = cases
        .into_iter()
        .map(|(name, fut)| {
            (
                name,
                tokio::spawn(async move {
                    let t = Instant::now();
                    fut.await;
                    t.elapsed()
                }),
            )
        })
        .collect();
    let mut failed = Vec::new();
    for (name, h) in handles {
        match h.await {
            Ok(took) => eprintln!("client-e2e: {name}: ok in {took:.2?}"),
            Err(e) => {
                eprintln!("client-e2e: {name}: FAILED ({e})");
                failed.push(name);
            }
        }
    }
    failed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_against_a_real_apiserver() {
    let Some(binaries) = k8s_envtest::binaries_or_skip().unwrap() else {
        return;
    };
    let started = Instant::now();
    let env = EnvTest::builder()
        .binaries(binaries)
        .token(ADMIN_TOKEN, "e2e-admin", &["system:masters"])
        .token(NOBODY_TOKEN, "e2e-nobody", &[])
        .start()
        .await
        .unwrap();
    eprintln!(
        "client-e2e: kube-apiserver {} ready in {:.2?}",
        env.version(),
        env.startup_time()
    );
    let env = Arc::new(env);
    let mut failed = run_all(vec![
        case("auth kinds", auth_kinds(env.clone())),
        case(
            "token rotation (in-cluster token file, exec plugin)",
            token_rotation(env.clone()),
        ),
        case("list_all over 520 objects", pagination(env.clone())),
        case("server-side apply conflicts", apply_conflicts(env.clone())),
        case("dry-run defaults", dry_run_defaults(env.clone())),
        case("immutable field 422", immutable_field(env.clone())),
    ])
    .await;

    // The restarting cases need the control plane to themselves.
    let mut env = Arc::try_unwrap(env).expect("every case has finished");
    let t = Instant::now();
    match tokio::spawn(async move {
        watch_across_restart(&mut env).await;
        env
    })
    .await
    {
        Ok(back) => {
            env = back;
            eprintln!(
                "client-e2e: watch across a restart: ok in {:.2?}",
                t.elapsed()
            );
            let t = Instant::now();
            match tokio::spawn(async move {
                gone_after_compaction(&mut env).await;
                env
            })
            .await
            {
                Ok(_env) => eprintln!(
                    "client-e2e: 410 after compaction: ok in {:.2?}",
                    t.elapsed()
                ),
                Err(e) => {
                    eprintln!("client-e2e: 410 after compaction: FAILED ({e})");
                    failed.push("410 after compaction");
                }
            }
        }
        Err(e) => {
            eprintln!("client-e2e: watch across a restart: FAILED ({e})");
            failed.push("watch across a restart (and 410 after compaction, not run)");
        }
    }
    eprintln!("client-e2e: whole run {:.2?}", started.elapsed());
    assert!(failed.is_empty(), "failed cases: {failed:?}");
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// A typed object from JSON.
macro_rules! json {
    ($($t:tt)*) => {
        serde_json::from_value(serde_json::json!($($t)*)).unwrap()
    };
}

fn cm(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    let data: BTreeMap<&str, &str> = data.iter().copied().collect();
    json!({"metadata": {"name": name}, "data": data})
}

fn name_of(cm: &ConfigMap) -> &str {
    cm.metadata.name.as_deref().unwrap_or("")
}

async fn namespace(admin: &Client, name: &str) {
    let ns: Namespace = json!({"metadata": {"name": name}});
    admin.send(Namespace::create(&ns)).await.unwrap();
}

/// Writes a kubeconfig for the control plane with `user` (YAML lines of the `user:` map,
/// indented by four spaces) and loads a client from it (no environment).
fn client_with_user(env: &EnvTest, file: &str, user: &str) -> (PathBuf, Result<Client, Error>) {
    let ca = format!(
        "    certificate-authority: {}\n",
        env.dir().join("pki/ca.crt").display()
    );
    client_with(env, file, &ca, user)
}

/// [`client_with_user`] with the TLS lines of the `cluster:` map given (`cluster`, indented by
/// four spaces).
fn client_with(
    env: &EnvTest,
    file: &str,
    cluster: &str,
    user: &str,
) -> (PathBuf, Result<Client, Error>) {
    let path = env.dir().join(file);
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: e2e\n  cluster:\n    server: {}\n{cluster}contexts:\n- name: e2e\n  context:\n    cluster: e2e\n    user: e2e\n    namespace: default\ncurrent-context: e2e\nusers:\n- name: e2e\n  user:\n{user}",
        env.url(),
    );
    write_atomic(&path, &text);
    let client = ConfigLoader::new()
        .env_map(BTreeMap::new())
        .kubeconfig_paths([path.clone()])
        .kubeconfig()
        .map_err(Error::from)
        .and_then(Client::new);
    (path, client)
}

fn write_atomic(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The `Status` of an API error: its code, reason and message.
fn api_status(e: &Error) -> (u16, String, String) {
    match e {
        Error::Api(api) => (
            e.status_code().unwrap_or(0),
            api.status.reason().to_owned(),
            api.status.message.clone().unwrap_or_default(),
        ),
        other => panic!("not an API error: {other}"),
    }
}

/// Repeats `f` every 100 ms until it returns `Some`, for up to `limit`.
async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[path = "client_e2e/auth.rs"]
mod auth;
use auth::{auth_kinds, token_rotation};

// ---------------------------------------------------------------------------------------------
// Cases

/// 520 ConfigMaps, listed in pages of 50 by hand and with `list_all`.
async fn pagination(env: Arc<EnvTest>) {
    const N: usize = 520;
    let admin = env.client();
    let ns = "e2e-pages";
    namespace(&admin, ns).await;
    futures::stream::iter(0..N)
        .map(|i| {
            let admin = admin.clone();
            async move {
                admin
                    .send(ConfigMap::create(
                        ns,
                        &cm(&format!("cm-{i:04}"), &[("i", "x")]),
                    ))
                    .await
            }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    let expected: BTreeSet<String> = (0..N).map(|i| format!("cm-{i:04}")).collect();

    // By hand: the server's pages, continue tokens and remaining counts.
    let mut pages = 0;
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut req = ConfigMap::list(ns).limit(50);
        if let Some(c) = next.take() {
            req = req.continue_token(c);
        }
        let page = admin.send(req).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 50);
        seen.extend(page.items.iter().map(|c| name_of(c).to_owned()));
        let left = page.metadata.remaining_item_count;
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(c) => {
                assert_eq!(left, Some((N - seen.len()) as i64));
                next = Some(c);
            }
            None => break,
        }
    }
    assert_eq!(pages, N.div_ceil(50));
    assert_eq!(seen.len(), N);

    // list_all with a small page and with the default page (500): every object once.
    for limit in [Some(50), None] {
        let mut req = ConfigMap::list(ns);
        if let Some(l) = limit {
            req = req.limit(l);
        }
        let all: Vec<ConfigMap> = admin.list_all(req).try_collect().await.unwrap();
        let names: Vec<String> = all.iter().map(|c| name_of(c).to_owned()).collect();
        assert_eq!(names.len(), N, "limit {limit:?}: duplicates or losses");
        assert_eq!(
            names.into_iter().collect::<BTreeSet<_>>(),
            expected,
            "limit {limit:?}"
        );
    }

    // A continue token that is not one: 400 with the server's reason.
    let e = admin
        .send(ConfigMap::list(ns).limit(10).continue_token("not-a-token"))
        .await
        .unwrap_err();
    let (code, reason, message) = api_status(&e);
    assert_eq!((code, reason.as_str()), (400, "BadRequest"), "{e}");
    assert!(message.contains("continue"), "{e}");
}

/// Two field managers apply the same field: 409 with the conflict as a cause, then `force`.
async fn apply_conflicts(env: Arc<EnvTest>) {
    let admin = env.client();
    let ns = "e2e-apply";
    namespace(&admin, ns).await;
    let intent = |color: &str| {
        Patch::Apply(serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "shared"},
            "data": {"color": color}
        }))
    };
    admin
        .send(ConfigMap::patch(ns, "shared", intent("red")).field_manager("alice"))
        .await
        .unwrap();
    let e = admin
        .send(ConfigMap::patch(ns, "shared", intent("blue")).field_manager("bob"))
        .await
        .unwrap_err();
    assert!(e.is_conflict(), "{e}");
    let (code, reason, message) = api_status(&e);
    assert_eq!((code, reason.as_str()), (409, "Conflict"), "{e}");
    assert_eq!(
        message,
        "Apply failed with 1 conflict: conflict with \"alice\": .data.color"
    );
    let causes: Vec<(Option<&str>, Option<&str>, Option<&str>)> = e
        .causes()
        .iter()
        .map(|c| {
            (
                c.reason.as_deref(),
                c.field.as_deref(),
                c.message.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        causes,
        [(
            Some("FieldManagerConflict"),
            Some(".data.color"),
            Some("conflict with \"alice\"")
        )]
    );
    // Nothing changed.
    let now = admin.send(ConfigMap::read(ns, "shared")).await.unwrap();
    assert_eq!(now.data.as_ref().unwrap()["color"], "red");

    // `force`: bob takes the field over; alice no longer manages it.
    let forced = admin
        .send(
            ConfigMap::patch(ns, "shared", intent("blue"))
                .field_manager("bob")
                .force(),
        )
        .await
        .unwrap();
    assert_eq!(forced.data.as_ref().unwrap()["color"], "blue");
    let managers: Vec<(String, String)> = forced
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .map(|m| {
            (
                m.manager.clone().unwrap_or_default(),
                m.operation.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(managers, [("bob".to_owned(), "Apply".to_owned())]);
    // And now alice is the one refused.
    let e = admin
        .send(ConfigMap::patch(ns, "shared", intent("red")).field_manager("alice"))
        .await
        .unwrap_err();
    assert!(e.is_conflict(), "{e}");
    assert_eq!(
        e.causes().first().and_then(|c| c.message.as_deref()),
        Some("conflict with \"bob\"")
    );
}

/// A dry-run create answers with what the server would store (defaults, admission) and stores
/// nothing.
async fn dry_run_defaults(env: Arc<EnvTest>) {
    let admin = env.client();
    let ns = "e2e-dryrun";
    namespace(&admin, ns).await;
    // The ServiceAccount admission plugin needs the namespace's `default` account (the
    // controller-manager is not running to create it).
    let sa: ServiceAccount = json!({"metadata": {"name": "default"}});
    admin.send(ServiceAccount::create(ns, &sa)).await.unwrap();
    let pod: Pod = json!({
        "metadata": {"name": "web"},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}
    });
    let answered = admin.send(Pod::create(ns, &pod).dry_run()).await.unwrap();
    let v = serde_json::to_value(&answered).unwrap();
    for (pointer, expected) in [
        ("/spec/dnsPolicy", serde_json::json!("ClusterFirst")),
        ("/spec/restartPolicy", serde_json::json!("Always")),
        (
            "/spec/schedulerName",
            serde_json::json!("default-scheduler"),
        ),
        ("/spec/terminationGracePeriodSeconds", serde_json::json!(30)),
        ("/spec/serviceAccountName", serde_json::json!("default")),
        ("/spec/enableServiceLinks", serde_json::json!(true)),
        (
            "/spec/containers/0/terminationMessagePath",
            serde_json::json!("/dev/termination-log"),
        ),
        (
            "/spec/containers/0/imagePullPolicy",
            serde_json::json!("IfNotPresent"),
        ),
        ("/status/phase", serde_json::json!("Pending")),
        ("/status/qosClass", serde_json::json!("BestEffort")),
    ] {
        assert_eq!(v.pointer(pointer), Some(&expected), "{pointer} in {v:#}");
    }
    assert!(answered.metadata.uid.is_some(), "{v:#}");
    assert!(answered.metadata.creation_timestamp.is_some(), "{v:#}");
    // Nothing was stored.
    let e = admin.send(Pod::read(ns, "web")).await.unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert!(admin.send(Pod::list(ns)).await.unwrap().items.is_empty());
    // An invalid object is refused in a dry run too, with its causes.
    let bad: Pod = json!({
        "metadata": {"name": "Bad_Name"},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}
    });
    let e = admin
        .send(Pod::create(ns, &bad).dry_run())
        .await
        .unwrap_err();
    assert!(e.is_invalid(), "{e}");
    assert!(
        e.causes()
            .iter()
            .any(|c| c.field.as_deref() == Some("metadata.name")
                && c.reason.as_deref() == Some("FieldValueInvalid")),
        "{:?}",
        e.causes()
    );
}

/// An immutable ConfigMap refuses a change to its data: 422 `Invalid` with the field's cause.
async fn immutable_field(env: Arc<EnvTest>) {
    let admin = env.client();
    let ns = "e2e-immutable";
    namespace(&admin, ns).await;
    let mut frozen = cm("frozen", &[("k", "v1")]);
    frozen.immutable = Some(true);
    let made = admin.send(ConfigMap::create(ns, &frozen)).await.unwrap();

    let mut changed = made.clone();
    changed.data = Some(BTreeMap::from([("k".to_owned(), "v2".to_owned())]));
    let e = admin
        .send(ConfigMap::replace(ns, "frozen", &changed))
        .await
        .unwrap_err();
    assert!(e.is_invalid(), "{e}");
    let (code, reason, message) = api_status(&e);
    assert_eq!((code, reason.as_str()), (422, "Invalid"), "{e}");
    assert_eq!(
        message,
        "ConfigMap \"frozen\" is invalid: data: Forbidden: field is immutable when `immutable` is set"
    );
    let status = e.status().unwrap();
    let details = status.details.as_ref().unwrap();
    assert_eq!(details.kind.as_deref(), Some("ConfigMap"));
    assert_eq!(details.name.as_deref(), Some("frozen"));
    let causes: Vec<(Option<&str>, Option<&str>)> = e
        .causes()
        .iter()
        .map(|c| (c.reason.as_deref(), c.field.as_deref()))
        .collect();
    assert_eq!(causes, [(Some("FieldValueForbidden"), Some("data"))]);

    // The same through a merge patch, and `immutable` cannot be unset either.
    let e = admin
        .send(ConfigMap::patch(
            ns,
            "frozen",
            Patch::Merge(serde_json::json!({"immutable": false})),
        ))
        .await
        .unwrap_err();
    assert!(e.is_invalid(), "{e}");
    assert!(
        e.causes()
            .iter()
            .any(|c| c.field.as_deref() == Some("immutable")),
        "{:?}",
        e.causes()
    );
    let still = admin.send(ConfigMap::read(ns, "frozen")).await.unwrap();
    assert_eq!(still.data.unwrap()["k"], "v1");
}

/// A watch open while the apiserver restarts (etcd's data kept) goes on by itself: the object
/// created after the restart arrives, the one before is not repeated as new.
async fn watch_across_restart(env: &mut EnvTest) {
    let admin = env.client();
    let ns = "e2e-restart";
    namespace(&admin, ns).await;
    let before = admin
        .send(ConfigMap::create(ns, &cm("before", &[])))
        .await
        .unwrap();
    let watch = admin.watch(
        ConfigMap::watch(ns).resource_version(before.metadata.resource_version.clone().unwrap()),
    );
    let mut watch = std::pin::pin!(watch);
    admin
        .send(ConfigMap::create(ns, &cm("during-1", &[])))
        .await
        .unwrap();
    let first = next_relevant(&mut watch).await;
    assert!(
        matches!(&first, WatchUpdate::Event(WatchEvent::Added(o)) if name_of(o) == "during-1"),
        "{first:?}"
    );

    let took = env.restart().await.unwrap();
    eprintln!("client-e2e: apiserver and etcd restarted in {took:.2?}");
    admin
        .send(ConfigMap::create(ns, &cm("after", &[])))
        .await
        .unwrap();
    let update = next_relevant(&mut watch).await;
    match update {
        WatchUpdate::Event(WatchEvent::Added(o)) => assert_eq!(name_of(&o), "after"),
        WatchUpdate::Restarted { objects, .. } => {
            let names: BTreeSet<&str> = objects.iter().map(name_of).collect();
            assert_eq!(names, BTreeSet::from(["before", "during-1", "after"]));
        }
        other => panic!("{other:?}"),
    }
}

/// The next update that is not a bookmark, within 60 s.
async fn next_relevant<S>(watch: &mut std::pin::Pin<&mut S>) -> WatchUpdate<ConfigMap>
where
    S: futures::Stream<Item = Result<WatchUpdate<ConfigMap>, Error>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let update = tokio::time::timeout(left, watch.try_next())
            .await
            .expect("a watch update within 60 s")
            .unwrap()
            .expect("the watch goes on");
        if !matches!(update, WatchUpdate::Event(WatchEvent::Bookmark(_))) {
            return update;
        }
    }
}

/// etcd compacts the revision a watch starts from: the server answers 410 and the watch lists
/// again (`Restarted` with the current objects) and goes on from there. The apiserver runs
/// without its watch cache, so watches are served by etcd, compacted every second.
async fn gone_after_compaction(env: &mut EnvTest) {
    let took = env
        .restart_with_apiserver_flags(&["--watch-cache=false", "--etcd-compaction-interval=1s"])
        .await
        .unwrap();
    eprintln!("client-e2e: restarted with compaction every second in {took:.2?}");
    let admin = env.client();
    let ns = "e2e-compact";
    namespace(&admin, ns).await;
    let old = admin
        .send(ConfigMap::create(ns, &cm("old", &[("n", "0")])))
        .await
        .unwrap();
    let rv = old.metadata.resource_version.clone().unwrap();
    for name in ["page-a", "page-b"] {
        admin
            .send(ConfigMap::create(ns, &cm(name, &[])))
            .await
            .unwrap();
    }
    let first_page = admin.send(ConfigMap::list(ns).limit(1)).await.unwrap();
    let token = first_page.metadata.continue_.clone().unwrap();
    // Writes after `rv`, until etcd has compacted it: a list at exactly `rv` is then refused.
    let mut n = 0;
    let gone = eventually(
        "compaction past the old revision",
        Duration::from_secs(30),
        || {
            n += 1;
            let admin = admin.clone();
            let rv = rv.clone();
            async move {
                let patch = Patch::Merge(serde_json::json!({"data": {"n": n.to_string()}}));
                admin
                    .send(ConfigMap::patch(ns, "old", patch))
                    .await
                    .unwrap();
                match admin
                    .send(
                        ConfigMap::list(ns)
                            .resource_version(rv)
                            .resource_version_match(ResourceVersionMatch::Exact),
                    )
                    .await
                {
                    Ok(_) => None,
                    Err(e) if e.is_gone() => Some(e),
                    Err(e) => panic!("{e}"),
                }
            }
        },
    )
    .await;
    let (code, reason, message) = api_status(&gone);
    assert_eq!((code, reason.as_str()), (410, "Expired"), "{gone}");
    assert!(message.contains("too old"), "{gone}");

    // The continue token of before the compaction: 410 Expired, and `list_all` given it starts
    // the list again and yields every object once.
    let e = admin
        .send(ConfigMap::list(ns).limit(1).continue_token(token.clone()))
        .await
        .unwrap_err();
    let (code, reason, message) = api_status(&e);
    assert_eq!((code, reason.as_str()), (410, "Expired"), "{e}");
    assert!(message.contains("continue parameter is too old"), "{e}");
    let all: Vec<ConfigMap> = admin
        .list_all(ConfigMap::list(ns).limit(1).continue_token(token))
        .try_collect()
        .await
        .unwrap();
    let names: Vec<&str> = all.iter().map(name_of).collect();
    assert_eq!(names, ["old", "page-a", "page-b"]);

    admin
        .send(ConfigMap::create(ns, &cm("new", &[])))
        .await
        .unwrap();
    let watch = admin.watch(ConfigMap::watch(ns).resource_version(rv));
    let mut watch = std::pin::pin!(watch);
    match next_relevant(&mut watch).await {
        WatchUpdate::Restarted {
            objects,
            resource_version,
        } => {
            let names: BTreeSet<&str> = objects.iter().map(name_of).collect();
            assert_eq!(names, BTreeSet::from(["old", "page-a", "page-b", "new"]));
            let now = objects.iter().find(|o| name_of(o) == "old").unwrap();
            assert_ne!(now.data.as_ref().unwrap()["n"], "0", "the current state");
            assert!(!resource_version.is_empty());
        }
        other => panic!("expected a relist after 410, got {other:?}"),
    }
    // And the watch goes on from the list's version.
    admin.send(ConfigMap::delete(ns, "new")).await.unwrap();
    let update = next_relevant(&mut watch).await;
    assert!(
        matches!(&update, WatchUpdate::Event(WatchEvent::Deleted(o)) if name_of(o) == "new"),
        "{update:?}"
    );
}
