//! Ronto's benchmarks: the suites behind the `ronto-bench` binary, their histograms and reports.
//!
//! A suite ([`suites::Suite`]) runs against the real crates in-process (or, later, against a
//! running server and its peers), measures every latency into an HdrHistogram
//! ([`hist::new_histogram`], 3 significant digits, nanoseconds) and returns a [`report::Report`]:
//! one row per case with its throughput and p50/p90/p99/p99.9/p99.99/max. The binary prints
//! each report as a markdown table, writes it to `<out>/<suite>.md`, and writes every histogram
//! as a `.hgrm` percentile-distribution file (HdrHistogram's classic text format, values in µs)
//! beside it.
//!
//! Benchmarks are not tests: nothing here asserts a speed. A suite does check that what it
//! measured is right (row counts, sums), and fails with [`BenchError::Check`] if not, because a
//! fast wrong answer is worth nothing. Suites must never write outside the data directory they
//! are given (a scratch directory under `target/` by default) and must remove their data when
//! done, with one exception: the `peers` suite keeps the CSV it feeds every engine (named by
//! row count, seed and format version) for the next run. `--quick` runs every case with small
//! sizes so CI can use it as a smoke test (under ~30 s per suite on 2 cores, plus a one-time
//! ~30 s install of chDB and DuckDB into `target/bench-venv` for `peers`).

pub mod cli;
pub mod data;
pub mod hist;
pub mod loadgen;
pub mod report;
pub mod results_json;
pub mod server;
pub mod suites;
pub mod sys;

use std::fmt;
use std::path::PathBuf;

/// Why a benchmark run failed.
#[derive(Debug)]
pub enum BenchError {
    /// The storage layer returned an error (the environment's or a bug; see its variant).
    Storage(storage::StorageError),
    /// The SQL layer rejected or failed a benchmark query.
    Sql(sql::error::SqlError),
    /// A peer database (chDB, DuckDB) or its Python driver failed.
    Peer(String),
    /// Reading or writing a file of the benchmark itself (results, scratch directories).
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A result failed its sanity check: a bug in the code under test or in the benchmark.
    Check(String),
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::Storage(e) => write!(f, "storage: {e}"),
            BenchError::Sql(e) => write!(f, "sql: {e}"),
            BenchError::Peer(what) => write!(f, "peer: {what}"),
            BenchError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            BenchError::Check(what) => write!(f, "check failed: {what}"),
        }
    }
}

impl std::error::Error for BenchError {}

impl From<storage::StorageError> for BenchError {
    fn from(e: storage::StorageError) -> Self {
        BenchError::Storage(e)
    }
}

impl From<sql::error::SqlError> for BenchError {
    fn from(e: sql::error::SqlError) -> Self {
        BenchError::Sql(e)
    }
}

/// Attaches the path to an I/O error.
pub(crate) trait IoAt<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T, BenchError>;
}

impl<T> IoAt<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T, BenchError> {
        self.map_err(|source| BenchError::Io {
            path: path.into(),
            source,
        })
    }
}
