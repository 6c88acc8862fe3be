//! The protobuf IDL beside each version's spec matches the IR: every message of a definition,
//! field by field (`load_proto`), for every supported version.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use k8s_codegen::generate::{self, Input, VersionJob};
use k8s_codegen::ir::DefKind;

fn spec_dir() -> Option<PathBuf> {
    let d = std::env::var_os("K8S_SPEC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/spec"));
    d.join("v1.36.0/proto").is_dir().then_some(d)
}

#[test]
fn every_version_matches_its_proto_files() {
    let Some(dir) = spec_dir() else {
        eprintln!("no spec files with proto/ (K8S_SPEC_DIR): skipped");
        return;
    };
    for v in ["1.32.0", "1.33.1", "1.34.0", "1.35.0", "1.36.0"] {
        let job = VersionJob {
            version: v.to_owned(),
            input: Input::Spec(dir.join(format!("v{v}/swagger.json"))),
        };
        let m = generate::load(&job).unwrap_or_else(|e| panic!("{v}: {e}"));
        let pod = &m.defs["io.k8s.api.core.v1.Pod"];
        let DefKind::Struct(fields) = &pod.kind else {
            panic!("Pod is a struct")
        };
        let numbers: Vec<_> = fields
            .iter()
            .map(|f| (f.json_name.as_str(), f.proto.clone()))
            .collect();
        assert_eq!(
            numbers,
            [
                ("apiVersion", vec![]),
                ("kind", vec![]),
                ("metadata", vec![1]),
                ("spec", vec![2]),
                ("status", vec![3])
            ],
            "{v}"
        );
    }
}
