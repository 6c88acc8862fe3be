//! Malformed requests get the real kube-apiserver's answers (status, reason, message), as
//! measured by `k8s-envtest`'s conformance test; these run without the real server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::{Value, json};

const CMS: &str = "/api/v1/namespaces/default/configmaps";

fn cm(name: &str) -> String {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}).to_string()
}

async fn call(
    api: &common::Api,
    method: &str,
    path: &str,
    ct: Option<&str>,
    body: Option<&str>,
) -> (u16, Value) {
    let (code, _, text) = api.send(method, path, ct, body).await;
    (
        code,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn reason(v: &Value) -> &str {
    v["reason"].as_str().unwrap_or("")
}

#[tokio::test]
async fn malformed_requests_get_the_real_answers() {
    let server = common::admin_server().await;
    let api = common::Api::new(&server, Some("admin-token"));
    let json = Some("application/json");
    let (code, _) = call(&api, "POST", CMS, json, Some(&cm("seed"))).await;
    assert_eq!(code, 201);

    let (code, v) = call(&api, "POST", CMS, Some("text/plain"), Some("k=v")).await;
    assert_eq!((code, reason(&v)), (415, "UnsupportedMediaType"), "{v}");
    assert_eq!(
        v["message"],
        "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf"
    );
    let (code, _) = call(&api, "POST", CMS, Some("application/cbor"), Some("x")).await;
    assert_eq!(code, 415);

    let big = format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"huge\"}},\"data\":{{\"k\":\"{}\"}}}}",
        "x".repeat(3 * 1024 * 1024)
    );
    let (code, v) = call(&api, "POST", CMS, json, Some(&big)).await;
    assert_eq!((code, reason(&v)), (413, "RequestEntityTooLarge"), "{v}");
    assert_eq!(v["message"], "Request entity too large: limit is 3145728");

    for (method, path) in [
        ("PUT", CMS.to_owned()),
        ("POST", format!("{CMS}/seed")),
        ("DELETE", "/api/v1".to_owned()),
    ] {
        let (code, v) = call(&api, method, &path, json, Some(&cm("seed"))).await;
        assert_eq!(
            (code, reason(&v)),
            (405, "MethodNotAllowed"),
            "{method} {path}: {v}"
        );
    }

    let (code, v) = call(
        &api,
        "POST",
        CMS,
        json,
        Some(&json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}).to_string()),
    )
    .await;
    assert_eq!(code, 400, "{v}");
    assert_eq!(
        v["message"],
        "Secret in version \"v1\" cannot be handled as a ConfigMap: converting (v1.Secret) to (core.ConfigMap): unknown conversion"
    );

    let (code, v) = call(
        &api,
        "POST",
        &format!("{CMS}?dryRun=Sometimes"),
        json,
        Some(&cm("d")),
    )
    .await;
    assert_eq!((code, reason(&v)), (422, "Invalid"), "{v}");
    assert_eq!(v["details"]["causes"][0]["field"], "dryRun");
    let (code, v) = call(
        &api,
        "POST",
        &format!("{CMS}?fieldValidation=Loose"),
        json,
        Some(&cm("f")),
    )
    .await;
    assert_eq!((code, reason(&v)), (422, "Invalid"), "{v}");
    assert_eq!(v["details"]["causes"][0]["field"], "fieldValidation");

    let (code, v) = call(&api, "GET", &format!("{CMS}?limit=ten"), None, None).await;
    assert_eq!((code, reason(&v)), (400, "BadRequest"), "{v}");

    // `..` and `%2e%2e` as names (400) need raw HTTP (a client resolves them before sending):
    // k8s-envtest's conformance test sends them.

    let (code, _, text) = api
        .send("GET", "/apis/nope.example.com/v1/things", None, None)
        .await;
    assert_eq!((code, text.as_str()), (404, "404 page not found\n"));

    let (code, v) = call(
        &api,
        "PATCH",
        &format!("{CMS}/seed"),
        Some("application/json-patch+json"),
        Some(r#"[{"op":"frobnicate","path":"/data/k"}]"#),
    )
    .await;
    assert_eq!((code, reason(&v)), (422, "Invalid"), "{v}");
}
