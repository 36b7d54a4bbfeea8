//! Evaluation metrics with scikit-learn's definitions and nidl's names.
//!
//! - [`classification`]: accuracy, balanced accuracy, precision / recall / F1 (macro) and F1
//!   (weighted), with `zero_division = 0` — [`ClassificationReport`].
//! - [`regression`]: MAE, MedAE, RMSE, MSE, R2, PCC (Pearson r) and EVar (explained variance) —
//!   [`RegressionReport`], and nidl's multi-output report over several target columns
//!   ([`MultiOutputReport`]).
//! - [`scoring`]: scikit-learn's scoring names (`accuracy`, `neg_mean_absolute_error`, …) read
//!   off those reports, and nidl 0.0.2's `scoring` / `prefix_score` selection.
//! - [`ssl`]: nidl 0.0.2's geometry metrics of two views' embeddings (alignment, uniformity,
//!   contrastive accuracy, Procrustes similarity and R², Kruskal similarity) — [`SslReport`].
//!
//! The classification and regression functions take `(y_true, y_pred)` in that order, as
//! scikit-learn does; every function returns an [`Error`] for empty or mismatched inputs (and
//! non-finite values where they matter) instead of a NaN.

pub mod classification;
pub mod regression;
pub mod scoring;
pub mod ssl;

pub use classification::ClassificationReport;
pub use regression::{MultiOutputReport, RegressionReport};
pub use scoring::{ProbeKind, ScoreSelection, Scorer, Scoring};
pub use ssl::SslReport;

use crate::error::{Error, Result};

/// Checks that `y_true` and `y_pred` are non-empty and of equal length.
fn check_pair(op: &'static str, n_true: usize, n_pred: usize) -> Result<()> {
    if n_true != n_pred {
        return Err(Error::shape(
            op,
            "y_true and y_pred of equal length",
            &[&[n_true], &[n_pred]],
        ));
    }
    if n_true == 0 {
        return Err(Error::invalid(op, "y_true and y_pred are empty"));
    }
    Ok(())
}
