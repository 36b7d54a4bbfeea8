//! TensorBoard's own reader must see every scalar nidl logs: write a run with `RunLogger`, read
//! it back with `tensorboard.backend.event_processing.event_accumulator.EventAccumulator` (as the
//! seed's plotting code does) and compare every tag, step and value.
//!
//! Needs `python3` with the `tensorboard` package; if the package is missing the test installs it
//! with `python3 -m pip install --quiet tensorboard`, and fails, saying why, if it cannot.

use std::collections::BTreeMap;
use std::fs;
use std::process::Command;

use nidl::log::{next_version_dir, RunLogger};

/// Lists every scalar as `tag<TAB>step<TAB>repr(value)`, sorted by tag, in the reader's order.
const READER: &str = r#"
import sys
from tensorboard.backend.event_processing import event_accumulator as ea_mod
ea = ea_mod.EventAccumulator(sys.argv[1], size_guidance={ea_mod.SCALARS: 0})
ea.Reload()
for tag in sorted(ea.Tags()["scalars"]):
    for e in ea.Scalars(tag):
        print(f"{tag}\t{e.step}\t{e.value!r}")
"#;

const IMPORT: &str = "from tensorboard.backend.event_processing import event_accumulator";

/// Runs `python3 args...`, returning (success, stdout, stderr); panics if python3 cannot start.
fn python(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("python3")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
            "cannot run `python3` ({e}): this test needs Python 3 with the `tensorboard` package \
             to check that TensorBoard reads nidl's event files"
        )
        });
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Makes sure `tensorboard` imports, installing it with pip if needed; panics with the reason
/// if it cannot.
fn ensure_tensorboard() {
    let (ok, _, first_err) = python(&["-c", IMPORT]);
    if ok {
        return;
    }
    eprintln!("tensorboard not importable; installing it with `python3 -m pip install --quiet tensorboard`");
    let (pip_ok, pip_out, pip_err) = python(&["-m", "pip", "install", "--quiet", "tensorboard"]);
    let (ok, _, err) = python(&["-c", IMPORT]);
    assert!(
        ok,
        "TensorBoard check cannot run: the Python package `tensorboard` is not importable and \
         `python3 -m pip install --quiet tensorboard` {}.\n\
         import error before install:\n{first_err}\npip output:\n{pip_out}{pip_err}\n\
         import error after install:\n{err}",
        if pip_ok {
            "succeeded but the import still fails"
        } else {
            "failed"
        }
    );
}

#[test]
fn event_accumulator_reads_every_tag() {
    ensure_tensorboard();

    let root = std::env::temp_dir().join(format!("nidl-test-tb-python-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    let dir = next_version_dir(&root).unwrap();

    // A y-Aware-like run: loss/train per step, loss/val and the probe metrics per epoch.
    let mut expected: BTreeMap<String, Vec<(u64, f64)>> = BTreeMap::new();
    let mut log = RunLogger::create(&dir).unwrap();
    log.log_hparams(&[("lr".into(), "1e-05".into())]).unwrap();
    let mut put = |log: &mut RunLogger, tag: &str, v: f64, step: u64, epoch: usize| {
        log.log_scalar(tag, v, step, epoch).unwrap();
        expected.entry(tag.to_string()).or_default().push((step, v));
    };
    let steps_per_epoch = 30u64;
    for epoch in 0..5usize {
        for b in 0..steps_per_epoch {
            let step = epoch as u64 * steps_per_epoch + b + 1;
            put(
                &mut log,
                "loss/train",
                6.0 / (1.0 + step as f64).sqrt(),
                step,
                epoch,
            );
        }
        let step = (epoch as u64 + 1) * steps_per_epoch;
        put(
            &mut log,
            "loss/val",
            5.0 / (1.0 + step as f64).sqrt() + 0.1,
            step,
            epoch,
        );
        let t = epoch as f64 / 4.0;
        for (m, v) in [
            ("R2", -0.3 + 0.8 * t),
            ("PCC", 0.2 + 0.6 * t),
            ("EVar", 0.1 * t),
        ] {
            put(&mut log, &format!("task0/{m}"), v, step, epoch);
        }
        for m in [
            "accuracy",
            "balanced_accuracy",
            "f1_macro",
            "precision_macro",
            "recall_macro",
            "f1_weighted",
        ] {
            put(
                &mut log,
                &format!("task1/{m}"),
                0.5 + 0.37 * t + 1e-9,
                step,
                epoch,
            );
        }
        put(
            &mut log,
            "LogisticRegression/accuracy",
            0.1 * epoch as f64,
            step,
            epoch,
        );
        log.flush().unwrap();
    }
    log.finish().unwrap();

    let dir_str = dir.to_str().expect("temp path is UTF-8");
    let (ok, stdout, stderr) = python(&["-c", READER, dir_str]);
    assert!(ok, "EventAccumulator failed on {dir_str}:\n{stderr}");

    let mut got: BTreeMap<String, Vec<(u64, f64)>> = BTreeMap::new();
    for line in stdout.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 3, "unexpected reader line {line:?}");
        let step: u64 = f[1].parse().unwrap();
        let value: f64 = f[2].parse().unwrap();
        got.entry(f[0].to_string()).or_default().push((step, value));
    }

    let want_tags: Vec<&String> = expected.keys().collect();
    let got_tags: Vec<&String> = got.keys().collect();
    assert_eq!(
        got_tags, want_tags,
        "tags TensorBoard sees\nstderr:\n{stderr}"
    );
    for (tag, want) in &expected {
        let have = &got[tag];
        assert_eq!(have.len(), want.len(), "{tag}: number of events");
        for (i, (h, w)) in have.iter().zip(want).enumerate() {
            assert_eq!(h.0, w.0, "{tag}[{i}] step");
            // TensorBoard keeps simple_value as a protobuf float.
            assert_eq!(h.1, (w.1 as f32) as f64, "{tag}[{i}] value");
        }
    }
    let _ = fs::remove_dir_all(&root);
}
