//! Crash test of the write path against the real `ronto` binary.
//!
//! Two writers send line-protocol batches over keep-alive connections and record which were
//! acknowledged (204); the server is SIGKILLed at seeded random moments and restarted on the same
//! data directory. After every restart each acknowledged batch must be stored exactly once, and
//! any batch that is stored at all (acknowledged or caught in flight) must be whole: recovery
//! never keeps half a request and never replays one twice.
//!
//! The seed is printed; `RONTO_CRASH_SEED=N cargo test -p engine --test ingest_crash` replays a
//! kill schedule (the moments the kernel schedules threads still vary).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Writers per round; writer 0 uses `/write`, writer 1 `/api/v2/write`.
const WRITERS: u64 = 2;
/// Distinct `symbol` tag values, so rows of every batch land on several shards.
const SYMBOLS: u64 = 8;
/// Rows of one batch: `1..=BATCH_ROWS_MAX`.
const BATCH_ROWS_MAX: u64 = 100;
/// Batch ids are `round * ROUND_IDS + writer * WRITER_IDS + k`, unique over the whole test.
const ROUND_IDS: u64 = 1_000_000;
const WRITER_IDS: u64 = 100_000;
/// How long a writer may run in one round at most (the kill normally ends it much sooner).
const WRITER_RUN_MAX: Duration = Duration::from_secs(10);
/// Batches one writer sends in one round at most, so that `--fsync batch` rounds (thousands of
/// acks a second) keep the verification queries small.
const WRITER_BATCHES_MAX: u64 = 1_000;
/// Timestamp of batch 0, row 0; batch `b` row `j` is at `BASE_TS_NS + b * 1000 + j`.
const BASE_TS_NS: u64 = 1_700_000_000_000_000_000;

/// A `ronto serve` child on a fresh port over a data directory that outlives it; killed on drop.
struct Server {
    child: Child,
    port: u16,
    log_path: PathBuf,
}

impl Server {
    fn start(data_dir: &Path, log_path: &Path, fsync: &str) -> Server {
        let port = free_port();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_ronto"))
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--http-port", &port.to_string(), "--cores", "2"])
            .args(["--fsync", fsync, "--log-level", "info"])
            // Small blocks and a short seal age, so kills also land during seals and recovery
            // meets sealed blocks next to the WAL records they came from.
            .args(["--block-rows", "512", "--seal-age-ms", "200"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut server = Server {
            child,
            port,
            log_path: log_path.to_path_buf(),
        };
        server.wait_ready();
        server
    }

    /// Polls `/ping`, then `/ready` (every shard open and its WAL replayed), both bounded.
    fn wait_ready(&mut self) {
        for path in ["/ping", "/ready"] {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Some(status) = self.child.try_wait().unwrap() {
                    panic!("server exited early with {status}; log:\n{}", self.log());
                }
                if self.get(path).map(|r| r.status) == Some(200) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "no 200 from {path} in time; log:\n{}",
                    self.log()
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    fn get(&self, path: &str) -> Option<Response> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok()?;
        stream
            .write_all(format!("GET {path} HTTP/1.1\r\nConnection: close\r\n\r\n").as_bytes())
            .ok()?;
        read_response(&mut BufReader::new(&mut stream)).ok()
    }

    fn query(&self, sql: &str) -> Response {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let head = format!(
            "POST / HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
            sql.len()
        );
        // One write: two would meet Nagle and delayed ACKs.
        stream.write_all((head + sql).as_bytes()).unwrap();
        read_response(&mut BufReader::new(&mut stream)).unwrap()
    }

    /// SIGKILL (`Child::kill`) and reap.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn log(&self) -> String {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        // The whole test's log can be long; the end is what explains a failure.
        let start = log.len().saturating_sub(20_000);
        let start = (start..log.len())
            .find(|i| log.is_char_boundary(*i))
            .unwrap_or(0);
        log[start..].to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[derive(Debug)]
struct Response {
    status: u16,
    body: Vec<u8>,
}

impl Response {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads one response (Content-Length or chunked body).
fn read_response(reader: &mut impl BufRead) -> std::io::Result<Response> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut length = None;
    let mut chunked = false;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed
            .split_once(':')
            .ok_or_else(|| std::io::Error::other(format!("bad header {trimmed:?}")))?;
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse::<usize>().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.trim().eq_ignore_ascii_case("chunked");
        }
    }
    let mut body = Vec::new();
    if let Some(length) = length {
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    } else if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim_end(), 16)
                .map_err(|_| std::io::Error::other(format!("bad chunk size {line:?}")))?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    Ok(Response { status, body })
}

/// The rows of one batch that carry one symbol: how many, and the sum of their `row` field.
/// One symbol lives on one shard, so a part is what one shard's WAL record holds of a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Part {
    rows: u64,
    row_sum: u64,
}

/// Batch id → symbol number → that symbol's part of the batch.
type Batches = BTreeMap<u64, BTreeMap<u64, Part>>;

#[derive(Debug, Default)]
struct WriterReport {
    /// Every batch whose request was (at least partly) sent.
    sent: Batches,
    /// Batches answered 204.
    acked: BTreeSet<u64>,
    /// Batches answered 503 (back-pressure: not acknowledged, may be retried by a client).
    busy: u64,
    /// Answers other than 204 and 503: always a failure.
    unexpected: Vec<String>,
}

/// One batch as line protocol, `rows` lines over random symbols, and its parts.
fn batch_body(id: u64, rows: u64, rng: &mut SmallRng) -> (Vec<u8>, BTreeMap<u64, Part>) {
    let mut body = String::with_capacity(rows as usize * 64);
    let mut parts = BTreeMap::<u64, Part>::new();
    for row in 0..rows {
        let symbol = rng.gen_range(0..SYMBOLS);
        let part = parts.entry(symbol).or_default();
        part.rows += 1;
        part.row_sum += row;
        let ts = BASE_TS_NS + id * 1000 + row;
        let _ = writeln!(
            body,
            "t,symbol=S{symbol} batch={id}i,row={row}i,v={row}.5 {ts}"
        );
    }
    (body.into_bytes(), parts)
}

/// Sends batches on one keep-alive connection until the server goes away (or the bound ends).
fn write_until_killed(
    port: u16,
    round: u64,
    writer: u64,
    seed: u64,
    acks: Arc<AtomicU64>,
) -> WriterReport {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut report = WriterReport::default();
    let target = if writer.is_multiple_of(2) {
        "/write?db=crash&precision=ns"
    } else {
        "/api/v2/write?org=o&bucket=crash&precision=ns"
    };
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return report;
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let started = Instant::now();
    for k in 0..WRITER_BATCHES_MAX {
        if started.elapsed() > WRITER_RUN_MAX {
            break;
        }
        let id = round * ROUND_IDS + writer * WRITER_IDS + k;
        let rows = rng.gen_range(1..=BATCH_ROWS_MAX);
        let (body, parts) = batch_body(id, rows, &mut rng);
        let mut request = format!(
            "POST {target} HTTP/1.1\r\nHost: ronto\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(&body);
        report.sent.insert(id, parts);
        if stream.write_all(&request).is_err() {
            break;
        }
        match read_response(&mut reader) {
            Ok(response) if response.status == 204 => {
                report.acked.insert(id);
                acks.fetch_add(1, Ordering::Relaxed);
            }
            Ok(response) if response.status == 503 => report.busy += 1,
            Ok(response) => report.unexpected.push(format!(
                "batch {id}: {} {}",
                response.status,
                response.text()
            )),
            Err(_) => break,
        }
    }
    report
}

/// Everything stored, by batch and symbol.
fn stored_batches(server: &Server) -> Batches {
    let response = server
        .query("SELECT batch, symbol, count(), sum(row) FROM t GROUP BY batch, symbol FORMAT TSV");
    assert_eq!(
        response.status,
        200,
        "{}\nlog:\n{}",
        response.text(),
        server.log()
    );
    let mut stored = Batches::new();
    for line in response.text().lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields.len(), 4, "{line:?}");
        let number = |field: &str| -> u64 {
            field
                .parse()
                .unwrap_or_else(|_| panic!("bad TSV line {line:?}"))
        };
        let symbol = number(fields[1].strip_prefix('S').expect("symbol S<n>"));
        let part = Part {
            rows: number(fields[2]),
            row_sum: number(fields[3]),
        };
        let previous = stored
            .entry(number(fields[0]))
            .or_default()
            .insert(symbol, part);
        assert!(previous.is_none(), "group {line:?} answered twice");
    }
    stored
}

/// Acknowledged batches are stored exactly once. Any stored batch was sent, and each of its
/// symbols' parts is whole; with `whole_batches` the batch as a whole must be.
fn check_recovered(
    server: &Server,
    sent: &Batches,
    acked: &BTreeSet<u64>,
    seed: u64,
    whole_batches: bool,
) -> usize {
    let stored = stored_batches(server);
    let empty = BTreeMap::new();
    let mut problems = Vec::new();
    for id in acked {
        let got = stored.get(id).unwrap_or(&empty);
        if got != &sent[id] {
            problems.push(format!(
                "acknowledged batch {id}: stored {got:?}, sent {:?}",
                sent[id]
            ));
        }
    }
    for (id, got) in &stored {
        let Some(want) = sent.get(id) else {
            problems.push(format!("batch {id} stored but never sent: {got:?}"));
            continue;
        };
        for (symbol, part) in got {
            if want.get(symbol) != Some(part) {
                problems.push(format!(
                    "batch {id} symbol S{symbol}: stored {part:?}, sent {:?} (a shard kept part of its \
                     share of a request, or replayed it twice)",
                    want.get(symbol)
                ));
            }
        }
        if whole_batches && got != want && !acked.contains(id) {
            problems.push(format!(
                "batch {id} (in flight at a kill) is stored in part: symbols {:?} of {:?}",
                got.keys().collect::<Vec<_>>(),
                want.keys().collect::<Vec<_>>()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "seed {seed}: {} problems after recovery (first 20):\n{}\nlog:\n{}",
        problems.len(),
        problems[..problems.len().min(20)].join("\n"),
        server.log()
    );
    stored.len()
}

fn seed() -> u64 {
    std::env::var("RONTO_CRASH_SEED")
        .ok()
        .map(|s| s.parse().expect("RONTO_CRASH_SEED must be a u64"))
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

/// `rounds` kill/restart cycles under `--fsync fsync`; each kill lands 20–700 ms after the
/// round's first acknowledgement.
fn crash_rounds(fsync: &str, rounds: u64, whole_batches: bool) {
    let seed = seed();
    println!("ingest crash test --fsync {fsync}: seed {seed} (RONTO_CRASH_SEED={seed} replays it)");
    let mut rng = SmallRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let log_path = dir.path().join("server.log");
    let started = Instant::now();

    let mut sent = Batches::new();
    let mut acked = BTreeSet::new();
    let mut busy = 0;
    for round in 0..rounds {
        let mut server = Server::start(&data_dir, &log_path, fsync);
        if round > 0 {
            check_recovered(&server, &sent, &acked, seed, whole_batches);
        }
        let acks = Arc::new(AtomicU64::new(0));
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let (port, acks, writer_seed) = (server.port, acks.clone(), rng.gen::<u64>());
                std::thread::spawn(move || {
                    write_until_killed(port, round, writer, writer_seed, acks)
                })
            })
            .collect();
        // Kill only once the round has written something, so every round crosses a write.
        let deadline = Instant::now() + Duration::from_secs(10);
        while acks.load(Ordering::Relaxed) == 0 {
            assert!(
                Instant::now() < deadline,
                "seed {seed} round {round}: no batch acknowledged in 10 s; log:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        let kill_after = Duration::from_millis(rng.gen_range(20..700));
        std::thread::sleep(kill_after);
        if round == 0 {
            // Rows of one batch are spread over the shards: each shard has stored some.
            let stats = server.get("/stats").expect("/stats answers");
            let stats: serde_json::Value = serde_json::from_slice(&stats.body).unwrap();
            for shard in stats["shards"].as_array().unwrap() {
                assert!(shard["ticks_stored"].as_u64().unwrap() > 0, "{stats}");
            }
        }
        server.kill();
        let (mut round_sent, mut round_acked) = (0, 0);
        for writer in writers {
            let report = writer.join().unwrap();
            assert!(
                report.unexpected.is_empty(),
                "seed {seed} round {round}: unexpected answers: {:?}",
                &report.unexpected[..report.unexpected.len().min(5)]
            );
            round_sent += report.sent.len();
            round_acked += report.acked.len();
            busy += report.busy;
            sent.extend(report.sent);
            acked.extend(report.acked);
        }
        println!(
            "round {round}: killed {} ms after the first ack; {round_sent} batches sent, \
             {round_acked} acknowledged",
            kill_after.as_millis()
        );
    }
    let server = Server::start(&data_dir, &log_path, fsync);
    let stored = check_recovered(&server, &sent, &acked, seed, whole_batches);
    let stats = server.get("/stats").expect("/stats answers");
    let stats: serde_json::Value = serde_json::from_slice(&stats.body).unwrap();
    let blocks: u64 = stats["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|shard| shard["blocks"].as_u64().unwrap())
        .sum();
    println!(
        "--fsync {fsync}: {rounds} rounds in {:.1} s; {} batches sent, {} acknowledged, {stored} \
         stored ({} of them caught in flight), {busy} answered 503, {blocks} sealed blocks",
        started.elapsed().as_secs_f64(),
        sent.len(),
        acked.len(),
        stored - acked.len(),
    );
    assert!(acked.len() as u64 >= rounds, "seed {seed}: too few acks");
}

#[test]
fn acknowledged_batches_survive_sigkill_with_fsync_always() {
    crash_rounds("always", 14, false);
}

#[test]
fn acknowledged_batches_survive_sigkill_with_fsync_batch() {
    crash_rounds("batch", 12, false);
}

/// The brief's stronger promise: a request caught by the kill is stored whole or not at all.
/// Each shard appends its share of a request to its own WAL, with no commit across shards, so
/// a kill between two shards' appends keeps one share.
#[test]
#[ignore = "server bug: a line-protocol request in flight at SIGKILL can survive in part (the \
            shares already in some shards' WALs), see the crash-test report"]
fn batches_in_flight_at_sigkill_are_all_or_nothing() {
    crash_rounds("always", 12, true);
}
