//! Stage 2, version module: `visit_kind`, the run-time registry of kinds with a protobuf form.
//!
//! `visit_kind(api_version, kind, visitor)` calls `visitor.visit::<T>()` with the generated type
//! of a group-version-kind (`k8s_core::List<T>` for a `<Kind>List`), so that code holding only
//! JSON and a kind's name (the test server) converts through the typed structs. One `match` arm
//! per group-version-kind, each behind its group's feature; the function behind `protobuf`.
//! Emitted only for models with protobuf facts (its types implement `Message`).

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::quote;

use super::docs::doc_line;
use super::namer::Ctx;
use crate::ir::{ApiModel, DefKind};
use crate::naming::{def_location, feature_of};

/// Whether a definition is a struct with a protobuf message.
fn has_message(model: &ApiModel, def: &str) -> bool {
    match model.defs.get(def).map(|d| &d.kind) {
        Some(DefKind::Struct(fields)) => fields.iter().any(|f| !f.proto.is_empty()),
        _ => false,
    }
}

/// The Rust type of a definition from the version module, and the feature of its group.
fn type_path(vmod: &str, def: &str) -> Option<(TokenStream, Option<String>)> {
    let (mods, ty) = def_location(def)?;
    let text = format!("crate::{vmod}::{}::{ty}", mods.join("::"));
    let path: TokenStream = text.parse().ok()?;
    let feature = mods.first().and_then(|m| feature_of(m)).map(str::to_owned);
    Some((path, feature))
}

/// `visit_kind` of the version module; nothing when the model has no protobuf facts.
pub(super) fn emit_registry(ctx: &Ctx<'_>, vmod: &str) -> TokenStream {
    let model = ctx.model;
    if !super::protobuf::model_has_protobuf(model) {
        return TokenStream::new();
    }
    // (apiVersion, kind) -> (type, feature, whether the type has this one GVK only); a type with
    // a single group-version-kind wins over one shared by many (`DeleteOptions`).
    let mut arms: BTreeMap<(String, String), (TokenStream, Option<String>, bool)> = BTreeMap::new();
    for d in model.defs.values() {
        let found = match &d.kind {
            DefKind::Struct(_) if has_message(model, &d.name) => type_path(vmod, &d.name),
            DefKind::Skipped(_) => ctx
                .facts
                .list_items
                .get(&d.name)
                .filter(|item| ctx.facts.gvk_typed.contains(*item) && has_message(model, item))
                .and_then(|item| type_path(vmod, item))
                .map(|(p, f)| (quote!(k8s_core::List<#p>), f)),
            _ => None,
        };
        let Some((ty, feature)) = found else { continue };
        let single = d.gvk.len() == 1;
        for g in &d.gvk {
            let api_version = if g.group.is_empty() {
                g.version.clone()
            } else {
                format!("{}/{}", g.group, g.version)
            };
            let key = (api_version, g.kind.clone());
            if arms.get(&key).is_some_and(|(_, _, s)| *s || !single) {
                continue;
            }
            arms.insert(key, (ty.clone(), feature.clone(), single));
        }
    }
    let lines = arms.iter().map(|((av, kind), (ty, feature, _))| {
        let gate = feature.as_ref().map(|f| quote!(#[cfg(feature = #f)]));
        quote! {
            #gate
            (#av, #kind) => visitor.visit::<#ty>(),
        }
    });
    let doc = [
        doc_line(
            "Calls `visitor` with the Rust type of a kind given by its `apiVersion` and `kind` (`k8s_core::List<T>` for a `<Kind>List`); `None` for a kind without a protobuf form in this version or whose group's feature is off.",
        ),
        doc_line(""),
        doc_line(
            "Code that holds JSON and a kind's name converts it through the typed structs: decode the JSON into `T`, then `k8s_core::protobuf::to_bytes`, and back.",
        ),
    ];
    quote! {
        #(#doc)*
        #[cfg(feature = "protobuf")]
        pub fn visit_kind<V: k8s_core::protobuf::KindVisitor>(
            api_version: &str,
            kind: &str,
            visitor: V,
        ) -> Option<V::Output> {
            Some(match (api_version, kind) {
                #(#lines)*
                _ => return None,
            })
        }
    }
}
