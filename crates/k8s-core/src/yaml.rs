//! YAML manifests: one document into a typed object, a multi-document stream into an iterator,
//! and typed objects back to YAML.
//!
//! ```
//! use k8s_core::yaml;
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Named {
//!     kind: String,
//!     metadata: Meta,
//! }
//! #[derive(Deserialize)]
//! struct Meta {
//!     name: String,
//! }
//!
//! let manifest = "kind: ConfigMap\nmetadata:\n  name: a\n---\n# comment only: skipped\n---\nkind: Secret\nmetadata:\n  name: b\n";
//! let names: Vec<String> = yaml::from_str_multi::<Named>(manifest)
//!     .map(|doc| doc.map(|o| format!("{}/{}", o.kind, o.metadata.name)))
//!     .collect::<Result<_, _>>()?;
//! assert_eq!(names, ["ConfigMap/a", "Secret/b"]);
//! # Ok::<(), k8s_core::yaml::YamlError>(())
//! ```
//!
//! With `k8s-api`, `T` is any generated kind (`Deployment`, `ConfigMap`, …); a stream of mixed
//! kinds decodes into `serde_json::Value` (and into dynamic objects once they exist).
//!
//! **Documents** are split the way kubectl splits them (Go's `k8s.io/apimachinery/pkg/util/yaml`
//! `YAMLReader`): a line that starts with `---` and has nothing after it but spaces or a
//! `# comment` separates two documents; any other text after `---` on that line is an error.
//! Documents that hold nothing (only comments, whitespace or `null`) are skipped, as kubectl skips
//! them, but still count for [`YamlError::document`]. Anchors and aliases work within a document,
//! as YAML defines them.
//!
//! **Errors** carry the 0-based document index and the line and column in the whole input, never a
//! snippet of the text (a manifest may hold a Secret's data).
//!
//! serde-saphyr does the parsing; only the document split is ours, so that an error names its
//! document and one bad document does not end the stream.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;

use crate::DynamicObject;

/// A YAML manifest could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(self))]
#[non_exhaustive]
pub struct YamlError {
    /// 0-based index of the document in a multi-document stream (`None` for a single document).
    pub document: Option<usize>,
    /// 1-based line in the whole input, when the parser knows it.
    pub line: Option<u64>,
    /// 1-based column, when the parser knows it.
    pub column: Option<u64>,
    /// What is wrong, without any text of the input.
    pub message: String,
}

fn describe(e: &YamlError) -> String {
    let mut s = String::from("YAML");
    if let Some(d) = e.document {
        s.push_str(&format!(" document {d}"));
    }
    match (e.line, e.column) {
        (Some(l), Some(c)) => s.push_str(&format!(" at line {l}, column {c}")),
        (Some(l), None) => s.push_str(&format!(" at line {l}")),
        _ => {}
    }
    s.push_str(": ");
    s.push_str(&e.message);
    s
}

fn options() -> serde_saphyr::Options {
    // No source snippets in messages: a manifest may hold a Secret's data.
    serde_saphyr::options! { with_snippet: false }
}

/// Converts a serde-saphyr error, shifting its line by `first_line - 1` (the line where the
/// document starts in the whole input).
fn error(e: &serde_saphyr::Error, document: Option<usize>, first_line: u64) -> YamlError {
    let location = e.location();
    let mut message = e.to_string();
    // serde-saphyr appends the position to its message; ours is in the fields, in whole-input lines.
    if let Some(at) = message.rfind(" at line ") {
        message.truncate(at);
    }
    YamlError {
        document,
        line: location.map(|l| l.line() + first_line - 1),
        column: location.map(|l| l.column()),
        message,
    }
}

/// Reads one YAML document into `T`.
///
/// Fails if the text holds more than one document (use [`from_str_multi`] for streams).
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    serde_saphyr::from_str_with_options(text, options()).map_err(|e| error(&e, None, 1))
}

/// Writes `value` as one YAML document.
pub fn to_string<T: Serialize>(value: &T) -> Result<String, YamlError> {
    serde_saphyr::to_string(value).map_err(|e| YamlError {
        document: None,
        line: None,
        column: None,
        message: e.to_string(),
    })
}

/// Writes `values` as a multi-document stream, each document after a `---` line.
pub fn to_string_multi<'a, T, I>(values: I) -> Result<String, YamlError>
where
    T: Serialize + 'a,
    I: IntoIterator<Item = &'a T>,
{
    let mut out = String::new();
    for (index, value) in values.into_iter().enumerate() {
        let doc = to_string(value).map_err(|e| YamlError {
            document: Some(index),
            ..e
        })?;
        out.push_str("---\n");
        out.push_str(&doc);
        if !doc.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

/// Reads a multi-document YAML stream: an iterator with one item per non-empty document.
///
/// A document that does not decode gives an `Err` naming its index and line, and the iterator
/// goes on with the next document; a malformed separator line ends the stream with its error.
pub fn from_str_multi<T: DeserializeOwned>(text: &str) -> Documents<'_, T> {
    Documents {
        rest: text,
        next_line: 1,
        index: 0,
        done: false,
        _type: PhantomData,
    }
}

/// The iterator of [`from_str_multi`].
#[derive(Debug)]
pub struct Documents<'a, T> {
    rest: &'a str,
    /// 1-based line of the whole input where `rest` starts.
    next_line: u64,
    /// Index of the next document.
    index: usize,
    done: bool,
    _type: PhantomData<fn() -> T>,
}

/// One document cut out of the stream.
struct Chunk<'a> {
    text: &'a str,
    first_line: u64,
}

impl<'a, T> Documents<'a, T> {
    /// Cuts the next document (possibly empty) off `rest`, or reports a bad separator line.
    fn cut(&mut self) -> Option<Result<Chunk<'a>, YamlError>> {
        if self.done {
            return None;
        }
        let start = self.rest;
        let first_line = self.next_line;
        let mut offset = 0;
        loop {
            let remaining = &start[offset..];
            if remaining.is_empty() {
                self.done = true;
                self.rest = "";
                return Some(Ok(Chunk {
                    text: start,
                    first_line,
                }));
            }
            let line_len = remaining.find('\n').map_or(remaining.len(), |i| i + 1);
            let line = &remaining[..line_len];
            if let Some(after) = line.strip_prefix("---") {
                let after = after.trim();
                if !after.is_empty() && !after.starts_with('#') {
                    self.done = true;
                    return Some(Err(YamlError {
                        document: Some(self.index),
                        line: Some(self.next_line),
                        column: Some(4),
                        message: "invalid document separator: only spaces or a comment may follow `---` on its line".into(),
                    }));
                }
                self.rest = &remaining[line_len..];
                self.next_line += 1;
                return Some(Ok(Chunk {
                    text: &start[..offset],
                    first_line,
                }));
            }
            offset += line_len;
            self.next_line += 1;
        }
    }
}

impl<T: DeserializeOwned> Iterator for Documents<'_, T> {
    type Item = Result<T, YamlError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let chunk = match self.cut()? {
                Ok(chunk) => chunk,
                Err(e) => return Some(Err(e)),
            };
            // A leading `---` opens the first document: the empty text before it is no document.
            if chunk.text.is_empty() && chunk.first_line == 1 && !self.done {
                continue;
            }
            let index = self.index;
            self.index += 1;
            match serde_saphyr::from_str_with_options::<Option<T>>(chunk.text, options()) {
                Ok(Some(value)) => return Some(Ok(value)),
                Ok(None) => continue,
                Err(e) => return Some(Err(error(&e, Some(index), chunk.first_line))),
            }
        }
    }
}

/// Reads a multi-document stream of mixed kinds into [`DynamicObject`]s, with each document's
/// 0-based index (the index [`YamlError::document`] uses, counting empty documents).
///
/// A document without `apiVersion` or `kind` is an `Err` naming it; the iterator goes on, like
/// [`from_str_multi`]'s.
///
/// ```
/// let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: b}\n";
/// let objects: Vec<_> = k8s_core::yaml::from_str_dynamic(text).collect::<Result<_, _>>().unwrap();
/// assert_eq!(objects[1].1.kind, "Deployment");
/// assert_eq!(objects[1].0, 1);
/// ```
pub fn from_str_dynamic(text: &str) -> DynamicDocuments<'_> {
    DynamicDocuments {
        inner: from_str_multi(text),
    }
}

/// The iterator of [`from_str_dynamic`]: `(document index, object)`.
#[derive(Debug)]
pub struct DynamicDocuments<'a> {
    inner: Documents<'a, DynamicObject>,
}

impl Iterator for DynamicDocuments<'_> {
    type Item = Result<(usize, DynamicObject), YamlError>;

    fn next(&mut self) -> Option<Self::Item> {
        let object = match self.inner.next()? {
            Ok(object) => object,
            Err(e) => return Some(Err(e)),
        };
        // `Documents` counted the document it just returned.
        let index = self.inner.index.saturating_sub(1);
        let missing = match (object.api_version.is_empty(), object.kind.is_empty()) {
            (true, true) => Some("apiVersion and kind"),
            (true, false) => Some("apiVersion"),
            (false, true) => Some("kind"),
            (false, false) => None,
        };
        Some(match missing {
            Some(what) => Err(YamlError {
                document: Some(index),
                line: None,
                column: None,
                message: format!("the document has no {what}: cannot tell its resource"),
            }),
            None => Ok((index, object)),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde::Deserialize;
    use serde_json::{Value, json};

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    pub(super) struct Obj {
        kind: String,
        #[serde(default)]
        replicas: Option<i32>,
    }

    fn all<T: DeserializeOwned>(text: &str) -> Vec<Result<T, YamlError>> {
        from_str_multi::<T>(text).collect()
    }

    #[test]
    fn one_document() {
        let o: Obj = from_str("kind: A\nreplicas: 3\n").unwrap();
        assert_eq!(o.kind, "A");
        assert_eq!(o.replicas, Some(3));
    }

    #[test]
    fn one_document_rejects_a_stream() {
        let e = from_str::<Obj>("kind: A\n---\nkind: B\n").unwrap_err();
        assert!(e.document.is_none());
        assert!(!e.message.is_empty(), "{e}");
    }

    #[test]
    fn separators_comments_and_empty_documents() {
        let text = "# header\n---\nkind: A\n--- # second\nkind: B\n---\n\n# nothing here\n---\n---\nkind: C\n...\n";
        let got: Vec<String> = all::<Obj>(text)
            .into_iter()
            .map(|r| r.unwrap().kind)
            .collect();
        assert_eq!(got, ["A", "B", "C"]);
    }

    #[test]
    fn no_separator_at_all_and_trailing_separator() {
        assert_eq!(all::<Obj>("kind: A\n").len(), 1);
        assert_eq!(all::<Obj>("kind: A\n---\n").len(), 1);
        assert_eq!(all::<Obj>("").len(), 0);
        assert_eq!(all::<Obj>("---\n").len(), 0);
    }

    #[test]
    fn crlf_line_endings() {
        let got: Vec<String> = all::<Obj>("kind: A\r\n---\r\nkind: B\r\n")
            .into_iter()
            .map(|r| r.unwrap().kind)
            .collect();
        assert_eq!(got, ["A", "B"]);
    }

    #[test]
    fn anchors_and_aliases_within_a_document() {
        let text = "kind: A\nbase: &b {x: 1, y: [2, 3]}\ncopy: *b\nmerged:\n  <<: *b\n  z: 4\n";
        let v: Value = from_str(text).unwrap();
        assert_eq!(v["copy"], json!({"x": 1, "y": [2, 3]}));
        assert_eq!(v["merged"], json!({"x": 1, "y": [2, 3], "z": 4}));
    }

    #[test]
    fn a_bad_document_names_its_index_and_whole_input_line_and_the_stream_goes_on() {
        // Document 1 starts on line 4; its bad value is on line 5.
        let text = "kind: A\n---\n# c\nkind: B\nreplicas: three\n---\nkind: C\n";
        let got = all::<Obj>(text);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].as_ref().unwrap().kind, "A");
        let e = got[1].as_ref().unwrap_err();
        assert_eq!(e.document, Some(1));
        assert_eq!(e.line, Some(5), "{e}");
        let shown = e.to_string();
        assert!(shown.starts_with("YAML document 1 at line 5"), "{shown}");
        assert_eq!(got[2].as_ref().unwrap().kind, "C");
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let text = "kind: A\n---\nkind: [B\n";
        let got = all::<Obj>(text);
        let e = got[1].as_ref().unwrap_err();
        assert_eq!(e.document, Some(1));
        assert!(matches!(e.line, Some(3) | Some(4)), "{e}");
    }

    #[test]
    fn a_malformed_separator_ends_the_stream_with_its_line() {
        let got = all::<Obj>("kind: A\n--- kind: B\nkind: C\n");
        assert_eq!(got.len(), 1);
        let e = got[0].as_ref().unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.to_string().contains("separator"), "{e}");
    }

    #[test]
    fn errors_hold_no_text_of_the_input() {
        let e = from_str::<Obj>("kind: A\nreplicas: s3cr3t-v4lue\n").unwrap_err();
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
        assert!(!format!("{e:?}").contains("s3cr3t"), "{e:?}");
    }

    #[test]
    fn writes_one_and_many_documents_that_read_back() {
        let a = Obj {
            kind: "A".into(),
            replicas: Some(2),
        };
        let b = Obj {
            kind: "B".into(),
            replicas: None,
        };
        let one = to_string(&a).unwrap();
        assert_eq!(from_str::<Obj>(&one).unwrap(), a);
        let many = to_string_multi([&a, &b]).unwrap();
        assert!(many.starts_with("---\n"), "{many}");
        let back: Vec<Obj> = from_str_multi(&many).collect::<Result<_, _>>().unwrap();
        assert_eq!(back, [a, b]);
    }

    #[test]
    fn mixed_kinds_decode_into_dynamic_objects_and_a_kindless_document_is_named() {
        let text = "# comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: \"1\"\n---\n---\nmetadata: {name: x}\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: n}\nspec: {size: 3}\n";
        let all: Vec<_> = from_str_dynamic(text).collect();
        assert_eq!(all.len(), 3, "{all:?}");
        let (i, cm) = all[0].as_ref().unwrap();
        assert_eq!(
            (*i, cm.kind.as_str(), cm.name()),
            (1, "ConfigMap", Some("a"))
        );
        assert_eq!(cm.data["data"], json!({"k": "1"}));
        let e = all[1].as_ref().unwrap_err();
        // The comment before the first `---` and the empty document count, as in `from_str_multi`.
        assert_eq!(e.document, Some(3));
        assert_eq!(
            e.to_string(),
            "YAML document 3: the document has no apiVersion and kind: cannot tell its resource"
        );
        let (i, w) = all[2].as_ref().unwrap();
        assert_eq!(
            (*i, w.api_version.as_str(), w.namespace()),
            (4, "example.com/v1", Some("n"))
        );
        assert_eq!(w.data["spec"]["size"], 3);
    }
}
