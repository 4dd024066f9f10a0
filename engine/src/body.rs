//! Response bodies: a whole buffer, or a stream of chunks sent with chunked encoding.
//!
//! Streaming keeps large results from ever being held in memory at once.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// A response body.
pub enum Body {
    /// Sent with `Content-Length`.
    Full(Vec<u8>),
    /// Sent chunk by chunk with `Transfer-Encoding: chunked` (to HTTP/1.0 clients: collected,
    /// then sent with `Content-Length`).
    Stream(ChunkStream),
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Full(bytes) => write!(f, "Body::Full({} bytes)", bytes.len()),
            Body::Stream(_) => f.write_str("Body::Stream(..)"),
        }
    }
}

impl Body {
    pub fn empty() -> Body {
        Body::Full(Vec::new())
    }
}

/// A producer gave up mid-stream. The connection is closed without the final empty chunk, so
/// the client sees a truncated body instead of a short "successful" one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamAbort {
    pub reason: String,
}

/// Something that yields body chunks asynchronously. `None` ends the body.
pub trait ChunkSource {
    fn poll_chunk(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Vec<u8>, StreamAbort>>>;
}

/// A streamed body: any [`ChunkSource`], boxed.
pub struct ChunkStream {
    source: Pin<Box<dyn ChunkSource>>,
}

impl ChunkStream {
    pub fn new(source: impl ChunkSource + 'static) -> ChunkStream {
        ChunkStream {
            source: Box::pin(source),
        }
    }

    /// Chunks produced synchronously on demand, one per `next` (empty ones are skipped).
    pub fn from_chunks<I: Iterator<Item = Vec<u8>> + Unpin + 'static>(chunks: I) -> ChunkStream {
        ChunkStream::new(IterSource { chunks })
    }

    /// A bounded channel: the handler spawns a task (`monoio::spawn`) that feeds the sender,
    /// for example with one `ctx.call` per shard, and returns the stream in its `Response`.
    /// `send` waits while `capacity` chunks are queued (back-pressure from the socket).
    pub fn channel(capacity: usize) -> (ChunkSender, ChunkStream) {
        let channel = Rc::new(RefCell::new(Channel {
            queue: VecDeque::new(),
            capacity: capacity.max(1),
            sender_gone: false,
            receiver_gone: false,
            abort: None,
            receiver_waker: None,
            sender_waker: None,
        }));
        (
            ChunkSender {
                channel: Rc::clone(&channel),
            },
            ChunkStream::new(Receiver { channel }),
        )
    }

    /// The next chunk; `None` at the end of the body.
    pub async fn next(&mut self) -> Option<Result<Vec<u8>, StreamAbort>> {
        std::future::poll_fn(|cx| self.source.as_mut().poll_chunk(cx)).await
    }

    pub(crate) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Vec<u8>, StreamAbort>>> {
        self.source.as_mut().poll_chunk(cx)
    }
}

impl ChunkStream {
    /// The same chunks, each passed through `f`, then (once the source ends without an abort)
    /// one last chunk from `end` (for example, a compressor's trailer).
    pub fn map(
        self,
        f: impl FnMut(Vec<u8>) -> Vec<u8> + Unpin + 'static,
        end: impl FnOnce() -> Vec<u8> + Unpin + 'static,
    ) -> ChunkStream {
        ChunkStream::new(MapSource {
            inner: self,
            f,
            end: Some(end),
        })
    }
}

struct MapSource<F, E> {
    inner: ChunkStream,
    f: F,
    end: Option<E>,
}

impl<F, E> ChunkSource for MapSource<F, E>
where
    F: FnMut(Vec<u8>) -> Vec<u8> + Unpin,
    E: FnOnce() -> Vec<u8> + Unpin,
{
    fn poll_chunk(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Vec<u8>, StreamAbort>>> {
        let this = self.get_mut();
        if this.end.is_none() {
            return Poll::Ready(None);
        }
        match this.inner.poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => Poll::Ready(Some(Ok((this.f)(chunk)))),
            Poll::Ready(None) => {
                let end = this.end.take().expect("checked above");
                Poll::Ready(Some(Ok(end())))
            }
            other => other,
        }
    }
}

struct IterSource<I> {
    chunks: I,
}

impl<I: Iterator<Item = Vec<u8>> + Unpin> ChunkSource for IterSource<I> {
    fn poll_chunk(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Vec<u8>, StreamAbort>>> {
        Poll::Ready(self.get_mut().chunks.next().map(Ok))
    }
}

struct Channel {
    queue: VecDeque<Vec<u8>>,
    capacity: usize,
    sender_gone: bool,
    receiver_gone: bool,
    abort: Option<StreamAbort>,
    receiver_waker: Option<Waker>,
    sender_waker: Option<Waker>,
}

/// The connection went away; stop producing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the client is gone")]
pub struct ReceiverGone;

/// The producing half of [`ChunkStream::channel`]. Dropping it ends the body normally.
pub struct ChunkSender {
    channel: Rc<RefCell<Channel>>,
}

impl std::fmt::Debug for ChunkSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChunkSender")
    }
}

impl ChunkSender {
    /// Queues a chunk, waiting while the channel is full. Fails once the receiver is gone.
    pub fn send(&self, chunk: Vec<u8>) -> impl Future<Output = Result<(), ReceiverGone>> + '_ {
        let mut chunk = Some(chunk);
        std::future::poll_fn(move |cx| {
            let mut channel = self.channel.borrow_mut();
            if channel.receiver_gone {
                return Poll::Ready(Err(ReceiverGone));
            }
            if channel.queue.len() >= channel.capacity {
                channel.sender_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            let chunk = chunk.take().expect("send polled after completion");
            if !chunk.is_empty() {
                channel.queue.push_back(chunk);
            }
            if let Some(waker) = channel.receiver_waker.take() {
                waker.wake();
            }
            Poll::Ready(Ok(()))
        })
    }

    /// Ends the body as a failure (see [`StreamAbort`]).
    pub fn abort(self, reason: impl Into<String>) {
        self.channel.borrow_mut().abort = Some(StreamAbort {
            reason: reason.into(),
        });
    }
}

impl Drop for ChunkSender {
    fn drop(&mut self) {
        let mut channel = self.channel.borrow_mut();
        channel.sender_gone = true;
        if let Some(waker) = channel.receiver_waker.take() {
            waker.wake();
        }
    }
}

struct Receiver {
    channel: Rc<RefCell<Channel>>,
}

impl ChunkSource for Receiver {
    fn poll_chunk(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Vec<u8>, StreamAbort>>> {
        let mut channel = self.channel.borrow_mut();
        if let Some(chunk) = channel.queue.pop_front() {
            if let Some(waker) = channel.sender_waker.take() {
                waker.wake();
            }
            return Poll::Ready(Some(Ok(chunk)));
        }
        if let Some(abort) = channel.abort.take() {
            return Poll::Ready(Some(Err(abort)));
        }
        if channel.sender_gone {
            return Poll::Ready(None);
        }
        channel.receiver_waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let mut channel = self.channel.borrow_mut();
        channel.receiver_gone = true;
        channel.queue.clear();
        if let Some(waker) = channel.sender_waker.take() {
            waker.wake();
        }
    }
}
