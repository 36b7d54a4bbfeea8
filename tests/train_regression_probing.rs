//! Regression probing on several label columns, as nidl 0.0.1's `RegressionProbingCallback`: the
//! regressor is fitted on every column at once and each column is scored, tagged
//! `<Probe>/regressor <i>/<metric>` then `<Probe>/average/<metric>` (names and order from nidl's
//! own `regression_report`, tests/data/regression_report_multi/tags<k>.txt); one column stays
//! `<Probe>/<metric>`.

use nidl::datasets::loader::{Dataset, Loader};
use nidl::datasets::transforms::Identity;
use nidl::nn::Mlp;
use nidl::probe::{KNeighborsRegressor, Probe, Ridge};
use nidl::train::callbacks::NoProgress;
use nidl::train::{Callback, CallbackContext, RegressionProbing, SimClr, SimClrConfig};
use nidl::{Result, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;

/// `n` samples of 6 features and three targets, each a different function of the features plus
/// noise; the label is the chosen columns of the targets.
struct Targets {
    x: Vec<Vec<f32>>,
    y: Vec<[f64; 3]>,
    columns: Vec<usize>,
}

impl Targets {
    fn new(n: usize, seed: u64, columns: &[usize]) -> Arc<Self> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for _ in 0..n {
            let f: Vec<f32> = (0..6).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let mut noise = || rng.gen_range(-0.1..0.1);
            let t = [
                f64::from(f[0] + f[1]) + noise(),
                f64::from(2.0 * f[2] - f[3]) + 5.0 + noise(),
                f64::from(f[4] * f[5]) + noise(),
            ];
            x.push(f);
            y.push(t);
        }
        Arc::new(Targets {
            x,
            y,
            columns: columns.to_vec(),
        })
    }
}

impl Dataset for Targets {
    type Sample = Vec<f32>;
    type Label = Vec<f64>;
    fn len(&self) -> usize {
        self.x.len()
    }
    fn get(&self, i: usize) -> Result<(Vec<f32>, Vec<f64>)> {
        let label = self.columns.iter().map(|&c| self.y[i][c]).collect();
        Ok((self.x[i].clone(), label))
    }
}

/// An (untrained) SimCLR whose encoder embeds the samples.
fn estimator() -> SimClr {
    let mut rng = StdRng::seed_from_u64(4);
    let enc = Mlp::<f32>::new(6, &[16, 8], &mut rng).unwrap();
    SimClr::new(Box::new(enc), 8, SimClrConfig::default(), &mut rng).unwrap()
}

/// The metrics a regression probe logs after one training epoch, fitted on 120 samples and
/// scored on 50, the label being `columns` of the targets.
fn probe_metrics<P>(probe: P, columns: &[usize]) -> Vec<(String, f64)>
where
    P: Probe<Targets = Tensor<f64>, Output = Tensor<f64>> + Send,
{
    let train = Loader::new(Targets::new(120, 1, columns), Identity, 32).unwrap();
    let test = Loader::new(Targets::new(50, 2, columns), Identity, 32).unwrap();
    let mut cb = RegressionProbing::new(Box::new(train), Box::new(test), probe);
    let ctx = CallbackContext {
        epoch: 0,
        global_step: 10,
        max_epochs: 1,
        fit_id: 0,
        progress: &NoProgress,
    };
    cb.on_train_epoch_end(&ctx, &estimator()).unwrap()
}

/// nidl's tag names for `k` columns, each prefixed with `probe/`.
fn nidl_tags(probe: &str, k: usize) -> Vec<String> {
    let path = format!(
        "{}/tests/data/regression_report_multi/tags{k}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|t| format!("{probe}/{t}"))
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1e-300)
}

/// Checks the metrics of a probe on `columns` against nidl's tags and, value by value, against
/// the same probe on each column alone (a ridge / k-NN fit of several targets is one fit per
/// target) and their mean.
fn check_against_single_columns<P>(make: impl Fn() -> P, name: &str, columns: &[usize])
where
    P: Probe<Targets = Tensor<f64>, Output = Tensor<f64>> + Send,
{
    let k = columns.len();
    let multi = probe_metrics(make(), columns);
    let names: Vec<&str> = multi.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(names, nidl_tags(name, k), "names and order");
    let singles: Vec<Vec<(String, f64)>> = columns
        .iter()
        .map(|&c| probe_metrics(make(), &[c]))
        .collect();
    for (i, single) in singles.iter().enumerate() {
        for (j, (tag, v)) in single.iter().enumerate() {
            let metric = tag.strip_prefix(&format!("{name}/")).unwrap();
            let (multi_tag, multi_v) = &multi[7 * i + j];
            assert_eq!(multi_tag, &format!("{name}/regressor {i}/{metric}"));
            assert!(close(*multi_v, *v), "{multi_tag}: {multi_v} vs alone {v}");
        }
    }
    for j in 0..7 {
        let mean = singles.iter().map(|s| s[j].1).sum::<f64>() / k as f64;
        let (tag, v) = &multi[7 * k + j];
        assert!(close(*v, mean), "{tag}: {v} vs mean of the columns {mean}");
    }
}

#[test]
fn ridge_on_two_columns_scores_each_and_their_average() {
    check_against_single_columns(Ridge::new, "Ridge", &[0, 1]);
}

#[test]
fn knn_regressor_on_three_columns_scores_each_and_their_average() {
    check_against_single_columns(
        || KNeighborsRegressor::new(5),
        "KNeighborsRegressor",
        &[0, 1, 2],
    );
}

#[test]
fn one_column_keeps_the_plain_tags() {
    let metrics = probe_metrics(Ridge::new(), &[1]);
    let names: Vec<&str> = metrics.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        names,
        ["MAE", "MedAE", "RMSE", "MSE", "R2", "PCC", "EVar"].map(|m| format!("Ridge/{m}"))
    );
    // Through an untrained ReLU encoder the ridge still explains a good part of the second
    // target (a linear function of the features): R2 0.31 here, 0 for a constant prediction.
    assert!(metrics[4].1 > 0.2, "R2 {}", metrics[4].1);
}

#[test]
fn train_and_test_sets_of_other_columns_are_an_error() {
    let train = Loader::new(Targets::new(120, 1, &[0, 1]), Identity, 32).unwrap();
    let test = Loader::new(Targets::new(50, 2, &[0]), Identity, 32).unwrap();
    let mut cb = RegressionProbing::new(Box::new(train), Box::new(test), Ridge::new());
    let ctx = CallbackContext {
        epoch: 0,
        global_step: 10,
        max_epochs: 1,
        fit_id: 0,
        progress: &NoProgress,
    };
    let e = cb.on_train_epoch_end(&ctx, &estimator()).unwrap_err();
    assert!(matches!(e, nidl::Error::Shape { .. }), "{e}");
    assert!(e.to_string().contains("[120, 2]"), "{e}");
}
