//! Test-only helpers: proptest strategies for columns and bitmaps, the levels to compare, and the float tolerance rule.
//!
//! Float tolerance: a SIMD sum adds the same terms as the sequential reference in another order.
//! Each reassociated partial sum is off by at most `ε` relative, so the two results differ by
//! at most `(n − 1) · ε · Σ|tᵢ|` (the classic recursive-summation bound). We allow
//! `2 (n + 1) ε Σ|tᵢ|`, and inputs are bounded (|x| ≤ 1e300, products ≤ ~1e31) so that no
//! finite partial sum can overflow in one order and not the other: then NaN and ±∞ results do
//! not depend on order and must match exactly.

use super::bitmap::bitmap_bytes;
use super::SimdLevel;
use proptest::prelude::*;
use proptest::sample::select;

/// The levels this CPU can run, least capable first (always includes `Scalar`).
pub fn levels() -> Vec<SimdLevel> {
    SimdLevel::ALL
        .into_iter()
        .filter(|level| level.is_supported())
        .collect()
}

/// A bitmap for `len` rows: all set, none set, sparse, dense or uniform random, with random
/// garbage in the bits past `len` and sometimes extra trailing bytes.
pub fn bitmap_strategy(len: usize) -> impl Strategy<Value = Vec<u8>> {
    let bytes = bitmap_bytes(len);
    (0usize..3, 0u8..5).prop_flat_map(move |(extra, density)| {
        proptest::collection::vec(any::<[u8; 3]>(), bytes + extra).prop_map(move |random| {
            random
                .iter()
                .map(|&[a, b, c]| match density {
                    0 => 0xFF,
                    1 => 0x00,
                    2 => a & b & c, // about one row in eight
                    3 => a | b,     // about three rows in four
                    _ => a,
                })
                .collect()
        })
    })
}

/// `None` or a bitmap for `len` rows.
pub fn opt_bitmap(len: usize) -> impl Strategy<Value = Option<Vec<u8>>> {
    proptest::option::of(bitmap_strategy(len))
}

/// Values for one column type, weighted toward edges and duplicates.
pub trait TestValue: Copy + std::fmt::Debug + 'static {
    /// Any value of the type, including its extremes (and NaN/±∞ for floats).
    fn any_value() -> BoxedStrategy<Self>;
    /// Values whose sums cannot overflow in one order but not another (see the module doc).
    fn summable_value() -> BoxedStrategy<Self> {
        Self::any_value()
    }
}

impl TestValue for i64 {
    fn any_value() -> BoxedStrategy<i64> {
        prop_oneof![
            4 => any::<i64>(),
            2 => -4i64..4,
            1 => select(vec![i64::MIN, i64::MAX, i64::MIN + 1, i64::MAX - 1, 0]),
        ]
        .boxed()
    }
}

impl TestValue for u64 {
    fn any_value() -> BoxedStrategy<u64> {
        prop_oneof![
            4 => any::<u64>(),
            2 => 0u64..6,
            1 => select(vec![u64::MAX, u64::MAX - 1, 1 << 63, (1 << 63) - 1, 0]),
        ]
        .boxed()
    }
}

impl TestValue for u32 {
    fn any_value() -> BoxedStrategy<u32> {
        prop_oneof![
            3 => any::<u32>(),
            3 => 0u32..6,
            1 => select(vec![u32::MAX, 1 << 31, (1 << 31) - 1, 0]),
        ]
        .boxed()
    }
}

impl TestValue for f64 {
    fn any_value() -> BoxedStrategy<f64> {
        prop_oneof![
            4 => Self::summable_value(),
            1 => select(vec![f64::MAX, f64::MIN, -f64::MIN_POSITIVE]),
        ]
        .boxed()
    }

    fn summable_value() -> BoxedStrategy<f64> {
        prop_oneof![
            4 => -1e12f64..1e12,
            2 => (-4i32..4).prop_map(f64::from),
            1 => select(vec![
                f64::NAN,
                -f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                0.0,
                -0.0,
                f64::MIN_POSITIVE,
                5e-324,
                1e300,
                -1e300,
            ]),
        ]
        .boxed()
    }
}

/// A column of `len` values from `value`, plus a leading offset `0..3` the test slices off so
/// SIMD loads start unaligned.
pub fn column<T: TestValue>(
    len: usize,
    value: BoxedStrategy<T>,
) -> impl Strategy<Value = (Vec<T>, usize)> {
    (0usize..3).prop_flat_map(move |offset| {
        (
            proptest::collection::vec(value.clone(), len + offset),
            Just(offset),
        )
    })
}

/// Row counts for property tests: mostly small and odd, sometimes up to 300.
pub fn len_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![0usize..20, 0usize..300]
}

/// Checks a reassociated float sum against the sequential one (module doc).
pub fn check_sum_close(
    got: f64,
    expected: f64,
    abs_sum: f64,
    terms: usize,
) -> Result<(), TestCaseError> {
    if expected.is_nan() {
        prop_assert!(got.is_nan(), "got {got}, expected NaN");
    } else if expected.is_infinite() {
        prop_assert_eq!(got, expected);
    } else {
        let tolerance = 2.0 * (terms as f64 + 1.0) * f64::EPSILON * abs_sum;
        prop_assert!(
            (got - expected).abs() <= tolerance,
            "got {got}, expected {expected}, tolerance {tolerance}"
        );
    }
    Ok(())
}

/// Equal, or both NaN (floats); `-0.0 == 0.0`.
pub fn same_value<T: PartialEq + Copy + 'static>(a: T, b: T) -> bool {
    #[allow(clippy::eq_op)]
    let is_nan = |x: T| x != x;
    a == b || (is_nan(a) && is_nan(b))
}
