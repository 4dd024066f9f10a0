//! The `Shard`: ties catalog, WAL, hot buffers, sealed partitions and the block index together.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::batch::{Batch, ColumnBuf, Values};
use crate::catalog::{Catalog, TableSpec};
use crate::colfile::{cast, Partition};
use crate::dict::{SymbolDict, SYMBOL_BYTES_MAX};
use crate::error::{corrupt, IoContext, RequestError, Result};
use crate::hot::HotBuffer;
use crate::index::{BlockMeta, IndexLog, IndexRecord};
use crate::record;
use crate::scan::{BlockView, ColumnData, ColumnSlice, ScanSpec, ScanStats};
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
    /// Highest seq written to the WAL file.
    pub written_seq: Seq,
    /// Highest seq at the durability the fsync policy promises.
    pub durable_seq: Seq,
}

#[derive(Debug, Clone, Default)]
pub struct RecoveryReport {
    pub wal: WalReplay,
    pub blocks: usize,
    pub rows_replayed: u64,
    pub rows_skipped: u64,
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

/// Hot buffers of every (table, key), and the scratch space the append path reuses.
#[derive(Default)]
struct HotSet {
    buffers: HashMap<HotKey, HotBuffer>,
    bytes: usize,
    rows: usize,
    /// Reused per append: the key of each row, and rows grouped by key.
    keys: Vec<SymKey>,
    groups: Vec<(SymKey, Vec<u32>)>,
    group_of: HashMap<SymKey, usize>,
    queued: Vec<HotKey>,
}

/// A batch's columns resolved against its table: (schema position, column id, data).
struct Resolved<'b> {
    table_id: TableId,
    rows: usize,
    symbols: &'b [String],
    columns: Vec<(usize, ColumnId, &'b ColumnBuf)>,
}

impl HotSet {
    /// Adds the rows of `batch` (logged as `seq`) to the hot buffers, skipping rows for which
    /// `skip(key, ts)` holds. Returns the number of rows added.
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        schema: &TableSchema,
        dict: &mut SymbolDict,
        batch: &Resolved<'_>,
        seq: Seq,
        now_ns: i64,
        block_rows: usize,
        skip: Option<&dyn Fn(SymKey, i64) -> bool>,
    ) -> usize {
        let rows = batch.rows;
        if rows == 0 {
            return 0;
        }
        // Symbol-typed columns arrive as batch-local codes or strings; store dictionary ids.
        let mut local_ids: Option<Vec<u32>> = None;
        let mut converted: Vec<(usize, Cow<'_, ColumnBuf>)> =
            Vec::with_capacity(batch.columns.len());
        for &(pos, _, col) in &batch.columns {
            let c = if schema.columns[pos].ty == ColumnType::Symbol {
                let ids: Vec<u32> = match &col.values {
                    Values::Sym(codes) => {
                        let map = local_ids.get_or_insert_with(|| {
                            batch.symbols.iter().map(|s| dict.intern(s)).collect()
                        });
                        codes.iter().map(|&c| map[c as usize]).collect()
                    }
                    Values::Str(s) => (0..s.len())
                        .map(|i| {
                            dict.intern(std::str::from_utf8(s.get(i)).expect("validated UTF-8"))
                        })
                        .collect(),
                    other => unreachable!("validated symbol column holds {:?}", other.physical()),
                };
                Cow::Owned(ColumnBuf {
                    values: Values::Sym(ids),
                    validity: col.validity.clone(),
                })
            } else {
                Cow::Borrowed(col)
            };
            converted.push((pos, c));
        }
        let col_at = |pos: usize| converted.iter().find(|(p, _)| *p == pos).map(|(_, c)| &**c);
        let ts = match &col_at(schema.ts_index)
            .expect("validated: timestamp present")
            .values
        {
            Values::I64(v) => v.as_slice(),
            _ => unreachable!("validated timestamp type"),
        };
        self.keys.clear();
        match &col_at(schema.key_index)
            .expect("validated: key present")
            .values
        {
            Values::Sym(v) => self.keys.extend(v.iter().map(|&x| x as u64)),
            Values::I64(v) => self.keys.extend(v.iter().map(|&x| x as u64)),
            Values::U64(v) => self.keys.extend_from_slice(v),
            _ => unreachable!("validated key type"),
        }

        // Group rows by key. The common single-symbol batch takes the fast path.
        for (_, g) in &mut self.groups {
            g.clear();
        }
        let mut ngroups = 0;
        let first = self.keys[0];
        let single = skip.is_none() && self.keys.iter().all(|&k| k == first);
        if !single {
            self.group_of.clear();
            for (r, &k) in self.keys.iter().enumerate() {
                if skip.is_some_and(|f| f(k, ts[r])) {
                    continue;
                }
                let slot = *self.group_of.entry(k).or_insert_with(|| {
                    if self.groups.len() == ngroups {
                        self.groups.push((k, Vec::new()));
                    }
                    self.groups[ngroups].0 = k;
                    ngroups += 1;
                    ngroups - 1
                });
                self.groups[slot].1.push(r as u32);
            }
        }
        let group_count = if single { 1 } else { ngroups };
        let mut added = 0;
        for g in 0..group_count {
            let (key, rows_of) = if single {
                (first, None)
            } else {
                (self.groups[g].0, Some(&self.groups[g].1))
            };
            let hk = (schema.id, key);
            let buf = self
                .buffers
                .entry(hk)
                .or_insert_with(|| HotBuffer::new(schema));
            let before_rows = buf.rows();
            let before_bytes = buf.bytes();
            if before_rows == 0 {
                buf.min_seq = seq;
                buf.created_ns = now_ns;
                buf.sorted = true;
            }
            buf.max_seq = seq;
            let mut last_ts = (before_rows > 0).then(|| buf.ts(schema.ts_index)[before_rows - 1]);
            let n = match rows_of {
                None => {
                    for (pos, dst) in buf.cols.iter_mut().enumerate() {
                        match col_at(pos) {
                            Some(src) => dst.extend_from(src),
                            None => dst.push_nulls(rows),
                        }
                    }
                    for &t in ts {
                        buf.sorted &= last_ts.is_none_or(|l| l <= t);
                        last_ts = Some(t);
                    }
                    rows
                }
                Some(idx) => {
                    for (pos, dst) in buf.cols.iter_mut().enumerate() {
                        match col_at(pos) {
                            Some(src) => dst.gather_from(src, idx),
                            None => dst.push_nulls(idx.len()),
                        }
                    }
                    for &r in idx {
                        let t = ts[r as usize];
                        buf.sorted &= last_ts.is_none_or(|l| l <= t);
                        last_ts = Some(t);
                    }
                    idx.len()
                }
            };
            added += n;
            self.rows += n;
            self.bytes = self.bytes + buf.bytes() - before_bytes;
            if buf.rows() >= block_rows && !buf.queued {
                buf.queued = true;
                self.queued.push(hk);
            }
        }
        added
    }

    fn remove(&mut self, hk: &HotKey) -> Option<HotBuffer> {
        let b = self.buffers.remove(hk)?;
        self.rows -= b.rows();
        self.bytes -= b.bytes();
        Some(b)
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
    stats: ShardStats,
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
                IndexRecord::Seal { dict_len, blocks: group } => {
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
                format!("sealed blocks reference {dict_needed} symbols but the dictionary holds {}", dict.len()),
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
                let rec = record::decode(payload).ok_or_else(|| {
                    corrupt(&wal_dir, 0, format!("undecodable WAL record seq {seq}"))
                })?;
                let Some(schema) = catalog.get_by_id(rec.table_id) else {
                    report.rows_skipped += rec.rows as u64;
                    return Ok(());
                };
                let mut columns = Vec::with_capacity(rec.columns.len());
                for (id, col) in &rec.columns {
                    if let Some(pos) = schema.column_index_by_id(*id) {
                        columns.push((pos, *id, col));
                    }
                }
                let resolved = Resolved {
                    table_id: rec.table_id,
                    rows: rec.rows,
                    symbols: &rec.symbols,
                    columns,
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
                    now_ns,
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
    /// A batch that fails validation changes nothing.
    pub fn append(&mut self, batch: &Batch) -> Result<Seq> {
        let schema = self.catalog.require(&batch.table)?;
        let resolved = resolve(schema, batch)?;
        if resolved.rows == 0 {
            return Ok(self.wal.last_seq());
        }
        let ids: Vec<(ColumnId, &ColumnBuf)> =
            resolved.columns.iter().map(|&(_, id, c)| (id, c)).collect();
        let seq = self.wal.append(|buf| {
            record::encode(buf, resolved.table_id, resolved.rows, &batch.symbols, &ids)
        });
        let now_ns = self.config.clock.now_ns();
        let added = self.hot.apply(
            schema,
            &mut self.dict,
            &resolved,
            seq,
            now_ns,
            self.config.block_rows,
            None,
        );
        debug_assert_eq!(added, resolved.rows);
        self.stats.rows_appended += added as u64;
        Ok(seq)
    }

    /// Writes every staged WAL record in one write (group commit), syncs per the fsync policy,
    /// then seals full hot buffers (or all of them when over the memory budget).
    pub fn commit(&mut self) -> Result<CommitReport> {
        let now_ns = self.config.clock.now_ns();
        self.wal.flush(now_ns)?;
        self.stats.wal_bytes_written = self.wal.bytes_written();
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
        Ok(self.report())
    }

    /// Periodic work: flush and sync the WAL when the batch interval passed, seal buffers older
    /// than `seal_age_ns`.
    pub fn tick(&mut self) -> Result<CommitReport> {
        let now_ns = self.config.clock.now_ns();
        self.wal.flush(now_ns)?;
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

    /// Commits, syncs the WAL whatever the policy, and seals every hot buffer (for shutdown).
    pub fn seal_all(&mut self) -> Result<CommitReport> {
        let now_ns = self.config.clock.now_ns();
        self.wal.flush(now_ns)?;
        self.wal.sync(now_ns)?;
        let all: Vec<HotKey> = self
            .hot
            .buffers
            .iter()
            .filter(|(_, b)| b.rows() > 0)
            .map(|(k, _)| *k)
            .collect();
        self.seal(&all)?;
        Ok(self.report())
    }

    fn report(&self) -> CommitReport {
        CommitReport {
            written_seq: self.wal.written_seq(),
            durable_seq: self.wal.durable_seq(),
        }
    }

    /// Sorts each buffer by time, writes it as blocks (one per day partition it spans), makes
    /// the data durable per policy, indexes the blocks in one record, then drops the buffers
    /// and WAL segments wholly covered by sealed data. On error nothing is dropped.
    fn seal(&mut self, keys: &[HotKey]) -> Result<()> {
        let sync = self.config.fsync.syncs();
        self.dict.flush(sync)?;
        let mut group: Vec<BlockMeta> = Vec::new();
        let mut touched: HashSet<(TableId, i32)> = HashSet::new();
        let staged = (|| -> Result<()> {
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
                    let part = match self.partitions.entry((hk.0, day)) {
                        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                        std::collections::hash_map::Entry::Vacant(e) => {
                            self.stats.partitions_created += 1;
                            e.insert(Partition::open(
                                table_dir(&self.dir, hk.0).join(day_name(day)),
                                &HashMap::new(),
                            )?)
                        }
                    };
                    touched.insert((hk.0, day));
                    let mut columns = Vec::with_capacity(schema.columns.len());
                    for (pos, c) in schema.columns.iter().enumerate() {
                        columns.push(part.stage_column(c.id, c.ty, &buf.cols[pos], lo, hi)?);
                    }
                    group.push(BlockMeta {
                        table_id: hk.0,
                        day,
                        key: hk.1,
                        rows: (hi - lo) as u32,
                        min_ts: ts[lo],
                        max_ts: ts[hi - 1],
                        max_seq: buf.max_seq,
                        columns,
                    });
                    lo = hi;
                }
            }
            for pk in &touched {
                self.partitions.get_mut(pk).expect("touched").flush(sync)?;
            }
            Ok(())
        })();
        if let Err(e) = staged {
            for pk in &touched {
                if let Some(p) = self.partitions.get_mut(pk) {
                    p.discard_pending();
                }
            }
            return Err(e);
        }
        if group.is_empty() {
            return Ok(());
        }
        let dict_len = u32::try_from(self.dict.len()).expect("fewer than 2^32 symbols");
        self.index.append(
            &IndexRecord::Seal {
                dict_len,
                blocks: group.clone(),
            },
            sync,
        )?;
        self.stats.seals += 1;
        for b in group {
            self.stats.rows_sealed += b.rows as u64;
            self.stats.blocks_sealed += 1;
            let hk = (b.table_id, b.key);
            if let Some(buf) = self.hot.remove(&hk) {
                debug_assert!(buf.max_seq <= b.max_seq);
            }
            let list = self.blocks.entry(hk).or_default();
            let at = list.partition_point(|x| x.min_ts <= b.min_ts);
            list.insert(at, b);
        }
        self.hot
            .queued
            .retain(|k| self.hot.buffers.get(k).is_some_and(|b| b.queued));
        let watermark = self.hot.min_seq().unwrap_or(self.wal.last_seq() + 1);
        self.wal.delete_before(watermark)?;
        self.refresh_block_stats();
        Ok(())
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

/// Checks a batch against its table and pairs each column with its schema position.
fn resolve<'b>(schema: &TableSchema, batch: &'b Batch) -> Result<Resolved<'b>, RequestError> {
    let rows = batch.rows();
    let mut columns = Vec::with_capacity(batch.columns.len());
    for bc in &batch.columns {
        let pos = schema
            .column_index(&bc.name)
            .ok_or_else(|| RequestError::UnknownColumn {
                table: schema.name.clone(),
                column: bc.name.clone(),
            })?;
        if columns.iter().any(|&(p, _, _)| p == pos) {
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
        if bc.data.validity.as_ref().is_some_and(|v| v.len() != rows) {
            return Err(RequestError::RowCountMismatch {
                column: format!("{} (validity)", bc.name),
                expected: rows,
                got: bc.data.validity.as_ref().map_or(0, |v| v.len()),
            });
        }
        if pos == schema.ts_index || pos == schema.key_index {
            if let Some(row) = (0..rows).find(|&r| !bc.data.is_valid(r)) {
                return Err(RequestError::NullInRequiredColumn {
                    column: bc.name.clone(),
                    row,
                });
            }
        }
        match &bc.data.values {
            Values::Sym(codes) => {
                if let Some((row, &code)) = codes
                    .iter()
                    .enumerate()
                    .find(|(_, &c)| c as usize >= batch.symbols.len())
                {
                    return Err(RequestError::BadSymbolCode {
                        row,
                        code,
                        dict_len: batch.symbols.len(),
                    });
                }
            }
            Values::Str(s) if c.ty == ColumnType::Symbol => {
                for i in (0..s.len()).filter(|&i| bc.data.is_valid(i)) {
                    let v = s.get(i);
                    if v.len() > SYMBOL_BYTES_MAX || std::str::from_utf8(v).is_err() {
                        return Err(RequestError::StringTooLong {
                            column: bc.name.clone(),
                            len: v.len(),
                            max: SYMBOL_BYTES_MAX,
                        });
                    }
                }
            }
            _ => {}
        }
        columns.push((pos, c.id, &bc.data));
    }
    for required in [schema.ts_index, schema.key_index] {
        if !columns.iter().any(|&(p, _, _)| p == required) && rows > 0 {
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
    Ok(Resolved {
        table_id: schema.id,
        rows,
        symbols: &batch.symbols,
        columns,
    })
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
