//! Aggregates over one column slice with optional validity and selection bitmaps: sum, count, min, max.
//!
//! All of them are one generic fold ([`fold_with`]) instantiated with a [`Fold`] (sum, min or
//! max) for each [`Numeric`] type. The SIMD folds keep four vector accumulators (to hide add
//! latency) and, where bitmaps are present, load each row group with a masked load whose
//! masked-off lanes take the fold's identity, so nulls and unselected rows never reach an
//! accumulator and their stored bytes are never read.

use super::bitmap::{self, RowMask};
use super::lanes::{Fold, Lanes, Max, Min, Numeric, Sum};
use super::SimdLevel;

#[cfg(target_arch = "x86_64")]
use super::lanes::nibble_lanes;

/// The fold of `values` over the rows `mask` keeps, and whether it kept any row.
pub(crate) fn fold_with<F: Fold>(
    level: SimdLevel,
    values: &[F::Elem],
    mask: RowMask<'_>,
) -> (F::Elem, bool) {
    level.assert_supported();
    match level {
        SimdLevel::Scalar => fold_scalar::<F>(values, mask),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: assert_supported checked the CPU has AVX2 and POPCNT.
        SimdLevel::Avx2 => unsafe { fold_avx2::<F>(values, mask) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: assert_supported checked the CPU has AVX-512 F/DQ and POPCNT.
        SimdLevel::Avx512 => unsafe { fold_avx512::<F>(values, mask) },
        #[cfg(not(target_arch = "x86_64"))]
        _ => unreachable!("assert_supported admits only Scalar off x86_64"),
    }
}

/// Reference: one row at a time, in row order.
pub(crate) fn fold_scalar<F: Fold>(values: &[F::Elem], mask: RowMask<'_>) -> (F::Elem, bool) {
    let mut acc = F::IDENTITY;
    let mut any = false;
    for (row, &value) in values.iter().enumerate() {
        if mask.get(row) {
            acc = F::combine(acc, value);
            any = true;
        }
    }
    (acc, any)
}

/// # Safety
/// The CPU must support AVX-512 F/DQ and POPCNT; `mask` must cover `values.len()` rows.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,popcnt")]
pub(crate) unsafe fn fold_avx512<F: Fold>(
    values: &[F::Elem],
    mask: RowMask<'_>,
) -> (F::Elem, bool) {
    let len = values.len();
    let p = values.as_ptr();
    // SAFETY: the features are enabled on this function. Full loads read rows
    // `[row, row + 8)` with `row + 8 <= len` (in a whole word, unkept rows are loaded and then
    // replaced by the identity in registers); masked loads start at a row `< len` and read only
    // lanes whose mask bit is set, and `RowMask::word` clears every bit at or past `len`.
    unsafe {
        let fill = <F::Elem as Lanes>::splat512(F::IDENTITY);
        let mut acc = [fill; 4];
        let any;
        if mask.is_all() {
            let mut row = 0;
            while row + 32 <= len {
                for (lane, slot) in acc.iter_mut().enumerate() {
                    *slot = F::combine512(*slot, F::Elem::load512(p.add(row + 8 * lane)));
                }
                row += 32;
            }
            while row + 8 <= len {
                acc[0] = F::combine512(acc[0], F::Elem::load512(p.add(row)));
                row += 8;
            }
            if row < len {
                let k = ((1u32 << (len - row)) - 1) as u8;
                acc[1] = F::combine512(acc[1], F::Elem::mask_load512(fill, k, p.add(row)));
            }
            any = len > 0;
        } else {
            let mut seen = 0u64;
            for word_index in 0..mask.word_count() {
                let bits = mask.word(word_index);
                if bits == 0 {
                    continue;
                }
                seen |= bits;
                let base = word_index * 64;
                if base + 64 <= len {
                    // Nested so the inner loop (constant `slot`) always unrolls and `acc`
                    // stays in registers.
                    for half in 0..2 {
                        for (slot, acc) in acc.iter_mut().enumerate() {
                            let group = 4 * half + slot;
                            let k = (bits >> (8 * group)) as u8;
                            let x = F::Elem::load512(p.add(base + 8 * group));
                            *acc = F::combine512(*acc, F::Elem::select512(k, fill, x));
                        }
                    }
                } else {
                    let mut group = 0;
                    while base + 8 * group < len {
                        let k = (bits >> (8 * group)) as u8;
                        let x = F::Elem::mask_load512(fill, k, p.add(base + 8 * group));
                        acc[0] = F::combine512(acc[0], x);
                        group += 1;
                    }
                }
            }
            any = seen != 0;
        }
        let total = F::combine512(F::combine512(acc[0], acc[1]), F::combine512(acc[2], acc[3]));
        (F::reduce512(total), any)
    }
}

/// # Safety
/// The CPU must support AVX2 and POPCNT; `mask` must cover `values.len()` rows.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
pub(crate) unsafe fn fold_avx2<F: Fold>(values: &[F::Elem], mask: RowMask<'_>) -> (F::Elem, bool) {
    let len = values.len();
    let p = values.as_ptr();
    // SAFETY: the features are enabled on this function. Full loads read rows
    // `[row, row + 4)` with `row + 4 <= len` (in a whole word, unkept rows are loaded and then
    // replaced by the identity in registers); masked loads start at a row `< len` and read only
    // lanes whose mask bit is set, and `RowMask::word` clears every bit at or past `len`.
    unsafe {
        let fill = <F::Elem as Lanes>::splat256(F::IDENTITY);
        let mut acc = [fill; 4];
        let any;
        if mask.is_all() {
            let mut row = 0;
            while row + 16 <= len {
                for (lane, slot) in acc.iter_mut().enumerate() {
                    *slot = F::combine256(*slot, F::Elem::load256(p.add(row + 4 * lane)));
                }
                row += 16;
            }
            while row + 4 <= len {
                acc[0] = F::combine256(acc[0], F::Elem::load256(p.add(row)));
                row += 4;
            }
            if row < len {
                let m = nibble_lanes((1u64 << (len - row)) - 1);
                acc[1] = F::combine256(acc[1], F::Elem::mask_load256(fill, m, p.add(row)));
            }
            any = len > 0;
        } else {
            let mut seen = 0u64;
            for word_index in 0..mask.word_count() {
                let bits = mask.word(word_index);
                if bits == 0 {
                    continue;
                }
                seen |= bits;
                let base = word_index * 64;
                if base + 64 <= len {
                    // Nested so the inner loop (constant `slot`) always unrolls and `acc`
                    // stays in registers.
                    for quad in 0..4 {
                        for (slot, acc) in acc.iter_mut().enumerate() {
                            let group = 4 * quad + slot;
                            let m = nibble_lanes(bits >> (4 * group) & 0xF);
                            let x = F::Elem::load256(p.add(base + 4 * group));
                            *acc = F::combine256(*acc, F::Elem::select256(m, fill, x));
                        }
                    }
                } else {
                    for group in 0..(len - base).div_ceil(4) {
                        let m = nibble_lanes(bits >> (4 * group) & 0xF);
                        let x = F::Elem::mask_load256(fill, m, p.add(base + 4 * group));
                        acc[0] = F::combine256(acc[0], x);
                    }
                }
            }
            any = seen != 0;
        }
        let total = F::combine256(F::combine256(acc[0], acc[1]), F::combine256(acc[2], acc[3]));
        let [l0, l1, l2, l3] = F::Elem::to_array256(total);
        (F::combine(F::combine(l0, l1), F::combine(l2, l3)), any)
    }
}

/// Sum of the valid, selected values; `0` when there are none (use [`count`] to tell).
///
/// Integers wrap on overflow; floats propagate NaN and may differ from a sequential sum by
/// reassociation (see the module docs of `kernels`).
pub fn sum<T: Numeric>(values: &[T], validity: Option<&[u8]>, selection: Option<&[u8]>) -> T {
    sum_with(super::simd_level(), values, validity, selection)
}

/// [`sum`] at a chosen level.
pub fn sum_with<T: Numeric>(
    level: SimdLevel,
    values: &[T],
    validity: Option<&[u8]>,
    selection: Option<&[u8]>,
) -> T {
    let mask = RowMask::new(values.len(), [validity, selection, None]);
    fold_with::<Sum<T>>(level, values, mask).0
}

/// Number of rows among `len` that are valid and selected.
pub fn count(len: usize, validity: Option<&[u8]>, selection: Option<&[u8]>) -> u64 {
    count_with(super::simd_level(), len, validity, selection)
}

/// [`count`] at a chosen level. Counting is a popcount per 64-row word; the SIMD levels are
/// that loop compiled with POPCNT/AVX2 (AVX-512 F/DQ adds nothing to it).
pub fn count_with(
    level: SimdLevel,
    len: usize,
    validity: Option<&[u8]>,
    selection: Option<&[u8]>,
) -> u64 {
    level.assert_supported();
    let mask = RowMask::new(len, [validity, selection, None]);
    if mask.is_all() {
        return len as u64;
    }
    let kept = match level {
        SimdLevel::Scalar => bitmap::count_scalar(mask),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: assert_supported checked AVX2 and POPCNT (Avx512 implies both).
        SimdLevel::Avx2 | SimdLevel::Avx512 => unsafe { bitmap::count_avx2(mask) },
        #[cfg(not(target_arch = "x86_64"))]
        _ => unreachable!("assert_supported admits only Scalar off x86_64"),
    };
    kept as u64
}

/// Least valid, selected value, ignoring NaN; `None` when no row is valid and selected, NaN
/// when every such row is NaN.
pub fn min<T: Numeric>(
    values: &[T],
    validity: Option<&[u8]>,
    selection: Option<&[u8]>,
) -> Option<T> {
    min_with(super::simd_level(), values, validity, selection)
}

/// [`min`] at a chosen level.
pub fn min_with<T: Numeric>(
    level: SimdLevel,
    values: &[T],
    validity: Option<&[u8]>,
    selection: Option<&[u8]>,
) -> Option<T> {
    extreme_with::<Min<T>>(level, values, validity, selection)
}

/// Greatest valid, selected value, ignoring NaN; `None` when no row is valid and selected, NaN
/// when every such row is NaN.
pub fn max<T: Numeric>(
    values: &[T],
    validity: Option<&[u8]>,
    selection: Option<&[u8]>,
) -> Option<T> {
    max_with(super::simd_level(), values, validity, selection)
}

/// [`max`] at a chosen level.
pub fn max_with<T: Numeric>(
    level: SimdLevel,
    values: &[T],
    validity: Option<&[u8]>,
    selection: Option<&[u8]>,
) -> Option<T> {
    extreme_with::<Max<T>>(level, values, validity, selection)
}

fn extreme_with<F: Fold>(
    level: SimdLevel,
    values: &[F::Elem],
    validity: Option<&[u8]>,
    selection: Option<&[u8]>,
) -> Option<F::Elem> {
    let mask = RowMask::new(values.len(), [validity, selection, None]);
    let (extreme, any) = fold_with::<F>(level, values, mask);
    if !any {
        return None;
    }
    if extreme == F::IDENTITY {
        // The fold skips NaN, so an identity result is either a real extreme (i64::MAX, +∞,
        // ...) or every kept row was NaN. Look for the first kept row: for integers and most
        // floats it is not NaN and this stops at once; it is a full scan only when the result
        // is NaN (or ±∞ preceded by many NaN).
        let first_not_nan = (0..values.len())
            .filter(|&row| mask.get(row))
            .map(|row| values[row])
            .find(|value| !value.is_nan());
        if first_not_nan.is_none() {
            let first_kept = (0..values.len()).find(|&row| mask.get(row))?;
            return Some(values[first_kept]);
        }
    }
    Some(extreme)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::bitmap::get_bit;
    use crate::kernels::testutil::*;
    use proptest::prelude::*;

    /// How a test checks one type's sums: exact for integers, within tolerance for floats.
    trait SumCheck: Numeric + TestValue {
        fn check_sum(got: Self, expected: Self, _kept: &[Self]) -> Result<(), TestCaseError> {
            prop_assert!(
                same_value(got, expected),
                "got {:?}, expected {:?}",
                got,
                expected
            );
            Ok(())
        }
    }
    impl SumCheck for i64 {}
    impl SumCheck for u64 {}
    impl SumCheck for f64 {
        fn check_sum(got: f64, expected: f64, kept: &[f64]) -> Result<(), TestCaseError> {
            let abs_sum = kept.iter().map(|x| x.abs()).filter(|x| x.is_finite()).sum();
            check_sum_close(got, expected, abs_sum, kept.len())
        }
    }

    fn check_all_levels<T: SumCheck>(
        values: &[T],
        validity: Option<&[u8]>,
        selection: Option<&[u8]>,
    ) -> Result<(), TestCaseError> {
        // An independent statement of which rows count, to check the reference itself.
        let kept: Vec<T> = (0..values.len())
            .filter(|&row| validity.is_none_or(|v| get_bit(v, row)))
            .filter(|&row| selection.is_none_or(|s| get_bit(s, row)))
            .map(|row| values[row])
            .collect();
        let naive_sum = kept.iter().fold(T::ZERO, |acc, &x| acc.add(x));
        let naive_min =
            kept.iter()
                .copied()
                .filter(|x| !x.is_nan())
                .reduce(|a, b| if b < a { b } else { a });
        let naive_max =
            kept.iter()
                .copied()
                .filter(|x| !x.is_nan())
                .reduce(|a, b| if b > a { b } else { a });
        let naive_min = naive_min.or(kept.first().copied());
        let naive_max = naive_max.or(kept.first().copied());

        let reference_sum = sum_with(SimdLevel::Scalar, values, validity, selection);
        prop_assert!(same_value(reference_sum, naive_sum));
        for level in levels() {
            let got = sum_with(level, values, validity, selection);
            T::check_sum(got, reference_sum, &kept)?;
            prop_assert_eq!(
                count_with(level, values.len(), validity, selection),
                kept.len() as u64
            );
            let got_min = min_with(level, values, validity, selection);
            let got_max = max_with(level, values, validity, selection);
            prop_assert_eq!(got_min.is_some(), naive_min.is_some());
            prop_assert_eq!(got_max.is_some(), naive_max.is_some());
            if let (Some(got), Some(want)) = (got_min, naive_min) {
                prop_assert!(
                    same_value(got, want),
                    "{:?}: min {:?} != {:?}",
                    level,
                    got,
                    want
                );
            }
            if let (Some(got), Some(want)) = (got_max, naive_max) {
                prop_assert!(
                    same_value(got, want),
                    "{:?}: max {:?} != {:?}",
                    level,
                    got,
                    want
                );
            }
        }
        Ok(())
    }

    /// A column (with its misalignment offset), a validity and a selection bitmap.
    type Case<T> = ((Vec<T>, usize), Option<Vec<u8>>, Option<Vec<u8>>);

    fn case<T: TestValue>(value: fn() -> BoxedStrategy<T>) -> impl Strategy<Value = Case<T>> {
        len_strategy()
            .prop_flat_map(move |len| (column(len, value()), opt_bitmap(len), opt_bitmap(len)))
    }

    proptest! {
        #[test]
        fn f64_levels_agree(((values, offset), validity, selection) in case::<f64>(f64::summable_value)) {
            check_all_levels(&values[offset..], validity.as_deref(), selection.as_deref())?;
        }

        #[test]
        fn f64_extremes_levels_agree(((values, offset), validity, selection) in case::<f64>(f64::any_value)) {
            // Values up to ±f64::MAX: sums may overflow, so only min/max/count are compared.
            let values = &values[offset..];
            for level in levels() {
                let min_got = min_with(level, values, validity.as_deref(), selection.as_deref());
                let min_want = min_with(SimdLevel::Scalar, values, validity.as_deref(), selection.as_deref());
                prop_assert_eq!(min_got.map(f64::to_bits).map(|_| ()), min_want.map(|_| ()));
                prop_assert!(min_got.zip(min_want).is_none_or(|(a, b)| same_value(a, b)));
                let max_got = max_with(level, values, validity.as_deref(), selection.as_deref());
                let max_want = max_with(SimdLevel::Scalar, values, validity.as_deref(), selection.as_deref());
                prop_assert!(max_got.zip(max_want).is_none_or(|(a, b)| same_value(a, b)));
                prop_assert_eq!(max_got.is_some(), max_want.is_some());
            }
        }

        #[test]
        fn i64_levels_agree(((values, offset), validity, selection) in case::<i64>(i64::any_value)) {
            check_all_levels(&values[offset..], validity.as_deref(), selection.as_deref())?;
        }

        #[test]
        fn u64_levels_agree(((values, offset), validity, selection) in case::<u64>(u64::any_value)) {
            check_all_levels(&values[offset..], validity.as_deref(), selection.as_deref())?;
        }
    }

    #[test]
    fn tiny_examples() {
        let values = [1.5, f64::NAN, -2.0, 4.0, 8.0];
        let validity = [0b1_1111u8];
        let selection = [0b0_1011u8]; // rows 0, 1, 3
        for level in levels() {
            assert!(sum_with(level, &values, None, None).is_nan());
            assert_eq!(sum_with(level, &values, None, Some(&[0b1_1101])), 11.5);
            assert_eq!(min_with(level, &values, None, None), Some(-2.0));
            assert_eq!(
                max_with(level, &values, Some(&validity), Some(&selection)),
                Some(4.0)
            );
            assert_eq!(count_with(level, 5, Some(&validity), Some(&selection)), 3);
            assert_eq!(count_with(level, 5, None, None), 5);
            // Only the NaN row selected: min is NaN, not None.
            assert!(min_with(level, &values, None, Some(&[0b10]))
                .unwrap()
                .is_nan());
            assert_eq!(min_with(level, &values, Some(&[0]), None), None);
            assert_eq!(min_with::<f64>(level, &[], None, None), None);
            assert_eq!(sum_with::<f64>(level, &[], None, None), 0.0);
            // +∞ is a real maximum, not "nothing seen".
            assert_eq!(
                max_with(level, &[f64::NAN, f64::INFINITY], None, None),
                Some(f64::INFINITY)
            );
            assert_eq!(
                min_with(level, &[f64::INFINITY, f64::NAN], None, None),
                Some(f64::INFINITY)
            );

            let ints = [i64::MAX, 1, i64::MIN, 7];
            assert_eq!(sum_with(level, &ints, None, None), 7); // wraps: MAX + MIN = -1
            assert_eq!(min_with(level, &ints, None, None), Some(i64::MIN));
            assert_eq!(
                max_with(level, &ints, None, Some(&[0b0001])),
                Some(i64::MAX)
            );
            assert_eq!(
                min_with(level, &ints, None, Some(&[0b0001])),
                Some(i64::MAX)
            );
            assert_eq!(sum_with(level, &[u64::MAX, 2], None, None), 1);
            assert_eq!(max_with(level, &[0u64, 0], None, None), Some(0));
            assert_eq!(
                max_with(level, &[3u64, u64::MAX], None, None),
                Some(u64::MAX)
            );
        }
        assert_eq!(sum(&[1i64, 2, 3], Some(&[0b101]), None), 4);
        assert_eq!(count(3, None, Some(&[0b110])), 2);
        assert_eq!(min(&[3u64, 1, 2], None, None), Some(1));
        assert_eq!(max(&[3u64, 1, 2], None, None), Some(3));
    }

    #[test]
    fn garbage_under_nulls_is_never_read_into_the_result() {
        // 70 rows: every null row holds NaN, every valid row 1.0.
        let mut values = vec![f64::NAN; 70];
        let mut validity = vec![0u8; 9];
        for row in (0..70).step_by(3) {
            values[row] = 1.0;
            validity[row / 8] |= 1 << (row % 8);
        }
        for level in levels() {
            assert_eq!(sum_with(level, &values, Some(&validity), None), 24.0);
            assert_eq!(max_with(level, &values, Some(&validity), None), Some(1.0));
        }
    }
}
