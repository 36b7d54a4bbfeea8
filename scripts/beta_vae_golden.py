"""Golden values of nidl 0.0.2's beta-VAE loss (`nidl.losses.BetaVAELoss`), for tests/beta_vae.rs.

Run with nidl 0.0.2 installed (`pip install nidl==0.0.2`, CPU torch is enough; generated with
nidl 0.0.2, torch 2.x CPU, numpy 2.x):

    python scripts/beta_vae_golden.py tests/data/beta_vae

For each reconstruction distribution nidl's `default_dist` accepts (normal, laplace, bernoulli)
and beta = 4.0 (BetaVAELoss's default) and 0.5, the loss is evaluated in float64 on fixed
random data exactly as `VAE.training_step` calls it: `BetaVAELoss(beta, default_dist)(x, p, q)`
with `p` the decoder's output tensor (mean of the normal / laplace, success probability of the
bernoulli) and `q = Normal(mu, exp(logvar / 2))` (`VAE._sample`). The gradients of the loss with
respect to `p`, `mu` and `logvar` come from torch autograd.

Files (one folder per case `<dist>_beta<beta>`, in OUT_DIR): `x` (6, 1, 4, 4) pixels in [0, 1],
`p` (6, 1, 4, 4) in (0, 1), `mu` (6, 3), `logvar` (6, 3), `loss` (), `rec_loss` (), `kl_loss` (),
`grad_p`, `grad_mu`, `grad_logvar` (shaped as their tensor), `beta` ().
"""
import os
import sys

import numpy as np
import torch
from nidl.losses import BetaVAELoss


def case(out, dist, beta, x, p, mu, logvar):
    p = p.clone().requires_grad_(True)
    mu = mu.clone().requires_grad_(True)
    logvar = logvar.clone().requires_grad_(True)
    std = torch.exp(logvar / 2)  # VAE._sample
    q = torch.distributions.Normal(mu, std)
    losses = BetaVAELoss(beta=beta, default_dist=dist)(x, p, q)
    losses["loss"].backward()
    folder = os.path.join(out, f"{dist}_beta{beta}")
    os.makedirs(folder, exist_ok=True)
    arrays = {
        "x": x,
        "p": p.detach(),
        "mu": mu.detach(),
        "logvar": logvar.detach(),
        "loss": losses["loss"].detach(),
        "rec_loss": losses["rec_loss"].detach(),
        "kl_loss": losses["kl_loss"].detach(),
        "grad_p": p.grad,
        "grad_mu": mu.grad,
        "grad_logvar": logvar.grad,
        "beta": torch.tensor(beta, dtype=torch.float64),
    }
    for name, a in arrays.items():
        np.save(os.path.join(folder, f"{name}.npy"), a.numpy().astype(np.float64))


def main(out):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(19)
    shape = (6, 1, 4, 4)
    x = torch.rand(shape, generator=gen, dtype=torch.float64)
    # Probabilities away from 0 and 1 (valid for all three distributions), never equal to x
    # (the L1 loss has a kink there).
    p = torch.sigmoid(2 * torch.randn(shape, generator=gen, dtype=torch.float64))
    mu = torch.randn((6, 3), generator=gen, dtype=torch.float64)
    logvar = 0.7 * torch.randn((6, 3), generator=gen, dtype=torch.float64)
    for dist in ["normal", "laplace", "bernoulli"]:
        for beta in [4.0, 0.5]:
            case(out, dist, beta, x, p, mu, logvar)


if __name__ == "__main__":
    main(sys.argv[1])
