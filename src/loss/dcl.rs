//! Decoupled contrastive learning's loss (DCL) and its von Mises–Fisher weighted variant (DCLW),
//! as nidl 0.0.2's `DCLLoss` and `DCLWLoss` compute them.

use super::info_nce::SELF_SIMILARITY_FILL;
use super::{check_views, eye_mask, positive_mask};
use crate::autograd::{Graph, Var};
use crate::error::{Error, Result};
use crate::tensor::{BinaryOp, Element, Tensor};

/// nidl's default `sigma` of `DCLWLoss`, the concentration of the von Mises–Fisher weighting.
pub const DCLW_DEFAULT_SIGMA: f64 = 0.5;

/// The decoupled contrastive loss (Yeh et al., ECCV 2022), exactly as nidl 0.0.2's `DCLLoss`
/// computes it, and with [`vmf_sigma`](Self::vmf_sigma) set its `DCLWLoss`.
///
/// With `z = [z1; z2]` (`2B × d`), `s_ij = cos(z_i, z_j)`, the diagonal replaced by `−9e15`,
/// `p(i) = (i + B) mod 2B` the other view of sample `i`, and temperature `τ`:
///
/// `ℓ = (1/2B) Σ_{i<2B} [ −w_{i mod B} s_{i,p(i)}/τ + log Σ_{j ∉ {i, p(i)}} e^{s_ij/τ} ]`
///
/// — InfoNCE with the positive pair taken out of the denominator (the decoupling: nidl fills
/// both the diagonal and the positive with `−9e15` before the logsumexp). DCL has `w = 1`; DCLW
/// weighs each positive pair by the negative von Mises–Fisher weight
///
/// `w_i = 2 − B · softmax_i(cos(z1_i, z2_i)/σ)`  (softmax over the batch),
///
/// which is *not* detached: as in nidl the gradient flows through the weights too.
///
/// **A batch of one sample.** Every logit of a row is then masked, and nidl's logsumexp returns
/// the fill, `ℓ ≈ −9·10¹⁵`; this does the same (the weight is then 1 and only the positive
/// term has a gradient).
///
/// The similarities are the products of the L2-normalised rows (each divided by
/// `max(‖z_i‖, 1e-12)`; PyTorch's `F.cosine_similarity` clamps at 1e-8), as in
/// [`InfoNce`](super::InfoNce).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DclLoss {
    /// `τ > 0`: the similarities are divided by it.
    pub temperature: f64,
    /// `Some(σ)`, `σ > 0`: DCLW, the positive pairs weighted by the negative von Mises–Fisher
    /// weight of concentration `1/σ`; `None`: DCL, unweighted.
    pub vmf_sigma: Option<f64>,
}

impl Default for DclLoss {
    /// nidl's `DCLLoss()`: `τ = 0.1`, unweighted.
    fn default() -> Self {
        DclLoss::new(0.1)
    }
}

impl DclLoss {
    /// DCL (nidl's `DCLLoss(temperature)`), checked when the loss is evaluated.
    pub fn new(temperature: f64) -> Self {
        DclLoss {
            temperature,
            vmf_sigma: None,
        }
    }

    /// DCLW (nidl's `DCLWLoss(sigma, temperature)`), checked when the loss is evaluated.
    pub fn weighted(sigma: f64, temperature: f64) -> Self {
        DclLoss {
            temperature,
            vmf_sigma: Some(sigma),
        }
    }

    /// The 0-d loss node of the two views `z1`, `z2` (`[B, d]` each); see the type's
    /// documentation.
    ///
    /// Composed as: `concat` → `cosine_similarity_matrix` → `masked_fill` of the diagonal →
    /// `/τ` → the positive logits (a constant one-hot mask, `mul` + `sum_axis`), times the
    /// weights for DCLW ([`vmf_weights`]) → `masked_fill` of the positives → `logsumexp_rows`
    /// minus the positive logits → `mean`.
    ///
    /// Errors: [`Error::Shape`] unless `z1` and `z2` have the same 2-D shape with `B, d ≥ 1`;
    /// [`Error::InvalidArgument`] unless `τ` (and `σ`) are positive and finite.
    pub fn forward<T: Element>(&self, g: &mut Graph<T>, z1: Var, z2: Var) -> Result<Var> {
        const OP: &str = "dcl";
        let (b, _) = check_views(OP, g, z1, z2, self.temperature)?;
        let n = 2 * b;
        let fill = T::from_f64(SELF_SIMILARITY_FILL);
        let z = g.concat(&[z1, z2], 0)?;
        let sim = g.cosine_similarity_matrix(z, z)?;
        let sim = g.masked_fill(sim, &eye_mask(n), fill)?;
        let sim = g.scalar(sim, T::from_f64(self.temperature), BinaryOp::Div)?;
        let positives = positive_mask(b);
        let one_hot: Vec<T> = positives
            .iter()
            .map(|&m| if m { T::ONE } else { T::ZERO })
            .collect();
        let one_hot = g.input(Tensor::from_vec(one_hot, &[n, n])?);
        let picked = g.mul(sim, one_hot)?;
        let mut pos = g.sum_axis(picked, 1)?; // [2B, 1]: s_{i,p(i)}/τ
        if let Some(sigma) = self.vmf_sigma {
            if !(sigma > 0.0 && sigma.is_finite()) {
                return Err(Error::invalid(
                    OP,
                    format!("sigma must be positive and finite, got {sigma}"),
                ));
            }
            let w = vmf_weights(g, z1, z2, sigma)?; // [B, 1]
            let w = g.concat(&[w, w], 0)?; // nidl's `.repeat(2)`
            pos = g.mul(pos, w)?;
        }
        let neg = g.masked_fill(sim, &positives, fill)?;
        let lse = g.logsumexp_rows(neg)?; // [2B, 1]
        let terms = g.sub(lse, pos)?;
        g.mean(terms)
    }
}

/// nidl's negative von Mises–Fisher weights of the positive pairs, `[B, 1]`:
/// `w_i = 2 − B · softmax_i(cos(z1_i, z2_i)/σ)`, the softmax over the batch (composed as
/// row-wise cosine → `/σ` → `log_softmax_rows` of the `[1, B]` row → `exp` → `2 − B·`).
fn vmf_weights<T: Element>(g: &mut Graph<T>, z1: Var, z2: Var, sigma: f64) -> Result<Var> {
    let b = g.value(z1).shape()[0];
    let n1 = g.l2_normalize_rows(z1)?;
    let n2 = g.l2_normalize_rows(z2)?;
    let prod = g.mul(n1, n2)?;
    let cos = g.sum_axis(prod, 1)?; // [B, 1]
    let logits = g.scalar(cos, T::from_f64(sigma), BinaryOp::Div)?;
    let row = g.reshape(logits, &[1, b])?;
    let log_p = g.log_softmax_rows(row)?;
    let p = g.exp(log_p)?;
    let scaled = g.mul_scalar(p, T::from_usize(b))?;
    let neg = g.neg(scaled)?;
    let w = g.add_scalar(neg, T::from_f64(2.0))?;
    g.reshape(w, &[b, 1])
}
