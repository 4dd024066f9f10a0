//! Column files of one day partition: append-only, 64-byte-aligned regions, read through mmap.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::batch::{ColumnBuf, Values};
use crate::error::{corrupt, IoContext, Result};
use crate::index::BlockColumn;
use crate::types::{ColumnId, ColumnType};

/// Every region starts at a multiple of this, so mmap'd values can be read as `&[i64]` in place
/// and SIMD loads of a region's start are aligned.
pub const REGION_ALIGN: u64 = 64;

const _: () = assert!(
    cfg!(target_endian = "little"),
    "on-disk formats are little-endian"
);

/// One append-only column file and its current read mapping.
pub struct ColumnFile {
    path: PathBuf,
    file: File,
    /// Bytes on disk (including writes not yet mapped).
    len: u64,
    map: Option<Mmap>,
    /// Bytes staged for the next write, starting at offset `len`.
    pending: Vec<u8>,
    dirty: bool,
}

impl std::fmt::Debug for ColumnFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ColumnFile({}, {} bytes)", self.path.display(), self.len)
    }
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
            path,
            file,
            len: valid_len,
            map: None,
            pending: Vec::new(),
            dirty: false,
        };
        f.remap()?;
        Ok(f)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len_bytes(&self) -> u64 {
        self.len + self.pending.len() as u64
    }

    /// Stages `bytes` as a new region; returns its offset. Written by `flush`.
    fn stage_region(&mut self, bytes: &[u8]) -> u64 {
        let end = self.len_bytes();
        let pad = end.next_multiple_of(REGION_ALIGN) - end;
        self.pending.resize(self.pending.len() + pad as usize, 0);
        let offset = end + pad;
        self.pending.extend_from_slice(bytes);
        offset
    }

    /// Writes staged regions (one write), optionally fdatasyncs, and remaps.
    pub fn flush(&mut self, sync: bool) -> Result<()> {
        if !self.pending.is_empty() {
            if let Err(e) = self.file.write_all(&self.pending) {
                let _ = self.file.set_len(self.len);
                return Err(e).at(&self.path);
            }
            self.len += self.pending.len() as u64;
            self.pending.clear();
            self.dirty = true;
            self.remap()?;
        }
        if sync && self.dirty {
            self.file.sync_data().at(&self.path)?;
            self.dirty = false;
        }
        Ok(())
    }

    fn remap(&mut self) -> Result<()> {
        self.map = if self.len == 0 {
            None
        } else {
            // SAFETY: the file is private to this shard's data directory and only this shard
            // writes it, append-only; nothing truncates it while the mapping lives.
            Some(unsafe { Mmap::map(&self.file) }.at(&self.path)?)
        };
        Ok(())
    }

    /// The mapped bytes `offset..offset + len`, or `Corrupt` if out of range.
    pub fn bytes(&self, offset: u64, len: u64) -> Result<&[u8]> {
        let map: &[u8] = self.map.as_deref().unwrap_or(&[]);
        let end = offset.checked_add(len).filter(|&e| e <= map.len() as u64);
        match end {
            Some(end) => Ok(&map[offset as usize..end as usize]),
            None => Err(corrupt(
                &self.path,
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

    /// Stages rows `lo..hi` of `col` (already time-sorted) as one block column.
    pub fn stage_column(
        &mut self,
        id: ColumnId,
        ty: ColumnType,
        col: &ColumnBuf,
        lo: usize,
        hi: usize,
    ) -> Result<BlockColumn> {
        let mut data = Vec::new();
        encode_values(&col.values, lo, hi, &mut data);
        let (has_stats, min_bits, max_bits) = stats(&col.values, col, lo, hi);
        let null_count = (lo..hi).filter(|&i| !col.is_valid(i)).count() as u32;
        let mut crc = crc32c::crc32c(&data);
        let file = self.file(id)?;
        let offset = file.stage_region(&data);
        let mut validity_offset = 0;
        if null_count > 0 {
            let mut bits = vec![0u8; (hi - lo).div_ceil(8)];
            for (j, i) in (lo..hi).enumerate() {
                if col.is_valid(i) {
                    bits[j / 8] |= 1 << (j % 8);
                }
            }
            crc = crc32c::crc32c_append(crc, &bits);
            validity_offset = file.stage_region(&bits);
        }
        Ok(BlockColumn {
            id,
            ty,
            null_count,
            offset,
            data_bytes: data.len() as u64,
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
}

pub fn column_path(dir: &Path, id: ColumnId) -> PathBuf {
    dir.join(format!("c{id}.col"))
}

fn encode_values(values: &Values, lo: usize, hi: usize, out: &mut Vec<u8>) {
    match values {
        Values::I64(v) => v[lo..hi]
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Values::U64(v) => v[lo..hi]
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Values::F64(v) => v[lo..hi]
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Values::Bool(v) => out.extend_from_slice(&v[lo..hi]),
        Values::Sym(v) => v[lo..hi]
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Values::Str(s) => {
            let base = s.offsets[lo];
            for &o in &s.offsets[lo..=hi] {
                out.extend_from_slice(&(o - base).to_le_bytes());
            }
            out.extend_from_slice(&s.bytes[base as usize..s.offsets[hi] as usize]);
        }
    }
}

/// Min/max of the valid (and, for floats, non-NaN) values, as raw bits.
fn stats(values: &Values, col: &ColumnBuf, lo: usize, hi: usize) -> (bool, u64, u64) {
    fn fold<T: Copy + PartialOrd>(
        v: &[T],
        lo: usize,
        hi: usize,
        col: &ColumnBuf,
        keep: impl Fn(T) -> bool,
    ) -> Option<(T, T)> {
        let mut acc: Option<(T, T)> = None;
        for (i, &x) in v.iter().enumerate().take(hi).skip(lo) {
            if !col.is_valid(i) || !keep(x) {
                continue;
            }
            acc = Some(match acc {
                None => (x, x),
                Some((a, b)) => (if x < a { x } else { a }, if x > b { x } else { b }),
            });
        }
        acc
    }
    let r = match values {
        Values::I64(v) => fold(v, lo, hi, col, |_| true).map(|(a, b)| (a as u64, b as u64)),
        Values::U64(v) => fold(v, lo, hi, col, |_| true),
        Values::F64(v) => {
            fold(v, lo, hi, col, |x: f64| !x.is_nan()).map(|(a, b)| (a.to_bits(), b.to_bits()))
        }
        Values::Bool(_) | Values::Sym(_) | Values::Str(_) => None,
    };
    match r {
        Some((a, b)) => (true, a, b),
        None => (false, 0, 0),
    }
}

impl ColumnFile {
    /// Forgets staged regions after a failed seal.
    pub fn discard_pending(&mut self) {
        self.pending.clear();
    }
}

impl Partition {
    pub fn discard_pending(&mut self) {
        for f in self.files.values_mut() {
            f.discard_pending();
        }
    }
}
