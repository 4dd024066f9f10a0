//! `CoreState`: what one core owns (its `storage::Shard` and its counters).
//!
//! It is reached only by jobs that run on that core.

use storage::{Batch, CommitReport, Seq, Shard, ShardStats, StorageError};

/// Per-core counters. Plain integers: only the owning core writes them; read them from another
/// core with `ctx.call_all(|state| state.counters().clone())`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoreCounters {
    /// Rows written by ingestion endpoints and INSERTs received on this core.
    pub ticks_ingested: u64,
    /// Rows (lines, items) refused as bad input by requests received on this core.
    pub ticks_rejected: u64,
    pub ingest_requests: u64,
    pub last_ingest_latency_ns: u64,
    pub queries_executed: u64,
    /// Rows read by fragments of queries received on this core.
    pub rows_scanned: u64,
    pub http_connections_accepted: u64,
    /// Connections refused because the core was at `max_connections_per_core`.
    pub http_connections_rejected: u64,
    pub http_connections_open: u64,
    pub http_requests: u64,
    /// Responses by class.
    pub http_responses_2xx: u64,
    pub http_responses_4xx: u64,
    pub http_responses_5xx: u64,
    /// Jobs this core ran for itself (`call` with the local shard) and for other cores.
    pub mesh_jobs_local: u64,
    pub mesh_jobs_remote: u64,
    /// Calls from this core that gave up on a full queue.
    pub mesh_busy: u64,
    /// Mesh poller iterations, and how many of them ended in parking (stopped polling until
    /// rung).
    pub mesh_polls: u64,
    pub mesh_parks: u64,
    /// Group commits and how many of them failed.
    pub commits: u64,
    pub commit_errors: u64,
    /// Periodic `Shard::tick` calls and failures.
    pub ticks: u64,
    pub tick_errors: u64,
}

/// Everything a core owns. Jobs sent with `CoreCtx::call` get `&mut CoreState` on the shard's own
/// thread; nothing here is shared with another thread.
///
/// Durability contract: rows appended by a job (through [`CoreState::append`] or directly on
/// the shard) are staged in the WAL; the engine runs one [`Shard::commit`] per mesh poller
/// iteration after all the jobs of that iteration and only then delivers their results. So a
/// caller whose job appended sees `Ok` only once the WAL write reached the `--fsync` policy's
/// durability, and `MeshError::Commit` if that write failed.
#[derive(Debug)]
pub struct CoreState {
    core: usize,
    cores: usize,
    shard: Shard,
    counters: CoreCounters,
    last_commit: Option<CommitReport>,
    /// End-to-end latency (ns) of ingest acknowledgements and of queries received on this core.
    pub ingest_latency: hdrhistogram::Histogram<u64>,
    pub query_latency: hdrhistogram::Histogram<u64>,
}

impl CoreState {
    pub(crate) fn new(core: usize, cores: usize, shard: Shard) -> CoreState {
        CoreState {
            core,
            cores,
            shard,
            counters: CoreCounters::default(),
            last_commit: None,
            ingest_latency: hdrhistogram::Histogram::new_with_bounds(1_000, 600_000_000_000, 3)
                .expect("valid bounds"),
            query_latency: hdrhistogram::Histogram::new_with_bounds(1_000, 600_000_000_000, 3)
                .expect("valid bounds"),
        }
    }

    /// This core's index, which is also its shard's index.
    pub fn core(&self) -> usize {
        self.core
    }

    /// Number of cores (and shards).
    pub fn cores(&self) -> usize {
        self.cores
    }

    pub fn shard(&self) -> &Shard {
        &self.shard
    }

    /// The shard, for scans, DDL and appends. Appends made here are group-committed like
    /// [`CoreState::append`]'s.
    pub fn shard_mut(&mut self) -> &mut Shard {
        &mut self.shard
    }

    /// Stages `batch` in the WAL and the hot buffers (visible to the next scan at once). The
    /// job's caller is answered after the group commit; see the type's durability contract.
    pub fn append(&mut self, batch: &Batch) -> Result<Seq, StorageError> {
        self.shard.append(batch)
    }

    pub fn shard_stats(&self) -> ShardStats {
        self.shard.stats()
    }

    pub fn counters(&self) -> &CoreCounters {
        &self.counters
    }

    pub fn counters_mut(&mut self) -> &mut CoreCounters {
        &mut self.counters
    }

    /// The report of the last successful group commit or tick.
    pub fn last_commit(&self) -> Option<CommitReport> {
        self.last_commit
    }

    /// A marker that changes whenever rows are appended; the mesh compares it around a job to
    /// learn whether the job staged rows that need the group commit.
    pub(crate) fn append_marker(&self) -> u64 {
        self.shard.stats().rows_appended
    }

    /// The group commit: one WAL write for every append staged since the last one.
    pub(crate) fn commit(&mut self) -> Result<CommitReport, StorageError> {
        self.counters.commits += 1;
        let result = self.shard.commit();
        self.note_commit(result)
    }

    /// Records a group commit's report, or counts its failure.
    fn note_commit(
        &mut self,
        result: Result<CommitReport, StorageError>,
    ) -> Result<CommitReport, StorageError> {
        match result {
            Ok(report) => {
                self.last_commit = Some(report);
                Ok(report)
            }
            Err(error) => {
                self.counters.commit_errors += 1;
                Err(error)
            }
        }
    }

    /// The group commit without waiting for a sync (`--fsync always`): the caller acknowledges
    /// once `durable_seq` covers the report's `written_seq` (the sync waker says when to look).
    pub(crate) fn commit_nowait(&mut self) -> Result<CommitReport, StorageError> {
        self.counters.commits += 1;
        let result = self.shard.commit_nowait();
        self.note_commit(result)
    }

    /// Periodic work: batch fsync and age sealing.
    pub(crate) fn tick(&mut self) -> Result<CommitReport, StorageError> {
        self.counters.ticks += 1;
        match self.shard.tick() {
            Ok(report) => {
                self.last_commit = Some(report);
                Ok(report)
            }
            Err(error) => {
                self.counters.tick_errors += 1;
                Err(error)
            }
        }
    }

    /// Shutdown: commit, sync and seal every hot buffer.
    pub(crate) fn seal_all(&mut self) -> Result<CommitReport, StorageError> {
        self.shard.seal_all()
    }
}
