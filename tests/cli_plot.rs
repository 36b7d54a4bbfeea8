//! `nidl plot` end to end: two short y-Aware runs of different seeds on a small synthetic
//! OpenBHB overlaid (PNG decoded, SVG naming both runs and the differing `random_state`), and
//! the errors: a folder without `metrics.csv`, a `--tags` glob that matches nothing, a missing
//! `--out` folder.
#![cfg(feature = "cli")]

mod common;

use common::cli::{assert_fails, nidl, ok, small_openbhb};
use common::Scratch;
use std::fs;
use std::path::{Path, PathBuf};

/// Two runs (`--seed 1`, `--seed 2`) of 2 epochs × 3 batches into `s/logs`: version_0, version_1.
fn two_seeds(s: &Scratch) -> [PathBuf; 2] {
    let data = small_openbhb(s);
    let logs = s.join("logs");
    for seed in ["1", "2"] {
        ok(&nidl(&[
            "yaware-openbhb",
            "--data-dir",
            data.to_str().unwrap(),
            "--log-dir",
            logs.to_str().unwrap(),
            "--epochs",
            "2",
            "--limit-train-batches",
            "3",
            "--log-every-n-steps",
            "1",
            "--seed",
            seed,
            "--no-progress",
        ]));
    }
    [logs.join("version_0"), logs.join("version_1")]
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn two_seeds_overlaid_write_a_png_and_an_svg_naming_both_runs() {
    let s = Scratch::new("cli-plot-seeds");
    let [a, b] = two_seeds(&s);
    let out = s.join("cmp.png");
    let stdout = ok(&nidl(&["plot", arg(&a), arg(&b), "--out", arg(&out)]));
    assert!(stdout.contains("cmp.svg"), "{stdout}");

    let decoder = png::Decoder::new(std::io::BufReader::new(fs::File::open(&out).unwrap()));
    let reader = decoder.read_info().unwrap();
    let info = reader.info();
    // Every tag but epoch: 15 panels (loss/train, loss/val, 7 age and 6 sex metrics), 2 a row,
    // each with a legend band of whole rows (26 px each, plus 10) below it.
    let panels = stdout.split(" panels").next().unwrap();
    assert!(panels.ends_with("15"), "{stdout}");
    assert_eq!(info.width, 2 * 720);
    let band = (info.height - 60) / 8 - 450;
    assert_eq!(info.height, 60 + 8 * (450 + band));
    assert!(
        band > 10 && (band - 10).is_multiple_of(26),
        "legend band {band}"
    );

    let svg = fs::read_to_string(s.join("cmp.svg")).unwrap();
    for text in [
        "version_0 (random_state=1)",
        "version_1 (random_state=2)",
        // Panels titled by the label names each run's figure.yaml records.
        "age (Ridge): R2",
        "sex (LogisticRegression): accuracy",
        "loss/train",
        // The last batch of each epoch (300 = 2 × 128 + 44) is short: marked as in metrics.png.
        "version_0 (random_state=1): short last batch",
        "YAwareContrastiveLearning · 2 runs",
        "step (batch size 128)",
    ] {
        assert!(svg.contains(text), "the SVG should show {text:?}");
    }
    // Only the differing key: the shared learning rate is not in the legend.
    assert!(!svg.contains("learning_rate="), "shared hparams stay out");
    assert!(!svg.contains(">epoch<"), "epoch is not drawn");
    assert!(!svg.contains("task0/"), "task0 is named age");

    // --tags keeps only the matching tags.
    let one = s.join("r2.png");
    let stdout = ok(&nidl(&[
        "plot",
        arg(&a),
        arg(&b),
        "--tags",
        "task?/R?",
        "--out",
        arg(&one),
        "--smoothing",
        "0",
    ]));
    assert!(stdout.contains("1 panels (age (Ridge): R2)"), "{stdout}");
    let svg = fs::read_to_string(s.join("r2.svg")).unwrap();
    assert!(svg.contains("age (Ridge): R2") && !svg.contains("age (Ridge): MSE"));
}

#[test]
fn a_folder_without_metrics_csv_is_named_in_a_one_line_error() {
    let s = Scratch::new("cli-plot-not-a-run");
    let empty = s.join("not_a_run");
    fs::create_dir_all(&empty).unwrap();
    let out = s.join("x.png");
    let res = nidl(&["plot", arg(&empty), "--out", arg(&out)]);
    assert_eq!(res.status.code(), Some(1));
    assert_fails(&res, &["nidl plot", arg(&empty), "no metrics.csv"]);
    assert!(
        !out.exists() && !s.join("x.svg").exists(),
        "nothing written"
    );
    let missing = s.join("nowhere");
    assert_fails(
        &nidl(&["plot", arg(&missing), "--out", arg(&out)]),
        &[arg(&missing), "does not exist"],
    );
}

#[test]
fn tags_that_match_nothing_list_the_tags_found() {
    let s = Scratch::new("cli-plot-nomatch");
    let [a, _] = two_seeds(&s);
    let out = s.join("x.png");
    let res = nidl(&["plot", arg(&a), "--tags", "nomatch*", "--out", arg(&out)]);
    assert_eq!(res.status.code(), Some(1));
    assert_fails(
        &res,
        &["nomatch*", "loss/train", "task0/R2", "task1/accuracy"],
    );
    assert!(!out.exists(), "nothing written");
    let res = nidl(&["plot", arg(&a), "--out", arg(&s.join("no/such/x.png"))]);
    assert_fails(&res, &["--out", "does not exist"]);
    for name in ["x.svg", "x.jpg", "x"] {
        let out = s.join(name);
        let res = nidl(&["plot", arg(&a), "--out", arg(&out)]);
        assert_fails(&res, &["--out", name, "must end in .png"]);
        assert!(
            !out.exists() && !out.with_extension("svg").exists(),
            "{name}"
        );
    }
}
