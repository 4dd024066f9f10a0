//! Typed, borrowed views of result columns, so row-oriented writers match on the type once per
//! block instead of once per cell.

use storage::{Bitmap, StrValues, Values};

use crate::types::{BaseType, Column, ResultSet};

/// The values of one column, by ClickHouse type.
#[derive(Debug, Clone, Copy)]
pub(super) enum Cells<'a> {
    Int(&'a [i64]),
    UInt(&'a [u64]),
    /// Int8..Int32 and UInt8..UInt32: values in range, held as i64, written `bytes` wide.
    Narrow {
        values: &'a [i64],
        bytes: usize,
    },
    Float(&'a [f64]),
    /// One byte per value, 0 or 1.
    Bool(&'a [u8]),
    Str(&'a StrValues),
    /// Nanoseconds since the epoch.
    DateTime(&'a [i64]),
    /// `Nullable(Nothing)`: every cell is NULL.
    Nothing,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct ColumnView<'a> {
    pub cells: Cells<'a>,
    /// Set only for a nullable type whose block holds a validity bitmap; a non-nullable type
    /// never shows NULL, whatever its bitmap says.
    validity: Option<&'a Bitmap>,
}

impl<'a> ColumnView<'a> {
    pub fn new(column: &'a Column) -> ColumnView<'a> {
        let values = &column.data.values;
        let cells = match (column.ty.base, values) {
            (BaseType::Int64, Values::I64(v)) => Cells::Int(v),
            (base, Values::I64(v)) if base.is_narrow_int() => Cells::Narrow {
                values: v,
                bytes: base.int_bits().expect("an integer type").1 as usize / 8,
            },
            (BaseType::UInt64, Values::U64(v)) => Cells::UInt(v),
            (BaseType::Float64, Values::F64(v)) => Cells::Float(v),
            (BaseType::Bool, Values::Bool(v)) => Cells::Bool(v),
            (BaseType::String, Values::Str(v)) => Cells::Str(v),
            (BaseType::DateTime64, Values::I64(v)) => Cells::DateTime(v),
            (BaseType::Nothing, _) => Cells::Nothing,
            (base, v) => panic!(
                "column {} of type {base:?} holds {:?} values",
                column.name,
                v.physical()
            ),
        };
        let validity = if column.ty.nullable {
            column.data.validity.as_ref()
        } else {
            None
        };
        ColumnView { cells, validity }
    }

    #[inline]
    pub fn is_null(&self, row: usize) -> bool {
        matches!(self.cells, Cells::Nothing) || self.validity.is_some_and(|b| !b.get(row))
    }
}

pub(super) fn views(block: &ResultSet) -> Vec<ColumnView<'_>> {
    block.columns.iter().map(ColumnView::new).collect()
}
