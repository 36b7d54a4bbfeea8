//! `nidl make-openbhb` end to end: writes a loadable, labelled synthetic tree; bad options exit
//! non-zero with a one-line cause naming the option.

#![cfg(feature = "cli")]

mod common;

use common::cli::{assert_fails, assert_usage_error, nidl};
use common::Scratch;
use nidl::datasets::openbhb::{Modality, OpenBhb, OpenBhbSplit, Target};
use std::fs;

#[test]
fn writes_a_loadable_synthetic_tree() {
    let dir = Scratch::new("ok");
    let root = dir.0.join("obhb");
    let r = root.to_str().unwrap();
    let out = nidl(&[
        "make-openbhb",
        "--out",
        r,
        "--seed",
        "7",
        "--train",
        "50",
        "--internal",
        "10",
        "--external=12",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("SYNTHETIC") && stdout.contains("50 train"),
        "{stdout}"
    );
    assert!(fs::read_to_string(root.join("README.txt"))
        .unwrap()
        .starts_with("SYNTHETIC"));
    let t = [Target::Age, Target::Sex];
    let sizes: Vec<usize> = [
        OpenBhbSplit::Train,
        OpenBhbSplit::InternalVal,
        OpenBhbSplit::ExternalVal,
        OpenBhbSplit::Val,
    ]
    .into_iter()
    .map(|s| OpenBhb::new(&root, Modality::VbmRoi, &t, s).unwrap().len())
    .collect();
    assert_eq!(sizes, [50, 10, 12, 22]);

    // The same command into a second folder writes the same bytes.
    let again = dir.0.join("again");
    let out = nidl(&[
        "make-openbhb",
        "--out",
        again.to_str().unwrap(),
        "--seed",
        "7",
        "--train",
        "50",
        "--internal",
        "10",
        "--external",
        "12",
    ]);
    assert!(out.status.success());
    for f in [
        "participants.tsv",
        "val/derivatives/freesurfer_roi/destrieux_roi_features.csv",
    ] {
        assert_eq!(
            fs::read(root.join(f)).unwrap(),
            fs::read(again.join(f)).unwrap(),
            "{f}"
        );
    }

    // An existing, non-empty target is refused and left as it was.
    let before = fs::read(root.join("participants.tsv")).unwrap();
    assert_fails(
        &nidl(&["make-openbhb", "--out", r, "--seed", "8"]),
        &["not empty", "obhb"],
    );
    assert_eq!(fs::read(root.join("participants.tsv")).unwrap(), before);
}

#[test]
fn bad_options_fail_with_a_one_line_cause() {
    let dir = Scratch::new("bad");
    let out = dir.0.join("x");
    let o = out.to_str().unwrap();
    assert_usage_error(&nidl(&["make-openbhb"]), &["make-openbhb", "--out"]);
    assert_usage_error(
        &nidl(&["make-openbhb", "--out", o, "--train", "many"]),
        &["--train", "'many'", "allowed: a whole number ≥ 1"],
    );
    assert_usage_error(
        &nidl(&["make-openbhb", "--out", o, "--seed", "-1"]),
        &["--seed", "'-1'", "allowed: a whole number ≥ 0"],
    );
    assert_usage_error(
        &nidl(&["make-openbhb", "--out", o, "--bogus", "1"]),
        &["--bogus"],
    );
    assert_usage_error(
        &nidl(&["make-openbhb", "--out", o, "--train", "0"]),
        &["--train", "allowed: a whole number ≥ 1"],
    );
    assert_usage_error(
        &nidl(&["make-openbhb", "--out"]),
        &["--out", "a value is required"],
    );
    assert!(!out.exists());
    let help = nidl(&["make-openbhb", "--help"]);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--internal"));
    let top = nidl(&["--help"]);
    assert!(String::from_utf8_lossy(&top.stdout).contains("make-openbhb"));
}

#[test]
#[cfg(target_os = "linux")]
fn partial_folders_of_killed_generations_are_removed() {
    // `kill -9` during a generation leaves its `.<name>.partial-<pid>-<stamp>` folder; the next
    // generation into the same parent removes those of dead processes, nothing else.
    let dir = Scratch::new("stale");
    let (dead, live) = (common::dead_pid(), std::process::id());
    let stale = [
        format!(".obhb.partial-{dead}-17"),
        format!(".other.partial-{dead}-18"),
    ];
    let kept = [
        format!(".obhb.partial-{live}-19"),
        format!(".obhb.partial-{dead}-x"),
        "obhb-notes".to_string(),
    ];
    for d in stale.iter().chain(&kept) {
        fs::create_dir(dir.0.join(d)).unwrap();
        fs::write(dir.0.join(d).join("participants.tsv"), b"partial").unwrap();
    }
    let root = dir.0.join("obhb");
    let out = nidl(&[
        "make-openbhb",
        "--out",
        root.to_str().unwrap(),
        "--train",
        "20",
        "--internal",
        "5",
        "--external",
        "5",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for d in &stale {
        assert!(!dir.0.join(d).exists(), "{d} removed");
    }
    for d in &kept {
        assert!(dir.0.join(d).join("participants.tsv").is_file(), "{d} kept");
    }
    assert!(root.join("README.txt").is_file());
}
