//! `--online-probe`, `--checkpoint-best` and `--early-stop` on the training commands: the
//! online probe changes no loss and no weight, logs `online/<metric>`; the best checkpoint and
//! its record are written and announced; early stopping on a tag that cannot improve stops at
//! the expected epoch and says why; a tag never logged and a mode or patience without its tag
//! are refused, naming the option.
#![cfg(feature = "cli")]

mod common;

use common::cli::{assert_fails, assert_usage_error, nidl, ok, MNIST_TINY};
use common::Scratch;
use nidl::train::{Checkpoint, StoredTensor};
use std::fs;
use std::path::{Path, PathBuf};

/// Runs `simclr-mnist` on the tiny MNIST run into `logs` with `extra` options.
fn simclr(logs: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "simclr-mnist",
        "--log-dir",
        logs.to_str().unwrap(),
        "--no-progress",
    ];
    args.extend_from_slice(MNIST_TINY);
    args.extend_from_slice(extra);
    nidl(&args)
}

/// The only run folder under `logs`.
fn version(logs: &Path) -> PathBuf {
    logs.join("version_0")
}

/// The rows `(step, epoch, tag, value)` of a run's metrics.csv.
fn rows(dir: &Path) -> Vec<(u64, usize, String, f64)> {
    common::metrics_rows(&fs::read_to_string(dir.join("metrics.csv")).unwrap())
}

/// A checkpoint's model tensors (not the callbacks'), as bits.
fn model_bits(path: &Path) -> Vec<(String, Vec<u32>)> {
    let ck = Checkpoint::load(path).unwrap();
    ck.tensors
        .iter()
        .filter(|(n, _)| !n.starts_with("callback."))
        .map(|(n, t)| match t {
            StoredTensor::F32(t) => (
                n.clone(),
                t.data().unwrap().iter().map(|v| v.to_bits()).collect(),
            ),
            _ => panic!("{n}: not F32"),
        })
        .collect()
}

#[test]
fn the_online_probe_changes_no_loss_and_no_weight_and_logs_its_tags() {
    let s = Scratch::new("cli-online");
    let opts = ["--epochs", "2", "--lr", "1e-2", "--checkpoint"];
    let plain = s.join("plain");
    ok(&simclr(&plain, &opts));
    let online = s.join("online");
    let out = ok(&simclr(&online, &[&opts[..], &["--online-probe"]].concat()));
    assert!(out.contains("online/accuracy"), "{out}");
    let (a, b) = (rows(&version(&plain)), rows(&version(&online)));
    let losses = |r: &[(u64, usize, String, f64)]| -> Vec<(u64, u64)> {
        r.iter()
            .filter(|r| r.2.starts_with("loss/"))
            .map(|r| (r.0, r.3.to_bits()))
            .collect()
    };
    assert_eq!(losses(&a).len(), 3 * 2 + 2);
    assert_eq!(losses(&a), losses(&b));
    let ck = "checkpoints/epoch=1-step=6.safetensors";
    assert_eq!(
        model_bits(&version(&plain).join(ck)),
        model_bits(&version(&online).join(ck))
    );
    for m in ["accuracy", "balanced_accuracy", "f1_macro", "f1_weighted"] {
        let tag = format!("online/{m}");
        let v: Vec<(u64, f64)> = b
            .iter()
            .filter(|r| r.2 == tag)
            .map(|r| (r.0, r.3))
            .collect();
        assert_eq!(v.len(), 2, "{tag}");
        assert!(v.iter().all(|r| r.1.is_finite()), "{tag}: {v:?}");
    }
}

#[test]
fn the_best_checkpoint_is_written_recorded_and_announced() {
    let s = Scratch::new("cli-best");
    let logs = s.join("logs");
    let out = ok(&simclr(
        &logs,
        &[
            "--epochs",
            "2",
            "--lr",
            "1e-2",
            "--online-probe",
            "--checkpoint-best",
            "online/accuracy",
        ],
    ));
    let ck = version(&logs).join("checkpoints");
    assert!(ck.join("best.safetensors").is_file());
    let json = fs::read_to_string(ck.join("best.json")).unwrap();
    assert!(
        json.starts_with("{\"tag\": \"online/accuracy\", \"mode\": \"max\""),
        "{json}"
    );
    // Without --checkpoint there is no epoch checkpoint beside it.
    assert!(json.contains("\"epoch_checkpoint\": null"), "{json}");
    assert!(out.contains("best checkpoint: online/accuracy = "), "{out}");
}

#[test]
fn early_stopping_on_a_plateau_stops_at_the_expected_epoch_and_says_why() {
    let s = Scratch::new("cli-early");
    let logs = s.join("logs");
    // A learning rate too small to move any weight: the probe's score stays the same, so the
    // first epoch sets the best and the next two do not improve it.
    let out = ok(&simclr(
        &logs,
        &[
            "--epochs",
            "6",
            "--lr",
            "1e-30",
            "--early-stop",
            "LogisticRegression/accuracy",
            "--patience",
            "2",
        ],
    ));
    assert!(
        out.contains("early stopping: stopped after epoch 3: LogisticRegression/accuracy did not improve (max) for 2 evaluation(s) in a row (patience 2)"),
        "{out}"
    );
    assert!(out.contains("done: 3 epochs, 9 steps"), "{out}");
    let acc: Vec<f64> = rows(&version(&logs))
        .into_iter()
        .filter(|r| r.2 == "LogisticRegression/accuracy")
        .map(|r| r.3)
        .collect();
    assert_eq!(acc.len(), 3);
    assert!(acc.iter().all(|&a| a == acc[0]), "{acc:?}");
    assert!(version(&logs).join("metrics.png").is_file());
    // Neither --checkpoint nor --checkpoint-best: no checkpoint folder.
    assert!(!version(&logs).join("checkpoints").exists());
}

/// An early stop makes its epoch the last: a probe scheduled only after the last epoch runs
/// then, on the model the run ends with (it used to be skipped).
#[test]
fn early_stopping_runs_the_probes_due_after_the_last_epoch() {
    let s = Scratch::new("cli-early-last");
    let logs = s.join("logs");
    let out = ok(&simclr(
        &logs,
        &[
            "--epochs",
            "5",
            "--lr",
            "1e-30",
            "--early-stop",
            "loss/val",
            "--patience",
            "1",
            "--probe-every",
            "0",
            "--probe-after-last-epoch",
        ],
    ));
    assert!(out.contains("early stopping: stopped after epoch"), "{out}");
    let rows = rows(&version(&logs));
    let last_epoch = rows.iter().map(|r| r.1).max().unwrap();
    assert!(last_epoch < 4, "the run did not stop early: {rows:?}");
    let probed: Vec<_> = rows
        .iter()
        .filter(|r| r.2 == "LogisticRegression/accuracy")
        .collect();
    assert_eq!(probed.len(), 1, "{rows:?}");
    assert_eq!(probed[0].1, last_epoch);
}

#[test]
fn bad_tags_modes_and_data_are_refused_naming_the_option() {
    let s = Scratch::new("cli-monitor-bad");
    let out = simclr(
        &s.join("a"),
        &[
            "--epochs",
            "2",
            "--checkpoint-best",
            "LogisticRegression/acc",
        ],
    );
    assert_fails(
        &out,
        &[
            "option --checkpoint-best",
            "'LogisticRegression/acc'",
            "LogisticRegression/accuracy",
        ],
    );
    let out = simclr(&s.join("b"), &["--early-stop", "nope", "--epochs", "1"]);
    assert_fails(&out, &["option --early-stop", "'nope'"]);
    let out = simclr(&s.join("c"), &["--patience", "2"]);
    assert_usage_error(&out, &["--early-stop"]);
    let out = simclr(&s.join("d"), &["--checkpoint-best-mode", "max"]);
    assert_usage_error(&out, &["--checkpoint-best"]);
}
