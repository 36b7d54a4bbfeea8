//! The options of the training commands, one struct per concern, shared by the commands through
//! `#[command(flatten)]` in [`TrainArgs`]: the run's ([`RunArgs`]), the probing's
//! ([`ProbeArgs`]), the data's ([`MnistArgs`], [`OpenBhbArgs`]) and the method's
//! ([`SimClrArgs`], [`YAwareArgs`], [`BarlowArgs`]).
//!
//! Every field says whether its option was given (`None` or `false`: not given); the defaults
//! are written once — the constants of each struct, and the per-command [`RunDefaults`] table
//! of those that differ between commands — applied where the options are read, and shown by
//! `--help` ([`show_defaults`]).

use super::values::{non_negative, positive, probability, shown, whole};
use clap::ValueEnum;
use nidl::tensor::Device;
use std::path::PathBuf;

/// The defaults of an options struct as `--help` shows them: `(argument id, value)` pairs.
pub type Shown = Vec<(&'static str, String)>;

/// An options struct whose unset options take defaults that `--help` shows.
pub trait ShowDefaults {
    /// Its defaults, as `--help` shows them.
    fn shown() -> Shown;
}

/// Adds ` [default: VALUE]` to the help of each argument of `defaults` in `cmd`.
pub fn show_defaults(mut cmd: clap::Command, defaults: Shown) -> clap::Command {
    for (id, value) in defaults {
        cmd = cmd.mut_arg(id, |a| {
            let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
            a.help(format!("{help} [default: {value}]"))
        });
    }
    cmd
}

/// A training command's options: its data's, the run's, the probing's and its method's.
#[derive(clap::Args, Clone, Debug)]
pub struct TrainArgs<D: clap::Args, M: clap::Args> {
    /// The data options.
    #[command(flatten)]
    pub data: D,
    /// The run options.
    #[command(flatten)]
    pub run: RunArgs,
    /// The probing options.
    #[command(flatten)]
    pub probe: ProbeArgs,
    /// The method's options.
    #[command(flatten)]
    pub method: M,
}

impl<D: clap::Args + ShowDefaults, M: clap::Args + ShowDefaults> TrainArgs<D, M> {
    /// The defaults `--help` shows, with the command's `run` defaults.
    pub fn shown(run: &RunDefaults) -> Shown {
        [D::shown(), run.shown(), ProbeArgs::shown(), M::shown()].concat()
    }
}

/// The run options of every training command.
#[derive(clap::Args, Clone, Debug, Default, PartialEq)]
#[command(next_help_heading = "Run options")]
pub struct RunArgs {
    /// Epochs to train
    #[arg(long, value_name = "N", value_parser = whole(1usize))]
    pub epochs: Option<usize>,
    /// Samples per training batch
    #[arg(long, value_name = "N", value_parser = whole(2usize))]
    pub batch_size: Option<usize>,
    /// The optimizer's learning rate
    #[arg(long, value_name = "X", value_parser = positive)]
    pub lr: Option<f64>,
    /// The optimizer's weight decay
    #[arg(long, value_name = "X", value_parser = non_negative)]
    pub weight_decay: Option<f64>,
    /// The encoder's output width
    #[arg(long, value_name = "N", value_parser = whole(1usize))]
    pub latent: Option<usize>,
    /// Seed of initialisation, shuffling and augmentations
    #[arg(long, value_name = "N", value_parser = whole(0u64))]
    pub seed: Option<u64>,
    /// At most N training batches per epoch
    #[arg(long, value_name = "N", value_parser = whole(1usize))]
    pub limit_train_batches: Option<usize>,
    /// At most N validation batches per epoch; 0: no validation
    #[arg(long, value_name = "N", value_parser = whole(0usize))]
    pub limit_val_batches: Option<usize>,
    /// Runs go to DIR/version_<N>/
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// Write checkpoints/epoch=<E>-step=<S>.safetensors after every epoch
    #[arg(long)]
    pub checkpoint: bool,
    /// Continue from a checkpoint (same seed), bit for bit; refused if the checkpoint records
    /// other hyper-parameters (or none: an older nidl's)
    #[arg(long, value_name = "PATH")]
    pub resume: Option<PathBuf>,
    /// Resume anyway; the changes go to hparams.yaml
    #[arg(long, requires = "resume")]
    pub resume_despite_changes: bool,
    /// No progress bar
    #[arg(long)]
    pub no_progress: bool,
    /// Where to train: cpu or gpu (gpu needs a build with `--features gpu`)
    #[arg(long, value_name = "DEVICE", value_parser = |s: &str| s.parse::<Device>())]
    pub device: Option<Device>,
}

impl RunArgs {
    /// `--epochs`.
    pub const EPOCHS: usize = 10;
    /// `--batch-size`.
    pub const BATCH_SIZE: usize = 128;
    /// `--latent`.
    pub const LATENT: usize = 32;
    /// `--seed`.
    pub const SEED: u64 = 42;
    /// `--log-dir`.
    pub const LOG_DIR: &'static str = "lightning_logs";
    /// `--device`.
    pub const DEVICE: Device = Device::Cpu;
}

/// The defaults of the [`RunArgs`] that differ between the training commands (the others are
/// the constants of [`RunArgs`]): one table per command, the one place each is written.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunDefaults {
    /// `--lr`, the estimator's.
    pub lr: f64,
    /// `--weight-decay`, the estimator's.
    pub weight_decay: f64,
    /// `--limit-train-batches`, the data's (`None`: every batch).
    pub limit_train_batches: Option<usize>,
    /// `--limit-val-batches`, the data's (`None`: every batch).
    pub limit_val_batches: Option<usize>,
}

impl RunDefaults {
    /// The estimator's `(lr, weight_decay)` and the data's `(limit_train_batches,
    /// limit_val_batches)`.
    pub const fn new(optimizer: (f64, f64), limits: (Option<usize>, Option<usize>)) -> Self {
        RunDefaults {
            lr: optimizer.0,
            weight_decay: optimizer.1,
            limit_train_batches: limits.0,
            limit_val_batches: limits.1,
        }
    }

    /// The run defaults with these, as `--help` shows them.
    pub fn shown(&self) -> Shown {
        let limit = |l: Option<usize>| l.map_or("all".to_string(), |n| n.to_string());
        let device = match RunArgs::DEVICE {
            Device::Cpu => "cpu",
            Device::Gpu => "gpu",
        };
        vec![
            ("epochs", RunArgs::EPOCHS.to_string()),
            ("batch_size", RunArgs::BATCH_SIZE.to_string()),
            ("lr", shown(self.lr)),
            ("weight_decay", shown(self.weight_decay)),
            ("latent", RunArgs::LATENT.to_string()),
            ("seed", RunArgs::SEED.to_string()),
            ("limit_train_batches", limit(self.limit_train_batches)),
            ("limit_val_batches", limit(self.limit_val_batches)),
            ("log_dir", RunArgs::LOG_DIR.to_string()),
            ("device", device.to_string()),
        ]
    }
}

/// A probe of `--probe`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProbeKind {
    /// The command's linear probing (a logistic regression on MNIST digits; Ridge on age and a
    /// logistic regression on sex for OpenBHB).
    #[value(name = "logreg")]
    Linear,
    /// k-NN probing, k = 5 (classifier, or regressor for a continuous target).
    Knn,
}

/// The probing options of every training command.
#[derive(clap::Args, Clone, Debug, Default, PartialEq)]
#[command(next_help_heading = "Probing options")]
pub struct ProbeArgs {
    /// Probes, comma-separated or repeated
    #[arg(long, value_name = "P", value_enum, value_delimiter = ',')]
    pub probe: Option<Vec<ProbeKind>>,
    /// Probe after every N-th training epoch and the last; 0: never
    #[arg(long, value_name = "N", value_parser = whole(0usize))]
    pub probe_every: Option<usize>,
    /// Probe after every N-th validation epoch; 0: never
    #[arg(long, value_name = "N", value_parser = whole(0usize))]
    pub probe_every_val: Option<usize>,
    /// Also probe once before training (logged at step 0)
    #[arg(long)]
    pub probe_on_train_start: bool,
    /// L-BFGS iterations of the logistic regression
    #[arg(long, value_name = "N", value_parser = whole(1usize))]
    pub probe_max_iter: Option<usize>,
    /// Probe on the first N samples of the probing train set (at least 10)
    #[arg(long, value_name = "N", value_parser = whole(10usize))]
    pub probe_train_limit: Option<usize>,
    /// Probe on the first N samples of the probing test set
    #[arg(long, value_name = "N", value_parser = whole(1usize))]
    pub probe_test_limit: Option<usize>,
}

impl ProbeArgs {
    /// `--probe`.
    pub const PROBE: ProbeKind = ProbeKind::Linear;
    /// `--probe-every`.
    pub const EVERY: usize = 1;
    /// `--probe-every-val`.
    pub const EVERY_VAL: usize = 0;
    /// `--probe-max-iter`.
    pub const MAX_ITER: usize = 200;
}

impl ShowDefaults for ProbeArgs {
    fn shown() -> Shown {
        vec![
            ("probe", "logreg".into()),
            ("probe_every", Self::EVERY.to_string()),
            ("probe_every_val", Self::EVERY_VAL.to_string()),
            ("probe_max_iter", Self::MAX_ITER.to_string()),
            ("probe_train_limit", "all".into()),
            ("probe_test_limit", "all".into()),
        ]
    }
}

/// The data options of the MNIST commands.
#[derive(clap::Args, Clone, Debug, Default, PartialEq)]
#[command(next_help_heading = "MNIST options")]
pub struct MnistArgs {
    /// The four MNIST files, raw or gzip
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

impl ShowDefaults for MnistArgs {
    fn shown() -> Shown {
        vec![("data_dir", "data/mnist".into())]
    }
}

/// The data options of the OpenBHB commands.
#[derive(clap::Args, Clone, Debug, Default, PartialEq)]
#[command(next_help_heading = "OpenBHB options")]
pub struct OpenBhbArgs {
    /// An OpenBHB tree
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Probability of masking each feature in a view
    #[arg(long, value_name = "P", value_parser = probability)]
    pub mask_prob: Option<f64>,
    /// Standard deviation of the views' Gaussian noise
    #[arg(long, value_name = "X", value_parser = non_negative)]
    pub noise_std: Option<f64>,
}

impl OpenBhbArgs {
    /// `--mask-prob`.
    pub const MASK_PROB: f64 = 0.8;
    /// `--noise-std`.
    pub const NOISE_STD: f64 = 0.5;
}

impl ShowDefaults for OpenBhbArgs {
    fn shown() -> Shown {
        vec![
            (
                "data_dir",
                "a SYNTHETIC OpenBHB, generated once into the cache folder".into(),
            ),
            ("mask_prob", shown(Self::MASK_PROB)),
            ("noise_std", shown(Self::NOISE_STD)),
        ]
    }
}

/// The SimCLR options.
#[derive(clap::Args, Clone, Debug, Default, PartialEq)]
#[command(next_help_heading = "SimCLR options")]
pub struct SimClrArgs {
    /// InfoNCE temperature
    #[arg(long, value_name = "X", value_parser = positive)]
    pub temperature: Option<f64>,
}

impl SimClrArgs {
    /// `--temperature`.
    pub const TEMPERATURE: f64 = 0.1;
}

impl ShowDefaults for SimClrArgs {
    fn shown() -> Shown {
        vec![("temperature", shown(Self::TEMPERATURE))]
    }
}

/// The y-Aware options.
#[derive(clap::Args, Clone, Debug, Default, PartialEq)]
#[command(next_help_heading = "y-Aware options")]
pub struct YAwareArgs {
    /// Kernel bandwidth σ (H = σ²) on age
    #[arg(long, value_name = "X", value_parser = positive)]
    pub sigma: Option<f64>,
    /// Temperature
    #[arg(long, value_name = "X", value_parser = positive)]
    pub temperature: Option<f64>,
}

impl YAwareArgs {
    /// `--sigma`.
    pub const SIGMA: f64 = 4.0;
    /// `--temperature`.
    pub const TEMPERATURE: f64 = 0.1;
}

impl ShowDefaults for YAwareArgs {
    fn shown() -> Shown {
        vec![
            ("sigma", shown(Self::SIGMA)),
            ("temperature", shown(Self::TEMPERATURE)),
        ]
    }
}

/// The Barlow Twins options.
#[derive(clap::Args, Clone, Debug, Default, PartialEq)]
#[command(next_help_heading = "Barlow Twins options")]
pub struct BarlowArgs {
    /// Weight of the redundancy-reduction term
    #[arg(long, value_name = "X", value_parser = non_negative)]
    pub lambda: Option<f64>,
    /// Hidden width of the projection head
    #[arg(long, value_name = "N", value_parser = whole(1usize))]
    pub proj_hidden: Option<usize>,
    /// Output width of the projection head
    #[arg(long, value_name = "N", value_parser = whole(1usize))]
    pub proj_output: Option<usize>,
    /// Epochs of linear warmup from 1e-6 before the per-step cosine (as nidl: with the default
    /// 10 epochs the whole run warms up)
    #[arg(long, value_name = "N", value_parser = whole(0usize))]
    pub warmup_epochs: Option<usize>,
}

impl BarlowArgs {
    /// `--lambda`.
    pub const LAMBDA: f64 = 5e-3;
    /// `--warmup-epochs`.
    pub const WARMUP_EPOCHS: usize = 10;
}

impl ShowDefaults for BarlowArgs {
    fn shown() -> Shown {
        vec![
            ("lambda", shown(Self::LAMBDA)),
            ("proj_hidden", "2 × latent".into()),
            ("proj_output", "latent".into()),
            ("warmup_epochs", Self::WARMUP_EPOCHS.to_string()),
        ]
    }
}
