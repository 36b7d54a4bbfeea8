//! The data side of an experiment: for each format, the training and validation loaders of two
//! views per sample, the input the encoder takes, and the probing sets on chosen label columns.
//! MNIST and OpenBHB load through the same functions as the built-in commands.

use super::schema::{Data, Experiment, Format, ImageView, Method, TabularView};
use crate::cli::mnist_common;
use crate::cli::openbhb_common::{self, split_name, vbm_roi};
use crate::cli::train_common::{view_loaders, ProbeOptions, RunOptions};
use nidl::datasets::array::{ArrayDataset, FeatureArray};
use nidl::datasets::loader::BatchSource;
use nidl::datasets::openbhb::{Modality, OpenBhbSplit, Target};
use nidl::datasets::table::{SplitBy, TableColumns, TableDataset};
use nidl::datasets::transforms::{
    mnist_contrast_transforms, GaussianNoise, Identity, MultiViews, Normalize, RandomMask,
    ToTensor, Transform, TransformExt,
};
use nidl::train::ProbingSets;
use rand::Rng;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

/// Whether the format's samples are images, and its label names when the file does not say.
pub fn peek(data: &Data) -> Result<(bool, Vec<String>), String> {
    match data.format {
        Format::Mnist => Ok((true, vec!["digit".into()])),
        Format::Openbhb => Ok((false, Target::ALL.iter().map(|t| t.name().into()).collect())),
        Format::Npy => {
            let (train, _) = npy_pair(data, "train", &data.train_x, &data.train_y)?;
            let images = matches!(train, ArrayDataset::Images(_));
            let k = train.labels().n_columns();
            Ok((images, (0..k).map(|j| format!("y{j}")).collect()))
        }
        Format::Csv => {
            if data.label_names.is_some() {
                return Err(
                    "data.label_names: with format = \"csv\" the names are data.labels".into(),
                );
            }
            Ok((false, csv_columns(data)?.labels))
        }
    }
}

/// Opens the data of `exp` (defaults filled in) for a run with `run`'s batches and seed.
pub fn open(exp: &Experiment, run: &RunOptions) -> Result<OpenedData, String> {
    match exp.data.format {
        Format::Mnist => mnist(exp, run),
        Format::Openbhb => openbhb(exp, run),
        Format::Npy => npy(exp, run),
        Format::Csv => csv(exp, run),
    }
}

/// The label names (filled in by the defaults).
fn label_names(exp: &Experiment) -> &[String] {
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
fn mnist(exp: &Experiment, run: &RunOptions) -> Result<OpenedData, String> {
    let err = |e: nidl::Error| e.to_string();
    let dir = exp
        .data
        .dir
        .clone()
        .unwrap_or_else(nidl::datasets::mnist::default_dir);
    let (sets, names) = mnist_common::load_sets(&dir, "data.dir")?;
    let views = MultiViews::new(image_views(exp)?, 2).map_err(err)?;
    let (train, val) = view_loaders(sets.clone(), views, run, names.clone())?;
    let (mean, std) = (
        exp.views.mean.clone().unwrap_or_default(),
        exp.views.std.clone().unwrap_or_default(),
    );
    Normalize::new(&mean, &std).map_err(|e| format!("views.mean / views.std: {e}"))?;
    let probing: ProbingSetsFn = Box::new(move |_columns, probe| {
        let scale = || Ok(ToTensor.then(Normalize::new(&mean, &std)?));
        probe.sets(sets.clone(), names.clone(), scale)
    });
    Ok(OpenedData {
        train,
        val,
        input: Input::Image([1, 28, 28]),
        probing,
    })
}

/// The image views: the seed's MNIST list `[random_resized_crop 28, gaussian_blur 3]` then
/// ToTensor and Normalize(0.5, 0.5) maps onto [`mnist_contrast_transforms`] — the only image
/// pipeline of this build.
fn image_views(
    exp: &Experiment,
) -> Result<nidl::datasets::transforms::MnistContrastTransforms, String> {
    let seed_list = [
        ImageView::RandomResizedCrop { size: 28 },
        ImageView::GaussianBlur { kernel: 3 },
    ];
    let v = &exp.views;
    if v.image.as_deref() != Some(&seed_list[..])
        || v.mean.as_deref() != Some(&[0.5][..])
        || v.std.as_deref() != Some(&[0.5][..])
    {
        return Err("views.image: this build has one image pipeline, the seed's MNIST views (image = [{kind = \"random_resized_crop\", size = 28}, {kind = \"gaussian_blur\", kernel = 3}], mean = [0.5], std = [0.5])".into());
    }
    mnist_contrast_transforms().map_err(|e| e.to_string())
}

/// One tabular augmentation.
#[derive(Clone, Copy, Debug)]
enum TabularStep {
    Mask(RandomMask),
    Noise(GaussianNoise),
}

/// The tabular views: the augmentations of `views.tabular`, in order.
#[derive(Clone, Debug)]
struct TabularViews(Vec<TabularStep>);

impl Transform<Vec<f32>> for TabularViews {
    type Output = Vec<f32>;
    fn apply<R: Rng + ?Sized>(&self, mut x: Vec<f32>, rng: &mut R) -> nidl::Result<Vec<f32>> {
        for step in &self.0 {
            x = match step {
                TabularStep::Mask(m) => m.apply(x, rng)?,
                TabularStep::Noise(n) => n.apply(x, rng)?,
            };
        }
        Ok(x)
    }
}

/// The transforms of `views.tabular`; errors name the item.
fn tabular_views(exp: &Experiment) -> Result<TabularViews, String> {
    let list = exp.views.tabular.as_deref().unwrap_or(&[]);
    let steps = list
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let at = |e: nidl::Error| format!("views.tabular[{i}]: {e}");
            Ok(match *v {
                TabularView::Mask { prob } => TabularStep::Mask(RandomMask::new(prob).map_err(at)?),
                TabularView::Noise { std } => {
                    TabularStep::Noise(GaussianNoise::new(std).map_err(at)?)
                }
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(TabularViews(steps))
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
fn openbhb(exp: &Experiment, run: &RunOptions) -> Result<OpenedData, String> {
    let err = |e: nidl::Error| e.to_string();
    let root: PathBuf = match &exp.data.dir {
        Some(d) => d.clone(),
        None => openbhb_common::synthetic_root()?,
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
    let load = |split| vbm_roi(&root, &[ssl], split, "data.dir");
    let views = MultiViews::new(tabular_views(exp)?, 2).map_err(err)?;
    let splits = [OpenBhbSplit::Train, OpenBhbSplit::Val];
    let set_names = splits.map(|s| split_name(&root, s));
    let (train, val) = view_loaders(
        (load(OpenBhbSplit::Train)?, load(OpenBhbSplit::Val)?),
        views,
        run,
        set_names.clone(),
    )?;
    let probing: ProbingSetsFn = Box::new(move |columns, probe| {
        let chosen: Vec<Target> = columns.iter().map(|&c| targets[c]).collect();
        let set = |split| vbm_roi(&root, &chosen, split, "data.dir");
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

/// The path of `data.<key>`, required for format npy and checked to exist.
fn npy_path<'a>(key: &str, path: &'a Option<PathBuf>) -> Result<&'a Path, String> {
    let p = path
        .as_deref()
        .ok_or_else(|| format!("data.{key}: required with format = \"npy\""))?;
    if !p.is_file() {
        return Err(format!("data.{key}: no such file: {}", p.display()));
    }
    Ok(p)
}

/// The samples `data.<set>_x` and labels `data.<set>_y`, read, and what they are (for messages).
fn npy_pair(
    data: &Data,
    set: &str,
    x: &Option<PathBuf>,
    y: &Option<PathBuf>,
) -> Result<(ArrayDataset, String), String> {
    let (xk, yk) = (format!("{set}_x"), format!("{set}_y"));
    let (xp, yp) = (npy_path(&xk, x)?, npy_path(&yk, y)?);
    let set = ArrayDataset::from_npy(xp, yp).map_err(|e| format!("data.{xk} / data.{yk}: {e}"))?;
    if let Some(names) = &data.label_names {
        let k = set.labels().n_columns();
        if names.len() != k {
            return Err(format!(
                "data.label_names: {} names for the {k} label columns of {}",
                names.len(),
                yp.display()
            ));
        }
    }
    Ok((
        set,
        format!("{} with labels {}", xp.display(), yp.display()),
    ))
}

/// The feature vectors of an npy set, or an error naming the key for images.
fn features(set: ArrayDataset, key: &str) -> Result<FeatureArray, String> {
    match set {
        ArrayDataset::Features(f) => Ok(f),
        ArrayDataset::Images(_) => Err(format!(
            "data.{key}: image arrays need the runtime image views, not in this build yet (feature arrays N×D work)"
        )),
    }
}

/// `.npy` feature arrays: train/val for training, probe_train/probe_test (default: train/val)
/// for the probes.
fn npy(exp: &Experiment, run: &RunOptions) -> Result<OpenedData, String> {
    let d = &exp.data;
    let (train, train_name) = npy_pair(d, "train", &d.train_x, &d.train_y)?;
    let (val, val_name) = npy_pair(d, "val", &d.val_x, &d.val_y)?;
    let (train, val) = (features(train, "train_x")?, features(val, "val_x")?);
    feature_arrays(exp, run, (train, train_name), (val, val_name))
}

/// Training and probing on feature arrays: `train` and `val` (each with what it is, for
/// messages), the probes on `data.probe_train_*` / `data.probe_test_*` (default: the same).
fn feature_arrays(
    exp: &Experiment,
    run: &RunOptions,
    (train, train_name): (FeatureArray, String),
    (val, val_name): (FeatureArray, String),
) -> Result<OpenedData, String> {
    let err = |e: nidl::Error| e.to_string();
    let d = &exp.data;
    let ssl = match &d.ssl_label {
        Some(name) => label_column(exp, "data.ssl_label", name)?,
        None => 0,
    };
    let select =
        |set: &FeatureArray, cols: &[usize]| set.select_labels(cols).map(Arc::new).map_err(err);
    let input = Input::Features(train.n_features());
    let views = MultiViews::new(tabular_views(exp)?, 2).map_err(err)?;
    let (train_loader, val_loader) = view_loaders(
        (select(&train, &[ssl])?, select(&val, &[ssl])?),
        views,
        run,
        [train_name.clone(), val_name.clone()],
    )?;
    let probe_set =
        |set: &str, x: &Option<PathBuf>, y: &Option<PathBuf>, default: (FeatureArray, String)| {
            if x.is_none() && y.is_none() {
                return Ok(default);
            }
            let (s, name) = npy_pair(d, set, x, y)?;
            Ok::<_, String>((features(s, &format!("{set}_x"))?, name))
        };
    let (ptrain, ptrain_name) = probe_set(
        "probe_train",
        &d.probe_train_x,
        &d.probe_train_y,
        (train, train_name),
    )?;
    let (ptest, ptest_name) = probe_set(
        "probe_test",
        &d.probe_test_x,
        &d.probe_test_y,
        (val, val_name),
    )?;
    for (set, key) in [(&ptrain, "probe_train_y"), (&ptest, "probe_test_y")] {
        let k = set.labels().n_columns();
        let names = label_names(exp).len();
        if k != names {
            return Err(format!(
                "data.{key}: {k} label columns, data.label_names has {names}"
            ));
        }
    }
    let probing: ProbingSetsFn = Box::new(move |columns, probe| {
        let pick = |set: &FeatureArray| {
            set.select_labels(columns)
                .map(Arc::new)
                .map_err(|e| e.to_string())
        };
        let names = [ptrain_name.clone(), ptest_name.clone()];
        probe.sets((pick(&ptrain)?, pick(&ptest)?), names, || Ok(Identity))
    });
    Ok(OpenedData {
        train: train_loader,
        val: val_loader,
        input,
        probing,
    })
}

/// The columns `data.features` and `data.labels` of a csv table (both required).
fn csv_columns(d: &Data) -> Result<TableColumns, String> {
    let required = |key: &str, v: &Option<Vec<String>>| {
        v.clone().filter(|l| !l.is_empty()).ok_or_else(|| {
            format!("data.{key}: required with format = \"csv\" (a list of column names)")
        })
    };
    Ok(TableColumns {
        features: required("features", &d.features)?,
        labels: required("labels", &d.labels)?,
        split: None,
        categories: None,
    })
}

/// The table at `data.<key>` with `columns`, errors naming the key.
fn table(
    key: &str,
    path: &Path,
    columns: &TableColumns,
) -> Result<(FeatureArray, TableDataset, String), String> {
    if !path.is_file() {
        return Err(format!("data.{key}: no such file: {}", path.display()));
    }
    let t = TableDataset::read(path, columns).map_err(|e| format!("data.{key}: {e}"))?;
    Ok((t.features().clone(), t, path.display().to_string()))
}

/// A csv table split by a column, or one table per split.
fn csv(exp: &Experiment, run: &RunOptions) -> Result<OpenedData, String> {
    let d = &exp.data;
    let columns = csv_columns(d)?;
    let (train, val) = match (&d.file, &d.train_file, &d.val_file) {
        (Some(file), None, None) => {
            let column = d.split_column.clone().unwrap_or_else(|| "split".into());
            let split = |value: &Option<String>, default: &str| TableColumns {
                split: Some(SplitBy {
                    column: column.clone(),
                    value: value.clone().unwrap_or_else(|| default.into()),
                }),
                ..columns.clone()
            };
            let (train, _, name) = table("file", file, &split(&d.train_split, "train"))?;
            let (val, _, _) = table("file", file, &split(&d.val_split, "val"))?;
            let what = |v: &Option<String>, default: &str| {
                format!("{name} ({column} = {})", v.as_deref().unwrap_or(default))
            };
            ((train, what(&d.train_split, "train")), (val, what(&d.val_split, "val")))
        }
        (None, Some(train_file), Some(val_file)) => {
            let (train, t, train_name) = table("train_file", train_file, &columns)?;
            let coded = TableColumns {
                categories: Some(t.categories().to_vec()),
                ..columns.clone()
            };
            let (val, _, val_name) = table("val_file", val_file, &coded)?;
            ((train, train_name), (val, val_name))
        }
        _ => {
            return Err("data.file: with format = \"csv\", give data.file (rows split by data.split_column) or data.train_file and data.val_file".into())
        }
    };
    feature_arrays(exp, run, train, val)
}
