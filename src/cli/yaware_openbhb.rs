//! `nidl yaware-openbhb`: the seed's second scenario. y-Aware contrastive learning (MLP encoder
//! 284 → 64 → 32, head 32 → 64 → 32, Gaussian kernel with σ² bandwidth on age, Adam) on OpenBHB's
//! `vbm_roi` features with random-mask + Gaussian-noise views, probed after every epoch by
//! Ridge on age (task 0) and LogisticRegression(max_iter 200) on sex (task 1).
//!
//! Without `--data-dir` it uses a SYNTHETIC OpenBHB (seed 42), generated once into the cache
//! folder (`nidl::datasets::openbhb::synthetic_cache_dir`).

use super::args::Args;
use super::progress::{count, non_negative, opt_count, positive, Progress};
use super::train_common::{check_resume, fit_and_report, probe_sources};
use nidl::datasets::loader::Loader;
use nidl::datasets::openbhb::{self, Modality, OpenBhb, Split, SyntheticConfig, Target};
use nidl::datasets::transforms::{GaussianNoise, Identity, MultiViews, RandomMask, TransformExt};
use nidl::loss::Bandwidth;
use nidl::nn::Mlp;
use nidl::probe::{LogisticRegression, MultiTask, Ridge, TaskProbe};
use nidl::train::{MultitaskProbing, Trainer, TrainerConfig, YAware, YAwareConfig};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Usage of this subcommand.
pub const USAGE: &str = "usage: nidl yaware-openbhb [--data-dir DIR | synthetic default] [--epochs 10] \
[--sigma 4] [--lr 1e-5] [--seed 42] [--batch-size 128] [--temperature 0.1] [--weight-decay 5e-5] \
[--latent 32] [--mask-prob 0.8] [--noise-std 0.5] [--limit-train-batches N] [--limit-val-batches N] \
[--probe-every 1] [--probe-max-iter 200] [--probe-train-limit N] [--probe-test-limit N] \
[--log-dir lightning_logs] [--checkpoint] [--resume PATH] [--no-progress]\n\n\
Trains y-Aware contrastive learning on OpenBHB vbm_roi features (age as the auxiliary variable,\n\
bandwidth sigma²) and probes the encoder with Ridge on age (task0) and a logistic regression on\n\
sex (task1). Without --data-dir, a SYNTHETIC OpenBHB is generated once into the cache folder.";

/// Runs `nidl yaware-openbhb`; `Err` is the one-line cause.
pub fn run(mut args: Args) -> Result<(), String> {
    if args.flag("help")? {
        println!("{USAGE}");
        return Ok(());
    }
    let start = Instant::now();
    let data_dir: Option<PathBuf> = args.get("data-dir")?;
    let epochs = count(&mut args, "epochs", 10, 1)?;
    let sigma = positive(&mut args, "sigma", 4.0)?;
    let lr = positive(&mut args, "lr", 1e-5)?;
    let seed: u64 = args.get_or("seed", 42)?;
    let batch_size = count(&mut args, "batch-size", 128, 2)?;
    let temperature = positive(&mut args, "temperature", 0.1)?;
    let weight_decay = non_negative(&mut args, "weight-decay", 5e-5)?;
    let latent = count(&mut args, "latent", 32, 1)?;
    let mask_prob: f64 = args.get_or("mask-prob", 0.8)?;
    let noise_std: f64 = args.get_or("noise-std", 0.5)?;
    let limit_train = opt_count(&mut args, "limit-train-batches", 1)?;
    let limit_val = opt_count(&mut args, "limit-val-batches", 0)?;
    let probe_every = count(&mut args, "probe-every", 1, 0)?;
    let probe_max_iter = count(&mut args, "probe-max-iter", 200, 1)?;
    let probe_train_limit = opt_count(&mut args, "probe-train-limit", 10)?;
    let probe_test_limit = opt_count(&mut args, "probe-test-limit", 1)?;
    let log_dir: PathBuf = args.get_or("log-dir", PathBuf::from("lightning_logs"))?;
    let checkpoint = args.flag("checkpoint")?;
    let resume: Option<PathBuf> = args.get("resume")?;
    let no_progress = args.flag("no-progress")?;
    args.finish()?;
    check_resume(resume.as_deref())?;
    let mask = RandomMask::new(mask_prob).map_err(|e| format!("option --mask-prob: {e}"))?;
    let noise = GaussianNoise::new(noise_std).map_err(|e| format!("option --noise-std: {e}"))?;
    let err = |e: nidl::Error| e.to_string();

    let root = match data_dir {
        Some(d) => d,
        None => {
            let cache = openbhb::synthetic_cache_dir();
            let root = openbhb::synthetic::synthetic_root(&cache, 42);
            if !openbhb::synthetic::is_generated(&root, &SyntheticConfig::with_seed(42)) {
                eprintln!("generating a SYNTHETIC OpenBHB (seed 42) into {} (once; later runs reuse it)...", root.display());
            }
            let root = openbhb::ensure_synthetic(&cache, 42).map_err(err)?;
            println!(
                "data: SYNTHETIC OpenBHB at {} (use --data-dir for real data)",
                root.display()
            );
            root
        }
    };
    let load = |targets: &[Target], split| {
        OpenBhb::new(&root, Modality::VbmRoi, targets, split)
            .map_err(|e| format!("option --data-dir: {e}"))
    };
    let ssl_train = Arc::new(load(&[Target::Age], Split::Train)?);
    let ssl_val = Arc::new(load(&[Target::Age], Split::Val)?);
    let views = MultiViews::new(mask.then(noise), 2).map_err(err)?;
    let train = Loader::new(ssl_train, views.clone(), batch_size)
        .map_err(err)?
        .shuffle(true)
        .seed(seed)
        .limit_batches(limit_train);
    let val = Loader::new(ssl_val, views, batch_size)
        .map_err(err)?
        .seed(seed)
        .limit_batches(limit_val);

    let mut rng = StdRng::seed_from_u64(seed);
    let d_in = Modality::VbmRoi.n_features();
    let encoder = Mlp::<f32>::new(d_in, &[2 * latent, latent], &mut rng).map_err(err)?;
    let config = YAwareConfig {
        head: (latent, 2 * latent, latent),
        bandwidth: Bandwidth::Scalar(sigma * sigma),
        temperature,
        lr,
        weight_decay,
        ..YAwareConfig::default()
    };
    let mut model = YAware::new(Box::new(encoder), config, &mut rng).map_err(err)?;

    let version =
        nidl::log::next_version_dir(&log_dir).map_err(|e| format!("option --log-dir: {e}"))?;
    let logger = nidl::log::RunLogger::create(&version).map_err(err)?;
    let tc = TrainerConfig {
        max_epochs: epochs,
        limit_train_batches: limit_train,
        limit_val_batches: limit_val,
        seed,
        checkpoint_dir: checkpoint.then(|| version.join("checkpoints")),
        resume: resume.clone(),
    };
    let mut trainer = Trainer::new(tc)
        .logger(logger)
        .reporter(Box::new(Progress::new(!no_progress)));
    if probe_every > 0 {
        let xy_train = Arc::new(load(&[Target::Age, Target::Sex], Split::Train)?);
        let xy_test = Arc::new(load(&[Target::Age, Target::Sex], Split::Val)?);
        let (ptrain, ptest) = probe_sources(
            xy_train,
            xy_test,
            probe_train_limit,
            probe_test_limit,
            || Ok(Identity),
        )?;
        let probes = MultiTask::new(vec![
            TaskProbe::Ridge(Ridge::new()),
            TaskProbe::LogisticRegression(LogisticRegression::new().max_iter(probe_max_iter)),
        ])
        .map_err(err)?;
        trainer = trainer.callback(Box::new(
            MultitaskProbing::new(ptrain, ptest, probes).every_n_train_epochs(probe_every),
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
