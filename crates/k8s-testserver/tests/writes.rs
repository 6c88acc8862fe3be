//! Patches, server-side apply, dry runs, field validation, CRDs, namespaces and fault injection.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Api, admin_server, read_events};
use serde_json::{Value, json};

fn spec_dir() -> std::path::PathBuf {
    let fixtures = std::env::var("K8S_FIXTURES_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
        });
    fixtures.join("../spec/v1.36.0")
}

async fn send_json(
    api: &Api,
    method: &str,
    path: &str,
    ct: &str,
    body: &str,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let (code, headers, text) = api.send(method, path, Some(ct), Some(body)).await;
    (
        code,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        headers,
    )
}

#[tokio::test]
async fn json_merge_and_strategic_patches() {
    let server = admin_server().await;
    let api = Api::new(&server, Some("admin-token"));
    let dep = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "a", "image": "alpine:3.6", "env": [{"name": "X", "value": "1"}]}, {"name": "b", "image": "busybox"}]}}}});
    let (code, d) = api
        .json(
            "POST",
            "/apis/apps/v1/namespaces/default/deployments",
            Some(dep),
        )
        .await;
    assert_eq!(code, 201);
    assert_eq!(d["metadata"]["generation"], 1);
    let path = "/apis/apps/v1/namespaces/default/deployments/web";
    let (code, d, _) = send_json(&api, "PATCH", path, "application/json-patch+json", r#"[{"op":"test","path":"/spec/template/spec/containers/0/image","value":"alpine:3.6"},{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"alpine:3.7"}]"#).await;
    assert_eq!(code, 200, "{d}");
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "alpine:3.7"
    );
    assert_eq!(d["metadata"]["generation"], 2);
    // merge patch replaces lists wholesale
    let (_, d, _) = send_json(
        &api,
        "PATCH",
        path,
        "application/merge-patch+json",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"alpine:3.8"}]}}}}"#,
    )
    .await;
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // strategic merge patch merges containers by name and env by name
    let (_, d, _) = send_json(&api, "PATCH", path, "application/strategic-merge-patch+json", r#"{"spec":{"template":{"spec":{"containers":[{"name":"b","image":"busybox:2"},{"name":"a","env":[{"name":"Y","value":"2"}]}]}}}}"#).await;
    let cs = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(cs.len(), 2, "{cs:?}");
    assert_eq!(cs[0]["image"], "alpine:3.8");
    assert_eq!(cs[1]["name"], "b");
    assert_eq!(d["metadata"]["generation"], 4);
    let (code, e, _) = send_json(&api, "PATCH", path, "text/plain", "{}").await;
    assert_eq!(code, 415);
    assert_eq!(e["message"], "415: Unsupported Media Type");
    let (code, e, _) = send_json(
        &api,
        "PATCH",
        path,
        "application/json-patch+json",
        r#"[{"op":"test","path":"/spec/replicas","value":7}]"#,
    )
    .await;
    assert_eq!(code, 422, "{e}");
    // scale subresource
    let (code, s) = api.get(&format!("{path}/scale")).await;
    assert_eq!(code, 200);
    assert_eq!(s["kind"], "Scale");
    assert_eq!(s["status"]["selector"], "app=web");
    let (code, s, _) = send_json(
        &api,
        "PATCH",
        &format!("{path}/scale"),
        "application/merge-patch+json",
        r#"{"spec":{"replicas":5}}"#,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(s["spec"]["replicas"], 5);
    assert_eq!(api.get(path).await.1["spec"]["replicas"], 5);
    // malformed JSON
    let (code, e, _) = send_json(
        &api,
        "POST",
        "/api/v1/namespaces/default/pods",
        "application/json",
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"broken""#,
    )
    .await;
    assert_eq!(code, 400);
    assert_eq!(
        e["message"],
        "the object provided is unrecognized (must be of type Pod): couldn't get version/kind; json parse error: unexpected end of JSON input ({\"apiVersion\":\"v1\",\"kind\":\"Pod ...)"
    );
}

#[tokio::test]
async fn server_side_apply_conflicts_and_force() {
    let server = admin_server().await;
    let api = Api::new(&server, Some("admin-token"));
    let path = "/api/v1/namespaces/default/configmaps/ssa-demo";
    let ct = "application/apply-patch+yaml";
    let (code, o, _) = send_json(&api, "PATCH", &format!("{path}?fieldManager=a"), ct, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa-demo\ndata:\n  color: red\n  owned-by-a: \"yes\"\n").await;
    assert_eq!(code, 201, "{o}");
    assert_eq!(o["metadata"]["managedFields"][0]["manager"], "a");
    assert_eq!(o["metadata"]["managedFields"][0]["operation"], "Apply");
    assert_eq!(
        o["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:data": {"f:color": {}, "f:owned-by-a": {}}})
    );
    let blue =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa-demo\ndata:\n  color: blue\n";
    let (code, e, _) = send_json(&api, "PATCH", &format!("{path}?fieldManager=b"), ct, blue).await;
    assert_eq!(code, 409);
    assert_eq!(
        e["message"],
        "Apply failed with 1 conflict: conflict with \"a\": .data.color"
    );
    assert_eq!(
        e["details"]["causes"],
        json!([{"reason": "FieldManagerConflict", "message": "conflict with \"a\"", "field": ".data.color"}])
    );
    let (code, o, _) = send_json(
        &api,
        "PATCH",
        &format!("{path}?fieldManager=b&force=true"),
        ct,
        blue,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(o["data"], json!({"color": "blue", "owned-by-a": "yes"}));
    let mf = o["metadata"]["managedFields"].as_array().unwrap();
    assert_eq!(mf.len(), 2);
    assert_eq!(mf[0]["fieldsV1"], json!({"f:data": {"f:owned-by-a": {}}}));
    assert_eq!(mf[1]["manager"], "b");
    let (code, e, _) = send_json(&api, "PATCH", path, ct, blue).await;
    assert_eq!(code, 422);
    assert_eq!(
        e["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
    // a drops a field it no longer applies
    let (_, o, _) = send_json(
        &api,
        "PATCH",
        &format!("{path}?fieldManager=b"),
        ct,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa-demo\ndata: {}\n",
    )
    .await;
    assert_eq!(o["data"], json!({"owned-by-a": "yes"}));
}

#[tokio::test]
async fn dry_run_and_field_validation() {
    let server = k8s_testserver::TestServer::builder()
        .token("admin-token", "admin", &["system:masters"])
        .spec_dir(spec_dir())
        .start()
        .await
        .unwrap();
    let api = Api::new(&server, Some("admin-token"));
    let pod = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"demo-typo"},"spec":{"containers":[{"name":"c","image":"busybox:1.36","imagePullPolice":"Always"}],"restartPolicy":"Never","restartPolicy":"Always"}}"#;
    let (code, o, headers) = send_json(
        &api,
        "POST",
        "/api/v1/namespaces/default/pods?dryRun=All",
        "application/json",
        pod,
    )
    .await;
    assert_eq!(code, 201, "{o}");
    assert!(o["metadata"].get("resourceVersion").is_none());
    assert_eq!(o["spec"]["restartPolicy"], "Always");
    let warnings: Vec<&str> = headers
        .get_all("warning")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(
        warnings,
        [
            "299 - \"unknown field \\\"spec.containers[0].imagePullPolice\\\"\"",
            "299 - \"duplicate field \\\"spec.restartPolicy\\\"\""
        ]
    );
    assert_eq!(
        api.get("/api/v1/namespaces/default/pods/demo-typo").await.0,
        404
    );
    let (code, e, _) = send_json(
        &api,
        "POST",
        "/api/v1/namespaces/default/pods?dryRun=All&fieldValidation=Strict",
        "application/json",
        pod,
    )
    .await;
    assert_eq!(code, 400);
    assert!(e["message"].as_str().unwrap().starts_with("Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: unknown field \"spec.containers[0].imagePullPolice\""), "{e}");
    let (code, e) = api.json("POST", "/api/v1/namespaces/default/pods", Some(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "Bad_Name"}, "spec": {"containers": []}}))).await;
    assert_eq!(code, 422);
    let fields: Vec<&str> = e["details"]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["metadata.name", "spec.containers"]);
    assert!(e["message"].as_str().unwrap().starts_with("Pod \"Bad_Name\" is invalid: [metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"));
    // openapi documents are served
    let (code, v2) = api.get("/openapi/v2").await;
    assert_eq!(code, 200);
    assert!(v2["definitions"]["io.k8s.api.core.v1.Pod"].is_object());
    let (code, v3) = api.get("/openapi/v3").await;
    assert_eq!(code, 200);
    let url = v3["paths"]["api/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, doc) = api.get(&url).await;
    assert_eq!(code, 200);
    assert!(doc["components"]["schemas"].is_object());
}

#[tokio::test]
async fn custom_resources_from_crds() {
    let server = admin_server().await;
    let api = Api::new(&server, Some("admin-token"));
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList", "shortNames": ["wd"]},
        "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}, "color": {"type": "string"}}}, "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}}}}}]}});
    let (code, c) = api
        .json(
            "POST",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            Some(crd),
        )
        .await;
    assert_eq!(code, 201, "{c}");
    assert!(
        c["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "Established" && c["status"] == "True")
    );
    let (code, disc) = api.get("/apis/example.com/v1").await;
    assert_eq!(code, 200);
    assert!(
        disc["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "widgets/status")
    );
    let base = "/apis/example.com/v1/namespaces/default/widgets";
    let (code, w) = api.json("POST", base, Some(json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 3, "color": "red"}}))).await;
    assert_eq!(code, 201, "{w}");
    let (code, e) = api.json("POST", base, Some(json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w-bad"}, "spec": {"size": "big"}}))).await;
    assert_eq!(code, 422);
    assert_eq!(
        e["message"],
        "Widget.example.com \"w-bad\" is invalid: spec.size: Invalid value: \"string\": spec.size in body must be of type integer: \"string\""
    );
    let (code, _, headers) = send_json(&api, "POST", &format!("{base}?dryRun=All"), "application/json", r#"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w-extra"},"spec":{"size":2,"shape":"round"}}"#).await;
    assert_eq!(code, 201);
    assert_eq!(
        headers["warning"],
        "299 - \"unknown field \\\"spec.shape\\\"\""
    );
    let (code, e, _) = send_json(
        &api,
        "PATCH",
        &format!("{base}/w1"),
        "application/strategic-merge-patch+json",
        r#"{"spec":{"size":6}}"#,
    )
    .await;
    assert_eq!(code, 415);
    assert_eq!(
        e["message"],
        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    );
    let (_, w, _) = send_json(
        &api,
        "PATCH",
        &format!("{base}/w1"),
        "application/merge-patch+json",
        r#"{"status":{"ready":true}}"#,
    )
    .await;
    assert!(w.get("status").is_none());
    let (_, w, _) = send_json(
        &api,
        "PATCH",
        &format!("{base}/w1/status"),
        "application/merge-patch+json",
        r#"{"status":{"ready":true}}"#,
    )
    .await;
    assert_eq!(w["status"]["ready"], true);
    let (_, l) = api.get(base).await;
    assert_eq!(l["kind"], "WidgetList");
    assert_eq!(l["items"][0]["kind"], "Widget");
    let (code, d) = api.json("DELETE", &format!("{base}/w1"), None).await;
    assert_eq!(code, 200);
    assert_eq!(
        d["details"],
        json!({"name": "w1", "group": "example.com", "kind": "widgets", "uid": w["metadata"]["uid"]})
    );
    let (code, e) = api.get(&format!("{base}/w1")).await;
    assert_eq!(code, 404);
    assert_eq!(e["message"], "widgets.example.com \"w1\" not found");
    api.json(
        "DELETE",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
        None,
    )
    .await;
    assert_eq!(api.get(base).await.0, 404);
}

#[tokio::test]
async fn namespace_deletion_waits_for_finalizers() {
    let server = admin_server().await;
    let api = Api::new(&server, Some("admin-token"));
    assert_eq!(
        api.json(
            "POST",
            "/api/v1/namespaces",
            Some(json!({"metadata": {"name": "scratch"}}))
        )
        .await
        .0,
        201
    );
    assert_eq!(
        api.get("/api/v1/namespaces/scratch/serviceaccounts/default")
            .await
            .0,
        200
    );
    api.json(
        "POST",
        "/api/v1/namespaces/scratch/configmaps",
        Some(json!({"metadata": {"name": "settings", "finalizers": ["example.com/hold"]}})),
    )
    .await;
    let (code, ns) = api.json("DELETE", "/api/v1/namespaces/scratch", None).await;
    assert_eq!(code, 200);
    assert_eq!(ns["status"]["phase"], "Terminating");
    let (code, e) = api
        .json(
            "POST",
            "/api/v1/namespaces/scratch/configmaps",
            Some(json!({"metadata": {"name": "late"}})),
        )
        .await;
    assert_eq!(code, 403);
    assert_eq!(
        e["message"],
        "configmaps \"late\" is forbidden: unable to create new content in namespace scratch because it is being terminated"
    );
    let (_, held) = api
        .get("/api/v1/namespaces/scratch/configmaps/settings")
        .await;
    assert!(held["metadata"]["deletionTimestamp"].is_string());
    let (code, _, _) = send_json(
        &api,
        "PATCH",
        "/api/v1/namespaces/scratch/configmaps/settings",
        "application/merge-patch+json",
        r#"{"metadata":{"finalizers":null}}"#,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(
        api.get("/api/v1/namespaces/scratch/configmaps/settings")
            .await
            .0,
        404
    );
    let (code, e) = api.get("/api/v1/namespaces/scratch").await;
    assert_eq!(code, 404);
    assert_eq!(e["message"], "namespaces \"scratch\" not found");
}

#[tokio::test]
async fn fault_injection() {
    let server = admin_server().await;
    let api = Api::new(&server, Some("admin-token"));
    server.faults().respond_429(2, 3);
    for _ in 0..2 {
        let (code, headers, text) = api.send("GET", "/api/v1/namespaces", None, None).await;
        assert_eq!(code, 429);
        assert_eq!(headers["retry-after"], "3");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["reason"], "TooManyRequests");
        assert_eq!(v["details"]["retryAfterSeconds"], 3);
    }
    assert_eq!(api.get("/api/v1/namespaces").await.0, 200);
    server.faults().respond_status(503, 1);
    let (code, e) = api.get("/api/v1/namespaces").await;
    assert_eq!(code, 503);
    assert_eq!(e["reason"], "ServiceUnavailable");
    server.faults().respond_status(500, 1);
    assert_eq!(
        api.get("/api/v1/namespaces").await.1["reason"],
        "InternalError"
    );
    // truncated body: the client sees an error, not a short document
    server.faults().truncate_next_body();
    let r = api
        .client
        .get(format!("{}/api/v1/namespaces", api.base))
        .bearer_auth("admin-token")
        .send()
        .await;
    let failed = match r {
        Err(_) => true,
        Ok(resp) => resp.bytes().await.is_err(),
    };
    assert!(failed);
    assert_eq!(api.get("/api/v1/namespaces").await.0, 200);
    // delay
    server.faults().delay(Duration::from_millis(300));
    let t = std::time::Instant::now();
    api.get("/api").await;
    assert!(t.elapsed() >= Duration::from_millis(300));
    // dropped watch
    for i in 0..3 {
        api.json(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            Some(json!({"metadata": {"name": format!("w{i}")}})),
        )
        .await;
    }
    server.faults().drop_watch_after(2);
    let resp = api
        .client
        .get(format!(
            "{}/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=5",
            api.base
        ))
        .bearer_auth("admin-token")
        .send()
        .await
        .unwrap();
    let (events, errored) = read_events(resp, 10, 10).await;
    assert_eq!(events.len(), 2);
    assert!(errored);
}

#[tokio::test]
async fn eviction_and_pdbs() {
    let server = admin_server().await;
    let api = Api::new(&server, Some("admin-token"));
    api.json("POST", "/apis/policy/v1/namespaces/default/poddisruptionbudgets", Some(json!({"metadata": {"name": "guard"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "guarded"}}}}))).await;
    api.json("POST", "/api/v1/namespaces/default/pods", Some(json!({"metadata": {"name": "guarded", "labels": {"app": "guarded"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))).await;
    send_json(
        &api,
        "PATCH",
        "/api/v1/namespaces/default/pods/guarded/status",
        "application/merge-patch+json",
        r#"{"status":{"phase":"Running"}}"#,
    )
    .await;
    let ev = json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "guarded", "namespace": "default"}});
    let (code, e) = api
        .json(
            "POST",
            "/api/v1/namespaces/default/pods/guarded/eviction",
            Some(ev.clone()),
        )
        .await;
    assert_eq!(code, 429);
    assert_eq!(
        e["details"]["causes"][0]["message"],
        "The disruption budget guard needs 1 healthy pods and has 0 currently"
    );
    let (code, e) = api.json("POST", "/api/v1/namespaces/default/pods/guarded/eviction", Some(json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "other-name"}}))).await;
    assert_eq!(code, 400);
    assert_eq!(
        e["message"],
        "name in URL does not match name in Eviction object"
    );
    send_json(
        &api,
        "PATCH",
        "/apis/policy/v1/namespaces/default/poddisruptionbudgets/guard",
        "application/merge-patch+json",
        r#"{"spec":{"minAvailable":0}}"#,
    )
    .await;
    let (code, s) = api
        .json(
            "POST",
            "/api/v1/namespaces/default/pods/guarded/eviction",
            Some(ev),
        )
        .await;
    assert_eq!(code, 201);
    assert_eq!(
        s,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})
    );
    assert_eq!(
        api.get("/api/v1/namespaces/default/pods/guarded").await.0,
        404
    );
}
