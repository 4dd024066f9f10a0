//! Shard behaviour tests: DDL, validation errors, integer symbols, age sealing, budgets, WAL trimming.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use storage::{
    Batch, Bitmap, Clock, ColumnBuf, ColumnData, ColumnType, FsyncPolicy, RequestError, ScanSpec,
    Shard, ShardConfig, StorageError, TableSpec, Values, NS_PER_DAY,
};

const T0: i64 = 20_412 * NS_PER_DAY;

#[derive(Clone, Default)]
struct ManualClock(Arc<AtomicI64>);

impl Clock for ManualClock {
    fn now_ns(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

fn config(clock: &ManualClock) -> ShardConfig {
    ShardConfig {
        fsync: FsyncPolicy::Never,
        block_rows: 4,
        seal_age_ns: 1_000,
        wal_segment_bytes: 256,
        clock: Box::new(clock.clone()),
        ..ShardConfig::default()
    }
}

fn trades(symbols: &[&str], ts: &[i64], prices: &[f64]) -> Batch {
    Batch::new("trades")
        .i64s("timestamp", ts.to_vec())
        .strs("symbol", symbols.iter().copied())
        .f64s("price", prices.to_vec())
        .i64s("volume", vec![1; ts.len()])
}

/// (key, ts, value of column 2 as f64 or NaN for NULL) of every row, in scan order.
fn dump(shard: &mut Shard, table: &str, cols: Vec<usize>) -> Vec<(u64, i64, Option<f64>)> {
    let id = shard.catalog().get(table).unwrap().id;
    let mut out = Vec::new();
    shard
        .scan(&ScanSpec::all(id, cols), |v| {
            let ColumnData::I64(ts) = v.columns[0].data else {
                panic!()
            };
            for (i, &t) in ts.iter().enumerate() {
                let x = match v.columns[1].data {
                    ColumnData::F64(p) => v.columns[1].is_valid(i).then_some(p[i]),
                    ColumnData::I64(p) => v.columns[1].is_valid(i).then_some(p[i] as f64),
                    ColumnData::Null => None,
                    _ => panic!(),
                };
                out.push((v.key, t, x));
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    out
}

#[test]
fn out_of_order_rows_scan_in_time_order_before_and_after_seal() {
    let clock = ManualClock::default();
    let dir = tempfile::tempdir().unwrap();
    let (mut shard, _) = Shard::open(dir.path(), config(&clock)).unwrap();
    shard
        .append(&trades(
            &["A", "A", "A"],
            &[T0 + 30, T0 + 10, T0 + 20],
            &[3.0, 1.0, 2.0],
        ))
        .unwrap();
    assert_eq!(
        dump(&mut shard, "trades", vec![0, 2])
            .iter()
            .map(|r| r.2.unwrap())
            .collect::<Vec<_>>(),
        vec![1.0, 2.0, 3.0]
    );
    shard.append(&trades(&["A"], &[T0 + 15], &[1.5])).unwrap();
    shard.commit().unwrap(); // 4 rows = block_rows: sealed
    assert_eq!(shard.stats().blocks, 1);
    assert_eq!(shard.stats().hot_rows, 0);
    let got: Vec<f64> = dump(&mut shard, "trades", vec![0, 2])
        .iter()
        .map(|r| r.2.unwrap())
        .collect();
    assert_eq!(got, vec![1.0, 1.5, 2.0, 3.0]);
}

#[test]
fn add_column_reads_null_for_older_rows_and_survives_restart() {
    let clock = ManualClock::default();
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut shard, _) = Shard::open(dir.path(), config(&clock)).unwrap();
        shard
            .append(&trades(&["A"; 4], &[T0, T0 + 1, T0 + 2, T0 + 3], &[1.0; 4]))
            .unwrap();
        shard.append(&trades(&["A"], &[T0 + 4], &[1.0])).unwrap(); // stays hot
        shard.commit().unwrap();
        shard
            .add_column("trades", "fee", ColumnType::Int64)
            .unwrap();
        let b = trades(&["A"], &[T0 + 5], &[1.0]).i64s("fee", vec![7]);
        shard.append(&b).unwrap();
        shard.commit().unwrap();
        shard.check_invariants();
    }
    let (mut shard, _) = Shard::open(dir.path(), config(&clock)).unwrap();
    let fee = shard
        .catalog()
        .get("trades")
        .unwrap()
        .column_index("fee")
        .unwrap();
    let rows = dump(&mut shard, "trades", vec![0, fee]);
    let fees: Vec<Option<f64>> = rows.iter().map(|r| r.2).collect();
    assert_eq!(fees, vec![None, None, None, None, None, Some(7.0)]);
}

#[test]
fn drop_table_removes_data_and_the_name_can_be_reused() {
    let clock = ManualClock::default();
    let dir = tempfile::tempdir().unwrap();
    let (mut shard, _) = Shard::open(dir.path(), config(&clock)).unwrap();
    shard
        .append(&trades(
            &["A"; 5],
            &[T0, T0 + 1, T0 + 2, T0 + 3, T0 + 4],
            &[1.0; 5],
        ))
        .unwrap();
    shard.commit().unwrap();
    let old_id = shard.catalog().get("trades").unwrap().id;
    shard.drop_table("trades").unwrap();
    assert!(!dir.path().join("tables").join(old_id.to_string()).exists());
    shard.create_table(TableSpec::trades()).unwrap();
    assert_ne!(shard.catalog().get("trades").unwrap().id, old_id);
    assert!(dump(&mut shard, "trades", vec![0, 2]).is_empty());
    shard.commit().unwrap();
    drop(shard);
    // The dropped table's WAL records and blocks must not resurface in the new table.
    let (mut shard, _) = Shard::open(dir.path(), config(&clock)).unwrap();
    assert!(dump(&mut shard, "trades", vec![0, 2]).is_empty());
    assert_eq!(
        shard.drop_table("nope").unwrap_err().to_string(),
        "Unknown table: nope"
    );
}

#[test]
fn invalid_batches_are_request_errors_and_change_nothing() {
    let clock = ManualClock::default();
    let dir = tempfile::tempdir().unwrap();
    let (mut shard, _) = Shard::open(dir.path(), config(&clock)).unwrap();
    let cases: Vec<(Batch, &str)> = vec![
        (
            trades(&["A"], &[T0], &[1.0]).i64s("prcie", vec![1]),
            "Unknown column 'prcie' in table trades",
        ),
        (
            Batch::new("nope").i64s("timestamp", vec![1]),
            "Unknown table: nope",
        ),
        (
            Batch::new("trades")
                .i64s("timestamp", vec![T0])
                .strs("symbol", ["A"])
                .i64s("price", vec![1]),
            "column 'price' of table trades has type Float64, got Int64",
        ),
        (
            Batch::new("trades")
                .strs("symbol", ["A"])
                .f64s("price", vec![1.0]),
            "missing required column 'timestamp' for table trades",
        ),
        (
            Batch::new("trades")
                .i64s("timestamp", vec![T0, T0])
                .strs("symbol", ["A"]),
            "column 'symbol' has 1 rows, expected 2",
        ),
        (
            Batch::new("trades")
                .column(
                    "timestamp",
                    ColumnBuf::with_validity(Values::I64(vec![T0]), Bitmap::from_bools([false])),
                )
                .strs("symbol", ["A"]),
            "column 'timestamp' must not be null (row 0)",
        ),
        (
            Batch::new("trades")
                .i64s("timestamp", vec![T0])
                .symbol_codes("symbol", vec!["A".into()], vec![3]),
            "symbol code 3 at row 0 is outside the batch dictionary of 1 entries",
        ),
    ];
    for (batch, msg) in cases {
        let err = shard.append(&batch).unwrap_err();
        assert!(matches!(err, StorageError::Request(_)), "{err:?}");
        assert_eq!(err.to_string(), msg);
    }
    assert_eq!(shard.stats().rows_appended, 0);
    assert_eq!(
        shard.commit().unwrap().written_seq,
        0,
        "nothing reached the WAL"
    );
    assert!(matches!(
        shard.create_table(TableSpec::trades()).unwrap_err(),
        StorageError::Request(RequestError::TableExists(_))
    ));
}

#[test]
fn integer_symbol_tables_key_by_number() {
    let clock = ManualClock::default();
    let dir = tempfile::tempdir().unwrap();
    let (mut shard, _) = Shard::open(dir.path(), config(&clock)).unwrap();
    let spec = TableSpec::new("ticks")
        .column("timestamp", ColumnType::Timestamp)
        .column("symbol", ColumnType::Int64)
        .column("price", ColumnType::Float64);
    shard.create_table(spec).unwrap();
    let b = Batch::new("ticks")
        .i64s("timestamp", vec![T0 + 2, T0 + 1, T0 + 3])
        .i64s("symbol", vec![1, 2, 1])
        .f64s("price", vec![10.0, 20.0, 11.0]);
    shard.append(&b).unwrap();
    let id = shard.catalog().get("ticks").unwrap().id;
    assert_eq!(shard.keys(id), vec![1, 2]);
    let mut spec = ScanSpec::all(id, vec![0, 2]);
    spec.keys = Some(vec![1]);
    let mut prices = Vec::new();
    shard
        .scan(&spec, |v| {
            let ColumnData::F64(p) = v.columns[1].data else {
                panic!()
            };
            prices.extend_from_slice(p);
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(prices, vec![10.0, 11.0]);
}

#[test]
fn old_buffers_seal_on_tick_and_wal_segments_are_trimmed() {
    let clock = ManualClock::default();
    let dir = tempfile::tempdir().unwrap();
    let (mut shard, _) = Shard::open(dir.path(), config(&clock)).unwrap();
    for i in 0..20 {
        shard.append(&trades(&["B"], &[T0 + i], &[1.0])).unwrap();
        shard.commit().unwrap();
    }
    let wal_files = || std::fs::read_dir(dir.path().join("wal")).unwrap().count();
    assert!(
        wal_files() <= 3,
        "sealed segments are deleted: {}",
        wal_files()
    );
    shard.append(&trades(&["C"], &[T0], &[1.0])).unwrap();
    shard.commit().unwrap();
    assert_eq!(shard.stats().hot_rows, 1);
    clock.0.store(999, Ordering::Relaxed);
    shard.tick().unwrap();
    assert_eq!(shard.stats().hot_rows, 1, "not old enough yet");
    clock.0.store(1_000, Ordering::Relaxed);
    shard.tick().unwrap();
    assert_eq!(shard.stats().hot_rows, 0);
    assert_eq!(shard.stats().sealed_rows, 21);
}

#[test]
fn memory_budget_seals_everything() {
    let clock = ManualClock::default();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&clock);
    cfg.block_rows = 1_000_000;
    cfg.hot_bytes_max = 1_000;
    let (mut shard, _) = Shard::open(dir.path(), cfg).unwrap();
    let syms: Vec<String> = (0..50).map(|i| format!("S{i}")).collect();
    let refs: Vec<&str> = syms.iter().map(String::as_str).collect();
    let ts: Vec<i64> = (0..50).map(|i| T0 + i).collect();
    shard.append(&trades(&refs, &ts, &[2.0; 50])).unwrap();
    assert!(shard.stats().hot_bytes > 1_000);
    shard.commit().unwrap();
    assert_eq!(shard.stats().hot_rows, 0);
    assert_eq!(shard.stats().blocks, 50);
}

#[test]
fn drop_before_removes_whole_days_only() {
    let clock = ManualClock::default();
    let dir = tempfile::tempdir().unwrap();
    let (mut shard, _) = Shard::open(dir.path(), config(&clock)).unwrap();
    let ts = [T0 - NS_PER_DAY, T0 - 1, T0, T0 + NS_PER_DAY];
    shard
        .append(&trades(&["A"; 4], &ts, &[1.0, 2.0, 3.0, 4.0]))
        .unwrap();
    shard.append(&trades(&["A"], &[T0 - 5], &[9.0])).unwrap(); // hot, in a dropped day
    shard.commit().unwrap();
    assert_eq!(
        shard.drop_before("trades", T0 + 5).unwrap(),
        1,
        "one sealed partition before T0's day"
    );
    let left: Vec<i64> = dump(&mut shard, "trades", vec![0, 2])
        .iter()
        .map(|r| r.1)
        .collect();
    assert_eq!(left, vec![T0, T0 + NS_PER_DAY]);
    shard.commit().unwrap();
    drop(shard);
    let (mut shard, _) = Shard::open(dir.path(), config(&clock)).unwrap();
    let left: Vec<i64> = dump(&mut shard, "trades", vec![0, 2])
        .iter()
        .map(|r| r.1)
        .collect();
    assert_eq!(
        left,
        vec![T0, T0 + NS_PER_DAY],
        "dropped WAL rows are not replayed"
    );
}

#[test]
fn batch_fsync_acknowledges_only_after_the_interval() {
    let clock = ManualClock::default();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&clock);
    cfg.fsync = FsyncPolicy::Batch { interval_ms: 2 };
    let (mut shard, _) = Shard::open(dir.path(), cfg).unwrap();
    clock.0.store(10_000_000, Ordering::Relaxed);
    shard.tick().unwrap();
    let seq = shard.append(&trades(&["A"], &[T0], &[1.0])).unwrap();
    let r = shard.commit().unwrap();
    assert!(r.written_seq >= seq && r.durable_seq < seq);
    clock.0.store(12_000_000, Ordering::Relaxed);
    // The tick requests the sync; the sync thread completes it without further calls.
    shard.tick().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while shard.durable_seq() < seq {
        assert!(
            std::time::Instant::now() < deadline,
            "the requested sync never completed"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(shard.wal_syncs() >= 1);
}
