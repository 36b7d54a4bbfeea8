//! `nidl yaware-openbhb`: the seed's second scenario. y-Aware contrastive learning (MLP encoder
//! 284 → 64 → 32, head 32 → 64 → 32, Gaussian kernel with σ² bandwidth on age, Adam) on OpenBHB's
//! `vbm_roi` features with random-mask + Gaussian-noise views, probed after every epoch (by
//! default Ridge on age — task 0 — and LogisticRegression(max_iter 200) on sex — task 1).
//!
//! Without `--data-dir` it uses a SYNTHETIC OpenBHB (seed 42), generated once into the cache
//! folder (`nidl::datasets::openbhb::synthetic_cache_dir`).

use super::openbhb_common::OpenBhbData;
use super::options::{OpenBhbArgs, RunDefaults, TrainArgs, YAwareArgs};
use super::train_common::{train_command, yaware_model, TrainingData};
use nidl::loss::Kernel;

/// The options of `nidl yaware-openbhb`.
pub type Args = TrainArgs<OpenBhbArgs, YAwareArgs>;

/// The run defaults of `nidl yaware-openbhb`: the seed's Adam (lr 1e-5, weight decay 5e-5),
/// every batch.
pub const RUN: RunDefaults = RunDefaults::new((1e-5, 5e-5), OpenBhbData::LIMITS);

/// Runs `nidl yaware-openbhb`; `Err` is the one-line cause.
pub fn run(args: Args) -> Result<(), String> {
    train_command::<OpenBhbData, _, _>(args, &RUN, |yaware, parts| {
        let sigma = yaware.sigma.unwrap_or(YAwareArgs::SIGMA);
        let temperature = yaware.temperature.unwrap_or(YAwareArgs::TEMPERATURE);
        yaware_model((Kernel::Gaussian, sigma, temperature), parts)
    })
}
