//! Typed SQL errors with the ClickHouse error code each maps to.

use storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The text is not valid SQL (ClickHouse code 62, SYNTAX_ERROR).
    #[error("Syntax error: {0}")]
    Syntax(String),
    #[error("Unknown table: {0}")]
    UnknownTable(String),
    #[error("Unknown column '{column}' in {relation}{hint}")]
    UnknownColumn {
        column: String,
        relation: String,
        /// ` (did you mean 'price'?)` or empty.
        hint: String,
    },
    #[error("Unknown function {0}")]
    UnknownFunction(String),
    /// Wrong argument types or counts (ClickHouse 43, ILLEGAL_TYPE_OF_ARGUMENT / 42).
    #[error("{0}")]
    Type(String),
    /// A column outside GROUP BY used without an aggregate (ClickHouse 215).
    #[error("{0}")]
    NotAggregated(String),
    /// Valid SQL that Ronto does not run (ClickHouse 48, NOT_IMPLEMENTED).
    #[error("Not supported: {0}")]
    Unsupported(String),
    /// A bound was exceeded (ClickHouse 396 TOO_MANY_ROWS_OR_BYTES / 241 MEMORY_LIMIT_EXCEEDED).
    #[error("Limit exceeded: {what} (limit {limit})")]
    LimitExceeded { what: &'static str, limit: u64 },
    #[error("Query was cancelled")]
    Cancelled,
    #[error("Table {0} already exists")]
    TableExists(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{0}")]
    BadArguments(String),
    /// An error with a specific ClickHouse code that none of the variants above carries.
    #[error("{message}")]
    Coded {
        code: u32,
        name: &'static str,
        message: String,
    },
}

impl SqlError {
    /// The ClickHouse error code (`X-ClickHouse-Exception-Code`).
    pub fn code(&self) -> u32 {
        match self {
            SqlError::Syntax(_) => 62,
            SqlError::UnknownTable(_) => 60,
            SqlError::UnknownColumn { .. } => 47,
            SqlError::UnknownFunction(_) => 46,
            SqlError::Type(_) => 43,
            SqlError::NotAggregated(_) => 215,
            SqlError::Unsupported(_) => 48,
            SqlError::LimitExceeded { what, .. } if what.contains("memory") => 241,
            SqlError::LimitExceeded { .. } => 396,
            SqlError::Cancelled => 394,
            SqlError::TableExists(_) => 57,
            SqlError::BadArguments(_) => 36,
            SqlError::Coded { code, .. } => *code,
            SqlError::Storage(StorageError::Request(r)) => match r {
                storage::RequestError::UnknownTable(_) => 60,
                storage::RequestError::UnknownColumn { .. } => 16,
                storage::RequestError::TableExists(_) => 57,
                storage::RequestError::ColumnExists { .. } => 15,
                _ => 53,
            },
            SqlError::Storage(StorageError::LimitExceeded { .. }) => 241,
            SqlError::Storage(_) => 1000,
        }
    }

    /// ClickHouse's name for the code, printed in the error text.
    pub fn code_name(&self) -> &'static str {
        if let SqlError::Coded { name, .. } = self {
            return name;
        }
        match self.code() {
            62 => "SYNTAX_ERROR",
            60 => "UNKNOWN_TABLE",
            47 => "UNKNOWN_IDENTIFIER",
            46 => "UNKNOWN_FUNCTION",
            43 => "ILLEGAL_TYPE_OF_ARGUMENT",
            215 => "NOT_AN_AGGREGATE",
            48 => "NOT_IMPLEMENTED",
            396 => "TOO_MANY_ROWS_OR_BYTES",
            241 => "MEMORY_LIMIT_EXCEEDED",
            394 => "QUERY_WAS_CANCELLED",
            57 => "TABLE_ALREADY_EXISTS",
            36 => "BAD_ARGUMENTS",
            16 => "NO_SUCH_COLUMN_IN_TABLE",
            15 => "DUPLICATE_COLUMN",
            53 => "TYPE_MISMATCH",
            _ => "STD_EXCEPTION",
        }
    }

    /// Whether the request (not the server) is at fault: a 4xx.
    pub fn is_client_error(&self) -> bool {
        !matches!(
            self,
            SqlError::Storage(StorageError::Io { .. } | StorageError::Corrupt { .. })
        )
    }
}

pub type Result<T, E = SqlError> = std::result::Result<T, E>;

impl SqlError {
    pub fn coded(code: u32, name: &'static str, message: impl Into<String>) -> SqlError {
        SqlError::Coded {
            code,
            name,
            message: message.into(),
        }
    }
}

/// ` (did you mean 'x'?)` for the candidate closest to `name` by edit distance, if close.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let best = candidates
        .into_iter()
        .map(|c| (edit_distance(&name.to_lowercase(), &c.to_lowercase()), c))
        .min_by_key(|(d, _)| *d);
    match best {
        Some((d, c)) if d <= 2.max(name.len() / 3) => format!(" (did you mean '{c}'?)"),
        _ => String::new(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + (ca != cb) as usize;
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        // Adjacent transposition counts as one edit ("prcie" → "price").
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("prcie", ["timestamp", "symbol", "price", "volume"]),
            " (did you mean 'price'?)"
        );
        assert_eq!(did_you_mean("zzzzzz", ["price"]), "");
    }
}
