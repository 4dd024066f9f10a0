//! Golden-file test: data directories written by earlier format versions must still read back.
//!
//! `golden/v1` was written once by `ronto-make-golden` (see `golden/README.md`). This test opens
//! a copy of it and checks every row against the generator in `tests::golden`, so a change to
//! the WAL, column files, block index, symbol dictionary or catalog that cannot read v1 fails
//! here. The same checks run on a freshly written directory, so a failure on v1 alone means the
//! format changed, not that the checks are wrong.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use storage::{Batch, ColumnData, ColumnType, RecoveryReport, ScanSpec, Shard};
use tests::golden::{self, ADDED_COLUMN, EVERY_TYPE_TABLE};
use tests::{copy_dir, read_table, symbol_names, Value};

fn golden_v1() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("golden")
        .join("v1")
}

#[test]
fn v1_reads_back_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v1");
    copy_dir(&golden_v1(), &dir).expect("copy golden/v1 (is it committed?)");
    let shard = check_golden(&dir);
    // Symbol ids are positions in `symbols.dict` that sealed blocks refer to: v1's are fixed.
    let ids = [
        "ÜBER.DE", "X", "AAPL", "", "ÆØÅ", "BATS", "XNAS", "XNYS", "MSFT", "GOOG", "AMZN", "NVDA",
    ];
    assert_eq!(symbol_names(&shard), ids, "symbol ids of v1");
}

#[test]
fn freshly_written_directory_reads_back_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    golden::write(tmp.path()).unwrap();
    check_golden(tmp.path());
}

#[test]
fn v1_accepts_new_writes_and_seals_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v1");
    copy_dir(&golden_v1(), &dir).unwrap();
    let late_ts = (golden::DAY0 + 2) * storage::NS_PER_DAY + 7;
    {
        let (mut shard, _) = Shard::open(&dir, golden::config(golden::BLOCK_ROWS_NEVER)).unwrap();
        let batch = Batch::new("trades")
            .i64s("timestamp", vec![late_ts])
            .strs("symbol", ["NEW"])
            .f64s("price", vec![1.5])
            .i64s("volume", vec![3]);
        let seq = shard.append(&batch).unwrap();
        assert!(shard.commit().unwrap().durable_seq >= seq);
        shard.seal_all().unwrap();
        shard.check_invariants();
    }
    let (mut shard, _) = Shard::open(&dir, golden::config(golden::BLOCK_ROWS_NEVER)).unwrap();
    shard.check_invariants();
    let mut expected = golden::expected_trades();
    expected.push(vec![
        Value::Timestamp(late_ts),
        Value::Symbol("NEW".into()),
        Value::F64(1.5),
        Value::I64(3),
    ]);
    expected.sort();
    assert_eq!(sorted(read_table(&mut shard, "trades").unwrap()), expected);
    assert_eq!(
        sorted(read_table(&mut shard, EVERY_TYPE_TABLE).unwrap()),
        golden::expected_every_type()
    );
    assert_eq!(
        shard.stats().hot_rows,
        0,
        "seal_all sealed the WAL-only rows of v1 too"
    );
    assert_eq!(shard.verify().unwrap(), shard.stats().sealed_rows);
}

fn sorted(mut rows: Vec<Vec<Value>>) -> Vec<Vec<Value>> {
    rows.sort();
    rows
}

/// Everything a reader of the golden data set must find.
fn check_golden(dir: &Path) -> Shard {
    let (mut shard, report) = Shard::open(dir, golden::config(golden::BLOCK_ROWS_NEVER)).unwrap();
    shard.check_invariants();
    check_catalog(&shard);
    check_layout(&mut shard, &report);

    let sealed_rows = shard.verify().expect("every sealed block's CRC matches");
    assert_eq!(sealed_rows, shard.stats().sealed_rows);

    let trades = sorted(read_table(&mut shard, "trades").unwrap());
    let expected = golden::expected_trades();
    assert_eq!(trades.len(), expected.len(), "trades row count");
    for (got, want) in trades.iter().zip(&expected) {
        assert_eq!(got, want);
    }
    let every = sorted(read_table(&mut shard, EVERY_TYPE_TABLE).unwrap());
    let expected = golden::expected_every_type();
    assert_eq!(every.len(), expected.len(), "every_type row count");
    for (got, want) in every.iter().zip(&expected) {
        assert_eq!(got, want);
    }
    assert!(read_table(&mut shard, "quotes").unwrap().is_empty());

    // Every symbol is in the dictionary. The only other entry allowed is "": storage interns
    // the placeholder value of NULL slots in Symbol columns given as strings.
    let names = symbol_names(&shard);
    let want = [
        "AAPL", "AMZN", "BATS", "GOOG", "MSFT", "NVDA", "X", "XNAS", "XNYS", "ÆØÅ", "ÜBER.DE",
    ];
    for w in want {
        assert!(
            names.iter().any(|n| n == w),
            "symbol {w} missing from {names:?}"
        );
    }
    assert!(
        names
            .iter()
            .all(|n| n.is_empty() || want.contains(&n.as_str())),
        "unexpected symbols in {names:?}"
    );
    shard
}

fn check_catalog(shard: &Shard) {
    let tables: Vec<(u32, &str)> = shard
        .catalog()
        .tables()
        .iter()
        .map(|t| (t.id, t.name.as_str()))
        .collect();
    assert_eq!(
        tables,
        vec![(1, "trades"), (2, "quotes"), (3, EVERY_TYPE_TABLE)]
    );
    let columns = |name: &str| -> Vec<(u16, String, ColumnType)> {
        let t = shard.catalog().get(name).unwrap();
        assert_eq!(t.columns[t.ts_index].name, "timestamp");
        assert_eq!(t.columns[t.key_index].name, "symbol");
        t.columns
            .iter()
            .map(|c| (c.id, c.name.clone(), c.ty))
            .collect()
    };
    let expect = |cols: &[(&str, ColumnType)]| -> Vec<(u16, String, ColumnType)> {
        cols.iter()
            .enumerate()
            .map(|(i, (n, t))| (i as u16, n.to_string(), *t))
            .collect()
    };
    assert_eq!(
        columns("trades"),
        expect(&[
            ("timestamp", ColumnType::Timestamp),
            ("symbol", ColumnType::Symbol),
            ("price", ColumnType::Float64),
            ("volume", ColumnType::Int64)
        ])
    );
    assert_eq!(
        columns("quotes"),
        expect(&[
            ("timestamp", ColumnType::Timestamp),
            ("symbol", ColumnType::Symbol),
            ("bid", ColumnType::Float64),
            ("ask", ColumnType::Float64),
            ("bid_size", ColumnType::Int64),
            ("ask_size", ColumnType::Int64),
        ])
    );
    assert_eq!(
        columns(EVERY_TYPE_TABLE),
        expect(&[
            ("timestamp", ColumnType::Timestamp),
            ("symbol", ColumnType::Symbol),
            ("i", ColumnType::Int64),
            ("u", ColumnType::UInt64),
            ("f", ColumnType::Float64),
            ("flag", ColumnType::Bool),
            ("note", ColumnType::String),
            ("venue", ColumnType::Symbol),
            ("at", ColumnType::Timestamp),
            (ADDED_COLUMN, golden::ADDED_COLUMN_TYPE),
        ])
    );
}

/// The data set exercises what it claims to: sealed blocks and WAL-only rows in both tables,
/// blocks written before and after `extra` was added, and the dropped day really gone.
fn check_layout(shard: &mut Shard, report: &RecoveryReport) {
    assert!(report.blocks > 0, "sealed blocks: {report:?}");
    assert!(
        report.wal.records > 0 && report.rows_replayed > 0,
        "WAL-only rows: {report:?}"
    );
    assert_eq!(report.wal.truncated, None, "golden WAL has no torn tail");

    #[derive(Default, Debug)]
    struct Seen {
        sealed_without: usize,
        sealed_with: usize,
        hot: usize,
        days: std::collections::BTreeSet<i32>,
    }
    let mut layout = |table: &str, probe: usize| -> Seen {
        let id = shard.catalog().get(table).unwrap().id;
        let mut seen = Seen::default();
        shard
            .scan(&ScanSpec::all(id, vec![0, probe]), |view| {
                let ColumnData::I64(ts) = view.columns[0].data else {
                    panic!("timestamps")
                };
                seen.days.extend(ts.iter().map(|&t| storage::day_of(t)));
                match (view.meta, view.columns[1].data) {
                    (None, _) => seen.hot += view.rows,
                    (Some(_), ColumnData::Null) => seen.sealed_without += view.rows,
                    (Some(_), _) => seen.sealed_with += view.rows,
                }
                ControlFlow::Continue(())
            })
            .unwrap();
        seen
    };
    let every = layout(EVERY_TYPE_TABLE, 9);
    assert!(
        every.sealed_without > 0 && every.sealed_with > 0 && every.hot > 0,
        "every_type layout {every:?}"
    );
    let trades = layout("trades", 2);
    assert!(
        trades.sealed_with > 0 && trades.hot > 0,
        "trades layout {trades:?}"
    );
    let d = golden::DAY0 as i32;
    assert_eq!(
        trades.days.into_iter().collect::<Vec<_>>(),
        vec![d + 1, d + 2],
        "day {d} was dropped"
    );
}
