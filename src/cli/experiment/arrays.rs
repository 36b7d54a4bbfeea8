//! The array formats of an experiment: `.npy` files (feature arrays N×D or images N×C×H×W, each
//! with N or N×K labels) and csv tables (named feature and label columns), with probing sets of
//! their own (`probe_train_*` / `probe_test_*`, default: the training and validation sets).

use super::data::{label_column, label_names, Input, OpenedData, ProbingSetsFn};
use super::schema::{Data, Experiment};
use super::views;
use crate::cli::train_common::{view_loaders, RunOptions};
use nidl::datasets::array::{ArrayDataset, FeatureArray, ImageArray};
use nidl::datasets::loader::{Collate, Dataset, Stack};
use nidl::datasets::table::{SplitBy, TableColumns, TableDataset};
use nidl::datasets::transforms::{Identity, MultiViews, Pipeline, Transform};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An in-memory labelled set whose label columns can be chosen.
trait LabelledSet: Dataset + Clone + Sized + 'static {
    /// The set of an npy `array`, or `None` when it holds the other kind of sample.
    fn from_array(array: ArrayDataset) -> Option<Self>;
    /// The same samples with the label `columns`.
    fn with_labels(&self, columns: &[usize]) -> nidl::Result<Self>;
    /// Label columns.
    fn n_label_columns(&self) -> usize;
}

/// `LabelledSet` for an array set, the `ArrayDataset` variant holding it.
macro_rules! labelled_set {
    ($set:ty, $variant:ident) => {
        impl LabelledSet for $set {
            fn from_array(array: ArrayDataset) -> Option<Self> {
                match array {
                    ArrayDataset::$variant(s) => Some(s),
                    _ => None,
                }
            }
            fn with_labels(&self, columns: &[usize]) -> nidl::Result<Self> {
                self.select_labels(columns)
            }
            fn n_label_columns(&self) -> usize {
                self.labels().n_columns()
            }
        }
    };
}
labelled_set!(FeatureArray, Features);
labelled_set!(ImageArray, Images);

/// The `[C, H, W]` of the npy training images (`None` for features), and their label names
/// `y0, y1, …`.
pub fn peek_npy(data: &Data) -> Result<(Option<[usize; 3]>, Vec<String>), String> {
    let (train, _) = npy_pair(data, "train", &data.train_x, &data.train_y)?;
    let images = match &train {
        ArrayDataset::Images(i) => Some(i.image_shape()),
        ArrayDataset::Features(_) => None,
    };
    let k = train.labels().n_columns();
    Ok((images, (0..k).map(|j| format!("y{j}")).collect()))
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
    let array =
        ArrayDataset::from_npy(xp, yp).map_err(|e| format!("data.{xk} / data.{yk}: {e}"))?;
    if let Some(names) = &data.label_names {
        let k = array.labels().n_columns();
        if names.len() != k {
            return Err(format!(
                "data.label_names: {} names for the {k} label columns of {}",
                names.len(),
                yp.display()
            ));
        }
    }
    let name = format!("{} with labels {}", xp.display(), yp.display());
    Ok((array, name))
}

/// The npy set `data.<set>_x` / `_y` as `S`; `default` when neither key is set (probing sets).
fn npy_set<S: LabelledSet>(
    d: &Data,
    set: &str,
    (x, y): (&Option<PathBuf>, &Option<PathBuf>),
    default: Option<&(S, String)>,
) -> Result<(S, String), String> {
    if let (Some(default), None, None) = (default, x, y) {
        return Ok(default.clone());
    }
    let (array, name) = npy_pair(d, set, x, y)?;
    let kind = if matches!(array, ArrayDataset::Images(_)) {
        "images"
    } else {
        "features"
    };
    let s = S::from_array(array)
        .ok_or_else(|| format!("data.{set}_x: holds {kind}, unlike data.train_x"))?;
    Ok((s, name))
}

/// The method's views of `t` per sample (two; one for the VAE).
fn multi<T>(exp: &Experiment, t: T) -> Result<MultiViews<T>, String> {
    MultiViews::new(t, exp.run.method.views_per_sample()).map_err(|e| e.to_string())
}

/// `.npy` arrays: feature vectors (tabular views) or images (image views).
pub fn npy(exp: &Experiment, run: &RunOptions) -> Result<OpenedData, String> {
    let d = &exp.data;
    let (train, train_name) = npy_pair(d, "train", &d.train_x, &d.train_y)?;
    match train {
        ArrayDataset::Features(f) => {
            let input = Input::Features(f.n_features());
            let views = multi(exp, views::tabular_pipeline(exp)?)?;
            let sets = npy_sets(exp, (f, train_name))?;
            labelled_sets(exp, run, sets, views, || Identity, input)
        }
        ArrayDataset::Images(i) => {
            let input = Input::Image(i.image_shape());
            let views = multi(exp, views::image_pipeline(exp, i.image_shape())?)?;
            let scale = Pipeline(views::normalize(exp)?.into_iter().collect());
            let sets = npy_sets(exp, (i, train_name))?;
            labelled_sets(exp, run, sets, views, move || scale.clone(), input)
        }
    }
}

/// The npy sets of `S`: `train`, then validation and the probing sets.
fn npy_sets<S: LabelledSet>(
    exp: &Experiment,
    train: (S, String),
) -> Result<[(S, String); 4], String> {
    let d = &exp.data;
    let val = npy_set::<S>(d, "val", (&d.val_x, &d.val_y), None)?;
    let ptrain = npy_set(
        d,
        "probe_train",
        (&d.probe_train_x, &d.probe_train_y),
        Some(&train),
    )?;
    let ptest = npy_set(
        d,
        "probe_test",
        (&d.probe_test_x, &d.probe_test_y),
        Some(&val),
    )?;
    Ok([train, val, ptrain, ptest])
}

/// Training on `train` and `val` with `views` (the multi-view transform), probing on `probe_train` and `probe_test` (each
/// with what it is, for messages) through `probe_transform`.
fn labelled_sets<S, Tf, Pf>(
    exp: &Experiment,
    run: &RunOptions,
    [train, val, probe_train, probe_test]: [(S, String); 4],
    views: Tf,
    probe_transform: impl Fn() -> Pf + 'static,
    input: Input,
) -> Result<OpenedData, String>
where
    S: LabelledSet,
    Tf: Transform<S::Sample> + Clone + 'static,
    Tf::Output: Collate,
    <Tf::Output as Collate>::Item: Stack<Elem = f32>,
    Pf: Transform<S::Sample> + 'static,
    Pf::Output: Collate,
    <Pf::Output as Collate>::Item: Stack<Elem = f32>,
{
    let ssl = match &exp.data.ssl_label {
        Some(name) => label_column(exp, "data.ssl_label", name)?,
        None => 0,
    };
    let names = label_names(exp).len();
    for ((set, _), key) in [
        (&probe_train, "probe_train_y"),
        (&probe_test, "probe_test_y"),
    ] {
        let k = set.n_label_columns();
        if k != names {
            return Err(format!(
                "data.{key}: {k} label columns, data.label_names has {names}"
            ));
        }
    }
    let pick = |set: &S, cols: &[usize]| {
        set.with_labels(cols)
            .map(Arc::new)
            .map_err(|e| e.to_string())
    };
    let (train_loader, val_loader) = view_loaders(
        (pick(&train.0, &[ssl])?, pick(&val.0, &[ssl])?),
        views,
        run,
        [train.1, val.1],
    )?;
    let probing: ProbingSetsFn = Box::new(move |columns, probe| {
        let sets = (
            pick(&probe_train.0, columns)?,
            pick(&probe_test.0, columns)?,
        );
        let names = [probe_train.1.clone(), probe_test.1.clone()];
        probe.sets(sets, names, || Ok(probe_transform()))
    });
    Ok(OpenedData {
        train: train_loader,
        val: val_loader,
        input,
        probing,
    })
}

/// The columns `data.features` and `data.labels` of a csv table (both required).
pub fn csv_columns(d: &Data) -> Result<TableColumns, String> {
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
fn table(key: &str, path: &Path, columns: &TableColumns) -> Result<TableDataset, String> {
    if !path.is_file() {
        return Err(format!("data.{key}: no such file: {}", path.display()));
    }
    TableDataset::read(path, columns).map_err(|e| format!("data.{key}: {e}"))
}

/// A csv table split by a column, or one table per split; probes on the same sets.
pub fn csv(exp: &Experiment, run: &RunOptions) -> Result<OpenedData, String> {
    let d = &exp.data;
    let columns = csv_columns(d)?;
    let (train, val) = match (&d.file, &d.train_file, &d.val_file) {
        (Some(file), None, None) => {
            let column = d.split_column.clone().unwrap_or_else(|| "split".into());
            let part = |value: &Option<String>, default: &str| {
                let value = value.clone().unwrap_or_else(|| default.into());
                let name = format!("{} ({column} = {value})", file.display());
                let split = Some(SplitBy {
                    column: column.clone(),
                    value,
                });
                let t = table("file", file, &TableColumns { split, ..columns.clone() })?;
                Ok::<_, String>((t.features().clone(), name))
            };
            (part(&d.train_split, "train")?, part(&d.val_split, "val")?)
        }
        (None, Some(train_file), Some(val_file)) => {
            let t = table("train_file", train_file, &columns)?;
            let coded = TableColumns {
                categories: Some(t.categories().to_vec()),
                ..columns.clone()
            };
            let v = table("val_file", val_file, &coded)?;
            (
                (t.features().clone(), train_file.display().to_string()),
                (v.features().clone(), val_file.display().to_string()),
            )
        }
        _ => return Err("data.file: with format = \"csv\", give data.file (rows split by data.split_column) or data.train_file and data.val_file".into()),
    };
    let input = Input::Features(train.0.n_features());
    let views = multi(exp, views::tabular_pipeline(exp)?)?;
    let sets = [train.clone(), val.clone(), train, val];
    labelled_sets(exp, run, sets, views, || Identity, input)
}
