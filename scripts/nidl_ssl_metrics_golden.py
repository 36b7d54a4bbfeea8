"""Golden values of nidl 0.0.2's `nidl.metrics.ssl` (tests/data/ssl_metrics/).

Run with nidl 0.0.2 installed (it pulls in torch; generated with nidl 0.0.2, torch 2.x CPU,
numpy 2.x):

    /work/venv-nidl2/bin/python scripts/nidl_ssl_metrics_golden.py tests/data/ssl_metrics

For each case (a folder under the output) it draws two float64 point clouds `x` (n × d1) and
`y` (n × d2) with a fixed NumPy seed, calls nidl's own six functions on them as float64 torch
tensors (the path nidl's `MetricsCallback` takes: a model's step outputs are tensors) and
writes:

- `x.npy`, `y.npy`: the inputs (float64);
- `values.npy`: float64, one value per line of `names.txt`;
- `names.txt`: what each value is, `function[arguments]`, e.g. `alignment[normalize=False,
  alpha=1]`, `procrustes_r2[y,x]` (arguments swapped), in the order of `values.npy`.

The functions that need equal widths (alignment, uniformity on `x` and `y`, contrastive
accuracy) are only called where d1 == d2. Cases: a small one (n ≤ 25, where torch's `cdist`
computes differences), a larger one (its matrix-product path), y a noisy rotated, scaled and
shifted copy of x (similarities near 1), different widths, fewer samples than dimensions, and
repeated rows (ties in the contrastive accuracy's ranking are avoided: nidl's tie order is
torch.topk's).
"""
import os
import sys

import numpy as np
import torch

from nidl.metrics.ssl import (
    alignment_score,
    contrastive_accuracy_score,
    kruskal_similarity,
    procrustes_r2,
    procrustes_similarity,
    uniformity_score,
)


def values(x, y):
    """(name, value) of every call made on the case (x, y)."""
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    out = []
    if x.shape[1] == y.shape[1]:
        for normalize in (True, False):
            for alpha in (2, 1):
                v = alignment_score(tx, ty, normalize=normalize, alpha=alpha)
                out.append((f"alignment[normalize={normalize},alpha={alpha}]", v))
        for which, z in (("x", tx), ("y", ty)):
            for normalize in (True, False):
                for t in (2.0, 0.5):
                    v = uniformity_score(z, normalize=normalize, t=t)
                    out.append((f"uniformity[{which},normalize={normalize},t={t}]", v))
        for normalize in (True, False):
            for topk in (1, 3):
                v = contrastive_accuracy_score(tx, ty, normalize=normalize, topk=topk)
                out.append(
                    (f"contrastive_accuracy[normalize={normalize},topk={topk}]", v)
                )
    for order, (a, b) in (("x,y", (tx, ty)), ("y,x", (ty, tx))):
        out.append((f"procrustes_similarity[{order}]", procrustes_similarity(a, b)))
        out.append((f"procrustes_r2[{order}]", procrustes_r2(a, b)))
        for spherical in (False, True):
            v = kruskal_similarity(a, b, spherical=spherical)
            out.append((f"kruskal[{order},spherical={spherical}]", v))
    return [(n, float(v)) for n, v in out]


def rotation(d, rng):
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return q


def cases():
    rng = np.random.RandomState(20)
    x = rng.normal(size=(9, 4))
    yield "small", x, x + 0.3 * rng.normal(size=x.shape)
    x = rng.normal(size=(60, 8))
    yield "medium", x, 0.5 * x + rng.normal(size=x.shape)
    x = rng.normal(size=(40, 6)) * np.arange(1, 7)
    y = 2.5 * x @ rotation(6, rng) + np.arange(6) + 0.05 * rng.normal(size=x.shape)
    yield "rotated", x, y
    x = rng.normal(size=(30, 5))
    yield "widths", x, np.tanh(x[:, :3] @ rng.normal(size=(3, 3))) + 0.1 * rng.normal(
        size=(30, 3)
    )
    x = rng.normal(size=(6, 10))
    yield "few_samples", x, x @ rotation(10, rng) + 0.2 * rng.normal(size=x.shape)
    x = rng.normal(size=(12, 3))
    x[7] = x[2]
    yield "repeated_rows", x, x + 0.4 * rng.normal(size=x.shape)


def main(out):
    for name, x, y in cases():
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        np.save(os.path.join(d, "x.npy"), x)
        np.save(os.path.join(d, "y.npy"), y)
        vals = values(x, y)
        np.save(os.path.join(d, "values.npy"), np.array([v for _, v in vals]))
        with open(os.path.join(d, "names.txt"), "w") as f:
            f.write("".join(f"{n}\n" for n, _ in vals))
        print(name, x.shape, y.shape, len(vals), "values")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/ssl_metrics")
