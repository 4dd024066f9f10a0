//! Per-type SIMD lane operations that the generic kernels are written against; sealed: only this crate can implement them.
//!
//! Each column type implements [`Lanes`] (f64, i64, u64) and/or [`CmpLanes`] (also u32) once,
//! and every kernel is a single generic function over those traits: no kernel is written per
//! type. The `unsafe fn`s here carry `#[target_feature]`; they may only be called from code
//! that runs at a level whose features are present, which the kernels' `*_with` entry points
//! check with `SimdLevel::assert_supported`.

use std::fmt::Debug;

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// A numeric column type the aggregate, vwap and OHLCV kernels accept: `f64`, `i64`, `u64`.
pub trait Numeric: Lanes {}
impl Numeric for f64 {}
impl Numeric for i64 {}
impl Numeric for u64 {}

/// A column type the comparison kernels accept: `f64`, `i64`, `u64`, `u32` (symbol ids).
pub trait CmpElem: CmpLanes {}
impl CmpElem for f64 {}
impl CmpElem for i64 {}
impl CmpElem for u64 {}
impl CmpElem for u32 {}

/// Comparison operator codes, used as const generics so each operator gets its own loop.
pub(crate) mod op {
    pub const EQ: u8 = 0;
    pub const NE: u8 = 1;
    pub const LT: u8 = 2;
    pub const LE: u8 = 3;
    pub const GT: u8 = 4;
    pub const GE: u8 = 5;
}

/// `a OP b` one value at a time: the reference semantics (IEEE 754 for floats).
#[inline(always)]
pub(crate) fn compare<T: PartialOrd, const OP: u8>(a: T, b: T) -> bool {
    match OP {
        op::EQ => a == b,
        op::NE => a != b,
        op::LT => a < b,
        op::LE => a <= b,
        op::GT => a > b,
        op::GE => a >= b,
        _ => unreachable!("unknown comparison code {OP}"),
    }
}

/// Scalar and SIMD lane operations of one numeric column type.
pub trait Lanes: Copy + PartialOrd + Debug + Send + Sync + 'static {
    /// Identity of `+`.
    const ZERO: Self;
    /// Identity of `max`: the least value (−∞ for floats).
    const LOWEST: Self;
    /// Identity of `min`: the greatest value (+∞ for floats).
    const HIGHEST: Self;

    /// `+`, wrapping for integers.
    fn add(self, other: Self) -> Self;
    /// The nearest f64 (round to nearest even, as `as f64`).
    fn to_f64(self) -> f64;
    /// Only floats can be NaN.
    fn is_nan(self) -> bool;

    /// A 512-bit vector of eight values.
    #[cfg(target_arch = "x86_64")]
    type V512: Copy;
    /// # Safety
    /// Needs AVX-512 F/DQ.
    #[cfg(target_arch = "x86_64")]
    unsafe fn splat512(x: Self) -> Self::V512;
    /// # Safety
    /// Needs AVX-512 F/DQ; `p` readable for 8 values.
    #[cfg(target_arch = "x86_64")]
    unsafe fn load512(p: *const Self) -> Self::V512;
    /// Lanes whose bit in `k` is clear take `fill` and are not read from memory.
    /// # Safety
    /// Needs AVX-512 F/DQ; `p` readable for the lanes set in `k`.
    #[cfg(target_arch = "x86_64")]
    unsafe fn mask_load512(fill: Self::V512, k: u8, p: *const Self) -> Self::V512;
    /// Lanes of `x` whose bit in `k` is set, `fill` elsewhere. Full row groups load plainly
    /// and select in registers: on some CPUs (AMD Zen 4/5) a masked load costs about twice a
    /// plain one, while reading the slice's own memory is always allowed.
    /// # Safety
    /// Needs AVX-512 F/DQ.
    #[cfg(target_arch = "x86_64")]
    unsafe fn select512(k: u8, fill: Self::V512, x: Self::V512) -> Self::V512;
    /// # Safety
    /// Needs AVX-512 F/DQ.
    #[cfg(target_arch = "x86_64")]
    unsafe fn add512(a: Self::V512, b: Self::V512) -> Self::V512;
    /// Lane-wise min; a NaN in `x` leaves `acc`.
    /// # Safety
    /// Needs AVX-512 F/DQ.
    #[cfg(target_arch = "x86_64")]
    unsafe fn min512(acc: Self::V512, x: Self::V512) -> Self::V512;
    /// Lane-wise max; a NaN in `x` leaves `acc`.
    /// # Safety
    /// Needs AVX-512 F/DQ.
    #[cfg(target_arch = "x86_64")]
    unsafe fn max512(acc: Self::V512, x: Self::V512) -> Self::V512;
    /// # Safety
    /// Needs AVX-512 F/DQ.
    #[cfg(target_arch = "x86_64")]
    unsafe fn reduce_add512(v: Self::V512) -> Self;
    /// # Safety
    /// Needs AVX-512 F/DQ; `v` holds no NaN.
    #[cfg(target_arch = "x86_64")]
    unsafe fn reduce_min512(v: Self::V512) -> Self;
    /// # Safety
    /// Needs AVX-512 F/DQ; `v` holds no NaN.
    #[cfg(target_arch = "x86_64")]
    unsafe fn reduce_max512(v: Self::V512) -> Self;
    /// Lane-wise conversion, rounding like [`Lanes::to_f64`].
    /// # Safety
    /// Needs AVX-512 F/DQ.
    #[cfg(target_arch = "x86_64")]
    unsafe fn to_f64_512(v: Self::V512) -> __m512d;

    /// A 256-bit vector of four values.
    #[cfg(target_arch = "x86_64")]
    type V256: Copy;
    /// # Safety
    /// Needs AVX2.
    #[cfg(target_arch = "x86_64")]
    unsafe fn splat256(x: Self) -> Self::V256;
    /// # Safety
    /// Needs AVX2; `p` readable for 4 values.
    #[cfg(target_arch = "x86_64")]
    unsafe fn load256(p: *const Self) -> Self::V256;
    /// Lanes whose 64-bit lane in `m` is zero take `fill` and are not read from memory.
    /// # Safety
    /// Needs AVX2; `p` readable for the lanes set in `m`.
    #[cfg(target_arch = "x86_64")]
    unsafe fn mask_load256(fill: Self::V256, m: __m256i, p: *const Self) -> Self::V256;
    /// Lanes of `x` where the 64-bit lane of `m` is all-ones, `fill` elsewhere (see
    /// [`Lanes::select512`]; `vpmaskmovq` is slow on AMD).
    /// # Safety
    /// Needs AVX2.
    #[cfg(target_arch = "x86_64")]
    unsafe fn select256(m: __m256i, fill: Self::V256, x: Self::V256) -> Self::V256;
    /// # Safety
    /// Needs AVX2.
    #[cfg(target_arch = "x86_64")]
    unsafe fn add256(a: Self::V256, b: Self::V256) -> Self::V256;
    /// Lane-wise min; a NaN in `x` leaves `acc`.
    /// # Safety
    /// Needs AVX2.
    #[cfg(target_arch = "x86_64")]
    unsafe fn min256(acc: Self::V256, x: Self::V256) -> Self::V256;
    /// Lane-wise max; a NaN in `x` leaves `acc`.
    /// # Safety
    /// Needs AVX2.
    #[cfg(target_arch = "x86_64")]
    unsafe fn max256(acc: Self::V256, x: Self::V256) -> Self::V256;
    /// # Safety
    /// Needs AVX2.
    #[cfg(target_arch = "x86_64")]
    unsafe fn to_array256(v: Self::V256) -> [Self; 4];
    /// Lane-wise conversion, rounding like [`Lanes::to_f64`].
    /// # Safety
    /// Needs AVX2.
    #[cfg(target_arch = "x86_64")]
    unsafe fn to_f64_256(v: Self::V256) -> __m256d;
}

/// An associative, commutative reduction over one element type: the scalar step and its
/// vector forms. Implemented by the zero-sized [`Sum`], [`Min`] and [`Max`].
pub trait Fold {
    type Elem: Lanes;
    const IDENTITY: Self::Elem;
    fn combine(acc: Self::Elem, x: Self::Elem) -> Self::Elem;
    /// # Safety
    /// Needs AVX-512 F/DQ.
    #[cfg(target_arch = "x86_64")]
    unsafe fn combine512(
        acc: <Self::Elem as Lanes>::V512,
        x: <Self::Elem as Lanes>::V512,
    ) -> <Self::Elem as Lanes>::V512;
    /// # Safety
    /// Needs AVX-512 F/DQ; lanes hold no NaN unless this is a sum.
    #[cfg(target_arch = "x86_64")]
    unsafe fn reduce512(acc: <Self::Elem as Lanes>::V512) -> Self::Elem;
    /// # Safety
    /// Needs AVX2.
    #[cfg(target_arch = "x86_64")]
    unsafe fn combine256(
        acc: <Self::Elem as Lanes>::V256,
        x: <Self::Elem as Lanes>::V256,
    ) -> <Self::Elem as Lanes>::V256;
}

/// `+` (wrapping for integers).
pub struct Sum<T>(std::marker::PhantomData<T>);
/// `min`, ignoring NaN.
pub struct Min<T>(std::marker::PhantomData<T>);
/// `max`, ignoring NaN.
pub struct Max<T>(std::marker::PhantomData<T>);

impl<T: Lanes> Fold for Sum<T> {
    type Elem = T;
    const IDENTITY: T = T::ZERO;
    #[inline(always)]
    fn combine(acc: T, x: T) -> T {
        acc.add(x)
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn combine512(acc: T::V512, x: T::V512) -> T::V512 {
        // SAFETY: same features as this function.
        unsafe { T::add512(acc, x) }
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn reduce512(acc: T::V512) -> T {
        // SAFETY: same features as this function.
        unsafe { T::reduce_add512(acc) }
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn combine256(acc: T::V256, x: T::V256) -> T::V256 {
        // SAFETY: same features as this function.
        unsafe { T::add256(acc, x) }
    }
}

impl<T: Lanes> Fold for Min<T> {
    type Elem = T;
    const IDENTITY: T = T::HIGHEST;
    #[inline(always)]
    fn combine(acc: T, x: T) -> T {
        // A NaN `x` compares false and is skipped.
        if x < acc {
            x
        } else {
            acc
        }
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn combine512(acc: T::V512, x: T::V512) -> T::V512 {
        // SAFETY: same features as this function.
        unsafe { T::min512(acc, x) }
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn reduce512(acc: T::V512) -> T {
        // SAFETY: same features as this function.
        unsafe { T::reduce_min512(acc) }
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn combine256(acc: T::V256, x: T::V256) -> T::V256 {
        // SAFETY: same features as this function.
        unsafe { T::min256(acc, x) }
    }
}

impl<T: Lanes> Fold for Max<T> {
    type Elem = T;
    const IDENTITY: T = T::LOWEST;
    #[inline(always)]
    fn combine(acc: T, x: T) -> T {
        if x > acc {
            x
        } else {
            acc
        }
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn combine512(acc: T::V512, x: T::V512) -> T::V512 {
        // SAFETY: same features as this function.
        unsafe { T::max512(acc, x) }
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn reduce512(acc: T::V512) -> T {
        // SAFETY: same features as this function.
        unsafe { T::reduce_max512(acc) }
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn combine256(acc: T::V256, x: T::V256) -> T::V256 {
        // SAFETY: same features as this function.
        unsafe { T::max256(acc, x) }
    }
}

/// Expands the low four bits of `nibble` to four 64-bit lanes of all-ones / all-zeros.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn nibble_lanes(nibble: u64) -> __m256i {
    let bits = _mm256_setr_epi64x(1, 2, 4, 8);
    _mm256_cmpeq_epi64(
        _mm256_and_si256(_mm256_set1_epi64x(nibble as i64), bits),
        bits,
    )
}

/// i64 → f64 for all inputs, correctly rounded, without AVX-512DQ: the exact high part
/// `(x >> 48) · 2^48 − 2^52` is built in the mantissa of `3 · 2^67`, the low 48 bits in the
/// mantissa of `2^52`, and one final add rounds once.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
fn i64_to_f64_avx2(x: __m256i) -> __m256d {
    let high = _mm256_srai_epi32::<16>(x);
    let high = _mm256_blend_epi16::<0x33>(high, _mm256_setzero_si256());
    let high = _mm256_add_epi64(
        high,
        _mm256_castpd_si256(_mm256_set1_pd(442721857769029238784.0)),
    );
    let low =
        _mm256_blend_epi16::<0x88>(x, _mm256_castpd_si256(_mm256_set1_pd(4503599627370496.0)));
    let high = _mm256_sub_pd(
        _mm256_castsi256_pd(high),
        _mm256_set1_pd(442726361368656609280.0),
    );
    _mm256_add_pd(high, _mm256_castsi256_pd(low))
}

/// u64 → f64 for all inputs, correctly rounded: high 32 bits in the mantissa of `2^84`, low
/// 32 bits in the mantissa of `2^52`, one rounding add.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
fn u64_to_f64_avx2(x: __m256i) -> __m256d {
    let high = _mm256_srli_epi64::<32>(x);
    let high = _mm256_or_si256(
        high,
        _mm256_castpd_si256(_mm256_set1_pd(19342813113834066795298816.0)),
    );
    let low =
        _mm256_blend_epi32::<0xAA>(x, _mm256_castpd_si256(_mm256_set1_pd(4503599627370496.0)));
    let high = _mm256_sub_pd(
        _mm256_castsi256_pd(high),
        _mm256_set1_pd(19342813118337666422669312.0),
    );
    _mm256_add_pd(high, _mm256_castsi256_pd(low))
}

#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
fn i64x4_to_array<T: Copy>(v: __m256i) -> [T; 4] {
    const { assert!(size_of::<T>() == 8) };
    // SAFETY: __m256i is 32 plain bytes and T is a plain 8-byte integer (asserted above).
    unsafe { std::mem::transmute_copy(&v) }
}

impl Lanes for f64 {
    const ZERO: f64 = 0.0;
    const LOWEST: f64 = f64::NEG_INFINITY;
    const HIGHEST: f64 = f64::INFINITY;

    #[inline(always)]
    fn add(self, other: f64) -> f64 {
        self + other
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }

    #[cfg(target_arch = "x86_64")]
    type V512 = __m512d;
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn splat512(x: f64) -> __m512d {
        _mm512_set1_pd(x)
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn load512(p: *const f64) -> __m512d {
        // SAFETY: the caller guarantees 8 readable values at `p`.
        unsafe { _mm512_loadu_pd(p) }
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn mask_load512(fill: __m512d, k: u8, p: *const f64) -> __m512d {
        // SAFETY: masked-off lanes are not accessed; the caller guarantees the others.
        unsafe { _mm512_mask_loadu_pd(fill, k, p) }
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn select512(k: u8, fill: __m512d, x: __m512d) -> __m512d {
        _mm512_mask_blend_pd(k, fill, x)
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn add512(a: __m512d, b: __m512d) -> __m512d {
        _mm512_add_pd(a, b)
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn min512(acc: __m512d, x: __m512d) -> __m512d {
        // vminpd returns its second operand when either is NaN, so NaN in `x` keeps `acc`.
        _mm512_min_pd(x, acc)
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn max512(acc: __m512d, x: __m512d) -> __m512d {
        _mm512_max_pd(x, acc)
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn reduce_add512(v: __m512d) -> f64 {
        _mm512_reduce_add_pd(v)
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn reduce_min512(v: __m512d) -> f64 {
        _mm512_reduce_min_pd(v)
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn reduce_max512(v: __m512d) -> f64 {
        _mm512_reduce_max_pd(v)
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn to_f64_512(v: __m512d) -> __m512d {
        v
    }

    #[cfg(target_arch = "x86_64")]
    type V256 = __m256d;
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn splat256(x: f64) -> __m256d {
        _mm256_set1_pd(x)
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn load256(p: *const f64) -> __m256d {
        // SAFETY: the caller guarantees 4 readable values at `p`.
        unsafe { _mm256_loadu_pd(p) }
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn mask_load256(fill: __m256d, m: __m256i, p: *const f64) -> __m256d {
        // SAFETY: vmaskmovpd does not access masked-off lanes; the caller guarantees the rest.
        let loaded = unsafe { _mm256_maskload_pd(p, m) };
        _mm256_blendv_pd(fill, loaded, _mm256_castsi256_pd(m))
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn select256(m: __m256i, fill: __m256d, x: __m256d) -> __m256d {
        _mm256_blendv_pd(fill, x, _mm256_castsi256_pd(m))
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn add256(a: __m256d, b: __m256d) -> __m256d {
        _mm256_add_pd(a, b)
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn min256(acc: __m256d, x: __m256d) -> __m256d {
        _mm256_min_pd(x, acc)
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn max256(acc: __m256d, x: __m256d) -> __m256d {
        _mm256_max_pd(x, acc)
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn to_array256(v: __m256d) -> [f64; 4] {
        // SAFETY: __m256d is four f64.
        unsafe { std::mem::transmute::<__m256d, [f64; 4]>(v) }
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn to_f64_256(v: __m256d) -> __m256d {
        v
    }
}

/// `Lanes` for a 64-bit integer type; the two differ only in signedness of min/max/convert.
macro_rules! int_lanes {
    ($t:ty, min512: $min512:ident, max512: $max512:ident, reduce_min512: $rmin512:ident,
     reduce_max512: $rmax512:ident, cvt512: $cvt512:ident, sign_flip: $flip:expr, cvt256: $cvt256:ident) => {
        impl Lanes for $t {
            const ZERO: $t = 0;
            const LOWEST: $t = <$t>::MIN;
            const HIGHEST: $t = <$t>::MAX;

            #[inline(always)]
            fn add(self, other: $t) -> $t {
                self.wrapping_add(other)
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                false
            }

            #[cfg(target_arch = "x86_64")]
            type V512 = __m512i;
            #[cfg(target_arch = "x86_64")]
            #[inline]
            #[target_feature(enable = "avx512f,avx512dq")]
            unsafe fn splat512(x: $t) -> __m512i {
                _mm512_set1_epi64(x as i64)
            }
            #[cfg(target_arch = "x86_64")]
            #[inline]
            #[target_feature(enable = "avx512f,avx512dq")]
            unsafe fn load512(p: *const $t) -> __m512i {
                // SAFETY: the caller guarantees 8 readable values at `p`.
                unsafe { _mm512_loadu_si512(p.cast()) }
            }
            #[cfg(target_arch = "x86_64")]
            #[inline]
            #[target_feature(enable = "avx512f,avx512dq")]
            unsafe fn mask_load512(fill: __m512i, k: u8, p: *const $t) -> __m512i {
                // SAFETY: masked-off lanes are not accessed; the caller guarantees the others.
                unsafe { _mm512_mask_loadu_epi64(fill, k, p.cast()) }
            }
            #[cfg(target_arch = "x86_64")]
            #[inline]
            #[target_feature(enable = "avx512f,avx512dq")]
            unsafe fn select512(k: u8, fill: __m512i, x: __m512i) -> __m512i {
                _mm512_mask_blend_epi64(k, fill, x)
            }
            #[cfg(target_arch = "x86_64")]
            #[inline]
            #[target_feature(enable = "avx512f,avx512dq")]
            unsafe fn add512(a: __m512i, b: __m512i) -> __m512i {
                _mm512_add_epi64(a, b)
            }
            #[cfg(target_arch = "x86_64")]
            #[inline]
            #[target_feature(enable = "avx512f,avx512dq")]
            unsafe fn min512(acc: __m512i, x: __m512i) -> __m512i {
                $min512(acc, x)
            }
            #[cfg(target_arch = "x86_64")]
            #[inline]
            #[target_feature(enable = "avx512f,avx512dq")]
            unsafe fn max512(acc: __m512i, x: __m512i) -> __m512i {
                $max512(acc, x)
            }
            #[cfg(target_arch = "x86_64")]
            #[inline]
            #[target_feature(enable = "avx512f,avx512dq")]
            unsafe fn reduce_add512(v: __m512i) -> $t {
                _mm512_reduce_add_epi64(v) as $t
            }
            #[cfg(target_arch = "x86_64")]
            #[inline]
            #[target_feature(enable = "avx512f,avx512dq")]
            unsafe fn reduce_min512(v: __m512i) -> $t {
                $rmin512(v) as $t
            }
            #[cfg(target_arch = "x86_64")]
            #[inline]
            #[target_feature(enable = "avx512f,avx512dq")]
            unsafe fn reduce_max512(v: __m512i) -> $t {
                $rmax512(v) as $t
            }
            #[cfg(target_arch = "x86_64")]
            #[inline]
            #[target_feature(enable = "avx512f,avx512dq")]
            unsafe fn to_f64_512(v: __m512i) -> __m512d {
                $cvt512(v)
            }

            #[cfg(target_arch = "x86_64")]
            type V256 = __m256i;
            #[cfg(target_arch = "x86_64")]
            #[inline]
            #[target_feature(enable = "avx2")]
            unsafe fn splat256(x: $t) -> __m256i {
                _mm256_set1_epi64x(x as i64)
            }
            #[cfg(target_arch = "x86_64")]
            #[inline]
            #[target_feature(enable = "avx2")]
            unsafe fn load256(p: *const $t) -> __m256i {
                // SAFETY: the caller guarantees 4 readable values at `p`.
                unsafe { _mm256_loadu_si256(p.cast()) }
            }
            #[cfg(target_arch = "x86_64")]
            #[inline]
            #[target_feature(enable = "avx2")]
            unsafe fn mask_load256(fill: __m256i, m: __m256i, p: *const $t) -> __m256i {
                // SAFETY: vpmaskmovq does not access masked-off lanes; the caller guarantees the rest.
                let loaded = unsafe { _mm256_maskload_epi64(p.cast(), m) };
                _mm256_blendv_epi8(fill, loaded, m)
            }
            #[cfg(target_arch = "x86_64")]
            #[inline]
            #[target_feature(enable = "avx2")]
            unsafe fn select256(m: __m256i, fill: __m256i, x: __m256i) -> __m256i {
                _mm256_blendv_epi8(fill, x, m)
            }
            #[cfg(target_arch = "x86_64")]
            #[inline]
            #[target_feature(enable = "avx2")]
            unsafe fn add256(a: __m256i, b: __m256i) -> __m256i {
                _mm256_add_epi64(a, b)
            }
            #[cfg(target_arch = "x86_64")]
            #[inline]
            #[target_feature(enable = "avx2")]
            unsafe fn min256(acc: __m256i, x: __m256i) -> __m256i {
                // AVX2 has only a signed 64-bit compare; flipping the sign bit orders unsigned
                // values the same way.
                let flip = _mm256_set1_epi64x($flip);
                let acc_greater =
                    _mm256_cmpgt_epi64(_mm256_xor_si256(acc, flip), _mm256_xor_si256(x, flip));
                _mm256_blendv_epi8(acc, x, acc_greater)
            }
            #[cfg(target_arch = "x86_64")]
            #[inline]
            #[target_feature(enable = "avx2")]
            unsafe fn max256(acc: __m256i, x: __m256i) -> __m256i {
                let flip = _mm256_set1_epi64x($flip);
                let x_greater =
                    _mm256_cmpgt_epi64(_mm256_xor_si256(x, flip), _mm256_xor_si256(acc, flip));
                _mm256_blendv_epi8(acc, x, x_greater)
            }
            #[cfg(target_arch = "x86_64")]
            #[inline]
            #[target_feature(enable = "avx2")]
            unsafe fn to_array256(v: __m256i) -> [$t; 4] {
                i64x4_to_array(v)
            }
            #[cfg(target_arch = "x86_64")]
            #[inline]
            #[target_feature(enable = "avx2")]
            unsafe fn to_f64_256(v: __m256i) -> __m256d {
                $cvt256(v)
            }
        }
    };
}

int_lanes!(i64, min512: _mm512_min_epi64, max512: _mm512_max_epi64,
    reduce_min512: _mm512_reduce_min_epi64, reduce_max512: _mm512_reduce_max_epi64,
    cvt512: _mm512_cvtepi64_pd, sign_flip: 0, cvt256: i64_to_f64_avx2);
int_lanes!(u64, min512: _mm512_min_epu64, max512: _mm512_max_epu64,
    reduce_min512: _mm512_reduce_min_epu64, reduce_max512: _mm512_reduce_max_epu64,
    cvt512: _mm512_cvtepu64_pd, sign_flip: i64::MIN, cvt256: u64_to_f64_avx2);

/// Comparison of 64 consecutive values against one scalar, per level.
pub trait CmpLanes: Copy + PartialOrd + Debug + Send + Sync + 'static {
    /// Bit `i` of the result is `p[i] OP rhs`, for `i` in `0..64`.
    /// # Safety
    /// Needs AVX-512 F/DQ; `p` readable for 64 values.
    #[cfg(target_arch = "x86_64")]
    unsafe fn cmp64_avx512<const OP: u8>(p: *const Self, rhs: Self) -> u64;
    /// As [`CmpLanes::cmp64_avx512`].
    /// # Safety
    /// Needs AVX2; `p` readable for 64 values.
    #[cfg(target_arch = "x86_64")]
    unsafe fn cmp64_avx2<const OP: u8>(p: *const Self, rhs: Self) -> u64;
}

/// Applies `OP` via AVX2's two integer predicates (`==`, signed `>`): the others are operand
/// swaps and negations. `flip` is XORed into both sides first (the sign bit, for unsigned).
macro_rules! avx2_int_cmp {
    ($op:expr, $v:expr, $rhs:expr, $eq:ident, $gt:ident) => {{
        let (v, rhs) = ($v, $rhs);
        match $op {
            op::EQ => $eq(v, rhs),
            op::NE => _mm256_xor_si256($eq(v, rhs), _mm256_set1_epi64x(-1)),
            op::LT => $gt(rhs, v),
            op::LE => _mm256_xor_si256($gt(v, rhs), _mm256_set1_epi64x(-1)),
            op::GT => $gt(v, rhs),
            op::GE => _mm256_xor_si256($gt(rhs, v), _mm256_set1_epi64x(-1)),
            _ => unreachable!(),
        }
    }};
}

macro_rules! cmp_lanes_int64 {
    ($t:ty, $eq:ident, $ne:ident, $lt:ident, $le:ident, $gt:ident, $ge:ident, $flip:expr) => {
        impl CmpLanes for $t {
            #[cfg(target_arch = "x86_64")]
            #[inline]
            #[target_feature(enable = "avx512f,avx512dq")]
            unsafe fn cmp64_avx512<const OP: u8>(p: *const $t, rhs: $t) -> u64 {
                let rhs = _mm512_set1_epi64(rhs as i64);
                let mut word = 0u64;
                for group in 0..8 {
                    // SAFETY: the caller guarantees 64 readable values at `p`.
                    let v = unsafe { _mm512_loadu_si512(p.add(8 * group).cast()) };
                    let k = match OP {
                        op::EQ => $eq(v, rhs),
                        op::NE => $ne(v, rhs),
                        op::LT => $lt(v, rhs),
                        op::LE => $le(v, rhs),
                        op::GT => $gt(v, rhs),
                        op::GE => $ge(v, rhs),
                        _ => unreachable!(),
                    };
                    word |= u64::from(k) << (8 * group);
                }
                word
            }
            #[cfg(target_arch = "x86_64")]
            #[inline]
            #[target_feature(enable = "avx2")]
            unsafe fn cmp64_avx2<const OP: u8>(p: *const $t, rhs: $t) -> u64 {
                let flip = _mm256_set1_epi64x($flip);
                let rhs = _mm256_xor_si256(_mm256_set1_epi64x(rhs as i64), flip);
                let mut word = 0u64;
                for group in 0..16 {
                    // SAFETY: the caller guarantees 64 readable values at `p`.
                    let v = unsafe { _mm256_loadu_si256(p.add(4 * group).cast()) };
                    let v = _mm256_xor_si256(v, flip);
                    let m = avx2_int_cmp!(OP, v, rhs, _mm256_cmpeq_epi64, _mm256_cmpgt_epi64);
                    let bits = _mm256_movemask_pd(_mm256_castsi256_pd(m)) as u64;
                    word |= bits << (4 * group);
                }
                word
            }
        }
    };
}

cmp_lanes_int64!(
    i64,
    _mm512_cmpeq_epi64_mask,
    _mm512_cmpneq_epi64_mask,
    _mm512_cmplt_epi64_mask,
    _mm512_cmple_epi64_mask,
    _mm512_cmpgt_epi64_mask,
    _mm512_cmpge_epi64_mask,
    0
);
cmp_lanes_int64!(
    u64,
    _mm512_cmpeq_epu64_mask,
    _mm512_cmpneq_epu64_mask,
    _mm512_cmplt_epu64_mask,
    _mm512_cmple_epu64_mask,
    _mm512_cmpgt_epu64_mask,
    _mm512_cmpge_epu64_mask,
    i64::MIN
);

impl CmpLanes for u32 {
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn cmp64_avx512<const OP: u8>(p: *const u32, rhs: u32) -> u64 {
        let rhs = _mm512_set1_epi32(rhs as i32);
        let mut word = 0u64;
        for group in 0..4 {
            // SAFETY: the caller guarantees 64 readable values at `p`.
            let v = unsafe { _mm512_loadu_si512(p.add(16 * group).cast()) };
            let k = match OP {
                op::EQ => _mm512_cmpeq_epu32_mask(v, rhs),
                op::NE => _mm512_cmpneq_epu32_mask(v, rhs),
                op::LT => _mm512_cmplt_epu32_mask(v, rhs),
                op::LE => _mm512_cmple_epu32_mask(v, rhs),
                op::GT => _mm512_cmpgt_epu32_mask(v, rhs),
                op::GE => _mm512_cmpge_epu32_mask(v, rhs),
                _ => unreachable!(),
            };
            word |= u64::from(k) << (16 * group);
        }
        word
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn cmp64_avx2<const OP: u8>(p: *const u32, rhs: u32) -> u64 {
        let flip = _mm256_set1_epi32(i32::MIN);
        let rhs = _mm256_xor_si256(_mm256_set1_epi32(rhs as i32), flip);
        let mut word = 0u64;
        for group in 0..8 {
            // SAFETY: the caller guarantees 64 readable values at `p`.
            let v = unsafe { _mm256_loadu_si256(p.add(8 * group).cast()) };
            let v = _mm256_xor_si256(v, flip);
            let m = avx2_int_cmp!(OP, v, rhs, _mm256_cmpeq_epi32, _mm256_cmpgt_epi32);
            let bits = _mm256_movemask_ps(_mm256_castsi256_ps(m)) as u8;
            word |= u64::from(bits) << (8 * group);
        }
        word
    }
}

impl CmpLanes for f64 {
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn cmp64_avx512<const OP: u8>(p: *const f64, rhs: f64) -> u64 {
        let rhs = _mm512_set1_pd(rhs);
        let mut word = 0u64;
        for group in 0..8 {
            // SAFETY: the caller guarantees 64 readable values at `p`.
            let v = unsafe { _mm512_loadu_pd(p.add(8 * group)) };
            // Ordered predicates are false on NaN; NEQ_UQ is true on NaN, like Rust's `!=`.
            let k = match OP {
                op::EQ => _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(v, rhs),
                op::NE => _mm512_cmp_pd_mask::<_CMP_NEQ_UQ>(v, rhs),
                op::LT => _mm512_cmp_pd_mask::<_CMP_LT_OQ>(v, rhs),
                op::LE => _mm512_cmp_pd_mask::<_CMP_LE_OQ>(v, rhs),
                op::GT => _mm512_cmp_pd_mask::<_CMP_GT_OQ>(v, rhs),
                op::GE => _mm512_cmp_pd_mask::<_CMP_GE_OQ>(v, rhs),
                _ => unreachable!(),
            };
            word |= u64::from(k) << (8 * group);
        }
        word
    }
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn cmp64_avx2<const OP: u8>(p: *const f64, rhs: f64) -> u64 {
        let rhs = _mm256_set1_pd(rhs);
        let mut word = 0u64;
        for group in 0..16 {
            // SAFETY: the caller guarantees 64 readable values at `p`.
            let v = unsafe { _mm256_loadu_pd(p.add(4 * group)) };
            let m = match OP {
                op::EQ => _mm256_cmp_pd::<_CMP_EQ_OQ>(v, rhs),
                op::NE => _mm256_cmp_pd::<_CMP_NEQ_UQ>(v, rhs),
                op::LT => _mm256_cmp_pd::<_CMP_LT_OQ>(v, rhs),
                op::LE => _mm256_cmp_pd::<_CMP_LE_OQ>(v, rhs),
                op::GT => _mm256_cmp_pd::<_CMP_GT_OQ>(v, rhs),
                op::GE => _mm256_cmp_pd::<_CMP_GE_OQ>(v, rhs),
                _ => unreachable!(),
            };
            word |= (_mm256_movemask_pd(m) as u64) << (4 * group);
        }
        word
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::kernels::SimdLevel;
    use proptest::prelude::*;

    fn convert_avx2<T: Lanes>(values: [T; 4]) -> [f64; 4] {
        assert!(SimdLevel::Avx2.is_supported());
        // SAFETY: AVX2 checked above; `values` holds 4 readable values.
        unsafe {
            let v = T::load256(values.as_ptr());
            std::mem::transmute::<__m256d, [f64; 4]>(T::to_f64_256(v))
        }
    }

    fn check_conversion<T: Lanes>(values: [T; 4]) -> Result<(), TestCaseError> {
        if !SimdLevel::Avx2.is_supported() {
            return Ok(());
        }
        let converted = convert_avx2(values);
        for (value, got) in values.iter().zip(converted) {
            prop_assert_eq!(got.to_bits(), value.to_f64().to_bits(), "{:?}", value);
        }
        Ok(())
    }

    fn int_edge<T: Copy + std::fmt::Debug + 'static>(
        any: impl Strategy<Value = T> + 'static,
        edges: Vec<T>,
    ) -> impl Strategy<Value = T> {
        prop_oneof![any, proptest::sample::select(edges)]
    }

    proptest! {
        #[test]
        fn avx2_i64_to_f64_rounds_like_as(values in proptest::array::uniform4(int_edge(any::<i64>(),
                vec![i64::MIN, i64::MAX, 0, -1, 1, (1 << 53) + 1, -(1 << 53) - 1, (1 << 62) + 513]))) {
            check_conversion(values)?;
        }

        #[test]
        fn avx2_u64_to_f64_rounds_like_as(values in proptest::array::uniform4(int_edge(any::<u64>(),
                vec![u64::MAX, 0, 1, (1 << 53) + 1, (1 << 63) + 1025, u64::MAX - 1024]))) {
            check_conversion(values)?;
        }
    }
}
