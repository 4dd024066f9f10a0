//! Vectorized query kernels: free functions over column slices, each with a scalar reference and AVX2 / AVX-512 versions chosen at run time.
//!
//! # Conventions
//!
//! * Columns are plain slices: `&[i64]`, `&[u64]`, `&[f64]`, timestamps `&[i64]` in nanoseconds,
//!   symbol ids `&[u32]`, bools `&[u8]` (0/1).
//! * Nulls are a validity bitmap `Option<&[u8]>` in Arrow layout: bit `i` (LSB-first within byte
//!   `i / 8`) set means row `i` is valid; `None` means every row is valid. A row selection is
//!   either a bitmap in the same layout or a selection vector `&[u32]` of row indices.
//!   Bitmaps must hold at least `len.div_ceil(8)` bytes; bits past `len` are ignored on input and
//!   written as zero on output.
//! * Kernels that produce vectors write into caller-supplied buffers (`&mut [u8]` bitmaps,
//!   `&mut Vec<_>` that are cleared and refilled so their capacity is reused). Nothing here
//!   allocates except to grow such a `Vec`.
//! * The values stored under a null or unselected row are never read by a SIMD lane that
//!   contributes to a result, so garbage (NaN, infinities) under nulls is harmless.
//!
//! # Dispatch
//!
//! Every kernel `foo` has `foo_with(level, ..)`, which runs the version for one [`SimdLevel`]:
//! `SimdLevel::Scalar` is the plain reference implementation the SIMD versions are
//! property-tested against. `foo(..)` is `foo_with(simd_level(), ..)`. [`simd_level`] detects
//! the CPU once (`is_x86_feature_detected!`, cached in a `OnceLock`) and can be capped with the
//! environment variable `RONTO_SIMD=scalar|avx2|avx512` (read once, at first use; any other
//! value is ignored) so a whole test run can exercise the scalar paths.
//!
//! # Numeric semantics (documented once, relied on by the planner)
//!
//! * Integer sums wrap on overflow (two's complement, like ClickHouse's `sum` on `Int64`);
//!   wrapping addition is associative, so every level returns the same bits.
//! * Float sums are accumulated in several SIMD lanes and then combined, so they differ from the
//!   sequential scalar sum by reassociation: at most about `n · ε · Σ|xᵢ|`. NaN propagates;
//!   `+∞ + −∞` is NaN, as IEEE 754 says.
//! * Float `min`/`max` ignore NaN. The result is `None` only when no row is valid and selected;
//!   if every such row is NaN the result is `Some(NaN)`. Between `-0.0` and `+0.0` either may
//!   be returned.
//! * Comparisons follow IEEE 754: anything compared with NaN is false, except `Ne`, which is
//!   true.

mod aggregate;
mod bitmap;
mod filter;
mod first_last;
mod lanes;
mod ohlcv;
mod vwap;
mod xbar;

#[cfg(test)]
mod testutil;
#[cfg(test)]
mod timing;

use std::sync::OnceLock;

pub use aggregate::{count, count_with, max, max_with, min, min_with, sum, sum_with};
pub use bitmap::{
    bitmap_and, bitmap_and_not, bitmap_bytes, bitmap_not, bitmap_or, bitmap_to_selection_vector,
    bitmap_to_selection_vector_with, popcount, popcount_with, selection_vector_to_bitmap,
};
pub use filter::{
    between, between_with, cmp, cmp_eq, cmp_ge, cmp_gt, cmp_le, cmp_lt, cmp_ne, cmp_with,
    sorted_range, ts_between, CmpOp,
};
pub use first_last::{
    first_row, first_row_by_ts, first_row_by_ts_with, last_row, last_row_by_ts, last_row_by_ts_with,
};
pub use lanes::{CmpElem, Numeric};
pub use ohlcv::{ohlcv, ohlcv_with, OhlcvBars, Ticks};
pub use vwap::{vwap, vwap_with, VwapSums};
pub use xbar::{bucket_runs, bucket_runs_with, xbar, xbar_with, BucketRun};

/// An instruction-set level a kernel can run at; ordered from least to most capable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SimdLevel {
    /// Plain Rust, one row at a time: the reference every other level is tested against.
    Scalar,
    /// AVX2 (with POPCNT): 256-bit lanes.
    Avx2,
    /// AVX-512 F and DQ (which imply AVX2): 512-bit lanes and mask registers.
    Avx512,
}

impl SimdLevel {
    /// Every level, least capable first.
    pub const ALL: [SimdLevel; 3] = [SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512];

    /// Whether this CPU can run kernels at this level (ignores the `RONTO_SIMD` cap).
    pub fn is_supported(self) -> bool {
        self <= cpu_level()
    }

    /// Panics unless this CPU can run this level. Every `*_with` entry point calls this before
    /// it enters a `#[target_feature]` function, which is what makes those calls sound.
    #[inline]
    #[track_caller]
    pub(crate) fn assert_supported(self) {
        assert!(
            self.is_supported(),
            "kernel level {self:?} requested but this CPU supports at most {:?}",
            cpu_level()
        );
    }

    fn parse(name: &str) -> Option<SimdLevel> {
        match name.trim().to_ascii_lowercase().as_str() {
            "scalar" => Some(SimdLevel::Scalar),
            "avx2" => Some(SimdLevel::Avx2),
            "avx512" => Some(SimdLevel::Avx512),
            _ => None,
        }
    }
}

/// The level the dispatching kernels use: the best this CPU supports, capped by `RONTO_SIMD`.
#[inline]
pub fn simd_level() -> SimdLevel {
    static LEVEL: OnceLock<SimdLevel> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let cap = std::env::var("RONTO_SIMD")
            .ok()
            .and_then(|name| SimdLevel::parse(&name))
            .unwrap_or(SimdLevel::Avx512);
        cpu_level().min(cap)
    })
}

/// The best level this CPU supports, detected once.
#[inline]
pub fn cpu_level() -> SimdLevel {
    static LEVEL: OnceLock<SimdLevel> = OnceLock::new();
    *LEVEL.get_or_init(detect_cpu_level)
}

fn detect_cpu_level() -> SimdLevel {
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("popcnt");
        if avx2 && is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512dq") {
            return SimdLevel::Avx512;
        }
        if avx2 {
            return SimdLevel::Avx2;
        }
    }
    SimdLevel::Scalar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatch_picks_the_best_level_this_cpu_has() {
        #[cfg(target_arch = "x86_64")]
        let expected = if is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512dq")
            && is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("popcnt")
        {
            SimdLevel::Avx512
        } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("popcnt") {
            SimdLevel::Avx2
        } else {
            SimdLevel::Scalar
        };
        #[cfg(not(target_arch = "x86_64"))]
        let expected = SimdLevel::Scalar;
        assert_eq!(cpu_level(), expected);
        // Cached: asking again gives the same answer.
        assert_eq!(cpu_level(), cpu_level());
        let cap = std::env::var("RONTO_SIMD")
            .ok()
            .and_then(|name| SimdLevel::parse(&name));
        assert_eq!(simd_level(), cap.map_or(expected, |cap| expected.min(cap)));
        assert!(SimdLevel::Scalar.is_supported());
    }

    #[test]
    fn level_names_parse() {
        assert_eq!(SimdLevel::parse(" AVX512 "), Some(SimdLevel::Avx512));
        assert_eq!(SimdLevel::parse("avx2"), Some(SimdLevel::Avx2));
        assert_eq!(SimdLevel::parse("scalar"), Some(SimdLevel::Scalar));
        assert_eq!(SimdLevel::parse("sse"), None);
    }
}
