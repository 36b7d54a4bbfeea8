//! nidl's classification and regression reports as Python dicts with nidl's keys.

use crate::convert::{detached, f64s, labels, value_error};
use nidl::metrics::{ClassificationReport, MultiOutputReport, RegressionReport};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// `{"accuracy", "balanced_accuracy", "f1_macro", "precision_macro", "recall_macro",
/// "f1_weighted"}` of int64 labels `y_pred` against `y_true`, as nidl's classification probing
/// logs them.
#[pyfunction]
fn classification_report<'py>(
    py: Python<'py>,
    y_true: &Bound<'py, PyAny>,
    y_pred: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let (t, p) = (labels(y_true, "y_true")?, labels(y_pred, "y_pred")?);
    let report = detached(py, || ClassificationReport::new(&t, &p))?;
    let d = PyDict::new(py);
    for (k, v) in report.metrics() {
        d.set_item(k, v)?;
    }
    Ok(d)
}

/// The seven metrics of one column as a dict (`MAE`, `MedAE`, `RMSE`, `MSE`, `R2`, `PCC`,
/// `EVar`).
fn report_dict<'py>(py: Python<'py>, r: &RegressionReport) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in r.metrics() {
        d.set_item(k, v)?;
    }
    Ok(d)
}

/// nidl's `regression_report(y_true, y_pred, output_dict=True)` for float64 targets `(n,)` or
/// `(n, k)`: one column gives the flat dict of seven metrics; `k > 1` columns give
/// `{"regressor 0": {...}, …, "average": {...}}`.
#[pyfunction]
fn regression_report<'py>(
    py: Python<'py>,
    y_true: &Bound<'py, PyAny>,
    y_pred: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let (t, p) = (f64s(y_true, "y_true")?, f64s(y_pred, "y_pred")?);
    if t.shape() != p.shape() || t.ndim() == 0 || t.ndim() > 2 {
        return Err(value_error(nidl::Error::shape(
            "regression_report",
            "y_true and y_pred of the same shape (n,) or (n, k)",
            &[t.shape(), p.shape()],
        )));
    }
    let k = if t.ndim() == 2 { t.shape()[1] } else { 1 };
    let report = detached(py, || MultiOutputReport::new(t.data()?, p.data()?, k))?;
    if let [one] = &report.columns[..] {
        return report_dict(py, one);
    }
    let d = PyDict::new(py);
    for (i, r) in report.columns.iter().enumerate() {
        d.set_item(format!("regressor {i}"), report_dict(py, r)?)?;
    }
    d.set_item("average", report_dict(py, &report.average())?)?;
    Ok(d)
}

/// Registers the report functions.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(classification_report, m)?)?;
    m.add_function(wrap_pyfunction!(regression_report, m)?)?;
    Ok(())
}
