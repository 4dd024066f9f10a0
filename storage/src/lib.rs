//! Storage for one shard of Ronto: catalog, WAL, hot column buffers, sealed memory-mapped
//! column files, the block index, recovery and retention.
//!
//! The entry type is [`Shard`]. A shard is driven by one thread: another core reaches it only by
//! sending its owner a message. Its only helper is its own sync thread, which runs the
//! `fdatasync`s and shares nothing with it but a job queue and the durable seq. Appends are columnar [`Batch`]es; every append is staged in the WAL before it
//! touches the hot buffers, and [`Shard::commit`] writes all staged records in one write (group
//! commit) and reports which sequence numbers are durable under the [`FsyncPolicy`]. The WAL's
//! `fdatasync`s run on a per-shard sync thread; [`Shard::commit_nowait`], [`Shard::durable_seq`]
//! and [`Shard::set_sync_waker`] let a caller acknowledge asynchronously instead of waiting.
//! Scans yield time-sorted column slices per symbol, zero-copy from the mmap for sealed blocks.
//!
//! This crate must never: drop acknowledged rows, panic on bytes read from disk (corruption is
//! `StorageError::Corrupt` with the file and offset), or grow a buffer without a bound.

pub mod batch;
pub mod catalog;
pub mod colfile;
mod defaults;
pub mod dict;
pub mod error;
mod hash;
pub mod hot;
pub mod index;
mod record;
pub mod scan;
pub mod shard;
mod sync;
pub mod types;
pub mod wal;

pub use batch::{Batch, BatchColumn, ColumnBuf, StrValues, Values};
pub use catalog::{Catalog, TableSpec};
pub use dict::SymbolDict;
pub use error::{RequestError, Result, StorageError};
pub use hash::{FxBuildHasher, FxHashMap, FxHasher};
pub use index::{BlockColumn, BlockMeta};
pub use scan::{BlockView, ColumnData, ColumnSlice, ScanSpec, ScanStats};
pub use shard::{Clock, CommitReport, RecoveryReport, Shard, ShardConfig, ShardStats, SystemClock};
pub use sync::SyncWaker;
pub use types::{
    day_name, day_of, shard_of_int, shard_of_symbol, Bitmap, ColumnId, ColumnSchema, ColumnType,
    Physical, Seq, SymKey, TableId, TableSchema, Validity, NS_PER_DAY,
};
pub use wal::FsyncPolicy;
