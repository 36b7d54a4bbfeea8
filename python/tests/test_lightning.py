"""ProbingCallback with duck-typed trainer and module (no torch or Lightning needed): nidl
0.0.1's schedule and tags, the metrics of the fitted probe, the module's mode restored."""

import numpy as np
import pytest
import sklearn.linear_model as sk_lm
from sklearn import metrics as skm

import nidl_rs
from nidl_rs.lightning import ProbingCallback

CLASSIFICATION = ["accuracy", "balanced_accuracy", "f1_macro", "precision_macro", "recall_macro", "f1_weighted"]
REGRESSION = ["MAE", "MedAE", "RMSE", "MSE", "R2", "PCC", "EVar"]


class FakeModule:
    """What the callback uses of a nidl estimator: transform_step, train/eval, log/log_dict."""

    def __init__(self, W):
        self.W = W
        self.training = True
        self.logged = []  # (epoch, tag, value, prog_bar, on_epoch)
        self.epoch = 0
        self.modes_seen = []

    def eval(self):
        self.training = False

    def train(self):
        self.training = True

    def transform_step(self, x, batch_idx):
        self.modes_seen.append(self.training)
        return np.tanh(np.asarray(x) @ self.W)

    def log_dict(self, d, prog_bar, on_epoch):
        for k, v in d.items():
            self.logged.append((self.epoch, k, float(v), prog_bar, on_epoch))

    def log(self, k, v, prog_bar, on_epoch):
        self.logged.append((self.epoch, k, float(v), prog_bar, on_epoch))


class FakeTrainer:
    world_size = 1
    global_rank = 0


def batches(X, y, size=32):
    return [(X[i : i + size], y[i : i + size]) for i in range(0, len(X), size)]


@pytest.fixture
def setup():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=300)
    X = rng.normal(size=(3, 8))[y] + rng.normal(size=(300, 8))
    age = X[:, 0] * 2 + rng.normal(size=300)
    W = rng.normal(size=(8, 4))
    return X, y, age, FakeModule(W)


def run_epochs(cb, module, n, trainer=None):
    trainer = trainer or FakeTrainer()
    for e in range(1, n + 1):
        module.epoch = e
        cb.on_train_epoch_end(trainer, module)
        cb.on_validation_epoch_end(trainer, module)


def test_classification_schedule_tags_and_values(setup):
    X, y, _, module = setup
    train, test = batches(X[:200], y[:200]), batches(X[200:], y[200:])
    cb = ProbingCallback(train, test, probe=nidl_rs.LogisticRegression(), every_n_train_epochs=2)
    run_epochs(cb, module, 5)
    epochs = sorted({e for e, *_ in module.logged})
    assert epochs == [2, 4]
    tags = [t for e, t, *_ in module.logged if e == 2]
    assert tags == [f"LogisticRegression/{m}" for m in CLASSIFICATION]
    assert all(pb is True and oe is True for *_, pb, oe in module.logged)
    # The values: scikit-learn's metrics of scikit-learn's probe on the same embeddings.
    Ztr, Zte = np.tanh(X[:200] @ module.W), np.tanh(X[200:] @ module.W)
    pred = sk_lm.LogisticRegression().fit(Ztr, y[:200]).predict(Zte)
    rep = skm.classification_report(y[200:], pred, output_dict=True, zero_division=0)
    want = [rep["accuracy"], skm.balanced_accuracy_score(y[200:], pred), rep["macro avg"]["f1-score"],
            rep["macro avg"]["precision"], rep["macro avg"]["recall"], rep["weighted avg"]["f1-score"]]
    got = [v for e, t, v, *_ in module.logged if e == 2]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # Embedded in eval mode, and the training mode restored afterwards.
    assert module.modes_seen and not any(module.modes_seen) and module.training


def test_default_probe_and_names(setup):
    X, y, _, module = setup
    cb = ProbingCallback(batches(X, y), batches(X, y), probe_name="linear", prog_bar=False)
    assert isinstance(cb.probe, nidl_rs.LogisticRegression)
    run_epochs(cb, module, 1)
    assert [t for _, t, *_ in module.logged] == [f"linear/{m}" for m in CLASSIFICATION]
    assert all(pb is False for *_, pb, _ in module.logged)


def test_regression_tags_one_and_several_targets(setup):
    X, _, age, module = setup
    cb = ProbingCallback(batches(X, age), batches(X, age), probe=nidl_rs.Ridge())
    run_epochs(cb, module, 1)
    assert [t for _, t, *_ in module.logged] == [f"Ridge/{m}" for m in REGRESSION]
    module.logged.clear()
    Y = np.stack([age, -age], axis=1)
    cb = ProbingCallback(batches(X, Y), batches(X, Y), probe=nidl_rs.KNeighborsRegressor(), probe_name="knn")
    run_epochs(cb, module, 1)
    rows = ["regressor 0", "regressor 1", "average"]
    assert [t for _, t, *_ in module.logged] == [f"knn/{r}/{m}" for r in rows for m in REGRESSION]


def test_multitask_tags(setup):
    X, y, age, module = setup
    Y = np.stack([y, age], axis=1)
    cb = ProbingCallback(
        batches(X, Y), batches(X, Y), probe=[nidl_rs.KNeighborsClassifier(), nidl_rs.Ridge()]
    )
    run_epochs(cb, module, 1)
    tags = [t for _, t, *_ in module.logged]
    assert tags == [f"task0/{m}" for m in CLASSIFICATION] + [f"task1/{m}" for m in REGRESSION]
    assert len(cb.fitted_probes_) == 2 and cb.fitted_probes_[0] is not cb.probe[0]
    module.logged.clear()
    cb = ProbingCallback(batches(X, Y), batches(X, Y), probe=[nidl_rs.LogisticRegression(), nidl_rs.Ridge()],
                         probe_names=["diagnosis", "age"])
    run_epochs(cb, module, 1)
    assert {t.split("/")[0] for _, t, *_ in module.logged} == {"diagnosis", "age"}
    with pytest.raises(ValueError, match="probe names"):
        ProbingCallback([], [], probe=[nidl_rs.Ridge()], probe_names=["a", "b"])


def test_validation_and_test_hooks(setup):
    """nidl 0.0.1 never advances its validation counter: with every_n_val_epochs set, every
    validation epoch probes."""
    X, y, _, module = setup
    cb = ProbingCallback(batches(X, y), batches(X, y), every_n_train_epochs=None,
                         every_n_val_epochs=3, on_test_epoch_end=True)
    run_epochs(cb, module, 3)
    assert sorted({e for e, *_ in module.logged}) == [1, 2, 3]
    module.logged.clear()
    module.epoch = 9
    cb.on_test_epoch_start(FakeTrainer(), module)
    assert module.logged == []
    cb.on_test_epoch_end(FakeTrainer(), module)
    assert {e for e, *_ in module.logged} == {9}


def test_other_ranks_do_not_log(setup):
    X, y, _, module = setup

    class Rank1(FakeTrainer):
        global_rank = 1

    cb = ProbingCallback(batches(X, y), batches(X, y))
    run_epochs(cb, module, 2, trainer=Rank1())
    assert module.logged == []


def test_bad_modules_and_probes(setup):
    X, y, _, _ = setup
    with pytest.raises(ValueError, match="classifier or a regressor"):
        ProbingCallback([], [], probe=object())
    cb = ProbingCallback(batches(X, y), batches(X, y))
    with pytest.raises(ValueError, match="transform_step"):
        cb.on_train_epoch_end(FakeTrainer(), object())
