//! create, update and patch, and the write path that update, patch and apply share.

use rand::Rng;
use serde_json::{Value, json};

use super::read::scale_of;
use super::{R, Reply, Req, State, invalid, with_gvk};
use crate::errors;
use crate::json::{meta, meta_mut, now, set_meta};
use crate::patch;
use crate::validate;

impl State {
    /// POST: a new object (name, namespace, validation, defaults, uid), or what the kind
    /// answers instead (reviews, subresources such as eviction).
    pub(crate) fn create(&mut self, req: &Req) -> R {
        let hooks = self.hooks(&req.def);
        if let Some(sub) = req.sub.as_deref() {
            return hooks
                .create_subresource(self, req, sub)
                .unwrap_or_else(|| Err(errors::method_not_allowed()));
        }
        if let Some(reply) = hooks.create(self, req) {
            return reply;
        }
        let (mut obj, dups) = req.decode()?;
        check_kind(req, &obj)?;
        let mut warnings = self.field_validation(req, &mut obj, dups)?;
        if let Some(ns) = meta(&obj, "namespace") {
            if req.def.namespaced && !ns.is_empty() && ns != req.ns() {
                return Err(errors::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        let mut name = meta(&obj, "name").unwrap_or_default();
        if name.is_empty() {
            if let Some(g) = meta(&obj, "generateName").filter(|g| !g.is_empty()) {
                name = format!("{g}{}", random_suffix(5));
            }
        }
        let mut causes: Vec<validate::Cause> = Vec::new();
        if name.is_empty() {
            causes.push((
                "FieldValueRequired".into(),
                "metadata.name".into(),
                "Required value: name or generateName is required".into(),
            ));
        } else if let Some(msg) = validate::check_name(&req.def.group, &req.def.plural, &name) {
            causes.push((
                "FieldValueInvalid".into(),
                "metadata.name".into(),
                format!("Invalid value: \"{name}\": {msg}"),
            ));
        }
        if let Some(m) = meta_mut(&mut obj) {
            m.insert("name".into(), json!(name));
            if req.def.namespaced {
                m.insert("namespace".into(), json!(req.ns()));
            } else {
                m.remove("namespace");
            }
            for k in [
                "uid",
                "resourceVersion",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "managedFields",
                "selfLink",
            ] {
                m.remove(k);
            }
        }
        if req.def.has_subresource("status") {
            if let Value::Object(o) = &mut obj {
                o.remove("status");
            }
        }
        causes.extend(hooks.validate(&req.def, &mut obj, &mut warnings));
        if !causes.is_empty() {
            return Err(invalid(&req.def, &name, &causes));
        }
        self.check_namespace(req, &name)?;
        let storage = req.def.storage_key();
        if self.object(&storage, req.ns(), &name).is_some() {
            return Err(errors::already_exists(
                &req.def.plural,
                &req.def.group,
                &name,
            ));
        }
        hooks.defaults(&mut obj);
        hooks.allocate(self, &mut obj, &name)?;
        hooks.server_status(&mut obj);
        set_meta(&mut obj, "uid", json!(uuid::Uuid::new_v4().to_string()));
        set_meta(&mut obj, "creationTimestamp", json!(now()));
        if hooks.has_generation() {
            set_meta(&mut obj, "generation", json!(1));
        }
        hooks.identified(&mut obj);
        obj = with_gvk(&req.def, obj);
        self.track_update(req, None, &mut obj);
        if req.dry_run() {
            return Ok(Reply {
                code: 201,
                body: obj,
                warnings,
                raw: None,
            });
        }
        let stored = self.put(&storage, req.ns(), &name, obj, None);
        hooks.written(self, &stored);
        Ok(Reply {
            code: 201,
            body: stored,
            warnings,
            raw: None,
        })
    }

    /// PUT of an object, its `status` or its `scale`.
    pub(crate) fn update(&mut self, req: &Req) -> R {
        let (mut obj, dups) = req.decode()?;
        let mut warnings = self.field_validation(req, &mut obj, dups)?;
        if let Some(n) = meta(&obj, "name") {
            if n != req.name() {
                return Err(errors::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({})",
                    req.name()
                )));
            }
        }
        let current = self.current(req)?;
        if let Some(rv) = meta(&obj, "resourceVersion").filter(|r| !r.is_empty()) {
            if Some(rv) != meta(&current, "resourceVersion") {
                return Err(errors::conflict(
                    &req.def.plural,
                    &req.def.group,
                    req.name(),
                    errors::STALE,
                ));
            }
        }
        if req.sub.as_deref() == Some("scale") {
            let replicas = obj.pointer("/spec/replicas").cloned().unwrap_or(json!(0));
            let mut new = current.clone();
            new["spec"]["replicas"] = replicas;
            let r = self.write_update(req, &current, new, &mut warnings)?;
            return Ok(Reply::ok(200, scale_of(&r.body)));
        }
        self.write_update(req, &current, obj, &mut warnings)
    }

    /// Shared tail of PUT and PATCH: merges subresource rules, validates, bumps generation,
    /// finishes deletions whose finalizers are gone.
    pub(super) fn write_update(
        &mut self,
        req: &Req,
        current: &Value,
        mut new: Value,
        warnings: &mut Vec<String>,
    ) -> R {
        let hooks = self.hooks(&req.def);
        let status_sub = req.def.has_subresource("status");
        match req.sub.as_deref() {
            Some("status") => {
                let status = new.get("status").cloned();
                new = current.clone();
                match status {
                    Some(s) => new["status"] = s,
                    None => {
                        if let Value::Object(o) = &mut new {
                            o.remove("status");
                        }
                    }
                }
            }
            Some("scale") | Some("ephemeralcontainers") | Some("resize") | None => {
                if status_sub && req.sub.is_none() {
                    match current.get("status") {
                        Some(s) => new["status"] = s.clone(),
                        None => {
                            if let Value::Object(o) = &mut new {
                                o.remove("status");
                            }
                        }
                    }
                }
            }
            Some(_) => return Err(errors::method_not_allowed()),
        }
        let cur_meta = current.get("metadata").cloned().unwrap_or(json!({}));
        if let Some(m) = meta_mut(&mut new) {
            for k in [
                "name",
                "namespace",
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ] {
                match cur_meta.get(k) {
                    Some(v) => {
                        m.insert(k.into(), v.clone());
                    }
                    None => {
                        m.remove(k);
                    }
                }
            }
            m.remove("resourceVersion");
        }
        new = with_gvk(&req.def, new);
        if req.sub.is_none() {
            hooks.validate_update(req.name(), current, &new)?;
            let causes = hooks.validate(&req.def, &mut new, warnings);
            if !causes.is_empty() {
                return Err(invalid(&req.def, req.name(), &causes));
            }
        }
        let strip = |v: &Value| {
            let mut v = v.clone();
            if let Value::Object(o) = &mut v {
                o.remove("metadata");
                o.remove("status");
                o.remove("apiVersion");
                o.remove("kind");
            }
            v
        };
        if hooks.has_generation() && strip(current) != strip(&new) {
            let g = current
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            set_meta(&mut new, "generation", json!(g + 1));
        }
        hooks.server_status(&mut new);
        self.track_update(req, Some(current), &mut new);
        let mut cmp_new = new.clone();
        let mut cmp_cur = current.clone();
        for m in [&mut cmp_new, &mut cmp_cur]
            .into_iter()
            .filter_map(meta_mut)
        {
            m.remove("resourceVersion");
            m.remove("managedFields");
        }
        if cmp_new == cmp_cur {
            return Ok(Reply {
                code: 200,
                body: with_gvk(&req.def, current.clone()),
                warnings: std::mem::take(warnings),
                raw: None,
            });
        }
        if req.dry_run() {
            return Ok(Reply {
                code: 200,
                body: new,
                warnings: std::mem::take(warnings),
                raw: None,
            });
        }
        let storage = req.def.storage_key();
        let deleting = new.pointer("/metadata/deletionTimestamp").is_some();
        let no_finalizers = new
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
        let stored = self.put(&storage, req.ns(), req.name(), new, Some(current.clone()));
        if deleting && no_finalizers && hooks.removed_when_finalized() {
            self.remove(&storage, req.ns(), req.name());
            hooks.removed(self, &stored);
        } else {
            hooks.written(self, &stored);
        }
        Ok(Reply {
            code: 200,
            body: stored,
            warnings: std::mem::take(warnings),
            raw: None,
        })
    }

    /// PATCH: JSON, merge and strategic merge patches; apply patches go to server-side apply.
    pub(crate) fn patch(&mut self, req: &Req) -> R {
        let ct = req
            .content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match ct.as_str() {
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => {
                return self.apply(req);
            }
            "application/json-patch+json" | "application/merge-patch+json" => {}
            "application/strategic-merge-patch+json" if req.def.custom.is_none() => {}
            "application/strategic-merge-patch+json" => {
                return Err(errors::unsupported_media_type(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                    false,
                ));
            }
            _ => {
                return Err(errors::unsupported_media_type(
                    "415: Unsupported Media Type",
                    true,
                ));
            }
        }
        let patch: Value = serde_json::from_slice(req.body).map_err(|e| {
            errors::bad_request(format!(
                "error decoding patch: {}",
                validate::go_json_error(&e)
            ))
        })?;
        let current = self.current(req)?;
        let base = match req.sub.as_deref() {
            Some("scale") => scale_of(&current),
            _ => with_gvk(&req.def, current.clone()),
        };
        let patched = match ct.as_str() {
            "application/json-patch+json" => match patch::json_patch(&base, &patch) {
                Err(bad) => return Err(errors::bad_request(bad)),
                Ok(Err(failed)) => return Err(errors::patch_failed(&failed)),
                Ok(Ok(v)) => v,
            },
            "application/merge-patch+json" => {
                if !patch.is_object() {
                    return Err(errors::bad_request(
                        "json: cannot unmarshal into Go value of type map[string]interface {}",
                    ));
                }
                patch::merge_patch(&base, &patch)
            }
            _ => {
                if !patch.is_object() {
                    return Err(errors::bad_request(
                        "json: cannot unmarshal into Go value of type map[string]interface {}",
                    ));
                }
                patch::strategic_merge(&base, &patch, &self.keys)
            }
        };
        if let Some(rv) = patch
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
        {
            if Some(rv.to_string()) != meta(&current, "resourceVersion") {
                return Err(errors::conflict(
                    &req.def.plural,
                    &req.def.group,
                    req.name(),
                    errors::STALE,
                ));
            }
        }
        let mut warnings = Vec::new();
        if req.sub.as_deref() == Some("scale") {
            let mut new = current.clone();
            new["spec"]["replicas"] = patched
                .pointer("/spec/replicas")
                .cloned()
                .unwrap_or(json!(0));
            let r = self.write_update(req, &current, new, &mut warnings)?;
            return Ok(Reply::ok(200, scale_of(&r.body)));
        }
        self.write_update(req, &current, patched, &mut warnings)
    }
}

const NAME_CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The random suffix of a `generateName`.
fn random_suffix(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| NAME_CHARS[rng.random_range(0..NAME_CHARS.len())] as char)
        .collect()
}

/// A body of another built-in kind: 400 with the real server's conversion error.
fn check_kind(req: &Req, obj: &Value) -> Result<(), errors::ApiError> {
    let Some(kind) = obj
        .get("kind")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty() && *k != req.def.kind)
    else {
        return Ok(());
    };
    if req.def.custom.is_some() {
        return Ok(());
    }
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let version = api_version.rsplit('/').next().unwrap_or("");
    let internal = if req.def.group.is_empty() {
        "core"
    } else {
        req.def.group.split('.').next().unwrap_or("")
    };
    Err(errors::bad_request(format!(
        "{kind} in version \"{version}\" cannot be handled as a {want}: converting ({version}.{kind}) to ({internal}.{want}): unknown conversion",
        want = req.def.kind
    )))
}
