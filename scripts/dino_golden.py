"""Golden values for DINO's building blocks, from nidl 0.0.2 itself (and PyTorch).

Run with nidl 0.0.2 installed (`pip install nidl==0.0.2`, CPU torch is enough; generated with
nidl 0.0.2, torch 2.15.0, numpy, mpmath 1.3.0, seed 0):

    python scripts/dino_golden.py tests/data/dino

Writes, all float64 `.npy` (C order) unless said otherwise, plus `cases.json`:

- `loss_<case>/`: `nidl.losses.DINOLoss` called on successive steps of one loss object (the
  centre carries over). Per step k: `teacher_k` `[T·B, D]` and `student_k` `[S·B, D]` (the
  `(T, B, D)` / `(S, B, D)` arrays nidl takes, reshaped view-major), `grad_k` (d loss / d
  student from torch autograd, same shape), `center_k` `[1, D]` (the centre after the call).
  `config` = `[output_dim, warmup_teacher_temp, teacher_temp, warmup_teacher_temp_epochs,
  student_temp, center_momentum, n_global_views T, n_views S, batch B]`, `epochs` (−1: no
  epoch, `epoch=None`) and `losses` per step (also readable in `cases.json`).
- `temperatures/case_<i>`: `[start, end, warmup_epochs, after, schedule...]`, nidl's
  `DINOLoss.teacher_temp_schedule` (float32 values as float64) for several warm-up lengths
  and the float32 value used after the warm-up (also `temperatures.json`).
- `gelu/`: `torch.nn.functional.gelu` (exact) on `x`, and its autograd derivative `dgelu`;
  `gelu_mpmath`, `dgelu_mpmath`: the same from mpmath at 40 digits (`x·Φ(x)`, `Φ + x·φ`).
- `weight_norm/`: `torch._weight_norm(v, g, dim=0)` = `w`, and the gradients of `sum(w * r)`
  w.r.t. `v`, `g`.
- `head_<case>/`: `DINOProjectionHead` (float64, train mode) with its `state_dict` saved by
  name (`layers.0.weight.npy`, ..., `last_layer.weight_g.npy`; `num_batches_tracked`
  dropped), input `x`, output `y`, and for the loss `sum(y * r)`: `grad_x` and the gradients
  of the trainable parameters `grad.<name>.npy`; with batch norm also the running statistics
  after the forward, `after.<name>.npy`.
- `ema/`: `MomentumUpdater(0.99, 1.0)` on `nn.Sequential(Linear(3,4), BatchNorm1d(4),
  Linear(4,2))`: the online and momentum networks' parameters (`online.<name>`,
  `momentum0.<name>`), the momentum parameters after each of 3 updates (`momentum<k>.<name>`,
  k = 1..3) with `update_lambda(k-1, 3)` after each, in float64 and float32 (`f32.` prefix,
  float32 arrays); `lambdas` the momentum used by each update.
"""
import json
import os
import sys

import mpmath
import numpy as np
import torch
from torch import nn

from nidl.estimators.ssl.utils.momentum import MomentumUpdater
from nidl.estimators.ssl.utils.projection_heads import DINOProjectionHead
from nidl.losses import DINOLoss

out_dir = sys.argv[1]
os.makedirs(out_dir, exist_ok=True)
torch.manual_seed(0)
rng = np.random.default_rng(0)
cases = {}


def save(sub, name, a, dtype=np.float64):
    os.makedirs(os.path.join(out_dir, sub), exist_ok=True)
    arr = np.ascontiguousarray(np.asarray(a, dtype=dtype))
    np.save(os.path.join(out_dir, sub, name + ".npy"), arr)


# ---- DINOLoss ---------------------------------------------------------------------------------
loss_cases = {
    # no local crops, in the warm-up
    "global_only": dict(cfg=dict(output_dim=8, warmup_teacher_temp=0.04, teacher_temp=0.07,
                                 warmup_teacher_temp_epochs=5, student_temp=0.1,
                                 center_momentum=0.9),
                        t=2, s=2, b=4, epochs=[0, 1, 2]),
    # 4 local crops, across the end of the warm-up
    "local4": dict(cfg=dict(output_dim=16, warmup_teacher_temp=0.04, teacher_temp=0.07,
                            warmup_teacher_temp_epochs=3, student_temp=0.1,
                            center_momentum=0.9),
                   t=2, s=6, b=3, epochs=[1, 2, 3, 7]),
    # nidl's defaults but a small output; epoch None, then epochs past the warm-up
    "defaults_d32": dict(cfg=dict(output_dim=32), t=2, s=10, b=2, epochs=[None, 0, 29, 30]),
    # other temperatures and momentum, 8 local crops, a single global view
    "one_global": dict(cfg=dict(output_dim=5, warmup_teacher_temp=0.02, teacher_temp=0.05,
                                warmup_teacher_temp_epochs=10, student_temp=0.2,
                                center_momentum=0.5),
                       t=1, s=3, b=5, epochs=[4, 5]),
}
cases["loss"] = {}
for name, c in loss_cases.items():
    loss_fn = DINOLoss(**c["cfg"])
    d = loss_fn.center.shape[-1]
    steps = []
    for k, epoch in enumerate(c["epochs"]):
        teacher = torch.from_numpy(rng.normal(size=(c["t"], c["b"], d)) * 3.0)
        student = torch.from_numpy(rng.normal(size=(c["s"], c["b"], d)) * 3.0)
        student.requires_grad_(True)
        loss = loss_fn(teacher, student, epoch=epoch)
        loss.backward()
        sub = "loss_" + name
        save(sub, f"teacher_{k}", teacher.numpy().reshape(-1, d))
        save(sub, f"student_{k}", student.detach().numpy().reshape(-1, d))
        save(sub, f"grad_{k}", student.grad.numpy().reshape(-1, d))
        save(sub, f"center_{k}", loss_fn.center.detach().numpy().reshape(1, d))
        steps.append(dict(epoch=epoch, loss=float(loss.item())))
    cases["loss"][name] = dict(config={
        "output_dim": d,
        "warmup_teacher_temp": c["cfg"].get("warmup_teacher_temp", 0.04),
        "teacher_temp": c["cfg"].get("teacher_temp", 0.07),
        "warmup_teacher_temp_epochs": c["cfg"].get("warmup_teacher_temp_epochs", 30),
        "student_temp": c["cfg"].get("student_temp", 0.1),
        "center_momentum": c["cfg"].get("center_momentum", 0.9),
    }, n_global_views=c["t"], n_views=c["s"], batch=c["b"], steps=steps)
    cfg = cases["loss"][name]["config"]
    save(sub, "config", [cfg["output_dim"], cfg["warmup_teacher_temp"], cfg["teacher_temp"],
                         cfg["warmup_teacher_temp_epochs"], cfg["student_temp"],
                         cfg["center_momentum"], c["t"], c["s"], c["b"]])
    save(sub, "epochs", [-1 if st["epoch"] is None else st["epoch"] for st in steps])
    save(sub, "losses", [st["loss"] for st in steps])

# ---- teacher temperature schedule -------------------------------------------------------------
temps = []
for start, end, epochs in [(0.04, 0.07, 30), (0.04, 0.07, 10), (0.04, 0.07, 13), (0.02, 0.05, 7),
                           (0.07, 0.04, 16), (0.04, 0.07, 1), (0.04, 0.07, 0), (0.03, 0.1, 101)]:
    f = DINOLoss(output_dim=2, warmup_teacher_temp=start, teacher_temp=end,
                 warmup_teacher_temp_epochs=epochs)
    sched = [float(v) for v in f.teacher_temp_schedule]
    after = float(torch.tensor(f.teacher_temp))
    temps.append(dict(warmup_teacher_temp=start, teacher_temp=end,
                      warmup_teacher_temp_epochs=epochs, schedule=sched, after=after))
    save("temperatures", f"case_{len(temps) - 1}", [start, end, epochs, after] + sched)
with open(os.path.join(out_dir, "temperatures.json"), "w") as fh:
    json.dump(temps, fh, indent=1)

# ---- GELU -------------------------------------------------------------------------------------
x = np.concatenate([np.linspace(-10, 10, 2001), [-40.0, -27.5, -8.7, -5.3, -1e-9, 0.0, 1e-9,
                                                  3.3, 6.1, 8.7, 27.5, 40.0],
                    rng.normal(size=200) * 2.0])
xt = torch.from_numpy(x).requires_grad_(True)
y = nn.functional.gelu(xt)
y.sum().backward()
save("gelu", "x", x)
save("gelu", "gelu", y.detach().numpy())
save("gelu", "dgelu", xt.grad.numpy())
mpmath.mp.dps = 40
save("gelu", "gelu_mpmath", [float(mpmath.mpf(v) * mpmath.ncdf(mpmath.mpf(v))) for v in x])
save("gelu", "dgelu_mpmath", [float(mpmath.ncdf(mpmath.mpf(v)) + mpmath.mpf(v) * mpmath.npdf(mpmath.mpf(v)))
                              for v in x])

# ---- weight norm ------------------------------------------------------------------------------
v = torch.from_numpy(rng.normal(size=(5, 3))).requires_grad_(True)
g = torch.from_numpy(rng.uniform(0.5, 2.0, size=(5, 1))).requires_grad_(True)
w = torch._weight_norm(v, g, 0)
r = torch.from_numpy(rng.normal(size=(5, 3)))
(w * r).sum().backward()
for n, a in [("v", v.detach()), ("g", g.detach()), ("w", w.detach()), ("r", r),
             ("grad_v", v.grad), ("grad_g", g.grad)]:
    save("weight_norm", n, a.numpy())

# ---- DINOProjectionHead -----------------------------------------------------------------------
cases["head"] = {}
for name, kw in [("bn_norm", dict(batch_norm=True, norm_last_layer=True)),
                 ("nobn_free", dict(batch_norm=False, norm_last_layer=False))]:
    dims = dict(input_dim=6, hidden_dim=10, bottleneck_dim=4, output_dim=7)
    head = DINOProjectionHead(**dims, **kw).double().train()
    with torch.no_grad():
        # Non-trivial magnitudes and biases so that they matter in the comparison.
        if not kw["norm_last_layer"]:
            head.last_layer.weight_g.copy_(torch.from_numpy(rng.uniform(0.5, 2.0, size=(7, 1))))
        for m in head.modules():
            if isinstance(m, nn.Linear) and m.bias is not None:
                m.bias.copy_(torch.from_numpy(rng.normal(size=m.bias.shape) * 0.1))
            if isinstance(m, nn.BatchNorm1d):
                m.weight.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, size=m.weight.shape)))
                m.bias.copy_(torch.from_numpy(rng.normal(size=m.bias.shape) * 0.1))
    sub = "head_" + name
    state = {k: t.detach().clone() for k, t in head.state_dict().items()
             if not k.endswith("num_batches_tracked")}
    for k, t in state.items():
        save(sub, k, t.numpy())
    x = torch.from_numpy(rng.normal(size=(5, 6))).requires_grad_(True)
    y = head(x)
    r = torch.from_numpy(rng.normal(size=y.shape))
    (y * r).sum().backward()
    save(sub, "x", x.detach().numpy())
    save(sub, "y", y.detach().numpy())
    save(sub, "r", r.numpy())
    save(sub, "grad_x", x.grad.numpy())
    trainable = []
    for k, p in head.named_parameters():
        if p.requires_grad:
            save(sub, "grad." + k, p.grad.numpy())
            trainable.append(k)
    for k, t in head.state_dict().items():
        if "running" in k:
            save(sub, "after." + k, t.numpy())
    cases["head"][name] = dict(dims, **kw, state=list(state), trainable=trainable)

# ---- momentum update --------------------------------------------------------------------------
def net():
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


online, momentum = net().double(), net().double()
with torch.no_grad():
    for p in list(online.parameters()) + list(momentum.parameters()):
        p.copy_(torch.from_numpy(rng.normal(size=p.shape)))
lambdas = {}
for prefix, dtype, npd in [("", torch.float64, np.float64), ("f32.", torch.float32, np.float32)]:
    on = net().to(dtype)
    mo = net().to(dtype)
    on.load_state_dict({k: t.to(dtype) for k, t in online.state_dict().items()})
    mo.load_state_dict({k: t.to(dtype) for k, t in momentum.state_dict().items()})
    for k, p in on.named_parameters():
        save("ema", prefix + "online." + k, p.detach().numpy(), npd)
    for k, p in mo.named_parameters():
        save("ema", prefix + "momentum0." + k, p.detach().numpy(), npd)
    updater = MomentumUpdater(base_lambda=0.99, final_lambda=1.0)
    used = []
    for step in range(1, 4):
        used.append(updater.cur_lambda)
        updater.update(on, mo)
        for k, p in mo.named_parameters():
            save("ema", prefix + f"momentum{step}." + k, p.detach().numpy(), npd)
        updater.update_lambda(cur_step=step, max_steps=3)
    lambdas[prefix or "f64"] = used
cases["ema"] = dict(lambdas=lambdas["f64"], names=[k for k, _ in online.named_parameters()])
save("ema", "lambdas", lambdas["f64"])

with open(os.path.join(out_dir, "cases.json"), "w") as fh:
    json.dump(cases, fh, indent=1)
print("wrote", out_dir)
