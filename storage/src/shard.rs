//! The `Shard`: ties catalog, WAL, hot buffers, sealed partitions and the block index together.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fs;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::batch::{Batch, ColumnBuf, Values, ValuesRef};
use crate::catalog::{Catalog, TableSpec};
use crate::colfile::{cast, IoBatch, Partition};
use crate::dict::{SymbolDict, SYMBOL_BYTES_MAX};
use crate::error::{corrupt, IoContext, RequestError, Result};
use crate::hash::FxHashMap;
use crate::hot::HotBuffer;
use crate::index::{BlockMeta, IndexLog, IndexRecord};
use crate::record;
use crate::scan::{BlockView, ColumnData, ColumnSlice, ScanSpec, ScanStats};
use crate::sync::SyncWaker;
use crate::types::{
    day_name, day_of, ColumnId, ColumnType, Physical, Seq, SymKey, TableId, TableSchema, Validity,
};
use crate::wal::{FsyncPolicy, Wal, WalReplay};

/// The time source, behind a trait so tests and simulations control it.
pub trait Clock: Send {
    fn now_ns(&self) -> i64;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ns(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64)
    }
}

/// Tuning and durability settings of a shard.
pub struct ShardConfig {
    pub fsync: FsyncPolicy,
    /// A hot buffer with this many rows is sealed at the next commit.
    pub block_rows: usize,
    /// A hot buffer older than this is sealed by `tick`.
    pub seal_age_ns: i64,
    pub wal_segment_bytes: u64,
    /// When hot buffers hold more than this, the next commit seals all of them.
    pub hot_bytes_max: usize,
    pub clock: Box<dyn Clock>,
}

impl Default for ShardConfig {
    fn default() -> Self {
        ShardConfig {
            fsync: FsyncPolicy::Batch { interval_ms: 10 },
            block_rows: 65_536,
            seal_age_ns: 60 * 1_000_000_000,
            wal_segment_bytes: 64 << 20,
            hot_bytes_max: 1 << 30,
            clock: Box::new(SystemClock),
        }
    }
}

impl std::fmt::Debug for ShardConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardConfig")
            .field("fsync", &self.fsync)
            .field("block_rows", &self.block_rows)
            .field("seal_age_ns", &self.seal_age_ns)
            .field("wal_segment_bytes", &self.wal_segment_bytes)
            .field("hot_bytes_max", &self.hot_bytes_max)
            .finish()
    }
}

/// What a commit achieved: every seq <= `durable_seq` may be acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitReport {
    /// Highest seq written to the WAL file (in the OS page cache).
    pub written_seq: Seq,
    /// Highest seq at the durability the fsync policy promises when the report was made: covered
    /// by a completed sync under `always`/`batch`, equal to `written_seq` under `never`.
    pub durable_seq: Seq,
}

#[derive(Debug, Clone, Default)]
pub struct RecoveryReport {
    pub wal: WalReplay,
    pub blocks: usize,
    pub rows_replayed: u64,
    pub rows_skipped: u64,
    /// WAL records skipped from their header alone (every row sealed), without decoding.
    pub records_skipped_undecoded: u64,
    pub elapsed_ns: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardStats {
    pub rows_appended: u64,
    pub rows_sealed: u64,
    pub blocks_sealed: u64,
    pub seals: u64,
    pub partitions_created: u64,
    pub partitions_dropped: u64,
    pub blocks: u64,
    pub sealed_rows: u64,
    pub hot_rows: u64,
    pub hot_bytes: u64,
    pub wal_bytes_written: u64,
}

type HotKey = (TableId, SymKey);

/// Marks "no group" in the apply scratch tables.
const NO_GROUP: u32 = u32::MAX;

/// Hot buffers of every (table, key), emptied buffers kept for reuse, and the scratch space the
/// append path reuses so that it does not allocate after warm-up.
#[derive(Default)]
struct HotSet {
    buffers: FxHashMap<HotKey, HotBuffer>,
    bytes: usize,
    rows: usize,
    queued: Vec<HotKey>,
    /// Sealed buffers, cleared but with their allocations, by table. A new buffer of the same
    /// table takes one instead of growing from nothing (no regrowth copies, no fresh pages).
    free: Vec<(TableId, HotBuffer)>,
    /// Capacity bytes held in `free`; bounded by the memory budget left over by hot rows.
    free_bytes: usize,
    scratch: ApplyScratch,
}

/// Slots of `ApplyScratch::str_ids` (a power of two).
const STR_SLOTS: usize = 1024;

/// The `str_ids` slot of a symbol string: its length and first and last (up to) eight bytes,
/// multiplied and shifted. Collisions only cost a dictionary lookup.
#[inline]
fn str_slot(b: &[u8]) -> usize {
    let word = |s: &[u8]| {
        let mut w = [0u8; 8];
        w[..s.len()].copy_from_slice(s);
        u64::from_le_bytes(w)
    };
    let n = b.len();
    let head = word(&b[..n.min(8)]);
    let tail = if n > 8 { word(&b[n - 8..]) } else { 0 };
    let x = (head ^ tail.rotate_left(29) ^ ((n as u64) << 56)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (x >> (64 - STR_SLOTS.trailing_zeros())) as usize
}

/// Per-append scratch of `HotSet::apply`, reused across calls.
#[derive(Default)]
struct ApplyScratch {
    /// Dictionary id of each batch-local symbol code. Kept between batches as hints: a batch
    /// with the same dictionary as the previous one costs a string compare per symbol.
    local_ids: Vec<u32>,
    /// Dictionary ids of recently seen symbol strings by [`str_slot`] (`NO_GROUP` = empty), for
    /// Symbol columns that arrive as strings: a hit costs a compare instead of a UTF-8 check
    /// and a hash-map lookup. Entries are checked against the dictionary, never trusted.
    str_ids: Vec<u32>,
    /// Symbol columns of the batch converted to dictionary ids, in batch column order.
    sym_ids: Vec<Values>,
    /// Schema position → index into the batch's resolved columns (`NO_GROUP` when absent).
    col_at: Vec<u32>,
    /// Resolved column index → index into `sym_ids` (`NO_GROUP` for non-Symbol columns).
    sym_of_col: Vec<u32>,
    /// Integer key of each row (Int64/UInt64 key columns).
    int_keys: Vec<u64>,
    /// Group of each row (`NO_GROUP` when skipped).
    row_group: Vec<u32>,
    /// Row numbers ordered by group (a counting sort of `row_group`).
    order: Vec<u32>,
    groups: Vec<Group>,
    /// Group of each dictionary id in this batch (Symbol keys); reset after every batch.
    group_of_id: Vec<u32>,
    /// Group of each integer key in this batch.
    group_of_int: FxHashMap<u64, u32>,
    /// Each schema column's source in the batch (only the allocation is kept between calls).
    plans: Vec<ColumnPlan<'static>>,
}

/// Where a hot column's new rows come from: typed values and validity, or `None` for a column
/// the batch does not have (NULLs).
type ColumnPlan<'a> = Option<(ValuesRef<'a>, Option<&'a crate::types::Bitmap>)>;

/// Reuses an empty vector's allocation for another element type of the same layout (here: the
/// same type with another lifetime). In-place collection keeps the buffer; were it ever not to,
/// this would still be correct, just allocate.
fn reuse_vec<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter()
        .map(|_| unreachable!("the vector is empty"))
        .collect()
}

#[derive(Debug, Clone, Copy)]
struct Group {
    key: SymKey,
    /// Range in `order`.
    start: u32,
    len: u32,
}

/// One column of a batch resolved against its table.
#[derive(Debug, Clone, Copy)]
struct ResolvedColumn {
    /// Position in the table's schema.
    pos: u32,
    id: ColumnId,
    /// Index into the source's columns.
    src: u32,
}

/// Where a resolved batch's column data lives.
#[derive(Clone, Copy)]
enum Source<'b> {
    Batch(&'b [crate::batch::BatchColumn]),
    Record(&'b [(ColumnId, ColumnBuf)]),
}

impl<'b> Source<'b> {
    #[inline]
    fn get(self, i: u32) -> &'b ColumnBuf {
        match self {
            Source::Batch(c) => &c[i as usize].data,
            Source::Record(c) => &c[i as usize].1,
        }
    }
}

/// A batch's columns resolved against its table.
struct Resolved<'b, 'c> {
    table_id: TableId,
    rows: usize,
    symbols: &'b [String],
    source: Source<'b>,
    columns: &'c [ResolvedColumn],
}

impl Resolved<'_, '_> {
    fn column(&self, i: usize) -> &ColumnBuf {
        self.source.get(self.columns[i].src)
    }
}

impl HotSet {
    /// Adds the rows of `batch` (logged as `seq`) to the hot buffers, skipping rows for which
    /// `skip(key, ts)` holds. `now_ns` is read only when a buffer gets its first row. Returns
    /// the number of rows added.
    ///
    /// Rows are grouped by key without hashing when the key is a Symbol (a table indexed by
    /// dictionary id), counted per group, and copied with one exact `reserve` per hot column.
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        schema: &TableSchema,
        dict: &mut SymbolDict,
        batch: &Resolved<'_, '_>,
        seq: Seq,
        now_ns: &dyn Fn() -> i64,
        block_rows: usize,
        skip: Option<&dyn Fn(SymKey, i64) -> bool>,
    ) -> usize {
        let rows = batch.rows;
        if rows == 0 {
            return 0;
        }
        let HotSet {
            buffers,
            bytes: hot_bytes,
            rows: hot_rows,
            queued,
            free,
            free_bytes,
            scratch,
        } = self;
        let ApplyScratch {
            local_ids,
            str_ids,
            sym_ids,
            col_at,
            sym_of_col,
            int_keys,
            row_group,
            order,
            groups,
            group_of_id,
            group_of_int,
            plans: plans_buf,
        } = scratch;
        col_at.clear();
        col_at.resize(schema.columns.len(), NO_GROUP);
        sym_of_col.clear();

        // Symbol-typed columns arrive as batch-local codes or strings; store dictionary ids.
        let mut local_ready = false;
        let mut nsym = 0;
        for (i, rc) in batch.columns.iter().enumerate() {
            col_at[rc.pos as usize] = i as u32;
            if schema.columns[rc.pos as usize].ty != ColumnType::Symbol {
                sym_of_col.push(NO_GROUP);
                continue;
            }
            if sym_ids.len() == nsym {
                sym_ids.push(Values::Sym(Vec::new()));
            }
            let Values::Sym(ids) = &mut sym_ids[nsym] else {
                unreachable!("sym_ids holds Sym values")
            };
            ids.clear();
            match &batch.column(i).values {
                Values::Sym(codes) => {
                    if !local_ready {
                        local_ids.resize(batch.symbols.len(), NO_GROUP);
                        for (id, s) in local_ids.iter_mut().zip(batch.symbols) {
                            *id = dict.intern_hinted(s, *id);
                        }
                        local_ready = true;
                    }
                    let map = &local_ids[..batch.symbols.len()];
                    ids.extend(codes.iter().map(|&c| map[c as usize]));
                }
                Values::Str(s) => {
                    if str_ids.len() != STR_SLOTS {
                        str_ids.clear();
                        str_ids.resize(STR_SLOTS, NO_GROUP);
                    }
                    ids.extend((0..s.len()).map(|r| {
                        let bytes = s.get(r);
                        let slot = &mut str_ids[str_slot(bytes)];
                        if let Some(known) = dict.get(*slot) {
                            if known.as_bytes() == bytes {
                                return *slot;
                            }
                        }
                        // NULL slots hold whatever the writer left; only valid ones were
                        // checked to be UTF-8.
                        let v = std::str::from_utf8(bytes).unwrap_or("");
                        *slot = dict.intern(v);
                        *slot
                    }));
                }
                other => unreachable!("validated symbol column holds {:?}", other.physical()),
            }
            sym_of_col.push(nsym as u32);
            nsym += 1;
        }
        let ts_col = col_at[schema.ts_index];
        let key_col = col_at[schema.key_index];
        assert!(
            ts_col != NO_GROUP && key_col != NO_GROUP,
            "validated: timestamp and key present"
        );
        let Values::I64(ts) = &batch.column(ts_col as usize).values else {
            unreachable!("validated timestamp type")
        };
        let ts = &ts[..rows];

        // The key of each row: a dictionary id (Symbol keys) or the integer itself.
        let sym_keys: Option<&[u32]> = match sym_of_col[key_col as usize] {
            NO_GROUP => {
                int_keys.clear();
                match &batch.column(key_col as usize).values {
                    Values::I64(v) => int_keys.extend(v.iter().map(|&x| x as u64)),
                    Values::U64(v) => int_keys.extend_from_slice(v),
                    _ => unreachable!("validated key type"),
                }
                None
            }
            k => match &sym_ids[k as usize] {
                Values::Sym(v) => Some(&v[..rows]),
                _ => unreachable!("sym_ids holds Sym values"),
            },
        };
        let int_keys = &int_keys[..];
        let key_of = |r: usize| -> SymKey {
            match sym_keys {
                Some(k) => k[r] as SymKey,
                None => int_keys[r],
            }
        };

        // Group rows by key (a counting sort into `order`); a single group needs none.
        let first = key_of(0);
        let single = skip.is_none()
            && match sym_keys {
                Some(k) => k.iter().all(|&x| x as SymKey == first),
                None => int_keys.iter().all(|&x| x == first),
            };
        groups.clear();
        if single {
            groups.push(Group {
                key: first,
                start: 0,
                len: rows as u32,
            });
        } else {
            row_group.clear();
            group_of_int.clear();
            if sym_keys.is_some() && group_of_id.len() < dict.len() {
                group_of_id.resize(dict.len(), NO_GROUP);
            }
            for (r, &t) in ts.iter().enumerate() {
                let k = key_of(r);
                if skip.is_some_and(|f| f(k, t)) {
                    row_group.push(NO_GROUP);
                    continue;
                }
                let slot = match sym_keys {
                    Some(_) => &mut group_of_id[k as usize],
                    None => group_of_int.entry(k).or_insert(NO_GROUP),
                };
                if *slot == NO_GROUP {
                    *slot = groups.len() as u32;
                    groups.push(Group {
                        key: k,
                        start: 0,
                        len: 0,
                    });
                }
                groups[*slot as usize].len += 1;
                row_group.push(*slot);
            }
            if sym_keys.is_some() {
                for g in groups.iter() {
                    group_of_id[g.key as usize] = NO_GROUP;
                }
            }
            let mut start = 0;
            for g in groups.iter_mut() {
                g.start = start;
                start += g.len;
                // `len` is the fill cursor below, which restores it.
                g.len = 0;
            }
            order.clear();
            order.resize(start as usize, 0);
            for (r, &g) in row_group.iter().enumerate() {
                if g != NO_GROUP {
                    let grp = &mut groups[g as usize];
                    order[(grp.start + grp.len) as usize] = r as u32;
                    grp.len += 1;
                }
            }
        }

        // Each schema column's source, resolved once for all groups.
        let mut plans: Vec<ColumnPlan<'_>> = reuse_vec(std::mem::take(plans_buf));
        plans.extend(col_at.iter().map(|&i| {
            (i != NO_GROUP).then(|| {
                let values = match sym_of_col[i as usize] {
                    NO_GROUP => &batch.column(i as usize).values,
                    k => &sym_ids[k as usize],
                };
                (values.as_ref(), batch.column(i as usize).validity.as_ref())
            })
        }));
        // Hot bytes per row, as `HotBuffer::bytes` counts them, less string contents.
        let row_bytes: usize = schema
            .columns
            .iter()
            .map(|c| match c.ty.physical() {
                Physical::Bool => 1,
                Physical::Sym | Physical::Str => 4,
                _ => 8,
            })
            .sum();

        let mut added = 0;
        let mut now: Option<i64> = None;
        for g in groups.iter() {
            let n = g.len as usize;
            if n == 0 {
                continue;
            }
            let hk = (schema.id, g.key);
            let buf = match buffers.entry(hk) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let recycled = take_free(free, free_bytes, schema);
                    e.insert(recycled.unwrap_or_else(|| HotBuffer::new(schema)))
                }
            };
            let before_rows = buf.rows();
            if before_rows == 0 {
                buf.min_seq = seq;
                buf.created_ns = *now.get_or_insert_with(now_ns);
                buf.sorted = true;
            }
            buf.max_seq = seq;
            let mut last_ts = if before_rows > 0 {
                buf.ts(schema.ts_index)[before_rows - 1]
            } else {
                i64::MIN
            };
            let idx: Option<&[u32]> =
                (!single).then(|| &order[g.start as usize..(g.start + g.len) as usize]);
            let mut bytes = n * row_bytes;
            for (dst, plan) in buf.cols.iter_mut().zip(&plans) {
                match *plan {
                    None => dst.push_nulls(n),
                    Some((values, validity)) => bytes += dst.append_rows(values, validity, idx),
                }
            }
            let mut sorted = buf.sorted;
            match idx {
                None => {
                    for &t in ts {
                        sorted &= last_ts <= t;
                        last_ts = t;
                    }
                }
                Some(idx) => {
                    for &r in idx {
                        let t = ts[r as usize];
                        sorted &= last_ts <= t;
                        last_ts = t;
                    }
                }
            }
            buf.sorted = sorted;
            debug_assert_eq!(buf.rows(), before_rows + n);
            added += n;
            *hot_rows += n;
            *hot_bytes += bytes;
            if before_rows + n >= block_rows && !buf.queued {
                buf.queued = true;
                queued.push(hk);
            }
        }
        *plans_buf = reuse_vec(plans);
        added
    }

    fn remove(&mut self, hk: &HotKey) -> Option<HotBuffer> {
        let b = self.buffers.remove(hk)?;
        self.rows -= b.rows();
        self.bytes -= b.bytes();
        Some(b)
    }

    /// Keeps a sealed buffer's allocations for the next new buffer of its table, while hot rows
    /// plus kept buffers stay within `budget_bytes`.
    fn recycle(&mut self, table: TableId, mut buf: HotBuffer, budget_bytes: usize) {
        let cap = buf.capacity_bytes();
        if self.bytes + self.free_bytes + cap > budget_bytes {
            return;
        }
        buf.clear();
        self.free_bytes += cap;
        self.free.push((table, buf));
    }

    /// Drops kept buffers until hot rows plus kept buffers fit `budget_bytes`.
    fn trim_free(&mut self, budget_bytes: usize) {
        while self.bytes + self.free_bytes > budget_bytes {
            let Some((_, b)) = self.free.pop() else { break };
            self.free_bytes -= b.capacity_bytes();
        }
    }

    /// The lowest seq any hot row came from, or `None` when nothing is hot.
    fn min_seq(&self) -> Option<Seq> {
        self.buffers
            .values()
            .filter(|b| b.rows() > 0)
            .map(|b| b.min_seq)
            .min()
    }
}

/// A kept buffer whose columns match `schema` (a table's schema changes with `add_column`).
fn take_free(
    free: &mut Vec<(TableId, HotBuffer)>,
    free_bytes: &mut usize,
    schema: &TableSchema,
) -> Option<HotBuffer> {
    let fits = |b: &HotBuffer| {
        b.cols.len() == schema.columns.len()
            && b.cols
                .iter()
                .zip(&schema.columns)
                .all(|(c, s)| c.values.physical() == s.ty.physical())
    };
    let at = free.iter().rposition(|(t, b)| *t == schema.id && fits(b))?;
    let (_, b) = free.swap_remove(at);
    *free_bytes -= b.capacity_bytes();
    Some(b)
}

/// A seal whose blocks are written and visible to scans, but whose index record is not yet
/// durable (policies `always`/`batch`). Seals retire in order.
struct PendingSeal {
    /// The `Seal` record to write once the files are synced.
    record: IndexRecord,
    stage: SealStage,
    /// WAL segments whose records are all below this seq are deleted once the record is durable.
    watermark: Seq,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SealStage {
    /// Waiting for the sync ticket of its column files and the dictionary.
    Files(u64),
    /// The index record is written; its sync is not requested yet.
    Written,
    /// Waiting for the sync ticket of the index.
    Index(u64),
}

/// One shard's storage. See the crate docs for the contract.
pub struct Shard {
    dir: PathBuf,
    config: ShardConfig,
    catalog: Catalog,
    dict: SymbolDict,
    wal: Wal,
    index: IndexLog,
    /// Live sealed blocks per (table, key), ordered by `min_ts`.
    blocks: BTreeMap<HotKey, Vec<BlockMeta>>,
    partitions: HashMap<(TableId, i32), Partition>,
    hot: HotSet,
    /// Seals not yet durable in the index, oldest first.
    pending_seals: VecDeque<PendingSeal>,
    /// Ticket of the last WAL segment deletion handed to the sync thread.
    last_delete_ticket: u64,
    /// Reused by seals for string offsets and validity bitmaps.
    seal_scratch: Vec<u8>,
    /// Reused by `append` for the batch's resolved columns.
    resolved_scratch: Vec<ResolvedColumn>,
    stats: ShardStats,
}

/// Finishes pipelined seals, so that a shard dropped after a commit finds its sealed blocks
/// indexed at the next open (as if the seal had been synchronous). Errors are logged: the WAL
/// still holds every row of a seal that did not finish.
impl Drop for Shard {
    fn drop(&mut self) {
        if let Err(e) = self.drain_seals() {
            log::error!(
                "shard {}: pipelined seals not finished: {e}",
                self.dir.display()
            );
        }
    }
}

impl std::fmt::Debug for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shard")
            .field("dir", &self.dir)
            .field("stats", &self.stats)
            .finish()
    }
}

impl Shard {
    /// Opens (or creates) the shard in `dir` and recovers: catalog, symbol dictionary, block
    /// index and column files, then the WAL records not yet covered by sealed blocks.
    pub fn open(dir: impl AsRef<Path>, config: ShardConfig) -> Result<(Shard, RecoveryReport)> {
        let started = Instant::now();
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(dir.join("tables")).at(&dir)?;
        let catalog = Catalog::open(&dir)?;
        let mut dict = SymbolDict::open(&dir)?;
        let (index, records) = IndexLog::open(&dir)?;

        let mut blocks: BTreeMap<HotKey, Vec<BlockMeta>> = BTreeMap::new();
        let mut drops: Vec<(TableId, i32, Seq)> = Vec::new();
        let mut max_sealed_seq: Seq = 0;
        let mut dict_needed = 0u32;
        for rec in records {
            match rec {
                IndexRecord::Seal {
                    dict_len,
                    blocks: group,
                } => {
                    dict_needed = dict_needed.max(dict_len);
                    for b in group {
                        max_sealed_seq = max_sealed_seq.max(b.max_seq);
                        if catalog.get_by_id(b.table_id).is_some() {
                            blocks.entry((b.table_id, b.key)).or_default().push(b);
                        }
                    }
                }
                IndexRecord::DropBefore {
                    table_id,
                    cutoff_day,
                    seq,
                } => {
                    max_sealed_seq = max_sealed_seq.max(seq);
                    for ((t, _), list) in blocks.iter_mut() {
                        if *t == table_id {
                            list.retain(|b| b.day >= cutoff_day);
                        }
                    }
                    drops.push((table_id, cutoff_day, seq));
                }
            }
        }
        blocks.retain(|_, l| !l.is_empty());
        for list in blocks.values_mut() {
            list.sort_by_key(|b| b.min_ts);
        }
        if (dict.len() as u64) < dict_needed as u64 {
            return Err(corrupt(
                dir.join(crate::dict::DICT_FILE),
                0,
                format!(
                    "sealed blocks reference {dict_needed} symbols but the dictionary holds {}",
                    dict.len()
                ),
            ));
        }
        for list in blocks.values() {
            for b in list {
                if b.key as usize >= dict.len()
                    && catalog
                        .get_by_id(b.table_id)
                        .is_some_and(|t| t.key_type() == ColumnType::Symbol)
                {
                    return Err(corrupt(
                        dir.join(crate::dict::DICT_FILE),
                        0,
                        format!(
                            "block references symbol id {} but the dictionary has {}",
                            b.key,
                            dict.len()
                        ),
                    ));
                }
            }
        }
        let sealed_seq: HashMap<HotKey, Seq> = blocks
            .iter()
            .map(|(k, l)| (*k, l.iter().map(|b| b.max_seq).max().unwrap_or(0)))
            .collect();
        let partitions = open_partitions(&dir, &catalog, &blocks)?;

        // Replay the WAL into hot buffers, skipping rows already sealed or dropped.
        let mut hot = HotSet::default();
        let mut report = RecoveryReport::default();
        let now_ns = config.clock.now_ns();
        let wal_dir = dir.join("wal");
        let (mut wal, wal_report) = Wal::open(
            &wal_dir,
            config.fsync,
            config.wal_segment_bytes,
            |seq, payload| {
                let undecodable =
                    || corrupt(&wal_dir, 0, format!("undecodable WAL record seq {seq}"));
                let head = record::header(payload).ok_or_else(undecodable)?;
                let Some(schema) = catalog.get_by_id(head.table_id) else {
                    report.rows_skipped += head.rows as u64;
                    return Ok(());
                };
                if all_rows_sealed(&head, seq, schema, &dict, &sealed_seq) {
                    report.rows_skipped += head.rows as u64;
                    report.records_skipped_undecoded += 1;
                    return Ok(());
                }
                let rec = record::decode(payload).ok_or_else(undecodable)?;
                let mut columns = Vec::with_capacity(rec.columns.len());
                for (i, (id, _)) in rec.columns.iter().enumerate() {
                    if let Some(pos) = schema.column_index_by_id(*id) {
                        columns.push(ResolvedColumn {
                            pos: pos as u32,
                            id: *id,
                            src: i as u32,
                        });
                    }
                }
                let resolved = Resolved {
                    table_id: rec.table_id,
                    rows: rec.rows,
                    symbols: &rec.symbols,
                    source: Source::Record(&rec.columns),
                    columns: &columns,
                };
                let table_drops: Vec<(i32, Seq)> = drops
                    .iter()
                    .filter(|d| d.0 == rec.table_id)
                    .map(|d| (d.1, d.2))
                    .collect();
                let skip = |key: SymKey, ts: i64| {
                    sealed_seq
                        .get(&(rec.table_id, key))
                        .is_some_and(|&s| seq <= s)
                        || table_drops
                            .iter()
                            .any(|&(cut, dseq)| seq <= dseq && day_of(ts) < cut)
                };
                let added = hot.apply(
                    schema,
                    &mut dict,
                    &resolved,
                    seq,
                    &|| now_ns,
                    usize::MAX,
                    Some(&skip),
                );
                report.rows_replayed += added as u64;
                report.rows_skipped += (rec.rows - added) as u64;
                Ok(())
            },
        )?;
        wal.advance_seq_to(max_sealed_seq);
        report.wal = wal_report;
        report.blocks = blocks.values().map(Vec::len).sum();

        let mut shard = Shard {
            dir,
            config,
            catalog,
            dict,
            wal,
            index,
            blocks,
            partitions,
            hot,
            pending_seals: VecDeque::new(),
            last_delete_ticket: 0,
            resolved_scratch: Vec::new(),
            seal_scratch: Vec::new(),
            stats: ShardStats::default(),
        };
        // Replayed buffers that are already full seal at the next commit.
        let full: Vec<HotKey> = shard
            .hot
            .buffers
            .iter()
            .filter(|(_, b)| b.rows() >= shard.config.block_rows)
            .map(|(k, _)| *k)
            .collect();
        for k in full {
            shard.hot.buffers.get_mut(&k).expect("present").queued = true;
            shard.hot.queued.push(k);
        }
        shard.refresh_block_stats();
        report.elapsed_ns = started.elapsed().as_nanos() as u64;
        log::info!(
            "opened shard {}: {} blocks, {} WAL records, {} rows replayed, {} skipped in {} ms",
            shard.dir.display(),
            report.blocks,
            report.wal.records,
            report.rows_replayed,
            report.rows_skipped,
            report.elapsed_ns / 1_000_000
        );
        Ok((shard, report))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> &ShardConfig {
        &self.config
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn stats(&self) -> ShardStats {
        let mut s = self.stats.clone();
        s.hot_rows = self.hot.rows as u64;
        s.hot_bytes = self.hot.bytes as u64;
        s
    }

    /// Bytes currently held in WAL segment files.
    pub fn wal_disk_bytes(&self) -> u64 {
        self.wal.disk_bytes()
    }

    /// The dictionary id of a symbol, if this shard has seen it.
    pub fn lookup_symbol(&self, s: &str) -> Option<u32> {
        self.dict.lookup(s)
    }

    pub fn symbol_name(&self, id: u32) -> Option<&str> {
        self.dict.get(id)
    }

    /// Keys of `table` that have any rows, ascending.
    pub fn keys(&self, table: TableId) -> Vec<SymKey> {
        let mut keys: Vec<SymKey> = self
            .blocks
            .range((table, 0)..=(table, SymKey::MAX))
            .map(|(k, _)| k.1)
            .chain(
                self.hot
                    .buffers
                    .iter()
                    .filter(|(k, b)| k.0 == table && b.rows() > 0)
                    .map(|(k, _)| k.1),
            )
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    // ----- DDL -----

    pub fn create_table(&mut self, spec: TableSpec) -> Result<TableId> {
        let id = self.catalog.insert(spec)?;
        self.catalog.persist()?;
        Ok(id)
    }

    /// Drops a table and everything stored for it.
    pub fn drop_table(&mut self, name: &str) -> Result<()> {
        let schema = self.catalog.remove(name)?;
        self.catalog.persist()?;
        let keys: Vec<HotKey> = self
            .hot
            .buffers
            .keys()
            .filter(|k| k.0 == schema.id)
            .copied()
            .collect();
        for k in keys {
            self.hot.remove(&k);
        }
        self.hot.queued.retain(|k| k.0 != schema.id);
        self.hot.free.retain(|(t, _)| *t != schema.id);
        self.hot.free_bytes = self.hot.free.iter().map(|(_, b)| b.capacity_bytes()).sum();
        self.blocks.retain(|k, _| k.0 != schema.id);
        self.partitions.retain(|k, _| k.0 != schema.id);
        let tdir = table_dir(&self.dir, schema.id);
        if tdir.exists() {
            fs::remove_dir_all(&tdir).at(&tdir)?;
        }
        self.refresh_block_stats();
        Ok(())
    }

    /// Adds a nullable column; existing rows read as NULL.
    pub fn add_column(&mut self, table: &str, name: &str, ty: ColumnType) -> Result<()> {
        self.catalog.add_column(table, name, ty)?;
        self.catalog.persist()?;
        let schema = self.catalog.get(table).expect("just altered");
        for (k, buf) in self.hot.buffers.iter_mut() {
            if k.0 == schema.id {
                let before = buf.bytes();
                let mut col = ColumnBuf::empty(ty.physical());
                col.push_nulls(buf.rows());
                buf.cols.push(col);
                self.hot.bytes = self.hot.bytes + buf.bytes() - before;
            }
        }
        Ok(())
    }

    // ----- Write path -----

    /// Validates `batch`, stages its WAL record and adds its rows to the hot buffers. The rows
    /// are visible to scans at once and durable once a `commit` reports `durable_seq >= seq`.
    /// A batch that fails validation changes nothing. NULL and omitted cells of NOT NULL
    /// columns are stored as the type's default (see `defaults.rs`).
    pub fn append(&mut self, batch: &Batch) -> Result<Seq> {
        let schema = self.catalog.require(&batch.table)?;
        if let Some(filled) = crate::defaults::fill_not_null(schema, batch) {
            return self.append_filled(&filled);
        }
        self.append_filled(batch)
    }

    /// `append` once NOT NULL columns hold no NULL.
    fn append_filled(&mut self, batch: &Batch) -> Result<Seq> {
        let schema = self.catalog.require(&batch.table)?;
        let mut columns = std::mem::take(&mut self.resolved_scratch);
        let result = resolve(schema, batch, &mut columns).map(|rows| {
            let resolved = Resolved {
                table_id: schema.id,
                rows,
                symbols: &batch.symbols,
                source: Source::Batch(&batch.columns),
                columns: &columns,
            };
            if rows == 0 {
                return self.wal.last_seq();
            }
            let seq = self.wal.append(|buf| {
                record::encode(
                    buf,
                    resolved.table_id,
                    rows,
                    &batch.symbols,
                    columns.len(),
                    |i| (columns[i].id, resolved.column(i)),
                )
            });
            let clock = &self.config.clock;
            let added = self.hot.apply(
                schema,
                &mut self.dict,
                &resolved,
                seq,
                &|| clock.now_ns(),
                self.config.block_rows,
                None,
            );
            debug_assert_eq!(added, rows);
            self.stats.rows_appended += added as u64;
            seq
        });
        self.resolved_scratch = columns;
        Ok(result?)
    }

    /// Writes every staged WAL record in one write (group commit), then seals full hot buffers
    /// (or all of them when over the memory budget). Under `always` it then waits until the
    /// sync thread has made the write durable, so `durable_seq` covers every staged record
    /// when it returns (acknowledging on return is safe under every policy). Under `batch(ms)`
    /// it requests a sync when `ms` passed since the last request and returns at once: the
    /// report's `durable_seq` says what completed syncs cover. Under `never` written is durable.
    pub fn commit(&mut self) -> Result<CommitReport> {
        let report = self.commit_nowait()?;
        if self.config.fsync == FsyncPolicy::Always && report.durable_seq < report.written_seq {
            let now_ns = self.config.clock.now_ns();
            self.wal.wait_durable(report.written_seq, now_ns)?;
            return Ok(self.report());
        }
        Ok(report)
    }

    /// Like [`Shard::commit`] but never waits for a sync, under `always` either: it requests
    /// one and returns. Rows with seq <= the report's `durable_seq` may be acknowledged at once;
    /// the rest once [`Shard::durable_seq`] covers them (the sync waker says when to look).
    pub fn commit_nowait(&mut self) -> Result<CommitReport> {
        let now_ns = self.config.clock.now_ns();
        self.wal.flush(now_ns)?;
        self.stats.wal_bytes_written = self.wal.bytes_written();
        self.progress_seals()?;
        if self.hot.bytes > self.config.hot_bytes_max {
            let all: Vec<HotKey> = self
                .hot
                .buffers
                .iter()
                .filter(|(_, b)| b.rows() > 0)
                .map(|(k, _)| *k)
                .collect();
            self.seal(&all)?;
        } else if !self.hot.queued.is_empty() {
            let queued = std::mem::take(&mut self.hot.queued);
            self.seal(&queued)?;
        }
        self.hot.trim_free(self.config.hot_bytes_max);
        Ok(self.report())
    }

    /// Highest seq durable under the fsync policy. Advances on the sync thread, so it can grow
    /// between calls without the shard doing anything.
    #[inline]
    pub fn durable_seq(&self) -> Seq {
        self.wal.durable_seq()
    }

    /// Blocks until every record with seq <= `seq` is durable under the policy, writing staged
    /// records and requesting a sync first if needed (under `batch` it does not wait for the
    /// interval). For tests and simple callers; a server loop uses the sync waker instead.
    pub fn wait_durable(&mut self, seq: Seq) -> Result<Seq> {
        let seq = seq.min(self.wal.last_seq());
        let now_ns = self.config.clock.now_ns();
        if seq > self.wal.written_seq() {
            self.wal.flush(now_ns)?;
            self.stats.wal_bytes_written = self.wal.bytes_written();
        }
        self.wal.wait_durable(seq, now_ns)
    }

    /// Sets the function the sync thread calls each time `durable_seq` advances (and when a sync
    /// fails). It runs on the sync thread: it must be cheap and must not block or touch the
    /// shard; ring the owning core's bell or write an eventfd, and let the core read
    /// [`Shard::durable_seq`]. `None` removes it.
    pub fn set_sync_waker(&mut self, waker: Option<SyncWaker>) {
        self.wal.set_sync_waker(waker);
    }

    /// The sticky error of a failed WAL sync, if one failed: `durable_seq` then never advances,
    /// and a caller waiting for it (see `set_sync_waker`) must fail instead.
    pub fn sync_error(&self) -> Result<()> {
        self.wal.check_sync()
    }

    /// Completed syncs on the sync thread since open (WAL data and new segments).
    pub fn wal_syncs(&self) -> u64 {
        self.wal.syncs_completed()
    }

    /// Periodic work: flush the WAL and, under `batch`, request a sync when the interval
    /// passed; seal buffers older than `seal_age_ns`. Never waits for a sync.
    pub fn tick(&mut self) -> Result<CommitReport> {
        let now_ns = self.config.clock.now_ns();
        self.wal.flush(now_ns)?;
        self.stats.wal_bytes_written = self.wal.bytes_written();
        self.progress_seals()?;
        let age = self.config.seal_age_ns;
        let old: Vec<HotKey> = self
            .hot
            .buffers
            .iter()
            .filter(|(_, b)| b.rows() > 0 && now_ns.saturating_sub(b.created_ns) >= age)
            .map(|(k, _)| *k)
            .collect();
        if !old.is_empty() {
            self.seal(&old)?;
        }
        Ok(self.report())
    }

    /// Commits, syncs the WAL whatever the policy (and waits for it), and seals every hot
    /// buffer (for shutdown).
    pub fn seal_all(&mut self) -> Result<CommitReport> {
        let now_ns = self.config.clock.now_ns();
        self.wal.sync(now_ns)?;
        // Every row is about to be sealed: a fresh segment lets the seal delete all the others,
        // so the next open has nothing to replay.
        self.wal.roll_if_not_empty()?;
        let all: Vec<HotKey> = self
            .hot
            .buffers
            .iter()
            .filter(|(_, b)| b.rows() > 0)
            .map(|(k, _)| *k)
            .collect();
        self.seal(&all)?;
        self.drain_seals()?;
        Ok(self.report())
    }

    fn report(&self) -> CommitReport {
        CommitReport {
            written_seq: self.wal.written_seq(),
            durable_seq: self.wal.durable_seq(),
        }
    }

    /// Sorts each buffer by time, writes it as blocks (one per day partition it spans), indexes
    /// the blocks in one record, then drops the buffers and WAL segments wholly covered by
    /// sealed data. On a write error nothing is dropped.
    ///
    /// Under `always`/`batch` a block must be durable before its index record is written. The
    /// shard thread does not wait for that: the blocks become visible to scans at once (their
    /// bytes are in the page cache and mapped), the sync thread syncs the column files and the
    /// dictionary, and later commits write the index record, have it synced, and only then
    /// have the sync thread delete the WAL segments the seal covers (`progress_seals`). A crash in between loses
    /// nothing: unindexed column bytes are cut at recovery and the WAL still holds the rows.
    fn seal(&mut self, keys: &[HotKey]) -> Result<()> {
        let pipelined = self.config.fsync.syncs();
        self.dict.flush(false)?;
        let mut group: Vec<BlockMeta> = Vec::new();
        let mut touched: HashSet<(TableId, i32)> = HashSet::new();
        let staged = (|| -> Result<()> {
            // Pass 1: sort each buffer and cut it into one block per day partition.
            let mut cuts: Vec<(HotKey, i32, usize, usize)> = Vec::new();
            for hk in keys {
                let Some(schema) = self.catalog.get_by_id(hk.0) else {
                    continue;
                };
                let Some(buf) = self.hot.buffers.get_mut(hk) else {
                    continue;
                };
                if buf.rows() == 0 {
                    continue;
                }
                buf.sort_by_time(schema.ts_index);
                let ts = buf.ts(schema.ts_index);
                let mut lo = 0;
                while lo < ts.len() {
                    let day = day_of(ts[lo]);
                    let next_day_start = (day as i64 + 1).saturating_mul(crate::types::NS_PER_DAY);
                    let hi = lo + ts[lo..].partition_point(|&t| t < next_day_start);
                    if let std::collections::hash_map::Entry::Vacant(e) =
                        self.partitions.entry((hk.0, day))
                    {
                        self.stats.partitions_created += 1;
                        e.insert(Partition::open(
                            table_dir(&self.dir, hk.0).join(day_name(day)),
                            &HashMap::new(),
                        )?);
                    }
                    touched.insert((hk.0, day));
                    group.push(BlockMeta {
                        table_id: hk.0,
                        day,
                        key: hk.1,
                        rows: (hi - lo) as u32,
                        min_ts: ts[lo],
                        max_ts: ts[hi - 1],
                        max_seq: buf.max_seq,
                        columns: Vec::with_capacity(schema.columns.len()),
                    });
                    cuts.push((*hk, day, lo, hi));
                    lo = hi;
                }
            }
            // Pass 2, column by column: consecutive regions go to the same file and are written
            // together, straight from the hot buffers (see `IoBatch`).
            let buffers = &self.hot.buffers;
            let mut batch = IoBatch::new();
            let columns_max = cuts
                .iter()
                .filter_map(|c| self.catalog.get_by_id(c.0 .0))
                .map(|t| t.columns.len())
                .max()
                .unwrap_or(0);
            for pos in 0..columns_max {
                for (meta, &(hk, day, lo, hi)) in group.iter_mut().zip(&cuts) {
                    let schema = self.catalog.get_by_id(hk.0).expect("checked in pass 1");
                    let Some(c) = schema.columns.get(pos) else {
                        continue;
                    };
                    let part = self.partitions.get_mut(&(hk.0, day)).expect("opened");
                    meta.columns.push(part.write_column(
                        c.id,
                        c.ty,
                        &buffers[&hk].cols[pos],
                        lo..hi,
                        pos == schema.ts_index,
                        &mut self.seal_scratch,
                        &mut batch,
                    )?);
                }
            }
            batch.flush()?;
            for pk in &touched {
                self.partitions.get_mut(pk).expect("touched").flush(false)?;
            }
            Ok(())
        })();
        if let Err(e) = staged {
            for pk in &touched {
                if let Some(p) = self.partitions.get_mut(pk) {
                    p.discard_unflushed();
                }
            }
            return Err(e);
        }
        if group.is_empty() {
            return Ok(());
        }
        let dict_len = u32::try_from(self.dict.len()).expect("fewer than 2^32 symbols");
        let record = IndexRecord::Seal {
            dict_len,
            blocks: group,
        };
        let ticket = if pipelined {
            let mut files = Vec::with_capacity(touched.len() * 8 + 1);
            files.extend(self.dict.take_dirty());
            for pk in &touched {
                self.partitions
                    .get_mut(pk)
                    .expect("touched")
                    .take_dirty(&mut files);
            }
            Some(self.wal.sync_files(&files)?)
        } else {
            self.index.append(&record, false)?;
            None
        };
        self.stats.seals += 1;
        let IndexRecord::Seal { blocks: group, .. } = &record else {
            unreachable!("built above")
        };
        for b in group {
            self.stats.rows_sealed += b.rows as u64;
            self.stats.blocks_sealed += 1;
            self.stats.sealed_rows += b.rows as u64;
            self.stats.blocks += 1;
            let hk = (b.table_id, b.key);
            if let Some(buf) = self.hot.remove(&hk) {
                debug_assert!(buf.max_seq <= b.max_seq);
                self.hot.recycle(hk.0, buf, self.config.hot_bytes_max);
            }
            let list = self.blocks.entry(hk).or_default();
            let at = list.partition_point(|x| x.min_ts <= b.min_ts);
            list.insert(at, b.clone());
        }
        self.hot
            .queued
            .retain(|k| self.hot.buffers.get(k).is_some_and(|b| b.queued));
        let watermark = self.hot.min_seq().unwrap_or(self.wal.last_seq() + 1);
        debug_assert_eq!(
            self.stats.blocks,
            self.blocks.values().map(|l| l.len() as u64).sum::<u64>(),
            "block count kept up to date"
        );
        match ticket {
            None => {
                self.wal.delete_before(watermark)?;
            }
            Some(ticket) => {
                self.pending_seals.push_back(PendingSeal {
                    record,
                    stage: SealStage::Files(ticket),
                    watermark,
                });
            }
        }
        Ok(())
    }

    /// Moves pipelined seals along without waiting: writes the index records of seals whose
    /// files are synced (in seal order), requests one sync of the index for them, and retires
    /// seals whose index record is durable by deleting the WAL segments they cover.
    fn progress_seals(&mut self) -> Result<()> {
        if self.pending_seals.is_empty() {
            return Ok(());
        }
        let mut wrote = false;
        for p in self.pending_seals.iter_mut() {
            match p.stage {
                SealStage::Files(t) if self.wal.files_synced(t) => {
                    self.index.append(&p.record, false)?;
                    p.stage = SealStage::Written;
                    wrote = true;
                }
                SealStage::Files(_) => break,
                SealStage::Written | SealStage::Index(_) => {}
            }
        }
        if wrote
            || self
                .pending_seals
                .iter()
                .any(|p| p.stage == SealStage::Written)
        {
            let t = self
                .wal
                .sync_files(std::slice::from_ref(self.index.file()))?;
            for p in self.pending_seals.iter_mut() {
                if p.stage == SealStage::Written {
                    p.stage = SealStage::Index(t);
                }
            }
        }
        let mut watermark = None;
        while let Some(p) = self.pending_seals.front() {
            match p.stage {
                SealStage::Index(t) if self.wal.files_synced(t) => {
                    watermark = Some(p.watermark);
                    self.pending_seals.pop_front();
                }
                _ => break,
            }
        }
        if let Some(w) = watermark {
            self.last_delete_ticket = self.wal.delete_before_async(w)?;
        }
        Ok(())
    }

    /// Waits until every pipelined seal is durable in the index and the WAL segments they
    /// covered are deleted (shutdown, retention).
    fn drain_seals(&mut self) -> Result<()> {
        loop {
            self.progress_seals()?;
            let Some(p) = self.pending_seals.front() else {
                return self.wal.wait_files(self.last_delete_ticket);
            };
            match p.stage {
                SealStage::Files(t) | SealStage::Index(t) => self.wal.wait_files(t)?,
                SealStage::Written => unreachable!("progress_seals requested the index sync"),
            }
        }
    }

    /// Seals not yet durable in the block index (pipelined under `always`/`batch`).
    pub fn seals_pending(&self) -> usize {
        self.pending_seals.len()
    }

    fn refresh_block_stats(&mut self) {
        self.stats.blocks = self.blocks.values().map(|l| l.len() as u64).sum();
        self.stats.sealed_rows = self.blocks.values().flatten().map(|b| b.rows as u64).sum();
    }

    // ----- Retention -----

    /// Removes every day partition of `table` that lies wholly before `cutoff_ts` (and hot rows
    /// of those days). Returns the number of partitions removed.
    pub fn drop_before(&mut self, table: &str, cutoff_ts: i64) -> Result<usize> {
        let schema = self.catalog.require(table)?.clone();
        // A seal record indexed after the drop record would bring dropped blocks back.
        self.drain_seals()?;
        let cutoff_day = day_of(cutoff_ts);
        // Staged records are covered too: they were appended before the drop.
        let seq = self.wal.last_seq();
        self.index.append(
            &IndexRecord::DropBefore {
                table_id: schema.id,
                cutoff_day,
                seq,
            },
            true,
        )?;
        for ((t, _), list) in self.blocks.iter_mut() {
            if *t == schema.id {
                list.retain(|b| b.day >= cutoff_day);
            }
        }
        self.blocks.retain(|_, l| !l.is_empty());
        let keys: Vec<HotKey> = self
            .hot
            .buffers
            .keys()
            .filter(|k| k.0 == schema.id)
            .copied()
            .collect();
        for k in keys {
            let mut buf = self.hot.remove(&k).expect("listed");
            let ts: Vec<i64> = buf.ts(schema.ts_index).to_vec();
            buf.retain_rows(|i| day_of(ts[i]) >= cutoff_day);
            if buf.rows() > 0 {
                self.hot.rows += buf.rows();
                self.hot.bytes += buf.bytes();
                self.hot.buffers.insert(k, buf);
            }
        }
        self.hot.queued.retain(|k| self.hot.buffers.contains_key(k));
        let doomed: Vec<(TableId, i32)> = self
            .partitions
            .keys()
            .filter(|(t, d)| *t == schema.id && *d < cutoff_day)
            .copied()
            .collect();
        for pk in &doomed {
            let p = self.partitions.remove(pk).expect("listed");
            fs::remove_dir_all(&p.dir).at(&p.dir)?;
        }
        self.stats.partitions_dropped += doomed.len() as u64;
        self.refresh_block_stats();
        Ok(doomed.len())
    }

    // ----- Read path -----

    /// Calls `visit` with time-sorted views of the requested rows: per key ascending, its sealed
    /// blocks (pruned by time range, ordered by first timestamp) and then its hot rows. Blocks
    /// of one key can overlap in time when late rows arrived after a seal.
    pub fn scan(
        &mut self,
        spec: &ScanSpec,
        mut visit: impl FnMut(&BlockView<'_>) -> ControlFlow<()>,
    ) -> Result<ScanStats> {
        let schema = self
            .catalog
            .get_by_id(spec.table)
            .ok_or_else(|| RequestError::UnknownTable(format!("#{}", spec.table)))?;
        for &pos in &spec.columns {
            if pos >= schema.columns.len() {
                return Err(RequestError::UnknownColumn {
                    table: schema.name.clone(),
                    column: format!("#{pos}"),
                }
                .into());
            }
        }
        let keys = match &spec.keys {
            Some(k) => {
                let mut k = k.clone();
                k.sort_unstable();
                k.dedup();
                k
            }
            None => self.keys(spec.table),
        };
        for &k in &keys {
            if let Some(buf) = self.hot.buffers.get_mut(&(spec.table, k)) {
                buf.sort_by_time(schema.ts_index);
            }
        }
        let mut stats = ScanStats::default();
        if spec.ts_min > spec.ts_max {
            return Ok(stats);
        }
        for &k in &keys {
            if let Some(list) = self.blocks.get(&(spec.table, k)) {
                for b in list {
                    if b.max_ts < spec.ts_min || b.min_ts > spec.ts_max {
                        stats.blocks_pruned += 1;
                        continue;
                    }
                    let part = self.partitions.get(&(b.table_id, b.day)).ok_or_else(|| {
                        corrupt(
                            table_dir(&self.dir, b.table_id).join(day_name(b.day)),
                            0,
                            "partition of an indexed block is missing",
                        )
                    })?;
                    let view = block_view(schema, part, b, spec, &self.dict)?;
                    stats.blocks_read += 1;
                    stats.rows_read += view.rows as u64;
                    if view.rows > 0 && visit(&view).is_break() {
                        return Ok(stats);
                    }
                }
            }
            if let Some(buf) = self.hot.buffers.get(&(spec.table, k)) {
                let ts = buf.ts(schema.ts_index);
                let lo = ts.partition_point(|&t| t < spec.ts_min);
                let hi = ts.partition_point(|&t| t <= spec.ts_max);
                if lo < hi {
                    let columns = spec
                        .columns
                        .iter()
                        .map(|&pos| hot_slice(schema.columns[pos].ty, &buf.cols[pos], lo, hi))
                        .collect();
                    let view = BlockView {
                        key: k,
                        rows: hi - lo,
                        columns,
                        meta: None,
                        symbols: &self.dict,
                    };
                    stats.blocks_read += 1;
                    stats.rows_read += view.rows as u64;
                    if visit(&view).is_break() {
                        return Ok(stats);
                    }
                }
            }
        }
        Ok(stats)
    }

    /// Re-reads every sealed block and checks its CRCs and time order. Slow; for tools and tests.
    pub fn verify(&self) -> Result<u64> {
        let mut rows = 0;
        for list in self.blocks.values() {
            for b in list {
                let part = self
                    .partitions
                    .get(&(b.table_id, b.day))
                    .ok_or_else(|| corrupt(&self.dir, 0, "partition missing"))?;
                for c in &b.columns {
                    let f = part.files.get(&c.id).ok_or_else(|| {
                        corrupt(&part.dir, 0, format!("column file c{}.col missing", c.id))
                    })?;
                    let mut crc = crc32c::crc32c(f.bytes(c.offset, c.data_bytes)?);
                    if c.null_count > 0 {
                        crc = crc32c::crc32c_append(
                            crc,
                            f.bytes(c.validity_offset, (b.rows as u64).div_ceil(8))?,
                        );
                    }
                    if crc != c.crc {
                        return Err(corrupt(
                            f.path(),
                            c.offset,
                            format!("block CRC mismatch (block of {} rows)", b.rows),
                        ));
                    }
                }
                rows += b.rows as u64;
            }
        }
        Ok(rows)
    }

    /// Asserts the structural invariants (tests call this after every step).
    pub fn check_invariants(&self) {
        let mut rows = 0;
        for (k, buf) in &self.hot.buffers {
            let schema = self
                .catalog
                .get_by_id(k.0)
                .expect("hot buffer of a live table");
            assert_eq!(
                buf.cols.len(),
                schema.columns.len(),
                "hot buffer has every column"
            );
            buf.check_invariants(schema.ts_index);
            rows += buf.rows();
        }
        assert_eq!(rows, self.hot.rows, "hot row count");
        let bytes: usize = self.hot.buffers.values().map(HotBuffer::bytes).sum();
        assert_eq!(bytes, self.hot.bytes, "hot byte count");
        for (k, list) in &self.blocks {
            assert!(
                self.catalog.get_by_id(k.0).is_some(),
                "blocks of a live table"
            );
            assert!(
                list.windows(2).all(|w| w[0].min_ts <= w[1].min_ts),
                "blocks ordered"
            );
            for b in list {
                assert_eq!((b.table_id, b.key), *k);
                assert!(b.min_ts <= b.max_ts && b.rows > 0);
                assert!(
                    day_of(b.min_ts) == b.day && day_of(b.max_ts) == b.day,
                    "block within its day"
                );
                assert!(
                    self.partitions.contains_key(&(b.table_id, b.day)),
                    "partition open"
                );
            }
        }
    }
}

/// Whether every row of a WAL record is in a sealed block, decided from its header alone: the
/// key column was logged as codes into the batch dictionary, and every symbol of that
/// dictionary is a key of the table sealed through `seq` or later. Recovery then skips the
/// record without decoding it (the common case: a segment that a seal covered but that was
/// not deleted before a restart). Anything else is decoded and filtered row by row.
fn all_rows_sealed(
    head: &record::Header<'_>,
    seq: Seq,
    schema: &TableSchema,
    dict: &SymbolDict,
    sealed_seq: &HashMap<HotKey, Seq>,
) -> bool {
    if schema.key_type() != ColumnType::Symbol || head.symbol_count() == 0 {
        return false;
    }
    let key_id = schema.columns[schema.key_index].id;
    if head.column_physical(key_id) != Some(Physical::Sym) {
        return false;
    }
    let mut symbols = head.symbols();
    symbols.all(|s| {
        s.and_then(|s| dict.lookup(s)).is_some_and(|id| {
            sealed_seq
                .get(&(schema.id, id as SymKey))
                .is_some_and(|&sealed| seq <= sealed)
        })
    })
}

/// Checks a batch against its table, pairing each column with its schema position in
/// `columns` (cleared first). Returns the number of rows.
fn resolve(
    schema: &TableSchema,
    batch: &Batch,
    columns: &mut Vec<ResolvedColumn>,
) -> Result<usize, RequestError> {
    columns.clear();
    let rows = batch.rows();
    for (src, bc) in batch.columns.iter().enumerate() {
        let pos = schema
            .column_index(&bc.name)
            .ok_or_else(|| RequestError::UnknownColumn {
                table: schema.name.clone(),
                column: bc.name.clone(),
            })?;
        if columns.iter().any(|c| c.pos as usize == pos) {
            return Err(RequestError::InvalidSchema(format!(
                "column '{}' given twice",
                bc.name
            )));
        }
        let c = &schema.columns[pos];
        let got = bc.data.values.physical();
        let ok = got == c.ty.physical() || (c.ty == ColumnType::Symbol && got == Physical::Str);
        if !ok {
            return Err(RequestError::TypeMismatch {
                table: schema.name.clone(),
                column: c.name.clone(),
                expected: c.ty.name(),
                got: got.name(),
            });
        }
        if bc.data.len() != rows {
            return Err(RequestError::RowCountMismatch {
                column: bc.name.clone(),
                expected: rows,
                got: bc.data.len(),
            });
        }
        if let Some(v) = &bc.data.validity {
            if v.len() != rows {
                return Err(RequestError::RowCountMismatch {
                    column: format!("{} (validity)", bc.name),
                    expected: rows,
                    got: v.len(),
                });
            }
            if (pos == schema.ts_index || pos == schema.key_index) && v.null_count() > 0 {
                let row = (0..rows).find(|&r| !v.get(r)).expect("a null exists");
                return Err(RequestError::NullInRequiredColumn {
                    column: bc.name.clone(),
                    row,
                });
            }
        }
        match &bc.data.values {
            Values::Sym(codes) => {
                let len = batch.symbols.len();
                if codes.iter().any(|&c| c as usize >= len) {
                    let (row, &code) = codes
                        .iter()
                        .enumerate()
                        .find(|(_, &c)| c as usize >= len)
                        .expect("a bad code exists");
                    return Err(RequestError::BadSymbolCode {
                        row,
                        code,
                        dict_len: len,
                    });
                }
            }
            Values::Str(s) if c.ty == ColumnType::Symbol => {
                for i in (0..s.len()).filter(|&i| bc.data.is_valid(i)) {
                    let v = s.get(i);
                    if v.len() > SYMBOL_BYTES_MAX {
                        return Err(RequestError::StringTooLong {
                            column: bc.name.clone(),
                            len: v.len(),
                            max: SYMBOL_BYTES_MAX,
                        });
                    }
                    if std::str::from_utf8(v).is_err() {
                        return Err(RequestError::InvalidUtf8 {
                            column: bc.name.clone(),
                            row: i,
                        });
                    }
                }
            }
            _ => {}
        }
        columns.push(ResolvedColumn {
            pos: pos as u32,
            id: c.id,
            src: src as u32,
        });
    }
    for required in [schema.ts_index, schema.key_index] {
        if !columns.iter().any(|c| c.pos as usize == required) && rows > 0 {
            return Err(RequestError::MissingColumn {
                table: schema.name.clone(),
                column: schema.columns[required].name.clone(),
            });
        }
    }
    if batch.symbols.iter().any(|s| s.len() > SYMBOL_BYTES_MAX) {
        return Err(RequestError::StringTooLong {
            column: "(batch symbols)".into(),
            len: batch.symbols.iter().map(String::len).max().unwrap_or(0),
            max: SYMBOL_BYTES_MAX,
        });
    }
    Ok(rows)
}

fn table_dir(dir: &Path, table: TableId) -> PathBuf {
    dir.join("tables").join(table.to_string())
}

/// Opens every partition that indexed blocks live in (cutting leftovers of torn seals) and
/// removes directories no live block references.
fn open_partitions(
    dir: &Path,
    catalog: &Catalog,
    blocks: &BTreeMap<HotKey, Vec<BlockMeta>>,
) -> Result<HashMap<(TableId, i32), Partition>> {
    let mut extents: HashMap<(TableId, i32), HashMap<ColumnId, u64>> = HashMap::new();
    for b in blocks.values().flatten() {
        let e = extents.entry((b.table_id, b.day)).or_default();
        for c in &b.columns {
            let mut end = c.offset + c.data_bytes;
            if c.null_count > 0 {
                end = end.max(c.validity_offset + (b.rows as u64).div_ceil(8));
            }
            let x = e.entry(c.id).or_insert(0);
            *x = (*x).max(end);
        }
    }
    let tables = dir.join("tables");
    for entry in fs::read_dir(&tables).at(&tables)? {
        let entry = entry.at(&tables)?;
        let tid = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<TableId>().ok());
        let live = tid.is_some_and(|t| catalog.get_by_id(t).is_some());
        if !live {
            log::warn!("removing data of dropped table {}", entry.path().display());
            fs::remove_dir_all(entry.path()).at(entry.path())?;
            continue;
        }
        let tid = tid.expect("live");
        for day_entry in fs::read_dir(entry.path()).at(entry.path())? {
            let day_entry = day_entry.at(entry.path())?;
            let day = day_entry
                .file_name()
                .to_str()
                .and_then(crate::types::parse_day_name);
            if day.is_none_or(|d| !extents.contains_key(&(tid, d))) {
                fs::remove_dir_all(day_entry.path()).at(day_entry.path())?;
            }
        }
    }
    let mut partitions = HashMap::new();
    for ((tid, day), ext) in extents {
        let p = Partition::open(table_dir(dir, tid).join(day_name(day)), &ext)?;
        partitions.insert((tid, day), p);
    }
    Ok(partitions)
}

fn hot_slice(ty: ColumnType, col: &ColumnBuf, lo: usize, hi: usize) -> ColumnSlice<'_> {
    let data = match &col.values {
        Values::I64(v) => ColumnData::I64(&v[lo..hi]),
        Values::U64(v) => ColumnData::U64(&v[lo..hi]),
        Values::F64(v) => ColumnData::F64(&v[lo..hi]),
        Values::Bool(v) => ColumnData::Bool(&v[lo..hi]),
        Values::Sym(v) => ColumnData::Sym(&v[lo..hi]),
        Values::Str(s) => ColumnData::Str {
            offsets: &s.offsets[lo..=hi],
            bytes: &s.bytes,
        },
    };
    let validity = col.validity.as_ref().map(|b| Validity {
        bits: b.bytes(),
        offset: lo,
        len: hi - lo,
    });
    ColumnSlice { ty, data, validity }
}

fn block_view<'a>(
    schema: &TableSchema,
    part: &'a Partition,
    b: &'a BlockMeta,
    spec: &ScanSpec,
    symbols: &'a SymbolDict,
) -> Result<BlockView<'a>> {
    let rows = b.rows as usize;
    let column = |id: ColumnId| -> Result<
        Option<(
            &'a crate::index::BlockColumn,
            &'a [u8],
            Option<&'a [u8]>,
            &'a Path,
        )>,
    > {
        let Some(c) = b.columns.iter().find(|c| c.id == id) else {
            return Ok(None);
        };
        let f = part
            .files
            .get(&id)
            .ok_or_else(|| corrupt(&part.dir, 0, format!("column file c{id}.col missing")))?;
        let data = f.bytes(c.offset, c.data_bytes)?;
        let validity = if c.null_count > 0 {
            Some(f.bytes(c.validity_offset, rows.div_ceil(8) as u64)?)
        } else {
            None
        };
        Ok(Some((c, data, validity, f.path())))
    };
    let bad = |path: &Path, offset: u64, what: &str| {
        corrupt(path, offset, format!("{what} in block of {rows} rows"))
    };
    // Narrow to the requested time range by binary search on the sorted timestamps.
    let ts_id = schema.columns[schema.ts_index].id;
    let (c, ts_bytes, _, path) =
        column(ts_id)?.ok_or_else(|| bad(&part.dir, 0, "no timestamp column"))?;
    let ts: &[i64] = cast(ts_bytes)
        .filter(|t| t.len() == rows)
        .ok_or_else(|| bad(path, c.offset, "bad timestamp region"))?;
    let lo = ts.partition_point(|&t| t < spec.ts_min);
    let hi = ts.partition_point(|&t| t <= spec.ts_max).max(lo);
    let mut columns = Vec::with_capacity(spec.columns.len());
    for &pos in &spec.columns {
        let sc = &schema.columns[pos];
        let Some((c, data, validity, path)) = column(sc.id)? else {
            columns.push(ColumnSlice {
                ty: sc.ty,
                data: ColumnData::Null,
                validity: None,
            });
            continue;
        };
        if c.ty != sc.ty {
            return Err(bad(path, c.offset, "column type differs from the catalog"));
        }
        let wrong = || bad(path, c.offset, "bad values region");
        let data = match sc.ty.physical() {
            Physical::I64 => ColumnData::I64(
                &cast::<i64>(data)
                    .filter(|v| v.len() == rows)
                    .ok_or_else(wrong)?[lo..hi],
            ),
            Physical::U64 => ColumnData::U64(
                &cast::<u64>(data)
                    .filter(|v| v.len() == rows)
                    .ok_or_else(wrong)?[lo..hi],
            ),
            Physical::F64 => ColumnData::F64(
                &cast::<f64>(data)
                    .filter(|v| v.len() == rows)
                    .ok_or_else(wrong)?[lo..hi],
            ),
            Physical::Bool => ColumnData::Bool(
                data.get(lo..hi)
                    .filter(|_| data.len() == rows)
                    .ok_or_else(wrong)?,
            ),
            Physical::Sym => ColumnData::Sym(
                &cast::<u32>(data)
                    .filter(|v| v.len() == rows)
                    .ok_or_else(wrong)?[lo..hi],
            ),
            Physical::Str => {
                let split = (rows + 1) * 4;
                let offsets: &[u32] = data.get(..split).and_then(cast).ok_or_else(wrong)?;
                let bytes = &data[split..];
                if offsets[0] != 0 || offsets[rows] as usize != bytes.len() {
                    return Err(wrong());
                }
                ColumnData::Str {
                    offsets: &offsets[lo..=hi],
                    bytes,
                }
            }
        };
        columns.push(ColumnSlice {
            ty: sc.ty,
            data,
            validity: validity.map(|bits| Validity {
                bits,
                offset: lo,
                len: hi - lo,
            }),
        });
    }
    Ok(BlockView {
        key: b.key,
        rows: hi - lo,
        columns,
        meta: Some(b),
        symbols,
    })
}

#[cfg(test)]
mod sync_tests {
    //! The sync thread as the shard uses it: durability only after a sync, `always` without
    //! waiting, the waker, pipelined seals and segment rolls with syncs in flight.

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::batch::Batch;

    const T0: i64 = 20_412 * crate::types::NS_PER_DAY;

    fn config(fsync: FsyncPolicy, block_rows: usize, wal_segment_bytes: u64) -> ShardConfig {
        ShardConfig {
            fsync,
            block_rows,
            wal_segment_bytes,
            ..ShardConfig::default()
        }
    }

    fn trades(i: i64, rows: usize) -> Batch {
        let syms: Vec<String> = (0..rows).map(|r| format!("S{}", r % 3)).collect();
        Batch::new("trades")
            .i64s(
                "timestamp",
                (0..rows as i64).map(|r| T0 + i * 1000 + r).collect(),
            )
            .strs("symbol", syms)
            .f64s("price", vec![i as f64; rows])
            .i64s("volume", vec![i; rows])
    }

    /// Like `trades`, with the symbol column as codes into the batch dictionary.
    fn trades_coded(i: i64, rows: usize) -> Batch {
        let dict: Vec<String> = (0..3).map(|s| format!("S{s}")).collect();
        Batch::new("trades")
            .i64s(
                "timestamp",
                (0..rows as i64).map(|r| T0 + i * 1000 + r).collect(),
            )
            .symbol_codes("symbol", dict, (0..rows as u32).map(|r| r % 3).collect())
            .f64s("price", vec![i as f64; rows])
            .i64s("volume", vec![i; rows])
    }

    fn rows(shard: &mut Shard) -> usize {
        let id = shard.catalog().get("trades").unwrap().id;
        let mut n = 0;
        shard
            .scan(&ScanSpec::all(id, vec![0]), |v| {
                n += v.rows;
                ControlFlow::Continue(())
            })
            .unwrap();
        n
    }

    #[test]
    fn durable_seq_advances_only_after_a_sync_completes() {
        let dir = tempfile::tempdir().unwrap();
        let (mut shard, _) =
            Shard::open(dir.path(), config(FsyncPolicy::Always, 1 << 20, 64 << 20)).unwrap();
        let syncs = shard.wal_syncs();
        shard.wal.syncer().pause();
        let seq = shard.append(&trades(1, 10)).unwrap();
        let r = shard.commit_nowait().unwrap();
        assert_eq!(r.written_seq, seq);
        assert!(
            r.durable_seq < seq,
            "no sync ran, nothing is durable: {r:?}"
        );
        assert_eq!(shard.durable_seq(), r.durable_seq);
        assert_eq!(shard.wal_syncs(), syncs, "the sync thread is held");
        shard.wal.syncer().resume();
        assert!(shard.wait_durable(seq).unwrap() >= seq);
        assert!(shard.wal_syncs() > syncs, "durability came from a sync");
    }

    #[test]
    fn always_commit_nowait_then_wait_durable_and_the_waker() {
        let dir = tempfile::tempdir().unwrap();
        let (mut shard, _) =
            Shard::open(dir.path(), config(FsyncPolicy::Always, 1 << 20, 64 << 20)).unwrap();
        let woken = Arc::new(AtomicUsize::new(0));
        let w = Arc::clone(&woken);
        shard.set_sync_waker(Some(Arc::new(move || {
            w.fetch_add(1, Ordering::SeqCst);
        })));
        let mut last = 0;
        for i in 0..20 {
            last = shard.append(&trades(i, 5)).unwrap();
            let r = shard.commit_nowait().unwrap();
            assert_eq!(r.written_seq, last);
        }
        assert_eq!(shard.wait_durable(last).unwrap(), last);
        assert!(woken.load(Ordering::SeqCst) >= 1, "the waker ran");
        // `commit` under always returns only once the write is durable.
        let seq = shard.append(&trades(99, 5)).unwrap();
        let r = shard.commit().unwrap();
        assert!(r.durable_seq >= seq && shard.durable_seq() >= seq, "{r:?}");
        shard.set_sync_waker(None);
    }

    #[test]
    fn pipelined_seal_indexes_only_after_its_files_are_synced() {
        let dir = tempfile::tempdir().unwrap();
        let (mut shard, _) = Shard::open(
            dir.path(),
            config(FsyncPolicy::Batch { interval_ms: 1 }, 4, 64 << 20),
        )
        .unwrap();
        let index_len = shard.index.len_bytes();
        shard.wal.syncer().pause();
        for i in 0..10 {
            shard.append(&trades(i, 6)).unwrap();
            shard.commit_nowait().unwrap();
        }
        shard.check_invariants();
        assert!(shard.stats().blocks > 0, "blocks are visible at once");
        assert!(shard.seals_pending() > 0);
        assert_eq!(
            shard.index.len_bytes(),
            index_len,
            "no index record before the files are synced"
        );
        assert_eq!(rows(&mut shard), 60);
        shard.wal.syncer().resume();
        shard.drain_seals().unwrap();
        assert_eq!(shard.seals_pending(), 0);
        assert!(shard.index.len_bytes() > index_len);
        shard.check_invariants();
        drop(shard);
        let (mut shard, report) =
            Shard::open(dir.path(), config(FsyncPolicy::Never, 4, 256)).unwrap();
        assert!(report.blocks > 0);
        assert_eq!(rows(&mut shard), 60);
        shard.check_invariants();
    }

    /// (The WAL segments above are large: a roll under `always`/`batch` waits for a sync, which
    /// would wait for ever while the sync thread is paused.)
    ///
    /// A shard that stops before its pipelined seals finish (a crash, modelled by forgetting
    /// the pending seals) loses nothing: the WAL still holds their rows.
    #[test]
    fn unfinished_pipelined_seals_replay_from_the_wal() {
        let dir = tempfile::tempdir().unwrap();
        let (mut shard, _) =
            Shard::open(dir.path(), config(FsyncPolicy::Always, 4, 64 << 20)).unwrap();
        shard.wal.syncer().pause();
        let mut last = 0;
        for i in 0..10 {
            last = shard.append(&trades(i, 6)).unwrap();
            shard.commit_nowait().unwrap();
        }
        assert!(shard.seals_pending() > 0);
        shard.pending_seals.clear();
        shard.wal.syncer().resume();
        shard.wait_durable(last).unwrap();
        drop(shard);
        let (mut shard, report) =
            Shard::open(dir.path(), config(FsyncPolicy::Never, 4, 256)).unwrap();
        assert_eq!(report.blocks, 0, "no seal record was written");
        assert_eq!(rows(&mut shard), 60, "every row is back from the WAL");
        shard.check_invariants();
    }

    /// Tiny segments roll at almost every commit while syncs are requested but not waited for;
    /// everything reopens intact and sealed WAL segments are gone.
    #[test]
    fn segments_roll_and_are_deleted_with_syncs_in_flight() {
        for fsync in [FsyncPolicy::Always, FsyncPolicy::Batch { interval_ms: 0 }] {
            let dir = tempfile::tempdir().unwrap();
            let (mut shard, _) = Shard::open(dir.path(), config(fsync, 8, 200)).unwrap();
            let mut last = 0;
            for i in 0..200 {
                last = shard.append(&trades(i, 1 + (i as usize % 7))).unwrap();
                shard.commit_nowait().unwrap();
            }
            shard.wait_durable(last).unwrap();
            let expected = rows(&mut shard);
            shard.seal_all().unwrap();
            let wal_files = std::fs::read_dir(dir.path().join("wal")).unwrap().count();
            assert!(
                wal_files <= 2,
                "{fsync:?}: sealed segments deleted, {wal_files} left"
            );
            drop(shard);
            let (mut shard, report) = Shard::open(dir.path(), config(fsync, 8, 200)).unwrap();
            assert_eq!(report.wal.truncated, None);
            assert_eq!(rows(&mut shard), expected, "{fsync:?}");
            assert_eq!(shard.stats().hot_rows, 0);
            shard.check_invariants();
        }
    }

    /// After a failed sync nothing more becomes durable and every commit and wait fails:
    /// the kernel may have dropped the pages it could not write.
    #[test]
    fn a_failed_sync_is_sticky() {
        let dir = tempfile::tempdir().unwrap();
        let (mut shard, _) =
            Shard::open(dir.path(), config(FsyncPolicy::Always, 1 << 20, 64 << 20)).unwrap();
        let first = shard.append(&trades(1, 3)).unwrap();
        assert!(shard.commit().unwrap().durable_seq >= first);
        shard.wal.syncer().pause();
        let seq = shard.append(&trades(2, 3)).unwrap();
        shard.commit_nowait().unwrap();
        shard.wal.syncer().fail();
        shard.wal.syncer().resume();
        assert!(matches!(
            shard.wait_durable(seq),
            Err(crate::StorageError::Io { .. })
        ));
        assert!(shard.durable_seq() < seq);
        shard.append(&trades(3, 3)).unwrap();
        assert!(matches!(
            shard.commit(),
            Err(crate::StorageError::Io { .. })
        ));
        assert!(shard.durable_seq() < seq, "no durability after the failure");
    }

    /// Replay skips records whose rows are all sealed without decoding them, and still
    /// replays every row that is not sealed (same WAL segment, other keys, later seqs).
    #[test]
    fn reopen_skips_sealed_records_undecoded() {
        let dir = tempfile::tempdir().unwrap();
        let (mut shard, _) =
            Shard::open(dir.path(), config(FsyncPolicy::Never, 30, 64 << 20)).unwrap();
        // Symbols S0..S2, 10 rows each per batch: three batches fill all three buffers.
        for i in 0..3 {
            shard.append(&trades_coded(i, 30)).unwrap();
            shard.commit().unwrap();
        }
        assert_eq!(shard.stats().hot_rows, 0, "all sealed");
        // One more batch stays hot.
        shard.append(&trades_coded(3, 4)).unwrap();
        shard.commit().unwrap();
        let expected = rows(&mut shard);
        drop(shard); // no seal_all: the WAL segment still holds the sealed records
        let (mut shard, report) =
            Shard::open(dir.path(), config(FsyncPolicy::Never, 30, 64 << 20)).unwrap();
        assert_eq!(report.wal.records, 4);
        assert_eq!(report.records_skipped_undecoded, 3, "{report:?}");
        assert_eq!((report.rows_skipped, report.rows_replayed), (90, 4));
        assert_eq!(rows(&mut shard), expected);
        shard.check_invariants();
        // After seal_all the next open has no WAL to read at all.
        shard.seal_all().unwrap();
        drop(shard);
        let (mut shard, report) =
            Shard::open(dir.path(), config(FsyncPolicy::Never, 30, 64 << 20)).unwrap();
        assert_eq!(report.wal.records, 0, "{report:?}");
        assert_eq!(rows(&mut shard), expected);
    }
}
