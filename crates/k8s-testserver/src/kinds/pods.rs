//! Pods (`""/pods`) and bindings (`""/bindings`): defaults, container checks, the spec's
//! immutability, graceful deletion, eviction against PodDisruptionBudgets, and binding.

use k8s_core::StatusDetails;
use serde_json::{Map, Value, json};

use crate::errors::{self, ApiError};
use crate::json::{later, meta, meta_mut, now, str_at};
use crate::registry::ResourceDef;
use crate::store::{KindHooks, R, Req, State, success, with_gvk};
use crate::validate::{self, Cause};

/// `""/pods`.
pub(crate) struct Pods;

impl KindHooks for Pods {
    fn has_generation(&self) -> bool {
        true
    }

    fn create_subresource(&self, st: &mut State, req: &Req, sub: &str) -> Option<R> {
        match sub {
            "eviction" => Some(evict(st, req)),
            "binding" => Some(bind(st, req)),
            _ => None,
        }
    }

    fn validate(&self, _def: &ResourceDef, obj: &mut Value, _w: &mut Vec<String>) -> Vec<Cause> {
        let required =
            |field: String| ("FieldValueRequired".into(), field, "Required value".into());
        let mut causes = Vec::new();
        match obj.pointer("/spec/containers").and_then(Value::as_array) {
            None => causes.push(required("spec.containers".into())),
            Some(cs) if cs.is_empty() => causes.push(required("spec.containers".into())),
            Some(cs) => {
                for (i, c) in cs.iter().enumerate() {
                    for field in ["name", "image"] {
                        if c.get(field)
                            .and_then(Value::as_str)
                            .is_none_or(str::is_empty)
                        {
                            causes.push(required(format!("spec.containers[{i}].{field}")));
                        }
                    }
                }
            }
        }
        causes
    }

    fn validate_update(&self, name: &str, current: &Value, new: &Value) -> Result<(), ApiError> {
        let (a, b) = (
            current.get("spec").cloned().unwrap_or(Value::Null),
            new.get("spec").cloned().unwrap_or(Value::Null),
        );
        match validate::pod_spec_change(&a, &b) {
            None => Ok(()),
            Some(diff) => {
                let msg = format!("{}\n{diff}\n", validate::POD_UPDATE_FORBIDDEN);
                Err(errors::invalid(
                    "Pod",
                    "",
                    name,
                    &[("FieldValueForbidden".into(), "spec".into(), msg)],
                ))
            }
        }
    }

    fn defaults(&self, obj: &mut Value) {
        default_pod(obj);
    }

    /// Graceful termination: a scheduled, running pod without finalizers is marked with a
    /// deletion timestamp in the future, for its kubelet to finish.
    fn delete(
        &self,
        st: &mut State,
        req: &Req,
        current: &Value,
        grace: Option<i64>,
        dry: bool,
    ) -> Option<R> {
        let grace = grace.unwrap_or_else(|| {
            current
                .pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(30)
        });
        let scheduled = !str_at(current, "/spec/nodeName").is_empty();
        let phase = str_at(current, "/status/phase");
        let terminal = phase == "Succeeded" || phase == "Failed";
        let no_finalizers = current
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
        if !(scheduled && grace > 0 && !terminal && no_finalizers) {
            return None;
        }
        let obj_reply = |v: Value| Some(Ok(crate::store::Reply::ok(200, with_gvk(&req.def, v))));
        if current.pointer("/metadata/deletionTimestamp").is_some() {
            return obj_reply(current.clone());
        }
        let mut new = current.clone();
        if let Some(m) = meta_mut(&mut new) {
            m.insert("deletionTimestamp".into(), json!(later(grace)));
            m.insert("deletionGracePeriodSeconds".into(), json!(grace));
            let g = m.get("generation").and_then(Value::as_i64).unwrap_or(1);
            m.insert("generation".into(), json!(g + 1));
        }
        if dry {
            return obj_reply(new);
        }
        let name = meta(current, "name").unwrap_or_default();
        let ns = meta(current, "namespace").unwrap_or_default();
        let stored = st.put(
            &req.def.storage_key(),
            &ns,
            &name,
            new,
            Some(current.clone()),
        );
        obj_reply(stored)
    }

    fn deleted_object(&self, removed: &Value) -> Option<Value> {
        let mut shown = removed.clone();
        if let Some(m) = meta_mut(&mut shown) {
            m.insert("deletionTimestamp".into(), json!(now()));
            m.insert("deletionGracePeriodSeconds".into(), json!(0));
        }
        Some(shown)
    }

    fn removed_when_finalized(&self) -> bool {
        false
    }

    fn table_columns(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "Ready",
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            (
                "Status",
                "The aggregate status of the containers in this pod.",
            ),
            (
                "Restarts",
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
        ]
    }

    fn table_cells(&self, obj: &Value) -> Vec<Value> {
        let total = obj
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let ready = obj
            .pointer("/status/containerStatuses")
            .and_then(Value::as_array)
            .map_or(0, |cs| {
                cs.iter()
                    .filter(|c| c.get("ready") == Some(&json!(true)))
                    .count()
            });
        let status = if obj.pointer("/metadata/deletionTimestamp").is_some() {
            "Terminating"
        } else {
            obj.pointer("/status/phase")
                .and_then(Value::as_str)
                .unwrap_or("Pending")
        };
        vec![json!(format!("{ready}/{total}")), json!(status), json!(0)]
    }
}

/// `""/bindings`: the older form of `pods/binding`.
pub(crate) struct Bindings;

impl KindHooks for Bindings {
    fn create(&self, st: &mut State, req: &Req) -> Option<R> {
        Some(bind(st, req))
    }
}

/// `pods/eviction`: a delete that respects the PodDisruptionBudgets covering a running pod.
fn evict(st: &mut State, req: &Req) -> R {
    let (body, _) = req.decode()?;
    if let Some(n) = meta(&body, "name") {
        if n != req.name() {
            return Err(errors::bad_request(
                "name in URL does not match name in Eviction object",
            ));
        }
    }
    let pod = st.current(req)?;
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending");
    if phase == "Running" {
        for pdb in st.objects_in("policy/poddisruptionbudgets", req.ns()) {
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
            let healthy = st
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
    st.delete_object(req, pod, None, None, req.dry_run())?;
    Ok(success(201))
}

/// `pods/binding` and `bindings`: assigns a pending pod to a node.
fn bind(st: &mut State, req: &Req) -> R {
    let (body, _) = req.decode()?;
    let pod_name = req
        .name
        .clone()
        .or_else(|| meta(&body, "name"))
        .unwrap_or_default();
    let node = str_at(&body, "/target/name").to_string();
    if st.registry.find("", "v1", "pods").is_none() {
        return Err(errors::path_not_found());
    }
    let current = st
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
                str_at(&current, "/spec/nodeName")
            ),
        ));
    }
    let mut new = current.clone();
    new["spec"]["nodeName"] = json!(node);
    if !req.dry_run() {
        st.put("/pods", req.ns(), &pod_name, new, Some(current));
    }
    Ok(success(201))
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

pub(crate) fn default_pod_template(t: &mut Value) {
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
