//! Small loopback HTTP(S) servers, certificates and test types for the client's tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::Frame;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};

pub type Body = BoxBody<Bytes, std::io::Error>;

// ---- a test kind ------------------------------------------------------------------------------

pub type Meta = k8s_core::ObjectMeta;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMap {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<std::collections::BTreeMap<String, String>>,
}

impl k8s_core::Resource for ConfigMap {
    const API_VERSION: &'static str = "v1";
    const GROUP: &'static str = "";
    const VERSION: &'static str = "v1";
    const KIND: &'static str = "ConfigMap";
    const PLURAL: &'static str = "configmaps";
    const SCOPE: k8s_core::Scope = k8s_core::Scope::Namespaced;
    const VERBS: &'static [&'static str] = &["get", "list", "watch", "create", "delete"];
    const SUBRESOURCES: &'static [&'static str] = &[];
}

impl k8s_core::Object for ConfigMap {
    fn metadata(&self) -> &k8s_core::ObjectMeta {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut k8s_core::ObjectMeta {
        &mut self.metadata
    }
}

pub fn cm(name: &str, rv: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"), "resourceVersion": rv},
        "data": {"k": "v"}
    })
}

// ---- certificates -----------------------------------------------------------------------------

pub struct Pki {
    pub ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Pki {
    pub fn new(name: &str) -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Pki {
            ca_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for these names (DNS names or IP addresses).
    pub fn server(&self, sans: &[&str]) -> Leaf {
        let params =
            CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// A client certificate (CN = user) for a given PKCS#8 key, or a fresh P-256 key.
    pub fn client(&self, user: &str, pkcs8_key_pem: Option<&str>) -> Leaf {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, user);
        params.distinguished_name = dn;
        let key = match pkcs8_key_pem {
            Some(pem) => KeyPair::from_pem(pem).unwrap(),
            None => KeyPair::generate().unwrap(),
        };
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

pub fn server_tls(pki_for_clients: Option<&Pki>, leaf: &Leaf) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match pki_for_clients {
        Some(pki) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(pki.ca_pem.as_bytes()) {
                roots.add(c.unwrap()).unwrap();
            }
            let v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .allow_unauthenticated()
            .build()
            .unwrap();
            builder.with_client_cert_verifier(v)
        }
        None => builder.with_no_client_auth(),
    };
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(leaf.cert_pem.as_bytes())
            .map(|c| c.unwrap())
            .collect();
    let key = PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap();
    let mut cfg = builder.with_single_cert(certs, key).unwrap();
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(cfg)
}

// ---- the server -------------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Path and query.
    pub uri: String,
    pub authorization: Option<String>,
    /// Every `Authorization` header sent (a request should carry at most one).
    pub authorizations: Vec<String>,
    pub client_cert: Option<Vec<u8>>,
    pub host: Option<String>,
}

impl Recorded {
    pub fn query(&self, key: &str) -> Option<String> {
        let q = self.uri.split_once('?')?.1;
        q.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == key).then(|| v.to_owned())
        })
    }
    pub fn path(&self) -> &str {
        self.uri.split('?').next().unwrap_or("")
    }
}

pub type Handler = Arc<dyn Fn(&Recorded) -> Response<Body> + Send + Sync>;

pub struct TestHttp {
    pub addr: SocketAddr,
    pub log: Arc<Mutex<Vec<Recorded>>>,
    pub tls: Option<Arc<RwLock<Arc<rustls::ServerConfig>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestHttp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestHttp {
    pub fn https_url(&self) -> http::Uri {
        format!("https://{}", self.addr).parse().unwrap()
    }
    pub fn http_url(&self) -> http::Uri {
        format!("http://{}", self.addr).parse().unwrap()
    }
    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }
    pub fn set_tls(&self, cfg: Arc<rustls::ServerConfig>) {
        if let Some(t) = &self.tls {
            *t.write().unwrap() = cfg;
        }
    }
}

/// Serves `handler` on 127.0.0.1 (TLS when `tls` is given) until dropped. With
/// `close_connections`, every response closes its connection (no pooling).
pub async fn serve(
    tls: Option<Arc<rustls::ServerConfig>>,
    close_connections: bool,
    handler: Handler,
) -> TestHttp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let tls = tls.map(|t| Arc::new(RwLock::new(t)));
    let (log2, tls2) = (log.clone(), tls.clone());
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (log, handler, tls) = (log2.clone(), handler.clone(), tls2.clone());
            tokio::spawn(async move {
                let (io, cert): (Box<dyn IoStream>, Option<Vec<u8>>) = match tls {
                    Some(cfg) => {
                        let cfg = cfg.read().unwrap().clone();
                        let Ok(s) = tokio_rustls::TlsAcceptor::from(cfg).accept(tcp).await else {
                            return;
                        };
                        let cert = s
                            .get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|c| c.first())
                            .map(|c| c.to_vec());
                        (Box::new(s), cert)
                    }
                    None => (Box::new(tcp), None),
                };
                let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let rec = Recorded {
                        method: req.method().to_string(),
                        uri: req
                            .uri()
                            .path_and_query()
                            .map(|p| p.to_string())
                            .unwrap_or_default(),
                        authorization: req
                            .headers()
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .map(String::from),
                        authorizations: req
                            .headers()
                            .get_all("authorization")
                            .iter()
                            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                            .collect(),
                        client_cert: cert.clone(),
                        host: req
                            .headers()
                            .get("host")
                            .and_then(|v| v.to_str().ok())
                            .map(String::from)
                            .or_else(|| req.uri().authority().map(|a| a.to_string())),
                    };
                    log.lock().unwrap().push(rec.clone());
                    let mut resp = handler(&rec);
                    if close_connections {
                        resp.headers_mut()
                            .insert("connection", http::HeaderValue::from_static("close"));
                    }
                    async move { Ok::<_, Infallible>(resp) }
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let _ = builder.serve_connection(TokioIo::new(io), svc).await;
            });
        }
    });
    TestHttp {
        addr,
        log,
        tls,
        task,
    }
}

pub trait IoStream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> IoStream for T {}

// ---- responses --------------------------------------------------------------------------------

pub fn full(bytes: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

pub fn json(code: u16, v: &serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(full(v.to_string()))
        .unwrap()
}

pub fn status(code: u16, reason: &str, message: &str) -> Response<Body> {
    json(
        code,
        &serde_json::json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}),
    )
}

/// A streamed body from a channel; sending `Err` aborts the connection mid-stream.
pub fn channel_body() -> (
    tokio::sync::mpsc::UnboundedSender<Result<Bytes, std::io::Error>>,
    Body,
) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Result<Bytes, std::io::Error>>();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item.map(Frame::data), rx))
    });
    (tx, BoxBody::new(http_body_util::StreamBody::new(stream)))
}

/// A watch response streaming `lines` (JSON events), then ending cleanly or aborting.
pub fn watch_response(lines: Vec<serde_json::Value>, abort: bool) -> Response<Body> {
    let (tx, body) = channel_body();
    for l in lines {
        let _ = tx.send(Ok(Bytes::from(format!("{l}\n"))));
    }
    if abort {
        // Let the events reach the client, then break the connection mid-stream.
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            let _ = tx.send(Err(std::io::Error::other("connection dropped by the test")));
        });
    } else {
        drop(tx);
    }
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(body)
        .unwrap()
}

pub fn event(kind: &str, obj: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"type": kind, "object": obj})
}

/// Collects `tracing` output (all levels) written while `f` runs on this thread.
pub struct LogCapture(pub Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn capture_logs() -> (Arc<Mutex<Vec<u8>>>, tracing::subscriber::DefaultGuard) {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let b2 = buf.clone();
    let sub = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || LogCapture(b2.clone()))
        .finish();
    (buf, tracing::subscriber::set_default(sub))
}

pub fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("k8s-client-{name}-"))
        .tempdir()
        .unwrap()
}
