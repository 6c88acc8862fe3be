//! The builders of the standard verbs: get, list, watch, create, replace, patch, delete and
//! delete-collection.

use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::codec::{ProtobufCodec, is_protobuf, split_frames};
use super::params::{
    DeleteParams, FieldValidation, ListParams, PatchParams, PropagationPolicy,
    ResourceVersionMatch, WatchParams, WriteParams,
};
use crate::request::{
    ApiRequest, DecodeError, ProtobufForm, Request, RequestError, ResponseKind, decode_json,
};
use crate::{List, ListItem, Patch, Resource, Status, WatchEvent};

fn serialize_body<B: Serialize + ?Sized>(body: &B) -> Result<Vec<u8>, String> {
    serde_json::to_vec(body).map_err(|e| e.to_string())
}

/// Body bytes, or why they could not be made; shown in `Debug` by size only.
#[derive(Clone, PartialEq, Eq)]
struct Body(Result<Vec<u8>, String>);

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Ok(b) => write!(f, "<{} bytes>", b.len()),
            Err(e) => write!(f, "<error: {e}>"),
        }
    }
}

impl Body {
    fn bytes(&self) -> Result<Vec<u8>, RequestError> {
        self.0.clone().map_err(RequestError::Body)
    }
}

/// Decodes a body by its content type: protobuf through `decode_pb` when the request has a
/// codec, else JSON (a protobuf body without a codec is an error naming the content type).
fn decode_as<C, V>(
    codec: Option<&C>,
    content_type: &str,
    body: &[u8],
    decode_pb: impl FnOnce(&C, &[u8]) -> Result<V, DecodeError>,
    decode_json: impl FnOnce(&[u8]) -> Result<V, DecodeError>,
) -> Result<V, DecodeError> {
    if !is_protobuf(content_type) {
        return decode_json(body);
    }
    match codec {
        Some(c) => decode_pb(c, body),
        None => Err(DecodeError::UnsupportedContentType {
            what: std::any::type_name::<V>(),
            content_type: content_type.to_owned(),
        }),
    }
}

/// GET of one object (or subresource, or discovery document), decoded as `R`.
pub struct GetRequest<R> {
    path: String,
    protobuf: Option<ProtobufCodec<R>>,
    _r: PhantomData<fn() -> R>,
}
impl_common!(GetRequest { path, protobuf });

impl<R> GetRequest<R> {
    /// A GET of this path, always JSON.
    pub fn new(path: String) -> Self {
        GetRequest {
            path,
            protobuf: None,
            _r: PhantomData,
        }
    }
}

impl<R: Resource> GetRequest<R> {
    /// A GET of an object of the kind `R`: in protobuf when the client prefers it and `R` has
    /// a codec ([`Resource::protobuf_codec`]), else JSON.
    pub fn for_kind(path: String) -> Self {
        GetRequest {
            path,
            protobuf: R::protobuf_codec(),
            _r: PhantomData,
        }
    }
}

impl<R: DeserializeOwned> ApiRequest for GetRequest<R> {
    type Response = R;
    fn to_request(&self) -> Result<Request, RequestError> {
        let mut r = Request::new(http::Method::GET, self.path.clone());
        if self.protobuf.is_some() {
            r.protobuf = Some(ProtobufForm::default());
        }
        Ok(r)
    }
    fn decode_response(&self, body: &[u8]) -> Result<R, DecodeError> {
        decode_json(body)
    }
    fn decode_response_as(&self, content_type: &str, body: &[u8]) -> Result<R, DecodeError> {
        decode_as(
            self.protobuf.as_ref(),
            content_type,
            body,
            |c, b| c.decode(b),
            decode_json,
        )
    }
}

/// List of a collection, decoded as [`List<T>`].
pub struct ListRequest<R> {
    path: String,
    params: ListParams,
    accept: Option<&'static str>,
    protobuf: Option<ProtobufCodec<R>>,
    _r: PhantomData<fn() -> R>,
}
impl_common!(ListRequest {
    path,
    params,
    accept,
    protobuf
});

impl<T: Resource> ListRequest<T> {
    /// A list of a collection of the kind `T`: in protobuf when the client prefers it and `T`
    /// has a codec ([`Resource::protobuf_codec`]), else JSON.
    pub fn for_kind(path: String) -> Self {
        ListRequest::new(path).protobuf(T::protobuf_codec())
    }
}

impl<T> ListRequest<T> {
    /// A list of the collection at this path, always JSON.
    pub fn new(path: String) -> Self {
        ListRequest {
            path,
            params: ListParams::default(),
            accept: None,
            protobuf: None,
            _r: PhantomData,
        }
    }
    /// Sets the protobuf codec of the items (`None`: JSON only).
    pub fn protobuf(mut self, codec: Option<ProtobufCodec<T>>) -> Self {
        self.protobuf = codec;
        self
    }
    /// The protobuf codec of the items, if any.
    pub fn get_protobuf(&self) -> Option<ProtobufCodec<T>> {
        self.protobuf
    }
    /// Overrides the `Accept` header (default `application/json`), for example with
    /// [`ACCEPT_PARTIAL_OBJECT_METADATA_LIST`](super::ACCEPT_PARTIAL_OBJECT_METADATA_LIST) to
    /// list metadata only (decode as `List` of a metadata type).
    pub fn accept(mut self, accept: &'static str) -> Self {
        self.accept = Some(accept);
        self
    }
    /// The `Accept` override, if any.
    pub fn get_accept(&self) -> Option<&'static str> {
        self.accept
    }
    list_options!(params);
    /// Sets `limit`: at most this many items per page.
    pub fn limit(mut self, limit: i64) -> Self {
        self.params.limit = Some(limit);
        self
    }
    /// Sets `continue`: the token of the next page.
    pub fn continue_token(mut self, token: impl Into<String>) -> Self {
        self.params.continue_token = Some(token.into());
        self
    }
    /// Replaces all options.
    pub fn params(mut self, params: ListParams) -> Self {
        self.params = params;
        self
    }
    /// The options.
    pub fn get_params(&self) -> &ListParams {
        &self.params
    }
    /// The options, mutably (the runtime sets `continue` while paginating).
    pub fn params_mut(&mut self) -> &mut ListParams {
        &mut self.params
    }
}

impl<T: ListItem> ApiRequest for ListRequest<T> {
    type Response = List<T>;
    fn to_request(&self) -> Result<Request, RequestError> {
        let mut r = Request::new(http::Method::GET, self.path.clone());
        self.params.apply(&mut r);
        match self.accept {
            Some(accept) => r.accept = accept,
            None if self.protobuf.is_some() => r.protobuf = Some(ProtobufForm::default()),
            None => {}
        }
        Ok(r)
    }
    fn decode_response(&self, body: &[u8]) -> Result<List<T>, DecodeError> {
        decode_json(body)
    }
    fn decode_response_as(&self, content_type: &str, body: &[u8]) -> Result<List<T>, DecodeError> {
        decode_as(
            self.protobuf.as_ref(),
            content_type,
            body,
            |c, b| c.decode_list(b),
            decode_json,
        )
    }
}

/// Watch of a collection (or of one object, through `fieldSelector=metadata.name=…`): a stream
/// of [`WatchEvent<T>`], one JSON document per line.
pub struct WatchRequest<R> {
    path: String,
    params: WatchParams,
    accept: Option<&'static str>,
    protobuf: Option<ProtobufCodec<R>>,
    _r: PhantomData<fn() -> R>,
}
impl_common!(WatchRequest {
    path,
    params,
    accept,
    protobuf
});

impl<T: Resource> WatchRequest<T> {
    /// A watch of a collection of the kind `T`: a protobuf stream when the client prefers it
    /// and `T` has a codec ([`Resource::protobuf_codec`]), else JSON lines.
    pub fn for_kind(path: String) -> Self {
        WatchRequest::new(path).protobuf(T::protobuf_codec())
    }
}

impl<T> WatchRequest<T> {
    /// A watch of the collection at this path, always JSON.
    pub fn new(path: String) -> Self {
        WatchRequest {
            path,
            params: WatchParams::default(),
            accept: None,
            protobuf: None,
            _r: PhantomData,
        }
    }
    /// Sets the protobuf codec of the objects (`None`: JSON only).
    pub fn protobuf(mut self, codec: Option<ProtobufCodec<T>>) -> Self {
        self.protobuf = codec;
        self
    }
    /// The protobuf codec of the objects, if any.
    pub fn get_protobuf(&self) -> Option<ProtobufCodec<T>> {
        self.protobuf
    }
    /// Decodes one frame of a protobuf event stream (without its 4-byte length); an error if
    /// the request has no protobuf codec.
    pub fn decode_protobuf_event(&self, frame: &[u8]) -> Result<WatchEvent<T>, DecodeError> {
        match &self.protobuf {
            Some(c) => c.decode_event(frame),
            None => Err(DecodeError::UnsupportedContentType {
                what: std::any::type_name::<WatchEvent<T>>(),
                content_type: super::codec::WATCH_CONTENT_TYPE_PROTOBUF.to_owned(),
            }),
        }
    }
    /// Overrides the `Accept` header (default `application/json`), for example with
    /// [`ACCEPT_PARTIAL_OBJECT_METADATA`](super::ACCEPT_PARTIAL_OBJECT_METADATA) to watch
    /// metadata only (decode as a metadata type).
    pub fn accept(mut self, accept: &'static str) -> Self {
        self.accept = Some(accept);
        self
    }
    /// The `Accept` override, if any.
    pub fn get_accept(&self) -> Option<&'static str> {
        self.accept
    }
    list_options!(params);
    /// Sets `allowWatchBookmarks`.
    pub fn allow_bookmarks(mut self, allow: bool) -> Self {
        self.params.allow_bookmarks = allow;
        self
    }
    /// Sets `sendInitialEvents` (a streaming list; pair with
    /// `resource_version_match(NotOlderThan)`).
    pub fn send_initial_events(mut self, send: bool) -> Self {
        self.params.send_initial_events = Some(send);
        self
    }
    /// Replaces all options.
    pub fn params(mut self, params: WatchParams) -> Self {
        self.params = params;
        self
    }
    /// The options.
    pub fn get_params(&self) -> &WatchParams {
        &self.params
    }
    /// The options, mutably (the runtime moves `resourceVersion` forward when it resumes).
    pub fn params_mut(&mut self) -> &mut WatchParams {
        &mut self.params
    }
    /// Decodes one line of the event stream.
    pub fn decode_event(&self, line: &[u8]) -> Result<WatchEvent<T>, DecodeError>
    where
        T: DeserializeOwned,
    {
        WatchEvent::from_json_line(line)
    }
}

impl<T: DeserializeOwned> ApiRequest for WatchRequest<T> {
    /// A whole (finished) stream, decoded event by event.
    type Response = Vec<WatchEvent<T>>;
    fn to_request(&self) -> Result<Request, RequestError> {
        let mut r = Request::new(http::Method::GET, self.path.clone());
        self.params.apply(&mut r);
        r.response_kind = ResponseKind::WatchStream;
        match self.accept {
            Some(accept) => r.accept = accept,
            None if self.protobuf.is_some() => r.protobuf = Some(ProtobufForm::default()),
            None => {}
        }
        Ok(r)
    }
    fn decode_response(&self, body: &[u8]) -> Result<Self::Response, DecodeError> {
        body.split(|b| *b == b'\n')
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
            .map(WatchEvent::from_json_line)
            .collect()
    }
    fn decode_response_as(
        &self,
        content_type: &str,
        body: &[u8],
    ) -> Result<Self::Response, DecodeError> {
        decode_as(
            self.protobuf.as_ref(),
            content_type,
            body,
            |c, b| {
                split_frames(b)?
                    .into_iter()
                    .map(|f| c.decode_event(f))
                    .collect()
            },
            |b| self.decode_response(b),
        )
    }
}

/// Create (POST) and replace (PUT): the same request but for the method and the docs. A JSON
/// body, the write options, and the answer decoded as `R`.
macro_rules! json_body_request {
    ($(#[$doc:meta])* $name:ident, $method:ident, $new_doc:literal) => {
        $(#[$doc])*
        pub struct $name<R> {
            path: String,
            body: Body,
            params: WriteParams,
            protobuf: Option<(ProtobufCodec<R>, Body)>,
            _r: PhantomData<fn() -> R>,
        }
        impl_common!($name { path, body, params, protobuf });

        impl<R> $name<R> {
            #[doc = $new_doc]
            pub fn new<B: Serialize + ?Sized>(path: String, body: &B) -> Self {
                $name {
                    path,
                    body: Body(serialize_body(body)),
                    params: WriteParams::default(),
                    protobuf: None,
                    _r: PhantomData,
                }
            }
            write_options!(params);
        }

        impl<R: Resource + Serialize> $name<R> {
            /// The same with a body of the kind `R`, also encoded in protobuf when `R` has a
            /// codec ([`Resource::protobuf_codec`]): the client sends whichever it prefers and
            /// reads the answer by its content type.
            pub fn for_kind(path: String, body: &R) -> Self {
                let mut request = Self::new(path, body);
                request.protobuf = R::protobuf_codec().map(|c| (c, Body(Ok(c.encode(body)))));
                request
            }
        }

        impl<R: DeserializeOwned> ApiRequest for $name<R> {
            type Response = R;
            fn to_request(&self) -> Result<Request, RequestError> {
                let mut r = Request::new(http::Method::$method, self.path.clone());
                self.params.apply(&mut r);
                r.body = Some(self.body.bytes()?);
                r.content_type = Some("application/json");
                if let Some((_, body)) = &self.protobuf {
                    r.protobuf = Some(ProtobufForm::new(Some(body.bytes()?)));
                }
                Ok(r)
            }
            fn decode_response(&self, body: &[u8]) -> Result<R, DecodeError> {
                decode_json(body)
            }
            fn decode_response_as(&self, content_type: &str, body: &[u8]) -> Result<R, DecodeError> {
                decode_as(
                    self.protobuf.as_ref().map(|(c, _)| c),
                    content_type,
                    body,
                    |c, b| c.decode(b),
                    decode_json,
                )
            }
        }
    };
}

json_body_request!(
    /// POST of a new object (or of a subresource body such as an `Eviction` or a `TokenRequest`),
    /// answered with `R`.
    CreateRequest,
    POST,
    "A POST of `body` (serialized as JSON) to this path."
);

json_body_request!(
    /// PUT of a whole object (replace), answered with `R`.
    ReplaceRequest,
    PUT,
    "A PUT of `body` to this path."
);

/// PATCH of an object, answered with `R`.
pub struct PatchRequest<R> {
    path: String,
    patch: Patch,
    params: PatchParams,
    _r: PhantomData<fn() -> R>,
}
impl_common!(PatchRequest {
    path,
    patch,
    params
});

impl<R> PatchRequest<R> {
    /// A PATCH of this path.
    pub fn new(path: String, patch: Patch) -> Self {
        PatchRequest {
            path,
            patch,
            params: PatchParams::default(),
            _r: PhantomData,
        }
    }
    write_options!(params.write);
    /// Sets `force=true`: a server-side apply takes over conflicting fields.
    pub fn force(mut self) -> Self {
        self.params.force = true;
        self
    }
}

impl<R: DeserializeOwned> ApiRequest for PatchRequest<R> {
    type Response = R;
    fn to_request(&self) -> Result<Request, RequestError> {
        if self.patch.is_apply() && self.params.write.field_manager.is_none() {
            return Err(RequestError::Missing("fieldManager"));
        }
        let mut r = Request::new(http::Method::PATCH, self.path.clone());
        self.params.write.apply(&mut r);
        if self.params.force {
            r.push_query("force", "true");
        }
        r.body = Some(self.patch.to_body()?);
        r.content_type = Some(self.patch.content_type());
        Ok(r)
    }
    fn decode_response(&self, body: &[u8]) -> Result<R, DecodeError> {
        decode_json(body)
    }
}

/// What a delete answers: the object (still there while finalizers or a grace period run, or its
/// last state), or a `Status` when it was removed at once.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
// Sizes depend on T; boxing would add an allocation to every delete for no gain.
#[allow(clippy::large_enum_variant)]
pub enum DeleteResponse<T> {
    /// The object.
    Object(T),
    /// A `Status` (kind `Status`, `status: Success`).
    Status(Status),
}

fn decode_delete<T: DeserializeOwned>(body: &[u8]) -> Result<DeleteResponse<T>, DecodeError> {
    #[derive(serde::Deserialize)]
    struct Kind<'a> {
        #[serde(borrow)]
        kind: Option<std::borrow::Cow<'a, str>>,
    }
    let kind: Kind<'_> = decode_json_borrowed(body)?;
    if kind.kind.as_deref() == Some("Status") {
        decode_json(body).map(DeleteResponse::Status)
    } else {
        decode_json(body).map(DeleteResponse::Object)
    }
}

fn decode_json_borrowed<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Result<T, DecodeError> {
    serde_json::from_slice(body).map_err(|e| DecodeError::json::<T>(&e))
}

/// DELETE of one object.
pub struct DeleteRequest<R> {
    path: String,
    params: DeleteParams,
    _r: PhantomData<fn() -> R>,
}
impl_common!(DeleteRequest { path, params });

impl<R> DeleteRequest<R> {
    /// A DELETE of this path.
    pub fn new(path: String) -> Self {
        DeleteRequest {
            path,
            params: DeleteParams::default(),
            _r: PhantomData,
        }
    }
    delete_options!(params);
}

impl<R: DeserializeOwned> ApiRequest for DeleteRequest<R> {
    type Response = DeleteResponse<R>;
    fn to_request(&self) -> Result<Request, RequestError> {
        let mut r = Request::new(http::Method::DELETE, self.path.clone());
        self.params.apply(&mut r)?;
        Ok(r)
    }
    fn decode_response(&self, body: &[u8]) -> Result<Self::Response, DecodeError> {
        decode_delete(body)
    }
}

/// DELETE of every object of a collection that matches the selectors.
pub struct DeleteCollectionRequest<R> {
    path: String,
    list: ListParams,
    params: DeleteParams,
    _r: PhantomData<fn() -> R>,
}
impl_common!(DeleteCollectionRequest { path, list, params });

impl<T> DeleteCollectionRequest<T> {
    /// A DELETE of the collection at this path.
    pub fn new(path: String) -> Self {
        DeleteCollectionRequest {
            path,
            list: ListParams::default(),
            params: DeleteParams::default(),
            _r: PhantomData,
        }
    }
    list_options!(list);
    delete_options!(params);
}

impl<T: ListItem> ApiRequest for DeleteCollectionRequest<T> {
    type Response = DeleteResponse<List<T>>;
    fn to_request(&self) -> Result<Request, RequestError> {
        let mut r = Request::new(http::Method::DELETE, self.path.clone());
        self.list.apply(&mut r);
        self.params.apply(&mut r)?;
        Ok(r)
    }
    fn decode_response(&self, body: &[u8]) -> Result<Self::Response, DecodeError> {
        decode_delete(body)
    }
}
