//! InfoNCE / NT-Xent, as nidl's `InfoNCE` (SimCLR) computes it.

use super::{check_views, eye_mask, positive_mask};
use crate::autograd::{Graph, Var};
use crate::error::Result;
use crate::tensor::{BinaryOp, Element, Tensor};

/// The value nidl writes on the diagonal of the similarity matrix (before the temperature
/// scaling), so that `e^{s_ii/τ}` vanishes from every logsumexp.
pub const SELF_SIMILARITY_FILL: f64 = -9e15;

/// The normalised-temperature cross-entropy of SimCLR (Chen et al., ICML 2020), exactly as
/// nidl's `InfoNCE` computes it.
///
/// With `z = [z1; z2]` (`2B × d`), `s_ij = cos(z_i, z_j)`, the diagonal replaced by `−9e15`,
/// `p(i) = (i + B) mod 2B` the other view of sample `i`, and temperature `τ`:
///
/// `ℓ = (1/2B) Σ_{i<2B} [ −s_{i,p(i)}/τ + log Σ_j e^{s_ij/τ} ]`
///
/// (the masked diagonal contributes `e^{−9e15/τ} = 0`, so the sum runs over `j ≠ i`).
///
/// The similarities are the product of the L2-normalised rows, each divided by
/// `max(‖z_i‖, 1e-12)`; nidl's `F.cosine_similarity` divides by `max(‖z_i‖, 1e-8)`, so the two
/// agree (up to rounding) for every embedding of norm at least 1e-8.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InfoNce {
    /// `τ > 0`: the similarities are divided by it before the softmax.
    pub temperature: f64,
}

impl Default for InfoNce {
    /// nidl's default, `τ = 0.1`.
    fn default() -> Self {
        InfoNce { temperature: 0.1 }
    }
}

impl InfoNce {
    /// The loss with temperature `τ` (checked when the loss is evaluated).
    pub fn new(temperature: f64) -> Self {
        InfoNce { temperature }
    }

    /// The 0-d loss node `ℓ = (1/2B) Σ_i [−s_{i,p(i)}/τ + logsumexp_j(s_ij/τ)]` of the two views
    /// `z1`, `z2` (`[B, d]` each); see the type's documentation.
    ///
    /// Composed as: `concat` → `cosine_similarity_matrix` → `masked_fill` of the diagonal →
    /// `/τ` → `logsumexp_rows` minus the positive logit (picked by a constant one-hot mask,
    /// `mul` + `sum_axis`) → `mean`.
    ///
    /// Errors: [`Error::Shape`](crate::Error::Shape) unless `z1` and `z2` have the same 2-D
    /// shape with `B, d ≥ 1`; [`Error::InvalidArgument`](crate::Error::InvalidArgument) unless
    /// `τ > 0` and finite.
    pub fn forward<T: Element>(&self, g: &mut Graph<T>, z1: Var, z2: Var) -> Result<Var> {
        let (b, _) = check_views("info_nce", g, z1, z2, self.temperature)?;
        let n = 2 * b;
        let z = g.concat(&[z1, z2], 0)?;
        let sim = g.cosine_similarity_matrix(z, z)?;
        let sim = g.masked_fill(sim, &eye_mask(n), T::from_f64(SELF_SIMILARITY_FILL))?;
        let sim = g.scalar(sim, T::from_f64(self.temperature), BinaryOp::Div)?;
        let lse = g.logsumexp_rows(sim)?; // [2B, 1]
        let one_hot: Vec<T> = positive_mask(b)
            .into_iter()
            .map(|m| if m { T::ONE } else { T::ZERO })
            .collect();
        let one_hot = g.input(Tensor::from_vec(one_hot, &[n, n])?);
        let picked = g.mul(sim, one_hot)?;
        let pos = g.sum_axis(picked, 1)?; // [2B, 1]: s_{i,p(i)}/τ
        let nll = g.sub(lse, pos)?;
        g.mean(nll)
    }
}
