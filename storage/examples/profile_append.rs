//! Temporary profiling driver (not committed): appends prebuilt trades batches and commits.
use storage::{Batch, FsyncPolicy, Shard, ShardConfig};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows: usize = args.get(1).map_or(1000, |s| s.parse().unwrap());
    let batches: usize = args.get(2).map_or(20_000, |s| s.parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let (mut shard, _) = Shard::open(
        dir.path(),
        ShardConfig {
            fsync: FsyncPolicy::Never,
            ..ShardConfig::default()
        },
    )
    .unwrap();
    let syms: Vec<String> = (0..100).map(|i| format!("SYM{i:03}")).collect();
    let mut x = 12345u64;
    let mut pool = Vec::new();
    for b in 0..256usize {
        let mut codes = Vec::with_capacity(rows);
        for _ in 0..rows {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            codes.push((x % 100) as u32);
        }
        let ts: Vec<i64> = (0..rows)
            .map(|r| 1_700_000_000_000_000_000 + (b * rows + r) as i64)
            .collect();
        pool.push(
            Batch::new("trades")
                .i64s("timestamp", ts)
                .symbol_codes("symbol", syms.clone(), codes)
                .f64s("price", (0..rows).map(|r| r as f64).collect())
                .i64s("volume", (0..rows).map(|r| r as i64).collect()),
        );
    }
    let mut el = std::time::Duration::ZERO;
    let lap = (256 * rows) as i64;
    for i in 0..batches {
        if i > 0 && i % pool.len() == 0 {
            for b in &mut pool {
                if let storage::Values::I64(v) = &mut b.columns[0].data.values {
                    v.iter_mut().for_each(|t| *t += lap);
                }
            }
        }
        let b = &pool[i % pool.len()];
        let t0 = std::time::Instant::now();
        shard.append(b).unwrap();
        shard.commit().unwrap();
        el += t0.elapsed();
    }
    eprintln!(
        "{} rows in {:?}: {:.1} M rows/s",
        rows * batches,
        el,
        (rows * batches) as f64 / el.as_secs_f64() / 1e6
    );
}
