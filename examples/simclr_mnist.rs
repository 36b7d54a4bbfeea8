//! The seed's first scenario (nidl's `model_probing.py`, MNIST part) written against the
//! library: SimCLR on MNIST with our own LeNet-like encoder, a logistic-regression probe after
//! every epoch, and the probe's metrics read back from the run's `metrics.csv`.
//!
//! `cargo run --release --example simclr_mnist` trains as the seed does (10 epochs of 100
//! batches, logs in `lightning_logs/`); `-- --quick`: 1 epoch of 3 batches (what CI runs).

use nidl::autograd::{Graph, Var};
use nidl::datasets::loader::{Loader, Take};
use nidl::datasets::mnist::{default_dir, Mnist, MnistSplit};
use nidl::datasets::transforms::{GaussianBlur, MultiViews, Normalize, RandomResizedCrop};
use nidl::datasets::transforms::{ToTensor, TransformExt};
use nidl::log::Metrics;
use nidl::nn::{Conv2d, Linear, Module};
use nidl::probe::LogisticRegression;
use nidl::rand::{rngs::StdRng, SeedableRng};
use nidl::tensor::Conv2dGeometry;
use nidl::train::{ClassificationProbing, ConsoleReporter, SimClr, SimClrConfig};
use nidl::train::{Trainer, TrainerConfig};
use std::sync::Arc;

/// The seed's `LeNetEncoder`: a struct, a `forward`, and one line naming its parameters.
struct LeNetEncoder {
    conv1: Conv2d<f32>,
    conv2: Conv2d<f32>,
    fc1: Linear<f32>,
    fc2: Linear<f32>,
    fc3: Linear<f32>,
}

impl Module<f32> for LeNetEncoder {
    fn forward(&self, g: &mut Graph<f32>, x: Var) -> nidl::Result<Var> {
        let x = self.conv1.forward(g, x)?;
        let x = g.relu(x)?;
        let x = g.avg_pool2d(x, 2)?;
        let x = self.conv2.forward(g, x)?;
        let x = g.relu(x)?;
        let x = g.avg_pool2d(x, 2)?;
        let x = g.flatten(x)?;
        let x = self.fc1.forward(g, x)?;
        let x = g.relu(x)?;
        let x = self.fc2.forward(g, x)?;
        let x = g.relu(x)?;
        self.fc3.forward(g, x)
    }
    nidl::params!(f32; conv1, conv2, fc1, fc2, fc3);
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::args().any(|a| a == "--quick");
    let (batch_size, latent_size) = (128, 32);
    let (epochs, batches, probe_samples) = [(10, 100, usize::MAX), (1, 3, 1000)][quick as usize];
    let train_xy = Arc::new(Mnist::load(default_dir(), MnistSplit::Train)?);
    let test_xy = Arc::new(Mnist::load(default_dir(), MnistSplit::Test)?);

    // Probing sets: ToTensor → Normalize((0.5,), (0.5,)). Views: the seed's contrast transforms.
    let scale = || -> nidl::Result<_> { Ok(ToTensor.then(Normalize::new(&[0.5], &[0.5])?)) };
    let contrast = || -> nidl::Result<_> {
        let crop_blur = RandomResizedCrop::new(28)?.then(GaussianBlur::new(3)?);
        Ok(MultiViews::new(crop_blur.then(scale()?), 2)?)
    };
    let take = |d: &Arc<Mnist>| Arc::new(Take::new(Arc::clone(d), probe_samples));
    let train_xy_loader = Loader::new(take(&train_xy), scale()?, batch_size)?;
    let test_xy_loader = Loader::new(take(&test_xy), scale()?, batch_size)?;
    let train_ssl_loader = Loader::new(train_xy, contrast()?, batch_size)?.shuffle(true);
    let test_ssl_loader = Loader::new(test_xy, contrast()?, batch_size)?;

    let callback = ClassificationProbing::new(
        Box::new(train_xy_loader),
        Box::new(test_xy_loader),
        LogisticRegression::new().max_iter(200),
    )
    .every_n_train_epochs(1);

    let mut rng = StdRng::seed_from_u64(42);
    let geometry = |padding| Conv2dGeometry { stride: 1, padding };
    let encoder = LeNetEncoder {
        conv1: Conv2d::new(1, 6, 5, geometry(2), &mut rng)?,
        conv2: Conv2d::new(6, 16, 5, geometry(0), &mut rng)?,
        fc1: Linear::new(16 * 5 * 5, 120, true, &mut rng),
        fc2: Linear::new(120, 84, true, &mut rng),
        fc3: Linear::new(84, latent_size, true, &mut rng),
    };
    // The seed's values (nidl 0.0.1's SimCLR has no defaults for them): temperature 0.1,
    // hidden_dims [64, 32], lr = wd = 1e-4.
    let config = SimClrConfig::default();
    let mut model = SimClr::new(Box::new(encoder), latent_size, config, &mut rng)?;
    let mut trainer = Trainer::new(TrainerConfig {
        max_epochs: epochs,
        limit_train_batches: Some(batches),
        limit_val_batches: quick.then_some(2),
        seed: 42, // the loaders take the trainer's seed
        ..TrainerConfig::default()
    })
    .callback(Box::new(callback))
    .log_dir("lightning_logs", false)
    .reporter(Box::new(ConsoleReporter));
    let report = trainer.fit(&mut model, &train_ssl_loader, Some(&test_ssl_loader))?;

    // The probe's scores, read back from the run's metrics.csv.
    let log_dir = report.log_dir.ok_or("the run has a log folder")?;
    let metrics = Metrics::read(log_dir.join("metrics.csv"))?;
    println!("metrics of {} (step: value)", log_dir.display());
    for m in
        "accuracy balanced_accuracy f1_macro precision_macro recall_macro f1_weighted".split(' ')
    {
        let rows = metrics.tag(&format!("LogisticRegression/{m}"));
        let text: String = rows
            .iter()
            .map(|(s, _, v)| format!("  {s}: {v:.4}"))
            .collect();
        println!("{m:>18}{text}");
        if rows.is_empty() {
            return Err(format!("no LogisticRegression/{m} in metrics.csv").into());
        }
    }
    Ok(())
}
