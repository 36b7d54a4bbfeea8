//! The fused optimizer steps: one call per parameter tensor, which each backend implements in
//! one pass (the optimizers in `crate::optim` compute the per-step constants).

use super::{Element, Tensor};
use crate::backend::op::{AdamStep, SgdStep};
use crate::error::{Error, Result};

impl<T: Element> Tensor<T> {
    /// One Adam/AdamW update of the parameter `self` and its moments `m`, `v` from `grad`.
    pub(crate) fn adam_step(
        &mut self,
        m: &mut Tensor<T>,
        v: &mut Tensor<T>,
        grad: &Tensor<T>,
        c: &AdamStep<T>,
    ) -> Result<()> {
        for t in [&*m, &*v, grad] {
            self.expect_same_shape("adam_step", t)?;
        }
        self.storage
            .adam_step(&mut m.storage, &mut v.storage, &grad.storage, c)
    }

    /// One SGD update of the parameter `self` (and its momentum buffer) from `grad`.
    pub(crate) fn sgd_step(
        &mut self,
        momentum: Option<&mut Tensor<T>>,
        grad: &Tensor<T>,
        c: &SgdStep<T>,
    ) -> Result<()> {
        self.expect_same_shape("sgd_step", grad)?;
        if let Some(b) = &momentum {
            self.expect_same_shape("sgd_step", b)?;
        }
        self.storage
            .sgd_step(momentum.map(|b| &mut b.storage), &grad.storage, c)
    }

    /// The exponential moving average `self ← m·self + (1 − m)·source`, in place and outside
    /// any graph: nidl's `MomentumUpdater.update` for one parameter (`mp.data = λ·mp.data +
    /// (1 − λ)·op.data`) and its `DINOLoss.update_center`. Both coefficients are rounded to
    /// `T` from `f64` (`1 − m` computed in `f64`, as Python computes it), then applied as two
    /// products and a sum: bit-identical to PyTorch in `f64`.
    ///
    /// Errors: [`Error::Shape`] when `source` is not shaped like `self`;
    /// [`Error::InvalidArgument`] when `momentum` is not in `[0, 1]`.
    pub fn ema_update(&mut self, source: &Tensor<T>, momentum: f64) -> Result<()> {
        self.expect_same_shape("ema_update", source)?;
        if !(0.0..=1.0).contains(&momentum) {
            return Err(Error::invalid(
                "ema_update",
                format!("momentum must be in [0, 1], got {momentum}"),
            ));
        }
        let (m, one_minus_m) = (T::from_f64(momentum), T::from_f64(1.0 - momentum));
        self.storage.ema_update(&source.storage, m, one_minus_m)
    }
}
