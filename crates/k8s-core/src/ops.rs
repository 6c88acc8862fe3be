//! Typed, sans-IO request builders for the standard Kubernetes verbs.
//!
//! Generated operations return these: `Pod::list("default")` is a [`ListRequest<Pod>`],
//! `Pod::read_status(..)` a [`GetRequest<Pod>`], `Deployment::patch_scale(..)` a
//! [`PatchRequest<Scale>`]. The generator checks, for every operation, that the spec's query
//! parameters are exactly the ones the builder offers (or emits a dedicated builder instead), so
//! the options here are the spec's own, typed once.
//!
//! ```
//! use k8s_core::ops::ListRequest;
//! use k8s_core::ApiRequest;
//! # #[derive(serde::Deserialize)] struct Pod;
//! let req = ListRequest::<Pod>::new("/api/v1/namespaces/default/pods".into())
//!     .label_selector("app=web")
//!     .limit(500);
//! let http = req.to_request().unwrap();
//! assert_eq!(http.path_and_query(), "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb&limit=500");
//! ```

use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::request::{ApiRequest, DecodeError, Request, RequestError, ResponseKind, decode_json};
use crate::{List, Patch, Status, WatchEvent};

pub use crate::request::{encode_path_segment_pub as encode_path_segment, encode_path_tail};

/// `resourceVersionMatch`
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceVersionMatch {
    /// `NotOlderThan`: any state at least as new as `resourceVersion`.
    NotOlderThan,
    /// `Exact`: exactly `resourceVersion`.
    Exact,
}

impl ResourceVersionMatch {
    fn as_str(self) -> &'static str {
        match self {
            ResourceVersionMatch::NotOlderThan => "NotOlderThan",
            ResourceVersionMatch::Exact => "Exact",
        }
    }
}

/// `fieldValidation`: what the server does with unknown or duplicate fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and answer with a `Warning` header (the server's default).
    Warn,
    /// Reject the request with 400.
    Strict,
}

impl FieldValidation {
    fn as_str(self) -> &'static str {
        match self {
            FieldValidation::Ignore => "Ignore",
            FieldValidation::Warn => "Warn",
            FieldValidation::Strict => "Strict",
        }
    }
}

/// `propagationPolicy`: what happens to dependents on delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PropagationPolicy {
    /// Dependents are orphaned.
    Orphan,
    /// Dependents are deleted in the background.
    Background,
    /// The object stays (with a `foregroundDeletion` finalizer) until its dependents are gone.
    Foreground,
}

/// Options of a list (and of the list part of a delete-collection).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListParams {
    /// `labelSelector`
    pub label_selector: Option<String>,
    /// `fieldSelector`
    pub field_selector: Option<String>,
    /// `limit`: page size.
    pub limit: Option<i64>,
    /// `continue`: token of the next page.
    pub continue_token: Option<String>,
    /// `resourceVersion`
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`
    pub resource_version_match: Option<ResourceVersionMatch>,
    /// `timeoutSeconds`
    pub timeout_seconds: Option<i64>,
    /// `shardSelector` (Kubernetes 1.36+, alpha `ShardedListAndWatch`; older servers ignore it).
    pub shard_selector: Option<String>,
}

impl ListParams {
    fn apply(&self, r: &mut Request) {
        if let Some(v) = &self.label_selector {
            r.push_query("labelSelector", v.clone());
        }
        if let Some(v) = &self.field_selector {
            r.push_query("fieldSelector", v.clone());
        }
        if let Some(v) = self.limit {
            r.push_query("limit", v.to_string());
        }
        if let Some(v) = &self.continue_token {
            r.push_query("continue", v.clone());
        }
        if let Some(v) = &self.resource_version {
            r.push_query("resourceVersion", v.clone());
        }
        if let Some(v) = self.resource_version_match {
            r.push_query("resourceVersionMatch", v.as_str());
        }
        if let Some(v) = self.timeout_seconds {
            r.push_query("timeoutSeconds", v.to_string());
        }
        if let Some(v) = &self.shard_selector {
            r.push_query("shardSelector", v.clone());
        }
    }
}

/// Options of a watch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WatchParams {
    /// `labelSelector`
    pub label_selector: Option<String>,
    /// `fieldSelector`
    pub field_selector: Option<String>,
    /// `resourceVersion` to start from.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`
    pub resource_version_match: Option<ResourceVersionMatch>,
    /// `allowWatchBookmarks`
    pub allow_bookmarks: bool,
    /// `sendInitialEvents`: a streaming list (needs `resourceVersionMatch=NotOlderThan`).
    pub send_initial_events: Option<bool>,
    /// `timeoutSeconds`: the server ends the watch after this long.
    pub timeout_seconds: Option<i64>,
    /// `shardSelector` (Kubernetes 1.36+, alpha `ShardedListAndWatch`; older servers ignore it).
    pub shard_selector: Option<String>,
}

impl WatchParams {
    fn apply(&self, r: &mut Request) {
        r.push_query("watch", "1");
        if let Some(v) = &self.label_selector {
            r.push_query("labelSelector", v.clone());
        }
        if let Some(v) = &self.field_selector {
            r.push_query("fieldSelector", v.clone());
        }
        if let Some(v) = &self.resource_version {
            r.push_query("resourceVersion", v.clone());
        }
        if let Some(v) = self.resource_version_match {
            r.push_query("resourceVersionMatch", v.as_str());
        }
        if self.allow_bookmarks {
            r.push_query("allowWatchBookmarks", "true");
        }
        if let Some(v) = self.send_initial_events {
            r.push_query("sendInitialEvents", if v { "true" } else { "false" });
        }
        if let Some(v) = self.timeout_seconds {
            r.push_query("timeoutSeconds", v.to_string());
        }
        if let Some(v) = &self.shard_selector {
            r.push_query("shardSelector", v.clone());
        }
    }
}

/// Options of create and replace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteParams {
    /// `dryRun=All`: validate and admit, but do not persist.
    pub dry_run: bool,
    /// `fieldManager`
    pub field_manager: Option<String>,
    /// `fieldValidation`
    pub field_validation: Option<FieldValidation>,
}

impl WriteParams {
    fn apply(&self, r: &mut Request) {
        if self.dry_run {
            r.push_query("dryRun", "All");
        }
        if let Some(v) = &self.field_manager {
            r.push_query("fieldManager", v.clone());
        }
        if let Some(v) = self.field_validation {
            r.push_query("fieldValidation", v.as_str());
        }
    }
}

/// Options of a patch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PatchParams {
    /// `dryRun`, `fieldManager`, `fieldValidation`.
    pub write: WriteParams,
    /// `force`: take ownership of conflicting fields (server-side apply only).
    pub force: bool,
}

/// Options of delete and delete-collection.
///
/// `dryRun` and `gracePeriodSeconds` travel in the query; `propagationPolicy` and preconditions
/// in a `DeleteOptions` body (the server reads both; preconditions exist only in the body).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeleteParams {
    /// `dryRun=All`
    pub dry_run: bool,
    /// `gracePeriodSeconds`; `0` deletes at once.
    pub grace_period_seconds: Option<i64>,
    /// `propagationPolicy`
    pub propagation_policy: Option<PropagationPolicy>,
    /// `preconditions.uid`
    pub precondition_uid: Option<String>,
    /// `preconditions.resourceVersion`
    pub precondition_resource_version: Option<String>,
}

impl DeleteParams {
    fn apply(&self, r: &mut Request) -> Result<(), RequestError> {
        if self.dry_run {
            r.push_query("dryRun", "All");
        }
        if let Some(v) = self.grace_period_seconds {
            r.push_query("gracePeriodSeconds", v.to_string());
        }
        if self.propagation_policy.is_some()
            || self.precondition_uid.is_some()
            || self.precondition_resource_version.is_some()
        {
            #[derive(Serialize)]
            #[serde(rename_all = "camelCase")]
            struct Preconditions<'a> {
                #[serde(skip_serializing_if = "Option::is_none")]
                resource_version: Option<&'a str>,
                #[serde(skip_serializing_if = "Option::is_none")]
                uid: Option<&'a str>,
            }
            #[derive(Serialize)]
            #[serde(rename_all = "camelCase")]
            struct Body<'a> {
                api_version: &'static str,
                kind: &'static str,
                #[serde(skip_serializing_if = "Option::is_none")]
                preconditions: Option<Preconditions<'a>>,
                #[serde(skip_serializing_if = "Option::is_none")]
                propagation_policy: Option<PropagationPolicy>,
            }
            let pre = (self.precondition_uid.is_some()
                || self.precondition_resource_version.is_some())
            .then_some(Preconditions {
                resource_version: self.precondition_resource_version.as_deref(),
                uid: self.precondition_uid.as_deref(),
            });
            let body = Body {
                api_version: "v1",
                kind: "DeleteOptions",
                preconditions: pre,
                propagation_policy: self.propagation_policy,
            };
            r.body =
                Some(serde_json::to_vec(&body).map_err(|e| RequestError::Body(e.to_string()))?);
            r.content_type = Some("application/json");
        }
        Ok(())
    }
}

fn serialize_body<B: Serialize + ?Sized>(body: &B) -> Result<Vec<u8>, String> {
    serde_json::to_vec(body).map_err(|e| e.to_string())
}

macro_rules! list_options {
    ($field:ident) => {
        /// Sets `labelSelector` (e.g. `app=web,tier in (a,b)`).
        pub fn label_selector(mut self, selector: impl Into<String>) -> Self {
            self.$field.label_selector = Some(selector.into());
            self
        }
        /// Sets `fieldSelector` (e.g. `metadata.name=web-0`).
        pub fn field_selector(mut self, selector: impl Into<String>) -> Self {
            self.$field.field_selector = Some(selector.into());
            self
        }
        /// Sets `resourceVersion`.
        pub fn resource_version(mut self, rv: impl Into<String>) -> Self {
            self.$field.resource_version = Some(rv.into());
            self
        }
        /// Sets `resourceVersionMatch`.
        pub fn resource_version_match(mut self, m: ResourceVersionMatch) -> Self {
            self.$field.resource_version_match = Some(m);
            self
        }
        /// Sets `timeoutSeconds`.
        pub fn timeout_seconds(mut self, seconds: i64) -> Self {
            self.$field.timeout_seconds = Some(seconds);
            self
        }
        /// Sets `shardSelector` (Kubernetes 1.36+, alpha; e.g.
        /// `shardRange(object.metadata.uid, '0x0', '0x8000000000000000')`).
        pub fn shard_selector(mut self, selector: impl Into<String>) -> Self {
            self.$field.shard_selector = Some(selector.into());
            self
        }
    };
}

macro_rules! write_options {
    ($($field:ident).+) => {
        /// Sets `dryRun=All`: the server validates and admits but does not persist.
        pub fn dry_run(mut self) -> Self {
            self.$($field).+.dry_run = true;
            self
        }
        /// Sets `fieldManager`.
        pub fn field_manager(mut self, manager: impl Into<String>) -> Self {
            self.$($field).+.field_manager = Some(manager.into());
            self
        }
        /// Sets `fieldValidation`.
        pub fn field_validation(mut self, v: FieldValidation) -> Self {
            self.$($field).+.field_validation = Some(v);
            self
        }
    };
}

macro_rules! delete_options {
    ($field:ident) => {
        /// Sets `dryRun=All`.
        pub fn dry_run(mut self) -> Self {
            self.$field.dry_run = true;
            self
        }
        /// Sets `gracePeriodSeconds` (`0`: at once).
        pub fn grace_period_seconds(mut self, seconds: i64) -> Self {
            self.$field.grace_period_seconds = Some(seconds);
            self
        }
        /// Sets `propagationPolicy` (sent in a `DeleteOptions` body).
        pub fn propagation_policy(mut self, p: PropagationPolicy) -> Self {
            self.$field.propagation_policy = Some(p);
            self
        }
        /// Deletes only if the object still has this uid (a `DeleteOptions` precondition).
        pub fn precondition_uid(mut self, uid: impl Into<String>) -> Self {
            self.$field.precondition_uid = Some(uid.into());
            self
        }
        /// Deletes only if the object is still at this resource version.
        pub fn precondition_resource_version(mut self, rv: impl Into<String>) -> Self {
            self.$field.precondition_resource_version = Some(rv.into());
            self
        }
    };
}

/// Implements `Clone` and `Debug` without bounds on the response type parameter.
macro_rules! impl_common {
    ($name:ident { $($f:ident),* }) => {
        impl<R> Clone for $name<R> {
            fn clone(&self) -> Self {
                $name { $($f: self.$f.clone(),)* _r: PhantomData }
            }
        }
        impl<R> fmt::Debug for $name<R> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut d = f.debug_struct(stringify!($name));
                d.field("response", &std::any::type_name::<R>());
                $( d.field(stringify!($f), &self.$f); )*
                d.finish()
            }
        }
        impl<R> $name<R> {
            /// The request path (percent-encoded).
            pub fn path(&self) -> &str {
                &self.path
            }
        }
    };
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

// ---------------------------------------------------------------------------------------------

/// GET of one object (or subresource, or discovery document), decoded as `R`.
pub struct GetRequest<R> {
    path: String,
    _r: PhantomData<fn() -> R>,
}
impl_common!(GetRequest { path });

impl<R> GetRequest<R> {
    /// A GET of this path.
    pub fn new(path: String) -> Self {
        GetRequest {
            path,
            _r: PhantomData,
        }
    }
}

impl<R: DeserializeOwned> ApiRequest for GetRequest<R> {
    type Response = R;
    fn to_request(&self) -> Result<Request, RequestError> {
        Ok(Request::new(http::Method::GET, self.path.clone()))
    }
    fn decode_response(&self, body: &[u8]) -> Result<R, DecodeError> {
        decode_json(body)
    }
}

/// List of a collection, decoded as [`List<T>`].
pub struct ListRequest<R> {
    path: String,
    params: ListParams,
    _r: PhantomData<fn() -> R>,
}
impl_common!(ListRequest { path, params });

impl<T> ListRequest<T> {
    /// A list of the collection at this path.
    pub fn new(path: String) -> Self {
        ListRequest {
            path,
            params: ListParams::default(),
            _r: PhantomData,
        }
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

impl<T: DeserializeOwned> ApiRequest for ListRequest<T> {
    type Response = List<T>;
    fn to_request(&self) -> Result<Request, RequestError> {
        let mut r = Request::new(http::Method::GET, self.path.clone());
        self.params.apply(&mut r);
        Ok(r)
    }
    fn decode_response(&self, body: &[u8]) -> Result<List<T>, DecodeError> {
        decode_json(body)
    }
}

/// Watch of a collection (or of one object, through `fieldSelector=metadata.name=…`): a stream
/// of [`WatchEvent<T>`], one JSON document per line.
pub struct WatchRequest<R> {
    path: String,
    params: WatchParams,
    _r: PhantomData<fn() -> R>,
}
impl_common!(WatchRequest { path, params });

impl<T> WatchRequest<T> {
    /// A watch of the collection at this path.
    pub fn new(path: String) -> Self {
        WatchRequest {
            path,
            params: WatchParams::default(),
            _r: PhantomData,
        }
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
        Ok(r)
    }
    fn decode_response(&self, body: &[u8]) -> Result<Self::Response, DecodeError> {
        body.split(|b| *b == b'\n')
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
            .map(WatchEvent::from_json_line)
            .collect()
    }
}

/// POST of a new object (or of a subresource body such as an `Eviction` or a `TokenRequest`),
/// answered with `R`.
pub struct CreateRequest<R> {
    path: String,
    body: Body,
    params: WriteParams,
    _r: PhantomData<fn() -> R>,
}
impl_common!(CreateRequest { path, body, params });

impl<R> CreateRequest<R> {
    /// A POST of `body` (serialized as JSON) to this path.
    pub fn new<B: Serialize + ?Sized>(path: String, body: &B) -> Self {
        CreateRequest {
            path,
            body: Body(serialize_body(body)),
            params: WriteParams::default(),
            _r: PhantomData,
        }
    }
    write_options!(params);
}

impl<R: DeserializeOwned> ApiRequest for CreateRequest<R> {
    type Response = R;
    fn to_request(&self) -> Result<Request, RequestError> {
        let mut r = Request::new(http::Method::POST, self.path.clone());
        self.params.apply(&mut r);
        r.body = Some(self.body.bytes()?);
        r.content_type = Some("application/json");
        Ok(r)
    }
    fn decode_response(&self, body: &[u8]) -> Result<R, DecodeError> {
        decode_json(body)
    }
}

/// PUT of a whole object (replace), answered with `R`.
pub struct ReplaceRequest<R> {
    path: String,
    body: Body,
    params: WriteParams,
    _r: PhantomData<fn() -> R>,
}
impl_common!(ReplaceRequest { path, body, params });

impl<R> ReplaceRequest<R> {
    /// A PUT of `body` to this path.
    pub fn new<B: Serialize + ?Sized>(path: String, body: &B) -> Self {
        ReplaceRequest {
            path,
            body: Body(serialize_body(body)),
            params: WriteParams::default(),
            _r: PhantomData,
        }
    }
    write_options!(params);
}

impl<R: DeserializeOwned> ApiRequest for ReplaceRequest<R> {
    type Response = R;
    fn to_request(&self) -> Result<Request, RequestError> {
        let mut r = Request::new(http::Method::PUT, self.path.clone());
        self.params.apply(&mut r);
        r.body = Some(self.body.bytes()?);
        r.content_type = Some("application/json");
        Ok(r)
    }
    fn decode_response(&self, body: &[u8]) -> Result<R, DecodeError> {
        decode_json(body)
    }
}

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

impl<T: DeserializeOwned> ApiRequest for DeleteCollectionRequest<T> {
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

// ---------------------------------------------------------------------------------------------

/// How a [`CustomRequest`] decodes a successful response.
pub trait Decode {
    /// The decoded type.
    type Output;
    /// What the response body carries.
    const KIND: ResponseKind;
    /// Decodes the body.
    fn decode(body: &[u8]) -> Result<Self::Output, DecodeError>;
}

/// Decode as JSON into `T`.
#[derive(Debug)]
pub struct Json<T>(PhantomData<fn() -> T>);
impl<T: DeserializeOwned> Decode for Json<T> {
    type Output = T;
    const KIND: ResponseKind = ResponseKind::Json;
    fn decode(body: &[u8]) -> Result<T, DecodeError> {
        decode_json(body)
    }
}

/// Decode as UTF-8 text (logs; a following log is better read as a byte stream).
#[derive(Debug)]
pub struct Text;
impl Decode for Text {
    type Output = String;
    const KIND: ResponseKind = ResponseKind::Text;
    fn decode(body: &[u8]) -> Result<String, DecodeError> {
        Ok(String::from_utf8(body.to_vec())?)
    }
}

/// The operation needs an upgraded connection (exec, attach, portforward): a plain HTTP client
/// cannot complete it. Its [`Request`] is still fully described.
#[derive(Debug)]
pub struct Upgrade;
impl Decode for Upgrade {
    type Output = Vec<u8>;
    const KIND: ResponseKind = ResponseKind::Upgrade;
    fn decode(_body: &[u8]) -> Result<Vec<u8>, DecodeError> {
        Err(DecodeError::NeedsUpgrade)
    }
}

/// Raw bytes (proxy operations: whatever the proxied endpoint answers).
#[derive(Debug)]
pub struct Bytes;
impl Decode for Bytes {
    type Output = Vec<u8>;
    const KIND: ResponseKind = ResponseKind::Text;
    fn decode(body: &[u8]) -> Result<Vec<u8>, DecodeError> {
        Ok(body.to_vec())
    }
}

/// A request of an operation whose options are its own (logs, exec, attach, portforward, proxy):
/// generated code wraps it in a builder with one typed method per query parameter.
pub struct CustomRequest<D> {
    request: Request,
    _d: PhantomData<fn() -> D>,
}

impl<D> Clone for CustomRequest<D> {
    fn clone(&self) -> Self {
        CustomRequest {
            request: self.request.clone(),
            _d: PhantomData,
        }
    }
}

impl<D> fmt::Debug for CustomRequest<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomRequest")
            .field("request", &self.request)
            .finish()
    }
}

impl<D: Decode> CustomRequest<D> {
    /// A request with this method and path.
    pub fn new(method: http::Method, path: String) -> Self {
        let mut request = Request::new(method, path);
        request.response_kind = D::KIND;
        if D::KIND == ResponseKind::Text {
            request.accept = "*/*";
        }
        CustomRequest {
            request,
            _d: PhantomData,
        }
    }
    /// Sets a query parameter (replacing an earlier value).
    pub fn set_query(mut self, key: &str, value: impl Into<String>) -> Self {
        self.request.set_query(key, value);
        self
    }
    /// Appends a query parameter (for repeated parameters such as exec's `command`).
    pub fn push_query(mut self, key: &str, value: impl Into<String>) -> Self {
        self.request.push_query(key, value);
        self
    }
    /// Sets the body and its content type.
    pub fn body(mut self, bytes: Vec<u8>, content_type: &'static str) -> Self {
        self.request.body = Some(bytes);
        self.request.content_type = Some(content_type);
        self
    }
    /// The request described so far.
    pub fn request(&self) -> &Request {
        &self.request
    }
}

impl<D: Decode> ApiRequest for CustomRequest<D> {
    type Response = D::Output;
    fn to_request(&self) -> Result<Request, RequestError> {
        Ok(self.request.clone())
    }
    fn decode_response(&self, body: &[u8]) -> Result<D::Output, DecodeError> {
        D::decode(body)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Obj {
        kind: Option<String>,
    }

    #[test]
    fn delete_puts_propagation_policy_in_a_body() {
        let r =
            DeleteRequest::<Obj>::new("/apis/apps/v1/namespaces/default/deployments/web".into())
                .propagation_policy(PropagationPolicy::Foreground)
                .to_request()
                .unwrap();
        assert_eq!(
            String::from_utf8(r.body.unwrap()).unwrap(),
            r#"{"apiVersion":"v1","kind":"DeleteOptions","propagationPolicy":"Foreground"}"#
        );
        assert_eq!(r.content_type, Some("application/json"));
        let r = DeleteRequest::<Obj>::new("/api/v1/namespaces/default/pods/demo".into())
            .grace_period_seconds(0)
            .to_request()
            .unwrap();
        assert_eq!(
            r.path_and_query(),
            "/api/v1/namespaces/default/pods/demo?gracePeriodSeconds=0"
        );
        assert!(r.body.is_none());
    }

    #[test]
    fn delete_response_is_object_or_status() {
        let req = DeleteRequest::<Obj>::new("/x".into());
        let s = req
            .decode_response(br#"{"kind":"Status","apiVersion":"v1","status":"Success"}"#)
            .unwrap();
        assert!(matches!(s, DeleteResponse::Status(_)));
        let o = req.decode_response(br#"{"kind":"Pod"}"#).unwrap();
        assert_eq!(
            o,
            DeleteResponse::Object(Obj {
                kind: Some("Pod".into())
            })
        );
    }

    #[test]
    fn apply_needs_a_field_manager() {
        let p = PatchRequest::<Obj>::new("/x".into(), Patch::Apply(serde_json::json!({})));
        assert!(matches!(
            p.to_request(),
            Err(RequestError::Missing("fieldManager"))
        ));
        let r = p.field_manager("me").force().to_request().unwrap();
        assert_eq!(r.query_string(), "fieldManager=me&force=true");
        assert_eq!(r.content_type, Some("application/apply-patch+yaml"));
    }

    #[test]
    fn watch_sets_watch_and_bookmarks() {
        let r = WatchRequest::<Obj>::new("/api/v1/namespaces/default/configmaps".into())
            .resource_version("257")
            .allow_bookmarks(true)
            .timeout_seconds(5)
            .to_request()
            .unwrap();
        assert_eq!(
            r.query_string(),
            "allowWatchBookmarks=true&resourceVersion=257&timeoutSeconds=5&watch=1"
        );
    }
}
