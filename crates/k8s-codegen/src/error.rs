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
    /// Emitted code did not parse (a generator bug).
    #[error("generated code for {module} does not parse: {message}")]
    Emit {
        /// The module.
        module: String,
        /// The syn error.
        message: String,
    },
}

/// Result of the generator.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Escapes one JSON pointer token (RFC 6901).
pub fn pointer_token(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}
