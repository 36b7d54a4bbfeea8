//! The training commands (`simclr-mnist`, `yaware-openbhb`, `barlow-mnist`, `barlow-openbhb`)
//! end to end on tiny configurations: the files a run writes, determinism across runs and thread
//! counts, resume from a checkpoint reproducing the uninterrupted run, the probing options
//! (`--probe logreg,knn`, `--probe-on-train-start`, `--probe-every-val`), and errors naming the
//! option at fault for bad options (clap's usage errors, or one line for a failed run).
#![cfg(feature = "cli")]

mod common;

use common::cli::{assert_fails, assert_usage_error, ok, small_openbhb, MNIST_TINY};
use common::Scratch;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `nidl` with `args` and extra environment variables.
fn nidl_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nidl"));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// [`MNIST_TINY`] with `--lr 1e-2`, so that the model (and hence the probe) visibly moves in a
/// few steps.
const TINY: &[&str] = &["--lr", "1e-2", "--no-progress"];

fn simclr(log_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = vec!["simclr-mnist", "--log-dir", log_dir.to_str().unwrap()];
    args.extend_from_slice(MNIST_TINY);
    args.extend_from_slice(TINY);
    args.extend_from_slice(extra);
    nidl_env(&args, env)
}

fn barlow(log_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = vec![
        "barlow-mnist",
        "--log-dir",
        log_dir.to_str().unwrap(),
        "--warmup-epochs",
        "1",
    ];
    args.extend_from_slice(MNIST_TINY);
    args.extend_from_slice(TINY);
    args.extend_from_slice(extra);
    nidl_env(&args, env)
}

/// The steps at which `tag` was logged.
fn steps_of(rows: &[(u64, usize, String, f64)], tag: &str) -> Vec<u64> {
    rows.iter().filter(|r| r.2 == tag).map(|r| r.0).collect()
}

/// The metrics a classification probe logs under its name.
const CLASSIFICATION_METRICS: [&str; 6] = [
    "accuracy",
    "balanced_accuracy",
    "f1_weighted",
    "f1_macro",
    "precision_macro",
    "recall_macro",
];

fn csv(dir: &Path) -> String {
    fs::read_to_string(dir.join("metrics.csv")).unwrap()
}

/// Rows `step,epoch,tag,value` of a metrics.csv.
fn rows(text: &str) -> Vec<(u64, usize, String, f64)> {
    common::metrics_rows(text)
}

/// Runs `cmd` (an OpenBHB command) on `data`, logging to `logs`: 2 epochs of batches of 64,
/// `loss/train` at every step, with `extra` options, on `threads` rayon threads.
fn openbhb_run(cmd: &str, data: &Path, logs: &Path, extra: &[&str], threads: &str) -> Output {
    let mut args = vec![
        cmd,
        "--data-dir",
        data.to_str().unwrap(),
        "--log-dir",
        logs.to_str().unwrap(),
        "--epochs",
        "2",
        "--batch-size",
        "64",
        "--log-every-n-steps",
        "1",
        "--no-progress",
    ];
    args.extend_from_slice(extra);
    nidl_env(&args, &[("RAYON_NUM_THREADS", threads)])
}

#[test]
fn simclr_tiny_run_writes_every_file_and_tag() {
    let s = Scratch::new("simclr-files");
    let out = simclr(s.path(), &["--epochs", "2", "--checkpoint"], &[]);
    let stdout = ok(&out);
    let v = s.join("version_0");
    assert!(
        stdout.contains("epoch 1/2") && stdout.contains("epoch 2/2"),
        "{stdout}"
    );
    // Epoch lines of at most 100 columns; every metric is in the final table, with its final
    // value and step, and its best one.
    for l in stdout.lines().filter(|l| l.starts_with("epoch ")) {
        assert!(l.len() <= 100, "{} columns: {l}", l.len());
    }
    let table_row = |tag: &str| {
        stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(tag))
            .unwrap_or_else(|| panic!("no table row for {tag}: {stdout}"))
            .to_string()
    };
    for m in CLASSIFICATION_METRICS {
        let row = table_row(&format!("LogisticRegression/{m}"));
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!((cols.len(), cols[2], cols[3]), (6, "5", "max"), "{row}");
    }
    let row = table_row("loss/val");
    assert_eq!(row.split_whitespace().nth(3), Some("min"), "{row}");
    // The last lines: the log folder, then every file the run wrote.
    let lines: Vec<&str> = stdout.lines().collect();
    let done = lines
        .iter()
        .position(|l| l.starts_with("done: 2 epochs, 6 steps"))
        .unwrap_or_else(|| panic!("no done line: {stdout}"));
    assert!(lines[done].ends_with("; logs in"), "{stdout}");
    assert_eq!(lines[done + 1], v.display().to_string(), "{stdout}");
    let events_name = fs::read_dir(&v)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("events.out.tfevents"))
        .expect("an events file");
    let events_line = format!("  {events_name}");
    assert_eq!(
        lines[done + 2..],
        [
            "  checkpoints/epoch=0-step=3.safetensors",
            "  checkpoints/epoch=1-step=6.safetensors",
            events_line.as_str(),
            "  figure.yaml",
            "  hparams.yaml",
            "  metrics.csv",
            "  metrics.png",
            "  metrics.svg",
        ],
        "{stdout}"
    );
    for f in ["metrics.csv", "hparams.yaml", "metrics.png", "metrics.svg"] {
        assert!(v.join(f).is_file(), "{f} missing");
    }
    let events: Vec<PathBuf> = fs::read_dir(&v)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("events.out.tfevents"))
        .collect();
    assert_eq!(events.len(), 1);
    let r = rows(&csv(&v));
    let count = |tag: &str| r.iter().filter(|x| x.2 == tag).count();
    assert_eq!(count("loss/train"), 6);
    assert_eq!(count("loss/val"), 2);
    for m in CLASSIFICATION_METRICS {
        assert_eq!(count(&format!("LogisticRegression/{m}")), 2, "{m}");
    }
    // Epoch-end scalars at the epoch's last step, as Lightning; train losses at steps 0..6.
    assert!(r.iter().any(|x| x.2 == "loss/val" && x.0 == 2 && x.1 == 0));
    assert!(r.iter().any(|x| x.2 == "loss/val" && x.0 == 5 && x.1 == 1));
    let hp = fs::read_to_string(v.join("hparams.yaml")).unwrap();
    assert!(
        hp.contains("lr: 0.01") && hp.contains("random_state: 42"),
        "{hp}"
    );
    let ck = v.join("checkpoints");
    assert!(
        ck.join("epoch=0-step=3.safetensors").is_file()
            && ck.join("epoch=1-step=6.safetensors").is_file()
    );
    // The checkpoint is safetensors: the encoder weights sit under `encoder.` with their
    // PyTorch names.
    let c = nidl::train::Checkpoint::load(&ck.join("epoch=1-step=6.safetensors")).unwrap();
    assert!(c.get("encoder.conv1.weight").is_some() && c.get("head.0.weight").is_some());
    assert_eq!(c.metadata["epoch"], "1");
    // A second run takes the next version.
    ok(&simclr(
        s.path(),
        &["--epochs", "1", "--probe-every", "0"],
        &[],
    ));
    let r1 = rows(&csv(&s.join("version_1")));
    assert!(
        r1.iter().all(|x| !x.2.starts_with("LogisticRegression")),
        "--probe-every 0 probes nothing"
    );
}

#[test]
fn simclr_same_seed_same_metrics_across_runs_and_thread_counts() {
    let s = Scratch::new("simclr-determinism");
    ok(&simclr(
        s.path(),
        &["--epochs", "2"],
        &[("RAYON_NUM_THREADS", "1")],
    ));
    ok(&simclr(
        s.path(),
        &["--epochs", "2"],
        &[("RAYON_NUM_THREADS", "2")],
    ));
    ok(&simclr(
        s.path(),
        &["--epochs", "2"],
        &[("RAYON_NUM_THREADS", "2")],
    ));
    let a = csv(&s.join("version_0"));
    assert_eq!(a, csv(&s.join("version_1")), "1 vs 2 threads");
    assert_eq!(a, csv(&s.join("version_2")), "two runs with 2 threads");
    // The probe moved: not every epoch has the same accuracy, so the comparison means something.
    let acc: Vec<f64> = rows(&a)
        .into_iter()
        .filter(|x| x.2 == "LogisticRegression/accuracy")
        .map(|x| x.3)
        .collect();
    assert_eq!(acc.len(), 2);
    assert_ne!(acc[0], acc[1], "the probe should move between epochs");
    // Another seed gives other numbers.
    ok(&simclr(s.path(), &["--epochs", "2", "--seed", "7"], &[]));
    assert_ne!(a, csv(&s.join("version_3")));
}

#[test]
fn simclr_resume_reproduces_the_uninterrupted_run() {
    let s = Scratch::new("simclr-resume");
    ok(&simclr(s.path(), &["--epochs", "3", "--checkpoint"], &[]));
    let ck = s.join("version_0/checkpoints/epoch=1-step=6.safetensors");
    let out = simclr(
        s.path(),
        &["--epochs", "3", "--resume", ck.to_str().unwrap()],
        &[],
    );
    let stdout = ok(&out);
    assert!(
        stdout.contains("resuming from")
            && stdout.contains("epoch 3/3")
            && !stdout.contains("epoch 2/3"),
        "{stdout}"
    );
    let full = rows(&csv(&s.join("version_0")));
    let resumed = rows(&csv(&s.join("version_1")));
    let tail: Vec<_> = full.into_iter().filter(|x| x.1 == 2).collect();
    assert!(!tail.is_empty());
    // Bit for bit: steps, tags and values of epoch 3 (index 2) are identical.
    assert_eq!(resumed, tail);
    // A resume with another seed is refused, naming the option.
    let bad = simclr(
        s.path(),
        &[
            "--epochs",
            "3",
            "--seed",
            "1",
            "--resume",
            ck.to_str().unwrap(),
        ],
        &[],
    );
    assert_fails(&bad, &["--resume", "seed"]);
}

#[test]
fn simclr_bad_options_fail_naming_the_option() {
    let s = Scratch::new("simclr-bad");
    let d = s.path().to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["simclr-mnist", "--log-dir", d];
        args.extend_from_slice(extra);
        nidl_env(&args, &[])
    };
    // Usage errors (clap's, exit status 2) name the option and what it allows.
    let usage: &[(&[&str], &[&str])] = &[
        (
            &["--epochs", "0"],
            &["--epochs", "allowed: a whole number ≥ 1"],
        ),
        (
            &["--epochs", "-1"],
            &["'-1'", "--epochs", "a whole number ≥ 1"],
        ),
        (&["--lr", "-1"], &["--lr", "allowed: a finite number > 0"]),
        (&["--lr", "0"], &["--lr", "allowed: a finite number > 0"]),
        (&["--lr", "abc"], &["--lr", "'abc'"]),
        (
            &["--batch-size", "1"],
            &["--batch-size", "a whole number ≥ 2"],
        ),
        (&["--temperature", "0"], &["--temperature", "> 0"]),
        (&["--weight-decay", "-0.1"], &["--weight-decay", "≥ 0"]),
        (&["--latent", "0"], &["--latent", "≥ 1"]),
        (
            &["--log-every-n-steps", "0"],
            &["--log-every-n-steps", "≥ 1"],
        ),
        (&["--bogus", "1"], &["'--bogus'"]),
        (&["--checkpoint=yes"], &["--checkpoint", "'yes'"]),
        // A stray word after a flag is a stray argument to clap: it names the word.
        (&["--checkpoint", "yes"], &["'yes'"]),
    ];
    for (extra, parts) in usage {
        assert_usage_error(&run(extra), parts);
    }
    // Run failures: one line naming the option.
    for (extra, opt) in [
        (["--resume", "/nonexistent/ck.safetensors"], "--resume"),
        (["--data-dir", "/nonexistent/mnist"], "--data-dir"),
    ] {
        assert_fails(&run(&extra), &[opt]);
    }
    // A corrupt checkpoint names the file.
    let bad = s.join("bad.safetensors");
    fs::write(&bad, b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ").unwrap();
    let out = nidl_env(
        &[
            "simclr-mnist",
            "--log-dir",
            d,
            "--resume",
            bad.to_str().unwrap(),
        ],
        &[],
    );
    assert_fails(&out, &["bad.safetensors"]);
}

#[test]
fn yaware_tiny_run_on_a_small_synthetic_openbhb() {
    let s = Scratch::new("yaware");
    let data = small_openbhb(&s);
    let logs = s.join("logs");
    let run =
        |extra: &[&str], threads: &str| openbhb_run("yaware-openbhb", &data, &logs, extra, threads);
    let stdout = ok(&run(&["--checkpoint"], "2"));
    assert!(
        stdout.contains("task0") && stdout.contains("task1"),
        "{stdout}"
    );
    let r = rows(&csv(&logs.join("version_0")));
    for tag in ["MAE", "MedAE", "RMSE", "MSE", "R2", "PCC", "EVar"] {
        assert_eq!(
            r.iter().filter(|x| x.2 == format!("task0/{tag}")).count(),
            2,
            "task0/{tag}"
        );
    }
    for tag in CLASSIFICATION_METRICS {
        assert_eq!(
            r.iter().filter(|x| x.2 == format!("task1/{tag}")).count(),
            2,
            "task1/{tag}"
        );
    }
    assert_eq!(r.iter().filter(|x| x.2 == "loss/train").count(), 10); // 300 / 64 → 5 batches × 2
                                                                      // Same seed, one thread: identical metrics.
    ok(&run(&[], "1"));
    assert_eq!(csv(&logs.join("version_0")), csv(&logs.join("version_1")));
    // Resume from epoch 1 reproduces epoch 2.
    let ck = logs.join("version_0/checkpoints/epoch=0-step=5.safetensors");
    ok(&run(&["--resume", ck.to_str().unwrap()], "2"));
    let tail: Vec<_> = r.into_iter().filter(|x| x.1 == 1).collect();
    assert_eq!(rows(&csv(&logs.join("version_2"))), tail);
    // Another bandwidth or mask probability: the resume is refused, naming both.
    let changed = run(
        &[
            "--resume",
            ck.to_str().unwrap(),
            "--sigma",
            "5",
            "--mask-prob",
            "0.5",
        ],
        "2",
    );
    assert_fails(
        &changed,
        &[
            "bandwidth: scalar:16 (checkpoint) vs. scalar:25 (this run)",
            "mask_prob: 0.8 (checkpoint) vs. 0.5 (this run)",
        ],
    );
    // Bad y-Aware options name themselves.
    let bad = run(&["--mask-prob", "2"], "2");
    assert_usage_error(&bad, &["--mask-prob", "allowed: a number from 0 to 1"]);
    assert_usage_error(&run(&["--sigma", "0"], "2"), &["--sigma", "> 0"]);
}

#[test]
fn yaware_default_data_is_generated_once_into_the_cache() {
    let s = Scratch::new("yaware-cache");
    let env = [("XDG_CACHE_HOME", s.path().to_str().unwrap())];
    let logs = s.join("logs");
    let args = [
        "yaware-openbhb",
        "--log-dir",
        logs.to_str().unwrap(),
        "--epochs",
        "1",
        "--limit-train-batches",
        "2",
        "--probe-train-limit",
        "300",
        "--probe-test-limit",
        "100",
        "--no-progress",
    ];
    let first = nidl_env(&args, &env);
    let out = ok(&first);
    assert!(String::from_utf8_lossy(&first.stderr).contains("generating a SYNTHETIC OpenBHB"));
    assert!(out.contains("SYNTHETIC"), "{out}");
    let second = nidl_env(&args, &env);
    ok(&second);
    assert!(!String::from_utf8_lossy(&second.stderr).contains("generating"));
}

#[test]
fn barlow_mnist_tiny_run_probes_with_both_probes_at_train_start_and_every_epoch() {
    let s = Scratch::new("barlow-files");
    let out = barlow(
        s.path(),
        &[
            "--epochs",
            "2",
            "--checkpoint",
            "--probe",
            "logreg",
            "--probe",
            "knn",
            "--probe-on-train-start",
        ],
        &[],
    );
    let stdout = ok(&out);
    assert!(
        stdout.contains("before training, step 0 | LogisticRegression accuracy")
            && stdout.contains("\nKNeighborsClassifier/accuracy "),
        "{stdout}"
    );
    let v = s.join("version_0");
    for f in ["metrics.csv", "hparams.yaml", "metrics.png", "metrics.svg"] {
        assert!(v.join(f).is_file(), "{f} missing");
    }
    let r = rows(&csv(&v));
    assert_eq!(steps_of(&r, "loss/train"), vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(steps_of(&r, "loss/val"), vec![2, 5]);
    for probe in ["LogisticRegression", "KNeighborsClassifier"] {
        for m in CLASSIFICATION_METRICS {
            assert_eq!(
                steps_of(&r, &format!("{probe}/{m}")),
                vec![0, 2, 5],
                "{probe}/{m}"
            );
        }
    }
    // The 5-NN probe on 500 MNIST digits: well above chance (0.1) on the LeNet at init, and
    // still above it after a few steps at this high learning rate.
    for x in r.iter().filter(|x| x.2 == "KNeighborsClassifier/accuracy") {
        let floor = if x.0 == 0 { 0.6 } else { 0.3 };
        assert!(
            x.3 > floor && x.3 <= 1.0,
            "k-NN accuracy {} at step {}",
            x.3,
            x.0
        );
    }
    let hp = fs::read_to_string(v.join("hparams.yaml")).unwrap();
    for want in [
        "estimator: BarlowTwins",
        "lambd: 0.005",
        "proj_hidden_dim: 64",
        "proj_output_dim: 32",
        "weight_decay: 0.0005",
        "exclude_bias_and_norm_wd: true",
        "warmup_steps=3, total_steps=6",
    ] {
        assert!(hp.contains(want), "{want}: {hp}");
    }
    let c =
        nidl::train::Checkpoint::load(&v.join("checkpoints/epoch=1-step=6.safetensors")).unwrap();
    assert!(c.get("encoder.conv1.weight").is_some());
    assert!(c.get("head.layers.1.running_mean").is_some());
    assert_eq!(c.metadata["estimator"], "BarlowTwins");
    assert_eq!(c.metadata["barlow_twins.scheduler_steps"], "6");
}

#[test]
fn probe_every_val_and_probe_every_zero_schedule_the_knn_probe() {
    let s = Scratch::new("probe-schedule");
    ok(&barlow(
        s.path(),
        &[
            "--epochs",
            "3",
            "--probe",
            "knn",
            "--probe-every",
            "0",
            "--probe-every-val",
            "2",
        ],
        &[],
    ));
    let r = rows(&csv(&s.join("version_0")));
    // Only after the 2nd validation epoch (its last step, 5), not after training epochs.
    assert_eq!(steps_of(&r, "KNeighborsClassifier/accuracy"), vec![5]);
    assert!(r.iter().all(|x| !x.2.starts_with("LogisticRegression")));
    // SimCLR takes the same options: k-NN only, after each validation epoch.
    ok(&simclr(
        s.path(),
        &["--epochs", "2", "--probe", "knn", "--probe-every-val", "1"],
        &[],
    ));
    let r = rows(&csv(&s.join("version_1")));
    assert_eq!(steps_of(&r, "KNeighborsClassifier/f1_macro"), vec![2, 5]);
    assert!(r.iter().all(|x| !x.2.starts_with("LogisticRegression")));
    // `--probe-every 0` alone: no probing at all.
    ok(&barlow(
        s.path(),
        &["--epochs", "1", "--probe-every", "0"],
        &[],
    ));
    let r = rows(&csv(&s.join("version_2")));
    assert!(
        r.iter().all(|x| x.2.starts_with("loss/") || x.2 == "epoch"),
        "{r:?}"
    );
    // Every 2nd of 3 epochs: after the 2nd only, as nidl 0.0.1; also after the last with
    // `--probe-after-last-epoch`.
    for (extra, steps) in [
        (&[][..], vec![5]),
        (&["--probe-after-last-epoch"][..], vec![5, 8]),
    ] {
        let mut args = vec!["--epochs", "3", "--probe", "knn", "--probe-every", "2"];
        args.extend_from_slice(extra);
        let out = simclr(s.path(), &args, &[]);
        let r = rows(&csv(&logs_in(&ok(&out))));
        assert_eq!(
            steps_of(&r, "KNeighborsClassifier/accuracy"),
            steps,
            "{extra:?}"
        );
    }
}

#[test]
fn barlow_mnist_is_deterministic_and_resumes_bit_for_bit() {
    let s = Scratch::new("barlow-determinism");
    let both = ["--epochs", "3", "--probe", "logreg,knn", "--checkpoint"];
    ok(&barlow(s.path(), &both, &[("RAYON_NUM_THREADS", "1")]));
    ok(&barlow(s.path(), &both, &[("RAYON_NUM_THREADS", "2")]));
    let a = csv(&s.join("version_0"));
    assert_eq!(a, csv(&s.join("version_1")), "1 vs 2 threads");
    let loss: Vec<f64> = rows(&a)
        .into_iter()
        .filter(|x| x.2 == "loss/train")
        .map(|x| x.3)
        .collect();
    assert!(
        loss.windows(2).any(|w| w[0] != w[1]),
        "training moves: {loss:?}"
    );
    // Resume from the end of epoch 2 (of 3): the last epoch is reproduced bit for bit, its
    // scheduled learning rates and batch-norm running statistics included.
    let ck = s.join("version_0/checkpoints/epoch=1-step=6.safetensors");
    let out = barlow(
        s.path(),
        &[
            "--epochs",
            "3",
            "--probe",
            "logreg,knn",
            "--resume",
            ck.to_str().unwrap(),
        ],
        &[],
    );
    let stdout = ok(&out);
    assert!(stdout.contains("resuming from") && stdout.contains("epoch 3/3"));
    let tail: Vec<_> = rows(&a).into_iter().filter(|x| x.1 == 2).collect();
    assert!(tail.iter().any(|x| x.2 == "KNeighborsClassifier/accuracy"));
    assert_eq!(rows(&csv(&s.join("version_2"))), tail);
    // A SimCLR checkpoint does not resume a Barlow Twins run.
    ok(&simclr(s.path(), &["--epochs", "1", "--checkpoint"], &[]));
    let simclr_ck = s.join("version_3/checkpoints/epoch=0-step=3.safetensors");
    let bad = barlow(
        s.path(),
        &["--epochs", "2", "--resume", simclr_ck.to_str().unwrap()],
        &[],
    );
    assert_fails(&bad, &["--resume", "SimCLR", "BarlowTwins"]);
}

#[test]
fn barlow_and_probe_bad_options_fail_naming_the_option() {
    let s = Scratch::new("barlow-bad");
    let d = s.path().to_str().unwrap();
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "barlow-mnist",
            &["--probe", "svm"],
            &["--probe", "'svm'", "possible values: logreg, knn"],
        ),
        (
            "barlow-mnist",
            &["--probe", "logreg,,knn"],
            &["--probe", "a value is required"],
        ),
        ("barlow-mnist", &["--lambda", "-1"], &["--lambda"]),
        (
            "barlow-mnist",
            &["--warmup-epochs", "x"],
            &["--warmup-epochs"],
        ),
        ("barlow-mnist", &["--proj-hidden", "0"], &["--proj-hidden"]),
        ("barlow-mnist", &["--proj-output", "0"], &["--proj-output"]),
        (
            "barlow-mnist",
            &["--probe-every-val", "-1"],
            &["--probe-every-val"],
        ),
        (
            "barlow-mnist",
            &["--probe-on-train-start=yes"],
            &["--probe-on-train-start", "'yes'"],
        ),
        (
            "barlow-mnist",
            &["--temperature", "0.1"],
            &["unexpected argument '--temperature'"],
        ),
        (
            "barlow-mnist",
            &["--lr", "1e-3", "--lr", "1e-2"],
            &["--lr", "cannot be used multiple times"],
        ),
        (
            "simclr-mnist",
            &["--probe", "ridge"],
            &["--probe", "'ridge'"],
        ),
        (
            "yaware-openbhb",
            &["--probe", "lasso"],
            &["--probe", "'lasso'"],
        ),
        (
            "barlow-openbhb",
            &["--probe", "knn,svm"],
            &["--probe", "'svm'"],
        ),
        ("barlow-openbhb", &["--mask-prob", "2"], &["--mask-prob"]),
        (
            "barlow-openbhb",
            &["--sigma", "4"],
            &["unexpected argument '--sigma'"],
        ),
    ];
    for (cmd, extra, parts) in cases {
        let mut args = vec![*cmd, "--log-dir", d];
        args.extend_from_slice(extra);
        assert_usage_error(&nidl_env(&args, &[]), parts);
    }
    for cmd in ["barlow-mnist", "barlow-openbhb"] {
        let help = ok(&nidl_env(&[cmd, "--help"], &[]));
        for opt in [
            "--lambda",
            "--warmup-epochs",
            "--probe-every-val",
            "--probe-on-train-start",
        ] {
            assert!(help.contains(opt), "{cmd} --help lists {opt}");
        }
    }
}

#[test]
fn barlow_openbhb_tiny_run_with_linear_and_knn_multitask_probes() {
    let s = Scratch::new("barlow-openbhb");
    let data = small_openbhb(&s);
    let logs = s.join("logs");
    let run = |threads: &str| {
        openbhb_run(
            "barlow-openbhb",
            &data,
            &logs,
            &["--probe", "logreg,knn"],
            threads,
        )
    };
    let stdout = ok(&run("2"));
    assert!(
        stdout.contains("\ntask0/") && stdout.contains("\nKNeighborsRegressor/"),
        "{stdout}"
    );
    let r = rows(&csv(&logs.join("version_0")));
    // 300 / 64 → 5 batches per epoch.
    assert_eq!(steps_of(&r, "loss/train").len(), 10);
    for tag in [
        "task0/R2",
        "task0/MAE",
        "task1/accuracy",
        "KNeighborsRegressor/R2",
        "KNeighborsRegressor/MAE",
        "KNeighborsClassifier/accuracy",
        "KNeighborsClassifier/balanced_accuracy",
    ] {
        assert_eq!(steps_of(&r, tag), vec![4, 9], "{tag}");
    }
    for x in &r {
        assert!(x.3.is_finite(), "{} = {}", x.2, x.3);
        if x.2.ends_with("accuracy") {
            assert!((0.0..=1.0).contains(&x.3), "{} = {}", x.2, x.3);
        }
    }
    // Same metrics on one thread.
    ok(&run("1"));
    assert_eq!(csv(&logs.join("version_0")), csv(&logs.join("version_1")));
}

#[test]
fn device_option_names_what_is_wrong() {
    let s = Scratch::new("device");
    let out = simclr(&s.join("logs"), &["--device", "tpu"], &[]);
    assert_usage_error(&out, &["--device", "'tpu'", "cpu or gpu"]);
    #[cfg(not(feature = "gpu"))]
    {
        let out = simclr(&s.join("logs"), &["--device", "gpu"], &[]);
        assert_fails(&out, &["option --device", "--features gpu"]);
    }
}

#[test]
fn a_huge_learning_rate_stops_the_run_naming_epoch_step_and_tensor() {
    let s = Scratch::new("simclr-non-finite");
    let d = s.path().to_str().unwrap();
    // `--lr 1e9` keeps the loss finite while the weights blow up: the run used to end with
    // exit code 0 and NaN weights in its checkpoint.
    let out = nidl_env(
        &[
            "simclr-mnist",
            "--log-dir",
            d,
            "--lr",
            "1e9",
            "--epochs",
            "1",
            "--limit-train-batches",
            "3",
            "--batch-size",
            "32",
            "--limit-val-batches",
            "1",
            "--probe-every",
            "0",
            "--checkpoint",
            "--no-progress",
        ],
        &[],
    );
    assert_fails(
        &out,
        &[
            "non-finite value in the gradient of 'encoder.",
            "at epoch 1/1, batch 2/3 (global step 1;",
            "training stopped",
        ],
    );
    let ck = s.join("version_0/checkpoints");
    let written: Vec<_> = fs::read_dir(&ck).map_or(Vec::new(), |d| d.collect());
    assert!(written.is_empty(), "no checkpoint: {written:?}");
}

/// The version folder a run names on the line after `done: ... logs in`.
fn logs_in(stdout: &str) -> PathBuf {
    let mut lines = stdout.lines().skip_while(|l| !l.ends_with("; logs in"));
    let dir = lines
        .nth(1)
        .unwrap_or_else(|| panic!("no 'logs in' line: {stdout}"));
    PathBuf::from(dir.trim())
}

#[test]
fn resume_with_other_hyper_parameters_is_refused_unless_asked_and_then_recorded() {
    let s = Scratch::new("simclr-resume-changes");
    let d = s.path().to_str().unwrap();
    let run = |lr: &str, batch: &str, extra: &[&str]| {
        let mut args = vec![
            "simclr-mnist",
            "--log-dir",
            d,
            "--epochs",
            "2",
            "--limit-train-batches",
            "3",
            "--limit-val-batches",
            "1",
            "--probe-every",
            "0",
            "--no-progress",
            "--lr",
            lr,
            "--batch-size",
            batch,
        ];
        args.extend_from_slice(extra);
        nidl_env(&args, &[])
    };
    let first = logs_in(&ok(&run("1e-2", "32", &["--checkpoint"])));
    let ck = first.join("checkpoints/epoch=0-step=3.safetensors");
    let ck = ck.to_str().unwrap();
    // Another --lr and --batch-size: refused, naming both, with the way out.
    assert_fails(
        &run("2e-2", "64", &["--resume", ck]),
        &[
            "option --resume",
            "epoch=0-step=3.safetensors",
            "lr: 0.01 (checkpoint) vs. 0.02 (this run)",
            "batch_size: 32 (checkpoint) vs. 64 (this run)",
            "--resume-despite-changes",
        ],
    );
    // Accepted when asked, and the changes are recorded with the run.
    let despite = logs_in(&ok(&run(
        "2e-2",
        "64",
        &["--resume", ck, "--resume-despite-changes"],
    )));
    let hp = fs::read_to_string(despite.join("hparams.yaml")).unwrap();
    let line = hp
        .lines()
        .find(|l| l.starts_with("resumed_despite_changes: "))
        .unwrap_or_else(|| panic!("{hp}"));
    assert!(
        line.contains("lr: 0.01 -> 0.02") && line.contains("batch_size: 32 -> 64"),
        "{line}"
    );
    // Unchanged: accepted, nothing recorded, and the last epoch repeats the first run's.
    let same = logs_in(&ok(&run("1e-2", "32", &["--resume", ck])));
    let hp = fs::read_to_string(same.join("hparams.yaml")).unwrap();
    assert!(!hp.contains("resumed_despite_changes"), "{hp}");
    let tail: Vec<_> = rows(&csv(&first))
        .into_iter()
        .filter(|x| x.1 == 1)
        .collect();
    assert!(!tail.is_empty());
    assert_eq!(rows(&csv(&same)), tail);
    // A checkpoint of an older nidl, which records no hyper-parameters: refused unless asked.
    let mut old = nidl::train::Checkpoint::load(Path::new(ck)).unwrap();
    old.metadata.retain(|k, _| !k.starts_with("hparam."));
    let old_path = s.join("old.safetensors");
    old.save(&old_path).unwrap();
    let old_path = old_path.to_str().unwrap();
    assert_fails(
        &run("1e-2", "32", &["--resume", old_path]),
        &[
            "option --resume",
            "old.safetensors",
            "records no hyper-parameters",
            "--resume-despite-changes",
        ],
    );
    let old_run = logs_in(&ok(&run(
        "1e-2",
        "32",
        &["--resume", old_path, "--resume-despite-changes"],
    )));
    let hp = fs::read_to_string(old_run.join("hparams.yaml")).unwrap();
    assert!(
        hp.contains("resumed_despite_changes: \"the checkpoint records no hyper-parameters\""),
        "{hp}"
    );
    assert_eq!(rows(&csv(&old_run)), tail);
    // The flag needs --resume.
    assert_usage_error(
        &run("1e-2", "32", &["--resume-despite-changes"]),
        &["--resume <PATH>", "--resume-despite-changes"],
    );
}

#[test]
#[cfg(target_os = "linux")]
fn resuming_removes_the_checkpoint_temporaries_of_killed_runs() {
    // `kill -9` while a checkpoint is written leaves `.<name>.tmp.<pid>.<n>`; resuming from that
    // folder removes those of dead processes (here a fake one), not a live process's.
    let s = Scratch::new("simclr-stale");
    let first = logs_in(&ok(&simclr(
        s.path(),
        &["--epochs", "2", "--checkpoint", "--probe-every", "0"],
        &[],
    )));
    let ck = first.join("checkpoints");
    let (dead, live) = (common::dead_pid(), std::process::id());
    let stale = ck.join(format!(".epoch=2-step=9.safetensors.tmp.{dead}.0"));
    let busy = ck.join(format!(".epoch=2-step=9.safetensors.tmp.{live}.0"));
    for f in [&stale, &busy] {
        fs::write(f, b"half a checkpoint").unwrap();
    }
    let from = ck.join("epoch=0-step=3.safetensors");
    ok(&simclr(
        s.path(),
        &[
            "--epochs",
            "2",
            "--probe-every",
            "0",
            "--resume",
            from.to_str().unwrap(),
        ],
        &[],
    ));
    assert!(!stale.exists(), "the dead process's temporary is removed");
    assert!(busy.is_file(), "a live process's temporary is kept");
}
