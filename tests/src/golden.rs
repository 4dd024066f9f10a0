//! The golden data set: deterministic rows, the steps that write them, the expected contents.
//!
//! `ronto-make-golden` runs [`write`]; `tests/golden.rs` checks [`expected_trades`] and
//! [`expected_every_type`] against committed directories. Changing anything here changes what
//! the committed v1 files are checked against: never change it for v1.

use std::path::Path;

use storage::{
    Batch, Bitmap, ColumnBuf, ColumnType, FsyncPolicy, Shard, ShardConfig, StrValues, TableSpec,
    Values, NS_PER_DAY,
};

use crate::read::Value;
use crate::rng::{mix64, SplitMix64};
use crate::FixedClock;

/// 2024-01-01: the first of the three trade days (the one `drop_before` removes).
pub const DAY0: i64 = 19_723;
/// What every clock read returns while the golden directory is written: noon of the 4th day.
pub const CLOCK_NS: i64 = (DAY0 + 3) * NS_PER_DAY + NS_PER_DAY / 2;
const SEED: u64 = 0x0060_1DE7;

pub const TRADE_SYMBOLS: [&str; 5] = ["AAPL", "MSFT", "GOOG", "AMZN", "NVDA"];
pub const TRADES_PER_DAY: usize = 120;
pub const TRADE_DAYS: usize = 3;
/// `drop_before("trades", DROP_CUTOFF_TS)` removes day 0.
pub const DROP_CUTOFF_TS: i64 = (DAY0 + 1) * NS_PER_DAY;

pub const EVERY_TYPE_TABLE: &str = "every_type";
pub const EVERY_TYPE_ROWS: usize = 90;
/// Rows from this index on are appended after `extra` was added and carry it.
pub const EXTRA_FROM_ROW: usize = 30;
pub const ADDED_COLUMN: &str = "extra";
pub const ADDED_COLUMN_TYPE: ColumnType = ColumnType::Int64;
const EVERY_TYPE_SYMBOLS: [&str; 3] = ["AAPL", "ÜBER.DE", "X"];
const VENUES: [&str; 4] = ["XNYS", "XNAS", "BATS", "ÆØÅ"];

/// Buffer sizes of the three writing sessions (see [`write`]); the last never seals, so its
/// rows live only in the WAL.
pub const BLOCK_ROWS_FIRST: usize = 4;
pub const BLOCK_ROWS_SEALING: usize = 12;
pub const BLOCK_ROWS_NEVER: usize = 1 << 30;
pub const WAL_SEGMENT_BYTES: u64 = 8 << 10;

/// The shard configuration the golden directory is written and read with.
pub fn config(block_rows: usize) -> ShardConfig {
    ShardConfig {
        fsync: FsyncPolicy::Always,
        block_rows,
        seal_age_ns: i64::MAX,
        wal_segment_bytes: WAL_SEGMENT_BYTES,
        hot_bytes_max: 1 << 30,
        clock: Box::new(FixedClock(CLOCK_NS)),
    }
}

/// One row of `trades(timestamp, symbol, price Float64, volume Int64)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Trade {
    pub ts: i64,
    pub symbol: &'static str,
    pub price: f64,
    pub volume: i64,
}

/// Trade `i` of `TRADE_DAYS * TRADES_PER_DAY`: day `i / TRADES_PER_DAY`, timestamps unique and
/// increasing with `i`.
pub fn trade(i: usize) -> Trade {
    assert!(i < TRADE_DAYS * TRADES_PER_DAY);
    let step_ns = NS_PER_DAY / TRADES_PER_DAY as i64;
    let h = mix64(SEED ^ i as u64);
    let day = (i / TRADES_PER_DAY) as i64;
    let within = (i % TRADES_PER_DAY) as i64;
    Trade {
        ts: (DAY0 + day) * NS_PER_DAY + within * step_ns + (h % (step_ns as u64 / 2)) as i64,
        symbol: TRADE_SYMBOLS[(mix64(h) % 5) as usize],
        price: 100.0 + (h >> 40) as f64 / 4096.0,
        volume: (h % 2000) as i64 - 100,
    }
}

fn trades_batch(indexes: &[usize], symbols_as_codes: bool) -> Batch {
    let rows: Vec<Trade> = indexes.iter().map(|&i| trade(i)).collect();
    let mut b = Batch::new("trades").i64s("timestamp", rows.iter().map(|r| r.ts).collect());
    if symbols_as_codes {
        let dict: Vec<String> = TRADE_SYMBOLS.iter().map(|s| s.to_string()).collect();
        let codes = rows
            .iter()
            .map(|r| {
                TRADE_SYMBOLS
                    .iter()
                    .position(|s| *s == r.symbol)
                    .expect("known") as u32
            })
            .collect();
        b = b.symbol_codes("symbol", dict, codes);
    } else {
        b = b.strs("symbol", rows.iter().map(|r| r.symbol));
    }
    b.f64s("price", rows.iter().map(|r| r.price).collect())
        .i64s("volume", rows.iter().map(|r| r.volume).collect())
}

/// `trades` as a reader must find it: every trade of the days after the dropped one.
pub fn expected_trades() -> Vec<Vec<Value>> {
    let mut rows: Vec<Vec<Value>> = (TRADES_PER_DAY..TRADE_DAYS * TRADES_PER_DAY)
        .map(|i| {
            let t = trade(i);
            vec![
                Value::Timestamp(t.ts),
                Value::Symbol(t.symbol.to_string()),
                Value::F64(t.price),
                Value::I64(t.volume),
            ]
        })
        .collect();
    rows.sort();
    rows
}

/// A table with a column of every type, all nullable except the designated two.
pub fn every_type_spec() -> TableSpec {
    TableSpec::new(EVERY_TYPE_TABLE)
        .column("timestamp", ColumnType::Timestamp)
        .column("symbol", ColumnType::Symbol)
        .column("i", ColumnType::Int64)
        .column("u", ColumnType::UInt64)
        .column("f", ColumnType::Float64)
        .column("flag", ColumnType::Bool)
        .column("note", ColumnType::String)
        .column("venue", ColumnType::Symbol)
        .column("at", ColumnType::Timestamp)
}

/// One row of `every_type` (plus the added `extra` column).
#[derive(Debug, Clone, PartialEq)]
pub struct EveryRow {
    pub ts: i64,
    pub symbol: &'static str,
    pub i: Option<i64>,
    pub u: Option<u64>,
    pub f: Option<f64>,
    pub flag: Option<bool>,
    pub note: Option<String>,
    pub venue: Option<&'static str>,
    pub at: Option<i64>,
    /// `None` both for NULL and for rows written before the column existed.
    pub extra: Option<i64>,
}

/// Row `i` of `every_type`, with edge values (extremes, NaN, -0.0, infinities, empty and
/// non-ASCII strings) at fixed positions and NULLs in every nullable column.
// `usize::is_multiple_of` needs Rust 1.87; the workspace's rust-version is 1.85.
#[allow(clippy::manual_is_multiple_of)]
pub fn every_row(i: usize) -> EveryRow {
    assert!(i < EVERY_TYPE_ROWS);
    let h = mix64(SEED.rotate_left(17) ^ i as u64);
    // Rows 0 and 1, 10 and 11, ... share a timestamp; the others spread over DAY0 + 1 and + 2.
    let ts = if i % 10 == 1 {
        every_row(i - 1).ts
    } else {
        (DAY0 + 1 + (i % 2) as i64) * NS_PER_DAY + i as i64 * 1_000_003 + (h % 1000) as i64
    };
    let i_value = match i {
        1 => i64::MIN,
        2 => i64::MAX,
        3 => 0,
        _ => h as i64,
    };
    let u_value = match i {
        4 => u64::MAX,
        5 => 0,
        _ => mix64(h),
    };
    let f_value = match i {
        7 => f64::NAN,
        8 => -0.0,
        9 => f64::INFINITY,
        10 => f64::NEG_INFINITY,
        11 => f64::MIN_POSITIVE,
        12 => f64::MAX,
        _ => (h >> 11) as f64 / (1u64 << 20) as f64 - 4096.0,
    };
    let note = match i % 8 {
        2 => String::new(),
        3 => "héllo ✓ 日本".to_string(),
        4 => "tab\tnew\nline \"quoted\" \\".to_string(),
        5 => "x".repeat(300),
        _ => format!("note-{i}-{:x}", h & 0xFFFF),
    };
    EveryRow {
        ts,
        symbol: EVERY_TYPE_SYMBOLS[(h % 3) as usize],
        i: (i % 5 != 4).then_some(i_value),
        u: (i % 6 > 0).then_some(u_value),
        f: (i % 4 != 1).then_some(f_value),
        flag: (i % 3 != 2).then_some(h & 1 == 1),
        note: (i % 7 > 0).then_some(note),
        venue: (i % 4 > 0).then_some(VENUES[((h >> 8) % 4) as usize]),
        at: (i % 5 != 2).then_some(if i % 9 == 0 {
            -1_000_000_007 * i as i64
        } else {
            ts - 12_345
        }),
        extra: (i >= EXTRA_FROM_ROW && i % 3 > 0).then_some(i as i64 * 1_000 - 50_000),
    }
}

fn nullable<T: Clone>(
    values: &[Option<T>],
    default: T,
    wrap: impl FnOnce(Vec<T>) -> Values,
) -> ColumnBuf {
    ColumnBuf::with_validity(
        wrap(
            values
                .iter()
                .map(|v| v.clone().unwrap_or_else(|| default.clone()))
                .collect(),
        ),
        Bitmap::from_bools(values.iter().map(Option::is_some)),
    )
}

fn every_type_batch(range: std::ops::Range<usize>) -> Batch {
    let rows: Vec<EveryRow> = range.clone().map(every_row).collect();
    let col = |f: fn(&EveryRow) -> Option<String>| rows.iter().map(f).collect::<Vec<_>>();
    let notes = col(|r| r.note.clone());
    let venues = col(|r| r.venue.map(str::to_string));
    let mut b = Batch::new(EVERY_TYPE_TABLE)
        .i64s("timestamp", rows.iter().map(|r| r.ts).collect())
        .strs("symbol", rows.iter().map(|r| r.symbol))
        .column(
            "i",
            nullable(
                &rows.iter().map(|r| r.i).collect::<Vec<_>>(),
                0,
                Values::I64,
            ),
        )
        .column(
            "u",
            nullable(
                &rows.iter().map(|r| r.u).collect::<Vec<_>>(),
                0,
                Values::U64,
            ),
        )
        .column(
            "f",
            nullable(
                &rows.iter().map(|r| r.f).collect::<Vec<_>>(),
                0.0,
                Values::F64,
            ),
        )
        .column(
            "flag",
            nullable(
                &rows
                    .iter()
                    .map(|r| r.flag.map(u8::from))
                    .collect::<Vec<_>>(),
                0,
                Values::Bool,
            ),
        )
        .column(
            "note",
            nullable(&notes, String::new(), |v| {
                Values::Str(StrValues::from_strs(v))
            }),
        )
        .column(
            "venue",
            nullable(&venues, String::new(), |v| {
                Values::Str(StrValues::from_strs(v))
            }),
        )
        .column(
            "at",
            nullable(
                &rows.iter().map(|r| r.at).collect::<Vec<_>>(),
                0,
                Values::I64,
            ),
        );
    if range.start >= EXTRA_FROM_ROW {
        b = b.column(
            ADDED_COLUMN,
            nullable(
                &rows.iter().map(|r| r.extra).collect::<Vec<_>>(),
                0,
                Values::I64,
            ),
        );
    } else {
        assert!(
            range.end <= EXTRA_FROM_ROW,
            "a batch is wholly before or after the column was added"
        );
    }
    b
}

/// `every_type` as a reader must find it (schema order, `extra` last), sorted.
pub fn expected_every_type() -> Vec<Vec<Value>> {
    let mut rows: Vec<Vec<Value>> = (0..EVERY_TYPE_ROWS)
        .map(|i| {
            let r = every_row(i);
            vec![
                Value::Timestamp(r.ts),
                Value::Symbol(r.symbol.to_string()),
                r.i.map_or(Value::Null, Value::I64),
                r.u.map_or(Value::Null, Value::U64),
                r.f.map_or(Value::Null, Value::F64),
                r.flag.map_or(Value::Null, Value::Bool),
                r.note.map_or(Value::Null, Value::Str),
                r.venue
                    .map_or(Value::Null, |v| Value::Symbol(v.to_string())),
                r.at.map_or(Value::Null, Value::Timestamp),
                r.extra.map_or(Value::Null, Value::I64),
            ]
        })
        .collect();
    rows.sort();
    rows
}

/// Writes the golden data set into the empty directory `dir`, in three sessions:
///
/// 1. 4-row buffers: create `every_type`, rows 0..30 in three commits (sealed blocks without
///    `extra`, a few rows left hot);
/// 2. 12-row buffers: trades of days 0 and 1 in shuffled order and random batch sizes, one
///    commit each (many seals, blocks split per day partition, rows left hot); `drop_before`
///    day 1 on `trades` (removes the day-0 partition and the day-0 hot rows); `add_column
///    every_type extra Int64`, then rows 30..75 with `extra` (some seal);
/// 3. buffers that never seal: trades of day 2 and `every_type` rows 75..90, which live only in
///    the WAL.
///
/// Sealing happens only when a commit finds full buffers (never `seal_all`, which visits
/// buffers in hash order), so the same code writes the same bytes. Symbol columns alternate
/// between batch-local codes and strings so both WAL encodings occur.
pub fn write(dir: &Path) -> storage::Result<()> {
    let mut rng = SplitMix64::new(SEED);
    let (mut shard, _) = Shard::open(dir, config(BLOCK_ROWS_FIRST))?;
    shard.create_table(every_type_spec())?;
    for start in (0..EXTRA_FROM_ROW).step_by(10) {
        shard.append(&every_type_batch(start..start + 10))?;
        shard.commit()?;
    }
    drop(shard);

    let (mut shard, _) = Shard::open(dir, config(BLOCK_ROWS_SEALING))?;
    let mut order: Vec<usize> = (0..2 * TRADES_PER_DAY).collect();
    rng.shuffle(&mut order);
    append_trades(&mut shard, &mut rng, &order)?;
    let dropped = shard.drop_before("trades", DROP_CUTOFF_TS)?;
    assert_eq!(
        dropped, 1,
        "drop_before removes exactly the day-0 partition"
    );
    shard.add_column(EVERY_TYPE_TABLE, ADDED_COLUMN, ADDED_COLUMN_TYPE)?;
    for start in (EXTRA_FROM_ROW..75).step_by(15) {
        shard.append(&every_type_batch(start..start + 15))?;
        shard.commit()?;
    }
    drop(shard);

    let (mut shard, _) = Shard::open(dir, config(BLOCK_ROWS_NEVER))?;
    let mut order: Vec<usize> = (2 * TRADES_PER_DAY..3 * TRADES_PER_DAY).collect();
    rng.shuffle(&mut order);
    append_trades(&mut shard, &mut rng, &order)?;
    shard.append(&every_type_batch(75..EVERY_TYPE_ROWS))?;
    shard.commit()?;
    drop(shard);
    Ok(())
}

fn append_trades(shard: &mut Shard, rng: &mut SplitMix64, order: &[usize]) -> storage::Result<()> {
    let mut at = 0;
    let mut batches = 0;
    while at < order.len() {
        let end = (at + rng.between(1, 24) as usize).min(order.len());
        shard.append(&trades_batch(&order[at..end], batches % 2 == 0))?;
        shard.commit()?;
        at = end;
        batches += 1;
    }
    Ok(())
}
