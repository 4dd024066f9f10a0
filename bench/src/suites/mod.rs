//! The suite registry: every suite by name, which are implemented, and what a suite is given.

pub mod http;
pub mod ingest;
pub mod kernels;
pub mod membw;
pub mod peers;
pub mod query;
pub mod storage;
pub mod workload;

use std::path::PathBuf;

use crate::report::Report;
use crate::sys::Machine;
use crate::BenchError;

/// A benchmark suite. `all` runs every implemented one, in [`Suite::ALL`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    /// In-process storage: append throughput and latency, seal, recovery, scan.
    Storage,
    /// The sql crate's vectorized kernels over column slices, against the memory bandwidth.
    Kernels,
    /// SQL queries end to end in-process, with a memory-bandwidth baseline.
    Query,
    /// The HTTP interface of a running server: /ping against a tokio/hyper baseline, a point query.
    Http,
    /// Ingest protocols against a running server, beside an in-process parse-only baseline.
    Ingest,
    /// The same data and queries in chDB and DuckDB in the same run, answers cross-checked.
    Peers,
}

impl Suite {
    pub const ALL: [Suite; 6] = [
        Suite::Storage,
        Suite::Kernels,
        Suite::Query,
        Suite::Http,
        Suite::Ingest,
        Suite::Peers,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Suite::Storage => "storage",
            Suite::Kernels => "kernels",
            Suite::Query => "query",
            Suite::Http => "http",
            Suite::Ingest => "ingest",
            Suite::Peers => "peers",
        }
    }

    pub fn parse(name: &str) -> Option<Suite> {
        Suite::ALL.into_iter().find(|s| s.name() == name)
    }

    pub fn is_implemented(self) -> bool {
        matches!(
            self,
            Suite::Storage
                | Suite::Kernels
                | Suite::Query
                | Suite::Http
                | Suite::Ingest
                | Suite::Peers
        )
    }

    /// Runs the suite. Histograms go to `ctx.out_dir` as they are measured.
    pub fn run(self, ctx: &Ctx) -> Result<Report, BenchError> {
        match self {
            Suite::Storage => storage::run(ctx),
            Suite::Kernels => kernels::run(ctx),
            Suite::Query => query::run(ctx),
            Suite::Http => http::run(ctx),
            Suite::Ingest => ingest::run(ctx),
            Suite::Peers => peers::run(ctx),
        }
    }
}

/// What every suite is given.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub quick: bool,
    /// Results directory (exists).
    pub out_dir: PathBuf,
    /// Root for scratch data directories (exists).
    pub data_dir: PathBuf,
    /// The command line, for report headers.
    pub command: String,
    pub machine: Machine,
    /// Run only cases whose id contains this.
    pub only: Option<String>,
}

impl Ctx {
    /// Whether the case with this id (its `.hgrm` name without the suite prefix) should run.
    pub fn wants(&self, id: &str) -> bool {
        self.only.as_deref().is_none_or(|o| id.contains(o))
    }
}
