//! Time bucketing: `xbar` (floor to a multiple of the bucket width, correct for negative timestamps) and run detection over a time-sorted block.
//!
//! `xbar(ts, b) = ⌊ts / b⌋ · b`, computed as `ts − ts.rem_euclid(b)`. The result is exact
//! whenever it is representable; a timestamp within one bucket of `i64::MIN` whose bucket
//! start lies below `i64::MIN` wraps (two's complement), at every level alike. No real
//! timestamp is there.

use super::SimdLevel;

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// One run of rows sharing a bucket: rows `start..end` of the block, all with
/// `xbar(ts) == bucket_start_ns`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BucketRun {
    pub bucket_start_ns: i64,
    pub start: u32,
    pub end: u32,
}

#[inline(always)]
pub(crate) fn xbar_one(ts: i64, bucket_ns: i64) -> i64 {
    ts.wrapping_sub(ts.rem_euclid(bucket_ns))
}

#[track_caller]
fn assert_bucket(bucket_ns: i64) {
    assert!(
        bucket_ns > 0,
        "bucket width must be positive, got {bucket_ns} ns"
    );
}

/// Writes `xbar(ts[i], bucket_ns)` to `out[i]`. Panics unless `bucket_ns > 0` and
/// `out.len() >= ts.len()`.
pub fn xbar(ts: &[i64], bucket_ns: i64, out: &mut [i64]) {
    xbar_with(super::simd_level(), ts, bucket_ns, out);
}

/// Widest bucket the AVX-512 version handles: its intermediate remainders stay within
/// `±(2 · bucket + 2^12)`, which must not wrap. Wider buckets (over ~146 years) use the
/// scalar loop.
const XBAR_SIMD_BUCKET_MAX_NS: i64 = 1 << 62;

/// [`xbar`] at a chosen level. There is no 64-bit SIMD division; the AVX-512 version
/// estimates the quotient in f64, takes the exact remainder with 64-bit integer multiplies,
/// and corrects it (see `xbar_avx512`). The `Avx2` level runs the scalar loop: AVX2 lacks
/// the 64-bit multiply and f64↔i64 conversions that make this pay.
pub fn xbar_with(level: SimdLevel, ts: &[i64], bucket_ns: i64, out: &mut [i64]) {
    level.assert_supported();
    assert_bucket(bucket_ns);
    assert!(
        out.len() >= ts.len(),
        "xbar output holds {} of {} rows",
        out.len(),
        ts.len()
    );
    let out = &mut out[..ts.len()];
    match level {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx512 if bucket_ns <= XBAR_SIMD_BUCKET_MAX_NS => {
            // SAFETY: assert_supported checked AVX-512 F/DQ; lengths are equal.
            unsafe { xbar_avx512(ts, bucket_ns, out) }
        }
        _ => xbar_scalar(ts, bucket_ns, out),
    }
}

/// Reference.
fn xbar_scalar(ts: &[i64], bucket_ns: i64, out: &mut [i64]) {
    for (slot, &t) in out.iter_mut().zip(ts) {
        *slot = xbar_one(t, bucket_ns);
    }
}

/// `xbar` of eight lanes: `q₁ = ⌊f64(ts) · (1/b)⌋` is within a few thousand of the true
/// quotient (f64 holds 53 of ts's 63 bits), so `r₁ = ts − q₁·b` (exact in wrapping i64
/// arithmetic) is small; a second estimate `q₂ = ⌊f64(r₁)/b⌋` is then off by at most one, and
/// one conditional add or subtract of `b` lands the remainder in `[0, b)`. Needs
/// `0 < b <= XBAR_SIMD_BUCKET_MAX_NS`, so no intermediate remainder wraps.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f,avx512dq")]
fn xbar8(t: __m512i, bucket: __m512i, inverse: __m512d) -> __m512i {
    const FLOOR: i32 = _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC;
    let q1 = _mm512_cvt_roundpd_epi64::<FLOOR>(_mm512_mul_pd(_mm512_cvtepi64_pd(t), inverse));
    let r1 = _mm512_sub_epi64(t, _mm512_mullo_epi64(q1, bucket));
    let q2 = _mm512_cvt_roundpd_epi64::<FLOOR>(_mm512_mul_pd(_mm512_cvtepi64_pd(r1), inverse));
    let r = _mm512_sub_epi64(r1, _mm512_mullo_epi64(q2, bucket));
    let r = _mm512_mask_add_epi64(
        r,
        _mm512_cmplt_epi64_mask(r, _mm512_setzero_si512()),
        r,
        bucket,
    );
    let r = _mm512_mask_sub_epi64(r, _mm512_cmpge_epi64_mask(r, bucket), r, bucket);
    _mm512_sub_epi64(t, r)
}

/// # Safety
/// The CPU must support AVX-512 F/DQ; `out.len() == ts.len()`; `0 < bucket_ns <= 2^62`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,popcnt")]
unsafe fn xbar_avx512(ts: &[i64], bucket_ns: i64, out: &mut [i64]) {
    debug_assert!(out.len() == ts.len() && bucket_ns > 0 && bucket_ns <= XBAR_SIMD_BUCKET_MAX_NS);
    let bucket = _mm512_set1_epi64(bucket_ns);
    let inverse = _mm512_set1_pd(1.0 / bucket_ns as f64);
    let len = ts.len();
    let mut row = 0;
    while row < len {
        let k = if row + 8 <= len {
            0xFF
        } else {
            ((1u32 << (len - row)) - 1) as u8
        };
        // SAFETY: lanes set in `k` are rows `< len` of both slices (equal lengths).
        let t = unsafe { _mm512_maskz_loadu_epi64(k, ts.as_ptr().add(row).cast()) };
        let start = xbar8(t, bucket, inverse);
        // SAFETY: as for the load.
        unsafe { _mm512_mask_storeu_epi64(out.as_mut_ptr().add(row).cast(), k, start) };
        row += 8;
    }
}

/// Clears `out` and fills it with the runs of equal `xbar(ts, bucket_ns)` in a time-sorted
/// block, in order; together they cover every row. Panics unless `bucket_ns > 0` and the
/// block has at most `u32::MAX` rows; `ts` must be sorted (checked in debug builds).
pub fn bucket_runs(ts: &[i64], bucket_ns: i64, out: &mut Vec<BucketRun>) {
    bucket_runs_with(super::simd_level(), ts, bucket_ns, out);
}

/// [`bucket_runs`] at a chosen level. The scalar reference computes `xbar` for every row and
/// compares with its neighbour. The SIMD levels walk runs instead of looking at every row:
///
/// * AVX-512 (`walk_runs_avx512`): 64-row chunks; a chunk wholly inside the current run is
///   skipped after one compare of its last timestamp, and a chunk holding boundaries gets the
///   vector `xbar` of its rows, boundaries being lanes whose bucket differs from the previous
///   row's. Long runs cost one compare per 64 rows; short runs no division or search each.
/// * AVX2 (`walk_runs`/`run_end`): per run, the end is the first row at or past the bucket's
///   end: an 8-wide compare, then a walk of 64-row steps, then galloping past 1024 rows; a
///   division happens only when a gap skips buckets. Many short runs are slower here than in
///   the scalar reference (one dependent division and search per run).
pub fn bucket_runs_with(level: SimdLevel, ts: &[i64], bucket_ns: i64, out: &mut Vec<BucketRun>) {
    level.assert_supported();
    assert_bucket(bucket_ns);
    assert!(
        ts.len() <= u32::MAX as usize,
        "block of {} rows exceeds u32 row indices",
        ts.len()
    );
    debug_assert!(ts.is_sorted(), "bucket_runs needs a time-sorted block");
    out.clear();
    let mut push = |bucket_start_ns: i64, start: usize, end: usize| {
        out.push(BucketRun {
            bucket_start_ns,
            start: start as u32,
            end: end as u32,
        })
    };
    match level {
        SimdLevel::Scalar => bucket_runs_scalar(ts, bucket_ns, &mut push),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: assert_supported checked AVX2.
        SimdLevel::Avx2 => unsafe { walk_runs_avx2(ts, bucket_ns, &mut push) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: assert_supported checked AVX-512 F/DQ.
        SimdLevel::Avx512 => unsafe { walk_runs_avx512(ts, bucket_ns, &mut push) },
        #[cfg(not(target_arch = "x86_64"))]
        _ => unreachable!("assert_supported admits only Scalar off x86_64"),
    }
}

/// Reference: `xbar` of every row, a new run wherever it changes.
pub(crate) fn bucket_runs_scalar(
    ts: &[i64],
    bucket_ns: i64,
    f: &mut impl FnMut(i64, usize, usize),
) {
    let mut row = 0;
    while row < ts.len() {
        let bucket = xbar_one(ts[row], bucket_ns);
        let start = row;
        row += 1;
        while row < ts.len() && xbar_one(ts[row], bucket_ns) == bucket {
            row += 1;
        }
        f(bucket, start, row);
    }
}

/// Calls `f(bucket_start_ns, start, end)` for each run of a sorted block. `probe(from, limit)`
/// returns a bitmask of which of the 8 timestamps from `from` are `>= limit` (`from + 8 <= len`).
#[inline(always)]
pub(crate) fn walk_runs(
    ts: &[i64],
    bucket_ns: i64,
    probe: impl Fn(usize, i64) -> u32,
    f: &mut impl FnMut(i64, usize, usize),
) {
    let len = ts.len();
    let mut row = 0;
    // The bucket of the previous run and its exclusive end, when the end was representable.
    let mut previous: Option<(i64, i64)> = None;
    while row < len {
        let t = ts[row];
        // Consecutive buckets are the common case: no division then.
        let (bucket, limit) = match previous {
            // `t - end` as u64 is exact when `t >= end`, even where the i64 difference overflows.
            Some((_, end))
                if t >= end && (t as u64).wrapping_sub(end as u64) < bucket_ns as u64 =>
            {
                (end, end.checked_add(bucket_ns))
            }
            _ => {
                let offset = t.rem_euclid(bucket_ns);
                (t.wrapping_sub(offset), t.checked_add(bucket_ns - offset))
            }
        };
        let end = match limit {
            Some(limit) => run_end(ts, row + 1, limit, &probe),
            None => len, // the bucket ends past i64::MAX: it holds the rest of the block
        };
        f(bucket, row, end);
        previous = limit.map(|limit| (bucket, limit));
        row = end;
    }
}

/// Rows a run may span before [`run_end`] switches from a sequential walk to galloping.
const RUN_WALK_ROWS_MAX: usize = 1024;

/// First row at or after `from` with `ts >= limit` (or `ts.len()`), `ts` sorted.
///
/// Short runs end within the first 8-row probe. Longer ones are walked 64 rows at a time by
/// their last timestamp (sequential, so the prefetcher keeps up, where galloping would be a
/// chain of cache misses while the caller streams other columns through the cache) and, past
/// `RUN_WALK_ROWS_MAX` rows, galloped; the end is then found 8 rows at a time or by binary
/// search.
#[inline(always)]
fn run_end(ts: &[i64], from: usize, limit: i64, probe: &impl Fn(usize, i64) -> u32) -> usize {
    let len = ts.len();
    let mut lo = from;
    if lo + 8 <= len {
        let hits = probe(lo, limit);
        if hits != 0 {
            return lo + hits.trailing_zeros() as usize;
        }
        lo += 8;
        while lo + 64 <= len && ts[lo + 63] < limit {
            lo += 64;
            if lo - from >= RUN_WALK_ROWS_MAX {
                // Every row before `lo` is < limit: gallop, then binary search.
                let mut step = RUN_WALK_ROWS_MAX;
                while lo + step <= len && ts[lo + step - 1] < limit {
                    lo += step;
                    step *= 2;
                }
                let hi = (lo + step).min(len);
                return lo + ts[lo..hi].partition_point(|&t| t < limit);
            }
        }
        while lo + 8 <= len {
            let hits = probe(lo, limit);
            if hits != 0 {
                return lo + hits.trailing_zeros() as usize;
            }
            lo += 8;
        }
    }
    lo + ts[lo..]
        .iter()
        .position(|&t| t >= limit)
        .unwrap_or(len - lo)
}

/// Runs of a sorted block, 64-row chunks at a time. A chunk whose last timestamp is still
/// before the current run's end is skipped with one compare (long runs cost a compare per 64
/// rows, read sequentially). A chunk holding a run boundary gets the vector `xbar` of all its
/// rows, and its boundaries are the lanes whose bucket differs from the previous row's: no
/// per-run division or data-dependent search, which is what keeps many short runs (sparse
/// data) fast. Buckets wider than `XBAR_SIMD_BUCKET_MAX_NS` take the per-run walk.
///
/// # Safety
/// The CPU must support AVX-512 F/DQ.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,popcnt")]
pub(crate) unsafe fn walk_runs_avx512(
    ts: &[i64],
    bucket_ns: i64,
    f: &mut impl FnMut(i64, usize, usize),
) {
    if bucket_ns > XBAR_SIMD_BUCKET_MAX_NS {
        let probe = |from: usize, limit: i64| -> u32 {
            let eight = &ts[from..from + 8];
            // SAFETY: `eight` holds 8 readable values.
            let t = unsafe { _mm512_loadu_si512(eight.as_ptr().cast()) };
            u32::from(_mm512_cmpge_epi64_mask(t, _mm512_set1_epi64(limit)))
        };
        walk_runs(ts, bucket_ns, probe, f);
        return;
    }
    let Some(&first) = ts.first() else { return };
    let len = ts.len();
    let bucket = _mm512_set1_epi64(bucket_ns);
    let inverse = _mm512_set1_pd(1.0 / bucket_ns as f64);
    // Exclusive end of the bucket holding `member`, whose bucket start is `start`; computed
    // from the member so it also holds for the wrapped bucket near i64::MIN (see `xbar`).
    // `None` when the bucket reaches past i64::MAX.
    let bucket_end =
        |member: i64, start: i64| member.checked_add(bucket_ns - member.wrapping_sub(start));
    let mut run_start = 0;
    let mut run_bucket = xbar_one(first, bucket_ns);
    let mut run_end_ns = bucket_end(first, run_bucket);
    let mut starts_buffer = [0i64; 64];
    let mut chunk_start = 0;
    while chunk_start < len {
        let chunk_end = (chunk_start + 64).min(len);
        let last = ts[chunk_end - 1];
        match run_end_ns {
            None => break, // the run holds the rest of the (sorted) block
            Some(end) if last < end => {
                chunk_start = chunk_end;
                continue;
            }
            Some(_) => {}
        }
        let chunk = &ts[chunk_start..chunk_end];
        let mut previous = _mm512_set1_epi64(run_bucket);
        let mut boundaries = 0u64;
        for group in 0..chunk.len().div_ceil(8) {
            let rows = chunk.len() - 8 * group;
            let k = if rows >= 8 {
                0xFF
            } else {
                ((1u32 << rows) - 1) as u8
            };
            // SAFETY: lanes set in `k` are rows of `chunk`; the store writes 8 lanes inside
            // the 64-slot buffer (group < 8).
            let starts = unsafe {
                let t = _mm512_maskz_loadu_epi64(k, chunk.as_ptr().add(8 * group).cast());
                let starts = xbar8(t, bucket, inverse);
                _mm512_storeu_si512(starts_buffer.as_mut_ptr().add(8 * group).cast(), starts);
                starts
            };
            // Lane i against lane i - 1 (lane 0 against the previous group's lane 7).
            let before = _mm512_alignr_epi64::<7>(starts, previous);
            boundaries |=
                u64::from(_mm512_mask_cmpneq_epi64_mask(k, starts, before)) << (8 * group);
            previous = starts;
        }
        while boundaries != 0 {
            let lane = boundaries.trailing_zeros() as usize;
            f(run_bucket, run_start, chunk_start + lane);
            run_start = chunk_start + lane;
            run_bucket = starts_buffer[lane];
            boundaries &= boundaries - 1;
        }
        run_end_ns = bucket_end(last, run_bucket);
        chunk_start = chunk_end;
    }
    f(run_bucket, run_start, len);
}

/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
pub(crate) unsafe fn walk_runs_avx2(
    ts: &[i64],
    bucket_ns: i64,
    f: &mut impl FnMut(i64, usize, usize),
) {
    let probe = |from: usize, limit: i64| -> u32 {
        let eight = &ts[from..from + 8];
        // `t >= limit` is `!(limit > t)`; `below` has the lanes where it is false.
        let limit = _mm256_set1_epi64x(limit);
        // SAFETY: `eight` holds 8 readable values.
        let (low, high) = unsafe {
            (
                _mm256_loadu_si256(eight.as_ptr().cast()),
                _mm256_loadu_si256(eight[4..].as_ptr().cast()),
            )
        };
        let below_low = _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(limit, low)));
        let below_high = _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(limit, high)));
        !((below_low | below_high << 4) as u32) & 0xFF
    };
    walk_runs(ts, bucket_ns, probe, f);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testutil::*;
    use proptest::prelude::*;

    fn bucket_strategy() -> impl Strategy<Value = i64> {
        prop_oneof![
            1i64..100,
            proptest::sample::select(vec![
                1,
                2,
                3,
                1_000,
                60_000_000_000,
                86_400_000_000_000,
                (1 << 52) + 1,
                (1 << 53) - 1,
                (1 << 62) - 1,
                1 << 62,
                (1 << 62) + 1,
                i64::MAX - 1,
                i64::MAX,
            ]),
            1i64..=i64::MAX,
        ]
    }

    /// Timestamps: near the epoch, now-ish, spread over the whole range, or extremes.
    fn ts_value() -> BoxedStrategy<i64> {
        prop_oneof![
            2 => -1_000_000i64..1_000_000,
            2 => 1_700_000_000_000_000_000i64..1_700_000_100_000_000_000,
            2 => i64::any_value(),
            1 => proptest::sample::select(vec![i64::MIN, i64::MIN + 1, i64::MAX, i64::MAX - 1, -1, 0]),
        ]
        .boxed()
    }

    proptest! {
        #[test]
        fn xbar_levels_agree(((ts, offset), bucket_ns) in len_strategy().prop_flat_map(|len| (column(len, ts_value()), bucket_strategy()))) {
            let ts = &ts[offset..];
            let mut expected = vec![0; ts.len()];
            xbar_with(SimdLevel::Scalar, ts, bucket_ns, &mut expected);
            for (&t, &bucket) in ts.iter().zip(&expected) {
                // Exact math in i128: the floor multiple, wrapped to i64.
                let exact = i128::from(t).div_euclid(i128::from(bucket_ns)) * i128::from(bucket_ns);
                prop_assert_eq!(bucket, exact as i64);
            }
            for level in levels() {
                let mut out = vec![7; ts.len() + 1];
                xbar_with(level, ts, bucket_ns, &mut out);
                prop_assert_eq!(&out[..ts.len()], &expected[..], "{:?}", level);
                prop_assert_eq!(out[ts.len()], 7);
            }
        }

        #[test]
        fn bucket_runs_levels_agree(mut ts in proptest::collection::vec(ts_value(), 0..300),
                                    dense in proptest::collection::vec(0i64..5_000, 0..300),
                                    use_dense in any::<bool>(), bucket_ns in bucket_strategy()) {
            if use_dense {
                // Long runs, so galloping is exercised: steps of 0..5000 ns with buckets ~ 1..100 µs.
                ts = dense.iter().scan(1_700_000_000_000_000_000i64, |t, &step| { *t += step; Some(*t) }).collect();
            }
            ts.sort_unstable();
            let mut expected = Vec::new();
            bucket_runs_with(SimdLevel::Scalar, &ts, bucket_ns, &mut expected);
            let mut covered = 0;
            for run in &expected {
                prop_assert_eq!(run.start as usize, covered);
                prop_assert!(run.start < run.end);
                covered = run.end as usize;
            }
            prop_assert_eq!(covered, ts.len());
            for level in levels() {
                let mut out = vec![BucketRun { bucket_start_ns: 1, start: 2, end: 3 }];
                bucket_runs_with(level, &ts, bucket_ns, &mut out);
                prop_assert_eq!(&out, &expected, "{:?}", level);
            }
        }

        #[test]
        fn bucket_runs_long_runs(steps in proptest::collection::vec(0i64..50, 0..300), bucket_ns in 1i64..2_000) {
            let ts: Vec<i64> = steps.iter().scan(-3_000i64, |t, &step| { *t += step; Some(*t) }).collect();
            let mut expected = Vec::new();
            bucket_runs_with(SimdLevel::Scalar, &ts, bucket_ns, &mut expected);
            for level in levels() {
                let mut out = Vec::new();
                bucket_runs_with(level, &ts, bucket_ns, &mut out);
                prop_assert_eq!(&out, &expected);
            }
        }
    }

    #[test]
    fn tiny_examples() {
        let ts = [-61, -60, -59, -1, 0, 59, 60, 119, 120];
        for level in levels() {
            let mut out = [0; 9];
            xbar_with(level, &ts, 60, &mut out);
            assert_eq!(out, [-120, -60, -60, -60, 0, 0, 60, 60, 120]);
            xbar_with(level, &[i64::MAX, i64::MIN, 5], 1, &mut out[..3]);
            assert_eq!(out[..3], [i64::MAX, i64::MIN, 5]);
            xbar_with(level, &[i64::MAX, -1], i64::MAX, &mut out[..2]);
            assert_eq!(out[..2], [i64::MAX, -i64::MAX]);

            let mut runs = Vec::new();
            bucket_runs_with(level, &ts, 60, &mut runs);
            let runs: Vec<(i64, u32, u32)> = runs
                .iter()
                .map(|r| (r.bucket_start_ns, r.start, r.end))
                .collect();
            assert_eq!(
                runs,
                [
                    (-120, 0, 1),
                    (-60, 1, 4),
                    (0, 4, 6),
                    (60, 6, 8),
                    (120, 8, 9)
                ]
            );

            // A run reaching the end of time.
            let mut runs = Vec::new();
            bucket_runs_with(
                level,
                &[i64::MAX - 5, i64::MAX - 1, i64::MAX],
                10,
                &mut runs,
            );
            assert_eq!(
                runs,
                [BucketRun {
                    bucket_start_ns: i64::MAX - 7,
                    start: 0,
                    end: 3
                }]
            );
            bucket_runs_with(level, &[], 10, &mut runs);
            assert!(runs.is_empty());
        }
    }

    /// The f64 quotient estimate is the delicate part of the AVX-512 version: check a grid of
    /// widths (around powers of two, up to the SIMD limit) against timestamps at the ends of
    /// the range and just around bucket edges.
    #[test]
    fn xbar_edge_grid() {
        let mut widths: Vec<i64> = (1..=64).collect();
        for shift in 1..=62 {
            let power = 1i64 << shift;
            widths.extend([power - 1, power, power.saturating_add(1)]);
        }
        widths.extend([
            1_000,
            60_000_000_000,
            86_400_000_000_000,
            604_800_000_000_000,
            i64::MAX,
        ]);
        let mut ts = vec![i64::MIN, i64::MIN + 1, i64::MAX, i64::MAX - 1, -1, 0, 1];
        for &width in &widths {
            for quotient in [-(1i64 << 40), -3, -1, 1, 7, 1 << 20, 1_700_000_000] {
                if let Some(edge) = quotient.checked_mul(width) {
                    ts.extend([edge.saturating_sub(1), edge, edge.saturating_add(1)]);
                }
            }
        }
        let mut expected = vec![0; ts.len()];
        let mut got = vec![0; ts.len()];
        for &width in &widths {
            xbar_with(SimdLevel::Scalar, &ts, width, &mut expected);
            for (&t, &start) in ts.iter().zip(&expected) {
                let exact = i128::from(t).div_euclid(i128::from(width)) * i128::from(width);
                assert_eq!(start, exact as i64, "ts {t} width {width}");
            }
            for level in levels() {
                xbar_with(level, &ts, width, &mut got);
                assert_eq!(got, expected, "{level:?} width {width}");
            }
        }
    }

    #[test]
    #[should_panic(expected = "bucket width must be positive")]
    fn zero_bucket_is_rejected() {
        xbar(&[1], 0, &mut [0]);
    }
}
