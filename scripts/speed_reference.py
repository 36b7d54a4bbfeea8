"""The PyTorch / scikit-learn side of scripts/speed_vs_reference.sh (issue 17), and its table.

    python scripts/speed_reference.py data   DIR             # the probe data both sides fit
    python scripts/speed_reference.py bench  DIR [--threads 2] [--mnist data/mnist]
    python scripts/speed_reference.py table  DIR CRITERION_DIR

`bench` times, on this machine, the same work as our criterion benches:

- `simclr_step`: one SimCLR training step (benches/simclr_step.rs, tests/common/simclr.rs):
  LeNet (conv 1→6 k5 p2, ReLU, avg-pool 2, conv 6→16 k5, ReLU, avg-pool 2, 400→120→84→32) →
  MLP head 32→64→32 → InfoNCE (temperature 0.1, nidl's formula: cosine similarities of the 2B
  rows, diagonal −9e15) → backward → AdamW(lr 1e-4, weight decay 1e-4), on 128 × 2 random
  views in [−1, 1]; the median of 30 steps after 5 warm-up steps.
- `embed`: the LeNet forward (no grad) over the 60 000 + 10 000 MNIST images in batches of 512,
  ToTensor + Normalize(0.5, 0.5) per batch (benches/embed.rs); the median of 3 passes.
- `logreg`: scikit-learn's `LogisticRegression(max_iter=200)` on DIR/X.npy (60 000 × 32, f32)
  and DIR/y.npy (10 classes): the data benches/probe.rs also fits when NIDL_PROBE_REFERENCE_DIR
  is DIR; the median of 3 fits. Its n_iter_ and predictions go to DIR for the table.

Threads: each workload runs with `--threads` threads and with 1 (torch's intra-op threads and,
through threadpoolctl, OpenMP / OpenBLAS / MKL), and the faster counts: on a loaded machine
the reference's thread pools (spinning OpenMP and OpenBLAS workers) can run several times slower
with 2 threads than with 1, and the comparison should not profit from that. Both timings go to
DIR/reference.json.

`table` prints the side-by-side table from DIR/reference.json and our criterion estimates
(CRITERION_DIR/<group>/<bench>/new/estimates.json, median), with the ratio reference / ours, and
checks the probe fits agree: same iteration count, and the share of identical predictions.
"""
import argparse
import json
import os
import sys
import time

BENCHES = [
    # (label, criterion group/bench, reference key, what one run is)
    ("simclr_step", "simclr_step/lenet_b128x2_f32", "simclr_step_s",
     "LeNet + head + InfoNCE + AdamW, 128 × 2 views"),
    ("embed", "embed/mnist_lenet_60000+10000_b512_f32", "embed_s",
     "LeNet forward over 70 000 MNIST images"),
    ("logistic probe", "probe/logreg_reference_60000x32_10cls_max_iter200", "logreg_s",
     "LogisticRegression(max_iter=200), 60 000 × 32, 10 classes"),
]
N, D, CLASSES = 60_000, 32, 10


def cmd_data(args):
    import numpy as np

    # benches/probe.rs's model: 10 class means from N(0, 0.7²·I) in 32-D, each sample its class
    # mean plus N(0, I) noise, label i mod 10.
    rng = np.random.default_rng(42)
    means = rng.normal(0.0, 0.7, size=(CLASSES, D))
    y = np.arange(N) % CLASSES
    x = (means[y] + rng.normal(size=(N, D))).astype(np.float32)
    os.makedirs(args.dir, exist_ok=True)
    np.save(os.path.join(args.dir, "X.npy"), x)
    np.save(os.path.join(args.dir, "y.npy"), y.astype(np.int64))
    print(f"wrote {args.dir}/X.npy ({N} × {D}, f32) and y.npy ({CLASSES} classes)")


def median_time(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2]


def lenet(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 32),
    )


def info_nce(torch, z1, z2, temperature=0.1):
    # nidl's InfoNCE (src/loss/info_nce.rs states the same formula).
    f = torch.nn.functional
    z = torch.cat([z1, z2], dim=0)
    sim = f.cosine_similarity(z.unsqueeze(1), z.unsqueeze(0), dim=-1)
    eye = torch.eye(z.shape[0], dtype=torch.bool)
    sim = sim.masked_fill(eye, -9e15) / temperature
    b = z1.shape[0]
    target = torch.cat([torch.arange(b, 2 * b), torch.arange(0, b)])
    return f.cross_entropy(sim, target)


def bench_simclr(torch):
    torch.manual_seed(42)
    encoder = lenet(torch)
    head = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 32))
    params = list(encoder.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=1e-4)
    views = torch.rand(256, 1, 28, 28) * 2 - 1

    def step():
        opt.zero_grad(set_to_none=True)
        z = head(encoder(views))
        loss = info_nce(torch, z[:128], z[128:])
        loss.backward()
        opt.step()

    return median_time(step, warmup=5, reps=30)


def read_idx_images(path):
    import gzip

    import numpy as np

    with gzip.open(path, "rb") as f:
        raw = f.read()
    n, rows, cols = (int.from_bytes(raw[4 * i:4 * i + 4], "big") for i in (1, 2, 3))
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, 1, rows, cols)


def bench_embed(torch, mnist_dir):
    images = [read_idx_images(os.path.join(mnist_dir, f))
              for f in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz")]
    torch.manual_seed(0)
    encoder = lenet(torch).eval()

    def one_pass():
        with torch.no_grad():
            for set_ in images:
                for i in range(0, len(set_), 512):
                    batch = torch.from_numpy(set_[i:i + 512].astype("float32"))
                    encoder((batch / 255.0 - 0.5) / 0.5)

    return median_time(one_pass, warmup=0, reps=3)


def bench_logreg(data_dir):
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x = np.load(os.path.join(data_dir, "X.npy"))
    y = np.load(os.path.join(data_dir, "y.npy"))
    fitted = {}

    def fit():
        fitted["model"] = LogisticRegression(max_iter=200).fit(x, y)

    seconds = median_time(fit, warmup=0, reps=3)
    model = fitted["model"]
    np.save(os.path.join(data_dir, "pred_sklearn.npy"), model.predict(x).astype(np.int64))
    return seconds, int(model.n_iter_[0])


def cmd_bench(args):
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import sklearn
    import torch
    from threadpoolctl import threadpool_limits

    out = {"threads": args.threads, "torch": torch.__version__, "sklearn": sklearn.__version__}
    work = [
        ("simclr_step_s", lambda: bench_simclr(torch)),
        ("embed_s", lambda: bench_embed(torch, args.mnist)),
        ("logreg_s", lambda: bench_logreg(args.dir)),
    ]
    for key, run in work:
        by_threads = {}
        for threads in sorted({args.threads, 1}, reverse=True):
            torch.set_num_threads(threads)
            with threadpool_limits(limits=threads):
                result = run()
            if key == "logreg_s":
                result, out["logreg_n_iter"] = result
            by_threads[threads] = result
            print(f"{key[:-2]}: {fmt(result)} with {threads} thread(s)", flush=True)
        best = min(by_threads, key=by_threads.get)
        out[key] = by_threads[best]
        out[key[:-2] + "_threads"] = best
        out[key[:-2] + "_by_threads"] = by_threads
    with open(os.path.join(args.dir, "reference.json"), "w") as f:
        json.dump(out, f, indent=1)


def criterion_median_s(criterion_dir, bench, since):
    """The bench's criterion median in seconds, or None when this run did not measure it (no
    estimates file, or one older than `since`, the data step's time: left from an earlier run)."""
    path = os.path.join(criterion_dir, *bench.split("/"), "new", "estimates.json")
    try:
        if os.path.getmtime(path) < since:
            print(f"WARNING: {path} is from an earlier run: {bench} was not measured now")
            return None
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"] * 1e-9
    except FileNotFoundError:
        return None


def fmt(seconds):
    if seconds is None:
        return "—"
    return f"{seconds * 1e3:.2f} ms" if seconds < 1 else f"{seconds:.3f} s"


def cmd_table(args):
    import numpy as np

    with open(os.path.join(args.dir, "reference.json")) as f:
        ref = json.load(f)
    print(f"reference: torch {ref['torch']}, scikit-learn {ref['sklearn']}, the faster of "
          f"{ref['threads']} and 1 thread(s); nidl-rs: {ref['threads']} threads "
          "(RAYON_NUM_THREADS); ratio = reference time / nidl-rs time (criterion median)\n")
    print("| work | PyTorch / scikit-learn | nidl-rs | ratio |")
    print("|---|---|---|---|")
    # The data step's first file: every estimate of this run is newer.
    since = min(os.path.getmtime(os.path.join(args.dir, f)) for f in os.listdir(args.dir)
                if f.endswith(".npy"))
    iters_path = os.path.join(args.dir, "n_iter_nidl.txt")
    same_iters = True
    if os.path.exists(iters_path):
        with open(iters_path) as f:
            same_iters = int(f.read().strip()) == ref["logreg_n_iter"]
    for label, bench, key, what in BENCHES:
        ours = criterion_median_s(args.criterion_dir, bench, since)
        theirs = ref.get(key)
        comparable = same_iters or key != "logreg_s"
        ratio = f"{theirs / ours:.1f}×" if ours and theirs and comparable else "—"
        others = ", ".join(f"{t} thr {fmt(v)}" for t, v in ref[key[:-2] + "_by_threads"].items())
        print(f"| `{label}` ({what}) | {fmt(theirs)} ({others}) | {fmt(ours)} | {ratio} |")
    pred_path = os.path.join(args.dir, "pred_nidl.npy")
    if os.path.exists(iters_path) and os.path.exists(pred_path):
        with open(iters_path) as f:
            ours_iter = int(f.read().strip())
        same = float(np.mean(np.load(pred_path) == np.load(
            os.path.join(args.dir, "pred_sklearn.npy"))))
        print(f"\nlogistic probe: n_iter nidl-rs {ours_iter}, scikit-learn "
              f"{ref['logreg_n_iter']}; identical predictions on the 60 000 rows: {same:.4%}")
        if ours_iter != ref["logreg_n_iter"]:
            print("WARNING: the iteration counts differ, so the times are not comparable "
                  "(no ratio given)")
    else:
        print("\n(no nidl-rs probe fit recorded: was NIDL_PROBE_REFERENCE_DIR set for the bench?)")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("data")
    d.add_argument("dir")
    b = sub.add_parser("bench")
    b.add_argument("dir")
    b.add_argument("--threads", type=int, default=2)
    b.add_argument("--mnist", default="data/mnist")
    t = sub.add_parser("table")
    t.add_argument("dir")
    t.add_argument("criterion_dir")
    args = p.parse_args()
    {"data": cmd_data, "bench": cmd_bench, "table": cmd_table}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
