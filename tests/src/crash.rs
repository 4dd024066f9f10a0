//! The crash test's data set: the `crash_ticks` table, whose every row is derived from its id.
//!
//! A row's id encodes (batch number, row index); timestamp, symbol and price are hashes of the
//! id, so the test can check every surviving cell without knowing the child's random choices.

use storage::{Batch, Bitmap, ColumnBuf, ColumnType, TableSpec, Values, NS_PER_DAY};

use crate::read::Value;
use crate::rng::mix64;

pub const TABLE: &str = "crash_ticks";
pub const SYMBOL_COUNT: u64 = 20;
pub const ROWS_PER_BATCH_MAX: usize = 50;
/// Bits of the id that hold the row index.
pub const ROW_BITS: u32 = 8;
const _: () = assert!(
    ROWS_PER_BATCH_MAX < 1 << ROW_BITS,
    "row index fits in the id"
);
/// 2024-01-01T00:00:00Z; rows spread over the three days from here, in random order.
pub const BASE_TS_NS: i64 = 19_723 * NS_PER_DAY;
pub const SPAN_NS: i64 = 3 * NS_PER_DAY;

/// Column positions in [`spec`].
pub const COL_TIMESTAMP: usize = 0;
pub const COL_SYMBOL: usize = 1;
pub const COL_ID: usize = 2;
pub const COL_BATCH: usize = 3;
pub const COL_ROWS_IN_BATCH: usize = 4;
pub const COL_PRICE: usize = 5;

pub fn spec() -> TableSpec {
    TableSpec::new(TABLE)
        .column("timestamp", ColumnType::Timestamp)
        .column("symbol", ColumnType::Symbol)
        .column("id", ColumnType::UInt64)
        .column("batch", ColumnType::UInt64)
        .column("rows_in_batch", ColumnType::UInt64)
        .column("price", ColumnType::Float64)
}

pub fn row_id(batch: u64, row_index: usize) -> u64 {
    assert!(row_index < ROWS_PER_BATCH_MAX);
    assert!(batch < 1 << (64 - ROW_BITS), "batch number fits in the id");
    (batch << ROW_BITS) | row_index as u64
}

/// Inverse of [`row_id`]: (batch number, row index).
pub fn split_id(id: u64) -> (u64, usize) {
    (id >> ROW_BITS, (id & ((1 << ROW_BITS) - 1)) as usize)
}

pub fn symbol_name(index: u64) -> String {
    format!("SYM{index:02}")
}

/// One row of the crash table.
#[derive(Debug, Clone, PartialEq)]
pub struct CrashRow {
    pub id: u64,
    pub batch: u64,
    pub rows_in_batch: u64,
    pub ts: i64,
    pub symbol: String,
    /// NULL for about one row in five.
    pub price: Option<f64>,
}

pub fn row(batch: u64, row_index: usize, rows_in_batch: usize) -> CrashRow {
    let id = row_id(batch, row_index);
    let h = mix64(id);
    let g = mix64(h);
    CrashRow {
        id,
        batch,
        rows_in_batch: rows_in_batch as u64,
        ts: BASE_TS_NS + (h % SPAN_NS as u64) as i64,
        symbol: symbol_name(g % SYMBOL_COUNT),
        price: (g >> 61 != 0).then(|| (g >> 20) as f64 / 1024.0),
    }
}

impl CrashRow {
    /// The row as [`crate::read_table`] returns it.
    pub fn values(&self) -> Vec<Value> {
        vec![
            Value::Timestamp(self.ts),
            Value::Symbol(self.symbol.clone()),
            Value::U64(self.id),
            Value::U64(self.batch),
            Value::U64(self.rows_in_batch),
            self.price.map_or(Value::Null, Value::F64),
        ]
    }
}

/// Batch `batch` with `rows` rows. `symbols_as_codes` chooses between the two encodings a Symbol
/// column may arrive in (batch-local codes or strings), so both reach the WAL.
pub fn batch(batch: u64, rows: usize, symbols_as_codes: bool) -> Batch {
    assert!((1..=ROWS_PER_BATCH_MAX).contains(&rows));
    let rs: Vec<CrashRow> = (0..rows).map(|i| row(batch, i, rows)).collect();
    let mut b = Batch::new(TABLE).i64s("timestamp", rs.iter().map(|r| r.ts).collect());
    if symbols_as_codes {
        let mut dict: Vec<String> = Vec::new();
        let mut codes = Vec::with_capacity(rows);
        for r in &rs {
            let code = match dict.iter().position(|s| *s == r.symbol) {
                Some(c) => c,
                None => {
                    dict.push(r.symbol.clone());
                    dict.len() - 1
                }
            };
            codes.push(code as u32);
        }
        b = b.symbol_codes("symbol", dict, codes);
    } else {
        b = b.strs("symbol", rs.iter().map(|r| r.symbol.as_str()));
    }
    b.u64s("id", rs.iter().map(|r| r.id).collect())
        .u64s("batch", vec![batch; rows])
        .u64s("rows_in_batch", vec![rows as u64; rows])
        .column(
            "price",
            ColumnBuf::with_validity(
                Values::F64(rs.iter().map(|r| r.price.unwrap_or(0.0)).collect()),
                Bitmap::from_bools(rs.iter().map(|r| r.price.is_some())),
            ),
        )
}
