//! k8s-client's protobuf negotiation (issue 18, item 3) against a real kube-apiserver 1.36.
//!
//! The client talks to the apiserver through a recording relay (plain HTTP/1.1 on loopback in
//! front, TLS to the apiserver behind), which notes each request's method, path, `Accept` and
//! `Content-Type` and the answer's status and `Content-Type`. So every assertion about the wire
//! is on what really went between the client and the server: get, list, `list_all` pages,
//! create and replace (bodies in protobuf), the resuming watch (protobuf frames), error `Status`
//! in protobuf mapped to the same `Error` as in JSON, and a custom resource that stays JSON.
//!
//! Without the binaries (`cargo xtask envtest install`) the test prints one line and passes;
//! `K8S_ENVTEST_REQUIRED=1` makes a missing installation a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_api::v1_36::core::v1::{ConfigMap, Container, Namespace, Pod, PodSpec, ServiceAccount};
use k8s_client::{Auth, Client, Config, SecretString, WatchUpdate};
use k8s_core::ops::{ACCEPT_PROTOBUF, CreateRequest, ListRequest};
use k8s_core::{ObjectMeta, WatchEvent};
use k8s_envtest::EnvTest;
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ADMIN_TOKEN: &str = "pb-admin-token-4c1d";
const NS: &str = "pb-client";
const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";
const PROTOBUF_WATCH: &str = "application/vnd.kubernetes.protobuf;stream=watch";

/// One request as it went through the relay.
#[derive(Clone, Debug)]
struct Exchange {
    method: String,
    /// Path and query.
    target: String,
    accept: String,
    content_type: String,
    status: u16,
    response_content_type: String,
}

type Log = Arc<Mutex<Vec<Exchange>>>;

fn header<'a>(head: &'a str, name: &str) -> &'a str {
    head.lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .unwrap_or("")
}

/// The head (up to the blank line) and what was read after it.
async fn read_head<R: AsyncReadExt + Unpin>(r: &mut R) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Some((String::from_utf8(buf).ok()?, rest));
        }
        let n = r.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The head with `Connection: close` in place of any `Connection` header: one exchange per
/// connection, so that the relay can see each head.
fn close_after(head: &str) -> String {
    let mut out = String::new();
    for line in head.trim_end().lines() {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    out
}

/// Starts the relay: `http://127.0.0.1:<port>` in front of the apiserver.
async fn relay(upstream_port: u16, ca_pem: &str, log: Log) -> u16 {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let connector = connector.clone();
            let log = log.clone();
            tokio::spawn(async move {
                let Some((head, mut body)) = read_head(&mut client).await else {
                    return;
                };
                let len: usize = header(&head, "content-length").parse().unwrap_or(0);
                while body.len() < len {
                    let mut chunk = vec![0u8; len - body.len()];
                    match client.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => body.extend_from_slice(&chunk[..n]),
                    }
                }
                let tcp = tokio::net::TcpStream::connect(("127.0.0.1", upstream_port))
                    .await
                    .unwrap();
                let name = ServerName::try_from("127.0.0.1").unwrap();
                let mut up = connector.connect(name, tcp).await.unwrap();
                up.write_all(close_after(&head).as_bytes()).await.unwrap();
                up.write_all(&body).await.unwrap();
                let Some((resp_head, rest)) = read_head(&mut up).await else {
                    return;
                };
                let mut request_line = head.lines().next().unwrap_or("").split(' ');
                let status = resp_head
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                log.lock().unwrap().push(Exchange {
                    method: request_line.next().unwrap_or("").to_owned(),
                    target: request_line.next().unwrap_or("").to_owned(),
                    accept: header(&head, "accept").to_owned(),
                    content_type: header(&head, "content-type").to_owned(),
                    status,
                    response_content_type: header(&resp_head, "content-type").to_owned(),
                });
                if client
                    .write_all(close_after(&resp_head).as_bytes())
                    .await
                    .is_err()
                    || client.write_all(&rest).await.is_err()
                {
                    return;
                }
                let _ = tokio::io::copy(&mut up, &mut client).await;
            });
        }
    });
    port
}

fn client(port: u16, protobuf: bool) -> Client {
    let mut config = Config::new(format!("http://127.0.0.1:{port}").parse().unwrap());
    config.auth = Auth::Bearer(SecretString::new(ADMIN_TOKEN));
    config.protobuf = protobuf;
    Client::new(config).unwrap()
}

/// The exchanges since `from` whose method is `method` and whose target starts with `prefix`.
fn seen(log: &Log, from: usize, method: &str, prefix: &str) -> Vec<Exchange> {
    log.lock().unwrap()[from..]
        .iter()
        .filter(|e| e.method == method && e.target.starts_with(prefix))
        .cloned()
        .collect()
}

fn mark(log: &Log) -> usize {
    log.lock().unwrap().len()
}

fn config_map(name: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(NS.into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("k".to_owned(), value.to_owned())])),
        ..Default::default()
    }
}

/// A custom resource kind written by hand: it implements `Resource` without a protobuf codec.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct Widget {
    #[serde(rename = "apiVersion", default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    metadata: ObjectMeta,
    #[serde(default)]
    spec: serde_json::Value,
}

impl k8s_core::Resource for Widget {
    const API_VERSION: &'static str = "pb.example.com/v1";
    const GROUP: &'static str = "pb.example.com";
    const VERSION: &'static str = "v1";
    const KIND: &'static str = "Widget";
    const PLURAL: &'static str = "widgets";
    const SCOPE: k8s_core::Scope = k8s_core::Scope::Namespaced;
    const VERBS: &'static [&'static str] = &["get", "list", "watch", "create"];
    const SUBRESOURCES: &'static [&'static str] = &[];
}

impl k8s_core::Object for Widget {
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_negotiation_against_a_real_apiserver() {
    let Some(binaries) = k8s_envtest::binaries_or_skip().unwrap() else {
        return;
    };
    let env = EnvTest::builder()
        .binaries(binaries)
        .token(ADMIN_TOKEN, "pb-admin", &["system:masters"])
        .start()
        .await
        .unwrap();
    let log: Log = Arc::default();
    let port = relay(env.port(), env.ca_pem(), log.clone()).await;
    let pb = client(port, true);
    let json = client(port, false);

    // Create (a protobuf body) of a cluster-scoped kind.
    let m = mark(&log);
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(NS.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let created = pb.send(Namespace::create(&ns)).await.unwrap();
    assert_eq!(created.metadata.name.as_deref(), Some(NS));
    let post = seen(&log, m, "POST", "/api/v1/namespaces");
    assert_eq!(post.len(), 1, "{post:?}");
    assert_eq!(post[0].content_type, PROTOBUF);
    assert_eq!(post[0].accept, ACCEPT_PROTOBUF);
    assert_eq!(
        (post[0].status, post[0].response_content_type.as_str()),
        (201, PROTOBUF)
    );

    // Create, get and replace a ConfigMap: protobuf both ways, the same values as JSON.
    let m = mark(&log);
    let cm = pb
        .send(ConfigMap::create(NS, &config_map("one", "v1")))
        .await
        .unwrap();
    assert_eq!(cm.data, config_map("one", "v1").data);
    let got = pb.send(ConfigMap::read(NS, "one")).await.unwrap();
    let got_json = json.send(ConfigMap::read(NS, "one")).await.unwrap();
    assert_eq!(
        got, got_json,
        "protobuf and JSON decode to the same ConfigMap"
    );
    let mut changed = got.clone();
    changed.data = config_map("one", "v2").data;
    let replaced = pb
        .send(ConfigMap::replace(NS, "one", &changed))
        .await
        .unwrap();
    assert_eq!(replaced.data, changed.data);
    assert_ne!(
        replaced.metadata.resource_version,
        got.metadata.resource_version
    );
    let path = format!("/api/v1/namespaces/{NS}/configmaps");
    let gets = seen(&log, m, "GET", &format!("{path}/one"));
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert_eq!(
        (
            gets[0].accept.as_str(),
            gets[0].response_content_type.as_str()
        ),
        (ACCEPT_PROTOBUF, PROTOBUF)
    );
    assert_eq!(
        (
            gets[1].accept.as_str(),
            gets[1].response_content_type.as_str()
        ),
        ("application/json", "application/json")
    );
    let put = seen(&log, m, "PUT", &format!("{path}/one"));
    assert_eq!(put.len(), 1);
    assert_eq!(
        (
            put[0].content_type.as_str(),
            put[0].response_content_type.as_str()
        ),
        (PROTOBUF, PROTOBUF)
    );

    // A Pod (the largest built-in kind) round trip: protobuf equals JSON. (No controller
    // manager runs: the service account the admission of Pods looks up is created here.)
    let sa = ServiceAccount {
        metadata: ObjectMeta {
            name: Some("default".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    pb.send(ServiceAccount::create(NS, &sa)).await.unwrap();
    let pod = Pod {
        metadata: ObjectMeta {
            name: Some("web".into()),
            labels: Some(BTreeMap::from([("app".to_owned(), "web".to_owned())])),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "web".into(),
                image: Some("nginx:1.27".into()),
                args: Some(vec!["--port".into(), "8080".into()]),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = pb.send(Pod::create(NS, &pod)).await.unwrap();
    let got_json = json.send(Pod::read(NS, "web")).await.unwrap();
    assert_eq!(created.spec, got_json.spec);
    assert_eq!(
        pb.send(Pod::read(NS, "web")).await.unwrap(),
        got_json,
        "the Pod in protobuf equals the Pod in JSON"
    );

    // Lists, and list_all over pages (continue tokens read from protobuf ListMeta).
    for i in 0..5 {
        pb.send(ConfigMap::create(
            NS,
            &config_map(&format!("page-{i}"), "x"),
        ))
        .await
        .unwrap();
    }
    let m = mark(&log);
    let list = pb.send(ConfigMap::list(NS)).await.unwrap();
    let list_json = json.send(ConfigMap::list(NS)).await.unwrap();
    assert_eq!(list.items, list_json.items);
    let names: Vec<String> = pb
        .list_all(ConfigMap::list(NS).label_selector("").limit(2))
        .map_ok(|c| c.metadata.name.unwrap_or_default())
        .try_collect()
        .await
        .unwrap();
    let expected: Vec<String> = list_json
        .items
        .iter()
        .map(|c| c.metadata.name.clone().unwrap_or_default())
        .collect();
    assert_eq!(names, expected);
    let lists = seen(&log, m, "GET", &path);
    // 1 protobuf list, 1 JSON list, then 3 pages of 2 (6 ConfigMaps).
    assert!(lists.len() >= 5, "{lists:?}");
    assert!(
        lists
            .iter()
            .filter(|e| e.accept == ACCEPT_PROTOBUF)
            .all(|e| e.response_content_type == PROTOBUF),
        "{lists:?}"
    );
    assert_eq!(
        lists.iter().filter(|e| e.accept == ACCEPT_PROTOBUF).count(),
        lists.len() - 1,
        "{lists:?}"
    );
    assert!(lists.iter().any(|e| e.target.contains("continue=")));

    // The resuming watch, in protobuf frames.
    let rv = list.metadata.resource_version.clone().unwrap();
    let m = mark(&log);
    let mut events = std::pin::pin!(pb.watch(ConfigMap::watch(NS).resource_version(rv)));
    pb.send(ConfigMap::create(NS, &config_map("watched", "a")))
        .await
        .unwrap();
    let mut w = pb.send(ConfigMap::read(NS, "watched")).await.unwrap();
    w.data = config_map("watched", "b").data;
    pb.send(ConfigMap::replace(NS, "watched", &w))
        .await
        .unwrap();
    pb.send(ConfigMap::delete(NS, "watched")).await.unwrap();
    let mut got = Vec::new();
    while got.len() < 3 {
        let update = tokio::time::timeout(Duration::from_secs(30), events.next())
            .await
            .expect("watch events within 30 s")
            .expect("the watch goes on")
            .unwrap();
        match update {
            WatchUpdate::Event(WatchEvent::Added(c)) => {
                got.push(("ADDED", c.data.and_then(|d| d.get("k").cloned())))
            }
            WatchUpdate::Event(WatchEvent::Modified(c)) => {
                got.push(("MODIFIED", c.data.and_then(|d| d.get("k").cloned())))
            }
            WatchUpdate::Event(WatchEvent::Deleted(c)) => {
                got.push(("DELETED", c.data.and_then(|d| d.get("k").cloned())))
            }
            _ => {}
        }
    }
    assert_eq!(
        got,
        vec![
            ("ADDED", Some("a".to_owned())),
            ("MODIFIED", Some("b".to_owned())),
            ("DELETED", Some("b".to_owned())),
        ]
    );
    let watches: Vec<Exchange> = seen(&log, m, "GET", &path)
        .into_iter()
        .filter(|e| e.target.contains("watch=1"))
        .collect();
    assert!(!watches.is_empty());
    assert_eq!(watches[0].accept, ACCEPT_PROTOBUF);
    assert_eq!(watches[0].response_content_type, PROTOBUF_WATCH);

    // Errors: a Status in protobuf is the same `Error` as in JSON.
    let m = mark(&log);
    let e_pb = pb.send(ConfigMap::read(NS, "nope")).await.unwrap_err();
    let e_json = json.send(ConfigMap::read(NS, "nope")).await.unwrap_err();
    assert!(e_pb.is_not_found(), "{e_pb}");
    assert_eq!(e_pb.status(), e_json.status());
    assert_eq!(e_pb.to_string(), e_json.to_string());
    let answers = seen(&log, m, "GET", &format!("{path}/nope"));
    assert_eq!(
        (answers[0].status, answers[0].response_content_type.as_str()),
        (404, PROTOBUF)
    );
    assert_eq!(answers[1].response_content_type, "application/json");
    let e_pb = pb
        .send(ConfigMap::create(NS, &config_map("one", "again")))
        .await
        .unwrap_err();
    let e_json = json
        .send(ConfigMap::create(NS, &config_map("one", "again")))
        .await
        .unwrap_err();
    assert!(e_pb.is_already_exists(), "{e_pb}");
    assert_eq!(e_pb.status(), e_json.status());
    let mut invalid = config_map("Not_Valid", "x");
    invalid.metadata.namespace = None;
    let e_pb = pb.send(ConfigMap::create(NS, &invalid)).await.unwrap_err();
    let e_json = json
        .send(ConfigMap::create(NS, &invalid))
        .await
        .unwrap_err();
    assert_eq!(e_pb.status_code(), Some(422), "{e_pb}");
    assert_eq!(e_pb.status(), e_json.status(), "422 with its causes");

    // A custom resource: always JSON, even from the protobuf client.
    let crd = serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.pb.example.com"},
        "spec": {
            "group": "pb.example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
            }}}]
        }
    });
    pb.send(CreateRequest::<serde_json::Value>::new(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions".into(),
        &crd,
    ))
    .await
    .unwrap();
    let widgets = format!("/apis/pb.example.com/v1/namespaces/{NS}/widgets");
    let widget = Widget {
        api_version: "pb.example.com/v1".into(),
        kind: "Widget".into(),
        metadata: ObjectMeta {
            name: Some("w1".into()),
            ..Default::default()
        },
        spec: serde_json::json!({"size": 3}),
    };
    let mut served = false;
    for _ in 0..100 {
        match pb
            .send(CreateRequest::<Widget>::for_kind(widgets.clone(), &widget))
            .await
        {
            Ok(_) => {
                served = true;
                break;
            }
            Err(e) if e.is_not_found() => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(served, "the CRD was not served within 20 s");
    let m = mark(&log);
    let items = pb
        .send(ListRequest::<Widget>::for_kind(widgets.clone()))
        .await
        .unwrap();
    assert_eq!(items.items.len(), 1);
    assert_eq!(items.items[0].spec, serde_json::json!({"size": 3}));
    let creates = seen(&log, 0, "POST", &widgets);
    assert!(creates.iter().all(|e| e.content_type == "application/json"));
    let lists = seen(&log, m, "GET", &widgets);
    assert_eq!(
        (
            lists[0].accept.as_str(),
            lists[0].response_content_type.as_str()
        ),
        ("application/json", "application/json")
    );
    // What the server answers a custom resource asked for in protobuf: JSON (the fallback of
    // the `Accept` list), which the client reads by its content type.
    let m = mark(&log);
    let mut raw = k8s_core::Request::new(http::Method::GET, widgets.clone());
    raw.accept = ACCEPT_PROTOBUF;
    let body = pb.send_raw(&raw).await.unwrap();
    assert!(body.starts_with(b"{"));
    let fallback = seen(&log, m, "GET", &widgets);
    assert_eq!(fallback[0].response_content_type, "application/json");

    env.stop();
}
