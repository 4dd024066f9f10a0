//! The row-per-line text formats: TabSeparated (escaped and Raw), CSV and Values.

use super::column::{views, Cells, ColumnView};
use super::escape::{write_csv_quoted, write_tsv_escaped};
use super::scalar::write_text;
use super::{Encoder, Field, FormatError, QueryStats};
use crate::types::ResultSet;

/// Which header lines precede the rows.
#[derive(Debug, Clone, Copy)]
pub(super) struct Header {
    pub names: bool,
    pub types: bool,
}

/// Writes the header lines: `names` then `types`, each item passed through `item`.
fn header_lines(
    out: &mut Vec<u8>,
    fields: &[Field],
    header: Header,
    separator: u8,
    item: fn(&mut Vec<u8>, &[u8]),
) {
    let mut line = |get: fn(&Field) -> &str| {
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(separator);
            }
            item(out, get(f).as_bytes());
        }
        out.push(b'\n');
    };
    if header.names {
        line(|f| &f.name);
    }
    if header.types {
        line(|f| &f.type_name);
    }
}

/// `cell` writes one non-NULL cell; NULL is written as `null`.
fn rows(
    out: &mut Vec<u8>,
    block: &ResultSet,
    separator: u8,
    null: &[u8],
    cell: impl Fn(&mut Vec<u8>, &ColumnView<'_>, usize),
) {
    let columns = views(block);
    for row in 0..block.rows() {
        for (i, c) in columns.iter().enumerate() {
            if i > 0 {
                out.push(separator);
            }
            if c.is_null(row) {
                out.extend_from_slice(null);
            } else {
                cell(out, c, row);
            }
        }
        out.push(b'\n');
    }
}

struct Tsv {
    header: Header,
    /// `false` for TabSeparatedRaw, which writes strings as they are.
    escape: bool,
}

pub(super) fn tsv(header: Header, escape: bool) -> Box<dyn Encoder> {
    Box::new(Tsv { header, escape })
}

fn raw(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(bytes);
}

impl Encoder for Tsv {
    fn begin(&mut self, fields: &[Field], out: &mut Vec<u8>) -> Result<(), FormatError> {
        header_lines(
            out,
            fields,
            self.header,
            b'\t',
            if self.escape { write_tsv_escaped } else { raw },
        );
        Ok(())
    }

    fn block(
        &mut self,
        _: &[Field],
        block: &ResultSet,
        out: &mut Vec<u8>,
    ) -> Result<(), FormatError> {
        let escape = self.escape;
        rows(out, block, b'\t', b"\\N", |out, c, row| match c.cells {
            Cells::Str(s) if escape => write_tsv_escaped(out, s.get(row)),
            ref cells => write_text(out, cells, row),
        });
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

struct Csv {
    header: Header,
}

pub(super) fn csv(header: Header) -> Box<dyn Encoder> {
    Box::new(Csv { header })
}

impl Encoder for Csv {
    fn begin(&mut self, fields: &[Field], out: &mut Vec<u8>) -> Result<(), FormatError> {
        header_lines(out, fields, self.header, b',', write_csv_quoted);
        Ok(())
    }

    fn block(
        &mut self,
        _: &[Field],
        block: &ResultSet,
        out: &mut Vec<u8>,
    ) -> Result<(), FormatError> {
        rows(out, block, b',', b"\\N", |out, c, row| match c.cells {
            Cells::Str(s) => write_csv_quoted(out, s.get(row)),
            Cells::DateTime(_) => {
                out.push(b'"');
                write_text(out, &c.cells, row);
                out.push(b'"');
            }
            ref cells => write_text(out, cells, row),
        });
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

/// `(1,'a',NULL),(2,'b',NULL)`: no header, no newline at the end.
struct Values {
    wrote_row: bool,
}

pub(super) fn values() -> Box<dyn Encoder> {
    Box::new(Values { wrote_row: false })
}

impl Encoder for Values {
    fn begin(&mut self, _: &[Field], _: &mut Vec<u8>) -> Result<(), FormatError> {
        Ok(())
    }

    fn block(
        &mut self,
        _: &[Field],
        block: &ResultSet,
        out: &mut Vec<u8>,
    ) -> Result<(), FormatError> {
        let columns = views(block);
        for row in 0..block.rows() {
            if self.wrote_row {
                out.push(b',');
            }
            self.wrote_row = true;
            out.push(b'(');
            for (i, c) in columns.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                if c.is_null(row) {
                    out.extend_from_slice(b"NULL");
                    continue;
                }
                match c.cells {
                    Cells::Str(s) => {
                        out.push(b'\'');
                        write_tsv_escaped(out, s.get(row));
                        out.push(b'\'');
                    }
                    Cells::DateTime(_) => {
                        out.push(b'\'');
                        write_text(out, &c.cells, row);
                        out.push(b'\'');
                    }
                    ref cells => write_text(out, cells, row),
                }
            }
            out.push(b')');
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
