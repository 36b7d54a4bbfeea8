//! Cross-validation folds against scikit-learn 1.7's unshuffled `KFold` and `StratifiedKFold`
//! (golden files of `scripts/cv_splits_golden.py`).

mod common;

use common::golden;
use nidl::probe::cv::{k_fold, stratified_k_fold, Fold};

/// The golden `tests/data/cv_splits/<name>.npy` (float64 holding integers) as integers.
fn golden_ints(name: &str) -> Vec<i64> {
    let t = golden("cv_splits", name);
    let values = t.data().unwrap();
    assert!(values.iter().all(|v| v.fract() == 0.0), "{name}: integers");
    values.iter().map(|&v| v as i64).collect()
}

/// Checks `folds` against scikit-learn's test fold of each sample: fold `i`'s test set is the
/// samples of `fold_of == i`, its train set all the others, both in increasing order.
fn assert_folds(case: &str, folds: &[Fold], fold_of: &[i64]) {
    let k = fold_of.iter().max().unwrap() + 1;
    assert_eq!(folds.len() as i64, k, "{case}: fold count");
    for (i, f) in folds.iter().enumerate() {
        let (test, train): (Vec<usize>, Vec<usize>) =
            (0..fold_of.len()).partition(|&s| fold_of[s] == i as i64);
        assert_eq!(f.test, test, "{case}: test set of fold {i}");
        assert_eq!(f.train, train, "{case}: train set of fold {i}");
    }
}

#[test]
fn k_fold_matches_sklearn() {
    for (n, k) in [(23, 5), (10, 3), (7, 7), (100, 4)] {
        let case = format!("kfold_n{n}_k{k}");
        let folds = k_fold(n, k).unwrap();
        assert_folds(&case, &folds, &golden_ints(&format!("{case}_fold")));
    }
}

#[test]
fn stratified_k_fold_matches_sklearn() {
    for case in [
        "stratified_n41_k5_unbalanced3",
        "stratified_n17_k3_binary",
        "stratified_n103_k5_digits",
        "stratified_n29_k4_blocks",
    ] {
        let k: usize = case.split('_').nth(2).unwrap()[1..].parse().unwrap();
        let y = golden_ints(&format!("{case}_y"));
        let folds = stratified_k_fold(&y, k).unwrap();
        assert_folds(case, &folds, &golden_ints(&format!("{case}_fold")));
    }
}
