//! `--probe mlp` in the training commands and `kind = "mlp"` / `"mlp_regressor"` in experiment
//! files: the tags (`MLPClassifier/<metric>`, `MLPRegressor/<metric>`), the same metrics as the
//! linear probes, bit-identical across thread counts, and the keys' checks.

mod common;

use common::cli::{assert_fails, nidl, ok, small_openbhb, MNIST_TINY};
use common::{metrics_rows, Scratch};
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

const CLASSIFICATION_METRICS: [&str; 6] = [
    "accuracy",
    "balanced_accuracy",
    "f1_weighted",
    "f1_macro",
    "precision_macro",
    "recall_macro",
];

fn run_with_threads(args: &[&str], threads: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nidl"))
        .args(args)
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .unwrap()
}

/// `(step, tag, value)` of a run's `metrics.csv`.
fn rows(run: &Path) -> Vec<(u64, String, f64)> {
    let text = fs::read_to_string(run.join("metrics.csv")).unwrap();
    metrics_rows(&text)
        .into_iter()
        .map(|(step, _, tag, v)| (step, tag, v))
        .collect()
}

fn steps_of(rows: &[(u64, String, f64)], tag: &str) -> Vec<u64> {
    rows.iter().filter(|r| r.1 == tag).map(|r| r.0).collect()
}

#[test]
fn simclr_mnist_probes_with_logreg_and_mlp() {
    let s = Scratch::new("mlp-simclr");
    let mut args = vec![
        "simclr-mnist",
        "--log-dir",
        s.path().to_str().unwrap(),
        "--epochs",
        "1",
        "--no-progress",
        "--probe",
        "logreg,mlp",
    ];
    args.extend_from_slice(MNIST_TINY);
    let stdout = ok(&nidl(&args));
    assert!(stdout.contains("\nMLPClassifier/accuracy "), "{stdout}");
    let r = rows(&s.join("version_0"));
    for probe in ["LogisticRegression", "MLPClassifier"] {
        for m in CLASSIFICATION_METRICS {
            assert_eq!(
                steps_of(&r, &format!("{probe}/{m}")),
                vec![2],
                "{probe}/{m}"
            );
        }
    }
    for x in r
        .iter()
        .filter(|x| x.1.contains('/') && !x.1.starts_with("loss"))
    {
        println!("{} = {}", x.1, x.2);
        assert!((0.0..=1.0).contains(&x.2), "{} = {}", x.1, x.2);
    }
    // 500 digits embedded by a barely trained LeNet (whose embeddings are tiny: the logistic
    // regression's C = 1 penalty flattens it to one class): the MLP, with scikit-learn's much
    // weaker alpha = 1e-4, well above chance (0.1).
    let mlp = r
        .iter()
        .find(|x| x.1 == "MLPClassifier/accuracy")
        .unwrap()
        .2;
    assert!(mlp > 0.3, "MLPClassifier/accuracy = {mlp}");
}

#[test]
fn yaware_openbhb_mlp_probes_regress_age_and_classify_sex_bit_identically() {
    let s = Scratch::new("mlp-openbhb");
    let data = small_openbhb(&s);
    let logs = s.join("logs");
    let args = [
        "yaware-openbhb",
        "--data-dir",
        data.to_str().unwrap(),
        "--log-dir",
        logs.to_str().unwrap(),
        "--epochs",
        "1",
        "--batch-size",
        "64",
        "--no-progress",
        "--probe",
        "mlp",
    ];
    let stdout = ok(&run_with_threads(&args, "2"));
    assert!(stdout.contains("\nMLPRegressor/R2 "), "{stdout}");
    let r = rows(&logs.join("version_0"));
    // 300 / 64 → 5 steps; the probes after the only epoch.
    for tag in [
        "MLPRegressor/R2",
        "MLPRegressor/MAE",
        "MLPRegressor/RMSE",
        "MLPClassifier/accuracy",
        "MLPClassifier/balanced_accuracy",
    ] {
        assert_eq!(steps_of(&r, tag), vec![4], "{tag}");
    }
    assert!(
        steps_of(&r, "task0/R2").is_empty(),
        "only the MLP group was asked for"
    );
    for x in &r {
        assert!(x.2.is_finite(), "{} = {}", x.1, x.2);
    }
    ok(&run_with_threads(&args, "1"));
    let csv = |v: &str| fs::read_to_string(logs.join(v).join("metrics.csv")).unwrap();
    assert_eq!(csv("version_0"), csv("version_1"));
}

#[test]
fn experiment_keys_of_the_mlp_probes_are_checked() {
    let s = Scratch::new("mlp-keys");
    let file = s.join("mlp.toml");
    let write = |probe: &str| {
        let text = format!(
            "[run]\nmethod = \"simclr\"\nepochs = 1\nbatch_size = 32\nlimit_train_batches = 2\n\
             limit_val_batches = 1\nlog_dir = \"{}\"\nprogress = false\n\n[data]\nformat = \
             \"mnist\"\ndir = \"{}/data/mnist\"\n\n[probing]\ntrain_limit = 300\ntest_limit = 100\n\n\
             [[probe]]\n{probe}\n",
            s.join("logs").display(),
            env!("CARGO_MANIFEST_DIR")
        );
        fs::write(&file, text).unwrap();
    };
    write("kind = \"mlp\"\nhidden = [8, 4]\nalpha = 1e-3\nmax_iter = 30");
    let printed = ok(&nidl(&["fit", file.to_str().unwrap(), "--print-config"]));
    assert!(printed.contains("hidden = [8, 4]"), "{printed}");
    ok(&nidl(&["fit", file.to_str().unwrap()]));
    let r = rows(&s.join("logs/version_0"));
    // 2 training batches: probed after the epoch, at step 1.
    assert_eq!(steps_of(&r, "MLPClassifier/f1_macro"), vec![1]);
    // Defaults filled in: the CLI's hidden size, scikit-learn's alpha and max_iter.
    write("kind = \"mlp\"");
    let printed = ok(&nidl(&["fit", file.to_str().unwrap(), "--print-config"]));
    for want in ["hidden = [32]", "alpha = 0.0001", "max_iter = 200"] {
        assert!(printed.contains(want), "{want}: {printed}");
    }
    write("kind = \"mlp\"\nk = 3");
    assert_fails(
        &nidl(&["fit", file.to_str().unwrap()]),
        &["probe[0]", "k", "kind = \"mlp\""],
    );
    write("kind = \"mlp\"\nhidden = [16, 0]");
    assert_fails(
        &nidl(&["fit", file.to_str().unwrap()]),
        &["probe[0].hidden", "at least 1"],
    );
    write("kind = \"ridge\"\nhidden = [16]");
    assert_fails(
        &nidl(&["fit", file.to_str().unwrap()]),
        &["probe[0]", "hidden", "kind = \"ridge\""],
    );
}
