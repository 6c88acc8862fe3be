//! Workloads: Deployments, ReplicaSets, StatefulSets, DaemonSets and Jobs (pod template
//! defaults, a Job's generated selector), and the other kinds that only carry
//! `metadata.generation`.

use serde_json::{Map, Value, json};

use super::pods::default_pod_template;
use crate::json::{meta, meta_mut};
use crate::store::KindHooks;

/// Kinds whose only special behaviour is `metadata.generation` (CronJobs,
/// PodDisruptionBudgets, ReplicationControllers, Ingresses, NetworkPolicies, HPAs).
pub(crate) struct WithGeneration;

impl KindHooks for WithGeneration {
    fn has_generation(&self) -> bool {
        true
    }
}

/// `apps/deployments`.
pub(crate) struct Deployments;

impl KindHooks for Deployments {
    fn has_generation(&self) -> bool {
        true
    }

    fn defaults(&self, obj: &mut Value) {
        workload_defaults(
            obj,
            [
                ("replicas", json!(1)),
                ("revisionHistoryLimit", json!(10)),
                ("progressDeadlineSeconds", json!(600)),
                (
                    "strategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
                ),
            ],
        );
    }
}

/// `apps/replicasets`, `apps/statefulsets`, `apps/daemonsets`: pod template defaults.
pub(crate) struct PodTemplateOwners;

impl KindHooks for PodTemplateOwners {
    fn has_generation(&self) -> bool {
        true
    }

    fn defaults(&self, obj: &mut Value) {
        workload_defaults(obj, []);
    }
}

/// `batch/jobs`.
pub(crate) struct Jobs;

impl KindHooks for Jobs {
    fn has_generation(&self) -> bool {
        true
    }

    fn defaults(&self, obj: &mut Value) {
        workload_defaults(
            obj,
            [
                ("backoffLimit", json!(6)),
                ("completions", json!(1)),
                ("parallelism", json!(1)),
                ("completionMode", json!("NonIndexed")),
                ("suspend", json!(false)),
            ],
        );
    }

    fn identified(&self, obj: &mut Value) {
        job_selector(obj);
    }
}

/// What every workload gets: `spec` fields unless set, pod template defaults, a `status`.
fn workload_defaults<const N: usize>(obj: &mut Value, spec_defaults: [(&str, Value); N]) {
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        for (k, v) in spec_defaults {
            spec.entry(k).or_insert(v);
        }
    }
    if let Some(t) = obj.pointer_mut("/spec/template") {
        default_pod_template(t);
    }
    obj.as_object_mut()
        .map(|o| o.entry("status").or_insert(json!({})));
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
    if let Some(m) = meta_mut(obj) {
        if m.get("labels")
            .and_then(Value::as_object)
            .is_none_or(Map::is_empty)
        {
            m.insert("labels".into(), template_labels);
        }
    }
}
