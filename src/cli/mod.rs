//! The subcommands of the `nidl` binary. Each lives in its own file with a `run(Args)` entry
//! point; the logic they drive lives in the library.

pub mod args;
pub mod barlow_mnist;
pub mod barlow_openbhb;
pub mod experiment;
pub mod fit;
pub mod make_openbhb;
pub mod mnist_common;
pub mod openbhb_common;
pub mod probe;
pub mod progress;
pub mod show_augmentations;
pub mod simclr_mnist;
pub mod train_common;
pub mod yaware_openbhb;

use args::Args;

/// Usage text listing the subcommands of this build.
pub const USAGE: &str = "usage: nidl <command> [options]\n\ncommands:\n  make-openbhb --out DIR [--seed N] [--train 3227] [--internal 362] [--external 395]   write a synthetic OpenBHB\n  probe --train-x X.npy --train-y Y.npy --test-x X2.npy --test-y Y2.npy --probe logreg|ridge|knn [--c 1.0] [--alpha 1.0] [--k 5] [--max-iter 200] [--json]   fit a probe on .npy embeddings, print test metrics\n  show-augmentations --out views.png [--n 8] [--seed N] [--data-dir data/mnist]   PNG grid: MNIST digits and two SimCLR views each\n  fit EXPERIMENT.toml [--set key=value]... [--print-config]   train what an experiment file describes (any method, data, encoder, views, probes; [sweep])\n  simclr-mnist [--data-dir data/mnist] [--epochs 10] [--limit-train-batches 100] [--batch-size 128] [--lr 1e-4] [--seed 42] [--probe-every 1] [--log-dir lightning_logs] [--checkpoint] [--resume PATH] [--no-progress] ...   SimCLR on MNIST with a logistic-regression probe (--help for all options)\n  yaware-openbhb [--data-dir DIR | synthetic default] [--epochs 10] [--sigma 4] [--lr 1e-5] [--seed 42] ...   y-Aware contrastive learning on OpenBHB ROI features with age/sex probes (--help for all options)\n  barlow-mnist [--data-dir data/mnist] [--epochs 10] [--lambda 5e-3] [--lr 3e-4] [--warmup-epochs 10] [--seed 42] ...   Barlow Twins on MNIST (LeNet encoder), probed as simclr-mnist (--help for all options)\n  barlow-openbhb [--data-dir DIR | synthetic default] [--epochs 10] [--lambda 5e-3] [--lr 3e-4] [--seed 42] ...   Barlow Twins on OpenBHB ROI features, probed as yaware-openbhb (--help for all options)\n  (every training command: --probe logreg|knn (comma-separated or repeated), --probe-every N, --probe-every-val N, --probe-on-train-start)\n  --version   print the version\n  --help      this text";

/// Runs the subcommand `cmd` with its option tokens; `Err` carries the one-line cause.
pub fn dispatch(cmd: &str, tokens: &[String]) -> Result<(), String> {
    if cmd == "fit" {
        return fit_command(tokens);
    }
    let args = Args::parse(tokens)?;
    match cmd {
        // Subcommands: one arm each, `"name" => name::run(args),`
        "barlow-mnist" => barlow_mnist::run(args),
        "barlow-openbhb" => barlow_openbhb::run(args),
        "make-openbhb" => make_openbhb::run(args),
        "probe" => probe::run(args),
        "show-augmentations" => show_augmentations::run(args),
        "simclr-mnist" => simclr_mnist::run(args),
        "yaware-openbhb" => yaware_openbhb::run(args),
        _ => {
            drop(args);
            Err(format!("unknown command '{cmd}'\n\n{USAGE}"))
        }
    }
}

/// `nidl fit`, its tokens parsed with clap: help on stdout, a parse error as its first line.
fn fit_command(tokens: &[String]) -> Result<(), String> {
    use clap::Parser;
    let argv = std::iter::once("nidl fit".to_string()).chain(tokens.iter().cloned());
    match fit::FitCommand::try_parse_from(argv) {
        Ok(c) => fit::run(c.args),
        Err(e) if !e.use_stderr() => {
            print!("{e}");
            Ok(())
        }
        Err(e) => {
            // One line: clap's message and its tip (a similar option), without the usage.
            let text = e.to_string();
            let parts: Vec<String> = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.starts_with("Usage:"))
                .filter(|l| !l.is_empty())
                .map(|l| match l.starts_with("tip:") {
                    true => format!("({l})"),
                    false => l.to_string(),
                })
                .collect();
            Err(parts.join(" ").trim_start_matches("error: ").to_string())
        }
    }
}
