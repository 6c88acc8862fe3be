//! Watch events (`io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent`), typed.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::Status;

/// The `type` of a watch event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WatchEventType {
    /// `ADDED`
    Added,
    /// `MODIFIED`
    Modified,
    /// `DELETED`
    Deleted,
    /// `BOOKMARK`
    Bookmark,
    /// `ERROR`
    Error,
}

/// One event of a watch stream.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
// Sizes depend on T; events are decoded on the hot path, so no boxing of either side.
#[allow(clippy::large_enum_variant)]
pub enum WatchEvent<T> {
    /// An object was added (or is part of the initial state).
    Added(T),
    /// An object changed.
    Modified(T),
    /// An object was deleted; its last state.
    Deleted(T),
    /// A bookmark: only `metadata.resourceVersion` (and annotations such as
    /// `k8s.io/initial-events-end`) are meaningful.
    Bookmark(T),
    /// The server reports an error, e.g. 410 Gone for a too-old resource version.
    Error(Status),
}

impl<T> WatchEvent<T> {
    /// The event's type.
    pub fn event_type(&self) -> WatchEventType {
        match self {
            WatchEvent::Added(_) => WatchEventType::Added,
            WatchEvent::Modified(_) => WatchEventType::Modified,
            WatchEvent::Deleted(_) => WatchEventType::Deleted,
            WatchEvent::Bookmark(_) => WatchEventType::Bookmark,
            WatchEvent::Error(_) => WatchEventType::Error,
        }
    }

    /// The object, unless this is an error event.
    pub fn object(&self) -> Option<&T> {
        match self {
            WatchEvent::Added(o)
            | WatchEvent::Modified(o)
            | WatchEvent::Deleted(o)
            | WatchEvent::Bookmark(o) => Some(o),
            WatchEvent::Error(_) => None,
        }
    }

    /// Decodes one line of a watch stream.
    pub fn from_json_line(line: &[u8]) -> Result<Self, crate::DecodeError>
    where
        T: DeserializeOwned,
    {
        serde_json::from_slice(line).map_err(|e| match crate::DecodeError::json::<Self>(&e) {
            crate::DecodeError::Json {
                category,
                line,
                column,
                ..
            } => crate::DecodeError::WatchEvent(format!(
                "{category} error at line {line}, column {column}"
            )),
            other => other,
        })
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for WatchEvent<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        #[derive(Deserialize)]
        struct Raw {
            #[serde(rename = "type")]
            type_: String,
            object: serde_json::Value,
        }
        let raw = Raw::deserialize(d)?;
        let obj = |v: serde_json::Value| T::deserialize(v).map_err(D::Error::custom);
        Ok(match raw.type_.as_str() {
            "ADDED" => WatchEvent::Added(obj(raw.object)?),
            "MODIFIED" => WatchEvent::Modified(obj(raw.object)?),
            "DELETED" => WatchEvent::Deleted(obj(raw.object)?),
            "BOOKMARK" => WatchEvent::Bookmark(obj(raw.object)?),
            "ERROR" => {
                WatchEvent::Error(Status::deserialize(raw.object).map_err(D::Error::custom)?)
            }
            other => {
                return Err(D::Error::custom(format!(
                    "unknown watch event type {other:?}"
                )));
            }
        })
    }
}

impl<T: Serialize> Serialize for WatchEvent<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let (ty, mut st) = match self {
            WatchEvent::Added(_) => ("ADDED", s.serialize_struct("WatchEvent", 2)?),
            WatchEvent::Modified(_) => ("MODIFIED", s.serialize_struct("WatchEvent", 2)?),
            WatchEvent::Deleted(_) => ("DELETED", s.serialize_struct("WatchEvent", 2)?),
            WatchEvent::Bookmark(_) => ("BOOKMARK", s.serialize_struct("WatchEvent", 2)?),
            WatchEvent::Error(_) => ("ERROR", s.serialize_struct("WatchEvent", 2)?),
        };
        st.serialize_field("type", ty)?;
        match self {
            WatchEvent::Error(status) => st.serialize_field("object", status)?,
            WatchEvent::Added(o)
            | WatchEvent::Modified(o)
            | WatchEvent::Deleted(o)
            | WatchEvent::Bookmark(o) => st.serialize_field("object", o)?,
        }
        st.end()
    }
}
