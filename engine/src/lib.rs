//! Ronto's engine: the `ronto` server's thread-per-core runtime, shard mesh and HTTP layer.
//!
//! It owns the thread-per-core runtime (one pinned monoio runtime per core, io_uring with an epoll
//! fallback), the shards (core `i` owns `storage::Shard` `i`, touched only by its own thread), the
//! SPSC mesh that carries work between cores, the HTTP/1.1 connection layer over the `net` parser,
//! request routing, configuration, logging and graceful shutdown. The entry type is
//! [`ServerHandle`] (or [`cli::run`] for the binary); code running on a core reaches shards through
//! [`CoreCtx::call`] and [`CoreCtx::call_all`] with jobs over [`CoreState`], and answers HTTP
//! through [`router::route`] with [`Request`]/[`Response`]; SQL plugs in at
//! [`query::handle_query`].
//!
//! This crate must never: touch a shard from a thread other than its owner's, share mutable
//! state between cores except through the mesh queues, grow a queue, buffer or connection count
//! past its configured bound (over a bound the answer is a clear 4xx/503), acknowledge an append
//! before its group commit returned, or let a malformed request or a panicking handler take a
//! core down.

pub mod auth;
pub mod body;
pub mod cli;
pub mod compress;
pub mod config;
pub mod ctx;
mod http;
mod ilp;
pub mod ingest;
pub mod logger;
pub mod mesh;
pub mod multipart;
pub mod observe;
pub mod params;
pub mod query;
pub mod router;
pub mod runtime;
mod signal;
pub mod state;
mod task;

pub use body::{Body, ChunkSender, ChunkSource, ChunkStream, ReceiverGone, StreamAbort};
pub use config::{Config, ConfigError};
pub use ctx::CoreCtx;
pub use mesh::MeshError;
pub use router::{Method, Request, Response};
pub use runtime::{EngineError, ServerHandle};
pub use state::{CoreCounters, CoreState};

/// The server version, as reported by `ronto --version` and in ClickHouse error bodies.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
