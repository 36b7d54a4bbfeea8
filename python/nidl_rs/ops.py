"""Reference ops: the engine's self-supervised losses and layers on NumPy arrays, with the
gradients of their inputs from the engine's autograd, in float64 or float32 (the dtype of the
first input; the others must match). A PyTorch or JAX implementation is checked against them
in a few lines::

    loss, g1, g2 = nidl_rs.info_nce(z1, z2, temperature=0.1)
    np.testing.assert_allclose(my_loss(z1, z2), loss, rtol=1e-10)

Losses return ``(loss, grad_z1, grad_z2)``. Layers return a dict: ``"y"`` and, given
``grad_output`` (the upstream gradient, as in ``y.backward(grad_output)``), ``"grad_<input>"``
for each input, named as the arrays of the crate's golden tests.
"""

import numpy as np

import nidl_rs._native as _native

__all__ = [
    "info_nce",
    "yaware_info_nce",
    "yaware_weights",
    "barlow_twins",
    "conv2d",
    "avg_pool2d",
    "batch_norm1d",
    "gradcheck",
    "GradcheckReport",
]


def _array(x):
    return x if x is None or isinstance(x, np.ndarray) else np.asarray(x, dtype=np.float64)


def info_nce(z1, z2, temperature=0.1):
    """SimCLR's NT-Xent as nidl's ``InfoNCE``: ``(loss, grad_z1, grad_z2)`` for two views
    of shape (B, d)."""
    return _native.info_nce(_array(z1), _array(z2), temperature)


def yaware_info_nce(
    z1,
    z2,
    y=None,
    kernel="gaussian",
    bandwidth=1.0,
    temperature=0.1,
    normalization="nidl",
):
    """y-Aware InfoNCE as nidl's ``YAwareInfoNCE``: ``(loss, grad_z1, grad_z2)``.

    ``y``: labels (B,) or (B, k), or None for nidl's unlabelled fallback. ``kernel``:
    ``"gaussian"``, ``"epanechnikov"``, ``"exponential"``, ``"linear"`` or ``"cosine"``.
    ``bandwidth``: a number (σ², H = σ² I), a 1-D array (diagonal H), a 2-D SPD matrix,
    ``"scott"`` or ``"silverman"`` (evaluated on the batch's labels). ``normalization``:
    ``"nidl"`` (nidl's column normalisation, its numbers) or ``"rows"`` (the paper's)."""
    z1 = _array(z1)
    if y is not None:
        y = np.asarray(y, dtype=z1.dtype if isinstance(z1, np.ndarray) else np.float64)
    if isinstance(bandwidth, (list, tuple)):
        bandwidth = np.asarray(bandwidth, dtype=np.float64)
    return _native.yaware_info_nce(
        z1, _array(z2), y, kernel, bandwidth, temperature, normalization
    )


def yaware_weights(y, kernel="gaussian", bandwidth=1.0, normalization="nidl"):
    """The (2B, 2B) y-Aware pair weights for labels ``y`` (B,) or (B, k), float64."""
    if isinstance(bandwidth, (list, tuple)):
        bandwidth = np.asarray(bandwidth, dtype=np.float64)
    return _native.yaware_weights(
        np.asarray(y, dtype=np.float64), kernel, bandwidth, normalization
    )


def barlow_twins(z1, z2, lambd=5e-3):
    """Barlow Twins' loss as nidl's ``BarlowTwinsLoss(lambd)``: ``(loss, grad_z1,
    grad_z2)``."""
    return _native.barlow_twins(_array(z1), _array(z2), lambd)


def conv2d(x, w, b=None, stride=1, padding=0, grad_output=None):
    """``torch.nn.functional.conv2d``: ``{"y"}``, plus ``grad_x``, ``grad_w`` (and
    ``grad_b``) given ``grad_output``."""
    return _native.conv2d(
        _array(x), _array(w), _array(b), stride, padding, _array(grad_output)
    )


def avg_pool2d(x, kernel_size=2, grad_output=None):
    """``torch.nn.functional.avg_pool2d(x, kernel_size)`` (stride = kernel size, no padding):
    ``{"y"}``, plus ``grad_x`` given ``grad_output``."""
    return _native.avg_pool2d(_array(x), kernel_size, _array(grad_output))


def batch_norm1d(x, gamma, beta, grad_output=None, eps=1e-5, momentum=0.1):
    """One training step of ``torch.nn.BatchNorm1d`` on ``x`` (N, C) (running statistics
    starting at 0 and 1): ``{"y", "running_mean", "running_var"}``, plus ``grad_x``,
    ``grad_gamma``, ``grad_beta`` given ``grad_output``."""
    return _native.batch_norm1d(
        _array(x), _array(gamma), _array(beta), _array(grad_output), eps, momentum
    )


class GradcheckReport:
    """The outcome of :func:`gradcheck`; true when every element passed."""

    def __init__(self, passed, max_abs_error, max_rel_error, worst, analytic, numeric):
        self.passed = passed
        self.max_abs_error = max_abs_error
        self.max_rel_error = max_rel_error
        #: ``(input index, flat element index)`` of the largest error.
        self.worst = worst
        self.analytic = analytic
        self.numeric = numeric

    def __bool__(self):
        return self.passed

    def __repr__(self):
        return (
            f"GradcheckReport(passed={self.passed}, max_abs_error={self.max_abs_error:.3e}, "
            f"max_rel_error={self.max_rel_error:.3e}, worst={self.worst}, "
            f"analytic={self.analytic!r}, numeric={self.numeric!r})"
        )


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Checks the gradients a function returns against central finite differences.

    ``fn(*inputs)`` returns ``(loss, grad_0, grad_1, ...)``, one gradient per input, as the
    losses here do. Each element ``e`` of each input passes when
    ``|analytic - numeric| <= atol + rtol * |numeric|`` with
    ``numeric = (loss(x + eps) - loss(x - eps)) / (2 eps)``. Inputs are copied to float64.
    Returns a :class:`GradcheckReport`; with ``raise_exception`` a failure raises
    ``AssertionError`` carrying it.
    """
    xs = [np.array(x, dtype=np.float64, copy=True) for x in inputs]
    out = fn(*xs)
    grads = [np.asarray(g, dtype=np.float64) for g in out[1:]]
    if len(grads) != len(xs):
        raise ValueError(
            f"fn returned {len(grads)} gradient(s) for {len(xs)} input(s); it must return "
            "(loss, grad_0, grad_1, ...)"
        )
    worst = (0, 0)
    max_abs = max_rel = 0.0
    worst_pair = (0.0, 0.0)
    passed = True
    for i, (x, g) in enumerate(zip(xs, grads)):
        if g.shape != x.shape:
            raise ValueError(f"gradient {i} has shape {g.shape}, input {i} has {x.shape}")
        flat, gflat = x.reshape(-1), g.reshape(-1)
        for e in range(flat.size):
            x0 = flat[e]
            flat[e] = x0 + eps
            fp = float(fn(*xs)[0])
            flat[e] = x0 - eps
            fm = float(fn(*xs)[0])
            flat[e] = x0
            numeric = (fp - fm) / (2 * eps)
            err = abs(gflat[e] - numeric)
            if not np.isfinite(err) or err > atol + rtol * abs(numeric):
                passed = False
            if not np.isfinite(err) or err > max_abs:
                max_abs, worst, worst_pair = err, (i, e), (float(gflat[e]), numeric)
            max_rel = max(max_rel, err / max(abs(numeric), 1e-300))
    report = GradcheckReport(passed, max_abs, max_rel, worst, *worst_pair)
    if raise_exception and not passed:
        raise AssertionError(f"gradient check failed: {report!r}")
    return report
