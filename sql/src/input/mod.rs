//! Input formats for `INSERT INTO t [(cols)] FORMAT X`: decode a request body into a `storage::Batch`.
//!
//! Entry point: [`decode`]. It takes the format, the body, the target table's schema and the
//! optional explicit column list, and returns a [`Decoded`] batch with one column per target
//! column (the listed columns, or every column of the table), typed as the table says:
//! Int64/Timestamp → `Values::I64`, UInt64 → `U64`, Float64 → `F64`, Bool → `Bool`,
//! Symbol/String → `Str`, NULLs in the validity bitmap.
//!
//! What must stay true:
//! - No input panics the decoder; every failure is an [`InputError`] that says what was wrong and
//!   where (line for text formats, byte offset for binary ones) and which column.
//! - Everything is bounded by [`InputOptions`]: rows per batch, bytes per field, bytes per string
//!   column, collected row errors. Over a bound the answer is an error, never a silent drop.
//! - The designated timestamp and symbol columns are never NULL in a returned batch: a row that
//!   lacks them is a row error.
//! - Integers for Timestamp columns are nanoseconds since the epoch (the tick convention, unlike
//!   ClickHouse, which reads them as seconds); date-time strings and binary `DateTime`,
//!   `DateTime64(p)`, `Date` and `Date32` values are converted to nanoseconds.
//!
//! Text formats (JSONEachRow, JSONCompactEachRow, CSV, TSV, Values) can run in
//! [`ErrorMode::SkipBadRows`]: rows that fail are left out and reported as [`RowError`]s
//! (InfluxDB-style partial writes). Binary formats cannot resynchronise after a bad value, so
//! they always stop at the first error.

mod binary;
mod builder;
mod delimited;
mod json;
mod native;
mod rowbinary;
mod scalar;
mod values;

#[cfg(test)]
mod tests;

use std::fmt;

use storage::{Batch, ColumnType, TableSchema};

use builder::{Builder, ColumnBuilder, Reason};

/// Rows one decode may produce unless [`InputOptions::rows_max`] says otherwise.
pub const ROWS_MAX_DEFAULT: usize = 1 << 20;
/// Bytes one field (a string, a number's text) may have.
pub const FIELD_BYTES_MAX_DEFAULT: usize = 1 << 20;
/// Bytes of string data one column of one batch may hold (string offsets are u32).
pub const COLUMN_BYTES_MAX_DEFAULT: usize = 1 << 30;
/// Row errors collected in [`ErrorMode::SkipBadRows`] before the whole decode fails.
pub const ROW_ERRORS_MAX_DEFAULT: usize = 1000;
/// Bytes a column name or type name in a binary header may have.
pub const NAME_BYTES_MAX: usize = 64 << 10;
/// The `client_protocol_version` from which Native columns carry a custom-serialization byte.
pub const NATIVE_REVISION_CUSTOM_SERIALIZATION: u64 = 54454;

/// The ClickHouse formats an `INSERT … FORMAT X` body may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputFormat {
    JsonEachRow,
    JsonCompactEachRow,
    JsonCompactEachRowWithNames,
    JsonCompactEachRowWithNamesAndTypes,
    Csv,
    CsvWithNames,
    CsvWithNamesAndTypes,
    TabSeparated,
    TabSeparatedRaw,
    TabSeparatedWithNames,
    TabSeparatedWithNamesAndTypes,
    RowBinary,
    RowBinaryWithNames,
    RowBinaryWithNamesAndTypes,
    Native,
    Values,
}

impl InputFormat {
    pub const ALL: [InputFormat; 16] = [
        InputFormat::JsonEachRow,
        InputFormat::JsonCompactEachRow,
        InputFormat::JsonCompactEachRowWithNames,
        InputFormat::JsonCompactEachRowWithNamesAndTypes,
        InputFormat::Csv,
        InputFormat::CsvWithNames,
        InputFormat::CsvWithNamesAndTypes,
        InputFormat::TabSeparated,
        InputFormat::TabSeparatedRaw,
        InputFormat::TabSeparatedWithNames,
        InputFormat::TabSeparatedWithNamesAndTypes,
        InputFormat::RowBinary,
        InputFormat::RowBinaryWithNames,
        InputFormat::RowBinaryWithNamesAndTypes,
        InputFormat::Native,
        InputFormat::Values,
    ];

    /// The format named in `FORMAT X`, ClickHouse names and aliases, ASCII case-insensitive.
    pub fn parse(name: &str) -> Option<InputFormat> {
        let lower = name.trim().to_ascii_lowercase();
        Some(match lower.as_str() {
            "jsoneachrow" | "jsonlines" | "ndjson" => InputFormat::JsonEachRow,
            "jsoncompacteachrow" => InputFormat::JsonCompactEachRow,
            "jsoncompacteachrowwithnames" => InputFormat::JsonCompactEachRowWithNames,
            "jsoncompacteachrowwithnamesandtypes" => {
                InputFormat::JsonCompactEachRowWithNamesAndTypes
            }
            "csv" => InputFormat::Csv,
            "csvwithnames" => InputFormat::CsvWithNames,
            "csvwithnamesandtypes" => InputFormat::CsvWithNamesAndTypes,
            "tabseparated" | "tsv" => InputFormat::TabSeparated,
            "tabseparatedraw" | "tsvraw" | "raw" => InputFormat::TabSeparatedRaw,
            "tabseparatedwithnames" | "tsvwithnames" => InputFormat::TabSeparatedWithNames,
            "tabseparatedwithnamesandtypes" | "tsvwithnamesandtypes" => {
                InputFormat::TabSeparatedWithNamesAndTypes
            }
            "rowbinary" => InputFormat::RowBinary,
            "rowbinarywithnames" => InputFormat::RowBinaryWithNames,
            "rowbinarywithnamesandtypes" => InputFormat::RowBinaryWithNamesAndTypes,
            "native" => InputFormat::Native,
            "values" => InputFormat::Values,
            _ => return None,
        })
    }

    /// The canonical ClickHouse name.
    pub fn name(self) -> &'static str {
        match self {
            InputFormat::JsonEachRow => "JSONEachRow",
            InputFormat::JsonCompactEachRow => "JSONCompactEachRow",
            InputFormat::JsonCompactEachRowWithNames => "JSONCompactEachRowWithNames",
            InputFormat::JsonCompactEachRowWithNamesAndTypes => {
                "JSONCompactEachRowWithNamesAndTypes"
            }
            InputFormat::Csv => "CSV",
            InputFormat::CsvWithNames => "CSVWithNames",
            InputFormat::CsvWithNamesAndTypes => "CSVWithNamesAndTypes",
            InputFormat::TabSeparated => "TabSeparated",
            InputFormat::TabSeparatedRaw => "TabSeparatedRaw",
            InputFormat::TabSeparatedWithNames => "TabSeparatedWithNames",
            InputFormat::TabSeparatedWithNamesAndTypes => "TabSeparatedWithNamesAndTypes",
            InputFormat::RowBinary => "RowBinary",
            InputFormat::RowBinaryWithNames => "RowBinaryWithNames",
            InputFormat::RowBinaryWithNamesAndTypes => "RowBinaryWithNamesAndTypes",
            InputFormat::Native => "Native",
            InputFormat::Values => "Values",
        }
    }

    /// Whether [`ErrorMode::SkipBadRows`] applies: text formats can skip a bad row and go on;
    /// binary formats always stop at the first error.
    pub fn supports_skipping_rows(self) -> bool {
        !self.is_binary()
    }

    pub fn is_binary(self) -> bool {
        matches!(
            self,
            InputFormat::RowBinary
                | InputFormat::RowBinaryWithNames
                | InputFormat::RowBinaryWithNamesAndTypes
                | InputFormat::Native
        )
    }
}

impl fmt::Display for InputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What to do with a row that cannot be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorMode {
    /// Fail the whole decode on the first error.
    #[default]
    Strict,
    /// Leave bad rows out, report them in [`Decoded::row_errors`], keep the good ones. More
    /// than [`InputOptions::row_errors_max`] bad rows fail the decode. Binary formats ignore
    /// this and behave as `Strict`.
    SkipBadRows,
}

/// Bounds and switches for one decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputOptions {
    pub rows_max: usize,
    pub field_bytes_max: usize,
    /// Capped at `u32::MAX` (string offsets are u32).
    pub column_bytes_max: usize,
    pub row_errors_max: usize,
    pub mode: ErrorMode,
    /// Ignore fields whose names the target columns lack instead of failing
    /// (ClickHouse's `input_format_skip_unknown_fields`).
    pub skip_unknown_fields: bool,
    /// The HTTP `client_protocol_version` parameter, which shapes Native blocks: above 0 each
    /// block starts with BlockInfo; from [`NATIVE_REVISION_CUSTOM_SERIALIZATION`] each column
    /// carries a custom-serialization byte.
    pub native_protocol_version: u64,
    /// The CSV field delimiter (`format_csv_delimiter`).
    pub csv_delimiter: u8,
}

impl Default for InputOptions {
    fn default() -> Self {
        InputOptions {
            rows_max: ROWS_MAX_DEFAULT,
            field_bytes_max: FIELD_BYTES_MAX_DEFAULT,
            column_bytes_max: COLUMN_BYTES_MAX_DEFAULT,
            row_errors_max: ROW_ERRORS_MAX_DEFAULT,
            mode: ErrorMode::Strict,
            skip_unknown_fields: false,
            native_protocol_version: 0,
            csv_delimiter: b',',
        }
    }
}

/// A decoded body.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// One column per target column, `rows` long.
    pub batch: Batch,
    /// Rows left out under [`ErrorMode::SkipBadRows`], in input order.
    pub row_errors: Vec<RowError>,
    /// Rows in `batch`.
    pub rows: usize,
}

/// One row left out under [`ErrorMode::SkipBadRows`].
#[derive(Debug, Clone, PartialEq)]
pub struct RowError {
    /// 1-based number of the data row in the body (header rows not counted).
    pub row: usize,
    pub error: InputError,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {}: {}", self.row, self.error)
    }
}

/// Where in the body something went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// 1-based line of a text format.
    Line(usize),
    /// 0-based byte offset into a binary body.
    Byte(usize),
    /// The explicit `(cols)` list of the INSERT.
    ColumnList,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(line) => write!(f, "line {line}"),
            Location::Byte(offset) => write!(f, "byte {offset}"),
            Location::ColumnList => f.write_str("column list"),
        }
    }
}

/// Why a body could not be decoded. Every variant is the request's fault (a 4xx).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputError {
    #[error("{at}: table {table} has no column '{column}'")]
    UnknownColumn {
        at: Location,
        table: String,
        column: String,
    },
    #[error("{at}: column '{column}' given twice")]
    DuplicateColumn { at: Location, column: String },
    #[error("{at}: required column '{column}' is not given")]
    MissingColumn { at: Location, column: String },
    #[error("{at}, column '{column}': cannot parse '{text}' as {ty}")]
    Parse {
        at: Location,
        column: String,
        text: String,
        ty: &'static str,
    },
    #[error("{at}, column '{column}': value {text} is out of range for {ty}")]
    OutOfRange {
        at: Location,
        column: String,
        text: String,
        ty: &'static str,
    },
    #[error("{at}, column '{column}': must not be NULL")]
    NullValue { at: Location, column: String },
    #[error("{at}: expected {expected} fields, found {found}")]
    FieldCount {
        at: Location,
        expected: usize,
        found: usize,
    },
    #[error("{at}, column '{column}': a symbol must be valid UTF-8 of at most {max} bytes (got {len} bytes)")]
    BadSymbol {
        at: Location,
        column: String,
        len: usize,
        max: usize,
    },
    #[error("{at}, column '{column}': field of {len} bytes is over the limit of {max} bytes")]
    FieldTooLong {
        at: Location,
        column: String,
        len: usize,
        max: usize,
    },
    #[error("column '{column}': more than {max} bytes of strings in one insert")]
    ColumnTooLarge { column: String, max: usize },
    #[error("more than {max} rows in one insert")]
    TooManyRows { max: usize },
    #[error("more than {max} bad rows; the first: {first}")]
    TooManyBadRows { max: usize, first: Box<RowError> },
    #[error("{at}: {message}")]
    Syntax { at: Location, message: String },
    #[error("{at}: unexpected end of data, expected {expected}")]
    UnexpectedEnd { at: Location, expected: String },
    #[error("{at}, column '{column}': unsupported ClickHouse type '{ty}'")]
    UnsupportedType {
        at: Location,
        column: String,
        ty: String,
    },
    #[error("{at}, column '{column}': cannot insert {from} into a {to} column")]
    TypeMismatch {
        at: Location,
        column: String,
        from: String,
        to: &'static str,
    },
}

impl InputError {
    /// The ClickHouse error code and name a server would answer with, for the HTTP layer's
    /// `Code: N. DB::Exception: … (NAME)` body.
    pub fn clickhouse_code(&self) -> (u32, &'static str) {
        match self {
            InputError::UnknownColumn {
                at: Location::ColumnList,
                ..
            } => (16, "NO_SUCH_COLUMN_IN_TABLE"),
            InputError::DuplicateColumn {
                at: Location::ColumnList,
                ..
            } => (15, "DUPLICATE_COLUMN"),
            InputError::UnknownColumn { .. }
            | InputError::DuplicateColumn { .. }
            | InputError::MissingColumn { .. }
            | InputError::FieldCount { .. } => (117, "INCORRECT_DATA"),
            InputError::Parse { .. } => (6, "CANNOT_PARSE_TEXT"),
            InputError::OutOfRange { .. } => (321, "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE"),
            InputError::NullValue { .. } => (349, "CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN"),
            InputError::BadSymbol { .. } => (27, "CANNOT_PARSE_INPUT_ASSERTION_FAILED"),
            InputError::FieldTooLong { .. } | InputError::ColumnTooLarge { .. } => {
                (131, "TOO_LARGE_STRING_SIZE")
            }
            InputError::TooManyRows { .. } => (158, "TOO_MANY_ROWS"),
            InputError::TooManyBadRows { first, .. } => first.error.clickhouse_code(),
            InputError::Syntax { .. } => (27, "CANNOT_PARSE_INPUT_ASSERTION_FAILED"),
            InputError::UnexpectedEnd { .. } => (33, "CANNOT_READ_ALL_DATA"),
            InputError::UnsupportedType { .. } => (50, "UNKNOWN_TYPE"),
            InputError::TypeMismatch { .. } => (53, "TYPE_MISMATCH"),
        }
    }
}

/// Decodes `data` in `format` for a table with `schema`. `columns` is the INSERT's explicit
/// column list; without one the targets are all table columns in order (for header formats the
/// header picks among the targets by name).
pub fn decode(
    format: InputFormat,
    data: &[u8],
    schema: &TableSchema,
    columns: Option<&[String]>,
    opts: &InputOptions,
) -> Result<Decoded, InputError> {
    let targets = resolve_targets(schema, columns)?;
    let skip_rows = opts.mode == ErrorMode::SkipBadRows && format.supports_skipping_rows();
    let mut ctx = Ctx::new(schema, &targets, opts, skip_rows);
    use delimited::{Dialect, Header};
    use InputFormat as F;
    let names = Header {
        names: true,
        types: false,
    };
    let types = Header {
        names: true,
        types: true,
    };
    let none = Header {
        names: false,
        types: false,
    };
    let csv = Dialect::Csv {
        delimiter: opts.csv_delimiter,
    };
    let tsv = Dialect::Tsv { raw: false };
    match format {
        F::JsonEachRow => json::decode_each_row(data, &mut ctx)?,
        F::JsonCompactEachRow => json::decode_compact(data, &mut ctx, none)?,
        F::JsonCompactEachRowWithNames => json::decode_compact(data, &mut ctx, names)?,
        F::JsonCompactEachRowWithNamesAndTypes => json::decode_compact(data, &mut ctx, types)?,
        F::Csv => delimited::decode(data, &mut ctx, csv, none)?,
        F::CsvWithNames => delimited::decode(data, &mut ctx, csv, names)?,
        F::CsvWithNamesAndTypes => delimited::decode(data, &mut ctx, csv, types)?,
        F::TabSeparated => delimited::decode(data, &mut ctx, tsv, none)?,
        F::TabSeparatedRaw => delimited::decode(data, &mut ctx, Dialect::Tsv { raw: true }, none)?,
        F::TabSeparatedWithNames => delimited::decode(data, &mut ctx, tsv, names)?,
        F::TabSeparatedWithNamesAndTypes => delimited::decode(data, &mut ctx, tsv, types)?,
        F::RowBinary => rowbinary::decode(data, &mut ctx, schema, rowbinary::Header::None)?,
        F::RowBinaryWithNames => {
            rowbinary::decode(data, &mut ctx, schema, rowbinary::Header::Names)?
        }
        F::RowBinaryWithNamesAndTypes => {
            rowbinary::decode(data, &mut ctx, schema, rowbinary::Header::NamesAndTypes)?
        }
        F::Native => native::decode(data, &mut ctx)?,
        F::Values => values::decode(data, &mut ctx)?,
    }
    Ok(ctx.finish(&schema.name))
}

/// The ClickHouse type of a Ronto column as this module assumes it for plain `RowBinary` (no
/// header): `DateTime64(9)` for Timestamp, `LowCardinality(String)` for Symbol, and
/// `Nullable(…)` for every column other than the designated timestamp and symbol columns.
/// `DESCRIBE TABLE` should report the same names so clients serialise what this decodes.
pub fn clickhouse_type_name(schema: &TableSchema, index: usize) -> String {
    let column = &schema.columns[index];
    let base = match column.ty {
        ColumnType::Int64 => "Int64",
        ColumnType::UInt64 => "UInt64",
        ColumnType::Float64 => "Float64",
        ColumnType::Bool => "Bool",
        ColumnType::Timestamp => "DateTime64(9)",
        ColumnType::Symbol => "LowCardinality(String)",
        ColumnType::String => "String",
    };
    let not_null = !column.nullable || index == schema.ts_index || index == schema.key_index;
    match (not_null, column.ty) {
        (true, _) => base.to_string(),
        (false, ColumnType::Symbol) => "LowCardinality(Nullable(String))".to_string(),
        (false, _) => format!("Nullable({base})"),
    }
}

/// Schema positions of the target columns; the explicit list must name existing columns once
/// each and include the designated timestamp and symbol columns.
fn resolve_targets(
    schema: &TableSchema,
    columns: Option<&[String]>,
) -> Result<Vec<usize>, InputError> {
    let Some(names) = columns else {
        return Ok((0..schema.columns.len()).collect());
    };
    let mut targets = Vec::with_capacity(names.len());
    for name in names {
        let index = schema
            .column_index(name)
            .ok_or_else(|| InputError::UnknownColumn {
                at: Location::ColumnList,
                table: schema.name.clone(),
                column: name.clone(),
            })?;
        if targets.contains(&index) {
            return Err(InputError::DuplicateColumn {
                at: Location::ColumnList,
                column: name.clone(),
            });
        }
        targets.push(index);
    }
    for required in [schema.ts_index, schema.key_index] {
        if !targets.contains(&required) {
            return Err(InputError::MissingColumn {
                at: Location::ColumnList,
                column: schema.columns[required].name.clone(),
            });
        }
    }
    Ok(targets)
}

/// State shared by the format decoders: the column builders, the row count and bound, and the
/// collected row errors.
pub(crate) struct Ctx<'s> {
    table: &'s str,
    opts: &'s InputOptions,
    b: Builder,
    row_errors: Vec<RowError>,
    rows_seen: usize,
    skip_rows: bool,
}

impl<'s> Ctx<'s> {
    fn new(
        schema: &'s TableSchema,
        targets: &[usize],
        opts: &'s InputOptions,
        skip_rows: bool,
    ) -> Ctx<'s> {
        let column_bytes_max = opts.column_bytes_max.min(u32::MAX as usize);
        let cols = targets
            .iter()
            .map(|&i| {
                let c = &schema.columns[i];
                let required = i == schema.ts_index || i == schema.key_index;
                ColumnBuilder::new(c.name.clone(), c.ty, required, column_bytes_max)
            })
            .collect();
        Ctx {
            table: &schema.name,
            opts,
            b: Builder::new(cols),
            row_errors: Vec::new(),
            rows_seen: 0,
            skip_rows,
        }
    }

    fn finish(self, table: &str) -> Decoded {
        let rows = self.b.rows();
        Decoded {
            batch: self.b.finish(table),
            row_errors: self.row_errors,
            rows,
        }
    }

    /// Counts one more data row against `rows_max`; returns its 1-based number.
    fn start_row(&mut self) -> Result<usize, InputError> {
        self.reserve_rows(1)?;
        Ok(self.rows_seen)
    }

    fn reserve_rows(&mut self, count: usize) -> Result<(), InputError> {
        match self.rows_seen.checked_add(count) {
            Some(total) if total <= self.opts.rows_max => {
                self.rows_seen = total;
                Ok(())
            }
            _ => Err(InputError::TooManyRows {
                max: self.opts.rows_max,
            }),
        }
    }

    /// Ends the current row: keeps it if `result` is Ok and every required column has a value,
    /// otherwise rolls it back and either fails (strict) or records the row error.
    fn finish_row(
        &mut self,
        row: usize,
        at: Location,
        result: Result<(), InputError>,
    ) -> Result<(), InputError> {
        let result = result.and_then(|()| {
            self.b.end_row().map_err(|ci| InputError::MissingColumn {
                at,
                column: self.b.cols[ci].name.clone(),
            })
        });
        match result {
            Ok(()) => Ok(()),
            Err(error) => {
                self.b.abort_row();
                self.row_failed(row, error)
            }
        }
    }

    fn row_failed(&mut self, row: usize, error: InputError) -> Result<(), InputError> {
        if !self.skip_rows {
            return Err(error);
        }
        if self.row_errors.len() >= self.opts.row_errors_max {
            let first = match self.row_errors.first() {
                Some(first) => first.clone(),
                None => RowError { row, error },
            };
            return Err(InputError::TooManyBadRows {
                max: self.opts.row_errors_max,
                first: Box::new(first),
            });
        }
        self.row_errors.push(RowError { row, error });
        Ok(())
    }

    /// The target position of a column name.
    fn target(&self, name: &[u8]) -> Option<usize> {
        self.b.cols.iter().position(|c| c.name.as_bytes() == name)
    }

    fn unknown_column(&self, at: Location, name: &[u8]) -> InputError {
        InputError::UnknownColumn {
            at,
            table: self.table.to_string(),
            column: String::from_utf8_lossy(name).into_owned(),
        }
    }

    /// Maps header names to target positions (`None` = skip the field). Unknown names fail
    /// unless `skip_unknown_fields`; duplicates and a missing required column fail.
    fn header_map<'n>(
        &self,
        at: Location,
        names: impl IntoIterator<Item = &'n [u8]>,
    ) -> Result<Vec<Option<usize>>, InputError> {
        let mut map: Vec<Option<usize>> = Vec::new();
        for name in names {
            match self.target(name) {
                Some(ci) if map.contains(&Some(ci)) => {
                    return Err(InputError::DuplicateColumn {
                        at,
                        column: String::from_utf8_lossy(name).into_owned(),
                    })
                }
                Some(ci) => map.push(Some(ci)),
                None if self.opts.skip_unknown_fields => map.push(None),
                None => return Err(self.unknown_column(at, name)),
            }
        }
        if let Some(c) = self
            .b
            .cols
            .iter()
            .enumerate()
            .find(|&(ci, c)| c.required && !map.contains(&Some(ci)))
            .map(|(_, c)| c)
        {
            return Err(InputError::MissingColumn {
                at,
                column: c.name.clone(),
            });
        }
        Ok(map)
    }

    /// Appends a value to column `ci` of the current row, turning a refusal into an error that
    /// names the location, the column and the offending text.
    fn push(
        &mut self,
        ci: usize,
        cell: Result<builder::Cell<'_>, Reason>,
        at: Location,
        text: &[u8],
    ) -> Result<(), InputError> {
        match cell.and_then(|cell| self.b.push(ci, cell)) {
            Ok(()) => Ok(()),
            Err(reason) => Err(value_error(reason, at, &self.b.cols[ci], text)),
        }
    }
}

/// Up to 64 characters of `text` for an error message.
pub(crate) fn excerpt(text: &[u8]) -> String {
    const CHARS_MAX: usize = 64;
    let s = String::from_utf8_lossy(text);
    if s.chars().count() <= CHARS_MAX {
        s.into_owned()
    } else {
        let mut out: String = s.chars().take(CHARS_MAX).collect();
        out.push('…');
        out
    }
}

pub(crate) fn value_error(
    reason: Reason,
    at: Location,
    col: &ColumnBuilder,
    text: &[u8],
) -> InputError {
    let column = col.name.clone();
    let ty = col.ty.name();
    match reason {
        Reason::Parse => InputError::Parse {
            at,
            column,
            text: excerpt(text),
            ty,
        },
        Reason::OutOfRange => InputError::OutOfRange {
            at,
            column,
            text: excerpt(text),
            ty,
        },
        Reason::Null => InputError::NullValue { at, column },
        Reason::ColumnTooLarge { max } => InputError::ColumnTooLarge { column, max },
        Reason::BadSymbol { len } => InputError::BadSymbol {
            at,
            column,
            len,
            max: storage::dict::SYMBOL_BYTES_MAX,
        },
    }
}
