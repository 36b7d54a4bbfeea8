"""nidl's reports: golden values (scikit-learn, nidl 0.0.1) and scikit-learn on string labels."""

import os

import numpy as np
import pytest
from conftest import GOLDEN, golden
from sklearn import metrics as skm

import nidl_rs

CLASSIFICATION_KEYS = [
    "accuracy", "balanced_accuracy", "f1_macro", "precision_macro", "recall_macro", "f1_weighted",
]
REGRESSION_KEYS = ["MAE", "MedAE", "RMSE", "MSE", "R2", "PCC", "EVar"]


def test_classification_report_golden():
    case = "classification_metrics"
    report = nidl_rs.classification_report(golden(case, "y_true"), golden(case, "y_pred"))
    assert list(report) == CLASSIFICATION_KEYS
    # values.npy: [accuracy, balanced_accuracy, precision_macro, recall_macro, f1_macro, f1_weighted]
    order = ["accuracy", "balanced_accuracy", "precision_macro", "recall_macro", "f1_macro", "f1_weighted"]
    np.testing.assert_allclose([report[k] for k in order], golden(case, "values"), rtol=1e-12)


def test_classification_report_string_labels_match_sklearn():
    rng = np.random.default_rng(0)
    names = np.array(["a", "b", "c", "d"])
    t, p = names[rng.integers(0, 4, 300)], names[rng.integers(0, 3, 300)]  # "d" never predicted
    r = nidl_rs.classification_report(t, p)
    sk = skm.classification_report(t, p, output_dict=True, zero_division=0)
    assert r["accuracy"] == pytest.approx(sk["accuracy"], rel=1e-12)
    assert r["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(t, p), rel=1e-12)
    assert r["f1_macro"] == pytest.approx(sk["macro avg"]["f1-score"], rel=1e-12)
    assert r["precision_macro"] == pytest.approx(sk["macro avg"]["precision"], rel=1e-12)
    assert r["recall_macro"] == pytest.approx(sk["macro avg"]["recall"], rel=1e-12)
    assert r["f1_weighted"] == pytest.approx(sk["weighted avg"]["f1-score"], rel=1e-12)


def test_regression_report_golden():
    case = "regression_metrics"
    report = nidl_rs.regression_report(golden(case, "y_true"), golden(case, "y_pred"))
    assert list(report) == REGRESSION_KEYS
    np.testing.assert_allclose([report[k] for k in REGRESSION_KEYS], golden(case, "values"), rtol=1e-10)


@pytest.mark.parametrize("k", [2, 3])
def test_regression_report_multi_matches_nidl(k):
    case = "regression_report_multi"
    report = nidl_rs.regression_report(golden(case, f"y_true{k}"), golden(case, f"y_pred{k}"))
    want = golden(case, f"report{k}")
    rows = [f"regressor {i}" for i in range(k)] + ["average"]
    assert list(report) == rows
    for row, values in zip(rows, want):
        assert list(report[row]) == REGRESSION_KEYS
        np.testing.assert_allclose([report[row][m] for m in REGRESSION_KEYS], values, rtol=1e-10)
    with open(os.path.join(GOLDEN, case, f"tags{k}.txt")) as f:
        tags = [line.strip() for line in f if line.strip()]
    assert [f"{row}/{m}" for row in rows for m in REGRESSION_KEYS] == tags


def test_reports_refuse_bad_input():
    with pytest.raises(ValueError):
        nidl_rs.classification_report([1, 2, 3], [1, 2])
    with pytest.raises(ValueError):
        nidl_rs.classification_report([], [])
    with pytest.raises(ValueError):
        nidl_rs.regression_report([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(ValueError):
        nidl_rs.regression_report(np.ones((4, 2)), np.ones((4, 3)))
    with pytest.raises(ValueError):
        nidl_rs.regression_report(["a", "b"], [1.0, 2.0])
