//! The training commands as presets of `nidl fit`: a command is its experiment file
//! (`examples/experiments/<command>.toml`, embedded) with the options given as `key = value`
//! overrides ([`PresetOptions::overrides`]), run as `nidl fit` runs it, except that messages
//! name the command-line options (`option --batch-size`) and `hparams.yaml` records the views'
//! options as the commands always have.

use super::experiment::schema::{Experiment, TabularView};
use super::experiment::{self, build, load};
use super::options::{PresetOptions, Shown};
use super::train_common::OptionSource;

/// Runs the training command `command` with the given `options`.
pub fn run(command: &str, options: impl PresetOptions) -> Result<(), String> {
    let mut exp = experiment::preset(command, &[])?;
    for (key, value) in options.overrides(&exp)? {
        exp = load::set_value(exp, &key, value)
            .map_err(|e| format!("preset {command}: {key}: {e}"))?;
    }
    let exp = experiment::resolved(exp, &format!("preset {command}"))?;
    build::run(&exp, recorded_views(&exp), OptionSource::CommandLine).map(drop)
}

/// What the commands record of their views in `hparams.yaml` (compared on resume): the seed
/// example's `mask_prob` and `noise_std` of the tabular views; nothing of the MNIST views, which have no
/// options.
fn recorded_views(exp: &Experiment) -> Vec<(String, String)> {
    let tabular = exp.views.tabular.iter().flatten();
    tabular
        .map(|v| match *v {
            TabularView::Mask { prob } => ("mask_prob".into(), prob.to_string()),
            TabularView::Noise { std } => ("noise_std".into(), std.to_string()),
        })
        .collect()
}

/// The defaults of the options `O` of `command` as `--help` shows them: its resolved preset's
/// (none if the preset cannot be resolved, which its tests rule out).
pub fn shown<O: PresetOptions>(command: &str) -> Shown {
    let origin = format!("preset {command}");
    match experiment::preset(command, &[]).and_then(|e| experiment::resolved(e, &origin)) {
        Ok(exp) => O::shown(&exp),
        Err(_) => Vec::new(),
    }
}
