//! The HTTP/1.1 connection layer: accept loop, request loop and response writing.
//!
//! Requests are parsed with `net` over bounded reads, with timeouts, keep-alive and pipelining.
//!
//! Bounds and their answers: head over `max_header_bytes` → 431, body over `max_body_bytes` →
//! 413, a request not fully received within `request_timeout_ms` of its first byte → 408,
//! no request for `idle_timeout_ms` → silent close, more than `max_connections_per_core` → 503.
//! After any framing error the connection is answered and closed (its framing is lost).

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};
use monoio::net::{TcpListener, TcpStream};
use net::{BodyDecoder, BodyKind, HeadParser, HeadStatus, Header, RequestHead, Version};

use crate::body::Body;
use crate::ctx::CoreCtx;
use crate::router::{self, Method, Request, Response};
use crate::task::{catch_panic, race, Either};

/// Header slots per request (also `net::Limits::max_headers`).
const MAX_HEADERS: usize = 100;
/// A fresh connection's read buffer.
const READ_BUFFER_BYTES: usize = 8 * 1024;
/// Read when less than this is free.
const READ_MIN_FREE_BYTES: usize = 2 * 1024;
/// Output is written once this much is queued (or when nothing else is pending).
const FLUSH_BYTES: usize = 64 * 1024;
/// Buffers grown past this are replaced between requests, so idle connections stay small.
const SHRINK_ABOVE_BYTES: usize = 256 * 1024;
/// Connections being turned away (503) at once; beyond it they are dropped without an answer.
const MAX_REJECTING: usize = 64;
/// After an error response, read and discard what the client still sends for this long, so the
/// close does not reset the connection before the client read the answer.
const LINGER: Duration = Duration::from_millis(500);
const LINGER_BYTES: usize = 1 << 20;

/// Accepts connections on this core's listener until shutdown, one task per connection.
pub(crate) async fn accept_loop(ctx: CoreCtx, listener: TcpListener) {
    let shutdown = Rc::clone(&ctx.inner().shutdown);
    let max_connections = ctx.config().max_connections_per_core;
    let rejecting = Rc::new(Cell::new(0usize));
    loop {
        let accepted = match race(listener.accept(), shutdown.wait()).await {
            Either::Left(accepted) => accepted,
            Either::Right(()) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // EMFILE and friends: do not spin on a failing accept.
                log::warn!("accept failed: {error}");
                monoio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if ctx.connections() >= max_connections {
            ctx.with_state(|state| state.counters_mut().http_connections_rejected += 1);
            if rejecting.get() < MAX_REJECTING {
                rejecting.set(rejecting.get() + 1);
                let rejecting = Rc::clone(&rejecting);
                let ctx = ctx.clone();
                monoio::spawn(async move {
                    reject(&ctx, stream).await;
                    rejecting.set(rejecting.get() - 1);
                });
            }
            continue;
        }
        let guard = ConnectionGuard::new(&ctx);
        let connection = Connection::new(ctx.clone(), stream, peer);
        monoio::spawn(async move {
            connection.run().await;
            drop(guard);
        });
    }
    log::debug!("stopped accepting");
}

/// Answers 503 to a connection over the per-core limit and closes it.
async fn reject(ctx: &CoreCtx, mut stream: TcpStream) {
    let mut out = Vec::new();
    let request_id = ctx.next_request_id();
    net::write_response(
        &mut out,
        503,
        &[
            ("Content-Type", "text/plain; charset=UTF-8"),
            ("Retry-After", "1"),
            ("X-Request-Id", &request_id),
        ],
        b"too many connections\n",
        false,
    );
    let _ = monoio::time::timeout(Duration::from_secs(1), stream.write_all(out)).await;
    let _ = stream.shutdown().await;
}

/// Counts an open connection for as long as it lives.
struct ConnectionGuard {
    ctx: CoreCtx,
}

impl ConnectionGuard {
    fn new(ctx: &CoreCtx) -> ConnectionGuard {
        let connections = &ctx.inner().connections;
        connections.set(connections.get() + 1);
        ctx.with_state(|state| {
            let counters = state.counters_mut();
            counters.http_connections_accepted += 1;
            counters.http_connections_open += 1;
        });
        ConnectionGuard { ctx: ctx.clone() }
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let connections = &self.ctx.inner().connections;
        connections.set(connections.get() - 1);
        self.ctx
            .with_state(|state| state.counters_mut().http_connections_open -= 1);
    }
}

/// What a read brought.
enum Fill {
    Data,
    Eof,
    TimedOut,
    /// Shutdown began while the connection was idle.
    Shutdown,
    Failed(io::Error),
}

/// Whether the connection carries on after a request.
enum Next {
    KeepAlive,
    Close,
}

/// The owned parts of a request head.
struct Parsed {
    method: Method,
    path: String,
    params: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body_kind: BodyKind,
    keep_alive: bool,
    expect_continue: bool,
    http10: bool,
    length_required: bool,
}

impl Parsed {
    fn from_head(head: &RequestHead<'_, '_>) -> Result<Parsed, net::Error> {
        let params = head
            .query_pairs()
            .map(|pair| pair.map(|(key, value)| (key.into_owned(), value.into_owned())))
            .collect::<Result<Vec<_>, _>>()?;
        let headers = head
            .headers
            .iter()
            .map(|header| {
                (
                    header.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(header.value).into_owned(),
                )
            })
            .collect();
        Ok(Parsed {
            method: Method::from(head.method),
            path: head.path().to_owned(),
            params,
            headers,
            body_kind: head.body,
            keep_alive: head.keep_alive,
            expect_continue: head.expect_continue,
            http10: head.version == Version::Http10,
            length_required: head.require_length().is_err(),
        })
    }
}

struct Connection {
    ctx: CoreCtx,
    stream: TcpStream,
    peer: SocketAddr,
    /// Received bytes; `buf[start..]` is not consumed yet (a partial or pipelined request).
    buf: Vec<u8>,
    start: usize,
    /// Response bytes not written yet.
    out: Vec<u8>,
    limits: net::Limits,
    idle_timeout: Duration,
    request_timeout: Duration,
}

impl Connection {
    fn new(ctx: CoreCtx, stream: TcpStream, peer: SocketAddr) -> Connection {
        let _ = stream.set_nodelay(true);
        let config = ctx.config();
        let limits = net::Limits {
            max_headers: MAX_HEADERS,
            ..config.limits()
        };
        let idle_timeout = Duration::from_millis(config.idle_timeout_ms);
        let request_timeout = Duration::from_millis(config.request_timeout_ms);
        Connection {
            ctx,
            stream,
            peer,
            buf: Vec::with_capacity(READ_BUFFER_BYTES),
            start: 0,
            out: Vec::with_capacity(READ_BUFFER_BYTES),
            limits,
            idle_timeout,
            request_timeout,
        }
    }

    async fn run(mut self) {
        while let Next::KeepAlive = self.serve_one().await {}
        if self.flush().await.is_ok() {
            let _ = self.stream.shutdown().await;
        }
    }

    fn pending(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Reads, parses and answers one request.
    async fn serve_one(&mut self) -> Next {
        let idle_deadline = Instant::now() + self.idle_timeout;
        // When the first byte of this request arrived; the request timeout runs from there.
        let mut started: Option<Instant> = None;
        let mut parser = HeadParser::new();
        let parsed = loop {
            if self.pending() > 0 {
                started.get_or_insert_with(Instant::now);
                let mut headers = [Header::EMPTY; MAX_HEADERS];
                match parser.parse(&self.buf[self.start..], &mut headers, &self.limits) {
                    Ok(HeadStatus::Complete { head, consumed }) => {
                        let parsed = Parsed::from_head(&head);
                        self.start += consumed;
                        match parsed {
                            Ok(parsed) => break parsed,
                            Err(error) => {
                                return self.fail(error.status(), &error.to_string()).await
                            }
                        }
                    }
                    Ok(HeadStatus::Incomplete) => {}
                    Err(error) => return self.fail(error.status(), &error.to_string()).await,
                }
            }
            let (deadline, interruptible) = match started {
                Some(started) => (started + self.request_timeout, false),
                None => (idle_deadline, true),
            };
            match self.fill(deadline, interruptible).await {
                Fill::Data => {}
                Fill::TimedOut if started.is_some() => {
                    return self.fail(408, "request head not received in time").await
                }
                Fill::TimedOut | Fill::Eof | Fill::Shutdown | Fill::Failed(_) => {
                    return Next::Close
                }
            }
        };
        let received_at = started.unwrap_or_else(Instant::now);

        let body = if parsed.length_required {
            Vec::new()
        } else {
            match self.read_body(&parsed, received_at).await {
                Ok(body) => body,
                Err(next) => return next,
            }
        };

        let request_id = self.ctx.next_request_id();
        let is_head = parsed.method == Method::Head;
        let http10 = parsed.http10;
        let request = Request {
            method: parsed.method,
            path: parsed.path,
            params: parsed.params,
            headers: parsed.headers,
            body,
            request_id: request_id.clone(),
            peer: Some(self.peer),
            received_at,
            http10,
        };
        self.ctx
            .with_state(|state| state.counters_mut().http_requests += 1);
        let response = if parsed.length_required {
            Response::text(
                411,
                "POST needs Content-Length or chunked Transfer-Encoding\n",
            )
        } else {
            let described = format!("{} {}", request.method.as_str(), request.path);
            match catch_panic(router::route(&self.ctx, request)).await {
                Ok(response) => response,
                Err(message) => {
                    log::error!(
                        "handler panicked on {described} (request {request_id}): {message}"
                    );
                    Response::text(500, format!("internal error (request {request_id})\n"))
                }
            }
        };
        log::debug!("request {request_id}: {}", response.status);
        let keep_alive = parsed.keep_alive && !self.ctx.is_shutting_down();
        match self
            .write_response(response, &request_id, keep_alive, is_head, http10)
            .await
        {
            Ok(()) if keep_alive => Next::KeepAlive,
            _ => Next::Close,
        }
    }

    /// Reads the whole body (bounded by `max_body_bytes`), sending `100 Continue` if asked.
    async fn read_body(&mut self, parsed: &Parsed, received_at: Instant) -> Result<Vec<u8>, Next> {
        let mut decoder = BodyDecoder::new(parsed.body_kind, &self.limits);
        if decoder.is_done() {
            return Ok(Vec::new());
        }
        if parsed.expect_continue && self.pending() == 0 {
            net::write_continue(&mut self.out);
            if self.flush().await.is_err() {
                return Err(Next::Close);
            }
        }
        let initial = match parsed.body_kind {
            BodyKind::Length(length) => length.min(1 << 20) as usize,
            _ => READ_BUFFER_BYTES,
        };
        let mut body = Vec::with_capacity(initial);
        loop {
            if self.pending() > 0 {
                match decoder.decode_into(&self.buf[self.start..], &mut body) {
                    Ok(progress) => {
                        self.start += progress.consumed;
                        if progress.done {
                            return Ok(body);
                        }
                    }
                    Err(error) => return Err(self.fail(error.status(), &error.to_string()).await),
                }
            }
            match self.fill(received_at + self.request_timeout, false).await {
                Fill::Data => {}
                Fill::TimedOut => {
                    return Err(self.fail(408, "request body not received in time").await)
                }
                Fill::Failed(error) => {
                    log::debug!("connection from {}: read failed: {error}", self.peer);
                    return Err(Next::Close);
                }
                Fill::Eof | Fill::Shutdown => return Err(Next::Close),
            }
        }
    }

    /// Flushes pending output, then reads more bytes into `buf` before `deadline`. An
    /// `interruptible` read (no request in
    /// progress) also ends when shutdown begins. On timeout or shutdown the buffer is given up
    /// with the cancelled read: the connection closes anyway.
    async fn fill(&mut self, deadline: Instant, interruptible: bool) -> Fill {
        // Answers to earlier pipelined requests go out before we wait for more input.
        if let Err(error) = self.flush().await {
            return Fill::Failed(error);
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Fill::TimedOut;
        }
        if interruptible && self.ctx.is_shutting_down() {
            return Fill::Shutdown;
        }
        self.make_room();
        let buf = std::mem::take(&mut self.buf);
        let (length, capacity) = (buf.len(), buf.capacity());
        let read =
            monoio::time::timeout(remaining, self.stream.read(buf.slice_mut(length..capacity)));
        let outcome = if interruptible {
            let shutdown = Rc::clone(&self.ctx.inner().shutdown);
            match race(read, shutdown.wait()).await {
                Either::Left(outcome) => outcome,
                Either::Right(()) => return Fill::Shutdown,
            }
        } else {
            read.await
        };
        let Ok((result, slice)) = outcome else {
            return Fill::TimedOut;
        };
        self.buf = slice.into_inner();
        match result {
            Ok(0) => Fill::Eof,
            Ok(_) => Fill::Data,
            Err(error) => Fill::Failed(error),
        }
    }

    /// Moves unconsumed bytes to the front and makes sure a read has room.
    fn make_room(&mut self) {
        if self.start == self.buf.len() {
            if self.buf.capacity() > SHRINK_ABOVE_BYTES {
                self.buf = Vec::with_capacity(READ_BUFFER_BYTES);
            }
            self.buf.clear();
            self.start = 0;
        } else if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        if self.buf.capacity() - self.buf.len() < READ_MIN_FREE_BYTES {
            self.buf.reserve(READ_BUFFER_BYTES.max(self.buf.len()));
        }
    }

    /// Writes `out` to the socket, bounded by the request timeout.
    async fn flush(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.out);
        match monoio::time::timeout(self.request_timeout, self.stream.write_all(out)).await {
            Ok((result, mut out)) => {
                out.clear();
                if out.capacity() <= SHRINK_ABOVE_BYTES {
                    self.out = out;
                }
                result.map(drop)
            }
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "client did not read the response",
            )),
        }
    }

    /// Answers a request that cannot be processed (its framing is lost) and closes.
    async fn fail(&mut self, status: u16, message: &str) -> Next {
        let request_id = self.ctx.next_request_id();
        let body = format!("{}: {message}\n", net::reason_phrase(status));
        net::write_response(
            &mut self.out,
            status,
            &[
                ("Content-Type", "text/plain; charset=UTF-8"),
                ("X-Request-Id", &request_id),
            ],
            body.as_bytes(),
            false,
        );
        self.ctx
            .with_state(|state| count_status(state.counters_mut(), status));
        log::debug!("request {request_id}: {status} {message}");
        if self.flush().await.is_ok() {
            self.linger().await;
        }
        Next::Close
    }

    /// Half-closes and drains what the client still sends (bounded), so our answer is read
    /// before the socket closes.
    async fn linger(&mut self) {
        if self.stream.shutdown().await.is_err() {
            return;
        }
        let deadline = Instant::now() + LINGER;
        let mut discarded = 0;
        self.start = self.buf.len();
        while discarded < LINGER_BYTES {
            let before = self.buf.len();
            match self.fill(deadline, false).await {
                Fill::Data => {
                    discarded += self.buf.len().saturating_sub(before);
                    self.start = self.buf.len();
                }
                _ => break,
            }
        }
    }

    async fn write_response(
        &mut self,
        response: Response,
        request_id: &str,
        keep_alive: bool,
        is_head: bool,
        http10: bool,
    ) -> io::Result<()> {
        let status = response.status;
        self.ctx
            .with_state(|state| count_status(state.counters_mut(), status));
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(response.headers.len() + 1);
        for (name, value) in &response.headers {
            if [
                "content-length",
                "transfer-encoding",
                "connection",
                "x-request-id",
            ]
            .iter()
            .any(|reserved| name.eq_ignore_ascii_case(reserved))
            {
                log::debug!("dropping handler header {name}: the connection layer sets it");
                continue;
            }
            headers.push((name, value));
        }
        headers.push(("X-Request-Id", request_id));
        match response.body {
            Body::Full(bytes) => {
                if is_head {
                    net::write_fixed_head(
                        &mut self.out,
                        status,
                        &headers,
                        bytes.len() as u64,
                        keep_alive,
                    );
                } else {
                    net::write_response(&mut self.out, status, &headers, &bytes, keep_alive);
                }
                // With more pipelined requests already received, answer them in one write.
                if !keep_alive || self.pending() == 0 || self.out.len() >= FLUSH_BYTES {
                    self.flush().await?;
                }
                Ok(())
            }
            Body::Stream(_) if is_head => {
                net::write_fixed_head(&mut self.out, status, &headers, 0, keep_alive);
                self.flush().await
            }
            Body::Stream(mut stream) if http10 => {
                // No chunked encoding for HTTP/1.0: collect (bounded), then send with a length.
                let cap = self.ctx.config().max_body_bytes as usize;
                let mut bytes = Vec::new();
                while let Some(chunk) = stream.next().await {
                    match chunk {
                        Ok(chunk) if bytes.len() + chunk.len() <= cap => {
                            bytes.extend_from_slice(&chunk)
                        }
                        Ok(_) => {
                            return Err(abort_error("response too large for an HTTP/1.0 client"))
                        }
                        Err(abort) => return Err(abort_error(&abort.reason)),
                    }
                }
                net::write_response(&mut self.out, status, &headers, &bytes, keep_alive);
                self.flush().await
            }
            Body::Stream(mut stream) => {
                net::write_chunked_head(&mut self.out, status, &headers, keep_alive);
                loop {
                    // Flush what is queued before waiting on a slow producer.
                    let ready = std::future::poll_fn(|cx| Poll::Ready(stream.poll_next(cx))).await;
                    let chunk = match ready {
                        Poll::Ready(chunk) => chunk,
                        Poll::Pending => {
                            self.flush().await?;
                            stream.next().await
                        }
                    };
                    match chunk {
                        Some(Ok(chunk)) => {
                            net::write_chunk(&mut self.out, &chunk);
                            if self.out.len() >= FLUSH_BYTES {
                                self.flush().await?;
                            }
                        }
                        Some(Err(abort)) => {
                            log::warn!(
                                "request {request_id}: response stream aborted: {}",
                                abort.reason
                            );
                            let _ = self.flush().await;
                            return Err(abort_error(&abort.reason));
                        }
                        None => break,
                    }
                }
                net::finish_chunked(&mut self.out);
                self.flush().await
            }
        }
    }
}

fn abort_error(reason: &str) -> io::Error {
    io::Error::other(format!("response stream aborted: {reason}"))
}

fn count_status(counters: &mut crate::state::CoreCounters, status: u16) {
    match status {
        200..=299 => counters.http_responses_2xx += 1,
        400..=499 => counters.http_responses_4xx += 1,
        500..=599 => counters.http_responses_5xx += 1,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::sync::Arc;

    use monoio::{LegacyDriver, RuntimeBuilder};
    use storage::{Shard, ShardConfig};

    use super::*;
    use crate::body::ChunkStream;
    use crate::config::Config;
    use crate::runtime::Shared;
    use crate::state::CoreState;

    /// Runs `serve` against one accepted loopback connection whose client sends `request`, then
    /// returns everything the client received before the server closed.
    fn exchange<F, Fut>(request: &'static [u8], serve: F) -> String
    where
        F: FnOnce(Connection) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            cores: 1,
            ..Config::default()
        };
        let (shard, _) = Shard::open(dir.path().join("shard-0"), ShardConfig::default()).unwrap();
        let shared = Arc::new(Shared::new(config));
        let mut runtime = RuntimeBuilder::<LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let ctx = CoreCtx::new(0, shared, CoreState::new(0, 1, shard), "epoll");
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let client = std::thread::spawn(move || {
                let mut stream = std::net::TcpStream::connect(addr).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                stream.write_all(request).unwrap();
                let mut received = Vec::new();
                let _ = stream.read_to_end(&mut received);
                String::from_utf8(received).unwrap()
            });
            let (stream, peer) = listener.accept().await.unwrap();
            serve(Connection::new(ctx, stream, peer)).await;
            // `serve` dropped the connection: the client sees EOF.
            client.join().unwrap()
        })
    }

    fn numbered_chunks(count: usize) -> ChunkStream {
        ChunkStream::from_chunks((0..count).map(|index| format!("chunk{index}").into_bytes()))
    }

    #[test]
    fn streamed_bodies_are_sent_chunked() {
        let received = exchange(b"", |mut connection| async move {
            let (sender, body) = ChunkStream::channel(1);
            monoio::spawn(async move {
                for index in 0..5 {
                    sender
                        .send(format!("part{index}").into_bytes())
                        .await
                        .unwrap();
                    // A slow producer: the connection flushes what it has while waiting.
                    monoio::time::sleep(Duration::from_millis(1)).await;
                }
            });
            let response = Response::new(200, Body::Stream(body)).with_header("X-Test", "1");
            connection
                .write_response(response, "0-1", false, false, false)
                .await
                .unwrap();
        });
        assert!(received.starts_with("HTTP/1.1 200 OK\r\n"), "{received}");
        assert!(
            received.contains("Transfer-Encoding: chunked\r\n"),
            "{received}"
        );
        assert!(received.contains("X-Request-Id: 0-1\r\n"), "{received}");
        assert!(received.contains("X-Test: 1\r\n"), "{received}");
        let body = received.split("\r\n\r\n").nth(1).unwrap();
        assert!(received.ends_with("5\r\npart4\r\n0\r\n\r\n"), "{received}");
        assert!(
            body.starts_with("5\r\npart0\r\n5\r\npart1\r\n"),
            "{received}"
        );
    }

    #[test]
    fn http10_clients_get_a_length_instead_of_chunks() {
        let received = exchange(b"", |mut connection| async move {
            let response = Response::new(200, Body::Stream(numbered_chunks(3)));
            connection
                .write_response(response, "0-1", false, false, true)
                .await
                .unwrap();
        });
        assert!(received.contains("Content-Length: 18\r\n"), "{received}");
        assert!(!received.contains("chunked"), "{received}");
        assert!(
            received.ends_with("\r\n\r\nchunk0chunk1chunk2"),
            "{received}"
        );
    }

    #[test]
    fn an_aborted_stream_never_sends_the_last_chunk() {
        let received = exchange(b"", |mut connection| async move {
            let (sender, body) = ChunkStream::channel(4);
            monoio::spawn(async move {
                sender.send(b"partial".to_vec()).await.unwrap();
                sender.abort("shard failed");
            });
            let response = Response::new(200, Body::Stream(body));
            assert!(connection
                .write_response(response, "0-1", true, false, false)
                .await
                .is_err());
        });
        assert!(received.ends_with("7\r\npartial\r\n"), "{received}");
    }

    #[test]
    fn head_requests_get_no_body() {
        let received = exchange(b"", |mut connection| async move {
            let response = Response::text(200, "Ok.\n");
            connection
                .write_response(response, "0-1", false, true, false)
                .await
                .unwrap();
        });
        assert!(received.contains("Content-Length: 4\r\n"), "{received}");
        assert!(received.ends_with("\r\n\r\n"), "{received}");
    }

    #[test]
    fn a_full_request_loop_answers_pipelined_requests_in_order() {
        let received = exchange(
            b"GET /ping HTTP/1.1\r\n\r\nGET /nope HTTP/1.0\r\n\r\nGET /ping HTTP/1.1\r\n\r\n",
            |connection| connection.run(),
        );
        let statuses: Vec<&str> = received
            .lines()
            .filter(|line| line.starts_with("HTTP/1.1"))
            .collect();
        // The HTTP/1.0 request without keep-alive ends the connection after its answer.
        assert_eq!(
            statuses,
            ["HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found"],
            "{received}"
        );
        assert!(received.contains("Connection: close"), "{received}");
    }
}
