//! Emission: the planned model of one Kubernetes version becomes Rust modules (`quote` tokens
//! formatted by `prettyplease`). Deterministic: the same model gives the same bytes.
//!
//! Stages, each a module:
//!
//! 1. `layout`: decisions as data: the module of every definition and the part file it is
//!    written in, the names each module defines and imports, request struct names, feature gates.
//! 2. Items, per module of the layout, named through the module's `namer::Namer`: `types`
//!    (structs, aliases, unions, `Resource`/`Object` impls), `serde_impls` (the written-out serde
//!    impls of structs), `protobuf` (`Message` impls, feature `protobuf`), `operations`
//!    (functions and request builders).
//! 3. `modules`: each file's text: `use` lines, child modules, `include!` of part files, items.
//!
//! A new artefact (apply types, protobuf codecs, …) is a module of stage 2 called from
//! `def_items` (or, for module-level items, from [`emit_version`]); if it defines new names,
//! `layout` lists them with the module's other names (as it does for the request structs of
//! custom operations) so imports stay unambiguous.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use crate::error::Result;
use crate::fixups::Facts;
use crate::ir::{ApiModel, DefKind};
use crate::naming::{self, feature_of};
use crate::plan::{Plan, ResourceRow};

mod apply;
mod docs;
mod kinds;
mod layout;
mod modules;
mod namer;
mod operations;
mod protobuf;
mod serde_impls;
mod types;

pub use docs::sanitize_doc;

use layout::DefPlan;
use namer::{Ctx, Namer};

/// What was emitted for one version.
#[derive(Debug, Default)]
pub struct Emitted {
    /// File contents by path relative to the version directory (`mod.rs`, `core/v1/mod.rs`,
    /// `core/v1/pod.rs`, …).
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

/// Emits one version.
pub fn emit_version(model: &ApiModel, facts: &Facts, plan: &Plan) -> Result<Emitted> {
    let ctx = Ctx { model, facts };
    let vmod = naming::version_module(&model.version);
    let layout = layout::layout(&ctx, plan)?;
    let rows: BTreeMap<&str, &ResourceRow> =
        plan.resources.iter().map(|r| (r.def.as_str(), r)).collect();
    let mut out = Emitted {
        counts: counts(model, plan),
        ..Emitted::default()
    };
    let twins = apply::twins(&ctx, plan);
    for file in &layout.files {
        let namer = Namer::new(&vmod, &layout, file);
        let mut items = def_items(&ctx, &namer, &file.defs, &rows)?;
        // Apply configurations: a child module `apply`, in a file of its own, or inline when the
        // output is one file per module (custom resources).
        if facts.one_file_per_module {
            items.extend(apply::emit_inline(
                &ctx,
                &vmod,
                &layout.homes,
                file,
                &twins,
                &rows,
            )?);
        } else {
            items.splice(0..0, apply::module_decl(file, &twins));
        }
        if let Some((path, tokens)) = (!facts.one_file_per_module)
            .then(|| apply::emit_module(&ctx, &vmod, &layout.homes, file, &twins, &rows))
            .transpose()?
            .flatten()
        {
            let text = modules::unparse(&file.module, tokens)?;
            out.files
                .insert(path, format!("{}\n{text}", modules::header(model)));
        }
        let part_items = file
            .parts
            .iter()
            .map(|p| def_items(&ctx, &namer, &p.defs, &rows))
            .collect::<Result<Vec<_>>>()?;
        for op in &file.fns {
            items.push(operations::emit_fn(&ctx, &namer, op)?);
        }
        if file.module.is_empty() {
            items.push(modules::emit_resource_table(
                &plan.resources,
                &model.version,
            ));
            items.push(kinds::emit_registry(&ctx, &vmod));
        }
        let texts = modules::render_module(model, &vmod, file, &namer, &items, &part_items)?;
        out.files.extend(texts);
        // Feature dependencies of the top-level module.
        if let Some(f) = file.module.first().and_then(|top| feature_of(top)) {
            let deps = out.feature_deps.entry(f.to_owned()).or_default();
            for t in namer.tops.borrow().iter() {
                if Some(t) != file.module.first() {
                    deps.extend(feature_of(t).map(str::to_owned));
                }
            }
        }
    }
    Ok(out)
}

/// The items of definitions: each one's type, then its operations.
fn def_items(
    ctx: &Ctx<'_>,
    n: &Namer<'_>,
    defs: &[DefPlan<'_>],
    rows: &BTreeMap<&str, &ResourceRow>,
) -> Result<Vec<TokenStream>> {
    let mut items = Vec::new();
    for d in defs {
        let row = rows.get(d.def.name.as_str()).copied();
        items.push(types::emit_def(ctx, n, d.def, row)?);
        items.push(operations::emit_kind_ops(ctx, n, d.def, &d.ops)?);
    }
    Ok(items)
}

/// How the model's definitions and operations were accounted for.
fn counts(model: &ApiModel, plan: &Plan) -> Counts {
    let mut c = Counts {
        definitions: model.defs.len(),
        operations: model.ops.len(),
        functions: plan.ops.len(),
        ops_folded: plan.folded.len(),
        ops_dropped: plan.dropped.len(),
        ops_emitted: model.ops.len() - plan.folded.len() - plan.dropped.len(),
        ..Counts::default()
    };
    for d in model.defs.values() {
        match &d.kind {
            DefKind::Special(_) => c.special += 1,
            DefKind::Skipped(_) => c.skipped += 1,
            _ => c.emitted += 1,
        }
    }
    c
}

fn ident(s: &str) -> Ident {
    Ident::new(s, Span::call_site())
}

/// `#[cfg(feature = "a")]`, or `#[cfg(all(feature = "a", feature = "b"))]`; nothing when
/// `features` is empty.
fn feature_gate(features: &[String]) -> TokenStream {
    match features {
        [] => TokenStream::new(),
        [one] => quote!(#[cfg(feature = #one)]),
        many => quote!(#[cfg(all(#(feature = #many),*))]),
    }
}
