//! The data side of an experiment, opened: the training and validation loaders of two views per
//! sample (one for the VAE), the input the encoder takes, and the probing sets on chosen label columns; and the
//! formats of the built-in commands, MNIST and OpenBHB, loaded through the same functions as the
//! commands ([`super::arrays`]: npy and csv).

use super::schema::{Experiment, Method};
use super::views;
use crate::cli::stdout::outln;
use crate::cli::train_common::{view_loaders, ProbeOptions, RunOptions};
use nidl::datasets::loader::BatchSource;
use nidl::datasets::mnist::{Mnist, MnistSplit};
use nidl::datasets::openbhb::{self, Modality, OpenBhb, OpenBhbSplit, SyntheticConfig, Target};
use nidl::datasets::transforms::{Identity, MultiViews, Pipeline, ToTensor, TransformExt};
use nidl::train::ProbingSets;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Seed of the synthetic OpenBHB used without `data.dir` (`--data-dir`).
const SYNTHETIC_SEED: u64 = 42;

/// What the encoder takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// Feature vectors of this width.
    Features(usize),
    /// Images of this `[channels, height, width]`.
    Image([usize; 3]),
}

/// The probing sets of the probes on label columns `columns` (indices into `label_names`).
pub type ProbingSetsFn = Box<dyn Fn(&[usize], &ProbeOptions) -> Result<ProbingSets, String>>;

/// An experiment's data, opened.
pub struct OpenedData {
    /// Training batches (two views per sample; labels: y-Aware's `ssl_label`).
    pub train: Box<dyn BatchSource>,
    /// Validation batches (as the training ones, not shuffled).
    pub val: Box<dyn BatchSource>,
    /// What the encoder takes.
    pub input: Input,
    /// The probing sets.
    pub probing: ProbingSetsFn,
}

/// The label names (filled in by the defaults).
pub fn label_names(exp: &Experiment) -> &[String] {
    exp.data.label_names.as_deref().unwrap_or(&[])
}

/// The index of `name` in `data.label_names`, or an error naming `key` and the allowed names.
pub fn label_column(exp: &Experiment, key: &str, name: &str) -> Result<usize, String> {
    let names = label_names(exp);
    names.iter().position(|n| n == name).ok_or_else(|| {
        format!(
            "{key}: '{name}' is not one of data.label_names ({})",
            names.join(", ")
        )
    })
}

/// MNIST from `data.dir` (default: `data/mnist` here, else the crate's copy).
pub fn mnist(exp: &Experiment, run: &RunOptions) -> Result<OpenedData, String> {
    let err = |e: nidl::Error| e.to_string();
    let dir = exp
        .data
        .dir
        .clone()
        .unwrap_or_else(nidl::datasets::mnist::default_dir);
    let (sets, names) = mnist_sets(&dir, run.source.data_dir())?;
    let (train, val) = match views::seed_mnist_transforms(exp)? {
        _ if exp.run.method == Method::Dino => {
            let views = super::dino::image_views(exp, [1, 28, 28])?;
            view_loaders(sets.clone(), views, run, names.clone())?
        }
        Some(seed) => {
            let views = MultiViews::new(seed, exp.run.method.views_per_sample()).map_err(err)?;
            view_loaders(sets.clone(), views, run, names.clone())?
        }
        None => {
            let pipeline = ToTensor.then(views::image_pipeline(exp, [1, 28, 28])?);
            let views =
                MultiViews::new(pipeline, exp.run.method.views_per_sample()).map_err(err)?;
            view_loaders(sets.clone(), views, run, names.clone())?
        }
    };
    let scale = views::normalize(exp)?;
    let probing: ProbingSetsFn = Box::new(move |_columns, probe| {
        let scale = || Ok(ToTensor.then(Pipeline(scale.clone().into_iter().collect())));
        probe.sets(sets.clone(), names.clone(), scale)
    });
    Ok(OpenedData {
        train,
        val,
        input: Input::Image([1, 28, 28]),
        probing,
    })
}

/// The OpenBHB target named `name` (one of `label_names`, checked to be a target's name).
fn target(name: &str) -> Result<Target, String> {
    Target::ALL
        .into_iter()
        .find(|t| t.name() == name)
        .ok_or_else(|| {
            format!("data.label_names: '{name}' is not an OpenBHB target (age, sex, site)")
        })
}

/// OpenBHB's `vbm_roi` features from `data.dir` (default: the synthetic OpenBHB).
pub fn openbhb(exp: &Experiment, run: &RunOptions) -> Result<OpenedData, String> {
    let err = |e: nidl::Error| e.to_string();
    let root: PathBuf = match &exp.data.dir {
        Some(d) => d.clone(),
        None => synthetic_root()?,
    };
    let names = label_names(exp).to_vec();
    let targets = names
        .iter()
        .map(|n| target(n))
        .collect::<Result<Vec<_>, _>>()?;
    // y-Aware's kernel label; the other methods ignore the training labels (age, as the
    // commands).
    let ssl = match (exp.run.method, &exp.data.ssl_label) {
        (Method::Yaware, Some(name)) => targets[label_column(exp, "data.ssl_label", name)?],
        _ => Target::Age,
    };
    let what = run.source.data_dir();
    let load = |split| vbm_roi(&root, &[ssl], split, what);
    let views = MultiViews::new(
        views::tabular_pipeline(exp)?,
        exp.run.method.views_per_sample(),
    )
    .map_err(err)?;
    let splits = [OpenBhbSplit::Train, OpenBhbSplit::Val];
    let set_names = splits.map(|s| split_name(&root, s));
    let sets = (load(OpenBhbSplit::Train)?, load(OpenBhbSplit::Val)?);
    let (train, val) = match exp.run.method {
        Method::Dino => {
            let views = super::dino::tabular_views(exp)?;
            view_loaders(sets, views, run, set_names.clone())?
        }
        _ => view_loaders(sets, views, run, set_names.clone())?,
    };
    let probing: ProbingSetsFn = Box::new(move |columns, probe| {
        let chosen: Vec<Target> = columns.iter().map(|&c| targets[c]).collect();
        let set = |split| vbm_roi(&root, &chosen, split, what);
        let sets = (set(OpenBhbSplit::Train)?, set(OpenBhbSplit::Val)?);
        probe.sets(sets, set_names.clone(), || Ok(Identity))
    });
    Ok(OpenedData {
        train,
        val,
        input: Input::Features(Modality::VbmRoi.n_features()),
        probing,
    })
}

/// The MNIST train and test sets.
type MnistSets = (Arc<Mnist>, Arc<Mnist>);

/// What the files of `split` in `dir` are, for messages: `MNIST train-* files in data/mnist`.
fn mnist_split_name(dir: &Path, split: MnistSplit) -> String {
    format!("MNIST {}-* files in {}", split.prefix(), dir.display())
}

/// The MNIST train and test sets in `dir`, and what each is (for messages); read errors are
/// prefixed with `what` (the option or key naming the folder).
fn mnist_sets(dir: &Path, what: &str) -> Result<(MnistSets, [String; 2]), String> {
    let load = |split| {
        Mnist::load(dir, split)
            .map(Arc::new)
            .map_err(|e| format!("{what}: {e}"))
    };
    let names = [MnistSplit::Train, MnistSplit::Test].map(|s| mnist_split_name(dir, s));
    Ok(((load(MnistSplit::Train)?, load(MnistSplit::Test)?), names))
}

/// The `vbm_roi` features of `split` of the tree at `root` with `targets` as labels; read errors
/// are prefixed with `what` (the option or key naming the folder).
fn vbm_roi(
    root: &Path,
    targets: &[Target],
    split: OpenBhbSplit,
    what: &str,
) -> Result<Arc<OpenBhb>, String> {
    OpenBhb::new(root, Modality::VbmRoi, targets, split)
        .map(Arc::new)
        .map_err(|e| format!("{what}: {e}"))
}

/// What `split` of the tree at `root` is, for messages: `OpenBHB train split of
/// DIR/participants.tsv`.
fn split_name(root: &Path, split: OpenBhbSplit) -> String {
    format!(
        "OpenBHB {} split of {}",
        split.name(),
        root.join(openbhb::PARTICIPANTS_FILE).display()
    )
}

/// The synthetic OpenBHB in the cache folder, generated on first use (and said so).
fn synthetic_root() -> Result<PathBuf, String> {
    let cache = openbhb::synthetic_cache_dir();
    let root = openbhb::synthetic::synthetic_root(&cache, SYNTHETIC_SEED);
    if !openbhb::synthetic::is_generated(&root, &SyntheticConfig::with_seed(SYNTHETIC_SEED)) {
        // Two lines, so that neither wraps on 80 columns for a short path.
        eprintln!(
            "generating a SYNTHETIC OpenBHB (seed {SYNTHETIC_SEED}; once, later runs reuse it) in\n  {}",
            root.display()
        );
    }
    let root = openbhb::ensure_synthetic(&cache, SYNTHETIC_SEED).map_err(|e| e.to_string())?;
    outln!(
        "data: SYNTHETIC OpenBHB (use --data-dir for real data) in\n  {}",
        root.display()
    );
    Ok(root)
}
