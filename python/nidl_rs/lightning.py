"""``ProbingCallback``: nidl 0.0.1's probing callbacks (``ClassificationProbingCallback``,
``RegressionProbingCallback``, ``MultitaskModelProbing``) fitting nidl-rs probes.

Same schedule as nidl 0.0.1: probing after every ``every_n_train_epochs``-th training epoch
(counted by the callback), at the end of every validation epoch when ``every_n_val_epochs``
is set (nidl 0.0.1 never advances its validation counter, so that is every validation epoch),
and at the start / end of the test epoch when asked. Same tags, logged with
``pl_module.log_dict(..., prog_bar=prog_bar, on_epoch=True)``:

- a classifier: ``<name>/accuracy``, ``<name>/balanced_accuracy``, ``<name>/f1_macro``,
  ``<name>/precision_macro``, ``<name>/recall_macro``, ``<name>/f1_weighted``;
- a regressor: ``<name>/MAE`` … ``<name>/EVar`` (one target) or ``<name>/regressor i/MAE``
  … and ``<name>/average/MAE`` … (several);
- a list of probes (one per column of ``y``): ``task<i>/…`` (or ``probe_names[i]/…``),
  each with its classifier or regressor metrics;

``<name>`` being ``probe_name`` or the probe's class name (``LogisticRegression``). The
metrics are the engine's (:mod:`nidl_rs.metrics`), equal to scikit-learn's.

Lightning is imported when this module is: the package ``nidl_rs`` does not import it. The
callback derives from ``pytorch_lightning.Callback`` (what nidl 0.0.1 uses) or else
``lightning.pytorch.Callback``; without either it is a plain object with the same hooks.
"""

import contextlib

import numpy as np

from .metrics import classification_report, regression_report
from .probes import LogisticRegression

try:
    from pytorch_lightning import Callback as _Callback
except ImportError:
    try:
        from lightning.pytorch import Callback as _Callback
    except ImportError:
        _Callback = object

__all__ = ["ProbingCallback"]


def _is_classifier(est):
    return getattr(est, "_estimator_type", None) == "classifier" or (
        hasattr(est, "__sklearn_tags__")
        and getattr(est.__sklearn_tags__(), "estimator_type", None) == "classifier"
    )


def _is_regressor(est):
    return getattr(est, "_estimator_type", None) == "regressor" or (
        hasattr(est, "__sklearn_tags__")
        and getattr(est.__sklearn_tags__(), "estimator_type", None) == "regressor"
    )


def _clone(est):
    """A fresh unfitted copy with the same parameters (scikit-learn's ``clone``)."""
    try:
        from sklearn.base import clone
    except ImportError:
        return type(est)(**est.get_params(deep=False))
    return clone(est)


def _numpy(t):
    """A batch (torch tensor or array-like) as a NumPy array."""
    if hasattr(t, "detach"):
        t = t.detach()
    if hasattr(t, "cpu"):
        t = t.cpu()
    if hasattr(t, "numpy"):
        return t.numpy()
    return np.asarray(t)


def _no_grad():
    try:
        import torch
    except ImportError:
        return contextlib.nullcontext()
    return torch.no_grad()


class ProbingCallback(_Callback):
    """Fits a probe on embeddings of ``train_loader`` and logs its test metrics on
    ``test_loader``, on nidl 0.0.1's schedule and with its tags (see the module docs).

    Parameters
    ----------
    train_loader, test_loader : iterables of ``(X, y)`` batches (e.g. ``DataLoader``s)
    probe : estimator or list of estimators, default=None
        A classifier or regressor with ``fit`` / ``predict`` (``LogisticRegression()`` if
        None), or a list of them, one per column of ``y`` (nidl's multitask probing).
    probe_name : str or None
        The tag prefix for one probe (default: its class name).
    probe_names : list of str or None
        The tag prefixes for a list of probes (default: ``task0``, ``task1``, …).
    every_n_train_epochs : int or None, default=1
    every_n_val_epochs : int or None, default=None
    on_test_epoch_start, on_test_epoch_end : bool, default=False
    prog_bar : bool, default=True
    """

    def __init__(
        self,
        train_loader,
        test_loader,
        probe=None,
        probe_name=None,
        probe_names=None,
        every_n_train_epochs=1,
        every_n_val_epochs=None,
        on_test_epoch_start=False,
        on_test_epoch_end=False,
        prog_bar=True,
    ):
        super().__init__()
        if probe is None:
            probe = LogisticRegression()
        self.multitask = isinstance(probe, (list, tuple))
        probes = list(probe) if self.multitask else [probe]
        for p in probes:
            if not (_is_classifier(p) or _is_regressor(p)):
                raise ValueError(f"each probe must be a classifier or a regressor, got {p!r}")
        if self.multitask:
            if probe_names is None:
                probe_names = [f"task{i}" for i in range(len(probes))]
            elif len(probe_names) != len(probes):
                raise ValueError(
                    f"Invalid number of probe names: {len(probes)} != {len(probe_names)}"
                )
            self.probe_names = list(probe_names)
        else:
            self.probe_names = [probe_name or type(probe).__name__]
        self.train_loader = train_loader
        self.test_loader = test_loader
        self.probe = probe
        self.probes = probes
        self.every_n_train_epochs = every_n_train_epochs
        self.every_n_val_epochs = every_n_val_epochs
        self._on_test_epoch_start = on_test_epoch_start
        self._on_test_epoch_end = on_test_epoch_end
        self.prog_bar = prog_bar
        self.counter_train_epochs = 0
        self.counter_val_epochs = 0
        #: The probes fitted by the last probing (one per task).
        self.fitted_probes_ = []

    # -- the schedule (nidl 0.0.1's ModelProbing) ------------------------------------------
    def on_train_epoch_end(self, trainer, pl_module):
        self.counter_train_epochs += 1
        if (
            self.every_n_train_epochs is not None
            and self.counter_train_epochs % self.every_n_train_epochs == 0
        ):
            self.probing(trainer, pl_module)

    def on_validation_epoch_end(self, trainer, pl_module):
        if (
            self.every_n_val_epochs is not None
            and self.counter_val_epochs % self.every_n_val_epochs == 0
        ):
            self.probing(trainer, pl_module)

    def on_test_epoch_start(self, trainer, pl_module):
        if self._on_test_epoch_start:
            self.probing(trainer, pl_module)

    def on_test_epoch_end(self, trainer, pl_module):
        if self._on_test_epoch_end:
            self.probing(trainer, pl_module)

    # -- one probing -----------------------------------------------------------------------
    def probing(self, trainer, pl_module):
        """Embeds both loaders, fits the probe(s) on the training embeddings and logs the
        test metrics. Only rank 0 fits and logs (nidl's ``rank_zero_only``)."""
        if not hasattr(pl_module, "transform_step"):
            raise ValueError(
                "Your Lightning module must implement 'transform_step' (nidl's "
                f"TransformerMixin), got {type(pl_module)}"
            )
        X_train, y_train = self.extract_features(trainer, pl_module, self.train_loader)
        X_test, y_test = self.extract_features(trainer, pl_module, self.test_loader)
        if getattr(trainer, "global_rank", 0) != 0:
            return
        if self.multitask:
            y_train, y_test = y_train.reshape(len(y_train), -1), y_test.reshape(len(y_test), -1)
            if y_train.shape[1] != len(self.probes):
                raise ValueError(
                    f"'y' must have {len(self.probes)} columns, got {y_train.shape[1]}"
                )
        self.fitted_probes_ = []
        for i, (probe, name) in enumerate(zip(self.probes, self.probe_names)):
            yt = y_train[:, i] if self.multitask else y_train
            ye = y_test[:, i] if self.multitask else y_test
            fitted = _clone(probe).fit(X_train, yt) if self.multitask else probe.fit(X_train, yt)
            self.fitted_probes_.append(fitted)
            y_pred = fitted.predict(X_test)
            if _is_classifier(probe):
                self._log_classification(pl_module, name, ye, y_pred)
            else:
                self._log_regression(pl_module, name, ye, y_pred)

    def _log_classification(self, pl_module, name, y_true, y_pred):
        report = classification_report(y_true, y_pred)
        pl_module.log_dict(
            {f"{name}/{k}": v for k, v in report.items()},
            prog_bar=self.prog_bar,
            on_epoch=True,
        )

    def _log_regression(self, pl_module, name, y_true, y_pred):
        report = regression_report(y_true, np.asarray(y_pred).reshape(np.shape(y_true)))
        flat = {}
        for key, value in report.items():
            if isinstance(value, dict):
                pl_module.log_dict(
                    {f"{name}/{key}/{k}": v for k, v in value.items()},
                    prog_bar=self.prog_bar,
                    on_epoch=True,
                )
            else:
                flat[key] = value
        for key, value in flat.items():
            pl_module.log(f"{name}/{key}", value, prog_bar=self.prog_bar, on_epoch=True)

    def extract_features(self, trainer, pl_module, loader):
        """``(X, y)``: ``pl_module.transform_step`` of every batch's inputs in eval mode
        without gradients, concatenated, then gathered across devices as nidl does."""
        was_training = getattr(pl_module, "training", False)
        if hasattr(pl_module, "eval"):
            pl_module.eval()
        feats, labels = [], []
        device = getattr(pl_module, "device", None)
        world = getattr(trainer, "world_size", 1) if trainer is not None else 1
        loader = self._adapt_for_ddp(loader, trainer, world)
        try:
            with _no_grad():
                for batch_idx, (x, y) in enumerate(loader):
                    if device is not None and hasattr(x, "to"):
                        x = x.to(device)
                    feats.append(pl_module.transform_step(x, batch_idx=batch_idx))
                    labels.append(y)
        finally:
            if was_training and hasattr(pl_module, "train"):
                pl_module.train()
        if world <= 1:
            return (
                np.concatenate([_numpy(f) for f in feats]),
                np.concatenate([_numpy(y) for y in labels]),
            )
        import torch

        X = _numpy(pl_module.all_gather(torch.cat([f.detach() for f in feats])))
        y = _numpy(pl_module.all_gather(torch.cat([t.to(device) for t in labels])))
        if X.ndim > 2:
            X = X.reshape(X.shape[0] * X.shape[1], *X.shape[2:])
            y = y.reshape(y.shape[0] * y.shape[1], *y.shape[2:])
        return X, y

    @staticmethod
    def _adapt_for_ddp(loader, trainer, world):
        """nidl's ``adapt_dataloader_for_ddp``: a ``DistributedSampler`` over the dataset when
        training on several devices."""
        if world <= 1:
            return loader
        from torch.utils.data import DataLoader, DistributedSampler

        sampler = DistributedSampler(
            loader.dataset, num_replicas=world, rank=trainer.global_rank, shuffle=False
        )
        return DataLoader(
            loader.dataset,
            batch_size=loader.batch_size,
            num_workers=loader.num_workers,
            pin_memory=loader.pin_memory,
            sampler=sampler,
            collate_fn=loader.collate_fn,
            drop_last=loader.drop_last,
        )
