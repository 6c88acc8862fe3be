//! Loader of the OpenAPI v3 per-group documents (`v3/*.json`, parsed with the `openapiv3` crate)
//! into the same [`ApiModel`] as the Swagger 2.0 loader, and [`merge_into`], which copies into a
//! v2 model what only v3 carries (field defaults, missing descriptions).
//!
//! The v3 form differs from v2 in ways normalised here:
//! - `$ref` is `#/components/schemas/X` (v2: `#/definitions/X`); a reference with a sibling
//!   `description`, `default` or `x-kubernetes-*` fact is wrapped as `allOf: [{$ref}]`.
//! - IntOrString is `format: int-or-string` with `oneOf: [integer, string]` (or
//!   `x-kubernetes-int-or-string: true`): [`Type::IntOrString`]. Any other union (`oneOf`/`anyOf`,
//!   e.g. Quantity's `string | number`) is [`Type::Any`]; the cross-check test lists it.
//! - `default` values are present (v2 lacks most of them); `nullable` does not change a type.
//! - The request body is `requestBody.content` (a body parameter named `body`, as in v2); a
//!   response's schema is under `content` per media type (`application/json` preferred).
//!
//! A definition or operation appears in several documents; after conversion the copies must be
//! identical, except for a definition's group-version-kind list (each document lists only its own
//! group's kinds; the model has the union). When they are not, the first (in file-name order) is kept and the difference is
//! recorded as a [`Conflict`] (see [`load_dir_report`]).

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use openapiv3::{
    AdditionalProperties, IntegerFormat, NumberFormat, Parameter, ParameterSchemaOrContent,
    PathItem, ReferenceOr, Schema, SchemaKind, StatusCode, StringFormat, VariantOrUnknownOrEmpty,
};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result, pointer_token};
use crate::ir::{ApiModel, DefKind, Definition, Field, Gvk, Operation, Param, ParamIn, Type};

/// A definition or operation that two documents describe differently after conversion.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Conflict {
    /// `definition <name>` or `operation <METHOD> <path>`.
    pub what: String,
    /// The document whose version was kept (the first in file-name order).
    pub kept: PathBuf,
    /// The document whose different version was dropped.
    pub dropped: PathBuf,
}

/// The merged v3 documents of one version, with what the merge noticed.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct V3Load {
    /// The model built from all documents.
    pub model: ApiModel,
    /// Number of documents read.
    pub documents: usize,
    /// Definitions and operations that differ between documents (the first was kept).
    pub conflicts: Vec<Conflict>,
}

/// What [`merge_report`] copied from v3 into v2.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MergeStats {
    /// Field defaults added.
    pub defaults: usize,
    /// Definition and field descriptions added where v2 had none.
    pub descriptions: usize,
}

/// Loads every `*.json` document of a `v3/` directory into one model.
pub fn load_dir(dir: &Path, version: &str) -> Result<ApiModel> {
    load_dir_report(dir, version).map(|l| l.model)
}

/// Like [`load_dir`], also returning the number of documents and the conflicts between them.
pub fn load_dir_report(dir: &Path, version: &str) -> Result<V3Load> {
    let io = |source| Error::Io {
        path: dir.to_owned(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let p = entry.map_err(io)?.path();
        if p.extension().is_some_and(|e| e == "json") && p.is_file() {
            files.push(p);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(Error::Spec {
            path: dir.to_owned(),
            pointer: String::new(),
            message: "no *.json OpenAPI v3 documents in this directory".into(),
        });
    }
    let mut acc = Acc::default();
    for f in &files {
        load_document(f, &mut acc)?;
    }
    acc.check_refs()?;
    let mut model = ApiModel {
        version: version.to_owned(),
        ..ApiModel::default()
    };
    model.defs = acc.defs.into_iter().map(|(k, (d, _, _))| (k, d)).collect();
    // BTreeMap order of (path, method) is the model's operation order.
    model.ops = acc.ops.into_values().map(|(o, _, _)| o).collect();
    Ok(V3Load {
        model,
        documents: files.len(),
        conflicts: acc.conflicts,
    })
}

/// Merges what v3 has and v2 lacks (field defaults, missing descriptions) into a v2 model.
/// Types, fields and operations of the v2 model are left unchanged.
pub fn merge_into(v2: &mut ApiModel, v3: &ApiModel) {
    merge_report(v2, v3);
}

/// [`merge_into`], returning what was copied.
pub fn merge_report(v2: &mut ApiModel, v3: &ApiModel) -> MergeStats {
    let mut stats = MergeStats::default();
    for (name, def) in &mut v2.defs {
        let Some(d3) = v3.defs.get(name) else {
            continue;
        };
        if def.description.is_none() && d3.description.is_some() {
            def.description.clone_from(&d3.description);
            stats.descriptions += 1;
        }
        let (DefKind::Struct(fields), DefKind::Struct(f3)) = (&mut def.kind, &d3.kind) else {
            continue;
        };
        for f in fields {
            let Some(g) = f3.iter().find(|g| g.json_name == f.json_name) else {
                continue;
            };
            if f.default.is_none() && g.default.is_some() {
                f.default.clone_from(&g.default);
                stats.defaults += 1;
            }
            if f.description.is_none() && g.description.is_some() {
                f.description.clone_from(&g.description);
                stats.descriptions += 1;
            }
        }
    }
    stats
}

/// Definitions and operations of the documents read so far, each with its file and pointer.
#[derive(Default)]
struct Acc {
    defs: BTreeMap<String, (Definition, PathBuf, String)>,
    ops: BTreeMap<(String, String), (Operation, PathBuf, String)>,
    conflicts: Vec<Conflict>,
}

impl Acc {
    fn add_def(&mut self, def: Definition, file: &Path, ptr: String) {
        match self.defs.get_mut(&def.name) {
            Some((kept, kept_file, _)) => {
                let same = kept.description == def.description
                    && kept.kind == def.kind
                    && kept.ext == def.ext;
                if same {
                    // Shared types (DeleteOptions, WatchEvent) list, in each group's document,
                    // only that group's kinds: the model has the union, sorted.
                    for g in def.gvk {
                        if !kept.gvk.contains(&g) {
                            kept.gvk.push(g);
                            kept.gvk.sort();
                        }
                    }
                } else {
                    self.conflicts.push(Conflict {
                        what: format!("definition {}", def.name),
                        kept: kept_file.clone(),
                        dropped: file.to_owned(),
                    });
                }
            }
            None => {
                self.defs
                    .insert(def.name.clone(), (def, file.to_owned(), ptr));
            }
        }
    }

    fn add_op(&mut self, op: Operation, file: &Path, ptr: String) {
        let key = (op.path.clone(), op.method.clone());
        match self.ops.get(&key) {
            Some((kept, kept_file, _)) => {
                if *kept != op {
                    self.conflicts.push(Conflict {
                        what: format!("operation {} {}", op.method, op.path),
                        kept: kept_file.clone(),
                        dropped: file.to_owned(),
                    });
                }
            }
            None => {
                self.ops.insert(key, (op, file.to_owned(), ptr));
            }
        }
    }

    /// Every reference must name a definition of some document.
    fn check_refs(&self) -> Result<()> {
        fn missing<'a>(
            t: &'a Type,
            defs: &BTreeMap<String, (Definition, PathBuf, String)>,
        ) -> Option<&'a str> {
            match t {
                Type::Ref(n) if !defs.contains_key(n) => Some(n),
                Type::Array(i) | Type::Map(i) => missing(i, defs),
                _ => None,
            }
        }
        let err = |file: &Path, pointer: String, name: &str| Error::Spec {
            path: file.to_owned(),
            pointer,
            message: format!("$ref to a missing schema {name:?}"),
        };
        for (def, file, ptr) in self.defs.values() {
            match &def.kind {
                DefKind::Struct(fields) => {
                    for f in fields {
                        if let Some(n) = missing(&f.ty, &self.defs) {
                            let p = format!("{ptr}/properties/{}", pointer_token(&f.json_name));
                            return Err(err(file, p, n));
                        }
                    }
                }
                DefKind::Scalar(t) => {
                    if let Some(n) = missing(t, &self.defs) {
                        return Err(err(file, ptr.clone(), n));
                    }
                }
                _ => {}
            }
        }
        for (op, file, ptr) in self.ops.values() {
            for p in &op.params {
                if let Some(n) = missing(&p.ty, &self.defs) {
                    let at = match p.location {
                        ParamIn::Body => format!("{ptr}/requestBody"),
                        _ => format!("{ptr}/parameters ({})", p.name),
                    };
                    return Err(err(file, at, n));
                }
            }
            for (code, t) in &op.responses {
                if let Some(n) = t.as_ref().and_then(|t| missing(t, &self.defs)) {
                    return Err(err(file, format!("{ptr}/responses/{code}"), n));
                }
            }
        }
        Ok(())
    }
}

type ConvResult<T> = std::result::Result<T, (String, String)>;

fn load_document(path: &Path, acc: &mut Acc) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let doc: Value = serde_json::from_slice(&bytes).map_err(|source| Error::Json {
        path: path.to_owned(),
        source,
    })?;
    let err = |(pointer, message): (String, String)| Error::Spec {
        path: path.to_owned(),
        pointer,
        message,
    };
    match doc.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.") => {}
        other => {
            return Err(err((
                "/openapi".into(),
                format!("expected an OpenAPI 3.x document, found version {other:?}"),
            )));
        }
    }
    if let Some(schemas) = doc.pointer("/components/schemas") {
        let map = schemas
            .as_object()
            .ok_or_else(|| err(("/components/schemas".into(), "expected an object".into())))?;
        for (name, v) in map {
            let ptr = format!("/components/schemas/{}", pointer_token(name));
            let schema = match ReferenceOr::<Schema>::deserialize(v) {
                Ok(ReferenceOr::Item(s)) => s,
                Ok(ReferenceOr::Reference { reference }) => {
                    return Err(err((
                        ptr,
                        format!("a schema that is only a $ref ({reference:?}) is not supported"),
                    )));
                }
                Err(e) => return Err(err((ptr, format!("invalid schema: {e}")))),
            };
            let def = convert_definition(name, &schema, &ptr).map_err(err)?;
            acc.add_def(def, path, ptr);
        }
    }
    if let Some(paths) = doc.get("paths") {
        let map = paths
            .as_object()
            .ok_or_else(|| err(("/paths".into(), "expected an object".into())))?;
        for (path_t, v) in map {
            let ptr = format!("/paths/{}", pointer_token(path_t));
            let item = PathItem::deserialize(v)
                .map_err(|e| err((ptr.clone(), format!("invalid path item: {e}"))))?;
            for (op, op_ptr) in convert_path_item(path_t, &item, &ptr).map_err(err)? {
                acc.add_op(op, path, op_ptr);
            }
        }
    }
    Ok(())
}

/// The parts of a schema the converter looks at, whichever [`SchemaKind`] the crate chose.
#[derive(Default)]
struct Shape<'a> {
    typ: Option<&'a str>,
    format: Option<&'a str>,
    items: Option<&'a ReferenceOr<Box<Schema>>>,
    properties: Vec<(&'a String, &'a ReferenceOr<Box<Schema>>)>,
    required: &'a [String],
    additional: Option<&'a AdditionalProperties>,
    one_of: &'a [ReferenceOr<Schema>],
    any_of: &'a [ReferenceOr<Schema>],
    all_of: &'a [ReferenceOr<Schema>],
    not: bool,
}

fn format_str<T>(f: &VariantOrUnknownOrEmpty<T>, name: fn(&T) -> &'static str) -> Option<&str> {
    match f {
        VariantOrUnknownOrEmpty::Item(t) => Some(name(t)),
        VariantOrUnknownOrEmpty::Unknown(s) => Some(s),
        VariantOrUnknownOrEmpty::Empty => None,
    }
}

fn string_format(f: &StringFormat) -> &'static str {
    match f {
        StringFormat::Date => "date",
        StringFormat::DateTime => "date-time",
        StringFormat::Password => "password",
        StringFormat::Byte => "byte",
        StringFormat::Binary => "binary",
    }
}

fn number_format(f: &NumberFormat) -> &'static str {
    match f {
        NumberFormat::Float => "float",
        NumberFormat::Double => "double",
    }
}

fn integer_format(f: &IntegerFormat) -> &'static str {
    match f {
        IntegerFormat::Int32 => "int32",
        IntegerFormat::Int64 => "int64",
    }
}

fn shape(s: &Schema) -> Shape<'_> {
    use openapiv3::Type as T;
    match &s.schema_kind {
        SchemaKind::Type(T::String(t)) => Shape {
            typ: Some("string"),
            format: format_str(&t.format, string_format),
            ..Shape::default()
        },
        SchemaKind::Type(T::Number(t)) => Shape {
            typ: Some("number"),
            format: format_str(&t.format, number_format),
            ..Shape::default()
        },
        SchemaKind::Type(T::Integer(t)) => Shape {
            typ: Some("integer"),
            format: format_str(&t.format, integer_format),
            ..Shape::default()
        },
        SchemaKind::Type(T::Boolean(_)) => Shape {
            typ: Some("boolean"),
            ..Shape::default()
        },
        SchemaKind::Type(T::Object(t)) => Shape {
            typ: Some("object"),
            properties: t.properties.iter().collect(),
            required: &t.required,
            additional: t.additional_properties.as_ref(),
            ..Shape::default()
        },
        SchemaKind::Type(T::Array(t)) => Shape {
            typ: Some("array"),
            items: t.items.as_ref(),
            ..Shape::default()
        },
        SchemaKind::OneOf { one_of } => Shape {
            one_of,
            ..Shape::default()
        },
        SchemaKind::AnyOf { any_of } => Shape {
            any_of,
            ..Shape::default()
        },
        SchemaKind::AllOf { all_of } => Shape {
            all_of,
            ..Shape::default()
        },
        SchemaKind::Not { .. } => Shape {
            not: true,
            ..Shape::default()
        },
        SchemaKind::Any(a) => Shape {
            typ: a.typ.as_deref(),
            format: a.format.as_deref(),
            items: a.items.as_ref(),
            properties: a.properties.iter().collect(),
            required: &a.required,
            additional: a.additional_properties.as_ref(),
            one_of: &a.one_of,
            any_of: &a.any_of,
            all_of: &a.all_of,
            not: a.not.is_some(),
        },
    }
}

fn is_int_or_string(s: &Schema, sh: &Shape<'_>) -> bool {
    sh.format == Some("int-or-string")
        || s.schema_data.extensions.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
}

const SCHEMA_PREFIX: &str = "#/components/schemas/";

fn ref_or_type<S: Borrow<Schema>>(r: &ReferenceOr<S>, ptr: &str) -> ConvResult<Type> {
    match r {
        ReferenceOr::Reference { reference } => reference
            .strip_prefix(SCHEMA_PREFIX)
            .map(|n| Type::Ref(n.to_owned()))
            .ok_or_else(|| {
                (
                    format!("{ptr}/$ref"),
                    format!("unsupported $ref {reference:?}"),
                )
            }),
        ReferenceOr::Item(s) => schema_type(s.borrow(), ptr),
    }
}

fn schema_type(s: &Schema, ptr: &str) -> ConvResult<Type> {
    let sh = shape(s);
    if is_int_or_string(s, &sh) {
        return Ok(Type::IntOrString);
    }
    if sh.not {
        return Err((ptr.to_owned(), "`not` schemas are not supported".into()));
    }
    if !sh.all_of.is_empty() {
        // A reference with siblings: `allOf: [{$ref}]`, the siblings on the wrapper.
        return match sh.all_of {
            [only] if sh.typ.is_none() && sh.properties.is_empty() && sh.items.is_none() => {
                ref_or_type(only, &format!("{ptr}/allOf/0"))
            }
            _ => Err((
                format!("{ptr}/allOf"),
                format!(
                    "allOf with {} members (or beside a type) is not supported",
                    sh.all_of.len()
                ),
            )),
        };
    }
    if !sh.one_of.is_empty() || !sh.any_of.is_empty() {
        let (key, members) = if sh.one_of.is_empty() {
            ("anyOf", sh.any_of)
        } else {
            ("oneOf", sh.one_of)
        };
        let mut kinds = Vec::with_capacity(members.len());
        for (i, m) in members.iter().enumerate() {
            let t = match ref_or_type(m, &format!("{ptr}/{key}/{i}"))? {
                Type::I32 => Type::I64,
                t => t,
            };
            if !kinds.contains(&t) {
                kinds.push(t);
            }
        }
        kinds.sort();
        // integer | string is IntOrString; any other union (Quantity: string | number) is any
        // JSON value, which the fixups map to the special type.
        return Ok(if kinds == [Type::I64, Type::String] {
            Type::IntOrString
        } else {
            Type::Any
        });
    }
    scalar_type(&sh, ptr)
}

fn scalar_type(sh: &Shape<'_>, ptr: &str) -> ConvResult<Type> {
    Ok(match (sh.typ, sh.format) {
        (Some("boolean"), None) => Type::Bool,
        (Some("integer"), Some("int32")) => Type::I32,
        (Some("integer"), Some("int64") | None) => Type::I64,
        (Some("number"), Some("double") | None) => Type::F64,
        (Some("string"), None) => Type::String,
        (Some("string"), Some("byte")) => Type::Bytes,
        (Some("string"), Some("date-time")) => Type::DateTime,
        (Some("array"), None) => {
            let items = sh
                .items
                .ok_or_else(|| (format!("{ptr}/items"), "array without items".to_owned()))?;
            Type::Array(Box::new(ref_or_type(items, &format!("{ptr}/items"))?))
        }
        (Some("object"), None) => match sh.additional {
            Some(AdditionalProperties::Schema(a)) => Type::Map(Box::new(ref_or_type(
                a,
                &format!("{ptr}/additionalProperties"),
            )?)),
            Some(AdditionalProperties::Any(true)) => Type::Map(Box::new(Type::Any)),
            Some(AdditionalProperties::Any(false)) | None => Type::Any,
        },
        (None, None) => Type::Any,
        (t, f) => {
            return Err((
                ptr.to_owned(),
                format!("unsupported type/format {t:?}/{f:?}"),
            ));
        }
    })
}

/// `x-kubernetes-*` facts as compact JSON, without the group-version-kind (a field of its own).
fn extensions<'a>(
    ext: impl IntoIterator<Item = (&'a String, &'a Value)>,
) -> BTreeMap<String, String> {
    ext.into_iter()
        .filter(|(k, _)| k.starts_with("x-kubernetes-") && *k != GVK)
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect()
}

const GVK: &str = "x-kubernetes-group-version-kind";

fn gvk_list(s: &Schema, ptr: &str) -> ConvResult<Vec<Gvk>> {
    match s.schema_data.extensions.get(GVK) {
        None => Ok(Vec::new()),
        Some(v) => Vec::<Gvk>::deserialize(v).map_err(|e| {
            (
                format!("{ptr}/{GVK}"),
                format!("invalid group-version-kind list: {e}"),
            )
        }),
    }
}

/// The default of a property: on the schema, or on the single `allOf` member it wraps.
fn field_default(s: &Schema) -> Option<String> {
    if let Some(d) = &s.schema_data.default {
        return Some(d.to_string());
    }
    match shape(s).all_of {
        [ReferenceOr::Item(inner)] => inner.schema_data.default.as_ref().map(Value::to_string),
        _ => None,
    }
}

fn convert_definition(name: &str, s: &Schema, ptr: &str) -> ConvResult<Definition> {
    let sh = shape(s);
    let kind = if !sh.properties.is_empty() {
        let mut fields = Vec::with_capacity(sh.properties.len());
        for (pname, p) in &sh.properties {
            let fptr = format!("{ptr}/properties/{}", pointer_token(pname));
            let ty = ref_or_type(p, &fptr)?;
            let (description, default, ext) = match p {
                ReferenceOr::Item(ps) => (
                    ps.schema_data.description.clone(),
                    field_default(ps),
                    extensions(&ps.schema_data.extensions),
                ),
                ReferenceOr::Reference { .. } => (None, None, BTreeMap::new()),
            };
            fields.push(Field {
                json_name: (*pname).clone(),
                ty,
                required: sh.required.contains(pname),
                description,
                default,
                ext,
                proto: Vec::new(),
                go_shape: None,
            });
        }
        // Property order: as v2 (sorted by name), whatever the document's order.
        fields.sort_by(|a, b| a.json_name.cmp(&b.json_name));
        for r in sh.required {
            if !fields.iter().any(|f| &f.json_name == r) {
                return Err((
                    format!("{ptr}/required"),
                    format!("required property {r:?} is not among the properties"),
                ));
            }
        }
        DefKind::Struct(fields)
    } else if matches!(sh.typ, None | Some("object"))
        && sh.additional.is_none()
        && sh.format.is_none()
        && sh.one_of.is_empty()
        && sh.any_of.is_empty()
        && sh.all_of.is_empty()
        && !sh.not
        && !is_int_or_string(s, &sh)
    {
        DefKind::Opaque
    } else {
        DefKind::Scalar(schema_type(s, ptr)?)
    };
    Ok(Definition {
        name: name.to_owned(),
        description: s.schema_data.description.clone(),
        gvk: gvk_list(s, ptr)?,
        kind,
        ext: extensions(&s.schema_data.extensions),
    })
}

fn convert_param(p: &ReferenceOr<Parameter>, ptr: &str) -> ConvResult<Param> {
    let p = match p {
        ReferenceOr::Item(p) => p,
        ReferenceOr::Reference { reference } => {
            return Err((
                format!("{ptr}/$ref"),
                format!("unsupported parameter $ref {reference:?}"),
            ));
        }
    };
    let (data, location) = match p {
        Parameter::Query { parameter_data, .. } => (parameter_data, ParamIn::Query),
        Parameter::Path { parameter_data, .. } => (parameter_data, ParamIn::Path),
        Parameter::Header { .. } | Parameter::Cookie { .. } => {
            return Err((
                format!("{ptr}/in"),
                "unsupported parameter location (header or cookie)".into(),
            ));
        }
    };
    let ty = match &data.format {
        ParameterSchemaOrContent::Schema(s) => ref_or_type(s, &format!("{ptr}/schema"))?,
        ParameterSchemaOrContent::Content(_) => {
            return Err((
                format!("{ptr}/content"),
                "parameters described by content are not supported".into(),
            ));
        }
    };
    Ok(Param {
        name: data.name.clone(),
        location,
        ty,
        required: data.required || location == ParamIn::Path,
        description: data.description.clone(),
    })
}

/// The schema of one media-type map (`application/json` preferred, else the first with one).
fn content_type<'a>(
    content: impl Iterator<Item = (&'a String, &'a openapiv3::MediaType)> + Clone,
    ptr: &str,
) -> ConvResult<Option<Type>> {
    let chosen = content
        .clone()
        .find(|(k, m)| k.as_str() == "application/json" && m.schema.is_some())
        .or_else(|| content.clone().find(|(_, m)| m.schema.is_some()));
    match chosen {
        Some((k, m)) => match &m.schema {
            Some(s) => {
                ref_or_type(s, &format!("{ptr}/content/{}/schema", pointer_token(k))).map(Some)
            }
            None => Ok(None),
        },
        None => Ok(None),
    }
}

fn convert_path_item(
    path: &str,
    item: &PathItem,
    ptr: &str,
) -> ConvResult<Vec<(Operation, String)>> {
    let methods = [
        ("GET", &item.get),
        ("PUT", &item.put),
        ("POST", &item.post),
        ("DELETE", &item.delete),
        ("PATCH", &item.patch),
        ("HEAD", &item.head),
        ("OPTIONS", &item.options),
        ("TRACE", &item.trace),
    ];
    let mut out = Vec::new();
    for (method, op) in methods {
        let Some(op) = op else { continue };
        let optr = format!("{ptr}/{}", method.to_lowercase());
        let id = op.operation_id.clone().ok_or_else(|| {
            (
                format!("{optr}/operationId"),
                "missing operationId".to_owned(),
            )
        })?;
        let mut params: BTreeMap<(ParamIn, String), Param> = BTreeMap::new();
        for (i, p) in item.parameters.iter().enumerate() {
            let p = convert_param(p, &format!("{ptr}/parameters/{i}"))?;
            params.insert((p.location, p.name.clone()), p);
        }
        // Operation-level parameters override path-level ones of the same name and location.
        for (i, p) in op.parameters.iter().enumerate() {
            let p = convert_param(p, &format!("{optr}/parameters/{i}"))?;
            params.insert((p.location, p.name.clone()), p);
        }
        let mut consumes = Vec::new();
        match &op.request_body {
            None => {}
            Some(ReferenceOr::Reference { reference }) => {
                return Err((
                    format!("{optr}/requestBody/$ref"),
                    format!("unsupported requestBody $ref {reference:?}"),
                ));
            }
            Some(ReferenceOr::Item(rb)) => {
                let bptr = format!("{optr}/requestBody");
                let ty = content_type(rb.content.iter(), &bptr)?.ok_or_else(|| {
                    (
                        format!("{bptr}/content"),
                        "request body without a schema".to_owned(),
                    )
                })?;
                consumes = rb.content.keys().cloned().collect();
                params.insert(
                    (ParamIn::Body, "body".into()),
                    Param {
                        name: "body".into(),
                        location: ParamIn::Body,
                        ty,
                        required: rb.required,
                        description: rb.description.clone(),
                    },
                );
            }
        }
        for seg in path.split('/') {
            if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                if !params.contains_key(&(ParamIn::Path, name.to_owned())) {
                    return Err((optr, format!("path parameter {{{name}}} is not declared")));
                }
            }
        }
        if op.responses.default.is_some() {
            return Err((
                format!("{optr}/responses/default"),
                "a default response is not supported".into(),
            ));
        }
        let mut responses = Vec::new();
        let mut produces: Vec<String> = Vec::new();
        for (code, r) in &op.responses.responses {
            let rptr = format!("{optr}/responses/{code}");
            let c = match code {
                StatusCode::Code(c) => *c,
                StatusCode::Range(_) => {
                    return Err((rptr, format!("unsupported response code {code}")));
                }
            };
            let r = match r {
                ReferenceOr::Item(r) => r,
                ReferenceOr::Reference { reference } => {
                    return Err((
                        format!("{rptr}/$ref"),
                        format!("unsupported response $ref {reference:?}"),
                    ));
                }
            };
            for k in r.content.keys() {
                if !produces.contains(k) {
                    produces.push(k.clone());
                }
            }
            responses.push((c, content_type(r.content.iter(), &rptr)?));
        }
        responses.sort_by_key(|(c, _)| *c);
        let gvk = match op.extensions.get(GVK) {
            None => None,
            Some(v) => Some(Gvk::deserialize(v).map_err(|e| {
                (
                    format!("{optr}/{GVK}"),
                    format!("invalid group-version-kind: {e}"),
                )
            })?),
        };
        let action = match op.extensions.get("x-kubernetes-action") {
            None => None,
            Some(Value::String(a)) => Some(a.clone()),
            Some(other) => {
                return Err((
                    format!("{optr}/x-kubernetes-action"),
                    format!("expected a string, found {other}"),
                ));
            }
        };
        out.push((
            Operation {
                id,
                method: method.to_owned(),
                path: path.to_owned(),
                action,
                gvk,
                description: op.description.clone(),
                params: params.into_values().collect(),
                consumes,
                produces,
                responses,
            },
            optr,
        ));
    }
    Ok(out)
}
