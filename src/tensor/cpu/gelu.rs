//! The exact GELU, `x·Φ(x)` with `Φ` the standard normal CDF (`torch.nn.GELU()`'s default,
//! `approximate='none'`), and its derivative `Φ(x) + x·φ(x)`, on the CPU.
//!
//! `Φ` needs `erf`, which Rust's standard library lacks, so it is computed here, in `f64` for
//! both element types (an `f32` result is rounded once at the end):
//! - `|z| < 2.5`: the all-positive series `erf z = (2/√π)·e^{−z²}·Σ_n 2ⁿ z^{2n+1}/(2n+1)!!`
//!   (Abramowitz & Stegun 7.1.6). No term cancels another, so rounding stays near `n·ε`; at most
//!   ~40 terms at `z = 2.5`.
//! - `z ≥ 2.5` for `erf`, `z ≥ 1.25` for `erfc`: `erfc z = e^{−z²}/√π · 1/(z + (1/2)/(z +
//!   1/(z + (3/2)/(z + …))))` (A&S 7.1.14), evaluated bottom-up from [`cf_depth`] levels (it
//!   converges slower for smaller `z`: 120 levels at 1.25, 40 from 2.5); beyond `z = 27`
//!   `e^{−z²}` underflows and `erfc z = 0`. Below 1.25, `erfc = 1 − erf` loses at most a
//!   factor 13 to cancellation.
//!
//! Checked against mpmath at 40 digits: `erf` within 2e-15 relative, `erfc` within 6e-15 on
//! [0, 6], and GELU and its derivative within 2e-14 relative everywhere (`tests/dino.rs`, data
//! from `scripts/dino_golden.py`). `Φ(x)` for `x < 0` is `erfc(|x|/√2)/2` directly, so the
//! left tail keeps its relative accuracy instead of cancelling in `1 + erf` as PyTorch's
//! `0.5·x·(1 + erf(x/√2))` does.

use super::PAR_CHUNK;
use crate::backend::Element;
use rayon::prelude::*;

/// Where the series hands over to the continued fraction (both accurate to ~1e-14 there).
const SERIES_LIMIT: f64 = 2.5;

/// From here `erfc` uses the continued fraction instead of `1 − erf`.
const ERFC_FRACTION_FROM: f64 = 1.25;

/// Levels of the continued fraction for full `f64` accuracy (relative error < 6e-15) at `z`
/// (≥ [`ERFC_FRACTION_FROM`]), measured against mpmath: at 2.5, 40 levels suffice (30 give
/// 1.5e-14, 20 only 1.3e-11); smaller `z` need more.
fn cf_depth(z: f64) -> usize {
    if z < 1.5 {
        120
    } else if z < 2.0 {
        80
    } else if z < SERIES_LIMIT {
        60
    } else {
        40
    }
}

/// Beyond this `e^{−z²}` underflows: `erfc z = 0`, `erf z = 1`.
const UNDERFLOW_Z: f64 = 27.0;

/// `2/√π`.
const TWO_OVER_SQRT_PI: f64 = std::f64::consts::FRAC_2_SQRT_PI;

/// `erf z` for `0 ≤ z < SERIES_LIMIT` by the positive series.
fn erf_series(z: f64) -> f64 {
    let z2 = 2.0 * z * z;
    let (mut term, mut sum) = (z, z);
    let mut n = 0.0;
    // The terms first grow (while 2z² > 2n + 1), then fall geometrically.
    loop {
        n += 1.0;
        term *= z2 / (2.0 * n + 1.0);
        sum += term;
        if term <= 1e-17 * sum {
            break;
        }
    }
    TWO_OVER_SQRT_PI * (-z * z).exp() * sum
}

/// `erfc z` for `z ≥ ERFC_FRACTION_FROM` by the continued fraction.
fn erfc_fraction(z: f64) -> f64 {
    if z > UNDERFLOW_Z {
        return 0.0;
    }
    let mut f = z;
    for k in (1..=cf_depth(z)).rev() {
        f = z + (k as f64 * 0.5) / f;
    }
    (-z * z).exp() / (std::f64::consts::PI.sqrt() * f)
}

/// The error function.
pub(crate) fn erf(z: f64) -> f64 {
    let a = z.abs();
    let v = if a < SERIES_LIMIT {
        erf_series(a)
    } else {
        1.0 - erfc_fraction(a)
    };
    if z.is_nan() {
        z
    } else {
        v.copysign(z)
    }
}

/// `1 − erf z`, without cancellation for large positive `z`.
pub(crate) fn erfc(z: f64) -> f64 {
    if z.is_nan() {
        z
    } else if z >= ERFC_FRACTION_FROM {
        erfc_fraction(z)
    } else if z >= 0.0 {
        1.0 - erf_series(z)
    } else {
        1.0 + erf(-z)
    }
}

/// `Φ(x) = erfc(−x/√2)/2`, the standard normal CDF.
fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x * std::f64::consts::FRAC_1_SQRT_2)
}

/// `gelu(x) = x·Φ(x)`.
pub(crate) fn gelu(x: f64) -> f64 {
    x * normal_cdf(x)
}

/// `gelu'(x) = Φ(x) + x·φ(x)`, `φ(x) = e^{−x²/2}/√(2π)`.
pub(crate) fn gelu_grad(x: f64) -> f64 {
    const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
    normal_cdf(x) + x * INV_SQRT_2PI * (-0.5 * x * x).exp()
}

/// `out[i] = gelu(a[i])` (one chunk of a unary map).
pub(crate) fn gelu_slice<T: Element>(a: &[T], out: &mut [T]) {
    for (o, &x) in out.iter_mut().zip(a) {
        *o = T::from_f64(gelu(x.to_f64()));
    }
}

/// The gradient of gelu given its input `x`: `g·gelu'(x)`, in place on `g`, in chunks of
/// [`PAR_CHUNK`].
pub(crate) fn gelu_backward<T: Element>(x: &[T], g: &mut [T]) {
    g.par_chunks_mut(PAR_CHUNK)
        .zip(x.par_chunks(PAR_CHUNK))
        .for_each(|(gc, xc)| {
            for (gv, &x) in gc.iter_mut().zip(xc) {
                *gv = T::from_f64(gv.to_f64() * gelu_grad(x.to_f64()));
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// erf at points with known values (Abramowitz & Stegun table 7.1 / mpmath, 17 digits).
    #[test]
    fn erf_matches_reference_values() {
        let cases = [
            (0.0, 0.0),
            (0.1, 0.112_462_916_018_284_89),
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.0, 0.995_322_265_018_952_7),
            (2.5, 0.999_593_047_982_555),
            (3.0, 0.999_977_909_503_001_4),
            (-1.0, -0.842_700_792_949_714_9),
        ];
        for (z, want) in cases {
            let got = erf(z);
            // Within 4 ulp of the 17-digit reference (the rational approximations' own error).
            assert!(
                (got - want).abs() <= 4.0 * f64::EPSILON * want.abs(),
                "erf({z}) = {got}, want {want}"
            );
        }
        // erfc in the tail, where 1 − erf would cancel: erfc(5) = 1.5374597944280349e-12.
        let e5 = erfc(5.0);
        assert!(
            (e5 / 1.537_459_794_428_034_9e-12 - 1.0).abs() < 1e-14,
            "{e5}"
        );
        assert_eq!(erfc(30.0), 0.0);
        assert_eq!(erf(30.0), 1.0);
        assert!(erf(f64::NAN).is_nan());
    }

    /// The series and the fraction agree where they hand over.
    #[test]
    fn branches_meet_at_the_limits() {
        let below = erf_series(SERIES_LIMIT);
        let above = 1.0 - erfc_fraction(SERIES_LIMIT);
        assert!((below - above).abs() < 1e-15, "{below} vs {above}");
        let z = ERFC_FRACTION_FROM;
        let (series, fraction) = (1.0 - erf_series(z), erfc_fraction(z));
        assert!(
            (series / fraction - 1.0).abs() < 2e-14,
            "{series} vs {fraction}"
        );
    }

    /// gelu at a few points: gelu(0) = 0, gelu(1) = Φ(1) = 0.8413447460685429, gelu(−1) =
    /// −(1 − Φ(1)); gelu'(0) = 1/2.
    #[test]
    fn gelu_hand_values() {
        assert_eq!(gelu(0.0), 0.0);
        assert!((gelu(1.0) - 0.841_344_746_068_542_9).abs() < 1e-16);
        assert!((gelu(-1.0) + 0.158_655_253_931_457_05).abs() < 1e-16);
        assert!((gelu_grad(0.0) - 0.5).abs() < 1e-16);
    }
}
