//! `--probe-cv`, `--scoring` and `--prefix-score` end to end on a tiny `simclr-mnist` run: the
//! tags of nidl 0.0.2's `ModelProbingCVCallback` (`fold<i>/<key>`, with `cv/mean/<key>` and
//! `cv/std/<key>`) and `ModelProbingCallback` (`<prefix>test_<name>`) in `metrics.csv`, the
//! default tags unchanged, and errors naming the option at fault.
#![cfg(feature = "cli")]

mod common;

use common::cli::{assert_fails, assert_usage_error, nidl, ok, MNIST_TINY};
use common::{metrics_rows, Scratch};
use std::fs;
use std::path::Path;
use std::process::Output;

/// One epoch of [`MNIST_TINY`] (3 training batches of 32), probing on its 500 / 200 images, with
/// `extra` options, into `logs`.
fn run(logs: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["simclr-mnist", "--log-dir", logs.to_str().unwrap()];
    args.extend_from_slice(MNIST_TINY);
    args.extend_from_slice(&["--epochs", "1", "--no-progress"]);
    args.extend_from_slice(extra);
    nidl(&args)
}

/// `(tag, value)` of every row of the run's metrics.csv.
fn tags(logs: &Path) -> Vec<(String, f64)> {
    let text = fs::read_to_string(logs.join("version_0/metrics.csv")).unwrap();
    metrics_rows(&text)
        .into_iter()
        .map(|(_, _, tag, v)| (tag, v))
        .collect()
}

fn value(tags: &[(String, f64)], tag: &str) -> f64 {
    tags.iter()
        .find(|(t, _)| t == tag)
        .unwrap_or_else(|| panic!("no tag {tag} in {tags:?}"))
        .1
}

#[test]
fn probe_cv_logs_folds_and_their_summary_beside_the_default_tags() {
    let s = Scratch::new("cv-tags");
    ok(&run(s.path(), &["--probe-cv", "3"]));
    let t = tags(s.path());
    // The default probing is unchanged.
    assert!(t
        .iter()
        .any(|(tag, _)| tag == "LogisticRegression/accuracy"));
    let mut scores = Vec::new();
    for i in 0..3 {
        for key in ["fit_time", "score_time", "test_score"] {
            let v = value(&t, &format!("fold{i}/{key}"));
            assert!(v.is_finite() && v >= 0.0, "fold{i}/{key} = {v}");
        }
        scores.push(value(&t, &format!("fold{i}/test_score")));
    }
    // test_score is the accuracy on each fold's test third (about 167 of 500 images).
    let mean = scores.iter().sum::<f64>() / 3.0;
    let std = (scores.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 3.0).sqrt();
    assert!((value(&t, "cv/mean/test_score") - mean).abs() < 1e-12);
    assert!((value(&t, "cv/std/test_score") - std).abs() < 1e-12);
    for key in ["fit_time", "score_time"] {
        assert!(t.iter().any(|(tag, _)| *tag == format!("cv/mean/{key}")));
        assert!(t.iter().any(|(tag, _)| *tag == format!("cv/std/{key}")));
    }
}

#[test]
fn scoring_replaces_the_default_tags_with_the_chosen_scores() {
    let s = Scratch::new("cv-scoring");
    let default = s.join("default");
    let scored = s.join("scored");
    ok(&run(&default, &[]));
    ok(&run(
        &scored,
        &["--scoring", "accuracy,f1_macro", "--prefix-score", "lr_"],
    ));
    let (d, t) = (tags(&default), tags(&scored));
    let probe_tags: Vec<&str> = t
        .iter()
        .map(|(tag, _)| tag.as_str())
        .filter(|tag| tag.contains("test_") || tag.starts_with("LogisticRegression/"))
        .collect();
    assert_eq!(probe_tags, ["lr_test_accuracy", "lr_test_f1_macro"]);
    // Same seed, same probe: the scores are the default run's metrics, bit for bit.
    assert_eq!(
        value(&t, "lr_test_accuracy"),
        value(&d, "LogisticRegression/accuracy")
    );
    assert_eq!(
        value(&t, "lr_test_f1_macro"),
        value(&d, "LogisticRegression/f1_macro")
    );
}

#[test]
fn bad_folds_and_scores_name_the_option() {
    let s = Scratch::new("cv-errors");
    let out = run(s.path(), &["--probe-cv", "1"]);
    assert_usage_error(&out, &["--probe-cv", "allowed: a whole number ≥ 2"]);
    let out = run(s.path(), &["--scoring", "auc"]);
    assert_fails(
        &out,
        &["--scoring", "unknown scoring 'auc'", "balanced_accuracy"],
    );
    let out = run(s.path(), &["--scoring", "r2"]);
    assert_fails(
        &out,
        &[
            "--scoring",
            "'r2' scores a regressor",
            "logreg",
            "classifier",
        ],
    );
    // Two probes under one prefix would log the same tags: refused.
    let out = run(s.path(), &["--probe", "logreg,knn", "--prefix-score", "p_"]);
    assert_fails(&out, &["--prefix-score", "the same tags"]);
    // More folds than the 500 probing samples: refused before training.
    let out = run(s.path(), &["--probe-cv", "501"]);
    assert_fails(&out, &["501 folds", "only 500 samples"]);
    assert!(
        !s.join("version_0").exists(),
        "nothing written before the check"
    );
}

#[test]
fn experiment_keys_take_a_list_of_scores_and_a_prefix() {
    let s = Scratch::new("cv-fit");
    let log_dir = format!("run.log_dir=\"{}\"", s.path().display());
    let sets = [
        log_dir.as_str(),
        "run.epochs=1",
        "run.batch_size=32",
        "run.limit_train_batches=2",
        "run.limit_val_batches=1",
        "run.progress=false",
        "probing.train_limit=200",
        "probing.test_limit=100",
        "probing.cv=2",
        "probing.scoring=[\"accuracy\", \"balanced_accuracy\"]",
        "probing.prefix_score=\"x_\"",
    ];
    let mut args = vec!["fit", "--preset", "simclr-mnist"];
    for set in &sets {
        args.extend_from_slice(&["--set", set]);
    }
    ok(&nidl(&args));
    let t = tags(s.path());
    for tag in [
        "x_test_accuracy",
        "x_test_balanced_accuracy",
        "fold0/x_fit_time",
        "fold1/x_test_accuracy",
        "fold1/x_test_balanced_accuracy",
        "cv/mean/x_test_accuracy",
        "cv/std/x_test_balanced_accuracy",
    ] {
        assert!(t.iter().any(|(x, _)| x == tag), "no {tag} in {t:?}");
    }
    assert!(!t.iter().any(|(x, _)| x.starts_with("LogisticRegression/")));
}

#[test]
fn several_probes_take_the_scores_of_their_kind_under_their_names() {
    // OpenBHB's multi-task probe: Ridge on age (task0), logistic regression on sex (task1).
    let s = Scratch::new("cv-openbhb");
    let data = common::cli::small_openbhb(&s);
    let logs = s.join("logs");
    let out = nidl(&[
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
        "--scoring",
        "r2,accuracy",
        "--probe-cv",
        "2",
    ]);
    ok(&out);
    let t = tags(&logs);
    for tag in [
        "task0/test_r2",
        "task1/test_accuracy",
        "fold0/task0/test_r2",
        "fold1/task1/test_accuracy",
        "cv/mean/task0/test_r2",
        "cv/std/task1/fit_time",
    ] {
        assert!(t.iter().any(|(x, _)| x == tag), "no {tag} in {t:?}");
    }
    assert!(!t
        .iter()
        .any(|(x, _)| x.ends_with("test_accuracy") && x.contains("task0")));
    // One prefix for both would make their tags collide: refused.
    let out = nidl(&[
        "yaware-openbhb",
        "--data-dir",
        data.to_str().unwrap(),
        "--log-dir",
        logs.to_str().unwrap(),
        "--probe-cv",
        "2",
        "--prefix-score",
        "p_",
    ]);
    assert_fails(&out, &["--prefix-score", "the same tags"]);
}
