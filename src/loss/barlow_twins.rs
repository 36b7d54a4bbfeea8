//! Barlow Twins' redundancy-reduction loss, as nidl's `BarlowTwinsLoss` computes it (the same in
//! nidl 0.0.1 and 0.0.2).

use super::{check_pair, eye_mask};
use crate::autograd::{Graph, Var};
use crate::error::{Error, Result};
use crate::tensor::{BinaryOp, Element, Tensor};

/// The Barlow Twins loss (Zbontar et al., ICML 2021), exactly as nidl's `BarlowTwinsLoss`
/// computes it.
///
/// Each view `z` (`[N, D]`) is standardised along the batch, `ẑ = (z − mean₀ z) / std₀ z` with
/// the *unbiased* standard deviation (`torch.std`, divisor `N − 1`); the cross-correlation
/// matrix is `c = ẑ1ᵀ ẑ2 / (N − 1)` (`D × D`), and
///
/// `ℓ = Σ_i (1 − c_ii)² + λ Σ_{i≠j} c_ij²`
///
/// (invariance term + λ · redundancy-reduction term).
///
/// **A batch of one.** The unbiased standard deviation of one sample is 0/0; nidl does not divide
/// then: `ẑ = z − mean₀ z` (all zeros) and `c = ẑ1ᵀ ẑ2` (no `/(N − 1)`), so the loss is `D` and
/// its gradient zero. This does the same. (A constant column with `N ≥ 2` has a zero standard
/// deviation and gives NaN, as in PyTorch.)
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BarlowTwinsLoss {
    /// `λ ≥ 0`: the weight of the off-diagonal (redundancy) term.
    pub lambda: f64,
}

impl Default for BarlowTwinsLoss {
    /// nidl's default, `λ = 5·10⁻³`.
    fn default() -> Self {
        BarlowTwinsLoss { lambda: 5e-3 }
    }
}

impl BarlowTwinsLoss {
    /// The loss with weight `λ` (checked when the loss is evaluated).
    pub fn new(lambda: f64) -> Self {
        BarlowTwinsLoss { lambda }
    }

    /// The 0-d loss node `Σ_i (1 − c_ii)² + λ Σ_{i≠j} c_ij²` of the views `z1`, `z2` (`[N, D]`
    /// each); see the type's documentation.
    ///
    /// Composed as: `mean_axis` / `sub` / `mul` / `sum_axis` / `sqrt` / `div` (standardisation)
    /// → `matmul` (`ẑ1ᵀ ẑ2`) → `/(N − 1)` → `sub` the identity → square → `mul` by the constant
    /// weights (1 on the diagonal, λ off it) → `sum`.
    ///
    /// Errors: [`Error::Shape`] unless `z1` and `z2` have the same 2-D shape with `N, D ≥ 1`;
    /// [`Error::InvalidArgument`] unless `λ` is finite and `≥ 0`.
    pub fn forward<T: Element>(&self, g: &mut Graph<T>, z1: Var, z2: Var) -> Result<Var> {
        const OP: &str = "barlow_twins";
        let (n, d) = check_pair(OP, g, z1, z2)?;
        if !(self.lambda >= 0.0 && self.lambda.is_finite()) {
            return Err(Error::invalid(
                OP,
                format!("lambda must be finite and ≥ 0, got {}", self.lambda),
            ));
        }
        let a = standardise(g, z1, n)?;
        let b = standardise(g, z2, n)?;
        let mut c = g.matmul_t(a, b, true, false)?; // [D, D]
        if n > 1 {
            c = g.scalar(c, T::from_usize(n - 1), BinaryOp::Div)?;
        }
        let diag = eye_mask(d);
        let eye: Vec<T> = diag
            .iter()
            .map(|&m| if m { T::ONE } else { T::ZERO })
            .collect();
        let weights: Vec<T> = diag
            .iter()
            .map(|&m| if m { T::ONE } else { T::from_f64(self.lambda) })
            .collect();
        let eye = g.input(Tensor::from_vec(eye, &[d, d])?);
        let weights = g.input(Tensor::from_vec(weights, &[d, d])?);
        let diff = g.sub(c, eye)?;
        let sq = g.mul(diff, diff)?;
        let weighted = g.mul(sq, weights)?;
        g.sum(weighted)
    }
}

/// `(z − mean₀ z) / std₀ z` with the unbiased standard deviation; `z − mean₀ z` alone when `z` has
/// one row (see [`BarlowTwinsLoss`]).
fn standardise<T: Element>(g: &mut Graph<T>, z: Var, n: usize) -> Result<Var> {
    let mean = g.mean_axis(z, 0)?;
    let centred = g.sub(z, mean)?;
    if n == 1 {
        return Ok(centred);
    }
    let sq = g.mul(centred, centred)?;
    let ss = g.sum_axis(sq, 0)?;
    let var = g.scalar(ss, T::from_usize(n - 1), BinaryOp::Div)?;
    let std = g.sqrt(var)?;
    g.div(centred, std)
}
