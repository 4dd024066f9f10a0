//! The binary formats: Native (column-major blocks) and RowBinary (row-major), little-endian
//! like ClickHouse.

use super::column::{views, Cells, ColumnView};
use super::scalar::{write_binary_string, write_varint};
use super::text::Header;
use super::{Encoder, Field, FormatError, QueryStats};
use crate::types::ResultSet;

/// From this client revision each Native column carries a custom-serialization byte.
const REVISION_WITH_CUSTOM_SERIALIZATION: u64 = 54454;
/// From this client revision BlockInfo carries field 3, the out-of-order bucket list.
const REVISION_WITH_OUT_OF_ORDER_BUCKETS: u64 = 54480;
/// From this revision ClickHouse sends `String` columns as a size stream plus a data stream,
/// which Ronto does not implement; it answers such clients at the revision below.
const REVISION_WITH_STRING_SIZE_STREAM: u64 = 54492;

/// Native blocks for a client at protocol `revision` (0 when it named none).
struct Native {
    revision: u64,
}

pub(super) fn native(client_protocol_version: u64) -> Box<dyn Encoder> {
    Box::new(Native {
        revision: client_protocol_version.min(REVISION_WITH_STRING_SIZE_STREAM - 1),
    })
}

/// A column's values, one after the other, without NULL markers (NULL slots hold defaults).
fn write_values(out: &mut Vec<u8>, cells: &Cells<'_>, rows: usize) {
    match *cells {
        Cells::Int(v) | Cells::DateTime(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Cells::UInt(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        // The low `bytes` of the little-endian two's complement: the value, as it is in range.
        Cells::Narrow { values, bytes } => values
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes()[..bytes])),
        Cells::Float(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Cells::Bool(v) => out.extend_from_slice(v),
        Cells::Str(s) => (0..rows).for_each(|row| write_binary_string(out, s.get(row))),
        // ClickHouse's SerializationNothing writes one '0' character per row.
        Cells::Nothing => out.extend(std::iter::repeat_n(b'0', rows)),
    }
}

impl Encoder for Native {
    fn begin(&mut self, _: &[Field], _: &mut Vec<u8>) -> Result<(), FormatError> {
        Ok(())
    }

    fn block(
        &mut self,
        fields: &[Field],
        block: &ResultSet,
        out: &mut Vec<u8>,
    ) -> Result<(), FormatError> {
        let rows = block.rows();
        // ClickHouse sends no block for no rows: an empty result is an empty body.
        if rows == 0 {
            return Ok(());
        }
        if self.revision > 0 {
            // BlockInfo: field 1 is_overflows = false, field 2 bucket_num = -1, [field 3
            // out_of_order_buckets = []], then 0.
            out.extend_from_slice(&[1, 0, 2, 0xff, 0xff, 0xff, 0xff]);
            if self.revision >= REVISION_WITH_OUT_OF_ORDER_BUCKETS {
                out.extend_from_slice(&[3, 0]);
            }
            out.push(0);
        }
        write_varint(out, fields.len() as u64);
        write_varint(out, rows as u64);
        for (column, field) in views(block).iter().zip(fields) {
            write_binary_string(out, field.name.as_bytes());
            write_binary_string(out, field.type_name.as_bytes());
            if self.revision >= REVISION_WITH_CUSTOM_SERIALIZATION {
                out.push(0);
            }
            if field.ty.nullable {
                out.extend((0..rows).map(|row| column.is_null(row) as u8));
            }
            write_values(out, &column.cells, rows);
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

struct RowBinary {
    header: Header,
}

pub(super) fn row_binary(header: Header) -> Box<dyn Encoder> {
    Box::new(RowBinary { header })
}

fn write_row_value(out: &mut Vec<u8>, column: &ColumnView<'_>, row: usize) {
    match column.cells {
        Cells::Int(v) | Cells::DateTime(v) => out.extend_from_slice(&v[row].to_le_bytes()),
        Cells::UInt(v) => out.extend_from_slice(&v[row].to_le_bytes()),
        Cells::Narrow { values, bytes } => {
            out.extend_from_slice(&values[row].to_le_bytes()[..bytes])
        }
        Cells::Float(v) => out.extend_from_slice(&v[row].to_le_bytes()),
        Cells::Bool(v) => out.push(v[row]),
        Cells::Str(s) => write_binary_string(out, s.get(row)),
        Cells::Nothing => {}
    }
}

impl Encoder for RowBinary {
    fn begin(&mut self, fields: &[Field], out: &mut Vec<u8>) -> Result<(), FormatError> {
        if self.header.names || self.header.types {
            write_varint(out, fields.len() as u64);
        }
        if self.header.names {
            fields
                .iter()
                .for_each(|f| write_binary_string(out, f.name.as_bytes()));
        }
        if self.header.types {
            fields
                .iter()
                .for_each(|f| write_binary_string(out, f.type_name.as_bytes()));
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
            for (column, field) in columns.iter().zip(fields) {
                if field.ty.nullable {
                    let null = column.is_null(row);
                    out.push(null as u8);
                    if null {
                        continue;
                    }
                }
                write_row_value(out, column, row);
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
