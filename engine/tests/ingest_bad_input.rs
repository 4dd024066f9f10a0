//! Bad input on every write endpoint of the real `ronto` binary: malformed lines (partial
//! writes), type conflicts, unknown precision, broken MessagePack and JSON, invalid UTF-8,
//! bodies over `--max-body-bytes`, empty bodies, gzip and broken gzip, and seeded random
//! garbage. Each answer is checked against docs/HTTP.md, the stored rows are read back, and the
//! server must still answer `/ping` afterwards.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// The line-protocol endpoints with the parameters their clients send.
const LINE_PROTOCOL_ENDPOINTS: [&str; 4] = [
    "/write?db=bad",
    "/api/v1/write?db=bad",
    "/api/v2/write?org=o&bucket=bad",
    "/api/write",
];
const MSGPACK: &str = "/write/v2/msgpack";
const JSON: &str = "/write/json";

/// A `ronto serve` child on its own port and data directory; killed on drop.
struct Server {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_ronto"))
            .arg("serve")
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--http-port", &port.to_string(), "--cores", "2"])
            .args(["--fsync", "never"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut server = Server { child, port, dir };
        for path in ["/ping", "/ready"] {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Some(status) = server.child.try_wait().unwrap() {
                    panic!("server exited early with {status}; log:\n{}", server.log());
                }
                if server.try_request("GET", path, &[], b"").map(|r| r.status) == Some(200) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "no 200 from {path}; log:\n{}",
                    server.log()
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        server
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn try_request(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Option<Response> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .ok()?;
        let mut head =
            format!("{method} {target} HTTP/1.1\r\nHost: ronto\r\nConnection: close\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if method != "GET" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        // One write: head and body in separate writes meet Nagle and delayed ACKs (40 ms each).
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        // The server may answer (413) and close before taking the whole body.
        let _ = stream.write_all(&request);
        read_response(&mut BufReader::new(&mut stream)).ok()
    }

    fn post(&self, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        let response = self
            .try_request("POST", target, headers, body)
            .unwrap_or_else(|| panic!("no answer to POST {target}; log:\n{}", self.log()));
        self.assert_alive();
        response
    }

    /// The server still serves after whatever it was just sent.
    fn assert_alive(&self) {
        let ping = self.try_request("GET", "/ping", &[], b"");
        assert_eq!(
            ping.map(|r| r.status),
            Some(200),
            "server stopped answering /ping; log:\n{}",
            self.log()
        );
    }

    /// Rows of `sql` (which must end in `FORMAT JSONEachRow`).
    fn rows(&self, sql: &str) -> Vec<Value> {
        let response = self.post("/", &[], sql.as_bytes());
        assert_eq!(response.status, 200, "{sql}: {}", response.text());
        response
            .text()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    fn count(&self, table: &str) -> u64 {
        let rows = self.rows(&format!(
            "SELECT count() AS n FROM {table} FORMAT JSONEachRow"
        ));
        rows[0]["n"]
            .as_u64()
            .or_else(|| rows[0]["n"].as_str().and_then(|n| n.parse().ok()))
            .unwrap()
    }

    fn stats(&self) -> Value {
        let response = self.try_request("GET", "/stats", &[], b"").unwrap();
        assert_eq!(response.status, 200);
        serde_json::from_slice(&response.body).unwrap()
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

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("answer is not JSON ({e}): {}", self.text()))
    }
}

/// Reads one response (Content-Length, chunked, or until close).
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
    let (mut length, mut chunked) = (None, false);
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':').unwrap();
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
            let size = usize::from_str_radix(line.trim_end(), 16).unwrap();
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

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// The pieces of MessagePack these tests send, encoded by hand so the bytes are explicit.
enum Mp {
    Int(i64),
    Float(f64),
    Str(&'static str),
    /// A str whose bytes need not be UTF-8.
    RawStr(Vec<u8>),
    Array(Vec<Mp>),
    Map(Vec<(&'static str, Mp)>),
}

impl Mp {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Mp::Int(v) => {
                out.push(0xd3);
                out.extend_from_slice(&v.to_be_bytes());
            }
            Mp::Float(v) => {
                out.push(0xcb);
                out.extend_from_slice(&v.to_be_bytes());
            }
            Mp::Str(s) => Mp::RawStr(s.as_bytes().to_vec()).encode(out),
            Mp::RawStr(bytes) => {
                out.push(0xd9);
                out.push(u8::try_from(bytes.len()).unwrap());
                out.extend_from_slice(bytes);
            }
            Mp::Array(items) => {
                out.push(0xdc);
                out.extend_from_slice(&u16::try_from(items.len()).unwrap().to_be_bytes());
                for item in items {
                    item.encode(out);
                }
            }
            Mp::Map(entries) => {
                out.push(0xde);
                out.extend_from_slice(&u16::try_from(entries.len()).unwrap().to_be_bytes());
                for (key, value) in entries {
                    Mp::Str(key).encode(out);
                    value.encode(out);
                }
            }
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// An Arc rows-form item: `{"m": table, "t": ms, "h": host, "fields": {name: value}}`.
fn mp_row(table: &'static str, t_ms: i64, host: &'static str, field: (&'static str, Mp)) -> Mp {
    Mp::Map(vec![
        ("m", Mp::Str(table)),
        ("t", Mp::Int(t_ms)),
        ("h", Mp::Str(host)),
        ("fields", Mp::Map(vec![field])),
    ])
}

const MSGPACK_TYPE: (&str, &str) = ("Content-Type", "application/msgpack");

/// Asserts a partial-write answer: 400, the counts, and errors at exactly `at` (in any order).
fn assert_partial(response: &Response, written: u64, rejected: u64, at: &[&str]) {
    assert_eq!(response.status, 400, "{}", response.text());
    let body = response.json();
    assert_eq!(body["written"], written, "{body}");
    assert_eq!(body["rejected"], rejected, "{body}");
    assert!(
        body["error"].as_str().unwrap().starts_with(&format!(
            "partial write: {rejected} rejected, {written} written"
        )),
        "{body}"
    );
    let mut got: Vec<String> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(!e["error"].as_str().unwrap().is_empty(), "{body}");
            e["at"].as_str().unwrap().to_string()
        })
        .collect();
    got.sort();
    let mut want: Vec<String> = at.iter().map(|s| s.to_string()).collect();
    want.sort();
    // `at` names the line (or item, row); line-protocol errors add the byte offset.
    assert_eq!(got.len(), want.len(), "{body}");
    for (got, want) in got.iter().zip(&want) {
        assert!(
            got == want || got.starts_with(&format!("{want} (byte ")),
            "error at {got:?}, expected {want:?}: {body}"
        );
    }
}

/// A whole-body refusal: `status` and a JSON `error` containing `needle`.
fn assert_refused(response: &Response, status: u16, needle: &str) {
    assert_eq!(response.status, status, "{}", response.text());
    let body = response.json();
    let error = body["error"].as_str().unwrap_or_default();
    assert!(
        error.to_lowercase().contains(&needle.to_lowercase()),
        "error {error:?} should mention {needle:?}"
    );
}

#[test]
fn malformed_lines_are_reported_and_good_lines_stored_on_every_endpoint() {
    let server = Server::start(&[]);
    for (i, endpoint) in LINE_PROTOCOL_ENDPOINTS.iter().enumerate() {
        let table = format!("malformed{i}");
        let body = format!(
            "{table},symbol=A x=1i,s=\"one\" 1000\n\
             {table},symbol=A x=oops 2000\n\
             {table},symbol=B x=3i,s=\"three\" 3000\n\
             \n\
             # a comment\n\
             {table},symbol=C x 6000\n\
             {table},symbol=D x=7i 7000junk\n\
             {table},symbol=E x=8i,s=\"eight, with \\\"quotes\\\"\" 8000"
        );
        let response = server.post(endpoint, &[], body.as_bytes());
        assert_partial(&response, 3, 3, &["line 2", "line 6", "line 7"]);
        let rows = server.rows(&format!(
            "SELECT toInt64(timestamp) AS ts, symbol, x, s FROM {table} ORDER BY ts FORMAT JSONEachRow"
        ));
        assert_eq!(
            rows,
            vec![
                json!({"ts": 1000, "symbol": "A", "x": 1, "s": "one"}),
                json!({"ts": 3000, "symbol": "B", "x": 3, "s": "three"}),
                json!({"ts": 8000, "symbol": "E", "x": 8, "s": "eight, with \"quotes\""}),
            ],
            "{endpoint}"
        );
    }
}

#[test]
fn type_conflicts_reject_only_their_lines() {
    let server = Server::start(&[]);
    for (i, endpoint) in LINE_PROTOCOL_ENDPOINTS.iter().enumerate() {
        let table = format!("conflict{i}");
        let first = server.post(
            endpoint,
            &[],
            format!("{table},symbol=A x=1i,f=0.5 1").as_bytes(),
        );
        assert_eq!(first.status, 204, "{}", first.text());
        // Against the table: x is Int64, f is Float64.
        let body = format!(
            "{table},symbol=A x=2i 2\n\
             {table},symbol=A x=2.5 3\n\
             {table},symbol=A x=\"text\" 4\n\
             {table},symbol=A x=t 5\n\
             {table},symbol=A f=1.25 6\n\
             {table},symbol=A f=7i 7"
        );
        let response = server.post(endpoint, &[], body.as_bytes());
        assert_partial(&response, 2, 4, &["line 2", "line 3", "line 4", "line 6"]);
        // Within one request a new field keeps the type it first had.
        let body = format!("{table},symbol=A y=1i 8\n{table},symbol=A y=1.5 9");
        let response = server.post(endpoint, &[], body.as_bytes());
        assert_partial(&response, 1, 1, &["line 2"]);
        let rows = server.rows(&format!(
            "SELECT toInt64(timestamp) AS ts, x, f, y FROM {table} ORDER BY ts FORMAT JSONEachRow"
        ));
        assert_eq!(
            rows,
            vec![
                json!({"ts": 1, "x": 1, "f": 0.5, "y": null}),
                json!({"ts": 2, "x": 2, "f": null, "y": null}),
                json!({"ts": 6, "x": null, "f": 1.25, "y": null}),
                json!({"ts": 8, "x": null, "f": null, "y": 1}),
            ],
            "{endpoint}"
        );
    }

    // MessagePack: a string into a Float64 column rejects that item only.
    let body = Mp::Array(vec![
        mp_row("conflict_mp", 1, "h1", ("usage", Mp::Float(1.5))),
        mp_row("conflict_mp", 2, "h1", ("usage", Mp::Int(2))),
    ]);
    let response = server.post(MSGPACK, &[MSGPACK_TYPE], &body.bytes());
    assert_eq!(response.status, 204, "{}", response.text());
    let body = Mp::Array(vec![
        mp_row("conflict_mp", 3, "h1", ("usage", Mp::Float(3.5))),
        mp_row("conflict_mp", 4, "h1", ("usage", Mp::Str("high"))),
    ]);
    let response = server.post(MSGPACK, &[MSGPACK_TYPE], &body.bytes());
    assert_partial(&response, 1, 1, &["item 1"]);
    assert_eq!(
        server.rows("SELECT usage FROM conflict_mp ORDER BY timestamp FORMAT JSONEachRow"),
        // Float64 2.0 prints as `2`, as in ClickHouse.
        vec![
            json!({"usage": 1.5}),
            json!({"usage": 2}),
            json!({"usage": 3.5})
        ]
    );

    // JSON: values are typed by the existing table; a wrong one rejects its row.
    let body = json!({"table": "trades", "rows": [
        {"timestamp": 1, "symbol": "A", "price": 1.5, "volume": 10},
        {"timestamp": 2, "symbol": "B", "price": "high", "volume": 20},
        {"timestamp": 3, "symbol": "C", "price": 2.5, "volume": 2.5},
        {"timestamp": 4, "symbol": null, "price": 2.5, "volume": 1},
        {"timestamp": 5, "symbol": "D", "price": 3.5, "volume": 30, "nope": 1},
        {"timestamp": "2026-11-20 14:30:00.123456789", "symbol": "E", "price": 4, "volume": 40},
    ]});
    let response = server.post(JSON, &[], body.to_string().as_bytes());
    assert_partial(&response, 2, 4, &["row 1", "row 2", "row 3", "row 4"]);
    assert_eq!(
        server.rows("SELECT toInt64(timestamp) AS ts, symbol, price, volume FROM trades ORDER BY ts FORMAT JSONEachRow"),
        vec![
            json!({"ts": 1, "symbol": "A", "price": 1.5, "volume": 10}),
            json!({"ts": 1_795_185_000_123_456_789_i64, "symbol": "E", "price": 4, "volume": 40}),
        ]
    );
}

/// HTTP.md: "Bad rows never stop good ones". A line whose field type conflicts with the table
/// is rejected, and it does not decide the field's type for the rest of the request: a later
/// line with the table's own type is written.
#[test]
fn a_line_rejected_for_its_type_does_not_reject_later_good_lines() {
    let server = Server::start(&[]);
    let first = server.post("/write", &[], b"claim,symbol=A x=1i 1");
    assert_eq!(first.status, 204);
    let response = server.post(
        "/write",
        &[],
        b"claim,symbol=A x=\"s\" 2\nclaim,symbol=A x=3i 3",
    );
    assert_partial(&response, 1, 1, &["line 1"]);
    assert_eq!(server.count("claim"), 2);
}

/// The same for MessagePack rows.
#[test]
fn a_msgpack_item_rejected_for_its_type_does_not_reject_later_good_items() {
    let server = Server::start(&[]);
    let body = Mp::Array(vec![mp_row("claim_mp", 1, "h", ("usage", Mp::Float(1.5)))]);
    assert_eq!(
        server.post(MSGPACK, &[MSGPACK_TYPE], &body.bytes()).status,
        204
    );
    let body = Mp::Array(vec![
        mp_row("claim_mp", 2, "h", ("usage", Mp::Str("high"))),
        mp_row("claim_mp", 3, "h", ("usage", Mp::Float(3.5))),
    ]);
    let response = server.post(MSGPACK, &[MSGPACK_TYPE], &body.bytes());
    assert_partial(&response, 1, 1, &["item 0"]);
}

#[test]
fn unknown_precision_is_400_and_writes_nothing() {
    let server = Server::start(&[]);
    let seed = server.post("/write", &[], b"prec,symbol=A x=1i 1");
    assert_eq!(seed.status, 204);
    for endpoint in LINE_PROTOCOL_ENDPOINTS {
        for precision in ["xx", "nanoseconds", "S", "%C2%B5x"] {
            let target = format!(
                "{endpoint}{}precision={precision}",
                if endpoint.contains('?') { '&' } else { '?' }
            );
            let response = server.post(&target, &[], b"prec,symbol=A x=2i 2");
            assert_refused(&response, 400, "precision");
        }
        // Every known unit works.
        for precision in ["ns", "us", "ms", "s"] {
            let response = server.post(
                &format!(
                    "{endpoint}{}precision={precision}",
                    if endpoint.contains('?') { '&' } else { '?' }
                ),
                &[],
                b"prec,symbol=B x=3i 1",
            );
            assert_eq!(
                response.status,
                204,
                "{endpoint} {precision}: {}",
                response.text()
            );
        }
    }
    let body = Mp::Array(vec![mp_row("prec", 5, "h", ("x", Mp::Int(5)))]);
    let response = server.post(
        &format!("{MSGPACK}?precision=xx"),
        &[MSGPACK_TYPE],
        &body.bytes(),
    );
    assert_refused(&response, 400, "precision");
    // 1 seed row, 4 endpoints × 4 units.
    assert_eq!(server.count("prec"), 1 + 4 * 4);
    let rows = server.rows(
        "SELECT DISTINCT toInt64(timestamp) AS ts FROM prec WHERE symbol = 'B' ORDER BY ts FORMAT JSONEachRow",
    );
    assert_eq!(
        rows,
        vec![
            json!({"ts": 1}),
            json!({"ts": 1_000}),
            json!({"ts": 1_000_000}),
            json!({"ts": 1_000_000_000})
        ]
    );
}

/// An empty `precision=` is the default unit, as InfluxDB 1.x treats it (and as the comment on
/// `sql::ingest::Precision::parse` asks callers to do: "The empty string is not a precision:
/// callers pick their default").
#[test]
fn an_empty_precision_means_the_default() {
    let server = Server::start(&[]);
    for endpoint in LINE_PROTOCOL_ENDPOINTS {
        let target = format!(
            "{endpoint}{}precision=",
            if endpoint.contains('?') { '&' } else { '?' }
        );
        let response = server.post(&target, &[], b"prec,symbol=A x=2i 2");
        assert_eq!(response.status, 204, "{target}: {}", response.text());
    }
    let rows = server.rows("SELECT DISTINCT toInt64(timestamp) AS ts FROM prec FORMAT JSONEachRow");
    assert_eq!(rows, vec![json!({"ts": 2})]);
}

#[test]
fn broken_msgpack_is_400_with_the_byte_offset() {
    let server = Server::start(&[]);
    let good = Mp::Map(vec![(
        "batch",
        Mp::Array(vec![
            mp_row("mp_bad", 1_700_000_000_000, "h1", ("usage", Mp::Float(1.5))),
            Mp::Map(vec![
                ("m", Mp::Str("mp_bad")),
                (
                    "columns",
                    Mp::Map(vec![
                        (
                            "time",
                            Mp::Array(vec![Mp::Int(1_700_000_000_001), Mp::Int(1_700_000_000_002)]),
                        ),
                        ("usage", Mp::Array(vec![Mp::Float(2.5), Mp::Float(3.5)])),
                        ("host", Mp::Array(vec![Mp::Str("h2"), Mp::Str("h3")])),
                    ]),
                ),
            ]),
        ]),
    )])
    .bytes();
    // Every strict prefix is a truncated body: refused whole, nothing written.
    for cut in [
        1,
        2,
        good.len() / 3,
        good.len() / 2,
        good.len() - 9,
        good.len() - 1,
    ] {
        let response = server.post(MSGPACK, &[MSGPACK_TYPE], &good[..cut]);
        assert_refused(&response, 400, "byte");
    }
    // Reserved byte, a bare integer, a map with an unknown key (that item only).
    assert_refused(
        &server.post(MSGPACK, &[MSGPACK_TYPE], b"\xc1"),
        400,
        "byte 0",
    );
    assert_refused(
        &server.post(MSGPACK, &[MSGPACK_TYPE], b"\x05"),
        400,
        "byte 0",
    );
    let unknown = Mp::Array(vec![
        Mp::Map(vec![("m", Mp::Str("mp_bad")), ("z", Mp::Int(1))]),
        mp_row("mp_bad", 1_700_000_000_003, "h4", ("usage", Mp::Float(4.5))),
    ]);
    let response = server.post(MSGPACK, &[MSGPACK_TYPE], &unknown.bytes());
    assert_partial(&response, 1, 1, &["item 0"]);
    // A length that claims more than the body holds.
    let response = server.post(MSGPACK, &[MSGPACK_TYPE], b"\xdd\xff\xff\xff\xff\x01");
    assert_refused(&response, 400, "byte");
    let response = server.post(MSGPACK, &[MSGPACK_TYPE], b"\xdb\xff\xff\xff\xf0abc");
    assert_refused(&response, 400, "byte");
    // The whole body still works, both forms.
    assert_eq!(server.post(MSGPACK, &[MSGPACK_TYPE], &good).status, 204);
    assert_eq!(
        server.rows("SELECT toInt64(timestamp) AS ts, symbol, usage FROM mp_bad ORDER BY ts FORMAT JSONEachRow"),
        vec![
            json!({"ts": 1_700_000_000_000_000_000_i64, "symbol": "h1", "usage": 1.5}),
            json!({"ts": 1_700_000_000_001_000_000_i64, "symbol": "h2", "usage": 2.5}),
            json!({"ts": 1_700_000_000_002_000_000_i64, "symbol": "h3", "usage": 3.5}),
            json!({"ts": 1_700_000_000_003_000_000_i64, "symbol": "h4", "usage": 4.5}),
        ]
    );
}

#[test]
fn broken_json_is_400_with_the_byte_offset() {
    let server = Server::start(&[]);
    let good = json!({"table": "trades", "rows": [
        {"timestamp": 1, "symbol": "A", "price": 1.5, "volume": 1},
    ]})
    .to_string();
    for cut in [1, good.len() / 2, good.len() - 1] {
        assert_refused(
            &server.post(JSON, &[], &good.as_bytes()[..cut]),
            400,
            "byte",
        );
    }
    assert_refused(&server.post(JSON, &[], b"[1, 2]"), 400, "byte 0");
    assert_refused(
        &server.post(JSON, &[], br#"{"table": "trades", "rows": 5}"#),
        400,
        "rows",
    );
    assert_refused(
        &server.post(JSON, &[], br#"{"table": "nope", "rows": []}"#),
        404,
        "unknown table",
    );
    let columns = json!({"table": "trades", "columns": {
        "timestamp": [2, 3], "symbol": ["B", "C"], "price": [2.5, 3.5], "volume": [2, 3],
    }});
    assert_eq!(
        server
            .post(JSON, &[], columns.to_string().as_bytes())
            .status,
        204
    );
    assert_eq!(server.post(JSON, &[], good.as_bytes()).status, 204);
    assert_eq!(server.count("trades"), 3);
}

#[test]
fn invalid_utf8_is_rejected_where_it_is() {
    let server = Server::start(&[]);
    for (i, endpoint) in LINE_PROTOCOL_ENDPOINTS.iter().enumerate() {
        // Only the lines holding invalid UTF-8 are rejected.
        let mut body = format!("utf{i},symbol=A x=1i 1\n").into_bytes();
        body.extend_from_slice(format!("utf{i},symbol=").as_bytes());
        body.extend_from_slice(b"\xff\xfe x=2i 2\n");
        body.extend_from_slice(format!("utf{i},symbol=B s=\"").as_bytes());
        body.extend_from_slice(b"\xc3\x28\" 3\n");
        body.extend_from_slice(format!("utf{i},symbol=C x=4i 4").as_bytes());
        let response = server.post(endpoint, &[], &body);
        assert_partial(&response, 2, 2, &["line 2", "line 3"]);
        assert_eq!(server.count(&format!("utf{i}")), 2);
    }
    // MessagePack: the item with a non-UTF-8 str.
    let body = Mp::Array(vec![
        mp_row("utf_mp", 1, "h1", ("s", Mp::RawStr(b"\xff\xfe".to_vec()))),
        mp_row("utf_mp", 2, "h1", ("s", Mp::Str("ok"))),
    ]);
    let response = server.post(MSGPACK, &[MSGPACK_TYPE], &body.bytes());
    assert_partial(&response, 1, 1, &["item 0"]);
    assert_eq!(
        server.rows("SELECT s FROM utf_mp FORMAT JSONEachRow"),
        vec![json!({"s": "ok"})]
    );
    // JSON cannot be resynchronised: the body is refused with the offset.
    let mut body = br#"{"table": "trades", "rows": [{"timestamp": 1, "symbol": ""#.to_vec();
    let offset = body.len();
    body.extend_from_slice(b"\xff\", \"price\": 1, \"volume\": 1}]}");
    let response = server.post(JSON, &[], &body);
    assert_refused(&response, 400, "utf-8");
    // The offset points into the string that holds the bad byte.
    let error = response.json()["error"].as_str().unwrap().to_string();
    let at: usize = error
        .strip_prefix("byte ")
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no byte offset in {error:?}"));
    assert!(
        (offset - 1..=offset).contains(&at),
        "{error:?}, bad byte at {offset}"
    );
    assert_eq!(server.count("trades"), 0);
}

/// Bodies of every write endpoint, each over 4 KiB: line protocol, MessagePack, JSON.
fn oversized_bodies() -> Vec<(String, Vec<u8>)> {
    let mut lines = String::new();
    let mut ts = 0;
    while lines.len() <= 8192 {
        ts += 1;
        lines.push_str(&format!("big,symbol=A x={ts}i {ts}\n"));
    }
    let msgpack = Mp::Array(
        (0..400)
            .map(|t| mp_row("big", t, "h", ("x", Mp::Int(t))))
            .collect(),
    )
    .bytes();
    let rows: Vec<Value> = (0..200)
        .map(|t| json!({"timestamp": t, "symbol": "A", "price": 1.5, "volume": t}))
        .collect();
    let json = json!({"table": "trades", "rows": rows}).to_string();
    assert!(msgpack.len() > 8192 && json.len() > 8192);
    let mut cases: Vec<(String, Vec<u8>)> = LINE_PROTOCOL_ENDPOINTS
        .iter()
        .map(|e| (e.to_string(), lines.clone().into_bytes()))
        .collect();
    cases.push((MSGPACK.to_string(), msgpack));
    cases.push((JSON.to_string(), json.into_bytes()));
    cases
}

/// 413 for a declared length over the bound (answered before the body is sent, as with
/// `Expect: 100-continue`) and for chunked bodies that grow over it.
#[test]
fn bodies_over_max_body_bytes_get_413() {
    let server = Server::start(&["--max-body-bytes", "4096"]);
    for (endpoint, body) in oversized_bodies() {
        let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let head = format!(
            "POST {endpoint} HTTP/1.1\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        let response = read_response(&mut BufReader::new(&mut stream)).unwrap();
        assert_eq!(response.status, 413, "{endpoint}: {}", response.text());
        drop(stream);
        server.assert_alive();

        // Chunked: chunks that pass the bound, in one write, then the answer.
        let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut request =
            format!("POST {endpoint} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").into_bytes();
        for piece in body[..5000].chunks(1000) {
            request.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            request.extend_from_slice(piece);
            request.extend_from_slice(b"\r\n");
        }
        stream.write_all(&request).unwrap();
        let response = read_response(&mut BufReader::new(&mut stream)).unwrap();
        assert_eq!(
            response.status,
            413,
            "chunked {endpoint}: {}",
            response.text()
        );
        drop(stream);
        server.assert_alive();
    }
    // Just under the bound is fine, and nothing of the refused bodies was stored.
    let mut lines = String::new();
    let mut rows = 0;
    while lines.len() < 4000 {
        rows += 1;
        lines.push_str(&format!("big,symbol=A x={rows}i {rows}\n"));
    }
    let response = server.post("/write", &[], lines.as_bytes());
    assert_eq!(response.status, 204, "{}", response.text());
    assert_eq!(server.count("big"), rows);
    assert_eq!(server.count("trades"), 0);
}

/// What most clients do: send the whole oversized body with its Content-Length (or finish the
/// chunked body) and only then read. The server answers 413 and drains the rest before closing
/// (`Connection::linger`; its byte count underflowed and panicked the core at commit c53473d).
#[test]
fn an_oversized_body_sent_whole_gets_413_and_the_server_survives() {
    let server = Server::start(&["--max-body-bytes", "4096"]);
    for (endpoint, body) in oversized_bodies() {
        let response = server
            .try_request("POST", &endpoint, &[], &body)
            .unwrap_or_else(|| panic!("no answer from {endpoint}; log:\n{}", server.log()));
        assert_eq!(response.status, 413, "{endpoint}: {}", response.text());
        server.assert_alive();
        // Chunked, finished with its terminator after the answer was sent.
        let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut request =
            format!("POST {endpoint} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").into_bytes();
        for piece in body[..5000].chunks(1000) {
            request.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            request.extend_from_slice(piece);
            request.extend_from_slice(b"\r\n");
        }
        stream.write_all(&request).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let response = read_response(&mut reader).unwrap();
        assert_eq!(
            response.status,
            413,
            "chunked {endpoint}: {}",
            response.text()
        );
        let _ = stream.write_all(b"0\r\n\r\n");
        std::thread::sleep(Duration::from_millis(50));
        drop(stream);
        server.assert_alive();
    }
}

#[test]
fn empty_bodies_are_204_and_write_nothing() {
    let server = Server::start(&[]);
    let endpoints: Vec<&str> = LINE_PROTOCOL_ENDPOINTS
        .iter()
        .copied()
        .chain([MSGPACK, JSON])
        .collect();
    for endpoint in &endpoints {
        assert_eq!(server.post(endpoint, &[], b"").status, 204, "{endpoint}");
        // Empty after decompression is empty too.
        let response = server.post(endpoint, &[("Content-Encoding", "gzip")], &gzip(b""));
        assert_eq!(response.status, 204, "{endpoint}: {}", response.text());
    }
    for endpoint in LINE_PROTOCOL_ENDPOINTS {
        // Only blank lines and comments: nothing to write, nothing wrong.
        let response = server.post(endpoint, &[], b"\n\n# just a comment\r\n   \n");
        assert_eq!(response.status, 204, "{endpoint}: {}", response.text());
    }
    let stats = server.stats();
    assert_eq!(stats["ticks_ingested"], 0, "{stats}");
    assert_eq!(stats["ticks_rejected"], 0, "{stats}");
}

#[test]
fn gzip_bodies_are_decoded_and_broken_gzip_is_400() {
    let server = Server::start(&[]);
    for (i, endpoint) in LINE_PROTOCOL_ENDPOINTS.iter().enumerate() {
        let table = format!("gz{i}");
        let body = format!("{table},symbol=A x=1i 1\n{table},symbol=B x=2i 2\n");
        let response = server.post(
            endpoint,
            &[("Content-Encoding", "gzip")],
            &gzip(body.as_bytes()),
        );
        assert_eq!(response.status, 204, "{endpoint}: {}", response.text());
        assert_eq!(server.count(&table), 2, "{endpoint}");
    }
    let body = Mp::Array(vec![mp_row("gz_mp", 1, "h", ("x", Mp::Int(1)))]);
    let response = server.post(
        MSGPACK,
        &[MSGPACK_TYPE, ("Content-Encoding", "gzip")],
        &gzip(&body.bytes()),
    );
    assert_eq!(response.status, 204, "{}", response.text());
    assert_eq!(server.count("gz_mp"), 1);
    let body = json!({"table": "trades", "rows": [{"timestamp": 1, "symbol": "A", "price": 1.5, "volume": 1}]});
    let response = server.post(
        JSON,
        &[("Content-Encoding", "gzip")],
        &gzip(body.to_string().as_bytes()),
    );
    assert_eq!(response.status, 204, "{}", response.text());
    assert_eq!(server.count("trades"), 1);

    // Broken gzip: not gzip at all, truncated, a corrupted deflate stream, an unknown coding.
    let valid = gzip("gzbad,symbol=A x=1i 1\n".repeat(50).as_bytes());
    let mut corrupted = valid.clone();
    let middle = corrupted.len() / 2;
    corrupted[middle] ^= 0xff;
    corrupted[middle + 1] ^= 0x55;
    let endpoints: Vec<&str> = LINE_PROTOCOL_ENDPOINTS
        .iter()
        .copied()
        .chain([MSGPACK, JSON])
        .collect();
    for endpoint in &endpoints {
        for (what, body) in [
            ("not gzip", b"definitely not gzip".to_vec()),
            ("truncated", valid[..valid.len() / 2].to_vec()),
            ("corrupted", corrupted.clone()),
        ] {
            let response = server.post(endpoint, &[("Content-Encoding", "gzip")], &body);
            assert_eq!(
                response.status,
                400,
                "{endpoint}, {what}: {}",
                response.text()
            );
            assert_refused(&response, 400, "gzip");
        }
        // HTTP.md names no status for an unknown coding; RFC 9110 says 415, Ronto answers 400.
        let response = server.post(endpoint, &[("Content-Encoding", "br")], b"abc");
        assert!(
            matches!(response.status, 400 | 415),
            "{endpoint}: {}",
            response.text()
        );
    }
    assert_eq!(server.count("trades"), 1);
    let tables =
        server.rows("SELECT name FROM system.tables WHERE name = 'gzbad' FORMAT JSONEachRow");
    assert!(tables.is_empty(), "{tables:?}");
}

#[test]
fn stats_count_ingested_and_rejected_rows() {
    let server = Server::start(&[]);
    let response = server.post(
        "/write",
        &[],
        b"st,symbol=A x=1i 1\nst,symbol=B x=2i 2\nst,symbol=C x=oops 3",
    );
    assert_partial(&response, 2, 1, &["line 3"]);
    let body = Mp::Array(vec![
        mp_row("st", 4, "h", ("x", Mp::Int(4))),
        mp_row("st", 5, "h", ("x", Mp::Str("bad"))),
    ]);
    assert_partial(
        &server.post(MSGPACK, &[MSGPACK_TYPE], &body.bytes()),
        1,
        1,
        &["item 1"],
    );
    let body = json!({"table": "trades", "rows": [
        {"timestamp": 1, "symbol": "A", "price": 1.5, "volume": 1},
        {"timestamp": 2, "symbol": "B", "price": 1.5, "volume": 1},
        {"timestamp": 3, "symbol": "C", "price": "x", "volume": 1},
    ]});
    assert_partial(
        &server.post(JSON, &[], body.to_string().as_bytes()),
        2,
        1,
        &["row 2"],
    );
    let stats = server.stats();
    assert_eq!(stats["ticks_ingested"], 5, "{stats}");
    assert_eq!(stats["ticks_rejected"], 3, "{stats}");
    assert_eq!(stats["ticks_stored"], 5, "{stats}");
    let shards = stats["shards"].as_array().unwrap();
    let per_shard: u64 = shards
        .iter()
        .map(|s| s["ticks_stored"].as_u64().unwrap())
        .sum();
    assert_eq!(per_shard, 5, "{stats}");
}

/// `INSERT ... FORMAT` over POST /: a good body is stored; a bad one is refused whole (as
/// ClickHouse does: an INSERT's block is all or nothing) with the line and column.
#[test]
fn insert_format_refuses_bad_bodies_whole() {
    let server = Server::start(&[]);
    let insert = |format: &str, body: &[u8]| {
        server.post(
            &format!("/?query=INSERT%20INTO%20trades%20FORMAT%20{format}"),
            &[],
            body,
        )
    };
    let error = |response: &Response| -> String {
        response.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let response = insert("CSV", b"1,A,1.5,10\n2,B,2.5,20\n");
    assert_eq!(response.status, 200, "{}", response.text());
    let response = insert("CSV", b"3,C,3.5,30\n4,D,notanumber,40\n");
    assert_eq!(response.status, 400, "{}", response.text());
    assert!(
        error(&response).contains("line 2, column 'price'"),
        "{}",
        response.text()
    );
    let response = insert("CSV", b"5,E,3.5\n");
    assert_eq!(response.status, 400, "{}", response.text());
    assert!(error(&response).contains("line 1"), "{}", response.text());
    let response = insert("JSONEachRow", b"{\"timestamp\":6,\"symbol\":\"F\",\"price\":1,\"volume\":1}\n{\"timestamp\":7,\"symbol\":\"G\",\"price\":\"x\",\"volume\":1}\n");
    assert_eq!(response.status, 400, "{}", response.text());
    assert!(
        error(&response).contains("line 2, column 'price'"),
        "{}",
        response.text()
    );
    for (format, body) in [
        ("RowBinary", &b"\x01\x02\x03"[..]),
        ("Native", &b"\x04\x02\x01"[..]),
    ] {
        let response = insert(format, body);
        assert_eq!(response.status, 400, "{format}: {}", response.text());
        assert!(
            error(&response).starts_with("byte "),
            "{format}: {}",
            response.text()
        );
    }
    let response = server.post(
        "/?query=INSERT%20INTO%20nope%20FORMAT%20CSV",
        &[],
        b"1,A,1.5,10\n",
    );
    assert_eq!(response.status, 404, "{}", response.text());
    // An empty body inserts nothing and succeeds.
    assert_eq!(insert("CSV", b"").status, 200);
    // gzip works, broken gzip is 400.
    let response = server.post(
        "/?query=INSERT%20INTO%20trades%20FORMAT%20CSV",
        &[("Content-Encoding", "gzip")],
        &gzip(b"8,H,8.5,80\n"),
    );
    assert_eq!(response.status, 200, "{}", response.text());
    let response = server.post(
        "/?query=INSERT%20INTO%20trades%20FORMAT%20CSV",
        &[("Content-Encoding", "gzip")],
        b"not gzip",
    );
    assert_eq!(response.status, 400, "{}", response.text());
    assert_eq!(
        server.rows(
            "SELECT toInt64(timestamp) AS ts, symbol FROM trades ORDER BY ts FORMAT JSONEachRow"
        ),
        vec![
            json!({"ts": 1, "symbol": "A"}),
            json!({"ts": 2, "symbol": "B"}),
            json!({"ts": 8, "symbol": "H"})
        ]
    );
}

/// Invalid UTF-8 in a symbol of an INSERT body is refused with a message that says so and
/// names the line, for CSV, TabSeparated and JSONEachRow alike.
#[test]
fn insert_format_names_invalid_utf8_and_its_line() {
    let server = Server::start(&[]);
    for (format, body) in [
        ("CSV", &b"1,A,1.5,1\n2,\xff\xfe,1.5,1\n"[..]),
        ("TabSeparated", &b"1\tA\t1.5\t1\n2\t\xff\xfe\t1.5\t1\n"[..]),
        ("JSONEachRow", &b"{\"timestamp\":1,\"symbol\":\"A\",\"price\":1,\"volume\":1}\n{\"timestamp\":2,\"symbol\":\"\xff\",\"price\":1,\"volume\":1}\n"[..]),
    ] {
        let response = server.post(&format!("/?query=INSERT%20INTO%20trades%20FORMAT%20{format}"), &[], body);
        assert_eq!(response.status, 400, "{format}: {}", response.text());
        let error = response.json()["error"].as_str().unwrap_or_default().to_lowercase();
        assert!(error.contains("utf-8") && error.contains("line 2"), "{format}: {error}");
    }
}

/// Seeded random damage to valid bodies: every answer is a 2xx or 4xx, never a 5xx, and the
/// server keeps serving.
#[test]
fn random_garbage_never_gets_a_5xx() {
    let seed = std::env::var("RONTO_GARBAGE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("garbage seed {seed} (RONTO_GARBAGE_SEED={seed} replays it)");
    let mut rng = SmallRng::seed_from_u64(seed);
    let server = Server::start(&[]);
    let line_protocol =
        b"g,symbol=A,host=h\\ 1 x=1i,y=2.5,s=\"a \\\"b\\\"\",b=t,u=3u 1700000000000000000\n\
                          g,symbol=B x=-4i,y=1e9 1700000000000000001\n# c\n"
            .to_vec();
    let msgpack = Mp::Map(vec![(
        "batch",
        Mp::Array(vec![
            mp_row("g_mp", 1_700_000_000_000, "h1", ("usage", Mp::Float(1.5))),
            Mp::Map(vec![
                ("m", Mp::Str("g_mp")),
                (
                    "columns",
                    Mp::Map(vec![
                        ("time", Mp::Array(vec![Mp::Int(1)])),
                        ("usage", Mp::Array(vec![Mp::Float(2.5)])),
                    ]),
                ),
            ]),
        ]),
    )])
    .bytes();
    let json = json!({"table": "trades", "rows": [{"timestamp": 1, "symbol": "A", "price": 1.5, "volume": 1}]})
        .to_string()
        .into_bytes();
    let cases: [(&str, &[u8]); 3] = [
        ("/write", &line_protocol),
        (MSGPACK, &msgpack),
        (JSON, &json),
    ];
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut statuses = std::collections::BTreeMap::<u16, u32>::new();
    for i in 0..600 {
        let (endpoint, valid) = cases[i % cases.len()];
        let mut body = valid.to_vec();
        for _ in 0..rng.gen_range(1..8) {
            let at = rng.gen_range(0..body.len());
            match rng.gen_range(0..4) {
                0 => body[at] = rng.gen(),
                1 => {
                    body.remove(at);
                }
                2 => {
                    let specials = b"\"\\,= \n{}[]\x00\xff\xc1";
                    body.insert(at, specials[rng.gen_range(0..specials.len())]);
                }
                _ => body.truncate(at.max(1)),
            }
            if body.is_empty() {
                body.push(b'x');
            }
        }
        let mut request = format!(
            "POST {endpoint} HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(&body);
        stream.write_all(&request).unwrap();
        let response = read_response(&mut reader).unwrap_or_else(|e| {
            panic!(
                "seed {seed} case {i}: no answer ({e}) to {endpoint} {:?}; log:\n{}",
                String::from_utf8_lossy(&body),
                server.log()
            )
        });
        assert!(
            response.status < 500,
            "seed {seed} case {i}: {endpoint} {:?} got {} {}",
            String::from_utf8_lossy(&body),
            response.status,
            response.text()
        );
        *statuses.entry(response.status).or_default() += 1;
    }
    println!("statuses: {statuses:?}");
    server.assert_alive();
}

/// A table sharded by an integer symbol takes line protocol: the `symbol` tag is parsed as the
/// integer (ZeptoDB's `WHERE symbol = 1` tables); a tag that is not one rejects its line.
#[test]
fn line_protocol_into_an_integer_symbol_table() {
    let server = Server::start(&[]);
    let created = server.post(
        "/",
        &[],
        b"CREATE TABLE iticks (timestamp DateTime64(9), symbol Int64, price Nullable(Float64))",
    );
    assert_eq!(created.status, 200, "{}", created.text());
    let ok = server.post(
        "/write",
        &[],
        b"iticks,symbol=1 price=1.5 10\niticks,symbol=-2 price=2.5 20\n",
    );
    assert_eq!(ok.status, 204, "{}", ok.text());
    let response = server.post(
        "/write",
        &[],
        b"iticks,symbol=1 price=3.5 30\niticks,symbol=AAPL price=4.5 40\n",
    );
    assert_partial(&response, 1, 1, &["line 2"]);
    let rows = server.rows(
        "SELECT symbol, price, toInt64(timestamp) AS ts FROM iticks ORDER BY ts FORMAT JSONEachRow",
    );
    let got: Vec<(i64, f64, i64)> = rows
        .iter()
        .map(|r| {
            let int = |v: &Value| v.as_i64().or_else(|| v.as_str()?.parse().ok()).unwrap();
            (
                int(&r["symbol"]),
                r["price"].as_f64().unwrap(),
                int(&r["ts"]),
            )
        })
        .collect();
    assert_eq!(got, vec![(1, 1.5, 10), (-2, 2.5, 20), (1, 3.5, 30)]);
    let one = server.rows("SELECT count() AS n FROM iticks WHERE symbol = 1 FORMAT JSONEachRow");
    assert_eq!(
        one[0]["n"]
            .as_str()
            .map_or_else(|| one[0]["n"].as_u64().unwrap(), |s| s.parse().unwrap()),
        2
    );
}

/// `--ilp-port`: line protocol over raw TCP, unacknowledged. Lines split across writes and a last
/// line without a newline are stored; bad lines are counted as rejected, not stored.
#[test]
fn line_protocol_over_raw_tcp() {
    let ilp_port = free_port();
    let server = Server::start(&["--ilp-port", &ilp_port.to_string()]);
    let mut stream = TcpStream::connect(("127.0.0.1", ilp_port)).unwrap();
    stream
        .write_all(b"ilp,symbol=A price=1.5,qty=10i 1\nilp,sym")
        .unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    stream
        .write_all(b"bol=B price=2.5,qty=20i 2\nilp,symbol=C price=oops 3\nilp,symbol=A price=3.5,qty=30i 4")
        .unwrap();
    drop(stream);
    // Nothing is acknowledged: wait (bounded) until the rows show up.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let exists = server.rows("EXISTS TABLE ilp FORMAT JSONEachRow");
        if exists[0]["result"].as_u64() == Some(1) && server.count("ilp") == 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let rows = server.rows(
        "SELECT symbol, price, qty, toInt64(timestamp) AS ts FROM ilp ORDER BY ts FORMAT JSONEachRow",
    );
    let got: Vec<(String, f64, i64)> = rows
        .iter()
        .map(|r| {
            let int = |v: &Value| v.as_i64().or_else(|| v.as_str()?.parse().ok()).unwrap();
            (
                r["symbol"].as_str().unwrap().to_string(),
                r["price"].as_f64().unwrap(),
                int(&r["qty"]),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("A".to_string(), 1.5, 10),
            ("B".to_string(), 2.5, 20),
            ("A".to_string(), 3.5, 30)
        ]
    );
    let stats = server.try_request("GET", "/stats", &[], b"").unwrap();
    assert_eq!(stats.json()["ticks_rejected"], 1, "{}", stats.text());
    // Combined with users it is refused: raw TCP has no authentication.
    let refused = Command::new(env!("CARGO_BIN_EXE_ronto"))
        .args(["serve", "--ilp-port", "1", "--user", "a:b"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no authentication"));
}
