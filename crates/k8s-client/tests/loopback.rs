//! The client against small hyper servers on 127.0.0.1 (real TLS with rcgen certificates),
//! each scripted to produce one wire behaviour exactly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_client::{
    Auth, CaSource, Client, ClientIdentity, Config, RetryPolicy, SecretBytes, SecretString,
    WatchUpdate,
};
use k8s_core::ops::{CreateRequest, GetRequest, ListRequest, WatchRequest};
use k8s_core::{List, WatchEvent};
use support::*;

const CM_PATH: &str = "/api/v1/namespaces/default/configmaps";

fn ok_handler() -> Handler {
    Arc::new(|r: &Recorded| {
        if r.path().ends_with("/configmaps/a") {
            json(200, &cm("a", "5"))
        } else {
            status(404, "NotFound", "configmaps \"x\" not found")
        }
    })
}

fn get_a() -> GetRequest<ConfigMap> {
    GetRequest::new(format!("{CM_PATH}/a"))
}

fn tls_config(url: http::Uri, ca: &str) -> Config {
    let mut c = Config::new(url);
    c.root_ca = Some(CaSource::Pem(ca.as_bytes().to_vec()));
    c.retry = RetryPolicy::none();
    c
}

#[tokio::test]
async fn tls_with_ca_and_bearer_token() {
    let pki = Pki::new("ca");
    let srv = serve(
        Some(server_tls(None, &pki.server(&["127.0.0.1"]))),
        false,
        ok_handler(),
    )
    .await;
    let mut c = tls_config(srv.https_url(), &pki.ca_pem);
    c.auth = Auth::Bearer(SecretString::new("tok-123"));
    let client = Client::try_from(c).unwrap();
    let got = client.send(get_a()).await.unwrap();
    assert_eq!(got.metadata.name.as_deref(), Some("a"));
    let log = srv.requests();
    assert_eq!(log[0].authorization.as_deref(), Some("Bearer tok-123"));
    assert_eq!(log[0].uri, "/api/v1/namespaces/default/configmaps/a");
}

#[tokio::test]
async fn unknown_ca_is_a_tls_error_that_names_the_cause() {
    let pki = Pki::new("ca");
    let other = Pki::new("other");
    let srv = serve(
        Some(server_tls(None, &pki.server(&["127.0.0.1"]))),
        false,
        ok_handler(),
    )
    .await;
    let client = Client::try_from(tls_config(srv.https_url(), &other.ca_pem)).unwrap();
    let e = client.send(get_a()).await.unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, k8s_client::Error::Transport { .. }), "{e:?}");
    assert!(
        msg.contains("GET /api/v1/namespaces/default/configmaps/a"),
        "{msg}"
    );
    assert!(msg.to_lowercase().contains("certificate"), "{msg}");
    assert!(srv.requests().is_empty());
}

#[tokio::test]
async fn tls_server_name_checks_the_certificate_against_that_name() {
    let pki = Pki::new("ca");
    // The certificate names only apiserver.internal, not 127.0.0.1.
    let srv = serve(
        Some(server_tls(None, &pki.server(&["apiserver.internal"]))),
        false,
        ok_handler(),
    )
    .await;
    let plain = Client::try_from(tls_config(srv.https_url(), &pki.ca_pem)).unwrap();
    let e = plain.send(get_a()).await.unwrap_err();
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");

    let mut c = tls_config(srv.https_url(), &pki.ca_pem);
    c.tls_server_name = Some("apiserver.internal".into());
    let client = Client::try_from(c).unwrap();
    assert!(client.send(get_a()).await.is_ok());

    let mut c = tls_config(srv.https_url(), &pki.ca_pem);
    c.tls_server_name = Some("someone-else.internal".into());
    let client = Client::try_from(c).unwrap();
    assert!(client.send(get_a()).await.is_err());
}

#[tokio::test]
async fn insecure_skip_verify_accepts_any_certificate_and_warns() {
    let (logs, _guard) = capture_logs();
    let pki = Pki::new("ca");
    let srv = serve(
        Some(server_tls(None, &pki.server(&["elsewhere"]))),
        false,
        ok_handler(),
    )
    .await;
    let mut c = Config::new(srv.https_url());
    c.accept_invalid_certs = true;
    // Every client built with it says so, once (not once per process).
    for _ in 0..2 {
        let client = Client::try_from(c.clone()).unwrap();
        assert!(client.send(get_a()).await.is_ok());
        assert!(client.send(get_a()).await.is_ok());
    }
    let out = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let warnings = out
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("insecure-skip-tls-verify"))
        .count();
    assert_eq!(warnings, 2, "{out}");
    // With a CA as well, it is refused, as client-go refuses it.
    c.root_ca = Some(CaSource::Pem(pki.ca_pem.clone().into_bytes()));
    let e = Client::try_from(c).unwrap_err().to_string();
    assert!(
        e.contains("specifying a root certificates file with the insecure flag is not allowed"),
        "{e}"
    );
}

#[tokio::test]
async fn client_certificates_with_rsa_and_ec_keys_in_every_encoding() {
    let pki = Pki::new("ca");
    let srv = serve(
        Some(server_tls(Some(&pki), &pki.server(&["127.0.0.1"]))),
        false,
        ok_handler(),
    )
    .await;
    let keys = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys/");
    let read = |f: &str| std::fs::read_to_string(format!("{keys}{f}")).unwrap();
    for (pkcs8, presented) in [
        ("rsa-pkcs8.pem", "rsa-pkcs1.pem"),
        ("rsa-pkcs8.pem", "rsa-pkcs8.pem"),
        ("ec-pkcs8.pem", "ec-sec1.pem"),
        ("ec-pkcs8.pem", "ec-pkcs8.pem"),
    ] {
        let leaf = pki.client("alice", Some(&read(pkcs8)));
        let mut c = tls_config(srv.https_url(), &pki.ca_pem);
        c.client_identity = Some(ClientIdentity::new(
            leaf.cert_pem.as_bytes().to_vec(),
            SecretBytes::new(read(presented).into_bytes()),
        ));
        let client = Client::try_from(c).unwrap();
        client.send(get_a()).await.unwrap();
        let last = srv.requests().pop().unwrap();
        let der: Vec<u8> =
            rustls::pki_types::pem::PemObject::from_pem_slice(leaf.cert_pem.as_bytes())
                .map(|c: rustls::pki_types::CertificateDer<'static>| c.to_vec())
                .unwrap();
        assert_eq!(
            last.client_cert.as_deref(),
            Some(der.as_slice()),
            "{presented}"
        );
    }
    // A key that does not parse is a configuration error naming the key, not a panic.
    let mut c = tls_config(srv.https_url(), &pki.ca_pem);
    c.client_identity = Some(ClientIdentity::new(
        pki.client("x", None).cert_pem.into_bytes(),
        SecretBytes::new(
            b"-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----\n".to_vec(),
        ),
    ));
    let e = Client::try_from(c).unwrap_err().to_string();
    assert!(e.contains("client-key"), "{e}");
    assert!(!e.contains("not-a-key"), "{e}");
}

#[tokio::test]
async fn plain_http_like_kubectl_proxy_sends_no_credentials() {
    let srv = serve(None, false, ok_handler()).await;
    let client = Client::try_from(Config::new(srv.http_url())).unwrap();
    assert!(client.send(get_a()).await.is_ok());
    assert_eq!(srv.requests()[0].authorization, None);
}

#[tokio::test]
async fn userinfo_of_a_hand_built_url_is_the_only_authorization() {
    let srv = serve(None, false, ok_handler()).await;
    let url: http::Uri = format!("http://alice:s3cret-PW@{}", srv.addr)
        .parse()
        .unwrap();
    let mut c = Config::new(url);
    c.auth = Auth::Bearer(SecretString::new("user-token"));
    let client = Client::try_from(c).unwrap();
    assert!(client.send(get_a()).await.is_ok());
    let r = &srv.requests()[0];
    // base64("alice:s3cret-PW"), as kubectl sends it (see kubeconfig_oracle.rs).
    assert_eq!(r.authorizations, ["Basic YWxpY2U6czNjcmV0LVBX"]);
    assert_eq!(r.host.as_deref(), Some(srv.addr.to_string().as_str()));
    for shown in [format!("{client:?}"), format!("{:?}", client.config())] {
        assert!(!shown.contains("s3cret-PW"), "{shown}");
    }
}

#[tokio::test]
async fn error_answers_become_typed_errors() {
    let srv = serve(
        None,
        false,
        Arc::new(|r: &Recorded| match r.path() {
            "/invalid" => json(
                422,
                &serde_json::json!({"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Invalid","code":422,
                    "message":"ConfigMap \"Bad\" is invalid: metadata.name: Invalid value: \"Bad\"",
                    "details":{"name":"Bad","kind":"ConfigMap","causes":[{"reason":"FieldValueInvalid","message":"Invalid value: \"Bad\"","field":"metadata.name"}]}}),
            ),
            "/conflict" => status(409, "Conflict", "the object has been modified"),
            "/exists" => status(409, "AlreadyExists", "configmaps \"a\" already exists"),
            "/forbidden" => status(403, "Forbidden", "configmaps is forbidden: User \"bob\" cannot get resource"),
            "/html" => hyper::Response::builder()
                .status(502)
                .body(full("<html>Bad Gateway</html>"))
                .unwrap(),
            "/notjson" => hyper::Response::builder().status(200).body(full("<html>")).unwrap(),
            "/halfjson" => hyper::Response::builder()
                .status(200)
                .body(full("{\"metadata\": {\"name\": \"a"))
                .unwrap(),
            "/truncated" => hyper::Response::builder()
                .status(200)
                .header("content-length", "500")
                .body(full("{\"metadata\": {"))
                .unwrap(),
            _ => status(404, "NotFound", "configmaps \"x\" not found"),
        }),
    )
    .await;
    let client = Client::try_from(Config::new(srv.http_url())).unwrap();
    let get = |p: &str| client.send(GetRequest::<ConfigMap>::new(p.into()));
    let e = get("/nope").await.unwrap_err();
    assert!(e.is_not_found() && !e.is_conflict());
    assert_eq!(e.status_code(), Some(404));
    assert_eq!(
        e.to_string(),
        "GET /nope: the API server answered 404 NotFound: configmaps \"x\" not found (as a Config built in code)"
    );
    let e = get("/invalid").await.unwrap_err();
    assert!(e.is_invalid());
    assert_eq!(e.causes()[0].field.as_deref(), Some("metadata.name"));
    assert!(get("/conflict").await.unwrap_err().is_conflict());
    let e = get("/exists").await.unwrap_err();
    assert!(e.is_already_exists() && !e.is_conflict());
    assert!(get("/forbidden").await.unwrap_err().is_forbidden());
    let e = client
        .send(CreateRequest::<ConfigMap>::new(
            "/html".into(),
            &cm("a", ""),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.status_code(), Some(502));
    assert!(e.to_string().contains("<html>Bad Gateway</html>"), "{e}");
    assert!(e.to_string().contains("POST /html"), "{e}");
    let e = get("/notjson").await.unwrap_err();
    assert!(matches!(e, k8s_client::Error::Decode { .. }), "{e:?}");
    assert!(e.to_string().contains("GET /notjson"), "{e}");
    let e = get("/halfjson").await.unwrap_err();
    assert!(matches!(e, k8s_client::Error::Decode { .. }), "{e:?}");
    let e = get("/truncated").await.unwrap_err();
    assert!(
        matches!(
            e,
            k8s_client::Error::Transport { .. } | k8s_client::Error::Decode { .. }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("/truncated"), "{e}");
}

fn counting(responses: Vec<Arc<dyn Fn() -> hyper::Response<Body> + Send + Sync>>) -> Handler {
    let n = Arc::new(AtomicU32::new(0));
    Arc::new(move |_r: &Recorded| {
        let i = n.fetch_add(1, Ordering::SeqCst) as usize;
        responses[i.min(responses.len() - 1)]()
    })
}

fn too_many(retry_after: &'static str) -> Arc<dyn Fn() -> hyper::Response<Body> + Send + Sync> {
    Arc::new(move || {
        let mut r = status(
            429,
            "TooManyRequests",
            "too many requests, please try again later",
        );
        r.headers_mut()
            .insert("retry-after", http::HeaderValue::from_static(retry_after));
        r
    })
}

#[tokio::test]
async fn retries_429_honouring_retry_after() {
    let srv = serve(
        None,
        false,
        counting(vec![
            too_many("1"),
            too_many("1"),
            Arc::new(|| json(200, &cm("a", "1"))),
        ]),
    )
    .await;
    let client = Client::try_from(Config::new(srv.http_url())).unwrap();
    let start = Instant::now();
    assert!(client.send(get_a()).await.is_ok());
    assert_eq!(srv.requests().len(), 3);
    // Two waits of Retry-After: 1 s each.
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    // A POST refused with 429 was refused before acting: retried too.
    let srv = serve(
        None,
        false,
        counting(vec![too_many("0"), Arc::new(|| json(201, &cm("a", "1")))]),
    )
    .await;
    let client = Client::try_from(Config::new(srv.http_url())).unwrap();
    assert!(
        client
            .send(CreateRequest::<ConfigMap>::new(
                CM_PATH.into(),
                &cm("a", "")
            ))
            .await
            .is_ok()
    );
    assert_eq!(srv.requests().len(), 2);
}

#[tokio::test]
async fn retries_are_bounded_and_only_for_safe_requests() {
    let unavailable: Arc<dyn Fn() -> hyper::Response<Body> + Send + Sync> = Arc::new(|| {
        status(
            503,
            "ServiceUnavailable",
            "the server is currently unable to handle the request",
        )
    });
    let srv = serve(None, false, counting(vec![unavailable])).await;
    let mut c = Config::new(srv.http_url());
    c.retry.max_retries = 3;
    c.retry.base_delay = Duration::from_millis(10);
    let client = Client::try_from(c.clone()).unwrap();
    let e = client.send(get_a()).await.unwrap_err();
    assert_eq!(e.status_code(), Some(503));
    assert_eq!(srv.requests().len(), 4, "1 attempt + 3 retries");
    // A POST answered 503 may have acted: not retried.
    let e = client
        .send(CreateRequest::<ConfigMap>::new(
            CM_PATH.into(),
            &cm("a", ""),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.status_code(), Some(503));
    assert_eq!(srv.requests().len(), 5);
    // A Retry-After beyond the time budget is not waited for.
    let srv = serve(None, false, counting(vec![too_many("3600")])).await;
    let mut c = Config::new(srv.http_url());
    c.retry.max_elapsed = Duration::from_secs(5);
    let client = Client::try_from(c).unwrap();
    let e = client.send(get_a()).await.unwrap_err();
    assert!(e.is_too_many_requests());
    assert_eq!(srv.requests().len(), 1);
}

#[tokio::test]
async fn request_timeout_applies_to_plain_requests() {
    let srv = serve(
        None,
        false,
        Arc::new(|_r: &Recorded| {
            let (tx, body) = channel_body();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let _ = tx.send(Ok(bytes::Bytes::from("{}")));
            });
            hyper::Response::builder().status(200).body(body).unwrap()
        }),
    )
    .await;
    let mut c = Config::new(srv.http_url());
    c.request_timeout = Some(Duration::from_millis(300));
    c.retry = RetryPolicy::none();
    let client = Client::try_from(c).unwrap();
    let e = client.send(get_a()).await.unwrap_err();
    assert!(e.is_timeout(), "{e:?}");
    assert!(e.to_string().contains("timed out"), "{e}");
}

#[tokio::test]
async fn transport_errors_are_opaque_and_keep_their_causes() {
    // A port nobody listens on.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut c = Config::new(format!("http://{addr}").parse().unwrap());
    c.retry = RetryPolicy::none();
    let e = Client::try_from(c)
        .unwrap()
        .send(get_a())
        .await
        .unwrap_err();
    assert!(e.is_connect() && !e.is_timeout(), "{e:?}");
    let k8s_client::Error::Transport { source, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(source.is_connect());
    // The chain goes down to the refused connection's I/O error.
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    let mut io = None;
    while let Some(c) = cur {
        io = io.or(c.downcast_ref::<std::io::Error>().map(|e| e.kind()));
        cur = c.source();
    }
    assert_eq!(io, Some(std::io::ErrorKind::ConnectionRefused), "{e:?}");
    // The HTTP library stays an implementation detail, in messages too.
    let debug = format!("{e:?}");
    assert!(!debug.contains("reqwest"), "{debug}");
    assert!(e.to_string().contains("Connection refused"), "{e}");
}

/// Accepts only the tokens currently in `valid`.
fn token_handler(valid: Arc<std::sync::Mutex<String>>) -> Handler {
    Arc::new(move |r: &Recorded| {
        let want = format!("Bearer {}", valid.lock().unwrap());
        if r.authorization.as_deref() == Some(want.as_str()) {
            json(200, &cm("a", "1"))
        } else {
            status(401, "Unauthorized", "Unauthorized")
        }
    })
}

#[tokio::test]
async fn token_file_rotation_and_401_retry() {
    let dir = temp_dir("rotate");
    let token = dir.path().join("token");
    std::fs::write(&token, "old-token\n").unwrap();
    let valid = Arc::new(std::sync::Mutex::new("old-token".to_string()));
    let srv = serve(None, false, token_handler(valid.clone())).await;
    let mut c = Config::new(srv.http_url());
    c.auth = Auth::TokenFile(token.clone());
    let client = Client::try_from(c.clone()).unwrap();
    client.send(get_a()).await.unwrap();

    // The token rotates; the server revokes the old one. Within the 60 s window the client still
    // sends the old token, gets 401, re-reads the file at once and retries once.
    std::fs::write(&token, "  new-token \n").unwrap();
    *valid.lock().unwrap() = "new-token".into();
    client.send(get_a()).await.unwrap();
    let auths: Vec<_> = srv
        .requests()
        .into_iter()
        .map(|r| r.authorization.unwrap_or_default())
        .collect();
    assert_eq!(
        auths,
        ["Bearer old-token", "Bearer old-token", "Bearer new-token"]
    );

    // A failed re-read keeps the last good token.
    std::fs::remove_file(&token).unwrap();
    client.send(get_a()).await.unwrap();

    // With a short refresh interval the file is re-read without waiting for a 401.
    std::fs::write(&token, "third-token").unwrap();
    let mut c2 = c.clone();
    c2.credential_refresh_interval = Duration::from_millis(50);
    let client2 = Client::try_from(c2).unwrap();
    *valid.lock().unwrap() = "third-token".into();
    client2.send(get_a()).await.unwrap();
    std::fs::write(&token, "fourth-token").unwrap();
    *valid.lock().unwrap() = "fourth-token".into();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = srv.requests().len();
    client2.send(get_a()).await.unwrap();
    assert_eq!(srv.requests().len(), before + 1, "no 401 round trip needed");

    // A token that stays invalid: one retry, then the 401 comes back as a typed error.
    *valid.lock().unwrap() = "nobody-has-this".into();
    let before = srv.requests().len();
    let e = client2.send(get_a()).await.unwrap_err();
    assert!(e.is_unauthorized());
    assert_eq!(srv.requests().len(), before + 2);
}

#[tokio::test]
async fn ca_file_is_re_read_when_it_rotates() {
    let dir = temp_dir("ca");
    let ca_file = dir.path().join("ca.crt");
    let pki1 = Pki::new("ca-1");
    let pki2 = Pki::new("ca-2");
    std::fs::write(&ca_file, &pki1.ca_pem).unwrap();
    let srv = serve(
        Some(server_tls(None, &pki1.server(&["127.0.0.1"]))),
        true,
        ok_handler(),
    )
    .await;
    let mut c = Config::new(srv.https_url());
    c.root_ca = Some(CaSource::File(ca_file.clone()));
    c.retry = RetryPolicy::none();
    c.credential_refresh_interval = Duration::from_millis(50);
    let client = Client::try_from(c.clone()).unwrap();
    client.send(get_a()).await.unwrap();
    // The server moves to a certificate of the new CA; the CA file is updated.
    srv.set_tls(server_tls(None, &pki2.server(&["127.0.0.1"])));
    std::fs::write(&ca_file, &pki2.ca_pem).unwrap();
    let stale = {
        let mut s = c.clone();
        s.root_ca = Some(CaSource::Pem(pki1.ca_pem.clone().into_bytes()));
        Client::try_from(s).unwrap()
    };
    assert!(
        stale.send(get_a()).await.is_err(),
        "the old CA no longer verifies the server"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    client.send(get_a()).await.unwrap();
}

fn list_handler(expire_once: Arc<AtomicU32>) -> Handler {
    // 5 objects, pages of 2; the first time page 3 is asked for, its token has expired.
    Arc::new(move |r: &Recorded| {
        let names = ["a", "b", "c", "d", "e"];
        let start: usize = r.query("continue").map(|c| c.parse().unwrap()).unwrap_or(0);
        if start == 4 && expire_once.fetch_add(1, Ordering::SeqCst) == 0 {
            return status(
                410,
                "Expired",
                "The provided continue parameter is too old to display a consistent list result.",
            );
        }
        let limit: usize = r.query("limit").unwrap().parse().unwrap();
        let end = (start + limit).min(names.len());
        let items: Vec<_> = names[start..end].iter().map(|n| cm(n, "9")).collect();
        let cont = if end < names.len() {
            end.to_string()
        } else {
            String::new()
        };
        json(
            200,
            &serde_json::json!({"apiVersion":"v1","kind":"ConfigMapList",
            "metadata":{"resourceVersion":"9","continue":cont},"items":items}),
        )
    })
}

#[tokio::test]
async fn list_all_follows_continue_and_restarts_on_410_without_duplicates() {
    let srv = serve(None, false, list_handler(Arc::new(AtomicU32::new(0)))).await;
    let client = Client::try_from(Config::new(srv.http_url())).unwrap();
    let all: Vec<ConfigMap> = client
        .list_all(ListRequest::<ConfigMap>::new(CM_PATH.into()).limit(2))
        .try_collect()
        .await
        .unwrap();
    let names: Vec<_> = all
        .iter()
        .map(|c| c.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["a", "b", "c", "d", "e"]);
    let conts: Vec<_> = srv.requests().iter().map(|r| r.query("continue")).collect();
    assert_eq!(
        conts,
        [
            None,
            Some("2".into()),
            Some("4".into()),
            None,
            Some("2".into()),
            Some("4".into())
        ]
    );
    // Without a limit, list_all asks for pages of 500.
    let _ = client
        .list_all(ListRequest::<ConfigMap>::new(CM_PATH.into()))
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert_eq!(
        srv.requests().last().unwrap().query("limit").as_deref(),
        Some("500")
    );
}

#[tokio::test]
async fn watch_resumes_after_drops_and_relists_on_410() {
    let n = Arc::new(AtomicU32::new(0));
    let srv = serve(
        None,
        false,
        Arc::new(move |r: &Recorded| {
            if r.query("watch").is_none() {
                // The relist.
                return json(200, &serde_json::json!({"apiVersion":"v1","kind":"ConfigMapList",
                    "metadata":{"resourceVersion":"20"},"items":[cm("a","15"), cm("c","19")]}));
            }
            match n.fetch_add(1, Ordering::SeqCst) {
                // Two events, then the connection drops mid-stream.
                0 => watch_response(vec![event("ADDED", cm("a", "11")), event("ADDED", cm("b", "12"))], true),
                // One event and a bookmark, then the server ends the watch (its timeoutSeconds).
                1 => watch_response(vec![
                    event("MODIFIED", cm("a", "13")),
                    event("BOOKMARK", serde_json::json!({"kind":"ConfigMap","apiVersion":"v1","metadata":{"resourceVersion":"14"}})),
                ], false),
                // Too old now: the server sends an ERROR 410 event.
                2 => watch_response(vec![event("ERROR", serde_json::json!({"kind":"Status","apiVersion":"v1","status":"Failure",
                    "message":"too old resource version: 14 (18)","reason":"Expired","code":410}))], false),
                // After the relist.
                3 => watch_response(vec![event("DELETED", cm("c", "21"))], false),
                // Then 410 as an HTTP status on connect.
                4 => status(410, "Gone", "too old resource version: 21 (30)"),
                _ => watch_response(vec![event("ADDED", cm("z", "40"))], false),
            }
        }),
    )
    .await;
    let mut c = Config::new(srv.http_url());
    c.retry.base_delay = Duration::from_millis(10);
    let client = Client::try_from(c).unwrap();
    let req = WatchRequest::<ConfigMap>::new(CM_PATH.into()).resource_version("10");
    let got: Vec<WatchUpdate<ConfigMap>> = client.watch(req).take(8).try_collect().await.unwrap();
    let summary: Vec<String> = got
        .iter()
        .map(|u| match u {
            WatchUpdate::Event(e) => format!(
                "{:?} {}",
                e.event_type(),
                e.object()
                    .and_then(|o| o.metadata.resource_version.clone())
                    .unwrap_or_default()
            ),
            WatchUpdate::Restarted {
                objects,
                resource_version,
            } => {
                format!("Restarted {} {resource_version}", objects.len())
            }
            _ => "other".into(),
        })
        .collect();
    assert_eq!(
        summary,
        [
            "Added 11",
            "Added 12",
            "Modified 13",
            "Bookmark 14",
            "Restarted 2 20",
            "Deleted 21",
            "Restarted 2 20",
            "Added 40"
        ]
    );
    let watches: Vec<_> = srv
        .requests()
        .into_iter()
        .filter(|r| r.query("watch").is_some())
        .collect();
    let rvs: Vec<_> = watches.iter().map(|r| r.query("resourceVersion")).collect();
    assert_eq!(
        rvs,
        [
            Some("10".into()),
            Some("12".into()),
            Some("14".into()),
            Some("20".into()),
            Some("21".into()),
            Some("20".into())
        ]
    );
    assert!(
        watches
            .iter()
            .all(|r| r.query("allowWatchBookmarks").as_deref() == Some("true"))
    );
    assert!(
        watches
            .iter()
            .all(|r| r.query("timeoutSeconds").as_deref() == Some("290"))
    );
    if let WatchUpdate::Event(WatchEvent::Deleted(c)) = &got[5] {
        assert_eq!(c.metadata.name.as_deref(), Some("c"));
    } else {
        panic!("{:?}", got[5]);
    }
}

#[tokio::test]
async fn secrets_never_reach_logs_errors_or_debug() {
    let (logs, _guard) = capture_logs();
    let valid = Arc::new(std::sync::Mutex::new("good-secret-token".to_string()));
    let srv = serve(None, false, token_handler(valid)).await;
    let dir = temp_dir("redact");
    let token = dir.path().join("token");
    std::fs::write(&token, "bad-secret-token").unwrap();
    let mut c = Config::new(srv.http_url());
    c.auth = Auth::TokenFile(token);
    let client = Client::try_from(c.clone()).unwrap();
    let e = client.send(get_a()).await.unwrap_err();
    assert!(e.is_unauthorized());
    let mut c2 = c.clone();
    c2.auth = Auth::Bearer(SecretString::new("good-secret-token"));
    c2.auth = Auth::Basic {
        username: "admin".into(),
        password: SecretString::new("basic-secret-pw"),
    };
    let client2 = Client::try_from(c2.clone()).unwrap();
    let e2 = client2.send(get_a()).await.unwrap_err();
    let mut c3 = c.clone();
    c3.auth = Auth::Bearer(SecretString::new("good-secret-token"));
    let client3 = Client::try_from(c3.clone()).unwrap();
    client3.send(get_a()).await.unwrap();
    let out = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let everything = format!(
        "{out}\n{e}\n{e:?}\n{e2}\n{e2:?}\n{c:?}\n{c2:?}\n{c3:?}\n{client:?}\n{client2:?}\n{client3:?}"
    );
    for secret in [
        "good-secret-token",
        "bad-secret-token",
        "basic-secret-pw",
        "YWRtaW46YmFzaWMtc2VjcmV0LXB3",
    ] {
        assert!(
            !everything.contains(secret),
            "{secret} leaked:\n{everything}"
        );
    }
    assert!(out.contains("Authorization: Bearer <redacted>"), "{out}");
    assert!(out.contains("Authorization: Basic <redacted>"), "{out}");
    assert!(out.contains("-> 401"), "{out}");
}

#[tokio::test]
async fn list_response_decodes_typed() {
    let srv = serve(None, false, list_handler(Arc::new(AtomicU32::new(1)))).await;
    let client = Client::try_from(Config::new(srv.http_url())).unwrap();
    let page: List<ConfigMap> = client
        .send(ListRequest::<ConfigMap>::new(CM_PATH.into()).limit(2))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.metadata.continue_.as_deref(), Some("2"));
}
