//! DINO through the library on a small tabular problem: the teacher's EMA update and λ's
//! cosine, last-layer freezing, the embedding being the teacher's, the views it needs, the
//! checkpoint's state and an exact resume, and the same run on 1 and 2 rayon threads.

mod common;

use common::Scratch;
use nidl::autograd::Graph;
use nidl::datasets::loader::{Batch, BatchSource, Dataset, Loader};
use nidl::datasets::transforms::{tabular_multi_crop, Identity, MultiViews, Transform};
use nidl::nn::Mlp;
use nidl::probe::LogisticRegression;
use nidl::train::{
    Checkpoint, ClassificationProbing, Dino, DinoConfig, Estimator, Trainer, TrainerConfig,
};
use nidl::{Result, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::fs;
use std::sync::Arc;

/// Two clusters of 16 features; the label is the cluster.
struct Blobs {
    x: Vec<Vec<f32>>,
}

impl Blobs {
    fn new(n: usize, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let x = (0..n)
            .map(|i| {
                let c = (i % 2) as f32 * 2.0;
                (0..16).map(|_| c + rng.gen_range(-0.5..0.5)).collect()
            })
            .collect();
        Blobs { x }
    }
}

impl Dataset for Blobs {
    type Sample = Vec<f32>;
    type Label = f64;
    fn len(&self) -> usize {
        self.x.len()
    }
    fn get(&self, i: usize) -> Result<(Vec<f32>, f64)> {
        Ok((self.x[i].clone(), (i % 2) as f64))
    }
}

/// The local views per sample of these tests.
const N_LOCAL: usize = 2;

/// DINO on an MLP encoder 16 → 32 → 8, head 8 → 16 → 16 → 4 → 32, 3 epochs of 4 steps, with
/// `f` changing nidl's other defaults.
fn dino_with(seed: u64, f: impl FnOnce(&mut DinoConfig)) -> Dino {
    let mut rng = StdRng::seed_from_u64(seed);
    let enc = Mlp::<f32>::new(16, &[32, 8], &mut rng).unwrap();
    let teacher = Mlp::<f32>::new(16, &[32, 8], &mut StdRng::seed_from_u64(1000)).unwrap();
    let mut cfg = DinoConfig {
        proj_hidden_dim: 16,
        proj_bottleneck_dim: 4,
        proj_output_dim: 32,
        num_local_crops: N_LOCAL,
        lr: 1e-2,
        warmup_epochs: 1,
        ..DinoConfig::default()
    };
    f(&mut cfg);
    let mut est = Dino::new(Box::new(enc), Box::new(teacher), 8, cfg, &mut rng).unwrap();
    est.set_run_length(3, 4).unwrap();
    est
}

fn dino(seed: u64) -> Dino {
    dino_with(seed, |_| {})
}

fn loaders() -> (impl BatchSource, impl BatchSource) {
    let views = || tabular_multi_crop(N_LOCAL).unwrap();
    let train = Loader::new(Arc::new(Blobs::new(200, 1)), views(), 32)
        .unwrap()
        .shuffle(true)
        .seed(42);
    let val = Loader::new(Arc::new(Blobs::new(64, 2)), views(), 32)
        .unwrap()
        .seed(42);
    (train, val)
}

fn first_batch() -> Batch<f32> {
    let train = Loader::new(
        Arc::new(Blobs::new(64, 1)),
        tabular_multi_crop(N_LOCAL).unwrap(),
        32,
    )
    .unwrap()
    .seed(42);
    train.batch(0, 0).unwrap()
}

/// One training step; returns the loss.
fn step(est: &mut Dino, batch: &Batch<f32>) -> f32 {
    let mut g = Graph::new();
    let loss = est.loss(&mut g, batch).unwrap();
    let value = g.value(loss).item().unwrap();
    let grads = g.backward(loss).unwrap();
    est.apply_gradients(&grads).unwrap();
    value
}

/// The state entries whose names start with `prefix`, the prefix removed.
fn part(est: &Dino, prefix: &str) -> BTreeMap<String, Tensor<f32>> {
    est.state()
        .into_iter()
        .filter_map(|(n, t)| n.strip_prefix(prefix).map(|r| (r.to_string(), t)))
        .collect()
}

/// Parameters only (no batch-norm running statistics).
fn params(m: BTreeMap<String, Tensor<f32>>) -> BTreeMap<String, Tensor<f32>> {
    m.into_iter()
        .filter(|(n, _)| !n.contains("running_"))
        .collect()
}

#[test]
fn the_teacher_starts_as_the_student_and_follows_it_by_ema() {
    let batch = first_batch();
    let mut est = dino(3);
    let s0 = params(part(&est, "encoder."));
    let h0 = params(part(&est, "head."));
    assert_eq!(
        s0,
        params(part(&est, "teacher_encoder.")),
        "initialize_momentum_params"
    );
    assert_eq!(h0, params(part(&est, "teacher_head.")));
    // The first step's λ is base_lambda; the update is λ·teacher + (1 − λ)·student in f32
    // (torch's `cur_lambda * mp.data + (1 - cur_lambda) * op.data`), on the updated student.
    assert_eq!(est.momentum(), 0.996);
    step(&mut est, &batch);
    let (l, one_minus) = (0.996f64 as f32, (1.0 - 0.996f64) as f32);
    for (prefix, start) in [("encoder.", &s0), ("head.", &h0)] {
        let student = params(part(&est, prefix));
        let teacher = params(part(&est, &format!("teacher_{prefix}")));
        for (name, t0) in start {
            let s1 = &student[name];
            if name != "last_layer.weight_g" {
                // (The gains are a fixed buffer with norm_last_layer; the EMA leaves them.)
                assert_ne!(s1, t0, "{prefix}{name}: the student moved");
            }
            let want: Vec<f32> = t0
                .data()
                .unwrap()
                .iter()
                .zip(s1.data().unwrap())
                .map(|(&t, &s)| l * t + one_minus * s)
                .collect();
            assert_eq!(
                teacher[name].data().unwrap(),
                &want[..],
                "teacher_{prefix}{name}"
            );
        }
    }
}

#[test]
fn lambda_follows_nidls_cosine_over_the_runs_steps() {
    let batch = first_batch();
    let mut est = dino(4);
    // 12 steps: λ_t = 1 − (1 − 0.996)·(cos(π t / 12) + 1) / 2.
    let mut seen = Vec::new();
    for _ in 0..12 {
        seen.push(est.momentum());
        step(&mut est, &batch);
    }
    for (t, l) in seen.iter().enumerate() {
        let want =
            1.0 - (1.0 - 0.996) * ((std::f64::consts::PI * t as f64 / 12.0).cos() + 1.0) / 2.0;
        assert!((l - want).abs() < 1e-15, "step {t}: {l} vs {want}");
    }
    assert_eq!(seen[0], 0.996);
    assert!((seen[6] - 0.998).abs() < 1e-15, "half way: {}", seen[6]);
    assert!(seen.windows(2).all(|w| w[1] > w[0]));
    // After the run λ reaches final_lambda: the teacher no longer moves.
    assert_eq!(est.momentum(), 1.0);
}

#[test]
fn the_last_layer_is_frozen_for_freeze_last_layer_epochs() {
    let batch = first_batch();
    let mut est = dino_with(5, |c| {
        c.freeze_last_layer = 1;
        c.proj_norm_last_layer = false;
    });
    let start = part(&est, "head.");
    est.on_epoch_start(0).unwrap();
    step(&mut est, &batch);
    step(&mut est, &batch);
    let after = part(&est, "head.");
    for name in ["last_layer.weight_v", "last_layer.weight_g"] {
        assert_eq!(after[name], start[name], "{name} frozen in epoch 0");
    }
    assert_ne!(after["layers.0.weight"], start["layers.0.weight"]);
    assert!(
        part(&est, "optimizer_last_layer.").is_empty(),
        "its AdamW never stepped"
    );
    est.on_epoch_start(1).unwrap();
    step(&mut est, &batch);
    let later = part(&est, "head.");
    for name in ["last_layer.weight_v", "last_layer.weight_g"] {
        assert_ne!(later[name], start[name], "{name} trained from epoch 1");
    }
    // Its own step count starts then, as PyTorch's per-parameter `step` does.
    let opt = part(&est, "optimizer_last_layer.");
    assert_eq!(opt["step"].item().unwrap(), 1.0);
    assert_eq!(part(&est, "optimizer.")["step"].item().unwrap(), 3.0);
}

#[test]
fn with_norm_last_layer_the_gains_stay_one_and_get_no_gradient() {
    let batch = first_batch();
    let mut est = dino(6);
    step(&mut est, &batch);
    let mut g = Graph::new();
    let loss = est.loss(&mut g, &batch).unwrap();
    let grads = g.backward(loss).unwrap();
    let mut seen = BTreeMap::new();
    est.visit_trained_tensors(&grads, &mut |n, value, grad| {
        seen.insert(n.to_string(), (value.clone(), grad.is_some()));
    });
    let (gain, has_grad) = &seen["head.last_layer.weight_g"];
    assert!(gain.data().unwrap().iter().all(|&v| v == 1.0), "{gain:?}");
    assert!(
        !has_grad,
        "weight_g is a buffer (nidl: requires_grad = False)"
    );
    assert!(seen["head.last_layer.weight_v"].1);
    assert!(seen["encoder.0.weight"].1);
    assert!(
        !seen["teacher_encoder.0.weight"].1,
        "the teacher gets no gradient"
    );
    assert!(seen.contains_key("loss.center"));
}

#[test]
fn embeddings_are_the_teachers_and_views_are_checked() {
    let batch = first_batch();
    let mut est = dino(7);
    for _ in 0..3 {
        step(&mut est, &batch);
    }
    let x = batch.view(0).unwrap();
    let embed = |est: &Dino| {
        let mut g = Graph::inference();
        let v = g.input(x.clone());
        let h = est.embed(&mut g, v).unwrap();
        g.value(h).clone()
    };
    // The teacher encoder alone, rebuilt from the state: the same embedding.
    let mut teacher = Mlp::<f32>::new(16, &[32, 8], &mut StdRng::seed_from_u64(0)).unwrap();
    let entries: Vec<(String, Tensor<f32>)> = part(&est, "teacher_encoder.").into_iter().collect();
    nidl::nn::Module::load_state_dict(&mut teacher, &entries).unwrap();
    let mut g = Graph::inference();
    let v = g.input(x.clone());
    let h = nidl::nn::Module::forward(&teacher, &mut g, v).unwrap();
    assert_eq!(&embed(&est), g.value(h));
    // A two-view batch is refused, naming the views DINO needs.
    let two = Loader::new(
        Arc::new(Blobs::new(8, 1)),
        MultiViews::new(Identity, 2).unwrap(),
        8,
    )
    .unwrap()
    .batch(0, 0)
    .unwrap();
    let e = est.loss(&mut Graph::new(), &two).unwrap_err().to_string();
    assert!(
        e.contains("num_local_crops = 2") && e.contains("4 views"),
        "{e}"
    );
}

/// Trains `est` for `epochs` (4 steps each) with a logistic probe; returns the metrics.csv
/// text.
fn run(dir: &std::path::Path, resume: Option<std::path::PathBuf>, est: &mut Dino) -> String {
    let (train, val) = loaders();
    let probe_tr = Loader::new(Arc::new(Blobs::new(200, 1)), Identity, 64).unwrap();
    let probe_te = Loader::new(Arc::new(Blobs::new(64, 3)), Identity, 64).unwrap();
    let version = nidl::log::next_version_dir(dir).unwrap();
    let logger = nidl::log::RunLogger::create(&version).unwrap();
    let cfg = TrainerConfig {
        max_epochs: 3,
        limit_train_batches: Some(4),
        seed: 42,
        checkpoint_dir: Some(version.join("checkpoints")),
        resume,
        log_every_n_steps: 1,
        ..TrainerConfig::default()
    };
    let mut trainer =
        Trainer::new(cfg)
            .logger(logger)
            .callback(Box::new(ClassificationProbing::new(
                Box::new(probe_tr),
                Box::new(probe_te),
                LogisticRegression::new(),
            )));
    trainer.fit(est, &train, Some(&val)).unwrap();
    fs::read_to_string(version.join("metrics.csv")).unwrap()
}

/// The rows of epoch `epoch` of a metrics.csv (`step,epoch,tag,value`).
fn epoch_rows(csv: &str, epoch: usize) -> Vec<(u64, usize, String, f64)> {
    common::metrics_rows(csv)
        .into_iter()
        .filter(|r| r.1 == epoch)
        .collect()
}

#[test]
fn resume_is_bit_identical_and_runs_do_not_depend_on_the_thread_count() {
    let s = Scratch::new("dino-resume");
    let full = run(s.path(), None, &mut dino(5));
    let ck = s.join("version_0/checkpoints/epoch=1-step=8.safetensors");
    let c = Checkpoint::load(&ck).unwrap();
    assert_eq!(c.metadata["estimator"], "DINO");
    assert_eq!(c.metadata["dino.steps"], "8");
    for name in [
        "encoder.0.weight",
        "head.last_layer.weight_v",
        "teacher_encoder.0.weight",
        "teacher_head.layers.1.running_mean",
        "optimizer.step",
        "loss.center",
    ] {
        assert!(c.get(name).is_some(), "{name} missing from the checkpoint");
    }
    // Another initialisation: the checkpoint restores student, teacher, optimizers, centre and
    // the step count (schedule, λ); the third epoch is reproduced bit for bit.
    let resumed = run(s.path(), Some(ck), &mut dino(99));
    assert!(!epoch_rows(&full, 2).is_empty());
    assert_eq!(epoch_rows(&resumed, 2), epoch_rows(&full, 2));
    // The probe moved, so the comparison means something.
    let acc: Vec<f64> = common::metrics_rows(&full)
        .into_iter()
        .filter(|r| r.2 == "LogisticRegression/accuracy")
        .map(|r| r.3)
        .collect();
    assert_eq!(acc.len(), 3);
    // One thread and two threads: the same run.
    let on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| run(s.path(), None, &mut dino(5)))
    };
    assert_eq!(on(1), full, "1 thread");
    assert_eq!(on(2), full, "2 threads");
}

#[test]
fn the_multi_crop_batch_is_view_major_globals_first() {
    let crops = tabular_multi_crop(N_LOCAL).unwrap();
    let batch = first_batch();
    assert_eq!(batch.n_views, 2 + N_LOCAL);
    assert_eq!(batch.views.shape(), &[(2 + N_LOCAL) * 32, 16]);
    // Sample 0's views, drawn from its own stream, are rows 0, 32, 64, 96 in that order.
    let data = Blobs::new(64, 1);
    let mut rng = nidl::datasets::loader::sample_rng(42, 0, batch.indices[0] as u64);
    let views = crops
        .apply(data.get(batch.indices[0]).unwrap().0, &mut rng)
        .unwrap();
    for (v, want) in views.0.iter().enumerate() {
        let row = batch.views.slice(0, v * 32, v * 32 + 1).unwrap();
        assert_eq!(row.data().unwrap(), &want[..], "view {v}");
    }
}
