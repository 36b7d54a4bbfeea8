//! The β-VAE estimator through the library: one view per sample through the trainer, exact
//! resume (bit-identical to the uninterrupted run, from a model drawn from another seed),
//! determinism across `RAYON_NUM_THREADS`, what the callbacks see (μ), and typed refusals.

mod common;

use common::Scratch;
use nidl::autograd::Graph;
use nidl::datasets::loader::{Batch, Dataset, Loader};
use nidl::datasets::transforms::{Identity, MultiViews};
use nidl::loss::ReconstructionDistribution;
use nidl::nn::{Flatten, LeNet, Mlp, Module, Sequential};
use nidl::probe::LogisticRegression;
use nidl::train::{
    BetaVae, BetaVaeConfig, Checkpoint, ClassificationProbing, Estimator, SampleShape, Trainer,
    TrainerConfig,
};
use nidl::{Error, Result, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::fs;
use std::sync::Arc;

/// `n` samples of 16 features in [0, 1], two classes (the class shifts the first 8 features).
struct Blobs {
    x: Vec<Vec<f32>>,
    y: Vec<f64>,
}

impl Blobs {
    fn new(n: usize, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for i in 0..n {
            let c = (i % 2) as f32;
            x.push(
                (0..16)
                    .map(|j| {
                        let base = if j < 8 { 0.2 + 0.6 * c } else { 0.5 };
                        base + rng.gen_range(-0.15..0.15)
                    })
                    .collect(),
            );
            y.push(c as f64);
        }
        Blobs { x, y }
    }
}

impl Dataset for Blobs {
    type Sample = Vec<f32>;
    type Label = f64;
    fn len(&self) -> usize {
        self.x.len()
    }
    fn get(&self, i: usize) -> Result<(Vec<f32>, f64)> {
        Ok((self.x[i].clone(), self.y[i]))
    }
}

/// A tabular β-VAE (MLP encoder 16 → 32 → 8, latent 4) drawn from `seed`.
fn tabular_vae(seed: u64, dist: ReconstructionDistribution) -> BetaVae {
    let mut rng = StdRng::seed_from_u64(seed);
    let enc = Mlp::<f32>::new(16, &[32, 8], &mut rng).unwrap();
    let config = BetaVaeConfig {
        latent_dim: 4,
        default_dist: dist,
        lr: 1e-2,
        ..BetaVaeConfig::default()
    };
    BetaVae::new(
        Box::new(enc),
        8,
        SampleShape::Features(16),
        config,
        &mut rng,
    )
    .unwrap()
}

/// Trains `epochs` of `est` (4 batches of 32 per epoch, one view per sample, validation on 64
/// other samples, a logistic probe every epoch, a checkpoint every epoch); returns every
/// `(step, epoch, tag, value)` of `metrics.csv`.
fn run(
    dir: &std::path::Path,
    epochs: usize,
    resume: Option<std::path::PathBuf>,
    est: &mut dyn Estimator,
) -> Vec<(u64, usize, String, f64)> {
    let data = Arc::new(Blobs::new(200, 1));
    let val_data = Arc::new(Blobs::new(64, 2));
    let train = Loader::new(Arc::clone(&data), Identity, 32)
        .unwrap()
        .shuffle(true)
        .seed(42);
    let val = Loader::new(Arc::clone(&val_data), Identity, 32)
        .unwrap()
        .seed(42);
    let version = nidl::log::next_version_dir(dir).unwrap();
    let logger = nidl::log::RunLogger::create(&version).unwrap();
    let cfg = TrainerConfig {
        max_epochs: epochs,
        limit_train_batches: Some(4),
        seed: 42,
        checkpoint_dir: Some(version.join("checkpoints")),
        resume,
        log_every_n_steps: 1,
        ..TrainerConfig::default()
    };
    let probe = ClassificationProbing::new(
        Box::new(Loader::new(Arc::clone(&data), Identity, 64).unwrap()),
        Box::new(Loader::new(val_data, Identity, 64).unwrap()),
        LogisticRegression::new(),
    );
    let mut trainer = Trainer::new(cfg).logger(logger).callback(Box::new(probe));
    trainer.fit(est, &train, Some(&val)).unwrap();
    let text = fs::read_to_string(version.join("metrics.csv")).unwrap();
    common::metrics_rows(&text)
}

#[test]
fn single_view_training_resumes_bit_identically() {
    let s = Scratch::new("vae-resume");
    let dist = ReconstructionDistribution::Normal;
    let full = run(s.path(), 3, None, &mut tabular_vae(5, dist));
    let train: Vec<f64> = full
        .iter()
        .filter(|r| r.2 == "loss/train")
        .map(|r| r.3)
        .collect();
    assert_eq!(train.len(), 12, "4 steps × 3 epochs, every step logged");
    assert!(train.iter().all(|v| v.is_finite()));
    assert!(
        train[11] < train[0],
        "the loss falls over training: {train:?}"
    );
    assert!(full.iter().any(|r| r.2 == "LogisticRegression/accuracy"));
    assert!(full.iter().any(|r| r.2 == "loss/val"));
    let ck = s.join("version_0/checkpoints/epoch=1-step=8.safetensors");
    let c = Checkpoint::load(&ck).unwrap();
    assert_eq!(c.metadata["estimator"], "VAE");
    assert_eq!(c.metadata["beta_vae.steps"], "8");
    for name in [
        "encoder.0.weight",
        "fc_mu.weight",
        "fc_logvar.bias",
        "decoder.3.weight",
    ] {
        assert!(c.get(name).is_some(), "{name} missing");
    }
    // A model drawn from another seed (other weights, other noise key): the checkpoint
    // restores weights, optimizer state and the noise streams, and the third epoch (training
    // noise, validation noise, probe) is reproduced bit for bit.
    let resumed = run(s.path(), 3, Some(ck), &mut tabular_vae(99, dist));
    let tail: Vec<_> = full.into_iter().filter(|r| r.1 == 2).collect();
    assert_eq!(resumed, tail);
}

#[test]
fn every_distribution_trains_on_features() {
    for dist in ReconstructionDistribution::ALL {
        let s = Scratch::new(&format!("vae-{dist}"));
        let rows = run(s.path(), 1, None, &mut tabular_vae(3, dist));
        let train: Vec<f64> = rows
            .iter()
            .filter(|r| r.2 == "loss/train")
            .map(|r| r.3)
            .collect();
        assert_eq!(train.len(), 4);
        assert!(train.iter().all(|v| v.is_finite()), "{dist}: {train:?}");
    }
}

/// A LeNet β-VAE for 1×28×28 images (latent 6, the conv decoder) drawn from `seed`.
fn lenet_vae(seed: u64) -> BetaVae {
    let mut rng = StdRng::seed_from_u64(seed);
    let enc = LeNet::<f32>::new(10, &mut rng).unwrap();
    let config = BetaVaeConfig {
        latent_dim: 6,
        default_dist: ReconstructionDistribution::Bernoulli,
        lr: 1e-3,
        ..BetaVaeConfig::default()
    };
    BetaVae::new(
        Box::new(enc),
        10,
        SampleShape::Image([1, 28, 28]),
        config,
        &mut rng,
    )
    .unwrap()
}

/// A batch of `b` random 1×28×28 images in [0, 1], `n_views` views each.
fn image_batch(b: usize, n_views: usize) -> Batch<f32> {
    let mut rng = StdRng::seed_from_u64(7);
    Batch {
        views: Tensor::rand_uniform(&[n_views * b, 1, 28, 28], 0.0, 1.0, &mut rng),
        n_views,
        labels: Tensor::zeros(&[b]),
        indices: (0..b).collect(),
    }
}

/// Three training steps of the image VAE on `threads` threads: the losses and final weights.
fn steps_on(threads: usize) -> (Vec<f32>, Vec<Vec<f32>>) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let mut est = lenet_vae(1);
        let batch = image_batch(48, 1);
        let mut losses = Vec::new();
        for _ in 0..3 {
            let mut g = Graph::new();
            let loss = est.loss(&mut g, &batch).unwrap();
            losses.push(g.value(loss).item().unwrap());
            let grads = g.backward(loss).unwrap();
            est.apply_gradients(&grads).unwrap();
        }
        let weights = est
            .state()
            .into_iter()
            .map(|(_, t)| t.to_vec().unwrap())
            .collect();
        (losses, weights)
    })
}

#[test]
fn image_steps_are_bit_identical_for_any_thread_count() {
    let one = steps_on(1);
    assert_eq!(one, steps_on(3));
    assert!(one.0.iter().all(|v| v.is_finite()), "{:?}", one.0);
    // Each step draws new noise: the same batch twice at the same weights gives another loss
    // once a step was taken (and the same before it).
    let mut est = lenet_vae(1);
    let batch = image_batch(4, 1);
    let loss = |est: &mut BetaVae| {
        let mut g = Graph::new();
        let l = est.loss(&mut g, &batch).unwrap();
        g.value(l).item().unwrap()
    };
    assert_eq!(loss(&mut est), loss(&mut est));
}

#[test]
fn callbacks_see_the_posterior_mean_and_projection_is_refused() {
    let est = lenet_vae(2);
    let x = image_batch(5, 1).views;
    let embed = || {
        let mut g = Graph::inference();
        let v = g.input(x.clone());
        let z = est.embed(&mut g, v).unwrap();
        g.value(z).to_vec().unwrap()
    };
    let (a, b) = (embed(), embed());
    assert_eq!(a.len(), 5 * 6, "μ is [B, latent_dim]");
    assert_eq!(a, b, "μ, not a sample: no noise");
    let mut g = Graph::inference();
    let v = g.input(x);
    assert!(matches!(
        est.project(&mut g, v),
        Err(Error::InvalidArgument { .. })
    ));
    // After a loss, train_features is that batch's μ.
    let mut est = lenet_vae(2);
    let mut g = Graph::new();
    est.loss(&mut g, &image_batch(5, 1)).unwrap();
    let f = est.train_features().unwrap();
    assert_eq!(g.value(f).shape(), [5, 6]);
}

#[test]
fn two_views_and_bad_settings_are_typed_errors() {
    let mut est = lenet_vae(3);
    let mut g = Graph::new();
    match est.loss(&mut g, &image_batch(4, 2)) {
        Err(Error::InvalidArgument { op, message }) => {
            assert_eq!(op, "BetaVae::loss");
            assert!(message.contains("one view per sample, got 2"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // A two-view loader is what MultiViews builds: refused the same way through the trainer.
    let data = Arc::new(Blobs::new(40, 1));
    let train = Loader::new(data, MultiViews::new(Identity, 2).unwrap(), 20).unwrap();
    let mut trainer = Trainer::new(TrainerConfig {
        max_epochs: 1,
        ..TrainerConfig::default()
    });
    let mut vae = tabular_vae(1, ReconstructionDistribution::Normal);
    assert!(trainer.fit(&mut vae, &train, None).is_err());
    let enc = || -> Box<dyn Module<f32>> {
        let mut rng = StdRng::seed_from_u64(0);
        Box::new(
            Sequential::new()
                .push(Flatten)
                .push(Mlp::<f32>::new(784, &[8], &mut rng).unwrap()),
        )
    };
    let mut rng = StdRng::seed_from_u64(0);
    for config in [
        BetaVaeConfig {
            latent_dim: 0,
            ..BetaVaeConfig::default()
        },
        BetaVaeConfig {
            beta: -1.0,
            ..BetaVaeConfig::default()
        },
        BetaVaeConfig {
            lr: 0.0,
            ..BetaVaeConfig::default()
        },
        BetaVaeConfig {
            weight_decay: f64::NAN,
            ..BetaVaeConfig::default()
        },
    ] {
        assert!(matches!(
            BetaVae::new(enc(), 8, SampleShape::Image([1, 28, 28]), config, &mut rng),
            Err(Error::InvalidArgument { .. })
        ));
    }
    // Images the conv decoder cannot rebuild (30 is not a multiple of 4).
    assert!(matches!(
        BetaVae::new(
            enc(),
            8,
            SampleShape::Image([1, 30, 28]),
            BetaVaeConfig::default(),
            &mut rng
        ),
        Err(Error::InvalidArgument { .. })
    ));
}
