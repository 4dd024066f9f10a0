//! Crash test: SIGKILL a child ingesting under `--fsync always`, reopen, and count what survived.
//!
//! Each round spawns `ronto-crash-child` on the same data directory, kills it after a seeded
//! random delay, reopens the shard here and checks: every acknowledged batch (of every round so
//! far) is present with exactly its rows, once each; every batch present at all is complete;
//! everything a previous recovery showed is still there; `verify()` and `check_invariants()`
//! pass. Set `RONTO_CRASH_SEED` to replay a failing run; set `RONTO_CRASH_KEEP` to keep its
//! data directory.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use storage::{FsyncPolicy, Shard, ShardConfig};
use tests::{crash, mix64, read_table, SplitMix64};

/// Rounds per run; `RONTO_CRASH_ROUNDS` overrides it for longer soaks.
const ROUNDS: u64 = 40;
const KILL_DELAY_MS_MIN: u64 = 20;
const KILL_DELAY_MS_MAX: u64 = 300;
const BLOCK_ROWS: usize = 24;
/// The whole test must stay well inside a minute on two cores.
const TEST_TIME_MAX: Duration = Duration::from_secs(50);

/// Batch number → rows, as acknowledged by children.
type Acked = BTreeMap<u64, usize>;

#[test]
fn acknowledged_batches_survive_sigkill() {
    let seed = std::env::var("RONTO_CRASH_SEED")
        .ok()
        .map(|s| s.parse::<u64>().expect("RONTO_CRASH_SEED is a u64"))
        .unwrap_or_else(|| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("after 1970");
            mix64(now.as_nanos() as u64 ^ u64::from(std::process::id()))
        });
    eprintln!("crash test seed: {seed} (rerun with RONTO_CRASH_SEED={seed})");
    let mut tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("shard");
    let rounds = std::env::var("RONTO_CRASH_ROUNDS").map_or(ROUNDS, |s| {
        s.parse().expect("RONTO_CRASH_ROUNDS is a count")
    });
    let time_max = TEST_TIME_MAX.max(Duration::from_millis(rounds * 1_000));
    let started = Instant::now();
    let mut rng = SplitMix64::new(seed);
    let mut acked = Acked::new();
    let mut seen = BTreeSet::new();
    let mut kills_with_acks = 0;
    for round in 0..rounds {
        assert!(
            started.elapsed() < time_max,
            "crash test over its time budget after {round} rounds"
        );
        let child_seed = rng.next_u64();
        let delay = Duration::from_millis(rng.between(KILL_DELAY_MS_MIN, KILL_DELAY_MS_MAX));
        let acks = run_child(&dir, child_seed, delay);
        if !acks.is_empty() {
            kills_with_acks += 1;
        }
        for (batch, rows) in acks {
            assert!(
                acked.insert(batch, rows).is_none(),
                "batch {batch} acknowledged twice (seed {seed}, round {round})"
            );
        }
        let present = check(&dir, &acked, &seen).unwrap_or_else(|e| {
            let kept = keep(&mut tmp);
            panic!("seed {seed}, round {round} (child seed {child_seed}, killed after {delay:?}), data dir {kept}: {e}")
        });
        eprintln!(
            "round {round:2}: killed after {:3} ms, {:5} batches acknowledged, {:5} present",
            delay.as_millis(),
            acked.len(),
            present.len()
        );
        seen = present;
    }
    assert!(
        kills_with_acks >= rounds / 2,
        "most rounds acknowledge something before the kill"
    );
    if std::env::var_os("RONTO_CRASH_KEEP").is_some() {
        eprintln!("kept {}", keep(&mut tmp));
    }
    eprintln!("crash test: {rounds} rounds in {:?}", started.elapsed());
}

/// Leaves the data directory in place for inspection after the test.
fn keep(tmp: &mut tempfile::TempDir) -> String {
    tmp.disable_cleanup(true);
    tmp.path().display().to_string()
}

/// Runs one child for `delay`, kills it with SIGKILL and returns the batches it acknowledged.
fn run_child(dir: &Path, seed: u64, delay: Duration) -> Vec<(u64, usize)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ronto-crash-child"))
        .arg(dir)
        .arg("always")
        .arg(seed.to_string())
        .arg(BLOCK_ROWS.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn ronto-crash-child");
    let stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut acks = Vec::new();
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        // Bounded by the child's own lifetime: read_line returns 0 at EOF once it is dead.
        loop {
            line.clear();
            match stdout.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            // A line cut short by the kill is no acknowledgement.
            let Some(text) = line.strip_suffix('\n') else {
                break;
            };
            let mut words = text.split(' ');
            match (words.next(), words.next(), words.next(), words.next()) {
                (Some("ACK"), Some(batch), Some(rows), None) => acks.push((
                    batch.parse().expect("batch number"),
                    rows.parse().expect("row count"),
                )),
                _ => panic!("unexpected line from the child: {text:?}"),
            }
        }
        acks
    });
    std::thread::sleep(delay);
    let exited_early = child.try_wait().expect("try_wait");
    child.kill().expect("SIGKILL the child");
    let status = child.wait().expect("wait for the child");
    assert!(
        exited_early.is_none(),
        "the child exited before it was killed: {exited_early:?}"
    );
    assert_eq!(
        status.signal(),
        Some(SIGKILL),
        "the child died of SIGKILL, not {status:?}"
    );
    reader.join().expect("ACK reader")
}

/// Linux's signal number; `Child::kill` sends it.
const SIGKILL: i32 = 9;

/// Reopens the shard and checks everything the test promises. Returns the batches present.
fn check(dir: &Path, acked: &Acked, seen: &BTreeSet<u64>) -> Result<BTreeSet<u64>, String> {
    let config = ShardConfig {
        fsync: FsyncPolicy::Always,
        block_rows: BLOCK_ROWS,
        ..ShardConfig::default()
    };
    let (mut shard, report) = Shard::open(dir, config).map_err(|e| format!("reopen: {e}"))?;
    shard.check_invariants();
    let sealed_rows = shard.verify().map_err(|e| format!("verify: {e}"))?;
    if shard.catalog().get(crash::TABLE).is_none() {
        // Killed before the table was created: nothing can have been acknowledged.
        return if acked.is_empty() {
            Ok(BTreeSet::new())
        } else {
            Err("crash table missing".into())
        };
    }
    let rows = read_table(&mut shard, crash::TABLE).map_err(|e| format!("scan: {e}"))?;
    let stats = shard.stats();
    if stats.sealed_rows != sealed_rows || stats.sealed_rows + stats.hot_rows != rows.len() as u64 {
        return Err(format!(
            "row counts disagree: verify {sealed_rows}, stats {stats:?}, scanned {}",
            rows.len()
        ));
    }

    // Batch → row indexes present (a set, so a duplicate is caught on insert).
    let mut batches: BTreeMap<u64, (usize, BTreeSet<usize>)> = BTreeMap::new();
    for values in &rows {
        let id = values[crash::COL_ID].as_u64().ok_or("id is NULL")?;
        let batch = values[crash::COL_BATCH].as_u64().ok_or("batch is NULL")?;
        let rows_in_batch = values[crash::COL_ROWS_IN_BATCH]
            .as_u64()
            .ok_or("rows_in_batch is NULL")? as usize;
        let (id_batch, row_index) = crash::split_id(id);
        if id_batch != batch
            || row_index >= rows_in_batch
            || rows_in_batch > crash::ROWS_PER_BATCH_MAX
        {
            return Err(format!(
                "row with id {id} says batch {batch} of {rows_in_batch} rows"
            ));
        }
        let expected = crash::row(batch, row_index, rows_in_batch).values();
        if *values != expected {
            return Err(format!("row {id} reads {values:?}, wrote {expected:?}"));
        }
        let entry = batches
            .entry(batch)
            .or_insert((rows_in_batch, BTreeSet::new()));
        if entry.0 != rows_in_batch {
            return Err(format!(
                "batch {batch} has rows claiming {} and {rows_in_batch} rows",
                entry.0
            ));
        }
        if !entry.1.insert(row_index) {
            return Err(format!(
                "row {row_index} of batch {batch} (id {id}) is present twice; recovery {report:?}"
            ));
        }
    }
    for (batch, (rows_in_batch, present)) in &batches {
        if present.len() != *rows_in_batch {
            return Err(format!(
                "batch {batch} is half-visible: {} of {rows_in_batch} rows (acknowledged: {}); recovery {report:?}",
                present.len(),
                acked.contains_key(batch)
            ));
        }
    }
    for (batch, rows) in acked {
        match batches.get(batch) {
            None => {
                return Err(format!(
                    "acknowledged batch {batch} ({rows} rows) is lost; recovery {report:?}"
                ))
            }
            Some((n, _)) if n != rows => {
                return Err(format!(
                    "acknowledged batch {batch} had {rows} rows, reads {n}"
                ))
            }
            Some(_) => {}
        }
    }
    if let Some(lost) = seen.iter().find(|b| !batches.contains_key(b)) {
        return Err(format!(
            "batch {lost} was visible after an earlier recovery and is gone now"
        ));
    }
    Ok(batches.into_keys().collect())
}
