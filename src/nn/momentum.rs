//! Momentum (teacher) networks: the exponential-moving-average update of one module's
//! parameters toward another's, and its coefficient schedule — nidl's
//! `ssl/utils/momentum.py` (`MomentumUpdater`).

use super::{Module, State, StateMut};
use crate::error::{Error, Result};
use crate::tensor::{Element, Tensor};

/// `teacher ← m·teacher + (1 − m)·student` for every parameter, in place, outside any graph:
/// `MomentumUpdater.update(online_net=student, momentum_net=teacher)`. Only parameters move,
/// as nidl walks `parameters()`: buffers (batch-norm running statistics) stay the teacher's
/// own, updated by its forward passes. Each tensor is updated by [`Tensor::ema_update`]
/// (bit-identical to PyTorch in `f64`).
///
/// Errors: [`Error::InvalidArgument`] when `momentum` is not in `[0, 1]` or the two modules'
/// parameters differ in number or name (the first mismatch named); [`Error::Shape`] for a
/// parameter shaped differently. Everything is checked first: on error nothing has changed.
pub fn ema_update<T: Element>(
    teacher: &mut dyn Module<T>,
    student: &dyn Module<T>,
    momentum: f64,
) -> Result<()> {
    const OP: &str = "ema_update";
    if !(0.0..=1.0).contains(&momentum) {
        return Err(Error::invalid(
            OP,
            format!("momentum must be in [0, 1], got {momentum}"),
        ));
    }
    let mut sources: Vec<(String, &Tensor<T>)> = Vec::new();
    student.visit("", &mut |n, s| {
        if let State::Param(p) = s {
            sources.push((n.to_string(), &p.value));
        }
    });
    let mut targets: Vec<(String, &mut Tensor<T>)> = Vec::new();
    teacher.visit_mut("", &mut |n, s| {
        if let StateMut::Param(p) = s {
            targets.push((n.to_string(), &mut p.value));
        }
    });
    if targets.len() != sources.len() {
        return Err(Error::invalid(
            OP,
            format!(
                "the teacher has {} parameters, the student {}",
                targets.len(),
                sources.len()
            ),
        ));
    }
    for ((tn, t), (sn, s)) in targets.iter().zip(&sources) {
        if tn != sn {
            return Err(Error::invalid(
                OP,
                format!("teacher parameter '{tn}' faces student parameter '{sn}'"),
            ));
        }
        if t.shape() != s.shape() {
            return Err(Error::shape(
                OP,
                format!("parameter '{tn}' shaped alike in teacher and student"),
                &[t.shape(), s.shape()],
            ));
        }
    }
    for ((_, t), (_, s)) in targets.into_iter().zip(sources) {
        t.ema_update(s, momentum)?;
    }
    Ok(())
}

/// The momentum after `step` of `max_steps` optimizer steps, cosine-annealed from `base` to
/// `final_`: `final − (final − base)·(cos(π·step/max_steps) + 1)/2`
/// (`MomentumUpdater.update_lambda`). With `max_steps = 0` (no steps at all) it is `base`.
pub fn momentum_lambda(base: f64, final_: f64, step: usize, max_steps: usize) -> f64 {
    if max_steps == 0 {
        return base;
    }
    let cos = (std::f64::consts::PI * step as f64 / max_steps as f64).cos();
    final_ - (final_ - base) * (cos + 1.0) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand values: at step 0 the cosine is 1 (λ = base), at the end −1 (λ = final), halfway
    /// 0 (λ = the mean).
    #[test]
    fn lambda_schedule_ends_and_middle() {
        assert_eq!(momentum_lambda(0.996, 1.0, 0, 100), 0.996);
        assert_eq!(momentum_lambda(0.996, 1.0, 100, 100), 1.0);
        assert!((momentum_lambda(0.9, 1.0, 50, 100) - 0.95).abs() < 1e-15);
        assert_eq!(momentum_lambda(0.9, 1.0, 3, 0), 0.9);
    }
}
