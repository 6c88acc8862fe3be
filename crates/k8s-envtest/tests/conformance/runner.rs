//! Sends each step to both servers, maps what differs between runs (namespace,
//! resourceVersions, uids, continue tokens, clusterIPs) from the recording to each server's
//! own values, and records the comparison.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_envtest::{Binaries, EnvTest};
use k8s_testserver::TestServer;
use serde_json::Value;

use crate::compare::{Difference, compare};
use crate::http::{self, Identity, RawRequest, RawResponse};
use crate::known_differences::{self, Known};
use crate::normalise::{self, Context, Observed};
use crate::scenarios::{Recorded, Scenario, Step};

const ADMIN: &str = "admin-token";

/// One side of the comparison.
pub struct Server {
    pub name: &'static str,
    addr: String,
    ca: String,
    identities: HashMap<String, Identity>,
    /// recorded value -> this server's value (resourceVersion, uid, continue, clusterIP)
    subst: HashMap<String, String>,
    rvs: HashSet<String>,
    /// How long to poll for controllers.
    settle: Duration,
}

/// The comparison of one step.
pub struct StepResult {
    pub scenario: String,
    pub step: usize,
    pub label: String,
    /// `None`: not sent (see `known_differences::SKIPPED`).
    pub diffs: Option<Vec<(Difference, Option<&'static Known>)>>,
    /// The real server answered as recorded (after normalisation); `None` without recording.
    pub real_as_recorded: Option<bool>,
}

pub struct Runner {
    real: Server,
    test: Server,
    env: EnvTest,
    testserver: TestServer,
    pub results: Vec<StepResult>,
}

fn identities(
    ca: &str,
    cert: impl Fn(&str, &[&str]) -> (String, String),
) -> HashMap<String, Identity> {
    let plain = http::tls_config(ca, None);
    let token = |t: &str| Identity {
        token: Some(t.to_owned()),
        tls: plain.clone(),
    };
    let mut m = HashMap::new();
    m.insert(
        "anonymous".to_owned(),
        Identity {
            token: None,
            tls: plain.clone(),
        },
    );
    m.insert("bad-token".to_owned(), token("not-a-known-token"));
    m.insert(ADMIN.to_owned(), token(ADMIN));
    m.insert("bob-token".to_owned(), token("bob-token"));
    m.insert(
        "admin-cert".to_owned(),
        Identity {
            token: None,
            tls: http::tls_config(ca, Some(cert("admin", &["system:masters"]))),
        },
    );
    m.insert(
        "alice-cert".to_owned(),
        Identity {
            token: None,
            tls: http::tls_config(ca, Some(cert("alice", &[]))),
        },
    );
    m
}

fn addr_of(url: &str) -> String {
    url.trim_start_matches("https://")
        .trim_end_matches('/')
        .to_owned()
}

impl Runner {
    pub async fn start(binaries: Binaries) -> Runner {
        let env = EnvTest::builder()
            .binaries(binaries)
            .token(ADMIN, "admin-token-user", &["system:masters"])
            .token("bob-token", "bob", &[])
            .controller_manager()
            .start()
            .await
            .unwrap();
        let mut tsb = TestServer::builder()
            .token(ADMIN, "admin-token-user", &["system:masters"])
            .token("bob-token", "bob", &[]);
        if let Ok(dir) = std::env::var("K8S_SPEC_DIR") {
            let dir = std::path::Path::new(&dir).join("v1.36.0");
            if dir.is_dir() {
                tsb = tsb.spec_dir(dir);
            }
        }
        let ts = tsb.start().await.unwrap();
        let real = Server {
            name: "kube-apiserver",
            addr: addr_of(env.url()),
            ca: env.ca_pem().to_owned(),
            identities: identities(env.ca_pem(), |u, g| env.client_cert(u, g).unwrap()),
            subst: HashMap::new(),
            rvs: HashSet::new(),
            settle: Duration::from_secs(40),
        };
        let test = Server {
            name: "k8s-testserver",
            addr: addr_of(ts.url()),
            ca: ts.ca_pem().to_owned(),
            identities: identities(ts.ca_pem(), |u, g| ts.client_cert(u, g)),
            subst: HashMap::new(),
            rvs: HashSet::new(),
            settle: Duration::from_secs(2),
        };
        Runner {
            real,
            test,
            env,
            testserver: ts,
            results: Vec::new(),
        }
    }

    pub async fn run(&mut self, scenario: &Scenario) {
        let ns = format!("cf-{}", scenario.name);
        for s in [&mut self.real, &mut self.test] {
            let body = serde_json::json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": ns}});
            let r = s
                .send(
                    ADMIN,
                    &post("/api/v1/namespaces", &body),
                    Duration::from_secs(30),
                )
                .await;
            assert!(
                r.status == 201 || r.status == 409,
                "{}: namespace {ns}: {} {}",
                s.name,
                r.status,
                String::from_utf8_lossy(&r.body)
            );
        }
        let mut pending: Vec<PendingWatch> = Vec::new();
        let mut created: Vec<String> = Vec::new();
        for (i, step) in scenario.steps.iter().enumerate() {
            if !pending.is_empty() && !step.note.starts_with("during the watch") {
                for w in pending.drain(..) {
                    let result = w.finish(&ns, &self.real, &self.test).await;
                    self.results.push(result);
                }
            }
            self.before_step(&scenario.name, i, step).await;
            let label = format!("{} {}", step.method, step.url);
            if known_differences::skipped(&scenario.name, i).is_some() {
                self.results.push(StepResult {
                    scenario: scenario.name.clone(),
                    step: i,
                    label,
                    diffs: None,
                    real_as_recorded: None,
                });
                continue;
            }
            if step.identity == "sa-default-token" {
                for s in [&mut self.real, &mut self.test] {
                    s.service_account_token(&ns).await;
                }
            }
            let (rreq, treq) = (
                self.real.map_request(step, &ns),
                self.test.map_request(step, &ns),
            );
            if step.is_watch() && step.recorded.as_ref().is_none_or(|r| r.status == 200) {
                let wait = Duration::from_secs(step.timeout_seconds().unwrap_or(5) + 15);
                let real = self.real.spawn(&step.identity, rreq, wait);
                let test = self.test.spawn(&step.identity, treq, wait);
                pending.push(PendingWatch {
                    scenario: scenario.name.clone(),
                    index: i,
                    step: step.clone(),
                    real,
                    test,
                });
                tokio::time::sleep(Duration::from_millis(400)).await;
                continue;
            }
            let timeout = Duration::from_secs(30);
            let (rr, tr) = if step.waits_for_controllers() {
                let rec = step.recorded.as_ref();
                tokio::join!(
                    self.real.poll(&step.identity, &rreq, rec),
                    self.test.poll(&step.identity, &treq, rec)
                )
            } else {
                tokio::join!(
                    self.real.send(&step.identity, &rreq, timeout),
                    self.test.send(&step.identity, &treq, timeout)
                )
            };
            if step.method == "POST"
                && (step.url.ends_with("/customresourcedefinitions") || step.url == "/api/v1/nodes")
                && rr.status == 201
            {
                if let Some(name) = json_of(&rr.body)
                    .and_then(|v| v.pointer("/metadata/name").cloned())
                    .and_then(|n| n.as_str().map(str::to_owned))
                {
                    created.push(format!("{}/{name}", step.url));
                }
            }
            let result = self.compare_step(&scenario.name, i, step, &ns, &rr, &tr);
            self.results.push(result);
        }
        for w in pending.drain(..) {
            let result = w.finish(&ns, &self.real, &self.test).await;
            self.results.push(result);
        }
        self.after_scenario(&scenario.name).await;
        // Cluster-scoped objects would collide with the next scenario's.
        for path in created {
            for s in [&self.real, &self.test] {
                s.remove(&path).await;
            }
        }
    }

    /// What the recording did to the control plane before step `i`, done to both servers:
    /// - watch: restarted with `--etcd-compaction-interval=5s` (data kept) and waited for a
    ///   compaction, so the old resource versions and continue tokens of the steps after it
    ///   are gone (the test server: [`TestServer::compact`]);
    /// - eviction-pdb: kube-controller-manager stopped, so the budget's next generation is
    ///   never observed (the test server runs no controllers).
    async fn before_step(&mut self, scenario: &str, i: usize, step: &Step) {
        if scenario == "watch" && step.note.starts_with("after restarting the control plane") {
            let before = self.real.current_rv().await;
            let took = self
                .env
                .restart_with_apiserver_flags(&["--etcd-compaction-interval=5s"])
                .await
                .unwrap();
            // Compacted when a list at exactly the last version before the restart is 410.
            let path =
                format!("/api/v1/namespaces?resourceVersion={before}&resourceVersionMatch=Exact");
            let started = Instant::now();
            loop {
                let r = self
                    .real
                    .send(ADMIN, &get(&path), Duration::from_secs(10))
                    .await;
                if r.status == 410 {
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "etcd did not compact revision {before} within 60 s (last answer {})",
                    r.status
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            self.testserver.compact();
            eprintln!(
                "conformance: {scenario}#{i}: restarted with compaction in {took:.1?}, compacted after {:.1?}",
                started.elapsed()
            );
        }
        if scenario == "eviction-pdb" && step.note.starts_with("kube-controller-manager stopped") {
            self.env.stop_controller_manager();
        }
    }

    /// Undoes [`before_step`](Self::before_step) for the scenarios after this one.
    async fn after_scenario(&mut self, scenario: &str) {
        if scenario == "eviction-pdb" {
            self.env.start_controller_manager().await.unwrap();
            // Its controllers run when the service-account controller has filled a new
            // namespace (the `default` namespace's account exists from before).
            let ns = "cf-controller-manager-restarted";
            let body = serde_json::json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": ns}});
            let r = self
                .real
                .send(
                    ADMIN,
                    &post("/api/v1/namespaces", &body),
                    Duration::from_secs(30),
                )
                .await;
            assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
            let path = format!("/api/v1/namespaces/{ns}/serviceaccounts/default");
            let started = Instant::now();
            while self
                .real
                .send(ADMIN, &get(&path), Duration::from_secs(10))
                .await
                .status
                != 200
            {
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "kube-controller-manager did not create {path} within 60 s of its restart"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    fn compare_step(
        &mut self,
        scenario: &str,
        i: usize,
        step: &Step,
        ns: &str,
        rr: &RawResponse,
        tr: &RawResponse,
    ) -> StepResult {
        let all_ns = step.url.starts_with("/api") && !step.url.contains("/namespaces/");
        let recorded = step.recorded.as_ref();
        let recorded_json = recorded.and_then(|r| json_of(&r.body));
        for (s, resp) in [(&mut self.real, rr), (&mut self.test, tr)] {
            if let (Some(rec), Some(own)) = (&recorded_json, json_of(&resp.body)) {
                s.learn(rec, &own);
            } else if let Some(rec) = recorded {
                s.learn_binary(&rec.body, &resp.body);
            }
            if let Some(own) = json_of(&resp.body) {
                collect_rvs(&own, &mut s.rvs);
            }
        }
        let real = self.real.observe(rr, ns, all_ns, false);
        let test = self.test.observe(tr, ns, all_ns, false);
        let real_as_recorded = recorded.map(|rec| {
            let mut rvs = HashSet::new();
            if let Some(v) = &recorded_json {
                collect_rvs(v, &mut rvs);
            }
            let rec = observe_recorded(rec, &rvs, all_ns, false);
            compare(&rec, &real).is_empty()
        });
        StepResult {
            scenario: scenario.to_owned(),
            step: i,
            label: format!("{} {}", step.method, step.url),
            diffs: Some(classify(scenario, i, compare(&real, &test))),
            real_as_recorded,
        }
    }
}

fn classify(
    scenario: &str,
    step: usize,
    diffs: Vec<Difference>,
) -> Vec<(Difference, Option<&'static Known>)> {
    diffs
        .into_iter()
        .map(|d| {
            let k = known_differences::KNOWN
                .iter()
                .find(|k| k.matches(scenario, step, &d));
            (d, k)
        })
        .collect()
}

fn observe_recorded(rec: &Recorded, rvs: &HashSet<String>, all_ns: bool, watch: bool) -> Observed {
    let cx = Context {
        namespace: "default",
        resource_versions: rvs,
        all_namespaces: all_ns,
    };
    normalise::observe(
        rec.status,
        rec.content_type.as_deref(),
        &rec.warnings,
        rec.retry_after.as_deref(),
        &rec.body,
        watch,
        &cx,
    )
}

struct PendingWatch {
    scenario: String,
    index: usize,
    step: Step,
    real: tokio::task::JoinHandle<RawResponse>,
    test: tokio::task::JoinHandle<RawResponse>,
}

impl PendingWatch {
    async fn finish(self, ns: &str, real: &Server, test: &Server) -> StepResult {
        let rr = self.real.await.unwrap();
        let tr = self.test.await.unwrap();
        let r = real.observe(&rr, ns, false, true);
        let t = test.observe(&tr, ns, false, true);
        let real_as_recorded = self.step.recorded.as_ref().map(|rec| {
            let mut rvs = HashSet::new();
            collect_rvs(&Value::Null, &mut rvs);
            compare(&observe_recorded(rec, &rvs, false, true), &r).is_empty()
        });
        StepResult {
            scenario: self.scenario.clone(),
            step: self.index,
            label: format!("{} {}", self.step.method, self.step.url),
            diffs: Some(classify(&self.scenario, self.index, compare(&r, &t))),
            real_as_recorded,
        }
    }
}

fn post(path: &str, body: &Value) -> RawRequest {
    RawRequest {
        method: "POST".into(),
        path: path.into(),
        content_type: Some("application/json".into()),
        accept: Some("application/json".into()),
        body: Some(body.to_string().into_bytes()),
    }
}

fn get(path: &str) -> RawRequest {
    RawRequest {
        method: "GET".into(),
        path: path.into(),
        content_type: None,
        accept: Some("application/json".into()),
        body: None,
    }
}

fn json_of(body: &[u8]) -> Option<Value> {
    serde_json::from_slice(body).ok()
}

fn collect_rvs(v: &Value, out: &mut HashSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                if k == "resourceVersion" {
                    if let Some(s) = c.as_str() {
                        out.insert(s.to_owned());
                    }
                }
                collect_rvs(c, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|c| collect_rvs(c, out)),
        _ => {}
    }
}

/// The answer looks like the recorded one: same status code, as many items, the same
/// condition types, the same numbers in `status`.
fn settled(rec: &Recorded, resp: &RawResponse) -> bool {
    if rec.status != resp.status {
        return false;
    }
    let (Some(a), Some(b)) = (json_of(&rec.body), json_of(&resp.body)) else {
        return true;
    };
    let len = |v: &Value| v.get("items").and_then(Value::as_array).map(Vec::len);
    if len(&a) != len(&b) {
        return false;
    }
    let types = |v: &Value| -> Vec<String> {
        let mut t: Vec<String> = v
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .map(|c| {
                c.iter()
                    .filter(|c| c["status"] == "True")
                    .filter_map(|c| c["type"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        t.sort();
        t
    };
    if types(&a) != types(&b) {
        return false;
    }
    if let Some(st) = a.get("status").and_then(Value::as_object) {
        for (k, v) in st {
            if v.is_number() && b.pointer(&format!("/status/{k}")) != Some(v) {
                return false;
            }
        }
    }
    true
}

impl Server {
    /// The server's current resource version (of a one-item namespace list).
    async fn current_rv(&self) -> String {
        let r = self
            .send(
                ADMIN,
                &get("/api/v1/namespaces?limit=1"),
                Duration::from_secs(10),
            )
            .await;
        json_of(&r.body)
            .and_then(|v| {
                v.pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| panic!("{}: no resourceVersion in a list: {}", self.name, r.status))
    }

    async fn send(&self, identity: &str, req: &RawRequest, timeout: Duration) -> RawResponse {
        let who = self
            .identities
            .get(identity)
            .unwrap_or_else(|| panic!("{}: no identity {identity}", self.name));
        match http::send(&self.addr, who, req, timeout).await {
            Ok(r) => r,
            // The connection ended without a response (a server panic): status 0.
            Err(e) => {
                eprintln!("{}: {e}", self.name);
                RawResponse::default()
            }
        }
    }

    fn spawn(
        &self,
        identity: &str,
        req: RawRequest,
        timeout: Duration,
    ) -> tokio::task::JoinHandle<RawResponse> {
        let who = self.identities[identity].clone();
        let addr = self.addr.clone();
        tokio::spawn(async move {
            http::send(&addr, &who, &req, timeout)
                .await
                .unwrap_or_default()
        })
    }

    async fn poll(&self, identity: &str, req: &RawRequest, rec: Option<&Recorded>) -> RawResponse {
        let deadline = Instant::now() + self.settle;
        loop {
            let r = self.send(identity, req, Duration::from_secs(30)).await;
            if rec.is_none_or(|rec| settled(rec, &r)) || Instant::now() > deadline {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// A TokenRequest token of the namespace's `default` service account (created by the
    /// real server's controller-manager; waited for).
    async fn service_account_token(&mut self, ns: &str) {
        let path = format!("/api/v1/namespaces/{ns}/serviceaccounts/default/token");
        let body = serde_json::json!({"apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest", "spec": {}});
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = self
                .send(ADMIN, &post(&path, &body), Duration::from_secs(30))
                .await;
            if r.status == 201 {
                let token = json_of(&r.body)
                    .and_then(|v| v.pointer("/status/token").cloned())
                    .and_then(|t| t.as_str().map(str::to_owned))
                    .unwrap();
                let tls = http::tls_config(&self.ca, None);
                self.identities.insert(
                    "sa-default-token".into(),
                    Identity {
                        token: Some(token),
                        tls: Arc::clone(&tls),
                    },
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{}: no token for {ns}/default: {} {}",
                self.name,
                r.status,
                String::from_utf8_lossy(&r.body)
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Deletes `collection/name` and waits until it is gone.
    async fn remove(&self, path: &str) {
        let del = RawRequest {
            method: "DELETE".into(),
            ..get(path)
        };
        self.send(ADMIN, &del, Duration::from_secs(30)).await;
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self
                .send(ADMIN, &get(path), Duration::from_secs(30))
                .await
                .status
                == 404
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("{}: {path} not gone after 60 s", self.name);
    }

    fn map_request(&self, step: &Step, ns: &str) -> RawRequest {
        let (path, query) = step.url.split_once('?').unwrap_or((&step.url, ""));
        let mut path = path.replace("/namespaces/default/", &format!("/namespaces/{ns}/"));
        if path.ends_with("/namespaces/default") {
            path = format!("{}{ns}", path.trim_end_matches("default"));
        }
        if !query.is_empty() {
            let parts: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k @ ("resourceVersion" | "continue"), v)) if v != "0" => {
                        format!("{k}={}", self.subst.get(v).map(String::as_str).unwrap_or(v))
                    }
                    _ => p.to_owned(),
                })
                .collect();
            path = format!("{path}?{}", parts.join("&"));
        }
        let body = step.body.as_ref().map(|b| match std::str::from_utf8(b) {
            Ok(text)
                if !step
                    .content_type
                    .as_deref()
                    .unwrap_or("")
                    .contains("protobuf") =>
            {
                let mut t = text
                    .replace(
                        "\"namespace\":\"default\"",
                        &format!("\"namespace\":\"{ns}\""),
                    )
                    .replace("namespace: default\n", &format!("namespace: {ns}\n"));
                for (a, b) in &self.subst {
                    t = t.replace(&format!("\"{a}\""), &format!("\"{b}\""));
                }
                t.into_bytes()
            }
            _ => b.clone(),
        });
        RawRequest {
            method: step.method.clone(),
            path,
            content_type: step.content_type.clone(),
            accept: step.accept.clone(),
            body,
        }
    }

    fn learn(&mut self, rec: &Value, own: &Value) {
        match (rec, own) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, va) in a {
                    let Some(vb) = b.get(k) else { continue };
                    match (k.as_str(), va, vb) {
                        (
                            "resourceVersion" | "uid" | "continue" | "clusterIP",
                            Value::String(x),
                            Value::String(y),
                        ) if !x.is_empty() && x != y => {
                            self.subst.insert(x.clone(), y.clone());
                        }
                        _ => self.learn(va, vb),
                    }
                }
            }
            (Value::Array(a), Value::Array(b)) => {
                for (x, y) in a.iter().zip(b) {
                    if x.pointer("/metadata/name") == y.pointer("/metadata/name") {
                        self.learn(x, y);
                    }
                }
            }
            _ => {}
        }
    }

    /// Protobuf lists: the continue token is the only value the next request needs.
    fn learn_binary(&mut self, rec: &[u8], own: &[u8]) {
        let token = |b: &[u8]| -> Option<String> {
            let start = b.windows(3).position(|w| w == b"eyJ")?;
            let len = b[start..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'-' || **c == b'_')
                .count();
            Some(String::from_utf8_lossy(&b[start..start + len]).into_owned())
        };
        if let (Some(a), Some(b)) = (token(rec), token(own)) {
            self.subst.insert(a, b);
        }
    }

    fn observe(&self, r: &RawResponse, ns: &str, all_ns: bool, watch: bool) -> Observed {
        let cx = Context {
            namespace: ns,
            resource_versions: &self.rvs,
            all_namespaces: all_ns,
        };
        normalise::observe(
            r.status,
            r.header("content-type"),
            &r.headers_named("warning"),
            r.header("retry-after"),
            &r.body,
            watch,
            &cx,
        )
    }
}
