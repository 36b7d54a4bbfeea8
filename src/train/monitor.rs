//! Watching one logged tag across a run: the best value so far (for the best checkpoint,
//! Lightning's `ModelCheckpoint(monitor=…, save_top_k=1)`) and the evaluations since it improved
//! (for early stopping, Lightning's `EarlyStopping(monitor=…, patience=…, min_delta=0)`).
//!
//! An evaluation is an epoch at whose end the tag was logged; a value improves when it is
//! strictly better than the best so far (larger in [`Mode::Max`], smaller in [`Mode::Min`]); a
//! NaN or infinite value never improves. The state travels in checkpoint metadata
//! ([`Monitor::to_metadata`]), so a resumed run continues counting.

use crate::error::{Error, Result};
use crate::log::MetricKind;

/// Whether larger or smaller values of a tag are better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Larger is better (scores).
    Max,
    /// Smaller is better (errors, losses).
    Min,
}

impl Mode {
    /// The mode of `tag` by its [`MetricKind`]: `min` for losses and errors, `max` otherwise.
    pub fn of(tag: &str) -> Mode {
        if MetricKind::of(tag).lower_is_better() {
            Mode::Min
        } else {
            Mode::Max
        }
    }

    /// `max` or `min`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Max => "max",
            Mode::Min => "min",
        }
    }

    /// Whether `value` is strictly better than `best`.
    fn improves(self, value: f64, best: f64) -> bool {
        value.is_finite()
            && match self {
                Mode::Max => value > best,
                Mode::Min => value < best,
            }
    }
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "max" => Ok(Mode::Max),
            "min" => Ok(Mode::Min),
            other => Err(format!("'{other}' is not a mode (max or min)")),
        }
    }
}

/// The best value of a watched tag and where it was logged.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Best {
    /// The value.
    pub value: f64,
    /// The epoch (0-based) at whose end it was logged.
    pub epoch: usize,
    /// The global step of the state it scores (optimizer steps done).
    pub global_step: u64,
}

/// One watched tag: its mode, the best value so far and the evaluations since it improved.
#[derive(Clone, Debug, PartialEq)]
pub struct Monitor {
    tag: String,
    mode: Mode,
    best: Option<Best>,
    stale: usize,
}

impl Monitor {
    /// Watches `tag`, in `mode` (`None`: [`Mode::of`] the tag).
    pub fn new(tag: impl Into<String>, mode: Option<Mode>) -> Self {
        let tag = tag.into();
        let mode = mode.unwrap_or_else(|| Mode::of(&tag));
        Monitor {
            tag,
            mode,
            best: None,
            stale: 0,
        }
    }

    /// The tag watched.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The best value so far, if any was finite.
    pub fn best(&self) -> Option<Best> {
        self.best
    }

    /// Evaluations since the last improvement (since the start when none improved).
    pub fn stale(&self) -> usize {
        self.stale
    }

    /// Records `value` of the state after `epoch` (`global_step` steps); returns whether it
    /// improved on the best so far (the first finite value always does).
    pub fn observe(&mut self, value: f64, epoch: usize, global_step: u64) -> bool {
        let improved = match self.best {
            None => value.is_finite(),
            Some(b) => self.mode.improves(value, b.value),
        };
        if improved {
            self.best = Some(Best {
                value,
                epoch,
                global_step,
            });
            self.stale = 0;
        } else {
            self.stale += 1;
        }
        improved
    }

    /// The state as one metadata value: `tag`, mode, best value, epoch and step (or `none`),
    /// stale count, tab-separated (values in shortest round-trip form).
    pub fn to_metadata(&self) -> String {
        let best = match self.best {
            Some(b) => format!("{}\t{}\t{}", b.value, b.epoch, b.global_step),
            None => "none".into(),
        };
        format!("{}\t{}\t{best}\t{}", self.tag, self.mode.name(), self.stale)
    }

    /// Restores [`to_metadata`](Self::to_metadata)'s state when it watches the same tag in the
    /// same mode; returns whether it did (another tag or mode starts afresh).
    ///
    /// Errors: a value that is not such a state (`key` names the metadata entry).
    pub fn restore(&mut self, key: &str, text: &str) -> Result<bool> {
        let bad = || {
            Error::invalid(
                "Monitor::restore",
                format!("checkpoint metadata '{key}' = '{text}' is not a monitor's state"),
            )
        };
        let fields: Vec<&str> = text.split('\t').collect();
        let (tag, mode, rest) = match &fields[..] {
            [tag, mode, rest @ ..] => (*tag, mode.parse::<Mode>().map_err(|_| bad())?, rest),
            _ => return Err(bad()),
        };
        let (best, stale) = match rest {
            ["none", stale] => (None, stale),
            [value, epoch, step, stale] => {
                let best = Best {
                    value: value.parse().map_err(|_| bad())?,
                    epoch: epoch.parse().map_err(|_| bad())?,
                    global_step: step.parse().map_err(|_| bad())?,
                };
                (Some(best), stale)
            }
            _ => return Err(bad()),
        };
        let stale = stale.parse().map_err(|_| bad())?;
        if tag != self.tag || mode != self.mode {
            return Ok(false);
        }
        self.best = best;
        self.stale = stale;
        Ok(true)
    }
}

/// Early stopping: a [`Monitor`] and the evaluations without improvement it tolerates.
#[derive(Clone, Debug, PartialEq)]
pub struct EarlyStopping {
    /// The watched tag.
    pub monitor: Monitor,
    /// Training stops after the evaluation that makes `patience` evaluations in a row without
    /// improvement (Lightning's `patience`; 0 stops at the first one).
    pub patience: usize,
}

impl EarlyStopping {
    /// Whether the run must stop now: the last evaluation did not improve, and it makes
    /// `patience` in a row (as Lightning counts its `wait_count`).
    pub fn should_stop(&self) -> bool {
        let stale = self.monitor.stale();
        stale > 0 && stale >= self.patience
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_follow_the_metric_kind() {
        assert_eq!(Mode::of("LogisticRegression/accuracy"), Mode::Max);
        assert_eq!(Mode::of("task0/MAE"), Mode::Min);
        assert_eq!(Mode::of("loss/val"), Mode::Min);
        assert_eq!(Mode::of("online/f1_macro"), Mode::Max);
    }

    #[test]
    fn improvement_is_strict_and_ignores_nan() {
        let mut m = Monitor::new("a/accuracy", None);
        assert!(!m.observe(f64::NAN, 0, 1));
        assert!(m.observe(0.5, 1, 2));
        assert!(!m.observe(0.5, 2, 3)); // equal: no improvement (min_delta 0, strict)
        assert!(!m.observe(f64::INFINITY, 3, 4));
        assert_eq!(m.stale(), 2);
        assert!(m.observe(0.6, 4, 5));
        assert_eq!(m.stale(), 0);
        let b = m.best().unwrap();
        assert_eq!((b.value, b.epoch, b.global_step), (0.6, 4, 5));
        let mut l = Monitor::new("loss/val", None);
        assert!(l.observe(2.0, 0, 1));
        assert!(!l.observe(3.0, 1, 2));
        assert!(l.observe(1.0, 2, 3));
    }

    #[test]
    fn early_stopping_counts_evaluations_without_improvement() {
        let mut e = EarlyStopping {
            monitor: Monitor::new("loss/val", None),
            patience: 2,
        };
        e.monitor.observe(1.0, 0, 1);
        assert!(!e.should_stop());
        e.monitor.observe(1.0, 1, 2);
        assert!(!e.should_stop());
        e.monitor.observe(1.5, 2, 3);
        assert!(e.should_stop());
        let mut z = EarlyStopping {
            monitor: Monitor::new("loss/val", None),
            patience: 0,
        };
        z.monitor.observe(1.0, 0, 1);
        assert!(!z.should_stop());
        z.monitor.observe(1.0, 1, 2);
        assert!(z.should_stop());
    }

    #[test]
    fn metadata_round_trips_exactly() {
        let mut m = Monitor::new("online/accuracy", Some(Mode::Min));
        m.observe(0.1 + 0.2, 3, 1234);
        m.observe(0.9, 4, 1500);
        let text = m.to_metadata();
        let mut r = Monitor::new("online/accuracy", Some(Mode::Min));
        assert!(r.restore("k", &text).unwrap());
        assert_eq!(r, m);
        let mut other = Monitor::new("online/accuracy", None);
        assert!(!other.restore("k", &text).unwrap());
        assert_eq!(other.best(), None);
        let fresh = Monitor::new("x/y", None);
        let mut back = Monitor::new("x/y", None);
        assert!(back.restore("k", &fresh.to_metadata()).unwrap());
        assert_eq!(back, fresh);
        assert!(back.restore("k", "x/y\tmax\tnot-a-number").is_err());
    }
}
