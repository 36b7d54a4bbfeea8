//! Logistic regression as scikit-learn's `LogisticRegression(solver="lbfgs")` fits it.
//!
//! Estimator [`LogisticRegression`], objective [`LogisticObjective`], solver
//! [`lbfgs::minimize`] with [`LbfgsOptions::sklearn`]`(tol, max_iter)`, starting from zero,
//! everything in `f64`.
//!
//! With `K` sorted classes, `n` samples `x_i ∈ ℝ^d` and `λ = 1/(C·n)`, the objective is
//! scikit-learn's `LinearModelLoss` with sample weights 1 (mean loss, intercept not penalised):
//!
//! - `K ≥ 3`, multinomial: `W ∈ ℝ^{K×d}`, `b ∈ ℝ^K`, `z_i = W·x_i + b`,
//!   `f = (1/n) Σ_i [logsumexp(z_i) − z_{i,y_i}] + (λ/2)·‖W‖²_F`,
//!   `∇_W f = (1/n) (P − Y)ᵀ X + λW`, `∇_b f = (1/n) Σ_i (p_i − e_{y_i})` with `P` the row
//!   softmax of `Z` and `Y` the one-hot labels.
//! - `K = 2`, binary (not the 2-class multinomial): `w ∈ ℝ^d`, `b ∈ ℝ`, `z_i = w·x_i + b`,
//!   `y_i ∈ {0, 1}` with `classes[1]` positive,
//!   `f = (1/n) Σ_i [log(1 + e^{z_i}) − y_i·z_i] + (λ/2)·‖w‖²`,
//!   `∇_w f = (1/n) Xᵀ(σ(z) − y) + λw`, `∇_b f = (1/n) Σ_i (σ(z_i) − y_i)`.
//!
//! The loss and gradient run over fixed blocks of rows ([`block_rows`]) in parallel, each block
//! with two GEMMs (`Z = X_c·Wᵀ` and `G_c = (P − Y)_cᵀ·X_c`); the block partials are summed in
//! block order, so the result is bit-identical for any `RAYON_NUM_THREADS`.

use super::{
    as_f64, check_features, check_label_len, check_predict_features, encode_labels, not_fitted,
    Classifier, Probe,
};
use crate::error::{Error, Result};
use crate::linalg::lbfgs::{self, LbfgsOptions, Termination};
use crate::tensor::gemm::gemm;
use crate::tensor::{Element, Tensor};
use rayon::prelude::*;

/// Upper bound on `rows·(d + K)` for one block's GEMMs. `matrixmultiply` (with its `threading`
/// feature) starts its own threads once `m·k + k·n ≥ 2¹⁵`; below that the two GEMMs of a block
/// stay on the rayon worker that runs the block, instead of oversubscribing the cores from
/// inside a parallel loop. Larger blocks would amortise the per-call packing better, smaller
/// ones balance the load better; at d = 32, K = 10 this gives 780-row blocks, 77 for 60 000 rows.
pub const BLOCK_GEMM_SIZE: usize = 1 << 15;

/// Rows per parallel block for `d` features and `rows` weight rows: `BLOCK_GEMM_SIZE / (d + rows)`
/// within `[64, 4096]`. It depends on the problem's shape only, never on the thread count.
pub fn block_rows(d: usize, rows: usize) -> usize {
    ((BLOCK_GEMM_SIZE - 1) / (d + rows)).clamp(64, 4096)
}

/// Multinomial (or binary) logistic regression with L2 penalty, fitted by L-BFGS.
///
/// Defaults as scikit-learn: `C = 1.0`, `tol = 1e-4`, `max_iter = 100`, `fit_intercept = true`.
/// Labels are any integers; [`classes`](Classifier::classes) is their sorted set. Two classes
/// fit scikit-learn's binary model (one weight vector); three or more the multinomial one.
#[derive(Clone, Debug)]
pub struct LogisticRegression {
    c: f64,
    tol: f64,
    max_iter: usize,
    fit_intercept: bool,
    fitted: Option<Fitted>,
}

#[derive(Clone, Debug)]
struct Fitted {
    classes: Vec<i64>,
    /// `(rows, d)`: `rows = 1` for the binary model, `K` for the multinomial one.
    coef: Tensor<f64>,
    intercept: Vec<f64>,
    n_iter: usize,
    termination: Termination,
}

impl Default for LogisticRegression {
    fn default() -> Self {
        LogisticRegression::new()
    }
}

impl LogisticRegression {
    /// scikit-learn's defaults: `C = 1`, `tol = 1e-4`, `max_iter = 100`, with an intercept.
    pub fn new() -> Self {
        LogisticRegression {
            c: 1.0,
            tol: 1e-4,
            max_iter: 100,
            fit_intercept: true,
            fitted: None,
        }
    }

    /// Inverse regularisation strength `C > 0` (the penalty is `‖W‖²/(2·C·n)`).
    pub fn c(mut self, c: f64) -> Self {
        self.c = c;
        self
    }

    /// Gradient tolerance: converged when `max |∇f| ≤ tol`.
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// Most L-BFGS iterations; reaching it leaves the fit unconverged
    /// ([`converged`](Self::converged) is `false`, as scikit-learn warns).
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Whether to fit (unpenalised) intercepts.
    pub fn fit_intercept(mut self, fit_intercept: bool) -> Self {
        self.fit_intercept = fit_intercept;
        self
    }

    /// Coefficients, shape `(1, d)` for two classes (for `classes()[1]`) or `(K, d)`.
    pub fn coef(&self) -> Option<&Tensor<f64>> {
        self.fitted.as_ref().map(|f| &f.coef)
    }

    /// Intercepts, one per row of [`coef`](Self::coef) (zeros without `fit_intercept`).
    pub fn intercept(&self) -> Option<&[f64]> {
        self.fitted.as_ref().map(|f| f.intercept.as_slice())
    }

    /// L-BFGS iterations of the last fit (scikit-learn's `n_iter_[0]`).
    pub fn n_iter(&self) -> Option<usize> {
        self.fitted.as_ref().map(|f| f.n_iter)
    }

    /// Whether the last fit met a convergence test (scikit-learn warns when it did not): not
    /// after the iteration limit, a failed line search or a non-finite objective (an overflow,
    /// e.g. on features of 1e300), which [`termination`](Self::termination) tells apart.
    pub fn converged(&self) -> Option<bool> {
        self.fitted.as_ref().map(|f| f.termination.converged())
    }

    /// Why the last fit's solver stopped.
    pub fn termination(&self) -> Option<Termination> {
        self.fitted.as_ref().map(|f| f.termination)
    }

    /// Raw scores `z = X·coefᵀ + intercept`, shape `(m, rows)`.
    pub fn decision_function<T: Element>(&self, x: &Tensor<T>) -> Result<Tensor<f64>> {
        const OP: &str = "LogisticRegression::decision_function";
        let f = self.fitted.as_ref().ok_or_else(|| not_fitted(OP))?;
        let (rows, d) = f.coef.dims2(OP)?;
        let m = check_predict_features(OP, x, d)?;
        let x64 = as_f64(x)?;
        let mut z = vec![0.0; m * rows];
        // z = X (m × d) · coefᵀ (d × rows).
        gemm(
            false,
            true,
            m,
            rows,
            d,
            1.0,
            &x64,
            f.coef.data()?,
            0.0,
            &mut z,
        );
        for row in z.chunks_mut(rows) {
            row.iter_mut().zip(&f.intercept).for_each(|(v, b)| *v += b);
        }
        Tensor::from_vec(z, &[m, rows])
    }

    fn check_params(&self) -> Result<()> {
        const OP: &str = "LogisticRegression::fit";
        if !(self.c.is_finite() && self.c > 0.0) {
            return Err(Error::invalid(
                OP,
                format!("C must be finite and > 0, got {}", self.c),
            ));
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(Error::invalid(
                OP,
                format!("tol must be finite and ≥ 0, got {}", self.tol),
            ));
        }
        if self.max_iter == 0 {
            return Err(Error::invalid(OP, "max_iter must be at least 1"));
        }
        Ok(())
    }
}

impl Probe for LogisticRegression {
    type Targets = [i64];
    type Output = Vec<i64>;

    /// Fits on `x` `(n, d)` and labels `y` (`n` integers, at least two distinct values).
    fn fit<T: Element>(&mut self, x: &Tensor<T>, y: &[i64]) -> Result<()> {
        self.fit_observed(x, y, &|_, _| {})
    }

    /// [`fit`](Probe::fit), calling `observe(k, max_iter)` after the `k`-th L-BFGS iteration.
    fn fit_observed<T: Element>(
        &mut self,
        x: &Tensor<T>,
        y: &[i64],
        observe: &dyn Fn(usize, usize),
    ) -> Result<()> {
        const OP: &str = "LogisticRegression::fit";
        self.check_params()?;
        self.fitted = None;
        let (n, d) = check_features(OP, x)?;
        check_label_len(OP, n, y)?;
        let (classes, codes) = encode_labels(y);
        if classes.len() < 2 {
            return Err(Error::invalid(
                OP,
                format!(
                    "needs samples of at least 2 classes, but y holds only class {}",
                    classes[0]
                ),
            ));
        }
        let x64 = as_f64(x)?;
        let mut objective = LogisticObjective::new(
            &x64,
            n,
            d,
            &codes,
            classes.len(),
            self.c,
            self.fit_intercept,
        )?;
        let x0 = vec![0.0; objective.n_params()];
        let opts = LbfgsOptions::sklearn(self.tol, self.max_iter);
        let max_iter = self.max_iter;
        let res = lbfgs::minimize_observed(
            |w, g| Ok(objective.value_grad(w, g)),
            &x0,
            &opts,
            |k| observe(k, max_iter),
        )?;
        let rows = objective.rows();
        let coef = Tensor::from_vec(res.x[..rows * d].to_vec(), &[rows, d])?;
        let intercept = if self.fit_intercept {
            res.x[rows * d..].to_vec()
        } else {
            vec![0.0; rows]
        };
        self.fitted = Some(Fitted {
            classes,
            coef,
            intercept,
            n_iter: res.n_iter,
            termination: res.termination,
        });
        Ok(())
    }

    /// The most probable class of each row (the first on ties, as NumPy's `argmax`; for two
    /// classes `classes[1]` exactly when the score is `> 0`).
    fn predict<T: Element>(&self, x: &Tensor<T>) -> Result<Vec<i64>> {
        let z = self.decision_function(x)?;
        let f = self
            .fitted
            .as_ref()
            .ok_or_else(|| not_fitted("LogisticRegression::predict"))?;
        let rows = z.shape()[1];
        Ok(z.data()?
            .chunks(rows)
            .map(|r| {
                if rows == 1 {
                    f.classes[usize::from(r[0] > 0.0)]
                } else {
                    f.classes[argmax(r)]
                }
            })
            .collect())
    }
}

impl Classifier for LogisticRegression {
    fn classes(&self) -> &[i64] {
        self.fitted.as_ref().map_or(&[], |f| f.classes.as_slice())
    }

    /// Softmax of the scores (multinomial), or `[1 − σ(z), σ(z)]` (binary).
    fn predict_proba<T: Element>(&self, x: &Tensor<T>) -> Result<Tensor<f64>> {
        let z = self.decision_function(x)?;
        let (m, rows) = z.dims2("LogisticRegression::predict_proba")?;
        if rows == 1 {
            let mut p = Vec::with_capacity(2 * m);
            for &v in z.data()? {
                let s = expit(v);
                p.push(1.0 - s);
                p.push(s);
            }
            return Tensor::from_vec(p, &[m, 2]);
        }
        let mut p = z.into_vec()?;
        for row in p.chunks_mut(rows) {
            let mx = row.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
            let mut s = 0.0;
            for v in row.iter_mut() {
                *v = (*v - mx).exp();
                s += *v;
            }
            row.iter_mut().for_each(|v| *v /= s);
        }
        Tensor::from_vec(p, &[m, rows])
    }
}

/// Index of the first maximum.
fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// The logistic function `1 / (1 + e^{−z})`, without overflow.
fn expit(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// The penalised logistic loss and its gradient (formulas in the module docs).
///
/// Parameters are laid out `[W (rows × d, row-major), b (rows)]`, `b` present only with
/// `fit_intercept`; `rows = 1` for two classes, `K` otherwise.
pub struct LogisticObjective<'a> {
    x: &'a [f64],
    codes: &'a [usize],
    n: usize,
    d: usize,
    rows: usize,
    fit_intercept: bool,
    /// `λ = 1/(C·n)`.
    l2: f64,
    blocks: Vec<Block>,
}

/// One row block's scratch and partial results.
struct Block {
    /// `Z`, then in place the pointwise gradient `P − Y` (rows of this block × `rows`).
    z: Vec<f64>,
    /// Partial `(P − Y)ᵀ X` of this block, `rows × d`.
    gw: Vec<f64>,
    /// Partial column sums of `P − Y`.
    gb: Vec<f64>,
    /// Partial sum of the pointwise losses.
    loss: f64,
}

impl<'a> LogisticObjective<'a> {
    /// The objective for row-major features `x` `(n, d)`, class codes `codes` in
    /// `0..n_classes`, and inverse regularisation `c`.
    ///
    /// Errors: [`Error::Shape`] if the lengths do not match; [`Error::InvalidArgument`] for
    /// fewer than 2 classes, a code out of range, or `c ≤ 0`.
    pub fn new(
        x: &'a [f64],
        n: usize,
        d: usize,
        codes: &'a [usize],
        n_classes: usize,
        c: f64,
        fit_intercept: bool,
    ) -> Result<Self> {
        const OP: &str = "LogisticObjective::new";
        if x.len() != n * d || codes.len() != n || n == 0 {
            return Err(Error::shape(
                OP,
                format!("X of {n}×{d} and {n} labels, n ≥ 1"),
                &[&[x.len()], &[codes.len()]],
            ));
        }
        if n_classes < 2 || codes.iter().any(|&k| k >= n_classes) {
            return Err(Error::invalid(
                OP,
                format!("need 2 or more classes and codes below {n_classes}"),
            ));
        }
        if !(c.is_finite() && c > 0.0) {
            return Err(Error::invalid(
                OP,
                format!("C must be finite and > 0, got {c}"),
            ));
        }
        let rows = if n_classes == 2 { 1 } else { n_classes };
        let block = block_rows(d, rows);
        let blocks = (0..n.div_ceil(block))
            .map(|b| {
                let nr = block.min(n - b * block);
                Block {
                    z: vec![0.0; nr * rows],
                    gw: vec![0.0; rows * d],
                    gb: vec![0.0; rows],
                    loss: 0.0,
                }
            })
            .collect();
        Ok(LogisticObjective {
            x,
            codes,
            n,
            d,
            rows,
            fit_intercept,
            l2: 1.0 / (c * n as f64),
            blocks,
        })
    }

    /// Rows of `W`: 1 for the binary model, `K` for the multinomial one.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of parameters: `rows·d`, plus `rows` intercepts with `fit_intercept`.
    pub fn n_params(&self) -> usize {
        self.rows * self.d + if self.fit_intercept { self.rows } else { 0 }
    }

    /// `f(params)`, writing `∇f(params)` into `grad`.
    ///
    /// # Panics
    /// If `params` or `grad` is not [`n_params`](Self::n_params) long (a caller bug).
    pub fn value_grad(&mut self, params: &[f64], grad: &mut [f64]) -> f64 {
        let (d, rows) = (self.d, self.rows);
        assert!(
            params.len() == self.n_params() && grad.len() == self.n_params(),
            "LogisticObjective::value_grad: parameter length"
        );
        let w = &params[..rows * d];
        let zeros = vec![0.0; rows];
        let b = if self.fit_intercept {
            &params[rows * d..]
        } else {
            &zeros[..]
        };
        let (x, codes) = (self.x, self.codes);
        let block = block_rows(d, rows);
        self.blocks
            .par_iter_mut()
            .enumerate()
            .for_each(|(bi, blk)| {
                let r0 = bi * block;
                let nr = blk.z.len() / rows;
                let xc = &x[r0 * d..(r0 + nr) * d];
                let yc = &codes[r0..r0 + nr];
                // Z (nr × rows) = X_c (nr × d) · Wᵀ (d × rows).
                gemm(false, true, nr, rows, d, 1.0, xc, w, 0.0, &mut blk.z);
                blk.loss = if rows == 1 {
                    binary_rows(&mut blk.z, b[0], yc)
                } else {
                    multinomial_rows(&mut blk.z, b, yc)
                };
                // G_c (rows × d) = (P − Y)_cᵀ (rows × nr) · X_c (nr × d).
                gemm(true, false, rows, d, nr, 1.0, &blk.z, xc, 0.0, &mut blk.gw);
                blk.gb.fill(0.0);
                for r in blk.z.chunks(rows) {
                    blk.gb.iter_mut().zip(r).for_each(|(s, v)| *s += v);
                }
            });
        // Sum the block partials in block order (thread-count independent).
        grad.fill(0.0);
        let mut loss = 0.0;
        let (gw, gb) = grad.split_at_mut(rows * d);
        for blk in &self.blocks {
            loss += blk.loss;
            gw.iter_mut().zip(&blk.gw).for_each(|(g, v)| *g += v);
            if self.fit_intercept {
                gb.iter_mut().zip(&blk.gb).for_each(|(g, v)| *g += v);
            }
        }
        let inv_n = 1.0 / self.n as f64;
        let mut penalty = 0.0;
        for (g, &wi) in gw.iter_mut().zip(w) {
            *g = *g * inv_n + self.l2 * wi;
            penalty += wi * wi;
        }
        gb.iter_mut().for_each(|g| *g *= inv_n);
        loss * inv_n + 0.5 * self.l2 * penalty
    }
}

/// Multinomial rows: adds `b`, returns `Σ [logsumexp(z) − z_y]` and leaves `softmax(z) − e_y`
/// in place of each row. The exponentials run over the whole block in SIMD lanes
/// ([`exp_in_place`]).
fn multinomial_rows(z: &mut [f64], b: &[f64], y: &[usize]) -> f64 {
    let k = b.len();
    let rows = z.len() / k;
    // Shift each row by its maximum, remembering max and z_y for the loss.
    let mut shift = Vec::with_capacity(rows);
    for (row, &yi) in z.chunks_mut(k).zip(y) {
        let mut mx = f64::NEG_INFINITY;
        for (v, bi) in row.iter_mut().zip(b) {
            *v += bi;
            mx = mx.max(*v);
        }
        shift.push((mx, row[yi]));
        row.iter_mut().for_each(|v| *v -= mx);
    }
    exp_in_place(z);
    let mut loss = 0.0;
    for ((row, &yi), &(mx, zy)) in z.chunks_mut(k).zip(y).zip(&shift) {
        let s: f64 = row.iter().sum();
        loss += mx + s.ln() - zy;
        let inv = 1.0 / s;
        row.iter_mut().for_each(|v| *v *= inv);
        row[yi] -= 1.0;
    }
    loss
}

/// `v ← e^v` for arguments `≤ 0` (shifted logits), four lanes at a time with `wide`'s
/// polynomial `exp` (within 1 ulp of libm's over `[−708, 0]`; below −708.39 it returns 0 where
/// the true value is a subnormal under 2.5e−308, irrelevant next to the row's term e⁰ = 1).
fn exp_in_place(v: &mut [f64]) {
    let mut chunks = v.chunks_exact_mut(4);
    for c in &mut chunks {
        let e = wide::f64x4::from([c[0], c[1], c[2], c[3]]).exp().to_array();
        c.copy_from_slice(&e);
    }
    let rest = chunks.into_remainder();
    if !rest.is_empty() {
        let mut pad = [0.0; 4];
        pad[..rest.len()].copy_from_slice(rest);
        let e = wide::f64x4::from(pad).exp().to_array();
        rest.copy_from_slice(&e[..rest.len()]);
    }
}

/// Binary rows (`z` one column): adds `b`, returns `Σ [log(1 + e^z) − y·z]` and leaves
/// `σ(z) − y` in place, with scikit-learn's branches for a stable `log1p(exp)`.
fn binary_rows(z: &mut [f64], b: f64, y: &[usize]) -> f64 {
    let mut loss = 0.0;
    for (v, &yi) in z.iter_mut().zip(y) {
        let raw = *v + b;
        let yt = yi as f64;
        let (l, g) = if raw > 0.0 {
            let e = (-raw).exp();
            let l = if raw <= 18.0 {
                e.ln_1p() + raw
            } else {
                e + raw
            };
            (l - yt * raw, ((1.0 - yt) - yt * e) / (1.0 + e))
        } else {
            let e = raw.exp();
            let l = if raw <= -37.0 { e } else { e.ln_1p() };
            (l - yt * raw, ((1.0 - yt) * e - yt) / (1.0 + e))
        };
        loss += l;
        *v = g;
    }
    loss
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_loss_matches_the_formula_across_branches() {
        for &raw in &[-50.0, -20.0, -1.0, 0.0, 0.5, 10.0, 25.0, 40.0] {
            for y in 0..2usize {
                let mut z = [raw];
                let l = binary_rows(&mut z, 0.0, &[y]);
                let exact = f64::exp(raw).ln_1p() - y as f64 * raw;
                assert!(
                    (l - exact).abs() <= 1e-12 * exact.abs().max(1e-300),
                    "{raw} {y}"
                );
                assert!((z[0] - (expit(raw) - y as f64)).abs() < 1e-15);
            }
        }
    }
}
