//! Services (`""/services`): defaults, clusterIP allocation, and the `kubernetes` Service.

use serde_json::{Value, json};

use crate::errors::{self, ApiError};
use crate::store::{KindHooks, State};

/// `""/services`.
pub(crate) struct Services;

impl KindHooks for Services {
    fn defaults(&self, obj: &mut Value) {
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

    /// Allocates a ClusterIP or reports the 422 of a taken one.
    fn allocate(&self, st: &mut State, obj: &mut Value, name: &str) -> Result<(), ApiError> {
        let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
            return Ok(());
        };
        if spec.get("clusterIP").and_then(Value::as_str) == Some("None") {
            spec.insert("clusterIPs".into(), json!(["None"]));
            return Ok(());
        }
        let taken: Vec<String> = st
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
            let n = st.next_cluster_ip;
            st.next_cluster_ip = st.next_cluster_ip.wrapping_add(1) % (1 << 20);
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
}

/// The `default/kubernetes` Service of every cluster.
pub(crate) fn bootstrap(st: &mut State) {
    let svc = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"], "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
                 "type": "ClusterIP", "sessionAffinity": "None", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster"},
        "status": {"loadBalancer": {}}});
    st.system_create("/services", svc);
}
