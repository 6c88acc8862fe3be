//! In-memory storage with Kubernetes semantics: resource versions, events, CRUD, patches,
//! server-side apply, deletion (graceful, finalizers, namespaces), subresources and reviews.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use base64::Engine;
use k8s_core::{ResourceInfo, Status, StatusDetails};
use rand::Rng;
use serde_json::{Map, Value, json};

use crate::authz::{self, Attrs, UserInfo};
use crate::errors::{self, ApiError};
use crate::patch::{self, MergeKeys};
use crate::registry::{CustomInfo, Registry, ResourceDef};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::validate;

/// One change, as watchers see it.
#[derive(Clone, Debug)]
pub(crate) struct Event {
    pub rv: u64,
    pub key: String,
    pub ns: String,
    pub etype: &'static str,
    pub object: Value,
    pub prev: Option<Value>,
}

/// Parsed query string.
#[derive(Clone, Debug, Default)]
pub(crate) struct Query(pub Vec<(String, String)>);

impl Query {
    pub(crate) fn parse(q: &str) -> Query {
        let dec = |s: &str| {
            let s = s.replace('+', " ");
            percent_encoding::percent_decode_str(&s)
                .decode_utf8_lossy()
                .into_owned()
        };
        Query(
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (dec(k), dec(v)),
                    None => (dec(p), String::new()),
                })
                .collect(),
        )
    }
    pub(crate) fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(kk, _)| kk == k)
            .map(|(_, v)| v.as_str())
    }
    pub(crate) fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true") | Some("1") | Some("True"))
    }
}

/// A resource request, routed.
pub(crate) struct Req<'a> {
    pub def: ResourceDef,
    pub ns: Option<String>,
    pub name: Option<String>,
    pub sub: Option<String>,
    pub query: &'a Query,
    pub body: &'a [u8],
    pub content_type: String,
    pub user: &'a UserInfo,
    pub user_agent: String,
}

impl Req<'_> {
    fn dry_run(&self) -> bool {
        self.query.get("dryRun") == Some("All")
    }
    fn manager(&self) -> String {
        if let Some(m) = self.query.get("fieldManager").filter(|m| !m.is_empty()) {
            return m.to_string();
        }
        let ua = self.user_agent.split('/').next().unwrap_or("").trim();
        if ua.is_empty() {
            "unknown".into()
        } else {
            ua.to_string()
        }
    }
    fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }
    fn ns(&self) -> &str {
        self.ns.as_deref().unwrap_or("")
    }
}

/// A successful answer.
#[derive(Debug, Default)]
pub(crate) struct Reply {
    pub code: u16,
    pub body: Value,
    pub warnings: Vec<String>,
    /// Non-JSON answer (content type, bytes), e.g. pod logs.
    pub raw: Option<(String, Vec<u8>)>,
}

impl Reply {
    fn ok(code: u16, body: Value) -> Reply {
        Reply {
            code,
            body,
            ..Reply::default()
        }
    }
}

type R = Result<Reply, ApiError>;

/// Kinds whose objects carry `metadata.generation`.
fn has_generation(def: &ResourceDef) -> bool {
    def.custom.is_some()
        || matches!(
            def.kind.as_str(),
            "Pod"
                | "Deployment"
                | "ReplicaSet"
                | "StatefulSet"
                | "DaemonSet"
                | "Job"
                | "CronJob"
                | "PodDisruptionBudget"
                | "CustomResourceDefinition"
                | "ReplicationController"
                | "Ingress"
                | "NetworkPolicy"
                | "HorizontalPodAutoscaler"
        )
}

/// Resources whose DELETE answers with the object even when it is gone at once.
fn returns_deleted_object(def: &ResourceDef) -> bool {
    def.group.is_empty() && matches!(def.plural.as_str(), "pods" | "services" | "namespaces")
        || def.plural == "customresourcedefinitions"
}

pub(crate) fn now() -> String {
    let ts = jiff::Timestamp::now();
    jiff::Timestamp::from_second(ts.as_second())
        .map(|t| t.to_string())
        .unwrap_or_else(|_| ts.to_string())
}

fn later(secs: i64) -> String {
    let ts = jiff::Timestamp::now().as_second().saturating_add(secs);
    jiff::Timestamp::from_second(ts)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| now())
}

const NAME_CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn random_suffix(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| NAME_CHARS[rng.random_range(0..NAME_CHARS.len())] as char)
        .collect()
}

pub(crate) fn random_token() -> String {
    let mut rng = rand::rng();
    let bytes: Vec<u8> = (0..32).map(|_| rng.random()).collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn meta(obj: &Value, k: &str) -> Option<String> {
    obj.get("metadata")
        .and_then(|m| m.get(k))
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    match obj.get_mut("metadata") {
        Some(Value::Object(m)) => m,
        // Unreachable: set to an object just above.
        _ => unreachable_meta(),
    }
}

#[allow(clippy::panic)]
fn unreachable_meta() -> &'static mut Map<String, Value> {
    panic!("metadata was just set to an object")
}

fn key_of(ns: &str, name: &str) -> String {
    format!("{ns}/{name}")
}

/// The server's state.
pub(crate) struct State {
    pub rv: u64,
    objects: BTreeMap<String, BTreeMap<String, Value>>,
    history: VecDeque<Event>,
    /// Events up to this resource version have been dropped.
    pub compacted: u64,
    cap: usize,
    pub registry: Registry,
    pub keys: MergeKeys,
    pub swagger: Option<Arc<Value>>,
    pub tokens: HashMap<String, UserInfo>,
    next_ip: u32,
    ca_pem: String,
}

impl State {
    pub(crate) fn new(
        table: &[ResourceInfo],
        cap: usize,
        swagger: Option<Arc<Value>>,
        ca_pem: String,
    ) -> State {
        let mut keys = MergeKeys::default();
        if let Some(s) = &swagger {
            keys.add_from_swagger(s);
        }
        let mut st = State {
            rv: 200,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            compacted: 0,
            cap: cap.max(1),
            registry: Registry::new(table),
            keys,
            swagger,
            tokens: HashMap::new(),
            next_ip: 2,
            ca_pem,
        };
        st.bootstrap();
        st
    }

    fn bootstrap(&mut self) {
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            self.system_create("/namespaces", obj);
        }
        for (key, obj) in authz::bootstrap_policy() {
            self.system_create(key, obj);
        }
        let svc = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"], "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
                     "type": "ClusterIP", "sessionAffinity": "None", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster"},
            "status": {"loadBalancer": {}}});
        self.system_create("/services", svc);
        let t = now();
        self.system_create(
            "/configmaps",
            json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "extension-apiserver-authentication", "namespace": "kube-system"},
            "data": {"client-ca-file": self.ca_pem, "requestheader-allowed-names": "[]",
                     "requestheader-extra-headers-prefix": "[\"X-Remote-Extra-\"]",
                     "requestheader-group-headers": "[\"X-Remote-Group\"]",
                     "requestheader-username-headers": "[\"X-Remote-User\"]"}}),
        );
        self.system_create("/configmaps", json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kube-apiserver-legacy-service-account-token-tracking", "namespace": "kube-system"},
            "data": {"since": t.get(..10).unwrap_or("")}}));
    }

    /// Stores an object created by the control plane itself (bootstrap, controllers).
    fn system_create(&mut self, storage_key: &str, mut obj: Value) {
        let ns = meta(&obj, "namespace").unwrap_or_default();
        let name = meta(&obj, "name").unwrap_or_default();
        {
            let m = meta_mut(&mut obj);
            m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
            m.insert("creationTimestamp".into(), json!(now()));
        }
        if storage_key == "/namespaces" {
            obj["metadata"]["labels"] = json!({"kubernetes.io/metadata.name": name});
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
            obj["status"] = json!({"phase": "Active"});
        }
        self.put(storage_key, &ns, &name, obj, None);
        if storage_key == "/namespaces" {
            self.namespace_created(&name);
        }
    }

    /// Objects the namespace controllers create in every namespace.
    fn namespace_created(&mut self, ns: &str) {
        let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns}});
        self.system_create("/serviceaccounts", sa);
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kube-root-ca.crt", "namespace": ns,
                "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}},
            "data": {"ca.crt": self.ca_pem}});
        self.system_create("/configmaps", cm);
    }

    // ------------------------------------------------------------ raw storage

    pub(crate) fn object(&self, storage_key: &str, ns: &str, name: &str) -> Option<&Value> {
        self.objects.get(storage_key)?.get(&key_of(ns, name))
    }

    pub(crate) fn objects_of(&self, storage_key: &str) -> Vec<&Value> {
        self.objects
            .get(storage_key)
            .map(|m| m.values().collect())
            .unwrap_or_default()
    }

    pub(crate) fn objects_in(&self, storage_key: &str, ns: &str) -> Vec<&Value> {
        let prefix = format!("{ns}/");
        self.objects
            .get(storage_key)
            .map(|m| {
                m.range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .map(|(_, v)| v)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn record(
        &mut self,
        key: &str,
        ns: &str,
        etype: &'static str,
        object: Value,
        prev: Option<Value>,
    ) {
        self.history.push_back(Event {
            rv: self.rv,
            key: key.to_string(),
            ns: ns.to_string(),
            etype,
            object,
            prev,
        });
        while self.history.len() > self.cap {
            if let Some(e) = self.history.pop_front() {
                self.compacted = self.compacted.max(e.rv);
            }
        }
    }

    /// Creates or replaces an object with a new resourceVersion; records the event.
    fn put(
        &mut self,
        storage_key: &str,
        ns: &str,
        name: &str,
        mut obj: Value,
        prev: Option<Value>,
    ) -> Value {
        self.rv += 1;
        meta_mut(&mut obj).insert("resourceVersion".into(), json!(self.rv.to_string()));
        self.objects
            .entry(storage_key.to_string())
            .or_default()
            .insert(key_of(ns, name), obj.clone());
        let etype = if prev.is_some() { "MODIFIED" } else { "ADDED" };
        self.record(storage_key, ns, etype, obj.clone(), prev);
        obj
    }

    /// Removes an object; the DELETED event carries a new resourceVersion.
    fn remove(&mut self, storage_key: &str, ns: &str, name: &str) -> Option<Value> {
        let mut obj = self
            .objects
            .get_mut(storage_key)?
            .remove(&key_of(ns, name))?;
        self.rv += 1;
        meta_mut(&mut obj).insert("resourceVersion".into(), json!(self.rv.to_string()));
        self.record(storage_key, ns, "DELETED", obj.clone(), None);
        if !ns.is_empty() {
            self.maybe_finalize_namespace(ns);
        }
        Some(obj)
    }

    /// Drops all kept events: older resource versions and continue tokens expire.
    pub(crate) fn compact(&mut self) {
        self.history.clear();
        self.rv += 1;
        self.compacted = self.rv;
    }

    /// Events after `rv` (None when they are no longer all kept).
    pub(crate) fn events_since(&self, rv: u64) -> Option<Vec<Event>> {
        if rv < self.compacted {
            return None;
        }
        Some(self.history.iter().filter(|e| e.rv > rv).cloned().collect())
    }

    // ------------------------------------------------------------ helpers

    fn with_gvk(def: &ResourceDef, mut obj: Value) -> Value {
        if let Value::Object(m) = &mut obj {
            m.insert("apiVersion".into(), json!(def.api_version()));
            m.insert("kind".into(), json!(def.kind));
        }
        obj
    }

    fn current(&self, req: &Req) -> Result<Value, ApiError> {
        self.object(&req.def.storage_key(), req.ns(), req.name())
            .cloned()
            .ok_or_else(|| errors::not_found(&req.def.plural, &req.def.group, req.name()))
    }

    fn check_namespace(&self, req: &Req, name: &str) -> Result<(), ApiError> {
        if !req.def.namespaced {
            return Ok(());
        }
        match self.object("/namespaces", "", req.ns()) {
            None => Err(errors::not_found("namespaces", "", req.ns())),
            Some(ns) if ns.pointer("/metadata/deletionTimestamp").is_some() => Err(
                errors::namespace_terminating(&req.def.plural, &req.def.group, name, req.ns()),
            ),
            Some(_) => Ok(()),
        }
    }

    /// Parses a JSON body: 400 with the real wording when malformed.
    fn decode(&self, req: &Req) -> Result<(Value, Vec<String>), ApiError> {
        let ct = req.content_type.to_ascii_lowercase();
        if ct.starts_with("application/vnd.kubernetes.protobuf") {
            return crate::proto::decode(req.body)
                .map(|v| (v, Vec::new()))
                .ok_or_else(|| {
                    errors::unsupported_media_type(
                        "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml",
                        false,
                    )
                });
        }
        if ct.starts_with("application/yaml") {
            let text = String::from_utf8_lossy(req.body);
            return serde_saphyr::from_str::<Value>(&text)
                .map(|v| (v, Vec::new()))
                .map_err(|e| errors::bad_request(format!("error converting YAML to JSON: {e}")));
        }
        let (v, dups) = validate::parse_json_with_dups(req.body).map_err(|e| {
            let text = String::from_utf8_lossy(req.body);
            let preview: String = text.chars().take(30).collect();
            let preview = if text.chars().count() > 30 {
                format!("{preview} ...")
            } else {
                preview
            };
            errors::bad_request(format!(
                "the object provided is unrecognized (must be of type {}): couldn't get version/kind; json parse error: {} ({preview})",
                req.def.kind,
                validate::go_json_error(&e)
            ))
        })?;
        if !v.is_object() {
            return Err(errors::bad_request(format!(
                "the object provided is unrecognized (must be of type {}): couldn't get version/kind; json parse error: json: cannot unmarshal {} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}",
                req.def.kind,
                if v.is_array() { "array" } else { "string" }
            )));
        }
        Ok((v, dups))
    }

    /// Unknown/duplicate fields per `fieldValidation`: warnings, or 400 when Strict.
    fn field_validation(
        &self,
        req: &Req,
        obj: &mut Value,
        dups: Vec<String>,
    ) -> Result<Vec<String>, ApiError> {
        let mode = req.query.get("fieldValidation").unwrap_or("Warn");
        let mut unknown = Vec::new();
        if req.def.custom.is_none() {
            if let Some(sw) = &self.swagger {
                unknown = validate::unknown_fields_swagger(
                    sw,
                    &req.def.group,
                    &req.def.version,
                    &req.def.kind,
                    obj,
                );
            }
        }
        let mut problems: Vec<String> = unknown
            .iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect();
        problems.extend(dups.iter().map(|f| format!("duplicate field \"{f}\"")));
        match mode {
            "Strict" if !problems.is_empty() => Err(errors::bad_request(format!(
                "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
                req.def.kind,
                req.def.version,
                req.def.kind,
                problems.join(", ")
            ))),
            "Ignore" => Ok(Vec::new()),
            _ => Ok(problems),
        }
    }

    fn managed_entry(
        req: &Req,
        operation: &str,
        set: &patch::FieldSet,
        sub: Option<&str>,
    ) -> Value {
        let mut e = json!({
            "manager": req.manager(),
            "operation": operation,
            "apiVersion": req.def.api_version(),
            "time": now(),
            "fieldsType": "FieldsV1",
            "fieldsV1": patch::to_fields_v1(set),
        });
        if let Some(s) = sub {
            e["subresource"] = json!(s);
        }
        e
    }

    /// Records an Update by the request's manager: it owns what changed; others lose it.
    fn track_update(&self, req: &Req, old: Option<&Value>, new: &mut Value) {
        let new_set = patch::field_set(new, &self.keys);
        let changed: patch::FieldSet = match old {
            None => new_set,
            Some(old) => new_set
                .into_iter()
                .filter(|p| patch::value_at(old, p) != patch::value_at(new, p))
                .collect(),
        };
        let mut entries: Vec<Value> = old
            .and_then(|o| o.pointer("/metadata/managedFields"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if changed.is_empty() && old.is_some() {
            meta_mut(new).insert("managedFields".into(), Value::Array(entries));
            return;
        }
        let manager = req.manager();
        let sub = req.sub.as_deref();
        let mut mine = patch::FieldSet::new();
        entries.retain_mut(|e| {
            let m = e.get("manager").and_then(Value::as_str).unwrap_or("");
            let op = e.get("operation").and_then(Value::as_str).unwrap_or("");
            let esub = e.get("subresource").and_then(Value::as_str);
            let mut set = patch::from_fields_v1(e.get("fieldsV1").unwrap_or(&Value::Null));
            if m == manager && op == "Update" && esub == sub {
                mine = set;
                return false;
            }
            set.retain(|p| !changed.contains(p));
            if set.is_empty() {
                return false;
            }
            e["fieldsV1"] = patch::to_fields_v1(&set);
            true
        });
        mine.extend(changed);
        entries.push(Self::managed_entry(req, "Update", &mine, sub));
        meta_mut(new).insert("managedFields".into(), Value::Array(entries));
    }

    // ------------------------------------------------------------ defaults & validation

    fn apply_defaults(&mut self, def: &ResourceDef, obj: &mut Value) {
        match (def.group.as_str(), def.kind.as_str()) {
            ("", "Pod") => default_pod(obj),
            ("", "Namespace") => {
                let name = meta(obj, "name").unwrap_or_default();
                let m = meta_mut(obj);
                let labels = m.entry("labels").or_insert_with(|| json!({}));
                if let Value::Object(l) = labels {
                    l.insert("kubernetes.io/metadata.name".into(), json!(name));
                }
                obj["spec"] = json!({"finalizers": ["kubernetes"]});
                obj["status"] = json!({"phase": "Active"});
            }
            ("", "Service") => {
                let spec = obj.get_mut("spec").and_then(Value::as_object_mut);
                if let Some(spec) = spec {
                    spec.entry("type").or_insert(json!("ClusterIP"));
                    spec.entry("sessionAffinity").or_insert(json!("None"));
                    spec.entry("ipFamilyPolicy").or_insert(json!("SingleStack"));
                    spec.entry("ipFamilies").or_insert(json!(["IPv4"]));
                    spec.entry("internalTrafficPolicy")
                        .or_insert(json!("Cluster"));
                    if let Some(Value::Array(ports)) = spec.get_mut("ports") {
                        for p in ports {
                            if let Value::Object(pm) = p {
                                pm.entry("protocol").or_insert(json!("TCP"));
                                if let Some(port) = pm.get("port").cloned() {
                                    pm.entry("targetPort").or_insert(port);
                                }
                            }
                        }
                    }
                }
                obj.as_object_mut()
                    .map(|o| o.entry("status").or_insert(json!({"loadBalancer": {}})));
            }
            ("apps", "Deployment") => {
                if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.entry("replicas").or_insert(json!(1));
                    spec.entry("revisionHistoryLimit").or_insert(json!(10));
                    spec.entry("progressDeadlineSeconds").or_insert(json!(600));
                    spec.entry("strategy").or_insert(json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}));
                    if let Some(t) = spec.get_mut("template") {
                        default_pod_template(t);
                    }
                }
                obj.as_object_mut()
                    .map(|o| o.entry("status").or_insert(json!({})));
            }
            ("apps", "ReplicaSet")
            | ("apps", "StatefulSet")
            | ("apps", "DaemonSet")
            | ("batch", "Job") => {
                if let Some(t) = obj.pointer_mut("/spec/template") {
                    default_pod_template(t);
                }
                if def.kind == "Job" {
                    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
                        spec.entry("backoffLimit").or_insert(json!(6));
                        spec.entry("completions").or_insert(json!(1));
                        spec.entry("parallelism").or_insert(json!(1));
                        spec.entry("completionMode").or_insert(json!("NonIndexed"));
                        spec.entry("suspend").or_insert(json!(false));
                    }
                }
                obj.as_object_mut()
                    .map(|o| o.entry("status").or_insert(json!({})));
            }
            _ => {}
        }
    }

    /// Allocates a ClusterIP or reports the 422 of a taken one.
    fn allocate_cluster_ip(&mut self, obj: &mut Value, name: &str) -> Result<(), ApiError> {
        let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
            return Ok(());
        };
        if spec.get("clusterIP").and_then(Value::as_str) == Some("None") {
            spec.insert("clusterIPs".into(), json!(["None"]));
            return Ok(());
        }
        let taken: Vec<String> = self
            .objects_of("/services")
            .iter()
            .filter_map(|s| {
                s.pointer("/spec/clusterIP")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect();
        if let Some(ip) = spec
            .get("clusterIP")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            if taken.iter().any(|t| t == ip) {
                let msg = format!(
                    "Invalid value: [\"{ip}\"]: failed to allocate IP {ip}: provided IP is already allocated"
                );
                return Err(errors::invalid(
                    "Service",
                    "",
                    name,
                    &[("FieldValueInvalid".into(), "spec.clusterIPs".into(), msg)],
                ));
            }
            let ip = ip.to_string();
            spec.insert("clusterIPs".into(), json!([ip]));
            return Ok(());
        }
        // 10.96.0.0/12: skip addresses in use; bounded by the range size.
        for _ in 0..(1u32 << 20) {
            let n = self.next_ip;
            self.next_ip = self.next_ip.wrapping_add(1) % (1 << 20);
            let ip = format!("10.{}.{}.{}", 96 + (n >> 16), (n >> 8) & 0xff, n & 0xff);
            if n == 0 || (n & 0xff) == 0 || taken.contains(&ip) {
                continue;
            }
            spec.insert("clusterIP".into(), json!(ip));
            spec.insert("clusterIPs".into(), json!([ip]));
            return Ok(());
        }
        Ok(())
    }

    fn validate_kind(
        &self,
        def: &ResourceDef,
        obj: &mut Value,
        warnings: &mut Vec<String>,
    ) -> Vec<validate::Cause> {
        let mut causes = Vec::new();
        match (def.group.as_str(), def.kind.as_str()) {
            ("", "Pod") => {
                let containers = obj.pointer("/spec/containers").and_then(Value::as_array);
                match containers {
                    None => causes.push((
                        "FieldValueRequired".into(),
                        "spec.containers".into(),
                        "Required value".into(),
                    )),
                    Some(cs) if cs.is_empty() => causes.push((
                        "FieldValueRequired".into(),
                        "spec.containers".into(),
                        "Required value".into(),
                    )),
                    Some(cs) => {
                        for (i, c) in cs.iter().enumerate() {
                            if c.get("name")
                                .and_then(Value::as_str)
                                .is_none_or(str::is_empty)
                            {
                                causes.push((
                                    "FieldValueRequired".into(),
                                    format!("spec.containers[{i}].name"),
                                    "Required value".into(),
                                ));
                            }
                            if c.get("image")
                                .and_then(Value::as_str)
                                .is_none_or(str::is_empty)
                            {
                                causes.push((
                                    "FieldValueRequired".into(),
                                    format!("spec.containers[{i}].image"),
                                    "Required value".into(),
                                ));
                            }
                        }
                    }
                }
            }
            ("apiextensions.k8s.io", "CustomResourceDefinition") => {
                let name = meta(obj, "name").unwrap_or_default();
                let group = obj
                    .pointer("/spec/group")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let plural = obj
                    .pointer("/spec/names/plural")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if group.is_empty() {
                    causes.push((
                        "FieldValueRequired".into(),
                        "spec.group".into(),
                        "Required value".into(),
                    ));
                }
                if plural.is_empty() {
                    causes.push((
                        "FieldValueRequired".into(),
                        "spec.names.plural".into(),
                        "Required value".into(),
                    ));
                }
                if obj
                    .pointer("/spec/names/kind")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    causes.push((
                        "FieldValueRequired".into(),
                        "spec.names.kind".into(),
                        "Required value".into(),
                    ));
                }
                if !group.is_empty() && !plural.is_empty() && name != format!("{plural}.{group}") {
                    causes.push((
                        "FieldValueInvalid".into(),
                        "metadata.name".into(),
                        format!(
                            "Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"
                        ),
                    ));
                }
                if obj
                    .pointer("/spec/versions")
                    .and_then(Value::as_array)
                    .is_none_or(Vec::is_empty)
                {
                    causes.push((
                        "FieldValueRequired".into(),
                        "spec.versions".into(),
                        "Required value: must have exactly one version marked as storage version"
                            .into(),
                    ));
                }
            }
            _ => {}
        }
        if let Some(custom) = &def.custom {
            if let Some(schema) = &custom.schema {
                let mut unknown = Vec::new();
                causes.extend(validate::validate_crd(schema, obj, &mut unknown));
                warnings.extend(unknown.iter().map(|f| format!("unknown field \"{f}\"")));
            }
        }
        causes
    }

    // ------------------------------------------------------------ read

    pub(crate) fn get(&self, req: &Req) -> R {
        let obj = self.current(req)?;
        match req.sub.as_deref() {
            None | Some("status") | Some("ephemeralcontainers") | Some("resize") => {
                Ok(Reply::ok(200, Self::with_gvk(&req.def, obj)))
            }
            Some("scale") => Ok(Reply::ok(200, scale_of(&obj))),
            Some("log") => Ok(Reply {
                code: 200,
                raw: Some(("text/plain".into(), Vec::new())),
                ..Reply::default()
            }),
            Some(_) => Err(errors::method_not_allowed()),
        }
    }

    fn continue_token(rv: i64, start: &str) -> String {
        let v = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": format!("{start}\u{0}")});
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    pub(crate) fn list(&self, req: &Req) -> R {
        let q = req.query;
        let rvm = q.get("resourceVersionMatch").filter(|s| !s.is_empty());
        let rv = q.get("resourceVersion").filter(|s| !s.is_empty());
        if rvm.is_some() && rv.is_none() {
            return Err(errors::invalid_options(
                "ListOptions",
                "resourceVersionMatch",
                "FieldValueForbidden",
                "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        if rvm == Some("Exact") {
            let n: u64 = rv.and_then(|r| r.parse().ok()).unwrap_or(0);
            if n < self.compacted {
                return Err(errors::expired(
                    "The resourceVersion for the provided list is too old.",
                ));
            }
        }
        let labels = LabelSelector::parse(q.get("labelSelector").unwrap_or(""))
            .map_err(errors::bad_request)?;
        let fields = FieldSelector::parse(
            q.get("fieldSelector").unwrap_or(""),
            &req.def.group,
            &req.def.plural,
        )
        .map_err(errors::bad_request)?;
        let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(0);
        let mut list_rv = self.rv;
        let mut start = String::new();
        if let Some(tok) = q.get("continue").filter(|s| !s.is_empty()) {
            let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(tok.trim_end_matches('='))
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
            let Some(d) = decoded else {
                return Err(errors::bad_request(
                    "continue key is not valid: illegal base64 data at input byte 0",
                ));
            };
            let trv = d.get("rv").and_then(Value::as_i64).unwrap_or(0);
            start = d
                .get("start")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if trv >= 0 && (trv as u64) < self.compacted {
                return Err(errors::expired_continue(Self::continue_token(
                    -1,
                    start.trim_end_matches('\u{0}'),
                )));
            }
            if trv > 0 {
                list_rv = trv as u64;
            }
        }
        let storage = req.def.storage_key();
        let all: Vec<(&String, &Value)> = match self.objects.get(&storage) {
            None => Vec::new(),
            Some(m) => match &req.ns {
                Some(ns) => {
                    let prefix = format!("{ns}/");
                    m.range(prefix.clone()..)
                        .take_while(|(k, _)| k.starts_with(&prefix))
                        .collect()
                }
                None => m.iter().collect(),
            },
        };
        let matching: Vec<(&String, &Value)> = all
            .into_iter()
            .filter(|(k, _)| start.is_empty() || k.as_str() >= start.as_str())
            .filter(|(_, o)| labels.matches(o) && fields.matches(o))
            .collect();
        let total = matching.len();
        let take = if limit > 0 { limit.min(total) } else { total };
        let strip = req.def.custom.is_none();
        let items: Vec<Value> = matching[..take]
            .iter()
            .map(|(_, o)| {
                let mut o = (*o).clone();
                if strip {
                    if let Value::Object(m) = &mut o {
                        m.remove("apiVersion");
                        m.remove("kind");
                    }
                } else {
                    o = Self::with_gvk(&req.def, o);
                }
                o
            })
            .collect();
        let mut md = json!({"resourceVersion": list_rv.to_string()});
        if req.def.custom.is_some() {
            // Custom resource lists always carry `continue` (empty on the last page).
            md["continue"] = json!("");
        }
        if take < total {
            if let Some((last, _)) = matching.get(take.saturating_sub(1)) {
                md["continue"] = json!(Self::continue_token(list_rv as i64, last));
            }
            if labels.is_empty() && fields.is_empty() {
                md["remainingItemCount"] = json!(total - take);
            }
        }
        Ok(Reply::ok(
            200,
            json!({
                "kind": req.def.list_kind,
                "apiVersion": req.def.api_version(),
                "metadata": md,
                "items": items,
            }),
        ))
    }

    // ------------------------------------------------------------ create

    pub(crate) fn create(&mut self, req: &Req) -> R {
        match (
            req.def.group.as_str(),
            req.def.plural.as_str(),
            req.sub.as_deref(),
        ) {
            (_, _, Some("eviction")) => return self.evict(req),
            (_, _, Some("binding")) => return self.bind(req),
            (_, _, Some("token")) => return self.token_request(req),
            (_, _, Some(_)) => return Err(errors::method_not_allowed()),
            ("authorization.k8s.io", p, None) => return self.access_review(req, p),
            ("authentication.k8s.io", "selfsubjectreviews", None) => {
                return self.self_subject_review(req);
            }
            ("authentication.k8s.io", "tokenreviews", None) => return self.token_review(req),
            ("", "bindings", None) => return self.bind(req),
            _ => {}
        }
        let (mut obj, dups) = self.decode(req)?;
        let mut warnings = self.field_validation(req, &mut obj, dups)?;
        if let Some(ns) = meta(&obj, "namespace") {
            if req.def.namespaced && !ns.is_empty() && ns != req.ns() {
                return Err(errors::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        let mut name = meta(&obj, "name").unwrap_or_default();
        if name.is_empty() {
            if let Some(g) = meta(&obj, "generateName").filter(|g| !g.is_empty()) {
                name = format!("{g}{}", random_suffix(5));
            }
        }
        let mut causes: Vec<validate::Cause> = Vec::new();
        if name.is_empty() {
            causes.push((
                "FieldValueRequired".into(),
                "metadata.name".into(),
                "Required value: name or generateName is required".into(),
            ));
        } else if let Some(msg) = validate::check_name(&req.def.group, &req.def.plural, &name) {
            causes.push((
                "FieldValueInvalid".into(),
                "metadata.name".into(),
                format!("Invalid value: \"{name}\": {msg}"),
            ));
        }
        {
            let m = meta_mut(&mut obj);
            m.insert("name".into(), json!(name));
            if req.def.namespaced {
                m.insert("namespace".into(), json!(req.ns()));
            } else {
                m.remove("namespace");
            }
            for k in [
                "uid",
                "resourceVersion",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "managedFields",
                "selfLink",
            ] {
                m.remove(k);
            }
        }
        if req.def.has_subresource("status")
            && !(req.def.group.is_empty() && req.def.plural == "namespaces")
        {
            if let Value::Object(o) = &mut obj {
                o.remove("status");
            }
        }
        causes.extend(self.validate_kind(&req.def, &mut obj, &mut warnings));
        if !causes.is_empty() {
            return Err(errors::invalid(
                &req.def.kind,
                if req.def.custom.is_some() {
                    &req.def.group
                } else {
                    ""
                },
                &name,
                &causes,
            ));
        }
        self.check_namespace(req, &name)?;
        let storage = req.def.storage_key();
        if self.object(&storage, req.ns(), &name).is_some() {
            return Err(errors::already_exists(
                &req.def.plural,
                &req.def.group,
                &name,
            ));
        }
        self.apply_defaults(&req.def, &mut obj);
        if req.def.group.is_empty() && req.def.plural == "services" {
            self.allocate_cluster_ip(&mut obj, &name)?;
        }
        if req.def.plural == "customresourcedefinitions" {
            crd_status(&mut obj);
        }
        {
            let has_gen = has_generation(&req.def);
            let m = meta_mut(&mut obj);
            m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
            m.insert("creationTimestamp".into(), json!(now()));
            if has_gen {
                m.insert("generation".into(), json!(1));
            }
        }
        if req.def.group == "batch" && req.def.kind == "Job" {
            job_selector(&mut obj);
        }
        obj = Self::with_gvk(&req.def, obj);
        self.track_update(req, None, &mut obj);
        if req.dry_run() {
            return Ok(Reply {
                code: 201,
                body: obj,
                warnings,
                raw: None,
            });
        }
        let stored = self.put(&storage, req.ns(), &name, obj, None);
        self.after_write(&req.def, &stored);
        Ok(Reply {
            code: 201,
            body: stored,
            warnings,
            raw: None,
        })
    }

    /// Hooks run after an object was written (namespaces, CRDs).
    fn after_write(&mut self, def: &ResourceDef, obj: &Value) {
        if def.group.is_empty()
            && def.plural == "namespaces"
            && obj.pointer("/metadata/deletionTimestamp").is_none()
        {
            let name = meta(obj, "name").unwrap_or_default();
            if self.object("/serviceaccounts", &name, "default").is_none() {
                self.namespace_created(&name);
            }
        }
        if def.plural == "customresourcedefinitions" && def.group == "apiextensions.k8s.io" {
            self.register_crd(obj);
        }
    }

    fn register_crd(&mut self, crd: &Value) {
        let spec = crd.get("spec").cloned().unwrap_or(Value::Null);
        let group = spec
            .get("group")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let names = spec.get("names").cloned().unwrap_or(Value::Null);
        let s = |k: &str| {
            names
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let plural = s("plural");
        let kind = s("kind");
        let list_kind = names
            .get("listKind")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("{kind}List"));
        let singular = names
            .get("singular")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| kind.to_ascii_lowercase());
        let strs = |v: Option<&Value>| -> Vec<String> {
            v.and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        self.registry.remove_custom(&group, &plural);
        for v in spec
            .get("versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if v.get("served") == Some(&Value::Bool(false)) {
                continue;
            }
            let mut subs = Vec::new();
            if v.pointer("/subresources/status").is_some() {
                subs.push(("status".to_string(), kind.clone()));
            }
            if v.pointer("/subresources/scale").is_some() {
                subs.push(("scale".to_string(), "Scale".to_string()));
            }
            self.registry.defs.push(ResourceDef {
                group: group.clone(),
                version: v
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("v1")
                    .to_string(),
                kind: kind.clone(),
                list_kind: list_kind.clone(),
                plural: plural.clone(),
                singular: singular.clone(),
                namespaced: spec.get("scope").and_then(Value::as_str) != Some("Cluster"),
                verbs: [
                    "delete",
                    "deletecollection",
                    "get",
                    "list",
                    "patch",
                    "create",
                    "update",
                    "watch",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect(),
                subresources: subs,
                short_names: strs(names.get("shortNames")),
                categories: strs(names.get("categories")),
                custom: Some(CustomInfo {
                    schema: v.pointer("/schema/openAPIV3Schema").cloned(),
                }),
            });
        }
    }

    // ------------------------------------------------------------ update & patch

    pub(crate) fn update(&mut self, req: &Req) -> R {
        let (mut obj, dups) = self.decode(req)?;
        let mut warnings = self.field_validation(req, &mut obj, dups)?;
        if let Some(n) = meta(&obj, "name") {
            if n != req.name() {
                return Err(errors::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({})",
                    req.name()
                )));
            }
        }
        let current = self.current(req)?;
        if let Some(rv) = meta(&obj, "resourceVersion").filter(|r| !r.is_empty()) {
            if Some(rv) != meta(&current, "resourceVersion") {
                return Err(errors::conflict(
                    &req.def.plural,
                    &req.def.group,
                    req.name(),
                    errors::STALE,
                ));
            }
        }
        if req.sub.as_deref() == Some("scale") {
            let replicas = obj.pointer("/spec/replicas").cloned().unwrap_or(json!(0));
            let mut new = current.clone();
            new["spec"]["replicas"] = replicas;
            let r = self.write_update(req, &current, new, &mut warnings)?;
            return Ok(Reply::ok(200, scale_of(&r.body)));
        }
        self.write_update(req, &current, obj, &mut warnings)
    }

    /// Shared tail of PUT and PATCH: merges subresource rules, validates, bumps generation,
    /// finishes deletions whose finalizers are gone.
    fn write_update(
        &mut self,
        req: &Req,
        current: &Value,
        mut new: Value,
        warnings: &mut Vec<String>,
    ) -> R {
        let status_sub = req.def.has_subresource("status");
        match req.sub.as_deref() {
            Some("status") => {
                let status = new.get("status").cloned();
                new = current.clone();
                match status {
                    Some(s) => new["status"] = s,
                    None => {
                        if let Value::Object(o) = &mut new {
                            o.remove("status");
                        }
                    }
                }
            }
            Some("scale") | Some("ephemeralcontainers") | Some("resize") | None => {
                if status_sub && req.sub.is_none() {
                    match current.get("status") {
                        Some(s) => new["status"] = s.clone(),
                        None => {
                            if let Value::Object(o) = &mut new {
                                o.remove("status");
                            }
                        }
                    }
                }
            }
            Some(_) => return Err(errors::method_not_allowed()),
        }
        {
            let cur_meta = current.get("metadata").cloned().unwrap_or(json!({}));
            let m = meta_mut(&mut new);
            for k in [
                "name",
                "namespace",
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ] {
                match cur_meta.get(k) {
                    Some(v) => {
                        m.insert(k.into(), v.clone());
                    }
                    None => {
                        m.remove(k);
                    }
                }
            }
            m.remove("resourceVersion");
        }
        new = Self::with_gvk(&req.def, new);
        if req.def.group.is_empty() && req.def.kind == "Pod" && req.sub.is_none() {
            let (a, b) = (
                current.get("spec").cloned().unwrap_or(Value::Null),
                new.get("spec").cloned().unwrap_or(Value::Null),
            );
            if let Some(diff) = validate::pod_spec_change(&a, &b) {
                let msg = format!("{}\n{diff}\n", validate::POD_UPDATE_FORBIDDEN);
                return Err(errors::invalid(
                    "Pod",
                    "",
                    req.name(),
                    &[("FieldValueForbidden".into(), "spec".into(), msg)],
                ));
            }
        }
        if req.sub.is_none() {
            let causes = self.validate_kind(&req.def, &mut new, warnings);
            if !causes.is_empty() {
                return Err(errors::invalid(
                    &req.def.kind,
                    if req.def.custom.is_some() {
                        &req.def.group
                    } else {
                        ""
                    },
                    req.name(),
                    &causes,
                ));
            }
        }
        let strip = |v: &Value| {
            let mut v = v.clone();
            if let Value::Object(o) = &mut v {
                o.remove("metadata");
                o.remove("status");
                o.remove("apiVersion");
                o.remove("kind");
            }
            v
        };
        if has_generation(&req.def) && strip(current) != strip(&new) {
            let g = current
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            meta_mut(&mut new).insert("generation".into(), json!(g + 1));
        }
        if req.def.plural == "customresourcedefinitions" {
            crd_status(&mut new);
        }
        self.track_update(req, Some(current), &mut new);
        let mut cmp_new = new.clone();
        let mut cmp_cur = current.clone();
        for v in [&mut cmp_new, &mut cmp_cur] {
            let m = meta_mut(v);
            m.remove("resourceVersion");
            m.remove("managedFields");
        }
        if cmp_new == cmp_cur {
            return Ok(Reply {
                code: 200,
                body: Self::with_gvk(&req.def, current.clone()),
                warnings: std::mem::take(warnings),
                raw: None,
            });
        }
        if req.dry_run() {
            return Ok(Reply {
                code: 200,
                body: new,
                warnings: std::mem::take(warnings),
                raw: None,
            });
        }
        let storage = req.def.storage_key();
        let deleting = new.pointer("/metadata/deletionTimestamp").is_some();
        let no_finalizers = new
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
        let stored = self.put(&storage, req.ns(), req.name(), new, Some(current.clone()));
        if deleting && no_finalizers && !(req.def.kind == "Pod" && req.def.group.is_empty()) {
            self.remove(&storage, req.ns(), req.name());
            if req.def.plural == "customresourcedefinitions" {
                self.drop_crd(&stored);
            }
        } else {
            self.after_write(&req.def, &stored);
        }
        Ok(Reply {
            code: 200,
            body: stored,
            warnings: std::mem::take(warnings),
            raw: None,
        })
    }

    pub(crate) fn patch(&mut self, req: &Req) -> R {
        let ct = req
            .content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match ct.as_str() {
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => {
                return self.apply(req);
            }
            "application/json-patch+json" | "application/merge-patch+json" => {}
            "application/strategic-merge-patch+json" if req.def.custom.is_none() => {}
            "application/strategic-merge-patch+json" => {
                return Err(errors::unsupported_media_type(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                    false,
                ));
            }
            _ => {
                return Err(errors::unsupported_media_type(
                    "415: Unsupported Media Type",
                    true,
                ));
            }
        }
        let patch: Value = serde_json::from_slice(req.body).map_err(|e| {
            errors::bad_request(format!(
                "error decoding patch: {}",
                validate::go_json_error(&e)
            ))
        })?;
        let current = self.current(req)?;
        let base = match req.sub.as_deref() {
            Some("scale") => scale_of(&current),
            _ => Self::with_gvk(&req.def, current.clone()),
        };
        let patched = match ct.as_str() {
            "application/json-patch+json" => match patch::json_patch(&base, &patch) {
                Err(bad) => return Err(errors::bad_request(bad)),
                Ok(Err(failed)) => return Err(errors::patch_failed(&failed)),
                Ok(Ok(v)) => v,
            },
            "application/merge-patch+json" => {
                if !patch.is_object() {
                    return Err(errors::bad_request(
                        "json: cannot unmarshal into Go value of type map[string]interface {}",
                    ));
                }
                patch::merge_patch(&base, &patch)
            }
            _ => {
                if !patch.is_object() {
                    return Err(errors::bad_request(
                        "json: cannot unmarshal into Go value of type map[string]interface {}",
                    ));
                }
                patch::strategic_merge(&base, &patch, &self.keys)
            }
        };
        if let Some(rv) = patch
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
        {
            if Some(rv.to_string()) != meta(&current, "resourceVersion") {
                return Err(errors::conflict(
                    &req.def.plural,
                    &req.def.group,
                    req.name(),
                    errors::STALE,
                ));
            }
        }
        let mut warnings = Vec::new();
        if req.sub.as_deref() == Some("scale") {
            let mut new = current.clone();
            new["spec"]["replicas"] = patched
                .pointer("/spec/replicas")
                .cloned()
                .unwrap_or(json!(0));
            let r = self.write_update(req, &current, new, &mut warnings)?;
            return Ok(Reply::ok(200, scale_of(&r.body)));
        }
        self.write_update(req, &current, patched, &mut warnings)
    }

    /// Server-side apply.
    fn apply(&mut self, req: &Req) -> R {
        let Some(manager) = req.query.get("fieldManager").filter(|m| !m.is_empty()) else {
            return Err(errors::invalid(
                "PatchOptions",
                "meta.k8s.io",
                "",
                &[(
                    "FieldValueRequired".into(),
                    "fieldManager".into(),
                    "Required value: is required for apply patch".into(),
                )],
            ));
        };
        let manager = manager.to_string();
        let force = req.query.flag("force");
        let applied: Value = match serde_json::from_slice::<Value>(req.body) {
            Ok(v) => v,
            Err(_) => {
                let text = String::from_utf8_lossy(req.body);
                serde_saphyr::from_str::<Value>(&text)
                    .map_err(|e| errors::bad_request(format!("error decoding YAML: {e}")))?
            }
        };
        if !applied.is_object() {
            return Err(errors::bad_request(
                "error decoding YAML: the applied configuration is not an object",
            ));
        }
        if let Some(n) = meta(&applied, "name") {
            if n != req.name() {
                return Err(errors::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({})",
                    req.name()
                )));
            }
        }
        let mut applied_set = patch::field_set(&applied, &self.keys);
        // An applier owns the fields it sets, not the maps around them.
        applied_set.retain(|p| {
            !(matches!(p.last(), Some(patch::Step::Field(_)))
                && patch::value_at(&applied, p)
                    .is_some_and(|v| v.as_object().is_some_and(|m| !m.is_empty())))
        });
        if req.sub.as_deref() == Some("status") {
            applied_set.retain(|p| p.first() == Some(&patch::Step::Field("status".into())));
        } else if req.def.has_subresource("status") {
            applied_set.retain(|p| p.first() != Some(&patch::Step::Field("status".into())));
        }
        let entry = |set: &patch::FieldSet| {
            let mut e = json!({"manager": manager, "operation": "Apply", "apiVersion": req.def.api_version(), "time": now(), "fieldsType": "FieldsV1", "fieldsV1": patch::to_fields_v1(set)});
            if let Some(s) = &req.sub {
                e["subresource"] = json!(s);
            }
            e
        };
        let storage = req.def.storage_key();
        let Some(current) = self.object(&storage, req.ns(), req.name()).cloned() else {
            // Create from the applied configuration.
            let mut body = applied.clone();
            meta_mut(&mut body).insert("name".into(), json!(req.name()));
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            let create_req = Req {
                def: req.def.clone(),
                ns: req.ns.clone(),
                name: None,
                sub: None,
                query: req.query,
                body: &bytes,
                content_type: "application/json".into(),
                user: req.user,
                user_agent: req.user_agent.clone(),
            };
            let mut reply = self.create(&create_req)?;
            let mut obj = reply.body.clone();
            meta_mut(&mut obj).insert("managedFields".into(), json!([entry(&applied_set)]));
            if !req.dry_run() {
                let name = req.name().to_string();
                if let Some(stored) = self
                    .objects
                    .get_mut(&storage)
                    .and_then(|m| m.get_mut(&key_of(req.ns(), &name)))
                {
                    stored["metadata"]["managedFields"] = obj["metadata"]["managedFields"].clone();
                }
                if let Some(e) = self.history.back_mut() {
                    e.object["metadata"]["managedFields"] =
                        obj["metadata"]["managedFields"].clone();
                }
            }
            reply.body = obj;
            return Ok(reply);
        };
        let mut entries: Vec<Value> = current
            .pointer("/metadata/managedFields")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut previous = patch::FieldSet::new();
        let mut conflicts: Vec<(String, String)> = Vec::new();
        let mut conflicting = patch::FieldSet::new();
        for e in &entries {
            let m = e.get("manager").and_then(Value::as_str).unwrap_or("");
            let op = e.get("operation").and_then(Value::as_str).unwrap_or("");
            let set = patch::from_fields_v1(e.get("fieldsV1").unwrap_or(&Value::Null));
            if m == manager && op == "Apply" {
                previous = set;
                continue;
            }
            for p in patch::leaves(&applied_set) {
                let applied_value = patch::value_at(&applied, &p);
                if applied_value.is_some_and(Value::is_object) {
                    continue;
                }
                if set.contains(&p) && patch::value_at(&current, &p) != applied_value {
                    conflicts.push((m.to_string(), patch::path_string(&p)));
                    conflicting.insert(p.clone());
                }
            }
        }
        if !conflicts.is_empty() && !force {
            return Err(errors::apply_conflict(&conflicts));
        }
        // Others lose the conflicting fields taken over by force; fields applied with the same
        // value stay shared.
        let taken = conflicting;
        entries.retain_mut(|e| {
            let m = e.get("manager").and_then(Value::as_str).unwrap_or("");
            let op = e.get("operation").and_then(Value::as_str).unwrap_or("");
            if m == manager && op == "Apply" {
                return false;
            }
            let mut set = patch::from_fields_v1(e.get("fieldsV1").unwrap_or(&Value::Null));
            if force {
                set.retain(|p| !taken.contains(p));
            }
            if set.is_empty() {
                return false;
            }
            e["fieldsV1"] = patch::to_fields_v1(&set);
            true
        });
        let mut new = Self::with_gvk(&req.def, current.clone());
        // Fields this manager applied before and no longer applies, owned by nobody else, go.
        let others: patch::FieldSet = entries
            .iter()
            .flat_map(|e| patch::from_fields_v1(e.get("fieldsV1").unwrap_or(&Value::Null)))
            .collect();
        for p in patch::leaves(&previous) {
            if !applied_set.contains(&p) && !others.contains(&p) {
                patch::remove_at_path(&mut new, &p);
            }
        }
        let mut applied_body = applied.clone();
        if let Value::Object(o) = &mut applied_body {
            o.remove("apiVersion");
            o.remove("kind");
        }
        new = patch::strategic_merge(&new, &applied_body, &self.keys);
        entries.push(entry(&applied_set));
        let mut warnings = Vec::new();
        let mut reply = self.write_update_apply(req, &current, new, entries, &mut warnings)?;
        reply.code = 200;
        Ok(reply)
    }

    fn write_update_apply(
        &mut self,
        req: &Req,
        current: &Value,
        mut new: Value,
        entries: Vec<Value>,
        warnings: &mut Vec<String>,
    ) -> R {
        // write_update recomputes an Update entry; apply sets its own, so restore afterwards.
        meta_mut(&mut new).insert("managedFields".into(), Value::Array(entries.clone()));
        let mut cur = current.clone();
        meta_mut(&mut cur).insert("managedFields".into(), Value::Array(entries.clone()));
        let reply = self.write_update(req, &cur, new, warnings)?;
        let mut body = reply.body;
        meta_mut(&mut body).insert("managedFields".into(), Value::Array(entries.clone()));
        if !req.dry_run() {
            let storage = req.def.storage_key();
            if let Some(stored) = self
                .objects
                .get_mut(&storage)
                .and_then(|m| m.get_mut(&key_of(req.ns(), req.name())))
            {
                stored["metadata"]["managedFields"] = Value::Array(entries.clone());
            }
            if let Some(e) = self.history.back_mut() {
                if e.key == storage && meta(&e.object, "name").as_deref() == Some(req.name()) {
                    e.object["metadata"]["managedFields"] = Value::Array(entries);
                }
            }
        }
        Ok(Reply {
            code: 200,
            body,
            warnings: reply.warnings,
            raw: None,
        })
    }

    // ------------------------------------------------------------ delete

    fn delete_options(req: &Req) -> Result<Value, ApiError> {
        if req.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(json!({}));
        }
        let v: Value = serde_json::from_slice(req.body).map_err(|e| {
            errors::bad_request(format!(
                "error decoding DeleteOptions: {}",
                validate::go_json_error(&e)
            ))
        })?;
        Ok(v)
    }

    pub(crate) fn delete(&mut self, req: &Req) -> R {
        let opts = Self::delete_options(req)?;
        let current = self.current(req)?;
        let dry = req.dry_run()
            || opts
                .get("dryRun")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|x| x == "All"));
        if let Some(uid) = opts.pointer("/preconditions/uid").and_then(Value::as_str) {
            let actual = meta(&current, "uid").unwrap_or_default();
            if uid != actual {
                return Err(errors::conflict(
                    &req.def.plural,
                    &req.def.group,
                    req.name(),
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"
                    ),
                ));
            }
        }
        if let Some(rv) = opts
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
        {
            let actual = meta(&current, "resourceVersion").unwrap_or_default();
            if rv != actual {
                return Err(errors::conflict(
                    &req.def.plural,
                    &req.def.group,
                    req.name(),
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {actual}"
                    ),
                ));
            }
        }
        let grace: Option<i64> = req
            .query
            .get("gracePeriodSeconds")
            .and_then(|g| g.parse().ok())
            .or_else(|| opts.get("gracePeriodSeconds").and_then(Value::as_i64));
        let policy = req
            .query
            .get("propagationPolicy")
            .map(str::to_string)
            .or_else(|| {
                opts.get("propagationPolicy")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
        self.delete_object(req, current, grace, policy.as_deref(), dry)
    }

    fn delete_object(
        &mut self,
        req: &Req,
        current: Value,
        grace: Option<i64>,
        policy: Option<&str>,
        dry: bool,
    ) -> R {
        let def = &req.def;
        let storage = def.storage_key();
        let name = meta(&current, "name").unwrap_or_default();
        let ns = meta(&current, "namespace").unwrap_or_default();
        let is_pod = def.group.is_empty() && def.plural == "pods";
        let is_ns = def.group.is_empty() && def.plural == "namespaces";
        let obj_reply = |v: Value| Ok(Reply::ok(200, Self::with_gvk(def, v)));
        if is_ns {
            return self.delete_namespace(req, current, dry);
        }
        let finalizers: Vec<Value> = current
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let already = current.pointer("/metadata/deletionTimestamp").is_some();
        if is_pod {
            let grace = grace.unwrap_or_else(|| {
                current
                    .pointer("/spec/terminationGracePeriodSeconds")
                    .and_then(Value::as_i64)
                    .unwrap_or(30)
            });
            let scheduled = current
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty());
            let phase = current
                .pointer("/status/phase")
                .and_then(Value::as_str)
                .unwrap_or("");
            let terminal = phase == "Succeeded" || phase == "Failed";
            if scheduled && grace > 0 && !terminal && finalizers.is_empty() {
                if already {
                    return obj_reply(current);
                }
                let mut new = current.clone();
                {
                    let m = meta_mut(&mut new);
                    m.insert("deletionTimestamp".into(), json!(later(grace)));
                    m.insert("deletionGracePeriodSeconds".into(), json!(grace));
                    let g = m.get("generation").and_then(Value::as_i64).unwrap_or(1);
                    m.insert("generation".into(), json!(g + 1));
                }
                if dry {
                    return obj_reply(new);
                }
                let stored = self.put(&storage, &ns, &name, new, Some(current));
                return obj_reply(stored);
            }
        }
        let mut final_list = finalizers.clone();
        if policy == Some("Foreground") && !already {
            final_list.push(json!("foregroundDeletion"));
        }
        if !final_list.is_empty() {
            // Held by finalizers: mark and keep. `foregroundDeletion` alone is released at once
            // (no garbage collector here, so there are no dependents to wait for).
            let mut new = current.clone();
            {
                let m = meta_mut(&mut new);
                if !already {
                    m.insert("deletionTimestamp".into(), json!(now()));
                    m.insert("deletionGracePeriodSeconds".into(), json!(0));
                    if m.contains_key("generation") {
                        let g = m.get("generation").and_then(Value::as_i64).unwrap_or(1);
                        m.insert("generation".into(), json!(g + 1));
                    }
                }
                m.insert("finalizers".into(), Value::Array(final_list.clone()));
            }
            if dry {
                return obj_reply(new);
            }
            let stored = if already {
                current.clone()
            } else {
                self.put(&storage, &ns, &name, new, Some(current))
            };
            if finalizers.is_empty() {
                self.remove(&storage, &ns, &name);
            }
            return obj_reply(stored);
        }
        let removed = if dry {
            current.clone()
        } else {
            match self.remove(&storage, &ns, &name) {
                Some(r) => r,
                None => return Err(errors::not_found(&def.plural, &def.group, &name)),
            }
        };
        if def.plural == "customresourcedefinitions" && !dry {
            self.drop_crd(&removed);
        }
        if returns_deleted_object(def) {
            let mut shown = removed;
            if is_pod {
                let m = meta_mut(&mut shown);
                m.insert("deletionTimestamp".into(), json!(now()));
                m.insert("deletionGracePeriodSeconds".into(), json!(0));
            }
            return obj_reply(shown);
        }
        let mut st = Status::success();
        let mut d = StatusDetails::default();
        d.name = Some(name);
        if !def.group.is_empty() {
            d.group = Some(def.group.clone());
        }
        d.kind = Some(def.plural.clone());
        d.uid = meta(&removed, "uid");
        st.details = Some(d);
        Ok(Reply::ok(
            200,
            serde_json::to_value(st).unwrap_or(Value::Null),
        ))
    }

    fn drop_crd(&mut self, crd: &Value) {
        let group = crd
            .pointer("/spec/group")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let plural = crd
            .pointer("/spec/names/plural")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        self.registry.remove_custom(&group, &plural);
        let storage = format!("{group}/{plural}");
        let keys: Vec<String> = self
            .objects
            .get(&storage)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        for k in keys {
            if let Some((ns, name)) = k.split_once('/') {
                self.remove(&storage, ns, name);
            }
        }
    }

    fn delete_namespace(&mut self, req: &Req, current: Value, dry: bool) -> R {
        let name = meta(&current, "name").unwrap_or_default();
        let mut new = current.clone();
        if new.pointer("/metadata/deletionTimestamp").is_none() {
            meta_mut(&mut new).insert("deletionTimestamp".into(), json!(now()));
            new["status"] = json!({"phase": "Terminating"});
        }
        if dry {
            return Ok(Reply::ok(200, Self::with_gvk(&req.def, new)));
        }
        let stored = if current.pointer("/metadata/deletionTimestamp").is_none() {
            self.put("/namespaces", "", &name, new, Some(current))
        } else {
            current
        };
        // The namespace controller: delete everything in it.
        let namespaced: Vec<String> = self
            .objects
            .keys()
            .filter(|k| k.as_str() != "/namespaces")
            .cloned()
            .collect();
        for storage in namespaced {
            let prefix = format!("{name}/");
            let keys: Vec<String> = self
                .objects
                .get(&storage)
                .map(|m| {
                    m.keys()
                        .filter(|k| k.starts_with(&prefix))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            for k in keys {
                let obj_name = k[prefix.len()..].to_string();
                let Some(obj) = self.object(&storage, &name, &obj_name).cloned() else {
                    continue;
                };
                let has_finalizers = obj
                    .pointer("/metadata/finalizers")
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty());
                if has_finalizers {
                    if obj.pointer("/metadata/deletionTimestamp").is_none() {
                        let mut marked = obj.clone();
                        let m = meta_mut(&mut marked);
                        m.insert("deletionTimestamp".into(), json!(now()));
                        m.insert("deletionGracePeriodSeconds".into(), json!(0));
                        self.put(&storage, &name, &obj_name, marked, Some(obj));
                    }
                } else {
                    self.remove(&storage, &name, &obj_name);
                }
            }
        }
        self.maybe_finalize_namespace(&name);
        Ok(Reply::ok(200, Self::with_gvk(&req.def, stored)))
    }

    fn maybe_finalize_namespace(&mut self, ns: &str) {
        let terminating = self
            .object("/namespaces", "", ns)
            .is_some_and(|n| n.pointer("/metadata/deletionTimestamp").is_some());
        if !terminating {
            return;
        }
        let prefix = format!("{ns}/");
        let empty = self
            .objects
            .iter()
            .filter(|(k, _)| k.as_str() != "/namespaces")
            .all(|(_, m)| {
                m.range(prefix.clone()..)
                    .next()
                    .is_none_or(|(k, _)| !k.starts_with(&prefix))
            });
        if empty {
            self.remove("/namespaces", "", ns);
        }
    }

    pub(crate) fn delete_collection(&mut self, req: &Req) -> R {
        let labels = LabelSelector::parse(req.query.get("labelSelector").unwrap_or(""))
            .map_err(errors::bad_request)?;
        let fields = FieldSelector::parse(
            req.query.get("fieldSelector").unwrap_or(""),
            &req.def.group,
            &req.def.plural,
        )
        .map_err(errors::bad_request)?;
        let opts = Self::delete_options(req)?;
        let grace: Option<i64> = req
            .query
            .get("gracePeriodSeconds")
            .and_then(|g| g.parse().ok())
            .or_else(|| opts.get("gracePeriodSeconds").and_then(Value::as_i64));
        let storage = req.def.storage_key();
        let targets: Vec<Value> = self
            .objects
            .get(&storage)
            .map(|m| {
                m.values()
                    .filter(|o| {
                        req.ns
                            .as_deref()
                            .is_none_or(|ns| meta(o, "namespace").as_deref() == Some(ns))
                    })
                    .filter(|o| labels.matches(o) && fields.matches(o))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let mut items = Vec::new();
        for t in targets {
            let name = meta(&t, "name");
            let sub_req = Req {
                def: req.def.clone(),
                ns: meta(&t, "namespace"),
                name,
                sub: None,
                query: req.query,
                body: b"",
                content_type: String::new(),
                user: req.user,
                user_agent: req.user_agent.clone(),
            };
            let reply = self.delete_object(&sub_req, t.clone(), grace, None, req.dry_run())?;
            let mut item = if reply.body.get("kind") == Some(&json!("Status")) {
                t
            } else {
                reply.body
            };
            if let Value::Object(m) = &mut item {
                m.remove("apiVersion");
                m.remove("kind");
            }
            items.push(item);
        }
        Ok(Reply::ok(
            200,
            json!({"kind": req.def.list_kind, "apiVersion": req.def.api_version(), "metadata": {"resourceVersion": self.rv.to_string()}, "items": items}),
        ))
    }

    // ------------------------------------------------------------ pods/eviction, binding, token

    fn evict(&mut self, req: &Req) -> R {
        let (body, _) = self.decode(req)?;
        if let Some(n) = meta(&body, "name") {
            if n != req.name() {
                return Err(errors::bad_request(
                    "name in URL does not match name in Eviction object",
                ));
            }
        }
        let pod = self.current(req)?;
        let phase = pod
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .unwrap_or("Pending");
        if phase == "Running" {
            for pdb in self.objects_in("policy/poddisruptionbudgets", req.ns()) {
                let sel = pdb
                    .pointer("/spec/selector/matchLabels")
                    .and_then(Value::as_object);
                let Some(sel) = sel else { continue };
                let labels = pod.pointer("/metadata/labels").and_then(Value::as_object);
                let covers = sel
                    .iter()
                    .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
                if !covers {
                    continue;
                }
                let pdb_name = meta(pdb, "name").unwrap_or_default();
                let healthy = self
                    .objects_in("/pods", req.ns())
                    .iter()
                    .filter(|p| {
                        let l = p.pointer("/metadata/labels").and_then(Value::as_object);
                        sel.iter().all(|(k, v)| l.and_then(|l| l.get(k)) == Some(v))
                            && p.pointer("/status/conditions")
                                .and_then(Value::as_array)
                                .is_some_and(|cs| {
                                    cs.iter().any(|c| {
                                        c.get("type") == Some(&json!("Ready"))
                                            && c.get("status") == Some(&json!("True"))
                                    })
                                })
                    })
                    .count() as i64;
                let min = pdb
                    .pointer("/spec/minAvailable")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                let pod_healthy = is_ready(&pod);
                let allowed = if pod_healthy {
                    healthy > min
                } else {
                    healthy >= min
                };
                if !allowed {
                    let mut e = errors::too_many_requests(
                        "Cannot evict pod as it would violate the pod's disruption budget.",
                        None,
                    );
                    let mut d = StatusDetails::default();
                    let mut c = k8s_core::StatusCause::default();
                    c.reason = Some("DisruptionBudget".into());
                    c.message = Some(format!(
                        "The disruption budget {pdb_name} needs {min} healthy pods and has {healthy} currently"
                    ));
                    d.causes = Some(vec![c]);
                    e.status.details = Some(d);
                    return Err(e);
                }
            }
        }
        self.delete_object(req, pod, None, None, req.dry_run())?;
        let mut st = Status::success();
        st.code = Some(201);
        Ok(Reply::ok(
            201,
            serde_json::to_value(st).unwrap_or(Value::Null),
        ))
    }

    fn bind(&mut self, req: &Req) -> R {
        let (body, _) = self.decode(req)?;
        let pod_name = req
            .name
            .clone()
            .or_else(|| meta(&body, "name"))
            .unwrap_or_default();
        let node = body
            .pointer("/target/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if self.registry.find("", "v1", "pods").is_none() {
            return Err(errors::path_not_found());
        }
        let current = self
            .object("/pods", req.ns(), &pod_name)
            .cloned()
            .ok_or_else(|| errors::not_found("pods", "", &pod_name))?;
        if current
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty())
        {
            return Err(errors::conflict(
                "pods",
                "",
                &pod_name,
                &format!(
                    "pod {pod_name} is already assigned to node \"{}\"",
                    current
                        .pointer("/spec/nodeName")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                ),
            ));
        }
        let mut new = current.clone();
        new["spec"]["nodeName"] = json!(node);
        if !req.dry_run() {
            self.put("/pods", req.ns(), &pod_name, new, Some(current));
        }
        let mut st = Status::success();
        st.code = Some(201);
        Ok(Reply::ok(
            201,
            serde_json::to_value(st).unwrap_or(Value::Null),
        ))
    }

    fn token_request(&mut self, req: &Req) -> R {
        let (body, _) = self.decode(req)?;
        let sa = self.current(req)?;
        let token = random_token();
        let expiration = body
            .pointer("/spec/expirationSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(3600);
        let user = UserInfo {
            name: format!("system:serviceaccount:{}:{}", req.ns(), req.name()),
            uid: meta(&sa, "uid"),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{}", req.ns()),
            ],
            extra: vec![(
                "authentication.kubernetes.io/credential-id".into(),
                vec![format!("JTI={}", uuid::Uuid::new_v4())],
            )],
        };
        self.tokens.insert(token.clone(), user);
        let mut out = body.clone();
        out["apiVersion"] = json!("authentication.k8s.io/v1");
        out["kind"] = json!("TokenRequest");
        out["metadata"] =
            json!({"name": req.name(), "namespace": req.ns(), "creationTimestamp": now()});
        if out.pointer("/spec/audiences").is_none() {
            out["spec"]["audiences"] = json!(["https://kubernetes.default.svc.cluster.local"]);
        }
        out["spec"]["expirationSeconds"] = json!(expiration);
        out["status"] = json!({"token": token, "expirationTimestamp": later(expiration)});
        Ok(Reply::ok(201, out))
    }

    // ------------------------------------------------------------ reviews

    fn access_review(&mut self, req: &Req, plural: &str) -> R {
        let (mut body, _) = self.decode(req)?;
        let spec = body.get("spec").cloned().unwrap_or(json!({}));
        let user = match plural {
            "selfsubjectaccessreviews" => req.user.clone(),
            "selfsubjectrulesreviews" => {
                let ns = spec.get("namespace").and_then(Value::as_str).unwrap_or("");
                body["status"] = authz::rules_review(self, req.user, ns);
                body["metadata"] = json!({"creationTimestamp": Value::Null});
                return Ok(Reply::ok(201, body));
            }
            _ => UserInfo {
                name: spec
                    .get("user")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                uid: spec.get("uid").and_then(Value::as_str).map(str::to_string),
                groups: spec
                    .get("groups")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|g| g.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                extra: Vec::new(),
            },
        };
        let attrs = if let Some(ra) = spec.get("resourceAttributes") {
            let s = |k: &str| ra.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let mut ns = s("namespace");
            if plural == "localsubjectaccessreviews" {
                ns = req.ns().to_string();
            }
            Attrs {
                verb: s("verb"),
                group: s("group"),
                resource: s("resource"),
                sub: Some(s("subresource")).filter(|x| !x.is_empty()),
                ns: Some(ns).filter(|x| !x.is_empty()),
                name: Some(s("name")).filter(|x| !x.is_empty()),
                path: None,
            }
        } else if let Some(nr) = spec.get("nonResourceAttributes") {
            Attrs {
                verb: nr
                    .get("verb")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                path: Some(
                    nr.get("path")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                ),
                ..Attrs::default()
            }
        } else {
            return Err(errors::invalid(&req.def.kind, "authorization.k8s.io", "", &[("FieldValueRequired".into(), "spec.resourceAttributes".into(), "Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified".into())]));
        };
        let (allowed, reason) = authz::authorize(self, &user, &attrs);
        let mut status = json!({"allowed": allowed});
        if !reason.is_empty() {
            status["reason"] = json!(reason);
        }
        let mut set = patch::field_set(&json!({"spec": spec}), &self.keys);
        set.remove(&vec![patch::Step::Field("spec".into())]);
        body["metadata"] =
            json!({"managedFields": [Self::managed_entry(req, "Update", &set, None)]});
        body["status"] = status;
        Ok(Reply::ok(201, body))
    }

    fn self_subject_review(&mut self, req: &Req) -> R {
        let (mut body, _) = self.decode(req)?;
        body["metadata"] = json!({"creationTimestamp": now()});
        body["status"] = json!({"userInfo": user_info_json(req.user)});
        Ok(Reply::ok(201, body))
    }

    fn token_review(&mut self, req: &Req) -> R {
        let (mut body, _) = self.decode(req)?;
        let token = body
            .pointer("/spec/token")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let status = match self.tokens.get(&token) {
            Some(u) => {
                let mut u = u.clone();
                if !u.groups.iter().any(|g| g == "system:authenticated") {
                    u.groups.push("system:authenticated".into());
                }
                json!({"authenticated": true, "user": user_info_json(&u), "audiences": body.pointer("/spec/audiences").cloned().unwrap_or(json!(["https://kubernetes.default.svc.cluster.local"]))})
            }
            None => json!({"user": {}, "error": "[invalid bearer token, token lookup failed]"}),
        };
        body["metadata"] = json!({"creationTimestamp": now()});
        body["status"] = status;
        Ok(Reply::ok(201, body))
    }
}

pub(crate) fn user_info_json(u: &UserInfo) -> Value {
    let mut v = json!({"username": u.name, "groups": u.groups});
    if let Some(uid) = &u.uid {
        v["uid"] = json!(uid);
    }
    if !u.extra.is_empty() {
        let extra: Map<String, Value> = u
            .extra
            .iter()
            .map(|(k, vs)| (k.clone(), json!(vs)))
            .collect();
        v["extra"] = Value::Object(extra);
    }
    v
}

/// What the Job strategy does on create: a generated selector on the controller uid, the
/// matching template labels, and the Job's labels defaulted from its template.
fn job_selector(obj: &mut Value) {
    if obj.pointer("/spec/manualSelector") == Some(&json!(true)) {
        return;
    }
    let uid = meta(obj, "uid").unwrap_or_default();
    let name = meta(obj, "name").unwrap_or_default();
    let generated = json!({
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    });
    if let Some(t) = obj.pointer_mut("/spec/template") {
        if !t.get("metadata").is_some_and(Value::is_object) {
            t["metadata"] = json!({});
        }
        let labels = t["metadata"]
            .as_object_mut()
            .map(|m| m.entry("labels").or_insert_with(|| json!({})));
        if let Some(Value::Object(l)) = labels {
            if let Value::Object(g) = &generated {
                l.extend(g.clone());
            }
        }
    }
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert(
            "selector".into(),
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}),
        );
    }
    let template_labels = obj
        .pointer("/spec/template/metadata/labels")
        .cloned()
        .unwrap_or(json!({}));
    let m = meta_mut(obj);
    if m.get("labels")
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty)
    {
        m.insert("labels".into(), template_labels);
    }
}

fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type") == Some(&json!("Ready")) && c.get("status") == Some(&json!("True"))
            })
        })
}

/// The `autoscaling/v1` Scale view of an object.
fn scale_of(obj: &Value) -> Value {
    let selector = obj
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": obj.pointer("/metadata/name"),
            "namespace": obj.pointer("/metadata/namespace"),
            "uid": obj.pointer("/metadata/uid"),
            "resourceVersion": obj.pointer("/metadata/resourceVersion"),
            "creationTimestamp": obj.pointer("/metadata/creationTimestamp"),
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
        "status": {"replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)), "selector": selector},
    })
}

fn crd_status(obj: &mut Value) {
    let names = obj.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let stored: Vec<Value> = obj
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .filter(|v| v.get("storage") == Some(&json!(true)))
                .filter_map(|v| v.get("name").cloned())
                .collect()
        })
        .unwrap_or_default();
    let t = now();
    let mut accepted = names.clone();
    if let Value::Object(m) = &mut accepted {
        if !m.contains_key("listKind") {
            let kind = m
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            m.insert("listKind".into(), json!(format!("{kind}List")));
        }
        if !m.contains_key("singular") {
            let kind = m
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_ascii_lowercase();
            m.insert("singular".into(), json!(kind));
        }
    }
    obj["status"] = json!({
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": t, "reason": "NoConflicts", "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": t, "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}
        ],
        "acceptedNames": accepted,
        "storedVersions": stored,
    });
}

fn default_container(c: &mut Value) {
    let Some(m) = c.as_object_mut() else { return };
    let image = m
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let tag = image.rsplit('/').next().unwrap_or("");
    let latest = !tag.contains(':') || tag.ends_with(":latest");
    if !image.contains('@') {
        m.entry("imagePullPolicy")
            .or_insert(json!(if latest { "Always" } else { "IfNotPresent" }));
    } else {
        m.entry("imagePullPolicy").or_insert(json!("IfNotPresent"));
    }
    m.entry("resources").or_insert(json!({}));
    m.entry("terminationMessagePath")
        .or_insert(json!("/dev/termination-log"));
    m.entry("terminationMessagePolicy").or_insert(json!("File"));
    if let Some(Value::Array(ports)) = m.get_mut("ports") {
        for p in ports {
            if let Value::Object(pm) = p {
                pm.entry("protocol").or_insert(json!("TCP"));
            }
        }
    }
}

fn default_pod_spec(spec: &mut Value) {
    let Some(m) = spec.as_object_mut() else {
        return;
    };
    for list in ["containers", "initContainers"] {
        if let Some(Value::Array(cs)) = m.get_mut(list) {
            cs.iter_mut().for_each(default_container);
        }
    }
    m.entry("restartPolicy").or_insert(json!("Always"));
    m.entry("terminationGracePeriodSeconds")
        .or_insert(json!(30));
    m.entry("dnsPolicy").or_insert(json!("ClusterFirst"));
    m.entry("securityContext").or_insert(json!({}));
    m.entry("schedulerName")
        .or_insert(json!("default-scheduler"));
}

fn default_pod_template(t: &mut Value) {
    if let Some(spec) = t.get_mut("spec") {
        default_pod_spec(spec);
    }
}

fn default_pod(obj: &mut Value) {
    if let Some(spec) = obj.get_mut("spec") {
        default_pod_spec(spec);
        if let Some(m) = spec.as_object_mut() {
            m.entry("serviceAccountName").or_insert(json!("default"));
            m.entry("serviceAccount").or_insert(json!("default"));
            m.entry("enableServiceLinks").or_insert(json!(true));
            m.entry("preemptionPolicy")
                .or_insert(json!("PreemptLowerPriority"));
            m.entry("priority").or_insert(json!(0));
            m.entry("tolerations").or_insert(json!([
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            ]));
        }
    }
    let best_effort = obj
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .is_none_or(|cs| {
            cs.iter().all(|c| {
                c.get("resources")
                    .is_none_or(|r| r.as_object().is_none_or(Map::is_empty))
            })
        });
    obj["status"] = json!({"phase": "Pending", "qosClass": if best_effort { "BestEffort" } else { "Burstable" }});
}
