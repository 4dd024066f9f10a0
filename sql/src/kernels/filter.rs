//! Filters: column-vs-scalar comparisons and range tests producing selection bitmaps, and binary search of a time-sorted block.
//!
//! Comparisons do not look at validity: a null row's bit is whatever its stored value gives, so
//! the caller ANDs the result with the column's validity ([`super::bitmap_and`]), which is
//! SQL's "NULL compares as unknown, and unknown is filtered out".

use super::bitmap::{assert_bitmap_len, bitmap_bytes};
use super::lanes::{compare, op, CmpElem};
use super::SimdLevel;
use std::ops::Range;

/// A comparison operator: `value OP scalar`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub const ALL: [CmpOp; 6] = [
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
    ];
}

/// Sets bit `i` of `out` to `values[i] OP rhs` (writes `bitmap_bytes(values.len())` bytes; bits
/// past the last row are zero). Floats compare as IEEE 754: NaN is unequal to everything.
pub fn cmp<T: CmpElem>(values: &[T], cmp_op: CmpOp, rhs: T, out: &mut [u8]) {
    cmp_with(super::simd_level(), values, cmp_op, rhs, out);
}

/// [`cmp`] with `CmpOp::Eq`.
pub fn cmp_eq<T: CmpElem>(values: &[T], rhs: T, out: &mut [u8]) {
    cmp(values, CmpOp::Eq, rhs, out);
}
/// [`cmp`] with `CmpOp::Ne` (true for NaN).
pub fn cmp_ne<T: CmpElem>(values: &[T], rhs: T, out: &mut [u8]) {
    cmp(values, CmpOp::Ne, rhs, out);
}
/// [`cmp`] with `CmpOp::Lt`.
pub fn cmp_lt<T: CmpElem>(values: &[T], rhs: T, out: &mut [u8]) {
    cmp(values, CmpOp::Lt, rhs, out);
}
/// [`cmp`] with `CmpOp::Le`.
pub fn cmp_le<T: CmpElem>(values: &[T], rhs: T, out: &mut [u8]) {
    cmp(values, CmpOp::Le, rhs, out);
}
/// [`cmp`] with `CmpOp::Gt`.
pub fn cmp_gt<T: CmpElem>(values: &[T], rhs: T, out: &mut [u8]) {
    cmp(values, CmpOp::Gt, rhs, out);
}
/// [`cmp`] with `CmpOp::Ge`.
pub fn cmp_ge<T: CmpElem>(values: &[T], rhs: T, out: &mut [u8]) {
    cmp(values, CmpOp::Ge, rhs, out);
}

/// [`cmp`] at a chosen level.
pub fn cmp_with<T: CmpElem>(level: SimdLevel, values: &[T], cmp_op: CmpOp, rhs: T, out: &mut [u8]) {
    level.assert_supported();
    assert_bitmap_len(out, values.len(), "output");
    let out = &mut out[..bitmap_bytes(values.len())];
    match cmp_op {
        CmpOp::Eq => compare_words::<T, { op::EQ }, { op::EQ }>(level, values, rhs, rhs, out),
        CmpOp::Ne => compare_words::<T, { op::NE }, { op::NE }>(level, values, rhs, rhs, out),
        CmpOp::Lt => compare_words::<T, { op::LT }, { op::LT }>(level, values, rhs, rhs, out),
        CmpOp::Le => compare_words::<T, { op::LE }, { op::LE }>(level, values, rhs, rhs, out),
        CmpOp::Gt => compare_words::<T, { op::GT }, { op::GT }>(level, values, rhs, rhs, out),
        CmpOp::Ge => compare_words::<T, { op::GE }, { op::GE }>(level, values, rhs, rhs, out),
    }
}

/// Sets bit `i` of `out` to `lo <= values[i] && values[i] <= hi` (inclusive both ends, like SQL
/// `BETWEEN`; inclusive bounds can express every integer range, including ones ending at
/// `i64::MAX`). Empty when `lo > hi`; false for NaN.
pub fn between<T: CmpElem>(values: &[T], lo: T, hi: T, out: &mut [u8]) {
    between_with(super::simd_level(), values, lo, hi, out);
}

/// [`between`] at a chosen level.
pub fn between_with<T: CmpElem>(level: SimdLevel, values: &[T], lo: T, hi: T, out: &mut [u8]) {
    level.assert_supported();
    assert_bitmap_len(out, values.len(), "output");
    let out = &mut out[..bitmap_bytes(values.len())];
    compare_words::<T, { op::GE }, { op::LE }>(level, values, lo, hi, out);
}

/// [`between`] on a timestamp column: `lo_ns <= ts <= hi_ns`, for unsorted data or for
/// filtering inside a block ([`sorted_range`] is the tool for a sorted block).
pub fn ts_between(ts: &[i64], lo_ns: i64, hi_ns: i64, out: &mut [u8]) {
    between(ts, lo_ns, hi_ns, out);
}

/// Rows of a time-sorted block with `lo_ns <= ts <= hi_ns`, by binary search (O(log n); there is
/// nothing for SIMD to do). Empty (at the insertion point of `lo_ns`) when `lo_ns > hi_ns`.
pub fn sorted_range(ts: &[i64], lo_ns: i64, hi_ns: i64) -> Range<usize> {
    debug_assert!(ts.is_sorted(), "sorted_range needs a time-sorted block");
    let start = ts.partition_point(|&t| t < lo_ns);
    let end = ts.partition_point(|&t| t <= hi_ns);
    start..end.max(start)
}

/// Writes one bit per row: `value OP1 a && value OP2 b`, whole 64-row words at a time at the
/// SIMD levels and the scalar reference for the tail. `cmp` passes the same operator twice,
/// which the compiler folds.
#[inline(always)]
fn compare_words<T: CmpElem, const OP1: u8, const OP2: u8>(
    level: SimdLevel,
    values: &[T],
    a: T,
    b: T,
    out: &mut [u8],
) {
    let full_words = match level {
        SimdLevel::Scalar => 0,
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the callers ran assert_supported, so the CPU has AVX2 and POPCNT.
        SimdLevel::Avx2 => unsafe { compare_words_avx2::<T, OP1, OP2>(values, a, b, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the callers ran assert_supported, so the CPU has AVX-512 F/DQ.
        SimdLevel::Avx512 => unsafe { compare_words_avx512::<T, OP1, OP2>(values, a, b, out) },
        #[cfg(not(target_arch = "x86_64"))]
        _ => unreachable!("assert_supported admits only Scalar off x86_64"),
    };
    compare_scalar::<T, OP1, OP2>(values, a, b, out, full_words * 64);
}

/// Reference, one row at a time, for rows `from..` (`from` a multiple of 8); zeroes the
/// padding bits of the last byte.
fn compare_scalar<T: CmpElem, const OP1: u8, const OP2: u8>(
    values: &[T],
    a: T,
    b: T,
    out: &mut [u8],
    from: usize,
) {
    debug_assert!(from.is_multiple_of(8));
    out[from / 8..].fill(0);
    for (row, &value) in values.iter().enumerate().skip(from) {
        let hit = compare::<T, OP1>(value, a) && compare::<T, OP2>(value, b);
        out[row / 8] |= u8::from(hit) << (row % 8);
    }
}

/// Fills every whole 64-row word of `out`; returns how many it wrote.
///
/// # Safety
/// The CPU must support AVX-512 F/DQ; `out.len() >= bitmap_bytes(values.len())`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,popcnt")]
unsafe fn compare_words_avx512<T: CmpElem, const OP1: u8, const OP2: u8>(
    values: &[T],
    a: T,
    b: T,
    out: &mut [u8],
) -> usize {
    let words = values.len() / 64;
    for word_index in 0..words {
        let p = values[word_index * 64..].as_ptr();
        // SAFETY: features enabled here; `p` starts a run of at least 64 values.
        let word = unsafe {
            let first = T::cmp64_avx512::<OP1>(p, a);
            if OP1 == OP2 {
                first
            } else {
                first & T::cmp64_avx512::<OP2>(p, b)
            }
        };
        out[word_index * 8..word_index * 8 + 8].copy_from_slice(&word.to_le_bytes());
    }
    words
}

/// As [`compare_words_avx512`], for AVX2.
///
/// # Safety
/// The CPU must support AVX2; `out.len() >= bitmap_bytes(values.len())`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn compare_words_avx2<T: CmpElem, const OP1: u8, const OP2: u8>(
    values: &[T],
    a: T,
    b: T,
    out: &mut [u8],
) -> usize {
    let words = values.len() / 64;
    for word_index in 0..words {
        let p = values[word_index * 64..].as_ptr();
        // SAFETY: features enabled here; `p` starts a run of at least 64 values.
        let word = unsafe {
            let first = T::cmp64_avx2::<OP1>(p, a);
            if OP1 == OP2 {
                first
            } else {
                first & T::cmp64_avx2::<OP2>(p, b)
            }
        };
        out[word_index * 8..word_index * 8 + 8].copy_from_slice(&word.to_le_bytes());
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::bitmap::get_bit;
    use crate::kernels::testutil::*;
    use proptest::prelude::*;

    fn check<T: CmpElem + TestValue>(
        values: &[T],
        rhs: T,
        lo: T,
        hi: T,
    ) -> Result<(), TestCaseError> {
        let bytes = bitmap_bytes(values.len());
        for cmp_op in CmpOp::ALL {
            let mut expected = vec![0xEEu8; bytes + 1];
            cmp_with(SimdLevel::Scalar, values, cmp_op, rhs, &mut expected);
            prop_assert_eq!(expected[bytes], 0xEE, "wrote past the bitmap");
            for (row, &value) in values.iter().enumerate() {
                let want = match cmp_op {
                    CmpOp::Eq => value == rhs,
                    CmpOp::Ne => value != rhs,
                    CmpOp::Lt => value < rhs,
                    CmpOp::Le => value <= rhs,
                    CmpOp::Gt => value > rhs,
                    CmpOp::Ge => value >= rhs,
                };
                prop_assert_eq!(get_bit(&expected, row), want);
            }
            if !values.len().is_multiple_of(8) {
                prop_assert_eq!(expected[bytes - 1] >> (values.len() % 8), 0);
            }
            for level in levels() {
                let mut out = vec![0x11u8; bytes + 1];
                cmp_with(level, values, cmp_op, rhs, &mut out);
                prop_assert_eq!(
                    &out[..bytes],
                    &expected[..bytes],
                    "{:?} {:?}",
                    level,
                    cmp_op
                );
            }
        }
        let mut expected = vec![0u8; bytes];
        between_with(SimdLevel::Scalar, values, lo, hi, &mut expected);
        for (row, &value) in values.iter().enumerate() {
            prop_assert_eq!(get_bit(&expected, row), lo <= value && value <= hi);
        }
        for level in levels() {
            let mut out = vec![0xFFu8; bytes];
            between_with(level, values, lo, hi, &mut out);
            prop_assert_eq!(&out, &expected);
        }
        Ok(())
    }

    fn case<T: TestValue>(
        value: fn() -> BoxedStrategy<T>,
    ) -> impl Strategy<Value = ((Vec<T>, usize), T, T, T)> {
        len_strategy().prop_flat_map(move |len| (column(len, value()), value(), value(), value()))
    }

    proptest! {
        #[test]
        fn i64_levels_agree(((values, offset), rhs, lo, hi) in case::<i64>(i64::any_value)) {
            check(&values[offset..], rhs, lo, hi)?;
        }

        #[test]
        fn u64_levels_agree(((values, offset), rhs, lo, hi) in case::<u64>(u64::any_value)) {
            check(&values[offset..], rhs, lo, hi)?;
        }

        #[test]
        fn f64_levels_agree(((values, offset), rhs, lo, hi) in case::<f64>(f64::any_value)) {
            check(&values[offset..], rhs, lo, hi)?;
        }

        #[test]
        fn u32_levels_agree(((values, offset), rhs, lo, hi) in case::<u32>(u32::any_value)) {
            check(&values[offset..], rhs, lo, hi)?;
        }

        #[test]
        fn sorted_range_matches_a_scan(mut ts in proptest::collection::vec(i64::any_value(), 0..300), lo in i64::any_value(), hi in i64::any_value()) {
            ts.sort_unstable();
            let range = sorted_range(&ts, lo, hi);
            prop_assert!(range.start <= range.end && range.end <= ts.len());
            for (row, &t) in ts.iter().enumerate() {
                prop_assert_eq!(range.contains(&row), lo <= t && t <= hi);
            }
        }
    }

    #[test]
    fn tiny_examples() {
        let values = [3i64, -1, 7, 3, i64::MIN, i64::MAX, 0, 3, 9];
        let mut out = [0u8; 2];
        cmp_eq(&values, 3, &mut out);
        assert_eq!(out, [0b1000_1001, 0]);
        cmp_lt(&values, 3, &mut out);
        assert_eq!(out, [0b0101_0010, 0]);
        cmp_ge(&values, 3, &mut out);
        assert_eq!(out, [0b1010_1101, 1]);
        cmp_ne(&values, 3, &mut out);
        assert_eq!(out, [0b0111_0110, 1]);
        cmp_le(&values, -1, &mut out);
        assert_eq!(out, [0b0001_0010, 0]);
        cmp_gt(&values, 7, &mut out);
        assert_eq!(out, [0b0010_0000, 1]);
        ts_between(&values, 0, 3, &mut out);
        assert_eq!(out, [0b1100_1001, 0]);
        ts_between(&values, 3, 0, &mut out);
        assert_eq!(out, [0, 0]);

        let floats = [1.0, f64::NAN, -0.0, f64::INFINITY];
        let mut out = [0u8; 1];
        cmp_eq(&floats, 0.0, &mut out);
        assert_eq!(out, [0b0100]);
        cmp_ne(&floats, f64::NAN, &mut out);
        assert_eq!(out, [0b1111]);
        cmp_ge(&floats, f64::NAN, &mut out);
        assert_eq!(out, [0]);
        between(&floats, 0.0, f64::INFINITY, &mut out);
        assert_eq!(out, [0b1101]);

        let symbols = [5u32, u32::MAX, 5];
        cmp_eq(&symbols, 5, &mut out);
        assert_eq!(out, [0b101]);
        cmp_gt(&symbols, 5, &mut out);
        assert_eq!(out, [0b010]);
        cmp_lt(&[1u64 << 63, 1], 1 << 63, &mut out);
        assert_eq!(out, [0b10]);

        let ts = [10, 20, 20, 30, 40];
        assert_eq!(sorted_range(&ts, 20, 30), 1..4);
        assert_eq!(sorted_range(&ts, 21, 29), 3..3);
        assert_eq!(sorted_range(&ts, i64::MIN, i64::MAX), 0..5);
        assert_eq!(sorted_range(&ts, 41, 50), 5..5);
        assert_eq!(sorted_range(&ts, 30, 20), 3..3);
        assert_eq!(sorted_range(&[], 0, 1), 0..0);
    }
}
