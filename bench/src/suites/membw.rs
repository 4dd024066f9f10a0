//! The memory-bandwidth baseline shared by the `query` and `kernels` suites: a streaming read of a large buffer on one thread and on every core.
//!
//! Suites report their scan rates as a fraction of the one-thread figure measured in the same
//! run, because that is what one shard's core gets; the all-thread figure is printed beside it.

use std::hint::black_box;
use std::time::Instant;

use crate::hist::{new_histogram, write_hgrm, Summary};
use crate::report::{fmt_bytes, Row};
use crate::suites::Ctx;
use crate::BenchError;

/// The measured streaming-read bandwidth, bytes per ns (= GB/s).
#[derive(Debug, Clone, Copy)]
pub struct Bandwidth {
    pub one_thread_gbps: f64,
    pub all_threads_gbps: f64,
    pub threads: usize,
}

/// Σ of `words` with wrapping u64 adds: compiles to a vector loop bound only by memory.
pub fn stream_sum(words: &[u64]) -> u64 {
    words.iter().fold(0u64, |a, &x| a.wrapping_add(x))
}

/// Streams a `bytes`-sized buffer (touched and filled untimed first) `passes` times on one
/// thread, then once per two passes split across every core. Returns the median one-thread
/// pass and the best all-thread pass; writes the one-thread passes as `<hgrm_name>.hgrm` and
/// pushes one report row.
pub fn measure(
    ctx: &Ctx,
    bytes: usize,
    passes: usize,
    hgrm_name: &str,
    rows: &mut Vec<Row>,
) -> Result<Bandwidth, BenchError> {
    assert!(bytes >= 16 && passes > 0, "bandwidth buffer too small");
    let words = bytes / 8;
    let buf: Vec<u64> = (0..words as u64).collect();
    let want = (words as u64).wrapping_mul(words as u64 - 1) / 2;
    let mut h = new_histogram();
    for _ in 0..passes {
        let t0 = Instant::now();
        let s = black_box(stream_sum(black_box(&buf)));
        h.saturating_record(t0.elapsed().as_nanos() as u64);
        if s != want {
            return Err(BenchError::Check(format!(
                "stream sum {s}, expected {want}"
            )));
        }
    }
    let threads = ctx.machine.nproc.max(1);
    let mut best_all_ns = u64::MAX;
    for _ in 0..passes.div_ceil(2) {
        let t0 = Instant::now();
        let total = std::thread::scope(|s| {
            let handles: Vec<_> = buf
                .chunks(words.div_ceil(threads))
                .map(|part| s.spawn(move || stream_sum(black_box(part))))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("stream thread"))
                .fold(0u64, u64::wrapping_add)
        });
        best_all_ns = best_all_ns.min(t0.elapsed().as_nanos() as u64);
        if total != want {
            return Err(BenchError::Check(format!(
                "threaded sum {total}, expected {want}"
            )));
        }
    }
    let s = Summary::of(&h);
    let bw = Bandwidth {
        one_thread_gbps: bytes as f64 / s.p50_ns.max(1) as f64,
        all_threads_gbps: bytes as f64 / best_all_ns.max(1) as f64,
        threads,
    };
    write_hgrm(&h, &ctx.out_dir, hgrm_name)?;
    let row = Row {
        group: "memory bandwidth baseline".into(),
        case: format!("streaming Σ u64 over {}, 1 thread", fmt_bytes(bytes as u64)),
        rows: 0,
        rows_per_s: None,
        sample: "pass".into(),
        latency: Some(s),
        hgrm: Some(hgrm_name.into()),
        notes: format!(
            "**{:.1} GB/s** at the median pass (1 thread); {:.1} GB/s best pass over {} threads",
            bw.one_thread_gbps, bw.all_threads_gbps, bw.threads
        ),
    };
    eprintln!("  {:<58} {}", row.case, row.notes);
    rows.push(row);
    Ok(bw)
}
