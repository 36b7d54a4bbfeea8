"""Bad input raises ValueError (never a crash), NotFittedError before fit, no leak over 1000
fits, and the package without scikit-learn or Lightning."""

import os
import subprocess
import sys

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import nidl_rs

CLASSIFIERS = [nidl_rs.LogisticRegression, nidl_rs.KNeighborsClassifier]
REGRESSORS = [nidl_rs.Ridge, nidl_rs.KNeighborsRegressor]


def data(n=20, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), np.arange(n) % 3


@pytest.mark.parametrize("cls", CLASSIFIERS + REGRESSORS)
def test_bad_features_raise_value_error(cls):
    X, y = data()
    bad = {
        "1-D X": (X[:, 0], y),
        "3-D X": (X[:, :, None], y),
        "NaN": (np.where(np.arange(X.size).reshape(X.shape) == 7, np.nan, X), y),
        "inf": (np.where(np.arange(X.size).reshape(X.shape) == 3, np.inf, X), y),
        "strings": (X.astype(str), y),
        "objects": (np.array([[object()] * 3] * 20), y),
        "complex": (X.astype(complex), y),
        "length mismatch": (X, y[:-1]),
        "empty": (X[:0], y[:0]),
        "no columns": (X[:, :0], y),
        "ragged": ([[1.0, 2.0], [3.0]], [0, 1]),
    }
    for what, (Xb, yb) in bad.items():
        with pytest.raises(ValueError):
            cls().fit(Xb, yb)
            pytest.fail(what)


@pytest.mark.parametrize("cls", CLASSIFIERS + REGRESSORS)
def test_not_fitted_and_wrong_width(cls):
    X, y = data()
    est = cls()
    methods = ["predict"] + (["predict_proba"] if cls in CLASSIFIERS else [])
    for m in methods:
        with pytest.raises(NotFittedError):
            getattr(est, m)(X)
    assert issubclass(NotFittedError, ValueError)
    est.fit(X, y)
    with pytest.raises(ValueError, match="features"):
        est.predict(X[:, :2])
    with pytest.raises(ValueError):
        est.predict(np.full((2, 3), np.nan))


def test_classifier_label_errors():
    X, y = data()
    with pytest.raises(ValueError, match="2 classes"):
        nidl_rs.LogisticRegression().fit(X, np.zeros(20, dtype=int))
    with pytest.raises(ValueError, match="continuous|non-integral"):
        nidl_rs.LogisticRegression().fit(X, np.linspace(0, 1, 20))
    with pytest.raises(ValueError):
        nidl_rs.LogisticRegression().fit(X, np.where(np.arange(20) == 4, np.nan, 1.0))
    with pytest.raises(ValueError):
        nidl_rs.KNeighborsClassifier().fit(X, np.ones((20, 2)))
    # Integral floats are labels (as in scikit-learn).
    m = nidl_rs.LogisticRegression().fit(X, (y + 1).astype(float))
    assert list(m.classes_) == [1.0, 2.0, 3.0]


def test_parameter_errors():
    X, y = data()
    for est in [
        nidl_rs.LogisticRegression(C=0.0),
        nidl_rs.LogisticRegression(C=-1.0),
        nidl_rs.LogisticRegression(C=float("nan")),
        nidl_rs.LogisticRegression(max_iter=0),
        nidl_rs.LogisticRegression(max_iter=2.5),
        nidl_rs.LogisticRegression(tol=-1.0),
        nidl_rs.LogisticRegression(fit_intercept="yes"),
        nidl_rs.Ridge(alpha=-1.0),
        nidl_rs.KNeighborsClassifier(n_neighbors=0),
        nidl_rs.KNeighborsClassifier(n_neighbors=21),  # more neighbours than rows
        nidl_rs.KNeighborsRegressor(n_neighbors=-3),
    ]:
        with pytest.raises(ValueError):
            est.fit(X, y)
            pytest.fail(repr(est))


def test_ridge_singular_system_is_an_error():
    X = np.ones((10, 3))
    with pytest.raises(ValueError):
        nidl_rs.Ridge(alpha=0.0, fit_intercept=False).fit(X, np.arange(10.0))


def test_core_objects_refuse_wrong_dtypes():
    """The extension module itself answers ValueError, not a crash, for what the Python layer
    would never pass."""
    from nidl_rs import _native

    core = _native.LogisticRegressionCore(1.0, 1e-4, 100, True)
    X, y = data()
    for Xb, yb in [(X.astype(np.int64), y), (X, y.astype(np.int32)), ([[1.0]], [0]), (X, y[:, None])]:
        with pytest.raises(ValueError):
            core.fit(Xb, yb)
    with pytest.raises(ValueError):
        core.coef


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_no_leak_over_1000_fits():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 16))
    y = rng.integers(0, 4, size=500)
    yr = rng.normal(size=500)
    x_img, w_img = rng.normal(size=(4, 3, 8, 8)), rng.normal(size=(5, 3, 3, 3))
    g_img = rng.normal(size=(4, 5, 8, 8))

    def round_():
        nidl_rs.LogisticRegression(max_iter=20).fit(X, y).predict_proba(X)
        nidl_rs.Ridge().fit(X, yr).predict(X)
        nidl_rs.KNeighborsClassifier().fit(X, y).predict(X[:50])
        nidl_rs.KNeighborsRegressor().fit(X, yr).predict(X[:50])
        # One reference op through its autograd graph (forward + backward).
        nidl_rs.conv2d(x_img, w_img, padding=1, grad_output=g_img)
        with pytest.raises(ValueError):
            nidl_rs.LogisticRegression().fit(X, y[:-1])

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(100):
            round_()
        before = rss_bytes()
        for _ in range(1000):
            round_()
        after = rss_bytes()
    # 1000 rounds allocate ~1000 × 0.5 MB; a leak of even one X-sized buffer per round would
    # grow the RSS by ~60 MB. Allow 8 MB of allocator noise.
    assert after - before < 8 * 2**20, f"RSS grew by {(after - before) / 2**20:.1f} MiB"


def run_isolated(code):
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )


def test_imports_without_sklearn_and_lightning():
    code = """
import sys
sys.modules['sklearn'] = None  # importing it now fails
import numpy as np, nidl_rs
assert 'torch' not in sys.modules and 'lightning' not in sys.modules
assert 'pytorch_lightning' not in sys.modules
from nidl_rs._base import BaseEstimator
assert issubclass(nidl_rs.LogisticRegression, BaseEstimator)
m = nidl_rs.LogisticRegression(C=0.5)
assert m.get_params() == {'C': 0.5, 'fit_intercept': True, 'max_iter': 100, 'tol': 1e-4}
assert repr(m) == 'LogisticRegression(C=0.5)', repr(m)
m.set_params(max_iter=50)
try:
    m.set_params(bogus=1)
    raise SystemExit('set_params accepted an unknown name')
except ValueError:
    pass
try:
    m.predict(np.ones((2, 2)))
    raise SystemExit('predict before fit')
except nidl_rs.NotFittedError as e:
    assert isinstance(e, ValueError)
X = np.random.default_rng(0).normal(size=(30, 2)); y = (X[:, 0] > 0).astype(int)
assert m.fit(X, y).score(X, y) > 0.9
assert m._estimator_type == 'classifier' and nidl_rs.Ridge._estimator_type == 'regressor'
from nidl_rs.lightning import ProbingCallback
print('ok')
"""
    r = run_isolated(code)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_fitted_probe_pickling_is_refused_cleanly():
    import pickle

    X, y = data()
    pickle.loads(pickle.dumps(nidl_rs.LogisticRegression(C=2.0)))  # unfitted: fine
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(nidl_rs.LogisticRegression().fit(X, y))
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(nidl_rs.Ridge().fit(X, X[:, 0]))


def test_fitted_knn_probes_pickle_and_copy():
    import copy
    import pickle

    X, y = data()
    Xt = X[::3] + 0.1
    clf = nidl_rs.KNeighborsClassifier(n_neighbors=3).fit(X, y)
    reg = nidl_rs.KNeighborsRegressor(n_neighbors=3).fit(X, X[:, 0])
    for est in (clf, reg):
        for twin in (pickle.loads(pickle.dumps(est)), copy.copy(est), copy.deepcopy(est)):
            assert type(twin) is type(est) and twin.n_neighbors == 3
            np.testing.assert_array_equal(twin.predict(Xt), est.predict(Xt))
            np.testing.assert_array_equal(twin.kneighbors(Xt)[1], est.kneighbors(Xt)[1])
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).classes_, clf.classes_)
