//! Self-supervised losses (contrastive and redundancy-reduction), composed from the differentiable
//! primitives of [`Graph`].
//!
//! Every loss takes the two embedded views `z1`, `z2` (`[B, d]`, row `i` of each is the same
//! sample) as nodes of a graph and returns a 0-d loss node; gradients flow only into the
//! embeddings. Labels and kernel weights enter as constants.
//!
//! - [`InfoNce`]: SimCLR's NT-Xent, `ℓ = (1/2B) Σ_i [−s_{i,p(i)}/τ + log Σ_{k≠i} e^{s_ik/τ}]`
//!   over the `2B` stacked embeddings, `s` the cosine similarity and `p(i) = i ± B`.
//! - [`YAwareInfoNce`]: y-Aware InfoNCE, `ℓ = −(1/B) Σ_ij w_ij log softmax_j(s_i·/τ)` with
//!   kernel weights `w_ij = K(H^{−1/2}(y_i − y_j))` between the samples' labels.
//! - [`BarlowTwinsLoss`]: Barlow Twins' redundancy reduction, `ℓ = Σ_i (1 − c_ii)² +
//!   λ Σ_{i≠j} c_ij²` on the cross-correlation `c` of the batch-standardised views.
//! - [`DclLoss`]: decoupled contrastive learning, InfoNCE without the positive pair in the
//!   denominator, `ℓ = (1/2B) Σ_i [−w_i s_{i,p(i)}/τ + log Σ_{k∉{i,p(i)}} e^{s_ik/τ}]`, `w = 1`
//!   (DCL) or the negative von Mises–Fisher weights (DCLW).
//! - [`BetaVaeLoss`]: the β-VAE's reconstruction + β·KL of one view and its reconstruction
//!   (not a two-view loss: it takes the data, the decoder's output and the posterior).
//! - [`DinoLoss`]: DINO's self-distillation, the cross-entropy between the centred, sharpened
//!   teacher softmax and the student log-softmax over every pair of different views, with the
//!   centre's moving average (it takes the stacked views and a teacher tensor, not two views).
//!
//! All reproduce nidl's (PyTorch) numbers; where nidl's semantics are surprising the item's doc
//! comment says so.

mod barlow_twins;
mod beta_vae;
mod dcl;
mod dino;
mod info_nce;
mod yaware;

pub use barlow_twins::BarlowTwinsLoss;
pub use beta_vae::{BetaVaeLoss, BetaVaeTerms, ReconstructionDistribution};
pub use dcl::{DclLoss, DCLW_DEFAULT_SIGMA};
pub use dino::{DinoLoss, DinoLossConfig};
pub use info_nce::InfoNce;
pub use yaware::{Bandwidth, Kernel, Normalization, YAwareInfoNce};

use crate::autograd::{Graph, Var};
use crate::error::{Error, Result};
use crate::tensor::Element;

/// Checks the two views of a contrastive loss: both nodes on `g`, both 2-D with equal shapes
/// `[B, d]`, `B ≥ 1`, `d ≥ 1`, and the temperature `> 0` and finite. Returns `(B, d)`.
fn check_views<T: Element>(
    op: &'static str,
    g: &Graph<T>,
    z1: Var,
    z2: Var,
    temperature: f64,
) -> Result<(usize, usize)> {
    let dims = check_pair(op, g, z1, z2)?;
    if !(temperature > 0.0 && temperature.is_finite()) {
        return Err(Error::invalid(
            op,
            format!("temperature must be positive and finite, got {temperature}"),
        ));
    }
    Ok(dims)
}

/// Checks two embedded views: both nodes on `g`, both 2-D with equal shapes `[B, d]`, `B ≥ 1`,
/// `d ≥ 1`. Returns `(B, d)`.
fn check_pair<T: Element>(
    op: &'static str,
    g: &Graph<T>,
    z1: Var,
    z2: Var,
) -> Result<(usize, usize)> {
    for v in [z1, z2] {
        if v.index() >= g.len() {
            return Err(Error::invalid(
                op,
                format!(
                    "variable {} is not on this graph ({} nodes)",
                    v.index(),
                    g.len()
                ),
            ));
        }
    }
    let (s1, s2) = (g.value(z1).shape(), g.value(z2).shape());
    match (s1, s2) {
        (&[b, d], &[b2, d2]) if b == b2 && d == d2 && b >= 1 && d >= 1 => Ok((b, d)),
        _ => Err(Error::shape(
            op,
            "z1 and z2 of equal 2-D shape [B, d] with B ≥ 1 and d ≥ 1",
            &[s1, s2],
        )),
    }
}

/// The positive-pair mask of the `2B` stacked views, row-major `2B × 2B`: true at `(i, i ± B)`.
fn positive_mask(b: usize) -> Vec<bool> {
    let n = 2 * b;
    let mut mask = vec![false; n * n];
    for i in 0..n {
        mask[i * n + (i + b) % n] = true;
    }
    mask
}

/// The diagonal mask of an `n × n` matrix, row-major.
fn eye_mask(n: usize) -> Vec<bool> {
    let mut mask = vec![false; n * n];
    for i in 0..n {
        mask[i * n + i] = true;
    }
    mask
}
