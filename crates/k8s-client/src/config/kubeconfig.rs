//! Kubeconfig files: parsing, kubectl's merge rules, and resolution to a [`Config`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;

use super::{
    CaSource, ClientIdentity, Config, ExecCluster, ExecConfig, INSECURE_WITH_CA, read_file,
    redact_unparsed_url, redact_url, split_userinfo,
};
use crate::Auth;
use crate::error::ConfigError;
use crate::secret::{SecretBytes, SecretString};

/// Context, cluster, user and namespace overrides (kubectl's `--context`, `--cluster`, `--user`,
/// `--namespace`).
///
/// ```
/// use k8s_client::KubeconfigOptions;
/// let opts = KubeconfigOptions::default().context("prod").namespace("payments");
/// assert_eq!(opts.context.as_deref(), Some("prod"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KubeconfigOptions {
    /// Use this context instead of `current-context`.
    pub context: Option<String>,
    /// Use this cluster instead of the context's.
    pub cluster: Option<String>,
    /// Use this user instead of the context's.
    pub user: Option<String>,
    /// Use this namespace instead of the context's.
    pub namespace: Option<String>,
}

impl KubeconfigOptions {
    /// Sets the context.
    pub fn context(mut self, name: impl Into<String>) -> Self {
        self.context = Some(name.into());
        self
    }
    /// Sets the cluster.
    pub fn cluster(mut self, name: impl Into<String>) -> Self {
        self.cluster = Some(name.into());
        self
    }
    /// Sets the user.
    pub fn user(mut self, name: impl Into<String>) -> Self {
        self.user = Some(name.into());
        self
    }
    /// Sets the namespace.
    pub fn namespace(mut self, name: impl Into<String>) -> Self {
        self.namespace = Some(name.into());
        self
    }
}

// ---- the file format ---------------------------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct RawFile {
    #[serde(default)]
    clusters: Option<Vec<Named<RawCluster>>>,
    #[serde(default)]
    users: Option<Vec<Named<RawUser>>>,
    #[serde(default)]
    contexts: Option<Vec<Named<RawContext>>>,
    #[serde(default)]
    current_context: Option<String>,
}

#[derive(Deserialize)]
struct Named<T> {
    #[serde(default)]
    name: String,
    #[serde(default, alias = "cluster", alias = "user", alias = "context")]
    value: Option<T>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "kebab-case")]
struct RawCluster {
    #[serde(default)]
    server: Option<String>,
    #[serde(default)]
    certificate_authority: Option<String>,
    #[serde(default)]
    certificate_authority_data: Option<String>,
    #[serde(default)]
    insecure_skip_tls_verify: Option<bool>,
    #[serde(default)]
    tls_server_name: Option<String>,
    #[serde(default)]
    proxy_url: Option<String>,
    #[serde(default)]
    extensions: Option<Vec<RawExtension>>,
}

#[derive(Deserialize, Clone)]
struct RawExtension {
    #[serde(default)]
    name: String,
    #[serde(default)]
    extension: Option<serde_json::Value>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "kebab-case")]
struct RawUser {
    #[serde(default)]
    client_certificate: Option<String>,
    #[serde(default)]
    client_certificate_data: Option<String>,
    #[serde(default)]
    client_key: Option<String>,
    #[serde(default)]
    client_key_data: Option<String>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default, rename = "tokenFile")]
    token_file: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    exec: Option<RawExec>,
    #[serde(default)]
    auth_provider: Option<serde_json::Value>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
struct RawExec {
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    args: Option<Vec<String>>,
    #[serde(default)]
    env: Option<Vec<RawEnv>>,
    #[serde(default)]
    provide_cluster_info: Option<bool>,
    #[serde(default)]
    interactive_mode: Option<String>,
    #[serde(default)]
    install_hint: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
struct RawEnv {
    #[serde(default)]
    name: String,
    #[serde(default)]
    value: String,
}

#[derive(Deserialize, Default, Clone)]
struct RawContext {
    #[serde(default)]
    cluster: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
}

// ---- the merged view ---------------------------------------------------------------------------

#[derive(Clone)]
struct Entry<T> {
    value: T,
    /// The file that defined it (relative paths are resolved against its directory).
    file: PathBuf,
}

/// One or more kubeconfig files merged with kubectl's rules: for clusters, users and contexts
/// the first file that defines a name wins; the first `current-context` that is set wins;
/// files that do not exist are skipped.
///
/// ```
/// use k8s_client::{Kubeconfig, KubeconfigOptions};
/// let yaml = r#"
/// apiVersion: v1
/// kind: Config
/// current-context: dev
/// clusters:
/// - name: dev
///   cluster: {server: "https://dev.example:6443", insecure-skip-tls-verify: true}
/// users:
/// - name: me
///   user: {token: abc}
/// contexts:
/// - name: dev
///   context: {cluster: dev, user: me, namespace: team}
/// "#;
/// let kc = Kubeconfig::from_yaml(yaml, "/home/me/.kube/config".as_ref()).unwrap();
/// let config = kc.resolve(&KubeconfigOptions::default()).unwrap();
/// assert_eq!(config.cluster_url.to_string(), "https://dev.example:6443/");
/// assert_eq!(config.default_namespace, "team");
/// assert!(config.accept_invalid_certs);
/// ```
#[derive(Clone, Default)]
pub struct Kubeconfig {
    clusters: BTreeMap<String, Entry<RawCluster>>,
    users: BTreeMap<String, Entry<RawUser>>,
    contexts: BTreeMap<String, Entry<RawContext>>,
    current_context: Option<String>,
    files: Vec<PathBuf>,
}

impl std::fmt::Debug for Kubeconfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kubeconfig")
            .field("files", &self.files)
            .field("current_context", &self.current_context)
            .field("contexts", &self.contexts.keys().collect::<Vec<_>>())
            .field("clusters", &self.clusters.keys().collect::<Vec<_>>())
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn parse_yaml(text: &str, path: &Path) -> Result<RawFile, ConfigError> {
    if text.trim().is_empty() {
        return Ok(RawFile::default());
    }
    // No source snippets in messages: a kubeconfig holds tokens and keys.
    let options = serde_saphyr::options! { with_snippet: false };
    serde_saphyr::from_str_with_options::<Option<RawFile>>(text, options)
        .map(Option::unwrap_or_default)
        .map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

fn absolute(p: &Path) -> PathBuf {
    clean(&std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()))
}

/// Joins `rel` to `base` and cleans `.` and `..` lexically, like Go's `filepath.Join`.
fn join(base: &Path, rel: &str) -> PathBuf {
    clean(&base.join(rel))
}

fn clean(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

impl Kubeconfig {
    /// Parses one kubeconfig document; `path` is where it came from (for relative paths and
    /// messages).
    pub fn from_yaml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut kc = Kubeconfig::default();
        kc.merge(parse_yaml(text, path)?, path)?;
        Ok(kc)
    }

    /// Reads and merges these files in order. Missing files are skipped (like kubectl with
    /// `KUBECONFIG`); if none exists, that is an error naming them.
    pub fn load_merged(paths: &[PathBuf]) -> Result<Self, ConfigError> {
        let mut kc = Kubeconfig::default();
        let mut found = false;
        for path in paths {
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(ConfigError::Read {
                        what: "kubeconfig",
                        path: path.clone(),
                        source,
                    });
                }
            };
            found = true;
            let raw = parse_yaml(&text, path)?;
            kc.merge(raw, &absolute(path))?;
        }
        if !found {
            let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            return Err(ConfigError::NoKubeconfig(format!(
                "none of these files exists: {}",
                list.join(", ")
            )));
        }
        Ok(kc)
    }

    fn merge(&mut self, raw: RawFile, path: &Path) -> Result<(), ConfigError> {
        fn add<T>(
            map: &mut BTreeMap<String, Entry<T>>,
            items: Option<Vec<Named<T>>>,
            path: &Path,
            what: &str,
        ) -> Result<(), ConfigError>
        where
            T: Default,
        {
            let mut seen = std::collections::BTreeSet::new();
            for item in items.unwrap_or_default() {
                if !seen.insert(item.name.clone()) {
                    return Err(ConfigError::Invalid {
                        origin: path.display().to_string(),
                        key: format!("{what}[{}]", item.name),
                        message: "duplicate name in the list".into(),
                    });
                }
                map.entry(item.name).or_insert_with(|| Entry {
                    value: item.value.unwrap_or_default(),
                    file: path.to_path_buf(),
                });
            }
            Ok(())
        }
        add(&mut self.clusters, raw.clusters, path, "clusters")?;
        add(&mut self.users, raw.users, path, "users")?;
        add(&mut self.contexts, raw.contexts, path, "contexts")?;
        if self.current_context.as_deref().unwrap_or("").is_empty() {
            self.current_context = raw.current_context.filter(|c| !c.is_empty());
        }
        self.files.push(path.to_path_buf());
        Ok(())
    }

    /// The merged `current-context`.
    pub fn current_context(&self) -> Option<&str> {
        self.current_context.as_deref()
    }

    /// Names of the contexts.
    pub fn context_names(&self) -> impl Iterator<Item = &str> {
        self.contexts.keys().map(String::as_str)
    }

    fn files_list(&self) -> String {
        let v: Vec<String> = self.files.iter().map(|p| p.display().to_string()).collect();
        v.join(", ")
    }

    /// Resolves the context (or the overrides) to a [`Config`]: reads certificate and key
    /// files, decodes `*-data` fields and resolves relative paths against the file that
    /// defined them.
    pub fn resolve(&self, options: &KubeconfigOptions) -> Result<Config, ConfigError> {
        let files = self.files_list();
        let not_found = |what: &'static str, name: &str| ConfigError::NotFound {
            what,
            name: name.to_owned(),
            files: files.clone(),
        };
        let context_name = options
            .context
            .clone()
            .filter(|c| !c.is_empty())
            .or_else(|| self.current_context.clone());
        let context = match &context_name {
            Some(name) => self
                .contexts
                .get(name)
                .map(|e| e.value.clone())
                .ok_or_else(|| not_found("context", name))?,
            None if options.cluster.is_some() => RawContext::default(),
            None => {
                return Err(ConfigError::NoCurrentContext {
                    files: files.clone(),
                });
            }
        };
        let cluster_name = options
            .cluster
            .clone()
            .or(context.cluster.clone())
            .unwrap_or_default();
        let cluster = self
            .clusters
            .get(&cluster_name)
            .ok_or_else(|| not_found("cluster", &cluster_name))?;
        let user_name = options
            .user
            .clone()
            .or(context.user.clone())
            .unwrap_or_default();
        let user = match self.users.get(&user_name) {
            Some(u) => Some(u),
            None if user_name.is_empty() => None,
            None => return Err(not_found("user", &user_name)),
        };

        let cfile = cluster.file.display().to_string();
        let ckey = |k: &str| format!("clusters[{cluster_name}].cluster.{k}");
        let c = &cluster.value;
        let server = c.server.clone().unwrap_or_default();
        if server.is_empty() {
            return Err(ConfigError::Invalid {
                origin: cfile,
                key: ckey("server"),
                message: "no server is set".into(),
            });
        }
        let url: http::Uri = server.parse().map_err(|e| ConfigError::Invalid {
            origin: cfile.clone(),
            key: ckey("server"),
            message: format!("{:?} is not a URL: {e}", redact_unparsed_url(&server)),
        })?;
        if !matches!(url.scheme_str(), Some("http" | "https")) || url.host().is_none() {
            return Err(ConfigError::Invalid {
                origin: cfile,
                key: ckey("server"),
                message: format!(
                    "{:?} is not an http:// or https:// URL",
                    redact_url(&server)
                ),
            });
        }
        // Go accepts any digits and fails when dialing ("invalid port"): say so at once.
        if let Some(port) = explicit_port(&url) {
            if port.parse::<u16>().map_or(true, |p| p == 0) {
                return Err(ConfigError::Invalid {
                    origin: cfile,
                    key: ckey("server"),
                    message: format!("{:?}: port {port} is not in 1-65535", redact_url(&server)),
                });
            }
        }
        // kubectl sends user-info as basic auth, in place of the user's credentials.
        let (url, server_credentials) =
            split_userinfo(&url).map_err(|message| ConfigError::Invalid {
                origin: cfile.clone(),
                key: ckey("server"),
                message: format!("{:?}: {message}", redact_url(&server)),
            })?;
        let mut config = Config::new(url);
        let base = cluster.file.parent().unwrap_or(Path::new("."));
        config.root_ca = match (&c.certificate_authority_data, &c.certificate_authority) {
            (Some(d), _) if !d.is_empty() => Some(CaSource::Pem(decode_b64(
                d,
                &cfile,
                &ckey("certificate-authority-data"),
            )?)),
            (_, Some(f)) if !f.is_empty() => Some(CaSource::File(join(base, f))),
            _ => None,
        };
        config.accept_invalid_certs = c.insecure_skip_tls_verify.unwrap_or(false);
        if config.accept_invalid_certs && config.root_ca.is_some() {
            return Err(ConfigError::Invalid {
                origin: cfile,
                key: ckey("insecure-skip-tls-verify"),
                message: format!(
                    "{INSECURE_WITH_CA} (remove certificate-authority and certificate-authority-data, or insecure-skip-tls-verify)"
                ),
            });
        }
        config.tls_server_name = c.tls_server_name.clone().filter(|s| !s.is_empty());
        config.proxy_url = c.proxy_url.clone().filter(|s| !s.is_empty());
        config.default_namespace = options
            .namespace
            .clone()
            .or(context.namespace.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".into());
        config.origin = match &context_name {
            Some(n) => format!("kubeconfig ({files}) context {n}"),
            None => format!("kubeconfig ({files}) cluster {cluster_name}"),
        };
        // The identity an API error names: the user entry, never its credentials.
        if !user_name.is_empty() {
            config.origin.push_str(&format!(", user {user_name}"));
        }

        if let Some(user) = user {
            let ufile = user.file.display().to_string();
            let ubase = user.file.parent().unwrap_or(Path::new("."));
            let ukey = |k: &str| format!("users[{user_name}].user.{k}");
            let u = &user.value;
            let nonempty = |o: &Option<String>| o.clone().filter(|s| !s.is_empty());
            if u.auth_provider.is_some() && u.exec.is_none() {
                return Err(ConfigError::Invalid {
                    origin: ufile,
                    key: ukey("auth-provider"),
                    message: "auth-provider plugins are not supported; use an exec plugin".into(),
                });
            }
            let cert = match (
                nonempty(&u.client_certificate_data),
                nonempty(&u.client_certificate),
            ) {
                (Some(d), _) => Some(decode_b64(&d, &ufile, &ukey("client-certificate-data"))?),
                (None, Some(f)) => Some(read_file("client-certificate", &join(ubase, &f))?),
                _ => None,
            };
            let key = match (nonempty(&u.client_key_data), nonempty(&u.client_key)) {
                (Some(d), _) => Some(decode_b64(&d, &ufile, &ukey("client-key-data"))?),
                (None, Some(f)) => Some(read_file("client-key", &join(ubase, &f))?),
                _ => None,
            };
            config.client_identity = match (cert, key) {
                (Some(c), Some(k)) => Some(ClientIdentity::new(c, SecretBytes::new(k))),
                (None, None) => None,
                (Some(_), None) => {
                    return Err(ConfigError::Invalid {
                        origin: ufile,
                        key: ukey("client-key"),
                        message: "a client certificate needs client-key or client-key-data".into(),
                    });
                }
                (None, Some(_)) => {
                    return Err(ConfigError::Invalid {
                        origin: ufile,
                        key: ukey("client-certificate"),
                        message: "a client key needs client-certificate or client-certificate-data"
                            .into(),
                    });
                }
            };
            config.auth = if let Some(exec) = &u.exec {
                Auth::Exec(Box::new(resolve_exec(
                    exec,
                    ubase,
                    &ufile,
                    &ukey("exec"),
                    c,
                    &cfile,
                )?))
            } else if let Some(f) = nonempty(&u.token_file) {
                Auth::TokenFile(join(ubase, &f))
            } else if let Some(t) = nonempty(&u.token) {
                Auth::Bearer(SecretString::new(t))
            } else if let Some(name) = nonempty(&u.username) {
                Auth::Basic {
                    username: name,
                    password: SecretString::new(u.password.clone().unwrap_or_default()),
                }
            } else {
                Auth::None
            };
        }
        if let Some((username, password)) = server_credentials {
            tracing::debug!(
                origin = %config.origin,
                "the server URL holds user-info: it is sent as basic auth in place of the user's credentials, as kubectl does"
            );
            config.auth = Auth::Basic { username, password };
        }
        Ok(config)
    }
}

/// The port written in the URL, if any, as text (`http::Uri::port` hides one that is not a
/// `u16`).
fn explicit_port(url: &http::Uri) -> Option<&str> {
    let authority = url.authority()?.as_str();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let after_host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split_once(']')?.1,
        None => host_port.find(':').map_or("", |i| &host_port[i..]),
    };
    after_host.strip_prefix(':').filter(|p| !p.is_empty())
}

fn decode_b64(data: &str, origin: &str, key: &str) -> Result<Vec<u8>, ConfigError> {
    let clean: String = data.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean.as_bytes())
        .map_err(|e| ConfigError::Invalid {
            origin: origin.to_owned(),
            key: key.to_owned(),
            message: format!("not valid base64: {e}"),
        })
}

fn resolve_exec(
    exec: &RawExec,
    base: &Path,
    origin: &str,
    key: &str,
    cluster: &RawCluster,
    cluster_origin: &str,
) -> Result<ExecConfig, ConfigError> {
    let invalid = |k: &str, m: &str| ConfigError::Invalid {
        origin: origin.to_owned(),
        key: format!("{key}.{k}"),
        message: m.to_owned(),
    };
    let command = exec.command.clone().unwrap_or_default();
    if command.is_empty() {
        return Err(invalid("command", "an exec plugin needs a command"));
    }
    let api_version = exec.api_version.clone().unwrap_or_default();
    if !matches!(
        api_version.as_str(),
        "client.authentication.k8s.io/v1" | "client.authentication.k8s.io/v1beta1"
    ) {
        return Err(invalid(
            "apiVersion",
            &format!(
                "{api_version:?} is not supported (client.authentication.k8s.io/v1 or v1beta1)"
            ),
        ));
    }
    // Like client-go: a command with a path separator is relative to the kubeconfig's directory;
    // a bare name is looked up on PATH.
    let command = if command.contains('/') && !Path::new(&command).is_absolute() {
        join(base, &command).display().to_string()
    } else {
        command
    };
    let cluster_info = ExecCluster {
        server: cluster.server.clone().unwrap_or_default(),
        tls_server_name: cluster.tls_server_name.clone(),
        insecure_skip_tls_verify: cluster.insecure_skip_tls_verify.unwrap_or(false),
        certificate_authority_data: match &cluster.certificate_authority_data {
            Some(d) if !d.is_empty() => Some(decode_b64(
                d,
                cluster_origin,
                "cluster.certificate-authority-data",
            )?),
            _ => None,
        },
        proxy_url: cluster.proxy_url.clone(),
        config: cluster
            .extensions
            .iter()
            .flatten()
            .find(|e| e.name == "client.authentication.k8s.io/exec")
            .and_then(|e| e.extension.clone()),
    };
    Ok(ExecConfig {
        api_version,
        command,
        args: exec.args.clone().unwrap_or_default(),
        env: exec
            .env
            .iter()
            .flatten()
            .map(|e| (e.name.clone(), SecretString::new(e.value.clone())))
            .collect(),
        provide_cluster_info: exec.provide_cluster_info.unwrap_or(false),
        interactive_mode: exec.interactive_mode.clone(),
        install_hint: exec.install_hint.clone(),
        cluster: Some(cluster_info),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = r#"
apiVersion: v1
kind: Config
current-context: a
clusters:
- name: shared
  cluster:
    server: https://from-a:6443
    certificate-authority: certs/ca.pem
- name: only-a
  cluster: {server: "http://127.0.0.1:8001"}
users:
- name: alice
  user:
    tokenFile: tok
contexts:
- name: a
  context: {cluster: shared, user: alice, namespace: ns-a}
"#;
    const B: &str = r#"
current-context: b
clusters:
- name: shared
  cluster: {server: "https://from-b:6443"}
- name: only-b
  cluster: {server: "https://only-b", tls-server-name: api.internal, proxy-url: "http://proxy:3128"}
users:
- name: alice
  user: {token: from-b}
- name: bob
  user: {username: bob, password: pw}
contexts:
- name: b
  context: {cluster: only-b, user: bob}
"#;

    fn merged() -> Kubeconfig {
        let mut kc = Kubeconfig::default();
        let a = parse_yaml(A, Path::new("/cfg/a/config"));
        let b = parse_yaml(B, Path::new("/cfg/b/config"));
        assert!(a.is_ok() && b.is_ok());
        if let (Ok(a), Ok(b)) = (a, b) {
            assert!(kc.merge(a, Path::new("/cfg/a/config")).is_ok());
            assert!(kc.merge(b, Path::new("/cfg/b/config")).is_ok());
        }
        kc
    }

    #[test]
    fn first_file_wins_and_paths_are_relative_to_their_file() {
        let kc = merged();
        assert_eq!(kc.current_context(), Some("a"));
        let c = kc.resolve(&KubeconfigOptions::default());
        let c = c.as_ref().ok();
        assert_eq!(
            c.map(|c| c.cluster_url.to_string()).as_deref(),
            Some("https://from-a:6443/")
        );
        assert_eq!(c.map(|c| c.default_namespace.as_str()), Some("ns-a"));
        assert_eq!(
            c.and_then(|c| c.root_ca.clone()),
            Some(CaSource::File(PathBuf::from("/cfg/a/certs/ca.pem")))
        );
        assert_eq!(
            c.map(|c| c.auth.clone()),
            Some(Auth::TokenFile("/cfg/a/tok".into()))
        );
    }

    #[test]
    fn overrides_pick_context_cluster_user_namespace() {
        let kc = merged();
        let c = kc.resolve(&KubeconfigOptions::default().context("b")).ok();
        let c = c.as_ref();
        assert_eq!(c.map(|c| c.default_namespace.as_str()), Some("default"));
        assert_eq!(
            c.and_then(|c| c.tls_server_name.as_deref()),
            Some("api.internal")
        );
        assert_eq!(
            c.and_then(|c| c.proxy_url.as_deref()),
            Some("http://proxy:3128")
        );
        assert!(
            matches!(c.map(|c| &c.auth), Some(Auth::Basic { username, .. }) if username == "bob")
        );

        let c = kc
            .resolve(
                &KubeconfigOptions::default()
                    .cluster("only-a")
                    .user("bob")
                    .namespace("x"),
            )
            .ok();
        let c = c.as_ref();
        assert_eq!(
            c.map(|c| c.cluster_url.to_string()).as_deref(),
            Some("http://127.0.0.1:8001/")
        );
        assert_eq!(c.map(|c| c.default_namespace.as_str()), Some("x"));
    }

    #[test]
    fn missing_names_are_errors_naming_them() {
        let kc = merged();
        let e = kc
            .resolve(&KubeconfigOptions::default().context("nope"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("context \"nope\" not found") && e.contains("/cfg/a/config"),
            "{e}"
        );
        let e = kc
            .resolve(&KubeconfigOptions::default().user("carol"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("user \"carol\""), "{e}");
        let kc = Kubeconfig::default();
        let e = kc
            .resolve(&KubeconfigOptions::default())
            .err()
            .map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("no current-context"));
    }

    #[test]
    fn parse_errors_name_the_file_and_do_not_echo_secrets() {
        let bad = "users:\n- name: x\n  user: {token: supersecret-token, username: [1, 2}\n";
        let e = Kubeconfig::from_yaml(bad, Path::new("/k/bad.yaml"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("/k/bad.yaml"), "{e}");
        assert!(!e.contains("supersecret-token"), "{e}");
    }

    #[test]
    fn server_userinfo_becomes_basic_auth_and_never_shows() {
        let y = r#"
current-context: c
clusters: [{name: k, cluster: {server: "https://alice:s3cret-PW@k:6443/prefix"}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
users: [{name: u, user: {token: user-token}}]
"#;
        let c = Kubeconfig::from_yaml(y, Path::new("/k/c"))
            .and_then(|k| k.resolve(&KubeconfigOptions::default()));
        let c = c.as_ref();
        assert_eq!(
            c.map(|c| c.cluster_url.to_string()).ok().as_deref(),
            Some("https://k:6443/prefix")
        );
        match c.map(|c| &c.auth) {
            Ok(Auth::Basic { username, password }) => {
                assert_eq!(username, "alice");
                assert_eq!(password.expose_secret(), "s3cret-PW");
            }
            other => panic!("expected basic auth from the URL, got {other:?}"),
        }
        assert!(!format!("{c:?}").contains("s3cret-PW"));

        // Invalid URLs are reported without the password.
        for server in [
            "https://alice:s3cret-PW@k:6443/a b",
            "ftp://alice:s3cret-PW@k",
            "https://alice:s3cret-PW%zz@k",
        ] {
            let y = format!(
                "current-context: c\nclusters: [{{name: k, cluster: {{server: '{server}'}}}}]\ncontexts: [{{name: c, context: {{cluster: k}}}}]\n"
            );
            let e = Kubeconfig::from_yaml(&y, Path::new("/k/c"))
                .and_then(|k| k.resolve(&KubeconfigOptions::default()))
                .err()
                .map(|e| format!("{e} {e:?}"))
                .unwrap_or_default();
            assert!(e.contains("clusters[k].cluster.server"), "{e}");
            assert!(!e.contains("s3cret"), "{e}");
        }
    }

    fn resolve_cluster(cluster: &str) -> Result<Config, String> {
        let y = format!(
            "current-context: c\nclusters: [{{name: k, cluster: {cluster}}}]\ncontexts: [{{name: c, context: {{cluster: k}}}}]\n"
        );
        Kubeconfig::from_yaml(&y, Path::new("/k/c"))
            .and_then(|k| k.resolve(&KubeconfigOptions::default()))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn server_port_must_be_a_port() {
        for server in ["https://k:99999", "https://k:0", "https://[fd00::1]:70000"] {
            let e = resolve_cluster(&format!("{{server: '{server}'}}"))
                .err()
                .unwrap_or_default();
            assert!(
                e.contains("clusters[k].cluster.server") && e.contains("port"),
                "{server}: {e}"
            );
        }
        for server in ["https://k:65535", "https://k", "http://[fd00::1]:8001"] {
            let c = resolve_cluster(&format!("{{server: '{server}'}}"));
            assert!(c.is_ok(), "{server}: {c:?}");
        }
    }

    #[test]
    fn insecure_with_a_ca_is_rejected_as_client_go_does() {
        for ca in [
            "certificate-authority-data: 'LS0tLS1CRUdJTg=='",
            "certificate-authority: ca.pem",
        ] {
            let e = resolve_cluster(&format!(
                "{{server: 'https://k', insecure-skip-tls-verify: true, {ca}}}"
            ))
            .err()
            .unwrap_or_default();
            assert!(
                e.contains("clusters[k].cluster.insecure-skip-tls-verify")
                    && e.contains(
                        "specifying a root certificates file with the insecure flag is not allowed"
                    ),
                "{ca}: {e}"
            );
        }
        let c = resolve_cluster("{server: 'https://k', insecure-skip-tls-verify: true}");
        assert!(c.is_ok_and(|c| c.accept_invalid_certs && c.root_ca.is_none()));
        // `false` with a CA is fine.
        let c = resolve_cluster(
            "{server: 'https://k', insecure-skip-tls-verify: false, certificate-authority: ca.pem}",
        );
        assert!(c.is_ok(), "{c:?}");
    }

    #[test]
    fn bad_base64_names_the_key() {
        let y = "current-context: c\nclusters: [{name: k, cluster: {server: 'https://k', certificate-authority-data: '!!!'}}]\ncontexts: [{name: c, context: {cluster: k}}]\n";
        let e = Kubeconfig::from_yaml(y, Path::new("/k/c"))
            .and_then(|k| k.resolve(&KubeconfigOptions::default()))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("clusters[k].cluster.certificate-authority-data"),
            "{e}"
        );
    }

    #[test]
    fn exec_is_parsed_with_env_and_relative_command() {
        let y = r#"
current-context: c
clusters: [{name: k, cluster: {server: "https://k"}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./bin/cred
      args: [get, --x]
      env: [{name: KEY, value: secret-env}]
      provideClusterInfo: true
      interactiveMode: Never
"#;
        let c = Kubeconfig::from_yaml(y, Path::new("/k/dir/config"))
            .and_then(|k| k.resolve(&KubeconfigOptions::default()));
        match c.map(|c| c.auth) {
            Ok(Auth::Exec(e)) => {
                assert_eq!(e.command, "/k/dir/bin/cred");
                assert_eq!(e.args, vec!["get", "--x"]);
                assert_eq!(e.env[0].1.expose_secret(), "secret-env");
                assert!(e.provide_cluster_info);
                assert_eq!(e.cluster.map(|c| c.server).as_deref(), Some("https://k"));
            }
            other => panic!("expected exec, got {other:?}"),
        }
    }
}
