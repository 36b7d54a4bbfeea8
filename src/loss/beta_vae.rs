//! The β-VAE loss, as nidl 0.0.2's `BetaVAELoss` computes it (`nidl/losses/beta_vae.py`).

use crate::autograd::{Graph, Var};
use crate::error::{Error, Result};
use crate::tensor::{BinaryOp, Element, Tensor};
use std::fmt;
use std::str::FromStr;

/// The decoder distribution `p(x | z)` that defines the reconstruction loss (nidl's
/// `default_dist`): the decoder's output is its mean (normal, laplace, both of unit scale) or
/// its success probability (bernoulli).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReconstructionDistribution {
    /// Unit-variance normal: the summed squared error (nidl's default).
    #[default]
    Normal,
    /// Unit-scale Laplace: the summed absolute error.
    Laplace,
    /// Bernoulli: the summed binary cross-entropy of the probabilities.
    Bernoulli,
}

impl ReconstructionDistribution {
    /// Every distribution, in nidl's order.
    pub const ALL: [ReconstructionDistribution; 3] = [
        ReconstructionDistribution::Normal,
        ReconstructionDistribution::Laplace,
        ReconstructionDistribution::Bernoulli,
    ];

    /// nidl's name: `normal`, `laplace` or `bernoulli`.
    pub fn name(self) -> &'static str {
        match self {
            ReconstructionDistribution::Normal => "normal",
            ReconstructionDistribution::Laplace => "laplace",
            ReconstructionDistribution::Bernoulli => "bernoulli",
        }
    }
}

impl fmt::Display for ReconstructionDistribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ReconstructionDistribution {
    type Err = Error;

    /// One of nidl's names; anything else is an [`Error::InvalidArgument`] listing them.
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "default_dist",
                    format!("must be 'normal', 'laplace' or 'bernoulli', got '{s}'"),
                )
            })
    }
}

/// The three terms of the loss, each a 0-d node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BetaVaeTerms {
    /// `rec_loss + β · kl_loss`: what training minimises (nidl's `loss`).
    pub loss: Var,
    /// The reconstruction term (nidl's `rec_loss`).
    pub rec_loss: Var,
    /// The KL term (nidl's `kl_loss`).
    pub kl_loss: Var,
}

/// The β-VAE loss (Higgins et al., ICLR 2017), exactly as nidl 0.0.2's `BetaVAELoss` computes it
/// for a decoder that returns a tensor `p` and the posterior `q = N(μ, diag(e^{logvar}))` of
/// `VAE._sample`:
///
/// `loss = rec + β · KL`, with, over a batch of `B` samples,
///
/// - `rec = (1/B) Σ (p − x)²` (normal, `mse_loss(reduction="sum") / B`),
///   `(1/B) Σ |p − x|` (laplace, `l1_loss`), or
///   `−(1/B) Σ [x · max(ln p, −100) + (1 − x) · max(ln(1 − p), −100)]` (bernoulli,
///   `binary_cross_entropy(reduction="sum")` with PyTorch's clamp of the logarithms at −100);
///   sums over every element of the sample (pixels and channels), mean over the batch;
/// - `KL = Σ_j (1/B) Σ_i ½ (e^{logvar_ij} + μ_ij² − 1 − logvar_ij)`: the closed-form
///   `KL(N(μ, σ²) ‖ N(0, 1))` of each latent dimension, averaged over the batch, summed over
///   the dimensions.
///
/// Gradients: PyTorch's `l1_loss` backward is `sign(p − x)` (0 at a tie), as here. Where a
/// logarithm is clamped the clamped term gets no gradient here, while PyTorch's BCE backward
/// uses `(p − x) / max(p (1 − p), 10⁻¹²)`; the two agree wherever `10⁻⁴⁴ < p < 1 − 10⁻⁴⁴`
/// (nowhere else is a probability clamped) up to the `10⁻¹²` floor, which matters only for
/// probabilities within `10⁻¹²` of 0 or 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BetaVaeLoss {
    /// Weight of the KL term (`≥ 0`, finite).
    pub beta: f64,
    /// The decoder distribution.
    pub dist: ReconstructionDistribution,
}

impl Default for BetaVaeLoss {
    /// `BetaVAELoss()`'s defaults: `β = 4`, normal.
    fn default() -> Self {
        BetaVaeLoss {
            beta: 4.0,
            dist: ReconstructionDistribution::Normal,
        }
    }
}

/// PyTorch's floor of the logarithms in `binary_cross_entropy`.
const BCE_LOG_FLOOR: f64 = -100.0;

impl BetaVaeLoss {
    /// The loss with weight `beta` on the KL term and decoder distribution `dist` (checked when
    /// the loss is evaluated).
    pub fn new(beta: f64, dist: ReconstructionDistribution) -> Self {
        BetaVaeLoss { beta, dist }
    }

    /// The loss of reconstructions `p` of the samples `x` (equal shapes `[B, …]`) and the
    /// posterior means `mu` and log-variances `logvar` (`[B, L]`); see the type's docs.
    ///
    /// Errors: [`Error::Shape`] unless `x` and `p` share a shape with `B ≥ 1` samples and `mu`
    /// and `logvar` are `[B, L]`, `L ≥ 1`; [`Error::InvalidArgument`] for a node not on `g`, a
    /// `β` that is negative or not finite, or (bernoulli) a probability outside `[0, 1]`
    /// (PyTorch's `Bernoulli` refuses those too).
    pub fn forward<T: Element>(
        &self,
        g: &mut Graph<T>,
        x: Var,
        p: Var,
        mu: Var,
        logvar: Var,
    ) -> Result<BetaVaeTerms> {
        let b = self.check(g, x, p, mu, logvar)?;
        let rec = match self.dist {
            ReconstructionDistribution::Normal => {
                let d = g.sub(p, x)?;
                g.mul(d, d)?
            }
            ReconstructionDistribution::Laplace => {
                // |d| = d · sign(d), sign a constant: the gradient is sign(d), 0 at a tie.
                let d = g.sub(p, x)?;
                let sign: Vec<T> = g.value(d).to_vec()?.iter().map(|&v| sign_of(v)).collect();
                let sign = g.input(Tensor::from_vec(sign, g.value(d).shape())?);
                g.mul(d, sign)?
            }
            ReconstructionDistribution::Bernoulli => {
                let probs = g.value(p).to_vec()?;
                if let Some(bad) = probs.iter().find(|&&v| !(v >= T::ZERO && v <= T::ONE)) {
                    return Err(Error::invalid(
                        OP,
                        format!(
                            "bernoulli reconstructions are probabilities in [0, 1], got {}",
                            bad.to_f64()
                        ),
                    ));
                }
                let ln_p = clamped_ln(g, p)?;
                let neg_p = g.neg(p)?;
                let one_minus_p = g.add_scalar(neg_p, T::ONE)?;
                let ln_q = clamped_ln(g, one_minus_p)?;
                let neg_x = g.neg(x)?;
                let one_minus_x = g.add_scalar(neg_x, T::ONE)?;
                let a = g.mul(x, ln_p)?;
                let c = g.mul(one_minus_x, ln_q)?;
                let s = g.add(a, c)?;
                g.neg(s)?
            }
        };
        let rec_sum = g.sum(rec)?;
        let rec_loss = g.scalar(rec_sum, T::from_usize(b), BinaryOp::Div)?;
        // ½ (e^{logvar} + μ² − 1 − logvar), mean over the batch, sum over the dimensions.
        let var = g.exp(logvar)?;
        let mu2 = g.mul(mu, mu)?;
        let s = g.add(var, mu2)?;
        let s = g.sub(s, logvar)?;
        let s = g.scalar(s, T::ONE, BinaryOp::Sub)?;
        let kl = g.mul_scalar(s, T::from_f64(0.5))?;
        let kl_sum = g.sum(kl)?;
        let kl_loss = g.scalar(kl_sum, T::from_usize(b), BinaryOp::Div)?;
        let weighted = g.mul_scalar(kl_loss, T::from_f64(self.beta))?;
        let loss = g.add(rec_loss, weighted)?;
        Ok(BetaVaeTerms {
            loss,
            rec_loss,
            kl_loss,
        })
    }

    /// Checks the operands and `β`; returns `B`.
    fn check<T: Element>(
        &self,
        g: &Graph<T>,
        x: Var,
        p: Var,
        mu: Var,
        logvar: Var,
    ) -> Result<usize> {
        for v in [x, p, mu, logvar] {
            if v.index() >= g.len() {
                return Err(Error::invalid(
                    OP,
                    format!(
                        "variable {} is not on this graph ({} nodes)",
                        v.index(),
                        g.len()
                    ),
                ));
            }
        }
        if !(self.beta >= 0.0 && self.beta.is_finite()) {
            return Err(Error::invalid(
                OP,
                format!("beta must be finite and ≥ 0, got {}", self.beta),
            ));
        }
        let (xs, ps) = (g.value(x).shape(), g.value(p).shape());
        let b = match xs.first() {
            Some(&b) if b >= 1 && xs == ps => b,
            _ => {
                return Err(Error::shape(
                    OP,
                    "data x and reconstruction p of equal shape [B, …] with B ≥ 1",
                    &[xs, ps],
                ))
            }
        };
        let (ms, ls) = (g.value(mu).shape(), g.value(logvar).shape());
        match (ms, ls) {
            (&[bm, l], &[bl, l2]) if bm == b && bl == b && l == l2 && l >= 1 => Ok(b),
            _ => Err(Error::shape(
                OP,
                format!("mu and logvar of equal shape [B, L] with B = {b} and L ≥ 1"),
                &[ms, ls],
            )),
        }
    }
}

/// The op name in errors.
const OP: &str = "beta_vae";

/// `sign(v)`: −1, 0 or 1 (NaN stays NaN).
fn sign_of<T: Element>(v: T) -> T {
    if v > T::ZERO {
        T::ONE
    } else if v < T::ZERO {
        -T::ONE
    } else {
        v
    }
}

/// `max(ln a, −100)`, the clamped elements constants.
fn clamped_ln<T: Element>(g: &mut Graph<T>, a: Var) -> Result<Var> {
    let ln = g.ln(a)?;
    let floor = T::from_f64(BCE_LOG_FLOOR);
    let mask: Vec<bool> = g.value(ln).to_vec()?.iter().map(|&v| v < floor).collect();
    if mask.iter().any(|&m| m) {
        g.masked_fill(ln, &mask, floor)
    } else {
        Ok(ln)
    }
}
