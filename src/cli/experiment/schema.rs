//! The experiment file's schema: one serde struct per table, unknown keys refused, every default
//! written once (in the `default_*` functions and [`Experiment::fill_defaults`], which fills the
//! defaults that depend on the method or the data format).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A whole experiment file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// `[run]`: the method and the trainer's settings.
    pub run: Run,
    /// `[method]`: the method's own options.
    #[serde(default)]
    pub method: MethodOptions,
    /// `[data]`: where the samples and labels come from.
    pub data: Data,
    /// `[encoder]`: the network that embeds a sample.
    #[serde(default)]
    pub encoder: Encoder,
    /// `[views]`: the augmentations that make the two views of a sample.
    #[serde(default)]
    pub views: ViewsSpec,
    /// `[probing]`: when the probes run and on how many samples.
    #[serde(default)]
    pub probing: ProbingSpec,
    /// `[[probe]]`: the probes, in order.
    #[serde(default, rename = "probe", skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<ProbeSpec>,
    /// `[metrics]`: the SSL geometry metrics of the validation views.
    #[serde(default)]
    pub metrics: MetricsSpec,
    /// `[sweep]`: dotted keys, each with the list of values to run.
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub sweep: toml::Table,
}

/// The self-supervised methods.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// SimCLR (InfoNCE on two views).
    Simclr,
    /// y-Aware contrastive learning (an auxiliary label weighs the positives).
    Yaware,
    /// Barlow Twins.
    Barlow,
    /// Decoupled contrastive learning (DCL; DCLW with `method.sigma`).
    Dcl,
    /// β-VAE (one view per sample, an encoder and a decoder).
    Vae,
    /// DINO (self-distillation of a momentum teacher on global and local views).
    Dino,
}

/// `[run]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Run {
    /// The method.
    pub method: Method,
    /// Epochs to train (10).
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    /// Samples per training batch (128).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Seed of initialisation, shuffling and augmentations (42).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Learning rate (simclr 1e-4 and yaware 1e-5: the seed's; barlow, dcl and dino 3e-4, vae
    /// 1e-4: nidl 0.0.2's).
    pub lr: Option<f64>,
    /// Weight decay (simclr 1e-4, yaware 5e-5, barlow, dcl and dino 5e-4, vae 0.01).
    pub weight_decay: Option<f64>,
    /// Runs go to `log_dir/version_<N>/` ("lightning_logs" in the current folder).
    pub log_dir: Option<PathBuf>,
    /// At most this many training batches per epoch (all).
    pub limit_train_batches: Option<usize>,
    /// At most this many validation batches per epoch; 0: no validation (all).
    pub limit_val_batches: Option<usize>,
    /// Log `loss/train` every N-th step, as Lightning's `log_every_n_steps`; 1: every step (50).
    #[serde(default = "default_log_every_n_steps")]
    pub log_every_n_steps: usize,
    /// Write a checkpoint after every epoch (false).
    #[serde(default)]
    pub checkpoint: bool,
    /// Continue from this checkpoint (none).
    pub resume: Option<PathBuf>,
    /// Resume even when the checkpoint records other hyper-parameters (false).
    #[serde(default)]
    pub resume_despite_changes: bool,
    /// `cpu` or `gpu` ("cpu").
    #[serde(default = "default_device")]
    pub device: String,
    /// Draw the progress bar on a terminal (true).
    #[serde(default = "default_true")]
    pub progress: bool,
    /// mnist: train an online linear probe on the digits of the training batches' first view
    /// (the encoder output the step computed, detached), logged `online/<metric>` after every
    /// epoch on the probing test set (false).
    #[serde(default)]
    pub online_probe: bool,
    /// Keep `checkpoints/best.safetensors` (and `best.json`) with the best value of this tag
    /// (none).
    pub checkpoint_best: Option<String>,
    /// Whether larger or smaller `checkpoint_best` values are better (from the metric: min for
    /// losses and errors, else max).
    pub checkpoint_best_mode: Option<MonitorMode>,
    /// Stop training after `patience` evaluations of this tag in a row without improvement
    /// (none).
    pub early_stop: Option<String>,
    /// Whether larger or smaller `early_stop` values are better (from the metric).
    pub early_stop_mode: Option<MonitorMode>,
    /// With `early_stop`: the evaluations without improvement it tolerates (3, Lightning's).
    pub patience: Option<usize>,
}

/// `max` or `min`: which values of a monitored tag are better.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum MonitorMode {
    /// Larger is better.
    Max,
    /// Smaller is better.
    Min,
}

/// `[method]`: each key applies to the methods named; a key set for another method is an error.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MethodOptions {
    /// simclr, yaware, dcl: the InfoNCE (dcl: DCL) temperature (0.1).
    pub temperature: Option<f64>,
    /// yaware: the kernel bandwidth σ on the auxiliary label (H = σ²) (4: the seed's; nidl
    /// 0.0.1's default bandwidth is H = 1). dcl: train DCLW, nidl's `DCLWLoss(sigma)`, the
    /// positives weighted by a von Mises–Fisher weight of this σ (nidl's default 0.5); unset:
    /// DCL.
    pub sigma: Option<f64>,
    /// yaware: the kernel, gaussian | epanechnikov | exponential | linear | cosine ("gaussian").
    pub kernel: Option<String>,
    /// barlow: weight of the redundancy-reduction term (5e-3).
    pub lambda: Option<f64>,
    /// barlow, dcl: hidden width of the projection head (2 × latent).
    pub proj_hidden: Option<usize>,
    /// barlow, dcl: output width of the projection head (latent).
    pub proj_output: Option<usize>,
    /// barlow, dcl, dino: epochs of linear warmup before the cosine (10).
    pub warmup_epochs: Option<usize>,
    /// vae: weight of the KL term, nidl's `beta` (1).
    pub beta: Option<f64>,
    /// vae: width of the posterior mean and log-variance, nidl's `latent_dim` (32).
    pub latent_dim: Option<usize>,
    /// vae: the decoder distribution, nidl's `default_dist`: normal | laplace | bernoulli
    /// ("normal").
    pub default_dist: Option<String>,
    /// dino: hidden width of the DINO head (256; nidl's 2048 is sized for ResNet features).
    pub proj_hidden_dim: Option<usize>,
    /// dino: bottleneck width before the weight-normalised last layer (64; nidl: 256).
    pub proj_bottleneck_dim: Option<usize>,
    /// dino: output width K of the head (1024; nidl: 4096).
    pub proj_output_dim: Option<usize>,
    /// dino: BatchNorm1d in the head's hidden layers (true).
    pub proj_batch_norm: Option<bool>,
    /// dino: fix the last layer's weight-norm gains at 1 (true).
    pub proj_norm_last_layer: Option<bool>,
    /// dino: local views per sample, after the 2 global ones (8).
    pub num_local_crops: Option<usize>,
    /// dino: student temperature (0.1).
    pub student_temperature: Option<f64>,
    /// dino: teacher temperature after the warm-up (0.07).
    pub teacher_temperature: Option<f64>,
    /// dino: teacher temperature of the first epoch (0.04).
    pub warmup_teacher_temp: Option<f64>,
    /// dino: epochs of linear teacher-temperature warm-up (30).
    pub warmup_teacher_temp_epochs: Option<usize>,
    /// dino: teacher momentum λ at the first step (0.996).
    pub base_lambda: Option<f64>,
    /// dino: teacher momentum λ the cosine ends at (1.0).
    pub final_lambda: Option<f64>,
    /// dino: maximal gradient norm of the student encoder; 0: no clipping (0).
    pub clip_grad: Option<f64>,
    /// dino: epochs during which the head's last layer is not updated (0).
    pub freeze_last_layer: Option<usize>,
}

/// The data formats.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The four MNIST idx files (raw or gzip) in `dir`.
    Mnist,
    /// An OpenBHB tree in `dir` (vbm_roi features); without `dir`, a synthetic one.
    Openbhb,
    /// `.npy` arrays: features N×D, labels N or N×K.
    Npy,
    /// One CSV/TSV table (rows split by a column) or one per split: named feature and label
    /// columns.
    Csv,
}

/// `[data]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Data {
    /// The format.
    pub format: Format,
    /// mnist, openbhb: the data folder (mnist: `data/mnist`; openbhb: a synthetic OpenBHB).
    pub dir: Option<PathBuf>,
    /// npy: training samples.
    pub train_x: Option<PathBuf>,
    /// npy: training labels.
    pub train_y: Option<PathBuf>,
    /// npy: validation samples.
    pub val_x: Option<PathBuf>,
    /// npy: validation labels.
    pub val_y: Option<PathBuf>,
    /// npy: the samples the probes are fitted on (train_x).
    pub probe_train_x: Option<PathBuf>,
    /// npy: their labels (train_y).
    pub probe_train_y: Option<PathBuf>,
    /// npy: the samples the probes are scored on (val_x).
    pub probe_test_x: Option<PathBuf>,
    /// npy: their labels (val_y).
    pub probe_test_y: Option<PathBuf>,
    /// Names of the label columns (mnist ["digit"], openbhb ["age", "sex", "site"], npy ["y0",
    /// …], csv: `labels`).
    pub label_names: Option<Vec<String>>,
    /// yaware: the one label column its kernel is computed on (the first of `label_names`). The
    /// library's `YAware` takes every column of its training labels as a vector auxiliary
    /// variable; experiment files give it this column only.
    pub ssl_label: Option<String>,
    /// csv: one table holding every split (its rows split by `split_column`).
    pub file: Option<PathBuf>,
    /// csv: the training table (with `val_file`, instead of `file`).
    pub train_file: Option<PathBuf>,
    /// csv: the validation table.
    pub val_file: Option<PathBuf>,
    /// csv: feature columns, exact names or glob patterns (`roi_*`) in header order.
    pub features: Option<Vec<String>>,
    /// csv: label columns by name (non-numeric ones coded 0, 1, … in sorted order).
    pub labels: Option<Vec<String>>,
    /// csv with `file`: the column naming each row's split ("split").
    pub split_column: Option<String>,
    /// csv with `file`: its value on training rows ("train").
    pub train_split: Option<String>,
    /// csv with `file`: its value on validation rows ("val").
    pub val_split: Option<String>,
}

/// The encoders.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EncoderKind {
    /// Linear layers with ReLU between, on flat features.
    Mlp,
    /// The seed's LeNet on 1×28×28 images.
    Lenet,
    /// Convolution blocks then a linear to the latent size, for images of any size.
    Convnet,
}

/// One block of a convnet: Conv2d → ReLU → average pooling.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConvBlockSpec {
    /// Output channels.
    pub channels: usize,
    /// Square kernel size (3).
    #[serde(default = "three")]
    pub kernel: usize,
    /// Stride (1).
    #[serde(default = "one")]
    pub stride: usize,
    /// Zero padding (0).
    #[serde(default)]
    pub padding: usize,
    /// Average pooling window after the ReLU; 0: none (0).
    #[serde(default)]
    pub pool: usize,
}

fn three() -> usize {
    3
}
fn one() -> usize {
    1
}

/// `[encoder]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Encoder {
    /// mlp | lenet | convnet (1×28×28 images: lenet; other images: convnet; features: mlp).
    pub kind: Option<EncoderKind>,
    /// mlp: the layer widths; the last is the latent size ([64, 32]).
    pub hidden: Option<Vec<usize>>,
    /// mlp: a BatchNorm1d after each hidden linear, before its ReLU (false).
    pub batch_norm: Option<bool>,
    /// lenet, convnet: the latent size (32).
    pub latent: Option<usize>,
    /// convnet: the blocks ([{channels = 16, pool = 2}, {channels = 32, pool = 2}]).
    pub blocks: Option<Vec<ConvBlockSpec>>,
}

/// An augmentation of a feature vector.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TabularView {
    /// Zeroes each feature with probability `prob`.
    Mask {
        /// The masking probability.
        prob: f64,
    },
    /// With probability 0.5, adds N(0, std²) noise to every feature.
    Noise {
        /// The noise's standard deviation.
        std: f64,
    },
}

/// An augmentation of an image.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ImageView {
    /// torchvision's RandomResizedCrop(size).
    RandomResizedCrop {
        /// Output height (and width, unless `width` is set).
        size: usize,
        /// Output width (`size`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        width: Option<usize>,
        /// Range of the crop's area fraction ([0.08, 1.0]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scale: Option<[f64; 2]>,
        /// Range of the crop's aspect ratio ([0.75, 1.3333]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ratio: Option<[f64; 2]>,
    },
    /// torchvision's GaussianBlur(kernel).
    GaussianBlur {
        /// Kernel size (odd).
        kernel: usize,
        /// Range σ is drawn from ([0.1, 2.0]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sigma: Option<[f32; 2]>,
    },
    /// Mirrors left–right with probability `p`.
    HorizontalFlip {
        /// The probability (0.5).
        #[serde(default = "half")]
        p: f64,
    },
    /// Mirrors top–bottom with probability `p`.
    VerticalFlip {
        /// The probability (0.5).
        #[serde(default = "half")]
        p: f64,
    },
    /// ColorJitter(brightness = strength): a factor uniform in [1 − s, 1 + s].
    Brightness {
        /// The jitter strength.
        strength: f64,
    },
    /// ColorJitter(contrast = strength).
    Contrast {
        /// The jitter strength.
        strength: f64,
    },
}

fn half() -> f64 {
    0.5
}

/// The seed's MNIST views: `RandomResizedCrop(28)` then `GaussianBlur(3)` (mnist's default).
pub fn seed_mnist_views() -> Vec<ImageView> {
    vec![
        ImageView::RandomResizedCrop {
            size: 28,
            width: None,
            scale: None,
            ratio: None,
        },
        ImageView::GaussianBlur {
            kernel: 3,
            sigma: None,
        },
    ]
}

/// `[views]`: the augmentations, applied in order, twice per sample (dino: twice for the global
/// views, then `local_*` for each local view).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ViewsSpec {
    /// Feature data ([{kind = "mask", prob = 0.8}, {kind = "noise", std = 0.5}]).
    pub tabular: Option<Vec<TabularView>>,
    /// Image data (mnist: [{kind = "random_resized_crop", size = 28}, {kind = "gaussian_blur",
    /// kernel = 3}]; npy: none), on `[0, 1]` pixels, followed by Normalize(`mean`, `std`).
    pub image: Option<Vec<ImageView>>,
    /// Image data: per-channel mean of Normalize (mnist: [0.5]; npy: no Normalize).
    pub mean: Option<Vec<f32>>,
    /// Image data: per-channel std of Normalize (mnist: [0.5]).
    pub std: Option<Vec<f32>>,
    /// dino, image data: the augmentations of the local views (mnist: [{kind =
    /// "random_resized_crop", size = 28, scale = [0.05, 0.4]}, {kind = "gaussian_blur", kernel =
    /// 3}]), followed by the same Normalize; `image` then makes the 2 global views (mnist: scale
    /// [0.4, 1.0]).
    pub local_image: Option<Vec<ImageView>>,
    /// dino, feature data: the augmentations of the local views ([{kind = "mask", prob = 0.9},
    /// {kind = "noise", std = 0.5}]); `tabular` then makes the 2 global views.
    pub local_tabular: Option<Vec<TabularView>>,
}

/// `[probing]`: the schedule of every probing callback.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProbingSpec {
    /// Probe after every N-th training epoch, as nidl 0.0.1; 0: never (1).
    #[serde(default = "default_every")]
    pub every: usize,
    /// Also probe after the last training epoch (false).
    #[serde(default)]
    pub after_last_epoch: bool,
    /// Probe after every N-th validation epoch (counted; nidl 0.0.1's counter does not
    /// advance); 0: never (0).
    #[serde(default)]
    pub every_val: usize,
    /// Also probe once before training (false).
    #[serde(default)]
    pub on_train_start: bool,
    /// Fit the probes on the first N samples of their set (all).
    pub train_limit: Option<usize>,
    /// Score the probes on the first N samples of their set (all).
    pub test_limit: Option<usize>,
    /// Also cross-validate every probe in this many folds (at least 2) on its probing train
    /// set, as nidl 0.0.2's `ModelProbingCVCallback` (none).
    pub cv: Option<usize>,
    /// scikit-learn scoring names: a string (one score, tagged `test_score`) or a list (each
    /// tagged `test_<name>`; each probe takes those of its kind), logged instead of nidl 0.0.1's
    /// metrics (none: those metrics; with `cv`, the probe's own score).
    pub scoring: Option<ScoringSpec>,
    /// Put before the score tags, as nidl 0.0.2's `prefix_score` (none: nothing for a single
    /// probe, `<ProbeName>/` for each of several).
    pub prefix_score: Option<String>,
}

/// `[probing] scoring`: one scikit-learn scoring name or a list of them.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum ScoringSpec {
    /// One name (nidl's `scoring="accuracy"`): its tags end in `test_score`.
    One(String),
    /// A list (nidl's `scoring=["accuracy", ...]`): each tag ends in `test_<name>`.
    Many(Vec<String>),
}

impl Default for ProbingSpec {
    fn default() -> Self {
        ProbingSpec {
            every: default_every(),
            after_last_epoch: false,
            every_val: 0,
            on_train_start: false,
            train_limit: None,
            test_limit: None,
            cv: None,
            scoring: None,
            prefix_score: None,
        }
    }
}

/// The hidden layer sizes of an `mlp` / `mlp_regressor` probe without `hidden` (README,
/// "MLP probe": one layer of 32 units fits 60 000 embeddings of 32 values in a fraction of the
/// time scikit-learn's default 100 takes, at the same accuracy).
pub const MLP_PROBE_HIDDEN: [usize; 1] = [32];
/// `[metrics]`: nidl 0.0.2's SSL geometry metrics (`ssl/alignment`, `ssl/uniformity`,
/// `ssl/contrastive_accuracy`, `ssl/procrustes_similarity`, `ssl/procrustes_r2`,
/// `ssl/kruskal_similarity`) of the projections of the validation set's two views.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSpec {
    /// Log the SSL metrics (false).
    #[serde(default)]
    pub ssl: bool,
    /// After every N-th training epoch; 0: never (1).
    #[serde(default = "default_every")]
    pub every: usize,
}

impl Default for MetricsSpec {
    fn default() -> Self {
        MetricsSpec {
            ssl: false,
            every: default_every(),
        }
    }
}

/// The probes.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKindSpec {
    /// Logistic regression (classes).
    Logreg,
    /// Ridge regression (a continuous target).
    Ridge,
    /// k-NN classification.
    Knn,
    /// k-NN regression.
    KnnRegressor,
    /// Multi-layer perceptron classification (scikit-learn's `MLPClassifier`).
    Mlp,
    /// Multi-layer perceptron regression (scikit-learn's `MLPRegressor`).
    MlpRegressor,
}

/// `[[probe]]`: one probe on one label column (`task`), or a regressor on several (`tasks`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSpec {
    /// logreg | ridge | knn | knn_regressor | mlp | mlp_regressor.
    pub kind: ProbeKindSpec,
    /// The label column it predicts, one of `data.label_names` (the first unless `tasks` is
    /// set).
    pub task: Option<String>,
    /// ridge, knn_regressor, mlp_regressor, instead of `task`: several label columns predicted together, each
    /// scored, logged `<ProbeName>/regressor <i>/<metric>` for the i-th then
    /// `<ProbeName>/average/<metric>` (nidl 0.0.1's multi-output regression probing); the probe
    /// must be alone in its group.
    pub tasks: Option<Vec<String>>,
    /// Probes of one group make one probing callback (0): alone, it logs `<ProbeName>/<metric>`;
    /// with others, `task<j>/<metric>` (j: its place in the group).
    #[serde(default)]
    pub group: usize,
    /// The tag prefix instead of `<ProbeName>` / `task<j>`.
    pub name: Option<String>,
    /// logreg: inverse regularisation strength (1.0).
    pub c: Option<f64>,
    /// logreg, mlp, mlp_regressor: L-BFGS iterations (200).
    pub max_iter: Option<usize>,
    /// ridge: penalty strength (1.0); mlp, mlp_regressor: L2 penalty on the weights (1e-4).
    pub alpha: Option<f64>,
    /// knn, knn_regressor: neighbours (5).
    pub k: Option<usize>,
    /// mlp, mlp_regressor: hidden layer sizes (`[32]`).
    pub hidden: Option<Vec<usize>>,
}

fn default_epochs() -> usize {
    10
}
fn default_batch_size() -> usize {
    128
}
fn default_seed() -> u64 {
    42
}
fn default_device() -> String {
    "cpu".into()
}
fn default_true() -> bool {
    true
}
fn default_every() -> usize {
    1
}
fn default_log_every_n_steps() -> usize {
    50
}

impl Method {
    /// The default learning rate and weight decay, as the built-in commands: simclr and yaware
    /// the seed example's (nidl 0.0.1's SimCLR has none; its y-Aware default lr is 1e-4),
    /// barlow, dcl, vae and dino nidl 0.0.2's `BarlowTwins`, `DCL`, `VAE` and `DINO` defaults.
    pub fn default_lr_wd(self) -> (f64, f64) {
        match self {
            Method::Simclr => (1e-4, 1e-4),
            Method::Yaware => (1e-5, 5e-5),
            Method::Barlow | Method::Dcl | Method::Dino => (3e-4, 5e-4),
            Method::Vae => (1e-4, 0.01),
        }
    }

    /// Views of each sample the method trains on: 1 for the VAE, 2 for the others.
    pub fn views_per_sample(self) -> usize {
        match self {
            Method::Vae => 1,
            _ => 2,
        }
    }
}

impl ProbeSpec {
    /// The label columns the probe predicts, by name: `tasks`, else `task` (none before
    /// [`Experiment::fill_defaults`] when neither is set).
    pub fn task_names(&self) -> Vec<&str> {
        match &self.tasks {
            Some(tasks) => tasks.iter().map(String::as_str).collect(),
            None => self.task.as_deref().into_iter().collect(),
        }
    }

    /// The key its columns are named by in messages (`probe[i].task` or `probe[i].tasks`).
    pub fn tasks_key(&self, i: usize) -> String {
        let key = if self.tasks.is_some() {
            "tasks"
        } else {
            "task"
        };
        format!("probe[{i}].{key}")
    }
}

impl ProbeKindSpec {
    /// Whether the probe predicts classes (one label column).
    pub fn is_classifier(self) -> bool {
        matches!(
            self,
            ProbeKindSpec::Logreg | ProbeKindSpec::Knn | ProbeKindSpec::Mlp
        )
    }

    /// The kind as written in the file.
    pub fn name(self) -> &'static str {
        match self {
            ProbeKindSpec::Logreg => "logreg",
            ProbeKindSpec::Ridge => "ridge",
            ProbeKindSpec::Knn => "knn",
            ProbeKindSpec::KnnRegressor => "knn_regressor",
            ProbeKindSpec::Mlp => "mlp",
            ProbeKindSpec::MlpRegressor => "mlp_regressor",
        }
    }
}
