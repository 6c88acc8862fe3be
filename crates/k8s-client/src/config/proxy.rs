//! `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`, with Go's `httpproxy` rules (what kubectl does).

use std::net::IpAddr;

/// The proxy to use for `server` according to the environment, or `None`.
///
/// Rules (as Go's `golang.org/x/net/http/httpproxy`): `HTTPS_PROXY` (or `https_proxy`) for an
/// `https` server, `HTTP_PROXY` (or `http_proxy`) for an `http` one; never for `localhost` or a
/// loopback address; not when `NO_PROXY` (or `no_proxy`) matches: `*`, an IP, a CIDR, a domain
/// (`example.com` matches it and its subdomains, `.example.com` only subdomains), each optionally
/// with `:port`.
pub(crate) fn from_env(server: &http::Uri, var: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let https = server.scheme_str() == Some("https");
    let proxy = if https {
        var("HTTPS_PROXY").or_else(|| var("https_proxy"))
    } else {
        var("HTTP_PROXY").or_else(|| var("http_proxy"))
    }?;
    let host = server.host()?.trim_start_matches('[').trim_end_matches(']');
    let port = server.port_u16().unwrap_or(if https { 443 } else { 80 });
    let no_proxy = var("NO_PROXY")
        .or_else(|| var("no_proxy"))
        .unwrap_or_default();
    if !use_proxy(host, port, &no_proxy) {
        return None;
    }
    Some(if proxy.contains("://") {
        proxy
    } else {
        format!("http://{proxy}")
    })
}

/// Whether a request to `host:port` goes through the proxy given this `NO_PROXY` value.
pub(crate) fn use_proxy(host: &str, port: u16, no_proxy: &str) -> bool {
    let host = host.to_ascii_lowercase();
    if host == "localhost" {
        return false;
    }
    let ip: Option<IpAddr> = host.parse().ok();
    if ip.is_some_and(|ip| ip.is_loopback()) {
        return false;
    }
    for entry in no_proxy.split(',') {
        let entry = entry.trim().to_ascii_lowercase();
        if entry.is_empty() {
            continue;
        }
        if entry == "*" {
            return false;
        }
        if let Some((net, bits)) = entry.split_once('/') {
            if let (Some(ip), Ok(net), Ok(bits)) = (ip, net.parse::<IpAddr>(), bits.parse::<u8>()) {
                if in_cidr(ip, net, bits) {
                    return false;
                }
            }
            continue;
        }
        if let Ok(e) = entry
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            if ip == Some(e) {
                return false;
            }
            continue;
        }
        // `host:port`, `[v6]:port` or a bare domain.
        let (name, entry_port) = match entry.rsplit_once(':') {
            Some((h, p)) if p.parse::<u16>().is_ok() && !h.ends_with(':') => {
                (h.to_owned(), p.parse::<u16>().ok())
            }
            _ => (entry.clone(), None),
        };
        if entry_port.is_some_and(|p| p != port) {
            continue;
        }
        let name = name.trim_start_matches('[').trim_end_matches(']');
        if let Ok(e) = name.parse::<IpAddr>() {
            if ip == Some(e) {
                return false;
            }
            continue;
        }
        let name = name.trim_start_matches('*');
        if let Some(suffix) = name.strip_prefix('.') {
            if host.ends_with(&format!(".{suffix}")) {
                return false;
            }
        } else if host == name || host.ends_with(&format!(".{name}")) {
            return false;
        }
    }
    true
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) if bits <= 32 => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) if bits <= 128 => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_hosts_domains_cidrs_ports() {
        let np = "example.com, .internal, 10.0.0.0/8, 192.168.1.7, fd00::/8, api.test:6443, *.wild";
        assert!(!use_proxy("example.com", 443, np));
        assert!(!use_proxy("a.example.com", 443, np));
        assert!(use_proxy("notexample.com", 443, np));
        assert!(!use_proxy("k.internal", 443, np));
        assert!(use_proxy("internal", 443, np));
        assert!(!use_proxy("10.1.2.3", 443, np));
        assert!(use_proxy("11.1.2.3", 443, np));
        assert!(!use_proxy("192.168.1.7", 443, np));
        assert!(use_proxy("192.168.1.8", 443, np));
        assert!(!use_proxy("fd12::1", 443, np));
        assert!(!use_proxy("api.test", 6443, np));
        assert!(use_proxy("api.test", 443, np));
        assert!(!use_proxy("x.wild", 443, np));
        assert!(!use_proxy("anything", 1, "*"));
        // loopback is never proxied
        assert!(!use_proxy("127.0.0.1", 443, ""));
        assert!(!use_proxy("::1", 443, ""));
        assert!(!use_proxy("LOCALHOST", 443, ""));
        assert!(use_proxy("k8s.example.org", 443, ""));
    }

    #[test]
    fn scheme_picks_the_variable() {
        let env = |k: &str| match k {
            "HTTPS_PROXY" => Some("proxy:3128".to_string()),
            "http_proxy" => Some("http://plain:8080".to_string()),
            "NO_PROXY" => Some(".corp".to_string()),
            _ => None,
        };
        let u = |s: &'static str| http::Uri::from_static(s);
        assert_eq!(
            from_env(&u("https://k8s.example.org:6443"), &env).as_deref(),
            Some("http://proxy:3128")
        );
        assert_eq!(
            from_env(&u("http://k8s.example.org"), &env).as_deref(),
            Some("http://plain:8080")
        );
        assert_eq!(from_env(&u("https://api.corp"), &env), None);
        assert_eq!(
            from_env(&u("https://[fd00::1]:443"), &env).as_deref(),
            Some("http://proxy:3128")
        );
    }
}
