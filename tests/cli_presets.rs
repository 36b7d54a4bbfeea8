//! The four training commands and their presets (`nidl fit examples/experiments/<command>.toml`)
//! against golden runs written by the binary of commit 04d0925, before the commands became
//! presets (tests/data/presets/README.md says how): `metrics.csv` byte for byte, and
//! `hparams.yaml`.
#![cfg(feature = "cli")]

mod common;

use common::cli::{nidl, ok};
use common::Scratch;
use std::fs;
use std::path::{Path, PathBuf};

/// The command-line flags of the golden runs.
const FLAGS: &[&str] = &[
    "--epochs",
    "2",
    "--limit-train-batches",
    "3",
    "--limit-val-batches",
    "2",
    "--probe-train-limit",
    "300",
    "--probe-test-limit",
    "100",
    "--batch-size",
    "32",
    "--probe",
    "logreg,knn",
    "--no-progress",
];

/// The same settings as `--set`s of the presets (the probe lists: `--probe logreg,knn`).
const SETS: &[&str] = &[
    "run.epochs=2",
    "run.limit_train_batches=3",
    "run.limit_val_batches=2",
    "probing.train_limit=300",
    "probing.test_limit=100",
    "run.batch_size=32",
    "run.progress=false",
];

/// `--probe logreg,knn` on MNIST: the digits' logistic regression, then a 5-NN group.
const MNIST_PROBES: &str = r#"probe=[{kind="logreg",task="digit",max_iter=200},
    {kind="knn",task="digit",group=1}]"#;

/// `--probe logreg,knn` on OpenBHB: Ridge on age and logreg on sex, then the k-NN group named
/// as the commands name it.
const OPENBHB_PROBES: &str = r#"probe=[{kind="ridge",task="age"},
    {kind="logreg",task="sex",max_iter=200},
    {kind="knn_regressor",task="age",group=1,name="KNeighborsRegressor"},
    {kind="knn",task="sex",group=1,name="KNeighborsClassifier"}]"#;

/// The golden file `<command>.<what>` (`metrics.csv`, `hparams.yaml`).
fn golden(command: &str, what: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/presets");
    fs::read_to_string(dir.join(format!("{command}.{what}"))).unwrap()
}

/// `nidl command FLAGS` into `s/<command>-cmd`; its run folder.
fn run_command(s: &Scratch, command: &str) -> PathBuf {
    let logs = s.join(format!("{command}-cmd"));
    let mut a = vec![command, "--log-dir", logs.to_str().unwrap()];
    a.extend_from_slice(FLAGS);
    ok(&nidl(&a));
    logs.join("version_0")
}

/// `nidl fit examples/experiments/<command>.toml` with [`SETS`] and `probes` into
/// `s/<command>-fit`; its run folder.
fn run_preset(s: &Scratch, command: &str, probes: &str) -> PathBuf {
    let logs = s.join(format!("{command}-fit"));
    let log_set = format!("run.log_dir={}", logs.display());
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("examples/experiments/{command}.toml"));
    let probes = probes.replace('\n', " ");
    let mut a = vec![
        "fit",
        file.to_str().unwrap(),
        "--set",
        &log_set,
        "--set",
        &probes,
    ];
    for set in SETS {
        a.extend(["--set", set]);
    }
    ok(&nidl(&a));
    logs.join("version_0")
}

/// The lines of `yaml` that are not about the views: `nidl fit` records its views as
/// `views.<kind>: [...]` (any list of views, compared on resume), the OpenBHB commands as nidl's
/// `mask_prob` and `noise_std`, the MNIST commands not at all (their views are fixed).
fn without_views(yaml: &str) -> Vec<&str> {
    yaml.lines()
        .filter(|l| {
            !["views.", "mask_prob:", "noise_std:"]
                .iter()
                .any(|k| l.starts_with(k))
        })
        .collect()
}

/// Checks `command` and its preset against the golden run; `views` are what the preset's
/// `hparams.yaml` records of its views.
fn check(command: &str, probes: &str, views: &str) {
    let s = Scratch::new(&format!("presets-{command}"));
    let csv = golden(command, "metrics.csv");
    let hparams = golden(command, "hparams.yaml");
    assert!(csv.lines().count() > 30, "{command}: golden run too short");
    let cmd = run_command(&s, command);
    let fit = run_preset(&s, command, probes);
    let read = |dir: &Path, f: &str| fs::read_to_string(dir.join(f)).unwrap();
    assert!(
        read(&cmd, "metrics.csv") == csv,
        "{command}: metrics.csv differs from the golden run"
    );
    assert!(
        read(&fit, "metrics.csv") == csv,
        "{command}: the preset's metrics.csv differs from the golden run"
    );
    assert_eq!(
        read(&cmd, "hparams.yaml"),
        hparams,
        "{command}: hparams.yaml"
    );
    let fit_hparams = read(&fit, "hparams.yaml");
    assert_eq!(
        without_views(&fit_hparams),
        without_views(&hparams),
        "{command}: the preset's hparams.yaml"
    );
    assert!(
        fit_hparams.lines().any(|l| l == views),
        "{command}: the preset's views: {views:?} missing from\n{fit_hparams}"
    );
}

#[test]
fn simclr_mnist_and_its_preset_reproduce_the_golden_run() {
    check("simclr-mnist", MNIST_PROBES, MNIST_VIEWS);
}

#[test]
fn barlow_mnist_and_its_preset_reproduce_the_golden_run() {
    check("barlow-mnist", MNIST_PROBES, MNIST_VIEWS);
}

#[test]
fn yaware_openbhb_and_its_preset_reproduce_the_golden_run() {
    check("yaware-openbhb", OPENBHB_PROBES, OPENBHB_VIEWS);
}

#[test]
fn barlow_openbhb_and_its_preset_reproduce_the_golden_run() {
    check("barlow-openbhb", OPENBHB_PROBES, OPENBHB_VIEWS);
}

/// The MNIST presets' views, as `hparams.yaml` records them.
const MNIST_VIEWS: &str =
    "views.image: \"[RandomResizedCrop { size: 28, width: None, scale: None, \
ratio: None }, GaussianBlur { kernel: 3, sigma: None }]\"";

/// The OpenBHB presets' views, as `hparams.yaml` records them (the commands' `mask_prob: 0.8`
/// and `noise_std: 0.5`).
const OPENBHB_VIEWS: &str = "views.tabular: \"[Mask { prob: 0.8 }, Noise { std: 0.5 }]\"";
