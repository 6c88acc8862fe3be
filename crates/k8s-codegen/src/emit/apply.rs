//! Stage 2c: apply configurations, the types of server-side apply.
//!
//! A server-side apply sends "the fields I own". A full type cannot say that: its required
//! fields are always written (a `Deployment` with only `spec.replicas` set sends
//! `"selector":{}` and `"template":{}` and claims them). So every struct reachable from a
//! resource kind gets a twin in the child module `apply` of its group-version
//! (`apps::v1::apply::Deployment`, the same name as the full type, as client-go's
//! `applyconfigurations/apps/v1`), behind the crate's `apply` feature:
//!
//! * every field `Option`, written only when set, at every depth, with the full type's JSON
//!   names; list items are twins too, so the keys of `x-kubernetes-list-map-keys` lists can be
//!   set alone (the server merges by them);
//! * a kind keeps the full type's required `metadata: k8s_core::ObjectMeta` (its parts are all
//!   optional and written only when set; empty metadata is not written) and always writes its
//!   `apiVersion` and `kind` (the full type's `Resource` constants);
//! * special types (Quantity, IntOrString, Time, raw JSON, FieldsV1, schema unions, opaque JSON)
//!   stay the full types: they are values, not sets of fields;
//! * `Serialize` only (an apply configuration is written, never read), written out as for the
//!   full types; `Debug` of `Secret` shows the keys of its data only;
//! * `From<&Full>` on every twin: "own everything this object says", with the kind's metadata
//!   through `ObjectMeta::without_server_fields` (uid, resourceVersion, generation, timestamps,
//!   managedFields, selfLink dropped, as an apply must not carry them);
//! * kinds get `new(name)` (and `namespaced(namespace, name)` when namespaced).
//!
//! The module is its own file (`apps/v1/apply.rs`) with its own `use` lines, declared by the
//! group-version's `mod.rs` under `#[cfg(feature = "apply")]`, so a build without the feature
//! parses it and compiles nothing of it. Output that is one file per group-version (custom
//! resources, `Facts::one_file_per_module`) gets the same module inline and ungated
//! ([`emit_inline`]).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use proc_macro2::TokenStream;
use quote::quote;

use super::docs::doc_line;
use super::ident;
use super::layout::{FilePlan, Home};
use super::namer::Ctx;
use crate::error::{Error, Result};
use crate::ir::{DefKind, Definition, Special, Type};
use crate::naming::def_location;
use crate::plan::{Plan, ResourceRow};

/// The module name of apply configurations, and its file beside the group-version's `mod.rs`.
pub(super) const MODULE: &str = "apply";

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// The definitions that get an apply twin: every struct reachable from a resource kind through
/// fields (not through special types, which stay whole).
pub(super) fn twins(ctx: &Ctx<'_>, plan: &Plan) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<&str> = plan.resources.iter().map(|r| r.def.as_str()).collect();
    while let Some(name) = todo.pop() {
        let Some(d) = ctx.model.defs.get(name) else {
            continue;
        };
        let DefKind::Struct(fields) = &d.kind else {
            continue;
        };
        if !seen.insert(name.to_owned()) {
            continue;
        }
        for f in fields {
            let mut refs = Vec::new();
            struct_refs(&f.ty, &mut refs);
            todo.extend(refs);
        }
    }
    seen
}

/// Definitions a field type names directly (through lists and maps).
fn struct_refs<'t>(t: &'t Type, out: &mut Vec<&'t str>) {
    match t {
        Type::Ref(r) => out.push(r),
        Type::Array(i) | Type::Map(i) => struct_refs(i, out),
        _ => {}
    }
}

/// The `pub mod apply;` line of a group-version's `mod.rs`, when it has twins.
pub(super) fn module_decl(file: &FilePlan<'_>, twins: &BTreeSet<String>) -> Option<TokenStream> {
    file.all_defs().any(|d| twins.contains(&d.def.name)).then(|| {
        let doc = doc_line(&format!(
            "Apply configurations of `{}` (server-side apply): every field optional and written only when set.",
            file.module.join("::")
        ));
        let m = ident(MODULE);
        quote! {
            #doc
            #[cfg(feature = "apply")]
            pub mod #m;
        }
    })
}

/// The tokens of the `apply` module of a group-version (its `use` lines and items), or `None`
/// when none of its definitions has a twin.
pub(super) fn emit_module(
    ctx: &Ctx<'_>,
    vmod: &str,
    homes: &BTreeMap<String, Home>,
    file: &FilePlan<'_>,
    twins: &BTreeSet<String>,
    rows: &BTreeMap<&str, &ResourceRow>,
) -> Result<Option<(PathBuf, TokenStream)>> {
    if !file.all_defs().any(|d| twins.contains(&d.def.name)) {
        return Ok(None);
    }
    let path = match file.path.parent() {
        Some(dir) if file.path.ends_with("mod.rs") => dir.join(format!("{MODULE}.rs")),
        _ => return Err(emit_err(file, "apply types need a module directory")),
    };
    if file.parts.iter().any(|p| p.file == format!("{MODULE}.rs")) {
        return Err(emit_err(file, "a part file is named like the apply module"));
    }
    Ok(module_tokens(ctx, vmod, homes, file, twins, rows)?.map(|t| (path, t)))
}

/// The `apply` module of a group-version written inline (`pub mod apply { … }`), for output
/// that is one file per group-version (custom resources): not behind a feature, as a user's
/// crate has no `apply` feature. `None` when none of its definitions has a twin.
pub(super) fn emit_inline(
    ctx: &Ctx<'_>,
    vmod: &str,
    homes: &BTreeMap<String, Home>,
    file: &FilePlan<'_>,
    twins: &BTreeSet<String>,
    rows: &BTreeMap<&str, &ResourceRow>,
) -> Result<Option<TokenStream>> {
    // The module's inner doc is its only doc (an outer one as well is clippy's
    // `mixed_attributes_style`).
    let Some(tokens) = module_tokens(ctx, vmod, homes, file, twins, rows)? else {
        return Ok(None);
    };
    let m = ident(MODULE);
    Ok(Some(quote! {
        pub mod #m {
            #tokens
        }
    }))
}

/// The `use` lines and items of a group-version's `apply` module.
fn module_tokens(
    ctx: &Ctx<'_>,
    vmod: &str,
    homes: &BTreeMap<String, Home>,
    file: &FilePlan<'_>,
    twins: &BTreeSet<String>,
    rows: &BTreeMap<&str, &ResourceRow>,
) -> Result<Option<TokenStream>> {
    let defs: Vec<&Definition> = file
        .all_defs()
        .map(|d| d.def)
        .filter(|d| twins.contains(&d.name))
        .collect();
    if defs.is_empty() {
        return Ok(None);
    }
    let n = ApplyNamer {
        vmod,
        module: &file.module,
        homes,
        twins,
        locals: defs
            .iter()
            .map(|d| def_location(&d.name).unwrap_or_default().1)
            .collect(),
        core_used: RefCell::default(),
        btree: Cell::default(),
    };
    let mut items = Vec::new();
    for d in &defs {
        items.push(emit_twin(ctx, &n, d, rows.get(d.name.as_str()).copied())?);
    }
    let mut uses = Vec::new();
    if n.btree.get() {
        uses.push(quote!(
            use std::collections::BTreeMap;
        ));
    }
    let core: Vec<_> = n.core_used.borrow().iter().map(|s| ident(s)).collect();
    if !core.is_empty() {
        uses.push(quote!(use k8s_core::{#(#core),*};));
    }
    let doc = format!(
        " Apply configurations of `{}`: the types of server-side apply, one per type of the parent \
         module, with every field optional and written only when set.",
        file.module.join("::")
    );
    Ok(Some(quote! {
        #![doc = #doc]
        #(#uses)*
        #(#items)*
    }))
}

fn emit_err(file: &FilePlan<'_>, message: &str) -> Error {
    Error::Emit {
        module: file.module.join("::"),
        message: message.to_owned(),
    }
}

/// Names things from an `apply` module.
struct ApplyNamer<'a> {
    vmod: &'a str,
    module: &'a [String],
    homes: &'a BTreeMap<String, Home>,
    twins: &'a BTreeSet<String>,
    /// Type names the module defines.
    locals: BTreeSet<String>,
    core_used: RefCell<BTreeSet<&'static str>>,
    btree: Cell<bool>,
}

impl ApplyNamer<'_> {
    fn core(&self, name: &'static str) -> TokenStream {
        let i = ident(name);
        if self.locals.contains(name) {
            quote!(k8s_core::#i)
        } else {
            self.core_used.borrow_mut().insert(name);
            quote!(#i)
        }
    }

    fn home(&self, def: &str) -> Result<&Home> {
        self.homes.get(def).ok_or_else(|| Error::Emit {
            module: self.module.join("::"),
            message: format!("no module for {def}"),
        })
    }

    /// The full type of a definition: `super::Name` in the same group-version.
    fn full(&self, def: &str) -> Result<TokenStream> {
        let home = self.home(def)?;
        let i = ident(&home.name);
        if home.module == self.module {
            return Ok(quote!(super::#i));
        }
        let v = ident(self.vmod);
        let segs = home.module.iter().map(|m| ident(m));
        Ok(quote!(crate::#v #(::#segs)*::#i))
    }

    /// The twin of a definition: bare in the same group-version, else by path.
    fn twin(&self, def: &str) -> Result<TokenStream> {
        let home = self.home(def)?;
        let i = ident(&home.name);
        if home.module == self.module {
            return Ok(quote!(#i));
        }
        let v = ident(self.vmod);
        let m = ident(MODULE);
        let segs = home.module.iter().map(|m| ident(m));
        Ok(quote!(crate::#v #(::#segs)*::#m::#i))
    }

    /// Whether a type names a twin somewhere inside (then converting it is more than a clone).
    fn has_twin(&self, t: &Type) -> bool {
        match t {
            Type::Ref(r) => self.twins.contains(r),
            Type::Array(i) | Type::Map(i) => self.has_twin(i),
            _ => false,
        }
    }

    /// The Rust type of a field of a twin.
    fn ty(&self, ctx: &Ctx<'_>, t: &Type) -> Result<TokenStream> {
        Ok(match t {
            Type::Bool => quote!(bool),
            Type::I32 => quote!(i32),
            Type::I64 => quote!(i64),
            Type::F64 => quote!(f64),
            Type::String => quote!(String),
            Type::Bytes => self.core("ByteString"),
            Type::DateTime => self.core("Time"),
            Type::IntOrString => self.core("IntOrString"),
            Type::Any => quote!(serde_json::Value),
            Type::Array(i) => {
                let i = self.ty(ctx, i)?;
                quote!(Vec<#i>)
            }
            Type::Map(i) => {
                let i = self.ty(ctx, i)?;
                self.btree.set(true);
                quote!(BTreeMap<String, #i>)
            }
            Type::Ref(r) if self.twins.contains(r) => self.twin(r)?,
            Type::Ref(r) => {
                if let Some(item) = ctx.facts.list_items.get(r) {
                    let list = self.core("List");
                    let item = self.full(item)?;
                    return Ok(quote!(#list<#item>));
                }
                let d = ctx.model.defs.get(r).ok_or_else(|| Error::Emit {
                    module: self.module.join("::"),
                    message: format!("reference to a missing definition {r}"),
                })?;
                match &d.kind {
                    DefKind::Special(Special::SchemaUnion) => self.full(r)?,
                    DefKind::Special(Special::JsonValue) => quote!(serde_json::Value),
                    DefKind::Special(Special::WatchEvent) => {
                        let w = self.core("WatchEvent");
                        quote!(#w<serde_json::Value>)
                    }
                    DefKind::Special(s) => self.core(special_name(*s)),
                    _ => self.full(r)?,
                }
            }
        })
    }

    /// A function turning `&Full` into the field's twin value, when one path does it.
    fn conv_fn(&self, t: &Type) -> Result<Option<TokenStream>> {
        match t {
            Type::Ref(r) if self.twins.contains(r) => {
                let tw = self.twin(r)?;
                Ok(Some(quote!(#tw::from)))
            }
            _ => Ok(None),
        }
    }

    /// An expression converting `e` into the twin value: `e` is a reference when `is_ref` (a
    /// closure's argument), else a place of the full type (`v.spec`, `**v`).
    fn conv(&self, t: &Type, e: TokenStream, is_ref: bool) -> Result<TokenStream> {
        if !self.has_twin(t) {
            return Ok(quote!(#e.clone()));
        }
        if let Some(f) = self.conv_fn(t)? {
            return Ok(if is_ref {
                quote!(#f(#e))
            } else {
                quote!(#f(&#e))
            });
        }
        Ok(match t {
            Type::Array(i) => match self.conv_fn(i)? {
                Some(f) => quote!(#e.iter().map(#f).collect()),
                None => {
                    let c = self.conv(i, quote!(v), true)?;
                    quote!(#e.iter().map(|v| #c).collect())
                }
            },
            Type::Map(i) => {
                let c = self.conv(i, quote!(v), true)?;
                quote!(#e.iter().map(|(k, v)| (k.clone(), #c)).collect())
            }
            _ => quote!(#e.clone()),
        })
    }
}

/// Whether the Rust type of `t` is `Copy` (cloning it is a clippy warning).
fn is_copy(ctx: &Ctx<'_>, t: &Type) -> bool {
    match t {
        Type::Bool | Type::I32 | Type::I64 | Type::F64 | Type::DateTime => true,
        Type::Ref(r) => ctx.model.defs.get(r).is_some_and(|d| {
            matches!(
                d.kind,
                DefKind::Special(Special::Time | Special::MicroTime)
                    | DefKind::Scalar(
                        Type::Bool | Type::I32 | Type::I64 | Type::F64 | Type::DateTime
                    )
            )
        }),
        _ => false,
    }
}

/// The `k8s_core` name of a special type.
fn special_name(s: Special) -> &'static str {
    match s {
        Special::Quantity => "Quantity",
        Special::IntOrString => "IntOrString",
        Special::Time => "Time",
        Special::MicroTime => "MicroTime",
        Special::FieldsV1 => "FieldsV1",
        Special::Status => "Status",
        Special::StatusDetails => "StatusDetails",
        Special::StatusCause => "StatusCause",
        Special::ListMeta => "ListMeta",
        Special::ObjectMeta => "ObjectMeta",
        Special::OwnerReference => "OwnerReference",
        Special::ManagedFieldsEntry => "ManagedFieldsEntry",
        Special::WatchEvent => "WatchEvent",
        Special::JsonValue | Special::SchemaUnion => "",
    }
}

/// One field of a twin, as the impls need it.
struct TwinField {
    ident: proc_macro2::Ident,
    json: String,
    /// The kind's required `metadata`: not an `Option`, written when not empty.
    meta: bool,
}

/// The twin of one struct: the type, `Serialize`, `From<&Full>`, and for kinds the constructors.
fn emit_twin(
    ctx: &Ctx<'_>,
    n: &ApplyNamer<'_>,
    d: &Definition,
    row: Option<&ResourceRow>,
) -> Result<TokenStream> {
    let DefKind::Struct(fields) = &d.kind else {
        return Ok(TokenStream::new());
    };
    let (_, name) = def_location(&d.name).unwrap_or_default();
    let ty = ident(&name);
    let full = n.full(&d.name)?;
    let gvk_typed = ctx.facts.gvk_typed.contains(&d.name);
    let mut decls = Vec::new();
    let mut convs = Vec::new();
    let mut tf = Vec::new();
    for f in fields {
        if gvk_typed && (f.json_name == "apiVersion" || f.json_name == "kind") {
            continue;
        }
        let fid = ident(&super::types::field_name(f));
        let meta = f.required && f.json_name == "metadata" && f.ty == Type::Ref(OBJECT_META.into());
        let mut t = n.ty(ctx, &f.ty)?;
        let boxed = ctx
            .facts
            .boxed
            .contains(&(d.name.clone(), f.json_name.clone()));
        if boxed {
            t = quote!(Box<#t>);
        }
        let facts = super::types::semantics(f);
        let doc = (!facts.is_empty()).then(|| doc_line(&facts.join(" ")));
        if meta {
            let om = n.core("ObjectMeta");
            decls.push(quote!(#doc pub #fid: #om,));
            convs.push(quote!(#fid: v.#fid.without_server_fields(),));
        } else {
            decls.push(quote!(#doc pub #fid: Option<#t>,));
            let copy = is_copy(ctx, &f.ty);
            let value = match (boxed && n.has_twin(&f.ty), f.required) {
                (false, true) if copy => quote!(Some(v.#fid)),
                (false, false) if copy => quote!(v.#fid),
                (false, true) if !n.has_twin(&f.ty) => quote!(Some(v.#fid.clone())),
                (true, true) => {
                    let inner = n.conv(&f.ty, quote!(*v.#fid), false)?;
                    quote!(Some(Box::new(#inner)))
                }
                (true, false) => {
                    let inner = n.conv(&f.ty, quote!(**v), false)?;
                    quote!(v.#fid.as_ref().map(|v| Box::new(#inner)))
                }
                (false, true) => {
                    let c = n.conv(&f.ty, quote!(v.#fid), false)?;
                    quote!(Some(#c))
                }
                (false, false) if !n.has_twin(&f.ty) => quote!(v.#fid.clone()),
                (false, false) => match n.conv_fn(&f.ty)? {
                    Some(func) => quote!(v.#fid.as_ref().map(#func)),
                    None => {
                        let c = n.conv(&f.ty, quote!(v), true)?;
                        quote!(v.#fid.as_ref().map(|v| #c))
                    }
                },
            };
            convs.push(quote!(#fid: #value,));
        }
        tf.push(TwinField {
            ident: fid,
            json: f.json_name.clone(),
            meta,
        });
    }
    let full_name = if full.to_string().starts_with("super") {
        format!("super::{name}")
    } else {
        full.to_string().replace(' ', "")
    };
    let doc = doc_line(&format!(
        "Apply configuration of [`{name}`]({full_name}): every field optional, written only when set."
    ));
    let secret = d.name == "io.k8s.api.core.v1.Secret";
    let derive_debug = (!secret).then(|| quote!(Debug,));
    let mut out = quote! {
        #doc
        #[derive(Clone, #derive_debug Default, PartialEq)]
        pub struct #ty {
            #(#decls)*
        }
    };
    // Serialize.
    let count = tf.len() + if gvk_typed { 2 } else { 0 };
    let gvk = gvk_typed.then(|| {
        quote! {
            st.serialize_field("apiVersion", <#full as k8s_core::Resource>::API_VERSION)?;
            st.serialize_field("kind", <#full as k8s_core::Resource>::KIND)?;
        }
    });
    let ser = tf.iter().map(|f| {
        let (id, json) = (&f.ident, &f.json);
        if f.meta {
            quote! {
                if self.#id.is_empty() {
                    st.skip_field(#json)?;
                } else {
                    st.serialize_field(#json, &self.#id)?;
                }
            }
        } else {
            quote! {
                match &self.#id {
                    Some(v) => st.serialize_field(#json, v)?,
                    None => st.skip_field(#json)?,
                }
            }
        }
    });
    out.extend(quote! {
        impl serde::Serialize for #ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeStruct;
                let mut st = serializer.serialize_struct(#name, #count)?;
                #gvk
                #(#ser)*
                st.end()
            }
        }

        impl From<&#full> for #ty {
            fn from(v: &#full) -> Self {
                #ty { #(#convs)* }
            }
        }
    });
    if secret {
        let entries = tf.iter().map(|f| {
            let id = &f.ident;
            let s = id.to_string();
            if s == "data" || s == "string_data" {
                quote!(.field(#s, &self.#id.as_ref().map(|m| m.keys().collect::<Vec<_>>())))
            } else {
                quote!(.field(#s, &self.#id))
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
    if tf.iter().any(|f| f.meta) {
        let om = n.core("ObjectMeta");
        let new_doc = doc_line(&format!(
            "An apply configuration of the {name} of this name, with nothing else set."
        ));
        let ns = row.filter(|r| r.namespaced).map(|_| {
            let doc = doc_line(&format!(
                "An apply configuration of the {name} of this namespace and name, with nothing else set (the request's path names the namespace too)."
            ));
            quote! {
                #doc
                pub fn namespaced(namespace: impl Into<String>, name: impl Into<String>) -> Self {
                    #ty { metadata: #om::namespaced(namespace, name), ..Self::default() }
                }
            }
        });
        out.extend(quote! {
            impl #ty {
                #new_doc
                pub fn new(name: impl Into<String>) -> Self {
                    #ty { metadata: #om::named(name), ..Self::default() }
                }
                #ns
            }
        });
    }
    Ok(out)
}
