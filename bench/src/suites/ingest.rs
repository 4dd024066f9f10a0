//! The `ingest` suite: rows/s and ack latency of line protocol, MessagePack columnar and RowBinary writes to a running `ronto serve --fsync batch`, beside an in-process parse-only baseline of the same bodies.
//!
//! Each case starts its own server (`--cores 1 --fsync batch`, a fresh data directory, a free
//! loopback port), sends pre-encoded `trades` bodies of 1,000 or 10,000 rows from
//! [`CONNECTIONS`] keep-alive connections (one thread each, all pinned to the last CPU, the
//! server's core being the first) for a fixed time, and records every request's ack latency
//! (send to the end of the `204`/`200` answer). Afterwards `SELECT count(*) FROM trades` must
//! equal the rows acknowledged, or the suite fails: an ack that loses rows is a bug, however
//! fast. The parse-only baseline decodes the same bodies on one thread with the sql crate's
//! decoders (`sql::ingest::lineproto`, `sql::ingest::msgpack`, `sql::input` RowBinary), so the
//! ratio shows what HTTP, routing and the WAL add to decoding.
//!
//! The bodies cycle over a fixed set of generated rows, so later laps repeat timestamps; the
//! storage layer accepts that (rows are not deduplicated), and the count check includes them.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::hist::{new_histogram, write_hgrm, Summary};
use crate::report::{fmt_bytes, fmt_count, fmt_rate, Report, Row};
use crate::server::{self, Client, RontoOptions, ServerProcess};
use crate::suites::Ctx;
use crate::sys::ThreadTimes;
use crate::{BenchError, IoAt};

/// Keep-alive connections (client threads) per case.
pub const CONNECTIONS: usize = 4;
/// Server cores (= shards) in every case: rows/s is per server core.
pub const SERVER_CORES: usize = 1;
/// First generated timestamp: 2024-01-02 09:30 UTC in ns.
const TS_START_NS: i64 = 1_704_187_800_000_000_000;
/// Symbols in generated data; the first few are real tickers so point queries read naturally.
const SYMBOLS: usize = 100;
const TICKERS: [&str; 8] = [
    "AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "META", "TSLA", "JPM",
];

/// Generated `trades` rows, columnar; prices are whole cents so every format carries them exactly.
#[derive(Debug, Clone)]
pub struct Trades {
    pub ts: Vec<i64>,
    pub sym: Vec<u16>,
    pub cents: Vec<i64>,
    pub volume: Vec<i64>,
    pub names: Vec<String>,
}

impl Trades {
    /// `rows` rows with strictly increasing timestamps (1 µs apart) over [`SYMBOLS`] symbols.
    pub fn generate(rows: usize, seed: u64) -> Trades {
        let mut rng = SmallRng::seed_from_u64(seed);
        let names: Vec<String> = (0..SYMBOLS)
            .map(|i| match TICKERS.get(i) {
                Some(t) => t.to_string(),
                None => format!("SYM{i:03}"),
            })
            .collect();
        let mut walk: Vec<i64> = (0..SYMBOLS).map(|_| rng.gen_range(1_000..50_000)).collect();
        let mut t = Trades {
            ts: Vec::with_capacity(rows),
            sym: Vec::with_capacity(rows),
            cents: Vec::with_capacity(rows),
            volume: Vec::with_capacity(rows),
            names,
        };
        for i in 0..rows {
            let s = rng.gen_range(0..SYMBOLS);
            let c = &mut walk[s];
            *c = (*c + rng.gen_range(-3..=3)).max(100);
            t.ts.push(TS_START_NS + i as i64 * 1_000);
            t.sym.push(s as u16);
            t.cents.push(*c);
            t.volume.push(rng.gen_range(1..=1_000));
        }
        t
    }

    pub fn rows(&self) -> usize {
        self.ts.len()
    }

    pub fn price(&self, i: usize) -> f64 {
        self.cents[i] as f64 / 100.0
    }

    /// The price of `symbol`'s last row, as `last(price)` answers it.
    pub fn last_price(&self, symbol: &str) -> Option<f64> {
        let s = self.names.iter().position(|n| n == symbol)? as u16;
        let i = self.sym.iter().rposition(|&x| x == s)?;
        Some(self.price(i))
    }

    /// Rows `lo..hi` as InfluxDB line protocol (`trades,symbol=S price=..,volume=..i ts`).
    pub fn line_protocol(&self, lo: usize, hi: usize) -> Vec<u8> {
        use std::io::Write as _;
        let mut out = Vec::with_capacity((hi - lo) * 64);
        for i in lo..hi {
            let c = self.cents[i];
            let _ = writeln!(
                out,
                "trades,symbol={} price={}.{:02},volume={}i {}",
                self.names[self.sym[i] as usize],
                c / 100,
                c % 100,
                self.volume[i],
                self.ts[i]
            );
        }
        out
    }

    /// Rows `lo..hi` as one Arc MessagePack columnar item (`time` in ns: send `precision=ns`).
    pub fn msgpack_columnar(&self, lo: usize, hi: usize) -> Vec<u8> {
        let n = hi - lo;
        let mut out = Vec::with_capacity(n * 40 + 64);
        mp_map(&mut out, 2);
        mp_str(&mut out, "m");
        mp_str(&mut out, "trades");
        mp_str(&mut out, "columns");
        mp_map(&mut out, 4);
        mp_str(&mut out, "time");
        mp_array(&mut out, n);
        for &t in &self.ts[lo..hi] {
            mp_i64(&mut out, t);
        }
        mp_str(&mut out, "symbol");
        mp_array(&mut out, n);
        for &s in &self.sym[lo..hi] {
            mp_str(&mut out, &self.names[s as usize]);
        }
        mp_str(&mut out, "price");
        mp_array(&mut out, n);
        for i in lo..hi {
            out.push(0xcb);
            out.extend_from_slice(&self.price(i).to_be_bytes());
        }
        mp_str(&mut out, "volume");
        mp_array(&mut out, n);
        for &v in &self.volume[lo..hi] {
            mp_i64(&mut out, v);
        }
        out
    }

    /// Rows `lo..hi` as ClickHouse RowBinaryWithNamesAndTypes for `trades`, with the types
    /// stated in the header (`DateTime64(9)`, `String`, `Float64`, `Int64`), so the body does not
    /// depend on whether the server calls `price`/`volume` Nullable (it did, then did not).
    pub fn row_binary(&self, lo: usize, hi: usize) -> Vec<u8> {
        let mut out = row_binary_header();
        out.reserve((hi - lo) * 32);
        for i in lo..hi {
            out.extend_from_slice(&self.ts[i].to_le_bytes());
            let name = self.names[self.sym[i] as usize].as_bytes();
            debug_assert!(name.len() < 128, "one-byte varint length");
            out.push(name.len() as u8);
            out.extend_from_slice(name);
            out.extend_from_slice(&self.price(i).to_le_bytes());
            out.extend_from_slice(&self.volume[i].to_le_bytes());
        }
        out
    }
}

/// The RowBinaryWithNamesAndTypes header of a `trades` body.
pub fn row_binary_header() -> Vec<u8> {
    let mut out = vec![4u8];
    for s in ["timestamp", "symbol", "price", "volume"]
        .into_iter()
        .chain(["DateTime64(9)", "String", "Float64", "Int64"])
    {
        out.push(s.len() as u8);
        out.extend_from_slice(s.as_bytes());
    }
    out
}

fn mp_map(out: &mut Vec<u8>, n: usize) {
    assert!(n < 16);
    out.push(0x80 | n as u8);
}

fn mp_array(out: &mut Vec<u8>, n: usize) {
    if n < 16 {
        out.push(0x90 | n as u8);
    } else if n <= u16::MAX as usize {
        out.push(0xdc);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn mp_str(out: &mut Vec<u8>, s: &str) {
    let n = s.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else {
        assert!(n < 256);
        out.push(0xd9);
        out.push(n as u8);
    }
    out.extend_from_slice(s.as_bytes());
}

fn mp_i64(out: &mut Vec<u8>, v: i64) {
    out.push(0xd3);
    out.extend_from_slice(&v.to_be_bytes());
}

/// The path of `INSERT INTO trades FORMAT RowBinaryWithNamesAndTypes`, query in the URL.
pub const ROWBINARY_INSERT_PATH: &str =
    "/?query=INSERT%20INTO%20trades%20FORMAT%20RowBinaryWithNamesAndTypes";

/// Loads `trades` into a server with RowBinary inserts of `chunk_rows` rows; returns the wall
/// time. Every insert must answer 200.
pub fn load_rowbinary(port: u16, t: &Trades, chunk_rows: usize) -> Result<Duration, BenchError> {
    let mut c = Client::connect(port).at(format!("127.0.0.1:{port}"))?;
    let started = Instant::now();
    let mut lo = 0;
    while lo < t.rows() {
        let hi = (lo + chunk_rows).min(t.rows());
        let r = c
            .request(&server::post(
                ROWBINARY_INSERT_PATH,
                &[],
                &t.row_binary(lo, hi),
            ))
            .at(format!("127.0.0.1:{port}"))?;
        if r.status != 200 {
            return Err(BenchError::Check(format!(
                "RowBinary insert of rows {lo}..{hi} answered {}: {}",
                r.status,
                r.text().trim_end()
            )));
        }
        lo = hi;
    }
    Ok(started.elapsed())
}

/// An ingest format as the suite sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    LineProtocol,
    MsgPack,
    RowBinary,
}

impl Format {
    fn id(self) -> &'static str {
        match self {
            Format::LineProtocol => "lineproto",
            Format::MsgPack => "msgpack",
            Format::RowBinary => "rowbinary",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Format::LineProtocol => "InfluxDB line protocol, POST /write?precision=ns",
            Format::MsgPack => "MessagePack columnar, POST /write/v2/msgpack?precision=ns",
            Format::RowBinary => {
                "ClickHouse INSERT INTO trades FORMAT RowBinaryWithNamesAndTypes, POST /?query="
            }
        }
    }

    /// Issue 5's target in rows/s per server core.
    fn target_rows_per_s(self) -> f64 {
        match self {
            Format::LineProtocol => 1.5e6,
            Format::MsgPack | Format::RowBinary => 5e6,
        }
    }

    fn body(self, t: &Trades, lo: usize, hi: usize) -> Vec<u8> {
        match self {
            Format::LineProtocol => t.line_protocol(lo, hi),
            Format::MsgPack => t.msgpack_columnar(lo, hi),
            Format::RowBinary => t.row_binary(lo, hi),
        }
    }

    fn request(self, body: &[u8]) -> Vec<u8> {
        match self {
            Format::LineProtocol => server::post(
                "/write?precision=ns",
                &["Content-Type: text/plain; charset=utf-8"],
                body,
            ),
            Format::MsgPack => server::post(
                "/write/v2/msgpack?precision=ns",
                &["Content-Type: application/msgpack"],
                body,
            ),
            Format::RowBinary => server::post(ROWBINARY_INSERT_PATH, &[], body),
        }
    }

    /// The status of a successful write.
    fn ok_status(self) -> u16 {
        match self {
            Format::LineProtocol | Format::MsgPack => 204,
            Format::RowBinary => 200,
        }
    }

    fn decoder_name(self) -> &'static str {
        match self {
            Format::LineProtocol => "sql::ingest::lineproto::decode",
            Format::MsgPack => "sql::ingest::msgpack::decode",
            Format::RowBinary => "sql::input::decode(RowBinaryWithNamesAndTypes)",
        }
    }
}

/// Decodes every body once in process and returns the rows decoded; fails on any rejected row.
struct ParseOnly {
    schema: storage::TableSchema,
    line: std::cell::RefCell<sql::ingest::lineproto::LineDecoder>,
}

impl ParseOnly {
    fn new(scratch: &std::path::Path) -> Result<ParseOnly, BenchError> {
        let catalog = storage::Catalog::open(scratch)?;
        let schema = catalog
            .get("trades")
            .cloned()
            .ok_or_else(|| BenchError::Check("a fresh catalog has no trades table".into()))?;
        Ok(ParseOnly {
            schema,
            line: Default::default(),
        })
    }

    fn decode(&self, format: Format, body: &[u8]) -> Result<usize, BenchError> {
        let now_ns = TS_START_NS;
        let bad = |what: String| BenchError::Check(format!("parse-only {}: {what}", format.id()));
        match format {
            Format::LineProtocol => {
                // One decoder kept across bodies, as a server connection keeps its scratch.
                let d = self
                    .line
                    .borrow_mut()
                    .decode(body, &sql::ingest::lineproto::LineOptions::new(now_ns))
                    .map_err(|e| bad(e.to_string()))?;
                if d.rejected > 0 {
                    return Err(bad(format!(
                        "{} lines rejected: {:?}",
                        d.rejected,
                        d.errors.first()
                    )));
                }
                Ok(d.rows)
            }
            Format::MsgPack => {
                let mut opts = sql::ingest::msgpack::MsgpackOptions::new(now_ns);
                opts.precision = sql::ingest::Precision::Nanoseconds;
                let d =
                    sql::ingest::msgpack::decode(body, &opts).map_err(|e| bad(e.to_string()))?;
                if d.rejected > 0 {
                    return Err(bad(format!(
                        "{} items rejected: {:?}",
                        d.rejected,
                        d.errors.first()
                    )));
                }
                Ok(d.rows)
            }
            Format::RowBinary => {
                let d = sql::input::decode(
                    sql::input::InputFormat::RowBinaryWithNamesAndTypes,
                    body,
                    &self.schema,
                    None,
                    &sql::input::InputOptions::default(),
                )
                .map_err(|e| bad(e.to_string()))?;
                Ok(d.rows)
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Plan {
    /// Recorded ingest time per case.
    duration: Duration,
    /// Distinct generated rows the bodies cycle over.
    distinct_rows: usize,
    /// Time spent decoding in the parse-only baseline per case.
    parse_time: Duration,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                duration: Duration::from_millis(1500),
                distinct_rows: 40_000,
                parse_time: Duration::from_millis(300),
            }
        } else {
            Plan {
                duration: Duration::from_secs(10),
                distinct_rows: 400_000,
                parse_time: Duration::from_secs(2),
            }
        }
    }
}

/// What one case measured.
struct Measured {
    hist: Histogram<u64>,
    rows: u64,
    requests: u64,
    wall: Duration,
    server_cpu_ns: Option<u64>,
    generator: ThreadTimes,
}

/// CPU time (user + system) of process `pid` so far, from `/proc/<pid>/stat`.
pub fn process_cpu_ns(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as u64 } else { 100 };
    Some(ticks * 1_000_000_000 / hz)
}

/// One client thread's histogram, requests acknowledged and CPU time.
type ClientResult = Result<(Histogram<u64>, u64, ThreadTimes), BenchError>;

/// Sends `requests` round-robin from [`CONNECTIONS`] threads for `duration`.
fn drive(
    port: u16,
    pid: Option<u32>,
    format: Format,
    requests: &[Vec<u8>],
    rows_per_request: usize,
    duration: Duration,
) -> Result<Measured, BenchError> {
    let cpu0 = pid.and_then(process_cpu_ns);
    let started = Instant::now();
    let end = started + duration;
    let results: Vec<ClientResult> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..CONNECTIONS)
            .map(|c| {
                s.spawn(move || {
                    server::pin_to_last_cpu();
                    let t0 = ThreadTimes::now().unwrap_or_default();
                    let mut client = Client::connect(port).at(format!("127.0.0.1:{port}"))?;
                    let mut hist = new_histogram();
                    let mut k = c;
                    let mut acked = 0u64;
                    while Instant::now() < end {
                        let req = &requests[k % requests.len()];
                        k += CONNECTIONS;
                        let sent = Instant::now();
                        let r = client.request(req).at(format!("127.0.0.1:{port}"))?;
                        hist.saturating_record(sent.elapsed().as_nanos() as u64);
                        if r.status != format.ok_status() {
                            let head = String::from_utf8_lossy(&req[..req.len().min(160)]);
                            return Err(BenchError::Check(format!(
                                "{} write answered {}: {} (request began {head:?})",
                                format.id(),
                                r.status,
                                r.text().trim_end()
                            )));
                        }
                        acked += 1;
                    }
                    Ok((
                        hist,
                        acked,
                        ThreadTimes::now().unwrap_or_default().since(t0),
                    ))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(BenchError::Check("client thread panicked".into())))
            })
            .collect()
    });
    let wall = started.elapsed();
    let server_cpu_ns = match (cpu0, pid.and_then(process_cpu_ns)) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let mut hist = new_histogram();
    let mut requests_acked = 0;
    let mut generator = ThreadTimes::default();
    for r in results {
        let (h, n, t) = r?;
        hist.add(&h).expect("same histogram bounds");
        requests_acked += n;
        generator.run_ns += t.run_ns;
        generator.wait_ns += t.wait_ns;
    }
    Ok(Measured {
        hist,
        rows: requests_acked * rows_per_request as u64,
        requests: requests_acked,
        wall,
        server_cpu_ns,
        generator,
    })
}

pub fn run(ctx: &Ctx) -> Result<Report, BenchError> {
    let plan = Plan::new(ctx.quick);
    let cases: [(Format, usize); 6] = [
        (Format::LineProtocol, 1_000),
        (Format::LineProtocol, 10_000),
        (Format::MsgPack, 1_000),
        (Format::MsgPack, 10_000),
        (Format::RowBinary, 1_000),
        (Format::RowBinary, 10_000),
    ];
    eprintln!(
        "ingest suite{}: {} s per case, {CONNECTIONS} connections, server --cores {SERVER_CORES} --fsync batch",
        if ctx.quick { " (quick)" } else { "" },
        plan.duration.as_secs_f64()
    );
    let trades = Trades::generate(plan.distinct_rows, 7);
    let scratch = crate::sys::ScratchDir::new(&ctx.data_dir, "ingest-catalog")?;
    let parse_only = ParseOnly::new(scratch.path())?;
    let mut rows = Vec::new();
    for (format, per_request) in cases {
        let id = format!("{}-{per_request}rows", format.id());
        if !ctx.wants(&id) {
            continue;
        }
        let bodies: Vec<Vec<u8>> = (0..trades.rows() / per_request)
            .map(|b| format.body(&trades, b * per_request, (b + 1) * per_request))
            .collect();
        let body_bytes = bodies[0].len() as u64;

        // Parse-only baseline, on this thread, before any server runs.
        let mut parsed = 0u64;
        let t0 = Instant::now();
        let mut k = 0;
        while t0.elapsed() < plan.parse_time || k < bodies.len() {
            let n = parse_only.decode(format, &bodies[k % bodies.len()])?;
            if n != per_request {
                return Err(BenchError::Check(format!(
                    "parse-only {id}: decoded {n} rows, expected {per_request}"
                )));
            }
            parsed += n as u64;
            k += 1;
        }
        let parse_rate = parsed as f64 / t0.elapsed().as_secs_f64();

        let requests: Vec<Vec<u8>> = bodies.iter().map(|b| format.request(b)).collect();
        drop(bodies);
        let mut srv = ServerProcess::ronto(
            &ctx.data_dir,
            &RontoOptions {
                cores: SERVER_CORES,
                fsync: "batch".into(),
                extra: Vec::new(),
            },
        )?;
        let m = drive(
            srv.port(),
            srv.pid(),
            format,
            &requests,
            per_request,
            plan.duration,
        )?;
        let stored = server::count_rows(srv.port(), "trades")?;
        if stored != m.rows {
            return Err(BenchError::Check(format!(
                "{id}: {} rows acknowledged but count(*) is {stored}; server log:\n{}",
                m.rows,
                srv.log_tail()
            )));
        }
        let exit = srv.stop()?;
        drop(srv);
        let rate = m.rows as f64 / m.wall.as_secs_f64();
        let s = Summary::of(&m.hist);
        let target = format.target_rows_per_s();
        let verdict = if rate >= target {
            format!("target ≥ {} met", fmt_rate(target))
        } else {
            format!(
                "**target ≥ {} missed** ({:.0}% of it)",
                fmt_rate(target),
                100.0 * rate / target
            )
        };
        let server_cpu = m.server_cpu_ns.map_or_else(
            || "server CPU unknown".to_string(),
            |ns| {
                format!(
                    "server used {:.2} CPUs",
                    ns as f64 / m.wall.as_nanos() as f64
                )
            },
        );
        eprintln!(
            "  {id:<22} {:>10}  ack p50 {:>9}  p99 {:>9}  parse-only {:>10}  ({server_cpu})",
            fmt_rate(rate),
            crate::report::fmt_ns(s.p50_ns),
            crate::report::fmt_ns(s.p99_ns),
            fmt_rate(parse_rate),
        );
        let name = format!("ingest-{id}");
        write_hgrm(&m.hist, &ctx.out_dir, &name)?;
        rows.push(Row {
            group: format.title().into(),
            case: format!("{} rows/request, over HTTP", fmt_int_rows(per_request)),
            rows: m.rows,
            rows_per_s: Some(rate),
            sample: "POST → ack".into(),
            latency: Some(s),
            hgrm: Some(name),
            notes: format!(
                "{verdict}; {} requests of {}; count(*) = {} ✓; HTTP+WAL at {:.0}% of parse-only; {server_cpu}; clients on CPU {:.0}% of one core; server exit {exit}",
                fmt_count(m.requests),
                fmt_bytes(body_bytes),
                fmt_count(stored),
                100.0 * rate / parse_rate,
                100.0 * (m.generator.run_ns as f64 / m.wall.as_nanos() as f64),
            ),
        });
        rows.push(Row {
            group: format.title().into(),
            case: format!(
                "{} rows/body, parse only, in process",
                fmt_int_rows(per_request)
            ),
            rows: parsed,
            rows_per_s: Some(parse_rate),
            sample: "–".into(),
            latency: None,
            hgrm: None,
            notes: format!("{} on one thread, same bodies", format.decoder_name()),
        });
    }
    drop(scratch);
    Ok(Report {
        suite: "ingest".into(),
        quick: ctx.quick,
        command: ctx.command.clone(),
        machine: ctx.machine.clone(),
        loadavg_end: crate::sys::loadavg(),
        rows,
    })
}

fn fmt_int_rows(n: usize) -> String {
    crate::report::fmt_int(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_encoding_decodes_to_the_same_rows() {
        let t = Trades::generate(100, 1);
        let dir = std::env::temp_dir().join(format!("ronto-bench-ingest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = ParseOnly::new(&dir).unwrap();
        for f in [Format::LineProtocol, Format::MsgPack, Format::RowBinary] {
            assert_eq!(p.decode(f, &f.body(&t, 0, 100)).unwrap(), 100, "{f:?}");
            assert_eq!(p.decode(f, &f.body(&t, 10, 30)).unwrap(), 20, "{f:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(t.ts.windows(2).all(|w| w[0] < w[1]));
        assert!(t.last_price("AAPL").is_some());
    }
}
