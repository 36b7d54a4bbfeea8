//! `nidl simclr-mnist`: the seed's first scenario. SimCLR (LeNet encoder, head [64, 32],
//! InfoNCE τ 0.1, AdamW, cosine schedule) on MNIST views (RandomResizedCrop + GaussianBlur), with
//! a LogisticRegression(max_iter 200) probe on the full train/test sets after every epoch.

use super::args::Args;
use super::progress::{count, non_negative, opt_count, positive, Progress};
use super::train_common::{check_resume, fit_and_report, probe_sources};
use nidl::datasets::loader::Loader;
use nidl::datasets::mnist::{self, Mnist, Split};
use nidl::datasets::transforms::{mnist_contrast_transforms, mnist_scale_transforms, MultiViews};
use nidl::nn::LeNet;
use nidl::probe::LogisticRegression;
use nidl::train::{ClassificationProbing, SimClr, SimClrConfig, Trainer, TrainerConfig};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Usage of this subcommand.
pub const USAGE: &str = "usage: nidl simclr-mnist [--data-dir data/mnist] [--epochs 10] \
[--limit-train-batches 100] [--batch-size 128] [--lr 1e-4] [--weight-decay 1e-4] \
[--temperature 0.1] [--latent 32] [--seed 42] [--probe-every 1] [--log-dir lightning_logs] \
[--checkpoint] [--resume PATH] [--no-progress]\n\
  [--limit-val-batches 10] [--probe-max-iter 200] [--probe-train-limit N] [--probe-test-limit N]\n\n\
Trains SimCLR on MNIST and probes the encoder with a logistic regression after every\n\
--probe-every epochs (0: never). Logs go to <log-dir>/version_<N>/ (TensorBoard events,\n\
metrics.csv, hparams.yaml, metrics.png; checkpoints/ with --checkpoint). The validation loss\n\
uses the first --limit-val-batches batches of the test set's views (0: none).";

/// Runs `nidl simclr-mnist`; `Err` is the one-line cause.
pub fn run(mut args: Args) -> Result<(), String> {
    if args.flag("help")? {
        println!("{USAGE}");
        return Ok(());
    }
    let start = Instant::now();
    let data_dir: PathBuf = args.get("data-dir")?.unwrap_or_else(mnist::default_dir);
    let epochs = count(&mut args, "epochs", 10, 1)?;
    let limit_train = count(&mut args, "limit-train-batches", 100, 1)?;
    let batch_size = count(&mut args, "batch-size", 128, 2)?;
    let lr = positive(&mut args, "lr", 1e-4)?;
    let weight_decay = non_negative(&mut args, "weight-decay", 1e-4)?;
    let temperature = positive(&mut args, "temperature", 0.1)?;
    let latent = count(&mut args, "latent", 32, 1)?;
    let seed: u64 = args.get_or("seed", 42)?;
    let probe_every = count(&mut args, "probe-every", 1, 0)?;
    let log_dir: PathBuf = args.get_or("log-dir", PathBuf::from("lightning_logs"))?;
    let checkpoint = args.flag("checkpoint")?;
    let resume: Option<PathBuf> = args.get("resume")?;
    let no_progress = args.flag("no-progress")?;
    let limit_val = count(&mut args, "limit-val-batches", 10, 0)?;
    let probe_max_iter = count(&mut args, "probe-max-iter", 200, 1)?;
    let probe_train_limit = opt_count(&mut args, "probe-train-limit", 10)?;
    let probe_test_limit = opt_count(&mut args, "probe-test-limit", 1)?;
    args.finish()?;
    check_resume(resume.as_deref())?;

    let err = |e: nidl::Error| e.to_string();
    let train_set = Arc::new(
        Mnist::load(&data_dir, Split::Train).map_err(|e| format!("option --data-dir: {e}"))?,
    );
    let test_set = Arc::new(
        Mnist::load(&data_dir, Split::Test).map_err(|e| format!("option --data-dir: {e}"))?,
    );
    let views = || -> nidl::Result<_> { MultiViews::new(mnist_contrast_transforms()?, 2) };
    let train = Loader::new(Arc::clone(&train_set), views().map_err(err)?, batch_size)
        .map_err(err)?
        .shuffle(true)
        .seed(seed)
        .limit_batches(Some(limit_train));
    let val = Loader::new(Arc::clone(&test_set), views().map_err(err)?, batch_size)
        .map_err(err)?
        .seed(seed)
        .limit_batches(Some(limit_val));

    let mut rng = StdRng::seed_from_u64(seed);
    let encoder = LeNet::<f32>::new(latent, &mut rng).map_err(err)?;
    let config = SimClrConfig {
        lr,
        weight_decay,
        temperature,
        max_epochs: epochs,
        ..SimClrConfig::default()
    };
    let mut model = SimClr::new(Box::new(encoder), latent, config, &mut rng).map_err(err)?;

    let version =
        nidl::log::next_version_dir(&log_dir).map_err(|e| format!("option --log-dir: {e}"))?;
    let logger = nidl::log::RunLogger::create(&version).map_err(err)?;
    let tc = TrainerConfig {
        max_epochs: epochs,
        limit_train_batches: Some(limit_train),
        limit_val_batches: Some(limit_val),
        seed,
        checkpoint_dir: checkpoint.then(|| version.join("checkpoints")),
        resume: resume.clone(),
    };
    let mut trainer = Trainer::new(tc)
        .logger(logger)
        .reporter(Box::new(Progress::new(!no_progress)));
    if probe_every > 0 {
        let (ptrain, ptest) = probe_sources(
            Arc::clone(&train_set),
            Arc::clone(&test_set),
            probe_train_limit,
            probe_test_limit,
            mnist_scale_transforms,
        )?;
        let probe = LogisticRegression::new().max_iter(probe_max_iter);
        trainer = trainer.callback(Box::new(
            ClassificationProbing::new(ptrain, ptest, probe).every_n_train_epochs(probe_every),
        ));
    }
    fit_and_report(
        &mut trainer,
        &mut model,
        &train,
        &val,
        resume.as_deref(),
        start,
        &version,
    )
}
