//! Client certificates, RBAC from API objects, access reviews, token rotation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Api, admin_server};
use serde_json::json;

#[tokio::test]
async fn rbac_roles_and_bindings_grant_access() {
    let server = admin_server().await;
    let admin = Api::new(&server, Some("admin-token"));
    let bob = Api::new(&server, Some("bob-token"));
    let alice = Api::with_cert(&server, "alice", &[]);
    let (code, e) = alice.get("/api/v1/namespaces/default/pods").await;
    assert_eq!(code, 403);
    assert_eq!(
        e["message"],
        "pods is forbidden: User \"alice\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
    );
    admin.json("POST", "/api/v1/namespaces/default/pods", Some(json!({"metadata": {"name": "demo"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))).await;
    let (code, _) = admin.json("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles", Some(json!({"metadata": {"name": "pod-reader"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]}))).await;
    assert_eq!(code, 201);
    let (code, _) = admin.json("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", Some(json!({"metadata": {"name": "pod-reader"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
        "subjects": [{"kind": "User", "name": "bob"}, {"kind": "User", "name": "alice"}]}))).await;
    assert_eq!(code, 201);
    assert_eq!(bob.get("/api/v1/namespaces/default/pods").await.0, 200);
    assert_eq!(alice.get("/api/v1/namespaces/default/pods").await.0, 200);
    assert_eq!(bob.get("/api/v1/namespaces/kube-system/pods").await.0, 403);
    let (code, e) = bob
        .json("DELETE", "/api/v1/namespaces/default/pods/demo", None)
        .await;
    assert_eq!(code, 403);
    assert_eq!(
        e["message"],
        "pods \"demo\" is forbidden: User \"bob\" cannot delete resource \"pods\" in API group \"\" in the namespace \"default\""
    );
    assert_eq!(e["details"], json!({"name": "demo", "kind": "pods"}));
    // resourceNames and cluster scope
    admin.json("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", Some(json!({"metadata": {"name": "one-cm"}, "rules": [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["kube-root-ca.crt"], "verbs": ["get"]}]}))).await;
    admin.json("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", Some(json!({"metadata": {"name": "one-cm"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "one-cm"}, "subjects": [{"kind": "Group", "name": "devs"}]}))).await;
    let dev = Api::with_cert(&server, "carol", &["devs"]);
    assert_eq!(
        dev.get("/api/v1/namespaces/kube-system/configmaps/kube-root-ca.crt")
            .await
            .0,
        200
    );
    assert_eq!(
        dev.get("/api/v1/namespaces/kube-system/configmaps").await.0,
        403
    );
    let (code, e) = dev.get("/api/v1/nodes").await;
    assert_eq!(code, 403);
    assert_eq!(
        e["message"],
        "nodes is forbidden: User \"carol\" cannot list resource \"nodes\" in API group \"\" at the cluster scope"
    );
    let (code, e) = bob
        .get("/apis/apps/v1/namespaces/default/deployments/web")
        .await;
    assert_eq!(code, 403);
    assert_eq!(
        e["message"],
        "deployments.apps \"web\" is forbidden: User \"bob\" cannot get resource \"deployments\" in API group \"apps\" in the namespace \"default\""
    );
    // access reviews
    let ssar = |verb: &str| json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": {"resourceAttributes": {"namespace": "default", "verb": verb, "resource": "pods"}}});
    let (code, r) = bob
        .json(
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            Some(ssar("delete")),
        )
        .await;
    assert_eq!(code, 201);
    assert_eq!(r["status"], json!({"allowed": false}));
    let (_, r) = bob
        .json(
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            Some(ssar("list")),
        )
        .await;
    assert_eq!(
        r["status"]["reason"],
        "RBAC: allowed by RoleBinding \"pod-reader/default\" of Role \"pod-reader\" to User \"bob\""
    );
    let (code, r) = alice
        .json(
            "POST",
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            Some(json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})),
        )
        .await;
    assert_eq!(code, 201);
    assert_eq!(r["status"]["userInfo"]["username"], "alice");
    assert_eq!(
        r["status"]["userInfo"]["groups"],
        json!(["system:authenticated"])
    );
    assert!(
        r["status"]["userInfo"]["extra"]["authentication.kubernetes.io/credential-id"][0]
            .as_str()
            .unwrap()
            .starts_with("X509SHA256=")
    );
    let (_, r) = bob.json("POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", Some(json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": {"namespace": "default"}}))).await;
    assert!(
        r["status"]["resourceRules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|rule| rule["resources"] == json!(["pods"]))
    );
}

#[tokio::test]
async fn certificates_from_another_ca_are_unauthorized() {
    let server = admin_server().await;
    let other = admin_server().await;
    // a certificate signed by a different CA: the handshake succeeds, the request is 401
    let api = common::Api {
        base: server.url().to_string(),
        client: reqwest::Client::builder()
            .use_preconfigured_tls({
                let mut roots = rustls::RootCertStore::empty();
                use rustls_pki_types::pem::PemObject;
                roots
                    .add(
                        rustls_pki_types::CertificateDer::from_pem_slice(
                            server.ca_pem().as_bytes(),
                        )
                        .unwrap(),
                    )
                    .unwrap();
                let (c, k) = other.client_cert("admin", &["system:masters"]);
                rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_client_auth_cert(
                    vec![rustls_pki_types::CertificateDer::from_pem_slice(c.as_bytes()).unwrap()],
                    rustls_pki_types::PrivateKeyDer::from_pem_slice(k.as_bytes()).unwrap(),
                )
                .unwrap()
            })
            .build()
            .unwrap(),
        token: None,
    };
    let (code, e) = api.get("/api/v1/namespaces").await;
    assert_eq!(code, 401);
    assert_eq!(e["reason"], "Unauthorized");
    let master = Api::with_cert(&server, "admin", &["system:masters"]);
    assert_eq!(master.get("/api/v1/namespaces").await.0, 200);
}

#[tokio::test]
async fn token_rotation_and_service_account_tokens() {
    let server = admin_server().await;
    let bob = Api::new(&server, Some("bob-token"));
    assert_eq!(bob.get("/api").await.0, 200);
    server.revoke_token("bob-token");
    assert_eq!(bob.get("/api").await.0, 401);
    server.add_token("bob-token-2", "bob", &[]);
    assert_eq!(
        Api::new(&server, Some("bob-token-2")).get("/api").await.0,
        200
    );
    // TokenRequest issues a working service-account token
    let admin = Api::new(&server, Some("admin-token"));
    let (code, tr) = admin.json("POST", "/api/v1/namespaces/default/serviceaccounts/default/token", Some(json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}}))).await;
    assert_eq!(code, 201, "{tr}");
    let token = tr["status"]["token"].as_str().unwrap();
    let sa = Api::new(&server, Some(token));
    let (code, e) = sa.get("/api/v1/namespaces/default/pods").await;
    assert_eq!(code, 403);
    assert_eq!(
        e["message"],
        "pods is forbidden: User \"system:serviceaccount:default:default\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
    );
    admin.json("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", Some(json!({"metadata": {"name": "sa-view"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}, "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "default"}]}))).await;
    assert_eq!(sa.get("/api/v1/namespaces/default/pods").await.0, 200);
    // the request log records users, never tokens
    let log = server.request_log();
    assert!(
        log.iter()
            .any(|r| r.user == "system:serviceaccount:default:default")
    );
    assert!(log.iter().all(|r| !r.path_and_query.contains(token)));
}
