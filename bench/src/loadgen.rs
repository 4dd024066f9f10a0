//! A one-thread epoll load generator over keep-alive HTTP/1.1 connections: closed loop (maximum throughput) and open loop (fixed rate, latency measured from each request's intended send time).
//!
//! One thread drives every connection (non-blocking sockets, level-triggered epoll), so on a
//! small machine the generator takes one CPU and leaves the others to the server; the caller
//! pins it ([`crate::server::pin_to_last_cpu`]). Requests are pre-encoded bytes and every
//! response is checked against the expected status and body (a fast wrong answer is worth
//! nothing); responses must carry `Content-Length`.
//!
//! Open loop is coordinated-omission correct: request k is *due* at `start + k / rate`; if no
//! connection is free then, it waits in a backlog and its latency still counts from the due
//! time, so a server stall shows up in every request it delayed, not just one.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::hist::new_histogram;
use crate::server::{parse_head, Framing};
use crate::sys::ThreadTimes;
use crate::BenchError;

/// How requests are issued.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Every connection sends its next request as soon as the previous answer arrived.
    Closed,
    /// Requests are due at a fixed rate, whatever the answers do.
    Open { rate_per_s: f64 },
}

/// One load run.
#[derive(Debug, Clone)]
pub struct Load<'a> {
    pub port: u16,
    pub connections: usize,
    pub request: &'a [u8],
    pub expect_status: u16,
    pub expect_body: &'a [u8],
    pub mode: Mode,
    /// Run but not recorded.
    pub warmup: Duration,
    /// Recorded.
    pub duration: Duration,
}

/// What a run measured.
#[derive(Debug)]
pub struct Outcome {
    /// Latency of every request answered in the recorded window (open loop: due in it), ns.
    pub hist: Histogram<u64>,
    /// Requests answered per second in the recorded window.
    pub requests_per_s: f64,
    /// Open loop: most requests ever waiting for a free connection.
    pub backlog_max: usize,
    /// The generator thread's own CPU use over the whole run.
    pub generator: ThreadTimes,
    pub wall: Duration,
}

/// How long in-flight requests may take to finish after the window closes.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    filled: usize,
    /// When the in-flight request was due (open loop) or sent (closed loop).
    due: Option<Instant>,
}

/// An epoll instance, closed on drop.
struct Epoll(i32);

impl Epoll {
    fn new() -> std::io::Result<Epoll> {
        // SAFETY: epoll_create1 takes no pointers.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Epoll(fd))
    }

    fn add(&self, fd: i32, token: u64) -> std::io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call.
        let rc = unsafe { libc::epoll_ctl(self.0, libc::EPOLL_CTL_ADD, fd, &mut ev) };
        if rc < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits up to `timeout` (nanosecond resolution, `epoll_pwait2`) for ready connections.
    fn wait(&self, events: &mut [libc::epoll_event], timeout: Duration) -> std::io::Result<usize> {
        let ts = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: `events` is valid for writes of `events.len()` entries, `ts` outlives the
        // call, and a null signal mask means "leave the mask alone".
        let n = unsafe {
            libc::epoll_pwait2(
                self.0,
                events.as_mut_ptr(),
                events.len() as i32,
                &ts,
                std::ptr::null(),
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                return Ok(0);
            }
            return Err(e);
        }
        Ok(n as usize)
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        // SAFETY: we own this descriptor and close it once.
        unsafe { libc::close(self.0) };
    }
}

fn io_err(what: &str, e: std::io::Error) -> BenchError {
    BenchError::Check(format!("load generator: {what}: {e}"))
}

fn send(conn: &mut Conn, request: &[u8], due: Instant) -> Result<(), BenchError> {
    debug_assert!(conn.due.is_none(), "one request in flight per connection");
    let mut sent = 0;
    while sent < request.len() {
        match conn.stream.write(&request[sent..]) {
            Ok(0) => return Err(io_err("send", std::io::ErrorKind::WriteZero.into())),
            Ok(n) => sent += n,
            // A small request into an empty socket buffer: only a full buffer blocks, briefly.
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err("send", e)),
        }
    }
    conn.due = Some(due);
    Ok(())
}

/// Runs `load` on the calling thread (and sets its timer slack to 1 µs).
pub fn run(load: &Load<'_>) -> Result<Outcome, BenchError> {
    assert!(load.connections > 0);
    let epoll = Epoll::new().map_err(|e| io_err("epoll_create1", e))?;
    let mut conns = Vec::with_capacity(load.connections);
    for i in 0..load.connections {
        let stream =
            TcpStream::connect(("127.0.0.1", load.port)).map_err(|e| io_err("connect", e))?;
        stream.set_nodelay(true).map_err(|e| io_err("nodelay", e))?;
        stream
            .set_nonblocking(true)
            .map_err(|e| io_err("nonblocking", e))?;
        epoll
            .add(stream.as_raw_fd(), i as u64)
            .map_err(|e| io_err("epoll_ctl", e))?;
        conns.push(Conn {
            stream,
            buf: vec![0; 16 << 10],
            filled: 0,
            due: None,
        });
    }
    let mut hist = new_histogram();
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; load.connections.max(16)];
    let mut idle: Vec<usize> = (0..conns.len()).rev().collect();
    let mut backlog: VecDeque<Instant> = VecDeque::new();
    let mut backlog_max = 0;
    let mut in_flight = 0usize;
    let mut answered_in_window = 0u64;
    let mut first_mismatch: Option<String> = None;
    let mut mismatches = 0u64;

    let interval = match load.mode {
        Mode::Open { rate_per_s } => {
            assert!(rate_per_s > 0.0);
            Some(Duration::from_secs_f64(1.0 / rate_per_s))
        }
        Mode::Closed => None,
    };
    // SAFETY: prctl(PR_SET_TIMERSLACK) takes plain integers and affects only this thread.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
    let cpu0 = ThreadTimes::now().unwrap_or_default();
    let start = Instant::now();
    let window_start = start + load.warmup;
    let end = window_start + load.duration;
    let mut next_due = start;
    // Open loop: due times advance by adding `interval` k times; start + k*interval avoids drift.
    let mut due_count: u32 = 0;
    if interval.is_none() {
        while let Some(i) = idle.pop() {
            send(&mut conns[i], load.request, start)?;
            in_flight += 1;
        }
    }
    loop {
        let now = Instant::now();
        if let Some(step) = interval {
            while next_due <= now && next_due < end {
                backlog.push_back(next_due);
                due_count += 1;
                next_due = start + step * due_count;
            }
            backlog_max = backlog_max.max(backlog.len());
            while !backlog.is_empty() {
                let Some(i) = idle.pop() else { break };
                let due = backlog.pop_front().expect("not empty");
                send(&mut conns[i], load.request, due)?;
                in_flight += 1;
            }
        }
        if now >= end && in_flight == 0 && backlog.is_empty() {
            break;
        }
        if now >= end + DRAIN_TIMEOUT {
            return Err(BenchError::Check(format!(
                "load generator: {in_flight} requests still unanswered {} s after the run",
                DRAIN_TIMEOUT.as_secs()
            )));
        }
        // Open loop: sleep exactly until the next request is due (timer slack is 1 µs, set
        // below), so due times are kept without spinning.
        let timeout = match interval {
            Some(_) if next_due < end => next_due.saturating_duration_since(now),
            _ => Duration::from_millis(50),
        };
        let n = epoll
            .wait(&mut events, timeout)
            .map_err(|e| io_err("epoll_pwait2", e))?;
        for ev in &events[..n] {
            let i = ev.u64 as usize;
            let conn = &mut conns[i];
            loop {
                if conn.filled == conn.buf.len() {
                    let len = conn.buf.len() * 2;
                    conn.buf.resize(len, 0);
                }
                match conn.stream.read(&mut conn.buf[conn.filled..]) {
                    Ok(0) => {
                        return Err(BenchError::Check(
                            "load generator: the server closed a keep-alive connection".into(),
                        ))
                    }
                    Ok(k) => conn.filled += k,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(io_err("read", e)),
                }
            }
            loop {
                let head = parse_head(&conn.buf[..conn.filled])
                    .map_err(|e| BenchError::Check(format!("load generator: {e}")))?;
                let Some(head) = head else { break };
                let Framing::Length(body_len) = head.framing else {
                    return Err(BenchError::Check(
                        "load generator: chunked responses are not supported".into(),
                    ));
                };
                let total = head.len + body_len;
                if conn.filled < total {
                    break;
                }
                let done = Instant::now();
                let body = &conn.buf[head.len..total];
                if head.status != load.expect_status || body != load.expect_body {
                    mismatches += 1;
                    if first_mismatch.is_none() {
                        first_mismatch = Some(format!(
                            "status {} body {:?}, expected {} {:?}",
                            head.status,
                            String::from_utf8_lossy(body),
                            load.expect_status,
                            String::from_utf8_lossy(load.expect_body)
                        ));
                    }
                }
                conn.buf.copy_within(total..conn.filled, 0);
                conn.filled -= total;
                let Some(due) = conn.due.take() else {
                    return Err(BenchError::Check(
                        "load generator: a response arrived with no request in flight".into(),
                    ));
                };
                in_flight -= 1;
                let recorded = match interval {
                    Some(_) => due >= window_start && due < end,
                    None => done >= window_start && done < end,
                };
                if recorded {
                    hist.saturating_record(done.duration_since(due).as_nanos() as u64);
                    answered_in_window += 1;
                }
                match interval {
                    None if done < end => {
                        send(conn, load.request, done)?;
                        in_flight += 1;
                    }
                    _ => idle.push(i),
                }
            }
        }
    }
    let wall = start.elapsed();
    let generator = ThreadTimes::now().unwrap_or_default().since(cpu0);
    if mismatches > 0 {
        return Err(BenchError::Check(format!(
            "{mismatches} responses were wrong; first: {}",
            first_mismatch.unwrap_or_default()
        )));
    }
    Ok(Outcome {
        hist,
        requests_per_s: answered_in_window as f64 / load.duration.as_secs_f64(),
        backlog_max,
        generator,
        wall,
    })
}

/// Runs `load` on a new thread pinned to the last CPU, so the caller's own affinity is left
/// alone.
pub fn run_pinned(load: &Load<'_>) -> Result<Outcome, BenchError> {
    std::thread::scope(|s| {
        s.spawn(|| {
            crate::server::pin_to_last_cpu();
            run(load)
        })
        .join()
        .unwrap_or_else(|_| Err(BenchError::Check("load generator thread panicked".into())))
    })
}
