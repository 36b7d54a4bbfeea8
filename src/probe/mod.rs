//! Probes: simple models fitted on frozen embeddings, matching scikit-learn's results.
//!
//! Each probe is estimator + objective + solver:
//!
//! | probe | objective | solver |
//! |---|---|---|
//! | [`LogisticRegression`] | mean log-loss + `‖W‖²/(2·C·n)` (binary or multinomial) | [`lbfgs`](crate::linalg::lbfgs) |
//! | [`Ridge`] | `‖Y − XW − b‖² + α‖W‖²` | [`Cholesky`](crate::linalg::Cholesky) (primal or dual) |
//! | [`MlpClassifier`], [`MlpRegressor`] | cross-entropy (softmax or logistic output) or squared error / 2, + `α·Σ‖W‖²/(2n)` | [`lbfgs`](crate::linalg::lbfgs) |
//! | [`KNeighborsClassifier`], [`KNeighborsRegressor`] | `k` nearest by Euclidean distance | blocked GEMM screening + exact re-rank |
//!
//! and [`MultiTask`] holds one probe per target column; [`cv`] makes scikit-learn's
//! cross-validation folds (`KFold`, `StratifiedKFold`). Features are any [`Tensor`] of `f32` or
//! `f64` of shape `(n, d)`; the probes compute in `f64` internally (k-NN screens candidates in
//! `f32` when that is provably safe, then ranks them in `f64`). Nothing here uses autograd.
//!
//! ```
//! use nidl::probe::{Classifier, LogisticRegression, Probe};
//! use nidl::Tensor;
//! # fn main() -> nidl::Result<()> {
//! // Two 1-D clusters: class 3 around −1, class 7 around +1.
//! let x = Tensor::from_vec(vec![-1.2f32, -0.8, -1.0, 0.9, 1.1, 1.0], &[6, 1])?;
//! let y = [3, 3, 3, 7, 7, 7];
//! let mut probe = LogisticRegression::new();
//! probe.fit(&x, &y)?;
//! assert_eq!(probe.classes(), &[3, 7]);
//! let test = Tensor::from_vec(vec![-2.0f32, 2.0], &[2, 1])?;
//! assert_eq!(probe.predict(&test)?, vec![3, 7]);
//! # Ok(())
//! # }
//! ```

pub mod cv;
pub mod knn;
pub mod logistic;
pub mod mlp;
pub mod multitask;
pub mod ridge;

pub use knn::{KNeighborsClassifier, KNeighborsRegressor, Neighbors};
pub use logistic::{LogisticObjective, LogisticRegression};
pub use mlp::{MlpClassifier, MlpObjective, MlpRegressor};
pub use multitask::{MultiTask, TaskProbe, TaskReport};
pub use ridge::Ridge;

use crate::error::{Error, Result};
use crate::tensor::{Element, Tensor};
use std::any::Any;
use std::borrow::Cow;

/// A model fitted on features `x` of shape `(n, d)` and targets `y`.
pub trait Probe {
    /// What `fit` learns from: `[i64]` class labels, or a `Tensor<f64>` of targets of shape
    /// `(n,)` or `(n, t)`.
    type Targets: ?Sized;
    /// What `predict` returns: `Vec<i64>` labels, or a `Tensor<f64>` shaped like the targets.
    type Output;

    /// Fits the probe (refitting from scratch if it was fitted before).
    ///
    /// Errors: features that are not 2-D, empty, or hold NaN/infinity; targets whose length does
    /// not match; and each probe's own conditions (see its docs).
    fn fit<T: Element>(&mut self, x: &Tensor<T>, y: &Self::Targets) -> Result<()>;

    /// [`fit`](Probe::fit), calling `observe(iteration, max_iter)` after each solver iteration
    /// of an iterative probe ([`LogisticRegression`]'s L-BFGS), e.g. to show progress. The
    /// observer only watches: the fitted probe is bit-identical to `fit`'s. Probes fitted in
    /// one step ([`Ridge`], k-NN) never call it; this default is `fit`.
    fn fit_observed<T: Element>(
        &mut self,
        x: &Tensor<T>,
        y: &Self::Targets,
        observe: &dyn Fn(usize, usize),
    ) -> Result<()> {
        let _ = observe;
        self.fit(x, y)
    }

    /// Predicts for each row of `x` (same number of columns as at fit time).
    fn predict<T: Element>(&self, x: &Tensor<T>) -> Result<Self::Output>;
}

/// A probe that predicts class labels and class probabilities.
pub trait Classifier: Probe<Targets = [i64], Output = Vec<i64>> {
    /// The sorted distinct training labels (empty before `fit`); column `j` of
    /// [`predict_proba`](Classifier::predict_proba) is `classes()[j]`.
    fn classes(&self) -> &[i64];

    /// Class probabilities, shape `(m, classes().len())`, rows summing to 1.
    fn predict_proba<T: Element>(&self, x: &Tensor<T>) -> Result<Tensor<f64>>;
}

/// Checks `x` is a non-empty, finite 2-D tensor; returns `(rows, cols)`.
pub(crate) fn check_features<T: Element>(
    op: &'static str,
    x: &Tensor<T>,
) -> Result<(usize, usize)> {
    let (n, d) = x.dims2(op)?;
    if n == 0 || d == 0 {
        return Err(Error::invalid(
            op,
            format!(
                "X is empty (shape {:?}); need at least 1 row and 1 column",
                x.shape()
            ),
        ));
    }
    if !x.all_finite()? {
        let i = x
            .data()?
            .iter()
            .position(|v| !v.is_finite())
            .expect("a non-finite element exists");
        return Err(Error::NonFinite {
            what: format!("{op}: X[{}, {}] = {}", i / d, i % d, x.data()?[i]),
        });
    }
    Ok((n, d))
}

/// Checks that prediction features have the `d` columns seen at fit time.
pub(crate) fn check_predict_features<T: Element>(
    op: &'static str,
    x: &Tensor<T>,
    d: usize,
) -> Result<usize> {
    let (m, dx) = check_features(op, x)?;
    if dx != d {
        return Err(Error::shape(
            op,
            format!("X with {d} columns, as at fit time"),
            &[x.shape()],
        ));
    }
    Ok(m)
}

/// Checks the label count matches `n` rows of features.
pub(crate) fn check_label_len(op: &'static str, n: usize, y: &[i64]) -> Result<()> {
    if y.len() != n {
        return Err(Error::shape(
            op,
            "one label per row of X",
            &[&[n], &[y.len()]],
        ));
    }
    Ok(())
}

/// Checks regression targets: shape `(n,)` or `(n, t)` with `t ≥ 1`, finite. Returns `t`.
pub(crate) fn check_targets(op: &'static str, n: usize, y: &Tensor<f64>) -> Result<usize> {
    let t = match *y.shape() {
        [r] if r == n => 1,
        [r, t] if r == n && t > 0 => t,
        _ => {
            return Err(Error::shape(
                op,
                format!("targets of shape ({n},) or ({n}, t) for X with {n} rows"),
                &[y.shape()],
            ))
        }
    };
    if let Some(i) = y.data()?.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            what: format!("{op}: y[{}, {}] = {}", i / t, i % t, y.data()?[i]),
        });
    }
    Ok(t)
}

/// The sorted distinct labels and each label's index into them.
pub(crate) fn encode_labels(y: &[i64]) -> (Vec<i64>, Vec<usize>) {
    let mut classes = y.to_vec();
    classes.sort_unstable();
    classes.dedup();
    let codes = y
        .iter()
        .map(|v| {
            classes
                .binary_search(v)
                .expect("label is among the classes")
        })
        .collect();
    (classes, codes)
}

/// The elements of `x` as `f64` in host memory, borrowed when they already are (embeddings
/// computed on a GPU are read back).
pub(crate) fn as_f64<T: Element>(x: &Tensor<T>) -> Result<Cow<'_, [f64]>> {
    match (x as &dyn Any).downcast_ref::<Tensor<f64>>() {
        Some(t) => t.host_values(),
        None => Ok(Cow::Owned(
            x.host_values()?.iter().map(|v| v.to_f64()).collect(),
        )),
    }
}

/// Converts float targets to integer labels, refusing any that is not a finite integer
/// (a regression column handed to a classifier).
pub fn labels_from_f64(op: &'static str, y: &[f64]) -> Result<Vec<i64>> {
    // 2^63: the first float beyond i64::MAX.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    y.iter()
        .enumerate()
        .map(|(i, &v)| {
            if v.is_finite() && v.fract() == 0.0 && (-LIMIT..LIMIT).contains(&v) {
                Ok(v as i64)
            } else {
                Err(Error::invalid(
                    op,
                    format!("label {i} is {v}, but a classifier needs integer labels"),
                ))
            }
        })
        .collect()
}

/// The error for using a probe before `fit`.
pub(crate) fn not_fitted(op: &'static str) -> Error {
    Error::invalid(op, "the probe is not fitted: call fit first")
}
