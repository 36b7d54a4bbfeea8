//! `nidl dcl-mnist` end to end on tiny configurations: the command against its preset (`nidl fit
//! --preset dcl-mnist`) byte for byte, DCLW with `--sigma`, the files and checkpoint metadata,
//! determinism across thread counts, resume reproducing the uninterrupted run bit for bit, and
//! errors naming the option or key at fault.
#![cfg(feature = "cli")]

mod common;

use common::cli::{assert_fails, assert_usage_error, nidl, ok, MNIST_TINY};
use common::Scratch;
use nidl::train::Checkpoint;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

/// `nidl dcl-mnist` on the tiny MNIST settings (one warmup epoch, a rate that moves the model
/// in a few steps), logging to `log_dir`, with `extra` options and environment variables.
fn dcl(log_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nidl"));
    c.args(["dcl-mnist", "--log-dir", log_dir.to_str().unwrap()])
        .args(["--warmup-epochs", "1", "--lr", "1e-2", "--no-progress"])
        .args(MNIST_TINY)
        .args(extra);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn read(dir: &Path, file: &str) -> String {
    fs::read_to_string(dir.join(file)).unwrap()
}

/// The `(epoch, tag, value)` of every row of a metrics.csv.
fn rows(text: &str) -> Vec<(u64, usize, String, f64)> {
    common::metrics_rows(text)
}

#[test]
fn dcl_mnist_matches_its_preset_and_dclw_is_another_run() {
    let s = Scratch::new("dcl-preset");
    let two = ["--epochs", "2", "--probe", "logreg,knn"];
    ok(&dcl(&s.join("cmd"), &two, &[]));
    let sets = [
        "run.epochs=2",
        "run.limit_train_batches=3",
        "run.limit_val_batches=2",
        "run.log_every_n_steps=1",
        "run.batch_size=32",
        "run.lr=1e-2",
        "run.progress=false",
        "method.warmup_epochs=1",
        "probing.train_limit=500",
        "probing.test_limit=200",
    ];
    let log_set = format!("run.log_dir={}", s.join("fit").display());
    let probes =
        r#"probe=[{kind="logreg",task="digit",max_iter=200},{kind="knn",task="digit",group=1}]"#;
    let mut args = vec![
        "fit",
        "--preset",
        "dcl-mnist",
        "--set",
        &log_set,
        "--set",
        probes,
    ];
    for set in &sets {
        args.extend(["--set", set]);
    }
    ok(&nidl(&args));
    let (cmd, fit) = (s.join("cmd/version_0"), s.join("fit/version_0"));
    assert_eq!(read(&cmd, "metrics.csv"), read(&fit, "metrics.csv"));
    let hp = read(&cmd, "hparams.yaml");
    for line in [
        "estimator: DCL",
        "loss: \"DCLLoss(temperature=0.1)\"",
        "proj_hidden_dim: 64",
        "proj_output_dim: 32",
        "optimizer: adamW",
    ] {
        assert!(hp.lines().any(|l| l == line), "{line:?} missing from\n{hp}");
    }
    let r = rows(&read(&cmd, "metrics.csv"));
    for tag in [
        "loss/train",
        "loss/val",
        "LogisticRegression/accuracy",
        "KNeighborsClassifier/accuracy",
    ] {
        assert!(r.iter().any(|x| x.2 == tag && x.3.is_finite()), "{tag}");
    }
    // --sigma trains DCLW: recorded, and a different loss from the same initialisation.
    ok(&dcl(
        &s.join("cmd"),
        &["--epochs", "1", "--sigma", "0.5"],
        &[],
    ));
    let w = s.join("cmd/version_1");
    let hp = read(&w, "hparams.yaml");
    assert!(
        hp.lines()
            .any(|l| l == r#"loss: "DCLWLoss(sigma=0.5, temperature=0.1)""#),
        "{hp}"
    );
    let first =
        |rows: &[(u64, usize, String, f64)]| rows.iter().find(|x| x.2 == "loss/train").unwrap().3;
    assert_ne!(first(&rows(&read(&w, "metrics.csv"))), first(&r));
}

#[test]
fn dcl_mnist_is_deterministic_and_resumes_bit_for_bit() {
    let s = Scratch::new("dcl-determinism");
    let both = [
        "--epochs",
        "3",
        "--probe",
        "logreg,knn",
        "--checkpoint",
        "--sigma",
        "0.5",
    ];
    ok(&dcl(s.path(), &both, &[("RAYON_NUM_THREADS", "1")]));
    ok(&dcl(s.path(), &both, &[("RAYON_NUM_THREADS", "2")]));
    let a = read(&s.join("version_0"), "metrics.csv");
    assert_eq!(
        a,
        read(&s.join("version_1"), "metrics.csv"),
        "1 vs 2 threads"
    );
    let ck = s.join("version_0/checkpoints/epoch=1-step=6.safetensors");
    let c = Checkpoint::load(&ck).unwrap();
    assert_eq!(c.metadata["estimator"], "DCL");
    assert_eq!(c.metadata["dcl.scheduler_steps"], "6");
    let resume = [
        "--epochs",
        "3",
        "--probe",
        "logreg,knn",
        "--sigma",
        "0.5",
        "--resume",
        ck.to_str().unwrap(),
    ];
    let out = ok(&dcl(s.path(), &resume, &[]));
    assert!(
        out.contains("resuming from") && out.contains("epoch 3/3"),
        "{out}"
    );
    let tail: Vec<_> = rows(&a).into_iter().filter(|x| x.1 == 2).collect();
    assert!(tail.iter().any(|x| x.2 == "KNeighborsClassifier/accuracy"));
    assert_eq!(rows(&read(&s.join("version_2"), "metrics.csv")), tail);
    // Without --sigma it is another loss: the checkpoint's hyper-parameters differ.
    let plain = dcl(
        s.path(),
        &["--epochs", "3", "--resume", ck.to_str().unwrap()],
        &[],
    );
    assert_fails(&plain, &["--resume", "loss"]);
}

#[test]
fn dcl_bad_options_and_keys_fail_naming_them() {
    let s = Scratch::new("dcl-bad");
    for (extra, parts) in [
        (&["--sigma", "0"][..], &["--sigma"][..]),
        (&["--temperature", "-1"], &["--temperature"]),
        (&["--proj-hidden", "0"], &["--proj-hidden"]),
        (&["--lambda", "0.1"], &["unexpected argument '--lambda'"]),
    ] {
        let out = dcl(s.path(), extra, &[]);
        assert_usage_error(&out, parts);
    }
    let out = nidl(&["fit", "--preset", "dcl-mnist", "--set", "method.lambda=0.1"]);
    assert_fails(&out, &["method.lambda", "dcl"]);
    let out = nidl(&["fit", "--preset", "dcl-mnist", "--set", "method.sigma=-1"]);
    assert_fails(&out, &["method.sigma"]);
}

#[test]
fn dcl_mnist_help_shows_nidls_defaults() {
    let out = nidl(&["dcl-mnist", "--help"]);
    let help = ok(&out);
    for shown in [
        "[default: 3e-4]",
        "[default: 5e-4]",
        "[default: 0.1]",
        "[default: none: DCL]",
        "[default: 2 × latent]",
        "[default: 10]",
    ] {
        assert!(help.contains(shown), "{shown} missing from\n{help}");
    }
}
