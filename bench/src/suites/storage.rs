//! The `storage` suite: append throughput and latency with the WAL on, seal speed, recovery, a first scan.
//!
//! Everything runs in-process on the calling thread against a real [`Shard`] in a scratch
//! directory, exactly as one core's shard would be driven by its server loop: `append` per
//! batch, then `commit` (one WAL write, fsync per policy, then sealing of full hot buffers).
//! Batches are `trades`-shaped over [`SYMBOLS`] symbols and built before timing; timing never
//! includes building or re-timestamping them.

use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, Instant};

use ::storage::{ColumnData, FsyncPolicy, ScanSpec, Shard, ShardConfig, ShardStats};
use hdrhistogram::Histogram;

use crate::data::{Pool, TradesGen};
use crate::hist::{new_histogram, write_hgrm, Summary};
use crate::report::{fmt_bytes, fmt_count, fmt_int, fmt_ns, Report, Row};
use crate::suites::Ctx;
use crate::sys::{dir_bytes, disk_available_bytes, ScratchDir, ThreadTimes};
use crate::{BenchError, IoAt};

/// Distinct symbols in every generated stream.
pub const SYMBOLS: usize = 100;
/// Bytes one `trades` row takes in column files (8 ts + 4 symbol id + 8 price + 8 volume).
const ROW_BYTES: u64 = 28;
/// Appends between commits in the append-only latency case (a server loop iteration's worth).
const LATENCY_APPENDS_PER_COMMIT: usize = 100;
/// The default block size, also the batch size of bulk fills.
const BULK_ROWS: usize = 65_536;

/// Sizes and durations; `--quick` shrinks them all.
#[derive(Debug, Clone)]
struct Plan {
    /// Timed duration of each append throughput case.
    run: Duration,
    warmup: Duration,
    /// Rows pre-built per throughput case (the pool is replayed in laps).
    pool_rows: usize,
    /// Pool size for one-row batches (each batch is a handful of allocations).
    pool_single_batches: usize,
    latency_warmup_appends: usize,
    latency_appends: usize,
    latency_commit_run: Duration,
    /// Bytes written by the page-cache probe.
    probe_bytes: usize,
    /// Rows held hot when `seal_all` is timed, and how many times.
    seal_rows: usize,
    seal_rounds: usize,
    recovery_rows: u64,
    replay_rows: usize,
    reopen_rounds: usize,
    scan_rounds: usize,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                run: Duration::from_millis(250),
                warmup: Duration::from_millis(50),
                pool_rows: 1 << 19,
                pool_single_batches: 20_000,
                latency_warmup_appends: 20_000,
                latency_appends: 200_000,
                latency_commit_run: Duration::from_millis(250),
                probe_bytes: 64 << 20,
                seal_rows: 10 * BULK_ROWS,
                seal_rounds: 2,
                recovery_rows: 2_000_000,
                replay_rows: 1_000_000,
                reopen_rounds: 2,
                scan_rounds: 3,
            }
        } else {
            Plan {
                run: Duration::from_secs(3),
                warmup: Duration::from_millis(500),
                pool_rows: 1 << 21,
                pool_single_batches: 100_000,
                latency_warmup_appends: 200_000,
                latency_appends: 2_000_000,
                latency_commit_run: Duration::from_secs(3),
                probe_bytes: 512 << 20,
                seal_rows: SYMBOLS * BULK_ROWS,
                seal_rounds: 5,
                recovery_rows: 100_000_000,
                replay_rows: 1_000_000,
                reopen_rounds: 3,
                scan_rounds: 5,
            }
        }
    }
}

/// Collects rows and writes each histogram as it is produced.
struct Out<'a> {
    ctx: &'a Ctx,
    rows: Vec<Row>,
}

impl Out<'_> {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        id: &str,
        group: &str,
        case: String,
        rows: u64,
        rows_per_s: Option<f64>,
        sample: &str,
        hist: Option<&Histogram<u64>>,
        notes: String,
    ) -> Result<(), BenchError> {
        let hgrm = match hist {
            Some(h) => {
                let name = format!("storage-{id}");
                write_hgrm(h, &self.ctx.out_dir, &name)?;
                Some(name)
            }
            None => None,
        };
        let row = Row {
            group: group.to_string(),
            case,
            rows,
            rows_per_s,
            sample: sample.to_string(),
            latency: hist.map(Summary::of),
            hgrm,
            notes,
        };
        let rate = row.rows_per_s.map_or_else(String::new, |r| {
            format!("{} rows/s", crate::report::fmt_rate(r))
        });
        let lat = row.latency.map_or_else(String::new, |s| {
            format!(
                " p50 {} p99 {} max {}",
                fmt_ns(s.p50_ns),
                fmt_ns(s.p99_ns),
                fmt_ns(s.max_ns)
            )
        });
        eprintln!("  {:<58} {rate:>16}{lat}", row.case);
        self.rows.push(row);
        Ok(())
    }
}

/// The policy as a file-name word.
fn policy_id(p: FsyncPolicy) -> String {
    match p {
        FsyncPolicy::Always => "always".into(),
        FsyncPolicy::Batch { interval_ms } => format!("batch{interval_ms}ms"),
        FsyncPolicy::Never => "never".into(),
    }
}

fn policy_name(p: FsyncPolicy) -> String {
    match p {
        FsyncPolicy::Always => "fsync always".into(),
        FsyncPolicy::Batch { interval_ms } => format!("fsync batch({interval_ms}ms)"),
        FsyncPolicy::Never => "fsync never".into(),
    }
}

fn open_shard(
    dir: &Path,
    fsync: FsyncPolicy,
    block_rows: usize,
    hot_bytes_max: usize,
) -> Result<Shard, BenchError> {
    let config = ShardConfig {
        fsync,
        block_rows,
        hot_bytes_max,
        ..ShardConfig::default()
    };
    Ok(Shard::open(dir, config)?.0)
}

fn default_shard(dir: &Path, fsync: FsyncPolicy) -> Result<Shard, BenchError> {
    let d = ShardConfig::default();
    open_shard(dir, fsync, d.block_rows, d.hot_bytes_max)
}

/// A pool of `rows_per_batch`-row batches holding about `rows` rows (at least `min_batches`).
fn pool(gen: &mut TradesGen, rows_per_batch: usize, rows: usize, min_batches: usize) -> Pool {
    let count = (rows / rows_per_batch).max(min_batches).max(1);
    Pool::new(gen.batches(count, rows_per_batch))
}

/// When a drive stops.
#[derive(Debug, Clone, Copy)]
enum Until {
    /// After this much timed wall-clock time.
    Timed(Duration),
    /// After this many rows.
    Rows(u64),
}

/// What a drive did.
#[derive(Debug, Default, Clone, Copy)]
struct Driven {
    rows: u64,
    commits: u64,
    /// Sum of the timed iterations (append(s) + commit).
    timed_ns: u64,
    /// The part of `timed_ns` spent in `append` (the rest is in `commit`: WAL write, fsync, seals).
    append_ns: u64,
    /// The thread's scheduling over the whole drive, and the wall time it covered.
    times: Option<ThreadTimes>,
    wall_ns: u64,
    /// Σ price of the appended rows.
    price_sum: f64,
}

impl Driven {
    fn rows_per_s(&self) -> f64 {
        self.rows as f64 * 1e9 / self.timed_ns.max(1) as f64
    }

    /// How the timed time splits between append and commit.
    fn split_note(&self) -> String {
        let pct = 100.0 * self.append_ns as f64 / self.timed_ns.max(1) as f64;
        format!("append {pct:.0}% / commit {:.0}% of time", 100.0 - pct)
    }

    fn cpu_note(&self) -> String {
        self.times
            .map_or_else(String::new, |t| t.note(self.wall_ns))
    }
}

/// The server loop: `appends_per_commit` appends then one commit, per iteration, each iteration
/// timed (one clock read per iteration) into `hist`. Pool laps are re-timestamped untimed.
fn drive(
    shard: &mut Shard,
    pool: &mut Pool,
    appends_per_commit: usize,
    until: Until,
    hist: Option<&mut Histogram<u64>>,
) -> Result<Driven, BenchError> {
    drive_with(shard, pool, appends_per_commit, until, hist, false)
}

/// [`drive`], optionally with `Shard::commit_nowait` (a server that acknowledges when the sync
/// thread reports durability instead of waiting in the commit). Then the final
/// `wait_durable` for the last row is timed too, so every counted row is durable.
fn drive_with(
    shard: &mut Shard,
    pool: &mut Pool,
    appends_per_commit: usize,
    until: Until,
    mut hist: Option<&mut Histogram<u64>>,
    nowait: bool,
) -> Result<Driven, BenchError> {
    assert!(
        pool.batches.len() >= appends_per_commit,
        "pool smaller than one commit"
    );
    let sums: Vec<f64> = pool
        .batches
        .iter()
        .map(|b| match &b.columns[2].data.values {
            ::storage::Values::F64(p) => p.iter().sum(),
            _ => 0.0,
        })
        .collect();
    let mut d = Driven::default();
    let times_start = ThreadTimes::now();
    let wall_start = Instant::now();
    let mut prev = Instant::now();
    let mut last_seq = 0;
    loop {
        match until {
            Until::Timed(t) if d.timed_ns >= t.as_nanos() as u64 => break,
            Until::Rows(n) if d.rows >= n => break,
            _ => {}
        }
        if !pool.has(appends_per_commit) {
            pool.next_lap();
            prev = Instant::now();
        }
        let range = pool.next..pool.next + appends_per_commit;
        for b in &pool.batches[range.clone()] {
            last_seq = shard.append(b)?;
        }
        let appended = Instant::now();
        if nowait {
            shard.commit_nowait()?;
        } else {
            shard.commit()?;
        }
        let now = Instant::now();
        d.append_ns += appended.duration_since(prev).as_nanos() as u64;
        let ns = now.duration_since(prev).as_nanos() as u64;
        prev = now;
        if let Some(h) = hist.as_deref_mut() {
            h.saturating_record(ns);
        }
        d.timed_ns += ns;
        d.commits += 1;
        for i in range {
            d.rows += pool.batches[i].rows() as u64;
            d.price_sum += sums[i];
        }
        pool.next += appends_per_commit;
    }
    if nowait {
        let t0 = Instant::now();
        shard.wait_durable(last_seq)?;
        d.timed_ns += t0.elapsed().as_nanos() as u64;
    }
    d.wall_ns = wall_start.elapsed().as_nanos() as u64;
    d.times = times_start.zip(ThreadTimes::now()).map(|(a, b)| b.since(a));
    Ok(d)
}

fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), BenchError> {
    if ok {
        Ok(())
    } else {
        Err(BenchError::Check(what()))
    }
}

/// fdatasyncs every file in `dir` through our own handles, so a later fdatasync of the same
/// files by the shard finds nothing dirty and a timed region measures only its own work.
fn sync_files(dir: &Path) -> Result<(), BenchError> {
    for entry in std::fs::read_dir(dir).at(dir)? {
        let path = entry.at(dir)?.path();
        if path.is_file() {
            std::fs::File::open(&path)
                .and_then(|f| f.sync_data())
                .at(&path)?;
        }
    }
    Ok(())
}

fn sealed_delta(before: &ShardStats, after: &ShardStats) -> String {
    format!(
        "sealed {} rows in {} blocks",
        fmt_count(after.rows_sealed - before.rows_sealed),
        after.blocks_sealed - before.blocks_sealed
    )
}

pub fn run(ctx: &Ctx) -> Result<Report, BenchError> {
    let plan = Plan::new(ctx.quick);
    let mut out = Out {
        ctx,
        rows: Vec::new(),
    };
    eprintln!(
        "storage suite{}: data in {}",
        if ctx.quick { " (quick)" } else { "" },
        ctx.data_dir.display()
    );
    if ctx.wants("timer") {
        timer_overhead(&mut out)?;
    }
    if ctx.wants("env-write") {
        page_cache_writes(ctx, &plan, &mut out)?;
    }
    append_throughput(ctx, &plan, &mut out)?;
    append_latency(ctx, &plan, &mut out)?;
    seal_speed(ctx, &plan, &mut out)?;
    if [
        "recovery-fill",
        "recovery-reopen-sealed",
        "scan-first",
        "scan-repeated",
    ]
    .iter()
    .any(|id| ctx.wants(id))
    {
        recovery_and_scan(ctx, &plan, &mut out)?;
    }
    if ctx.wants("recovery-reopen-replay") {
        wal_replay(ctx, &plan, &mut out)?;
    }
    Ok(Report {
        suite: "storage".into(),
        quick: ctx.quick,
        command: ctx.command.clone(),
        machine: ctx.machine.clone(),
        loadavg_end: crate::sys::loadavg(),
        rows: out.rows,
    })
}

/// What two back-to-back clock reads cost: every per-operation latency below includes it once.
fn timer_overhead(out: &mut Out<'_>) -> Result<(), BenchError> {
    let mut h = new_histogram();
    for _ in 0..1_000_000 {
        let t0 = Instant::now();
        let t1 = Instant::now();
        h.saturating_record(t1.duration_since(t0).as_nanos() as u64);
    }
    out.push(
        "timer",
        "timer",
        "Instant::now() pair (included once in every sample)".into(),
        0,
        None,
        "clock pair",
        Some(&h),
        String::new(),
    )
}

/// What the machine charges for `write(2)` into the page cache, with no storage code involved:
/// into a new file (the kernel must find fresh pages; on some VMs the first touch of guest
/// memory is expensive) and over the same, already cached, pages. Column files only grow, so
/// sealing pays the first; WAL segments are deleted and their pages reused.
fn page_cache_writes(ctx: &Ctx, plan: &Plan, out: &mut Out<'_>) -> Result<(), BenchError> {
    use std::os::unix::fs::FileExt;
    const CHUNK_BYTES: usize = 1 << 20;
    let dir = ScratchDir::new(&ctx.data_dir, "probe")?;
    let path = dir.path().join("probe.bin");
    let file = std::fs::File::create(&path).at(&path)?;
    let chunk = vec![0x5au8; CHUNK_BYTES];
    let chunks = plan.probe_bytes / CHUNK_BYTES;
    for (id, case) in [
        ("env-write-new", "write(2) of 1 MiB chunks to a new file"),
        (
            "env-write-cached",
            "write(2) of 1 MiB chunks over cached pages",
        ),
    ] {
        let mut h = new_histogram();
        let mut total_ns = 0u64;
        for i in 0..chunks {
            let t0 = Instant::now();
            file.write_all_at(&chunk, (i * CHUNK_BYTES) as u64)
                .at(&path)?;
            let ns = t0.elapsed().as_nanos() as u64;
            h.saturating_record(ns);
            total_ns += ns;
        }
        let mib_per_s =
            (chunks * CHUNK_BYTES) as f64 / (1 << 20) as f64 * 1e9 / total_ns.max(1) as f64;
        out.push(
            id,
            "environment",
            case.into(),
            0,
            None,
            "write",
            Some(&h),
            format!(
                "{mib_per_s:.0} MiB/s over {}",
                fmt_bytes((chunks * CHUNK_BYTES) as u64)
            ),
        )?;
    }
    Ok(())
}

fn append_throughput(ctx: &Ctx, plan: &Plan, out: &mut Out<'_>) -> Result<(), BenchError> {
    let batch = FsyncPolicy::Batch { interval_ms: 10 };
    let mut cases: Vec<(&str, usize, FsyncPolicy, usize, bool)> = Vec::new();
    for rows in [1, 1_000, 65_536] {
        for policy in [FsyncPolicy::Never, batch] {
            for per_commit in [1, 10] {
                cases.push(("append throughput, WAL on", rows, policy, per_commit, false));
            }
        }
    }
    for nowait in [false, true] {
        for per_commit in [1, 10] {
            cases.push((
                "append throughput, fsync always",
                1_000,
                FsyncPolicy::Always,
                per_commit,
                nowait,
            ));
        }
    }
    let mut gen = TradesGen::new(SYMBOLS, 42);
    for (group, rows_per_batch, policy, per_commit, nowait) in cases {
        let id = format!(
            "append-{rows_per_batch}rows-{per_commit}per-commit-{}{}",
            policy_id(policy),
            if nowait { "-nowait" } else { "" }
        );
        if !ctx.wants(&id) {
            continue;
        }
        let dir = ScratchDir::new(&ctx.data_dir, "append")?;
        let mut shard = default_shard(dir.path(), policy)?;
        let mut pool = if rows_per_batch == 1 {
            pool(&mut gen, 1, plan.pool_single_batches, 4 * per_commit)
        } else {
            pool(&mut gen, rows_per_batch, plan.pool_rows, 4 * per_commit)
        };
        drive(
            &mut shard,
            &mut pool,
            per_commit,
            Until::Timed(plan.warmup),
            None,
        )?;
        let before = shard.stats();
        let mut h = new_histogram();
        let d = drive_with(
            &mut shard,
            &mut pool,
            per_commit,
            Until::Timed(plan.run),
            Some(&mut h),
            nowait,
        )?;
        let after = shard.stats();
        check(after.rows_appended - before.rows_appended == d.rows, || {
            "rows appended differ from rows driven".into()
        })?;
        let commit = match (per_commit, nowait) {
            (1, false) => "commit per append".to_string(),
            (1, true) => "commit_nowait per append (acks async)".to_string(),
            (n, false) => format!("{n} appends per commit"),
            (n, true) => format!("{n} appends per commit_nowait (acks async)"),
        };
        let unit = if rows_per_batch == 1 { "row" } else { "rows" };
        let case = format!(
            "{} {unit}/batch, {commit}, {}",
            fmt_int(rows_per_batch as u64),
            policy_name(policy)
        );
        let notes = format!(
            "{}{}; WAL {}; {}; {}",
            if nowait {
                "rows counted once durable (the last wait_durable is timed); "
            } else {
                ""
            },
            sealed_delta(&before, &after),
            fmt_bytes(after.wal_bytes_written - before.wal_bytes_written),
            d.split_note(),
            d.cpu_note()
        );
        out.push(
            &id,
            group,
            case,
            d.rows,
            Some(d.rows_per_s()),
            "commit",
            Some(&h),
            notes,
        )?;
    }
    Ok(())
}

fn append_latency(ctx: &Ctx, plan: &Plan, out: &mut Out<'_>) -> Result<(), BenchError> {
    let group = "single-tick latency, fsync never";
    let mut gen = TradesGen::new(SYMBOLS, 7);
    if ctx.wants("latency-append-1row") {
        let dir = ScratchDir::new(&ctx.data_dir, "latency")?;
        let mut shard = default_shard(dir.path(), FsyncPolicy::Never)?;
        let mut pool = pool(&mut gen, 1, plan.pool_single_batches, 1);
        let mut h = new_histogram();
        let before = shard.stats();
        let mut sum_ns = 0u64;
        let total = plan.latency_warmup_appends + plan.latency_appends;
        let times_start = ThreadTimes::now();
        let wall_start = Instant::now();
        for i in 0..total {
            if !pool.has(1) {
                pool.next_lap();
            }
            let b = &pool.batches[pool.next];
            let t0 = Instant::now();
            shard.append(b)?;
            let ns = t0.elapsed().as_nanos() as u64;
            if i >= plan.latency_warmup_appends {
                h.saturating_record(ns);
                sum_ns += ns;
            }
            pool.next += 1;
            if (i + 1) % LATENCY_APPENDS_PER_COMMIT == 0 {
                shard.commit()?;
            }
        }
        shard.commit()?;
        let wall_ns = wall_start.elapsed().as_nanos() as u64;
        let times = times_start.zip(ThreadTimes::now()).map(|(a, b)| b.since(a));
        let after = shard.stats();
        let rows = plan.latency_appends as u64;
        let notes = format!(
            "commit (untimed) every {LATENCY_APPENDS_PER_COMMIT} appends; after {} warm-up appends; {} in warm-up and run; {}",
            fmt_count(plan.latency_warmup_appends as u64),
            sealed_delta(&before, &after),
            times.map_or_else(String::new, |t| t.note(wall_ns))
        );
        out.push(
            "latency-append-1row",
            group,
            "append, 1-row batch".into(),
            rows,
            Some(rows as f64 * 1e9 / sum_ns.max(1) as f64),
            "append",
            Some(&h),
            notes,
        )?;
    }
    if ctx.wants("latency-append-commit-1row") {
        let dir = ScratchDir::new(&ctx.data_dir, "latency")?;
        let mut shard = default_shard(dir.path(), FsyncPolicy::Never)?;
        let mut pool = pool(&mut gen, 1, plan.pool_single_batches, 1);
        drive(
            &mut shard,
            &mut pool,
            1,
            Until::Rows(plan.latency_warmup_appends as u64),
            None,
        )?;
        let before = shard.stats();
        let mut h = new_histogram();
        let d = drive(
            &mut shard,
            &mut pool,
            1,
            Until::Timed(plan.latency_commit_run),
            Some(&mut h),
        )?;
        let after = shard.stats();
        let notes = format!(
            "one write(2) per commit; {}; {}",
            sealed_delta(&before, &after),
            d.cpu_note()
        );
        out.push(
            "latency-append-commit-1row",
            group,
            "append + commit, 1-row batch".into(),
            d.rows,
            Some(d.rows_per_s()),
            "append+commit",
            Some(&h),
            notes,
        )?;
    }
    Ok(())
}

fn seal_speed(ctx: &Ctx, plan: &Plan, out: &mut Out<'_>) -> Result<(), BenchError> {
    let mut gen = TradesGen::new(SYMBOLS, 11);
    let batches = plan.seal_rows.div_ceil(BULK_ROWS);
    let mut pool = Pool::new(gen.batches(batches, BULK_ROWS));
    for policy in [FsyncPolicy::Never, FsyncPolicy::Batch { interval_ms: 10 }] {
        let id = format!("seal-{}", policy_id(policy));
        if !ctx.wants(&id) {
            continue;
        }
        let dir = ScratchDir::new(&ctx.data_dir, "seal")?;
        // Nothing seals until seal_all: no block_rows or memory-budget seals during the fill.
        let mut shard = open_shard(dir.path(), policy, usize::MAX, usize::MAX)?;
        let mut h = new_histogram();
        let mut rows_total = 0u64;
        let mut ns_total = 0u64;
        let mut blocks = 0u64;
        let mut times = Some(ThreadTimes::default());
        for _ in 0..plan.seal_rounds {
            pool.next_lap();
            let lap_rows = pool.rows();
            let fill = drive(&mut shard, &mut pool, 1, Until::Rows(lap_rows), None)?;
            sync_files(&dir.path().join("wal"))?;
            let before = shard.stats();
            check(before.hot_rows == fill.rows, || {
                format!("{} rows hot, {} appended", before.hot_rows, fill.rows)
            })?;
            let times_start = ThreadTimes::now();
            let t0 = Instant::now();
            shard.seal_all()?;
            let ns = t0.elapsed().as_nanos() as u64;
            let spent = times_start.zip(ThreadTimes::now()).map(|(a, b)| b.since(a));
            times = times.zip(spent).map(|(t, s)| ThreadTimes {
                run_ns: t.run_ns + s.run_ns,
                wait_ns: t.wait_ns + s.wait_ns,
            });
            let after = shard.stats();
            check(
                after.rows_sealed - before.rows_sealed == fill.rows && after.hot_rows == 0,
                || "seal_all left rows hot".into(),
            )?;
            h.saturating_record(ns);
            rows_total += fill.rows;
            ns_total += ns;
            blocks += after.blocks_sealed - before.blocks_sealed;
        }
        let what = match policy {
            FsyncPolicy::Never => "column files not synced",
            _ => "column files, dictionary and index fdatasync'd",
        };
        let case = format!(
            "seal_all of {} hot rows, {}",
            fmt_int(plan.seal_rows as u64),
            policy_name(policy)
        );
        let notes = format!(
            "{} blocks per seal ({} rows each); {what}; WAL synced beforehand, untimed; {}",
            blocks / plan.seal_rounds as u64,
            fmt_count(rows_total / blocks.max(1)),
            times.map_or_else(String::new, |t| t.note(ns_total))
        );
        out.push(
            &id,
            "seal",
            case,
            rows_total,
            Some(rows_total as f64 * 1e9 / ns_total.max(1) as f64),
            "seal_all",
            Some(&h),
            notes,
        )?;
    }
    Ok(())
}

fn recovery_and_scan(ctx: &Ctx, plan: &Plan, out: &mut Out<'_>) -> Result<(), BenchError> {
    let group = "recovery and scan";
    let mut rows_target = plan.recovery_rows.next_multiple_of(BULK_ROWS as u64);
    // Column files plus a WAL that holds at most the hot rows (deleted as they seal), with room.
    let needed = |rows: u64| rows * ROW_BYTES * 12 / 10 + (1 << 30);
    if let Some(avail) = disk_available_bytes(&ctx.data_dir) {
        eprintln!(
            "  disk: {} available under {}, need ~{}",
            fmt_bytes(avail),
            ctx.data_dir.display(),
            fmt_bytes(needed(rows_target))
        );
        if needed(rows_target) > avail {
            let fit = (avail.saturating_sub(1 << 30) * 10 / 12 / ROW_BYTES) / BULK_ROWS as u64
                * BULK_ROWS as u64;
            eprintln!(
                "  warning: not enough disk for {} rows; using {}",
                fmt_count(rows_target),
                fmt_count(fit)
            );
            rows_target = fit;
        }
    }
    check(rows_target > 0, || {
        "no disk space for the recovery case".into()
    })?;
    let dir = ScratchDir::new(&ctx.data_dir, "recovery")?;
    let mut gen = TradesGen::new(SYMBOLS, 3);
    let mut pool = pool(&mut gen, BULK_ROWS, plan.pool_rows, 1);
    let mut shard = default_shard(dir.path(), FsyncPolicy::Never)?;
    let mut h = new_histogram();
    let fill = drive(
        &mut shard,
        &mut pool,
        1,
        Until::Rows(rows_target),
        Some(&mut h),
    )?;
    let t0 = Instant::now();
    shard.seal_all()?;
    let seal_ns = t0.elapsed().as_nanos() as u64;
    let stats = shard.stats();
    check(stats.sealed_rows == fill.rows, || {
        format!("{} rows sealed of {}", stats.sealed_rows, fill.rows)
    })?;
    let wal_bytes = shard.wal_disk_bytes();
    drop(shard);
    let data_bytes = dir_bytes(dir.path());
    out.push(
        "recovery-fill",
        group,
        format!(
            "fill: {}-row batches, commit per append, fsync never",
            fmt_int(BULK_ROWS as u64)
        ),
        fill.rows,
        Some(fill.rows_per_s()),
        "commit",
        Some(&h),
        format!(
            "{} blocks; final seal_all {}; data dir {} (WAL {}); {}; {}",
            stats.blocks,
            fmt_ns(seal_ns),
            fmt_bytes(data_bytes),
            fmt_bytes(wal_bytes),
            fill.split_note(),
            fill.cpu_note()
        ),
    )?;

    let mut h = new_histogram();
    let mut shard = None;
    let mut last_report = None;
    for _ in 0..plan.reopen_rounds {
        drop(shard.take());
        let t0 = Instant::now();
        let (s, report) = Shard::open(
            dir.path(),
            ShardConfig {
                fsync: FsyncPolicy::Never,
                ..ShardConfig::default()
            },
        )?;
        h.saturating_record(t0.elapsed().as_nanos() as u64);
        check(
            s.stats().sealed_rows == fill.rows && report.rows_replayed == 0,
            || {
                format!(
                    "reopen found {} sealed rows and replayed {}",
                    s.stats().sealed_rows,
                    report.rows_replayed
                )
            },
        )?;
        shard = Some(s);
        last_report = Some(report);
    }
    let mut shard = shard.expect("at least one reopen");
    let report = last_report.expect("at least one reopen");
    out.push(
        "recovery-reopen-sealed",
        group,
        format!("reopen after seal_all, {} rows sealed", fmt_int(fill.rows)),
        fill.rows,
        None,
        "Shard::open",
        Some(&h),
        format!(
            "{} blocks; WAL read: {} records, {}, {} rows skipped as sealed; page cache warm",
            report.blocks,
            fmt_count(report.wal.records),
            fmt_bytes(report.wal.bytes),
            fmt_count(report.rows_skipped)
        ),
    )?;

    let table = shard
        .catalog()
        .get("trades")
        .ok_or_else(|| BenchError::Check("no trades table".into()))?;
    let price = table
        .column_index("price")
        .ok_or_else(|| BenchError::Check("trades has no price column".into()))?;
    let spec = ScanSpec::all(table.id, vec![price]);
    let mut first = new_histogram();
    let mut repeated = new_histogram();
    let mut repeated_ns = 0u64;
    for round in 0..=plan.scan_rounds {
        let t0 = Instant::now();
        let (sum, rows) = sum_prices(&mut shard, &spec)?;
        let ns = t0.elapsed().as_nanos() as u64;
        check(rows == fill.rows, || {
            format!("scan read {rows} rows of {}", fill.rows)
        })?;
        let err = (sum - fill.price_sum).abs() / fill.price_sum.abs().max(1.0);
        check(err < 1e-6, || {
            format!(
                "scan sum {sum} differs from appended sum {}",
                fill.price_sum
            )
        })?;
        if round == 0 {
            first.saturating_record(ns);
        } else {
            repeated.saturating_record(ns);
            repeated_ns += ns;
        }
    }
    let first_ns = first.max();
    out.push(
        "scan-first",
        group,
        "full scan Σ price, first after reopen".into(),
        fill.rows,
        Some(fill.rows as f64 * 1e9 / first_ns.max(1) as f64),
        "scan",
        Some(&first),
        "scalar f64 sum in the visitor; mmap pages faulted in from the page cache".into(),
    )?;
    let n = plan.scan_rounds as u64;
    out.push(
        "scan-repeated",
        group,
        "full scan Σ price, repeated".into(),
        fill.rows * n,
        Some((fill.rows * n) as f64 * 1e9 / repeated_ns.max(1) as f64),
        "scan",
        Some(&repeated),
        format!("{} of price per scan", fmt_bytes(fill.rows * 8)),
    )?;
    Ok(())
}

/// Σ price over every row, with a plain scalar loop; returns (sum, rows).
fn sum_prices(shard: &mut Shard, spec: &ScanSpec) -> Result<(f64, u64), BenchError> {
    let mut sum = 0.0f64;
    let mut rows = 0u64;
    let mut bad = false;
    shard.scan(spec, |view| {
        match view.columns[0].data {
            ColumnData::F64(p) => {
                for &x in p {
                    sum += x;
                }
            }
            _ => bad = true,
        }
        rows += view.rows as u64;
        ControlFlow::Continue(())
    })?;
    check(!bad, || "price column is not Float64".into())?;
    Ok((sum, rows))
}

fn wal_replay(ctx: &Ctx, plan: &Plan, out: &mut Out<'_>) -> Result<(), BenchError> {
    let dir = ScratchDir::new(&ctx.data_dir, "replay")?;
    let mut gen = TradesGen::new(SYMBOLS, 5);
    let mut pool = Pool::new(gen.batches(plan.replay_rows / 1_000, 1_000));
    let rows = pool.rows();
    let mut shard = default_shard(dir.path(), FsyncPolicy::Never)?;
    drive(&mut shard, &mut pool, 1, Until::Rows(rows), None)?;
    check(shard.stats().rows_sealed == 0, || {
        "replay fill sealed rows".into()
    })?;
    drop(shard);
    let mut h = new_histogram();
    let mut ns_total = 0;
    let mut report = None;
    for _ in 0..plan.reopen_rounds {
        let t0 = Instant::now();
        let (shard, r) = Shard::open(
            dir.path(),
            ShardConfig {
                fsync: FsyncPolicy::Never,
                ..ShardConfig::default()
            },
        )?;
        let ns = t0.elapsed().as_nanos() as u64;
        check(r.rows_replayed == rows, || {
            format!("replayed {} rows of {rows}", r.rows_replayed)
        })?;
        drop(shard);
        h.saturating_record(ns);
        ns_total += ns;
        report = Some(r);
    }
    let r = report.expect("at least one reopen");
    let total = rows * plan.reopen_rounds as u64;
    out.push(
        "recovery-reopen-replay",
        "recovery and scan",
        format!(
            "reopen with {} rows only in the WAL (replay)",
            fmt_int(rows)
        ),
        total,
        Some(total as f64 * 1e9 / ns_total.max(1) as f64),
        "Shard::open",
        Some(&h),
        format!(
            "{} records of 1,000 rows, {} of WAL",
            fmt_count(r.wal.records),
            fmt_bytes(r.wal.bytes)
        ),
    )
}
