//! SQL for Ronto: ClickHouse-flavoured SQL text → plan → per-shard fragments and a merge step,
//! executed by vectorized kernels over storage column slices; result types and output formats.
//!
//! Entry points: [`types::ResultSet`] for results, `kernels` for the vectorized primitives.
//! This crate never touches sockets or threads: the engine moves fragments between cores.

pub mod agg;
pub mod db;
pub mod error;
pub mod exec;
pub mod expr;
pub mod format;
pub mod functions;
pub mod group;
pub mod ingest;
pub mod input;
pub mod kernels;
pub mod plan;
pub mod system;
pub mod text;
pub mod types;
pub mod vector;

pub use text::format_value;
pub use types::{BaseType, Column, DataType, ResultSet, Value};
