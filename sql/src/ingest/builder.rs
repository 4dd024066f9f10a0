//! Column builders whose schema grows as names appear, a batch-local symbol interner, and the
//! staged-row commit shared by the line-protocol and MessagePack row decoders.
//!
//! A row is first parsed into a [`Row`] (spans into the body or a scratch buffer), then checked
//! as a whole against the table's columns, and only then written, so a bad row never leaves a
//! partial row behind. Columnar input writes straight into the columns and undoes a bad item
//! with [`TableBuilder::truncate`].

use std::collections::HashMap;

use storage::dict::SYMBOL_BYTES_MAX;
use storage::{Batch, BatchColumn, Bitmap, ColumnBuf, ColumnType, Values};

use super::{DecodeError, DecodedTable, Limits, Location, Reason, SYMBOL_COLUMN, TIMESTAMP_COLUMN};

/// Position of the designated timestamp column in every [`TableBuilder`].
pub(crate) const TS: usize = 0;
/// Position of the designated shard-key column in every [`TableBuilder`].
pub(crate) const KEY: usize = 1;
const NO_CODE: u32 = u32::MAX;

/// A fast non-cryptographic hash for interning (the inputs are bounded per request, and a
/// collision only costs a comparison).
#[inline]
fn hash_bytes(b: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = b.len() as u64;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    let rem = chunks.remainder();
    if !rem.is_empty() {
        let mut buf = [0u8; 8];
        buf[..rem.len()].copy_from_slice(rem);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(buf)).wrapping_mul(K);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

/// The batch dictionary: each distinct string once, with an open-addressing index of codes so a
/// lookup by bytes needs no allocation.
#[derive(Debug)]
pub(crate) struct Interner {
    symbols: Vec<String>,
    hashes: Vec<u64>,
    /// `code + 1`, 0 = empty; the length is a power of two, at most half full.
    slots: Vec<u32>,
}

impl Default for Interner {
    fn default() -> Self {
        Interner {
            symbols: Vec::new(),
            hashes: Vec::new(),
            slots: vec![0; 64],
        }
    }
}

impl Interner {
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    pub fn get(&self, code: u32) -> &str {
        &self.symbols[code as usize]
    }

    /// The code of `v`, adding it when new. Callers guarantee `v` is UTF-8 (the decoders check
    /// it when they read the value).
    pub fn intern(&mut self, v: &[u8]) -> u32 {
        let h = hash_bytes(v);
        let mask = self.slots.len() - 1;
        let mut i = h as usize & mask;
        loop {
            let s = self.slots[i];
            if s == 0 {
                break;
            }
            let code = s - 1;
            if self.hashes[code as usize] == h && self.symbols[code as usize].as_bytes() == v {
                return code;
            }
            i = (i + 1) & mask;
        }
        let code = self.symbols.len() as u32;
        debug_assert!(std::str::from_utf8(v).is_ok(), "interned bytes are UTF-8");
        self.symbols.push(String::from_utf8_lossy(v).into_owned());
        self.hashes.push(h);
        self.slots[i] = code + 1;
        if self.symbols.len() * 2 > self.slots.len() {
            self.grow();
        }
        code
    }

    fn grow(&mut self) {
        let mut slots = vec![0u32; self.slots.len() * 2];
        let mask = slots.len() - 1;
        for (code, &h) in self.hashes.iter().enumerate() {
            let mut i = h as usize & mask;
            while slots[i] != 0 {
                i = (i + 1) & mask;
            }
            slots[i] = code as u32 + 1;
        }
        self.slots = slots;
    }

    pub fn into_symbols(self) -> Vec<String> {
        self.symbols
    }
}

/// One column under construction.
#[derive(Debug)]
pub(crate) struct ColBuilder {
    pub name: String,
    pub ty: ColumnType,
    pub values: Values,
    /// One byte per row (1 = value, 0 = NULL) from the first NULL on; `None` while all valid.
    pub valid: Option<Vec<u8>>,
    /// The commit sequence number that last wrote this column (duplicate detection).
    pub stamp: u32,
    /// The code pushed last (Symbol columns): a repeat of the same tag value skips the hash.
    pub last_code: u32,
}

impl ColBuilder {
    pub fn new(name: String, ty: ColumnType, nulls: usize) -> ColBuilder {
        let mut c = ColBuilder {
            name,
            ty,
            values: Values::empty(ty.physical()),
            valid: None,
            stamp: 0,
            last_code: NO_CODE,
        };
        for _ in 0..nulls {
            c.push_null();
        }
        c
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn push_null(&mut self) {
        let len = self.len();
        self.valid.get_or_insert_with(|| vec![1; len]).push(0);
        self.values.push_default();
    }

    #[inline]
    fn mark_valid(&mut self) {
        if let Some(v) = &mut self.valid {
            v.push(1);
        }
    }

    #[inline]
    pub fn is_valid(&self, row: usize) -> bool {
        self.valid.as_ref().is_none_or(|v| v[row] != 0)
    }

    #[inline]
    pub fn push_i64(&mut self, x: i64) {
        match &mut self.values {
            Values::I64(v) => v.push(x),
            Values::F64(v) => v.push(x as f64),
            Values::U64(v) => v.push(x as u64),
            other => unreachable!("i64 into {:?}", other.physical()),
        }
        self.mark_valid();
    }

    #[inline]
    pub fn push_u64(&mut self, x: u64) {
        match &mut self.values {
            Values::U64(v) => v.push(x),
            Values::F64(v) => v.push(x as f64),
            other => unreachable!("u64 into {:?}", other.physical()),
        }
        self.mark_valid();
    }

    #[inline]
    pub fn push_f64(&mut self, x: f64) {
        match &mut self.values {
            Values::F64(v) => v.push(x),
            other => unreachable!("f64 into {:?}", other.physical()),
        }
        self.mark_valid();
    }

    #[inline]
    pub fn push_bool(&mut self, x: bool) {
        match &mut self.values {
            Values::Bool(v) => v.push(x as u8),
            other => unreachable!("bool into {:?}", other.physical()),
        }
        self.mark_valid();
    }

    #[inline]
    pub fn push_code(&mut self, code: u32) {
        match &mut self.values {
            Values::Sym(v) => v.push(code),
            other => unreachable!("symbol into {:?}", other.physical()),
        }
        self.last_code = code;
        self.mark_valid();
    }

    #[inline]
    pub fn push_str(&mut self, s: &[u8]) {
        match &mut self.values {
            Values::Str(v) => v.push(s),
            other => unreachable!("string into {:?}", other.physical()),
        }
        self.mark_valid();
    }

    /// Turns an Int64 column into Float64 (MessagePack numbers that turn out fractional).
    pub fn promote_to_f64(&mut self) {
        if let Values::I64(v) = &self.values {
            self.values = Values::F64(v.iter().map(|&x| x as f64).collect());
            self.ty = ColumnType::Float64;
        }
    }

    pub fn truncate(&mut self, rows: usize) {
        match &mut self.values {
            Values::I64(v) => v.truncate(rows),
            Values::U64(v) => v.truncate(rows),
            Values::F64(v) => v.truncate(rows),
            Values::Bool(v) => v.truncate(rows),
            Values::Sym(v) => v.truncate(rows),
            Values::Str(s) => {
                if rows < s.len() {
                    s.bytes.truncate(s.offsets[rows] as usize);
                    s.offsets.truncate(rows + 1);
                }
            }
        }
        if let Some(v) = &mut self.valid {
            v.truncate(rows);
        }
        self.last_code = NO_CODE;
    }

    pub fn finish(self, remap: Option<&[u32]>) -> (BatchColumn, ColumnType) {
        let mut values = self.values;
        if let (Some(remap), Values::Sym(codes)) = (remap, &mut values) {
            for c in codes.iter_mut() {
                *c = remap[*c as usize];
            }
        }
        let validity = self
            .valid
            .filter(|v| v.contains(&0))
            .map(|v| Bitmap::from_bools(v.iter().map(|&b| b != 0)));
        let data = match validity {
            Some(b) => ColumnBuf::with_validity(values, b),
            None => ColumnBuf::new(values),
        };
        (
            BatchColumn {
                name: self.name,
                data,
            },
            self.ty,
        )
    }
}

/// One table under construction: `timestamp` and `symbol` first, then columns in order of
/// first appearance.
#[derive(Debug)]
pub(crate) struct TableBuilder {
    pub name: String,
    pub columns: Vec<ColBuilder>,
    index: HashMap<Box<[u8]>, usize>,
    /// The column the k-th item of the previous row resolved to: rows of one feed repeat their
    /// keys in the same order, so most lookups are one comparison.
    recent: Vec<usize>,
    pub rows: usize,
    pub interner: Interner,
    pub origins: Vec<Location>,
    /// The raw measurement-and-tags bytes of the last row whose shard key was its series key,
    /// and that key's code.
    series_raw: Vec<u8>,
    series_code: u32,
    /// Set when an item was undone after interning: the dictionary may hold unused strings.
    pub dict_dirty: bool,
}

impl TableBuilder {
    pub fn new(name: String) -> TableBuilder {
        let mut t = TableBuilder {
            name,
            columns: Vec::new(),
            index: HashMap::new(),
            recent: Vec::new(),
            rows: 0,
            interner: Interner::default(),
            origins: Vec::new(),
            series_raw: Vec::new(),
            series_code: NO_CODE,
            dict_dirty: false,
        };
        t.add_column(TIMESTAMP_COLUMN.as_bytes(), ColumnType::Timestamp);
        t.add_column(SYMBOL_COLUMN.as_bytes(), ColumnType::Symbol);
        t
    }

    #[inline]
    pub fn find(&self, name: &[u8]) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// Looks `name` up, trying the column the `k`-th item of the previous row had first.
    #[inline]
    pub fn find_predicted(&self, k: usize, name: &[u8]) -> Option<usize> {
        if let Some(&c) = self.recent.get(k) {
            if self.columns[c].name.as_bytes() == name {
                return Some(c);
            }
        }
        self.find(name)
    }

    #[inline]
    fn remember(&mut self, k: usize, c: usize) {
        if k < self.recent.len() {
            self.recent[k] = c;
        } else if k == self.recent.len() {
            self.recent.push(c);
        }
    }

    /// Adds a column holding NULL for every row so far. `name` must be UTF-8 (checked by the
    /// caller) and new.
    pub fn add_column(&mut self, name: &[u8], ty: ColumnType) -> usize {
        debug_assert!(self.find(name).is_none());
        let i = self.columns.len();
        let name = String::from_utf8_lossy(name).into_owned();
        self.index.insert(name.as_bytes().into(), i);
        self.columns.push(ColBuilder::new(name, ty, self.rows));
        i
    }

    /// The code of `v` for a Symbol column, trying the column's previous value first.
    #[inline]
    pub fn intern_for(&mut self, col: usize, v: &[u8]) -> u32 {
        let last = self.columns[col].last_code;
        if last != NO_CODE && self.interner.get(last).as_bytes() == v {
            return last;
        }
        self.interner.intern(v)
    }

    /// Pads every column not written in the current row with NULL and closes the row.
    pub fn end_row(&mut self, written: usize, origin: Location) {
        let next = self.rows + 1;
        if written < self.columns.len() {
            for c in &mut self.columns {
                if c.len() < next {
                    c.push_null();
                }
            }
        }
        debug_assert!(self.columns.iter().all(|c| c.len() == next));
        self.rows = next;
        self.origins.push(origin);
    }

    /// Closes `count` rows whose columns were all written (columnar input).
    pub fn end_rows(&mut self, count: usize, origin: impl Fn(usize) -> Location) {
        let end = self.rows + count;
        debug_assert!(self.columns.iter().all(|c| c.len() == end));
        self.origins.extend((0..count).map(origin));
        self.rows = end;
    }

    /// Undoes everything after `rows` rows and `columns` columns (a rejected columnar item).
    pub fn truncate(&mut self, rows: usize, columns: usize) {
        for c in self.columns.drain(columns..) {
            self.index.remove(c.name.as_bytes());
        }
        self.recent.retain(|&c| c < columns);
        for c in &mut self.columns {
            c.truncate(rows);
        }
        self.rows = rows;
        self.origins.truncate(rows);
        self.series_code = NO_CODE;
        self.series_raw.clear();
        self.dict_dirty = true;
    }

    pub fn finish(self) -> DecodedTable {
        let rows = self.rows;
        let mut symbols = self.interner.into_symbols();
        let mut remap = None;
        if self.dict_dirty {
            // Keep only the strings some row refers to, so the shard's dictionary is not
            // polluted by rejected items.
            let mut used = vec![false; symbols.len()];
            for c in &self.columns {
                if let Values::Sym(codes) = &c.values {
                    for &k in codes {
                        used[k as usize] = true;
                    }
                }
            }
            let mut map = vec![NO_CODE; symbols.len()];
            let mut kept = Vec::new();
            for (i, s) in symbols.into_iter().enumerate() {
                if used[i] {
                    map[i] = kept.len() as u32;
                    kept.push(s);
                }
            }
            symbols = kept;
            remap = Some(map);
        }
        let mut batch = Batch::new(self.name);
        batch.symbols = symbols;
        let mut types = Vec::with_capacity(self.columns.len());
        for c in self.columns {
            // A Symbol column whose rows were all undone keeps NULL slots with code 0, which
            // the remap cannot map; point them at any kept string (they are NULL).
            let (mut col, ty) = c.finish(remap.as_deref());
            if let Values::Sym(codes) = &mut col.data.values {
                for k in codes.iter_mut() {
                    if *k == NO_CODE {
                        *k = 0;
                    }
                }
            }
            batch.columns.push(col);
            types.push(ty);
        }
        if batch.symbols.is_empty() && rows > 0 {
            // Only possible when every Symbol value is NULL; keep codes in range.
            batch.symbols.push(String::new());
        }
        DecodedTable {
            batch,
            types,
            origins: self.origins,
        }
    }
}

/// A byte range of the body or of the row's scratch buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: u32,
    pub end: u32,
    pub scratch: bool,
}

impl Span {
    #[inline]
    pub fn body(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end as u32,
            scratch: false,
        }
    }

    #[inline]
    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }
}

/// A parsed value of a staged row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Val {
    /// A tag: Symbol column.
    Tag(Span),
    Str(Span),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

impl Val {
    #[inline]
    pub fn ty(self) -> ColumnType {
        match self {
            Val::Tag(_) => ColumnType::Symbol,
            Val::Str(_) => ColumnType::String,
            Val::I64(_) => ColumnType::Int64,
            Val::U64(_) => ColumnType::UInt64,
            Val::F64(_) => ColumnType::Float64,
            Val::Bool(_) => ColumnType::Bool,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Item {
    pub key: Span,
    pub val: Val,
}

/// One parsed row, not yet written. Reused across rows: clearing keeps the allocations.
#[derive(Debug)]
pub(crate) struct Row {
    pub measurement: Span,
    pub items: Vec<Item>,
    pub scratch: Vec<u8>,
    pub ts: i64,
    /// Line protocol: the raw measurement-and-tags bytes, which identify the series key.
    pub series_raw: Option<Span>,
}

impl Default for Row {
    fn default() -> Self {
        Row {
            measurement: Span::body(0, 0),
            items: Vec::new(),
            scratch: Vec::new(),
            ts: 0,
            series_raw: None,
        }
    }
}

impl Row {
    pub fn clear(&mut self) {
        self.items.clear();
        self.scratch.clear();
        self.series_raw = None;
    }

    #[inline]
    pub fn bytes<'a>(&'a self, body: &'a [u8], s: Span) -> &'a [u8] {
        let src = if s.scratch { &self.scratch[..] } else { body };
        &src[s.start as usize..s.end as usize]
    }
}

/// Whether a table name can be created (the catalog refuses these).
pub(crate) fn valid_table_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['/', '\0'])
}

/// Appends `s` escaped as line protocol escapes a measurement (`,` and space).
pub(crate) fn escape_measurement(out: &mut Vec<u8>, s: &[u8]) {
    for &b in s {
        if matches!(b, b',' | b' ') {
            out.push(b'\\');
        }
        out.push(b);
    }
}

/// Appends `s` escaped as line protocol escapes tag keys and values (`,`, `=` and space).
pub(crate) fn escape_tag(out: &mut Vec<u8>, s: &[u8]) {
    for &b in s {
        if matches!(b, b',' | b'=' | b' ') {
            out.push(b'\\');
        }
        out.push(b);
    }
}

/// Which numeric types a MessagePack value may change to within one request.
#[inline]
fn numeric_fits(col: ColumnType, val: Val) -> bool {
    matches!(
        (col, val),
        (ColumnType::Float64, Val::I64(_) | Val::U64(_))
            | (ColumnType::Int64, Val::F64(_))
            | (ColumnType::UInt64, Val::I64(0..))
    )
}

/// The tables of one request being built, and the row commit shared by the row decoders.
#[derive(Debug)]
pub(crate) struct Collector {
    pub tables: Vec<TableBuilder>,
    index: HashMap<Box<[u8]>, usize>,
    last: usize,
    pub limits: Limits,
    pub rows: usize,
    seq: u32,
    /// Per staged item: the column it resolved to, or `NEW`.
    resolved: Vec<usize>,
    tag_order: Vec<usize>,
    series: Vec<u8>,
    /// Types that columns first seen in this body must take: (table, column, type). See
    /// [`Collector::with_pins`].
    pins: Vec<(String, String, ColumnType)>,
}

const NEW: usize = usize::MAX;

impl Collector {
    pub fn new(limits: Limits) -> Collector {
        Collector {
            tables: Vec::new(),
            index: HashMap::new(),
            last: usize::MAX,
            limits,
            rows: 0,
            seq: 0,
            resolved: Vec::new(),
            tag_order: Vec::new(),
            series: Vec::new(),
            pins: Vec::new(),
        }
    }

    /// Pins column types: a row whose value for a pinned column first seen in this body has a
    /// type the column's table cannot take is rejected (`TypeConflict`) instead of deciding the
    /// column's type for the rest of the body. Callers pin the existing table's types when a
    /// first decode let a bad row claim a column, so that later good rows are kept.
    pub fn with_pins(mut self, pins: Vec<(String, String, ColumnType)>) -> Collector {
        self.pins = pins;
        self
    }

    /// The builder of table `name`, created when new.
    pub fn table(&mut self, name: &[u8]) -> Result<usize, Reason> {
        if let Some(t) = self.tables.get(self.last) {
            if t.name.as_bytes() == name {
                return Ok(self.last);
            }
        }
        let t = match self.index.get(name) {
            Some(&t) => t,
            None => {
                let name = std::str::from_utf8(name).map_err(|_| Reason::InvalidUtf8)?;
                if !valid_table_name(name) {
                    return Err(Reason::BadName {
                        what: "measurement",
                        name: super::excerpt(name.as_bytes()),
                    });
                }
                if self.tables.len() >= self.limits.tables_max {
                    return Err(Reason::TooManyTables {
                        max: self.limits.tables_max,
                    });
                }
                self.tables.push(TableBuilder::new(name.to_string()));
                self.index
                    .insert(name.as_bytes().into(), self.tables.len() - 1);
                self.tables.len() - 1
            }
        };
        self.last = t;
        Ok(t)
    }

    /// Fails when one more row would pass `rows_max`.
    pub fn check_rows(&self, more: usize) -> Result<(), DecodeError> {
        if self.rows.saturating_add(more) > self.limits.rows_max {
            return Err(DecodeError::TooManyRows {
                max: self.limits.rows_max,
            });
        }
        Ok(())
    }

    /// Checks `row` as a whole against its table and, when it is good, writes it. `numeric`
    /// lets numbers change type within the request (MessagePack: Int64 → Float64 and so on);
    /// without it a field keeps the type it first had (InfluxDB). Every key and Symbol value of
    /// `row` must be UTF-8.
    pub fn commit(
        &mut self,
        body: &[u8],
        row: &Row,
        origin: Location,
        numeric: bool,
    ) -> Result<(), Reason> {
        let ti = self.table(row.bytes(body, row.measurement))?;
        self.seq = self.seq.wrapping_add(1).max(1);
        let seq = self.seq;
        let limits = &self.limits;
        let t = &mut self.tables[ti];
        self.resolved.clear();
        let mut new_columns = 0;
        // Shard key sources: the `symbol`, `host` and `hostname` tags.
        let (mut has_symbol, mut host, mut hostname) = (false, usize::MAX, usize::MAX);
        let mut tags = 0;
        for (k, item) in row.items.iter().enumerate() {
            let key = row.bytes(body, item.key);
            let ty = item.val.ty();
            match item.val {
                Val::Tag(v) => {
                    tags += 1;
                    if v.len() > SYMBOL_BYTES_MAX {
                        return Err(Reason::TooLong {
                            what: "tag value",
                            len: v.len(),
                            max: SYMBOL_BYTES_MAX,
                        });
                    }
                    match key {
                        b"symbol" => has_symbol = true,
                        b"host" => host = k,
                        b"hostname" => hostname = k,
                        _ => {}
                    }
                }
                Val::Str(v) if v.len() > limits.string_bytes_max => {
                    return Err(Reason::TooLong {
                        what: "string field",
                        len: v.len(),
                        max: limits.string_bytes_max,
                    });
                }
                _ => {}
            }
            if key == TIMESTAMP_COLUMN.as_bytes() {
                return Err(Reason::Reserved {
                    name: TIMESTAMP_COLUMN.into(),
                    why: "it is the designated timestamp column",
                });
            }
            if key == SYMBOL_COLUMN.as_bytes() && ty != ColumnType::Symbol {
                return Err(Reason::Reserved {
                    name: SYMBOL_COLUMN.into(),
                    why: "it is the shard key; send it as a tag",
                });
            }
            match t.find_predicted(k, key) {
                Some(c) => {
                    let col = &mut t.columns[c];
                    if col.ty != ty && !(numeric && numeric_fits(col.ty, item.val)) {
                        return Err(Reason::ConflictInRequest {
                            column: col.name.clone(),
                            first: col.ty,
                            got: ty,
                        });
                    }
                    if col.stamp == seq {
                        return Err(Reason::Duplicate {
                            name: col.name.clone(),
                        });
                    }
                    col.stamp = seq;
                    self.resolved.push(c);
                }
                None => {
                    for (j, &r) in self.resolved.iter().enumerate() {
                        if r == NEW && row.bytes(body, row.items[j].key) == key {
                            return Err(Reason::Duplicate {
                                name: super::excerpt(key),
                            });
                        }
                    }
                    let Ok(name) = std::str::from_utf8(key) else {
                        return Err(Reason::InvalidUtf8);
                    };
                    let pinned = self
                        .pins
                        .iter()
                        .find(|(table, column, _)| *table == t.name && column == name);
                    if let Some(&(_, _, expected)) = pinned {
                        let coercion = if numeric {
                            super::Coercion::Numeric
                        } else {
                            super::Coercion::Strict
                        };
                        if !super::schema::accepts(ty, expected, coercion) {
                            return Err(Reason::TypeConflict {
                                table: t.name.clone(),
                                column: name.to_string(),
                                expected,
                                got: ty,
                            });
                        }
                    }
                    new_columns += 1;
                    self.resolved.push(NEW);
                }
            }
        }
        if new_columns > 0 && t.columns.len() + new_columns > limits.columns_max {
            return Err(Reason::TooManyColumns {
                table: t.name.clone(),
                max: limits.columns_max,
            });
        }
        // String columns need no byte check: every string is a slice of a body of at most
        // u32::MAX bytes (`Limits::check_body`), so u32 offsets cannot overflow.

        // The row is good: write it.
        for (k, item) in row.items.iter().enumerate() {
            let mut c = self.resolved[k];
            if c == NEW {
                c = t.add_column(row.bytes(body, item.key), item.val.ty());
                t.columns[c].stamp = seq;
                self.resolved[k] = c;
            }
            t.remember(k, c);
            match item.val {
                Val::Tag(v) => {
                    let code = t.intern_for(c, row.bytes(body, v));
                    t.columns[c].push_code(code);
                }
                Val::Str(v) => t.columns[c].push_str(row.bytes(body, v)),
                Val::I64(x) => t.columns[c].push_i64(x),
                Val::U64(x) => t.columns[c].push_u64(x),
                Val::F64(x) => {
                    if t.columns[c].ty == ColumnType::Int64 {
                        t.columns[c].promote_to_f64();
                    }
                    t.columns[c].push_f64(x);
                }
                Val::Bool(x) => t.columns[c].push_bool(x),
            }
        }
        t.columns[TS].push_i64(row.ts);
        if !has_symbol {
            let code = if host != usize::MAX {
                t.columns[self.resolved[host]].last_code
            } else if hostname != usize::MAX {
                t.columns[self.resolved[hostname]].last_code
            } else {
                let cached = match row.series_raw {
                    Some(raw) => {
                        let raw = row.bytes(body, raw);
                        if t.series_code != NO_CODE && t.series_raw == raw {
                            Some(t.series_code)
                        } else {
                            t.series_raw.clear();
                            t.series_raw.extend_from_slice(raw);
                            None
                        }
                    }
                    None => None,
                };
                match cached {
                    Some(code) => code,
                    None => {
                        self.tag_order.clear();
                        self.tag_order.extend(
                            (0..row.items.len())
                                .filter(|&k| matches!(row.items[k].val, Val::Tag(_))),
                        );
                        debug_assert_eq!(self.tag_order.len(), tags);
                        let key_of = |k: &usize| row.bytes(body, row.items[*k].key);
                        self.tag_order
                            .sort_unstable_by(|a, b| key_of(a).cmp(key_of(b)));
                        self.series.clear();
                        escape_measurement(&mut self.series, t.name.as_bytes());
                        for &k in &self.tag_order {
                            let Val::Tag(v) = row.items[k].val else {
                                unreachable!("tag_order holds tags")
                            };
                            self.series.push(b',');
                            escape_tag(&mut self.series, row.bytes(body, row.items[k].key));
                            self.series.push(b'=');
                            escape_tag(&mut self.series, row.bytes(body, v));
                        }
                        let code = t.interner.intern(&self.series);
                        if row.series_raw.is_some() {
                            t.series_code = code;
                        }
                        code
                    }
                }
            };
            t.columns[KEY].push_code(code);
        }
        let written = row.items.len() + 2 - has_symbol as usize;
        t.end_row(written, origin);
        self.rows += 1;
        Ok(())
    }

    /// The finished tables with at least one row, in order of first appearance.
    pub fn finish(self) -> Vec<DecodedTable> {
        self.tables
            .into_iter()
            .filter(|t| t.rows > 0)
            .map(TableBuilder::finish)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interner_returns_one_code_per_distinct_string_across_growth() {
        let mut i = Interner::default();
        let words: Vec<String> = (0..5000).map(|n| format!("w{n}")).collect();
        let codes: Vec<u32> = words.iter().map(|w| i.intern(w.as_bytes())).collect();
        for (n, w) in words.iter().enumerate() {
            assert_eq!(codes[n], n as u32);
            assert_eq!(i.intern(w.as_bytes()), n as u32);
            assert_eq!(i.get(n as u32), w);
        }
        assert_eq!(i.intern(b""), 5000);
        assert_eq!(i.intern(b""), 5000);
        assert_eq!(i.len(), 5001);
    }

    #[test]
    fn truncate_undoes_columns_rows_and_dictionary_entries() {
        let mut t = TableBuilder::new("m".into());
        t.columns[TS].push_i64(1);
        let code = t.intern_for(KEY, b"a");
        t.columns[KEY].push_code(code);
        t.end_row(2, Location::Row { row: 0 });
        let c = t.add_column(b"x", ColumnType::String);
        t.columns[TS].push_i64(2);
        let code = t.intern_for(KEY, b"b");
        t.columns[KEY].push_code(code);
        t.columns[c].push_str(b"hello");
        t.end_row(3, Location::Row { row: 1 });
        t.truncate(1, 2);
        let d = t.finish();
        d.check_invariants();
        assert_eq!(d.rows(), 1);
        assert_eq!(d.batch.symbols, vec!["a".to_string()]);
        assert_eq!(d.batch.columns.len(), 2);
    }
}
