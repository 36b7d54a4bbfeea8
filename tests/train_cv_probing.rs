//! Cross-validated probing (nidl 0.0.2's `ModelProbingCVCallback`) and scoring selection on
//! hand-worked embeddings: fold tags, their order, the mean and population std, bad input.

use nidl::metrics::{ScoreSelection, Scoring};
use nidl::probe::{KNeighborsClassifier, KNeighborsRegressor, TaskProbe};
use nidl::train::callbacks::Embedded;
use nidl::train::{CrossValidatedScore, ProbeTask};

/// One-feature embeddings `x` with labels `y` (one column).
fn embedded(x: &[f32], y: &[f64]) -> Embedded {
    Embedded {
        x: x.to_vec(),
        y: y.to_vec(),
        n: x.len(),
        d: 1,
        k: 1,
    }
}

/// x = [0, 1, 10, 11.5, 9, 12], y = [0, 0, 1, 1, 0, 1], 3 stratified folds. Classes by first
/// appearance: 0 (samples 0, 1, 4), 1 (samples 2, 3, 5); y_order = [0,0,0,1,1,1], so every
/// fold takes one of each: class 0's samples go to folds 0, 1, 2 in order, class 1's too.
/// Test sets {0, 2}, {1, 3}, {4, 5}. With 1-NN:
/// - fold 0 (train x 1, 11.5, 9, 12): 0 → 1 (class 0) right; 10 → 9 (class 0) wrong: 1/2;
/// - fold 1 (train x 0, 10, 9, 12): 1 → 0 (0) right; 11.5 → 12 (1) right: 1;
/// - fold 2 (train x 0, 1, 10, 11.5): 9 → 10 (1) wrong; 12 → 11.5 (1) right: 1/2.
///
/// Mean 2/3; deviations −1/6, 1/3, −1/6 → variance (1 + 4 + 1)/36/3 = 1/18 (ddof = 0).
fn hand_worked() -> Embedded {
    embedded(
        &[0.0, 1.0, 10.0, 11.5, 9.0, 12.0],
        &[0., 0., 1., 1., 0., 1.],
    )
}

fn knn1() -> TaskProbe {
    TaskProbe::KNeighborsClassifier(KNeighborsClassifier::new(1))
}

fn value(tags: &[(String, f64)], tag: &str) -> f64 {
    tags.iter()
        .find(|(t, _)| t == tag)
        .unwrap_or_else(|| panic!("no tag {tag} in {tags:?}"))
        .1
}

#[test]
fn hand_worked_stratified_cv_with_the_default_score() {
    let mut cv = CrossValidatedScore::new(knn1(), 0, 3).unwrap();
    let e = hand_worked();
    let tags = cv.fit_score(&e, &e, &|_, _| {}).unwrap();
    let names: Vec<&str> = tags.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        names,
        [
            "fold0/fit_time",
            "fold1/fit_time",
            "fold2/fit_time",
            "fold0/score_time",
            "fold1/score_time",
            "fold2/score_time",
            "fold0/test_score",
            "fold1/test_score",
            "fold2/test_score",
            "cv/mean/fit_time",
            "cv/std/fit_time",
            "cv/mean/score_time",
            "cv/std/score_time",
            "cv/mean/test_score",
            "cv/std/test_score",
        ]
    );
    assert_eq!(value(&tags, "fold0/test_score"), 0.5);
    assert_eq!(value(&tags, "fold1/test_score"), 1.0);
    assert_eq!(value(&tags, "fold2/test_score"), 0.5);
    assert!((value(&tags, "cv/mean/test_score") - 2.0 / 3.0).abs() < 1e-15);
    assert!((value(&tags, "cv/std/test_score") - (1.0f64 / 18.0).sqrt()).abs() < 1e-15);
    assert!(value(&tags, "fold0/fit_time") >= 0.0);
}

#[test]
fn a_list_of_scores_is_keyed_by_name_and_prefixed() {
    let mut cv = CrossValidatedScore::new(knn1(), 0, 3).unwrap();
    let scoring = Scoring::parse(&["accuracy", "balanced_accuracy"], false).unwrap();
    cv.select_scores(&ScoreSelection::new(scoring, "knn_"))
        .unwrap();
    let e = hand_worked();
    let tags = cv.fit_score(&e, &e, &|_, _| {}).unwrap();
    // Fold 1 (y_true [0, 1], y_pred [0, 1]): accuracy 1, balanced accuracy 1; fold 0 (y_true
    // [0, 1], y_pred [0, 0]): recalls 1 and 0, balanced accuracy 1/2.
    assert_eq!(value(&tags, "fold1/knn_test_accuracy"), 1.0);
    assert_eq!(value(&tags, "fold0/knn_test_balanced_accuracy"), 0.5);
    assert!((value(&tags, "cv/mean/knn_test_accuracy") - 2.0 / 3.0).abs() < 1e-15);
    assert!(tags.iter().any(|(t, _)| t == "fold2/knn_fit_time"));
    assert!(!tags.iter().any(|(t, _)| t.ends_with("test_score")));
}

#[test]
fn a_regressor_is_cross_validated_on_consecutive_folds() {
    // y = 2x on x = 0..5, 2-NN regression, KFold(2): test sets {0, 1, 2} and {3, 4}.
    // Fold 1 (train x 0, 1, 2): x 3 → mean(y(2), y(1)) = 3, x 4 → 3; errors 3 and 5 → MAE 4.
    let x = [0.0f32, 1.0, 2.0, 3.0, 4.0];
    let y: Vec<f64> = x.iter().map(|&v| 2.0 * f64::from(v)).collect();
    let e = embedded(&x, &y);
    let knn = TaskProbe::KNeighborsRegressor(KNeighborsRegressor::new(2));
    let mut cv = CrossValidatedScore::new(knn, 0, 2).unwrap();
    let scoring = Scoring::parse(&["neg_mean_absolute_error"], true).unwrap();
    cv.select_scores(&ScoreSelection::new(scoring, "")).unwrap();
    let tags = cv.fit_score(&e, &e, &|_, _| {}).unwrap();
    assert_eq!(value(&tags, "fold1/test_score"), -4.0);
}

#[test]
fn bad_folds_and_scores_are_typed_errors() {
    assert!(CrossValidatedScore::new(knn1(), 0, 1).is_err());
    let e = hand_worked();
    // 4 folds but each class has 3 members (scikit-learn refuses it too).
    let mut cv = CrossValidatedScore::new(knn1(), 0, 4).unwrap();
    let err = cv.fit_score(&e, &e, &|_, _| {}).unwrap_err().to_string();
    assert!(
        err.contains("KNeighborsClassifier") && err.contains("only 3 members"),
        "{err}"
    );
    // More folds than samples.
    let ridge = TaskProbe::KNeighborsRegressor(KNeighborsRegressor::new(1));
    let mut cv = CrossValidatedScore::new(ridge, 0, 7).unwrap();
    let err = cv.fit_score(&e, &e, &|_, _| {}).unwrap_err().to_string();
    assert!(
        err.contains("7 folds") && err.contains("only 6 samples"),
        "{err}"
    );
    // A regression score on a classifier names both.
    let mut cv = CrossValidatedScore::new(knn1(), 0, 3).unwrap();
    let r2 = Scoring::parse(&["r2"], true).unwrap();
    let err = cv
        .select_scores(&ScoreSelection::new(r2, ""))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("'r2' scores a regressor, but KNeighborsClassifier is a classifier"),
        "{err}"
    );
}
