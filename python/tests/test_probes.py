"""The probes against scikit-learn on generated data, the scikit-learn API (clone, Pipeline,
cross_validate, get/set_params), input layouts and dtypes."""

import threading
import warnings

import numpy as np
import pytest
import sklearn.linear_model as sk_lm
import sklearn.neighbors as sk_nb
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import nidl_rs

TIGHT = dict(tol=1e-10, max_iter=10_000)


# -- LogisticRegression ---------------------------------------------------------------------
@pytest.mark.parametrize("n_classes", [2, 4])
def test_logistic_converged_matches_sklearn(blobs, n_classes):
    X, y, Xt, _ = blobs
    keep = y < n_classes
    X, y = X[keep], y[keep]
    ours = nidl_rs.LogisticRegression(**TIGHT).fit(X, y)
    ref = sk_lm.LogisticRegression(**TIGHT).fit(X, y)
    np.testing.assert_array_equal(ours.classes_, ref.classes_)
    assert ours.coef_.shape == ref.coef_.shape
    assert ours.intercept_.shape == ref.intercept_.shape
    np.testing.assert_array_equal(ours.predict(Xt), ref.predict(Xt))
    np.testing.assert_allclose(ours.predict_proba(Xt), ref.predict_proba(Xt), rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        ours.decision_function(Xt), ref.decision_function(Xt), rtol=1e-5, atol=1e-5
    )
    assert ours.n_iter_.shape == (1,) and ours.n_iter_[0] >= 1
    assert ours.n_features_in_ == X.shape[1]


def test_logistic_defaults_are_sklearns():
    ours, ref = nidl_rs.LogisticRegression(), sk_lm.LogisticRegression()
    for k, v in ours.get_params().items():
        assert ref.get_params()[k] == v, k
    assert ours.get_params() == {"C": 1.0, "max_iter": 100, "tol": 1e-4, "fit_intercept": True}


def test_logistic_default_tolerance_predictions_match_sklearn(blobs):
    """At scikit-learn's default tol (1e-4, 100 iterations) both run the same L-BFGS
    iterations on the same objective and stop at the same iterate."""
    X, y, Xt, _ = blobs
    ours = nidl_rs.LogisticRegression().fit(X, y)
    ref = sk_lm.LogisticRegression().fit(X, y)
    np.testing.assert_array_equal(ours.n_iter_, ref.n_iter_)
    np.testing.assert_array_equal(ours.predict(Xt), ref.predict(Xt))
    np.testing.assert_allclose(ours.predict_proba(Xt), ref.predict_proba(Xt), atol=1e-6)


def test_logistic_string_and_arbitrary_integer_labels(blobs):
    X, y, Xt, _ = blobs
    names = np.array(["cat", "dog", "emu", "yak"])[y]
    ours = nidl_rs.LogisticRegression(**TIGHT).fit(X, names)
    ref = sk_lm.LogisticRegression(**TIGHT).fit(X, names)
    np.testing.assert_array_equal(ours.classes_, ["cat", "dog", "emu", "yak"])
    np.testing.assert_array_equal(ours.predict(Xt), ref.predict(Xt))
    odd_labels = np.array([-7, 3, 10**12, 42])
    fitted = nidl_rs.LogisticRegression(**TIGHT).fit(X, odd_labels[y])
    np.testing.assert_array_equal(fitted.classes_, [-7, 3, 42, 10**12])
    by_code = sk_lm.LogisticRegression(**TIGHT).fit(X, y)
    np.testing.assert_array_equal(fitted.predict(Xt), odd_labels[by_code.predict(Xt)])


def test_logistic_float32_and_fortran_order(blobs):
    X, y, Xt, _ = blobs
    c = nidl_rs.LogisticRegression(**TIGHT).fit(X, y)
    f = nidl_rs.LogisticRegression(**TIGHT).fit(np.asfortranarray(X), y)
    np.testing.assert_array_equal(c.coef_, f.coef_)  # the same numbers, bit for bit
    np.testing.assert_array_equal(c.predict_proba(Xt), f.predict_proba(np.asfortranarray(Xt)))
    strided = np.ascontiguousarray(np.repeat(X, 2, axis=1))[:, ::2]
    s = nidl_rs.LogisticRegression(**TIGHT).fit(strided, y)
    np.testing.assert_array_equal(c.coef_, s.coef_)
    # float32 features are fitted in float64 (as scikit-learn does with float64 input);
    # scikit-learn >= 1.8 fits float32 input in float32, so compare with its float64 fit of
    # the same (float32-rounded) values.
    X32 = X.astype(np.float32)
    o32 = nidl_rs.LogisticRegression(**TIGHT).fit(X32, y)
    r64 = sk_lm.LogisticRegression(**TIGHT).fit(X32.astype(np.float64), y)
    np.testing.assert_array_equal(o32.predict(Xt.astype(np.float32)), r64.predict(Xt))
    np.testing.assert_allclose(o32.predict_proba(Xt), r64.predict_proba(Xt), atol=1e-6)


def test_logistic_warns_when_not_converged(blobs):
    X, y, _, _ = blobs
    with pytest.warns(ConvergenceWarning):
        m = nidl_rs.LogisticRegression(max_iter=2).fit(X, y)
    assert m.n_iter_[0] == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nidl_rs.LogisticRegression(**TIGHT).fit(X, y)


def test_logistic_no_intercept(blobs):
    X, y, Xt, _ = blobs
    ours = nidl_rs.LogisticRegression(fit_intercept=False, **TIGHT).fit(X, y)
    ref = sk_lm.LogisticRegression(fit_intercept=False, **TIGHT).fit(X, y)
    np.testing.assert_array_equal(ours.intercept_, np.zeros(4))
    np.testing.assert_allclose(ours.predict_proba(Xt), ref.predict_proba(Xt), atol=1e-6)


# -- Ridge ----------------------------------------------------------------------------------
@pytest.mark.parametrize("two_d", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_matches_sklearn(regression, two_d, fit_intercept):
    X, Y, Xt, Yt = regression
    y = Y if two_d else Y[:, 0]
    # One target as a column (n, 1): sklearn 1.9 gives coef_ (d,) and predict (n,).
    ours1 = nidl_rs.Ridge(alpha=0.7, fit_intercept=fit_intercept).fit(X, Y[:, :1])
    ref1 = sk_lm.Ridge(alpha=0.7, fit_intercept=fit_intercept).fit(X, Y[:, :1])
    assert ours1.coef_.shape == ref1.coef_.shape
    assert np.shape(ours1.intercept_) == np.shape(ref1.intercept_)
    assert ours1.predict(Xt).shape == ref1.predict(Xt).shape
    np.testing.assert_allclose(ours1.predict(Xt), ref1.predict(Xt), rtol=1e-10, atol=1e-12)
    ours = nidl_rs.Ridge(alpha=0.7, fit_intercept=fit_intercept).fit(X, y)
    ref = sk_lm.Ridge(alpha=0.7, fit_intercept=fit_intercept).fit(X, y)
    assert ours.coef_.shape == ref.coef_.shape
    assert np.shape(ours.intercept_) == np.shape(ref.intercept_)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.predict(Xt), ref.predict(Xt), rtol=1e-10, atol=1e-12)
    yt = Yt if two_d else Yt[:, 0]
    assert ours.score(Xt, yt) == pytest.approx(ref.score(Xt, yt), rel=1e-10)


def test_score_length_mismatch_and_failed_refit(blobs):
    X, y, Xt, yt = blobs
    for est in [nidl_rs.LogisticRegression(), nidl_rs.KNeighborsClassifier()]:
        est.fit(X, y)
        with pytest.raises(ValueError, match="inconsistent numbers of samples"):
            est.score(Xt, yt[:1])
        # A refit that fails (y one row short) leaves no stale fitted attribute behind.
        with pytest.raises(ValueError):
            est.fit(X, y[:-1])
        assert not hasattr(est, "classes_") and not hasattr(est, "n_features_in_")
        with pytest.raises(NotFittedError):
            est.predict(Xt)
    reg = nidl_rs.Ridge().fit(X, X[:, 0])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        reg.score(Xt, Xt[:2, 0])


def test_ridge_more_features_than_rows():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(20, 50)), rng.normal(size=20)
    ours, ref = nidl_rs.Ridge().fit(X, y), sk_lm.Ridge().fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-9, atol=1e-12)


def test_ridge_score_is_sklearns_r2(regression):
    X, Y, Xt, Yt = regression
    ours, ref = nidl_rs.Ridge().fit(X, Y), sk_lm.Ridge().fit(X, Y)
    assert ours.score(Xt, Yt) == pytest.approx(ref.score(Xt, Yt), rel=1e-12)
    w = np.linspace(0.5, 2, len(Yt))
    assert ours.score(Xt, Yt, sample_weight=w) == pytest.approx(
        ref.score(Xt, Yt, sample_weight=w), rel=1e-12
    )


# -- k-NN -----------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 5, 8])
def test_knn_classifier_matches_sklearn(blobs, k):
    X, y, Xt, _ = blobs
    ours = nidl_rs.KNeighborsClassifier(n_neighbors=k).fit(X, y)
    ref = sk_nb.KNeighborsClassifier(n_neighbors=k).fit(X, y)
    np.testing.assert_array_equal(ours.predict(Xt), ref.predict(Xt))
    np.testing.assert_allclose(ours.predict_proba(Xt), ref.predict_proba(Xt), atol=1e-12)
    d, i = ours.kneighbors(Xt)
    rd, ri = ref.kneighbors(Xt)
    np.testing.assert_array_equal(i, ri)
    np.testing.assert_allclose(d, rd, rtol=1e-10)
    assert ours.score(Xt, ref.predict(Xt)) == 1.0


@pytest.mark.parametrize("cls", ["KNeighborsClassifier", "KNeighborsRegressor"])
def test_kneighbors_signature_as_sklearn(blobs, cls):
    X, y, Xt, _ = blobs
    ours = getattr(nidl_rs, cls)(n_neighbors=3).fit(X, y)
    ref = getattr(sk_nb, cls)(n_neighbors=3).fit(X, y)
    # Positional (X, n_neighbors, return_distance) as sklearn's.
    np.testing.assert_array_equal(ours.kneighbors(Xt, 3, False), ref.kneighbors(Xt, 3, False))
    d, i = ours.kneighbors(Xt, n_neighbors=None)
    assert d.shape == i.shape == (len(Xt), 3)
    with pytest.raises(ValueError, match="n_neighbors=2"):
        ours.kneighbors(Xt, 2)
    with pytest.raises(ValueError, match="X=None"):
        ours.kneighbors()


def test_knn_classifier_float32(blobs):
    X, y, Xt, _ = blobs
    ours = nidl_rs.KNeighborsClassifier().fit(X.astype(np.float32), y)
    ref = sk_nb.KNeighborsClassifier().fit(X.astype(np.float32), y)
    np.testing.assert_array_equal(
        ours.predict(Xt.astype(np.float32)), ref.predict(Xt.astype(np.float32))
    )


def test_knn_regressor_matches_sklearn(regression):
    X, Y, Xt, Yt = regression
    for y in (Y, Y[:, 1]):
        ours = nidl_rs.KNeighborsRegressor(n_neighbors=4).fit(X, y)
        ref = sk_nb.KNeighborsRegressor(n_neighbors=4).fit(X, y)
        np.testing.assert_allclose(ours.predict(Xt), ref.predict(Xt), rtol=1e-12, atol=1e-12)
    assert ours.score(Xt, Yt[:, 1]) == pytest.approx(ref.score(Xt, Yt[:, 1]), rel=1e-10)


# -- scikit-learn's API ---------------------------------------------------------------------
ALL = [
    nidl_rs.LogisticRegression,
    nidl_rs.Ridge,
    nidl_rs.KNeighborsClassifier,
    nidl_rs.KNeighborsRegressor,
]


@pytest.mark.parametrize("cls", ALL)
def test_clone_and_params(cls):
    est = cls()
    params = est.get_params()
    twin = clone(est)
    assert twin is not est and twin.get_params() == params
    key = next(iter(params))
    value = params[key] * 2 if not isinstance(params[key], bool) else not params[key]
    assert est.set_params(**{key: value}) is est
    assert est.get_params()[key] == value
    with pytest.raises(ValueError):
        est.set_params(no_such_parameter=1)
    assert is_classifier(est) != is_regressor(est)


def test_cross_validate_and_pipeline_match_sklearn(blobs):
    X, y, _, _ = blobs
    ours = make_pipeline(StandardScaler(), nidl_rs.LogisticRegression(C=0.5, **TIGHT))
    ref = make_pipeline(StandardScaler(), sk_lm.LogisticRegression(C=0.5, **TIGHT))
    a = cross_validate(ours, X, y, cv=4, scoring="accuracy", error_score="raise")
    b = cross_validate(ref, X, y, cv=4, scoring="accuracy")
    np.testing.assert_array_equal(a["test_score"], b["test_score"])
    a = cross_validate(ours, X, y, cv=3, scoring="neg_log_loss", error_score="raise")
    b = cross_validate(ref, X, y, cv=3, scoring="neg_log_loss")
    np.testing.assert_allclose(a["test_score"], b["test_score"], atol=1e-6)


def test_cross_validate_regressors(regression):
    X, Y, _, _ = regression
    for ours, ref in [
        (nidl_rs.Ridge(alpha=2.0), sk_lm.Ridge(alpha=2.0)),
        (nidl_rs.KNeighborsRegressor(), sk_nb.KNeighborsRegressor()),
    ]:
        a = cross_validate(ours, X, Y[:, 0], cv=3, error_score="raise")["test_score"]
        b = cross_validate(ref, X, Y[:, 0], cv=3)["test_score"]
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_grid_search_refits(blobs):
    from sklearn.model_selection import GridSearchCV

    X, y, _, _ = blobs
    gs = GridSearchCV(nidl_rs.KNeighborsClassifier(), {"n_neighbors": [1, 3, 7]}, cv=3)
    ref = GridSearchCV(sk_nb.KNeighborsClassifier(), {"n_neighbors": [1, 3, 7]}, cv=3)
    gs.fit(X, y)
    ref.fit(X, y)
    assert gs.best_params_ == ref.best_params_
    np.testing.assert_allclose(
        gs.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"]
    )


def test_refit_replaces_the_model(blobs):
    X, y, Xt, _ = blobs
    m = nidl_rs.LogisticRegression(**TIGHT).fit(X, y)
    m.fit(X[:, :3], y % 2)
    assert m.n_features_in_ == 3 and list(m.classes_) == [0, 1] and m.coef_.shape == (1, 3)


# -- threads --------------------------------------------------------------------------------
# Whether a fit releases the GIL is not asserted here: every way to observe it from Python
# depends on timing (the rules forbid timed assertions). What is asserted: fits running in
# parallel threads (the GIL released inside each) give the same models as sequential fits.
def test_parallel_fits_in_threads_match_sequential(blobs):
    X, y, Xt, _ = blobs
    seq = [nidl_rs.LogisticRegression(C=c, **TIGHT).fit(X, y) for c in (0.1, 1.0, 10.0)]
    par = [nidl_rs.LogisticRegression(C=c, **TIGHT) for c in (0.1, 1.0, 10.0)]
    threads = [threading.Thread(target=m.fit, args=(X, y)) for m in par]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(seq, par):
        np.testing.assert_array_equal(a.coef_, b.coef_)
        np.testing.assert_array_equal(a.predict_proba(Xt), b.predict_proba(Xt))


def test_concurrent_fits_give_the_serial_results(blobs):
    """Fits in 4 Python threads at once (the GIL released) give bit-identical models."""
    from concurrent.futures import ThreadPoolExecutor

    X, y, Xt, _ = blobs
    serial = nidl_rs.LogisticRegression(**TIGHT).fit(X, y).coef_
    with ThreadPoolExecutor(4) as pool:
        coefs = list(pool.map(lambda _: nidl_rs.LogisticRegression(**TIGHT).fit(X, y).coef_, range(8)))
    for c in coefs:
        np.testing.assert_array_equal(c, serial)
