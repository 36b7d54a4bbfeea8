//! The trainer through the library: a small tabular SimCLR / y-Aware / Barlow Twins run, NaN
//! losses stopping the run with the last checkpoint intact, resume, checkpoint files read
//! robustly, Barlow Twins' per-step schedule and weight-decay exclusion, and the probing
//! callbacks' schedules (train start, validation epochs, train epochs) and shared embeddings.

mod common;

use common::Scratch;
use nidl::autograd::{Grads, Graph, Var};
use nidl::datasets::loader::{Batch, BatchSource, Dataset, Loader};
use nidl::datasets::transforms::{GaussianNoise, Identity, MultiViews, RandomMask, TransformExt};
use nidl::nn::Mlp;
use nidl::optim::{LinearWarmupCosine, LrSchedule};
use nidl::probe::{
    KNeighborsClassifier, KNeighborsRegressor, LogisticRegression, MultiTask, Ridge, TaskProbe,
};
use nidl::tensor::Device;
use nidl::train::callbacks::NoProgress;
use nidl::train::{
    BarlowTwins, BarlowTwinsConfig, Checkpoint, ClassificationProbing, Estimator, MultitaskProbing,
    ProbeSchedule, ProbingSets, RegressionProbing, SimClr, SimClrConfig, StoredTensor, Trainer,
    TrainerConfig, YAware, YAwareConfig,
};
use nidl::train::{Dcl, DclConfig};
use nidl::{Result, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::fs;
use std::sync::Arc;

/// 200 samples of 16 features in two clusters; labels `[class, value]`.
struct Blobs {
    x: Vec<Vec<f32>>,
    y: Vec<[f64; 2]>,
}

impl Blobs {
    fn new(n: usize, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let c = (i % 2) as f64;
            let v: f64 = rng.gen_range(0.0..10.0);
            x.push(
                (0..16)
                    .map(|j| {
                        (if j < 8 { c * 2.0 } else { v / 5.0 }) as f32 + rng.gen_range(-0.5..0.5)
                    })
                    .collect(),
            );
            y.push([c, v]);
        }
        Blobs { x, y }
    }
}

impl Dataset for Blobs {
    type Sample = Vec<f32>;
    type Label = [f64; 2];
    fn len(&self) -> usize {
        self.x.len()
    }
    fn get(&self, i: usize) -> Result<(Vec<f32>, [f64; 2])> {
        Ok((self.x[i].clone(), self.y[i]))
    }
}

fn views() -> impl nidl::datasets::transforms::Transform<
    Vec<f32>,
    Output = nidl::datasets::transforms::Views<Vec<f32>>,
> + Clone {
    MultiViews::new(
        RandomMask::new(0.2)
            .unwrap()
            .then(GaussianNoise::new(0.1).unwrap()),
        2,
    )
    .unwrap()
}

fn simclr(seed: u64) -> SimClr {
    let mut rng = StdRng::seed_from_u64(seed);
    let enc = Mlp::<f32>::new(16, &[32, 8], &mut rng).unwrap();
    let cfg = SimClrConfig {
        lr: 1e-2,
        ..SimClrConfig::default()
    };
    SimClr::new(Box::new(enc), 8, cfg, &mut rng).unwrap()
}

/// The blobs with their class as the one label: what a classification probe takes.
struct Classes(Arc<Blobs>);

impl Dataset for Classes {
    type Sample = Vec<f32>;
    type Label = f64;
    fn len(&self) -> usize {
        self.0.len()
    }
    fn get(&self, i: usize) -> Result<(Vec<f32>, f64)> {
        let (x, [class, _]) = self.0.get(i)?;
        Ok((x, class))
    }
}

/// A probing loader over the classes of `n` blobs drawn from `seed`.
fn class_loader(n: usize, seed: u64) -> Loader<Classes, Identity> {
    Loader::new(
        Arc::new(Classes(Arc::new(Blobs::new(n, seed)))),
        Identity,
        64,
    )
    .unwrap()
}

/// Training loaders on `data` (shuffled, batches of 32) and validation loaders on 64 other blobs.
fn blob_loaders(data: &Arc<Blobs>) -> (impl BatchSource, impl BatchSource) {
    let train = Loader::new(Arc::clone(data), views(), 32)
        .unwrap()
        .shuffle(true)
        .seed(42);
    let val = Loader::new(Arc::new(Blobs::new(64, 2)), views(), 32)
        .unwrap()
        .seed(42);
    (train, val)
}

/// Runs `epochs` of `est` with a probe, `loss/train` logged every `log_every` steps; returns
/// every scalar logged.
fn run(
    dir: &std::path::Path,
    (epochs, log_every): (usize, usize),
    resume: Option<std::path::PathBuf>,
    est: &mut dyn Estimator,
) -> Vec<nidl::log::Scalar> {
    let data = Arc::new(Blobs::new(200, 1));
    let (train, val) = blob_loaders(&data);
    let probe_tr = Loader::new(Arc::clone(&data), Identity, 64).unwrap();
    let probe_te = Loader::new(Arc::new(Blobs::new(64, 3)), Identity, 64).unwrap();
    let version = nidl::log::next_version_dir(dir).unwrap();
    let logger = nidl::log::RunLogger::create(&version).unwrap();
    let cfg = TrainerConfig {
        max_epochs: epochs,
        limit_train_batches: Some(4),
        limit_val_batches: None,
        seed: 42,
        checkpoint_dir: Some(version.join("checkpoints")),
        resume,
        log_every_n_steps: log_every,
        ..TrainerConfig::default()
    };
    let probes = MultiTask::new(vec![
        TaskProbe::LogisticRegression(LogisticRegression::new()),
        TaskProbe::Ridge(Ridge::new()),
    ])
    .unwrap();
    let mut trainer = Trainer::new(cfg)
        .logger(logger)
        .callback(Box::new(MultitaskProbing::new(
            Box::new(probe_tr.clone()),
            Box::new(probe_te.clone()),
            probes,
        )));
    let report = trainer.fit(est, &train, Some(&val)).unwrap();
    assert!(report.plot.unwrap().is_file());
    let text = fs::read_to_string(version.join("metrics.csv")).unwrap();
    common::metrics_rows(&text)
        .into_iter()
        .map(|(step, epoch, tag, value)| nidl::log::Scalar {
            step,
            epoch,
            tag,
            value,
        })
        .collect()
}

#[test]
fn resume_is_bit_identical_and_probes_log_task_tags() {
    let s = Scratch::new("resume");
    let full = run(s.path(), (3, 1), None, &mut simclr(5));
    assert!(full.iter().any(|x| x.tag == "task0/accuracy"));
    assert!(full.iter().any(|x| x.tag == "task1/R2"));
    assert_eq!(full.iter().filter(|x| x.tag == "loss/train").count(), 12);
    let ck = s.join("version_0/checkpoints/epoch=1-step=8.safetensors");
    // A freshly initialised model with another init seed: the checkpoint overwrites it all.
    let resumed = run(s.path(), (3, 1), Some(ck.clone()), &mut simclr(99));
    let tail: Vec<_> = full.into_iter().filter(|x| x.epoch == 2).collect();
    assert_eq!(resumed, tail);
    // Another logging interval is no other training: the resume is accepted, and the steps
    // are counted over the run (8 steps done: loss/train at 9 and 11 with every 2nd step).
    let every_2nd = run(s.path(), (3, 2), Some(ck), &mut simclr(99));
    let train_steps: Vec<u64> = every_2nd
        .iter()
        .filter(|x| x.tag == "loss/train")
        .map(|x| x.step)
        .collect();
    assert_eq!(train_steps, [9, 11]);
}

/// What [`Poisoned`] turns NaN from its bad step on.
#[derive(Clone, Copy)]
enum Poison {
    /// The loss.
    Loss,
    /// Every gradient, the loss staying finite (`l + 0·√(0·l)`: the square root's derivative at
    /// 0 is infinite).
    Gradients,
    /// The first element of this state tensor, right after the optimizer step.
    Tensor(&'static str),
}

/// SimCLR poisoned (see [`Poison`]) from global step `bad_step` on.
struct Poisoned {
    inner: SimClr,
    step: u64,
    bad_step: u64,
    poison: Poison,
}

impl Estimator for Poisoned {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn embed(&self, g: &mut Graph<f32>, x: Var) -> Result<Var> {
        self.inner.embed(g, x)
    }
    fn loss(&mut self, g: &mut Graph<f32>, batch: &Batch<f32>) -> Result<Var> {
        let l = self.inner.loss(g, batch)?;
        if !g.is_training() {
            return Ok(l);
        }
        self.step += 1;
        if self.step <= self.bad_step {
            return Ok(l);
        }
        match self.poison {
            Poison::Loss => g.mul_scalar(l, f32::NAN),
            Poison::Gradients => {
                let zero = g.mul_scalar(l, 0.0)?;
                let root = g.sqrt(zero)?;
                let nothing = g.mul_scalar(root, 0.0)?;
                g.add(l, nothing)
            }
            Poison::Tensor(_) => Ok(l),
        }
    }
    fn apply_gradients(&mut self, grads: &Grads<f32>) -> Result<()> {
        self.inner.apply_gradients(grads)?;
        match self.poison {
            Poison::Tensor(name) if self.step > self.bad_step => {
                let mut state = self.inner.state();
                let (_, t) = state.iter_mut().find(|(n, _)| n == name).unwrap();
                t.data_mut().unwrap()[0] = f32::NAN;
                self.inner.load_state(&state)
            }
            _ => Ok(()),
        }
    }
    fn visit_trained_tensors(
        &self,
        grads: &Grads<f32>,
        f: &mut dyn FnMut(&str, &Tensor<f32>, Option<&Tensor<f32>>),
    ) {
        self.inner.visit_trained_tensors(grads, f)
    }
    fn set_run_length(&mut self, max_epochs: usize, steps_per_epoch: usize) -> Result<()> {
        self.inner.set_run_length(max_epochs, steps_per_epoch)
    }
    fn on_epoch_start(&mut self, epoch: usize) -> Result<()> {
        self.inner.on_epoch_start(epoch)
    }
    fn lr(&self) -> f64 {
        self.inner.lr()
    }
    fn move_to(&mut self, device: Device) -> Result<()> {
        self.inner.move_to(device)
    }
    fn state(&self) -> Vec<(String, Tensor<f32>)> {
        self.inner.state()
    }
    fn load_state(&mut self, state: &[(String, Tensor<f32>)]) -> Result<()> {
        self.inner.load_state(state)
    }
    fn hparams(&self) -> Vec<(String, String)> {
        self.inner.hparams()
    }
}

#[test]
fn nan_loss_stops_naming_epoch_and_step_and_keeps_the_last_checkpoint() {
    let s = Scratch::new("nan");
    let data = Arc::new(Blobs::new(200, 1));
    let train = Loader::new(Arc::clone(&data), views(), 32)
        .unwrap()
        .shuffle(true)
        .seed(42);
    let ckdir = s.join("ck");
    let cfg = TrainerConfig {
        max_epochs: 3,
        limit_train_batches: Some(4),
        seed: 42,
        checkpoint_dir: Some(ckdir.clone()),
        ..TrainerConfig::default()
    };
    let mut est = Poisoned {
        inner: simclr(5),
        step: 0,
        bad_step: 6,
        poison: Poison::Loss,
    }; // step 6 = epoch 1, step 2
    let err = Trainer::new(cfg)
        .fit(&mut est, &train, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("epoch 2/3") && err.contains("batch 3/4") && err.contains("global step 6"),
        "{err}"
    );
    let files: Vec<_> = fs::read_dir(&ckdir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        files,
        vec!["epoch=0-step=4.safetensors".to_string()],
        "only the good checkpoint, no temp files"
    );
    let ck = Checkpoint::load(&ckdir.join(&files[0])).unwrap();
    for (name, t) in &ck.tensors {
        if let StoredTensor::F32(t) = t {
            assert!(t.all_finite().unwrap(), "{name} finite");
        }
    }
}

/// The names of the files in `dir`, sorted.
fn file_names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Trains `est` on the blobs for 3 epochs of 4 batches with checkpoints into `ckdir`; returns
/// the error the run must end with.
fn failing_fit(est: &mut dyn Estimator, ckdir: &std::path::Path) -> nidl::Error {
    let data = Arc::new(Blobs::new(200, 1));
    let (train, _) = blob_loaders(&data);
    let cfg = TrainerConfig {
        max_epochs: 3,
        limit_train_batches: Some(4),
        checkpoint_dir: Some(ckdir.to_path_buf()),
        ..TrainerConfig::default()
    };
    Trainer::new(cfg).fit(est, &train, None).unwrap_err()
}

#[test]
fn non_finite_parameters_gradients_and_state_stop_the_run_naming_epoch_step_and_tensor() {
    let s = Scratch::new("non-finite");
    // lr 1e39, past f32's range: the first step makes every weight infinite while its loss was
    // finite; the run stops there, before any checkpoint.
    let mut rng = StdRng::seed_from_u64(5);
    let enc = Mlp::<f32>::new(16, &[32, 8], &mut rng).unwrap();
    let cfg = SimClrConfig {
        lr: 1e39,
        ..SimClrConfig::default()
    };
    let mut est = SimClr::new(Box::new(enc), 8, cfg, &mut rng).unwrap();
    let e = failing_fit(&mut est, &s.join("lr"));
    assert!(matches!(e, nidl::Error::NonFinite { .. }), "{e}");
    let e = e.to_string();
    assert!(
        e.contains(
            "'encoder.0.weight' after the optimizer step at epoch 1/3, batch 1/4 (global step 0;"
        ),
        "{e}"
    );
    assert!(file_names(&s.join("lr")).is_empty(), "no checkpoint");
    // A parameter that turns NaN in an optimizer step (global step 5 = epoch 2, batch 2): named
    // as in the checkpoint; the checkpoint of epoch 1 stays the only one, and finite.
    let mut est = Poisoned {
        inner: simclr(5),
        step: 0,
        bad_step: 5,
        poison: Poison::Tensor("head.0.weight"),
    };
    let e = failing_fit(&mut est, &s.join("param")).to_string();
    assert!(
        e.contains(
            "'head.0.weight' after the optimizer step at epoch 2/3, batch 2/4 (global step 5;"
        ),
        "{e}"
    );
    assert_eq!(file_names(&s.join("param")), ["epoch=0-step=4.safetensors"]);
    Checkpoint::load(&s.join("param/epoch=0-step=4.safetensors")).unwrap();
    // A NaN gradient with a finite loss stops the run before the optimizer step uses it.
    let mut est = Poisoned {
        inner: simclr(5),
        step: 0,
        bad_step: 5,
        poison: Poison::Gradients,
    };
    let e = failing_fit(&mut est, &s.join("grad")).to_string();
    assert!(
        e.contains("the gradient of 'encoder.0.weight' at epoch 2/3, batch 2/4 (global step 5;"),
        "{e}"
    );
    assert!(est
        .inner
        .state()
        .iter()
        .all(|(_, t)| t.all_finite().unwrap()));
    assert_eq!(file_names(&s.join("grad")), ["epoch=0-step=4.safetensors"]);
    // Optimizer state is checked at the end of each epoch, before the checkpoint (here it turns
    // NaN in the epoch's last step, global step 7; a step later the parameter it updates would).
    let mut est = Poisoned {
        inner: simclr(5),
        step: 0,
        bad_step: 7,
        poison: Poison::Tensor("optimizer.exp_avg_sq.0"),
    };
    let e = failing_fit(&mut est, &s.join("opt")).to_string();
    assert!(
        e.contains("'optimizer.exp_avg_sq.0' at the end of epoch 2/3 (global step 8;"),
        "{e}"
    );
    assert_eq!(file_names(&s.join("opt")), ["epoch=0-step=4.safetensors"]);
}

#[test]
fn yaware_and_regression_probing_through_the_library() {
    let data = Arc::new(Blobs::new(200, 1));
    let train = Loader::new(Arc::clone(&data), views(), 32)
        .unwrap()
        .shuffle(true)
        .seed(42);
    let mut rng = StdRng::seed_from_u64(0);
    let enc = Mlp::<f32>::new(16, &[32, 8], &mut rng).unwrap();
    let cfg = YAwareConfig {
        head: (8, 16, 8),
        lr: 1e-3,
        ..YAwareConfig::default()
    };
    let mut est = YAware::new(Box::new(enc), cfg, &mut rng).unwrap();
    let probe_tr = Loader::new(Arc::clone(&data), Identity, 64).unwrap();
    let probe_te = Loader::new(Arc::new(Blobs::new(64, 3)), Identity, 64).unwrap();
    let cfg = TrainerConfig {
        max_epochs: 2,
        limit_train_batches: Some(3),
        ..TrainerConfig::default()
    };
    let mut trainer = Trainer::new(cfg)
        .callback(Box::new(ClassificationProbing::new(
            Box::new(class_loader(200, 1)),
            Box::new(class_loader(64, 3)),
            LogisticRegression::new(),
        )))
        .callback(Box::new(RegressionProbing::new(
            Box::new(probe_tr),
            Box::new(probe_te),
            Ridge::new(),
        )));
    // y-Aware with 2-column labels uses both as the auxiliary variable: fine for the library.
    let report = trainer.fit(&mut est, &train, None).unwrap();
    assert_eq!(report.epochs.len(), 2);
    let names: Vec<&str> = report.epochs[1]
        .metrics
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert!(
        names.contains(&"LogisticRegression/accuracy") && names.contains(&"Ridge/average/R2"),
        "{names:?}"
    );
    let acc = report.epochs[1]
        .metrics
        .iter()
        .find(|(n, _)| n == "LogisticRegression/accuracy")
        .unwrap()
        .1;
    assert!(acc > 0.9, "two well-separated clusters: accuracy {acc}");
    // The bandwidth travels in the checkpoint metadata.
    let meta: BTreeMap<String, String> = est.extra_metadata().into_iter().collect();
    assert_eq!(
        meta["yaware.bandwidth"], "scalar:1",
        "nidl's default bandwidth"
    );
}

#[test]
fn checkpoint_files_are_read_robustly() {
    let s = Scratch::new("ckfiles");
    let mut ck = Checkpoint::new();
    ck.insert(
        "encoder.w",
        StoredTensor::F32(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap()),
    );
    ck.insert(
        "step",
        StoredTensor::I64 {
            shape: vec![],
            data: vec![7],
        },
    );
    ck.metadata.insert("epoch".into(), "1".into());
    let p = s.join("a.safetensors");
    ck.save(&p).unwrap();
    assert_eq!(Checkpoint::load(&p).unwrap(), ck);
    let bytes = fs::read(&p).unwrap();
    let header = std::str::from_utf8(
        &bytes[8..8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize],
    )
    .unwrap();
    assert!(
        header.contains("\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]"),
        "{header}"
    );

    let bad = |name: &str, content: Vec<u8>, expect: &str| {
        let q = s.join(name);
        fs::write(&q, content).unwrap();
        let e = Checkpoint::load(&q).unwrap_err().to_string();
        assert!(e.contains(name) && e.contains(expect), "{name}: {e}");
    };
    bad("short.safetensors", vec![1, 2, 3], "shorter");
    let mut huge = bytes.clone();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    bad("hugeheader.safetensors", huge, "header length");
    bad(
        "truncated.safetensors",
        bytes[..bytes.len() - 4].to_vec(),
        "data_offsets",
    );
    let swap = |from: &str, to: &str| {
        let h = header.replacen(from, to, 1);
        let mut out = (h.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(&bytes[8 + header.len()..]);
        out
    };
    bad("dtype.safetensors", swap("\"F32\"", "\"BF16\""), "BF16");
    bad("shape.safetensors", swap("[2,2]", "[2,3]"), "shape");
    bad("json.safetensors", swap("{", "["), "JSON");
    assert!(Checkpoint::load(&s.join("missing.safetensors"))
        .unwrap_err()
        .to_string()
        .contains("missing.safetensors"));
}

/// Barlow Twins on the blobs: MLP encoder 16 → 32 → 8, head 8 → 16 → 16 → 8, 4 steps per epoch,
/// one warmup epoch of three.
fn barlow_with(seed: u64, f: impl FnOnce(&mut BarlowTwinsConfig)) -> BarlowTwins {
    let mut rng = StdRng::seed_from_u64(seed);
    let enc = Mlp::<f32>::new(16, &[32, 8], &mut rng).unwrap();
    let mut cfg = BarlowTwinsConfig {
        proj_hidden_dim: 16,
        proj_output_dim: 8,
        lr: 1e-2,
        warmup_epochs: 1,
        ..BarlowTwinsConfig::default()
    };
    f(&mut cfg);
    let mut est = BarlowTwins::new(Box::new(enc), 8, cfg, &mut rng).unwrap();
    // What the trainer tells it: 3 epochs of 4 steps.
    est.set_run_length(3, 4).unwrap();
    est
}

fn barlow(seed: u64) -> BarlowTwins {
    barlow_with(seed, |_| {})
}

/// One training step of `est` on `batch`; returns the learning rate it used.
fn barlow_step(est: &mut BarlowTwins, batch: &Batch<f32>) -> f64 {
    let lr = est.lr();
    let mut g = Graph::new();
    let loss = est.loss(&mut g, batch).unwrap();
    let grads = g.backward(loss).unwrap();
    est.apply_gradients(&grads).unwrap();
    lr
}

#[test]
fn barlow_twins_steps_nidls_warmup_cosine_schedule_per_step() {
    let data = Arc::new(Blobs::new(200, 1));
    let train = Loader::new(data, views(), 32).unwrap().seed(42);
    let batch = train.batch(0, 0).unwrap();
    let mut est = barlow(3);
    // nidl: LinearWarmupCosineAnnealingLR(warmup_epochs = 1·4, max_epochs = 3·4,
    // warmup_start_lr = 1e-6, eta_min = 0), stepped after every optimizer step.
    let expected = LinearWarmupCosine::new(1e-2, 4, 12)
        .unwrap()
        .warmup_start_lr(1e-6)
        .lrs(13);
    let used: Vec<f64> = (0..12).map(|_| barlow_step(&mut est, &batch)).collect();
    assert_eq!(used, expected[..12]);
    assert_eq!(est.lr(), expected[12]);
    assert_eq!(used[0], 1e-6);
    assert_eq!(used[4], 1e-2, "the peak right after the warmup");
    assert!(used[11] < 1e-3, "the cosine decays: {used:?}");
    // The step count is what a checkpoint carries; loading it moves the schedule there.
    let meta: BTreeMap<String, String> = est.extra_metadata().into_iter().collect();
    assert_eq!(meta["barlow_twins.scheduler_steps"], "12");
    let mut other = barlow(4);
    let mut m = BTreeMap::new();
    m.insert("barlow_twins.scheduler_steps".to_string(), "5".to_string());
    other.load_extra_metadata(&m).unwrap();
    assert_eq!(other.lr(), expected[5]);
    m.clear();
    let e = other.load_extra_metadata(&m).unwrap_err().to_string();
    assert!(e.contains("barlow_twins.scheduler_steps"), "{e}");
    // A warmup as long as the run (nidl's 10 of 10 epochs): warmup all the way, no error.
    let mut long = barlow_with(3, |c| c.warmup_epochs = 3);
    let warm: Vec<f64> = (0..12).map(|_| barlow_step(&mut long, &batch)).collect();
    let closed = LinearWarmupCosine::new(1e-2, 12, 13)
        .unwrap()
        .warmup_start_lr(1e-6);
    for (t, lr) in warm.iter().enumerate() {
        assert!((lr - closed.closed_form(t)).abs() < 1e-15, "step {t}: {lr}");
    }
    assert!(warm.windows(2).all(|w| w[1] > w[0]), "{warm:?}");
}

#[test]
fn barlow_twins_excludes_biases_and_norm_parameters_from_weight_decay() {
    let data = Arc::new(Blobs::new(200, 1));
    let train = Loader::new(data, views(), 32).unwrap().seed(42);
    let batch = train.batch(0, 0).unwrap();
    // One step from the same initialisation and gradients, with and without a large decay:
    // AdamW's decay `p ← p·(1 − lr·wd)` is the only difference.
    let after_one_step = |wd: f64, exclude: bool| {
        let mut est = barlow_with(7, |c| {
            c.warmup_epochs = 0;
            c.weight_decay = wd;
            c.exclude_bias_and_norm_wd = exclude;
        });
        barlow_step(&mut est, &batch);
        est.state()
            .into_iter()
            .filter(|(n, _)| !n.starts_with("optimizer."))
            .collect::<Vec<_>>()
    };
    let plain = after_one_step(0.0, true);
    let decayed = after_one_step(10.0, true);
    let decayed_all = after_one_step(10.0, false);
    let init = barlow(7).state();
    let mut one_d = 0;
    for (((name, p), (_, d)), ((_, a), (_, p0))) in plain
        .iter()
        .zip(&decayed)
        .zip(decayed_all.iter().zip(&init))
    {
        if name.contains("running_") {
            continue;
        }
        if p.shape().len() <= 1 {
            one_d += 1;
            assert_eq!(p, d, "{name}: a bias or norm parameter must not decay");
            // (A decay of BatchNorm's β, initialised at 0, shows only from the second step.)
            if p0.data().unwrap().iter().any(|&v| v != 0.0) {
                assert_ne!(p, a, "{name}: decays when not excluded");
            }
        } else {
            assert_ne!(p, d, "{name}: a weight matrix decays");
        }
    }
    // Encoder biases (2), BatchNorm γ and β (2 × 2), the last linear's bias.
    assert_eq!(one_d, 7);
}

#[test]
fn barlow_twins_resume_is_bit_identical_with_schedule_and_batch_norm_state() {
    let s = Scratch::new("barlow-resume");
    let full = run(s.path(), (3, 5), None, &mut barlow(5));
    let train_steps: Vec<u64> = full
        .iter()
        .filter(|x| x.tag == "loss/train")
        .map(|x| x.step)
        .collect();
    assert_eq!(train_steps, [4, 9], "every 5th step, counted over the run");
    assert!(full.iter().all(|x| x.value.is_finite()));
    let ck = s.join("version_0/checkpoints/epoch=1-step=8.safetensors");
    let c = Checkpoint::load(&ck).unwrap();
    assert_eq!(c.metadata["estimator"], "BarlowTwins");
    assert_eq!(c.metadata["barlow_twins.scheduler_steps"], "8");
    // nidl's projection-head names; no bias before a batch norm; running statistics stored.
    for name in [
        "head.layers.0.weight",
        "head.layers.1.weight",
        "head.layers.1.bias",
        "head.layers.1.running_mean",
        "head.layers.1.running_var",
        "head.layers.3.weight",
        "head.layers.4.running_var",
        "head.layers.6.weight",
        "head.layers.6.bias",
    ] {
        assert!(c.get(name).is_some(), "{name} missing");
    }
    assert!(c.get("head.layers.0.bias").is_none() && c.get("head.layers.3.bias").is_none());
    let Some(StoredTensor::F32(rv)) = c.get("head.layers.1.running_var") else {
        panic!("running_var is F32")
    };
    assert!(
        rv.data().unwrap().iter().all(|&v| v != 1.0),
        "running stats moved"
    );
    // A model drawn from another seed: the checkpoint restores weights, running statistics,
    // optimizer and schedule, and the third epoch is reproduced bit for bit (its validation
    // loss uses the running statistics, its steps the scheduled rates).
    let resumed = run(s.path(), (3, 5), Some(ck), &mut barlow(99));
    let tail: Vec<_> = full.into_iter().filter(|x| x.epoch == 2).collect();
    assert_eq!(resumed, tail);
}

#[test]
fn barlow_twins_refuses_a_training_batch_of_one_but_validates_one() {
    // 33 samples in batches of 32: the last training batch holds one sample.
    let data = Arc::new(Blobs::new(33, 1));
    let train = Loader::new(Arc::clone(&data), views(), 32).unwrap();
    let mut est = barlow(1);
    let e = Trainer::new(TrainerConfig {
        max_epochs: 1,
        ..TrainerConfig::default()
    })
    .fit(&mut est, &train, None)
    .unwrap_err()
    .to_string();
    assert!(e.contains("BarlowTwins") && e.contains("batch of 1"), "{e}");
    // Validation on a batch of one: running statistics, and the loss's batch-of-one rule (D).
    let one = Loader::new(Arc::new(Blobs::new(1, 2)), views(), 32).unwrap();
    let v = nidl::train::trainer::validation_loss(&mut est, &one, 0, None, &NoProgress)
        .unwrap()
        .unwrap();
    assert_eq!(v, 8.0, "D = 8 output features");
}

/// Probing a Barlow Twins run on the blobs with `callbacks` (train 3 epochs of 3 steps,
/// `loss/train` every `log_every` steps, validation on 64 samples); returns the logged rows.
fn probed_run(
    callbacks: Vec<Box<dyn nidl::train::Callback>>,
    log_every: usize,
) -> Vec<(u64, usize, String, f64)> {
    let (train, val) = blob_loaders(&Arc::new(Blobs::new(200, 1)));
    let s = Scratch::new("probed");
    let version = nidl::log::next_version_dir(s.path()).unwrap();
    let mut trainer = Trainer::new(TrainerConfig {
        max_epochs: 3,
        limit_train_batches: Some(3),
        log_every_n_steps: log_every,
        ..TrainerConfig::default()
    })
    .logger(nidl::log::RunLogger::create(&version).unwrap());
    for cb in callbacks {
        trainer = trainer.callback(cb);
    }
    trainer.fit(&mut barlow(2), &train, Some(&val)).unwrap();
    let text = fs::read_to_string(version.join("metrics.csv")).unwrap();
    common::metrics_rows(&text)
}

#[test]
fn knn_and_logistic_probes_share_embeddings_and_log_under_their_names() {
    let sets = ProbingSets::new(
        Box::new(class_loader(200, 1)),
        Box::new(class_loader(64, 3)),
    );
    let logreg = ClassificationProbing::with_sets(sets.clone(), LogisticRegression::new())
        .on_train_start(true);
    let knn = ClassificationProbing::with_sets(sets.clone(), KNeighborsClassifier::new(5))
        .on_train_start(true);
    assert_eq!(knn.task().name, "KNeighborsClassifier");
    let rows = probed_run(vec![Box::new(logreg), Box::new(knn)], 50);
    let steps =
        |tag: &str| -> Vec<u64> { rows.iter().filter(|r| r.2 == tag).map(|r| r.0).collect() };
    // At train start (step 0) and after each of the 3 epochs (3 steps each), at the epoch's
    // last step.
    for probe in ["LogisticRegression", "KNeighborsClassifier"] {
        for m in ["accuracy", "balanced_accuracy", "f1_macro", "f1_weighted"] {
            assert_eq!(
                steps(&format!("{probe}/{m}")),
                vec![0, 2, 5, 8],
                "{probe}/{m}"
            );
        }
    }
    // One embedding of both sets per probing point, shared by the two probes.
    assert_eq!(sets.embed_count(), 4);
    // Two well-separated clusters: the 5-NN probe finds them (encoder at init or trained).
    for r in rows
        .iter()
        .filter(|r| r.2 == "KNeighborsClassifier/accuracy")
    {
        assert!(r.3 > 0.9, "k-NN accuracy {} at step {}", r.3, r.0);
    }
}

#[test]
fn validation_epoch_probing_every_n_val_epochs() {
    let data = Arc::new(Blobs::new(200, 1));
    let sets = || {
        ProbingSets::new(
            Box::new(Loader::new(Arc::clone(&data), Identity, 64).unwrap()),
            Box::new(Loader::new(Arc::new(Blobs::new(64, 3)), Identity, 64).unwrap()),
        )
    };
    // Only after every 2nd validation epoch (epoch index 1 → its last step, 5) and not after
    // training epochs; a regression probe renamed; a multitask probe with named tasks at every
    // validation epoch and after every 3rd training epoch (one probe at step 8, not two).
    let ridge = RegressionProbing::with_sets(sets(), KNeighborsRegressor::new(5))
        .every_n_train_epochs(0)
        .every_n_val_epochs(2);
    assert_eq!(
        *ridge.schedule(),
        ProbeSchedule {
            every_n_train_epochs: 0,
            after_last_epoch: false,
            every_n_val_epochs: 2,
            on_train_start: false
        }
    );
    let multi = MultitaskProbing::new(
        Box::new(Loader::new(Arc::clone(&data), Identity, 64).unwrap()),
        Box::new(Loader::new(Arc::new(Blobs::new(64, 3)), Identity, 64).unwrap()),
        MultiTask::new(vec![
            TaskProbe::KNeighborsClassifier(KNeighborsClassifier::new(3)),
            TaskProbe::KNeighborsRegressor(KNeighborsRegressor::new(3)),
        ])
        .unwrap(),
    )
    .task_names(&["cls", "reg"])
    .unwrap()
    .every_n_train_epochs(3)
    .every_n_val_epochs(1);
    let rows = probed_run(vec![Box::new(ridge), Box::new(multi)], 50);
    let steps =
        |tag: &str| -> Vec<u64> { rows.iter().filter(|r| r.2 == tag).map(|r| r.0).collect() };
    // Blobs carry two label columns: the regressor scores both (nidl's multi-output report).
    assert_eq!(steps("KNeighborsRegressor/average/R2"), vec![5]);
    assert_eq!(steps("cls/accuracy"), vec![2, 5, 8]);
    assert_eq!(steps("reg/MAE"), vec![2, 5, 8]);
    assert!(
        rows.iter().all(|r| !r.2.starts_with("task")),
        "renamed tasks"
    );
    // Wrong number of task names.
    let e = MultitaskProbing::new(
        Box::new(Loader::new(Arc::clone(&data), Identity, 64).unwrap()),
        Box::new(Loader::new(Arc::new(Blobs::new(64, 3)), Identity, 64).unwrap()),
        MultiTask::new(vec![TaskProbe::Ridge(Ridge::new())]).unwrap(),
    )
    .task_names(&["a", "b"])
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("2 names for 1 tasks"), "{e}");
}

#[test]
fn scalars_are_logged_at_lightnings_steps_each_group_followed_by_the_epoch() {
    let data = Arc::new(Blobs::new(200, 1));
    let knn = |name: &str| {
        ClassificationProbing::new(
            Box::new(class_loader(200, 1)),
            Box::new(class_loader(64, 3)),
            KNeighborsClassifier::new(3),
        )
        .name(name)
    };
    // V: after every validation; T: at train start and after every 2nd training epoch;
    // L: after the last training epoch only.
    let v = knn("V").every_n_train_epochs(0).every_n_val_epochs(1);
    let t = knn("T").every_n_train_epochs(2).on_train_start(true);
    let l = knn("L").every_n_train_epochs(0).after_last_epoch(true);
    let rows = probed_run(vec![Box::new(v), Box::new(t), Box::new(l)], 2);
    // Each probe's six metrics as one `<name>/*` entry.
    let mut seen: Vec<(String, u64)> = Vec::new();
    for (step, _, tag, value) in &rows {
        let tag = match tag.split_once('/') {
            Some((p, _)) if p.len() == 1 => format!("{p}/*"),
            _ if tag == "epoch" => format!("epoch={value}"),
            _ => tag.clone(),
        };
        if seen.last() != Some(&(tag.clone(), *step)) {
            seen.push((tag, *step));
        }
    }
    let want = [
        ("T/*", 0),
        ("epoch=0", 0),
        ("loss/train", 1),
        ("epoch=0", 1),
        ("loss/val", 2),
        ("V/*", 2),
        ("epoch=0", 2),
        ("loss/train", 3),
        ("epoch=1", 3),
        ("loss/train", 5),
        ("epoch=1", 5),
        ("loss/val", 5),
        ("V/*", 5),
        ("epoch=1", 5),
        ("T/*", 5),
        ("epoch=1", 5),
        ("loss/train", 7),
        ("epoch=2", 7),
        ("loss/val", 8),
        ("V/*", 8),
        ("epoch=2", 8),
        ("L/*", 8),
        ("epoch=2", 8),
    ];
    let want: Vec<(String, u64)> = want.iter().map(|&(t, s)| (t.into(), s)).collect();
    assert_eq!(seen, want);
    // The epoch column of metrics.csv agrees with the `epoch` rows.
    for (_, epoch, tag, value) in &rows {
        if tag == "epoch" {
            assert_eq!(*value, *epoch as f64);
        }
    }
    // 0 is refused before anything runs.
    let (train, _) = blob_loaders(&data);
    let e = Trainer::new(TrainerConfig {
        log_every_n_steps: 0,
        ..TrainerConfig::default()
    })
    .fit(&mut barlow(2), &train, None)
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("log_every_n_steps") && e.contains("N ≥ 1"),
        "{e}"
    );
}

#[test]
fn the_validation_loss_is_the_mean_over_samples() {
    // 33 samples in batches of 32: Barlow Twins' loss on the batch of one is D = 8 exactly.
    let val = Loader::new(Arc::new(Blobs::new(33, 2)), views(), 32)
        .unwrap()
        .seed(42);
    let mut est = barlow(1);
    let mut loss = |limit| {
        nidl::train::trainer::validation_loss(&mut est, &val, 0, limit, &NoProgress)
            .unwrap()
            .unwrap()
    };
    let (first, all) = (loss(Some(1)), loss(None));
    assert_ne!(first, 8.0);
    // Weighted by batch size, as Lightning: (32·L₁ + 1·8) / 33, not (L₁ + 8) / 2.
    let weighted = (32.0 * first + 8.0) / 33.0;
    assert!(
        (all - weighted).abs() <= 1e-12 * weighted,
        "{all} vs {weighted}"
    );
}

#[test]
fn the_trainer_sets_the_run_length_and_seeds_loaders_that_have_no_seed() {
    let data = Arc::new(Blobs::new(200, 1));
    let losses = |seeded: bool, est: &mut dyn Estimator| -> Vec<f64> {
        let mut train = Loader::new(Arc::clone(&data), views(), 32)
            .unwrap()
            .shuffle(true);
        if seeded {
            train = train.seed(42);
        }
        let cfg = TrainerConfig {
            max_epochs: 2,
            limit_train_batches: Some(3),
            seed: 42,
            ..TrainerConfig::default()
        };
        let report = Trainer::new(cfg).fit(est, &train, None).unwrap();
        report.epochs.iter().map(|e| e.train_loss).collect()
    };
    // A loader without a seed draws the trainer's: the same run as one seeded with it.
    let (mut a, mut b) = (simclr(1), simclr(1));
    assert_eq!(losses(false, &mut a), losses(true, &mut b));
    let hp: BTreeMap<String, String> = a.hparams().into_iter().collect();
    assert_eq!(
        hp["lr_scheduler"],
        "CosineAnnealingLR(T_max=2, eta_min=0.0002)"
    );
    // Barlow Twins' per-step schedule is sized by the trainer: 2 epochs of 3 steps, 1 warmup
    // epoch — whatever it was told before.
    let mut barlow = barlow(3);
    losses(false, &mut barlow);
    let hp: BTreeMap<String, String> = barlow.hparams().into_iter().collect();
    assert!(
        hp["lr_scheduler"]
            .starts_with("LinearWarmupCosineAnnealingLR(warmup_steps=3, total_steps=6,"),
        "{}",
        hp["lr_scheduler"]
    );
    // Used without a trainer and without a run length, the schedule says what is missing.
    let mut rng = StdRng::seed_from_u64(0);
    let enc = Mlp::<f32>::new(16, &[32, 8], &mut rng).unwrap();
    let mut est = SimClr::new(Box::new(enc), 8, SimClrConfig::default(), &mut rng).unwrap();
    let e = est.on_epoch_start(0).unwrap_err().to_string();
    assert!(e.contains("set_run_length"), "{e}");
    let enc = Mlp::<f32>::new(16, &[32, 8], &mut rng).unwrap();
    let cfg = BarlowTwinsConfig {
        proj_hidden_dim: 16,
        proj_output_dim: 8,
        ..BarlowTwinsConfig::default()
    };
    let mut est = BarlowTwins::new(Box::new(enc), 8, cfg, &mut rng).unwrap();
    let e = est.set_run_length(3, 0).unwrap_err().to_string();
    assert!(e.contains("steps_per_epoch"), "{e}");
    let train = Loader::new(Arc::clone(&data), views(), 32).unwrap();
    let batch = train.batch(0, 0).unwrap();
    let mut g = Graph::new();
    let loss = est.loss(&mut g, &batch).unwrap();
    let grads = g.backward(loss).unwrap();
    let e = est.apply_gradients(&grads).unwrap_err().to_string();
    assert!(e.contains("set_run_length"), "{e}");
}

#[test]
fn a_two_view_probing_set_is_an_error_naming_the_set() {
    let data = Arc::new(Blobs::new(64, 1));
    let est = simclr(2);
    let two_views = Loader::new(Arc::clone(&data), views(), 32)
        .unwrap()
        .named("blobs with views");
    let mut out = nidl::train::callbacks::Embedded::default();
    let e = nidl::train::callbacks::embed_set(
        &est,
        &two_views,
        &mut out,
        "x",
        &nidl::train::callbacks::NoProgress,
    )
    .unwrap_err();
    assert!(matches!(e, nidl::Error::RunInput { .. }), "{e}");
    let e = e.to_string();
    assert!(
        e.contains("the probing set (blobs with views) gives 2 views per sample")
            && e.contains("probing sets need one view"),
        "{e}"
    );
    // Through the trainer: refused before training, naming the set.
    let (train, _) = blob_loaders(&data);
    let probe_te = Loader::new(Arc::clone(&data), Identity, 64).unwrap();
    let cb = MultitaskProbing::new(
        Box::new(two_views),
        Box::new(probe_te),
        MultiTask::new(vec![TaskProbe::Ridge(Ridge::new())]).unwrap(),
    );
    let mut est = simclr(2);
    let e = Trainer::new(TrainerConfig {
        max_epochs: 1,
        ..TrainerConfig::default()
    })
    .callback(Box::new(cb))
    .fit(&mut est, &train, None)
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("the probing train set (blobs with views) gives 2 views"),
        "{e}"
    );
}

#[test]
fn shape_errors_name_the_module_at_fault() {
    let data = Arc::new(Blobs::new(64, 1));
    let (train, _) = blob_loaders(&data);
    let batch = train.batch(0, 0).unwrap();
    // An encoder taking 15 features fed 16: its first linear layer (state name `0`) is named.
    let mut rng = StdRng::seed_from_u64(0);
    let enc = Mlp::<f32>::new(15, &[32, 8], &mut rng).unwrap();
    let mut est = SimClr::new(Box::new(enc), 8, SimClrConfig::default(), &mut rng).unwrap();
    let mut g = Graph::new();
    let e = est.loss(&mut g, &batch).unwrap_err();
    assert!(
        matches!(e.innermost(), nidl::Error::Shape { op: "Linear", .. }),
        "{e}"
    );
    let e = e.to_string();
    assert!(e.starts_with("encoder.0: Linear: "), "{e}");
    assert!(
        // One view of the batch of 32 (each view goes through the encoder on its own).
        e.contains("input [batch, 15]") && e.contains("[32, 16]"),
        "{e}"
    );
    // A head that does not take the encoder's width (told 9, the encoder gives 8).
    let enc = Mlp::<f32>::new(16, &[32, 8], &mut rng).unwrap();
    let mut est = SimClr::new(Box::new(enc), 9, SimClrConfig::default(), &mut rng).unwrap();
    let e = est.loss(&mut g, &batch).unwrap_err().to_string();
    assert!(e.starts_with("head.0: Linear: "), "{e}");
    // Nested: the second layer of a Sequential (after a LeNet) inside the encoder.
    let lenet = nidl::nn::LeNet::<f32>::new(4, &mut rng).unwrap();
    let seq = nidl::nn::Sequential::new()
        .push(lenet)
        .push(nidl::nn::Linear::new(5, 2, true, &mut rng));
    let mut g = Graph::inference();
    let x = g.input(Tensor::zeros(&[2, 1, 28, 28]));
    let e = nidl::nn::Module::forward(&seq, &mut g, x)
        .map_err(|e| e.in_module("encoder"))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("encoder.1: Linear: "), "{e}");
    // An MLP with batch norm names its layers as its state does: linear i is module 4i, its
    // batch norm 4i + 1 (here refusing a training batch of one).
    let mlp = Mlp::<f32>::with_batch_norm(3, &[4, 2], &mut rng).unwrap();
    let mut g = Graph::new();
    let x = g.input(Tensor::zeros(&[1, 3]));
    let e = nidl::nn::Module::forward(&mlp, &mut g, x)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("1: BatchNorm1d: "), "{e}");
    let x = g.input(Tensor::zeros(&[2, 5]));
    let e = nidl::nn::Module::forward(&mlp, &mut g, x)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("0: Linear: "), "{e}");
    let names: Vec<String> = nidl::nn::Module::state_dict(&mlp)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(names.contains(&"4.weight".to_string()), "{names:?}");
}

#[test]
fn a_classification_probe_on_several_label_columns_is_refused_before_training() {
    let data = Arc::new(Blobs::new(64, 1));
    let (train, _) = blob_loaders(&data);
    let blobs = || Box::new(Loader::new(Arc::clone(&data), Identity, 64).unwrap());
    let s = Scratch::new("several-columns");
    // Trains one epoch with `cb` into the scratch folder; the error it is refused with.
    let refused = |cb: Box<dyn nidl::train::Callback>| {
        Trainer::new(TrainerConfig {
            max_epochs: 1,
            ..TrainerConfig::default()
        })
        .log_dir(s.path(), false)
        .callback(cb)
        .fit(&mut simclr(2), &train, None)
        .unwrap_err()
    };
    // The blobs carry two label columns [class, value]: which one would be the classes?
    let e = refused(Box::new(ClassificationProbing::new(
        blobs(),
        blobs(),
        LogisticRegression::new(),
    )));
    assert!(matches!(e, nidl::Error::RunInput { .. }), "{e}");
    let e = e.to_string();
    assert!(
        e.contains("LogisticRegression: the probing train set has 2 label columns")
            && e.contains("a classification probe predicts one"),
        "{e}"
    );
    // A multi-task probe of one task on the same sets: one column per task.
    let tasks = MultiTask::new(vec![TaskProbe::Ridge(Ridge::new())]).unwrap();
    let e = refused(Box::new(MultitaskProbing::new(blobs(), blobs(), tasks))).to_string();
    assert!(
        e.contains("the probing train set has 2 label columns for 1 tasks"),
        "{e}"
    );
    // A regressor fitted on two columns and scored on one.
    let e = refused(Box::new(RegressionProbing::new(
        blobs(),
        Box::new(class_loader(64, 3)),
        Ridge::new(),
    )))
    .to_string();
    assert!(
        e.contains("the probing train set has 2 label columns but the probing test set has 1"),
        "{e}"
    );
    // All refused before anything is written.
    assert!(!s.path().join("version_0").exists());
}

/// A reporter whose [`Progress`](nidl::train::Progress) keeps every update.
#[derive(Default)]
struct ProgressRecorder {
    updates: Arc<std::sync::Mutex<Vec<(String, usize, usize)>>>,
}

impl nidl::train::Progress for ProgressRecorder {
    fn update(&self, what: &str, done: usize, total: usize) {
        self.updates
            .lock()
            .unwrap()
            .push((what.to_string(), done, total));
    }
}

impl nidl::train::Reporter for ProgressRecorder {
    fn progress(&self) -> &dyn nidl::train::Progress {
        self
    }
}

#[test]
fn probing_reports_its_progress_through_the_reporter_and_changes_nothing() {
    let data = Arc::new(Blobs::new(200, 1));
    // 200 samples in batches of 64: 4 batches; 64 test samples in batches of 32: 2.
    let probe_tr = Loader::new(Arc::clone(&data), Identity, 64).unwrap();
    let probe_te = Loader::new(Arc::new(Blobs::new(64, 3)), Identity, 32).unwrap();
    let fit = |reporter: Option<ProgressRecorder>| {
        let (train, val) = blob_loaders(&data);
        let probes = MultiTask::new(vec![
            TaskProbe::LogisticRegression(LogisticRegression::new()),
            TaskProbe::Ridge(Ridge::new()),
        ])
        .unwrap();
        let cb = MultitaskProbing::new(
            Box::new(probe_tr.clone()),
            Box::new(probe_te.clone()),
            probes,
        );
        let mut trainer = Trainer::new(TrainerConfig {
            max_epochs: 2,
            limit_train_batches: Some(2),
            ..TrainerConfig::default()
        })
        .callback(Box::new(cb));
        if let Some(r) = reporter {
            trainer = trainer.reporter(Box::new(r));
        }
        let report = trainer.fit(&mut simclr(3), &train, Some(&val)).unwrap();
        report
            .metrics
            .rows()
            .iter()
            .map(|r| (r.tag.clone(), r.last.to_bits(), r.last_step))
            .collect::<Vec<_>>()
    };
    let recorder = ProgressRecorder::default();
    let updates = Arc::clone(&recorder.updates);
    let with = fit(Some(recorder));
    assert_eq!(with, fit(None), "progress changes nothing");
    assert!(with.iter().any(|r| r.0 == "task0/accuracy"));
    let mut updates = updates.lock().unwrap().clone();
    // Each fit: a stage of unknown length, then LogisticRegression's L-BFGS iterations
    // 1, 2, …, n_iter of max_iter = 100 in order (Ridge, fitted in one step, reports none).
    let fitting: Vec<(usize, usize)> = updates
        .iter()
        .filter(|u| u.0 == "fitting task0, task1")
        .map(|u| (u.1, u.2))
        .collect();
    let fits: Vec<&[(usize, usize)]> = fitting.split(|&u| u == (0, 0)).skip(1).collect();
    assert_eq!(fitting.first(), Some(&(0, 0)), "{fitting:?}");
    assert_eq!(fits.len(), 2, "{fitting:?}");
    for fit in &fits {
        let n_iter = fit.len();
        assert!((1..=100).contains(&n_iter), "{fitting:?}");
        let expected: Vec<(usize, usize)> = (1..=n_iter).map(|k| (k, 100)).collect();
        assert_eq!(*fit, &expected[..]);
    }
    let iterations = fits[0].len() + fits[1].len();
    // Embedding is parallel: the order of a set's batches may vary, not their count.
    updates.sort();
    let count = |what: &str, total: usize| {
        updates
            .iter()
            .filter(|u| u.0 == what && u.2 == total)
            .map(|u| u.1)
            .collect::<Vec<_>>()
    };
    // Two epochs, each embedding both sets once and fitting once.
    assert_eq!(
        count("embedding probing train set", 4),
        [1, 1, 2, 2, 3, 3, 4, 4]
    );
    assert_eq!(count("embedding probing test set", 2), [1, 1, 2, 2]);
    assert_eq!(count("fitting task0, task1", 0), [0, 0]);
    // The validation loss: 64 samples in batches of 32, every epoch.
    assert_eq!(count("validation loss", 2), [1, 1, 2, 2]);
    assert_eq!(updates.len(), 18 + iterations, "{updates:?}");
}

/// DCL on the blobs: MLP encoder 16 → 32 → 8, nidl's SimCLR head 8 → 16 → 8, 4 steps per epoch
/// of 3, one warmup epoch; DCLW when `sigma` is given.
fn dcl(seed: u64, sigma: Option<f64>) -> Dcl {
    let mut rng = StdRng::seed_from_u64(seed);
    let enc = Mlp::<f32>::new(16, &[32, 8], &mut rng).unwrap();
    let cfg = DclConfig {
        proj_hidden_dim: 16,
        proj_output_dim: 8,
        lr: 1e-2,
        warmup_epochs: 1,
        sigma,
        ..DclConfig::default()
    };
    Dcl::new(Box::new(enc), 8, cfg, &mut rng).unwrap()
}

#[test]
fn dcl_defaults_are_nidls_and_bad_settings_are_named() {
    let c = DclConfig::default();
    assert_eq!((c.proj_hidden_dim, c.proj_output_dim), (2048, 128));
    assert_eq!((c.temperature, c.sigma), (0.1, None));
    assert_eq!((c.lr, c.weight_decay), (3e-4, 5e-4));
    assert!(c.exclude_bias_and_norm_wd);
    assert_eq!(
        (c.warmup_epochs, c.warmup_start_lr, c.min_lr),
        (10, 1e-6, 0.0)
    );
    for (what, cfg) in [
        (
            "temperature",
            DclConfig {
                temperature: 0.0,
                ..DclConfig::default()
            },
        ),
        (
            "sigma",
            DclConfig {
                sigma: Some(-1.0),
                ..DclConfig::default()
            },
        ),
        (
            "lr",
            DclConfig {
                lr: f64::NAN,
                ..DclConfig::default()
            },
        ),
        (
            "weight_decay",
            DclConfig {
                weight_decay: -1.0,
                ..DclConfig::default()
            },
        ),
    ] {
        let mut rng = StdRng::seed_from_u64(0);
        let enc = Mlp::<f32>::new(16, &[8], &mut rng).unwrap();
        let e = Dcl::new(Box::new(enc), 8, cfg, &mut rng)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("Dcl::new") && e.contains(what), "{what}: {e}");
    }
}

#[test]
fn dcl_steps_nidls_warmup_cosine_schedule_and_exposes_projections_and_features() {
    let data = Arc::new(Blobs::new(200, 1));
    let train = Loader::new(data, views(), 32).unwrap().seed(42);
    let batch = train.batch(0, 0).unwrap();
    let mut est = dcl(3, None);
    est.set_run_length(3, 4).unwrap();
    let expected = LinearWarmupCosine::new(1e-2, 4, 12)
        .unwrap()
        .warmup_start_lr(1e-6)
        .lrs(13);
    let mut used = Vec::new();
    for _ in 0..12 {
        used.push(est.lr());
        let mut g = Graph::new();
        let loss = est.loss(&mut g, &batch).unwrap();
        assert!(g.value(loss).item().unwrap().is_finite());
        // The first view's encoder output, as an online probe reads it.
        let h = est.train_features().expect("DCL exposes its features");
        assert_eq!(g.value(h).shape(), &[32, 8]);
        let grads = g.backward(loss).unwrap();
        est.apply_gradients(&grads).unwrap();
    }
    assert_eq!(used, expected[..12]);
    let meta: BTreeMap<String, String> = est.extra_metadata().into_iter().collect();
    assert_eq!(meta["dcl.scheduler_steps"], "12");
    let mut g = Graph::inference();
    let x = g.input(Tensor::zeros(&[5, 16]));
    let z = est.project(&mut g, x).unwrap();
    assert_eq!(g.value(z).shape(), &[5, 8], "encoder → head");
    let h = est.embed(&mut g, x).unwrap();
    assert_eq!(g.value(h).shape(), &[5, 8], "encoder only");
    let hp: BTreeMap<String, String> = est.hparams().into_iter().collect();
    assert_eq!(hp["loss"], "DCLLoss(temperature=0.1)");
    let w: BTreeMap<String, String> = dcl(3, Some(0.5)).hparams().into_iter().collect();
    assert_eq!(w["loss"], "DCLWLoss(sigma=0.5, temperature=0.1)");
}

#[test]
fn dcl_and_dclw_resume_is_bit_identical_with_the_schedule() {
    for sigma in [None, Some(0.5)] {
        let s = Scratch::new("dcl-resume");
        let full = run(s.path(), (3, 5), None, &mut dcl(5, sigma));
        assert!(full.iter().all(|x| x.value.is_finite()), "{sigma:?}");
        let ck = s.join("version_0/checkpoints/epoch=1-step=8.safetensors");
        let c = Checkpoint::load(&ck).unwrap();
        assert_eq!(c.metadata["estimator"], "DCL");
        assert_eq!(c.metadata["dcl.scheduler_steps"], "8");
        // nidl's SimCLRProjectionHead names: two linears with biases around a ReLU.
        for name in [
            "head.layers.0.weight",
            "head.layers.0.bias",
            "head.layers.2.weight",
            "head.layers.2.bias",
        ] {
            assert!(c.get(name).is_some(), "{name} missing");
        }
        // Another init seed: the checkpoint restores weights, optimizer and schedule, and the
        // third epoch is reproduced bit for bit.
        let resumed = run(s.path(), (3, 5), Some(ck), &mut dcl(99, sigma));
        let tail: Vec<_> = full.into_iter().filter(|x| x.epoch == 2).collect();
        assert_eq!(resumed, tail, "{sigma:?}");
    }
}
