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
    /// Reads `type`, then decodes `object` straight into `T` (or `Status` for `ERROR`). Servers
    /// write `type` first; if `object` comes first it is buffered as a JSON value.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error, MapAccess, Visitor};
        use std::marker::PhantomData;

        #[derive(Clone, Copy)]
        enum Ty {
            Added,
            Modified,
            Deleted,
            Bookmark,
            Error,
        }
        fn parse_type<E: Error>(s: &str) -> Result<Ty, E> {
            Ok(match s {
                "ADDED" => Ty::Added,
                "MODIFIED" => Ty::Modified,
                "DELETED" => Ty::Deleted,
                "BOOKMARK" => Ty::Bookmark,
                "ERROR" => Ty::Error,
                other => return Err(E::custom(format!("unknown watch event type {other:?}"))),
            })
        }
        #[allow(clippy::large_enum_variant)] // one per event, moved straight into WatchEvent
        enum Obj<T> {
            Typed(T),
            Status(Status),
        }
        fn build<T, E: Error>(ty: Ty, obj: Obj<T>) -> Result<WatchEvent<T>, E> {
            Ok(match (ty, obj) {
                (Ty::Added, Obj::Typed(o)) => WatchEvent::Added(o),
                (Ty::Modified, Obj::Typed(o)) => WatchEvent::Modified(o),
                (Ty::Deleted, Obj::Typed(o)) => WatchEvent::Deleted(o),
                (Ty::Bookmark, Obj::Typed(o)) => WatchEvent::Bookmark(o),
                (Ty::Error, Obj::Status(s)) => WatchEvent::Error(s),
                _ => return Err(E::custom("watch event object does not match its type")),
            })
        }

        struct V<T>(PhantomData<fn() -> T>);
        impl<'de, T: DeserializeOwned> Visitor<'de> for V<T> {
            type Value = WatchEvent<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a watch event")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WatchEvent<T>, A::Error> {
                let mut ty: Option<Ty> = None;
                let mut obj: Option<Obj<T>> = None;
                let mut buffered: Option<serde_json::Value> = None;
                while let Some(key) = map.next_key::<crate::__private::Key<'de>>()? {
                    match key.as_str() {
                        "type" => {
                            let s = map.next_value::<crate::__private::Key<'de>>()?;
                            ty = Some(parse_type(s.as_str())?);
                        }
                        "object" => match ty {
                            Some(Ty::Error) => obj = Some(Obj::Status(map.next_value()?)),
                            Some(_) => obj = Some(Obj::Typed(map.next_value()?)),
                            None => buffered = Some(map.next_value()?),
                        },
                        _ => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                let ty = ty.ok_or_else(|| A::Error::missing_field("type"))?;
                let obj = match (obj, buffered) {
                    (Some(o), _) => o,
                    (None, Some(v)) => match ty {
                        Ty::Error => Obj::Status(Status::deserialize(v).map_err(A::Error::custom)?),
                        _ => Obj::Typed(T::deserialize(v).map_err(A::Error::custom)?),
                    },
                    (None, None) => return Err(A::Error::missing_field("object")),
                };
                build(ty, obj)
            }
        }
        d.deserialize_map(V(PhantomData))
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Obj {
        name: String,
    }

    #[test]
    fn decodes_each_type_and_object_first() {
        let e: WatchEvent<Obj> =
            WatchEvent::from_json_line(br#"{"type":"ADDED","object":{"name":"a"}}"#).unwrap();
        assert_eq!(e, WatchEvent::Added(Obj { name: "a".into() }));
        let e: WatchEvent<Obj> =
            WatchEvent::from_json_line(br#"{"object":{"name":"b"},"type":"DELETED"}"#).unwrap();
        assert_eq!(e, WatchEvent::Deleted(Obj { name: "b".into() }));
        let e: WatchEvent<Obj> = WatchEvent::from_json_line(
            br#"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","code":410,"reason":"Expired","message":"too old resource version: 1 (2)"}}"#,
        )
        .unwrap();
        match e {
            WatchEvent::Error(s) => assert_eq!(s.code, Some(410)),
            other => panic!("{other:?}"),
        }
        assert!(WatchEvent::<Obj>::from_json_line(br#"{"type":"NOPE","object":{}}"#).is_err());
        assert!(WatchEvent::<Obj>::from_json_line(br#"{"type":"ADDED"}"#).is_err());
    }
}
