//! Embedding estimators: an encoder, a projection head, a self-supervised loss and an optimizer.
//!
//! The [`Trainer`](super::Trainer) drives an [`Estimator`] through its small interface: the loss
//! of a batch on a graph, the update from its gradients, the per-epoch schedule, the state for
//! checkpoints, and [`Estimator::embed`] (encoder only) for the probing callbacks.

use crate::autograd::{Grads, Graph, Var};
use crate::datasets::loader::Batch;
use crate::error::{Error, Result};
use crate::loss::{Bandwidth, BarlowTwinsLoss, InfoNce, Kernel, YAwareInfoNce};
use crate::nn::{move_to, param_grads, param_values_mut, Mlp, Module, ProjectionHead, State};
use crate::optim::{Adam, AdamW, CosineAnnealingLr, LinearWarmupCosine, LrSchedule, Optimizer};
use crate::tensor::{Device, Tensor};
use std::collections::BTreeMap;

/// What the trainer needs from a self-supervised model (f32 throughout).
pub trait Estimator: Send + Sync {
    /// A short name for logs (`SimCLR`, `YAwareContrastiveLearning`).
    fn name(&self) -> &'static str;

    /// The encoder's output for `x` (no projection head): what probes see. Called on an
    /// inference graph ([`Graph::inference`]) by the callbacks.
    fn embed(&self, g: &mut Graph<f32>, x: Var) -> Result<Var>;

    /// The projection head's output for `x` (encoder, then head): what the self-supervised loss
    /// compares of each view, nidl's `z1` / `z2`, which the SSL metrics callback measures.
    /// Called on an inference graph. The default: an [`Error::InvalidArgument`] saying the
    /// estimator has no projection head.
    fn project(&self, _g: &mut Graph<f32>, _x: Var) -> Result<Var> {
        Err(Error::invalid(
            "Estimator::project",
            format!("{} has no projection head to measure", self.name()),
        ))
    }

    /// The 0-d loss of `batch` (views stacked view-major), recorded on `g`. Training calls it on a
    /// recording graph, validation on an inference graph.
    fn loss(&mut self, g: &mut Graph<f32>, batch: &Batch<f32>) -> Result<Var>;

    /// One optimizer step from the gradients of the last training loss.
    fn apply_gradients(&mut self, grads: &Grads<f32>) -> Result<()>;

    /// Tells the estimator how long the run is, before anything else of a run:
    /// [`Trainer::fit`](super::Trainer::fit) calls it with its `max_epochs` and the optimizer
    /// steps per epoch (the training batches after `limit_train_batches`), before it restores a
    /// checkpoint or records the hyper-parameters. Estimators with a learning-rate schedule size
    /// it here; the default ignores it.
    ///
    /// Errors: a length the estimator cannot schedule (e.g. no step per epoch).
    fn set_run_length(&mut self, _max_epochs: usize, _steps_per_epoch: usize) -> Result<()> {
        Ok(())
    }

    /// Called before epoch `epoch` (0-based) starts: sets the learning rate of its schedule.
    fn on_epoch_start(&mut self, _epoch: usize) -> Result<()> {
        Ok(())
    }

    /// The learning rate the next step uses.
    fn lr(&self) -> f64;

    /// Moves the model's parameters to `device`; training then runs there (batches are
    /// uploaded by the first op that meets a parameter) and checkpoints restored later stay
    /// there.
    ///
    /// Errors: [`Error::Device`] when the device cannot be used.
    fn move_to(&mut self, device: Device) -> Result<()>;

    /// Model and optimizer state: `encoder.<name>`, `head.<name>`, `optimizer.<name>`.
    fn state(&self) -> Vec<(String, Tensor<f32>)>;

    /// Restores what [`state`](Self::state) returned; errors name the first entry at fault.
    fn load_state(&mut self, state: &[(String, Tensor<f32>)]) -> Result<()>;

    /// Calls `f(name, value, gradient)` for every trainable parameter, named as in
    /// [`state`](Self::state) (`encoder.<name>`, `head.<name>`), with its gradient in `grads`
    /// (`None` where none reached it), then `f(name, buffer, None)` for every buffer (batch-norm
    /// running statistics), copying nothing: the trainer checks them for NaN and infinity
    /// around every optimizer step.
    ///
    /// The default visits a copy of [`state`](Self::state) (optimizer state included, no
    /// gradients); the estimators of this module walk their modules instead.
    fn visit_trained_tensors(
        &self,
        _grads: &Grads<f32>,
        f: &mut dyn FnMut(&str, &Tensor<f32>, Option<&Tensor<f32>>),
    ) {
        for (name, t) in self.state() {
            f(&name, &t, None);
        }
    }

    /// Settings learned during training that are not tensors (e.g. a fitted bandwidth), stored
    /// in the checkpoint's metadata.
    fn extra_metadata(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Restores [`extra_metadata`](Self::extra_metadata) from a checkpoint's metadata.
    fn load_extra_metadata(&mut self, _meta: &BTreeMap<String, String>) -> Result<()> {
        Ok(())
    }

    /// Hyper-parameters for `hparams.yaml`.
    fn hparams(&self) -> Vec<(String, String)>;

    /// The encoder's output for the first view of the batch of the last [`loss`](Self::loss)
    /// call, as recorded on that call's graph (`[B, latent]`): what an online probe learns from
    /// ([`Callback::on_train_batch`](super::Callback::on_train_batch)) without embedding the
    /// batch again. The trainer only reads its value, so nothing downstream of it is recorded
    /// and no gradient reaches back. `None` (the default) for an estimator that does not
    /// expose it.
    fn train_features(&self) -> Option<Var> {
        None
    }
}

/// Splits a `prefix.`-named state into the entries of one part.
pub(super) fn part(state: &[(String, Tensor<f32>)], prefix: &str) -> Vec<(String, Tensor<f32>)> {
    state
        .iter()
        .filter_map(|(n, t)| n.strip_prefix(prefix).map(|r| (r.to_string(), t.clone())))
        .collect()
}

/// The [`Estimator`] methods that only hand over to a `parts: Parts<_>` field: `embed` (the
/// encoder), `project` (encoder and head), `apply_gradients`, `lr`, `move_to`, `state`, `load_state` and
/// `visit_trained_tensors` (all but `apply_gradients` with `@without_step`).
macro_rules! estimator_parts_methods {
    () => {
        estimator_parts_methods!(@without_step);

        fn apply_gradients(&mut self, grads: &Grads<f32>) -> Result<()> {
            self.parts.step(grads)
        }
    };
    (@without_step) => {
        fn embed(&self, g: &mut Graph<f32>, x: Var) -> Result<Var> {
            self.parts.encode(g, x)
        }

        fn project(&self, g: &mut Graph<f32>, x: Var) -> Result<Var> {
            let h = self.parts.encode(g, x)?;
            self.parts.head(g, h)
        }

        fn lr(&self) -> f64 {
            self.parts.opt.lr()
        }

        fn train_features(&self) -> Option<Var> {
            self.parts.features
        }

        fn move_to(&mut self, device: Device) -> Result<()> {
            self.parts.move_to(device)
        }

        fn state(&self) -> Vec<(String, Tensor<f32>)> {
            self.parts.state()
        }

        fn load_state(&mut self, state: &[(String, Tensor<f32>)]) -> Result<()> {
            self.parts.load_state(state)
        }

        fn visit_trained_tensors(
            &self,
            grads: &Grads<f32>,
            f: &mut dyn FnMut(&str, &Tensor<f32>, Option<&Tensor<f32>>),
        ) {
            self.parts.visit_trained_tensors(grads, f)
        }
    };
}

/// Encoder + head + optimizer plumbing shared by the estimators.
struct Parts<O> {
    encoder: Box<dyn Module<f32>>,
    head: Box<dyn Module<f32>>,
    opt: O,
    /// Where the parameters live.
    device: Device,
    /// The first view's encoder output in the last [`project_each`](Parts::project_each)
    /// ([`Estimator::train_features`]).
    features: Option<Var>,
}

/// Checks a training batch holds the two views every estimator here compares; returns `B`.
fn two_views(batch: &Batch<f32>) -> Result<usize> {
    if batch.n_views != 2 {
        return Err(Error::invalid(
            "Estimator::loss",
            format!(
                "self-supervised training needs 2 views per sample, got {}",
                batch.n_views
            ),
        ));
    }
    Ok(batch.len())
}

impl<O> Parts<O> {
    /// The encoder's output; its errors name the module at fault (`encoder.fc2: …`).
    fn encode(&self, g: &mut Graph<f32>, x: Var) -> Result<Var> {
        self.encoder
            .forward(g, x)
            .map_err(|e| e.in_module("encoder"))
    }

    /// The head's output; its errors name the module at fault (`head.layers.0: …`).
    fn head(&self, g: &mut Graph<f32>, h: Var) -> Result<Var> {
        self.head.forward(g, h).map_err(|e| e.in_module("head"))
    }
}

impl<O: Optimizer<f32>> Parts<O> {
    /// The projections of each view through encoder and head separately, as nidl's training
    /// steps run them (`head(encoder(V1))`, `head(encoder(V2))`): batch-norm layers then
    /// normalise each view with its own batch statistics and update their running statistics
    /// once per view, as in PyTorch. The first view's encoder output is kept as
    /// [`Estimator::train_features`].
    fn project_each(&mut self, g: &mut Graph<f32>, batch: &Batch<f32>) -> Result<(Var, Var)> {
        two_views(batch)?;
        self.features = None;
        let mut project = |v: usize| -> Result<(Var, Var)> {
            let x = g.input(batch.view(v)?);
            let h = self.encode(g, x)?;
            Ok((h, self.head(g, h)?))
        };
        let (h1, z1) = project(0)?;
        let (_, z2) = project(1)?;
        self.features = Some(h1);
        Ok((z1, z2))
    }

    fn step(&mut self, grads: &Grads<f32>) -> Result<()> {
        let mut all = param_grads(self.encoder.as_ref(), grads);
        all.extend(param_grads(self.head.as_ref(), grads));
        let refs: Vec<&Tensor<f32>> = all.iter().collect();
        let mut params = param_values_mut(self.encoder.as_mut());
        params.extend(param_values_mut(self.head.as_mut()));
        self.opt.step(&mut params, &refs)
    }

    /// [`Estimator::visit_trained_tensors`] over encoder and head.
    fn visit_trained_tensors(
        &self,
        grads: &Grads<f32>,
        f: &mut dyn FnMut(&str, &Tensor<f32>, Option<&Tensor<f32>>),
    ) {
        for (prefix, module) in [("encoder", &self.encoder), ("head", &self.head)] {
            // Parameters first, then buffers, as the checkpoint lists them.
            module.visit(prefix, &mut |name, s| {
                if let State::Param(p) = s {
                    f(name, &p.value, grads.param(p.id()))
                }
            });
            module.visit(prefix, &mut |name, s| {
                if let State::Buffer(b) = s {
                    f(name, b, None)
                }
            });
        }
    }

    /// Moves encoder and head parameters to `device` and keeps them there across
    /// [`load_state`](Self::load_state).
    fn move_to(&mut self, device: Device) -> Result<()> {
        move_to(self.encoder.as_mut(), device)?;
        move_to(self.head.as_mut(), device)?;
        self.device = device;
        Ok(())
    }

    fn state(&self) -> Vec<(String, Tensor<f32>)> {
        let mut out: Vec<(String, Tensor<f32>)> = self
            .encoder
            .state_dict()
            .into_iter()
            .map(|(n, t)| (format!("encoder.{n}"), t))
            .collect();
        out.extend(
            self.head
                .state_dict()
                .into_iter()
                .map(|(n, t)| (format!("head.{n}"), t)),
        );
        out.extend(
            self.opt
                .state()
                .into_iter()
                .map(|(n, t)| (format!("optimizer.{n}"), t)),
        );
        out
    }

    fn load_state(&mut self, state: &[(String, Tensor<f32>)]) -> Result<()> {
        let enc = part(state, "encoder.");
        let head = part(state, "head.");
        let opt = part(state, "optimizer.");
        // Check both modules accept their entries before changing anything.
        for (n, t) in &self.encoder.state_dict() {
            let src = enc.iter().find(|(m, _)| m == n).ok_or_else(|| {
                Error::invalid("load_state", format!("checkpoint has no 'encoder.{n}'"))
            })?;
            if src.1.shape() != t.shape() {
                return Err(Error::shape(
                    "load_state",
                    format!("'encoder.{n}' shaped as the model's"),
                    &[t.shape(), src.1.shape()],
                ));
            }
        }
        self.head
            .load_state_dict(&head)
            .map_err(|e| Error::invalid("load_state", format!("head: {e}")))?;
        self.encoder
            .load_state_dict(&enc)
            .map_err(|e| Error::invalid("load_state", format!("encoder: {e}")))?;
        self.opt
            .load_state(&opt)
            .map_err(|e| Error::invalid("load_state", format!("optimizer: {e}")))?;
        // The loaded tensors are host tensors: back to the model's device.
        self.move_to(self.device)
    }
}

/// SimCLR's settings. nidl 0.0.1's `SimCLR` has no defaults for them (`hidden_dims`, `lr`,
/// `temperature` and `weight_decay` are required arguments); [`Default`] gives the seed example's
/// values.
#[derive(Clone, Debug)]
pub struct SimClrConfig {
    /// Projection head widths after the encoder's output (seed: `[64, 32]`).
    pub hidden_dims: Vec<usize>,
    /// InfoNCE temperature (seed: 0.1).
    pub temperature: f64,
    /// AdamW learning rate (1e-4 in the seed).
    pub lr: f64,
    /// AdamW weight decay (1e-4 in the seed).
    pub weight_decay: f64,
}

impl Default for SimClrConfig {
    fn default() -> Self {
        SimClrConfig {
            hidden_dims: vec![64, 32],
            temperature: 0.1,
            lr: 1e-4,
            weight_decay: 1e-4,
        }
    }
}

/// SimCLR (Chen et al. 2020) as nidl 0.0.1 trains it: each view through encoder → MLP head
/// (`hidden_dims`, ReLU between, last layer bare) on its own (its `training_step`:
/// `Z1 = g(f(V1)); Z2 = g(f(V2))`) → InfoNCE(temperature); AdamW(lr, weight_decay); `CosineAnnealingLR` stepped
/// per epoch with `T_max` the run's `max_epochs` (set by the trainer,
/// [`Estimator::set_run_length`]), `eta_min = lr/50`.
pub struct SimClr {
    parts: Parts<AdamW<f32>>,
    loss: InfoNce,
    /// The schedule and the `max_epochs` it was sized for, once the run's length is known.
    schedule: Option<(CosineAnnealingLr, usize)>,
    config: SimClrConfig,
    latent: usize,
}

impl SimClr {
    /// SimCLR around `encoder` (output width `latent`); the head is drawn from `rng` after
    /// whatever drew the encoder.
    pub fn new(
        encoder: Box<dyn Module<f32>>,
        latent: usize,
        config: SimClrConfig,
        rng: &mut dyn rand::RngCore,
    ) -> Result<Self> {
        check_positive("SimClr::new", "lr", config.lr)?;
        check_positive("SimClr::new", "temperature", config.temperature)?;
        check_non_negative("SimClr::new", "weight_decay", config.weight_decay)?;
        let head = Mlp::new(latent, &config.hidden_dims, rng)?;
        Ok(SimClr {
            parts: Parts {
                device: Device::Cpu,
                features: None,
                encoder,
                head: Box::new(head),
                opt: AdamW::new(config.lr).weight_decay(config.weight_decay),
            },
            loss: InfoNce::new(config.temperature),
            schedule: None,
            config,
            latent,
        })
    }
}

/// How [`Estimator::hparams`] words a run length not set yet.
pub(super) const UNSET_LENGTH: &str = "(set by the trainer)";

/// The error of a schedule used before [`Estimator::set_run_length`].
pub(super) fn run_length_unset(op: &'static str) -> Error {
    Error::invalid(
        op,
        "the run's length is not set: call Estimator::set_run_length first (Trainer::fit does)",
    )
}

pub(super) fn check_positive(op: &'static str, what: &str, v: f64) -> Result<()> {
    if v > 0.0 && v.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(
            op,
            format!("{what} must be positive and finite, got {v}"),
        ))
    }
}

pub(super) fn check_non_negative(op: &'static str, what: &str, v: f64) -> Result<()> {
    if v >= 0.0 && v.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(
            op,
            format!("{what} must be finite and ≥ 0, got {v}"),
        ))
    }
}

impl Estimator for SimClr {
    estimator_parts_methods!();

    fn name(&self) -> &'static str {
        "SimCLR"
    }

    fn loss(&mut self, g: &mut Graph<f32>, batch: &Batch<f32>) -> Result<Var> {
        let (z1, z2) = self.parts.project_each(g, batch)?;
        self.loss.forward(g, z1, z2)
    }

    fn set_run_length(&mut self, max_epochs: usize, _steps_per_epoch: usize) -> Result<()> {
        let c = &self.config;
        let schedule = CosineAnnealingLr::new(c.lr, max_epochs.max(1), c.lr / 50.0)?;
        self.schedule = Some((schedule, max_epochs));
        Ok(())
    }

    fn on_epoch_start(&mut self, epoch: usize) -> Result<()> {
        let (schedule, _) = self
            .schedule
            .as_ref()
            .ok_or_else(|| run_length_unset("SimClr::on_epoch_start"))?;
        self.parts.opt.set_lr(schedule.lr_at(epoch));
        Ok(())
    }

    fn hparams(&self) -> Vec<(String, String)> {
        let c = &self.config;
        vec![
            ("estimator".into(), "SimCLR".into()),
            ("latent_size".into(), self.latent.to_string()),
            ("hidden_dims".into(), format!("{:?}", c.hidden_dims)),
            ("temperature".into(), c.temperature.to_string()),
            ("lr".into(), c.lr.to_string()),
            ("weight_decay".into(), c.weight_decay.to_string()),
            ("optimizer".into(), "AdamW".into()),
            (
                "lr_scheduler".into(),
                format!(
                    "CosineAnnealingLR(T_max={}, eta_min={})",
                    self.schedule
                        .as_ref()
                        .map_or(UNSET_LENGTH.to_string(), |(_, e)| e.to_string()),
                    c.lr / 50.0
                ),
            ),
        ]
    }
}

/// y-Aware contrastive learning's settings; [`Default`] gives nidl 0.0.1's
/// `YAwareContrastiveLearning` defaults (the seed example's values, which the `yaware-openbhb`
/// command uses, are noted per field).
#[derive(Clone, Debug)]
pub struct YAwareConfig {
    /// Projection head `(input, hidden, output)`: nidl's `YAwareProjectionHead` default
    /// `(2048, 512, 128)` (seed: `(latent, 2·latent, latent)`, `(32, 64, 32)`).
    pub head: (usize, usize, usize),
    /// Kernel of the label metric (nidl: Gaussian).
    pub kernel: Kernel,
    /// Bandwidth `H`: nidl's default `Bandwidth::Scalar(1.0)` (seed: `σ = 4`, i.e.
    /// `Bandwidth::Scalar(16.0)`). With `k`-column labels a scalar means `H = σ² I_k`, as in
    /// nidl; Scott/Silverman are fitted on the first training batch and kept (nidl 0.0.1 takes
    /// them only as a `KernelMetric` the user has fitted beforehand).
    pub bandwidth: Bandwidth,
    /// Temperature (nidl and seed: 0.1).
    pub temperature: f64,
    /// Adam learning rate (nidl: 1e-4; seed: 1e-5).
    pub lr: f64,
    /// Adam betas (nidl: (0.9, 0.99)).
    pub betas: (f64, f64),
    /// Adam (L2) weight decay (nidl: 5e-5).
    pub weight_decay: f64,
}

impl Default for YAwareConfig {
    /// nidl 0.0.1's defaults: head 2048 → 512 → 128, Gaussian kernel, bandwidth 1, temperature
    /// 0.1, Adam(lr 1e-4, betas (0.9, 0.99), weight decay 5e-5).
    fn default() -> Self {
        YAwareConfig {
            head: (2048, 512, 128),
            kernel: Kernel::Gaussian,
            bandwidth: Bandwidth::Scalar(1.0),
            temperature: 0.1,
            lr: 1e-4,
            betas: (0.9, 0.99),
            weight_decay: 5e-5,
        }
    }
}

/// y-Aware contrastive learning (Dufumier et al. 2021) as nidl 0.0.1 trains it: each view
/// through encoder → head `Linear(in, hidden) → ReLU → Linear(hidden, out)` on its own (as
/// SimCLR) → y-Aware InfoNCE on the batch labels (kernel, bandwidth, temperature); Adam(lr,
/// betas, weight_decay); no schedule.
///
/// **Labels.** The auxiliary variable `y` is *every* column of the batch's labels: `[B]` or
/// `[B, 1]` is one value per sample; `[B, k]` is one `k`-vector per sample, with `H = σ² I_k` for
/// a [`Bandwidth::Scalar`] (nidl 0.0.1 does the same: `labels.view(n, -1)`, a scalar bandwidth
/// repeated on the diagonal) and a `Diagonal` / `Full` bandwidth of `k` / `k × k` entries. To use
/// one column of a set that carries several, give the estimator that column only (experiment
/// files and the commands do: `data.ssl_label`). Labels the bandwidth cannot use — a `Diagonal` /
/// `Full` bandwidth of another size than the labels' columns, or labels of rank 3 or more (which
/// nidl would flatten to `[B, a·b…]`) — are an [`Error::Shape`] naming the labels' shape, never
/// reinterpreted.
///
/// Differences from nidl 0.0.1: a Scott / Silverman bandwidth is fitted on the first training
/// batch and kept (nidl 0.0.1's `YAwareInfoNCE` refuses `bandwidth="scott"` and an unfitted
/// `KernelMetric`: the user fits one beforehand, and it is never refitted); the labels reach the
/// kernel as `f32` (nidl: the dataloader's dtype, float64 for the seed's ages).
pub struct YAware {
    parts: Parts<Adam<f32>>,
    loss: YAwareInfoNce,
    bandwidth_fitted: bool,
    config: YAwareConfig,
}

impl YAware {
    /// y-Aware around `encoder` (output width `config.head.0`); the head is drawn from `rng`.
    pub fn new(
        encoder: Box<dyn Module<f32>>,
        config: YAwareConfig,
        rng: &mut dyn rand::RngCore,
    ) -> Result<Self> {
        check_positive("YAware::new", "lr", config.lr)?;
        check_positive("YAware::new", "temperature", config.temperature)?;
        if let Bandwidth::Scalar(s) = config.bandwidth {
            check_positive("YAware::new", "bandwidth (sigma²)", s)?;
        }
        let (i, h, o) = config.head;
        let head = Mlp::new(i, &[h, o], rng)?;
        let opt = Adam::new(config.lr)
            .betas(config.betas.0, config.betas.1)
            .weight_decay(config.weight_decay);
        Ok(YAware {
            parts: Parts {
                device: Device::Cpu,
                features: None,
                encoder,
                head: Box::new(head),
                opt,
            },
            loss: YAwareInfoNce::new(config.kernel, config.bandwidth.clone(), config.temperature),
            bandwidth_fitted: false,
            config,
        })
    }
}

/// A bandwidth as `kind:v1,v2,...` (values in shortest round-trip form).
fn bandwidth_text(b: &Bandwidth) -> String {
    let join = |v: &[f64]| {
        v.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    match b {
        Bandwidth::Scalar(s) => format!("scalar:{s}"),
        Bandwidth::Diagonal(v) => format!("diagonal:{}", join(v)),
        Bandwidth::Full(v) => format!("full:{}", join(v)),
        Bandwidth::Scott => "scott".into(),
        Bandwidth::Silverman => "silverman".into(),
    }
}

fn parse_bandwidth(s: &str) -> Option<Bandwidth> {
    let nums = |v: &str| {
        v.split(',')
            .map(|x| x.parse::<f64>().ok())
            .collect::<Option<Vec<f64>>>()
    };
    match s.split_once(':') {
        Some(("scalar", v)) => v.parse().ok().map(Bandwidth::Scalar),
        Some(("diagonal", v)) => nums(v).map(Bandwidth::Diagonal),
        Some(("full", v)) => nums(v).map(Bandwidth::Full),
        None if s == "scott" => Some(Bandwidth::Scott),
        None if s == "silverman" => Some(Bandwidth::Silverman),
        _ => None,
    }
}

impl Estimator for YAware {
    estimator_parts_methods!();

    fn name(&self) -> &'static str {
        "YAwareContrastiveLearning"
    }

    /// The loss of the batch's two views, each through encoder and head on its own, weighted by
    /// the kernel on all the batch's label columns (see [`YAware`]); the first training batch
    /// fits a Scott / Silverman bandwidth.
    ///
    /// Errors: labels the bandwidth cannot use ([`Error::Shape`], naming the labels' shape, see
    /// [`YAware`]), non-finite labels, and those of the encoder and head.
    fn loss(&mut self, g: &mut Graph<f32>, batch: &Batch<f32>) -> Result<Var> {
        let labels: Tensor<f32> = batch.labels.cast()?;
        if !self.bandwidth_fitted && g.is_training() {
            self.loss.bandwidth = self.loss.fit_bandwidth(&labels)?;
            self.bandwidth_fitted = true;
        }
        let (z1, z2) = self.parts.project_each(g, batch)?;
        self.loss.forward(g, z1, z2, Some(&labels))
    }

    fn extra_metadata(&self) -> Vec<(String, String)> {
        vec![
            (
                "yaware.bandwidth".into(),
                bandwidth_text(&self.loss.bandwidth),
            ),
            (
                "yaware.bandwidth_fitted".into(),
                self.bandwidth_fitted.to_string(),
            ),
        ]
    }

    fn load_extra_metadata(&mut self, meta: &BTreeMap<String, String>) -> Result<()> {
        let bad = |k: &str| {
            Error::invalid(
                "YAware::load_extra_metadata",
                format!("checkpoint metadata '{k}' missing or invalid"),
            )
        };
        let b = meta
            .get("yaware.bandwidth")
            .and_then(|s| parse_bandwidth(s))
            .ok_or_else(|| bad("yaware.bandwidth"))?;
        let fitted = meta
            .get("yaware.bandwidth_fitted")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("yaware.bandwidth_fitted"))?;
        self.loss.bandwidth = b;
        self.bandwidth_fitted = fitted;
        Ok(())
    }

    fn hparams(&self) -> Vec<(String, String)> {
        let c = &self.config;
        vec![
            ("estimator".into(), "YAwareContrastiveLearning".into()),
            (
                "projection_head".into(),
                format!("[{}, {}, {}]", c.head.0, c.head.1, c.head.2),
            ),
            ("kernel".into(), format!("{:?}", c.kernel)),
            ("bandwidth".into(), bandwidth_text(&c.bandwidth)),
            ("temperature".into(), c.temperature.to_string()),
            ("learning_rate".into(), c.lr.to_string()),
            ("betas".into(), format!("[{}, {}]", c.betas.0, c.betas.1)),
            ("weight_decay".into(), c.weight_decay.to_string()),
            ("optimizer".into(), "Adam".into()),
        ]
    }
}

/// Barlow Twins' settings: nidl 0.0.2's `BarlowTwins` defaults (its optimizer, schedule and head
/// sizes replaced 0.0.1's, its loss is 0.0.1's; `proj_input_dim`, 2048 there, is the encoder's
/// output width here).
#[derive(Clone, Debug)]
pub struct BarlowTwinsConfig {
    /// Hidden width of the projection head (`proj_hidden_dim`, 2048).
    pub proj_hidden_dim: usize,
    /// Output width of the projection head (`proj_output_dim`, 2048).
    pub proj_output_dim: usize,
    /// Weight λ of the redundancy-reduction term (`lambd`, 5e-3).
    pub lambda: f64,
    /// AdamW peak learning rate (`learning_rate`, 3e-4).
    pub lr: f64,
    /// AdamW weight decay (5e-4).
    pub weight_decay: f64,
    /// No weight decay on biases and normalisation parameters, i.e. on every tensor with at most
    /// one axis (`exclude_bias_and_norm_wd`, true).
    pub exclude_bias_and_norm_wd: bool,
    /// Epochs of linear warmup (`warmup_epochs`, 10).
    pub warmup_epochs: usize,
    /// The rate of the first step when there is a warmup (`warmup_start_lr`, 1e-6).
    pub warmup_start_lr: f64,
    /// The rate the cosine ends at (`min_lr`, 0).
    pub min_lr: f64,
}

impl Default for BarlowTwinsConfig {
    fn default() -> Self {
        BarlowTwinsConfig {
            proj_hidden_dim: 2048,
            proj_output_dim: 2048,
            lambda: 5e-3,
            lr: 3e-4,
            weight_decay: 5e-4,
            exclude_bias_and_norm_wd: true,
            warmup_epochs: 10,
            warmup_start_lr: 1e-6,
            min_lr: 0.0,
        }
    }
}

/// Barlow Twins (Zbontar et al. 2021) as nidl 0.0.2 trains it: encoder → nidl's
/// `BarlowTwinsProjectionHead` ([`ProjectionHead::barlow_twins`]: Linear → BatchNorm1d → ReLU →
/// Linear → BatchNorm1d → ReLU → Linear), each view through encoder and head on its own →
/// [`BarlowTwinsLoss`]`(λ)`; AdamW(lr, weight_decay) with biases and normalisation parameters
/// excluded from the decay; and nidl's default `"warmup_cosine"` schedule stepped **per
/// optimizer step** (`interval="step"`): [`LinearWarmupCosine`] with
/// `warmup = warmup_epochs · steps_per_epoch` and `total = max_epochs · steps_per_epoch`
/// (Lightning's `estimated_stepping_batches`), starting at `warmup_start_lr`, ending at `min_lr`;
/// the trainer gives `max_epochs` and `steps_per_epoch` ([`Estimator::set_run_length`]).
///
/// The schedule advances after every optimizer step, as Lightning's `scheduler.step()` does, and
/// its step count travels in the checkpoint metadata, so a resumed run continues it exactly.
/// When the warmup is as long as the run or longer (nidl's defaults — 10 warmup epochs — with a
/// 10-epoch run), every step is a warmup step, as in nidl.
pub struct BarlowTwins {
    parts: Parts<AdamW<f32>>,
    loss: BarlowTwinsLoss,
    /// The schedule and the `(warmup, total)` steps it was sized for, once the run's length is
    /// known.
    schedule: Option<(LinearWarmupCosine, (usize, usize))>,
    /// Scheduler steps taken (optimizer steps so far) and the rate they reached.
    sched_step: usize,
    sched_lr: f64,
    config: BarlowTwinsConfig,
    latent: usize,
}

impl BarlowTwins {
    /// Barlow Twins around `encoder` (output width `latent`); the head is drawn from `rng` after
    /// whatever drew the encoder. The per-step schedule is sized when the trainer gives the
    /// run's length ([`Estimator::set_run_length`]).
    pub fn new(
        encoder: Box<dyn Module<f32>>,
        latent: usize,
        config: BarlowTwinsConfig,
        rng: &mut dyn rand::RngCore,
    ) -> Result<Self> {
        const OP: &str = "BarlowTwins::new";
        check_positive(OP, "lr", config.lr)?;
        check_non_negative(OP, "lambda", config.lambda)?;
        check_non_negative(OP, "weight_decay", config.weight_decay)?;
        check_non_negative(OP, "warmup_start_lr", config.warmup_start_lr)?;
        check_non_negative(OP, "min_lr", config.min_lr)?;
        let head = ProjectionHead::barlow_twins(
            latent,
            config.proj_hidden_dim,
            config.proj_output_dim,
            rng,
        )?;
        // The first step's rate does not depend on the run's length (`warmup_start_lr` when
        // there is a warmup, else `lr`).
        let sched_lr = Self::schedule(&config, 1, 1)?.initial_lr();
        let opt = AdamW::new(sched_lr)
            .weight_decay(config.weight_decay)
            .exclude_1d_from_decay(config.exclude_bias_and_norm_wd);
        Ok(BarlowTwins {
            parts: Parts {
                device: Device::Cpu,
                features: None,
                encoder,
                head: Box::new(head),
                opt,
            },
            loss: BarlowTwinsLoss::new(config.lambda),
            schedule: None,
            sched_step: 0,
            sched_lr,
            config,
            latent,
        })
    }

    /// The schedule of a run of `max_epochs` epochs of `steps_per_epoch` steps.
    fn schedule(
        config: &BarlowTwinsConfig,
        max_epochs: usize,
        steps_per_epoch: usize,
    ) -> Result<LinearWarmupCosine> {
        let (warmup, total) = Self::schedule_steps(config, max_epochs, steps_per_epoch);
        // Steps 0..total-1 only ever see warmup values when warmup ≥ total, and those do not
        // depend on the total: `total.max(warmup + 1)` keeps the schedule well defined then
        // without changing any rate the run uses.
        Ok(
            LinearWarmupCosine::new(config.lr, warmup, total.max(warmup + 1))?
                .warmup_start_lr(config.warmup_start_lr)
                .eta_min(config.min_lr),
        )
    }

    /// `(warmup steps, total steps)` of the schedule.
    fn schedule_steps(
        config: &BarlowTwinsConfig,
        max_epochs: usize,
        steps_per_epoch: usize,
    ) -> (usize, usize) {
        (
            config.warmup_epochs * steps_per_epoch,
            max_epochs * steps_per_epoch,
        )
    }

    /// Moves the schedule to step `t` (replaying it from step 0 unless `t` is the next step).
    fn schedule_to(&mut self, t: usize) -> Result<()> {
        let (schedule, _) = self
            .schedule
            .as_ref()
            .ok_or_else(|| run_length_unset("BarlowTwins"))?;
        self.sched_lr = if t == self.sched_step + 1 {
            schedule.next_lr(t, self.sched_lr)
        } else {
            schedule.lr_at(t)
        };
        self.sched_step = t;
        self.parts.opt.set_lr(self.sched_lr);
        Ok(())
    }
}

/// Metadata key of the scheduler's step count in checkpoints.
const BARLOW_SCHEDULER_STEPS: &str = "barlow_twins.scheduler_steps";

impl Estimator for BarlowTwins {
    estimator_parts_methods!(@without_step);

    fn name(&self) -> &'static str {
        "BarlowTwins"
    }

    /// Sizes the per-step schedule: `warmup_epochs · steps_per_epoch` warmup steps of
    /// `max_epochs · steps_per_epoch`.
    ///
    /// Errors: no step per epoch or no epoch.
    fn set_run_length(&mut self, max_epochs: usize, steps_per_epoch: usize) -> Result<()> {
        if steps_per_epoch == 0 || max_epochs == 0 {
            return Err(Error::invalid(
                "BarlowTwins::set_run_length",
                format!(
                    "steps_per_epoch and max_epochs must be at least 1, got {steps_per_epoch} and {max_epochs}"
                ),
            ));
        }
        let schedule = Self::schedule(&self.config, max_epochs, steps_per_epoch)?;
        let steps = Self::schedule_steps(&self.config, max_epochs, steps_per_epoch);
        self.schedule = Some((schedule, steps));
        Ok(())
    }

    /// The loss of the batch's two views, each through encoder and head on its own.
    ///
    /// Errors: a training batch of one sample, which the head's `BatchNorm1d` cannot normalise
    /// (PyTorch refuses it too), with an error naming the batch size; a validation batch of one
    /// is fine (running statistics, and the loss's batch-of-one rule).
    fn loss(&mut self, g: &mut Graph<f32>, batch: &Batch<f32>) -> Result<Var> {
        let b = two_views(batch)?;
        if g.is_training() && b < 2 {
            return Err(Error::invalid(
                "BarlowTwins::loss",
                format!(
                    "a training batch of {b} sample: the projection head's BatchNorm1d needs at \
                     least 2 samples per batch in training; choose a batch size that does not \
                     leave a last batch of 1"
                ),
            ));
        }
        let (z1, z2) = self.parts.project_each(g, batch)?;
        self.loss.forward(g, z1, z2)
    }

    /// One AdamW step, then one scheduler step (Lightning's order with `interval="step"`).
    fn apply_gradients(&mut self, grads: &Grads<f32>) -> Result<()> {
        self.parts.step(grads)?;
        self.schedule_to(self.sched_step + 1)
    }

    fn extra_metadata(&self) -> Vec<(String, String)> {
        vec![(BARLOW_SCHEDULER_STEPS.into(), self.sched_step.to_string())]
    }

    fn load_extra_metadata(&mut self, meta: &BTreeMap<String, String>) -> Result<()> {
        let t = meta
            .get(BARLOW_SCHEDULER_STEPS)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                Error::invalid(
                    "BarlowTwins::load_extra_metadata",
                    format!("checkpoint metadata '{BARLOW_SCHEDULER_STEPS}' missing or invalid"),
                )
            })?;
        self.schedule_to(t)
    }

    fn hparams(&self) -> Vec<(String, String)> {
        let c = &self.config;
        let (warmup, total) = match &self.schedule {
            Some((_, (w, t))) => (w.to_string(), t.to_string()),
            None => (UNSET_LENGTH.to_string(), UNSET_LENGTH.to_string()),
        };
        vec![
            ("estimator".into(), "BarlowTwins".into()),
            ("proj_input_dim".into(), self.latent.to_string()),
            ("proj_hidden_dim".into(), c.proj_hidden_dim.to_string()),
            ("proj_output_dim".into(), c.proj_output_dim.to_string()),
            ("lambd".into(), c.lambda.to_string()),
            ("learning_rate".into(), c.lr.to_string()),
            ("weight_decay".into(), c.weight_decay.to_string()),
            (
                "exclude_bias_and_norm_wd".into(),
                c.exclude_bias_and_norm_wd.to_string(),
            ),
            ("optimizer".into(), "adamW".into()),
            (
                "lr_scheduler".into(),
                format!(
                    "LinearWarmupCosineAnnealingLR(warmup_steps={warmup}, total_steps={total}, \
                     warmup_start_lr={}, eta_min={}), stepped per optimizer step",
                    c.warmup_start_lr, c.min_lr
                ),
            ),
            ("warmup_epochs".into(), c.warmup_epochs.to_string()),
        ]
    }
}

mod dcl;

pub use dcl::{Dcl, DclConfig};
