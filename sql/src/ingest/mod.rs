//! Ingestion decoders: InfluxDB line protocol, Arc MessagePack and Ronto's JSON write bodies
//! decoded into `storage::Batch`es, plus bounded gzip/zstd decompression. No HTTP here.
//!
//! Entry points: [`lineproto::decode`] and [`msgpack::decode`] infer the schema from the body and
//! return one [`DecodedTable`] per target table (a batch plus the types of its columns);
//! [`plan`] and [`conform`] then line a decoded table up with the catalog; [`json::decode`]
//! types a body against a table that must already exist; [`compress::decompress`] undoes a
//! `Content-Encoding` with a bound on the output.
//!
//! The write path a caller runs for schema-inferring formats:
//!
//! 1. decode the body → tables + per-row errors (bad lines never stop good ones: InfluxDB's
//!    partial-write behaviour);
//! 2. for each table, [`plan`] against the catalog entry (or `None`) → the `TableSpec` to create
//!    or the columns to add; apply it;
//! 3. [`conform`] the decoded table to the now-current schema: rows whose values cannot be stored
//!    in the table's column types are dropped and reported with their line/item;
//! 4. append `table.batch`.
//!
//! What must stay true:
//! - No input panics a decoder; every failure is a [`RowError`] (one line, item or row; the rest
//!   of the body still counts) or a [`DecodeError`] (the whole body), each saying where.
//! - Every batch names the designated columns `timestamp` (never NULL) and `symbol` (the shard
//!   key, never NULL), all of its columns are `rows` long, and symbol codes index
//!   `batch.symbols`, which holds each distinct tag value once.
//! - Everything is bounded by [`Limits`]: body bytes, rows, tables, columns, string bytes,
//!   message nesting and the number of errors kept.
//! - After warm-up the line decoder allocates only when a column vector grows or a new distinct
//!   tag value is interned, never per line.

pub mod compress;
pub mod json;
pub mod lineproto;
pub mod msgpack;

mod builder;
mod schema;

#[cfg(test)]
mod proptests;

use std::fmt;

use storage::{Batch, ColumnType, TableSpec, Values};

pub use compress::{decompress, DecompressError, Encoding};
pub use schema::{conflict_pins, conform, plan, Coercion, SchemaPlan};

/// Name of the designated timestamp column of every table the decoders produce.
pub const TIMESTAMP_COLUMN: &str = "timestamp";
/// Name of the designated shard-key column of every table the decoders produce.
pub const SYMBOL_COLUMN: &str = "symbol";

/// The unit of integer timestamps in a body. Values are kept as nanoseconds internally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Precision {
    Nanoseconds,
    Microseconds,
    Milliseconds,
    Seconds,
    Minutes,
    Hours,
}

impl Precision {
    /// The names InfluxDB 1.x and 2.x accept for `precision`: `ns`/`n`, `us`/`u`/`µ`/`µs`, `ms`,
    /// `s`, `m` (minutes) and `h`. The empty string is not a precision: callers pick their
    /// default.
    pub fn parse(name: &str) -> Option<Precision> {
        Some(match name {
            "ns" | "n" => Precision::Nanoseconds,
            "us" | "u" | "µ" | "µs" => Precision::Microseconds,
            "ms" => Precision::Milliseconds,
            "s" => Precision::Seconds,
            "m" => Precision::Minutes,
            "h" => Precision::Hours,
            _ => return None,
        })
    }

    pub fn ns_per_unit(self) -> i64 {
        match self {
            Precision::Nanoseconds => 1,
            Precision::Microseconds => 1_000,
            Precision::Milliseconds => 1_000_000,
            Precision::Seconds => 1_000_000_000,
            Precision::Minutes => 60_000_000_000,
            Precision::Hours => 3_600_000_000_000,
        }
    }

    /// `value` units in nanoseconds; `None` when that does not fit an i64.
    #[inline]
    pub fn to_ns(self, value: i64) -> Option<i64> {
        value.checked_mul(self.ns_per_unit())
    }

    /// A fractional `value` (MessagePack floats) in nanoseconds, rounded to the nearest;
    /// `None` when not finite or out of the i64 range.
    pub fn float_to_ns(self, value: f64) -> Option<i64> {
        let ns = (value * self.ns_per_unit() as f64).round();
        (ns.is_finite() && (-I64_END_F64..I64_END_F64).contains(&ns)).then_some(ns as i64)
    }
}

/// 2^63 as f64 (exact): floats in `-2^63..2^63` convert to i64 without saturating.
pub(crate) const I64_END_F64: f64 = 9_223_372_036_854_775_808.0;

/// Bounds for one decode. Over a bound a row is rejected with a [`Reason`] or, for
/// whole-body bounds, the decode fails with a [`DecodeError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of (decompressed) body; at most `u32::MAX`, so string offsets and byte offsets in
    /// errors fit in u32.
    pub body_bytes_max: usize,
    /// Rows one body may produce, over all tables.
    pub rows_max: usize,
    /// Distinct tables (measurements) in one body.
    pub tables_max: usize,
    /// Columns of one decoded table, `timestamp` and `symbol` included.
    pub columns_max: usize,
    /// Bytes of one string value. Tag (Symbol) values are further capped at
    /// `storage::dict::SYMBOL_BYTES_MAX`.
    pub string_bytes_max: usize,
    /// Row errors kept in [`Decoded::errors`]; later ones are only counted.
    pub errors_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes_max: 256 << 20,
            rows_max: 1 << 24,
            tables_max: 256,
            columns_max: 1024,
            string_bytes_max: 1 << 20,
            errors_max: 100,
        }
    }
}

impl Limits {
    pub(crate) fn check_body(&self, len: usize) -> Result<(), DecodeError> {
        let max = self.body_bytes_max.min(u32::MAX as usize);
        if len > max {
            return Err(DecodeError::BodyTooLarge { len, max });
        }
        Ok(())
    }
}

/// Where a row came from. Lines are 1-based (as editors count); byte offsets, items and rows are
/// 0-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Location {
    /// Line protocol: the line, and the byte offset of the problem in the body (of the line's
    /// first byte when the problem is the row as a whole).
    Line { line: u32, offset: u32 },
    /// MessagePack: an element of the batch (the top-level array or `batch`).
    Item { item: u32 },
    /// MessagePack: one row of a columnar element.
    ItemRow { item: u32, row: u32 },
    /// JSON: an element of `rows`, or a row index of `columns`.
    Row { row: u32 },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Location::Line { line, offset } => write!(f, "line {line} (byte {offset})"),
            Location::Item { item } => write!(f, "item {item}"),
            Location::ItemRow { item, row } => write!(f, "item {item}, row {row}"),
            Location::Row { row } => write!(f, "row {row}"),
        }
    }
}

/// Why one line, item or row was rejected. Every variant is the request's fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Reason {
    /// Malformed syntax; the text says what was expected.
    #[error("{0}")]
    Syntax(&'static str),
    #[error("invalid {kind} '{text}'")]
    BadValue { kind: &'static str, text: String },
    #[error("{kind} '{text}' is out of range")]
    OutOfRange { kind: &'static str, text: String },
    #[error("invalid UTF-8")]
    InvalidUtf8,
    #[error("invalid {what} name '{name}'")]
    BadName { what: &'static str, name: String },
    #[error("'{name}' is given twice")]
    Duplicate { name: String },
    #[error("'{name}' is reserved: {why}")]
    Reserved { name: String, why: &'static str },
    /// A field changed type within one request (`x=1i` then `x=1.5`).
    #[error("column '{column}' is {} earlier in this request but {} here", .first.name(), .got.name())]
    ConflictInRequest {
        column: String,
        first: ColumnType,
        got: ColumnType,
    },
    /// A value's type does not match the existing table column.
    #[error("column '{column}' of table '{table}' is {}, the value is {}", .expected.name(), .got.name())]
    TypeConflict {
        table: String,
        column: String,
        expected: ColumnType,
        got: ColumnType,
    },
    /// A JSON value that does not fit its column's type.
    #[error("column '{column}' is {}, cannot store {got}", .expected.name())]
    WrongJsonType {
        column: String,
        expected: ColumnType,
        got: &'static str,
    },
    #[error("{what} of {len} bytes is over the limit of {max} bytes")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("table '{table}' would have more than {max} columns")]
    TooManyColumns { table: String, max: usize },
    #[error("more than {max} tables in one request")]
    TooManyTables { max: usize },
    #[error("table '{table}' has no column '{column}'")]
    UnknownColumn { table: String, column: String },
    #[error("column '{column}' must not be NULL")]
    Null { column: String },
    #[error("unknown key '{key}'")]
    UnknownKey { key: String },
    #[error("columns have different lengths ({first} and {other})")]
    RaggedColumns { first: usize, other: usize },
}

/// One rejected line, item or row.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{at}: {reason}")]
pub struct RowError {
    pub at: Location,
    pub reason: Reason,
}

/// Why a whole body was rejected. Every variant is the request's fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("body of {len} bytes is over the limit of {max} bytes")]
    BodyTooLarge { len: usize, max: usize },
    #[error("more than {max} rows in one request")]
    TooManyRows { max: usize },
    /// The body's structure is broken (MessagePack or JSON), so no later row can be found.
    #[error("byte {offset}: {message}")]
    Malformed {
        offset: usize,
        message: &'static str,
    },
    /// The JSON body names another table than the schema it is decoded against.
    #[error("the body is for table '{body}', not '{schema}'")]
    TableMismatch { body: String, schema: String },
    #[error("the body has no '{0}'")]
    Missing(&'static str),
}

impl DecodeError {
    /// The HTTP status a server answers with: 413 over a size bound, else 400.
    pub fn http_status(&self) -> u16 {
        match self {
            DecodeError::BodyTooLarge { .. } | DecodeError::TooManyRows { .. } => 413,
            _ => 400,
        }
    }
}

/// A decoded table: its batch, the type of every batch column (the same order), and where each
/// row came from (for errors found after decoding, such as conflicts with the catalog).
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedTable {
    pub batch: Batch,
    pub types: Vec<ColumnType>,
    pub origins: Vec<Location>,
}

impl DecodedTable {
    pub fn name(&self) -> &str {
        &self.batch.table
    }

    pub fn rows(&self) -> usize {
        self.batch.rows()
    }

    /// Column names and inferred types, in batch order (`timestamp` and `symbol` first).
    pub fn schema(&self) -> impl Iterator<Item = (&str, ColumnType)> {
        self.batch
            .columns
            .iter()
            .zip(&self.types)
            .map(|(c, &t)| (c.name.as_str(), t))
    }

    /// The spec that creates this table: every decoded column, `timestamp` and `symbol`
    /// designated.
    pub fn table_spec(&self) -> TableSpec {
        let mut spec = TableSpec::new(self.name());
        for (name, ty) in self.schema() {
            spec = spec.column(name, ty);
        }
        spec
    }

    /// Panics when a structural invariant does not hold; for tests and fuzzing.
    pub fn check_invariants(&self) {
        let rows = self.rows();
        assert_eq!(
            self.types.len(),
            self.batch.columns.len(),
            "one type per column"
        );
        assert_eq!(self.origins.len(), rows, "one origin per row");
        assert_eq!(self.batch.columns[0].name, TIMESTAMP_COLUMN);
        assert_eq!(self.batch.columns[1].name, SYMBOL_COLUMN);
        for (c, ty) in self.batch.columns.iter().zip(&self.types) {
            assert_eq!(c.data.len(), rows, "column {} length", c.name);
            if let Some(v) = &c.data.validity {
                assert_eq!(v.len(), rows, "column {} validity length", c.name);
            }
            let physical = c.data.values.physical();
            let ok = physical == ty.physical()
                || (*ty == ColumnType::Symbol && physical == storage::Physical::Str);
            assert!(
                ok,
                "column {} is {:?} but typed {}",
                c.name,
                physical,
                ty.name()
            );
            if let Values::Sym(codes) = &c.data.values {
                assert!(
                    codes
                        .iter()
                        .all(|&k| (k as usize) < self.batch.symbols.len()),
                    "column {} has a code outside the dictionary",
                    c.name
                );
            }
        }
        for i in [0, 1] {
            assert!(
                self.batch.columns[i].data.validity.is_none(),
                "designated column {} holds NULLs",
                self.batch.columns[i].name
            );
        }
        let mut names: Vec<&str> = self.batch.columns.iter().map(|c| c.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(
            names.len(),
            self.batch.columns.len(),
            "duplicate column names"
        );
    }
}

/// What a schema-inferring decoder returns: the tables with rows, and the rows that were not.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decoded {
    /// Tables in order of first appearance; none is empty.
    pub tables: Vec<DecodedTable>,
    /// The first [`Limits::errors_max`] rejected lines, items or rows, in input order.
    pub errors: Vec<RowError>,
    /// Lines, items or rows rejected in total (at least `errors.len()`).
    pub rejected: usize,
    /// Rows over all tables.
    pub rows: usize,
}

impl Decoded {
    pub fn table(&self, name: &str) -> Option<&DecodedTable> {
        self.tables.iter().find(|t| t.name() == name)
    }
}

/// Collects row errors up to a bound and counts all of them.
#[derive(Debug, Default)]
pub(crate) struct ErrorSink {
    pub errors: Vec<RowError>,
    pub rejected: usize,
    pub max: usize,
}

impl ErrorSink {
    pub fn new(max: usize) -> ErrorSink {
        ErrorSink {
            errors: Vec::new(),
            rejected: 0,
            max,
        }
    }

    pub fn push(&mut self, at: Location, reason: Reason) {
        self.rejected += 1;
        if self.errors.len() < self.max {
            self.errors.push(RowError { at, reason });
        }
    }
}

/// At most 64 characters of `bytes` for an error message.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    const MAX: usize = 64;
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX)]).into_owned();
    if bytes.len() > MAX {
        s + "…"
    } else {
        s
    }
}
