//! `nidl_rs._native`: the nidl-rs engine for Python. The package `nidl_rs` (pure Python,
//! `python/nidl_rs/`) wraps these in scikit-learn-compatible estimators and documented
//! functions; see the README's Python section.
//!
//! - [`probes`]: the engine's probes as classes (`LogisticRegressionCore`, …);
//! - [`metrics`]: nidl's classification and regression reports as dicts;
//! - [`ops`]: reference losses and layers with the gradients of their inputs.
//!
//! Every call checks its inputs (a `ValueError` with the engine's message otherwise), runs with
//! the GIL released, and turns a panic into a `RuntimeError` ([`convert::detached`]).

pub mod convert;
pub mod metrics;
pub mod ops;
pub mod probes;

use pyo3::prelude::*;

/// The extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    probes::register(m)?;
    metrics::register(m)?;
    ops::register(m)?;
    Ok(())
}
