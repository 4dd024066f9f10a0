//! Group-by machinery without per-group allocation: a Fx-hashed index over fixed-width key
//! codes, key columns built in place, time buckets walked as runs, and merging of shard partials.
//!
//! A fragment turns each group key into `width` u64 codes (one per key column plus a null
//! mask word) and finds its group in a [`GroupIndex`]: open addressing over one flat code
//! vector, so a new group costs no allocation beyond amortized vector growth. The key values a
//! result needs are appended to typed [`Column`]s when the group is made ([`push_key`]). The
//! merge ([`merge_partials`]) concatenates partials whose groups cannot overlap (a key is the
//! shard key) and otherwise folds every partial into the largest one through a row-hash index
//! over its key columns, without rebuilding it.

use std::hash::{BuildHasher, Hasher};

use storage::{FxBuildHasher, FxHasher, Values};

use crate::agg::canonical_bits;
use crate::error::{Result, SqlError};
use crate::exec::{AggSpec, Groups};
use crate::expr::{Expr, Func};
use crate::types::{BaseType, Column, Value};
use crate::vector::{Col, Vector};

/// Finds groups by their key codes. Keys are `width` words each, stored back to back.
#[derive(Debug, Clone)]
pub struct GroupIndex {
    width: usize,
    /// Group `g`'s key is `keys[g * width..(g + 1) * width]`.
    keys: Vec<u64>,
    /// Group + 1, or 0 for an empty slot; the length is a power of two (or 0).
    slots: Vec<u32>,
    hasher: FxBuildHasher,
    /// The group found last: consecutive runs and blocks often continue it.
    last: Option<u32>,
}

impl GroupIndex {
    pub fn new(width: usize) -> GroupIndex {
        GroupIndex {
            width,
            keys: Vec::new(),
            slots: Vec::new(),
            hasher: FxBuildHasher::default(),
            last: None,
        }
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.keys
            .len()
            .checked_div(self.width)
            .unwrap_or(self.len_width0())
    }

    fn len_width0(&self) -> usize {
        // With no key words every key is the same (the empty key): at most one group.
        usize::from(self.last.is_some())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held (for the query memory bound).
    pub fn heap_bytes(&self) -> usize {
        self.keys.capacity() * 8 + self.slots.capacity() * 4
    }

    #[inline]
    fn hash(&self, key: &[u64]) -> u64 {
        let mut h: FxHasher = self.hasher.build_hasher();
        for &w in key {
            h.write_u64(w);
        }
        h.finish()
    }

    /// The group with this key, and whether it was just made (groups are numbered 0, 1, ..
    /// in order of first appearance).
    #[inline]
    pub fn find_or_insert(&mut self, key: &[u64]) -> (usize, bool) {
        debug_assert_eq!(key.len(), self.width);
        if self.width == 0 {
            let new = self.last.is_none();
            self.last = Some(0);
            return (0, new);
        }
        if let Some(g) = self.last {
            let g = g as usize;
            if words_eq(&self.keys[g * self.width..(g + 1) * self.width], key) {
                return (g, false);
            }
        }
        let groups = self.keys.len() / self.width;
        if (groups + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut at = self.hash(key) as usize & mask;
        loop {
            match self.slots[at] {
                0 => {
                    assert!(groups < u32::MAX as usize, "more than 2^32 - 1 groups");
                    self.slots[at] = groups as u32 + 1;
                    self.keys.extend_from_slice(key);
                    self.last = Some(groups as u32);
                    return (groups, true);
                }
                s => {
                    let g = (s - 1) as usize;
                    if words_eq(&self.keys[g * self.width..(g + 1) * self.width], key) {
                        self.last = Some(g as u32);
                        return (g, false);
                    }
                }
            }
            at = (at + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(64);
        self.slots.clear();
        self.slots.resize(size, 0);
        let mask = size - 1;
        for g in 0..self.keys.len() / self.width {
            let mut at =
                self.hash(&self.keys[g * self.width..(g + 1) * self.width]) as usize & mask;
            while self.slots[at] != 0 {
                at = (at + 1) & mask;
            }
            self.slots[at] = g as u32 + 1;
        }
    }
}

/// Key equality for a few words: an inlined loop, not a `memcmp` call.
#[inline(always)]
fn words_eq(a: &[u64], b: &[u64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Appends row `row` of `col` (a group key) to the key column `out`, without allocating for
/// strings. Gives the same column as `out.push(&col.value(row))`.
pub fn push_key(out: &mut Column, col: &Col<'_>, row: usize) {
    if !col.is_valid(row) {
        out.data.push_nulls(1);
        return;
    }
    let pushed = match (&mut out.data.values, &col.v) {
        (Values::I64(d), Vector::I64(v)) => {
            d.push(v[row]);
            true
        }
        (Values::U64(d), Vector::U64(v)) => {
            d.push(v[row]);
            true
        }
        (Values::F64(d), Vector::F64(v)) => {
            d.push(v[row]);
            true
        }
        (Values::Bool(d), Vector::Bool(v)) if out.ty.base == BaseType::Bool => {
            d.push(v[row]);
            true
        }
        (Values::Str(d), Vector::Str(s)) => {
            d.push(s.get(row));
            true
        }
        (Values::Str(d), Vector::Sym(v, dict)) => {
            d.push(dict.get(v[row]).unwrap_or("").as_bytes());
            true
        }
        _ => false,
    };
    if pushed {
        if let Some(b) = &mut out.data.validity {
            b.push(true);
        }
    } else {
        out.push(&col.value(row));
    }
}

/// Appends `x` (a bucket start) to the key column `out` as `out.push(&Value::Int(x))` would.
pub fn push_key_i64(out: &mut Column, x: i64) {
    match &mut out.data.values {
        Values::I64(d) => {
            d.push(x);
            if let Some(b) = &mut out.data.validity {
                b.push(true);
            }
        }
        _ => out.push(&if out.ty.base == BaseType::DateTime64 {
            Value::Ts(x)
        } else {
            Value::Int(x)
        }),
    }
}

/// A monotone time bucket: `xbar`, `toStartOfInterval` and friends over a sorted timestamp.
/// Every bucket is an interval of timestamps, so in a time-sorted block its rows are one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// `⌊t / step⌋ · step` (Func::Xbar).
    Xbar(i64),
    /// `⌊(t − offset) / step⌋ · step + offset` (Func::XbarOffset: weeks from Monday).
    Offset { step: i64, offset: i64 },
    /// Steps counted from each midnight (Func::XbarInDay: hours that do not divide a day).
    InDay(i64),
}

const NS_PER_DAY: i64 = 86_400_000_000_000;

impl Bucket {
    /// Recognizes `func(<chunk column>, <positive integer literal>)`; returns the column.
    pub fn of(e: &Expr) -> Option<(usize, Bucket)> {
        let Expr::Func { func, args, .. } = e else {
            return None;
        };
        let [Expr::Column { index, .. }, step] = args.as_slice() else {
            return None;
        };
        if !step.is_constant() {
            return None;
        }
        let step = match step.eval_constant().ok()? {
            Value::Int(s) => s,
            Value::UInt(s) => i64::try_from(s).ok()?,
            _ => return None,
        };
        if step <= 0 {
            return None;
        }
        let b = match func {
            Func::Xbar => Bucket::Xbar(step),
            Func::XbarOffset(offset) => Bucket::Offset {
                step,
                offset: *offset,
            },
            Func::XbarInDay => Bucket::InDay(step),
            _ => return None,
        };
        Some((*index, b))
    }

    /// The bucket of `t`: the same value the scalar function computes.
    #[inline]
    pub fn start(self, t: i64) -> i64 {
        match self {
            Bucket::Xbar(s) => t.wrapping_sub(t.rem_euclid(s)),
            Bucket::Offset { step, offset } => t
                .wrapping_sub(offset)
                .div_euclid(step)
                .wrapping_mul(step)
                .wrapping_add(offset),
            Bucket::InDay(s) => {
                let day = t.div_euclid(NS_PER_DAY).wrapping_mul(NS_PER_DAY);
                day.wrapping_add(t.wrapping_sub(day).div_euclid(s).wrapping_mul(s))
            }
        }
    }

    /// The first timestamp after `t` in a later bucket, or `None` past `i64::MAX`.
    #[inline]
    fn next(self, t: i64) -> Option<i64> {
        let start = self.start(t);
        match self {
            Bucket::Xbar(s) | Bucket::Offset { step: s, .. } => start.checked_add(s),
            Bucket::InDay(s) => {
                let day = t.div_euclid(NS_PER_DAY).wrapping_mul(NS_PER_DAY);
                let end = start.checked_add(s)?;
                Some(end.min(day.checked_add(NS_PER_DAY)?))
            }
        }
    }

    /// Clears `out` and fills it with `(bucket, start, end)` runs covering the sorted `ts`.
    ///
    /// Each run's end is found by a forward walk one cache line (8 rows) at a time. That
    /// reads the whole column, but sequentially: the prefetcher streams it alongside the
    /// aggregated columns, where skipping ahead (`kernels::bucket_runs`) becomes a chain of
    /// cache misses on a cold block.
    pub fn runs(self, ts: &[i64], out: &mut Vec<(i64, u32, u32)>) {
        out.clear();
        debug_assert!(ts.windows(2).all(|w| w[0] <= w[1]), "timestamps not sorted");
        let len = ts.len();
        let mut i = 0;
        while i < len {
            let b = self.start(ts[i]);
            let end = match self.next(ts[i]) {
                Some(next) => {
                    let mut j = i + 1;
                    while j + 8 <= len && ts[j + 7] < next {
                        j += 8;
                    }
                    while j < len && ts[j] < next {
                        j += 1;
                    }
                    j
                }
                None => len,
            };
            out.push((b, i as u32, end as u32));
            i = end;
        }
    }
}

/// Hash of row `r` of the key columns (floats by canonical bits, like the fragments' codes).
fn row_hash(hasher: &FxBuildHasher, cols: &[Column], r: usize) -> u64 {
    let mut h: FxHasher = hasher.build_hasher();
    for c in cols {
        if !c.data.is_valid(r) {
            h.write_u64(0x6e75_6c6c);
            continue;
        }
        h.write_u8(1);
        match &c.data.values {
            Values::I64(v) => h.write_u64(v[r] as u64),
            Values::U64(v) => h.write_u64(v[r]),
            Values::F64(v) => h.write_u64(canonical_bits(v[r])),
            Values::Bool(v) => h.write_u8(v[r]),
            Values::Str(s) => h.write(s.get(r)),
            Values::Sym(v) => h.write_u32(v[r]),
        }
    }
    h.finish()
}

fn rows_eq(a: &[Column], ra: usize, b: &[Column], rb: usize) -> bool {
    a.iter().zip(b).all(|(x, y)| {
        match (x.data.is_valid(ra), y.data.is_valid(rb)) {
            (false, false) => return true,
            (true, true) => {}
            _ => return false,
        }
        match (&x.data.values, &y.data.values) {
            (Values::I64(p), Values::I64(q)) => p[ra] == q[rb],
            (Values::U64(p), Values::U64(q)) => p[ra] == q[rb],
            (Values::F64(p), Values::F64(q)) => canonical_bits(p[ra]) == canonical_bits(q[rb]),
            (Values::Bool(p), Values::Bool(q)) => p[ra] == q[rb],
            (Values::Str(p), Values::Str(q)) => p.get(ra) == q.get(rb),
            (Values::Sym(p), Values::Sym(q)) => p[ra] == q[rb],
            _ => false,
        }
    })
}

fn too_many(limit: usize) -> SqlError {
    SqlError::LimitExceeded {
        what: "groups (max_result_rows)",
        limit: limit as u64,
    }
}

/// Combines fragment partials into one group table. Partials that are marked disjoint (a
/// key is the shard key, so no two shards share a group) are concatenated; otherwise the
/// largest partial is kept and the others are folded into it through one index over its keys.
pub fn merge_partials(
    spec: &AggSpec,
    mut partials: Vec<Groups>,
    max_groups: usize,
) -> Result<Groups> {
    let aggs = spec.aggs.len();
    let total: usize = partials.iter().map(|p| p.len).sum();
    if partials.is_empty() {
        return Ok(Groups::empty(spec));
    }
    let largest = (0..partials.len())
        .max_by_key(|&i| partials[i].len)
        .expect("not empty");
    let mut out = partials.swap_remove(largest);
    if partials.iter().all(|p| p.len == 0) {
        if out.len > max_groups {
            return Err(too_many(max_groups));
        }
        return Ok(out);
    }
    if out.disjoint && partials.iter().all(|p| p.disjoint) {
        if total > max_groups {
            return Err(too_many(max_groups));
        }
        out.states.reserve(total * aggs - out.states.len());
        for p in partials {
            for (o, k) in out.keys.iter_mut().zip(&p.keys) {
                o.data.extend_from(&k.data);
            }
            out.states.extend(p.states);
            out.len += p.len;
        }
        return Ok(out);
    }
    if out.keys.is_empty() {
        // No key columns: at most one group per partial, all the same group.
        for p in partials.into_iter().filter(|p| p.len > 0) {
            if out.len == 0 {
                out = p;
                continue;
            }
            for ((s, other), call) in out.states.iter_mut().zip(p.states).zip(&spec.aggs) {
                s.merge(call, other);
            }
        }
        return Ok(out);
    }
    let hasher = FxBuildHasher::default();
    let mut size = (total * 2).next_power_of_two().max(64);
    let mut slots: Vec<u32> = vec![0; size];
    let mut mask = size - 1;
    let insert = |slots: &mut Vec<u32>, mask: usize, h: u64, g: usize| {
        let mut at = h as usize & mask;
        while slots[at] != 0 {
            at = (at + 1) & mask;
        }
        slots[at] = g as u32 + 1;
    };
    for g in 0..out.len {
        insert(&mut slots, mask, row_hash(&hasher, &out.keys, g), g);
    }
    for p in partials {
        let mut new_rows: Vec<u32> = Vec::new();
        let mut p_states = p.states.into_iter();
        for r in 0..p.len {
            let h = row_hash(&hasher, &p.keys, r);
            let mut at = h as usize & mask;
            let found = loop {
                match slots[at] {
                    0 => break None,
                    s => {
                        let g = (s - 1) as usize;
                        if g < out.len && rows_eq(&out.keys, g, &p.keys, r) {
                            break Some(g);
                        }
                    }
                }
                at = (at + 1) & mask;
            };
            match found {
                Some(g) => {
                    for (s, call) in out.states[g * aggs..(g + 1) * aggs]
                        .iter_mut()
                        .zip(&spec.aggs)
                    {
                        s.merge(call, p_states.next().expect("states per group"));
                    }
                }
                None => {
                    // Reserve the slot now; the key row is appended after this partial.
                    let g = out.len + new_rows.len();
                    if g >= max_groups {
                        return Err(too_many(max_groups));
                    }
                    if (g + 1) * 2 > size {
                        size *= 2;
                        mask = size - 1;
                        slots = vec![0; size];
                        for (i, k) in (0..out.len)
                            .chain(new_rows.iter().map(|&x| x as usize))
                            .enumerate()
                        {
                            let h = if i < out.len {
                                row_hash(&hasher, &out.keys, k)
                            } else {
                                row_hash(&hasher, &p.keys, k)
                            };
                            insert(&mut slots, mask, h, i);
                        }
                    }
                    insert(&mut slots, mask, h, g);
                    new_rows.push(r as u32);
                    out.states.extend(p_states.by_ref().take(aggs));
                }
            }
        }
        // Rows found among `new_rows` of this same partial cannot happen: within one partial
        // every key is distinct, and `g < out.len` keeps lookups to merged rows.
        for (o, k) in out.keys.iter_mut().zip(&p.keys) {
            o.data.gather_from(&k.data, &new_rows);
        }
        out.len += new_rows.len();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_finds_what_it_inserted() {
        let mut ix = GroupIndex::new(2);
        for i in 0..10_000u64 {
            assert_eq!(ix.find_or_insert(&[i % 97, i / 97]), (i as usize, true));
        }
        for i in (0..10_000u64).rev() {
            assert_eq!(ix.find_or_insert(&[i % 97, i / 97]), (i as usize, false));
        }
        assert_eq!(ix.len(), 10_000);
        let mut empty = GroupIndex::new(0);
        assert!(empty.is_empty());
        assert_eq!(empty.find_or_insert(&[]), (0, true));
        assert_eq!(empty.find_or_insert(&[]), (0, false));
        assert_eq!(empty.len(), 1);
    }

    #[test]
    fn bucket_runs_match_the_scalar_bucket() {
        let day = NS_PER_DAY;
        let buckets = [
            Bucket::Xbar(60_000_000_000),
            Bucket::Xbar(7),
            Bucket::Offset {
                step: 7 * day,
                offset: 4 * day,
            },
            Bucket::InDay(7 * 3_600_000_000_000),
            Bucket::InDay(5),
        ];
        let mut seed = 0x1234_5678_9abc_def1u64;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for b in buckets {
            for len in [0usize, 1, 2, 9, 300] {
                let mut ts: Vec<i64> = (0..len)
                    .map(|_| (rnd() % (3 * day as u64)) as i64 - day)
                    .collect();
                if len > 5 {
                    ts[3] = ts[2];
                }
                ts.sort_unstable();
                let mut runs = Vec::new();
                b.runs(&ts, &mut runs);
                let mut next = 0;
                for &(start, lo, hi) in &runs {
                    assert_eq!(lo as usize, next);
                    assert!(hi > lo);
                    for &t in &ts[lo as usize..hi as usize] {
                        assert_eq!(b.start(t), start, "{b:?} at {t}");
                    }
                    if (hi as usize) < ts.len() {
                        assert_ne!(b.start(ts[hi as usize]), start);
                    }
                    next = hi as usize;
                }
                assert_eq!(next, ts.len());
            }
        }
    }
}

/// The fast grouping paths (per-block symbol keys, bucket runs, concatenating merge) against
/// the general row path, through whole queries over random data.
#[cfg(test)]
mod fast_path_tests {
    use crate::db::{Database, Output};
    use crate::exec::{ROW_PATH_ONLY, RUN_PATH_CHUNKS};
    use crate::Value;
    use storage::{FsyncPolicy, ShardConfig};

    const T0: i64 = 1_795_132_800_000_000_000;
    const SYMBOLS: [&str; 5] = ["AAPL", "MSFT", "GOOG", "AMZN", "TSLA"];

    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    fn rows(db: &Database, q: &str) -> Vec<Vec<Value>> {
        match db.execute(q).unwrap_or_else(|e| panic!("{q}: {e}")) {
            Output::Rows { result, .. } => (0..result.rows()).map(|r| result.row(r)).collect(),
            other => panic!("{other:?}"),
        }
    }

    fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Float(x), Value::Float(y)) => {
                x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
            }
            _ => a == b,
        }
    }

    const AGGS: &str = "count(), count(price), sum(volume), min(price), max(price), \
        first(price), last(price), vwap(price, volume), avg(price), sum(price), \
        argMax(volume, timestamp), uniq(volume), quantile(0.5)(price)";

    fn queries() -> Vec<String> {
        let mut q = Vec::new();
        for bar in [
            "xbar(timestamp, 60000000000)",
            "toStartOfMinute(timestamp)",
            "toStartOfInterval(timestamp, INTERVAL 7 MINUTE)",
            "toStartOfInterval(timestamp, INTERVAL 5 HOUR)",
            "toStartOfInterval(timestamp, INTERVAL 1 WEEK)",
        ] {
            for filter in [
                "",
                "WHERE price > 100",
                "WHERE symbol = 'MSFT'",
                "WHERE volume > 95",
            ] {
                q.push(format!(
                    "SELECT symbol, {bar} AS bar, {AGGS} FROM t {filter} GROUP BY symbol, bar ORDER BY symbol, bar"
                ));
                q.push(format!(
                    "SELECT {bar} AS bar, symbol, {AGGS} FROM t {filter} GROUP BY bar, symbol ORDER BY bar, symbol"
                ));
                q.push(format!(
                    "SELECT {bar} AS bar, {AGGS} FROM t {filter} GROUP BY bar ORDER BY bar"
                ));
            }
        }
        for filter in [
            "",
            "WHERE price > 100",
            "WHERE symbol IN ('AAPL', 'TSLA')",
            "WHERE volume > 1000",
        ] {
            q.push(format!(
                "SELECT symbol, {AGGS} FROM t {filter} GROUP BY symbol ORDER BY symbol"
            ));
            q.push(format!("SELECT {AGGS} FROM t {filter}"));
            q.push(format!(
                "SELECT symbol, volume % 3 AS m, {AGGS} FROM t {filter} GROUP BY symbol, m ORDER BY symbol, m"
            ));
        }
        q
    }

    #[test]
    fn fast_paths_equal_the_row_path_on_random_data() {
        let queries = queries();
        for seed in 1..=12u64 {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ seed.wrapping_mul(0x1234_5678_9abc_def1));
            let shards = 1 + rng.below(3) as usize;
            let block_rows = 3 + rng.below(60) as usize;
            let dir = tempfile::tempdir().unwrap();
            let db = Database::open(dir.path(), shards, || ShardConfig {
                fsync: FsyncPolicy::Never,
                block_rows,
                ..ShardConfig::default()
            })
            .unwrap();
            db.execute(
                "CREATE TABLE t (timestamp DateTime64(9), symbol LowCardinality(String), \
                 price Nullable(Float64), volume Nullable(Int64))",
            )
            .unwrap();
            // Rows in random time order (so blocks of one symbol overlap in time and buckets
            // span block boundaries), unique timestamps, NULLs in both measures.
            let n = rng.below(if seed == 1 { 1 } else { 700 }) as usize;
            let mut values: Vec<String> = (0..n)
                .map(|i| {
                    let ts = T0 + rng.below(3 * 3600) as i64 * 1_000_000_000 + i as i64;
                    let sym = SYMBOLS[rng.below(SYMBOLS.len() as u64) as usize];
                    let price = if rng.below(5) == 0 {
                        "NULL".to_string()
                    } else {
                        format!("{}.{:02}", 50 + rng.below(100), rng.below(100))
                    };
                    let volume = if rng.below(10) == 0 {
                        "NULL".to_string()
                    } else {
                        (1 + rng.below(100)).to_string()
                    };
                    format!("({ts}, '{sym}', {price}, {volume})")
                })
                .collect();
            // Some rows again in a later batch: out of order relative to sealed blocks.
            values.rotate_left(n / 3);
            let mut at = 0;
            while at < values.len() {
                let take = (1 + rng.below(80) as usize).min(values.len() - at);
                db.execute(&format!(
                    "INSERT INTO t VALUES {}",
                    values[at..at + take].join(", ")
                ))
                .unwrap();
                at += take;
            }
            let fast_before = RUN_PATH_CHUNKS.with(std::cell::Cell::get);
            for q in &queries {
                ROW_PATH_ONLY.with(|c| c.set(true));
                let want = rows(&db, q);
                ROW_PATH_ONLY.with(|c| c.set(false));
                let got = rows(&db, q);
                assert_eq!(
                    got.len(),
                    want.len(),
                    "seed {seed}, {shards} shards, blocks of {block_rows}: {q}"
                );
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        g.len() == w.len() && g.iter().zip(w).all(|(a, b)| same(a, b)),
                        "seed {seed}, {shards} shards, blocks of {block_rows}: {q}\nfast: {g:?}\nrows: {w:?}"
                    );
                }
            }
            if n > 0 {
                assert!(
                    RUN_PATH_CHUNKS.with(std::cell::Cell::get) > fast_before,
                    "the run path never ran"
                );
            }
        }
    }
}
