//! Typed storage errors: whose fault it is (request, environment, corruption, bug).

use std::path::PathBuf;

/// Everything the storage layer can fail with. Variants say whose fault it is so that callers can
/// map them to a status without parsing strings.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The caller asked for something invalid (unknown table, type mismatch, bad schema).
    #[error("{0}")]
    Request(#[from] RequestError),
    /// The environment failed us: disk full, permission denied, I/O error.
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Stored bytes are not what this version wrote. Carries the file and byte offset.
    #[error("corrupt file {file} at offset {offset}: {reason}")]
    Corrupt {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
    /// A bound was reached (memory budget, row count); the caller should back off and retry.
    #[error("limit exceeded: {what} (limit {limit})")]
    LimitExceeded { what: &'static str, limit: u64 },
}

/// A request-level problem; each variant maps to a 4xx at the HTTP layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("Unknown table: {0}")]
    UnknownTable(String),
    #[error("Table already exists: {0}")]
    TableExists(String),
    #[error("Unknown column '{column}' in table {table}")]
    UnknownColumn { table: String, column: String },
    #[error("Column already exists: '{column}' in table {table}")]
    ColumnExists { table: String, column: String },
    #[error("column '{column}' of table {table} has type {expected}, got {got}")]
    TypeMismatch {
        table: String,
        column: String,
        expected: &'static str,
        got: &'static str,
    },
    #[error("column '{column}' has {got} rows, expected {expected}")]
    RowCountMismatch {
        column: String,
        expected: usize,
        got: usize,
    },
    #[error("column '{column}' must not be null (row {row})")]
    NullInRequiredColumn { column: String, row: usize },
    #[error("missing required column '{column}' for table {table}")]
    MissingColumn { table: String, column: String },
    #[error("invalid schema: {0}")]
    InvalidSchema(String),
    #[error(
        "symbol code {code} at row {row} is outside the batch dictionary of {dict_len} entries"
    )]
    BadSymbolCode {
        row: usize,
        code: u32,
        dict_len: usize,
    },
    #[error("string value too long in column '{column}': {len} bytes (max {max})")]
    StringTooLong {
        column: String,
        len: usize,
        max: usize,
    },
    #[error("invalid UTF-8 in symbol column '{column}' at row {row}")]
    InvalidUtf8 { column: String, row: usize },
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Attaches a path to an `io::Error`.
pub(crate) trait IoContext<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| StorageError::Io {
            path: path.into(),
            source,
        })
    }
}

pub(crate) fn corrupt(
    file: impl Into<PathBuf>,
    offset: u64,
    reason: impl Into<String>,
) -> StorageError {
    StorageError::Corrupt {
        file: file.into(),
        offset,
        reason: reason.into(),
    }
}
