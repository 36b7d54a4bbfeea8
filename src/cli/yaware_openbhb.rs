//! `nidl yaware-openbhb`: the seed's second scenario. y-Aware contrastive learning (MLP encoder
//! 284 → 64 → 32, head 32 → 64 → 32, Gaussian kernel with σ² bandwidth on age, Adam) on OpenBHB's
//! `vbm_roi` features with random-mask + Gaussian-noise views, probed after every epoch (by
//! default Ridge on age — task 0 — and LogisticRegression(max_iter 200) on sex — task 1).
//!
//! Without `--data-dir` it uses a SYNTHETIC OpenBHB (seed 42), generated once into the cache
//! folder (`nidl::datasets::openbhb::synthetic_cache_dir`).

use super::args::Args;
use super::openbhb_common::OpenBhbData;
use super::progress::positive;
use super::train_common::{train_command, yaware_model};
use nidl::loss::Kernel;

/// Usage of this subcommand.
pub const USAGE: &str = "usage: nidl yaware-openbhb [--data-dir DIR | synthetic default] [--epochs 10] \
[--sigma 4] [--lr 1e-5] [--seed 42] [--batch-size 128] [--temperature 0.1] [--weight-decay 5e-5] \
[--latent 32] [--mask-prob 0.8] [--noise-std 0.5] [--limit-train-batches N] [--limit-val-batches N] \
[--probe logreg|knn] [--probe-every 1] [--probe-every-val 0] [--probe-on-train-start] \
[--probe-max-iter 200] [--probe-train-limit N] [--probe-test-limit N] \
[--log-dir lightning_logs] [--checkpoint] [--resume PATH] [--no-progress]\n\n\
Trains y-Aware contrastive learning on OpenBHB vbm_roi features (age as the auxiliary variable,\n\
bandwidth sigma²) and probes the encoder on age and sex. Without --data-dir, a SYNTHETIC\n\
OpenBHB is generated once into the cache folder.";

/// Help text of the y-Aware options.
const YAWARE_HELP: &str =
    "y-Aware options:\n  --sigma X                kernel bandwidth σ (H = σ²) on age (4)\n  \
--temperature X          temperature (0.1)";

/// Runs `nidl yaware-openbhb`; `Err` is the one-line cause.
pub fn run(args: Args) -> Result<(), String> {
    train_command::<OpenBhbData, _, _>(
        args,
        USAGE,
        YAWARE_HELP,
        (1e-5, 5e-5),
        |args| {
            let sigma = positive(args, "sigma", 4.0)?;
            Ok((Kernel::Gaussian, sigma, positive(args, "temperature", 0.1)?))
        },
        yaware_model,
    )
}
