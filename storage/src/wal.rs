//! The write-ahead log: segmented, CRC32C-framed records, group commit and the fsync policy.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::catalog::sync_dir;
use crate::error::{corrupt, IoContext, Result};
use crate::sync::{SyncFile, SyncThread, SyncWaker};
use crate::types::Seq;

pub const SEGMENT_MAGIC: &[u8; 8] = b"RONTOWAL";
pub const SEGMENT_VERSION: u32 = 1;
pub const SEGMENT_HEADER_BYTES: usize = 16;
/// `payload_len u32 | crc32c u32 | seq u64`, then the payload.
pub const RECORD_HEADER_BYTES: usize = 16;
/// A record's payload may not exceed this; larger batches must be split by the caller.
pub const RECORD_PAYLOAD_BYTES_MAX: usize = 1 << 30;

/// When a written WAL record counts as durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Every commit requests an fdatasync, and `Shard::commit` returns once it completed:
    /// acknowledged data survives power loss.
    Always,
    /// An fdatasync is requested at most every `interval_ms`; a commit is durable once a later
    /// sync covers it.
    Batch { interval_ms: u32 },
    /// Never fsync; data is in the OS page cache once written (survives `kill -9`, not power loss).
    Never,
}

impl FsyncPolicy {
    pub fn parse(s: &str) -> Option<FsyncPolicy> {
        match s {
            "always" => Some(FsyncPolicy::Always),
            "never" => Some(FsyncPolicy::Never),
            "batch" => Some(FsyncPolicy::Batch { interval_ms: 10 }),
            _ => {
                let ms = s.strip_prefix("batch(")?.strip_suffix(')')?;
                let ms = ms.strip_suffix("ms").unwrap_or(ms);
                Some(FsyncPolicy::Batch {
                    interval_ms: ms.parse().ok()?,
                })
            }
        }
    }

    /// Whether sealed column data must be synced before it is indexed.
    pub fn syncs(self) -> bool {
        !matches!(self, FsyncPolicy::Never)
    }
}

#[derive(Debug, Clone)]
struct Segment {
    first_seq: Seq,
    path: PathBuf,
}

/// What `Wal::open` found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WalReplay {
    pub segments: usize,
    pub records: u64,
    pub bytes: u64,
    /// Bytes cut from a torn or corrupt tail, with the file and offset where the cut happened.
    pub truncated: Option<(PathBuf, u64, u64)>,
}

/// An append-only log of records in segment files `wal/<first_seq:020>.wal`. Records are staged
/// in memory by `append` and written by `flush` in one `write` (group commit).
///
/// `fdatasync` runs on the shard's sync thread (`sync.rs`): `flush` only *requests* syncs, and
/// [`Wal::durable_seq`] reports what completed syncs cover. Under `always` every flush requests
/// one; under `batch(ms)` a flush requests one when `ms` passed since the last request; under
/// `never` written is durable. Two invariants keep recovery sound with syncs in flight:
///
/// - Jobs run in request order, so durability covers a prefix of the log.
/// - Under `always`/`batch`, a segment is rolled only after every record in it is durable, so a
///   crash can never leave a torn record in a segment that is not the last one (which recovery
///   must treat as corruption, since later records were acknowledged).
pub struct Wal {
    dir: PathBuf,
    policy: FsyncPolicy,
    segment_bytes: u64,
    segments: Vec<Segment>,
    file: Arc<SyncFile>,
    file_len: u64,
    pending: Vec<u8>,
    pending_last_seq: Seq,
    /// Highest seq handed to the OS.
    written_seq: Seq,
    /// Highest seq a sync has been requested for.
    requested_seq: Seq,
    last_request_ns: i64,
    syncer: SyncThread,
    bytes_written: u64,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("dir", &self.dir)
            .field("segments", &self.segments.len())
            .field("written_seq", &self.written_seq)
            .field("durable_seq", &self.durable_seq())
            .finish()
    }
}

impl Wal {
    /// Opens (or creates) the log in `dir`, calling `replay(seq, payload)` for every valid
    /// record in order. A torn or corrupt tail of the last segment is truncated with a warning;
    /// damage anywhere else is `Corrupt`, because records after it were acknowledged.
    pub fn open(
        dir: &Path,
        policy: FsyncPolicy,
        segment_bytes: u64,
        mut replay: impl FnMut(Seq, &[u8]) -> Result<()>,
    ) -> Result<(Wal, WalReplay)> {
        fs::create_dir_all(dir).at(dir)?;
        let mut segments = list_segments(dir)?;
        let mut report = WalReplay {
            segments: segments.len(),
            ..WalReplay::default()
        };
        let mut last_seq: Seq = 0;
        let count = segments.len();
        for (i, seg) in segments.iter().enumerate() {
            let is_last = i + 1 == count;
            let bytes = fs::read(&seg.path).at(&seg.path)?;
            let (valid_len, damage) = scan_segment(
                &seg.path,
                &bytes,
                seg.first_seq,
                &mut last_seq,
                &mut |s, p| {
                    report.records += 1;
                    replay(s, p)
                },
            )?;
            report.bytes += valid_len as u64;
            if let Some(reason) = damage {
                if !is_last {
                    return Err(corrupt(&seg.path, valid_len as u64, reason));
                }
                log::warn!(
                    "WAL {}: {reason} at offset {valid_len}; truncating {} torn bytes",
                    seg.path.display(),
                    bytes.len() - valid_len
                );
                report.truncated = Some((
                    seg.path.clone(),
                    valid_len as u64,
                    (bytes.len() - valid_len) as u64,
                ));
                let f = OpenOptions::new()
                    .write(true)
                    .open(&seg.path)
                    .at(&seg.path)?;
                if valid_len < SEGMENT_HEADER_BYTES {
                    f.set_len(0).at(&seg.path)?;
                    (&f).write_all(&segment_header()).at(&seg.path)?;
                } else {
                    f.set_len(valid_len as u64).at(&seg.path)?;
                }
                f.sync_all().at(&seg.path)?;
            }
        }
        if segments.is_empty() {
            let (seg, file) = create_segment(dir, 1)?;
            file.sync_all().at(&seg.path)?;
            sync_dir(dir)?;
            segments.push(seg);
        }
        let current = segments.last().expect("at least one segment");
        let file = OpenOptions::new()
            .append(true)
            .open(&current.path)
            .at(&current.path)?;
        let file_len = file.metadata().at(&current.path)?.len();
        let syncer = SyncThread::spawn(dir, last_seq)?;
        Ok((
            Wal {
                dir: dir.to_path_buf(),
                policy,
                segment_bytes: segment_bytes.max(SEGMENT_HEADER_BYTES as u64 + 1),
                file: Arc::new(SyncFile {
                    file,
                    path: current.path.clone(),
                }),
                segments,
                file_len,
                pending: Vec::with_capacity(1 << 20),
                pending_last_seq: last_seq,
                written_seq: last_seq,
                requested_seq: last_seq,
                last_request_ns: i64::MIN,
                syncer,
                bytes_written: 0,
            },
            report,
        ))
    }

    /// Highest seq whose record is in the log (written or staged).
    pub fn last_seq(&self) -> Seq {
        self.pending_last_seq
    }

    pub fn written_seq(&self) -> Seq {
        self.written_seq
    }

    /// Highest seq at the durability the policy promises: covered by a completed sync under
    /// `always`/`batch`, written under `never`. Advances on the sync thread.
    #[inline]
    pub fn durable_seq(&self) -> Seq {
        self.syncer.durable_seq()
    }

    pub fn policy(&self) -> FsyncPolicy {
        self.policy
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The sticky error of a failed sync, if any (lock-free while nothing failed).
    pub fn check_sync(&self) -> Result<()> {
        self.syncer.check()
    }

    /// Completed syncs on the sync thread (WAL data and new segments).
    pub fn syncs_completed(&self) -> u64 {
        self.syncer.syncs()
    }

    /// Bytes currently held in segment files.
    pub fn disk_bytes(&self) -> u64 {
        let closed: u64 = self.segments[..self.segments.len() - 1]
            .iter()
            .filter_map(|s| fs::metadata(&s.path).ok().map(|m| m.len()))
            .sum();
        closed + self.file_len
    }

    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    /// Raises the next sequence number (after recovery found sealed data newer than the log).
    pub fn advance_seq_to(&mut self, seq: Seq) {
        assert!(self.pending.is_empty(), "advance with staged records");
        if seq > self.pending_last_seq {
            self.pending_last_seq = seq;
            self.written_seq = seq;
            self.requested_seq = seq;
            self.syncer.advance(seq);
        }
    }

    /// Stages one record; `encode` appends the payload. Returns the record's seq.
    pub fn append(&mut self, encode: impl FnOnce(&mut Vec<u8>)) -> Seq {
        let seq = self.pending_last_seq + 1;
        let start = self.pending.len();
        self.pending.extend_from_slice(&[0u8; RECORD_HEADER_BYTES]);
        encode(&mut self.pending);
        let payload_len = self.pending.len() - start - RECORD_HEADER_BYTES;
        assert!(
            payload_len <= RECORD_PAYLOAD_BYTES_MAX,
            "WAL record too large"
        );
        self.pending[start + 8..start + 16].copy_from_slice(&seq.to_le_bytes());
        let crc = crc32c::crc32c(&self.pending[start + 8..]);
        self.pending[start..start + 4].copy_from_slice(&(payload_len as u32).to_le_bytes());
        self.pending[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
        self.pending_last_seq = seq;
        seq
    }

    /// Writes every staged record in one `write` (group commit) and requests a sync as the
    /// policy says. Never waits for a sync, except that rolling a full segment under
    /// `always`/`batch` first waits until its records are durable (once per segment).
    pub fn flush(&mut self, now_ns: i64) -> Result<()> {
        self.syncer.check()?;
        if self.pending.is_empty() {
            return self.request_per_policy(now_ns);
        }
        if let Err(e) = (&self.file.file).write_all(&self.pending) {
            // Leave no half record behind: the next write must start on a record boundary.
            let _ = self.file.file.set_len(self.file_len);
            return Err(e).at(&self.file.path);
        }
        self.file_len += self.pending.len() as u64;
        self.bytes_written += self.pending.len() as u64;
        self.pending.clear();
        self.written_seq = self.pending_last_seq;
        self.request_per_policy(now_ns)?;
        if self.file_len >= self.segment_bytes {
            self.roll()?;
        }
        Ok(())
    }

    fn request_per_policy(&mut self, now_ns: i64) -> Result<()> {
        match self.policy {
            FsyncPolicy::Always => self.request_sync(now_ns),
            FsyncPolicy::Batch { interval_ms } => {
                // The interval restarts at every check that finds it passed, whether or not
                // anything needed a sync, so a write after an idle spell is synced at most
                // `interval_ms` later, never at once (as before the sync thread).
                if now_ns.saturating_sub(self.last_request_ns) >= interval_ms as i64 * 1_000_000 {
                    self.last_request_ns = now_ns;
                    self.request_sync(now_ns)
                } else {
                    Ok(())
                }
            }
            FsyncPolicy::Never => {
                self.syncer.advance(self.written_seq);
                Ok(())
            }
        }
    }

    /// Asks the sync thread to make every written record durable (whatever the policy), if
    /// it has not been asked already. Returns at once.
    pub fn request_sync(&mut self, now_ns: i64) -> Result<()> {
        if self.written_seq > self.requested_seq {
            self.syncer.request(&self.file, self.written_seq)?;
            self.requested_seq = self.written_seq;
            self.last_request_ns = now_ns;
        }
        Ok(())
    }

    /// Blocks until `seq` is durable (requesting the sync if needed). `seq` must be written.
    /// Under `never` this is the policy's durability (written), not a sync.
    pub fn wait_durable(&mut self, seq: Seq, now_ns: i64) -> Result<Seq> {
        assert!(
            seq <= self.written_seq,
            "wait for a seq that was not written"
        );
        if self.durable_seq() >= seq {
            self.syncer.check()?;
            return Ok(self.durable_seq());
        }
        self.request_sync(now_ns)?;
        self.syncer.wait(seq)
    }

    /// Writes staged records and makes everything written durable by a sync, whatever the
    /// policy (shutdown, `seal_all`).
    pub fn sync(&mut self, now_ns: i64) -> Result<()> {
        self.flush(now_ns)?;
        if self.written_seq > self.requested_seq || self.policy == FsyncPolicy::Never {
            // Under `never` nothing was requested; ask for the current segment explicitly.
            self.syncer.request(&self.file, self.written_seq)?;
            self.requested_seq = self.written_seq;
            self.last_request_ns = now_ns;
        }
        self.syncer.wait(self.written_seq).map(|_| ())
    }

    /// Queues an `fdatasync` of each of `files` on the sync thread as one ticket (seals use it
    /// for column files, the dictionary and the block index).
    pub(crate) fn sync_files(&self, files: &[Arc<SyncFile>]) -> Result<u64> {
        self.syncer.request_files(files)
    }

    /// Whether the files of `ticket` and of every earlier ticket are synced.
    pub(crate) fn files_synced(&self, ticket: u64) -> bool {
        self.syncer.ticket_done(ticket)
    }

    pub(crate) fn wait_files(&self, ticket: u64) -> Result<()> {
        self.syncer.wait_ticket(ticket)
    }

    #[cfg(test)]
    pub(crate) fn syncer(&self) -> &SyncThread {
        &self.syncer
    }

    /// Sets (or clears) the function the sync thread calls when `durable_seq` advances.
    pub fn set_sync_waker(&self, waker: Option<SyncWaker>) {
        self.syncer.set_waker(waker);
    }

    /// Starts a new segment if the current one holds any record (written records only).
    pub(crate) fn roll_if_not_empty(&mut self) -> Result<()> {
        assert!(self.pending.is_empty(), "roll with staged records");
        if self.file_len > SEGMENT_HEADER_BYTES as u64 {
            self.roll()?;
        }
        Ok(())
    }

    /// Starts a new segment. Under `always`/`batch` the old one must be wholly durable first
    /// (see the type's docs); the new one's header and directory entry are synced by the sync
    /// thread before any of its records can be reported durable.
    fn roll(&mut self) -> Result<()> {
        if self.policy.syncs() {
            if self.written_seq > self.requested_seq {
                self.syncer.request(&self.file, self.written_seq)?;
                self.requested_seq = self.written_seq;
            }
            self.syncer.wait(self.written_seq)?;
        }
        let (seg, file) = create_segment(&self.dir, self.written_seq + 1)?;
        self.file = Arc::new(SyncFile {
            file,
            path: seg.path.clone(),
        });
        self.syncer.created(&self.file);
        self.file_len = SEGMENT_HEADER_BYTES as u64;
        self.segments.push(seg);
        Ok(())
    }

    /// Like [`Wal::delete_before`], but the sync thread unlinks the files; returns the ticket
    /// that completes when they are gone. The segments leave the log at once.
    pub(crate) fn delete_before_async(&mut self, watermark: Seq) -> Result<u64> {
        let mut paths = Vec::new();
        while self.segments.len() > 1 && self.segments[1].first_seq <= watermark {
            paths.push(self.segments.remove(0).path);
        }
        self.syncer.request_deletes(paths)
    }

    /// Deletes closed segments whose records all have seq < `watermark` (they are sealed).
    pub fn delete_before(&mut self, watermark: Seq) -> Result<usize> {
        let mut deleted = 0;
        while self.segments.len() > 1 && self.segments[1].first_seq <= watermark {
            let seg = self.segments.remove(0);
            fs::remove_file(&seg.path).at(&seg.path)?;
            deleted += 1;
        }
        Ok(deleted)
    }
}

fn segment_header() -> [u8; SEGMENT_HEADER_BYTES] {
    let mut h = [0u8; SEGMENT_HEADER_BYTES];
    h[..8].copy_from_slice(SEGMENT_MAGIC);
    h[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    h
}

fn segment_path(dir: &Path, first_seq: Seq) -> PathBuf {
    dir.join(format!("{first_seq:020}.wal"))
}

/// Creates a segment holding just its header, open for appending. Not synced: the caller syncs
/// it (and the directory) before any record in it counts as durable.
fn create_segment(dir: &Path, first_seq: Seq) -> Result<(Segment, File)> {
    let path = segment_path(dir, first_seq);
    // O_TRUNC, not `set_len(0)`: the kernel ignores O_TRUNC on a file it just created, while an
    // explicit truncate to zero makes ext4 (auto_da_alloc) flush the whole segment when this
    // handle is closed at the next roll, stalling the shard thread for tens of milliseconds.
    // (std refuses O_TRUNC with O_APPEND, so the header goes through a first handle.)
    OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&path)
        .and_then(|mut f| f.write_all(&segment_header()))
        .at(&path)?;
    let f = OpenOptions::new().append(true).open(&path).at(&path)?;
    Ok((Segment { first_seq, path }, f))
}

fn list_segments(dir: &Path) -> Result<Vec<Segment>> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(".wal") else {
            continue;
        };
        let Ok(first_seq) = stem.parse::<Seq>() else {
            log::warn!("ignoring unexpected file {name} in WAL directory");
            continue;
        };
        segments.push(Segment {
            first_seq,
            path: entry.path(),
        });
    }
    segments.sort_by_key(|s| s.first_seq);
    Ok(segments)
}

/// Walks the records of one segment. Returns the length of its valid prefix and, if it ends in
/// damage, why.
fn scan_segment(
    path: &Path,
    bytes: &[u8],
    first_seq: Seq,
    last_seq: &mut Seq,
    replay: &mut dyn FnMut(Seq, &[u8]) -> Result<()>,
) -> Result<(usize, Option<String>)> {
    if bytes.len() < SEGMENT_HEADER_BYTES {
        return Ok((0, Some("short segment header".into())));
    }
    if &bytes[..8] != SEGMENT_MAGIC {
        return Err(corrupt(path, 0, "bad WAL segment magic"));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version != SEGMENT_VERSION {
        return Err(corrupt(path, 8, format!("unknown WAL version {version}")));
    }
    let mut at = SEGMENT_HEADER_BYTES;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.len() < RECORD_HEADER_BYTES {
            return Ok((at, Some("short record header".into())));
        }
        let len = u32::from_le_bytes(rest[..4].try_into().expect("4")) as usize;
        let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4"));
        if len > RECORD_PAYLOAD_BYTES_MAX || rest.len() < RECORD_HEADER_BYTES + len {
            return Ok((at, Some("short record".into())));
        }
        let body = &rest[8..RECORD_HEADER_BYTES + len];
        if crc32c::crc32c(body) != crc {
            // A zero-filled tail is what a file system leaves after a torn extension.
            if RECORD_HEADER_BYTES + len < rest.len() && rest.iter().any(|&b| b != 0) {
                // Intact bytes follow: this is damage, not a torn final write, and the records
                // after it were acknowledged.
                return Err(corrupt(
                    path,
                    at as u64,
                    "WAL record CRC mismatch before the end of the segment",
                ));
            }
            return Ok((at, Some("record CRC mismatch".into())));
        }
        let seq = u64::from_le_bytes(body[..8].try_into().expect("8"));
        if seq <= *last_seq || seq < first_seq {
            return Err(corrupt(
                path,
                at as u64,
                format!("WAL seq {seq} out of order after {last_seq}"),
            ));
        }
        *last_seq = seq;
        replay(seq, &body[8..])?;
        at += RECORD_HEADER_BYTES + len;
    }
    Ok((at, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(dir: &Path) -> (Vec<(Seq, Vec<u8>)>, WalReplay) {
        let mut out = Vec::new();
        let (_, report) = Wal::open(dir, FsyncPolicy::Never, 1 << 20, |s, p| {
            out.push((s, p.to_vec()));
            Ok(())
        })
        .unwrap();
        (out, report)
    }

    #[test]
    fn records_round_trip_and_group_commit() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) =
            Wal::open(dir.path(), FsyncPolicy::Always, 1 << 20, |_, _| Ok(())).unwrap();
        assert_eq!(wal.append(|b| b.extend_from_slice(b"one")), 1);
        assert_eq!(wal.append(|b| b.extend_from_slice(b"two")), 2);
        assert_eq!(wal.durable_seq(), 0, "nothing durable before flush");
        wal.flush(0).unwrap();
        assert_eq!(wal.written_seq(), 2);
        assert_eq!(wal.wait_durable(2, 0).unwrap(), 2);
        drop(wal);
        let (recs, report) = collect(dir.path());
        assert_eq!(recs, vec![(1, b"one".to_vec()), (2, b"two".to_vec())]);
        assert_eq!(report.truncated, None);
    }

    #[test]
    fn batch_policy_reports_durability_only_after_sync() {
        let dir = tempfile::tempdir().unwrap();
        let policy = FsyncPolicy::Batch { interval_ms: 5 };
        let (mut wal, _) = Wal::open(dir.path(), policy, 1 << 20, |_, _| Ok(())).unwrap();
        wal.flush(10_000_000).unwrap(); // establishes last sync at t=10ms
        wal.append(|b| b.push(1));
        wal.flush(11_000_000).unwrap();
        assert_eq!((wal.written_seq(), wal.durable_seq()), (1, 0));
        assert_eq!(
            wal.requested_seq, 0,
            "no sync requested inside the interval"
        );
        wal.flush(16_000_000).unwrap();
        assert_eq!(
            wal.requested_seq, 1,
            "the interval passed: a sync is requested"
        );
        assert_eq!(wal.syncer.wait(1).unwrap(), 1);
    }

    #[test]
    fn torn_tail_is_truncated_and_later_appends_work() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) =
            Wal::open(dir.path(), FsyncPolicy::Never, 1 << 20, |_, _| Ok(())).unwrap();
        for i in 0..5u8 {
            wal.append(|b| b.extend_from_slice(&[i; 100]));
        }
        wal.flush(0).unwrap();
        drop(wal);
        let seg = segment_path(dir.path(), 1);
        let len = fs::metadata(&seg).unwrap().len();
        for cut in [1u64, 50, 115] {
            let f = OpenOptions::new().write(true).open(&seg).unwrap();
            f.set_len(len - cut).unwrap();
            drop(f);
            let (recs, report) = collect(dir.path());
            assert_eq!(recs.len(), 4, "cut {cut}");
            assert!(report.truncated.is_some());
            // Restore a full file for the next cut.
            let (mut wal, _) =
                Wal::open(dir.path(), FsyncPolicy::Never, 1 << 20, |_, _| Ok(())).unwrap();
            assert_eq!(wal.append(|b| b.extend_from_slice(&[9; 100])), 5);
            wal.flush(0).unwrap();
        }
    }

    #[test]
    fn flipped_bit_in_tail_truncates_but_in_middle_segment_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        // Tiny segments: every flush rolls.
        let (mut wal, _) = Wal::open(dir.path(), FsyncPolicy::Never, 64, |_, _| Ok(())).unwrap();
        for i in 0..3u8 {
            wal.append(|b| b.extend_from_slice(&[i; 60]));
            wal.flush(0).unwrap();
        }
        drop(wal);
        let segs = list_segments(dir.path()).unwrap();
        assert_eq!(segs.len(), 4, "three full segments and a fresh one");
        let mut bytes = fs::read(&segs[1].path).unwrap();
        bytes[40] ^= 1;
        fs::write(&segs[1].path, &bytes).unwrap();
        let err = Wal::open(dir.path(), FsyncPolicy::Never, 64, |_, _| Ok(())).unwrap_err();
        match err {
            crate::StorageError::Corrupt { file, offset, .. } => {
                assert_eq!(file, segs[1].path);
                assert_eq!(offset, SEGMENT_HEADER_BYTES as u64);
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn delete_before_keeps_unsealed_segments() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path(), FsyncPolicy::Never, 64, |_, _| Ok(())).unwrap();
        for i in 0..4u8 {
            wal.append(|b| b.extend_from_slice(&[i; 60]));
            wal.flush(0).unwrap();
        }
        // Segments start at seqs 1, 2, 3, 4, 5. Seqs >= 3 are not sealed.
        assert_eq!(wal.delete_before(3).unwrap(), 2);
        drop(wal);
        let (recs, _) = collect(dir.path());
        assert_eq!(recs.iter().map(|r| r.0).collect::<Vec<_>>(), vec![3, 4]);
    }

    #[test]
    fn policy_parses() {
        assert_eq!(FsyncPolicy::parse("always"), Some(FsyncPolicy::Always));
        assert_eq!(
            FsyncPolicy::parse("batch(20ms)"),
            Some(FsyncPolicy::Batch { interval_ms: 20 })
        );
        assert_eq!(
            FsyncPolicy::parse("batch(7)"),
            Some(FsyncPolicy::Batch { interval_ms: 7 })
        );
        assert_eq!(FsyncPolicy::parse("sometimes"), None);
    }
}
