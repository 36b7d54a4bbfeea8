//! Classification metrics over integer labels, as scikit-learn defines them.
//!
//! With `L` the sorted union of the labels in `y_true` and `y_pred`, and for each `c ∈ L`
//! `tp_c` (true and predicted `c`), `t_c` (true `c`) and `p_c` (predicted `c`):
//!
//! - accuracy `= Σ_c tp_c / n`;
//! - balanced accuracy `= mean over {c : t_c > 0} of tp_c / t_c` (classes that only appear in
//!   `y_pred` are left out, as scikit-learn does after its warning);
//! - precision_c `= tp_c / p_c`, recall_c `= tp_c / t_c`, F1_c `= 2·tp_c / (t_c + p_c)`, each 0
//!   when its denominator is 0 (`zero_division = 0`);
//! - macro averages: the unweighted mean over `L`; F1 weighted: `Σ_c t_c·F1_c / n`.

use super::check_pair;
use crate::error::Result;

/// The classification metrics nidl logs, for one `(y_true, y_pred)` pair.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClassificationReport {
    /// Fraction of exact matches.
    pub accuracy: f64,
    /// Mean per-class recall over the classes present in `y_true`.
    pub balanced_accuracy: f64,
    /// Unweighted mean of per-class precision.
    pub precision_macro: f64,
    /// Unweighted mean of per-class recall.
    pub recall_macro: f64,
    /// Unweighted mean of per-class F1.
    pub f1_macro: f64,
    /// Mean of per-class F1 weighted by true support.
    pub f1_weighted: f64,
}

impl ClassificationReport {
    /// All metrics of `y_pred` against `y_true`.
    ///
    /// Errors: [`Error::Shape`](crate::Error::Shape) for different lengths,
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for empty inputs.
    pub fn new(y_true: &[i64], y_pred: &[i64]) -> Result<Self> {
        let c = Counts::new("ClassificationReport", y_true, y_pred)?;
        Ok(ClassificationReport {
            accuracy: c.accuracy(),
            balanced_accuracy: c.balanced_accuracy(),
            precision_macro: c.precision_macro(),
            recall_macro: c.recall_macro(),
            f1_macro: c.f1_macro(),
            f1_weighted: c.f1_weighted(),
        })
    }

    /// `(name, value)` pairs named and ordered as nidl 0.0.1 logs them: `accuracy`,
    /// `balanced_accuracy`, `f1_macro`, `precision_macro`, `recall_macro`, `f1_weighted`.
    pub fn metrics(&self) -> [(&'static str, f64); 6] {
        [
            ("accuracy", self.accuracy),
            ("balanced_accuracy", self.balanced_accuracy),
            ("f1_macro", self.f1_macro),
            ("precision_macro", self.precision_macro),
            ("recall_macro", self.recall_macro),
            ("f1_weighted", self.f1_weighted),
        ]
    }
}

/// Fraction of `y_pred` equal to `y_true`.
pub fn accuracy(y_true: &[i64], y_pred: &[i64]) -> Result<f64> {
    Ok(Counts::new("accuracy", y_true, y_pred)?.accuracy())
}

/// Mean recall over the classes present in `y_true`.
pub fn balanced_accuracy(y_true: &[i64], y_pred: &[i64]) -> Result<f64> {
    Ok(Counts::new("balanced_accuracy", y_true, y_pred)?.balanced_accuracy())
}

/// Unweighted mean of per-class precision over the union of labels (`zero_division = 0`).
pub fn precision_macro(y_true: &[i64], y_pred: &[i64]) -> Result<f64> {
    Ok(Counts::new("precision_macro", y_true, y_pred)?.precision_macro())
}

/// Unweighted mean of per-class recall over the union of labels (`zero_division = 0`).
pub fn recall_macro(y_true: &[i64], y_pred: &[i64]) -> Result<f64> {
    Ok(Counts::new("recall_macro", y_true, y_pred)?.recall_macro())
}

/// Unweighted mean of per-class F1 over the union of labels (`zero_division = 0`).
pub fn f1_macro(y_true: &[i64], y_pred: &[i64]) -> Result<f64> {
    Ok(Counts::new("f1_macro", y_true, y_pred)?.f1_macro())
}

/// Mean of per-class F1 weighted by each class's count in `y_true`.
pub fn f1_weighted(y_true: &[i64], y_pred: &[i64]) -> Result<f64> {
    Ok(Counts::new("f1_weighted", y_true, y_pred)?.f1_weighted())
}

/// Per-label counts over the sorted union of labels.
struct Counts {
    n: usize,
    /// True positives per label.
    tp: Vec<usize>,
    /// Occurrences in `y_true` per label (support).
    t: Vec<usize>,
    /// Occurrences in `y_pred` per label.
    p: Vec<usize>,
}

impl Counts {
    fn new(op: &'static str, y_true: &[i64], y_pred: &[i64]) -> Result<Counts> {
        check_pair(op, y_true.len(), y_pred.len())?;
        let mut labels: Vec<i64> = y_true.iter().chain(y_pred).copied().collect();
        labels.sort_unstable();
        labels.dedup();
        let index = |v: i64| labels.binary_search(&v).expect("label is in the union");
        let k = labels.len();
        let (mut tp, mut t, mut p) = (vec![0; k], vec![0; k], vec![0; k]);
        for (&a, &b) in y_true.iter().zip(y_pred) {
            let (i, j) = (index(a), index(b));
            t[i] += 1;
            p[j] += 1;
            if i == j {
                tp[i] += 1;
            }
        }
        Ok(Counts {
            n: y_true.len(),
            tp,
            t,
            p,
        })
    }

    fn accuracy(&self) -> f64 {
        self.tp.iter().sum::<usize>() as f64 / self.n as f64
    }

    fn balanced_accuracy(&self) -> f64 {
        let recalls: Vec<f64> = self
            .tp
            .iter()
            .zip(&self.t)
            .filter(|(_, &t)| t > 0)
            .map(|(&tp, &t)| tp as f64 / t as f64)
            .collect();
        mean(&recalls)
    }

    fn per_class(&self, f: impl Fn(usize, usize, usize) -> f64) -> Vec<f64> {
        (0..self.tp.len())
            .map(|c| f(self.tp[c], self.t[c], self.p[c]))
            .collect()
    }

    fn precision_macro(&self) -> f64 {
        mean(&self.per_class(|tp, _, p| ratio(tp, p)))
    }

    fn recall_macro(&self) -> f64 {
        mean(&self.per_class(|tp, t, _| ratio(tp, t)))
    }

    fn f1(&self) -> Vec<f64> {
        self.per_class(|tp, t, p| ratio(2 * tp, t + p))
    }

    fn f1_macro(&self) -> f64 {
        mean(&self.f1())
    }

    fn f1_weighted(&self) -> f64 {
        let weighted: f64 = self
            .f1()
            .iter()
            .zip(&self.t)
            .map(|(f, &t)| f * t as f64)
            .sum();
        weighted / self.n as f64
    }
}

/// `num / den`, or 0 when `den == 0` (`zero_division = 0`).
fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Arithmetic mean (callers guarantee at least one value: `y_true` is non-empty).
fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_worked_three_classes() {
        // y_true = [0, 0, 1, 1, 2], y_pred = [0, 1, 1, 1, 1]:
        // tp = [1, 2, 0], t = [2, 2, 1], p = [1, 4, 0].
        // accuracy = 3/5; balanced = (1/2 + 2/2 + 0/1)/3 = 1/2;
        // precision = (1/1 + 2/4 + 0 [p=0 → 0])/3 = 1/2; recall = balanced = 1/2;
        // F1 = [2/3, 4/6, 0] → macro 4/9; weighted (2·2/3 + 2·2/3 + 0)/5 = 8/15.
        let r = ClassificationReport::new(&[0, 0, 1, 1, 2], &[0, 1, 1, 1, 1]).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-15;
        assert!(close(r.accuracy, 0.6));
        assert!(close(r.balanced_accuracy, 0.5));
        assert!(close(r.precision_macro, 0.5));
        assert!(close(r.recall_macro, 0.5));
        assert!(close(r.f1_macro, 4.0 / 9.0));
        assert!(close(r.f1_weighted, 8.0 / 15.0));
    }

    #[test]
    fn classes_only_predicted_count_in_macro_but_not_in_balanced() {
        // y_true = [0, 0], y_pred = [0, 5]: labels {0, 5}; class 5 has t = 0.
        // balanced = recall of class 0 = 1/2; recall_macro = (1/2 + 0)/2 = 1/4.
        let r = ClassificationReport::new(&[0, 0], &[0, 5]).unwrap();
        assert_eq!(r.balanced_accuracy, 0.5);
        assert_eq!(r.recall_macro, 0.25);
        assert_eq!(r.precision_macro, 0.5);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(accuracy(&[], &[]).is_err());
        assert!(accuracy(&[1, 2], &[1]).is_err());
    }
}
