//! Content negotiation of answers (`Accept`), as the real server does it, at the edge: the
//! handlers write JSON; here a JSON answer becomes protobuf (`application/vnd.kubernetes.protobuf`,
//! `codec.rs`) when the first clause the server can serve asks for it, stays JSON for a JSON
//! clause, and becomes `406 NotAcceptable` when no clause fits.
//!
//! Recorded from kube-apiserver 1.36 (`protobuf.json` of the shared fixtures):
//! * built-in kinds, lists and `Status` in protobuf; watches as length-prefixed `WatchEvent`
//!   frames with `Content-Type: application/vnd.kubernetes.protobuf;stream=watch`, also when the
//!   `Accept` has no `;stream=watch`;
//! * custom resources (no protobuf form): `Accept: protobuf, json` gives JSON; protobuf alone gives
//!   406 "only the following media types are accepted: …", the Status in protobuf;
//! * a protobuf `Table` alone: the same 406, in JSON; `/version` with protobuf: 406 "Available
//!   representations: application/json", in protobuf;
//! * a media type the server does not serve (CBOR): 406 "406: Not Acceptable\n\nAvailable
//!   representations: …", in JSON.

use bytes::Bytes;
use http::{HeaderValue, Response, header};
use http_body_util::BodyExt;
use hyper::body::Frame;
use serde_json::Value;

use super::{Body, full};
use crate::codec::{self, Codec};

const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";
const PROTOBUF_WATCH: &str = "application/vnd.kubernetes.protobuf;stream=watch";
const SERVED: &str = "application/json, application/yaml, application/vnd.kubernetes.protobuf";

/// What a path serves, for negotiation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PathClass {
    /// `/api/v1/...`, `/apis/<g>/<v>/...`: objects, lists, watches.
    Resource,
    /// Legacy discovery documents.
    Discovery,
    /// `/version` (no protobuf form).
    Version,
    /// Everything else (OpenAPI, health, `/`): answered as the handler wrote it.
    Other,
}

/// Marks a watch answer with the type of its objects (set by the router).
#[derive(Clone, Debug)]
pub(super) struct WatchOf {
    pub api_version: String,
    pub kind: String,
}

/// One clause of `Accept`.
struct Clause {
    media: String,
    /// `as=…` (a Table, metadata or discovery conversion).
    conversion: Option<String>,
}

fn clauses(accept: &str) -> Vec<Clause> {
    accept
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            let mut parts = c.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let conversion = parts
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim() == "as")
                .map(|(_, v)| v.trim().to_owned());
            Clause { media, conversion }
        })
        .collect()
}

fn is_json(media: &str) -> bool {
    matches!(
        media,
        "application/json" | "application/yaml" | "application/*" | "*/*"
    )
}

/// The choice for one answer.
enum Choice {
    Json,
    Protobuf,
    /// 406 (message, whether the Status is written in protobuf, whether it has `details: {}`).
    NotAcceptable(String, bool, bool),
}

fn choose(accept: &str, class: PathClass, encodable: bool, watch: bool) -> Choice {
    let clauses = clauses(accept);
    if clauses.is_empty() {
        return Choice::Json;
    }
    // A protobuf clause the server understood but could not serve the object in (custom
    // resources, Table): the 406 names the media types instead of the representations.
    let mut refused: Option<bool> = None;
    for c in &clauses {
        if is_json(&c.media) {
            return Choice::Json;
        }
        if c.media == PROTOBUF {
            let table = c
                .conversion
                .as_deref()
                .is_some_and(|a| a == "Table" || a == "APIGroupDiscoveryList");
            if class == PathClass::Version {
                refused.get_or_insert(true);
            } else if encodable && !table {
                return Choice::Protobuf;
            } else if !cfg!(feature = "protobuf") {
                // Without the feature no kind but Status has a protobuf form here: answer JSON,
                // as this server did before it spoke protobuf, rather than a 406 the real
                // server would not give for a built-in kind.
                return Choice::Json;
            } else {
                refused.get_or_insert(!table);
            }
        }
    }
    match refused {
        Some(in_protobuf) if class == PathClass::Version => Choice::NotAcceptable(
            "406: Not Acceptable\n\nAvailable representations: application/json".into(),
            in_protobuf,
            true,
        ),
        Some(in_protobuf) => Choice::NotAcceptable(
            format!("only the following media types are accepted: {SERVED}"),
            in_protobuf,
            false,
        ),
        None if watch => Choice::NotAcceptable(
            format!(
                "406: Not Acceptable\n\nAvailable representations: {SERVED}, application/json;stream=watch, {PROTOBUF_WATCH}"
            ),
            false,
            true,
        ),
        None => Choice::NotAcceptable(
            format!("406: Not Acceptable\n\nAvailable representations: {SERVED}"),
            false,
            true,
        ),
    }
}

/// The 406 answer.
fn not_acceptable(
    codec: Codec,
    message: String,
    in_protobuf: bool,
    details: bool,
) -> Response<Body> {
    let e = crate::errors::not_acceptable(message, details);
    let resp = super::error_response(&e);
    if in_protobuf {
        let v = serde_json::to_value(&e.status).unwrap_or(Value::Null);
        if let Some(Ok(bytes)) = codec.encode(&v) {
            return with_body(resp, bytes, PROTOBUF);
        }
    }
    resp
}

/// `resp` with another body and content type (status and other headers kept).
fn with_body(resp: Response<Body>, bytes: Vec<u8>, content_type: &'static str) -> Response<Body> {
    let (mut parts, _) = resp.into_parts();
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, full(bytes))
}

fn is_plain_json(resp: &Response<Body>) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/json")
}

/// Applies `accept` to a finished answer; protobuf forms are those of `codec`'s version.
pub(super) async fn finish(
    accept: &str,
    class: PathClass,
    codec: Codec,
    resp: Response<Body>,
) -> Response<Body> {
    if class == PathClass::Other || !is_plain_json(&resp) {
        return resp;
    }
    if let Some(of) = resp.extensions().get::<WatchOf>().cloned() {
        return finish_watch(accept, codec, &of, resp);
    }
    // Answers here are whole JSON documents already in memory.
    let (parts, body) = resp.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let resp = Response::from_parts(parts, full(bytes.clone()));
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let encodable = class != PathClass::Version && codec.can_encode(&value);
    match choose(accept, class, encodable, false) {
        Choice::Json => resp,
        Choice::NotAcceptable(m, pb, details) => not_acceptable(codec, m, pb, details),
        Choice::Protobuf => match codec.encode(&value) {
            Some(Ok(pb)) => with_body(resp, pb, PROTOBUF),
            Some(Err(e)) => super::error_response(&crate::errors::internal(format!(
                "unable to encode {} as protobuf: {e}",
                value
                    .get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or("the object")
            ))),
            None => resp,
        },
    }
}

/// A watch: JSON lines, or each event re-framed in protobuf.
fn finish_watch(accept: &str, codec: Codec, of: &WatchOf, resp: Response<Body>) -> Response<Body> {
    let probe = serde_json::json!({"apiVersion": of.api_version, "kind": of.kind});
    match choose(accept, PathClass::Resource, codec.can_encode(&probe), true) {
        Choice::Json => resp,
        Choice::NotAcceptable(m, pb, details) => not_acceptable(codec, m, pb, details),
        Choice::Protobuf => {
            let (mut parts, body) = resp.into_parts();
            parts.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(PROTOBUF_WATCH),
            );
            let body = body
                .map_frame(move |f| match f.into_data() {
                    Ok(data) => Frame::data(reframe(codec, &data)),
                    Err(f) => f,
                })
                .boxed();
            Response::from_parts(parts, body)
        }
    }
}

/// JSON watch lines (`{"type":…,"object":…}`) as protobuf frames.
fn reframe(codec: Codec, data: &Bytes) -> Bytes {
    let mut out = Vec::new();
    for line in data.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let Ok(event) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        let event_type = event.get("type").and_then(Value::as_str).unwrap_or("");
        let object = event.get("object").unwrap_or(&Value::Null);
        match codec.encode(object) {
            Some(Ok(raw)) => out.extend(codec::watch_frame(event_type, &raw)),
            other => {
                // An object without a protobuf form in a protobuf stream: an ERROR event, as
                // the real server ends a watch it cannot encode.
                let why = match other {
                    Some(Err(e)) => e,
                    _ => "no protobuf form".into(),
                };
                let status = k8s_core::Status::failure(
                    500,
                    "InternalError",
                    format!("unable to encode watch event object as protobuf: {why}"),
                );
                out.extend(codec::watch_frame(
                    "ERROR",
                    &k8s_core::protobuf::to_bytes(&status),
                ));
            }
        }
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(accept: &str, encodable: bool) -> &'static str {
        match choose(accept, PathClass::Resource, encodable, false) {
            Choice::Json => "json",
            Choice::Protobuf => "protobuf",
            Choice::NotAcceptable(_, true, _) => "406 protobuf",
            Choice::NotAcceptable(_, false, _) => "406 json",
        }
    }

    #[test]
    #[cfg(feature = "protobuf")]
    fn the_first_servable_clause_wins() {
        assert_eq!(pick("", true), "json");
        assert_eq!(pick(PROTOBUF, true), "protobuf");
        assert_eq!(
            pick("application/vnd.kubernetes.protobuf, */*", true),
            "protobuf"
        );
        assert_eq!(
            pick(
                "application/json, application/vnd.kubernetes.protobuf",
                true
            ),
            "json"
        );
        // custom resources
        assert_eq!(
            pick(
                "application/vnd.kubernetes.protobuf, application/json",
                false
            ),
            "json"
        );
        assert_eq!(pick(PROTOBUF, false), "406 protobuf");
        // a protobuf Table is never served
        assert_eq!(
            pick(
                "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io",
                true
            ),
            "406 json"
        );
        assert_eq!(pick("application/cbor", true), "406 json");
        assert_eq!(pick("application/cbor, application/json", true), "json");
    }
}
