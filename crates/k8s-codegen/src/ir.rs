//! The intermediate representation: one model of a Kubernetes version's API, whichever loader
//! built it (Swagger 2.0 or OpenAPI v3), before and after fixups.

use std::collections::BTreeMap;

/// Group, version and kind. Deserializes from an entry of the spec's
/// `x-kubernetes-group-version-kind` (the same object in Swagger 2.0 and v3: both loaders use
/// this; other keys ignored, all three required).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize)]
pub struct Gvk {
    /// API group; empty for core.
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind.
    pub kind: String,
}

impl Gvk {
    /// `group/version/kind` (`/v1/Pod` for core).
    pub fn to_model_string(&self) -> String {
        format!("{}/{}/{}", self.group, self.version, self.kind)
    }
    /// `group/version` or `version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// The type of a field, parameter, body or response.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Type {
    /// `boolean`
    Bool,
    /// `integer` / `int32`
    I32,
    /// `integer` / `int64` (or no format)
    I64,
    /// `number` / `double`
    F64,
    /// `string`
    String,
    /// `string` / `byte`: base64 on the wire.
    Bytes,
    /// `string` / `date-time` (outside the Time definitions).
    DateTime,
    /// `string` / `int-or-string`
    IntOrString,
    /// Any JSON value.
    Any,
    /// A named definition.
    Ref(String),
    /// `array`
    Array(Box<Type>),
    /// `object` with `additionalProperties`
    Map(Box<Type>),
}

/// A property of an object definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// Name on the wire.
    pub json_name: String,
    /// Type.
    pub ty: Type,
    /// Listed in `required`.
    pub required: bool,
    /// Description (not part of the committed model).
    pub description: Option<String>,
    /// Default value as JSON (from the v3 documents).
    pub default: Option<String>,
    /// `x-kubernetes-*` facts: name -> compact JSON value.
    pub ext: BTreeMap<String, String>,
    /// Field numbers in the protobuf message of the definition (`load_proto`): one number, or a
    /// path when the property belongs to an embedded Go struct (`[1, 1]`: field 1 of the
    /// embedded message in field 1). Empty: no protobuf field.
    pub proto: Vec<u32>,
    /// How Go's protobuf encoder treats the field (`spec/goshapes/`, read from the Go structs);
    /// set with `proto`.
    pub go_shape: Option<GoShape>,
}

/// How the Go struct field behind a protobuf field is declared, which decides what Go's encoder
/// writes: a value is written always (even empty), a pointer only when set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GoShape {
    /// `*T`: written only when set.
    Pointer,
    /// A Go value (`string`, `int32`, `bool`, a struct), always written; `omitted`: its JSON
    /// tag has `omitempty`/`omitzero`, so JSON leaves the zero value out.
    Value {
        /// Zero left out of JSON.
        omitted: bool,
    },
    /// A slice: one field per element.
    List,
    /// A map: one entry per key.
    Map,
    /// `[]byte`: written when not nil.
    Bytes,
}

impl GoShape {
    /// The committed model's spelling (`ptr`, `value`, `value omitempty`, `list`, `map`, `bytes`).
    pub fn as_str(self) -> &'static str {
        match self {
            GoShape::Pointer => "ptr",
            GoShape::Value { omitted: false } => "value",
            GoShape::Value { omitted: true } => "value omitempty",
            GoShape::List => "list",
            GoShape::Map => "map",
            GoShape::Bytes => "bytes",
        }
    }

    /// Reads [`GoShape::as_str`]'s spelling, or the Go tool's (`value omitempty omitzero`).
    pub fn parse(words: &[&str]) -> Option<GoShape> {
        let omitted = words[1.min(words.len())..]
            .iter()
            .any(|w| matches!(*w, "omitempty" | "omitzero"));
        Some(match *words.first()? {
            "ptr" => GoShape::Pointer,
            "value" => GoShape::Value { omitted },
            "list" => GoShape::List,
            "map" => GoShape::Map,
            "bytes" => GoShape::Bytes,
            _ => return None,
        })
    }
}

/// What a definition is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DefKind {
    /// An object with properties.
    Struct(Vec<Field>),
    /// An object without properties, or a schema without a type: any JSON.
    Opaque,
    /// A named scalar (e.g. `Time`: `string`/`date-time`).
    Scalar(Type),
    /// Mapped by a fixup to a hand-written type.
    Special(Special),
    /// Deliberately not emitted; the reason.
    Skipped(String),
}

/// Hand-written types that definitions map to (fixups decide).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Special {
    /// `k8s_core::Quantity`
    Quantity,
    /// `k8s_core::IntOrString`
    IntOrString,
    /// `k8s_core::Time`
    Time,
    /// `k8s_core::MicroTime`
    MicroTime,
    /// `serde_json::Value` (RawExtension, JSON, Patch, …)
    JsonValue,
    /// `k8s_core::FieldsV1` (compact JSON text of a managed-fields set)
    FieldsV1,
    /// `k8s_core::Status`
    Status,
    /// `k8s_core::StatusDetails`
    StatusDetails,
    /// `k8s_core::StatusCause`
    StatusCause,
    /// `k8s_core::ListMeta`
    ListMeta,
    /// `k8s_core::ObjectMeta`
    ObjectMeta,
    /// `k8s_core::OwnerReference`
    OwnerReference,
    /// `k8s_core::ManagedFieldsEntry`
    ManagedFieldsEntry,
    /// `k8s_core::WatchEvent<T>`
    WatchEvent,
    /// An untagged union of a schema and something else (`JSONSchemaPropsOr*`), emitted as an
    /// enum in its module.
    SchemaUnion,
}

/// One definition of the spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Definition {
    /// Full name, e.g. `io.k8s.api.core.v1.Pod`.
    pub name: String,
    /// Description (not part of the committed model).
    pub description: Option<String>,
    /// `x-kubernetes-group-version-kind`
    pub gvk: Vec<Gvk>,
    /// What it is.
    pub kind: DefKind,
    /// Definition-level `x-kubernetes-*` facts.
    pub ext: BTreeMap<String, String>,
}

/// Where a parameter goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ParamIn {
    /// A `{name}` in the path.
    Path,
    /// The query string.
    Query,
    /// The body.
    Body,
}

/// A parameter of an operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// Name.
    pub name: String,
    /// Location.
    pub location: ParamIn,
    /// Type (for a body: its schema).
    pub ty: Type,
    /// Required.
    pub required: bool,
    /// Description (not part of the committed model).
    pub description: Option<String>,
}

/// One operation (path + method).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// `operationId`
    pub id: String,
    /// HTTP method, upper case.
    pub method: String,
    /// Path template.
    pub path: String,
    /// `x-kubernetes-action`
    pub action: Option<String>,
    /// `x-kubernetes-group-version-kind`
    pub gvk: Option<Gvk>,
    /// Description (not part of the committed model).
    pub description: Option<String>,
    /// Parameters: path-level and operation-level merged, sorted by (location, name).
    pub params: Vec<Param>,
    /// `consumes`
    pub consumes: Vec<String>,
    /// `produces`
    pub produces: Vec<String>,
    /// Responses: status code and schema.
    pub responses: Vec<(u16, Option<Type>)>,
}

impl Operation {
    /// The schema of the first 2xx response with one.
    pub fn ok_type(&self) -> Option<&Type> {
        self.responses
            .iter()
            .filter(|(c, _)| (200..300).contains(c))
            .find_map(|(_, t)| t.as_ref())
    }
    /// The body parameter.
    pub fn body(&self) -> Option<&Param> {
        self.params.iter().find(|p| p.location == ParamIn::Body)
    }
    /// Query parameters.
    pub fn query_params(&self) -> impl Iterator<Item = &Param> {
        self.params.iter().filter(|p| p.location == ParamIn::Query)
    }
}

/// The API of one Kubernetes version.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiModel {
    /// Kubernetes version, e.g. `1.36.0`.
    pub version: String,
    /// Definitions by full name.
    pub defs: BTreeMap<String, Definition>,
    /// Operations sorted by (path, method).
    pub ops: Vec<Operation>,
}

impl ApiModel {
    /// Whether the model carries descriptions (false when loaded from a committed model).
    pub fn has_docs(&self) -> bool {
        self.defs.values().any(|d| d.description.is_some())
    }
}
