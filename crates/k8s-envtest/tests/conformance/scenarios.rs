//! The scenarios: the recorded exchanges of `apiserver-v1.36.2` (read at test time from
//! `K8S_FIXTURES_DIR`, never copied) and the malformed requests a user's code can send.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::Value;

/// The recorded scenarios, in the order they run on the shared control plane (the custom
/// resource definition of `crd` is removed before `protobuf` creates it again).
pub const RECORDED: &[&str] = &[
    "discovery",
    "auth",
    "pod-lifecycle",
    "server-side-apply",
    "list-pagination",
    "watch",
    "deployment",
    "jobs-services",
    "crd",
    "namespace",
    "eviction-pdb",
    "protobuf",
];

/// What the real server answered when the fixture was recorded.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub status: u16,
    pub content_type: Option<String>,
    pub warnings: Vec<String>,
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

/// One request of a scenario.
#[derive(Clone, Debug)]
pub struct Step {
    pub note: String,
    pub method: String,
    /// Path and query as recorded (namespace `default`).
    pub url: String,
    pub content_type: Option<String>,
    pub accept: Option<String>,
    pub identity: String,
    pub body: Option<Vec<u8>>,
    pub recorded: Option<Recorded>,
}

impl Step {
    pub fn is_watch(&self) -> bool {
        let query = self.url.split_once('?').map(|(_, q)| q).unwrap_or("");
        query
            .split('&')
            .any(|p| p == "watch=1" || p == "watch=true")
    }

    /// The recorder polled (unrecorded) until controllers acted: both servers are polled
    /// until the answer looks like the recorded one.
    pub fn waits_for_controllers(&self) -> bool {
        self.method == "GET"
            && (self.note.contains("unrecorded") || self.note.starts_with("dependents gone"))
    }

    pub fn timeout_seconds(&self) -> Option<u64> {
        self.url
            .split("timeoutSeconds=")
            .nth(1)
            .and_then(|s| s.split('&').next())
            .and_then(|s| s.parse().ok())
    }
}

/// A named list of steps.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub steps: Vec<Step>,
}

pub fn fixtures_dir() -> PathBuf {
    std::env::var("K8S_FIXTURES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"))
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn bytes(v: &Value, key: &str, b64_key: &str) -> Option<Vec<u8>> {
    if let Some(b) = v.get(b64_key).and_then(Value::as_str) {
        return base64::engine::general_purpose::STANDARD.decode(b).ok();
    }
    text(v, key).map(String::into_bytes)
}

fn header_list(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// Reads `apiserver-v1.36.2/<name>.json`.
pub fn load(name: &str) -> Result<Scenario, String> {
    let path = fixtures_dir()
        .join("apiserver-v1.36.2")
        .join(format!("{name}.json"));
    let data = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "cannot read fixture {} ({e}); set K8S_FIXTURES_DIR to the shared fixtures",
            path.display()
        )
    })?;
    let exchanges: Vec<Value> =
        serde_json::from_str(&data).map_err(|e| format!("{}: {e}", path.display()))?;
    let steps = exchanges
        .iter()
        .map(|ex| {
            let headers = &ex["response_headers"];
            Step {
                note: text(ex, "note").unwrap_or_default(),
                method: text(ex, "request_method").unwrap_or_default(),
                url: text(ex, "request_url").unwrap_or_default(),
                content_type: text(ex, "request_content_type"),
                accept: text(ex, "request_accept"),
                identity: text(ex, "request_identity").unwrap_or_else(|| "admin-token".into()),
                body: bytes(ex, "request_body", "request_body_base64"),
                recorded: Some(Recorded {
                    status: ex["response_status_code"].as_u64().unwrap_or(0) as u16,
                    content_type: headers
                        .get("content-type")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    warnings: headers.get("warning").map(header_list).unwrap_or_default(),
                    retry_after: headers
                        .get("retry-after")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    body: bytes(ex, "response_body", "response_body_base64").unwrap_or_default(),
                }),
            }
        })
        .collect();
    Ok(Scenario {
        name: name.to_owned(),
        steps,
    })
}

fn step(note: &str, method: &str, url: &str, ct: Option<&str>, body: Option<Vec<u8>>) -> Step {
    Step {
        note: note.to_owned(),
        method: method.to_owned(),
        url: url.to_owned(),
        content_type: ct.map(str::to_owned),
        accept: Some("application/json".to_owned()),
        identity: "admin-token".to_owned(),
        body,
        recorded: None,
    }
}

fn json(v: Value) -> Option<Vec<u8>> {
    Some(v.to_string().into_bytes())
}

const JSON: Option<&str> = Some("application/json");

/// Requests a user's code can get wrong; no recording: the real server is the oracle.
pub fn malformed() -> Scenario {
    let cms = "/api/v1/namespaces/default/configmaps";
    let cm = |name: &str, value: &str| {
        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name}, "data": {"k": value}})
    };
    // The server limits a request body to 3 MiB; an object to 1 MiB (ConfigMap data).
    let big_body = format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"huge\"}},\"data\":{{\"k\":\"{}\"}}}}",
        "x".repeat(3 * 1024 * 1024 + 16)
    );
    let steps = vec![
        step("seed object", "POST", cms, JSON, json(cm("seed", "v"))),
        step(
            "text/plain body: 415",
            "POST",
            cms,
            Some("text/plain"),
            Some(b"k=v".to_vec()),
        ),
        step("no content type", "POST", cms, None, json(cm("no-ct", "v"))),
        step(
            "body over the request limit: 413",
            "POST",
            cms,
            JSON,
            Some(big_body.into_bytes()),
        ),
        step(
            "ConfigMap over 1 MiB: 422",
            "POST",
            cms,
            JSON,
            json(cm("too-big", &"y".repeat(1024 * 1024 + 1))),
        ),
        step(
            "PUT on a collection: 405",
            "PUT",
            cms,
            JSON,
            json(cm("seed", "w")),
        ),
        step("DELETE on discovery", "DELETE", "/api/v1", None, None),
        step(
            "`..` in a path",
            "GET",
            "/api/v1/namespaces/default/configmaps/../secrets",
            None,
            None,
        ),
        step(
            "`%2e%2e` in a path",
            "GET",
            "/api/v1/namespaces/default/configmaps/%2e%2e",
            None,
            None,
        ),
        step("`..` as a name", "GET", &format!("{cms}/.."), None, None),
        step(
            "unknown resource",
            "GET",
            "/api/v1/namespaces/default/gizmos",
            None,
            None,
        ),
        step(
            "unknown group",
            "GET",
            "/apis/nope.example.com/v1/things",
            None,
            None,
        ),
        step(
            "unknown version of a known group",
            "GET",
            "/apis/apps/v9/deployments",
            None,
            None,
        ),
        step(
            "invalid name in the body: 422",
            "POST",
            cms,
            JSON,
            json(cm("Not_Valid", "v")),
        ),
        step(
            "invalid name in the path",
            "GET",
            &format!("{cms}/Not_Valid"),
            None,
            None,
        ),
        step(
            "name in the body differs from the path: 400",
            "PUT",
            &format!("{cms}/seed"),
            JSON,
            json(cm("other", "v")),
        ),
        step(
            "namespace in the body differs from the path: 400",
            "POST",
            cms,
            JSON,
            json(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "ns-mismatch", "namespace": "kube-system"}})),
        ),
        step(
            "kind in the body differs from the resource: 400",
            "POST",
            cms,
            JSON,
            json(serde_json::json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "wrong-kind"}})),
        ),
        step(
            "a JSON array as body: 400",
            "POST",
            cms,
            JSON,
            Some(b"[1,2]".to_vec()),
        ),
        step("empty body: 400", "POST", cms, JSON, Some(Vec::new())),
        step(
            "unknown dryRun value: 400",
            "POST",
            &format!("{cms}?dryRun=Sometimes"),
            JSON,
            json(cm("dry", "v")),
        ),
        step(
            "unknown fieldValidation value: 400",
            "POST",
            &format!("{cms}?fieldValidation=Loose"),
            JSON,
            json(cm("fv", "v")),
        ),
        step(
            "limit that is not a number: 400",
            "GET",
            &format!("{cms}?limit=ten"),
            None,
            None,
        ),
        step(
            "apply without a fieldManager: 422",
            "PATCH",
            &format!("{cms}/seed"),
            Some("application/apply-patch+yaml"),
            Some(b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: seed\n".to_vec()),
        ),
        step(
            "merge patch that is not JSON: 400",
            "PATCH",
            &format!("{cms}/seed"),
            Some("application/merge-patch+json"),
            Some(b"{not json".to_vec()),
        ),
        step(
            "JSON patch with an unknown op: 422",
            "PATCH",
            &format!("{cms}/seed"),
            Some("application/json-patch+json"),
            Some(br#"[{"op":"frobnicate","path":"/data/k"}]"#.to_vec()),
        ),
        step(
            "unsupported method",
            "POST",
            &format!("{cms}/seed"),
            JSON,
            json(cm("seed", "v")),
        ),
    ];
    Scenario {
        name: "malformed".to_owned(),
        steps,
    }
}
