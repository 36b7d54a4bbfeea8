//! The `nidl` command line, on clap: [`Cli`] and its subcommands ([`Command`]). The training
//! commands are presets of `nidl fit` (`train.rs`: the preset plus the given options as
//! overrides; `fit.rs` and `experiment/`: experiment files); the other commands each have a
//! file with a `run(Args)` entry point. The options the training commands share are in
//! `options.rs`, their value checks in `values.rs`; what the commands print goes through
//! `stdout.rs` (safe on a closed pipe), the progress bar is `progress.rs`. The logic they drive lives in the library.

pub mod completions;
pub mod experiment;
pub mod fit;
pub mod make_openbhb;
pub mod options;
pub mod plot;
pub mod probe;
pub mod progress;
pub mod show_augmentations;
pub mod stdout;
pub mod train;
pub mod train_common;
pub mod values;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use options::{
    show_defaults, BarlowArgs, DclArgs, DinoArgs, MnistArgs, OpenBhbArgs, ShowDefaults, SimClrArgs,
    TrainArgs, VaeArgs, YAwareArgs,
};
use std::process::ExitCode;

/// Self-supervised learning with model probing: train an embedding model and probe it.
#[derive(Parser, Debug)]
#[command(
    name = "nidl",
    version,
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands of this build.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// SimCLR on MNIST, probed by a logistic regression and/or 5-NN on the digits
    ///
    /// Trains SimCLR (LeNet encoder, head [64, 32], InfoNCE, AdamW, cosine schedule) on MNIST
    /// views and probes the encoder (logreg: a logistic regression on the digits, logged as
    /// LogisticRegression/...; knn: 5-NN classification, KNeighborsClassifier/...) after every
    /// --probe-every epochs (0: never). Logs go to <log-dir>/version_<N>/ (TensorBoard events,
    /// metrics.csv, hparams.yaml, metrics.png/.svg, figure.yaml; checkpoints/ with --checkpoint): loss/train
    /// every --log-every-n-steps steps, then after each epoch the validation loss (the mean
    /// over the test set's views, or its first --limit-val-batches batches; 0: none) and the
    /// probes' metrics at the epoch's last step, as Lightning logs them. The defaults are the seed
    /// example's (nidl 0.0.1's SimCLR has none of its own).
    SimclrMnist(TrainArgs<MnistArgs, SimClrArgs>),
    /// y-Aware contrastive learning on OpenBHB ROI features, probed on age and sex
    ///
    /// Trains y-Aware contrastive learning on OpenBHB vbm_roi features (age as the auxiliary
    /// variable, bandwidth sigma²; the defaults are the seed example's — lr 1e-5, sigma 4, i.e.
    /// bandwidth 16, head latent → 2·latent → latent — not nidl 0.0.1's YAwareContrastiveLearning
    /// defaults lr 1e-4, bandwidth 1, head 2048 → 512 → 128) and probes the encoder (logreg: Ridge on age, task0/..., and
    /// a logistic regression on sex, task1/...; knn: 5-NN regression on age,
    /// KNeighborsRegressor/..., and 5-NN classification of sex, KNeighborsClassifier/...).
    /// Without --data-dir, a SYNTHETIC OpenBHB is generated once into the cache folder.
    YawareOpenbhb(TrainArgs<OpenBhbArgs, YAwareArgs>),
    /// Barlow Twins on MNIST (LeNet encoder), probed as simclr-mnist
    ///
    /// Trains Barlow Twins (nidl 0.0.2's defaults: AdamW lr 3e-4, weight decay 5e-4 except on
    /// biases and norms, per-step warmup-cosine schedule) on MNIST views with a LeNet encoder and
    /// probes the encoder as simclr-mnist does. Logs go to <log-dir>/version_<N>/.
    BarlowMnist(TrainArgs<MnistArgs, BarlowArgs>),
    /// Barlow Twins on OpenBHB ROI features, probed as yaware-openbhb
    ///
    /// Trains Barlow Twins (nidl 0.0.2's defaults: AdamW lr 3e-4, weight decay 5e-4 except on
    /// biases and norms, per-step warmup-cosine schedule) on OpenBHB vbm_roi features and probes the
    /// encoder on age and sex as yaware-openbhb does. Without --data-dir, a SYNTHETIC OpenBHB is
    /// generated once into the cache folder.
    BarlowOpenbhb(TrainArgs<OpenBhbArgs, BarlowArgs>),
    /// Decoupled contrastive learning (DCL, or DCLW with --sigma) on MNIST, probed as simclr-mnist
    ///
    /// Trains DCL (nidl 0.0.2's defaults: temperature 0.1, AdamW lr 3e-4, weight decay 5e-4
    /// except on biases, per-step warmup-cosine schedule; nidl's SimCLR head, sized latent →
    /// 2·latent → latent) on MNIST views with a LeNet encoder and probes the encoder as
    /// simclr-mnist does. --sigma trains DCLW (the von Mises-Fisher weighting). Logs go to
    /// <log-dir>/version_<N>/.
    DclMnist(TrainArgs<MnistArgs, DclArgs>),
    /// β-VAE on MNIST (LeNet encoder, conv decoder), probed on μ as simclr-mnist
    ///
    /// Trains nidl 0.0.2's β-VAE (LeNet encoder → fc_mu, fc_logvar; reparameterisation from the
    /// run's seed; a conv decoder with nearest upsampling; loss rec + beta · KL with the
    /// reconstruction of --default-dist; AdamW, no schedule) on one plain view of each MNIST
    /// digit (pixels in [0, 1]) and probes the posterior mean μ as simclr-mnist probes its
    /// encoder. Logs go to <log-dir>/version_<N>/.
    VaeMnist(TrainArgs<MnistArgs, VaeArgs>),
    /// DINO on MNIST (LeNet encoder, 2 global + 2 local views), probed as simclr-mnist
    ///
    /// Trains DINO (nidl 0.0.2's defaults: momentum teacher λ 0.996 → 1, teacher temperature
    /// 0.04 → 0.07 over 30 epochs, student 0.1, AdamW lr 3e-4, weight decay 5e-4 except on biases
    /// and norms, per-step warmup-cosine schedule; head 256 → 256 → 64 → 1024 for the small
    /// LeNet; 2 local crops, nidl: 8) on MNIST multi-crop views (2 global crops of area 0.4–1,
    /// --num-local-crops local crops of area 0.05–0.4, all resized to 28×28) and probes the
    /// teacher's encoder as simclr-mnist does. Logs go to <log-dir>/version_<N>/.
    DinoMnist(TrainArgs<MnistArgs, DinoArgs>),
    /// Fit a probe on .npy embeddings and print its test metrics
    ///
    /// Fits a probe on the training embeddings and prints its metrics on the test set, as
    /// scikit-learn computes them: a table, or one JSON line with --json. --c and --max-iter
    /// apply to logreg, --alpha to ridge, --k to knn.
    Probe(probe::Args),
    /// Write a SYNTHETIC OpenBHB
    ///
    /// Writes a SYNTHETIC data set in OpenBHB's layout (participants.tsv and the vbm_roi,
    /// desikan and destrieux ROI tables of train/ and val/, and a README.txt that says it is
    /// synthetic) to DIR, which must not exist or be empty. The same seed and sizes give
    /// byte-identical files; the folder appears complete or not at all.
    MakeOpenbhb(make_openbhb::Args),
    /// PNG grid: MNIST test digits and two SimCLR views of each
    ShowAugmentations(show_augmentations::Args),
    /// Print the completion script of nidl for a shell
    ///
    /// For bash: `nidl completions bash > ~/.local/share/bash-completion/completions/nidl`;
    /// zsh: into a folder of $fpath as `_nidl`; fish: `~/.config/fish/completions/nidl.fish`.
    Completions(completions::Args),
    /// Train what an experiment file describes (any method, data, encoder, views, probes)
    ///
    /// Trains the experiment EXPERIMENT.toml describes (see the README's experiment files), or
    /// the preset of a built-in command (--preset). A [sweep] table runs one experiment per
    /// combination of its values, each in its own version_<N>, then prints their final probe
    /// scores.
    Fit(fit::FitArgs),
    /// Overlay several runs per tag: one panel per tag, one curve per run
    ///
    /// Reads each RUN_DIR's metrics.csv, hparams.yaml and figure.yaml (panel names, short last
    /// batches; both optional) and draws one panel per tag (--tags), one curve per run, the legend naming each run (its folder, or parent/folder) and the
    /// hyper-parameters whose values differ between the runs. Writes --out (PNG) and an SVG
    /// beside it.
    Plot(plot::Args),
}

impl Command {
    /// Runs the subcommand; `Err` is the one-line cause.
    pub fn run(self) -> Result<(), String> {
        match self {
            Command::SimclrMnist(a) => train::run("simclr-mnist", a),
            Command::YawareOpenbhb(a) => train::run("yaware-openbhb", a),
            Command::BarlowMnist(a) => train::run("barlow-mnist", a),
            Command::BarlowOpenbhb(a) => train::run("barlow-openbhb", a),
            Command::DclMnist(a) => train::run("dcl-mnist", a),
            Command::VaeMnist(a) => train::run("vae-mnist", a),
            Command::DinoMnist(a) => train::run("dino-mnist", a),
            Command::Probe(a) => probe::run(a),
            Command::MakeOpenbhb(a) => make_openbhb::run(a),
            Command::ShowAugmentations(a) => show_augmentations::run(a),
            Command::Completions(a) => completions::run(a, command()),
            Command::Fit(a) => fit::run(a),
            Command::Plot(a) => plot::run(a),
        }
    }
}

/// The `nidl` command line: [`Cli`] with the defaults that apply to unset options shown in each
/// subcommand's `--help`, and negative numbers taken as values (`--epochs -1` is then refused
/// by its value check, naming what is allowed, rather than read as an option).
pub fn command() -> clap::Command {
    let shown = [
        (
            "simclr-mnist",
            train::shown::<TrainArgs<MnistArgs, SimClrArgs>>("simclr-mnist"),
        ),
        (
            "yaware-openbhb",
            train::shown::<TrainArgs<OpenBhbArgs, YAwareArgs>>("yaware-openbhb"),
        ),
        (
            "barlow-mnist",
            train::shown::<TrainArgs<MnistArgs, BarlowArgs>>("barlow-mnist"),
        ),
        (
            "barlow-openbhb",
            train::shown::<TrainArgs<OpenBhbArgs, BarlowArgs>>("barlow-openbhb"),
        ),
        (
            "dcl-mnist",
            train::shown::<TrainArgs<MnistArgs, DclArgs>>("dcl-mnist"),
        ),
        (
            "vae-mnist",
            train::shown::<TrainArgs<MnistArgs, VaeArgs>>("vae-mnist"),
        ),
        (
            "dino-mnist",
            train::shown::<TrainArgs<MnistArgs, DinoArgs>>("dino-mnist"),
        ),
        ("probe", probe::shown()),
        ("show-augmentations", MnistArgs::shown()),
    ];
    let mut cmd = Cli::command();
    for (name, defaults) in shown {
        cmd = cmd.mut_subcommand(name, |c| show_defaults(c, defaults));
    }
    cmd.mut_subcommands(|c| {
        c.mut_args(|a| {
            let takes_value = a.get_action().takes_values();
            a.allow_negative_numbers(takes_value)
        })
    })
}

/// Parses the command line and runs the subcommand. Usage errors: clap's message on stderr,
/// exit status 2 (`--help` and `--version`: on stdout, 0); a failed run: `nidl <command>: cause`
/// on stderr, exit status 1.
pub fn main() -> ExitCode {
    let parsed = command().try_get_matches().and_then(|m| {
        Ok((
            m.subcommand_name().map(String::from),
            Cli::from_arg_matches(&m)?,
        ))
    });
    let (name, cli) = match parsed {
        Ok(p) => p,
        Err(e) => {
            // Printed whole or not at all (clap swallows a closed pipe).
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match cli.command.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(cause) => {
            eprintln!("nidl {}: {cause}", name.unwrap_or_default());
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn unset_options_are_none_so_the_defaults_apply_in_one_place() {
        let cli = Cli::try_parse_from(["nidl", "simclr-mnist"]).unwrap();
        let Command::SimclrMnist(args) = cli.command else {
            panic!("parsed as {:?}", cli.command)
        };
        assert_eq!(args.run, options::RunArgs::default());
        assert_eq!(args.probe, options::ProbeArgs::default());
        let cli = Cli::try_parse_from([
            "nidl",
            "yaware-openbhb",
            "--probe",
            "knn,logreg",
            "--probe",
            "knn",
        ]);
        let Command::YawareOpenbhb(args) = cli.unwrap().command else {
            panic!("not yaware-openbhb")
        };
        use options::ProbeKind::{Knn, Linear};
        assert_eq!(args.probe.probe, Some(vec![Knn, Linear, Knn]));
    }
}
