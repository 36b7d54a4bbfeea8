//! The SSL geometry metrics callback: nidl 0.0.2's `MetricsCallback` with the six functions of
//! `nidl.metrics.ssl` ([`crate::metrics::ssl`]) on the validation set.
//!
//! nidl's SimCLR (and y-Aware, Barlow Twins) validation step returns `z1 = g(f(V1))` and
//! `z2 = g(f(V2))`, the projection-head outputs of the two augmented views of each validation
//! batch; `MetricsCallback` (by default `compute_per_val_step=False`) concatenates them over the
//! whole validation set and computes each metric once per validation epoch. [`SslMetrics`] does
//! the same: it projects both views of every batch of its two-view source through the encoder
//! and head ([`Estimator::project`], on inference graphs: evaluation mode, nothing recorded),
//! then logs
//!
//! | tag | value |
//! |---|---|
//! | `ssl/alignment` | [`alignment_score`](crate::metrics::ssl::alignment_score)`(z1, z2)` |
//! | `ssl/uniformity` | [`uniformity_score`](crate::metrics::ssl::uniformity_score)`(z1)` |
//! | `ssl/contrastive_accuracy` | [`contrastive_accuracy_score`](crate::metrics::ssl::contrastive_accuracy_score)`(z1, z2)` (top-1) |
//! | `ssl/procrustes_similarity` | [`procrustes_similarity`](crate::metrics::ssl::procrustes_similarity)`(z1, z2)` |
//! | `ssl/procrustes_r2` | [`procrustes_r2`](crate::metrics::ssl::procrustes_r2)`(z1, z2)` |
//! | `ssl/kruskal_similarity` | [`kruskal_similarity`](crate::metrics::ssl::kruskal_similarity)`(z1, z2)` (Euclidean) |
//!
//! with nidl's default arguments ([`SslReport`]), when its [`ProbeSchedule`] says (by default
//! after every training epoch, the same point as nidl's `every_n_val_epochs=1`).
//!
//! **Determinism.** The views of epoch `e` are the source's batches of epoch `e`: the
//! loader's per-sample streams keyed by `(seed, e, sample)` (the validation loader seeded with
//! the run's seed gives the very views of `loss/val`). Reading them draws nothing from the
//! training's streams and changes no model state, so a run logs the same losses bit for bit
//! with and without this callback. Projection is parallel over batches, each batch's rows kept
//! in its place, and the metrics are thread-count independent, so the values are too.

use super::callbacks::{Callback, CallbackContext, ProbeSchedule, Progress};
use super::estimator::Estimator;
use super::preflight;
use crate::autograd::Graph;
use crate::datasets::loader::BatchSource;
use crate::error::{Error, Result, RunInput};
use crate::metrics::ssl::{Points, SslReport};
use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What progress calls the projection of the views.
const PROJECT: &str = "projecting the SSL metrics views";
/// What progress calls the metrics' computation.
const COMPUTE: &str = "computing the SSL metrics";
/// What error messages call the callback's set.
const SET: &str = "the SSL metrics set";
/// The tag prefix of the metrics.
pub const TAG_PREFIX: &str = "ssl";
/// The fewest samples the six metrics are defined on (Kruskal's needs 3 pairs to vary).
pub const MIN_SAMPLES: usize = 3;

/// nidl's `MetricsCallback` with the six SSL metrics on the two views of a set's samples,
/// logged as `ssl/<metric>` (see the module documentation).
pub struct SslMetrics {
    views: Box<dyn BatchSource>,
    schedule: ProbeSchedule,
    /// `(fit_id, global_step)` of the last measurement.
    last_measured: Option<(u64, u64)>,
}

/// The projections of the two views, `[n·d]` each, row-major.
struct Projections {
    z1: Vec<f64>,
    z2: Vec<f64>,
    n: usize,
    d: usize,
}

impl SslMetrics {
    /// The metrics on `views` (batches of two views per sample, e.g. the validation loader,
    /// seeded: see the module's determinism note), after every training epoch.
    pub fn new(views: Box<dyn BatchSource>) -> Self {
        SslMetrics {
            views,
            schedule: ProbeSchedule::default(),
            last_measured: None,
        }
    }

    /// Measure when `schedule` says instead.
    pub fn with_schedule(mut self, schedule: ProbeSchedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// The schedule.
    pub fn schedule(&self) -> &ProbeSchedule {
        &self.schedule
    }

    /// The six metrics of `est`'s projections of the views of `epoch`; `progress` is told of
    /// the batches projected. NaN or infinite projections give NaN metrics, and so does a
    /// metric undefined on the projections (collapsed views, a zero projection to normalise:
    /// [`SslReport::degenerate_as_nan`]); they are logged, and reported at the end of the run
    /// as every non-finite metric is.
    ///
    /// Errors: a set of fewer than [`MIN_SAMPLES`] samples or not two views per sample
    /// ([`Error::RunInput`]), and those of the model.
    pub fn measure(
        &self,
        est: &dyn Estimator,
        epoch: usize,
        progress: &dyn Progress,
    ) -> Result<Vec<(String, f64)>> {
        let p = self.project(est, epoch, progress)?;
        progress.update(COMPUTE, 0, 0);
        let finite = p.z1.iter().chain(&p.z2).all(|v| v.is_finite());
        let metrics = if finite {
            let z1 = Points::new(&p.z1, p.n, p.d)?;
            let z2 = Points::new(&p.z2, p.n, p.d)?;
            SslReport::degenerate_as_nan(&z1, &z2)
                .metrics()
                .iter()
                .map(|(name, v)| (format!("{TAG_PREFIX}/{name}"), *v))
                .collect()
        } else {
            SslReport::NAMES
                .iter()
                .map(|name| (format!("{TAG_PREFIX}/{name}"), f64::NAN))
                .collect()
        };
        Ok(metrics)
    }

    /// Both views of every batch of `epoch` through `est`'s encoder and head, in parallel over
    /// batches (each batch's rows in its own place, so the thread count changes nothing).
    fn project(
        &self,
        est: &dyn Estimator,
        epoch: usize,
        progress: &dyn Progress,
    ) -> Result<Projections> {
        let src = self.views.as_ref();
        let nb = src.num_batches();
        self.check_size()?;
        let done = AtomicUsize::new(0);
        let batches: Vec<(Vec<f32>, Vec<f32>, usize)> = (0..nb)
            .into_par_iter()
            .map_init(Graph::inference, |g, i| -> Result<_> {
                let batch = src.batch(epoch, i)?;
                two_views(src, batch.n_views)?;
                let mut view = |v: usize| -> Result<(Vec<f32>, usize)> {
                    g.clear();
                    let x = g.input(batch.view(v)?);
                    let z = est.project(g, x)?;
                    let (_, d) = g.value(z).dims2("SslMetrics")?;
                    Ok((g.value(z).host_values()?.into_owned(), d))
                };
                let (z1, d) = view(0)?;
                let (z2, _) = view(1)?;
                progress.update(PROJECT, done.fetch_add(1, Ordering::Relaxed) + 1, nb);
                Ok((z1, z2, d))
            })
            .collect::<Result<_>>()?;
        let d = batches.first().map_or(0, |b| b.2);
        let mut p = Projections {
            z1: Vec::with_capacity(src.len() * d),
            z2: Vec::with_capacity(src.len() * d),
            n: 0,
            d,
        };
        for (z1, z2, bd) in batches {
            if bd != d || z1.len() != z2.len() {
                return Err(Error::shape(
                    "SslMetrics",
                    "projections of one width for every batch and view",
                    &[&[z1.len() / bd.max(1), bd], &[z2.len() / d.max(1), d]],
                ));
            }
            p.n += z1.len() / d;
            p.z1.extend(z1.iter().map(|&v| f64::from(v)));
            p.z2.extend(z2.iter().map(|&v| f64::from(v)));
        }
        Ok(p)
    }

    /// A set of fewer than [`MIN_SAMPLES`] samples: an [`Error::RunInput`] naming it.
    fn check_size(&self) -> Result<()> {
        let src = self.views.as_ref();
        if src.len() < MIN_SAMPLES {
            return Err(Error::run_input(
                RunInput::Data,
                format!(
                    "{} has {} samples, but the SSL metrics need at least {MIN_SAMPLES} \
                     (Kruskal's similarity compares pairwise distances)",
                    preflight::describe(SET, src),
                    src.len()
                ),
            ));
        }
        Ok(())
    }

    /// Measures when `due` and not yet done at this model state; no metrics otherwise.
    fn measure_if(
        &mut self,
        due: bool,
        ctx: &CallbackContext,
        est: &dyn Estimator,
    ) -> Result<Vec<(String, f64)>> {
        let key = (ctx.fit_id, ctx.global_step);
        if !due || self.last_measured == Some(key) {
            return Ok(Vec::new());
        }
        let metrics = self.measure(est, ctx.epoch, ctx.progress)?;
        self.last_measured = Some(key);
        Ok(metrics)
    }
}

/// An [`Error::RunInput`] naming the set unless it gives two views per sample.
fn two_views(src: &dyn BatchSource, n_views: usize) -> Result<()> {
    if n_views == 2 {
        return Ok(());
    }
    Err(Error::run_input(
        RunInput::Data,
        format!(
            "{} gives {n_views} views per sample, but the SSL metrics compare two views",
            preflight::describe(SET, src)
        ),
    ))
}

impl Callback for SslMetrics {
    /// The set has at least [`MIN_SAMPLES`] samples of two views each, and the model projects
    /// them (it has a projection head).
    fn check(&mut self, est: &dyn Estimator) -> Result<()> {
        let src = self.views.as_ref();
        self.check_size()?;
        let batch = preflight::first_batch(est, SET, src, 0)?;
        two_views(src, batch.n_views)?;
        let mut g = Graph::inference();
        let x = g.input(batch.view(0)?);
        est.project(&mut g, x)?;
        Ok(())
    }

    fn on_train_start(
        &mut self,
        ctx: &CallbackContext,
        est: &dyn Estimator,
    ) -> Result<Vec<(String, f64)>> {
        self.measure_if(self.schedule.on_train_start, ctx, est)
    }

    fn on_validation_epoch_end(
        &mut self,
        ctx: &CallbackContext,
        est: &dyn Estimator,
    ) -> Result<Vec<(String, f64)>> {
        self.measure_if(self.schedule.after_val_epoch(ctx.epoch), ctx, est)
    }

    fn on_train_epoch_end(
        &mut self,
        ctx: &CallbackContext,
        est: &dyn Estimator,
    ) -> Result<Vec<(String, f64)>> {
        let due = self.schedule.after_train_epoch(ctx.epoch, ctx.max_epochs);
        self.measure_if(due, ctx, est)
    }
}
