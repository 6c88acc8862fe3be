//! The real Kubernetes 1.37.2 control plane with every API on, for `list_everything.rs` and
//! `protobuf_real_server.rs` (`#[path]`-included). Skips (one line, `None`) without the cached
//! binaries, even with `K8S_ENVTEST_REQUIRED=1`: CI builds only the pinned 1.36 control plane.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use k8s_envtest::{Binaries, EnvTest};

/// Kubernetes 1.37 (the `latest` of k8s-api), whose spec was fetched from this apiserver.
pub const V1_37: &str = "1.37.2";

/// Starts etcd, kube-apiserver (`--runtime-config=api/all=true`) and kube-controller-manager of
/// 1.37.2; `None` after one line on stderr naming `what` when the binaries are not built.
pub async fn start(what: &str) -> Option<EnvTest> {
    let binaries = match Binaries::locate(V1_37) {
        Ok(b) => b,
        Err(e) => {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "skipped: {what} needs the {V1_37} control plane ({e}); `cargo xtask envtest install --kubernetes {V1_37}` builds it (not in CI: a cold build takes over an hour)"
            );
            return None;
        }
    };
    let env = EnvTest::builder()
        .binaries(binaries)
        .controller_manager()
        .apiserver_flag("--runtime-config=api/all=true")
        // With every API on, the endpoint reconciler refuses a loopback advertise address
        // (upstream's hack/update-openapi-spec.sh uses this one too).
        .apiserver_flag("--advertise-address=10.10.10.10")
        .start()
        .await
        .unwrap();
    assert_eq!(env.version(), V1_37);
    Some(env)
}
