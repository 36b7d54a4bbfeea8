//! `nidl barlow-openbhb`: Barlow Twins on the seed's OpenBHB scenario, set up as nidl's Barlow
//! Twins OpenBHB example: the MLP encoder 284 → 64 → 32 and the views of `yaware-openbhb`,
//! nidl's Barlow Twins projection head (32 → 64 → 64 → 32 by default, batch norm), the Barlow
//! Twins loss (λ 5e-3), AdamW without decay on biases and norms, and nidl's per-step
//! linear-warmup cosine schedule; probed as `yaware-openbhb` is.
//!
//! Without `--data-dir` it uses the SYNTHETIC OpenBHB of `yaware-openbhb`.

use super::openbhb_common::OpenBhbData;
use super::options::{BarlowArgs, OpenBhbArgs, RunDefaults, TrainArgs};
use super::train_common::{barlow_command, TrainingData, BARLOW_OPTIMIZER};

/// The options of `nidl barlow-openbhb`.
pub type Args = TrainArgs<OpenBhbArgs, BarlowArgs>;

/// The run defaults of `nidl barlow-openbhb`: nidl's Barlow Twins optimizer, every batch.
pub const RUN: RunDefaults = RunDefaults::new(BARLOW_OPTIMIZER, OpenBhbData::LIMITS);

/// Runs `nidl barlow-openbhb`; `Err` is the one-line cause.
pub fn run(args: Args) -> Result<(), String> {
    barlow_command::<OpenBhbData>(args, &RUN)
}
