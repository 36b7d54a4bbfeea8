//! The training loop: epochs of optimizer steps, validation loss, callbacks, logging and
//! checkpoints (PyTorch Lightning's `Trainer.fit`, reduced to what nidl's estimators use).
//!
//! **Determinism.** Everything random is a function of the run's seed: model initialisation (the
//! caller draws it from the seed), the sample order and augmentations of epoch `e` (the loader's
//! `(seed, e, index)` streams). So a checkpoint needs only the model, the optimizer state, the
//! epoch and the seed to continue a run exactly where it stopped: a resumed run reproduces the
//! uninterrupted one bit for bit.

use super::callbacks::{Callback, CallbackContext, NoProgress, Progress};
use super::checkpoint::Checkpoint;
use super::estimator::Estimator;
use super::metric_table::MetricTable;
use super::preflight;
use crate::atomic_file::remove_stale_temporaries;
use crate::autograd::{Grads, Graph};
use crate::datasets::loader::{seeded_or, BatchSource};
use crate::error::{Error, Result};
use crate::log::{FigureNames, RunLogger, EPOCH_TAG};
use crate::tensor::Device;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Checkpoint format version written into the metadata.
pub const CHECKPOINT_FORMAT: &str = "nidl-checkpoint-1";

/// The next [`CallbackContext::fit_id`].
static NEXT_FIT_ID: AtomicU64 = AtomicU64::new(0);

/// How a run goes.
#[derive(Clone, Debug)]
pub struct TrainerConfig {
    /// Epochs to train (Lightning's `max_epochs`).
    pub max_epochs: usize,
    /// At most this many training batches per epoch (`None`: all).
    pub limit_train_batches: Option<usize>,
    /// At most this many validation batches per epoch (`None`: all; `Some(0)`: no validation).
    pub limit_val_batches: Option<usize>,
    /// Log `loss/train` at every N-th step (Lightning's `log_every_n_steps`, default 50; 1:
    /// every step; 0 is refused): at global step `s` (0-based) when `(s + 1) % N == 0`, counted
    /// over the whole run. Not a trajectory hyper-parameter: a resume may change it.
    pub log_every_n_steps: usize,
    /// The run's seed (`random_state`): the caller seeds model init with it, the trainer gives
    /// it to the training and validation loaders that have no seed of their own
    /// ([`BatchSource::seed`]); it is stored in checkpoints and checked on resume.
    pub seed: u64,
    /// Write `epoch=<e>-step=<s>.safetensors` here after every epoch.
    pub checkpoint_dir: Option<PathBuf>,
    /// Continue from this checkpoint.
    pub resume: Option<PathBuf>,
    /// Resume even when the checkpoint records other hyper-parameters than this run's, or none
    /// (a checkpoint of an older nidl); the differences go to `hparams.yaml` as
    /// `resumed_despite_changes`. Without it such a resume is refused, listing them.
    pub resume_despite_changes: bool,
    /// Hyper-parameters that shape the run beyond the estimator's and this configuration's (the
    /// command line passes the OpenBHB views' `mask_prob` and `noise_std`): written to
    /// `hparams.yaml` and into checkpoints, and compared on resume.
    pub hparams: Vec<(String, String)>,
}

impl Default for TrainerConfig {
    fn default() -> Self {
        TrainerConfig {
            max_epochs: 10,
            limit_train_batches: None,
            limit_val_batches: None,
            log_every_n_steps: 50,
            seed: 42,
            checkpoint_dir: None,
            resume: None,
            resume_despite_changes: false,
            hparams: Vec::new(),
        }
    }
}

/// One finished epoch, as reported to a [`Reporter`] and returned by [`Trainer::fit`].
#[derive(Clone, Debug)]
pub struct EpochSummary {
    /// The epoch (0-based).
    pub epoch: usize,
    /// The run's number of epochs.
    pub max_epochs: usize,
    /// Optimizer steps taken so far.
    pub global_step: u64,
    /// Mean training loss over the epoch's steps.
    pub train_loss: f64,
    /// Mean validation loss, when validated.
    pub val_loss: Option<f64>,
    /// Metrics the callbacks returned.
    pub metrics: Vec<(String, f64)>,
    /// Wall time of the epoch, probing included, in seconds.
    pub seconds: f64,
    /// Of which the training steps.
    pub train_seconds: f64,
    /// Of which the validation loss.
    pub val_seconds: f64,
    /// Of which the callbacks (probing).
    pub callback_seconds: f64,
    /// The checkpoint written after it, if any.
    pub checkpoint: Option<PathBuf>,
}

/// Receives progress during training (the command line draws its progress bar with it).
pub trait Reporter {
    /// The callbacks' train-start metrics (probing before training), logged at `global_step`;
    /// called only when there are some.
    fn train_start(&mut self, _global_step: u64, _metrics: &[(String, f64)]) {}
    /// An epoch with `n_batches` steps starts.
    fn epoch_start(&mut self, _epoch: usize, _max_epochs: usize, _n_batches: usize) {}
    /// Step `index` (0-based) of the epoch ended with `loss` on `samples` samples.
    fn batch_end(&mut self, _epoch: usize, _index: usize, _loss: f64, _samples: usize) {}
    /// Validation and probing are running.
    fn evaluating(&mut self, _epoch: usize) {}
    /// The epoch is done.
    fn epoch_end(&mut self, _summary: &EpochSummary) {}
    /// `tag` was logged with the NaN or infinite `value` at `global_step`, for the first time in
    /// this run (later ones are counted in [`FitReport::non_finite`]).
    fn non_finite_metric(&mut self, _tag: &str, _value: f64, _global_step: u64) {}
    /// Where the callbacks report their progress (probing: batches embedded, probe fits); by
    /// default nowhere. It only shows: what it receives never changes the run.
    fn progress(&self) -> &dyn Progress {
        &NoProgress
    }
}

/// A tag logged with NaN or infinite values during a run (logged as they are: they are what
/// was measured).
#[derive(Clone, Debug)]
pub struct NonFiniteMetric {
    /// The tag.
    pub tag: String,
    /// Its first non-finite value.
    pub value: f64,
    /// The step that value was logged at.
    pub first_step: u64,
    /// The step of its last non-finite value.
    pub last_step: u64,
    /// How many of its values were not finite.
    pub count: usize,
}

/// A reporter that reports nothing.
pub struct Silent;
impl Reporter for Silent {}

/// What a finished run returns.
#[derive(Clone, Debug)]
pub struct FitReport {
    /// The epochs trained in this call, in order.
    pub epochs: Vec<EpochSummary>,
    /// Optimizer steps taken in total (including before a resume).
    pub global_step: u64,
    /// The metrics plot, when a logger was attached.
    pub plot: Option<PathBuf>,
    /// The run's log folder, when a logger was attached.
    pub log_dir: Option<PathBuf>,
    /// The tags logged with NaN or infinite values, in the order they first were.
    pub non_finite: Vec<NonFiniteMetric>,
    /// Every tag logged in this call (but `epoch`): final and best values, with their steps.
    pub metrics: MetricTable,
}

/// Runs an [`Estimator`] over epochs with callbacks, logging and checkpoints.
pub struct Trainer {
    config: TrainerConfig,
    callbacks: Vec<Box<dyn Callback>>,
    logger: Option<RunLogger>,
    /// [`Trainer::log_dir`]: the folder to open the run's `version_<N>` in once the inputs are
    /// checked, and whether checkpoints go into it.
    log_root: Option<(PathBuf, bool)>,
    reporter: Box<dyn Reporter>,
    non_finite: Vec<NonFiniteMetric>,
    /// [`Trainer::figure_names`], handed to the run's logger.
    figure_names: Option<FigureNames>,
    /// The current call's [`FitReport::metrics`].
    metrics: MetricTable,
}

impl Trainer {
    /// A trainer with no callback, no logger and no reporting.
    pub fn new(config: TrainerConfig) -> Self {
        Trainer {
            config,
            callbacks: Vec::new(),
            logger: None,
            log_root: None,
            reporter: Box::new(Silent),
            non_finite: Vec::new(),
            figure_names: None,
            metrics: MetricTable::default(),
        }
    }

    /// Adds a callback (run in the order added).
    pub fn callback(mut self, cb: Box<dyn Callback>) -> Self {
        self.callbacks.push(cb);
        self
    }

    /// Names for the run's figure ([`RunLogger::set_figure_names`]): the data, in the title, and
    /// panel titles by tag prefix (e.g. `("task0", "age")`).
    pub fn figure_names(mut self, names: FigureNames) -> Self {
        self.figure_names = Some(names);
        self
    }

    /// Logs every scalar to `logger` (and writes its hparams and plot).
    pub fn logger(mut self, logger: RunLogger) -> Self {
        self.logger = Some(logger);
        self
    }

    /// Logs into the next `version_<N>` folder of `root` ([`next_version_dir`]) with a
    /// [`RunLogger`], and, when `checkpoints` (and no [`TrainerConfig::checkpoint_dir`] is set),
    /// writes the checkpoints into its `checkpoints/` folder, as Lightning's `ModelCheckpoint`
    /// does without a `dirpath`. The folder is created only once [`fit`](Self::fit) has checked
    /// the inputs, so a run refused before its first step leaves nothing behind;
    /// [`FitReport::log_dir`] names it. Replaces a [`logger`](Self::logger) given before.
    ///
    /// [`next_version_dir`]: crate::log::next_version_dir
    pub fn log_dir(mut self, root: impl Into<PathBuf>, checkpoints: bool) -> Self {
        self.log_root = Some((root.into(), checkpoints));
        self
    }

    /// Sends progress to `reporter`.
    pub fn reporter(mut self, reporter: Box<dyn Reporter>) -> Self {
        self.reporter = reporter;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &TrainerConfig {
        &self.config
    }

    fn log(&mut self, tag: &str, value: f64, step: u64, epoch: usize) -> Result<()> {
        if tag != EPOCH_TAG {
            self.metrics.add(tag, value, step);
        }
        if !value.is_finite() {
            match self.non_finite.iter_mut().find(|m| m.tag == tag) {
                Some(m) => {
                    m.count += 1;
                    m.last_step = step;
                }
                None => {
                    self.reporter.non_finite_metric(tag, value, step);
                    self.non_finite.push(NonFiniteMetric {
                        tag: tag.to_string(),
                        value,
                        first_step: step,
                        last_step: step,
                        count: 1,
                    });
                }
            }
        }
        match &mut self.logger {
            Some(l) => l.log_scalar(tag, value, step, epoch),
            None => Ok(()),
        }
    }

    /// Logs `rows` at `step`, then the `epoch` scalar ([`EPOCH_TAG`]) when there were any, as
    /// Lightning's `log_metrics` adds `epoch` to every batch of metrics it writes.
    fn log_rows<'a>(
        &mut self,
        rows: impl IntoIterator<Item = (&'a str, f64)>,
        step: u64,
        epoch: usize,
    ) -> Result<()> {
        let mut any = false;
        for (tag, v) in rows {
            self.log(tag, v, step, epoch)?;
            any = true;
        }
        if any {
            self.log(EPOCH_TAG, epoch as f64, step, epoch)?;
        }
        Ok(())
    }

    /// Trains `est` on `train` for the configured epochs, with the validation loss on `val` after
    /// each epoch. First it tells `est` the run's length
    /// ([`Estimator::set_run_length`]: `max_epochs` and the training batches per epoch after
    /// `limit_train_batches`) and seeds `train` and `val` with [`TrainerConfig::seed`] unless
    /// they have a seed of their own; callbacks run before the first step (`on_train_start`), after a validation
    /// (`on_validation_epoch_end`, only when validation batches were used) and after each epoch
    /// (`on_train_epoch_end`); a checkpoint is written after them.
    ///
    /// Scalars, at Lightning's steps (global steps, 0-based, counted over the whole run, also
    /// across a resume), each group followed by an `epoch` row (the epoch, 0-based) as Lightning
    /// writes it:
    /// - `loss/train` at step `s` when `(s + 1) % log_every_n_steps == 0`
    ///   ([`TrainerConfig::log_every_n_steps`]);
    /// - after the validation: `loss/val` (the mean over the validation samples,
    ///   [`validation_loss`]) then the metrics of `on_validation_epoch_end`, at the epoch's last
    ///   step (steps done − 1);
    /// - after the epoch: the metrics of `on_train_epoch_end`, at the same step, when there are
    ///   some;
    /// - the train-start metrics at the starting step (steps done before the run).
    ///
    /// Before anything is written, the inputs are checked ([`preflight`](super::preflight):
    /// empty sets, a batch larger than the training set, samples the encoder does not take, a
    /// step too large for the memory, the callbacks' own checks): an [`Error::RunInput`] then
    /// says what is wrong, and the [`log_dir`](Self::log_dir) folder is not created. NaN or
    /// infinite metrics are logged as they are and reported ([`Reporter::non_finite_metric`],
    /// [`FitReport::non_finite`]).
    ///
    /// Errors: [`Error::InvalidArgument`] for a `log_every_n_steps` of 0, before anything is
    /// written. A NaN or infinite value stops the run with an [`Error::NonFinite`] naming the
    /// epoch, the step and where it is — the training loss, a parameter's gradient (no optimizer
    /// step is taken with either), a parameter or buffer after the step (named as in the
    /// checkpoint: `encoder.<name>`, `head.<name>`), or any state tensor (optimizer state
    /// included) at the end of the epoch. Host tensors are checked at every step; tensors on a
    /// GPU only at the end of each epoch, before validation and the checkpoint, since checking
    /// them reads them back. No checkpoint is written after a non-finite value, so the last
    /// checkpoint on disk is the last good state. Any error from the data, the model, a
    /// callback, the logger or the checkpoint files also stops the run.
    pub fn fit(
        &mut self,
        est: &mut dyn Estimator,
        train: &dyn BatchSource,
        val: Option<&dyn BatchSource>,
    ) -> Result<FitReport> {
        self.non_finite.clear();
        self.metrics = MetricTable::default();
        if self.config.log_every_n_steps == 0 {
            return Err(Error::invalid(
                "TrainerConfig::log_every_n_steps",
                "0: scalars are logged every N steps, N ≥ 1 (1: every step)",
            ));
        }
        let result = self.fit_inner(est, train, val);
        // Keep what was logged, even when the run failed.
        if let Some(l) = &mut self.logger {
            let flushed = l.flush();
            if result.is_ok() {
                flushed?;
            }
        }
        let (epochs, global_step) = result?;
        let log_dir = self.logger.as_ref().map(|l| l.dir().to_path_buf());
        let plot = match self.logger.take() {
            Some(l) => l.finish()?,
            None => None,
        };
        Ok(FitReport {
            epochs,
            global_step,
            plot,
            log_dir,
            non_finite: std::mem::take(&mut self.non_finite),
            metrics: std::mem::take(&mut self.metrics),
        })
    }

    fn fit_inner(
        &mut self,
        est: &mut dyn Estimator,
        train: &dyn BatchSource,
        val: Option<&dyn BatchSource>,
    ) -> Result<(Vec<EpochSummary>, u64)> {
        let mut cfg = self.config.clone();
        let (mut train_slot, mut val_slot) = (None, None);
        let train = seeded_or(train, cfg.seed, &mut train_slot);
        let val = val.map(|v| seeded_or(v, cfg.seed, &mut val_slot));
        // The one place the run's length is set: the estimators size their schedules by it.
        preflight::non_empty("the training set", train)?;
        let n_train = cfg
            .limit_train_batches
            .map_or(train.num_batches(), |l| l.min(train.num_batches()));
        est.set_run_length(cfg.max_epochs, n_train)?;
        let hparams = trajectory_hparams(&cfg, est, train);
        let (mut start_epoch, mut global_step) = (0usize, 0u64);
        let mut resumed = None;
        if let Some(path) = &cfg.resume {
            // The run we continue may have been killed while writing its next checkpoint.
            if let Some(dir) = path.parent() {
                remove_stale_temporaries(dir);
            }
            let r = load_checkpoint(path, est, cfg.seed, &hparams, cfg.resume_despite_changes)?;
            (start_epoch, global_step) = (r.epoch, r.global_step);
            resumed = Some(r);
        }
        let used_val = val.filter(|_| cfg.limit_val_batches != Some(0));
        preflight::check_run(est, train, used_val, start_epoch)?;
        for cb in &mut self.callbacks {
            cb.check(est)?;
        }
        if let Some((root, checkpoints)) = self.log_root.take() {
            let version = crate::log::next_version_dir(&root)?;
            if checkpoints && cfg.checkpoint_dir.is_none() {
                cfg.checkpoint_dir = Some(version.join("checkpoints"));
            }
            self.logger = Some(RunLogger::create(&version)?);
        }
        if let Some(l) = &mut self.logger {
            let mut hp = hparams.clone();
            hp.push((
                "limit_val_batches".into(),
                cfg.limit_val_batches
                    .map_or("null".into(), |v| v.to_string()),
            ));
            hp.push((
                "log_every_n_steps".into(),
                cfg.log_every_n_steps.to_string(),
            ));
            hp.push(("random_state".into(), cfg.seed.to_string()));
            if let Some(r) = &cfg.resume {
                hp.push(("resumed_from".into(), r.display().to_string()));
            }
            if let Some(changes) = resumed.and_then(|r| r.changes) {
                hp.push(("resumed_despite_changes".into(), changes));
            }
            l.log_hparams(&hp)?;
            if let Some(names) = self.figure_names.clone() {
                l.set_figure_names(names);
            }
        }
        if let Some(dir) = &cfg.checkpoint_dir {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let fit_id = NEXT_FIT_ID.fetch_add(1, Ordering::Relaxed);
        let ctx0 = CallbackContext {
            epoch: start_epoch,
            global_step,
            max_epochs: cfg.max_epochs,
            fit_id,
            progress: self.reporter.progress(),
        };
        let mut start_metrics = Vec::new();
        for cb in &mut self.callbacks {
            start_metrics.extend(cb.on_train_start(&ctx0, est)?);
        }
        self.log_rows(as_rows(&start_metrics), global_step, start_epoch)?;
        if !start_metrics.is_empty() {
            self.reporter.train_start(global_step, &start_metrics);
        }

        let mut summaries = Vec::new();
        for epoch in start_epoch..cfg.max_epochs {
            let t0 = Instant::now();
            est.on_epoch_start(epoch)?;
            self.reporter.epoch_start(epoch, cfg.max_epochs, n_train);
            let mut loss_sum = 0.0;
            let mut g = Graph::new();
            for (i, batch) in train.epoch_batches(epoch).take(n_train).enumerate() {
                let batch = batch?;
                g.clear();
                let loss = est.loss(&mut g, &batch)?;
                let value = g.value(loss).item()? as f64;
                let stop = |what: String| Error::NonFinite {
                    what: format!(
                        "{what} at epoch {}/{}, batch {}/{n_train} (global step {global_step}; \
                         0-based: epoch {epoch}, batch {i}); {STOPPED}",
                        epoch + 1,
                        cfg.max_epochs,
                        i + 1
                    ),
                };
                if !value.is_finite() {
                    return Err(stop(format!("the training loss ({value})")));
                }
                let grads = g.backward(loss)?;
                if let Some(what) = non_finite_on_host(est, &grads, true) {
                    return Err(stop(what));
                }
                est.apply_gradients(&grads)?;
                if let Some(what) = non_finite_on_host(est, &grads, false) {
                    return Err(stop(what));
                }
                if (global_step + 1).is_multiple_of(cfg.log_every_n_steps as u64) {
                    self.log_rows([("loss/train", value)], global_step, epoch)?;
                    if batch.len() < train.batch_size() {
                        if let Some(l) = &mut self.logger {
                            l.mark_short_batch(global_step);
                        }
                    }
                }
                global_step += 1;
                loss_sum += value;
                self.reporter.batch_end(epoch, i, value, batch.len());
            }
            drop(g);
            if let Some(name) = non_finite_state(est)? {
                return Err(Error::NonFinite {
                    what: format!(
                        "'{name}' at the end of epoch {}/{} (global step {global_step}; tensors \
                         on a GPU are checked once per epoch); {STOPPED}",
                        epoch + 1,
                        cfg.max_epochs
                    ),
                });
            }
            let train_seconds = t0.elapsed().as_secs_f64();
            self.reporter.evaluating(epoch);
            let val_loss = match val {
                Some(v) => {
                    let p = self.reporter.progress();
                    validation_loss(est, v, epoch, cfg.limit_val_batches, p)?
                }
                None => None,
            };
            let val_seconds = t0.elapsed().as_secs_f64() - train_seconds;
            let ctx = CallbackContext {
                epoch,
                global_step,
                max_epochs: cfg.max_epochs,
                fit_id,
                progress: &NoProgress,
            };
            // Lightning logs epoch-end scalars at the epoch's last step.
            let last_step = global_step.saturating_sub(1);
            let mut metrics = Vec::new();
            if val_loss.is_some() {
                let ctx = ctx.reporting_to(self.reporter.progress());
                for cb in &mut self.callbacks {
                    metrics.extend(cb.on_validation_epoch_end(&ctx, est)?);
                }
            }
            let val_rows = val_loss.map(|v| ("loss/val", v));
            self.log_rows(
                val_rows.into_iter().chain(as_rows(&metrics)),
                last_step,
                epoch,
            )?;
            let after_val = metrics.len();
            let ctx = ctx.reporting_to(self.reporter.progress());
            for cb in &mut self.callbacks {
                metrics.extend(cb.on_train_epoch_end(&ctx, est)?);
            }
            let callback_seconds = t0.elapsed().as_secs_f64() - train_seconds - val_seconds;
            self.log_rows(as_rows(&metrics[after_val..]), last_step, epoch)?;
            if let Some(l) = &mut self.logger {
                l.flush()?;
            }
            let checkpoint = match &cfg.checkpoint_dir {
                Some(dir) => {
                    let path = dir.join(format!("epoch={epoch}-step={global_step}.safetensors"));
                    save_checkpoint(&path, est, epoch, global_step, cfg.seed, &hparams)?;
                    Some(path)
                }
                None => None,
            };
            let summary = EpochSummary {
                epoch,
                max_epochs: cfg.max_epochs,
                global_step,
                train_loss: if n_train > 0 {
                    loss_sum / n_train as f64
                } else {
                    f64::NAN
                },
                val_loss,
                metrics,
                seconds: t0.elapsed().as_secs_f64(),
                train_seconds,
                val_seconds,
                callback_seconds,
                checkpoint,
            };
            self.reporter.epoch_end(&summary);
            summaries.push(summary);
        }
        Ok((summaries, global_step))
    }
}

/// `(tag, value)` metrics as the rows [`Trainer::log_rows`] takes.
fn as_rows(metrics: &[(String, f64)]) -> impl Iterator<Item = (&str, f64)> {
    metrics.iter().map(|(tag, v)| (tag.as_str(), *v))
}

/// How a run stopped by a non-finite value ends its error message.
const STOPPED: &str = "training stopped, the last checkpoint written (if any) is intact";

/// The first host tensor of `est` that is NaN or infinite, in words: with `gradients`, a
/// parameter's gradient in `grads` (checked before the optimizer step), else a parameter or
/// buffer (checked after it). Tensors on a GPU are skipped: checking them would read them back
/// at every step; [`non_finite_state`] checks them once per epoch.
fn non_finite_on_host(est: &dyn Estimator, grads: &Grads<f32>, gradients: bool) -> Option<String> {
    let mut found = None;
    est.visit_trained_tensors(grads, &mut |name, value, grad| {
        let t = match (gradients, grad) {
            (false, _) => value,
            (true, Some(g)) => g,
            (true, None) => return,
        };
        // A host tensor's check cannot fail (nothing to read back).
        if found.is_none() && t.device() == Device::Cpu && matches!(t.all_finite(), Ok(false)) {
            found = Some(if gradients {
                format!("the gradient of '{name}'")
            } else {
                format!("'{name}' after the optimizer step")
            });
        }
    });
    found
}

/// The name of the first tensor of `est`'s [`state`](Estimator::state) (parameters, buffers,
/// optimizer state; read back from a GPU) that holds a NaN or an infinity.
fn non_finite_state(est: &dyn Estimator) -> Result<Option<String>> {
    for (name, t) in est.state() {
        if !t.all_finite()? {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

/// The mean loss over the samples of the first `limit` batches of `val` (epoch `epoch`'s
/// views), on inference graphs: each batch's loss weighted by its number of samples, as
/// Lightning averages a logged epoch value; `None` when no batch is used. Each batch done is
/// reported to `progress` as `validation loss` (done / batches).
pub fn validation_loss(
    est: &mut dyn Estimator,
    val: &dyn BatchSource,
    epoch: usize,
    limit: Option<usize>,
    progress: &dyn Progress,
) -> Result<Option<f64>> {
    let n = limit.map_or(val.num_batches(), |l| l.min(val.num_batches()));
    if n == 0 {
        return Ok(None);
    }
    let mut g = Graph::inference();
    let (mut sum, mut samples) = (0.0, 0usize);
    for (i, batch) in val.epoch_batches(epoch).take(n).enumerate() {
        let batch = batch?;
        g.clear();
        let loss = est.loss(&mut g, &batch)?;
        sum += g.value(loss).item()? as f64 * batch.len() as f64;
        samples += batch.len();
        progress.update("validation loss", i + 1, n);
    }
    Ok(Some(sum / samples as f64))
}

/// The hyper-parameters that shape a run's trajectory, as `hparams.yaml` writes them: the
/// estimator's, `max_epochs`, `limit_train_batches`, the batch size and the configuration's own
/// [`hparams`](TrainerConfig::hparams). Checkpoints record them and a resume compares them.
fn trajectory_hparams(
    cfg: &TrainerConfig,
    est: &dyn Estimator,
    train: &dyn BatchSource,
) -> Vec<(String, String)> {
    let mut hp = est.hparams();
    hp.push(("max_epochs".into(), cfg.max_epochs.to_string()));
    hp.push((
        "limit_train_batches".into(),
        cfg.limit_train_batches
            .map_or("null".into(), |v| v.to_string()),
    ));
    hp.push(("batch_size".into(), train.batch_size().to_string()));
    hp.extend(cfg.hparams.iter().cloned());
    hp
}

/// The prefix of the hyper-parameters' keys in a checkpoint's metadata (`hparam.lr`, ...).
pub const HPARAM_PREFIX: &str = "hparam.";

/// Writes the state after epoch `epoch` (0-based, completed) to `path`, atomically, with the
/// run's trajectory `hparams` (stored as `hparam.<name>` metadata, which [`load_checkpoint`]
/// compares).
pub fn save_checkpoint(
    path: &Path,
    est: &dyn Estimator,
    epoch: usize,
    global_step: u64,
    seed: u64,
    hparams: &[(String, String)],
) -> Result<()> {
    let mut ck = Checkpoint::new();
    ck.insert_f32_state("", est.state());
    let m = &mut ck.metadata;
    m.insert("format".into(), CHECKPOINT_FORMAT.into());
    m.insert("estimator".into(), est.name().into());
    m.insert("epoch".into(), epoch.to_string());
    m.insert("global_step".into(), global_step.to_string());
    m.insert("seed".into(), seed.to_string());
    // The loaders' streams are keyed by (seed, epoch, sample): the next epoch is all a resumed
    // run needs to draw the same batches.
    m.insert(
        "rng".into(),
        format!(
            "loader streams keyed (seed={seed}, epoch, sample); next epoch {}",
            epoch + 1
        ),
    );
    m.insert("lr".into(), est.lr().to_string());
    for (k, v) in hparams {
        m.insert(format!("{HPARAM_PREFIX}{k}"), v.clone());
    }
    for (k, v) in est.extra_metadata() {
        m.insert(k, v);
    }
    ck.save(path)
}

/// Where [`load_checkpoint`] leaves a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resumed {
    /// The first epoch to train.
    pub epoch: usize,
    /// Optimizer steps taken before it.
    pub global_step: u64,
    /// When resuming despite changes was allowed: the differences, `name: checkpoint value ->
    /// this run's`, comma-separated (`no changes` when there are none; a note when the
    /// checkpoint records no hyper-parameters). `None` otherwise.
    pub changes: Option<String>,
}

/// How a refused resume tells the way out.
const DESPITE: &str = "resume despite changes (--resume-despite-changes, \
                       TrainerConfig::resume_despite_changes) to continue anyway";

/// Restores `est` from the checkpoint at `path` for a run with `seed` and trajectory `hparams`.
/// Errors name the file and what does not match: another estimator, another seed, missing or
/// mis-shaped tensors, and — unless `despite_changes` — hyper-parameters other than the recorded
/// ones (every difference listed, `name: checkpoint value (checkpoint) vs. value (this run)`) or
/// none recorded (a checkpoint of an older nidl).
pub fn load_checkpoint(
    path: &Path,
    est: &mut dyn Estimator,
    seed: u64,
    hparams: &[(String, String)],
    despite_changes: bool,
) -> Result<Resumed> {
    let ck = Checkpoint::load(path)?;
    let format = ck.meta("format", path)?;
    if format != CHECKPOINT_FORMAT {
        return Err(Error::format(
            path,
            format!("checkpoint format '{format}', expected '{CHECKPOINT_FORMAT}'"),
        ));
    }
    let name = ck.meta("estimator", path)?;
    if name != est.name() {
        return Err(Error::format(
            path,
            format!(
                "checkpoint of a {name} model, but this run trains {}",
                est.name()
            ),
        ));
    }
    let ck_seed: u64 = ck.meta_parse("seed", path)?;
    if ck_seed != seed {
        return Err(Error::format(path, format!("checkpoint was written by a run with seed {ck_seed}, this run has seed {seed} (--seed)")));
    }
    let changes = hparam_changes(&ck, hparams, path, despite_changes)?;
    let epoch: usize = ck.meta_parse("epoch", path)?;
    let step: u64 = ck.meta_parse("global_step", path)?;
    let state = ck
        .f32_state("")
        .map_err(|e| Error::format(path, e.to_string()))?;
    est.load_state(&state)
        .map_err(|e| Error::format(path, e.to_string()))?;
    est.load_extra_metadata(&ck.metadata)
        .map_err(|e| Error::format(path, e.to_string()))?;
    Ok(Resumed {
        epoch: epoch + 1,
        global_step: step,
        changes,
    })
}

/// Compares the hyper-parameters `ck` records with the run's `hparams`: an error naming `path`
/// and listing every difference (or saying none are recorded) unless `despite_changes`; then
/// the differences as [`Resumed::changes`] words them.
fn hparam_changes(
    ck: &Checkpoint,
    hparams: &[(String, String)],
    path: &Path,
    despite_changes: bool,
) -> Result<Option<String>> {
    let recorded: BTreeMap<&str, &str> = ck
        .metadata
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(HPARAM_PREFIX)?, v.as_str())))
        .collect();
    if recorded.is_empty() {
        return if despite_changes {
            Ok(Some("the checkpoint records no hyper-parameters".into()))
        } else {
            Err(Error::format(
                path,
                format!(
                    "the checkpoint records no hyper-parameters (written by an older nidl), so \
                     this run cannot check it continues the same training; {DESPITE}"
                ),
            ))
        };
    }
    const UNSET: &str = "(not set)";
    let mut diffs: Vec<(&str, &str, &str)> = Vec::new();
    for (k, v) in hparams {
        match recorded.get(k.as_str()) {
            Some(c) if c == v => {}
            c => diffs.push((k, c.copied().unwrap_or(UNSET), v)),
        }
    }
    for (k, c) in &recorded {
        if !hparams.iter().any(|(n, _)| n == k) {
            diffs.push((k, c, UNSET));
        }
    }
    let list = |word: &dyn Fn(&str, &str, &str) -> String| -> String {
        let words: Vec<String> = diffs.iter().map(|&(n, c, r)| word(n, c, r)).collect();
        words.join(", ")
    };
    if diffs.is_empty() {
        Ok(despite_changes.then(|| "no changes".to_string()))
    } else if despite_changes {
        Ok(Some(list(&|n, c, r| format!("{n}: {c} -> {r}"))))
    } else {
        Err(Error::format(
            path,
            format!(
                "the checkpoint was written with other hyper-parameters: {}; {DESPITE}",
                list(&|n, c, r| format!("{n}: {c} (checkpoint) vs. {r} (this run)"))
            ),
        ))
    }
}
