//! How one module names things: Rust types of the IR, definitions (bare when local or imported,
//! else by path) and the `k8s_core` items it uses, recording what its `use` lines need.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::quote;

use super::ident;
use super::layout::{FilePlan, Home, Layout};
use crate::error::{Error, Result};
use crate::fixups::Facts;
use crate::ir::{ApiModel, DefKind, Special, Type};

/// The model and its facts: what every stage reads.
pub(super) struct Ctx<'a> {
    pub(super) model: &'a ApiModel,
    pub(super) facts: &'a Facts,
}

impl Ctx<'_> {
    /// Definition names a type refers to, through lists and specials.
    pub(super) fn refs(&self, t: &Type, out: &mut BTreeSet<String>) {
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

    /// The Rust type of an IR type, as named from the file of `n`.
    pub(super) fn rust_type(&self, t: &Type, n: &Namer<'_>) -> Result<TokenStream> {
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
                        Special::ObjectMeta => n.core("ObjectMeta"),
                        Special::OwnerReference => n.core("OwnerReference"),
                        Special::ManagedFieldsEntry => n.core("ManagedFieldsEntry"),
                        Special::WatchEvent => {
                            let w = n.core("WatchEvent");
                            quote!(#w<serde_json::Value>)
                        }
                        Special::SchemaUnion => n.def_path(r)?,
                    },
                    DefKind::Skipped(reason) => {
                        return Err(Error::Unaccounted {
                            version: self.model.version.clone(),
                            what: r.clone(),
                            message: format!("referenced but skipped: {reason}"),
                        });
                    }
                    _ => n.def_path(r)?,
                }
            }
        })
    }
}

/// Names things from one file of the layout, and records what the file uses: `k8s_core` and
/// `k8s_core::ops` items, `BTreeMap`, and the top-level modules its types refer to (the
/// feature dependencies of its group).
pub(super) struct Namer<'a> {
    vmod: &'a str,
    layout: &'a Layout<'a>,
    pub(super) file: &'a FilePlan<'a>,
    pub(super) core_used: RefCell<BTreeSet<&'static str>>,
    pub(super) ops_used: RefCell<BTreeSet<&'static str>>,
    pub(super) btree: Cell<bool>,
    /// While rendering an operation: references do not count as feature dependencies (the
    /// function is gated instead).
    pub(super) in_op: Cell<bool>,
    /// Top-level modules referenced (feature deps).
    pub(super) tops: RefCell<BTreeSet<String>>,
}

impl<'a> Namer<'a> {
    pub(super) fn new(vmod: &'a str, layout: &'a Layout<'a>, file: &'a FilePlan<'a>) -> Self {
        Namer {
            vmod,
            layout,
            file,
            core_used: RefCell::default(),
            ops_used: RefCell::default(),
            btree: Cell::default(),
            in_op: Cell::default(),
            tops: RefCell::default(),
        }
    }

    /// A `k8s_core` item: imported, unless a name of the module's scope shadows it.
    pub(super) fn core(&self, name: &'static str) -> TokenStream {
        let i = ident(name);
        if self.file.in_scope(name) {
            quote!(k8s_core::#i)
        } else {
            self.core_used.borrow_mut().insert(name);
            quote!(#i)
        }
    }

    /// A `k8s_core::ops` item (always imported).
    pub(super) fn op(&self, name: &'static str) -> TokenStream {
        self.ops_used.borrow_mut().insert(name);
        let i = ident(name);
        quote!(#i)
    }

    /// A definition: bare when the module defines or imports it, else by its path.
    pub(super) fn def_path(&self, def: &str) -> Result<TokenStream> {
        let home = self
            .layout
            .homes
            .get(def)
            .ok_or_else(|| Error::Unaccounted {
                version: self.layout.version.to_owned(),
                what: def.to_owned(),
                message: "no module for this definition name".into(),
            })?;
        Ok(self.path_of(home))
    }

    fn path_of(&self, home: &Home) -> TokenStream {
        if let Some(top) = home.module.first() {
            if !self.in_op.get() {
                self.tops.borrow_mut().insert(top.clone());
            }
        }
        let i = ident(&home.name);
        if self.file.sees_bare(home) {
            return quote!(#i);
        }
        let v = ident(self.vmod);
        let segs = home.module.iter().map(|m| ident(m));
        quote!(crate::#v #(::#segs)*::#i)
    }
}
