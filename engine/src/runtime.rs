//! Thread-per-core runtime: pinned threads with their own monoio runtime, startup, shutdown.
//!
//! Each core's thread has its own monoio runtime (io_uring, or epoll as fallback), shard,
//! listener, mesh poller and timer.
//!
//! Shutdown, in order: the flag is set and every core's poller is rung; each core stops
//! accepting, lets idle keep-alive connections close and in-flight requests finish (up to
//! `shutdown_grace_ms`), then waits until every core got that far (a request on core A may still
//! need shard B), stops its poller once its queues are empty, runs `Shard::seal_all`, and its
//! thread ends.

use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use monoio::net::{ListenerOpts, TcpListener};
use monoio::time::TimeDriver;
use monoio::{IoUringDriver, LegacyDriver, Runtime, RuntimeBuilder};
use storage::{FsyncPolicy, Shard, StorageError};

use crate::config::Config;
use crate::ctx::CoreCtx;
use crate::mesh::{self, MeshShared};
use crate::state::CoreState;
use crate::task::{catch_panic, panic_message};
use crate::{http, logger};

/// Why the server could not start or did not stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("invalid configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("core {core}: cannot open shard {path}: {source}")]
    OpenShard {
        core: usize,
        path: PathBuf,
        #[source]
        source: StorageError,
    },
    #[error("core {core}: cannot listen on {addr}: {source}")]
    Bind {
        core: usize,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("core {core}: cannot build a runtime: {source}")]
    Runtime {
        core: usize,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the thread of core {core}: {source}")]
    Spawn {
        core: usize,
        #[source]
        source: std::io::Error,
    },
    #[error("core {core}: sealing the shard on shutdown failed: {source}")]
    Seal {
        core: usize,
        #[source]
        source: StorageError,
    },
    #[error("core {core} failed to start: {message}")]
    Startup { core: usize, message: String },
    #[error("core {core} panicked: {message}")]
    Panicked { core: usize, message: String },
    #[error("core {core} is not running")]
    CoreGone { core: usize },
}

/// State every core shares: settings, the mesh queues, and a few atomics.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) started: Instant,
    pub(crate) mesh: MeshShared,
    shutdown: AtomicBool,
    /// Cores that finished serving connections (or never started).
    drained: AtomicUsize,
    /// Cores whose shard is open, WAL replayed, listener bound.
    serving: AtomicUsize,
}

impl Shared {
    pub(crate) fn new(config: Config) -> Shared {
        Shared {
            mesh: MeshShared::new(config.cores, config.queue_depth),
            started: Instant::now(),
            shutdown: AtomicBool::new(false),
            drained: AtomicUsize::new(0),
            serving: AtomicUsize::new(0),
            config,
        }
    }

    pub(crate) fn mesh_cores(&self) -> usize {
        self.config.cores
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.serving.load(Ordering::Acquire) == self.config.cores
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    pub(crate) fn mesh_bell_ring(&self, core: usize) {
        self.mesh.bell(core).ring();
    }

    /// Starts a graceful shutdown (idempotent; callable from any thread, not from a signal
    /// handler).
    pub(crate) fn begin_shutdown(&self) {
        if !self.shutdown.swap(true, Ordering::AcqRel) {
            for core in 0..self.config.cores {
                self.mesh.bell(core).ring();
            }
        }
    }
}

/// Counts a core as done with its connections exactly once: at the drain point of a normal
/// shutdown, or when its thread ends early, so no core waits for one that is gone.
struct DrainMark<'a> {
    shared: &'a Shared,
    marked: std::cell::Cell<bool>,
}

impl DrainMark<'_> {
    fn mark(&self) {
        if !self.marked.replace(true) {
            self.shared.drained.fetch_add(1, Ordering::AcqRel);
        }
    }
}

impl Drop for DrainMark<'_> {
    fn drop(&mut self) {
        self.mark();
    }
}

enum Startup {
    Serving { core: usize, addr: SocketAddr },
    Failed { core: usize, message: String },
}

/// A running server: its threads, its address, and ways to stop it or run code on a core.
pub struct ServerHandle {
    shared: Arc<Shared>,
    threads: Vec<(usize, JoinHandle<Result<(), EngineError>>)>,
    local_addr: SocketAddr,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("local_addr", &self.local_addr)
            .field("cores", &self.shared.config.cores)
            .finish()
    }
}

impl ServerHandle {
    /// Starts every core and returns once all of them serve (shards open, listeners bound), or
    /// the first startup error after stopping the cores that did start.
    pub fn start(config: Config) -> Result<ServerHandle, EngineError> {
        config.validate()?;
        std::fs::create_dir_all(&config.data_dir).map_err(|source| EngineError::DataDir {
            path: config.data_dir.clone(),
            source,
        })?;
        let cores = config.cores;
        let cpus = core_affinity::get_core_ids().unwrap_or_default();
        if cores > cpus.len() && !cpus.is_empty() {
            log::warn!(
                "{cores} cores requested but {} CPUs available: cores will share CPUs",
                cpus.len()
            );
        }
        let shared = Arc::new(Shared::new(config));
        let (startup_tx, startup_rx) = mpsc::channel();
        let mut handle = ServerHandle {
            shared: Arc::clone(&shared),
            threads: Vec::with_capacity(cores),
            local_addr: SocketAddr::new(shared.config.listen, shared.config.http_port),
        };
        // Core 0 binds first so that port 0 becomes one concrete port all cores then share.
        let mut addr = handle.local_addr;
        let mut first_error: Option<EngineError> = None;
        for batch in [0..1, 1..cores] {
            let mut waiting = 0;
            for core in batch {
                let cpu = (!cpus.is_empty()).then(|| cpus[core % cpus.len()]);
                match spawn_core(core, Arc::clone(&shared), addr, cpu, startup_tx.clone()) {
                    Ok(thread) => {
                        handle.threads.push((core, thread));
                        waiting += 1;
                    }
                    Err(error) => {
                        shared.drained.fetch_add(1, Ordering::AcqRel);
                        first_error.get_or_insert(error);
                    }
                }
            }
            // Every started core reports exactly once: serving, or failed.
            while waiting > 0 {
                match startup_rx.recv() {
                    Ok(Startup::Serving { core, addr: bound }) => {
                        if core == 0 {
                            addr = bound;
                        }
                    }
                    Ok(Startup::Failed { core, message }) => {
                        first_error.get_or_insert(EngineError::Startup { core, message });
                    }
                    Err(_) => break,
                }
                waiting -= 1;
            }
            if first_error.is_some() {
                break;
            }
        }
        handle.local_addr = addr;
        if let Some(error) = first_error {
            shared.begin_shutdown();
            let _ = handle.wait();
            return Err(error);
        }
        log::info!(
            "ronto {} serving on http://{} with {cores} cores, data in {}",
            crate::VERSION,
            handle.local_addr,
            shared.config.data_dir.display()
        );
        Ok(handle)
    }

    /// The address the listeners are bound to (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn cores(&self) -> usize {
        self.shared.config.cores
    }

    /// Starts a graceful shutdown; [`ServerHandle::wait`] returns when it is done.
    pub fn shutdown(&self) {
        self.shared.begin_shutdown();
    }

    /// A closure that starts a graceful shutdown, for signal handling threads.
    pub fn shutdown_trigger(&self) -> impl Fn() + Send + Sync + 'static {
        let shared = Arc::clone(&self.shared);
        move || shared.begin_shutdown()
    }

    /// Waits for every core thread to end; the first error wins.
    pub fn wait(mut self) -> Result<(), EngineError> {
        let mut result = Ok(());
        for (core, thread) in self.threads.drain(..) {
            let outcome = match thread.join() {
                Ok(outcome) => outcome,
                Err(payload) => Err(EngineError::Panicked {
                    core,
                    message: panic_message(payload.as_ref()),
                }),
            };
            if let Err(error) = outcome {
                log::error!("{error}");
                if result.is_ok() {
                    result = Err(error);
                }
            }
        }
        result
    }

    /// Runs `f(ctx)` as a task on `core` and blocks the calling (non-runtime) thread until it
    /// finishes. For tests, tools and benchmarks; do not call it from a core's own thread.
    pub fn run_on_core<T, F, Fut>(&self, core: usize, f: F) -> Result<T, EngineError>
    where
        F: FnOnce(CoreCtx) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = T> + 'static,
        T: Send + 'static,
    {
        if core >= self.cores() || self.shared.is_shutting_down() {
            return Err(EngineError::CoreGone { core });
        }
        let (tx, rx) = mpsc::sync_channel(1);
        let mut job: mesh::ControlJob = Box::new(move |ctx: &CoreCtx| {
            let ctx = ctx.clone();
            monoio::spawn(async move {
                match catch_panic(f(ctx)).await {
                    Ok(value) => {
                        let _ = tx.send(value);
                    }
                    Err(message) => log::error!("control task panicked: {message}"),
                }
            });
        });
        // The inbox is small; wait (bounded) for room.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.shared.mesh.send_control(core, job) {
                Ok(()) => break,
                Err(returned) if Instant::now() < deadline => {
                    job = returned;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(_) => return Err(EngineError::CoreGone { core }),
            }
        }
        rx.recv().map_err(|_| EngineError::CoreGone { core })
    }
}

fn spawn_core(
    core: usize,
    shared: Arc<Shared>,
    addr: SocketAddr,
    cpu: Option<core_affinity::CoreId>,
    startup: mpsc::Sender<Startup>,
) -> Result<JoinHandle<Result<(), EngineError>>, EngineError> {
    std::thread::Builder::new()
        .name(format!("ronto-core-{core}"))
        .spawn(move || {
            logger::set_core(core);
            if let Some(cpu) = cpu {
                if !core_affinity::set_for_current(cpu) {
                    log::warn!("could not pin to CPU {}", cpu.id);
                }
            }
            let drain = DrainMark {
                shared: &shared,
                marked: std::cell::Cell::new(false),
            };
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                run_core(core, &shared, addr, &startup, &drain)
            }));
            drop(drain);
            let result = match outcome {
                Ok(result) => result,
                Err(payload) => Err(EngineError::Panicked {
                    core,
                    message: panic_message(payload.as_ref()),
                }),
            };
            if let Err(error) = &result {
                // Whatever happened, do not leave the other cores waiting for this one.
                let _ = startup.send(Startup::Failed {
                    core,
                    message: error.to_string(),
                });
                shared.begin_shutdown();
            }
            result
        })
        .map_err(|source| EngineError::Spawn { core, source })
}

/// The runtime a core ended up with.
enum CoreRuntime {
    Uring(Runtime<TimeDriver<IoUringDriver>>),
    Legacy(Runtime<TimeDriver<LegacyDriver>>),
}

/// io_uring with `COOP_TASKRUN` and `SINGLE_ISSUER` (the ring is only ever touched by this
/// thread), then plain io_uring, then epoll. `MONOIO_FORCE_LEGACY_DRIVER=1` skips io_uring.
fn build_runtime() -> std::io::Result<CoreRuntime> {
    let forced = std::env::var("MONOIO_FORCE_LEGACY_DRIVER")
        .is_ok_and(|value| matches!(value.to_ascii_lowercase().as_str(), "1" | "true" | "yes"));
    if !forced && monoio::utils::detect_uring() {
        let mut uring = io_uring::IoUring::builder();
        uring.setup_coop_taskrun().setup_single_issuer();
        match RuntimeBuilder::<IoUringDriver>::new()
            .uring_builder(uring)
            .enable_timer()
            .build()
        {
            Ok(runtime) => return Ok(CoreRuntime::Uring(runtime)),
            Err(error) => log::warn!("io_uring with coop_taskrun and single_issuer unavailable ({error}); trying plain io_uring"),
        }
        match RuntimeBuilder::<IoUringDriver>::new()
            .enable_timer()
            .build()
        {
            Ok(runtime) => return Ok(CoreRuntime::Uring(runtime)),
            Err(error) => log::warn!("io_uring unavailable ({error}); using epoll"),
        }
    }
    Ok(CoreRuntime::Legacy(
        RuntimeBuilder::<LegacyDriver>::new()
            .enable_timer()
            .build()?,
    ))
}

fn run_core(
    core: usize,
    shared: &Arc<Shared>,
    addr: SocketAddr,
    startup: &mpsc::Sender<Startup>,
    drain: &DrainMark<'_>,
) -> Result<(), EngineError> {
    let path = shared.config.shard_dir(core);
    let (shard, _report) = Shard::open(&path, shared.config.shard_config()).map_err(|source| {
        EngineError::OpenShard {
            core,
            path: path.clone(),
            source,
        }
    })?;
    let state = CoreState::new(core, shared.config.cores, shard);
    let runtime = build_runtime().map_err(|source| EngineError::Runtime { core, source })?;
    let shared = Arc::clone(shared);
    let startup = startup.clone();
    match runtime {
        CoreRuntime::Uring(mut runtime) => runtime.block_on(core_main(
            core, shared, state, addr, startup, drain, "io_uring",
        )),
        CoreRuntime::Legacy(mut runtime) => runtime.block_on(core_main(
            core, shared, state, addr, startup, drain, "epoll",
        )),
    }
}

async fn core_main(
    core: usize,
    shared: Arc<Shared>,
    state: CoreState,
    addr: SocketAddr,
    startup: mpsc::Sender<Startup>,
    drain: &DrainMark<'_>,
    driver: &'static str,
) -> Result<(), EngineError> {
    let options = ListenerOpts::new()
        .reuse_port(true)
        .reuse_addr(true)
        .backlog(1024);
    let listener = TcpListener::bind_with_config(addr, &options)
        .map_err(|source| EngineError::Bind { core, addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| EngineError::Bind { core, addr, source })?;
    let ctx = CoreCtx::new(core, Arc::clone(&shared), state, driver);
    let poller = monoio::spawn(mesh::run_poller(ctx.clone()));
    monoio::spawn(housekeeping(ctx.clone()));
    let acceptor = monoio::spawn(http::accept_loop(ctx.clone(), listener));
    // The optional raw TCP line-protocol listener (fire and forget; see ilp.rs).
    let ilp_acceptor = match shared.config.ilp_port {
        Some(port) => {
            let ilp_addr = SocketAddr::new(shared.config.listen, port);
            let ilp = TcpListener::bind_with_config(ilp_addr, &options).map_err(|source| {
                EngineError::Bind {
                    core,
                    addr: ilp_addr,
                    source,
                }
            })?;
            if core == 0 {
                log::info!("line protocol over TCP on {ilp_addr}");
            }
            Some(monoio::spawn(crate::ilp::accept_loop(ctx.clone(), ilp)))
        }
        None => None,
    };
    shared.serving.fetch_add(1, Ordering::AcqRel);
    let _ = startup.send(Startup::Serving { core, addr: bound });
    log::info!("serving on {bound} ({driver})");

    ctx.inner().shutdown.wait().await;
    acceptor.await;
    if let Some(ilp_acceptor) = ilp_acceptor {
        ilp_acceptor.await;
    }
    let grace = Duration::from_millis(shared.config.shutdown_grace_ms);
    let deadline = Instant::now() + grace;
    while ctx.connections() > 0 && Instant::now() < deadline {
        monoio::time::sleep(Duration::from_millis(2)).await;
    }
    if ctx.connections() > 0 {
        log::warn!(
            "closing {} connections still busy after the grace period",
            ctx.connections()
        );
    }
    // Other cores' last requests may still need this shard: wait for all of them.
    drain.mark();
    let deadline = Instant::now() + grace + Duration::from_secs(5);
    while shared.drained.load(Ordering::Acquire) < shared.config.cores && Instant::now() < deadline
    {
        monoio::time::sleep(Duration::from_millis(1)).await;
    }
    ctx.inner().mesh.stop.set(true);
    shared.mesh_bell_ring(core);
    poller.await;
    let report = ctx
        .inner()
        .state
        .borrow_mut()
        .seal_all()
        .map_err(|source| EngineError::Seal { core, source })?;
    log::info!(
        "shard sealed (durable seq {}); core stopped",
        report.durable_seq
    );
    Ok(())
}

/// The per-core timer: `Shard::tick` (batch fsync, age sealing) every fsync interval.
async fn housekeeping(ctx: CoreCtx) {
    let period_ms = match ctx.config().fsync {
        FsyncPolicy::Batch { interval_ms } => u64::from(interval_ms).clamp(1, 1000),
        FsyncPolicy::Always | FsyncPolicy::Never => 100,
    };
    let period = Duration::from_millis(period_ms);
    let mut failures = 0u64;
    loop {
        monoio::time::sleep(period).await;
        if ctx.inner().mesh.stop.get() {
            return;
        }
        let result = ctx.inner().state.borrow_mut().tick();
        if let Err(error) = result {
            failures += 1;
            // Log the first failure and then every thousandth, not one line per tick.
            if failures % 1000 == 1 {
                log::error!("shard tick failed ({failures} times so far): {error}");
            }
        }
    }
}
