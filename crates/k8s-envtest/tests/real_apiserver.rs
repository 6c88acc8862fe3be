//! The SDK against a real control plane (etcd + kube-apiserver 1.36, + kube-controller-manager):
//! CRUD, lists and watches through k8s-client, RBAC with static tokens, client certificates,
//! in-cluster configuration with a real service-account token, a restart that keeps etcd's
//! data and a watch across it, and the real kubectl.
//!
//! Without the binaries (`cargo xtask envtest install`) every test prints one line (once) and
//! passes; with `K8S_ENVTEST_REQUIRED=1` a missing installation fails them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use k8s_api::v1_36::authentication::v1::TokenRequest;
use k8s_api::v1_36::core::v1::{ConfigMap, Namespace, ServiceAccount};
use k8s_api::v1_36::rbac::v1::{Role, RoleBinding};
use k8s_client::{Client, ConfigLoader, WatchUpdate};
use k8s_core::WatchEvent;
use k8s_envtest::{ControlPlane, EnvTest, EnvTestBuilder};
use k8s_testserver::TestServer;

const NS: &str = "default";

/// The control plane, or `None` (skip) when the binaries are not installed.
async fn envtest(builder: EnvTestBuilder) -> Option<EnvTest> {
    let binaries = k8s_envtest::binaries_or_skip().unwrap()?;
    let env = builder.binaries(binaries).start().await.unwrap();
    eprintln!(
        "k8s-envtest: kube-apiserver {} ready at {} in {:.2?}",
        env.version(),
        env.url(),
        env.startup_time()
    );
    Some(env)
}

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"test": "envtest"}},
        "data": {"k": name}
    }))
    .unwrap()
}

fn name_of(cm: &ConfigMap) -> &str {
    cm.metadata.name.as_deref().unwrap_or("")
}

/// The same test body against either server: create, get, list with a selector, watch.
async fn crud_list_watch(server: &dyn ControlPlane) {
    let who = server.name();
    let client = server.client_for("admin-token").unwrap();
    let made = client
        .send(ConfigMap::create(NS, &cm("one")))
        .await
        .unwrap_or_else(|e| panic!("{who}: {e}"));
    assert!(made.metadata.uid.is_some(), "{who}");
    let got = client.send(ConfigMap::read(NS, "one")).await.unwrap();
    assert_eq!(got.data.unwrap()["k"], "one", "{who}");
    let e = client
        .send(ConfigMap::read(NS, "missing"))
        .await
        .unwrap_err();
    assert!(e.is_not_found(), "{who}: {e}");
    let e = client
        .send(ConfigMap::create(NS, &cm("one")))
        .await
        .unwrap_err();
    assert!(e.is_already_exists(), "{who}: {e}");

    let list = client
        .send(ConfigMap::list(NS).label_selector("test=envtest"))
        .await
        .unwrap();
    let names: Vec<&str> = list.items.iter().map(name_of).collect();
    assert_eq!(names, ["one"], "{who}");
    let rv = list.metadata.resource_version.clone().unwrap();

    let watch = client.watch(
        ConfigMap::watch(NS)
            .label_selector("test=envtest")
            .resource_version(rv),
    );
    let mut watch = std::pin::pin!(watch);
    client
        .send(ConfigMap::create(NS, &cm("two")))
        .await
        .unwrap();
    client.send(ConfigMap::delete(NS, "one")).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let update = tokio::time::timeout(Duration::from_secs(30), watch.try_next())
            .await
            .unwrap_or_else(|_| panic!("{who}: no watch event in 30 s; seen {seen:?}"))
            .unwrap()
            .unwrap();
        match update {
            WatchUpdate::Event(WatchEvent::Added(o)) => seen.push(format!("Added {}", name_of(&o))),
            WatchUpdate::Event(WatchEvent::Deleted(o)) => {
                seen.push(format!("Deleted {}", name_of(&o)))
            }
            other => panic!("{who}: unexpected {other:?}"),
        }
    }
    assert_eq!(seen, ["Added two", "Deleted one"], "{who}");
}

#[tokio::test]
async fn crud_list_watch_against_the_real_server_and_the_test_server() {
    let Some(env) =
        envtest(EnvTest::builder().token("admin-token", "admin", &["system:masters"])).await
    else {
        return;
    };
    crud_list_watch(&env).await;
    let testserver = TestServer::builder()
        .token("admin-token", "admin", &["system:masters"])
        .start()
        .await
        .unwrap();
    crud_list_watch(&testserver).await;
}

#[tokio::test]
async fn rbac_tokens_client_certificates_and_kubectl() {
    let Some(env) = envtest(EnvTest::builder().token("bob-token", "bob", &["team-a"])).await else {
        return;
    };
    let admin = env.client();
    let bob = env.client_for("bob-token").unwrap();

    // A token user without RBAC: 403 with the real server's message.
    let e = bob.send(ConfigMap::list(NS)).await.unwrap_err();
    assert!(e.is_forbidden(), "{e}");
    assert!(
        e.to_string().contains(
            "configmaps is forbidden: User \"bob\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"default\""
        ),
        "{e}"
    );
    // A Role and a RoleBinding (to the group): 200 once RBAC has seen them.
    let role: Role = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "cm-reader"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]
    }))
    .unwrap();
    admin.send(Role::create(NS, &role)).await.unwrap();
    let binding: RoleBinding = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "cm-reader-team-a"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-reader"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "team-a"}]
    }))
    .unwrap();
    admin.send(RoleBinding::create(NS, &binding)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match bob.send(ConfigMap::list(NS)).await {
            Ok(_) => break,
            Err(e) if e.is_forbidden() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("still {e}"),
        }
    }
    // Only what the Role allows.
    let e = bob.send(ConfigMap::create(NS, &cm("x"))).await.unwrap_err();
    assert!(e.is_forbidden(), "{e}");

    // A wrong token: 401.
    let e = env
        .client_for("not-a-token")
        .unwrap()
        .send(ConfigMap::list(NS))
        .await
        .unwrap_err();
    assert!(e.is_unauthorized(), "{e}");

    // No credentials: system:anonymous, whom RBAC does not allow.
    let config = ConfigLoader::new()
        .env_map(BTreeMap::new())
        .kubeconfig_paths([env.kubeconfig_anonymous().unwrap()])
        .kubeconfig()
        .unwrap();
    let e = Client::new(config)
        .unwrap()
        .send(ConfigMap::list(NS))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("User \"system:anonymous\""), "{e}");

    // Client certificates: CN is the user, O the groups.
    let carol = env.client_for_cert("carol", &["system:masters"]).unwrap();
    carol.send(Namespace::list()).await.unwrap();
    let dave = env.client_for_cert("dave", &[]).unwrap();
    let e = dave.send(Namespace::list()).await.unwrap_err();
    assert!(e.is_forbidden(), "{e}");
    assert!(e.to_string().contains("User \"dave\""), "{e}");

    // The real kubectl, as an independent client.
    match std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(env.admin_kubeconfig())
        .args(["get", "ns", "-o", "name"])
        .output()
    {
        Ok(out) => {
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "kubectl: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            for ns in [
                "namespace/default",
                "namespace/kube-system",
                "namespace/kube-public",
            ] {
                assert!(stdout.lines().any(|l| l == ns), "{stdout}");
            }
        }
        Err(e) => eprintln!("k8s-envtest: kubectl not run ({e})"),
    }
}

#[tokio::test]
async fn restart_keeps_the_data_and_a_watch_resumes() {
    let Some(mut env) =
        envtest(EnvTest::builder().apiserver_flag("--etcd-compaction-interval=10m")).await
    else {
        return;
    };
    let client: Client = env.client();
    let before = client
        .send(ConfigMap::create(NS, &cm("before")))
        .await
        .unwrap();
    let uid = before.metadata.uid.clone();
    let rv = before.metadata.resource_version.clone().unwrap();
    let watch = client.watch(
        ConfigMap::watch(NS)
            .label_selector("test=envtest")
            .resource_version(rv),
    );
    let mut watch = std::pin::pin!(watch);

    let took = env.restart().await.unwrap();
    eprintln!("k8s-envtest: restart (etcd data kept) ready in {took:.2?}");
    let got = client.send(ConfigMap::read(NS, "before")).await.unwrap();
    assert_eq!(got.metadata.uid, uid, "the same object survived");
    client
        .send(ConfigMap::create(NS, &cm("after")))
        .await
        .unwrap();

    // The watch reconnects by itself: "after" arrives as an event, or in a relist if the new
    // apiserver's watch cache no longer serves the old resource version.
    let deadline = Instant::now() + Duration::from_secs(60);
    let how = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let update = tokio::time::timeout(left, watch.try_next())
            .await
            .expect("the watch saw \"after\" within 60 s")
            .unwrap()
            .unwrap();
        match update {
            WatchUpdate::Event(WatchEvent::Added(o)) if name_of(&o) == "after" => break "event",
            WatchUpdate::Restarted { objects, .. }
                if objects.iter().any(|o| name_of(o) == "after") =>
            {
                break "relist";
            }
            _ => {}
        }
    };
    eprintln!("k8s-envtest: the watch resumed across the restart ({how})");
}

#[tokio::test]
async fn in_cluster_config_with_a_real_service_account_token() {
    let Some(env) = envtest(EnvTest::builder()).await else {
        return;
    };
    let admin = env.client();
    let sa: ServiceAccount =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "app"}})).unwrap();
    admin.send(ServiceAccount::create(NS, &sa)).await.unwrap();
    // A token signed with the control plane's service-account key (TokenRequest API).
    let request: TokenRequest = serde_json::from_value(serde_json::json!({
        "spec": {"audiences": [], "expirationSeconds": 3600}
    }))
    .unwrap();
    let issued = admin
        .send(ServiceAccount::create_token(NS, "app", &request))
        .await
        .unwrap();
    let token = issued.status.and_then(|s| s.token).unwrap();

    let pod = env.in_cluster_dir(NS, &token).unwrap();
    let config = ConfigLoader::new()
        .env_map(BTreeMap::from([
            ("KUBERNETES_SERVICE_HOST".to_owned(), pod.host.clone()),
            ("KUBERNETES_SERVICE_PORT".to_owned(), pod.port.to_string()),
        ]))
        .service_account_dir(&pod.dir)
        .in_cluster()
        .unwrap();
    let client = Client::new(config).unwrap();
    assert_eq!(client.namespace(), NS);
    // Authenticated as the service account (401 would mean the key or issuer is wrong),
    // which RBAC does not yet allow.
    let e = client.send(ConfigMap::list(NS)).await.unwrap_err();
    assert!(e.is_forbidden(), "{e}");
    assert!(
        e.to_string()
            .contains("User \"system:serviceaccount:default:app\" cannot list"),
        "{e}"
    );
}

#[tokio::test]
async fn controller_manager_runs_when_asked() {
    let Some(env) = envtest(EnvTest::builder().controller_manager()).await else {
        return;
    };
    // `start` waited for the service-account controller; the token controller follows.
    let sa = env
        .client()
        .send(ServiceAccount::read(NS, "default"))
        .await
        .unwrap();
    assert_eq!(sa.metadata.name.as_deref(), Some("default"));
}
