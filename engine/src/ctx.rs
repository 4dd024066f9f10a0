//! `CoreCtx`: the handle a task on a core uses to reach shards and server-wide settings.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::mesh::{self, MeshError, MeshLocal};
use crate::runtime::Shared;
use crate::state::CoreState;
use crate::task::LocalNotify;

/// A cheap, clonable handle for tasks running on one core. It is `!Send`: it never leaves its
/// core's thread (work for another core goes through [`CoreCtx::call`]).
#[derive(Clone)]
pub struct CoreCtx {
    inner: Rc<CoreInner>,
}

impl std::fmt::Debug for CoreCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreCtx")
            .field("core", &self.inner.core)
            .finish()
    }
}

pub(crate) struct CoreInner {
    pub(crate) core: usize,
    pub(crate) shared: Arc<Shared>,
    pub(crate) state: RefCell<CoreState>,
    pub(crate) mesh: MeshLocal,
    /// Fired (by the poller) when the server starts shutting down.
    pub(crate) shutdown: Rc<LocalNotify>,
    pub(crate) request_counter: Cell<u64>,
    pub(crate) connections: Cell<usize>,
    pub(crate) driver: &'static str,
}

impl CoreCtx {
    pub(crate) fn new(
        core: usize,
        shared: Arc<Shared>,
        state: CoreState,
        driver: &'static str,
    ) -> CoreCtx {
        let cores = shared.mesh_cores();
        CoreCtx {
            inner: Rc::new(CoreInner {
                core,
                shared,
                state: RefCell::new(state),
                mesh: MeshLocal::new(cores),
                shutdown: Rc::new(LocalNotify::default()),
                request_counter: Cell::new(0),
                connections: Cell::new(0),
                driver,
            }),
        }
    }

    pub(crate) fn inner(&self) -> &CoreInner {
        &self.inner
    }

    /// This core's index (= the index of the shard it owns).
    pub fn core(&self) -> usize {
        self.inner.core
    }

    /// Number of cores (= shards).
    pub fn cores(&self) -> usize {
        self.inner.shared.mesh_cores()
    }

    pub fn config(&self) -> &Config {
        &self.inner.shared.config
    }

    /// Time since the server started.
    pub fn uptime(&self) -> Duration {
        self.inner.shared.started.elapsed()
    }

    /// Every shard is open and its WAL replayed.
    pub fn is_ready(&self) -> bool {
        self.inner.shared.is_ready()
    }

    /// The server is draining: finish what is in flight, accept nothing new.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shared.is_shutting_down()
    }

    /// `"io_uring"` or `"epoll"`.
    pub fn driver(&self) -> &'static str {
        self.inner.driver
    }

    /// The shard that owns a symbol (stable hash, `storage::shard_of_symbol`).
    pub fn shard_of_symbol(&self, symbol: &str) -> usize {
        storage::shard_of_symbol(symbol.as_bytes(), self.cores())
    }

    /// The shard that owns an integer symbol.
    pub fn shard_of_int(&self, symbol: u64) -> usize {
        storage::shard_of_int(symbol, self.cores())
    }

    /// Runs `f` with `&mut CoreState` on the thread that owns `shard` and returns its result.
    ///
    /// The local shard runs `f` inline (no queue). A remote shard gets it through the SPSC
    /// queue; when this core already has `queue_depth` calls in flight to it, the call waits up
    /// to `mesh_wait_ms` and then fails with [`MeshError::Busy`]. If `f` appended rows, the
    /// result arrives only after the group commit that made them durable (or as
    /// [`MeshError::Commit`]). A panic in `f` becomes [`MeshError::Panicked`]. Dropping the
    /// future abandons the result, not the job.
    pub async fn call<R, F>(&self, shard: usize, f: F) -> Result<R, MeshError>
    where
        F: FnOnce(&mut CoreState) -> R + Send + 'static,
        R: Send + 'static,
    {
        mesh::call(self, shard, f).await
    }

    /// Runs `f` on every shard concurrently; the results come back in shard order.
    pub async fn call_all<R, F>(&self, f: F) -> Vec<Result<R, MeshError>>
    where
        F: FnOnce(&mut CoreState) -> R + Clone + Send + 'static,
        R: Send + 'static,
    {
        mesh::call_all(self, f).await
    }

    /// Synchronous access to this core's own state, for bookkeeping (counters). Rows appended
    /// here are committed by the poller's next iteration, but nobody waits for that: use
    /// `call(ctx.core(), ..)` for appends whose caller must know they are durable.
    pub fn with_state<R>(&self, f: impl FnOnce(&mut CoreState) -> R) -> R {
        let mut state = self.inner.state.borrow_mut();
        let before = state.append_marker();
        let result = f(&mut state);
        if state.append_marker() != before {
            self.inner.mesh.request_commit();
            self.inner.shared.mesh_bell_ring(self.inner.core);
        }
        result
    }

    /// A new request id, unique within this server run: `<core>-<counter>`.
    pub fn next_request_id(&self) -> String {
        let counter = self.inner.request_counter.get() + 1;
        self.inner.request_counter.set(counter);
        format!("{}-{counter}", self.inner.core)
    }

    /// Open HTTP connections on this core.
    pub fn connections(&self) -> usize {
        self.inner.connections.get()
    }
}
