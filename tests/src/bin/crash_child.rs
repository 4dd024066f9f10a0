//! Crash-test child: ingests under `--fsync always`, acknowledging each durable batch on stdout.
//!
//! Usage: `ronto-crash-child <data-dir> always <seed> <block_rows>`. Prints `ACK <batch> <rows>`
//! once a batch is durable, and runs until `tests/crash.rs` kills it with SIGKILL.

use std::io::Write;
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use storage::{FsyncPolicy, ScanSpec, Shard, ShardConfig, SystemClock};
use tests::{crash, SplitMix64};

/// Backstops so that a child whose parent died never runs for ever: the deadline, the batch
/// bound, and exiting when stdout (the parent's pipe) is gone.
const RUN_TIME_MAX: Duration = Duration::from_secs(120);
const BATCHES_MAX: u64 = 10_000_000;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, fsync, seed, block_rows] = args.as_slice() else {
        eprintln!("usage: ronto-crash-child <data-dir> always <seed> <block_rows>");
        return ExitCode::from(2);
    };
    let (Some(fsync), Ok(seed), Ok(block_rows)) = (
        FsyncPolicy::parse(fsync),
        seed.parse::<u64>(),
        block_rows.parse::<usize>(),
    ) else {
        eprintln!("ronto-crash-child: bad arguments {args:?}");
        return ExitCode::from(2);
    };
    assert_eq!(
        fsync,
        FsyncPolicy::Always,
        "acknowledgements are only promised under always"
    );
    let config = ShardConfig {
        fsync,
        block_rows,
        // `tick` seals buffers older than this; with the tiny memory budget below, commits
        // sometimes seal everything too.
        seal_age_ns: 50_000_000,
        wal_segment_bytes: 64 << 10,
        hot_bytes_max: 24 << 10,
        clock: Box::new(SystemClock),
    };
    let started = Instant::now();
    let (mut shard, _) = Shard::open(dir, config).unwrap_or_else(|e| panic!("open {dir}: {e}"));
    if shard.catalog().get(crash::TABLE).is_none() {
        shard
            .create_table(crash::spec())
            .expect("create the crash table");
    }
    // Continue after the highest batch present, acknowledged or not, so ids never repeat.
    let mut next_batch = max_batch(&mut shard).map_or(1, |b| b + 1);
    let mut rng = SplitMix64::new(seed);
    let mut out = std::io::stdout().lock();
    let mut pending: Vec<(u64, usize, u64)> = Vec::new();
    for round in 0..BATCHES_MAX {
        if started.elapsed() > RUN_TIME_MAX {
            break;
        }
        // One to three batches per commit: group commit must acknowledge each of them.
        pending.clear();
        for _ in 0..rng.between(1, 3) {
            let rows = rng.between(1, crash::ROWS_PER_BATCH_MAX as u64) as usize;
            let batch = crash::batch(next_batch, rows, rng.below(2) == 0);
            let seq = shard.append(&batch).expect("append");
            pending.push((next_batch, rows, seq));
            next_batch += 1;
        }
        let report = shard.commit().expect("commit");
        for &(batch, rows, seq) in &pending {
            assert!(
                report.durable_seq >= seq,
                "commit under fsync always left seq {seq} not durable: {report:?}"
            );
            if writeln!(out, "ACK {batch} {rows}").is_err() {
                return ExitCode::SUCCESS;
            }
        }
        if out.flush().is_err() {
            return ExitCode::SUCCESS;
        }
        if round % 8 == 7 {
            shard.tick().expect("tick");
        }
    }
    ExitCode::SUCCESS
}

fn max_batch(shard: &mut Shard) -> Option<u64> {
    let table = shard.catalog().get(crash::TABLE).expect("created").id;
    let mut max = None;
    shard
        .scan(&ScanSpec::all(table, vec![crash::COL_BATCH]), |view| {
            if let storage::ColumnData::U64(v) = view.columns[0].data {
                max = max.max(v.iter().copied().max());
            }
            ControlFlow::Continue(())
        })
        .expect("scan batch numbers");
    max
}
