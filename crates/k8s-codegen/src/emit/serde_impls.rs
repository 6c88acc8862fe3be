//! Stage 2b: `Serialize` and `Deserialize` of generated structs, written out instead of derived.
//!
//! **When**: for every struct of fields emitted from a definition ([`super::types`]). The other
//! generated types keep serde's derive: opaque JSON newtypes (`#[serde(transparent)]`) and schema
//! unions (`#[serde(untagged)]` for `Serialize`; their `Deserialize`, chosen by the JSON type, is
//! in `types.rs`).
//!
//! **Why**: `#[derive(Serialize, Deserialize)]` emits, per struct, a sequence visitor, a field-identifier enum and a wrapper type per
//! `deserialize_with` field; this form matches keys with one shared borrowed `Key`
//! (`k8s_core::__private`) and halves the compile time of k8s-api (one version, all groups,
//! debug: 16.5 s -> 8.1 s, see ARCHITECTURE.md).
//!
//! **Contract**: the derive's behaviour for these structs, which the round-trip tests in `tests/` check: unknown fields ignored, duplicate
//! fields rejected, `null` read as absent; a required field absent or `null` reads as its
//! `Default` (the `null-tolerant-required` fixup); optional fields absent are not written;
//! a kind's required `metadata` written only when not empty;
//! `apiVersion`/`kind` of kinds with one group-version-kind written from `Resource`, and when
//! read, checked against it (a different value fails naming both; absent or `null` is accepted,
//! as in the items of a list).

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::ident;

/// What the serde impls need of one field.
pub(super) struct FieldGen {
    pub(super) ident: Ident,
    pub(super) json: String,
    /// The type without the `Option` of an optional field.
    pub(super) inner: TokenStream,
    pub(super) required: bool,
    /// Required, but written only when not empty (`is_empty()`): a kind's `metadata`.
    pub(super) skip_empty: bool,
}

/// Hand-written `Serialize` and `Deserialize` of a struct: the same behaviour as serde's derive
/// for these structs (unknown fields ignored, duplicates rejected, `null` as absent; required
/// fields absent or `null` read as their default), at a fraction of the code to compile (no
/// sequence visitor, no field-identifier enum, no wrapper type per field).
pub(super) fn emit_serde(
    name: &str,
    ty: &Ident,
    gens: &[FieldGen],
    gvk_typed: bool,
) -> TokenStream {
    let count = gens.len() + if gvk_typed { 2 } else { 0 };
    let gvk_fields = gvk_typed.then(|| {
        quote! {
            st.serialize_field("apiVersion", <Self as k8s_core::Resource>::API_VERSION)?;
            st.serialize_field("kind", <Self as k8s_core::Resource>::KIND)?;
        }
    });
    let ser_fields = gens.iter().map(|f| {
        let id = &f.ident;
        let json = &f.json;
        if f.skip_empty {
            quote! {
                if self.#id.is_empty() {
                    st.skip_field(#json)?;
                } else {
                    st.serialize_field(#json, &self.#id)?;
                }
            }
        } else if f.required {
            quote!(st.serialize_field(#json, &self.#id)?;)
        } else {
            quote! {
                match &self.#id {
                    Some(v) => st.serialize_field(#json, v)?,
                    None => st.skip_field(#json)?,
                }
            }
        }
    });
    let locals: Vec<Ident> = gens
        .iter()
        .map(|f| ident(&format!("f_{}", f.ident.to_string().trim_end_matches('_'))))
        .collect();
    let decls = gens.iter().zip(&locals).map(|(f, l)| {
        let t = &f.inner;
        quote!(let mut #l: Option<Option<#t>> = None;)
    });
    let arms = gens.iter().zip(&locals).map(|(f, l)| {
        let json = &f.json;
        quote!(#json => k8s_core::__private::set_once(&mut #l, map.next_value()?, #json)?,)
    });
    let inits = gens.iter().zip(&locals).map(|(f, l)| {
        let id = &f.ident;
        if f.required {
            quote!(#id: k8s_core::__private::or_default(#l.flatten()),)
        } else {
            quote!(#id: #l.flatten(),)
        }
    });
    let gvk_arms = gvk_typed.then(|| {
        quote! {
            "apiVersion" => k8s_core::__private::check_type_field(
                map.next_value()?, "apiVersion", <#ty as k8s_core::Resource>::API_VERSION, #name,
            )?,
            "kind" => k8s_core::__private::check_type_field(
                map.next_value()?, "kind", <#ty as k8s_core::Resource>::KIND, #name,
            )?,
        }
    });
    let expecting = format!("a {name} object");
    quote! {
        impl serde::Serialize for #ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeStruct;
                let mut st = serializer.serialize_struct(#name, #count)?;
                #gvk_fields
                #(#ser_fields)*
                st.end()
            }
        }

        impl<'de> serde::Deserialize<'de> for #ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl<'de> serde::de::Visitor<'de> for Visitor {
                    type Value = #ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(#expecting)
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<#ty, A::Error> {
                        #(#decls)*
                        while let Some(key) = map.next_key::<k8s_core::__private::Key<'de>>()? {
                            match key.as_str() {
                                #(#arms)*
                                #gvk_arms
                                _ => {
                                    map.next_value::<serde::de::IgnoredAny>()?;
                                }
                            }
                        }
                        Ok(#ty { #(#inits)* })
                    }
                }
                deserializer.deserialize_map(Visitor)
            }
        }
    }
}
