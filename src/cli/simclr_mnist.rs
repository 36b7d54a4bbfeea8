//! `nidl simclr-mnist`: the seed's first scenario. SimCLR (LeNet encoder, head [64, 32],
//! InfoNCE τ 0.1, AdamW, cosine schedule) on MNIST views (RandomResizedCrop + GaussianBlur),
//! probed after every epoch (by default a LogisticRegression(max_iter 200) on the full
//! train/test sets).

use super::args::Args;
use super::mnist_common::MnistData;
use super::progress::positive;
use super::train_common::train_command;
use nidl::train::{SimClr, SimClrConfig};

/// Usage of this subcommand.
pub const USAGE: &str = "usage: nidl simclr-mnist [--data-dir data/mnist] [--epochs 10] \
[--limit-train-batches 100] [--batch-size 128] [--lr 1e-4] [--weight-decay 1e-4] \
[--temperature 0.1] [--latent 32] [--seed 42] [--probe logreg|knn] [--probe-every 1] \
[--probe-every-val 0] [--probe-on-train-start] [--log-dir lightning_logs] [--checkpoint] \
[--resume PATH] [--no-progress]\n\
  [--limit-val-batches 10] [--probe-max-iter 200] [--probe-train-limit N] [--probe-test-limit N]\n\n\
Trains SimCLR on MNIST and probes the encoder (logistic regression and/or 5-NN on the digits)\n\
after every --probe-every epochs (0: never). Logs go to <log-dir>/version_<N>/ (TensorBoard\n\
events, metrics.csv, hparams.yaml, metrics.png; checkpoints/ with --checkpoint). The validation\n\
loss uses the first --limit-val-batches batches of the test set's views (0: none).";

/// Help text of the SimCLR options.
const SIMCLR_HELP: &str = "SimCLR options:\n  --temperature X          InfoNCE temperature (0.1)";

/// Runs `nidl simclr-mnist`; `Err` is the one-line cause.
pub fn run(args: Args) -> Result<(), String> {
    train_command::<MnistData, _, _>(
        args,
        USAGE,
        SIMCLR_HELP,
        (1e-4, 1e-4),
        |args| positive(args, "temperature", 0.1),
        |temperature, parts| {
            let run = parts.run;
            let config = SimClrConfig {
                lr: run.lr,
                weight_decay: run.weight_decay,
                temperature,
                ..SimClrConfig::default()
            };
            SimClr::new(parts.encoder, run.latent, config, parts.rng)
        },
    )
}
