//! `--device gpu` end to end: each training command trains on the GPU (lavapipe in CI) and
//! tracks the same run on the CPU — same tags at the same steps, losses within 1e-3 (relative
//! above 1), probe scores within 0.02 — and a machine without an adapter gets a one-line error
//! naming what was looked for. Two GPU runs with the same seed (on 1 and 2 rayon threads) give
//! the same metrics.csv, and a run resumed on the GPU from a checkpoint repeats the uninterrupted
//! one bit for bit.
#![cfg(all(feature = "gpu", feature = "cli"))]

mod common;

use common::cli::{assert_fails, MNIST_TINY};
use common::{metrics_rows, Scratch};
use std::path::Path;
use std::process::{Command, Output};

/// Runs `nidl` with `args` plus `--log-dir logs --device device`, and extra environment.
fn run(args: &[&str], logs: &Path, device: &str, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nidl"));
    c.args(args)
        .args(["--log-dir", logs.to_str().unwrap(), "--device", device]);
    c.args(["--no-progress"]);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// Trains `args` on the CPU and on the GPU and compares their `metrics.csv`.
fn gpu_tracks_cpu(name: &str, args: &[&str]) {
    let s = Scratch::new(name);
    let mut rows = Vec::new();
    for device in ["cpu", "gpu"] {
        let logs = s.join(device);
        let out = run(args, &logs, device, &[]);
        assert!(
            out.status.success(),
            "{name} on {device}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            stdout.contains("training on the GPU"),
            device == "gpu",
            "{stdout}"
        );
        let csv = std::fs::read_to_string(logs.join("version_0/metrics.csv")).unwrap();
        rows.push(metrics_rows(&csv));
    }
    let (cpu, gpu) = (&rows[0], &rows[1]);
    assert_eq!(cpu.len(), gpu.len(), "{name}: rows");
    assert!(cpu.iter().any(|r| r.2 == "loss/train"), "{name}: {cpu:?}");
    for (c, g) in cpu.iter().zip(gpu) {
        assert_eq!(
            (c.0, c.1, &c.2),
            (g.0, g.1, &g.2),
            "{name}: step, epoch, tag"
        );
        // Losses within 1e-3 (relative to the loss once it exceeds 1: Barlow Twins' sums to ~60).
        let tol = if c.2.starts_with("loss/") {
            1e-3 * c.3.abs().max(1.0)
        } else {
            0.02
        };
        assert!(
            (c.3 - g.3).abs() <= tol,
            "{name}: {} at step {}: GPU {} vs CPU {}",
            c.2,
            c.0,
            g.3,
            c.3
        );
    }
}

#[test]
fn simclr_mnist_on_the_gpu_tracks_the_cpu_run() {
    let mut args = vec!["simclr-mnist", "--epochs", "1", "--probe", "logreg,knn"];
    args.extend_from_slice(MNIST_TINY);
    gpu_tracks_cpu("simclr", &args);
}

#[test]
fn barlow_mnist_on_the_gpu_tracks_the_cpu_run() {
    let mut args = vec![
        "barlow-mnist",
        "--epochs",
        "1",
        "--proj-hidden",
        "64",
        "--proj-output",
        "64",
        "--warmup-epochs",
        "1",
        // Adam moves every parameter by about ±lr whatever its gradient's size, so parameters
        // with near-zero gradients move by the sign of f32 rounding noise; Barlow Twins' loss
        // (a sum over a 64×64 correlation matrix after batch norms) feels that. Measured after
        // 3 steps: validation loss 1.3e-3 relative apart at the default lr 3e-4, 5e-5 at 3e-5,
        // 1e-6 at 1e-7.
        "--lr",
        "3e-5",
    ];
    args.extend_from_slice(MNIST_TINY);
    gpu_tracks_cpu("barlow", &args);
}

#[test]
fn openbhb_commands_on_the_gpu_track_the_cpu_runs() {
    let s = Scratch::new("openbhb");
    let data = s.join("data");
    let made = Command::new(env!("CARGO_BIN_EXE_nidl"))
        .args(["make-openbhb", "--out", data.to_str().unwrap()])
        .args(["--train", "300", "--internal", "60", "--external", "60"])
        .output()
        .unwrap();
    assert!(made.status.success());
    for cmd in ["yaware-openbhb", "barlow-openbhb"] {
        let args = [
            cmd,
            "--data-dir",
            data.to_str().unwrap(),
            "--epochs",
            "1",
            "--batch-size",
            "64",
            "--limit-train-batches",
            "3",
            "--log-every-n-steps",
            "1",
        ];
        gpu_tracks_cpu(cmd, &args);
    }
}

#[test]
fn no_adapter_is_a_one_line_error_naming_what_was_looked_for() {
    let s = Scratch::new("no-adapter");
    // The Vulkan loader finds no driver; no other backend is built on Linux.
    let missing = s.join("no-such-icd.json");
    let missing = missing.to_str().unwrap();
    let mut args = vec!["simclr-mnist", "--epochs", "1"];
    args.extend_from_slice(MNIST_TINY);
    let out = run(
        &args,
        &s.join("logs"),
        "gpu",
        &[("VK_ICD_FILENAMES", missing), ("VK_DRIVER_FILES", missing)],
    );
    assert_fails(&out, &["option --device", "no GPU adapter", "Vulkan"]);
}

#[test]
fn gpu_runs_are_reproducible() {
    // Every GPU reduction adds in a fixed order (no atomics), so a run repeats bit for bit on
    // the same device and driver, here on 1 and then 2 rayon threads.
    let s = Scratch::new("repeat");
    let mut args = vec!["simclr-mnist", "--epochs", "1"];
    args.extend_from_slice(MNIST_TINY);
    let csvs: Vec<String> = ["1", "2"]
        .iter()
        .map(|threads| {
            let logs = s.join(threads);
            let out = run(&args, &logs, "gpu", &[("RAYON_NUM_THREADS", threads)]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::fs::read_to_string(logs.join("version_0/metrics.csv")).unwrap()
        })
        .collect();
    assert_eq!(csvs[0], csvs[1]);
}

#[test]
fn gpu_resume_reproduces_the_uninterrupted_gpu_run() {
    // A checkpoint is read back from the device and restored onto it: the resumed run's last
    // epoch equals the uninterrupted one's, bit for bit.
    let s = Scratch::new("resume");
    let logs = s.join("logs");
    let mut args = vec!["barlow-openbhb", "--epochs", "2", "--batch-size", "64"];
    args.extend_from_slice(&["--limit-train-batches", "3", "--checkpoint"]);
    let out = run(&args, &logs, "gpu", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let checkpoints = logs.join("version_0/checkpoints");
    let first = std::fs::read_dir(&checkpoints)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("epoch=0-"))
        .expect("a checkpoint after epoch 0");
    let mut resume = args[..args.len() - 1].to_vec();
    resume.extend_from_slice(&["--resume", first.to_str().unwrap()]);
    let out = run(&resume, &logs, "gpu", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read =
        |v: &str| metrics_rows(&std::fs::read_to_string(logs.join(v).join("metrics.csv")).unwrap());
    let full: Vec<_> = read("version_0").into_iter().filter(|r| r.1 == 1).collect();
    assert!(!full.is_empty());
    assert_eq!(read("version_1"), full);
}

#[test]
fn non_finite_weights_on_the_gpu_stop_the_run_at_the_end_of_the_epoch() {
    // `--lr 1e39` is past f32's range: the first AdamW step makes the weights infinite. Device
    // tensors are checked once per epoch (per-step checks would read them back): the run stops
    // at the end of the epoch, before validation and the checkpoint.
    let s = Scratch::new("non-finite");
    let logs = s.join("logs");
    let args = [
        "simclr-mnist",
        "--epochs",
        "1",
        "--lr",
        "1e39",
        "--limit-train-batches",
        "1",
        "--batch-size",
        "32",
        "--limit-val-batches",
        "1",
        "--probe-every",
        "0",
        "--checkpoint",
    ];
    let out = run(&args, &logs, "gpu", &[]);
    assert!(!out.status.success());
    // One cause (the Vulkan driver may add its own lines to stderr).
    let stderr = String::from_utf8_lossy(&out.stderr);
    let causes: Vec<&str> = stderr.lines().filter(|l| l.starts_with("nidl ")).collect();
    assert_eq!(causes.len(), 1, "{stderr}");
    for part in [
        "non-finite value in 'encoder.",
        "at the end of epoch 1/1 (global step 1; tensors on a GPU are checked once per epoch)",
    ] {
        assert!(causes[0].contains(part), "{part}: {stderr}");
    }
    let written: Vec<_> =
        std::fs::read_dir(logs.join("version_0/checkpoints")).map_or(Vec::new(), |d| d.collect());
    assert!(written.is_empty(), "no checkpoint: {written:?}");
}
