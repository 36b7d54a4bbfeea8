//! `nidl barlow-mnist`: Barlow Twins on the seed's MNIST scenario. The LeNet encoder and MNIST
//! views of `simclr-mnist`, nidl's Barlow Twins projection head (latent → 2·latent → 2·latent →
//! latent by default, batch norm), the Barlow Twins loss (λ 5e-3), AdamW without decay on
//! biases and norms, and nidl's per-step linear-warmup cosine schedule; probed as
//! `simclr-mnist` is.

use super::mnist_common::MnistData;
use super::options::{BarlowArgs, MnistArgs, RunDefaults, TrainArgs};
use super::train_common::{barlow_command, TrainingData, BARLOW_OPTIMIZER};

/// The options of `nidl barlow-mnist`.
pub type Args = TrainArgs<MnistArgs, BarlowArgs>;

/// The run defaults of `nidl barlow-mnist`: nidl's Barlow Twins optimizer, the MNIST limits of
/// `simclr-mnist`.
pub const RUN: RunDefaults = RunDefaults::new(BARLOW_OPTIMIZER, MnistData::LIMITS);

/// Runs `nidl barlow-mnist`; `Err` is the one-line cause.
pub fn run(args: Args) -> Result<(), String> {
    barlow_command::<MnistData>(args, &RUN)
}
