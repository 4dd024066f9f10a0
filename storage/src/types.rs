//! Column types, table schemas and the validity bitmap shared by batches, hot buffers and scans.

use serde::{Deserialize, Serialize};

use crate::error::RequestError;

/// Sequence number of one WAL record (one appended batch). Starts at 1; 0 means "nothing".
pub type Seq = u64;
/// Stable id of a table inside a data directory; never reused after a drop.
pub type TableId = u32;
/// Stable id of a column inside its table; never reused after a drop.
pub type ColumnId = u16;
/// The shard key of a row: a symbol-dictionary id for Symbol key columns, or the integer itself.
pub type SymKey = u64;

pub const NS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// A column's logical type. The on-disk tag (`tag()`) is part of the file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ColumnType {
    Int64,
    UInt64,
    Float64,
    Bool,
    /// Nanoseconds since the Unix epoch, stored as i64.
    Timestamp,
    /// Dictionary-encoded string; ids come from the shard's symbol dictionary.
    Symbol,
    String,
}

impl ColumnType {
    pub const ALL: [ColumnType; 7] = [
        ColumnType::Int64,
        ColumnType::UInt64,
        ColumnType::Float64,
        ColumnType::Bool,
        ColumnType::Timestamp,
        ColumnType::Symbol,
        ColumnType::String,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Int64 => "Int64",
            ColumnType::UInt64 => "UInt64",
            ColumnType::Float64 => "Float64",
            ColumnType::Bool => "Bool",
            ColumnType::Timestamp => "Timestamp",
            ColumnType::Symbol => "Symbol",
            ColumnType::String => "String",
        }
    }

    /// The byte stored in WAL records and block index entries.
    pub fn tag(self) -> u8 {
        match self {
            ColumnType::Int64 => 1,
            ColumnType::UInt64 => 2,
            ColumnType::Float64 => 3,
            ColumnType::Bool => 4,
            ColumnType::Timestamp => 5,
            ColumnType::Symbol => 6,
            ColumnType::String => 7,
        }
    }

    pub fn from_tag(tag: u8) -> Option<ColumnType> {
        ColumnType::ALL.into_iter().find(|t| t.tag() == tag)
    }

    /// The physical representation used in memory and on disk.
    pub fn physical(self) -> Physical {
        match self {
            ColumnType::Int64 | ColumnType::Timestamp => Physical::I64,
            ColumnType::UInt64 => Physical::U64,
            ColumnType::Float64 => Physical::F64,
            ColumnType::Bool => Physical::Bool,
            ColumnType::Symbol => Physical::Sym,
            ColumnType::String => Physical::Str,
        }
    }

    /// Whether this type may be a table's shard-key (`symbol`) column.
    pub fn can_be_key(self) -> bool {
        matches!(
            self,
            ColumnType::Symbol | ColumnType::Int64 | ColumnType::UInt64
        )
    }
}

/// Physical layouts: fixed-width 8-byte values, 1-byte bools, 4-byte dictionary ids, or
/// variable-length strings (u32 offsets + bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Physical {
    I64,
    U64,
    F64,
    Bool,
    Sym,
    Str,
}

impl Physical {
    pub fn name(self) -> &'static str {
        match self {
            Physical::I64 => "Int64",
            Physical::U64 => "UInt64",
            Physical::F64 => "Float64",
            Physical::Bool => "Bool",
            Physical::Sym => "Symbol",
            Physical::Str => "String",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSchema {
    pub id: ColumnId,
    pub name: String,
    pub ty: ColumnType,
    /// Whether the column may hold NULL (ClickHouse `Nullable(T)`). A NOT NULL column never
    /// stores NULL: `Shard::append` gives its NULL and omitted cells the type's default.
    /// Catalogs written before this field existed read as nullable, which is what they were.
    #[serde(default = "nullable_by_default")]
    pub nullable: bool,
}

fn nullable_by_default() -> bool {
    true
}

/// A table: its columns in declaration order, plus which are the designated timestamp and
/// symbol (shard key) columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSchema {
    pub id: TableId,
    pub name: String,
    pub columns: Vec<ColumnSchema>,
    /// Position in `columns` of the designated Timestamp column.
    pub ts_index: usize,
    /// Position in `columns` of the designated shard-key column.
    pub key_index: usize,
    pub next_column_id: ColumnId,
}

impl TableSchema {
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    pub fn column_index_by_id(&self, id: ColumnId) -> Option<usize> {
        self.columns.iter().position(|c| c.id == id)
    }

    pub fn key_type(&self) -> ColumnType {
        self.columns[self.key_index].ty
    }

    /// Checks the invariants every persisted schema holds.
    pub fn check_invariants(&self) -> Result<(), RequestError> {
        let bad = |m: String| Err(RequestError::InvalidSchema(m));
        if self.columns.is_empty() {
            return bad(format!("table {} has no columns", self.name));
        }
        if self.ts_index >= self.columns.len() || self.key_index >= self.columns.len() {
            return bad("designated column out of range".into());
        }
        if self.ts_index == self.key_index {
            return bad("timestamp and symbol must be different columns".into());
        }
        if self.columns[self.ts_index].ty != ColumnType::Timestamp {
            return bad(format!(
                "designated timestamp column '{}' must have type Timestamp",
                self.columns[self.ts_index].name
            ));
        }
        if !self.columns[self.key_index].ty.can_be_key() {
            return bad(format!(
                "symbol column '{}' must be Symbol, Int64 or UInt64",
                self.columns[self.key_index].name
            ));
        }
        for (i, c) in self.columns.iter().enumerate() {
            if c.name.is_empty() {
                return bad("empty column name".into());
            }
            if self.columns[..i].iter().any(|o| o.name == c.name) {
                return bad(format!("duplicate column name '{}'", c.name));
            }
            if self.columns[..i].iter().any(|o| o.id == c.id) || c.id >= self.next_column_id {
                return bad(format!("bad column id {} for '{}'", c.id, c.name));
            }
        }
        Ok(())
    }
}

/// A validity bitmap: bit `i` (LSB-first within each byte, Arrow's layout) set means row `i`
/// holds a value; clear means NULL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bitmap {
    bytes: Vec<u8>,
    len: usize,
}

impl Bitmap {
    pub fn new() -> Bitmap {
        Bitmap::default()
    }

    pub fn all_valid(len: usize) -> Bitmap {
        let mut bytes = vec![0xFF; len.div_ceil(8)];
        if len % 8 != 0 {
            *bytes.last_mut().expect("len > 0") = (1u8 << (len % 8)) - 1;
        }
        Bitmap { bytes, len }
    }

    pub fn from_bools(valid: impl IntoIterator<Item = bool>) -> Bitmap {
        let mut b = Bitmap::new();
        for v in valid {
            b.push(v);
        }
        b
    }

    pub fn from_bytes(bytes: Vec<u8>, len: usize) -> Bitmap {
        assert!(bytes.len() >= len.div_ceil(8), "bitmap bytes too short");
        let mut b = Bitmap { bytes, len };
        b.bytes.truncate(len.div_ceil(8));
        b
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    #[inline]
    pub fn get(&self, i: usize) -> bool {
        debug_assert!(i < self.len);
        self.bytes[i / 8] & (1 << (i % 8)) != 0
    }

    #[inline]
    pub fn push(&mut self, valid: bool) {
        if self.len % 8 == 0 {
            self.bytes.push(0);
        }
        if valid {
            self.bytes[self.len / 8] |= 1 << (self.len % 8);
        }
        self.len += 1;
    }

    pub fn extend_valid(&mut self, count: usize) {
        let mut left = count;
        while left > 0 && !self.len.is_multiple_of(8) {
            self.push(true);
            left -= 1;
        }
        let full_bytes = left / 8;
        self.bytes.resize(self.bytes.len() + full_bytes, 0xFF);
        self.len += full_bytes * 8;
        for _ in 0..left % 8 {
            self.push(true);
        }
    }

    pub fn null_count(&self) -> usize {
        self.len
            - self
                .bytes
                .iter()
                .map(|b| b.count_ones() as usize)
                .sum::<usize>()
    }

    pub fn clear(&mut self) {
        self.bytes.clear();
        self.len = 0;
    }
}

/// A borrowed validity bitmap that may start at a bit offset (after a time-range trim).
#[derive(Debug, Clone, Copy)]
pub struct Validity<'a> {
    pub bits: &'a [u8],
    pub offset: usize,
    pub len: usize,
}

impl Validity<'_> {
    #[inline]
    pub fn is_valid(&self, i: usize) -> bool {
        debug_assert!(i < self.len);
        let j = i + self.offset;
        self.bits[j / 8] & (1 << (j % 8)) != 0
    }

    pub fn null_count(&self) -> usize {
        (0..self.len).filter(|&i| !self.is_valid(i)).count()
    }

    /// Copies into an owned bitmap starting at bit 0 (what kernels expect).
    pub fn to_bitmap(&self) -> Bitmap {
        Bitmap::from_bools((0..self.len).map(|i| self.is_valid(i)))
    }
}

/// Day partition number of a timestamp: floor(ts / 1 day), correct for negative timestamps.
#[inline]
pub fn day_of(ts_ns: i64) -> i32 {
    ts_ns.div_euclid(NS_PER_DAY) as i32
}

/// `YYYY-MM-DD` for a day number (days since 1970-01-01), proleptic Gregorian calendar.
pub fn day_name(day: i32) -> String {
    // Howard Hinnant's civil_from_days algorithm.
    let z = day as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

/// Inverse of [`day_name`]; `None` for anything that is not a `YYYY-MM-DD` this code wrote.
pub fn parse_day_name(s: &str) -> Option<i32> {
    let mut it = s.splitn(3, '-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: i64 = it.next()?.parse().ok()?;
    let d: i64 = it.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let day = era * 146_097 + doe - 719_468;
    let day = i32::try_from(day).ok()?;
    (day_name(day) == s).then_some(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_names_round_trip() {
        assert_eq!(day_name(0), "1970-01-01");
        assert_eq!(day_name(-1), "1969-12-31");
        assert_eq!(day_name(20_412), "2025-11-20");
        for day in (-700_000..2_900_000).step_by(997) {
            assert_eq!(parse_day_name(&day_name(day)), Some(day), "day {day}");
        }
        assert_eq!(parse_day_name("2025-02-30"), None);
        assert_eq!(parse_day_name("junk"), None);
    }

    #[test]
    fn day_of_floors_negative_timestamps() {
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(-1), -1);
        assert_eq!(day_of(NS_PER_DAY), 1);
        assert_eq!(day_of(NS_PER_DAY - 1), 0);
    }

    #[test]
    fn bitmap_push_get_nulls() {
        let b = Bitmap::from_bools([true, false, true, true, false, true, true, true, false]);
        assert_eq!(b.len(), 9);
        assert!(b.get(0) && !b.get(1) && !b.get(8));
        assert_eq!(b.null_count(), 3);
        assert_eq!(Bitmap::all_valid(9).null_count(), 0);
        assert_eq!(Bitmap::all_valid(9).bytes(), &[0xFF, 0x01]);
        let v = Validity {
            bits: b.bytes(),
            offset: 3,
            len: 6,
        };
        assert_eq!(
            v.to_bitmap(),
            Bitmap::from_bools([true, false, true, true, true, false])
        );
    }

    #[test]
    fn type_tags_round_trip() {
        for t in ColumnType::ALL {
            assert_eq!(ColumnType::from_tag(t.tag()), Some(t));
        }
        assert_eq!(ColumnType::from_tag(0), None);
    }
}

/// The shard that owns a symbol among `shards`: a stable FNV-1a hash of its UTF-8 bytes, so
/// one symbol's whole history lives on one core across restarts.
pub fn shard_of_symbol(symbol: &[u8], shards: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in symbol {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % shards.max(1) as u64) as usize
}

/// The shard that owns an integer symbol (tables whose symbol column is Int64/UInt64).
pub fn shard_of_int(symbol: u64, shards: usize) -> usize {
    shard_of_symbol(&symbol.to_le_bytes(), shards)
}

#[cfg(test)]
mod routing_tests {
    use super::*;

    #[test]
    fn routing_is_stable_and_spreads() {
        // Pinned values: changing the hash would move stored symbols to other shards.
        assert_eq!(shard_of_symbol(b"AAPL", 1), 0);
        let a = shard_of_symbol(b"AAPL", 8);
        assert_eq!(a, shard_of_symbol(b"AAPL", 8));
        let mut seen = [0usize; 4];
        for i in 0..1000 {
            seen[shard_of_symbol(format!("S{i}").as_bytes(), 4)] += 1;
        }
        assert!(seen.iter().all(|&n| n > 150), "{seen:?}");
        assert_eq!(shard_of_int(1, 3), shard_of_int(1, 3));
    }
}
