"""Golden folds of scikit-learn's unshuffled KFold and StratifiedKFold (tests/data/cv_splits/).

Run with the venv of nidl 0.0.2 (scikit-learn and numpy; the versions used are printed and
written to `versions.txt`):

    /work/venv-nidl2/bin/python scripts/cv_splits_golden.py tests/data/cv_splits

These are the splitters `sklearn.model_selection.cross_validate(probe, X, y, cv=k)` builds for an
integer `cv` (StratifiedKFold for a classifier on binary or multiclass `y`, KFold otherwise, both
with shuffle=False), which is what nidl 0.0.2's ModelProbingCVCallback passes. For each case it
writes, as float64 `.npy` (the exact integers; every golden file of tests/data is float64):

- `<case>_y.npy`: the labels (stratified cases only), shape (n,);
- `<case>_fold.npy`: shape (n,), the index of the fold whose test set holds each sample, read
  from the splitter's `split` (which also checks that every fold's train set is the sorted
  complement of its test set, as nidl-rs builds it).

Case names are `kfold_n<N>_k<K>` and `stratified_n<N>_k<K>_<what>`.
"""
import os
import sys

import numpy as np
import sklearn
from sklearn.model_selection import KFold, StratifiedKFold


def test_fold_of(splitter, n, y):
    fold = np.full(n, -1, dtype=np.int64)
    for i, (train, test) in enumerate(splitter.split(np.zeros((n, 1)), y)):
        assert (fold[test] == -1).all()
        fold[test] = i
        assert np.array_equal(train, np.setdiff1d(np.arange(n), test))
        assert np.array_equal(test, np.sort(test))
    assert (fold >= 0).all()
    return fold


def main(out):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20)
    for n, k in [(23, 5), (10, 3), (7, 7), (100, 4)]:
        fold = test_fold_of(KFold(n_splits=k), n, None)
        np.save(os.path.join(out, f"kfold_n{n}_k{k}_fold.npy"), fold.astype(np.float64))
    cases = [
        # Unbalanced classes that first appear out of sorted order (2, then 0, then 1).
        ("unbalanced3", 41, 5, np.concatenate(([2, 0, 1], rng.choice([0, 1, 2], 38, p=[0.55, 0.25, 0.2])))),
        # Binary, n not divisible by k.
        ("binary", 17, 3, rng.choice([0, 1], 17, p=[0.7, 0.3])),
        # Ten digits in random order, like a MNIST probing set.
        ("digits", 103, 5, rng.integers(0, 10, 103)),
        # Negative and non-contiguous labels, sorted blocks.
        ("blocks", 29, 4, np.repeat([-3, 7, 100], [13, 9, 7])),
    ]
    for what, n, k, y in cases:
        y = np.asarray(y, dtype=np.int64)
        counts = np.unique(y, return_counts=True)[1]
        assert counts.min() >= k, (what, counts)
        fold = test_fold_of(StratifiedKFold(n_splits=k), n, y)
        name = f"stratified_n{n}_k{k}_{what}"
        np.save(os.path.join(out, f"{name}_y.npy"), y.astype(np.float64))
        np.save(os.path.join(out, f"{name}_fold.npy"), fold.astype(np.float64))
    with open(os.path.join(out, "versions.txt"), "w") as f:
        f.write(f"scikit-learn {sklearn.__version__}\nnumpy {np.__version__}\n")


if __name__ == "__main__":
    main(sys.argv[1])
