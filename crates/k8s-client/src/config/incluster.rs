//! The in-cluster configuration: what a Pod sees.

use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;

use super::{CaSource, Config, ConfigLoader};
use crate::Auth;
use crate::error::ConfigError;

/// Where the kubelet mounts the service account's token, CA and namespace.
pub const DEFAULT_SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

pub(super) fn load(loader: &ConfigLoader) -> Result<Config, ConfigError> {
    let host = loader.var("KUBERNETES_SERVICE_HOST");
    let port = loader.var("KUBERNETES_SERVICE_PORT");
    let (host, port) = match (host, port) {
        (Some(h), Some(p)) => (h, p),
        _ => {
            return Err(ConfigError::NotInCluster(
                "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set".into(),
            ));
        }
    };
    let port = port
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| ConfigError::Invalid {
            origin: "in-cluster environment".into(),
            key: "KUBERNETES_SERVICE_PORT".into(),
            message: format!("{port:?} is not a port number (1-65535)"),
        })?;
    let host = host.trim();
    // client-go joins whatever is there (`h/x` becomes host `h` with a path); here the host must
    // be an IP address or a DNS name, so the token never goes to another server or path.
    let authority = match service_host(host) {
        Some(h) => format!("{h}:{port}"),
        None => {
            return Err(ConfigError::Invalid {
                origin: "in-cluster environment".into(),
                key: "KUBERNETES_SERVICE_HOST".into(),
                message: format!("{host:?} is neither an IP address nor a DNS name"),
            });
        }
    };
    let url: http::Uri =
        format!("https://{authority}")
            .parse()
            .map_err(|e| ConfigError::Invalid {
                origin: "in-cluster environment".into(),
                key: "KUBERNETES_SERVICE_HOST".into(),
                message: format!("{host:?} does not make a URL: {e}"),
            })?;
    let dir = &loader.sa_dir;
    let token = dir.join("token");
    // Read once now so a missing service account is reported at load time.
    std::fs::metadata(&token).map_err(|source| ConfigError::Read {
        what: "service account token",
        path: token.clone(),
        source,
    })?;
    let ca = dir.join("ca.crt");
    let namespace = match loader.var("POD_NAMESPACE") {
        Some(ns) => ns.trim().to_owned(),
        None => read_namespace(&dir.join("namespace")),
    };
    let mut config = Config::new(url);
    config.default_namespace = namespace;
    config.root_ca = ca.exists().then_some(CaSource::File(ca));
    config.origin = match service_account(&token) {
        Some(sa) => format!("in-cluster service account {sa} ({})", dir.display()),
        None => format!("in-cluster ({})", dir.display()),
    };
    config.auth = Auth::TokenFile(token);
    Ok(config)
}

/// `NAMESPACE/NAME` of the service account a projected token belongs to, from its `sub` claim
/// (`system:serviceaccount:NAMESPACE:NAME`), for messages only: the token is not verified here
/// (the API server does that) and nothing of it but the name is kept.
fn service_account(token_file: &Path) -> Option<String> {
    use base64::Engine;
    let token = std::fs::read_to_string(token_file).ok()?;
    let payload = token.trim().split('.').nth(1)?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&json).ok()?;
    let sub = claims.get("sub")?.as_str()?;
    let (namespace, name) = sub
        .strip_prefix("system:serviceaccount:")?
        .split_once(':')?;
    (!namespace.is_empty() && !name.is_empty()).then(|| format!("{namespace}/{name}"))
}

/// The host as it goes in a URL (an IPv6 address bracketed), if it is an IP address (IPv6
/// bracketed or not) or a DNS name.
fn service_host(host: &str) -> Option<String> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().ok().map(|ip| format!("[{ip}]"));
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(ip)) => Some(format!("[{ip}]")),
        Ok(IpAddr::V4(ip)) => Some(ip.to_string()),
        Err(_) => {
            let dns = !host.is_empty()
                && host.len() <= 253
                && !host.starts_with(['.', '-'])
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
            dns.then(|| host.to_owned())
        }
    }
}

fn read_namespace(path: &Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => s.trim().to_owned(),
        _ => "default".into(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn sa_dir(name: &str, namespace: Option<&str>) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("k8s-client-sa-{name}-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&d);
        let _ = std::fs::write(d.join("token"), "abc\n");
        let _ = std::fs::write(d.join("ca.crt"), "pem");
        if let Some(ns) = namespace {
            let _ = std::fs::write(d.join("namespace"), ns);
        }
        d
    }

    #[test]
    fn the_origin_names_the_service_account_of_the_token_and_nothing_else_of_it() {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let d = sa_dir("sa-name", Some("team-a"));
        let token = format!(
            "{}.{}.c2lnbmF0dXJlLXNlY3JldA",
            b64(r#"{"alg":"RS256","kid":"k"}"#),
            b64(
                r#"{"aud":["https://kubernetes.default.svc"],"sub":"system:serviceaccount:team-a:builder","kubernetes.io":{"namespace":"team-a"}}"#
            )
        );
        std::fs::write(d.join("token"), &token).unwrap_or_default();
        let load = || {
            ConfigLoader::new()
                .env_map(env(&[
                    ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
                    ("KUBERNETES_SERVICE_PORT", "443"),
                ]))
                .service_account_dir(&d)
                .in_cluster()
                .map(|c| c.origin)
                .unwrap_or_default()
        };
        let origin = load();
        assert!(
            origin.starts_with("in-cluster service account team-a/builder ("),
            "{origin}"
        );
        assert!(!origin.contains("c2lnbmF0dXJl"), "{origin}");
        // Not a JWT (a legacy or test token): the origin says in-cluster and its directory.
        std::fs::write(d.join("token"), "opaque-token\n").unwrap_or_default();
        let origin = load();
        assert!(origin.starts_with("in-cluster ("), "{origin}");
        assert!(!origin.contains("opaque"), "{origin}");
    }

    #[test]
    fn ipv4_ipv6_and_namespace_precedence() {
        let d = sa_dir("a", Some("  team-a\n"));
        let load = |e: BTreeMap<String, String>| {
            ConfigLoader::new()
                .env_map(e)
                .service_account_dir(&d)
                .in_cluster()
        };
        let c = load(env(&[
            ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
            ("KUBERNETES_SERVICE_PORT", "443"),
        ]))
        .ok();
        let c = c.as_ref();
        assert_eq!(
            c.map(|c| c.cluster_url.to_string()).as_deref(),
            Some("https://10.96.0.1:443/")
        );
        assert_eq!(c.map(|c| c.default_namespace.as_str()), Some("team-a"));
        assert_eq!(c.map(|c| &c.auth), Some(&Auth::TokenFile(d.join("token"))));
        assert_eq!(
            c.and_then(|c| c.root_ca.clone()),
            Some(CaSource::File(d.join("ca.crt")))
        );

        let c = load(env(&[
            ("KUBERNETES_SERVICE_HOST", "fd00:10:96::1"),
            ("KUBERNETES_SERVICE_PORT", "6443"),
            ("POD_NAMESPACE", "from-env"),
        ]))
        .ok();
        assert_eq!(
            c.as_ref().map(|c| c.cluster_url.to_string()).as_deref(),
            Some("https://[fd00:10:96::1]:6443/")
        );
        assert_eq!(c.map(|c| c.default_namespace), Some("from-env".to_string()));
    }

    #[test]
    fn host_and_port_must_name_a_server() {
        let d = sa_dir("c", None);
        let load = |host: &str, port: &str| {
            ConfigLoader::new()
                .env_map(env(&[
                    ("KUBERNETES_SERVICE_HOST", host),
                    ("KUBERNETES_SERVICE_PORT", port),
                ]))
                .service_account_dir(&d)
                .in_cluster()
                .map(|c| c.cluster_url.to_string())
                .map_err(|e| e.to_string())
        };
        for host in [
            "h/x",
            "h@evil.example",
            "h?x",
            "h#x",
            "a b",
            "h:6443",
            "[fd00::1",
            "::1]",
        ] {
            let e = load(host, "443").err().unwrap_or_default();
            assert!(e.contains("KUBERNETES_SERVICE_HOST"), "{host:?}: {e}");
        }
        for port in ["0", "65536", "-1", "https", "443/x"] {
            let e = load("10.0.0.1", port).err().unwrap_or_default();
            assert!(e.contains("KUBERNETES_SERVICE_PORT"), "{port:?}: {e}");
        }
        for (host, url) in [
            (
                "kubernetes.default.svc",
                "https://kubernetes.default.svc:443/",
            ),
            ("10.0.0.1", "https://10.0.0.1:443/"),
            ("fd00::1", "https://[fd00::1]:443/"),
            ("[fd00::1]", "https://[fd00::1]:443/"),
        ] {
            assert_eq!(load(host, "443"), Ok(url.to_string()), "{host:?}");
        }
        assert_eq!(
            load("10.0.0.1", "65535"),
            Ok("https://10.0.0.1:65535/".to_string())
        );
    }

    #[test]
    fn namespace_defaults_and_errors_name_the_variable() {
        let d = sa_dir("b", None);
        let c = ConfigLoader::new()
            .env_map(env(&[
                ("KUBERNETES_SERVICE_HOST", "10.0.0.1"),
                ("KUBERNETES_SERVICE_PORT", "443"),
            ]))
            .service_account_dir(&d)
            .in_cluster();
        assert_eq!(
            c.ok().map(|c| c.default_namespace),
            Some("default".to_string())
        );

        let e = ConfigLoader::new()
            .env_map(env(&[
                ("KUBERNETES_SERVICE_HOST", "10.0.0.1"),
                ("KUBERNETES_SERVICE_PORT", "https"),
            ]))
            .service_account_dir(&d)
            .in_cluster()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("KUBERNETES_SERVICE_PORT"), "{e}");

        let e = ConfigLoader::new()
            .env_map(env(&[
                ("KUBERNETES_SERVICE_HOST", "10.0.0.1"),
                ("KUBERNETES_SERVICE_PORT", "443"),
            ]))
            .service_account_dir(d.join("missing"))
            .in_cluster()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("service account token") && e.contains("missing"),
            "{e}"
        );
    }
}
