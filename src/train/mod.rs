//! Training: estimators, the trainer loop, callbacks (model probing) and checkpoints.
//!
//! ```text
//! Trainer::fit(estimator, train loader, val loader)
//!   resume; check the inputs (preflight, callbacks.check); create the log folder
//!   callbacks.on_train_start (optional probing at the starting step)
//!   per epoch: estimator.on_epoch_start (per-epoch LR schedule)
//!              per batch: estimator.loss → [callbacks.on_train_batch: the first view's encoder
//!                         output, detached (online probe)] → backward → estimator.apply_gradients
//!                         (optimizer step, per-step LR schedule); loss/train every
//!                         log_every_n_steps steps
//!              validation loss (inference graph, mean over samples);
//!              callbacks.on_validation_epoch_end; log loss/val and their metrics
//!              callbacks.on_train_epoch_end (probing: embed → probe.fit → metrics); log them
//!              (epoch-end scalars at the epoch's last step, each group followed by `epoch`)
//!              best checkpoint / early stopping look at the epoch's values (monitor)
//!              checkpoint (safetensors, atomic; best.safetensors when the watched tag improved)
//!              stop early when the watched tag has not improved for `patience` evaluations
//! ```
//!
//! - [`estimator`]: the [`Estimator`] trait, [`SimClr`], [`YAware`], [`BarlowTwins`], [`Dcl`];
//! - [`BetaVae`]: the β-VAE (one view per sample, an encoder and a decoder);
//! - [`trainer`]: [`Trainer`], [`TrainerConfig`], progress [`Reporter`]s;
//! - [`callbacks`]: the [`Callback`] trait and nidl's probing callbacks;
//! - [`dino`]: [`Dino`], nidl 0.0.2's DINO (student, EMA teacher, multi-crop views);
//! - [`cv_probing`]: [`CrossValidatedProbing`], nidl 0.0.2's cross-validated probing;
//! - [`selected_scores`]: [`SelectedScores`], the scikit-learn scores a probing callback logs
//!   when given a scoring;
//! - [`checkpoint`]: safetensors reading and writing;
//! - [`console`]: [`ConsoleReporter`], the epoch lines a run prints (the command line adds a bar);
//! - [`metric_table`]: [`MetricTable`], final and best value per tag of a run;
//! - [`monitor`]: a watched tag's best value and patience (best checkpoint, early stopping);
//! - [`online_probe`]: [`OnlineProbe`], the linear probe learning from the training batches;
//! - [`preflight`]: the checks of a run's inputs before it starts;
//! - [`ssl_metrics`]: [`SslMetrics`], nidl 0.0.2's SSL geometry metrics of the validation views.

mod beta_vae;
pub mod callbacks;
pub mod checkpoint;
pub mod console;
pub mod cv_probing;
pub mod dino;
pub mod estimator;
pub mod metric_table;
pub mod monitor;
pub mod online_probe;
pub mod preflight;
pub mod selected_scores;
pub mod ssl_metrics;
pub mod trainer;

pub use beta_vae::{BetaVae, BetaVaeConfig, SampleShape};
pub use callbacks::{
    Callback, CallbackContext, ClassificationProbing, ClassificationScore, MultitaskProbing,
    MultitaskScore, NoProgress, ProbeSchedule, ProbeTask, Probing, ProbingSets, Progress,
    RegressionProbing, RegressionScore,
};
pub use checkpoint::{Checkpoint, StoredTensor};
pub use console::ConsoleReporter;
pub use cv_probing::{CrossValidatedProbing, CrossValidatedScore};
pub use dino::{Dino, DinoConfig};
pub use estimator::{
    BarlowTwins, BarlowTwinsConfig, Estimator, SimClr, SimClrConfig, YAware, YAwareConfig,
};
pub use estimator::{Dcl, DclConfig};
pub use metric_table::MetricTable;
pub use monitor::{EarlyStopping, Mode, Monitor};
pub use online_probe::{OnlineProbe, OnlineProbeConfig};
pub use selected_scores::SelectedScores;
pub use ssl_metrics::SslMetrics;
pub use trainer::{
    CheckpointExtras, EpochSummary, FitReport, NonFiniteMetric, Reporter, Resumed, Silent, Trainer,
    TrainerConfig, BEST_CHECKPOINT, BEST_JSON,
};
