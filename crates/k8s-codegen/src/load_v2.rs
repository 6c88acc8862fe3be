//! Loader of the Swagger 2.0 `swagger.json`: a small serde model of the parts we use, converted
//! into the [`ApiModel`].

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result, pointer_token};
use crate::ir::{ApiModel, DefKind, Definition, Field, Gvk, Operation, Param, ParamIn, Type};

#[derive(Deserialize)]
struct Swagger {
    swagger: Option<String>,
    #[serde(default)]
    definitions: BTreeMap<String, Schema>,
    #[serde(default)]
    paths: BTreeMap<String, PathItem>,
    #[serde(default)]
    parameters: BTreeMap<String, Parameter>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Schema {
    #[serde(rename = "$ref")]
    ref_: Option<String>,
    #[serde(rename = "type")]
    ty: Option<String>,
    format: Option<String>,
    description: Option<String>,
    items: Option<Box<Schema>>,
    properties: Option<BTreeMap<String, Schema>>,
    #[serde(rename = "additionalProperties")]
    additional_properties: Option<Box<Schema>>,
    required: Vec<String>,
    #[serde(rename = "x-kubernetes-group-version-kind")]
    gvk: Vec<Gvk>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PathItem {
    parameters: Vec<Parameter>,
    get: Option<RawOperation>,
    put: Option<RawOperation>,
    post: Option<RawOperation>,
    delete: Option<RawOperation>,
    patch: Option<RawOperation>,
    head: Option<RawOperation>,
    options: Option<RawOperation>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawOperation {
    #[serde(rename = "operationId")]
    operation_id: Option<String>,
    description: Option<String>,
    consumes: Vec<String>,
    produces: Vec<String>,
    parameters: Vec<Parameter>,
    responses: BTreeMap<String, Response>,
    #[serde(rename = "x-kubernetes-action")]
    action: Option<String>,
    #[serde(rename = "x-kubernetes-group-version-kind")]
    gvk: Option<Gvk>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Response {
    schema: Option<Schema>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Parameter {
    #[serde(rename = "$ref")]
    ref_: Option<String>,
    name: Option<String>,
    #[serde(rename = "in")]
    location: Option<String>,
    #[serde(rename = "type")]
    ty: Option<String>,
    format: Option<String>,
    items: Option<Box<Schema>>,
    schema: Option<Schema>,
    required: bool,
    description: Option<String>,
}

/// Reads and converts one `swagger.json`.
pub fn load_file(path: &Path, version: &str) -> Result<ApiModel> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    load_bytes(&bytes, path, version)
}

/// Converts the bytes of a `swagger.json`; `path` is only used in error messages.
pub fn load_bytes(bytes: &[u8], path: &Path, version: &str) -> Result<ApiModel> {
    let spec: Swagger = serde_json::from_slice(bytes).map_err(|source| Error::Json {
        path: path.to_owned(),
        source,
    })?;
    let err = |pointer: String, message: String| Error::Spec {
        path: path.to_owned(),
        pointer,
        message,
    };
    if spec.swagger.as_deref() != Some("2.0") {
        return Err(err(
            "/swagger".into(),
            format!("expected \"2.0\", found {:?}", spec.swagger),
        ));
    }
    let mut model = ApiModel {
        version: version.to_owned(),
        ..ApiModel::default()
    };
    for (name, schema) in &spec.definitions {
        let ptr = format!("/definitions/{}", pointer_token(name));
        let def = convert_definition(name, schema, &ptr).map_err(|(p, m)| err(p, m))?;
        model.defs.insert(name.clone(), def);
    }
    for (path_t, item) in &spec.paths {
        let methods = [
            ("GET", &item.get),
            ("PUT", &item.put),
            ("POST", &item.post),
            ("DELETE", &item.delete),
            ("PATCH", &item.patch),
            ("HEAD", &item.head),
            ("OPTIONS", &item.options),
        ];
        for (method, op) in methods {
            let Some(op) = op else { continue };
            let ptr = format!("/paths/{}/{}", pointer_token(path_t), method.to_lowercase());
            let op = convert_operation(&spec, path_t, method, item, op, &ptr)
                .map_err(|(p, m)| err(p, m))?;
            model.ops.push(op);
        }
    }
    model
        .ops
        .sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
    check_refs(&model).map_err(|(p, m)| err(p, m))?;
    Ok(model)
}

type ConvResult<T> = std::result::Result<T, (String, String)>;

fn convert_definition(name: &str, s: &Schema, ptr: &str) -> ConvResult<Definition> {
    let kind = match (&s.properties, s.ty.as_deref()) {
        (Some(props), _) => {
            let mut fields = Vec::with_capacity(props.len());
            for (pname, p) in props {
                let fptr = format!("{ptr}/properties/{}", pointer_token(pname));
                fields.push(Field {
                    json_name: pname.clone(),
                    ty: schema_type(p, &fptr)?,
                    required: s.required.contains(pname),
                    description: p.description.clone(),
                    default: p.other.get("default").map(compact),
                    ext: extensions(&p.other),
                    proto: Vec::new(),
                    go_shape: None,
                });
            }
            for r in &s.required {
                if !props.contains_key(r) {
                    return Err((
                        format!("{ptr}/required"),
                        format!("required property {r:?} is not among the properties"),
                    ));
                }
            }
            DefKind::Struct(fields)
        }
        (None, None | Some("object")) if s.additional_properties.is_none() => DefKind::Opaque,
        (None, _) => DefKind::Scalar(schema_type(s, ptr)?),
    };
    Ok(Definition {
        name: name.to_owned(),
        description: s.description.clone(),
        gvk: s.gvk.clone(),
        kind,
        ext: extensions(&s.other),
    })
}

fn compact(v: &Value) -> String {
    // serde_json writes objects with sorted keys (no preserve_order feature): deterministic.
    v.to_string()
}

fn extensions(other: &BTreeMap<String, Value>) -> BTreeMap<String, String> {
    other
        .iter()
        .filter(|(k, _)| k.starts_with("x-kubernetes-"))
        .map(|(k, v)| (k.clone(), compact(v)))
        .collect()
}

const DEF_PREFIX: &str = "#/definitions/";

fn schema_type(s: &Schema, ptr: &str) -> ConvResult<Type> {
    if let Some(r) = &s.ref_ {
        return r
            .strip_prefix(DEF_PREFIX)
            .map(|n| Type::Ref(n.to_owned()))
            .ok_or_else(|| (format!("{ptr}/$ref"), format!("unsupported $ref {r:?}")));
    }
    scalar_type(
        s.ty.as_deref(),
        s.format.as_deref(),
        s.items.as_deref(),
        s.additional_properties.as_deref(),
        ptr,
    )
}

fn scalar_type(
    ty: Option<&str>,
    format: Option<&str>,
    items: Option<&Schema>,
    additional: Option<&Schema>,
    ptr: &str,
) -> ConvResult<Type> {
    Ok(match (ty, format) {
        (Some("boolean"), None) => Type::Bool,
        (Some("integer"), Some("int32")) => Type::I32,
        (Some("integer"), Some("int64") | None) => Type::I64,
        (Some("number"), Some("double") | None) => Type::F64,
        (Some("string"), None) => Type::String,
        (Some("string"), Some("byte")) => Type::Bytes,
        (Some("string"), Some("date-time")) => Type::DateTime,
        (Some("string"), Some("int-or-string")) => Type::IntOrString,
        (Some("array"), None) => {
            let items =
                items.ok_or_else(|| (format!("{ptr}/items"), "array without items".to_owned()))?;
            Type::Array(Box::new(schema_type(items, &format!("{ptr}/items"))?))
        }
        (Some("object"), None) => match additional {
            Some(a) => Type::Map(Box::new(schema_type(
                a,
                &format!("{ptr}/additionalProperties"),
            )?)),
            None => Type::Any,
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

fn resolve_param<'a>(spec: &'a Swagger, p: &'a Parameter, ptr: &str) -> ConvResult<&'a Parameter> {
    match &p.ref_ {
        Some(r) => {
            let name = r.strip_prefix("#/parameters/").ok_or_else(|| {
                (
                    format!("{ptr}/$ref"),
                    format!("unsupported parameter $ref {r:?}"),
                )
            })?;
            spec.parameters.get(name).ok_or_else(|| {
                (
                    format!("{ptr}/$ref"),
                    format!("$ref {r:?} points to no parameter"),
                )
            })
        }
        None => Ok(p),
    }
}

fn convert_param(p: &Parameter, ptr: &str) -> ConvResult<Param> {
    let name = p
        .name
        .clone()
        .ok_or_else(|| (format!("{ptr}/name"), "parameter without a name".to_owned()))?;
    let location = match p.location.as_deref() {
        Some("path") => ParamIn::Path,
        Some("query") => ParamIn::Query,
        Some("body") => ParamIn::Body,
        other => {
            return Err((
                format!("{ptr}/in"),
                format!("unsupported parameter location {other:?}"),
            ));
        }
    };
    let ty = if location == ParamIn::Body {
        let schema = p
            .schema
            .as_ref()
            .ok_or_else(|| (format!("{ptr}/schema"), "body without a schema".to_owned()))?;
        schema_type(schema, &format!("{ptr}/schema"))?
    } else {
        scalar_type(
            p.ty.as_deref(),
            p.format.as_deref(),
            p.items.as_deref(),
            None,
            ptr,
        )?
    };
    Ok(Param {
        name,
        location,
        ty,
        required: p.required || location == ParamIn::Path,
        description: p.description.clone(),
    })
}

fn convert_operation(
    spec: &Swagger,
    path: &str,
    method: &str,
    item: &PathItem,
    op: &RawOperation,
    ptr: &str,
) -> ConvResult<Operation> {
    let id = op.operation_id.clone().ok_or_else(|| {
        (
            format!("{ptr}/operationId"),
            "missing operationId".to_owned(),
        )
    })?;
    let mut params: BTreeMap<(ParamIn, String), Param> = BTreeMap::new();
    let path_ptr = ptr.rsplit_once('/').map_or(ptr, |(p, _)| p);
    for (i, p) in item.parameters.iter().enumerate() {
        let pp = format!("{path_ptr}/parameters/{i}");
        let p = convert_param(resolve_param(spec, p, &pp)?, &pp)?;
        params.insert((p.location, p.name.clone()), p);
    }
    // Operation-level parameters override path-level ones of the same name and location.
    for (i, p) in op.parameters.iter().enumerate() {
        let pp = format!("{ptr}/parameters/{i}");
        let p = convert_param(resolve_param(spec, p, &pp)?, &pp)?;
        params.insert((p.location, p.name.clone()), p);
    }
    for seg in path.split('/') {
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if !params.contains_key(&(ParamIn::Path, name.to_owned())) {
                return Err((
                    ptr.to_owned(),
                    format!("path parameter {{{name}}} is not declared"),
                ));
            }
        }
    }
    let mut responses = Vec::new();
    for (code, r) in &op.responses {
        let c: u16 = code.parse().map_err(|_| {
            (
                format!("{ptr}/responses/{}", pointer_token(code)),
                format!("unsupported response code {code:?}"),
            )
        })?;
        let ty = match &r.schema {
            Some(s) => Some(schema_type(s, &format!("{ptr}/responses/{code}/schema"))?),
            None => None,
        };
        responses.push((c, ty));
    }
    Ok(Operation {
        id,
        method: method.to_owned(),
        path: path.to_owned(),
        action: op.action.clone(),
        gvk: op.gvk.clone(),
        description: op.description.clone(),
        params: params.into_values().collect(),
        consumes: op.consumes.clone(),
        produces: op.produces.clone(),
        responses,
    })
}

/// Every `$ref` must name a definition.
pub(crate) fn check_refs(model: &ApiModel) -> ConvResult<()> {
    fn walk(t: &Type, model: &ApiModel, ptr: &dyn Fn() -> String) -> ConvResult<()> {
        match t {
            Type::Ref(n) if !model.defs.contains_key(n) => {
                Err((ptr(), format!("$ref to a missing definition {n:?}")))
            }
            Type::Array(i) | Type::Map(i) => walk(i, model, ptr),
            _ => Ok(()),
        }
    }
    for d in model.defs.values() {
        if let DefKind::Struct(fields) = &d.kind {
            for f in fields {
                walk(&f.ty, model, &|| {
                    format!(
                        "/definitions/{}/properties/{}",
                        pointer_token(&d.name),
                        pointer_token(&f.json_name)
                    )
                })?;
            }
        }
    }
    for op in &model.ops {
        let base = || {
            format!(
                "/paths/{}/{}",
                pointer_token(&op.path),
                op.method.to_lowercase()
            )
        };
        for p in &op.params {
            walk(&p.ty, model, &|| {
                format!("{}/parameters ({})", base(), p.name)
            })?;
        }
        for (c, t) in &op.responses {
            if let Some(t) = t {
                walk(t, model, &|| format!("{}/responses/{c}/schema", base()))?;
            }
        }
    }
    Ok(())
}
