//! [`ObjectRef`]: which object, of which kind, a work item is about.

use std::borrow::Cow;
use std::fmt;

use k8s_core::{Object, Resource};

/// A reference to one object: its kind (group and kind, so that several kinds can share one
/// work queue), its namespace (none for cluster-scoped objects) and its name.
///
/// ```
/// # #[derive(serde::Deserialize)] struct Pod;
/// # impl k8s_core::Resource for Pod { const API_VERSION: &'static str = "v1"; const GROUP: &'static str = "";
/// #   const VERSION: &'static str = "v1"; const KIND: &'static str = "Pod"; const PLURAL: &'static str = "pods";
/// #   const SCOPE: k8s_core::Scope = k8s_core::Scope::Namespaced; const VERBS: &'static [&'static str] = &[];
/// #   const SUBRESOURCES: &'static [&'static str] = &[]; }
/// use k8s_runtime::ObjectRef;
///
/// let r = ObjectRef::new::<Pod>(Some("default"), "web-0");
/// assert_eq!(r.to_string(), "Pod default/web-0");
/// assert_ne!(r, ObjectRef::dynamic("apps", "Deployment", Some("default"), "web-0"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct ObjectRef {
    /// API group (empty for the core group).
    pub group: Cow<'static, str>,
    /// Kind.
    pub kind: Cow<'static, str>,
    /// Namespace; `None` for a cluster-scoped object.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

impl ObjectRef {
    /// A reference to the object `name` (in `namespace`) of kind `K`.
    pub fn new<K: Resource>(namespace: Option<&str>, name: &str) -> Self {
        ObjectRef {
            group: Cow::Borrowed(K::GROUP),
            kind: Cow::Borrowed(K::KIND),
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
        }
    }

    /// A reference for a kind known only at run time (dynamic objects).
    pub fn dynamic(
        group: impl Into<Cow<'static, str>>,
        kind: impl Into<Cow<'static, str>>,
        namespace: Option<&str>,
        name: &str,
    ) -> Self {
        ObjectRef {
            group: group.into(),
            kind: kind.into(),
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
        }
    }

    /// The reference of an object; `None` when it has no name.
    pub fn from_obj<K: Object>(obj: &K) -> Option<Self> {
        Some(Self::new::<K>(obj.namespace(), obj.name()?))
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.kind)?;
        if !self.group.is_empty() {
            write!(f, ".{}", self.group)?;
        }
        match &self.namespace {
            Some(ns) => write!(f, " {ns}/{}", self.name),
            None => write!(f, " {}", self.name),
        }
    }
}
