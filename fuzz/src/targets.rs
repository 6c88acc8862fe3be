//! The fuzz targets: each takes arbitrary bytes, must not panic, and panics on a broken
//! invariant (with a message naming it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use k8s_client::{ConfigLoader, Kubeconfig, KubeconfigOptions};
use k8s_core::{
    ByteString, IntOrString, List, MicroTime, Quantity, Status, Time, WatchEvent, WatchEventType,
};
use serde_json::Value;

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// `Quantity`: parsing, the canonical form (it must read back as the same value and spelling),
/// accessors, arithmetic, and JSON decoding (strings, numbers, `null`, maps).
pub fn quantity(data: &[u8]) {
    let s = text(data);
    if let Ok(q) = Quantity::parse(&s) {
        let canonical = q.canonical();
        match Quantity::parse(&canonical) {
            Ok(again) => {
                assert!(
                    again == q,
                    "{s:?}: canonical {canonical:?} has another value"
                );
                // Not always a fixed point after one round, as in Go: "13312.5Ki" is
                // 13632000 in binarySI, spelled "13632000" (not a whole number of Ki), which
                // parses as decimalSI and is spelled "13632k" (apimachinery v0.36.6 prints the
                // same two strings). The second spelling is stable.
                let twice = again.canonical();
                let thrice = Quantity::parse(&twice).map(|q| q.canonical());
                assert!(
                    thrice.as_deref() == Ok(twice.as_str()),
                    "{s:?}: canonical {canonical:?} -> {twice:?} is not stable: {thrice:?}"
                );
            }
            Err(e) => panic!("{s:?}: canonical {canonical:?} does not parse: {e}"),
        }
        let _ = (
            q.to_i64_ceil(),
            q.to_millis(),
            q.to_bytes(),
            q.to_scaled(-9),
        );
        let _ = (q.as_f64(), q.is_zero(), q.is_negative(), q.to_i64_exact());
        if let Some(sum) = q.checked_add(&q) {
            let back = sum.checked_sub(&q);
            assert!(back.as_ref() == Some(&q), "{s:?}: (q + q) - q is {back:?}");
        }
        let json = serde_json::to_string(&q).unwrap_or_default();
        match serde_json::from_str::<Quantity>(&json) {
            Ok(back) => assert!(back.as_str() == q.as_str(), "{s:?}: JSON round trip"),
            Err(e) => panic!("{s:?}: its JSON {json} does not read back: {e}"),
        }
    }
    let _ = serde_json::from_slice::<Quantity>(data);
    let _ = serde_json::from_slice::<Option<Quantity>>(data);
    let _ = serde_json::from_slice::<BTreeMap<String, Quantity>>(data);
}

fn time_like<T>(data: &[u8], truncated: fn(T) -> T)
where
    T: FromStr + std::fmt::Display + PartialEq + Copy + std::fmt::Debug + serde::Serialize,
    T: serde::de::DeserializeOwned,
{
    let s = text(data);
    if let Ok(t) = s.parse::<T>() {
        let written = t.to_string();
        match written.parse::<T>() {
            Ok(back) => assert!(
                back == truncated(t),
                "{s:?}: written as {written:?}, read back as {back:?}"
            ),
            Err(_) => panic!("{s:?}: written as {written:?}, which does not read back"),
        }
        let json = serde_json::to_string(&t).unwrap_or_default();
        assert!(
            serde_json::from_str::<T>(&json).is_ok(),
            "{s:?}: JSON {json} does not read back"
        );
    }
    let _ = serde_json::from_slice::<T>(data);
    let _ = serde_json::from_slice::<Option<T>>(data);
}

/// `Time`: RFC 3339 parsing; what is written reads back (truncated to seconds).
pub fn time(data: &[u8]) {
    time_like::<Time>(data, Time::truncated);
}

/// `MicroTime`: RFC 3339 parsing; what is written reads back (truncated to microseconds).
pub fn micro_time(data: &[u8]) {
    time_like::<MicroTime>(data, MicroTime::truncated);
}

/// `IntOrString`: JSON decoding, round trip, percentages scaled against extreme totals.
pub fn int_or_string(data: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<IntOrString>(data) {
        let json = serde_json::to_string(&v).unwrap_or_default();
        let back = serde_json::from_str::<IntOrString>(&json).ok();
        assert!(
            back.as_ref() == Some(&v),
            "{v:?}: JSON round trip gave {back:?}"
        );
        for total in [0, 1, -1, 7, 100, i32::MAX, i32::MIN] {
            let _ = v.scaled_value(total, true);
            let _ = v.scaled_value(total, false);
        }
        let _ = (v.as_percent(), v.to_string());
    }
    let Ok(v) = IntOrString::from_str(&text(data));
    let _ = v.scaled_value(i32::MAX, true);
}

/// `ByteString`: base64 decoding (what is encoded decodes back) and JSON decoding.
pub fn byte_string(data: &[u8]) {
    if let Ok(b) = ByteString::from_base64(&text(data)) {
        let encoded = b.to_base64();
        let back = ByteString::from_base64(&encoded).ok();
        assert!(
            back.as_ref() == Some(&b),
            "{encoded:?} does not decode back"
        );
    }
    let _ = serde_json::from_slice::<ByteString>(data);
    let _ = serde_json::from_slice::<Option<ByteString>>(data);
    let _ = serde_json::from_slice::<BTreeMap<String, ByteString>>(data);
}

/// A kind for the list target: object metadata and nothing else.
#[derive(serde::Deserialize)]
struct Item {
    #[serde(default)]
    #[allow(dead_code)]
    metadata: k8s_core::ObjectMeta,
}

impl k8s_core::Resource for Item {
    const API_VERSION: &'static str = "v1";
    const GROUP: &'static str = "";
    const VERSION: &'static str = "v1";
    const KIND: &'static str = "Item";
    const PLURAL: &'static str = "items";
    const SCOPE: k8s_core::Scope = k8s_core::Scope::Namespaced;
    const VERBS: &'static [&'static str] = &["list"];
    const SUBRESOURCES: &'static [&'static str] = &[];
}

/// `List<T>`: the list envelope around arbitrary items, and the kind check of a typed list
/// (a decoded `List<Item>` says `ItemList`, `List` or no kind).
pub fn list(data: &[u8]) {
    if let Ok(list) = serde_json::from_slice::<List<Value>>(data) {
        let _ = (list.items.len(), &list.metadata);
    }
    if serde_json::from_slice::<List<Item>>(data).is_ok() {
        let kind = serde_json::from_slice::<Value>(data)
            .ok()
            .and_then(|v| v.get("kind").cloned());
        assert!(
            matches!(
                kind.as_ref().and_then(Value::as_str),
                None | Some("ItemList" | "List")
            ),
            "a List<Item> decoded from kind {kind:?}"
        );
    }
}

/// `Status`: decoding and its `Display`.
pub fn status(data: &[u8]) {
    if let Ok(status) = serde_json::from_slice::<Status>(data) {
        let _ = (status.to_string(), status.reason(), status.causes().len());
        let json = serde_json::to_string(&status).unwrap_or_default();
        let back = serde_json::from_str::<Status>(&json).ok();
        assert!(back.as_ref() == Some(&status), "Status JSON round trip");
    }
}

/// `WatchEvent<T>`: one line of a watch stream, through both entry points.
pub fn watch_event(data: &[u8]) {
    let line = WatchEvent::<Value>::from_json_line(data);
    let decoded = serde_json::from_slice::<WatchEvent<Value>>(data);
    if let Ok(event) = &line {
        let kind = event.event_type();
        let _ = (event.object(), matches!(kind, WatchEventType::Error));
        let _ = serde_json::to_string(event);
    }
    let _ = decoded;
    let _ = serde_json::from_slice::<WatchEvent<Status>>(data);
}

/// Whether a kubeconfig may name files the fuzzer must not read (devices, kernel files).
fn names_special_files(text: &str) -> bool {
    ["/dev", "/proc", "/sys", "\\\\"]
        .iter()
        .any(|p| text.contains(p))
}

/// Kubeconfig YAML: parsing, and resolving every context it names (files it mentions are read
/// relative to a directory that does not exist).
pub fn kubeconfig(data: &[u8]) {
    let text = text(data);
    let path = Path::new("/nonexistent-k8s-sdk-fuzz/config");
    let Ok(kc) = Kubeconfig::from_yaml(&text, path) else {
        return;
    };
    if names_special_files(&text) {
        return;
    }
    let mut options = vec![KubeconfigOptions::default()];
    for name in kc.context_names().take(4) {
        options.push(KubeconfigOptions::default().context(name));
    }
    for option in &options {
        if let Ok(config) = kc.resolve(option) {
            let _ = format!("{config:?}");
        }
    }
    let _ = kc.current_context();
}

thread_local! {
    static SCRATCH: PathBuf = {
        let dir = std::env::temp_dir().join(format!(
            "k8s-sdk-fuzz-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::create_dir_all(&dir);
        dir
    };
}

/// The in-cluster configuration: the input, split at NUL bytes, is `KUBERNETES_SERVICE_HOST`,
/// `KUBERNETES_SERVICE_PORT`, the token, `ca.crt`, `namespace`, `HTTPS_PROXY` and `NO_PROXY`
/// (files are written to a scratch service-account directory first).
pub fn in_cluster(data: &[u8]) {
    let mut parts = data.split(|&b| b == 0);
    let mut next = || {
        parts
            .next()
            .map(|p| String::from_utf8_lossy(p).into_owned())
    };
    let host = next();
    let port = next();
    let token = next().unwrap_or_default();
    let ca = next().unwrap_or_default();
    let namespace = next();
    let https_proxy = next();
    let no_proxy = next();
    SCRATCH.with(|dir| {
        let _ = std::fs::write(dir.join("token"), token.as_bytes());
        let _ = std::fs::write(dir.join("ca.crt"), ca.as_bytes());
        match &namespace {
            Some(ns) => {
                let _ = std::fs::write(dir.join("namespace"), ns.as_bytes());
            }
            None => {
                let _ = std::fs::remove_file(dir.join("namespace"));
            }
        }
        let mut env = BTreeMap::new();
        for (key, value) in [
            ("KUBERNETES_SERVICE_HOST", host),
            ("KUBERNETES_SERVICE_PORT", port),
            ("HTTPS_PROXY", https_proxy),
            ("NO_PROXY", no_proxy),
        ] {
            if let Some(value) = value {
                env.insert(key.to_owned(), value);
            }
        }
        let loader = ConfigLoader::new().env_map(env).service_account_dir(dir);
        if let Ok(config) = loader.in_cluster() {
            let _ = format!("{config:?}");
        }
    });
}

/// The Swagger 2.0 loader of the generator.
pub fn codegen_v2(data: &[u8]) {
    let _ = k8s_codegen::load_v2::load_bytes(data, Path::new("fuzz/swagger.json"), "1.36.0");
}

/// The OpenAPI v3 loader of the generator (its entry point reads a directory: the input is
/// written as its one document).
pub fn codegen_v3(data: &[u8]) {
    SCRATCH.with(|dir| {
        let v3 = dir.join("v3");
        let _ = std::fs::create_dir_all(&v3);
        if std::fs::write(v3.join("apis__fuzz__v1_openapi.json"), data).is_ok() {
            let _ = k8s_codegen::load_v3::load_dir(&v3, "1.36.0");
        }
    });
}

/// The committed model text (`spec/v*.api`): parsing, and writing what was parsed, which must
/// read back as the same model (a line ending in a bare `\r` used not to: issue 13).
pub fn model_text(data: &[u8]) {
    let text = text(data);
    let path = Path::new("fuzz.api");
    if let Ok(model) = k8s_codegen::model_text::parse(&text, path) {
        let written = k8s_codegen::model_text::write(&model);
        match k8s_codegen::model_text::parse(&written, path) {
            Ok(again) => assert!(again == model, "{text:?} reads back differently"),
            Err(e) => panic!("{text:?} parses, but its written form does not: {e}"),
        }
    }
}

/// The watch stream's line splitter (`k8s_client::lines`): the lines of a body do not depend on
/// where the chunks end. The first byte picks the chunk sizes; the rest is the body.
pub fn watch_lines(data: &[u8]) {
    use k8s_client::lines::LineSplitter;
    let Some((&seed, body)) = data.split_first() else {
        return;
    };
    let collect = |chunks: &mut dyn Iterator<Item = &[u8]>| {
        let mut s = LineSplitter::new();
        let mut out: Vec<Vec<u8>> = Vec::new();
        for c in chunks {
            let pushed = s.push(c, |l| {
                out.push(l.to_vec());
                true
            });
            assert!(pushed.is_ok(), "no input is near MAX_LINE");
        }
        (out, s.buffered())
    };
    let whole = collect(&mut std::iter::once(body));
    // Chunks of 1..=8 bytes cycling from the seed, and cut at every newline's neighbours.
    let mut sizes = (0usize..).map(|i| 1 + (usize::from(seed) + i * 7) % 8);
    let mut rest = body;
    let mut pieces: Vec<&[u8]> = Vec::new();
    while !rest.is_empty() {
        let n = sizes.next().unwrap_or(1).min(rest.len());
        let (a, b) = rest.split_at(n);
        pieces.push(a);
        rest = b;
    }
    let chunked = collect(&mut pieces.into_iter());
    assert_eq!(whole, chunked, "lines depend on chunk boundaries");
    for line in &whole.0 {
        assert!(!line.contains(&b'\n'), "a line holds a newline");
        assert!(
            !line.iter().all(u8::is_ascii_whitespace),
            "a blank line was handed out"
        );
    }
}

/// YAML manifest streams (`k8s_core::yaml`): every error names a document in order and a line
/// inside the input; no more documents than separators allow; and a stream whose documents all
/// decode writes out and reads back as the same values.
pub fn yaml_stream(data: &[u8]) {
    use k8s_core::yaml;
    let text = text(data);
    let lines = text.split('\n').count() as u64;
    let separators = text.split('\n').filter(|l| l.starts_with("---")).count();
    let mut values = Vec::new();
    let mut last_document = None;
    let mut items = 0;
    for item in yaml::from_str_multi::<Value>(&text) {
        items += 1;
        match item {
            Ok(v) => values.push(v),
            Err(e) => {
                let d = e
                    .document
                    .unwrap_or_else(|| panic!("{text:?}: an error without its document: {e}"));
                assert!(
                    last_document.is_none_or(|last| last < d),
                    "{text:?}: document {d} out of order"
                );
                last_document = Some(d);
                if let Some(line) = e.line {
                    assert!(
                        (1..=lines + 1).contains(&line),
                        "{text:?}: line {line} of {lines}: {e}"
                    );
                }
            }
        }
    }
    assert!(
        items <= separators + 1,
        "{text:?}: {items} documents from {separators} separators"
    );
    if values.len() == items && !values.is_empty() {
        if let Ok(written) = yaml::to_string_multi(&values) {
            let back: Result<Vec<Value>, _> = yaml::from_str_multi(&written).collect();
            match back {
                Ok(back) => assert!(
                    back == values,
                    "{text:?}: written as {written:?}, reads back as {back:?}"
                ),
                Err(e) => panic!("{text:?}: written as {written:?}, does not read back: {e}"),
            }
        }
    }
    let _ = yaml::from_str::<Value>(&text);
}

/// Protobuf (`k8s_core::protobuf`): enveloped bodies, plain messages and watch frames never
/// panic; whatever decodes re-encodes to bytes that decode to the same value.
pub fn protobuf(data: &[u8]) {
    use k8s_core::protobuf::{self, Message, watch};
    use k8s_core::{ListMeta, ObjectMeta};

    // An absent field of a Go value type reads as the zero value and is written as such, so
    // the first encoding may add fields; from then on bytes and values are stable.
    fn round_trip<T: Message + PartialEq + std::fmt::Debug>(data: &[u8], what: &str) {
        if let Ok(value) = T::decode_message(data) {
            let bytes = value.encode_message();
            let again = T::decode_message(&bytes);
            let Ok(again) = again else {
                panic!("{what}: {value:?} encodes to bytes that do not decode: {again:?}");
            };
            assert!(
                again.encode_message() == bytes,
                "{what}: {value:?} and {again:?} encode differently"
            );
            let third = T::decode_message(&again.encode_message());
            assert!(
                third.as_ref() == Ok(&again),
                "{what}: {again:?} reads back as {third:?}"
            );
        }
    }
    round_trip::<ObjectMeta>(data, "ObjectMeta");
    round_trip::<ListMeta>(data, "ListMeta");
    round_trip::<Status>(data, "Status");
    if let Ok(mut status) = protobuf::from_bytes::<Status>(data) {
        // The envelope may leave apiVersion empty; `to_bytes` writes v1.
        status.api_version = Some("v1".into());
        let bytes = protobuf::to_bytes(&status);
        let back = protobuf::from_bytes::<Status>(&bytes).map(|s| protobuf::to_bytes(&s));
        assert!(
            back.as_ref() == Ok(&bytes),
            "Status envelope round trip: {back:?}"
        );
    }
    let mut frames = watch::FrameReader::new();
    frames.push(data);
    while let Ok(Some(frame)) = frames.next_frame() {
        let _ = watch::decode_event::<ObjectMeta>(frame);
    }
}

/// The test server's SPDY/3.1 frame decoder (`k8s_testserver::spdy`, what kubectl's
/// port-forward sends it): decoding never panics, and every decoded frame, encoded by a fresh
/// session and decoded again, is the same frame (header names lower-cased, as on the wire).
pub fn spdy_frames(data: &[u8]) {
    use k8s_testserver::spdy::{Codec, Frame};
    let mut rx = Codec::new();
    let (mut tx2, mut rx2) = (Codec::new(), Codec::new());
    let mut rest = data;
    while let Ok(Some((frame, used))) = rx.decode(rest) {
        assert!(used >= 8 && used <= rest.len(), "frame length {used}");
        rest = &rest[used..];
        let mut wire = Vec::new();
        if tx2.encode(&frame, &mut wire).is_err() {
            continue;
        }
        let lower = |h: &Vec<(String, String)>| -> Vec<(String, String)> {
            h.iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
                .collect()
        };
        let expected = match frame {
            Frame::SynStream {
                stream,
                associated,
                priority,
                flags,
                ref headers,
            } => Frame::SynStream {
                stream,
                associated,
                priority,
                flags,
                headers: lower(headers),
            },
            Frame::SynReply {
                stream,
                fin,
                ref headers,
            } => Frame::SynReply {
                stream,
                fin,
                headers: lower(headers),
            },
            Frame::Headers {
                stream,
                fin,
                ref headers,
            } => Frame::Headers {
                stream,
                fin,
                headers: lower(headers),
            },
            ref other => other.clone(),
        };
        match rx2.decode(&wire) {
            Ok(Some((again, n))) => {
                assert!(
                    n == wire.len(),
                    "{frame:?}: {n} of {} bytes read",
                    wire.len()
                );
                assert!(again == expected, "{frame:?} reads back as {again:?}");
            }
            other => panic!("{frame:?}: its encoding does not read back: {other:?}"),
        }
    }
}
