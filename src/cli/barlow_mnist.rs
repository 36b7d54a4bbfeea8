//! `nidl barlow-mnist`: Barlow Twins on the seed's MNIST scenario. The LeNet encoder and MNIST
//! views of `simclr-mnist`, nidl's Barlow Twins projection head (latent → 2·latent → 2·latent →
//! latent by default, batch norm), the Barlow Twins loss (λ 5e-3), AdamW without decay on
//! biases and norms, and nidl's per-step linear-warmup cosine schedule; probed as
//! `simclr-mnist` is.

use super::args::Args;
use super::mnist_common::MnistData;
use super::train_common::barlow_command;

/// Usage of this subcommand.
pub const USAGE: &str = "usage: nidl barlow-mnist [--data-dir data/mnist] [--epochs 10] \
[--limit-train-batches 100] [--batch-size 128] [--lr 3e-4] [--weight-decay 5e-4] \
[--lambda 5e-3] [--proj-hidden 64] [--proj-output 32] [--warmup-epochs 10] [--latent 32] \
[--seed 42] [--probe logreg|knn] [--probe-every 1] [--probe-every-val 0] \
[--probe-on-train-start] [--log-dir lightning_logs] [--checkpoint] [--resume PATH] \
[--no-progress]\n\
  [--limit-val-batches 10] [--probe-max-iter 200] [--probe-train-limit N] [--probe-test-limit N]\n\n\
Trains Barlow Twins (nidl's defaults: AdamW lr 3e-4, weight decay 5e-4 except on biases and\n\
norms, per-step warmup-cosine schedule) on MNIST views with a LeNet encoder and probes the\n\
encoder as simclr-mnist does. Logs go to <log-dir>/version_<N>/.";

/// Runs `nidl barlow-mnist`; `Err` is the one-line cause.
pub fn run(args: Args) -> Result<(), String> {
    barlow_command::<MnistData>(args, USAGE)
}
