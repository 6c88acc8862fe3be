//! Custom resources: a small CRD with one of each schema feature (`tests/crds/features.yaml`)
//! generates the snapshot `snapshots/crd_features__example_com_v1.snap`; bad input fails with
//! the file, the document and the JSON pointer, and writes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};

use k8s_codegen::crd;

fn crds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/crds")
}

#[test]
fn features_crd_generates_the_expected_module() {
    let sources = crd::read_paths(&[crds_dir().join("features.yaml")]).unwrap();
    let out = crd::generate_sources(&sources).unwrap();
    let names: Vec<String> = out.files.keys().map(|p| p.display().to_string()).collect();
    assert_eq!(
        names,
        [
            "all.rs",
            "example_com/mod.rs",
            "example_com/v1.rs",
            "mod.rs"
        ]
    );
    let v1 = &out.files[Path::new("example_com/v1.rs")];
    // Features the snapshot shows, asserted so a regression names itself.
    for needle in [
        "pub struct Widget {",
        "pub metadata: ObjectMeta,",
        "pub spec: Option<WidgetSpec>,",
        "pub enum WidgetSpecSize {",
        "Other(String),",
        "pub port: Option<IntOrString>,",
        "pub extra: Option<serde_json::Value>,",
        "pub template: Option<serde_json::Value>,",
        "pub ports: Option<Vec<WidgetSpecPorts>>,",
        "pub labels: Option<BTreeMap<String, String>>,",
        "pub volumes: Option<BTreeMap<String, WidgetSpecVolumes>>,",
        "pub note: Option<String>,",
        "pub created: Option<Time>,",
        "pub data: Option<ByteString>,",
        "pub ratio: Option<f64>,",
        "pub type_: Option<String>,",
        "pub foo_bar: Option<String>,",
        "pub foo_bar_2: Option<String>,",
        "pub size: WidgetSpecSize,",
        "pub replicas: Option<i32>,",
        "pub number: Option<i64>,",
        "const PLURAL: &'static str = \"widgets\";",
        "const SCOPE: k8s_core::Scope = k8s_core::Scope::Namespaced;",
        "const SUBRESOURCES: &'static [&'static str] = &[\"scale\", \"status\"];",
        "impl k8s_core::Object for Widget",
        "pub fn read(namespace: &str, name: &str) -> GetRequest<Widget>",
        "pub fn list(namespace: &str)",
        "pub fn watch(namespace: &str)",
        "pub fn list_all_namespaces()",
        "pub fn replace_status(",
        "pub fn patch_status(",
        "pub fn read_scale(",
        "pub struct Scale {",
        "Validation (CEL): self.replicas",
        "(at most ten)",
        "Printer columns",
    ] {
        assert!(v1.contains(needle), "missing `{needle}` in:\n{v1}");
    }
    assert!(!v1.contains("crate::"), "output must be self-contained");
    insta::assert_snapshot!("example_com_v1", v1);
    insta::assert_snapshot!("root_mod", out.files[Path::new("mod.rs")]);
}

fn error_of(file: &str) -> String {
    let path = crds_dir().join(file);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("gen");
    let e = crd::generate(std::slice::from_ref(&path), &dir).unwrap_err();
    assert!(!dir.exists(), "{file}: nothing may be written on error");
    let text = e.to_string();
    assert!(
        text.contains(file),
        "{file}: error must name the file: {text}"
    );
    text
}

#[test]
fn a_ref_is_refused_with_its_pointer() {
    let e = error_of("bad_ref.yaml");
    assert!(
        e.contains("/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/other/$ref"),
        "{e}"
    );
    assert!(e.contains("$ref is not allowed"), "{e}");
}

#[test]
fn a_non_structural_schema_is_refused_with_its_pointer() {
    let e = error_of("bad_nonstructural.yaml");
    assert!(e.contains("/properties/spec/properties/other:"), "{e}");
    assert!(e.contains("non-structural"), "{e}");
}

#[test]
fn an_unknown_format_is_refused_with_its_pointer() {
    let e = error_of("bad_format.yaml");
    assert!(e.contains("/properties/other/format"), "{e}");
    assert!(e.contains("\"colour\""), "{e}");
}

#[test]
fn a_document_that_is_not_a_crd_is_refused() {
    let e = error_of("bad_not_crd.yaml");
    assert!(e.contains("not a CustomResourceDefinition"), "{e}");
    assert!(e.contains("ConfigMap"), "{e}");
}

#[test]
fn invalid_yaml_is_refused_with_its_line() {
    let e = error_of("bad_yaml.yaml");
    assert!(e.contains("invalid YAML"), "{e}");
    assert!(e.contains("line"), "{e}");
}

#[test]
fn the_second_document_of_a_stream_is_named() {
    let good = std::fs::read_to_string(crds_dir().join("features.yaml")).unwrap();
    let bad = std::fs::read_to_string(crds_dir().join("bad_ref.yaml")).unwrap();
    let text = format!("{good}\n---\n{bad}");
    let e = crd::read_text(Path::new("stream.yaml"), &text)
        .and_then(|s| crd::generate_sources(&s))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("stream.yaml (document 1) at /spec/versions/0/"),
        "{e}"
    );
}

#[test]
fn group_module_names() {
    assert_eq!(crd::group_module("cert-manager.io"), "cert_manager_io");
    assert_eq!(crd::group_module("example.com"), "example_com");
}
