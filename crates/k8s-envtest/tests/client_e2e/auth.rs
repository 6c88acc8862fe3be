//! The authentication cases of `client_e2e`: every kind of kubeconfig credentials and server
//! verification, and token rotation after a revoked service-account token.

use super::*;

/// A service-account token bound to the Secret `secret` (deleting the Secret revokes it).
async fn bound_token(admin: &Client, ns: &str, sa: &str, secret: &str) -> String {
    let s: Secret = json!({"metadata": {"name": secret}});
    admin.send(Secret::create(ns, &s)).await.unwrap();
    let request: TokenRequest = json!({
        "spec": {
            "audiences": [],
            "expirationSeconds": 3600,
            "boundObjectRef": {"apiVersion": "v1", "kind": "Secret", "name": secret}
        }
    });
    let issued = admin
        .send(ServiceAccount::create_token(ns, sa, &request))
        .await
        .unwrap();
    issued.status.and_then(|s| s.token).unwrap()
}

/// Every kind of credentials a kubeconfig can carry, against the real authenticators.
pub(super) async fn auth_kinds(env: Arc<EnvTest>) {
    // A static bearer token (`token:`).
    let (_, c) = client_with_user(
        &env,
        "auth-token.yaml",
        &format!("    token: {ADMIN_TOKEN}\n"),
    );
    c.unwrap().send(Namespace::list()).await.unwrap();

    // A client certificate: CN is the user, O the groups.
    let carol = env.client_for_cert("carol", &["system:masters"]).unwrap();
    carol.send(Namespace::list()).await.unwrap();

    // A token file (`tokenFile:`).
    let file = env.dir().join("auth-token-file");
    write_atomic(&file, &format!("{NOBODY_TOKEN}\n"));
    let (_, c) = client_with_user(
        &env,
        "auth-token-file.yaml",
        &format!("    tokenFile: {}\n", file.display()),
    );
    let e = c.unwrap().send(Namespace::list()).await.unwrap_err();
    // Authenticated as the token's user (RBAC gives it nothing).
    let (code, reason, message) = api_status(&e);
    assert_eq!((code, reason.as_str()), (403, "Forbidden"), "{e}");
    assert!(
        message.contains("User \"e2e-nobody\" cannot list resource \"namespaces\""),
        "{e}"
    );

    // An exec plugin printing an ExecCredential with the token; it gets the cluster's URL in
    // KUBERNETES_EXEC_INFO (provideClusterInfo).
    let dir = env.dir().join("auth-exec");
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("token");
    write_atomic(&source, ADMIN_TOKEN);
    let plugin = exec_plugin(&dir);
    let (_, c) = client_with_user(
        &env,
        "auth-exec.yaml",
        &format!(
            "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      args: [\"{}\", \"{}\"]\n      interactiveMode: Never\n      provideClusterInfo: true\n",
            plugin.display(),
            source.display(),
            dir.display()
        ),
    );
    let c = c.unwrap();
    c.send(Namespace::list()).await.unwrap();
    c.send(Namespace::list()).await.unwrap();
    assert_eq!(
        plugin_runs(&dir),
        1,
        "the token is cached (no expiry given)"
    );
    let info = std::fs::read_to_string(dir.join("exec-info.json")).unwrap();
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["kind"], "ExecCredential");
    assert_eq!(info["spec"]["cluster"]["server"], env.url());

    // A token that has expired by the time it is printed: the plugin runs for every request.
    let dir = env.dir().join("auth-exec-expired");
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("token");
    write_atomic(&source, ADMIN_TOKEN);
    let plugin = exec_plugin(&dir);
    let (_, c) = client_with_user(
        &env,
        "auth-exec-expired.yaml",
        &format!(
            "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      args: [\"{}\", \"{}\", \"2000-01-01T00:00:00Z\"]\n      interactiveMode: Never\n",
            plugin.display(),
            source.display(),
            dir.display()
        ),
    );
    let c = c.unwrap();
    c.send(Namespace::list()).await.unwrap();
    c.send(Namespace::list()).await.unwrap();
    assert_eq!(plugin_runs(&dir), 2, "an expired token is fetched again");

    // Basic credentials: kube-apiserver 1.36 has no basic authentication, so the header
    // authenticates nobody and the request runs as system:anonymous.
    let (_, c) = client_with_user(
        &env,
        "auth-basic.yaml",
        "    username: admin\n    password: secret-password\n",
    );
    let e = c.unwrap().send(Namespace::list()).await.unwrap_err();
    let (code, _, message) = api_status(&e);
    assert_eq!(code, 403, "{e}");
    assert!(message.contains("User \"system:anonymous\""), "{e}");
    assert!(!e.to_string().contains("secret-password"), "{e}");

    // A client certificate the cluster's CA did not sign: 401 (the apiserver asks for client
    // certificates without requiring them in the handshake, and refuses this one after it).
    let (cert, key) = self_signed_client_cert("mallory", "system:masters");
    let dir = env.dir().join("auth-foreign-cert");
    std::fs::create_dir_all(&dir).unwrap();
    write_atomic(&dir.join("tls.crt"), &cert);
    write_atomic(&dir.join("tls.key"), &key);
    let (_, c) = client_with_user(
        &env,
        "auth-foreign-cert.yaml",
        &format!(
            "    client-certificate: {}\n    client-key: {}\n",
            dir.join("tls.crt").display(),
            dir.join("tls.key").display()
        ),
    );
    let e = c.unwrap().send(Namespace::list()).await.unwrap_err();
    assert!(e.is_unauthorized(), "{e}");

    // TLS: `tls-server-name` names a host the serving certificate holds (the URL's IP is kept
    // for the connection); a name it does not hold fails the handshake, as does no CA at all;
    // `insecure-skip-tls-verify` skips the check.
    let ca = env.dir().join("pki/ca.crt");
    let token = format!("    token: {ADMIN_TOKEN}\n");
    let cluster = |extra: &str| format!("    certificate-authority: {}\n{extra}", ca.display());
    let (_, c) = client_with(
        &env,
        "tls-name.yaml",
        &cluster("    tls-server-name: localhost\n"),
        &token,
    );
    c.unwrap().send(Namespace::list()).await.unwrap();
    for (file, cluster) in [
        (
            "tls-wrong-name.yaml",
            cluster("    tls-server-name: wrong.example\n"),
        ),
        ("tls-no-ca.yaml", String::new()),
    ] {
        let (_, c) = client_with(&env, file, &cluster, &token);
        let t = Instant::now();
        let e = c.unwrap().send(Namespace::list()).await.unwrap_err();
        eprintln!("client-e2e: {file}: {e} ({:.1?})", t.elapsed());
        assert!(e.is_connect(), "{file}: {e}");
        // A certificate the client refuses is refused again on a retry: no retries.
        assert!(!e.to_string().contains("attempts"), "{file}: {e}");
        assert!(matches!(e, Error::Transport { .. }), "{file}: {e}");
        assert!(!e.to_string().contains(ADMIN_TOKEN), "{e}");
    }
    let (_, c) = client_with(
        &env,
        "tls-insecure.yaml",
        "    insecure-skip-tls-verify: true\n",
        &token,
    );
    c.unwrap().send(Namespace::list()).await.unwrap();

    // A token the server does not know: 401, typed.
    let (_, c) = client_with_user(&env, "auth-wrong.yaml", "    token: not-a-known-token\n");
    let e = c.unwrap().send(Namespace::list()).await.unwrap_err();
    assert!(e.is_unauthorized(), "{e}");
    let (code, reason, _) = api_status(&e);
    assert_eq!((code, reason.as_str()), (401, "Unauthorized"), "{e}");
    assert!(!e.to_string().contains("not-a-known-token"), "{e}");
}

/// A self-signed client certificate (CN `user`, O `group`): `(certificate PEM, key PEM)`.
fn self_signed_client_cert(user: &str, group: &str) -> (String, String) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, user);
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, group);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// Writes an exec plugin to `dir`: `plugin TOKEN_FILE DIR [EXPIRY]` prints an ExecCredential
/// with the file's token (and `expirationTimestamp` EXPIRY), appends a line to `DIR/runs` and
/// saves `KUBERNETES_EXEC_INFO`.
fn exec_plugin(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("plugin.sh");
    let script = r#"#!/bin/sh
echo run >> "$2/runs"
printf '%s' "$KUBERNETES_EXEC_INFO" > "$2/exec-info.json"
if [ -n "$3" ]; then expiry=",\"expirationTimestamp\":\"$3\""; else expiry=""; fi
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"%s}}\n' "$(cat "$1")" "$expiry"
"#;
    write_atomic(&path, script);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn plugin_runs(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("runs"))
        .unwrap_or_default()
        .lines()
        .count()
}

/// A service-account token revoked (its bound Secret deleted) while two clients use it: the
/// in-cluster client re-reads its token file after the 401, the exec-plugin client runs its
/// plugin again, and both go on with the new token. The refresh interval is an hour, so only the
/// 401 can have made them re-read.
pub(super) async fn token_rotation(env: Arc<EnvTest>) {
    let admin = env.client();
    let ns = "e2e-rotate";
    namespace(&admin, ns).await;
    let sa: ServiceAccount = json!({"metadata": {"name": "app"}});
    admin.send(ServiceAccount::create(ns, &sa)).await.unwrap();
    // Its own Role: the aggregated ClusterRole `view` is empty without the controller-manager.
    let role: Role = json!({
        "metadata": {"name": "cm-reader"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}]
    });
    admin.send(Role::create(ns, &role)).await.unwrap();
    let binding: RoleBinding = json!({
        "metadata": {"name": "app-cm-reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": ns}]
    });
    admin.send(RoleBinding::create(ns, &binding)).await.unwrap();
    let first = bound_token(&admin, ns, "app", "bind-1").await;

    // In-cluster: the token, ca.crt and namespace files of a Pod.
    let pod = env.in_cluster_dir(ns, &first).unwrap();
    let mut config = ConfigLoader::new()
        .env_map(BTreeMap::from([
            ("KUBERNETES_SERVICE_HOST".to_owned(), pod.host.clone()),
            ("KUBERNETES_SERVICE_PORT".to_owned(), pod.port.to_string()),
        ]))
        .service_account_dir(&pod.dir)
        .in_cluster()
        .unwrap();
    config.credential_refresh_interval = Duration::from_secs(3600);
    let in_cluster = Client::new(config).unwrap();
    assert_eq!(in_cluster.namespace(), ns);

    // An exec plugin handing out the same token.
    let dir = env.dir().join("rotate-exec");
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("token");
    write_atomic(&source, &first);
    let plugin = exec_plugin(&dir);
    let (kubeconfig, _) = client_with_user(
        &env,
        "rotate-exec.yaml",
        &format!(
            "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      args: [\"{}\", \"{}\"]\n      interactiveMode: Never\n",
            plugin.display(),
            source.display(),
            dir.display()
        ),
    );
    let mut config = ConfigLoader::new()
        .env_map(BTreeMap::new())
        .kubeconfig_paths([kubeconfig])
        .kubeconfig()
        .unwrap();
    config.credential_refresh_interval = Duration::from_secs(3600);
    let exec = Client::new(config).unwrap();

    // Both work once RBAC has seen the binding (the service account may list ConfigMaps).
    for (who, client) in [("in-cluster", &in_cluster), ("exec", &exec)] {
        eventually(who, Duration::from_secs(15), || async {
            match client.send(ConfigMap::list(ns)).await {
                Ok(_) => Some(()),
                Err(e) if e.is_forbidden() => None,
                Err(e) => panic!("{who}: {e}"),
            }
        })
        .await;
    }
    assert_eq!(plugin_runs(&dir), 1);

    // Revoke the first token: delete the Secret it is bound to. The apiserver caches a
    // successful authentication for up to 10 s; wait until the token is refused.
    let second = bound_token(&admin, ns, "app", "bind-2").await;
    admin.send(Secret::delete(ns, "bind-1")).await.unwrap();
    let (_, stale) = client_with_user(&env, "rotate-stale.yaml", &format!("    token: {first}\n"));
    let stale = stale.unwrap();
    let refused = eventually(
        "the revoked token refused",
        Duration::from_secs(30),
        || async {
            match stale.send(ConfigMap::list(ns)).await {
                Ok(_) => None,
                Err(e) if e.is_unauthorized() => Some(e),
                Err(e) => panic!("{e}"),
            }
        },
    )
    .await;
    assert!(
        !refused.to_string().contains(&first),
        "the token leaked: {refused}"
    );

    // The new token lands where each client gets its token from.
    write_atomic(&pod.dir.join("token"), &second);
    write_atomic(&source, &second);
    for (who, client) in [("in-cluster", &in_cluster), ("exec", &exec)] {
        client
            .send(ConfigMap::list(ns))
            .await
            .unwrap_or_else(|e| panic!("{who} after the rotation: {e}"));
    }
    assert_eq!(plugin_runs(&dir), 2, "the plugin ran again after the 401");

    // A revoked token and nothing new: the 401 is the answer (one refresh, no loop).
    write_atomic(&pod.dir.join("token"), &first);
    let mut config = ConfigLoader::new()
        .env_map(BTreeMap::from([
            ("KUBERNETES_SERVICE_HOST".to_owned(), pod.host.clone()),
            ("KUBERNETES_SERVICE_PORT".to_owned(), pod.port.to_string()),
        ]))
        .service_account_dir(&pod.dir)
        .in_cluster()
        .unwrap();
    config.credential_refresh_interval = Duration::from_secs(3600);
    let e = Client::new(config)
        .unwrap()
        .send(ConfigMap::list(ns))
        .await
        .unwrap_err();
    assert!(e.is_unauthorized(), "{e}");
    assert!(
        e.to_string().contains("in-cluster"),
        "the error names the identity: {e}"
    );
}
