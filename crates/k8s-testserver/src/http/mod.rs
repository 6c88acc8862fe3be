//! HTTP plumbing: connections (TLS or plain), authentication, faults, and answers.
//!
//! * `routes.rs`: which handler a path and method reach (discovery, OpenAPI, resources), and
//!   authorization of each request;
//! * `watches.rs`: watch streams (initial events, bookmarks, 410 Gone);
//! * `table.rs`: the `Table` rendering kubectl asks for;
//! * `streaming.rs`: a Pod's `log`, `exec`, `attach` and `portforward`.

mod metadata;
mod negotiate;
mod portforward;
mod routes;
// The SPDY/3.1 frame codec: public for the fuzz target only (its docs are the module's own, so
// that their links resolve inside it).
#[doc(hidden)]
pub mod spdy;
mod spdy_portforward;
mod streaming;
mod table;
mod watches;
mod ws;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::LoggedRequest;
use crate::authz::UserInfo;
use crate::errors::{self, ApiError};
use crate::store::{Query, Reply, State};
use crate::tls::{Tls, fingerprint};

pub(crate) type Body = BoxBody<Bytes, std::io::Error>;

/// Injected faults, consumed by the next requests.
#[derive(Debug, Default)]
pub(crate) struct FaultState {
    pub drop_watch_after: Option<usize>,
    pub statuses: VecDeque<(u16, Option<u32>)>,
    pub delay: Option<Duration>,
    pub truncate: bool,
}

/// Everything the connections share.
pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub rv_tx: watch::Sender<u64>,
    pub faults: Mutex<FaultState>,
    pub log: Mutex<Vec<LoggedRequest>>,
    pub plain_http: bool,
    pub spec_dir: Option<PathBuf>,
    pub swagger_bytes: Option<Bytes>,
    pub tls: Option<Tls>,
    pub address: String,
    pub shutdown: watch::Receiver<bool>,
    pub containers: Arc<crate::containers::Containers>,
    /// The protobuf forms of the served Kubernetes version.
    pub codec: crate::codec::Codec,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the client certificate says about the caller.
#[derive(Clone, Debug)]
enum CertAuth {
    None,
    Valid(String, Vec<String>, String),
    Invalid,
}

pub(crate) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    let shared = shared.clone();
                    tokio::spawn(serve_conn(stream, shared));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
        if *shutdown.borrow() {
            break;
        }
    }
}

async fn serve_conn(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    match &shared.tls {
        None => serve_io(stream, shared.clone(), CertAuth::None).await,
        Some(tls) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.config.clone());
            let Ok(Ok(tls_stream)) =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await
            else {
                return;
            };
            let chain: Vec<rustls_pki_types::CertificateDer<'static>> = tls_stream
                .get_ref()
                .1
                .peer_certificates()
                .map(|c| c.iter().map(|x| x.clone().into_owned()).collect())
                .unwrap_or_default();
            let auth = if chain.is_empty() {
                CertAuth::None
            } else {
                match tls.verify_chain(&chain) {
                    Some((user, groups)) => CertAuth::Valid(user, groups, fingerprint(&chain[0])),
                    None => CertAuth::Invalid,
                }
            };
            serve_io(tls_stream, shared.clone(), auth).await
        }
    }
}

async fn serve_io<I>(io: I, shared: Arc<Shared>, auth: CertAuth)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut shutdown = shared.shutdown.clone();
    let svc_shared = shared.clone();
    let svc = service_fn(move |req| {
        let shared = svc_shared.clone();
        let auth = auth.clone();
        async move { Ok::<_, Infallible>(handle(shared, auth, req).await) }
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    // With upgrades: exec, attach and portforward switch to WebSocket.
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), svc);
    tokio::select! {
        _ = conn => {}
        _ = shutdown.changed() => {}
    }
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|e: Infallible| match e {})
        .boxed()
}

fn json_response(code: u16, v: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(v).unwrap_or_default();
    let mut r = Response::new(full(bytes));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

pub(crate) fn error_response(e: &ApiError) -> Response<Body> {
    let v = serde_json::to_value(&e.status).unwrap_or(Value::Null);
    let mut r = json_response(e.code(), &v);
    for (k, val) in &e.headers {
        if let (Ok(k), Ok(v)) = (
            header::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(val),
        ) {
            r.headers_mut().append(k, v);
        }
    }
    r
}

fn reply_response(reply: Reply) -> Response<Body> {
    if let Some((ct, bytes)) = reply.raw {
        let mut r = Response::new(full(bytes));
        *r.status_mut() = StatusCode::from_u16(reply.code).unwrap_or(StatusCode::OK);
        if let Ok(v) = HeaderValue::from_str(&ct) {
            r.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        return r;
    }
    let mut r = json_response(reply.code, &reply.body);
    for w in &reply.warnings {
        let text = format!("299 - \"{}\"", w.replace('\\', "\\\\").replace('"', "\\\""));
        if let Ok(v) = HeaderValue::from_str(&text) {
            r.headers_mut().append(header::WARNING, v);
        }
    }
    r
}

fn authenticate(shared: &Shared, auth: &CertAuth, headers: &http::HeaderMap) -> Option<UserInfo> {
    if shared.plain_http {
        return Some(UserInfo {
            name: "admin".into(),
            uid: None,
            groups: vec!["system:masters".into(), "system:authenticated".into()],
            extra: Vec::new(),
        });
    }
    let with_authenticated = |mut u: UserInfo| {
        if !u.groups.iter().any(|g| g == "system:authenticated") {
            u.groups.push("system:authenticated".into());
        }
        u
    };
    // Like the real server, only bearer tokens are credentials here; other schemes (basic
    // auth) are ignored and the request falls through to certificates or anonymous.
    let bearer = headers
        .get(header::AUTHORIZATION)
        .map(|h| h.to_str().unwrap_or("").trim())
        .and_then(|s| s.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_string());
    if let Some(token) = bearer {
        let state = lock(&shared.state);
        return state.tokens.get(&token).cloned().map(with_authenticated);
    }
    match auth {
        CertAuth::Valid(user, groups, fp) => Some(with_authenticated(UserInfo {
            name: user.clone(),
            uid: None,
            groups: groups.clone(),
            extra: vec![(
                "authentication.kubernetes.io/credential-id".into(),
                vec![format!("X509SHA256={fp}")],
            )],
        })),
        CertAuth::Invalid => None,
        CertAuth::None => Some(UserInfo {
            name: "system:anonymous".into(),
            uid: None,
            groups: vec!["system:unauthenticated".into()],
            extra: Vec::new(),
        }),
    }
}

async fn handle(shared: Arc<Shared>, auth: CertAuth, req: Request<Incoming>) -> Response<Body> {
    let delay = lock(&shared.faults).delay.take();
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let (parts, body) = req.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let user = authenticate(&shared, &auth, &parts.headers);
    let logged = {
        let mut log = lock(&shared.log);
        log.push(LoggedRequest {
            method: parts.method.to_string(),
            path_and_query,
            user: user.as_ref().map(|u| u.name.clone()).unwrap_or_default(),
            content_type: parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            accept: parts
                .headers
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            response_content_type: None,
            body: Vec::new(),
        });
        log.len() - 1
    };
    let Some(user) = user else {
        return error_response(&errors::unauthorized());
    };
    let fault = lock(&shared.faults).statuses.pop_front();
    if let Some((code, retry)) = fault {
        let e = if code == 429 {
            errors::too_many_requests(
                "the server has received too many requests and has asked us to try again later",
                retry,
            )
        } else {
            errors::for_code(code)
        };
        return error_response(&e);
    }
    let bytes = match Limited::new(body, errors::MAX_REQUEST_BODY_BYTES)
        .collect()
        .await
    {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return error_response(&errors::request_entity_too_large());
        }
        Err(_) => {
            return error_response(&errors::bad_request("the request body could not be read"));
        }
    };
    if let Some(entry) = lock(&shared.log).get_mut(logged) {
        entry.body = bytes.to_vec();
    }
    let is_watch = Query::parse(parts.uri.query().unwrap_or("")).flag("watch")
        || parts.uri.path().contains("/watch/");
    let truncate = !is_watch && std::mem::take(&mut lock(&shared.faults).truncate);
    let resp = routes::route(&shared, &user, &parts, &bytes).await;
    let resp = negotiate::finish(
        &header_str(&parts, header::ACCEPT),
        path_class(parts.uri.path()),
        shared.codec,
        resp,
    )
    .await;
    if let Some(entry) = lock(&shared.log).get_mut(logged) {
        entry.response_content_type = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
    }
    if truncate {
        truncate_response(resp).await
    } else {
        resp
    }
}

/// What a path serves, for content negotiation.
fn path_class(path: &str) -> negotiate::PathClass {
    use negotiate::PathClass;
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["api", "v1", _, ..] | ["apis", _, _, _, ..] => PathClass::Resource,
        ["api"] | ["api", "v1"] | ["apis"] | ["apis", _] | ["apis", _, _] => PathClass::Discovery,
        ["version"] => PathClass::Version,
        _ => PathClass::Other,
    }
}

/// Sends half of the body under the full Content-Length, then aborts.
async fn truncate_response(resp: Response<Body>) -> Response<Body> {
    let (mut parts, body) = resp.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let half = bytes.slice(0..bytes.len() / 2);
    parts.headers.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(bytes.len().max(1)),
    );
    let stream = futures_util::stream::iter(vec![
        Ok(Frame::data(half)),
        Err(std::io::Error::other("truncated by fault injection")),
    ]);
    Response::from_parts(parts, StreamBody::new(stream).boxed())
}

fn header_str(parts: &http::request::Parts, name: header::HeaderName) -> String {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}
