//! JSON ↔ protobuf for the HTTP edge: the store keeps JSON values; a protobuf answer is the
//! JSON object decoded into its generated type (found by `apiVersion`/`kind` through the
//! `visit_kind` of the Kubernetes version the server serves, [`Codec`]) and encoded by its
//! `k8s_core::protobuf::Message` impl, and a protobuf request body goes the other way.
//!
//! With the crate's feature `protobuf` every built-in kind (and `<Kind>List`) has a protobuf
//! form; without it only `Status` has one (errors), and request bodies fall back to the small
//! hand-written decoder of `proto.rs`. Which version's kinds: the one whose generated resource
//! table (`k8s_api::v1_3x::RESOURCES`) the server was started with, among the versions compiled
//! in (1.36 always; the others with the crate features `v1_32` … `v1_37`); a table that is none of
//! them (hand-written) gets 1.36's.

use k8s_core::ResourceInfo;
use serde_json::Value;

#[cfg(feature = "protobuf")]
use k8s_core::protobuf::{KindVisitor, Message};

/// Discovery documents: the real server writes them without `apiVersion` on `/api` and
/// `/api/v1`; their type is `v1` (meta) all the same.
const DISCOVERY_KINDS: &[&str] = &["APIVersions", "APIGroupList", "APIGroup", "APIResourceList"];

/// Why a protobuf body could not be read.
#[derive(Debug)]
pub(crate) enum DecodeFailure {
    /// No protobuf form for the envelope's kind (custom resources, feature off).
    Unsupported,
    /// The bytes are not a valid message of the kind: the decoder's error.
    Invalid(k8s_core::protobuf::Error),
}

/// The type to look up for an object: `(apiVersion, kind)`.
fn type_of(obj: &Value) -> Option<(&str, &str)> {
    let kind = obj.get("kind")?.as_str()?;
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let api_version = if api_version.is_empty() && DISCOVERY_KINDS.contains(&kind) {
        "v1"
    } else {
        api_version
    };
    Some((api_version, kind))
}

/// The generated kinds of one Kubernetes version, as plain functions over its `visit_kind`.
#[cfg(feature = "protobuf")]
#[derive(Debug)]
struct Kinds {
    /// `1.36` (for tests).
    #[cfg(test)]
    version: &'static str,
    /// The version's resource table, to recognise it.
    table: &'static [ResourceInfo],
    probe: fn(&str, &str) -> bool,
    encode: fn(&str, &str, &Value) -> Option<Encoded>,
    decode: fn(&str, &str, &[u8]) -> Option<Decoded>,
}

/// A protobuf body, or why the object does not fit its type.
type Encoded = Result<Vec<u8>, String>;

/// A JSON object from a protobuf body, or why not.
#[cfg(feature = "protobuf")]
type Decoded = Result<Value, DecodeFailure>;

#[cfg(feature = "protobuf")]
macro_rules! kinds {
    ($module:ident, $version:literal) => {
        Kinds {
            #[cfg(test)]
            version: $version,
            table: k8s_api::$module::RESOURCES,
            probe: |a, k| k8s_api::$module::visit_kind(a, k, Probe).is_some(),
            encode: |a, k, obj| k8s_api::$module::visit_kind(a, k, ToProtobuf(obj)),
            decode: |a, k, body| k8s_api::$module::visit_kind(a, k, FromProtobuf(body)),
        }
    };
}

/// The versions compiled in, newest first (a table equal to two of them picks the newer).
#[cfg(feature = "protobuf")]
const VERSIONS: &[Kinds] = &[
    #[cfg(feature = "v1_37")]
    kinds!(v1_37, "1.37"),
    kinds!(v1_36, "1.36"),
    #[cfg(feature = "v1_35")]
    kinds!(v1_35, "1.35"),
    #[cfg(feature = "v1_34")]
    kinds!(v1_34, "1.34"),
    #[cfg(feature = "v1_33")]
    kinds!(v1_33, "1.33"),
    #[cfg(feature = "v1_32")]
    kinds!(v1_32, "1.32"),
];

/// The default: 1.36, the version of the default resource table.
#[cfg(feature = "protobuf")]
const DEFAULT: Kinds = kinds!(v1_36, "1.36");

/// JSON ↔ protobuf for the kinds of the Kubernetes version the server serves.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Codec {
    #[cfg(feature = "protobuf")]
    kinds: &'static Kinds,
}

impl Codec {
    /// The codec of the version whose generated resource table is `table` (compared by
    /// content), else 1.36's.
    pub(crate) fn for_table(table: &[ResourceInfo]) -> Self {
        #[cfg(feature = "protobuf")]
        {
            let kinds = VERSIONS
                .iter()
                .find(|k| std::ptr::eq(k.table, table) || k.table == table)
                .unwrap_or(&DEFAULT);
            Self { kinds }
        }
        #[cfg(not(feature = "protobuf"))]
        {
            let _ = table;
            Self {}
        }
    }

    /// `1.36`: the version whose kinds have a protobuf form (`None` without the feature).
    #[cfg(test)]
    pub(crate) fn version(&self) -> Option<&'static str> {
        #[cfg(feature = "protobuf")]
        {
            Some(self.kinds.version)
        }
        #[cfg(not(feature = "protobuf"))]
        {
            None
        }
    }

    /// Whether `obj` has a protobuf form.
    pub(crate) fn can_encode(&self, obj: &Value) -> bool {
        let Some((api_version, kind)) = type_of(obj) else {
            return false;
        };
        if (api_version, kind) == ("v1", "Status") {
            return true;
        }
        #[cfg(feature = "protobuf")]
        {
            (self.kinds.probe)(api_version, kind)
        }
        #[cfg(not(feature = "protobuf"))]
        {
            false
        }
    }

    /// The protobuf body (`k8s\0` envelope) of a JSON object; `None` when its kind has no
    /// protobuf form, `Some(Err)` when the object does not fit its type (the error says why).
    pub(crate) fn encode(&self, obj: &Value) -> Option<Encoded> {
        let (api_version, kind) = type_of(obj)?;
        if (api_version, kind) == ("v1", "Status") {
            return Some(
                serde_json::from_value::<k8s_core::Status>(obj.clone())
                    .map(|s| k8s_core::protobuf::to_bytes(&s))
                    .map_err(|e| e.to_string()),
            );
        }
        #[cfg(feature = "protobuf")]
        {
            (self.kinds.encode)(api_version, kind, obj)
        }
        #[cfg(not(feature = "protobuf"))]
        {
            None
        }
    }

    /// The JSON object of a protobuf request body, through the generated type of its
    /// envelope's kind.
    pub(crate) fn decode(&self, body: &[u8]) -> Result<Value, DecodeFailure> {
        let (type_meta, _) =
            k8s_core::protobuf::unwrap_envelope(body).map_err(DecodeFailure::Invalid)?;
        #[cfg(feature = "protobuf")]
        {
            (self.kinds.decode)(&type_meta.api_version, &type_meta.kind, body)
                .unwrap_or(Err(DecodeFailure::Unsupported))
        }
        #[cfg(not(feature = "protobuf"))]
        {
            let _ = type_meta;
            Err(DecodeFailure::Unsupported)
        }
    }
}

/// One watch frame (4-byte big-endian length, `WatchEvent{type, RawExtension{raw}}`) of an
/// event whose object is already encoded (`encode`).
pub(crate) fn watch_frame(event_type: &str, object: &[u8]) -> Vec<u8> {
    let mut w = k8s_core::protobuf::Writer::new();
    w.bytes_field(1, event_type.as_bytes());
    w.nested(2, |w| w.bytes_field(1, object));
    let body = w.into_bytes();
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Whether a kind has a codec (nothing is converted).
#[cfg(feature = "protobuf")]
struct Probe;

#[cfg(feature = "protobuf")]
impl KindVisitor for Probe {
    type Output = ();
    fn visit<T>(self) {}
}

/// JSON object -> typed -> protobuf body.
#[cfg(feature = "protobuf")]
struct ToProtobuf<'a>(&'a Value);

#[cfg(feature = "protobuf")]
impl KindVisitor for ToProtobuf<'_> {
    type Output = Result<Vec<u8>, String>;
    fn visit<T>(self) -> Self::Output
    where
        T: Message + serde::Serialize + serde::de::DeserializeOwned + 'static,
    {
        let typed = T::deserialize(self.0).map_err(|e| e.to_string())?;
        Ok(k8s_core::protobuf::to_bytes(&typed))
    }
}

/// Protobuf body -> typed -> JSON object.
#[cfg(feature = "protobuf")]
struct FromProtobuf<'a>(&'a [u8]);

#[cfg(feature = "protobuf")]
impl KindVisitor for FromProtobuf<'_> {
    type Output = Result<Value, DecodeFailure>;
    fn visit<T>(self) -> Self::Output
    where
        T: Message + serde::Serialize + serde::de::DeserializeOwned + 'static,
    {
        let typed = k8s_core::protobuf::from_bytes::<T>(self.0).map_err(DecodeFailure::Invalid)?;
        serde_json::to_value(&typed)
            .map_err(|e| DecodeFailure::Invalid(k8s_core::protobuf::Error::Invalid(e.to_string())))
    }
}

/// Byte-exact against the real server: the JSON answer recorded beside a protobuf answer of the
/// same object (same resourceVersion) encodes to the recorded protobuf bytes.
#[cfg(all(test, feature = "protobuf"))]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::path::{Path, PathBuf};

    use base64::Engine;

    use super::*;

    fn encode(obj: &Value) -> Option<Result<Vec<u8>, String>> {
        Codec::for_table(k8s_api::v1_36::RESOURCES).encode(obj)
    }

    fn decode(body: &[u8]) -> Result<Value, DecodeFailure> {
        Codec::for_table(k8s_api::v1_36::RESOURCES).decode(body)
    }

    fn exchanges() -> Vec<Value> {
        let dir = std::env::var("K8S_FIXTURES_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
            });
        let path = dir.join("apiserver-v1.36.2/protobuf.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("cannot read {} ({e}): set K8S_FIXTURES_DIR", path.display())
        });
        serde_json::from_str(&text).unwrap()
    }

    fn b64(v: &Value) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("a base64 body"))
            .unwrap()
    }

    #[test]
    fn the_codec_is_the_served_versions() {
        let version = |t: &[ResourceInfo]| Codec::for_table(t).version();
        assert_eq!(version(k8s_api::v1_36::RESOURCES), Some("1.36"));
        #[cfg(feature = "v1_34")]
        assert_eq!(version(k8s_api::v1_34::RESOURCES), Some("1.34"));
        // A copy of a table is recognised by content; a hand-written one gets 1.36.
        #[cfg(feature = "v1_34")]
        #[allow(clippy::unnecessary_to_owned)] // a copy: another address, the same content
        {
            assert_eq!(version(&k8s_api::v1_34::RESOURCES.to_vec()), Some("1.34"));
        }
        assert_eq!(version(&k8s_api::v1_36::RESOURCES[..3]), Some("1.36"));
    }

    #[test]
    fn recorded_json_answers_encode_to_the_recorded_protobuf_bytes() {
        let ex = exchanges();
        // (protobuf answer, JSON answer of the same object): Pod, PodList, Service, CRD.
        for (pb, json) in [(2, 3), (9, 10), (32, 33), (38, 39)] {
            let recorded = b64(&ex[pb]["response_body_base64"]);
            let obj: Value =
                serde_json::from_str(ex[json]["response_body"].as_str().unwrap()).unwrap();
            let ours = encode(&obj)
                .unwrap_or_else(|| panic!("exchange {json}: no protobuf form"))
                .unwrap();
            assert!(
                ours == recorded,
                "exchange {json} -> protobuf differs from exchange {pb} ({} vs {} bytes)",
                ours.len(),
                recorded.len()
            );
        }
        // Status answers (404, 409) re-encoded from their own decoding.
        for i in [16, 17, 18, 42, 51] {
            let recorded = b64(&ex[i]["response_body_base64"]);
            let status: k8s_core::Status = k8s_core::protobuf::from_bytes(&recorded).unwrap();
            let v = serde_json::to_value(&status).unwrap();
            assert_eq!(encode(&v).unwrap().unwrap(), recorded, "exchange {i}");
        }
    }

    #[test]
    fn a_recorded_protobuf_request_body_decodes_to_the_recorded_json() {
        let ex = exchanges();
        let body = b64(&ex[14]["request_body_base64"]);
        let ours = decode(&body).unwrap();
        let recorded: Value =
            serde_json::from_str(ex[15]["response_body"].as_str().unwrap()).unwrap();
        for key in ["data", "binaryData"] {
            assert_eq!(ours[key], recorded[key], "{key}");
        }
        assert_eq!(ours["metadata"]["labels"], recorded["metadata"]["labels"]);
        assert_eq!(ours["kind"], "ConfigMap");
        // Truncated, and of a kind without a protobuf form.
        let truncated = b64(&ex[19]["request_body_base64"]);
        assert!(matches!(
            decode(&truncated),
            Err(DecodeFailure::Invalid(
                k8s_core::protobuf::Error::Truncated { .. }
            ))
        ));
        let mut w = k8s_core::protobuf::Writer::new();
        w.nested(1, |w| {
            w.bytes_field(1, b"example.com/v1");
            w.bytes_field(2, b"Widget");
        });
        let mut cr = k8s_core::protobuf::MAGIC.to_vec();
        cr.extend_from_slice(&w.into_bytes());
        assert!(matches!(decode(&cr), Err(DecodeFailure::Unsupported)));
    }

    #[test]
    fn watch_frames_decode_with_the_runtime() {
        let cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "resourceVersion": "7"}, "data": {"k": "v"}});
        let frame = watch_frame("ADDED", &encode(&cm).unwrap().unwrap());
        let mut r = k8s_core::protobuf::watch::FrameReader::new();
        r.push(&frame);
        let f = r.next_frame().unwrap().unwrap();
        let ev: k8s_core::WatchEvent<k8s_api::v1_36::core::v1::ConfigMap> =
            k8s_core::protobuf::watch::decode_event(f).unwrap();
        let k8s_core::WatchEvent::Added(got) = ev else {
            panic!("not ADDED")
        };
        assert_eq!(got.metadata.name.as_deref(), Some("a"));
    }
}
