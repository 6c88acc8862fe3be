//! The generator end to end: snapshot tests of the code emitted for small fixture specs (one per
//! construct), clear errors on bad input, and the committed API models.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};

use k8s_codegen::generate::{self, Input, VersionJob};
use k8s_codegen::{emit, fixups, load_v2, model_text, plan};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// All files emitted for a fixture spec, concatenated with their paths.
fn emit_fixture(name: &str) -> String {
    let mut m = load_v2::load_file(&fixture(name), "1.0.0").unwrap();
    let (facts, _) = fixups::apply_all(&mut m).unwrap();
    let p = plan::plan(&m, &facts).unwrap();
    let e = emit::emit_version(&m, &facts, &p).unwrap();
    let mut out = String::new();
    for (path, text) in &e.files {
        out.push_str(&format!("// ===== {} =====\n{text}\n", path.display()));
    }
    out
}

#[test]
fn snapshot_structs_names_and_optionality() {
    insta::assert_snapshot!(emit_fixture("basic.json"));
}

#[test]
fn snapshot_special_types() {
    insta::assert_snapshot!(emit_fixture("special.json"));
}

#[test]
fn snapshot_kind_list_operations_recursion() {
    insta::assert_snapshot!(emit_fixture("kind_ops.json"));
}

/// Apply configurations (`emit/apply.rs`): the `apply` module of each group-version reached
/// from a kind, and its declaration in the group-version's `mod.rs`.
#[test]
fn snapshot_apply_configurations() {
    let all = emit_fixture("apply.json");
    let mut out = String::new();
    for file in all.split("// ===== ").filter(|f| !f.is_empty()) {
        let (path, text) = file.split_once(" =====\n").unwrap();
        if path.ends_with("/apply.rs") {
            out.push_str(&format!("// ===== {path} =====\n{text}"));
        } else if let Some(decl) = text.find("#[cfg(feature = \"apply\")]") {
            let line = text[decl..].lines().take(2).collect::<Vec<_>>().join("\n");
            out.push_str(&format!("// ===== {path} (declaration) =====\n{line}\n"));
        }
    }
    assert!(out.contains("demo/v1/apply.rs") && out.contains("other/v1/apply.rs"));
    insta::assert_snapshot!(out);
}

#[test]
fn emission_is_deterministic() {
    assert_eq!(emit_fixture("kind_ops.json"), emit_fixture("kind_ops.json"));
}

fn load_err(json: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("swagger.json");
    std::fs::write(&p, json).unwrap();
    let r = load_v2::load_file(&p, "1.0.0")
        .and_then(|mut m| fixups::apply_all(&mut m).map(|(f, _)| (m, f)))
        .and_then(|(m, f)| plan::plan(&m, &f).map(|_| ()));
    r.expect_err("bad input must fail")
        .to_string()
        .replace(&dir.path().display().to_string(), "<dir>")
}

#[test]
fn bad_input_names_file_and_pointer() {
    let missing = load_v2::load_file(Path::new("/nonexistent/swagger.json"), "1.0.0")
        .unwrap_err()
        .to_string();
    assert!(missing.contains("/nonexistent/swagger.json"), "{missing}");

    let invalid = load_err("{\"swagger\": \"2.0\", \"paths\": {");
    assert!(
        invalid.starts_with("<dir>/swagger.json: invalid JSON"),
        "{invalid}"
    );
    assert!(invalid.contains("line 1"), "{invalid}");

    let dangling = load_err(
        r##"{"swagger":"2.0","paths":{},"definitions":{"io.k8s.api.a.v1.A":{"type":"object","properties":{"b":{"$ref":"#/definitions/io.k8s.api.a.v1.Missing"}}}}}"##,
    );
    assert_eq!(
        dangling,
        "<dir>/swagger.json#/definitions/io.k8s.api.a.v1.A/properties/b: $ref to a missing definition \"io.k8s.api.a.v1.Missing\""
    );

    let format = load_err(
        r#"{"swagger":"2.0","paths":{},"definitions":{"io.k8s.api.a.v1.A":{"type":"object","properties":{"b":{"type":"string","format":"uuid"}}}}}"#,
    );
    assert_eq!(
        format,
        "<dir>/swagger.json#/definitions/io.k8s.api.a.v1.A/properties/b: unsupported type/format Some(\"string\")/Some(\"uuid\")"
    );

    let version = load_err(r#"{"swagger":"3.0","paths":{}}"#);
    assert!(version.contains("#/swagger: expected \"2.0\""), "{version}");

    let unaccounted = load_err(
        r#"{"swagger":"2.0","definitions":{},"paths":{"/apis/a/v1/things":{"get":{"operationId":"listAV1Thing","x-kubernetes-action":"list","responses":{"200":{"description":"OK"}}}}}}"#,
    );
    assert!(
        unaccounted.contains("is not accounted for"),
        "{unaccounted}"
    );
}

fn spec_dir() -> Option<PathBuf> {
    let d = std::env::var_os("K8S_SPEC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/spec"));
    d.join("v1.36.0/swagger.json").exists().then_some(d)
}

fn model_path(v: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../spec/v{v}.api"))
}

const VERSIONS: &[&str] = &[
    "1.28.4", "1.32.0", "1.33.1", "1.34.0", "1.35.0", "1.36.0", "1.37.2",
];

/// `<dir>/v<v>/swagger.json`; for a built version (no download, so not in the shared copy) the
/// workspace cache `spec/v<v>/swagger.json` that `cargo xtask spec fetch --version <v>` writes.
fn swagger(dir: &Path, v: &str) -> Option<PathBuf> {
    [
        dir.join(format!("v{v}/swagger.json")),
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../spec/v{v}/swagger.json")),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// The model built from the spec files equals the committed one (the review snapshot). With
/// `UPDATE_MODELS=1` the committed files are rewritten instead.
#[test]
fn committed_models_match_the_spec() {
    let Some(dir) = spec_dir() else {
        eprintln!("no spec files (K8S_SPEC_DIR); checking that committed models parse only");
        for v in VERSIONS {
            model_text::read_file(&model_path(v)).unwrap();
        }
        return;
    };
    let mut stale = Vec::new();
    for v in VERSIONS {
        let Some(swagger) = swagger(&dir, v) else {
            eprintln!("{v}: no spec files (built version, not fetched); its model only parses");
            model_text::read_file(&model_path(v)).unwrap();
            continue;
        };
        let job = VersionJob {
            version: (*v).to_owned(),
            input: Input::Spec(swagger),
        };
        let m = generate::load(&job).unwrap();
        let text = model_text::write(&model_text::without_docs(&m));
        let path = model_path(v);
        if std::env::var_os("UPDATE_MODELS").is_some() {
            generate::write_atomic(&path, text.as_bytes()).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != text {
            stale.push(path.display().to_string());
        }
        // The committed model parses back to the same IR.
        assert_eq!(
            model_text::parse(&committed, &path).unwrap(),
            model_text::without_docs(&m),
            "{v}"
        );
    }
    assert!(
        stale.is_empty(),
        "committed models differ from the spec: {stale:?}; run `UPDATE_MODELS=1 cargo test -p k8s-codegen --test generator committed_models` and review the diff"
    );
}

/// Every supported version (and the 1.28.4 regression input) plans and emits, from the
/// committed model (no spec files needed), with every definition and operation accounted for.
#[test]
fn every_version_is_accounted_for() {
    for v in VERSIONS {
        let mut m = model_text::read_file(&model_path(v)).unwrap();
        let (facts, _) = fixups::apply_all(&mut m).unwrap();
        let p = plan::plan(&m, &facts).unwrap();
        let e = emit::emit_version(&m, &facts, &p).unwrap();
        let c = &e.counts;
        assert_eq!(
            c.definitions,
            c.emitted + c.special + c.skipped,
            "{v}: {c:?}"
        );
        assert_eq!(
            c.operations,
            c.ops_emitted + c.ops_folded + c.ops_dropped,
            "{v}: {c:?}"
        );
        eprintln!("{v}: {c:?}");
        if *v == "1.36.0" {
            assert_eq!(c.operations, 1123);
        }
        if *v == "1.37.2" {
            assert_eq!((c.definitions, c.operations), (862, 1202));
        }
    }
}

/// The supported versions (those with a cargo feature in k8s-api), oldest first.
const SUPPORTED: &[&str] = &["1.32.0", "1.33.1", "1.34.0", "1.35.0", "1.36.0", "1.37.2"];

/// The committed generated code (`crates/k8s-api/src/generated`, what a git dependency builds)
/// is exactly what the generator emits from the committed models today, and so are the root
/// module and the crate's feature table: a change to the generator or a model without
/// `cargo xtask generate --all` fails here (as rust-analyzer checks its generated code).
#[test]
fn committed_generated_code_is_current() {
    let api = Path::new(env!("CARGO_MANIFEST_DIR")).join("../k8s-api");
    let dir = api.join(generate::COMMITTED_DIR);
    let supported: Vec<String> = SUPPORTED.iter().map(|v| (*v).to_owned()).collect();
    let mut stale: Vec<String> = Vec::new();
    let mut deps = std::collections::BTreeMap::new();
    for v in SUPPORTED {
        let model = model_text::read_file(&model_path(v)).unwrap();
        let trees = generate::emit_trees(&model).unwrap();
        assert!(
            trees.documented.is_none(),
            "{v}: the committed model has docs"
        );
        for (g, d) in trees.feature_deps {
            deps.entry(g)
                .or_insert_with(std::collections::BTreeSet::new)
                .extend(d);
        }
        let vdir = dir.join(&trees.module);
        let on_disk = files_under(&vdir);
        for (rel, text) in &trees.committed {
            match on_disk.get(rel) {
                Some(t) if t == text => {}
                Some(_) => stale.push(format!("{} differs", vdir.join(rel).display())),
                None => stale.push(format!("{} is missing", vdir.join(rel).display())),
            }
        }
        for rel in on_disk.keys().filter(|r| !trees.committed.contains_key(*r)) {
            stale.push(format!(
                "{} is not generated any more",
                vdir.join(rel).display()
            ));
        }
    }
    let root = generate::root_module(&supported, |_| true);
    if std::fs::read_to_string(dir.join("mod.rs")).unwrap_or_default() != root {
        stale.push(format!("{} differs", dir.join("mod.rs").display()));
    }
    let manifest = std::fs::read_to_string(api.join("Cargo.toml")).unwrap();
    if !manifest.contains(&generate::features_toml(&supported, &deps)) {
        stale.push("the [features] table of crates/k8s-api/Cargo.toml differs".to_owned());
    }
    assert!(
        stale.is_empty(),
        "the committed generated code is stale; run `cargo xtask generate --all` and commit \
         crates/k8s-api/src/generated and crates/k8s-api/Cargo.toml:\n  {}",
        stale.join("\n  ")
    );
}

/// Every file under `dir`, by path relative to it.
fn files_under(dir: &Path) -> std::collections::BTreeMap<PathBuf, String> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_owned();
                out.insert(rel, std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    out
}

/// The rule of ARCHITECTURE.md for required fields (issue 13, defect 2): a required field decodes
/// `null`/absent as its default only when that default is what Go's zero value means on the wire
/// (strings, numbers, booleans, lists, maps, objects, Quantity, IntOrString, raw JSON). A time is
/// a Go `metav1.Time` whose zero value the server writes as `null`: those are `Option`.
#[test]
fn null_tolerant_required_fields_follow_the_rule() {
    use k8s_codegen::ir::{DefKind, Type};
    for v in VERSIONS {
        let mut m = model_text::read_file(&model_path(v)).unwrap();
        let (facts, counts) = fixups::apply_all(&mut m).unwrap();
        let mut by_kind: std::collections::BTreeMap<&str, usize> = Default::default();
        for (def, field) in &facts.null_tolerant {
            let DefKind::Struct(fields) = &m.defs[def].kind else {
                panic!("{def} is not a struct");
            };
            let f = fields.iter().find(|f| &f.json_name == field).unwrap();
            let kind = match &f.ty {
                Type::String | Type::Bytes => "string",
                Type::I32 | Type::I64 | Type::F64 => "number",
                Type::Bool => "bool",
                Type::Array(_) => "list",
                Type::Map(_) => "map",
                Type::IntOrString => "int-or-string",
                Type::Any => "raw JSON",
                Type::DateTime => panic!("{v}: {def}.{field} is a date-time and null-tolerant"),
                Type::Ref(r)
                    if r.ends_with(".meta.v1.Time") || r.ends_with(".meta.v1.MicroTime") =>
                {
                    panic!("{v}: {def}.{field} is a {r} and null-tolerant: its zero is null in Go")
                }
                Type::Ref(r) if r.ends_with(".Quantity") => "Quantity",
                Type::Ref(r) if r.ends_with(".RawExtension") || r.ends_with(".JSON") => "raw JSON",
                Type::Ref(_) => "object",
            };
            *by_kind.entry(kind).or_default() += 1;
        }
        let times = counts
            .iter()
            .find(|(n, _)| *n == "zero-time-optional")
            .unwrap()
            .1;
        eprintln!(
            "{v}: {} null-tolerant required fields {by_kind:?}; {times} required times made optional",
            facts.null_tolerant.len()
        );
        assert!(
            times >= 3,
            "{v}: Event.eventTime, EventSeries.lastObservedTime, Condition.lastTransitionTime"
        );
    }
}
