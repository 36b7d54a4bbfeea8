//! The trainer through the library: a small tabular SimCLR / y-Aware run, NaN losses stopping the
//! run with the last checkpoint intact, resume, and checkpoint files read robustly.

mod common;

use common::Scratch;
use nidl::autograd::{Grads, Graph, Var};
use nidl::datasets::loader::{Batch, Dataset, Loader};
use nidl::datasets::transforms::{GaussianNoise, Identity, MultiViews, RandomMask, TransformExt};
use nidl::nn::Mlp;
use nidl::probe::{LogisticRegression, MultiTask, Ridge, TaskProbe};
use nidl::train::{
    Checkpoint, ClassificationProbing, Estimator, MultitaskProbing, RegressionProbing, SimClr,
    SimClrConfig, StoredTensor, Trainer, TrainerConfig, YAware, YAwareConfig,
};
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
        max_epochs: 3,
        ..SimClrConfig::default()
    };
    SimClr::new(Box::new(enc), 8, cfg, &mut rng).unwrap()
}

/// Runs `epochs` of SimCLR with a probe; returns every scalar logged.
fn run(
    dir: &std::path::Path,
    epochs: usize,
    resume: Option<std::path::PathBuf>,
    est: &mut dyn Estimator,
) -> Vec<nidl::log::Scalar> {
    let data = Arc::new(Blobs::new(200, 1));
    let train = Loader::new(Arc::clone(&data), views(), 32)
        .unwrap()
        .shuffle(true)
        .seed(42);
    let val = Loader::new(Arc::new(Blobs::new(64, 2)), views(), 32)
        .unwrap()
        .seed(42);
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
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            nidl::log::Scalar {
                step: f[0].parse().unwrap(),
                epoch: f[1].parse().unwrap(),
                tag: f[2].into(),
                value: f[3].parse().unwrap(),
            }
        })
        .collect()
}

#[test]
fn resume_is_bit_identical_and_probes_log_task_tags() {
    let s = Scratch::new("resume");
    let full = run(s.path(), 3, None, &mut simclr(5));
    assert!(full.iter().any(|x| x.tag == "task0/accuracy"));
    assert!(full.iter().any(|x| x.tag == "task1/R2"));
    assert_eq!(full.iter().filter(|x| x.tag == "loss/train").count(), 12);
    let ck = s.join("version_0/checkpoints/epoch=1-step=8.safetensors");
    // A freshly initialised model with another init seed: the checkpoint overwrites it all.
    let resumed = run(s.path(), 3, Some(ck), &mut simclr(99));
    let tail: Vec<_> = full.into_iter().filter(|x| x.epoch == 2).collect();
    assert_eq!(resumed, tail);
}

/// SimCLR whose loss becomes NaN at global step `bad_step`.
struct Poisoned {
    inner: SimClr,
    step: u64,
    bad_step: u64,
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
        if self.step > self.bad_step {
            g.mul_scalar(l, f32::NAN)
        } else {
            Ok(l)
        }
    }
    fn apply_gradients(&mut self, grads: &Grads<f32>) -> Result<()> {
        self.inner.apply_gradients(grads)
    }
    fn on_epoch_start(&mut self, epoch: usize) -> Result<()> {
        self.inner.on_epoch_start(epoch)
    }
    fn lr(&self) -> f64 {
        self.inner.lr()
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
            assert!(t.all_finite(), "{name} finite");
        }
    }
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
            Box::new(probe_tr.clone()),
            Box::new(probe_te.clone()),
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
        names.contains(&"LogisticRegression/accuracy") && names.contains(&"Ridge/R2"),
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
    assert_eq!(meta["yaware.bandwidth"], "scalar:16");
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
