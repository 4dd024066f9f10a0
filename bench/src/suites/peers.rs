//! The `peers` suite: the query suite's data and queries in Ronto, chDB and DuckDB in one run, answers cross-checked, medians and ratios.
//!
//! The tick day ([`workload::Ticks`], 10 M trades; `--quick`: 200 k) is written once as CSV
//! (integer-nanosecond timestamps, prices in cents as `d.dd`) under the data directory and kept
//! there for later runs (its name carries the row count, seed and format version). The Python
//! driver `bench/peers/run_peers.py` loads it into chDB (MergeTree ordered by symbol,
//! timestamp) and DuckDB and times every query through each engine's Python client; it runs
//! in a virtual environment it installs itself (`target/bench-venv`, or `$RONTO_BENCH_VENV`).
//! Ronto is loaded from the same generated rows in process (2 shards, run one after the other
//! on one thread) and timed with the same iteration budget.
//!
//! Every engine's answer to every query must equal the reference answer computed from the
//! generated rows (and Ronto's): integers and strings exactly, floats within
//! [`workload::FLOAT_TOLERANCE`]. Any difference fails the suite.
//!
//! Ronto over HTTP ([`ronto_http`]): `ronto serve --cores 2 --fsync never` on a free loopback
//! port with its own data directory, loaded with the same generated rows by `INSERT INTO trades
//! FORMAT RowBinaryWithNamesAndTypes` POSTs, then every query sent as `POST /` over one keep-alive connection with
//! `X-ClickHouse-Format: RowBinaryWithNamesAndTypes` (exact binary values, cheap to parse), with
//! the same iteration budget. Its answers are checked against the same reference.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::json;

use crate::hist::{write_hgrm, Summary};
use crate::report::{fmt_count, fmt_ns, Report, Row};
use crate::suites::workload::{self, Answer, Budget, Cell, Query, Ticks};
use crate::suites::Ctx;
use crate::sys::ScratchDir;
use crate::{BenchError, IoAt};

/// Exit status of `run_peers.py` when the peer engines cannot be installed.
const SKIP_STATUS: i32 = 3;
/// Bump when the CSV's content or layout changes, so stale files are not reused.
const CSV_VERSION: u32 = 1;
/// Peers measured, in report order.
const PEERS: [(&str, &str); 2] = [("chdb", "chDB"), ("duckdb", "DuckDB")];

#[derive(Debug, Clone)]
struct Plan {
    rows: usize,
    budget: Budget,
    /// Peer thread settings: `None` is the engine's default (every core).
    thread_counts: Vec<Option<u32>>,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                rows: 200_000,
                budget: Budget {
                    warmup: 1,
                    min_iters: 3,
                    max_iters: 100_000,
                    time: Duration::from_millis(150),
                },
                thread_counts: vec![None],
            }
        } else {
            Plan {
                rows: 10_000_000,
                budget: Budget {
                    warmup: 3,
                    min_iters: 10,
                    max_iters: 1_000_000,
                    time: Duration::from_secs(3),
                },
                thread_counts: vec![None, Some(1)],
            }
        }
    }
}

/// One engine's timings and answer for one query.
#[derive(Debug)]
struct Timed {
    hist: Histogram<u64>,
    answer: Answer,
}

/// What the Python driver reported for one peer at one thread setting.
#[derive(Debug)]
struct PeerRun {
    /// `chdb` or `duckdb`.
    engine: String,
    version: String,
    threads: u64,
    /// Whether this is the engine's default thread count (every core): the targets compare
    /// against these runs.
    default: bool,
    load_s: f64,
    /// Median of `SELECT 1` through the same client call: the per-call floor.
    select1_ns: u64,
    queries: Vec<(String, Timed)>,
}

impl PeerRun {
    /// "chDB (2 threads)".
    fn label(&self) -> String {
        let n = self.threads;
        format!(
            "{} ({n} thread{})",
            display_name(&self.engine),
            if n == 1 { "" } else { "s" }
        )
    }

    fn get(&self, id: &str) -> Option<&Timed> {
        self.queries.iter().find(|(q, _)| q == id).map(|(_, t)| t)
    }
}

/// The workspace root (this crate's parent directory).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ has a parent")
        .to_path_buf()
}

fn venv_dir() -> PathBuf {
    std::env::var_os("RONTO_BENCH_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target").join("bench-venv"))
}

/// The CSV for `ticks`, written unless a file of this row count, seed and version exists.
fn csv_for(ctx: &Ctx, ticks: &Ticks) -> Result<PathBuf, BenchError> {
    let path = ctx.data_dir.join(format!(
        "peers-trades-{}rows-seed{}-v{CSV_VERSION}.csv",
        ticks.rows(),
        workload::SEED
    ));
    if path.is_file() {
        eprintln!("  reusing {}", path.display());
    } else {
        let t0 = Instant::now();
        ticks.write_csv(&path)?;
        eprintln!(
            "  wrote {} in {:.1} s",
            path.display(),
            t0.elapsed().as_secs_f64()
        );
    }
    std::fs::canonicalize(&path).at(&path)
}

/// Why the peers could not be run at all.
enum PeerFailure {
    /// The environment lacks them (no python3, no venv, no PyPI): `--quick` skips.
    Unavailable(String),
    Failed(BenchError),
}

/// Runs `run_peers.py` on `spec` and parses its result.
fn run_python(ctx: &Ctx, spec: &serde_json::Value) -> Result<Vec<PeerRun>, PeerFailure> {
    let failed = PeerFailure::Failed;
    let spec_path = ctx
        .data_dir
        .join(format!("peers-spec-{}.json", std::process::id()));
    let out_path = ctx
        .data_dir
        .join(format!("peers-result-{}.json", std::process::id()));
    std::fs::write(&spec_path, spec.to_string())
        .at(&spec_path)
        .map_err(failed)?;
    let script = workspace_root().join("bench/peers/run_peers.py");
    let venv = venv_dir();
    eprintln!("  running {} (venv {})", script.display(), venv.display());
    let child = Command::new("python3")
        .arg(&script)
        .arg("--spec")
        .arg(&spec_path)
        .arg("--out")
        .arg(&out_path)
        .arg("--venv")
        .arg(&venv)
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return Err(PeerFailure::Unavailable(format!("cannot run python3: {e}"))),
    };
    // Echo the driver's progress while keeping its SKIP reason, if it gives one.
    let mut skip_reason = None;
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            if let Some(r) = line.strip_prefix("SKIP: ") {
                skip_reason = Some(r.to_string());
            }
        }
    }
    let status = child.wait().at(&script).map_err(failed)?;
    let _ = std::fs::remove_file(&spec_path);
    if status.code() == Some(SKIP_STATUS) {
        return Err(PeerFailure::Unavailable(skip_reason.unwrap_or_else(|| {
            "run_peers.py could not set up chDB and DuckDB".into()
        })));
    }
    if !status.success() {
        return Err(failed(BenchError::Peer(format!(
            "{} exited with {status}",
            script.display()
        ))));
    }
    let text = std::fs::read_to_string(&out_path)
        .at(&out_path)
        .map_err(failed)?;
    let _ = std::fs::remove_file(&out_path);
    parse_result(&text).map_err(|e| failed(BenchError::Peer(e)))
}

fn parse_result(text: &str) -> Result<Vec<PeerRun>, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("peer result is not JSON: {e}"))?;
    let engines = v["engines"]
        .as_object()
        .ok_or("peer result has no engines")?;
    let mut out = Vec::new();
    for (engine, e) in engines {
        for run in e["runs"].as_array().ok_or("engine has no runs")? {
            let mut queries = Vec::new();
            for (id, q) in run["queries"].as_object().ok_or("run has no queries")? {
                let samples: Vec<u64> = q["samples_ns"]
                    .as_array()
                    .ok_or("query has no samples")?
                    .iter()
                    .map(|s| s.as_u64().ok_or("sample is not an integer"))
                    .collect::<Result<_, _>>()?;
                if samples.is_empty() {
                    return Err(format!("{engine} {id}: no samples"));
                }
                let answer = workload::answer_of_json(&q["answer"])
                    .map_err(|e| format!("{engine} {id}: {e}"))?;
                queries.push((
                    id.clone(),
                    Timed {
                        hist: workload::histogram_of(&samples),
                        answer,
                    },
                ));
            }
            out.push(PeerRun {
                engine: engine.clone(),
                version: e["version"].as_str().unwrap_or("?").to_string(),
                threads: run["threads"].as_u64().unwrap_or(0),
                default: run["default"].as_bool().unwrap_or(false),
                load_s: e["load_s"].as_f64().unwrap_or(f64::NAN),
                select1_ns: e["select1_p50_ns"].as_u64().unwrap_or(0),
                queries,
            });
        }
    }
    // Report order: PEERS order, default thread count first.
    out.sort_by_key(|r| {
        (
            PEERS.iter().position(|(id, _)| *id == r.engine),
            !r.default,
            r.threads,
        )
    });
    Ok(out)
}

/// Cores of the server in the HTTP measurement (the in-process database has 2 shards too).
const HTTP_CORES: usize = 2;
/// Rows per RowBinary insert when loading the server.
const HTTP_LOAD_ROWS: usize = 500_000;

/// What the HTTP measurement gives the report.
struct HttpRun {
    load: Duration,
    /// Median of `SELECT 1` over the same connection: the per-request floor.
    floor_ns: u64,
    timed: Vec<(&'static str, Timed)>,
}

/// `ticks` rows `lo..hi` as RowBinaryWithNamesAndTypes for `trades` (types in the header:
/// `DateTime64(9)`, `String`, `Float64`, `Int64`).
fn row_binary(ticks: &Ticks, lo: usize, hi: usize) -> Vec<u8> {
    let mut out = crate::suites::ingest::row_binary_header();
    out.reserve((hi - lo) * 32);
    for i in lo..hi {
        out.extend_from_slice(&ticks.ts[i].to_le_bytes());
        let name = ticks.names[ticks.sym[i] as usize].as_bytes();
        assert!(name.len() < 128, "one-byte varint length");
        out.push(name.len() as u8);
        out.extend_from_slice(name);
        out.extend_from_slice(&ticks.price[i].to_le_bytes());
        out.extend_from_slice(&ticks.volume[i].to_le_bytes());
    }
    out
}

/// Ronto over HTTP: starts the server, loads `ticks`, times every query's `POST /` over one
/// keep-alive connection and checks each answer against the reference.
fn ronto_http(
    ctx: &Ctx,
    ticks: &Ticks,
    queries: &[Query],
    budget: &Budget,
) -> Result<HttpRun, BenchError> {
    use crate::server::{self, Client, RontoOptions, ServerProcess};
    let mut srv = ServerProcess::ronto(
        &ctx.data_dir,
        &RontoOptions {
            cores: HTTP_CORES,
            fsync: "never".into(),
            extra: Vec::new(),
        },
    )?;
    let port = srv.port();
    let at = format!("127.0.0.1:{port}");
    let mut client = Client::connect(port).at(&at)?;
    let t0 = Instant::now();
    let mut lo = 0;
    while lo < ticks.rows() {
        let hi = (lo + HTTP_LOAD_ROWS).min(ticks.rows());
        let r = client
            .request(&server::post(
                crate::suites::ingest::ROWBINARY_INSERT_PATH,
                &[],
                &row_binary(ticks, lo, hi),
            ))
            .at(&at)?;
        if r.status != 200 {
            return Err(BenchError::Check(format!(
                "RowBinary insert of rows {lo}..{hi} answered {}: {}",
                r.status,
                r.text().trim_end()
            )));
        }
        lo = hi;
    }
    let load = t0.elapsed();
    let stored = server::count_rows(port, "trades")?;
    if stored != ticks.rows() as u64 {
        return Err(BenchError::Check(format!(
            "loaded {} rows over HTTP but count(*) is {stored}",
            ticks.rows()
        )));
    }
    let post = |sql: &str| {
        server::post(
            "/",
            &["X-ClickHouse-Format: RowBinaryWithNamesAndTypes"],
            sql.as_bytes(),
        )
    };
    let mut run =
        |request: &[u8], budget: &Budget| -> Result<(Histogram<u64>, Vec<u8>), BenchError> {
            let mut samples = Vec::new();
            let mut body = Vec::new();
            for _ in 0..budget.warmup {
                client.request(request).at(&at)?;
            }
            let started = Instant::now();
            while samples.len() < budget.max_iters
                && (samples.len() < budget.min_iters || started.elapsed() < budget.time)
            {
                let t = Instant::now();
                let r = client.request(request).at(&at)?;
                samples.push(t.elapsed().as_nanos() as u64);
                if r.status != 200 {
                    return Err(BenchError::Check(format!(
                        "over HTTP, {} answered {}: {}",
                        String::from_utf8_lossy(request),
                        r.status,
                        r.text().trim_end()
                    )));
                }
                body = r.body;
            }
            Ok((workload::histogram_of(&samples), body))
        };
    let floor_budget = Budget {
        warmup: 10,
        min_iters: 1_000,
        max_iters: 1_000,
        time: Duration::ZERO,
    };
    let (floor, _) = run(&post("SELECT 1"), &floor_budget)?;
    let mut timed = Vec::new();
    for q in queries {
        let (hist, body) = run(&post(&q.ronto), budget)?;
        let answer = parse_row_binary_with_types(&body)
            .map_err(|e| BenchError::Check(format!("over HTTP, {}: {e}", q.id)))?;
        eprintln!(
            "  http    {:<16} p50 {:>10}  ({} runs)",
            q.id,
            fmt_ns(hist.value_at_quantile(0.5)),
            hist.len()
        );
        timed.push((q.id, Timed { hist, answer }));
    }
    drop(client);
    let exit = srv.stop()?;
    if !exit.contains("exit status: 0") {
        return Err(BenchError::Check(format!(
            "ronto exited with {exit} after SIGTERM; its log:\n{}",
            srv.log_tail()
        )));
    }
    Ok(HttpRun {
        load,
        floor_ns: floor.value_at_quantile(0.5),
        timed,
    })
}

/// Decodes a RowBinaryWithNamesAndTypes body into an [`Answer`]: the types Ronto's results
/// use (integers, floats, strings, `DateTime64(p)`, `Nullable`, `LowCardinality`).
fn parse_row_binary_with_types(data: &[u8]) -> Result<Answer, String> {
    struct R<'a> {
        d: &'a [u8],
        pos: usize,
    }
    impl<'a> R<'a> {
        fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
            let end = self.pos.checked_add(n).filter(|&e| e <= self.d.len());
            let end = end.ok_or_else(|| format!("truncated at byte {}", self.pos))?;
            let s = &self.d[self.pos..end];
            self.pos = end;
            Ok(s)
        }
        fn varint(&mut self) -> Result<usize, String> {
            let mut v = 0usize;
            for shift in (0..64).step_by(7) {
                let b = self.take(1)?[0];
                v |= ((b & 0x7f) as usize) << shift;
                if b & 0x80 == 0 {
                    return Ok(v);
                }
            }
            Err("varint too long".into())
        }
        fn string(&mut self) -> Result<String, String> {
            let n = self.varint()?;
            Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
        }
        fn cell(&mut self, ty: &str) -> Result<Cell, String> {
            let le8 = |b: &[u8]| <[u8; 8]>::try_from(b).expect("8 bytes");
            if let Some(inner) = ty
                .strip_prefix("Nullable(")
                .and_then(|t| t.strip_suffix(')'))
            {
                return if self.take(1)?[0] != 0 {
                    Ok(Cell::Null)
                } else {
                    self.cell(inner)
                };
            }
            if let Some(inner) = ty
                .strip_prefix("LowCardinality(")
                .and_then(|t| t.strip_suffix(')'))
            {
                return self.cell(inner);
            }
            if let Some(args) = ty.strip_prefix("DateTime64(") {
                let p: u32 = args
                    .split([',', ')'])
                    .next()
                    .and_then(|p| p.trim().parse().ok())
                    .ok_or_else(|| format!("bad type {ty}"))?;
                let v = i64::from_le_bytes(le8(self.take(8)?));
                return Ok(Cell::Int(v * 10i64.pow(9 - p.min(9))));
            }
            Ok(match ty {
                "Int64" => Cell::Int(i64::from_le_bytes(le8(self.take(8)?))),
                "UInt64" => Cell::Int(u64::from_le_bytes(le8(self.take(8)?)) as i64),
                "Float64" => Cell::Float(f64::from_le_bytes(le8(self.take(8)?))),
                "Int32" => {
                    Cell::Int(i32::from_le_bytes(self.take(4)?.try_into().expect("4")) as i64)
                }
                "UInt32" => {
                    Cell::Int(u32::from_le_bytes(self.take(4)?.try_into().expect("4")) as i64)
                }
                "Float32" => {
                    Cell::Float(f32::from_le_bytes(self.take(4)?.try_into().expect("4")) as f64)
                }
                "UInt8" | "Bool" => Cell::Int(self.take(1)?[0] as i64),
                "Int8" => Cell::Int(self.take(1)?[0] as i8 as i64),
                "String" => Cell::Str(self.string()?),
                other => return Err(format!("type {other} is not handled by the benchmark")),
            })
        }
    }
    let mut r = R { d: data, pos: 0 };
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let n = r.varint()?;
    for _ in 0..n {
        r.string()?;
    }
    let types: Vec<String> = (0..n).map(|_| r.string()).collect::<Result<_, _>>()?;
    let mut rows = Vec::new();
    while r.pos < data.len() {
        rows.push(
            types
                .iter()
                .map(|t| r.cell(t))
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    Ok(rows)
}

pub fn run(ctx: &Ctx) -> Result<Report, BenchError> {
    let plan = Plan::new(ctx.quick);
    eprintln!(
        "peers suite{}: {} trades, data in {}",
        if ctx.quick { " (quick)" } else { "" },
        fmt_count(plan.rows as u64),
        ctx.data_dir.display()
    );
    let ticks = Ticks::generate(plan.rows, workload::SEED);
    let queries: Vec<Query> = workload::queries(&ticks)
        .into_iter()
        .filter(|q| ctx.wants(q.id))
        .collect();
    let csv = csv_for(ctx, &ticks)?;
    let work = ScratchDir::new(&ctx.data_dir, "peers")?;
    let spec = json!({
        "csv": csv,
        "rows": ticks.rows(),
        "work_dir": std::fs::canonicalize(work.path()).at(work.path())?,
        "engines": PEERS.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        "thread_counts": plan.thread_counts,
        "warmup": plan.budget.warmup,
        "min_iters": plan.budget.min_iters,
        "max_iters": plan.budget.max_iters,
        "budget_s": plan.budget.time.as_secs_f64(),
        "queries": queries.iter().map(|q| json!({"id": q.id, "chdb": q.chdb, "duckdb": q.duckdb})).collect::<Vec<_>>(),
    });
    let peers = match run_python(ctx, &spec) {
        Ok(p) => p,
        Err(PeerFailure::Failed(e)) => return Err(e),
        Err(PeerFailure::Unavailable(why)) if ctx.quick => {
            eprintln!("  SKIPPED peers (--quick): {why}");
            return Ok(skipped_report(ctx, &why));
        }
        Err(PeerFailure::Unavailable(why)) => {
            return Err(BenchError::Peer(format!(
                "chDB and DuckDB are not available: {why}"
            )))
        }
    };
    drop(work);

    eprintln!("  Ronto in-process, 2 shards:");
    let dir = ScratchDir::new(&ctx.data_dir, "peers-ronto")?;
    let (db, load) = workload::open_loaded(dir.path(), 2, &ticks)?;
    let floor = workload::measure(
        &db,
        "SELECT 1",
        &Budget {
            warmup: 10,
            min_iters: 1_000,
            max_iters: 1_000,
            time: Duration::ZERO,
        },
    )?;
    let ronto_floor_ns = floor.hist.value_at_quantile(0.5);
    let mut ronto = Vec::new();
    for q in &queries {
        let m = workload::measure(&db, &q.ronto, &plan.budget)?;
        let s = Summary::of(&m.hist);
        eprintln!(
            "  ronto   {:<16} p50 {:>10}  ({} runs)",
            q.id,
            fmt_ns(s.p50_ns),
            m.iters
        );
        ronto.push((
            q.id,
            Timed {
                hist: m.hist,
                answer: workload::answer_of(&m.result),
            },
        ));
    }
    drop(db);
    drop(dir);

    eprintln!("  Ronto over HTTP, ronto serve --cores {HTTP_CORES}:");
    let http = ronto_http(ctx, &ticks, &queries, &plan.budget)?;
    check_answers(&ticks, &queries, &ronto, &http.timed, &peers)?;
    eprintln!(
        "  answers agree: Ronto (in process and over HTTP), chDB and DuckDB all match the reference on every query"
    );

    let rows = report_rows(
        ctx,
        &ticks,
        &queries,
        &ronto,
        &peers,
        (load, ronto_floor_ns),
        &http,
    )?;
    let ratios = ratio_table(&queries, &ronto, &http.timed, &peers);
    println!("\n{ratios}");
    let path = ctx.out_dir.join("peers-ratios.md");
    std::fs::write(&path, &ratios).at(&path)?;
    crate::results_json::write_rows(&ctx.out_dir, "peers", ctx.quick, &rows)?;
    Ok(Report {
        suite: "peers".into(),
        quick: ctx.quick,
        command: ctx.command.clone(),
        machine: ctx.machine.clone(),
        loadavg_end: crate::sys::loadavg(),
        rows,
    })
}

/// Every answer against the reference, and every peer's against Ronto's; all differences
/// are listed before failing.
fn check_answers(
    ticks: &Ticks,
    queries: &[Query],
    ronto: &[(&'static str, Timed)],
    http: &[(&'static str, Timed)],
    peers: &[PeerRun],
) -> Result<(), BenchError> {
    let mut problems = Vec::new();
    for q in queries {
        let want = workload::expected(ticks, q.id);
        let ronto_answer = ronto
            .iter()
            .find(|(id, _)| *id == q.id)
            .map(|(_, t)| &t.answer);
        let http_answer = http
            .iter()
            .find(|(id, _)| *id == q.id)
            .map(|(_, t)| &t.answer);
        let mut answers: Vec<(String, Option<&Answer>)> = vec![
            ("Ronto".into(), ronto_answer),
            ("Ronto over HTTP".into(), http_answer),
        ];
        for run in peers {
            answers.push((run.label(), run.get(q.id).map(|t| &t.answer)));
        }
        for (engine, got) in answers {
            let Some(got) = got else {
                problems.push(format!("{engine}, {}: no answer", q.id));
                continue;
            };
            if let Err(e) = workload::compare(&want, got) {
                problems.push(format!("{engine}, {} vs reference: {e}", q.id));
            }
            if let (Some(r), true) = (ronto_answer, engine != "Ronto") {
                if let Err(e) = workload::compare(r, got) {
                    problems.push(format!("{engine}, {} vs Ronto: {e}", q.id));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(BenchError::Check(format!(
            "answers disagree across engines:\n  {}",
            problems.join("\n  ")
        )))
    }
}

fn display_name(peer: &str) -> &str {
    PEERS
        .iter()
        .find(|(id, _)| *id == peer)
        .map_or(peer, |(_, name)| name)
}

/// "12.3× faster than chDB (2 threads)" or "1.8× slower than ...".
fn speedup_text(peer_ns: u64, ronto_ns: u64, label: &str) -> String {
    let x = peer_ns as f64 / ronto_ns.max(1) as f64;
    if x >= 1.0 {
        format!("{x:.1}× faster than {label}")
    } else {
        format!("**{:.1}× slower** than {label}", 1.0 / x)
    }
}

fn report_rows(
    ctx: &Ctx,
    ticks: &Ticks,
    queries: &[Query],
    ronto: &[(&'static str, Timed)],
    peers: &[PeerRun],
    (ronto_load, ronto_floor_ns): (Duration, u64),
    http: &HttpRun,
) -> Result<Vec<Row>, BenchError> {
    let mut rows = Vec::new();
    let n = ticks.rows() as u64;
    let load_group = "load (setup, not timed as a query)";
    rows.push(Row {
        group: load_group.into(),
        case: "Ronto: Database::insert + seal_all, 2 shards".into(),
        rows: n,
        rows_per_s: Some(n as f64 / ronto_load.as_secs_f64()),
        sample: "load".into(),
        latency: None,
        hgrm: None,
        notes: format!(
            "{:.2} s from in-memory batches; per-call floor (`SELECT 1` through `Database::execute`) p50 {}",
            ronto_load.as_secs_f64(),
            fmt_ns(ronto_floor_ns)
        ),
    });
    rows.push(Row {
        group: load_group.into(),
        case: format!("Ronto over HTTP: RowBinary INSERT POSTs, `ronto serve --cores {HTTP_CORES}`"),
        rows: n,
        rows_per_s: Some(n as f64 / http.load.as_secs_f64()),
        sample: "load".into(),
        latency: None,
        hgrm: None,
        notes: format!(
            "{:.2} s in POSTs of {} rows; per-request floor (`SELECT 1` over the same keep-alive connection) p50 {}",
            http.load.as_secs_f64(),
            fmt_count(HTTP_LOAD_ROWS as u64),
            fmt_ns(http.floor_ns)
        ),
    });
    for run in peers.iter().filter(|r| r.default) {
        rows.push(Row {
            group: load_group.into(),
            case: format!("{}: CSV load", display_name(&run.engine)),
            rows: n,
            rows_per_s: Some(n as f64 / run.load_s),
            sample: "load".into(),
            latency: None,
            hgrm: None,
            notes: format!(
                "{:.2} s; {}; per-call floor (`SELECT 1` through the same client call) p50 {}",
                run.load_s,
                run.version,
                fmt_ns(run.select1_ns)
            ),
        });
    }
    for q in queries {
        let Some((_, r)) = ronto.iter().find(|(id, _)| *id == q.id) else {
            continue;
        };
        let r_p50 = r.hist.value_at_quantile(0.5);
        let speedups: Vec<String> = peers
            .iter()
            .filter_map(|run| {
                let p = run.get(q.id)?.hist.value_at_quantile(0.5);
                Some(speedup_text(p, r_p50, &run.label()))
            })
            .collect();
        let name = format!("peers-ronto-{}", q.id);
        write_hgrm(&r.hist, &ctx.out_dir, &name)?;
        rows.push(Row {
            group: q.title.clone(),
            case: "Ronto in-process (2 shards, 1 thread)".into(),
            rows: 0,
            rows_per_s: None,
            sample: "execute".into(),
            latency: Some(Summary::of(&r.hist)),
            hgrm: Some(name),
            notes: format!("p50 {}; `{}`", speedups.join(", "), q.ronto),
        });
        for run in peers {
            let Some(t) = run.get(q.id) else { continue };
            let name = format!("peers-{}-{}thread-{}", run.engine, run.threads, q.id);
            write_hgrm(&t.hist, &ctx.out_dir, &name)?;
            let sql = if run.engine == "chdb" {
                &q.chdb
            } else {
                &q.duckdb
            };
            rows.push(Row {
                group: q.title.clone(),
                case: run.label(),
                rows: 0,
                rows_per_s: None,
                sample: "client call".into(),
                latency: Some(Summary::of(&t.hist)),
                hgrm: Some(name),
                notes: format!("`{sql}`"),
            });
        }
        if let Some((_, h)) = http.timed.iter().find(|(id, _)| *id == q.id) {
            let name = format!("peers-ronto-http-{}", q.id);
            write_hgrm(&h.hist, &ctx.out_dir, &name)?;
            let h_p50 = h.hist.value_at_quantile(0.5);
            let speedups: Vec<String> = peers
                .iter()
                .filter_map(|run| {
                    let p = run.get(q.id)?.hist.value_at_quantile(0.5);
                    Some(speedup_text(p, h_p50, &run.label()))
                })
                .collect();
            rows.push(Row {
                group: q.title.clone(),
                case: format!("Ronto over HTTP (`ronto serve --cores {HTTP_CORES}`)"),
                rows: 0,
                rows_per_s: None,
                sample: "POST /".into(),
                latency: Some(Summary::of(&h.hist)),
                hgrm: Some(name),
                notes: format!(
                    "p50 {:.2}× the in-process p50; {}; RowBinaryWithNamesAndTypes, one keep-alive connection",
                    h_p50 as f64 / r_p50.max(1) as f64,
                    speedups.join(", ")
                ),
            });
        }
    }
    Ok(rows)
}

/// The medians side by side, Ronto/peer and the speedup (peer/Ronto) per peer run, and
/// issue 3's ≥ 5× target (against the peers at their default, all-core thread count).
fn ratio_table(
    queries: &[Query],
    ronto: &[(&'static str, Timed)],
    http: &[(&'static str, Timed)],
    peers: &[PeerRun],
) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = write!(
        out,
        "| query | Ronto p50 (in-process, 1 thread) | Ronto over HTTP p50 (2 cores) |"
    );
    for run in peers {
        let _ = write!(out, " {} p50 |", run.label());
    }
    for run in peers {
        let _ = write!(out, " Ronto / {0} | speedup vs {0} |", run.label());
    }
    let _ = writeln!(out, " target: ≥ 5× vs both (all cores) |");
    let _ = writeln!(out, "|---|--:|--:|{}---|", "--:|".repeat(peers.len() * 3));
    for q in queries {
        let Some((_, r)) = ronto.iter().find(|(id, _)| *id == q.id) else {
            continue;
        };
        let r_p50 = r.hist.value_at_quantile(0.5).max(1);
        let http_p50 = http.iter().find(|(id, _)| *id == q.id).map_or_else(
            || "–".to_string(),
            |(_, t)| fmt_ns(t.hist.value_at_quantile(0.5)),
        );
        let _ = write!(out, "| {} | {} | {http_p50} |", q.title, fmt_ns(r_p50));
        for run in peers {
            match run.get(q.id) {
                Some(t) => {
                    let _ = write!(out, " {} |", fmt_ns(t.hist.value_at_quantile(0.5)));
                }
                None => out.push_str(" – |"),
            }
        }
        let mut worst_default = f64::INFINITY;
        for run in peers {
            match run.get(q.id) {
                Some(t) => {
                    let p = t.hist.value_at_quantile(0.5).max(1) as f64;
                    let x = p / r_p50 as f64;
                    if run.default {
                        worst_default = worst_default.min(x);
                    }
                    let _ = write!(out, " {:.3} | {x:.1}× |", r_p50 as f64 / p);
                }
                None => out.push_str(" – | – |"),
            }
        }
        let target = if !q.peer_target {
            "–".to_string()
        } else if worst_default >= 5.0 {
            format!("met ({worst_default:.1}× vs the faster peer)")
        } else {
            format!("**MISSED** ({worst_default:.1}× vs the faster peer)")
        };
        let _ = writeln!(out, " {target} |");
    }
    out
}

fn skipped_report(ctx: &Ctx, why: &str) -> Report {
    Report {
        suite: "peers".into(),
        quick: ctx.quick,
        command: ctx.command.clone(),
        machine: ctx.machine.clone(),
        loadavg_end: crate::sys::loadavg(),
        rows: vec![Row {
            group: "skipped".into(),
            case: "peers not run: chDB and DuckDB could not be set up".into(),
            rows: 0,
            rows_per_s: None,
            sample: "–".into(),
            latency: None,
            hgrm: None,
            notes: why.to_string(),
        }],
    }
}
