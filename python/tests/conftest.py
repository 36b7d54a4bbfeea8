"""Shared helpers: the crate's golden values (tests/data at the repository root) and data."""

import os

import numpy as np
import pytest

GOLDEN = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data")


def golden(case, name):
    """The golden array ``tests/data/<case>/<name>.npy`` (float64, made by PyTorch/sklearn)."""
    return np.load(os.path.join(GOLDEN, case, f"{name}.npy"))


@pytest.fixture
def blobs():
    """A 4-class problem: 400 training and 200 test rows in 6-D, Gaussian clusters."""
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 2.0, size=(4, 6))
    y = rng.integers(0, 4, size=600)
    X = centres[y] + rng.normal(0, 1.5, size=(600, 6))
    return X[:400], y[:400], X[400:], y[400:]


@pytest.fixture
def regression():
    """Linear targets with noise: 300 training and 100 test rows in 5-D, two target columns."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 5))
    W = rng.normal(size=(5, 2))
    Y = X @ W + 0.3 * rng.normal(size=(400, 2)) + np.array([1.0, -2.0])
    return X[:300], Y[:300], X[300:], Y[300:]
