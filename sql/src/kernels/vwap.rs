//! Fused volume-weighted average price: one pass computing Σ price·volume and Σ volume as f64 over valid, selected rows.
//!
//! The two sums are the partial state a shard sends back; the merge step adds them and divides
//! once ([`VwapSums::merge`], [`VwapSums::vwap`]). A row counts only when price and volume are
//! both valid and the row is selected.

use super::bitmap::RowMask;
use super::lanes::{Lanes, Numeric};
use super::SimdLevel;

#[cfg(target_arch = "x86_64")]
use super::lanes::nibble_lanes;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Partial vwap state: Σ price·volume and Σ volume, both f64.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct VwapSums {
    pub price_volume_sum: f64,
    pub volume_sum: f64,
}

impl VwapSums {
    /// Combines the partial sums of two disjoint row sets.
    pub fn merge(self, other: VwapSums) -> VwapSums {
        VwapSums {
            price_volume_sum: self.price_volume_sum + other.price_volume_sum,
            volume_sum: self.volume_sum + other.volume_sum,
        }
    }

    /// Σ price·volume / Σ volume; `None` when the volume sums to zero (including no rows).
    pub fn vwap(self) -> Option<f64> {
        (self.volume_sum != 0.0).then(|| self.price_volume_sum / self.volume_sum)
    }
}

/// Σ price·volume and Σ volume over rows where both are valid and the row is selected.
/// Integer inputs are converted to f64 per row (correctly rounded) before multiplying.
pub fn vwap<P: Numeric, V: Numeric>(
    price: &[P],
    price_validity: Option<&[u8]>,
    volume: &[V],
    volume_validity: Option<&[u8]>,
    selection: Option<&[u8]>,
) -> VwapSums {
    vwap_with(
        super::simd_level(),
        price,
        price_validity,
        volume,
        volume_validity,
        selection,
    )
}

/// [`vwap`] at a chosen level. The AVX-512 version uses fused multiply-add, so its products
/// round once instead of twice; like any reassociated float sum it agrees with the scalar
/// reference within `2 (n + 1) ε Σ|pᵢvᵢ|`.
pub fn vwap_with<P: Numeric, V: Numeric>(
    level: SimdLevel,
    price: &[P],
    price_validity: Option<&[u8]>,
    volume: &[V],
    volume_validity: Option<&[u8]>,
    selection: Option<&[u8]>,
) -> VwapSums {
    level.assert_supported();
    assert_eq!(
        price.len(),
        volume.len(),
        "price and volume columns differ in length"
    );
    let mask = RowMask::new(price.len(), [price_validity, volume_validity, selection]);
    match level {
        SimdLevel::Scalar => vwap_scalar(price, volume, mask),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: assert_supported checked AVX2 and POPCNT; lengths are equal (asserted).
        SimdLevel::Avx2 => unsafe { vwap_avx2(price, volume, mask) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: assert_supported checked AVX-512 F/DQ and POPCNT; lengths are equal.
        SimdLevel::Avx512 => unsafe { vwap_avx512(price, volume, mask) },
        #[cfg(not(target_arch = "x86_64"))]
        _ => unreachable!("assert_supported admits only Scalar off x86_64"),
    }
}

/// Reference: one row at a time, in row order.
fn vwap_scalar<P: Numeric, V: Numeric>(price: &[P], volume: &[V], mask: RowMask<'_>) -> VwapSums {
    let mut sums = VwapSums::default();
    for row in 0..price.len() {
        if mask.get(row) {
            let v = volume[row].to_f64();
            sums.price_volume_sum += price[row].to_f64() * v;
            sums.volume_sum += v;
        }
    }
    sums
}

/// # Safety
/// The CPU must support AVX-512 F/DQ and POPCNT; `price`, `volume` and `mask` cover the same
/// number of rows.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,popcnt")]
unsafe fn vwap_avx512<P: Numeric, V: Numeric>(
    price: &[P],
    volume: &[V],
    mask: RowMask<'_>,
) -> VwapSums {
    let len = price.len();
    let (pp, vp) = (price.as_ptr(), volume.as_ptr());
    // SAFETY: features enabled on this function. Plain loads read rows `[row, row + 8)` with
    // `row + 8 <= len` from both columns (equal lengths); unkept rows among them are loaded but
    // masked out of the arithmetic. Masked loads (the last partial group) read only lanes whose
    // bit is set, and every set bit is a row `< len`.
    unsafe {
        let (price_zero, volume_zero) = (P::splat512(P::ZERO), V::splat512(V::ZERO));
        let mut pv = [_mm512_setzero_pd(); 4];
        let mut vs = [_mm512_setzero_pd(); 4];
        // Eight rows at `row..row + 8` (all inside the columns); lanes clear in `k` leave the
        // sums unchanged.
        let mut full = |slot: usize, k: u8, row: usize| {
            let p = P::to_f64_512(P::load512(pp.add(row)));
            let v = V::to_f64_512(V::load512(vp.add(row)));
            pv[slot] = _mm512_mask3_fmadd_pd(p, v, pv[slot], k);
            vs[slot] = _mm512_mask_add_pd(vs[slot], k, vs[slot], v);
        };
        let mut row = 0;
        if mask.is_all() {
            while row + 32 <= len {
                for slot in 0..4 {
                    full(slot, 0xFF, row + 8 * slot);
                }
                row += 32;
            }
            while row + 8 <= len {
                full(0, 0xFF, row);
                row += 8;
            }
        } else {
            for word_index in 0..len / 64 {
                let bits = mask.word(word_index);
                if bits == 0 {
                    continue;
                }
                let base = word_index * 64;
                // Nested so the inner loop (constant `slot`) always unrolls and the sums stay
                // in registers.
                for half in 0..2 {
                    for slot in 0..4 {
                        let group = 4 * half + slot;
                        full(slot, (bits >> (8 * group)) as u8, base + 8 * group);
                    }
                }
            }
            row = len / 64 * 64;
        }
        // The rest (under 64 rows when masked, under 8 otherwise) with masked loads.
        let tail_bits = if mask.is_all() {
            u64::MAX
        } else {
            mask.word(row / 64)
        };
        while row < len {
            let live = if row + 8 <= len {
                0xFF
            } else {
                ((1u32 << (len - row)) - 1) as u8
            };
            let k = live & (tail_bits >> (row % 64)) as u8;
            let p = P::to_f64_512(P::mask_load512(price_zero, k, pp.add(row)));
            let v = V::to_f64_512(V::mask_load512(volume_zero, k, vp.add(row)));
            pv[1] = _mm512_fmadd_pd(p, v, pv[1]);
            vs[1] = _mm512_add_pd(vs[1], v);
            row += 8;
        }
        let pv = _mm512_add_pd(_mm512_add_pd(pv[0], pv[1]), _mm512_add_pd(pv[2], pv[3]));
        let vs = _mm512_add_pd(_mm512_add_pd(vs[0], vs[1]), _mm512_add_pd(vs[2], vs[3]));
        VwapSums {
            price_volume_sum: _mm512_reduce_add_pd(pv),
            volume_sum: _mm512_reduce_add_pd(vs),
        }
    }
}

/// # Safety
/// The CPU must support AVX2 and POPCNT; `price`, `volume` and `mask` cover the same number
/// of rows.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn vwap_avx2<P: Numeric, V: Numeric>(
    price: &[P],
    volume: &[V],
    mask: RowMask<'_>,
) -> VwapSums {
    let len = price.len();
    let (pp, vp) = (price.as_ptr(), volume.as_ptr());
    // SAFETY: as in `vwap_avx512`, with four-row groups.
    unsafe {
        let (price_zero, volume_zero) = (P::splat256(P::ZERO), V::splat256(V::ZERO));
        let mut pv = [_mm256_setzero_pd(); 4];
        let mut vs = [_mm256_setzero_pd(); 4];
        // Four rows at `row..row + 4` (all inside the columns); lanes zero in `m` are zeroed
        // before they reach the sums.
        let mut full = |slot: usize, m: Option<__m256i>, row: usize| {
            let mut p = P::to_f64_256(P::load256(pp.add(row)));
            let mut v = V::to_f64_256(V::load256(vp.add(row)));
            if let Some(m) = m {
                p = _mm256_and_pd(p, _mm256_castsi256_pd(m));
                v = _mm256_and_pd(v, _mm256_castsi256_pd(m));
            }
            pv[slot] = _mm256_add_pd(pv[slot], _mm256_mul_pd(p, v));
            vs[slot] = _mm256_add_pd(vs[slot], v);
        };
        let mut row = 0;
        if mask.is_all() {
            while row + 16 <= len {
                for slot in 0..4 {
                    full(slot, None, row + 4 * slot);
                }
                row += 16;
            }
            while row + 4 <= len {
                full(0, None, row);
                row += 4;
            }
        } else {
            for word_index in 0..len / 64 {
                let bits = mask.word(word_index);
                if bits == 0 {
                    continue;
                }
                let base = word_index * 64;
                for quad in 0..4 {
                    for slot in 0..4 {
                        let group = 4 * quad + slot;
                        let m = nibble_lanes(bits >> (4 * group) & 0xF);
                        full(slot, Some(m), base + 4 * group);
                    }
                }
            }
            row = len / 64 * 64;
        }
        // The rest (under 64 rows when masked, under 4 otherwise) with masked loads.
        let tail_bits = if mask.is_all() {
            u64::MAX
        } else {
            mask.word(row / 64)
        };
        while row < len {
            let live = if row + 4 <= len {
                0xF
            } else {
                (1u64 << (len - row)) - 1
            };
            let m = nibble_lanes(live & tail_bits >> (row % 64));
            let p = P::to_f64_256(P::mask_load256(price_zero, m, pp.add(row)));
            let v = V::to_f64_256(V::mask_load256(volume_zero, m, vp.add(row)));
            pv[1] = _mm256_add_pd(pv[1], _mm256_mul_pd(p, v));
            vs[1] = _mm256_add_pd(vs[1], v);
            row += 4;
        }
        let pv = _mm256_add_pd(_mm256_add_pd(pv[0], pv[1]), _mm256_add_pd(pv[2], pv[3]));
        let vs = _mm256_add_pd(_mm256_add_pd(vs[0], vs[1]), _mm256_add_pd(vs[2], vs[3]));
        let [a, b, c, d] = f64::to_array256(pv);
        let [e, f, g, h] = f64::to_array256(vs);
        VwapSums {
            price_volume_sum: (a + b) + (c + d),
            volume_sum: (e + f) + (g + h),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testutil::*;
    use proptest::prelude::*;

    fn check<P: Numeric, V: Numeric>(
        price: &[P],
        price_validity: Option<&[u8]>,
        volume: &[V],
        volume_validity: Option<&[u8]>,
        selection: Option<&[u8]>,
    ) -> Result<(), TestCaseError> {
        let mask = RowMask::new(price.len(), [price_validity, volume_validity, selection]);
        let kept: Vec<usize> = (0..price.len()).filter(|&row| mask.get(row)).collect();
        let abs_pv: f64 = kept
            .iter()
            .map(|&row| (price[row].to_f64() * volume[row].to_f64()).abs())
            .filter(|x| x.is_finite())
            .sum();
        let abs_v: f64 = kept
            .iter()
            .map(|&row| volume[row].to_f64().abs())
            .filter(|x| x.is_finite())
            .sum();
        let expected = vwap_with(
            SimdLevel::Scalar,
            price,
            price_validity,
            volume,
            volume_validity,
            selection,
        );
        for level in levels() {
            let got = vwap_with(
                level,
                price,
                price_validity,
                volume,
                volume_validity,
                selection,
            );
            check_sum_close(
                got.price_volume_sum,
                expected.price_volume_sum,
                abs_pv,
                kept.len(),
            )?;
            check_sum_close(got.volume_sum, expected.volume_sum, abs_v, kept.len())?;
        }
        Ok(())
    }

    type Case<P, V> = (
        Vec<P>,
        Vec<V>,
        usize,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
    );

    fn case<P: TestValue, V: TestValue>(
        price: fn() -> BoxedStrategy<P>,
        volume: fn() -> BoxedStrategy<V>,
    ) -> impl Strategy<Value = Case<P, V>> {
        len_strategy().prop_flat_map(move |len| {
            (0usize..3).prop_flat_map(move |offset| {
                (
                    proptest::collection::vec(price(), len + offset),
                    proptest::collection::vec(volume(), len + offset),
                    Just(offset),
                    opt_bitmap(len),
                    opt_bitmap(len),
                    opt_bitmap(len),
                )
            })
        })
    }

    /// Volumes as f64 stay within ±1e12 (plus NaN/∞) so Σ price·volume cannot overflow.
    fn moderate_f64() -> BoxedStrategy<f64> {
        prop_oneof![4 => -1e12f64..1e12, 1 => proptest::sample::select(vec![f64::NAN, f64::INFINITY, 0.0, -0.0])].boxed()
    }

    macro_rules! vwap_props {
        ($($name:ident: $p:ty => $pv:expr, $v:ty => $vv:expr;)*) => {
            proptest! {
                $(
                    #[test]
                    fn $name((price, volume, offset, pv, vv, sel) in case::<$p, $v>($pv, $vv)) {
                        check(&price[offset..], pv.as_deref(), &volume[offset..], vv.as_deref(), sel.as_deref())?;
                    }
                )*
            }
        };
    }

    vwap_props! {
        f64_price_i64_volume: f64 => moderate_f64, i64 => i64::any_value;
        f64_price_f64_volume: f64 => moderate_f64, f64 => moderate_f64;
        i64_price_i64_volume: i64 => i64::any_value, i64 => i64::any_value;
        i64_price_f64_volume: i64 => i64::any_value, f64 => moderate_f64;
        f64_price_u64_volume: f64 => moderate_f64, u64 => u64::any_value;
        i64_price_u64_volume: i64 => i64::any_value, u64 => u64::any_value;
        u64_price_i64_volume: u64 => u64::any_value, i64 => i64::any_value;
        u64_price_f64_volume: u64 => u64::any_value, f64 => moderate_f64;
        u64_price_u64_volume: u64 => u64::any_value, u64 => u64::any_value;
    }

    #[test]
    fn tiny_examples() {
        let price = [10.0, 20.0, f64::NAN, 30.0, 40.0];
        let volume = [1i64, 3, 5, 7, 9];
        let price_validity = [0b1_1011u8]; // row 2 (the NaN) is null
        let volume_validity = [0b0_1111u8]; // row 4 is null
        for level in levels() {
            let sums = vwap_with(
                level,
                &price,
                Some(&price_validity),
                &volume,
                Some(&volume_validity),
                None,
            );
            assert_eq!(
                sums,
                VwapSums {
                    price_volume_sum: 10.0 + 60.0 + 210.0,
                    volume_sum: 11.0
                }
            );
            assert_eq!(sums.vwap(), Some(280.0 / 11.0));
            let selected = vwap_with(level, &price, None, &volume, None, Some(&[0b1_0001]));
            assert_eq!(
                selected,
                VwapSums {
                    price_volume_sum: 370.0,
                    volume_sum: 10.0
                }
            );
            let empty = vwap_with::<f64, i64>(level, &[], None, &[], None, None);
            assert_eq!(empty.vwap(), None);
        }
        let merged = VwapSums {
            price_volume_sum: 10.0,
            volume_sum: 1.0,
        }
        .merge(VwapSums {
            price_volume_sum: 30.0,
            volume_sum: 1.0,
        });
        assert_eq!(merged.vwap(), Some(20.0));
        assert_eq!(
            vwap(&[2i64, 4], None, &[1.0, 1.0], None, None).vwap(),
            Some(3.0)
        );
    }
}
