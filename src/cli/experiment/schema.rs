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
    /// Learning rate (simclr 1e-4, yaware 1e-5, barlow 3e-4).
    pub lr: Option<f64>,
    /// Weight decay (simclr 1e-4, yaware 5e-5, barlow 5e-4).
    pub weight_decay: Option<f64>,
    /// Runs go to `log_dir/version_<N>/` ("lightning_logs" in the current folder).
    pub log_dir: Option<PathBuf>,
    /// At most this many training batches per epoch (all).
    pub limit_train_batches: Option<usize>,
    /// At most this many validation batches per epoch; 0: no validation (all).
    pub limit_val_batches: Option<usize>,
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
}

/// `[method]`: each key applies to the methods named; a key set for another method is an error.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MethodOptions {
    /// simclr, yaware: the InfoNCE temperature (0.1).
    pub temperature: Option<f64>,
    /// yaware: the kernel bandwidth σ on the auxiliary label (H = σ²) (4).
    pub sigma: Option<f64>,
    /// yaware: the kernel, gaussian | epanechnikov | exponential | linear | cosine ("gaussian").
    pub kernel: Option<String>,
    /// barlow: weight of the redundancy-reduction term (5e-3).
    pub lambda: Option<f64>,
    /// barlow: hidden width of the projection head (2 × latent).
    pub proj_hidden: Option<usize>,
    /// barlow: output width of the projection head (latent).
    pub proj_output: Option<usize>,
    /// barlow: epochs of linear warmup before the cosine (10).
    pub warmup_epochs: Option<usize>,
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
    /// The label y-Aware's kernel is computed on (the first of `label_names`).
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

/// `[views]`: the augmentations, applied in order, twice per sample.
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
}

/// `[probing]`: the schedule of every probing callback.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProbingSpec {
    /// Probe after every N-th training epoch and the last; 0: never (1).
    #[serde(default = "default_every")]
    pub every: usize,
    /// Probe after every N-th validation epoch; 0: never (0).
    #[serde(default)]
    pub every_val: usize,
    /// Also probe once before training (false).
    #[serde(default)]
    pub on_train_start: bool,
    /// Fit the probes on the first N samples of their set (all).
    pub train_limit: Option<usize>,
    /// Score the probes on the first N samples of their set (all).
    pub test_limit: Option<usize>,
}

impl Default for ProbingSpec {
    fn default() -> Self {
        ProbingSpec {
            every: default_every(),
            every_val: 0,
            on_train_start: false,
            train_limit: None,
            test_limit: None,
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
}

/// `[[probe]]`: one probe on one label column.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSpec {
    /// logreg | ridge | knn | knn_regressor.
    pub kind: ProbeKindSpec,
    /// The label column it predicts, one of `data.label_names` (the first).
    pub task: Option<String>,
    /// Probes of one group make one probing callback (0): alone, it logs `<ProbeName>/<metric>`;
    /// with others, `task<j>/<metric>` (j: its place in the group).
    #[serde(default)]
    pub group: usize,
    /// The tag prefix instead of `<ProbeName>` / `task<j>`.
    pub name: Option<String>,
    /// logreg: inverse regularisation strength (1.0).
    pub c: Option<f64>,
    /// logreg: L-BFGS iterations (200).
    pub max_iter: Option<usize>,
    /// ridge: penalty strength (1.0).
    pub alpha: Option<f64>,
    /// knn, knn_regressor: neighbours (5).
    pub k: Option<usize>,
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

impl Method {
    /// The default learning rate and weight decay (nidl's, as the built-in commands).
    pub fn default_lr_wd(self) -> (f64, f64) {
        match self {
            Method::Simclr => (1e-4, 1e-4),
            Method::Yaware => (1e-5, 5e-5),
            Method::Barlow => (3e-4, 5e-4),
        }
    }
}

impl ProbeKindSpec {
    /// The kind as written in the file.
    pub fn name(self) -> &'static str {
        match self {
            ProbeKindSpec::Logreg => "logreg",
            ProbeKindSpec::Ridge => "ridge",
            ProbeKindSpec::Knn => "knn",
            ProbeKindSpec::KnnRegressor => "knn_regressor",
        }
    }
}

/// The method's name as written in the file.
pub fn method_name(m: Method) -> &'static str {
    match m {
        Method::Simclr => "simclr",
        Method::Yaware => "yaware",
        Method::Barlow => "barlow",
    }
}

/// Fails on the first key of `set` (`(key, is set)`) not in `allowed`, naming it and `owner`.
fn only_allowed(
    set: &[(&str, bool)],
    allowed: &[&str],
    table: &str,
    owner: &str,
) -> Result<(), String> {
    match set.iter().find(|(k, on)| *on && !allowed.contains(k)) {
        Some((k, _)) => Err(format!("{table}.{k}: does not apply to {owner}")),
        None => Ok(()),
    }
}

impl MethodOptions {
    /// Each key and whether it is set.
    fn set_keys(&self) -> [(&'static str, bool); 7] {
        [
            ("temperature", self.temperature.is_some()),
            ("sigma", self.sigma.is_some()),
            ("kernel", self.kernel.is_some()),
            ("lambda", self.lambda.is_some()),
            ("proj_hidden", self.proj_hidden.is_some()),
            ("proj_output", self.proj_output.is_some()),
            ("warmup_epochs", self.warmup_epochs.is_some()),
        ]
    }
}

impl Data {
    /// Each format-specific key and whether it is set.
    fn set_keys(&self) -> [(&'static str, bool); 17] {
        [
            ("dir", self.dir.is_some()),
            ("train_x", self.train_x.is_some()),
            ("train_y", self.train_y.is_some()),
            ("val_x", self.val_x.is_some()),
            ("val_y", self.val_y.is_some()),
            ("probe_train_x", self.probe_train_x.is_some()),
            ("probe_train_y", self.probe_train_y.is_some()),
            ("probe_test_x", self.probe_test_x.is_some()),
            ("probe_test_y", self.probe_test_y.is_some()),
            ("file", self.file.is_some()),
            ("train_file", self.train_file.is_some()),
            ("val_file", self.val_file.is_some()),
            ("features", self.features.is_some()),
            ("labels", self.labels.is_some()),
            ("split_column", self.split_column.is_some()),
            ("train_split", self.train_split.is_some()),
            ("val_split", self.val_split.is_some()),
        ]
    }

    /// The format's name as written in the file.
    pub fn format_name(&self) -> &'static str {
        match self.format {
            Format::Mnist => "mnist",
            Format::Openbhb => "openbhb",
            Format::Npy => "npy",
            Format::Csv => "csv",
        }
    }
}

impl ProbeSpec {
    /// Each option key and whether it is set.
    fn set_keys(&self) -> [(&'static str, bool); 4] {
        [
            ("c", self.c.is_some()),
            ("max_iter", self.max_iter.is_some()),
            ("alpha", self.alpha.is_some()),
            ("k", self.k.is_some()),
        ]
    }
}

impl Experiment {
    /// Fills the defaults that depend on the method or the data (`input`: the `[C, H, W]` of
    /// image samples, `None` for feature vectors; `label_names`: the format's default names),
    /// and refuses keys that do not apply to the method, encoder, data or probe chosen.
    pub fn fill_defaults(
        &mut self,
        input: Option<[usize; 3]>,
        label_names: Vec<String>,
    ) -> Result<(), String> {
        let m = self.run.method;
        let (lr, wd) = m.default_lr_wd();
        let cwd_logs =
            std::path::absolute("lightning_logs").map_err(|e| format!("run.log_dir: {e}"))?;
        self.run.log_dir.get_or_insert(cwd_logs);
        self.run.lr.get_or_insert(lr);
        self.run.weight_decay.get_or_insert(wd);
        let o = &mut self.method;
        let allowed: &[&str] = match m {
            Method::Simclr => &["temperature"],
            Method::Yaware => &["temperature", "sigma", "kernel"],
            Method::Barlow => &["lambda", "proj_hidden", "proj_output", "warmup_epochs"],
        };
        let owner = format!("run.method = \"{}\"", method_name(m));
        only_allowed(&o.set_keys(), allowed, "method", &owner)?;
        match m {
            Method::Simclr => {
                o.temperature.get_or_insert(0.1);
            }
            Method::Yaware => {
                o.temperature.get_or_insert(0.1);
                o.sigma.get_or_insert(4.0);
                o.kernel.get_or_insert_with(|| "gaussian".into());
            }
            Method::Barlow => {
                o.lambda.get_or_insert(5e-3);
                o.warmup_epochs.get_or_insert(10);
            }
        }
        let allowed: &[&str] = match self.data.format {
            Format::Mnist | Format::Openbhb => &["dir"],
            Format::Npy => &[
                "train_x",
                "train_y",
                "val_x",
                "val_y",
                "probe_train_x",
                "probe_train_y",
                "probe_test_x",
                "probe_test_y",
            ],
            Format::Csv => &[
                "file",
                "train_file",
                "val_file",
                "features",
                "labels",
                "split_column",
                "train_split",
                "val_split",
            ],
        };
        let owner = format!("format = \"{}\"", self.data.format_name());
        only_allowed(&self.data.set_keys(), allowed, "data", &owner)?;
        let names = self.data.label_names.get_or_insert(label_names).clone();
        if m == Method::Yaware {
            self.data.ssl_label.get_or_insert_with(|| names[0].clone());
        } else if self.data.ssl_label.is_some() {
            return Err(format!(
                "data.ssl_label: does not apply to {owner} (only to yaware)"
            ));
        }
        let e = &mut self.encoder;
        let default_kind = match input {
            None => EncoderKind::Mlp,
            Some([1, 28, 28]) => EncoderKind::Lenet,
            Some(_) => EncoderKind::Convnet,
        };
        let kind = *e.kind.get_or_insert(default_kind);
        let set = [
            ("hidden", e.hidden.is_some()),
            ("batch_norm", e.batch_norm.is_some()),
            ("latent", e.latent.is_some()),
            ("blocks", e.blocks.is_some()),
        ];
        let (allowed, name): (&[&str], _) = match kind {
            EncoderKind::Mlp => (&["hidden", "batch_norm"], "mlp"),
            EncoderKind::Lenet => (&["latent"], "lenet"),
            EncoderKind::Convnet => (&["latent", "blocks"], "convnet"),
        };
        only_allowed(&set, allowed, "encoder", &format!("kind = \"{name}\""))?;
        match kind {
            EncoderKind::Mlp => {
                e.hidden.get_or_insert_with(|| vec![64, 32]);
                e.batch_norm.get_or_insert(false);
            }
            EncoderKind::Lenet => {
                e.latent.get_or_insert(32);
            }
            EncoderKind::Convnet => {
                e.latent.get_or_insert(32);
                e.blocks.get_or_insert_with(|| {
                    [16, 32]
                        .map(|channels| ConvBlockSpec {
                            channels,
                            kernel: 3,
                            stride: 1,
                            padding: 0,
                            pool: 2,
                        })
                        .to_vec()
                });
            }
        }
        let v = &mut self.views;
        if input.is_some() {
            if v.tabular.is_some() {
                return Err("views.tabular: the samples are images (set views.image)".into());
            }
            if self.data.format == Format::Mnist {
                v.image.get_or_insert_with(seed_mnist_views);
                v.mean.get_or_insert_with(|| vec![0.5]);
                v.std.get_or_insert_with(|| vec![0.5]);
            } else {
                v.image.get_or_insert_with(Vec::new);
            }
        } else {
            let set = [
                ("image", v.image.is_some()),
                ("mean", v.mean.is_some()),
                ("std", v.std.is_some()),
            ];
            only_allowed(&set, &[], "views", "feature vectors (set views.tabular)")?;
            v.tabular.get_or_insert_with(|| {
                vec![
                    TabularView::Mask { prob: 0.8 },
                    TabularView::Noise { std: 0.5 },
                ]
            });
        }
        for (i, p) in self.probes.iter_mut().enumerate() {
            p.task.get_or_insert_with(|| names[0].clone());
            let allowed: &[&str] = match p.kind {
                ProbeKindSpec::Logreg => &["c", "max_iter"],
                ProbeKindSpec::Ridge => &["alpha"],
                ProbeKindSpec::Knn | ProbeKindSpec::KnnRegressor => &["k"],
            };
            let owner = format!("kind = \"{}\"", p.kind.name());
            only_allowed(&p.set_keys(), allowed, &format!("probe[{i}]"), &owner)?;
            match p.kind {
                ProbeKindSpec::Logreg => {
                    p.c.get_or_insert(1.0);
                    p.max_iter.get_or_insert(200);
                }
                ProbeKindSpec::Ridge => {
                    p.alpha.get_or_insert(1.0);
                }
                ProbeKindSpec::Knn | ProbeKindSpec::KnnRegressor => {
                    p.k.get_or_insert(5);
                }
            }
        }
        Ok(())
    }
}

/// Fails unless `v ≥ min`, naming `key`.
fn at_least(key: &str, v: usize, min: usize) -> Result<(), String> {
    if v >= min {
        Ok(())
    } else {
        Err(format!("{key}: must be at least {min}, got {v}"))
    }
}

/// Fails unless `v` is finite and `> 0` (`positive`) or `≥ 0`, naming `key`.
fn number(key: &str, v: Option<f64>, positive: bool) -> Result<(), String> {
    match v {
        Some(v) if !v.is_finite() || v < 0.0 || (positive && v == 0.0) => Err(format!(
            "{key}: must be a {} number, got {v}",
            if positive {
                "positive"
            } else {
                "finite, non-negative"
            }
        )),
        _ => Ok(()),
    }
}

impl Experiment {
    /// Checks the ranges of the values and that `ssl_label` and each probe's `task` are among
    /// `label_names` (call after [`fill_defaults`](Self::fill_defaults)); errors name the key.
    pub fn check(&self) -> Result<(), String> {
        let r = &self.run;
        at_least("run.epochs", r.epochs, 1)?;
        at_least("run.batch_size", r.batch_size, 2)?;
        number("run.lr", r.lr, true)?;
        number("run.weight_decay", r.weight_decay, false)?;
        if let Some(n) = r.limit_train_batches {
            at_least("run.limit_train_batches", n, 1)?;
        }
        if r.resume_despite_changes && r.resume.is_none() {
            return Err("run.resume_despite_changes: only with run.resume".into());
        }
        let m = &self.method;
        number("method.temperature", m.temperature, true)?;
        number("method.sigma", m.sigma, true)?;
        number("method.lambda", m.lambda, false)?;
        for (key, v) in [
            ("method.proj_hidden", m.proj_hidden),
            ("method.proj_output", m.proj_output),
        ] {
            if let Some(v) = v {
                at_least(key, v, 1)?;
            }
        }
        for w in self.encoder.hidden.iter().flatten() {
            at_least("encoder.hidden", *w, 1)?;
        }
        if self.encoder.hidden.as_ref().is_some_and(Vec::is_empty) {
            return Err(
                "encoder.hidden: needs at least one width (the last is the latent size)".into(),
            );
        }
        if let Some(l) = self.encoder.latent {
            at_least("encoder.latent", l, 1)?;
        }
        if let Some(n) = self.probing.train_limit {
            at_least("probing.train_limit", n, 10)?;
        }
        if let Some(n) = self.probing.test_limit {
            at_least("probing.test_limit", n, 1)?;
        }
        let names = self.data.label_names.as_deref().unwrap_or(&[]);
        if names.is_empty() {
            return Err("data.label_names: needs at least one name".into());
        }
        if let Some(i) = (1..names.len()).find(|&i| names[..i].contains(&names[i])) {
            return Err(format!("data.label_names: '{}' given twice", names[i]));
        }
        let mut tasks: Vec<(String, &str)> = Vec::new();
        if let Some(s) = &self.data.ssl_label {
            tasks.push(("data.ssl_label".into(), s));
        }
        for (i, p) in self.probes.iter().enumerate() {
            let key = format!("probe[{i}]");
            number(&format!("{key}.c"), p.c, true)?;
            number(&format!("{key}.alpha"), p.alpha, false)?;
            if let Some(k) = p.k {
                at_least(&format!("{key}.k"), k, 1)?;
            }
            if let Some(n) = p.max_iter {
                at_least(&format!("{key}.max_iter"), n, 1)?;
            }
            if let Some(t) = &p.task {
                tasks.push((format!("{key}.task"), t));
            }
        }
        for (key, name) in tasks {
            if !names.iter().any(|n| n == name) {
                return Err(format!(
                    "{key}: '{name}' is not one of data.label_names ({})",
                    names.join(", ")
                ));
            }
        }
        Ok(())
    }
}
