//! The sans-IO request description.

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Characters escaped in a path segment: everything but RFC 3986 unreserved characters.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Characters escaped in a query key or value (like Go's `url.QueryEscape`; space becomes `+`).
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b' ');

/// Percent-encodes one path segment (a namespace, a name, a proxy path component).
#[doc(hidden)]
pub fn encode_path_segment_pub(segment: &str) -> String {
    utf8_percent_encode(segment, PATH_SEGMENT).to_string()
}

/// Percent-encodes a path tail (a proxy `{path}`): each segment escaped, `/` kept.
#[doc(hidden)]
pub fn encode_path_tail(path: &str) -> String {
    path.split('/')
        .map(|s| utf8_percent_encode(s, PATH_SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

fn encode_query_component(s: &str) -> String {
    utf8_percent_encode(s, QUERY).to_string().replace(' ', "+")
}

/// What the body of a successful response is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseKind {
    /// One JSON document.
    Json,
    /// Plain text (logs).
    Text,
    /// A stream of newline-separated JSON watch events.
    WatchStream,
    /// The operation needs an upgraded connection (WebSocket/SPDY): exec, attach, portforward.
    Upgrade,
}

/// One HTTP request to the API server, described completely. Performs no I/O.
///
/// The path is already percent-encoded; query pairs are kept unencoded in the order they were set
/// and encoded by [`Request::query_string`].
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Request {
    /// HTTP method.
    pub method: http::Method,
    /// Percent-encoded path, starting with `/`.
    pub path: String,
    /// Query parameters, unencoded, in insertion order. A key may repeat (e.g. exec's `command`).
    pub query: Vec<(String, String)>,
    /// Request body, if any.
    pub body: Option<Vec<u8>>,
    /// `Content-Type` of the body.
    pub content_type: Option<&'static str>,
    /// `Accept` header value.
    pub accept: &'static str,
    /// What a successful response carries.
    pub response_kind: ResponseKind,
    /// The protobuf form of this request, when its kind has a codec (see
    /// [`Request::prefer_protobuf`]); `None`: JSON only.
    pub protobuf: Option<ProtobufForm>,
}

/// What a request changes to when it is sent in protobuf.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProtobufForm {
    /// The body in protobuf (`k8s\0` envelope), for requests with a body (create, replace).
    pub body: Option<Vec<u8>>,
}

impl fmt::Debug for ProtobufForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProtobufForm")
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .finish()
    }
}

impl ProtobufForm {
    /// A protobuf form with this body (`None` for requests without one).
    pub fn new(body: Option<Vec<u8>>) -> Self {
        ProtobufForm { body }
    }
}

impl fmt::Debug for Request {
    // The body may hold a Secret's data: show its size only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .field("content_type", &self.content_type)
            .field("accept", &self.accept)
            .field("response_kind", &self.response_kind)
            .field("protobuf", &self.protobuf)
            .finish()
    }
}

impl Request {
    /// A request with no query, no body, accepting JSON.
    pub fn new(method: http::Method, path: impl Into<String>) -> Self {
        Request {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            content_type: None,
            accept: "application/json",
            response_kind: ResponseKind::Json,
            protobuf: None,
        }
    }

    /// Switches the request to protobuf if it has a protobuf form: `Accept` becomes
    /// [`ACCEPT_PROTOBUF`](crate::ops::ACCEPT_PROTOBUF) (protobuf, else JSON) and a body is
    /// replaced by its protobuf encoding. Returns whether it switched; a request without a
    /// protobuf form (custom resources, dynamic objects, patches, deletes, an `Accept`
    /// override) stays JSON.
    pub fn prefer_protobuf(&mut self) -> bool {
        let Some(form) = self.protobuf.take() else {
            return false;
        };
        self.accept = crate::ops::ACCEPT_PROTOBUF;
        if let Some(body) = form.body {
            self.body = Some(body);
            self.content_type = Some(crate::ops::CONTENT_TYPE_PROTOBUF);
        }
        true
    }

    /// Appends a query parameter.
    pub fn push_query(&mut self, key: &str, value: impl Into<String>) {
        self.query.push((key.to_owned(), value.into()));
    }

    /// Sets a query parameter, replacing an earlier value of the same key.
    pub fn set_query(&mut self, key: &str, value: impl Into<String>) {
        self.query.retain(|(k, _)| k != key);
        self.push_query(key, value);
    }

    /// The encoded query string without the leading `?`, sorted by key like client-go's
    /// `url.Values.Encode` (repeated keys keep their relative order).
    pub fn query_string(&self) -> String {
        let mut pairs: Vec<&(String, String)> = self.query.iter().collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = String::new();
        for (k, v) in pairs {
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(&encode_query_component(k));
            out.push('=');
            out.push_str(&encode_query_component(v));
        }
        out
    }

    /// Path and query, as sent on the request line.
    pub fn path_and_query(&self) -> String {
        let q = self.query_string();
        if q.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, q)
        }
    }

    /// Converts to an [`http::Request`] with a relative URI (`path?query`).
    pub fn to_http(&self) -> Result<http::Request<Vec<u8>>, RequestError> {
        let mut b = http::Request::builder()
            .method(self.method.clone())
            .uri(self.path_and_query())
            .header(http::header::ACCEPT, self.accept);
        if let Some(ct) = self.content_type {
            b = b.header(http::header::CONTENT_TYPE, ct);
        }
        b.body(self.body.clone().unwrap_or_default())
            .map_err(|e| RequestError::Http(e.to_string()))
    }
}

/// A request could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The body could not be serialized.
    #[error("cannot serialize the request body: {0}")]
    Body(String),
    /// A required option is missing (e.g. `fieldManager` for server-side apply).
    #[error("missing required option `{0}`")]
    Missing(&'static str),
    /// The request could not be converted to an HTTP request.
    #[error("invalid HTTP request: {0}")]
    Http(String),
}

/// A successful response body could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The body is not the JSON that was expected. Only the kind of error and its position are
    /// kept: serde_json's own message can quote values from the body (a Secret's data).
    #[error(
        "cannot decode {what} from the response body: {category} error at line {line}, column {column}"
    )]
    Json {
        /// What was being decoded (a Rust type name).
        what: &'static str,
        /// `syntax`, `data` (wrong type or value), `eof` (truncated) or `io`.
        category: &'static str,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
    },
    /// The body is not UTF-8 text.
    #[error("the response body is not UTF-8 text: {0}")]
    Utf8(#[from] std::string::FromUtf8Error),
    /// A watch event line is malformed.
    #[error("malformed watch event: {0}")]
    WatchEvent(String),
    /// The body is protobuf that does not decode as the type expected.
    #[error("cannot decode {what} from the protobuf response body: {message}")]
    Protobuf {
        /// What was being decoded (a Rust type name).
        what: &'static str,
        /// The wire error, with the path of field numbers where it happened.
        message: String,
    },
    /// The response has a content type the request cannot decode (protobuf for a request
    /// without a protobuf codec).
    #[error("cannot decode {what} from a response of content type {content_type:?}")]
    UnsupportedContentType {
        /// What was being decoded (a Rust type name).
        what: &'static str,
        /// The response's `Content-Type`.
        content_type: String,
    },
    /// The operation needs an upgraded connection, which this response is not.
    #[error("operation needs an upgraded (WebSocket/SPDY) connection")]
    NeedsUpgrade,
}

/// A typed API request: builds its [`Request`] and decodes the body of a successful response.
///
/// Every generated operation returns a value implementing this trait.
pub trait ApiRequest {
    /// The typed result of a successful (2xx) response.
    type Response;

    /// Describes the HTTP request. Can be called again (e.g. to retry).
    fn to_request(&self) -> Result<Request, RequestError>;

    /// Decodes the body of a successful (2xx) response.
    fn decode_response(&self, body: &[u8]) -> Result<Self::Response, DecodeError>;

    /// Decodes the body of a successful response by its `Content-Type` (empty when the
    /// response has none): requests with a protobuf codec decode protobuf bodies; the default
    /// decodes JSON with [`ApiRequest::decode_response`] and refuses protobuf.
    fn decode_response_as(
        &self,
        content_type: &str,
        body: &[u8],
    ) -> Result<Self::Response, DecodeError> {
        if crate::ops::is_protobuf(content_type) {
            return Err(DecodeError::UnsupportedContentType {
                what: std::any::type_name::<Self::Response>(),
                content_type: content_type.to_owned(),
            });
        }
        self.decode_response(body)
    }
}

/// Decodes a JSON body into `T`.
pub(crate) fn decode_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, DecodeError> {
    serde_json::from_slice(body).map_err(|e| DecodeError::json::<T>(&e))
}

impl DecodeError {
    /// A protobuf decode error of `T`.
    #[cfg(feature = "protobuf")]
    pub fn protobuf<T: ?Sized>(e: crate::protobuf::Error) -> Self {
        DecodeError::Protobuf {
            what: std::any::type_name::<T>(),
            message: e.to_string(),
        }
    }

    /// A JSON decode error of `T`, without the parts of serde_json's message that quote data.
    pub fn json<T: ?Sized>(e: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        DecodeError::Json {
            what: std::any::type_name::<T>(),
            category: match e.classify() {
                Category::Io => "io",
                Category::Syntax => "syntax",
                Category::Data => "data",
                Category::Eof => "eof",
            },
            line: e.line(),
            column: e.column(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn query_is_sorted_and_encoded_like_client_go() {
        let mut r = Request::new(http::Method::GET, "/api/v1/pods");
        r.push_query("limit", "3");
        r.push_query("labelSelector", "tier in (a,b)");
        r.push_query("command", "sh");
        r.push_query("command", "-c");
        assert_eq!(
            r.query_string(),
            "command=sh&command=-c&labelSelector=tier+in+%28a%2Cb%29&limit=3"
        );
        assert_eq!(
            r.path_and_query(),
            "/api/v1/pods?command=sh&command=-c&labelSelector=tier+in+%28a%2Cb%29&limit=3"
        );
    }

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(encode_path_segment_pub("a b/c?"), "a%20b%2Fc%3F");
        assert_eq!(encode_path_segment_pub("web-0.x_y~"), "web-0.x_y~");
    }

    #[test]
    fn decode_errors_do_not_quote_the_body() {
        let e = decode_json::<i32>(br#""c2VjcmV0""#)
            .unwrap_err()
            .to_string();
        assert!(!e.contains("c2VjcmV0"), "{e}");
        assert!(e.contains("data error at line 1, column 10"), "{e}");
    }

    #[test]
    fn debug_hides_body() {
        let mut r = Request::new(http::Method::POST, "/api/v1/namespaces/d/secrets");
        r.body = Some(b"{\"data\":{\"password\":\"c2VjcmV0\"}}".to_vec());
        let d = format!("{r:?}");
        assert!(!d.contains("c2VjcmV0"), "{d}");
        assert!(d.contains("body_len"));
    }
}
