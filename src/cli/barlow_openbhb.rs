//! `nidl barlow-openbhb`: Barlow Twins on the seed's OpenBHB scenario, set up as nidl's Barlow
//! Twins OpenBHB example: the MLP encoder 284 → 64 → 32 and the views of `yaware-openbhb`,
//! nidl's Barlow Twins projection head (32 → 64 → 64 → 32 by default, batch norm), the Barlow
//! Twins loss (λ 5e-3), AdamW without decay on biases and norms, and nidl's per-step
//! linear-warmup cosine schedule; probed as `yaware-openbhb` is.
//!
//! Without `--data-dir` it uses the SYNTHETIC OpenBHB of `yaware-openbhb`.

use super::args::Args;
use super::openbhb_common::OpenBhbData;
use super::train_common::barlow_command;

/// Usage of this subcommand.
pub const USAGE: &str = "usage: nidl barlow-openbhb [--data-dir DIR | synthetic default] \
[--epochs 10] [--lr 3e-4] [--weight-decay 5e-4] [--lambda 5e-3] [--proj-hidden 64] \
[--proj-output 32] [--warmup-epochs 10] [--seed 42] [--batch-size 128] [--latent 32] \
[--mask-prob 0.8] [--noise-std 0.5] [--limit-train-batches N] [--limit-val-batches N] \
[--probe logreg|knn] [--probe-every 1] [--probe-every-val 0] [--probe-on-train-start] \
[--probe-max-iter 200] [--probe-train-limit N] [--probe-test-limit N] \
[--log-dir lightning_logs] [--checkpoint] [--resume PATH] [--no-progress]\n\n\
Trains Barlow Twins (nidl's defaults: AdamW lr 3e-4, weight decay 5e-4 except on biases and\n\
norms, per-step warmup-cosine schedule) on OpenBHB vbm_roi features and probes the encoder on\n\
age and sex. Without --data-dir, a SYNTHETIC OpenBHB is generated once into the cache folder.";

/// Runs `nidl barlow-openbhb`; `Err` is the one-line cause.
pub fn run(args: Args) -> Result<(), String> {
    barlow_command::<OpenBhbData>(args, USAGE)
}
