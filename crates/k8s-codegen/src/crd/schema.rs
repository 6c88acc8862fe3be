//! A CRD version's `openAPIV3Schema` → IR definitions.
//!
//! # Mapping
//!
//! | schema | Rust |
//! |---|---|
//! | `type: object` with `properties` | a struct of its own (see *Names*) |
//! | `type: object` with `additionalProperties: {schema}` | `BTreeMap<String, T>` |
//! | `type: object` with neither | `serde_json::Value` |
//! | `x-kubernetes-preserve-unknown-fields: true` (root of `spec`/`status` or nested) | `serde_json::Value`: every field the server keeps is kept, typed or not |
//! | `x-kubernetes-embedded-resource: true` | `serde_json::Value` (any object with `apiVersion`, `kind`, `metadata`) |
//! | `x-kubernetes-int-or-string: true` (also the quantity-like `anyOf: [integer, string]`) | `k8s_core::IntOrString` |
//! | `type: array` | `Vec<T>` (list type and map keys in the field's docs) |
//! | `type: string` with `enum` | an enum of its own with a fallback variant `Other(String)`, so a value a newer server adds still decodes |
//! | `type: string`, `format: date-time` / `byte` | `k8s_core::Time` / `k8s_core::ByteString`; other formats: `String` |
//! | `type: integer`, `format: int32` / `int64` or none | `i32` / `i64` |
//! | `type: number` | `f64` |
//! | `type: boolean` | `bool` |
//! | `nullable: true` | `Option<T>` even when required |
//! | `oneOf` / `anyOf` / `allOf` / `not` | in a structural schema they only validate: listed in the docs |
//! | `default`, `pattern`, bounds, `x-kubernetes-validations` (CEL) | in the docs |
//!
//! # Names
//!
//! The kind's type is named as the kind. A nested object or enum is named by its path: the
//! kind, then the PascalCase of each property on the way (`Certificate` → `spec` →
//! `privateKey`: `CertificateSpecPrivateKey`); array items and map values take the name of
//! their property. **Collision rule**: names are given depth-first in property order (properties
//! sorted by name); when a name is already taken in the group-version (by a kind, a kind's
//! `…List`, or an earlier path), the later path gets the first free suffix `2`, `3`, ….
//! Field names are snake case, keywords get a trailing `_` (`type` → `type_`); when two
//! properties of one object give the same snake-case name, the later one (in name order) gets
//! the suffix `_2`, `_3`, … (its JSON name is unchanged).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::load::CrdSource;
use crate::error::{Error, Result, pointer_token};
use crate::ir::{DefKind, Definition, Field, Gvk, Type};
use crate::naming;

/// Extension key (on a [`Field`]) of the Rust field name when it is not the snake case of the
/// JSON name (fields that collide after snake-casing).
pub const RUST_NAME_EXT: &str = "x-k8s-sdk-rust-name";
/// Extension key (on a [`Definition`] of kind `Scalar(String)`) of the JSON array of an enum's
/// values.
pub const ENUM_EXT: &str = "x-k8s-sdk-enum";

/// Formats the Kubernetes API server knows (`apiextensions-apiserver`'s list); any other is an
/// error, since the server would not check it.
const KNOWN_FORMATS: &[&str] = &[
    "bsonobjectid",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "byte",
    "password",
    "date",
    "duration",
    "datetime",
    "date-time",
    "int32",
    "int64",
    "float",
    "double",
    "int-or-string",
];

/// The definitions of one group-version under construction.
pub(crate) struct GroupVersion {
    /// Module of the group (`cert_manager_io`).
    pub(crate) group_mod: String,
    /// Version (`v1`).
    pub(crate) version: String,
    /// Definitions by full name.
    pub(crate) defs: BTreeMap<String, Definition>,
    /// Type names taken.
    taken: BTreeSet<String>,
}

impl GroupVersion {
    pub(crate) fn new(group_mod: &str, version: &str) -> Self {
        GroupVersion {
            group_mod: group_mod.to_owned(),
            version: version.to_owned(),
            defs: BTreeMap::new(),
            taken: BTreeSet::new(),
        }
    }

    /// The full definition name of a type of this group-version.
    pub(crate) fn def_name(&self, ty: &str) -> String {
        format!("io.k8s.api.{}.{}.{}", self.group_mod, self.version, ty)
    }

    /// Reserves a name exactly (kinds and their lists); false when already taken.
    pub(crate) fn reserve(&mut self, ty: &str) -> bool {
        self.taken.insert(ty.to_owned())
    }

    /// A free type name for `hint` by the collision rule.
    pub(crate) fn free_name(&mut self, hint: &str) -> String {
        let mut name = hint.to_owned();
        let mut i = 2;
        while self.taken.contains(&name) {
            name = format!("{hint}{i}");
            i += 1;
        }
        self.taken.insert(name.clone());
        name
    }
}

/// Converts one served version's schema of a CRD into the kind's definition and its nested types.
pub(crate) struct Converter<'a> {
    pub(crate) src: &'a CrdSource,
    pub(crate) gv: &'a mut GroupVersion,
}

fn flag(o: &serde_json::Map<String, Value>, key: &str) -> bool {
    o.get(key).and_then(Value::as_bool).unwrap_or(false)
}

impl Converter<'_> {
    fn err(&self, ptr: &str, message: impl Into<String>) -> Error {
        self.src.error(ptr, message)
    }

    /// The kind's definition (already reserved name `kind`) from the root schema at `ptr`.
    pub(crate) fn kind_def(
        &mut self,
        gvk: &Gvk,
        ty: &str,
        root: &Value,
        ptr: &str,
        kind_doc: Option<String>,
    ) -> Result<()> {
        let o = root
            .as_object()
            .ok_or_else(|| self.err(ptr, "openAPIV3Schema is not an object"))?;
        if let Some(t) = o.get("type").and_then(Value::as_str) {
            if t != "object" {
                return Err(self.err(
                    &format!("{ptr}/type"),
                    format!("the root of a CRD schema must be an object, not {t}"),
                ));
            }
        }
        self.check_ref(o, ptr)?;
        let mut fields = vec![
            plain_field("apiVersion", Type::String, false),
            plain_field("kind", Type::String, false),
            plain_field(
                "metadata",
                Type::Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta".into()),
                true,
            ),
        ];
        let props = self.struct_fields(o, ptr, ty, &["apiVersion", "kind", "metadata"])?;
        fields.extend(props);
        let mut description = o
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let Some(extra) = kind_doc {
            let d = description.get_or_insert_with(String::new);
            if !d.is_empty() {
                d.push_str("\n\n");
            }
            d.push_str(&extra);
        }
        let name = self.gv.def_name(ty);
        self.gv.defs.insert(
            name.clone(),
            Definition {
                name,
                description,
                gvk: vec![gvk.clone()],
                kind: DefKind::Struct(fields),
                ext: BTreeMap::new(),
            },
        );
        Ok(())
    }

    fn check_ref(&self, o: &serde_json::Map<String, Value>, ptr: &str) -> Result<()> {
        if o.contains_key("$ref") {
            return Err(self.err(
                &format!("{ptr}/$ref"),
                "$ref is not allowed in a CRD schema (a structural schema is self-contained)",
            ));
        }
        Ok(())
    }

    /// The fields of an object schema's `properties` (except `skip`), named for the type `owner`.
    fn struct_fields(
        &mut self,
        o: &serde_json::Map<String, Value>,
        ptr: &str,
        owner: &str,
        skip: &[&str],
    ) -> Result<Vec<Field>> {
        let required: BTreeSet<&str> = o
            .get("required")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(props) = o.get("properties") else {
            return Ok(Vec::new());
        };
        let props = props
            .as_object()
            .ok_or_else(|| self.err(&format!("{ptr}/properties"), "properties is not an object"))?;
        let mut fields = Vec::new();
        let mut rust_names: BTreeSet<String> = ["api_version", "kind", "metadata"]
            .iter()
            .filter(|_| !skip.is_empty())
            .map(|s| (*s).to_owned())
            .collect();
        for (json_name, schema) in props {
            if skip.contains(&json_name.as_str()) {
                continue;
            }
            let fptr = format!("{ptr}/properties/{}", pointer_token(json_name));
            let hint = format!("{owner}{}", type_word(json_name));
            let ty = self.ty(schema, &fptr, &hint)?;
            let so = schema.as_object();
            let nullable = so.is_some_and(|s| flag(s, "nullable"));
            let mut ext = BTreeMap::new();
            if let Some(s) = so {
                for k in [
                    "x-kubernetes-list-type",
                    "x-kubernetes-list-map-keys",
                    "x-kubernetes-map-type",
                ] {
                    if let Some(v) = s.get(k) {
                        ext.insert(k.to_owned(), v.to_string());
                    }
                }
            }
            let base = naming::snake(json_name);
            let mut rust = base.clone();
            let mut i = 2;
            while !rust_names.insert(rust.clone()) {
                rust = format!("{base}_{i}");
                i += 1;
            }
            if rust != base {
                ext.insert(RUST_NAME_EXT.to_owned(), Value::String(rust).to_string());
            }
            fields.push(Field {
                proto: Vec::new(),
                go_shape: None,
                json_name: json_name.clone(),
                ty,
                required: required.contains(json_name.as_str()) && !nullable,
                description: so.and_then(field_doc),
                default: so.and_then(|s| s.get("default")).map(Value::to_string),
                ext,
            });
        }
        Ok(fields)
    }

    /// The type of a schema; nested objects and enums become definitions named from `hint`.
    fn ty(&mut self, schema: &Value, ptr: &str, hint: &str) -> Result<Type> {
        let o = schema
            .as_object()
            .ok_or_else(|| self.err(ptr, "a schema must be an object"))?;
        self.check_ref(o, ptr)?;
        if let Some(f) = o.get("format").and_then(Value::as_str) {
            if !KNOWN_FORMATS.contains(&f) {
                return Err(self.err(
                    &format!("{ptr}/format"),
                    format!(
                        "unknown format {f:?} (the API server knows {})",
                        KNOWN_FORMATS.join(", ")
                    ),
                ));
            }
        }
        if flag(o, "x-kubernetes-int-or-string") {
            return Ok(Type::IntOrString);
        }
        if flag(o, "x-kubernetes-preserve-unknown-fields")
            || flag(o, "x-kubernetes-embedded-resource")
        {
            return Ok(Type::Any);
        }
        let format = o.get("format").and_then(Value::as_str);
        match o.get("type").and_then(Value::as_str) {
            Some("object") => {
                if o.get("properties").and_then(Value::as_object).is_some_and(|p| !p.is_empty()) {
                    let name = self.gv.free_name(hint);
                    let fields = self.struct_fields(o, ptr, &name, &[])?;
                    let def = self.gv.def_name(&name);
                    self.gv.defs.insert(
                        def.clone(),
                        Definition {
                            name: def.clone(),
                            description: None,
                            gvk: Vec::new(),
                            kind: DefKind::Struct(fields),
                            ext: BTreeMap::new(),
                        },
                    );
                    Ok(Type::Ref(def))
                } else if let Some(ap) = o.get("additionalProperties") {
                    match ap {
                        Value::Object(_) => {
                            let inner = self.ty(ap, &format!("{ptr}/additionalProperties"), hint)?;
                            Ok(Type::Map(Box::new(inner)))
                        }
                        _ => Ok(Type::Any),
                    }
                } else {
                    Ok(Type::Any)
                }
            }
            Some("array") => match o.get("items") {
                Some(items) => Ok(Type::Array(Box::new(self.ty(
                    items,
                    &format!("{ptr}/items"),
                    hint,
                )?))),
                None => Ok(Type::Array(Box::new(Type::Any))),
            },
            Some("string") => {
                if let Some(values) = o.get("enum").and_then(Value::as_array) {
                    if let Some(t) = self.string_enum(values, hint) {
                        return Ok(t);
                    }
                }
                Ok(match format {
                    Some("date-time") => Type::DateTime,
                    Some("byte") => Type::Bytes,
                    _ => Type::String,
                })
            }
            Some("integer") => Ok(if format == Some("int32") {
                Type::I32
            } else {
                Type::I64
            }),
            Some("number") => Ok(Type::F64),
            Some("boolean") => Ok(Type::Bool),
            Some(other) => Err(self.err(&format!("{ptr}/type"), format!("unknown type {other:?}"))),
            None => Err(self.err(
                ptr,
                "non-structural schema: no `type` (only allowed with x-kubernetes-int-or-string or x-kubernetes-preserve-unknown-fields)",
            )),
        }
    }

    /// An enum definition for string values; `None` when the values do not make distinct
    /// variant names (then the field stays a `String`, the values in its docs).
    fn string_enum(&mut self, values: &[Value], hint: &str) -> Option<Type> {
        let strings: Vec<&str> = values.iter().map(Value::as_str).collect::<Option<_>>()?;
        if strings.is_empty() {
            return None;
        }
        let mut variants = BTreeSet::new();
        for s in &strings {
            if !variants.insert(variant_name(s)) {
                return None;
            }
        }
        if variants.contains("Other") {
            return None;
        }
        let name = self.gv.free_name(hint);
        let def = self.gv.def_name(&name);
        let mut ext = BTreeMap::new();
        ext.insert(
            ENUM_EXT.to_owned(),
            Value::Array(
                strings
                    .iter()
                    .map(|s| Value::String((*s).to_owned()))
                    .collect(),
            )
            .to_string(),
        );
        self.gv.defs.insert(
            def.clone(),
            Definition {
                name: def.clone(),
                description: None,
                gvk: Vec::new(),
                kind: DefKind::Scalar(Type::String),
                ext,
            },
        );
        Some(Type::Ref(def))
    }
}

/// The variant name of an enum value: PascalCase of its words (`""` → `Empty`; a leading digit
/// gets a `V`).
pub fn variant_name(value: &str) -> String {
    let mut p = naming::pascal(value);
    if value.is_empty() {
        p = "Empty".to_owned();
    } else if p.is_empty() {
        // Only punctuation (`*`, `-`): spelled by code points.
        p = value
            .chars()
            .map(|c| format!("U{:X}", c as u32))
            .collect::<String>();
    }
    if p.starts_with(|c: char| c.is_ascii_digit()) {
        p.insert(0, 'V');
    }
    if p == "Self" {
        p.push('_');
    }
    p
}

/// The PascalCase word a property adds to a type name.
fn type_word(json_name: &str) -> String {
    let p = naming::pascal(json_name);
    if p.is_empty() { "Field".to_owned() } else { p }
}

fn plain_field(name: &str, ty: Type, required: bool) -> Field {
    Field {
        proto: Vec::new(),
        go_shape: None,
        json_name: name.to_owned(),
        ty,
        required,
        description: None,
        default: None,
        ext: BTreeMap::new(),
    }
}

/// A field's docs: its description, then its validations (enum values, format, pattern, bounds,
/// CEL rules, `oneOf`/`anyOf`/`allOf`), one sentence each.
fn field_doc(s: &serde_json::Map<String, Value>) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    if let Some(d) = s.get("description").and_then(Value::as_str) {
        parts.push(d.to_owned());
    }
    let mut v = Vec::new();
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        let list: Vec<String> = e.iter().map(Value::to_string).collect();
        v.push(format!("One of: {}.", list.join(", ")));
    }
    if let Some(f) = s.get("format").and_then(Value::as_str) {
        if !matches!(f, "int32" | "int64" | "date-time" | "byte") {
            v.push(format!("Format: {f}."));
        }
    }
    if let Some(p) = s.get("pattern").and_then(Value::as_str) {
        v.push(format!("Pattern: {p}"));
    }
    for (k, word) in [
        ("minimum", "Minimum"),
        ("maximum", "Maximum"),
        ("minLength", "Minimum length"),
        ("maxLength", "Maximum length"),
        ("minItems", "Minimum items"),
        ("maxItems", "Maximum items"),
        ("minProperties", "Minimum properties"),
        ("maxProperties", "Maximum properties"),
        ("multipleOf", "Multiple of"),
    ] {
        if let Some(x) = s.get(k) {
            let excl = match k {
                "minimum" if flag(s, "exclusiveMinimum") => " (exclusive)",
                "maximum" if flag(s, "exclusiveMaximum") => " (exclusive)",
                _ => "",
            };
            v.push(format!("{word}: {x}{excl}."));
        }
    }
    if flag(s, "uniqueItems") {
        v.push("Items are unique.".into());
    }
    if let Some(rules) = s.get("x-kubernetes-validations").and_then(Value::as_array) {
        for r in rules {
            let rule = r.get("rule").and_then(Value::as_str).unwrap_or_default();
            match r.get("message").and_then(Value::as_str) {
                Some(m) => v.push(format!("Validation (CEL): {rule} ({m}).")),
                None => v.push(format!("Validation (CEL): {rule}.")),
            }
        }
    }
    for (k, word) in [
        ("oneOf", "Exactly one of"),
        ("anyOf", "At least one of"),
        ("allOf", "All of"),
    ] {
        if let Some(alts) = s.get(k).and_then(Value::as_array) {
            let list: Vec<String> = alts.iter().map(Value::to_string).collect();
            v.push(format!("{word}: {}.", list.join(" | ")));
        }
    }
    if flag(s, "nullable") {
        v.push("May be null.".into());
    }
    if !v.is_empty() {
        parts.push(v.join(" "));
    }
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}
