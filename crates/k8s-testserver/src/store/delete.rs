//! delete and deletecollection: preconditions, finalizers, propagation, dry runs.

use k8s_core::{Status, StatusDetails};
use serde_json::{Value, json};

use super::{R, Reply, Req, State, with_gvk};
use crate::errors;
use crate::json::{meta, meta_mut, now, strip_gvk};
use crate::selectors::{FieldSelector, LabelSelector};

impl State {
    /// DELETE of one object: DeleteOptions (preconditions, grace period, propagation).
    pub(crate) fn delete(&mut self, req: &Req) -> R {
        let opts = req.delete_options()?;
        let current = self.current(req)?;
        let dry = req.dry_run()
            || opts
                .get("dryRun")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|x| x == "All"));
        for (field, label) in [("uid", "UID"), ("resourceVersion", "ResourceVersion")] {
            let Some(wanted) = opts
                .pointer(&format!("/preconditions/{field}"))
                .and_then(Value::as_str)
            else {
                continue;
            };
            let actual = meta(&current, field).unwrap_or_default();
            if wanted != actual {
                return Err(errors::conflict(
                    &req.def.plural,
                    &req.def.group,
                    req.name(),
                    &format!(
                        "Precondition failed: {label} in precondition: {wanted}, {label} in object meta: {actual}"
                    ),
                ));
            }
        }
        let grace: Option<i64> = req
            .query
            .get("gracePeriodSeconds")
            .and_then(|g| g.parse().ok())
            .or_else(|| opts.get("gracePeriodSeconds").and_then(Value::as_i64));
        let policy = req
            .query
            .get("propagationPolicy")
            .map(str::to_string)
            .or_else(|| {
                opts.get("propagationPolicy")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
        self.delete_object(req, current, grace, policy.as_deref(), dry)
    }

    /// Deletes `current`: the kind's own deletion, else finalizers, else removal; answered
    /// with the object or a Status.
    pub(crate) fn delete_object(
        &mut self,
        req: &Req,
        current: Value,
        grace: Option<i64>,
        policy: Option<&str>,
        dry: bool,
    ) -> R {
        let def = &req.def;
        let hooks = self.hooks(def);
        if let Some(reply) = hooks.delete(self, req, &current, grace, dry) {
            return reply;
        }
        let storage = def.storage_key();
        let name = meta(&current, "name").unwrap_or_default();
        let ns = meta(&current, "namespace").unwrap_or_default();
        let obj_reply = |v: Value| Ok(Reply::ok(200, with_gvk(def, v)));
        let finalizers: Vec<Value> = current
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let already = current.pointer("/metadata/deletionTimestamp").is_some();
        let mut final_list = finalizers.clone();
        if policy == Some("Foreground") && !already {
            final_list.push(json!("foregroundDeletion"));
        }
        if !final_list.is_empty() {
            // Held by finalizers: mark and keep. `foregroundDeletion` alone is released at once
            // (no garbage collector here, so there are no dependents to wait for).
            let mut new = current.clone();
            if let Some(m) = meta_mut(&mut new) {
                if !already {
                    m.insert("deletionTimestamp".into(), json!(now()));
                    m.insert("deletionGracePeriodSeconds".into(), json!(0));
                    if m.contains_key("generation") {
                        let g = m.get("generation").and_then(Value::as_i64).unwrap_or(1);
                        m.insert("generation".into(), json!(g + 1));
                    }
                }
                m.insert("finalizers".into(), Value::Array(final_list.clone()));
            }
            if dry {
                return obj_reply(new);
            }
            let stored = if already {
                current.clone()
            } else {
                self.put(&storage, &ns, &name, new, Some(current))
            };
            if finalizers.is_empty() {
                self.remove(&storage, &ns, &name);
            }
            return obj_reply(stored);
        }
        let removed = if dry {
            current.clone()
        } else {
            match self.remove(&storage, &ns, &name) {
                Some(r) => r,
                None => return Err(errors::not_found(&def.plural, &def.group, &name)),
            }
        };
        if !dry {
            hooks.removed(self, &removed);
        }
        if let Some(shown) = hooks.deleted_object(&removed) {
            return obj_reply(shown);
        }
        let mut st = Status::success();
        let mut d = StatusDetails::default();
        d.name = Some(name);
        if !def.group.is_empty() {
            d.group = Some(def.group.clone());
        }
        d.kind = Some(def.plural.clone());
        d.uid = meta(&removed, "uid");
        st.details = Some(d);
        Ok(Reply::ok(
            200,
            serde_json::to_value(st).unwrap_or(Value::Null),
        ))
    }

    /// DELETE of a collection: every object the selectors match.
    pub(crate) fn delete_collection(&mut self, req: &Req) -> R {
        let labels = LabelSelector::parse(req.query.get("labelSelector").unwrap_or(""))
            .map_err(errors::bad_request)?;
        let fields = FieldSelector::parse(
            req.query.get("fieldSelector").unwrap_or(""),
            &req.def.group,
            &req.def.plural,
        )
        .map_err(errors::bad_request)?;
        let opts = req.delete_options()?;
        let grace: Option<i64> = req
            .query
            .get("gracePeriodSeconds")
            .and_then(|g| g.parse().ok())
            .or_else(|| opts.get("gracePeriodSeconds").and_then(Value::as_i64));
        let targets: Vec<Value> = self
            .objects_of(&req.def.storage_key())
            .into_iter()
            .filter(|o| {
                req.ns
                    .as_deref()
                    .is_none_or(|ns| meta(o, "namespace").as_deref() == Some(ns))
            })
            .filter(|o| labels.matches(o) && fields.matches(o))
            .cloned()
            .collect();
        let mut items = Vec::new();
        for t in targets {
            let name = meta(&t, "name");
            let sub_req = Req {
                def: req.def.clone(),
                ns: meta(&t, "namespace"),
                name,
                sub: None,
                query: req.query,
                body: b"",
                content_type: String::new(),
                user: req.user,
                user_agent: req.user_agent.clone(),
                codec: req.codec,
            };
            let reply = self.delete_object(&sub_req, t.clone(), grace, None, req.dry_run())?;
            let mut item = if reply.body.get("kind") == Some(&json!("Status")) {
                t
            } else {
                reply.body
            };
            strip_gvk(&mut item);
            items.push(item);
        }
        Ok(Reply::ok(
            200,
            json!({"kind": req.def.list_kind, "apiVersion": req.def.api_version(), "metadata": {"resourceVersion": self.storage.rv.to_string()}, "items": items}),
        ))
    }
}
