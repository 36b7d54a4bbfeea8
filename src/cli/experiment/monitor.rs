//! The keys of `[run]` that watch a run rather than shape it: `online_probe` (the online linear
//! probe, [`OnlineProbe`]), `checkpoint_best` / `checkpoint_best_mode` (the best checkpoint)
//! and `early_stop` / `early_stop_mode` / `patience` (early stopping): their checks, the
//! online probe's callback and what the trainer is given ([`MonitorOptions`]).
//!
//! None of them is a trajectory hyper-parameter: a run's losses and weights are the same with
//! and without them (until early stopping ends it), and a resume may add or drop the best
//! checkpoint and early stopping. The online probe's state travels in the checkpoints, so a run
//! with it resumes only from a checkpoint written with it.

use super::data::OpenedData;
use super::schema::{Experiment, Format, MonitorMode};
use crate::cli::train_common::{MonitorOptions, ProbeOptions};
use nidl::train::{Callback, Mode, OnlineProbe, OnlineProbeConfig, ProbingSets};

/// Lightning's default `EarlyStopping(patience=3)`.
pub const DEFAULT_PATIENCE: usize = 3;

/// MNIST's classes, the online probe's on MNIST.
const MNIST_CLASSES: usize = 10;

/// The library's mode of `m`.
fn mode(m: Option<MonitorMode>) -> Option<Mode> {
    m.map(|m| match m {
        MonitorMode::Max => Mode::Max,
        MonitorMode::Min => Mode::Min,
    })
}

/// The best-checkpoint and early-stopping options of `[run]` of `exp`.
pub fn options(exp: &Experiment) -> MonitorOptions {
    let r = &exp.run;
    MonitorOptions {
        checkpoint_best: r
            .checkpoint_best
            .clone()
            .map(|t| (t, mode(r.checkpoint_best_mode))),
        early_stop: r.early_stop.clone().map(|t| {
            let patience = r.patience.unwrap_or(DEFAULT_PATIENCE);
            (t, mode(r.early_stop_mode), patience)
        }),
    }
}

/// Checks the keys: a mode or `patience` only with its tag, tags not empty, the online probe
/// only on MNIST (its training batches carry the digits it learns; the other formats' training
/// batches carry y-Aware's continuous label, or none the probe could classify).
pub fn check(exp: &Experiment) -> Result<(), String> {
    let r = &exp.run;
    for (key, tag) in [
        ("run.checkpoint_best", &r.checkpoint_best),
        ("run.early_stop", &r.early_stop),
    ] {
        if tag.as_deref().is_some_and(|t| t.trim().is_empty()) {
            return Err(format!(
                "{key}: an empty tag (give a logged tag, e.g. \"LogisticRegression/accuracy\")"
            ));
        }
    }
    if r.checkpoint_best_mode.is_some() && r.checkpoint_best.is_none() {
        return Err("run.checkpoint_best_mode: only with run.checkpoint_best".into());
    }
    if r.early_stop_mode.is_some() && r.early_stop.is_none() {
        return Err("run.early_stop_mode: only with run.early_stop".into());
    }
    if r.patience.is_some() && r.early_stop.is_none() {
        return Err("run.patience: only with run.early_stop".into());
    }
    if r.online_probe && exp.data.format != Format::Mnist {
        return Err(format!(
            "run.online_probe: the online probe classifies the digits of MNIST training \
             batches; data.format = \"{}\" has no class labels in its training batches",
            exp.data.format_name()
        ));
    }
    Ok(())
}

/// The online probe of `run.online_probe` (none when off), scored on the MNIST digits' probing
/// test set: the one the probes on the digits share (`shared`, by label columns) when they
/// exist, so it reuses their test embeddings, else sets of its own. Its RNG is seeded from
/// `run.seed` ([`OnlineProbeConfig::seed`]: another stream than the model's).
pub fn online_probe(
    exp: &Experiment,
    data: &OpenedData,
    opts: &ProbeOptions,
    shared: &[(Vec<usize>, ProbingSets)],
) -> Result<Option<Box<dyn Callback>>, String> {
    if !exp.run.online_probe {
        return Ok(None);
    }
    let digits = vec![0];
    let sets = match shared.iter().find(|(c, _)| *c == digits) {
        Some((_, s)) => s.clone(),
        None => (data.probing)(&digits, opts)?,
    };
    let config = OnlineProbeConfig::new(MNIST_CLASSES, exp.run.seed);
    let probe = OnlineProbe::new(sets, config).map_err(|e| format!("run.online_probe: {e}"))?;
    Ok(Some(Box::new(probe)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The preset of `command` with `overrides`, checked.
    fn checked(command: &str, overrides: &[&str]) -> Result<(), String> {
        let overrides: Vec<String> = overrides.iter().map(|o| o.to_string()).collect();
        check(&super::super::preset(command, &overrides)?)
    }

    #[test]
    fn the_keys_are_checked() {
        assert_eq!(checked("simclr-mnist", &["run.online_probe=true"]), Ok(()));
        let e = checked("yaware-openbhb", &["run.online_probe=true"]).unwrap_err();
        assert!(
            e.starts_with("run.online_probe:") && e.contains("MNIST"),
            "{e}"
        );
        let e = checked("simclr-mnist", &["run.patience=2"]).unwrap_err();
        assert_eq!(e, "run.patience: only with run.early_stop");
        let e = checked("simclr-mnist", &["run.early_stop_mode=\"min\""]).unwrap_err();
        assert_eq!(e, "run.early_stop_mode: only with run.early_stop");
        let e = checked("simclr-mnist", &["run.checkpoint_best=\" \""]).unwrap_err();
        assert!(e.starts_with("run.checkpoint_best: an empty tag"), "{e}");
        let ok = [
            "run.early_stop=\"loss/val\"",
            "run.patience=0",
            "run.early_stop_mode=\"max\"",
        ];
        assert_eq!(checked("simclr-mnist", &ok), Ok(()));
    }

    #[test]
    fn the_options_default_patience_and_modes() {
        let overrides = vec![
            "run.checkpoint_best=\"task0/MAE\"".to_string(),
            "run.early_stop=\"loss/val\"".to_string(),
            "run.early_stop_mode=\"max\"".to_string(),
        ];
        let exp = super::super::preset("yaware-openbhb", &overrides).unwrap();
        let o = options(&exp);
        assert_eq!(o.checkpoint_best, Some(("task0/MAE".into(), None)));
        assert_eq!(
            o.early_stop,
            Some(("loss/val".into(), Some(Mode::Max), DEFAULT_PATIENCE))
        );
    }
}
