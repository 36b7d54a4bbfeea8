//! DINO (Caron et al. 2021) as nidl 0.0.2's `DINO` estimator trains it: self-distillation of a
//! momentum teacher into a student, on two global and `num_local_crops` local views.
//!
//! ```text
//! student: encoder → DinoHead   on the 2 global views (one batch of 2B), then on the local views
//!                               (one batch of N·B), concatenated globals first: [(2+N)·B, K]
//! teacher: EMA copy of both, no gradient, on the 2 global views only: [2B, K]
//! loss:    DinoLoss(teacher, student, epoch): centred, sharpened teacher softmax against the
//!          student log-softmax over every (teacher view, other student view) pair; centre EMA
//! step:    backward → clip the backbone's gradient norm (clip_grad) → AdamW (the last layer
//!          skipped during the first freeze_last_layer epochs) → LR schedule step →
//!          teacher ← λ·teacher + (1 − λ)·student, λ cosine from base_lambda to final_lambda
//! ```
//!
//! Views come from a [`MultiCrop`](crate::datasets::transforms::MultiCrop): a batch of
//! `2 + num_local_crops` views per sample, view-major, globals first.

use super::estimator::{check_non_negative, check_positive, part, run_length_unset, UNSET_LENGTH};
use super::Estimator;
use crate::autograd::{Grads, Graph, Var};
use crate::datasets::loader::Batch;
use crate::error::{Error, Result};
use crate::loss::{DinoLoss, DinoLossConfig};
use crate::nn::{
    ema_update, is_last_layer_name, momentum_lambda, move_to, param_grads, param_values_mut,
    DinoHead, DinoHeadConfig, Module, State, StateMut,
};
use crate::optim::{AdamW, LinearWarmupCosine, LrSchedule, Optimizer};
use crate::tensor::{Device, Tensor};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::BTreeMap;

/// DINO's settings: nidl 0.0.2's `DINO` defaults (`proj_input_dim` there is the encoder's output
/// width here, given to [`Dino::new`]).
#[derive(Clone, Debug)]
pub struct DinoConfig {
    /// Hidden width of the DINO head (`proj_hidden_dim`, 2048).
    pub proj_hidden_dim: usize,
    /// Bottleneck width before the weight-normalised last layer (`proj_bottleneck_dim`, 256).
    pub proj_bottleneck_dim: usize,
    /// Output width K of the head (`proj_output_dim`, 4096).
    pub proj_output_dim: usize,
    /// BatchNorm1d in the head's hidden layers (`proj_batch_norm`, true).
    pub proj_batch_norm: bool,
    /// Fix the last layer's weight-norm gains at 1 (`proj_norm_last_layer`, true).
    pub proj_norm_last_layer: bool,
    /// Local views per sample (`num_local_crops`, 8); the batches hold `2 + num_local_crops`.
    pub num_local_crops: usize,
    /// Student temperature (`student_temperature`, 0.1).
    pub student_temperature: f64,
    /// Teacher temperature after the warm-up (`teacher_temperature`, 0.07).
    pub teacher_temperature: f64,
    /// Teacher temperature of the first epoch (`warmup_teacher_temp`, 0.04).
    pub warmup_teacher_temp: f64,
    /// Epochs of linear teacher-temperature warm-up (`warmup_teacher_temp_epochs`, 30).
    pub warmup_teacher_temp_epochs: usize,
    /// Teacher momentum λ of the first step (`base_lambda`, 0.996).
    pub base_lambda: f64,
    /// Teacher momentum λ the cosine ends at (`final_lambda`, 1.0).
    pub final_lambda: f64,
    /// Maximal gradient norm of the student backbone; 0: no clipping (`clip_grad`, 0.0).
    pub clip_grad: f64,
    /// Epochs during which the head's last layer is not updated (`freeze_last_layer`, 0).
    pub freeze_last_layer: usize,
    /// AdamW peak learning rate (`learning_rate`, 3e-4).
    pub lr: f64,
    /// AdamW weight decay (`weight_decay`, 5e-4).
    pub weight_decay: f64,
    /// No decay on tensors with at most one axis (`exclude_bias_and_norm_wd`, true).
    pub exclude_bias_and_norm_wd: bool,
    /// Epochs of linear LR warm-up (`lr_scheduler_kwargs["warmup_epochs"]`, 10).
    pub warmup_epochs: usize,
    /// The rate of the first step when there is a warm-up (`warmup_start_lr`, 1e-6).
    pub warmup_start_lr: f64,
    /// The rate the cosine ends at (`min_lr`, 0).
    pub min_lr: f64,
}

impl Default for DinoConfig {
    fn default() -> Self {
        DinoConfig {
            proj_hidden_dim: 2048,
            proj_bottleneck_dim: 256,
            proj_output_dim: 4096,
            proj_batch_norm: true,
            proj_norm_last_layer: true,
            num_local_crops: 8,
            student_temperature: 0.1,
            teacher_temperature: 0.07,
            warmup_teacher_temp: 0.04,
            warmup_teacher_temp_epochs: 30,
            base_lambda: 0.996,
            final_lambda: 1.0,
            clip_grad: 0.0,
            freeze_last_layer: 0,
            lr: 3e-4,
            weight_decay: 5e-4,
            exclude_bias_and_norm_wd: true,
            warmup_epochs: 10,
            warmup_start_lr: 1e-6,
            min_lr: 0.0,
        }
    }
}

impl DinoConfig {
    /// The head's configuration on an encoder of output width `latent`.
    fn head(&self, latent: usize) -> DinoHeadConfig {
        DinoHeadConfig {
            input_dim: latent,
            hidden_dim: self.proj_hidden_dim,
            bottleneck_dim: self.proj_bottleneck_dim,
            output_dim: self.proj_output_dim,
            batch_norm: self.proj_batch_norm,
            norm_last_layer: self.proj_norm_last_layer,
        }
    }

    /// The loss's configuration.
    fn loss(&self) -> DinoLossConfig {
        DinoLossConfig {
            output_dim: self.proj_output_dim,
            warmup_teacher_temp: self.warmup_teacher_temp,
            teacher_temp: self.teacher_temperature,
            warmup_teacher_temp_epochs: self.warmup_teacher_temp_epochs,
            student_temp: self.student_temperature,
            ..DinoLossConfig::default()
        }
    }

    fn check(&self) -> Result<()> {
        const OP: &str = "Dino::new";
        check_positive(OP, "lr", self.lr)?;
        check_non_negative(OP, "weight_decay", self.weight_decay)?;
        check_non_negative(OP, "warmup_start_lr", self.warmup_start_lr)?;
        check_non_negative(OP, "min_lr", self.min_lr)?;
        check_non_negative(OP, "clip_grad", self.clip_grad)?;
        let lambdas_ok = (0.0..=1.0).contains(&self.base_lambda)
            && (0.0..=1.0).contains(&self.final_lambda)
            && self.base_lambda <= self.final_lambda;
        if !lambdas_ok {
            return Err(Error::invalid(
                OP,
                format!(
                    "base_lambda and final_lambda must satisfy 0 ≤ base_lambda ≤ final_lambda ≤ 1 \
                     (nidl's MomentumUpdater), got {} and {}",
                    self.base_lambda, self.final_lambda
                ),
            ));
        }
        Ok(())
    }
}

/// The number of global views (nidl: `num_large_crops = 2`, never changed in DINO).
const N_GLOBAL: usize = crate::datasets::transforms::N_GLOBAL_CROPS;

/// Metadata key of the optimizer steps taken (LR schedule and λ) in checkpoints.
const DINO_STEPS: &str = "dino.steps";

/// DINO as nidl 0.0.2 trains it (see the [module docs](self)): a student (encoder + [`DinoHead`])
/// trained by AdamW against a teacher that is the exponential moving average of the student.
///
/// - **Optimizer**: AdamW(`lr`, `weight_decay`), biases and normalisation parameters excluded
///   from the decay, with nidl's `"warmup_cosine"` schedule stepped per optimizer step
///   ([`LinearWarmupCosine`], `warmup = warmup_epochs · steps_per_epoch`,
///   `total = max_epochs · steps_per_epoch`), as for Barlow Twins.
/// - **Last-layer freezing**: during epochs `< freeze_last_layer` nidl sets the gradients of the
///   head's last layer to `None`, so PyTorch's AdamW skips those tensors entirely (no decay, no
///   moment update, and their own step count does not advance). The last layer has its own
///   AdamW here, not stepped during those epochs: the same updates.
/// - **Gradient clipping** (`clip_grad > 0`): `torch.nn.utils.clip_grad_norm_` on the student
///   *backbone's* gradients only, as nidl calls it (`self.student.parameters()`): all scaled by
///   `clip_grad / (‖g‖ + 1e-6)` when that is below 1.
/// - **Teacher**: after every step, `teacher ← λ·teacher + (1 − λ)·student` over the parameters
///   of encoder and head (batch-norm running statistics are the teacher's own, from its
///   forward in training mode), with λ at step `t` (0-based) nidl's
///   `final − (final − base)·(cos(π·t/T) + 1)/2`, `T = max_epochs · steps_per_epoch`.
/// - **Teacher temperature**: warmed up over epochs, as the loss gives it for the current epoch.
/// - **Embedding**: the teacher's encoder ([`Estimator::embed`]), as nidl's `transform_step`
///   (`self.encoder = self.teacher`); [`Estimator::project`] is the teacher's head on it.
///
/// The step count travels in the checkpoint metadata; the state holds student, teacher, both
/// optimizers and the loss's centre, so a resumed run continues exactly.
pub struct Dino {
    student: Box<dyn Module<f32>>,
    student_head: DinoHead<f32>,
    teacher: Box<dyn Module<f32>>,
    teacher_head: DinoHead<f32>,
    loss: DinoLoss<f32>,
    /// Encoder and head, last layer excepted.
    opt: AdamW<f32>,
    /// The head's last layer (not stepped while frozen).
    opt_last: AdamW<f32>,
    /// The schedule and its `(warmup, total)` steps, once the run's length is known.
    schedule: Option<(LinearWarmupCosine, (usize, usize))>,
    /// Optimizer steps taken and the rate the schedule reached.
    steps: usize,
    sched_lr: f64,
    /// The current epoch (teacher temperature, last-layer freezing).
    epoch: usize,
    device: Device,
    /// The first global view's student-encoder output of the last loss.
    features: Option<Var>,
    config: DinoConfig,
    latent: usize,
}

impl Dino {
    /// DINO around the student `encoder` (output width `latent`); `teacher` is an encoder of the
    /// same architecture (its values are replaced by the student's, as nidl's
    /// `initialize_momentum_params`). The student head is drawn from `rng` after whatever drew
    /// the encoder; the teacher head is a copy of it.
    ///
    /// Errors: settings out of range, or a teacher whose state names or shapes differ from the
    /// student's.
    pub fn new(
        encoder: Box<dyn Module<f32>>,
        mut teacher: Box<dyn Module<f32>>,
        latent: usize,
        config: DinoConfig,
        rng: &mut dyn rand::RngCore,
    ) -> Result<Self> {
        config.check()?;
        let head_config = config.head(latent);
        let student_head = DinoHead::new(&head_config, rng)?;
        // Any values: overwritten by the student's below.
        let mut teacher_head = DinoHead::new(&head_config, &mut StdRng::seed_from_u64(0))?;
        teacher
            .load_state_dict(&encoder.state_dict())
            .map_err(|e| Error::invalid("Dino::new", format!("teacher encoder: {e}")))?;
        teacher_head.load_state_dict(&student_head.state_dict())?;
        let sched_lr = Self::schedule(&config, 1, 1)?.initial_lr();
        let adamw = || {
            AdamW::new(sched_lr)
                .weight_decay(config.weight_decay)
                .exclude_1d_from_decay(config.exclude_bias_and_norm_wd)
        };
        Ok(Dino {
            student: encoder,
            student_head,
            teacher,
            teacher_head,
            loss: DinoLoss::new(config.loss())?,
            opt: adamw(),
            opt_last: adamw(),
            schedule: None,
            steps: 0,
            sched_lr,
            epoch: 0,
            device: Device::Cpu,
            features: None,
            config,
            latent,
        })
    }

    /// The settings.
    pub fn config(&self) -> &DinoConfig {
        &self.config
    }

    /// The loss's centre `[1, K]`.
    pub fn center(&self) -> &Tensor<f32> {
        self.loss.center()
    }

    /// The teacher momentum λ the next step's EMA update uses.
    pub fn momentum(&self) -> f64 {
        let total = self.schedule.as_ref().map_or(1, |(_, (_, t))| *t);
        momentum_lambda(
            self.config.base_lambda,
            self.config.final_lambda,
            self.steps,
            total,
        )
    }

    /// The LR schedule of a run of `max_epochs` epochs of `steps_per_epoch` steps (see
    /// `BarlowTwins`: every step is a warm-up step when the warm-up is as long as the run).
    fn schedule(
        config: &DinoConfig,
        max_epochs: usize,
        steps_per_epoch: usize,
    ) -> Result<LinearWarmupCosine> {
        let (warmup, total) = Self::schedule_steps(config, max_epochs, steps_per_epoch);
        Ok(
            LinearWarmupCosine::new(config.lr, warmup, total.max(warmup + 1))?
                .warmup_start_lr(config.warmup_start_lr)
                .eta_min(config.min_lr),
        )
    }

    /// `(warmup steps, total steps)` of the schedule.
    fn schedule_steps(
        config: &DinoConfig,
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
            .ok_or_else(|| run_length_unset("Dino"))?;
        self.sched_lr = if t == self.steps + 1 {
            schedule.next_lr(t, self.sched_lr)
        } else {
            schedule.lr_at(t)
        };
        self.steps = t;
        self.opt.set_lr(self.sched_lr);
        self.opt_last.set_lr(self.sched_lr);
        Ok(())
    }

    /// The student's output for `x`: encoder then head (errors name the module at fault).
    fn student_forward(&self, g: &mut Graph<f32>, x: Tensor<f32>) -> Result<(Var, Var)> {
        let x = g.input(x);
        let h = self
            .student
            .forward(g, x)
            .map_err(|e| e.in_module("encoder"))?;
        let z = self
            .student_head
            .forward(g, h)
            .map_err(|e| e.in_module("head"))?;
        Ok((h, z))
    }

    /// The teacher's output for the global views `x`, no gradient: on a frozen graph (batch
    /// statistics, running statistics updated, as nidl's `no_grad` forward in training mode)
    /// in training, on an inference graph in validation.
    fn teacher_forward(&self, training: bool, x: Tensor<f32>) -> Result<Tensor<f32>> {
        let mut g = if training {
            Graph::frozen()
        } else {
            Graph::inference()
        };
        let x = g.input(x);
        let h = self
            .teacher
            .forward(&mut g, x)
            .map_err(|e| e.in_module("teacher_encoder"))?;
        let z = self
            .teacher_head
            .forward(&mut g, h)
            .map_err(|e| e.in_module("teacher_head"))?;
        Ok(g.value(z).clone())
    }

    /// The named state of every module, prefixed.
    fn modules(&self) -> [(&'static str, &dyn Module<f32>); 4] {
        [
            ("encoder", self.student.as_ref()),
            ("head", &self.student_head),
            ("teacher_encoder", self.teacher.as_ref()),
            ("teacher_head", &self.teacher_head),
        ]
    }
}

/// Scales `grads` by `max_norm / (‖grads‖ + 1e-6)` when that is below 1, `‖·‖` the L2 norm over
/// all of them (`torch.nn.utils.clip_grad_norm_`); `max_norm ≤ 0` leaves them as they are.
fn clip_grad_norm(grads: &mut [Tensor<f32>], max_norm: f64) -> Result<()> {
    if max_norm <= 0.0 {
        return Ok(());
    }
    let mut squares = 0.0f64;
    for g in grads.iter() {
        squares += g.mul(g)?.sum_all()?.item()? as f64;
    }
    let coef = max_norm / (squares.sqrt() + 1e-6);
    if coef < 1.0 {
        for g in grads.iter_mut() {
            *g = g.mul_scalar(coef as f32)?;
        }
    }
    Ok(())
}

/// The head's parameter values and their gradients in visit order, split into (everything but
/// the last layer, the last layer).
type HeadGroups<'a> = (
    (Vec<&'a mut Tensor<f32>>, Vec<Tensor<f32>>),
    (Vec<&'a mut Tensor<f32>>, Vec<Tensor<f32>>),
);

fn head_groups<'a>(head: &'a mut DinoHead<f32>, grads: &Grads<f32>) -> HeadGroups<'a> {
    let (mut rest, mut last) = ((Vec::new(), Vec::new()), (Vec::new(), Vec::new()));
    head.visit_mut("", &mut |name, s| {
        if let StateMut::Param(p) = s {
            let g = grads
                .param(p.id())
                .cloned()
                .unwrap_or_else(|| Tensor::zeros(p.value.shape()));
            let group = if is_last_layer_name(name) {
                &mut last
            } else {
                &mut rest
            };
            group.0.push(&mut p.value);
            group.1.push(g);
        }
    });
    (rest, last)
}

impl Estimator for Dino {
    fn name(&self) -> &'static str {
        "DINO"
    }

    /// The teacher's encoder output (nidl's `transform_step`: `self.encoder = self.teacher`).
    fn embed(&self, g: &mut Graph<f32>, x: Var) -> Result<Var> {
        self.teacher
            .forward(g, x)
            .map_err(|e| e.in_module("teacher_encoder"))
    }

    /// The teacher's head on its encoder output (what the teacher gives the loss).
    fn project(&self, g: &mut Graph<f32>, x: Var) -> Result<Var> {
        let h = self.embed(g, x)?;
        self.teacher_head
            .forward(g, h)
            .map_err(|e| e.in_module("teacher_head"))
    }

    /// The DINO loss of the batch's `2 + num_local_crops` views (see the [module docs](self)); a
    /// training graph also moves the loss's centre. Unlike nidl, whose `validation_step` moves it
    /// too, an inference graph (validation, the trainer's pre-run memory check) leaves it
    /// unchanged: otherwise those passes would change training, and a resumed run (which runs
    /// the check again) would not continue the uninterrupted one.
    ///
    /// Errors: a batch with another number of views (naming both), and those of the modules.
    fn loss(&mut self, g: &mut Graph<f32>, batch: &Batch<f32>) -> Result<Var> {
        let n_local = self.config.num_local_crops;
        if batch.n_views != N_GLOBAL + n_local {
            return Err(Error::invalid(
                "Dino::loss",
                format!(
                    "DINO with num_local_crops = {n_local} needs {} views per sample (2 global, \
                     then {n_local} local), got {}",
                    N_GLOBAL + n_local,
                    batch.n_views
                ),
            ));
        }
        let b = batch.len();
        self.features = None;
        let globals = batch.views.slice(0, 0, N_GLOBAL * b)?;
        let teacher = self.teacher_forward(g.is_training(), globals.clone())?;
        let (h, zg) = self.student_forward(g, globals)?;
        let z = if n_local > 0 {
            let locals = batch
                .views
                .slice(0, N_GLOBAL * b, (N_GLOBAL + n_local) * b)?;
            let (_, zl) = self.student_forward(g, locals)?;
            g.concat(&[zg, zl], 0)?
        } else {
            zg
        };
        self.features = Some(g.slice(h, 0, 0, b)?);
        let epoch = Some(self.epoch);
        if g.is_training() {
            return self.loss.forward(g, &teacher, z, N_GLOBAL, epoch);
        }
        // Inference passes (validation, the trainer's pre-run memory check) leave the centre
        // where training put it.
        let center = self.loss.state();
        let loss = self.loss.forward(g, &teacher, z, N_GLOBAL, epoch)?;
        self.loss.load_state(&center)?;
        Ok(loss)
    }

    /// Clipping, AdamW (last layer skipped while frozen), the schedule's step, then the
    /// teacher's EMA update with this step's λ.
    fn apply_gradients(&mut self, grads: &Grads<f32>) -> Result<()> {
        let mut grads_main = param_grads(self.student.as_ref(), grads);
        clip_grad_norm(&mut grads_main, self.config.clip_grad)?;
        let lambda = self.momentum();
        let frozen = self.epoch < self.config.freeze_last_layer;
        let mut params = param_values_mut(self.student.as_mut());
        let ((head_params, head_grads), (last_params, last_grads)) =
            head_groups(&mut self.student_head, grads);
        params.extend(head_params);
        grads_main.extend(head_grads);
        let refs: Vec<&Tensor<f32>> = grads_main.iter().collect();
        self.opt.step(&mut params, &refs)?;
        if !frozen {
            let mut last_params = last_params;
            let refs: Vec<&Tensor<f32>> = last_grads.iter().collect();
            self.opt_last.step(&mut last_params, &refs)?;
        }
        self.schedule_to(self.steps + 1)?;
        ema_update(self.teacher.as_mut(), self.student.as_ref(), lambda)?;
        ema_update(&mut self.teacher_head, &self.student_head, lambda)
    }

    /// Sizes the LR schedule and λ's cosine (`max_epochs · steps_per_epoch` steps).
    ///
    /// Errors: no step per epoch or no epoch.
    fn set_run_length(&mut self, max_epochs: usize, steps_per_epoch: usize) -> Result<()> {
        if steps_per_epoch == 0 || max_epochs == 0 {
            return Err(Error::invalid(
                "Dino::set_run_length",
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

    fn on_epoch_start(&mut self, epoch: usize) -> Result<()> {
        self.epoch = epoch;
        Ok(())
    }

    fn lr(&self) -> f64 {
        self.opt.lr()
    }

    fn move_to(&mut self, device: Device) -> Result<()> {
        move_to(self.student.as_mut(), device)?;
        move_to(&mut self.student_head, device)?;
        move_to(self.teacher.as_mut(), device)?;
        move_to(&mut self.teacher_head, device)?;
        self.loss.to_device(device)?;
        self.device = device;
        Ok(())
    }

    /// `encoder.*`, `head.*` (student), `teacher_encoder.*`, `teacher_head.*`, `optimizer.*`,
    /// `optimizer_last_layer.*` and `loss.center`.
    fn state(&self) -> Vec<(String, Tensor<f32>)> {
        let mut out = Vec::new();
        for (prefix, m) in self.modules() {
            out.extend(
                m.state_dict()
                    .into_iter()
                    .map(|(n, t)| (format!("{prefix}.{n}"), t)),
            );
        }
        for (prefix, opt) in [
            ("optimizer", &self.opt),
            ("optimizer_last_layer", &self.opt_last),
        ] {
            out.extend(
                opt.state()
                    .into_iter()
                    .map(|(n, t)| (format!("{prefix}.{n}"), t)),
            );
        }
        out.extend(
            self.loss
                .state()
                .into_iter()
                .map(|(n, t)| (format!("loss.{n}"), t)),
        );
        out
    }

    fn load_state(&mut self, state: &[(String, Tensor<f32>)]) -> Result<()> {
        let at = |what: &str, e: Error| Error::invalid("load_state", format!("{what}: {e}"));
        // Check every module accepts its entries before changing anything: load copies.
        let mut checked: Vec<(&str, Vec<(String, Tensor<f32>)>)> = Vec::new();
        for (prefix, m) in self.modules() {
            let entries = part(state, &format!("{prefix}."));
            for (n, t) in m.state_dict() {
                let src = entries.iter().find(|(k, _)| *k == n).ok_or_else(|| {
                    Error::invalid("load_state", format!("checkpoint has no '{prefix}.{n}'"))
                })?;
                if src.1.shape() != t.shape() {
                    return Err(Error::shape(
                        "load_state",
                        format!("'{prefix}.{n}' shaped as the model's"),
                        &[t.shape(), src.1.shape()],
                    ));
                }
            }
            checked.push((prefix, entries));
        }
        let center = part(state, "loss.");
        self.loss.load_state(&center).map_err(|e| at("loss", e))?;
        for (prefix, entries) in checked {
            let r = match prefix {
                "encoder" => self.student.load_state_dict(&entries),
                "head" => self.student_head.load_state_dict(&entries),
                "teacher_encoder" => self.teacher.load_state_dict(&entries),
                _ => self.teacher_head.load_state_dict(&entries),
            };
            r.map_err(|e| at(prefix, e))?;
        }
        self.opt
            .load_state(&part(state, "optimizer."))
            .map_err(|e| at("optimizer", e))?;
        self.opt_last
            .load_state(&part(state, "optimizer_last_layer."))
            .map_err(|e| at("optimizer_last_layer", e))?;
        // The loaded tensors are host tensors: back to the model's device.
        self.move_to(self.device)
    }

    fn visit_trained_tensors(
        &self,
        grads: &Grads<f32>,
        f: &mut dyn FnMut(&str, &Tensor<f32>, Option<&Tensor<f32>>),
    ) {
        for (prefix, m) in self.modules() {
            let student = prefix == "encoder" || prefix == "head";
            m.visit(prefix, &mut |name, s| {
                if let State::Param(p) = s {
                    let g = if student { grads.param(p.id()) } else { None };
                    f(name, &p.value, g)
                }
            });
            m.visit(prefix, &mut |name, s| {
                if let State::Buffer(b) = s {
                    f(name, b, None)
                }
            });
        }
        f("loss.center", self.loss.center(), None);
    }

    fn extra_metadata(&self) -> Vec<(String, String)> {
        vec![(DINO_STEPS.into(), self.steps.to_string())]
    }

    fn load_extra_metadata(&mut self, meta: &BTreeMap<String, String>) -> Result<()> {
        let t = meta
            .get(DINO_STEPS)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                Error::invalid(
                    "Dino::load_extra_metadata",
                    format!("checkpoint metadata '{DINO_STEPS}' missing or invalid"),
                )
            })?;
        self.schedule_to(t)
    }

    fn train_features(&self) -> Option<Var> {
        self.features
    }

    fn hparams(&self) -> Vec<(String, String)> {
        let c = &self.config;
        let (warmup, total) = match &self.schedule {
            Some((_, (w, t))) => (w.to_string(), t.to_string()),
            None => (UNSET_LENGTH.to_string(), UNSET_LENGTH.to_string()),
        };
        let s = |v: &dyn ToString| v.to_string();
        vec![
            ("estimator".into(), "DINO".into()),
            ("proj_input_dim".into(), s(&self.latent)),
            ("proj_hidden_dim".into(), s(&c.proj_hidden_dim)),
            ("proj_bottleneck_dim".into(), s(&c.proj_bottleneck_dim)),
            ("proj_output_dim".into(), s(&c.proj_output_dim)),
            ("proj_batch_norm".into(), s(&c.proj_batch_norm)),
            ("proj_norm_last_layer".into(), s(&c.proj_norm_last_layer)),
            ("num_local_crops".into(), s(&c.num_local_crops)),
            ("student_temperature".into(), s(&c.student_temperature)),
            ("teacher_temperature".into(), s(&c.teacher_temperature)),
            ("warmup_teacher_temp".into(), s(&c.warmup_teacher_temp)),
            (
                "warmup_teacher_temp_epochs".into(),
                s(&c.warmup_teacher_temp_epochs),
            ),
            ("base_lambda".into(), s(&c.base_lambda)),
            ("final_lambda".into(), s(&c.final_lambda)),
            ("clip_grad".into(), s(&c.clip_grad)),
            ("freeze_last_layer".into(), s(&c.freeze_last_layer)),
            ("learning_rate".into(), s(&c.lr)),
            ("weight_decay".into(), s(&c.weight_decay)),
            (
                "exclude_bias_and_norm_wd".into(),
                s(&c.exclude_bias_and_norm_wd),
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
            ("warmup_epochs".into(), s(&c.warmup_epochs)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_scales_all_gradients_by_one_norm() {
        // ‖(3, 4, 12)‖ = 13: with max_norm 6.5 every entry is scaled by 6.5 / (13 + 1e-6).
        let mut g = vec![
            Tensor::from_vec(vec![3.0f32, 4.0], &[2]).unwrap(),
            Tensor::from_vec(vec![12.0f32], &[1]).unwrap(),
        ];
        clip_grad_norm(&mut g, 6.5).unwrap();
        let c = (6.5 / (13.0 + 1e-6)) as f32;
        assert_eq!(g[0].data().unwrap(), &[3.0 * c, 4.0 * c]);
        assert_eq!(g[1].data().unwrap(), &[12.0 * c]);
        // Below the threshold, or without clipping: unchanged.
        let before = g.clone();
        clip_grad_norm(&mut g, 100.0).unwrap();
        assert_eq!(g, before);
        clip_grad_norm(&mut g, 0.0).unwrap();
        assert_eq!(g, before);
    }
}
