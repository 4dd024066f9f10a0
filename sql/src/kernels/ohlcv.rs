//! OHLCV bars over a time-sorted block: per bucket open, high, low, close, volume, row count and the vwap numerator, in one pass over runs.
//!
//! This is the "1-minute bars" kernel. Buckets are walked as runs of the sorted timestamps
//! (see `bucket_runs_with`), so inside long runs timestamps are barely read; each run's price
//! and volume are then reduced in one fused SIMD pass (runs under 8 rows one row at a time).
//!
//! Semantics. A row counts when its price and volume are valid and it is selected. A bucket
//! with no counted row produces no bar. `open`/`close` are the first/last counted row's price
//! (NaN included); `high`/`low` ignore NaN unless every price in the bucket is NaN; `volume`
//! is Σ volume (wrapping for integers); `count` the counted rows; `price_volume_sum` is
//! Σ price·volume in f64 (divide by `volume` for the bar's vwap, or merge across shards).

use super::bitmap::{all_set, RowMask};
use super::lanes::{Lanes, Numeric};
use super::xbar::xbar_one;
use super::SimdLevel;

#[cfg(target_arch = "x86_64")]
use super::lanes::nibble_lanes;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// The input columns of [`ohlcv`]: one block, time-sorted, all of one length.
#[derive(Clone, Copy, Debug)]
pub struct Ticks<'a, P, V> {
    pub ts: &'a [i64],
    pub price: &'a [P],
    pub volume: &'a [V],
    pub price_validity: Option<&'a [u8]>,
    pub volume_validity: Option<&'a [u8]>,
    pub selection: Option<&'a [u8]>,
}

impl<'a, P, V> Ticks<'a, P, V> {
    /// Columns without nulls or selection.
    pub fn new(ts: &'a [i64], price: &'a [P], volume: &'a [V]) -> Self {
        Ticks {
            ts,
            price,
            volume,
            price_validity: None,
            volume_validity: None,
            selection: None,
        }
    }
}

/// Bars as parallel columns, one entry per bucket, in time order. Reused across calls: the
/// kernels clear it and push, so capacity is kept.
#[derive(Clone, Debug, PartialEq)]
pub struct OhlcvBars<P, V> {
    pub bucket_start_ns: Vec<i64>,
    pub open: Vec<P>,
    pub high: Vec<P>,
    pub low: Vec<P>,
    pub close: Vec<P>,
    pub volume: Vec<V>,
    pub count: Vec<u64>,
    pub price_volume_sum: Vec<f64>,
}

impl<P, V> Default for OhlcvBars<P, V> {
    fn default() -> Self {
        OhlcvBars {
            bucket_start_ns: Vec::new(),
            open: Vec::new(),
            high: Vec::new(),
            low: Vec::new(),
            close: Vec::new(),
            volume: Vec::new(),
            count: Vec::new(),
            price_volume_sum: Vec::new(),
        }
    }
}

/// One bar before it is stored.
#[derive(Clone, Copy, Debug)]
struct Bar<P, V> {
    bucket_start_ns: i64,
    open: P,
    high: P,
    low: P,
    close: P,
    volume: V,
    count: u64,
    price_volume_sum: f64,
}

impl<P: Numeric, V: Numeric> OhlcvBars<P, V> {
    /// Number of bars.
    pub fn len(&self) -> usize {
        self.bucket_start_ns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bucket_start_ns.is_empty()
    }

    pub fn clear(&mut self) {
        self.bucket_start_ns.clear();
        self.open.clear();
        self.high.clear();
        self.low.clear();
        self.close.clear();
        self.volume.clear();
        self.count.clear();
        self.price_volume_sum.clear();
    }

    /// Panics unless all columns have one length, adjacent bars have different buckets and no
    /// bar is empty. (Buckets ascend too, except the one wrapped bucket within one bucket width
    /// of `i64::MIN`; see `xbar`.)
    pub fn check_invariants(&self) {
        let len = self.len();
        for other in [
            self.open.len(),
            self.high.len(),
            self.low.len(),
            self.close.len(),
            self.volume.len(),
            self.count.len(),
            self.price_volume_sum.len(),
        ] {
            assert_eq!(other, len, "bar columns differ in length");
        }
        assert!(
            self.bucket_start_ns.windows(2).all(|w| w[0] != w[1]),
            "adjacent bars share a bucket"
        );
        assert!(self.count.iter().all(|&count| count > 0), "empty bar");
    }

    #[inline(always)]
    fn push(&mut self, bar: Bar<P, V>) {
        self.bucket_start_ns.push(bar.bucket_start_ns);
        self.open.push(bar.open);
        self.high.push(bar.high);
        self.low.push(bar.low);
        self.close.push(bar.close);
        self.volume.push(bar.volume);
        self.count.push(bar.count);
        self.price_volume_sum.push(bar.price_volume_sum);
    }
}

/// Clears `out` and writes one bar per `bucket_ns`-wide bucket of `ticks` (semantics in the
/// module doc). Panics unless `bucket_ns > 0`, the columns have one length and bitmaps are long
/// enough; `ticks.ts` must be sorted (checked in debug builds).
pub fn ohlcv<P: Numeric, V: Numeric>(
    ticks: &Ticks<'_, P, V>,
    bucket_ns: i64,
    out: &mut OhlcvBars<P, V>,
) {
    ohlcv_with(super::simd_level(), ticks, bucket_ns, out);
}

/// [`ohlcv`] at a chosen level. Bitmaps whose rows are all set are ignored. With a real
/// validity or selection bitmap the AVX-512 level reduces each run with masked loads; the AVX2
/// level then runs the scalar reference (tick columns rarely have nulls).
pub fn ohlcv_with<'b, P: Numeric, V: Numeric>(
    level: SimdLevel,
    ticks: &Ticks<'b, P, V>,
    bucket_ns: i64,
    out: &mut OhlcvBars<P, V>,
) {
    level.assert_supported();
    assert!(
        bucket_ns > 0,
        "bucket width must be positive, got {bucket_ns} ns"
    );
    let len = ticks.ts.len();
    assert!(
        ticks.price.len() == len && ticks.volume.len() == len,
        "ohlcv columns differ in length: ts {len}, price {}, volume {}",
        ticks.price.len(),
        ticks.volume.len()
    );
    debug_assert!(ticks.ts.is_sorted(), "ohlcv needs a time-sorted block");
    // Storage may hand over a validity bitmap with every row set; that is no mask at all.
    let real = |bitmap: Option<&'b [u8]>| bitmap.filter(|bitmap| !all_set(bitmap, len));
    let mask = RowMask::new(
        len,
        [
            real(ticks.price_validity),
            real(ticks.volume_validity),
            real(ticks.selection),
        ],
    );
    out.clear();
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: assert_supported checked AVX-512 F/DQ; the columns have equal lengths.
        SimdLevel::Avx512 if mask.is_all() => unsafe { ohlcv_avx512(ticks, bucket_ns, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: assert_supported checked AVX-512 F/DQ; the columns and `mask` cover the
        // same rows.
        SimdLevel::Avx512 => unsafe { ohlcv_masked_avx512(ticks, mask, bucket_ns, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: assert_supported checked AVX2; the columns have equal lengths.
        SimdLevel::Avx2 if mask.is_all() => unsafe { ohlcv_avx2(ticks, bucket_ns, out) },
        _ => ohlcv_scalar(ticks, mask, bucket_ns, out),
    }
    debug_assert!({
        out.check_invariants();
        true
    });
}

/// Reference: one row at a time, a new bar whenever the kept row's bucket changes.
fn ohlcv_scalar<P: Numeric, V: Numeric>(
    ticks: &Ticks<'_, P, V>,
    mask: RowMask<'_>,
    bucket_ns: i64,
    out: &mut OhlcvBars<P, V>,
) {
    let mut bar: Option<Bar<P, V>> = None;
    for row in 0..ticks.ts.len() {
        if !mask.get(row) {
            continue;
        }
        let (price, volume) = (ticks.price[row], ticks.volume[row]);
        let bucket = xbar_one(ticks.ts[row], bucket_ns);
        let price_volume = price.to_f64() * volume.to_f64();
        match &mut bar {
            Some(current) if current.bucket_start_ns == bucket => {
                // NaN never replaces a number, and any number replaces NaN.
                if price > current.high || current.high.is_nan() {
                    current.high = price;
                }
                if price < current.low || current.low.is_nan() {
                    current.low = price;
                }
                current.close = price;
                current.volume = current.volume.add(volume);
                current.count += 1;
                current.price_volume_sum += price_volume;
            }
            _ => {
                if let Some(done) = bar.take() {
                    out.push(done);
                }
                bar = Some(Bar {
                    bucket_start_ns: bucket,
                    open: price,
                    high: price,
                    low: price,
                    close: price,
                    volume: V::ZERO.add(volume),
                    count: 1,
                    price_volume_sum: price_volume,
                });
            }
        }
    }
    if let Some(done) = bar {
        out.push(done);
    }
}

/// Runs shorter than this are reduced one row at a time: a vector pass costs four horizontal
/// reductions, more than a few scalar rows.
const SIMD_RUN_MIN_ROWS: usize = 8;

/// A bar over rows `start..end` (non-empty, no nulls) one row at a time.
#[inline(always)]
fn bar_rows<P: Numeric, V: Numeric>(
    ticks: &Ticks<'_, P, V>,
    bucket: i64,
    start: usize,
    end: usize,
) -> Bar<P, V> {
    let (price, volume) = (&ticks.price[start..end], &ticks.volume[start..end]);
    let (mut high, mut low, mut volume_sum, mut price_volume_sum) =
        (P::LOWEST, P::HIGHEST, V::ZERO, 0.0);
    for (&p, &v) in price.iter().zip(volume) {
        if p > high {
            high = p;
        }
        if p < low {
            low = p;
        }
        volume_sum = volume_sum.add(v);
        price_volume_sum += p.to_f64() * v.to_f64();
    }
    finish_bar(price, bucket, high, low, volume_sum, price_volume_sum)
}

/// Fills in open/close and turns "no number seen" into NaN: `high` and `low` can both still
/// be their identities only if every price was NaN (any number x gives `high ≥ x ≥ low`).
#[inline(always)]
fn finish_bar<P: Numeric, V: Numeric>(
    price: &[P],
    bucket: i64,
    high: P,
    low: P,
    volume: V,
    price_volume_sum: f64,
) -> Bar<P, V> {
    let ends = (price[0], price[price.len() - 1], price.len() as u64);
    finish_bar_of(ends, bucket, high, low, volume, price_volume_sum)
}

/// [`finish_bar`] given `(open, close, count)`.
#[inline(always)]
fn finish_bar_of<P: Numeric, V: Numeric>(
    (open, close, count): (P, P, u64),
    bucket: i64,
    high: P,
    low: P,
    volume: V,
    price_volume_sum: f64,
) -> Bar<P, V> {
    let all_nan = high == P::LOWEST && low == P::HIGHEST && open.is_nan();
    Bar {
        bucket_start_ns: bucket,
        open,
        high: if all_nan { open } else { high },
        low: if all_nan { open } else { low },
        close,
        volume,
        count,
        price_volume_sum,
    }
}

/// # Safety
/// The CPU must support AVX-512 F/DQ; the three columns have equal lengths.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,popcnt")]
unsafe fn ohlcv_avx512<P: Numeric, V: Numeric>(
    ticks: &Ticks<'_, P, V>,
    bucket_ns: i64,
    out: &mut OhlcvBars<P, V>,
) {
    let mut emit = |bucket: i64, start: usize, end: usize| {
        let bar = if end - start < SIMD_RUN_MIN_ROWS {
            bar_rows(ticks, bucket, start, end)
        } else {
            // SAFETY: features enabled here; `start < end <= len` of every column.
            unsafe { bar_avx512(ticks, bucket, start, end) }
        };
        out.push(bar);
    };
    // SAFETY: features enabled here.
    unsafe { super::xbar::walk_runs_avx512(ticks.ts, bucket_ns, &mut emit) };
}

/// As [`ohlcv_avx512`], counting only the rows `mask` keeps; runs with no kept row give no bar.
///
/// # Safety
/// The CPU must support AVX-512 F/DQ; the three columns and `mask` cover the same rows.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,popcnt")]
unsafe fn ohlcv_masked_avx512<P: Numeric, V: Numeric>(
    ticks: &Ticks<'_, P, V>,
    mask: RowMask<'_>,
    bucket_ns: i64,
    out: &mut OhlcvBars<P, V>,
) {
    let mut emit = |bucket: i64, start: usize, end: usize| {
        // SAFETY: features enabled here; `start < end <= len` of every column and the mask.
        if let Some(bar) = unsafe { bar_masked_avx512(ticks, mask, bucket, start, end) } {
            out.push(bar);
        }
    };
    // SAFETY: features enabled here.
    unsafe { super::xbar::walk_runs_avx512(ticks.ts, bucket_ns, &mut emit) };
}

/// One bar over the kept rows among `start..end`, 8-lane masked loads (runs start anywhere,
/// so each 64-row step reads the mask at an arbitrary bit offset); `None` if none is kept.
///
/// # Safety
/// The CPU must support AVX-512 F/DQ; `start < end <= ` the length of every column and of
/// `mask`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,popcnt")]
unsafe fn bar_masked_avx512<P: Numeric, V: Numeric>(
    ticks: &Ticks<'_, P, V>,
    mask: RowMask<'_>,
    bucket: i64,
    start: usize,
    end: usize,
) -> Option<Bar<P, V>> {
    let (price, volume) = (&ticks.price[..end], &ticks.volume[..end]);
    let (pp, vp) = (price.as_ptr(), volume.as_ptr());
    let (mut first, mut last, mut count) = (usize::MAX, 0, 0u64);
    // SAFETY: features enabled here. Plain loads read rows `[at, at + 8)` with `at + 8 <= end`;
    // masked loads start at a row `< end` and read only lanes whose bit is set, and bits are
    // cleared at and past `end`.
    unsafe {
        let (lowest, highest) = (P::splat512(P::LOWEST), P::splat512(P::HIGHEST));
        let (price_zero, volume_zero) = (P::splat512(P::ZERO), V::splat512(V::ZERO));
        let (mut high, mut low, mut volume_sum) = (lowest, highest, volume_zero);
        let mut price_volume = _mm512_setzero_pd();
        let mut row = start;
        while row < end {
            let span = (end - row).min(64);
            let live = if span == 64 {
                u64::MAX
            } else {
                (1u64 << span) - 1
            };
            let bits = mask.bits_from(row) & live;
            if bits != 0 {
                first = first.min(row + bits.trailing_zeros() as usize);
                last = row + 63 - bits.leading_zeros() as usize;
                count += u64::from(bits.count_ones());
                for group in 0..span.div_ceil(8) {
                    let k = (bits >> (8 * group)) as u8;
                    let at = row + 8 * group;
                    if k == 0 {
                        continue;
                    }
                    if at + 8 <= end {
                        // Plain loads (masked ones cost about double on some CPUs), then
                        // unkept lanes replaced by each accumulator's identity.
                        let (p, v) = (P::load512(pp.add(at)), V::load512(vp.add(at)));
                        high = P::max512(high, P::select512(k, lowest, p));
                        low = P::min512(low, P::select512(k, highest, p));
                        volume_sum = V::add512(volume_sum, V::select512(k, volume_zero, v));
                        let (p, v) = (P::to_f64_512(p), V::to_f64_512(v));
                        price_volume = _mm512_mask3_fmadd_pd(p, v, price_volume, k);
                    } else {
                        let v = V::mask_load512(volume_zero, k, vp.add(at));
                        high = P::max512(high, P::mask_load512(lowest, k, pp.add(at)));
                        low = P::min512(low, P::mask_load512(highest, k, pp.add(at)));
                        volume_sum = V::add512(volume_sum, v);
                        let p = P::to_f64_512(P::mask_load512(price_zero, k, pp.add(at)));
                        price_volume = _mm512_fmadd_pd(p, V::to_f64_512(v), price_volume);
                    }
                }
            }
            row += 64;
        }
        if count == 0 {
            return None;
        }
        Some(finish_bar_of(
            (price[first], price[last], count),
            bucket,
            P::reduce_max512(high),
            P::reduce_min512(low),
            V::reduce_add512(volume_sum),
            _mm512_reduce_add_pd(price_volume),
        ))
    }
}

/// One bar over rows `start..end` with 8-lane vectors; the tail is a masked load.
///
/// # Safety
/// The CPU must support AVX-512 F/DQ; `start < end <= ` every column's length.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,popcnt")]
unsafe fn bar_avx512<P: Numeric, V: Numeric>(
    ticks: &Ticks<'_, P, V>,
    bucket: i64,
    start: usize,
    end: usize,
) -> Bar<P, V> {
    let (price, volume) = (&ticks.price[start..end], &ticks.volume[start..end]);
    let (pp, vp) = (price.as_ptr(), volume.as_ptr());
    let len = price.len();
    // SAFETY: features enabled here. Full loads read `[row, row + 8)` with `row + 8 <= len`;
    // the tail's masked loads read only lanes below `len`.
    unsafe {
        let (lowest, highest, volume_zero) = (
            P::splat512(P::LOWEST),
            P::splat512(P::HIGHEST),
            V::splat512(V::ZERO),
        );
        let mut high = [lowest; 2];
        let mut low = [highest; 2];
        let mut volume_sum = [volume_zero; 2];
        let mut price_volume = [_mm512_setzero_pd(); 2];
        let mut row = 0;
        while row + 16 <= len {
            for slot in 0..2 {
                let p = P::load512(pp.add(row + 8 * slot));
                let v = V::load512(vp.add(row + 8 * slot));
                high[slot] = P::max512(high[slot], p);
                low[slot] = P::min512(low[slot], p);
                volume_sum[slot] = V::add512(volume_sum[slot], v);
                price_volume[slot] =
                    _mm512_fmadd_pd(P::to_f64_512(p), V::to_f64_512(v), price_volume[slot]);
            }
            row += 16;
        }
        while row < len {
            let k = if row + 8 <= len {
                0xFF
            } else {
                ((1u32 << (len - row)) - 1) as u8
            };
            let p_zero = P::mask_load512(P::splat512(P::ZERO), k, pp.add(row));
            let v = V::mask_load512(volume_zero, k, vp.add(row));
            high[0] = P::max512(high[0], P::mask_load512(lowest, k, pp.add(row)));
            low[0] = P::min512(low[0], P::mask_load512(highest, k, pp.add(row)));
            volume_sum[0] = V::add512(volume_sum[0], v);
            price_volume[0] =
                _mm512_fmadd_pd(P::to_f64_512(p_zero), V::to_f64_512(v), price_volume[0]);
            row += 8;
        }
        finish_bar(
            price,
            bucket,
            P::reduce_max512(P::max512(high[0], high[1])),
            P::reduce_min512(P::min512(low[0], low[1])),
            V::reduce_add512(V::add512(volume_sum[0], volume_sum[1])),
            _mm512_reduce_add_pd(_mm512_add_pd(price_volume[0], price_volume[1])),
        )
    }
}

/// # Safety
/// The CPU must support AVX2; the three columns have equal lengths.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn ohlcv_avx2<P: Numeric, V: Numeric>(
    ticks: &Ticks<'_, P, V>,
    bucket_ns: i64,
    out: &mut OhlcvBars<P, V>,
) {
    let mut emit = |bucket: i64, start: usize, end: usize| {
        let bar = if end - start < SIMD_RUN_MIN_ROWS {
            bar_rows(ticks, bucket, start, end)
        } else {
            // SAFETY: features enabled here; `start < end <= len` of every column.
            unsafe { bar_avx2(ticks, bucket, start, end) }
        };
        out.push(bar);
    };
    // SAFETY: features enabled here.
    unsafe { super::xbar::walk_runs_avx2(ticks.ts, bucket_ns, &mut emit) };
}

/// One bar over rows `start..end` with 4-lane vectors; the tail is a masked load.
///
/// # Safety
/// The CPU must support AVX2; `start < end <= ` every column's length.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn bar_avx2<P: Numeric, V: Numeric>(
    ticks: &Ticks<'_, P, V>,
    bucket: i64,
    start: usize,
    end: usize,
) -> Bar<P, V> {
    let (price, volume) = (&ticks.price[start..end], &ticks.volume[start..end]);
    let (pp, vp) = (price.as_ptr(), volume.as_ptr());
    let len = price.len();
    // SAFETY: features enabled here. Full loads read `[row, row + 4)` with `row + 4 <= len`;
    // the tail's masked loads read only lanes below `len`.
    unsafe {
        let (lowest, highest, volume_zero) = (
            P::splat256(P::LOWEST),
            P::splat256(P::HIGHEST),
            V::splat256(V::ZERO),
        );
        let mut high = [lowest; 2];
        let mut low = [highest; 2];
        let mut volume_sum = [volume_zero; 2];
        let mut price_volume = [_mm256_setzero_pd(); 2];
        let mut row = 0;
        while row + 8 <= len {
            for slot in 0..2 {
                let p = P::load256(pp.add(row + 4 * slot));
                let v = V::load256(vp.add(row + 4 * slot));
                high[slot] = P::max256(high[slot], p);
                low[slot] = P::min256(low[slot], p);
                volume_sum[slot] = V::add256(volume_sum[slot], v);
                let product = _mm256_mul_pd(P::to_f64_256(p), V::to_f64_256(v));
                price_volume[slot] = _mm256_add_pd(price_volume[slot], product);
            }
            row += 8;
        }
        while row < len {
            let m = nibble_lanes(if row + 4 <= len {
                0xF
            } else {
                (1u64 << (len - row)) - 1
            });
            let p_zero = P::mask_load256(P::splat256(P::ZERO), m, pp.add(row));
            let v = V::mask_load256(volume_zero, m, vp.add(row));
            high[0] = P::max256(high[0], P::mask_load256(lowest, m, pp.add(row)));
            low[0] = P::min256(low[0], P::mask_load256(highest, m, pp.add(row)));
            volume_sum[0] = V::add256(volume_sum[0], v);
            let product = _mm256_mul_pd(P::to_f64_256(p_zero), V::to_f64_256(v));
            price_volume[0] = _mm256_add_pd(price_volume[0], product);
            row += 4;
        }
        let high = P::to_array256(P::max256(high[0], high[1]));
        let low = P::to_array256(P::min256(low[0], low[1]));
        let volume_lanes = V::to_array256(V::add256(volume_sum[0], volume_sum[1]));
        let [a, b, c, d] = f64::to_array256(_mm256_add_pd(price_volume[0], price_volume[1]));
        let high = high
            .into_iter()
            .fold(P::LOWEST, |acc, x| if x > acc { x } else { acc });
        let low = low
            .into_iter()
            .fold(P::HIGHEST, |acc, x| if x < acc { x } else { acc });
        let volume = volume_lanes.into_iter().fold(V::ZERO, V::add);
        finish_bar(price, bucket, high, low, volume, (a + b) + (c + d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testutil::*;
    use proptest::prelude::*;

    /// Compares two levels' bars: exact except the float sums (reassociated).
    fn check_same<P: Numeric, V: Numeric>(
        ticks: &Ticks<'_, P, V>,
        bucket_ns: i64,
        got: &OhlcvBars<P, V>,
        want: &OhlcvBars<P, V>,
    ) -> Result<(), TestCaseError> {
        got.check_invariants();
        prop_assert_eq!(&got.bucket_start_ns, &want.bucket_start_ns);
        prop_assert_eq!(&got.count, &want.count);
        for bar in 0..want.len() {
            for (column, g, w) in [
                ("open", &got.open, &want.open),
                ("high", &got.high, &want.high),
                ("low", &got.low, &want.low),
                ("close", &got.close, &want.close),
            ] {
                prop_assert!(
                    same_value(g[bar], w[bar]),
                    "bar {} {}: {:?} != {:?}",
                    bar,
                    column,
                    g[bar],
                    w[bar]
                );
            }
        }
        // Float sums: Σ|terms| of each bar's rows bounds the reassociation difference.
        let mask = RowMask::new(
            ticks.ts.len(),
            [ticks.price_validity, ticks.volume_validity, ticks.selection],
        );
        let mut bounds = vec![(0.0f64, 0.0f64); want.len()];
        let mut bar = 0;
        for row in (0..ticks.ts.len()).filter(|&row| mask.get(row)) {
            while want.bucket_start_ns[bar] != xbar_one(ticks.ts[row], bucket_ns) {
                bar += 1;
            }
            let v = ticks.volume[row].to_f64();
            let pv = ticks.price[row].to_f64() * v;
            bounds[bar].0 += if pv.is_finite() { pv.abs() } else { 0.0 };
            bounds[bar].1 += if v.is_finite() { v.abs() } else { 0.0 };
        }
        let float_volume = V::LOWEST.to_f64() == f64::NEG_INFINITY;
        for (bar, &(abs_pv, abs_v)) in bounds.iter().enumerate() {
            let terms = want.count[bar] as usize;
            check_sum_close(
                got.price_volume_sum[bar],
                want.price_volume_sum[bar],
                abs_pv,
                terms,
            )?;
            if float_volume {
                check_sum_close(
                    got.volume[bar].to_f64(),
                    want.volume[bar].to_f64(),
                    abs_v,
                    terms,
                )?;
            } else {
                prop_assert_eq!(got.volume[bar], want.volume[bar]);
            }
        }
        Ok(())
    }

    fn check<P: Numeric, V: Numeric>(
        ticks: &Ticks<'_, P, V>,
        bucket_ns: i64,
    ) -> Result<(), TestCaseError> {
        let mut want = OhlcvBars::default();
        ohlcv_with(SimdLevel::Scalar, ticks, bucket_ns, &mut want);
        want.check_invariants();
        prop_assert!(want.bucket_start_ns.is_sorted());
        let kept = (0..ticks.ts.len())
            .filter(|&row| {
                RowMask::new(
                    ticks.ts.len(),
                    [ticks.price_validity, ticks.volume_validity, ticks.selection],
                )
                .get(row)
            })
            .count();
        prop_assert_eq!(want.count.iter().sum::<u64>(), kept as u64);
        for level in levels() {
            let mut got = OhlcvBars::default();
            got.push(Bar {
                bucket_start_ns: 1,
                open: P::ZERO,
                high: P::ZERO,
                low: P::ZERO,
                close: P::ZERO,
                volume: V::ZERO,
                count: 9,
                price_volume_sum: 0.0,
            });
            ohlcv_with(level, ticks, bucket_ns, &mut got);
            check_same(ticks, bucket_ns, &got, &want)?;
        }
        Ok(())
    }

    type Case<P, V> = (
        Vec<i64>,
        Vec<P>,
        Vec<V>,
        i64,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
    );

    /// Sorted timestamps with runs of every length (steps 0..40 ns, buckets 1..300 ns), so
    /// runs shorter and longer than the SIMD threshold and vector widths all occur.
    fn case<P: TestValue, V: TestValue>(
        price: fn() -> BoxedStrategy<P>,
        volume: fn() -> BoxedStrategy<V>,
        with_masks: bool,
    ) -> impl Strategy<Value = Case<P, V>> {
        len_strategy().prop_flat_map(move |len| {
            let masks = if with_masks {
                opt_bitmap(len).boxed()
            } else {
                Just(None).boxed()
            };
            (
                proptest::collection::vec(0i64..40, len).prop_map(|steps| {
                    steps
                        .iter()
                        .scan(-2_000i64, |t, &step| {
                            *t += step;
                            Some(*t)
                        })
                        .collect()
                }),
                proptest::collection::vec(price(), len),
                proptest::collection::vec(volume(), len),
                prop_oneof![1i64..300, Just(1), Just(i64::MAX)],
                masks.clone(),
                masks.clone(),
                masks,
            )
        })
    }

    fn moderate_f64() -> BoxedStrategy<f64> {
        prop_oneof![4 => -1e12f64..1e12, 1 => (-3i32..3).prop_map(f64::from), 1 => proptest::sample::select(vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0])].boxed()
    }

    macro_rules! ohlcv_props {
        ($($name:ident: $p:ty => $ps:expr, $v:ty => $vs:expr, masks: $masks:expr;)*) => {
            proptest! {
                $(
                    #[test]
                    fn $name((ts, price, volume, bucket_ns, pv, vv, sel) in case::<$p, $v>($ps, $vs, $masks)) {
                        let ticks = Ticks {
                            ts: &ts, price: &price, volume: &volume,
                            price_validity: pv.as_deref(), volume_validity: vv.as_deref(), selection: sel.as_deref(),
                        };
                        check(&ticks, bucket_ns)?;
                    }
                )*
            }
        };
    }

    ohlcv_props! {
        f64_price_i64_volume: f64 => moderate_f64, i64 => i64::any_value, masks: false;
        f64_price_f64_volume: f64 => moderate_f64, f64 => moderate_f64, masks: false;
        i64_price_i64_volume: i64 => i64::any_value, i64 => i64::any_value, masks: false;
        i64_price_u64_volume: i64 => i64::any_value, u64 => u64::any_value, masks: false;
        i64_price_f64_volume: i64 => i64::any_value, f64 => moderate_f64, masks: false;
        f64_price_u64_volume: f64 => moderate_f64, u64 => u64::any_value, masks: false;
        u64_price_i64_volume: u64 => u64::any_value, i64 => i64::any_value, masks: false;
        u64_price_f64_volume: u64 => u64::any_value, f64 => moderate_f64, masks: false;
        u64_price_u64_volume: u64 => u64::any_value, u64 => u64::any_value, masks: false;
        f64_price_i64_volume_masked: f64 => moderate_f64, i64 => i64::any_value, masks: true;
        i64_price_u64_volume_masked: i64 => i64::any_value, u64 => u64::any_value, masks: true;
        f64_price_f64_volume_masked: f64 => moderate_f64, f64 => moderate_f64, masks: true;
    }

    #[test]
    fn tiny_example() {
        // Two one-minute bars and a gap; row 4's price is null.
        let minute = 60_000_000_000i64;
        let ts = [
            0,
            10,
            minute - 1,
            3 * minute,
            3 * minute + 5,
            3 * minute + 6,
        ];
        let price = [10.0, 12.0, 9.0, 20.0, 99.0, f64::NAN];
        let volume = [1i64, 2, 3, 4, 5, 6];
        for level in levels() {
            let mut bars = OhlcvBars::default();
            ohlcv_with(level, &Ticks::new(&ts, &price, &volume), minute, &mut bars);
            assert_eq!(bars.bucket_start_ns, [0, 3 * minute]);
            assert_eq!(bars.open, [10.0, 20.0]);
            assert_eq!(bars.high, [12.0, 99.0]);
            assert_eq!(bars.low, [9.0, 20.0]);
            assert_eq!(bars.close[0], 9.0);
            assert!(bars.close[1].is_nan());
            assert_eq!(bars.volume, [6, 15]);
            assert_eq!(bars.count, [3, 3]);
            assert_eq!(bars.price_volume_sum[0], 10.0 + 24.0 + 27.0);
            assert!(bars.price_volume_sum[1].is_nan());

            let validity = [0b10_1111u8];
            let ticks = Ticks {
                price_validity: Some(&validity),
                ..Ticks::new(&ts, &price, &volume)
            };
            ohlcv_with(level, &ticks, minute, &mut bars);
            assert_eq!(bars.high, [12.0, 20.0]);
            assert_eq!(bars.count, [3, 2]);
            assert!(bars.close[1].is_nan());

            // All-NaN bucket: high and low are NaN; a long run takes the SIMD path.
            let nan_ts: Vec<i64> = (0..40).collect();
            let nan_price = vec![f64::NAN; 40];
            let ones = vec![1i64; 40];
            ohlcv_with(
                level,
                &Ticks::new(&nan_ts, &nan_price, &ones),
                100,
                &mut bars,
            );
            assert_eq!(bars.count, [40]);
            assert!(bars.high[0].is_nan() && bars.low[0].is_nan());
            assert_eq!(bars.volume, [40]);
        }
        let mut bars = OhlcvBars::<i64, i64>::default();
        ohlcv(&Ticks::new(&[], &[], &[]), 10, &mut bars);
        assert!(bars.is_empty());
    }
}
