//! Ridge regression as scikit-learn's `Ridge(solver="auto")` fits dense data (its `cholesky`
//! path).
//!
//! Objective, for targets `Y ∈ ℝ^{n×t}` (each column an independent problem):
//! `min_{W, b} ‖Y − X·Wᵀ − 1·bᵀ‖²_F + α·‖W‖²_F`, intercept not penalised.
//!
//! Solver: with an intercept, centre `X_c = X − 1·x̄ᵀ` and `Y_c = Y − 1·ȳᵀ`; then
//! - `d ≤ n` (primal): solve `(X_cᵀX_c + αI_d)·Wᵀ = X_cᵀY_c` by Cholesky;
//! - `d > n` (dual): solve `(X_cX_cᵀ + αI_n)·A = Y_c` by Cholesky and set `Wᵀ = X_cᵀA`;
//!
//! and `b = ȳ − W·x̄`. All targets share one factorisation; in the primal case one Gram product
//! `[X_c | Y_c]ᵀ[X_c | Y_c]` yields both `X_cᵀX_c` and `X_cᵀY_c`. A system that is not positive
//! definite (e.g. `α = 0` with collinear features) is an [`Error`], never NaNs.

use super::{as_f64, check_features, check_predict_features, check_targets, not_fitted, Probe};
use crate::error::{Error, Result};
use crate::linalg::Cholesky;
use crate::tensor::gemm::gemm;
use crate::tensor::{Element, Tensor};
use rayon::prelude::*;

/// L2-penalised least squares, closed form.
///
/// Defaults as scikit-learn: `alpha = 1.0`, `fit_intercept = true`.
#[derive(Clone, Debug)]
pub struct Ridge {
    alpha: f64,
    fit_intercept: bool,
    fitted: Option<Fitted>,
}

#[derive(Clone, Debug)]
struct Fitted {
    /// `(t, d)`.
    coef: Tensor<f64>,
    intercept: Vec<f64>,
    /// The targets were 1-D: predictions are `(m,)`.
    one_d: bool,
}

impl Default for Ridge {
    fn default() -> Self {
        Ridge::new()
    }
}

impl Ridge {
    /// `alpha = 1`, with an intercept.
    pub fn new() -> Self {
        Ridge {
            alpha: 1.0,
            fit_intercept: true,
            fitted: None,
        }
    }

    /// Penalty strength `α ≥ 0`.
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }

    /// Whether to fit an (unpenalised) intercept per target.
    pub fn fit_intercept(mut self, fit_intercept: bool) -> Self {
        self.fit_intercept = fit_intercept;
        self
    }

    /// Coefficients, shape `(t, d)` (one row per target, also for 1-D targets).
    pub fn coef(&self) -> Option<&Tensor<f64>> {
        self.fitted.as_ref().map(|f| &f.coef)
    }

    /// Intercepts, one per target.
    pub fn intercept(&self) -> Option<&[f64]> {
        self.fitted.as_ref().map(|f| f.intercept.as_slice())
    }
}

impl Probe for Ridge {
    type Targets = Tensor<f64>;
    type Output = Tensor<f64>;

    /// Fits on `x` `(n, d)` and targets `y` `(n,)` or `(n, t)`.
    fn fit<T: Element>(&mut self, x: &Tensor<T>, y: &Tensor<f64>) -> Result<()> {
        const OP: &str = "Ridge::fit";
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return Err(Error::invalid(
                OP,
                format!("alpha must be finite and ≥ 0, got {}", self.alpha),
            ));
        }
        self.fitted = None;
        let (n, d) = check_features(OP, x)?;
        let t = check_targets(OP, n, y)?;
        let (x_mean, y_mean) = if self.fit_intercept {
            (column_means(x.data()?, d), column_means(y.data()?, t))
        } else {
            (vec![0.0; d], vec![0.0; t])
        };

        // wt: Wᵀ, d × t.
        let mut wt = vec![0.0; d * t];
        if d <= n {
            // One GEMM gives both blocks: G = [X_c | Y_c]ᵀ[X_c | Y_c] holds X_cᵀX_c (top left)
            // and X_cᵀY_c (top right), packing the n rows once instead of twice.
            let dt = d + t;
            let mut z = Vec::with_capacity(n * dt);
            for (xr, yr) in x.data()?.chunks(d).zip(y.data()?.chunks(t)) {
                z.extend(xr.iter().zip(&x_mean).map(|(v, m)| v.to_f64() - m));
                z.extend(yr.iter().zip(&y_mean).map(|(v, m)| v - m));
            }
            let g = gram(&z, dt);
            let mut a = vec![0.0; d * d];
            for i in 0..d {
                a[i * d..(i + 1) * d].copy_from_slice(&g[i * dt..i * dt + d]);
                a[i * d + i] += self.alpha;
                wt[i * t..(i + 1) * t].copy_from_slice(&g[i * dt + d..(i + 1) * dt]);
            }
            Cholesky::factor(&a, d)
                .map_err(|e| singular(e, "X_cᵀX_c + αI"))?
                .solve_in_place(&mut wt, t)?;
        } else {
            // (X_cX_cᵀ + αI) A = Y_c, Wᵀ = X_cᵀA.
            let xc: Vec<f64> = x
                .data()?
                .chunks(d)
                .flat_map(|r| r.iter().zip(&x_mean).map(|(v, m)| v.to_f64() - m))
                .collect();
            let mut yc: Vec<f64> = y
                .data()?
                .chunks(t)
                .flat_map(|r| r.iter().zip(&y_mean).map(|(v, m)| v - m))
                .collect();
            let mut k = vec![0.0; n * n];
            gemm(false, true, n, n, d, 1.0, &xc, &xc, 0.0, &mut k);
            (0..n).for_each(|i| k[i * n + i] += self.alpha);
            Cholesky::factor(&k, n)
                .map_err(|e| singular(e, "X_cX_cᵀ + αI (dual, d > n)"))?
                .solve_in_place(&mut yc, t)?;
            gemm(true, false, d, t, n, 1.0, &xc, &yc, 0.0, &mut wt);
        }
        if let Some(i) = wt.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: format!("{OP}: coefficient {i} (the system is numerically singular)"),
            });
        }
        // coef = (Wᵀ)ᵀ, t × d; b_j = ȳ_j − x̄·w_j.
        let mut coef = vec![0.0; t * d];
        for i in 0..d {
            for j in 0..t {
                coef[j * d + i] = wt[i * t + j];
            }
        }
        let intercept = (0..t)
            .map(|j| {
                let dot: f64 = coef[j * d..(j + 1) * d]
                    .iter()
                    .zip(&x_mean)
                    .map(|(w, m)| w * m)
                    .sum();
                y_mean[j] - dot
            })
            .collect();
        self.fitted = Some(Fitted {
            coef: Tensor::from_vec(coef, &[t, d])?,
            intercept,
            one_d: y.ndim() == 1,
        });
        Ok(())
    }

    /// `X·Wᵀ + b`, shape `(m,)` for 1-D training targets, else `(m, t)`.
    fn predict<T: Element>(&self, x: &Tensor<T>) -> Result<Tensor<f64>> {
        const OP: &str = "Ridge::predict";
        let f = self.fitted.as_ref().ok_or_else(|| not_fitted(OP))?;
        let (t, d) = f.coef.dims2(OP)?;
        let m = check_predict_features(OP, x, d)?;
        let x64 = as_f64(x)?;
        let mut out = vec![0.0; m * t];
        gemm(
            false,
            true,
            m,
            t,
            d,
            1.0,
            &x64,
            f.coef.data()?,
            0.0,
            &mut out,
        );
        for row in out.chunks_mut(t) {
            row.iter_mut().zip(&f.intercept).for_each(|(v, b)| *v += b);
        }
        if f.one_d {
            Tensor::from_vec(out, &[m])
        } else {
            Tensor::from_vec(out, &[m, t])
        }
    }
}

/// Rows per partial Gram product: at most 256, and few enough that `2·m·rows < 2¹⁵`, below
/// which `matrixmultiply` (with its `threading` feature) keeps the product on the calling rayon
/// worker. Smaller blocks balance better over the cores; larger ones repack less often.
const GRAM_BLOCK_ROWS: usize = 256;

/// `ZᵀZ` (`m × m`) of a row-major `(·, m)` matrix. For narrow `Z` (`m ≤ 64`, the embedding
/// case) the rows are split in fixed blocks whose partial products run in parallel and are
/// summed in block order (the same bits for any thread count); wider `Z` is one GEMM, which
/// parallelises over its own output rows.
fn gram(z: &[f64], m: usize) -> Vec<f64> {
    let n = z.len() / m;
    let mut g = vec![0.0; m * m];
    let block = GRAM_BLOCK_ROWS.min(((1 << 15) - 1) / (2 * m)).max(1);
    if m > 64 || n <= block {
        gemm(true, false, m, m, n, 1.0, z, z, 0.0, &mut g);
        return g;
    }
    let parts: Vec<Vec<f64>> = z
        .par_chunks(block * m)
        .map(|blk| {
            let mut p = vec![0.0; m * m];
            gemm(true, false, m, m, blk.len() / m, 1.0, blk, blk, 0.0, &mut p);
            p
        })
        .collect();
    for p in &parts {
        g.iter_mut().zip(p).for_each(|(a, b)| *a += b);
    }
    g
}

/// Column means of a row-major `(·, cols)` matrix, accumulated in `f64`.
fn column_means<T: Element>(a: &[T], cols: usize) -> Vec<f64> {
    let rows = a.len() / cols;
    let mut mean = vec![0.0; cols];
    for r in a.chunks(cols) {
        mean.iter_mut().zip(r).for_each(|(m, v)| *m += v.to_f64());
    }
    mean.iter_mut().for_each(|m| *m /= rows as f64);
    mean
}

/// Names the Ridge system in a Cholesky failure.
fn singular(e: Error, system: &str) -> Error {
    Error::invalid("Ridge::fit", format!("{system} — {e}; increase alpha"))
}
