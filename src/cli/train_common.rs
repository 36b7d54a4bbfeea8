//! What the training subcommands share: the command skeleton ([`train_command`]: options, data,
//! model, probing callbacks, fit) over a [`TrainingData`] (MNIST or OpenBHB), the run and probing
//! options every one of them takes, the Barlow Twins options of `barlow-mnist` /
//! `barlow-openbhb`, and the fit call that prints the final line.

use super::args::Args;
use super::progress::{count, non_negative, opt_count, positive};
use nidl::datasets::loader::{BatchSource, Collate, Dataset, Loader, Stack, Take};
use nidl::datasets::transforms::Transform;
use nidl::error::RunInput;
use nidl::loss::{Bandwidth, Kernel};
use nidl::nn::Module;
use nidl::tensor::Device;
use nidl::train::console::ConsoleReporter;
use nidl::train::{
    BarlowTwins, BarlowTwinsConfig, Callback, Estimator, NonFiniteMetric, ProbeTask, Probing,
    ProbingSets, SimClr, SimClrConfig, Trainer, TrainerConfig, YAware, YAwareConfig,
};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Batch size of the probing loaders.
const PROBE_BATCH: usize = 512;

/// Neighbours of the k-NN probes (scikit-learn's default, and the probing literature's).
pub const KNN_NEIGHBOURS: usize = 5;

/// Help text of the options every training command takes (after its own usage line).
pub const COMMON_HELP: &str = "\
run options (all training commands):
  --epochs N               epochs to train (10)
  --batch-size N           samples per training batch (128)
  --lr X, --weight-decay X optimizer learning rate and weight decay (defaults per command)
  --latent N               encoder output width (32)
  --seed N                 seed of initialisation, shuffling and augmentations (42)
  --limit-train-batches N  at most N training batches per epoch (default per command)
  --limit-val-batches N    at most N validation batches per epoch; 0: no validation
  --log-dir DIR            runs go to DIR/version_<N>/ (lightning_logs)
  --checkpoint             write checkpoints/epoch=<E>-step=<S>.safetensors after every epoch
  --resume PATH            continue from a checkpoint (same seed), bit for bit; refused if the
                           checkpoint records other hyper-parameters (or none: an older nidl's)
  --resume-despite-changes resume anyway; the changes go to hparams.yaml
  --no-progress            no progress bar
  --device cpu|gpu         where to train (cpu); gpu needs a build with `--features gpu`
probing options:
  --probe P[,P...]         probes, comma-separated or repeated: logreg, knn (k = 5) (logreg)
  --probe-every N          probe after every N-th training epoch and the last; 0: never (1)
  --probe-every-val N      probe after every N-th validation epoch; 0: never (0)
  --probe-on-train-start   also probe once before training (logged at step 0)
  --probe-max-iter N       L-BFGS iterations of the logistic regression (200)
  --probe-train-limit N, --probe-test-limit N   probe on the first N samples of each set";

/// One training command's defaults for the common options that differ between commands.
pub struct RunDefaults {
    /// `--lr` (the estimator's).
    pub lr: f64,
    /// `--weight-decay` (the estimator's).
    pub weight_decay: f64,
    /// `--limit-train-batches` (the data's; `None`: all batches).
    pub limit_train: Option<usize>,
    /// `--limit-val-batches` (the data's; `None`: all batches).
    pub limit_val: Option<usize>,
}

/// The data side of a training command: MNIST (`*-mnist`) or OpenBHB (`*-openbhb`).
pub trait TrainingData: Sized {
    /// `--help` text of the data options and probes.
    const HELP: &'static str;
    /// Default `--limit-train-batches` and `--limit-val-batches` (`None`: all batches).
    const LIMITS: (Option<usize>, Option<usize>);
    /// Reads the data options.
    fn parse(args: &mut Args) -> Result<Self, String>;
    /// The data options that shape training (the views' settings), for `hparams.yaml` and the
    /// checkpoints' record of the run.
    fn hparams(&self) -> Vec<(String, String)>;
    /// Loads the data: the training and validation sources, and the encoder (`--latent` wide)
    /// drawn from `rng`.
    fn load(&mut self, run: &RunOptions, rng: &mut StdRng) -> Result<Sources, String>;
    /// The probing sets of the loaded data (probes are fitted on the first, scored on the
    /// second).
    fn probing_sets(&self, probe: &ProbeOptions) -> Result<ProbingSets, String>;
    /// The callback of probe `kind` on `sets`, scheduled by `probe`
    /// ([`ProbeOptions::scheduled`]).
    fn probe_callback(
        &self,
        kind: ProbeKind,
        sets: ProbingSets,
        probe: &ProbeOptions,
    ) -> Result<Box<dyn Callback>, String>;
}

/// What [`TrainingData::load`] gives.
pub struct Sources {
    /// Training batches (two views per sample).
    pub train: Box<dyn BatchSource>,
    /// Validation batches (two views per sample).
    pub val: Box<dyn BatchSource>,
    /// The encoder.
    pub encoder: Box<dyn Module<f32>>,
}

/// What a command's estimator is built from.
pub struct ModelParts<'a> {
    /// The run options.
    pub run: &'a RunOptions,
    /// The encoder, drawn from `rng`.
    pub encoder: Box<dyn Module<f32>>,
    /// The `--seed` RNG after the encoder: the head is drawn from it.
    pub rng: &'a mut StdRng,
}

/// A training command: `--help`, or read the data, run, probing and estimator options (`parse`),
/// load the data, build the estimator (`build`), attach the `--probe` callbacks and train.
/// `usage` and `estimator_help` make up `--help` with the shared options' help; `lr_wd` are
/// the estimator's default `--lr` and `--weight-decay`.
pub fn train_command<D: TrainingData, O, E: Estimator>(
    mut args: Args,
    usage: &str,
    estimator_help: &str,
    lr_wd: (f64, f64),
    parse: impl FnOnce(&mut Args) -> Result<O, String>,
    build: impl FnOnce(O, ModelParts) -> nidl::Result<E>,
) -> Result<(), String> {
    if args.flag("help")? {
        println!("{usage}\n\n{}\n{COMMON_HELP}\n{estimator_help}", D::HELP);
        return Ok(());
    }
    let start = Instant::now();
    let mut data = D::parse(&mut args)?;
    let defaults = RunDefaults {
        lr: lr_wd.0,
        weight_decay: lr_wd.1,
        limit_train: D::LIMITS.0,
        limit_val: D::LIMITS.1,
    };
    let run = RunOptions::parse(&mut args, &defaults)?;
    let probe = ProbeOptions::parse(&mut args)?;
    let options = parse(&mut args)?;
    args.finish()?;
    run.check_resume()?;
    let mut rng = StdRng::seed_from_u64(run.seed);
    let sources = data.load(&run, &mut rng)?;
    // An empty training set first, naming the option to change.
    nidl::train::preflight::non_empty("the training set", &*sources.train)
        .map_err(|e| run.error(e))?;
    let parts = ModelParts {
        run: &run,
        encoder: sources.encoder,
        rng: &mut rng,
    };
    let mut model = build(options, parts).map_err(|e| e.to_string())?;
    run.place(&mut model)?;
    let mut callbacks = Vec::new();
    if probe.enabled() {
        let sets = data.probing_sets(&probe)?;
        for &kind in &probe.kinds {
            callbacks.push(data.probe_callback(kind, sets.clone(), &probe)?);
        }
    }
    let hparams = data.hparams();
    run.fit(
        start,
        &mut model,
        &*sources.train,
        &*sources.val,
        callbacks,
        hparams,
    )
    .map(drop)
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
    /// Reads the run options, with the command's `defaults`.
    pub fn parse(args: &mut Args, defaults: &RunDefaults) -> Result<Self, String> {
        Ok(RunOptions {
            epochs: count(args, "epochs", 10, 1)?,
            batch_size: count(args, "batch-size", 128, 2)?,
            lr: positive(args, "lr", defaults.lr)?,
            weight_decay: non_negative(args, "weight-decay", defaults.weight_decay)?,
            latent: count(args, "latent", 32, 1)?,
            seed: args.get_or("seed", 42)?,
            limit_train: opt_count(args, "limit-train-batches", 1)?.or(defaults.limit_train),
            limit_val: opt_count(args, "limit-val-batches", 0)?.or(defaults.limit_val),
            log_dir: args.get_or("log-dir", PathBuf::from("lightning_logs"))?,
            checkpoint: args.flag("checkpoint")?,
            resume: args.get("resume")?,
            resume_despite_changes: args.flag("resume-despite-changes")?,
            no_progress: args.flag("no-progress")?,
            device: args.get_or("device", Device::Cpu)?,
            source: OptionSource::CommandLine,
        })
    }

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
            println!("training on the GPU: {}", gpu.name());
        }
        Ok(())
    }

    /// Fails with an `option --resume` message when `--resume` names no file, and with an
    /// `option --resume-despite-changes` one when that flag comes without `--resume`.
    pub fn check_resume(&self) -> Result<(), String> {
        match &self.resume {
            Some(r) if !r.is_file() => Err(format!(
                "{}: no checkpoint file at {}",
                self.source.name("resume"),
                r.display()
            )),
            None if self.resume_despite_changes => Err(format!(
                "{}: only with {}",
                self.source.name("resume-despite-changes"),
                match self.source {
                    OptionSource::CommandLine => "--resume PATH",
                    OptionSource::Experiment => "run.resume",
                }
            )),
            _ => Ok(()),
        }
    }

    /// The message of a training error, naming the option to change: `--batch-size` or
    /// `--data-dir` for inputs the trainer refuses, `--log-dir` for a log folder that cannot be
    /// written, `--resume` for an error naming the checkpoint.
    pub fn error(&self, e: nidl::Error) -> String {
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
    /// resuming when asked, and prints the final line: epochs, steps, time since `start`, the
    /// log folder, and the tags logged with non-finite values; `hparams` are the data's
    /// ([`TrainingData::hparams`]). Returns the run's folder. Errors name the option to change
    /// ([`error`](Self::error)).
    pub fn fit(
        &self,
        start: Instant,
        model: &mut dyn Estimator,
        train: &dyn BatchSource,
        val: &dyn BatchSource,
        callbacks: Vec<Box<dyn Callback>>,
        hparams: Vec<(String, String)>,
    ) -> Result<PathBuf, String> {
        let tc = TrainerConfig {
            max_epochs: self.epochs,
            limit_train_batches: self.limit_train,
            limit_val_batches: self.limit_val,
            seed: self.seed,
            checkpoint_dir: None,
            resume: self.resume.clone(),
            resume_despite_changes: self.resume_despite_changes,
            hparams,
        };
        let mut trainer = Trainer::new(tc)
            .log_dir(&self.log_dir, self.checkpoint)
            .reporter(Box::new(ConsoleReporter::new(!self.no_progress)));
        for cb in callbacks {
            trainer = trainer.callback(cb);
        }
        if let Some(r) = &self.resume {
            println!("resuming from {}", r.display());
        }
        let report = trainer
            .fit(model, train, Some(val))
            .map_err(|e| self.error(e))?;
        let log_dir = report.log_dir.unwrap_or_else(|| self.log_dir.clone());
        println!(
            "done: {} epochs, {} steps in {:.1} s; logs in {}",
            report.epochs.len(),
            report.global_step,
            start.elapsed().as_secs_f64(),
            log_dir.display()
        );
        if !report.non_finite.is_empty() {
            println!("{}", non_finite_summary(&report.non_finite));
        }
        Ok(log_dir)
    }
}

/// The final summary's line on the tags logged with NaN or infinite values: `non-finite
/// metrics (logged as they are): task0/MAE inf at step 3; task0/R2 NaN at 2 steps (3 to 6)`.
fn non_finite_summary(metrics: &[NonFiniteMetric]) -> String {
    let parts: Vec<String> = metrics
        .iter()
        .map(|m| {
            let at = if m.count == 1 {
                format!("at step {}", m.first_step)
            } else {
                format!("at {} steps ({} to {})", m.count, m.first_step, m.last_step)
            };
            format!("{} {} {at}", m.tag, m.value)
        })
        .collect();
    format!(
        "non-finite metrics (logged as they are): {}",
        parts.join("; ")
    )
}

/// A probe of `--probe`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    /// `logreg`: the command's linear probing (a logistic regression on MNIST digits; Ridge on
    /// age and a logistic regression on sex for OpenBHB).
    Linear,
    /// `knn`: k-NN probing, k = [`KNN_NEIGHBOURS`] (classifier, or regressor for a continuous
    /// target).
    Knn,
}

/// The probing options every training command takes.
pub struct ProbeOptions {
    /// `--probe`, in order, without repeats.
    pub kinds: Vec<ProbeKind>,
    /// `--probe-max-iter`: the logistic regression's iterations.
    pub max_iter: usize,
    /// `--probe-train-limit`.
    pub train_limit: Option<usize>,
    /// `--probe-test-limit`.
    pub test_limit: Option<usize>,
    /// `--probe-every`.
    pub every: usize,
    /// `--probe-every-val`.
    pub every_val: usize,
    /// `--probe-on-train-start`.
    pub on_train_start: bool,
}

impl ProbeOptions {
    /// Reads the probing options; `--probe` defaults to `logreg`.
    pub fn parse(args: &mut Args) -> Result<Self, String> {
        let names = args.list("probe")?.unwrap_or_else(|| vec!["logreg".into()]);
        let mut kinds = Vec::new();
        for name in names {
            let kind = match name.as_str() {
                "logreg" => ProbeKind::Linear,
                "knn" => ProbeKind::Knn,
                other => {
                    return Err(format!(
                        "option --probe: unknown probe '{other}' (expected logreg or knn)"
                    ))
                }
            };
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        Ok(ProbeOptions {
            kinds,
            every: count(args, "probe-every", 1, 0)?,
            every_val: count(args, "probe-every-val", 0, 0)?,
            on_train_start: args.flag("probe-on-train-start")?,
            max_iter: count(args, "probe-max-iter", 200, 1)?,
            train_limit: opt_count(args, "probe-train-limit", 10)?,
            test_limit: opt_count(args, "probe-test-limit", 1)?,
        })
    }

    /// Whether any probing is scheduled (`--probe-every 0` alone turns probing off).
    pub fn enabled(&self) -> bool {
        self.every > 0 || self.every_val > 0 || self.on_train_start
    }

    /// `callback` on the schedule of `--probe-every`, `--probe-every-val` and
    /// `--probe-on-train-start`.
    pub fn scheduled<Q: ProbeTask + 'static>(&self, callback: Probing<Q>) -> Box<dyn Callback> {
        Box::new(
            callback
                .every_n_train_epochs(self.every)
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

/// A Barlow Twins command on the data `D` (`barlow-mnist`, `barlow-openbhb`): nidl's defaults,
/// AdamW lr 3e-4 and weight decay 5e-4, and the [`BarlowOptions`].
pub fn barlow_command<D: TrainingData>(args: Args, usage: &str) -> Result<(), String> {
    train_command::<D, _, _>(
        args,
        usage,
        BARLOW_HELP,
        (3e-4, 5e-4),
        BarlowOptions::parse,
        BarlowOptions::build,
    )
}

/// Help text of the Barlow Twins options.
pub const BARLOW_HELP: &str = "\
Barlow Twins options:
  --lambda X               weight of the redundancy-reduction term (5e-3)
  --proj-hidden N          hidden width of the projection head (2 × latent)
  --proj-output N          output width of the projection head (latent)
  --warmup-epochs N        epochs of linear warmup from 1e-6 before the per-step cosine (10, as
                           nidl: with the default 10 epochs the whole run warms up)";

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

    /// Reads `--lambda`, `--proj-hidden`, `--proj-output`, `--warmup-epochs`.
    pub fn parse(args: &mut Args) -> Result<Self, String> {
        Ok(BarlowOptions::new(
            non_negative(args, "lambda", 5e-3)?,
            opt_count(args, "proj-hidden", 1)?,
            opt_count(args, "proj-output", 1)?,
            count(args, "warmup-epochs", 10, 0)?,
        ))
    }

    /// Barlow Twins around `parts.encoder`, with nidl's `BarlowTwins` settings, these options
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

/// SimCLR around `parts.encoder` (nidl's head [64, 32], AdamW, per-epoch cosine) with InfoNCE
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

/// y-Aware around `parts.encoder` (head latent → 2·latent → latent, Adam) with the `kernel` of
/// bandwidth σ² (`sigma`) on the batch labels, `temperature`, and the run's learning rate and
/// weight decay.
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
        weight_decay: run.weight_decay,
        ..YAwareConfig::default()
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
