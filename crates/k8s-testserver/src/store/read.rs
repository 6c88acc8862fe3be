//! get and list: subresource views, selectors, pages and continue tokens.

use base64::Engine;
use serde_json::{Value, json};

use super::{R, Reply, Req, State, with_gvk};
use crate::errors;
use crate::json::{str_at, strip_gvk};
use crate::selectors::{FieldSelector, LabelSelector};

impl State {
    /// GET of an object or of a subresource view (`status`, `scale`, `log`).
    pub(crate) fn get(&self, req: &Req) -> R {
        let obj = self.current(req)?;
        match req.sub.as_deref() {
            None | Some("status") | Some("ephemeralcontainers") | Some("resize") => {
                Ok(Reply::ok(200, with_gvk(&req.def, obj)))
            }
            Some("scale") => Ok(Reply::ok(200, scale_of(&obj))),
            Some(_) => Err(errors::method_not_allowed()),
        }
    }

    /// LIST: selectors, `limit`/`continue` pages, `resourceVersionMatch`.
    pub(crate) fn list(&self, req: &Req) -> R {
        let q = req.query;
        let rvm = q.get("resourceVersionMatch").filter(|s| !s.is_empty());
        let rv = q.get("resourceVersion").filter(|s| !s.is_empty());
        if rvm.is_some() && rv.is_none() {
            return Err(errors::invalid_options(
                "ListOptions",
                "resourceVersionMatch",
                "FieldValueForbidden",
                "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        if rvm == Some("Exact") {
            let n: u64 = rv.and_then(|r| r.parse().ok()).unwrap_or(0);
            if n < self.storage.compacted {
                return Err(errors::expired(
                    "The resourceVersion for the provided list is too old.",
                ));
            }
        }
        let labels = LabelSelector::parse(q.get("labelSelector").unwrap_or(""))
            .map_err(errors::bad_request)?;
        let fields = FieldSelector::parse(
            q.get("fieldSelector").unwrap_or(""),
            &req.def.group,
            &req.def.plural,
        )
        .map_err(errors::bad_request)?;
        let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(0);
        let mut list_rv = self.storage.rv;
        let mut start = String::new();
        if let Some(tok) = q.get("continue").filter(|s| !s.is_empty()) {
            let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(tok.trim_end_matches('='))
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
            let Some(d) = decoded else {
                return Err(errors::bad_request(
                    "continue key is not valid: illegal base64 data at input byte 0",
                ));
            };
            let trv = d.get("rv").and_then(Value::as_i64).unwrap_or(0);
            start = str_at(&d, "/start").to_string();
            if trv >= 0 && (trv as u64) < self.storage.compacted {
                return Err(errors::expired_continue(continue_token(
                    -1,
                    start.trim_end_matches('\u{0}'),
                )));
            }
            if trv > 0 {
                list_rv = trv as u64;
            }
        }
        let storage = req.def.storage_key();
        let all = self.storage.entries(&storage, req.ns.as_deref());
        let matching: Vec<(&String, &Value)> = all
            .into_iter()
            .filter(|(k, _)| start.is_empty() || k.as_str() >= start.as_str())
            .filter(|(_, o)| labels.matches(o) && fields.matches(o))
            .collect();
        let total = matching.len();
        let take = if limit > 0 { limit.min(total) } else { total };
        let strip = req.def.custom.is_none();
        let items: Vec<Value> = matching[..take]
            .iter()
            .map(|(_, o)| {
                let mut o = (*o).clone();
                if strip {
                    strip_gvk(&mut o);
                } else {
                    o = with_gvk(&req.def, o);
                }
                o
            })
            .collect();
        let mut md = json!({"resourceVersion": list_rv.to_string()});
        if req.def.custom.is_some() {
            // Custom resource lists always carry `continue` (empty on the last page).
            md["continue"] = json!("");
        }
        if take < total {
            if let Some((last, _)) = matching.get(take.saturating_sub(1)) {
                md["continue"] = json!(continue_token(list_rv as i64, last));
            }
            if labels.is_empty() && fields.is_empty() {
                md["remainingItemCount"] = json!(total - take);
            }
        }
        Ok(Reply::ok(
            200,
            json!({
                "kind": req.def.list_kind,
                "apiVersion": req.def.api_version(),
                "metadata": md,
                "items": items,
            }),
        ))
    }
}

fn continue_token(rv: i64, start: &str) -> String {
    let v = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": format!("{start}\u{0}")});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

/// The `autoscaling/v1` Scale view of an object.
pub(super) fn scale_of(obj: &Value) -> Value {
    let selector = obj
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": obj.pointer("/metadata/name"),
            "namespace": obj.pointer("/metadata/namespace"),
            "uid": obj.pointer("/metadata/uid"),
            "resourceVersion": obj.pointer("/metadata/resourceVersion"),
            "creationTimestamp": obj.pointer("/metadata/creationTimestamp"),
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
        "status": {"replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)), "selector": selector},
    })
}
