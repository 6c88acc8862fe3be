//! The example binaries in `--real-cluster` mode against a real control plane (etcd and
//! kube-apiserver of `k8s-envtest`): each binary gets the control plane's `KUBECONFIG` (or the
//! URL of a real `kubectl proxy`) in a clean environment, as on a workstation.
//!
//! Not run here: `logs-and-exec` (needs a kubelet and a running container, which envtest does
//! not have), `downward-api` (makes no API call; `tests/binaries.rs` runs it), and
//! `widget-operator` (`tests/widget_operator.rs` runs it against the real apiserver).
//!
//! Skips with one line unless the envtest binaries are installed (`cargo xtask envtest
//! install`); `K8S_ENVTEST_REQUIRED=1` makes that a failure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Instant;

use k8s_api::latest::core::v1::ServiceAccount;

const ADMIN_TOKEN: &str = "real-admin-token-0042";
const READER_TOKEN: &str = "real-reader-token-0043";

async fn run(bin: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin);
    cmd.args(args).env_clear().env("HOME", "/nonexistent");
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// Stdout, and stderr after it, for messages.
fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `kubectl proxy` on a free port; its URL. Killed when the guard drops.
struct Proxy(Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn kubectl_proxy(kubeconfig: &Path) -> Option<(Proxy, String)> {
    let mut child = match Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["proxy", "--port=0", "--address=127.0.0.1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("examples: kubectl proxy not run ({e}); proxy-discovery skipped");
            return None;
        }
    };
    let out = child.stdout.take().unwrap();
    let proxy = Proxy(child);
    // "Starting to serve on 127.0.0.1:PORT"
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_else(|| panic!("kubectl proxy said {line:?}"))
        .to_owned();
    Some((proxy, format!("http://{addr}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_examples_against_a_real_control_plane() {
    let Some(binaries) = k8s_envtest::binaries_or_skip().unwrap() else {
        return;
    };
    let started = Instant::now();
    let env = k8s_envtest::EnvTest::builder()
        .binaries(binaries)
        .token(ADMIN_TOKEN, "admin", &["system:masters"])
        .token(READER_TOKEN, "reader", &[])
        .start()
        .await
        .unwrap();
    // The ServiceAccount admission plugin needs `default/default` to admit Pods; without the
    // controller-manager nobody else creates it.
    let sa: ServiceAccount =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "default"}})).unwrap();
    env.client()
        .send(ServiceAccount::create("default", &sa))
        .await
        .unwrap();
    let admin = env.kubeconfig_for(ADMIN_TOKEN).unwrap();
    let reader = env.kubeconfig_for(READER_TOKEN).unwrap();
    let as_admin = [("KUBECONFIG", path(&admin))];

    // watch-and-list: every Pod in pages (there are none), then a watch that stops at once.
    let o = run(
        env!("CARGO_BIN_EXE_watch-and-list"),
        &["--real-cluster", "--max-events", "0"],
        &as_admin,
    )
    .await;
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("0 pods in 1 pages"), "{t}");
    assert!(t.contains("0 events over"), "{t}");

    // in-cluster-create-pod: 403 from RBAC with the real message, then 201 as the admin.
    let bin = env!("CARGO_BIN_EXE_in-cluster-create-pod");
    let o = run(bin, &["--real-cluster"], &[("KUBECONFIG", path(&reader))]).await;
    let t = stdout(&o);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        t.contains("-> 403 (Authorization: Bearer <redacted>"),
        "{t}"
    );
    assert!(
        t.contains("pods is forbidden: User \"reader\" cannot create resource \"pods\" in API group \"\" in the namespace \"default\""),
        "{t}"
    );
    assert!(!t.contains(READER_TOKEN), "{t}");
    let o = run(bin, &["--real-cluster"], &as_admin).await;
    let t = stdout(&o);
    assert!(o.status.success(), "{}", text(&o));
    assert!(t.contains("201 Created: pod default/nginx"), "{t}");
    assert!(t.contains("deleted pod default/nginx"), "{t}");
    assert!(!t.contains(ADMIN_TOKEN), "{t}");

    // defaulting-and-validation: the real server's defaults and its 422.
    let o = run(
        env!("CARGO_BIN_EXE_defaulting-and-validation"),
        &["--real-cluster"],
        &as_admin,
    )
    .await;
    let t = stdout(&o);
    assert!(o.status.success(), "{}", text(&o));
    assert!(t.contains("spec.dnsPolicy = \"ClusterFirst\""), "{t}");
    assert!(t.contains("422 Invalid"), "{t}");
    assert_eq!(t.matches("  deleted ").count(), 2, "{t}");

    // auth-kinds: anonymous is refused by RBAC, the kubeconfig's token is accepted.
    let o = run(
        env!("CARGO_BIN_EXE_auth-kinds"),
        &["--real-cluster"],
        &as_admin,
    )
    .await;
    let t = stdout(&o);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        t.contains("no credentials                           -> 403 Forbidden"),
        "{t}"
    );
    assert!(
        t.contains("current configuration                    -> 200 OK"),
        "{t}"
    );
    assert!(!t.contains(ADMIN_TOKEN), "{t}");

    // proxy-discovery through the real `kubectl proxy`.
    if let Some((_proxy, url)) = kubectl_proxy(env.admin_kubeconfig()) {
        let o = run(
            env!("CARGO_BIN_EXE_proxy-discovery"),
            &["--real-cluster", "--url", &url],
            &[],
        )
        .await;
        let t = stdout(&o);
        assert!(o.status.success(), "{}", text(&o));
        assert!(t.contains("versions: batch/v1; preferred: batch/v1"), "{t}");
        assert!(t.contains("0 jobs"), "{t}");
        assert!(
            t.contains("-> 404 NotFound: the server could not find the requested resource"),
            "{t}"
        );
    }
    eprintln!(
        "examples: against kube-apiserver {} in {:.1?} (control plane ready in {:.1?})",
        env.version(),
        started.elapsed(),
        env.startup_time()
    );
}
