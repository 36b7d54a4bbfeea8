//! One probe per target column, reported per task, as nidl's `MultitaskModelProbing` does.
//!
//! Targets are a `Tensor<f64>` of shape `(n, t)`: column `j` is task `j`, fitted by the `j`-th
//! [`TaskProbe`] (a classifier, whose column must hold integers, or a regressor). The objective
//! of each task is its probe's own; tasks are independent. Metrics are named
//! `task{j}/{metric}` (e.g. `task0/R2`, `task1/balanced_accuracy`) by
//! [`MultiTask::named_metrics`].

use super::{
    labels_from_f64, KNeighborsClassifier, KNeighborsRegressor, LogisticRegression, MlpClassifier,
    MlpRegressor, Probe, Ridge,
};
use crate::error::{Error, Result};
use crate::metrics::{ClassificationReport, RegressionReport, Scorer};
use crate::tensor::{Element, Tensor};

/// The probe of one task.
#[derive(Clone, Debug)]
pub enum TaskProbe {
    /// Classification by logistic regression.
    LogisticRegression(LogisticRegression),
    /// Classification by k-NN vote.
    KNeighborsClassifier(KNeighborsClassifier),
    /// Regression by ridge.
    Ridge(Ridge),
    /// Regression by k-NN mean.
    KNeighborsRegressor(KNeighborsRegressor),
    /// Classification by a multi-layer perceptron.
    MlpClassifier(MlpClassifier),
    /// Regression by a multi-layer perceptron.
    MlpRegressor(MlpRegressor),
}

impl TaskProbe {
    /// True for the classifiers (their target column must hold integer labels).
    pub fn is_classifier(&self) -> bool {
        matches!(
            self,
            TaskProbe::LogisticRegression(_)
                | TaskProbe::KNeighborsClassifier(_)
                | TaskProbe::MlpClassifier(_)
        )
    }

    /// The probe's scikit-learn name (e.g. `LogisticRegression`, `MLPClassifier`).
    pub fn name(&self) -> &'static str {
        match self {
            TaskProbe::LogisticRegression(_) => "LogisticRegression",
            TaskProbe::KNeighborsClassifier(_) => "KNeighborsClassifier",
            TaskProbe::Ridge(_) => "Ridge",
            TaskProbe::KNeighborsRegressor(_) => "KNeighborsRegressor",
            TaskProbe::MlpClassifier(_) => "MLPClassifier",
            TaskProbe::MlpRegressor(_) => "MLPRegressor",
        }
    }

    fn fit<T: Element>(
        &mut self,
        x: &Tensor<T>,
        column: Vec<f64>,
        observe: &dyn Fn(usize, usize),
    ) -> Result<()> {
        let n = column.len();
        match self {
            TaskProbe::LogisticRegression(p) => {
                p.fit_observed(x, &labels_from_f64("MultiTask::fit", &column)?, observe)
            }
            TaskProbe::KNeighborsClassifier(p) => {
                p.fit(x, &labels_from_f64("MultiTask::fit", &column)?)
            }
            TaskProbe::Ridge(p) => p.fit(x, &Tensor::from_vec(column, &[n])?),
            TaskProbe::KNeighborsRegressor(p) => p.fit(x, &Tensor::from_vec(column, &[n])?),
            TaskProbe::MlpClassifier(p) => {
                p.fit_observed(x, &labels_from_f64("MultiTask::fit", &column)?, observe)
            }
            TaskProbe::MlpRegressor(p) => {
                p.fit_observed(x, &Tensor::from_vec(column, &[n])?, observe)
            }
        }
    }

    fn predict<T: Element>(&self, x: &Tensor<T>) -> Result<Vec<f64>> {
        let labels = |v: Vec<i64>| v.into_iter().map(|c| c as f64).collect();
        Ok(match self {
            TaskProbe::LogisticRegression(p) => labels(p.predict(x)?),
            TaskProbe::KNeighborsClassifier(p) => labels(p.predict(x)?),
            TaskProbe::Ridge(p) => p.predict(x)?.into_vec()?,
            TaskProbe::KNeighborsRegressor(p) => p.predict(x)?.into_vec()?,
            TaskProbe::MlpClassifier(p) => labels(p.predict(x)?),
            TaskProbe::MlpRegressor(p) => p.predict(x)?.into_vec()?,
        })
    }
}

/// The metrics of one task.
#[derive(Clone, Debug, PartialEq)]
pub enum TaskReport {
    /// A classification task's metrics.
    Classification(ClassificationReport),
    /// A regression task's metrics.
    Regression(RegressionReport),
}

impl TaskReport {
    /// `(name, value)` pairs (see [`ClassificationReport::metrics`] and
    /// [`RegressionReport::metrics`]).
    pub fn metrics(&self) -> Vec<(&'static str, f64)> {
        match self {
            TaskReport::Classification(r) => r.metrics().to_vec(),
            TaskReport::Regression(r) => r.metrics().to_vec(),
        }
    }

    /// The score `s` of this report ([`Scorer::of_classification`],
    /// [`Scorer::of_regression`]); `None` when `s` is not defined for its kind of task.
    pub fn score(&self, s: Scorer) -> Option<f64> {
        match self {
            TaskReport::Classification(r) => s.of_classification(r),
            TaskReport::Regression(r) => s.of_regression(r),
        }
    }
}

/// One probe per target column.
#[derive(Clone, Debug)]
pub struct MultiTask {
    tasks: Vec<TaskProbe>,
}

impl MultiTask {
    /// Probes for tasks `0..tasks.len()`, in column order.
    ///
    /// Errors: [`Error::InvalidArgument`] for an empty list.
    pub fn new(tasks: Vec<TaskProbe>) -> Result<Self> {
        if tasks.is_empty() {
            return Err(Error::invalid("MultiTask::new", "no task probes given"));
        }
        Ok(MultiTask { tasks })
    }

    /// The task probes, in column order.
    pub fn tasks(&self) -> &[TaskProbe] {
        &self.tasks
    }

    /// Column `j` of `y` as a vector, after checking `y` is `(n, t)` (or `(n,)` for one task).
    fn columns(&self, op: &'static str, n: usize, y: &Tensor<f64>) -> Result<Vec<Vec<f64>>> {
        let t = self.tasks.len();
        let ok = match *y.shape() {
            [r] => r == n && t == 1,
            [r, c] => r == n && c == t,
            _ => false,
        };
        if !ok {
            return Err(Error::shape(
                op,
                format!("targets of shape ({n}, {t}): one row per row of X, one column per task"),
                &[y.shape()],
            ));
        }
        let values = y.host_values()?;
        Ok((0..t)
            .map(|j| values.iter().skip(j).step_by(t).copied().collect())
            .collect())
    }

    /// Fits task `j`'s probe on column `j` of `y` `(n, t)`.
    ///
    /// Errors: shape mismatches; a classifier column holding a non-integer; and each probe's
    /// own errors, prefixed with the task number.
    pub fn fit<T: Element>(&mut self, x: &Tensor<T>, y: &Tensor<f64>) -> Result<()> {
        self.fit_observed(x, y, &|_, _| {})
    }

    /// [`fit`](Self::fit), calling `observe(iteration, max_iter)` after each solver iteration
    /// of each iterative task probe (see [`Probe::fit_observed`]); the fits are those of `fit`.
    pub fn fit_observed<T: Element>(
        &mut self,
        x: &Tensor<T>,
        y: &Tensor<f64>,
        observe: &dyn Fn(usize, usize),
    ) -> Result<()> {
        const OP: &str = "MultiTask::fit";
        let (n, _) = x.dims2(OP)?;
        let columns = self.columns(OP, n, y)?;
        for (j, (task, col)) in self.tasks.iter_mut().zip(columns).enumerate() {
            task.fit(x, col, observe)
                .map_err(|e| Error::invalid(OP, format!("task {j} ({}): {e}", task.name())))?;
        }
        Ok(())
    }

    /// Predictions `(m, t)`: labels (as `f64`) for classification tasks, values for regression.
    pub fn predict<T: Element>(&self, x: &Tensor<T>) -> Result<Tensor<f64>> {
        const OP: &str = "MultiTask::predict";
        let t = self.tasks.len();
        let mut cols = Vec::with_capacity(t);
        for (j, task) in self.tasks.iter().enumerate() {
            let col = task
                .predict(x)
                .map_err(|e| Error::invalid(OP, format!("task {j} ({}): {e}", task.name())))?;
            cols.push(col);
        }
        let m = cols[0].len();
        let mut out = vec![0.0; m * t];
        for (j, c) in cols.iter().enumerate() {
            for (i, v) in c.iter().enumerate() {
                out[i * t + j] = *v;
            }
        }
        Tensor::from_vec(out, &[m, t])
    }

    /// Each task's metrics on `(x, y)`, in task order.
    pub fn score<T: Element>(&self, x: &Tensor<T>, y: &Tensor<f64>) -> Result<Vec<TaskReport>> {
        const OP: &str = "MultiTask::score";
        let (m, _) = x.dims2(OP)?;
        let columns = self.columns(OP, m, y)?;
        let pred = self.predict(x)?;
        let t = self.tasks.len();
        let mut reports = Vec::with_capacity(t);
        for (j, (task, truth)) in self.tasks.iter().zip(columns).enumerate() {
            let p: Vec<f64> = pred.data()?.iter().skip(j).step_by(t).copied().collect();
            let report = if task.is_classifier() {
                let yt = labels_from_f64(OP, &truth)
                    .map_err(|e| Error::invalid(OP, format!("task {j}: {e}")))?;
                let yp: Vec<i64> = p.iter().map(|&v| v as i64).collect();
                TaskReport::Classification(ClassificationReport::new(&yt, &yp)?)
            } else {
                TaskReport::Regression(RegressionReport::new(&truth, &p)?)
            };
            reports.push(report);
        }
        Ok(reports)
    }

    /// Flattens reports to `("task{j}/{metric}", value)`, the tags nidl logs.
    pub fn named_metrics(reports: &[TaskReport]) -> Vec<(String, f64)> {
        reports
            .iter()
            .enumerate()
            .flat_map(|(j, r)| {
                r.metrics()
                    .into_iter()
                    .map(move |(name, v)| (format!("task{j}/{name}"), v))
            })
            .collect()
    }
}
