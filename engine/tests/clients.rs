//! Real clients against the real `ronto` binary (issue 4): the official Rust `clickhouse` crate,
//! curl-style requests, ClickHouse error answers, bad and oversized requests, SIGTERM with a
//! restart that finds the data, and the epoll driver.
//!
//! A test that fails because of a server bug is `#[ignore = "server bug: ..."]` so the suite stays
//! green while the bug stays visible (`cargo test --test clients -- --ignored` runs them).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use clickhouse::{Client, Compression, Row};
use serde::{Deserialize, Serialize};

const START_TIMEOUT: Duration = Duration::from_secs(20);
const EXIT_TIMEOUT: Duration = Duration::from_secs(20);
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A `ronto serve` child on its own port and data directory; killed on drop.
struct Server {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        Server::start_with_env(args, &[])
    }

    fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (child, port) = spawn(&dir, &args, &env);
        let mut server = Server {
            child,
            port,
            dir,
            args,
            env,
        };
        server.wait_ready();
        server
    }

    /// Starts the binary again on the same data directory (after the old process exited).
    fn restart(&mut self) {
        assert!(self.child.try_wait().unwrap().is_some(), "still running");
        let (child, port) = spawn(&self.dir, &self.args, &self.env);
        self.child = child;
        self.port = port;
        self.wait_ready();
    }

    /// Polls `/ping` (the process listens), then `/ready` (every core serves), both bounded.
    fn wait_ready(&mut self) {
        for path in ["/ping", "/ready"] {
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                if let Some(status) = self.child.try_wait().unwrap() {
                    panic!("server exited early with {status}; log:\n{}", self.log());
                }
                let request = format!("GET {path} HTTP/1.1\r\nConnection: close\r\n\r\n");
                if try_exchange(self.port, request.as_bytes()).is_ok_and(|r| r.status == 200) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "no 200 from {path}; log:\n{}",
                    self.log()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Sends SIGTERM and waits (bounded) for the exit.
    fn terminate(&mut self) -> ExitStatus {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(rc, 0);
        let deadline = Instant::now() + EXIT_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("server ignored SIGTERM; log:\n{}", self.log());
    }

    /// One request on a fresh connection (`Connection: close`), one response.
    fn exchange(&self, request: &[u8]) -> Response {
        try_exchange(self.port, request).unwrap_or_else(|e| {
            panic!("request failed: {e}; log:\n{}", self.log());
        })
    }

    /// `POST /<query string>` with `headers` (each `Name: value`) and `body`.
    fn post(&self, query_string: &str, headers: &[&str], body: &[u8]) -> Response {
        let mut request = format!("POST /{query_string} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for h in headers {
            request.push_str(h);
            request.push_str("\r\n");
        }
        request.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        ));
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(body);
        self.exchange(&bytes)
    }

    /// A query as a ClickHouse client sends it (`X-ClickHouse-User`, `query_id`).
    fn clickhouse_query(&self, sql: &str) -> Response {
        self.post(
            "?query_id=test",
            &[
                "X-ClickHouse-User: default",
                "User-Agent: clickhouse-rs/0.15",
            ],
            sql.as_bytes(),
        )
    }

    /// A query as plain curl sends it (`curl -d "<sql>" host:port/`).
    fn curl(&self, sql: &str) -> Response {
        self.post(
            "",
            &[
                "User-Agent: curl/8.5.0",
                "Accept: */*",
                "Content-Type: application/x-www-form-urlencoded",
            ],
            sql.as_bytes(),
        )
    }

    /// Runs `sql` and asserts it succeeded.
    fn ok(&self, sql: &str) -> Response {
        let response = self.clickhouse_query(sql);
        assert_eq!(response.status, 200, "{sql}\n-> {}", response.text());
        response
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(dir: &tempfile::TempDir, args: &[String], env: &[(String, String)]) -> (Child, u16) {
    let port = free_port();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.path().join("server.log"))
        .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_ronto"));
    command
        .arg("serve")
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args([
            "--http-port",
            &port.to_string(),
            "--cores",
            "2",
            "--fsync",
            "never",
        ])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    for (key, value) in env {
        command.env(key, value);
    }
    (command.spawn().unwrap(), port)
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
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }
}

fn try_exchange(port: u16, request: &[u8]) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.write_all(request)?;
    read_response(&mut BufReader::new(&mut stream))
}

/// Reads one response (Content-Length, chunked, or until close) from `reader`.
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
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed
            .split_once(':')
            .ok_or_else(|| std::io::Error::other(format!("bad header {trimmed:?}")))?;
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if let Some(length) = response.header("content-length") {
        let mut body = vec![0; length.parse().map_err(std::io::Error::other)?];
        reader.read_exact(&mut body)?;
        response.body = body;
    } else if response
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim_end(), 16).map_err(std::io::Error::other)?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            response.body.extend_from_slice(&chunk[..size]);
        }
    } else {
        reader.read_to_end(&mut response.body)?;
    }
    Ok(response)
}

/// Percent-encodes a query-string value.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A trade as the Rust client sees it: `price` is `Nullable(Float64)`, `volume` a plain `Int64`
/// (the crate's schema validation checks both against the server's types).
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
struct Trade {
    timestamp: i64,
    symbol: String,
    price: Option<f64>,
    volume: i64,
}

const BASE_NS: i64 = 1_704_164_645_000_000_000; // 2024-01-02 03:04:05 UTC

fn sample_trades() -> Vec<Trade> {
    vec![
        Trade {
            timestamp: BASE_NS + 123_456_789,
            symbol: "AAPL".into(),
            price: Some(187.25),
            volume: 100,
        },
        Trade {
            timestamp: BASE_NS + 1_000_000_001,
            symbol: "MSFT".into(),
            price: None,
            volume: -7,
        },
        Trade {
            timestamp: BASE_NS + 2_000_000_000,
            symbol: "AAPL".into(),
            price: Some(0.1),
            volume: 1 << 62,
        },
        Trade {
            timestamp: BASE_NS + 3_999_999_999,
            symbol: "it's \"q\"\t\\".into(),
            price: Some(-1e300),
            volume: 0,
        },
    ]
}

fn create_sql(table: &str) -> String {
    format!(
        "CREATE TABLE {table} (timestamp DateTime64(9), symbol LowCardinality(String), \
         price Nullable(Float64), volume Int64) ENGINE = MergeTree ORDER BY timestamp"
    )
}

/// `INSERT ... VALUES` with timestamps as integers (nanoseconds, Ronto's tick convention).
fn values_sql(table: &str, rows: &[Trade]) -> String {
    let tuples: Vec<String> = rows
        .iter()
        .map(|t| {
            let symbol = t.symbol.replace('\\', "\\\\").replace('\'', "\\'");
            let price = t.price.map_or("NULL".to_string(), |p| format!("{p:?}"));
            let volume = t.volume;
            format!("({}, '{symbol}', {price}, {volume})", t.timestamp)
        })
        .collect();
    format!(
        "INSERT INTO {table} (timestamp, symbol, price, volume) VALUES {}",
        tuples.join(", ")
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn client(server: &Server) -> Client {
    Client::default().with_url(server.url())
}

/// Fetches the sample table through the crate with each compression setting and credentials.
async fn fetch_round_trip(server: &Server, table: &str) {
    let want = sample_trades();
    let clients = [
        client(server),
        client(server).with_compression(Compression::None),
        client(server).with_compression(Compression::Lz4),
        client(server).with_user("default").with_password("secret"),
        client(server).with_validation(false),
    ];
    for c in &clients {
        let got = c
            .query(&format!("SELECT ?fields FROM {table} ORDER BY timestamp"))
            .fetch_all::<Trade>()
            .await
            .unwrap();
        assert_eq!(got, want);
        let count: u64 = c
            .query(&format!("SELECT count() FROM {table} WHERE symbol = ?"))
            .bind("AAPL")
            .fetch_one()
            .await
            .unwrap();
        assert_eq!(count, 2);
    }
}

#[test]
fn rust_client_fetches_rows() {
    let server = Server::start(&[]);
    runtime().block_on(async {
        let c = client(&server);
        c.query(&create_sql("rs_fetch")).execute().await.unwrap();
        c.query(&values_sql("rs_fetch", &sample_trades()))
            .execute()
            .await
            .unwrap();
        fetch_round_trip(&server, "rs_fetch").await;

        let (version, tz): (String, String) = c
            .query("SELECT version(), timezone()")
            .fetch_one()
            .await
            .unwrap();
        assert!(!version.is_empty());
        assert_eq!(tz, "UTC");
        let sums: (String, u64, i64) = c
            .query("SELECT symbol, count(), sum(volume) FROM rs_fetch WHERE symbol = 'AAPL' GROUP BY symbol")
            .fetch_one()
            .await
            .unwrap();
        assert_eq!(sums, ("AAPL".to_string(), 2, 100 + (1 << 62)));
        let empty = c
            .query("SELECT ?fields FROM rs_fetch WHERE symbol = 'NONE'")
            .fetch_all::<Trade>()
            .await
            .unwrap();
        assert!(empty.is_empty());
    });
}

#[test]
fn rust_client_sees_clickhouse_errors() {
    let server = Server::start(&[]);
    runtime().block_on(async {
        let c = client(&server);
        let error = c
            .query("SELECT ?fields FROM no_such_table")
            .fetch_all::<Trade>()
            .await
            .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("Code: 60"), "{text}");
        let error = c.query("SELEC 1").execute().await.unwrap_err();
        assert!(error.to_string().contains("Code: 62"), "{error}");
    });
}

#[test]
fn rust_client_reads_a_not_null_column_as_plain_i64() {
    let server = Server::start(&[]);
    runtime().block_on(async {
        let c = client(&server);
        c.query(&create_sql("rs_strict")).execute().await.unwrap();
        c.query(&values_sql("rs_strict", &sample_trades()))
            .execute()
            .await
            .unwrap();
        let got = c
            .query("SELECT ?fields FROM rs_strict ORDER BY timestamp")
            .fetch_all::<Trade>()
            .await
            .unwrap();
        assert_eq!(got.len(), sample_trades().len());
        assert_eq!(got[0].volume, 100);
    });
}

/// Inserts through the crate and reads the rows back. With validation (the default) the crate
/// runs DESCRIBE TABLE and sends `FORMAT RowBinaryWithNamesAndTypes`, without it plain
/// `RowBinary`; with LZ4 the chunked body is block-framed and the URL has `decompress=1`.
async fn insert_round_trip(c: Client, table: &str) {
    c.query(&create_sql(table)).execute().await.unwrap();
    let mut insert = c.insert::<Trade>(table).await.unwrap();
    for row in sample_trades() {
        insert.write(&row).await.unwrap();
    }
    insert.end().await.unwrap();
    let got = c
        .query(&format!("SELECT ?fields FROM {table} ORDER BY timestamp"))
        .fetch_all::<Trade>()
        .await
        .unwrap();
    assert_eq!(got, sample_trades());
}

// Every `INSERT INTO t [(cols)] FORMAT X` answers 400 "Code: 62 ... Expected: SELECT, VALUES, or a
// subquery in the query body, found: EOF": `sql::plan::plan` hands sqlparser the text before
// FORMAT on its own.
#[test]
fn rust_client_inserts_with_lz4() {
    let server = Server::start(&[]);
    let c = client(&server).with_compression(Compression::Lz4);
    runtime().block_on(insert_round_trip(c.clone(), "rs_lz4"));
    runtime().block_on(insert_round_trip(
        c.with_validation(false),
        "rs_lz4_plain_rowbinary",
    ));
}

#[test]
fn rust_client_inserts_uncompressed() {
    let server = Server::start(&[]);
    let c = client(&server).with_compression(Compression::None);
    runtime().block_on(insert_round_trip(c.clone(), "rs_plain"));
    runtime().block_on(insert_round_trip(
        c.with_validation(false),
        "rs_plain_rowbinary",
    ));
}

#[test]
fn rust_client_server_side_params() {
    let server = Server::start(&[]);
    runtime().block_on(async {
        let c = client(&server);
        c.query(&create_sql("rs_params")).execute().await.unwrap();
        c.query(&values_sql("rs_params", &sample_trades()))
            .execute()
            .await
            .unwrap();
        let count: u64 = c
            .query("SELECT count() FROM rs_params WHERE symbol = {sym:String}")
            .param("sym", "AAPL")
            .fetch_one()
            .await
            .unwrap();
        assert_eq!(count, 2);
    });
}

#[test]
fn clickhouse_block_compressed_bodies_are_read() {
    // `decompress=1` bodies framed by the crate's own compressor (CityHash128, method, sizes,
    // LZ4), split over two blocks. SQL `INSERT ... VALUES` stands in for the crate's RowBinary
    // insert until `INSERT ... FORMAT` works.
    let server = Server::start(&[]);
    server.ok(&create_sql("framed"));
    let sql = values_sql("framed", &sample_trades());
    let (head, tail) = sql.as_bytes().split_at(sql.len() / 2);
    let mut body = clickhouse::_priv::lz4_compress(head).unwrap().to_vec();
    body.extend_from_slice(&clickhouse::_priv::lz4_compress(tail).unwrap());
    let response = server.post("?decompress=1", &["X-ClickHouse-User: default"], &body);
    assert_eq!(response.status, 200, "{}", response.text());
    runtime().block_on(fetch_round_trip(&server, "framed"));
    // A block whose checksum does not match is refused and nothing is written.
    let mut corrupt = body.clone();
    corrupt[0] ^= 1;
    let response = server.post("?decompress=1", &["X-ClickHouse-User: default"], &corrupt);
    assert_eq!(response.status, 400, "{}", response.text());
    assert_eq!(
        server.ok("SELECT count() FROM framed FORMAT TSV").text(),
        "4\n"
    );
}

/// The seed JSON shape ZeptoDB's docs show for curl.
fn assert_seed_shape(response: &Response) -> serde_json::Value {
    assert_eq!(response.status, 200, "{}", response.text());
    let v = response.json();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        ["columns", "data", "execution_time_us", "rows"],
        "{v}"
    );
    assert!(v["execution_time_us"].is_f64(), "{v}");
    assert_eq!(
        v["rows"].as_u64().unwrap() as usize,
        v["data"].as_array().unwrap().len()
    );
    v
}

#[test]
fn curl_gets_the_seed_json_shape() {
    let server = Server::start(&[]);
    // The default `trades` table exists on a fresh data directory.
    server.ok(
        "INSERT INTO trades (timestamp, symbol, price, volume) VALUES \
         (1704164645000000000, 'AAPL', 100.0, 10), (1704164646000000000, 'AAPL', 110.0, 30), \
         (1704164647000000000, 'MSFT', 50.5, 5)",
    );
    let sql = "SELECT vwap(price, volume), count(*) FROM trades WHERE symbol = 'AAPL'";
    let v = assert_seed_shape(&server.curl(sql));
    assert_eq!(v["rows"], 1);
    assert_eq!(v["columns"].as_array().unwrap().len(), 2);
    let row = &v["data"][0];
    // (100*10 + 110*30) / 40 = 107.5; floats stay floats, counts stay integers.
    assert_eq!(row[0].as_f64(), Some(107.5), "{v}");
    assert_eq!(row[1].as_u64(), Some(2), "{v}");

    let get = server.exchange(
        format!(
            "GET /?query={} HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8.5.0\r\nConnection: close\r\n\r\n",
            encode(sql)
        )
        .as_bytes(),
    );
    let w = assert_seed_shape(&get);
    assert_eq!(w["data"], v["data"]);
    assert_eq!(w["columns"], v["columns"]);

    // A FORMAT clause wins over the seed shape.
    let tsv = server.curl("SELECT count(*) FROM trades FORMAT TabSeparated");
    assert_eq!(tsv.text(), "3\n");
    // Errors keep the shape and add `error`.
    let missing = server.curl("SELECT * FROM no_such_table");
    assert_eq!(missing.status, 404, "{}", missing.text());
    let m = missing.json();
    assert_eq!(m["rows"], 0);
    assert_eq!(m["data"], serde_json::json!([]));
    assert!(
        m["error"]
            .as_str()
            .is_some_and(|e| e.contains("no_such_table")),
        "{m}"
    );
}

#[test]
fn curl_filters_an_integer_symbol_column() {
    let server = Server::start(&[]);
    server.ok("CREATE TABLE ticks (timestamp DateTime64(9), symbol Int64, price Float64, volume Int64) ENGINE = MergeTree ORDER BY timestamp");
    server.ok(
        "INSERT INTO ticks VALUES (1000, 1, 10.0, 1), (2000, 2, 20.0, 2), (3000, 1, 30.0, 3), (4000, 3, 40.0, 4)",
    );
    let v = assert_seed_shape(&server.curl(
        "SELECT count(*), sum(volume), vwap(price, volume), first(price), last(price) FROM ticks WHERE symbol = 1",
    ));
    // vwap = (10*1 + 30*3) / 4 = 25.
    assert_eq!(
        v["data"][0],
        serde_json::json!([2, 4, 25.0, 10.0, 30.0]),
        "{v}"
    );
    let v = assert_seed_shape(
        &server.curl("SELECT symbol, count(*) FROM ticks GROUP BY symbol ORDER BY symbol"),
    );
    assert_eq!(
        v["data"],
        serde_json::json!([[1, 2], [2, 1], [3, 1]]),
        "{v}"
    );
    let v = assert_seed_shape(&server.curl("SELECT price FROM ticks WHERE symbol = 2"));
    assert_eq!(v["data"], serde_json::json!([[20.0]]), "{v}");
}

#[test]
fn clickhouse_clients_get_coded_errors() {
    let server = Server::start(&[]);
    let check = |response: &Response, status: u16, code: u32, name: &str| {
        assert_eq!(response.status, status, "{}", response.text());
        let text = response.text();
        assert!(
            text.starts_with(&format!("Code: {code}. DB::Exception: ")),
            "{text}"
        );
        assert!(text.contains(&format!("({name})")), "{text}");
        assert!(text.contains("(version "), "{text}");
        assert_eq!(
            response.header("x-clickhouse-exception-code"),
            Some(code.to_string().as_str())
        );
    };
    check(
        &server.clickhouse_query("SELECT * FROM no_such_table"),
        404,
        60,
        "UNKNOWN_TABLE",
    );
    check(
        &server.clickhouse_query("SELEC price FROM trades"),
        400,
        62,
        "SYNTAX_ERROR",
    );
    check(
        &server.clickhouse_query("SELECT no_such_column FROM trades"),
        404,
        47,
        "UNKNOWN_IDENTIFIER",
    );
    check(
        &server.clickhouse_query("SELECT no_such_function(price) FROM trades"),
        404,
        46,
        "UNKNOWN_FUNCTION",
    );
    check(
        &server.clickhouse_query("SELECT 1 FORMAT NoSuchFormat"),
        404,
        73,
        "UNKNOWN_FORMAT",
    );
    // `default_format` alone also marks a ClickHouse client.
    let response = server.post("?default_format=JSON", &[], b"SELECT * FROM no_such_table");
    check(&response, 404, 60, "UNKNOWN_TABLE");
    // A GET that writes is refused and writes nothing.
    let insert = encode("INSERT INTO trades VALUES (1, 'AAPL', 1.0, 1)");
    let response = server.exchange(
        format!(
            "GET /?query={insert} HTTP/1.1\r\nX-ClickHouse-User: default\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    assert!(
        (400..500).contains(&response.status),
        "{} {}",
        response.status,
        response.text()
    );
    assert_eq!(response.header("x-clickhouse-exception-code"), Some("164"));
    assert!(
        response.text().contains("(READONLY)"),
        "{}",
        response.text()
    );
    let response = server.exchange(
        format!(
            "GET /?query={} HTTP/1.1\r\nConnection: close\r\n\r\n",
            encode("CREATE TABLE made_by_get (timestamp DateTime64(9), symbol String, x Int64)")
        )
        .as_bytes(),
    );
    assert!((400..500).contains(&response.status), "{}", response.text());
    assert_eq!(
        server.ok("SELECT count() FROM trades FORMAT TSV").text(),
        "0\n"
    );
    let exists = server.ok("EXISTS TABLE made_by_get FORMAT TSV");
    assert_eq!(exists.text(), "0\n");
}

#[test]
fn describe_and_show_take_a_format_clause() {
    let server = Server::start(&[]);
    let describe = server.ok("DESCRIBE TABLE trades FORMAT TSV");
    assert!(
        describe.text().starts_with("timestamp\t"),
        "{}",
        describe.text()
    );
    let show = server.ok("SHOW TABLES FORMAT TSV");
    assert!(
        show.text().lines().any(|l| l == "trades"),
        "{}",
        show.text()
    );
}

#[test]
fn an_unknown_database_is_refused() {
    let server = Server::start(&[]);
    let response = server.post(
        "?database=nope",
        &["X-ClickHouse-User: default"],
        b"SELECT 1",
    );
    assert_eq!(response.status, 404, "{}", response.text());
    assert_eq!(response.header("x-clickhouse-exception-code"), Some("81"));
    assert!(
        response.text().contains("UNKNOWN_DATABASE"),
        "{}",
        response.text()
    );
    let by_header = server.post("", &["X-ClickHouse-Database: nope"], b"SELECT 1");
    assert_eq!(by_header.status, 404, "{}", by_header.text());
    for known in ["default", "system"] {
        let ok = server.post(&format!("?database={known}"), &[], b"SELECT 1 FORMAT TSV");
        assert_eq!(
            (ok.status, ok.text().as_str()),
            (200, "1\n"),
            "database={known}"
        );
    }
}

#[test]
fn bad_requests_are_refused_and_the_server_stays_up() {
    let server = Server::start(&["--max-body-bytes", "4096"]);
    let ping = |server: &Server| {
        let response = server.exchange(b"GET /ping HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert_eq!((response.status, response.text().as_str()), (200, "Ok.\n"));
    };
    for malformed in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET /ping HTTP/1.1\r\nNo colon here\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nSELECT 1\r\n0\r\n\r\n",
        b"\x00\x01\x02\xff\r\n\r\n",
    ] {
        let response = server.exchange(malformed);
        assert_eq!(
            response.status,
            400,
            "{:?} -> {}",
            String::from_utf8_lossy(malformed),
            response.text()
        );
        ping(&server);
    }
    let response = server.exchange(b"GET / HTTP/9.9\r\n\r\n");
    assert_eq!(response.status, 505, "{}", response.text());
    ping(&server);
    // An oversized body announced with `Expect: 100-continue` (as curl does for large bodies) is
    // refused before it is sent; `oversized_bodies_sent_whole_get_413` covers bodies sent whole.
    let response = server
        .exchange(b"POST / HTTP/1.1\r\nContent-Length: 10000\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(response.status, 413, "{}", response.text());
    ping(&server);
    // Bodies that are not what they claim: bad LZ4, bad block framing, bad UTF-8.
    let response = server.post("", &["Content-Encoding: lz4"], b"not lz4 at all");
    assert_eq!(response.status, 400, "{}", response.text());
    let response = server.post("?decompress=1", &[], &[0u8; 40]);
    assert_eq!(response.status, 400, "{}", response.text());
    let response = server.post("", &[], b"SELECT '\xff\xfe'");
    assert_eq!(response.status, 400, "{}", response.text());
    // A half-sent request followed by a hang-up does not hurt anyone else.
    {
        let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        stream
            .write_all(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nSELECT")
            .unwrap();
    }
    ping(&server);
    let response = server.ok("SELECT 1 FORMAT TSV");
    assert_eq!(response.text(), "1\n");
}

#[test]
fn oversized_bodies_sent_whole_get_413() {
    let server = Server::start(&["--max-body-bytes", "4096"]);
    let ping = |server: &Server| {
        let response = server.exchange(b"GET /ping HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert_eq!((response.status, response.text().as_str()), (200, "Ok.\n"));
    };
    // Declared too large, body sent anyway.
    let big = vec![b'1'; 10_000];
    let mut body = b"SELECT ".to_vec();
    body.extend_from_slice(&big);
    let response = server.post("", &["X-ClickHouse-User: default"], &body);
    assert_eq!(response.status, 413, "{}", response.text());
    ping(&server);
    // Chunked past the bound.
    let mut chunked =
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for _ in 0..4 {
        chunked.extend_from_slice(b"800\r\n");
        chunked.extend_from_slice(&[b' '; 0x800]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(server.exchange(&chunked).status, 413);
    ping(&server);
}

#[test]
fn sigterm_exits_cleanly_and_the_data_survives_a_restart() {
    let mut server = Server::start(&[]);
    let rows: Vec<Trade> = (0..500)
        .map(|i| Trade {
            timestamp: BASE_NS + i * 1_000,
            symbol: ["AAPL", "MSFT", "GOOG", "AMZN", "TSLA"][i as usize % 5].to_string(),
            price: if i % 7 == 0 {
                None
            } else {
                Some(i as f64 / 4.0)
            },
            volume: i,
        })
        .collect();
    server.ok(&create_sql("survivors"));
    for chunk in rows.chunks(100) {
        server.ok(&values_sql("survivors", chunk));
    }
    let before = server.ok("SELECT count(), sum(volume), sum(price) FROM survivors FORMAT TSV");
    let price_sum: f64 = rows.iter().filter_map(|t| t.price).sum();
    assert_eq!(before.text(), format!("500\t124750\t{price_sum}\n"));
    let status = server.terminate();
    assert_eq!(status.code(), Some(0), "log:\n{}", server.log());
    server.restart();
    let after = server.ok("SELECT count(), sum(volume), sum(price) FROM survivors FORMAT TSV");
    assert_eq!(after.text(), before.text());
    runtime().block_on(async {
        let got = client(&server)
            .query("SELECT ?fields FROM survivors ORDER BY timestamp")
            .fetch_all::<Trade>()
            .await
            .unwrap();
        assert_eq!(got, rows);
    });
    // And a second clean stop after the restart.
    assert_eq!(server.terminate().code(), Some(0), "log:\n{}", server.log());
}

#[test]
fn the_epoll_driver_serves_real_clients() {
    let mut server = Server::start_with_env(&[], &[("MONOIO_FORCE_LEGACY_DRIVER", "1")]);
    let health = server.exchange(b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_eq!(health.json()["driver"], "epoll");
    server.ok(&create_sql("epoll_trades"));
    server.ok(&values_sql("epoll_trades", &sample_trades()));
    runtime().block_on(fetch_round_trip(&server, "epoll_trades"));
    let v = assert_seed_shape(
        &server
            .curl("SELECT vwap(price, volume), count(*) FROM epoll_trades WHERE symbol = 'MSFT'"),
    );
    assert_eq!(v["data"][0][1], 1);
    // Many connections at once, each with a few keep-alive requests.
    let port = server.port;
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
                stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                for _ in 0..10 {
                    let sql = "SELECT count() FROM epoll_trades FORMAT TSV";
                    stream
                        .write_all(
                            format!(
                                "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n{sql}",
                                sql.len()
                            )
                            .as_bytes(),
                        )
                        .unwrap();
                    let response = read_response(&mut reader).unwrap();
                    assert_eq!(response.text(), "4\n");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(server.terminate().code(), Some(0), "log:\n{}", server.log());
}

/// ClickHouse's `input_format_null_as_default`: a NULL or omitted value of a column declared
/// without `Nullable` is stored as the type's default; a `Nullable` column keeps NULL. (A
/// LowCardinality(String) column other than the symbol is stored, and reported, as String.)
#[test]
fn not_null_columns_store_defaults_for_null_and_omitted_values() {
    let server = Server::start(&[]);
    server.ok(
        "CREATE TABLE nn (timestamp DateTime64(9), symbol String, px Float64, \
         qty Int64, venue LowCardinality(String), note Nullable(String))",
    );
    server.ok("INSERT INTO nn (timestamp, symbol, px, qty, venue, note) VALUES (1, 'A', NULL, 5, NULL, NULL)");
    server.ok("INSERT INTO nn (timestamp, symbol) VALUES (2, 'A')");
    let rows = server.ok("SELECT px, qty, venue, note FROM nn ORDER BY timestamp FORMAT TSV");
    assert_eq!(rows.text(), "0\t5\t\t\\N\n0\t0\t\t\\N\n");
    let types = server.ok("SELECT name, type FROM system.columns WHERE table = 'nn' FORMAT TSV");
    assert_eq!(
        types.text(),
        "timestamp\tDateTime64(9)\nsymbol\tLowCardinality(String)\npx\tFloat64\nqty\tInt64\n\
         venue\tString\nnote\tNullable(String)\n"
    );
}

/// With `--user`, every request but the liveness probes must name a configured user, in any of
/// the ways ClickHouse and InfluxDB clients do; anything else is ClickHouse's 403 Code 516.
#[test]
fn configured_users_are_required_and_checked() {
    let server = Server::start(&["--user", "alice:s3cr3t", "--user", "bob:"]);
    let refused = |response: &Response, what: &str| {
        assert_eq!(response.status, 403, "{what}: {}", response.text());
        assert_eq!(
            response.header("x-clickhouse-exception-code"),
            Some("516"),
            "{what}"
        );
        assert!(
            response.text().contains("AUTHENTICATION_FAILED"),
            "{what}: {}",
            response.text()
        );
    };
    refused(&server.post("", &[], b"SELECT 1"), "no credentials");
    refused(
        &server.post(
            "",
            &["X-ClickHouse-User: alice", "X-ClickHouse-Key: wrong"],
            b"SELECT 1",
        ),
        "wrong password",
    );
    refused(
        &server.post("?user=mallory&password=s3cr3t", &[], b"SELECT 1"),
        "unknown user",
    );
    refused(
        &server.post("write", &[], b"m,symbol=A x=1i 1"),
        "line protocol without credentials",
    );
    // "alice:s3cr3t" in base64.
    for (query_string, headers) in [
        (
            "",
            vec!["X-ClickHouse-User: alice", "X-ClickHouse-Key: s3cr3t"],
        ),
        ("", vec!["Authorization: Basic YWxpY2U6czNjcjN0"]),
        ("?user=alice&password=s3cr3t", vec![]),
        ("?user=bob", vec![]),
    ] {
        let ok = server.post(query_string, &headers, b"SELECT 1 FORMAT TSV");
        assert_eq!(
            (ok.status, ok.text().as_str()),
            (200, "1\n"),
            "{query_string} {headers:?}"
        );
    }
    let written = server.post("write?u=alice&p=s3cr3t", &[], b"m,symbol=A x=1i 1");
    assert_eq!(written.status, 204, "{}", written.text());
    let token = server.post(
        "api/v2/write",
        &["Authorization: Token alice:s3cr3t"],
        b"m,symbol=A x=2i 2",
    );
    assert_eq!(token.status, 204, "{}", token.text());
    // Liveness needs no credentials.
    let ping = server.exchange(b"GET /ping HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_eq!((ping.status, ping.text().as_str()), (200, "Ok.\n"));
    // The Rust crate's with_user/with_password.
    runtime().block_on(async {
        let count: u64 = client(&server)
            .with_user("alice")
            .with_password("s3cr3t")
            .query("SELECT count() FROM m")
            .fetch_one()
            .await
            .unwrap();
        assert_eq!(count, 2);
        let error = client(&server)
            .with_user("alice")
            .with_password("nope")
            .query("SELECT 1")
            .execute()
            .await
            .unwrap_err();
        assert!(error.to_string().contains("516"), "{error}");
    });
}
