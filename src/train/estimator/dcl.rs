//! Decoupled contrastive learning (DCL, and DCLW with the von Mises–Fisher weighting) as nidl
//! 0.0.2's `DCL` estimator trains it.

use super::{check_non_negative, check_positive, run_length_unset, Estimator, Parts, UNSET_LENGTH};
use crate::autograd::{Grads, Graph, Var};
use crate::datasets::loader::Batch;
use crate::error::{Error, Result};
use crate::loss::DclLoss;
use crate::nn::{HeadBlock, Module, ProjectionHead};
use crate::optim::{AdamW, LinearWarmupCosine, LrSchedule, Optimizer};
use crate::tensor::{Device, Tensor};
use std::collections::BTreeMap;

/// DCL's settings: nidl 0.0.2's `DCL` defaults (`proj_input_dim`, 2048 there, is the encoder's
/// output width here).
#[derive(Clone, Debug)]
pub struct DclConfig {
    /// Hidden width of the projection head (`proj_hidden_dim`, 2048).
    pub proj_hidden_dim: usize,
    /// Output width of the projection head (`proj_output_dim`, 128).
    pub proj_output_dim: usize,
    /// Temperature of the loss (`temperature`, 0.1).
    pub temperature: f64,
    /// `Some(σ)`: train with DCLW, nidl's `DCLWLoss(sigma, temperature)`, instead of `DCLLoss`
    /// (nidl's `DCL` estimator always uses `DCLLoss`: `None`).
    pub sigma: Option<f64>,
    /// AdamW peak learning rate (`learning_rate`, 3e-4).
    pub lr: f64,
    /// AdamW weight decay (`weight_decay`, 5e-4).
    pub weight_decay: f64,
    /// No weight decay on biases and normalisation parameters, i.e. on every tensor with at most
    /// one axis (`exclude_bias_and_norm_wd`, true).
    pub exclude_bias_and_norm_wd: bool,
    /// Epochs of linear warmup (`lr_scheduler_kwargs["warmup_epochs"]`, 10).
    pub warmup_epochs: usize,
    /// The rate of the first step when there is a warmup (`warmup_start_lr`, 1e-6).
    pub warmup_start_lr: f64,
    /// The rate the cosine ends at (`min_lr`, 0).
    pub min_lr: f64,
}

impl Default for DclConfig {
    fn default() -> Self {
        DclConfig {
            proj_hidden_dim: 2048,
            proj_output_dim: 128,
            temperature: 0.1,
            sigma: None,
            lr: 3e-4,
            weight_decay: 5e-4,
            exclude_bias_and_norm_wd: true,
            warmup_epochs: 10,
            warmup_start_lr: 1e-6,
            min_lr: 0.0,
        }
    }
}

/// DCL (Yeh et al., ECCV 2022) as nidl 0.0.2 trains it: encoder → nidl's `SimCLRProjectionHead`
/// (`Linear(latent, hidden) → ReLU → Linear(hidden, output)`, both with biases), each view through
/// encoder and head on its own → [`DclLoss`]`(temperature)` (DCLW with
/// [`sigma`](DclConfig::sigma)); AdamW(lr, weight_decay) with biases excluded from the decay; and
/// nidl's default `"warmup_cosine"` schedule stepped **per optimizer step**: [`LinearWarmupCosine`]
/// with `warmup = warmup_epochs · steps_per_epoch` and `total = max_epochs · steps_per_epoch`,
/// starting at `warmup_start_lr`, ending at `min_lr` (the trainer gives the run's length,
/// [`Estimator::set_run_length`]). The schedule's step count travels in the checkpoint metadata,
/// so a resumed run continues it exactly. As in nidl, with the default 10 warmup epochs a
/// 10-epoch run warms up throughout.
pub struct Dcl {
    parts: Parts<AdamW<f32>>,
    loss: DclLoss,
    /// The schedule and the `(warmup, total)` steps it was sized for, once the run's length is
    /// known.
    schedule: Option<(LinearWarmupCosine, (usize, usize))>,
    /// Scheduler steps taken (optimizer steps so far) and the rate they reached.
    sched_step: usize,
    sched_lr: f64,
    config: DclConfig,
    latent: usize,
}

/// Metadata key of the scheduler's step count in checkpoints.
const DCL_SCHEDULER_STEPS: &str = "dcl.scheduler_steps";

impl Dcl {
    /// DCL around `encoder` (output width `latent`); the head is drawn from `rng` after whatever
    /// drew the encoder.
    ///
    /// Errors: [`Error::InvalidArgument`] naming the setting for a non-positive learning rate,
    /// temperature or sigma, a negative weight decay or warmup / final rate, or a zero head width.
    pub fn new(
        encoder: Box<dyn Module<f32>>,
        latent: usize,
        config: DclConfig,
        rng: &mut dyn rand::RngCore,
    ) -> Result<Self> {
        const OP: &str = "Dcl::new";
        check_positive(OP, "lr", config.lr)?;
        check_positive(OP, "temperature", config.temperature)?;
        if let Some(sigma) = config.sigma {
            check_positive(OP, "sigma", sigma)?;
        }
        check_non_negative(OP, "weight_decay", config.weight_decay)?;
        check_non_negative(OP, "warmup_start_lr", config.warmup_start_lr)?;
        check_non_negative(OP, "min_lr", config.min_lr)?;
        let head = ProjectionHead::new(
            &[
                HeadBlock {
                    in_features: latent,
                    out_features: config.proj_hidden_dim,
                    batch_norm: false,
                    relu: true,
                },
                HeadBlock {
                    in_features: config.proj_hidden_dim,
                    out_features: config.proj_output_dim,
                    batch_norm: false,
                    relu: false,
                },
            ],
            rng,
        )?;
        // The first step's rate does not depend on the run's length.
        let sched_lr = Self::schedule(&config, 1, 1)?.initial_lr();
        let opt = AdamW::new(sched_lr)
            .weight_decay(config.weight_decay)
            .exclude_1d_from_decay(config.exclude_bias_and_norm_wd);
        let loss = match config.sigma {
            Some(sigma) => DclLoss::weighted(sigma, config.temperature),
            None => DclLoss::new(config.temperature),
        };
        Ok(Dcl {
            parts: Parts {
                device: Device::Cpu,
                features: None,
                encoder,
                head: Box::new(head),
                opt,
            },
            loss,
            schedule: None,
            sched_step: 0,
            sched_lr,
            config,
            latent,
        })
    }

    /// The schedule of a run of `max_epochs` epochs of `steps_per_epoch` steps; when the warmup
    /// is as long as the run or longer, `total` is raised to `warmup + 1`, which changes no rate
    /// the run uses (steps before the warmup's end see warmup values only).
    fn schedule(
        config: &DclConfig,
        max_epochs: usize,
        steps_per_epoch: usize,
    ) -> Result<LinearWarmupCosine> {
        let (warmup, total) = (
            config.warmup_epochs * steps_per_epoch,
            max_epochs * steps_per_epoch,
        );
        Ok(
            LinearWarmupCosine::new(config.lr, warmup, total.max(warmup + 1))?
                .warmup_start_lr(config.warmup_start_lr)
                .eta_min(config.min_lr),
        )
    }

    /// Moves the schedule to step `t` (replaying it from step 0 unless `t` is the next step).
    fn schedule_to(&mut self, t: usize) -> Result<()> {
        let (schedule, _) = self
            .schedule
            .as_ref()
            .ok_or_else(|| run_length_unset("Dcl"))?;
        self.sched_lr = if t == self.sched_step + 1 {
            schedule.next_lr(t, self.sched_lr)
        } else {
            schedule.lr_at(t)
        };
        self.sched_step = t;
        self.parts.opt.set_lr(self.sched_lr);
        Ok(())
    }

    /// The loss being trained (DCL, or DCLW with its sigma).
    pub fn loss_fn(&self) -> DclLoss {
        self.loss
    }
}

impl Estimator for Dcl {
    estimator_parts_methods!(@without_step);

    fn name(&self) -> &'static str {
        "DCL"
    }

    /// Sizes the per-step schedule: `warmup_epochs · steps_per_epoch` warmup steps of
    /// `max_epochs · steps_per_epoch`.
    ///
    /// Errors: no step per epoch or no epoch.
    fn set_run_length(&mut self, max_epochs: usize, steps_per_epoch: usize) -> Result<()> {
        if steps_per_epoch == 0 || max_epochs == 0 {
            return Err(Error::invalid(
                "Dcl::set_run_length",
                format!(
                    "steps_per_epoch and max_epochs must be at least 1, got {steps_per_epoch} and {max_epochs}"
                ),
            ));
        }
        let schedule = Self::schedule(&self.config, max_epochs, steps_per_epoch)?;
        let steps = (
            self.config.warmup_epochs * steps_per_epoch,
            max_epochs * steps_per_epoch,
        );
        self.schedule = Some((schedule, steps));
        Ok(())
    }

    /// The loss of the batch's two views, each through encoder and head on its own.
    fn loss(&mut self, g: &mut Graph<f32>, batch: &Batch<f32>) -> Result<Var> {
        let (z1, z2) = self.parts.project_each(g, batch)?;
        self.loss.forward(g, z1, z2)
    }

    /// One AdamW step, then one scheduler step (Lightning's order with `interval="step"`).
    fn apply_gradients(&mut self, grads: &Grads<f32>) -> Result<()> {
        self.parts.step(grads)?;
        self.schedule_to(self.sched_step + 1)
    }

    fn extra_metadata(&self) -> Vec<(String, String)> {
        vec![(DCL_SCHEDULER_STEPS.into(), self.sched_step.to_string())]
    }

    fn load_extra_metadata(&mut self, meta: &BTreeMap<String, String>) -> Result<()> {
        let t = meta
            .get(DCL_SCHEDULER_STEPS)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                Error::invalid(
                    "Dcl::load_extra_metadata",
                    format!("checkpoint metadata '{DCL_SCHEDULER_STEPS}' missing or invalid"),
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
        let loss = match c.sigma {
            Some(sigma) => format!("DCLWLoss(sigma={sigma}, temperature={})", c.temperature),
            None => format!("DCLLoss(temperature={})", c.temperature),
        };
        vec![
            ("estimator".into(), "DCL".into()),
            ("proj_input_dim".into(), self.latent.to_string()),
            ("proj_hidden_dim".into(), c.proj_hidden_dim.to_string()),
            ("proj_output_dim".into(), c.proj_output_dim.to_string()),
            ("temperature".into(), c.temperature.to_string()),
            ("loss".into(), loss),
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
