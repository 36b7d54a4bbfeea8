//! y-Aware InfoNCE (Dufumier et al., MICCAI 2021), as nidl's `YAwareInfoNCE` computes it, with
//! the kernel metric (`KernelMetric`) that turns labels into pair weights.

use super::{check_views, positive_mask};
use crate::autograd::{Graph, Var};
use crate::error::{Error, Result};
use crate::tensor::{BinaryOp, Element, Tensor};

/// What nidl subtracts from the self-similarities (after the temperature scaling), so that
/// `e^{s_ii/τ − 1e8}` vanishes from every softmax.
pub const SELF_SIMILARITY_PENALTY: f64 = 1e8;

/// The radial kernel `K` applied to the whitened label distance `r = ‖H^{−1/2}(y_i − y_j)‖`,
/// without normalisation constants (nidl's `KernelMetric` kernels; scikit-learn's
/// `KernelDensity` kernels up to their constants). Every kernel has `K(0) = 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Kernel {
    /// `K(r) = e^{−r²/2}`.
    #[default]
    Gaussian,
    /// `K(r) = 1 − r²` for `r < 1`, else 0.
    Epanechnikov,
    /// `K(r) = e^{−r}`.
    Exponential,
    /// `K(r) = 1 − r` for `r < 1`, else 0.
    Linear,
    /// `K(r) = cos(π r / 2)` for `r < 1`, else 0.
    Cosine,
}

impl Kernel {
    /// `K(r)` for a distance `r ≥ 0` (the compact kernels are 0 for `r ≥ 1`, as nidl's strict
    /// `|x| < 1`).
    pub fn eval(self, r: f64) -> f64 {
        match self {
            Kernel::Gaussian => (-(r * r) / 2.0).exp(),
            Kernel::Epanechnikov => {
                if r.abs() < 1.0 {
                    1.0 - r * r
                } else {
                    0.0
                }
            }
            Kernel::Exponential => (-r).exp(),
            Kernel::Linear => {
                if r.abs() < 1.0 {
                    1.0 - r
                } else {
                    0.0
                }
            }
            Kernel::Cosine => {
                if r.abs() < 1.0 {
                    (std::f64::consts::PI * r / 2.0).cos()
                } else {
                    0.0
                }
            }
        }
    }
}

/// The bandwidth `H` (a `k × k` symmetric positive-definite matrix for `k`-dimensional labels)
/// of the kernel metric `w_ij = K(‖H^{−1/2}(y_i − y_j)‖)`.
///
/// The distance is computed as `‖L⁻¹u‖` with the Cholesky factor `H = LLᵀ`, so that
/// `‖L⁻¹u‖² = uᵀH⁻¹u` — all a radial kernel needs. For the diagonal forms this is nidl's
/// `u / √h` exactly.
#[derive(Clone, Debug, PartialEq)]
pub enum Bandwidth {
    /// `H = σ² I`, the value given being `σ²` (nidl's scalar `bandwidth`; its y-Aware default
    /// is 1). Must be positive and finite.
    Scalar(f64),
    /// `H = diag(h)`, one positive entry per label dimension.
    Diagonal(Vec<f64>),
    /// `H` as a full row-major `k × k` matrix; must be symmetric positive definite.
    ///
    /// nidl 0.0.1 whitens with the symmetric `H^{−1/2}` (from `eigh`; elementwise for a
    /// diagonal `H`), which gives the same distances `uᵀH⁻¹u` as the Cholesky form here, up to
    /// rounding. Unlike nidl, which refuses any negative entry of `H`, an SPD `H` with negative
    /// off-diagonal entries is accepted.
    Full(Vec<f64>),
    /// Scott's rule, as nidl's `KernelMetric` implements it:
    /// `H^{1/2} = n^{−1/(k+4)} · diag(σ_1, …, σ_k)` with `n = 2B` the stacked labels (both views)
    /// and `σ_j²` the unbiased variance (`np.cov(…, bias=False)`) of label dimension `j` over
    /// them. Only the diagonal of the covariance is used (unlike scipy's full-covariance
    /// `gaussian_kde`); a dimension with zero variance is ignored (nidl sets its inverse scale to
    /// 0). Estimated from the labels of each call; [`YAwareInfoNce::fit_bandwidth`] freezes it
    /// from one batch. nidl 0.0.1's `YAwareInfoNCE` takes Scott's or Silverman's rule only as a
    /// `KernelMetric(bandwidth="scott")` the user has fitted beforehand (on any labels, e.g. the
    /// whole training set) — an unfitted one is an error there — and never refits it.
    Scott,
    /// Silverman's rule, as Scott's but with factor `(n (k+2) / 4)^{−1/(k+4)}`.
    Silverman,
}

impl Default for Bandwidth {
    /// nidl's y-Aware default, `H = I`.
    fn default() -> Self {
        Bandwidth::Scalar(1.0)
    }
}

/// How the kernel weights `K_ij` (diagonal zeroed) are normalised into `w_ij`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Normalization {
    /// nidl's `weights /= weights.sum(axis=1)`: NumPy broadcasts the row sums along the last
    /// axis, so **column** `j` is divided by the sum of row `j`: `w_ij = K_ij / Σ_k K_jk`. As
    /// `K` is symmetric, this makes every column (not row) sum to 1. It reproduces nidl's
    /// numbers, hence the default.
    #[default]
    NidlColumns,
    /// True row normalisation, the paper's formula: `w_ij = K_ij / Σ_k K_ik` (every row sums to
    /// 1, each anchor's weights form a distribution over its candidates).
    Rows,
}

/// The y-Aware InfoNCE loss (Dufumier et al., "Contrastive Learning with Continuous Proxy
/// Meta-Data for 3D MRI Classification", MICCAI 2021), exactly as nidl's `YAwareInfoNCE`
/// computes it.
///
/// With `B` samples, their two views `z1`, `z2` and (optional) labels `y` (`[B]` or `[B, k]`),
/// stack the `2B` labels `ỹ = [y; y]` and let
///
/// - `K_ij = K(‖H^{−1/2}(ỹ_i − ỹ_j)‖)` for `i ≠ j`, `K_ii = 0` ([`Kernel`], [`Bandwidth`]);
/// - `w` the normalised weights ([`Normalization`]; nidl's default divides column `j` by row sum
///   `j`);
/// - `s_ab = normalize(z_a)·normalize(z_b)ᵀ` and the `2B × 2B` logits
///   `S = [[s11/τ − 1e8·I, s12/τ], [s12ᵀ/τ, s22/τ − 1e8·I]]` (nidl subtracts the `1e8` after
///   dividing by `τ`);
///
/// then `ℓ = −(1/B) Σ_{i,j<2B} w_ij · log_softmax(S)_ij`.
///
/// Precision: the weights are computed in `f64` and rounded to `T` before the product; nidl
/// multiplies its float64 weights into the float32 log-softmax, so its product and sum are
/// float64 (PyTorch's type promotion). The two differ by `T`'s rounding.
///
/// Note the `1/B` over `2B` rows: with weights concentrated on the positive pairs (a very
/// narrow kernel) the loss is twice nidl's unlabelled fallback, which averages over the `2B`
/// rows.
///
/// Without labels it is nidl's fallback, the two-sided InfoNCE
/// `ℓ = ½ [CE([s12/τ, s11/τ − 1e8·I], diag) + CE([s12ᵀ/τ, s22/τ − 1e8·I], diag)]`
/// `= −(1/2B) Σ_i log_softmax(S)_{i,p(i)}` with `p(i) = i ± B`, which equals
/// [`InfoNce`](super::InfoNce) up to rounding.
#[derive(Clone, Debug, PartialEq)]
pub struct YAwareInfoNce {
    /// The kernel `K` (nidl default: Gaussian).
    pub kernel: Kernel,
    /// The bandwidth `H` (nidl default: `Scalar(1.0)`).
    pub bandwidth: Bandwidth,
    /// `τ > 0` (nidl default 0.1).
    pub temperature: f64,
    /// How kernel weights are normalised (default: nidl's column normalisation).
    pub normalization: Normalization,
}

impl Default for YAwareInfoNce {
    /// nidl's defaults: Gaussian kernel, `H = I`, `τ = 0.1`, nidl's normalisation.
    fn default() -> Self {
        YAwareInfoNce {
            kernel: Kernel::Gaussian,
            bandwidth: Bandwidth::default(),
            temperature: 0.1,
            normalization: Normalization::NidlColumns,
        }
    }
}

/// The whitening `u ↦ A u` with `‖A u‖² = uᵀH⁻¹u` (`A = H^{−1/2}` up to a rotation).
enum Whitening {
    /// `A = diag(scale)`; a zero scale drops the dimension (nidl's degenerate Scott/Silverman).
    Scale(Vec<f64>),
    /// `A = L⁻¹` with `H = LLᵀ`, `L` lower-triangular row-major `k × k`.
    Cholesky(Vec<f64>),
}

impl Whitening {
    /// `A u` in place (forward substitution for the Cholesky form).
    fn apply(&self, u: &mut [f64]) {
        match self {
            Whitening::Scale(s) => u.iter_mut().zip(s).for_each(|(v, &s)| *v *= s),
            Whitening::Cholesky(l) => {
                let k = u.len();
                for i in 0..k {
                    let mut v = u[i];
                    for j in 0..i {
                        v -= l[i * k + j] * u[j];
                    }
                    u[i] = v / l[i * k + i];
                }
            }
        }
    }
}

/// The Cholesky factor `L` (row-major, lower-triangular) of an SPD `k × k` matrix, or `None` if
/// a pivot is not positive.
fn cholesky(h: &[f64], k: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..=i {
            let s: f64 = (0..j).map(|p| l[i * k + p] * l[j * k + p]).sum();
            if i == j {
                let d = h[i * k + i] - s;
                if !(d > 0.0 && d.is_finite()) {
                    return None;
                }
                l[i * k + i] = d.sqrt();
            } else {
                l[i * k + j] = (h[i * k + j] - s) / l[j * k + j];
            }
        }
    }
    Some(l)
}

/// Labels `[B]` or `[B, k]` as `(B, k, values in f64)`.
fn label_matrix<T: Element>(labels: &Tensor<T>) -> Result<(usize, usize, Vec<f64>)> {
    let (b, k) = match labels.shape() {
        &[b] => (b, 1),
        &[b, k] => (b, k),
        s => {
            return Err(Error::shape(
                "yaware_info_nce",
                "labels of shape [B] or [B, k]",
                &[s],
            ))
        }
    };
    if b == 0 || k == 0 {
        return Err(Error::shape(
            "yaware_info_nce",
            "labels of shape [B] or [B, k] with B ≥ 1 and k ≥ 1",
            &[labels.shape()],
        ));
    }
    let y: Vec<f64> = labels.data()?.iter().map(|v| v.to_f64()).collect();
    if let Some(i) = y.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            what: format!(
                "yaware_info_nce labels (sample {}, dimension {})",
                i / k,
                i % k
            ),
        });
    }
    Ok((b, k, y))
}

/// nidl's Scott or Silverman factor and the unbiased per-dimension variances of the `2B`
/// stacked labels (`y` repeated twice: the mean is that of `y`, the squared deviations count
/// twice over `2B − 1`).
fn rule_of_thumb(silverman: bool, b: usize, k: usize, y: &[f64]) -> (f64, Vec<f64>) {
    let n = (2 * b) as f64;
    let kf = k as f64;
    let factor = if silverman {
        (n * (kf + 2.0) / 4.0).powf(-1.0 / (kf + 4.0))
    } else {
        n.powf(-1.0 / (kf + 4.0))
    };
    let var = (0..k)
        .map(|j| {
            let col = || (0..b).map(|i| y[i * k + j]);
            let mean = col().sum::<f64>() / b as f64;
            2.0 * col().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0)
        })
        .collect();
    (factor, var)
}

impl YAwareInfoNce {
    /// The loss with the given kernel, bandwidth and temperature, and nidl's normalisation.
    pub fn new(kernel: Kernel, bandwidth: Bandwidth, temperature: f64) -> Self {
        YAwareInfoNce {
            kernel,
            bandwidth,
            temperature,
            normalization: Normalization::NidlColumns,
        }
    }

    /// The same loss with another weight normalisation.
    pub fn with_normalization(mut self, normalization: Normalization) -> Self {
        self.normalization = normalization;
        self
    }

    /// The bandwidth as a fixed value: explicit bandwidths are returned unchanged (once
    /// validated for `labels`' dimension), Scott's and Silverman's rules are evaluated on
    /// `labels` (`[B]` or `[B, k]`, stacked for the two views) and returned as
    /// `Diagonal(factor² · σ_j²)`.
    ///
    /// `loss.bandwidth = loss.fit_bandwidth(&labels)?` fixes a Scott or Silverman bandwidth from
    /// one batch's labels, stacked for the two views as the loss stacks them (what nidl's
    /// `KernelMetric.fit` gives on `[y; y]`). nidl 0.0.1 takes these rules only as a
    /// `KernelMetric` fitted beforehand and never refits it during training. Errors if a label
    /// dimension has zero variance (no fixed diagonal bandwidth represents nidl's "ignore that
    /// dimension").
    pub fn fit_bandwidth<T: Element>(&self, labels: &Tensor<T>) -> Result<Bandwidth> {
        let (b, k, y) = label_matrix(labels)?;
        match self.bandwidth {
            Bandwidth::Scott | Bandwidth::Silverman => {
                let (factor, var) = rule_of_thumb(self.bandwidth == Bandwidth::Silverman, b, k, &y);
                if let Some(j) = var.iter().position(|&v| v <= 0.0) {
                    return Err(Error::invalid(
                        "yaware_info_nce",
                        format!("label dimension {j} has zero variance over the {b} samples: no bandwidth to fit"),
                    ));
                }
                Ok(Bandwidth::Diagonal(
                    var.iter().map(|v| factor * factor * v).collect(),
                ))
            }
            _ => {
                self.whitening(b, k, &y)?;
                Ok(self.bandwidth.clone())
            }
        }
    }

    /// The whitening for `k`-dimensional labels, validating the bandwidth.
    fn whitening(&self, b: usize, k: usize, y: &[f64]) -> Result<Whitening> {
        const OP: &str = "yaware_info_nce";
        let positive = |what: &str, h: &[f64]| -> Result<Vec<f64>> {
            match h.iter().position(|&v| !(v > 0.0 && v.is_finite())) {
                Some(j) => Err(Error::invalid(
                    OP,
                    format!(
                        "bandwidth {what} entry {j} must be positive and finite, got {}",
                        h[j]
                    ),
                )),
                // nidl: inv_sqr_bandwidth = 1 / sqrt(H)
                None => Ok(h.iter().map(|&v| 1.0 / v.sqrt()).collect()),
            }
        };
        match &self.bandwidth {
            Bandwidth::Scalar(s) => Ok(Whitening::Scale(positive("scalar", &vec![*s; k])?)),
            Bandwidth::Diagonal(h) => {
                if h.len() != k {
                    return Err(Error::shape(
                        OP,
                        format!(
                            "labels [B, k] and a diagonal bandwidth with one entry per label \
                             dimension (k = {k})"
                        ),
                        &[&[b, k], &[h.len()]],
                    ));
                }
                Ok(Whitening::Scale(positive("diagonal", h)?))
            }
            Bandwidth::Full(h) => {
                if h.len() != k * k {
                    return Err(Error::shape(
                        OP,
                        format!(
                            "labels [B, k] and a full bandwidth of {k}×{k} = {} entries",
                            k * k
                        ),
                        &[&[b, k], &[h.len()]],
                    ));
                }
                for i in 0..k {
                    for j in 0..i {
                        let (a, c) = (h[i * k + j], h[j * k + i]);
                        if (a - c).abs() > 1e-12 * a.abs().max(c.abs()).max(f64::MIN_POSITIVE) {
                            return Err(Error::invalid(
                                OP,
                                format!("bandwidth matrix is not symmetric: H[{i}][{j}] = {a} ≠ H[{j}][{i}] = {c}"),
                            ));
                        }
                    }
                }
                cholesky(h, k).map(Whitening::Cholesky).ok_or_else(|| {
                    Error::invalid(
                        OP,
                        format!("bandwidth matrix {h:?} ({k}×{k}) is not positive definite"),
                    )
                })
            }
            Bandwidth::Scott | Bandwidth::Silverman => {
                let (factor, var) = rule_of_thumb(self.bandwidth == Bandwidth::Silverman, b, k, y);
                // nidl: inv_sqr_bandwidth = (1 / sqrt(diag cov), 0 where that is 0) / factor
                let scale = var
                    .iter()
                    .map(|&v| {
                        if v.sqrt() != 0.0 {
                            (1.0 / v.sqrt()) / factor
                        } else {
                            0.0
                        }
                    })
                    .collect();
                Ok(Whitening::Scale(scale))
            }
        }
    }

    /// The normalised `2B × 2B` weight matrix `w` for labels `[B]` or `[B, k]` (stacked for the
    /// two views, as nidl's `labels.view(B, -1).repeat(2, 1)`): `K_ij = K(‖H^{−1/2}(ỹ_i −
    /// ỹ_j)‖)`, `K_ii = 0`, then normalised by [`Normalization`] — by default nidl's
    /// `w_ij = K_ij / Σ_k K_jk`. Computed in `f64`, returned in `T`.
    ///
    /// Every row has at least the weight `K(0) = 1` of the sample's other view, so the sums are
    /// never zero. Errors for labels of another rank, non-finite labels, or a bandwidth that
    /// does not fit them (wrong size, not positive / not symmetric positive definite).
    pub fn weights<T: Element>(&self, labels: &Tensor<T>) -> Result<Tensor<T>> {
        let (n, w) = self.weights_f64(labels)?;
        Tensor::from_vec(w.into_iter().map(T::from_f64).collect(), &[n, n])
    }

    /// `(2B, w)`: the weights of [`weights`](Self::weights), row-major in `f64`.
    fn weights_f64<T: Element>(&self, labels: &Tensor<T>) -> Result<(usize, Vec<f64>)> {
        let (b, k, y) = label_matrix(labels)?;
        let whitening = self.whitening(b, k, &y)?;
        let n = 2 * b;
        // Whitened labels, stacked for the two views.
        let mut x = vec![0.0; n * k];
        for i in 0..b {
            let row = &mut x[i * k..(i + 1) * k];
            row.copy_from_slice(&y[i * k..(i + 1) * k]);
            whitening.apply(row);
        }
        x.copy_within(0..b * k, b * k);
        let mut w = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    let r2: f64 = (0..k).map(|p| (x[i * k + p] - x[j * k + p]).powi(2)).sum();
                    w[i * n + j] = self.kernel.eval(r2.sqrt());
                }
            }
        }
        let row_sums: Vec<f64> = w.chunks(n).map(|r| r.iter().sum()).collect();
        for i in 0..n {
            for j in 0..n {
                // nidl: `weights /= weights.sum(axis=1)` broadcasts the row sums over columns.
                let s = match self.normalization {
                    Normalization::NidlColumns => row_sums[j],
                    Normalization::Rows => row_sums[i],
                };
                w[i * n + j] /= s;
            }
        }
        Ok((n, w))
    }

    /// The 0-d loss node for views `z1`, `z2` (`[B, d]` each) and optional labels (`[B]` or
    /// `[B, k]`): `ℓ = −(1/B) Σ_ij w_ij log_softmax(S)_ij` with labels, nidl's two-sided InfoNCE
    /// `−(1/2B) Σ_i log_softmax(S)_{i,i±B}` without; see the type's documentation.
    ///
    /// Composed as: `concat` → `cosine_similarity_matrix` (one `2B × 2B` product, whose blocks
    /// are `s11`, `s12`, `s12ᵀ`, `s22`) → `/τ` → `− 1e8·I` (a constant) → `log_softmax_rows` →
    /// `mul` by the constant weights → `sum` → `· (−1/B)`.
    ///
    /// Errors: those of [`weights`](Self::weights); [`Error::Shape`] unless `z1`, `z2` share a
    /// 2-D shape with `B, d ≥ 1` and the labels have `B` rows; [`Error::InvalidArgument`] unless
    /// `τ > 0` and finite.
    pub fn forward<T: Element>(
        &self,
        g: &mut Graph<T>,
        z1: Var,
        z2: Var,
        labels: Option<&Tensor<T>>,
    ) -> Result<Var> {
        let (b, _) = check_views("yaware_info_nce", g, z1, z2, self.temperature)?;
        let n = 2 * b;
        let (weights, scale) = match labels {
            Some(y) => {
                if y.shape().first() != Some(&b) {
                    return Err(Error::shape(
                        "yaware_info_nce",
                        format!("one label row per sample (B = {b})"),
                        &[g.value(z1).shape(), y.shape()],
                    ));
                }
                (self.weights(y)?, -1.0 / b as f64)
            }
            None => {
                let p = positive_mask(b)
                    .into_iter()
                    .map(|m| if m { T::ONE } else { T::ZERO })
                    .collect();
                (Tensor::from_vec(p, &[n, n])?, -1.0 / n as f64)
            }
        };
        let z = g.concat(&[z1, z2], 0)?;
        let sim = g.cosine_similarity_matrix(z, z)?;
        let sim = g.scalar(sim, T::from_f64(self.temperature), BinaryOp::Div)?;
        let mut penalty = Tensor::zeros(&[n, n]);
        for i in 0..n {
            penalty.data_mut()?[i * n + i] = T::from_f64(SELF_SIMILARITY_PENALTY);
        }
        let penalty = g.input(penalty);
        let sim = g.sub(sim, penalty)?;
        let log_p = g.log_softmax_rows(sim)?;
        let weights = g.input(weights);
        let weighted = g.mul(log_p, weights)?;
        let total = g.sum(weighted)?;
        g.mul_scalar(total, T::from_f64(scale))
    }
}
