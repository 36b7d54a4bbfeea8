"""Golden values of scikit-learn's MLPClassifier / MLPRegressor (solver="lbfgs") for the MLP probe
(tests/data/mlp_probe/<case>/, read by tests/probe_mlp.rs).

Run with scikit-learn 1.7.0, scipy 1.17.1, numpy 2.4 (the /work/venv-nidl2 environment):

    python scripts/mlp_probe_golden.py tests/data/mlp_probe

For each case it draws a fixed, nonlinear data set (numpy seed per case), fits scikit-learn's
estimator with `random_state=0` and records, through a spy around `scipy.optimize.minimize` (the
call `_fit_lbfgs` makes), the packed initial parameters `x0` scikit-learn drew (its `_init_coef`,
Glorot uniform) and its own `_loss_grad_lbfgs` at `x0`. Written as float64 `.npy`:

- `X`, `y`, `X_test`, `y_test`: the data (labels as float64 integers);
- `units`: the layer sizes `[n_features, hidden..., n_outputs]`;
- `alpha`: the L2 penalty; `x0`: the initial parameters in `_pack`'s layout (every coefficient
  matrix row-major `(fan_in, fan_out)`, then every intercept vector);
- `loss0`, `grad0`: `_loss_grad_lbfgs(x0)`;
- `x_final`: the fitted parameters (packed); `loss_final`, `grad_final`: `_loss_grad_lbfgs` there;
- `n_iter`: `n_iter_`; `pred`: `predict(X_test)`; `proba`: `predict_proba(X_test)` (classifiers);
- `x_iter10`: the parameters after 10 L-BFGS iterations (a second fit, `max_iter=10`, from the
  same `x0`), to compare the solvers' first steps.
"""
import os
import sys

import numpy as np
import scipy.optimize
from sklearn.neural_network import MLPClassifier, MLPRegressor

REAL_MINIMIZE = scipy.optimize.minimize
SPY = {}


def spy_minimize(fun, x0, args=(), **kwargs):
    SPY["x0"] = np.array(x0, dtype=np.float64, copy=True)
    loss, grad = fun(x0.copy(), *args)
    SPY["loss0"], SPY["grad0"] = float(loss), np.array(grad, copy=True)
    res = REAL_MINIMIZE(fun, x0, args=args, **kwargs)
    loss, grad = fun(res.x.copy(), *args)
    SPY["x_final"] = np.array(res.x, copy=True)
    SPY["loss_final"], SPY["grad_final"] = float(loss), np.array(grad, copy=True)
    return res


scipy.optimize.minimize = spy_minimize


def data(kind, seed, n, n_test, d):
    rng = np.random.RandomState(seed)
    x = rng.normal(size=(n + n_test, d))
    if kind == "multiclass":
        # Three angular sectors of (x0, x1), labels 3, 5, 9: not linearly separable.
        angle = np.arctan2(x[:, 1], x[:, 0]) + 0.3 * rng.normal(size=n + n_test)
        sector = np.floor((angle + np.pi) / (2 * np.pi / 3)).astype(int) % 3
        y = np.array([3, 5, 9])[sector].astype(np.float64)
    elif kind == "binary":
        # XOR of the signs of x0 and x1, labels -1 and 4.
        flip = rng.uniform(size=n + n_test) < 0.05
        cls = (x[:, 0] * x[:, 1] > 0) ^ flip
        y = np.where(cls, 4, -1).astype(np.float64)
    elif kind == "regressor":
        y = np.sin(2 * x[:, 0]) + 0.5 * x[:, 1] ** 2 - x[:, 2] + 0.1 * rng.normal(size=n + n_test)
    else:  # regressor_multi: two target columns
        y0 = np.sin(2 * x[:, 0]) + x[:, 2]
        y1 = np.abs(x[:, 1]) - 0.5 * x[:, 3]
        y = np.stack([y0, y1], axis=1) + 0.1 * rng.normal(size=(n + n_test, 2))
    return x[:n], y[:n], x[n:], y[n:]


CASES = [
    # name, estimator, hidden, alpha, seed, n, n_test, d
    ("multiclass", MLPClassifier, (16, 8), 1e-2, 1, 800, 400, 6),
    ("binary", MLPClassifier, (12,), 1e-3, 2, 500, 400, 5),
    ("regressor", MLPRegressor, (16,), 1e-4, 3, 500, 400, 5),
    ("regressor_multi", MLPRegressor, (10,), 1e-2, 4, 400, 300, 4),
]


def main(out_root):
    for name, est, hidden, alpha, seed, n, n_test, d in CASES:
        x, y, x_test, y_test = data(name, seed, n, n_test, d)
        model = est(
            hidden_layer_sizes=hidden,
            activation="relu",
            solver="lbfgs",
            alpha=alpha,
            max_iter=200,
            random_state=0,
        )
        SPY.clear()
        fit_y = y.astype(int) if est is MLPClassifier else y
        model.fit(x, fit_y)
        x_final, x0 = SPY["x_final"], SPY["x0"]
        short = est(
            hidden_layer_sizes=hidden,
            activation="relu",
            solver="lbfgs",
            alpha=alpha,
            max_iter=10,
            random_state=0,
        )
        spied = dict(SPY)
        short.fit(x, fit_y)
        assert np.array_equal(SPY["x0"], x0)
        x_iter10 = SPY["x_final"]
        SPY.clear()
        SPY.update(spied)
        assert np.array_equal(SPY["x_final"], x_final)
        out = os.path.join(out_root, name)
        os.makedirs(out, exist_ok=True)
        n_out = model.n_outputs_
        arrays = {
            "X": x,
            "y": y,
            "X_test": x_test,
            "y_test": y_test,
            "units": np.array([d, *hidden, n_out], dtype=np.float64),
            "alpha": np.array([alpha]),
            "x0": SPY["x0"],
            "loss0": np.array([SPY["loss0"]]),
            "grad0": SPY["grad0"],
            "x_final": SPY["x_final"],
            "loss_final": np.array([SPY["loss_final"]]),
            "grad_final": SPY["grad_final"],
            "n_iter": np.array([float(model.n_iter_)]),
            "x_iter10": x_iter10,
            "pred": model.predict(x_test).astype(np.float64),
        }
        if est is MLPClassifier:
            arrays["proba"] = model.predict_proba(x_test)
        for key, value in arrays.items():
            np.save(os.path.join(out, f"{key}.npy"), np.ascontiguousarray(value, dtype=np.float64))
        score = model.score(x_test, y_test.astype(int) if est is MLPClassifier else y_test)
        print(f"{name}: units {arrays['units'].astype(int).tolist()}, n_iter {model.n_iter_}, "
              f"loss0 {SPY['loss0']:.6f}, loss {SPY['loss_final']:.6f}, test score {score:.4f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/mlp_probe")
