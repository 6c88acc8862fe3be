//! Stage 2a: the Rust types of definitions (structs, aliases, opaque JSON, schema unions) and
//! their trait impls (`Resource`, `Object`, the redacting `Debug` of `Secret`). The serde impls
//! of structs are [`super::serde_impls`].

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::quote;

use super::docs::doc_attrs;
use super::ident;
use super::layout::union_schema;
use super::namer::{Ctx, Namer};
use super::serde_impls::{FieldGen, emit_serde};
use crate::error::{Error, Result};
use crate::ir::{DefKind, Definition, Field, Special, Type};
use crate::naming::{def_location, snake};
use crate::plan::ResourceRow;

/// `Secret` gets a `Debug` that never shows its values.
fn is_secret(d: &Definition) -> bool {
    d.name == "io.k8s.api.core.v1.Secret"
}

/// The items of one definition: its type and impls (its operations are
/// [`super::operations`]).
pub(super) fn emit_def(
    ctx: &Ctx<'_>,
    n: &Namer<'_>,
    d: &Definition,
    row: Option<&ResourceRow>,
) -> Result<TokenStream> {
    let (_, name) = def_location(&d.name).unwrap_or_default();
    let ty = ident(&name);
    let doc = doc_attrs(d.description.as_deref());
    match &d.kind {
        DefKind::Opaque => {
            let pb = super::protobuf::emit_opaque_field(ctx.model, d, &ty);
            Ok(quote! {
                #doc
                #[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
                #[serde(transparent)]
                pub struct #ty(pub serde_json::Value);
                #pb
            })
        }
        DefKind::Scalar(_) if d.ext.contains_key(crate::crd::schema::ENUM_EXT) => {
            emit_string_enum(d, &name, doc)
        }
        DefKind::Scalar(t) => {
            let t = ctx.rust_type(t, n)?;
            Ok(quote!(#doc pub type #ty = #t;))
        }
        DefKind::Special(Special::SchemaUnion) => {
            let mut out = emit_schema_union(n, d, &name, doc)?;
            out.extend(super::protobuf::emit_union_message(ctx.model, &name, &ty));
            Ok(out)
        }
        DefKind::Struct(fields) => emit_struct(ctx, n, d, &name, fields, row),
        DefKind::Special(_) | DefKind::Skipped(_) => Ok(TokenStream::new()),
    }
}

fn emit_schema_union(
    n: &Namer<'_>,
    d: &Definition,
    name: &str,
    doc: TokenStream,
) -> Result<TokenStream> {
    let ty = ident(name);
    let schema = n.def_path(&union_schema(d))?;
    let other = match name {
        "JSONSchemaPropsOrArray" => quote! {
            /// A list of schemas (one per position of a tuple).
            Schemas(Vec<#schema>),
        },
        "JSONSchemaPropsOrBool" => quote! {
            /// `true` allows anything, `false` nothing.
            Bool(bool),
        },
        "JSONSchemaPropsOrStringArray" => quote! {
            /// A list of property names.
            Strings(Vec<String>),
        },
        _ => {
            return Err(Error::Emit {
                module: name.to_owned(),
                message: "unknown schema union".into(),
            });
        }
    };
    // Chosen by the JSON type, not by trial: a derived struct deserializer would also accept an
    // array (by position), turning `["a"]` into a schema.
    let pick = match name {
        "JSONSchemaPropsOrBool" => quote! {
            serde_json::Value::Bool(b) => Ok(#ty::Bool(b)),
        },
        "JSONSchemaPropsOrArray" => quote! {
            v @ serde_json::Value::Array(_) => serde_json::from_value(v).map(#ty::Schemas).map_err(D::Error::custom),
        },
        _ => quote! {
            v @ serde_json::Value::Array(_) => serde_json::from_value(v).map(#ty::Strings).map_err(D::Error::custom),
        },
    };
    Ok(quote! {
        #doc
        #[derive(Clone, Debug, PartialEq, serde::Serialize)]
        #[serde(untagged)]
        pub enum #ty {
            /// A schema.
            Schema(Box<#schema>),
            #other
        }

        impl<'de> serde::Deserialize<'de> for #ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                use serde::de::Error as _;
                match <serde_json::Value as serde::Deserialize>::deserialize(deserializer)? {
                    #pick
                    v => serde_json::from_value(v)
                        .map(|s| #ty::Schema(Box::new(s)))
                        .map_err(D::Error::custom),
                }
            }
        }
    })
}

/// The Rust name of a field: its JSON name in snake case, or the name the loader chose
/// (custom resources: fields that collide after snake-casing).
pub(super) fn field_name(f: &Field) -> String {
    f.ext
        .get(crate::crd::schema::RUST_NAME_EXT)
        .and_then(|v| serde_json::from_str::<String>(v).ok())
        .unwrap_or_else(|| snake(&f.json_name))
}

/// The `x-kubernetes-*` facts of a field that matter when patching or applying it, in words.
pub(super) fn semantics(f: &Field) -> Vec<String> {
    let unquote = |v: &str| -> String {
        serde_json::from_str::<serde_json::Value>(v)
            .ok()
            .map(|v| match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                other => other.to_string(),
            })
            .unwrap_or_else(|| v.to_owned())
    };
    let get = |k: &str| f.ext.get(k).map(|v| unquote(v));
    let mut out = Vec::new();
    match (
        get("x-kubernetes-list-type").as_deref(),
        get("x-kubernetes-list-map-keys"),
    ) {
        (Some("map"), Some(keys)) => out.push(format!("List type: map, keyed by {keys}.")),
        (Some("set"), _) => out.push("List type: set.".to_owned()),
        (Some("atomic"), _) => out.push("List type: atomic (replaced whole).".to_owned()),
        _ => {}
    }
    match (
        get("x-kubernetes-patch-strategy"),
        get("x-kubernetes-patch-merge-key"),
    ) {
        (Some(strategy), Some(key)) => {
            out.push(format!("Strategic merge patch: {strategy}, on key {key}."));
        }
        (Some(strategy), None) => out.push(format!("Strategic merge patch: {strategy}.")),
        _ => {}
    }
    if get("x-kubernetes-map-type").as_deref() == Some("atomic") {
        out.push("Map type: atomic (replaced whole).".to_owned());
    }
    out
}

fn emit_struct(
    ctx: &Ctx<'_>,
    n: &Namer<'_>,
    d: &Definition,
    name: &str,
    fields: &[Field],
    row: Option<&ResourceRow>,
) -> Result<TokenStream> {
    let ty = ident(name);
    let gvk_typed = ctx.facts.gvk_typed.contains(&d.name);
    let mut gens = Vec::new();
    let mut pb_fields = Vec::new();
    let mut field_ts = Vec::new();
    let mut seen = BTreeSet::new();
    for f in fields {
        if gvk_typed && (f.json_name == "apiVersion" || f.json_name == "kind") {
            continue;
        }
        let rust = field_name(f);
        if !seen.insert(rust.clone()) {
            return Err(Error::Unaccounted {
                version: ctx.model.version.clone(),
                what: format!("{}.{}", d.name, f.json_name),
                message: format!("two fields map to the Rust name {rust}"),
            });
        }
        let fid = ident(&rust);
        pb_fields.push(super::protobuf::PbField {
            ident: fid.clone(),
            field: f,
        });
        let mut t = ctx.rust_type(&f.ty, n)?;
        if ctx
            .facts
            .boxed
            .contains(&(d.name.clone(), f.json_name.clone()))
        {
            t = quote!(Box<#t>);
        }
        let json = f.json_name.clone();
        let mut doc_text = f.description.clone().unwrap_or_default();
        let mut facts = Vec::new();
        if let Some(def) = &f.default {
            facts.push(format!("Server default: {def}."));
        }
        facts.extend(semantics(f));
        if !facts.is_empty() {
            if !doc_text.is_empty() {
                doc_text.push_str("\n\n");
            }
            doc_text.push_str(&facts.join(" "));
        }
        let doc = doc_attrs(Some(&doc_text));
        let field_ty = if f.required {
            t.clone()
        } else {
            quote!(Option<#t>)
        };
        field_ts.push(quote! {
            #doc
            pub #fid: #field_ty,
        });
        gens.push(FieldGen {
            ident: fid,
            json,
            inner: t,
            required: f.required,
            // The required `metadata` of a kind (fixup `required-metadata`) is left out when
            // empty, as the server leaves it out (reviews, token requests).
            skip_empty: f.required
                && f.json_name == "metadata"
                && f.ty == Type::Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta".into()),
        });
    }
    let doc = doc_attrs(d.description.as_deref());
    let derive_debug = (!is_secret(d)).then(|| quote!(Debug,));
    let mut out = quote! {
        #doc
        #[derive(Clone, #derive_debug Default, PartialEq)]
        pub struct #ty {
            #(#field_ts)*
        }
    };
    out.extend(emit_serde(name, &ty, &gens, gvk_typed));
    out.extend(super::protobuf::emit_struct_message(
        &ty, &pb_fields, gvk_typed,
    ));
    let has_codec = pb_fields.iter().any(|f| !f.field.proto.is_empty());
    if is_secret(d) {
        let entries = gens.iter().map(|g| {
            let id = &g.ident;
            let name = id.to_string();
            if name == "data" || name == "string_data" {
                quote!(.field(#name, &self.#id.as_ref().map(|m| m.keys().collect::<Vec<_>>())))
            } else {
                quote!(.field(#name, &self.#id))
            }
        });
        out.extend(quote! {
            /// Shows the keys of `data` and `stringData`, never their values.
            impl std::fmt::Debug for #ty {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.debug_struct(#name) #(#entries)* .finish()
                }
            }
        });
    }
    if gvk_typed {
        let g = &d.gvk[0];
        let api_version = g.api_version();
        let (group, version, kind) = (&g.group, &g.version, &g.kind);
        let (plural, scope, verbs, subs) = match row {
            Some(r) => (
                r.plural.clone(),
                if r.namespaced {
                    quote!(k8s_core::Scope::Namespaced)
                } else {
                    quote!(k8s_core::Scope::Cluster)
                },
                r.verbs.clone(),
                r.subresources
                    .iter()
                    .map(|(s, _)| s.clone())
                    .collect::<Vec<_>>(),
            ),
            None => (
                String::new(),
                quote!(k8s_core::Scope::Cluster),
                Vec::new(),
                Vec::new(),
            ),
        };
        let codec = has_codec.then(|| {
            quote! {
                #[cfg(feature = "protobuf")]
                fn protobuf_codec() -> Option<k8s_core::ops::ProtobufCodec<Self>> {
                    Some(k8s_core::ops::ProtobufCodec::new())
                }
            }
        });
        out.extend(quote! {
        impl k8s_core::Resource for #ty {
            const API_VERSION: &'static str = #api_version;
            const GROUP: &'static str = #group;
            const VERSION: &'static str = #version;
            const KIND: &'static str = #kind;
            const PLURAL: &'static str = #plural;
            const SCOPE: k8s_core::Scope = #scope;
            const VERBS: &'static [&'static str] = &[#(#verbs),*];
            const SUBRESOURCES: &'static [&'static str] = &[#(#subs),*];
            #codec
        }

            });
        let meta = fields.iter().any(|f| {
            f.json_name == "metadata"
                && f.required
                && f.ty == Type::Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta".into())
        });
        if meta {
            out.extend(quote! {
                impl k8s_core::Object for #ty {
                    fn metadata(&self) -> &k8s_core::ObjectMeta { &self.metadata }
                    fn metadata_mut(&mut self) -> &mut k8s_core::ObjectMeta { &mut self.metadata }
                }
            });
        }
    }
    Ok(out)
}

/// A string enum (custom resources: `enum` of a string schema) with the fallback variant
/// `Other(String)`, so a value a newer server sends still decodes (and is written back as is).
fn emit_string_enum(d: &Definition, name: &str, doc: TokenStream) -> Result<TokenStream> {
    let values: Vec<String> = d
        .ext
        .get(crate::crd::schema::ENUM_EXT)
        .and_then(|v| serde_json::from_str(v).ok())
        .ok_or_else(|| Error::Emit {
            module: name.to_owned(),
            message: "enum values are not a list of strings".into(),
        })?;
    let ty = ident(name);
    let variants: Vec<_> = values
        .iter()
        .map(|v| ident(&crate::crd::schema::variant_name(v)))
        .collect();
    let docs = values.iter().map(|v| format!(" `{v:?}`"));
    let decl = variants
        .iter()
        .zip(docs)
        .map(|(i, doc)| quote!(#[doc = #doc] #i,));
    let as_str = variants
        .iter()
        .zip(&values)
        .map(|(i, v)| quote!(#ty::#i => #v,));
    let from = variants
        .iter()
        .zip(&values)
        .map(|(i, v)| quote!(#v => #ty::#i,));
    Ok(quote! {
        #doc
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum #ty {
            #(#decl)*
            /// A value this code does not know (a newer server's), kept as sent.
            Other(String),
        }

        impl #ty {
            /// The value on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    #(#as_str)*
                    #ty::Other(s) => s,
                }
            }
        }

        impl From<&str> for #ty {
            fn from(s: &str) -> Self {
                match s {
                    #(#from)*
                    other => #ty::Other(other.to_owned()),
                }
            }
        }

        /// The empty string, Go's zero value (as the server reads an absent required value).
        impl Default for #ty {
            fn default() -> Self {
                #ty::from("")
            }
        }

        impl std::fmt::Display for #ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for #ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for #ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(deserializer)?;
                Ok(#ty::from(s.as_str()))
            }
        }
    })
}
