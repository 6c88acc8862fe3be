//! Stage 2c: protobuf codecs: `k8s_core::protobuf::Message` for every generated struct whose
//! definition has a message (its fields carry `proto` numbers and Go shapes, see
//! `load_proto.rs`), and for the schema unions; `k8s_core::protobuf::Field` for the opaque
//! types (empty Go structs). Every item is behind k8s-api's feature `protobuf`, so without it
//! nothing of this is compiled.
//!
//! **Wire rules** (Go's encoder, so that re-encoding a decoded body gives the server's bytes):
//! fields in field-number order; a Go value field is always written (an `Option` one writes
//! `None` as the zero value, `Field::encode_value`), a pointer only when set. Decoding a Go value
//! field whose JSON tag has `omitempty` reads the zero value as `None` (`Field::merge_value`), as
//! the server's JSON leaves it out. A Go embedded struct (inlined in JSON, flat in Rust) is a
//! nested message (`proto 2.2.1`); a list in a list or map is a wrapper message (`ExtraValue`).

use std::collections::BTreeMap;

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use crate::ir::{ApiModel, DefKind, Definition, Field, GoShape, Type};

/// Whether the model has protobuf facts at all (built-in versions with `proto/`; not custom
/// resources or the 1.28 model).
pub(super) fn model_has_protobuf(model: &ApiModel) -> bool {
    model.defs.values().any(|d| match &d.kind {
        DefKind::Struct(fields) => fields.iter().any(|f| f.go_shape.is_some()),
        _ => false,
    })
}

/// One field of a struct with its Rust name.
pub(super) struct PbField<'a> {
    pub(super) ident: Ident,
    pub(super) field: &'a Field,
}

/// How a field's value is read and written.
#[derive(Clone, Copy)]
enum Rule {
    /// `Field::encode` / `Field::merge` (required fields, pointers, lists, maps).
    Plain,
    /// An `Option` of a Go value type: `None` written as zero; zero read as `None` when
    /// `omitted` (JSON's `omitempty`), else as `Some(zero)`.
    Value { omitted: bool },
    /// A list of lists (wrapper messages).
    NestedLists,
    /// A map of lists (wrapper messages).
    ListMap,
}

fn rule(f: &Field) -> Rule {
    let wrapped = |t: &Type| matches!(t, Type::Array(_));
    match &f.ty {
        Type::Array(inner) if wrapped(inner) => return Rule::NestedLists,
        Type::Map(inner) if wrapped(inner) => return Rule::ListMap,
        _ => {}
    }
    match f.go_shape {
        Some(GoShape::Value { omitted }) if !f.required => Rule::Value { omitted },
        _ => Rule::Plain,
    }
}

/// A tree of fields by field-number path: leaves are struct fields, inner nodes embedded structs.
enum Node<'a> {
    Leaf(&'a PbField<'a>),
    Embedded(BTreeMap<u32, Node<'a>>),
}

fn tree<'a>(fields: &'a [PbField<'a>]) -> BTreeMap<u32, Node<'a>> {
    let mut root = BTreeMap::new();
    for f in fields {
        let Some((last, path)) = f.field.proto.split_last() else {
            continue;
        };
        let mut level = &mut root;
        for n in path {
            let node = level
                .entry(*n)
                .or_insert_with(|| Node::Embedded(BTreeMap::new()));
            level = match node {
                Node::Embedded(m) => m,
                // A number used by a field and an embedded struct: load_proto never builds it.
                Node::Leaf(_) => return BTreeMap::new(),
            };
        }
        level.insert(*last, Node::Leaf(f));
    }
    root
}

/// A field number as written by hand (`3`, not `3u32`).
fn num(n: u32) -> Literal {
    Literal::u32_unsuffixed(n)
}

fn encode_level(level: &BTreeMap<u32, Node<'_>>) -> TokenStream {
    let lines = level
        .iter()
        .map(|(n, node)| (num(*n), node))
        .map(|(n, node)| match node {
            Node::Leaf(f) => {
                let id = &f.ident;
                match rule(f.field) {
                    Rule::Plain => quote!(Field::encode(&self.#id, #n, w);),
                    Rule::Value { .. } => quote!(Field::encode_value(&self.#id, #n, w);),
                    Rule::NestedLists if f.field.required => {
                        quote!(k8s_core::protobuf::encode_nested_lists(&self.#id, #n, w);)
                    }
                    Rule::NestedLists => quote! {
                        if let Some(v) = &self.#id {
                            k8s_core::protobuf::encode_nested_lists(v, #n, w);
                        }
                    },
                    Rule::ListMap if f.field.required => {
                        quote!(k8s_core::protobuf::encode_list_map(&self.#id, #n, w);)
                    }
                    Rule::ListMap => quote! {
                        if let Some(v) = &self.#id {
                            k8s_core::protobuf::encode_list_map(v, #n, w);
                        }
                    },
                }
            }
            Node::Embedded(inner) => {
                let body = encode_level(inner);
                quote!(w.nested(#n, |w| { #body });)
            }
        });
    quote!(#(#lines)*)
}

fn merge_level(level: &BTreeMap<u32, Node<'_>>) -> TokenStream {
    let arms = level
        .iter()
        .map(|(n, node)| (num(*n), node))
        .map(|(n, node)| match node {
            Node::Leaf(f) => {
                let id = &f.ident;
                let slot = if f.field.required {
                    quote!(&mut self.#id)
                } else {
                    quote!(self.#id.get_or_insert_with(Default::default))
                };
                match rule(f.field) {
                    Rule::Plain => quote!(#n => Field::merge(&mut self.#id, value),),
                    Rule::Value { omitted: true } => {
                        quote!(#n => Field::merge_value(&mut self.#id, value),)
                    }
                    Rule::Value { omitted: false } => {
                        quote!(#n => Field::merge(&mut self.#id, value),)
                    }
                    Rule::NestedLists => {
                        quote!(#n => k8s_core::protobuf::merge_nested_list(#slot, value),)
                    }
                    Rule::ListMap => {
                        quote!(#n => k8s_core::protobuf::merge_list_map_entry(#slot, value),)
                    }
                }
            }
            Node::Embedded(inner) => {
                let body = merge_level(inner);
                quote! {
                    #n => k8s_core::protobuf::merge_embedded(value, |field, value| #body),
                }
            }
        });
    quote! {
        match field {
            #(#arms)*
            _ => Ok(()),
        }
    }
}

/// `impl Message` of a struct; nothing when its definition has no message.
pub(super) fn emit_struct_message(
    ty: &Ident,
    fields: &[PbField<'_>],
    gvk_typed: bool,
) -> TokenStream {
    if fields.iter().all(|f| f.field.proto.is_empty()) {
        return TokenStream::new();
    }
    // A type without one group-version-kind that stores `apiVersion`/`kind` (discovery
    // documents): they are the envelope's, kept when decoding and written back.
    let own = |json: &str| {
        fields
            .iter()
            .find(|f| f.field.json_name == json && f.field.proto.is_empty() && !f.field.required)
            .map(|f| &f.ident)
    };
    let own_type = match (gvk_typed, own("apiVersion"), own("kind")) {
        (false, Some(av), Some(kind)) => Some(quote! {
            fn envelope_type(&self) -> k8s_core::protobuf::TypeMeta {
                k8s_core::protobuf::TypeMeta::new(
                    self.#av.as_deref().unwrap_or_default(),
                    self.#kind.as_deref().unwrap_or_default(),
                )
            }

            fn set_type_meta(&mut self, type_meta: &k8s_core::protobuf::TypeMeta) {
                self.#av = Some(type_meta.api_version.clone()).filter(|v| !v.is_empty());
                self.#kind = Some(type_meta.kind.clone()).filter(|k| !k.is_empty());
            }
        }),
        _ => None,
    };
    let encode = encode_level(&tree(fields));
    let merge = merge_level(&tree(fields));
    let type_meta = gvk_typed.then(|| {
        quote! {
            fn type_meta() -> Option<k8s_core::protobuf::TypeMeta> {
                Some(k8s_core::protobuf::TypeMeta::new(
                    <Self as k8s_core::Resource>::API_VERSION,
                    <Self as k8s_core::Resource>::KIND,
                ))
            }
        }
    });
    quote! {
        #[cfg(feature = "protobuf")]
        impl k8s_core::protobuf::Message for #ty {
            fn encode_fields(&self, w: &mut k8s_core::protobuf::Writer) {
                use k8s_core::protobuf::Field;
                #encode
            }

            fn merge_field(
                &mut self,
                field: u32,
                value: k8s_core::protobuf::Value<'_>,
            ) -> Result<(), k8s_core::protobuf::Error> {
                use k8s_core::protobuf::Field;
                #merge
            }

            #type_meta
            #own_type
        }
    }
}

/// `Field` of an opaque type (an empty Go struct, `{}` in JSON): an empty message, read as `{}`.
pub(super) fn emit_opaque_field(model: &ApiModel, d: &Definition, ty: &Ident) -> TokenStream {
    if !d.name.starts_with("io.k8s.") || !model_has_protobuf(model) {
        return TokenStream::new();
    }
    quote! {
        /// An empty message; read as `{}`, as the server's JSON has it.
        #[cfg(feature = "protobuf")]
        impl k8s_core::protobuf::Field for #ty {
            fn merge(
                &mut self,
                value: k8s_core::protobuf::Value<'_>,
            ) -> Result<(), k8s_core::protobuf::Error> {
                k8s_core::protobuf::merge_embedded(value, |_, _| Ok(()))?;
                if !self.0.is_object() {
                    self.0 = serde_json::Value::Object(serde_json::Map::new());
                }
                Ok(())
            }

            fn encode(&self, field: u32, w: &mut k8s_core::protobuf::Writer) {
                w.nested(field, |_| {});
            }
        }
    }
}

/// `Message` of a schema union (`JSONSchemaPropsOr*`), as Go's types write them:
/// `OrArray {schema 1, jSONSchemas 2}`, `OrBool {allows 1, schema 2}` (a schema allows),
/// `OrStringArray {schema 1, property 2}`. `Default` is what an empty message reads as.
pub(super) fn emit_union_message(model: &ApiModel, name: &str, ty: &Ident) -> TokenStream {
    if !model_has_protobuf(model) {
        return TokenStream::new();
    }
    // `JSONSchemaPropsOrArray` and `JSONSchemaPropsOrStringArray`: a schema (field 1) or a
    // list (field 2) held in the variant `list`.
    let schema_or_list = |list: &str| {
        let list = format_ident!("{list}");
        (
            quote! {
                match self {
                    Self::Schema(s) => s.encode(1, w),
                    Self::#list(v) => v.encode(2, w),
                }
            },
            quote! {
                match field {
                    1 => {
                        let mut s = Box::default();
                        Field::merge(&mut s, value)?;
                        *self = Self::Schema(s);
                        Ok(())
                    }
                    2 => match self {
                        Self::#list(v) => Field::merge(v, value),
                        Self::Schema(_) => {
                            let mut v = Vec::new();
                            Field::merge(&mut v, value)?;
                            *self = Self::#list(v);
                            Ok(())
                        }
                    },
                    _ => Ok(()),
                }
            },
            quote!(Self::#list(Vec::new())),
        )
    };
    let (encode, merge, default) = match name {
        "JSONSchemaPropsOrArray" => schema_or_list("Schemas"),
        "JSONSchemaPropsOrBool" => (
            quote! {
                match self {
                    Self::Bool(b) => b.encode(1, w),
                    Self::Schema(s) => {
                        true.encode(1, w);
                        s.encode(2, w);
                    }
                }
            },
            quote! {
                match field {
                    1 => match self {
                        Self::Bool(b) => Field::merge(b, value),
                        Self::Schema(_) => Ok(()),
                    },
                    2 => {
                        let mut s = Box::default();
                        Field::merge(&mut s, value)?;
                        *self = Self::Schema(s);
                        Ok(())
                    }
                    _ => Ok(()),
                }
            },
            quote!(Self::Bool(false)),
        ),
        _ => schema_or_list("Strings"),
    };
    quote! {
        /// What an empty protobuf message reads as.
        #[cfg(feature = "protobuf")]
        impl Default for #ty {
            fn default() -> Self {
                #default
            }
        }

        #[cfg(feature = "protobuf")]
        impl k8s_core::protobuf::Message for #ty {
            fn encode_fields(&self, w: &mut k8s_core::protobuf::Writer) {
                use k8s_core::protobuf::Field;
                #encode
            }

            fn merge_field(
                &mut self,
                field: u32,
                value: k8s_core::protobuf::Value<'_>,
            ) -> Result<(), k8s_core::protobuf::Error> {
                use k8s_core::protobuf::Field;
                #merge
            }
        }
    }
}
