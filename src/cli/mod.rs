//! The subcommands of the `nidl` binary. Each lives in its own file with a `run(Args)` entry
//! point; the logic they drive lives in the library.

pub mod args;
pub mod make_openbhb;
pub mod probe;
pub mod show_augmentations;

use args::Args;

/// Usage text listing the subcommands of this build.
pub const USAGE: &str = "usage: nidl <command> [options]\n\ncommands:\n  make-openbhb --out DIR [--seed N] [--train 3227] [--internal 362] [--external 395]   write a synthetic OpenBHB\n  probe --train-x X.npy --train-y Y.npy --test-x X2.npy --test-y Y2.npy --probe logreg|ridge|knn [--c 1.0] [--alpha 1.0] [--k 5] [--max-iter 200] [--json]   fit a probe on .npy embeddings, print test metrics\n  show-augmentations --out views.png [--n 8] [--seed N] [--data-dir data/mnist]   PNG grid: MNIST digits and two SimCLR views each\n  --version   print the version\n  --help      this text";

/// Runs the subcommand `cmd` with its option tokens; `Err` carries the one-line cause.
pub fn dispatch(cmd: &str, tokens: &[String]) -> Result<(), String> {
    let args = Args::parse(tokens)?;
    match cmd {
        // Subcommands: one arm each, `"name" => name::run(args),`
        "make-openbhb" => make_openbhb::run(args),
        "probe" => probe::run(args),
        "show-augmentations" => show_augmentations::run(args),
        _ => {
            drop(args);
            Err(format!("unknown command '{cmd}'\n\n{USAGE}"))
        }
    }
}
