//! Multi-layer perceptron probes as scikit-learn's `MLPClassifier` / `MLPRegressor(solver="lbfgs",
//! activation="relu")` fit them.
//!
//! Estimators [`MlpClassifier`] and [`MlpRegressor`] (one generic [`Mlp`]), objective
//! [`MlpObjective`] (formulas in module `network`: cross-entropy of a softmax output for three
//! or more classes, of one logistic output for two, half the mean squared error for
//! regression, plus `α/(2n)·Σ‖W_l‖²`), solver [`lbfgs::minimize`] with the options scikit-learn
//! passes to scipy (`maxiter = max_iter`, `gtol = tol`, scipy's defaults otherwise: 10
//! correction pairs, `ftol = 10⁷·ε`, 20 line-search steps, `maxfun = 15 000`), full batch,
//! everything in `f64`.
//!
//! Initialisation: scikit-learn's Glorot uniform, `W_l` then `b_l` for each layer drawn from
//! `U(−√(6/(fan_in + fan_out)), +√(6/(fan_in + fan_out)))`, in the same order, but from
//! [`rand`]'s `StdRng` seeded with [`seed`](Mlp::seed), not NumPy's Mersenne Twister: the same
//! distribution, not the same numbers. To start where scikit-learn starts, hand its packed
//! initial parameters to [`initial_params`](Mlp::initial_params) (the golden tests do).
//!
//! scikit-learn keeps `float32` features in `float32`; these probes always compute in `f64`.

use super::{
    as_f64, check_features, check_label_len, check_predict_features, check_targets, encode_labels,
    not_fitted, Classifier, Probe,
};
use crate::error::{Error, Result};
use crate::linalg::lbfgs::{self, LbfgsOptions, Termination};
use crate::tensor::{Element, Tensor};
use network::predict;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Uniform};

mod network;

pub use network::{Layout, MlpObjective, OutputActivation, Targets, BLOCK_ROWS};

/// An MLP probe with ReLU hidden layers and L2 penalty, fitted by full-batch L-BFGS; `K` holds
/// what the fit learns about the targets ([`ClassLabels`] or [`TargetShape`]).
///
/// Defaults as scikit-learn's: `hidden_layer_sizes = (100,)`, `alpha = 1e-4`, `max_iter = 200`,
/// `tol = 1e-4`; the initialisation seed is 0.
#[derive(Clone, Debug)]
pub struct Mlp<K> {
    hidden: Vec<usize>,
    alpha: f64,
    tol: f64,
    max_iter: usize,
    seed: u64,
    initial: Option<Vec<f64>>,
    fitted: Option<Fitted<K>>,
}

/// MLP classification (scikit-learn's `MLPClassifier`): softmax output for three or more
/// classes, one logistic output for two.
pub type MlpClassifier = Mlp<ClassLabels>;

/// MLP regression (scikit-learn's `MLPRegressor`): identity outputs, one per target column.
pub type MlpRegressor = Mlp<TargetShape>;

/// What an [`MlpClassifier`] learnt of its labels: their sorted distinct values.
#[derive(Clone, Debug)]
pub struct ClassLabels(Vec<i64>);

/// What an [`MlpRegressor`] learnt of its targets: whether they were 1-D.
#[derive(Clone, Debug)]
pub struct TargetShape {
    one_d: bool,
}

#[derive(Clone, Debug)]
struct Fitted<K> {
    layout: Layout,
    out: OutputActivation,
    params: Vec<f64>,
    loss: f64,
    n_iter: usize,
    termination: Termination,
    kind: K,
}

impl<K> Default for Mlp<K> {
    fn default() -> Self {
        Mlp::new()
    }
}

impl<K> Mlp<K> {
    /// scikit-learn's defaults: one hidden layer of 100 units, `alpha = 1e-4`,
    /// `max_iter = 200`, `tol = 1e-4`; seed 0.
    pub fn new() -> Self {
        Mlp {
            hidden: vec![100],
            alpha: 1e-4,
            tol: 1e-4,
            max_iter: 200,
            seed: 0,
            initial: None,
            fitted: None,
        }
    }

    /// Hidden layer sizes (scikit-learn's `hidden_layer_sizes`), each ≥ 1; empty: no hidden
    /// layer (a linear model).
    pub fn hidden(mut self, sizes: &[usize]) -> Self {
        self.hidden = sizes.to_vec();
        self
    }

    /// L2 penalty `α ≥ 0` on the weights (the objective adds `α/(2n)·Σ‖W_l‖²`).
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }

    /// Gradient tolerance: converged when `max |∇f| ≤ tol`.
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// Most L-BFGS iterations; reaching it leaves the fit unconverged.
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Seed of the Glorot-uniform initialisation.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Starts the next fits from `params` (scikit-learn's packing: each `W_l` row-major
    /// `(fan_in, fan_out)`, then each `b_l`) instead of the seeded initialisation; `fit`
    /// refuses a length that does not match the network.
    pub fn initial_params(mut self, params: Vec<f64>) -> Self {
        self.initial = Some(params);
        self
    }

    /// The fitted parameters, packed as [`initial_params`](Self::initial_params) takes them.
    pub fn params(&self) -> Option<&[f64]> {
        self.fitted.as_ref().map(|f| f.params.as_slice())
    }

    /// Layer sizes of the fitted network, `[features, hidden…, outputs]`.
    pub fn units(&self) -> Option<&[usize]> {
        self.fitted.as_ref().map(|f| f.layout.units())
    }

    /// The objective at the fitted parameters (scikit-learn's `loss_`).
    pub fn loss(&self) -> Option<f64> {
        self.fitted.as_ref().map(|f| f.loss)
    }

    /// L-BFGS iterations of the last fit (scikit-learn's `n_iter_`).
    pub fn n_iter(&self) -> Option<usize> {
        self.fitted.as_ref().map(|f| f.n_iter)
    }

    /// Whether the last fit met a convergence test (scikit-learn warns when it did not).
    pub fn converged(&self) -> Option<bool> {
        self.fitted.as_ref().map(|f| f.termination.converged())
    }

    /// Why the last fit's solver stopped.
    pub fn termination(&self) -> Option<Termination> {
        self.fitted.as_ref().map(|f| f.termination)
    }

    fn check_params(&self, op: &'static str) -> Result<()> {
        if let Some(i) = self.hidden.iter().position(|&h| h == 0) {
            return Err(Error::invalid(
                op,
                format!("hidden layer {i} has 0 units; each needs at least 1"),
            ));
        }
        for (name, v) in [("alpha", self.alpha), ("tol", self.tol)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::invalid(
                    op,
                    format!("{name} must be finite and ≥ 0, got {v}"),
                ));
            }
        }
        if self.max_iter == 0 {
            return Err(Error::invalid(op, "max_iter must be at least 1"));
        }
        Ok(())
    }

    /// The starting point for `layout`: the given parameters, or the seeded Glorot draw.
    fn start(&self, op: &'static str, layout: &Layout) -> Result<Vec<f64>> {
        let np = layout.n_params();
        if let Some(p) = &self.initial {
            if p.len() != np {
                return Err(Error::shape(
                    op,
                    format!(
                        "initial parameters for layers {:?} ({np} values)",
                        layout.units()
                    ),
                    &[&[p.len()]],
                ));
            }
            if let Some(i) = p.iter().position(|v| !v.is_finite()) {
                return Err(Error::NonFinite {
                    what: format!("{op}: initial parameter {i} = {}", p[i]),
                });
            }
            return Ok(p.clone());
        }
        let mut rng = StdRng::seed_from_u64(self.seed);
        let mut params = vec![0.0; np];
        let u = layout.units();
        for l in 0..layout.n_layers() {
            let bound = (6.0 / (u[l] + u[l + 1]) as f64).sqrt();
            let dist = Uniform::new(-bound, bound);
            for r in [layout.coef_range(l), layout.intercept_range(l)] {
                params[r]
                    .iter_mut()
                    .for_each(|v| *v = dist.sample(&mut rng));
            }
        }
        Ok(params)
    }

    /// Fits the network `[d, hidden…, outputs]` on `x` `(n, d)` against `targets`.
    #[allow(clippy::too_many_arguments)]
    fn fit_network(
        &self,
        op: &'static str,
        x: &[f64],
        n: usize,
        d: usize,
        targets: Targets,
        observe: &dyn Fn(usize, usize),
        kind: K,
    ) -> Result<Fitted<K>> {
        let o = match targets {
            Targets::Softmax(codes) => codes.iter().max().map_or(0, |&c| c + 1),
            Targets::Logistic(_) => 1,
            Targets::Identity(y) => y.len() / n,
        };
        let units: Vec<usize> = std::iter::once(d)
            .chain(self.hidden.iter().copied())
            .chain(std::iter::once(o))
            .collect();
        let mut objective = MlpObjective::new(x, n, &units, targets, self.alpha)?;
        let layout = objective.layout().clone();
        let x0 = self.start(op, &layout)?;
        let opts = LbfgsOptions {
            max_iter: self.max_iter,
            gtol: self.tol,
            ..LbfgsOptions::default()
        };
        let max_iter = self.max_iter;
        let res = lbfgs::minimize_observed(
            |w, g| Ok(objective.value_grad(w, g)),
            &x0,
            &opts,
            |k| observe(k, max_iter),
        )?;
        let out = match targets {
            Targets::Softmax(_) => OutputActivation::Softmax,
            Targets::Logistic(_) => OutputActivation::Logistic,
            Targets::Identity(_) => OutputActivation::Identity,
        };
        Ok(Fitted {
            layout,
            out,
            params: res.x,
            loss: res.f,
            n_iter: res.n_iter,
            termination: res.termination,
            kind,
        })
    }

    /// The fitted network's outputs for `x` `(m, d)`: `(m, outputs)` row-major, and `m`.
    fn outputs<T: Element>(&self, op: &'static str, x: &Tensor<T>) -> Result<(Vec<f64>, usize)> {
        let f = self.fitted.as_ref().ok_or_else(|| not_fitted(op))?;
        let m = check_predict_features(op, x, f.layout.units()[0])?;
        Ok((predict(&f.layout, &f.params, f.out, &as_f64(x)?), m))
    }
}

impl Probe for MlpClassifier {
    type Targets = [i64];
    type Output = Vec<i64>;

    /// Fits on `x` `(n, d)` and labels `y` (`n` integers, at least two distinct values).
    fn fit<T: Element>(&mut self, x: &Tensor<T>, y: &[i64]) -> Result<()> {
        self.fit_observed(x, y, &|_, _| {})
    }

    /// [`fit`](Probe::fit), calling `observe(k, max_iter)` after the `k`-th L-BFGS iteration.
    fn fit_observed<T: Element>(
        &mut self,
        x: &Tensor<T>,
        y: &[i64],
        observe: &dyn Fn(usize, usize),
    ) -> Result<()> {
        const OP: &str = "MlpClassifier::fit";
        self.check_params(OP)?;
        self.fitted = None;
        let (n, d) = check_features(OP, x)?;
        check_label_len(OP, n, y)?;
        let (classes, codes) = encode_labels(y);
        if classes.len() < 2 {
            return Err(Error::invalid(
                OP,
                format!(
                    "y has a single class ({}); a classifier needs at least 2",
                    classes[0]
                ),
            ));
        }
        let targets = if classes.len() == 2 {
            Targets::Logistic(&codes)
        } else {
            Targets::Softmax(&codes)
        };
        let fitted = self.fit_network(
            OP,
            &as_f64(x)?,
            n,
            d,
            targets,
            observe,
            ClassLabels(classes),
        )?;
        self.fitted = Some(fitted);
        Ok(())
    }

    /// The most probable class of each row (the first on ties; for two classes `classes[1]`
    /// exactly when its probability is `> 0.5`, as scikit-learn's `LabelBinarizer`).
    fn predict<T: Element>(&self, x: &Tensor<T>) -> Result<Vec<i64>> {
        let (p, _) = self.outputs("MlpClassifier::predict", x)?;
        let classes = self.classes();
        let o = self.units().map_or(1, |u| u[u.len() - 1]);
        Ok(p.chunks_exact(o)
            .map(|r| {
                if o == 1 {
                    classes[usize::from(r[0] > 0.5)]
                } else {
                    let mut best = 0;
                    for (k, &v) in r.iter().enumerate() {
                        if v > r[best] {
                            best = k;
                        }
                    }
                    classes[best]
                }
            })
            .collect())
    }
}

impl Classifier for MlpClassifier {
    fn classes(&self) -> &[i64] {
        self.fitted.as_ref().map_or(&[], |f| f.kind.0.as_slice())
    }

    /// The softmax outputs, or `[1 − p, p]` for one logistic output `p`.
    fn predict_proba<T: Element>(&self, x: &Tensor<T>) -> Result<Tensor<f64>> {
        let (p, m) = self.outputs("MlpClassifier::predict_proba", x)?;
        let k = self.classes().len();
        if k == 2 {
            let two = p.iter().flat_map(|&v| [1.0 - v, v]).collect();
            return Tensor::from_vec(two, &[m, 2]);
        }
        Tensor::from_vec(p, &[m, k])
    }
}

impl Probe for MlpRegressor {
    type Targets = Tensor<f64>;
    type Output = Tensor<f64>;

    /// Fits on `x` `(n, d)` and targets `y` `(n,)` or `(n, t)` (one output per column).
    fn fit<T: Element>(&mut self, x: &Tensor<T>, y: &Tensor<f64>) -> Result<()> {
        self.fit_observed(x, y, &|_, _| {})
    }

    /// [`fit`](Probe::fit), calling `observe(k, max_iter)` after the `k`-th L-BFGS iteration.
    fn fit_observed<T: Element>(
        &mut self,
        x: &Tensor<T>,
        y: &Tensor<f64>,
        observe: &dyn Fn(usize, usize),
    ) -> Result<()> {
        const OP: &str = "MlpRegressor::fit";
        self.check_params(OP)?;
        self.fitted = None;
        let (n, d) = check_features(OP, x)?;
        check_targets(OP, n, y)?;
        let yv = y.host_values()?;
        let kind = TargetShape {
            one_d: y.ndim() == 1,
        };
        let fitted =
            self.fit_network(OP, &as_f64(x)?, n, d, Targets::Identity(&yv), observe, kind)?;
        self.fitted = Some(fitted);
        Ok(())
    }

    /// The network's outputs, shaped `(m,)` or `(m, t)` like the training targets.
    fn predict<T: Element>(&self, x: &Tensor<T>) -> Result<Tensor<f64>> {
        let (p, m) = self.outputs("MlpRegressor::predict", x)?;
        let f = self
            .fitted
            .as_ref()
            .ok_or_else(|| not_fitted("MlpRegressor::predict"))?;
        if f.kind.one_d {
            Tensor::from_vec(p, &[m])
        } else {
            let t = f.layout.n_outputs();
            Tensor::from_vec(p, &[m, t])
        }
    }
}
