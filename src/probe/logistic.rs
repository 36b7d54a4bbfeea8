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
//! Each evaluation of the loss and gradient is one pass over `X` (module `kernel`): logits,
//! softmax and residual, and `Xᵀ·R`, per tile of 128 rows kept in L1, four rows per SIMD vector,
//! with a vectorised `exp`, `X` held as `f32` when that is exact. Fixed blocks of rows run in
//! parallel and their partial sums are added in block order, so the result is bit-identical
//! for any `RAYON_NUM_THREADS`.

use super::{
    as_f64, check_features, check_label_len, check_predict_features, encode_labels, not_fitted,
    Classifier, Probe,
};
use crate::error::{Error, Result};
use crate::linalg::lbfgs::{self, LbfgsOptions, Termination};
use crate::tensor::gemm::gemm;
use crate::tensor::{Element, Tensor};
use kernel::{BlockOut, Model, Panels, Pass};
use lanes::F4;
use rayon::prelude::*;

mod kernel;
mod lanes;

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
        let xs = x.host_values()?;
        let mut objective =
            LogisticObjective::new(&xs, n, d, &codes, classes.len(), self.c, self.fit_intercept)?;
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
/// `fit_intercept`; `rows = 1` for two classes, `K` otherwise. Each evaluation is one pass
/// over `X` (module `kernel`), which the objective holds repacked (in `f32` where that is
/// exact, else in `f64`).
pub struct LogisticObjective {
    panels: Panels,
    /// The class codes, packed by [`kernel::pack_labels`].
    labels: Vec<F4>,
    model: Model,
    fit_intercept: bool,
    /// `λ = 1/(C·n)`.
    l2: f64,
    /// Whether the pass runs its AVX2 + FMA build (see module `kernel`).
    fused: bool,
    blocks: Vec<BlockOut>,
    /// `Wᵀ` `(dp × rows_padded)` and `b` padded to the pass's layout.
    w_padded: Vec<f64>,
    b_padded: Vec<f64>,
}

impl LogisticObjective {
    /// The objective for row-major features `x` `(n, d)` (`f32` or `f64`; computed in `f64`),
    /// class codes `codes` in `0..n_classes`, and inverse regularisation `c`.
    ///
    /// Errors: [`Error::Shape`] if the lengths do not match; [`Error::InvalidArgument`] for
    /// fewer than 2 classes, a code out of range, or `c ≤ 0`.
    pub fn new<T: Element>(
        x: &[T],
        n: usize,
        d: usize,
        codes: &[usize],
        n_classes: usize,
        c: f64,
        fit_intercept: bool,
    ) -> Result<Self> {
        const OP: &str = "LogisticObjective::new";
        if x.len() != n * d || codes.len() != n || n == 0 || d == 0 {
            return Err(Error::shape(
                OP,
                format!("X of {n}×{d} and {n} labels, n ≥ 1, d ≥ 1"),
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
        let model = if n_classes == 2 {
            Model::Binary
        } else {
            Model::Multinomial { classes: n_classes }
        };
        let panels = Panels::pack(x, n, d, T::to_f64);
        let labels = kernel::pack_labels(codes, &panels);
        let blocks = (0..panels.n_blocks())
            .map(|_| BlockOut::new(model, &panels))
            .collect();
        let (kp, dp) = (model.rows_padded(), panels.dp);
        Ok(LogisticObjective {
            panels,
            labels,
            model,
            fit_intercept,
            l2: 1.0 / (c * n as f64),
            fused: kernel::has_avx2_fma(),
            blocks,
            w_padded: vec![0.0; kp * dp],
            b_padded: vec![0.0; kp],
        })
    }

    /// Rows of `W`: 1 for the binary model, `K` for the multinomial one.
    pub fn rows(&self) -> usize {
        self.model.rows()
    }

    /// Number of parameters: `rows·d`, plus `rows` intercepts with `fit_intercept`.
    pub fn n_params(&self) -> usize {
        let rows = self.rows();
        rows * self.panels.d + if self.fit_intercept { rows } else { 0 }
    }

    /// `f(params)`, writing `∇f(params)` into `grad`.
    ///
    /// # Panics
    /// If `params` or `grad` is not [`n_params`](Self::n_params) long (a caller bug).
    pub fn value_grad(&mut self, params: &[f64], grad: &mut [f64]) -> f64 {
        let (d, dp, rows) = (self.panels.d, self.panels.dp, self.rows());
        assert!(
            params.len() == self.n_params() && grad.len() == self.n_params(),
            "LogisticObjective::value_grad: parameter length"
        );
        let w = &params[..rows * d];
        let kp = self.model.rows_padded();
        for (k, row) in w.chunks(d).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                self.w_padded[j * kp + k] = v;
            }
        }
        if self.fit_intercept {
            self.b_padded[..rows].copy_from_slice(&params[rows * d..]);
        }
        let pass = Pass {
            model: self.model,
            panels: &self.panels,
            labels: &self.labels,
            w: &self.w_padded,
            b: &self.b_padded,
        };
        let fused = self.fused;
        self.blocks
            .par_iter_mut()
            .enumerate()
            .for_each(|(bi, out)| kernel::block(fused, &pass, bi, out));
        // Sum the block partials in block order (thread-count independent).
        grad.fill(0.0);
        let mut loss = 0.0;
        let (gw, gb) = grad.split_at_mut(rows * d);
        for blk in &self.blocks {
            loss += blk.loss;
            for (g, part) in gw.chunks_mut(d).zip(blk.gw.chunks(dp)) {
                g.iter_mut().zip(part).for_each(|(g, v)| *g += v);
            }
            if self.fit_intercept {
                gb.iter_mut().zip(&blk.gb).for_each(|(g, v)| *g += v);
            }
        }
        let inv_n = 1.0 / self.panels.n as f64;
        let mut penalty = 0.0;
        for (g, &wi) in gw.iter_mut().zip(w) {
            *g = *g * inv_n + self.l2 * wi;
            penalty += wi * wi;
        }
        gb.iter_mut().for_each(|g| *g *= inv_n);
        loss * inv_n + 0.5 * self.l2 * penalty
    }
}

/// One binary row: the loss `log(1 + e^z) − y·z` and its derivative `σ(z) − y` for the logit
/// `z` and `y ∈ {0, 1}`, with scikit-learn's branches for a stable `log1p(exp)`.
fn binary_point(raw: f64, y: usize) -> (f64, f64) {
    let yt = y as f64;
    if raw > 0.0 {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_loss_matches_the_formula_across_branches() {
        for &raw in &[-50.0, -20.0, -1.0, 0.0, 0.5, 10.0, 25.0, 40.0] {
            for y in 0..2usize {
                let (l, g) = binary_point(raw, y);
                let exact = f64::exp(raw).ln_1p() - y as f64 * raw;
                assert!(
                    (l - exact).abs() <= 1e-12 * exact.abs().max(1e-300),
                    "{raw} {y}"
                );
                assert!((g - (expit(raw) - y as f64)).abs() < 1e-15);
            }
        }
    }

    /// Row-major `(n, d)` features and codes in `0..k` with overlapping classes.
    fn data(n: usize, d: usize, k: usize) -> (Vec<f64>, Vec<usize>) {
        let x = (0..n * d)
            .map(|i| ((i * 2_654_435_761 % 1_000) as f64 / 250.0 - 2.0) + (i % d) as f64 * 0.05)
            .collect();
        let codes = (0..n).map(|i| (i * 7 + i / 3) % k).collect();
        (x, codes)
    }

    /// The objective written out row by row, with libm's exp and ln.
    fn naive(x: &[f64], d: usize, codes: &[usize], k: usize, params: &[f64]) -> (f64, Vec<f64>) {
        let rows = if k == 2 { 1 } else { k };
        let n = codes.len();
        let (w, b) = params.split_at(rows * d);
        let mut g = vec![0.0; rows * d + rows];
        let mut loss = 0.0;
        for (xi, &y) in x.chunks(d).zip(codes) {
            let z: Vec<f64> = (0..rows)
                .map(|r| b[r] + (0..d).map(|j| w[r * d + j] * xi[j]).sum::<f64>())
                .collect();
            let res: Vec<f64> = if rows == 1 {
                let (l, r) = binary_point(z[0], y);
                loss += l;
                vec![r]
            } else {
                let m = z.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
                let s: f64 = z.iter().map(|v| (v - m).exp()).sum();
                loss += m + s.ln() - z[y];
                (0..k)
                    .map(|c| (z[c] - m).exp() / s - f64::from(u8::from(c == y)))
                    .collect()
            };
            for (r, rv) in res.iter().enumerate() {
                for j in 0..d {
                    g[r * d + j] += rv * xi[j];
                }
                g[rows * d + r] += rv;
            }
        }
        let l2 = 1.0 / n as f64; // C = 1
        let penalty: f64 = w.iter().map(|v| v * v).sum();
        for (i, gi) in g.iter_mut().enumerate() {
            *gi /= n as f64;
            if i < rows * d {
                *gi += l2 * w[i];
            }
        }
        (loss / n as f64 + 0.5 * l2 * penalty, g)
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    fn with_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool")
            .install(f)
    }

    #[test]
    fn both_builds_of_the_pass_match_the_row_by_row_objective() {
        // 2 100 rows: three parallel blocks and a last tile with padding rows; d = 7 (padded
        // features); K = 2 (binary), 3 and 10 (padded classes, two class steps); X held in
        // f64, and in f32 where every value is exactly an f32.
        let (n, d) = (2_100, 7);
        for (k, exact_f32) in [(2, false), (3, false), (10, false), (3, true), (10, true)] {
            let (mut x, codes) = data(n, d, k);
            if exact_f32 {
                x.iter_mut().for_each(|v| *v = f64::from(*v as f32));
            }
            let mut obj = LogisticObjective::new(&x, n, d, &codes, k, 1.0, true).unwrap();
            assert_eq!(obj.panels.is_f32(), exact_f32);
            let np = obj.n_params();
            let params: Vec<f64> = (0..np).map(|i| ((i * 5 % 11) as f64 - 5.0) / 7.0).collect();
            let (want_f, want_g) = naive(&x, d, &codes, k, &params);
            let mut builds = vec![false];
            if kernel::has_avx2_fma() {
                builds.push(true);
            }
            for fused in builds {
                obj.fused = fused;
                let mut g = vec![0.0; np];
                let f = obj.value_grad(&params, &mut g);
                assert!(
                    (f - want_f).abs() <= 1e-13 * want_f.abs(),
                    "k={k} {fused}: {f} {want_f}"
                );
                let scale = want_g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                for (i, (a, b)) in g.iter().zip(&want_g).enumerate() {
                    assert!(
                        (a - b).abs() <= 1e-13 * scale,
                        "k={k} {fused} grad {i}: {a} {b}"
                    );
                }
            }
        }
    }

    /// The objective computed as before the fused pass: two GEMMs (`Z = X·Wᵀ`, then
    /// `G = Rᵀ·X`) around a separate softmax with libm's `exp` and `ln`.
    fn two_pass(x: &[f64], d: usize, codes: &[usize], k: usize, params: &[f64]) -> (f64, Vec<f64>) {
        let n = codes.len();
        let (w, b) = params.split_at(k * d);
        let mut z = vec![0.0; n * k];
        // z (n × k) = X (n × d) · Wᵀ (d × k).
        gemm(false, true, n, k, d, 1.0, x, w, 0.0, &mut z);
        let mut loss = 0.0;
        for (zi, &y) in z.chunks_mut(k).zip(codes) {
            zi.iter_mut().zip(b).for_each(|(v, bk)| *v += bk);
            let m = zi.iter().fold(f64::NEG_INFINITY, |a, &v| a.max(v));
            let s: f64 = zi.iter().map(|v| (v - m).exp()).sum();
            loss += m + s.ln() - zi[y];
            for (c, v) in zi.iter_mut().enumerate() {
                *v = (*v - m).exp() / s - f64::from(u8::from(c == y));
            }
        }
        let mut g = vec![0.0; k * d + k];
        // G (k × d) = Rᵀ (k × n) · X (n × d).
        gemm(true, false, k, d, n, 1.0, &z, x, 0.0, &mut g[..k * d]);
        for r in z.chunks(k) {
            g[k * d..].iter_mut().zip(r).for_each(|(gb, v)| *gb += v);
        }
        let (inv_n, l2) = (1.0 / n as f64, 1.0 / n as f64); // C = 1
        let penalty: f64 = w.iter().map(|v| v * v).sum();
        for (i, gi) in g.iter_mut().enumerate() {
            *gi *= inv_n;
            if i < k * d {
                *gi += l2 * w[i];
            }
        }
        (loss * inv_n + 0.5 * l2 * penalty, g)
    }

    #[test]
    fn the_fused_pass_equals_the_two_pass_computation_within_1e_12() {
        // 60 000 × 32 would be the bench's size; 9 000 × 32 keeps the test short and still
        // spans 9 parallel blocks and a last, padded tile. Logits up to about ±15, where the
        // softmax is far from uniform; X held in f32 as embeddings are, and in f64.
        let (n, d, k) = (9_001, 32, 10);
        for exact_f32 in [true, false] {
            let (mut x, codes) = data(n, d, k);
            if exact_f32 {
                x.iter_mut().for_each(|v| *v = f64::from(*v as f32));
            }
            let mut obj = LogisticObjective::new(&x, n, d, &codes, k, 1.0, true).unwrap();
            assert_eq!(obj.panels.is_f32(), exact_f32);
            let params: Vec<f64> = (0..obj.n_params())
                .map(|i| ((i * 7 % 13) as f64 - 6.0) / 8.0)
                .collect();
            let (want_f, want_g) = two_pass(&x, d, &codes, k, &params);
            let mut builds = vec![false];
            if kernel::has_avx2_fma() {
                builds.push(true);
            }
            for fused in builds {
                obj.fused = fused;
                let mut g = vec![0.0; params.len()];
                let f = obj.value_grad(&params, &mut g);
                let rel = |a: f64, b: f64, scale: f64| (a - b).abs() / scale;
                assert!(
                    rel(f, want_f, want_f.abs()) <= 1e-12,
                    "{fused}: {f} {want_f}"
                );
                let scale = want_g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                for (i, (a, b)) in g.iter().zip(&want_g).enumerate() {
                    assert!(rel(*a, *b, scale) <= 1e-12, "{fused} grad {i}: {a} {b}");
                }
            }
        }
    }

    #[test]
    fn each_build_is_bit_identical_for_1_and_2_threads() {
        let (n, d, k) = (5_000, 9, 4);
        let (x, codes) = data(n, d, k);
        let mut builds = vec![false];
        if kernel::has_avx2_fma() {
            builds.push(true);
        }
        for fused in builds {
            let run = |threads| {
                with_threads(threads, || {
                    let mut obj = LogisticObjective::new(&x, n, d, &codes, k, 1.0, true).unwrap();
                    obj.fused = fused;
                    let params: Vec<f64> = (0..obj.n_params()).map(|i| (i as f64).sin()).collect();
                    let mut g = vec![0.0; params.len()];
                    let f = obj.value_grad(&params, &mut g);
                    (f.to_bits(), bits(&g))
                })
            };
            assert_eq!(run(1), run(2), "fused {fused}");
        }
    }

    #[test]
    fn a_non_finite_logit_makes_the_loss_non_finite() {
        let (n, d, k) = (300, 3, 5);
        let (x, codes) = data(n, d, k);
        let mut obj = LogisticObjective::new(&x, n, d, &codes, k, 1.0, true).unwrap();
        let mut params = vec![0.1; obj.n_params()];
        params[4] = f64::NAN;
        let mut g = vec![0.0; params.len()];
        assert!(obj.value_grad(&params, &mut g).is_nan());
        params[4] = 1e308;
        assert!(!obj.value_grad(&params, &mut g).is_finite());
    }
}
