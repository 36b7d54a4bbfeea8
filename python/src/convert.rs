//! The boundary between Python and the engine: NumPy arrays to and from [`Tensor`]s, engine
//! errors to Python exceptions, and engine calls run with the GIL released and panics caught.

use nidl::Tensor;
use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{IntoPyArray, PyArrayDyn, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// An element type both the engine and NumPy know (`f32`, `f64`).
pub trait Float: nidl::Element + numpy::Element {}
impl Float for f32 {}
impl Float for f64 {}

/// A float array from Python, in the precision it came in.
pub enum Floats {
    /// `float32` input.
    F32(Tensor<f32>),
    /// `float64` input.
    F64(Tensor<f64>),
}

/// An engine error as the `ValueError` Python users expect, with the engine's message.
pub fn value_error(e: nidl::Error) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Runs `f` with the GIL released (other Python threads go on meanwhile). An engine error
/// becomes a `ValueError`; a panic (a broken internal invariant, never a user's input) is
/// caught here and becomes a `RuntimeError` instead of aborting the interpreter.
pub fn detached<R: Send>(
    py: Python<'_>,
    f: impl FnOnce() -> nidl::Result<R> + Send,
) -> PyResult<R> {
    let outcome = py.detach(|| catch_unwind(AssertUnwindSafe(f)));
    match outcome {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(value_error(e)),
        Err(panic) => {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown cause".to_string());
            Err(PyRuntimeError::new_err(format!(
                "internal error in nidl-rs (please report it): {why}"
            )))
        }
    }
}

/// The type and shape of a Python object, for error messages.
fn describe(obj: &Bound<'_, PyAny>) -> String {
    match obj.cast::<numpy::PyUntypedArray>() {
        Ok(a) => format!("an array of dtype {} and shape {:?}", a.dtype(), a.shape()),
        Err(_) => match obj.get_type().name() {
            Ok(n) => format!("an object of type {n}"),
            Err(_) => "an object of unknown type".to_string(),
        },
    }
}

/// The elements of the NumPy array `name` in C order as a [`Tensor`]: one copy, straight from
/// the buffer when it is C-contiguous, else in logical order (F-order and strided views).
/// A NaN or infinite element is a `ValueError` naming `name` (never a NaN result).
fn tensor<T: Float>(a: &PyReadonlyArrayDyn<'_, T>, name: &str) -> PyResult<Tensor<T>> {
    // `as_slice` also accepts F-contiguous buffers (in F order): only C order is read as is.
    let data: Vec<T> = match a.as_slice() {
        Ok(s) if a.is_c_contiguous() => s.to_vec(),
        _ => a.as_array().iter().copied().collect(),
    };
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        return Err(PyValueError::new_err(format!(
            "{name} must be finite, got {} at flat index {i}",
            data[i]
        )));
    }
    Tensor::from_vec(data, a.shape()).map_err(value_error)
}

/// A `float32` or `float64` array named `name`; any other dtype or object is a `ValueError`.
pub fn floats(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Floats> {
    if let Ok(a) = obj.extract::<PyReadonlyArrayDyn<'_, f64>>() {
        return Ok(Floats::F64(tensor(&a, name)?));
    }
    if let Ok(a) = obj.extract::<PyReadonlyArrayDyn<'_, f32>>() {
        return Ok(Floats::F32(tensor(&a, name)?));
    }
    Err(PyValueError::new_err(format!(
        "{name} must be a NumPy array of dtype float32 or float64, got {}",
        describe(obj)
    )))
}

/// A `float64` array named `name` (regression targets, labels of y-Aware).
pub fn f64s(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Tensor<f64>> {
    match obj.extract::<PyReadonlyArrayDyn<'_, f64>>() {
        Ok(a) => tensor(&a, name),
        Err(_) => Err(PyValueError::new_err(format!(
            "{name} must be a NumPy array of dtype float64, got {}",
            describe(obj)
        ))),
    }
}

/// A float array named `name` in precision `T` exactly (the other operands of an op taking
/// its precision from the first); another dtype is a `ValueError`.
pub fn same_precision<T: Float>(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Tensor<T>> {
    match obj.extract::<PyReadonlyArrayDyn<'_, T>>() {
        Ok(a) => tensor(&a, name),
        Err(_) => Err(PyValueError::new_err(format!(
            "{name} must be a NumPy array of dtype {} like the first input, got {}",
            <T as nidl::Element>::NAME,
            describe(obj)
        ))),
    }
}

/// A 1-D `int64` array of labels named `name`.
pub fn labels(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Vec<i64>> {
    match obj.extract::<PyReadonlyArrayDyn<'_, i64>>() {
        Ok(a) if a.ndim() == 1 => Ok(a.as_array().iter().copied().collect()),
        _ => Err(PyValueError::new_err(format!(
            "{name} must be a 1-D NumPy array of dtype int64, got {}",
            describe(obj)
        ))),
    }
}

/// A tensor as a new NumPy array of the same shape (the buffer is moved, not copied).
pub fn to_numpy<'py, T: Float>(
    py: Python<'py>,
    t: Tensor<T>,
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    let shape = t.shape().to_vec();
    let data = t.into_vec().map_err(value_error)?;
    vec_to_numpy(py, data, &shape)
}

/// A vector as a new NumPy array of `shape` (the buffer is moved, not copied).
pub fn vec_to_numpy<'py, T: numpy::Element>(
    py: Python<'py>,
    data: Vec<T>,
    shape: &[usize],
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    let a = ArrayD::from_shape_vec(IxDyn(shape), data)
        .map_err(|e| PyRuntimeError::new_err(format!("internal error in nidl-rs: {e}")))?;
    Ok(a.into_pyarray(py))
}

/// Runs `$body` with `$t` bound to the tensor of a [`Floats`], whichever its precision.
#[macro_export]
macro_rules! with_floats {
    ($floats:expr, |$t:ident| $body:expr) => {
        match $floats {
            $crate::convert::Floats::F32($t) => $body,
            $crate::convert::Floats::F64($t) => $body,
        }
    };
}
