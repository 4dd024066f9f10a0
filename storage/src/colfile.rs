//! Column files of one day partition: append-only, 64-byte-aligned regions, read through mmap.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::{IoSlice, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;

use crate::batch::{ColumnBuf, Values};
use crate::error::{corrupt, IoContext, Result, StorageError};
use crate::index::BlockColumn;
use crate::sync::SyncFile;
use crate::types::{Bitmap, ColumnId, ColumnType};

/// Every region starts at a multiple of this, so mmap'd values can be read as `&[i64]` in place
/// and SIMD loads of a region's start are aligned.
pub const REGION_ALIGN: u64 = 64;

const _: () = assert!(
    cfg!(target_endian = "little"),
    "on-disk formats are little-endian"
);

/// One append-only column file and its current read mapping.
pub struct ColumnFile {
    /// Shared with the sync thread, which syncs it after a seal.
    f: Arc<SyncFile>,
    /// Bytes in the file.
    len: u64,
    /// Bytes covered by `map`: the length at the last `flush`. Regions past it are written but
    /// not yet readable (a seal in progress).
    mapped_len: u64,
    map: Option<Mmap>,
    /// Written since the last `take_dirty` (needs a sync before it is indexed).
    dirty: bool,
}

impl std::fmt::Debug for ColumnFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ColumnFile({}, {} bytes)",
            self.f.path.display(),
            self.len
        )
    }
}

/// Zero bytes for region padding.
static PADDING: [u8; REGION_ALIGN as usize] = [0; REGION_ALIGN as usize];

/// Linux's `IOV_MAX`: the most slices one `writev` takes.
const IOV_MAX: usize = 1024;
/// A batch is written once it holds this many bytes. Measured on the 2-vCPU VM of
/// `bench/STORAGE-RESULTS.md`: one write per 512 KiB block made the first mmap scan of fresh
/// blocks 1.6x slower (small page-cache folios, more faults); one write per file per seal (up
/// to 50 MiB) made `seal_all` 5x slower (large folios are costly to allocate there). 2 MiB
/// keeps most of both.
const BATCH_BYTES_MAX: usize = 2 << 20;

/// Regions queued for one column file, written with one `writev` straight from the hot
/// buffers (no staging copy) per [`BATCH_BYTES_MAX`]. Write size matters beyond the syscall
/// count: it sets the size of the page-cache folios, and so how many page faults a later mmap
/// read of the blocks takes.
///
/// The owning [`ColumnFile`] counts queued bytes in its length at once; the caller must
/// `flush` the batch before the file is remapped, and on error cut the file back
/// ([`ColumnFile::discard_unflushed`]).
pub(crate) struct IoBatch<'a> {
    target: Option<Arc<SyncFile>>,
    iov: Vec<IoSlice<'a>>,
    bytes: usize,
}

impl std::fmt::Debug for IoBatch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IoBatch({} slices)", self.iov.len())
    }
}

impl<'a> IoBatch<'a> {
    pub fn new() -> IoBatch<'a> {
        IoBatch {
            target: None,
            iov: Vec::with_capacity(IOV_MAX),
            bytes: 0,
        }
    }

    /// Queues `parts` for `file`, writing out what was queued for another file first.
    fn push(&mut self, file: &Arc<SyncFile>, parts: [&'a [u8]; 2]) -> Result<()> {
        let same = self.target.as_ref().is_some_and(|t| Arc::ptr_eq(t, file));
        if !same || self.iov.len() + parts.len() > IOV_MAX || self.bytes >= BATCH_BYTES_MAX {
            self.flush()?;
            self.target = Some(Arc::clone(file));
        }
        self.bytes += parts.iter().map(|p| p.len()).sum::<usize>();
        self.iov.extend(
            parts
                .iter()
                .filter(|p| !p.is_empty())
                .map(|p| IoSlice::new(p)),
        );
        Ok(())
    }

    /// Writes everything queued.
    pub fn flush(&mut self) -> Result<()> {
        if let Some(target) = &self.target {
            write_all_vectored(target, &mut self.iov)?;
        }
        self.iov.clear();
        self.bytes = 0;
        Ok(())
    }
}

/// `writev` until every slice is written (a short write continues where it stopped).
fn write_all_vectored(file: &SyncFile, iov: &mut [IoSlice<'_>]) -> Result<()> {
    let mut left = iov;
    while !left.is_empty() {
        match (&file.file).write_vectored(left) {
            Ok(0) => {
                return Err(std::io::Error::from(std::io::ErrorKind::WriteZero)).at(&file.path)
            }
            Ok(n) => IoSlice::advance_slices(&mut left, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).at(&file.path),
        }
    }
    Ok(())
}

impl ColumnFile {
    /// Opens or creates the file, cutting it to `valid_len` (bytes past the last indexed region
    /// are leftovers of a seal whose index record never landed).
    pub fn open(path: PathBuf, valid_len: u64) -> Result<ColumnFile> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .at(&path)?;
        let len = file.metadata().at(&path)?.len();
        if len < valid_len {
            return Err(corrupt(
                &path,
                len,
                format!("column file ends at {len} but the block index needs {valid_len} bytes"),
            ));
        }
        if len > valid_len {
            log::warn!(
                "column file {}: dropping {} unindexed bytes",
                path.display(),
                len - valid_len
            );
            file.set_len(valid_len).at(&path)?;
        }
        let mut f = ColumnFile {
            f: SyncFile::new(file, path),
            len: valid_len,
            mapped_len: 0,
            map: None,
            dirty: false,
        };
        f.remap()?;
        Ok(f)
    }

    pub fn path(&self) -> &Path {
        &self.f.path
    }

    pub fn len_bytes(&self) -> u64 {
        self.len
    }

    /// Queues one region (`data` after zero padding up to [`REGION_ALIGN`]) on `batch` and
    /// returns its offset. Readable through [`ColumnFile::bytes`] after the batch is flushed
    /// and the file `flush`ed.
    fn queue_region<'a>(&mut self, batch: &mut IoBatch<'a>, data: &'a [u8]) -> Result<u64> {
        let pad = (self.len.next_multiple_of(REGION_ALIGN) - self.len) as usize;
        batch.push(&self.f, [&PADDING[..pad], data])?;
        let offset = self.len + pad as u64;
        self.len = offset + data.len() as u64;
        self.dirty = true;
        Ok(offset)
    }

    /// Writes one region, the concatenation of `parts` after padding, at once (for regions
    /// built in scratch memory). Flushes `batch` first, so regions land in offset order.
    fn write_region(&mut self, batch: &mut IoBatch<'_>, parts: &[&[u8]]) -> Result<u64> {
        batch.flush()?;
        let pad = (self.len.next_multiple_of(REGION_ALIGN) - self.len) as usize;
        let mut iov = [IoSlice::new(&[]); 4];
        assert!(parts.len() < iov.len(), "at most three parts per region");
        iov[0] = IoSlice::new(&PADDING[..pad]);
        for (slot, part) in iov[1..].iter_mut().zip(parts) {
            *slot = IoSlice::new(part);
        }
        write_all_vectored(&self.f, &mut iov[..parts.len() + 1])?;
        let offset = self.len + pad as u64;
        self.len = offset + parts.iter().map(|p| p.len() as u64).sum::<u64>();
        self.dirty = true;
        Ok(offset)
    }

    /// Makes written regions readable (remaps), and fdatasyncs when `sync`.
    pub fn flush(&mut self, sync: bool) -> Result<()> {
        if self.len != self.mapped_len {
            self.remap()?;
        }
        if sync && self.dirty {
            self.f.file.sync_data().at(&self.f.path)?;
            self.dirty = false;
        }
        Ok(())
    }

    /// The file, if it was written since the last call, for the caller to have it synced.
    pub(crate) fn take_dirty(&mut self) -> Option<Arc<SyncFile>> {
        std::mem::take(&mut self.dirty).then(|| Arc::clone(&self.f))
    }

    /// Cuts regions written since the last `flush` (a seal that failed part-way). The mapping
    /// covers exactly the kept bytes, so it stays valid.
    pub fn discard_unflushed(&mut self) {
        if self.len > self.mapped_len {
            if let Err(e) = self.f.file.set_len(self.mapped_len) {
                log::warn!("could not cut {}: {e}", self.f.path.display());
                return;
            }
            self.len = self.mapped_len;
        }
    }

    fn remap(&mut self) -> Result<()> {
        self.map = if self.len == 0 {
            None
        } else {
            // SAFETY: the file is private to this shard's data directory and only this shard
            // writes it, append-only; it is cut only back to `mapped_len`, never inside the
            // mapping, while the mapping lives.
            Some(unsafe { Mmap::map(&self.f.file) }.at(&self.f.path)?)
        };
        self.mapped_len = self.len;
        Ok(())
    }

    /// The mapped bytes `offset..offset + len`, or `Corrupt` if out of range.
    pub fn bytes(&self, offset: u64, len: u64) -> Result<&[u8]> {
        let map: &[u8] = self.map.as_deref().unwrap_or(&[]);
        let end = offset.checked_add(len).filter(|&e| e <= map.len() as u64);
        match end {
            Some(end) => Ok(&map[offset as usize..end as usize]),
            None => Err(corrupt(
                &self.f.path,
                offset,
                format!("region of {len} bytes is past the end of the file"),
            )),
        }
    }
}

/// Reinterprets little-endian bytes as a slice of `T` without copying.
pub(crate) fn cast<T: Pod>(bytes: &[u8]) -> Option<&[T]> {
    let size = std::mem::size_of::<T>();
    if bytes.len() % size != 0 || bytes.as_ptr() as usize % std::mem::align_of::<T>() != 0 {
        return None;
    }
    // SAFETY: length and alignment are checked above, T is a plain number type for which every
    // bit pattern is valid, and the platform is little-endian (asserted at compile time).
    Some(unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), bytes.len() / size) })
}

/// The little-endian bytes of a slice of numbers, without copying (the platform is
/// little-endian, asserted at compile time, so memory order is the on-disk order).
#[inline]
pub(crate) fn as_bytes<T: Pod>(values: &[T]) -> &[u8] {
    // SAFETY: T is a plain number type without padding; any initialized value is valid bytes,
    // and u8 has alignment 1. The length is the slice's size in bytes.
    unsafe {
        std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values))
    }
}

/// The bytes of a slice of numbers, mutably: writing any bytes leaves valid numbers.
#[inline]
pub(crate) fn as_bytes_mut<T: Pod>(values: &mut [T]) -> &mut [u8] {
    // SAFETY: as in `as_bytes`; additionally every bit pattern is a valid T (`Pod`), so any
    // bytes written through the view leave valid values.
    unsafe {
        std::slice::from_raw_parts_mut(
            values.as_mut_ptr().cast::<u8>(),
            std::mem::size_of_val(values),
        )
    }
}

/// Plain number types whose every bit pattern is a valid value.
pub(crate) trait Pod: Copy {}
impl Pod for i64 {}
impl Pod for u64 {}
impl Pod for f64 {}
impl Pod for u32 {}
impl Pod for u8 {}

/// The files of one (table, day) partition, keyed by column id.
#[derive(Debug)]
pub struct Partition {
    pub dir: PathBuf,
    pub files: HashMap<ColumnId, ColumnFile>,
}

impl Partition {
    /// Opens the partition, cutting each column file to `extents[id]` (missing = 0).
    pub fn open(dir: PathBuf, extents: &HashMap<ColumnId, u64>) -> Result<Partition> {
        fs::create_dir_all(&dir).at(&dir)?;
        let mut files = HashMap::new();
        for (&id, &extent) in extents {
            files.insert(id, ColumnFile::open(column_path(&dir, id), extent)?);
        }
        // Files of columns that no indexed block references are leftovers: start them empty.
        for entry in fs::read_dir(&dir).at(&dir)? {
            let entry = entry.at(&dir)?;
            let name = entry.file_name();
            let id = name.to_str().and_then(|n| {
                n.strip_prefix('c')?
                    .strip_suffix(".col")?
                    .parse::<ColumnId>()
                    .ok()
            });
            if let Some(id) = id {
                if !files.contains_key(&id) {
                    files.insert(id, ColumnFile::open(entry.path(), 0)?);
                }
            }
        }
        Ok(Partition { dir, files })
    }

    fn file(&mut self, id: ColumnId) -> Result<&mut ColumnFile> {
        if !self.files.contains_key(&id) {
            let f = ColumnFile::open(column_path(&self.dir, id), 0)?;
            self.files.insert(id, f);
        }
        Ok(self.files.get_mut(&id).expect("inserted"))
    }

    /// Writes rows `rows` of `col` (already time-sorted) as one block column: the values
    /// region is queued on `batch` straight from the hot buffer's memory; string offsets and
    /// validity bitmaps are built in `scratch` and written at once. CRC and statistics are
    /// computed over the same slices; `sorted` (the timestamp column) takes min and max from
    /// the ends.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn write_column<'a>(
        &mut self,
        id: ColumnId,
        ty: ColumnType,
        col: &'a ColumnBuf,
        rows: std::ops::Range<usize>,
        sorted: bool,
        scratch: &mut Vec<u8>,
        batch: &mut IoBatch<'a>,
    ) -> Result<BlockColumn> {
        let (lo, hi) = (rows.start, rows.end);
        assert!(
            lo < hi && hi <= col.len(),
            "block rows {lo}..{hi} of {}",
            col.len()
        );
        let (has_stats, min_bits, max_bits) = match (&col.values, &col.validity) {
            (Values::I64(v), None) if sorted => {
                debug_assert!(v[lo..hi].windows(2).all(|w| w[0] <= w[1]), "sorted block");
                (true, v[lo] as u64, v[hi - 1] as u64)
            }
            _ => stats(&col.values, col.validity.as_ref(), lo, hi),
        };
        let null_count = col
            .validity
            .as_ref()
            .map_or(0, |v| (lo..hi).filter(|&i| !v.get(i)).count()) as u32;
        let file = self.file(id)?;
        let fixed = |file: &mut ColumnFile, batch: &mut IoBatch<'a>, data: &'a [u8]| {
            let offset = file.queue_region(batch, data)?;
            Ok::<_, StorageError>((offset, data.len() as u64, crc32c::crc32c(data)))
        };
        let (offset, data_bytes, mut crc) = match &col.values {
            Values::I64(v) => fixed(file, batch, as_bytes(&v[lo..hi]))?,
            Values::U64(v) => fixed(file, batch, as_bytes(&v[lo..hi]))?,
            Values::F64(v) => fixed(file, batch, as_bytes(&v[lo..hi]))?,
            Values::Bool(v) => fixed(file, batch, &v[lo..hi])?,
            Values::Sym(v) => fixed(file, batch, as_bytes(&v[lo..hi]))?,
            Values::Str(s) => {
                let base = s.offsets[lo];
                scratch.clear();
                scratch.reserve((hi - lo + 1) * 4);
                for &o in &s.offsets[lo..=hi] {
                    scratch.extend_from_slice(&(o - base).to_le_bytes());
                }
                let bytes = &s.bytes[base as usize..s.offsets[hi] as usize];
                let offset = file.write_region(batch, &[scratch, bytes])?;
                let crc = crc32c::crc32c_append(crc32c::crc32c(scratch), bytes);
                (offset, (scratch.len() + bytes.len()) as u64, crc)
            }
        };
        let mut validity_offset = 0;
        if null_count > 0 {
            let v = col.validity.as_ref().expect("nulls have a bitmap");
            scratch.clear();
            scratch.resize((hi - lo).div_ceil(8), 0);
            for (j, i) in (lo..hi).enumerate() {
                if v.get(i) {
                    scratch[j / 8] |= 1 << (j % 8);
                }
            }
            crc = crc32c::crc32c_append(crc, scratch);
            validity_offset = file.write_region(batch, &[scratch])?;
        }
        Ok(BlockColumn {
            id,
            ty,
            null_count,
            offset,
            data_bytes,
            validity_offset,
            min_bits,
            max_bits,
            has_stats,
            crc,
        })
    }

    pub fn flush(&mut self, sync: bool) -> Result<()> {
        for f in self.files.values_mut() {
            f.flush(sync)?;
        }
        Ok(())
    }

    /// Appends the files written since the last call (to be synced) to `out`.
    pub(crate) fn take_dirty(&mut self, out: &mut Vec<Arc<SyncFile>>) {
        out.extend(self.files.values_mut().filter_map(ColumnFile::take_dirty));
    }
}

pub fn column_path(dir: &Path, id: ColumnId) -> PathBuf {
    dir.join(format!("c{id}.col"))
}

/// Min/max of the valid (and, for floats, non-NaN) values of rows `lo..hi`, as raw bits. On
/// ties the first value seen wins (this decides the bits of -0.0 against 0.0).
fn stats(values: &Values, validity: Option<&Bitmap>, lo: usize, hi: usize) -> (bool, u64, u64) {
    fn fold<T: Copy + PartialOrd>(
        v: &[T],
        lo: usize,
        validity: Option<&Bitmap>,
        keep: impl Fn(T) -> bool,
    ) -> Option<(T, T)> {
        let mut acc: Option<(T, T)> = None;
        for (j, &x) in v.iter().enumerate() {
            if validity.is_some_and(|b| !b.get(lo + j)) || !keep(x) {
                continue;
            }
            acc = Some(match acc {
                None => (x, x),
                Some((a, b)) => (if x < a { x } else { a }, if x > b { x } else { b }),
            });
        }
        acc
    }
    /// Integers have no ties that differ in bits: plain (vectorizable) min and max.
    fn int<T: Copy + Ord>(v: &[T], lo: usize, validity: Option<&Bitmap>) -> Option<(T, T)> {
        match validity {
            None => Some((*v.iter().min()?, *v.iter().max()?)),
            Some(_) => fold(v, lo, validity, |_| true),
        }
    }
    let r = match values {
        Values::I64(v) => int(&v[lo..hi], lo, validity).map(|(a, b)| (a as u64, b as u64)),
        Values::U64(v) => int(&v[lo..hi], lo, validity),
        Values::F64(v) => fold(&v[lo..hi], lo, validity, |x: f64| !x.is_nan())
            .map(|(a, b)| (a.to_bits(), b.to_bits())),
        Values::Bool(_) | Values::Sym(_) | Values::Str(_) => None,
    };
    match r {
        Some((a, b)) => (true, a, b),
        None => (false, 0, 0),
    }
}

impl Partition {
    /// Cuts regions written since the last `flush` from every file (a seal that failed).
    pub fn discard_unflushed(&mut self) {
        for f in self.files.values_mut() {
            f.discard_unflushed();
        }
    }
}
