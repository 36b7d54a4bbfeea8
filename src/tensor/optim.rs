//! The fused optimizer steps: one call per parameter tensor, which each backend implements in
//! one pass (the optimizers in `crate::optim` compute the per-step constants).

use super::{Element, Tensor};
use crate::backend::op::{AdamStep, SgdStep};
use crate::error::Result;

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
}
