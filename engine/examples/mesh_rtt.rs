//! Measures the cross-core round trip of `CoreCtx::call` with hdrhistogram.
//!
//! Core 0 → core 1 → core 0: back-to-back calls (both pollers hot), calls spaced so the target
//! parks between them (each call pays a wake-up), and an inline local call for reference.
//!
//! `cargo run -p engine --release --example mesh_rtt [-- --spin-us N --calls N]`

use std::time::{Duration, Instant};

use engine::{Config, ServerHandle};
use hdrhistogram::Histogram;

fn main() {
    let mut spin_us = 50;
    let mut calls = 200_000u64;
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        match (pair[0].as_str(), pair.get(1).and_then(|v| v.parse().ok())) {
            ("--spin-us", Some(value)) => spin_us = value,
            ("--calls", Some(value)) => calls = value,
            _ => panic!("usage: mesh_rtt [--spin-us N] [--calls N]"),
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let server = ServerHandle::start(Config {
        data_dir: dir.path().to_path_buf(),
        http_port: 0,
        cores: 2,
        mesh_spin_us: spin_us,
        ..Config::default()
    })
    .unwrap();
    println!("mesh round trip, 2 cores, mesh_spin_us = {spin_us}");

    let hot = server
        .run_on_core(0, move |ctx| async move {
            let mut histogram = Histogram::<u64>::new(3).unwrap();
            for round in 0..calls + 10_000 {
                let started = Instant::now();
                let core = ctx.call(1, |state| state.core()).await.unwrap();
                let elapsed = started.elapsed();
                assert_eq!(core, 1);
                if round >= 10_000 {
                    histogram.record(elapsed.as_nanos() as u64).unwrap();
                }
            }
            histogram
        })
        .unwrap();
    report("back-to-back (target polling)", &hot);
    for core in 0..2 {
        let (polls, parks) = server
            .run_on_core(core, |ctx| async move {
                ctx.with_state(|state| (state.counters().mesh_polls, state.counters().mesh_parks))
            })
            .unwrap();
        println!("  core {core}: {polls} poller iterations, {parks} parks so far");
    }

    let cold = server
        .run_on_core(0, |ctx| async move {
            let mut histogram = Histogram::<u64>::new(3).unwrap();
            for _ in 0..2_000 {
                // Long enough for both pollers to give up spinning and park.
                monoio::time::sleep(Duration::from_millis(3)).await;
                let started = Instant::now();
                ctx.call(1, |state| state.core()).await.unwrap();
                histogram
                    .record(started.elapsed().as_nanos() as u64)
                    .unwrap();
            }
            histogram
        })
        .unwrap();
    report("spaced 3 ms (target parked)", &cold);

    let fan_out = server
        .run_on_core(0, move |ctx| async move {
            let mut histogram = Histogram::<u64>::new(3).unwrap();
            for _ in 0..calls / 4 {
                let started = Instant::now();
                let results = ctx.call_all(|state| state.core()).await;
                histogram
                    .record(started.elapsed().as_nanos() as u64)
                    .unwrap();
                assert_eq!(results.len(), 2);
            }
            histogram
        })
        .unwrap();
    report("call_all over 2 shards", &fan_out);

    let local = server
        .run_on_core(0, move |ctx| async move {
            let mut histogram = Histogram::<u64>::new(3).unwrap();
            for _ in 0..calls {
                let started = Instant::now();
                ctx.call(0, |state| state.core()).await.unwrap();
                histogram
                    .record(started.elapsed().as_nanos() as u64)
                    .unwrap();
            }
            histogram
        })
        .unwrap();
    report("local shard (inline)", &local);

    server.shutdown();
    server.wait().unwrap();
}

fn report(name: &str, histogram: &Histogram<u64>) {
    let us = |quantile: f64| histogram.value_at_quantile(quantile) as f64 / 1000.0;
    println!(
        "{name:<32} n={:<7} p50={:>7.2} µs  p99={:>7.2} µs  p99.9={:>7.2} µs  max={:>8.2} µs",
        histogram.len(),
        us(0.5),
        us(0.99),
        us(0.999),
        histogram.max() as f64 / 1000.0
    );
}
