//! Classification and regression metrics against scikit-learn / NumPy golden values.

mod common;

use common::{golden, golden_path};
use nidl::datasets::npy::read_npy;
use nidl::metrics::{ClassificationReport, RegressionReport};
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
