//! The recorded protobuf exchanges of a real API server (`apiserver-v1.36.2/protobuf.json`):
//! every enveloped body is read, and the types `k8s-core` owns (`Status`) decode and re-encode to
//! the server's exact bytes. The fixtures are read in place (`K8S_FIXTURES_DIR`), never copied.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use k8s_core::ByteString;
use k8s_core::Status;
use k8s_core::protobuf::{self, watch};
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

/// A stand-in for the generated codec of `core/v1 ConfigMap` (field numbers of its message:
/// `metadata` 1, `data` 2, `binaryData` 3, `immutable` 4, a Go `*bool`), written by hand so that
/// the runtime's rules (ObjectMeta's value fields, maps, bytes, times, managed fields) are checked
/// against the server's bytes and JSON before the generated codecs exist.
#[derive(Debug, Default, PartialEq)]
struct ConfigMap(k8s_api::v1_36::core::v1::ConfigMap);

impl protobuf::Message for ConfigMap {
    fn encode_fields(&self, w: &mut protobuf::Writer) {
        use protobuf::Field;
        self.0.metadata.encode(1, w);
        self.0.data.encode(2, w);
        self.0.binary_data.encode(3, w);
        self.0.immutable.encode(4, w);
    }

    fn merge_field(
        &mut self,
        field: u32,
        value: protobuf::Value<'_>,
    ) -> Result<(), protobuf::Error> {
        use protobuf::Field;
        match field {
            1 => self.0.metadata.merge(value),
            2 => self.0.data.merge(value),
            3 => self.0.binary_data.merge(value),
            4 => self.0.immutable.merge(value),
            _ => Ok(()),
        }
    }

    fn type_meta() -> Option<protobuf::TypeMeta> {
        Some(protobuf::TypeMeta::new("v1", "ConfigMap"))
    }
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
    let name = cm.0.metadata.name.clone().unwrap();
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
    let from_json: k8s_api::v1_36::core::v1::ConfigMap =
        serde_json::from_str(json["response_body"].as_str().unwrap()).unwrap();
    assert_eq!(cm.0, from_json);
    assert!(cm.0.binary_data.is_some() && cm.0.data.is_some());
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
