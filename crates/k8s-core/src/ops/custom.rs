//! [`CustomRequest`]: operations whose options are their own (logs, exec, attach, portforward,
//! proxy), and how their responses are decoded.

use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;

use crate::request::{ApiRequest, DecodeError, Request, RequestError, ResponseKind, decode_json};

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
