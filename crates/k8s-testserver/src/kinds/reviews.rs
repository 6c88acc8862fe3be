//! The review kinds, which are answered and never stored: `authorization.k8s.io` access and
//! rules reviews (by the authorizer), `authentication.k8s.io` TokenReview and
//! SelfSubjectReview.

use serde_json::{Map, Value, json};

use crate::authz::{self, Attrs, UserInfo};
use crate::errors;
use crate::json::{now, str_at, strs};
use crate::patch;
use crate::store::{KindHooks, R, Reply, Req, State};

/// Every resource of `authorization.k8s.io`.
pub(crate) struct AccessReviews;

impl KindHooks for AccessReviews {
    fn create(&self, st: &mut State, req: &Req) -> Option<R> {
        Some(access_review(st, req))
    }
}

/// `authentication.k8s.io/selfsubjectreviews`.
pub(crate) struct SelfSubjectReviews;

impl KindHooks for SelfSubjectReviews {
    fn create(&self, _st: &mut State, req: &Req) -> Option<R> {
        Some(self_subject_review(req))
    }
}

/// `authentication.k8s.io/tokenreviews`.
pub(crate) struct TokenReviews;

impl KindHooks for TokenReviews {
    fn create(&self, st: &mut State, req: &Req) -> Option<R> {
        Some(token_review(st, req))
    }
}

/// SubjectAccessReview, LocalSubjectAccessReview, SelfSubjectAccessReview and
/// SelfSubjectRulesReview, answered by the authorizer.
fn access_review(st: &State, req: &Req) -> R {
    let plural = req.def.plural.as_str();
    let (mut body, _) = req.decode()?;
    let spec = body.get("spec").cloned().unwrap_or(json!({}));
    let user = match plural {
        "selfsubjectaccessreviews" => req.user.clone(),
        "selfsubjectrulesreviews" => {
            let ns = str_at(&spec, "/namespace");
            body["status"] = authz::rules_review(st.storage(), req.user, ns);
            body["metadata"] = json!({"creationTimestamp": Value::Null});
            return Ok(Reply::ok(201, body));
        }
        _ => UserInfo {
            name: str_at(&spec, "/user").to_string(),
            uid: spec.get("uid").and_then(Value::as_str).map(str::to_string),
            groups: strs(spec.get("groups")),
            extra: Vec::new(),
        },
    };
    let attrs = if let Some(ra) = spec.get("resourceAttributes") {
        let s = |k: &str| str_at(ra, &format!("/{k}")).to_string();
        let mut ns = s("namespace");
        if plural == "localsubjectaccessreviews" {
            ns = req.ns().to_string();
        }
        Attrs {
            verb: s("verb"),
            group: s("group"),
            resource: s("resource"),
            sub: Some(s("subresource")).filter(|x| !x.is_empty()),
            ns: Some(ns).filter(|x| !x.is_empty()),
            name: Some(s("name")).filter(|x| !x.is_empty()),
            path: None,
        }
    } else if let Some(nr) = spec.get("nonResourceAttributes") {
        Attrs {
            verb: str_at(nr, "/verb").to_string(),
            path: Some(str_at(nr, "/path").to_string()),
            ..Attrs::default()
        }
    } else {
        return Err(errors::invalid(&req.def.kind, "authorization.k8s.io", "", &[("FieldValueRequired".into(), "spec.resourceAttributes".into(), "Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified".into())]));
    };
    let (allowed, reason) = authz::authorize(st.storage(), &user, &attrs);
    let mut status = json!({"allowed": allowed});
    if !reason.is_empty() {
        status["reason"] = json!(reason);
    }
    let mut set = patch::field_set(&json!({"spec": spec}), &st.keys);
    set.remove(&vec![patch::Step::Field("spec".into())]);
    body["metadata"] = json!({"managedFields": [State::managed_entry(req, "Update", &set, None)]});
    body["status"] = status;
    Ok(Reply::ok(201, body))
}

/// SelfSubjectReview: who the caller is.
fn self_subject_review(req: &Req) -> R {
    let (mut body, _) = req.decode()?;
    body["metadata"] = json!({"creationTimestamp": now()});
    body["status"] = json!({"userInfo": user_info_json(req.user)});
    Ok(Reply::ok(201, body))
}

/// TokenReview: whom a bearer token authenticates.
fn token_review(st: &State, req: &Req) -> R {
    let (mut body, _) = req.decode()?;
    let token = str_at(&body, "/spec/token").to_string();
    let status = match st.tokens.get(&token) {
        Some(u) => {
            let mut u = u.clone();
            if !u.groups.iter().any(|g| g == "system:authenticated") {
                u.groups.push("system:authenticated".into());
            }
            json!({"authenticated": true, "user": user_info_json(&u), "audiences": body.pointer("/spec/audiences").cloned().unwrap_or(json!(["https://kubernetes.default.svc.cluster.local"]))})
        }
        None => json!({"user": {}, "error": "[invalid bearer token, token lookup failed]"}),
    };
    body["metadata"] = json!({"creationTimestamp": now()});
    body["status"] = status;
    Ok(Reply::ok(201, body))
}

/// `userInfo` as the review kinds write it.
fn user_info_json(u: &UserInfo) -> Value {
    let mut v = json!({"username": u.name, "groups": u.groups});
    if let Some(uid) = &u.uid {
        v["uid"] = json!(uid);
    }
    if !u.extra.is_empty() {
        let extra: Map<String, Value> = u
            .extra
            .iter()
            .map(|(k, vs)| (k.clone(), json!(vs)))
            .collect();
        v["extra"] = Value::Object(extra);
    }
    v
}
