//! Cross-validation splits, fold for fold those of scikit-learn's unshuffled `KFold` and
//! `StratifiedKFold`: what `cross_validate(probe, X, y, cv=k)` uses, and so what nidl 0.0.2's
//! `ModelProbingCVCallback` probes on (it passes an integer `cv`, and scikit-learn then builds
//! these splitters with `shuffle=False`: the folds depend on the order of the samples only, no
//! seed is involved).
//!
//! - [`k_fold`]: `n` samples in `k` consecutive blocks, the first `n mod k` one sample larger;
//! - [`stratified_k_fold`] (for classifiers): the classes numbered by first appearance in `y`;
//!   the allocation of each class to the folds is the count of that class in `y_order[i::k]`
//!   (`y_order` the sorted class numbers, fold `i`), then each class's samples, in their order in
//!   `y`, go to folds `0, 0, …, 1, 1, …` in blocks of those sizes (scikit-learn's
//!   `_make_test_folds`).
//!
//! A fold's train indices are every index not in its test indices, in increasing order, as
//! scikit-learn's `split` yields them. Pure index logic: nothing here looks at the features.

use crate::error::{Error, Result};

/// One split: the samples a probe is fitted on and those it is scored on, each in increasing
/// order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fold {
    /// Indices of the training samples.
    pub train: Vec<usize>,
    /// Indices of the test samples.
    pub test: Vec<usize>,
}

/// scikit-learn's `KFold(n_splits=k)` (no shuffle) on `n` samples.
///
/// Errors ([`Error::InvalidArgument`], as scikit-learn's `ValueError`s): `k < 2`, or `k > n`.
pub fn k_fold(n: usize, k: usize) -> Result<Vec<Fold>> {
    check_splits("k_fold", n, k)?;
    let mut fold_of = vec![0; n];
    let mut start = 0;
    for (i, size) in (0..k).map(|i| n / k + usize::from(i < n % k)).enumerate() {
        fold_of[start..start + size].fill(i);
        start += size;
    }
    Ok(folds_from_assignment(&fold_of, k))
}

/// scikit-learn's `StratifiedKFold(n_splits=k)` (no shuffle) on the class labels `y`.
///
/// Errors ([`Error::InvalidArgument`]): `k < 2`; `k > y.len()`; and, where scikit-learn raises
/// (every class has fewer than `k` members) or only warns (the least populated class has fewer
/// than `k` members: some test folds then hold none of it), an error naming that class and its
/// count.
pub fn stratified_k_fold(y: &[i64], k: usize) -> Result<Vec<Fold>> {
    const OP: &str = "stratified_k_fold";
    check_splits(OP, y.len(), k)?;
    // Classes numbered by first appearance, as scikit-learn's `class_perm[y_inv]`.
    let mut classes: Vec<i64> = Vec::new();
    let encoded: Vec<usize> = y
        .iter()
        .map(|v| match classes.iter().position(|c| c == v) {
            Some(j) => j,
            None => {
                classes.push(*v);
                classes.len() - 1
            }
        })
        .collect();
    let c = classes.len();
    let mut counts = vec![0usize; c];
    for &j in &encoded {
        counts[j] += 1;
    }
    let (smallest, &min_count) = counts
        .iter()
        .enumerate()
        .min_by_key(|&(_, n)| *n)
        .expect("y is not empty");
    if min_count < k {
        let scikit = if counts.iter().all(|&n| n < k) {
            "scikit-learn refuses it too"
        } else {
            "scikit-learn only warns"
        };
        let advice = if min_count >= 2 {
            format!("use at most {min_count} folds or more samples")
        } else {
            "give it more samples (cross-validation needs at least 2 folds)".to_string()
        };
        return Err(Error::invalid(
            OP,
            format!(
                "{k} folds, but class {} has only {min_count} members: each test fold needs one \
                 of every class ({scikit}); {advice}",
                classes[smallest]
            ),
        ));
    }
    // allocation[i][j]: samples of class j in test fold i = the count of j in y_order[i::k],
    // y_order being the class numbers sorted (class j occupies positions [first_j, first_j + counts[j])).
    let mut allocation = vec![vec![0usize; c]; k];
    let mut first = 0;
    for (j, &count) in counts.iter().enumerate() {
        for pos in first..first + count {
            allocation[pos % k][j] += 1;
        }
        first += count;
    }
    // Each class's samples, in order, fill folds 0, 1, … in blocks of the allocated sizes.
    let mut fold_of = vec![0; y.len()];
    let mut next = vec![(0usize, 0usize); c]; // (fold, samples already put in it)
    for (s, &j) in encoded.iter().enumerate() {
        let (fold, filled) = &mut next[j];
        while allocation[*fold][j] == *filled {
            *fold += 1;
            *filled = 0;
        }
        fold_of[s] = *fold;
        *filled += 1;
    }
    Ok(folds_from_assignment(&fold_of, k))
}

/// The errors scikit-learn's `_BaseKFold` raises: fewer than two splits, more than samples.
fn check_splits(op: &'static str, n: usize, k: usize) -> Result<()> {
    if k < 2 {
        return Err(Error::invalid(
            op,
            format!("{k} folds: cross-validation needs at least 2"),
        ));
    }
    if k > n {
        return Err(Error::invalid(
            op,
            format!("{k} folds, but there are only {n} samples (at most one fold per sample)"),
        ));
    }
    Ok(())
}

/// The folds of `fold_of[s]`, the test fold of each sample `s`.
fn folds_from_assignment(fold_of: &[usize], k: usize) -> Vec<Fold> {
    (0..k)
        .map(|i| {
            let (test, train): (Vec<usize>, Vec<usize>) =
                (0..fold_of.len()).partition(|&s| fold_of[s] == i);
            Fold { train, test }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_fold_of_seven_in_three() {
        // 7 = 3·2 + 1: sizes 3, 2, 2.
        let f = k_fold(7, 3).unwrap();
        assert_eq!(f[0].test, [0, 1, 2]);
        assert_eq!(f[1].test, [3, 4]);
        assert_eq!(f[2].test, [5, 6]);
        assert_eq!(f[1].train, [0, 1, 2, 5, 6]);
    }

    #[test]
    fn stratified_by_hand() {
        // y = [1, 0, 1, 1, 0, 1, 0, 1], k = 2. By first appearance: 1 → class 0 (5 members),
        // 0 → class 1 (3). y_order = [0,0,0,0,0,1,1,1]; y_order[0::2] = [0,0,0,1] → fold 0 gets
        // 3 of class 0 and 1 of class 1; y_order[1::2] = [0,0,1,1] → fold 1 gets 2 and 2.
        // Class 0 at samples [0,2,3,5,7] → folds [0,0,0,1,1]; class 1 at [1,4,6] → [0,1,1].
        let f = stratified_k_fold(&[1, 0, 1, 1, 0, 1, 0, 1], 2).unwrap();
        assert_eq!(f[0].test, [0, 1, 2, 3]);
        assert_eq!(f[1].test, [4, 5, 6, 7]);
        assert_eq!(f[0].train, [4, 5, 6, 7]);
    }

    #[test]
    fn bad_fold_counts_are_errors() {
        assert!(matches!(k_fold(3, 1), Err(Error::InvalidArgument { .. })));
        let e = k_fold(3, 4).unwrap_err().to_string();
        assert!(e.contains("4 folds") && e.contains("only 3 samples"), "{e}");
        let e = stratified_k_fold(&[0, 0, 0, 1, 1], 3)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("class 1 has only 2 members") && e.contains("only warns"),
            "{e}"
        );
        let e = stratified_k_fold(&[0, 0, 1, 1], 3).unwrap_err().to_string();
        assert!(e.contains("refuses it too"), "{e}");
    }
}
