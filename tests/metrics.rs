//! Classification and regression metrics against scikit-learn / NumPy golden values.

mod common;

use common::{golden, golden_path};
use nidl::datasets::npy::read_npy;
use nidl::metrics::{ClassificationReport, MultiOutputReport, RegressionReport};
use nidl::Error;

fn worst_rel(ours: &[f64], want: &[f64]) -> f64 {
    ours.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs() / b.abs().max(1e-300))
        .fold(0.0, f64::max)
}

#[test]
fn classification_metrics_match_sklearn() {
    let y_true = read_npy(golden_path("classification_metrics", "y_true"))
        .unwrap()
        .to_i64()
        .unwrap();
    let y_pred = read_npy(golden_path("classification_metrics", "y_pred"))
        .unwrap()
        .to_i64()
        .unwrap();
    // The golden case never predicts class 3: precision 0 there (zero_division = 0).
    assert!(y_true.contains(&3) && !y_pred.contains(&3));
    let r = ClassificationReport::new(&y_true, &y_pred).unwrap();
    // nidl's logging order, compared by name with the golden values (scikit-learn's order).
    let names: Vec<&str> = r.metrics().iter().map(|m| m.0).collect();
    assert_eq!(
        names,
        [
            "accuracy",
            "balanced_accuracy",
            "f1_macro",
            "precision_macro",
            "recall_macro",
            "f1_weighted"
        ]
    );
    let golden_order = [
        "accuracy",
        "balanced_accuracy",
        "precision_macro",
        "recall_macro",
        "f1_macro",
        "f1_weighted",
    ];
    let by_name = |name: &str| r.metrics().iter().find(|m| m.0 == name).unwrap().1;
    let ours: Vec<f64> = golden_order.iter().map(|n| by_name(n)).collect();
    let want = golden("classification_metrics", "values");
    let err = worst_rel(&ours, want.data().unwrap());
    println!("classification metrics: worst relative error {err:e}");
    assert!(err <= 1e-12, "{ours:?} vs {:?}", want.data().unwrap());
}

#[test]
fn regression_metrics_match_sklearn() {
    let y_true = golden("regression_metrics", "y_true");
    let y_pred = golden("regression_metrics", "y_pred");
    let r = RegressionReport::new(y_true.data().unwrap(), y_pred.data().unwrap()).unwrap();
    let ours: Vec<f64> = r.metrics().iter().map(|m| m.1).collect();
    // Golden order: MAE, MedAE, RMSE, MSE, R2, Pearson r, explained variance — ours too.
    let names: Vec<&str> = r.metrics().iter().map(|m| m.0).collect();
    assert_eq!(names, ["MAE", "MedAE", "RMSE", "MSE", "R2", "PCC", "EVar"]);
    let want = golden("regression_metrics", "values");
    let err = worst_rel(&ours, want.data().unwrap());
    println!("regression metrics: worst relative error {err:e}");
    assert!(err <= 1e-12, "{ours:?} vs {:?}", want.data().unwrap());
}

/// nidl 0.0.1's `regression_report(..., output_dict=True)` flattened as its probing callback
/// tags it (`tests/data/regression_report_multi/tags<k>.txt`, one per line).
fn nidl_tags(k: usize) -> Vec<String> {
    let path = golden_path("regression_report_multi", &format!("tags{k}")).with_extension("txt");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn multi_output_report_matches_nidl_regression_report() {
    for k in [2, 3] {
        let y_true = golden("regression_report_multi", &format!("y_true{k}"));
        let y_pred = golden("regression_report_multi", &format!("y_pred{k}"));
        assert_eq!(y_true.shape()[1], k);
        let r = MultiOutputReport::new(y_true.data().unwrap(), y_pred.data().unwrap(), k).unwrap();
        let (names, ours): (Vec<String>, Vec<f64>) = r.metrics().into_iter().unzip();
        assert_eq!(names, nidl_tags(k), "{k} columns: names and order");
        // report<k>: rows regressor 0..k-1 then average, the metrics in the same order.
        let want = golden("regression_report_multi", &format!("report{k}"));
        assert_eq!(want.shape(), [k + 1, 7]);
        let err = worst_rel(&ours, want.data().unwrap());
        println!("{k}-column regression report: worst relative error {err:e}");
        assert!(err <= 1e-12, "{ours:?} vs {:?}", want.data().unwrap());
    }
}

#[test]
fn multi_output_report_of_one_column_is_the_plain_report() {
    let y_true = golden("regression_metrics", "y_true");
    let y_pred = golden("regression_metrics", "y_pred");
    let (t, p) = (y_true.data().unwrap(), y_pred.data().unwrap());
    let one = MultiOutputReport::new(t, p, 1).unwrap().metrics();
    let plain = RegressionReport::new(t, p).unwrap().metrics();
    let plain: Vec<(String, f64)> = plain.iter().map(|(m, v)| (m.to_string(), *v)).collect();
    assert_eq!(one, plain);
}

#[test]
fn multi_output_report_refuses_bad_shapes_and_values() {
    let e = MultiOutputReport::new(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0], 2).unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "{e}");
    let e = MultiOutputReport::new(&[1.0, 2.0], &[1.0, 2.0, 3.0, 4.0], 2).unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "{e}");
    assert!(MultiOutputReport::new(&[], &[], 2).is_err());
    assert!(MultiOutputReport::new(&[1.0], &[1.0], 0).is_err());
    let e =
        MultiOutputReport::new(&[1.0, 2.0, 3.0, 4.0], &[1.0, 2.0, 3.0, f64::NAN], 2).unwrap_err();
    assert!(matches!(e, Error::NonFinite { .. }), "{e}");
    assert!(e.to_string().contains("y_pred[1, 1]"), "{e}");
}

#[test]
fn bad_input_is_a_typed_error() {
    assert!(matches!(
        ClassificationReport::new(&[], &[]),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        ClassificationReport::new(&[1, 2], &[1]),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        RegressionReport::new(&[1.0, f64::INFINITY], &[1.0, 2.0]),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        RegressionReport::new(&[1.0], &[1.0, 2.0]),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        RegressionReport::new(&[], &[]),
        Err(Error::InvalidArgument { .. })
    ));
}
