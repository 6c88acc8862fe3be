//! `Status` failure bodies shaped exactly like the real server's.

use k8s_core::{ListMeta, Status, StatusCause, StatusDetails};

/// A failed request: the `Status` body plus extra headers.
#[derive(Clone, Debug)]
pub(crate) struct ApiError {
    pub status: Box<Status>,
    pub headers: Vec<(String, String)>,
}

impl ApiError {
    pub(crate) fn code(&self) -> u16 {
        self.status
            .code
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(500)
    }
}

fn details(name: Option<&str>, group: &str, kind: &str) -> StatusDetails {
    let mut d = StatusDetails::default();
    d.name = name.map(str::to_string);
    if !group.is_empty() {
        d.group = Some(group.to_string());
    }
    if !kind.is_empty() {
        d.kind = Some(kind.to_string());
    }
    d
}

fn with_details(mut s: Status, d: StatusDetails) -> ApiError {
    s.details = Some(d);
    ApiError {
        status: Box::new(s),
        headers: Vec::new(),
    }
}

fn plain(s: Status) -> ApiError {
    ApiError {
        status: Box::new(s),
        headers: Vec::new(),
    }
}

fn qualified(plural: &str, group: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

pub(crate) fn not_found(plural: &str, group: &str, name: &str) -> ApiError {
    with_details(
        Status::failure(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", qualified(plural, group)),
        ),
        details(Some(name), group, plural),
    )
}

pub(crate) fn path_not_found() -> ApiError {
    with_details(
        Status::failure(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
        StatusDetails::default(),
    )
}

pub(crate) fn already_exists(plural: &str, group: &str, name: &str) -> ApiError {
    with_details(
        Status::failure(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified(plural, group)),
        ),
        details(Some(name), group, plural),
    )
}

pub(crate) fn conflict(plural: &str, group: &str, name: &str, why: &str) -> ApiError {
    with_details(
        Status::failure(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                qualified(plural, group)
            ),
        ),
        details(Some(name), group, plural),
    )
}

pub(crate) const STALE: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

/// 422 Invalid. `kind` is the Kind (`Pod`), causes are (reason, field, message).
pub(crate) fn invalid(
    kind: &str,
    group: &str,
    name: &str,
    causes: &[(String, String, String)],
) -> ApiError {
    let summary: Vec<String> = causes
        .iter()
        .map(|(_, f, m)| {
            if f.is_empty() {
                m.clone()
            } else {
                format!("{f}: {m}")
            }
        })
        .collect();
    let joined = if summary.len() == 1 {
        summary[0].clone()
    } else {
        format!("[{}]", summary.join(", "))
    };
    let q = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    let mut d = details(
        if name.is_empty() && group == "meta.k8s.io" {
            None
        } else {
            Some(name)
        },
        group,
        kind,
    );
    d.causes = Some(
        causes
            .iter()
            .map(|(r, f, m)| {
                let mut c = StatusCause::default();
                c.reason = Some(r.clone());
                c.message = Some(m.clone());
                c.field = Some(f.clone());
                c
            })
            .collect(),
    );
    with_details(
        Status::failure(
            422,
            "Invalid",
            format!("{q} \"{name}\" is invalid: {joined}"),
        ),
        d,
    )
}

/// 422 for list/watch/patch options (`ListOptions.meta.k8s.io "" is invalid: ...`).
pub(crate) fn invalid_options(kind: &str, field: &str, reason: &str, message: &str) -> ApiError {
    invalid(
        kind,
        "meta.k8s.io",
        "",
        &[(reason.to_string(), field.to_string(), message.to_string())],
    )
}

pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
    plain(Status::failure(400, "BadRequest", message))
}

pub(crate) fn unauthorized() -> ApiError {
    plain(Status::failure(401, "Unauthorized", "Unauthorized"))
}

/// 403 for a resource request.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forbidden(
    user: &str,
    verb: &str,
    group: &str,
    plural: &str,
    sub: Option<&str>,
    ns: Option<&str>,
    name: Option<&str>,
) -> ApiError {
    let q = qualified(plural, group);
    let prefix = match name {
        Some(n) => format!("{q} \"{n}\" is forbidden"),
        None => format!("{q} is forbidden"),
    };
    let res = match sub {
        Some(s) => format!("{plural}/{s}"),
        None => plural.to_string(),
    };
    let scope = match ns {
        Some(ns) if !ns.is_empty() => format!(" in the namespace \"{ns}\""),
        _ => " at the cluster scope".to_string(),
    };
    with_details(
        Status::failure(
            403,
            "Forbidden",
            format!(
                "{prefix}: User \"{user}\" cannot {verb} resource \"{res}\" in API group \"{group}\"{scope}"
            ),
        ),
        details(name, group, plural),
    )
}

pub(crate) fn forbidden_path(user: &str, verb: &str, path: &str) -> ApiError {
    with_details(
        Status::failure(
            403,
            "Forbidden",
            format!("forbidden: User \"{user}\" cannot {verb} path \"{path}\""),
        ),
        StatusDetails::default(),
    )
}

pub(crate) fn namespace_terminating(plural: &str, group: &str, name: &str, ns: &str) -> ApiError {
    let mut d = details(Some(name), group, plural);
    let mut c = StatusCause::default();
    c.reason = Some("NamespaceTerminating".into());
    c.message = Some(format!("namespace {ns} is being terminated"));
    c.field = Some("metadata.namespace".into());
    d.causes = Some(vec![c]);
    with_details(
        Status::failure(
            403,
            "Forbidden",
            format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                qualified(plural, group)
            ),
        ),
        d,
    )
}

pub(crate) fn method_not_allowed() -> ApiError {
    with_details(
        Status::failure(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        ),
        StatusDetails::default(),
    )
}

/// The real server's request body limit (`MaxRequestBodyBytes`, 3 MiB).
pub(crate) const MAX_REQUEST_BODY_BYTES: usize = 3 * 1024 * 1024;

/// 413 for a body over [`MAX_REQUEST_BODY_BYTES`].
pub(crate) fn request_entity_too_large() -> ApiError {
    plain(Status::failure(
        413,
        "RequestEntityTooLarge",
        format!("Request entity too large: limit is {MAX_REQUEST_BODY_BYTES}"),
    ))
}

pub(crate) fn unsupported_media_type(message: &str, with_details_field: bool) -> ApiError {
    let s = Status::failure(415, "UnsupportedMediaType", message);
    if with_details_field {
        with_details(s, StatusDetails::default())
    } else {
        plain(s)
    }
}

pub(crate) fn expired(message: &str) -> ApiError {
    plain(Status::failure(410, "Expired", message))
}

pub(crate) fn expired_continue(token: String) -> ApiError {
    let mut s = Status::failure(
        410,
        "Expired",
        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
    );
    let mut meta = ListMeta::default();
    meta.continue_ = Some(token);
    s.metadata = Some(meta);
    plain(s)
}

pub(crate) fn apply_conflict(conflicts: &[(String, String)]) -> ApiError {
    // conflicts: (manager, field path)
    let n = conflicts.len();
    let mut managers: Vec<&String> = conflicts.iter().map(|(m, _)| m).collect();
    managers.dedup();
    let msg = if n == 1 {
        format!(
            "Apply failed with 1 conflict: conflict with \"{}\": {}",
            conflicts[0].0, conflicts[0].1
        )
    } else {
        let mut s = format!("Apply failed with {n} conflicts: ");
        let mut groups: Vec<String> = Vec::new();
        for m in &managers {
            let fields: Vec<String> = conflicts
                .iter()
                .filter(|(cm, _)| cm == *m)
                .map(|(_, f)| format!("- {f}"))
                .collect();
            groups.push(format!("conflicts with \"{m}\":\n{}", fields.join("\n")));
        }
        s.push_str(&groups.join("\n"));
        s
    };
    let mut d = StatusDetails::default();
    d.causes = Some(
        conflicts
            .iter()
            .map(|(m, f)| {
                let mut c = StatusCause::default();
                c.reason = Some("FieldManagerConflict".into());
                c.message = Some(format!("conflict with \"{m}\""));
                c.field = Some(f.clone());
                c
            })
            .collect(),
    );
    with_details(Status::failure(409, "Conflict", msg), d)
}

pub(crate) fn too_many_requests(message: &str, retry_after: Option<u32>) -> ApiError {
    let mut s = Status::failure(429, "TooManyRequests", message);
    let mut headers = Vec::new();
    if let Some(r) = retry_after {
        let mut d = StatusDetails::default();
        d.retry_after_seconds = i32::try_from(r).ok();
        s.details = Some(d);
        headers.push(("retry-after".to_string(), r.to_string()));
    }
    ApiError {
        status: Box::new(s),
        headers,
    }
}

/// Any status code, with the reason the real server uses for it.
pub(crate) fn for_code(code: u16) -> ApiError {
    let (reason, msg) = match code {
        400 => (
            "BadRequest",
            "the server rejected our request for an unknown reason",
        ),
        401 => ("Unauthorized", "Unauthorized"),
        403 => ("Forbidden", "forbidden"),
        404 => (
            "NotFound",
            "the server could not find the requested resource",
        ),
        409 => ("Conflict", "the server reported a conflict"),
        410 => ("Expired", "the resource has expired"),
        429 => (
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later",
        ),
        500 => (
            "InternalError",
            "an error on the server (\"\") has prevented the request from succeeding",
        ),
        503 => (
            "ServiceUnavailable",
            "the server is currently unable to handle the request",
        ),
        504 => (
            "Timeout",
            "the server was unable to return a response in the time allotted, but may still be processing the request",
        ),
        _ => ("", "unknown"),
    };
    plain(Status::failure(code, reason, msg))
}

/// 422 for a patch that cannot be applied to the object (as `NewGenericServerResponse` does).
pub(crate) fn patch_failed(message: &str) -> ApiError {
    let mut d = StatusDetails::default();
    let mut c = StatusCause::default();
    c.reason = Some("UnexpectedServerResponse".into());
    c.message = Some(message.to_string());
    d.causes = Some(vec![c]);
    with_details(
        Status::failure(
            422,
            "Invalid",
            "the server rejected our request due to an error in our request",
        ),
        d,
    )
}

/// 500 InternalError with `message`.
pub(crate) fn internal(message: impl Into<String>) -> ApiError {
    plain(Status::failure(500, "InternalError", message))
}

/// 406 NotAcceptable with `message`; the negotiation's own 406 has an empty `details`.
pub(crate) fn not_acceptable(message: impl Into<String>, empty_details: bool) -> ApiError {
    let s = Status::failure(406, "NotAcceptable", message);
    if empty_details {
        with_details(s, StatusDetails::default())
    } else {
        plain(s)
    }
}
