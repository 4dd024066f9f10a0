//! Output formats: ClickHouse's text, JSON, binary and Arrow encodings of a `ResultSet`.
//!
//! Entry points: [`OutputFormat::parse`] for a `FORMAT` name, [`OutputWriter`] to stream a result
//! block by block (`begin`, `write_block` as often as needed, `finish`), and [`write_result`] for
//! a whole result in one call. Every byte layout follows what ClickHouse 26.9 writes; the golden
//! files under `sql/tests/format_golden/` were produced by real ClickHouse (chdb) and the tests
//! compare against them byte for byte.
//!
//! Architecture invariant: the writers only append to the caller's `Vec<u8>`; they never flush,
//! block or touch sockets, so the engine can send each appended piece as an HTTP chunk.

mod arrow;
mod binary;
mod column;
mod escape;
mod json;
mod pretty;
mod scalar;
mod text;

#[cfg(test)]
mod tests;

use crate::types::{DataType, ResultSet};

/// A float as ClickHouse's text formats print it (`1e300`, `1e-7`, `0.000001`, `-0`, `nan`,
/// `-inf`): the one float formatter for anything that must print floats like ClickHouse.
pub use scalar::write_f64 as write_float_text;

/// An output format by its ClickHouse name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    TabSeparated,
    TabSeparatedWithNames,
    TabSeparatedWithNamesAndTypes,
    TabSeparatedRaw,
    TabSeparatedRawWithNames,
    TabSeparatedRawWithNamesAndTypes,
    Csv,
    CsvWithNames,
    CsvWithNamesAndTypes,
    Json,
    JsonCompact,
    JsonStrings,
    JsonCompactStrings,
    JsonEachRow,
    JsonStringsEachRow,
    JsonCompactEachRow,
    JsonCompactEachRowWithNames,
    JsonCompactEachRowWithNamesAndTypes,
    JsonCompactStringsEachRow,
    Values,
    Native,
    RowBinary,
    RowBinaryWithNames,
    RowBinaryWithNamesAndTypes,
    Arrow,
    ArrowStream,
    Pretty,
    PrettyCompact,
    Null,
}

/// Alternative names ClickHouse accepts, with the format each stands for.
const ALIASES: &[(&str, OutputFormat)] = &[
    ("TSV", OutputFormat::TabSeparated),
    // Ronto never colours its output, so the NoEscapes variants are the same tables, and one
    // block per response makes MonoBlock the same too.
    ("PrettyNoEscapes", OutputFormat::Pretty),
    ("PrettyMonoBlock", OutputFormat::Pretty),
    ("PrettyCompactNoEscapes", OutputFormat::PrettyCompact),
    ("PrettyCompactMonoBlock", OutputFormat::PrettyCompact),
    ("TSVWithNames", OutputFormat::TabSeparatedWithNames),
    (
        "TSVWithNamesAndTypes",
        OutputFormat::TabSeparatedWithNamesAndTypes,
    ),
    ("TSVRaw", OutputFormat::TabSeparatedRaw),
    ("Raw", OutputFormat::TabSeparatedRaw),
    ("TSVRawWithNames", OutputFormat::TabSeparatedRawWithNames),
    ("RawWithNames", OutputFormat::TabSeparatedRawWithNames),
    (
        "TSVRawWithNamesAndTypes",
        OutputFormat::TabSeparatedRawWithNamesAndTypes,
    ),
    (
        "RawWithNamesAndTypes",
        OutputFormat::TabSeparatedRawWithNamesAndTypes,
    ),
    ("JSONLines", OutputFormat::JsonEachRow),
    ("NDJSON", OutputFormat::JsonEachRow),
];

impl OutputFormat {
    pub const ALL: [OutputFormat; 29] = [
        OutputFormat::TabSeparated,
        OutputFormat::TabSeparatedWithNames,
        OutputFormat::TabSeparatedWithNamesAndTypes,
        OutputFormat::TabSeparatedRaw,
        OutputFormat::TabSeparatedRawWithNames,
        OutputFormat::TabSeparatedRawWithNamesAndTypes,
        OutputFormat::Csv,
        OutputFormat::CsvWithNames,
        OutputFormat::CsvWithNamesAndTypes,
        OutputFormat::Json,
        OutputFormat::JsonCompact,
        OutputFormat::JsonStrings,
        OutputFormat::JsonCompactStrings,
        OutputFormat::JsonEachRow,
        OutputFormat::JsonStringsEachRow,
        OutputFormat::JsonCompactEachRow,
        OutputFormat::JsonCompactEachRowWithNames,
        OutputFormat::JsonCompactEachRowWithNamesAndTypes,
        OutputFormat::JsonCompactStringsEachRow,
        OutputFormat::Values,
        OutputFormat::Native,
        OutputFormat::RowBinary,
        OutputFormat::RowBinaryWithNames,
        OutputFormat::RowBinaryWithNamesAndTypes,
        OutputFormat::Arrow,
        OutputFormat::ArrowStream,
        OutputFormat::Pretty,
        OutputFormat::PrettyCompact,
        OutputFormat::Null,
    ];

    /// The format named `name` or one of its aliases. Like ClickHouse since 23.x, names match
    /// case-insensitively (`tsv`, `jsoneachrow`, `CSVWITHNAMES` all work).
    pub fn parse(name: &str) -> Option<OutputFormat> {
        OutputFormat::ALL
            .iter()
            .map(|&f| (f.name(), f))
            .chain(ALIASES.iter().copied())
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, f)| f)
    }

    /// The canonical ClickHouse name (what `X-ClickHouse-Format` carries).
    pub fn name(self) -> &'static str {
        use OutputFormat as F;
        match self {
            F::TabSeparated => "TabSeparated",
            F::TabSeparatedWithNames => "TabSeparatedWithNames",
            F::TabSeparatedWithNamesAndTypes => "TabSeparatedWithNamesAndTypes",
            F::TabSeparatedRaw => "TabSeparatedRaw",
            F::TabSeparatedRawWithNames => "TabSeparatedRawWithNames",
            F::TabSeparatedRawWithNamesAndTypes => "TabSeparatedRawWithNamesAndTypes",
            F::Csv => "CSV",
            F::CsvWithNames => "CSVWithNames",
            F::CsvWithNamesAndTypes => "CSVWithNamesAndTypes",
            F::Json => "JSON",
            F::JsonCompact => "JSONCompact",
            F::JsonStrings => "JSONStrings",
            F::JsonCompactStrings => "JSONCompactStrings",
            F::JsonEachRow => "JSONEachRow",
            F::JsonStringsEachRow => "JSONStringsEachRow",
            F::JsonCompactEachRow => "JSONCompactEachRow",
            F::JsonCompactEachRowWithNames => "JSONCompactEachRowWithNames",
            F::JsonCompactEachRowWithNamesAndTypes => "JSONCompactEachRowWithNamesAndTypes",
            F::JsonCompactStringsEachRow => "JSONCompactStringsEachRow",
            F::Values => "Values",
            F::Native => "Native",
            F::RowBinary => "RowBinary",
            F::RowBinaryWithNames => "RowBinaryWithNames",
            F::RowBinaryWithNamesAndTypes => "RowBinaryWithNamesAndTypes",
            F::Arrow => "Arrow",
            F::ArrowStream => "ArrowStream",
            F::Pretty => "Pretty",
            F::PrettyCompact => "PrettyCompact",
            F::Null => "Null",
        }
    }

    /// The `Content-Type` ClickHouse answers with for this format.
    pub fn content_type(self) -> &'static str {
        use OutputFormat as F;
        match self {
            F::TabSeparated
            | F::TabSeparatedWithNames
            | F::TabSeparatedWithNamesAndTypes
            | F::TabSeparatedRaw
            | F::TabSeparatedRawWithNames
            | F::TabSeparatedRawWithNamesAndTypes => "text/tab-separated-values; charset=UTF-8",
            F::Csv => "text/csv; charset=UTF-8; header=absent",
            F::CsvWithNames | F::CsvWithNamesAndTypes => "text/csv; charset=UTF-8; header=present",
            F::Json | F::JsonCompact | F::JsonStrings | F::JsonCompactStrings => {
                "application/json; charset=UTF-8"
            }
            F::JsonEachRow | F::JsonStringsEachRow => "application/x-ndjson; charset=UTF-8",
            F::Native
            | F::RowBinary
            | F::RowBinaryWithNames
            | F::RowBinaryWithNamesAndTypes
            | F::Arrow
            | F::ArrowStream => "application/octet-stream",
            F::JsonCompactEachRow
            | F::JsonCompactEachRowWithNames
            | F::JsonCompactEachRowWithNamesAndTypes
            | F::JsonCompactStringsEachRow
            | F::Values
            | F::Pretty
            | F::PrettyCompact
            | F::Null => "text/plain; charset=UTF-8",
        }
    }

    /// Whether the output is binary (never valid text to show a person).
    pub fn is_binary(self) -> bool {
        self.content_type() == "application/octet-stream"
    }

    fn encoder(self, options: &FormatOptions) -> Box<dyn Encoder> {
        use OutputFormat as F;
        let header = |names, types| text::Header { names, types };
        match self {
            F::TabSeparated => text::tsv(header(false, false), true),
            F::TabSeparatedWithNames => text::tsv(header(true, false), true),
            F::TabSeparatedWithNamesAndTypes => text::tsv(header(true, true), true),
            F::TabSeparatedRaw => text::tsv(header(false, false), false),
            F::TabSeparatedRawWithNames => text::tsv(header(true, false), false),
            F::TabSeparatedRawWithNamesAndTypes => text::tsv(header(true, true), false),
            F::Csv => text::csv(header(false, false)),
            F::CsvWithNames => text::csv(header(true, false)),
            F::CsvWithNamesAndTypes => text::csv(header(true, true)),
            F::Values => text::values(),
            F::Json => json::document(options, false, false),
            F::JsonCompact => json::document(options, true, false),
            F::JsonStrings => json::document(options, false, true),
            F::JsonCompactStrings => json::document(options, true, true),
            F::JsonEachRow => json::each_row(options, false, header(false, false), false),
            F::JsonStringsEachRow => json::each_row(options, false, header(false, false), true),
            F::JsonCompactEachRow => json::each_row(options, true, header(false, false), false),
            F::JsonCompactEachRowWithNames => {
                json::each_row(options, true, header(true, false), false)
            }
            F::JsonCompactEachRowWithNamesAndTypes => {
                json::each_row(options, true, header(true, true), false)
            }
            F::JsonCompactStringsEachRow => {
                json::each_row(options, true, header(false, false), true)
            }
            F::Native => binary::native(options.client_protocol_version),
            F::RowBinary => binary::row_binary(header(false, false)),
            F::RowBinaryWithNames => binary::row_binary(header(true, false)),
            F::RowBinaryWithNamesAndTypes => binary::row_binary(header(true, true)),
            F::Arrow => arrow::encoder(false),
            F::ArrowStream => arrow::encoder(true),
            F::Pretty => pretty::pretty(false),
            F::PrettyCompact => pretty::pretty(true),
            F::Null => Box::new(NullEncoder),
        }
    }
}

/// Format settings a request can change. The defaults are ClickHouse's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatOptions {
    /// `output_format_json_quote_64bit_integers`: Int64/UInt64 as JSON strings (default off, as
    /// in ClickHouse since 23.x).
    pub json_quote_64bit_integers: bool,
    /// `output_format_json_quote_denormals`: `nan`/`inf` as JSON strings instead of `null`.
    pub json_quote_denormals: bool,
    /// `output_format_json_escape_forward_slashes`: `/` as `\/` in JSON strings (default on).
    pub json_escape_forward_slashes: bool,
    /// `output_format_write_statistics`: the `statistics` object of JSON and JSONCompact.
    pub write_statistics: bool,
    /// The `client_protocol_version` URL parameter (0 when absent). Native output depends on it:
    /// above 0 each block starts with BlockInfo; from 54454 each column carries a
    /// custom-serialization byte; from 54480 BlockInfo has an (empty) out-of-order bucket list.
    /// Revisions from 54492 on are answered as 54491: their size-stream `String` layout is
    /// not implemented (no client we serve sends them; clickhouse-go sends 54460).
    pub client_protocol_version: u64,
}

impl Default for FormatOptions {
    fn default() -> Self {
        FormatOptions {
            json_quote_64bit_integers: false,
            json_quote_denormals: false,
            json_escape_forward_slashes: true,
            write_statistics: true,
            client_protocol_version: 0,
        }
    }
}

impl FormatOptions {
    /// Applies the ClickHouse setting `name = value` if it is a format setting this module
    /// honours. Returns `Ok(false)` for any other name so the caller can try its own settings.
    pub fn apply_setting(&mut self, name: &str, value: &str) -> Result<bool, FormatError> {
        let flag = match name {
            "output_format_json_quote_64bit_integers" => &mut self.json_quote_64bit_integers,
            "output_format_json_quote_denormals" => &mut self.json_quote_denormals,
            "output_format_json_escape_forward_slashes" => &mut self.json_escape_forward_slashes,
            "output_format_write_statistics" => &mut self.write_statistics,
            _ => return Ok(false),
        };
        *flag = match value.trim() {
            "1" => true,
            "0" => false,
            v if v.eq_ignore_ascii_case("true") => true,
            v if v.eq_ignore_ascii_case("false") => false,
            _ => {
                return Err(FormatError::BadSetting {
                    name: name.to_string(),
                    value: value.to_string(),
                })
            }
        };
        Ok(true)
    }
}

/// What is known only once the query has finished; JSON and JSONCompact print it at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueryStats {
    pub elapsed_ns: u64,
    pub rows_read: u64,
    pub bytes_read: u64,
    /// Rows the query had before its `LIMIT` (`rows_before_limit_at_least`); `None` without one.
    pub rows_before_limit: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The request named a format setting with a value it cannot have.
    #[error("cannot parse value '{value}' of setting {name}: expected 0, 1, true or false")]
    BadSetting { name: String, value: String },
    /// A result too large for one Arrow batch, or an Arrow encoding failure (a bug).
    #[error("arrow encoding failed: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
}

/// One column of the result as the header of every block describes it.
#[derive(Debug, Clone, PartialEq)]
struct Field {
    name: String,
    ty: DataType,
    /// `ty` as ClickHouse names it, computed once.
    type_name: String,
}

/// The per-format half of an [`OutputWriter`]. Blocks arrive already checked against the
/// schema given to `begin`.
trait Encoder {
    fn begin(&mut self, fields: &[Field], out: &mut Vec<u8>) -> Result<(), FormatError>;
    fn block(
        &mut self,
        fields: &[Field],
        block: &ResultSet,
        out: &mut Vec<u8>,
    ) -> Result<(), FormatError>;
    fn finish(
        &mut self,
        fields: &[Field],
        rows: u64,
        stats: &QueryStats,
        out: &mut Vec<u8>,
    ) -> Result<(), FormatError>;
}

struct NullEncoder;

impl Encoder for NullEncoder {
    fn begin(&mut self, _: &[Field], _: &mut Vec<u8>) -> Result<(), FormatError> {
        Ok(())
    }
    fn block(&mut self, _: &[Field], _: &ResultSet, _: &mut Vec<u8>) -> Result<(), FormatError> {
        Ok(())
    }
    fn finish(
        &mut self,
        _: &[Field],
        _: u64,
        _: &QueryStats,
        _: &mut Vec<u8>,
    ) -> Result<(), FormatError> {
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    New,
    Writing,
    Finished,
}

/// Streams one result in one format: `begin` once with the result's schema, `write_block` for
/// each block of rows (any number, including none), then `finish` once. Each call only appends
/// to `out`, so the caller may send and clear `out` between calls (chunked encoding).
///
/// Calling them out of order, or a block whose columns differ from the schema in number, name
/// or type, is a bug in the caller and panics.
pub struct OutputWriter {
    format: OutputFormat,
    encoder: Box<dyn Encoder>,
    fields: Vec<Field>,
    rows: u64,
    phase: Phase,
}

impl std::fmt::Debug for OutputWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputWriter")
            .field("format", &self.format)
            .field("fields", &self.fields)
            .field("rows", &self.rows)
            .field("phase", &self.phase)
            .finish()
    }
}

impl OutputWriter {
    pub fn new(format: OutputFormat, options: &FormatOptions) -> OutputWriter {
        OutputWriter {
            format,
            encoder: format.encoder(options),
            fields: Vec::new(),
            rows: 0,
            phase: Phase::New,
        }
    }

    pub fn format(&self) -> OutputFormat {
        self.format
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes what precedes the rows (names, types, JSON `meta`, Arrow schema). Only the names
    /// and types of `schema`'s columns are read; its rows, if any, are not written.
    pub fn begin(&mut self, schema: &ResultSet, out: &mut Vec<u8>) -> Result<(), FormatError> {
        assert_eq!(self.phase, Phase::New, "OutputWriter::begin called twice");
        self.phase = Phase::Writing;
        self.fields = schema
            .columns
            .iter()
            .map(|c| Field {
                name: c.name.clone(),
                ty: c.ty,
                type_name: c.ty.clickhouse_name(),
            })
            .collect();
        self.encoder.begin(&self.fields, out)
    }

    /// Writes the rows of `block`, whose columns must match the schema given to `begin`.
    pub fn write_block(&mut self, block: &ResultSet, out: &mut Vec<u8>) -> Result<(), FormatError> {
        assert_eq!(
            self.phase,
            Phase::Writing,
            "OutputWriter::write_block outside begin..finish"
        );
        self.check_block(block);
        self.rows += block.rows() as u64;
        self.encoder.block(&self.fields, block, out)
    }

    /// Writes what follows the rows (JSON `rows` and `statistics`, the Arrow footer).
    pub fn finish(&mut self, stats: &QueryStats, out: &mut Vec<u8>) -> Result<(), FormatError> {
        assert_eq!(
            self.phase,
            Phase::Writing,
            "OutputWriter::finish without begin, or twice"
        );
        self.phase = Phase::Finished;
        self.encoder.finish(&self.fields, self.rows, stats, out)
    }

    fn check_block(&self, block: &ResultSet) {
        assert_eq!(
            block.columns.len(),
            self.fields.len(),
            "block has {} columns, schema {}",
            block.columns.len(),
            self.fields.len()
        );
        let rows = block.rows();
        for (c, f) in block.columns.iter().zip(&self.fields) {
            assert!(
                c.name == f.name && c.ty == f.ty,
                "block column {} {} ≠ schema {} {}",
                c.name,
                c.ty,
                f.name,
                f.ty
            );
            assert_eq!(
                c.len(),
                rows,
                "column {} has {} rows, the block {rows}",
                c.name,
                c.len()
            );
            assert!(
                c.ty.physical() == c.data.values.physical(),
                "column {} of type {} holds {:?} values",
                c.name,
                c.ty,
                c.data.values.physical()
            );
            debug_assert!(
                c.ty.nullable || c.data.null_count() == 0,
                "column {} of type {} holds NULLs",
                c.name,
                c.ty
            );
        }
    }
}

/// Writes all of `result` in `format`: `begin`, one block, `finish`.
pub fn write_result(
    format: OutputFormat,
    result: &ResultSet,
    options: &FormatOptions,
    stats: &QueryStats,
    out: &mut Vec<u8>,
) -> Result<(), FormatError> {
    let mut writer = OutputWriter::new(format, options);
    writer.begin(result, out)?;
    writer.write_block(result, out)?;
    writer.finish(stats, out)
}
