//! The MLP's parameters, forward pass and objective, written out by hand over `f64` slices.
//!
//! Layout: units `[d, h₁, …, h_L, o]`, weight layers `l = 0..=L`, parameters packed as
//! scikit-learn's `_pack` packs them: every coefficient matrix `W_l` `(units[l] × units[l+1])`
//! row-major, then every intercept vector `b_l`.
//!
//! Objective (scikit-learn's `_backprop`, sample weights 1): with `a₀ = X`,
//! `a_{l+1} = relu(a_l·W_l + b_l)` for the hidden layers and `P = out(a_L·W_L + b_L)`,
//!
//! - softmax output (`K ≥ 3` classes): `f = (1/n) Σ_i −ln clip(P_{i,y_i})`;
//! - one logistic output (two classes): `f = (1/n) Σ_i −[y_i ln clip(p_i) + (1 − y_i) ln(1 − clip(p_i))]`;
//! - identity output (`t` targets): `f = (1/(2·n·t)) Σ_{i,j} (Y_ij − P_ij)²`;
//!
//! plus `(α/(2n)) Σ_l ‖W_l‖²_F` (intercepts not penalised), `clip` to `[ε, 1 − ε]` (`ε` the
//! `f64` machine epsilon). Gradient as scikit-learn computes it: `δ_L = P − Y`,
//! `δ_{l−1} = (δ_l·W_lᵀ) ⊙ [a_l ≠ 0]`, `∇W_l = (a_lᵀ·δ_l + α·W_l)/n`, `∇b_l = (1/n) Σ_i δ_l`.
//! It is the exact gradient of `f` wherever no probability is clipped, except for the identity
//! output with `t ≥ 2` targets: scikit-learn's loss averages over the `t` columns, its gradient
//! does not (it is the gradient of `t·f`'s data term). We keep its pair, so the L-BFGS runs match.
//!
//! Parallelism: rows in fixed blocks of [`BLOCK_ROWS`]; each block's partial gradient and loss
//! are added in block order, so the result is bit-identical for any `RAYON_NUM_THREADS`. The
//! products go through the crate's GEMM (`tensor::gemm`), itself thread-count independent.

use crate::error::{Error, Result};
use crate::tensor::gemm::gemm;
use rayon::prelude::*;

/// Rows per parallel block. Fixed (never derived from the thread count), so the block sums and
/// their order are the same for any number of threads; 1 024 rows of 100 hidden units are
/// 800 KiB per activation buffer, and 60 000 rows make 59 blocks for load balance.
pub const BLOCK_ROWS: usize = 1024;

/// Layer sizes `[d, hidden…, outputs]` and where each layer's parameters sit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    units: Vec<usize>,
}

impl Layout {
    /// The layout of `units` (`[d, hidden…, outputs]`, each ≥ 1, at least two entries).
    ///
    /// Errors: [`Error::InvalidArgument`] for fewer than two sizes or a size of 0.
    pub fn new(units: &[usize]) -> Result<Layout> {
        if units.len() < 2 || units.contains(&0) {
            return Err(Error::invalid(
                "MLP",
                format!("layer sizes {units:?}: need [inputs, hidden…, outputs], each ≥ 1"),
            ));
        }
        Ok(Layout {
            units: units.to_vec(),
        })
    }

    /// The layer sizes.
    pub fn units(&self) -> &[usize] {
        &self.units
    }

    /// Weight layers (`hidden layers + 1`).
    pub fn n_layers(&self) -> usize {
        self.units.len() - 1
    }

    /// Outputs of the last layer.
    pub fn n_outputs(&self) -> usize {
        self.units[self.units.len() - 1]
    }

    /// Number of coefficients (the penalised parameters, packed first).
    pub fn n_coefs(&self) -> usize {
        self.units.windows(2).map(|w| w[0] * w[1]).sum()
    }

    /// Number of parameters: coefficients then intercepts.
    pub fn n_params(&self) -> usize {
        self.n_coefs() + self.units[1..].iter().sum::<usize>()
    }

    /// The range of `W_l` in the packed parameters.
    pub fn coef_range(&self, l: usize) -> std::ops::Range<usize> {
        let start: usize = self.units.windows(2).take(l).map(|w| w[0] * w[1]).sum();
        start..start + self.units[l] * self.units[l + 1]
    }

    /// The range of `b_l` in the packed parameters.
    pub fn intercept_range(&self, l: usize) -> std::ops::Range<usize> {
        let start = self.n_coefs() + self.units[1..=l].iter().sum::<usize>();
        start..start + self.units[l + 1]
    }
}

/// What the output layer computes (and the loss it is scored by).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputActivation {
    /// Softmax over the outputs, cross-entropy (three or more classes).
    Softmax,
    /// One logistic output, binary cross-entropy (two classes).
    Logistic,
    /// Identity, half the squared error (regression).
    Identity,
}

/// The targets the objective scores against.
#[derive(Clone, Copy, Debug)]
pub enum Targets<'a> {
    /// Class codes in `0..K` for a softmax output of `K ≥ 3` units.
    Softmax(&'a [usize]),
    /// Class codes in `{0, 1}` (1: the positive class) for one logistic output.
    Logistic(&'a [usize]),
    /// Regression targets, `(n, t)` row-major, for `t` identity outputs.
    Identity(&'a [f64]),
}

impl Targets<'_> {
    fn activation(self) -> OutputActivation {
        match self {
            Targets::Softmax(_) => OutputActivation::Softmax,
            Targets::Logistic(_) => OutputActivation::Logistic,
            Targets::Identity(_) => OutputActivation::Identity,
        }
    }
}

/// One block's activations `a_1..a_{L+1}` and deltas `δ_0..δ_L`, each `BLOCK_ROWS × units`.
struct Scratch {
    acts: Vec<Vec<f64>>,
    deltas: Vec<Vec<f64>>,
}

impl Scratch {
    fn new(layout: &Layout) -> Scratch {
        let bufs = || {
            layout.units[1..]
                .iter()
                .map(|&u| vec![0.0; BLOCK_ROWS * u])
                .collect()
        };
        Scratch {
            acts: bufs(),
            deltas: bufs(),
        }
    }
}

/// `P` for `m ≤ BLOCK_ROWS` rows `x` `(m × d)`: fills `acts[l]` with `a_{l+1}` (the last one
/// after the output activation).
fn forward(
    layout: &Layout,
    params: &[f64],
    out: OutputActivation,
    x: &[f64],
    m: usize,
    acts: &mut [Vec<f64>],
) {
    let u = &layout.units;
    let last = layout.n_layers() - 1;
    for l in 0..=last {
        let (done, rest) = acts.split_at_mut(l);
        let input: &[f64] = if l == 0 { x } else { &done[l - 1][..m * u[l]] };
        let a = &mut rest[0][..m * u[l + 1]];
        // a_{l+1} (m × u[l+1]) = a_l (m × u[l]) · W_l (u[l] × u[l+1]).
        let w = &params[layout.coef_range(l)];
        gemm(false, false, m, u[l + 1], u[l], 1.0, input, w, 0.0, a);
        let b = &params[layout.intercept_range(l)];
        for row in a.chunks_exact_mut(u[l + 1]) {
            row.iter_mut().zip(b).for_each(|(v, bj)| *v += bj);
            if l < last {
                row.iter_mut().for_each(|v| *v = v.max(0.0));
            } else {
                activate(out, row);
            }
        }
    }
}

/// The output activation on one row, as scikit-learn's `inplace_softmax` / `logistic_sigmoid`.
fn activate(out: OutputActivation, row: &mut [f64]) {
    match out {
        OutputActivation::Softmax => {
            let mx = row.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
            let mut s = 0.0;
            for v in row.iter_mut() {
                *v = (*v - mx).exp();
                s += *v;
            }
            row.iter_mut().for_each(|v| *v /= s);
        }
        OutputActivation::Logistic => row.iter_mut().for_each(|v| *v = expit(*v)),
        OutputActivation::Identity => {}
    }
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

/// scikit-learn's `np.clip(p, ε, 1 − ε)` of its log losses.
fn clip(p: f64) -> f64 {
    p.clamp(f64::EPSILON, 1.0 - f64::EPSILON)
}

/// The network's outputs for row-major `x` `(m × d)`, `(m × outputs)`, blocks in parallel.
pub fn predict(layout: &Layout, params: &[f64], out: OutputActivation, x: &[f64]) -> Vec<f64> {
    let (d, o) = (layout.units[0], layout.n_outputs());
    let m = x.len() / d;
    let mut p = vec![0.0; m * o];
    p.par_chunks_mut(BLOCK_ROWS * o).enumerate().for_each_init(
        || Scratch::new(layout),
        |s, (bi, chunk)| {
            let rows = chunk.len() / o;
            let xb = &x[bi * BLOCK_ROWS * d..(bi * BLOCK_ROWS + rows) * d];
            forward(layout, params, out, xb, rows, &mut s.acts);
            chunk.copy_from_slice(&s.acts[layout.n_layers() - 1][..rows * o]);
        },
    );
    p
}

/// One block's unscaled sums: `Σ a_lᵀ·δ_l` and `Σ δ_l` (packed), and `Σ` of the row losses.
struct BlockOut {
    grad: Vec<f64>,
    loss: f64,
}

/// The penalised MLP objective and its gradient (formulas in the module docs).
pub struct MlpObjective<'a> {
    x: &'a [f64],
    n: usize,
    layout: Layout,
    targets: Targets<'a>,
    alpha: f64,
    blocks: Vec<BlockOut>,
}

impl<'a> MlpObjective<'a> {
    /// The objective on row-major features `x` `(n, units[0])` with `targets`, for the network
    /// of `units` `[d, hidden…, outputs]` and L2 penalty `alpha`.
    ///
    /// Errors: [`Error::Shape`] if `x` or the targets do not match `n` and `units` (a softmax
    /// needs `outputs ≥ 3`, a logistic output 1); [`Error::InvalidArgument`] for a class code out
    /// of range, a bad layer size, or `alpha` not finite and `≥ 0`.
    pub fn new(
        x: &'a [f64],
        n: usize,
        units: &[usize],
        targets: Targets<'a>,
        alpha: f64,
    ) -> Result<Self> {
        const OP: &str = "MlpObjective::new";
        let layout = Layout::new(units)?;
        let (d, o) = (units[0], layout.n_outputs());
        let (len, outputs_ok, codes) = match targets {
            Targets::Softmax(c) => (c.len(), o >= 3, Some((c, o))),
            Targets::Logistic(c) => (c.len(), o == 1, Some((c, 2))),
            Targets::Identity(y) => (y.len() / o, y.len() % o == 0, None),
        };
        if n == 0 || x.len() != n * d || len != n || !outputs_ok {
            return Err(Error::shape(
                OP,
                format!(
                    "X of {n}×{d}, targets for {n} rows and {o} outputs (softmax ≥ 3, \
                     logistic 1)"
                ),
                &[&[x.len()], &[len], units],
            ));
        }
        if let Some((codes, k)) = codes {
            if let Some(i) = codes.iter().position(|&c| c >= k) {
                return Err(Error::invalid(
                    OP,
                    format!("class code {} at row {i} is not below {k}", codes[i]),
                ));
            }
        }
        if !(alpha.is_finite() && alpha >= 0.0) {
            return Err(Error::invalid(
                OP,
                format!("alpha must be finite and ≥ 0, got {alpha}"),
            ));
        }
        let n_params = layout.n_params();
        let blocks = (0..n.div_ceil(BLOCK_ROWS))
            .map(|_| BlockOut {
                grad: vec![0.0; n_params],
                loss: 0.0,
            })
            .collect();
        Ok(MlpObjective {
            x,
            n,
            layout,
            targets,
            alpha,
            blocks,
        })
    }

    /// The network's layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Number of parameters (coefficients then intercepts, scikit-learn's packing).
    pub fn n_params(&self) -> usize {
        self.layout.n_params()
    }

    /// `f(params)`, writing `∇f(params)` into `grad`.
    ///
    /// # Panics
    /// If `params` or `grad` is not [`n_params`](Self::n_params) long (a caller bug).
    pub fn value_grad(&mut self, params: &[f64], grad: &mut [f64]) -> f64 {
        let np = self.n_params();
        assert!(
            params.len() == np && grad.len() == np,
            "MlpObjective::value_grad: parameter length"
        );
        let (layout, x, targets) = (&self.layout, self.x, self.targets);
        let d = layout.units[0];
        let n = self.n;
        self.blocks.par_iter_mut().enumerate().for_each_init(
            || Scratch::new(layout),
            |s, (bi, out)| {
                let r0 = bi * BLOCK_ROWS;
                let m = BLOCK_ROWS.min(n - r0);
                block(
                    layout,
                    params,
                    targets,
                    &x[r0 * d..(r0 + m) * d],
                    r0,
                    m,
                    s,
                    out,
                );
            },
        );
        // Add the block sums in block order (independent of the thread count).
        grad.fill(0.0);
        let mut loss = 0.0;
        for b in &self.blocks {
            loss += b.loss;
            grad.iter_mut().zip(&b.grad).for_each(|(g, v)| *g += v);
        }
        let nf = n as f64;
        let n_coefs = layout.n_coefs();
        let (gw, gb) = grad.split_at_mut(n_coefs);
        let mut squares = 0.0;
        for (g, &w) in gw.iter_mut().zip(&params[..n_coefs]) {
            *g = (*g + self.alpha * w) / nf;
            squares += w * w;
        }
        gb.iter_mut().for_each(|g| *g /= nf);
        let data = match targets {
            Targets::Identity(_) => loss / (2.0 * nf * layout.n_outputs() as f64),
            _ => loss / nf,
        };
        data + 0.5 * self.alpha * squares / nf
    }
}

/// Forward and backward pass over the `m` rows `x` starting at row `r0`, into `out`.
#[allow(clippy::too_many_arguments)]
fn block(
    layout: &Layout,
    params: &[f64],
    targets: Targets,
    x: &[f64],
    r0: usize,
    m: usize,
    s: &mut Scratch,
    out: &mut BlockOut,
) {
    let u = &layout.units;
    let last = layout.n_layers() - 1;
    forward(layout, params, targets.activation(), x, m, &mut s.acts);
    // δ_L = P − Y and the rows' losses.
    let o = u[last + 1];
    let p = &s.acts[last][..m * o];
    let delta = &mut s.deltas[last][..m * o];
    delta.copy_from_slice(p);
    let mut loss = 0.0;
    match targets {
        Targets::Softmax(codes) => {
            for (row, &y) in delta.chunks_exact_mut(o).zip(&codes[r0..r0 + m]) {
                loss -= clip(row[y]).ln();
                row[y] -= 1.0;
            }
        }
        Targets::Logistic(codes) => {
            for (v, &y) in delta.iter_mut().zip(&codes[r0..r0 + m]) {
                let pc = clip(*v);
                loss -= if y == 1 { pc.ln() } else { (1.0 - pc).ln() };
                *v -= y as f64;
            }
        }
        Targets::Identity(y) => {
            for (v, &yi) in delta.iter_mut().zip(&y[r0 * o..(r0 + m) * o]) {
                loss += (yi - *v) * (yi - *v);
                *v -= yi;
            }
        }
    }
    out.loss = loss;
    for l in (0..=last).rev() {
        let (lower, upper) = s.deltas.split_at_mut(l);
        let dl = &upper[0][..m * u[l + 1]];
        let input: &[f64] = if l == 0 {
            x
        } else {
            &s.acts[l - 1][..m * u[l]]
        };
        // ∇W_l sum (u[l] × u[l+1]) = a_lᵀ (a_l stored m × u[l]) · δ_l (m × u[l+1]).
        gemm(
            true,
            false,
            u[l],
            u[l + 1],
            m,
            1.0,
            input,
            dl,
            0.0,
            &mut out.grad[layout.coef_range(l)],
        );
        let gb = &mut out.grad[layout.intercept_range(l)];
        gb.fill(0.0);
        for row in dl.chunks_exact(u[l + 1]) {
            gb.iter_mut().zip(row).for_each(|(g, v)| *g += v);
        }
        if l > 0 {
            // δ_{l−1} (m × u[l]) = δ_l (m × u[l+1]) · W_lᵀ (W_l stored u[l] × u[l+1]), then
            // zero where the ReLU was inactive (a_l = 0).
            let prev = &mut lower[l - 1][..m * u[l]];
            let w = &params[layout.coef_range(l)];
            gemm(false, true, m, u[l], u[l + 1], 1.0, dl, w, 0.0, prev);
            prev.iter_mut()
                .zip(&s.acts[l - 1][..m * u[l]])
                .for_each(|(dv, &a)| {
                    if a == 0.0 {
                        *dv = 0.0;
                    }
                });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_packs_coefficients_then_intercepts() {
        let l = Layout::new(&[3, 4, 2]).unwrap();
        assert_eq!(l.coef_range(0), 0..12);
        assert_eq!(l.coef_range(1), 12..20);
        assert_eq!(l.intercept_range(0), 20..24);
        assert_eq!(l.intercept_range(1), 24..26);
        assert_eq!(l.n_params(), 26);
        assert!(Layout::new(&[3]).is_err());
        assert!(Layout::new(&[3, 0, 2]).is_err());
    }

    /// A network `[1, 1, 1]` worked by hand: `w₀ = 2, w₁ = −3, b₀ = −1, b₁ = 0.5`, identity
    /// output, x = [1, 0], y = [0, 1], α = 0.
    /// Row 0: h = relu(2·1 − 1) = 1, p = −3·1 + 0.5 = −2.5, residual −2.5.
    /// Row 1: h = relu(−1) = 0, p = 0.5, residual −0.5.
    /// f = (6.25 + 0.25) / (2·2·1) = 1.625.
    /// ∇w₁ = (1·(−2.5) + 0·(−0.5))/2 = −1.25; ∇b₁ = (−2.5 − 0.5)/2 = −1.5.
    /// δ₀ = δ₁·w₁ ⊙ [h ≠ 0] = [7.5, 0]: ∇w₀ = (1·7.5)/2 = 3.75, ∇b₀ = 7.5/2 = 3.75.
    #[test]
    fn hand_worked_regression_network() {
        let x = [1.0, 0.0];
        let y = [0.0, 1.0];
        let mut obj = MlpObjective::new(&x, 2, &[1, 1, 1], Targets::Identity(&y), 0.0).unwrap();
        let params = [2.0, -3.0, -1.0, 0.5];
        let mut g = [0.0; 4];
        let f = obj.value_grad(&params, &mut g);
        assert_eq!(f, 1.625);
        assert_eq!(g, [3.75, -1.25, 3.75, -1.5]);
    }
}
