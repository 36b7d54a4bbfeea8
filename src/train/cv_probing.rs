//! nidl 0.0.2's `ModelProbingCVCallback`: k-fold cross-validation of a probe on the embeddings
//! of one labelled set (the probing train set), as scikit-learn's `cross_validate(probe, X, y,
//! scoring=..., cv=k)`.
//!
//! The folds are scikit-learn's for an integer `cv` ([`stratified_k_fold`] for a classifier,
//! [`k_fold`] for a regressor; unshuffled, so no seed is involved). For each fold the probe is
//! fitted from scratch on the fold's train rows and scored on its test rows. Tags, as nidl logs
//! the dict `cross_validate` returns, key by key, fold by fold:
//!
//! - `fold<i>/<prefix>fit_time`, `fold<i>/<prefix>score_time` (seconds), then
//!   `fold<i>/<prefix>test_<key>` for each score (`test_score` for a single score or none, else
//!   `test_<name>`: [`Scoring::keyed`](crate::metrics::Scoring::keyed));
//! - then, not in nidl, for each key: `cv/mean/<prefix><key>` and `cv/std/<prefix><key>` (the
//!   population standard deviation over the folds, NumPy's default `ddof=0`).
//!
//! The times are wall-clock times of this machine: unlike every other value, they differ from
//! run to run (excluded from the determinism guarantees). Scores are bit-identical for a seed.
//!
//! The callback is a [`Probing`] task, so it shares [`ProbingSets`] (and their embeddings) with
//! the other probes and runs on the same [`ProbeSchedule`](super::ProbeSchedule); the test set
//! of the sets is embedded with them but not used.

use super::callbacks::{Embedded, ProbeTask, Probing, ProbingSets};
use super::selected_scores::SelectedScores;
use crate::error::{Error, Result, RunInput};
use crate::metrics::{ProbeKind, ScoreSelection};
use crate::probe::cv::{k_fold, stratified_k_fold, Fold};
use crate::probe::{labels_from_f64, MultiTask, TaskProbe};
use crate::tensor::Tensor;
use std::time::Instant;

/// The cross-validation task: `folds`-fold CV of `probe` on label column `column` of the
/// probing train set.
pub struct CrossValidatedScore {
    /// The probe, refitted on each fold.
    probe: MultiTask,
    /// The probe's name, for messages.
    name: String,
    /// The label column cross-validated.
    column: usize,
    /// Folds (at least 2).
    folds: usize,
    /// The scores and the tag prefix.
    scores: SelectedScores,
}

impl CrossValidatedScore {
    /// `folds`-fold CV of `probe` on label column `column`, scored with nidl's defaults (the
    /// probe's own score, no prefix).
    ///
    /// Errors: [`Error::InvalidArgument`] for fewer than 2 folds.
    pub fn new(probe: TaskProbe, column: usize, folds: usize) -> Result<Self> {
        if folds < 2 {
            return Err(Error::invalid(
                "CrossValidatedScore",
                format!("{folds} folds: cross-validation needs at least 2"),
            ));
        }
        let name = probe.name().to_string();
        let scores = SelectedScores::new(&ScoreSelection::default(), &name, kind_of(&probe))?;
        Ok(CrossValidatedScore {
            probe: MultiTask::new(vec![probe])?,
            name,
            column,
            folds,
            scores,
        })
    }

    /// The folds of `y` (stratified for a classifier).
    fn split(&self, y: &[f64]) -> Result<Vec<Fold>> {
        let folds = if self.probe.tasks()[0].is_classifier() {
            stratified_k_fold(&labels_from_f64("CrossValidatedScore", y)?, self.folds)
        } else {
            k_fold(y.len(), self.folds)
        };
        folds.map_err(|e| {
            Error::invalid(
                "CrossValidatedScore",
                format!("{} on the probing train set: {e}", self.name),
            )
        })
    }
}

/// Whether `p` is a classifier or a regressor.
fn kind_of(p: &TaskProbe) -> ProbeKind {
    if p.is_classifier() {
        ProbeKind::Classifier
    } else {
        ProbeKind::Regressor
    }
}

/// The rows `rows` of the embeddings and of label column `y`.
fn take_rows(e: &Embedded, y: &[f64], rows: &[usize]) -> Result<(Tensor<f32>, Tensor<f64>)> {
    let mut x = Vec::with_capacity(rows.len() * e.d);
    for &r in rows {
        x.extend_from_slice(&e.x[r * e.d..(r + 1) * e.d]);
    }
    let y = rows.iter().map(|&r| y[r]).collect();
    Ok((
        Tensor::from_vec(x, &[rows.len(), e.d])?,
        Tensor::from_vec(y, &[rows.len()])?,
    ))
}

/// Mean and population standard deviation (`ddof = 0`) of `v` (not empty).
fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

impl ProbeTask for CrossValidatedScore {
    fn label(&self) -> String {
        format!("{} ({}-fold CV)", self.name, self.folds)
    }

    /// The column cross-validated must exist.
    fn check_label_columns(&self, what: &str, columns: usize) -> Result<()> {
        if self.column < columns {
            return Ok(());
        }
        Err(Error::run_input(
            RunInput::Data,
            format!(
                "{} cross-validation: {what} has {columns} label columns, no column {}",
                self.name, self.column
            ),
        ))
    }

    /// At least one sample per fold (the class counts are checked when the folds are made):
    /// an [`Error::InvalidArgument`] otherwise.
    fn check_train_len(&self, what: &str, n: usize) -> Result<()> {
        if self.folds <= n {
            return Ok(());
        }
        Err(Error::invalid(
            "CrossValidatedScore",
            format!(
                "{} cross-validation in {} folds: {what} has only {n} samples (at most one fold \
                 per sample, as scikit-learn): use fewer folds or more probing samples",
                self.name, self.folds
            ),
        ))
    }

    fn select_scores(&mut self, sel: &ScoreSelection) -> Result<()> {
        let kind = kind_of(&self.probe.tasks()[0]);
        self.scores = SelectedScores::new(sel, &self.name, kind)?;
        Ok(())
    }

    /// Errors: too few samples or class members for the folds (as scikit-learn), labels that are
    /// not classes for a classifier, and the probe's errors on a fold (naming the fold).
    fn fit_score(
        &mut self,
        train: &Embedded,
        _test: &Embedded,
        observe: &dyn Fn(usize, usize),
    ) -> Result<Vec<(String, f64)>> {
        self.check_label_columns("the probing train set", train.k)?;
        let y = train.column(self.column);
        let folds = self.split(&y)?;
        // keys[j] = (key, value per fold), in cross_validate's order.
        let mut keys: Vec<(String, Vec<f64>)> = vec![
            ("fit_time".into(), Vec::new()),
            ("score_time".into(), Vec::new()),
        ];
        for (i, fold) in folds.iter().enumerate() {
            let in_fold = |e: Error| {
                Error::invalid(
                    "CrossValidatedScore",
                    format!("{} fold {i}: {e}", self.name),
                )
            };
            let (x_tr, y_tr) = take_rows(train, &y, &fold.train)?;
            let (x_te, y_te) = take_rows(train, &y, &fold.test)?;
            let start = Instant::now();
            self.probe
                .fit_observed(&x_tr, &y_tr, observe)
                .map_err(in_fold)?;
            let fitted = Instant::now();
            let report = self.probe.score(&x_te, &y_te).map_err(in_fold)?;
            let scores = self.scores.test_scores(&report[0])?;
            let scored = Instant::now();
            keys[0].1.push((fitted - start).as_secs_f64());
            keys[1].1.push((scored - fitted).as_secs_f64());
            for (j, (key, v)) in scores.into_iter().enumerate() {
                match keys.get_mut(2 + j) {
                    Some((_, values)) => values.push(v),
                    None => keys.push((key, vec![v])),
                }
            }
        }
        let prefix = &self.scores.prefix;
        let mut tags = Vec::new();
        for (key, values) in &keys {
            for (i, v) in values.iter().enumerate() {
                tags.push((format!("fold{i}/{prefix}{key}"), *v));
            }
        }
        for (key, values) in &keys {
            let (mean, std) = mean_std(values);
            tags.push((format!("cv/mean/{prefix}{key}"), mean));
            tags.push((format!("cv/std/{prefix}{key}"), std));
        }
        Ok(tags)
    }
}

/// nidl 0.0.2's `ModelProbingCVCallback`: k-fold CV of a probe on the probing train set's
/// embeddings, logged per fold and summarised ([`CrossValidatedScore`]).
pub type CrossValidatedProbing = Probing<CrossValidatedScore>;

impl Probing<CrossValidatedScore> {
    /// `folds`-fold CV of `probe` on label column `column` of the train set of `sets`
    /// (shared with other probes: see [`ProbingSets`]), every epoch by default.
    ///
    /// Errors: [`Error::InvalidArgument`] for fewer than 2 folds.
    pub fn cross_validated(
        sets: ProbingSets,
        probe: TaskProbe,
        column: usize,
        folds: usize,
    ) -> Result<Self> {
        Ok(Probing::from_task(
            sets,
            CrossValidatedScore::new(probe, column, folds)?,
        ))
    }
}
