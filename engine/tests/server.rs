//! End-to-end tests of the real `ronto` binary over raw loopback HTTP.
//!
//! Health routes, keep-alive and pipelining, 100-continue, every bound's status, and clean
//! shutdown on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A `ronto serve` child on its own port and data directory; killed on drop.
struct Server {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        Server::start_with_env(args, &[])
    }

    fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let data_dir = dir.path().join("data");
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_ronto"));
        command
            .arg("serve")
            .arg("--data-dir")
            .arg(&data_dir)
            .args([
                "--http-port",
                &port.to_string(),
                "--cores",
                "2",
                "--log-level",
                "debug",
            ])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().unwrap();
        let mut server = Server { child, port, dir };
        server.wait_ready();
        server
    }

    /// Polls `/ping` (the process listens), then `/ready` (every core serves), both bounded.
    fn wait_ready(&mut self) {
        for path in ["/ping", "/ready"] {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Some(status) = self.child.try_wait().unwrap() {
                    panic!("server exited early with {status}; log:\n{}", self.log());
                }
                if self.probe(path) == Some(200) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "no 200 from {path} in time; log:\n{}",
                    self.log()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    fn probe(&self, path: &str) -> Option<u16> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        stream
            .write_all(format!("GET {path} HTTP/1.1\r\nConnection: close\r\n\r\n").as_bytes())
            .ok()?;
        read_response(&mut BufReader::new(&mut stream))
            .ok()
            .map(|response| response.status)
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    }

    fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0);
    }

    /// Waits (bounded) for the process to exit.
    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("server did not exit; log:\n{}", self.log());
    }

    fn signal_and_wait(&mut self, signal: i32) -> ExitStatus {
        self.signal(signal);
        self.wait_exit()
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
}

/// Reads one response (Content-Length or chunked body) from `reader`.
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
        let (name, value) = trimmed.split_once(':').unwrap();
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if (100..200).contains(&status) {
        return Ok(response);
    }
    if let Some(length) = response.header("content-length") {
        let mut body = vec![0; length.parse().unwrap()];
        reader.read_exact(&mut body)?;
        response.body = body;
    } else if response.header("transfer-encoding") == Some("chunked") {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim_end(), 16).unwrap();
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            response.body.extend_from_slice(&chunk[..size]);
        }
    }
    Ok(response)
}

/// Sends `request` on a fresh connection and reads one response.
fn roundtrip(server: &Server, request: &[u8]) -> Response {
    let mut stream = server.connect();
    stream.write_all(request).unwrap();
    read_response(&mut BufReader::new(&mut stream)).unwrap()
}

/// Reads until the server closes the connection (bounded by the read timeout).
fn assert_closed(reader: &mut impl Read) {
    let mut rest = Vec::new();
    match reader.read_to_end(&mut rest) {
        Ok(_) => assert!(
            rest.is_empty(),
            "unexpected bytes after close: {:?}",
            String::from_utf8_lossy(&rest)
        ),
        Err(error) => assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset, "{error}"),
    }
}

#[test]
fn health_routes_answer_like_clickhouse() {
    let server = Server::start(&[]);
    for path in ["/ping", "/", "/replicas_status"] {
        let response = roundtrip(
            &server,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        );
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(response.text(), "Ok.\n", "{path}");
        assert!(response
            .header("x-request-id")
            .is_some_and(|id| !id.is_empty()));
    }
    let health = roundtrip(&server, b"GET /health HTTP/1.1\r\n\r\n");
    assert_eq!(health.status, 200);
    let health: serde_json::Value = serde_json::from_slice(&health.body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["cores"], 2);
    assert!(health["uptime_ms"].is_u64());
    let ready = roundtrip(&server, b"GET /ready HTTP/1.1\r\n\r\n");
    assert_eq!(ready.status, 200);
    assert_eq!(
        roundtrip(&server, b"GET /nope HTTP/1.1\r\n\r\n").status,
        404
    );
    assert_eq!(
        roundtrip(&server, b"DELETE /ping HTTP/1.1\r\n\r\n").status,
        405
    );

    // Queries: curl-style clients get Ronto's JSON shape.
    let query = roundtrip(
        &server,
        b"POST / HTTP/1.1\r\nContent-Length: 8\r\n\r\nSELECT 1",
    );
    assert_eq!(query.status, 200, "{}", query.text());
    assert!(query.text().contains("\"data\":[[1]]"), "{}", query.text());
    let query = roundtrip(&server, b"GET /?query=SELECT%201 HTTP/1.1\r\n\r\n");
    assert_eq!(query.status, 200);
    // A syntax error from a ClickHouse client is ClickHouse's error text and code.
    let query = roundtrip(
        &server,
        b"POST / HTTP/1.1\r\nX-ClickHouse-User: default\r\nContent-Length: 7\r\n\r\nSELEC 1",
    );
    assert_eq!(query.status, 400);
    assert!(
        query.text().starts_with("Code: 62. DB::Exception: "),
        "{}",
        query.text()
    );
    assert_eq!(query.header("x-clickhouse-exception-code"), Some("62"));
    // A POST without framing is 411, as ClickHouse answers.
    assert_eq!(roundtrip(&server, b"POST / HTTP/1.1\r\n\r\n").status, 411);
    // HEAD gets the length and no body.
    let mut stream = server.connect();
    stream
        .write_all(b"HEAD /ping HTTP/1.1\r\n\r\nGET /ping HTTP/1.1\r\n\r\n")
        .unwrap();
    let mut reader = BufReader::new(&mut stream);
    let mut line = String::new();
    let mut head_lines = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        head_lines.push(line.clone());
    }
    assert!(head_lines[0].starts_with("HTTP/1.1 200"));
    assert!(head_lines
        .iter()
        .any(|l| l.eq_ignore_ascii_case("content-length: 4\r\n")));
    let next = read_response(&mut reader).unwrap();
    assert_eq!((next.status, next.text().as_str()), (200, "Ok.\n"));
}

#[test]
fn keep_alive_carries_pipelined_requests() {
    let server = Server::start(&[]);
    let mut stream = server.connect();
    stream
        .write_all(b"GET /ping HTTP/1.1\r\nHost: a\r\n\r\nGET /replicas_status HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let first = read_response(&mut reader).unwrap();
    let second = read_response(&mut reader).unwrap();
    assert_eq!((first.status, second.status), (200, 200));
    assert_eq!(first.header("connection"), Some("keep-alive"));
    let (first_id, second_id) = (
        first.header("x-request-id").unwrap(),
        second.header("x-request-id").unwrap(),
    );
    assert_ne!(first_id, second_id);
    // The same connection serves a third request, then honours Connection: close.
    stream
        .write_all(b"GET /ping HTTP/1.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let third = read_response(&mut reader).unwrap();
    assert_eq!(third.status, 200);
    assert_eq!(third.header("connection"), Some("close"));
    assert_closed(&mut reader);
}

#[test]
fn expect_continue_gets_100_before_the_body() {
    let server = Server::start(&[]);
    let mut stream = server.connect();
    stream
        .write_all(b"POST / HTTP/1.1\r\nContent-Length: 8\r\nExpect: 100-continue\r\n\r\n")
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let interim = read_response(&mut reader).unwrap();
    assert_eq!(interim.status, 100);
    stream.write_all(b"SELECT 1").unwrap();
    let last = read_response(&mut reader).unwrap();
    assert_eq!(last.status, 200);
    // A chunked body works too.
    stream
        .write_all(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nSELE\r\n4\r\nCT 1\r\n0\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut reader).unwrap().status, 200);
}

#[test]
fn bounds_get_their_statuses_and_the_server_stays_up() {
    let server = Server::start(&["--max-body-bytes", "1000", "--max-header-bytes", "1024"]);

    // Declared body too large: 413 before reading it, then close.
    let mut stream = server.connect();
    stream
        .write_all(b"POST / HTTP/1.1\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n")
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let response = read_response(&mut reader).unwrap();
    assert_eq!(response.status, 413);
    assert!(response.header("x-request-id").is_some());
    assert_eq!(response.header("connection"), Some("close"));
    assert_closed(&mut reader);

    // Chunked body that grows too large.
    let mut request = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..3 {
        request.extend_from_slice(b"200\r\n");
        request.extend_from_slice(&[b'x'; 512]);
        request.extend_from_slice(b"\r\n");
    }
    assert_eq!(roundtrip(&server, &request).status, 413);

    // Malformed request line.
    let mut stream = server.connect();
    stream.write_all(b"GARBAGE\r\n\r\n").unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let response = read_response(&mut reader).unwrap();
    assert_eq!(response.status, 400);
    assert!(
        response.text().starts_with("Bad Request: "),
        "{}",
        response.text()
    );
    assert!(response.header("x-request-id").is_some());
    assert_closed(&mut reader);

    // Head too large.
    let big = format!("GET /ping HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(2000));
    let response = roundtrip(&server, big.as_bytes());
    assert_eq!(response.status, 431);
    assert!(response.header("x-request-id").is_some());

    // Bad percent-encoding in the query string.
    assert_eq!(
        roundtrip(&server, b"GET /?query=%zz HTTP/1.1\r\n\r\n").status,
        400
    );

    // Still serving.
    assert_eq!(
        roundtrip(&server, b"GET /ping HTTP/1.1\r\n\r\n").status,
        200
    );
}

#[test]
fn slow_and_idle_connections_are_timed_out() {
    let server = Server::start(&["--request-timeout-ms", "300", "--idle-timeout-ms", "300"]);
    // A head that never completes: 408, then close.
    let mut stream = server.connect();
    stream
        .write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let response = read_response(&mut reader).unwrap();
    assert_eq!(response.status, 408);
    assert_closed(&mut reader);
    // An idle keep-alive connection is closed without an answer.
    let mut stream = server.connect();
    stream.write_all(b"GET /ping HTTP/1.1\r\n\r\n").unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    assert_eq!(read_response(&mut reader).unwrap().status, 200);
    assert_closed(&mut reader);
}

#[test]
fn connections_over_the_per_core_limit_get_503() {
    let server = Server::start(&["--cores", "1", "--max-connections-per-core", "1"]);
    // The readiness probe's connection may still be closing: retry (bounded) until one is held.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (held, mut held_reader) = loop {
        let mut held = server.connect();
        held.write_all(b"GET /ping HTTP/1.1\r\n\r\n").unwrap();
        let mut held_reader = BufReader::new(held.try_clone().unwrap());
        if read_response(&mut held_reader).unwrap().status == 200 {
            break (held, held_reader);
        }
        assert!(Instant::now() < deadline, "no connection slot ever freed");
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut refused = server.connect();
    let mut reader = BufReader::new(refused.try_clone().unwrap());
    let response = read_response(&mut reader).unwrap();
    assert_eq!(response.status, 503);
    assert_eq!(response.header("retry-after"), Some("1"));
    assert!(response.header("x-request-id").is_some());
    let _ = refused.write_all(b"GET /ping HTTP/1.1\r\n\r\n");
    let _ = held_reader.get_mut();
    drop(held_reader);
    drop(held);
    // Once the held connection is gone a new one is served (bounded retry: the close is async).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = roundtrip(&server, b"GET /ping HTTP/1.1\r\n\r\n");
        if response.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "connection slot never freed");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn large_bodies_are_read_whole_and_the_connection_reused() {
    let server = Server::start(&[]);
    let mut stream = server.connect();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let body = vec![b'x'; 3 << 20];
    stream
        .write_all(format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes())
        .unwrap();
    stream.write_all(&body).unwrap();
    // Not SQL, so a syntax error; what matters is that the body was read whole.
    assert_eq!(read_response(&mut reader).unwrap().status, 400);
    let mut chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..64 {
        chunked.extend_from_slice(b"4000\r\n");
        chunked.extend_from_slice(&[b'y'; 0x4000]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\nGET /ping HTTP/1.1\r\n\r\n");
    stream.write_all(&chunked).unwrap();
    assert_eq!(read_response(&mut reader).unwrap().status, 400);
    assert_eq!(read_response(&mut reader).unwrap().status, 200);
}

#[test]
fn sigterm_finishes_requests_in_flight() {
    let mut server = Server::start(&[]);
    let mut stream = server.connect();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    // One write: a whole request, then the head and half the body of the next one.
    stream
        .write_all(b"GET /ping HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 8\r\n\r\nSELE")
        .unwrap();
    assert_eq!(read_response(&mut reader).unwrap().status, 200);
    server.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(50));
    stream.write_all(b"CT 1").unwrap();
    // Answered (with `Connection: close` once the server has seen the signal), then closed.
    assert_eq!(read_response(&mut reader).unwrap().status, 200);
    assert_closed(&mut reader);
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "log:\n{}", server.log());
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let mut server = Server::start(&[]);
    // An idle keep-alive connection must not hold shutdown up.
    let mut idle = server.connect();
    idle.write_all(b"GET /ping HTTP/1.1\r\n\r\n").unwrap();
    let mut idle_reader = BufReader::new(idle.try_clone().unwrap());
    assert_eq!(read_response(&mut idle_reader).unwrap().status, 200);
    let status = server.signal_and_wait(libc::SIGTERM);
    assert_eq!(status.code(), Some(0), "log:\n{}", server.log());
    assert_closed(&mut idle_reader);
    let log = server.log();
    assert!(log.contains("shard sealed"), "{log}");
    for shard in 0..2 {
        let dir = server.data_dir().join(format!("shard-{shard}"));
        assert!(dir.join("catalog.json").is_file(), "{}", dir.display());
        assert!(dir.join("blocks.idx").is_file(), "{}", dir.display());
        assert!(dir.join("wal").is_dir(), "{}", dir.display());
    }
    // Log lines are `ts level core=N msg`.
    let line = log
        .lines()
        .find(|line| line.contains("serving on"))
        .unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert!(
        fields[0].ends_with('Z') && fields[0].contains('T'),
        "{line}"
    );
    assert_eq!(fields[1], "INFO");
    assert!(fields[2].starts_with("core="), "{line}");
}

#[test]
fn the_epoll_fallback_serves_too() {
    let mut server = Server::start_with_env(&[], &[("MONOIO_FORCE_LEGACY_DRIVER", "1")]);
    let health = roundtrip(&server, b"GET /health HTTP/1.1\r\n\r\n");
    let health: serde_json::Value = serde_json::from_slice(&health.body).unwrap();
    assert_eq!(health["driver"], "epoll");
    let mut stream = server.connect();
    stream
        .write_all(b"GET /ping HTTP/1.1\r\n\r\nGET /ping HTTP/1.1\r\n\r\n")
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    assert_eq!(read_response(&mut reader).unwrap().status, 200);
    assert_eq!(read_response(&mut reader).unwrap().status, 200);
    assert_eq!(roundtrip(&server, b"GARBAGE\r\n\r\n").status, 400);
    let status = server.signal_and_wait(libc::SIGINT);
    assert_eq!(status.code(), Some(0), "log:\n{}", server.log());
}

#[test]
fn the_command_line_reports_usage_errors() {
    let output = Command::new(env!("CARGO_BIN_EXE_ronto"))
        .args(["serve", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown flag --no-such-flag"), "{stderr}");

    let output = Command::new(env!("CARGO_BIN_EXE_ronto"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("ronto "));

    let output = Command::new(env!("CARGO_BIN_EXE_ronto"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains("--data-dir"));

    // A data directory that cannot be created: exit 1 with the reason.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, b"not a directory").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ronto"))
        .args([
            "serve",
            "--http-port",
            &free_port().to_string(),
            "--data-dir",
        ])
        .arg(Path::new(&file).join("data"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("data directory"));
}
