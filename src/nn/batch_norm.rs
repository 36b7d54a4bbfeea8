//! Batch normalisation over the batch axis of `[N, C]` inputs.

use super::{join, Module, Param, State, StateMut, Visitor, VisitorMut};
use crate::autograd::{Graph, Var};
use crate::error::{Error, Result};
use crate::tensor::{Element, Tensor};
use std::sync::Mutex;

/// `torch.nn.BatchNorm1d(C)` for `[N, C]` inputs (affine, running statistics).
///
/// Training: `y = (x − μ_B)/√(σ²_B + eps)·γ + β` with the batch mean and *biased* variance;
/// the running statistics move by `momentum` toward μ_B and the *unbiased* variance
/// `σ²_B·N/(N−1)`. Evaluation: the running statistics replace the batch ones. Composed from
/// tape primitives, so its gradient is exact by construction.
#[derive(Debug)]
pub struct BatchNorm1d<T: Element> {
    /// Scale γ `[C]`, initialised to 1.
    pub weight: Param<T>,
    /// Shift β `[C]`, initialised to 0.
    pub bias: Param<T>,
    running_mean: Mutex<Tensor<T>>,
    running_var: Mutex<Tensor<T>>,
    /// Added to the variance (PyTorch: 1e-5).
    pub eps: f64,
    /// Weight of the new batch in the running statistics (PyTorch: 0.1).
    pub momentum: f64,
}

impl<T: Element> BatchNorm1d<T> {
    /// PyTorch's defaults: γ = 1, β = 0, running mean 0, running variance 1, eps 1e-5,
    /// momentum 0.1.
    pub fn new(channels: usize) -> Self {
        BatchNorm1d {
            weight: Param::new(Tensor::ones(&[channels])),
            bias: Param::new(Tensor::zeros(&[channels])),
            running_mean: Mutex::new(Tensor::zeros(&[channels])),
            running_var: Mutex::new(Tensor::ones(&[channels])),
            eps: 1e-5,
            momentum: 0.1,
        }
    }

    /// Current running mean and running variance.
    pub fn running_stats(&self) -> (Tensor<T>, Tensor<T>) {
        (
            lock(&self.running_mean).clone(),
            lock(&self.running_var).clone(),
        )
    }

    /// `running ← (1 − momentum)·running + momentum·batch` (the variance unbiased by n/(n−1)),
    /// with tensor ops, so statistics of a batch on the GPU stay there.
    fn update_running(&self, mean: &Tensor<T>, var: &Tensor<T>, n: usize) -> Result<()> {
        let m = T::from_f64(self.momentum);
        let keep = T::ONE - m;
        let unbias = T::from_usize(n) / T::from_usize(n - 1);
        let mut rm = lock(&self.running_mean);
        let batch_mean = mean.reshape(rm.shape())?;
        *rm = rm.mul_scalar(keep)?.add(&batch_mean.mul_scalar(m)?)?;
        let mut rv = lock(&self.running_var);
        let batch_var = var.reshape(rv.shape())?;
        *rv = rv
            .mul_scalar(keep)?
            .add(&batch_var.mul_scalar(unbias)?.mul_scalar(m)?)?;
        Ok(())
    }
}

impl<T: Element> Clone for BatchNorm1d<T> {
    /// A copy with fresh parameter identities (as [`Param`]'s clone) and the same running
    /// statistics.
    fn clone(&self) -> Self {
        let (running_mean, running_var) = self.running_stats();
        BatchNorm1d {
            weight: self.weight.clone(),
            bias: self.bias.clone(),
            running_mean: Mutex::new(running_mean),
            running_var: Mutex::new(running_var),
            eps: self.eps,
            momentum: self.momentum,
        }
    }
}

/// Locks a statistics buffer; a poisoned lock (a panic elsewhere mid-update) still holds a
/// complete tensor, so its value is used.
fn lock<T: Element>(m: &Mutex<Tensor<T>>) -> std::sync::MutexGuard<'_, Tensor<T>> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T: Element> Module<T> for BatchNorm1d<T> {
    fn forward(&self, g: &mut Graph<T>, x: Var) -> Result<Var> {
        let c = self.weight.value.len();
        let shape = g.value(x).shape().to_vec();
        if shape.len() != 2 || shape[1] != c {
            return Err(Error::shape(
                "BatchNorm1d",
                format!("input [batch, {c}]"),
                &[&shape],
            ));
        }
        let n = shape[0];
        let eps = T::from_f64(self.eps);
        let (xc, std) = if g.is_training() {
            if n < 2 {
                return Err(Error::invalid("BatchNorm1d", format!("expected more than 1 value per channel when training, got input shape {shape:?}")));
            }
            let mean = g.mean_axis(x, 0)?;
            let xc = g.sub(x, mean)?;
            let sq = g.mul(xc, xc)?;
            let var = g.mean_axis(sq, 0)?;
            self.update_running(g.value(mean), g.value(var), n)?;
            let ve = g.add_scalar(var, eps)?;
            (xc, g.sqrt(ve)?)
        } else {
            let (rm, rv) = self.running_stats();
            let mean = g.input(rm);
            let xc = g.sub(x, mean)?;
            let std = g.input(rv.add_scalar(eps)?.sqrt()?);
            (xc, std)
        };
        let xhat = g.div(xc, std)?;
        let (w, b) = (self.weight.var(g), self.bias.var(g));
        let y = g.mul(xhat, w)?;
        g.add(y, b)
    }

    fn visit<'a>(&'a self, prefix: &str, f: &mut Visitor<'_, 'a, T>) {
        f(&join(prefix, "weight"), State::Param(&self.weight));
        f(&join(prefix, "bias"), State::Param(&self.bias));
        f(
            &join(prefix, "running_mean"),
            State::Buffer(&lock(&self.running_mean)),
        );
        f(
            &join(prefix, "running_var"),
            State::Buffer(&lock(&self.running_var)),
        );
    }

    fn visit_mut<'a>(&'a mut self, prefix: &str, f: &mut VisitorMut<'_, 'a, T>) {
        f(&join(prefix, "weight"), StateMut::Param(&mut self.weight));
        f(&join(prefix, "bias"), StateMut::Param(&mut self.bias));
        let (mean, var) = (&mut self.running_mean, &mut self.running_var);
        let unpoison = |m: &'a mut Mutex<Tensor<T>>| m.get_mut().unwrap_or_else(|e| e.into_inner());
        f(
            &join(prefix, "running_mean"),
            StateMut::Buffer(unpoison(mean)),
        );
        f(
            &join(prefix, "running_var"),
            StateMut::Buffer(unpoison(var)),
        );
    }
}
