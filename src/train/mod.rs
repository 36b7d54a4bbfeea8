//! Training: estimators, the trainer loop, callbacks (model probing) and checkpoints.
//!
//! ```text
//! Trainer::fit(estimator, train loader, val loader)
//!   per epoch: estimator.on_epoch_start (LR schedule)
//!              per batch: estimator.loss → backward → estimator.apply_gradients; log loss/train
//!              validation loss (inference graph); log loss/val
//!              callbacks (probing: embed → probe.fit → metrics); log them
//!              checkpoint (safetensors, atomic)
//! ```
//!
//! - [`estimator`]: the [`Estimator`] trait, [`SimClr`], [`YAware`];
//! - [`trainer`]: [`Trainer`], [`TrainerConfig`], [`BatchSource`], progress [`Reporter`]s;
//! - [`callbacks`]: the [`Callback`] trait and nidl's probing callbacks;
//! - [`checkpoint`]: safetensors reading and writing.

pub mod callbacks;
pub mod checkpoint;
pub mod estimator;
pub mod trainer;

pub use callbacks::{
    Callback, CallbackContext, ClassificationProbing, Head, MultitaskProbing, RegressionProbing,
};
pub use checkpoint::{Checkpoint, StoredTensor};
pub use estimator::{Estimator, SimClr, SimClrConfig, YAware, YAwareConfig};
pub use trainer::{BatchSource, EpochSummary, FitReport, Reporter, Silent, Trainer, TrainerConfig};
