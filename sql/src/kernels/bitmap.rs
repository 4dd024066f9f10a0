//! Row bitmaps (Arrow layout): AND/OR/NOT, popcount, selection-vector conversion, and the row mask the other kernels read.
//!
//! Internally bitmaps are walked as little-endian `u64` words (bit `i` of word `w` is row
//! `64 w + i`), which is exactly the Arrow byte layout read eight bytes at a time.

use super::SimdLevel;

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Bytes a bitmap over `len_rows` rows occupies.
#[inline]
pub const fn bitmap_bytes(len_rows: usize) -> usize {
    len_rows.div_ceil(8)
}

/// The word of a bitmap holding rows `64 word_index ..`, zero-padded past the end of `bitmap`.
#[inline(always)]
pub(crate) fn load_word(bitmap: &[u8], word_index: usize) -> u64 {
    let start = word_index * 8;
    match bitmap.get(start..start + 8) {
        Some(bytes) => u64::from_le_bytes([
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
        ]),
        None => {
            let mut word = 0u64;
            for (shift, &byte) in bitmap.get(start..).unwrap_or(&[]).iter().enumerate() {
                word |= u64::from(byte) << (8 * shift);
            }
            word
        }
    }
}

/// Bits of word `word_index` that are rows below `len_rows`.
#[inline(always)]
pub(crate) fn live_bits(len_rows: usize, word_index: usize) -> u64 {
    let start = word_index * 64;
    if start + 64 <= len_rows {
        u64::MAX
    } else if start >= len_rows {
        0
    } else {
        (1u64 << (len_rows - start)) - 1
    }
}

/// Whether bit `row` of `bitmap` is set.
#[inline(always)]
pub(crate) fn get_bit(bitmap: &[u8], row: usize) -> bool {
    bitmap[row / 8] >> (row % 8) & 1 == 1
}

/// Whether the first `len_rows` bits of `bitmap` are all set (bits past them are ignored).
pub(crate) fn all_set(bitmap: &[u8], len_rows: usize) -> bool {
    assert_bitmap_len(bitmap, len_rows, "validity/selection");
    let full = len_rows / 8;
    bitmap[..full].iter().all(|&byte| byte == 0xFF)
        && (len_rows.is_multiple_of(8) || bitmap[full] | !((1u8 << (len_rows % 8)) - 1) == 0xFF)
}

#[track_caller]
pub(crate) fn assert_bitmap_len(bitmap: &[u8], len_rows: usize, what: &str) {
    assert!(
        bitmap.len() >= bitmap_bytes(len_rows),
        "{what} bitmap has {} bytes, {len_rows} rows need {}",
        bitmap.len(),
        bitmap_bytes(len_rows)
    );
}

/// The rows a kernel keeps: the AND of up to three optional bitmaps (validity of each input and
/// a selection), over `len` rows. A missing bitmap keeps every row.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowMask<'a> {
    bitmaps: [Option<&'a [u8]>; 3],
    len: usize,
}

impl<'a> RowMask<'a> {
    /// Panics if a bitmap is too short for `len` rows.
    #[track_caller]
    pub(crate) fn new(len: usize, bitmaps: [Option<&'a [u8]>; 3]) -> RowMask<'a> {
        for bitmap in bitmaps.iter().flatten() {
            assert_bitmap_len(bitmap, len, "validity/selection");
        }
        RowMask { bitmaps, len }
    }

    /// True when no bitmap is present: every row is kept.
    #[inline(always)]
    pub(crate) fn is_all(&self) -> bool {
        self.bitmaps.iter().all(Option::is_none)
    }

    /// The kept rows among `64 word_index .. 64 word_index + 64`; bits past `len` are zero.
    #[inline(always)]
    pub(crate) fn word(&self, word_index: usize) -> u64 {
        let mut word = live_bits(self.len, word_index);
        for slot in 0..3 {
            if let Some(bitmap) = self.bitmaps[slot] {
                word &= load_word(bitmap, word_index);
            }
        }
        word
    }

    /// Whether `row` is kept, one row at a time: what the scalar reference kernels use.
    #[inline]
    pub(crate) fn get(&self, row: usize) -> bool {
        debug_assert!(row < self.len);
        self.bitmaps
            .iter()
            .flatten()
            .all(|bitmap| get_bit(bitmap, row))
    }

    /// The kept rows among `row .. row + 64`, for any `row` (not only multiples of 64); bits
    /// past `len` are zero.
    #[inline(always)]
    pub(crate) fn bits_from(&self, row: usize) -> u64 {
        let (word_index, shift) = (row / 64, row % 64);
        let low = self.word(word_index) >> shift;
        if shift == 0 {
            low
        } else {
            low | self.word(word_index + 1) << (64 - shift)
        }
    }

    /// Number of words covering the rows.
    #[inline(always)]
    pub(crate) fn word_count(&self) -> usize {
        self.len.div_ceil(64)
    }
}

// ---------------------------------------------------------------------------------------------
// AND / OR / AND-NOT / NOT
//
// These are byte-parallel and LLVM vectorizes the plain loop; the SIMD versions are that same
// body compiled with AVX2 or AVX-512 enabled (multiversioning), which widens it to 32 or 64
// bytes per instruction. The tests still compare every level.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum BitOp {
    And,
    Or,
    AndNot,
    Not,
}

#[inline(always)]
fn bitop_body(op: BitOp, a: &[u8], b: &[u8], out: &mut [u8]) {
    let (a, b) = (&a[..out.len()], &b[..out.len()]);
    match op {
        BitOp::And => out
            .iter_mut()
            .zip(a.iter().zip(b))
            .for_each(|(o, (x, y))| *o = x & y),
        BitOp::Or => out
            .iter_mut()
            .zip(a.iter().zip(b))
            .for_each(|(o, (x, y))| *o = x | y),
        BitOp::AndNot => out
            .iter_mut()
            .zip(a.iter().zip(b))
            .for_each(|(o, (x, y))| *o = x & !y),
        BitOp::Not => out.iter_mut().zip(a).for_each(|(o, x)| *o = !x),
    }
}

fn bitop_scalar(op: BitOp, a: &[u8], b: &[u8], out: &mut [u8]) {
    for index in 0..out.len() {
        out[index] = match op {
            BitOp::And => a[index] & b[index],
            BitOp::Or => a[index] | b[index],
            BitOp::AndNot => a[index] & !b[index],
            BitOp::Not => !a[index],
        };
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
fn bitop_avx2(op: BitOp, a: &[u8], b: &[u8], out: &mut [u8]) {
    bitop_body(op, a, b, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,popcnt")]
fn bitop_avx512(op: BitOp, a: &[u8], b: &[u8], out: &mut [u8]) {
    bitop_body(op, a, b, out);
}

#[track_caller]
fn bitop_with(level: SimdLevel, op: BitOp, a: &[u8], b: &[u8], len_rows: usize, out: &mut [u8]) {
    level.assert_supported();
    assert_bitmap_len(a, len_rows, "input");
    assert_bitmap_len(b, len_rows, "input");
    assert_bitmap_len(out, len_rows, "output");
    let out = &mut out[..bitmap_bytes(len_rows)];
    match level {
        SimdLevel::Scalar => bitop_scalar(op, a, b, out),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: assert_supported checked the CPU has AVX2 and POPCNT.
        SimdLevel::Avx2 => unsafe { bitop_avx2(op, a, b, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: assert_supported checked the CPU has AVX-512 F/DQ and POPCNT.
        SimdLevel::Avx512 => unsafe { bitop_avx512(op, a, b, out) },
        #[cfg(not(target_arch = "x86_64"))]
        _ => unreachable!("assert_supported admits only Scalar off x86_64"),
    }
    clear_trailing_bits(out, len_rows);
}

/// Zeroes the bits of the last byte that lie past `len_rows`.
#[inline]
fn clear_trailing_bits(out: &mut [u8], len_rows: usize) {
    if !len_rows.is_multiple_of(8) {
        out[len_rows / 8] &= (1u8 << (len_rows % 8)) - 1;
    }
}

/// `out = a & b` over `len_rows` rows (writes `bitmap_bytes(len_rows)` bytes).
pub fn bitmap_and(a: &[u8], b: &[u8], len_rows: usize, out: &mut [u8]) {
    bitop_with(super::simd_level(), BitOp::And, a, b, len_rows, out);
}

/// `out = a | b` over `len_rows` rows.
pub fn bitmap_or(a: &[u8], b: &[u8], len_rows: usize, out: &mut [u8]) {
    bitop_with(super::simd_level(), BitOp::Or, a, b, len_rows, out);
}

/// `out = a & !b` over `len_rows` rows (e.g. selected rows that are null).
pub fn bitmap_and_not(a: &[u8], b: &[u8], len_rows: usize, out: &mut [u8]) {
    bitop_with(super::simd_level(), BitOp::AndNot, a, b, len_rows, out);
}

/// `out = !a` over `len_rows` rows; bits past `len_rows` stay zero.
pub fn bitmap_not(a: &[u8], len_rows: usize, out: &mut [u8]) {
    bitop_with(super::simd_level(), BitOp::Not, a, a, len_rows, out);
}

// ---------------------------------------------------------------------------------------------
// popcount
// ---------------------------------------------------------------------------------------------

/// Counts the rows `mask` keeps, a word at a time.
#[inline(always)]
pub(crate) fn count_words(mask: RowMask<'_>) -> usize {
    let mut total = 0usize;
    for word_index in 0..mask.word_count() {
        total += mask.word(word_index).count_ones() as usize;
    }
    total
}

pub(crate) fn count_scalar(mask: RowMask<'_>) -> usize {
    (0..mask.len).filter(|&row| mask.get(row)).count()
}

/// [`count_words`] compiled with POPCNT and AVX2, which LLVM turns into `popcnt` per word
/// (and a vectorized nibble-table popcount when there is a single bitmap).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
pub(crate) fn count_avx2(mask: RowMask<'_>) -> usize {
    count_words(mask)
}

/// Number of set bits among the first `len_rows` bits of `bitmap`.
pub fn popcount(bitmap: &[u8], len_rows: usize) -> usize {
    popcount_with(super::simd_level(), bitmap, len_rows)
}

/// [`popcount`] at a chosen level. AVX-512 F/DQ has no popcount instruction of its own, so the
/// `Avx512` level runs the AVX2 version.
pub fn popcount_with(level: SimdLevel, bitmap: &[u8], len_rows: usize) -> usize {
    level.assert_supported();
    let mask = RowMask::new(len_rows, [Some(bitmap), None, None]);
    match level {
        SimdLevel::Scalar => count_scalar(mask),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: assert_supported checked the CPU has AVX2 and POPCNT (Avx512 implies both).
        SimdLevel::Avx2 | SimdLevel::Avx512 => unsafe { count_avx2(mask) },
        #[cfg(not(target_arch = "x86_64"))]
        _ => unreachable!("assert_supported admits only Scalar off x86_64"),
    }
}

// ---------------------------------------------------------------------------------------------
// bitmap <-> selection vector
// ---------------------------------------------------------------------------------------------

/// Clears `out` and fills it with the indices of the set bits among the first `len_rows` bits
/// of `bitmap`, ascending. `out` only grows when its capacity is short.
pub fn bitmap_to_selection_vector(bitmap: &[u8], len_rows: usize, out: &mut Vec<u32>) {
    bitmap_to_selection_vector_with(super::simd_level(), bitmap, len_rows, out);
}

/// [`bitmap_to_selection_vector`] at a chosen level.
pub fn bitmap_to_selection_vector_with(
    level: SimdLevel,
    bitmap: &[u8],
    len_rows: usize,
    out: &mut Vec<u32>,
) {
    level.assert_supported();
    assert_bitmap_len(bitmap, len_rows, "selection");
    assert!(
        len_rows <= u32::MAX as usize + 1,
        "{len_rows} rows do not fit u32 row indices"
    );
    out.clear();
    match level {
        SimdLevel::Scalar => out.extend(
            (0..len_rows)
                .filter(|&row| get_bit(bitmap, row))
                .map(|row| row as u32),
        ),
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 | SimdLevel::Avx512 => {
            // The SIMD versions store whole vectors, up to 16 indices past the last one kept.
            out.reserve(len_rows + 16);
            let kept = if level == SimdLevel::Avx512 {
                // SAFETY: assert_supported checked AVX-512 F/DQ; `out` has room for
                // `len_rows + 16` indices, which bounds every store (see the function).
                unsafe { selection_avx512(bitmap, len_rows, out.as_mut_ptr()) }
            } else {
                // SAFETY: as above, for AVX2.
                unsafe { selection_avx2(bitmap, len_rows, out.as_mut_ptr()) }
            };
            debug_assert!(kept <= len_rows);
            // SAFETY: the kernel initialized exactly `kept` leading elements.
            unsafe { out.set_len(kept) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        _ => unreachable!("assert_supported admits only Scalar off x86_64"),
    }
}

/// Row offsets 0..8 of each byte value's set bits, packed one per byte, for the AVX2 expansion.
const BYTE_POSITIONS: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut packed = 0u64;
        let mut slot = 0;
        let mut bit = 0;
        while bit < 8 {
            if byte >> bit & 1 == 1 {
                packed |= (bit as u64) << (8 * slot);
                slot += 1;
            }
            bit += 1;
        }
        table[byte] = packed;
        byte += 1;
    }
    table
};

/// For each bitmap byte, widens its packed set-bit offsets to eight u32 lanes, adds the row
/// base and stores all eight; the write cursor then advances by the byte's popcount.
///
/// # Safety
/// The CPU must support AVX2 and POPCNT; `out` must be valid for `len_rows + 16` writes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn selection_avx2(bitmap: &[u8], len_rows: usize, out: *mut u32) -> usize {
    let mut kept = 0usize;
    for word_index in 0..len_rows.div_ceil(64) {
        let word = load_word(bitmap, word_index) & live_bits(len_rows, word_index);
        if word == 0 {
            continue;
        }
        for byte_index in 0..8 {
            let byte = (word >> (8 * byte_index)) as u8;
            if byte == 0 {
                continue;
            }
            let base = (word_index * 64 + byte_index * 8) as i32;
            let offsets = _mm_cvtsi64_si128(BYTE_POSITIONS[byte as usize] as i64);
            let rows = _mm256_add_epi32(_mm256_cvtepu8_epi32(offsets), _mm256_set1_epi32(base));
            // SAFETY: kept <= rows seen so far < len_rows, so 8 lanes from `kept` stay inside
            // the `len_rows + 16` the caller guarantees.
            unsafe { _mm256_storeu_si256(out.add(kept).cast(), rows) };
            kept += byte.count_ones() as usize;
        }
    }
    kept
}

/// Compresses each 16-row group's row numbers by its mask (`vpcompressd` into a register,
/// then one full store), advancing by the group's popcount.
///
/// # Safety
/// The CPU must support AVX-512 F and POPCNT; `out` must be valid for `len_rows + 16` writes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,popcnt")]
unsafe fn selection_avx512(bitmap: &[u8], len_rows: usize, out: *mut u32) -> usize {
    let mut kept = 0usize;
    let lane_offsets = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for word_index in 0..len_rows.div_ceil(64) {
        let word = load_word(bitmap, word_index) & live_bits(len_rows, word_index);
        if word == 0 {
            continue;
        }
        for group in 0..4 {
            let group_mask = (word >> (16 * group)) as u16;
            if group_mask == 0 {
                continue;
            }
            let base = (word_index * 64 + group * 16) as i32;
            let rows = _mm512_add_epi32(lane_offsets, _mm512_set1_epi32(base));
            let packed = _mm512_maskz_compress_epi32(group_mask, rows);
            // SAFETY: kept < len_rows, so 16 lanes from `kept` stay inside `len_rows + 16`.
            unsafe { _mm512_storeu_si512(out.add(kept).cast(), packed) };
            kept += group_mask.count_ones() as usize;
        }
    }
    kept
}

/// Writes the bitmap of the rows listed in `selection` (each `< len_rows`, any order,
/// duplicates allowed) into `out`, clearing every other bit.
pub fn selection_vector_to_bitmap(selection: &[u32], len_rows: usize, out: &mut [u8]) {
    assert_bitmap_len(out, len_rows, "output");
    let out = &mut out[..bitmap_bytes(len_rows)];
    out.fill(0);
    for &row in selection {
        let row = row as usize;
        assert!(row < len_rows, "selected row {row} out of {len_rows} rows");
        out[row / 8] |= 1 << (row % 8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testutil::{bitmap_strategy, levels};
    use proptest::prelude::*;

    #[test]
    fn tiny_examples() {
        // rows 0..10; a = rows {0, 2, 9}, b = rows {2, 3, 9}
        let a = [0b0000_0101u8, 0b0000_0010];
        let b = [0b0000_1100u8, 0b1111_1110]; // garbage past row 9 in b
        for level in levels() {
            let mut out = [0xAAu8; 3];
            bitop_with(level, BitOp::And, &a, &b, 10, &mut out);
            assert_eq!(out, [0b0000_0100, 0b0000_0010, 0xAA]);
            assert_eq!(popcount_with(level, &b, 10), 3);
            let mut rows = vec![7; 1];
            bitmap_to_selection_vector_with(level, &b, 10, &mut rows);
            assert_eq!(rows, [2, 3, 9]);
        }
        let mut out = [0u8; 2];
        bitmap_or(&a, &b, 10, &mut out);
        assert_eq!(out, [0b0000_1101, 0b0000_0010]);
        bitmap_and_not(&a, &b, 10, &mut out);
        assert_eq!(out, [0b0000_0001, 0]);
        bitmap_not(&a, 10, &mut out);
        assert_eq!(out, [0b1111_1010, 0b0000_0001]);
        selection_vector_to_bitmap(&[9, 0, 0], 10, &mut out);
        assert_eq!(out, [1, 0b10]);
        assert_eq!(popcount(&[], 0), 0);
        assert_eq!(bitmap_bytes(0), 0);
        assert_eq!(bitmap_bytes(9), 2);
    }

    #[test]
    #[should_panic(expected = "bitmap has 1 bytes")]
    fn short_bitmap_is_rejected() {
        popcount(&[0xFF], 9);
    }

    proptest! {
        #[test]
        fn levels_agree((len, a, b) in (0usize..300).prop_flat_map(|len| (Just(len), bitmap_strategy(len), bitmap_strategy(len)))) {
            let bytes = bitmap_bytes(len);
            let ops = [BitOp::And, BitOp::Or, BitOp::AndNot, BitOp::Not];
            for op in ops {
                let mut expected = vec![0x5Au8; bytes];
                bitop_with(SimdLevel::Scalar, op, &a, &b, len, &mut expected);
                for level in levels() {
                    let mut out = vec![0xA5u8; bytes];
                    bitop_with(level, op, &a, &b, len, &mut out);
                    prop_assert_eq!(&out, &expected);
                }
                if !len.is_multiple_of(8) {
                    prop_assert_eq!(expected[bytes - 1] >> (len % 8), 0);
                }
            }
            let expected_count = popcount_with(SimdLevel::Scalar, &a, len);
            let mut expected_rows = Vec::new();
            bitmap_to_selection_vector_with(SimdLevel::Scalar, &a, len, &mut expected_rows);
            prop_assert_eq!(expected_rows.len(), expected_count);
            let mut round_trip = vec![0u8; bytes];
            selection_vector_to_bitmap(&expected_rows, len, &mut round_trip);
            for row in 0..len {
                prop_assert_eq!(get_bit(&round_trip, row), get_bit(&a, row));
            }
            let mask = RowMask::new(len, [Some(&a), Some(&b), None]);
            for row in 0..len {
                let bits = mask.bits_from(row);
                for bit in 0..64 {
                    let want = row + bit < len && get_bit(&a, row + bit) && get_bit(&b, row + bit);
                    prop_assert_eq!(bits >> bit & 1 == 1, want);
                }
            }
            prop_assert_eq!(all_set(&a, len), (0..len).all(|row| get_bit(&a, row)));
            for level in levels() {
                prop_assert_eq!(popcount_with(level, &a, len), expected_count);
                let mut rows = vec![1, 2, 3];
                bitmap_to_selection_vector_with(level, &a, len, &mut rows);
                prop_assert_eq!(&rows, &expected_rows);
            }
        }
    }
}
