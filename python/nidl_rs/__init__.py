"""nidl_rs: the nidl-rs engine for Python.

- :mod:`nidl_rs.probes`: scikit-learn-compatible ``LogisticRegression``, ``Ridge``,
  ``KNeighborsClassifier``, ``KNeighborsRegressor``;
- :mod:`nidl_rs.metrics`: nidl's classification and regression reports as dicts;
- :mod:`nidl_rs.ops`: reference losses (InfoNCE, y-Aware InfoNCE, Barlow Twins) and layers
  (conv2d, avg_pool2d, batch_norm1d) with the gradients of their inputs, and ``gradcheck``;
- :mod:`nidl_rs.lightning`: ``ProbingCallback``, a drop-in for nidl's probing callbacks
  (imports Lightning only when used).
"""

from . import metrics, ops, probes
from ._native import __version__
from .metrics import classification_report, regression_report
from .ops import (
    avg_pool2d,
    barlow_twins,
    batch_norm1d,
    conv2d,
    gradcheck,
    info_nce,
    yaware_info_nce,
    yaware_weights,
)
from .probes import (
    KNeighborsClassifier,
    KNeighborsRegressor,
    LogisticRegression,
    NotFittedError,
    Ridge,
)

__all__ = [
    "__version__",
    "KNeighborsClassifier",
    "KNeighborsRegressor",
    "LogisticRegression",
    "NotFittedError",
    "Ridge",
    "avg_pool2d",
    "barlow_twins",
    "batch_norm1d",
    "classification_report",
    "conv2d",
    "gradcheck",
    "info_nce",
    "metrics",
    "ops",
    "probes",
    "regression_report",
    "yaware_info_nce",
    "yaware_weights",
]
