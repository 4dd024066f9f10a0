//! Real server processes for the HTTP suites (`ronto serve`, `ronto-ping-baseline`): find, start on a free loopback port, stop; plus a minimal keep-alive HTTP/1.1 client.
//!
//! Every server gets its own free port (bind 127.0.0.1:0, read the port, close) and, for
//! Ronto, its own scratch data directory. [`ServerProcess`] stops its child on drop (SIGTERM,
//! a bounded wait, then SIGKILL), so a failing suite never leaves a server behind.
//!
//! The client ([`Client`]) speaks just enough HTTP/1.1 for benchmarks: requests are
//! pre-encoded bytes ([`get`], [`post`]), responses are framed by `Content-Length` or chunked
//! encoding, and the connection is kept alive. Nothing here is timed by itself: callers time
//! around [`Client::request`].

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::sys::ScratchDir;
use crate::{BenchError, IoAt};

/// How long a server may take from spawn to answering `/ping`.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a server may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest response head the client accepts.
const HEAD_BYTES_MAX: usize = 64 << 10;

/// `$RONTO_BIN`, else `ronto` beside the running executable (the same target profile
/// directory); an error that says how to build it otherwise.
pub fn ronto_binary() -> Result<PathBuf, BenchError> {
    sibling_binary(
        "RONTO_BIN",
        "ronto",
        "cargo build --release -p engine --bin ronto (or --profile smoke for the CI smoke run)",
    )
}

/// `$RONTO_PING_BASELINE_BIN`, else `ronto-ping-baseline` beside the running executable.
pub fn baseline_binary() -> Result<PathBuf, BenchError> {
    sibling_binary(
        "RONTO_PING_BASELINE_BIN",
        "ronto-ping-baseline",
        "cargo build --release -p bench --bins (or --profile smoke for the CI smoke run)",
    )
}

fn sibling_binary(env: &str, name: &str, build: &str) -> Result<PathBuf, BenchError> {
    if let Some(p) = std::env::var_os(env) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(BenchError::Check(format!(
                "${env} is {}, which is not a file",
                p.display()
            )))
        };
    }
    let exe = std::env::current_exe().at("current executable")?;
    let dir = exe.parent().unwrap_or(Path::new("."));
    let p = dir.join(name);
    if p.is_file() {
        Ok(p)
    } else {
        Err(BenchError::Check(format!(
            "the {name} binary is not at {} (set ${env}, or build it: {build})",
            p.display()
        )))
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> Result<u16, BenchError> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).at("127.0.0.1:0")?;
    Ok(l.local_addr().at("127.0.0.1:0")?.port())
}

/// How to start `ronto serve`.
#[derive(Debug, Clone)]
pub struct RontoOptions {
    pub cores: usize,
    /// `always`, `batch`, `batch(Nms)` or `never`.
    pub fsync: String,
    /// More `--flag value` pairs.
    pub extra: Vec<String>,
}

/// A running server process, stopped when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    /// "ronto" or "ronto-ping-baseline", for messages.
    name: String,
    child: Option<Child>,
    port: u16,
    log: PathBuf,
    /// Declared last: removed only after the child is stopped.
    _dir: ScratchDir,
}

impl ServerProcess {
    /// Starts `ronto serve` on a free port with a fresh data directory under `scratch_root`,
    /// and waits until it answers `/ping`.
    pub fn ronto(scratch_root: &Path, opts: &RontoOptions) -> Result<ServerProcess, BenchError> {
        let bin = ronto_binary()?;
        let dir = ScratchDir::new(scratch_root, "server")?;
        let port = free_port()?;
        let data = dir.path().join("data");
        let mut args: Vec<String> = vec![
            "serve".into(),
            "--http-port".into(),
            port.to_string(),
            "--data-dir".into(),
            data.to_string_lossy().into_owned(),
            "--cores".into(),
            opts.cores.to_string(),
            "--fsync".into(),
            opts.fsync.clone(),
            "--log-level".into(),
            "warn".into(),
        ];
        args.extend(opts.extra.iter().cloned());
        ServerProcess::spawn("ronto", &bin, &args, port, dir)
    }

    /// Starts `ronto-ping-baseline --port P --threads N` and waits until it answers `/ping`.
    pub fn baseline(scratch_root: &Path, threads: usize) -> Result<ServerProcess, BenchError> {
        let bin = baseline_binary()?;
        let dir = ScratchDir::new(scratch_root, "baseline")?;
        let port = free_port()?;
        let args = vec![
            "--port".to_string(),
            port.to_string(),
            "--threads".to_string(),
            threads.to_string(),
        ];
        ServerProcess::spawn("ronto-ping-baseline", &bin, &args, port, dir)
    }

    fn spawn(
        name: &str,
        bin: &Path,
        args: &[String],
        port: u16,
        dir: ScratchDir,
    ) -> Result<ServerProcess, BenchError> {
        let log = dir.path().join("server.log");
        let log_file = std::fs::File::create(&log).at(&log)?;
        let log_err = log_file.try_clone().at(&log)?;
        let child = Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .spawn()
            .at(bin)?;
        let mut server = ServerProcess {
            name: name.to_string(),
            child: Some(child),
            port,
            log,
            _dir: dir,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> Result<(), BenchError> {
        let started = Instant::now();
        let ping = get("/ping");
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(BenchError::Check(format!(
                        "{} exited with {status} before answering /ping; its log:\n{}",
                        self.name,
                        self.log_tail()
                    )));
                }
            }
            if let Ok(mut c) = Client::connect(self.port) {
                if let Ok(r) = c.request(&ping) {
                    if r.status == 200 {
                        return Ok(());
                    }
                }
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                return Err(BenchError::Check(format!(
                    "{} did not answer /ping on port {} within {} s; its log:\n{}",
                    self.name,
                    self.port,
                    STARTUP_TIMEOUT.as_secs(),
                    self.log_tail()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The last 40 lines of the server's stdout and stderr.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Stops the server: SIGTERM, wait up to [`STOP_TIMEOUT`], then SIGKILL. Returns whether
    /// it exited by itself after SIGTERM, with its status.
    pub fn stop(&mut self) -> Result<String, BenchError> {
        let Some(mut child) = self.child.take() else {
            return Ok("not running".into());
        };
        if let Ok(Some(status)) = child.try_wait() {
            return Err(BenchError::Check(format!(
                "{} had already exited ({status}); its log:\n{}",
                self.name,
                self.log_tail()
            )));
        }
        let pid = child.id() as libc::pid_t;
        // SAFETY: `kill` has no memory-safety preconditions; `pid` is our own child, which has
        // not been reaped yet (try_wait above returned None), so the id cannot be reused.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let started = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Ok(format!("{status}")),
                Ok(None) if started.elapsed() < STOP_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(BenchError::Check(format!(
                        "{} did not exit within {} s of SIGTERM and was killed",
                        self.name,
                        STOP_TIMEOUT.as_secs()
                    )));
                }
            }
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if self.child.is_some() {
            if let Err(e) = self.stop() {
                eprintln!("warning: stopping {}: {e}", self.name);
            }
        }
    }
}

/// `GET path` as request bytes (HTTP/1.1, keep-alive).
pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes()
}

/// `POST path` with `headers` (each `Name: value`) and `body`, as request bytes.
pub fn post(path: &str, headers: &[&str], body: &[u8]) -> Vec<u8> {
    let mut r = format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for h in headers {
        r.push_str(h);
        r.push_str("\r\n");
    }
    r.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = r.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Percent-encodes a query-string value.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One response: status and de-chunked body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// How a response body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Length(usize),
    Chunked,
}

/// A parsed response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    /// Bytes of the head including the blank line.
    pub len: usize,
    pub framing: Framing,
}

/// Parses a response head at the start of `buf`: `Ok(None)` if it is not complete yet.
pub fn parse_head(buf: &[u8]) -> Result<Option<Head>, String> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() > HEAD_BYTES_MAX {
            return Err(format!("response head over {HEAD_BYTES_MAX} bytes"));
        }
        return Ok(None);
    };
    let text = std::str::from_utf8(&buf[..end]).map_err(|_| "response head is not UTF-8")?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut framing = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let n = value
                .parse()
                .map_err(|_| format!("bad Content-Length {value:?}"))?;
            framing = Some(Framing::Length(n));
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            && value.eq_ignore_ascii_case("chunked")
        {
            framing = Some(Framing::Chunked);
        }
    }
    // 204 and 304 have no body; anything else must say how long it is (we never rely on close).
    let framing = match (status, framing) {
        (204 | 304, _) => Framing::Length(0),
        (_, Some(f)) => f,
        (_, None) => return Err(format!("response {status} has no Content-Length")),
    };
    Ok(Some(Head {
        status,
        len: end + 4,
        framing,
    }))
}

/// Decodes a chunked body at the start of `buf` into `out`: the bytes consumed, or `None`
/// if it is not complete yet.
pub fn dechunk(buf: &[u8], out: &mut Vec<u8>) -> Result<Option<usize>, String> {
    let mut pos = 0;
    out.clear();
    loop {
        let Some(eol) = buf[pos..].windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let size_text = std::str::from_utf8(&buf[pos..pos + eol]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        pos += eol + 2;
        if size == 0 {
            // No trailers are sent by the servers measured here: just the final CRLF.
            if buf.len() < pos + 2 {
                return Ok(None);
            }
            return Ok(Some(pos + 2));
        }
        if buf.len() < pos + size + 2 {
            return Ok(None);
        }
        out.extend_from_slice(&buf[pos..pos + size]);
        pos += size + 2;
    }
}

/// A blocking keep-alive HTTP/1.1 connection.
#[derive(Debug)]
pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Bytes of `buf` that hold received data.
    filled: usize,
}

impl Client {
    pub fn connect(port: u16) -> std::io::Result<Client> {
        let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(120)))?;
        Ok(Client {
            stream,
            buf: vec![0; 64 << 10],
            filled: 0,
        })
    }

    /// Sends one pre-encoded request and reads its response.
    pub fn request(&mut self, request: &[u8]) -> std::io::Result<Response> {
        self.stream.write_all(request)?;
        self.read_response()
    }

    fn fill(&mut self) -> std::io::Result<()> {
        if self.filled == self.buf.len() {
            let n = self.buf.len() * 2;
            self.buf.resize(n, 0);
        }
        let n = self.stream.read(&mut self.buf[self.filled..])?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            ));
        }
        self.filled += n;
        Ok(())
    }

    fn read_response(&mut self) -> std::io::Result<Response> {
        let bad = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        let head = loop {
            if let Some(h) = parse_head(&self.buf[..self.filled]).map_err(bad)? {
                break h;
            }
            self.fill()?;
        };
        let (body, used) = match head.framing {
            Framing::Length(n) => {
                while self.filled < head.len + n {
                    if self.buf.len() < head.len + n {
                        self.buf.resize(head.len + n, 0);
                    }
                    self.fill()?;
                }
                (self.buf[head.len..head.len + n].to_vec(), head.len + n)
            }
            Framing::Chunked => {
                let mut body = Vec::new();
                loop {
                    if let Some(n) =
                        dechunk(&self.buf[head.len..self.filled], &mut body).map_err(bad)?
                    {
                        break (body, head.len + n);
                    }
                    self.fill()?;
                }
            }
        };
        self.buf.copy_within(used..self.filled, 0);
        self.filled -= used;
        Ok(Response {
            status: head.status,
            body,
        })
    }
}

/// Runs `sql` with `POST /` and returns the body as text; any status but 200 is an error.
pub fn query_text(port: u16, sql: &str) -> Result<String, BenchError> {
    let mut c = Client::connect(port).at(format!("127.0.0.1:{port}"))?;
    let r = c
        .request(&post(
            "/",
            &["X-ClickHouse-Format: TabSeparated"],
            sql.as_bytes(),
        ))
        .at(format!("127.0.0.1:{port}"))?;
    if r.status != 200 {
        return Err(BenchError::Check(format!(
            "`{sql}` answered {}: {}",
            r.status,
            r.text().trim_end()
        )));
    }
    Ok(r.text())
}

/// `SELECT count(*) FROM table` over HTTP.
pub fn count_rows(port: u16, table: &str) -> Result<u64, BenchError> {
    let text = query_text(port, &format!("SELECT count(*) FROM {table}"))?;
    text.trim()
        .parse()
        .map_err(|_| BenchError::Check(format!("count(*) of {table} answered {text:?}")))
}

/// Pins the calling thread to the last CPU of the process's affinity set (the load
/// generator's side; servers take the first ones). Returns the CPU, or `None` on one CPU.
pub fn pin_to_last_cpu() -> Option<usize> {
    let cpus = core_affinity::get_core_ids().unwrap_or_default();
    if cpus.len() < 2 {
        return None;
    }
    let cpu = *cpus.last()?;
    core_affinity::set_for_current(cpu).then_some(cpu.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_heads_and_chunks() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nX: y\r\n\r\nOk.\n";
        let h = parse_head(r).unwrap().unwrap();
        assert_eq!((h.status, h.framing), (200, Framing::Length(4)));
        assert_eq!(&r[h.len..], b"Ok.\n");
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Le").unwrap(), None);
        let h = parse_head(b"HTTP/1.1 204 No Content\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.framing, Framing::Length(0));
        assert!(parse_head(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
        let mut out = Vec::new();
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", &mut out).unwrap(),
            Some(20)
        );
        assert_eq!(out, b"abcde");
        assert_eq!(dechunk(b"3\r\nabc\r\n2\r\nd", &mut out).unwrap(), None);
        assert_eq!(url_encode("a b='c'"), "a%20b%3D%27c%27");
    }
}
