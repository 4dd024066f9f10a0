//! Property test: random appends, commits, seals, reopens and retention against an in-memory model.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use proptest::prelude::*;
use storage::{
    Batch, Bitmap, ColumnBuf, ColumnData, ColumnType, FsyncPolicy, ScanSpec, Shard, ShardConfig,
    StrValues, TableSpec, Values, NS_PER_DAY,
};

/// One row of the `ticks` test table; `id` is unique so multisets compare exactly.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    id: u64,
    ts: i64,
    symbol: String,
    price: Option<f64>,
    volume: i64,
    flag: Option<bool>,
    note: Option<String>,
}

fn spec() -> TableSpec {
    TableSpec::new("ticks")
        .column("timestamp", ColumnType::Timestamp)
        .column("symbol", ColumnType::Symbol)
        .column("id", ColumnType::UInt64)
        .column("price", ColumnType::Float64)
        .column("volume", ColumnType::Int64)
        .column("flag", ColumnType::Bool)
        .column("note", ColumnType::String)
}

const SYMBOLS: [&str; 5] = ["AAPL", "MSFT", "GOOG", "BRK.B", "ZZZZ-long-symbol-name"];

fn to_batch(rows: &[Row], as_codes: bool) -> Batch {
    let mut b = Batch::new("ticks").i64s("timestamp", rows.iter().map(|r| r.ts).collect());
    if as_codes {
        let dict: Vec<String> = SYMBOLS.iter().map(|s| s.to_string()).collect();
        let codes = rows
            .iter()
            .map(|r| SYMBOLS.iter().position(|s| *s == r.symbol).unwrap() as u32)
            .collect();
        b = b.symbol_codes("symbol", dict, codes);
    } else {
        b = b.strs("symbol", rows.iter().map(|r| r.symbol.as_str()));
    }
    b = b.u64s("id", rows.iter().map(|r| r.id).collect());
    b = b.column(
        "price",
        ColumnBuf::with_validity(
            Values::F64(rows.iter().map(|r| r.price.unwrap_or(0.0)).collect()),
            Bitmap::from_bools(rows.iter().map(|r| r.price.is_some())),
        ),
    );
    b = b.i64s("volume", rows.iter().map(|r| r.volume).collect());
    b = b.column(
        "flag",
        ColumnBuf::with_validity(
            Values::Bool(rows.iter().map(|r| r.flag.unwrap_or(false) as u8).collect()),
            Bitmap::from_bools(rows.iter().map(|r| r.flag.is_some())),
        ),
    );
    b.column(
        "note",
        ColumnBuf::with_validity(
            Values::Str(StrValues::from_strs(
                rows.iter().map(|r| r.note.clone().unwrap_or_default()),
            )),
            Bitmap::from_bools(rows.iter().map(|r| r.note.is_some())),
        ),
    )
}

/// Reads rows of `symbol` in [lo, hi] back out of the shard, checking each view is time-sorted.
fn scan_rows(shard: &mut Shard, symbol: Option<&str>, lo: i64, hi: i64) -> Vec<Row> {
    let table = shard.catalog().get("ticks").unwrap().id;
    let keys = symbol.map(|s| {
        shard
            .lookup_symbol(s)
            .map(|k| vec![k as u64])
            .unwrap_or_default()
    });
    let spec = ScanSpec {
        table,
        keys,
        ts_min: lo,
        ts_max: hi,
        columns: vec![0, 1, 2, 3, 4, 5, 6],
    };
    let mut raw = Vec::new();
    shard
        .scan(&spec, |v| {
            let cols = &v.columns;
            let ColumnData::I64(ts) = cols[0].data else {
                panic!("ts")
            };
            assert!(ts.windows(2).all(|w| w[0] <= w[1]), "view is time-sorted");
            assert!(
                ts.iter().all(|&t| (lo..=hi).contains(&t)),
                "view within range"
            );
            for i in 0..v.rows {
                let ColumnData::Sym(sym) = cols[1].data else {
                    panic!("sym")
                };
                assert_eq!(sym[i] as u64, v.key, "rows belong to the view's key");
                let ColumnData::U64(id) = cols[2].data else {
                    panic!("id")
                };
                let ColumnData::F64(price) = cols[3].data else {
                    panic!("price")
                };
                let ColumnData::I64(volume) = cols[4].data else {
                    panic!("volume")
                };
                let ColumnData::Bool(flag) = cols[5].data else {
                    panic!("flag")
                };
                let ColumnData::Str { offsets, bytes } = cols[6].data else {
                    panic!("note")
                };
                raw.push((
                    sym[i],
                    Row {
                        id: id[i],
                        ts: ts[i],
                        symbol: String::new(),
                        price: cols[3].is_valid(i).then_some(price[i]),
                        volume: volume[i],
                        flag: cols[5].is_valid(i).then_some(flag[i] != 0),
                        note: cols[6].is_valid(i).then(|| {
                            String::from_utf8(
                                bytes[offsets[i] as usize..offsets[i + 1] as usize].to_vec(),
                            )
                            .unwrap()
                        }),
                    },
                ));
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    let mut out: Vec<Row> = raw
        .into_iter()
        .map(|(sym, mut r)| {
            r.symbol = shard.symbol_name(sym).unwrap().to_string();
            r
        })
        .collect();
    out.sort_by_key(|r| r.id);
    out
}

fn expected(model: &BTreeMap<u64, Row>, symbol: Option<&str>, lo: i64, hi: i64) -> Vec<Row> {
    model
        .values()
        .filter(|r| symbol.is_none_or(|s| r.symbol == s) && (lo..=hi).contains(&r.ts))
        .cloned()
        .collect()
}

#[derive(Debug, Clone)]
enum Op {
    /// Rows as (symbol index, ts offset, price, volume, flag, note); `bool` = symbols as codes.
    Append(
        Vec<(usize, i64, Option<f64>, i64, Option<bool>, Option<String>)>,
        bool,
    ),
    Commit,
    SealAll,
    Tick,
    Reopen,
    DropBefore(i64),
    Check(Option<usize>, i64, i64),
}

fn op() -> impl Strategy<Value = Op> {
    let row = (
        0..SYMBOLS.len(),
        // Four days around 2026-11-20, out of order.
        0..4 * NS_PER_DAY,
        prop::option::of(prop_oneof![any::<f64>(), -1e6..1e6f64]),
        any::<i64>(),
        prop::option::of(any::<bool>()),
        prop::option::of("[a-zé ]{0,12}"),
    );
    prop_oneof![
        6 => (prop::collection::vec(row, 0..40), any::<bool>()).prop_map(|(r, c)| Op::Append(r, c)),
        3 => Just(Op::Commit),
        1 => Just(Op::SealAll),
        1 => Just(Op::Tick),
        1 => Just(Op::Reopen),
        1 => (0..5 * NS_PER_DAY).prop_map(Op::DropBefore),
        2 => (prop::option::of(0..SYMBOLS.len()), 0..4 * NS_PER_DAY, 0..4 * NS_PER_DAY).prop_map(|(s, a, b)| Op::Check(s, a.min(b), a.max(b))),
    ]
}

const BASE: i64 = 20_412 * NS_PER_DAY;

fn config(block_rows: usize) -> ShardConfig {
    ShardConfig {
        fsync: FsyncPolicy::Never,
        block_rows,
        seal_age_ns: 0,
        wal_segment_bytes: 4096,
        ..ShardConfig::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn shard_matches_model(ops in prop::collection::vec(op(), 1..40), block_rows in 1usize..64) {
        let dir = tempfile::tempdir().unwrap();
        let (mut shard, _) = Shard::open(dir.path(), config(block_rows)).unwrap();
        shard.create_table(spec()).unwrap();
        let mut model: BTreeMap<u64, Row> = BTreeMap::new();
        let mut next_id = 0u64;
        for op in ops {
            match op {
                Op::Append(rows, codes) => {
                    let rows: Vec<Row> = rows.into_iter().map(|(s, t, price, volume, flag, note)| {
                        next_id += 1;
                        Row { id: next_id, ts: BASE + t, symbol: SYMBOLS[s].to_string(), price, volume, flag, note }
                    }).collect();
                    shard.append(&to_batch(&rows, codes)).unwrap();
                    for r in rows {
                        model.insert(r.id, r);
                    }
                }
                Op::Commit => { shard.commit().unwrap(); }
                Op::SealAll => { shard.seal_all().unwrap(); }
                Op::Tick => { shard.tick().unwrap(); }
                Op::Reopen => {
                    // Unflushed WAL records are lost on reopen: commit first, as a server would
                    // before acknowledging.
                    shard.commit().unwrap();
                    drop(shard);
                    shard = Shard::open(dir.path(), config(block_rows)).unwrap().0;
                }
                Op::DropBefore(cut) => {
                    let cutoff = BASE + cut;
                    shard.drop_before("ticks", cutoff).unwrap();
                    let cutoff_day = storage::day_of(cutoff);
                    model.retain(|_, r| storage::day_of(r.ts) >= cutoff_day);
                }
                Op::Check(sym, lo, hi) => {
                    let sym = sym.map(|s| SYMBOLS[s]);
                    let got = scan_rows(&mut shard, sym, BASE + lo, BASE + hi);
                    prop_assert_eq!(got, expected(&model, sym, BASE + lo, BASE + hi));
                }
            }
            shard.check_invariants();
        }
        let got = scan_rows(&mut shard, None, i64::MIN, i64::MAX);
        prop_assert_eq!(&got, &expected(&model, None, i64::MIN, i64::MAX));
        shard.commit().unwrap();
        drop(shard);
        let (mut shard, _) = Shard::open(dir.path(), config(block_rows)).unwrap();
        shard.check_invariants();
        shard.verify().unwrap();
        let got = scan_rows(&mut shard, None, i64::MIN, i64::MAX);
        prop_assert_eq!(&got, &expected(&model, None, i64::MIN, i64::MAX));
    }
}
