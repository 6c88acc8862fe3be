//! The resources the server serves (the static table plus CRDs) and the discovery documents.

use k8s_core::{ResourceInfo, Scope};
use serde_json::{Value, json};

/// One served resource.
#[derive(Clone, Debug)]
pub(crate) struct ResourceDef {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub list_kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub verbs: Vec<String>,
    pub subresources: Vec<(String, String)>,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Set for custom resources (from a CRD).
    pub custom: Option<CustomInfo>,
}

/// Facts of a custom resource version.
#[derive(Clone, Debug)]
pub(crate) struct CustomInfo {
    /// `openAPIV3Schema` of the version, when given.
    pub schema: Option<Value>,
}

impl ResourceDef {
    pub(crate) fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Storage key of the resource (versions share storage).
    pub(crate) fn storage_key(&self) -> String {
        format!("{}/{}", self.group, self.plural)
    }

    pub(crate) fn supports(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }

    pub(crate) fn has_subresource(&self, name: &str) -> bool {
        self.subresources.iter().any(|(n, _)| n == name)
    }

    fn from_info(info: &ResourceInfo) -> ResourceDef {
        let (short_names, categories) = short_names_and_categories(info.group, info.plural);
        ResourceDef {
            group: info.group.to_string(),
            version: info.version.to_string(),
            kind: info.kind.to_string(),
            list_kind: info.list_kind.to_string(),
            plural: info.plural.to_string(),
            singular: info.kind.to_ascii_lowercase(),
            namespaced: info.scope == Scope::Namespaced,
            verbs: info.verbs.iter().map(|v| v.to_string()).collect(),
            subresources: info
                .subresources
                .iter()
                .map(|(n, k)| (n.to_string(), k.to_string()))
                .collect(),
            short_names: short_names.iter().map(|s| s.to_string()).collect(),
            categories: categories.iter().map(|s| s.to_string()).collect(),
            custom: None,
        }
    }
}

/// Kubernetes version priority: (stability, major, minor) with stable > beta > alpha.
fn version_priority(v: &str) -> (u8, u32, u32) {
    let rest = v.strip_prefix('v').unwrap_or(v);
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let major = digits.parse().unwrap_or(0);
    let tail = &rest[digits.len()..];
    let (level, minor) = if tail.is_empty() {
        (3, 0)
    } else if let Some(m) = tail.strip_prefix("beta") {
        (2, m.parse().unwrap_or(0))
    } else if let Some(m) = tail.strip_prefix("alpha") {
        (1, m.parse().unwrap_or(0))
    } else {
        (0, 0)
    };
    (level, major, minor)
}

fn short_names_and_categories(
    group: &str,
    plural: &str,
) -> (&'static [&'static str], &'static [&'static str]) {
    const ALL: &[&str] = &["all"];
    const NONE: &[&str] = &[];
    match (group, plural) {
        ("", "componentstatuses") => (&["cs"], NONE),
        ("", "configmaps") => (&["cm"], NONE),
        ("", "endpoints") => (&["ep"], NONE),
        ("", "events") => (&["ev"], NONE),
        ("", "limitranges") => (&["limits"], NONE),
        ("", "namespaces") => (&["ns"], NONE),
        ("", "nodes") => (&["no"], NONE),
        ("", "persistentvolumeclaims") => (&["pvc"], NONE),
        ("", "persistentvolumes") => (&["pv"], NONE),
        ("", "pods") => (&["po"], ALL),
        ("", "replicationcontrollers") => (&["rc"], ALL),
        ("", "resourcequotas") => (&["quota"], NONE),
        ("", "serviceaccounts") => (&["sa"], NONE),
        ("", "services") => (&["svc"], ALL),
        ("apps", "daemonsets") => (&["ds"], ALL),
        ("apps", "deployments") => (&["deploy"], ALL),
        ("apps", "replicasets") => (&["rs"], ALL),
        ("apps", "statefulsets") => (&["sts"], ALL),
        ("batch", "cronjobs") => (&["cj"], ALL),
        ("batch", "jobs") => (NONE, ALL),
        ("policy", "poddisruptionbudgets") => (&["pdb"], NONE),
        ("networking.k8s.io", "ingresses") => (&["ing"], NONE),
        ("networking.k8s.io", "networkpolicies") => (&["netpol"], NONE),
        ("storage.k8s.io", "storageclasses") => (&["sc"], NONE),
        ("autoscaling", "horizontalpodautoscalers") => (&["hpa"], ALL),
        ("scheduling.k8s.io", "priorityclasses") => (&["pc"], NONE),
        ("certificates.k8s.io", "certificatesigningrequests") => (&["csr"], NONE),
        ("events.k8s.io", "events") => (&["ev"], NONE),
        ("apiregistration.k8s.io", "apiservices") => (NONE, &["api-extensions"]),
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations")
        | ("admissionregistration.k8s.io", "validatingwebhookconfigurations")
        | ("admissionregistration.k8s.io", "validatingadmissionpolicies")
        | ("admissionregistration.k8s.io", "validatingadmissionpolicybindings")
        | ("admissionregistration.k8s.io", "mutatingadmissionpolicies")
        | ("admissionregistration.k8s.io", "mutatingadmissionpolicybindings") => {
            (NONE, &["api-extensions"])
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            (&["crd", "crds"], &["api-extensions"])
        }
        _ => (NONE, NONE),
    }
}

/// Verbs of a subresource endpoint, as discovery lists them.
fn subresource_verbs(name: &str) -> &'static [&'static str] {
    match name {
        "status" | "scale" | "ephemeralcontainers" | "resize" => &["get", "patch", "update"],
        "log" => &["get"],
        "eviction" | "binding" | "token" => &["create"],
        "finalize" => &["update"],
        "exec" | "attach" | "portforward" => &["create", "get"],
        "proxy" => &["create", "delete", "get", "patch", "update"],
        _ => &["get"],
    }
}

/// Group and version of a subresource's kind when it differs from the parent's.
fn subresource_gv(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "scale" => Some(("autoscaling", "v1")),
        "eviction" => Some(("policy", "v1")),
        "token" => Some(("authentication.k8s.io", "v1")),
        _ => None,
    }
}

/// All served resources.
#[derive(Clone, Debug, Default)]
pub(crate) struct Registry {
    pub defs: Vec<ResourceDef>,
}

impl Registry {
    pub(crate) fn new(table: &[ResourceInfo]) -> Registry {
        Registry {
            defs: table.iter().map(ResourceDef::from_info).collect(),
        }
    }

    pub(crate) fn find(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceDef> {
        self.defs
            .iter()
            .find(|d| d.group == group && d.version == version && d.plural == plural)
    }

    pub(crate) fn has_group_version(&self, group: &str, version: &str) -> bool {
        self.defs
            .iter()
            .any(|d| d.group == group && d.version == version)
    }

    /// Groups (non-core) in order of first appearance, each with its versions.
    pub(crate) fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for d in &self.defs {
            if d.group.is_empty() {
                continue;
            }
            match out.iter_mut().find(|(g, _)| *g == d.group) {
                Some((_, vs)) => {
                    if !vs.contains(&d.version) {
                        vs.push(d.version.clone());
                    }
                }
                None => out.push((d.group.clone(), vec![d.version.clone()])),
            }
        }
        // Newest first, as the server orders them (its preferred version first): stable before
        // beta before alpha, then by number (`v2` before `v1`, `v1beta2` before `v1beta1`).
        for (_, vs) in &mut out {
            vs.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        }
        out
    }

    pub(crate) fn remove_custom(&mut self, group: &str, plural: &str) {
        self.defs
            .retain(|d| !(d.custom.is_some() && d.group == group && d.plural == plural));
    }

    // ---- discovery documents ----

    pub(crate) fn api_versions(&self, server_address: &str) -> Value {
        json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
        })
    }

    fn group_json(name: &str, versions: &[String]) -> Value {
        let vs: Vec<Value> = versions
            .iter()
            .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
            .collect();
        let preferred = vs.first().cloned().unwrap_or(Value::Null);
        json!({"name": name, "versions": vs, "preferredVersion": preferred})
    }

    pub(crate) fn api_group_list(&self) -> Value {
        let groups: Vec<Value> = self
            .groups()
            .iter()
            .map(|(g, vs)| Self::group_json(g, vs))
            .collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    pub(crate) fn api_group(&self, group: &str) -> Option<Value> {
        let groups = self.groups();
        let (g, vs) = groups.iter().find(|(g, _)| g == group)?;
        let mut v = Self::group_json(g, vs);
        if let Value::Object(m) = &mut v {
            m.insert("kind".into(), json!("APIGroup"));
            m.insert("apiVersion".into(), json!("v1"));
        }
        Some(v)
    }

    pub(crate) fn api_resource_list(&self, group: &str, version: &str) -> Option<Value> {
        if !self.has_group_version(group, version) {
            return None;
        }
        let mut resources: Vec<Value> = Vec::new();
        for d in self
            .defs
            .iter()
            .filter(|d| d.group == group && d.version == version)
        {
            let mut r = json!({
                "name": d.plural,
                "singularName": d.singular,
                "namespaced": d.namespaced,
                "kind": d.kind,
                "verbs": d.verbs,
            });
            if !d.short_names.is_empty() {
                r["shortNames"] = json!(d.short_names);
            }
            if !d.categories.is_empty() {
                r["categories"] = json!(d.categories);
            }
            resources.push(r);
            for (sub, kind) in &d.subresources {
                let mut s = json!({
                    "name": format!("{}/{}", d.plural, sub),
                    "singularName": "",
                    "namespaced": d.namespaced,
                    "kind": if kind.is_empty() { d.kind.as_str() } else { kind.as_str() },
                    "verbs": subresource_verbs(sub),
                });
                if let Some((g, v)) = subresource_gv(sub) {
                    s["group"] = json!(g);
                    s["version"] = json!(v);
                }
                resources.push(s);
            }
        }
        resources.sort_by(|a, b| {
            a["name"]
                .as_str()
                .unwrap_or("")
                .cmp(b["name"].as_str().unwrap_or(""))
        });
        let mut doc = json!({
            "kind": "APIResourceList",
            "groupVersion": if group.is_empty() { version.to_string() } else { format!("{group}/{version}") },
            "resources": resources,
        });
        if !group.is_empty() {
            doc["apiVersion"] = json!("v1");
        }
        Some(doc)
    }

    fn discovery_version(&self, group: &str, version: &str) -> Value {
        let mut resources: Vec<Value> = Vec::new();
        for d in self
            .defs
            .iter()
            .filter(|d| d.group == group && d.version == version)
        {
            let mut r = json!({
                "resource": d.plural,
                "responseKind": {"group": "", "version": "", "kind": d.kind},
                "scope": if d.namespaced { "Namespaced" } else { "Cluster" },
                "singularResource": d.singular,
                "verbs": d.verbs,
            });
            if !d.short_names.is_empty() {
                r["shortNames"] = json!(d.short_names);
            }
            if !d.categories.is_empty() {
                r["categories"] = json!(d.categories);
            }
            if !d.subresources.is_empty() {
                let subs: Vec<Value> = d
                    .subresources
                    .iter()
                    .map(|(sub, kind)| {
                        let (g, v) = subresource_gv(sub).unwrap_or(("", ""));
                        json!({
                            "subresource": sub,
                            "responseKind": {"group": g, "version": v, "kind": if kind.is_empty() { d.kind.as_str() } else { kind.as_str() }},
                            "verbs": subresource_verbs(sub),
                        })
                    })
                    .collect();
                r["subresources"] = json!(subs);
            }
            resources.push(r);
        }
        resources.sort_by(|a, b| {
            a["resource"]
                .as_str()
                .unwrap_or("")
                .cmp(b["resource"].as_str().unwrap_or(""))
        });
        json!({"version": version, "resources": resources, "freshness": "Current"})
    }

    /// Aggregated discovery (`apidiscovery.k8s.io/v2`) of `/api` (core) or `/apis`.
    pub(crate) fn aggregated(&self, core: bool) -> Value {
        let items: Vec<Value> = if core {
            vec![json!({"metadata": {}, "versions": [self.discovery_version("", "v1")]})]
        } else {
            self.groups()
                .iter()
                .map(|(g, vs)| {
                    let versions: Vec<Value> =
                        vs.iter().map(|v| self.discovery_version(g, v)).collect();
                    json!({"metadata": {"name": g}, "versions": versions})
                })
                .collect()
        };
        json!({
            "kind": "APIGroupDiscoveryList",
            "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {},
            "items": items,
        })
    }

    /// The list of paths served at `/`.
    pub(crate) fn root_paths(&self, with_openapi: bool) -> Value {
        let mut paths = vec![
            "/api".to_string(),
            "/api/v1".to_string(),
            "/apis".to_string(),
            "/apis/".to_string(),
        ];
        for (g, vs) in self.groups() {
            paths.push(format!("/apis/{g}"));
            for v in vs {
                paths.push(format!("/apis/{g}/{v}"));
            }
        }
        paths.extend(
            ["/healthz", "/livez", "/readyz", "/version"]
                .iter()
                .map(|s| s.to_string()),
        );
        if with_openapi {
            paths.push("/openapi/v2".into());
            paths.push("/openapi/v3".into());
        }
        paths.sort();
        json!({ "paths": paths })
    }
}
