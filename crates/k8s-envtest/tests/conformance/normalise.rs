//! Turns a response into what is compared: uids, timestamps, resourceVersions, continue
//! tokens, generated names, IPs and service-account tokens are replaced by placeholders, and
//! the scenario's namespace by `default` (the namespace the fixtures were recorded in).

use std::collections::HashSet;

use serde_json::{Map, Value};

/// A response as compared.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    pub status: u16,
    pub content_type: Option<String>,
    pub warnings: Vec<String>,
    pub retry_after: Option<String>,
    /// `Status.reason` (of a JSON `Status` body).
    pub reason: Option<String>,
    /// `Status.details.causes`: (reason, field).
    pub causes: Vec<(String, String)>,
    /// `Status.message`.
    pub message: Option<String>,
    pub body: Body,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    Empty,
    Json(Value),
    /// Watch events (newline-separated JSON); BOOKMARKs without annotations are dropped (their
    /// number depends on timing).
    Events(Vec<Value>),
    /// Protobuf, CBOR or other bytes: only their presence is compared.
    Binary,
    Text(String),
}

/// What a normalisation needs to know about one server and scenario.
pub struct Context<'a> {
    /// The namespace the scenario ran in on this server (`default` for the recording).
    pub namespace: &'a str,
    /// resourceVersions this server returned (to find them in messages).
    pub resource_versions: &'a HashSet<String>,
    /// The request was a list across all namespaces: other scenarios' items are dropped.
    pub all_namespaces: bool,
}

pub fn observe(
    status: u16,
    content_type: Option<&str>,
    warnings: &[String],
    retry_after: Option<&str>,
    body: &[u8],
    watch: bool,
    cx: &Context<'_>,
) -> Observed {
    let ct = content_type.map(str::to_owned);
    let is_binary = ct
        .as_deref()
        .is_some_and(|c| c.contains("protobuf") || c.contains("cbor"))
        || std::str::from_utf8(body).is_err();
    let text = String::from_utf8_lossy(body);
    let body = if body.is_empty() {
        Body::Empty
    } else if is_binary {
        Body::Binary
    } else if watch && status == 200 {
        Body::Events(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter(|e| {
                    e["type"] != "BOOKMARK" || e.pointer("/object/metadata/annotations").is_some()
                })
                .map(|mut e| {
                    if e["type"] == "BOOKMARK" {
                        // resourceVersion only: the rest of a bookmark's object is empty
                        if let Some(o) = e.get_mut("object") {
                            normalise_value(o, cx, None);
                        }
                    } else if let Some(o) = e.get_mut("object") {
                        normalise_value(o, cx, None);
                    }
                    e
                })
                .collect(),
        )
    } else {
        match serde_json::from_str::<Value>(&text) {
            Ok(mut v) => {
                if cx.all_namespaces {
                    keep_namespace(&mut v, cx.namespace);
                }
                normalise_value(&mut v, cx, None);
                Body::Json(v)
            }
            Err(_) => Body::Text(normalise_text(text.trim_end(), cx)),
        }
    };
    let (reason, causes, message) = match &body {
        Body::Json(v) if v.get("kind").and_then(Value::as_str) == Some("Status") => (
            v.get("reason").and_then(Value::as_str).map(str::to_owned),
            v.pointer("/details/causes")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|c| {
                            (
                                c["reason"].as_str().unwrap_or("").to_owned(),
                                c["field"].as_str().unwrap_or("").to_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
            v.get("message").and_then(Value::as_str).map(str::to_owned),
        ),
        _ => (None, Vec::new(), None),
    };
    Observed {
        status,
        content_type: ct,
        warnings: warnings.iter().map(|w| normalise_text(w, cx)).collect(),
        retry_after: retry_after.map(str::to_owned),
        reason,
        causes,
        message,
        body,
    }
}

/// A list across all namespaces: only the scenario's own items are compared.
fn keep_namespace(v: &mut Value, namespace: &str) {
    if let Some(items) = v.get_mut("items").and_then(Value::as_array_mut) {
        items.retain(|i| {
            i.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .is_none_or(|n| n == namespace)
        });
    }
}

fn normalise_value(v: &mut Value, cx: &Context<'_>, key: Option<&str>) {
    match v {
        Value::Object(map) => {
            generated_name(map);
            for (k, child) in map.iter_mut() {
                normalise_value(child, cx, Some(k));
            }
        }
        Value::Array(a) => {
            for child in a {
                normalise_value(child, cx, key);
            }
        }
        Value::String(s) => {
            *s = match key {
                Some("resourceVersion") if !s.is_empty() => "<rv>".into(),
                Some("continue") if !s.is_empty() => "<continue>".into(),
                Some("token") if !s.is_empty() => "<token>".into(),
                Some("caBundle") if !s.is_empty() => "<ca>".into(),
                Some("message") => normalise_message(s, cx),
                _ => normalise_text(s, cx),
            }
        }
        _ => {}
    }
}

/// `metadata.name` made from `generateName`: the random suffix becomes `<gen>`.
fn generated_name(map: &mut Map<String, Value>) {
    let Some(prefix) = map
        .get("generateName")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return;
    };
    if let Some(Value::String(name)) = map.get_mut("name") {
        if name.starts_with(&prefix) && name.len() > prefix.len() {
            *name = format!("{prefix}<gen>");
        }
    }
}

fn normalise_message(s: &str, cx: &Context<'_>) -> String {
    let mut out = normalise_text(s, cx);
    // resourceVersions in messages ("too old resource version: 257 (263)")
    let mut result = String::with_capacity(out.len());
    let mut digits = String::new();
    for ch in out.chars().chain(std::iter::once('\u{0}')) {
        if ch.is_ascii_digit() {
            digits.push(ch);
            continue;
        }
        if !digits.is_empty() {
            if digits.len() >= 2 && cx.resource_versions.contains(&digits) {
                result.push_str("<rv>");
            } else {
                result.push_str(&digits);
            }
            digits.clear();
        }
        if ch != '\u{0}' {
            result.push(ch);
        }
    }
    out = result;
    out
}

/// Replaces the namespace, uids, RFC 3339 timestamps and IPv4 addresses in a string.
pub fn normalise_text(s: &str, cx: &Context<'_>) -> String {
    let mut s = if cx.namespace != "default" && s.contains(cx.namespace) {
        s.replace(cx.namespace, "default")
    } else {
        s.to_owned()
    };
    for (marker, with) in [
        ("X509SHA256=", "X509SHA256=<fingerprint>"),
        ("kube-api-access-", "kube-api-access-<gen>"),
        ("127.0.0.1:", "127.0.0.1:<port>"),
    ] {
        s = replace_after(&s, marker, with);
    }
    if s.starts_with("-----BEGIN ") {
        s = "<pem>".into();
    }
    s = replace_spans(&s, uuid_len, "<uid>");
    s = replace_spans(&s, timestamp_len, "<time>");
    s = replace_spans(&s, ipv4_len, "<ip>");
    s
}

/// `marker` and the alphanumeric run after it become `with`.
fn replace_after(s: &str, marker: &str, with: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find(marker) {
        out.push_str(&rest[..at]);
        let tail = &rest[at + marker.len()..];
        let n = tail.bytes().take_while(u8::is_ascii_alphanumeric).count();
        out.push_str(if n == 0 { marker } else { with });
        rest = &tail[n..];
    }
    out.push_str(rest);
    out
}

/// Replaces every span for which `len_at` returns a length.
fn replace_spans(s: &str, len_at: fn(&[u8]) -> Option<usize>, with: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        let boundary = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if boundary {
            if let Some(n) = len_at(&b[i..]) {
                out.push_str(&s[copied..i]);
                out.push_str(with);
                i += n;
                copied = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&s[copied..]);
    out
}

fn hex_run(b: &[u8], n: usize) -> bool {
    b.len() >= n && b[..n].iter().all(u8::is_ascii_hexdigit)
}

fn uuid_len(b: &[u8]) -> Option<usize> {
    let groups = [8, 4, 4, 4, 12];
    let mut i = 0;
    for (g, n) in groups.iter().enumerate() {
        if !hex_run(&b[i..], *n) {
            return None;
        }
        i += n;
        if g < 4 {
            if b.get(i) != Some(&b'-') {
                return None;
            }
            i += 1;
        }
    }
    (b.get(i).is_none_or(|c| !c.is_ascii_alphanumeric())).then_some(i)
}

/// `2026-12-01T21:43:56Z`, with optional fraction and offset.
fn timestamp_len(b: &[u8]) -> Option<usize> {
    let digits = |from: usize, n: usize| {
        b.len() >= from + n && b[from..from + n].iter().all(u8::is_ascii_digit)
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(digits(0, 4)
        && at(4, b'-')
        && digits(5, 2)
        && at(7, b'-')
        && digits(8, 2)
        && at(10, b'T')
        && digits(11, 2)
        && at(13, b':')
        && digits(14, 2)
        && at(16, b':')
        && digits(17, 2))
    {
        return None;
    }
    let mut i = 19;
    if at(i, b'.') {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    if at(i, b'Z') {
        i += 1;
    } else if (at(i, b'+') || at(i, b'-')) && digits(i + 1, 2) && at(i + 3, b':') {
        i += 6;
    }
    Some(i)
}

fn ipv4_len(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    for part in 0..4 {
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) && i - start < 3 {
            i += 1;
        }
        if i == start {
            return None;
        }
        if part < 3 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
    }
    // not a version number such as 1.36.3.4 or part of a longer dotted word
    let next_ok = b
        .get(i)
        .is_none_or(|c| !c.is_ascii_alphanumeric() && *c != b'.');
    // loopback stays: it is the same on both servers
    (next_ok && !b.starts_with(b"127.0.0.1")).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx(rvs: &HashSet<String>) -> Context<'_> {
        Context {
            namespace: "cf-x",
            resource_versions: rvs,
            all_namespaces: false,
        }
    }

    #[test]
    fn placeholders() {
        let rvs: HashSet<String> = ["263".to_owned()].into();
        let c = cx(&rvs);
        assert_eq!(
            normalise_text(
                "pod cf-x/a uid 0b6f3e2a-1c2d-4e5f-8a9b-0c1d2e3f4a5b at 2026-12-01T21:43:56.123456Z on 10.96.0.17",
                &c
            ),
            "pod default/a uid <uid> at <time> on <ip>"
        );
        assert_eq!(
            normalise_message("too old resource version: 263 (2630)", &c),
            "too old resource version: <rv> (2630)"
        );
        assert_eq!(normalise_text("v1.36.3 127.0.0.1", &c), "v1.36.3 127.0.0.1");
    }
}
