//! `nidl show-augmentations`: writes a PNG of the expected size, atomically, and fails with a
//! one-line cause naming the option or file at fault.
#![cfg(feature = "cli")]

mod common;

use common::cli::{assert_fails, assert_usage_error};
use common::Scratch;
use std::path::PathBuf;
use std::process::Command;

fn nidl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nidl"))
}

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    (be(16), be(20))
}

#[test]
fn writes_a_png_grid() {
    let dir = Scratch::new("ok");
    let out = dir.join("views.png");
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    let o = nidl()
        .args(["show-augmentations", "--out"])
        .arg(&out)
        .args(["--n", "3", "--seed", "7", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(&out).unwrap();
    // 3 columns of 28·4 px and 3 rows, with 6 px gaps: 3·112 + 4·6 = 360 wide, 3·112 + 4·6 high.
    assert_eq!(png_size(&bytes), (360, 360));
    // Same seed, same picture; no temporary file left behind.
    let again = dir.join("again.png");
    let o = nidl()
        .args(["show-augmentations", "--n", "3", "--seed", "7", "--out"])
        .arg(&again)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&again).unwrap(), bytes);
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn bad_options_fail_with_a_cause() {
    let dir = Scratch::new("bad");
    let out = dir.join("v.png");
    let run = |extra: &[&str]| {
        nidl()
            .args(["show-augmentations", "--out"])
            .arg(&out)
            .args(extra)
            .output()
            .unwrap()
    };
    // Usage errors: clap's message naming the option, exit status 2.
    let usage: [(&[&str], &str); 3] = [
        (&["--n", "0"], "--n"),
        (&["--n", "many"], "--n"),
        (&["--colour", "red"], "--colour"),
    ];
    for (extra, needle) in usage {
        assert_usage_error(&run(extra), &[needle]);
    }
    // A run that fails: one line naming the folder.
    assert_fails(
        &run(&["--data-dir", "/definitely/not/here"]),
        &["nidl show-augmentations: ", "/definitely/not/here"],
    );
    let o = nidl().args(["show-augmentations"]).output().unwrap();
    assert_usage_error(&o, &["--out"]);
    assert!(!out.exists());
}
