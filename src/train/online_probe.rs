//! The online linear probe (Lightning Bolts' `SSLOnlineEvaluator`, with a linear classifier): a
//! softmax regression that learns at every training step from the encoder output the estimator
//! already computed for the step's first view ([`Estimator::train_features`]: no extra
//! embedding pass, detached — the trainer hands over a host copy, so nothing is recorded on the
//! tape and nothing reaches back into the model), and is scored after every training epoch on
//! the probing test set, logged as `online/<metric>` (the six metrics of
//! [`ClassificationReport::metrics`]: `online/accuracy`, `online/balanced_accuracy`, ...).
//!
//! The test embeddings are the ones a probe computed at the same model state when one did
//! (callbacks on the same [`ProbingSets`], added before this one); otherwise the test set alone
//! is embedded ([`ProbingSets::with_test_embeddings`]).
//!
//! The probe draws its initialisation from its own seeded RNG, never the run's: the training
//! trajectory (losses, weights) is the same with and without it, bit for bit. Its weights and
//! Adam moments go into every checkpoint ([`Callback::state`]), so a resumed run continues it
//! exactly; resuming with it from a checkpoint written without it is refused.

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
/// the probe's own RNG, and zero Adam moments.
fn init(cfg: &OnlineProbeConfig, d: usize) -> Params {
    let c = cfg.n_classes;
    let bound = 1.0 / (d as f64).sqrt();
    let mut rng = StdRng::seed_from_u64(cfg.seed ^ INIT_STREAM);
    let theta: Vec<f32> = (0..c * (d + 1))
        .map(|_| rng.gen_range(-bound..bound) as f32)
        .collect();
    let zeros = vec![0.0; theta.len()];
    Params {
        d,
        theta,
        m: zeros.clone(),
        v: zeros,
    }
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

    /// One Adam step on the batch's first-view features and its classes; Adam's step count is
    /// the run's (`ctx.global_step + 1`), so a resumed probe continues its bias correction.
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
        let p = self.params.get_or_insert_with(|| init(cfg, d));
        if p.d != d {
            return Err(Error::shape(
                "OnlineProbe",
                format!("training features of width {}", p.d),
                &[features.shape()],
            ));
        }
        adam_step(p, cfg, features.data()?, &y, ctx.global_step + 1);
        Ok(())
    }

    /// `online/<metric>` of the probe on the probing test set (nothing before its first step).
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
            ClassificationReport::new(&y, &self.predict(p, &te.x))
        })?;
        Ok(report
            .metrics()
            .iter()
            .map(|(m, v)| (format!("{ONLINE_PREFIX}/{m}"), *v))
            .collect())
    }

    /// `online_probe.weight` (`[C, d]`), `.bias` (`[C]`), `.exp_avg` and `.exp_avg_sq` (Adam's
    /// moments, `[C·(d+1)]`, laid out as weights then biases); nothing before the first step.
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
        if wc != c || bias.shape() != [c] || m.shape() != [len] || v.shape() != [len] {
            return Err(Error::shape(
                "OnlineProbe::load_state",
                format!("the state of a probe of {c} classes"),
                &[weight.shape(), bias.shape(), m.shape(), v.shape()],
            ));
        }
        let mut theta = weight.host_values()?.into_owned();
        theta.extend_from_slice(&bias.host_values()?);
        self.params = Some(Params {
            d,
            theta,
            m: m.host_values()?.into_owned(),
            v: v.host_values()?.into_owned(),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 5 rows of 3 features, 4 classes, and parameters drawn by [`init`].
    fn case() -> (OnlineProbeConfig, Params, Vec<f32>, Vec<i64>) {
        let cfg = OnlineProbeConfig::new(4, 3);
        let p = init(&cfg, 3);
        let x = vec![
            0.5, -1.0, 2.0, 1.5, 0.25, -0.75, -2.0, 1.0, 0.5, 0.0, 0.3, -0.2, 1.0, 1.0, 1.0,
        ];
        (cfg, p, x, vec![0, 3, 1, 1, 2])
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
        let before = p.theta.clone();
        let (_, grad) = loss_and_gradient(&before, cfg.n_classes, p.d, &x, &y);
        adam_step(&mut p, &cfg, &x, &y, 1);
        for i in 0..before.len() {
            let step = before[i] as f64 - p.theta[i] as f64;
            let expected = cfg.lr * grad[i] / (grad[i].abs() + cfg.eps);
            assert!((step - expected).abs() < 1e-7, "θ{i}: {step} vs {expected}");
        }
    }

    #[test]
    fn bad_settings_and_labels_are_refused() {
        use crate::datasets::array::FeatureArray;
        use crate::datasets::loader::{BatchSource, Loader};
        use crate::datasets::transforms::Identity;
        let sets = || {
            let one = || -> Box<dyn BatchSource> {
                let x = Tensor::from_vec(vec![0.0f32], &[1, 1]).unwrap();
                let y = Tensor::from_vec(vec![0.0f64], &[1]).unwrap();
                let set = std::sync::Arc::new(FeatureArray::new(&x, &y).unwrap());
                Box::new(Loader::new(set, Identity, 1).unwrap())
            };
            ProbingSets::new(one(), one())
        };
        assert!(OnlineProbe::new(sets(), OnlineProbeConfig::new(1, 0)).is_err());
        let mut cfg = OnlineProbeConfig::new(3, 0);
        cfg.lr = 0.0;
        assert!(OnlineProbe::new(sets(), cfg).is_err());
        let probe = OnlineProbe::new(sets(), OnlineProbeConfig::new(3, 0)).unwrap();
        let e = probe
            .classes(&[0.0, 3.0], "the training batch")
            .unwrap_err();
        assert!(e.to_string().contains("label 3 of sample 1"), "{e}");
        assert!(probe.classes(&[0.5], "x").is_err());
    }
}
