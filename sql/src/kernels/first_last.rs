//! `first`/`last`: the index of the earliest/latest valid, selected row, for time-sorted blocks (a bit scan) and for unsorted timestamps (argmin/argmax).
//!
//! The merge step of `first(x)`/`last(x)` keeps each shard's candidate with its timestamp and
//! picks the earliest/latest; these kernels find that candidate within one block.

use super::aggregate::fold_with;
use super::bitmap::RowMask;
use super::lanes::{compare, op, Max, Min};
use super::SimdLevel;

/// First row among `len` that is valid and selected: in a time-sorted block, the earliest.
/// A bit scan, 64 rows per step; there is nothing for SIMD to add.
pub fn first_row(len: usize, validity: Option<&[u8]>, selection: Option<&[u8]>) -> Option<usize> {
    let mask = RowMask::new(len, [validity, selection, None]);
    (0..mask.word_count()).find_map(|word_index| {
        let bits = mask.word(word_index);
        (bits != 0).then(|| word_index * 64 + bits.trailing_zeros() as usize)
    })
}

/// Last row among `len` that is valid and selected: in a time-sorted block, the latest.
pub fn last_row(len: usize, validity: Option<&[u8]>, selection: Option<&[u8]>) -> Option<usize> {
    let mask = RowMask::new(len, [validity, selection, None]);
    (0..mask.word_count()).rev().find_map(|word_index| {
        let bits = mask.word(word_index);
        (bits != 0).then(|| word_index * 64 + 63 - bits.leading_zeros() as usize)
    })
}

/// Index of the valid, selected row with the least timestamp; the first such row on ties.
/// For unsorted blocks (a sorted block needs only [`first_row`]).
pub fn first_row_by_ts(
    ts: &[i64],
    validity: Option<&[u8]>,
    selection: Option<&[u8]>,
) -> Option<usize> {
    first_row_by_ts_with(super::simd_level(), ts, validity, selection)
}

/// Index of the valid, selected row with the greatest timestamp; the last such row on ties.
pub fn last_row_by_ts(
    ts: &[i64],
    validity: Option<&[u8]>,
    selection: Option<&[u8]>,
) -> Option<usize> {
    last_row_by_ts_with(super::simd_level(), ts, validity, selection)
}

/// [`first_row_by_ts`] at a chosen level. The SIMD levels take two passes: the vector min of
/// the kept timestamps, then a vector compare for the first kept row equal to it (which
/// usually stops early).
pub fn first_row_by_ts_with(
    level: SimdLevel,
    ts: &[i64],
    validity: Option<&[u8]>,
    selection: Option<&[u8]>,
) -> Option<usize> {
    level.assert_supported();
    let mask = RowMask::new(ts.len(), [validity, selection, None]);
    if level == SimdLevel::Scalar {
        let mut best: Option<usize> = None;
        for (row, &t) in ts.iter().enumerate() {
            if mask.get(row) && best.is_none_or(|best| t < ts[best]) {
                best = Some(row);
            }
        }
        return best;
    }
    let (least, any) = fold_with::<Min<i64>>(level, ts, mask);
    if !any {
        return None;
    }
    (0..mask.word_count()).find_map(|word_index| {
        let bits = mask.word(word_index) & equal_word(level, ts, word_index, least);
        (bits != 0).then(|| word_index * 64 + bits.trailing_zeros() as usize)
    })
}

/// [`last_row_by_ts`] at a chosen level (as [`first_row_by_ts_with`], scanning from the end).
pub fn last_row_by_ts_with(
    level: SimdLevel,
    ts: &[i64],
    validity: Option<&[u8]>,
    selection: Option<&[u8]>,
) -> Option<usize> {
    level.assert_supported();
    let mask = RowMask::new(ts.len(), [validity, selection, None]);
    if level == SimdLevel::Scalar {
        let mut best: Option<usize> = None;
        for (row, &t) in ts.iter().enumerate() {
            if mask.get(row) && best.is_none_or(|best| t >= ts[best]) {
                best = Some(row);
            }
        }
        return best;
    }
    let (greatest, any) = fold_with::<Max<i64>>(level, ts, mask);
    if !any {
        return None;
    }
    (0..mask.word_count()).rev().find_map(|word_index| {
        let bits = mask.word(word_index) & equal_word(level, ts, word_index, greatest);
        (bits != 0).then(|| word_index * 64 + 63 - bits.leading_zeros() as usize)
    })
}

/// Bits of rows `64 word_index ..` whose timestamp equals `value` (zero past the end).
#[inline]
fn equal_word(level: SimdLevel, ts: &[i64], word_index: usize, value: i64) -> u64 {
    let start = word_index * 64;
    let rows = &ts[start..ts.len().min(start + 64)];
    if rows.len() == 64 {
        match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the callers ran assert_supported; `rows` holds 64 values.
            SimdLevel::Avx512 => return unsafe { cmp64_avx512(rows, value) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above, for AVX2.
            SimdLevel::Avx2 => return unsafe { cmp64_avx2(rows, value) },
            _ => {}
        }
    }
    let mut bits = 0u64;
    for (bit, &t) in rows.iter().enumerate() {
        bits |= u64::from(compare::<i64, { op::EQ }>(t, value)) << bit;
    }
    bits
}

/// # Safety
/// The CPU must support AVX-512 F/DQ; `rows.len() == 64`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,popcnt")]
unsafe fn cmp64_avx512(rows: &[i64], value: i64) -> u64 {
    use super::lanes::CmpLanes;
    debug_assert_eq!(rows.len(), 64);
    // SAFETY: features enabled here; 64 readable values.
    unsafe { i64::cmp64_avx512::<{ op::EQ }>(rows.as_ptr(), value) }
}

/// # Safety
/// The CPU must support AVX2; `rows.len() == 64`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn cmp64_avx2(rows: &[i64], value: i64) -> u64 {
    use super::lanes::CmpLanes;
    debug_assert_eq!(rows.len(), 64);
    // SAFETY: features enabled here; 64 readable values.
    unsafe { i64::cmp64_avx2::<{ op::EQ }>(rows.as_ptr(), value) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::bitmap::get_bit;
    use crate::kernels::testutil::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn levels_agree(((ts, offset), validity, selection) in len_strategy().prop_flat_map(|len| {
            let ts = prop_oneof![3 => (-5i64..5).boxed(), 1 => i64::any_value()].boxed();
            (column(len, ts), opt_bitmap(len), opt_bitmap(len))
        })) {
            let ts = &ts[offset..];
            let (validity, selection) = (validity.as_deref(), selection.as_deref());
            let kept: Vec<usize> = (0..ts.len())
                .filter(|&row| validity.is_none_or(|v| get_bit(v, row)) && selection.is_none_or(|s| get_bit(s, row)))
                .collect();
            prop_assert_eq!(first_row(ts.len(), validity, selection), kept.first().copied());
            prop_assert_eq!(last_row(ts.len(), validity, selection), kept.last().copied());
            let least = kept.iter().map(|&row| ts[row]).min();
            let greatest = kept.iter().map(|&row| ts[row]).max();
            let want_first = kept.iter().copied().find(|&row| Some(ts[row]) == least);
            let want_last = kept.iter().copied().rev().find(|&row| Some(ts[row]) == greatest);
            for level in levels() {
                prop_assert_eq!(first_row_by_ts_with(level, ts, validity, selection), want_first, "{:?}", level);
                prop_assert_eq!(last_row_by_ts_with(level, ts, validity, selection), want_last, "{:?}", level);
            }
        }
    }

    #[test]
    fn tiny_examples() {
        let ts = [30, 10, 20, 10, 30, 5];
        let validity = [0b01_1111u8]; // row 5 null
        assert_eq!(first_row(6, Some(&validity), Some(&[0b11_1100])), Some(2));
        assert_eq!(last_row(6, Some(&validity), None), Some(4));
        assert_eq!(first_row(6, Some(&[0]), None), None);
        assert_eq!(last_row(0, None, None), None);
        assert_eq!(first_row(130, None, None), Some(0));
        assert_eq!(last_row(130, None, None), Some(129));
        for level in levels() {
            assert_eq!(
                first_row_by_ts_with(level, &ts, Some(&validity), None),
                Some(1)
            );
            assert_eq!(
                last_row_by_ts_with(level, &ts, Some(&validity), None),
                Some(4)
            );
            assert_eq!(first_row_by_ts_with(level, &ts, None, None), Some(5));
            assert_eq!(last_row_by_ts_with(level, &ts, None, Some(&[0b1])), Some(0));
            assert_eq!(first_row_by_ts_with(level, &[], None, None), None);
            // Ties across a word boundary.
            let flat = vec![7i64; 200];
            assert_eq!(first_row_by_ts_with(level, &flat, None, None), Some(0));
            assert_eq!(last_row_by_ts_with(level, &flat, None, None), Some(199));
        }
        assert_eq!(first_row_by_ts(&[3, 1, 1], None, None), Some(1));
        assert_eq!(last_row_by_ts(&[3, 1, 3], None, None), Some(2));
    }
}
