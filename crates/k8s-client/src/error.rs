//! The one error type of the runtime.

use std::path::PathBuf;

use k8s_core::{DecodeError, RequestError, Status, StatusCause};

/// Everything that can go wrong when configuring a client or executing a request.
///
/// Secrets never appear in the message of an error: tokens, passwords and keys are kept in
/// [`SecretString`](crate::SecretString)s and request logs show `Bearer <redacted>`.
///
/// ```
/// # async fn run(client: k8s_client::Client, get: k8s_core::ops::GetRequest<serde_json::Value>) -> Result<(), k8s_client::Error> {
/// match client.send(get).await {
///     Ok(obj) => println!("found {obj}"),
///     Err(e) if e.is_not_found() => println!("not there"),
///     Err(e) if e.is_invalid() => {
///         for cause in e.causes() {
///             println!("{:?}: {:?}", cause.field, cause.message);
///         }
///     }
///     Err(e) => return Err(e),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API server answered with a `Status` (the HTTP status code is in `code`); the error
    /// also names the request and whose credentials it carried.
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The server answered with an error status whose body is not a JSON `Status` (a proxy, a
    /// load balancer, a misconfigured URL); a snippet of the body is kept.
    #[error("{method} {path}: HTTP {code} with a non-Status body: {snippet:?}")]
    HttpStatus {
        /// HTTP status code.
        code: u16,
        /// Method of the request.
        method: http::Method,
        /// Path of the request.
        path: String,
        /// The first bytes of the body, lossily decoded.
        snippet: String,
    },
    /// The request could not be sent, or no (complete) answer came back: connection refused,
    /// TLS handshake failure, timeout, connection reset, a truncated body.
    #[error("{method} {path}: {message}")]
    Transport {
        /// Method of the request.
        method: http::Method,
        /// Path of the request.
        path: String,
        /// What failed, with its causes.
        message: String,
        /// The underlying error.
        #[source]
        source: TransportError,
    },
    /// A successful response's body is not what the request expected.
    #[error("{method} {path}: {source}{}", content_type_note(content_type))]
    Decode {
        /// Method of the request.
        method: http::Method,
        /// Path of the request.
        path: String,
        /// The response's `Content-Type` (empty when it had none, or no response was read):
        /// the body was decoded as JSON or as protobuf by it.
        content_type: Box<str>,
        /// The decoding error.
        #[source]
        source: DecodeError,
    },
    /// The request could not be described.
    #[error("cannot build the request: {0}")]
    Request(#[from] RequestError),
    /// The configuration is missing or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Credentials could not be obtained (an exec plugin failed, a token file is unreadable).
    #[error("cannot obtain credentials: {0}")]
    Auth(String),
    /// A watch kept ending as soon as it was opened, without an event or a bookmark (the
    /// server or a proxy in between closes it at once); the client gave up.
    #[error("watch of {path} ended without an event {attempts} times in a row; giving up")]
    WatchStalled {
        /// Path of the watched collection.
        path: String,
        /// Connections that ended without an event.
        attempts: u32,
    },
    /// A streaming connection (a following log, exec, attach, port-forward) failed after it
    /// was established: it went idle past its idle timeout, the connection broke, or the peer
    /// broke the channel protocol.
    #[error("{path}: {message}")]
    Stream {
        /// Path of the streamed subresource, e.g. `/api/v1/namespaces/default/pods/web/log`.
        path: String,
        /// What happened.
        message: String,
    },
}

/// An error answer of the API server: its `Status`, the request it answered and the identity the
/// request was sent as.
///
/// `Display`: `GET /api/v1/namespaces/default/pods/web-0: the API server answered 404 NotFound:
/// pods "web-0" not found (as kubeconfig (/home/me/.kube/config) context dev, user me)`. The
/// identity names where the credentials came from, never the credentials.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ApiError {
    /// The server's `Status` (its `code` is always set).
    pub status: Status,
    /// Method of the request.
    pub method: http::Method,
    /// Path of the request (without the query).
    pub path: String,
    /// Whose credentials the request carried: [`Config::origin`](crate::Config::origin), e.g.
    /// `kubeconfig (/home/me/.kube/config) context dev, user me` or
    /// `in-cluster service account default/builder`.
    pub identity: String,
}

impl ApiError {
    /// An error answer to `method path`, sent as `identity`.
    pub fn new(
        status: Status,
        method: http::Method,
        path: impl Into<String>,
        identity: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            method,
            path: path.into(),
            identity: identity.into(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: the API server answered {} (as {})",
            self.method, self.path, self.status, self.identity
        )
    }
}

impl std::error::Error for ApiError {}

impl Error {
    /// The server's `Status`, when it sent one.
    pub fn status(&self) -> Option<&Status> {
        match self {
            Error::Api(e) => Some(&e.status),
            _ => None,
        }
    }

    /// The HTTP status code of an error response.
    pub fn status_code(&self) -> Option<u16> {
        match self {
            Error::Api(e) => e.status.code.and_then(|c| u16::try_from(c).ok()),
            Error::HttpStatus { code, .. } => Some(*code),
            _ => None,
        }
    }

    fn reason(&self) -> &str {
        self.status().map(Status::reason).unwrap_or("")
    }

    fn check(&self, code: u16, reason: &str) -> bool {
        let r = self.reason();
        if !r.is_empty() && r != "Unknown" {
            return r == reason;
        }
        self.status_code() == Some(code)
    }

    /// 404 `NotFound`.
    pub fn is_not_found(&self) -> bool {
        self.check(404, "NotFound")
    }

    /// 409 `Conflict`: the object changed since it was read (a stale `resourceVersion`).
    pub fn is_conflict(&self) -> bool {
        self.check(409, "Conflict")
    }

    /// 409 `AlreadyExists`.
    pub fn is_already_exists(&self) -> bool {
        self.reason() == "AlreadyExists"
    }

    /// 403 `Forbidden`: authenticated, but RBAC does not allow it.
    pub fn is_forbidden(&self) -> bool {
        self.check(403, "Forbidden")
    }

    /// 401 `Unauthorized`: the credentials were rejected.
    pub fn is_unauthorized(&self) -> bool {
        self.check(401, "Unauthorized")
    }

    /// 422 `Invalid`; the field causes are in [`Error::causes`].
    pub fn is_invalid(&self) -> bool {
        self.check(422, "Invalid")
    }

    /// 410 `Gone` or `Expired`: a resource version or continue token too old to serve.
    pub fn is_gone(&self) -> bool {
        matches!(self.reason(), "Gone" | "Expired") || self.status_code() == Some(410)
    }

    /// 429 `TooManyRequests`.
    pub fn is_too_many_requests(&self) -> bool {
        self.check(429, "TooManyRequests")
    }

    /// The causes of the failure (one per field for `Invalid`), or an empty slice.
    pub fn causes(&self) -> &[StatusCause] {
        self.status().map(Status::causes).unwrap_or(&[])
    }

    /// Whether the request timed out on the client side.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Transport { source, .. } if source.is_timeout())
    }

    /// Whether the same request may well succeed later: transport failures, 5xx, 408, 410 and
    /// 429. Every other answer (400, 401 after a credential refresh, 403, 404, 422, …),
    /// credentials that cannot be obtained and invalid configuration need a change first.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            // A certificate refused in the TLS handshake is refused again: not transient.
            Error::Transport { source, .. } => !is_certificate_rejection(&source.inner),
            Error::Api(_) | Error::HttpStatus { .. } => {
                matches!(self.status_code(), Some(408 | 410 | 429 | 500..=599))
            }
            _ => false,
        }
    }

    /// Whether no connection to the server could be made (refused, unreachable, TLS handshake
    /// failed): the request never reached it.
    pub fn is_connect(&self) -> bool {
        matches!(self, Error::Transport { source, .. } if source.is_connect())
    }
}

/// Why a request could not be sent or its answer not received, from the HTTP stack.
///
/// Opaque on purpose: the HTTP library is an implementation detail of this crate. `Display`
/// is the failure's message and [`source`](std::error::Error::source) walks its causes (I/O,
/// TLS, HTTP/2 errors).
pub struct TransportError {
    inner: reqwest::Error,
}

impl TransportError {
    pub(crate) fn new(inner: reqwest::Error) -> Self {
        TransportError { inner }
    }

    /// Whether the request timed out on the client side.
    pub fn is_timeout(&self) -> bool {
        self.inner.is_timeout()
    }

    /// Whether no connection could be made (the request never reached the server).
    pub fn is_connect(&self) -> bool {
        self.inner.is_connect()
    }
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.inner, f)
    }
}

impl std::fmt::Debug for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransportError")
            .field("message", &chain(self))
            .field("timeout", &self.is_timeout())
            .field("connect", &self.is_connect())
            .finish()
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source()
    }
}

/// The configuration could not be loaded or is invalid. Each variant names the file, the
/// kubeconfig key or the environment variable at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read the {what} {path}: {source}")]
    Read {
        /// What the file is (`kubeconfig`, `token file`, `certificate-authority`…).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A kubeconfig file is not valid YAML or not shaped like a kubeconfig.
    #[error("cannot parse the kubeconfig {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with its line and column.
        message: String,
    },
    /// A value is invalid.
    #[error("{origin}: `{key}`: {message}")]
    Invalid {
        /// Where the value came from (a file, `in-cluster`, `environment`).
        origin: String,
        /// The key, e.g. `users[alice].user.client-key-data` or `KUBERNETES_SERVICE_PORT`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// No kubeconfig file exists.
    #[error("no kubeconfig: {0}")]
    NoKubeconfig(String),
    /// The kubeconfig names no context to use.
    #[error("the kubeconfig ({files}) sets no current-context and none was given")]
    NoCurrentContext {
        /// The files that were read.
        files: String,
    },
    /// A named context, cluster or user does not exist.
    #[error("{what} {name:?} not found in the kubeconfig ({files})")]
    NotFound {
        /// `context`, `cluster` or `user`.
        what: &'static str,
        /// The name that was asked for.
        name: String,
        /// The files that were read.
        files: String,
    },
    /// Not running inside a cluster.
    #[error("not running in a cluster: {0}")]
    NotInCluster(String),
    /// A certificate or key could not be used.
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// Neither a kubeconfig nor an in-cluster configuration could be loaded.
    #[error("no usable configuration: kubeconfig: {kubeconfig}; in-cluster: {in_cluster}")]
    Infer {
        /// Why the kubeconfig could not be used.
        kubeconfig: Box<ConfigError>,
        /// Why the in-cluster configuration could not be used.
        in_cluster: Box<ConfigError>,
    },
}

/// Formats an error with its chain of causes (`a: b: c`).
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// Whether a request failed because the TLS handshake refused a certificate: the client
/// refused the server's (rustls `InvalidCertificate`: unknown issuer, wrong name, expired), or
/// the server sent a certificate alert about the client's. Repeating the request cannot help.
pub(crate) fn is_certificate_rejection(e: &reqwest::Error) -> bool {
    use rustls::AlertDescription as A;
    let refused = |r: &rustls::Error| match r {
        rustls::Error::InvalidCertificate(_) => true,
        rustls::Error::AlertReceived(a) => matches!(
            a,
            A::BadCertificate
                | A::UnsupportedCertificate
                | A::CertificateRevoked
                | A::CertificateExpired
                | A::CertificateUnknown
                | A::UnknownCA
                | A::CertificateRequired
        ),
        _ => false,
    };
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return refused(r);
        }
        // An `io::Error` (possibly wrapping another): its `source()` skips the wrapped error.
        cur = match err
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner),
            None => err.source(),
        };
    }
    false
}

/// ` (response Content-Type …)` after a decoding error, when the response named one.
fn content_type_note(content_type: &str) -> String {
    if content_type.is_empty() {
        String::new()
    } else {
        format!(" (response Content-Type {content_type})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16, reason: &str) -> Error {
        Error::Api(Box::new(ApiError::new(
            Status::failure(code, reason, "msg"),
            http::Method::GET,
            "/x",
            "tests",
        )))
    }

    #[test]
    fn helpers_follow_reason_then_code() {
        assert!(api(404, "NotFound").is_not_found());
        assert!(!api(404, "NotFound").is_conflict());
        assert!(api(409, "Conflict").is_conflict());
        assert!(!api(409, "AlreadyExists").is_conflict());
        assert!(api(409, "AlreadyExists").is_already_exists());
        assert!(api(403, "Forbidden").is_forbidden());
        assert!(api(401, "Unauthorized").is_unauthorized());
        assert!(api(410, "Expired").is_gone());
        assert!(api(410, "Gone").is_gone());
        assert!(api(429, "TooManyRequests").is_too_many_requests());
        // no reason: fall back to the code
        assert!(api(404, "").is_not_found());
        let e = Error::HttpStatus {
            code: 404,
            method: http::Method::GET,
            path: "/x".into(),
            snippet: "404 page not found".into(),
        };
        assert!(e.is_not_found());
        assert_eq!(e.status_code(), Some(404));
        assert!(e.to_string().contains("404 page not found"), "{e}");
    }

    #[test]
    fn invalid_exposes_causes() {
        let s: Status = serde_json::from_str(
            r#"{"kind":"Status","apiVersion":"v1","status":"Failure","code":422,"reason":"Invalid",
                "message":"Pod \"x\" is invalid: spec.nodeName: Invalid value",
                "details":{"name":"x","kind":"Pod","causes":[{"reason":"FieldValueInvalid","message":"Invalid value","field":"spec.nodeName"}]}}"#,
        )
        .unwrap_or_default();
        let e = Error::Api(Box::new(ApiError::new(
            s,
            http::Method::POST,
            "/api/v1/namespaces/default/pods",
            "kubeconfig (/k/config) context dev, user alice",
        )));
        assert!(e.is_invalid());
        assert_eq!(e.causes().len(), 1);
        assert_eq!(e.causes()[0].field.as_deref(), Some("spec.nodeName"));
        assert_eq!(
            e.to_string(),
            "POST /api/v1/namespaces/default/pods: the API server answered 422 Invalid: Pod \"x\" \
             is invalid: spec.nodeName: Invalid value (as kubeconfig (/k/config) context dev, user alice)"
        );
    }
}
