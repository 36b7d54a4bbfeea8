"""Golden values of nidl 0.0.2's decoupled contrastive losses `DCLLoss` and `DCLWLoss`
(tests/data/dcl/).

Run with nidl 0.0.2 installed (it pulls in torch; generated with nidl 0.0.2, torch 2.15 CPU,
numpy 2.x):

    /work/venv-nidl2/bin/python scripts/dcl_golden.py tests/data/dcl

For each case (a folder under the output) it draws two float64 views `z1`, `z2` (B × d) with a
fixed NumPy seed (rows of different norms: standard normal entries, each row scaled by a factor
in [0.5, 3)), evaluates nidl's own loss on them as float64 torch tensors and differentiates it
with torch autograd, writing:

- `z1.npy`, `z2.npy`: the views (float64, B × d);
- `loss.npy`: the loss (float64, 0-d);
- `grad_z1.npy`, `grad_z2.npy`: d loss / d z1, d loss / d z2 (float64, B × d);
- `params.npy`: float64 `[temperature, sigma]`, sigma NaN for the unweighted `DCLLoss`.

Cases: DCL and DCLW at nidl's defaults (temperature 0.1, sigma 0.5) and at other temperatures,
sigmas and shapes, a wide one (d > B), a batch of one sample (every logit of a row is masked:
nidl returns `-pos + logsumexp` of two `-9e15` fills), and nearly aligned views (z2 a small
perturbation of z1: similarities near 1, the vMF weights far from 1).
"""
import os
import sys

import numpy as np
import torch

from nidl.losses import DCLLoss, DCLWLoss

# name, B, d, temperature, sigma (None: DCLLoss), aligned views
CASES = [
    ("dcl_default", 8, 5, 0.1, None, False),
    ("dcl_t0.5_b3_d4", 3, 4, 0.5, None, False),
    ("dcl_t0.07_b16_d32", 16, 32, 0.07, None, False),
    ("dcl_b1", 1, 3, 0.1, None, False),
    ("dcl_aligned", 6, 4, 0.2, None, True),
    ("dclw_default", 8, 5, 0.1, 0.5, False),
    ("dclw_t0.2_s1_b6_d16", 6, 16, 0.2, 1.0, False),
    ("dclw_t0.07_s0.3_b16_d32", 16, 32, 0.07, 0.3, False),
    ("dclw_b1", 1, 3, 0.1, 0.5, False),
    ("dclw_aligned", 6, 4, 0.1, 0.2, True),
]


def views(rng, b, d, aligned):
    z1 = rng.standard_normal((b, d)) * rng.uniform(0.5, 3.0, (b, 1))
    if aligned:
        z2 = z1 + 0.05 * rng.standard_normal((b, d))
    else:
        z2 = rng.standard_normal((b, d)) * rng.uniform(0.5, 3.0, (b, 1))
    return z1, z2


def main(out):
    for seed, (name, b, d, tau, sigma, aligned) in enumerate(CASES):
        rng = np.random.default_rng(1000 + seed)
        z1, z2 = views(rng, b, d, aligned)
        t1 = torch.tensor(z1, dtype=torch.float64, requires_grad=True)
        t2 = torch.tensor(z2, dtype=torch.float64, requires_grad=True)
        if sigma is None:
            loss_fn = DCLLoss(temperature=tau)
        else:
            loss_fn = DCLWLoss(sigma=sigma, temperature=tau)
        loss = loss_fn(t1, t2)
        loss.backward()
        folder = os.path.join(out, name)
        os.makedirs(folder, exist_ok=True)
        arrays = {
            "z1": z1,
            "z2": z2,
            "loss": np.array(loss.item(), dtype=np.float64),
            "grad_z1": t1.grad.numpy(),
            "grad_z2": t2.grad.numpy(),
            "params": np.array(
                [tau, np.nan if sigma is None else sigma], dtype=np.float64
            ),
        }
        for key, value in arrays.items():
            np.save(os.path.join(folder, key + ".npy"), value)
        print(f"{name}: B={b} d={d} tau={tau} sigma={sigma} loss={loss.item():.17g}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/dcl")
