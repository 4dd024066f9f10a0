//! Execution: per-shard fragments (scan → filter → partial aggregate or projection) and the
//! merge step (combine partials → HAVING → projection → DISTINCT → ORDER BY → LIMIT).

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};

use storage::{FxHashMap, ScanSpec, Shard};

use crate::agg::{canonical_bits, AggCall, AggFunc, AggState, KeyPart};
use crate::error::{Result, SqlError};
use crate::expr::{compare_values, truthy, Expr};
use crate::group::{merge_partials, push_key, push_key_i64, Bucket, GroupIndex};
use crate::types::{Column, DataType, ResultSet, Value};
use crate::vector::{Col, Vector};

/// Which keys (symbols) a fragment reads.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyFilter {
    All,
    Symbols(Vec<String>),
    Ints(Vec<i64>),
}

/// Bounds every query runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// Most rows a result (or a fragment's partial result) may hold.
    pub max_result_rows: usize,
    /// Most bytes of grouping and aggregate state per fragment and in the merge.
    pub max_memory_bytes: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits {
            max_result_rows: 10_000_000,
            max_memory_bytes: 4 << 30,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AggSpec {
    pub keys: Vec<Expr>,
    pub aggs: Vec<AggCall>,
}

/// `ORDER BY <first key> LIMIT n` pushed into fragments: each keeps only rows that can still
/// be among the first `n` by that key (ties included, so later keys decide at the merge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopN {
    /// Index into the projected expressions of the first ORDER BY key.
    pub expr: usize,
    pub asc: bool,
    pub n: usize,
}

/// What a fragment does with its filtered rows.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    Aggregate(AggSpec),
    /// Evaluate these expressions; stop after `limit` rows if set (no ORDER BY above); keep
    /// only candidate rows if `top` is set.
    Project {
        exprs: Vec<Expr>,
        limit: Option<usize>,
        top: Option<TopN>,
    },
}

/// Rows of `key` that can be among the first `n` in the given direction, ascending by row.
/// Ties with the n-th value are kept. NULL keys sort last, so they are kept only if fewer than
/// `n` rows are non-NULL.
pub fn top_candidates(key: &Col<'_>, n: usize, asc: bool) -> Vec<u32> {
    let len = key.len();
    if n == 0 {
        return Vec::new();
    }
    if len <= n {
        return (0..len as u32).collect();
    }
    let valid: Vec<u32> = (0..len as u32)
        .filter(|&i| key.is_valid(i as usize))
        .collect();
    if valid.len() < n {
        return (0..len as u32).collect();
    }
    fn pick<T: Copy>(
        v: &[T],
        rows: Vec<u32>,
        n: usize,
        asc: bool,
        cmp: impl Fn(&T, &T) -> std::cmp::Ordering,
    ) -> Vec<u32> {
        let ord = |a: &u32, b: &u32| {
            let o = cmp(&v[*a as usize], &v[*b as usize]);
            if asc {
                o
            } else {
                o.reverse()
            }
        };
        // Already ordered data (time columns of scanned blocks) needs no selection: the first n
        // rows in the wanted direction, or the last n when the data runs the other way.
        let ascending = rows
            .windows(2)
            .all(|w| cmp(&v[w[0] as usize], &v[w[1] as usize]) != std::cmp::Ordering::Greater);
        let threshold = if ascending && asc {
            v[rows[n - 1] as usize]
        } else if ascending {
            v[rows[rows.len() - n] as usize]
        } else {
            let mut r = rows.clone();
            r.select_nth_unstable_by(n - 1, ord);
            v[r[n - 1] as usize]
        };
        rows.into_iter()
            .filter(|&i| {
                let o = cmp(&v[i as usize], &threshold);
                let o = if asc { o } else { o.reverse() };
                o != std::cmp::Ordering::Greater
            })
            .collect()
    }
    match &key.v {
        Vector::I64(v) => pick(v, valid, n, asc, |a, b| a.cmp(b)),
        Vector::U64(v) => pick(v, valid, n, asc, |a, b| a.cmp(b)),
        Vector::F64(v) => pick(v, valid, n, asc, |a, b| a.total_cmp(b)),
        _ => {
            let vals: Vec<Value> = (0..len).map(|i| key.value(i)).collect();
            let positions: Vec<usize> = (0..len).collect();
            pick(&positions, valid, n, asc, |a, b| {
                compare_values(&vals[*a], &vals[*b]).unwrap_or(std::cmp::Ordering::Equal)
            })
        }
    }
}

/// The per-shard part of a query over a stored table.
#[derive(Debug, Clone, PartialEq)]
pub struct Fragment {
    pub table: String,
    /// Schema positions read; chunk column `i` is schema column `columns[i]`.
    pub columns: Vec<usize>,
    /// Chunk column holding the designated timestamp (orders first/last), if read.
    pub ts_column: Option<usize>,
    pub keys: KeyFilter,
    pub ts_min: i64,
    pub ts_max: i64,
    pub filter: Option<Expr>,
    pub work: Work,
    pub limits: QueryLimits,
}

/// Group keys and partial aggregate states, columnar: group `g` is row `g` of every key
/// column and `states[g * aggs..(g + 1) * aggs]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Groups {
    /// One column per GROUP BY key, one row per group.
    pub keys: Vec<Column>,
    pub states: Vec<AggState>,
    /// Number of groups.
    pub len: usize,
    /// Whether a key is the table's shard key, so groups of different shards never share a
    /// key and the merge may concatenate them.
    pub disjoint: bool,
}

impl Groups {
    pub fn empty(spec: &AggSpec) -> Groups {
        Groups {
            keys: spec.keys.iter().map(|k| Column::new("", k.ty())).collect(),
            states: Vec::new(),
            len: 0,
            disjoint: false,
        }
    }

    /// Asserts the shape every producer keeps (tests).
    pub fn check_invariants(&self, spec: &AggSpec) {
        assert_eq!(self.keys.len(), spec.keys.len(), "key columns");
        assert!(self.keys.iter().all(|k| k.len() == self.len), "key rows");
        assert_eq!(self.states.len(), self.len * spec.aggs.len(), "states");
    }
}

/// Where chunks come from, for the grouping fast paths: a scan hands over one key's rows
/// per chunk, sorted by time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChunkHints {
    /// Chunk column holding the shard key: constant within every chunk.
    pub key_column: Option<usize>,
    /// Chunk column holding the designated timestamp: sorted within every chunk, no NULLs.
    pub ts_column: Option<usize>,
}

#[cfg(test)]
thread_local! {
    /// Tests set this to run every grouping through the general row path (no chunk hints,
    /// no concatenating merge), the reference the fast paths are compared with.
    pub(crate) static ROW_PATH_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Chunks the run path aggregated (tests check the fast path really ran).
    pub(crate) static RUN_PATH_CHUNKS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How one GROUP BY key is computed per chunk.
#[derive(Debug, Clone, Copy, PartialEq)]
enum KeyKind {
    /// The shard-key column: one value per chunk, no per-row work.
    Constant(usize),
    /// A time bucket of the sorted timestamp column: runs, not rows.
    Bucket(usize, Bucket),
    /// Anything else: evaluated and coded per row.
    General,
}

/// What a fragment sends back to the merging core.
#[derive(Debug, Clone, PartialEq)]
pub enum Partial {
    Groups(Groups),
    Rows(Vec<Column>),
}

/// Counters a fragment reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FragmentStats {
    pub rows_read: u64,
    pub bytes_read: u64,
    pub blocks_read: u64,
    pub blocks_pruned: u64,
    /// Rows that passed the filter into a projection (not aggregation), counted before any
    /// pushed-down LIMIT or top-N kept fewer: the fragment's share of
    /// `rows_before_limit_at_least` (a lower bound once a plain LIMIT stopped the scan early).
    pub rows_matched: u64,
}

/// Runs filter + work over a stream of chunks.
pub struct Pipeline<'w> {
    filter: Option<&'w Expr>,
    work: &'w Work,
    limits: QueryLimits,
    // Aggregation state.
    /// Per GROUP BY key, how it is computed.
    kinds: Vec<KeyKind>,
    /// Key codes (one word per key, then a null mask) → group number.
    group_index: GroupIndex,
    groups: Groups,
    strings: FxHashMap<Box<[u8]>, u64>,
    /// Symbol id → string code. A pipeline reads one shard, so one dictionary.
    sym_codes: FxHashMap<u32, u64>,
    /// Per-key-column code vectors, reused across chunks.
    code_scratch: Vec<Vec<u64>>,
    /// Bucket runs of the current chunk, reused.
    run_scratch: Vec<(i64, u32, u32)>,
    /// Bytes of fixed-size group state (keys, states, index), kept as groups are made.
    state_bytes: usize,
    // Projection state.
    out: Vec<Column>,
    rows_out: usize,
    /// Rows that passed the filter into the projection (see `FragmentStats::rows_matched`).
    rows_matched: u64,
    /// Position of the next row, for first/last over sources without timestamps.
    row_counter: i64,
    /// Whether any aggregate needs row order (first, last, any, anyLast).
    needs_order: bool,
}

impl<'w> Pipeline<'w> {
    pub fn new(filter: Option<&'w Expr>, work: &'w Work, limits: QueryLimits) -> Pipeline<'w> {
        Pipeline::with_hints(filter, work, limits, ChunkHints::default())
    }

    /// A pipeline over chunks that keep `hints` (a scan's blocks).
    pub fn with_hints(
        filter: Option<&'w Expr>,
        work: &'w Work,
        limits: QueryLimits,
        hints: ChunkHints,
    ) -> Pipeline<'w> {
        #[cfg(test)]
        let hints = if ROW_PATH_ONLY.with(std::cell::Cell::get) {
            ChunkHints::default()
        } else {
            hints
        };
        let (kinds, groups, width) = match work {
            Work::Aggregate(spec) => {
                let kinds: Vec<KeyKind> = spec
                    .keys
                    .iter()
                    .map(|k| match (k, Bucket::of(k)) {
                        (Expr::Column { index, .. }, _) if hints.key_column == Some(*index) => {
                            KeyKind::Constant(*index)
                        }
                        (_, Some((col, b))) if hints.ts_column == Some(col) => {
                            KeyKind::Bucket(col, b)
                        }
                        _ => KeyKind::General,
                    })
                    .collect();
                let mut groups = Groups::empty(spec);
                groups.disjoint = kinds.iter().any(|k| matches!(k, KeyKind::Constant(_)));
                let width = if spec.keys.is_empty() {
                    0
                } else {
                    spec.keys.len() + 1
                };
                (kinds, groups, width)
            }
            Work::Project { .. } => (Vec::new(), Groups::default(), 0),
        };
        let out = match work {
            Work::Project { exprs, .. } => exprs.iter().map(|e| Column::new("", e.ty())).collect(),
            Work::Aggregate(_) => Vec::new(),
        };
        Pipeline {
            filter,
            work,
            limits,
            kinds,
            group_index: GroupIndex::new(width),
            groups,
            strings: FxHashMap::default(),
            sym_codes: FxHashMap::default(),
            code_scratch: Vec::new(),
            run_scratch: Vec::new(),
            state_bytes: 0,
            out,
            rows_out: 0,
            rows_matched: 0,
            row_counter: 0,
            needs_order: matches!(work, Work::Aggregate(spec) if spec.aggs.iter().any(|a| matches!(a.func, AggFunc::First | AggFunc::Last | AggFunc::Any | AggFunc::AnyLast))),
        }
    }

    /// Processes one chunk of `len` rows. `order` gives row timestamps for first/last.
    pub fn push(
        &mut self,
        cols: &[Col<'_>],
        len: usize,
        order: Option<&[i64]>,
    ) -> Result<ControlFlow<()>> {
        if len == 0 {
            return Ok(ControlFlow::Continue(()));
        }
        let base = self.row_counter;
        self.row_counter += len as i64;
        // Scanned chunks come with their (sorted) timestamps; other sources are in row order.
        let sorted = order.is_some();
        let gathered: Vec<Col<'static>>;
        let gathered_order: Vec<i64>;
        let (cols, len, order): (&[Col<'_>], usize, Option<&[i64]>) = match self.filter {
            None => (cols, len, order),
            Some(f) => {
                let mask = f.eval(cols, len)?;
                let keep = truthy(&mask);
                let n = keep.iter().filter(|&&k| k != 0).count();
                if n == 0 {
                    return Ok(ControlFlow::Continue(()));
                }
                if n == len {
                    (cols, len, order)
                } else {
                    let idx: Vec<u32> = keep
                        .iter()
                        .enumerate()
                        .filter(|(_, &k)| k != 0)
                        .map(|(i, _)| i as u32)
                        .collect();
                    gathered = cols.iter().map(|c| c.gather(&idx)).collect();
                    gathered_order = match order {
                        Some(o) => idx.iter().map(|&i| o[i as usize]).collect(),
                        None => idx.iter().map(|&i| base + i as i64).collect(),
                    };
                    (&gathered, n, Some(&gathered_order))
                }
            }
        };
        let synthetic: Vec<i64>;
        let order = match order {
            Some(o) => o,
            None if self.needs_order => {
                synthetic = (base..base + len as i64).collect();
                &synthetic
            }
            None => &[],
        };
        match self.work {
            Work::Aggregate(spec) => {
                self.aggregate(spec, cols, len, order, sorted)?;
                Ok(ControlFlow::Continue(()))
            }
            Work::Project { exprs, limit, top } => {
                self.rows_matched += len as u64;
                if let Some(top) = top {
                    let key = exprs[top.expr].eval(cols, len)?;
                    let idx = top_candidates(&key, top.n, top.asc);
                    drop(key);
                    if idx.len() < len {
                        let picked: Vec<Col<'static>> =
                            cols.iter().map(|c| c.gather(&idx)).collect();
                        for (e, out) in exprs.iter().zip(self.out.iter_mut()) {
                            let c = e.eval(&picked, idx.len())?;
                            c.append_to(out, 0, idx.len());
                        }
                        self.rows_out += idx.len();
                        self.compact_top(*top);
                        return Ok(ControlFlow::Continue(()));
                    }
                }
                let take = match limit {
                    Some(l) => len.min(l.saturating_sub(self.rows_out)),
                    None => len,
                };
                for (e, out) in exprs.iter().zip(self.out.iter_mut()) {
                    let c = e.eval(cols, len)?;
                    c.append_to(out, 0, take);
                }
                self.rows_out += take;
                if let Some(top) = top {
                    self.compact_top(*top);
                }
                if self.rows_out > self.limits.max_result_rows {
                    return Err(SqlError::LimitExceeded {
                        what: "result rows (max_result_rows)",
                        limit: self.limits.max_result_rows as u64,
                    });
                }
                Ok(if limit.is_some_and(|l| self.rows_out >= l) {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                })
            }
        }
    }

    /// Keeps the collected rows bounded under a pushed-down top-N.
    fn compact_top(&mut self, top: TopN) {
        if self.rows_out <= (8 * top.n).max(65_536) {
            return;
        }
        let idx = top_candidates(
            &Col::from_result_column(&self.out[top.expr]),
            top.n,
            top.asc,
        );
        self.out = self
            .out
            .iter()
            .map(|c| Col::from_result_column(c).gather(&idx).into_column(""))
            .collect();
        self.rows_out = idx.len();
    }

    fn aggregate(
        &mut self,
        spec: &AggSpec,
        cols: &[Col<'_>],
        len: usize,
        order: &[i64],
        sorted: bool,
    ) -> Result<()> {
        let args: Vec<Vec<Col<'_>>> = spec
            .aggs
            .iter()
            .map(|a| {
                a.args
                    .iter()
                    .map(|e| e.eval(cols, len))
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<_>>()?;
        if spec.keys.is_empty() {
            let g = self.group_for(&[], spec, |_| {});
            self.update_group(spec, g, &args, order, sorted, 0, len);
            return self.check_memory();
        }
        if !self.aggregate_runs(spec, cols, len, &args, order, sorted) {
            self.aggregate_rows(spec, cols, len, &args, order, sorted)?;
        }
        self.check_memory()
    }

    /// Folds rows `lo..hi` into group `g`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn update_group(
        &mut self,
        spec: &AggSpec,
        g: usize,
        args: &[Vec<Col<'_>>],
        order: &[i64],
        sorted: bool,
        lo: usize,
        hi: usize,
    ) {
        let n = spec.aggs.len();
        for ((state, call), args) in self.groups.states[g * n..(g + 1) * n]
            .iter_mut()
            .zip(&spec.aggs)
            .zip(args)
        {
            state.update(call, args, order, sorted, lo, hi);
        }
    }

    /// The fast path for GROUP BY the shard key and at most one time bucket of the
    /// timestamp (in any order, each optional): the key is one value per scanned chunk and
    /// the chunk is sorted by time, so each bucket is one run of rows. Groups are looked up
    /// once per run, keys are never evaluated per row. Returns false, having done nothing,
    /// when the chunk does not qualify.
    fn aggregate_runs(
        &mut self,
        spec: &AggSpec,
        cols: &[Col<'_>],
        len: usize,
        args: &[Vec<Col<'_>>],
        order: &[i64],
        sorted: bool,
    ) -> bool {
        let mut bucket = None;
        for (k, kind) in self.kinds.iter().enumerate() {
            match *kind {
                KeyKind::Constant(c) => {
                    let col = &cols[c];
                    if col.valid.is_some()
                        || !matches!(col.v, Vector::Sym(..) | Vector::I64(_) | Vector::Str(_))
                    {
                        return false;
                    }
                }
                KeyKind::Bucket(c, b) => {
                    let col = &cols[c];
                    if bucket.is_some() || col.valid.is_some() || !matches!(col.v, Vector::I64(_)) {
                        return false;
                    }
                    bucket = Some((k, c, b));
                }
                KeyKind::General => return false,
            }
        }
        #[cfg(test)]
        RUN_PATH_CHUNKS.with(|c| c.set(c.get() + 1));
        let nk = self.kinds.len();
        // The codes the row path would make, so both paths find the same groups.
        let mut code = vec![0u64; nk + 1];
        // One small copy per chunk, so the key pushers can borrow it while `self` changes.
        let kinds = self.kinds.clone();
        for (word, kind) in code.iter_mut().zip(&kinds) {
            if let KeyKind::Constant(c) = *kind {
                *word = match &cols[c].v {
                    Vector::Sym(v, dict) => self.sym_code(v[0], dict),
                    Vector::I64(v) => v[0] as u64,
                    Vector::Str(sv) => intern(&mut self.strings, &mut self.state_bytes, sv.get(0)),
                    _ => unreachable!("checked above"),
                };
                debug_assert!(
                    cols[c].len() == len && (0..len).all(|i| cols[c].value(i) == cols[c].value(0)),
                    "the shard-key column is not constant over a scanned chunk"
                );
            }
        }
        let kinds = &kinds;
        let Some((bk, c, b)) = bucket else {
            let g = self.group_index.find_or_insert(&code);
            let g = self.made(g, spec, &code, |keys| {
                for (k, out) in keys.iter_mut().enumerate() {
                    if let KeyKind::Constant(c) = kinds[k] {
                        push_key(out, &cols[c], 0);
                    }
                }
            });
            self.update_group(spec, g, args, order, sorted, 0, len);
            return true;
        };
        let Vector::I64(ts) = &cols[c].v else {
            unreachable!("checked above")
        };
        let mut runs = std::mem::take(&mut self.run_scratch);
        b.runs(&ts[..len], &mut runs);
        for &(start, lo, hi) in &runs {
            code[bk] = start as u64;
            let g = self.group_index.find_or_insert(&code);
            let g = self.made(g, spec, &code, |keys| {
                for (k, out) in keys.iter_mut().enumerate() {
                    match kinds[k] {
                        // Constant over the chunk: row 0 is in cache, row `lo` may not be.
                        KeyKind::Constant(c) => push_key(out, &cols[c], 0),
                        _ => push_key_i64(out, start),
                    }
                }
            });
            self.update_group(spec, g, args, order, sorted, lo as usize, hi as usize);
        }
        self.run_scratch = runs;
        true
    }

    /// The general path: every key evaluated per row and turned into codes; consecutive equal
    /// keys are folded as runs.
    fn aggregate_rows(
        &mut self,
        spec: &AggSpec,
        cols: &[Col<'_>],
        len: usize,
        args: &[Vec<Col<'_>>],
        order: &[i64],
        sorted: bool,
    ) -> Result<()> {
        let keys: Vec<Col<'_>> = spec
            .keys
            .iter()
            .map(|k| k.eval(cols, len))
            .collect::<Result<_>>()?;
        // Codes per key column; equal codes ⇔ equal keys (strings are interned). A column that
        // is constant over the chunk (the symbol of a scanned block) is one code, not a vector.
        let nk = keys.len();
        let mut konst: Vec<Option<u64>> = vec![None; nk];
        let mut varying: Vec<usize> = Vec::new();
        let mut null_mask: Option<Vec<u64>> = None;
        let mut scratch = std::mem::take(&mut self.code_scratch);
        scratch.resize_with(nk, Vec::new);
        for (k, col) in keys.iter().enumerate() {
            let codes = &mut scratch[k];
            codes.clear();
            if col.valid.is_some() || matches!(col.v, Vector::Null(_)) {
                let mask = null_mask.get_or_insert_with(|| vec![0; len]);
                for (i, m) in mask.iter_mut().enumerate() {
                    if !col.is_valid(i) {
                        *m |= 1 << k;
                    }
                }
            }
            match &col.v {
                Vector::I64(v) => codes.extend(v.iter().map(|&x| x as u64)),
                Vector::U64(v) => codes.extend_from_slice(v),
                Vector::F64(v) => codes.extend(v.iter().map(|&x| canonical_bits(x))),
                Vector::Bool(v) => codes.extend(v.iter().map(|&x| x as u64)),
                // Symbols and strings share one code space (a filter turns symbol ids into
                // strings), so both go through the string table; ids are cached.
                Vector::Sym(v, dict) => {
                    let first = v[0];
                    // Branch-free per chunk so it vectorizes: a scanned block holds one symbol.
                    if v.chunks(256)
                        .all(|c| c.iter().fold(true, |all, &x| all & (x == first)))
                    {
                        let c = self.sym_code(v[0], dict);
                        konst[k] = Some(c);
                        continue;
                    }
                    let mut last = (u32::MAX, 0);
                    for &id in v.iter() {
                        if id != last.0 {
                            last = (id, self.sym_code(id, dict));
                        }
                        codes.push(last.1);
                    }
                }
                Vector::Str(sv) => {
                    for i in 0..len {
                        let c = intern(&mut self.strings, &mut self.state_bytes, sv.get(i));
                        codes.push(c);
                    }
                }
                Vector::Null(_) => {
                    konst[k] = Some(0);
                    continue;
                }
            }
            if let Some(m) = &null_mask {
                for (c, &mm) in codes.iter_mut().zip(m.iter()) {
                    if mm & (1 << k) != 0 {
                        *c = 0;
                    }
                }
            }
            varying.push(k);
        }
        let mut key = vec![0u64; nk + 1];
        let same = |a: usize, b: usize, scratch: &[Vec<u64>]| -> bool {
            varying.iter().all(|&k| scratch[k][a] == scratch[k][b])
                && null_mask.as_ref().is_none_or(|m| m[a] == m[b])
        };
        // Walk runs of equal keys (time-sorted blocks make xbar and symbol keys long runs).
        let mut start = 0;
        while start < len {
            let mut end = start + 1;
            if varying.len() == 1 && null_mask.is_none() {
                let c = &scratch[varying[0]];
                let v = c[start];
                while end < len && c[end] == v {
                    end += 1;
                }
            } else {
                while end < len && same(start, end, &scratch) {
                    end += 1;
                }
            }
            for k in 0..nk {
                key[k] = konst[k].unwrap_or_else(|| scratch[k][start]);
            }
            key[nk] = null_mask.as_ref().map_or(0, |m| m[start]);
            let found = self.group_index.find_or_insert(&key);
            let g = self.made(found, spec, &key, |out| {
                for (o, k) in out.iter_mut().zip(&keys) {
                    push_key(o, k, start);
                }
            });
            self.update_group(spec, g, args, order, sorted, start, end);
            start = end;
        }
        self.code_scratch = scratch;
        Ok(())
    }

    fn sym_code(&mut self, id: u32, dict: &storage::SymbolDict) -> u64 {
        if let Some(&c) = self.sym_codes.get(&id) {
            return c;
        }
        let c = intern(
            &mut self.strings,
            &mut self.state_bytes,
            dict.get(id).unwrap_or("").as_bytes(),
        );
        self.sym_codes.insert(id, c);
        c
    }

    /// Completes a lookup: a new group gets its key values (`push_keys`) and fresh states.
    #[inline]
    fn made(
        &mut self,
        (g, new): (usize, bool),
        spec: &AggSpec,
        code: &[u64],
        push_keys: impl FnOnce(&mut [Column]),
    ) -> usize {
        if new {
            debug_assert_eq!(g, self.groups.len);
            push_keys(&mut self.groups.keys);
            self.groups
                .states
                .extend(spec.aggs.iter().map(AggState::new));
            self.groups.len += 1;
            // Key words and index slot, key values, states.
            self.state_bytes += code.len() * 8
                + 8
                + spec.keys.len() * 16
                + spec.aggs.len() * std::mem::size_of::<AggState>();
        }
        g
    }

    /// The group with no key (aggregates without GROUP BY).
    fn group_for(
        &mut self,
        code: &[u64],
        spec: &AggSpec,
        push_keys: impl FnOnce(&mut [Column]),
    ) -> usize {
        let found = self.group_index.find_or_insert(code);
        self.made(found, spec, code, push_keys)
    }

    fn check_memory(&mut self) -> Result<()> {
        if self.groups.len > self.limits.max_result_rows {
            return Err(SqlError::LimitExceeded {
                what: "groups (max_result_rows)",
                limit: self.limits.max_result_rows as u64,
            });
        }
        // Only value lists and sets grow after a group exists; fixed-size states are counted
        // in `state_bytes` when the group is made, so most queries skip the walk.
        let growing = self
            .groups
            .states
            .iter()
            .take(self.groups.states.len().min(64))
            .any(|s| matches!(s, AggState::Values(_) | AggState::Set(_)));
        let bytes = self.state_bytes
            + if growing {
                self.groups
                    .states
                    .iter()
                    .map(AggState::heap_bytes)
                    .sum::<usize>()
            } else {
                0
            };
        if bytes > self.limits.max_memory_bytes {
            return Err(SqlError::LimitExceeded {
                what: "query memory (max_query_memory_bytes)",
                limit: self.limits.max_memory_bytes as u64,
            });
        }
        Ok(())
    }

    /// Rows that passed the filter into a projection so far.
    pub fn rows_matched(&self) -> u64 {
        self.rows_matched
    }

    pub fn finish(self) -> Partial {
        match self.work {
            Work::Aggregate(_) => Partial::Groups(self.groups),
            Work::Project { .. } => Partial::Rows(self.out),
        }
    }
}

impl Fragment {
    /// Runs this fragment on one shard. `cancel` is checked between blocks.
    pub fn run(&self, shard: &mut Shard, cancel: &AtomicBool) -> Result<(Partial, FragmentStats)> {
        let mut stats = FragmentStats::default();
        let Some(schema) = shard.catalog().get(&self.table) else {
            return Err(SqlError::UnknownTable(self.table.clone()));
        };
        let table = schema.id;
        // A scan yields one key's rows per block, sorted by time.
        let hints = ChunkHints {
            key_column: self.columns.iter().position(|&c| c == schema.key_index),
            ts_column: self.ts_column,
        };
        let mut pipeline =
            Pipeline::with_hints(self.filter.as_ref(), &self.work, self.limits, hints);
        let keys = match &self.keys {
            KeyFilter::All => None,
            KeyFilter::Symbols(s) => Some(
                s.iter()
                    .filter_map(|s| shard.lookup_symbol(s))
                    .map(|k| k as u64)
                    .collect::<Vec<_>>(),
            ),
            KeyFilter::Ints(v) => Some(v.iter().map(|&k| k as u64).collect()),
        };
        if keys.as_ref().is_some_and(Vec::is_empty) {
            return Ok((pipeline.finish(), stats));
        }
        let spec = ScanSpec {
            table,
            keys,
            ts_min: self.ts_min,
            ts_max: self.ts_max,
            columns: self.columns.clone(),
        };
        let mut failure = None;
        let scan = shard.scan(&spec, |view| {
            if cancel.load(Ordering::Relaxed) {
                failure = Some(SqlError::Cancelled);
                return ControlFlow::Break(());
            }
            let cols: Vec<Col<'_>> = view
                .columns
                .iter()
                .map(|s| Col::from_slice(s, view.rows, view.symbols))
                .collect();
            stats.bytes_read += cols.iter().map(|c| col_bytes(c, view.rows)).sum::<u64>();
            let order = self.ts_column.and_then(|i| match &cols[i].v {
                Vector::I64(v) => Some(&v[..]),
                _ => None,
            });
            match pipeline.push(&cols, view.rows, order) {
                Ok(flow) => flow,
                Err(e) => {
                    failure = Some(e);
                    ControlFlow::Break(())
                }
            }
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        stats.rows_read = scan.rows_read;
        stats.blocks_read = scan.blocks_read;
        stats.blocks_pruned = scan.blocks_pruned;
        stats.rows_matched = pipeline.rows_matched();
        Ok((pipeline.finish(), stats))
    }
}

fn intern(strings: &mut FxHashMap<Box<[u8]>, u64>, bytes_used: &mut usize, b: &[u8]) -> u64 {
    if let Some(&c) = strings.get(b) {
        return c;
    }
    let c = strings.len() as u64;
    strings.insert(b.into(), c);
    *bytes_used += b.len() + 32;
    c
}

fn col_bytes(c: &Col<'_>, rows: usize) -> u64 {
    (match &c.v {
        Vector::Sym(..) => 4 * rows,
        Vector::Bool(_) => rows,
        Vector::Str(s) => s.bytes.len().min(rows * 64) + 4 * rows,
        Vector::Null(_) => 0,
        _ => 8 * rows,
    }) as u64
}

/// Merges aggregate partials from every shard into one group table.
pub fn merge_groups(spec: &AggSpec, partials: Vec<Groups>, limits: QueryLimits) -> Result<Groups> {
    let mut out = merge_partials(spec, partials, limits.max_result_rows)?;
    if spec.keys.is_empty() && out.len == 0 {
        // An aggregate without GROUP BY returns one row even over no input.
        out.states.extend(spec.aggs.iter().map(AggState::new));
        out.len = 1;
    }
    Ok(out)
}

/// Turns merged groups into the post-aggregation relation: key columns then aggregate columns.
pub fn finish_groups(spec: &AggSpec, groups: Groups) -> Vec<Column> {
    let n = spec.aggs.len();
    let mut aggs: Vec<Column> = spec.aggs.iter().map(|a| Column::new("", a.ty)).collect();
    for c in &mut aggs {
        c.data.values.reserve(groups.len);
    }
    let mut states = groups.states.into_iter();
    for _ in 0..groups.len {
        for (col, call) in aggs.iter_mut().zip(&spec.aggs) {
            let s = states.next().expect("states per group");
            col.push(&s.finish(call));
        }
    }
    debug_assert!(states.next().is_none() || n == 0);
    let mut cols = groups.keys;
    cols.extend(aggs);
    cols
}

/// Concatenates row partials.
pub fn concat_rows(
    parts: Vec<Vec<Column>>,
    types: &[DataType],
    limits: QueryLimits,
) -> Result<Vec<Column>> {
    let mut out: Vec<Column> = types.iter().map(|t| Column::new("", *t)).collect();
    for p in parts {
        for (o, c) in out.iter_mut().zip(p) {
            let col = Col::from_result_column(&c);
            col.append_to(o, 0, col.len());
        }
        if out.first().map_or(0, Column::len) > limits.max_result_rows {
            return Err(SqlError::LimitExceeded {
                what: "result rows (max_result_rows)",
                limit: limits.max_result_rows as u64,
            });
        }
    }
    Ok(out)
}

/// A result column as ORDER BY compares it: the same order as `compare_values` on its
/// values, read from the typed data.
struct SortKey<'a> {
    col: &'a Column,
    data: SortData<'a>,
}

enum SortData<'a> {
    I64(&'a [i64]),
    U64(&'a [u64]),
    F64(&'a [f64]),
    Bool(&'a [u8]),
    Str(&'a storage::StrValues),
    /// `Nothing`: every value NULL.
    Null,
}

impl<'a> SortKey<'a> {
    fn of(col: &'a Column) -> SortKey<'a> {
        use storage::Values;
        let data = match (&col.data.values, col.ty.base) {
            (_, crate::types::BaseType::Nothing) => SortData::Null,
            (Values::I64(v), _) => SortData::I64(v),
            (Values::U64(v), _) => SortData::U64(v),
            (Values::F64(v), _) => SortData::F64(v),
            (Values::Bool(v), _) => SortData::Bool(v),
            (Values::Str(v), _) => SortData::Str(v),
            (Values::Sym(_), _) => unreachable!("result columns hold strings, not symbol ids"),
        };
        SortKey { col, data }
    }

    #[inline]
    fn is_null(&self, row: usize) -> bool {
        matches!(self.data, SortData::Null) || self.col.is_null(row)
    }

    #[inline]
    fn cmp(&self, a: usize, b: usize) -> std::cmp::Ordering {
        match self.data {
            SortData::I64(v) => v[a].cmp(&v[b]),
            SortData::U64(v) => v[a].cmp(&v[b]),
            SortData::F64(v) => v[a].total_cmp(&v[b]),
            SortData::Bool(v) => v[a].cmp(&v[b]),
            SortData::Str(v) => v.get(a).cmp(v.get(b)),
            SortData::Null => std::cmp::Ordering::Equal,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderKey {
    /// Column of the projected relation to sort by.
    pub column: usize,
    pub asc: bool,
    pub nulls_first: bool,
}

/// The merge step's tail: HAVING, projection, DISTINCT, ORDER BY, OFFSET/LIMIT.
#[derive(Debug, Clone, PartialEq)]
pub struct Finish {
    /// Over the post-aggregation relation (aggregate queries only).
    pub having: Option<Expr>,
    /// Over the post-aggregation relation, or the fragment output for plain queries (where it
    /// is the identity).
    pub projection: Option<Vec<Expr>>,
    /// Output names; columns past `names.len()` are hidden sort keys, dropped at the end.
    pub names: Vec<String>,
    pub distinct: bool,
    pub order_by: Vec<OrderKey>,
    pub offset: usize,
    pub limit: Option<usize>,
}

impl Finish {
    pub fn apply(&self, input: Vec<Column>, limits: QueryLimits) -> Result<ResultSet> {
        Ok(self.apply_counted(input, limits)?.0)
    }

    /// `apply`, also returning the rows there were before OFFSET and LIMIT.
    pub fn apply_counted(
        &self,
        input: Vec<Column>,
        limits: QueryLimits,
    ) -> Result<(ResultSet, usize)> {
        let rows = input.first().map_or(0, Column::len);
        let view: Vec<Col<'_>> = input.iter().map(Col::from_result_column).collect();
        // HAVING.
        let (view, rows): (Vec<Col<'_>>, usize) = match &self.having {
            Some(h) => {
                let keep = truthy(&h.eval(&view, rows)?);
                let idx: Vec<u32> = keep
                    .iter()
                    .enumerate()
                    .filter(|(_, &k)| k != 0)
                    .map(|(i, _)| i as u32)
                    .collect();
                let n = idx.len();
                (view.iter().map(|c| c.gather(&idx)).collect(), n)
            }
            None => (view, rows),
        };
        let mut cols: Vec<Column> = match &self.projection {
            Some(exprs) => exprs
                .iter()
                .map(|e| Ok(e.eval(&view, rows)?.into_column("")))
                .collect::<Result<_>>()?,
            None => view.iter().map(|c| c.view().into_column("")).collect(),
        };
        let visible = self.names.len();
        if self.distinct {
            let mut seen = std::collections::HashSet::new();
            let keep: Vec<u32> = (0..rows)
                .filter(|&r| {
                    seen.insert(
                        cols[..visible]
                            .iter()
                            .map(|c| KeyPart::of(&c.value(r)))
                            .collect::<Vec<_>>(),
                    )
                })
                .map(|r| r as u32)
                .collect();
            cols = cols
                .iter()
                .map(|c| Col::from_result_column(c).gather(&keep).into_column(""))
                .collect();
        }
        let rows = cols.first().map_or(0, Column::len);
        let mut order: Vec<u32> = (0..rows as u32).collect();
        if !self.order_by.is_empty() {
            // Typed views of the sort columns: no `Value` (or String) per row.
            let keys: Vec<SortKey<'_>> = self
                .order_by
                .iter()
                .map(|k| SortKey::of(&cols[k.column]))
                .collect();
            order.sort_by(|&a, &b| {
                for (k, key) in self.order_by.iter().zip(&keys) {
                    let (a, b) = (a as usize, b as usize);
                    let o = match (key.is_null(a), key.is_null(b)) {
                        (true, true) => std::cmp::Ordering::Equal,
                        (true, false) => {
                            if k.nulls_first {
                                std::cmp::Ordering::Less
                            } else {
                                std::cmp::Ordering::Greater
                            }
                        }
                        (false, true) => {
                            if k.nulls_first {
                                std::cmp::Ordering::Greater
                            } else {
                                std::cmp::Ordering::Less
                            }
                        }
                        (false, false) => {
                            let o = key.cmp(a, b);
                            if k.asc {
                                o
                            } else {
                                o.reverse()
                            }
                        }
                    };
                    if o != std::cmp::Ordering::Equal {
                        return o;
                    }
                }
                std::cmp::Ordering::Equal
            });
        }
        let start = self.offset.min(rows);
        let end = self
            .limit
            .map_or(rows, |l| start.saturating_add(l).min(rows));
        let idx = &order[start..end];
        if idx.len() > limits.max_result_rows {
            return Err(SqlError::LimitExceeded {
                what: "result rows (max_result_rows)",
                limit: limits.max_result_rows as u64,
            });
        }
        let identity = idx.len() == rows && idx.iter().enumerate().all(|(i, &r)| i == r as usize);
        let columns = cols
            .into_iter()
            .take(visible)
            .zip(&self.names)
            .map(|(c, name)| {
                let mut c = if identity {
                    c
                } else {
                    Col::from_result_column(&c).gather(idx).into_column("")
                };
                c.name = name.clone();
                c
            })
            .collect();
        Ok((ResultSet { columns }, rows))
    }
}
