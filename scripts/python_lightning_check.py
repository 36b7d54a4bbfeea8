"""A real Lightning run: nidl 0.0.1's probing callbacks (scikit-learn probes) and
nidl_rs.lightning.ProbingCallback (nidl_rs probes) side by side on the same SimCLR training,
comparing the epochs probed and the logged metric values tag by tag.

Needs torch, pytorch_lightning, scikit-learn and nidl 0.0.1 (its source: `pip download
nidl==0.0.1 --no-deps` and unzip), and nidl_rs built (`maturin develop` in python/ puts the
extension next to the package). Run, e.g. (torch 2.15 CPU, pytorch_lightning 2.6.6,
scikit-learn 1.7):

    PYTHONPATH=/tmp/nidl001:python python scripts/python_lightning_check.py

Logs with a CSVLogger; prints one line per (epoch, tag) pair and exits non-zero if a tag or an
epoch is missing on one side or a value differs (classification: exactly; regression: beyond 1e-5
relative, as scikit-learn fits float32 embeddings in float32).
"""
import os
import sys
import tempfile

stub = tempfile.mkdtemp()
with open(os.path.join(stub, "typex.py"), "w") as f:  # nidl 0.0.1 imports it; PyPI has none
    f.write("def check_type(*args, **kwargs):\n    return True\n")
sys.path.insert(0, stub)

import numpy as np  # noqa: E402
import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402
from sklearn import linear_model as sk_lm  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, Dataset, TensorDataset  # noqa: E402

from nidl.callbacks.model_probing import ClassificationProbingCallback  # noqa: E402
from nidl.callbacks.multitask_probing import MultitaskModelProbing  # noqa: E402
from nidl.estimators.ssl import SimCLR  # noqa: E402

import nidl_rs  # noqa: E402
from nidl_rs.lightning import ProbingCallback  # noqa: E402


class TwoViews(Dataset):
    def __init__(self, x):
        self.x = x

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return (self.x[i] + 0.1 * torch.randn_like(self.x[i]),
                self.x[i] + 0.1 * torch.randn_like(self.x[i]))


def logged(log_dir):
    """{(epoch, tag): value} of every probe metric in the CSVLogger's metrics.csv."""
    import csv

    seen = {}
    for root, _, files in os.walk(log_dir):
        if "metrics.csv" in files:
            with open(os.path.join(root, "metrics.csv")) as f:
                for row in csv.DictReader(f):
                    for tag, value in row.items():
                        if "/" in tag and value != "":
                            seen[(int(row["epoch"]), tag)] = float(value)
    return seen


def main():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    n_train, n_test, d = 600, 200, 20
    centres = rng.normal(size=(4, d))
    y = rng.integers(0, 4, n_train + n_test)
    X = torch.as_tensor(centres[y] + rng.normal(size=(n_train + n_test, d)), dtype=torch.float32)
    age = torch.as_tensor(X[:, 0].numpy() * 3 + rng.normal(size=n_train + n_test), dtype=torch.float32)
    Y = torch.stack([age, torch.as_tensor(y, dtype=torch.float32)], dim=1)

    def loaders(target):
        return (DataLoader(TensorDataset(X[:n_train], target[:n_train]), batch_size=128),
                DataLoader(TensorDataset(X[n_train:], target[n_train:]), batch_size=128))

    labels = torch.as_tensor(y)
    tr, te = loaders(labels)
    mtr, mte = loaders(Y)
    callbacks = [
        ClassificationProbingCallback(tr, te, probe=sk_lm.LogisticRegression(max_iter=200),
                                      probe_name="sk", every_n_train_epochs=1),
        ProbingCallback(tr, te, probe=nidl_rs.LogisticRegression(max_iter=200),
                        probe_name="rs", every_n_train_epochs=1),
        MultitaskModelProbing(mtr, mte, probes=[sk_lm.Ridge(), sk_lm.LogisticRegression()],
                              probe_names=["sk_age", "sk_y"], every_n_train_epochs=2),
        ProbingCallback(mtr, mte, probe=[nidl_rs.Ridge(), nidl_rs.LogisticRegression()],
                        probe_names=["rs_age", "rs_y"], every_n_train_epochs=2),
    ]
    encoder = nn.Sequential(nn.Linear(d, 32), nn.ReLU(), nn.Linear(32, 16))
    encoder.latent_size = 16
    model = SimCLR(encoder=encoder, hidden_dims=[32, 16], lr=1e-3, weight_decay=1e-4, temperature=0.1,
                   max_epochs=3, random_state=42, enable_checkpointing=False,
                   callbacks=callbacks)
    log_dir = tempfile.mkdtemp()
    model.trainer_params_["default_root_dir"] = log_dir
    model.trainer_params_["logger"] = pl.loggers.CSVLogger(log_dir)
    model.trainer_params_["enable_progress_bar"] = False
    model.trainer_params_["enable_model_summary"] = False
    model.fit(DataLoader(TwoViews(X[:n_train]), batch_size=128, shuffle=True))

    failures = 0
    pairs = {}
    for (epoch, tag), value in logged(log_dir).items():
        prefix, rest = tag.split("/", 1)
        side, name = prefix.split("_", 1) if "_" in prefix else (prefix, "")
        pairs.setdefault((epoch, name, rest), {})[side] = value
    for (epoch, name, rest), sides in sorted(pairs.items()):
        a, b = sides.get("sk"), sides.get("rs")
        # Classification metrics must be equal; regression metrics within 1e-5 relative:
        # scikit-learn's Ridge fits the float32 embeddings in float32, ours in float64.
        tol = 1e-5 if name == "age" else 1e-12
        ok = a is not None and b is not None and abs(a - b) <= tol * max(1.0, abs(a))
        failures += not ok
        print(f"epoch {epoch} {name + '/' if name else ''}{rest}: sklearn {a} nidl_rs {b} {'ok' if ok else 'DIFFERENT'}")
    print(f"{len(pairs)} tag-epochs compared, {failures} different")
    sys.exit(1 if failures or not pairs else 0)


if __name__ == "__main__":
    main()
