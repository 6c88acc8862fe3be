//! Rustdoc from spec text: descriptions sanitised so they render and never compile as doctests.

use proc_macro2::TokenStream;
use quote::quote;

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
                    // A tab inside a line (1.37's lifecycle/v1alpha1 has one) trips clippy's
                    // `tabs_in_doc_comments`.
                    '\t' => out.push(' '),
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

pub(super) fn doc_attrs(text: Option<&str>) -> TokenStream {
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

pub(super) fn doc_line(s: &str) -> TokenStream {
    let s = format!(" {s}");
    quote!(#[doc = #s])
}
