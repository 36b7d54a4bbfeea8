"""Records the (tag, step) tables nidl 0.0.1 writes to TensorBoard in short runs.

Run with nidl 0.0.1 installed (`pip install nidl==0.0.1 tensorboard`, CPU torch is enough):

    python scripts/nidl_parity_golden.py OUT_DIR

nidl 0.0.1's `BatchTypingCallback` imports a module `typex` that PyPI does not have; a stub with a
`check_type` that returns True is put on `sys.path` here (it is never called by these runs).

Each scenario trains on random data (the steps and tags do not depend on the values) with the
default TensorBoardLogger into a temporary folder, then reads the event file back with
TensorBoard's own reader and writes `OUT_DIR/<scenario>.csv` with the columns `tag,step`, one row
per scalar event, in the order the events were written, with its value (`tag,step,value`; the
values of the losses and scores are those of random data: only `epoch`'s are meant to be compared).
"""
import os
import sys
import tempfile

stub = tempfile.mkdtemp()
with open(os.path.join(stub, "typex.py"), "w") as f:
    f.write("def check_type(*args, **kwargs):\n    return True\n")
sys.path.insert(0, stub)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402
from tensorboard.backend.event_processing.event_file_loader import (  # noqa: E402
    EventFileLoader,
)
from tensorboard.util import tensor_util  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, Dataset, TensorDataset  # noqa: E402
import torch.nn.functional as func  # noqa: E402

import nidl  # noqa: E402
from nidl.callbacks.model_probing import (  # noqa: E402
    ClassificationProbingCallback,
    RegressionProbingCallback,
)
from nidl.callbacks.multitask_probing import MultitaskModelProbing  # noqa: E402
from nidl.estimators.ssl import SimCLR, YAwareContrastiveLearning  # noqa: E402


class LeNetEncoder(nn.Module):
    """The seed example's encoder."""

    def __init__(self, latent_size=32):
        super().__init__()
        self.latent_size = latent_size
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5, stride=1, padding=2)
        self.pool1 = nn.AvgPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.pool2 = nn.AvgPool2d(2, 2)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, latent_size)

    def forward(self, x):
        x = self.pool1(func.relu(self.conv1(x)))
        x = self.pool2(func.relu(self.conv2(x)))
        x = x.view(x.size(0), -1)
        x = func.relu(self.fc1(x))
        x = func.relu(self.fc2(x))
        return self.fc3(x)


class TwoViews(Dataset):
    """Two noisy views of each sample, with or without its auxiliary label."""

    def __init__(self, x, y=None):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        v = (self.x[i] + 0.1 * torch.randn_like(self.x[i]),
             self.x[i] + 0.1 * torch.randn_like(self.x[i]))
        return v if self.y is None else (v, self.y[i])


def loader(ds, shuffle=False):
    return DataLoader(ds, batch_size=128, shuffle=shuffle)


def images(n):
    return torch.randn(n, 1, 28, 28)


def table(n):
    return torch.randn(n, 284)


def mlp():
    """The seed's OpenBHB encoder shape (284 -> 64 -> 32), with SimCLR's `latent_size`."""
    net = nn.Sequential(nn.Linear(284, 64), nn.ReLU(), nn.Linear(64, 32))
    net.latent_size = 32
    return net


def scalar_value(value):
    """A summary value's number, whether written as `simple_value` or as a scalar tensor."""
    if value.HasField("simple_value"):
        return float(value.simple_value)
    return float(tensor_util.make_ndarray(value.tensor))


def scalar_events(log_dir):
    rows = []
    for root, _, files in os.walk(log_dir):
        for name in sorted(files):
            if not name.startswith("events.out.tfevents"):
                continue
            for event in EventFileLoader(os.path.join(root, name)).Load():
                for value in event.summary.value:
                    rows.append((value.tag, event.step, scalar_value(value)))
    return rows


def run(name, model, train, val, out):
    log_dir = tempfile.mkdtemp()
    model.trainer_params_["default_root_dir"] = log_dir
    model.trainer_params_["enable_progress_bar"] = False
    model.trainer_params_["enable_model_summary"] = False
    model.fit(train, val)
    rows = scalar_events(log_dir)
    with open(os.path.join(out, f"{name}.csv"), "w") as f:
        f.write("tag,step,value\n")
        for tag, step, value in rows:
            f.write(f"{tag},{step},{value!r}\n")
    print(f"{name}: {len(rows)} scalars")


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    common = dict(random_state=42, enable_checkpointing=False)

    # 1. The table: SimCLR (LeNet) on MNIST-shaped images, max_epochs=2,
    #    limit_train_batches=60, a logistic probe every training epoch.
    digits = torch.as_tensor(rng.integers(0, 10, 400))
    probe = ClassificationProbingCallback(
        loader(TensorDataset(images(300), digits[:300])),
        loader(TensorDataset(images(100), digits[300:])),
        probe=LogisticRegression(max_iter=200),
        every_n_train_epochs=1,
    )
    model = SimCLR(encoder=LeNetEncoder(32), hidden_dims=[64, 32], lr=1e-4,
                   weight_decay=1e-4, temperature=0.1, max_epochs=2,
                   limit_train_batches=60, callbacks=probe, **common)
    run("simclr_classification", model, loader(TwoViews(images(60 * 128)), True),
        loader(TwoViews(images(300))), out)

    # 2. The multitask callback as the seed's OpenBHB scenario: y-Aware (MLP 284 -> 64 -> 32)
    #    on 3227 training rows (26 batches of 128, the last short), ridge on column 0 (age) and
    #    a logistic regression on column 1 (sex), 3 epochs.
    age = torch.as_tensor(rng.uniform(6, 86, 3227), dtype=torch.float32)
    sex = rng.integers(0, 2, 500)
    targets = torch.as_tensor(np.stack([rng.uniform(6, 86, 500), sex], 1))
    probe = MultitaskModelProbing(
        loader(TensorDataset(table(400), targets[:400])),
        loader(TensorDataset(table(100), targets[400:])),
        probes=[Ridge(), LogisticRegression(max_iter=200)],
    )
    model = YAwareContrastiveLearning(
        encoder=mlp(), projection_head_kwargs={"input_dim": 32, "hidden_dim": 64,
                                               "output_dim": 32},
        bandwidth=16.0, temperature=0.1, learning_rate=1e-5, max_epochs=3,
        callbacks=probe, **common)
    run("yaware_multitask", model, loader(TwoViews(table(3227), age), True),
        loader(TwoViews(table(300), age[:300])), out)

    # 3. A two-column regression probe (ridge on two targets) every 2nd training epoch of 3:
    #    tags <Probe>/regressor <i>/<metric> and <Probe>/average/<metric>; no probe after the
    #    last epoch.
    two = torch.as_tensor(rng.normal(size=(500, 2)))
    probe = RegressionProbingCallback(
        loader(TensorDataset(table(400), two[:400])),
        loader(TensorDataset(table(100), two[400:])),
        probe=Ridge(), every_n_train_epochs=2,
    )
    model = SimCLR(encoder=mlp(), hidden_dims=[64, 32], lr=1e-4, weight_decay=1e-4,
                   temperature=0.1, max_epochs=3, limit_train_batches=40,
                   callbacks=probe, **common)
    run("regression_two_columns", model, loader(TwoViews(table(40 * 128)), True),
        loader(TwoViews(table(200))), out)

    # 4. Probing after every validation epoch (every_n_val_epochs=1, none after training
    #    epochs), log_every_n_steps=10: where Lightning logs a probe run from
    #    on_validation_epoch_end.
    probe = ClassificationProbingCallback(
        loader(TensorDataset(table(300), digits[:300])),
        loader(TensorDataset(table(100), digits[300:])),
        probe=LogisticRegression(max_iter=200),
        every_n_train_epochs=None, every_n_val_epochs=1,
    )
    model = SimCLR(encoder=mlp(), hidden_dims=[64, 32], lr=1e-4, weight_decay=1e-4,
                   temperature=0.1, max_epochs=2, limit_train_batches=25,
                   log_every_n_steps=10, callbacks=probe, **common)
    run("val_epoch_probing", model, loader(TwoViews(table(25 * 128)), True),
        loader(TwoViews(table(200))), out)

    import lightning_fabric
    import pytorch_lightning
    import sklearn
    with open(os.path.join(out, "VERSIONS"), "w") as f:
        f.write(f"nidl {nidl.__version__}\npytorch_lightning {pytorch_lightning.__version__}\n"
                f"torch {torch.__version__}\nscikit-learn {sklearn.__version__}\n")


if __name__ == "__main__":
    main(sys.argv[1])
