//! Property test: a random query gives the same answer over 1 shard and over 4 shards.

use proptest::prelude::*;
use sql::db::{Database, Output};
use sql::Value;
use storage::{FsyncPolicy, ShardConfig};

const SYMBOLS: [&str; 6] = ["AAPL", "MSFT", "GOOG", "AMZN", "TSLA", "NVDA"];
const T0: i64 = 1_795_132_800_000_000_000; // 2026-11-20 00:00:00 UTC

fn open(dir: &std::path::Path, shards: usize, block_rows: usize) -> Database {
    Database::open(dir, shards, || ShardConfig {
        fsync: FsyncPolicy::Never,
        block_rows,
        ..ShardConfig::default()
    })
    .unwrap()
}

fn run(db: &Database, q: &str) -> Vec<Vec<Value>> {
    match db.execute(q).unwrap_or_else(|e| panic!("{q}: {e}")) {
        Output::Rows { result, .. } => (0..result.rows()).map(|r| result.row(r)).collect(),
        other => panic!("{other:?}"),
    }
}

fn close(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => {
            (x.is_nan() && y.is_nan())
                || x == y
                || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
        }
        _ => a == b,
    }
}

fn query() -> impl Strategy<Value = String> {
    let aggs = prop::sample::subsequence(
        vec![
            "count()",
            "count(price)",
            "sum(volume)",
            "min(price)",
            "max(price)",
            "avg(price)",
            "vwap(price, volume)",
            "first(price)",
            "last(price)",
            "uniq(symbol)",
            "median(price)",
            "stddevPop(price)",
            "argMax(volume, timestamp)",
            "argMin(price, timestamp)",
            "sum(price * volume)",
            "quantile(0.9)(price)",
            "count(DISTINCT volume)",
        ],
        1..5,
    );
    let keys = prop::sample::subsequence(
        vec!["symbol", "xbar(timestamp, 600000000000)", "volume % 3"],
        0..3,
    );
    let filter = prop_oneof![
        Just(String::new()),
        (0.0..200.0f64).prop_map(|p| format!("WHERE price > {p:.2}")),
        Just("WHERE symbol IN ('AAPL', 'TSLA')".to_string()),
        Just("WHERE symbol = 'GOOG'".to_string()),
        (0..3600i64).prop_map(|s| format!(
            "WHERE timestamp >= toDateTime('2026-11-20 00:00:00') + INTERVAL {s} SECOND"
        )),
        Just("WHERE price IS NULL OR volume > 50".to_string()),
    ];
    (aggs, keys, filter).prop_map(|(aggs, keys, filter)| {
        let select: Vec<String> = keys
            .iter()
            .map(|k| k.to_string())
            .chain(aggs.iter().map(|a| a.to_string()))
            .collect();
        let mut q = format!("SELECT {} FROM trades {filter}", select.join(", "));
        if !keys.is_empty() {
            q += &format!(" GROUP BY {} ORDER BY {}", keys.join(", "), keys.join(", "));
        }
        q
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn one_shard_equals_four(
        rows in prop::collection::vec((0..SYMBOLS.len(), prop::option::of(1.0..200.0f64), 1..100i64), 1..300),
        queries in prop::collection::vec(query(), 1..6),
        block_rows in 3usize..40,
    ) {
        let d1 = tempfile::tempdir().unwrap();
        let d4 = tempfile::tempdir().unwrap();
        let one = open(d1.path(), 1, block_rows);
        let four = open(d4.path(), 4, block_rows);
        // Unique, shuffled timestamps so first/last have no ties.
        let values: Vec<String> = rows
            .iter()
            .enumerate()
            .map(|(i, (s, p, v))| {
                let ts = T0 + ((i as i64 * 7919) % 3600) * 1_000_000_000 + i as i64;
                let p = p.map_or("NULL".to_string(), |p| format!("{p:.3}"));
                format!("({ts}, '{}', {p}, {v})", SYMBOLS[*s])
            })
            .collect();
        for chunk in values.chunks(50) {
            let ins = format!("INSERT INTO trades VALUES {}", chunk.join(", "));
            one.execute(&ins).unwrap();
            four.execute(&ins).unwrap();
        }
        for q in &queries {
            let (a, b) = (run(&one, q), run(&four, q));
            prop_assert_eq!(a.len(), b.len(), "{}", q);
            for (ra, rb) in a.iter().zip(&b) {
                prop_assert!(ra.iter().zip(rb).all(|(x, y)| close(x, y)), "{}\n1 shard: {:?}\n4 shards: {:?}", q, ra, rb);
            }
        }
    }
}
