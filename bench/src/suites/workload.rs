//! The tick-day workload shared by the `query` and `peers` suites: seeded trades, loaders, the queries in each engine's dialect, reference answers.
//!
//! The data is one trading day (2024-01-02 09:30–16:00 UTC) of `trades` over [`SYMBOLS`]
//! symbols named `S0`..`S99`. Every [`HOT_EVERY`]th row belongs to the hot symbol
//! [`HOT_SYMBOL`] (so 10 M rows give it exactly 1 M); the others are drawn uniformly from
//! the rest. Timestamps are unique and strictly increasing (an even grid with jitter below one
//! step), prices are a per-symbol random walk in whole cents (so the CSV text round-trips
//! exactly in every engine), volumes are 1..=1,000.
//!
//! Every query has a reference answer computed here from the generated rows by plain loops,
//! independent of any engine; each engine's answer is checked against it before its timings
//! are reported.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use sql::db::{Database, Output, QueryStats, ShardRunner};
use sql::{ResultSet, Value};
use storage::{Batch, FsyncPolicy, ShardConfig};

use crate::hist::new_histogram;
use crate::{BenchError, IoAt};

/// Distinct symbols.
pub const SYMBOLS: usize = 100;
/// The symbol with one row in [`HOT_EVERY`]: the one-symbol queries read it.
pub const HOT_SYMBOL: &str = "S0";
pub const HOT_EVERY: usize = 10;
/// 2024-01-02 09:30:00 UTC, the open.
pub const DAY_OPEN_NS: i64 = 1_704_187_800_000_000_000;
/// 6.5 hours: the open to the close.
pub const DAY_NS: i64 = 23_400_000_000_000;
/// One-minute bars.
pub const BAR_NS: i64 = 60_000_000_000;
/// The generator's seed: the same seed gives byte-identical data.
pub const SEED: u64 = 20_240_102;
/// `count(*) WHERE price > PRICE_THRESHOLD` (prices start uniform in 10..500).
pub const PRICE_THRESHOLD: i64 = 250;
/// The time-range query covers [10:00, 11:00).
pub const RANGE_START_NS: i64 = DAY_OPEN_NS + 1_800_000_000_000;
pub const RANGE_END_NS: i64 = RANGE_START_NS + 3_600_000_000_000;
/// Rows per `Database::insert` when loading (the default block size).
const LOAD_BATCH_ROWS: usize = 65_536;
/// Relative tolerance for floats in answer checks: sums taken in different orders differ in
/// the last bits, nothing more.
pub const FLOAT_TOLERANCE: f64 = 1e-9;

/// One generated trading day, columnar.
#[derive(Debug)]
pub struct Ticks {
    pub ts: Vec<i64>,
    /// Index into `names`.
    pub sym: Vec<u32>,
    /// Price in cents; `price` is exactly `cents as f64 / 100.0`.
    pub cents: Vec<i64>,
    pub price: Vec<f64>,
    pub volume: Vec<i64>,
    pub names: Vec<String>,
}

impl Ticks {
    /// `rows` trades (at least [`HOT_EVERY`]), seeded.
    pub fn generate(rows: usize, seed: u64) -> Ticks {
        assert!(rows >= HOT_EVERY, "too few rows for a tick day");
        let mut rng = SmallRng::seed_from_u64(seed);
        let names: Vec<String> = (0..SYMBOLS).map(|i| format!("S{i}")).collect();
        let mut walk: Vec<i64> = (0..SYMBOLS).map(|_| rng.gen_range(1_000..50_000)).collect();
        let step_ns = DAY_NS / rows as i64;
        assert!(step_ns > 0, "more rows than nanoseconds in the day");
        let mut t = Ticks {
            ts: Vec::with_capacity(rows),
            sym: Vec::with_capacity(rows),
            cents: Vec::with_capacity(rows),
            price: Vec::with_capacity(rows),
            volume: Vec::with_capacity(rows),
            names,
        };
        for i in 0..rows {
            let s = if i % HOT_EVERY == 0 {
                0
            } else {
                rng.gen_range(1..SYMBOLS)
            };
            let c = &mut walk[s];
            *c = (*c + rng.gen_range(-3..=3)).max(100);
            // Jitter below one step keeps timestamps unique and increasing: first/last have
            // no ties in any engine.
            t.ts.push(DAY_OPEN_NS + i as i64 * step_ns + rng.gen_range(0..step_ns));
            t.sym.push(s as u32);
            t.cents.push(*c);
            t.price.push(*c as f64 / 100.0);
            t.volume.push(rng.gen_range(1..=1_000));
        }
        debug_assert!(t.ts.windows(2).all(|w| w[0] < w[1]));
        t
    }

    pub fn rows(&self) -> usize {
        self.ts.len()
    }

    /// Rows of the hot symbol.
    pub fn hot_rows(&self) -> usize {
        self.sym.iter().filter(|&&s| s == 0).count()
    }

    /// Rows `lo..hi` as a `trades` batch.
    pub fn batch(&self, lo: usize, hi: usize) -> Batch {
        Batch::new("trades")
            .i64s("timestamp", self.ts[lo..hi].to_vec())
            .symbol_codes("symbol", self.names.clone(), self.sym[lo..hi].to_vec())
            .f64s("price", self.price[lo..hi].to_vec())
            .i64s("volume", self.volume[lo..hi].to_vec())
    }

    /// Writes `timestamp,symbol,price,volume` CSV (integer ns, cents as `d.dd`) to `path`,
    /// through a temporary file renamed into place, so a half-written file is never reused.
    pub fn write_csv(&self, path: &Path) -> Result<(), BenchError> {
        let tmp = path.with_extension("csv.tmp");
        let file = std::fs::File::create(&tmp).at(&tmp)?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        let mut line = String::with_capacity(64);
        w.write_all(b"timestamp,symbol,price,volume\n").at(&tmp)?;
        for i in 0..self.rows() {
            use std::fmt::Write as _;
            line.clear();
            let c = self.cents[i];
            let _ = writeln!(
                line,
                "{},{},{}.{:02},{}",
                self.ts[i],
                self.names[self.sym[i] as usize],
                c / 100,
                c % 100,
                self.volume[i]
            );
            w.write_all(line.as_bytes()).at(&tmp)?;
        }
        w.flush().at(&tmp)?;
        drop(w);
        std::fs::rename(&tmp, path).at(path)
    }
}

/// Opens a `Database` of `shards` shards under `dir` (fsync never: nothing here measures
/// durability) and loads `ticks` into it in 65,536-row batches, then seals every shard, so
/// queries read sealed, time-sorted blocks. Returns the database and the load's wall time.
pub fn open_loaded(
    dir: &Path,
    shards: usize,
    ticks: &Ticks,
) -> Result<(Database, Duration), BenchError> {
    let db = Database::open(dir, shards, || ShardConfig {
        fsync: FsyncPolicy::Never,
        ..ShardConfig::default()
    })?;
    let schema = db
        .shard(0)
        .catalog()
        .get("trades")
        .ok_or_else(|| BenchError::Check("a fresh database has no trades table".into()))?
        .clone();
    let t0 = Instant::now();
    let mut lo = 0;
    while lo < ticks.rows() {
        let hi = (lo + LOAD_BATCH_ROWS).min(ticks.rows());
        db.insert(&schema, &ticks.batch(lo, hi))?;
        lo = hi;
    }
    for i in 0..db.shard_count() {
        db.shard(i).seal_all()?;
    }
    let took = t0.elapsed();
    let sealed: u64 = (0..db.shard_count())
        .map(|i| db.shard(i).stats().sealed_rows)
        .sum();
    if sealed != ticks.rows() as u64 {
        return Err(BenchError::Check(format!(
            "loaded {} rows but {sealed} are sealed",
            ticks.rows()
        )));
    }
    Ok((db, took))
}

/// One benchmark query in each engine's dialect.
#[derive(Debug, Clone)]
pub struct Query {
    /// File-name word (`.hgrm` names, `--only`).
    pub id: &'static str,
    pub title: String,
    pub ronto: String,
    pub chdb: String,
    pub duckdb: String,
    /// Whether issue 3's "≥ 5× faster than chDB and DuckDB" target applies.
    pub peer_target: bool,
}

/// The benchmark queries over `ticks`, in a fixed order.
pub fn queries(ticks: &Ticks) -> Vec<Query> {
    let rows = crate::report::fmt_count(ticks.rows() as u64);
    let hot = crate::report::fmt_count(ticks.hot_rows() as u64);
    let sym = HOT_SYMBOL;
    let bar_r = format!("xbar(timestamp, {BAR_NS}) AS bar");
    let bar_d = format!("timestamp // {BAR_NS} * {BAR_NS} AS bar");
    let ohlcv_r = "first(price), max(price), min(price), last(price), sum(volume)";
    let ohlcv_c =
        "argMin(price, timestamp), max(price), min(price), argMax(price, timestamp), sum(volume)";
    let ohlcv_d =
        "arg_min(price, timestamp), max(price), min(price), arg_max(price, timestamp), sum(volume)";
    let vwap_peer = "sum(price * volume) / sum(volume)";
    let (a, b) = (RANGE_START_NS, RANGE_END_NS);
    let x = PRICE_THRESHOLD;
    vec![
        Query {
            id: "vwap-one",
            title: format!("vwap of one symbol ({hot} rows)"),
            ronto: format!("SELECT vwap(price, volume) FROM trades WHERE symbol = '{sym}'"),
            chdb: format!("SELECT {vwap_peer} FROM trades WHERE symbol = '{sym}'"),
            duckdb: format!("SELECT {vwap_peer} FROM trades WHERE symbol = '{sym}'"),
            peer_target: false,
        },
        Query {
            id: "vwap-by-symbol",
            title: format!("vwap per symbol ({rows} rows)"),
            ronto: "SELECT symbol, vwap(price, volume) FROM trades GROUP BY symbol ORDER BY symbol"
                .into(),
            chdb: format!(
                "SELECT symbol, {vwap_peer} FROM trades GROUP BY symbol ORDER BY symbol"
            ),
            duckdb: format!(
                "SELECT symbol, {vwap_peer} FROM trades GROUP BY symbol ORDER BY symbol"
            ),
            peer_target: true,
        },
        Query {
            id: "bars-one",
            title: format!("1-minute OHLCV bars, one symbol ({hot} rows)"),
            ronto: format!(
                "SELECT {bar_r}, {ohlcv_r} FROM trades WHERE symbol = '{sym}' GROUP BY bar ORDER BY bar"
            ),
            chdb: format!(
                "SELECT toStartOfMinute(timestamp) AS bar, {ohlcv_c} FROM trades WHERE symbol = '{sym}' GROUP BY bar ORDER BY bar"
            ),
            duckdb: format!(
                "SELECT {bar_d}, {ohlcv_d} FROM trades WHERE symbol = '{sym}' GROUP BY bar ORDER BY bar"
            ),
            peer_target: false,
        },
        Query {
            id: "bars-all",
            title: format!("1-minute OHLCV bars, all symbols ({rows} rows)"),
            ronto: format!(
                "SELECT symbol, {bar_r}, {ohlcv_r} FROM trades GROUP BY symbol, bar ORDER BY symbol, bar"
            ),
            chdb: format!(
                "SELECT symbol, toStartOfMinute(timestamp) AS bar, {ohlcv_c} FROM trades GROUP BY symbol, bar ORDER BY symbol, bar"
            ),
            duckdb: format!(
                "SELECT symbol, {bar_d}, {ohlcv_d} FROM trades GROUP BY symbol, bar ORDER BY symbol, bar"
            ),
            peer_target: true,
        },
        Query {
            id: "count-price",
            title: format!("count(*) WHERE price > {x} ({rows} rows)"),
            ronto: format!("SELECT count(*) FROM trades WHERE price > {x}"),
            chdb: format!("SELECT count(*) FROM trades WHERE price > {x}"),
            duckdb: format!("SELECT count(*) FROM trades WHERE price > {x}"),
            peer_target: false,
        },
        Query {
            id: "last-100",
            title: "last 100 trades of one symbol".into(),
            ronto: format!(
                "SELECT timestamp, price, volume FROM trades WHERE symbol = '{sym}' ORDER BY timestamp DESC LIMIT 100"
            ),
            chdb: format!(
                "SELECT timestamp, price, volume FROM trades WHERE symbol = '{sym}' ORDER BY timestamp DESC LIMIT 100"
            ),
            duckdb: format!(
                "SELECT timestamp, price, volume FROM trades WHERE symbol = '{sym}' ORDER BY timestamp DESC LIMIT 100"
            ),
            peer_target: false,
        },
        Query {
            id: "range-1h",
            title: "count, Σ price, Σ volume over one hour, all symbols".into(),
            ronto: format!(
                "SELECT count(*), sum(price), sum(volume) FROM trades WHERE timestamp >= {a} AND timestamp < {b}"
            ),
            chdb: format!(
                "SELECT count(*), sum(price), sum(volume) FROM trades WHERE timestamp >= fromUnixTimestamp64Nano({a}) AND timestamp < fromUnixTimestamp64Nano({b})"
            ),
            duckdb: format!(
                "SELECT count(*), sum(price), sum(volume) FROM trades WHERE timestamp >= {a} AND timestamp < {b}"
            ),
            peer_target: false,
        },
    ]
}

/// One value of an answer, with every engine's types folded together.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    /// Integers, counts and timestamps (ns).
    Int(i64),
    Float(f64),
    Str(String),
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Null => write!(f, "NULL"),
            Cell::Int(v) => write!(f, "{v}"),
            Cell::Float(v) => write!(f, "{v:?}"),
            Cell::Str(s) => write!(f, "'{s}'"),
        }
    }
}

/// A query's answer: rows of cells.
pub type Answer = Vec<Vec<Cell>>;

/// Ronto's result as an [`Answer`] (allocates per cell: for checks, never in timed code).
pub fn answer_of(rs: &ResultSet) -> Answer {
    (0..rs.rows())
        .map(|r| {
            rs.row(r)
                .into_iter()
                .map(|v| match v {
                    Value::Null => Cell::Null,
                    Value::Int(x) | Value::Ts(x) => Cell::Int(x),
                    Value::UInt(x) => Cell::Int(x as i64),
                    Value::Float(x) => Cell::Float(x),
                    Value::Bool(x) => Cell::Int(x as i64),
                    Value::Str(s) => Cell::Str(s),
                })
                .collect()
        })
        .collect()
}

/// A peer's JSON answer (rows of scalars) as an [`Answer`].
pub fn answer_of_json(v: &serde_json::Value) -> Result<Answer, String> {
    let rows = v.as_array().ok_or("answer is not a list of rows")?;
    rows.iter()
        .map(|row| {
            row.as_array()
                .ok_or_else(|| "answer row is not a list".to_string())?
                .iter()
                .map(|c| match c {
                    serde_json::Value::Null => Ok(Cell::Null),
                    serde_json::Value::Bool(b) => Ok(Cell::Int(*b as i64)),
                    serde_json::Value::Number(n) => Ok(if let Some(i) = n.as_i64() {
                        Cell::Int(i)
                    } else if let Some(u) = n.as_u64() {
                        Cell::Int(u as i64)
                    } else {
                        Cell::Float(n.as_f64().unwrap_or(f64::NAN))
                    }),
                    serde_json::Value::String(s) => Ok(Cell::Str(s.clone())),
                    other => Err(format!("unexpected value in answer: {other}")),
                })
                .collect()
        })
        .collect()
}

fn cells_agree(a: &Cell, b: &Cell) -> bool {
    let num = |c: &Cell| match *c {
        Cell::Int(v) => Some(v as f64),
        Cell::Float(v) => Some(v),
        _ => None,
    };
    match (a, b) {
        (Cell::Int(x), Cell::Int(y)) => x == y,
        (Cell::Str(x), Cell::Str(y)) => x == y,
        (Cell::Null, Cell::Null) => true,
        _ => match (num(a), num(b)) {
            (Some(x), Some(y)) => {
                (x.is_nan() && y.is_nan())
                    || x == y
                    || (x - y).abs() <= FLOAT_TOLERANCE * x.abs().max(y.abs())
            }
            _ => false,
        },
    }
}

/// Checks `got` against `want`: same shape, integers and strings equal, floats within
/// [`FLOAT_TOLERANCE`]. The error names the first difference.
pub fn compare(want: &Answer, got: &Answer) -> Result<(), String> {
    if want.len() != got.len() {
        return Err(format!(
            "{} rows, expected {} (first row: {:?})",
            got.len(),
            want.len(),
            got.first().map(|r| row_text(r))
        ));
    }
    for (i, (w, g)) in want.iter().zip(got).enumerate() {
        if w.len() != g.len() {
            return Err(format!(
                "row {i} has {} columns, expected {}",
                g.len(),
                w.len()
            ));
        }
        for (j, (a, b)) in w.iter().zip(g).enumerate() {
            if !cells_agree(a, b) {
                return Err(format!(
                    "row {i} column {j}: got {b}, expected {a} (row: [{}], expected [{}])",
                    row_text(g),
                    row_text(w)
                ));
            }
        }
    }
    Ok(())
}

fn row_text(r: &[Cell]) -> String {
    r.iter().map(Cell::to_string).collect::<Vec<_>>().join(", ")
}

/// The reference answer to query `id`, from plain loops over the generated rows.
pub fn expected(ticks: &Ticks, id: &str) -> Answer {
    let hot = |i: &usize| ticks.sym[*i] == 0;
    let idx = 0..ticks.rows();
    let vwap = |rows: &mut dyn Iterator<Item = usize>| {
        let (mut pv, mut v) = (0.0f64, 0.0f64);
        for i in rows {
            pv += ticks.price[i] * ticks.volume[i] as f64;
            v += ticks.volume[i] as f64;
        }
        pv / v
    };
    let bar_of = |i: usize| ticks.ts[i].div_euclid(BAR_NS) * BAR_NS;
    // (open, high, low, close, Σ volume); rows arrive in time order.
    type Bar = (f64, f64, f64, f64, i64);
    let add = |bars: &mut Bar, i: usize| {
        let p = ticks.price[i];
        bars.1 = bars.1.max(p);
        bars.2 = bars.2.min(p);
        bars.3 = p;
        bars.4 += ticks.volume[i];
    };
    let bar_row = |b: &Bar| {
        vec![
            Cell::Float(b.0),
            Cell::Float(b.1),
            Cell::Float(b.2),
            Cell::Float(b.3),
            Cell::Int(b.4),
        ]
    };
    match id {
        "vwap-one" => vec![vec![Cell::Float(vwap(&mut idx.filter(hot)))]],
        "vwap-by-symbol" => {
            let mut by_name: Vec<(String, u32)> = ticks
                .names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.clone(), i as u32))
                .collect();
            by_name.sort();
            let mut pv = vec![0.0f64; SYMBOLS];
            let mut v = vec![0.0f64; SYMBOLS];
            for i in idx {
                let s = ticks.sym[i] as usize;
                pv[s] += ticks.price[i] * ticks.volume[i] as f64;
                v[s] += ticks.volume[i] as f64;
            }
            by_name
                .into_iter()
                .filter(|(_, s)| v[*s as usize] > 0.0)
                .map(|(n, s)| vec![Cell::Str(n), Cell::Float(pv[s as usize] / v[s as usize])])
                .collect()
        }
        "bars-one" | "bars-all" => {
            let mut bars: HashMap<(u32, i64), Bar> = HashMap::new();
            for i in idx.filter(|i| id == "bars-all" || hot(i)) {
                let p = ticks.price[i];
                add(
                    bars.entry((ticks.sym[i], bar_of(i)))
                        .or_insert((p, p, p, p, 0)),
                    i,
                );
            }
            let sorted: BTreeMap<(&str, i64), Bar> = bars
                .into_iter()
                .map(|((s, bar), b)| ((ticks.names[s as usize].as_str(), bar), b))
                .collect();
            sorted
                .iter()
                .map(|((name, bar), b)| {
                    let mut row = if id == "bars-all" {
                        vec![Cell::Str(name.to_string())]
                    } else {
                        Vec::new()
                    };
                    row.push(Cell::Int(*bar));
                    row.extend(bar_row(b));
                    row
                })
                .collect()
        }
        "count-price" => {
            let n = ticks
                .price
                .iter()
                .filter(|&&p| p > PRICE_THRESHOLD as f64)
                .count();
            vec![vec![Cell::Int(n as i64)]]
        }
        "last-100" => idx
            .rev()
            .filter(hot)
            .take(100)
            .map(|i| {
                vec![
                    Cell::Int(ticks.ts[i]),
                    Cell::Float(ticks.price[i]),
                    Cell::Int(ticks.volume[i]),
                ]
            })
            .collect(),
        "range-1h" => {
            let (mut n, mut p, mut v) = (0i64, 0.0f64, 0i64);
            for i in idx.filter(|&i| ticks.ts[i] >= RANGE_START_NS && ticks.ts[i] < RANGE_END_NS) {
                n += 1;
                p += ticks.price[i];
                v += ticks.volume[i];
            }
            vec![vec![Cell::Int(n), Cell::Float(p), Cell::Int(v)]]
        }
        other => panic!("no reference answer for query {other}"),
    }
}

/// How long and how often to run each query.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Untimed runs first (the first one's answer is the one checked).
    pub warmup: usize,
    pub min_iters: usize,
    pub max_iters: usize,
    /// Keep running until this much timed time has passed (and `min_iters` runs were made).
    pub time: Duration,
}

/// What running one query many times gave.
#[derive(Debug)]
pub struct Measured {
    /// End-to-end `Database::execute` latency: parse, plan, fragments, merge.
    pub hist: Histogram<u64>,
    pub iters: u64,
    pub timed_ns: u64,
    /// The first run's result and statistics (every run reads the same).
    pub result: ResultSet,
    pub stats: QueryStats,
}

impl Measured {
    pub fn qps(&self) -> f64 {
        self.iters as f64 * 1e9 / self.timed_ns.max(1) as f64
    }
}

/// Runs `sql` per `budget`, timing each `execute` call (the result is dropped untimed).
pub fn measure(db: &Database, sql: &str, budget: &Budget) -> Result<Measured, BenchError> {
    measure_with(db, sql, budget, || {})
}

/// [`measure`], calling `before_each` untimed before every run (e.g. to evict CPU caches).
pub fn measure_with(
    db: &Database,
    sql: &str,
    budget: &Budget,
    mut before_each: impl FnMut(),
) -> Result<Measured, BenchError> {
    let run = |db: &Database| -> Result<(ResultSet, QueryStats), BenchError> {
        match db.execute(sql)? {
            Output::Rows { result, stats, .. } => Ok((result, stats)),
            other => Err(BenchError::Check(format!(
                "query returned {other:?}, not rows: {sql}"
            ))),
        }
    };
    let (result, stats) = run(db)?;
    for _ in 1..budget.warmup {
        before_each();
        run(db)?;
    }
    let mut hist = new_histogram();
    let mut timed_ns = 0u64;
    let mut iters = 0u64;
    let budget_ns = budget.time.as_nanos() as u64;
    while (iters as usize) < budget.max_iters
        && (timed_ns < budget_ns || (iters as usize) < budget.min_iters)
    {
        before_each();
        let t0 = Instant::now();
        let out = db.execute(sql);
        let ns = t0.elapsed().as_nanos() as u64;
        drop(out?);
        hist.saturating_record(ns);
        timed_ns += ns;
        iters += 1;
    }
    Ok(Measured {
        hist,
        iters,
        timed_ns,
        result,
        stats,
    })
}

/// Builds a histogram from raw nanosecond samples (the peers' timings).
pub fn histogram_of(samples_ns: &[u64]) -> Histogram<u64> {
    let mut h = new_histogram();
    for &s in samples_ns {
        h.saturating_record(s.max(1));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_seeded_and_shaped() {
        let a = Ticks::generate(10_000, 1);
        let b = Ticks::generate(10_000, 1);
        assert_eq!(a.ts, b.ts);
        assert_eq!(a.cents, b.cents);
        assert_eq!(a.hot_rows(), 1_000);
        assert!(a.ts.windows(2).all(|w| w[0] < w[1]));
        assert!(*a.ts.last().unwrap() < DAY_OPEN_NS + DAY_NS);
        assert!(a
            .cents
            .iter()
            .zip(&a.price)
            .all(|(&c, &p)| (p * 100.0).round() as i64 == c));
    }

    #[test]
    fn compare_tolerates_float_noise_only() {
        let want = vec![vec![
            Cell::Str("S0".into()),
            Cell::Float(100.0),
            Cell::Int(3),
        ]];
        let mut got = want.clone();
        got[0][1] = Cell::Float(100.0 * (1.0 + 1e-12));
        assert!(compare(&want, &got).is_ok());
        got[0][1] = Cell::Float(100.001);
        assert!(compare(&want, &got).is_err());
        got[0][1] = Cell::Int(100);
        assert!(
            compare(&want, &got).is_ok(),
            "an integral float may come back as an int"
        );
        got[0][2] = Cell::Int(4);
        assert!(compare(&want, &got).is_err());
        assert!(compare(&want, &Vec::new()).is_err());
    }

    #[test]
    fn ronto_agrees_with_the_reference_on_a_small_day() {
        let ticks = Ticks::generate(20_000, 3);
        let dir = tempdir();
        let (db, _) = open_loaded(dir.path(), 2, &ticks).unwrap();
        for q in queries(&ticks) {
            let got = match db.execute(&q.ronto).unwrap() {
                Output::Rows { result, .. } => answer_of(&result),
                other => panic!("{other:?}"),
            };
            let want = expected(&ticks, q.id);
            assert!(!want.is_empty(), "{}", q.id);
            compare(&want, &got).unwrap_or_else(|e| panic!("{}: {e}", q.id));
        }
    }

    fn tempdir() -> crate::sys::ScratchDir {
        let root = std::env::temp_dir().join("ronto-bench-tests");
        std::fs::create_dir_all(&root).unwrap();
        crate::sys::ScratchDir::new(&root, "workload").unwrap()
    }
}
