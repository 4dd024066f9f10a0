//! In-process tests of the mesh: calls, fan-out, back-pressure, panics, commits, timers.

use std::time::Duration;

use engine::{Config, MeshError, ServerHandle};
use storage::{Batch, Shard, ShardConfig};

fn config(dir: &std::path::Path) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        http_port: 0,
        cores: 2,
        ..Config::default()
    }
}

fn trades(symbol: &str, rows: usize) -> Batch {
    let base = 1_700_000_000_000_000_000i64;
    Batch::new("trades")
        .i64s("timestamp", (0..rows as i64).map(|i| base + i).collect())
        .strs("symbol", std::iter::repeat_n(symbol, rows))
        .f64s("price", (0..rows).map(|i| 100.0 + i as f64).collect())
        .i64s("volume", vec![10; rows])
}

#[test]
fn calls_reach_local_and_remote_shards() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerHandle::start(config(dir.path())).unwrap();
    assert_ne!(server.local_addr().port(), 0);
    let (local, remote, all, missing) = server
        .run_on_core(0, |ctx| async move {
            let local = ctx.call(0, |state| state.core()).await.unwrap();
            let remote = ctx.call(1, |state| state.core()).await.unwrap();
            let all: Vec<usize> = ctx
                .call_all(|state| state.core())
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect();
            let missing = ctx.call(7, |state| state.core()).await.unwrap_err();
            (local, remote, all, missing)
        })
        .unwrap();
    assert_eq!((local, remote), (0, 1));
    assert_eq!(all, vec![0, 1]);
    assert!(matches!(
        missing,
        MeshError::NoSuchShard { shard: 7, cores: 2 }
    ));
    // Many concurrent calls from the other core, each with its own result.
    let sums = server
        .run_on_core(1, |ctx| async move {
            let mut total = 0u64;
            for round in 0..200u64 {
                let results = ctx.call_all(move |state| state.core() as u64 + round).await;
                total += results.into_iter().map(Result::unwrap).sum::<u64>();
            }
            total
        })
        .unwrap();
    assert_eq!(sums, (0..200u64).map(|round| 2 * round + 1).sum::<u64>());
    server.shutdown();
    server.wait().unwrap();
}

#[test]
fn a_full_queue_is_back_pressure_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerHandle::start(Config {
        queue_depth: 1,
        mesh_wait_ms: 20,
        ..config(dir.path())
    })
    .unwrap();
    let (busy, first, after) = server
        .run_on_core(0, |ctx| async move {
            let (release, released) = std::sync::mpsc::channel::<()>();
            // Holds core 1 (and this core's only credit for it) until released.
            let blocker = {
                let ctx = ctx.clone();
                monoio::spawn(async move { ctx.call(1, move |_| released.recv().is_ok()).await })
            };
            // Let the blocker take the credit.
            monoio::time::sleep(Duration::from_millis(1)).await;
            let busy = ctx.call(1, |_| ()).await;
            release.send(()).unwrap();
            let first = blocker.await;
            let after = ctx.call(1, |state| state.core()).await;
            (busy, first, after)
        })
        .unwrap();
    assert!(
        matches!(
            busy,
            Err(MeshError::Busy {
                shard: 1,
                waited_ms: 20
            })
        ),
        "{busy:?}"
    );
    assert!(first.unwrap());
    assert_eq!(after.unwrap(), 1);
    let busy_count = server
        .run_on_core(0, |ctx| async move {
            ctx.with_state(|state| state.counters().mesh_busy)
        })
        .unwrap();
    assert_eq!(busy_count, 1);
    server.shutdown();
    server.wait().unwrap();
}

#[test]
fn a_panicking_job_is_an_error_and_the_shard_lives_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerHandle::start(config(dir.path())).unwrap();
    let (remote, local, after) = server
        .run_on_core(0, |ctx| async move {
            let remote = ctx.call(1, |_| -> u8 { panic!("job bug") }).await;
            let local = ctx.call(0, |_| -> u8 { panic!("local bug") }).await;
            let after = ctx.call(1, |state| state.core()).await;
            (remote, local, after)
        })
        .unwrap();
    match remote {
        Err(MeshError::Panicked { shard: 1, message }) => assert_eq!(message, "job bug"),
        other => panic!("expected a panic error, got {other:?}"),
    }
    assert!(matches!(local, Err(MeshError::Panicked { shard: 0, .. })));
    assert_eq!(after.unwrap(), 1);
    server.shutdown();
    server.wait().unwrap();
}

#[test]
fn appends_are_group_committed_and_sealed_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerHandle::start(config(dir.path())).unwrap();
    let reports = server
        .run_on_core(0, |ctx| async move {
            let mut reports = Vec::new();
            for shard in [0, 1] {
                let seq = ctx
                    .call(shard, move |state| state.append(&trades("AAPL", 100)))
                    .await
                    .unwrap()
                    .unwrap();
                // The reply came after the group commit: the WAL write covers this seq.
                let (written, rows, commits) = ctx
                    .call(shard, |state| {
                        (
                            state.last_commit().unwrap().written_seq,
                            state.shard_stats().hot_rows,
                            state.counters().commits,
                        )
                    })
                    .await
                    .unwrap();
                reports.push((seq, written, rows, commits));
            }
            reports
        })
        .unwrap();
    for (seq, written, rows, commits) in reports {
        assert!(written >= seq, "written {written} < appended {seq}");
        assert_eq!(rows, 100);
        assert!(commits >= 1);
    }
    server.shutdown();
    server.wait().unwrap();
    for shard in 0..2 {
        let (shard, report) = Shard::open(
            dir.path().join(format!("shard-{shard}")),
            ShardConfig::default(),
        )
        .unwrap();
        assert!(report.blocks >= 1, "nothing sealed: {report:?}");
        assert_eq!(report.rows_replayed, 0, "rows left to replay: {report:?}");
        assert_eq!(shard.stats().sealed_rows, 100);
    }
}

#[test]
fn timers_fire_while_the_poller_spins() {
    // With a spin window far longer than the test, the pollers never park: every timer below
    // fires only because the poller lets its runtime take a non-blocking turn every millisecond.
    let dir = tempfile::tempdir().unwrap();
    let server = ServerHandle::start(Config {
        mesh_spin_us: 60_000_000,
        ..config(dir.path())
    })
    .unwrap();
    for core in 0..2 {
        let started = std::time::Instant::now();
        server
            .run_on_core(core, |ctx| async move {
                ctx.call(1 - ctx.core(), |_| ()).await.unwrap();
                monoio::time::sleep(Duration::from_millis(5)).await;
            })
            .unwrap();
        // A liveness bound, not a performance one: without the turns this takes a minute.
        assert!(started.elapsed() < Duration::from_secs(20));
    }
    server.shutdown();
    server.wait().unwrap();
}
