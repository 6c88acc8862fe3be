//! The recorded protobuf exchanges of a real API server (`apiserver-v1.36.2/protobuf.json`):
//! every enveloped body decodes into its generated kind and re-encodes to the server's exact
//! bytes; each protobuf body recorded beside the same object in JSON decodes to the same value;
//! watch streams re-encode exactly. The generated codecs are also checked the other way: JSON →
//! typed → protobuf → typed → JSON over the recorded objects and the kubectl corpus. The
//! fixtures are read in place (`K8S_FIXTURES_DIR`), never copied.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use k8s_api::v1_36::core::v1::ConfigMap;
use k8s_core::ByteString;
use k8s_core::Status;
use k8s_core::protobuf::{self, watch};
use k8s_sdk_tests::{VisitProto, dispatch_proto_v1_36, gvk_of, json_diff, scenarios};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

struct Body {
    note: String,
    content_type: String,
    bytes: Vec<u8>,
}

fn protobuf_bodies() -> Vec<Body> {
    let path = k8s_sdk_tests::fixtures_dir().join("apiserver-v1.36.2/protobuf.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let exchanges: Vec<Value> = serde_json::from_str(&text).unwrap();
    let mut out = Vec::new();
    for (i, e) in exchanges.iter().enumerate() {
        let content_type = e["response_headers"]["content-type"]
            .as_str()
            .unwrap_or_default();
        if !content_type.starts_with(protobuf::CONTENT_TYPE) {
            continue;
        }
        let b64 = e["response_body_base64"]
            .as_str()
            .unwrap_or_else(|| panic!("exchange {i}: a protobuf body without base64"));
        out.push(Body {
            note: format!("exchange {i} ({})", e["note"].as_str().unwrap_or_default()),
            content_type: content_type.to_owned(),
            bytes: ByteString::from_base64(b64).unwrap().into_bytes(),
        });
    }
    out
}

#[test]
fn every_protobuf_body_is_an_envelope_or_a_watch_stream() {
    let bodies = protobuf_bodies();
    assert!(bodies.len() >= 25, "only {} protobuf bodies", bodies.len());
    let mut events = 0;
    for b in &bodies {
        if b.content_type.contains("stream=watch") {
            let mut frames = watch::FrameReader::new();
            frames.push(&b.bytes);
            while let Some(frame) = frames.next_frame().unwrap() {
                // The object of every event is itself an envelope.
                let mut r = protobuf::Bytes::top(frame).reader().unwrap();
                let mut found = false;
                while let Some((field, value)) = r.next_field().unwrap() {
                    if let (2, protobuf::Value::Len(ext)) = (field, value) {
                        let mut er = ext.reader().unwrap();
                        let (_, raw) = er.next_field().unwrap().unwrap();
                        let protobuf::Value::Len(raw) = raw else {
                            panic!("{}: raw is not bytes", b.note)
                        };
                        protobuf::unwrap_envelope(raw.data)
                            .unwrap_or_else(|e| panic!("{}: {e}", b.note));
                        found = true;
                    }
                }
                assert!(found, "{}: an event without an object", b.note);
                events += 1;
            }
            frames.finish().unwrap();
        } else {
            protobuf::unwrap_envelope(&b.bytes).unwrap_or_else(|e| panic!("{}: {e}", b.note));
        }
    }
    assert!(events >= 4, "only {events} watch events");
}

#[test]
fn status_bodies_decode_and_reencode_to_the_servers_bytes() {
    let mut seen = 0;
    for b in protobuf_bodies() {
        let (type_meta, _) =
            protobuf::unwrap_envelope(&b.bytes).unwrap_or((protobuf::TypeMeta::default(), &[]));
        if type_meta.kind != "Status" {
            continue;
        }
        let status: Status =
            protobuf::from_bytes(&b.bytes).unwrap_or_else(|e| panic!("{}: {e}", b.note));
        assert_eq!(status.kind.as_deref(), Some("Status"), "{}", b.note);
        assert!(
            status.code.is_some_and(|c| c >= 400),
            "{}: {status:?}",
            b.note
        );
        assert!(status.message.is_some(), "{}: {status:?}", b.note);
        assert_eq!(
            protobuf::to_bytes(&status),
            b.bytes,
            "{}: re-encoded",
            b.note
        );
        seen += 1;
    }
    // 404, 409, 422 (with causes), two 400s, the custom resource's 406, /version's 406.
    assert!(seen >= 7, "only {seen} Status bodies");
}

#[test]
fn the_status_with_causes_has_them_all() {
    let b = protobuf_bodies()
        .into_iter()
        .find(|b| protobuf::from_bytes::<Status>(&b.bytes).is_ok_and(|s| s.code == Some(422)))
        .expect("the 422 Status");
    let s: Status = protobuf::from_bytes(&b.bytes).unwrap();
    assert_eq!(s.reason.as_deref(), Some("Invalid"));
    let details = s.details.expect("details");
    assert!(!details.causes.unwrap_or_default().is_empty());
}

fn exchanges() -> Vec<Value> {
    let path = k8s_sdk_tests::fixtures_dir().join("apiserver-v1.36.2/protobuf.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn body(e: &Value) -> Vec<u8> {
    ByteString::from_base64(e["response_body_base64"].as_str().unwrap())
        .unwrap()
        .into_bytes()
}

#[test]
fn the_protobuf_created_configmap_equals_its_json_and_reencodes_exactly() {
    let ex = exchanges();
    let created = ex
        .iter()
        .find(|e| {
            e["request_method"] == "POST"
                && e["response_status_code"] == 201
                && e["request_content_type"] == protobuf::CONTENT_TYPE
        })
        .expect("the ConfigMap created in protobuf");
    let bytes = body(created);
    let cm: ConfigMap = protobuf::from_bytes(&bytes).unwrap();
    assert_eq!(protobuf::to_bytes(&cm), bytes, "re-encoded");
    let name = cm.metadata.name.clone().unwrap();
    let json = ex
        .iter()
        .find(|e| {
            e["request_method"] == "GET"
                && e["request_url"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/configmaps/{name}"))
                && e["response_headers"]["content-type"] == "application/json"
        })
        .expect("the same ConfigMap in JSON");
    let from_json: ConfigMap =
        serde_json::from_str(json["response_body"].as_str().unwrap()).unwrap();
    assert_eq!(cm, from_json);
    assert!(cm.binary_data.is_some() && cm.data.is_some());
}

#[test]
fn the_configmap_watch_streams_decode_and_reencode_exactly() {
    let mut events = 0;
    for e in exchanges() {
        let ct = e["response_headers"]["content-type"]
            .as_str()
            .unwrap_or_default();
        if !ct.ends_with("stream=watch") || !ct.starts_with(protobuf::CONTENT_TYPE) {
            continue;
        }
        let stream = body(&e);
        let mut frames = watch::FrameReader::new();
        frames.push(&stream);
        let mut again = Vec::new();
        while let Some(frame) = frames.next_frame().unwrap() {
            let event = watch::decode_event::<ConfigMap>(frame).unwrap();
            again.extend(watch::encode_event(&event));
            events += 1;
        }
        frames.finish().unwrap();
        assert_eq!(again, stream, "{}", e["note"]);
    }
    // ADDED, MODIFIED, DELETED and bookmarks in two watches.
    assert!(events >= 8, "{events} events");
}

/// Decodes a protobuf body as `T`, re-encodes it, and decodes `json` (the same object recorded
/// in JSON) as `T` too.
struct Check<'a> {
    bytes: &'a [u8],
    json: Option<&'a str>,
}

/// What [`Check`] found.
struct Checked {
    type_name: &'static str,
    /// The first byte where the re-encoded body differs, and both lengths.
    reencoded: Result<(), String>,
    /// Differences between the JSON of the decoded protobuf body and of the decoded JSON body.
    pair: Option<Vec<String>>,
}

impl VisitProto for Check<'_> {
    type Out = Result<Checked, String>;

    fn visit<T: DeserializeOwned + Serialize + protobuf::Message + 'static>(self) -> Self::Out {
        let type_name = std::any::type_name::<T>();
        let typed: T = protobuf::from_bytes(self.bytes).map_err(|e| format!("{type_name}: {e}"))?;
        let again = protobuf::to_bytes(&typed);
        let reencoded = if again == self.bytes {
            Ok(())
        } else {
            let at = again
                .iter()
                .zip(self.bytes)
                .position(|(a, b)| a != b)
                .unwrap_or(again.len().min(self.bytes.len()));
            Err(format!(
                "re-encoded bytes differ from byte {at} (server {} bytes, ours {})",
                self.bytes.len(),
                again.len()
            ))
        };
        let pair = self.json.map(|text| {
            let from_json: T = match serde_json::from_str(text) {
                Ok(t) => t,
                Err(e) => return vec![format!("the JSON body does not decode: {e}")],
            };
            json_diff(
                &serde_json::to_value(&from_json).unwrap(),
                &serde_json::to_value(&typed).unwrap(),
            )
            .iter()
            .map(ToString::to_string)
            .collect()
        });
        Ok(Checked {
            type_name,
            reencoded,
            pair,
        })
    }
}

/// The JSON body recorded right after a protobuf body for the same URL (the notes say "the same
/// … in JSON"), if any.
fn json_twin(ex: &[Value], i: usize) -> Option<&str> {
    let next = ex.get(i + 1)?;
    let same_url = next["request_url"] == ex[i]["request_url"];
    let json = next["response_headers"]["content-type"]
        .as_str()
        .is_some_and(|c| c.starts_with("application/json"));
    (same_url && json && next["response_status_code"] == ex[i]["response_status_code"])
        .then(|| next["response_body"].as_str())
        .flatten()
}

/// Objects the server changed between the protobuf and the JSON request (controllers at work),
/// by note prefix, with the JSON pointer prefixes that may differ and why.
const CHANGED_IN_BETWEEN: &[(&str, &str, &str)] = &[
    (
        "Deployment in protobuf",
        "/status",
        "the deployment controller updates status between the two GETs",
    ),
    (
        "Deployment in protobuf",
        "/metadata/",
        "the deployment controller's status update bumps resourceVersion and managedFields",
    ),
    (
        "Node in protobuf",
        "/metadata/",
        "the node lifecycle controller changes the Node between the two GETs",
    ),
    (
        "Node in protobuf",
        "/spec/taints",
        "the node lifecycle controller taints the Node between the two GETs",
    ),
    (
        "Node in protobuf",
        "/status/conditions",
        "the node lifecycle controller changes the conditions between the two GETs",
    ),
];

/// Kinds the server sends in protobuf that the OpenAPI spec (so the generator) does not have.
const NO_TYPE: &[(&str, &str)] = &[
    // Aggregated discovery: not in the OpenAPI spec.
    ("apidiscovery.k8s.io/v2", "APIGroupDiscoveryList"),
];

#[test]
fn every_protobuf_body_decodes_into_its_kind_equals_its_json_and_reencodes_exactly() {
    let ex = exchanges();
    let mut decoded = 0;
    let mut skipped = 0;
    let mut reencoded = 0;
    let mut pairs = 0;
    let mut failures = Vec::new();
    let mut kinds = std::collections::BTreeSet::new();
    for (i, e) in ex.iter().enumerate() {
        let ct = e["response_headers"]["content-type"]
            .as_str()
            .unwrap_or_default();
        if !ct.starts_with(protobuf::CONTENT_TYPE) || ct.contains("stream=watch") {
            continue;
        }
        let note = e["note"].as_str().unwrap_or_default();
        let bytes = body(e);
        let (tm, _) = protobuf::unwrap_envelope(&bytes).unwrap();
        // Legacy discovery sends an empty apiVersion: those are `v1` meta kinds.
        let av = if tm.api_version.is_empty() {
            "v1"
        } else {
            tm.api_version.as_str()
        };
        let json = json_twin(&ex, i);
        let check = Check {
            bytes: &bytes,
            json,
        };
        let out = if tm.kind == "Status" {
            Some(check.visit::<Status>())
        } else {
            dispatch_proto_v1_36(av, &tm.kind, check)
        };
        let checked = match out {
            None if NO_TYPE.contains(&(av, tm.kind.as_str())) => {
                skipped += 1;
                continue;
            }
            None => {
                failures.push(format!(
                    "#{i} {note}: no generated type for {av} {}",
                    tm.kind
                ));
                continue;
            }
            Some(Err(err)) => {
                failures.push(format!("#{i} {note}: decoding failed: {err}"));
                continue;
            }
            Some(Ok(c)) => c,
        };
        decoded += 1;
        kinds.insert(format!("{av} {}", tm.kind));
        match checked.reencoded {
            Ok(()) => reencoded += 1,
            Err(why) => failures.push(format!("#{i} {note} ({}): {why}", checked.type_name)),
        }
        if let Some(diffs) = checked.pair {
            pairs += 1;
            let unexplained: Vec<&String> = diffs
                .iter()
                .filter(|d| {
                    !CHANGED_IN_BETWEEN
                        .iter()
                        .any(|(n, ptr, _)| note.starts_with(n) && d.starts_with(ptr))
                })
                .collect();
            if !unexplained.is_empty() {
                failures.push(format!(
                    "#{i} {note} ({}): protobuf and JSON decode differently:\n    {}",
                    checked.type_name,
                    unexplained
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join("\n    ")
                ));
            }
        }
    }
    println!(
        "protobuf bodies: {decoded} decoded ({} kinds: {}), {reencoded} re-encoded exactly, \
         {pairs} compared with their JSON twin, {skipped} without a generated type",
        kinds.len(),
        kinds.into_iter().collect::<Vec<_>>().join(", ")
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
    // 25 protobuf bodies: 2 watch streams, 2 aggregated discovery documents, 21 objects.
    assert!(decoded >= 21, "only {decoded} bodies decoded");
    assert!(pairs >= 6, "only {pairs} protobuf/JSON pairs");
}

/// JSON → typed → protobuf → typed → JSON: the differences that are not Go's own (see
/// [`GoZeros`]), as strings.
struct ThroughProtobuf<'a>(&'a str);

/// Differences a trip through protobuf makes that Go's own types make too, counted: the wire
/// has no "absent" for Go value fields and no empty list or map.
#[derive(Default, Debug)]
struct GoZeros {
    /// A Go value field absent from the input, written by Go's encoder as its zero value, reads
    /// back as present: a struct with zero fields (`"status": {}`), or a zero `IntOrString`
    /// (`targetPort: 0`) — Go's JSON writes both too (`omitempty` does not apply to structs).
    zero_added: usize,
    /// A zero value of a Go value field with `omitempty` (`false`, `0`, `""`) reads back as
    /// absent (Go's JSON leaves it out too).
    zero_value_dropped: usize,
    /// `[]` or `{}` reads back as absent (nothing on the wire; Go's decoder gives nil).
    empty_collection_dropped: usize,
}

fn is_go_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_go_zero),
    }
}

/// Removes from `before` and `after` the members that differ only as Go's zero values do.
fn reconcile(before: &mut Value, after: &mut Value, z: &mut GoZeros) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            b.retain(|k, v| {
                if a.contains_key(k) || !is_go_zero(v) {
                    return true;
                }
                match v {
                    Value::Array(_) | Value::Object(_) => z.empty_collection_dropped += 1,
                    _ => z.zero_value_dropped += 1,
                }
                false
            });
            a.retain(|k, v| {
                if b.contains_key(k) || !is_go_zero(v) {
                    return true;
                }
                z.zero_added += 1;
                false
            });
            for (k, bv) in b.iter_mut() {
                if let Some(av) = a.get_mut(k) {
                    reconcile(bv, av, z);
                }
            }
        }
        (Value::Array(b), Value::Array(a)) => {
            for (bv, av) in b.iter_mut().zip(a.iter_mut()) {
                reconcile(bv, av, z);
            }
        }
        _ => {}
    }
}

impl VisitProto for ThroughProtobuf<'_> {
    type Out = Result<(Vec<String>, GoZeros), String>;

    fn visit<T: DeserializeOwned + Serialize + protobuf::Message + 'static>(self) -> Self::Out {
        let typed: T = serde_json::from_str(self.0).map_err(|e| format!("JSON: {e}"))?;
        let bytes = protobuf::to_bytes(&typed);
        let back: T = protobuf::from_bytes(&bytes).map_err(|e| format!("protobuf: {e}"))?;
        let mut before = serde_json::to_value(&typed).unwrap();
        let mut after = serde_json::to_value(&back).unwrap();
        let mut zeros = GoZeros::default();
        reconcile(&mut before, &mut after, &mut zeros);
        let diffs = json_diff(&before, &after)
            .iter()
            .map(ToString::to_string)
            .collect();
        Ok((diffs, zeros))
    }
}

/// Every JSON object of the 1.36 recordings (request and response bodies, watch events, list
/// items) and of the kubectl corpus.
fn json_objects() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for s in scenarios().into_iter().filter(|s| s.module == "v1_36") {
        for (i, e) in s.exchanges.iter().enumerate() {
            for (part, text) in [("request", &e.request_body), ("response", &e.response_body)] {
                let Some(text) = text else { continue };
                if let Ok(v) = serde_json::from_str::<Value>(text) {
                    out.push((format!("{}#{i} {part}", s.name), v.to_string()));
                } else {
                    // Watch bodies: one event per line.
                    for (n, line) in text.lines().enumerate() {
                        if let Ok(ev) = serde_json::from_str::<Value>(line) {
                            if let Some(obj) = ev.get("object") {
                                out.push((format!("{}#{i} event {n}", s.name), obj.to_string()));
                            }
                        }
                    }
                }
            }
        }
    }
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/kubectl/out");
    let mut files: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap_or_else(|e| panic!("{}: {e}", corpus.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for p in files {
        let text = std::fs::read_to_string(&p).unwrap();
        out.push((format!("kubectl/{}", p.display()), text));
    }
    out
}

#[test]
fn json_objects_survive_a_trip_through_protobuf() {
    let mut checked = 0;
    let mut zeros = GoZeros::default();
    let mut no_type = std::collections::BTreeMap::<String, usize>::new();
    let mut failures = Vec::new();
    for (location, text) in json_objects() {
        let v: Value = serde_json::from_str(&text).unwrap();
        let (av, kind) = match (gvk_of(&v), v.get("kind").and_then(Value::as_str)) {
            (Some((av, k)), _) => (av.to_owned(), k.to_owned()),
            (None, Some(k)) => ("v1".to_owned(), k.to_owned()),
            (None, None) => continue,
        };
        let result = if kind == "Status" && av == "v1" {
            Some(ThroughProtobuf(&text).visit::<Status>())
        } else {
            dispatch_proto_v1_36(&av, &kind, ThroughProtobuf(&text))
        };
        match result {
            None => *no_type.entry(format!("{av} {kind}")).or_default() += 1,
            // Bodies that are not valid objects of their kind (deliberately invalid requests)
            // are the JSON round trip's business.
            Some(Err(e)) if e.starts_with("JSON:") => {}
            Some(Err(e)) => failures.push(format!("{location} ({av} {kind}): {e}")),
            Some(Ok((diffs, z))) => {
                checked += 1;
                zeros.zero_added += z.zero_added;
                zeros.zero_value_dropped += z.zero_value_dropped;
                zeros.empty_collection_dropped += z.empty_collection_dropped;
                if !diffs.is_empty() {
                    failures.push(format!(
                        "{location} ({av} {kind}):\n    {}",
                        diffs.join("\n    ")
                    ));
                }
            }
        }
    }
    println!(
        "{checked} objects through protobuf and back; Go's zero-value rules: {zeros:?}; \
         without a generated type: {no_type:?}"
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
    assert!(checked >= 200, "only {checked} objects checked");
}
