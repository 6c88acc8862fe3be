//! Errors of the generator: every one names the file and, where it applies, the JSON pointer.

use std::path::PathBuf;

/// Something in the input or the output stopped the generator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not valid JSON, or not the shape expected.
    #[error("{path}: invalid JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parse error, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// The spec says something the generator cannot represent.
    #[error("{path}#{pointer}: {message}")]
    Spec {
        /// The file.
        path: PathBuf,
        /// JSON pointer of the offending value.
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// A committed API model (`spec/v*.api`) is malformed.
    #[error("{path}:{line}: {message}")]
    Model {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A definition or operation is neither emitted, mapped nor deliberately skipped.
    #[error("{version}: {what} is not accounted for: {message}")]
    Unaccounted {
        /// Kubernetes version.
        version: String,
        /// The definition or operation.
        what: String,
        /// Why it could not be classified.
        message: String,
    },
    /// A custom resource definition could not be read or turned into types.
    #[error("{}", describe_crd(path, *document, pointer, message))]
    Crd {
        /// The file (or `cluster` for CRDs read from a cluster).
        path: PathBuf,
        /// 0-based index of the document in the file, when it has several.
        document: Option<usize>,
        /// JSON pointer of the offending value inside the document (empty: the whole document).
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// Emitted code did not parse (a generator bug).
    #[error("generated code for {module} does not parse: {message}")]
    Emit {
        /// The module.
        module: String,
        /// The syn error.
        message: String,
    },
}

fn describe_crd(
    path: &std::path::Path,
    document: Option<usize>,
    pointer: &str,
    message: &str,
) -> String {
    let mut s = path.display().to_string();
    if let Some(d) = document {
        s.push_str(&format!(" (document {d})"));
    }
    if !pointer.is_empty() {
        s.push_str(&format!(" at {pointer}"));
    }
    format!("{s}: {message}")
}

/// Result of the generator.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Escapes one JSON pointer token (RFC 6901).
pub fn pointer_token(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}
