//! Watch streams: initial events (`sendInitialEvents`), changes from the event history,
//! bookmarks, `410 Gone` for expired resource versions, and the injected drop fault.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Response, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::table::to_table;
use super::{Body, Shared, error_response, lock};
use crate::errors;
use crate::registry::ResourceDef;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{KindHooks, Query};

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

pub(super) async fn watch(
    shared: Arc<Shared>,
    def: ResourceDef,
    ns: Option<String>,
    name: Option<String>,
    query: Query,
    table: Option<&'static dyn KindHooks>,
    metadata: bool,
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
        metadata,
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

/// An event's object: with apiVersion and kind, as a one-row Table, or its
/// `PartialObjectMetadata` (`metadata`).
fn shape(
    def: &ResourceDef,
    obj: &Value,
    table: Option<&dyn KindHooks>,
    include: &str,
    metadata: bool,
) -> Value {
    if metadata {
        return super::metadata::object(obj);
    }
    let mut o = obj.clone();
    if let Value::Object(m) = &mut o {
        m.insert("apiVersion".into(), json!(def.api_version()));
        m.insert("kind".into(), json!(def.kind));
    }
    if let Some(hooks) = table {
        return to_table(def, hooks, &o, include);
    }
    o
}

fn bookmark(def: &ResourceDef, rv: u64, initial_end: bool, metadata: bool) -> Value {
    let mut md = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        md["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    let b = json!({"kind": def.kind, "apiVersion": def.api_version(), "metadata": md});
    if metadata {
        return super::metadata::object(&b);
    }
    b
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
    table: Option<&'static dyn KindHooks>,
    include: String,
    metadata: bool,
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
                lines.push((
                    true,
                    event_line("ADDED", &shape(&def, o, table, &include, metadata)),
                ));
            }
            if initial_end_bookmark {
                lines.push((
                    false,
                    event_line("BOOKMARK", &bookmark(&def, last, true, metadata)),
                ));
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
                            event_line(etype, &shape(&def, &e.object, table, &include, metadata)),
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
                lines.push((false, event_line("BOOKMARK", &bookmark(&def, last, false, metadata))));
            }
            _ = tokio::time::sleep_until(deadline) => return,
            _ = shutdown.changed() => return,
            _ = tx.closed() => return,
        }
    }
}
