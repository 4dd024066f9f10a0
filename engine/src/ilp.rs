//! The raw TCP line-protocol listener (`--ilp-port`, as QuestDB's port 9009): fire-and-forget
//! InfluxDB line protocol over a plain TCP stream.
//!
//! Weaker guarantees than HTTP, by the protocol's nature: nothing is acknowledged, so a writer
//! cannot know which lines were stored. Complete lines (ending in `\n`, or the last line when
//! the writer closes the stream) are decoded in batches of whatever arrived, then stored
//! exactly as an HTTP `/write` body (same table creation, type checks and `--fsync`
//! durability) before more is read, so a slow shard slows the writer through TCP flow control
//! rather than buffering without bound. Bad lines are counted in `ticks_rejected` and logged
//! (rate-limited); a batch the storage refuses as a whole (a table that cannot be created, a
//! full queue) closes the connection, which is the only signal the writer gets. Timestamps are
//! nanoseconds; a line longer than [`ILP_LINE_BYTES_MAX`] closes the connection.

use std::rc::Rc;
use std::time::{Duration, Instant};

use monoio::buf::IoBufMut;
use monoio::io::AsyncReadRent;
use monoio::net::{TcpListener, TcpStream};
use sql::ingest::{self, Coercion};

use crate::ctx::CoreCtx;
use crate::task::{race, Either};

/// Longest line accepted; also the read buffer's size bound.
pub const ILP_LINE_BYTES_MAX: usize = 1 << 20;
/// Bytes read before a batch is stored even if more is waiting.
const BATCH_BYTES: usize = 256 << 10;

/// Accepts line-protocol connections on this core's listener until shutdown.
pub(crate) async fn accept_loop(ctx: CoreCtx, listener: TcpListener) {
    let shutdown = Rc::clone(&ctx.inner().shutdown);
    loop {
        let accepted = match race(listener.accept(), shutdown.wait()).await {
            Either::Left(accepted) => accepted,
            Either::Right(()) => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                let ctx = ctx.clone();
                monoio::spawn(async move {
                    if let Err(reason) = serve(&ctx, stream).await {
                        log::warn!("line-protocol connection from {peer} closed: {reason}");
                    }
                });
            }
            Err(error) => {
                log::warn!("line-protocol accept failed: {error}");
                monoio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Reads and stores lines until the writer closes the stream or shutdown begins.
async fn serve(ctx: &CoreCtx, mut stream: TcpStream) -> Result<(), String> {
    let mut buf: Vec<u8> = Vec::with_capacity(BATCH_BYTES);
    let mut last_warning: Option<Instant> = None;
    loop {
        if buf.capacity() - buf.len() < BATCH_BYTES / 4 {
            buf.reserve(BATCH_BYTES);
        }
        let (length, capacity) = (buf.len(), buf.capacity());
        let shutdown = Rc::clone(&ctx.inner().shutdown);
        let (result, slice) = match race(
            stream.read(buf.slice_mut(length..capacity)),
            shutdown.wait(),
        )
        .await
        {
            Either::Left(read) => read,
            Either::Right(()) => return Ok(()),
        };
        buf = slice.into_inner();
        let eof = match result {
            Ok(0) => true,
            Ok(_) => false,
            Err(error) => return Err(error.to_string()),
        };
        // Complete lines: up to the last newline, or everything at the end of the stream.
        let end = if eof {
            buf.len()
        } else {
            match buf.iter().rposition(|&b| b == b'\n') {
                Some(i) => i + 1,
                None if buf.len() > ILP_LINE_BYTES_MAX => {
                    return Err(format!("a line longer than {ILP_LINE_BYTES_MAX} bytes"))
                }
                None => continue,
            }
        };
        if end > 0 {
            store_lines(ctx, &buf[..end], &mut last_warning).await?;
            buf.drain(..end);
        }
        if eof {
            return Ok(());
        }
    }
}

/// Decodes and stores one batch of complete lines; counts what was written and rejected.
async fn store_lines(
    ctx: &CoreCtx,
    lines: &[u8],
    last_warning: &mut Option<Instant>,
) -> Result<(), String> {
    let started = Instant::now();
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    let opts = ingest::lineproto::LineOptions::new(now_ns);
    let decoded = ingest::lineproto::decode(lines, &opts).map_err(|e| e.to_string())?;
    let stored = crate::ingest::store(ctx, decoded, Coercion::Strict).await;
    let latency_ns = started.elapsed().as_nanos() as u64;
    ctx.with_state(|st| {
        let c = st.counters_mut();
        c.ticks_ingested += stored.written;
        c.ticks_rejected += stored.rejected as u64;
        c.last_ingest_latency_ns = latency_ns;
        c.ingest_requests += 1;
    });
    if let Some(first) = stored.errors.first() {
        // One warning per connection per second at most: a bad feed must not flood the log.
        if last_warning.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            *last_warning = Some(Instant::now());
            log::warn!(
                "line protocol over TCP: {} lines rejected in a batch; first: {first}",
                stored.rejected
            );
        }
    }
    match stored.failure {
        None => Ok(()),
        Some(response) => Err(format!(
            "storing a batch failed with HTTP status {} (see the server log)",
            response.status
        )),
    }
}
