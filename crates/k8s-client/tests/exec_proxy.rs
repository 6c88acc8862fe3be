//! Exec credential plugins (real child processes), proxies (a real CONNECT proxy on
//! loopback) and the in-cluster/kubeconfig loaders end to end against loopback servers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};

use k8s_client::{Auth, Client, Config, ConfigLoader, ExecConfig, SecretString};
use k8s_core::ops::GetRequest;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn get_a() -> GetRequest<ConfigMap> {
    GetRequest::new("/api/v1/namespaces/default/configmaps/a".into())
}

fn accept_token(valid: Arc<Mutex<String>>) -> Handler {
    Arc::new(move |r: &Recorded| {
        if r.authorization.as_deref() == Some(format!("Bearer {}", valid.lock().unwrap()).as_str())
        {
            json(200, &cm("a", "1"))
        } else {
            status(401, "Unauthorized", "Unauthorized")
        }
    })
}

const PLUGIN: &str = r#"#!/bin/sh
echo run >> "$COUNT_FILE"
printf '%s' "$KUBERNETES_EXEC_INFO" > "$INFO_FILE"
if [ -n "$FAIL" ]; then echo "plugin says: login required" >&2; exit 3; fi
printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}' "$API" "$(cat "$TOKEN_FILE")" "$EXP"
"#;

struct Plugin {
    dir: tempfile::TempDir,
}

impl Plugin {
    fn new() -> Plugin {
        let dir = temp_dir("exec");
        let script = dir.path().join("plugin.sh");
        std::fs::write(&script, PLUGIN).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.path().join("token"), "exec-token-1").unwrap();
        Plugin { dir }
    }
    fn config(&self, api: &str, exp: &str, fail: bool) -> ExecConfig {
        let p = |f: &str| self.dir.path().join(f).display().to_string();
        let mut env = vec![
            ("COUNT_FILE".to_string(), SecretString::new(p("count"))),
            ("INFO_FILE".to_string(), SecretString::new(p("info"))),
            ("TOKEN_FILE".to_string(), SecretString::new(p("token"))),
            ("EXP".to_string(), SecretString::new(exp)),
            (
                "API".to_string(),
                SecretString::new(format!("client.authentication.k8s.io/{api}")),
            ),
            (
                "PLUGIN_SECRET".to_string(),
                SecretString::new("env-secret-value"),
            ),
        ];
        if fail {
            env.push(("FAIL".into(), SecretString::new("1")));
        }
        let yaml = format!(
            "current-context: c\nclusters: [{{name: k, cluster: {{server: 'https://k.example:6443', tls-server-name: k.internal}}}}]\n\
             contexts: [{{name: c, context: {{cluster: k, user: u}}}}]\n\
             users: [{{name: u, user: {{exec: {{apiVersion: client.authentication.k8s.io/{api}, command: {}, args: [--flag], provideClusterInfo: true{}}}}}}}]\n",
            p("plugin.sh"),
            if api == "v1" {
                ", interactiveMode: Never"
            } else {
                ""
            }
        );
        let kc = k8s_client::Kubeconfig::from_yaml(&yaml, &self.dir.path().join("config")).unwrap();
        let Auth::Exec(mut exec) = kc.resolve(&Default::default()).unwrap().auth else {
            panic!("not exec")
        };
        exec.env = env;
        *exec
    }
    fn runs(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("count"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }
    fn info(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.dir.path().join("info")).unwrap())
            .unwrap()
    }
}

#[tokio::test]
async fn exec_plugin_token_is_cached_until_expiry_and_refreshed_on_401() {
    let plugin = Plugin::new();
    let valid = Arc::new(Mutex::new("exec-token-1".to_string()));
    let srv = serve(None, false, accept_token(valid.clone())).await;
    let mut c = Config::new(srv.http_url());
    c.auth = Auth::Exec(Box::new(plugin.config("v1", "2099-01-01T00:00:00Z", false)));
    let client = Client::try_from(c).unwrap();
    for _ in 0..3 {
        client.send(get_a()).await.unwrap();
    }
    assert_eq!(plugin.runs(), 1, "cached until expirationTimestamp");
    let info = plugin.info();
    assert_eq!(info["apiVersion"], "client.authentication.k8s.io/v1");
    assert_eq!(info["kind"], "ExecCredential");
    assert_eq!(info["spec"]["interactive"], false);
    assert_eq!(info["spec"]["cluster"]["server"], "https://k.example:6443");
    assert_eq!(info["spec"]["cluster"]["tls-server-name"], "k.internal");

    // The server stops accepting the token: 401, the plugin runs again at once, one retry.
    std::fs::write(plugin.dir.path().join("token"), "exec-token-2").unwrap();
    *valid.lock().unwrap() = "exec-token-2".into();
    client.send(get_a()).await.unwrap();
    assert_eq!(plugin.runs(), 2);
    let auths: Vec<_> = srv
        .requests()
        .into_iter()
        .filter_map(|r| r.authorization)
        .collect();
    assert_eq!(
        auths[3..],
        [
            "Bearer exec-token-1".to_string(),
            "Bearer exec-token-2".to_string()
        ]
    );
}

#[tokio::test]
async fn exec_plugin_v1beta1_with_expired_token_runs_every_time() {
    let plugin = Plugin::new();
    let valid = Arc::new(Mutex::new("exec-token-1".to_string()));
    let srv = serve(None, false, accept_token(valid)).await;
    let mut c = Config::new(srv.http_url());
    c.auth = Auth::Exec(Box::new(plugin.config(
        "v1beta1",
        "2001-01-01T00:00:00Z",
        false,
    )));
    let client = Client::try_from(c).unwrap();
    client.send(get_a()).await.unwrap();
    client.send(get_a()).await.unwrap();
    assert_eq!(plugin.runs(), 2);
    assert_eq!(
        plugin.info()["apiVersion"],
        "client.authentication.k8s.io/v1beta1"
    );
}

#[tokio::test]
async fn exec_plugin_failures_are_errors_naming_the_plugin_without_secrets() {
    let plugin = Plugin::new();
    let srv = serve(
        None,
        false,
        accept_token(Arc::new(Mutex::new(String::new()))),
    )
    .await;
    let mut c = Config::new(srv.http_url());
    c.auth = Auth::Exec(Box::new(plugin.config("v1", "2099-01-01T00:00:00Z", true)));
    let e = Client::try_from(c.clone())
        .unwrap()
        .send(get_a())
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("plugin.sh") && msg.contains("login required"),
        "{msg}"
    );
    assert!(!msg.contains("env-secret-value") && !format!("{e:?}").contains("env-secret-value"));
    assert!(srv.requests().is_empty(), "no request without credentials");

    let mut missing = plugin.config("v1", "", false);
    missing.command = "/nonexistent/kubelogin".into();
    missing.install_hint = Some("install kubelogin from your package manager".into());
    c.auth = Auth::Exec(Box::new(missing));
    let msg = Client::try_from(c)
        .unwrap()
        .send(get_a())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("/nonexistent/kubelogin") && msg.contains("install kubelogin"),
        "{msg}"
    );
}

/// A CONNECT proxy on 127.0.0.1 that tunnels every target to 127.0.0.1:<target port> and
/// records the CONNECT targets.
async fn connect_proxy() -> (
    std::net::SocketAddr,
    Arc<Mutex<Vec<String>>>,
    tokio::task::JoinHandle<()>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let seen = seen2.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                    if inbound.read_exact(&mut b).await.is_err() {
                        return;
                    }
                    head.push(b[0]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let target = head.split_whitespace().nth(1).unwrap_or("").to_string();
                seen.lock().unwrap().push(format!(
                    "{} {target}",
                    head.split_whitespace().next().unwrap_or("")
                ));
                let port = target.rsplit(':').next().unwrap_or("0").to_string();
                let Ok(mut outbound) =
                    tokio::net::TcpStream::connect(format!("127.0.0.1:{port}")).await
                else {
                    return;
                };
                let _ = inbound
                    .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                    .await;
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    (addr, seen, task)
}

fn write_kubeconfig(
    dir: &std::path::Path,
    server: &str,
    ca_pem: &str,
    extra_cluster: &str,
) -> std::path::PathBuf {
    use base64::Engine as _;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let path = dir.join("config");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\n{extra_cluster}\
             contexts:\n- name: c\n  context: {{cluster: k, user: u, namespace: team}}\nusers:\n- name: u\n  user: {{token: kube-token}}\n"
        ),
    )
    .unwrap();
    path
}

#[tokio::test]
async fn proxy_url_and_https_proxy_tunnel_through_connect() {
    let pki = Pki::new("ca");
    let srv = serve(
        Some(server_tls(None, &pki.server(&["apiserver.test"]))),
        false,
        Arc::new(|_r: &Recorded| json(200, &cm("a", "1"))),
    )
    .await;
    let (proxy, seen, _task) = connect_proxy().await;
    let dir = temp_dir("proxy");
    let server = format!("https://apiserver.test:{}", srv.addr.port());

    // proxy-url in the kubeconfig.
    let kc = write_kubeconfig(
        dir.path(),
        &server,
        &pki.ca_pem,
        &format!("    proxy-url: http://{proxy}\n"),
    );
    let config = ConfigLoader::new()
        .env_map(BTreeMap::from([(
            "NO_PROXY".to_string(),
            "apiserver.test".to_string(),
        )]))
        .kubeconfig_paths([kc])
        .kubeconfig()
        .unwrap();
    assert_eq!(
        config.proxy_url.as_deref(),
        Some(format!("http://{proxy}").as_str()),
        "proxy-url ignores NO_PROXY"
    );
    let client = Client::try_from(config).unwrap();
    client.send(get_a()).await.unwrap();
    assert_eq!(
        seen.lock().unwrap().clone(),
        [format!("CONNECT apiserver.test:{}", srv.addr.port())]
    );
    assert_eq!(
        srv.requests()[0].authorization.as_deref(),
        Some("Bearer kube-token")
    );

    // HTTPS_PROXY from the environment, NO_PROXY not matching.
    let kc = write_kubeconfig(dir.path(), &server, &pki.ca_pem, "");
    let env = BTreeMap::from([
        ("HTTPS_PROXY".to_string(), format!("{proxy}")),
        (
            "NO_PROXY".to_string(),
            "10.0.0.0/8,.corp.example,localhost".to_string(),
        ),
    ]);
    let config = ConfigLoader::new()
        .env_map(env.clone())
        .kubeconfig_paths([kc.clone()])
        .kubeconfig()
        .unwrap();
    assert_eq!(config.default_namespace, "team");
    Client::try_from(config)
        .unwrap()
        .send(get_a())
        .await
        .unwrap();
    assert_eq!(seen.lock().unwrap().len(), 2);

    // NO_PROXY matching the server's domain: no proxy.
    let mut env2 = env;
    env2.insert("NO_PROXY".into(), ".test".into());
    let config = ConfigLoader::new()
        .env_map(env2)
        .kubeconfig_paths([kc])
        .kubeconfig()
        .unwrap();
    assert_eq!(config.proxy_url, None);
}

#[tokio::test]
async fn in_cluster_loader_end_to_end() {
    let pki = Pki::new("cluster-ca");
    let srv = serve(
        Some(server_tls(None, &pki.server(&["127.0.0.1"]))),
        false,
        accept_token(Arc::new(Mutex::new("sa-token".into()))),
    )
    .await;
    let dir = temp_dir("sa");
    std::fs::write(dir.path().join("token"), "sa-token\n").unwrap();
    std::fs::write(dir.path().join("ca.crt"), &pki.ca_pem).unwrap();
    std::fs::write(dir.path().join("namespace"), "shop").unwrap();
    let env = BTreeMap::from([
        (
            "KUBERNETES_SERVICE_HOST".to_string(),
            "127.0.0.1".to_string(),
        ),
        (
            "KUBERNETES_SERVICE_PORT".to_string(),
            srv.addr.port().to_string(),
        ),
    ]);
    // infer(): no kubeconfig (empty home), so in-cluster.
    let config = ConfigLoader::new()
        .env_map(env)
        .home_dir(dir.path().join("no-home"))
        .service_account_dir(dir.path())
        .infer()
        .unwrap();
    let client = Client::try_from(config).unwrap();
    assert_eq!(client.namespace(), "shop");
    client.send(get_a()).await.unwrap();
    assert_eq!(
        srv.requests()[0].authorization.as_deref(),
        Some("Bearer sa-token")
    );
}
