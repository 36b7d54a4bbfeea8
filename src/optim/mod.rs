//! Optimizers and learning-rate schedules, step for step identical to `torch.optim`.
//!
//! An [`Optimizer`] updates a list of parameter tensors in place from a list of gradient tensors;
//! it knows nothing of autograd or layers (the trainer hands it `(param, grad)` pairs in a fixed
//! order). Each optimizer follows the operation order of PyTorch's single-tensor implementation
//! (`foreach=False`, the CPU default), computed in the parameters' own type `T`: float32
//! parameters update in f32 arithmetic, with every scalar hyperparameter rounded to `T` where
//! PyTorch rounds it. Products PyTorch's vectorised CPU kernels may fuse (`a + alpha·b`) are
//! computed unfused here, a difference of at most one rounding per operation.
//!
//! | type | PyTorch | decay |
//! |---|---|---|
//! | [`Sgd`] | `torch.optim.SGD` (momentum, dampening, Nesterov) | L2, added to the gradient |
//! | [`Adam`] | `torch.optim.Adam` | L2, added to the gradient |
//! | [`AdamW`] | `torch.optim.AdamW` | decoupled: `p *= 1 - lr·wd` first |
//!
//! All three take `.exclude_1d_from_decay(true)`, which applies no weight decay to tensors with
//! `ndim ≤ 1` (biases, normalisation scales and shifts): the same as giving PyTorch a second
//! parameter group with `weight_decay=0` for them.
//!
//! Schedules ([`schedule`]) give the learning rate per epoch or per step; the trainer calls
//! [`Optimizer::set_lr`] with it.
//!
//! Each optimizer computes its per-step constants and hands every parameter to one fused
//! tensor-level step ([`Tensor::adam_step`](crate::Tensor), `sgd_step`), which each backend
//! implements: on the CPU, one parallel pass in fixed chunks, the same for any thread count.

mod adam;
pub mod schedule;
mod sgd;

pub use adam::{Adam, AdamW};
pub use schedule::{CosineAnnealingLr, LinearWarmupCosine, LrSchedule};
pub use sgd::Sgd;

use crate::error::{Error, Result};
use crate::tensor::{Element, Tensor};
use std::collections::BTreeMap;

/// A gradient-descent optimizer over a fixed, ordered list of parameter tensors.
pub trait Optimizer<T: Element> {
    /// Updates every `params[i]` in place from `grads[i]`.
    ///
    /// Errors (naming the index and both shapes) if `params[i]` and `grads[i]` differ in shape,
    /// if the two lists differ in length, or if the list changes length or shapes after the
    /// optimizer's state was built (first step or [`load_state`](Optimizer::load_state)); errors
    /// naming the hyperparameter if one is out of range.
    fn step(&mut self, params: &mut [&mut Tensor<T>], grads: &[&Tensor<T>]) -> Result<()>;
    /// The learning rate the next step uses.
    fn lr(&self) -> f64;
    /// Sets the learning rate for the next steps (what an LR schedule calls).
    fn set_lr(&mut self, lr: f64);
    /// The internal state (step count, moment buffers) as named tensors, for checkpoints: empty
    /// before the first step. Hyperparameters (including the learning rate) are configuration and
    /// are not part of it.
    fn state(&self) -> Vec<(String, Tensor<T>)>;
    /// Restores a state returned by [`state`](Optimizer::state) (in any order); an empty list
    /// resets the optimizer to its fresh state. Errors on unknown, missing or duplicated names and
    /// on inconsistent shapes.
    fn load_state(&mut self, state: &[(String, Tensor<T>)]) -> Result<()>;
}

/// The shapes of the parameter list an optimizer's state was built for (`None` until then).
#[derive(Clone, Debug, Default)]
pub(crate) struct Layout {
    shapes: Option<Vec<Vec<usize>>>,
}

impl Layout {
    /// Checks `params` against `grads` and against the recorded shapes; records them on the
    /// first call. Nothing is recorded when a check fails.
    pub(crate) fn check<T: Element>(
        &mut self,
        op: &'static str,
        params: &[&mut Tensor<T>],
        grads: &[&Tensor<T>],
    ) -> Result<()> {
        if params.len() != grads.len() {
            return Err(Error::invalid(
                op,
                format!(
                    "{} parameter tensors but {} gradient tensors",
                    params.len(),
                    grads.len()
                ),
            ));
        }
        for (i, (p, g)) in params.iter().zip(grads).enumerate() {
            if p.shape() != g.shape() {
                return Err(Error::shape(
                    op,
                    format!("grads[{i}] shaped like params[{i}]"),
                    &[p.shape(), g.shape()],
                ));
            }
        }
        match &self.shapes {
            Some(shapes) => {
                if shapes.len() != params.len() {
                    return Err(Error::invalid(
                        op,
                        format!(
                            "{} parameter tensors, but the optimizer state was built for {}",
                            params.len(),
                            shapes.len()
                        ),
                    ));
                }
                for (i, (s, p)) in shapes.iter().zip(params).enumerate() {
                    if s.as_slice() != p.shape() {
                        return Err(Error::shape(
                            op,
                            format!("params[{i}] shaped as when the optimizer state was built"),
                            &[s, p.shape()],
                        ));
                    }
                }
            }
            None => self.shapes = Some(params.iter().map(|p| p.shape().to_vec()).collect()),
        }
        Ok(())
    }

    /// Whether the state has been built (a step was taken or a state loaded).
    pub(crate) fn is_built(&self) -> bool {
        self.shapes.is_some()
    }

    /// Sets the recorded shapes (`None`: fresh).
    pub(crate) fn set(&mut self, shapes: Option<Vec<Vec<usize>>>) {
        self.shapes = shapes;
    }
}

/// Errors naming `what` unless `v` is finite and at least `min`.
pub(crate) fn check_at_least(op: &'static str, what: &str, v: f64, min: f64) -> Result<()> {
    if v.is_finite() && v >= min {
        Ok(())
    } else {
        Err(Error::invalid(
            op,
            format!("{what} must be >= {min}, got {v}"),
        ))
    }
}

/// Errors naming `what` unless `0 ≤ v < 1`.
pub(crate) fn check_beta(op: &'static str, what: &str, v: f64) -> Result<()> {
    if (0.0..1.0).contains(&v) {
        Ok(())
    } else {
        Err(Error::invalid(
            op,
            format!("{what} must be in [0, 1), got {v}"),
        ))
    }
}

/// The weight decay that applies to a tensor with `ndim` axes.
pub(crate) fn decay_for(weight_decay: f64, exclude_1d: bool, ndim: usize) -> f64 {
    if exclude_1d && ndim <= 1 {
        0.0
    } else {
        weight_decay
    }
}

/// A checkpoint state split into its named scalars and its indexed tensor lists.
pub(crate) struct ParsedState<T: Element> {
    /// One value per requested scalar name, `None` where absent.
    pub scalars: Vec<Option<T>>,
    /// One list per requested prefix, each `n` long (index `i` from `"prefix.i"`).
    pub lists: Vec<Vec<Tensor<T>>>,
}

/// Parses `state` whose names are the given scalars and `"{prefix}.{i}"` for every prefix and
/// `i in 0..n` (the same `n` and the same shape at each `i` across prefixes).
pub(crate) fn parse_state<T: Element>(
    op: &'static str,
    state: &[(String, Tensor<T>)],
    scalars: &[&str],
    prefixes: &[&str],
) -> Result<ParsedState<T>> {
    let mut scalar_vals: Vec<Option<T>> = vec![None; scalars.len()];
    let mut maps: Vec<BTreeMap<usize, Tensor<T>>> = vec![BTreeMap::new(); prefixes.len()];
    for (name, t) in state {
        if let Some(k) = scalars.iter().position(|s| s == name) {
            if scalar_vals[k].is_some() {
                return Err(Error::invalid(
                    op,
                    format!("state entry {name:?} given twice"),
                ));
            }
            if t.len() != 1 {
                return Err(Error::shape(
                    op,
                    format!("state entry {name:?} to hold one value"),
                    &[t.shape()],
                ));
            }
            scalar_vals[k] = Some(t.data()?[0]);
            continue;
        }
        let parsed = name.rsplit_once('.').and_then(|(prefix, idx)| {
            let k = prefixes.iter().position(|p| *p == prefix)?;
            let i = idx.parse::<usize>().ok()?;
            Some((k, i))
        });
        let Some((k, i)) = parsed else {
            let mut expected: Vec<String> = scalars.iter().map(|s| format!("{s:?}")).collect();
            expected.extend(prefixes.iter().map(|p| format!("\"{p}.<i>\"")));
            return Err(Error::invalid(
                op,
                format!(
                    "unknown state entry {name:?} (expected {})",
                    expected.join(", ")
                ),
            ));
        };
        if maps[k].insert(i, t.clone()).is_some() {
            return Err(Error::invalid(
                op,
                format!("state entry {name:?} given twice"),
            ));
        }
    }
    let n = maps.first().map_or(0, |m| m.len());
    let mut lists = Vec::with_capacity(prefixes.len());
    for (prefix, map) in prefixes.iter().zip(maps) {
        if map.len() != n {
            return Err(Error::invalid(
                op,
                format!(
                    "{} \"{prefix}.<i>\" entries but {n} \"{}.<i>\" entries",
                    map.len(),
                    prefixes[0]
                ),
            ));
        }
        let mut list = Vec::with_capacity(n);
        for (expect, (i, t)) in map.into_iter().enumerate() {
            if i != expect {
                return Err(Error::invalid(
                    op,
                    format!("state entry \"{prefix}.{expect}\" missing"),
                ));
            }
            list.push(t);
        }
        lists.push(list);
    }
    for i in 0..n {
        for (k, list) in lists.iter().enumerate().skip(1) {
            if list[i].shape() != lists[0][i].shape() {
                return Err(Error::shape(
                    op,
                    format!(
                        "state entries \"{}.{i}\" and \"{}.{i}\" of one shape",
                        prefixes[0], prefixes[k]
                    ),
                    &[lists[0][i].shape(), list[i].shape()],
                ));
            }
        }
    }
    Ok(ParsedState {
        scalars: scalar_vals,
        lists,
    })
}

#[cfg(test)]
mod tests;
