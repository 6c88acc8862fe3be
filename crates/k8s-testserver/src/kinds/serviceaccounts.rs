//! ServiceAccounts (`""/serviceaccounts`): the `token` subresource (TokenRequest).

use base64::Engine;
use rand::Rng;
use serde_json::{Value, json};

use crate::authz::UserInfo;
use crate::json::{later, meta, now};
use crate::store::{KindHooks, R, Reply, Req, State};

/// `""/serviceaccounts`.
pub(crate) struct ServiceAccounts;

impl KindHooks for ServiceAccounts {
    fn create_subresource(&self, st: &mut State, req: &Req, sub: &str) -> Option<R> {
        (sub == "token").then(|| token_request(st, req))
    }
}

/// `serviceaccounts/token`: a new bearer token for the service account.
fn token_request(st: &mut State, req: &Req) -> R {
    let (body, _) = req.decode()?;
    let sa = st.current(req)?;
    let token = random_token();
    let expiration = body
        .pointer("/spec/expirationSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(3600);
    let user = UserInfo {
        name: format!("system:serviceaccount:{}:{}", req.ns(), req.name()),
        uid: meta(&sa, "uid"),
        groups: vec![
            "system:serviceaccounts".into(),
            format!("system:serviceaccounts:{}", req.ns()),
        ],
        extra: vec![(
            "authentication.kubernetes.io/credential-id".into(),
            vec![format!("JTI={}", uuid::Uuid::new_v4())],
        )],
    };
    st.tokens.insert(token.clone(), user);
    let mut out = body.clone();
    out["apiVersion"] = json!("authentication.k8s.io/v1");
    out["kind"] = json!("TokenRequest");
    out["metadata"] =
        json!({"name": req.name(), "namespace": req.ns(), "creationTimestamp": now()});
    if out.pointer("/spec/audiences").is_none() {
        out["spec"]["audiences"] = json!(["https://kubernetes.default.svc.cluster.local"]);
    }
    out["spec"]["expirationSeconds"] = json!(expiration);
    out["status"] = json!({"token": token, "expirationTimestamp": later(expiration)});
    Ok(Reply::ok(201, out))
}

/// A random bearer token.
pub(crate) fn random_token() -> String {
    let mut rng = rand::rng();
    let bytes: Vec<u8> = (0..32).map(|_| rng.random()).collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
