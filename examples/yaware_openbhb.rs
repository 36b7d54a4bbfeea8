//! The seed's second scenario (nidl's `model_probing.py`, OpenBHB part) written against the
//! library: y-Aware contrastive learning on OpenBHB's ROI features with an MLP encoder, probed
//! by a ridge regression of age and a logistic regression of sex after every epoch, the probes'
//! metrics read back from the run's `metrics.csv`.
//!
//! The data is a synthetic OpenBHB (the crate's generator, into a temporary folder): real
//! OpenBHB cannot be downloaded here. `cargo run --release --example yaware_openbhb` trains 10
//! epochs on OpenBHB's sizes; `-- --quick`: 1 epoch of 3 batches on a small set (what CI runs).

use nidl::datasets::loader::Loader;
use nidl::datasets::openbhb::synthetic::{generate, SyntheticConfig};
use nidl::datasets::openbhb::{Modality, OpenBhb, OpenBhbSplit, Target};
use nidl::datasets::transforms::{FlattenSample, GaussianNoise, MultiViews, RandomMask};
use nidl::datasets::transforms::{Identity, TransformExt};
use nidl::log::Metrics;
use nidl::loss::Bandwidth;
use nidl::nn::Mlp;
use nidl::probe::{LogisticRegression, MultiTask, Ridge, TaskProbe};
use nidl::rand::{rngs::StdRng, SeedableRng};
use nidl::train::{ConsoleReporter, MultitaskProbing, Trainer, TrainerConfig};
use nidl::train::{YAware, YAwareConfig};
use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::args().any(|a| a == "--quick");
    let (batch_size, latent_size) = (128, 32);
    let (epochs, batches) = [(10, None), (1, Some(3))][quick as usize];
    let data_dir = std::env::temp_dir().join(format!("nidl-openbhb-{}", std::process::id()));
    let mut synthetic = SyntheticConfig::with_seed(42); // OpenBHB's sizes
    if quick {
        (
            synthetic.n_train,
            synthetic.n_internal,
            synthetic.n_external,
        ) = (512, 64, 64);
    }
    generate(&data_dir, &synthetic)?;

    // Probing sets: the ROI features with age and sex (female = 1) as targets.
    let targets = [Target::Age, Target::Sex];
    let openbhb = |split, targets: &[Target]| -> nidl::Result<Arc<OpenBhb>> {
        let set = OpenBhb::new(&data_dir, Modality::VbmRoi, targets, split)?;
        Ok(Arc::new(set))
    };
    let train_xy = openbhb(OpenBhbSplit::Train, &targets)?;
    let test_xy = openbhb(OpenBhbSplit::Val, &targets)?;
    let train_xy_loader = Loader::new(train_xy, Identity, batch_size)?;
    let test_xy_loader = Loader::new(test_xy, Identity, batch_size)?;

    // Views: flatten, mask each feature with probability 0.8, add Gaussian noise (σ 0.5) half
    // of the time; y-Aware's auxiliary variable is age.
    let (mask_prob, noise_std) = (0.8, 0.5);
    let contrast = FlattenSample
        .then(RandomMask::new(mask_prob)?)
        .then(GaussianNoise::new(noise_std)?);
    let views = MultiViews::new(contrast, 2)?;
    let ssl_dataset = openbhb(OpenBhbSplit::Train, &[Target::Age])?;
    let test_ssl_dataset = openbhb(OpenBhbSplit::Val, &[Target::Age])?;
    let train_ssl_loader = Loader::new(ssl_dataset, views.clone(), batch_size)?.shuffle(true);
    let test_ssl_loader = Loader::new(test_ssl_dataset, views, batch_size)?;

    let probes = MultiTask::new(vec![
        TaskProbe::Ridge(Ridge::new()),
        TaskProbe::LogisticRegression(LogisticRegression::new().max_iter(200)),
    ])?;
    let callback =
        MultitaskProbing::new(Box::new(train_xy_loader), Box::new(test_xy_loader), probes);

    let mut rng = StdRng::seed_from_u64(42);
    let encoder = Mlp::<f32>::new(Modality::VbmRoi.n_features(), &[64, latent_size], &mut rng)?;
    let sigma: f64 = 4.0;
    let config = YAwareConfig {
        head: (latent_size, 2 * latent_size, latent_size),
        bandwidth: Bandwidth::Scalar(sigma.powi(2)),
        temperature: 0.1,
        lr: 1e-5,
        ..YAwareConfig::default() // nidl's Adam betas and weight decay, as the seed
    };
    let mut model = YAware::new(Box::new(encoder), config, &mut rng)?;
    let mut trainer = Trainer::new(TrainerConfig {
        max_epochs: epochs,
        limit_train_batches: batches,
        seed: 42, // the loaders take the trainer's seed
        ..TrainerConfig::default()
    })
    .callback(Box::new(callback))
    .log_dir("lightning_logs", false)
    .reporter(Box::new(ConsoleReporter));
    let report = trainer.fit(&mut model, &train_ssl_loader, Some(&test_ssl_loader));
    std::fs::remove_dir_all(&data_dir)?;

    // The probes' scores, read back from the run's metrics.csv: task0 is age, task1 sex.
    let log_dir = report?.log_dir.ok_or("the run has a log folder")?;
    let metrics = Metrics::read(log_dir.join("metrics.csv"))?;
    println!("metrics of {} (step: value)", log_dir.display());
    let age = "task0/R2 task0/PCC task0/EVar";
    let sex = "task1/accuracy task1/balanced_accuracy task1/f1_macro task1/precision_macro";
    for tag in format!("{age} {sex} task1/recall_macro task1/f1_weighted").split(' ') {
        let rows = metrics.tag(tag);
        let text: String = rows
            .iter()
            .map(|(s, _, v)| format!("  {s}: {v:.4}"))
            .collect();
        println!("{tag:>24}{text}");
        if rows.is_empty() {
            return Err(format!("no {tag} in metrics.csv").into());
        }
    }
    Ok(())
}
