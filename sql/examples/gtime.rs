//! Quick timing of the grouped headline queries (vwap per symbol, 1-minute bars of every
//! symbol) over the peers suite's shape of data: 10 M trades, 100 symbols, 2 shards, in
//! process. `cargo run -p sql --release --example gtime [rows] [runs] [only]`. The real
//! comparison is `ronto-bench peers`.

use std::time::Instant;

use sql::db::{Database, Output};
use storage::{Batch, FsyncPolicy, ShardConfig};

/// xorshift64*: enough randomness for prices, without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rows: usize = args.next().map_or(10_000_000, |a| a.parse().expect("rows"));
    let runs: usize = args.next().map_or(20, |a| a.parse().expect("runs"));
    let only = args.next();
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), 2, || ShardConfig {
        fsync: FsyncPolicy::Never,
        ..ShardConfig::default()
    })
    .unwrap();
    let schema = db.shard(0).catalog().get("trades").unwrap().clone();
    // The shape of bench/src/suites/workload.rs: 09:30–16:00, every tenth row S0, the rest
    // uniform over S1..S99, per-symbol random walks in cents, volumes 1..1000.
    let day_open_ns: i64 = 1_704_187_800_000_000_000;
    let day_ns: i64 = 23_400_000_000_000;
    let step_ns = day_ns / rows as i64;
    let names: Vec<String> = (0..100).map(|i| format!("S{i}")).collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut walk: Vec<i64> = (0..100).map(|_| 1_000 + rng.below(49_000) as i64).collect();
    let mut lo = 0;
    while lo < rows {
        let hi = (lo + 65_536).min(rows);
        let (mut ts, mut sym, mut px, mut vol) = (vec![], vec![], vec![], vec![]);
        for i in lo..hi {
            let s = if i % 10 == 0 {
                0
            } else {
                1 + rng.below(99) as usize
            };
            walk[s] = (walk[s] + rng.below(7) as i64 - 3).max(100);
            ts.push(day_open_ns + i as i64 * step_ns + rng.below(step_ns as u64) as i64);
            sym.push(s as u32);
            px.push(walk[s] as f64 / 100.0);
            vol.push(1 + rng.below(1_000) as i64);
        }
        let b = Batch::new("trades")
            .i64s("timestamp", ts)
            .symbol_codes("symbol", names.clone(), sym)
            .f64s("price", px)
            .i64s("volume", vol);
        db.insert(&schema, &b).unwrap();
        lo = hi;
    }
    for i in 0..2 {
        db.shard(i).seal_all().unwrap();
    }
    let queries = [
        ("vwap-by-symbol", "SELECT symbol, vwap(price, volume) FROM trades GROUP BY symbol ORDER BY symbol"),
        ("bars-all", "SELECT symbol, xbar(timestamp, 60000000000) AS bar, first(price), max(price), min(price), last(price), sum(volume) FROM trades GROUP BY symbol, bar ORDER BY symbol, bar"),
        ("bars-all-minute", "SELECT symbol, toStartOfMinute(timestamp) AS bar, first(price), max(price), min(price), last(price), sum(volume) FROM trades GROUP BY symbol, bar ORDER BY symbol, bar"),
        ("bars-one", "SELECT xbar(timestamp, 60000000000) AS bar, first(price), max(price), min(price), last(price), sum(volume) FROM trades WHERE symbol = 'S0' GROUP BY bar ORDER BY bar"),
    ];
    for (id, q) in queries {
        if only.as_deref().is_some_and(|o| !id.contains(o)) {
            continue;
        }
        let mut times = Vec::with_capacity(runs);
        let mut result_rows = 0;
        for _ in 0..runs {
            let s = Instant::now();
            let out = db.execute(q).unwrap();
            times.push(s.elapsed().as_micros());
            if let Output::Rows { result, .. } = out {
                result_rows = result.rows();
            }
        }
        times.sort_unstable();
        println!(
            "{:>8} µs min {:>8} µs p50  {id} ({result_rows} rows)",
            times[0],
            times[times.len() / 2]
        );
    }
}
