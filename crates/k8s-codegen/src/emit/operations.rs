//! Stage 2c: operations: associated functions of kinds and free functions of modules, each
//! returning a typed request builder of `k8s_core::ops`, and the request struct of each custom
//! operation (logs, exec, proxy, …). Gated by the features [`op_features`] finds.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::quote;

use super::docs::{doc_attrs, doc_line};
use super::layout::OpPlan;
use super::namer::{Ctx, Namer};
use super::{feature_gate, ident};
use crate::error::{Error, Result};
use crate::ir::{Definition, Type};
use crate::naming::{def_location, feature_of, pascal, snake};
use crate::plan::{Builder, CustomDecode, PlannedOp};

/// The request struct of a custom operation: `PodExec` for a kind's `exec`, `ConnectProxyRequest`
/// for a free function.
pub(super) fn custom_struct_name(owner: Option<&Definition>, op: &PlannedOp) -> String {
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

/// Features of the groups (other than `module`'s own) whose types an operation names: a function
/// whose types live in another feature-gated group is gated by that feature, so `core` alone does
/// not pull in `policy` (Eviction) or `autoscaling` (Scale).
pub(super) fn op_features(ctx: &Ctx<'_>, op: &PlannedOp, module: &[String]) -> Vec<String> {
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
    let own = module.first();
    let feats: BTreeSet<String> = refs
        .iter()
        .filter_map(|r| def_location(r))
        .filter_map(|(m, _)| m.first().cloned())
        .filter(|top| Some(top) != own)
        .filter_map(|top| feature_of(&top).map(str::to_owned))
        .collect();
    feats.into_iter().collect()
}

/// The associated functions of a kind (`impl Pod { … }`) and their request structs.
pub(super) fn emit_kind_ops(
    ctx: &Ctx<'_>,
    n: &Namer<'_>,
    d: &Definition,
    ops: &[OpPlan<'_>],
) -> Result<TokenStream> {
    if ops.is_empty() {
        return Ok(TokenStream::new());
    }
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

/// A free function of a module and its request struct.
pub(super) fn emit_fn(ctx: &Ctx<'_>, n: &Namer<'_>, op: &OpPlan<'_>) -> Result<TokenStream> {
    let (f, e) = emit_op(ctx, n, None, op)?;
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
    op: &OpPlan<'_>,
) -> Result<(TokenStream, TokenStream)> {
    n.in_op.set(true);
    let r = emit_op_inner(ctx, n, owner, op);
    n.in_op.set(false);
    let (f, e) = r?;
    if op.features.is_empty() {
        return Ok((f, e));
    }
    let gate = feature_gate(&op.features);
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
    plan: &OpPlan<'_>,
) -> Result<(TokenStream, TokenStream)> {
    let op = plan.op;
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
    // A request for a kind is built with `for_kind`, which keeps the kind's protobuf codec
    // (`k8s_core::Resource::protobuf_codec`); everything else is JSON only (`new`).
    let is_kind =
        |t: &Option<Type>| matches!(t, Some(Type::Ref(name)) if ctx.facts.gvk_typed.contains(name));
    let ctor = |kind: bool| if kind { quote!(for_kind) } else { quote!(new) };
    let mut extra = TokenStream::new();
    let (args, ret, body) = match &op.builder {
        Builder::Get => {
            let r = resp(&op.response)?;
            let b = n.op("GetRequest");
            let new = ctor(is_kind(&op.response));
            (
                quote!(#(#path_args),*),
                quote!(#b<#r>),
                quote!(#b::#new(#path)),
            )
        }
        Builder::List | Builder::Watch => {
            let r = resp(&op.response)?;
            let b = n.op(if op.builder == Builder::List {
                "ListRequest"
            } else {
                "WatchRequest"
            });
            let new = ctor(is_kind(&op.response));
            (
                quote!(#(#path_args),*),
                quote!(#b<#r>),
                quote!(#b::#new(#path)),
            )
        }
        Builder::DeleteCollection | Builder::Delete => {
            let r = resp(&op.response)?;
            let b = n.op(if op.builder == Builder::Delete {
                "DeleteRequest"
            } else {
                "DeleteCollectionRequest"
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
            let same_body = op.body.is_none() || op.body == op.response;
            let new = ctor(same_body && is_kind(&op.response));
            (
                quote!(#(#path_args,)* body: &#bt),
                quote!(#b<#r>),
                quote!(#b::#new(#path, body)),
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
            let sname = plan
                .custom
                .clone()
                .unwrap_or_else(|| custom_struct_name(owner, op));
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
