//! `nidl simclr-mnist`: the seed's first scenario. SimCLR (LeNet encoder, head [64, 32],
//! InfoNCE τ 0.1, AdamW, cosine schedule) on MNIST views (RandomResizedCrop + GaussianBlur),
//! probed after every epoch (by default a LogisticRegression(max_iter 200) on the full
//! train/test sets).

use super::mnist_common::MnistData;
use super::options::{MnistArgs, RunDefaults, SimClrArgs, TrainArgs};
use super::train_common::{simclr_model, train_command, TrainingData};

/// The options of `nidl simclr-mnist`.
pub type Args = TrainArgs<MnistArgs, SimClrArgs>;

/// The run defaults of `nidl simclr-mnist`: the seed's AdamW (lr 1e-4, weight decay 1e-4), 100
/// training and 10 validation batches per epoch.
pub const RUN: RunDefaults = RunDefaults::new((1e-4, 1e-4), MnistData::LIMITS);

/// Runs `nidl simclr-mnist`; `Err` is the one-line cause.
pub fn run(args: Args) -> Result<(), String> {
    train_command::<MnistData, _, _>(args, &RUN, |simclr, parts| {
        simclr_model(simclr.temperature.unwrap_or(SimClrArgs::TEMPERATURE), parts)
    })
}
