//! The downward API: what a Pod knows about itself without calling the API server.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::ConfigError;

/// What the downward API tells a Pod about itself, from environment variables and from a
/// `downwardAPI` volume.
///
/// Environment variables (set them in the Pod spec with `valueFrom.fieldRef` /
/// `resourceFieldRef`): `POD_NAME`, `POD_NAMESPACE`, `POD_IP`, `POD_IPS`, `POD_UID`,
/// `NODE_NAME`, `HOST_IP`, `POD_SERVICE_ACCOUNT` (or `SERVICE_ACCOUNT`), `CPU_REQUEST`,
/// `CPU_LIMIT`, `MEMORY_REQUEST`, `MEMORY_LIMIT`.
///
/// Volume files: `labels` and `annotations` in the kubelet's format (one `key="value"` per
/// line, the value quoted with Go's escapes), and optionally files named like the fields
/// (`name`, `namespace`, `uid`, `node_name`, `service_account`, `cpu_request`, `cpu_limit`,
/// `memory_request`, `memory_limit`); environment values win over files.
///
/// ```
/// use k8s_client::PodInfo;
/// let dir = std::env::temp_dir().join("k8s-client-doc-podinfo");
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("labels"), "app=\"web\"\ntier=\"front\\\"end\"\n").unwrap();
/// let info = PodInfo::from_env_with(|k| match k {
///     "POD_NAME" => Some("web-0".into()),
///     "POD_NAMESPACE" => Some("shop".into()),
///     _ => None,
/// })
/// .with_volume(&dir)
/// .unwrap();
/// assert_eq!(info.name.as_deref(), Some("web-0"));
/// assert_eq!(info.labels["tier"], "front\"end");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PodInfo {
    /// `metadata.name`
    pub name: Option<String>,
    /// `metadata.namespace`
    pub namespace: Option<String>,
    /// `metadata.uid`
    pub uid: Option<String>,
    /// `status.podIP`
    pub ip: Option<String>,
    /// `status.podIPs` (comma-separated in `POD_IPS`)
    pub ips: Vec<String>,
    /// `spec.nodeName`
    pub node_name: Option<String>,
    /// `status.hostIP`
    pub host_ip: Option<String>,
    /// `spec.serviceAccountName`
    pub service_account: Option<String>,
    /// `requests.cpu` of the container (as the kubelet renders it, e.g. `1` or `250m` with a
    /// divisor).
    pub cpu_request: Option<String>,
    /// `limits.cpu`
    pub cpu_limit: Option<String>,
    /// `requests.memory` (bytes, unless a divisor is set).
    pub memory_request: Option<String>,
    /// `limits.memory`
    pub memory_limit: Option<String>,
    /// `metadata.labels`, from the volume's `labels` file.
    pub labels: BTreeMap<String, String>,
    /// `metadata.annotations`, from the volume's `annotations` file.
    pub annotations: BTreeMap<String, String>,
}

const FIELDS: &[(&str, &str)] = &[
    ("POD_NAME", "name"),
    ("POD_NAMESPACE", "namespace"),
    ("POD_UID", "uid"),
    ("POD_IP", "ip"),
    ("NODE_NAME", "node_name"),
    ("HOST_IP", "host_ip"),
    ("POD_SERVICE_ACCOUNT", "service_account"),
    ("CPU_REQUEST", "cpu_request"),
    ("CPU_LIMIT", "cpu_limit"),
    ("MEMORY_REQUEST", "memory_request"),
    ("MEMORY_LIMIT", "memory_limit"),
];

impl PodInfo {
    /// From the process environment.
    pub fn from_env() -> Self {
        Self::from_env_with(|k| std::env::var(k).ok())
    }

    /// From environment variables read through `var`.
    pub fn from_env_with(var: impl Fn(&str) -> Option<String>) -> Self {
        let mut info = PodInfo::default();
        for (env, field) in FIELDS {
            if let Some(v) = var(env).filter(|v| !v.is_empty()) {
                *info.field_mut(field) = Some(v);
            }
        }
        if info.service_account.is_none() {
            info.service_account = var("SERVICE_ACCOUNT").filter(|v| !v.is_empty());
        }
        info.ips = var("POD_IPS")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        if info.ips.is_empty() {
            info.ips = info.ip.iter().cloned().collect();
        }
        info
    }

    fn field_mut(&mut self, name: &str) -> &mut Option<String> {
        match name {
            "name" => &mut self.name,
            "namespace" => &mut self.namespace,
            "uid" => &mut self.uid,
            "ip" => &mut self.ip,
            "node_name" => &mut self.node_name,
            "host_ip" => &mut self.host_ip,
            "service_account" => &mut self.service_account,
            "cpu_request" => &mut self.cpu_request,
            "cpu_limit" => &mut self.cpu_limit,
            "memory_request" => &mut self.memory_request,
            _ => &mut self.memory_limit,
        }
    }

    /// Adds what a `downwardAPI` volume mounted at `dir` holds. Missing files are skipped; a
    /// malformed `labels`/`annotations` file is an error naming the file and line.
    pub fn with_volume(mut self, dir: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let dir = dir.as_ref();
        for (_, field) in FIELDS {
            if let Ok(v) = std::fs::read_to_string(dir.join(field)) {
                let slot = self.field_mut(field);
                if slot.is_none() && !v.trim().is_empty() {
                    *slot = Some(v.trim().to_owned());
                }
            }
        }
        for (file, map) in [
            ("labels", &mut self.labels),
            ("annotations", &mut self.annotations),
        ] {
            let path = dir.join(file);
            match std::fs::read_to_string(&path) {
                Ok(text) => map.extend(parse_downward_map(&text, &path)?),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(ConfigError::Read {
                        what: "downward API file",
                        path,
                        source,
                    });
                }
            }
        }
        Ok(self)
    }
}

/// Parses the kubelet's `key="value"` lines (`fieldpath.FormatMap`: Go's `%q` quoting).
pub(crate) fn parse_downward_map(
    text: &str,
    path: &Path,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let invalid = |m: &str| ConfigError::Invalid {
            origin: path.display().to_string(),
            key: format!("line {}", i + 1),
            message: m.to_owned(),
        };
        let (key, quoted) = line
            .split_once('=')
            .ok_or_else(|| invalid("expected key=\"value\""))?;
        let value = go_unquote(quoted.trim_end()).map_err(|m| invalid(&m))?;
        out.insert(key.to_owned(), value);
    }
    Ok(out)
}

/// Undoes Go's `strconv.Quote`.
fn go_unquote(s: &str) -> Result<String, String> {
    let inner = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .ok_or("the value is not a double-quoted string")?;
    let mut bytes: Vec<u8> = Vec::with_capacity(inner.len());
    let mut chars = inner.chars();
    let hex = |chars: &mut std::str::Chars<'_>, n: usize| -> Result<u32, String> {
        let digits: String = chars.by_ref().take(n).collect();
        if digits.len() != n {
            return Err("truncated escape".into());
        }
        u32::from_str_radix(&digits, 16).map_err(|_| format!("bad hex escape {digits:?}"))
    };
    let push_char = |bytes: &mut Vec<u8>, c: char| {
        let mut b = [0u8; 4];
        bytes.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
    };
    while let Some(c) = chars.next() {
        if c == '"' {
            return Err("unescaped quote inside the value".into());
        }
        if c != '\\' {
            push_char(&mut bytes, c);
            continue;
        }
        let e = chars.next().ok_or("dangling backslash")?;
        match e {
            'a' => bytes.push(7),
            'b' => bytes.push(8),
            'f' => bytes.push(12),
            'n' => bytes.push(b'\n'),
            'r' => bytes.push(b'\r'),
            't' => bytes.push(b'\t'),
            'v' => bytes.push(11),
            '\\' => bytes.push(b'\\'),
            '"' => bytes.push(b'"'),
            '\'' => bytes.push(b'\''),
            'x' => bytes.push(hex(&mut chars, 2)? as u8),
            'u' | 'U' => {
                let v = hex(&mut chars, if e == 'u' { 4 } else { 8 })?;
                let c = char::from_u32(v).ok_or(format!("\\{e}{v:x} is not a character"))?;
                push_char(&mut bytes, c);
            }
            '0'..='7' => {
                let rest: String = chars.by_ref().take(2).collect();
                let v = u32::from_str_radix(&format!("{e}{rest}"), 8)
                    .map_err(|_| "bad octal escape".to_string())?;
                bytes.push(u8::try_from(v).map_err(|_| "octal escape out of range")?);
            }
            other => return Err(format!("unknown escape \\{other}")),
        }
    }
    String::from_utf8(bytes).map_err(|_| "the value is not UTF-8 after unescaping".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubelet_format_with_go_escapes() {
        // What the kubelet writes (fieldpath.FormatMap, sorted keys, %q values).
        let text = "app=\"web\"\nempty=\"\"\nexample.com/json=\"{\\\"a\\\": [1, 2]}\"\nmulti=\"line1\\nline2\\ttab\"\nunicode=\"caf\u{e9} \\u00a0 \\x41\"\n";
        let m = parse_downward_map(text, Path::new("/etc/podinfo/annotations"));
        let m = m.unwrap_or_default();
        assert_eq!(m.len(), 5);
        assert_eq!(m["app"], "web");
        assert_eq!(m["empty"], "");
        assert_eq!(m["example.com/json"], "{\"a\": [1, 2]}");
        assert_eq!(m["multi"], "line1\nline2\ttab");
        assert_eq!(m["unicode"], "café \u{a0} A");
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        let e = parse_downward_map("a=\"1\"\nb=unquoted\n", Path::new("/x/labels"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("/x/labels") && e.contains("line 2"), "{e}");
        assert!(parse_downward_map("a=\"x\\q\"", Path::new("l")).is_err());
        assert!(parse_downward_map("novalue", Path::new("l")).is_err());
    }

    #[test]
    fn env_fields_and_volume() {
        let env = |k: &str| {
            Some(
                match k {
                    "POD_NAME" => "web-0",
                    "POD_NAMESPACE" => "shop",
                    "POD_IP" => "10.1.2.3",
                    "POD_IPS" => "10.1.2.3,fd00::3",
                    "NODE_NAME" => "node-a",
                    "POD_SERVICE_ACCOUNT" => "web-sa",
                    "POD_UID" => "uid-1",
                    "CPU_REQUEST" => "250m",
                    "MEMORY_LIMIT" => "134217728",
                    _ => return None,
                }
                .to_string(),
            )
        };
        let info = PodInfo::from_env_with(env);
        assert_eq!(info.name.as_deref(), Some("web-0"));
        assert_eq!(info.namespace.as_deref(), Some("shop"));
        assert_eq!(info.ips, vec!["10.1.2.3", "fd00::3"]);
        assert_eq!(info.node_name.as_deref(), Some("node-a"));
        assert_eq!(info.service_account.as_deref(), Some("web-sa"));
        assert_eq!(info.cpu_request.as_deref(), Some("250m"));
        assert_eq!(info.memory_limit.as_deref(), Some("134217728"));
        assert_eq!(info.cpu_limit, None);

        let dir = std::env::temp_dir().join(format!("k8s-client-podinfo-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join("labels"), "app=\"web\"\n");
        let _ = std::fs::write(dir.join("annotations"), "note=\"a \\\"quoted\\\" word\"\n");
        let _ = std::fs::write(dir.join("cpu_limit"), "2\n");
        let _ = std::fs::write(dir.join("name"), "ignored-because-env-wins");
        let info = info.with_volume(&dir).unwrap_or_default();
        assert_eq!(info.labels["app"], "web");
        assert_eq!(info.annotations["note"], "a \"quoted\" word");
        assert_eq!(info.cpu_limit.as_deref(), Some("2"));
        assert_eq!(info.name.as_deref(), Some("web-0"));
    }
}
