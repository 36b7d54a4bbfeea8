//! Finite-difference gradient checking (f64): the reference every differentiable op is held to.

use super::{Graph, ParamId, Var};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// The outcome of [`check_gradients`].
#[derive(Clone, Debug)]
pub struct GradCheck {
    /// Largest `|analytic − numeric| / max(|analytic|, |numeric|, 1)` over every input element.
    pub max_rel_error: f64,
    /// `(input, element)` where the largest error occurred.
    pub worst: (usize, usize),
    /// Analytic and numeric derivative at the worst element.
    pub worst_values: (f64, f64),
}

/// Compares the gradient from [`Graph::backward`] with central differences
/// `(f(x + h) − f(x − h)) / 2h` for every element of every input.
///
/// `f` builds a scalar loss from the inputs (given as parameter nodes, in order); it is called
/// once for the analytic pass and twice per input element.
pub fn check_gradients(
    inputs: &[Tensor<f64>],
    h: f64,
    f: impl Fn(&mut Graph<f64>, &[Var]) -> Result<Var>,
) -> Result<GradCheck> {
    let eval = |xs: &[Tensor<f64>]| -> Result<f64> {
        let mut g = Graph::new();
        let vars: Vec<Var> = xs.iter().map(|x| g.param(ParamId::fresh(), x)).collect();
        let loss = f(&mut g, &vars)?;
        g.value(loss).item()
    };
    let mut g = Graph::new();
    let vars: Vec<Var> = inputs
        .iter()
        .map(|x| g.param(ParamId::fresh(), x))
        .collect();
    let loss = f(&mut g, &vars)?;
    let grads = g.backward(loss)?;
    let mut report = GradCheck {
        max_rel_error: 0.0,
        worst: (0, 0),
        worst_values: (0.0, 0.0),
    };
    let mut xs = inputs.to_vec();
    for (i, &v) in vars.iter().enumerate() {
        let zeros = Tensor::zeros(inputs[i].shape());
        let analytic = grads.get(v).unwrap_or(&zeros);
        for e in 0..inputs[i].len() {
            let x0 = xs[i].data()?[e];
            xs[i].data_mut()?[e] = x0 + h;
            let fp = eval(&xs)?;
            xs[i].data_mut()?[e] = x0 - h;
            let fm = eval(&xs)?;
            xs[i].data_mut()?[e] = x0;
            let numeric = (fp - fm) / (2.0 * h);
            let a = analytic.data()?[e];
            let rel = (a - numeric).abs() / a.abs().max(numeric.abs()).max(1.0);
            if !rel.is_finite() {
                return Err(Error::NonFinite {
                    what: format!("gradient check of input {i}, element {e}"),
                });
            }
            if rel > report.max_rel_error {
                report = GradCheck {
                    max_rel_error: rel,
                    worst: (i, e),
                    worst_values: (a, numeric),
                };
            }
        }
    }
    Ok(report)
}
