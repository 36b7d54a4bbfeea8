//! The engine's probes as Python classes (`nidl_rs._native.*Core`). The scikit-learn-compatible
//! estimators in `nidl_rs/probes.py` hold one of these: they check parameters, encode labels of
//! any type as `0..K` and raise scikit-learn's `NotFittedError`; everything numeric is here.

use crate::convert::{detached, f64s, floats, labels, to_numpy, vec_to_numpy, Floats};
use crate::with_floats;
use nidl::probe::{
    Classifier, KNeighborsClassifier, KNeighborsRegressor, LogisticRegression, Neighbors, Probe,
    Ridge,
};
use nidl::Tensor;
use numpy::PyArrayDyn;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// The error for reading a fitted attribute before `fit`.
fn not_fitted(what: &str) -> PyErr {
    PyValueError::new_err(format!("{what}: the probe is not fitted: call fit first"))
}

/// Features `x` as a tensor of either precision.
fn features(x: &Bound<'_, PyAny>) -> PyResult<Floats> {
    floats(x, "X")
}

/// Label predictions as a 1-D `int64` array.
fn labels_out<'py>(py: Python<'py>, y: Vec<i64>) -> PyResult<Bound<'py, PyArrayDyn<i64>>> {
    let n = y.len();
    vec_to_numpy(py, y, &[n])
}

/// `(distances, indices)`, each of shape `(m, k)`.
type NeighborArrays<'py> = (Bound<'py, PyArrayDyn<f64>>, Bound<'py, PyArrayDyn<i64>>);

/// `(distances, indices)` arrays of shape `(m, k)`, as scikit-learn's `kneighbors`.
fn neighbors_out<'py>(py: Python<'py>, nb: Neighbors) -> PyResult<NeighborArrays<'py>> {
    let shape = [nb.len(), nb.k];
    let idx = nb.indices.iter().map(|&i| i as i64).collect();
    Ok((
        vec_to_numpy(py, nb.distances, &shape)?,
        vec_to_numpy(py, idx, &shape)?,
    ))
}

/// nidl's `LogisticRegression` (L-BFGS, binary or multinomial, as scikit-learn's `lbfgs`).
#[pyclass(module = "nidl_rs._native")]
pub struct LogisticRegressionCore {
    inner: LogisticRegression,
}

#[pymethods]
impl LogisticRegressionCore {
    /// The unfitted probe with these parameters (checked by the Python layer and again at fit).
    #[new]
    fn new(c: f64, tol: f64, max_iter: usize, fit_intercept: bool) -> Self {
        LogisticRegressionCore {
            inner: LogisticRegression::new()
                .c(c)
                .tol(tol)
                .max_iter(max_iter)
                .fit_intercept(fit_intercept),
        }
    }

    /// Fits on `x` `(n, d)` (float32/float64) and int64 labels `y` `(n,)`, GIL released.
    fn fit(&mut self, py: Python<'_>, x: &Bound<'_, PyAny>, y: &Bound<'_, PyAny>) -> PyResult<()> {
        let (x, y) = (features(x)?, labels(y, "y")?);
        let inner = &mut self.inner;
        with_floats!(x, |t| detached(py, || inner.fit(&t, &y)))
    }

    /// Predictions for the rows of `x` (float32/float64), GIL released.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArrayDyn<i64>>> {
        let x = features(x)?;
        let y = with_floats!(x, |t| detached(py, || self.inner.predict(&t)))?;
        labels_out(py, y)
    }

    /// Class probabilities `(m, K)`, columns in `classes` order, GIL released.
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let x = features(x)?;
        let p = with_floats!(x, |t| detached(py, || self.inner.predict_proba(&t)))?;
        to_numpy(py, p)
    }

    /// Raw scores `x · coefᵀ + intercept`, `(m, rows)`, GIL released.
    fn decision_function<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let x = features(x)?;
        let z = with_floats!(x, |t| detached(py, || self.inner.decision_function(&t)))?;
        to_numpy(py, z)
    }

    /// `(rows, d)`: one row for two classes, `K` rows otherwise.
    #[getter]
    fn coef<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let c = self.inner.coef().ok_or_else(|| not_fitted("coef"))?;
        to_numpy(py, c.clone())
    }

    /// The fitted `intercept` (a `ValueError` before `fit`).
    #[getter]
    fn intercept<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let b = self
            .inner
            .intercept()
            .ok_or_else(|| not_fitted("intercept"))?;
        vec_to_numpy(py, b.to_vec(), &[b.len()])
    }

    /// The fitted `n_iter` (a `ValueError` before `fit`).
    #[getter]
    fn n_iter(&self) -> PyResult<usize> {
        self.inner.n_iter().ok_or_else(|| not_fitted("n_iter"))
    }

    /// Whether the last fit met a convergence test.
    #[getter]
    fn converged(&self) -> PyResult<bool> {
        self.inner
            .converged()
            .ok_or_else(|| not_fitted("converged"))
    }
}

/// nidl's `Ridge` (closed form, Cholesky, as scikit-learn's dense `Ridge`).
#[pyclass(module = "nidl_rs._native")]
pub struct RidgeCore {
    inner: Ridge,
}

#[pymethods]
impl RidgeCore {
    /// The unfitted probe with these parameters (checked by the Python layer and again at fit).
    #[new]
    fn new(alpha: f64, fit_intercept: bool) -> Self {
        RidgeCore {
            inner: Ridge::new().alpha(alpha).fit_intercept(fit_intercept),
        }
    }

    /// Fits on `x` `(n, d)` and float64 targets `(n,)` or `(n, t)`, GIL released.
    fn fit(&mut self, py: Python<'_>, x: &Bound<'_, PyAny>, y: &Bound<'_, PyAny>) -> PyResult<()> {
        let (x, y) = (features(x)?, f64s(y, "y")?);
        let inner = &mut self.inner;
        with_floats!(x, |t| detached(py, || inner.fit(&t, &y)))
    }

    /// Predictions for the rows of `x` (float32/float64), GIL released.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let x = features(x)?;
        let y = with_floats!(x, |t| detached(py, || self.inner.predict(&t)))?;
        to_numpy(py, y)
    }

    /// `(t, d)`, one row per target.
    #[getter]
    fn coef<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let c = self.inner.coef().ok_or_else(|| not_fitted("coef"))?;
        to_numpy(py, c.clone())
    }

    /// The fitted `intercept` (a `ValueError` before `fit`).
    #[getter]
    fn intercept<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let b = self
            .inner
            .intercept()
            .ok_or_else(|| not_fitted("intercept"))?;
        vec_to_numpy(py, b.to_vec(), &[b.len()])
    }
}

/// nidl's k-NN classifier (majority vote, smallest label on ties).
#[pyclass(module = "nidl_rs._native")]
pub struct KNeighborsClassifierCore {
    inner: KNeighborsClassifier,
}

#[pymethods]
impl KNeighborsClassifierCore {
    /// The unfitted probe with these parameters (checked by the Python layer and again at fit).
    #[new]
    fn new(n_neighbors: usize) -> Self {
        KNeighborsClassifierCore {
            inner: KNeighborsClassifier::new(n_neighbors),
        }
    }

    /// Fits on `x` `(n, d)` (float32/float64) and the targets `y`, GIL released.
    fn fit(&mut self, py: Python<'_>, x: &Bound<'_, PyAny>, y: &Bound<'_, PyAny>) -> PyResult<()> {
        let (x, y) = (features(x)?, labels(y, "y")?);
        let inner = &mut self.inner;
        with_floats!(x, |t| detached(py, || inner.fit(&t, &y)))
    }

    /// Predictions for the rows of `x` (float32/float64), GIL released.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArrayDyn<i64>>> {
        let x = features(x)?;
        let y = with_floats!(x, |t| detached(py, || self.inner.predict(&t)))?;
        labels_out(py, y)
    }

    /// Class probabilities `(m, K)`, columns in `classes` order, GIL released.
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let x = features(x)?;
        let p = with_floats!(x, |t| detached(py, || self.inner.predict_proba(&t)))?;
        to_numpy(py, p)
    }

    /// `(distances, indices)` of the `k` nearest training rows, `(m, k)` each.
    fn kneighbors<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<NeighborArrays<'py>> {
        let x = features(x)?;
        let nb = with_floats!(x, |t| detached(py, || self.inner.kneighbors(&t)))?;
        neighbors_out(py, nb)
    }
}

/// nidl's k-NN regressor (mean target of the neighbours).
#[pyclass(module = "nidl_rs._native")]
pub struct KNeighborsRegressorCore {
    inner: KNeighborsRegressor,
}

#[pymethods]
impl KNeighborsRegressorCore {
    /// The unfitted probe with these parameters (checked by the Python layer and again at fit).
    #[new]
    fn new(n_neighbors: usize) -> Self {
        KNeighborsRegressorCore {
            inner: KNeighborsRegressor::new(n_neighbors),
        }
    }

    /// Fits on `x` `(n, d)` (float32/float64) and the targets `y`, GIL released.
    fn fit(&mut self, py: Python<'_>, x: &Bound<'_, PyAny>, y: &Bound<'_, PyAny>) -> PyResult<()> {
        let (x, y): (Floats, Tensor<f64>) = (features(x)?, f64s(y, "y")?);
        let inner = &mut self.inner;
        with_floats!(x, |t| detached(py, || inner.fit(&t, &y)))
    }

    /// Predictions for the rows of `x` (float32/float64), GIL released.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let x = features(x)?;
        let y = with_floats!(x, |t| detached(py, || self.inner.predict(&t)))?;
        to_numpy(py, y)
    }

    /// `(distances, indices)` of the `k` nearest training rows, `(m, k)` each.
    fn kneighbors<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<NeighborArrays<'py>> {
        let x = features(x)?;
        let nb = with_floats!(x, |t| detached(py, || self.inner.kneighbors(&t)))?;
        neighbors_out(py, nb)
    }
}

/// Registers the probe classes.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<LogisticRegressionCore>()?;
    m.add_class::<RidgeCore>()?;
    m.add_class::<KNeighborsClassifierCore>()?;
    m.add_class::<KNeighborsRegressorCore>()?;
    Ok(())
}
