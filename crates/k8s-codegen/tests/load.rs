#![allow(clippy::unwrap_used, missing_docs)]
use std::path::PathBuf;

fn spec_dir() -> Option<PathBuf> {
    let d = std::env::var_os("K8S_SPEC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/spec"));
    d.join("v1.36.0/swagger.json").exists().then_some(d)
}

#[test]
fn v2_loads_and_model_text_round_trips() {
    let Some(dir) = spec_dir() else {
        eprintln!("no spec files; skipped");
        return;
    };
    let t = std::time::Instant::now();
    let m = k8s_codegen::load_v2::load_file(&dir.join("v1.36.0/swagger.json"), "1.36.0").unwrap();
    eprintln!("loaded in {:?}: {} defs {} ops", t.elapsed(), m.defs.len(), m.ops.len());
    assert_eq!(m.ops.len(), 1123);
    let stripped = k8s_codegen::model_text::without_docs(&m);
    let text = k8s_codegen::model_text::write(&stripped);
    let back = k8s_codegen::model_text::parse(&text, std::path::Path::new("mem")).unwrap();
    assert_eq!(back, stripped);
}
