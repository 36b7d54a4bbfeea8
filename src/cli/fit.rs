//! `nidl fit EXPERIMENT.toml [--set key=value]... [--print-config]`: trains the experiment the
//! file describes (see [`super::experiment`]).

use super::experiment::{self, load};
use std::path::PathBuf;

/// The arguments of `nidl fit`.
#[derive(clap::Args, Debug)]
pub struct FitArgs {
    /// The experiment file (TOML); its relative paths resolve against its folder.
    #[arg(required_unless_present = "preset")]
    pub experiment: Option<PathBuf>,
    /// Runs the preset of a built-in command instead of a file (simclr-mnist, yaware-openbhb,
    /// barlow-mnist, barlow-openbhb, dcl-mnist; their files are in examples/experiments/).
    #[arg(long, conflicts_with = "experiment")]
    pub preset: Option<String>,
    /// Overrides a key of the file, e.g. `--set run.epochs=2` (repeatable). The value is read
    /// as a TOML value, a bare word as a string; relative paths resolve against the current
    /// folder.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Prints the fully resolved experiment (defaults filled in) as TOML and exits.
    #[arg(long)]
    pub print_config: bool,
}

/// Runs `nidl fit`; `Err` is the one-line cause.
pub fn run(args: FitArgs) -> Result<(), String> {
    let (exp, origin) = match (&args.experiment, &args.preset) {
        (_, Some(name)) if !args.print_config => return experiment::run_preset(name, args.set),
        (_, Some(name)) => (
            experiment::preset(name, &args.set)?,
            format!("preset {name}"),
        ),
        (Some(file), None) => (load::read(file, &args.set)?, file.display().to_string()),
        (None, None) => return Err("give an EXPERIMENT.toml file or --preset NAME".into()),
    };
    experiment::execute(exp, args.print_config, &origin)
}
