//! `Status` (`io.k8s.apimachinery.pkg.apis.meta.v1.Status`): the server's account of a failure
//! (and of some successes, such as a delete that finished at once).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ListMeta;

/// The server's status report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Status {
    /// Always `v1` on the wire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Always `Status` on the wire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Suggested HTTP status code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    /// Extended data for the reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<StatusDetails>,
    /// Human-readable description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// List metadata (unused by current servers, kept for round trips).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ListMeta>,
    /// Machine-readable reason: `NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, `Forbidden`,
    /// `Unauthorized`, `Expired`, `Gone`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `Success` or `Failure`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// Details of a [`Status`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct StatusDetails {
    /// The causes (for `Invalid`, one per field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub causes: Option<Vec<StatusCause>>,
    /// API group of the resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Kind (or resource, for some errors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name of the object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Seconds to wait before retrying.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<i32>,
    /// UID of the object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

/// One cause of a failure.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct StatusCause {
    /// The field at fault, e.g. `spec.containers[0].name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Machine-readable cause, e.g. `FieldValueRequired`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Status {
    /// A failure status as the API server shapes it.
    pub fn failure(code: u16, reason: &str, message: impl Into<String>) -> Self {
        Status {
            api_version: Some("v1".into()),
            kind: Some("Status".into()),
            code: Some(i32::from(code)),
            details: None,
            message: Some(message.into()),
            metadata: Some(ListMeta::default()),
            reason: if reason.is_empty() {
                None
            } else {
                Some(reason.into())
            },
            status: Some("Failure".into()),
        }
    }

    /// A success status as the API server shapes it (a delete that finished at once, a binding
    /// or eviction that was carried out); set `code` and `details` as the answer needs.
    pub fn success() -> Self {
        Status {
            api_version: Some("v1".into()),
            kind: Some("Status".into()),
            metadata: Some(ListMeta::default()),
            status: Some("Success".into()),
            ..Status::default()
        }
    }

    /// The reason, or `""`.
    pub fn reason(&self) -> &str {
        self.reason.as_deref().unwrap_or("")
    }

    /// The causes, or an empty slice.
    pub fn causes(&self) -> &[StatusCause] {
        self.details
            .as_ref()
            .and_then(|d| d.causes.as_deref())
            .unwrap_or(&[])
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.code, &self.reason, &self.message) {
            (Some(c), Some(r), Some(m)) => write!(f, "{c} {r}: {m}"),
            (Some(c), None, Some(m)) => write!(f, "{c}: {m}"),
            (_, _, Some(m)) => f.write_str(m),
            (Some(c), Some(r), None) => write!(f, "{c} {r}"),
            _ => f.write_str("unknown status"),
        }
    }
}
