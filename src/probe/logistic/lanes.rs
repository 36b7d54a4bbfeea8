//! Four `f64` lanes, the vector type the logistic pass (module `kernel`) is written in, in two
//! builds: [`Avx`] (one 256-bit AVX register, fused multiply-add; only inside a function compiled
//! with `avx2,fma`, on a CPU that has them) and [`Portable`] (a plain array, separate multiply and
//! add, any CPU). The pass is written once, generic over [`Lanes`]; the two builds differ only in
//! the rounding of `madd` (one rounding, or two), which the unit tests compare.
//!
//! Also here: [`exp_nonpositive`], the pass's vectorised `e^x`.

/// Rows per vector.
pub const LANES: usize = 4;

/// Four `f64` values, one per row of a panel, as stored in memory.
pub type F4 = [f64; LANES];

/// Four `f64` lanes and the lane-wise operations the pass needs. Every method is a plain lane
/// operation with IEEE semantics except where its doc says otherwise.
///
/// # Safety
/// An implementation may require CPU features ([`Avx`]): its methods may only run where
/// [`Lanes::available`] is true.
pub unsafe trait Lanes: Copy {
    /// A lane-wise condition, the result of a comparison.
    type Mask: Copy;

    /// Whether this CPU runs this build.
    fn available() -> bool;
    /// `[v; 4]`.
    fn splat(v: f64) -> Self;
    /// The four values of `v`.
    fn load(v: &F4) -> Self;
    /// The four values of `v`, widened (exactly).
    fn load_f32(v: &[f32; LANES]) -> Self;
    /// The lanes as an array.
    fn to_array(self) -> F4;
    /// `a + b`.
    fn add(self, b: Self) -> Self;
    /// `a − b`.
    fn sub(self, b: Self) -> Self;
    /// `a · b`.
    fn mul(self, b: Self) -> Self;
    /// `a / b`.
    fn div(self, b: Self) -> Self;
    /// `a·b + c`: one rounding ([`Avx`]) or two ([`Portable`]).
    fn madd(self, b: Self, c: Self) -> Self;
    /// `if b > a { b } else { a }`: a NaN in `a` stays, one in `b` is passed over.
    fn max_keep(self, b: Self) -> Self;
    /// `a == b`.
    fn eq(self, b: Self) -> Self::Mask;
    /// `a ≥ b`.
    fn ge(self, b: Self) -> Self::Mask;
    /// `a < b`.
    fn lt(self, b: Self) -> Self::Mask;
    /// `if m { a } else { b }`.
    fn select(m: Self::Mask, a: Self, b: Self) -> Self;
    /// `2^n` for `t = n + 1.5·2⁵²` holding an integer `n ∈ [−1022, 1023]` in its low mantissa
    /// bits (the rounding trick of [`exp_nonpositive`]).
    fn pow2_of_shifted(t: Self) -> Self;
}

/// The portable build: an array, separate multiply and add.
#[derive(Clone, Copy, Debug)]
pub struct Portable(F4);

#[inline(always)]
fn map1(a: F4, f: impl Fn(f64) -> f64) -> F4 {
    [f(a[0]), f(a[1]), f(a[2]), f(a[3])]
}

#[inline(always)]
fn map2(a: F4, b: F4, f: impl Fn(f64, f64) -> f64) -> F4 {
    [f(a[0], b[0]), f(a[1], b[1]), f(a[2], b[2]), f(a[3], b[3])]
}

/// `2^n` from `t = n + 1.5·2⁵²` (see [`Lanes::pow2_of_shifted`]).
#[inline(always)]
fn pow2_of_shifted_scalar(t: f64) -> f64 {
    let n = t.to_bits().wrapping_sub(SHIFT.to_bits()) as i64;
    f64::from_bits(((n + 1023) as u64) << 52)
}

// SAFETY: plain Rust on arrays, no CPU feature needed.
unsafe impl Lanes for Portable {
    type Mask = [bool; LANES];

    fn available() -> bool {
        true
    }
    #[inline(always)]
    fn splat(v: f64) -> Self {
        Portable([v; LANES])
    }
    #[inline(always)]
    fn load(v: &F4) -> Self {
        Portable(*v)
    }
    #[inline(always)]
    fn load_f32(v: &[f32; LANES]) -> Self {
        Portable(map1([v[0], v[1], v[2], v[3]].map(f64::from), |x| x))
    }
    #[inline(always)]
    fn to_array(self) -> F4 {
        self.0
    }
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        Portable(map2(self.0, b.0, |a, b| a + b))
    }
    #[inline(always)]
    fn sub(self, b: Self) -> Self {
        Portable(map2(self.0, b.0, |a, b| a - b))
    }
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        Portable(map2(self.0, b.0, |a, b| a * b))
    }
    #[inline(always)]
    fn div(self, b: Self) -> Self {
        Portable(map2(self.0, b.0, |a, b| a / b))
    }
    #[inline(always)]
    fn madd(self, b: Self, c: Self) -> Self {
        let ab = map2(self.0, b.0, |a, b| a * b);
        Portable(map2(ab, c.0, |a, b| a + b))
    }
    #[inline(always)]
    fn max_keep(self, b: Self) -> Self {
        Portable(map2(self.0, b.0, |a, b| if b > a { b } else { a }))
    }
    #[inline(always)]
    fn eq(self, b: Self) -> [bool; LANES] {
        let (a, b) = (self.0, b.0);
        [a[0] == b[0], a[1] == b[1], a[2] == b[2], a[3] == b[3]]
    }
    #[inline(always)]
    fn ge(self, b: Self) -> [bool; LANES] {
        let (a, b) = (self.0, b.0);
        [a[0] >= b[0], a[1] >= b[1], a[2] >= b[2], a[3] >= b[3]]
    }
    #[inline(always)]
    fn lt(self, b: Self) -> [bool; LANES] {
        let (a, b) = (self.0, b.0);
        [a[0] < b[0], a[1] < b[1], a[2] < b[2], a[3] < b[3]]
    }
    #[inline(always)]
    fn select(m: [bool; LANES], a: Self, b: Self) -> Self {
        let pick = |l: usize| if m[l] { a.0[l] } else { b.0[l] };
        Portable([pick(0), pick(1), pick(2), pick(3)])
    }
    #[inline(always)]
    fn pow2_of_shifted(t: Self) -> Self {
        Portable(map1(t.0, pow2_of_shifted_scalar))
    }
}

/// The AVX2 + FMA build: one `__m256d`.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug)]
pub struct Avx(std::arch::x86_64::__m256d);

// SAFETY: every method uses AVX, AVX2 or FMA instructions, and `available` checks the CPU has
// them; callers run the methods only inside functions compiled with `avx2,fma`
// (`#[target_feature]`), where the intrinsics inline.
#[cfg(target_arch = "x86_64")]
unsafe impl Lanes for Avx {
    type Mask = std::arch::x86_64::__m256d;

    fn available() -> bool {
        crate::cpu_features::avx2_fma()
    }
    #[inline(always)]
    fn splat(v: f64) -> Self {
        // SAFETY (every method below): the CPU has AVX2 and FMA (trait contract).
        unsafe { Avx(std::arch::x86_64::_mm256_set1_pd(v)) }
    }
    #[inline(always)]
    fn load(v: &F4) -> Self {
        // The pointer is to 4 f64 (unaligned load).
        unsafe { Avx(std::arch::x86_64::_mm256_loadu_pd(v.as_ptr())) }
    }
    #[inline(always)]
    fn load_f32(v: &[f32; LANES]) -> Self {
        use std::arch::x86_64::*;
        // The pointer is to 4 f32 (unaligned load).
        unsafe { Avx(_mm256_cvtps_pd(_mm_loadu_ps(v.as_ptr()))) }
    }
    #[inline(always)]
    fn to_array(self) -> F4 {
        let mut out = [0.0; LANES];
        // The pointer is to 4 f64 (unaligned store).
        unsafe { std::arch::x86_64::_mm256_storeu_pd(out.as_mut_ptr(), self.0) };
        out
    }
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        unsafe { Avx(std::arch::x86_64::_mm256_add_pd(self.0, b.0)) }
    }
    #[inline(always)]
    fn sub(self, b: Self) -> Self {
        unsafe { Avx(std::arch::x86_64::_mm256_sub_pd(self.0, b.0)) }
    }
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        unsafe { Avx(std::arch::x86_64::_mm256_mul_pd(self.0, b.0)) }
    }
    #[inline(always)]
    fn div(self, b: Self) -> Self {
        unsafe { Avx(std::arch::x86_64::_mm256_div_pd(self.0, b.0)) }
    }
    #[inline(always)]
    fn madd(self, b: Self, c: Self) -> Self {
        unsafe { Avx(std::arch::x86_64::_mm256_fmadd_pd(self.0, b.0, c.0)) }
    }
    #[inline(always)]
    fn max_keep(self, b: Self) -> Self {
        // maxpd(x, y) is `x > y ? x : y`.
        unsafe { Avx(std::arch::x86_64::_mm256_max_pd(b.0, self.0)) }
    }
    #[inline(always)]
    fn eq(self, b: Self) -> Self::Mask {
        use std::arch::x86_64::*;
        unsafe { _mm256_cmp_pd::<_CMP_EQ_OQ>(self.0, b.0) }
    }
    #[inline(always)]
    fn ge(self, b: Self) -> Self::Mask {
        use std::arch::x86_64::*;
        unsafe { _mm256_cmp_pd::<_CMP_GE_OQ>(self.0, b.0) }
    }
    #[inline(always)]
    fn lt(self, b: Self) -> Self::Mask {
        use std::arch::x86_64::*;
        unsafe { _mm256_cmp_pd::<_CMP_LT_OQ>(self.0, b.0) }
    }
    #[inline(always)]
    fn select(m: Self::Mask, a: Self, b: Self) -> Self {
        // blendv takes the second source where the mask's sign bit is set.
        unsafe { Avx(std::arch::x86_64::_mm256_blendv_pd(b.0, a.0, m)) }
    }
    #[inline(always)]
    fn pow2_of_shifted(t: Self) -> Self {
        use std::arch::x86_64::*;
        unsafe {
            let n = _mm256_sub_epi64(
                _mm256_castpd_si256(t.0),
                _mm256_set1_epi64x(SHIFT.to_bits() as i64),
            );
            let biased = _mm256_add_epi64(n, _mm256_set1_epi64x(1023));
            Avx(_mm256_castsi256_pd(_mm256_slli_epi64::<52>(biased)))
        }
    }
}

/// 1.5·2⁵²: adding it rounds a value of magnitude below 2⁵¹ to an integer held in the low
/// mantissa bits.
const SHIFT: f64 = 6_755_399_441_055_744.0;

/// `e^x` on `G` vectors at once, for `x ≤ 0` (shifted logits): within 2 ulp of `e^x` on
/// `[−708, 0]`, 0 below −708, NaN for NaN.
///
/// Cody–Waite reduction `x = n·ln 2 + r`, `n = round(x·log₂e)` (by the 1.5·2⁵² trick, no
/// rounding instruction needed), `|r| ≤ ln2/2 + 2⁻⁴⁰` with `ln 2` split in a 32-bit head
/// (so `n·LN2_HI` is exact for `|n| ≤ 2²¹`) and a tail; then `e^r` by its degree-13 Taylor
/// polynomial in Horner form and the scaling `2^n` through the exponent bits.
///
/// Error: the truncated series' relative error is `|r|¹⁴/14! ≤ 4.3·10⁻¹⁸ = 0.04 ulp`; the
/// reduction's, `|n|·|LN2_LO error| ≤ 1025·2⁻¹⁰⁶ ≈ 10⁻²⁹` absolute in `r`; Horner's rounding,
/// with every term after the first two below `r²/2 ≤ 0.061`, stays within about 1 ulp of the
/// result, so the result is within 2 ulp of `e^x` over `[−708, 0]` (the unit test measures it
/// against libm on a dense sweep and at the ends). Below −708 the true value is under
/// 3.3·10⁻³⁰⁸: flushed to 0, negligible next to the row's largest term `e⁰ = 1`.
///
/// Only for `x ≤ 0` (the callers pass `z − max z`; NaN propagates): above ln(f64::MAX) the
/// exponent bits would wrap instead of giving infinity.
///
/// The polynomial's steps run in lockstep over the `G` vectors, so `G` independent
/// multiply-add chains hide each other's latency.
#[inline(always)]
pub fn exp_nonpositive<L: Lanes, const G: usize>(x: [L; G]) -> [L; G] {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    // ln 2 = LN2_HI + LN2_LO, LN2_HI with 32 significant bits.
    // fdlibm's split: 0.6931471803691238…, 1.9082149292705877…e−10.
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    const C: [f64; 14] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5_040.0,
        1.0 / 40_320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
        1.0 / 479_001_600.0,
        1.0 / 6_227_020_800.0,
    ];
    // Below −709 the clamp keeps 2^n's exponent field in range (`max_keep` passes a NaN
    // through, so NaN stays NaN).
    // (Loops, not `array::map`: its closures would not inline into the AVX build.)
    let mut xl = x;
    let mut t = x;
    let mut r = x;
    for g in 0..G {
        xl[g] = x[g].max_keep(L::splat(-709.0));
        t[g] = xl[g].madd(L::splat(LOG2E), L::splat(SHIFT));
        let n = t[g].sub(L::splat(SHIFT));
        r[g] = n.madd(L::splat(-LN2_HI), xl[g]);
        r[g] = n.madd(L::splat(-LN2_LO), r[g]);
    }
    let mut p = [L::splat(C[13]); G];
    for &c in C[..13].iter().rev() {
        for g in 0..G {
            p[g] = p[g].madd(r[g], L::splat(c));
        }
    }
    let mut out = p;
    for g in 0..G {
        // 2^n from the integer in t's low bits (n ≥ −1023 here, so the field is ≥ 0).
        let v = p[g].mul(L::pow2_of_shifted(t[g]));
        out[g] = L::select(x[g].lt(L::splat(-708.0)), L::splat(0.0), v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place between two finite doubles of one sign.
    fn ulps(a: f64, b: f64) -> u64 {
        a.to_bits().abs_diff(b.to_bits())
    }

    /// [`exp_nonpositive`] on one vector of build `L`.
    fn exp_of<L: Lanes>(x: F4) -> F4 {
        exp_nonpositive::<L, 1>([L::load(&x)])[0].to_array()
    }

    /// The AVX2 + FMA build of [`exp_of`].
    #[cfg(target_arch = "x86_64")]
    fn exp_avx(x: F4) -> F4 {
        #[target_feature(enable = "avx2,fma")]
        fn run(x: F4) -> F4 {
            exp_of::<Avx>(x)
        }
        assert!(Avx::available());
        // SAFETY: the CPU has AVX2 and FMA (asserted above).
        unsafe { run(x) }
    }

    /// Every build this CPU runs, as `(name, exp)`.
    fn builds() -> Vec<(&'static str, fn(F4) -> F4)> {
        let mut b: Vec<(&'static str, fn(F4) -> F4)> = vec![("portable", exp_of::<Portable>)];
        #[cfg(target_arch = "x86_64")]
        if Avx::available() {
            b.push(("avx2+fma", exp_avx));
        }
        b
    }

    /// The bound the docs state: 2 ulp from `e^x`; libm's `exp` is itself within 1 ulp of
    /// `e^x`, so 3 ulp from libm.
    const ULP_BOUND_VS_LIBM: u64 = 3;

    #[test]
    fn exp_is_within_the_stated_ulp_bound_of_libm_over_its_whole_domain() {
        for (name, exp) in builds() {
            let mut worst = 0u64;
            let mut check = |v: F4| {
                let got = exp(v);
                for l in 0..LANES {
                    let want = v[l].exp();
                    let e = ulps(got[l], want);
                    assert!(
                        e <= ULP_BOUND_VS_LIBM,
                        "{name}: exp({:e}) = {:e}, libm {want:e} ({e} ulp)",
                        v[l],
                        got[l]
                    );
                    worst = worst.max(e);
                }
            };
            // A dense sweep of [−708, 0], with the same points scaled towards 0 (where the
            // result is close to 1 and r is tiny).
            let mut x = -708.0;
            while x <= 0.0 {
                check([x, x * 0.5, x * 1e-3, x * 1e-9]);
                x += 0.000_713_7;
            }
            // The ends and the reduction's boundaries: −708 (the last value kept, close to
            // the smallest normal result), n·ln2 ± 1 ulp and ± ln2/2 (where n rounds the
            // other way), the smallest magnitudes, −0.
            let ln2 = std::f64::consts::LN_2;
            let mut specials = vec![-708.0, -707.999_999_999, -0.0, -f64::MIN_POSITIVE];
            specials.extend([-5e-324, -1e-300, -1e-17, -f64::EPSILON]);
            for n in [1.0, 2.0, 10.0, 100.0, 500.0, 1000.0, 1021.0] {
                let c = -n * ln2;
                for v in [c, c + 0.5 * ln2, c - 0.5 * ln2] {
                    specials.extend([v, f64::from_bits(v.to_bits() + 1)]);
                    specials.push(f64::from_bits(v.to_bits() - 1));
                }
            }
            for v in specials.iter().filter(|v| **v >= -708.0) {
                check([*v; LANES]);
            }
            assert!(worst <= ULP_BOUND_VS_LIBM, "{name}: {worst}");
            // Below −708: 0 (the true value is under 3.3e−308); −∞ gives 0; NaN stays NaN;
            // x = 0 gives exactly 1.
            let low = exp([-708.000_001, -745.2, -1e6, f64::NEG_INFINITY]);
            assert_eq!(low, [0.0; LANES], "{name}");
            let edge = exp([f64::NAN, 0.0, -0.0, -1e-320]);
            assert!(edge[0].is_nan(), "{name}");
            assert_eq!(&edge[1..], &[1.0, 1.0, 1.0], "{name}");
        }
    }
}
