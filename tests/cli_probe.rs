//! `nidl probe` end to end on `.npy` files: the `--json` line parses and holds the metrics, the
//! table prints, and bad input exits non-zero with a one-line cause naming the file or option.

#![cfg(feature = "cli")]

mod common;

use common::cli::{
    assert_fails, assert_quiet_into_a_closed_pipe, assert_usage_error, nidl, nidl_command,
};
use common::Scratch;
use nidl::datasets::npy::{write_npy, NpyArray, NpyData};
use std::collections::BTreeMap;
use std::process::Output;

/// Writes `data` with `shape` as `<name>.npy` in `dir`; returns its path as a string.
fn npy(dir: &Scratch, name: &str, shape: &[usize], data: NpyData) -> String {
    let path = dir.join(format!("{name}.npy"));
    write_npy(
        &path,
        &NpyArray {
            shape: shape.to_vec(),
            data,
        },
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

/// Parses a flat JSON object of numbers and nulls (what `--json` prints).
fn parse_flat_json(line: &str) -> BTreeMap<String, Option<f64>> {
    let body = line
        .trim()
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or_else(|| panic!("not an object: {line}"));
    body.split(", ")
        .map(|field| {
            let (k, v) = field
                .split_once(": ")
                .unwrap_or_else(|| panic!("bad field {field:?}"));
            let key = k
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .unwrap_or_else(|| panic!("bad key {k:?}"));
            let value = if v == "null" {
                None
            } else {
                Some(
                    v.parse::<f64>()
                        .unwrap_or_else(|e| panic!("bad number {v:?}: {e}")),
                )
            };
            (key.to_string(), value)
        })
        .collect()
}

/// Two well-separated clusters in 3-D: rows alternate class 0 (around −2) and 1 (around +2).
fn clusters(n: usize, shift: f32) -> (Vec<f32>, Vec<i64>) {
    let mut x = Vec::with_capacity(n * 3);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let c = (i % 2) as i64;
        let centre = if c == 0 { -2.0 } else { 2.0 };
        for j in 0..3 {
            let jitter = (((i * 7 + j * 13) % 11) as f32 - 5.0) / 10.0 + shift;
            x.push(centre + jitter);
        }
        y.push(c);
    }
    (x, y)
}

#[derive(Clone)]
struct Files {
    train_x: String,
    train_y: String,
    test_x: String,
    test_y: String,
}

/// The scratch folder (deleted on drop) and the four files of a 2-class problem.
fn classification_files(name: &str) -> (Scratch, Files) {
    let dir = Scratch::new(name);
    let (x, y) = clusters(60, 0.0);
    let (xt, yt) = clusters(20, 0.05);
    let files = Files {
        train_x: npy(&dir, "train_x", &[60, 3], NpyData::F32(x)),
        train_y: npy(&dir, "train_y", &[60], NpyData::I64(y)),
        test_x: npy(&dir, "test_x", &[20, 3], NpyData::F32(xt)),
        test_y: npy(&dir, "test_y", &[20], NpyData::I64(yt)),
    };
    (dir, files)
}

/// `nidl probe` on the four files, with `extra` options.
fn probe_command(f: &Files, extra: &[&str]) -> std::process::Command {
    let mut c = nidl_command(&["probe", "--train-x", &f.train_x, "--train-y", &f.train_y]);
    c.args(["--test-x", &f.test_x, "--test-y", &f.test_y])
        .args(extra);
    c
}

fn run_probe(f: &Files, extra: &[&str]) -> Output {
    probe_command(f, extra).output().unwrap()
}

fn json_of(out: &Output) -> BTreeMap<String, Option<f64>> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim_end().lines().count(), 1, "one line: {stdout:?}");
    parse_flat_json(&stdout)
}

#[test]
fn logreg_json_has_classification_metrics_fit_time_and_iterations() {
    let (_dir, f) = classification_files("logreg");
    let m = json_of(&run_probe(&f, &["--probe", "logreg", "--json"]));
    for key in [
        "accuracy",
        "balanced_accuracy",
        "precision_macro",
        "recall_macro",
        "f1_macro",
        "f1_weighted",
    ] {
        let v = m[key].unwrap_or_else(|| panic!("{key} is null"));
        assert!((0.0..=1.0).contains(&v), "{key} = {v}");
    }
    assert_eq!(m["accuracy"], Some(1.0));
    assert!(m["fit_seconds"].unwrap() >= 0.0);
    let n_iter = m["n_iter"].unwrap();
    assert!(n_iter >= 1.0 && n_iter.fract() == 0.0);
}

#[test]
fn knn_classifies_integer_labels_and_prints_a_table() {
    let (_dir, f) = classification_files("knn");
    let m = json_of(&run_probe(&f, &["--probe", "knn", "--k", "3", "--json"]));
    assert_eq!(m["accuracy"], Some(1.0));
    assert_eq!(m["n_iter"], None);
    let out = run_probe(&f, &["--probe", "knn"]);
    assert!(out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("KNeighborsClassifier") && table.contains("balanced_accuracy"));
}

#[test]
fn ridge_json_has_regression_metrics() {
    let dir = Scratch::new("ridge");
    // y = 2·x0 − x1 + 0.5·x2 + 1, exactly linear: R2 ≈ 1 with a small alpha.
    let (x, _) = clusters(50, 0.0);
    let y: Vec<f64> = x
        .chunks(3)
        .map(|r| 2.0 * f64::from(r[0]) - f64::from(r[1]) + 0.5 * f64::from(r[2]) + 1.0)
        .collect();
    let (xt, _) = clusters(10, 0.1);
    let yt: Vec<f64> = xt
        .chunks(3)
        .map(|r| 2.0 * f64::from(r[0]) - f64::from(r[1]) + 0.5 * f64::from(r[2]) + 1.0)
        .collect();
    let f = Files {
        train_x: npy(&dir, "x", &[50, 3], NpyData::F32(x)),
        train_y: npy(&dir, "y", &[50], NpyData::F64(y)),
        test_x: npy(&dir, "xt", &[10, 3], NpyData::F32(xt)),
        test_y: npy(&dir, "yt", &[10], NpyData::F64(yt)),
    };
    let m = json_of(&run_probe(
        &f,
        &["--probe", "ridge", "--alpha", "1e-9", "--json"],
    ));
    for key in ["MAE", "MedAE", "RMSE", "MSE", "R2", "PCC", "EVar"] {
        assert!(m.contains_key(key), "{key} missing: {m:?}");
    }
    assert!(m["R2"].unwrap() > 0.999_999, "{m:?}");
    assert_eq!(m["n_iter"], None);
    // knn on float targets regresses.
    let m = json_of(&run_probe(&f, &["--probe", "knn", "--json"]));
    assert!(m.contains_key("R2") && m.contains_key("MAE"));
}

#[test]
fn bad_input_exits_non_zero_with_a_one_line_cause() {
    let (_dir, f) = classification_files("bad");
    let dir = Scratch::new("bad-extra");
    // NaN in the training features: names the file and the element.
    let (mut x, _) = clusters(60, 0.0);
    x[7] = f32::NAN;
    let nan_x = npy(&dir, "nan_x", &[60, 3], NpyData::F32(x));
    let mut args = vec!["probe", "--train-x", &nan_x, "--train-y", &f.train_y];
    args.extend_from_slice(&["--test-x", &f.test_x, "--test-y", &f.test_y]);
    args.extend_from_slice(&["--probe", "logreg"]);
    assert_fails(&nidl(&args), &["--train-x", "nan_x.npy", "NaN", "[2, 1]"]);

    // Length mismatch between --train-y and --train-x.
    let short_y = npy(&dir, "short_y", &[59], NpyData::I64(vec![0; 59]));
    let bad = Files {
        train_y: short_y,
        ..f.clone()
    };
    assert_fails(
        &run_probe(&bad, &["--probe", "logreg"]),
        &["--train-y", "short_y.npy", "59", "60"],
    );

    // A single class.
    let one = npy(&dir, "one_y", &[60], NpyData::I64(vec![3; 60]));
    let bad = Files {
        train_y: one,
        ..f.clone()
    };
    assert_fails(
        &run_probe(&bad, &["--probe", "logreg"]),
        &["one_y.npy", "2 classes"],
    );

    // Non-integer labels for a classifier.
    let frac = npy(
        &dir,
        "frac_y",
        &[60],
        NpyData::F64((0..60).map(|i| i as f64 / 7.0).collect()),
    );
    let bad = Files {
        train_y: frac,
        ..f.clone()
    };
    assert_fails(
        &run_probe(&bad, &["--probe", "logreg"]),
        &["--train-y", "frac_y.npy", "integer"],
    );

    // An empty set.
    let empty = npy(&dir, "empty_x", &[0, 3], NpyData::F32(vec![]));
    let bad = Files {
        test_x: empty,
        ..f.clone()
    };
    assert_fails(
        &run_probe(&bad, &["--probe", "logreg"]),
        &["--test-x", "empty_x.npy", "empty"],
    );

    // Integer features, a missing file, bad options.
    let ints = npy(&dir, "int_x", &[60, 3], NpyData::I64(vec![1; 180]));
    let bad = Files {
        train_x: ints,
        ..f.clone()
    };
    assert_fails(
        &run_probe(&bad, &["--probe", "ridge"]),
        &["--train-x", "int_x.npy", "float"],
    );
    let bad = Files {
        test_y: "/nonexistent/nidl/y.npy".into(),
        ..f.clone()
    };
    assert_fails(
        &run_probe(&bad, &["--probe", "logreg"]),
        &["--test-y", "/nonexistent/nidl/y.npy"],
    );
    assert_usage_error(
        &run_probe(&f, &["--probe", "svm"]),
        &["--probe", "'svm'", "possible values: logreg, ridge, knn"],
    );
    assert_usage_error(
        &run_probe(&f, &["--probe", "logreg", "--c", "0"]),
        &["--c", "allowed: a finite number > 0"],
    );
    assert_usage_error(
        &run_probe(&f, &["--probe", "knn", "--k", "0"]),
        &["--k", "allowed: a whole number ≥ 1"],
    );
    assert_fails(
        &run_probe(&f, &["--probe", "logreg", "--k", "3"]),
        &["--k", "knn"],
    );
    assert_fails(
        &run_probe(&f, &["--probe", "knn", "--k", "1000"]),
        &["1000"],
    );
    assert_usage_error(
        &run_probe(&f, &["--probe", "logreg", "--bogus", "1"]),
        &["--bogus"],
    );
    assert_usage_error(
        &nidl(&["probe", "--train-x", &f.train_x, "--probe", "logreg"]),
        &["--train-y"],
    );
}

/// Runs `nidl` with `args`, killing it (and failing) if it runs longer than `secs`.
fn nidl_within(secs: u64, args: &[&str]) -> Output {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_nidl"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(secs) {
            child.kill().unwrap();
            panic!("nidl {args:?} still running after {secs} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn inputs_that_are_not_regular_files_fail_at_once() {
    let (dir, f) = classification_files("special");
    let fifo = dir.join("fifo.npy");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo failed");
    let fifo = fifo.to_str().unwrap().to_string();
    let folder = dir.path().to_str().unwrap().to_string();
    for (option, path, kind) in [
        ("--train-x", "/dev/zero", "character device"),
        ("--train-x", fifo.as_str(), "FIFO"),
        ("--test-y", fifo.as_str(), "FIFO"),
        ("--train-y", folder.as_str(), "directory"),
    ] {
        let mut args = vec!["probe", "--probe", "logreg"];
        for (o, p) in [
            ("--train-x", &f.train_x),
            ("--train-y", &f.train_y),
            ("--test-x", &f.test_x),
            ("--test-y", &f.test_y),
        ] {
            args.extend_from_slice(&[o, if o == option { path } else { p }]);
        }
        let out = nidl_within(10, &args);
        assert_fails(&out, &[option, path, kind, "not a regular file"]);
    }
}

#[test]
fn logreg_on_features_of_1e300_warns_that_the_line_search_failed() {
    let dir = Scratch::new("huge-x");
    let n = 40;
    let x: Vec<f64> = (0..n)
        .flat_map(|i| [1e300, (((i * 7) % 11) as f64 - 5.0) * 1e299, 1e300])
        .collect();
    let y: Vec<i64> = (0..n as i64).map(|i| i % 2).collect();
    let f = Files {
        train_x: npy(&dir, "x", &[n, 3], NpyData::F64(x)),
        train_y: npy(&dir, "y", &[n], NpyData::I64(y)),
        test_x: dir.join("x.npy").to_str().unwrap().into(),
        test_y: dir.join("y.npy").to_str().unwrap().into(),
    };
    let out = run_probe(&f, &["--probe", "logreg"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("0 iterations, NOT converged: the line search failed"),
        "{stdout}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("warning: LogisticRegression did not converge after 0 iterations: the line search failed (ABNORMAL_TERMINATION_IN_LNSRCH)")
            && stderr.contains("scale the features"),
        "{stderr}"
    );
}

#[test]
fn json_and_table_into_a_closed_pipe_end_quietly() {
    let (_dir, f) = classification_files("closed-stdout");
    for extra in [&["--probe", "logreg", "--json"][..], &["--probe", "knn"]] {
        assert_quiet_into_a_closed_pipe(probe_command(&f, extra), &format!("{extra:?}"));
    }
}

#[test]
fn ridge_on_two_target_columns_reports_each_and_their_average_as_nidl() {
    let dir = Scratch::new("ridge-two");
    // Column 0 = 2·x0 − x1 + 1 (linear: R2 ≈ 1), column 1 = x2² (not linear).
    let targets = |x: &[f32]| -> Vec<f64> {
        x.chunks(3)
            .flat_map(|r| {
                let (a, b, c) = (f64::from(r[0]), f64::from(r[1]), f64::from(r[2]));
                [2.0 * a - b + 1.0, c * c]
            })
            .collect()
    };
    let (x, _) = clusters(50, 0.0);
    let (xt, _) = clusters(10, 0.1);
    let (y, yt) = (targets(&x), targets(&xt));
    let f = Files {
        train_x: npy(&dir, "x", &[50, 3], NpyData::F32(x)),
        train_y: npy(&dir, "y", &[50, 2], NpyData::F64(y)),
        test_x: npy(&dir, "xt", &[10, 3], NpyData::F32(xt)),
        test_y: npy(&dir, "yt", &[10, 2], NpyData::F64(yt)),
    };
    let m = json_of(&run_probe(
        &f,
        &["--probe", "ridge", "--alpha", "1e-9", "--json"],
    ));
    for r in ["regressor 0", "regressor 1", "average"] {
        for key in ["MAE", "MedAE", "RMSE", "MSE", "R2", "PCC", "EVar"] {
            assert!(m.contains_key(&format!("{r}/{key}")), "{r}/{key}: {m:?}");
        }
    }
    assert!(
        !m.contains_key("R2") && !m.contains_key("task0/R2"),
        "{m:?}"
    );
    let r2 = |r: &str| m[&format!("{r}/R2")].unwrap();
    assert!(r2("regressor 0") > 0.999_999, "{m:?}");
    assert!(r2("regressor 1") < 0.99, "{m:?}");
    let mean = (r2("regressor 0") + r2("regressor 1")) / 2.0;
    assert!((r2("average") - mean).abs() <= 1e-12 * mean.abs(), "{m:?}");
}
