//! Rust names for spec names: modules, types, fields and functions.

/// Rust keywords (strict, reserved and 2024-edition) that cannot be plain identifiers.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "Self", "static", "struct", "super", "trait", "true", "try", "type",
    "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Splits a camelCase / PascalCase / dashed name into lower-case words, keeping acronyms whole,
/// including their plural `s` (`clusterIPs` -> `cluster`, `ips`; `IPFamily` -> `ip`, `family`).
pub fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            i += 1;
            continue;
        }
        if c.is_ascii_uppercase() {
            // An upper-case run.
            let start = i;
            while i < chars.len() && chars[i].is_ascii_uppercase() {
                i += 1;
            }
            let run: String = chars[start..i].iter().collect();
            let next_lower = i < chars.len() && chars[i].is_ascii_lowercase();
            if !cur.is_empty() && !(cur.chars().all(|c| c.is_ascii_digit())) {
                words.push(std::mem::take(&mut cur));
            }
            if run.len() == 1 {
                cur.push_str(&run);
                continue;
            }
            // Acronym plural: `IPs`, `CIDRs` (an `s` that ends the word).
            let plural_s = next_lower
                && chars[i] == 's'
                && (i + 1 == chars.len() || !chars[i + 1].is_ascii_lowercase());
            if plural_s {
                cur.push_str(&run);
                cur.push('s');
                i += 1;
                words.push(std::mem::take(&mut cur));
            } else if next_lower {
                // `TLSConfig`: the last capital starts the next word.
                cur.push_str(&run[..run.len() - 1]);
                words.push(std::mem::take(&mut cur));
                cur.push_str(&run[run.len() - 1..]);
            } else {
                cur.push_str(&run);
                words.push(std::mem::take(&mut cur));
            }
            continue;
        }
        cur.push(c);
        i += 1;
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words.into_iter().map(|w| w.to_ascii_lowercase()).collect()
}

/// `snake_case`, keyword-safe (`type` -> `type_`, `$ref` -> `ref_`).
pub fn snake(name: &str) -> String {
    let mut s = words(name).join("_");
    if s.is_empty() {
        s.push_str("value");
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    if KEYWORDS.contains(&s.as_str()) {
        s.push('_');
    }
    s
}

/// `PascalCase` of a snake or camel name.
pub fn pascal(name: &str) -> String {
    words(name)
        .iter()
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// Where a definition lives: module path under the version module and the type name.
///
/// `io.k8s.api.core.v1.Pod` -> (`["core", "v1"]`, `Pod`);
/// `io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta` -> (`["meta", "v1"]`, `ObjectMeta`);
/// `io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.X` -> (`["apiextensions", "v1"]`, `X`);
/// `io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.X` -> (`["apiregistration", "v1"]`, `X`);
/// `io.k8s.apimachinery.pkg.version.Info` -> (`["version"]`, `Info`).
pub fn def_location(def: &str) -> Option<(Vec<String>, String)> {
    let (prefix, ty) = def.rsplit_once('.')?;
    let module: Vec<&str> = if let Some(rest) = prefix.strip_prefix("io.k8s.api.") {
        rest.split('.').collect()
    } else if let Some(rest) = prefix.strip_prefix("io.k8s.apimachinery.pkg.apis.") {
        rest.split('.').collect()
    } else if let Some(rest) = prefix.strip_prefix("io.k8s.apiextensions-apiserver.pkg.apis.") {
        rest.split('.').collect()
    } else if let Some(rest) = prefix.strip_prefix("io.k8s.kube-aggregator.pkg.apis.") {
        rest.split('.').collect()
    } else if let Some(rest) = prefix.strip_prefix("io.k8s.apimachinery.pkg.") {
        rest.split('.').collect()
    } else {
        return None;
    };
    if module.is_empty() || module.iter().any(|m| m.is_empty()) {
        return None;
    }
    Some((module.iter().map(|m| snake(m)).collect(), ty.to_owned()))
}

/// The cargo feature of a top-level module (`core`, `apps`, …); `None` for modules that are
/// always compiled (`meta`, `version`).
pub fn feature_of(top_module: &str) -> Option<&str> {
    match top_module {
        "meta" | "version" => None,
        m => Some(m),
    }
}

/// Version module name: `1.36.0` -> `v1_36`.
pub fn version_module(version: &str) -> String {
    let mut it = version.split('.');
    format!("v{}_{}", it.next().unwrap_or("0"), it.next().unwrap_or("0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_cases() {
        for (i, o) in [
            ("clusterIPs", "cluster_ips"),
            ("podCIDRs", "pod_cidrs"),
            ("IPFamily", "ip_family"),
            ("ipFamilyPolicy", "ip_family_policy"),
            ("type", "type_"),
            ("$ref", "ref_"),
            ("$schema", "schema"),
            ("x-kubernetes-int-or-string", "x_kubernetes_int_or_string"),
            ("containerID", "container_id"),
            ("hostIPC", "host_ipc"),
            ("TLSConfig", "tls_config"),
            ("continue", "continue_"),
            ("externalIPs", "external_ips"),
            (
                "targetCPUUtilizationPercentage",
                "target_cpu_utilization_percentage",
            ),
            ("v1beta1", "v1beta1"),
            ("nonResourceURLs", "non_resource_urls"),
            ("readOnly", "read_only"),
            ("fsGroup", "fs_group"),
            ("seLinuxOptions", "se_linux_options"),
            ("allocatedResourceStatuses", "allocated_resource_statuses"),
            ("enum", "enum_"),
            ("ports", "ports"),
        ] {
            assert_eq!(snake(i), o, "{i}");
        }
    }

    #[test]
    fn locations() {
        assert_eq!(
            def_location("io.k8s.api.core.v1.Pod"),
            Some((vec!["core".into(), "v1".into()], "Pod".into()))
        );
        assert_eq!(
            def_location("io.k8s.apimachinery.pkg.version.Info"),
            Some((vec!["version".into()], "Info".into()))
        );
        assert_eq!(
            def_location("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON"),
            Some((vec!["apiextensions".into(), "v1".into()], "JSON".into()))
        );
        assert_eq!(version_module("1.36.0"), "v1_36");
    }
}
