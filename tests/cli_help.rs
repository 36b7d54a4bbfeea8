//! The command line as clap builds it: `--help` on every command, `--version`, suggestions for a
//! misspelled option or command, value checks that say what is allowed, completion scripts,
//! and a quiet, panic-free end when stdout is a closed pipe.
#![cfg(feature = "cli")]

mod common;

use common::cli::{
    assert_quiet_into_a_closed_pipe, assert_usage_error, nidl, nidl_command, MNIST_TINY,
};
use common::Scratch;
use std::process::Output;

/// Every subcommand, with options its `--help` must list.
const COMMANDS: &[(&str, &[&str])] = &[
    (
        "simclr-mnist",
        &[
            "--epochs",
            "--probe",
            "--probe-every",
            "--data-dir",
            "--temperature",
            "--resume",
            "--probe-cv",
            "--scoring",
            "--prefix-score",
            "--ssl-metrics",
            "--online-probe",
            "--checkpoint-best",
            "--checkpoint-best-mode",
            "--early-stop",
            "--patience",
        ],
    ),
    (
        "yaware-openbhb",
        &[
            "--epochs",
            "--sigma",
            "--temperature",
            "--mask-prob",
            "--noise-std",
            "--probe",
        ],
    ),
    (
        "barlow-mnist",
        &[
            "--epochs",
            "--lambda",
            "--warmup-epochs",
            "--proj-hidden",
            "--data-dir",
        ],
    ),
    (
        "dino-mnist",
        &[
            "--epochs",
            "--num-local-crops",
            "--teacher-temperature",
            "--base-lambda",
            "--clip-grad",
            "--freeze-last-layer",
            "--proj-output-dim",
        ],
    ),
    (
        "barlow-openbhb",
        &[
            "--epochs",
            "--lambda",
            "--proj-output",
            "--mask-prob",
            "--probe-every-val",
            "--ssl-metrics",
        ],
    ),
    (
        "dcl-mnist",
        &[
            "--epochs",
            "--temperature",
            "--sigma",
            "--proj-hidden",
            "--proj-output",
            "--warmup-epochs",
            "--probe",
        ],
    ),
    (
        "vae-mnist",
        &[
            "--epochs",
            "--beta",
            "--latent-dim",
            "--default-dist",
            "--probe",
            "--resume",
        ],
    ),
    (
        "probe",
        &[
            "--train-x",
            "--train-y",
            "--test-x",
            "--test-y",
            "--probe",
            "--c",
            "--json",
        ],
    ),
    (
        "make-openbhb",
        &["--out", "--seed", "--train", "--internal", "--external"],
    ),
    (
        "show-augmentations",
        &["--out", "--n", "--seed", "--data-dir"],
    ),
    ("completions", &["bash", "zsh", "fish"]),
];

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn help_on_every_command_lists_its_options() {
    let top = stdout(&nidl(&["--help"]));
    for (cmd, options) in COMMANDS {
        assert!(top.contains(cmd), "nidl --help lists {cmd}: {top}");
        for flag in ["--help", "-h"] {
            let help = stdout(&nidl(&[cmd, flag]));
            assert!(help.contains(&format!("Usage: nidl {cmd}")), "{help}");
            for opt in *options {
                assert!(help.contains(opt), "nidl {cmd} {flag} lists {opt}: {help}");
            }
        }
        assert_eq!(
            stdout(&nidl(&["help", cmd])),
            stdout(&nidl(&[cmd, "--help"]))
        );
    }
}

#[test]
fn help_shows_each_commands_own_defaults() {
    let help = |cmd: &str| stdout(&nidl(&[cmd, "-h"]));
    // One line per option (the short help).
    let line = |help: &str, opt: &str| -> String {
        let start = help
            .find(&format!("      {opt} "))
            .unwrap_or_else(|| panic!("{opt}: {help}"));
        help[start..].lines().next().unwrap().to_string()
    };
    let cases = [
        ("simclr-mnist", "--lr", "[default: 1e-4]"),
        ("simclr-mnist", "--limit-train-batches", "[default: 100]"),
        ("simclr-mnist", "--log-every-n-steps", "[default: 50]"),
        ("simclr-mnist", "--probe-every", "[default: 1]"),
        ("simclr-mnist", "--probe-cv", "[default: off]"),
        ("yaware-openbhb", "--log-every-n-steps", "[default: 50]"),
        ("yaware-openbhb", "--lr", "[default: 1e-5]"),
        ("yaware-openbhb", "--weight-decay", "[default: 5e-5]"),
        ("yaware-openbhb", "--limit-train-batches", "[default: all]"),
        ("barlow-mnist", "--lr", "[default: 3e-4]"),
        ("barlow-openbhb", "--weight-decay", "[default: 5e-4]"),
        ("barlow-openbhb", "--mask-prob", "[default: 0.8]"),
        ("dcl-mnist", "--lr", "[default: 3e-4]"),
        ("dcl-mnist", "--temperature", "[default: 0.1]"),
        ("dcl-mnist", "--sigma", "[default: none: DCL]"),
        ("vae-mnist", "--beta", "[default: 1]"),
        ("vae-mnist", "--latent-dim", "[default: 32]"),
        ("vae-mnist", "--default-dist", "[default: bernoulli]"),
        ("vae-mnist", "--lr", "[default: 1e-3]"),
        ("vae-mnist", "--weight-decay", "[default: 0.01]"),
        ("dino-mnist", "--lr", "[default: 3e-4]"),
        ("dino-mnist", "--num-local-crops", "[default: 2]"),
        ("dino-mnist", "--base-lambda", "[default: 0.996]"),
        (
            "dino-mnist",
            "--warmup-teacher-temp-epochs",
            "[default: 30]",
        ),
        ("dino-mnist", "--proj-output-dim", "[default: 1024]"),
        ("make-openbhb", "--train", "[default: 3227]"),
        ("probe", "--max-iter", "[default: 200]"),
        ("simclr-mnist", "--patience", "[default: 3]"),
    ];
    for (cmd, opt, default) in cases {
        let l = line(&help(cmd), opt);
        assert!(l.contains(default), "{cmd} {opt}: {l}");
    }
}

#[test]
fn version_is_the_crate_version() {
    let out = stdout(&nidl(&["--version"]));
    assert_eq!(out.trim(), format!("nidl {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn no_command_prints_the_usage_and_exits_2() {
    let out = nidl(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Usage: nidl <COMMAND>") && err.contains("simclr-mnist"),
        "{err}"
    );
}

#[test]
fn misspellings_get_suggestions() {
    assert_usage_error(
        &nidl(&["simclr-mnist", "--epoch", "3"]),
        &[
            "unexpected argument '--epoch'",
            "a similar argument exists: '--epochs'",
        ],
    );
    assert_usage_error(
        &nidl(&["yaware-openbhb", "--sigm", "3"]),
        &["a similar argument exists: '--sigma'"],
    );
    assert_usage_error(
        &nidl(&["simclr-mnst"]),
        &[
            "unrecognized subcommand 'simclr-mnst'",
            // dcl-mnist is as near to clap's measure.
            "some similar subcommands exist: 'dcl-mnist', 'simclr-mnist'",
        ],
    );
}

#[test]
fn values_out_of_range_say_what_is_allowed() {
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "simclr-mnist",
            &["--epochs", "-1"],
            "error: invalid value '-1' for '--epochs <N>': allowed: a whole number ≥ 1",
        ),
        (
            "simclr-mnist",
            &["--epochs", "0"],
            "error: invalid value '0' for '--epochs <N>': allowed: a whole number ≥ 1",
        ),
        (
            "simclr-mnist",
            &["--batch-size", "1"],
            "error: invalid value '1' for '--batch-size <N>': allowed: a whole number ≥ 2",
        ),
        (
            "simclr-mnist",
            &["--lr", "0"],
            "error: invalid value '0' for '--lr <X>': allowed: a finite number > 0",
        ),
        (
            "barlow-mnist",
            &["--lr", "inf"],
            "error: invalid value 'inf' for '--lr <X>': allowed: a finite number > 0",
        ),
        (
            "dino-mnist",
            &["--base-lambda", "1.5"],
            "error: invalid value '1.5' for '--base-lambda <X>': allowed: a number from 0 to 1",
        ),
        (
            "yaware-openbhb",
            &["--mask-prob", "2"],
            "error: invalid value '2' for '--mask-prob <P>': allowed: a number from 0 to 1",
        ),
        (
            "barlow-openbhb",
            &["--noise-std", "-1"],
            "error: invalid value '-1' for '--noise-std <X>': allowed: a finite number ≥ 0",
        ),
        (
            "barlow-mnist",
            &["--probe-train-limit", "5"],
            "error: invalid value '5' for '--probe-train-limit <N>': allowed: a whole number ≥ 10",
        ),
        (
            "yaware-openbhb",
            &["--probe-cv", "1"],
            "error: invalid value '1' for '--probe-cv <K>': allowed: a whole number ≥ 2",
        ),
        (
            "simclr-mnist",
            &["--seed", "-3"],
            "error: invalid value '-3' for '--seed <N>': allowed: a whole number ≥ 0",
        ),
    ];
    for (cmd, extra, first_line) in cases {
        let mut args = vec![*cmd];
        args.extend_from_slice(extra);
        let out = nidl(&args);
        assert_usage_error(&out, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().next(), Some(*first_line), "{cmd} {extra:?}");
    }
}

#[test]
fn completions_for_each_shell_mention_the_commands() {
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout(&nidl(&["completions", shell]));
        assert!(script.len() > 1000, "{shell}: {script}");
        for word in [
            "simclr-mnist",
            "barlow-openbhb",
            "make-openbhb",
            "completions",
            "epochs",
        ] {
            assert!(script.contains(word), "{shell} script mentions {word}");
        }
    }
    assert_usage_error(
        &nidl(&["completions", "tcsh"]),
        &["'tcsh'", "possible values: bash"],
    );
}

#[test]
fn a_closed_stdout_ends_help_version_and_completions_quietly() {
    for args in [
        &["simclr-mnist", "--help"][..],
        &["show-augmentations", "-h"],
        &["--help"],
        &["--version"],
        &["completions", "bash"],
    ] {
        assert_quiet_into_a_closed_pipe(nidl_command(args), &format!("{args:?}"));
    }
}

#[test]
fn a_training_run_into_a_closed_pipe_completes_quietly() {
    let s = Scratch::new("closed-stdout");
    let logs = s.join("logs");
    let mut args = vec![
        "simclr-mnist",
        "--log-dir",
        logs.to_str().unwrap(),
        "--epochs",
        "1",
        "--no-progress",
    ];
    args.extend_from_slice(MNIST_TINY);
    assert_quiet_into_a_closed_pipe(nidl_command(&args), "simclr-mnist");
    // The run went on to its end: every epoch's rows and the plot are there.
    let run = logs.join("version_0");
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert!(
        csv.contains(",0,loss/train,") && csv.contains(",0,LogisticRegression/accuracy,"),
        "{csv}"
    );
    assert!(run.join("metrics.png").is_file());
}
