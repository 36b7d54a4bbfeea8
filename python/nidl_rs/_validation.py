"""Input checks shared by the probes: what scikit-learn's ``check_array`` accepts, without
copying float32 / float64 arrays (the engine reads C- and F-ordered arrays alike)."""

import numpy as np


def as_features(X, name="X"):
    """``X`` as a 2-D float32 or float64 array (integers and booleans become float64)."""
    try:
        X = np.asarray(X)
    except Exception as e:  # ragged lists and the like
        raise ValueError(f"{name} cannot be read as a 2-D numeric array: {e}") from e
    if X.dtype.kind in "biu" or (
        X.dtype.kind == "f" and X.dtype not in (np.float32, np.float64)
    ):
        X = X.astype(np.float64)
    elif X.dtype not in (np.float32, np.float64):
        raise ValueError(
            f"{name} must hold numbers (float32 or float64; integers and booleans are "
            f"converted to float64), got dtype {X.dtype}"
        )
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-D array {name} of shape (n_samples, n_features), "
            f"got an array of shape {X.shape}"
        )
    return X


def as_targets(y, name="y"):
    """Regression targets as a 1-D or 2-D float64 array."""
    try:
        y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must hold numbers: {e}") from e
    if y.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be of shape (n_samples,) or (n_samples, n_targets), got {y.shape}"
        )
    return y


def encode_labels(y, name="y"):
    """``(classes, codes)``: the sorted distinct labels and each label's index (int64).

    Labels are any integers, strings or integral floats; a column vector is flattened as
    scikit-learn does. Non-integral floats ("continuous" targets) and NaN are refused."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of labels, got shape {y.shape}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{name} holds NaN or infinity; labels must be finite")
        if np.any(y != np.round(y)):
            raise ValueError(
                f"Unknown label type: {name} holds non-integral floats (continuous "
                "targets); a classifier needs class labels"
            )
    try:
        classes, codes = np.unique(y, return_inverse=True)
    except TypeError as e:
        raise ValueError(f"{name} holds labels that cannot be sorted: {e}") from e
    return classes, codes.reshape(-1).astype(np.int64)
