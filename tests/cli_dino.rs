//! `nidl dino-mnist` and `run.method = "dino"` in experiment files: a tiny run and its exact
//! resume, the same metrics on 1 and 2 rayon threads, the preset's resolved views and keys, and
//! the keys refused where they do not apply.

#![cfg(feature = "cli")]

mod common;

use common::cli::{assert_fails, nidl, ok, MNIST_TINY};
use common::Scratch;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

/// `nidl dino-mnist` on the tiny MNIST budget, logging to `logs`, on `threads` rayon threads.
fn dino(logs: &Path, extra: &[&str], threads: &str) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nidl"));
    c.args([
        "dino-mnist",
        "--log-dir",
        logs.to_str().unwrap(),
        "--no-progress",
    ]);
    c.args(MNIST_TINY);
    c.args(["--epochs", "3", "--lr", "1e-2", "--warmup-epochs", "1"]);
    c.args(extra);
    c.env("RAYON_NUM_THREADS", threads);
    c.output().unwrap()
}

fn csv(dir: &Path) -> String {
    fs::read_to_string(dir.join("metrics.csv")).unwrap()
}

#[test]
fn dino_mnist_resumes_exactly_and_does_not_depend_on_the_thread_count() {
    let s = Scratch::new("dino-mnist");
    let stdout = ok(&dino(s.path(), &["--checkpoint"], "2"));
    assert!(stdout.contains("epoch 3/3"), "{stdout}");
    let full = csv(&s.join("version_0"));
    let rows = common::metrics_rows(&full);
    let acc: Vec<f64> = rows
        .iter()
        .filter(|r| r.2 == "LogisticRegression/accuracy")
        .map(|r| r.3)
        .collect();
    assert_eq!(acc.len(), 3, "{full}");
    assert!(rows.iter().any(|r| r.2 == "loss/val"));
    let hp = fs::read_to_string(s.join("version_0/hparams.yaml")).unwrap();
    for key in [
        "estimator: DINO",
        "num_local_crops: 2",
        "base_lambda: 0.996",
    ] {
        assert!(hp.contains(key), "{key}: {hp}");
    }
    // One thread: the same numbers.
    ok(&dino(s.path(), &[], "1"));
    assert_eq!(csv(&s.join("version_1")), full, "1 vs 2 threads");
    // Resumed from the second epoch's checkpoint: the third epoch bit for bit.
    let ck = s.join("version_0/checkpoints/epoch=1-step=6.safetensors");
    let out = dino(s.path(), &["--resume", ck.to_str().unwrap()], "2");
    let stdout = ok(&out);
    assert!(
        stdout.contains("resuming from") && !stdout.contains("epoch 2/3"),
        "{stdout}"
    );
    let tail: Vec<_> = rows.into_iter().filter(|r| r.1 == 2).collect();
    assert!(!tail.is_empty());
    assert_eq!(common::metrics_rows(&csv(&s.join("version_2"))), tail);
    // A resume with other DINO settings is refused, naming what changed.
    let bad = dino(
        s.path(),
        &["--resume", ck.to_str().unwrap(), "--base-lambda", "0.9"],
        "2",
    );
    assert_fails(&bad, &["base_lambda"]);
}

#[test]
fn the_preset_resolves_to_multi_crop_views_and_nidls_keys() {
    let out = ok(&nidl(&["fit", "--preset", "dino-mnist", "--print-config"]));
    for line in [
        "method = \"dino\"",
        "num_local_crops = 2",
        "warmup_teacher_temp_epochs = 30",
        "final_lambda = 1.0",
        "proj_norm_last_layer = true",
        "local_image",
        "0.05",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }
    // Without [method] and [views], an experiment gets nidl's DINO defaults and DINO's crops.
    let s = Scratch::new("dino-defaults");
    let file = s.join("dino.toml");
    fs::write(
        &file,
        "[run]\nmethod = \"dino\"\n[data]\nformat = \"mnist\"\n",
    )
    .unwrap();
    let out = ok(&nidl(&["fit", file.to_str().unwrap(), "--print-config"]));
    for line in [
        "num_local_crops = 8",
        "proj_output_dim = 1024",
        "scale = [0.4, 1.0]",
        "scale = [0.05, 0.4]",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }
}

#[test]
fn dino_keys_are_refused_where_they_do_not_apply() {
    let s = Scratch::new("dino-refused");
    let write = |name: &str, text: &str| {
        let f = s.join(name);
        fs::write(&f, text).unwrap();
        f
    };
    let cases = [
        (
            "simclr.toml",
            "[run]\nmethod = \"simclr\"\n[method]\nbase_lambda = 0.9\n[data]\nformat = \"mnist\"\n",
            vec!["method.base_lambda", "simclr"],
        ),
        (
            "local.toml",
            "[run]\nmethod = \"barlow\"\n[data]\nformat = \"mnist\"\n[views]\nlocal_image = []\n",
            vec!["views.local_image", "only dino"],
        ),
        (
            "tabular.toml",
            "[run]\nmethod = \"dino\"\n[data]\nformat = \"mnist\"\n[views]\nlocal_tabular = []\n",
            vec!["views.local_tabular", "image data"],
        ),
        (
            "lambda.toml",
            "[run]\nmethod = \"dino\"\n[method]\nbase_lambda = 0.999\nfinal_lambda = 0.99\n[data]\nformat = \"mnist\"\n",
            vec!["method.base_lambda", "final_lambda"],
        ),
    ];
    for (name, text, parts) in cases {
        let f = write(name, text);
        assert_fails(
            &nidl(&["fit", f.to_str().unwrap(), "--print-config"]),
            &parts,
        );
    }
}

#[test]
fn dino_on_openbhb_masks_local_views_harder() {
    let s = Scratch::new("dino-openbhb");
    let f = s.join("openbhb.toml");
    fs::write(
        &f,
        "[run]\nmethod = \"dino\"\n[data]\nformat = \"openbhb\"\n",
    )
    .unwrap();
    let out = ok(&nidl(&["fit", f.to_str().unwrap(), "--print-config"]));
    for line in ["local_tabular", "prob = 0.8", "prob = 0.9", "std = 0.5"] {
        assert!(out.contains(line), "{line}: {out}");
    }
}
