//! A Pod's streaming subresources, served from the container model (`containers.rs`): `log`
//! (plain or following), and `exec`, `attach`, `portforward` over WebSocket (`ws.rs`).
//!
//! Like the real API server, these need the Pod to be scheduled: a Pod without
//! `spec.nodeName` has an empty log, and exec/attach/portforward on it fail (see `ws.rs`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Response, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use jiff::Timestamp;
use serde_json::Value;
use tokio::sync::mpsc;

use super::{Body, Shared, error_response, lock};
use crate::containers::{Containers, OpenLog};
use crate::errors::{self, ApiError};
use crate::registry::ResourceDef;
use crate::store::Query;

/// The Pod `namespace/name` as stored, or 404 like a GET.
pub(super) fn pod(
    shared: &Shared,
    def: &ResourceDef,
    ns: &str,
    name: &str,
) -> Result<Value, ApiError> {
    lock(&shared.state)
        .object(&def.storage_key(), ns, name)
        .cloned()
        .ok_or_else(|| errors::not_found("pods", "", name))
}

/// The container a request names, checked as the real server checks it: the only container
/// when none is named, else one of the Pod's (init, regular or ephemeral) containers.
pub(super) fn container_of(
    pod: &Value,
    name: &str,
    asked: Option<&str>,
) -> Result<String, ApiError> {
    let names = |field: &str| -> Vec<String> {
        pod.pointer(&format!("/spec/{field}"))
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let regular = names("containers");
    match asked.filter(|s| !s.is_empty()) {
        None if regular.len() == 1 => Ok(regular[0].clone()),
        None => Err(errors::bad_request(format!(
            "a container name must be specified for pod {name}, choose one of: [{}]",
            regular.join(" ")
        ))),
        Some(c) => {
            let all = [
                regular,
                names("initContainers"),
                names("ephemeralContainers"),
            ]
            .concat();
            if all.iter().any(|n| n == c) {
                Ok(c.to_owned())
            } else {
                Err(errors::bad_request(format!(
                    "container {c} is not valid for pod {name}"
                )))
            }
        }
    }
}

/// What a log request asks for.
struct LogOptions {
    follow: bool,
    timestamps: bool,
    since: Option<Timestamp>,
    tail: Option<usize>,
    limit: Option<usize>,
}

fn log_options(q: &Query) -> Result<LogOptions, ApiError> {
    let int = |k: &str| -> Result<Option<i64>, ApiError> {
        match q.get(k) {
            None | Some("") => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                errors::bad_request(format!("{k}: invalid value {v:?}: not an integer"))
            }),
        }
    };
    let since_seconds = int("sinceSeconds")?;
    let since_time = match q.get("sinceTime").filter(|s| !s.is_empty()) {
        None => None,
        Some(v) => Some(
            v.parse::<Timestamp>()
                .map_err(|e| errors::bad_request(format!("sinceTime: invalid value {v:?}: {e}")))?,
        ),
    };
    if since_seconds.is_some() && since_time.is_some() {
        return Err(errors::invalid_options(
            "PodLogOptions",
            "",
            "FieldValueForbidden",
            "at most one of `sinceTime` or `sinceSeconds` may be specified",
        ));
    }
    let positive = |k: &str, v: Option<i64>| -> Result<Option<i64>, ApiError> {
        match v {
            Some(n) if n < 1 && k != "tailLines" => Err(errors::invalid_options(
                "PodLogOptions",
                k,
                "FieldValueInvalid",
                &format!("{k}: Invalid value: {n}: must be greater than 0"),
            )),
            Some(n) if n < 0 => Err(errors::invalid_options(
                "PodLogOptions",
                k,
                "FieldValueInvalid",
                &format!("{k}: Invalid value: {n}: must be greater than or equal to 0"),
            )),
            other => Ok(other),
        }
    };
    let since_seconds = positive("sinceSeconds", since_seconds)?;
    let since = match (since_seconds, since_time) {
        (Some(s), _) => Timestamp::now()
            .checked_sub(jiff::SignedDuration::from_secs(s))
            .ok(),
        (_, t) => t,
    };
    Ok(LogOptions {
        follow: q.flag("follow"),
        timestamps: q.flag("timestamps"),
        since,
        tail: positive("tailLines", int("tailLines")?)?
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        limit: positive("limitBytes", int("limitBytes")?)?
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
    })
}

/// `GET …/pods/{name}/log`.
pub(super) fn log(
    shared: &Arc<Shared>,
    def: &ResourceDef,
    ns: &str,
    name: &str,
    q: &Query,
) -> Response<Body> {
    match log_inner(shared, def, ns, name, q) {
        Ok(r) => r,
        Err(e) => error_response(&e),
    }
}

fn log_inner(
    shared: &Arc<Shared>,
    def: &ResourceDef,
    ns: &str,
    name: &str,
    q: &Query,
) -> Result<Response<Body>, ApiError> {
    let pod = pod(shared, def, ns, name)?;
    let container = container_of(&pod, name, q.get("container"))?;
    let opts = log_options(q)?;
    if q.flag("previous") {
        return Err(errors::bad_request(format!(
            "previous terminated container \"{container}\" in pod \"{name}\" not found"
        )));
    }
    let scheduled = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(16);
    if scheduled {
        let model = shared.containers.clone();
        let guard = model.open_log();
        let shutdown = shared.shutdown.clone();
        tokio::spawn(stream_log(
            model,
            (ns.to_owned(), name.to_owned(), container),
            opts,
            tx,
            guard,
            shutdown,
        ));
    } else {
        // Not scheduled: no kubelet to ask, the real server answers an empty log.
        drop(tx);
    }
    let body = BodyExt::boxed(StreamBody::new(futures_util::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|item| (item, rx)) },
    )));
    let mut r = Response::new(body);
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(r)
}

fn render(line: &(Timestamp, String), timestamps: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.1.len() + 40);
    if timestamps {
        // RFC 3339 with nine fractional digits, the kubelet's `RFC3339NanoFixed`.
        out.extend_from_slice(format!("{:.9} ", line.0).as_bytes());
    }
    out.extend_from_slice(line.1.as_bytes());
    out.push(b'\n');
    out
}

async fn stream_log(
    model: Arc<Containers>,
    (ns, pod, container): (String, String, String),
    opts: LogOptions,
    tx: mpsc::Sender<Result<Frame<Bytes>, std::io::Error>>,
    _open: OpenLog,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let (mut changed, mut breaks) = model.subscribe();
    changed.mark_unchanged();
    breaks.mark_unchanged();
    let first = model.read(&ns, &pod, &container, 0);
    let mut next = first.next;
    let mut lines: Vec<(Timestamp, String)> = first
        .lines
        .into_iter()
        .filter(|(t, _)| opts.since.is_none_or(|s| *t >= s))
        .collect();
    if let Some(n) = opts.tail {
        let skip = lines.len().saturating_sub(n);
        lines.drain(..skip);
    }
    let mut terminated = first.terminated;
    let mut budget = opts.limit.unwrap_or(usize::MAX);
    // Bounded: ends when the container terminates, the limit is reached, the test breaks the
    // stream, the server shuts down or the client goes away.
    loop {
        for line in lines.drain(..) {
            let mut bytes = render(&line, opts.timestamps);
            if bytes.len() >= budget {
                bytes.truncate(budget);
                let _ = tx.send(Ok(Frame::data(Bytes::from(bytes)))).await;
                return;
            }
            budget -= bytes.len();
            if tx.send(Ok(Frame::data(Bytes::from(bytes)))).await.is_err() {
                return;
            }
        }
        if !opts.follow || terminated {
            return;
        }
        tokio::select! {
            r = changed.changed() => if r.is_err() { return },
            _ = breaks.changed() => {
                // Let the lines already sent reach the client before the reset.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = tx.send(Err(std::io::Error::other("log stream broken by the test"))).await;
                return;
            }
            _ = shutdown.changed() => return,
            _ = tx.closed() => return,
        }
        let more = model.read(&ns, &pod, &container, next);
        next = more.next;
        terminated = more.terminated;
        lines = more.lines;
    }
}
