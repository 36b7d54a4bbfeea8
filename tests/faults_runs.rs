//! Training runs on inputs that cannot work, through the library and the command line: empty
//! sets, samples the encoder does not take, batches larger than their set or too large for the
//! memory, and corrupt checkpoints are refused before the first step with an error naming the
//! set and the setting to change, and leave no `version_<N>` folder behind; NaN and infinite
//! metrics are logged as they are and reported.

mod common;

use common::Scratch;
use nidl::datasets::loader::{BatchSource, Dataset, Loader};
use nidl::datasets::transforms::{Identity, MultiViews};
use nidl::error::RunInput;
use nidl::nn::Mlp;
use nidl::train::preflight::{memory_total, step_memory};
use nidl::train::{
    Callback, CallbackContext, Estimator, ProbingSets, Reporter, SimClr, SimClrConfig, Trainer,
    TrainerConfig,
};
use nidl::{Error, Result};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// `n` samples of `d` features, computed from their index; label the index.
struct Rows {
    n: usize,
    d: usize,
}

impl Dataset for Rows {
    type Sample = Vec<f32>;
    type Label = f64;
    fn len(&self) -> usize {
        self.n
    }
    fn get(&self, i: usize) -> Result<(Vec<f32>, f64)> {
        let x = (0..self.d)
            .map(|j| ((i * 7 + j * 3) % 11) as f32 / 11.0)
            .collect();
        Ok((x, i as f64))
    }
}

/// Two-view batches of `bs` of `n` rows of `d` features, named `name`.
fn rows(n: usize, d: usize, bs: usize, name: &str) -> Box<dyn BatchSource> {
    let views = MultiViews::new(Identity, 2).unwrap();
    Box::new(
        Loader::new(Arc::new(Rows { n, d }), views, bs)
            .unwrap()
            .named(name),
    )
}

/// One-view batches (what probing sets give) of `bs` of `n` rows of `d` features, named `name`.
fn probe_rows(n: usize, d: usize, bs: usize, name: &str) -> Box<dyn BatchSource> {
    Box::new(
        Loader::new(Arc::new(Rows { n, d }), Identity, bs)
            .unwrap()
            .named(name),
    )
}

/// SimCLR with an MLP encoder on `d` features.
fn simclr(d: usize) -> SimClr {
    let mut rng = StdRng::seed_from_u64(1);
    let enc = Mlp::<f32>::new(d, &[16, 8], &mut rng).unwrap();
    SimClr::new(Box::new(enc), 8, SimClrConfig::default(), &mut rng).unwrap()
}

/// Asserts that `logs` holds no `version_<N>` folder (or does not exist).
fn no_run_folder(logs: &Path) {
    if let Ok(entries) = fs::read_dir(logs) {
        let names: Vec<String> = entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            !names.iter().any(|n| n.starts_with("version_")),
            "{} holds {names:?}",
            logs.display()
        );
    }
}

/// Fits SimCLR on `train` (and `val`) with `callbacks`, logging under `logs`; returns the
/// error, its kind and its text.
fn refused(
    logs: &Path,
    d: usize,
    train: &dyn BatchSource,
    val: Option<&dyn BatchSource>,
    callbacks: Vec<Box<dyn Callback>>,
) -> (RunInput, String) {
    let mut trainer = Trainer::new(TrainerConfig {
        max_epochs: 1,
        ..TrainerConfig::default()
    })
    .log_dir(logs, true);
    for cb in callbacks {
        trainer = trainer.callback(cb);
    }
    let e = trainer.fit(&mut simclr(d), train, val).unwrap_err();
    no_run_folder(logs);
    match e {
        Error::RunInput { input, message } => (input, message),
        other => panic!("expected a RunInput error, got {other}"),
    }
}

#[test]
fn the_trainer_refuses_inputs_that_cannot_train_before_writing_anything() {
    let s = Scratch::new("trainer-refuses");
    let logs = s.join("logs");
    // An empty training set.
    let (input, e) = refused(&logs, 4, &*rows(0, 4, 8, "rows A"), None, vec![]);
    assert_eq!(input, RunInput::Data);
    assert_eq!(e, "the training set (rows A) has no sample");
    // Batches larger than the training set.
    let (input, e) = refused(&logs, 4, &*rows(10, 4, 32, "rows B"), None, vec![]);
    assert_eq!(input, RunInput::BatchSize);
    assert!(
        e.contains("batches of 32") && e.contains("(rows B) has only 10"),
        "{e}"
    );
    // An empty validation set (validation is on by default).
    let val = rows(0, 4, 8, "rows C");
    let (input, e) = refused(&logs, 4, &*rows(40, 4, 8, "rows D"), Some(&*val), vec![]);
    assert_eq!(
        (input, e.as_str()),
        (RunInput::Data, "the validation set (rows C) has no sample")
    );
    // Samples the encoder does not take: the shape and the encoder's expectation are named.
    let (input, e) = refused(&logs, 4, &*rows(40, 3, 8, "rows E"), None, vec![]);
    assert_eq!(input, RunInput::Data);
    assert!(
        e.starts_with("the training set (rows E) has samples shaped [3], which the encoder")
            && e.contains("input [batch, 4]"),
        "{e}"
    );
    // A probing callback's empty test set, and a test set of other samples.
    let probe = |test: Box<dyn BatchSource>| -> Vec<Box<dyn Callback>> {
        let sets = ProbingSets::new(probe_rows(20, 4, 8, "probe train"), test);
        vec![Box::new(nidl::train::RegressionProbing::with_sets(
            sets,
            nidl::probe::Ridge::new(),
        ))]
    };
    let train = rows(40, 4, 8, "rows F");
    let (input, e) = refused(
        &logs,
        4,
        &*train,
        None,
        probe(probe_rows(0, 4, 8, "probe test")),
    );
    assert_eq!(
        (input, e.as_str()),
        (
            RunInput::Data,
            "the probing test set (probe test) has no sample"
        )
    );
    let (_, e) = refused(
        &logs,
        4,
        &*train,
        None,
        probe(probe_rows(5, 6, 8, "probe test")),
    );
    assert!(
        e.contains("the probing test set (probe test) has samples shaped [6]"),
        "{e}"
    );
    // The same inputs, fixed, train: the folder appears once the checks pass.
    let report = Trainer::new(TrainerConfig {
        max_epochs: 1,
        ..TrainerConfig::default()
    })
    .log_dir(&logs, true)
    .fit(&mut simclr(4), &*train, None)
    .unwrap();
    let version = logs.join("version_0");
    assert_eq!(report.log_dir.as_deref(), Some(version.as_path()));
    assert!(version.join("metrics.csv").is_file());
    assert!(version
        .join("checkpoints/epoch=0-step=5.safetensors")
        .is_file());
}

#[test]
fn step_memory_extrapolates_the_tape_exactly() {
    // SimCLR on batches of 64: the similarity matrix of the 128 projections is the largest value.
    let mut est = simclr(4);
    let batch = rows(64, 4, 64, "rows").batch(0, 0).unwrap();
    let need = step_memory(&mut est, &batch).unwrap().unwrap();
    assert_eq!(need.largest_shape, Some(vec![128, 128]));
    assert_eq!(need.largest, 128 * 128 * 4);
    // What an inference pass on the whole batch puts on its tape.
    let mut g = nidl::autograd::Graph::inference();
    est.loss(&mut g, &batch).unwrap();
    let bytes: usize = g.values().map(|t| t.len() * 4).sum();
    assert_eq!(need.bytes, bytes as u64);
    // Nothing to extrapolate from a batch of 4.
    let small = rows(4, 4, 4, "rows").batch(0, 0).unwrap();
    assert_eq!(step_memory(&mut est, &small).unwrap(), None);
}

#[test]
fn a_step_larger_than_the_memory_is_refused() {
    let Some(total) = memory_total() else {
        eprintln!("no /proc/meminfo MemTotal here: nothing to compare with");
        return;
    };
    // Batches of a million: the similarity matrix alone is (2·10⁶)² f32 = 16 TB.
    assert!(total < 16_000_000_000_000, "{total} bytes of memory");
    let s = Scratch::new("memory");
    let logs = s.join("logs");
    let (input, e) = refused(
        &logs,
        4,
        &*rows(1_000_000, 4, 1_000_000, "rows"),
        None,
        vec![],
    );
    assert_eq!(input, RunInput::BatchSize);
    assert!(
        e.starts_with("a training step on batches of 1000000 samples needs at least")
            && e.contains("the largest, [2000000, 2000000] f32, takes 16000.0 GB")
            && e.contains("MemTotal"),
        "{e}"
    );
}

/// A callback whose score is NaN after every epoch.
struct NanScore;

impl Callback for NanScore {
    fn on_train_epoch_end(
        &mut self,
        _ctx: &CallbackContext,
        _est: &dyn Estimator,
    ) -> Result<Vec<(String, f64)>> {
        Ok(vec![
            ("probe/score".into(), f64::NAN),
            ("probe/ok".into(), 1.0),
        ])
    }
}

/// Keeps what `non_finite_metric` was told.
struct Told(Arc<Mutex<Vec<(String, u64)>>>);

impl Reporter for Told {
    fn non_finite_metric(&mut self, tag: &str, value: f64, global_step: u64) {
        assert!(value.is_nan());
        self.0.lock().unwrap().push((tag.to_string(), global_step));
    }
}

#[test]
fn non_finite_metrics_are_logged_as_they_are_and_reported() {
    let s = Scratch::new("non-finite");
    let told = Arc::new(Mutex::new(Vec::new()));
    let report = Trainer::new(TrainerConfig {
        max_epochs: 3,
        ..TrainerConfig::default()
    })
    .log_dir(s.path(), false)
    .reporter(Box::new(Told(Arc::clone(&told))))
    .callback(Box::new(NanScore))
    .fit(&mut simclr(4), &*rows(16, 4, 8, "rows"), None)
    .unwrap();
    // Told once, at the first NaN; counted after.
    assert_eq!(*told.lock().unwrap(), vec![("probe/score".to_string(), 1)]);
    assert_eq!(report.non_finite.len(), 1);
    let m = &report.non_finite[0];
    assert_eq!(
        (m.tag.as_str(), m.first_step, m.last_step, m.count),
        ("probe/score", 1, 5, 3)
    );
    let csv = fs::read_to_string(s.join("version_0/metrics.csv")).unwrap();
    assert_eq!(csv.matches(",probe/score,NaN\n").count(), 3, "{csv}");
}

#[cfg(feature = "cli")]
mod cli {
    use super::no_run_folder;
    use crate::common::cli::{assert_fails, nidl};
    use crate::common::Scratch;
    use std::fs;
    use std::path::{Path, PathBuf};
    use std::process::Output;

    fn ok(out: &Output) -> (String, String) {
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert!(out.status.success(), "failed: {stderr}\n{stdout}");
        (stdout, stderr)
    }

    /// A synthetic OpenBHB of 40 training and 10 + 10 validation subjects under `s`.
    fn openbhb(s: &Scratch) -> PathBuf {
        crate::common::cli::synthetic_openbhb(s, [40, 10, 10])
    }

    /// Rewrites `participants.tsv` of `data`: `keep` picks the rows to keep from their fields
    /// (the header stays), and `edit` changes their fields, given the header.
    fn edit_participants(
        data: &Path,
        keep: impl Fn(&[String], &[&str]) -> bool,
        edit: impl Fn(&[String], &mut Vec<String>, usize),
    ) {
        let path = data.join("participants.tsv");
        let text = fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        let header: Vec<String> = lines
            .next()
            .unwrap()
            .split('\t')
            .map(String::from)
            .collect();
        let mut out = header.join("\t") + "\n";
        for (i, line) in lines.enumerate() {
            let fields: Vec<&str> = line.split('\t').collect();
            if keep(&header, &fields) {
                let mut fields: Vec<String> = fields.into_iter().map(String::from).collect();
                edit(&header, &mut fields, i);
                out += &(fields.join("\t") + "\n");
            }
        }
        fs::write(&path, out).unwrap();
    }

    /// Column `name` of the header.
    fn column(header: &[String], name: &str) -> usize {
        header.iter().position(|h| h == name).unwrap()
    }

    /// Runs training command `cmd` on `data`, logging to `logs`: `epochs` epochs of batches of
    /// 16, with `extra` options.
    fn train(cmd: &str, epochs: &str, data: &Path, logs: &Path, extra: &[&str]) -> Output {
        let mut args = vec![
            cmd,
            "--data-dir",
            data.to_str().unwrap(),
            "--log-dir",
            logs.to_str().unwrap(),
            "--epochs",
            epochs,
            "--batch-size",
            "16",
            "--no-progress",
        ];
        args.extend_from_slice(extra);
        nidl(&args)
    }

    /// [`train`] for 2 epochs of an OpenBHB command.
    fn train_openbhb(cmd: &str, data: &Path, logs: &Path, extra: &[&str]) -> Output {
        train(cmd, "2", data, logs, extra)
    }

    #[test]
    fn empty_openbhb_splits_are_refused_naming_the_split() {
        let s = Scratch::new("empty-openbhb");
        let data = openbhb(&s);
        let logs = s.join("logs");
        // Only the validation subjects: the training split is empty.
        edit_participants(&data, |h, f| f[column(h, "split")] != "train", |_, _, _| {});
        let out = train_openbhb("yaware-openbhb", &data, &logs, &[]);
        assert_fails(
            &out,
            &[
                "option --data-dir",
                "the training set (OpenBHB train split of ",
                "participants.tsv) has no sample",
            ],
        );
        no_run_folder(&logs);
        // Only the header: the same, with probing off too.
        edit_participants(&data, |_, _| false, |_, _, _| {});
        let out = train_openbhb("barlow-openbhb", &data, &logs, &["--probe-every", "0"]);
        assert_fails(&out, &["--data-dir", "the training set", "has no sample"]);
        no_run_folder(&logs);
        // Only training subjects: no validation set, and without validation no probing test set.
        let s = Scratch::new("empty-openbhb-val");
        let data = openbhb(&s);
        edit_participants(&data, |h, f| f[column(h, "split")] == "train", |_, _, _| {});
        let out = train_openbhb("yaware-openbhb", &data, &logs, &[]);
        assert_fails(
            &out,
            &[
                "--data-dir",
                "the validation set (OpenBHB val split",
                "no sample",
            ],
        );
        let out = train_openbhb(
            "yaware-openbhb",
            &data,
            &logs,
            &["--limit-val-batches", "0"],
        );
        assert_fails(
            &out,
            &[
                "--data-dir",
                "the probing test set (OpenBHB val split",
                "no sample",
            ],
        );
        no_run_folder(&logs);
        // Without validation or probing, the training split alone trains.
        let out = train_openbhb(
            "yaware-openbhb",
            &data,
            &logs,
            &["--limit-val-batches", "0", "--probe-every", "0"],
        );
        let (stdout, _) = ok(&out);
        assert!(stdout.contains("done: 2 epochs, 6 steps"), "{stdout}");
    }

    /// An idx file: magic, big-endian dimensions, bytes.
    fn idx(path: &Path, magic: u32, dims: &[u32], data: &[u8]) {
        let mut bytes = magic.to_be_bytes().to_vec();
        for d in dims {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        bytes.extend_from_slice(data);
        fs::write(path, bytes).unwrap();
    }

    /// MNIST files of `n` `side`×`side` images for `prefix` (`train`, `t10k`) in `dir`.
    fn mnist_files(dir: &Path, prefix: &str, n: u32, side: u32) {
        let pixels: Vec<u8> = (0..n * side * side).map(|i| (i * 37 % 256) as u8).collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        let images = dir.join(format!("{prefix}-images-idx3-ubyte"));
        idx(&images, 0x0000_0803, &[n, side, side], &pixels);
        idx(
            &dir.join(format!("{prefix}-labels-idx1-ubyte")),
            0x0000_0801,
            &[n],
            &labels,
        );
    }

    /// [`train`] for 1 epoch of `simclr-mnist`.
    fn simclr(data: &Path, logs: &Path, extra: &[&str]) -> Output {
        train("simclr-mnist", "1", data, logs, extra)
    }

    #[test]
    fn mnist_images_of_another_size_are_refused_before_training() {
        let s = Scratch::new("mnist-32");
        let (data, logs) = (s.join("mnist"), s.join("logs"));
        fs::create_dir_all(&data).unwrap();
        mnist_files(&data, "train", 64, 32);
        mnist_files(&data, "t10k", 32, 32);
        // The views crop to 28×28, the probes see the 32×32 images: refused before training.
        let out = simclr(&data, &logs, &[]);
        assert_fails(
            &out,
            &[
                "option --data-dir: the probing train set (MNIST train-* files in ",
                "has samples shaped [1, 32, 32]",
                "expected input [batch, 1, 28, 28]",
            ],
        );
        no_run_folder(&logs);
        // 28×28 images train.
        mnist_files(&data, "train", 64, 28);
        mnist_files(&data, "t10k", 32, 28);
        ok(&simclr(&data, &logs, &[]));
        assert!(logs.join("version_0/metrics.csv").is_file());
    }

    #[test]
    fn batches_larger_than_the_set_or_the_memory_are_refused() {
        let s = Scratch::new("batch-size");
        let logs = s.join("logs");
        let d = logs.to_str().unwrap();
        let out = nidl(&["simclr-mnist", "--log-dir", d, "--batch-size", "100000"]);
        assert_fails(
            &out,
            &[
                "option --batch-size: batches of 100000 samples",
                "has only 60000",
            ],
        );
        no_run_folder(&logs);
        // 60 000 × 2 views: the similarity matrix alone is 120 000² f32 = 57.6 GB, and the
        // forward pass keeps several of its size.
        match nidl::train::preflight::memory_total() {
            Some(total) if total < 250_000_000_000 => {
                let out = nidl(&["simclr-mnist", "--log-dir", d, "--batch-size", "60000"]);
                assert_fails(
                    &out,
                    &[
                        "option --batch-size: a training step on batches of 60000 samples",
                        "the largest, [120000, 120000] f32, takes 57.6 GB",
                        "MemTotal",
                    ],
                );
                no_run_folder(&logs);
            }
            total => eprintln!("memory {total:?}: a step on 60 000 images could fit, not run"),
        }
    }

    #[test]
    fn a_corrupt_checkpoint_leaves_no_run_folder() {
        let s = Scratch::new("corrupt-checkpoint");
        let logs = s.join("logs");
        let bad = s.join("bad.safetensors");
        fs::write(&bad, b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ").unwrap();
        let out = nidl(&[
            "simclr-mnist",
            "--log-dir",
            logs.to_str().unwrap(),
            "--resume",
            bad.to_str().unwrap(),
        ]);
        assert_fails(&out, &["--resume", "bad.safetensors"]);
        no_run_folder(&logs);
    }

    #[test]
    fn non_finite_metrics_are_warned_once_per_tag_and_summarised() {
        let s = Scratch::new("huge-ages");
        let data = openbhb(&s);
        let logs = s.join("logs");
        // Ages of ±1e308 in the validation split (the probes' test set): the age probe's errors
        // overflow. Barlow Twins does not read the ages, so training goes on.
        edit_participants(
            &data,
            |_, _| true,
            |h, f, i| {
                if f[column(h, "split")] != "train" {
                    f[column(h, "age")] = if i % 2 == 0 { "1e308" } else { "-1e308" }.into();
                }
            },
        );
        let out = train_openbhb("barlow-openbhb", &data, &logs, &["--warmup-epochs", "1"]);
        let (stdout, stderr) = ok(&out);
        let warnings: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("warning: "))
            .collect();
        assert!(
            warnings
                .contains(&"warning: non-finite metric task0/MAE = inf at step 2 (logged as is)"),
            "{stderr}"
        );
        // One line per tag, however many epochs: MAE, MedAE, RMSE, MSE, R2, PCC, EVar.
        assert_eq!(warnings.len(), 7, "{stderr}");
        assert!(
            stdout.contains(
                "non-finite metrics (logged as they are):\n  task0/MAE inf at 2 steps (2 to 5)\n"
            ),
            "{stdout}"
        );
        let csv = fs::read_to_string(logs.join("version_0/metrics.csv")).unwrap();
        assert!(
            csv.contains("2,0,task0/MAE,inf\n") && csv.contains("5,1,task0/R2,NaN\n"),
            "{csv}"
        );
    }
}
