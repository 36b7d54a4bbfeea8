"""scikit-learn-compatible probes fitted by the nidl-rs engine.

``LogisticRegression``, ``Ridge``, ``KNeighborsClassifier`` and ``KNeighborsRegressor`` take
scikit-learn's constructor arguments that the engine supports, with scikit-learn's defaults,
and give scikit-learn's results (``LogisticRegression`` runs the same L-BFGS on the same
objective; see the README for what agrees to which tolerance). With scikit-learn installed
they derive from its ``BaseEstimator`` and mixins, so ``clone``, ``Pipeline``,
``cross_validate`` and grid searches accept them; without it, from a stand-in with the same
``get_params`` / ``set_params``.

Features are float32 or float64 arrays, C- or F-ordered, read without an extra copy in Python
(integers and booleans are converted to float64); labels are any integers or strings. Bad
input raises ``ValueError`` with the engine's message, use before ``fit`` raises
``NotFittedError``, and the engine releases the GIL while it fits and predicts.
"""

import numbers
import warnings

import numpy as np

import nidl_rs._native as _native
from ._validation import as_features, as_targets, encode_labels

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning, NotFittedError
except ImportError:  # scikit-learn is optional
    from ._base import (
        BaseEstimator,
        ClassifierMixin,
        ConvergenceWarning,
        NotFittedError,
        RegressorMixin,
    )

__all__ = [
    "LogisticRegression",
    "Ridge",
    "KNeighborsClassifier",
    "KNeighborsRegressor",
    "NotFittedError",
    "ConvergenceWarning",
]


def _check_real(owner, name, value, low, low_inclusive):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not np.isfinite(value)
        or value < low
        or (value == low and not low_inclusive)
    ):
        bound = f"{'>=' if low_inclusive else '>'} {low}"
        raise ValueError(
            f"The {name!r} parameter of {owner} must be a finite real number {bound}, "
            f"got {value!r}"
        )
    return float(value)


def _check_int(owner, name, value, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(
            f"The {name!r} parameter of {owner} must be an integer >= {low}, got {value!r}"
        )
    return int(value)


def _check_bool(owner, name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"The {name!r} parameter of {owner} must be a bool, got {value!r}")
    return bool(value)


def _check_lengths(X, y):
    """scikit-learn's error for an ``X`` and a ``y`` of different numbers of samples."""
    n_x, n_y = len(X), len(y)
    if n_x != n_y:
        raise ValueError(
            f"Found input variables with inconsistent numbers of samples: [{n_x}, {n_y}]"
        )


class _Probe(BaseEstimator):
    """What the four probes share: the fitted engine object and the feature checks."""

    def _fitted_core(self):
        core = getattr(self, "_core", None)
        if core is None:
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )
        return core

    def _fit_features(self, X):
        """The checked ``X`` of a fit; first forgets every fitted attribute, so that a failed
        refit leaves an unfitted estimator (never the last fit's ``classes_``/``coef_``).
        Each ``fit`` sets ``n_features_in_`` and the rest once its engine fit succeeded."""
        self._core = None
        self._training_set = None
        for name in [a for a in vars(self) if a.endswith("_") and not a.startswith("_")]:
            delattr(self, name)
        return as_features(X)

    def _predict_features(self, X):
        core = self._fitted_core()
        X = as_features(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        return core, X

    def __getstate__(self):
        if getattr(self, "_core", None) is not None:
            raise TypeError(
                f"a fitted {type(self).__name__} cannot be pickled (the engine's model "
                "lives in native memory); pickle it before fit, or clone it"
            )
        return self.__dict__.copy()


class _RebuiltOnUnpickle:
    """For the k-NN probes, whose engine model is just the training rows: a fitted one is
    pickled (and copied) with its checked ``X`` and encoded ``y`` and rebuilt by refitting them
    (exactly the same model). The logistic and ridge probes have no such way (the engine
    cannot build a model from coefficients) and refuse pickling once fitted."""

    def _keep_training_set(self, X, y):
        self._training_set = (X.copy(), y.copy())  # later edits of the caller's X do not leak in

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_core"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self.__dict__.get("_training_set") is not None:
            core = self._new_core()
            core.fit(*self._training_set)
            self._core = core


class _ClassifierProbe(ClassifierMixin, _Probe):
    def predict(self, X):
        """The predicted class of each row of ``X``."""
        core, X = self._predict_features(X)
        return self.classes_[core.predict(X)]

    def predict_proba(self, X):
        """Class probabilities, shape ``(n_samples, n_classes)``, columns as ``classes_``."""
        core, X = self._predict_features(X)
        return core.predict_proba(X)

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of ``predict(X)`` against ``y`` (weighted by ``sample_weight``)."""
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        _check_lengths(X, y)
        return float(np.average(self.predict(X) == y, weights=sample_weight))


class _RegressorProbe(RegressorMixin, _Probe):
    def score(self, X, y, sample_weight=None):
        """R² of ``predict(X)`` against ``y``, averaged uniformly over targets, as
        scikit-learn's ``r2_score`` (1 for a constant, perfectly predicted target, 0 for a
        constant one predicted wrong)."""
        y = as_targets(y)
        _check_lengths(X, y)
        pred = self.predict(X).reshape(y.shape)
        y2, p2 = y.reshape(len(y), -1), pred.reshape(len(y), -1)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
        w = w[:, None]
        ss_res = (w * (y2 - p2) ** 2).sum(axis=0)
        mean = (w * y2).sum(axis=0) / w.sum()
        ss_tot = (w * (y2 - mean) ** 2).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(ss_tot != 0, 1.0 - ss_res / ss_tot, np.where(ss_res == 0, 1.0, 0.0))
        return float(np.mean(r2))


class LogisticRegression(_ClassifierProbe):
    """L2-penalised logistic regression (binary for two classes, multinomial for more), as
    scikit-learn's ``LogisticRegression(solver="lbfgs")``.

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength (the penalty is ``||W||² / (2 C n)``).
    max_iter : int, default=100
        Most L-BFGS iterations; stopping there warns ``ConvergenceWarning``.
    tol : float, default=1e-4
        Converged when the largest gradient entry is at most ``tol``.
    fit_intercept : bool, default=True
        Whether to fit (unpenalised) intercepts.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) for two classes, else (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
    n_iter_ : ndarray of shape (1,), the L-BFGS iterations
    n_features_in_ : int
    """

    def __init__(self, C=1.0, max_iter=100, tol=1e-4, fit_intercept=True):
        self.C = C
        self.max_iter = max_iter
        self.tol = tol
        self.fit_intercept = fit_intercept

    def fit(self, X, y):
        """Fits on features ``X`` (n_samples, n_features) and labels ``y`` (n_samples,)."""
        owner = type(self).__name__
        core = _native.LogisticRegressionCore(
            _check_real(owner, "C", self.C, 0.0, False),
            _check_real(owner, "tol", self.tol, 0.0, True),
            _check_int(owner, "max_iter", self.max_iter, 1),
            _check_bool(owner, "fit_intercept", self.fit_intercept),
        )
        X = self._fit_features(X)
        classes, codes = encode_labels(y)
        core.fit(X, codes)
        self._core = core
        self.n_features_in_ = X.shape[1]
        self.classes_ = classes
        self.coef_ = core.coef
        self.intercept_ = core.intercept
        self.n_iter_ = np.array([core.n_iter], dtype=np.int32)
        if not core.converged:
            warnings.warn(
                f"lbfgs failed to converge after {core.n_iter} iteration(s) "
                f"(max_iter={self.max_iter}): increase max_iter or scale the data.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def decision_function(self, X):
        """Raw scores ``X @ coef_.T + intercept_``: shape (n_samples,) for two classes (the
        score of ``classes_[1]``), else (n_samples, n_classes)."""
        core, X = self._predict_features(X)
        z = core.decision_function(X)
        return z[:, 0] if z.shape[1] == 1 else z

    def predict_log_proba(self, X):
        """The logarithm of ``predict_proba``."""
        return np.log(self.predict_proba(X))


class KNeighborsClassifier(_RebuiltOnUnpickle, _ClassifierProbe):
    """k-nearest-neighbour vote (Euclidean distance, uniform weights), as scikit-learn's
    ``KNeighborsClassifier`` with its defaults.

    Parameters
    ----------
    n_neighbors : int, default=5
    """

    def __init__(self, n_neighbors=5):
        self.n_neighbors = n_neighbors

    def fit(self, X, y):
        """Stores ``X`` (n_samples, n_features) and labels ``y`` (n_samples,)."""
        core = self._new_core()
        X = self._fit_features(X)
        classes, codes = encode_labels(y)
        core.fit(X, codes)
        self._core = core
        self._keep_training_set(X, codes)
        self.n_features_in_ = X.shape[1]
        self.classes_ = classes
        self.n_samples_fit_ = X.shape[0]
        return self

    def _new_core(self):
        """A fresh engine model with the checked ``n_neighbors``."""
        k = _check_int(type(self).__name__, "n_neighbors", self.n_neighbors, 1)
        return _native.KNeighborsClassifierCore(k)

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """``(distances, indices)`` of the ``n_neighbors`` nearest training rows of each row
        of ``X``, nearest first (or the indices alone), with scikit-learn's signature.

        Only ``X`` given and ``n_neighbors`` None or equal to the fitted one are supported:
        anything else raises ValueError rather than answering another question."""
        return _kneighbors(self, X, n_neighbors, return_distance)


def _kneighbors(est, X, n_neighbors, return_distance):
    """The shared body of both KNN probes' ``kneighbors``."""
    if X is None:
        raise ValueError(
            "kneighbors(X=None) (neighbours of the training rows themselves) is not "
            "supported: pass X"
        )
    if n_neighbors is not None and n_neighbors != est.n_neighbors:
        raise ValueError(
            f"n_neighbors={n_neighbors!r} differs from the fitted n_neighbors="
            f"{est.n_neighbors}: refit with that value instead"
        )
    core, X = est._predict_features(X)
    dist, idx = core.kneighbors(X)
    return (dist, idx) if return_distance else idx


class Ridge(_RegressorProbe):
    """L2-penalised least squares in closed form, as scikit-learn's ``Ridge`` on dense data.

    Parameters
    ----------
    alpha : float, default=1.0
    fit_intercept : bool, default=True

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) for 1-D targets, else (n_targets, n_features)
    intercept_ : float for 1-D targets, else ndarray of shape (n_targets,)
    n_features_in_ : int
    """

    def __init__(self, alpha=1.0, fit_intercept=True):
        self.alpha = alpha
        self.fit_intercept = fit_intercept

    def fit(self, X, y):
        """Fits on ``X`` (n_samples, n_features) and targets ``y`` (n_samples,) or
        (n_samples, n_targets)."""
        owner = type(self).__name__
        core = _native.RidgeCore(
            _check_real(owner, "alpha", self.alpha, 0.0, True),
            _check_bool(owner, "fit_intercept", self.fit_intercept),
        )
        X = self._fit_features(X)
        y = as_targets(y)
        core.fit(X, y)
        self._core = core
        self.n_features_in_ = X.shape[1]
        coef, intercept = core.coef, core.intercept
        # One target, as (n,) or (n, 1): coef_ (n_features,) as scikit-learn 1.9 gives.
        self.coef_ = coef[0] if y.ndim == 1 or y.shape[1] == 1 else coef
        if not self.fit_intercept:
            self.intercept_ = 0.0  # scikit-learn's, whatever the targets' shape
        else:
            self.intercept_ = float(intercept[0]) if y.ndim == 1 else intercept
        self.n_iter_ = None
        return self

    def predict(self, X):
        """Predictions, shaped (n_samples,) for one target (also given as (n, 1), as
        scikit-learn 1.9 does), else (n_samples, n_targets)."""
        core, X = self._predict_features(X)
        pred = core.predict(X)
        return pred[:, 0] if self.coef_.ndim == 1 and pred.ndim == 2 else pred


class KNeighborsRegressor(_RebuiltOnUnpickle, _RegressorProbe):
    """Mean target of the k nearest neighbours (Euclidean, uniform weights), as
    scikit-learn's ``KNeighborsRegressor`` with its defaults.

    Parameters
    ----------
    n_neighbors : int, default=5
    """

    def __init__(self, n_neighbors=5):
        self.n_neighbors = n_neighbors

    def fit(self, X, y):
        """Stores ``X`` (n_samples, n_features) and targets ``y``."""
        core = self._new_core()
        X = self._fit_features(X)
        y = as_targets(y)
        core.fit(X, y)
        self._core = core
        self._keep_training_set(X, y)
        self.n_features_in_ = X.shape[1]
        self.n_samples_fit_ = X.shape[0]
        return self

    def predict(self, X):
        """Predictions, shaped (n_samples,) or (n_samples, n_targets) like the targets."""
        core, X = self._predict_features(X)
        return core.predict(X)

    def _new_core(self):
        """A fresh engine model with the checked ``n_neighbors``."""
        k = _check_int(type(self).__name__, "n_neighbors", self.n_neighbors, 1)
        return _native.KNeighborsRegressorCore(k)

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """``(distances, indices)`` of the ``n_neighbors`` nearest training rows of each row
        of ``X``, nearest first (or the indices alone), with scikit-learn's signature.

        Only ``X`` given and ``n_neighbors`` None or equal to the fitted one are supported:
        anything else raises ValueError rather than answering another question."""
        return _kneighbors(self, X, n_neighbors, return_distance)
