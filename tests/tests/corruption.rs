//! Corruption tests: damaged files give `StorageError::Corrupt` (file, offset), never a panic.
//!
//! A torn tail of an append-only file is cut instead; nothing may read back silently wrong.
//!
//! Tests marked `#[ignore = "storage bug: ..."]` reproduce storage bugs found while writing
//! these; they pass once the bug is fixed (`cargo test -p tests --test corruption -- --ignored`).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::ops::ControlFlow;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use storage::{
    day_name, Batch, ColumnType, FsyncPolicy, RecoveryReport, ScanSpec, Shard, ShardConfig,
    StorageError, TableSpec,
};
use tests::{crash, read_table, symbol_names, Value};

const BATCHES: u64 = 30;
const ROWS_PER_BATCH: usize = 20;

/// Small buffers and WAL segments: many sealed blocks, WAL segments that seals delete, and
/// rows left hot. The fsync policy does not matter to what these tests damage.
fn config() -> ShardConfig {
    ShardConfig {
        fsync: FsyncPolicy::Never,
        block_rows: 8,
        wal_segment_bytes: 4096,
        ..ShardConfig::default()
    }
}

/// A data directory holding `crash_ticks` batches 1..=BATCHES, partly sealed, partly hot.
fn fixture() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shard");
    let (mut shard, _) = Shard::open(&dir, config()).unwrap();
    shard.create_table(crash::spec()).unwrap();
    for b in 1..=BATCHES {
        shard
            .append(&crash::batch(b, ROWS_PER_BATCH, b % 2 == 0))
            .unwrap();
        shard.commit().unwrap();
    }
    let stats = shard.stats();
    assert!(
        stats.blocks > 0 && stats.hot_rows > 0,
        "fixture has sealed and hot rows: {stats:?}"
    );
    (tmp, dir)
}

fn expected_rows() -> Vec<Vec<Value>> {
    let mut rows: Vec<Vec<Value>> = (1..=BATCHES)
        .flat_map(|b| (0..ROWS_PER_BATCH).map(move |i| crash::row(b, i, ROWS_PER_BATCH).values()))
        .collect();
    rows.sort();
    rows
}

fn open(dir: &Path) -> storage::Result<(Shard, RecoveryReport)> {
    catch_unwind(AssertUnwindSafe(|| Shard::open(dir, config())))
        .unwrap_or_else(|_| panic!("Shard::open panicked on damaged files in {}", dir.display()))
}

/// Opens `dir` and checks that it holds exactly the fixture's rows, intact.
fn assert_intact(dir: &Path) -> RecoveryReport {
    let (mut shard, report) = open(dir).expect("open");
    shard.check_invariants();
    assert_eq!(shard.verify().unwrap(), shard.stats().sealed_rows);
    let mut rows = read_table(&mut shard, crash::TABLE).unwrap();
    rows.sort();
    assert!(rows == expected_rows(), "rows differ from what was written");
    report
}

fn expect_corrupt(result: storage::Result<impl Sized>) -> (PathBuf, u64, String) {
    match result {
        Err(StorageError::Corrupt {
            file,
            offset,
            reason,
        }) => (file, offset, reason),
        Err(other) => panic!("expected Corrupt, got {other}"),
        Ok(_) => panic!("expected Corrupt, got success"),
    }
}

/// Where one column of one sealed block lives.
#[derive(Debug, Clone)]
struct Region {
    file: PathBuf,
    offset: u64,
    data_bytes: u64,
    /// Offset of the validity bitmap, if the block has NULLs in this column.
    validity_offset: Option<u64>,
}

/// Regions of column `column` (a schema position of the crash table) in every sealed block.
fn regions(dir: &Path, column: usize) -> Vec<Region> {
    let (mut shard, _) = open(dir).unwrap();
    let schema = shard.catalog().get(crash::TABLE).unwrap().clone();
    let id = schema.columns[column].id;
    let mut out = Vec::new();
    shard
        .scan(&ScanSpec::all(schema.id, vec![column]), |view| {
            if let Some(meta) = view.meta {
                let c = meta
                    .columns
                    .iter()
                    .find(|c| c.id == id)
                    .expect("block has the column");
                out.push(Region {
                    file: dir
                        .join("tables")
                        .join(schema.id.to_string())
                        .join(day_name(meta.day))
                        .join(format!("c{id}.col")),
                    offset: c.offset,
                    data_bytes: c.data_bytes,
                    validity_offset: (c.null_count > 0).then_some(c.validity_offset),
                });
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    assert!(!out.is_empty(), "fixture has sealed blocks");
    out
}

fn flip_byte(file: &Path, offset: u64) {
    let mut bytes = fs::read(file).unwrap();
    bytes[offset as usize] ^= 0x5A;
    fs::write(file, bytes).unwrap();
}

fn append_bytes(file: &Path, garbage: &[u8]) {
    let mut f = OpenOptions::new().append(true).open(file).unwrap();
    f.write_all(garbage).unwrap();
}

fn last_wal_segment(dir: &Path) -> PathBuf {
    let mut segments: Vec<PathBuf> = fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    segments.sort();
    segments.pop().expect("a WAL segment")
}

#[test]
fn flipped_byte_in_a_sealed_values_region_fails_verify_naming_the_file() {
    let (_tmp, dir) = fixture();
    let all = regions(&dir, crash::COL_PRICE);
    let target = &all[all.len() / 2];
    flip_byte(&target.file, target.offset + target.data_bytes / 2);

    // Opening does not read sealed data; scans are not checked; `verify` is.
    let (shard, _) = open(&dir).expect("open does not check block CRCs");
    let (file, offset, reason) = expect_corrupt(shard.verify());
    assert_eq!(file, target.file, "{reason}");
    assert_eq!(offset, target.offset, "{reason}");
    let message = shard.verify().unwrap_err().to_string();
    assert!(
        message.contains(&target.file.display().to_string()),
        "message names the file: {message}"
    );
}

#[test]
fn flipped_bit_in_a_sealed_validity_bitmap_fails_verify() {
    let (_tmp, dir) = fixture();
    let target = regions(&dir, crash::COL_PRICE)
        .into_iter()
        .find(|r| r.validity_offset.is_some())
        .expect("a block with NULL prices");
    let mut bytes = fs::read(&target.file).unwrap();
    bytes[target.validity_offset.unwrap() as usize] ^= 0x01;
    fs::write(&target.file, bytes).unwrap();
    let (shard, _) = open(&dir).unwrap();
    let (file, offset, _) = expect_corrupt(shard.verify());
    assert_eq!((file, offset), (target.file, target.offset));
}

#[test]
fn truncated_column_file_fails_open_with_file_and_offset() {
    let (_tmp, dir) = fixture();
    let file = regions(&dir, crash::COL_ID).pop().unwrap().file;
    let original = fs::read(&file).unwrap();
    for new_len in [original.len() as u64 - 1, original.len() as u64 / 2, 0] {
        OpenOptions::new()
            .write(true)
            .open(&file)
            .unwrap()
            .set_len(new_len)
            .unwrap();
        let (corrupt_file, offset, reason) = expect_corrupt(open(&dir));
        assert_eq!(corrupt_file, file, "{reason}");
        assert_eq!(
            offset, new_len,
            "the offset is where the file ends: {reason}"
        );
    }
    // A failed open changed nothing else: with the bytes back, everything reads.
    fs::write(&file, &original).unwrap();
    assert_intact(&dir);
}

#[test]
fn garbage_after_the_wal_tail_is_cut_and_data_is_intact() {
    let mut plausible_header = Vec::new();
    plausible_header.extend_from_slice(&1000u32.to_le_bytes()); // payload_len past the end
    plausible_header.extend_from_slice(&0xDEAD_BEEFu32.to_le_bytes());
    plausible_header.extend_from_slice(&u64::MAX.to_le_bytes());
    plausible_header.extend_from_slice(&[7; 40]);
    let cases: [(&str, Vec<u8>); 5] = [
        ("one byte", vec![0x42]),
        ("short header", vec![0; 7]),
        ("zeros", vec![0; 64]),
        ("0xAB fill", vec![0xAB; 100]),
        ("header promising more bytes than exist", plausible_header),
    ];
    for (name, garbage) in cases {
        let (_tmp, dir) = fixture();
        let segment = last_wal_segment(&dir);
        let valid_len = fs::metadata(&segment).unwrap().len();
        append_bytes(&segment, &garbage);

        let report = assert_intact(&dir);
        assert_eq!(
            report.wal.truncated,
            Some((segment.clone(), valid_len, garbage.len() as u64)),
            "{name}: the report names the segment, where the cut is and how much was cut"
        );
        assert_eq!(
            fs::metadata(&segment).unwrap().len(),
            valid_len,
            "{name}: the garbage is gone"
        );
        assert_eq!(
            assert_intact(&dir).wal.truncated,
            None,
            "{name}: nothing left to cut"
        );

        // The log continues cleanly after the cut.
        let (mut shard, _) = open(&dir).unwrap();
        let seq = shard.append(&crash::batch(BATCHES + 1, 3, false)).unwrap();
        assert!(shard.commit().unwrap().durable_seq >= seq);
        drop(shard);
        let (mut shard, report) = open(&dir).unwrap();
        assert_eq!(report.wal.truncated, None);
        let rows = read_table(&mut shard, crash::TABLE).unwrap();
        assert_eq!(rows.len(), BATCHES as usize * ROWS_PER_BATCH + 3, "{name}");
    }
}

#[test]
fn garbage_catalog_is_corrupt_not_a_panic() {
    let (_tmp, dir) = fixture();
    let path = dir.join("catalog.json");
    let original = fs::read(&path).unwrap();
    let text = String::from_utf8(original.clone()).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("not JSON", b"{not json".to_vec()),
        ("binary", vec![0xFF, 0xFE, 0x00, 0x13, 0x37]),
        ("null", b"null".to_vec()),
        ("array", b"[]".to_vec()),
        ("truncated", original[..original.len() / 2].to_vec()),
        (
            "unknown version",
            text.replacen("\"version\": 1", "\"version\": 99", 1)
                .into_bytes(),
        ),
        (
            "timestamp index out of range",
            text.replace("\"ts_index\": 0", "\"ts_index\": 4000")
                .into_bytes(),
        ),
        (
            "duplicate column ids",
            text.replace("\"id\": 5,", "\"id\": 4,").into_bytes(),
        ),
    ];
    for (name, bytes) in cases {
        assert_ne!(bytes, original, "{name}: the case changes the file");
        fs::write(&path, &bytes).unwrap();
        let (file, _, reason) = expect_corrupt(open(&dir));
        assert_eq!(file, path, "{name}: {reason}");
    }
    fs::write(&path, &original).unwrap();
    assert_intact(&dir);
}

#[test]
fn torn_tails_of_the_block_index_and_dictionary_are_cut_and_data_is_intact() {
    for file in ["blocks.idx", "symbols.dict"] {
        let (_tmp, dir) = fixture();
        let path = dir.join(file);
        let len = fs::metadata(&path).unwrap().len();
        append_bytes(&path, &[0x33; 21]);
        assert_intact(&dir);
        assert_eq!(
            fs::metadata(&path).unwrap().len(),
            len,
            "{file}: the torn tail is cut"
        );
    }
}

// ----- Storage bugs (see the module docs) -----

/// A CRC failure in a block index record that is followed by intact records is not a torn
/// write. Today `IndexLog::open` truncates the index there, and `open_partitions` then deletes
/// every partition directory no surviving record references: sealed rows whose WAL segments
/// were already deleted are gone, and `open` succeeds.
#[test]

fn flipped_byte_inside_the_block_index_is_corrupt_not_a_torn_tail() {
    let (_tmp, dir) = fixture();
    let index = dir.join("blocks.idx");
    assert!(
        fs::metadata(&index).unwrap().len() > 1000,
        "several seal records"
    );
    flip_byte(&index, 16 + 30); // inside the first record, after the 16-byte header
    match open(&dir) {
        Err(StorageError::Corrupt { file, offset, .. }) => assert_eq!((file, offset), (index, 16)),
        Err(e) => panic!("expected Corrupt, got {e}"),
        Ok((mut shard, report)) => panic!(
            "open succeeded with {} of {} rows ({} blocks indexed); partitions left: {:?}",
            read_table(&mut shard, crash::TABLE).unwrap().len(),
            BATCHES as usize * ROWS_PER_BATCH,
            report.blocks,
            fs::read_dir(dir.join("tables").join("3"))
                .map(|d| d.count())
                .unwrap_or(0)
        ),
    }
}

/// The same for the WAL's last segment: a CRC failure in its first record, followed by intact
/// records, cuts every later record, although each was acknowledged as durable.
#[test]

fn flipped_byte_early_in_the_last_wal_segment_is_corrupt_not_a_torn_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shard");
    let always = || ShardConfig {
        fsync: FsyncPolicy::Always,
        ..ShardConfig::default()
    };
    let (mut shard, _) = Shard::open(&dir, always()).unwrap();
    shard.create_table(crash::spec()).unwrap();
    for b in 1..=40 {
        let seq = shard.append(&crash::batch(b, 10, false)).unwrap();
        assert!(shard.commit().unwrap().durable_seq >= seq, "acknowledged");
    }
    drop(shard);
    let segment = last_wal_segment(&dir);
    flip_byte(&segment, 16 + 40); // inside the first record's payload
    match Shard::open(&dir, always()) {
        Err(StorageError::Corrupt { file, offset, .. }) => {
            assert_eq!((file, offset), (segment, 16))
        }
        Err(e) => panic!("expected Corrupt, got {e}"),
        Ok((mut shard, report)) => panic!(
            "open succeeded with {} of 400 acknowledged rows; truncated {:?}",
            read_table(&mut shard, crash::TABLE).unwrap().len(),
            report.wal.truncated
        ),
    }
}

/// `Shard::open` checks that block keys are inside the symbol dictionary, but not the ids in
/// sealed non-key Symbol columns. When the dictionary lost entries (a corrupt or torn entry is
/// cut with everything after it), those ids dangle, and the next new symbol silently takes one:
/// old rows then read a different symbol.
#[test]

fn lost_dictionary_entry_of_a_sealed_non_key_symbol_column_is_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shard");
    let tiny_wal = || ShardConfig {
        wal_segment_bytes: 64, // every commit rolls, every seal deletes the old segments
        ..config()
    };
    let (mut shard, _) = Shard::open(&dir, tiny_wal()).unwrap();
    shard
        .create_table(
            TableSpec::new("t")
                .column("timestamp", ColumnType::Timestamp)
                .column("symbol", ColumnType::Symbol)
                .column("venue", ColumnType::Symbol),
        )
        .unwrap();
    shard
        .append(
            &Batch::new("t")
                .i64s("timestamp", vec![1, 2])
                .strs("symbol", ["K", "K"])
                .strs("venue", ["V1", "V1"]),
        )
        .unwrap();
    shard.commit().unwrap();
    shard.seal_all().unwrap();
    shard
        .append(
            &Batch::new("t")
                .i64s("timestamp", vec![3])
                .strs("symbol", ["K"])
                .strs("venue", ["V1"]),
        )
        .unwrap();
    shard.commit().unwrap();
    shard.seal_all().unwrap();
    drop(shard);
    // Keep only the first entry ("K": 8-byte header + 1 byte); "V1" is referenced only by the
    // sealed venue column.
    let dict = dir.join("symbols.dict");
    let bytes = fs::read(&dict).unwrap();
    fs::write(&dict, &bytes[..9]).unwrap();
    match Shard::open(&dir, tiny_wal()) {
        Err(StorageError::Corrupt { file, .. }) => assert_eq!(file, dict),
        Err(e) => panic!("expected Corrupt, got {e}"),
        Ok((mut shard, _)) => {
            shard
                .append(
                    &Batch::new("t")
                        .i64s("timestamp", vec![4])
                        .strs("symbol", ["Z"])
                        .strs("venue", ["V2"]),
                )
                .unwrap();
            panic!(
                "open succeeded with dictionary {:?}; the sealed venues now read {:?}",
                symbol_names(&shard),
                read_table(&mut shard, "t").unwrap()
            );
        }
    }
}
