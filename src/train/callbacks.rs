//! Callbacks run by the [`Trainer`](super::Trainer), and nidl's probing callbacks.
//!
//! A probing callback embeds a labelled train set and test set with the estimator's encoder
//! (no head, evaluation mode, nothing recorded: [`Graph::inference`]), fits a probe on the train
//! embeddings and reports its test metrics, which the trainer logs at the current global step:
//!
//! | callback | tags |
//! |---|---|
//! | [`ClassificationProbing`] | `<Probe>/accuracy`, `/balanced_accuracy`, `/f1_macro`, `/precision_macro`, `/recall_macro`, `/f1_weighted` |
//! | [`RegressionProbing`] | `<Probe>/MAE`, `/MedAE`, `/RMSE`, `/MSE`, `/R2`, `/PCC`, `/EVar`; with `k > 1` label columns `<Probe>/regressor <i>/<metric>` per column, then `<Probe>/average/<metric>` |
//! | [`MultitaskProbing`] | `task{j}/<metric>` (or the given task names), one task per target column |
//!
//! With a score selection ([`Probing::scored`], nidl 0.0.2's `scoring` and `prefix_score`) a
//! callback logs `<prefix>test_score` or `<prefix>test_<name>` instead (a multi-task callback
//! `task{j}/<prefix>test_<name>`: [`SelectedScores`]); cross-validated probing is in
//! [`cv_probing`](super::cv_probing).
//!
//! `<Probe>` is the probe's type name (`LogisticRegression`, `KNeighborsClassifier`, ...) unless
//! renamed, so several probes log side by side. When a callback probes is its
//! [`ProbeSchedule`]: after every n-th training epoch (nidl 0.0.1's default, every epoch), and
//! as options after the last training epoch, after every n-th validation epoch, and once before
//! training (at the run's first global step).
//!
//! Embedding is parallel over fixed-size batches (each batch's rows are written into its own
//! chunk of one output buffer, so the result does not depend on the thread count), and the
//! buffers are kept between epochs. Callbacks built on one [`ProbingSets`] share the embeddings:
//! the sets are embedded once per model state however many probes use them.

use super::estimator::Estimator;
use super::preflight;
use super::selected_scores::SelectedScores;
use crate::autograd::Graph;
use crate::datasets::loader::{Batch, BatchSource};
use crate::error::{Error, Result, RunInput};
use crate::metrics::{ClassificationReport, MultiOutputReport, ProbeKind, ScoreSelection};
use crate::probe::{labels_from_f64, Classifier, MultiTask, Probe, TaskReport};
use crate::tensor::Tensor;
use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Receives a callback's progress while it runs (probing: the batches embedded, the probe
/// fits), for display only: nothing it receives changes the run. It may be called from several
/// threads at once (embedding is parallel); every method does nothing by default.
pub trait Progress: Sync {
    /// `done` of `total` steps of `what` (e.g. `embedding probing train set`, in batches)
    /// are done; a `total` of 0 means one step of unknown length (`fitting LogisticRegression`).
    fn update(&self, _what: &str, _done: usize, _total: usize) {}
}

/// A [`Progress`] that shows nothing.
pub struct NoProgress;
impl Progress for NoProgress {}

/// What [`ProbingSets`] call the embedding of their train and test sets in [`Progress`].
const EMBED_TRAIN: &str = "embedding probing train set";
/// See [`EMBED_TRAIN`].
const EMBED_TEST: &str = "embedding probing test set";

/// Where the trainer is when it calls a callback.
#[derive(Clone, Copy)]
pub struct CallbackContext<'a> {
    /// The epoch (0-based) that just ended, or the first one before training starts.
    pub epoch: usize,
    /// Optimizer steps taken so far.
    pub global_step: u64,
    /// The run's number of epochs.
    pub max_epochs: usize,
    /// Identifies the [`Trainer::fit`](super::Trainer::fit) call, unique in the process: with
    /// `global_step` it names one state of the model (what cached embeddings are keyed on).
    pub fit_id: u64,
    /// Where to report progress ([`NoProgress`] to report none; the trainer passes its
    /// [`Reporter::progress`](super::Reporter::progress)).
    pub progress: &'a dyn Progress,
}

impl CallbackContext<'_> {
    /// The same context, reporting progress to `progress`.
    pub fn reporting_to<'b>(&self, progress: &'b dyn Progress) -> CallbackContext<'b> {
        CallbackContext {
            epoch: self.epoch,
            global_step: self.global_step,
            max_epochs: self.max_epochs,
            fit_id: self.fit_id,
            progress,
        }
    }
}

impl std::fmt::Debug for CallbackContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackContext")
            .field("epoch", &self.epoch)
            .field("global_step", &self.global_step)
            .field("max_epochs", &self.max_epochs)
            .field("fit_id", &self.fit_id)
            .finish_non_exhaustive()
    }
}

/// Something run at fixed points of training; returns `(tag, value)` metrics to log.
pub trait Callback: Send {
    /// Checks the callback's own inputs before anything is written or trained (e.g. that its
    /// sets have samples the encoder takes); an error stops the run before it starts.
    fn check(&mut self, _est: &dyn Estimator) -> Result<()> {
        Ok(())
    }

    /// Before the first epoch (also after a resume).
    fn on_train_start(
        &mut self,
        _ctx: &CallbackContext,
        _est: &dyn Estimator,
    ) -> Result<Vec<(String, f64)>> {
        Ok(Vec::new())
    }

    /// After each validation epoch (validation runs after every training epoch when there is
    /// validation data), before [`on_train_epoch_end`](Callback::on_train_epoch_end), as in
    /// Lightning.
    fn on_validation_epoch_end(
        &mut self,
        _ctx: &CallbackContext,
        _est: &dyn Estimator,
    ) -> Result<Vec<(String, f64)>> {
        Ok(Vec::new())
    }

    /// After each training epoch (and its validation).
    fn on_train_epoch_end(
        &mut self,
        ctx: &CallbackContext,
        est: &dyn Estimator,
    ) -> Result<Vec<(String, f64)>>;

    /// Whether the callback learns from the training batches
    /// ([`on_train_batch`](Callback::on_train_batch)): the trainer reads the estimator's
    /// [`train_features`](Estimator::train_features) back only when one does (default: no).
    fn wants_train_batches(&self) -> bool {
        false
    }

    /// At each training step, after the loss and before the backward pass and the optimizer
    /// step, for a callback that [wants](Callback::wants_train_batches) it: `features`, a host
    /// copy of the encoder output of the step's first view
    /// ([`Estimator::train_features`], `[B, d]`, detached: nothing done with it reaches the
    /// model), and the batch's `labels` (`[B, ..]`). `ctx.global_step` counts the steps before
    /// this one.
    fn on_train_batch(
        &mut self,
        _ctx: &CallbackContext,
        _features: &Tensor<f32>,
        _labels: &Tensor<f64>,
    ) -> Result<()> {
        Ok(())
    }

    /// State the callback learns during training, saved in every checkpoint (names unique to
    /// the callback, e.g. `online_probe.weight`; none by default).
    fn state(&self) -> Vec<(String, Tensor<f32>)> {
        Vec::new()
    }

    /// Restores [`state`](Callback::state) on resume from the callbacks' entries of the
    /// checkpoint (every callback's); errors when the callback's own are missing or misshaped.
    fn load_state(&mut self, _state: &[(String, Tensor<f32>)]) -> Result<()> {
        Ok(())
    }
}

/// Embeddings and labels of a labelled set, kept between epochs.
#[derive(Default)]
pub struct Embedded {
    /// `[n·d]` embeddings, row-major.
    pub x: Vec<f32>,
    /// `[n·k]` labels.
    pub y: Vec<f64>,
    /// Rows.
    pub n: usize,
    /// Embedding width.
    pub d: usize,
    /// Label columns (1 for a scalar label).
    pub k: usize,
}

impl Embedded {
    /// The embeddings as a `[n, d]` tensor (a copy).
    pub fn features(&self) -> Result<Tensor<f32>> {
        Tensor::from_vec(self.x.clone(), &[self.n, self.d])
    }

    /// Label column `j`.
    pub fn column(&self, j: usize) -> Vec<f64> {
        self.y
            .iter()
            .skip(j)
            .step_by(self.k.max(1))
            .copied()
            .collect()
    }
}

/// An [`Error::RunInput`] naming the set (`what`, e.g. `the probing train set`) unless its
/// `batch` holds one view per sample, as probing needs.
fn one_view(what: &str, src: &dyn BatchSource, batch: &Batch<f32>) -> Result<()> {
    if batch.n_views == 1 {
        return Ok(());
    }
    Err(Error::run_input(
        RunInput::Data,
        format!(
            "{} gives {} views per sample, but probing sets need one view: build its loader \
             with a plain transform (no MultiViews)",
            preflight::describe(what, src),
            batch.n_views
        ),
    ))
}

/// Embeds every sample of `src` (epoch 0 order; a probing loader does not shuffle) with `est`'s
/// encoder on inference graphs, in parallel over batches, into `out` (buffers reused).
///
/// Reports each batch embedded to `progress` as `what` (done / batches).
///
/// Errors: an empty set, a set of several views per sample ([`Error::RunInput`]), and any error
/// of the encoder.
pub fn embed_set(
    est: &dyn Estimator,
    src: &dyn BatchSource,
    out: &mut Embedded,
    what: &str,
    progress: &dyn Progress,
) -> Result<()> {
    let nb = src.num_batches();
    let bs = src.batch_size();
    if nb == 0 {
        return Err(Error::invalid("embed_set", "the probing set is empty"));
    }
    // The first batch fixes the widths.
    let first = src.batch(0, 0)?;
    one_view("the probing set", src, &first)?;
    let k = first.label_columns();
    let mut g = Graph::inference();
    let x = g.input(first.views);
    let z = est.embed(&mut g, x)?;
    let (b0, d) = g.value(z).dims2("embed_set")?;
    let n = src.len();
    out.x.resize(n * d, 0.0);
    out.y.resize(n * k, 0.0);
    out.n = n;
    out.d = d;
    out.k = k;
    out.x[..b0 * d].copy_from_slice(&g.value(z).host_values()?);
    out.y[..b0 * k].copy_from_slice(first.labels.data()?);
    drop(g);
    progress.update(what, 1, nb);
    let done = AtomicUsize::new(1);
    if nb > 1 {
        out.x[bs * d..]
            .par_chunks_mut(bs * d)
            .zip(out.y[bs * k..].par_chunks_mut(bs * k))
            .enumerate()
            .try_for_each_init(Graph::inference, |g, (i, (xc, yc))| -> Result<()> {
                let batch = src.batch(0, i + 1)?;
                g.clear();
                let x = g.input(batch.views);
                let z = est.embed(g, x)?;
                let v = g.value(z).host_values()?;
                if v.len() != xc.len() || batch.labels.len() != yc.len() {
                    return Err(Error::shape(
                        "embed_set",
                        "batch embeddings filling their slot",
                        &[g.value(z).shape(), &[xc.len()]],
                    ));
                }
                xc.copy_from_slice(&v);
                yc.copy_from_slice(batch.labels.data()?);
                progress.update(what, done.fetch_add(1, Ordering::Relaxed) + 1, nb);
                Ok(())
            })?;
    }
    Ok(())
}

/// The probe's type name without its path (`LogisticRegression`).
fn short_type_name<P>() -> String {
    let full = std::any::type_name::<P>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base).to_string()
}

/// When a probing callback probes: nidl 0.0.1's `ModelProbing` arguments (`None` there is 0
/// here) plus a probe after the last training epoch and one before training starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeSchedule {
    /// After training epoch `e` (counted from 1) when `e % n == 0`, as nidl 0.0.1; 0: never
    /// (default 1).
    pub every_n_train_epochs: usize,
    /// Also after the last training epoch, whatever `every_n_train_epochs` (default off).
    pub after_last_epoch: bool,
    /// After every n-th validation epoch (Lightning's count: validation runs after every
    /// training epoch, so epochs `n−1, 2n−1, ...`, 0-based); 0: never (default). nidl 0.0.1's
    /// counter never advances (it probes after every validation); this one counts.
    pub every_n_val_epochs: usize,
    /// Once before the first training step (logged at the starting global step, 0 for a fresh
    /// run); default off.
    pub on_train_start: bool,
}

impl Default for ProbeSchedule {
    fn default() -> Self {
        ProbeSchedule {
            every_n_train_epochs: 1,
            after_last_epoch: false,
            every_n_val_epochs: 0,
            on_train_start: false,
        }
    }
}

impl ProbeSchedule {
    /// Whether to probe after training epoch `epoch` (0-based) of `max_epochs`.
    pub fn after_train_epoch(&self, epoch: usize, max_epochs: usize) -> bool {
        let every = self.every_n_train_epochs;
        (every > 0 && (epoch + 1).is_multiple_of(every))
            || (self.after_last_epoch && epoch + 1 == max_epochs)
    }

    /// Whether to probe after the validation of epoch `epoch` (0-based).
    pub fn after_val_epoch(&self, epoch: usize) -> bool {
        let every = self.every_n_val_epochs;
        every > 0 && (epoch + 1).is_multiple_of(every)
    }
}

/// The two sets and their embeddings, behind [`ProbingSets`].
struct SetsInner {
    train: Box<dyn BatchSource>,
    test: Box<dyn BatchSource>,
    train_emb: Embedded,
    test_emb: Embedded,
    /// `(fit_id, global_step)` the embeddings belong to.
    embedded_at: Option<(u64, u64)>,
    /// `(fit_id, global_step)` the test embeddings belong to (also when only they were
    /// embedded, [`ProbingSets::with_test_embeddings`]).
    test_embedded_at: Option<(u64, u64)>,
    embed_count: usize,
}

/// The labelled train and test sets of probing callbacks, with their embeddings.
///
/// A cheap handle (`Clone` shares it): callbacks built on the same `ProbingSets`
/// ([`ClassificationProbing::with_sets`], ...) embed the sets once per model state — one fit
/// call at one global step — and each fit its probe on the shared embeddings.
#[derive(Clone)]
pub struct ProbingSets {
    inner: Arc<Mutex<SetsInner>>,
}

impl ProbingSets {
    /// The sets `train` (the probe is fitted on it) and `test` (scored on it), read in epoch 0
    /// order; their labels are the probes' targets.
    pub fn new(train: Box<dyn BatchSource>, test: Box<dyn BatchSource>) -> Self {
        ProbingSets {
            inner: Arc::new(Mutex::new(SetsInner {
                train,
                test,
                train_emb: Embedded::default(),
                test_emb: Embedded::default(),
                embedded_at: None,
                test_embedded_at: None,
                embed_count: 0,
            })),
        }
    }

    /// Checks that both sets have samples and that `est`'s encoder takes them (see
    /// [`preflight::first_batch`]); errors name the set.
    ///
    /// Returns the train set's label columns, for the tasks to check; a test set of other columns
    /// is an [`Error::RunInput`] naming both sets (a probe is scored on the columns it predicts).
    pub fn check(&self, est: &dyn Estimator) -> Result<(String, usize)> {
        let s = self.lock();
        let columns_of = |what: &str, src: &dyn BatchSource| -> Result<(String, usize)> {
            let batch = preflight::first_batch(est, what, src, 0)?;
            one_view(what, src, &batch)?;
            Ok((preflight::describe(what, src), batch.label_columns()))
        };
        let (train, columns) = columns_of("the probing train set", s.train.as_ref())?;
        let (test, test_columns) = columns_of("the probing test set", s.test.as_ref())?;
        if columns != test_columns {
            return Err(Error::run_input(
                RunInput::Data,
                format!(
                    "{train} has {columns} label columns but {test} has {test_columns}: a probe \
                     is scored on the columns it is fitted on"
                ),
            ));
        }
        Ok((train, columns))
    }

    /// The number of samples of the train set.
    pub fn train_len(&self) -> usize {
        self.lock().train.len()
    }

    /// How many times the sets have been embedded (both sets each time).
    pub fn embed_count(&self) -> usize {
        self.lock().embed_count
    }

    /// A lock on the sets; a poisoned lock (a panic mid-embedding) is taken over, its
    /// embeddings being marked stale before any embedding starts.
    fn lock(&self) -> MutexGuard<'_, SetsInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the train and test embeddings of `est` in the state `ctx` names, embedding
    /// the sets first unless they already hold that state.
    fn with_embeddings<R>(
        &self,
        ctx: &CallbackContext,
        est: &dyn Estimator,
        f: impl FnOnce(&Embedded, &Embedded) -> Result<R>,
    ) -> Result<R> {
        let mut guard = self.lock();
        let s = &mut *guard;
        let key = (ctx.fit_id, ctx.global_step);
        if s.embedded_at != Some(key) {
            s.embedded_at = None;
            let p = ctx.progress;
            embed_set(est, s.train.as_ref(), &mut s.train_emb, EMBED_TRAIN, p)?;
            embed_set(est, s.test.as_ref(), &mut s.test_emb, EMBED_TEST, p)?;
            s.embedded_at = Some(key);
            s.test_embedded_at = Some(key);
            s.embed_count += 1;
        }
        f(&s.train_emb, &s.test_emb)
    }

    /// Runs `f` on the test embeddings of `est` in the state `ctx` names: those a probe
    /// embedded at this state when there are (no extra pass), else the test set alone is
    /// embedded (and a probe due later at this state embeds both sets again).
    pub fn with_test_embeddings<R>(
        &self,
        ctx: &CallbackContext,
        est: &dyn Estimator,
        f: impl FnOnce(&Embedded) -> Result<R>,
    ) -> Result<R> {
        let mut guard = self.lock();
        let s = &mut *guard;
        let key = (ctx.fit_id, ctx.global_step);
        if s.test_embedded_at != Some(key) {
            s.embedded_at = None;
            s.test_embedded_at = None;
            embed_set(
                est,
                s.test.as_ref(),
                &mut s.test_emb,
                EMBED_TEST,
                ctx.progress,
            )?;
            s.test_embedded_at = Some(key);
        }
        f(&s.test_emb)
    }

    /// Checks the test set's first batch goes through `est`'s encoder and holds one view per
    /// sample; returns its label columns (errors name the set).
    pub fn check_test(&self, est: &dyn Estimator) -> Result<usize> {
        let s = self.lock();
        let what = "the probing test set";
        let batch = preflight::first_batch(est, what, s.test.as_ref(), 0)?;
        one_view(what, s.test.as_ref(), &batch)?;
        Ok(batch.label_columns())
    }
}

/// What a probing callback does with the embeddings: fit a probe on the train set's, score it on
/// the test set's (one implementation per nidl callback: [`ClassificationScore`],
/// [`RegressionScore`], [`MultitaskScore`]).
pub trait ProbeTask: Send {
    /// Checks that a probing set of `columns` label columns (`what` names it) suits the task:
    /// an [`Error::RunInput`] saying why not (by default any number does).
    fn check_label_columns(&self, _what: &str, _columns: usize) -> Result<()> {
        Ok(())
    }

    /// Checks that a probing train set of `n` samples (`what` names it) suits the task: an
    /// error saying why not (by default any size does).
    fn check_train_len(&self, _what: &str, _n: usize) -> Result<()> {
        Ok(())
    }

    /// What the task fits, as progress shows it (`LogisticRegression`); by default `the probe`.
    fn label(&self) -> String {
        "the probe".into()
    }

    /// Logs the scores of `sel` instead of the default metrics (nidl 0.0.2's `scoring` and
    /// `prefix_score`, [`SelectedScores`]).
    ///
    /// Errors: a score not defined for the task's probe, naming both; a task that takes no
    /// selection (the default).
    fn select_scores(&mut self, sel: &ScoreSelection) -> Result<()> {
        let _ = sel;
        Err(Error::invalid(
            "scoring",
            format!("{} takes no scoring", self.label()),
        ))
    }

    /// Fits on `train`, scores on `test`; returns the `(tag, value)` metrics to log. An
    /// iterative probe reports each solver iteration to `observe(iteration, max_iter)`
    /// ([`Probe::fit_observed`]), which only watches.
    fn fit_score(
        &mut self,
        train: &Embedded,
        test: &Embedded,
        observe: &dyn Fn(usize, usize),
    ) -> Result<Vec<(String, f64)>>;
}

/// A probing callback: a [`ProbeTask`] run on [`ProbingSets`] when its [`ProbeSchedule`] says.
///
/// Probing twice at one model state (e.g. a validation-epoch and a training-epoch probe due
/// after the same epoch) would log the same numbers twice: the second is skipped.
pub struct Probing<Q> {
    sets: ProbingSets,
    schedule: ProbeSchedule,
    task: Q,
    /// `(fit_id, global_step)` of the last probe.
    last_probed: Option<(u64, u64)>,
}

impl<Q: ProbeTask> Probing<Q> {
    /// `task` on `sets`, with the default schedule (after every training epoch).
    pub fn from_task(sets: ProbingSets, task: Q) -> Self {
        Probing {
            sets,
            schedule: ProbeSchedule::default(),
            task,
            last_probed: None,
        }
    }

    /// Probe after every `n`-th training epoch; 0 never.
    pub fn every_n_train_epochs(mut self, n: usize) -> Self {
        self.schedule.every_n_train_epochs = n;
        self
    }

    /// Also probe after the last training epoch.
    pub fn after_last_epoch(mut self, on: bool) -> Self {
        self.schedule.after_last_epoch = on;
        self
    }

    /// Probe after every `n`-th validation epoch; 0 never (the default).
    pub fn every_n_val_epochs(mut self, n: usize) -> Self {
        self.schedule.every_n_val_epochs = n;
        self
    }

    /// Also probe before training starts.
    pub fn on_train_start(mut self, on: bool) -> Self {
        self.schedule.on_train_start = on;
        self
    }

    /// Log the scores of `sel` instead of the task's default metrics
    /// ([`ProbeTask::select_scores`]).
    ///
    /// Errors: a score not defined for the probe, naming both.
    pub fn scored(mut self, sel: &ScoreSelection) -> Result<Self> {
        self.task.select_scores(sel)?;
        Ok(self)
    }

    /// The schedule.
    pub fn schedule(&self) -> &ProbeSchedule {
        &self.schedule
    }

    /// The task (its probe, its names).
    pub fn task(&self) -> &Q {
        &self.task
    }

    /// Fits and scores when `due` and not yet done at this model state; no metrics otherwise.
    fn probe_if(
        &mut self,
        due: bool,
        ctx: &CallbackContext,
        est: &dyn Estimator,
    ) -> Result<Vec<(String, f64)>> {
        let key = (ctx.fit_id, ctx.global_step);
        if !due || self.last_probed == Some(key) {
            return Ok(Vec::new());
        }
        let task = &mut self.task;
        let metrics = self.sets.with_embeddings(ctx, est, |tr, te| {
            // The stage starts of unknown length; an iterative probe then shows
            // `iteration/max_iter`.
            let what = format!("fitting {}", task.label());
            ctx.progress.update(&what, 0, 0);
            task.fit_score(tr, te, &|done, total| {
                ctx.progress.update(&what, done, total)
            })
        })?;
        self.last_probed = Some(key);
        Ok(metrics)
    }
}

impl<Q: ProbeTask> Callback for Probing<Q> {
    fn check(&mut self, est: &dyn Estimator) -> Result<()> {
        let (what, columns) = self.sets.check(est)?;
        self.task.check_label_columns(&what, columns)?;
        self.task.check_train_len(&what, self.sets.train_len())
    }

    fn on_train_start(
        &mut self,
        ctx: &CallbackContext,
        est: &dyn Estimator,
    ) -> Result<Vec<(String, f64)>> {
        self.probe_if(self.schedule.on_train_start, ctx, est)
    }

    fn on_validation_epoch_end(
        &mut self,
        ctx: &CallbackContext,
        est: &dyn Estimator,
    ) -> Result<Vec<(String, f64)>> {
        self.probe_if(self.schedule.after_val_epoch(ctx.epoch), ctx, est)
    }

    fn on_train_epoch_end(
        &mut self,
        ctx: &CallbackContext,
        est: &dyn Estimator,
    ) -> Result<Vec<(String, f64)>> {
        let due = self.schedule.after_train_epoch(ctx.epoch, ctx.max_epochs);
        self.probe_if(due, ctx, est)
    }
}

/// Tags each of a report's metrics as `<name>/<metric>`.
fn prefixed_metrics<S: AsRef<str>>(name: &str, metrics: &[(S, f64)]) -> Vec<(String, f64)> {
    metrics
        .iter()
        .map(|(m, v)| (format!("{name}/{}", m.as_ref()), *v))
        .collect()
}

/// nidl's `ClassificationProbingCallback` task: a classifier fitted on the train embeddings (one
/// label column of integer classes), its test metrics logged as `<name>/<metric>`.
pub struct ClassificationScore<P> {
    /// The classifier.
    pub probe: P,
    /// The tag prefix.
    pub name: String,
    /// The scores logged instead of the default metrics (none: nidl 0.0.1's tags).
    pub scores: Option<SelectedScores>,
}

impl<P: Classifier + Send> ProbeTask for ClassificationScore<P> {
    fn label(&self) -> String {
        self.name.clone()
    }

    fn select_scores(&mut self, sel: &ScoreSelection) -> Result<()> {
        self.scores = Some(SelectedScores::new(sel, &self.name, ProbeKind::Classifier)?);
        Ok(())
    }

    /// One label column: a classifier predicts one (nidl's scikit-learn classifiers refuse a
    /// 2-D `y`).
    fn check_label_columns(&self, what: &str, columns: usize) -> Result<()> {
        if columns == 1 {
            return Ok(());
        }
        Err(Error::run_input(
            RunInput::Data,
            format!(
                "{}: {what} has {columns} label columns, but a classification probe predicts \
                 one (as scikit-learn's classifiers, which refuse a 2-D y): give its sets one \
                 label column, or probe each column with MultitaskProbing",
                self.name
            ),
        ))
    }

    /// Errors: sets of several label columns ([`Error::RunInput`]), labels that are not
    /// integer classes, and those of the probe.
    fn fit_score(
        &mut self,
        tr: &Embedded,
        te: &Embedded,
        observe: &dyn Fn(usize, usize),
    ) -> Result<Vec<(String, f64)>> {
        self.check_label_columns("the probing train set", tr.k)?;
        self.check_label_columns("the probing test set", te.k)?;
        let ytr = labels_from_f64("ClassificationProbing", &tr.column(0))?;
        let yte = labels_from_f64("ClassificationProbing", &te.column(0))?;
        self.probe.fit_observed(&tr.features()?, &ytr, observe)?;
        let pred = self.probe.predict(&te.features()?)?;
        let r = ClassificationReport::new(&yte, &pred)?;
        match &self.scores {
            Some(s) => s.tags("", &TaskReport::Classification(r)),
            None => Ok(prefixed_metrics(&self.name, &r.metrics())),
        }
    }
}

/// nidl's `ClassificationProbingCallback`: fits a classifier on the train embeddings and logs its
/// test metrics as `<name>/<metric>`.
pub type ClassificationProbing<P> = Probing<ClassificationScore<P>>;

impl<P: Classifier + Send> Probing<ClassificationScore<P>> {
    /// Probing every epoch, named after the probe's type (`LogisticRegression`). The sets'
    /// labels must be integer classes.
    pub fn new(train: Box<dyn BatchSource>, test: Box<dyn BatchSource>, probe: P) -> Self {
        Self::with_sets(ProbingSets::new(train, test), probe)
    }

    /// Probing on shared `sets` (see [`ProbingSets`]).
    pub fn with_sets(sets: ProbingSets, probe: P) -> Self {
        Probing::from_task(
            sets,
            ClassificationScore {
                probe,
                name: short_type_name::<P>(),
                scores: None,
            },
        )
    }

    /// The tag prefix (default: the probe's type name).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.task.name = name.into();
        self
    }
}

/// nidl's `RegressionProbingCallback` task: a regressor fitted on the train embeddings and every
/// label column at once (multi-output when the sets carry `k > 1` columns), its test metrics
/// logged as nidl's `regression_report` names them ([`MultiOutputReport::metrics`]):
/// `<name>/<metric>` for one column; `<name>/regressor <i>/<metric>` for each column `i`, then
/// `<name>/average/<metric>` (the mean of each metric over the columns) for several.
pub struct RegressionScore<P> {
    /// The regressor.
    pub probe: P,
    /// The tag prefix.
    pub name: String,
    /// The scores logged instead of the default metrics (none: nidl 0.0.1's tags); with
    /// several label columns, each score is the mean of the columns' (scikit-learn's
    /// `multioutput="uniform_average"`).
    pub scores: Option<SelectedScores>,
}

impl<P: Probe<Targets = Tensor<f64>, Output = Tensor<f64>> + Send> ProbeTask
    for RegressionScore<P>
{
    fn label(&self) -> String {
        self.name.clone()
    }

    fn select_scores(&mut self, sel: &ScoreSelection) -> Result<()> {
        self.scores = Some(SelectedScores::new(sel, &self.name, ProbeKind::Regressor)?);
        Ok(())
    }

    /// Errors: train and test sets of different label columns ([`Error::Shape`]), and those of
    /// the probe and of [`MultiOutputReport::new`].
    fn fit_score(
        &mut self,
        tr: &Embedded,
        te: &Embedded,
        observe: &dyn Fn(usize, usize),
    ) -> Result<Vec<(String, f64)>> {
        if tr.k != te.k {
            return Err(Error::shape(
                "RegressionProbing",
                "train and test labels with the same columns",
                &[&[tr.n, tr.k], &[te.n, te.k]],
            ));
        }
        let shape = |n: usize| if tr.k == 1 { vec![n] } else { vec![n, tr.k] };
        let ytr = Tensor::from_vec(tr.y.clone(), &shape(tr.n))?;
        self.probe.fit_observed(&tr.features()?, &ytr, observe)?;
        let pred = self.probe.predict(&te.features()?)?;
        let r = MultiOutputReport::new(&te.y, pred.data()?, te.k)?;
        match &self.scores {
            Some(s) => s.tags("", &TaskReport::Regression(r.average())),
            None => Ok(prefixed_metrics(&self.name, &r.metrics())),
        }
    }
}

/// nidl's `RegressionProbingCallback`: fits a regressor on the train embeddings (every label
/// column) and logs its test metrics as `<name>/<metric>`, or per column and averaged for
/// several columns ([`RegressionScore`]).
pub type RegressionProbing<P> = Probing<RegressionScore<P>>;

impl<P: Probe<Targets = Tensor<f64>, Output = Tensor<f64>> + Send> Probing<RegressionScore<P>> {
    /// Probing every epoch, named after the probe's type (`Ridge`).
    pub fn new(train: Box<dyn BatchSource>, test: Box<dyn BatchSource>, probe: P) -> Self {
        Self::with_sets(ProbingSets::new(train, test), probe)
    }

    /// Probing on shared `sets` (see [`ProbingSets`]).
    pub fn with_sets(sets: ProbingSets, probe: P) -> Self {
        Probing::from_task(
            sets,
            RegressionScore {
                probe,
                name: short_type_name::<P>(),
                scores: None,
            },
        )
    }

    /// The tag prefix (default: the probe's type name).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.task.name = name.into();
        self
    }
}

/// nidl's `MultitaskModelProbing` task: one probe per label column, task `j`'s metrics logged
/// as `<names[j]>/<metric>`.
pub struct MultitaskScore {
    /// The probes, one per label column.
    pub probes: MultiTask,
    /// The tag prefix of each task (`task{j}` by default, as nidl's `probe_names=None`).
    pub names: Vec<String>,
    /// The scores each task logs instead of its default metrics, as
    /// `<names[j]>/<prefix>test_<key>` (none: nidl 0.0.1's tags).
    pub scores: Option<Vec<SelectedScores>>,
}

impl ProbeTask for MultitaskScore {
    fn label(&self) -> String {
        self.names.join(", ")
    }

    /// One label column per task.
    fn check_label_columns(&self, what: &str, columns: usize) -> Result<()> {
        let tasks = self.probes.tasks().len();
        if columns == tasks {
            return Ok(());
        }
        Err(Error::run_input(
            RunInput::Data,
            format!(
                "the multi-task probe ({}): {what} has {columns} label columns for {tasks} \
                 tasks (one column per task)",
                self.names.join(", ")
            ),
        ))
    }

    /// Every task takes `sel` (see [`Probing::scored_tasks`] for one selection per task).
    fn select_scores(&mut self, sel: &ScoreSelection) -> Result<()> {
        let t = self.probes.tasks().len();
        self.select_task_scores(&vec![sel.clone(); t])
    }

    fn fit_score(
        &mut self,
        tr: &Embedded,
        te: &Embedded,
        observe: &dyn Fn(usize, usize),
    ) -> Result<Vec<(String, f64)>> {
        let ytr = Tensor::from_vec(tr.y.clone(), &[tr.n, tr.k])?;
        let yte = Tensor::from_vec(te.y.clone(), &[te.n, te.k])?;
        self.probes.fit_observed(&tr.features()?, &ytr, observe)?;
        let reports = self.probes.score(&te.features()?, &yte)?;
        if let Some(scores) = &self.scores {
            let mut tags = Vec::new();
            for ((r, name), s) in reports.iter().zip(&self.names).zip(scores) {
                tags.extend(s.tags(&format!("{name}/"), r)?);
            }
            return Ok(tags);
        }
        Ok(reports
            .iter()
            .zip(&self.names)
            .flat_map(|(r, name)| prefixed_metrics(name, &r.metrics()))
            .collect())
    }
}

impl MultitaskScore {
    /// Task `j` logs the scores of `sels[j]` instead of its default metrics.
    ///
    /// Errors ([`Error::InvalidArgument`]): not one selection per task; a score not defined for
    /// a task's probe, naming both.
    fn select_task_scores(&mut self, sels: &[ScoreSelection]) -> Result<()> {
        let tasks = self.probes.tasks();
        if sels.len() != tasks.len() {
            return Err(Error::invalid(
                "MultitaskProbing::scored_tasks",
                format!("{} score selections for {} tasks", sels.len(), tasks.len()),
            ));
        }
        let scores = tasks
            .iter()
            .zip(&self.names)
            .zip(sels)
            .map(|((p, name), sel)| {
                let kind = match p.is_classifier() {
                    true => ProbeKind::Classifier,
                    false => ProbeKind::Regressor,
                };
                SelectedScores::new(sel, &format!("{name} ({})", p.name()), kind)
            })
            .collect::<Result<_>>()?;
        self.scores = Some(scores);
        Ok(())
    }
}

/// nidl's `MultitaskModelProbing`: one probe per label column, logged as `task{j}/<metric>`
/// (or under the names given to [`task_names`](Probing::task_names)).
pub type MultitaskProbing = Probing<MultitaskScore>;

impl Probing<MultitaskScore> {
    /// Probing every epoch; the sets' labels must have one column per probe.
    pub fn new(train: Box<dyn BatchSource>, test: Box<dyn BatchSource>, probes: MultiTask) -> Self {
        Self::with_sets(ProbingSets::new(train, test), probes)
    }

    /// Probing on shared `sets` (see [`ProbingSets`]).
    pub fn with_sets(sets: ProbingSets, probes: MultiTask) -> Self {
        let names = (0..probes.tasks().len())
            .map(|j| format!("task{j}"))
            .collect();
        Probing::from_task(
            sets,
            MultitaskScore {
                probes,
                names,
                scores: None,
            },
        )
    }

    /// Task `j` logs the scores of `sels[j]` as `<name_j>/<prefix>test_<key>` instead of its
    /// default metrics.
    ///
    /// Errors ([`Error::InvalidArgument`]): not one selection per task; a score not defined for
    /// a task's probe, naming both.
    pub fn scored_tasks(mut self, sels: &[ScoreSelection]) -> Result<Self> {
        self.task.select_task_scores(sels)?;
        Ok(self)
    }

    /// Tag prefixes of the tasks, in column order (nidl's `probe_names`).
    ///
    /// Errors: [`Error::InvalidArgument`] unless there is one name per task.
    pub fn task_names(mut self, names: &[&str]) -> Result<Self> {
        let t = self.task.probes.tasks().len();
        if names.len() != t {
            return Err(Error::invalid(
                "MultitaskProbing::task_names",
                format!("{} names for {t} tasks", names.len()),
            ));
        }
        self.task.names = names.iter().map(|n| n.to_string()).collect();
        Ok(self)
    }
}
