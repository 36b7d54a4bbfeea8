"""nidl's classification and regression reports, computed by the engine, as dicts with the
keys nidl's probing callbacks log (``accuracy``, ``balanced_accuracy``, ``f1_macro``,
``precision_macro``, ``recall_macro``, ``f1_weighted``; ``MAE``, ``MedAE``, ``RMSE``, ``MSE``,
``R2``, ``PCC``, ``EVar``). Definitions: scikit-learn's (``zero_division=0``), Pearson's r as
nidl's ``pearson_r``."""

import numpy as np

import nidl_rs._native as _native
from ._validation import as_targets

__all__ = ["classification_report", "regression_report"]


def classification_report(y_true, y_pred):
    """The six classification metrics of ``y_pred`` against ``y_true`` (labels of any type,
    compared for equality) as a dict."""
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same length, got {len(y_true)} and {len(y_pred)}"
        )
    try:
        _, codes = np.unique(np.concatenate([y_true, y_pred]), return_inverse=True)
    except TypeError as e:
        raise ValueError(f"labels that cannot be compared: {e}") from e
    codes = codes.reshape(-1).astype(np.int64)
    n = len(y_true)
    return _native.classification_report(codes[:n], codes[n:])


def regression_report(y_true, y_pred):
    """nidl's ``regression_report(y_true, y_pred, output_dict=True)``: the seven metrics as
    a dict for one target, or ``{"regressor 0": {...}, ..., "average": {...}}`` for targets
    of shape (n_samples, k > 1)."""
    return _native.regression_report(
        as_targets(y_true, "y_true"), as_targets(y_pred, "y_pred")
    )
