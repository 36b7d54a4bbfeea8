"""Golden values of nidl 0.0.1's multi-output `regression_report` (tests/data/regression_report_multi/).

Run with nidl 0.0.1 installed (`pip install nidl==0.0.1`):

    python scripts/nidl_metrics_golden.py tests/data/regression_report_multi

For k = 2 and k = 3 target columns it draws a fixed `y_true` (n = 51, odd, and n = 50, even, so
both median rules are used) and a `y_pred` correlated with it, calls nidl's own
`regression_report(y_true, y_pred, output_dict=True)` and writes, as float64 `.npy`:

- `y_true<k>.npy`, `y_pred<k>.npy`: the inputs, shape (n, k);
- `report<k>.npy`: shape (k + 1, 7), row i the dict's `regressor i` entry and the last row its
  `average` entry, columns in the dict's order (MAE, MedAE, RMSE, MSE, R2, PCC, EVar);

and `tags<k>.txt`: the dict flattened as the probing callback tags it (`regressor 0/MAE`, ...,
`average/EVar`), one per line, in the dict's order.

nidl 0.0.1's `BatchTypingCallback` imports a module `typex` that PyPI does not have; a stub is
put on `sys.path` first (importing `nidl` pulls in its callbacks).
"""
import os
import sys
import tempfile

stub = tempfile.mkdtemp()
with open(os.path.join(stub, "typex.py"), "w") as f:
    f.write("def check_type(*args, **kwargs):\n    return True\n")
sys.path.insert(0, stub)

import numpy as np  # noqa: E402

import nidl  # noqa: E402
from nidl.metrics import regression_report  # noqa: E402


def case(out, k, n, rng):
    y_true = rng.normal(size=(n, k)) * np.arange(1, k + 1) + np.arange(k)
    y_pred = 0.7 * y_true + rng.normal(scale=0.5, size=(n, k))
    report = regression_report(y_true, y_pred, output_dict=True)
    keys = [f"regressor {i}" for i in range(k)] + ["average"]
    assert list(report) == keys, list(report)
    headers = list(report["average"])
    assert headers == ["MAE", "MedAE", "RMSE", "MSE", "R2", "PCC", "EVar"], headers
    values = np.array([[report[r][m] for m in headers] for r in keys], dtype=np.float64)
    np.save(os.path.join(out, f"y_true{k}.npy"), y_true)
    np.save(os.path.join(out, f"y_pred{k}.npy"), y_pred)
    np.save(os.path.join(out, f"report{k}.npy"), values)
    with open(os.path.join(out, f"tags{k}.txt"), "w") as f:
        for r in keys:
            for m in headers:
                f.write(f"{r}/{m}\n")


def main(out):
    os.makedirs(out, exist_ok=True)
    assert nidl.__version__ == "0.0.1", nidl.__version__
    rng = np.random.default_rng(15)
    case(out, 2, 51, rng)
    case(out, 3, 50, rng)


if __name__ == "__main__":
    main(sys.argv[1])
