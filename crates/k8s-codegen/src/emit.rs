//! Emission: the planned model of one Kubernetes version becomes Rust modules (`quote` tokens
//! formatted by `prettyplease`). Deterministic: the same model gives the same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use crate::error::{Error, Result};
use crate::fixups::Facts;
use crate::ir::{ApiModel, DefKind, Definition, Field, Special, Type};
use crate::naming::{self, def_location, feature_of, pascal, snake};
use crate::plan::{Builder, CustomDecode, Owner, Plan, PlannedOp, ResourceRow};

/// What was emitted for one version.
#[derive(Debug, Default)]
pub struct Emitted {
    /// File contents by path relative to the version directory (`mod.rs`, `core/v1.rs`, …).
    pub files: BTreeMap<PathBuf, String>,
    /// Feature dependencies between top-level modules (`apps` -> `core`).
    pub feature_deps: BTreeMap<String, BTreeSet<String>>,
    /// Counts for the summary.
    pub counts: Counts,
}

/// How every definition and operation was accounted for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    /// Definitions in the spec.
    pub definitions: usize,
    /// Emitted as a Rust type of their own.
    pub emitted: usize,
    /// Mapped to a hand-written type.
    pub special: usize,
    /// Deliberately skipped (generic `List<T>`).
    pub skipped: usize,
    /// Operations in the spec.
    pub operations: usize,
    /// Typed functions emitted (including the `watch` forms split from list operations).
    pub functions: usize,
    /// Operations emitted as a function of their own.
    pub ops_emitted: usize,
    /// Operations folded into another function.
    pub ops_folded: usize,
    /// Operations dropped.
    pub ops_dropped: usize,
}

fn ident(s: &str) -> Ident {
    Ident::new(s, Span::call_site())
}

/// Turns a spec description into rustdoc that renders and never compiles as a doctest or
/// trips rustdoc lints: brackets and angle brackets escaped, bare URLs wrapped, indentation that
/// would start a code block removed.
pub fn sanitize_doc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for (i, line) in text.lines().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let line = line.trim_start();
        let mut rest = line;
        while !rest.is_empty() {
            let url_at = ["https://", "http://"]
                .iter()
                .filter_map(|p| rest.find(p))
                .min();
            let (before, url) = match url_at {
                Some(at) => (&rest[..at], Some(&rest[at..])),
                None => (rest, None),
            };
            for c in before.chars() {
                match c {
                    '[' | ']' | '<' | '>' | '`' | '*' | '_' | '\\' | '#' | '|' => {
                        out.push('\\');
                        out.push(c);
                    }
                    _ => out.push(c),
                }
            }
            match url {
                Some(u) => {
                    let end = u
                        .find(|c: char| {
                            c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '<' | '>' | ',')
                        })
                        .unwrap_or(u.len());
                    let link = u[..end].trim_end_matches('.');
                    let scheme = if u.starts_with("https://") { 8 } else { 7 };
                    if link.len() > scheme {
                        out.push('<');
                        out.push_str(link);
                        out.push('>');
                        rest = &u[link.len()..];
                    } else {
                        // `http://<host>/…`: not a link, plain text.
                        out.push_str(&u[..scheme]);
                        rest = &u[scheme..];
                    }
                }
                None => rest = "",
            }
        }
    }
    out
}

fn doc_attrs(text: Option<&str>) -> TokenStream {
    match text {
        Some(t) if !t.trim().is_empty() => {
            let text = sanitize_doc(t.trim_end());
            let lines = text.lines().map(|l| {
                let l = if l.is_empty() {
                    String::new()
                } else {
                    format!(" {l}")
                };
                quote!(#[doc = #l])
            });
            quote!(#(#lines)*)
        }
        _ => TokenStream::new(),
    }
}

fn doc_line(s: &str) -> TokenStream {
    let s = format!(" {s}");
    quote!(#[doc = #s])
}

/// Names a module file of the version: imports and qualified paths.
struct Namer<'a> {
    vmod: &'a str,
    module: Vec<String>,
    /// Local type names (defined in this module).
    locals: BTreeSet<String>,
    /// Imported def names -> module.
    imports: BTreeMap<String, Vec<String>>,
    /// k8s_core items used (imported unless a local name shadows them).
    core_used: std::cell::RefCell<BTreeSet<&'static str>>,
    ops_used: std::cell::RefCell<BTreeSet<&'static str>>,
    btree: std::cell::Cell<bool>,
    /// While rendering an operation: references do not count as feature dependencies (the
    /// function is gated instead).
    in_op: std::cell::Cell<bool>,
    /// Top-level modules referenced (feature deps).
    tops: std::cell::RefCell<BTreeSet<String>>,
}

impl Namer<'_> {
    fn core(&self, name: &'static str) -> TokenStream {
        let i = ident(name);
        if self.locals.contains(name) {
            quote!(k8s_core::#i)
        } else {
            self.core_used.borrow_mut().insert(name);
            quote!(#i)
        }
    }
    fn op(&self, name: &'static str) -> TokenStream {
        self.ops_used.borrow_mut().insert(name);
        let i = ident(name);
        quote!(#i)
    }
    fn def_path(&self, module: &[String], name: &str) -> TokenStream {
        if let Some(top) = module.first() {
            if !self.in_op.get() {
                self.tops.borrow_mut().insert(top.clone());
            }
        }
        let i = ident(name);
        if module == self.module.as_slice() {
            return quote!(#i);
        }
        if self
            .imports
            .get(name)
            .is_some_and(|m| m.as_slice() == module)
        {
            return quote!(#i);
        }
        let v = ident(self.vmod);
        let segs = module.iter().map(|m| ident(m));
        quote!(crate::#v #(::#segs)*::#i)
    }
}

struct Ctx<'a> {
    model: &'a ApiModel,
    facts: &'a Facts,
}

impl Ctx<'_> {
    /// Definition names a type refers to, through lists and specials.
    fn refs(&self, t: &Type, out: &mut BTreeSet<String>) {
        match t {
            Type::Ref(r) => {
                if let Some(item) = self.facts.list_items.get(r) {
                    out.insert(item.clone());
                } else if let Some(d) = self.model.defs.get(r) {
                    if !matches!(d.kind, DefKind::Special(s) if s != Special::SchemaUnion) {
                        out.insert(r.clone());
                    }
                }
            }
            Type::Array(i) | Type::Map(i) => self.refs(i, out),
            _ => {}
        }
    }

    fn rust_type(&self, t: &Type, n: &Namer<'_>) -> Result<TokenStream> {
        Ok(match t {
            Type::Bool => quote!(bool),
            Type::I32 => quote!(i32),
            Type::I64 => quote!(i64),
            Type::F64 => quote!(f64),
            Type::String => quote!(String),
            Type::Bytes => n.core("ByteString"),
            Type::DateTime => n.core("Time"),
            Type::IntOrString => n.core("IntOrString"),
            Type::Any => quote!(serde_json::Value),
            Type::Array(i) => {
                let i = self.rust_type(i, n)?;
                quote!(Vec<#i>)
            }
            Type::Map(i) => {
                let i = self.rust_type(i, n)?;
                n.btree.set(true);
                quote!(BTreeMap<String, #i>)
            }
            Type::Ref(r) => {
                if let Some(item) = self.facts.list_items.get(r) {
                    let list = n.core("List");
                    let i = self.rust_type(&Type::Ref(item.clone()), n)?;
                    return Ok(quote!(#list<#i>));
                }
                let d = self.model.defs.get(r).ok_or_else(|| Error::Unaccounted {
                    version: self.model.version.clone(),
                    what: r.clone(),
                    message: "reference to a missing definition".into(),
                })?;
                match &d.kind {
                    DefKind::Special(s) => match s {
                        Special::Quantity => n.core("Quantity"),
                        Special::IntOrString => n.core("IntOrString"),
                        Special::Time => n.core("Time"),
                        Special::MicroTime => n.core("MicroTime"),
                        Special::JsonValue => quote!(serde_json::Value),
                        Special::FieldsV1 => n.core("FieldsV1"),
                        Special::Status => n.core("Status"),
                        Special::StatusDetails => n.core("StatusDetails"),
                        Special::StatusCause => n.core("StatusCause"),
                        Special::ListMeta => n.core("ListMeta"),
                        Special::WatchEvent => {
                            let w = n.core("WatchEvent");
                            quote!(#w<serde_json::Value>)
                        }
                        Special::SchemaUnion => self.def_ref(r, n)?,
                    },
                    DefKind::Skipped(reason) => {
                        return Err(Error::Unaccounted {
                            version: self.model.version.clone(),
                            what: r.clone(),
                            message: format!("referenced but skipped: {reason}"),
                        });
                    }
                    _ => self.def_ref(r, n)?,
                }
            }
        })
    }

    fn def_ref(&self, r: &str, n: &Namer<'_>) -> Result<TokenStream> {
        let (m, name) = def_location(r).ok_or_else(|| Error::Unaccounted {
            version: self.model.version.clone(),
            what: r.to_owned(),
            message: "no module for this definition name".into(),
        })?;
        Ok(n.def_path(&m, &name))
    }
}

fn is_secret(d: &Definition) -> bool {
    d.name == "io.k8s.api.core.v1.Secret"
}

/// Emits one version.
pub fn emit_version(model: &ApiModel, facts: &Facts, plan: &Plan) -> Result<Emitted> {
    let ctx = Ctx { model, facts };
    let vmod = naming::version_module(&model.version);
    let mut counts = Counts {
        definitions: model.defs.len(),
        operations: model.ops.len(),
        functions: plan.ops.len(),
        ops_folded: plan.folded.len(),
        ops_dropped: plan.dropped.len(),
        ops_emitted: model.ops.len() - plan.folded.len() - plan.dropped.len(),
        ..Counts::default()
    };

    // Module contents: definitions and operations per module path.
    let mut mod_defs: BTreeMap<Vec<String>, Vec<&Definition>> = BTreeMap::new();
    for d in model.defs.values() {
        match &d.kind {
            DefKind::Special(Special::SchemaUnion) => counts.special += 1,
            DefKind::Special(_) => {
                counts.special += 1;
                continue;
            }
            DefKind::Skipped(_) => {
                counts.skipped += 1;
                continue;
            }
            _ => {}
        }
        let (m, _) = def_location(&d.name).ok_or_else(|| Error::Unaccounted {
            version: model.version.clone(),
            what: d.name.clone(),
            message: "no module for this definition name".into(),
        })?;
        if !matches!(d.kind, DefKind::Special(_)) {
            counts.emitted += 1;
        }
        mod_defs.entry(m).or_default().push(d);
    }
    let mut mod_ops: BTreeMap<Vec<String>, Vec<&PlannedOp>> = BTreeMap::new();
    let mut kind_ops: BTreeMap<String, Vec<&PlannedOp>> = BTreeMap::new();
    for op in &plan.ops {
        match &op.owner {
            Owner::Kind(def) => kind_ops.entry(def.clone()).or_default().push(op),
            Owner::Module(m) => mod_ops.entry(m.clone()).or_default().push(op),
        }
    }
    let rows: BTreeMap<&str, &ResourceRow> =
        plan.resources.iter().map(|r| (r.def.as_str(), r)).collect();

    // All module paths, with their ancestors.
    let mut modules: BTreeSet<Vec<String>> = BTreeSet::new();
    modules.insert(Vec::new());
    for m in mod_defs.keys().chain(mod_ops.keys()) {
        for i in 0..=m.len() {
            modules.insert(m[..i].to_vec());
        }
    }
    // Kind ops live in the kind's module.
    for def in kind_ops.keys() {
        if let Some((m, _)) = def_location(def) {
            if !modules.contains(&m) {
                return Err(Error::Unaccounted {
                    version: model.version.clone(),
                    what: def.clone(),
                    message: "operations on a kind that is not emitted".into(),
                });
            }
        }
    }

    let mut out = Emitted {
        counts,
        ..Emitted::default()
    };
    for module in &modules {
        let defs = mod_defs.get(module).map(Vec::as_slice).unwrap_or(&[]);
        let fns = mod_ops.get(module).map(Vec::as_slice).unwrap_or(&[]);
        let children: Vec<&Vec<String>> = modules
            .iter()
            .filter(|c| c.len() == module.len() + 1 && c.starts_with(module))
            .collect();

        // Local names and imports.
        let mut locals: BTreeSet<String> = defs
            .iter()
            .filter_map(|d| def_location(&d.name).map(|l| l.1))
            .collect();
        for d in defs {
            for op in kind_ops.get(&d.name).map(Vec::as_slice).unwrap_or(&[]) {
                if matches!(op.builder, Builder::Custom { .. }) {
                    locals.insert(custom_struct_name(Some(d), op));
                }
            }
        }
        for op in fns {
            if matches!(op.builder, Builder::Custom { .. }) {
                locals.insert(custom_struct_name(None, op));
            }
        }
        let mut referenced = BTreeSet::new();
        for d in defs {
            if let DefKind::Struct(fields) = &d.kind {
                for f in fields {
                    ctx.refs(&f.ty, &mut referenced);
                }
            }
            for op in kind_ops.get(&d.name).map(Vec::as_slice).unwrap_or(&[]) {
                op_refs(&ctx, op, module, &mut referenced);
            }
        }
        for op in fns {
            op_refs(&ctx, op, module, &mut referenced);
        }
        let mut by_name: BTreeMap<String, BTreeSet<Vec<String>>> = BTreeMap::new();
        for r in &referenced {
            if let Some((m, name)) = def_location(r) {
                if &m != module {
                    by_name.entry(name).or_default().insert(m);
                }
            }
        }
        let imports: BTreeMap<String, Vec<String>> = by_name
            .into_iter()
            .filter(|(name, ms)| ms.len() == 1 && !locals.contains(name))
            .filter_map(|(name, ms)| ms.into_iter().next().map(|m| (name, m)))
            .collect();
        let namer = Namer {
            vmod: &vmod,
            module: module.clone(),
            locals,
            imports: imports.clone(),
            core_used: Default::default(),
            ops_used: Default::default(),
            btree: Default::default(),
            in_op: Default::default(),
            tops: Default::default(),
        };

        let mut items = Vec::new();
        for d in defs {
            items.push(emit_def(
                &ctx,
                &namer,
                d,
                rows.get(d.name.as_str()).copied(),
            )?);
            if let Some(ops) = kind_ops.get(&d.name) {
                items.push(emit_kind_ops(&ctx, &namer, d, ops)?);
            }
        }
        for op in fns {
            items.push(emit_fn(&ctx, &namer, None, op)?);
        }
        if module.is_empty() {
            items.push(emit_resource_table(&plan.resources, &model.version));
        }

        // Children.
        let child_items = children.iter().map(|c| {
            let name = c.last().map(String::as_str).unwrap_or_default();
            let i = ident(name);
            let gate = if module.is_empty() {
                feature_of(name).map(|f| quote!(#[cfg(feature = #f)]))
            } else {
                None
            };
            let doc = doc_line(&module_doc(model, c));
            quote!(#doc #gate pub mod #i;)
        });

        // Imports.
        let mut uses = Vec::new();
        if namer.btree.get() {
            uses.push(quote!(
                use std::collections::BTreeMap;
            ));
        }
        let core: Vec<Ident> = namer.core_used.borrow().iter().map(|s| ident(s)).collect();
        if !core.is_empty() {
            uses.push(quote!(use k8s_core::{#(#core),*};));
        }
        let ops: Vec<Ident> = namer.ops_used.borrow().iter().map(|s| ident(s)).collect();
        if !ops.is_empty() {
            uses.push(quote!(use k8s_core::ops::{#(#ops),*};));
        }
        let mut by_module: BTreeMap<&Vec<String>, Vec<&String>> = BTreeMap::new();
        for (name, m) in &imports {
            by_module.entry(m).or_default().push(name);
        }
        let v = ident(&vmod);
        for (m, names) in by_module {
            let segs = m.iter().map(|s| ident(s));
            let names = names.iter().map(|s| ident(s));
            uses.push(quote!(use crate::#v #(::#segs)*::{#(#names),*};));
        }

        let mdoc = format!(" {}", module_doc(model, module));
        let file_attrs = if module.is_empty() {
            quote! {
                #![doc = #mdoc]
                #![allow(clippy::too_many_arguments, clippy::large_enum_variant, clippy::doc_lazy_continuation, clippy::doc_overindented_list_items)]
            }
        } else {
            quote!(#![doc = #mdoc])
        };
        let tokens = quote! {
            #file_attrs
            #(#uses)*
            #(#child_items)*
            #(#items)*
        };
        let file: syn::File = syn::parse2(tokens).map_err(|e| Error::Emit {
            module: module.join("::"),
            message: e.to_string(),
        })?;
        let text = format!(
            "// Generated by `cargo xtask generate` from the Kubernetes {} OpenAPI spec. Do not edit.\n\n{}",
            model.version,
            prettyplease::unparse(&file)
        );
        let path = if module.is_empty() {
            PathBuf::from("mod.rs")
        } else if children.is_empty() {
            PathBuf::from(format!("{}.rs", module.join("/")))
        } else {
            PathBuf::from(format!("{}/mod.rs", module.join("/")))
        };
        out.files.insert(path, text);

        // Feature dependencies of the top-level module.
        if let Some(top) = module.first() {
            if let Some(f) = feature_of(top) {
                let deps = out.feature_deps.entry(f.to_owned()).or_default();
                for t in namer.tops.borrow().iter() {
                    if t != top {
                        if let Some(tf) = feature_of(t) {
                            deps.insert(tf.to_owned());
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

/// References of an operation that may be imported: not those in another feature-gated group
/// (the function is gated and names them by path, so no import goes unused).
fn op_refs(ctx: &Ctx<'_>, op: &PlannedOp, module: &[String], out: &mut BTreeSet<String>) {
    let mut refs = BTreeSet::new();
    for t in op.body.iter().chain(op.response.iter()) {
        ctx.refs(t, &mut refs);
    }
    for r in refs {
        let top = def_location(&r).and_then(|(m, _)| m.first().cloned());
        let foreign = top.as_deref().is_some_and(|t| {
            Some(t) != module.first().map(String::as_str) && feature_of(t).is_some()
        });
        if !foreign {
            out.insert(r);
        }
    }
}

fn module_doc(model: &ApiModel, module: &[String]) -> String {
    match module {
        [] => format!("The Kubernetes {} API.", model.version),
        [g] if g == "meta" => {
            "Object and list metadata, options and discovery types (`meta.k8s.io`).".into()
        }
        [g] if g == "version" => "The server's version information (`/version`).".into(),
        [g] => format!("The `{g}` API group."),
        [g, v] => format!("`{g}` `{v}`."),
        m => m.join("::"),
    }
}

fn emit_def(
    ctx: &Ctx<'_>,
    n: &Namer<'_>,
    d: &Definition,
    row: Option<&ResourceRow>,
) -> Result<TokenStream> {
    let (_, name) = def_location(&d.name).unwrap_or_default();
    let ty = ident(&name);
    let doc = doc_attrs(d.description.as_deref());
    match &d.kind {
        DefKind::Opaque => Ok(quote! {
            #doc
            #[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
            #[serde(transparent)]
            pub struct #ty(pub serde_json::Value);
        }),
        DefKind::Scalar(t) => {
            let t = ctx.rust_type(t, n)?;
            Ok(quote!(#doc pub type #ty = #t;))
        }
        DefKind::Special(Special::SchemaUnion) => emit_schema_union(&name, doc),
        DefKind::Struct(fields) => emit_struct(ctx, n, d, &name, fields, row),
        DefKind::Special(_) | DefKind::Skipped(_) => Ok(TokenStream::new()),
    }
}

fn emit_schema_union(name: &str, doc: TokenStream) -> Result<TokenStream> {
    let ty = ident(name);
    let other = match name {
        "JSONSchemaPropsOrArray" => quote! {
            /// A list of schemas (one per position of a tuple).
            Schemas(Vec<JSONSchemaProps>),
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
            Schema(Box<JSONSchemaProps>),
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

struct FieldGen {
    ident: Ident,
    json: String,
    /// The type without the `Option` of an optional field.
    inner: TokenStream,
    required: bool,
}

/// The `x-kubernetes-*` facts of a field that matter when patching or applying it, in words.
fn semantics(f: &Field) -> Vec<String> {
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

/// Hand-written `Serialize` and `Deserialize` of a struct: the same behaviour as serde's derive
/// for these structs (unknown fields ignored, duplicates rejected, `null` as absent; required
/// fields absent or `null` read as their default), at a fraction of the code to compile (no
/// sequence visitor, no field-identifier enum, no wrapper type per field).
fn emit_serde(name: &str, ty: &Ident, gens: &[FieldGen], gvk_typed: bool) -> TokenStream {
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
        if f.required {
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
    let mut field_ts = Vec::new();
    let mut seen = BTreeSet::new();
    for f in fields {
        if gvk_typed && (f.json_name == "apiVersion" || f.json_name == "kind") {
            continue;
        }
        let rust = snake(&f.json_name);
        if !seen.insert(rust.clone()) {
            return Err(Error::Unaccounted {
                version: ctx.model.version.clone(),
                what: format!("{}.{}", d.name, f.json_name),
                message: format!("two fields map to the Rust name {rust}"),
            });
        }
        let fid = ident(&rust);
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
        }

            });
        let meta = fields.iter().find(|f| {
            f.json_name == "metadata"
                && f.ty == Type::Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta".into())
        });
        if let Some(m) = meta {
            let get = |field: &str| {
                let fid = ident(field);
                if m.required {
                    quote!(self.metadata.#fid.as_deref())
                } else {
                    quote!(self.metadata.as_ref()?.#fid.as_deref())
                }
            };
            let (nm, ns, rv, uid) = (
                get("name"),
                get("namespace"),
                get("resource_version"),
                get("uid"),
            );
            out.extend(quote! {
                impl k8s_core::Object for #ty {
                    fn name(&self) -> Option<&str> { #nm }
                    fn namespace(&self) -> Option<&str> { #ns }
                    fn resource_version(&self) -> Option<&str> { #rv }
                    fn uid(&self) -> Option<&str> { #uid }
                }
            });
        }
    }
    Ok(out)
}

fn custom_struct_name(owner: Option<&Definition>, op: &PlannedOp) -> String {
    let kind = owner
        .and_then(|d| def_location(&d.name))
        .map(|l| l.1)
        .unwrap_or_default();
    let base = format!("{kind}{}", pascal(&op.fn_name));
    if owner.is_some() {
        base
    } else {
        format!("{base}Request")
    }
}

fn emit_kind_ops(
    ctx: &Ctx<'_>,
    n: &Namer<'_>,
    d: &Definition,
    ops: &[&PlannedOp],
) -> Result<TokenStream> {
    let (_, name) = def_location(&d.name).unwrap_or_default();
    let ty = ident(&name);
    let mut fns = Vec::new();
    let mut extra = Vec::new();
    for op in ops {
        let (f, e) = emit_op(ctx, n, Some(d), op)?;
        fns.push(f);
        extra.push(e);
    }
    Ok(quote! {
        impl #ty {
            #(#fns)*
        }
        #(#extra)*
    })
}

fn emit_fn(
    ctx: &Ctx<'_>,
    n: &Namer<'_>,
    owner: Option<&Definition>,
    op: &PlannedOp,
) -> Result<TokenStream> {
    let (f, e) = emit_op(ctx, n, owner, op)?;
    Ok(quote!(#f #e))
}

/// Builds `format!("/api/v1/namespaces/{}/pods", encode_path_segment(namespace))`.
fn path_expr(op: &PlannedOp, n: &Namer<'_>) -> TokenStream {
    if op.path_params.is_empty() {
        let p = &op.path;
        return quote!(#p.to_owned());
    }
    let mut fmt = String::new();
    let mut args = Vec::new();
    for seg in op.path.split('/').skip(1) {
        fmt.push('/');
        match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(p) => {
                fmt.push_str("{}");
                let id = ident(&snake(p));
                if p == "path" {
                    let e = n.op("encode_path_tail");
                    args.push(quote!(#e(#id)));
                } else {
                    let e = n.op("encode_path_segment");
                    args.push(quote!(#e(#id)));
                }
            }
            None => fmt.push_str(seg),
        }
    }
    quote!(format!(#fmt, #(#args),*))
}

fn emit_op(
    ctx: &Ctx<'_>,
    n: &Namer<'_>,
    owner: Option<&Definition>,
    op: &PlannedOp,
) -> Result<(TokenStream, TokenStream)> {
    n.in_op.set(true);
    let r = emit_op_inner(ctx, n, owner, op);
    n.in_op.set(false);
    let (f, e) = r?;
    // A function whose types live in another feature-gated group is gated by that feature, so
    // `core` alone does not pull in `policy` (Eviction) or `autoscaling` (Scale).
    let mut refs = BTreeSet::new();
    for t in op.body.iter().chain(op.response.iter()) {
        ctx.refs(t, &mut refs);
    }
    if let Builder::Custom {
        decode: CustomDecode::Json(t),
        ..
    } = &op.builder
    {
        ctx.refs(t, &mut refs);
    }
    let own = n.module.first().cloned();
    let feats: BTreeSet<String> = refs
        .iter()
        .filter_map(|r| def_location(r))
        .filter_map(|(m, _)| m.first().cloned())
        .filter(|top| Some(top) != own.as_ref())
        .filter_map(|top| feature_of(&top).map(str::to_owned))
        .collect();
    if feats.is_empty() {
        return Ok((f, e));
    }
    let feats: Vec<&String> = feats.iter().collect();
    let gate = match feats.as_slice() {
        [one] => quote!(#[cfg(feature = #one)]),
        many => quote!(#[cfg(all(#(feature = #many),*))]),
    };
    let e = if e.is_empty() {
        e
    } else {
        gate_items(&gate, e)
    };
    Ok((quote!(#gate #f), e))
}

/// Puts a `cfg` on every item of a token stream of items.
fn gate_items(gate: &TokenStream, items: TokenStream) -> TokenStream {
    match syn::parse2::<syn::File>(items.clone()) {
        Ok(file) => {
            let items = file.items.into_iter().map(|i| quote!(#gate #i));
            quote!(#(#items)*)
        }
        Err(_) => items,
    }
}

fn emit_op_inner(
    ctx: &Ctx<'_>,
    n: &Namer<'_>,
    owner: Option<&Definition>,
    op: &PlannedOp,
) -> Result<(TokenStream, TokenStream)> {
    let fname = ident(&op.fn_name);
    let mut doc_text = op.description.clone().unwrap_or_default();
    let http_line = match op.builder {
        Builder::Watch => format!("`GET {}?watch=1`", op.path),
        _ => format!("`{} {}`", op.method, op.path),
    };
    let path_args: Vec<TokenStream> = op
        .path_params
        .iter()
        .map(|p| {
            let id = ident(&snake(p));
            quote!(#id: &str)
        })
        .collect();
    let path = path_expr(op, n);
    let resp = |t: &Option<Type>| -> Result<TokenStream> {
        match t {
            Some(t) => ctx.rust_type(t, n),
            None => Err(Error::Unaccounted {
                version: ctx.model.version.clone(),
                what: op.op_id.clone(),
                message: "operation without a response type".into(),
            }),
        }
    };
    let body_ty = match &op.body {
        Some(t) => Some(ctx.rust_type(t, n)?),
        None => None,
    };
    let mut extra = TokenStream::new();
    let (args, ret, body) = match &op.builder {
        Builder::Get => {
            let r = resp(&op.response)?;
            let b = n.op("GetRequest");
            (
                quote!(#(#path_args),*),
                quote!(#b<#r>),
                quote!(#b::new(#path)),
            )
        }
        Builder::List | Builder::Watch | Builder::DeleteCollection | Builder::Delete => {
            let r = resp(&op.response)?;
            let b = n.op(match op.builder {
                Builder::List => "ListRequest",
                Builder::Watch => "WatchRequest",
                Builder::Delete => "DeleteRequest",
                _ => "DeleteCollectionRequest",
            });
            (
                quote!(#(#path_args),*),
                quote!(#b<#r>),
                quote!(#b::new(#path)),
            )
        }
        Builder::Create | Builder::Replace => {
            let r = resp(&op.response)?;
            let bt = body_ty.clone().unwrap_or_else(|| r.clone());
            let b = n.op(if op.builder == Builder::Create {
                "CreateRequest"
            } else {
                "ReplaceRequest"
            });
            (
                quote!(#(#path_args,)* body: &#bt),
                quote!(#b<#r>),
                quote!(#b::new(#path, body)),
            )
        }
        Builder::Patch => {
            let r = resp(&op.response)?;
            let b = n.op("PatchRequest");
            let p = n.core("Patch");
            (
                quote!(#(#path_args,)* patch: #p),
                quote!(#b<#r>),
                quote!(#b::new(#path, patch)),
            )
        }
        Builder::Custom { decode, query } => {
            let sname = custom_struct_name(owner, op);
            let sid = ident(&sname);
            let cr = n.op("CustomRequest");
            let (dec, dec_doc) = match decode {
                CustomDecode::Json(t) => {
                    let t = ctx.rust_type(t, n)?;
                    let j = n.op("Json");
                    (quote!(#j<#t>), "JSON")
                }
                CustomDecode::Text => (n.op("Text"), "text"),
                CustomDecode::Upgrade => (n.op("Upgrade"), "an upgraded connection"),
                CustomDecode::Bytes => (n.op("Bytes"), "bytes"),
            };
            if *decode == CustomDecode::Upgrade {
                doc_text.push_str(
                    "\n\nThis operation needs an upgraded connection (WebSocket or SPDY): the request is \
                     fully described, but a plain HTTP client cannot complete it.",
                );
            }
            let method = ident(&op.method);
            let repeated = op.action.as_deref() == Some("connect");
            let methods = query.iter().map(|q| {
                let mid = ident(&snake(&q.name));
                let qn = &q.name;
                let qdoc = match q.description.as_deref() {
                    Some(d) => doc_attrs(Some(d)),
                    None => doc_line(&format!("Sets `{}`.", q.name)),
                };
                let push = repeated && matches!(q.name.as_str(), "command" | "ports");
                let setter = if push {
                    quote!(push_query)
                } else {
                    quote!(set_query)
                };
                let (arg, conv) = match q.ty {
                    Type::Bool => (
                        quote!(value: bool),
                        quote!(if value { "true" } else { "false" }),
                    ),
                    Type::I32 => (quote!(value: i32), quote!(value.to_string())),
                    Type::I64 => (quote!(value: i64), quote!(value.to_string())),
                    _ => (quote!(value: impl Into<String>), quote!(value.into())),
                };
                let push_doc = push.then(|| doc_line("Repeatable: each call adds one value."));
                quote! {
                    #qdoc
                    #push_doc
                    pub fn #mid(self, #arg) -> Self {
                        #sid(self.0.#setter(#qn, #conv))
                    }
                }
            });
            let sdoc = doc_line(&format!(
                "Request of [`{}`]({}); decodes {dec_doc}.",
                op.fn_name,
                match owner {
                    Some(d) => format!(
                        "{}::{}",
                        def_location(&d.name).map(|l| l.1).unwrap_or_default(),
                        op.fn_name
                    ),
                    None => format!("fn@{}", op.fn_name),
                }
            ));
            if body_ty.is_some() {
                return Err(Error::Unaccounted {
                    version: ctx.model.version.clone(),
                    what: op.op_id.clone(),
                    message: "custom operation with a body".into(),
                });
            }
            let ar = n.core("ApiRequest");
            let (rq, re, de) = (
                n.core("Request"),
                n.core("RequestError"),
                n.core("DecodeError"),
            );
            extra = quote! {
                #sdoc
                #[derive(Clone, Debug)]
                pub struct #sid(pub #cr<#dec>);

                impl #sid {
                    #(#methods)*
                }

                impl #ar for #sid {
                    type Response = <#dec as k8s_core::ops::Decode>::Output;
                    fn to_request(&self) -> Result<#rq, #re> {
                        self.0.to_request()
                    }
                    fn decode_response(&self, body: &[u8]) -> Result<Self::Response, #de> {
                        self.0.decode_response(body)
                    }
                }
            };
            (
                quote!(#(#path_args),*),
                quote!(#sid),
                quote!(#sid(#cr::new(http::Method::#method, #path))),
            )
        }
    };
    if !doc_text.is_empty() {
        doc_text.push_str("\n\n");
    }
    let doc = doc_attrs(Some(&doc_text));
    let http_doc = doc_line(&http_line);
    let f = quote! {
        #doc
        #http_doc
        pub fn #fname(#args) -> #ret {
            #body
        }
    };
    Ok((f, extra))
}

fn emit_resource_table(rows: &[ResourceRow], version: &str) -> TokenStream {
    let entries = rows.iter().map(|r| {
        let (g, v, k, p) = (&r.group, &r.version, &r.kind, &r.plural);
        let lk = format!("{k}List");
        let scope = if r.namespaced {
            quote!(k8s_core::Scope::Namespaced)
        } else {
            quote!(k8s_core::Scope::Cluster)
        };
        let verbs = &r.verbs;
        let subs = r.subresources.iter().map(|(s, k)| quote!((#s, #k)));
        quote!(k8s_core::ResourceInfo::new(#g, #v, #k, #lk, #p, #scope, &[#(#verbs),*], &[#(#subs),*]))
    });
    let doc = doc_line(&format!(
        "Every resource of Kubernetes {version}: group, version, kind, plural, scope, verbs and subresources, derived from the spec's paths. Not gated by features."
    ));
    quote! {
        #doc
        pub const RESOURCES: &[k8s_core::ResourceInfo] = &[#(#entries),*];
    }
}
