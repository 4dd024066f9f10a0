//! The per-shard sync thread: runs `fdatasync`s off the shard thread and publishes the highest
//! durable WAL seq through an atomic.
//!
//! The shard thread never blocks in `fdatasync` on the commit path. It hands the sync thread a
//! *job* (a file shared through an `Arc`, and what syncing it achieves) and goes on; the sync
//! thread syncs, then publishes the result and calls the waker, if any. There are two queues:
//!
//! - WAL jobs: a segment and the highest seq written to it. They run in request order, so
//!   `durable_seq` only ever covers a prefix of the log.
//! - File jobs: the column files, dictionary and block index a seal wrote, and the unlinking of
//!   WAL segments a durable seal covers. A group of them is one *ticket*; tickets complete in
//!   request order (`tickets_done`). WAL jobs go first, so a seal's syncs never delay an
//!   acknowledgement by more than one file's sync.
//!
//! A failed sync is sticky: once `fdatasync` fails, the kernel may have dropped the dirty pages
//! it could not write, so a later successful sync proves nothing about them. From then on
//! `durable_seq` never advances and every request and wait returns the error.
//!
//! The only state shared with the shard thread is a mutex-protected job queue (touched once per
//! sync request, never per row) and a few atomics (`durable_seq`, `tickets_done`, the failure
//! flag).

use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::error::{Result, StorageError};
use crate::types::Seq;

/// A file shared by the shard thread (which appends to it) and the sync thread (which syncs
/// it). Whichever drops it last closes it; syncing a file that was deleted in the meantime is
/// harmless.
#[derive(Debug)]
pub(crate) struct SyncFile {
    pub file: File,
    pub path: PathBuf,
}

impl SyncFile {
    pub fn new(file: File, path: PathBuf) -> Arc<SyncFile> {
        Arc::new(SyncFile { file, path })
    }
}

/// Called on the sync thread each time `durable_seq` advances (or a sync fails). It must be
/// cheap and must not block: ring a bell, write an eventfd, unpark a thread.
pub type SyncWaker = Arc<dyn Fn() + Send + Sync>;

#[derive(Debug)]
enum Job {
    /// `fdatasync` the segment; then every seq <= `seq` is durable.
    Sync { segment: Arc<SyncFile>, seq: Seq },
    /// A segment was just created: `fsync` it (header and size) and its directory, so that its
    /// records, once synced, are found after a crash.
    Created { segment: Arc<SyncFile> },
    /// `fdatasync` one file of a ticket; the ticket completes with its last file.
    File {
        file: Option<Arc<SyncFile>>,
        ticket: Option<u64>,
    },
    /// Unlink a WAL segment whose rows are all durably sealed (dropping a 64 MiB file's pages
    /// costs milliseconds of kernel time); completes `ticket`.
    Delete { path: PathBuf, ticket: Option<u64> },
}

struct State {
    /// WAL jobs (`Sync`, `Created`), in order.
    jobs: VecDeque<Job>,
    /// `File` and `Delete` jobs, in order; run only when `jobs` is empty.
    files: VecDeque<Job>,
    /// The last ticket handed out.
    tickets: u64,
    /// A job has been popped and is running.
    busy: bool,
    failed: Option<(PathBuf, std::io::ErrorKind, String)>,
    stop: bool,
    /// Tests hold jobs back to observe that nothing becomes durable before its sync.
    paused: bool,
    waker: Option<SyncWaker>,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when a job is queued (or `stop`/`paused` changes).
    work: Condvar,
    /// Signalled when `durable_seq` advances or a sync fails.
    progress: Condvar,
    durable_seq: AtomicU64,
    tickets_done: AtomicU64,
    syncs: AtomicU64,
    /// Threads blocked in `wait` (so `advance` can skip the lock when nobody waits).
    waiters: AtomicU64,
    /// Mirrors `State::failed.is_some()`, so that `check` needs no lock.
    failed: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic on the sync thread must not hide behind a poisoned lock: the state stays
        // consistent (every field is written whole), so keep using it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The handle the WAL owns. Dropping it lets the thread finish the queued jobs, then joins it.
pub(crate) struct SyncThread {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SyncThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncThread")
            .field("durable_seq", &self.durable_seq())
            .field("syncs", &self.syncs())
            .finish()
    }
}

impl SyncThread {
    /// Starts the thread; `durable_seq` starts at `durable_seq` (what recovery found on disk).
    pub fn spawn(dir: &Path, durable_seq: Seq) -> Result<SyncThread> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                jobs: VecDeque::with_capacity(8),
                files: VecDeque::with_capacity(64),
                tickets: 0,
                busy: false,
                failed: None,
                stop: false,
                paused: false,
                waker: None,
            }),
            work: Condvar::new(),
            progress: Condvar::new(),
            durable_seq: AtomicU64::new(durable_seq),
            tickets_done: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
            waiters: AtomicU64::new(0),
            failed: AtomicBool::new(false),
        });
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("ronto-wal-sync".into())
            .stack_size(256 << 10)
            .spawn(move || run(&for_thread))
            .map_err(|source| StorageError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        Ok(SyncThread {
            shared,
            thread: Some(thread),
        })
    }

    /// Highest seq known durable (a completed sync covers it, or the policy needs none).
    #[inline]
    pub fn durable_seq(&self) -> Seq {
        self.shared.durable_seq.load(Ordering::Acquire)
    }

    /// Raises `durable_seq` without a sync (policy `never`, or seqs recovery found sealed).
    #[inline]
    pub fn advance(&self, seq: Seq) {
        let before = self.shared.durable_seq.fetch_max(seq, Ordering::SeqCst);
        // A waiter registers before it re-checks `durable_seq` under the lock, so either it
        // sees the new value or this sees it registered (both SeqCst).
        if seq > before && self.shared.waiters.load(Ordering::SeqCst) > 0 {
            let _g = self.shared.lock();
            self.shared.progress.notify_all();
        }
    }

    /// Completed `fdatasync`/`fsync` calls.
    pub fn syncs(&self) -> u64 {
        self.shared.syncs.load(Ordering::Relaxed)
    }

    /// The sticky error of a failed sync, if any. Lock-free while nothing failed.
    #[inline]
    pub fn check(&self) -> Result<()> {
        if !self.shared.failed.load(Ordering::Acquire) {
            return Ok(());
        }
        match &self.shared.lock().failed {
            None => Ok(()),
            Some(f) => Err(failure(f)),
        }
    }

    /// Queues a sync of `segment` covering every seq <= `seq` written to it so far. Coalesces
    /// with a queued, not yet started sync of the same segment.
    pub fn request(&self, segment: &Arc<SyncFile>, seq: Seq) -> Result<()> {
        let mut s = self.shared.lock();
        if let Some(f) = &s.failed {
            return Err(failure(f));
        }
        if let Some(Job::Sync {
            segment: queued,
            seq: queued_seq,
        }) = s.jobs.back_mut()
        {
            if Arc::ptr_eq(queued, segment) {
                *queued_seq = (*queued_seq).max(seq);
                return Ok(());
            }
        }
        s.jobs.push_back(Job::Sync {
            segment: Arc::clone(segment),
            seq,
        });
        drop(s);
        self.shared.work.notify_one();
        Ok(())
    }

    /// Queues the header-and-directory sync of a freshly created segment.
    pub fn created(&self, segment: &Arc<SyncFile>) {
        let mut s = self.shared.lock();
        s.jobs.push_back(Job::Created {
            segment: Arc::clone(segment),
        });
        drop(s);
        self.shared.work.notify_one();
    }

    /// Queues an `fdatasync` of each of `files` as one ticket and returns it. An empty group
    /// still gets a ticket (it completes after every earlier one).
    pub fn request_files(&self, files: &[Arc<SyncFile>]) -> Result<u64> {
        let mut s = self.shared.lock();
        if let Some(f) = &s.failed {
            return Err(failure(f));
        }
        s.tickets += 1;
        let ticket = s.tickets;
        if files.is_empty() {
            // Nothing to sync: a job that only completes the ticket, in order.
            s.files.push_back(Job::File {
                file: None,
                ticket: Some(ticket),
            });
        }
        for (i, f) in files.iter().enumerate() {
            s.files.push_back(Job::File {
                file: Some(Arc::clone(f)),
                ticket: (i + 1 == files.len()).then_some(ticket),
            });
        }
        drop(s);
        self.shared.work.notify_one();
        Ok(ticket)
    }

    /// Queues the unlink of `paths` (in order) as one ticket. A failed unlink is logged, not
    /// sticky: the segment is replayed and skipped at the next open.
    pub fn request_deletes(&self, paths: Vec<PathBuf>) -> Result<u64> {
        let mut s = self.shared.lock();
        if let Some(f) = &s.failed {
            return Err(failure(f));
        }
        s.tickets += 1;
        let ticket = s.tickets;
        if paths.is_empty() {
            s.files.push_back(Job::File {
                file: None,
                ticket: Some(ticket),
            });
        }
        let count = paths.len();
        for (i, path) in paths.into_iter().enumerate() {
            s.files.push_back(Job::Delete {
                path,
                ticket: (i + 1 == count).then_some(ticket),
            });
        }
        drop(s);
        self.shared.work.notify_one();
        Ok(ticket)
    }

    /// Whether every file of `ticket` (and of every earlier ticket) is synced.
    #[inline]
    pub fn ticket_done(&self, ticket: u64) -> bool {
        self.shared.tickets_done.load(Ordering::Acquire) >= ticket
    }

    /// Blocks until `ticket` is done or a sync fails.
    pub fn wait_ticket(&self, ticket: u64) -> Result<()> {
        self.shared.waiters.fetch_add(1, Ordering::SeqCst);
        let mut s = self.shared.lock();
        let result = loop {
            if let Some(f) = &s.failed {
                break Err(failure(f));
            }
            if self.shared.tickets_done.load(Ordering::SeqCst) >= ticket {
                break Ok(());
            }
            s = self
                .shared
                .progress
                .wait(s)
                .unwrap_or_else(|e| e.into_inner());
        };
        drop(s);
        self.shared.waiters.fetch_sub(1, Ordering::SeqCst);
        result
    }

    /// Blocks until `durable_seq >= seq` or a sync fails. The caller must have requested a sync
    /// covering `seq` (or it waits for ever).
    pub fn wait(&self, seq: Seq) -> Result<Seq> {
        if self.durable_seq() >= seq {
            return Ok(self.durable_seq());
        }
        self.shared.waiters.fetch_add(1, Ordering::SeqCst);
        let mut s = self.shared.lock();
        let result = loop {
            if let Some(f) = &s.failed {
                break Err(failure(f));
            }
            let durable = self.shared.durable_seq.load(Ordering::SeqCst);
            if durable >= seq {
                break Ok(durable);
            }
            s = self
                .shared
                .progress
                .wait(s)
                .unwrap_or_else(|e| e.into_inner());
        };
        drop(s);
        self.shared.waiters.fetch_sub(1, Ordering::SeqCst);
        result
    }

    pub fn set_waker(&self, waker: Option<SyncWaker>) {
        self.shared.lock().waker = waker;
    }

    /// Holds queued jobs back (tests): nothing new becomes durable until `resume`.
    #[cfg(test)]
    pub fn pause(&self) {
        let mut s = self.shared.lock();
        s.paused = true;
        // Let a running job finish so that "paused" means nothing is in flight.
        while s.busy {
            s = self
                .shared
                .progress
                .wait(s)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Marks the thread failed as if an `fdatasync` had failed (tests).
    #[cfg(test)]
    pub fn fail(&self) {
        let mut s = self.shared.lock();
        s.failed = Some((
            PathBuf::from("injected"),
            std::io::ErrorKind::Other,
            "injected sync failure".into(),
        ));
        self.shared.failed.store(true, Ordering::Release);
        drop(s);
        self.shared.progress.notify_all();
    }

    #[cfg(test)]
    pub fn resume(&self) {
        self.shared.lock().paused = false;
        self.shared.work.notify_one();
    }
}

impl Drop for SyncThread {
    fn drop(&mut self) {
        {
            let mut s = self.shared.lock();
            s.stop = true;
            s.paused = false;
        }
        self.shared.work.notify_one();
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                log::error!("WAL sync thread panicked");
            }
        }
    }
}

fn failure(f: &(PathBuf, std::io::ErrorKind, String)) -> StorageError {
    StorageError::Io {
        path: f.0.clone(),
        source: std::io::Error::new(f.1, format!("an earlier WAL sync failed: {}", f.2)),
    }
}

/// The thread body: pop a job (WAL jobs first), run it without the lock, publish the result.
/// Exits once `stop` is set and both queues are empty (queued syncs still run at shutdown).
fn run(shared: &Shared) {
    let mut s = shared.lock();
    loop {
        if s.failed.is_some() {
            s.jobs.clear();
            s.files.clear();
        }
        let job = if s.paused {
            None
        } else {
            s.jobs.pop_front().or_else(|| s.files.pop_front())
        };
        let Some(job) = job else {
            if s.stop {
                return;
            }
            s = shared.work.wait(s).unwrap_or_else(|e| e.into_inner());
            continue;
        };
        s.busy = true;
        drop(s);
        let (result, path) = match &job {
            Job::Sync { segment, .. } => (segment.file.sync_data(), Some(&segment.path)),
            Job::Created { segment } => {
                let dir = segment.path.parent().unwrap_or(Path::new("."));
                let r = segment
                    .file
                    .sync_all()
                    .and_then(|()| File::open(dir)?.sync_all());
                (r, Some(&segment.path))
            }
            Job::File { file: Some(f), .. } => (f.file.sync_data(), Some(&f.path)),
            Job::File { file: None, .. } => (Ok(()), None),
            Job::Delete { path, .. } => {
                if let Err(e) = std::fs::remove_file(path) {
                    log::warn!(
                        "could not delete sealed WAL segment {}: {e}",
                        path.display()
                    );
                }
                (Ok(()), None)
            }
        };
        let advanced = match result {
            Ok(()) => {
                if path.is_some() {
                    shared.syncs.fetch_add(1, Ordering::Relaxed);
                }
                match &job {
                    Job::Sync { seq, .. } => {
                        shared.durable_seq.fetch_max(*seq, Ordering::SeqCst) < *seq
                    }
                    Job::File {
                        ticket: Some(t), ..
                    }
                    | Job::Delete {
                        ticket: Some(t), ..
                    } => {
                        shared.tickets_done.store(*t, Ordering::SeqCst);
                        false
                    }
                    _ => false,
                }
            }
            Err(e) => {
                let path = path.cloned().unwrap_or_default();
                log::error!("sync of {} failed: {e}", path.display());
                s = shared.lock();
                s.failed = Some((path, e.kind(), e.to_string()));
                shared.failed.store(true, Ordering::Release);
                drop(s);
                true
            }
        };
        drop(job);
        s = shared.lock();
        s.busy = false;
        shared.progress.notify_all();
        if advanced {
            if let Some(w) = s.waker.clone() {
                drop(s);
                w();
                s = shared.lock();
            }
        }
    }
}
