//! Temporary profiling driver (not committed): one-row append+commit latency outliers.
use storage::{Batch, FsyncPolicy, Shard, ShardConfig};

fn main() {
    let n: usize = std::env::args().nth(1).map_or(3_000_000, |s| s.parse().unwrap());
    let dir = tempfile::tempdir_in("/work/main/target").unwrap();
    let (mut shard, _) = Shard::open(dir.path(), ShardConfig { fsync: FsyncPolicy::Never, ..ShardConfig::default() }).unwrap();
    let syms: Vec<String> = (0..100).map(|i| format!("SYM{i:03}")).collect();
    let pool: Vec<Batch> = (0..10_000usize).map(|i| Batch::new("trades").i64s("timestamp", vec![i as i64])
        .symbol_codes("symbol", vec![syms[i % 100].clone()], vec![0]).f64s("price", vec![1.0]).i64s("volume", vec![1])).collect();
    let mut worst: Vec<(u128, usize, u64, u64)> = Vec::new();
    for i in 0..n {
        let b = &pool[i % pool.len()];
        let segs = shard.wal_disk_bytes();
        let t0 = std::time::Instant::now();
        shard.append(b).unwrap();
        shard.commit().unwrap();
        let ns = t0.elapsed().as_nanos();
        if ns > 1_000_000 { worst.push((ns, i, segs, shard.wal_disk_bytes())); }
    }
    worst.sort_by(|a, b| b.0.cmp(&a.0));
    for w in worst.iter().take(15) { eprintln!("{:>9} ns at {:>8}: wal {} -> {}", w.0, w.1, w.2, w.3); }
    eprintln!("{} over 1ms", worst.len());
}
