//! `--ssl-metrics` (and `[metrics] ssl = true`): the six `ssl/…` tags of nidl 0.0.2's SSL
//! geometry metrics logged on the validation views, finite and in range, without changing the
//! run's losses bit for bit; bad settings refused naming what is at fault.
#![cfg(feature = "cli")]

mod common;

use common::cli::{assert_fails, nidl, ok, MNIST_TINY};
use common::{metrics_rows, Scratch};
use std::fs;
use std::path::Path;

/// The six tags, with the range each value must lie in.
const TAGS: [(&str, f64, f64); 6] = [
    ("ssl/alignment", 0.0, 4.0),
    ("ssl/uniformity", -4.0, 0.0),
    ("ssl/contrastive_accuracy", 0.0, 1.0),
    ("ssl/procrustes_similarity", 0.0, 1.0),
    ("ssl/procrustes_r2", f64::NEG_INFINITY, 1.0),
    ("ssl/kruskal_similarity", f64::NEG_INFINITY, 1.0),
];

/// A tiny 2-epoch `simclr-mnist` run into `logs` with `extra` options.
fn simclr(logs: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "simclr-mnist",
        "--log-dir",
        logs.to_str().unwrap(),
        "--epochs",
        "2",
        "--lr",
        "1e-2",
        "--no-progress",
    ];
    args.extend_from_slice(MNIST_TINY);
    args.extend_from_slice(extra);
    ok(&nidl(&args))
}

fn csv(dir: &Path) -> Vec<(u64, usize, String, f64)> {
    metrics_rows(&fs::read_to_string(dir.join("metrics.csv")).unwrap())
}

/// The rows whose tag does not start with `ssl/` (nor is the `epoch` row that follows a group).
fn without_ssl(rows: &[(u64, usize, String, f64)]) -> Vec<(u64, usize, String, u64)> {
    rows.iter()
        .filter(|r| !r.2.starts_with("ssl/") && r.2 != "epoch")
        .map(|r| (r.0, r.1, r.2.clone(), r.3.to_bits()))
        .collect()
}

#[test]
fn ssl_metrics_are_logged_and_change_no_loss() {
    let s = Scratch::new("ssl-metrics");
    simclr(s.path(), &[]);
    let stdout = simclr(s.path(), &["--ssl-metrics"]);
    let plain = csv(&s.join("version_0"));
    let with = csv(&s.join("version_1"));
    // The same losses and probe scores, bit for bit (loss/train at every step of the run).
    let train = |rows: &[(u64, usize, String, f64)]| {
        rows.iter()
            .filter(|r| r.2 == "loss/train")
            .map(|r| (r.0, r.3.to_bits()))
            .collect::<Vec<_>>()
    };
    assert_eq!(train(&plain).len(), 6, "3 steps × 2 epochs of loss/train");
    assert_eq!(train(&plain), train(&with));
    assert_eq!(without_ssl(&plain), without_ssl(&with));
    assert!(plain.iter().all(|r| !r.2.starts_with("ssl/")));
    // Each tag once per epoch, at the epoch's last step, finite and in its range.
    for (tag, lo, hi) in TAGS {
        let rows: Vec<_> = with.iter().filter(|r| r.2 == tag).collect();
        let steps: Vec<u64> = rows.iter().map(|r| r.0).collect();
        assert_eq!(steps, [2, 5], "{tag}");
        for r in rows {
            assert!(
                r.3.is_finite() && r.3 >= lo && r.3 <= hi,
                "{tag} = {} outside [{lo}, {hi}]",
                r.3
            );
        }
    }
    // The model moved between the epochs: the metrics are not constants.
    let align: Vec<f64> = with
        .iter()
        .filter(|r| r.2 == "ssl/alignment")
        .map(|r| r.3)
        .collect();
    assert_ne!(align[0], align[1]);
    // The console's final table lists them (best: min for alignment, max for the scores).
    for (tag, _, _) in TAGS {
        assert!(
            stdout.contains(tag),
            "{tag} missing from the summary:\n{stdout}"
        );
    }
    let line = |tag: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(tag))
            .unwrap_or_else(|| panic!("{tag} row:\n{stdout}"))
            .to_string()
    };
    assert!(
        line("ssl/alignment").contains(" min "),
        "{}",
        line("ssl/alignment")
    );
    assert!(
        line("ssl/uniformity").contains(" min "),
        "{}",
        line("ssl/uniformity")
    );
    let kruskal = line("ssl/kruskal_similarity");
    assert!(kruskal.contains(" max "), "{kruskal}");
}

#[test]
fn experiment_key_schedules_the_metrics() {
    let s = Scratch::new("ssl-metrics-fit");
    let log_set = format!("run.log_dir={}", s.path().display());
    ok(&nidl(&[
        "fit",
        "--preset",
        "simclr-mnist",
        "--set",
        &log_set,
        "--set",
        "run.epochs=2",
        "--set",
        "run.limit_train_batches=2",
        "--set",
        "run.batch_size=16",
        "--set",
        "run.limit_val_batches=1",
        "--set",
        "probing.every=0",
        "--set",
        "metrics.ssl=true",
        "--set",
        "metrics.every=2",
        "--set",
        "run.progress=false",
    ]));
    let rows = csv(&s.join("version_0"));
    for (tag, _, _) in TAGS {
        let steps: Vec<u64> = rows.iter().filter(|r| r.2 == tag).map(|r| r.0).collect();
        assert_eq!(steps, [3], "{tag}: after the second epoch only");
    }
}

#[test]
fn bad_settings_are_refused_naming_them() {
    let s = Scratch::new("ssl-metrics-bad");
    let logs = s.join("logs");
    // No validation batches: no views to measure, refused before training.
    let args = [
        "simclr-mnist",
        "--log-dir",
        logs.to_str().unwrap(),
        "--ssl-metrics",
        "--limit-train-batches",
        "1",
        "--limit-val-batches",
        "0",
        "--probe-every",
        "0",
        "--no-progress",
    ];
    assert_fails(
        &nidl(&args),
        &["--ssl-metrics", "--limit-val-batches", "is 0"],
    );
    assert!(
        !logs.join("version_0").exists(),
        "nothing written for a refused run"
    );
    // An unknown key of [metrics].
    let file = s.join("bad.toml");
    let preset = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/experiments/simclr-mnist.toml"),
    )
    .unwrap();
    fs::write(
        &file,
        format!("{preset}\n[metrics]\nssl = true\nevry = 2\n"),
    )
    .unwrap();
    assert_fails(&nidl(&["fit", file.to_str().unwrap()]), &["evry"]);
}
