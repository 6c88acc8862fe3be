//! Server-side apply, and the `managedFields` bookkeeping of every write.

use serde_json::{Value, json};

use super::{R, Reply, Req, State, with_gvk};
use crate::errors;
use crate::json::{meta, now, set_meta, str_at, strip_gvk};
use crate::patch;

impl State {
    /// One `managedFields` entry of the request's manager.
    pub(crate) fn managed_entry(
        req: &Req,
        operation: &str,
        set: &patch::FieldSet,
        sub: Option<&str>,
    ) -> Value {
        let mut e = json!({
            "manager": req.manager(),
            "operation": operation,
            "apiVersion": req.def.api_version(),
            "time": now(),
            "fieldsType": "FieldsV1",
            "fieldsV1": patch::to_fields_v1(set),
        });
        if let Some(s) = sub {
            e["subresource"] = json!(s);
        }
        e
    }

    /// Records an Update by the request's manager: it owns what changed; others lose it.
    pub(super) fn track_update(&self, req: &Req, old: Option<&Value>, new: &mut Value) {
        let new_set = patch::field_set(new, &self.keys);
        let changed: patch::FieldSet = match old {
            None => new_set,
            Some(old) => new_set
                .into_iter()
                .filter(|p| patch::value_at(old, p) != patch::value_at(new, p))
                .collect(),
        };
        let mut entries: Vec<Value> = old
            .and_then(|o| o.pointer("/metadata/managedFields"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if changed.is_empty() && old.is_some() {
            set_meta(new, "managedFields", Value::Array(entries));
            return;
        }
        let manager = req.manager();
        let sub = req.sub.as_deref();
        let mut mine = patch::FieldSet::new();
        entries.retain_mut(|e| {
            let m = str_at(e, "/manager");
            let op = str_at(e, "/operation");
            let esub = e.get("subresource").and_then(Value::as_str);
            let mut set = patch::from_fields_v1(e.get("fieldsV1").unwrap_or(&Value::Null));
            if m == manager && op == "Update" && esub == sub {
                mine = set;
                return false;
            }
            set.retain(|p| !changed.contains(p));
            if set.is_empty() {
                return false;
            }
            e["fieldsV1"] = patch::to_fields_v1(&set);
            true
        });
        mine.extend(changed);
        entries.push(Self::managed_entry(req, "Update", &mine, sub));
        set_meta(new, "managedFields", Value::Array(entries));
    }

    /// Server-side apply.
    pub(super) fn apply(&mut self, req: &Req) -> R {
        let Some(manager) = req.query.get("fieldManager").filter(|m| !m.is_empty()) else {
            return Err(errors::invalid(
                "PatchOptions",
                "meta.k8s.io",
                "",
                &[(
                    "FieldValueRequired".into(),
                    "fieldManager".into(),
                    "Required value: is required for apply patch".into(),
                )],
            ));
        };
        let manager = manager.to_string();
        let force = req.query.flag("force");
        let applied: Value = match serde_json::from_slice::<Value>(req.body) {
            Ok(v) => v,
            Err(_) => {
                let text = String::from_utf8_lossy(req.body);
                serde_saphyr::from_str::<Value>(&text)
                    .map_err(|e| errors::bad_request(format!("error decoding YAML: {e}")))?
            }
        };
        if !applied.is_object() {
            return Err(errors::bad_request(
                "error decoding YAML: the applied configuration is not an object",
            ));
        }
        if let Some(n) = meta(&applied, "name") {
            if n != req.name() {
                return Err(errors::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({})",
                    req.name()
                )));
            }
        }
        let mut applied_set = patch::field_set(&applied, &self.keys);
        // An applier owns the fields it sets, not the maps around them.
        applied_set.retain(|p| {
            !(matches!(p.last(), Some(patch::Step::Field(_)))
                && patch::value_at(&applied, p)
                    .is_some_and(|v| v.as_object().is_some_and(|m| !m.is_empty())))
        });
        if req.sub.as_deref() == Some("status") {
            applied_set.retain(|p| p.first() == Some(&patch::Step::Field("status".into())));
        } else if req.def.has_subresource("status") {
            applied_set.retain(|p| p.first() != Some(&patch::Step::Field("status".into())));
        }
        // `req.manager()` is `manager`: apply requires a field manager.
        let entry =
            |set: &patch::FieldSet| Self::managed_entry(req, "Apply", set, req.sub.as_deref());
        let storage = req.def.storage_key();
        let Some(current) = self.object(&storage, req.ns(), req.name()).cloned() else {
            // Create from the applied configuration.
            let mut body = applied.clone();
            set_meta(&mut body, "name", json!(req.name()));
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            let create_req = Req {
                def: req.def.clone(),
                ns: req.ns.clone(),
                name: None,
                sub: None,
                query: req.query,
                body: &bytes,
                content_type: "application/json".into(),
                user: req.user,
                user_agent: req.user_agent.clone(),
                codec: req.codec,
            };
            let mut reply = self.create(&create_req)?;
            let entries = json!([entry(&applied_set)]);
            set_meta(&mut reply.body, "managedFields", entries.clone());
            if !req.dry_run() {
                self.storage
                    .set_managed_fields(&storage, req.ns(), req.name(), &entries);
            }
            return Ok(reply);
        };
        let mut entries: Vec<Value> = current
            .pointer("/metadata/managedFields")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut previous = patch::FieldSet::new();
        let mut conflicts: Vec<(String, String)> = Vec::new();
        let mut conflicting = patch::FieldSet::new();
        for e in &entries {
            let m = str_at(e, "/manager");
            let op = str_at(e, "/operation");
            let set = patch::from_fields_v1(e.get("fieldsV1").unwrap_or(&Value::Null));
            if m == manager && op == "Apply" {
                previous = set;
                continue;
            }
            for p in patch::leaves(&applied_set) {
                let applied_value = patch::value_at(&applied, &p);
                if applied_value.is_some_and(Value::is_object) {
                    continue;
                }
                if set.contains(&p) && patch::value_at(&current, &p) != applied_value {
                    conflicts.push((m.to_string(), patch::path_string(&p)));
                    conflicting.insert(p.clone());
                }
            }
        }
        if !conflicts.is_empty() && !force {
            return Err(errors::apply_conflict(&conflicts));
        }
        // Others lose the conflicting fields taken over by force; fields applied with the same
        // value stay shared.
        let taken = conflicting;
        entries.retain_mut(|e| {
            let m = str_at(e, "/manager");
            let op = str_at(e, "/operation");
            if m == manager && op == "Apply" {
                return false;
            }
            let mut set = patch::from_fields_v1(e.get("fieldsV1").unwrap_or(&Value::Null));
            if force {
                set.retain(|p| !taken.contains(p));
            }
            if set.is_empty() {
                return false;
            }
            e["fieldsV1"] = patch::to_fields_v1(&set);
            true
        });
        let mut new = with_gvk(&req.def, current.clone());
        // Fields this manager applied before and no longer applies, owned by nobody else, go.
        let others: patch::FieldSet = entries
            .iter()
            .flat_map(|e| patch::from_fields_v1(e.get("fieldsV1").unwrap_or(&Value::Null)))
            .collect();
        for p in patch::leaves(&previous) {
            if !applied_set.contains(&p) && !others.contains(&p) {
                patch::remove_at_path(&mut new, &p);
            }
        }
        let mut applied_body = applied.clone();
        strip_gvk(&mut applied_body);
        new = patch::strategic_merge(&new, &applied_body, &self.keys);
        entries.push(entry(&applied_set));
        let mut warnings = Vec::new();
        let mut reply = self.write_update_apply(req, &current, new, entries, &mut warnings)?;
        reply.code = 200;
        Ok(reply)
    }

    fn write_update_apply(
        &mut self,
        req: &Req,
        current: &Value,
        mut new: Value,
        entries: Vec<Value>,
        warnings: &mut Vec<String>,
    ) -> R {
        // write_update recomputes an Update entry; apply sets its own, so restore afterwards.
        let entries = Value::Array(entries);
        set_meta(&mut new, "managedFields", entries.clone());
        let mut cur = current.clone();
        set_meta(&mut cur, "managedFields", entries.clone());
        let reply = self.write_update(req, &cur, new, warnings)?;
        let mut body = reply.body;
        set_meta(&mut body, "managedFields", entries.clone());
        if !req.dry_run() {
            self.storage
                .set_managed_fields(&req.def.storage_key(), req.ns(), req.name(), &entries);
        }
        Ok(Reply {
            code: 200,
            body,
            warnings: reply.warnings,
            raw: None,
        })
    }
}
