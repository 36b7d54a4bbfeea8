//! Running the `nidl` binary (only with the `cli` feature, which builds it).

use super::Scratch;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The command `nidl args`.
pub fn nidl_command(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nidl"));
    c.args(args);
    c
}

/// Runs `nidl` with `args` and waits for it.
pub fn nidl(args: &[&str]) -> Output {
    nidl_command(args).output().unwrap()
}

/// Asserts a failure whose stderr is one line mentioning every part.
pub fn assert_fails(out: &Output, parts: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "should fail: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one-line cause, got {err:?}"
    );
    for p in parts {
        assert!(err.contains(p), "{err:?} should mention {p:?}");
    }
}

/// Runs `cmd` with its stdout a pipe whose reading end is already closed, so that every write
/// to stdout fails with a broken pipe, and asserts a quiet end with status 0: no panic, nothing
/// on stderr. `what` names the case in messages.
pub fn assert_quiet_into_a_closed_pipe(mut cmd: Command, what: &str) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = cmd.stdout(writer).stderr(Stdio::piped()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert_eq!(err, "", "{what}");
    assert_eq!(out.status.code(), Some(0), "{what}: {err}");
}

/// Asserts a usage error as clap reports it: exit status 2, stderr opening with `error:` and
/// mentioning every part (the option at fault), no panic.
pub fn assert_usage_error(out: &Output, parts: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "usage error expected: {err}");
    assert!(
        err.starts_with("error: "),
        "{err:?} should open with 'error: '"
    );
    assert!(!err.contains("panicked"), "{err}");
    for p in parts {
        assert!(err.contains(p), "{err:?} should mention {p:?}");
    }
}

/// A tiny MNIST training run: 3 training batches of 32 per epoch, `loss/train` at every step,
/// 2 validation batches, probes on the first 500 / 200 images.
pub const MNIST_TINY: &[&str] = &[
    "--limit-train-batches",
    "3",
    "--log-every-n-steps",
    "1",
    "--batch-size",
    "32",
    "--limit-val-batches",
    "2",
    "--probe-train-limit",
    "500",
    "--probe-test-limit",
    "200",
];

/// The stdout of a run that must succeed (else a panic with its stderr).
pub fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A synthetic OpenBHB of 300 training and 60 + 60 validation subjects under `s`.
pub fn small_openbhb(s: &Scratch) -> PathBuf {
    synthetic_openbhb(s, [300, 60, 60])
}

/// A synthetic OpenBHB of `train` training and `internal` + `external` validation subjects in
/// `s/openbhb`.
pub fn synthetic_openbhb(s: &Scratch, [train, internal, external]: [usize; 3]) -> PathBuf {
    let data = s.join("openbhb");
    let sizes = [train, internal, external].map(|n| n.to_string());
    ok(&nidl(&[
        "make-openbhb",
        "--out",
        data.to_str().unwrap(),
        "--train",
        &sizes[0],
        "--internal",
        &sizes[1],
        "--external",
        &sizes[2],
    ]));
    data
}
