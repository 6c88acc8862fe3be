//! Protobuf on the wire: the recorded protobuf exchanges of kube-apiserver 1.36
//! (`apiserver-v1.36.2/protobuf.json`) replayed against the test server (status codes, content
//! types, decoded bodies), and a protobuf watch read with `k8s_core::protobuf::watch`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use k8s_core::protobuf::{KindVisitor, Message};
use k8s_testserver::TestServer;
use serde_json::{Value, json};

const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

fn exchanges() -> Vec<Value> {
    let dir = std::env::var("K8S_FIXTURES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"));
    let path = dir.join("apiserver-v1.36.2/protobuf.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {} ({e}): set K8S_FIXTURES_DIR", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn b64(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap())
        .unwrap()
}

/// Protobuf body -> JSON, through the generated type of its envelope (independent of the
/// server's own conversion only in that it runs in the test).
struct ToJson<'a>(&'a [u8]);

impl KindVisitor for ToJson<'_> {
    type Output = Value;
    fn visit<T>(self) -> Value
    where
        T: Message + serde::Serialize + serde::de::DeserializeOwned + 'static,
    {
        let typed: T = k8s_core::protobuf::from_bytes(self.0).unwrap();
        serde_json::to_value(&typed).unwrap()
    }
}

fn pb_to_json(body: &[u8]) -> Value {
    let (tm, _) = k8s_core::protobuf::unwrap_envelope(body).unwrap();
    if tm.kind == "Status" {
        let s: k8s_core::Status = k8s_core::protobuf::from_bytes(body).unwrap();
        return serde_json::to_value(&s).unwrap();
    }
    let av = if tm.api_version.is_empty() {
        "v1"
    } else {
        &tm.api_version
    };
    k8s_api::v1_36::visit_kind(av, &tm.kind, ToJson(body))
        .unwrap_or_else(|| panic!("no type for {tm:?}"))
}

/// (type, kind, name) of every event of a protobuf watch stream but BOOKMARKs.
fn pb_events(body: &[u8]) -> Vec<(String, String, String)> {
    let mut r = k8s_core::protobuf::watch::FrameReader::new();
    r.push(body);
    let mut out = Vec::new();
    while let Some(frame) = r.next_frame().unwrap() {
        let ev: k8s_core::WatchEvent<k8s_api::v1_36::core::v1::ConfigMap> =
            k8s_core::protobuf::watch::decode_event(frame).unwrap();
        let (t, cm) = match ev {
            k8s_core::WatchEvent::Added(o) => ("ADDED", o),
            k8s_core::WatchEvent::Modified(o) => ("MODIFIED", o),
            k8s_core::WatchEvent::Deleted(o) => ("DELETED", o),
            k8s_core::WatchEvent::Bookmark(_) => continue,
            k8s_core::WatchEvent::Error(s) => panic!("ERROR event {s:?}"),
            other => panic!("unexpected event {other:?}"),
        };
        out.push((
            t.to_owned(),
            "ConfigMap".to_owned(),
            cm.metadata.name.unwrap_or_default(),
        ));
    }
    r.finish().unwrap();
    out
}

/// What is compared of a decoded body: the parts that do not depend on the run.
fn summary(v: &Value) -> Value {
    let names = |items: &Value| -> Vec<Value> {
        items
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|i| i["metadata"]["name"].clone())
                    // the recording's server was an OpenShift build (its CA bundle ConfigMap)
                    .filter(|n| n != "openshift-service-ca.crt")
                    .collect()
            })
            .unwrap_or_default()
    };
    match v["kind"].as_str().unwrap_or("") {
        "Status" => json!({"code": v["code"], "reason": v["reason"], "message": v["message"]}),
        "APIVersions" => json!({"kind": "APIVersions", "versions": v["versions"]}),
        "APIGroupList" => json!({"kind": "APIGroupList"}),
        // The core group's versions; of /apis, only whether apps/v1 is there (the recording's
        // server enabled more groups and versions than this server serves by default).
        "APIGroupDiscoveryList" => json!({
            "core": v["groups"][""], "apps": v["groups"]["apps"].as_array()
                .is_some_and(|vs| vs.contains(&json!("v1"))),
        }),
        "APIResourceList" => json!({"kind": "APIResourceList", "groupVersion": v["groupVersion"]}),
        k if k.ends_with("List") => json!({
            "kind": k, "apiVersion": v["apiVersion"], "items": names(&v["items"]),
            "has_continue": v["metadata"]["continue"].is_string(),
        }),
        k => json!({
            "kind": k, "apiVersion": v["apiVersion"], "name": v["metadata"]["name"],
            "labels": v["metadata"]["labels"], "data": v["data"], "binaryData": v["binaryData"],
        }),
    }
}

/// Exchanges whose recorded answer the test server does not give, and why (compared by status
/// code only, or not sent).
fn known_difference(i: usize) -> Option<&'static str> {
    match i {
        // The real server panics (connection dropped, status 0) on a protobuf body for a custom
        // resource; the test server answers 415 (checked below).
        44 => Some("skip"),
        _ => None,
    }
}

/// A watch running while the next exchanges are sent: (status, content type, body).
type PendingWatch = tokio::task::JoinHandle<(u16, String, Vec<u8>)>;

struct Replay {
    api: common::Api,
    /// recorded value -> ours (resourceVersions, continue tokens)
    map: HashMap<String, String>,
    failures: Vec<String>,
}

impl Replay {
    fn url(&self, rec: &str) -> String {
        let mut url = rec.to_owned();
        for (from, to) in &self.map {
            url = url.replace(&format!("={from}&"), &format!("={to}&"));
            if url.ends_with(&format!("={from}")) {
                url = format!("{}={to}", &url[..url.len() - from.len() - 1]);
            }
        }
        url
    }

    fn request(&self, ex: &Value, url: &str) -> reqwest::RequestBuilder {
        let method = ex["request_method"].as_str().unwrap();
        let mut rb = self
            .api
            .client
            .request(method.parse().unwrap(), format!("{}{url}", self.api.base));
        if let Some(ct) = ex["request_content_type"].as_str() {
            rb = rb.header("content-type", ct);
        }
        if let Some(acc) = ex["request_accept"].as_str() {
            rb = rb.header("accept", acc);
        }
        if let Some(b) = ex["request_body"].as_str() {
            rb = rb.body(b.to_owned());
        } else if ex["request_body_base64"].is_string() {
            rb = rb.body(b64(&ex["request_body_base64"]));
        }
        rb
    }

    /// Learns our resourceVersion / continue token for the recorded ones.
    fn learn(&mut self, rec: &Value, ours: &Value) {
        for p in ["/metadata/resourceVersion", "/metadata/continue"] {
            if let (Some(a), Some(b)) = (
                rec.pointer(p).and_then(Value::as_str),
                ours.pointer(p).and_then(Value::as_str),
            ) {
                if !a.is_empty() && a.len() > 2 {
                    self.map.insert(a.to_owned(), b.to_owned());
                }
            }
        }
    }
}

/// The groups and their versions of an aggregated discovery body in protobuf, read field by
/// field with the wire reader (items = 2; an item's metadata = 1, name = 1; versions = 2,
/// version = 1), independently of the server's types.
fn discovery_groups(body: &[u8]) -> Value {
    use k8s_core::protobuf::{Bytes, Value as Wire};
    fn fields(b: Bytes<'_>) -> Vec<(u32, Bytes<'_>)> {
        let mut r = b.reader().unwrap();
        let mut out = Vec::new();
        while let Some((n, v)) = r.next_field().unwrap() {
            if let Wire::Len(b) = v {
                out.push((n, b));
            }
        }
        out
    }
    let text = |b: Bytes<'_>| String::from_utf8(b.data.to_vec()).unwrap();
    let (tm, raw) = k8s_core::protobuf::unwrap_envelope(body).unwrap();
    assert_eq!(
        (tm.api_version.as_str(), tm.kind.as_str()),
        ("apidiscovery.k8s.io/v2", "APIGroupDiscoveryList")
    );
    let mut groups = serde_json::Map::new();
    for (_, item) in fields(Bytes::top(raw)).into_iter().filter(|(n, _)| *n == 2) {
        let (mut name, mut versions) = (String::new(), Vec::new());
        for (n, b) in fields(item) {
            match n {
                1 => {
                    for (m, v) in fields(b) {
                        if m == 1 {
                            name = text(v);
                        }
                    }
                }
                2 => versions.extend(
                    fields(b)
                        .into_iter()
                        .filter(|(m, _)| *m == 1)
                        .map(|(_, v)| text(v)),
                ),
                _ => {}
            }
        }
        groups.insert(name, json!(versions));
    }
    json!({"kind": "APIGroupDiscoveryList", "groups": groups})
}

fn body_value(ct: &str, bytes: &[u8]) -> Value {
    if ct.contains("as=APIGroupDiscoveryList") {
        return discovery_groups(bytes);
    }
    if ct.starts_with(PROTOBUF) {
        pb_to_json(bytes)
    } else {
        serde_json::from_slice(bytes).unwrap_or(Value::Null)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_protobuf_exchanges_replay() {
    let server = TestServer::builder().start().await.unwrap();
    let mut r = Replay {
        api: common::Api::with_cert(&server, "admin", &["system:masters"]),
        map: HashMap::new(),
        failures: Vec::new(),
    };
    let ex = exchanges();
    let mut watch: Option<(usize, PendingWatch)> = None;
    let mut compared = 0;
    for (i, e) in ex.iter().enumerate() {
        let note = e["note"].as_str().unwrap_or("");
        if let Some((wi, h)) = watch.take_if(|_| !note.starts_with("during the watch")) {
            let (code, ct, body) = h.await.unwrap();
            let rec_ct = ex[wi]["response_headers"]["content-type"].as_str().unwrap();
            assert_eq!((code, ct.as_str()), (200, rec_ct), "watch {wi}");
            let recorded = b64(&ex[wi]["response_body_base64"]);
            assert_eq!(pb_events(&body), pb_events(&recorded), "watch {wi}");
            compared += 1;
        }
        if known_difference(i) == Some("skip") {
            continue;
        }
        let url = r.url(e["request_url"].as_str().unwrap());
        let rb = r.request(e, &url);
        let rec_code = e["response_status_code"].as_u64().unwrap() as u16;
        let rec_ct = e["response_headers"]["content-type"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        if url.contains("watch=1") && rec_ct.starts_with(PROTOBUF) {
            let h = tokio::spawn(async move {
                let resp = rb.send().await.unwrap();
                let code = resp.status().as_u16();
                let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
                let body = tokio::time::timeout(Duration::from_secs(15), resp.bytes())
                    .await
                    .expect("the watch did not end")
                    .unwrap();
                (code, ct, body.to_vec())
            });
            tokio::time::sleep(Duration::from_millis(300)).await;
            watch = Some((i, h));
            continue;
        }
        let resp = rb.send().await.unwrap();
        let code = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = resp.bytes().await.unwrap();
        let ctx = format!("[{i}] {} {url} ({note})", e["request_method"]);
        if code != rec_code {
            r.failures.push(format!(
                "{ctx}: status {code}, recorded {rec_code}: {}",
                String::from_utf8_lossy(&bytes)
            ));
            continue;
        }
        if known_difference(i) == Some("code") {
            continue;
        }
        if ct != rec_ct {
            r.failures
                .push(format!("{ctx}: content-type {ct:?}, recorded {rec_ct:?}"));
            continue;
        }
        if url.contains("watch=1") {
            continue; // the JSON watch: fixture_replay's business
        }
        let rec_bytes = match e["response_body_base64"].as_str() {
            Some(_) => b64(&e["response_body_base64"]),
            None => e["response_body"]
                .as_str()
                .unwrap_or("")
                .as_bytes()
                .to_vec(),
        };
        let (rec, ours) = (body_value(&rec_ct, &rec_bytes), body_value(&ct, &bytes));
        r.learn(&rec, &ours);
        if url.starts_with("/version") || ct.starts_with("application/json;g=") {
            continue;
        }
        if summary(&rec) != summary(&ours) {
            r.failures.push(format!(
                "{ctx}:\n  recorded {}\n  ours     {}",
                summary(&rec),
                summary(&ours)
            ));
        }
        compared += 1;
    }
    assert!(
        r.failures.is_empty(),
        "{} exchanges differ:\n{}",
        r.failures.len(),
        r.failures.join("\n")
    );
    assert!(compared >= 45, "only {compared} exchanges compared");
    // Exchange 44: a protobuf body for a custom resource.
    let e = &ex[44];
    let resp = r
        .request(e, e["request_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 415);
    server.shutdown().await;
}

/// A watch in protobuf, read frame by frame with `k8s_core::protobuf::watch`, and the request log
/// showing what went over the wire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protobuf_watch_decodes_with_the_runtime() {
    let server = TestServer::builder().start().await.unwrap();
    let api = common::Api::with_cert(&server, "admin", &["system:masters"]);
    let url = format!(
        "{}/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=2",
        api.base
    );
    let resp = api
        .client
        .get(url)
        .header("accept", "application/vnd.kubernetes.protobuf;stream=watch")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.kubernetes.protobuf;stream=watch"
    );
    let (code, _) = api
        .json(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            Some(json!({"metadata": {"name": "w"}, "data": {"k": "v"}})),
        )
        .await;
    assert_eq!(code, 201);
    let (code, _) = api
        .json("DELETE", "/api/v1/namespaces/default/configmaps/w", None)
        .await;
    assert_eq!(code, 200);
    let body = tokio::time::timeout(Duration::from_secs(10), resp.bytes())
        .await
        .unwrap()
        .unwrap();
    let events = pb_events(&body);
    let names: Vec<(&str, &str)> = events
        .iter()
        .map(|(t, _, n)| (t.as_str(), n.as_str()))
        // the initial ADDED events of what exists (kube-root-ca.crt)
        .filter(|(_, n)| *n == "w")
        .collect();
    assert_eq!(names, [("ADDED", "w"), ("DELETED", "w")]);
    let log = server.request_log();
    let w = log
        .iter()
        .find(|l| l.path_and_query.contains("watch=1"))
        .unwrap();
    assert_eq!(
        w.response_content_type.as_deref(),
        Some("application/vnd.kubernetes.protobuf;stream=watch")
    );
    server.shutdown().await;
}

/// The server speaks protobuf for the version whose table it serves: started with 1.34's table,
/// it reads and writes `storage.k8s.io/v1alpha1 VolumeAttributesClass` (gone since 1.35, so 1.36's
/// kinds do not know it) as request body, object, list and watch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_follows_the_served_version() {
    use k8s_api::v1_34::storage::v1alpha1::VolumeAttributesClass;
    use k8s_core::{List, WatchEvent};

    let server = TestServer::builder()
        .resources(k8s_api::v1_34::RESOURCES)
        .prerelease_versions()
        .start()
        .await
        .unwrap();
    let api = common::Api::with_cert(&server, "admin", &["system:masters"]);
    let path = "/apis/storage.k8s.io/v1alpha1/volumeattributesclasses";
    let watch = api
        .client
        .get(format!("{}{path}?watch=1&timeoutSeconds=2", api.base))
        .header("accept", PROTOBUF)
        .send()
        .await
        .unwrap();
    assert_eq!(watch.status(), 200);
    let mut vac = VolumeAttributesClass::default();
    vac.metadata.name = Some("gold".into());
    vac.driver_name = "csi.example.com".into();
    vac.parameters = Some([("iops".to_owned(), "5000".to_owned())].into());
    let resp = api
        .client
        .post(format!("{}{path}", api.base))
        .header("content-type", PROTOBUF)
        .header("accept", PROTOBUF)
        .body(k8s_core::protobuf::to_bytes(&vac))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["content-type"], PROTOBUF);
    let created: VolumeAttributesClass =
        k8s_core::protobuf::from_bytes(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(created.driver_name, "csi.example.com");
    assert_eq!(created.parameters, vac.parameters);
    assert!(created.metadata.uid.is_some());

    // The object in protobuf equals the object in JSON.
    let resp = api
        .client
        .get(format!("{}{path}/gold", api.base))
        .header("accept", PROTOBUF)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], PROTOBUF);
    let got: VolumeAttributesClass =
        k8s_core::protobuf::from_bytes(&resp.bytes().await.unwrap()).unwrap();
    let (code, json) = api.get(&format!("{path}/gold")).await;
    assert_eq!(code, 200);
    assert_eq!(serde_json::to_value(&got).unwrap(), json);

    let resp = api
        .client
        .get(format!("{}{path}", api.base))
        .header("accept", PROTOBUF)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], PROTOBUF);
    let list: List<VolumeAttributesClass> =
        k8s_core::protobuf::from_bytes(&resp.bytes().await.unwrap()).unwrap();
    let names: Vec<_> = list.items.iter().map(|i| i.metadata.name.clone()).collect();
    assert_eq!(names, [Some("gold".to_owned())]);

    assert_eq!(
        watch.headers()["content-type"],
        "application/vnd.kubernetes.protobuf;stream=watch"
    );
    let body = tokio::time::timeout(Duration::from_secs(10), watch.bytes())
        .await
        .unwrap()
        .unwrap();
    let mut frames = k8s_core::protobuf::watch::FrameReader::new();
    frames.push(&body);
    let mut added = Vec::new();
    while let Some(frame) = frames.next_frame().unwrap() {
        match k8s_core::protobuf::watch::decode_event::<VolumeAttributesClass>(frame).unwrap() {
            WatchEvent::Added(o) => added.push(o.metadata.name.unwrap_or_default()),
            WatchEvent::Bookmark(_) => {}
            other => panic!("unexpected event {other:?}"),
        }
    }
    assert_eq!(added, ["gold"]);
    server.shutdown().await;
}
