//! The metrics of a run at a glance: per tag, its final value and its best one with the step it
//! was logged at ([`MetricTable`], in [`FitReport::metrics`](super::FitReport::metrics)); the
//! command line prints it once at the end of a run.

/// One tag of a [`MetricTable`].
#[derive(Clone, Debug, PartialEq)]
pub struct TagSummary {
    /// The tag (`loss/train`, `LogisticRegression/accuracy`, ...).
    pub tag: String,
    /// The last value logged.
    pub last: f64,
    /// The step of the last value.
    pub last_step: u64,
    /// The best finite value ([`lower_is_better`] says which way), if any was finite.
    pub best: Option<f64>,
    /// The step of the best value (the first step it was reached at).
    pub best_step: u64,
}

/// Per tag, in the order tags were first logged: the final value and the best one, with their
/// steps. NaN and infinite values count as final values, never as best ones.
///
/// ```
/// use nidl::train::metric_table::MetricTable;
/// let mut t = MetricTable::default();
/// t.add("loss/val", 2.0, 9);
/// t.add("loss/val", 1.5, 19);
/// t.add("loss/val", 1.7, 29);
/// let row = &t.rows()[0];
/// assert_eq!((row.best, row.best_step, row.last), (Some(1.5), 19, 1.7));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricTable {
    rows: Vec<TagSummary>,
}

/// Whether a smaller value of `tag` is better: losses (`loss/...`) and error metrics (MAE, MedAE,
/// RMSE, MSE); scores (accuracy, F1, R2, PCC, EVar, ...) are better larger
/// ([`MetricKind`](crate::log::MetricKind)).
pub fn lower_is_better(tag: &str) -> bool {
    crate::log::MetricKind::of(tag).lower_is_better()
}

/// `v` in at most 10 characters: 4 decimals, or scientific notation when that is longer.
pub(crate) fn value_text(v: f64) -> String {
    let fixed = format!("{v:.4}");
    if fixed.len() <= 10 {
        fixed
    } else {
        format!("{v:.3e}")
    }
}

/// `text` in at most `width` characters, its middle replaced by `...` when longer.
pub fn elide(text: &str, width: usize) -> String {
    let n = text.chars().count();
    if n <= width {
        return text.to_string();
    }
    if width <= 3 {
        return text.chars().take(width).collect();
    }
    let keep = width - 3;
    let head: String = text.chars().take(keep / 2).collect();
    let tail: String = text.chars().skip(n - (keep - keep / 2)).collect();
    format!("{head}...{tail}")
}

impl MetricTable {
    /// Records `value` of `tag` logged at `step`.
    pub fn add(&mut self, tag: &str, value: f64, step: u64) {
        let lower = lower_is_better(tag);
        let row = match self.rows.iter_mut().position(|r| r.tag == tag) {
            Some(i) => &mut self.rows[i],
            None => {
                self.rows.push(TagSummary {
                    tag: tag.to_string(),
                    last: value,
                    last_step: step,
                    best: None,
                    best_step: step,
                });
                let i = self.rows.len() - 1;
                &mut self.rows[i]
            }
        };
        row.last = value;
        row.last_step = step;
        if value.is_finite() {
            let better = match row.best {
                None => true,
                Some(b) if lower => value < b,
                Some(b) => value > b,
            };
            if better {
                row.best = Some(value);
                row.best_step = step;
            }
        }
    }

    /// The tags, in the order they were first logged.
    pub fn rows(&self) -> &[TagSummary] {
        &self.rows
    }

    /// The table as lines of at most `width` characters (at least 50): a header, then one line
    /// per tag — the tag (its middle elided when too long), its final value and step, `min` or
    /// `max` (which is best) and the best value and step.
    ///
    /// ```text
    /// tag                              final   step   best      value   step
    /// loss/train                      2.9172     19    min     2.9172     19
    /// LogisticRegression/accuracy     0.6812     19    max     0.6812     19
    /// ```
    pub fn lines(&self, width: usize) -> Vec<String> {
        // final(10) step(sw) best(6) value(10) step(sw), each right-aligned after a space;
        // the step columns widen past 6 digits for runs of a million steps or more.
        let last = self.rows.iter().map(|r| r.last_step).max().unwrap_or(0);
        let sw = last.to_string().len().max(6);
        let values = 11 + (sw + 1) + 7 + 11 + (sw + 1);
        let longest = self.rows.iter().map(|r| r.tag.chars().count()).max();
        let room = width.max(50).saturating_sub(values).max(3);
        let tag_width = longest.unwrap_or(3).max(3).min(room);
        let mut lines = vec![format!(
            "{:<tag_width$} {:>10} {:>sw$} {:>6} {:>10} {:>sw$}",
            "tag", "final", "step", "best", "value", "step"
        )];
        for r in &self.rows {
            let (way, best, best_step) = match r.best {
                Some(b) => (
                    if lower_is_better(&r.tag) {
                        "min"
                    } else {
                        "max"
                    },
                    value_text(b),
                    r.best_step.to_string(),
                ),
                None => ("-", "-".to_string(), "-".to_string()),
            };
            lines.push(format!(
                "{:<tag_width$} {:>10} {:>sw$} {:>6} {:>10} {:>sw$}",
                elide(&r.tag, tag_width),
                value_text(r.last),
                r.last_step,
                way,
                best,
                best_step
            ));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run's metrics as the trainer logs them: two epochs of 10 steps.
    fn table() -> MetricTable {
        let mut t = MetricTable::default();
        for (tag, v, step) in [
            ("loss/train", 3.5, 4),
            ("loss/train", 3.1, 9),
            ("loss/val", 3.3, 9),
            ("LogisticRegression/accuracy", 0.61, 9),
            ("task0/MAE", 5.25, 9),
            ("loss/train", 3.2, 14),
            ("loss/train", 2.9, 19),
            ("loss/val", 3.4, 19),
            ("LogisticRegression/accuracy", 0.7, 19),
            ("task0/MAE", 6.0, 19),
            ("KNeighborsRegressor/regressor 1/R2", f64::NAN, 19),
        ] {
            t.add(tag, v, step);
        }
        t
    }

    #[test]
    fn best_is_the_minimum_of_losses_and_errors_and_the_maximum_of_scores() {
        let t = table();
        let got: Vec<(&str, f64, u64, Option<f64>, u64)> = t
            .rows()
            .iter()
            .map(|r| (r.tag.as_str(), r.last, r.last_step, r.best, r.best_step))
            .collect();
        assert_eq!(got.len(), 5);
        assert_eq!(got[0], ("loss/train", 2.9, 19, Some(2.9), 19));
        assert_eq!(got[1], ("loss/val", 3.4, 19, Some(3.3), 9));
        assert_eq!(
            got[2],
            ("LogisticRegression/accuracy", 0.7, 19, Some(0.7), 19)
        );
        assert_eq!(got[3], ("task0/MAE", 6.0, 19, Some(5.25), 9));
        let r2 = &t.rows()[4];
        assert!(r2.last.is_nan() && r2.best.is_none());
    }

    #[test]
    fn the_table_lines_are_exact_and_fit_the_width() {
        let lines = table().lines(80);
        assert_eq!(
            lines,
            [
                "tag                                     final   step   best      value   step",
                "loss/train                             2.9000     19    min     2.9000     19",
                "loss/val                               3.4000     19    min     3.3000      9",
                "LogisticRegression/accuracy            0.7000     19    max     0.7000     19",
                "task0/MAE                              6.0000     19    min     5.2500      9",
                "KNeighborsRegressor/regressor 1/R2        NaN     19      -          -      -",
            ]
        );
        for width in [50, 60, 80] {
            for l in table().lines(width) {
                assert!(l.chars().count() <= width, "{width}: {l:?}");
            }
        }
        let narrow = table().lines(60);
        assert!(narrow[5].starts_with("KNeighb...or 1/R2 "), "{narrow:?}");
        let mut long_run = table();
        long_run.add("loss/train", 2.5, 12_345_678);
        let lines = long_run.lines(80);
        assert!(
            lines[1].ends_with(" 2.5000 12345678    min     2.5000 12345678"),
            "{lines:?}"
        );
        for l in &lines {
            assert!(l.chars().count() <= 80, "{l:?}");
        }
    }

    #[test]
    fn large_values_are_written_in_scientific_notation() {
        assert_eq!(value_text(12.5), "12.5000");
        assert_eq!(value_text(-123456.0), "-1.235e5");
        assert_eq!(elide("abcdefghij", 7), "ab...ij");
        assert_eq!(elide("abc", 7), "abc");
    }
}
