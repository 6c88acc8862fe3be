//! Basics: TLS, authentication, CRUD, Status errors, lists and discovery.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Api, admin_server};
use serde_json::json;

#[tokio::test]
async fn tls_token_auth_and_status_bodies() {
    let server = admin_server().await;
    assert!(server.url().starts_with("https://127.0.0.1:"));
    let anon = Api::new(&server, None);
    let (code, body) = anon.get("/").await;
    assert_eq!(code, 403);
    assert_eq!(
        body["message"],
        "forbidden: User \"system:anonymous\" cannot get path \"/\""
    );
    assert_eq!(body["details"], json!({}));
    let bad = Api::new(&server, Some("nope"));
    let (code, body) = bad.get("/").await;
    assert_eq!(code, 401);
    assert_eq!(
        body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401})
    );
    let admin = Api::new(&server, Some("admin-token"));
    let (code, body) = admin.get("/").await;
    assert_eq!(code, 200);
    let paths: Vec<&str> = body["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"/apis/batch/v1") && paths.contains(&"/api/v1"),
        "{paths:?}"
    );
    let bob = Api::new(&server, Some("bob-token"));
    let (code, body) = bob.get("/api/v1/namespaces/default/pods").await;
    assert_eq!(code, 403);
    assert_eq!(
        body["message"],
        "pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
    );
    assert_eq!(body["details"], json!({"kind": "pods"}));
    server.shutdown().await;
}

#[tokio::test]
async fn crud_lifecycle_with_real_status_shapes() {
    let server = admin_server().await;
    let api = Api::new(&server, Some("admin-token"));
    let cm = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"one","labels":{"a":"b"}},"data":{"k":"v"}});
    let (code, created) = api
        .json(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            Some(cm.clone()),
        )
        .await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["metadata"]["namespace"], "default");
    assert!(created["metadata"]["uid"].as_str().unwrap().len() == 36);
    let rv1: u64 = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        created["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert_eq!(
        created["metadata"]["managedFields"][0]["operation"],
        "Update"
    );
    let (code, again) = api
        .json("POST", "/api/v1/namespaces/default/configmaps", Some(cm))
        .await;
    assert_eq!(code, 409);
    assert_eq!(again["reason"], "AlreadyExists");
    assert_eq!(again["message"], "configmaps \"one\" already exists");
    let (code, missing) = api.get("/api/v1/namespaces/default/configmaps/nope").await;
    assert_eq!(code, 404);
    assert_eq!(
        missing,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \"nope\" not found","reason":"NotFound","details":{"name":"nope","kind":"configmaps"},"code":404})
    );
    // update with the current resourceVersion, then with a stale one
    let mut upd = created.clone();
    upd["data"]["k"] = json!("w");
    let (code, updated) = api
        .json(
            "PUT",
            "/api/v1/namespaces/default/configmaps/one",
            Some(upd.clone()),
        )
        .await;
    assert_eq!(code, 200, "{updated}");
    let rv2: u64 = updated["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rv2 > rv1);
    let (code, stale) = api
        .json(
            "PUT",
            "/api/v1/namespaces/default/configmaps/one",
            Some(upd),
        )
        .await;
    assert_eq!(code, 409);
    assert_eq!(stale["reason"], "Conflict");
    assert_eq!(
        stale["message"],
        "Operation cannot be fulfilled on configmaps \"one\": the object has been modified; please apply your changes to the latest version and try again"
    );
    // generateName
    let (code, gen_obj) = api
        .json(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            Some(json!({"metadata":{"generateName":"gen-"}})),
        )
        .await;
    assert_eq!(code, 201);
    let name = gen_obj["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");
    // invalid name
    let (code, inv) = api
        .json(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            Some(json!({"metadata":{"name":"Bad_Name"}})),
        )
        .await;
    assert_eq!(code, 422);
    assert_eq!(inv["details"]["causes"][0]["field"], "metadata.name");
    assert_eq!(inv["details"]["kind"], "ConfigMap");
    // missing namespace
    let (code, nons) = api
        .json(
            "POST",
            "/api/v1/namespaces/nope/configmaps",
            Some(json!({"metadata":{"name":"x"}})),
        )
        .await;
    assert_eq!(code, 404);
    assert_eq!(nons["message"], "namespaces \"nope\" not found");
    // delete returns a Success Status for configmaps
    let (code, del) = api
        .json("DELETE", "/api/v1/namespaces/default/configmaps/one", None)
        .await;
    assert_eq!(code, 200);
    assert_eq!(del["status"], "Success");
    assert_eq!(del["details"]["name"], "one");
    let (code, _) = api.get("/api/v1/namespaces/default/configmaps/one").await;
    assert_eq!(code, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn pods_defaults_status_subresource_and_graceful_delete() {
    let server = admin_server().await;
    let api = Api::new(&server, Some("admin-token"));
    let pod = json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"demo"},"spec":{"nodeName":"node-1","containers":[{"name":"c","image":"busybox:1.36"}]}});
    let (code, p) = api
        .json("POST", "/api/v1/namespaces/default/pods", Some(pod))
        .await;
    assert_eq!(code, 201, "{p}");
    assert_eq!(p["metadata"]["generation"], 1);
    assert_eq!(p["spec"]["restartPolicy"], "Always");
    assert_eq!(
        p["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );
    assert_eq!(p["status"]["phase"], "Pending");
    // status on the main resource is ignored; the status subresource changes only status
    let (code, p2) = api
        .send(
            "PATCH",
            "/api/v1/namespaces/default/pods/demo",
            Some("application/merge-patch+json"),
            Some(r#"{"status":{"phase":"Running"},"metadata":{"labels":{"x":"y"}}}"#),
        )
        .await
        .into_json();
    assert_eq!(code, 200);
    assert_eq!(p2["status"]["phase"], "Pending");
    assert_eq!(p2["metadata"]["labels"]["x"], "y");
    let (code, p3) = api
        .send(
            "PATCH",
            "/api/v1/namespaces/default/pods/demo/status",
            Some("application/merge-patch+json"),
            Some(r#"{"status":{"phase":"Running"},"metadata":{"labels":{"x":"z"}}}"#),
        )
        .await
        .into_json();
    assert_eq!(code, 200);
    assert_eq!(p3["status"]["phase"], "Running");
    assert_eq!(p3["metadata"]["labels"]["x"], "y");
    // immutable spec field
    let (code, inv) = api
        .send(
            "PATCH",
            "/api/v1/namespaces/default/pods/demo",
            Some("application/json-patch+json"),
            Some(r#"[{"op":"replace","path":"/spec/nodeName","value":"node-2"}]"#),
        )
        .await
        .into_json();
    assert_eq!(code, 422);
    assert!(inv["message"].as_str().unwrap().starts_with(
        "Pod \"demo\" is invalid: spec: Forbidden: pod updates may not change fields other than"
    ));
    // scheduled pod: graceful delete keeps it with a deletionTimestamp
    let (code, d) = api
        .json("DELETE", "/api/v1/namespaces/default/pods/demo", None)
        .await;
    assert_eq!(code, 200);
    assert_eq!(d["kind"], "Pod");
    assert_eq!(d["metadata"]["deletionGracePeriodSeconds"], 30);
    let (code, _) = api.get("/api/v1/namespaces/default/pods/demo").await;
    assert_eq!(code, 200);
    let (code, d) = api
        .json(
            "DELETE",
            "/api/v1/namespaces/default/pods/demo?gracePeriodSeconds=0",
            None,
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(d["kind"], "Pod");
    let (code, _) = api.get("/api/v1/namespaces/default/pods/demo").await;
    assert_eq!(code, 404);
    server.shutdown().await;
}

trait IntoJson {
    fn into_json(self) -> (u16, serde_json::Value);
}

impl IntoJson for (u16, reqwest::header::HeaderMap, String) {
    fn into_json(self) -> (u16, serde_json::Value) {
        (
            self.0,
            serde_json::from_str(&self.2).unwrap_or(serde_json::Value::String(self.2)),
        )
    }
}

#[tokio::test]
async fn discovery_documents() {
    let server = admin_server().await;
    let api = Api::new(&server, Some("bob-token"));
    let (code, apis) = api.get("/api").await;
    assert_eq!(code, 200);
    assert_eq!(apis["kind"], "APIVersions");
    assert_eq!(apis["versions"], json!(["v1"]));
    let (_, groups) = api.get("/apis").await;
    assert_eq!(groups["kind"], "APIGroupList");
    let (_, batch) = api.get("/apis/batch").await;
    assert_eq!(
        batch,
        json!({"kind":"APIGroup","apiVersion":"v1","name":"batch","versions":[{"groupVersion":"batch/v1","version":"v1"}],"preferredVersion":{"groupVersion":"batch/v1","version":"v1"}})
    );
    let (_, v1) = api.get("/apis/batch/v1").await;
    let jobs = v1["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "jobs")
        .unwrap();
    assert_eq!(
        jobs["verbs"],
        json!([
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch"
        ])
    );
    assert!(
        v1["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "jobs/status")
    );
    let (code, core) = api.get("/api/v1").await;
    assert_eq!(code, 200);
    assert!(core.get("apiVersion").is_none());
    let (code, _) = api.get("/apis/nope.example.com/v1").await;
    assert_eq!(code, 404);
    let (code, ver) = api.get("/version").await;
    assert_eq!(code, 200);
    assert_eq!(ver["major"], "1");
    let (code, nf) = Api::new(&server, Some("admin-token"))
        .get("/api/v1/namespaces/default/service")
        .await;
    assert_eq!(code, 404);
    assert_eq!(
        nf["message"],
        "the server could not find the requested resource"
    );
    // aggregated discovery
    let (code, headers, text) = {
        let r = api.client.get(format!("{}/apis", api.base)).bearer_auth("bob-token")
            .header("accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json").send().await.unwrap();
        let s = r.status().as_u16();
        let h = r.headers().clone();
        (s, h, r.text().await.unwrap())
    };
    assert_eq!(code, 200);
    assert_eq!(
        headers["content-type"],
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    );
    let agg: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(agg["kind"], "APIGroupDiscoveryList");
    server.shutdown().await;
}

#[tokio::test]
async fn plain_http_everyone_is_admin() {
    let server = k8s_testserver::TestServer::builder()
        .plain_http()
        .start()
        .await
        .unwrap();
    assert!(server.url().starts_with("http://127.0.0.1:"));
    let r = common::plain_client()
        .get(format!("{}/api/v1/namespaces", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    let names: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["default", "kube-node-lease", "kube-public", "kube-system"]
    );
}

#[tokio::test]
async fn in_cluster_dir_and_kubeconfig_files_work() {
    let server = admin_server().await;
    let ic = server.in_cluster_dir("kube-system", "bob-token");
    assert_eq!(ic.host, "127.0.0.1");
    assert_eq!(ic.port, server.port());
    let token = std::fs::read_to_string(ic.dir.join("token")).unwrap();
    let ca = std::fs::read_to_string(ic.dir.join("ca.crt")).unwrap();
    assert_eq!(
        std::fs::read_to_string(ic.dir.join("namespace")).unwrap(),
        "kube-system"
    );
    assert_eq!(ca, server.ca_pem());
    // what a Pod would do: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT with the files
    let api = Api {
        base: format!("https://{}:{}", ic.host, ic.port),
        client: common::client(&server, None),
        token: Some(token),
    };
    let (code, e) = api.get("/api/v1/namespaces/kube-system/pods").await;
    assert_eq!(code, 403);
    assert_eq!(
        e["message"],
        "pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" in the namespace \"kube-system\""
    );
    let kc = std::fs::read_to_string(server.kubeconfig_for("admin-token")).unwrap();
    assert!(kc.contains(&format!("server: {}", server.url())));
    assert!(kc.contains("token: admin-token") && kc.contains("certificate-authority-data: "));
    assert!(kc.contains("namespace: default"));
    let kc = std::fs::read_to_string(server.kubeconfig_for_cert("alice", &["devs"])).unwrap();
    assert!(kc.contains("client-certificate-data: ") && kc.contains("client-key-data: "));
    // the server stops when shut down
    let url = server.url().to_string();
    server.shutdown().await;
    let r = api.client.get(format!("{url}/version")).send().await;
    assert!(r.is_err());
}

/// `GET ...` as a `Table` (what kubectl asks for): `(column names, cells of each row)`.
async fn table(api: &Api, path: &str) -> (Vec<String>, Vec<Vec<serde_json::Value>>) {
    let resp = api
        .client
        .get(format!("{}{}", api.base, path))
        .bearer_auth(api.token.as_deref().unwrap())
        .header(
            "accept",
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["kind"], "Table", "{body}");
    let names = body["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    let rows = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["cells"].as_array().unwrap().clone())
        .collect();
    (names, rows)
}

#[tokio::test]
async fn tables_carry_each_kinds_columns() {
    let server = admin_server().await;
    let api = Api::new(&server, Some("admin-token"));
    let pod = json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
        "spec":{"containers":[{"name":"c","image":"nginx"}]}});
    let (code, _) = api
        .json("POST", "/api/v1/namespaces/default/pods", Some(pod))
        .await;
    assert_eq!(code, 201);
    let (names, rows) = table(&api, "/api/v1/namespaces/default/pods").await;
    assert_eq!(names, ["Name", "Ready", "Status", "Restarts", "Age"]);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0][..4],
        [json!("p"), json!("0/1"), json!("Pending"), json!(0)]
    );
    let (names, rows) = table(&api, "/api/v1/namespaces/default").await;
    assert_eq!(names, ["Name", "Status", "Age"]);
    assert_eq!(rows[0][..2], [json!("default"), json!("Active")]);
    let (names, rows) = table(&api, "/api/v1/namespaces/default/configmaps").await;
    assert_eq!(names, ["Name", "Age"]);
    assert_eq!(rows[0][0], json!("kube-root-ca.crt"));
    server.shutdown().await;
}
