//! What every training run shares, once its experiment is resolved (`experiment/build.rs`):
//! the run and probing options, the estimators built from them, the view loaders, the messages
//! that name the option (or key) at fault, and the fit call that prints the final line.

use super::progress::BarReporter;
use super::stdout::outln;
use nidl::datasets::loader::{BatchSource, Collate, Dataset, Loader, Stack, Take};
use nidl::datasets::transforms::Transform;
use nidl::error::RunInput;
use nidl::log::FigureNames;
use nidl::loss::{Bandwidth, Kernel};
use nidl::nn::Module;
use nidl::tensor::Device;
use nidl::train::metric_table::elide;
use nidl::train::{
    BarlowTwins, BarlowTwinsConfig, Callback, Estimator, Mode, NonFiniteMetric, ProbeTask, Probing,
    ProbingSets, SimClr, SimClrConfig, Trainer, TrainerConfig, YAware, YAwareConfig,
};
use nidl::train::{Dcl, DclConfig};
use rand::rngs::StdRng;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Batch size of the probing loaders.
const PROBE_BATCH: usize = 512;

/// What a command's estimator is built from.
pub struct ModelParts<'a> {
    /// The run options.
    pub run: &'a RunOptions,
    /// The encoder, drawn from `rng`.
    pub encoder: Box<dyn Module<f32>>,
    /// The `--seed` RNG after the encoder: the head is drawn from it.
    pub rng: &'a mut StdRng,
}

/// The options every training command takes.
pub struct RunOptions {
    /// `--epochs`.
    pub epochs: usize,
    /// `--batch-size`.
    pub batch_size: usize,
    /// `--lr`.
    pub lr: f64,
    /// `--weight-decay`.
    pub weight_decay: f64,
    /// `--latent`: the encoder's output width.
    pub latent: usize,
    /// `--seed`.
    pub seed: u64,
    /// `--limit-train-batches`.
    pub limit_train: Option<usize>,
    /// `--limit-val-batches`.
    pub limit_val: Option<usize>,
    /// `--log-every-n-steps`.
    pub log_every_n_steps: usize,
    /// `--device`: where the model trains.
    pub device: Device,
    /// `--log-dir`.
    pub log_dir: PathBuf,
    /// `--checkpoint`.
    pub checkpoint: bool,
    /// `--resume`.
    pub resume: Option<PathBuf>,
    /// `--resume-despite-changes`.
    pub resume_despite_changes: bool,
    /// `--no-progress`.
    pub no_progress: bool,
    /// `--checkpoint-best`, `--early-stop` and their modes, `--patience`.
    pub monitor: MonitorOptions,
    /// Where the options came from, for messages.
    pub source: OptionSource,
}

/// Where a run's options came from: what messages call an option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionSource {
    /// Command-line options: `option --batch-size`.
    CommandLine,
    /// An experiment file: `run.batch_size`, `data.dir` (`data` for the other data keys).
    Experiment,
}

impl OptionSource {
    /// What messages call the data folder: `option --data-dir` or `data.dir`.
    pub fn data_dir(self) -> &'static str {
        match self {
            OptionSource::CommandLine => "option --data-dir",
            OptionSource::Experiment => "data.dir",
        }
    }

    /// What messages call the command-line `option` (`batch-size`).
    pub fn name(self, option: &str) -> String {
        match self {
            OptionSource::CommandLine => format!("option --{option}"),
            OptionSource::Experiment => match option {
                "data-dir" => "data".into(),
                other => format!("run.{}", other.replace('-', "_")),
            },
        }
    }
}

impl RunOptions {
    /// Moves `model` to `--device` and says where it trains (the adapter, for a GPU).
    pub fn place(&self, model: &mut dyn Estimator) -> Result<(), String> {
        if self.device == Device::Cpu {
            return Ok(());
        }
        model
            .move_to(self.device)
            .map_err(|e| format!("{}: {e}", self.source.name("device")))?;
        #[cfg(feature = "gpu")]
        if let Ok(gpu) = nidl::gpu::gpu() {
            outln!("training on the GPU: {}", gpu.name());
        }
        Ok(())
    }

    /// Fails with an `option --resume` message when `--resume` names no file.
    pub fn check_resume(&self) -> Result<(), String> {
        match &self.resume {
            Some(r) if !r.is_file() => Err(format!(
                "{}: no checkpoint file at {}",
                self.source.name("resume"),
                r.display()
            )),
            _ => Ok(()),
        }
    }

    /// The message of a training error, naming the option to change: `--batch-size` or
    /// `--data-dir` for inputs the trainer refuses, `--log-dir` for a log folder that cannot be
    /// written, `--resume` for an error naming the checkpoint.
    pub fn error(&self, e: nidl::Error) -> String {
        if let Some(option) = error_option(&e, self.source) {
            return format!("{option}: {e}");
        }
        match &e {
            nidl::Error::RunInput {
                input: RunInput::BatchSize,
                ..
            } => format!("{}: {e}", self.source.name("batch-size")),
            nidl::Error::RunInput {
                input: RunInput::Data,
                ..
            } => format!("{}: {e}", self.source.name("data-dir")),
            nidl::Error::Io { path, .. } if path.starts_with(&self.log_dir) => {
                format!("{}: {e}", self.source.name("log-dir"))
            }
            _ => match &self.resume {
                Some(r) if e.to_string().contains(&r.display().to_string()) => {
                    format!("{}: {e}", self.source.name("resume"))
                }
                _ => e.to_string(),
            },
        }
    }

    /// Trains `model` on `train` (validation loss on `val`) with `callbacks` into the next
    /// `version_<N>` folder of `--log-dir` (created once the trainer has checked the inputs),
    /// resuming when asked, and prints the end of the run: the metric table, the tags logged
    /// with non-finite values, a line with the epochs, steps and time since `start`, the log
    /// folder on a line of its own, and the files the run wrote; `hparams` are the data's (the views' settings, and a sweep's
    /// values); `figure_names` name the data and the probe panels in `metrics.png`
    /// ([`Trainer::figure_names`]). Returns the run's folder. Errors name the option to change
    /// ([`error`](Self::error)).
    pub fn fit(
        &self,
        start: Instant,
        model: &mut dyn Estimator,
        train: &dyn BatchSource,
        val: &dyn BatchSource,
        callbacks: Vec<Box<dyn Callback>>,
        hparams: Vec<(String, String)>,
        figure_names: FigureNames,
    ) -> Result<PathBuf, String> {
        let tc = TrainerConfig {
            max_epochs: self.epochs,
            limit_train_batches: self.limit_train,
            limit_val_batches: self.limit_val,
            log_every_n_steps: self.log_every_n_steps,
            seed: self.seed,
            checkpoint_dir: None,
            resume: self.resume.clone(),
            resume_despite_changes: self.resume_despite_changes,
            hparams,
        };
        let mut trainer = Trainer::new(tc)
            .log_dir(&self.log_dir, self.checkpoint)
            .figure_names(figure_names)
            .reporter(Box::new(BarReporter::new(!self.no_progress)));
        trainer = self.monitor.apply(trainer);
        for cb in callbacks {
            trainer = trainer.callback(cb);
        }
        if let Some(r) = &self.resume {
            outln!("resuming from {}", r.display());
        }
        let report = trainer
            .fit(model, train, Some(val))
            .map_err(|e| self.error(e))?;
        let log_dir = report.log_dir.unwrap_or_else(|| self.log_dir.clone());
        for line in report.metrics.lines(TABLE_WIDTH) {
            outln!("{line}");
        }
        if !report.non_finite.is_empty() {
            for line in non_finite_summary(&report.non_finite, TABLE_WIDTH) {
                outln!("{line}");
            }
        }
        for note in &report.notes {
            outln!("{note}");
        }
        outln!(
            "done: {} epochs, {} steps in {:.1} s; logs in",
            report.epochs.len(),
            report.global_step,
            start.elapsed().as_secs_f64(),
        );
        outln!("{}", log_dir.display());
        for file in files_under(&log_dir) {
            outln!("  {}", file.display());
        }
        Ok(log_dir)
    }
}

/// The width of the final metric table (fits an 80-column terminal).
const TABLE_WIDTH: usize = 80;

/// The files under `dir` (the run's folder: events file, `hparams.yaml`, `metrics.csv`, the
/// plots, `checkpoints/…`), relative to it, sorted: what the run wrote. A folder that cannot
/// be read lists nothing (the run is done; this only reports).
fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![PathBuf::new()];
    while let Some(rel) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(dir.join(&rel)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = rel.join(entry.file_name());
            match entry.file_type() {
                Ok(t) if t.is_dir() => folders.push(path),
                Ok(_) => files.push(path),
                Err(_) => {}
            }
        }
    }
    files.sort();
    files
}

/// The end of run's lines on the tags logged with NaN or infinite values, each at most `width`
/// characters: `non-finite metrics (logged as they are):`, then one line per tag,
/// `  task0/MAE inf at step 3`, `  task0/R2 NaN at 2 steps (3 to 6)`.
fn non_finite_summary(metrics: &[NonFiniteMetric], width: usize) -> Vec<String> {
    let tags = metrics.iter().map(|m| {
        let at = if m.count == 1 {
            format!("at step {}", m.first_step)
        } else {
            format!("at {} steps ({} to {})", m.count, m.first_step, m.last_step)
        };
        elide(&format!("  {} {} {at}", m.tag, m.value), width)
    });
    std::iter::once("non-finite metrics (logged as they are):".to_string())
        .chain(tags)
        .collect()
}

/// What the trainer is given of `checkpoint_best` and `early_stop`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MonitorOptions {
    /// `checkpoint_best` and its mode (`None`: from the metric).
    pub checkpoint_best: Option<(String, Option<Mode>)>,
    /// `early_stop`, its mode and `patience`.
    pub early_stop: Option<(String, Option<Mode>, usize)>,
}

impl MonitorOptions {
    /// `trainer` keeping the best checkpoint and stopping early as asked.
    pub fn apply(&self, mut trainer: Trainer) -> Trainer {
        if let Some((tag, mode)) = &self.checkpoint_best {
            trainer = trainer.checkpoint_best(tag.clone(), *mode);
        }
        if let Some((tag, mode, patience)) = &self.early_stop {
            trainer = trainer.early_stopping(tag.clone(), *mode, *patience);
        }
        trainer
    }
}

/// The option (or key) a trainer error of the best checkpoint or early stopping is about
/// (`checkpoint-best`, `early-stop`), as `source` calls it.
pub fn error_option(e: &nidl::Error, source: OptionSource) -> Option<String> {
    match e {
        nidl::Error::InvalidArgument {
            op: "Trainer::checkpoint_best",
            ..
        } => Some(source.name("checkpoint-best")),
        nidl::Error::InvalidArgument {
            op: "Trainer::early_stopping",
            ..
        } => Some(source.name("early-stop")),
        _ => None,
    }
}

/// The probing options every training command takes.
pub struct ProbeOptions {
    /// `--probe-train-limit`.
    pub train_limit: Option<usize>,
    /// `--probe-test-limit`.
    pub test_limit: Option<usize>,
    /// `--probe-every`.
    pub every: usize,
    /// `--probe-after-last-epoch`.
    pub after_last_epoch: bool,
    /// `--probe-every-val`.
    pub every_val: usize,
    /// `--probe-on-train-start`.
    pub on_train_start: bool,
}

impl ProbeOptions {
    /// Whether any probing is scheduled (`--probe-every 0` alone turns probing off).
    pub fn enabled(&self) -> bool {
        self.every > 0 || self.after_last_epoch || self.every_val > 0 || self.on_train_start
    }

    /// `callback` on the schedule of `--probe-every`, `--probe-after-last-epoch`,
    /// `--probe-every-val` and `--probe-on-train-start`.
    pub fn scheduled<Q: ProbeTask + 'static>(&self, callback: Probing<Q>) -> Box<dyn Callback> {
        Box::new(
            callback
                .every_n_train_epochs(self.every)
                .after_last_epoch(self.after_last_epoch)
                .every_n_val_epochs(self.every_val)
                .on_train_start(self.on_train_start),
        )
    }

    /// The probing sets: the first `--probe-train-limit` / `--probe-test-limit` samples (all
    /// by default) of each set, in order, without prefetching, each with its own `transform()`;
    /// `names` say what the train and test data are (for messages).
    pub fn sets<D, Tf>(
        &self,
        (train, test): (Arc<D>, Arc<D>),
        names: [String; 2],
        transform: impl Fn() -> nidl::Result<Tf>,
    ) -> Result<ProbingSets, String>
    where
        D: Dataset + 'static,
        Tf: Transform<D::Sample> + 'static,
        Tf::Output: Collate,
        <Tf::Output as Collate>::Item: Stack<Elem = f32>,
    {
        let err = |e: nidl::Error| e.to_string();
        let [train_name, test_name] = names;
        let loader = |set: Arc<D>,
                      limit: Option<usize>,
                      name: String|
         -> Result<Box<dyn BatchSource>, String> {
            let first = Take::new(set, limit.unwrap_or(usize::MAX));
            Ok(Box::new(
                Loader::new(Arc::new(first), transform().map_err(err)?, PROBE_BATCH)
                    .map_err(err)?
                    .prefetch(false)
                    .named(name),
            ))
        };
        Ok(ProbingSets::new(
            loader(train, self.train_limit, train_name)?,
            loader(test, self.test_limit, test_name)?,
        ))
    }
}

/// The options of the Barlow Twins commands.
pub struct BarlowOptions {
    lambda: f64,
    proj_hidden: Option<usize>,
    proj_output: Option<usize>,
    warmup_epochs: usize,
}

impl BarlowOptions {
    /// The options `--lambda`, `--proj-hidden`, `--proj-output` (`None`: 2 × latent, latent)
    /// and `--warmup-epochs`.
    pub fn new(
        lambda: f64,
        proj_hidden: Option<usize>,
        proj_output: Option<usize>,
        warmup_epochs: usize,
    ) -> Self {
        BarlowOptions {
            lambda,
            proj_hidden,
            proj_output,
            warmup_epochs,
        }
    }

    /// Barlow Twins around `parts.encoder`, with nidl 0.0.2's `BarlowTwins` settings, these options
    /// and the run's.
    pub fn build(self, parts: ModelParts) -> nidl::Result<BarlowTwins> {
        let run = parts.run;
        let config = BarlowTwinsConfig {
            proj_hidden_dim: self.proj_hidden.unwrap_or(2 * run.latent),
            proj_output_dim: self.proj_output.unwrap_or(run.latent),
            lambda: self.lambda,
            lr: run.lr,
            weight_decay: run.weight_decay,
            warmup_epochs: self.warmup_epochs,
            ..BarlowTwinsConfig::default()
        };
        BarlowTwins::new(parts.encoder, run.latent, config, parts.rng)
    }
}

/// The options of the DCL commands (`[method]` of `method = "dcl"`).
pub struct DclOptions {
    /// `--temperature`.
    pub temperature: f64,
    /// `--sigma`: DCLW's σ; `None`: DCL.
    pub sigma: Option<f64>,
    /// `--proj-hidden` (`None`: 2 × latent).
    pub proj_hidden: Option<usize>,
    /// `--proj-output` (`None`: latent).
    pub proj_output: Option<usize>,
    /// `--warmup-epochs`.
    pub warmup_epochs: usize,
}

impl DclOptions {
    /// DCL (DCLW with a sigma) around `parts.encoder`, with nidl 0.0.2's `DCL` settings, these
    /// options and the run's (the head sized to the encoder as Barlow Twins' is: nidl's 2048 →
    /// 2048 → 128 fits a ResNet's output, not a 32-wide LeNet's).
    pub fn build(self, parts: ModelParts) -> nidl::Result<Dcl> {
        let run = parts.run;
        let config = DclConfig {
            proj_hidden_dim: self.proj_hidden.unwrap_or(2 * run.latent),
            proj_output_dim: self.proj_output.unwrap_or(run.latent),
            temperature: self.temperature,
            sigma: self.sigma,
            lr: run.lr,
            weight_decay: run.weight_decay,
            warmup_epochs: self.warmup_epochs,
            ..DclConfig::default()
        };
        Dcl::new(parts.encoder, run.latent, config, parts.rng)
    }
}

/// SimCLR around `parts.encoder` (the seed's head [64, 32], AdamW, per-epoch cosine) with InfoNCE
/// `temperature` and the run's learning rate and weight decay.
pub fn simclr_model(temperature: f64, parts: ModelParts) -> nidl::Result<SimClr> {
    let run = parts.run;
    let config = SimClrConfig {
        lr: run.lr,
        weight_decay: run.weight_decay,
        temperature,
        ..SimClrConfig::default()
    };
    SimClr::new(parts.encoder, run.latent, config, parts.rng)
}

/// y-Aware around `parts.encoder` with the seed example's head (latent → 2·latent → latent, not
/// nidl's 2048 → 512 → 128 default), the `kernel` of bandwidth σ² (`sigma`) on the batch labels,
/// `temperature`, the run's learning rate and weight decay, and Adam's betas (0.9, 0.99): every
/// setting explicit, so the command keeps the seed's values whatever [`YAwareConfig::default`]
/// holds.
pub fn yaware_model(
    (kernel, sigma, temperature): (Kernel, f64, f64),
    parts: ModelParts,
) -> nidl::Result<YAware> {
    let run = parts.run;
    let config = YAwareConfig {
        head: (run.latent, 2 * run.latent, run.latent),
        kernel,
        bandwidth: Bandwidth::Scalar(sigma * sigma),
        temperature,
        lr: run.lr,
        betas: (0.9, 0.99),
        weight_decay: run.weight_decay,
    };
    YAware::new(parts.encoder, config, parts.rng)
}

/// A run's training and validation batches.
pub type LoaderPair = (Box<dyn BatchSource>, Box<dyn BatchSource>);

/// The training (shuffled) and validation loaders of a run: `views` of the `sets`' samples,
/// `--batch-size` per batch, seeded by `--seed`, limited to `--limit-train-batches` /
/// `--limit-val-batches`, `names` saying what each set is (for messages).
pub fn view_loaders<D, Tf>(
    (train, val): (Arc<D>, Arc<D>),
    views: Tf,
    run: &RunOptions,
    [train_name, val_name]: [String; 2],
) -> Result<LoaderPair, String>
where
    D: Dataset + 'static,
    Tf: Transform<D::Sample> + Clone + 'static,
    Tf::Output: Collate,
    <Tf::Output as Collate>::Item: Stack<Elem = f32>,
{
    let err = |e: nidl::Error| e.to_string();
    let train = Loader::new(train, views.clone(), run.batch_size)
        .map_err(err)?
        .shuffle(true)
        .seed(run.seed)
        .limit_batches(run.limit_train)
        .named(train_name);
    let val = Loader::new(val, views, run.batch_size)
        .map_err(err)?
        .seed(run.seed)
        .limit_batches(run.limit_val)
        .named(val_name);
    Ok((Box::new(train), Box::new(val)))
}
