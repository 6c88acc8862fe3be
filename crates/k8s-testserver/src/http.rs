//! HTTP plumbing: connections (TLS or plain), authentication, routing, watches, tables, faults.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use crate::LoggedRequest;
use crate::authz::{self, Attrs, UserInfo};
use crate::errors::{self, ApiError};
use crate::registry::ResourceDef;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{Query, Reply, Req, State};
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
    let conn = builder.serve_connection(TokioIo::new(io), svc);
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
    lock(&shared.log).push(LoggedRequest {
        method: parts.method.to_string(),
        path_and_query,
        user: user.as_ref().map(|u| u.name.clone()).unwrap_or_default(),
    });
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
    let bytes = match Limited::new(body, 64 << 20).collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => {
            return error_response(&errors::bad_request("the request body could not be read"));
        }
    };
    let is_watch = Query::parse(parts.uri.query().unwrap_or("")).flag("watch")
        || parts.uri.path().contains("/watch/");
    let truncate = !is_watch && std::mem::take(&mut lock(&shared.faults).truncate);
    let resp = route(&shared, &user, &parts, &bytes).await;
    if truncate {
        truncate_response(resp).await
    } else {
        resp
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

fn wants_aggregated(accept: &str) -> bool {
    accept.split(',').next().is_some_and(|first| {
        first.contains("as=APIGroupDiscoveryList")
            && first.contains("v=v2")
            && !first.contains("v=v2beta1")
    })
}

const AGGREGATED_CT: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

async fn route(
    shared: &Arc<Shared>,
    user: &UserInfo,
    parts: &http::request::Parts,
    body: &Bytes,
) -> Response<Body> {
    let path = parts.uri.path().to_string();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let is_resource = (segs.len() >= 3 && segs[0] == "api" && segs[1] == "v1")
        || (segs.len() >= 4 && segs[0] == "apis");
    if is_resource {
        return resource(shared, user, parts, body, &segs).await;
    }
    let verb = match parts.method {
        Method::GET | Method::HEAD => "get".to_string(),
        ref m => m.as_str().to_ascii_lowercase(),
    };
    {
        let state = lock(&shared.state);
        let attrs = Attrs {
            verb: verb.clone(),
            path: Some(path.clone()),
            ..Attrs::default()
        };
        if !authz::authorize(state.storage(), user, &attrs).0 {
            return error_response(&errors::forbidden_path(&user.name, &verb, &path));
        }
    }
    match segs.as_slice() {
        ["openapi", "v2"] => {
            return match &shared.swagger_bytes {
                Some(b) => {
                    let mut r = Response::new(full(b.clone()));
                    r.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                    r
                }
                None => error_response(&errors::path_not_found()),
            };
        }
        ["openapi", "v3", rest @ ..] => return openapi_v3(shared, rest).await,
        _ => {}
    }
    let accept = header_str(parts, header::ACCEPT);
    let state = lock(&shared.state);
    let reg = &state.registry;
    let found: Option<Value> = match segs.as_slice() {
        [] => Some(reg.root_paths(shared.spec_dir.is_some())),
        ["version"] => Some(version_info()),
        ["healthz"] | ["livez"] | ["readyz"] => {
            let mut r = Response::new(full("ok"));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            return r;
        }
        ["api"] => {
            if wants_aggregated(&accept) {
                let mut r = json_response(200, &reg.aggregated(true));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(AGGREGATED_CT),
                );
                return r;
            }
            Some(reg.api_versions(&shared.address))
        }
        ["apis"] => {
            if wants_aggregated(&accept) {
                let mut r = json_response(200, &reg.aggregated(false));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(AGGREGATED_CT),
                );
                return r;
            }
            Some(reg.api_group_list())
        }
        ["api", "v1"] => reg.api_resource_list("", "v1"),
        ["apis", g] => reg.api_group(g),
        ["apis", g, v] => reg.api_resource_list(g, v),
        _ => None,
    };
    match found {
        Some(v) => json_response(200, &v),
        None => error_response(&errors::path_not_found()),
    }
}

fn version_info() -> Value {
    json!({
        "major": "1",
        "minor": "36",
        "emulationMajor": "1",
        "emulationMinor": "36",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "35",
        "gitVersion": "v1.36.0-k8s-testserver",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": "linux/amd64"
    })
}

async fn openapi_v3(shared: &Arc<Shared>, rest: &[&str]) -> Response<Body> {
    let Some(dir) = shared.spec_dir.as_ref().map(|d| d.join("v3")) else {
        return error_response(&errors::path_not_found());
    };
    if rest.is_empty() {
        let mut paths = serde_json::Map::new();
        if let Ok(mut rd) = tokio::fs::read_dir(&dir).await {
            // Bounded by the directory size.
            while let Ok(Some(entry)) = rd.next_entry().await {
                let name = entry.file_name().to_string_lossy().into_owned();
                if let Some(stem) = name.strip_suffix("_openapi.json") {
                    let p = stem.replace("__", "/");
                    let len = entry.metadata().await.map(|m| m.len()).unwrap_or(0);
                    paths.insert(
                        p.clone(),
                        json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={len:016X}")}),
                    );
                }
            }
        }
        return json_response(200, &json!({"paths": paths}));
    }
    if rest.iter().any(|s| s.contains("..") || s.contains('\\')) {
        return error_response(&errors::path_not_found());
    }
    let file = dir.join(format!("{}_openapi.json", rest.join("__")));
    match tokio::fs::read(&file).await {
        Ok(b) => {
            let mut r = Response::new(full(b));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        Err(_) => error_response(&errors::path_not_found()),
    }
}

struct Target {
    group: String,
    version: String,
    ns: Option<String>,
    plural: String,
    name: Option<String>,
    sub: Option<String>,
    watch_path: bool,
}

fn parse_target(segs: &[&str]) -> Option<Target> {
    let (group, version, mut rest) = if segs[0] == "api" {
        (String::new(), segs[1].to_string(), &segs[2..])
    } else {
        (segs[1].to_string(), segs[2].to_string(), &segs[3..])
    };
    let mut watch_path = false;
    if rest.first() == Some(&"watch") {
        watch_path = true;
        rest = &rest[1..];
    }
    let mut ns = None;
    if rest.first() == Some(&"namespaces") && rest.len() >= 2 {
        let is_ns_sub = rest.len() == 3 && matches!(rest[2], "status" | "finalize");
        if rest.len() >= 3 && !is_ns_sub {
            ns = Some(rest[1].to_string());
            rest = &rest[2..];
        }
    }
    if rest.is_empty() || rest.len() > 3 {
        return None;
    }
    Some(Target {
        group,
        version,
        ns,
        plural: rest[0].to_string(),
        name: rest.get(1).map(|s| s.to_string()),
        sub: rest.get(2).map(|s| s.to_string()),
        watch_path,
    })
}

async fn resource(
    shared: &Arc<Shared>,
    user: &UserInfo,
    parts: &http::request::Parts,
    body: &Bytes,
    segs: &[&str],
) -> Response<Body> {
    let Some(t) = parse_target(segs) else {
        return error_response(&errors::path_not_found());
    };
    let query = Query::parse(parts.uri.query().unwrap_or(""));
    let is_watch = t.watch_path || query.flag("watch");
    let verb = match (&parts.method, t.name.is_some()) {
        (&Method::GET | &Method::HEAD, _) if is_watch => "watch",
        (&Method::GET | &Method::HEAD, true) => "get",
        (&Method::GET | &Method::HEAD, false) => "list",
        (&Method::POST, _) => "create",
        (&Method::PUT, _) => "update",
        (&Method::PATCH, _) => "patch",
        (&Method::DELETE, true) => "delete",
        (&Method::DELETE, false) => "deletecollection",
        _ => return error_response(&errors::method_not_allowed()),
    };
    // The namespace resource's own name is its namespace for authorization.
    let authz_ns = if t.group.is_empty() && t.plural == "namespaces" && t.ns.is_none() {
        t.name.clone()
    } else {
        t.ns.clone()
    };
    let def: ResourceDef = {
        let state = lock(&shared.state);
        let attrs = Attrs {
            verb: verb.to_string(),
            group: t.group.clone(),
            resource: t.plural.clone(),
            sub: t.sub.clone(),
            ns: authz_ns.clone(),
            name: t.name.clone(),
            path: None,
        };
        if !authz::authorize(state.storage(), user, &attrs).0 {
            return error_response(&errors::forbidden(
                &user.name,
                verb,
                &t.group,
                &t.plural,
                t.sub.as_deref(),
                authz_ns.as_deref(),
                t.name.as_deref(),
            ));
        }
        match state.registry.find(&t.group, &t.version, &t.plural) {
            Some(d) => d.clone(),
            None => return error_response(&errors::path_not_found()),
        }
    };
    if t.ns.is_some() && !def.namespaced {
        return error_response(&errors::path_not_found());
    }
    if let Some(sub) = &t.sub {
        if !def.has_subresource(sub) {
            return error_response(&errors::path_not_found());
        }
    } else if !def.supports(verb) {
        return error_response(&errors::method_not_allowed());
    }
    if def.namespaced && t.ns.is_none() && !matches!(verb, "list" | "watch") {
        return error_response(&errors::path_not_found());
    }
    let accept = header_str(parts, header::ACCEPT);
    let table = accept
        .split(',')
        .next()
        .is_some_and(|a| a.contains("as=Table"));
    if verb == "watch" {
        return watch(shared.clone(), def, t.ns, t.name, query, table).await;
    }
    let req = Req {
        def: def.clone(),
        ns: t.ns.clone(),
        name: t.name.clone(),
        sub: t.sub.clone(),
        query: &query,
        body,
        content_type: header_str(parts, header::CONTENT_TYPE),
        user,
        user_agent: header_str(parts, header::USER_AGENT),
    };
    let result = {
        let mut state = lock(&shared.state);
        let r = match verb {
            "get" => state.get(&req),
            "list" => state.list(&req),
            "create" => state.create(&req),
            "update" => state.update(&req),
            "patch" => state.patch(&req),
            "delete" => state.delete(&req),
            _ => state.delete_collection(&req),
        };
        shared.rv_tx.send_replace(state.rv());
        r
    };
    match result {
        Ok(mut reply) => {
            if table && (verb == "get" || verb == "list") && reply.raw.is_none() && t.sub.is_none()
            {
                reply.body = to_table(
                    &def,
                    &reply.body,
                    query.get("includeObject").unwrap_or("Metadata"),
                );
            }
            reply_response(reply)
        }
        Err(e) => error_response(&e),
    }
}

// ---------------------------------------------------------------- tables

fn age(ts: Option<&str>) -> String {
    let Some(ts) = ts.and_then(|t| t.parse::<jiff::Timestamp>().ok()) else {
        return "<unknown>".into();
    };
    let secs = (jiff::Timestamp::now().as_second() - ts.as_second()).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 3600 * 2 => format!("{}m", s / 60),
        s if s < 86400 * 2 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

fn columns(def: &ResourceDef) -> Vec<Value> {
    let col = |name: &str, ty: &str, format: &str, desc: &str| json!({"name": name, "type": ty, "format": format, "description": desc, "priority": 0});
    let mut cols = vec![col(
        "Name",
        "string",
        "name",
        "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
    )];
    if def.group.is_empty() && def.plural == "pods" {
        cols.push(col(
            "Ready",
            "string",
            "",
            "The aggregate readiness state of this pod for accepting traffic.",
        ));
        cols.push(col(
            "Status",
            "string",
            "",
            "The aggregate status of the containers in this pod.",
        ));
        cols.push(col("Restarts", "string", "", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."));
    }
    if def.group.is_empty() && def.plural == "namespaces" {
        cols.push(col("Status", "string", "", "The status of the namespace"));
    }
    cols.push(col("Age", "string", "", "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC."));
    cols
}

fn row(def: &ResourceDef, obj: &Value, include: &str) -> Value {
    let name = obj.pointer("/metadata/name").cloned().unwrap_or(json!(""));
    let mut cells = vec![name];
    if def.group.is_empty() && def.plural == "pods" {
        let total = obj
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let ready = obj
            .pointer("/status/containerStatuses")
            .and_then(Value::as_array)
            .map_or(0, |cs| {
                cs.iter()
                    .filter(|c| c.get("ready") == Some(&json!(true)))
                    .count()
            });
        cells.push(json!(format!("{ready}/{total}")));
        let status = if obj.pointer("/metadata/deletionTimestamp").is_some() {
            "Terminating"
        } else {
            obj.pointer("/status/phase")
                .and_then(Value::as_str)
                .unwrap_or("Pending")
        };
        cells.push(json!(status));
        cells.push(json!(0));
    }
    if def.group.is_empty() && def.plural == "namespaces" {
        cells.push(
            obj.pointer("/status/phase")
                .cloned()
                .unwrap_or(json!("Active")),
        );
    }
    cells.push(json!(age(obj
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str))));
    let mut r = json!({"cells": cells});
    match include {
        "None" => {}
        "Object" => {
            let mut o = obj.clone();
            o["apiVersion"] = json!(def.api_version());
            o["kind"] = json!(def.kind);
            r["object"] = o;
        }
        _ => {
            r["object"] = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata").cloned().unwrap_or(json!({}))});
        }
    }
    r
}

fn to_table(def: &ResourceDef, body: &Value, include: &str) -> Value {
    let (rows, mut md) = match body.get("items").and_then(Value::as_array) {
        Some(items) => (
            items
                .iter()
                .map(|o| row(def, o, include))
                .collect::<Vec<_>>(),
            body.get("metadata").cloned().unwrap_or(json!({})),
        ),
        None => (
            vec![row(def, body, include)],
            json!({"resourceVersion": body.pointer("/metadata/resourceVersion")}),
        ),
    };
    if let Value::Object(m) = &mut md {
        m.remove("remainingItemCount");
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": md, "columnDefinitions": columns(def), "rows": rows})
}

// ---------------------------------------------------------------- watch

fn event_line(etype: &str, object: &Value) -> Bytes {
    let mut v = serde_json::to_vec(&json!({"type": etype, "object": object})).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

struct WatchFilter {
    storage: String,
    ns: Option<String>,
    name: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl WatchFilter {
    fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(obj)
            && self.fields.matches(obj)
            && self
                .name
                .as_deref()
                .is_none_or(|n| obj.pointer("/metadata/name").and_then(Value::as_str) == Some(n))
    }
}

async fn watch(
    shared: Arc<Shared>,
    def: ResourceDef,
    ns: Option<String>,
    name: Option<String>,
    query: Query,
    table: bool,
) -> Response<Body> {
    let send_initial = query.flag("sendInitialEvents");
    let rvm = query
        .get("resourceVersionMatch")
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let bookmarks = query.flag("allowWatchBookmarks");
    if send_initial && rvm.as_deref() != Some("NotOlderThan") {
        return error_response(&errors::invalid_options(
            "ListOptions",
            "resourceVersionMatch",
            "FieldValueForbidden",
            "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
        ));
    }
    if send_initial && !bookmarks {
        return error_response(&errors::invalid_options(
            "ListOptions",
            "allowWatchBookmarks",
            "FieldValueForbidden",
            "Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true",
        ));
    }
    let labels = match LabelSelector::parse(query.get("labelSelector").unwrap_or("")) {
        Ok(l) => l,
        Err(e) => return error_response(&errors::bad_request(e)),
    };
    let fields = match FieldSelector::parse(
        query.get("fieldSelector").unwrap_or(""),
        &def.group,
        &def.plural,
    ) {
        Ok(f) => f,
        Err(e) => return error_response(&errors::bad_request(e)),
    };
    let rv_param = query
        .get("resourceVersion")
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let start_rv: Option<u64> = match rv_param.as_deref() {
        None | Some("0") => None,
        Some(r) => match r.parse() {
            Ok(n) => Some(n),
            Err(_) => {
                return error_response(&errors::bad_request(format!(
                    "invalid resource version: {r}"
                )));
            }
        },
    };
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(1800)
        .min(3600);
    let filter = WatchFilter {
        storage: def.storage_key(),
        ns,
        name,
        labels,
        fields,
    };
    let drop_after = lock(&shared.faults).drop_watch_after.take();
    let include = query.get("includeObject").unwrap_or("Metadata").to_string();
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(256);
    tokio::spawn(watch_task(
        shared,
        def,
        filter,
        send_initial || start_rv.is_none(),
        send_initial,
        start_rv,
        bookmarks,
        timeout,
        drop_after,
        tx,
        table,
        include,
    ));
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) });
    let mut r = Response::new(StreamBody::new(stream).boxed());
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn shape(def: &ResourceDef, obj: &Value, table: bool, include: &str) -> Value {
    let mut o = obj.clone();
    if let Value::Object(m) = &mut o {
        m.insert("apiVersion".into(), json!(def.api_version()));
        m.insert("kind".into(), json!(def.kind));
    }
    if table {
        return json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": obj.pointer("/metadata/resourceVersion")}, "columnDefinitions": columns(def), "rows": [row(def, &o, include)]});
    }
    o
}

fn bookmark(def: &ResourceDef, rv: u64, initial_end: bool) -> Value {
    let mut md = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        md["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    json!({"kind": def.kind, "apiVersion": def.api_version(), "metadata": md})
}

#[allow(clippy::too_many_arguments)]
async fn watch_task(
    shared: Arc<Shared>,
    def: ResourceDef,
    filter: WatchFilter,
    initial: bool,
    initial_end_bookmark: bool,
    start_rv: Option<u64>,
    bookmarks: bool,
    timeout: u64,
    drop_after: Option<usize>,
    tx: mpsc::Sender<Result<Frame<Bytes>, std::io::Error>>,
    table: bool,
    include: String,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    let mut rv_rx = shared.rv_tx.subscribe();
    let mut shutdown = shared.shutdown.clone();
    let mut sent = 0usize;
    let mut lines: Vec<(bool, Bytes)> = Vec::new();
    let mut last: u64;
    let too_old: Option<Bytes> = {
        let guard = lock(&shared.state);
        let state = guard.storage();
        if initial {
            last = state.rv;
            let objs: Vec<&Value> = match &filter.ns {
                Some(ns) => state.objects_in(&filter.storage, ns),
                None => state.objects_of(&filter.storage),
            };
            for o in objs.into_iter().filter(|o| filter.matches(o)) {
                lines.push((true, event_line("ADDED", &shape(&def, o, table, &include))));
            }
            if initial_end_bookmark {
                lines.push((false, event_line("BOOKMARK", &bookmark(&def, last, true))));
            }
        } else {
            last = start_rv.unwrap_or(state.rv);
        }
        (last < state.compacted).then(|| {
            let st = errors::expired(&format!(
                "too old resource version: {last} ({})",
                state.compacted + 1
            ))
            .status;
            event_line("ERROR", &serde_json::to_value(&st).unwrap_or(Value::Null))
        })
    };
    if let Some(line) = too_old {
        let _ = tx.send(Ok(Frame::data(line))).await;
        return;
    }
    // Bounded: ends at the deadline, on shutdown, or when the client goes away.
    loop {
        {
            let guard = lock(&shared.state);
            let state = guard.storage();
            match state.events_since(last) {
                None => {
                    let st = errors::expired(&format!(
                        "too old resource version: {last} ({})",
                        state.compacted + 1
                    ))
                    .status;
                    lines.push((
                        false,
                        event_line("ERROR", &serde_json::to_value(&st).unwrap_or(Value::Null)),
                    ));
                    last = u64::MAX;
                }
                Some(events) => {
                    for e in events {
                        if e.key != filter.storage
                            || filter.ns.as_deref().is_some_and(|ns| ns != e.ns)
                        {
                            continue;
                        }
                        let now_match = filter.matches(&e.object);
                        let was_match = e.prev.as_ref().map(|p| filter.matches(p));
                        let etype = match (e.etype, was_match, now_match) {
                            ("MODIFIED", Some(true), true) => "MODIFIED",
                            ("MODIFIED", Some(false), true) => "ADDED",
                            ("MODIFIED", Some(true), false) => "DELETED",
                            ("ADDED", _, true) => "ADDED",
                            ("DELETED", _, true) => "DELETED",
                            _ => continue,
                        };
                        lines.push((
                            true,
                            event_line(etype, &shape(&def, &e.object, table, &include)),
                        ));
                    }
                    last = state.rv;
                }
            }
        }
        for (counts, line) in lines.drain(..) {
            if counts {
                if drop_after.is_some_and(|n| sent >= n) {
                    // Let the events already sent reach the client before the reset.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let _ = tx
                        .send(Err(std::io::Error::other(
                            "watch dropped by fault injection",
                        )))
                        .await;
                    return;
                }
                sent += 1;
            }
            if tx.send(Ok(Frame::data(line))).await.is_err() {
                return;
            }
        }
        if last == u64::MAX {
            return;
        }
        tokio::select! {
            r = rv_rx.changed() => if r.is_err() { return },
            _ = tokio::time::sleep(Duration::from_secs(1)), if bookmarks => {
                lines.push((false, event_line("BOOKMARK", &bookmark(&def, last, false))));
            }
            _ = tokio::time::sleep_until(deadline) => return,
            _ = shutdown.changed() => return,
            _ = tx.closed() => return,
        }
    }
}
