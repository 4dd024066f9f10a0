//! Quick timing of the headline queries over 1 M rows of one symbol (in process, one shard).
//! `cargo run -p sql --release --example qtime`. The real suite is `ronto-bench query`.

use std::time::Instant;

use sql::db::{Database, Output};
use storage::{Batch, FsyncPolicy, ShardConfig, TableSpec};

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), 1, || ShardConfig {
        fsync: FsyncPolicy::Never,
        ..ShardConfig::default()
    })
    .unwrap();
    let schema = db.shard(0).catalog().get("trades").unwrap().clone();
    let _ = TableSpec::trades();
    let n = 1_000_000usize;
    let t0: i64 = 1_795_132_800_000_000_000 + 9 * 3600 * 1_000_000_000;
    for chunk in 0..(n / 65_536 + 1) {
        let lo = chunk * 65_536;
        let hi = (lo + 65_536).min(n);
        if lo >= hi {
            break;
        }
        let ts: Vec<i64> = (lo..hi).map(|i| t0 + i as i64 * 23_400_000).collect();
        let px: Vec<f64> = (lo..hi).map(|i| 100.0 + (i % 1000) as f64 * 0.01).collect();
        let vol: Vec<i64> = (lo..hi).map(|i| 1 + (i % 500) as i64).collect();
        let b = Batch::new("trades")
            .i64s("timestamp", ts)
            .symbol_codes("symbol", vec!["AAPL".into()], vec![0; hi - lo])
            .f64s("price", px)
            .i64s("volume", vol);
        db.insert(&schema, &b).unwrap();
    }
    db.shard(0).seal_all().unwrap();
    for q in [
        "SELECT vwap(price, volume) FROM trades WHERE symbol = 'AAPL'",
        "SELECT xbar(timestamp, 60000000000) AS m, first(price), max(price), min(price), last(price), sum(volume) FROM trades WHERE symbol = 'AAPL' GROUP BY m ORDER BY m",
        "SELECT count(*) FROM trades WHERE price > 105",
        "SELECT * FROM trades WHERE symbol = 'AAPL' ORDER BY timestamp DESC LIMIT 100",
    ] {
        let mut best = u128::MAX;
        for _ in 0..20 {
            let s = Instant::now();
            let out = db.execute(q).unwrap();
            let e = s.elapsed().as_micros();
            best = best.min(e);
            if let Output::Rows { result, .. } = out {
                assert!(result.rows() > 0);
            }
        }
        println!("{best:>8} µs  {q}");
    }
}
