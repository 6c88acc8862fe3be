//! The SDK as a user gets it, outside this repository (issue 10):
//!
//! * `packaged_crates_build_and_document`: `cargo xtask package` writes the `.crate` files; a
//!   fresh project depends on them (unpacked, patched in with `[patch.crates-io]`), builds
//!   offline, runs against the in-process test server, and `cargo doc` documents k8s-api (with the
//!   spec's descriptions when spec files are at hand, as in CI).
//! * `git_dependency_builds_without_xtask`: a fresh project depends on a `git = "file://…"` clone
//!   of this repository (what is committed, nothing generated on the side), builds and runs.
//!
//! Both build a real program with cargo (in `target/consumer`, shared between the two so the
//! registry crates compile once) and run it against `k8s_testserver::TestServer`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

/// The two tests share the consumer target directory; cargo would serialise them anyway.
static CARGO_LOCK: Mutex<()> = Mutex::new(());

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.env("CARGO_TARGET_DIR", root().join("target/consumer"))
        .env_remove("RUSTFLAGS")
        .env("CARGO_TERM_COLOR", "never");
    c
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Writes the consumer project: `deps` is the `[dependencies]` entries of the three SDK crates,
/// `extra` is appended to the manifest. The workspace's lock file seeds the consumer's, so the
/// build resolves offline to the versions this repository is tested with.
fn write_consumer(dir: &Path, deps: &str, extra: &str) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"consumer\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
             [dependencies]\n{deps}\
             tokio = {{ version = \"1\", features = [\"rt-multi-thread\", \"macros\"] }}\n\n\
             [workspace]\n\n{extra}"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("src/main.rs"),
        include_str!("consumer/main.rs.txt"),
    )
    .unwrap();
    std::fs::copy(root().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
}

/// Runs the built consumer against a fresh test server and checks what it did there.
fn run_against_test_server(dir: &Path) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(async {
        k8s_testserver::TestServer::builder()
            .token("consumer-token", "consumer", &["system:masters"])
            .start()
            .await
            .unwrap()
    });
    let out = run(cargo()
        .current_dir(dir)
        .args(["run", "--quiet", "--offline"])
        .env("KUBECONFIG", server.kubeconfig_for("consumer-token")));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"pods: 0"), "{stdout}");
    assert!(
        lines
            .get(1)
            .is_some_and(|l| l.starts_with("created: uid ") && l.len() > 20),
        "{stdout}"
    );
    assert_eq!(lines.get(2), Some(&"read: replicas 2"), "{stdout}");
    let apps = lines
        .get(3)
        .and_then(|l| l.strip_prefix("apps/v1: "))
        .unwrap_or("");
    for r in [
        "deployments",
        "deployments/scale",
        "replicasets",
        "statefulsets",
    ] {
        assert!(apps.split(',').any(|n| n == r), "{r} missing: {stdout}");
    }
    let log = server.request_log();
    let posted = log.iter().any(|r| {
        r.method == "POST"
            && r.path_and_query
                .starts_with("/apis/apps/v1/namespaces/default/deployments")
            && r.user == "consumer"
    });
    assert!(posted, "no POST of the Deployment in {log:#?}");
}

fn spec_dir() -> Option<PathBuf> {
    let d = std::env::var_os("K8S_SPEC_DIR").map(PathBuf::from)?;
    d.join("v1.36.0/swagger.json").is_file().then_some(d)
}

/// The first words of Pod's description in the spec (up to the first character that rustdoc
/// might render differently), to find in the generated HTML.
fn pod_description_start(spec: &Path) -> String {
    let text = std::fs::read_to_string(spec.join("v1.36.0/swagger.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let d = v["definitions"]["io.k8s.api.core.v1.Pod"]["description"]
        .as_str()
        .unwrap();
    let end = d
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == ' '))
        .unwrap_or(d.len());
    d[..end].trim().to_owned()
}

#[test]
fn packaged_crates_build_and_document() {
    let _guard = CARGO_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let crates = tmp.path().join("crates");
    run(Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["package", "--out"])
        .arg(&crates));
    let unpacked = tmp.path().join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    let mut patch = String::from("[patch.crates-io]\n");
    for c in ["k8s-core", "k8s-api", "k8s-client"] {
        let file = crates.join(format!("{c}-0.1.0.crate"));
        run(Command::new("tar")
            .arg("xzf")
            .arg(&file)
            .arg("-C")
            .arg(&unpacked));
        patch.push_str(&format!(
            "{c} = {{ path = {:?} }}\n",
            unpacked.join(format!("{c}-0.1.0")).display().to_string()
        ));
    }
    // What a consumer needs is in the package: the committed tree (with descriptions when spec
    // files were at hand) and the build script, but not the repository's tests.
    let api = unpacked.join("k8s-api-0.1.0");
    assert!(api.join("src/generated/v1_36/core/v1/mod.rs").is_file());
    assert!(api.join("build.rs").is_file());
    assert!(!api.join("src/documented").exists());

    let consumer = tmp.path().join("consumer");
    write_consumer(
        &consumer,
        "k8s-api = { version = \"0.1\", default-features = false, features = [\"v1_36\", \"core\", \"apps\"] }\n\
         k8s-core = \"0.1\"\nk8s-client = \"0.1\"\n",
        &patch,
    );
    run(cargo()
        .current_dir(&consumer)
        .args(["build", "--quiet", "--offline"]));
    run_against_test_server(&consumer);

    run(cargo().current_dir(&consumer).args([
        "doc",
        "--quiet",
        "--offline",
        "--no-deps",
        "-p",
        "k8s-api",
    ]));
    let html = std::fs::read_to_string(
        root().join("target/consumer/doc/k8s_api/v1_36/core/v1/struct.Pod.html"),
    )
    .unwrap();
    match spec_dir() {
        Some(spec) => {
            let start = pod_description_start(&spec);
            assert!(start.len() > 10, "{start:?}");
            assert!(
                html.contains(&start),
                "the packaged docs lack Pod's description ({start:?})"
            );
        }
        None => eprintln!("no spec files (K8S_SPEC_DIR): packaged without descriptions"),
    }
}

#[test]
fn git_dependency_builds_without_xtask() {
    let _guard = CARGO_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    // A clone holds exactly what is committed: no generated code left over from this checkout.
    let repo = tmp.path().join("k8s-sdk");
    run(Command::new("git")
        .args(["clone", "--quiet", "--no-local"])
        .arg(root())
        .arg(&repo));
    let url = format!("file://{}", repo.display());
    let consumer = tmp.path().join("consumer");
    write_consumer(
        &consumer,
        &format!(
            "k8s-api = {{ git = {url:?}, default-features = false, features = [\"v1_36\", \"core\", \"apps\"] }}\n\
             k8s-core = {{ git = {url:?} }}\nk8s-client = {{ git = {url:?} }}\n"
        ),
        "",
    );
    // The git source is fetched from the local clone. `--offline` would refuse any git source, so
    // this build may refresh the crates.io index as a user's build does; the registry crates are
    // those of the seeded lock file, already in the local cache.
    run(cargo().current_dir(&consumer).args(["build", "--quiet"]));
    run_against_test_server(&consumer);
}
