//! End-to-end smoke checks of the in-process Database (behaviour that needs no reference engine).

use sql::db::{Database, Output};
use sql::{ResultSet, Value};
use storage::{FsyncPolicy, ShardConfig};

fn db(dir: &std::path::Path, shards: usize) -> Database {
    Database::open(dir, shards, || ShardConfig {
        fsync: FsyncPolicy::Never,
        block_rows: 7,
        ..ShardConfig::default()
    })
    .unwrap()
}

fn rows(db: &Database, sql: &str) -> Vec<Vec<Value>> {
    match db.execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}")) {
        Output::Rows { result, .. } => (0..result.rows()).map(|r| result.row(r)).collect(),
        other => panic!("{sql}: {other:?}"),
    }
}

fn result(db: &Database, sql: &str) -> ResultSet {
    match db.execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}")) {
        Output::Rows { result, .. } => result,
        other => panic!("{other:?}"),
    }
}

#[test]
fn smoke() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path(), 3);
    db.execute("INSERT INTO trades VALUES ('2026-11-20 14:30:00', 'AAPL', 10.0, 100), ('2026-11-20 14:30:30', 'AAPL', 12.0, 300), ('2026-11-20 14:31:10', 'MSFT', 5.5, 10), (1763649000000000000, 'MSFT', 6.5, 30)").unwrap();
    assert_eq!(
        rows(&db, "SELECT count(*) FROM trades"),
        vec![vec![Value::UInt(4)]]
    );
    assert_eq!(
        rows(
            &db,
            "SELECT vwap(price, volume) FROM trades WHERE symbol = 'AAPL'"
        ),
        vec![vec![Value::Float(11.5)]]
    );
    let r = rows(&db, "SELECT symbol, sum(volume) AS v, first(price), last(price) FROM trades GROUP BY symbol ORDER BY symbol");
    assert_eq!(r.len(), 2, "{r:?}");
    let r = rows(
        &db,
        "SELECT xbar(timestamp, 60000000000) AS b, count() FROM trades GROUP BY b ORDER BY b",
    );
    println!("{r:?}");
    let r = rows(
        &db,
        "SELECT symbol, price FROM trades WHERE price > 6 ORDER BY price DESC LIMIT 2",
    );
    assert_eq!(
        r,
        vec![
            vec![Value::Str("AAPL".into()), Value::Float(12.0)],
            vec![Value::Str("AAPL".into()), Value::Float(10.0)]
        ]
    );
    let r = result(&db, "SELECT version(), timezone()");
    assert_eq!(r.columns.len(), 2);
    let r = rows(&db, "SELECT * FROM (SELECT symbol, count() AS c FROM trades GROUP BY symbol) WHERE c > 1 ORDER BY symbol");
    assert_eq!(r.len(), 2);
    let r = rows(&db, "WITH x AS (SELECT price FROM trades WHERE symbol = 'MSFT') SELECT max(price) FROM x UNION ALL SELECT 1");
    println!("{r:?}");
    let e = db.execute("SELECT prcie FROM trades").unwrap_err();
    assert_eq!(
        e.to_string(),
        "Unknown column 'prcie' in table trades (did you mean 'price'?)"
    );
    let e = db.execute("SELECT * FROM nope").unwrap_err();
    assert_eq!(e.to_string(), "Unknown table: nope");
    println!("{:?}", rows(&db, "EXPLAIN SELECT vwap(price, volume) FROM trades WHERE symbol = 'AAPL' AND timestamp >= '2026-11-20 14:30:10'"));
    println!("{:?}", rows(&db, "SELECT toStartOfInterval(timestamp, INTERVAL 1 MINUTE) AS m, symbol, min(price), max(price), argMin(price, timestamp) FROM trades GROUP BY m, symbol ORDER BY m, symbol"));
    println!("{:?}", rows(&db, "SELECT quantile(0.5)(price), median(volume), stddevPop(price), uniq(symbol), count(DISTINCT symbol) FROM trades"));
    println!("{:?}", rows(&db, "SELECT CASE WHEN price > 7 THEN 'hi' ELSE 'lo' END AS k, count() FROM trades GROUP BY k ORDER BY k"));
    println!("{:?}", rows(&db, "SELECT round(price * 1.5, 1), upper(symbol), concat(symbol, '-x'), toString(timestamp), epoch_ms(timestamp) FROM trades ORDER BY timestamp LIMIT 1, 2"));
    db.execute("CREATE TABLE ticks (ts DateTime64(9), symbol Int64, px Float64) ENGINE = MergeTree ORDER BY ts").unwrap();
    db.execute("INSERT INTO ticks VALUES (1, 1, 2.5), (2, 2, 3.5), (3, 1, 4.5)")
        .unwrap();
    assert_eq!(
        rows(&db, "SELECT sum(px) FROM ticks WHERE symbol = 1"),
        vec![vec![Value::Float(7.0)]]
    );
    println!("{:?}", rows(&db, "DESCRIBE TABLE ticks"));
    println!(
        "{:?}",
        rows(
            &db,
            "SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name"
        )
    );
    println!("{:?}", rows(&db, "SELECT count() FROM trades WHERE symbol IN ('AAPL', 'MSFT') AND price BETWEEN 6 AND 11"));
    println!("{:?}", rows(&db, "SELECT symbol, count() c FROM trades GROUP BY symbol HAVING c > 1 ORDER BY c DESC, symbol"));
    println!(
        "{:?}",
        rows(&db, "SELECT DISTINCT symbol FROM trades ORDER BY symbol")
    );
    println!("{:?}", rows(&db, "SELECT 1 AS check"));
    println!(
        "{:?}",
        rows(
            &db,
            "SELECT count() FROM trades WHERE timestamp >= now() - INTERVAL 1 DAY"
        )
    );
}
