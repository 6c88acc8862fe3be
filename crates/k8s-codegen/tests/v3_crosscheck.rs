//! Cross-check of the two loaders: for every version whose spec has both `swagger.json` and the
//! OpenAPI v3 documents, the v2 and v3 models must agree on definitions, fields, JSON names,
//! required flags, field types and operations, except for the differences listed in [`EXPECTED`].
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use k8s_codegen::ir::{ApiModel, DefKind, Operation, Type};
use k8s_codegen::model_text::type_str;
use k8s_codegen::{load_v2, load_v3};

const VERSIONS: [&str; 7] = [
    "1.28.4", "1.32.0", "1.33.1", "1.34.0", "1.35.0", "1.36.0", "1.37.2",
];

fn spec_dir() -> Option<PathBuf> {
    let d = std::env::var_os("K8S_SPEC_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/spec"),
        PathBuf::from,
    );
    d.join("v1.36.0/swagger.json").exists().then_some(d)
}

/// One difference between the v2 and the v3 model.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Diff {
    /// What differs (see [`EXPECTED`]).
    kind: &'static str,
    /// Definition (`name` or `name.field`) or operation (`METHOD path` [`param`]).
    subject: String,
    /// v2 value vs v3 value.
    detail: String,
}

/// An expected difference: the kind, the subject and the detail (each a pattern where `*`
/// matches anything), the versions it applies to (empty: all) and the reason.
struct Expected {
    kind: &'static str,
    subject: &'static str,
    detail: &'static str,
    versions: &'static [&'static str],
    reason: &'static str,
}

/// Versions whose `v3/` directory holds only the per-group-version documents (no discovery,
/// version, logs or OpenID documents).
const GROUP_DOCS_ONLY: &[&str] = &["1.28.4", "1.32.0", "1.33.1", "1.34.0", "1.35.0"];

/// Every difference the data shows between the two forms, with the reason.
const EXPECTED: &[Expected] = &[
    Expected {
        kind: "definition kind",
        subject: "io.k8s.apimachinery.pkg.api.resource.Quantity",
        detail: "scalar string vs scalar any",
        versions: &[],
        reason: "v2 says string; v3 says oneOf string|number (the server accepts JSON numbers), \
                 which the IR has no scalar for; the fixups map both to the Quantity special type",
    },
    Expected {
        kind: "consumes",
        subject: "*",
        detail: "* vs []",
        versions: &[],
        reason: "v2 lists request media types on every operation, even without a body; in v3 they \
                 are the keys of requestBody.content, so operations without a body have none",
    },
    Expected {
        kind: "parameter required",
        subject: "*[Body body]",
        detail: "true vs false",
        versions: &["1.28.4"],
        reason: "the 1.28 v3 documents never set requestBody.required; from 1.32 they do",
    },
    Expected {
        kind: "operation only in v2",
        subject: "GET /apis/*/",
        detail: "*APIGroup",
        versions: GROUP_DOCS_ONLY,
        reason: "group discovery endpoints live in apis__<group>_openapi.json, which only the 1.36 \
                 directory has",
    },
    Expected {
        kind: "operation only in v2",
        subject: "GET /api/",
        detail: "getCoreAPIVersions",
        versions: GROUP_DOCS_ONLY,
        reason: "discovery endpoint: api_openapi.json is only in the 1.36 directory",
    },
    Expected {
        kind: "operation only in v2",
        subject: "GET /apis/",
        detail: "getAPIVersions",
        versions: GROUP_DOCS_ONLY,
        reason: "discovery endpoint: apis_openapi.json is only in the 1.36 directory",
    },
    Expected {
        kind: "operation only in v2",
        subject: "GET /version/",
        detail: "getCodeVersion",
        versions: GROUP_DOCS_ONLY,
        reason: "version_openapi.json is only in the 1.36 directory",
    },
    Expected {
        kind: "operation only in v2",
        subject: "GET /logs/*",
        detail: "*",
        versions: GROUP_DOCS_ONLY,
        reason: "logs_openapi.json is only in the 1.36 directory",
    },
    Expected {
        kind: "operation only in v2",
        subject: "GET /openid/v1/jwks/",
        detail: "getServiceAccountIssuerOpenIDKeyset",
        versions: GROUP_DOCS_ONLY,
        reason: "openid__v1__jwks_openapi.json is only in the 1.36 directory",
    },
    Expected {
        kind: "operation only in v2",
        subject: "GET /.well-known/openid-configuration/",
        detail: "getServiceAccountIssuerOpenIDConfiguration",
        versions: &[],
        reason: "no v3 document is published for the OpenID discovery path, in any version",
    },
    Expected {
        kind: "definition gvk",
        subject: "io.k8s.apimachinery.pkg.apis.meta.v1.*",
        detail: "missing in v3: *; extra in v3: []",
        versions: &["1.36.0", "1.37.2"],
        reason: "DeleteOptions and WatchEvent are registered in every group; each 1.36+ document \
                 lists only its own group's versions, so the union lacks groups that have no \
                 document (admission.k8s.io, imagepolicy.k8s.io, extensions, unserved betas)",
    },
    Expected {
        kind: "definition only in v2",
        subject: "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup*",
        detail: "",
        versions: GROUP_DOCS_ONLY,
        reason: "discovery types (APIGroup, APIGroupList) are only used by the discovery documents",
    },
    Expected {
        kind: "definition only in v2",
        subject: "io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions",
        detail: "",
        versions: GROUP_DOCS_ONLY,
        reason: "discovery type, only used by the discovery documents",
    },
    Expected {
        kind: "definition only in v2",
        subject: "io.k8s.apimachinery.pkg.apis.meta.v1.GroupVersionForDiscovery",
        detail: "",
        versions: GROUP_DOCS_ONLY,
        reason: "discovery type, only used by the discovery documents",
    },
    Expected {
        kind: "definition only in v2",
        subject: "io.k8s.apimachinery.pkg.apis.meta.v1.ServerAddressByClientCIDR",
        detail: "",
        versions: GROUP_DOCS_ONLY,
        reason: "discovery type, only used by the discovery documents",
    },
    Expected {
        kind: "definition only in v2",
        subject: "io.k8s.apimachinery.pkg.version.Info",
        detail: "",
        versions: GROUP_DOCS_ONLY,
        reason: "only used by /version/, whose document is only in the 1.36 directory",
    },
];

impl Expected {
    fn matches(&self, version: &str, d: &Diff) -> bool {
        /// `*` matches any run of characters.
        fn glob(pat: &str, s: &str) -> bool {
            let mut parts = pat.split('*');
            let first = parts.next().unwrap_or_default();
            let Some(mut rest) = s.strip_prefix(first) else {
                return false;
            };
            let parts: Vec<&str> = parts.collect();
            let Some((last, middle)) = parts.split_last() else {
                return rest.is_empty();
            };
            for m in middle {
                match rest.find(m) {
                    Some(i) => rest = &rest[i + m.len()..],
                    None => return false,
                }
            }
            rest.len() >= last.len() && rest.ends_with(last)
        }
        (self.versions.is_empty() || self.versions.contains(&version))
            && self.kind == d.kind
            && glob(self.subject, &d.subject)
            && glob(self.detail, &d.detail)
    }
}

fn ty(t: &Type) -> String {
    type_str(t)
}

fn opt_ty(t: Option<&Type>) -> String {
    t.map_or_else(|| "-".to_owned(), ty)
}

fn kind_str(k: &DefKind) -> String {
    match k {
        DefKind::Struct(_) => "struct".into(),
        DefKind::Opaque => "opaque".into(),
        DefKind::Scalar(t) => format!("scalar {}", ty(t)),
        DefKind::Special(s) => format!("special {s:?}"),
        DefKind::Skipped(r) => format!("skipped {r}"),
    }
}

fn compare(v2: &ApiModel, v3: &ApiModel) -> Vec<Diff> {
    let mut out = Vec::new();
    let mut push = |kind: &'static str, subject: String, detail: String| {
        out.push(Diff {
            kind,
            subject,
            detail,
        });
    };
    for name in v2
        .defs
        .keys()
        .chain(v3.defs.keys())
        .collect::<BTreeSet<_>>()
    {
        let (d2, d3) = match (v2.defs.get(name), v3.defs.get(name)) {
            (Some(a), Some(b)) => (a, b),
            (Some(_), None) => {
                push("definition only in v2", name.clone(), String::new());
                continue;
            }
            (None, _) => {
                push("definition only in v3", name.clone(), String::new());
                continue;
            }
        };
        let g2: BTreeSet<_> = d2.gvk.iter().map(|g| g.to_model_string()).collect();
        let g3: BTreeSet<_> = d3.gvk.iter().map(|g| g.to_model_string()).collect();
        if g2 != g3 {
            push(
                "definition gvk",
                name.clone(),
                format!(
                    "missing in v3: {:?}; extra in v3: {:?}",
                    g2.difference(&g3).collect::<Vec<_>>(),
                    g3.difference(&g2).collect::<Vec<_>>()
                ),
            );
        }
        if d2.ext != d3.ext {
            push(
                "definition x-kubernetes",
                name.clone(),
                format!("{:?} vs {:?}", d2.ext, d3.ext),
            );
        }
        let (DefKind::Struct(f2), DefKind::Struct(f3)) = (&d2.kind, &d3.kind) else {
            if d2.kind != d3.kind {
                push(
                    "definition kind",
                    name.clone(),
                    format!("{} vs {}", kind_str(&d2.kind), kind_str(&d3.kind)),
                );
            }
            continue;
        };
        let f2: BTreeMap<_, _> = f2.iter().map(|f| (&f.json_name, f)).collect();
        let f3: BTreeMap<_, _> = f3.iter().map(|f| (&f.json_name, f)).collect();
        for fname in f2.keys().chain(f3.keys()).collect::<BTreeSet<_>>() {
            let subject = format!("{name}.{fname}");
            let (a, b) = match (f2.get(fname), f3.get(fname)) {
                (Some(a), Some(b)) => (a, b),
                (Some(_), None) => {
                    push("field only in v2", subject, String::new());
                    continue;
                }
                (None, _) => {
                    push("field only in v3", subject, String::new());
                    continue;
                }
            };
            if a.ty != b.ty {
                push(
                    "field type",
                    subject.clone(),
                    format!("{} vs {}", ty(&a.ty), ty(&b.ty)),
                );
            }
            if a.required != b.required {
                push(
                    "field required",
                    subject.clone(),
                    format!("{} vs {}", a.required, b.required),
                );
            }
            if a.ext != b.ext {
                push(
                    "field x-kubernetes",
                    subject.clone(),
                    format!("{:?} vs {:?}", a.ext, b.ext),
                );
            }
            if a.default.is_some() && a.default != b.default {
                push(
                    "field default",
                    subject,
                    format!("{:?} vs {:?}", a.default, b.default),
                );
            }
        }
    }
    let ops = |m: &ApiModel| -> BTreeMap<(String, String), Operation> {
        m.ops
            .iter()
            .map(|o| ((o.path.clone(), o.method.clone()), o.clone()))
            .collect()
    };
    let (o2, o3) = (ops(v2), ops(v3));
    for key in o2.keys().chain(o3.keys()).collect::<BTreeSet<_>>() {
        let subject = format!("{} {}", key.1, key.0);
        let (a, b) = match (o2.get(key), o3.get(key)) {
            (Some(a), Some(b)) => (a, b),
            (Some(a), None) => {
                push("operation only in v2", subject, a.id.clone());
                continue;
            }
            (None, Some(b)) => {
                push("operation only in v3", subject, b.id.clone());
                continue;
            }
            (None, None) => continue,
        };
        if a.id != b.id {
            push(
                "operation id",
                subject.clone(),
                format!("{} vs {}", a.id, b.id),
            );
        }
        if a.action != b.action || a.gvk != b.gvk {
            push(
                "operation action/gvk",
                subject.clone(),
                format!("{:?} {:?} vs {:?} {:?}", a.action, a.gvk, b.action, b.gvk),
            );
        }
        let p2: BTreeMap<_, _> = a
            .params
            .iter()
            .map(|p| ((p.location, &p.name), p))
            .collect();
        let p3: BTreeMap<_, _> = b
            .params
            .iter()
            .map(|p| ((p.location, &p.name), p))
            .collect();
        for pk in p2.keys().chain(p3.keys()).collect::<BTreeSet<_>>() {
            let ps = format!("{subject} [{:?} {}]", pk.0, pk.1);
            match (p2.get(pk), p3.get(pk)) {
                (Some(x), Some(y)) => {
                    if x.ty != y.ty {
                        push(
                            "parameter type",
                            ps.clone(),
                            format!("{} vs {}", ty(&x.ty), ty(&y.ty)),
                        );
                    }
                    if x.required != y.required {
                        push(
                            "parameter required",
                            ps,
                            format!("{} vs {}", x.required, y.required),
                        );
                    }
                }
                (Some(_), None) => push("parameter only in v2", ps, String::new()),
                (None, _) => push("parameter only in v3", ps, String::new()),
            }
        }
        let r2: BTreeMap<_, _> = a.responses.iter().map(|(c, t)| (*c, t.as_ref())).collect();
        let r3: BTreeMap<_, _> = b.responses.iter().map(|(c, t)| (*c, t.as_ref())).collect();
        if r2 != r3 {
            let fmt = |r: &BTreeMap<u16, Option<&Type>>| {
                r.iter()
                    .map(|(c, t)| format!("{c}:{}", opt_ty(*t)))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            push(
                "responses",
                subject.clone(),
                format!("{} vs {}", fmt(&r2), fmt(&r3)),
            );
        }
        let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<_>>();
        if set(&a.consumes) != set(&b.consumes) {
            push(
                "consumes",
                subject.clone(),
                format!("{:?} vs {:?}", a.consumes, b.consumes),
            );
        }
        if set(&a.produces) != set(&b.produces) {
            push(
                "produces",
                subject,
                format!("{:?} vs {:?}", a.produces, b.produces),
            );
        }
    }
    out
}

fn load_both(dir: &Path, v: &str) -> Option<(ApiModel, load_v3::V3Load)> {
    let mut vdir = dir.join(format!("v{v}"));
    if !vdir.is_dir() {
        // A built version (1.37.2) is not in the shared copy: the workspace cache, once
        // `cargo xtask spec fetch --version <v>` produced it.
        vdir = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../spec/v{v}"));
    }
    if !vdir.join("v3").is_dir() {
        return None;
    }
    let v2 = load_v2::load_file(&vdir.join("swagger.json"), v).unwrap();
    let v3 = load_v3::load_dir_report(&vdir.join("v3"), v).unwrap();
    Some((v2, v3))
}

#[test]
fn v2_and_v3_models_agree_except_for_listed_differences() {
    let Some(dir) = spec_dir() else {
        eprintln!("no spec files (set K8S_SPEC_DIR); skipped");
        return;
    };
    let mut unexpected = String::new();
    let mut used = vec![0usize; EXPECTED.len()];
    let mut summary = String::new();
    let mut checked = 0;
    for v in VERSIONS {
        let Some((v2, v3)) = load_both(&dir, v) else {
            eprintln!("v{v}: no v3 documents; skipped");
            continue;
        };
        checked += 1;
        for c in &v3.conflicts {
            let _ = writeln!(unexpected, "v{v}: conflict between documents: {c:?}");
        }
        let diffs = compare(&v2, &v3.model);
        let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
        for d in &diffs {
            *by_kind.entry(d.kind).or_default() += 1;
            match EXPECTED.iter().position(|e| e.matches(v, d)) {
                Some(i) => used[i] += 1,
                None => {
                    let _ = writeln!(unexpected, "v{v}: {}: {} {}", d.kind, d.subject, d.detail);
                }
            }
        }
        let fields = |m: &ApiModel| {
            m.defs
                .values()
                .map(|d| match &d.kind {
                    DefKind::Struct(f) => f.len(),
                    _ => 0,
                })
                .sum::<usize>()
        };
        let defaults = |m: &ApiModel| {
            m.defs
                .values()
                .map(|d| match &d.kind {
                    DefKind::Struct(f) => f.iter().filter(|f| f.default.is_some()).count(),
                    _ => 0,
                })
                .sum::<usize>()
        };
        let _ = writeln!(
            summary,
            "v{v}: {} v3 documents; definitions v2 {} / v3 {}; fields v2 {} / v3 {}; operations v2 {} / v3 {}; defaults v2 {} / v3 {}; differences {} ({:?})",
            v3.documents,
            v2.defs.len(),
            v3.model.defs.len(),
            fields(&v2),
            fields(&v3.model),
            v2.ops.len(),
            v3.model.ops.len(),
            defaults(&v2),
            defaults(&v3.model),
            diffs.len(),
            by_kind,
        );
    }
    eprintln!("{summary}");
    for (e, n) in EXPECTED.iter().zip(&used) {
        eprintln!(
            "expected {:>5}x  {}: {} {}  ({})",
            n, e.kind, e.subject, e.detail, e.reason
        );
        if *n == 0 {
            let _ = writeln!(
                unexpected,
                "expected difference never seen (stale table entry): {}: {} {}",
                e.kind, e.subject, e.detail
            );
        }
    }
    assert!(
        checked > 0,
        "no version has both swagger.json and v3 documents"
    );
    assert!(
        unexpected.is_empty(),
        "unexpected differences:\n{unexpected}"
    );
}

/// The v2 model with what [`load_v3::merge_into`] may change (defaults, descriptions) removed.
fn without_merged_facts(m: &ApiModel) -> ApiModel {
    let mut m = m.clone();
    for d in m.defs.values_mut() {
        d.description = None;
        if let DefKind::Struct(fields) = &mut d.kind {
            for f in fields {
                f.default = None;
                f.description = None;
            }
        }
    }
    m
}

#[test]
fn merge_into_adds_v3_defaults_and_changes_no_types() {
    let Some(dir) = spec_dir() else {
        eprintln!("no spec files (set K8S_SPEC_DIR); skipped");
        return;
    };
    for v in VERSIONS {
        let Some((v2, v3)) = load_both(&dir, v) else {
            continue;
        };
        let mut merged = v2.clone();
        let stats = load_v3::merge_report(&mut merged, &v3.model);
        let field = |m: &ApiModel, def: &str, name: &str| {
            let DefKind::Struct(fields) = &m.defs[def].kind else {
                panic!("{def} is not a struct");
            };
            fields.iter().find(|f| f.json_name == name).unwrap().clone()
        };
        let port = "io.k8s.api.core.v1.ContainerPort";
        assert_eq!(
            field(&v2, port, "protocol").default,
            None,
            "v{v}: v2 has no default"
        );
        assert_eq!(
            field(&merged, port, "protocol").default.as_deref(),
            Some("\"TCP\""),
            "v{v}"
        );
        assert_eq!(
            field(&merged, port, "containerPort").default.as_deref(),
            Some("0")
        );
        assert_eq!(
            field(&merged, "io.k8s.api.core.v1.Container", "resources")
                .default
                .as_deref(),
            Some("{}"),
            "v{v}: default beside an allOf-wrapped $ref"
        );
        // Every default v3 has for a field both have is now in the merged model, verbatim.
        let mut expected = 0;
        for (name, d3) in &v3.model.defs {
            let (Some(d2), DefKind::Struct(f3)) = (merged.defs.get(name), &d3.kind) else {
                continue;
            };
            let DefKind::Struct(f2) = &d2.kind else {
                continue;
            };
            for f in f3.iter().filter(|f| f.default.is_some()) {
                if let Some(g) = f2.iter().find(|g| g.json_name == f.json_name) {
                    assert_eq!(g.default, f.default, "v{v}: {name}.{}", f.json_name);
                    expected += 1;
                }
            }
        }
        assert_eq!(stats.defaults, expected, "v{v}: v2 had no defaults before");
        assert!(
            stats.defaults > 600,
            "v{v}: only {} defaults",
            stats.defaults
        );
        assert_eq!(
            without_merged_facts(&merged),
            without_merged_facts(&v2),
            "v{v}: merge_into changed more than defaults and descriptions"
        );
        eprintln!(
            "v{v}: merge_into added {} defaults, {} descriptions",
            stats.defaults, stats.descriptions
        );
    }
}

/// Writes `docs` (file name, JSON text) into a fresh temporary `v3/` directory.
fn v3_dir(docs: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in docs {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

const SMALL_DOC: &str = r##"{
  "openapi": "3.0.0",
  "info": {"title": "Kubernetes", "version": "v1.0.0"},
  "paths": {
    "/apis/demo/v1/namespaces/{namespace}/widgets": {
      "parameters": [
        {"name": "namespace", "in": "path", "required": true, "schema": {"type": "string", "uniqueItems": true}},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "uniqueItems": true}}
      ],
      "post": {
        "operationId": "createDemoV1NamespacedWidget",
        "x-kubernetes-action": "post",
        "x-kubernetes-group-version-kind": {"group": "demo", "version": "v1", "kind": "Widget"},
        "requestBody": {"required": true, "content": {"*/*": {"schema": {"$ref": "#/components/schemas/demo.v1.Widget"}}}},
        "responses": {
          "201": {"description": "Created", "content": {
            "application/yaml": {"schema": {"$ref": "#/components/schemas/demo.v1.Widget"}},
            "application/json": {"schema": {"$ref": "#/components/schemas/demo.v1.Widget"}}}},
          "401": {"description": "Unauthorized"}
        }
      }
    }
  },
  "components": {"schemas": {
    "demo.v1.Widget": {
      "type": "object",
      "required": ["size"],
      "x-kubernetes-group-version-kind": [{"group": "demo", "version": "v1", "kind": "Widget"}],
      "properties": {
        "spec": {"allOf": [{"$ref": "#/components/schemas/demo.v1.Spec"}], "default": {}, "description": "the spec", "x-kubernetes-map-type": "atomic"},
        "size": {"$ref": "#/components/schemas/demo.v1.Quantity"},
        "port": {"allOf": [{"$ref": "#/components/schemas/demo.v1.IntOrString"}]},
        "inline": {"x-kubernetes-int-or-string": true},
        "either": {"anyOf": [{"type": "integer", "format": "int32"}, {"type": "string"}]},
        "labels": {"type": "object", "additionalProperties": {"type": "string", "default": ""}},
        "data": {"type": "string", "format": "byte", "nullable": true},
        "protocol": {"type": "string", "default": "TCP", "enum": ["TCP", "UDP"]}
      }
    },
    "demo.v1.Spec": {"type": "object", "properties": {"replicas": {"type": "integer", "format": "int32", "default": 1}}},
    "demo.v1.Quantity": {"oneOf": [{"type": "string"}, {"type": "number"}]},
    "demo.v1.IntOrString": {"format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]},
    "demo.v1.Raw": {"type": "object"}
  }}
}"##;

#[test]
fn v3_forms_are_normalised() {
    use k8s_codegen::ir::{Gvk, ParamIn};
    // A second document repeats a schema with a different group-version-kind list: merged.
    let other = SMALL_DOC.replace("\"paths\": {", "\"paths\": {}, \"unused\": {");
    let other = other.replace(
        r#"[{"group": "demo", "version": "v1", "kind": "Widget"}]"#,
        r#"[{"group": "demo", "version": "v2", "kind": "Widget"}]"#,
    );
    let dir = v3_dir(&[
        ("a.json", SMALL_DOC),
        ("b.json", &other),
        ("notes.txt", "ignored"),
    ]);
    let load = load_v3::load_dir_report(dir.path(), "0.0.1").unwrap();
    assert_eq!(load.documents, 2);
    assert!(load.conflicts.is_empty(), "{:?}", load.conflicts);
    let m = load.model;
    let w = &m.defs["demo.v1.Widget"];
    assert_eq!(
        w.gvk,
        [("v1"), ("v2")].map(|v| Gvk {
            group: "demo".into(),
            version: v.into(),
            kind: "Widget".into()
        })
    );
    let DefKind::Struct(fields) = &w.kind else {
        panic!("not a struct")
    };
    let f = |n: &str| fields.iter().find(|f| f.json_name == n).unwrap();
    let names: Vec<_> = fields.iter().map(|f| f.json_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "data", "either", "inline", "labels", "port", "protocol", "size", "spec"
        ]
    );
    assert_eq!(f("spec").ty, Type::Ref("demo.v1.Spec".into()));
    assert_eq!(f("spec").default.as_deref(), Some("{}"));
    assert_eq!(f("spec").description.as_deref(), Some("the spec"));
    assert_eq!(f("spec").ext["x-kubernetes-map-type"], "\"atomic\"");
    assert_eq!(f("size").ty, Type::Ref("demo.v1.Quantity".into()));
    assert!(f("size").required && !f("spec").required);
    assert_eq!(f("port").ty, Type::Ref("demo.v1.IntOrString".into()));
    assert_eq!(f("inline").ty, Type::IntOrString);
    assert_eq!(f("either").ty, Type::IntOrString);
    assert_eq!(f("labels").ty, Type::Map(Box::new(Type::String)));
    assert_eq!(f("data").ty, Type::Bytes);
    assert_eq!(f("protocol").default.as_deref(), Some("\"TCP\""));
    assert_eq!(m.defs["demo.v1.Quantity"].kind, DefKind::Scalar(Type::Any));
    assert_eq!(
        m.defs["demo.v1.IntOrString"].kind,
        DefKind::Scalar(Type::IntOrString)
    );
    assert_eq!(m.defs["demo.v1.Raw"].kind, DefKind::Opaque);

    assert_eq!(m.ops.len(), 1);
    let op = &m.ops[0];
    assert_eq!(
        (op.method.as_str(), op.id.as_str()),
        ("POST", "createDemoV1NamespacedWidget")
    );
    assert_eq!(op.action.as_deref(), Some("post"));
    let params: Vec<_> = op
        .params
        .iter()
        .map(|p| (p.location, p.name.as_str(), p.ty.clone(), p.required))
        .collect();
    assert_eq!(
        params,
        [
            (ParamIn::Path, "namespace", Type::String, true),
            (ParamIn::Query, "limit", Type::I64, false),
            (
                ParamIn::Body,
                "body",
                Type::Ref("demo.v1.Widget".into()),
                true
            ),
        ]
    );
    assert_eq!(op.consumes, ["*/*"]);
    // Media types come in name order (the document is read as a serde_json::Value).
    assert_eq!(op.produces, ["application/json", "application/yaml"]);
    assert_eq!(
        op.responses,
        [(201, Some(Type::Ref("demo.v1.Widget".into()))), (401, None)]
    );
}

#[test]
fn differing_copies_of_a_schema_are_recorded_and_the_first_kept() {
    let other = SMALL_DOC.replace(r#""default": 1"#, r#""default": 2"#);
    let dir = v3_dir(&[("a.json", SMALL_DOC), ("b.json", &other)]);
    let load = load_v3::load_dir_report(dir.path(), "0.0.1").unwrap();
    assert_eq!(load.conflicts.len(), 1, "{:?}", load.conflicts);
    let c = &load.conflicts[0];
    assert_eq!(c.what, "definition demo.v1.Spec");
    assert!(c.kept.ends_with("a.json") && c.dropped.ends_with("b.json"));
    let DefKind::Struct(f) = &load.model.defs["demo.v1.Spec"].kind else {
        panic!()
    };
    assert_eq!(f[0].default.as_deref(), Some("1"));
}

/// Each broken document gives an error naming the file and the JSON pointer (no panic).
#[test]
fn broken_documents_give_errors_with_file_and_pointer() {
    let cases: &[(&str, String, &str)] = &[
        ("not JSON", "{\"openapi\": ".into(), "invalid JSON"),
        ("swagger 2.0", r#"{"swagger": "2.0"}"#.into(), "#/openapi: expected an OpenAPI 3.x"),
        (
            "$ref to nothing",
            SMALL_DOC.replace(
                "\"$ref\": \"#/components/schemas/demo.v1.Quantity\"",
                "\"$ref\": \"#/components/schemas/demo.v1.Nothing\"",
            ),
            "#/components/schemas/demo.v1.Widget/properties/size: $ref to a missing schema \"demo.v1.Nothing\"",
        ),
        (
            "$ref outside components",
            SMALL_DOC.replace("#/components/schemas/demo.v1.Spec", "other.json#/Spec"),
            "#/components/schemas/demo.v1.Widget/properties/spec/allOf/0/$ref: unsupported $ref",
        ),
        (
            "unknown format",
            SMALL_DOC.replace("\"format\": \"byte\"", "\"format\": \"uuid\""),
            "#/components/schemas/demo.v1.Widget/properties/data: unsupported type/format",
        ),
        (
            "schema of the wrong shape",
            SMALL_DOC.replace("\"required\": [\"size\"]", "\"required\": \"size\""),
            "#/components/schemas/demo.v1.Widget: invalid schema",
        ),
        (
            "required property missing",
            SMALL_DOC.replace("\"required\": [\"size\"]", "\"required\": [\"weight\"]"),
            "#/components/schemas/demo.v1.Widget/required: required property \"weight\"",
        ),
        (
            "undeclared path parameter",
            SMALL_DOC.replace("\"name\": \"namespace\"", "\"name\": \"ns\""),
            "#/paths/~1apis~1demo~1v1~1namespaces~1{namespace}~1widgets/post: path parameter {namespace} is not declared",
        ),
        (
            "header parameter",
            SMALL_DOC.replace("\"in\": \"query\"", "\"in\": \"header\""),
            "widgets/parameters/1/in: unsupported parameter location",
        ),
        (
            "operation without an id",
            SMALL_DOC.replace("\"operationId\"", "\"opId\""),
            "widgets/post/operationId: missing operationId",
        ),
        (
            "array without items",
            SMALL_DOC.replace(
                "\"labels\": {\"type\": \"object\", \"additionalProperties\": {\"type\": \"string\", \"default\": \"\"}}",
                "\"labels\": {\"type\": \"array\"}",
            ),
            "#/components/schemas/demo.v1.Widget/properties/labels/items: array without items",
        ),
        (
            "paths not an object",
            r#"{"openapi": "3.0.0", "paths": []}"#.into(),
            "#/paths: expected an object",
        ),
    ];
    for (what, text, want) in cases {
        assert_ne!(
            text.as_str(),
            SMALL_DOC,
            "{what}: the replacement did nothing"
        );
        let dir = v3_dir(&[("group.json", text)]);
        let err = load_v3::load_dir(dir.path(), "0.0.1")
            .unwrap_err()
            .to_string();
        let file = dir.path().join("group.json").display().to_string();
        assert!(err.starts_with(&file), "{what}: {err}");
        assert!(err.contains(want), "{what}: {err:?} lacks {want:?}");
    }
    let empty = v3_dir(&[]);
    let err = load_v3::load_dir(empty.path(), "0.0.1")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no *.json"), "{err}");
    let err = load_v3::load_dir(&empty.path().join("missing"), "0.0.1").unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
}
