//! The shard mesh: SPSC queues between all cores, `call`/`call_all`, the poller, doorbells.
//!
//! # Shape
//!
//! `queue(a, b)` carries everything core `a` sends core `b`: `a`'s calls to `b`, and `a`'s
//! replies to `b`'s calls. Only `a`'s thread pushes and only `b`'s thread pops (SPSC use of a
//! crossbeam `ArrayQueue`). A core may have at most `queue_depth` calls in flight to another
//! (credits, counted locally by the caller), so a queue holds at most `queue_depth` calls plus
//! `queue_depth` replies, and its capacity is `2 * queue_depth`: a reply never finds its queue
//! full. A caller out of credits waits up to `mesh_wait_ms`, then gets [`MeshError::Busy`]
//! (HTTP 503 with `Retry-After`): that is the back-pressure.
//!
//! # Poller, spinning and parking
//!
//! Each core runs one poller task. One iteration: run external control jobs, drain every inbound
//! queue (calls run with `&mut CoreState`, replies complete the caller's future), run **one**
//! `Shard::commit` if any job of the iteration (or a local call) appended rows, then send the
//! replies, failures of that commit included, and ring the doorbells of the cores it sent to.
//!
//! Waking a parked runtime (eventfd write, io_uring wait returns, monoio's cross-thread waker
//! channel) costs tens of microseconds, so an idle poller first keeps polling, yielding to the
//! core's other tasks between rounds, for `mesh_spin_us` (default 50 µs) after its last work, or
//! four times that while this core itself awaits replies. Then it parks: it stores its waker in its
//! `Bell`, sets `parked`, re-checks its queues (the store/fence/check pairs with the sender's
//! push/fence/load, so a message is never missed) and sleeps. A sender that sees `parked` takes
//! the waker and wakes it; a sender to a polling core pays one fence and one load.
//!
//! Two monoio facts shape the spinning. A task that wakes itself is re-queued at the *front*, so
//! the poller yields through a helper task (`task::Yielder`) to let the connections of its core
//! run between rounds. And timers fire only when the runtime parks, which it does not while the
//! poller spins; so every millisecond of continuous polling the poller awaits an expired timer
//! (`task::runtime_turn`), which lets the runtime park once with a zero timeout. Timers on a
//! core under sustained mesh traffic fire at most about a millisecond late.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use storage::StorageError;

use crate::ctx::CoreCtx;
use crate::state::CoreState;
use crate::task::{join_all, panic_message, runtime_turn, WaitSet, Yielder};

/// Why a mesh call did not produce the job's result.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MeshError {
    /// The target's queue stayed full (this core had `queue_depth` calls in flight to it) for
    /// `waited_ms`: back off and retry. HTTP: 503 with `Retry-After`.
    #[error("shard {shard} is busy: {waited_ms} ms without room in its queue")]
    Busy { shard: usize, waited_ms: u64 },
    /// A shard index outside `0..cores` (a bug in the caller).
    #[error("no shard {shard}: the server has {cores}")]
    NoSuchShard { shard: usize, cores: usize },
    /// The job appended rows but the group commit that should have made them durable failed.
    #[error("group commit failed: {0}")]
    Commit(Arc<StorageError>),
    /// The job panicked (a bug); the shard's thread survived it.
    #[error("job on shard {shard} panicked: {message}")]
    Panicked { shard: usize, message: String },
}

impl MeshError {
    /// The HTTP status that answers this error.
    pub fn http_status(&self) -> u16 {
        match self {
            MeshError::Busy { .. } => 503,
            MeshError::NoSuchShard { .. } | MeshError::Commit(_) | MeshError::Panicked { .. } => {
                500
            }
        }
    }
}

/// Completes a caller's future on the caller's core; gets the group-commit failure, if any.
type Deliver = Box<dyn FnOnce(Option<MeshError>) + Send>;

/// What a job left behind: how to answer, and whether it staged rows that need the commit.
struct Ran {
    deliver: Deliver,
    staged: bool,
}

/// A job for the target core, type-erased.
type Job = Box<dyn FnOnce(&mut CoreState) -> Ran + Send>;

/// A job from outside the runtimes (tests, tools): runs on the core with its context.
pub(crate) type ControlJob = Box<dyn FnOnce(&CoreCtx) + Send>;

enum Envelope {
    Call(Job),
    Reply {
        deliver: Deliver,
        failure: Option<MeshError>,
    },
}

/// Most control jobs waiting per core.
const INBOX_CAPACITY: usize = 64;

/// A poller that has not let its runtime park for this long does so (without blocking) so that
/// timers fire on time under sustained mesh traffic.
const RUNTIME_TURN_EVERY: Duration = Duration::from_millis(1);

/// While this core awaits replies its poller polls this many times longer than `mesh_spin_us`
/// (long enough to cover a parked target's wake-up), before parking.
const SPIN_AWAITING_FACTOR: u32 = 4;

/// One core's doorbell: how other threads wake its parked poller.
pub(crate) struct Bell {
    parked: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Bell {
    fn new() -> Bell {
        Bell {
            parked: AtomicBool::new(false),
            waker: Mutex::new(None),
        }
    }

    /// Wakes the poller if it is parked. Call after making the work visible (pushing it).
    pub(crate) fn ring(&self) {
        // Pairs with the fence in `Park::poll`: either we see `parked` or the poller sees our
        // message when it re-checks its queues.
        fence(Ordering::SeqCst);
        if self.parked.load(Ordering::Relaxed) && self.parked.swap(false, Ordering::SeqCst) {
            let waker = self.waker.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }

    fn set_waker(&self, waker: Option<Waker>) {
        *self.waker.lock().unwrap_or_else(|e| e.into_inner()) = waker;
    }
}

/// The cross-thread part of the mesh, shared by every core.
pub(crate) struct MeshShared {
    cores: usize,
    queue_depth: usize,
    /// `queues[from * cores + to]`; the diagonal is unused.
    queues: Vec<ArrayQueue<Envelope>>,
    bells: Vec<Bell>,
    inboxes: Vec<ArrayQueue<ControlJob>>,
}

impl MeshShared {
    pub(crate) fn new(cores: usize, queue_depth: usize) -> MeshShared {
        assert!(cores >= 1 && queue_depth >= 1);
        let capacity = 2 * queue_depth;
        MeshShared {
            cores,
            queue_depth,
            queues: (0..cores * cores)
                .map(|_| ArrayQueue::new(capacity))
                .collect(),
            bells: (0..cores).map(|_| Bell::new()).collect(),
            inboxes: (0..cores)
                .map(|_| ArrayQueue::new(INBOX_CAPACITY))
                .collect(),
        }
    }

    fn queue(&self, from: usize, to: usize) -> &ArrayQueue<Envelope> {
        debug_assert!(from != to && from < self.cores && to < self.cores);
        &self.queues[from * self.cores + to]
    }

    pub(crate) fn bell(&self, core: usize) -> &Bell {
        &self.bells[core]
    }

    /// Hands a control job to `core` (from any thread). `Err` gives the job back when the
    /// inbox is full.
    pub(crate) fn send_control(&self, core: usize, job: ControlJob) -> Result<(), ControlJob> {
        self.inboxes[core].push(job)?;
        self.bells[core].ring();
        Ok(())
    }
}

/// The core-local part of the mesh: credits, waiters, and work waiting for the group commit.
pub(crate) struct MeshLocal {
    /// Calls in flight from this core, per target.
    credits_used: Vec<Cell<usize>>,
    credit_waiters: Vec<WaitSet>,
    outstanding: Cell<usize>,
    /// Results of local calls that appended, delivered after the next group commit.
    pending_local: RefCell<Vec<Deliver>>,
    /// Somebody appended through `CoreCtx::with_state`: commit at the next iteration.
    commit_requested: Cell<bool>,
    /// Messages that found their queue full; only a broken credit invariant puts them here.
    overflow: RefCell<VecDeque<(usize, Envelope)>>,
    /// Under `--fsync always`: results held until the sync thread makes their WAL write
    /// durable, oldest first (seqs only grow).
    awaiting_durable: RefCell<VecDeque<AwaitingDurable>>,
    /// Set by the runtime at the very end of shutdown: the poller exits when idle.
    pub(crate) stop: Cell<bool>,
}

impl MeshLocal {
    pub(crate) fn new(cores: usize) -> MeshLocal {
        MeshLocal {
            credits_used: (0..cores).map(|_| Cell::new(0)).collect(),
            credit_waiters: (0..cores).map(|_| WaitSet::default()).collect(),
            outstanding: Cell::new(0),
            pending_local: RefCell::new(Vec::new()),
            commit_requested: Cell::new(false),
            overflow: RefCell::new(VecDeque::new()),
            awaiting_durable: RefCell::new(VecDeque::new()),
            stop: Cell::new(false),
        }
    }

    pub(crate) fn request_commit(&self) {
        self.commit_requested.set(true);
    }

    /// Calls this core has in flight to other cores.
    pub(crate) fn outstanding(&self) -> usize {
        self.outstanding.get()
    }
}

/// Results of one group commit under `--fsync always`, delivered once `seq` is durable.
struct AwaitingDurable {
    seq: storage::Seq,
    /// Replies to other cores' calls: (caller core, result).
    replies: Vec<(usize, Deliver)>,
    /// Results of this core's own calls that appended.
    local: Vec<Deliver>,
}

/// Whether the oldest held group commit can be answered: it became durable, or syncs failed.
fn durable_ready(ctx: &CoreCtx) -> bool {
    let inner = ctx.inner();
    let awaiting = inner.mesh.awaiting_durable.borrow();
    let Some(front) = awaiting.front() else {
        return false;
    };
    let state = inner.state.borrow();
    state.shard().durable_seq() >= front.seq || state.shard().sync_error().is_err()
}

/// Answers every held group commit the sync thread has made durable (or, after a failed sync,
/// every one, with the failure). Returns how many were answered.
fn release_durable(ctx: &CoreCtx, ring: &mut [bool]) -> usize {
    let inner = ctx.inner();
    if inner.mesh.awaiting_durable.borrow().is_empty() {
        return 0;
    }
    let (durable, failure) = {
        let state = inner.state.borrow();
        let failure = state
            .shard()
            .sync_error()
            .err()
            .map(|e| MeshError::Commit(Arc::new(e)));
        (state.shard().durable_seq(), failure)
    };
    let mut released = 0;
    loop {
        let entry = {
            let mut awaiting = inner.mesh.awaiting_durable.borrow_mut();
            match awaiting.front() {
                Some(front) if front.seq <= durable || failure.is_some() => awaiting.pop_front(),
                _ => None,
            }
        };
        let Some(entry) = entry else { break };
        released += 1;
        for (destination, deliver) in entry.replies {
            send(
                ctx,
                destination,
                Envelope::Reply {
                    deliver,
                    failure: failure.clone(),
                },
            );
            ring[destination] = true;
        }
        for deliver in entry.local {
            deliver(failure.clone());
        }
    }
    released
}

/// Where a call's result lands; shared by the caller's future and the `Deliver` closure.
struct ReplySlot<R> {
    state: Mutex<SlotState<R>>,
}

enum SlotState<R> {
    Empty,
    Waiting(Waker),
    Done(Result<R, MeshError>),
    Taken,
}

impl<R> ReplySlot<R> {
    fn new() -> ReplySlot<R> {
        ReplySlot {
            state: Mutex::new(SlotState::Empty),
        }
    }

    fn complete(&self, value: Result<R, MeshError>) {
        let previous = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::replace(&mut *state, SlotState::Done(value))
        };
        debug_assert!(matches!(previous, SlotState::Empty | SlotState::Waiting(_)));
        if let SlotState::Waiting(waker) = previous {
            waker.wake();
        }
    }
}

/// Awaits a [`ReplySlot`]. Dropping it abandons the result; the job still runs.
struct ReplyFuture<R> {
    slot: Arc<ReplySlot<R>>,
}

impl<R> Future for ReplyFuture<R> {
    type Output = Result<R, MeshError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.slot.state.lock().unwrap_or_else(|e| e.into_inner());
        match std::mem::replace(&mut *state, SlotState::Taken) {
            SlotState::Done(value) => Poll::Ready(value),
            SlotState::Empty | SlotState::Waiting(_) => {
                *state = SlotState::Waiting(cx.waker().clone());
                Poll::Pending
            }
            SlotState::Taken => panic!("ReplyFuture polled after completion"),
        }
    }
}

/// Runs `f` on the core owning `shard`; see [`CoreCtx::call`].
pub(crate) async fn call<R, F>(ctx: &CoreCtx, shard: usize, f: F) -> Result<R, MeshError>
where
    F: FnOnce(&mut CoreState) -> R + Send + 'static,
    R: Send + 'static,
{
    let inner = ctx.inner();
    let mesh = &inner.shared.mesh;
    if shard >= mesh.cores {
        return Err(MeshError::NoSuchShard {
            shard,
            cores: mesh.cores,
        });
    }
    if shard == inner.core {
        return call_local(ctx, f).await;
    }
    acquire_credit(ctx, shard).await?;
    let slot = Arc::new(ReplySlot::new());
    let job = make_job(shard, f, Arc::clone(&slot));
    send(ctx, shard, Envelope::Call(job));
    mesh.bell(shard).ring();
    // Our own poller must be awake (spinning) to pick up the reply quickly.
    mesh.bell(inner.core).ring();
    ReplyFuture { slot }.await
}

/// Runs `f` on every shard concurrently; results in shard order.
pub(crate) async fn call_all<R, F>(ctx: &CoreCtx, f: F) -> Vec<Result<R, MeshError>>
where
    F: FnOnce(&mut CoreState) -> R + Clone + Send + 'static,
    R: Send + 'static,
{
    let calls: Vec<_> = (0..ctx.cores())
        .map(|shard| call(ctx, shard, f.clone()))
        .collect();
    join_all(calls).await
}

async fn call_local<R, F>(ctx: &CoreCtx, f: F) -> Result<R, MeshError>
where
    F: FnOnce(&mut CoreState) -> R + Send + 'static,
    R: Send + 'static,
{
    let inner = ctx.inner();
    let shard = inner.core;
    let (result, staged) = {
        let mut state = inner.state.borrow_mut();
        state.counters_mut().mesh_jobs_local += 1;
        let before = state.append_marker();
        let result = catch_unwind(AssertUnwindSafe(|| f(&mut state))).map_err(|payload| {
            MeshError::Panicked {
                shard,
                message: panic_message(payload.as_ref()),
            }
        });
        (result, state.append_marker() != before)
    };
    if !staged {
        return result;
    }
    // Appended: answer after the poller's next group commit, like a remote caller.
    let slot = Arc::new(ReplySlot::new());
    let target = Arc::clone(&slot);
    inner
        .mesh
        .pending_local
        .borrow_mut()
        .push(Box::new(move |failure| {
            target.complete(match failure {
                Some(error) => Err(error),
                None => result,
            })
        }));
    inner.shared.mesh.bell(shard).ring();
    ReplyFuture { slot }.await
}

fn make_job<R, F>(shard: usize, f: F, slot: Arc<ReplySlot<R>>) -> Job
where
    F: FnOnce(&mut CoreState) -> R + Send + 'static,
    R: Send + 'static,
{
    Box::new(move |state: &mut CoreState| {
        let before = state.append_marker();
        let result =
            catch_unwind(AssertUnwindSafe(|| f(state))).map_err(|payload| MeshError::Panicked {
                shard,
                message: panic_message(payload.as_ref()),
            });
        let staged = state.append_marker() != before;
        let deliver: Deliver = Box::new(move |failure| {
            slot.complete(match failure {
                Some(error) => Err(error),
                None => result,
            })
        });
        Ran { deliver, staged }
    })
}

/// Pushes onto `queue(this core, to)`. Credits guarantee room; if that invariant is ever broken
/// the message waits in the overflow list (and debug builds stop loudly).
fn send(ctx: &CoreCtx, to: usize, envelope: Envelope) {
    let inner = ctx.inner();
    if let Err(envelope) = inner.shared.mesh.queue(inner.core, to).push(envelope) {
        debug_assert!(
            false,
            "mesh queue {}->{to} full despite credits",
            inner.core
        );
        log::error!("mesh queue to core {to} full despite credits; holding the message locally");
        inner.mesh.overflow.borrow_mut().push_back((to, envelope));
    }
}

/// Takes one credit for calls to `target`, waiting up to `mesh_wait_ms` for one.
async fn acquire_credit(ctx: &CoreCtx, target: usize) -> Result<(), MeshError> {
    let inner = ctx.inner();
    let depth = inner.shared.mesh.queue_depth;
    let take = || {
        let used = &inner.mesh.credits_used[target];
        if used.get() < depth {
            used.set(used.get() + 1);
            inner.mesh.outstanding.set(inner.mesh.outstanding.get() + 1);
            true
        } else {
            false
        }
    };
    if take() {
        return Ok(());
    }
    let waited_ms = inner.shared.config.mesh_wait_ms;
    let waiters = &inner.mesh.credit_waiters[target];
    let wait = CreditWait {
        waiters,
        key: None,
        take,
        timeout: Box::pin(monoio::time::sleep(Duration::from_millis(waited_ms))),
    };
    if wait.await {
        Ok(())
    } else {
        inner.state.borrow_mut().counters_mut().mesh_busy += 1;
        Err(MeshError::Busy {
            shard: target,
            waited_ms,
        })
    }
}

/// Resolves `true` once a credit was taken, `false` when the timeout fired first.
struct CreditWait<'a, T: FnMut() -> bool + Unpin> {
    waiters: &'a WaitSet,
    key: Option<u64>,
    take: T,
    timeout: Pin<Box<monoio::time::Sleep>>,
}

impl<T: FnMut() -> bool + Unpin> Future for CreditWait<'_, T> {
    type Output = bool;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        let this = self.get_mut();
        if (this.take)() {
            return Poll::Ready(true);
        }
        if this.timeout.as_mut().poll(cx).is_ready() {
            return Poll::Ready(false);
        }
        this.waiters.register(&mut this.key, cx.waker());
        Poll::Pending
    }
}

impl<T: FnMut() -> bool + Unpin> Drop for CreditWait<'_, T> {
    fn drop(&mut self) {
        self.waiters.remove(self.key);
    }
}

fn release_credit(ctx: &CoreCtx, target: usize) {
    let local = &ctx.inner().mesh;
    let used = &local.credits_used[target];
    debug_assert!(used.get() > 0, "reply without a call in flight");
    used.set(used.get().saturating_sub(1));
    local
        .outstanding
        .set(local.outstanding.get().saturating_sub(1));
    local.credit_waiters[target].wake_all();
}

/// The per-core poller task; see the module docs. Returns once `MeshLocal::stop` is set and
/// nothing is left to do.
pub(crate) async fn run_poller(ctx: CoreCtx) {
    let inner = ctx.inner();
    let me = inner.core;
    let mesh = &inner.shared.mesh;
    let spin = Duration::from_micros(inner.shared.config.mesh_spin_us);
    let spin_awaiting = spin * SPIN_AWAITING_FACTOR;
    let mut ran: Vec<(usize, Ran)> = Vec::new();
    let mut ring = vec![false; mesh.cores];
    let mut last_work = Instant::now();
    let mut polls = 0u64;
    let mut last_turn = Instant::now();
    let yielder = std::rc::Rc::new(Yielder::default());
    // Detached: it lives, parked, as long as the runtime.
    monoio::spawn(std::rc::Rc::clone(&yielder).run_helper());
    // Under `always` the group commit does not wait for its sync on this thread (which would
    // stall every connection of the core for an fdatasync): results are held until the sync
    // thread reports the write durable, and it rings this core's bell when it does.
    let hold_for_sync = inner.shared.config.fsync == storage::FsyncPolicy::Always;
    if hold_for_sync {
        let shared = Arc::clone(&inner.shared);
        inner
            .state
            .borrow_mut()
            .shard_mut()
            .set_sync_waker(Some(Arc::new(move || shared.mesh.bell(me).ring())));
    }
    loop {
        let mut work = 0usize;
        if inner.shared.is_shutting_down() && !inner.shutdown.is_fired() {
            inner.shutdown.notify();
            work += 1;
        }
        while let Some(job) = mesh.inboxes[me].pop() {
            job(&ctx);
            work += 1;
        }
        for source in (0..mesh.cores).filter(|&source| source != me) {
            let queue = mesh.queue(source, me);
            // Bounded per iteration so replies and the commit are not starved by a busy sender.
            for _ in 0..queue.capacity() {
                let Some(envelope) = queue.pop() else { break };
                work += 1;
                match envelope {
                    Envelope::Call(job) => {
                        let mut state = inner.state.borrow_mut();
                        state.counters_mut().mesh_jobs_remote += 1;
                        ran.push((source, job(&mut state)));
                    }
                    Envelope::Reply { deliver, failure } => {
                        deliver(failure);
                        release_credit(&ctx, source);
                    }
                }
            }
        }

        // Group commit: one WAL write for every append of this iteration.
        let local_pending = std::mem::take(&mut *inner.mesh.pending_local.borrow_mut());
        let needs_commit = ran.iter().any(|(_, ran)| ran.staged)
            || !local_pending.is_empty()
            || inner.mesh.commit_requested.replace(false);
        let mut held_until = None;
        let failure = if needs_commit {
            let committed = if hold_for_sync {
                inner.state.borrow_mut().commit_nowait()
            } else {
                inner.state.borrow_mut().commit()
            };
            match committed {
                Ok(report) => {
                    if hold_for_sync && report.durable_seq < report.written_seq {
                        held_until = Some(report.written_seq);
                    }
                    None
                }
                Err(error) => {
                    log::error!("group commit failed: {error}");
                    Some(MeshError::Commit(Arc::new(error)))
                }
            }
        } else {
            None
        };
        let mut held = held_until.map(|seq| AwaitingDurable {
            seq,
            replies: Vec::new(),
            local: Vec::new(),
        });
        for (destination, Ran { deliver, staged }) in ran.drain(..) {
            match (&mut held, staged) {
                (Some(h), true) => h.replies.push((destination, deliver)),
                _ => {
                    let failure = if staged { failure.clone() } else { None };
                    send(&ctx, destination, Envelope::Reply { deliver, failure });
                    ring[destination] = true;
                }
            }
        }
        match &mut held {
            Some(h) => h.local = local_pending,
            None => {
                for deliver in local_pending {
                    deliver(failure.clone());
                }
            }
        }
        if let Some(h) = held {
            inner.mesh.awaiting_durable.borrow_mut().push_back(h);
        }
        work += release_durable(&ctx, &mut ring);
        retry_overflow(&ctx, &mut ring);
        for (core, flag) in ring.iter_mut().enumerate() {
            if std::mem::take(flag) {
                mesh.bell(core).ring();
            }
        }

        polls += 1;
        let now = Instant::now();
        if now.duration_since(last_turn) >= RUNTIME_TURN_EVERY {
            runtime_turn().await;
            last_turn = Instant::now();
        }
        if work > 0 || needs_commit {
            last_work = now;
            yielder.yield_now().await;
            continue;
        }
        if inner.mesh.stop.get() && inner.mesh.awaiting_durable.borrow().is_empty() {
            if hold_for_sync {
                inner.state.borrow_mut().shard_mut().set_sync_waker(None);
            }
            return;
        }
        let window = if inner.mesh.outstanding() > 0 {
            spin_awaiting
        } else {
            spin
        };
        if now.duration_since(last_work) < window {
            yielder.yield_now().await;
            continue;
        }
        {
            let mut state = inner.state.borrow_mut();
            let counters = state.counters_mut();
            counters.mesh_polls += std::mem::take(&mut polls);
            counters.mesh_parks += 1;
        }
        Park {
            ctx: &ctx,
            registered: false,
        }
        .await;
        last_work = Instant::now();
        last_turn = last_work;
    }
}

fn retry_overflow(ctx: &CoreCtx, ring: &mut [bool]) {
    let inner = ctx.inner();
    let mut overflow = inner.mesh.overflow.borrow_mut();
    while let Some((to, envelope)) = overflow.pop_front() {
        match inner.shared.mesh.queue(inner.core, to).push(envelope) {
            Ok(()) => ring[to] = true,
            Err(envelope) => {
                overflow.push_front((to, envelope));
                break;
            }
        }
    }
}

/// Whether the poller has anything to do (checked after announcing that it parks).
fn has_work(ctx: &CoreCtx) -> bool {
    let inner = ctx.inner();
    let mesh = &inner.shared.mesh;
    let me = inner.core;
    !mesh.inboxes[me].is_empty()
        || (0..mesh.cores).any(|source| source != me && !mesh.queue(source, me).is_empty())
        || !inner.mesh.pending_local.borrow().is_empty()
        || inner.mesh.commit_requested.get()
        || !inner.mesh.overflow.borrow().is_empty()
        || durable_ready(ctx)
        || (inner.mesh.stop.get() && inner.mesh.awaiting_durable.borrow().is_empty())
        || (inner.shared.is_shutting_down() && !inner.shutdown.is_fired())
}

/// Parks the poller until a [`Bell::ring`].
struct Park<'a> {
    ctx: &'a CoreCtx,
    registered: bool,
}

impl Future for Park<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let inner = self.ctx.inner();
        let bell = inner.shared.mesh.bell(inner.core);
        if self.registered {
            // Rung (the ringer cleared `parked`) or polled spuriously: either way, look again.
            bell.parked.store(false, Ordering::SeqCst);
            bell.set_waker(None);
            return Poll::Ready(());
        }
        bell.set_waker(Some(cx.waker().clone()));
        bell.parked.store(true, Ordering::SeqCst);
        // Pairs with the fence in `Bell::ring`.
        fence(Ordering::SeqCst);
        if has_work(self.ctx) {
            bell.parked.store(false, Ordering::SeqCst);
            bell.set_waker(None);
            return Poll::Ready(());
        }
        self.registered = true;
        Poll::Pending
    }
}

impl Drop for Park<'_> {
    fn drop(&mut self) {
        if self.registered {
            let inner = self.ctx.inner();
            let bell = inner.shared.mesh.bell(inner.core);
            bell.parked.store(false, Ordering::SeqCst);
            bell.set_waker(None);
        }
    }
}
