//! Deterministic, realistic Pods: what a Deployment's replicas look like on a real cluster (two
//! containers with env, probes, resources and mounts; volumes; owner reference; managedFields of
//! the controller and the kubelet; status with conditions and container statuses).
//!
//! Everything comes from a seeded [`Rng`], so the same seed gives byte-identical documents on
//! every machine and every run; the JSON is built as [`serde_json::Value`] and written compactly,
//! like the API server's JSON.

use serde_json::{Value, json};

/// A small seeded pseudo-random generator (SplitMix64): no cryptographic use, only variety.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// One of `items`.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    /// `n` lowercase alphanumeric characters, like the suffixes of generated names.
    pub fn alnum(&mut self, n: usize) -> String {
        const CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..n)
            .map(|_| CHARS[self.below(CHARS.len() as u64) as usize] as char)
            .collect()
    }

    /// A version-4-shaped UUID.
    pub fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }

    /// A timestamp in 2025, second precision (`Time`).
    pub fn time(&mut self) -> String {
        let day = 1 + self.below(28);
        let month = 1 + self.below(12);
        let (h, m, s) = (self.below(24), self.below(60), self.below(60));
        format!("2025-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
    }
}

const APPS: &[&str] = &[
    "web", "api", "checkout", "search", "billing", "auth", "catalog", "worker", "frontend",
];
const SIDECARS: &[(&str, &str)] = &[
    ("envoy", "docker.io/envoyproxy/envoy:v1.31.2"),
    ("fluent-bit", "cr.fluentbit.io/fluent/fluent-bit:3.1.9"),
    ("oauth2-proxy", "quay.io/oauth2-proxy/oauth2-proxy:v7.7.1"),
];
const CPU: &[&str] = &["50m", "100m", "250m", "500m", "1"];
const MEM: &[&str] = &["64Mi", "128Mi", "256Mi", "512Mi", "1Gi"];
const NODES: &[&str] = &[
    "ip-10-0-12-34.eu-west-1.compute.internal",
    "ip-10-0-45-187.eu-west-1.compute.internal",
    "ip-10-0-77-9.eu-west-1.compute.internal",
];

/// One Pod as the API server returns it (with `metadata.namespace`, `uid`, `resourceVersion`,
/// `managedFields` and `status`), number `index` of the sequence of `seed`.
pub fn pod(seed: u64, index: u64, namespace: &str) -> Value {
    let mut r = Rng::new(seed ^ index.wrapping_mul(0x2545_f491_4f6c_dd1d));
    let app = r.pick(APPS);
    let hash = r.alnum(10);
    let name = format!("{app}-{hash}-{}", r.alnum(5));
    let created = r.time();
    let (sidecar, sidecar_image) = SIDECARS[r.below(SIDECARS.len() as u64) as usize];
    let version = format!("1.{}.{}", r.below(30), r.below(10));
    let image = format!("registry.example.com/shop/{app}:{version}");
    let node = r.pick(NODES);
    let pod_ip = format!("10.0.{}.{}", r.below(256), 1 + r.below(254));
    let host_ip = format!("10.0.{}.{}", r.below(64), 1 + r.below(254));
    let port = 8080 + r.below(4) as i64;
    let restarts = if r.below(10) == 0 { r.below(5) } else { 0 };
    let app_cid = format!("containerd://{:016x}{:016x}", r.next_u64(), r.next_u64());
    json!({
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": r.uuid(),
            "resourceVersion": (1_000_000 + index).to_string(),
            "creationTimestamp": created,
            "labels": {"app": app, "pod-template-hash": hash},
            "ownerReferences": [{
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": format!("{app}-{hash}"),
                "uid": r.uuid(),
                "controller": true,
                "blockOwnerDeletion": true
            }],
            "managedFields": [{
                "manager": "kube-controller-manager",
                "operation": "Update",
                "apiVersion": "v1",
                "time": created,
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {}, "f:ownerReferences": {}}, "f:spec": {}}
            }, {
                "manager": "kubelet",
                "operation": "Update",
                "apiVersion": "v1",
                "time": created,
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:status": {}},
                "subresource": "status"
            }]
        },
        "spec": {
            "volumes": [
                {"name": "config", "configMap": {"name": format!("{app}-config")}},
                {"name": "tmp", "emptyDir": {}}
            ],
            "containers": [{
                "name": app,
                "image": image,
                "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
                "env": [
                    {"name": "LOG_LEVEL", "value": r.pick(&["info", "debug", "warn"])},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}
                ],
                "resources": {
                    "limits": {"memory": r.pick(MEM)},
                    "requests": {"cpu": r.pick(CPU), "memory": r.pick(MEM)}
                },
                "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}, {"name": "tmp", "mountPath": "/tmp"}],
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": port}, "periodSeconds": 10},
                "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}},
            }, {
                "name": sidecar,
                "image": sidecar_image,
                "resources": {"requests": {"cpu": r.pick(CPU), "memory": r.pick(MEM)}}
            }],
            "serviceAccountName": app,
            "nodeName": node
        },
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "Initialized", "status": "True", "lastTransitionTime": created},
                {"type": "Ready", "status": "True", "lastTransitionTime": created},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": created}
            ],
            "hostIP": host_ip,
            "podIP": pod_ip,
            "startTime": created,
            "containerStatuses": [{
                "name": app,
                "state": {"running": {"startedAt": created}},
                "ready": true,
                "restartCount": restarts,
                "image": image,
                "containerID": app_cid
            }, {
                "name": sidecar,
                "state": {"running": {"startedAt": created}},
                "ready": true,
                "restartCount": 0,
                "image": sidecar_image
            }],
            "qosClass": "Burstable"
        }
    })
}

/// A `PodList` of `count` pods (`apiVersion`, `kind` and `metadata.resourceVersion` set, as
/// the server sends it), as compact JSON.
pub fn pod_list_json(seed: u64, count: u64, namespace: &str) -> Vec<u8> {
    let items: Vec<Value> = (0..count)
        .map(|i| {
            let mut p = pod(seed, i, namespace);
            if let Some(o) = p.as_object_mut() {
                o.insert("apiVersion".into(), "v1".into());
                o.insert("kind".into(), "Pod".into());
            }
            p
        })
        .collect();
    let list = json!({
        "apiVersion": "v1",
        "kind": "PodList",
        "metadata": {"resourceVersion": (2_000_000 + count).to_string()},
        "items": items,
    });
    // Writing a `Value` cannot fail.
    serde_json::to_vec(&list).unwrap_or_default()
}

/// A watch stream body: `count` lines `{"type":"MODIFIED","object":{…Pod…}}`, each ending in
/// `\n`, as the server streams them. Every 10th event is `ADDED`, every 50th `DELETED`.
pub fn watch_stream_json(seed: u64, count: u64, namespace: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..count {
        let mut p = pod(seed, i % 1000, namespace);
        if let Some(o) = p.as_object_mut() {
            o.insert("apiVersion".into(), "v1".into());
            o.insert("kind".into(), "Pod".into());
        }
        if let Some(rv) = p.pointer_mut("/metadata/resourceVersion") {
            *rv = (3_000_000 + i).to_string().into();
        }
        let ty = match i {
            i if i % 50 == 49 => "DELETED",
            i if i % 10 == 0 => "ADDED",
            _ => "MODIFIED",
        };
        let line = json!({"type": ty, "object": p});
        // Writing a `Value` into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut out, &line);
        out.push(b'\n');
    }
    out
}

/// The lines of a watch stream body (without the newlines).
pub fn lines(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    body.split(|&b| b == b'\n').filter(|l| !l.is_empty())
}

/// The Pod of [`pod`] as a client would create it: no `uid`, `resourceVersion`,
/// `creationTimestamp`, `managedFields` (the server sets them) and no `status` (set through the
/// status subresource). A container's memory request is set to its limit where it has one (a
/// real kube-apiserver refuses a request above the limit with 422; [`pod`] picks both at
/// random). Returns `(pod for create, status)`.
pub fn for_create(mut pod: Value) -> (Value, Value) {
    let containers = pod
        .pointer_mut("/spec/containers")
        .and_then(Value::as_array_mut);
    for c in containers.into_iter().flatten() {
        if let Some(limit) = c.pointer("/resources/limits/memory").cloned()
            && let Some(req) = c.pointer_mut("/resources/requests/memory")
        {
            *req = limit;
        }
    }
    let status = pod
        .as_object_mut()
        .and_then(|o| o.remove("status"))
        .unwrap_or(Value::Null);
    if let Some(meta) = pod.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "managedFields",
            "generateName",
        ] {
            meta.remove(k);
        }
    }
    (pod, status)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn deterministic_and_about_ten_megabytes() {
        let a = pod_list_json(42, 5000, "bench");
        let b = pod_list_json(42, 5000, "bench");
        assert_eq!(a, b, "same seed, same bytes");
        assert_ne!(a, pod_list_json(43, 5000, "bench"), "another seed differs");
        let mb = a.len() as f64 / 1e6;
        assert!((8.0..=13.5).contains(&mb), "PodList is {mb:.2} MB");
    }

    #[test]
    fn created_pods_request_no_more_memory_than_their_limit() {
        let mut raised = 0;
        for i in 0..200 {
            let original = pod(42, i, "x");
            let (created, _) = for_create(original.clone());
            for (c, o) in created["spec"]["containers"]
                .as_array()
                .unwrap()
                .iter()
                .zip(original["spec"]["containers"].as_array().unwrap())
            {
                let res = &c["resources"];
                match res["limits"].get("memory") {
                    Some(limit) => {
                        assert_eq!(&res["requests"]["memory"], limit);
                        raised += usize::from(o["resources"]["requests"]["memory"] != *limit);
                    }
                    None => assert_eq!(res, &o["resources"], "no limit: unchanged"),
                }
            }
        }
        assert!(
            raised > 0,
            "some generated requests differed from their limit"
        );
    }

    #[test]
    fn names_are_unique() {
        let names: std::collections::HashSet<String> = (0..5000)
            .map(|i| {
                pod(42, i, "x")["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(names.len(), 5000);
    }

    #[test]
    fn watch_stream_has_one_event_per_line() {
        let body = watch_stream_json(7, 120, "w");
        let types: Vec<String> = lines(&body)
            .map(|l| {
                serde_json::from_slice::<Value>(l).unwrap()["type"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(types.len(), 120);
        assert_eq!(types[0], "ADDED");
        assert_eq!(types[49], "DELETED");
        assert_eq!(types[1], "MODIFIED");
    }
}
