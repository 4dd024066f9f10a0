//! The JSON family: JSON / JSONCompact documents with `meta`, `data`, `rows` and `statistics`,
//! and the line-per-row JSONEachRow / JSONCompactEachRow variants; `Strings` variants print
//! every value as a JSON string.

use super::column::{views, Cells, ColumnView};
use super::escape::write_json_string;
use super::scalar::{write_f64, write_i64, write_text, write_u64};
use super::text::Header;
use super::{Encoder, Field, FormatError, FormatOptions, QueryStats};
use crate::types::ResultSet;

/// How NULL reads in the `Strings` formats: ClickHouse prints its display form of NULL there.
const STRINGS_NULL: &str = "ᴺᵁᴸᴸ";

/// The settings that shape a JSON value.
#[derive(Debug, Clone, Copy)]
struct ValueStyle {
    quote_64bit_integers: bool,
    quote_denormals: bool,
    escape_forward_slashes: bool,
    /// Every value as a string (JSONStrings, JSONStringsEachRow, ...).
    strings: bool,
    /// Replace bytes that are not UTF-8, as the JSON and JSONCompact documents do (the
    /// line-per-row formats pass them through).
    validate_utf8: bool,
}

impl ValueStyle {
    fn new(options: &FormatOptions, strings: bool, validate_utf8: bool) -> ValueStyle {
        ValueStyle {
            quote_64bit_integers: options.json_quote_64bit_integers,
            quote_denormals: options.json_quote_denormals,
            escape_forward_slashes: options.json_escape_forward_slashes,
            strings,
            validate_utf8,
        }
    }

    fn string(&self, out: &mut Vec<u8>, bytes: &[u8]) {
        write_json_string(out, bytes, self.escape_forward_slashes, self.validate_utf8);
    }

    fn value(&self, out: &mut Vec<u8>, column: &ColumnView<'_>, row: usize) {
        if column.is_null(row) {
            if self.strings {
                self.string(out, STRINGS_NULL.as_bytes());
            } else {
                out.extend_from_slice(b"null");
            }
            return;
        }
        if self.strings {
            // Only strings can hold bytes that need escaping; the rest print as plain ASCII.
            match column.cells {
                Cells::Str(s) => self.string(out, s.get(row)),
                ref cells => {
                    out.push(b'"');
                    write_text(out, cells, row);
                    out.push(b'"');
                }
            }
            return;
        }
        let quote = |out: &mut Vec<u8>, on: bool, write: &dyn Fn(&mut Vec<u8>)| {
            if on {
                out.push(b'"');
                write(out);
                out.push(b'"');
            } else {
                write(out);
            }
        };
        match column.cells {
            Cells::Int(v) => quote(out, self.quote_64bit_integers, &|out| {
                write_i64(out, v[row])
            }),
            Cells::UInt(v) => quote(out, self.quote_64bit_integers, &|out| {
                write_u64(out, v[row])
            }),
            // Only 64-bit integers are ever quoted.
            Cells::Narrow { values, .. } => write_i64(out, values[row]),
            Cells::Float(v) => {
                let x = v[row];
                if x.is_finite() {
                    write_f64(out, x);
                } else if !self.quote_denormals {
                    out.extend_from_slice(b"null");
                } else if x.is_nan() {
                    // Here, unlike in the text formats, ClickHouse keeps the sign of a NaN.
                    out.extend_from_slice(if x.is_sign_negative() {
                        b"\"-nan\""
                    } else {
                        b"\"nan\""
                    });
                } else {
                    quote(out, true, &|out| write_f64(out, x));
                }
            }
            Cells::Bool(_) => write_text(out, &column.cells, row),
            Cells::Str(s) => self.string(out, s.get(row)),
            Cells::DateTime(_) => quote(out, true, &|out| write_text(out, &column.cells, row)),
            Cells::Nothing => unreachable!("Nothing cells are always NULL"),
        }
    }
}

/// JSON and JSONCompact (and their `Strings` twins): one document, tab-indented like ClickHouse.
struct Document {
    style: ValueStyle,
    compact: bool,
    write_statistics: bool,
    wrote_row: bool,
}

pub(super) fn document(options: &FormatOptions, compact: bool, strings: bool) -> Box<dyn Encoder> {
    Box::new(Document {
        style: ValueStyle::new(options, strings, true),
        compact,
        write_statistics: options.write_statistics,
        wrote_row: false,
    })
}

impl Encoder for Document {
    fn begin(&mut self, fields: &[Field], out: &mut Vec<u8>) -> Result<(), FormatError> {
        out.extend_from_slice(b"{\n\t\"meta\":\n\t[\n");
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b",\n");
            }
            out.extend_from_slice(b"\t\t{\n\t\t\t\"name\": ");
            self.style.string(out, f.name.as_bytes());
            out.extend_from_slice(b",\n\t\t\t\"type\": ");
            self.style.string(out, f.type_name.as_bytes());
            out.extend_from_slice(b"\n\t\t}");
        }
        out.extend_from_slice(b"\n\t],\n\n\t\"data\":\n\t[\n");
        Ok(())
    }

    fn block(
        &mut self,
        fields: &[Field],
        block: &ResultSet,
        out: &mut Vec<u8>,
    ) -> Result<(), FormatError> {
        let columns = views(block);
        for row in 0..block.rows() {
            if self.wrote_row {
                out.extend_from_slice(b",\n");
            }
            self.wrote_row = true;
            if self.compact {
                out.extend_from_slice(b"\t\t[");
                for (i, c) in columns.iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice(b", ");
                    }
                    self.style.value(out, c, row);
                }
                out.push(b']');
            } else {
                out.extend_from_slice(b"\t\t{\n");
                for (i, (c, f)) in columns.iter().zip(fields).enumerate() {
                    if i > 0 {
                        out.extend_from_slice(b",\n");
                    }
                    out.extend_from_slice(b"\t\t\t");
                    self.style.string(out, f.name.as_bytes());
                    out.extend_from_slice(b": ");
                    self.style.value(out, c, row);
                }
                out.extend_from_slice(b"\n\t\t}");
            }
        }
        Ok(())
    }

    fn finish(
        &mut self,
        _: &[Field],
        rows: u64,
        stats: &QueryStats,
        out: &mut Vec<u8>,
    ) -> Result<(), FormatError> {
        out.extend_from_slice(b"\n\t],\n\n\t\"rows\": ");
        write_u64(out, rows);
        if let Some(before_limit) = stats.rows_before_limit {
            out.extend_from_slice(b",\n\n\t\"rows_before_limit_at_least\": ");
            write_u64(out, before_limit);
        }
        if self.write_statistics {
            out.extend_from_slice(b",\n\n\t\"statistics\":\n\t{\n\t\t\"elapsed\": ");
            write_f64(out, stats.elapsed_ns as f64 / 1e9);
            out.extend_from_slice(b",\n\t\t\"rows_read\": ");
            write_u64(out, stats.rows_read);
            out.extend_from_slice(b",\n\t\t\"bytes_read\": ");
            write_u64(out, stats.bytes_read);
            out.extend_from_slice(b"\n\t}");
        }
        out.extend_from_slice(b"\n}\n");
        Ok(())
    }
}

/// One JSON value per line: `{"a":1,"b":"x"}` or, compact, `[1, "x"]` (after optional name
/// and type lines, which only the compact variants have).
struct EachRow {
    style: ValueStyle,
    compact: bool,
    header: Header,
}

pub(super) fn each_row(
    options: &FormatOptions,
    compact: bool,
    header: Header,
    strings: bool,
) -> Box<dyn Encoder> {
    debug_assert!(
        compact || !(header.names || header.types),
        "JSONEachRow has no header lines"
    );
    Box::new(EachRow {
        style: ValueStyle::new(options, strings, false),
        compact,
        header,
    })
}

impl EachRow {
    fn header_line(&self, out: &mut Vec<u8>, fields: &[Field], get: fn(&Field) -> &str) {
        out.push(b'[');
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            self.style.string(out, get(f).as_bytes());
        }
        out.extend_from_slice(b"]\n");
    }
}

impl Encoder for EachRow {
    fn begin(&mut self, fields: &[Field], out: &mut Vec<u8>) -> Result<(), FormatError> {
        if self.header.names {
            self.header_line(out, fields, |f| &f.name);
        }
        if self.header.types {
            self.header_line(out, fields, |f| &f.type_name);
        }
        Ok(())
    }

    fn block(
        &mut self,
        fields: &[Field],
        block: &ResultSet,
        out: &mut Vec<u8>,
    ) -> Result<(), FormatError> {
        let columns = views(block);
        for row in 0..block.rows() {
            if self.compact {
                out.push(b'[');
                for (i, c) in columns.iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice(b", ");
                    }
                    self.style.value(out, c, row);
                }
                out.extend_from_slice(b"]\n");
            } else {
                out.push(b'{');
                for (i, (c, f)) in columns.iter().zip(fields).enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.style.string(out, f.name.as_bytes());
                    out.push(b':');
                    self.style.value(out, c, row);
                }
                out.extend_from_slice(b"}\n");
            }
        }
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
