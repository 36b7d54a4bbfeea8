//! The training loop: epochs of optimizer steps, validation loss, callbacks, logging and
//! checkpoints (PyTorch Lightning's `Trainer.fit`, reduced to what nidl's estimators use).
//!
//! **Determinism.** Everything random is a function of the run's seed: model initialisation (the
//! caller draws it from the seed), the sample order and augmentations of epoch `e` (the loader's
//! `(seed, e, index)` streams). So a checkpoint needs only the model, the optimizer state, the
//! epoch and the seed to continue a run exactly where it stopped: a resumed run reproduces the
//! uninterrupted one bit for bit.

use super::callbacks::{Callback, CallbackContext, NoProgress, Progress};
use super::checkpoint::{json_string, Checkpoint};
use super::estimator::Estimator;
use super::metric_table::MetricTable;
use super::monitor::{EarlyStopping, Mode, Monitor};
use super::preflight;
use crate::atomic_file::remove_stale_temporaries;
use crate::autograd::{Grads, Graph};
use crate::datasets::loader::{seeded_or, BatchSource};
use crate::error::{Error, Result};
use crate::log::{FigureNames, RunLogger, EPOCH_TAG};
use crate::tensor::{Device, Tensor};
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
    /// What the best checkpoint and early stopping ([`Trainer::checkpoint_best`],
    /// [`Trainer::early_stopping`]) did, one line each, for the console (empty without them).
    pub notes: Vec<String>,
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
    /// [`Trainer::checkpoint_best`]'s tag.
    best: Option<Monitor>,
    /// [`Trainer::early_stopping`]'s tag and patience.
    early_stop: Option<EarlyStopping>,
    /// The last value of each tag logged since the current epoch started (what the monitors
    /// see at its end).
    epoch_values: Vec<(String, f64)>,
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
            best: None,
            early_stop: None,
            epoch_values: Vec::new(),
        }
    }

    /// Keeps `best.safetensors` (beside the epoch checkpoints: [`TrainerConfig::checkpoint_dir`],
    /// else the run folder's `checkpoints/`, written even without epoch checkpoints) holding
    /// the state with the best value of `tag` so far, logged at the end of an epoch — larger
    /// or smaller by `mode` (`None`: [`Mode::of`] the tag: `min` for losses and errors) — and
    /// `best.json` beside it naming the tag, mode, value, epoch and step. Both are written
    /// atomically whenever the value improves (strictly).
    ///
    /// Errors of [`fit`](Self::fit): no folder to write into (no checkpoint folder and no
    /// [`log_dir`](Self::log_dir)), before anything is written; a `tag` still not logged at the
    /// end of the first epoch whose callbacks logged metrics ([`Error::InvalidArgument`] of op
    /// `Trainer::checkpoint_best`, listing the tags logged).
    pub fn checkpoint_best(mut self, tag: impl Into<String>, mode: Option<Mode>) -> Self {
        self.best = Some(Monitor::new(tag, mode));
        self
    }

    /// Stops training after the epoch at whose end `tag` has been logged `patience` times in
    /// a row without improving on its best (Lightning's `EarlyStopping`, `min_delta` 0; mode
    /// as [`checkpoint_best`](Self::checkpoint_best)); the epoch's checkpoint, the logs and the
    /// figure are written as after a full run, and [`FitReport::notes`] says why it stopped.
    ///
    /// Errors of [`fit`](Self::fit): a `tag` never logged, as
    /// [`checkpoint_best`](Self::checkpoint_best) (op `Trainer::early_stopping`).
    pub fn early_stopping(
        mut self,
        tag: impl Into<String>,
        mode: Option<Mode>,
        patience: usize,
    ) -> Self {
        self.early_stop = Some(EarlyStopping {
            monitor: Monitor::new(tag, mode),
            patience,
        });
        self
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
            match self.epoch_values.iter_mut().find(|(t, _)| t == tag) {
                Some(slot) => slot.1 = value,
                None => self.epoch_values.push((tag.to_string(), value)),
            }
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
        let (epochs, global_step, notes) = result?;
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
            notes,
        })
    }

    fn fit_inner(
        &mut self,
        est: &mut dyn Estimator,
        train: &dyn BatchSource,
        val: Option<&dyn BatchSource>,
    ) -> Result<(Vec<EpochSummary>, u64, Vec<String>)> {
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
            let r = load_checkpoint(
                path,
                est,
                &mut self.callbacks,
                cfg.seed,
                &hparams,
                cfg.resume_despite_changes,
            )?;
            (start_epoch, global_step) = (r.epoch, r.global_step);
            self.restore_monitors(&r, path)?;
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
        let best_dir = match (&self.best, &cfg.checkpoint_dir, &self.logger) {
            (None, _, _) => None,
            (Some(_), Some(dir), _) => Some(dir.clone()),
            (Some(_), None, Some(l)) => Some(l.dir().join("checkpoints")),
            (Some(_), None, None) => None,
        };
        if self.best.is_some() && best_dir.is_none() {
            return Err(Error::invalid(
                "Trainer::checkpoint_best",
                "no folder to write best.safetensors into: set TrainerConfig::checkpoint_dir or \
                 Trainer::log_dir",
            ));
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
            if let Some(m) = &self.best {
                hp.push((
                    "checkpoint_best".into(),
                    format!("{} ({})", m.tag(), m.mode().name()),
                ));
            }
            if let Some(e) = &self.early_stop {
                let m = &e.monitor;
                hp.push((
                    "early_stop".into(),
                    format!("{} ({}), patience {}", m.tag(), m.mode().name(), e.patience),
                ));
            }
            l.log_hparams(&hp)?;
            if let Some(names) = self.figure_names.clone() {
                l.set_figure_names(names);
            }
        }
        // The best checkpoint's folder is made with its first file (none may come).
        if let Some(dir) = &cfg.checkpoint_dir {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let wants_batches = self.callbacks.iter().any(|cb| cb.wants_train_batches());
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
        let mut notes = Vec::new();
        let mut wrote_best = false;
        for epoch in start_epoch..cfg.max_epochs {
            let t0 = Instant::now();
            self.epoch_values.clear();
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
                if wants_batches {
                    let ctx = CallbackContext {
                        epoch,
                        global_step,
                        max_epochs: cfg.max_epochs,
                        fit_id,
                        progress: &NoProgress,
                    };
                    self.train_batch_callbacks(&ctx, est, &g, &batch)?;
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
            // Whether every callback logged something this epoch (then a monitored tag not
            // logged yet never will be at this point of a run).
            let mut logged_by = vec![false; self.callbacks.len()];
            if val_loss.is_some() {
                let ctx = ctx.reporting_to(self.reporter.progress());
                for (cb, logged) in self.callbacks.iter_mut().zip(&mut logged_by) {
                    let m = cb.on_validation_epoch_end(&ctx, est)?;
                    *logged |= !m.is_empty();
                    metrics.extend(m);
                }
            }
            let val_rows = val_loss.map(|v| ("loss/val", v));
            self.log_rows(
                val_rows.into_iter().chain(as_rows(&metrics)),
                last_step,
                epoch,
            )?;
            let after_val = metrics.len();
            {
                let ctx = ctx.reporting_to(self.reporter.progress());
                for (cb, logged) in self.callbacks.iter_mut().zip(&mut logged_by) {
                    let m = cb.on_train_epoch_end(&ctx, est)?;
                    *logged |= !m.is_empty();
                    metrics.extend(m);
                }
            }
            self.log_rows(as_rows(&metrics[after_val..]), last_step, epoch)?;
            let all_logged =
                logged_by.iter().all(|&l| l) && (val_loss.is_some() || !metrics.is_empty());
            let stopping = self.watch_epoch(all_logged, epoch, global_step)?;
            if stopping.stop.is_some() {
                // Stopping early makes this epoch the last: the callbacks due after the last
                // epoch (`after_last_epoch`) run now; values already logged this epoch are not
                // logged twice. The monitors decided on the values above.
                let before = metrics.len();
                let last = CallbackContext {
                    max_epochs: epoch + 1,
                    ..ctx.reporting_to(self.reporter.progress())
                };
                for cb in &mut self.callbacks {
                    for (tag, v) in cb.on_train_epoch_end(&last, est)? {
                        if !metrics.iter().any(|(t, _)| *t == tag) {
                            metrics.push((tag, v));
                        }
                    }
                }
                self.log_rows(as_rows(&metrics[before..]), last_step, epoch)?;
            }
            let callback_seconds = t0.elapsed().as_secs_f64() - train_seconds - val_seconds;
            if let Some(l) = &mut self.logger {
                l.flush()?;
            }
            let name = format!("epoch={epoch}-step={global_step}.safetensors");
            let ckpt = |dir: &Path, name: &str, best: bool| -> Result<PathBuf> {
                let path = dir.join(name);
                let extras = self.checkpoint_extras(best);
                save_checkpoint(&path, est, epoch, global_step, cfg.seed, &hparams, &extras)?;
                Ok(path)
            };
            let checkpoint = match &cfg.checkpoint_dir {
                Some(dir) => Some(ckpt(dir, &name, false)?),
                None => None,
            };
            if let (Some(m), Some(dir), true) = (&self.best, &best_dir, stopping.best_improved) {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
                ckpt(dir, BEST_CHECKPOINT, true)?;
                let epoch_file = checkpoint.as_ref().map(|_| name.as_str());
                write_best_json(&dir.join(BEST_JSON), m, epoch_file)?;
                wrote_best = true;
            }
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
            if let Some(why) = stopping.stop {
                notes.push(why);
                break;
            }
        }
        let written = best_dir.filter(|_| wrote_best);
        notes.splice(0..0, self.best_note(written.as_deref()));
        Ok((summaries, global_step, notes))
    }

    /// Hands the step's first-view encoder output (read from `g`, a host copy) and `batch`'s
    /// labels to the callbacks that want the training batches.
    fn train_batch_callbacks(
        &mut self,
        ctx: &CallbackContext,
        est: &dyn Estimator,
        g: &Graph<f32>,
        batch: &crate::datasets::loader::Batch<f32>,
    ) -> Result<()> {
        let h = est.train_features().ok_or_else(|| {
            Error::invalid(
                "Trainer::fit",
                format!(
                    "a callback learns from the training batches (an online probe), but {} \
                     exposes no training features (Estimator::train_features)",
                    est.name()
                ),
            )
        })?;
        let value = g.value(h);
        let features = Tensor::from_vec(value.host_values()?.into_owned(), value.shape())?;
        for cb in &mut self.callbacks {
            if cb.wants_train_batches() {
                cb.on_train_batch(ctx, &features, &batch.labels)?;
            }
        }
        Ok(())
    }

    /// The monitors' look at the epoch's values: errors for a tag never logged although every
    /// callback logged its metrics this epoch (`callbacks_logged`; with no callback, the
    /// validation loss); then whether the best value
    /// improved (the new best) and, for early stopping, why the run stops.
    fn watch_epoch(
        &mut self,
        callbacks_logged: bool,
        epoch: usize,
        global_step: u64,
    ) -> Result<EpochWatch> {
        let mut watch = EpochWatch::default();
        let logged: Vec<&str> = self.metrics.rows().iter().map(|r| r.tag.as_str()).collect();
        let values = &self.epoch_values;
        let seen = |m: &Monitor, op: &'static str| -> Result<Option<f64>> {
            let value = values.iter().find(|(t, _)| t == m.tag()).map(|(_, v)| *v);
            if value.is_none() && callbacks_logged && !logged.contains(&m.tag()) {
                return Err(Error::invalid(
                    op,
                    format!(
                        "the tag '{}' was not logged by the end of epoch {} although every \
                         callback logged its metrics; logged tags: {}",
                        m.tag(),
                        epoch + 1,
                        logged.join(", ")
                    ),
                ));
            }
            Ok(value)
        };
        let best_value = match &self.best {
            Some(m) => seen(m, "Trainer::checkpoint_best")?,
            None => None,
        };
        let stop_value = match &self.early_stop {
            Some(e) => seen(&e.monitor, "Trainer::early_stopping")?,
            None => None,
        };
        if let (Some(m), Some(v)) = (&mut self.best, best_value) {
            watch.best_improved = m.observe(v, epoch, global_step);
        }
        if let (Some(e), Some(v)) = (&mut self.early_stop, stop_value) {
            e.monitor.observe(v, epoch, global_step);
            if e.should_stop() {
                let m = &e.monitor;
                let best = match m.best() {
                    Some(b) => format!(
                        "best {} at epoch {} (step {})",
                        b.value,
                        b.epoch + 1,
                        b.global_step
                    ),
                    None => "no finite value yet".into(),
                };
                watch.stop = Some(format!(
                    "early stopping: stopped after epoch {}: {} did not improve ({}) for {} \
                     evaluation(s) in a row (patience {}); {best}",
                    epoch + 1,
                    m.tag(),
                    m.mode().name(),
                    m.stale(),
                    e.patience
                ));
            }
        }
        Ok(watch)
    }

    /// What a checkpoint holds beyond the estimator's state: the callbacks' state and the
    /// monitors'; for the best checkpoint (`best`), also the winning tag, mode and value.
    fn checkpoint_extras(&self, best: bool) -> CheckpointExtras {
        let mut extras = CheckpointExtras {
            callback_state: self.callbacks.iter().flat_map(|cb| cb.state()).collect(),
            metadata: Vec::new(),
        };
        if let Some(m) = &self.best {
            extras.metadata.push((MONITOR_BEST.into(), m.to_metadata()));
            if let (true, Some(b)) = (best, m.best()) {
                extras.metadata.extend([
                    ("best.tag".into(), m.tag().to_string()),
                    ("best.mode".into(), m.mode().name().to_string()),
                    ("best.value".into(), b.value.to_string()),
                ]);
            }
        }
        if let Some(e) = &self.early_stop {
            extras
                .metadata
                .push((MONITOR_EARLY_STOP.into(), e.monitor.to_metadata()));
        }
        extras
    }

    /// Restores the monitors' counts from the checkpoint a run resumes from (when it watched
    /// the same tags in the same modes).
    fn restore_monitors(&mut self, r: &Resumed, path: &Path) -> Result<()> {
        let wrap = |e: Error| Error::format(path, e.to_string());
        if let (Some(m), Some(text)) = (&mut self.best, r.monitors.get(MONITOR_BEST)) {
            m.restore(MONITOR_BEST, text).map_err(wrap)?;
        }
        if let (Some(e), Some(text)) = (&mut self.early_stop, r.monitors.get(MONITOR_EARLY_STOP)) {
            e.monitor.restore(MONITOR_EARLY_STOP, text).map_err(wrap)?;
        }
        Ok(())
    }

    /// The console line on the best checkpoint, when one is kept; `dir` is where this call
    /// wrote it (`None`: it wrote none).
    fn best_note(&self, dir: Option<&Path>) -> Option<String> {
        let m = self.best.as_ref()?;
        let won = |b: super::monitor::Best| {
            format!(
                "best checkpoint: {} = {} ({}) after epoch {} (step {})",
                m.tag(),
                b.value,
                m.mode().name(),
                b.epoch + 1,
                b.global_step,
            )
        };
        Some(match (m.best(), dir) {
            (Some(b), Some(dir)) => {
                format!("{}: {}", won(b), dir.join(BEST_CHECKPOINT).display())
            }
            (Some(b), None) => format!(
                "{}, before the resume: in the checkpoint folder of the run resumed from",
                won(b)
            ),
            (None, _) => format!(
                "best checkpoint: {} was never logged with a finite value; no best checkpoint \
                 written",
                m.tag()
            ),
        })
    }
}

/// What the monitors made of an epoch ([`Trainer::watch_epoch`]).
#[derive(Default)]
struct EpochWatch {
    /// Whether the best checkpoint's tag improved.
    best_improved: bool,
    /// Why early stopping stops the run after this epoch.
    stop: Option<String>,
}

/// The file name of the best checkpoint ([`Trainer::checkpoint_best`]).
pub const BEST_CHECKPOINT: &str = "best.safetensors";

/// The file name of the best checkpoint's record ([`Trainer::checkpoint_best`]).
pub const BEST_JSON: &str = "best.json";

/// Checkpoint metadata key of [`Trainer::checkpoint_best`]'s monitor state.
const MONITOR_BEST: &str = "monitor.checkpoint_best";

/// Checkpoint metadata key of [`Trainer::early_stopping`]'s monitor state.
const MONITOR_EARLY_STOP: &str = "monitor.early_stop";

/// The prefix of the callbacks' tensors in a checkpoint (`callback.online_probe.weight`).
const CALLBACK_PREFIX: &str = "callback.";

/// Writes `best.json` at `path`, atomically: `{"tag": …, "mode": …, "value": …, "epoch": …,
/// "global_step": …, "epoch_checkpoint": …}` (the epoch 0-based; `epoch_checkpoint` the epoch
/// checkpoint of the same state beside it, or `null`). A non-finite value never wins, so
/// `value` is a JSON number.
fn write_best_json(path: &Path, m: &Monitor, epoch_checkpoint: Option<&str>) -> Result<()> {
    let Some(b) = m.best() else {
        return Ok(());
    };
    let epoch_checkpoint = epoch_checkpoint.map_or("null".into(), json_string);
    let text = format!(
        "{{\"tag\": {}, \"mode\": \"{}\", \"value\": {}, \"epoch\": {}, \"global_step\": {}, \
         \"epoch_checkpoint\": {epoch_checkpoint}}}\n",
        json_string(m.tag()),
        m.mode().name(),
        b.value,
        b.epoch,
        b.global_step
    );
    crate::atomic_file::write_atomic(path, text.as_bytes())
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

/// What a checkpoint holds beyond the estimator's state.
#[derive(Clone, Debug, Default)]
pub struct CheckpointExtras {
    /// The callbacks' state ([`Callback::state`]), stored as `callback.<name>`.
    pub callback_state: Vec<(String, Tensor<f32>)>,
    /// More metadata entries (the monitors' state, the best checkpoint's tag and value).
    pub metadata: Vec<(String, String)>,
}

/// Writes the state after epoch `epoch` (0-based, completed) to `path`, atomically, with the
/// run's trajectory `hparams` (stored as `hparam.<name>` metadata, which [`load_checkpoint`]
/// compares) and the `extras`.
pub fn save_checkpoint(
    path: &Path,
    est: &dyn Estimator,
    epoch: usize,
    global_step: u64,
    seed: u64,
    hparams: &[(String, String)],
    extras: &CheckpointExtras,
) -> Result<()> {
    let mut ck = Checkpoint::new();
    ck.insert_f32_state("", est.state());
    ck.insert_f32_state(CALLBACK_PREFIX, extras.callback_state.clone());
    ck.metadata.extend(extras.metadata.iter().cloned());
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
    /// The monitors' state the checkpoint records (`monitor.*` metadata entries).
    pub monitors: BTreeMap<String, String>,
}

/// How a refused resume tells the way out.
const DESPITE: &str = "resume despite changes (--resume-despite-changes, \
                       TrainerConfig::resume_despite_changes) to continue anyway";

/// Restores `est` and the `callbacks`' state ([`Callback::load_state`]) from the checkpoint at
/// `path` for a run with `seed` and trajectory `hparams`.
/// Errors name the file and what does not match: another estimator, another seed, missing or
/// mis-shaped tensors (a callback's state included: e.g. an online probe resuming from a
/// checkpoint written without it), and — unless `despite_changes` — hyper-parameters other
/// than the recorded ones (every difference listed, `name: checkpoint value (checkpoint) vs.
/// value (this run)`) or none recorded (a checkpoint of an older nidl).
pub fn load_checkpoint(
    path: &Path,
    est: &mut dyn Estimator,
    callbacks: &mut [Box<dyn Callback>],
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
    let wrap = |e: Error| Error::format(path, e.to_string());
    let (callback_state, state): (Vec<_>, Vec<_>) = ck
        .f32_state("")
        .map_err(wrap)?
        .into_iter()
        .partition(|(n, _)| n.starts_with(CALLBACK_PREFIX));
    let callback_state: Vec<(String, Tensor<f32>)> = callback_state
        .into_iter()
        .map(|(n, t)| (n[CALLBACK_PREFIX.len()..].to_string(), t))
        .collect();
    for cb in callbacks.iter_mut() {
        cb.load_state(&callback_state).map_err(wrap)?;
    }
    est.load_state(&state).map_err(wrap)?;
    est.load_extra_metadata(&ck.metadata).map_err(wrap)?;
    let monitors = ck
        .metadata
        .iter()
        .filter(|(k, _)| k.starts_with("monitor."))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(Resumed {
        epoch: epoch + 1,
        global_step: step,
        changes,
        monitors,
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
