//! What scans yield: borrowed, time-sorted column slices of one symbol, block by block.

use crate::dict::SymbolDict;
use crate::index::BlockMeta;
use crate::types::{ColumnType, SymKey, TableId, Validity};

/// Which rows and columns a scan reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanSpec {
    pub table: TableId,
    /// Only these keys (symbol ids or integer symbols); `None` = every key of the table.
    pub keys: Option<Vec<SymKey>>,
    /// Inclusive time range in ns.
    pub ts_min: i64,
    pub ts_max: i64,
    /// Schema positions of the columns to read, in the order the views carry them.
    pub columns: Vec<usize>,
}

impl ScanSpec {
    pub fn all(table: TableId, columns: Vec<usize>) -> ScanSpec {
        ScanSpec {
            table,
            keys: None,
            ts_min: i64::MIN,
            ts_max: i64::MAX,
            columns,
        }
    }
}

/// The values of one column over the rows of a view.
#[derive(Debug, Clone, Copy)]
pub enum ColumnData<'a> {
    I64(&'a [i64]),
    U64(&'a [u64]),
    F64(&'a [f64]),
    /// One byte per value, 0 or 1.
    Bool(&'a [u8]),
    /// Ids in the shard's symbol dictionary.
    Sym(&'a [u32]),
    /// Value `i` is `bytes[offsets[i] as usize..offsets[i + 1] as usize]`; `offsets` has one
    /// more entry than there are rows and need not start at 0.
    Str {
        offsets: &'a [u32],
        bytes: &'a [u8],
    },
    /// The column did not exist when this block was sealed: every row is NULL.
    Null,
}

#[derive(Debug, Clone, Copy)]
pub struct ColumnSlice<'a> {
    pub ty: ColumnType,
    pub data: ColumnData<'a>,
    /// `None` = no NULLs in these rows (or the whole column is `Null`).
    pub validity: Option<Validity<'a>>,
}

impl ColumnSlice<'_> {
    pub fn is_valid(&self, i: usize) -> bool {
        !matches!(self.data, ColumnData::Null) && self.validity.is_none_or(|v| v.is_valid(i))
    }
}

/// Rows of one key, sorted by time, from one sealed block or from the hot buffer.
#[derive(Debug, Clone)]
pub struct BlockView<'a> {
    pub key: SymKey,
    pub rows: usize,
    pub columns: Vec<ColumnSlice<'a>>,
    /// The sealed block's index entry (statistics for pruning); `None` for hot rows.
    pub meta: Option<&'a BlockMeta>,
    /// The shard's symbol dictionary, to turn `ColumnData::Sym` ids into strings.
    pub symbols: &'a SymbolDict,
}

/// Counters a scan reports.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanStats {
    pub blocks_read: u64,
    pub blocks_pruned: u64,
    pub rows_read: u64,
}
