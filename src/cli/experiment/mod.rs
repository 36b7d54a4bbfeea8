//! Experiment files (`nidl fit EXPERIMENT.toml`): any method on any supported data, encoder,
//! views and probes, described in TOML.
//!
//! - [`schema`]: the keys and their defaults ([`defaults`]: those that depend on the method
//!   or data, and the checks);
//! - [`load`]: reading a file (errors name file, line and key), `--set` overrides, printing;
//! - [`dino`]: DINO's keys, defaults and multi-crop views;
//! - [`formats`]: the data formats ([`data`]: mnist, openbhb; [`arrays`]: npy, csv), [`views`]:
//!   the augmentations; [`build`]: one run ([`vae`]: the β-VAE's model); [`sweep`]: one run per
//!   combination of a `[sweep]` table.
//!
//! The built-in training commands are presets: their experiment files ship in
//! `examples/experiments/` and [`run_preset`] runs one with overrides.

pub mod arrays;
pub mod build;
mod checks;
pub mod data;
pub mod defaults;
pub mod dino;
pub mod formats;
pub mod load;
pub mod monitor;
pub mod schema;
pub mod scored;
pub mod sweep;
pub mod vae;
pub mod views;

use crate::cli::stdout::Stdout;
use crate::cli::train_common::OptionSource;
use schema::Experiment;
use std::io::Write;
use std::path::Path;

/// The presets of the built-in training commands: `(command, experiment file)`.
pub const PRESETS: [(&str, &str); 7] = [
    (
        "simclr-mnist",
        include_str!("../../../examples/experiments/simclr-mnist.toml"),
    ),
    (
        "yaware-openbhb",
        include_str!("../../../examples/experiments/yaware-openbhb.toml"),
    ),
    (
        "barlow-mnist",
        include_str!("../../../examples/experiments/barlow-mnist.toml"),
    ),
    (
        "barlow-openbhb",
        include_str!("../../../examples/experiments/barlow-openbhb.toml"),
    ),
    (
        "dcl-mnist",
        include_str!("../../../examples/experiments/dcl-mnist.toml"),
    ),
    (
        "vae-mnist",
        include_str!("../../../examples/experiments/vae-mnist.toml"),
    ),
    (
        "dino-mnist",
        include_str!("../../../examples/experiments/dino-mnist.toml"),
    ),
];

/// Runs the preset of command `name` with the `--set`-style `overrides` (`key=value`). The
/// preset's own relative paths resolve against `examples/experiments/` of this crate's source;
/// the overrides' against the current folder.
pub fn run_preset(name: &str, overrides: Vec<String>) -> Result<(), String> {
    execute(preset(name, &overrides)?, false, &format!("preset {name}"))
}

/// The preset of command `name` with `overrides` applied (see [`run_preset`]).
pub fn preset(name: &str, overrides: &[String]) -> Result<Experiment, String> {
    let (_, text) = PRESETS.iter().find(|(n, _)| *n == name).ok_or_else(|| {
        let names: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
        format!(
            "--preset: no preset '{name}' (expected {})",
            names.join(", ")
        )
    })?;
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/experiments");
    load::parse(text, &format!("preset {name}"), &folder, overrides)
}

/// `exp` with the defaults that depend on its method and data filled in, checked; errors
/// start with `origin` (the experiment file).
pub fn resolved(mut exp: Experiment, origin: &str) -> Result<Experiment, String> {
    let at = |e: String| format!("{origin}: {e}");
    let (input, names) = formats::peek(&exp.data).map_err(at)?;
    exp.fill_defaults(input, names).map_err(at)?;
    exp.check().map_err(at)?;
    Ok(exp)
}

/// Prints the resolved `exp` as TOML (`print_config`), or runs it: once, or once per
/// combination of its `[sweep]`; `origin` names the experiment file in messages.
pub fn execute(exp: Experiment, print_config: bool, origin: &str) -> Result<(), String> {
    if print_config {
        let text = load::to_toml(&resolved(exp, origin)?)?;
        // `Stdout` never fails: written, or dropped on a closed stdout.
        let _ = write!(Stdout, "{text}");
        return Ok(());
    }
    if exp.sweep.is_empty() {
        let exp = resolved(exp, origin)?;
        build::run(&exp, build::views_hparams(&exp), OptionSource::Experiment).map(drop)
    } else {
        sweep::run(exp, origin)
    }
}
