//! Callbacks run by the [`Trainer`](super::Trainer), and nidl's probing callbacks.
//!
//! A probing callback embeds a labelled train set and test set with the estimator's encoder
//! (no head, evaluation mode, nothing recorded: [`Graph::inference`]), fits a probe on the train
//! embeddings and reports its test metrics, which the trainer logs at the current global step:
//!
//! | callback | tags |
//! |---|---|
//! | [`ClassificationProbing`] | `<Probe>/accuracy`, `/balanced_accuracy`, `/precision_macro`, `/recall_macro`, `/f1_macro`, `/f1_weighted` |
//! | [`RegressionProbing`] | `<Probe>/MAE`, `/MedAE`, `/RMSE`, `/MSE`, `/R2`, `/PCC`, `/EVar` |
//! | [`MultitaskProbing`] | `task{j}/<metric>`, one task per target column |
//!
//! Embedding is parallel over fixed-size batches (each batch's rows are written into its own
//! chunk of one output buffer, so the result does not depend on the thread count), and the
//! buffers are kept between epochs.

use super::estimator::Estimator;
use super::trainer::BatchSource;
use crate::autograd::Graph;
use crate::datasets::loader::Dataset;
use crate::error::{Error, Result};
use crate::metrics::{ClassificationReport, RegressionReport};
use crate::probe::{labels_from_f64, Classifier, MultiTask, Probe};
use crate::tensor::Tensor;
use rayon::prelude::*;
use std::sync::Arc;

/// Where the trainer is when it calls a callback.
#[derive(Clone, Copy, Debug)]
pub struct CallbackContext {
    /// The epoch (0-based) that just ended, or the first one before training starts.
    pub epoch: usize,
    /// Optimizer steps taken so far.
    pub global_step: u64,
    /// The run's number of epochs.
    pub max_epochs: usize,
}

/// Something run at fixed points of training; returns `(tag, value)` metrics to log.
pub trait Callback: Send {
    /// Before the first epoch (also after a resume).
    fn on_train_start(
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
}

/// The first `n` samples of a data set (for small probing subsets).
pub struct Head<D> {
    inner: Arc<D>,
    n: usize,
}

impl<D: Dataset> Head<D> {
    /// The first `min(n, len)` samples of `inner`.
    pub fn new(inner: Arc<D>, n: usize) -> Self {
        let n = n.min(inner.len());
        Head { inner, n }
    }
}

impl<D: Dataset> Dataset for Head<D> {
    type Sample = D::Sample;
    type Label = D::Label;
    fn len(&self) -> usize {
        self.n
    }
    fn get(&self, index: usize) -> Result<(D::Sample, D::Label)> {
        if index >= self.n {
            return Err(Error::invalid(
                "Head::get",
                format!("index {index} out of range for {} samples", self.n),
            ));
        }
        self.inner.get(index)
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

/// Embeds every sample of `src` (epoch 0 order; a probing loader does not shuffle) with `est`'s
/// encoder on inference graphs, in parallel over batches, into `out` (buffers reused).
pub fn embed_set(est: &dyn Estimator, src: &dyn BatchSource, out: &mut Embedded) -> Result<()> {
    let nb = src.num_batches();
    let bs = src.batch_size();
    if nb == 0 {
        return Err(Error::invalid("embed_set", "the probing set is empty"));
    }
    // The first batch fixes the widths.
    let first = src.batch(0, 0)?;
    let mut g = Graph::inference();
    let x = g.input(first.views);
    let z = est.embed(&mut g, x)?;
    let (b0, d) = g.value(z).dims2("embed_set")?;
    let k: usize = first.labels.shape()[1..].iter().product();
    let n = src.len();
    out.x.resize(n * d, 0.0);
    out.y.resize(n * k, 0.0);
    out.n = n;
    out.d = d;
    out.k = k;
    out.x[..b0 * d].copy_from_slice(g.value(z).data());
    out.y[..b0 * k].copy_from_slice(first.labels.data());
    drop(g);
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
                let v = g.value(z).data();
                if v.len() != xc.len() || batch.labels.len() != yc.len() {
                    return Err(Error::shape(
                        "embed_set",
                        "batch embeddings filling their slot",
                        &[g.value(z).shape(), &[xc.len()]],
                    ));
                }
                xc.copy_from_slice(v);
                yc.copy_from_slice(batch.labels.data());
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

/// When a probing callback runs.
#[derive(Clone, Copy, Debug)]
struct Schedule {
    every_n_train_epochs: usize,
    on_train_start: bool,
}

impl Schedule {
    fn due(&self, epoch: usize, max_epochs: usize) -> bool {
        let every = self.every_n_train_epochs;
        every > 0 && ((epoch + 1).is_multiple_of(every) || epoch + 1 == max_epochs)
    }
}

/// Shared state of the probing callbacks: the two sets, their buffers, the schedule.
struct ProbingSets {
    train: Box<dyn BatchSource>,
    test: Box<dyn BatchSource>,
    train_emb: Embedded,
    test_emb: Embedded,
    schedule: Schedule,
}

impl ProbingSets {
    /// Empty buffers, probing after every epoch and not before training.
    fn new(train: Box<dyn BatchSource>, test: Box<dyn BatchSource>) -> Self {
        ProbingSets {
            train,
            test,
            train_emb: Embedded::default(),
            test_emb: Embedded::default(),
            schedule: Schedule {
                every_n_train_epochs: 1,
                on_train_start: false,
            },
        }
    }

    fn embed(&mut self, est: &dyn Estimator) -> Result<()> {
        embed_set(est, self.train.as_ref(), &mut self.train_emb)?;
        embed_set(est, self.test.as_ref(), &mut self.test_emb)
    }
}

/// Runs `probe` when `due`; no metrics otherwise.
fn probe_when(
    due: bool,
    probe: impl FnOnce() -> Result<Vec<(String, f64)>>,
) -> Result<Vec<(String, f64)>> {
    if due {
        probe()
    } else {
        Ok(Vec::new())
    }
}

/// Tags each of a report's metrics as `<name>/<metric>`.
fn prefixed_metrics(name: &str, metrics: &[(&'static str, f64)]) -> Vec<(String, f64)> {
    metrics
        .iter()
        .map(|(m, v)| (format!("{name}/{m}"), *v))
        .collect()
}

/// nidl's `ClassificationProbingCallback`: fits a classifier on the train embeddings and logs its
/// test metrics as `<name>/<metric>`.
pub struct ClassificationProbing<P> {
    sets: ProbingSets,
    probe: P,
    name: String,
}

impl<P: Classifier + Send> ClassificationProbing<P> {
    /// Probing every epoch, named after the probe's type (`LogisticRegression`). The sets'
    /// labels must be integer classes.
    pub fn new(train: Box<dyn BatchSource>, test: Box<dyn BatchSource>, probe: P) -> Self {
        ClassificationProbing {
            sets: ProbingSets::new(train, test),
            probe,
            name: short_type_name::<P>(),
        }
    }

    /// Probe after every `n`-th epoch (and the last); 0 never.
    pub fn every_n_train_epochs(mut self, n: usize) -> Self {
        self.sets.schedule.every_n_train_epochs = n;
        self
    }

    /// Also probe before training starts.
    pub fn on_train_start(mut self, on: bool) -> Self {
        self.sets.schedule.on_train_start = on;
        self
    }

    /// The tag prefix (default: the probe's type name).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    fn probe(&mut self, est: &dyn Estimator) -> Result<Vec<(String, f64)>> {
        self.sets.embed(est)?;
        let (tr, te) = (&self.sets.train_emb, &self.sets.test_emb);
        let ytr = labels_from_f64("ClassificationProbing", &tr.column(0))?;
        let yte = labels_from_f64("ClassificationProbing", &te.column(0))?;
        self.probe.fit(&tr.features()?, &ytr)?;
        let pred = self.probe.predict(&te.features()?)?;
        let r = ClassificationReport::new(&yte, &pred)?;
        Ok(prefixed_metrics(&self.name, &r.metrics()))
    }
}

impl<P: Classifier + Send> Callback for ClassificationProbing<P> {
    fn on_train_start(
        &mut self,
        _ctx: &CallbackContext,
        est: &dyn Estimator,
    ) -> Result<Vec<(String, f64)>> {
        probe_when(self.sets.schedule.on_train_start, || self.probe(est))
    }

    fn on_train_epoch_end(
        &mut self,
        ctx: &CallbackContext,
        est: &dyn Estimator,
    ) -> Result<Vec<(String, f64)>> {
        probe_when(self.sets.schedule.due(ctx.epoch, ctx.max_epochs), || {
            self.probe(est)
        })
    }
}

/// nidl's `RegressionProbingCallback`: fits a regressor on the train embeddings (first label
/// column) and logs its test metrics as `<name>/<metric>`.
pub struct RegressionProbing<P> {
    sets: ProbingSets,
    probe: P,
    name: String,
}

impl<P: Probe<Targets = Tensor<f64>, Output = Tensor<f64>> + Send> RegressionProbing<P> {
    /// Probing every epoch, named after the probe's type (`Ridge`).
    pub fn new(train: Box<dyn BatchSource>, test: Box<dyn BatchSource>, probe: P) -> Self {
        RegressionProbing {
            sets: ProbingSets::new(train, test),
            probe,
            name: short_type_name::<P>(),
        }
    }

    /// Probe after every `n`-th epoch (and the last); 0 never.
    pub fn every_n_train_epochs(mut self, n: usize) -> Self {
        self.sets.schedule.every_n_train_epochs = n;
        self
    }

    fn probe(&mut self, est: &dyn Estimator) -> Result<Vec<(String, f64)>> {
        self.sets.embed(est)?;
        let (tr, te) = (&self.sets.train_emb, &self.sets.test_emb);
        let ytr = Tensor::from_vec(tr.column(0), &[tr.n])?;
        self.probe.fit(&tr.features()?, &ytr)?;
        let pred = self.probe.predict(&te.features()?)?;
        let r = RegressionReport::new(&te.column(0), pred.data())?;
        Ok(prefixed_metrics(&self.name, &r.metrics()))
    }
}

impl<P: Probe<Targets = Tensor<f64>, Output = Tensor<f64>> + Send> Callback
    for RegressionProbing<P>
{
    fn on_train_epoch_end(
        &mut self,
        ctx: &CallbackContext,
        est: &dyn Estimator,
    ) -> Result<Vec<(String, f64)>> {
        probe_when(self.sets.schedule.due(ctx.epoch, ctx.max_epochs), || {
            self.probe(est)
        })
    }
}

/// nidl's `MultitaskModelProbing`: one probe per label column, logged as `task{j}/<metric>`.
pub struct MultitaskProbing {
    sets: ProbingSets,
    probes: MultiTask,
}

impl MultitaskProbing {
    /// Probing every epoch; the sets' labels must have one column per probe.
    pub fn new(train: Box<dyn BatchSource>, test: Box<dyn BatchSource>, probes: MultiTask) -> Self {
        MultitaskProbing {
            sets: ProbingSets::new(train, test),
            probes,
        }
    }

    /// Probe after every `n`-th epoch (and the last); 0 never.
    pub fn every_n_train_epochs(mut self, n: usize) -> Self {
        self.sets.schedule.every_n_train_epochs = n;
        self
    }

    fn probe(&mut self, est: &dyn Estimator) -> Result<Vec<(String, f64)>> {
        self.sets.embed(est)?;
        let (tr, te) = (&self.sets.train_emb, &self.sets.test_emb);
        let ytr = Tensor::from_vec(tr.y.clone(), &[tr.n, tr.k])?;
        let yte = Tensor::from_vec(te.y.clone(), &[te.n, te.k])?;
        self.probes.fit(&tr.features()?, &ytr)?;
        let reports = self.probes.score(&te.features()?, &yte)?;
        Ok(MultiTask::named_metrics(&reports))
    }
}

impl Callback for MultitaskProbing {
    fn on_train_epoch_end(
        &mut self,
        ctx: &CallbackContext,
        est: &dyn Estimator,
    ) -> Result<Vec<(String, f64)>> {
        probe_when(self.sets.schedule.due(ctx.epoch, ctx.max_epochs), || {
            self.probe(est)
        })
    }
}
