//! The `query` suite: SQL end to end in-process (parse, plan, fragments, merge) over a tick day, plus a memory-bandwidth baseline.
//!
//! The data ([`workload::Ticks`]: 10 M trades over 100 symbols, 1 M of them one symbol's;
//! `--quick`: 1 M) is loaded into a [`sql::db::Database`] of 2 shards and one of 1 shard.
//! The in-process `Database` runs a query's shard fragments one after the other on the
//! calling thread, so every number here is one core's; the server will run the fragments of
//! different shards on different cores. Each query's answer is checked against the reference
//! answer computed from the generated rows before it is timed.
//!
//! Each timed sample is one `Database::execute` call: SQL text in, complete columnar
//! `ResultSet` out. Scan rates are the bytes of the columns the fragments read (the
//! `QueryStats` the SQL layer reports) over the median latency, also shown as a fraction of
//! the single-thread streaming-read bandwidth measured in the same run.
//!
//! Repeated runs of a one-symbol query find its columns (15–23 MiB for 1 M rows) in the 32 MiB
//! L3 cache, so those queries are measured a second time with the caches evicted before each
//! run (an untimed streaming read of three times the L3 size). The 10 M-row queries read
//! 76–270 MiB and stream from memory either way.

use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::hist::{write_hgrm, Summary};
use crate::report::{fmt_bytes, fmt_count, fmt_ns, fmt_rate, Report, Row};
use crate::suites::membw::{self, stream_sum, Bandwidth};
use crate::suites::workload::{self, Budget, Query, Ticks};
use crate::suites::Ctx;
use crate::sys::ScratchDir;
use crate::BenchError;

/// Queries whose columns fit in this machine's 32 MiB L3 cache, so that repeated runs read
/// them from cache; they are also measured cache-cold.
const COLD_QUERIES: [&str; 4] = ["vwap-one", "bars-one", "last-100", "range-1h"];
/// Bytes streamed before each cache-cold sample: three times the L3 size.
const EVICT_BYTES: usize = 96 << 20;

/// Sizes; `--quick` shrinks them.
#[derive(Debug, Clone)]
struct Plan {
    rows: usize,
    budget: Budget,
    /// For the cache-cold runs, whose every sample also pays an untimed cache eviction.
    cold_budget: Budget,
    /// Buffer streamed by the bandwidth baseline, and how many passes are timed.
    bandwidth_bytes: usize,
    bandwidth_passes: usize,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                rows: 1_000_000,
                budget: Budget {
                    warmup: 2,
                    min_iters: 5,
                    max_iters: 100_000,
                    time: Duration::from_millis(150),
                },
                cold_budget: Budget {
                    warmup: 1,
                    min_iters: 5,
                    max_iters: 20,
                    time: Duration::from_millis(50),
                },
                bandwidth_bytes: 256 << 20,
                bandwidth_passes: 5,
            }
        } else {
            Plan {
                rows: 10_000_000,
                budget: Budget {
                    warmup: 5,
                    min_iters: 20,
                    max_iters: 1_000_000,
                    time: Duration::from_secs(2),
                },
                cold_budget: Budget {
                    warmup: 2,
                    min_iters: 20,
                    max_iters: 300,
                    time: Duration::from_secs(1),
                },
                bandwidth_bytes: 1 << 30,
                bandwidth_passes: 10,
            }
        }
    }
}

/// The notes of one query row: throughput, scan rate and the answer's size.
fn query_notes(m: &workload::Measured, p50_ns: u64, bw: Option<Bandwidth>) -> String {
    let st = m.stats;
    let scan_gbps = st.bytes_read as f64 / p50_ns.max(1) as f64;
    let frac = bw.map_or_else(String::new, |b| {
        format!(
            " = {:.0}% of 1-thread bandwidth",
            100.0 * scan_gbps / b.one_thread_gbps
        )
    });
    format!(
        "{:.0} qps; per query {} rows / {} read, {} blocks read, {} pruned; at p50 {} rows/s, {scan_gbps:.1} GB/s{frac}; {} result rows",
        m.qps(),
        fmt_count(st.rows_read),
        fmt_bytes(st.bytes_read),
        st.blocks_read,
        st.blocks_pruned,
        fmt_rate(st.rows_read as f64 * 1e9 / p50_ns.max(1) as f64),
        m.result.rows()
    )
}

/// Runs every query on `db`, checks each answer, and returns (query id, p50) pairs.
#[allow(clippy::too_many_arguments)]
fn run_queries(
    ctx: &Ctx,
    db: &sql::db::Database,
    ticks: &Ticks,
    queries: &[Query],
    budget: &Budget,
    group: &str,
    id_prefix: &str,
    bw: Option<Bandwidth>,
    evict: Option<&[u64]>,
    rows: &mut Vec<Row>,
) -> Result<Vec<(&'static str, Summary)>, BenchError> {
    let mut out = Vec::new();
    for q in queries {
        let id = format!("{id_prefix}-{}", q.id);
        if !ctx.wants(&id) {
            continue;
        }
        let m = workload::measure_with(db, &q.ronto, budget, || {
            if let Some(buf) = evict {
                black_box(stream_sum(black_box(buf)));
            }
        })?;
        workload::compare(
            &workload::expected(ticks, q.id),
            &workload::answer_of(&m.result),
        )
        .map_err(|e| BenchError::Check(format!("Ronto, {}: {e}\n  query: {}", q.id, q.ronto)))?;
        let name = format!("query-{id}");
        write_hgrm(&m.hist, &ctx.out_dir, &name)?;
        let s = Summary::of(&m.hist);
        let row = Row {
            group: group.into(),
            case: q.title.clone(),
            rows: m.stats.rows_read * m.iters,
            rows_per_s: Some((m.stats.rows_read * m.iters) as f64 * 1e9 / m.timed_ns.max(1) as f64),
            sample: "execute".into(),
            latency: Some(s),
            hgrm: Some(name),
            notes: query_notes(&m, s.p50_ns, bw),
        };
        eprintln!(
            "  {:<58} p50 {:>9} p99 {:>9} max {:>9}  {:.0} qps",
            row.case,
            fmt_ns(s.p50_ns),
            fmt_ns(s.p99_ns),
            fmt_ns(s.max_ns),
            m.qps()
        );
        rows.push(row);
        out.push((q.id, s));
    }
    Ok(out)
}

pub fn run(ctx: &Ctx) -> Result<Report, BenchError> {
    let plan = Plan::new(ctx.quick);
    let mut rows = Vec::new();
    eprintln!(
        "query suite{}: {} trades, data in {}",
        if ctx.quick { " (quick)" } else { "" },
        fmt_count(plan.rows as u64),
        ctx.data_dir.display()
    );
    let bw = if ctx.wants("membw") {
        Some(membw::measure(
            ctx,
            plan.bandwidth_bytes,
            plan.bandwidth_passes,
            "query-membw",
            &mut rows,
        )?)
    } else {
        None
    };
    let t0 = Instant::now();
    let ticks = Ticks::generate(plan.rows, workload::SEED);
    eprintln!(
        "  generated {} rows ({} of {}) in {:.1} s",
        fmt_count(ticks.rows() as u64),
        fmt_count(ticks.hot_rows() as u64),
        workload::HOT_SYMBOL,
        t0.elapsed().as_secs_f64()
    );
    let queries = workload::queries(&ticks);
    let mut two_shard = Vec::new();
    for shards in [2usize, 1] {
        let prefix = format!("{shards}shard");
        if !queries.iter().any(|q| {
            ctx.wants(&format!("{prefix}-{}", q.id))
                || ctx.wants(&format!("{prefix}-cold-{}", q.id))
        }) && !ctx.wants(&format!("{prefix}-load"))
        {
            continue;
        }
        let group = if shards == 1 {
            "1 shard".to_string()
        } else {
            format!("{shards} shards, fragments run one after the other on one thread")
        };
        let dir = ScratchDir::new(&ctx.data_dir, "query")?;
        let (db, took) = workload::open_loaded(dir.path(), shards, &ticks)?;
        let load = Row {
            group: group.clone(),
            case: "load: Database::insert of 65,536-row batches, then seal_all".to_string(),
            rows: ticks.rows() as u64,
            rows_per_s: Some(ticks.rows() as f64 / took.as_secs_f64()),
            sample: "load".into(),
            latency: None,
            hgrm: None,
            notes: format!(
                "{:.2} s, fsync never (setup, not a query)",
                took.as_secs_f64()
            ),
        };
        eprintln!("  {shards} shard(s): loaded in {:.2} s", took.as_secs_f64());
        rows.push(load);
        let p50s = run_queries(
            ctx,
            &db,
            &ticks,
            &queries,
            &plan.budget,
            &group,
            &prefix,
            bw,
            None,
            &mut rows,
        )?;
        if shards == 2 {
            two_shard = p50s;
            // The same database with CPU caches evicted before each run: what a query on data
            // not touched recently costs (columns still in the page cache, not on disk).
            let evict: Vec<u64> = (0..(EVICT_BYTES / 8) as u64).collect();
            let cold: Vec<Query> = queries
                .iter()
                .filter(|q| COLD_QUERIES.contains(&q.id))
                .cloned()
                .collect();
            run_queries(
                ctx,
                &db,
                &ticks,
                &cold,
                &plan.cold_budget,
                &format!(
                    "2 shards, cache-cold: {} streamed (untimed) before each run to evict the 32 MiB L3",
                    fmt_bytes(EVICT_BYTES as u64)
                ),
                "2shard-cold",
                bw,
                Some(&evict),
                &mut rows,
            )?;
        }
    }
    targets(&ticks, &two_shard, &mut rows);
    Ok(Report {
        suite: "query".into(),
        quick: ctx.quick,
        command: ctx.command.clone(),
        machine: ctx.machine.clone(),
        loadavg_end: crate::sys::loadavg(),
        rows,
    })
}

/// Issue 3's latency targets, next to what the 2-shard database measured.
fn targets(ticks: &Ticks, measured: &[(&'static str, Summary)], rows: &mut Vec<Row>) {
    let hot = fmt_count(ticks.hot_rows() as u64);
    for (id, what, limit_ns) in [
        (
            "vwap-one",
            format!("vwap over {hot} rows of one symbol < 300 µs"),
            300_000u64,
        ),
        (
            "bars-one",
            format!("{hot} rows into 1-minute bars < 2 ms"),
            2_000_000,
        ),
    ] {
        let Some((_, s)) = measured.iter().find(|(q, _)| *q == id) else {
            continue;
        };
        let verdict = if s.p50_ns < limit_ns {
            "met at p50"
        } else {
            "MISSED at p50"
        };
        let tail = if s.p99_ns < limit_ns {
            "also met at p99"
        } else {
            "not at p99"
        };
        let size_note = if ticks.hot_rows() < 1_000_000 {
            " (--quick: fewer rows than the target names)"
        } else {
            ""
        };
        rows.push(Row {
            group: "targets (issue 3), 2 shards".into(),
            case: what,
            rows: 0,
            rows_per_s: None,
            sample: "execute".into(),
            latency: Some(*s),
            hgrm: None,
            notes: format!("{verdict}, {tail}{size_note}"),
        });
    }
}
