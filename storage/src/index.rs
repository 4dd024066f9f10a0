//! The block index: an append-only log (`blocks.idx`) of seal groups and partition drops.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use crate::error::{corrupt, IoContext, Result};
use crate::sync::SyncFile;
use crate::types::{ColumnId, ColumnType, Seq, SymKey, TableId};

pub const INDEX_FILE: &str = "blocks.idx";
pub const INDEX_MAGIC: &[u8; 8] = b"RONTOIDX";
pub const INDEX_VERSION: u32 = 1;
const INDEX_HEADER_BYTES: usize = 16;
/// `payload_len u32 | crc32c(kind, payload) u32 | kind u8`.
const RECORD_HEADER_BYTES: usize = 9;
const KIND_SEAL: u8 = 1;
const KIND_DROP_BEFORE: u8 = 2;
pub const BLOCK_HEADER_BYTES: usize = 46;
pub const BLOCK_COLUMN_BYTES: usize = 52;

/// Where one column of one block lives in its column file, plus its statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockColumn {
    pub id: ColumnId,
    pub ty: ColumnType,
    pub null_count: u32,
    /// Byte offset of the values region (64-byte aligned).
    pub offset: u64,
    /// Bytes of the values region (for strings: offsets then bytes).
    pub data_bytes: u64,
    /// Byte offset of the validity bitmap; meaningful only when `null_count > 0`.
    pub validity_offset: u64,
    /// Minimum and maximum of the non-null values as raw bits (i64, u64 or f64 by `ty`);
    /// meaningful for numeric and timestamp columns with at least one non-null, non-NaN value.
    pub min_bits: u64,
    pub max_bits: u64,
    pub has_stats: bool,
    /// CRC32C of the values region followed by the validity bitmap (if any).
    pub crc: u32,
}

/// One sealed block: rows of one symbol of one table within one day partition, time-sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockMeta {
    pub table_id: TableId,
    pub day: i32,
    pub key: SymKey,
    pub rows: u32,
    pub min_ts: i64,
    pub max_ts: i64,
    /// Every row of (table, key) with seq <= max_seq is in a sealed block.
    pub max_seq: Seq,
    pub columns: Vec<BlockColumn>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexRecord {
    /// Blocks written by one seal; indexed atomically (one CRC over all of them).
    /// `dict_len` is the symbol dictionary's length when they were sealed: every id they
    /// reference is below it, so recovery can check the dictionary is complete.
    Seal {
        dict_len: u32,
        blocks: Vec<BlockMeta>,
    },
    /// Partitions of `table_id` with day < `cutoff_day` are gone; WAL rows of those days with
    /// seq <= `seq` must not be replayed.
    DropBefore {
        table_id: TableId,
        cutoff_day: i32,
        seq: Seq,
    },
}

fn put_u16(b: &mut Vec<u8>, v: u16) {
    b.extend_from_slice(&v.to_le_bytes());
}
fn put_u32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_le_bytes());
}
fn put_u64(b: &mut Vec<u8>, v: u64) {
    b.extend_from_slice(&v.to_le_bytes());
}

/// A bounds-checked little-endian reader over a byte slice.
pub(crate) struct Reader<'a> {
    pub bytes: &'a [u8],
    pub at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, at: 0 }
    }
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    pub fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    pub fn u16(&mut self) -> Option<u16> {
        self.take(2)
            .map(|b| u16::from_le_bytes(b.try_into().expect("2")))
    }
    pub fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4")))
    }
    pub fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8")))
    }
    pub fn i64(&mut self) -> Option<i64> {
        self.u64().map(|v| v as i64)
    }
    pub fn done(&self) -> bool {
        self.at == self.bytes.len()
    }
}

impl IndexRecord {
    fn encode(&self, b: &mut Vec<u8>) -> u8 {
        match self {
            IndexRecord::Seal { dict_len, blocks } => {
                put_u32(b, *dict_len);
                put_u32(b, blocks.len() as u32);
                for m in blocks {
                    let start = b.len();
                    put_u32(b, m.table_id);
                    put_u32(b, m.day as u32);
                    put_u64(b, m.key);
                    put_u32(b, m.rows);
                    put_u64(b, m.min_ts as u64);
                    put_u64(b, m.max_ts as u64);
                    put_u64(b, m.max_seq);
                    put_u16(b, m.columns.len() as u16);
                    debug_assert_eq!(b.len() - start, BLOCK_HEADER_BYTES);
                    for c in &m.columns {
                        let start = b.len();
                        put_u16(b, c.id);
                        b.push(c.ty.tag());
                        b.push(c.has_stats as u8);
                        put_u32(b, c.null_count);
                        put_u64(b, c.offset);
                        put_u64(b, c.data_bytes);
                        put_u64(b, c.validity_offset);
                        put_u64(b, c.min_bits);
                        put_u64(b, c.max_bits);
                        put_u32(b, c.crc);
                        debug_assert_eq!(b.len() - start, BLOCK_COLUMN_BYTES);
                    }
                }
                KIND_SEAL
            }
            IndexRecord::DropBefore {
                table_id,
                cutoff_day,
                seq,
            } => {
                put_u32(b, *table_id);
                put_u32(b, *cutoff_day as u32);
                put_u64(b, *seq);
                KIND_DROP_BEFORE
            }
        }
    }

    fn decode(kind: u8, payload: &[u8]) -> Option<IndexRecord> {
        let mut r = Reader::new(payload);
        let rec = match kind {
            KIND_SEAL => {
                let dict_len = r.u32()?;
                let n = r.u32()? as usize;
                let mut blocks = Vec::with_capacity(n.min(1 << 16));
                for _ in 0..n {
                    let table_id = r.u32()?;
                    let day = r.u32()? as i32;
                    let key = r.u64()?;
                    let rows = r.u32()?;
                    let min_ts = r.i64()?;
                    let max_ts = r.i64()?;
                    let max_seq = r.u64()?;
                    let ncols = r.u16()? as usize;
                    let mut columns = Vec::with_capacity(ncols);
                    for _ in 0..ncols {
                        columns.push(BlockColumn {
                            id: r.u16()?,
                            ty: ColumnType::from_tag(r.u8()?)?,
                            has_stats: r.u8()? != 0,
                            null_count: r.u32()?,
                            offset: r.u64()?,
                            data_bytes: r.u64()?,
                            validity_offset: r.u64()?,
                            min_bits: r.u64()?,
                            max_bits: r.u64()?,
                            crc: r.u32()?,
                        });
                    }
                    blocks.push(BlockMeta {
                        table_id,
                        day,
                        key,
                        rows,
                        min_ts,
                        max_ts,
                        max_seq,
                        columns,
                    });
                }
                IndexRecord::Seal { dict_len, blocks }
            }
            KIND_DROP_BEFORE => IndexRecord::DropBefore {
                table_id: r.u32()?,
                cutoff_day: r.u32()? as i32,
                seq: r.u64()?,
            },
            _ => return None,
        };
        r.done().then_some(rec)
    }
}

/// The open index log.
pub struct IndexLog {
    /// Shared with the sync thread, which syncs it after pipelined seals.
    file: Arc<SyncFile>,
    len: u64,
}

impl std::fmt::Debug for IndexLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "IndexLog({}, {} bytes)",
            self.file.path.display(),
            self.len
        )
    }
}

impl IndexLog {
    /// Opens `dir/blocks.idx`, returning every intact record. A torn tail is truncated.
    pub fn open(dir: &Path) -> Result<(IndexLog, Vec<IndexRecord>)> {
        let path = dir.join(INDEX_FILE);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).at(&path),
        };
        let mut records = Vec::new();
        let mut valid = 0usize;
        if bytes.len() >= INDEX_HEADER_BYTES {
            if &bytes[..8] != INDEX_MAGIC {
                return Err(corrupt(&path, 0, "bad block index magic"));
            }
            let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4"));
            if version != INDEX_VERSION {
                return Err(corrupt(
                    &path,
                    8,
                    format!("unknown block index version {version}"),
                ));
            }
            valid = INDEX_HEADER_BYTES;
            while valid < bytes.len() {
                let mut r = Reader::new(&bytes[valid..]);
                let mut ends_before_eof = false;
                let parsed = (|| {
                    let len = r.u32()? as usize;
                    let crc = r.u32()?;
                    let body = r.take(1 + len)?;
                    ends_before_eof = valid + r.at < bytes.len();
                    (crc32c::crc32c(body) == crc).then_some(())?;
                    Some(IndexRecord::decode(body[0], &body[1..]))
                })();
                if parsed.is_none() && ends_before_eof && bytes[valid..].iter().any(|&b| b != 0) {
                    // A torn write is the last thing in the file; a bad record with intact
                    // bytes after it is damage, and cutting there would drop sealed data.
                    return Err(corrupt(
                        &path,
                        valid as u64,
                        "block index record CRC mismatch before the end of the file",
                    ));
                }
                match parsed {
                    Some(Some(rec)) => {
                        records.push(rec);
                        valid += r.at;
                    }
                    // The CRC matched but the record does not decode: not a torn write.
                    Some(None) => {
                        return Err(corrupt(
                            &path,
                            valid as u64,
                            "undecodable block index record",
                        ))
                    }
                    None => {
                        log::warn!(
                            "block index {}: torn record at offset {valid}; truncating {} bytes",
                            path.display(),
                            bytes.len() - valid
                        );
                        break;
                    }
                }
            }
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .at(&path)?;
        if valid < INDEX_HEADER_BYTES {
            file.set_len(0).at(&path)?;
            let mut h = [0u8; INDEX_HEADER_BYTES];
            h[..8].copy_from_slice(INDEX_MAGIC);
            h[8..12].copy_from_slice(&INDEX_VERSION.to_le_bytes());
            file.write_all(&h).at(&path)?;
            file.sync_all().at(&path)?;
            valid = INDEX_HEADER_BYTES;
        } else if (valid as u64) < bytes.len() as u64 {
            file.set_len(valid as u64).at(&path)?;
        }
        Ok((
            IndexLog {
                file: SyncFile::new(file, path),
                len: valid as u64,
            },
            records,
        ))
    }

    /// Appends one record in one write; syncs when `sync`.
    pub fn append(&mut self, rec: &IndexRecord, sync: bool) -> Result<()> {
        let mut body = vec![0u8];
        let kind = rec.encode(&mut body);
        body[0] = kind;
        let mut buf = Vec::with_capacity(body.len() + RECORD_HEADER_BYTES);
        put_u32(&mut buf, (body.len() - 1) as u32);
        put_u32(&mut buf, crc32c::crc32c(&body));
        buf.extend_from_slice(&body);
        if let Err(e) = (&self.file.file).write_all(&buf) {
            let _ = self.file.file.set_len(self.len);
            return Err(e).at(&self.file.path);
        }
        self.len += buf.len() as u64;
        if sync {
            self.file.file.sync_data().at(&self.file.path)?;
        }
        Ok(())
    }

    /// The file, for the caller to have it synced after unsynced appends.
    pub(crate) fn file(&self) -> &Arc<SyncFile> {
        &self.file
    }

    pub fn len_bytes(&self) -> u64 {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(key: SymKey) -> BlockMeta {
        BlockMeta {
            table_id: 3,
            day: -2,
            key,
            rows: 10,
            min_ts: -5,
            max_ts: 99,
            max_seq: 42,
            columns: vec![BlockColumn {
                id: 1,
                ty: ColumnType::Float64,
                null_count: 2,
                offset: 128,
                data_bytes: 80,
                validity_offset: 256,
                min_bits: 1.5f64.to_bits(),
                max_bits: 9.0f64.to_bits(),
                has_stats: true,
                crc: 77,
            }],
        }
    }

    #[test]
    fn records_round_trip_and_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let recs = vec![
            IndexRecord::Seal {
                dict_len: 9,
                blocks: vec![block(1), block(2)],
            },
            IndexRecord::DropBefore {
                table_id: 3,
                cutoff_day: 7,
                seq: 9,
            },
        ];
        {
            let (mut log, found) = IndexLog::open(dir.path()).unwrap();
            assert!(found.is_empty());
            for r in &recs {
                log.append(r, true).unwrap();
            }
        }
        let path = dir.path().join(INDEX_FILE);
        let full = fs::read(&path).unwrap();
        assert_eq!(IndexLog::open(dir.path()).unwrap().1, recs);
        // Cut the file at every length inside the last record: the first record survives.
        let first_end = full.len() - (RECORD_HEADER_BYTES + 16);
        for cut in first_end..full.len() {
            fs::write(&path, &full[..cut]).unwrap();
            let (_, found) = IndexLog::open(dir.path()).unwrap();
            assert_eq!(found, recs[..1].to_vec(), "cut at {cut}");
            assert_eq!(fs::metadata(&path).unwrap().len() as usize, first_end);
        }
    }
}
