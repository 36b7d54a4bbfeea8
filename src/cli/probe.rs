//! `nidl probe`: fits a probe on embeddings exported from any framework (`.npy` files) and
//! prints its test metrics — a readable table, or one JSON line with `--json`. The probes and
//! metrics live in `nidl::probe` and `nidl::metrics`.

use super::options::Shown;
use super::stdout::outln;
use super::values::{self, non_negative, positive, whole};
use nidl::datasets::npy::{read_npy, NpyArray, NpyData};
use nidl::linalg::Termination;
use nidl::metrics::{ClassificationReport, MultiOutputReport};
use nidl::probe::{
    labels_from_f64, KNeighborsClassifier, KNeighborsRegressor, LogisticRegression, Probe, Ridge,
};
use nidl::{Element, Tensor};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The options of `nidl probe`.
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// Training embeddings: float32 or float64, shape (n, d)
    #[arg(long, value_name = "X.npy")]
    train_x: PathBuf,
    /// Training targets: integer labels (logreg; knn classifies when y has an integer dtype) or
    /// float targets (ridge, shape (n,) or (n, t); knn regresses when y is float); t > 1 columns
    /// are fitted together and reported per column and averaged, as nidl's regression_report
    /// (regressor <j>/<metric>, average/<metric>)
    #[arg(long, value_name = "Y.npy")]
    train_y: PathBuf,
    /// Test embeddings, as --train-x
    #[arg(long, value_name = "X.npy")]
    test_x: PathBuf,
    /// Test targets, as --train-y
    #[arg(long, value_name = "Y.npy")]
    test_y: PathBuf,
    /// The probe
    #[arg(long, value_enum)]
    probe: ProbeName,
    /// Inverse regularisation strength of logreg
    #[arg(long, value_name = "X", value_parser = positive)]
    c: Option<f64>,
    /// L2 penalty of ridge
    #[arg(long, value_name = "X", value_parser = non_negative)]
    alpha: Option<f64>,
    /// Neighbours of knn
    #[arg(long, value_name = "N", value_parser = whole(1usize))]
    k: Option<usize>,
    /// L-BFGS iterations of logreg
    #[arg(long, value_name = "N", value_parser = whole(1usize))]
    max_iter: Option<usize>,
    /// Print one JSON line: a flat object of metric name -> value plus fit_seconds and n_iter
    /// (null for ridge and knn)
    #[arg(long)]
    json: bool,
}

/// `--probe`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ProbeName {
    /// A logistic regression (classification)
    Logreg,
    /// Ridge regression
    Ridge,
    /// k nearest neighbours (classification or regression, by the dtype of y)
    Knn,
}

/// `--c`.
const C: f64 = 1.0;
/// `--alpha`.
const ALPHA: f64 = 1.0;
/// `--k`.
const K: usize = 5;
/// `--max-iter`.
const MAX_ITER: usize = 200;

/// The defaults of `nidl probe`, as `--help` shows them.
pub fn shown() -> Shown {
    vec![
        ("c", values::shown(C)),
        ("alpha", values::shown(ALPHA)),
        ("k", K.to_string()),
        ("max_iter", MAX_ITER.to_string()),
    ]
}

/// Which probe, with its options.
enum Spec {
    Logreg { c: f64, max_iter: usize },
    Ridge { alpha: f64 },
    Knn { k: usize },
}

/// What one run produced.
struct Outcome {
    description: String,
    metrics: Vec<(String, f64)>,
    fit_seconds: f64,
    n_iter: Option<usize>,
    termination: Option<Termination>,
}

/// Runs `nidl probe` with its options; `Err` is the one-line cause.
pub fn run(args: Args) -> Result<(), String> {
    let Args {
        train_x,
        train_y,
        test_x,
        test_y,
        probe,
        c,
        alpha,
        k,
        max_iter,
        json,
    } = args;
    let misplaced = |given: bool, option: &str, owner: &str| {
        if given {
            Err(format!("option --{option} applies to --probe {owner} only"))
        } else {
            Ok(())
        }
    };
    let spec = match probe {
        ProbeName::Logreg => {
            misplaced(alpha.is_some(), "alpha", "ridge")?;
            misplaced(k.is_some(), "k", "knn")?;
            Spec::Logreg {
                c: c.unwrap_or(C),
                max_iter: max_iter.unwrap_or(MAX_ITER),
            }
        }
        ProbeName::Ridge => {
            misplaced(c.is_some(), "c", "logreg")?;
            misplaced(max_iter.is_some(), "max-iter", "logreg")?;
            misplaced(k.is_some(), "k", "knn")?;
            Spec::Ridge {
                alpha: alpha.unwrap_or(ALPHA),
            }
        }
        ProbeName::Knn => {
            misplaced(c.is_some(), "c", "logreg")?;
            misplaced(max_iter.is_some(), "max-iter", "logreg")?;
            misplaced(alpha.is_some(), "alpha", "ridge")?;
            Spec::Knn { k: k.unwrap_or(K) }
        }
    };

    let xtr = Features::load("train-x", &train_x)?;
    let xte = Features::load("test-x", &test_x)?;
    if xte.cols() != xtr.cols() {
        return Err(format!(
            "--test-x {} has {} columns but --train-x {} has {}",
            test_x.display(),
            xte.cols(),
            train_x.display(),
            xtr.cols()
        ));
    }
    let ytr = Targets::load("train-y", &train_y, xtr.rows(), "train-x", &train_x)?;
    let yte = Targets::load("test-y", &test_y, xte.rows(), "test-x", &test_x)?;
    let files = Files {
        train_x: &train_x,
        train_y: &train_y,
        test_y: &test_y,
    };
    let outcome = match (xtr, xte) {
        (Features::F32(a), Features::F32(b)) => evaluate(&spec, &a, &ytr, &b, &yte, &files)?,
        (a, b) => {
            let (a, b) = (
                a.into_f64().map_err(|e| e.to_string())?,
                b.into_f64().map_err(|e| e.to_string())?,
            );
            evaluate(&spec, &a, &ytr, &b, &yte, &files)?
        }
    };
    if let Some(why) = outcome.termination.filter(|t| !t.converged()) {
        let advice = match why {
            Termination::MaxIterations | Termination::MaxEvaluations => "increase --max-iter",
            _ => "scale the features (e.g. standardise them)",
        };
        eprintln!(
            "warning: LogisticRegression did not converge after {} iterations: {why}; \
             scikit-learn warns the same (ConvergenceWarning); {advice}",
            outcome.n_iter.unwrap_or(0)
        );
    }
    if json {
        outln!("{}", to_json(&outcome));
    } else {
        print_table(&outcome);
    }
    Ok(())
}

/// The files named in error messages.
struct Files<'a> {
    train_x: &'a Path,
    train_y: &'a Path,
    test_y: &'a Path,
}

/// Features as read: float32 stays float32 (the probes convert where they need to).
enum Features {
    F32(Tensor<f32>),
    F64(Tensor<f64>),
}

impl Features {
    /// Reads a float `(n, d)` array with `n, d ≥ 1` and finite values.
    fn load(option: &str, path: &Path) -> Result<Features, String> {
        let at = |msg: String| format!("--{option} {}: {msg}", path.display());
        let a = read_npy(path).map_err(|e| format!("--{option}: {e}"))?;
        let (n, d) = match *a.shape.as_slice() {
            [n, d] => (n, d),
            _ => {
                return Err(at(format!(
                    "expected a 2-D array (samples, features), got shape {:?}",
                    a.shape
                )))
            }
        };
        if n == 0 || d == 0 {
            return Err(at(format!("the array is empty (shape ({n}, {d}))")));
        }
        let bad = |i: usize, v: f64| at(format!("element [{}, {}] is {v}", i / d, i % d));
        match a.data {
            NpyData::F32(v) => {
                if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                    return Err(bad(i, f64::from(v[i])));
                }
                Ok(Features::F32(
                    Tensor::from_vec(v, &[n, d]).map_err(|e| at(e.to_string()))?,
                ))
            }
            NpyData::F64(v) => {
                if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                    return Err(bad(i, v[i]));
                }
                Ok(Features::F64(
                    Tensor::from_vec(v, &[n, d]).map_err(|e| at(e.to_string()))?,
                ))
            }
            _ => Err(at(format!(
                "expected float32 or float64 features, got dtype {}",
                a.dtype()
            ))),
        }
    }

    fn rows(&self) -> usize {
        match self {
            Features::F32(t) => t.shape()[0],
            Features::F64(t) => t.shape()[0],
        }
    }

    fn cols(&self) -> usize {
        match self {
            Features::F32(t) => t.shape()[1],
            Features::F64(t) => t.shape()[1],
        }
    }

    fn into_f64(self) -> nidl::Result<Tensor<f64>> {
        match self {
            Features::F32(t) => t.cast(),
            Features::F64(t) => Ok(t),
        }
    }
}

/// Targets as read, with the file they came from.
struct Targets {
    option: &'static str,
    path: PathBuf,
    array: NpyArray,
    /// Columns: 1 for shape `(n,)` or `(n, 1)`.
    cols: usize,
}

impl Targets {
    /// Reads `y` with one row per row of the matching features file.
    fn load(
        option: &'static str,
        path: &Path,
        rows: usize,
        x_option: &str,
        x_path: &Path,
    ) -> Result<Targets, String> {
        let array = read_npy(path).map_err(|e| format!("--{option}: {e}"))?;
        let (n, cols) = match *array.shape.as_slice() {
            [n] => (n, 1),
            [n, t] if t > 0 => (n, t),
            _ => {
                return Err(format!(
                    "--{option} {}: expected shape (n,) or (n, t), got {:?}",
                    path.display(),
                    array.shape
                ))
            }
        };
        if n != rows {
            return Err(format!(
                "--{option} {} has {n} rows but --{x_option} {} has {rows}",
                path.display(),
                x_path.display()
            ));
        }
        Ok(Targets {
            option,
            path: path.to_path_buf(),
            array,
            cols,
        })
    }

    fn at(&self, msg: impl std::fmt::Display) -> String {
        format!("--{} {}: {msg}", self.option, self.path.display())
    }

    /// Whether the file holds integers (knn then classifies).
    fn is_integer(&self) -> bool {
        matches!(
            self.array.data,
            NpyData::I64(_) | NpyData::I32(_) | NpyData::U8(_)
        )
    }

    /// Class labels: integers, or floats that are all integral.
    fn labels(&self) -> Result<Vec<i64>, String> {
        if self.cols != 1 {
            return Err(self.at(format!(
                "a classifier needs one label column, got {} columns",
                self.cols
            )));
        }
        if self.is_integer() {
            return self.array.to_i64().map_err(|e| self.at(e));
        }
        let v = self.values()?;
        labels_from_f64("labels", v.data().map_err(|e| self.at(e))?).map_err(|e| self.at(e))
    }

    /// Regression targets as `f64`, shape `(n,)` or `(n, t)`, finite.
    fn values(&self) -> Result<Tensor<f64>, String> {
        let t: Tensor<f64> = self.array.to_tensor().map_err(|e| self.at(e))?;
        let data = t.data().map_err(|e| self.at(e))?;
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(self.at(format!("element {i} is {}", data[i])));
        }
        let t = if self.cols == 1 {
            t.reshape(&[t.len()])
        } else {
            Ok(t)
        };
        t.map_err(|e| self.at(e))
    }
}

/// Fits the probe, predicts the test set and computes the metrics.
fn evaluate<T: Element>(
    spec: &Spec,
    xtr: &Tensor<T>,
    ytr: &Targets,
    xte: &Tensor<T>,
    yte: &Targets,
    files: &Files,
) -> Result<Outcome, String> {
    let fit_err = |e: nidl::Error| {
        format!(
            "fitting on --train-x {} / --train-y {}: {e}",
            files.train_x.display(),
            files.train_y.display()
        )
    };
    let predict_err =
        |e: nidl::Error| format!("predicting --test-y {}: {e}", files.test_y.display());
    let classify = |truth: Vec<i64>, pred: Vec<i64>| -> Result<Vec<(String, f64)>, String> {
        let r = ClassificationReport::new(&truth, &pred).map_err(predict_err)?;
        Ok(r.metrics()
            .iter()
            .map(|&(k, v)| (k.to_string(), v))
            .collect())
    };
    let start = Instant::now();
    match *spec {
        Spec::Logreg { c, max_iter } => {
            let (labels, truth) = (ytr.labels()?, yte.labels()?);
            let mut p = LogisticRegression::new().c(c).max_iter(max_iter);
            p.fit(xtr, &labels).map_err(fit_err)?;
            let fit_seconds = start.elapsed().as_secs_f64();
            let pred = p.predict(xte).map_err(predict_err)?;
            Ok(Outcome {
                description: format!("LogisticRegression (C = {c}, max_iter = {max_iter})"),
                metrics: classify(truth, pred)?,
                fit_seconds,
                n_iter: p.n_iter(),
                termination: p.termination(),
            })
        }
        Spec::Ridge { alpha } => {
            let (targets, truth) = (ytr.values()?, yte.values()?);
            if truth.shape().get(1) != targets.shape().get(1) {
                return Err(yte.at(format!(
                    "{} target columns but --train-y has {}",
                    yte.cols, ytr.cols
                )));
            }
            let mut p = Ridge::new().alpha(alpha);
            p.fit(xtr, &targets).map_err(fit_err)?;
            let fit_seconds = start.elapsed().as_secs_f64();
            let pred = p.predict(xte).map_err(predict_err)?;
            Ok(Outcome {
                description: format!("Ridge (alpha = {alpha})"),
                metrics: regression_metrics(&truth, &pred, yte.cols).map_err(predict_err)?,
                fit_seconds,
                n_iter: None,
                termination: None,
            })
        }
        Spec::Knn { k } if ytr.is_integer() => {
            let (labels, truth) = (ytr.labels()?, yte.labels()?);
            let mut p = KNeighborsClassifier::new(k);
            p.fit(xtr, &labels).map_err(fit_err)?;
            let fit_seconds = start.elapsed().as_secs_f64();
            let pred = p.predict(xte).map_err(predict_err)?;
            Ok(Outcome {
                description: format!("KNeighborsClassifier (k = {k})"),
                metrics: classify(truth, pred)?,
                fit_seconds,
                n_iter: None,
                termination: None,
            })
        }
        Spec::Knn { k } => {
            let (targets, truth) = (ytr.values()?, yte.values()?);
            if truth.shape().get(1) != targets.shape().get(1) {
                return Err(yte.at(format!(
                    "{} target columns but --train-y has {}",
                    yte.cols, ytr.cols
                )));
            }
            let mut p = KNeighborsRegressor::new(k);
            p.fit(xtr, &targets).map_err(fit_err)?;
            let fit_seconds = start.elapsed().as_secs_f64();
            let pred = p.predict(xte).map_err(predict_err)?;
            Ok(Outcome {
                description: format!("KNeighborsRegressor (k = {k})"),
                metrics: regression_metrics(&truth, &pred, yte.cols).map_err(predict_err)?,
                fit_seconds,
                n_iter: None,
                termination: None,
            })
        }
    }
}

/// Regression metrics named as nidl 0.0.1's `regression_report` (and the regression probing
/// callback): `MAE` … for one target column; `regressor <j>/<metric>` for each of several, then
/// `average/<metric>` (the mean over the columns).
fn regression_metrics(
    truth: &Tensor<f64>,
    pred: &Tensor<f64>,
    cols: usize,
) -> nidl::Result<Vec<(String, f64)>> {
    Ok(MultiOutputReport::new(truth.data()?, pred.data()?, cols)?.metrics())
}

/// A JSON number, or `null` for NaN and infinities.
fn json_number(v: f64) -> String {
    if v.is_finite() {
        // Debug formatting round-trips and is valid JSON (`0.5`, `1.0`, `1e-300`).
        format!("{v:?}")
    } else {
        "null".into()
    }
}

/// One line: `{"metric": value, ..., "fit_seconds": s, "n_iter": n|null}`.
fn to_json(o: &Outcome) -> String {
    let mut fields: Vec<String> = o
        .metrics
        .iter()
        .map(|(k, v)| format!("\"{k}\": {}", json_number(*v)))
        .collect();
    fields.push(format!("\"fit_seconds\": {}", json_number(o.fit_seconds)));
    fields.push(format!(
        "\"n_iter\": {}",
        o.n_iter.map_or("null".to_string(), |n| n.to_string())
    ));
    format!("{{{}}}", fields.join(", "))
}

/// The readable report.
fn print_table(o: &Outcome) {
    outln!("probe     {}", o.description);
    let fit = match (o.n_iter, o.termination) {
        (Some(n), Some(t)) if t.converged() => {
            format!("{:.3} s, {n} iterations, converged", o.fit_seconds)
        }
        (Some(n), Some(t)) => format!("{:.3} s, {n} iterations, NOT converged: {t}", o.fit_seconds),
        _ => format!("{:.3} s", o.fit_seconds),
    };
    outln!("fit       {fit}");
    let width = o.metrics.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in &o.metrics {
        outln!("{k:<width$}  {v:.6}");
    }
}
