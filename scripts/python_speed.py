#!/usr/bin/env python3
"""Fit times of nidl_rs's probes against scikit-learn's, from Python, in one sitting.

Data: 60 000 training and 10 000 test rows of 32 features in 10 classes (Gaussian clusters,
seed 0, float32 as embeddings come out of an encoder, or `--dtype float64`), the shape of the
seed's MNIST probing. Each probe is fitted `--repeats` times by each library (scikit-learn
with its default BLAS threads and with 1, counting the faster); the table gives the best wall
time of each, the iteration counts (LogisticRegression: the ratio is printed only when
both ran the same number of L-BFGS iterations) and the fraction of equal test predictions.

Run (after `pip install ./python scikit-learn threadpoolctl`):
    python scripts/python_speed.py [--repeats 3] [--markdown]
Versions used for the README table: printed in the header of the output.
"""

import argparse
import os
import platform
import time
import warnings

import numpy as np
import sklearn
import sklearn.linear_model as sk_lm
import sklearn.neighbors as sk_nb

import nidl_rs


threadpool_limits = None


def data(n=60_000, m=10_000, d=32, k=10, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1.0, size=(k, d))
    y = rng.integers(0, k, size=n + m)
    X = (centres[y] + rng.normal(0, 1.5, size=(n + m, d))).astype(np.float32)
    age = X[:, :4].sum(axis=1) + rng.normal(size=n + m)
    return X[:n], y[:n], age[:n], X[n:], y[n:], age[n:]


def best_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = ap.parse_args()
    X, y, age, Xt, yt, aget = data()
    X, Xt = X.astype(args.dtype), Xt.astype(args.dtype)
    global threadpool_limits
    try:
        from threadpoolctl import threadpool_info, threadpool_limits

        blas = ", ".join(
            f"{i['internal_api']} {i.get('architecture', '?')} x{i['num_threads']}"
            for i in threadpool_info()
        )
    except ImportError:
        blas, threadpool_limits = "unknown (threadpoolctl not installed)", None
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; Python "
        f"{platform.python_version()}, numpy {np.__version__}, scikit-learn "
        f"{sklearn.__version__}, nidl_rs {nidl_rs.__version__}; BLAS: {blas}"
    )
    print(f"# X {X.shape} {X.dtype}, {len(np.unique(y))} classes; best of {args.repeats}")
    cases = [
        ("LogisticRegression() (sklearn defaults: max_iter=100)",
         lambda: nidl_rs.LogisticRegression(), lambda: sk_lm.LogisticRegression(), "clf"),
        ("LogisticRegression(max_iter=200) (the seed's probe)",
         lambda: nidl_rs.LogisticRegression(max_iter=200),
         lambda: sk_lm.LogisticRegression(max_iter=200), "clf"),
        ("Ridge(alpha=1.0) on a continuous target",
         lambda: nidl_rs.Ridge(), lambda: sk_lm.Ridge(), "reg"),
        ("KNeighborsClassifier(5): fit + predict 10 000 rows",
         lambda: nidl_rs.KNeighborsClassifier(), lambda: sk_nb.KNeighborsClassifier(), "knn"),
    ]
    rows = []
    for name, ours_f, ref_f, kind in cases:
        target = age if kind == "reg" else y

        def run(make):
            def go():
                est = make()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    est.fit(X, target)
                pred = est.predict(Xt) if kind == "knn" else None
                return est, pred
            return go

        t_ours, (ours, p_ours) = best_time(run(ours_f), args.repeats)
        t_ref, (ref, p_ref) = best_time(run(ref_f), args.repeats)
        if threadpool_limits is not None:
            # On 2 cores scikit-learn's 2-thread BLAS is often slower than 1 thread: count
            # the faster of the two for it.
            with threadpool_limits(1):
                t1, _ = best_time(run(ref_f), args.repeats)
            t_ref = min(t_ref, t1)
        if kind == "knn":
            same = np.mean(p_ours == p_ref)
        elif kind == "clf":
            same = np.mean(ours.predict(Xt) == ref.predict(Xt))
        else:
            same = float(np.max(np.abs(ours.predict(Xt) - ref.predict(Xt))))
        iters = ""
        ratio = f"{t_ref / t_ours:.1f}×"
        if kind == "clf":
            a, b = int(ours.n_iter_[0]), int(ref.n_iter_[0])
            iters = f"{a} / {b}"
            if a != b:
                ratio = "n/a (iterations differ)"
        check = f"max abs diff {same:.1e}" if kind == "reg" else f"{100 * same:.2f}% equal"
        rows.append((name, f"{t_ours:.3f}", f"{t_ref:.3f}", ratio, iters or "–", check))
    head = ("probe", "nidl_rs (s)", "scikit-learn (s)", "speed-up", "iterations (ours / sklearn)", "test predictions")
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        for r in [head, *rows]:
            print("  ".join(f"{c:<24}" for c in r))


if __name__ == "__main__":
    main()
