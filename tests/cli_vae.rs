//! `method = "vae"` on the command line: `nidl vae-mnist` against its preset byte for byte, the
//! β-VAE on OpenBHB features through `nidl fit`, and the errors of its keys and options.
#![cfg(feature = "cli")]

mod common;

use common::cli::{assert_fails, assert_usage_error, nidl, ok, small_openbhb};
use common::{metrics_rows, Scratch};
use std::fs;
use std::path::Path;

/// A short run: 2 epochs of 3 batches of 32, 2 validation batches, small probing sets.
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
    "--log-every-n-steps",
    "1",
];

/// The same settings as `--set`s of the preset.
const SETS: &[&str] = &[
    "run.epochs=2",
    "run.limit_train_batches=3",
    "run.limit_val_batches=2",
    "probing.train_limit=300",
    "probing.test_limit=100",
    "run.batch_size=32",
    "run.progress=false",
    "run.log_every_n_steps=1",
    r#"probe=[{kind="logreg",task="digit",max_iter=200}, {kind="knn",task="digit",group=1}]"#,
];

fn preset_file() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/experiments/vae-mnist.toml")
        .display()
        .to_string()
}

#[test]
fn vae_mnist_is_its_preset_and_trains_on_one_view() {
    let s = Scratch::new("cli-vae-mnist");
    let cmd_logs = s.join("cmd");
    let mut a = vec!["vae-mnist", "--log-dir", cmd_logs.to_str().unwrap()];
    a.extend_from_slice(FLAGS);
    ok(&nidl(&a));
    let fit_logs = s.join("fit");
    let log_set = format!("run.log_dir={}", fit_logs.display());
    let file = preset_file();
    let mut a = vec!["fit", &file, "--set", &log_set];
    for set in SETS {
        a.extend(["--set", set]);
    }
    ok(&nidl(&a));
    let read = |dir: &Path, f: &str| fs::read_to_string(dir.join("version_0").join(f)).unwrap();
    let csv = read(&cmd_logs, "metrics.csv");
    assert_eq!(csv, read(&fit_logs, "metrics.csv"), "metrics.csv");
    let rows = metrics_rows(&csv);
    let train: Vec<f64> = rows
        .iter()
        .filter(|r| r.2 == "loss/train")
        .map(|r| r.3)
        .collect();
    assert_eq!(train.len(), 6);
    assert!(train.iter().all(|v| v.is_finite() && *v > 0.0), "{train:?}");
    for tag in [
        "loss/val",
        "LogisticRegression/accuracy",
        "KNeighborsClassifier/accuracy",
    ] {
        assert!(rows.iter().any(|r| r.2 == tag), "{tag} missing");
    }
    let hparams = read(&cmd_logs, "hparams.yaml");
    for line in [
        "estimator: VAE",
        "beta: 1",
        "latent_dim: 32",
        "default_dist: bernoulli",
        "encoder_out_dim: 32",
    ] {
        assert!(
            hparams.lines().any(|l| l == line),
            "{line:?} missing from\n{hparams}"
        );
    }
}

#[test]
fn vae_on_openbhb_features_through_an_experiment_file() {
    let s = Scratch::new("cli-vae-openbhb");
    let data = small_openbhb(&s);
    let exp = s.join("vae.toml");
    fs::write(
        &exp,
        format!(
            "[run]\nmethod = \"vae\"\nepochs = 2\nbatch_size = 64\nlimit_train_batches = 2\n\
             log_every_n_steps = 1\nprogress = false\nlog_dir = {:?}\n\
             [method]\nbeta = 0.5\nlatent_dim = 8\ndefault_dist = \"laplace\"\n\
             [data]\nformat = \"openbhb\"\ndir = {:?}\n\
             [[probe]]\nkind = \"ridge\"\ntask = \"age\"\n",
            s.join("logs").display().to_string(),
            data.display().to_string()
        ),
    )
    .unwrap();
    ok(&nidl(&["fit", exp.to_str().unwrap()]));
    let run = s.join("logs/version_0");
    let rows = metrics_rows(&fs::read_to_string(run.join("metrics.csv")).unwrap());
    assert_eq!(rows.iter().filter(|r| r.2 == "loss/train").count(), 4);
    assert!(rows.iter().any(|r| r.2 == "Ridge/R2"));
    let hparams = fs::read_to_string(run.join("hparams.yaml")).unwrap();
    assert!(hparams.contains("default_dist: laplace"), "{hparams}");
    assert!(hparams.contains("MLP(latent → 128 → "), "{hparams}");
}

#[test]
fn vae_keys_and_options_are_checked() {
    let s = Scratch::new("cli-vae-errors");
    let file = preset_file();
    let log_set = format!("run.log_dir={}", s.join("logs").display());
    let fit = |set: &str| nidl(&["fit", &file, "--set", &log_set, "--set", set]);
    assert_fails(
        &fit("method.default_dist=\"gaussian\""),
        &["method.default_dist", "gaussian", "bernoulli"],
    );
    assert_fails(&fit("method.beta=-1.0"), &["method.beta"]);
    assert_fails(&fit("method.latent_dim=0"), &["method.latent_dim"]);
    assert_fails(&fit("metrics.ssl=true"), &["metrics.ssl", "vae"]);
    assert_fails(
        &fit("method.temperature=0.5"),
        &["method.temperature", "run.method = \"vae\""],
    );
    // β-VAE keys on another method.
    let simclr = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/experiments/simclr-mnist.toml")
        .display()
        .to_string();
    assert_fails(
        &nidl(&[
            "fit",
            &simclr,
            "--set",
            &log_set,
            "--set",
            "method.beta=2.0",
        ]),
        &["method.beta", "run.method = \"simclr\""],
    );
    let out = nidl(&["vae-mnist", "--default-dist", "poisson"]);
    assert_usage_error(&out, &["--default-dist", "poisson"]);
    let out = nidl(&["vae-mnist", "--latent-dim", "0"]);
    assert_usage_error(&out, &["--latent-dim"]);
    assert!(!s.join("logs").exists(), "nothing written by a refused run");
}
