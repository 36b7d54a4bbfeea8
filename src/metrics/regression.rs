//! Regression metrics, as scikit-learn (and NumPy / SciPy for Pearson's r) define them.
//!
//! With residuals `e_i = y_i − ŷ_i` over `n` samples and `ȳ` the mean of `y_true`:
//!
//! - MAE `= Σ|e_i| / n`; MedAE `= median |e_i|` (mean of the two middle values for even `n`);
//! - MSE `= Σ e_i² / n`; RMSE `= √MSE`;
//! - R2 `= 1 − Σ e_i² / Σ (y_i − ȳ)²`;
//! - EVar `= 1 − Var(e) / Var(y)` with population variances;
//! - PCC `= Σ (y_i − ȳ)(ŷ_i − ŷ̄) / √(Σ (y_i − ȳ)² · Σ (ŷ_i − ŷ̄)²)`, clipped to `[−1, 1]`.
//!
//! As scikit-learn's `force_finite=True`: R2 and EVar are 1 when `y_true` is constant and the
//! numerator is 0 too, and 0 when only the denominator is 0. PCC is NaN when either input is
//! constant, as nidl 0.0.1's own `pearson_r` (`force_finite=False`, `cov / √(var·var)`) and
//! SciPy's `pearsonr` give; the clipping to `[−1, 1]` (not in nidl) only moves a rounding error.

use super::check_pair;
use crate::error::{Error, Result};

/// The regression metrics nidl logs, for one `(y_true, y_pred)` pair.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RegressionReport {
    /// Mean absolute error.
    pub mae: f64,
    /// Median absolute error.
    pub medae: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean squared error.
    pub mse: f64,
    /// Coefficient of determination.
    pub r2: f64,
    /// Pearson correlation coefficient of `y_true` and `y_pred`.
    pub pcc: f64,
    /// Explained variance.
    pub evar: f64,
}

impl RegressionReport {
    /// All metrics of `y_pred` against `y_true`.
    ///
    /// Errors: [`Error::Shape`] for different lengths, [`Error::InvalidArgument`] for empty
    /// inputs, [`Error::NonFinite`] for a NaN or infinite value.
    pub fn new(y_true: &[f64], y_pred: &[f64]) -> Result<Self> {
        check("RegressionReport", y_true, y_pred)?;
        let mse = mean_squared_error_unchecked(y_true, y_pred);
        Ok(RegressionReport {
            mae: mean_absolute_error_unchecked(y_true, y_pred),
            medae: median_absolute_error_unchecked(y_true, y_pred),
            rmse: mse.sqrt(),
            mse,
            r2: r2_unchecked(y_true, y_pred),
            pcc: pearson_unchecked(y_true, y_pred),
            evar: explained_variance_unchecked(y_true, y_pred),
        })
    }

    /// `(name, value)` pairs in a fixed order, named as nidl logs them: `MAE`, `MedAE`, `RMSE`,
    /// `MSE`, `R2`, `PCC`, `EVar`.
    pub fn metrics(&self) -> [(&'static str, f64); 7] {
        [
            ("MAE", self.mae),
            ("MedAE", self.medae),
            ("RMSE", self.rmse),
            ("MSE", self.mse),
            ("R2", self.r2),
            ("PCC", self.pcc),
            ("EVar", self.evar),
        ]
    }
}

/// nidl's `regression_report(y_true, y_pred, output_dict=True)` for targets of `k` columns: the
/// [`RegressionReport`] of every column and their `average` (the arithmetic mean of each metric
/// over the columns, as nidl's `np.mean(metric, axis=0)`).
#[derive(Clone, Debug, PartialEq)]
pub struct MultiOutputReport {
    /// One report per target column, in column order.
    pub columns: Vec<RegressionReport>,
}

impl MultiOutputReport {
    /// The reports of `y_pred` against `y_true`, both `n × k` row-major (`k = 1`: one column).
    ///
    /// Errors: [`Error::Shape`] unless both hold `n·k` values with `n ≥ 1`, `k ≥ 1` (their
    /// lengths named); [`Error::NonFinite`] for a NaN or infinite value (its row and column
    /// named).
    pub fn new(y_true: &[f64], y_pred: &[f64], k: usize) -> Result<Self> {
        const OP: &str = "MultiOutputReport";
        let n = y_true.len() / k.max(1);
        if k == 0 || n == 0 || y_true.len() != n * k || y_pred.len() != n * k {
            return Err(Error::shape(
                OP,
                format!("y_true and y_pred of n × {k} values each, n ≥ 1"),
                &[&[y_true.len()], &[y_pred.len()]],
            ));
        }
        for (name, y) in [("y_true", y_true), ("y_pred", y_pred)] {
            if let Some(i) = y.iter().position(|v| !v.is_finite()) {
                return Err(Error::NonFinite {
                    what: format!("{OP}: {name}[{}, {}] = {}", i / k, i % k, y[i]),
                });
            }
        }
        let column = |y: &[f64], j: usize| y.iter().skip(j).step_by(k).copied().collect::<Vec<_>>();
        let columns = (0..k)
            .map(|j| RegressionReport::new(&column(y_true, j), &column(y_pred, j)))
            .collect::<Result<_>>()?;
        Ok(MultiOutputReport { columns })
    }

    /// The arithmetic mean of each metric over the columns (nidl's `average` entry).
    pub fn average(&self) -> RegressionReport {
        let k = self.columns.len() as f64;
        let mean = |f: fn(&RegressionReport) -> f64| self.columns.iter().map(f).sum::<f64>() / k;
        RegressionReport {
            mae: mean(|r| r.mae),
            medae: mean(|r| r.medae),
            rmse: mean(|r| r.rmse),
            mse: mean(|r| r.mse),
            r2: mean(|r| r.r2),
            pcc: mean(|r| r.pcc),
            evar: mean(|r| r.evar),
        }
    }

    /// `(name, value)` pairs named as nidl's dict flattened by its probing callback: one column
    /// gives [`RegressionReport::metrics`] (`MAE`, …); `k > 1` columns give `regressor <i>/MAE`
    /// … `regressor <i>/EVar` for `i` in `0..k`, then `average/MAE` … `average/EVar`.
    pub fn metrics(&self) -> Vec<(String, f64)> {
        let named = |prefix: &str, r: &RegressionReport| {
            r.metrics()
                .into_iter()
                .map(|(m, v)| (format!("{prefix}{m}"), v))
                .collect::<Vec<_>>()
        };
        match &self.columns[..] {
            [one] => named("", one),
            many => many
                .iter()
                .enumerate()
                .flat_map(|(i, r)| named(&format!("regressor {i}/"), r))
                .chain(named("average/", &self.average()))
                .collect(),
        }
    }
}

/// Mean absolute error `Σ|y − ŷ| / n`.
pub fn mean_absolute_error(y_true: &[f64], y_pred: &[f64]) -> Result<f64> {
    check("mean_absolute_error", y_true, y_pred)?;
    Ok(mean_absolute_error_unchecked(y_true, y_pred))
}

/// Median absolute error `median |y − ŷ|`.
pub fn median_absolute_error(y_true: &[f64], y_pred: &[f64]) -> Result<f64> {
    check("median_absolute_error", y_true, y_pred)?;
    Ok(median_absolute_error_unchecked(y_true, y_pred))
}

/// Mean squared error `Σ(y − ŷ)² / n`.
pub fn mean_squared_error(y_true: &[f64], y_pred: &[f64]) -> Result<f64> {
    check("mean_squared_error", y_true, y_pred)?;
    Ok(mean_squared_error_unchecked(y_true, y_pred))
}

/// Coefficient of determination `1 − Σ(y − ŷ)² / Σ(y − ȳ)²` (see the module notes for a
/// constant `y_true`).
pub fn r2_score(y_true: &[f64], y_pred: &[f64]) -> Result<f64> {
    check("r2_score", y_true, y_pred)?;
    Ok(r2_unchecked(y_true, y_pred))
}

/// Explained variance `1 − Var(y − ŷ) / Var(y)` (see the module notes for a constant `y_true`).
pub fn explained_variance(y_true: &[f64], y_pred: &[f64]) -> Result<f64> {
    check("explained_variance", y_true, y_pred)?;
    Ok(explained_variance_unchecked(y_true, y_pred))
}

/// Pearson's correlation coefficient; NaN when either input is constant.
pub fn pearson_r(y_true: &[f64], y_pred: &[f64]) -> Result<f64> {
    check("pearson_r", y_true, y_pred)?;
    Ok(pearson_unchecked(y_true, y_pred))
}

fn check(op: &'static str, y_true: &[f64], y_pred: &[f64]) -> Result<()> {
    check_pair(op, y_true.len(), y_pred.len())?;
    for (name, v) in [("y_true", y_true), ("y_pred", y_pred)] {
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(Error::NonFinite {
                what: format!("{op}: {name}[{i}] = {}", v[i]),
            });
        }
    }
    Ok(())
}

fn mean(v: impl Iterator<Item = f64>, n: usize) -> f64 {
    v.sum::<f64>() / n as f64
}

fn mean_absolute_error_unchecked(y: &[f64], p: &[f64]) -> f64 {
    mean(y.iter().zip(p).map(|(a, b)| (a - b).abs()), y.len())
}

fn mean_squared_error_unchecked(y: &[f64], p: &[f64]) -> f64 {
    mean(y.iter().zip(p).map(|(a, b)| (a - b) * (a - b)), y.len())
}

fn median_absolute_error_unchecked(y: &[f64], p: &[f64]) -> f64 {
    let mut e: Vec<f64> = y.iter().zip(p).map(|(a, b)| (a - b).abs()).collect();
    e.sort_unstable_by(f64::total_cmp);
    let n = e.len();
    if n % 2 == 1 {
        e[n / 2]
    } else {
        (e[n / 2 - 1] + e[n / 2]) / 2.0
    }
}

/// `1 − num/den` with scikit-learn's `force_finite` rule for `den == 0`.
fn one_minus_ratio(num: f64, den: f64) -> f64 {
    if den == 0.0 {
        if num == 0.0 {
            1.0
        } else {
            0.0
        }
    } else {
        1.0 - num / den
    }
}

fn r2_unchecked(y: &[f64], p: &[f64]) -> f64 {
    let n = y.len();
    let y_mean = mean(y.iter().copied(), n);
    let ss_res: f64 = y.iter().zip(p).map(|(a, b)| (a - b) * (a - b)).sum();
    let ss_tot: f64 = y.iter().map(|a| (a - y_mean) * (a - y_mean)).sum();
    one_minus_ratio(ss_res, ss_tot)
}

fn explained_variance_unchecked(y: &[f64], p: &[f64]) -> f64 {
    let n = y.len();
    let diff_mean = mean(y.iter().zip(p).map(|(a, b)| a - b), n);
    let num = mean(
        y.iter().zip(p).map(|(a, b)| {
            let r = a - b - diff_mean;
            r * r
        }),
        n,
    );
    let y_mean = mean(y.iter().copied(), n);
    let den = mean(y.iter().map(|a| (a - y_mean) * (a - y_mean)), n);
    one_minus_ratio(num, den)
}

fn pearson_unchecked(y: &[f64], p: &[f64]) -> f64 {
    let n = y.len();
    let (my, mp) = (mean(y.iter().copied(), n), mean(p.iter().copied(), n));
    let (mut syy, mut spp, mut syp) = (0.0, 0.0, 0.0);
    for (a, b) in y.iter().zip(p) {
        let (da, db) = (a - my, b - mp);
        syy += da * da;
        spp += db * db;
        syp += da * db;
    }
    if syy == 0.0 || spp == 0.0 {
        return f64::NAN;
    }
    (syp / (syy.sqrt() * spp.sqrt())).clamp(-1.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_worked_four_points() {
        // y = [1, 2, 3, 4], ŷ = [1, 3, 2, 6]: e = [0, −1, 1, −2].
        // MAE = 4/4 = 1; MedAE = median[0, 1, 1, 2] = 1; MSE = 6/4 = 1.5.
        // ȳ = 2.5, Σ(y − ȳ)² = 5 → R2 = 1 − 6/5 = −0.2.
        // mean(e) = −0.5, Var(e) = (0.25 + 0.25 + 2.25 + 2.25)/4 = 1.25, Var(y) = 1.25 → EVar 0.
        // ŷ̄ = 3, Σ(ŷ − 3)² = 4 + 0 + 1 + 9 = 14, Σ(y − ȳ)(ŷ − 3) = 3 + 0 − 0.5 + 4.5 = 7
        // → PCC = 7 / √(5·14) = 7/√70.
        let r = RegressionReport::new(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 6.0]).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-15;
        assert!(close(r.mae, 1.0) && close(r.medae, 1.0) && close(r.mse, 1.5));
        assert!(close(r.rmse, 1.5f64.sqrt()));
        assert!(close(r.r2, -0.2), "{}", r.r2);
        assert!(close(r.evar, 0.0), "{}", r.evar);
        assert!(close(r.pcc, 7.0 / 70f64.sqrt()), "{}", r.pcc);
    }

    #[test]
    fn constant_targets_follow_force_finite() {
        assert_eq!(r2_score(&[2.0, 2.0], &[2.0, 2.0]).unwrap(), 1.0);
        assert_eq!(r2_score(&[2.0, 2.0], &[1.0, 2.0]).unwrap(), 0.0);
        assert!(pearson_r(&[2.0, 2.0], &[1.0, 2.0]).unwrap().is_nan());
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(matches!(
            mean_absolute_error(&[1.0, f64::NAN], &[1.0, 2.0]),
            Err(Error::NonFinite { .. })
        ));
        assert!(matches!(
            mean_absolute_error(&[1.0], &[]),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(
            mean_absolute_error(&[], &[]),
            Err(Error::InvalidArgument { .. })
        ));
    }
}
