//! The online linear probe, the best checkpoint and early stopping through the library: the
//! online probe leaves the SSL trajectory bit-identical, logs finite `online/<metric>` tags,
//! reuses the probes' test embeddings and resumes exactly; `best.safetensors` holds the state
//! of the best epoch; early stopping stops after `patience` evaluations without improvement
//! (also across a resume); a tag never logged is an error naming it and the logged tags.

mod common;

use common::Scratch;
use nidl::datasets::loader::{BatchSource, Dataset, Loader};
use nidl::datasets::transforms::{GaussianNoise, Identity, MultiViews, RandomMask, TransformExt};
use nidl::nn::Mlp;
use nidl::probe::LogisticRegression;
use nidl::train::{
    Callback, CallbackContext, Checkpoint, ClassificationProbing, Estimator, FitReport, Mode,
    OnlineProbe, OnlineProbeConfig, ProbingSets, SimClr, SimClrConfig, StoredTensor, Trainer,
    TrainerConfig, BEST_CHECKPOINT, BEST_JSON,
};
use nidl::{Result, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `n` samples of 12 features in 3 clusters (class `i % 3`), the class as the label.
struct Clusters {
    x: Vec<Vec<f32>>,
    y: Vec<f64>,
}

impl Clusters {
    fn new(n: usize, seed: u64) -> Arc<Self> {
        let mut rng = StdRng::seed_from_u64(seed);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for i in 0..n {
            let c = i % 3;
            x.push(
                (0..12)
                    .map(|j| (if j / 4 == c { 2.0 } else { 0.0 }) + rng.gen_range(-0.5..0.5))
                    .collect(),
            );
            y.push(c as f64);
        }
        Arc::new(Clusters { x, y })
    }
}

impl Dataset for Clusters {
    type Sample = Vec<f32>;
    type Label = f64;
    fn len(&self) -> usize {
        self.x.len()
    }
    fn get(&self, i: usize) -> Result<(Vec<f32>, f64)> {
        Ok((self.x[i].clone(), self.y[i]))
    }
}

fn simclr() -> SimClr {
    let mut rng = StdRng::seed_from_u64(7);
    let enc = Mlp::<f32>::new(12, &[24, 8], &mut rng).unwrap();
    let cfg = SimClrConfig {
        lr: 1e-2,
        ..SimClrConfig::default()
    };
    SimClr::new(Box::new(enc), 8, cfg, &mut rng).unwrap()
}

/// Training (shuffled, batches of 30, two noisy masked views) and validation loaders.
fn loaders() -> (impl BatchSource, impl BatchSource) {
    let views = MultiViews::new(
        RandomMask::new(0.2)
            .unwrap()
            .then(GaussianNoise::new(0.1).unwrap()),
        2,
    )
    .unwrap();
    let train = Loader::new(Clusters::new(150, 1), views.clone(), 30)
        .unwrap()
        .shuffle(true);
    let val = Loader::new(Clusters::new(60, 2), views, 30).unwrap();
    (train, val)
}

/// The probing sets: 150 training clusters, 90 test clusters.
fn probing_sets() -> ProbingSets {
    let set = |n, seed| Box::new(Loader::new(Clusters::new(n, seed), Identity, 64).unwrap());
    ProbingSets::new(set(150, 1), set(90, 3))
}

/// A callback logging `flat/score` = 1 after every epoch: a tag that never improves after its
/// first value.
struct Flat;

impl Callback for Flat {
    fn on_train_epoch_end(
        &mut self,
        _: &CallbackContext,
        _: &dyn Estimator,
    ) -> Result<Vec<(String, f64)>> {
        Ok(vec![("flat/score".into(), 1.0)])
    }
}

/// One run's setup.
#[derive(Default)]
struct Setup {
    epochs: usize,
    online: bool,
    logistic: bool,
    flat: bool,
    best: Option<(&'static str, Option<Mode>)>,
    early_stop: Option<(&'static str, usize)>,
    resume: Option<PathBuf>,
}

/// A finished (or failed) run: its report, folder and final model state.
struct Run {
    report: Result<FitReport>,
    dir: PathBuf,
    state: Vec<(String, Tensor<f32>)>,
    sets: ProbingSets,
}

/// Runs `setup` into a new version folder of `root`, with epoch checkpoints and `loss/train`
/// at every step (4 steps per epoch).
fn run(root: &Path, setup: Setup) -> Run {
    let (train, val) = loaders();
    let dir = nidl::log::next_version_dir(root).unwrap();
    let cfg = TrainerConfig {
        max_epochs: setup.epochs,
        limit_train_batches: Some(4),
        log_every_n_steps: 1,
        checkpoint_dir: Some(dir.join("checkpoints")),
        resume: setup.resume,
        ..TrainerConfig::default()
    };
    let sets = probing_sets();
    let mut trainer = Trainer::new(cfg).logger(nidl::log::RunLogger::create(&dir).unwrap());
    if setup.logistic {
        let probe = ClassificationProbing::with_sets(sets.clone(), LogisticRegression::new());
        trainer = trainer.callback(Box::new(probe));
    }
    if setup.flat {
        trainer = trainer.callback(Box::new(Flat));
    }
    if setup.online {
        let config = OnlineProbeConfig {
            lr: 0.05,
            ..OnlineProbeConfig::new(3, 42)
        };
        let online = OnlineProbe::new(sets.clone(), config).unwrap();
        trainer = trainer.callback(Box::new(online));
    }
    if let Some((tag, mode)) = setup.best {
        trainer = trainer.checkpoint_best(tag, mode);
    }
    if let Some((tag, patience)) = setup.early_stop {
        trainer = trainer.early_stopping(tag, None, patience);
    }
    let mut est = simclr();
    let report = trainer.fit(&mut est, &train, Some(&val));
    Run {
        report,
        dir,
        state: est.state(),
        sets,
    }
}

/// The rows `(step, epoch, tag, value)` of the run's `metrics.csv`.
fn rows(dir: &Path) -> Vec<(u64, usize, String, f64)> {
    common::metrics_rows(&fs::read_to_string(dir.join("metrics.csv")).unwrap())
}

/// The `(step, value)` rows of `tag`.
fn series(dir: &Path, tag: &str) -> Vec<(u64, f64)> {
    rows(dir)
        .into_iter()
        .filter(|r| r.2 == tag)
        .map(|r| (r.0, r.3))
        .collect()
}

/// The `F32` tensors of a checkpoint file, by name, as bits.
fn tensors(path: &Path) -> Vec<(String, Vec<u32>)> {
    let ck = Checkpoint::load(path).unwrap();
    ck.tensors
        .iter()
        .map(|(n, t)| match t {
            StoredTensor::F32(t) => (
                n.clone(),
                t.data().unwrap().iter().map(|v| v.to_bits()).collect(),
            ),
            _ => panic!("{n}: not F32"),
        })
        .collect()
}

fn bits(state: &[(String, Tensor<f32>)]) -> Vec<(String, Vec<u32>)> {
    state
        .iter()
        .map(|(n, t)| {
            (
                n.clone(),
                t.data().unwrap().iter().map(|v| v.to_bits()).collect(),
            )
        })
        .collect()
}

const ONLINE_TAGS: [&str; 6] = [
    "online/accuracy",
    "online/balanced_accuracy",
    "online/f1_macro",
    "online/precision_macro",
    "online/recall_macro",
    "online/f1_weighted",
];

#[test]
fn the_online_probe_leaves_the_trajectory_bit_identical_and_logs_finite_tags() {
    let s = Scratch::new("online-trajectory");
    let base = Setup {
        epochs: 3,
        logistic: true,
        ..Setup::default()
    };
    let without = run(s.path(), base);
    let with = run(
        s.path(),
        Setup {
            epochs: 3,
            logistic: true,
            online: true,
            ..Setup::default()
        },
    );
    without.report.as_ref().unwrap();
    with.report.as_ref().unwrap();
    // The same losses and final weights, bit for bit.
    let losses = |r: &Run| -> Vec<(u64, u64)> {
        series(&r.dir, "loss/train")
            .into_iter()
            .chain(series(&r.dir, "loss/val"))
            .map(|(s, v)| (s, v.to_bits()))
            .collect()
    };
    assert_eq!(losses(&without).len(), 12 + 3);
    assert_eq!(losses(&without), losses(&with));
    assert_eq!(bits(&without.state), bits(&with.state));
    // The logistic probe's scores too (the online probe changes no embedding).
    assert_eq!(
        series(&without.dir, "LogisticRegression/accuracy"),
        series(&with.dir, "LogisticRegression/accuracy")
    );
    // online/<metric> after every epoch, at its last step, finite, within [0, 1].
    for tag in ONLINE_TAGS {
        let v = series(&with.dir, tag);
        assert_eq!(
            v.iter().map(|r| r.0).collect::<Vec<_>>(),
            vec![3, 7, 11],
            "{tag}"
        );
        assert!(
            v.iter()
                .all(|r| r.1.is_finite() && (0.0..=1.0).contains(&r.1)),
            "{tag}: {v:?}"
        );
        assert!(series(&without.dir, tag).is_empty());
    }
    // Three separated clusters: after 12 steps the online probe is far above chance (1/3).
    let acc = series(&with.dir, "online/accuracy");
    assert!(acc[2].1 > 0.8, "online accuracy {acc:?}");
    // No extra embedding: the online probe used the logistic probe's test embeddings.
    assert_eq!(without.sets.embed_count(), 3);
    assert_eq!(with.sets.embed_count(), 3);
    // Its state is in every checkpoint, under callback.online_probe.
    let ck = Checkpoint::load(&with.dir.join("checkpoints/epoch=2-step=12.safetensors")).unwrap();
    let shape = |n: &str| match ck.get(n) {
        Some(StoredTensor::F32(t)) => t.shape().to_vec(),
        _ => panic!("no {n}"),
    };
    assert_eq!(shape("callback.online_probe.weight"), vec![3, 8]);
    assert_eq!(shape("callback.online_probe.bias"), vec![3]);
    assert_eq!(shape("callback.online_probe.exp_avg"), vec![27]);
}

#[test]
fn the_online_probe_alone_embeds_the_test_set_only() {
    let s = Scratch::new("online-alone");
    let r = run(
        s.path(),
        Setup {
            epochs: 2,
            online: true,
            ..Setup::default()
        },
    );
    r.report.unwrap();
    assert_eq!(series(&r.dir, "online/accuracy").len(), 2);
    // Both sets are never embedded: only the test set, by the online probe.
    assert_eq!(r.sets.embed_count(), 0);
}

#[test]
fn a_run_with_the_online_probe_resumes_exactly_and_refuses_a_checkpoint_without_it() {
    let s = Scratch::new("online-resume");
    let full = run(
        s.path(),
        Setup {
            epochs: 3,
            online: true,
            ..Setup::default()
        },
    );
    full.report.as_ref().unwrap();
    let resumed = run(
        s.path(),
        Setup {
            epochs: 3,
            online: true,
            resume: Some(full.dir.join("checkpoints/epoch=0-step=4.safetensors")),
            ..Setup::default()
        },
    );
    resumed.report.as_ref().unwrap();
    let last = "checkpoints/epoch=2-step=12.safetensors";
    assert_eq!(
        tensors(&full.dir.join(last)),
        tensors(&resumed.dir.join(last))
    );
    for tag in ONLINE_TAGS {
        let f = series(&full.dir, tag);
        assert_eq!(series(&resumed.dir, tag), f[1..].to_vec(), "{tag}");
    }
    // A checkpoint written without the online probe cannot continue it.
    let plain = run(
        s.path(),
        Setup {
            epochs: 2,
            ..Setup::default()
        },
    );
    plain.report.as_ref().unwrap();
    let ck = plain.dir.join("checkpoints/epoch=0-step=4.safetensors");
    let refused = run(
        s.path(),
        Setup {
            epochs: 2,
            online: true,
            resume: Some(ck.clone()),
            ..Setup::default()
        },
    );
    let e = refused.report.err().expect("refused").to_string();
    assert!(e.contains(&ck.display().to_string()), "{e}");
    assert!(
        e.contains("online_probe.weight") && e.contains("without the online probe"),
        "{e}"
    );
}

/// The epoch (0-based) and step of the best value of `tag` in `mode` (the first of equal
/// values: improvements are strict).
fn best_of(dir: &Path, tag: &str, max: bool) -> (usize, u64, f64) {
    let mut best: Option<(usize, u64, f64)> = None;
    for r in rows(dir).into_iter().filter(|r| r.2 == tag) {
        let better = match best {
            None => true,
            Some((_, _, b)) => (max && r.3 > b) || (!max && r.3 < b),
        };
        if better {
            best = Some((r.1, r.0 + 1, r.3));
        }
    }
    best.unwrap()
}

#[test]
fn the_best_checkpoint_holds_the_state_of_the_best_epoch() {
    let s = Scratch::new("best");
    for (tag, mode, max) in [
        ("loss/val", None, false),
        ("loss/val", Some(Mode::Max), true),
        ("LogisticRegression/f1_macro", None, true),
    ] {
        let r = run(
            s.path(),
            Setup {
                epochs: 4,
                logistic: true,
                best: Some((tag, mode)),
                ..Setup::default()
            },
        );
        let report = r.report.unwrap();
        let (epoch, step, value) = best_of(&r.dir, tag, max);
        let ck = r.dir.join("checkpoints");
        let epoch_file = format!("epoch={epoch}-step={step}.safetensors");
        let best = tensors(&ck.join(BEST_CHECKPOINT));
        assert_eq!(best, tensors(&ck.join(&epoch_file)), "{tag} {mode:?}");
        let meta = Checkpoint::load(&ck.join(BEST_CHECKPOINT))
            .unwrap()
            .metadata;
        assert_eq!(meta["best.tag"], tag);
        assert_eq!(meta["best.value"].parse::<f64>().unwrap(), value);
        assert_eq!(meta["epoch"], epoch.to_string());
        let json = fs::read_to_string(ck.join(BEST_JSON)).unwrap();
        let m = if max { "max" } else { "min" };
        assert_eq!(
            json,
            format!(
                "{{\"tag\": \"{tag}\", \"mode\": \"{m}\", \"value\": {value}, \"epoch\": {epoch}, \
                 \"global_step\": {step}, \"epoch_checkpoint\": \"{epoch_file}\"}}\n"
            )
        );
        let note = report.notes.join("\n");
        assert!(
            note.contains(&format!(
                "best checkpoint: {tag} = {value} ({m}) after epoch {}",
                epoch + 1
            )),
            "{note}"
        );
        let hparams = fs::read_to_string(r.dir.join("hparams.yaml")).unwrap();
        assert!(hparams.contains("checkpoint_best"), "{hparams}");
    }
}

#[test]
fn a_resumed_run_keeps_the_best_value_of_the_run_it_continues() {
    let s = Scratch::new("best-resume");
    let first = run(
        s.path(),
        Setup {
            epochs: 3,
            flat: true,
            best: Some(("flat/score", None)),
            ..Setup::default()
        },
    );
    first.report.unwrap();
    let best = first.dir.join("checkpoints").join(BEST_CHECKPOINT);
    assert_eq!(
        tensors(&best),
        tensors(&first.dir.join("checkpoints/epoch=0-step=4.safetensors"))
    );
    let resumed = run(
        s.path(),
        Setup {
            epochs: 3,
            flat: true,
            best: Some(("flat/score", None)),
            resume: Some(first.dir.join("checkpoints/epoch=1-step=8.safetensors")),
            ..Setup::default()
        },
    );
    let note = resumed.report.unwrap().notes.join("\n");
    // The restored best (epoch 1's) is not beaten by epoch 3's equal value: nothing written.
    assert_eq!(
        note,
        "best checkpoint: flat/score = 1 (max) after epoch 1 (step 4), before the resume: in the \
         checkpoint folder of the run resumed from"
    );
    assert!(!resumed
        .dir
        .join("checkpoints")
        .join(BEST_CHECKPOINT)
        .exists());
}

#[test]
fn early_stopping_stops_after_patience_evaluations_without_improvement() {
    let s = Scratch::new("early-stop");
    let r = run(
        s.path(),
        Setup {
            epochs: 10,
            flat: true,
            early_stop: Some(("flat/score", 2)),
            ..Setup::default()
        },
    );
    let report = r.report.unwrap();
    // Epoch 1 sets the best, epochs 2 and 3 do not improve: it stops after epoch 3.
    assert_eq!(report.epochs.len(), 3);
    assert_eq!(report.global_step, 12);
    let note = report.notes.join("\n");
    assert!(
        note.contains("early stopping: stopped after epoch 3: flat/score did not improve (max) for 2 evaluation(s) in a row (patience 2); best 1 at epoch 1"),
        "{note}"
    );
    // The run's files are complete: the epoch's checkpoint, the figure, the metrics.
    assert!(r
        .dir
        .join("checkpoints/epoch=2-step=12.safetensors")
        .is_file());
    assert!(!r
        .dir
        .join("checkpoints/epoch=3-step=16.safetensors")
        .exists());
    assert!(r.dir.join("metrics.png").is_file());
    assert_eq!(series(&r.dir, "flat/score").len(), 3);
    // Resumed after epoch 2 (one evaluation without improvement counted), it stops after one
    // more epoch, as the uninterrupted run.
    let resumed = run(
        s.path(),
        Setup {
            epochs: 10,
            flat: true,
            early_stop: Some(("flat/score", 2)),
            resume: Some(r.dir.join("checkpoints/epoch=1-step=8.safetensors")),
            ..Setup::default()
        },
    );
    let report = resumed.report.unwrap();
    assert_eq!(report.epochs.len(), 1);
    assert_eq!(report.global_step, 12);
}

#[test]
fn a_tag_never_logged_is_an_error_naming_it_and_the_logged_tags() {
    let s = Scratch::new("bad-tag");
    let r = run(
        s.path(),
        Setup {
            epochs: 3,
            logistic: true,
            best: Some(("LogisticRegression/acuracy", None)),
            ..Setup::default()
        },
    );
    let e = r.report.err().expect("refused");
    assert!(
        matches!(
            &e,
            nidl::Error::InvalidArgument {
                op: "Trainer::checkpoint_best",
                ..
            }
        ),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("'LogisticRegression/acuracy' was not logged by the end of epoch 1"),
        "{msg}"
    );
    assert!(
        msg.contains("LogisticRegression/accuracy") && msg.contains("loss/val"),
        "{msg}"
    );
    let r = run(
        s.path(),
        Setup {
            epochs: 3,
            flat: true,
            early_stop: Some(("flat/scor", 1)),
            ..Setup::default()
        },
    );
    let e = r.report.err().expect("refused");
    assert!(
        matches!(
            &e,
            nidl::Error::InvalidArgument {
                op: "Trainer::early_stopping",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("flat/score"), "{e}");
}
