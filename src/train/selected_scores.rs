//! The scores a probing callback logs under a [`ScoreSelection`] (nidl 0.0.2's `scoring` and
//! `prefix_score`), checked against its probe once, when the callback is built.
//!
//! nidl 0.0.2's `ModelProbingCallback` logs `<prefix_score>test_score` for a single score and
//! `<prefix_score>test_<name>` for each of several; its `ModelProbingCVCallback` logs each key of
//! `cross_validate` per fold, `fold<i>/<prefix_score><key>` ([`CrossValidatedScore`]).
//!
//! [`CrossValidatedScore`]: super::CrossValidatedScore

use crate::error::{Error, Result};
use crate::metrics::{ProbeKind, ScoreSelection, Scorer};
use crate::probe::TaskReport;

/// A [`ScoreSelection`] resolved for one probe: each score's key (`score`, or its name) and
/// the tag prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectedScores {
    /// Put before every key in the tags.
    pub prefix: String,
    /// `(key, scorer)` in order (see [`Scoring::keyed`](crate::metrics::Scoring::keyed)).
    pub keyed: Vec<(String, Scorer)>,
}

impl SelectedScores {
    /// The scores of `sel` for a probe of `kind` that `probe` names.
    ///
    /// Errors: [`Error::InvalidArgument`] naming the score and the probe when a score is not
    /// defined for it (a classification score on a regressor, or the reverse).
    pub fn new(sel: &ScoreSelection, probe: &str, kind: ProbeKind) -> Result<Self> {
        Ok(SelectedScores {
            prefix: sel.prefix.clone(),
            keyed: sel.scoring.keyed(probe, kind)?,
        })
    }

    /// The value of each score in `report`, keyed `test_<key>`, in order.
    ///
    /// Errors: [`Error::InvalidArgument`] for a score the report's task does not define (the
    /// selection was checked for another kind of probe).
    pub fn test_scores(&self, report: &TaskReport) -> Result<Vec<(String, f64)>> {
        self.keyed
            .iter()
            .map(|(key, s)| {
                let value = report.score(*s).ok_or_else(|| {
                    Error::invalid(
                        "scoring",
                        format!("'{}' is not a score of this probe's task", s.name()),
                    )
                })?;
                Ok((format!("test_{key}"), value))
            })
            .collect()
    }

    /// The tags nidl 0.0.2's `ModelProbingCallback` logs: `<before><prefix>test_<key>` for each
    /// score of `report` (`before` is empty, or a task's `task<j>/`).
    pub fn tags(&self, before: &str, report: &TaskReport) -> Result<Vec<(String, f64)>> {
        Ok(self
            .test_scores(report)?
            .into_iter()
            .map(|(key, v)| (format!("{before}{}{key}", self.prefix), v))
            .collect())
    }
}
