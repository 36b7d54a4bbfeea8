//! The online linear probe (Lightning Bolts' `SSLOnlineEvaluator`, with a linear classifier): a
//! softmax regression that learns at every training step from the encoder output the estimator
//! already computed for the step's first view ([`Estimator::train_features`]: no extra
//! embedding pass, detached — the trainer hands over a host copy, so nothing is recorded on the
//! tape and nothing reaches back into the model), and is scored after every training epoch on
//! the probing test set, logged as `online/<metric>` (the six metrics of
//! [`ClassificationReport::metrics`]: `online/accuracy`, `online/balanced_accuracy`, ...).
//!
//! The features are standardised first, as by a `BatchNorm1d` without affine parameters: a
//! running per-feature mean and variance, set by the first batch and then moved towards each
//! batch's own by [`OnlineProbeConfig::norm_momentum`], which the test embeddings are
//! standardised by as well. Each batch takes [`OnlineProbeConfig::steps_per_batch`] Adam
//! steps.
//!
//! The test embeddings are the ones a probe computed at the same model state when one did
//! (callbacks on the same [`ProbingSets`], added before this one); otherwise the test set alone
//! is embedded ([`ProbingSets::with_test_embeddings`]).
//!
//! The probe draws its initialisation from its own seeded RNG, never the run's: the training
//! trajectory (losses, weights) is the same with and without it, bit for bit. Its weights, Adam
//! moments and running statistics go into every checkpoint ([`Callback::state`]), so a resumed
//! run continues it exactly; resuming with it from a checkpoint written without it is refused.

use super::callbacks::{Callback, CallbackContext, ProbingSets};
use super::estimator::Estimator;
use crate::error::{Error, Result, RunInput};
use crate::metrics::ClassificationReport;
use crate::probe::labels_from_f64;
use crate::tensor::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The tag prefix of the online probe's metrics.
pub const ONLINE_PREFIX: &str = "online";

/// Mixed into [`OnlineProbeConfig::seed`] so that a run's seed given as is draws the probe from
/// another stream than the model's initialisation (`"online"` in ASCII).
const INIT_STREAM: u64 = 0x6f6e_6c69_6e65;

/// What the probe's state is called in checkpoints (`online_probe.weight`, ...).
const STATE_PREFIX: &str = "online_probe.";

/// The online probe's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct OnlineProbeConfig {
    /// The classes, labelled `0..n_classes` (10 for MNIST's digits).
    pub n_classes: usize,
    /// Adam's learning rate (1e-2).
    pub lr: f64,
    /// Adam's `(β1, β2)` ((0.9, 0.999)).
    pub betas: (f64, f64),
    /// Adam's ε (1e-8).
    pub eps: f64,
    /// Seed of the probe's own initialisation RNG (mixed with a constant first, so the run's
    /// seed can be given as is: the stream differs from the model's).
    pub seed: u64,
    /// Momentum of the running feature standardisation (0.1, as PyTorch's `BatchNorm1d`): after
    /// the first batch, which sets them, the per-feature mean and variance move by this
    /// fraction towards each batch's own.
    pub norm_momentum: f64,
    /// Adam steps on each training batch (1).
    pub steps_per_batch: usize,
}

impl OnlineProbeConfig {
    /// `n_classes` classes, Adam with PyTorch's defaults but a learning rate of 1e-2, seed
    /// `seed`.
    pub fn new(n_classes: usize, seed: u64) -> Self {
        OnlineProbeConfig {
            n_classes,
            lr: 1e-2,
            betas: (0.9, 0.999),
            eps: 1e-8,
            seed,
            norm_momentum: 0.1,
            steps_per_batch: 1,
        }
    }
}

/// The probe's parameters and Adam moments, once the features' width is known.
#[derive(Clone, Debug, PartialEq)]
struct Params {
    /// Feature width `d`.
    d: usize,
    /// `[C, d]` weights then `[C]` biases (PyTorch's `Linear(d, C)` layout).
    theta: Vec<f32>,
    /// Adam's first moments, laid out as `theta`.
    m: Vec<f32>,
    /// Adam's second moments, laid out as `theta`.
    v: Vec<f32>,
    /// The running per-feature mean of the training features (`[d]`).
    mean: Vec<f32>,
    /// The running per-feature (biased) variance of the training features (`[d]`).
    var: Vec<f32>,
}

/// The online linear probe callback (see the [module](self) documentation).
pub struct OnlineProbe {
    sets: ProbingSets,
    config: OnlineProbeConfig,
    params: Option<Params>,
}

impl OnlineProbe {
    /// A probe of `config` scored on the test set of `sets` (one label column of classes
    /// `0..n_classes`).
    ///
    /// Errors: fewer than 2 classes, a learning rate, betas or ε out of range.
    pub fn new(sets: ProbingSets, config: OnlineProbeConfig) -> Result<Self> {
        const OP: &str = "OnlineProbe::new";
        let (b1, b2) = config.betas;
        if config.n_classes < 2 {
            return Err(Error::invalid(
                OP,
                format!("n_classes must be at least 2, got {}", config.n_classes),
            ));
        }
        if !(config.lr > 0.0 && config.lr.is_finite()) {
            return Err(Error::invalid(
                OP,
                format!("lr must be positive, got {}", config.lr),
            ));
        }
        if !((0.0..1.0).contains(&b1) && (0.0..1.0).contains(&b2)) {
            return Err(Error::invalid(
                OP,
                format!("betas must lie in [0, 1), got ({b1}, {b2})"),
            ));
        }
        if !(config.eps > 0.0 && config.eps.is_finite()) {
            return Err(Error::invalid(
                OP,
                format!("eps must be positive, got {}", config.eps),
            ));
        }
        if !(config.norm_momentum > 0.0 && config.norm_momentum <= 1.0) {
            return Err(Error::invalid(
                OP,
                format!(
                    "norm_momentum must lie in (0, 1], got {}",
                    config.norm_momentum
                ),
            ));
        }
        if config.steps_per_batch == 0 {
            return Err(Error::invalid(OP, "steps_per_batch must be at least 1"));
        }
        Ok(OnlineProbe {
            sets,
            config,
            params: None,
        })
    }

    /// The class scores `b + W x` of row `x`, into `out` (`[C]`).
    fn logits(theta: &[f32], d: usize, x: &[f32], out: &mut [f64]) {
        let c = out.len();
        for (k, o) in out.iter_mut().enumerate() {
            let w = &theta[k * d..(k + 1) * d];
            let dot: f64 = w.iter().zip(x).map(|(&a, &b)| a as f64 * b as f64).sum();
            *o = theta[c * d + k] as f64 + dot;
        }
    }

    /// The integer classes of `labels`, each checked to be in `0..n_classes`; `what` names the
    /// set in errors.
    fn classes(&self, labels: &[f64], what: &str) -> Result<Vec<i64>> {
        let y = labels_from_f64("OnlineProbe", labels)?;
        let c = self.config.n_classes;
        if let Some((i, v)) = y
            .iter()
            .enumerate()
            .find(|(_, &v)| v < 0 || v as usize >= c)
        {
            return Err(Error::invalid(
                "OnlineProbe",
                format!(
                    "{what}: label {v} of sample {i} is not one of the {c} classes 0..{}",
                    c - 1
                ),
            ));
        }
        Ok(y)
    }

    /// The predicted class of every row of the `[n, d]` row-major `x` (the first of equal
    /// scores).
    fn predict(&self, p: &Params, x: &[f32]) -> Vec<i64> {
        let mut scores = vec![0.0; self.config.n_classes];
        x.chunks(p.d)
            .map(|row| {
                Self::logits(&p.theta, p.d, row, &mut scores);
                let mut best = 0;
                for (k, &s) in scores.iter().enumerate() {
                    if s > scores[best] {
                        best = k;
                    }
                }
                best as i64
            })
            .collect()
    }
}

/// PyTorch's `Linear(d, C)` initialisation (weights and biases uniform in ±1/√d), drawn from
/// the probe's own RNG, zero Adam moments, and the standardisation of the first batch's
/// `[B, d]` features `x` (their own mean and variance).
fn init(cfg: &OnlineProbeConfig, d: usize, x: &[f32]) -> Params {
    let c = cfg.n_classes;
    let bound = 1.0 / (d as f64).sqrt();
    let mut rng = StdRng::seed_from_u64(cfg.seed ^ INIT_STREAM);
    let theta: Vec<f32> = (0..c * (d + 1))
        .map(|_| rng.gen_range(-bound..bound) as f32)
        .collect();
    let zeros = vec![0.0; theta.len()];
    let (mean, var) = batch_moments(x, d);
    Params {
        d,
        theta,
        m: zeros.clone(),
        v: zeros,
        mean: mean.iter().map(|&v| v as f32).collect(),
        var: var.iter().map(|&v| v as f32).collect(),
    }
}

/// Added to the variance before its square root in [`standardise`] (PyTorch's `BatchNorm`'s).
const NORM_EPS: f64 = 1e-5;

/// The per-feature mean and biased variance of the `[B, d]` row-major `x`, in f64.
fn batch_moments(x: &[f32], d: usize) -> (Vec<f64>, Vec<f64>) {
    let n = (x.len() / d) as f64;
    let mut mean = vec![0.0f64; d];
    for row in x.chunks(d) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += v as f64 / n;
        }
    }
    let mut var = vec![0.0f64; d];
    for row in x.chunks(d) {
        for ((s, &m), &v) in var.iter_mut().zip(&mean).zip(row) {
            *s += (v as f64 - m).powi(2) / n;
        }
    }
    (mean, var)
}

/// Moves the running statistics of `p` by `momentum` towards the moments of the batch `x`:
/// `μ ← (1 − m) μ + m μ_batch`, `σ² ← (1 − m) σ² + m σ²_batch` (in f64, stored as f32).
fn update_moments(p: &mut Params, momentum: f64, x: &[f32]) {
    let (mean, var) = batch_moments(x, p.d);
    for (r, b) in p.mean.iter_mut().zip(mean) {
        *r = ((1.0 - momentum) * *r as f64 + momentum * b) as f32;
    }
    for (r, b) in p.var.iter_mut().zip(var) {
        *r = ((1.0 - momentum) * *r as f64 + momentum * b) as f32;
    }
}

/// The `[n, d]` row-major `x` standardised by the running statistics of `p`:
/// `(x_j − μ_j) / √(σ²_j + 1e-5)` (computed in f64, rounded to f32).
fn standardise(p: &Params, x: &[f32]) -> Vec<f32> {
    let scale: Vec<f64> = p
        .var
        .iter()
        .map(|&v| 1.0 / (v as f64 + NORM_EPS).sqrt())
        .collect();
    x.chunks(p.d)
        .flat_map(|row| {
            row.iter()
                .zip(&p.mean)
                .zip(&scale)
                .map(|((&v, &m), &s)| ((v as f64 - m as f64) * s) as f32)
        })
        .collect()
}

/// One Adam step of the mean cross-entropy of a softmax regression on the `[B, d]` row-major
/// `x` with classes `y`, the `t`-th step (from 1), in f64 on the f32 state:
///
/// `L = −(1/B) Σ_b log softmax(W x_b + b)[y_b]`, so `∂L/∂z_bk = (p_bk − [k = y_b]) / B` for
/// the logits `z`, `∂L/∂W_kj = Σ_b ∂L/∂z_bk · x_bj` and `∂L/∂b_k = Σ_b ∂L/∂z_bk`.
fn adam_step(p: &mut Params, cfg: &OnlineProbeConfig, x: &[f32], y: &[i64], t: u64) {
    let (_, grad) = loss_and_gradient(&p.theta, cfg.n_classes, p.d, x, y);
    let (b1, b2) = cfg.betas;
    let (c1, c2) = (1.0 - b1.powf(t as f64), 1.0 - b2.powf(t as f64));
    for (i, g) in grad.into_iter().enumerate() {
        let m = b1 * p.m[i] as f64 + (1.0 - b1) * g;
        let v = b2 * p.v[i] as f64 + (1.0 - b2) * g * g;
        p.m[i] = m as f32;
        p.v[i] = v as f32;
        let update = cfg.lr * (m / c1) / ((v / c2).sqrt() + cfg.eps);
        p.theta[i] = (p.theta[i] as f64 - update) as f32;
    }
}

/// The mean cross-entropy of [`adam_step`] and its gradient (laid out as `theta`), in f64.
fn loss_and_gradient(theta: &[f32], c: usize, d: usize, x: &[f32], y: &[i64]) -> (f64, Vec<f64>) {
    let mut grad = vec![0.0f64; theta.len()];
    let mut z = vec![0.0f64; c];
    let inv_b = 1.0 / y.len() as f64;
    let mut loss = 0.0;
    for (row, &label) in x.chunks(d).zip(y) {
        OnlineProbe::logits(theta, d, row, &mut z);
        let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = z.iter().map(|&v| (v - max).exp()).sum();
        loss += (max + sum.ln() - z[label as usize]) * inv_b;
        for (k, &zk) in z.iter().enumerate() {
            let prob = (zk - max).exp() / sum;
            let dz = (prob - if k as i64 == label { 1.0 } else { 0.0 }) * inv_b;
            for (g, &xj) in grad[k * d..(k + 1) * d].iter_mut().zip(row) {
                *g += dz * xj as f64;
            }
            grad[c * d + k] += dz;
        }
    }
    (loss, grad)
}

impl Callback for OnlineProbe {
    /// The probing test set goes through the encoder and has one label column.
    fn check(&mut self, est: &dyn Estimator) -> Result<()> {
        let columns = self.sets.check_test(est)?;
        if columns == 1 {
            return Ok(());
        }
        Err(Error::run_input(
            RunInput::Data,
            format!(
                "the online probe classifies one label column, the probing test set has {columns}"
            ),
        ))
    }

    fn wants_train_batches(&self) -> bool {
        true
    }

    /// Moves the running statistics towards the batch's first-view features (the first batch
    /// sets them), standardises the features by them, and takes `k =`
    /// [`steps_per_batch`](OnlineProbeConfig::steps_per_batch) Adam steps on them and the
    /// batch's classes; Adam's step counts follow the run's (`ctx.global_step · k + 1 ..= +k`),
    /// so a resumed probe continues its bias correction.
    ///
    /// Errors: labels that are not classes `0..n_classes`, features of another width than
    /// before.
    fn on_train_batch(
        &mut self,
        ctx: &CallbackContext,
        features: &Tensor<f32>,
        labels: &Tensor<f64>,
    ) -> Result<()> {
        let (b, d) = features.dims2("OnlineProbe")?;
        let y = self.classes(labels.data()?, "the training batch")?;
        if y.len() != b {
            return Err(Error::shape(
                "OnlineProbe",
                "one label per feature row",
                &[features.shape(), labels.shape()],
            ));
        }
        let cfg = &self.config;
        let x = features.data()?;
        let p = match &mut self.params {
            Some(p) if p.d != d => {
                return Err(Error::shape(
                    "OnlineProbe",
                    format!("training features of width {}", p.d),
                    &[features.shape()],
                ))
            }
            Some(p) => {
                update_moments(p, cfg.norm_momentum, x);
                p
            }
            None => self.params.insert(init(cfg, d, x)),
        };
        let xs = standardise(p, x);
        let k = cfg.steps_per_batch as u64;
        for j in 0..k {
            adam_step(p, cfg, &xs, &y, ctx.global_step * k + j + 1);
        }
        Ok(())
    }

    /// `online/<metric>` of the probe on the probing test set, standardised by the running
    /// statistics (nothing before its first step).
    fn on_train_epoch_end(
        &mut self,
        ctx: &CallbackContext,
        est: &dyn Estimator,
    ) -> Result<Vec<(String, f64)>> {
        let Some(p) = &self.params else {
            return Ok(Vec::new());
        };
        let report = self.sets.with_test_embeddings(ctx, est, |te| {
            if te.d != p.d {
                return Err(Error::shape(
                    "OnlineProbe",
                    "test embeddings as wide as the training features",
                    &[&[te.n, te.d], &[p.d]],
                ));
            }
            let y = self.classes(&te.column(0), "the probing test set")?;
            ClassificationReport::new(&y, &self.predict(p, &standardise(p, &te.x)))
        })?;
        Ok(report
            .metrics()
            .iter()
            .map(|(m, v)| (format!("{ONLINE_PREFIX}/{m}"), *v))
            .collect())
    }

    /// `online_probe.weight` (`[C, d]`), `.bias` (`[C]`), `.exp_avg` and `.exp_avg_sq` (Adam's
    /// moments, `[C·(d+1)]`, laid out as weights then biases), `.running_mean` and
    /// `.running_var` (`[d]`, the standardisation); nothing before the first step.
    fn state(&self) -> Vec<(String, Tensor<f32>)> {
        let Some(p) = &self.params else {
            return Vec::new();
        };
        let c = self.config.n_classes;
        let n = c * p.d;
        let t = |v: &[f32], shape: &[usize]| {
            Tensor::from_vec(v.to_vec(), shape).expect("shape matches the length")
        };
        vec![
            (format!("{STATE_PREFIX}weight"), t(&p.theta[..n], &[c, p.d])),
            (format!("{STATE_PREFIX}bias"), t(&p.theta[n..], &[c])),
            (format!("{STATE_PREFIX}exp_avg"), t(&p.m, &[p.m.len()])),
            (format!("{STATE_PREFIX}exp_avg_sq"), t(&p.v, &[p.v.len()])),
            (format!("{STATE_PREFIX}running_mean"), t(&p.mean, &[p.d])),
            (format!("{STATE_PREFIX}running_var"), t(&p.var, &[p.d])),
        ]
    }

    /// Errors: a checkpoint without the probe's state (written by a run without it: the probe
    /// cannot continue exactly), or with state of other shapes.
    fn load_state(&mut self, state: &[(String, Tensor<f32>)]) -> Result<()> {
        let get = |name: &str| {
            let full = format!("{STATE_PREFIX}{name}");
            state
                .iter()
                .find(|(n, _)| *n == full)
                .map(|(_, t)| t)
                .ok_or_else(|| {
                    Error::invalid(
                        "OnlineProbe::load_state",
                        format!(
                            "the checkpoint has no '{full}': it was written by a run without \
                             the online probe, which cannot continue it exactly (resume without \
                             the online probe, or train from the start with it)"
                        ),
                    )
                })
        };
        let weight = get("weight")?;
        let c = self.config.n_classes;
        let [wc, d] = weight.shape() else {
            return Err(Error::shape(
                "OnlineProbe::load_state",
                "a [classes, width] 'online_probe.weight'",
                &[weight.shape()],
            ));
        };
        let (wc, d) = (*wc, *d);
        let len = c * (d + 1);
        let (bias, m, v) = (get("bias")?, get("exp_avg")?, get("exp_avg_sq")?);
        let (mean, var) = (get("running_mean")?, get("running_var")?);
        if wc != c
            || bias.shape() != [c]
            || m.shape() != [len]
            || v.shape() != [len]
            || mean.shape() != [d]
            || var.shape() != [d]
        {
            return Err(Error::shape(
                "OnlineProbe::load_state",
                format!("the state of a probe of {c} classes"),
                &[
                    weight.shape(),
                    bias.shape(),
                    m.shape(),
                    v.shape(),
                    mean.shape(),
                    var.shape(),
                ],
            ));
        }
        let mut theta = weight.host_values()?.into_owned();
        theta.extend_from_slice(&bias.host_values()?);
        self.params = Some(Params {
            d,
            theta,
            m: m.host_values()?.into_owned(),
            v: v.host_values()?.into_owned(),
            mean: mean.host_values()?.into_owned(),
            var: var.host_values()?.into_owned(),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 5 rows of 3 features, 4 classes, and parameters drawn by [`init`] on them.
    fn case() -> (OnlineProbeConfig, Params, Vec<f32>, Vec<i64>) {
        let cfg = OnlineProbeConfig::new(4, 3);
        let x = vec![
            0.5, -1.0, 2.0, 1.5, 0.25, -0.75, -2.0, 1.0, 0.5, 0.0, 0.3, -0.2, 1.0, 1.0, 1.0,
        ];
        let p = init(&cfg, 3, &x);
        (cfg, p, x, vec![0, 3, 1, 1, 2])
    }

    /// Asserts `a` and `b` agree to `tol` element by element.
    fn close(a: &[f32], b: &[f64], tol: f64) {
        assert_eq!(a.len(), b.len());
        for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
            assert!((x as f64 - y).abs() < tol, "{i}: {x} vs {y}");
        }
    }

    #[test]
    fn the_running_standardisation_starts_at_the_first_batch_and_moves_by_the_momentum() {
        // Columns of the case's x: (0.5, 1.5, −2, 0, 1) sums to 1 → mean 0.2, squared
        // deviations 0.09 + 1.69 + 4.84 + 0.04 + 0.64 = 7.3 → variance 1.46;
        // (−1, 0.25, 1, 0.3, 1) → 1.55 / 5 = 0.31, 1.7161 + 0.0036 + 0.4761 + 0.0001 + 0.4761
        // = 2.672 → 0.5344; (2, −0.75, 0.5, −0.2, 1) → 2.55 / 5 = 0.51, 2.2201 + 1.5876
        // + 0.0001 + 0.5041 + 0.2401 = 4.552 → 0.9104.
        let (_, mut p, x, _) = case();
        close(&p.mean, &[0.2, 0.31, 0.51], 1e-6);
        close(&p.var, &[1.46, 0.5344, 0.9104], 1e-6);
        // Row 0 standardised: (0.5 − 0.2) / √(1.46 + 1e-5), (−1 − 0.31) / √(0.5344 + 1e-5),
        // (2 − 0.51) / √(0.9104 + 1e-5).
        let row0: Vec<f64> = [(0.3, 1.46001), (-1.31, 0.53441), (1.49, 0.91041)]
            .iter()
            .map(|&(dev, var): &(f64, f64)| dev / var.sqrt())
            .collect();
        close(&standardise(&p, &x)[..3], &row0, 1e-6);
        // A second batch 2x + 1 has mean 2μ + 1 and variance 4σ²: with momentum 0.1,
        // μ ← 0.9 μ + 0.1 (2μ + 1) = 1.1 μ + 0.1 and σ² ← 0.9 σ² + 0.4 σ² = 1.3 σ².
        let x2: Vec<f32> = x.iter().map(|&v| 2.0 * v + 1.0).collect();
        update_moments(&mut p, 0.1, &x2);
        close(&p.mean, &[0.32, 0.441, 0.661], 1e-6);
        close(&p.var, &[1.898, 0.69472, 1.18352], 1e-6);
    }

    #[test]
    fn each_batch_takes_its_adam_steps_on_its_standardised_features() {
        // Global step 3 with 2 steps per batch: Adam steps 7 and 8 on the features standardised
        // by the statistics moved by this batch.
        let (mut cfg, p, x, y) = case();
        cfg.steps_per_batch = 2;
        let sets = ProbingSets::new(tiny_loader(), tiny_loader());
        let mut probe = OnlineProbe::new(sets, cfg.clone()).unwrap();
        probe.params = Some(p.clone());
        let features = Tensor::from_vec(x.clone(), &[5, 3]).unwrap();
        let labels = Tensor::from_vec(y.iter().map(|&v| v as f64).collect(), &[5]).unwrap();
        let ctx = CallbackContext {
            epoch: 0,
            global_step: 3,
            max_epochs: 1,
            fit_id: 0,
            progress: &crate::train::NoProgress,
        };
        probe.on_train_batch(&ctx, &features, &labels).unwrap();
        let mut expected = p;
        update_moments(&mut expected, cfg.norm_momentum, &x);
        let xs = standardise(&expected, &x);
        adam_step(&mut expected, &cfg, &xs, &y, 7);
        adam_step(&mut expected, &cfg, &xs, &y, 8);
        assert_eq!(probe.params.as_ref(), Some(&expected));
    }

    /// A loader of one sample of one feature.
    fn tiny_loader() -> Box<dyn crate::datasets::loader::BatchSource> {
        use crate::datasets::array::FeatureArray;
        use crate::datasets::loader::Loader;
        use crate::datasets::transforms::Identity;
        let x = Tensor::from_vec(vec![0.0f32], &[1, 1]).unwrap();
        let y = Tensor::from_vec(vec![0.0f64], &[1]).unwrap();
        let set = std::sync::Arc::new(FeatureArray::new(&x, &y).unwrap());
        Box::new(Loader::new(set, Identity, 1).unwrap())
    }

    #[test]
    fn the_gradient_matches_central_differences() {
        let (cfg, p, x, y) = case();
        let (_, grad) = loss_and_gradient(&p.theta, cfg.n_classes, p.d, &x, &y);
        for i in 0..p.theta.len() {
            let (mut plus, mut minus) = (p.theta.clone(), p.theta.clone());
            plus[i] += 1e-2;
            minus[i] -= 1e-2;
            let (lp, _) = loss_and_gradient(&plus, cfg.n_classes, p.d, &x, &y);
            let (lm, _) = loss_and_gradient(&minus, cfg.n_classes, p.d, &x, &y);
            // The perturbed values as stored (f32), so the step is exact.
            let fd = (lp - lm) / (plus[i] as f64 - minus[i] as f64);
            assert!((fd - grad[i]).abs() < 1e-5, "θ{i}: {fd} vs {}", grad[i]);
        }
    }

    #[test]
    fn the_first_adam_step_moves_every_parameter_by_the_learning_rate() {
        // At t = 1, m̂ = g and v̂ = g², so the step is lr · g / (|g| + ε) = lr · sign(g).
        let (cfg, mut p, x, y) = case();
        let xs = standardise(&p, &x);
        let before = p.theta.clone();
        let (_, grad) = loss_and_gradient(&before, cfg.n_classes, p.d, &xs, &y);
        adam_step(&mut p, &cfg, &xs, &y, 1);
        for i in 0..before.len() {
            let step = before[i] as f64 - p.theta[i] as f64;
            let expected = cfg.lr * grad[i] / (grad[i].abs() + cfg.eps);
            assert!((step - expected).abs() < 1e-7, "θ{i}: {step} vs {expected}");
        }
    }

    #[test]
    fn bad_settings_and_labels_are_refused() {
        let sets = || ProbingSets::new(tiny_loader(), tiny_loader());
        assert!(OnlineProbe::new(sets(), OnlineProbeConfig::new(1, 0)).is_err());
        let mut cfg = OnlineProbeConfig::new(3, 0);
        cfg.lr = 0.0;
        assert!(OnlineProbe::new(sets(), cfg).is_err());
        for momentum in [0.0, 1.5] {
            let mut cfg = OnlineProbeConfig::new(3, 0);
            cfg.norm_momentum = momentum;
            assert!(
                OnlineProbe::new(sets(), cfg).is_err(),
                "momentum {momentum}"
            );
        }
        let mut cfg = OnlineProbeConfig::new(3, 0);
        cfg.steps_per_batch = 0;
        assert!(OnlineProbe::new(sets(), cfg).is_err());
        let probe = OnlineProbe::new(sets(), OnlineProbeConfig::new(3, 0)).unwrap();
        let e = probe
            .classes(&[0.0, 3.0], "the training batch")
            .unwrap_err();
        assert!(e.to_string().contains("label 3 of sample 1"), "{e}");
        assert!(probe.classes(&[0.5], "x").is_err());
    }
}
