//! The protobuf IDL of the built-in API groups (`proto/<import path>/generated.proto` beside the
//! spec): read with `protox-parse` (pure Rust, no `protoc`), matched to the IR by name, and the
//! field numbers stored in the IR (`ir::Field::proto`), so that the committed model keeps them
//! and offline generation keeps protobuf.
//!
//! Matching: the message of a definition `io.k8s.<path>.<Name>` is `<Name>` in the package
//! `k8s.io.<path>` (with `-` as `_`). For every struct definition that has a message, every
//! property must have a field of the same name (`$ref` is `ref`, `$schema` is `schema`,
//! `x-kubernetes-*` is camel case) and a compatible type, and every field must have a property;
//! `apiVersion` and `kind` of a kind are the envelope's (no field). Anything else fails the
//! generator, naming the definition and the field. Messages without a definition (internal
//! types such as `Timestamp`) are not used; definitions without a message have no protobuf form.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use protox_parse::parse;

use crate::error::{Error, Result};
use crate::ir::{ApiModel, DefKind, GoShape, Type};

/// A field of a message, its type resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ProtoField {
    name: String,
    number: u32,
    ty: ProtoType,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum ProtoType {
    Scalar(&'static str),
    /// A message, by full name without the leading dot.
    Message(String),
    Repeated(Box<ProtoType>),
    Map(Box<ProtoType>),
}

/// Messages by full name (`k8s.io.api.core.v1.Pod`).
type Messages = BTreeMap<String, Vec<ProtoField>>;

fn err(path: &Path, message: String) -> Error {
    Error::Model {
        path: path.to_owned(),
        line: 0,
        message,
    }
}

fn proto_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_owned(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            proto_files(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "proto") {
            out.push(p);
        }
    }
    Ok(())
}

fn scalar(t: i32) -> Option<&'static str> {
    // google.protobuf.FieldDescriptorProto.Type numbers.
    Some(match t {
        1 => "double",
        3 => "int64",
        5 => "int32",
        8 => "bool",
        9 => "string",
        12 => "bytes",
        _ => return None,
    })
}

/// Reads every `.proto` file under `dir`.
fn load_dir(dir: &Path) -> Result<Messages> {
    let mut files = Vec::new();
    proto_files(dir, &mut files)?;
    let mut messages = Messages::new();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let name = path
            .strip_prefix(dir)
            .unwrap_or(&path)
            .display()
            .to_string();
        let fd = parse(&name, &text).map_err(|e| err(&path, format!("proto: {e}")))?;
        let package = fd.package.clone().unwrap_or_default();
        for m in &fd.message_type {
            let mname = m.name.clone().unwrap_or_default();
            let full = format!("{package}.{mname}");
            let mut fields = Vec::new();
            for f in &m.field {
                let fname = f.name.clone().unwrap_or_default();
                let where_ = || format!("{full}.{fname}");
                let number = f
                    .number
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| err(&path, format!("{}: no field number", where_())))?;
                let repeated = f.label == Some(3);
                let ty = match (f.r#type.and_then(scalar), &f.type_name) {
                    (Some(s), _) => ProtoType::Scalar(s),
                    (None, Some(tn)) => {
                        // A map is a repeated nested `<Name>Entry` message (key 1, value 2).
                        let entry = m.nested_type.iter().find(|n| {
                            n.name.as_deref() == Some(tn.as_str())
                                && n.options.as_ref().and_then(|o| o.map_entry) == Some(true)
                        });
                        if let Some(entry) = entry {
                            let value = entry
                                .field
                                .iter()
                                .find(|v| v.number == Some(2))
                                .ok_or_else(|| {
                                    err(&path, format!("{}: map without value", where_()))
                                })?;
                            let vt = match (value.r#type.and_then(scalar), &value.type_name) {
                                (Some(s), _) => ProtoType::Scalar(s),
                                (None, Some(vn)) => ProtoType::Message(resolve(&package, vn)),
                                _ => {
                                    return Err(err(
                                        &path,
                                        format!("{}: map value type", where_()),
                                    ));
                                }
                            };
                            fields.push(ProtoField {
                                name: fname.clone(),
                                number,
                                ty: ProtoType::Map(Box::new(vt)),
                            });
                            continue;
                        }
                        ProtoType::Message(resolve(&package, tn))
                    }
                    (None, None) => {
                        return Err(err(
                            &path,
                            format!("{}: unsupported type {:?}", where_(), f.r#type),
                        ));
                    }
                };
                let ty = if repeated {
                    ProtoType::Repeated(Box::new(ty))
                } else {
                    ty
                };
                fields.push(ProtoField {
                    name: fname,
                    number,
                    ty,
                });
            }
            messages.insert(full, fields);
        }
    }
    Ok(messages)
}

/// A type name as written (`PodSpec`, `.k8s.io.api.core.v1.PodSpec`) as a full name.
fn resolve(package: &str, name: &str) -> String {
    match name.strip_prefix('.') {
        Some(full) => full.to_owned(),
        None => format!("{package}.{name}"),
    }
}

/// The message name of a definition: `io.k8s.api.core.v1.Pod` -> `k8s.io.api.core.v1.Pod`.
pub fn message_name(def: &str) -> Option<String> {
    def.strip_prefix("io.k8s.")
        .map(|rest| format!("k8s.io.{}", rest.replace('-', "_")))
}

/// The proto field name of a JSON property.
fn proto_name(json: &str) -> String {
    if let Some(rest) = json.strip_prefix('$') {
        return rest.to_owned();
    }
    if json.contains('-') {
        let mut out = String::new();
        let mut upper = false;
        for c in json.chars() {
            if c == '-' {
                upper = true;
            } else if upper {
                out.extend(c.to_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        }
        return out;
    }
    json.to_owned()
}

/// Whether an IR type and a proto type agree. A list inside a list or map is a wrapper message
/// with one repeated field `items` (`ExtraValue`, …).
fn compatible(ir: &Type, proto: &ProtoType, messages: &Messages) -> bool {
    let compatible = |i: &Type, p: &ProtoType| compatible(i, p, messages);
    match (ir, proto) {
        (Type::String, ProtoType::Scalar("string"))
        | (Type::I32, ProtoType::Scalar("int32"))
        | (Type::I64, ProtoType::Scalar("int64"))
        | (Type::Bool, ProtoType::Scalar("bool"))
        | (Type::F64, ProtoType::Scalar("double"))
        | (Type::Bytes, ProtoType::Scalar("bytes")) => true,
        (Type::IntOrString, ProtoType::Message(m)) => {
            m == "k8s.io.apimachinery.pkg.util.intstr.IntOrString"
        }
        (Type::Ref(def), ProtoType::Message(m)) => message_name(def).as_deref() == Some(m),
        (Type::Array(i), ProtoType::Message(w)) => match messages.get(w).map(Vec::as_slice) {
            Some([items]) => {
                items.name == "items" && compatible(&Type::Array(i.clone()), &items.ty)
            }
            _ => false,
        },
        (Type::Array(i), ProtoType::Repeated(p)) => compatible(i, p),
        (Type::Map(i), ProtoType::Map(p)) => compatible(i, p),
        _ => false,
    }
}

/// Matches the properties `pending` (indices into `fields`) to the fields of one message at
/// `prefix`: by name (case-insensitive, as Go's protobuf tags spell some names differently:
/// `uID`, `Webhooks`), then the remaining properties inside the message fields left over (Go's
/// embedded structs, which JSON inlines). Returns the message fields that matched nothing.
fn match_fields<'m>(
    def: &str,
    fields: &mut [crate::ir::Field],
    pending: &mut Vec<usize>,
    mfields: &'m [ProtoField],
    prefix: &[u32],
    messages: &'m Messages,
    problems: &mut Vec<String>,
) -> Vec<&'m ProtoField> {
    let mut left = Vec::new();
    for p in mfields {
        let name = proto_name(&p.name);
        let found = pending
            .iter()
            .position(|&i| proto_name(&fields[i].json_name).eq_ignore_ascii_case(&name));
        match found {
            Some(k) => {
                let i = pending.remove(k);
                let f = &mut fields[i];
                if compatible(&f.ty, &p.ty, messages) {
                    f.proto = prefix.iter().copied().chain([p.number]).collect();
                } else {
                    problems.push(format!(
                        "{def}.{}: type {:?} does not match proto {:?}",
                        f.json_name, f.ty, p.ty
                    ));
                }
            }
            None => left.push(p),
        }
    }
    let mut unmatched = Vec::new();
    for p in left {
        let inner = match &p.ty {
            ProtoType::Message(m) => messages.get(m),
            _ => None,
        };
        let before = pending.len();
        if let Some(inner) = inner {
            let path: Vec<u32> = prefix.iter().copied().chain([p.number]).collect();
            let rest = match_fields(def, fields, pending, inner, &path, messages, problems);
            if pending.len() < before {
                for r in rest {
                    problems.push(format!(
                        "{def}: embedded proto field {}.{} ({}) has no property",
                        p.name, r.name, r.number
                    ));
                }
                continue;
            }
        }
        unmatched.push(p);
    }
    unmatched
}

/// Reads the IDL in `dir` and stores the field numbers in `model`; fails on anything unmatched.
pub fn merge_into(model: &mut ApiModel, dir: &Path) -> Result<usize> {
    let messages = load_dir(dir)?;
    let mut problems = Vec::new();
    let mut matched = 0;
    for def in model.defs.values_mut() {
        let DefKind::Struct(fields) = &mut def.kind else {
            continue;
        };
        let Some(mfields) = message_name(&def.name).and_then(|m| messages.get(&m)) else {
            continue;
        };
        let mut pending: Vec<usize> = (0..fields.len()).collect();
        for (i, f) in fields.iter_mut().enumerate() {
            if !def.gvk.is_empty()
                && matches!(f.json_name.as_str(), "apiVersion" | "kind")
                && !mfields
                    .iter()
                    .any(|p| p.name.eq_ignore_ascii_case(&f.json_name))
            {
                pending.retain(|&x| x != i);
            }
        }
        let unmatched = match_fields(
            &def.name,
            fields,
            &mut pending,
            mfields,
            &[],
            &messages,
            &mut problems,
        );
        for p in unmatched {
            problems.push(format!(
                "{}: proto field {} ({}) has no property",
                def.name, p.name, p.number
            ));
        }
        for i in pending {
            problems.push(format!(
                "{}.{}: no proto field",
                def.name, fields[i].json_name
            ));
        }
        matched += 1;
    }
    if problems.is_empty() {
        Ok(matched)
    } else {
        Err(err(
            dir,
            format!(
                "{} protobuf mismatches:\n  {}",
                problems.len(),
                problems.join("\n  ")
            ),
        ))
    }
}

/// The committed Go shapes of a version: `spec/goshapes/v<version>.txt` of this repository,
/// written by `tools/goshapes/refresh.sh`.
pub fn shapes_file(version: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../spec/goshapes")
        .join(format!("v{version}.txt"))
}

/// Reads a Go shapes file (`<definition> <path> <shape> [omitempty] [omitzero]` per line) and
/// stores the shape of every field that has a protobuf number; fails when one has none.
pub fn merge_shapes(model: &mut ApiModel, path: &Path) -> Result<usize> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        err(
            path,
            format!("cannot read the Go shapes ({e}); run tools/goshapes/refresh.sh"),
        )
    })?;
    let mut shapes: BTreeMap<(&str, &str), GoShape> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let words: Vec<&str> = line.split(' ').collect();
        let parsed = match words.as_slice() {
            [def, number, rest @ ..] => GoShape::parse(rest).map(|s| ((*def, *number), s)),
            _ => None,
        };
        let (key, shape) = parsed.ok_or_else(|| Error::Model {
            path: path.to_owned(),
            line: i + 1,
            message: format!("bad Go shape line {line:?}"),
        })?;
        shapes.insert(key, shape);
    }
    let mut problems = Vec::new();
    let mut count = 0;
    for def in model.defs.values_mut() {
        let DefKind::Struct(fields) = &mut def.kind else {
            continue;
        };
        for f in fields.iter_mut().filter(|f| !f.proto.is_empty()) {
            let number: Vec<String> = f.proto.iter().map(u32::to_string).collect();
            match shapes.get(&(def.name.as_str(), number.join(".").as_str())) {
                Some(s) => {
                    f.go_shape = Some(*s);
                    count += 1;
                }
                None => problems.push(format!(
                    "{}.{} (proto {}): no Go shape",
                    def.name,
                    f.json_name,
                    number.join(".")
                )),
            }
        }
    }
    if problems.is_empty() {
        Ok(count)
    } else {
        Err(err(
            path,
            format!(
                "{} fields without a Go shape (run tools/goshapes/refresh.sh):\n  {}",
                problems.len(),
                problems.join("\n  ")
            ),
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model_text;

    const PROTO: &str = r#"
syntax = "proto2";
package k8s.io.api.example.v1;
message Widget {
  optional WidgetSpec spec = 2;
  optional Common common = 3;
}
message Common {
  optional string uID = 1;
}
message ExtraValue {
  repeated string items = 1;
}
message WidgetSpec {
  map<string, ExtraValue> extra = 1;
  optional int32 count = 4;
}
"#;

    fn model(count_type: &str) -> ApiModel {
        let text = format!(
            "version 1.0.0\n\
             def io.k8s.api.example.v1.Widget struct\n  gvk example/v1/Widget\n  \
             field apiVersion string\n  field kind string\n  \
             field spec ref:io.k8s.api.example.v1.WidgetSpec\n  field uid string\n\
             def io.k8s.api.example.v1.WidgetSpec struct\n  \
             field count {count_type}\n  field extra {{[string]}}\n"
        );
        model_text::parse(&text, Path::new("test.api")).unwrap()
    }

    fn proto_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("k8s.io/api/example/v1");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join("generated.proto"), PROTO).unwrap();
        dir
    }

    fn numbers(m: &ApiModel, def: &str) -> Vec<(String, Vec<u32>)> {
        let DefKind::Struct(fields) = &m.defs[def].kind else {
            panic!("{def} is a struct")
        };
        fields
            .iter()
            .map(|f| (f.json_name.clone(), f.proto.clone()))
            .collect()
    }

    #[test]
    fn fields_match_by_name_embedded_structs_and_wrappers() {
        let dir = proto_dir();
        let mut m = model("i32");
        assert_eq!(merge_into(&mut m, dir.path()).unwrap(), 2);
        let n = |s: &str, p: &[u32]| (s.to_owned(), p.to_vec());
        assert_eq!(
            numbers(&m, "io.k8s.api.example.v1.Widget"),
            [
                n("apiVersion", &[]),
                n("kind", &[]),
                n("spec", &[2]),
                n("uid", &[3, 1])
            ]
        );
        assert_eq!(
            numbers(&m, "io.k8s.api.example.v1.WidgetSpec"),
            [n("count", &[4]), n("extra", &[1])]
        );
        // The numbers survive the committed model text.
        let text = model_text::write(&m);
        assert!(
            text.contains("  field uid string\n    proto 3.1\n"),
            "{text}"
        );
        assert_eq!(model_text::parse(&text, Path::new("x")).unwrap(), m);
    }

    #[test]
    fn a_type_mismatch_or_an_unmatched_field_fails_naming_both() {
        let dir = proto_dir();
        let e = merge_into(&mut model("i64"), dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("io.k8s.api.example.v1.WidgetSpec.count: type I64 does not match proto Scalar(\"int32\")"),
            "{e}"
        );
        let mut m = model("i32");
        if let DefKind::Struct(f) = &mut m
            .defs
            .get_mut("io.k8s.api.example.v1.WidgetSpec")
            .unwrap()
            .kind
        {
            f.retain(|f| f.json_name != "count");
        }
        let e = merge_into(&mut m, dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("io.k8s.api.example.v1.WidgetSpec: proto field count (4) has no property"),
            "{e}"
        );
    }

    #[test]
    fn go_shapes_are_stored_written_and_required() {
        let dir = proto_dir();
        let mut m = model("i32");
        merge_into(&mut m, dir.path()).unwrap();
        let shapes = dir.path().join("shapes.txt");
        std::fs::write(
            &shapes,
            "io.k8s.api.example.v1.Widget 2 value\n\
             io.k8s.api.example.v1.Widget 3 value\n\
             io.k8s.api.example.v1.Widget 3.1 value omitempty\n\
             io.k8s.api.example.v1.WidgetSpec 1 map omitempty\n\
             io.k8s.api.example.v1.WidgetSpec 4 ptr omitempty\n",
        )
        .unwrap();
        assert_eq!(merge_shapes(&mut m, &shapes).unwrap(), 4);
        let text = model_text::write(&m);
        assert!(
            text.contains("  field uid string\n    proto 3.1 value omitempty\n"),
            "{text}"
        );
        assert!(
            text.contains("  field count i32\n    proto 4 ptr\n"),
            "{text}"
        );
        assert_eq!(model_text::parse(&text, Path::new("x")).unwrap(), m);
        // A field with a number and no shape fails, naming it.
        std::fs::write(&shapes, "io.k8s.api.example.v1.Widget 2 value\n").unwrap();
        let e = merge_shapes(&mut m, &shapes).unwrap_err().to_string();
        assert!(
            e.contains("io.k8s.api.example.v1.WidgetSpec.count (proto 4): no Go shape"),
            "{e}"
        );
        std::fs::write(&shapes, "io.k8s.api.example.v1.Widget 2 pointer\n").unwrap();
        let e = merge_shapes(&mut m, &shapes).unwrap_err().to_string();
        assert!(e.contains("bad Go shape line"), "{e}");
    }

    #[test]
    fn names_map_between_openapi_and_proto() {
        assert_eq!(
            message_name("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON")
                .as_deref(),
            Some("k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSON")
        );
        assert_eq!(proto_name("$ref"), "ref");
        assert_eq!(
            proto_name("x-kubernetes-preserve-unknown-fields"),
            "xKubernetesPreserveUnknownFields"
        );
    }
}
