//! The `examples/` scenarios run, on a few batches: each is built and run with `--quick` through
//! cargo, and must succeed and print the probes' metrics it read back from `metrics.csv`.

use std::process::Command;

/// Runs `cargo run --example name -- --quick` in the profile of this test; returns its stdout.
fn run_example(name: &str) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--quiet", "--example", name]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let out = cmd.args(["--", "--quick"]).output().expect("cargo runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "example {name} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The value printed for `metric` at step 2 (the quick runs' only probe, after their 3 steps:
/// at the last one's step, as Lightning logs it).
fn printed(stdout: &str, metric: &str) -> f64 {
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{metric}  2: ")))
        .unwrap_or_else(|| panic!("no line for {metric} in:\n{stdout}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn simclr_mnist_example_runs_and_reads_its_metrics_back() {
    let out = run_example("simclr_mnist");
    let acc = printed(&out, "accuracy");
    // Ten classes: after 3 steps the probe is past chance only a little, but it is a score.
    assert!((0.0..=1.0).contains(&acc), "{out}");
    assert!(printed(&out, "f1_weighted") >= 0.0, "{out}");
}

#[test]
fn yaware_openbhb_example_runs_and_reads_its_metrics_back() {
    let out = run_example("yaware_openbhb");
    // The synthetic age is a function of the features: the ridge probe explains most of it.
    assert!(printed(&out, "task0/R2") > 0.5, "{out}");
    assert!(printed(&out, "task1/accuracy") > 0.5, "{out}");
}
