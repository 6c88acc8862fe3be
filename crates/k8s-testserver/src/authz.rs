//! Authorization: `system:masters`, then RBAC over the stored Roles, ClusterRoles and bindings.
//!
//! Reads the generic [`Storage`] only (never the request-handling `State`), so the store and
//! the kinds that answer access reviews can call it without a module cycle.

use serde_json::{Value, json};

use crate::json::{str_at, strs};
use crate::storage::Storage;

/// Who is asking.
#[derive(Clone, Debug, Default)]
pub(crate) struct UserInfo {
    pub name: String,
    pub uid: Option<String>,
    pub groups: Vec<String>,
    pub extra: Vec<(String, Vec<String>)>,
}

impl UserInfo {
    pub(crate) fn is_master(&self) -> bool {
        self.groups.iter().any(|g| g == "system:masters")
    }
}

/// What is asked.
#[derive(Clone, Debug, Default)]
pub(crate) struct Attrs {
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub sub: Option<String>,
    pub ns: Option<String>,
    pub name: Option<String>,
    /// Non-resource request path.
    pub path: Option<String>,
}

fn rule_allows(rule: &Value, a: &Attrs) -> bool {
    let verbs = strs(rule.get("verbs"));
    if !verbs.iter().any(|v| v == "*" || *v == a.verb) {
        return false;
    }
    if let Some(path) = &a.path {
        return strs(rule.get("nonResourceURLs")).iter().any(|u| {
            u == "*"
                || u == path
                || u.strip_suffix('*')
                    .is_some_and(|prefix| path.starts_with(prefix))
        });
    }
    let groups = strs(rule.get("apiGroups"));
    if !groups.iter().any(|g| g == "*" || *g == a.group) {
        return false;
    }
    let want = match &a.sub {
        Some(s) => format!("{}/{}", a.resource, s),
        None => a.resource.clone(),
    };
    let resources = strs(rule.get("resources"));
    let res_ok = resources.iter().any(|r| {
        r == "*" || *r == want || (a.sub.is_some() && r.strip_prefix("*/") == a.sub.as_deref())
    });
    if !res_ok {
        return false;
    }
    let names = strs(rule.get("resourceNames"));
    names.is_empty() || a.name.as_ref().is_some_and(|n| names.contains(n))
}

fn subject_matches(s: &Value, user: &UserInfo, binding_ns: &str) -> Option<String> {
    let kind = s.get("kind").and_then(Value::as_str)?;
    let name = s.get("name").and_then(Value::as_str)?;
    match kind {
        "User" if user.name == name => Some(format!("User \"{name}\"")),
        "Group" if user.groups.iter().any(|g| g == name) => Some(format!("Group \"{name}\"")),
        "ServiceAccount" => {
            let ns = s
                .get("namespace")
                .and_then(Value::as_str)
                .unwrap_or(binding_ns);
            (user.name == format!("system:serviceaccount:{ns}:{name}"))
                .then(|| format!("ServiceAccount \"{ns}/{name}\""))
        }
        _ => None,
    }
}

const CLUSTER_ROLES: &str = "rbac.authorization.k8s.io/clusterroles";
const ROLES: &str = "rbac.authorization.k8s.io/roles";

/// Rules granted to the user in a namespace (or cluster-wide with `None`), each with the
/// explanation the real authorizer gives.
fn granted_rules(objects: &Storage, user: &UserInfo, ns: Option<&str>) -> Vec<(Value, String)> {
    let mut out = Vec::new();
    for crb in objects.objects_of("rbac.authorization.k8s.io/clusterrolebindings") {
        bound_rules(objects, crb, user, None, &mut out);
    }
    if let Some(ns) = ns.filter(|n| !n.is_empty()) {
        for rb in objects.objects_in("rbac.authorization.k8s.io/rolebindings", ns) {
            bound_rules(objects, rb, user, Some(ns), &mut out);
        }
    }
    out
}

/// The rules a ClusterRoleBinding (`ns` None) or a RoleBinding in `ns` grants the user.
fn bound_rules(
    objects: &Storage,
    binding: &Value,
    user: &UserInfo,
    ns: Option<&str>,
    out: &mut Vec<(Value, String)>,
) {
    let subjects = binding.get("subjects").and_then(Value::as_array);
    let Some(who) = subjects.and_then(|ss| {
        ss.iter()
            .find_map(|s| subject_matches(s, user, ns.unwrap_or("")))
    }) else {
        return;
    };
    let role_name = str_at(binding, "/roleRef/name");
    let binding_name = str_at(binding, "/metadata/name");
    let (role, granted_by) = match ns {
        // A ClusterRoleBinding can only refer to a ClusterRole.
        None => (
            objects.object(CLUSTER_ROLES, "", role_name),
            format!("ClusterRoleBinding \"{binding_name}\" of ClusterRole \"{role_name}\""),
        ),
        Some(ns) => {
            let kind = str_at(binding, "/roleRef/kind");
            let role = if kind == "ClusterRole" {
                objects.object(CLUSTER_ROLES, "", role_name)
            } else {
                objects.object(ROLES, ns, role_name)
            };
            (
                role,
                format!("RoleBinding \"{binding_name}/{ns}\" of {kind} \"{role_name}\""),
            )
        }
    };
    let rules = role
        .and_then(|r| r.get("rules"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for rule in rules {
        out.push((
            rule.clone(),
            format!("RBAC: allowed by {granted_by} to {who}"),
        ));
    }
}

/// `(allowed, reason)`.
pub(crate) fn authorize(objects: &Storage, user: &UserInfo, a: &Attrs) -> (bool, String) {
    if user.is_master() {
        return (true, String::new());
    }
    for (rule, why) in granted_rules(objects, user, a.ns.as_deref()) {
        if rule_allows(&rule, a) {
            return (true, why);
        }
    }
    (false, String::new())
}

/// `status` of a SelfSubjectRulesReview.
pub(crate) fn rules_review(objects: &Storage, user: &UserInfo, ns: &str) -> Value {
    if user.is_master() {
        return json!({
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": false,
        });
    }
    let mut resource_rules = Vec::new();
    let mut non_resource_rules = Vec::new();
    for (rule, _) in granted_rules(objects, user, Some(ns)) {
        if rule.get("nonResourceURLs").is_some() {
            non_resource_rules.push(
                json!({"verbs": rule.get("verbs"), "nonResourceURLs": rule.get("nonResourceURLs")}),
            );
        } else {
            let mut r = json!({"verbs": rule.get("verbs").cloned().unwrap_or(json!([]))});
            for k in ["apiGroups", "resources", "resourceNames"] {
                if let Some(v) = rule.get(k) {
                    r[k] = v.clone();
                }
            }
            resource_rules.push(r);
        }
    }
    json!({"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": false})
}

/// The bootstrap RBAC objects of a fresh cluster (subset): (storage key, object).
pub(crate) fn bootstrap_policy() -> Vec<(&'static str, Value)> {
    let read = json!(["get", "list", "watch"]);
    let write = json!([
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch"
    ]);
    let workload_groups = json!([
        "",
        "apps",
        "batch",
        "policy",
        "autoscaling",
        "networking.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io"
    ]);
    let view_resources = json!([
        "pods",
        "pods/log",
        "pods/status",
        "configmaps",
        "endpoints",
        "events",
        "persistentvolumeclaims",
        "replicationcontrollers",
        "services",
        "serviceaccounts",
        "limitranges",
        "resourcequotas",
        "namespaces",
        "deployments",
        "deployments/scale",
        "deployments/status",
        "replicasets",
        "replicasets/scale",
        "statefulsets",
        "statefulsets/scale",
        "daemonsets",
        "jobs",
        "cronjobs",
        "poddisruptionbudgets",
        "horizontalpodautoscalers",
        "ingresses",
        "networkpolicies",
        "leases",
        "endpointslices",
        "controllerrevisions",
        "bindings"
    ]);
    let mut edit_resources = view_resources.clone();
    if let Value::Array(a) = &mut edit_resources {
        a.extend(
            [
                "secrets",
                "pods/exec",
                "pods/attach",
                "pods/portforward",
                "pods/eviction",
                "serviceaccounts/token",
            ]
            .iter()
            .map(|s| json!(s)),
        );
    }
    let cr = |name: &str, rules: Value| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
               "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
                            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
               "rules": rules})
    };
    let crb = |name: &str, role: &str, groups: &[&str]| {
        let subjects: Vec<Value> = groups
            .iter()
            .map(|g| json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g}))
            .collect();
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
                            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
               "subjects": subjects})
    };
    let roles = CLUSTER_ROLES;
    let bindings = "rbac.authorization.k8s.io/clusterrolebindings";
    vec![
        (
            roles,
            cr(
                "cluster-admin",
                json!([
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
            {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
            ),
        ),
        (
            roles,
            cr(
                "admin",
                json!([
            {"apiGroups": workload_groups, "resources": edit_resources, "verbs": write},
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"], "verbs": write}]),
            ),
        ),
        (
            roles,
            cr(
                "edit",
                json!([{"apiGroups": workload_groups, "resources": edit_resources, "verbs": write}]),
            ),
        ),
        (
            roles,
            cr(
                "view",
                json!([{"apiGroups": workload_groups, "resources": view_resources, "verbs": read}]),
            ),
        ),
        (
            roles,
            cr(
                "system:discovery",
                json!([{"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"], "verbs": ["get"]}]),
            ),
        ),
        (
            roles,
            cr(
                "system:public-info-viewer",
                json!([{"nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"]}]),
            ),
        ),
        (
            roles,
            cr(
                "system:basic-user",
                json!([
            {"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]},
            {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"], "verbs": ["create"]}]),
            ),
        ),
        (
            bindings,
            crb("cluster-admin", "cluster-admin", &["system:masters"]),
        ),
        (
            bindings,
            crb(
                "system:discovery",
                "system:discovery",
                &["system:authenticated"],
            ),
        ),
        (
            bindings,
            crb(
                "system:basic-user",
                "system:basic-user",
                &["system:authenticated"],
            ),
        ),
        (
            bindings,
            crb(
                "system:public-info-viewer",
                "system:public-info-viewer",
                &["system:authenticated", "system:unauthenticated"],
            ),
        ),
    ]
}
