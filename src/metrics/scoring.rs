//! scikit-learn's scoring names, read off the reports of this module: what nidl 0.0.2's probing
//! callbacks take as `scoring` (a name, a list of names, or none for the probe's own `score`).
//!
//! | name | value | task |
//! |---|---|---|
//! | `accuracy`, `balanced_accuracy`, `f1_macro`, `f1_weighted`, `precision_macro`, `recall_macro` | the [`ClassificationReport`] field | classification |
//! | `r2`, `explained_variance` | R2, EVar | regression |
//! | `neg_mean_absolute_error`, `neg_mean_squared_error`, `neg_root_mean_squared_error`, `neg_median_absolute_error` | −MAE, −MSE, −RMSE, −MedAE | regression |
//!
//! As scikit-learn, a `neg_` score is the error negated (greater is better), and a regression
//! score on several target columns is the mean of the columns' scores (`multioutput =
//! "uniform_average"`, [`MultiOutputReport::average`](super::MultiOutputReport::average)).
//! Without a scoring ([`Scoring::Default`]) a probe is scored as scikit-learn's `score` method
//! does: accuracy for a classifier, R2 for a regressor.

use super::{ClassificationReport, RegressionReport};
use crate::error::{Error, Result};

/// What a probe predicts, as a score needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    /// Class labels.
    Classifier,
    /// Continuous values.
    Regressor,
}

impl ProbeKind {
    /// `classifier` or `regressor`, for messages.
    pub fn name(self) -> &'static str {
        match self {
            ProbeKind::Classifier => "classifier",
            ProbeKind::Regressor => "regressor",
        }
    }
}

/// One scikit-learn scoring name that the reports compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scorer {
    /// `accuracy`.
    Accuracy,
    /// `balanced_accuracy`.
    BalancedAccuracy,
    /// `f1_macro`.
    F1Macro,
    /// `f1_weighted`.
    F1Weighted,
    /// `precision_macro`.
    PrecisionMacro,
    /// `recall_macro`.
    RecallMacro,
    /// `r2`.
    R2,
    /// `explained_variance`.
    ExplainedVariance,
    /// `neg_mean_absolute_error`: −MAE.
    NegMeanAbsoluteError,
    /// `neg_mean_squared_error`: −MSE.
    NegMeanSquaredError,
    /// `neg_root_mean_squared_error`: −RMSE.
    NegRootMeanSquaredError,
    /// `neg_median_absolute_error`: −MedAE.
    NegMedianAbsoluteError,
}

impl Scorer {
    /// Every scorer, classification scores first.
    pub const ALL: [Scorer; 12] = [
        Scorer::Accuracy,
        Scorer::BalancedAccuracy,
        Scorer::F1Macro,
        Scorer::F1Weighted,
        Scorer::PrecisionMacro,
        Scorer::RecallMacro,
        Scorer::R2,
        Scorer::ExplainedVariance,
        Scorer::NegMeanAbsoluteError,
        Scorer::NegMeanSquaredError,
        Scorer::NegRootMeanSquaredError,
        Scorer::NegMedianAbsoluteError,
    ];

    /// Its scikit-learn name (`f1_macro`).
    pub fn name(self) -> &'static str {
        match self {
            Scorer::Accuracy => "accuracy",
            Scorer::BalancedAccuracy => "balanced_accuracy",
            Scorer::F1Macro => "f1_macro",
            Scorer::F1Weighted => "f1_weighted",
            Scorer::PrecisionMacro => "precision_macro",
            Scorer::RecallMacro => "recall_macro",
            Scorer::R2 => "r2",
            Scorer::ExplainedVariance => "explained_variance",
            Scorer::NegMeanAbsoluteError => "neg_mean_absolute_error",
            Scorer::NegMeanSquaredError => "neg_mean_squared_error",
            Scorer::NegRootMeanSquaredError => "neg_root_mean_squared_error",
            Scorer::NegMedianAbsoluteError => "neg_median_absolute_error",
        }
    }

    /// The scorer named `name`.
    ///
    /// Errors: [`Error::InvalidArgument`] for any other name, listing the valid ones.
    pub fn parse(name: &str) -> Result<Scorer> {
        Scorer::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                let valid: Vec<&str> = Scorer::ALL.iter().map(|s| s.name()).collect();
                Error::invalid(
                    "scoring",
                    format!("unknown scoring '{name}' (valid: {})", valid.join(", ")),
                )
            })
    }

    /// The kind of probe the score is defined for.
    pub fn kind(self) -> ProbeKind {
        match self {
            Scorer::Accuracy
            | Scorer::BalancedAccuracy
            | Scorer::F1Macro
            | Scorer::F1Weighted
            | Scorer::PrecisionMacro
            | Scorer::RecallMacro => ProbeKind::Classifier,
            _ => ProbeKind::Regressor,
        }
    }

    /// The score of a classifier's report; `None` for a regression score.
    pub fn of_classification(self, r: &ClassificationReport) -> Option<f64> {
        Some(match self {
            Scorer::Accuracy => r.accuracy,
            Scorer::BalancedAccuracy => r.balanced_accuracy,
            Scorer::F1Macro => r.f1_macro,
            Scorer::F1Weighted => r.f1_weighted,
            Scorer::PrecisionMacro => r.precision_macro,
            Scorer::RecallMacro => r.recall_macro,
            _ => return None,
        })
    }

    /// The score of a regressor's report (for several columns, their
    /// [`average`](super::MultiOutputReport::average)); `None` for a classification score.
    pub fn of_regression(self, r: &RegressionReport) -> Option<f64> {
        Some(match self {
            Scorer::R2 => r.r2,
            Scorer::ExplainedVariance => r.evar,
            Scorer::NegMeanAbsoluteError => -r.mae,
            Scorer::NegMeanSquaredError => -r.mse,
            Scorer::NegRootMeanSquaredError => -r.rmse,
            Scorer::NegMedianAbsoluteError => -r.medae,
            _ => return None,
        })
    }
}

/// nidl 0.0.2's `scoring`: which scores a probing callback logs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Scoring {
    /// `None`: the probe's own score (accuracy for a classifier, R2 for a regressor), keyed
    /// `score`.
    #[default]
    Default,
    /// A single name (a string): keyed `score`, as scikit-learn's single-metric scoring.
    One(Scorer),
    /// A list of distinct names: each keyed by its name.
    Many(Vec<Scorer>),
}

impl Scoring {
    /// The scoring of a list of names: one name is [`Scoring::One`] when `single` (a string in
    /// nidl, keyed `score`), else each is keyed by its name ([`Scoring::Many`], a list in nidl).
    ///
    /// Errors ([`Error::InvalidArgument`]): an empty list, an unknown name (listing the valid
    /// ones), a name given twice (scikit-learn refuses duplicates too).
    pub fn parse(names: &[&str], single: bool) -> Result<Scoring> {
        let scorers = names
            .iter()
            .map(|n| Scorer::parse(n))
            .collect::<Result<Vec<_>>>()?;
        for (i, s) in scorers.iter().enumerate() {
            if scorers[..i].contains(s) {
                return Err(Error::invalid(
                    "scoring",
                    format!("'{}' is given twice", s.name()),
                ));
            }
        }
        match &scorers[..] {
            [] => Err(Error::invalid("scoring", "no scoring name given")),
            [one] if single => Ok(Scoring::One(*one)),
            _ => Ok(Scoring::Many(scorers)),
        }
    }

    /// The `(key, scorer)` pairs a probe of `kind` (`probe` names it) is scored with, keyed as
    /// scikit-learn's `cross_validate` and nidl's callbacks key them (`score`, or each name).
    ///
    /// Errors: [`Error::InvalidArgument`] naming the score and the probe when a score is not
    /// defined for the probe's kind (a classification score on a regressor, or the reverse).
    pub fn keyed(&self, probe: &str, kind: ProbeKind) -> Result<Vec<(String, Scorer)>> {
        let scorers: Vec<(String, Scorer)> = match self {
            Scoring::Default => vec![(
                "score".into(),
                match kind {
                    ProbeKind::Classifier => Scorer::Accuracy,
                    ProbeKind::Regressor => Scorer::R2,
                },
            )],
            Scoring::One(s) => vec![("score".into(), *s)],
            Scoring::Many(v) => v.iter().map(|s| (s.name().to_string(), *s)).collect(),
        };
        if let Some((_, s)) = scorers.iter().find(|(_, s)| s.kind() != kind) {
            return Err(Error::invalid(
                "scoring",
                format!(
                    "'{}' scores a {}, but {probe} is a {}",
                    s.name(),
                    s.kind().name(),
                    kind.name()
                ),
            ));
        }
        Ok(scorers)
    }
}

/// A probing callback's choice of scores: nidl 0.0.2's `scoring` and `prefix_score`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScoreSelection {
    /// The scores.
    pub scoring: Scoring,
    /// Put before every score's key in its tag (`logreg_` gives `logreg_test_accuracy`).
    pub prefix: String,
}

impl ScoreSelection {
    /// `scoring` with the tag prefix `prefix`.
    pub fn new(scoring: Scoring, prefix: impl Into<String>) -> Self {
        ScoreSelection {
            scoring,
            prefix: prefix.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neg_scores_are_negated_errors() {
        // y = [1, 2, 3, 4], ŷ = [1, 3, 2, 6] (the regression module's hand-worked case):
        // MAE 1, MedAE 1, MSE 1.5, R2 −0.2, EVar 0.
        let r = RegressionReport::new(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 6.0]).unwrap();
        let s = |name| Scorer::parse(name).unwrap().of_regression(&r).unwrap();
        assert_eq!(s("neg_mean_absolute_error"), -1.0);
        assert_eq!(s("neg_median_absolute_error"), -1.0);
        assert_eq!(s("neg_mean_squared_error"), -1.5);
        assert_eq!(s("neg_root_mean_squared_error"), -(1.5f64.sqrt()));
        assert_eq!(s("r2"), r.r2);
        assert_eq!(s("explained_variance"), r.evar);
        assert_eq!(Scorer::Accuracy.of_regression(&r), None);
    }

    #[test]
    fn keys_follow_cross_validate() {
        let one = Scoring::parse(&["f1_macro"], true).unwrap();
        assert_eq!(
            one.keyed("p", ProbeKind::Classifier).unwrap(),
            [("score".to_string(), Scorer::F1Macro)]
        );
        let many = Scoring::parse(&["accuracy", "f1_macro"], true).unwrap();
        let keys: Vec<String> = many
            .keyed("p", ProbeKind::Classifier)
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, ["accuracy", "f1_macro"]);
        let default = Scoring::Default.keyed("p", ProbeKind::Regressor).unwrap();
        assert_eq!(default, [("score".to_string(), Scorer::R2)]);
    }

    #[test]
    fn bad_names_and_kinds_are_errors() {
        let e = Scorer::parse("auc").unwrap_err().to_string();
        assert!(e.contains("unknown scoring 'auc'") && e.contains("neg_mean_absolute_error"));
        let e = Scoring::parse(&["r2", "r2"], false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("'r2' is given twice"), "{e}");
        let e = Scoring::parse(&["accuracy"], true)
            .unwrap()
            .keyed("Ridge", ProbeKind::Regressor)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'accuracy' scores a classifier, but Ridge is a regressor"),
            "{e}"
        );
    }
}
