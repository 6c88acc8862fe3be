//! Routing: non-resource paths (discovery, version, health, OpenAPI) and resource paths
//! (`/api/v1/...`, `/apis/<group>/<version>/...`) to the store's verbs or a watch, each
//! authorized first.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, Response, header};
use serde_json::{Value, json};

use super::table::to_table;
use super::watches::watch;
use super::{Body, Shared, error_response, full, header_str, json_response, lock, reply_response};
use crate::authz::{self, Attrs, UserInfo};
use crate::errors;
use crate::registry::ResourceDef;
use crate::store::{KindHooks, Query, Req};

fn wants_aggregated(accept: &str) -> bool {
    accept.split(',').next().is_some_and(|first| {
        first.contains("as=APIGroupDiscoveryList")
            && first.contains("v=v2")
            && !first.contains("v=v2beta1")
    })
}

const AGGREGATED_CT: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// An aggregated discovery document (`APIGroupDiscoveryList`): in protobuf when the first clause
/// of `accept` asks for it (as the real server), else in JSON.
fn aggregated(accept: &str, doc: &Value) -> Response<Body> {
    let first = accept.split(',').next().unwrap_or("");
    let media = first.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case("application/vnd.kubernetes.protobuf") {
        return match crate::discovery_proto::encode(doc) {
            Ok(bytes) => {
                let mut r = Response::new(full(bytes));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(crate::discovery_proto::CONTENT_TYPE),
                );
                r
            }
            Err(e) => error_response(&errors::internal(format!(
                "unable to encode APIGroupDiscoveryList as protobuf: {e}"
            ))),
        };
    }
    let mut r = json_response(200, doc);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(AGGREGATED_CT),
    );
    r
}

pub(super) async fn route(
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
                return aggregated(&accept, &reg.aggregated(true));
            }
            Some(reg.api_versions(&shared.address))
        }
        ["apis"] => {
            if wants_aggregated(&accept) {
                return aggregated(&accept, &reg.aggregated(false));
            }
            Some(reg.api_group_list())
        }
        ["api", "v1"] => reg.api_resource_list("", "v1"),
        ["apis", g] => reg.api_group(g),
        ["apis", g, v] => reg.api_resource_list(g, v),
        _ => None,
    };
    match found {
        // Discovery documents are read-only.
        Some(_) if !matches!(parts.method, Method::GET | Method::HEAD) => {
            error_response(&errors::method_not_allowed())
        }
        Some(v) => json_response(200, &v),
        None => error_response(&errors::path_not_found()),
    }
}

/// The real server's answer for a path under no group it serves: plain text, not a `Status`.
fn page_not_found() -> Response<Body> {
    let mut r = Response::new(full("404 page not found\n"));
    *r.status_mut() = http::StatusCode::NOT_FOUND;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Request options the real server validates before the verb runs (400 or 422).
fn check_options(verb: &str, query: &Query) -> Result<(), errors::ApiError> {
    let options = match verb {
        "create" => "CreateOptions",
        "update" => "UpdateOptions",
        "patch" => "PatchOptions",
        "delete" | "deletecollection" => "DeleteOptions",
        "list" | "watch" => {
            if let Some(limit) = query.get("limit") {
                if limit.parse::<i64>().is_err() {
                    return Err(errors::bad_request(format!(
                        "strconv.ParseInt: parsing \"{limit}\": invalid syntax"
                    )));
                }
            }
            return Ok(());
        }
        _ => return Ok(()),
    };
    if let Some(dry) = query.get("dryRun").filter(|d| *d != "All") {
        return Err(errors::invalid_options(
            options,
            "dryRun",
            "FieldValueNotSupported",
            &format!("Unsupported value: [\"{dry}\"]: supported values: \"All\""),
        ));
    }
    if options != "DeleteOptions" {
        if let Some(fv) = query
            .get("fieldValidation")
            .filter(|v| !matches!(*v, "" | "Ignore" | "Strict" | "Warn"))
        {
            return Err(errors::invalid_options(
                options,
                "fieldValidation",
                "FieldValueNotSupported",
                &format!(
                    "Unsupported value: \"{fv}\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\""
                ),
            ));
        }
    }
    Ok(())
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
        // Go's router matches on the decoded path: `%2e%2e` is the name `..`.
        name: rest.get(1).map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        }),
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
        // POST creates in a collection or on a subresource (eviction, binding, token)
        (&Method::POST, true) if t.sub.is_none() => {
            return error_response(&errors::method_not_allowed());
        }
        (&Method::POST, _) => "create",
        (&Method::PUT, true) => "update",
        (&Method::PATCH, true) => "patch",
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
    let (def, hooks): (ResourceDef, &'static dyn KindHooks) = {
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
            Some(d) => (d.clone(), state.hooks(d)),
            None if !t.group.is_empty() && state.registry.api_group(&t.group).is_none() => {
                return page_not_found();
            }
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
    if let Some(n @ ("." | "..")) = t.name.as_deref() {
        return error_response(&errors::bad_request(format!(
            "Name parameter invalid: \"{n}\": may not be '{n}'"
        )));
    }
    if let Err(e) = check_options(verb, &query) {
        return error_response(&e);
    }
    let accept = header_str(parts, header::ACCEPT);
    // Rendered as a Table with the kind's columns.
    let table = accept
        .split(',')
        .next()
        .is_some_and(|a| a.contains("as=Table"))
        .then_some(hooks);
    if let (true, Some(ns), Some(name), Some(sub)) = (
        def.group.is_empty() && def.plural == "pods",
        &t.ns,
        &t.name,
        t.sub.as_deref(),
    ) {
        match sub {
            "log" => return super::streaming::log(shared, &def, ns, name, &query),
            "portforward" => {
                return super::portforward::portforward(shared, parts, &def, ns, name, &query);
            }
            "exec" | "attach" => {
                return super::ws::exec_or_attach(shared, parts, &def, ns, name, sub, &query);
            }
            _ => {}
        }
    }
    // Metadata only (`as=PartialObjectMetadata[List]`), unless it is a Table.
    let metadata = super::metadata::wanted(&accept).filter(|_| table.is_none() && t.sub.is_none());
    if verb == "watch" {
        if metadata == Some(super::metadata::As::List) {
            return error_response(&super::metadata::not_acceptable(
                &def,
                super::metadata::As::List,
            ));
        }
        let metadata = metadata.is_some();
        let of = super::negotiate::WatchOf {
            api_version: def.api_version(),
            kind: def.kind.clone(),
        };
        let mut r = watch(shared.clone(), def, t.ns, t.name, query, table, metadata).await;
        r.extensions_mut().insert(of);
        return r;
    }
    if let Some(m) = metadata.filter(|_| matches!(verb, "get" | "list")) {
        let list = verb == "list";
        if (m == super::metadata::As::List) != list {
            return error_response(&super::metadata::not_acceptable(&def, m));
        }
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
        codec: shared.codec,
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
            let as_table = table.filter(|_| {
                (verb == "get" || verb == "list") && reply.raw.is_none() && t.sub.is_none()
            });
            if let Some(m) = metadata.filter(|_| {
                (verb == "get" || verb == "list") && reply.raw.is_none() && reply.code < 300
            }) {
                reply.body = match m {
                    super::metadata::As::List => super::metadata::list(&reply.body),
                    super::metadata::As::Object => super::metadata::object(&reply.body),
                };
            }
            if let Some(hooks) = as_table {
                reply.body = to_table(
                    &def,
                    hooks,
                    &reply.body,
                    query.get("includeObject").unwrap_or("Metadata"),
                );
            }
            reply_response(reply)
        }
        Err(e) => error_response(&e),
    }
}
