//! MultiTask: one probe per target column, per-task reports and errors.

use nidl::probe::{
    KNeighborsClassifier, LogisticRegression, MultiTask, Probe, Ridge, TaskProbe, TaskReport,
};
use nidl::{Error, Tensor};

/// 40 rows, 2 features; column 0 of y is a regression target (age-like), column 1 a binary
/// label (sex-like), column 2 a 3-class label.
fn data() -> (Tensor<f32>, Tensor<f64>) {
    let n = 40;
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 0..n {
        let a = (i as f32 * 0.37).sin();
        let b = (i as f32 * 0.91).cos();
        x.extend([a, b]);
        y.extend([
            20.0 + 10.0 * f64::from(a) - 3.0 * f64::from(b),
            f64::from(u8::from(a > 0.0)),
            if b < -0.3 {
                0.0
            } else if b < 0.4 {
                1.0
            } else {
                2.0
            },
        ]);
    }
    (
        Tensor::from_vec(x, &[n, 2]).unwrap(),
        Tensor::from_vec(y, &[n, 3]).unwrap(),
    )
}

#[test]
fn one_probe_per_column_reported_per_task() {
    let (x, y) = data();
    let mut mt = MultiTask::new(vec![
        TaskProbe::Ridge(Ridge::new().alpha(1e-6)),
        TaskProbe::LogisticRegression(LogisticRegression::new().c(100.0)),
        TaskProbe::KNeighborsClassifier(KNeighborsClassifier::new(1)),
    ])
    .unwrap();
    mt.fit(&x, &y).unwrap();
    let pred = mt.predict(&x).unwrap();
    assert_eq!(pred.shape(), &[40, 3]);
    let reports = mt.score(&x, &y).unwrap();
    // Task 0 is exactly linear: ridge with a tiny α recovers it (R2 ≈ 1).
    match &reports[0] {
        TaskReport::Regression(r) => assert!(r.r2 > 1.0 - 1e-9, "{}", r.r2),
        other => panic!("task 0: {other:?}"),
    }
    // Task 1 follows the sign of feature 0 (a penalised fit may miss the point at a = 0);
    // task 2 is 1-NN scored on its own training set, hence exact.
    match (&reports[1], &reports[2]) {
        (TaskReport::Classification(r1), TaskReport::Classification(r2)) => {
            assert!(r1.accuracy >= 0.95, "{}", r1.accuracy);
            assert_eq!(r2.accuracy, 1.0);
        }
        other => panic!("tasks 1, 2: {other:?}"),
    }
    let named = MultiTask::named_metrics(&reports);
    assert!(named.iter().any(|(k, _)| k == "task0/R2"));
    assert!(named.iter().any(|(k, _)| k == "task1/balanced_accuracy"));
    assert_eq!(named.len(), 7 + 6 + 6);
}

#[test]
fn matches_the_probes_fitted_alone() {
    let (x, y) = data();
    let mut mt = MultiTask::new(vec![
        TaskProbe::Ridge(Ridge::new()),
        TaskProbe::LogisticRegression(LogisticRegression::new()),
        TaskProbe::LogisticRegression(LogisticRegression::new()),
    ])
    .unwrap();
    mt.fit(&x, &y).unwrap();
    let pred = mt.predict(&x).unwrap();
    let col = |j: usize| -> Vec<f64> {
        y.data()
            .unwrap()
            .iter()
            .skip(j)
            .step_by(3)
            .copied()
            .collect()
    };
    let mut r = Ridge::new();
    r.fit(&x, &Tensor::from_vec(col(0), &[40]).unwrap())
        .unwrap();
    let alone = r.predict(&x).unwrap();
    for i in 0..40 {
        assert_eq!(pred.data().unwrap()[i * 3], alone.data().unwrap()[i]);
    }
    let mut l = LogisticRegression::new();
    let labels: Vec<i64> = col(2).iter().map(|&v| v as i64).collect();
    l.fit(&x, &labels).unwrap();
    let alone = l.predict(&x).unwrap();
    for (i, &c) in alone.iter().enumerate() {
        assert_eq!(pred.data().unwrap()[i * 3 + 2], c as f64);
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let (x, y) = data();
    assert!(MultiTask::new(vec![]).is_err());
    let mut mt = MultiTask::new(vec![
        TaskProbe::Ridge(Ridge::new()),
        TaskProbe::LogisticRegression(LogisticRegression::new()),
    ])
    .unwrap();
    // 3 target columns for 2 tasks.
    assert!(matches!(mt.fit(&x, &y), Err(Error::Shape { .. })));
    // A classifier on a non-integer column (column 0 holds ages): named by task.
    let mut wrong = MultiTask::new(vec![
        TaskProbe::LogisticRegression(LogisticRegression::new()),
        TaskProbe::Ridge(Ridge::new()),
        TaskProbe::Ridge(Ridge::new()),
    ])
    .unwrap();
    let e = wrong.fit(&x, &y).unwrap_err();
    assert!(e.to_string().contains("task 0"), "{e}");
    assert!(e.to_string().contains("integer"), "{e}");
    // Predicting before fit names the task.
    let e = mt.predict(&x).unwrap_err();
    assert!(e.to_string().contains("task 0"), "{e}");
}
