//! Tests of `xtask/src/diff.rs` (`cargo xtask diff`): small synthetic models written in the
//! committed model syntax, the real committed models, and the checked-in changelogs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../src/diff/mod.rs"]
#[allow(dead_code)]
mod diff;

use std::ffi::OsStr;
use std::path::Path;

use diff::{ApiDiff, GroupDiff, Sign};
use k8s_codegen::ir::ApiModel;
use k8s_codegen::model_text;

fn model(text: &str) -> ApiModel {
    model_text::parse(text, Path::new("synthetic.api")).unwrap()
}

fn group<'a>(d: &'a ApiDiff, key: &str) -> &'a GroupDiff {
    &d.groups
        .iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("no group {key:?} in {:?}", d.groups))
        .1
}

const OLD: &str = "version 1.0.0
def io.k8s.api.apps.v1.Widget struct
  gvk apps/v1/Widget
  field metadata ref:io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta
  field spec! ref:io.k8s.api.apps.v1.WidgetSpec
def io.k8s.api.apps.v1.WidgetList struct
  gvk apps/v1/WidgetList
  field items! [ref:io.k8s.api.apps.v1.Widget]
def io.k8s.api.apps.v1.WidgetSpec struct
  field replicas i32
  field size string
  field legacy bool
def io.k8s.api.apps.v1.Gone struct
  field x string
def io.k8s.api.core.v1.Pod struct
  gvk /v1/Pod
  field spec ref:io.k8s.api.core.v1.PodSpec
def io.k8s.api.core.v1.PodSpec struct
  field nodeName string
def io.k8s.api.core.v1.PodList struct
  gvk /v1/PodList
  field items! [ref:io.k8s.api.core.v1.Pod]
def io.k8s.apimachinery.pkg.apis.meta.v1.Status struct
  field message string
def io.k8s.apimachinery.pkg.version.Info struct
  field major string
def io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta struct
  field name string
def io.k8s.apimachinery.pkg.runtime.RawExtension struct
  field raw string
op GET /api/v1/namespaces/{namespace}/pods listCoreV1NamespacedPod
  action list
  gvk /v1/Pod
  param path namespace! string
  param query limit i64
  response 200 ref:io.k8s.api.core.v1.PodList
op GET /apis/apps/v1/widgets listAppsV1Widget
  action list
  gvk apps/v1/Widget
  param query limit i64
  param query pretty string
  response 200 ref:io.k8s.api.apps.v1.WidgetList
op DELETE /apis/apps/v1/widgets/{name} deleteAppsV1Widget
  action delete
  param path name! string
  response 200 ref:io.k8s.apimachinery.pkg.apis.meta.v1.Status
op GET /apis/apps/v1beta1/widgets listAppsV1beta1Widget
  action list
  response 200 ref:io.k8s.api.apps.v1.WidgetList
";

const NEW: &str = "version 1.1.0
def io.k8s.api.apps.v1.Widget struct
  gvk apps/v1/Widget
  field metadata ref:io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta
  field spec! ref:io.k8s.api.apps.v1.WidgetSpec
def io.k8s.api.apps.v1.WidgetList struct
  gvk apps/v1/WidgetList
  field items! [ref:io.k8s.api.apps.v1.Widget]
def io.k8s.api.apps.v1.WidgetSpec struct
  field replicas! i64
  field size string
  field colour string
def io.k8s.api.apps.v1.Gizmo struct
  gvk apps/v1/Gizmo
  field metadata ref:io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta
def io.k8s.api.apps.v1.GizmoList struct
  gvk apps/v1/GizmoList
  field items! [ref:io.k8s.api.apps.v1.Gizmo]
def io.k8s.api.core.v1.Pod struct
  gvk /v1/Pod
  field spec ref:io.k8s.api.core.v1.PodSpec
def io.k8s.api.core.v1.PodSpec struct
  field nodeName string
def io.k8s.api.core.v1.PodList struct
  gvk /v1/PodList
  field items! [ref:io.k8s.api.core.v1.Pod]
def io.k8s.apimachinery.pkg.apis.meta.v1.Status struct
  field message string
def io.k8s.apimachinery.pkg.version.Info struct
  field major string
def io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta struct
  field name string
  field generation i64
def io.k8s.apimachinery.pkg.runtime.RawExtension opaque
op GET /api/v1/namespaces/{namespace}/pods listCoreV1NamespacedPod
  action list
  gvk /v1/Pod
  param path namespace! string
  param query limit i64
  response 200 ref:io.k8s.api.core.v1.PodList
op GET /apis/apps/v1/widgets listAppsV1Widget
  action list
  gvk apps/v1/Widget
  param query limit i32
  param query shardSelector string
  response 200 ref:io.k8s.api.apps.v1.WidgetList
  response 401
op DELETE /apis/apps/v1/widgets/{name} deleteAppsV1Widget
  action delete
  param path name! string
  response 200 ref:io.k8s.api.apps.v1.Widget
op GET /apis/apps/v2/gizmos listAppsV2Gizmo
  action list
  response 200 ref:io.k8s.api.apps.v1.GizmoList
op GET /version/ getCodeVersion
  response 200 ref:io.k8s.apimachinery.pkg.version.Info
";

#[test]
fn synthetic_models_every_kind_of_change() {
    let d = diff::diff_models(&model(OLD), &model(NEW));
    assert_eq!((d.old.as_str(), d.new.as_str()), ("1.0.0", "1.1.0"));
    // Display order: core, named groups, apimachinery, non-group paths. Core's Pod did not
    // change, so core is absent.
    let keys: Vec<&str> = d.groups.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["apps", diff::APIMACHINERY, diff::NON_GROUP]);

    let apps = group(&d, "apps");
    assert_eq!(apps.versions_added, ["apps/v2"]);
    assert_eq!(apps.versions_removed, ["apps/v1beta1"]);
    // The list kind is folded into its item kind.
    assert_eq!(apps.kinds_added, ["apps/v1 Gizmo (+List)"]);
    assert!(apps.kinds_removed.is_empty());
    assert_eq!(apps.defs_added, ["apps.v1.Gizmo", "apps.v1.GizmoList"]);
    assert_eq!(apps.defs_removed, ["apps.v1.Gone"]);

    assert_eq!(apps.defs_changed.len(), 1);
    let spec = &apps.defs_changed[0];
    assert_eq!(spec.name, "apps.v1.WidgetSpec");
    let lines: Vec<(Sign, &str, &str)> = spec
        .changes
        .iter()
        .map(|c| (c.sign, c.subject.as_str(), c.detail.as_str()))
        .collect();
    assert_eq!(
        lines,
        [
            (Sign::Added, "field colour", "string, optional"),
            (Sign::Removed, "field legacy", "bool, optional"),
            (
                Sign::Changed,
                "field replicas",
                "i32 -> i64; optional -> required"
            ),
        ]
    );

    let added: Vec<String> = apps
        .ops_added
        .iter()
        .map(|o| format!("{} {} {}", o.method, o.path, o.id))
        .collect();
    assert_eq!(added, ["GET /apis/apps/v2/gizmos listAppsV2Gizmo"]);
    let removed: Vec<String> = apps
        .ops_removed
        .iter()
        .map(|o| format!("{} {}", o.method, o.path))
        .collect();
    assert_eq!(removed, ["GET /apis/apps/v1beta1/widgets"]);

    let changed: Vec<(&str, Vec<String>)> = apps
        .ops_changed
        .iter()
        .map(|c| {
            (
                c.name.as_str(),
                c.changes
                    .iter()
                    .map(|x| format!("{:?} {}: {}", x.sign, x.subject, x.detail))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        changed,
        [
            (
                "DELETE /apis/apps/v1/widgets/{name}",
                vec!["Changed response 200: meta.v1.Status -> apps.v1.Widget".to_owned()]
            ),
            (
                "GET /apis/apps/v1/widgets",
                vec![
                    "Changed query parameter limit: i64 -> i32".to_owned(),
                    "Removed query parameter pretty: string, optional".to_owned(),
                    "Added query parameter shardSelector: string, optional".to_owned(),
                    "Added response 401: no body".to_owned(),
                ]
            ),
        ]
    );

    let machinery = group(&d, diff::APIMACHINERY);
    assert_eq!(machinery.defs_changed.len(), 2);
    assert_eq!(machinery.defs_changed[0].name, "meta.v1.ObjectMeta");
    assert_eq!(machinery.defs_changed[1].name, "runtime.RawExtension");
    assert_eq!(machinery.defs_changed[1].changes[0].subject, "shape");
    assert_eq!(
        machinery.defs_changed[1].changes[0].detail,
        "object -> any JSON"
    );
    let other = group(&d, diff::NON_GROUP);
    assert_eq!(other.ops_added.len(), 1);
    assert_eq!(other.ops_added[0].path, "/version/");

    let t = d.totals();
    assert_eq!(
        (t.fields_added, t.fields_removed, t.fields_changed),
        (2, 1, 1),
        "{t:?}"
    );
    assert_eq!((t.ops_added, t.ops_removed, t.ops_changed), (2, 1, 2));
    assert_eq!(
        diff::summary(&d),
        "1 API version added, 1 API version removed, 1 kind added, 2 definitions added, \
         1 definition removed, 2 fields added, 1 field removed, 1 field changed, \
         2 operations added, 1 operation removed, 2 operations changed"
    );
}

#[test]
fn identical_models_have_no_changes() {
    let d = diff::diff_models(&model(OLD), &model(OLD));
    assert!(d.groups.is_empty());
    assert!(d.common.is_empty());
    assert_eq!(diff::summary(&d), "no changes");
    let md = diff::render_markdown(&d);
    assert!(md.contains("Summary: no changes."), "{md}");
    assert!(!md.contains("## "), "{md}");
}

/// `n` list operations over `n` resources of group `g`, each with `extra` query parameters.
fn many_lists(version: &str, groups: &[&str], n: usize, extra: &[&str]) -> String {
    let mut s = format!("version {version}\n");
    for g in groups {
        for i in 0..n {
            s.push_str(&format!(
                "op GET /apis/{g}/v1/things{i} list{g}{i}\n  action list\n  param query limit i64\n"
            ));
            for e in extra {
                s.push_str(&format!("  param query {e} string\n"));
            }
            s.push_str("  response 200 any\n");
        }
    }
    s
}

#[test]
fn a_change_to_many_operations_is_reported_once() {
    let groups = ["a.example.com", "b.example.com"];
    let old = model(&many_lists("1.0.0", &groups, 6, &[]));
    let mut new_text = many_lists("1.1.0", &groups, 6, &["shardSelector"]);
    // One operation also gets a change of its own.
    new_text = new_text.replacen(
        "op GET /apis/a.example.com/v1/things0 lista.example.com0\n  action list\n  param query limit i64\n",
        "op GET /apis/a.example.com/v1/things0 lista.example.com0\n  action list\n  param query limit i32\n",
        1,
    );
    let d = diff::diff_models(&old, &model(&new_text));
    assert_eq!(d.common.len(), 1, "{:?}", d.common);
    let c = &d.common[0];
    assert_eq!(c.operations, 12);
    assert_eq!(c.change.subject, "query parameter shardSelector");
    assert_eq!(c.by_action.get("list"), Some(&12));
    // Only the operation with a change of its own is listed under its group.
    assert_eq!(d.operations_changed, 12);
    let a = group(&d, "a.example.com");
    assert_eq!(a.ops_changed.len(), 1);
    assert_eq!(a.ops_changed[0].changes.len(), 1);
    assert_eq!(a.ops_changed[0].changes[0].subject, "query parameter limit");
    assert!(d.groups.iter().all(|(k, _)| k != "b.example.com"));
    assert!(diff::summary(&d).contains("12 operations changed"));
    let text = diff::render_text(&d, false);
    assert!(
        text.contains(
            "+ query parameter shardSelector: string, optional (on 12 operations: list 12)"
        ),
        "{text}"
    );

    // Below the threshold, changes stay with their operations.
    let old = model(&many_lists("1.0.0", &["a.example.com"], 3, &[]));
    let new = model(&many_lists("1.1.0", &["a.example.com"], 3, &["x"]));
    let d = diff::diff_models(&old, &new);
    assert!(d.common.is_empty());
    assert_eq!(group(&d, "a.example.com").ops_changed.len(), 3);
}

#[test]
fn text_is_coloured_only_when_asked() {
    let d = diff::diff_models(&model(OLD), &model(NEW));
    let plain = diff::render_text(&d, false);
    assert!(!plain.contains('\x1b'), "{plain}");
    assert!(plain.starts_with("API changes: Kubernetes 1.0.0 -> 1.1.0\n"));
    assert!(plain.contains("\napps\n  API versions\n    + apps/v2\n    - apps/v1beta1\n"));
    assert!(plain.contains("    ~ apps.v1.WidgetSpec\n        + field colour: string, optional\n"));
    let coloured = diff::render_text(&d, true);
    assert!(coloured.contains("\x1b[32m+ apps/v2\x1b[0m"), "{coloured}");
    assert!(coloured.contains("\x1b[31m- apps/v1beta1\x1b[0m"));
    assert!(coloured.contains("\x1b[33m~ apps.v1.WidgetSpec\x1b[0m"));
    // Without the escapes it is the plain text.
    let stripped = coloured
        .replace("\x1b[0m", "")
        .replace("\x1b[1m", "")
        .replace("\x1b[36m", "")
        .replace("\x1b[31m", "")
        .replace("\x1b[32m", "")
        .replace("\x1b[33m", "");
    assert_eq!(stripped, plain);

    assert!(diff::use_color(true, None));
    assert!(diff::use_color(true, Some(OsStr::new(""))));
    assert!(!diff::use_color(true, Some(OsStr::new("1"))));
    assert!(!diff::use_color(false, None));
}

#[test]
fn markdown_report() {
    let d = diff::diff_models(&model(OLD), &model(NEW));
    let md = diff::render_markdown(&d);
    assert!(
        md.starts_with("# API changes: Kubernetes 1.0.0 → 1.1.0\n"),
        "{md}"
    );
    assert!(md.contains("- [apps](#apps)\n"));
    assert!(
        md.contains("\n## apps\n\n### API versions\n\n- **+** `apps/v2`\n- **−** `apps/v1beta1`\n")
    );
    assert!(md.contains("- `apps.v1.WidgetSpec`\n  - **+** field `colour`: `string, optional`\n"));
    assert!(md.contains("- **+** `GET /apis/apps/v2/gizmos` (listAppsV2Gizmo)\n"));
    assert!(md.contains("## meta and apimachinery types"));
    assert!(!md.contains('\x1b'));
    assert_eq!(
        diff::anchor("core (legacy group, /api/v1)"),
        "core-legacy-group-apiv1"
    );
}

#[test]
fn names_and_paths() {
    assert_eq!(diff::short_def("io.k8s.api.core.v1.Pod"), "core.v1.Pod");
    assert_eq!(
        diff::short_def("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
        "meta.v1.ObjectMeta"
    );
    assert_eq!(
        diff::short_def("io.k8s.apimachinery.pkg.api.resource.Quantity"),
        "api.resource.Quantity"
    );
    assert_eq!(
        diff::path_group("/api/v1/pods"),
        (String::new(), Some("v1".to_owned()))
    );
    assert_eq!(
        diff::path_group("/apis/batch/v1/"),
        ("batch".to_owned(), Some("batch/v1".to_owned()))
    );
    assert_eq!(diff::path_group("/apis/batch/"), ("batch".to_owned(), None));
    assert_eq!(
        diff::path_group("/apis/"),
        (diff::NON_GROUP.to_owned(), None)
    );
    assert_eq!(
        diff::path_group("/version/"),
        (diff::NON_GROUP.to_owned(), None)
    );
}

#[test]
fn versions_resolve_against_the_committed_models() {
    let root = diff::workspace_root();
    assert_eq!(diff::resolve_version(&root, "1.36.0").unwrap(), "1.36.0");
    assert_eq!(diff::resolve_version(&root, "v1.33.1").unwrap(), "1.33.1");
    assert_eq!(diff::resolve_version(&root, "1.33").unwrap(), "1.33.1");
    let e = diff::resolve_version(&root, "1.99.0").unwrap_err();
    assert!(e.contains("spec/v1.99.0.api does not exist"), "{e}");
    assert!(e.contains("1.36.0"), "{e}");
    let supported = diff::supported_versions(&root).unwrap();
    assert!(!supported.contains(&"1.28.4".to_owned()), "regression-only");
    assert!(
        supported
            .windows(2)
            .all(|w| diff::version_key(&w[0]) < diff::version_key(&w[1]))
    );
}

#[test]
fn real_models_1_35_to_1_36() {
    let root = diff::workspace_root();
    let (old, _) = diff::load_model(&root, "1.35.0", None).unwrap();
    let (new, _) = diff::load_model(&root, "1.36.0", None).unwrap();
    let d = diff::diff_models(&old, &new);
    // 1.36 added `shardSelector` to the collection operations and `ListMeta.shardInfo`.
    assert!(
        d.common
            .iter()
            .any(|c| c.change.subject == "query parameter shardSelector"
                && c.change.sign == Sign::Added
                && c.by_action.contains_key("list")
                && c.by_action.contains_key("deletecollection")),
        "{:?}",
        d.common
    );
    let machinery = group(&d, diff::APIMACHINERY);
    let list_meta = machinery
        .defs_changed
        .iter()
        .find(|c| c.name == "meta.v1.ListMeta")
        .unwrap();
    assert!(
        list_meta
            .changes
            .iter()
            .any(|c| c.sign == Sign::Added && c.subject == "field shardInfo")
    );
    // Every operation of the models is accounted for: added + removed + unchanged counts add up.
    let t = d.totals();
    let key = |o: &k8s_codegen::ir::Operation| (o.path.clone(), o.method.clone());
    let old_keys: std::collections::BTreeSet<_> = old.ops.iter().map(key).collect();
    let new_keys: std::collections::BTreeSet<_> = new.ops.iter().map(key).collect();
    assert_eq!(t.ops_added, new_keys.difference(&old_keys).count());
    assert_eq!(t.ops_removed, old_keys.difference(&new_keys).count());
    assert_eq!(
        t.defs_added,
        new.defs
            .keys()
            .filter(|k| !old.defs.contains_key(*k))
            .count()
    );
}

#[test]
fn checked_in_docs_are_what_the_command_writes() {
    let root = diff::workspace_root();
    let files = diff::docs_files(&root).unwrap();
    let supported = diff::supported_versions(&root).unwrap();
    assert_eq!(
        files.len(),
        supported.len(),
        "one per adjacent pair + README"
    );
    for (path, expected) in files {
        let actual = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run `cargo xtask diff --write-docs`",
                path.display()
            )
        });
        assert!(
            actual == expected,
            "{} is out of date; run `cargo xtask diff --write-docs`",
            path.display()
        );
    }
}
