//! The options of the training commands, one struct per concern, shared by the commands through
//! `#[command(flatten)]` in [`TrainArgs`]: the run's ([`RunArgs`]), the probing's
//! ([`ProbeArgs`]), the data's ([`MnistArgs`], [`OpenBhbArgs`]) and the method's
//! ([`SimClrArgs`], [`YAwareArgs`], [`BarlowArgs`], [`DclArgs`], [`VaeArgs`],
//! [`DinoArgs`]).
//!
//! A training command is its preset (`examples/experiments/<command>.toml`) with the given
//! options as `key = value` overrides ([`PresetOptions::overrides`]): every field says whether
//! its option was given (`None` or `false`: not given), and the defaults are the preset's
//! (written once: in the preset file and the experiment schema), which `--help` shows
//! ([`PresetOptions::shown`], [`show_defaults`]).

use super::experiment::build;
use super::experiment::schema::{
    EncoderKind, Experiment, MonitorMode, ProbeKindSpec, ProbeSpec, TabularView,
};
use super::train_common::OptionSource;
use super::values::{non_negative, positive, probability, shown, whole};
use clap::ValueEnum;
use nidl::tensor::Device;
use std::path::{Path, PathBuf};
use toml::Value;

/// The defaults of an options struct as `--help` shows them: `(argument id, value)` pairs.
pub type Shown = Vec<(&'static str, String)>;

/// An options struct whose unset options take defaults that `--help` shows.
pub trait ShowDefaults {
    /// Its defaults, as `--help` shows them.
    fn shown() -> Shown;
}

/// One override of a preset: a dotted key (`run.epochs`) and its value.
pub type Override = (String, Value);

/// An options struct of the training commands, read against the command's preset.
pub trait PresetOptions {
    /// The overrides of the preset `exp` that the given options make, in order.
    fn overrides(&self, exp: &Experiment) -> Result<Vec<Override>, String>;
    /// The defaults of the unset options, as `--help` shows them: the values of the resolved
    /// preset `exp`.
    fn shown(exp: &Experiment) -> Shown;
}

/// `n` as a TOML integer; too large for one: an error naming `--option`.
fn int<T: TryInto<i64> + Copy + std::fmt::Display>(option: &str, n: T) -> Result<Value, String> {
    n.try_into()
        .map(Value::Integer)
        .map_err(|_| format!("option --{option}: {n} is too large (at most {})", i64::MAX))
}

/// `p` as a TOML string; not UTF-8: an error naming `--option`.
fn path(option: &str, p: &Path) -> Result<Value, String> {
    p.to_str()
        .map(|s| Value::String(s.into()))
        .ok_or_else(|| format!("option --{option}: {} is not valid UTF-8", p.display()))
}

/// `(key, value)` as an [`Override`].
fn set(key: &str, value: impl Into<Value>) -> Override {
    (key.to_string(), value.into())
}

/// `n`, or `all` when there is no limit, as `--help` shows a limit.
fn limit(n: Option<usize>) -> String {
    n.map_or("all".to_string(), |n| n.to_string())
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
    /// The online probe, best checkpoint and early stopping options.
    #[command(flatten)]
    pub monitor: MonitorArgs,
    /// The method's options.
    #[command(flatten)]
    pub method: M,
}

impl<D: clap::Args + PresetOptions, M: clap::Args + PresetOptions> PresetOptions
    for TrainArgs<D, M>
{
    fn overrides(&self, exp: &Experiment) -> Result<Vec<Override>, String> {
        Ok([
            self.data.overrides(exp)?,
            self.run.overrides(exp)?,
            self.probe.overrides(exp)?,
            self.monitor.overrides(exp)?,
            self.method.overrides(exp)?,
        ]
        .concat())
    }

    fn shown(exp: &Experiment) -> Shown {
        [
            D::shown(exp),
            RunArgs::shown(exp),
            ProbeArgs::shown(exp),
            MonitorArgs::shown(exp),
            M::shown(exp),
        ]
        .concat()
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
    /// Log loss/train every N-th step (1: every step)
    #[arg(long, value_name = "N", value_parser = whole(1usize))]
    pub log_every_n_steps: Option<usize>,
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

impl PresetOptions for RunArgs {
    fn overrides(&self, exp: &Experiment) -> Result<Vec<Override>, String> {
        let mut o = Vec::new();
        if let Some(n) = self.epochs {
            o.push(("run.epochs".into(), int("epochs", n)?));
        }
        if let Some(n) = self.batch_size {
            o.push(("run.batch_size".into(), int("batch-size", n)?));
        }
        o.extend(self.lr.map(|x| set("run.lr", x)));
        o.extend(self.weight_decay.map(|x| set("run.weight_decay", x)));
        if let Some(n) = self.latent {
            o.push(latent(exp, n)?);
        }
        if let Some(n) = self.seed {
            o.push(("run.seed".into(), int("seed", n)?));
        }
        if let Some(n) = self.limit_train_batches {
            o.push((
                "run.limit_train_batches".into(),
                int("limit-train-batches", n)?,
            ));
        }
        if let Some(n) = self.limit_val_batches {
            o.push(("run.limit_val_batches".into(), int("limit-val-batches", n)?));
        }
        if let Some(n) = self.log_every_n_steps {
            o.push(("run.log_every_n_steps".into(), int("log-every-n-steps", n)?));
        }
        if let Some(d) = &self.log_dir {
            o.push(("run.log_dir".into(), path("log-dir", d)?));
        }
        if self.checkpoint {
            o.push(set("run.checkpoint", true));
        }
        if let Some(r) = &self.resume {
            o.push(("run.resume".into(), path("resume", r)?));
        }
        if self.resume_despite_changes {
            o.push(set("run.resume_despite_changes", true));
        }
        if self.no_progress {
            o.push(set("run.progress", false));
        }
        o.extend(self.device.map(|d| set("run.device", d.to_string())));
        Ok(o)
    }

    fn shown(exp: &Experiment) -> Shown {
        let Ok(run) = build::run_options(exp, OptionSource::CommandLine) else {
            return Vec::new();
        };
        let cwd = std::env::current_dir().unwrap_or_default();
        let log_dir = run.log_dir.strip_prefix(&cwd).unwrap_or(&run.log_dir);
        vec![
            ("epochs", run.epochs.to_string()),
            ("batch_size", run.batch_size.to_string()),
            ("lr", shown(run.lr)),
            ("weight_decay", shown(run.weight_decay)),
            ("latent", run.latent.to_string()),
            ("seed", run.seed.to_string()),
            ("limit_train_batches", limit(run.limit_train)),
            ("limit_val_batches", limit(run.limit_val)),
            ("log_every_n_steps", run.log_every_n_steps.to_string()),
            ("log_dir", log_dir.display().to_string()),
            ("device", run.device.to_string()),
        ]
    }
}

/// `--latent N` as the override of the preset's encoder: a LeNet's `latent`, else an MLP's
/// `hidden` widths `[2·N, N]` (the commands' encoder 284 → 2·latent → latent).
fn latent(exp: &Experiment, n: usize) -> Result<Override, String> {
    Ok(match exp.encoder.kind {
        Some(EncoderKind::Lenet) => ("encoder.latent".into(), int("latent", n)?),
        _ => {
            let wide = n.checked_mul(2).unwrap_or(usize::MAX);
            let hidden = vec![int("latent", wide)?, int("latent", n)?];
            ("encoder.hidden".into(), Value::Array(hidden))
        }
    })
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
    /// MLP probing, one hidden layer of 32 ReLU units, L-BFGS (classifier, or regressor for a
    /// continuous target).
    Mlp,
}

/// The probing options of every training command.
#[derive(clap::Args, Clone, Debug, Default, PartialEq)]
#[command(next_help_heading = "Probing options")]
pub struct ProbeArgs {
    /// Probes, comma-separated or repeated
    #[arg(long, value_name = "P", value_enum, value_delimiter = ',')]
    pub probe: Option<Vec<ProbeKind>>,
    /// Probe after every N-th training epoch; 0: never
    #[arg(long, value_name = "N", value_parser = whole(0usize))]
    pub probe_every: Option<usize>,
    /// Also probe after the last training epoch
    #[arg(long)]
    pub probe_after_last_epoch: bool,
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
    /// Also cross-validate each probe in K folds
    ///
    /// On the probing train set's embeddings, stratified for classifiers, as scikit-learn's
    /// cross_validate; tags fold<i>/..., cv/mean/..., cv/std/...
    #[arg(long, value_name = "K", value_parser = whole(2usize))]
    pub probe_cv: Option<usize>,
    /// scikit-learn scores to log instead of the default metrics
    ///
    /// Comma-separated names (accuracy, f1_macro, r2, neg_mean_absolute_error, ...); one name is
    /// tagged test_score, several test_<name>
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub scoring: Option<Vec<String>>,
    /// Put P before the score tags (nidl's prefix_score)
    #[arg(long, value_name = "P")]
    pub prefix_score: Option<String>,
    /// Also log nidl's SSL geometry metrics of the validation views after every epoch (tags
    /// ssl/alignment, ssl/uniformity, ssl/contrastive_accuracy, ssl/procrustes_similarity,
    /// ssl/procrustes_r2, ssl/kruskal_similarity)
    #[arg(long)]
    pub ssl_metrics: bool,
}

impl PresetOptions for ProbeArgs {
    fn overrides(&self, exp: &Experiment) -> Result<Vec<Override>, String> {
        let mut o = Vec::new();
        if self.probe.is_some() || self.probe_max_iter.is_some() {
            let probes = probes(exp, self.probe.as_deref(), self.probe_max_iter);
            let probes = Value::try_from(&probes).map_err(|e| format!("option --probe: {e}"))?;
            o.push(("probe".into(), probes));
        }
        if let Some(n) = self.probe_every {
            o.push(("probing.every".into(), int("probe-every", n)?));
        }
        if self.probe_after_last_epoch {
            o.push(set("probing.after_last_epoch", true));
        }
        if let Some(n) = self.probe_every_val {
            o.push(("probing.every_val".into(), int("probe-every-val", n)?));
        }
        if self.probe_on_train_start {
            o.push(set("probing.on_train_start", true));
        }
        if let Some(n) = self.probe_train_limit {
            o.push(("probing.train_limit".into(), int("probe-train-limit", n)?));
        }
        if let Some(n) = self.probe_test_limit {
            o.push(("probing.test_limit".into(), int("probe-test-limit", n)?));
        }
        if let Some(k) = self.probe_cv {
            o.push(("probing.cv".into(), int("probe-cv", k)?));
        }
        o.extend(self.scoring.as_deref().map(|names| match names {
            [one] => set("probing.scoring", one.as_str()),
            many => set("probing.scoring", many.to_vec()),
        }));
        o.extend(
            self.prefix_score
                .as_deref()
                .map(|p| set("probing.prefix_score", p)),
        );
        if self.ssl_metrics {
            o.push(set("metrics.ssl", true));
        }
        Ok(o)
    }

    fn shown(exp: &Experiment) -> Shown {
        let p = &exp.probing;
        let mut out = vec![
            ("probe", "logreg".into()),
            ("probe_every", p.every.to_string()),
            ("probe_every_val", p.every_val.to_string()),
        ];
        let logreg = exp.probes.iter().find(|p| p.kind == ProbeKindSpec::Logreg);
        out.extend(
            logreg
                .and_then(|p| p.max_iter)
                .map(|n| ("probe_max_iter", n.to_string())),
        );
        out.push(("probe_train_limit", limit(p.train_limit)));
        out.push(("probe_test_limit", limit(p.test_limit)));
        out.push(("probe_cv", p.cv.map_or("off".into(), |k| k.to_string())));
        out
    }
}

/// The online probe, best checkpoint and early stopping options of every training command
/// (`[run]` keys `online_probe`, `checkpoint_best`, `checkpoint_best_mode`, `early_stop`,
/// `early_stop_mode`, `patience`).
#[derive(clap::Args, Clone, Debug, Default, PartialEq)]
#[command(next_help_heading = "Online probe, best checkpoint and early stopping")]
pub struct MonitorArgs {
    /// Train a linear probe on the digits of every training batch (its first view's encoder
    /// output, detached; no extra pass), logged as online/<metric> after every epoch (MNIST)
    #[arg(long)]
    pub online_probe: bool,
    /// Keep checkpoints/best.safetensors (and best.json) with the best value of TAG so far
    /// (e.g. LogisticRegression/accuracy, online/accuracy, loss/val)
    #[arg(long, value_name = "TAG")]
    pub checkpoint_best: Option<String>,
    /// Whether larger or smaller values of --checkpoint-best's TAG are better [default: from
    /// the metric: min for losses and errors, else max]
    #[arg(long, value_name = "MODE", value_enum, requires = "checkpoint_best")]
    pub checkpoint_best_mode: Option<MonitorMode>,
    /// Stop training once TAG has not improved for --patience evaluations in a row
    #[arg(long, value_name = "TAG")]
    pub early_stop: Option<String>,
    /// Whether larger or smaller values of --early-stop's TAG are better [default: from the
    /// metric]
    #[arg(long, value_name = "MODE", value_enum, requires = "early_stop")]
    pub early_stop_mode: Option<MonitorMode>,
    /// Patience of --early-stop (evaluations)
    #[arg(long, value_name = "N", value_parser = whole(0usize), requires = "early_stop")]
    pub patience: Option<usize>,
}

impl PresetOptions for MonitorArgs {
    fn overrides(&self, _: &Experiment) -> Result<Vec<Override>, String> {
        let mode = |m: MonitorMode| match m {
            MonitorMode::Max => "max",
            MonitorMode::Min => "min",
        };
        let mut o = Vec::new();
        if self.online_probe {
            o.push(set("run.online_probe", true));
        }
        o.extend(
            self.checkpoint_best
                .clone()
                .map(|t| set("run.checkpoint_best", t)),
        );
        o.extend(
            self.checkpoint_best_mode
                .map(|m| set("run.checkpoint_best_mode", mode(m))),
        );
        o.extend(self.early_stop.clone().map(|t| set("run.early_stop", t)));
        o.extend(
            self.early_stop_mode
                .map(|m| set("run.early_stop_mode", mode(m))),
        );
        if let Some(n) = self.patience {
            o.push(("run.patience".into(), int("patience", n)?));
        }
        Ok(o)
    }

    fn shown(_: &Experiment) -> Shown {
        vec![(
            "patience",
            super::experiment::monitor::DEFAULT_PATIENCE.to_string(),
        )]
    }
}

/// The probes of `--probe kinds` (without repeats; `None`: the preset's) on the preset `exp`:
/// `logreg` is the preset's probes, their logistic regressions with `max_iter` when given;
/// `knn` a group of 5-NN probes on the same tasks (a classifier for a logistic regression's
/// task, a regressor for a Ridge's), named as the commands name them; `mlp` a group of MLP
/// probes on the same tasks, alike.
fn probes(
    exp: &Experiment,
    kinds: Option<&[ProbeKind]>,
    max_iter: Option<usize>,
) -> Vec<ProbeSpec> {
    let linear: Vec<ProbeSpec> = exp
        .probes
        .iter()
        .cloned()
        .map(|mut p| {
            if p.kind == ProbeKindSpec::Logreg && max_iter.is_some() {
                p.max_iter = max_iter;
            }
            p
        })
        .collect();
    let group = linear.iter().map(|p| p.group + 1).max().unwrap_or(0);
    let multitask = linear.len() > 1;
    let knn = linear.iter().map(|p| {
        let (kind, name) = match p.kind {
            ProbeKindSpec::Logreg | ProbeKindSpec::Knn | ProbeKindSpec::Mlp => {
                (ProbeKindSpec::Knn, "KNeighborsClassifier")
            }
            ProbeKindSpec::Ridge | ProbeKindSpec::KnnRegressor | ProbeKindSpec::MlpRegressor => {
                (ProbeKindSpec::KnnRegressor, "KNeighborsRegressor")
            }
        };
        ProbeSpec {
            kind,
            task: p.task.clone(),
            tasks: None,
            group,
            name: multitask.then(|| name.to_string()),
            c: None,
            max_iter: None,
            alpha: None,
            k: None,
            hidden: None,
        }
    });
    let knn: Vec<ProbeSpec> = knn.collect();
    let mlp = mlp_probes(&linear, group + 1);
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for &kind in kinds.unwrap_or(&[ProbeKind::Linear]) {
        if !seen.contains(&kind) {
            seen.push(kind);
            out.extend_from_slice(match kind {
                ProbeKind::Linear => &linear,
                ProbeKind::Knn => &knn,
                ProbeKind::Mlp => &mlp,
            });
        }
    }
    out
}

/// `--probe mlp`: an MLP probe (defaults of `[[probe]]` kind `mlp`) on the task of each of the
/// preset's probes `linear`, a classifier for a classifier's task and a regressor otherwise,
/// all in group `group`; named `MLPClassifier` / `MLPRegressor` when there are several.
fn mlp_probes(linear: &[ProbeSpec], group: usize) -> Vec<ProbeSpec> {
    let multitask = linear.len() > 1;
    linear
        .iter()
        .map(|p| {
            let (kind, name) = if p.kind.is_classifier() {
                (ProbeKindSpec::Mlp, "MLPClassifier")
            } else {
                (ProbeKindSpec::MlpRegressor, "MLPRegressor")
            };
            ProbeSpec {
                kind,
                task: p.task.clone(),
                tasks: None,
                group,
                name: multitask.then(|| name.to_string()),
                c: None,
                max_iter: None,
                alpha: None,
                k: None,
                hidden: None,
            }
        })
        .collect()
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

impl PresetOptions for MnistArgs {
    fn overrides(&self, _: &Experiment) -> Result<Vec<Override>, String> {
        let dir = self.data_dir.as_deref().map(|d| path("data-dir", d));
        Ok(match dir {
            Some(d) => vec![("data.dir".into(), d?)],
            None => Vec::new(),
        })
    }

    fn shown(exp: &Experiment) -> Shown {
        match &exp.data.dir {
            Some(d) => vec![("data_dir", d.display().to_string())],
            None => <Self as ShowDefaults>::shown(),
        }
    }
}

/// The index in the preset's tabular views of the first that `is`, for the override of
/// `--option`.
fn tabular_view(
    exp: &Experiment,
    option: &str,
    is: impl Fn(&TabularView) -> bool,
) -> Result<usize, String> {
    exp.views
        .tabular
        .iter()
        .flatten()
        .position(is)
        .ok_or_else(|| format!("option --{option}: the preset has no such view"))
}

impl PresetOptions for OpenBhbArgs {
    fn overrides(&self, exp: &Experiment) -> Result<Vec<Override>, String> {
        let mut o = Vec::new();
        if let Some(d) = &self.data_dir {
            o.push(("data.dir".into(), path("data-dir", d)?));
        }
        if let Some(p) = self.mask_prob {
            let i = tabular_view(exp, "mask-prob", |v| matches!(v, TabularView::Mask { .. }))?;
            o.push(set(&format!("views.tabular.{i}.prob"), p));
        }
        if let Some(x) = self.noise_std {
            let i = tabular_view(exp, "noise-std", |v| matches!(v, TabularView::Noise { .. }))?;
            o.push(set(&format!("views.tabular.{i}.std"), x));
        }
        Ok(o)
    }

    fn shown(exp: &Experiment) -> Shown {
        let mut out = vec![(
            "data_dir",
            match &exp.data.dir {
                Some(d) => d.display().to_string(),
                None => "a SYNTHETIC OpenBHB, generated once into the cache folder".into(),
            },
        )];
        for v in exp.views.tabular.iter().flatten() {
            out.push(match *v {
                TabularView::Mask { prob } => ("mask_prob", shown(prob)),
                TabularView::Noise { std } => ("noise_std", shown(std)),
            });
        }
        out
    }
}

/// The method option `key` of the resolved preset `exp`, as `--help` shows it (`None`: not
/// set there).
fn method_shown(exp: &Experiment, key: &str) -> Option<String> {
    let table = Value::try_from(&exp.method).ok()?;
    match table.get(key)? {
        Value::Float(x) => Some(shown(*x)),
        other => Some(other.to_string()),
    }
}

/// The `method.<key>` overrides of the given `(key, value)` options.
fn method_overrides(options: Vec<(&str, Option<Value>)>) -> Vec<Override> {
    options
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (format!("method.{k}"), v)))
        .collect()
}

/// The method options `keys` of the resolved preset `exp` as `--help` shows them.
fn methods_shown(exp: &Experiment, keys: &[&'static str]) -> Shown {
    keys.iter()
        .filter_map(|&k| method_shown(exp, k).map(|v| (k, v)))
        .collect()
}
/// The SimCLR options.
#[derive(clap::Args, Clone, Debug, Default, PartialEq)]
#[command(next_help_heading = "SimCLR options")]
pub struct SimClrArgs {
    /// InfoNCE temperature
    #[arg(long, value_name = "X", value_parser = positive)]
    pub temperature: Option<f64>,
}

impl PresetOptions for SimClrArgs {
    fn overrides(&self, _: &Experiment) -> Result<Vec<Override>, String> {
        Ok(method_overrides(vec![(
            "temperature",
            self.temperature.map(Value::Float),
        )]))
    }

    fn shown(exp: &Experiment) -> Shown {
        methods_shown(exp, &["temperature"])
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

impl PresetOptions for YAwareArgs {
    fn overrides(&self, _: &Experiment) -> Result<Vec<Override>, String> {
        Ok(method_overrides(vec![
            ("sigma", self.sigma.map(Value::Float)),
            ("temperature", self.temperature.map(Value::Float)),
        ]))
    }

    fn shown(exp: &Experiment) -> Shown {
        methods_shown(exp, &["sigma", "temperature"])
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

impl PresetOptions for BarlowArgs {
    fn overrides(&self, _: &Experiment) -> Result<Vec<Override>, String> {
        let n = |option: &str, n: Option<usize>| n.map(|n| int(option, n)).transpose();
        Ok(method_overrides(vec![
            ("lambda", self.lambda.map(Value::Float)),
            ("proj_hidden", n("proj-hidden", self.proj_hidden)?),
            ("proj_output", n("proj-output", self.proj_output)?),
            ("warmup_epochs", n("warmup-epochs", self.warmup_epochs)?),
        ]))
    }

    fn shown(exp: &Experiment) -> Shown {
        let mut out = methods_shown(exp, &["lambda"]);
        let width = |key, otherwise: &str| {
            (
                key,
                method_shown(exp, key).unwrap_or_else(|| otherwise.into()),
            )
        };
        out.push(width("proj_hidden", "2 × latent"));
        out.push(width("proj_output", "latent"));
        out.extend(methods_shown(exp, &["warmup_epochs"]));
        out
    }
}

/// The DCL options.
#[derive(clap::Args, Clone, Debug, Default, PartialEq)]
#[command(next_help_heading = "DCL options")]
pub struct DclArgs {
    /// Temperature of the decoupled contrastive loss
    #[arg(long, value_name = "X", value_parser = positive)]
    pub temperature: Option<f64>,
    /// Train DCLW with this von Mises-Fisher σ (nidl: 0.5)
    #[arg(long, value_name = "X", value_parser = positive)]
    pub sigma: Option<f64>,
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

impl PresetOptions for DclArgs {
    fn overrides(&self, _: &Experiment) -> Result<Vec<Override>, String> {
        let n = |option: &str, n: Option<usize>| n.map(|n| int(option, n)).transpose();
        Ok(method_overrides(vec![
            ("temperature", self.temperature.map(Value::Float)),
            ("sigma", self.sigma.map(Value::Float)),
            ("proj_hidden", n("proj-hidden", self.proj_hidden)?),
            ("proj_output", n("proj-output", self.proj_output)?),
            ("warmup_epochs", n("warmup-epochs", self.warmup_epochs)?),
        ]))
    }

    fn shown(exp: &Experiment) -> Shown {
        let mut out = methods_shown(exp, &["temperature"]);
        let or = |key, otherwise: &str| {
            (
                key,
                method_shown(exp, key).unwrap_or_else(|| otherwise.into()),
            )
        };
        out.push(or("sigma", "none: DCL"));
        out.push(or("proj_hidden", "2 × latent"));
        out.push(or("proj_output", "latent"));
        out.extend(methods_shown(exp, &["warmup_epochs"]));
        out
    }
}

/// The β-VAE options (nidl 0.0.2's `VAE` names).
#[derive(clap::Args, Clone, Debug, Default, PartialEq)]
#[command(next_help_heading = "β-VAE options")]
pub struct VaeArgs {
    /// Weight of the KL term (nidl's beta)
    #[arg(long, value_name = "X", value_parser = non_negative)]
    pub beta: Option<f64>,
    /// Width of μ and log σ² (nidl's latent_dim)
    #[arg(long, value_name = "N", value_parser = whole(1usize))]
    pub latent_dim: Option<usize>,
    /// Decoder distribution (nidl's default_dist)
    ///
    /// It sets the reconstruction loss: normal (squared error), laplace (absolute error) or
    /// bernoulli (binary cross-entropy; the decoder ends with a sigmoid).
    #[arg(long, value_name = "DIST", value_parser = ["normal", "laplace", "bernoulli"])]
    pub default_dist: Option<String>,
}

impl PresetOptions for VaeArgs {
    fn overrides(&self, _: &Experiment) -> Result<Vec<Override>, String> {
        let latent_dim = self.latent_dim.map(|n| int("latent-dim", n)).transpose()?;
        Ok(method_overrides(vec![
            ("beta", self.beta.map(Value::Float)),
            ("latent_dim", latent_dim),
            ("default_dist", self.default_dist.clone().map(Value::String)),
        ]))
    }

    fn shown(exp: &Experiment) -> Shown {
        let mut out = methods_shown(exp, &["beta", "latent_dim"]);
        // Shown bare (not as a quoted TOML string).
        out.extend(exp.method.default_dist.clone().map(|d| ("default_dist", d)));
        out
    }
}

/// The DINO options (named as nidl 0.0.2's `DINO` arguments).
#[derive(clap::Args, Clone, Debug, Default, PartialEq)]
#[command(next_help_heading = "DINO options")]
pub struct DinoArgs {
    /// Local views per sample (plus 2 global)
    #[arg(long, value_name = "N", value_parser = whole(0usize))]
    pub num_local_crops: Option<usize>,
    /// Student temperature
    #[arg(long, value_name = "X", value_parser = positive)]
    pub student_temperature: Option<f64>,
    /// Teacher temperature after the warm-up
    #[arg(long, value_name = "X", value_parser = positive)]
    pub teacher_temperature: Option<f64>,
    /// Teacher temperature of the first epoch
    #[arg(long, value_name = "X", value_parser = positive)]
    pub warmup_teacher_temp: Option<f64>,
    /// Epochs of teacher-temperature warm-up
    #[arg(long, value_name = "N", value_parser = whole(0usize))]
    pub warmup_teacher_temp_epochs: Option<usize>,
    /// Teacher momentum λ of the first step
    #[arg(long, value_name = "X", value_parser = probability)]
    pub base_lambda: Option<f64>,
    /// Teacher momentum λ at the last step
    #[arg(long, value_name = "X", value_parser = probability)]
    pub final_lambda: Option<f64>,
    /// Maximal gradient norm of the student encoder (0: no clipping)
    #[arg(long, value_name = "X", value_parser = non_negative)]
    pub clip_grad: Option<f64>,
    /// Epochs during which the head's last layer is not updated
    #[arg(long, value_name = "N", value_parser = whole(0usize))]
    pub freeze_last_layer: Option<usize>,
    /// Hidden width of the DINO head
    #[arg(long, value_name = "N", value_parser = whole(1usize))]
    pub proj_hidden_dim: Option<usize>,
    /// Bottleneck width before the head's weight-normalised last layer
    #[arg(long, value_name = "N", value_parser = whole(1usize))]
    pub proj_bottleneck_dim: Option<usize>,
    /// Output width K of the DINO head
    #[arg(long, value_name = "N", value_parser = whole(1usize))]
    pub proj_output_dim: Option<usize>,
    /// Epochs of linear LR warmup from 1e-6 before the per-step cosine (as nidl: with the default
    /// 10 epochs the whole run warms up)
    #[arg(long, value_name = "N", value_parser = whole(0usize))]
    pub warmup_epochs: Option<usize>,
}

/// The `[method]` keys of [`DinoArgs`], in its order.
const DINO_KEYS: [&str; 13] = [
    "num_local_crops",
    "student_temperature",
    "teacher_temperature",
    "warmup_teacher_temp",
    "warmup_teacher_temp_epochs",
    "base_lambda",
    "final_lambda",
    "clip_grad",
    "freeze_last_layer",
    "proj_hidden_dim",
    "proj_bottleneck_dim",
    "proj_output_dim",
    "warmup_epochs",
];

impl PresetOptions for DinoArgs {
    fn overrides(&self, _: &Experiment) -> Result<Vec<Override>, String> {
        let n = |option: &str, n: Option<usize>| n.map(|n| int(option, n)).transpose();
        let x = |x: Option<f64>| x.map(Value::Float);
        Ok(method_overrides(vec![
            (
                "num_local_crops",
                n("num-local-crops", self.num_local_crops)?,
            ),
            ("student_temperature", x(self.student_temperature)),
            ("teacher_temperature", x(self.teacher_temperature)),
            ("warmup_teacher_temp", x(self.warmup_teacher_temp)),
            (
                "warmup_teacher_temp_epochs",
                n(
                    "warmup-teacher-temp-epochs",
                    self.warmup_teacher_temp_epochs,
                )?,
            ),
            ("base_lambda", x(self.base_lambda)),
            ("final_lambda", x(self.final_lambda)),
            ("clip_grad", x(self.clip_grad)),
            (
                "freeze_last_layer",
                n("freeze-last-layer", self.freeze_last_layer)?,
            ),
            (
                "proj_hidden_dim",
                n("proj-hidden-dim", self.proj_hidden_dim)?,
            ),
            (
                "proj_bottleneck_dim",
                n("proj-bottleneck-dim", self.proj_bottleneck_dim)?,
            ),
            (
                "proj_output_dim",
                n("proj-output-dim", self.proj_output_dim)?,
            ),
            ("warmup_epochs", n("warmup-epochs", self.warmup_epochs)?),
        ]))
    }

    fn shown(exp: &Experiment) -> Shown {
        methods_shown(exp, &DINO_KEYS)
    }
}
