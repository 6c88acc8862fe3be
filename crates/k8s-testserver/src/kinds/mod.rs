//! What each kind adds to the generic verbs of `crate::store`, one module per kind (or family
//! of kinds), each implementing [`KindHooks`]; [`hooks`] is the table that maps a group and
//! resource to them. To give a kind behaviour: implement the hooks in a module here and
//! register it below; the store's verbs do not change.

mod crds;
mod namespaces;
mod pods;
mod reviews;
mod serviceaccounts;
mod services;
mod workloads;

#[cfg(test)]
mod tests;

use serde_json::json;

use crate::authz;
use crate::json::now;
use crate::store::{Hooks, State};

#[cfg(doc)]
use crate::store::KindHooks;

/// Every kind with behaviour of its own, by group and resource.
pub(crate) fn hooks() -> Hooks {
    use workloads::WithGeneration;
    let mut h = Hooks::new(&crds::CustomResources);
    h.register("", "pods", &pods::Pods)
        .register("", "bindings", &pods::Bindings)
        .register("", "services", &services::Services)
        .register("", "namespaces", &namespaces::Namespaces)
        .register("", "serviceaccounts", &serviceaccounts::ServiceAccounts)
        .register("", "replicationcontrollers", &WithGeneration)
        .register("apps", "deployments", &workloads::Deployments)
        .register("apps", "replicasets", &workloads::PodTemplateOwners)
        .register("apps", "statefulsets", &workloads::PodTemplateOwners)
        .register("apps", "daemonsets", &workloads::PodTemplateOwners)
        .register("batch", "jobs", &workloads::Jobs)
        .register("batch", "cronjobs", &WithGeneration)
        .register("policy", "poddisruptionbudgets", &WithGeneration)
        .register("networking.k8s.io", "ingresses", &WithGeneration)
        .register("networking.k8s.io", "networkpolicies", &WithGeneration)
        .register("autoscaling", "horizontalpodautoscalers", &WithGeneration)
        .register(
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            &crds::Crds,
        )
        .register_group("authorization.k8s.io", &reviews::AccessReviews)
        .register(
            "authentication.k8s.io",
            "selfsubjectreviews",
            &reviews::SelfSubjectReviews,
        )
        .register(
            "authentication.k8s.io",
            "tokenreviews",
            &reviews::TokenReviews,
        );
    h
}

/// The objects of a new cluster: namespaces (with their ServiceAccount and CA ConfigMap), the
/// bootstrap RBAC policy, the `kubernetes` Service and the kube-system ConfigMaps.
pub(crate) fn bootstrap(st: &mut State) {
    namespaces::bootstrap(st);
    for (key, obj) in authz::bootstrap_policy() {
        st.system_create(key, obj);
    }
    services::bootstrap(st);
    let t = now();
    let ca_pem = st.ca_pem.clone();
    st.system_create(
        "/configmaps",
        json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "extension-apiserver-authentication", "namespace": "kube-system"},
        "data": {"client-ca-file": ca_pem, "requestheader-allowed-names": "[]",
                 "requestheader-extra-headers-prefix": "[\"X-Remote-Extra-\"]",
                 "requestheader-group-headers": "[\"X-Remote-Group\"]",
                 "requestheader-username-headers": "[\"X-Remote-User\"]"}}),
    );
    st.system_create("/configmaps", json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "kube-apiserver-legacy-service-account-token-tracking", "namespace": "kube-system"},
        "data": {"since": t.get(..10).unwrap_or("")}}));
}
