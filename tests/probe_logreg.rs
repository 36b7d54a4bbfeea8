//! LogisticRegression against scikit-learn 1.7 (golden files), a hand-worked case, the
//! objective's gradient, determinism across thread counts, and bad input.

mod common;

use common::{assert_close, golden, golden_path, with_threads};
use nidl::datasets::npy::read_npy;
use nidl::linalg::Termination;
use nidl::probe::{Classifier, LogisticObjective, LogisticRegression, Probe};
use nidl::{Error, Tensor};

fn labels(case: &str, name: &str) -> Vec<i64> {
    read_npy(golden_path(case, name)).unwrap().to_i64().unwrap()
}

/// Max relative error `|a − b| / max|b|` over the array (coefficients compared to their scale).
fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / scale)
        .fold(0.0, f64::max)
}

fn fit_tight(case: &str) -> LogisticRegression {
    let x = golden(case, "X");
    let y = labels(case, "y");
    let mut p = LogisticRegression::new().max_iter(10_000).tol(1e-10);
    p.fit(&x, &y).unwrap();
    p
}

#[test]
fn multinomial_matches_sklearn_converged_coefficients() {
    let p = fit_tight("logreg_tight");
    let coef = golden("logreg_tight", "coef");
    let intercept = golden("logreg_tight", "intercept");
    let ours = p.coef().unwrap();
    assert_eq!(ours.shape(), coef.shape());
    let (ec, ei) = (
        rel_err(ours.data().unwrap(), coef.data().unwrap()),
        rel_err(p.intercept().unwrap(), intercept.data().unwrap()),
    );
    println!(
        "logreg_tight: coef rel err {ec:e}, intercept rel err {ei:e}, n_iter {}",
        p.n_iter().unwrap()
    );
    assert_close(
        "coef",
        ours.data().unwrap(),
        coef.data().unwrap(),
        1e-4,
        1e-2,
    );
    assert_close(
        "intercept",
        p.intercept().unwrap(),
        intercept.data().unwrap(),
        1e-4,
        1e-2,
    );
    assert!(ec < 1e-4 && ei < 1e-4);
    let proba = p.predict_proba(&golden("logreg_tight", "X_test")).unwrap();
    assert_close(
        "proba",
        proba.data().unwrap(),
        golden("logreg_tight", "proba").data().unwrap(),
        1e-4,
        1e-3,
    );
}

#[test]
fn binary_matches_sklearn_binary_model() {
    let p = fit_tight("logreg_binary");
    let coef = golden("logreg_binary", "coef");
    let ours = p.coef().unwrap();
    // One weight vector (sklearn's binary model), not a 2-row multinomial.
    assert_eq!(ours.shape(), &[1, 32]);
    let ec = rel_err(ours.data().unwrap(), coef.data().unwrap());
    let ei = rel_err(
        p.intercept().unwrap(),
        golden("logreg_binary", "intercept").data().unwrap(),
    );
    println!(
        "logreg_binary: coef rel err {ec:e}, intercept rel err {ei:e}, n_iter {}",
        p.n_iter().unwrap()
    );
    assert!(ec < 1e-4 && ei < 1e-4, "{ec:e} {ei:e}");
    let proba = p.predict_proba(&golden("logreg_binary", "X_test")).unwrap();
    assert_eq!(proba.shape(), &[500, 2]);
    assert_close(
        "proba",
        proba.data().unwrap(),
        golden("logreg_binary", "proba").data().unwrap(),
        1e-4,
        1e-3,
    );
}

#[test]
fn max_iter_200_matches_sklearn_predictions_and_probabilities() {
    let x = golden("logreg", "X");
    let y = labels("logreg", "y");
    let mut p = LogisticRegression::new().max_iter(200);
    p.fit(&x, &y).unwrap();
    let x_test = golden("logreg", "X_test");
    let pred = p.predict(&x_test).unwrap();
    let want = labels("logreg", "pred");
    let same = pred.iter().zip(&want).filter(|(a, b)| a == b).count();
    let proba = p.predict_proba(&x_test).unwrap();
    let want_p = golden("logreg", "proba");
    let max_dp = proba
        .data()
        .unwrap()
        .iter()
        .zip(want_p.data().unwrap())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let sk_iter = golden("logreg", "n_iter").data().unwrap()[0];
    println!(
        "logreg (max_iter 200): {same}/500 predictions equal, max |Δp| {max_dp:e}, n_iter {} \
         (sklearn {sk_iter}), converged {:?}",
        p.n_iter().unwrap(),
        p.converged()
    );
    assert!(same as f64 >= 0.995 * 500.0, "{same}/500");
    assert!(max_dp <= 1e-3, "{max_dp:e}");
    assert_eq!(p.converged(), Some(true));
    // Same algorithm, same stopping rules: the iteration count agrees closely.
    assert!((p.n_iter().unwrap() as f64 - sk_iter).abs() <= 3.0);
}

#[test]
fn hand_worked_separable_pair_with_penalty() {
    // x = [−1, 1] (one feature), y = [0, 1], C = 1, n = 2 → λ = 1/(C·n) = 1/2.
    // Binary model f(w, b) = ½ Σ log(1 + e^{−s_i(w x_i + b)}) + ¼ w² with s = ∓1 for y = 0/1.
    // By symmetry b = 0; then f(w) = log(1 + e^{−w}) + ¼ w², f'(w) = −σ(−w) + w/2 = 0,
    // i.e. w = 2σ(−w) = 2/(1 + e^w), whose root w* ≈ 0.675 (2/(1 + e^0.675) = 0.6749…) is
    // found to machine precision by Newton's method below.
    let x = Tensor::from_vec(vec![-1.0f64, 1.0], &[2, 1]).unwrap();
    let mut p = LogisticRegression::new().tol(1e-12).max_iter(1000);
    p.fit(&x, &[0, 1]).unwrap();
    // Newton on g(w) = w − 2/(1 + e^w).
    let mut w = 0.5f64;
    for _ in 0..50 {
        let s = 1.0 / (1.0 + w.exp());
        let g = w - 2.0 * s;
        let dg = 1.0 + 2.0 * s * (1.0 - s);
        w -= g / dg;
    }
    let coef = p.coef().unwrap().data().unwrap()[0];
    assert!((coef - w).abs() < 1e-9, "{coef} vs {w}");
    assert!(p.intercept().unwrap()[0].abs() < 1e-9);
    assert_eq!(p.classes(), &[0, 1]);
}

#[test]
fn objective_gradient_matches_finite_differences() {
    // 7 samples, 3 features, 4 classes (multinomial) and 2 classes (binary), C = 0.7.
    let x: Vec<f64> = (0..21)
        .map(|i| ((i * 13 % 17) as f64 - 8.0) / 5.0)
        .collect();
    for (codes, k) in [
        (vec![0usize, 1, 2, 3, 1, 2, 0], 4),
        (vec![0, 1, 1, 0, 1, 0, 0], 2),
    ] {
        let mut obj = LogisticObjective::new(&x, 7, 3, &codes, k, 0.7, true).unwrap();
        let np = obj.n_params();
        let w: Vec<f64> = (0..np).map(|i| ((i * 7 % 5) as f64 - 2.0) / 3.0).collect();
        let mut g = vec![0.0; np];
        obj.value_grad(&w, &mut g);
        let mut scratch = vec![0.0; np];
        for i in 0..np {
            let h = 1e-6;
            let (mut wp, mut wm) = (w.clone(), w.clone());
            wp[i] += h;
            wm[i] -= h;
            let fd =
                (obj.value_grad(&wp, &mut scratch) - obj.value_grad(&wm, &mut scratch)) / (2.0 * h);
            assert!(
                (fd - g[i]).abs() < 1e-8,
                "k={k} param {i}: fd {fd} vs {}",
                g[i]
            );
        }
    }
}

#[test]
fn coefficients_are_bit_identical_for_1_and_2_threads() {
    // 12 000 rows × 8 features, 3 classes: 4 parallel row blocks of the loss.
    let n = 12_000;
    let d = 8;
    let x: Vec<f32> = (0..n * d)
        .map(|i| (((i * 2654435761usize) % 1000) as f32 / 500.0 - 1.0) + (i % d) as f32 * 0.1)
        .collect();
    let y: Vec<i64> = (0..n)
        .map(|i| ((x[i * d] + x[i * d + 1] * 2.0 > 0.3) as i64) + (x[i * d + 2] > 0.0) as i64)
        .collect();
    let x = Tensor::from_vec(x, &[n, d]).unwrap();
    let run = |threads: usize| {
        with_threads(threads, || {
            let mut p = LogisticRegression::new().max_iter(50);
            p.fit(&x, &y).unwrap();
            (p.coef().unwrap().clone(), p.intercept().unwrap().to_vec())
        })
    };
    let (c1, b1) = run(1);
    let (c2, b2) = run(2);
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(c1.data().unwrap()), bits(c2.data().unwrap()));
    assert_eq!(bits(&b1), bits(&b2));
}

#[test]
fn an_observer_sees_every_iteration_and_the_fit_stays_bit_identical() {
    let x = golden("logreg", "X");
    let y = labels("logreg", "y");
    let mut plain = LogisticRegression::new().max_iter(200);
    plain.fit(&x, &y).unwrap();
    let seen = std::sync::Mutex::new(Vec::new());
    let mut watched = LogisticRegression::new().max_iter(200);
    watched
        .fit_observed(&x, &y, &|k, total| seen.lock().unwrap().push((k, total)))
        .unwrap();
    let n_iter = plain.n_iter().unwrap();
    assert!(n_iter > 1);
    let expected: Vec<(usize, usize)> = (1..=n_iter).map(|k| (k, 200)).collect();
    assert_eq!(seen.into_inner().unwrap(), expected);
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(watched.coef().unwrap().data().unwrap()),
        bits(plain.coef().unwrap().data().unwrap())
    );
    assert_eq!(
        bits(watched.intercept().unwrap()),
        bits(plain.intercept().unwrap())
    );
    assert_eq!(watched.n_iter(), plain.n_iter());
    assert_eq!(watched.predict(&x).unwrap(), plain.predict(&x).unwrap());
}

#[test]
fn labels_are_any_integers_and_predict_maps_back() {
    let x = Tensor::from_vec(vec![-3.0f32, -2.5, 0.0, 0.2, 3.0, 2.7], &[6, 1]).unwrap();
    let y = [-7, -7, 40, 40, 1000, 1000];
    let mut p = LogisticRegression::new().c(100.0);
    p.fit(&x, &y).unwrap();
    assert_eq!(p.classes(), &[-7, 40, 1000]);
    assert_eq!(p.predict(&x).unwrap(), y.to_vec());
    let proba = p.predict_proba(&x).unwrap();
    for r in proba.data().unwrap().chunks(3) {
        assert!((r.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}

#[test]
fn hitting_max_iter_is_reported_not_an_error() {
    let x = golden("logreg", "X");
    let y = labels("logreg", "y");
    let mut p = LogisticRegression::new().max_iter(3);
    p.fit(&x, &y).unwrap();
    assert_eq!(p.n_iter(), Some(3));
    assert_eq!(p.converged(), Some(false));
    assert_eq!(p.termination(), Some(Termination::MaxIterations));
}

#[test]
fn bad_input_is_a_typed_error() {
    let x = Tensor::from_vec(vec![0.0f64, 1.0, 2.0, 3.0], &[4, 1]).unwrap();
    let mut p = LogisticRegression::new();
    // NaN / infinity in X.
    let bad = Tensor::from_vec(vec![0.0f64, f64::NAN, 2.0, 3.0], &[4, 1]).unwrap();
    assert!(matches!(
        p.fit(&bad, &[0, 1, 0, 1]),
        Err(Error::NonFinite { .. })
    ));
    let bad = Tensor::from_vec(vec![0.0f32, 1.0, f32::INFINITY, 3.0], &[4, 1]).unwrap();
    assert!(matches!(
        p.fit(&bad, &[0, 1, 0, 1]),
        Err(Error::NonFinite { .. })
    ));
    // Length mismatch.
    assert!(matches!(p.fit(&x, &[0, 1, 0]), Err(Error::Shape { .. })));
    // A single class.
    let e = p.fit(&x, &[2, 2, 2, 2]).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { .. }) && e.to_string().contains("2 classes"));
    // Empty set.
    let empty = Tensor::<f64>::zeros(&[0, 3]);
    assert!(matches!(
        p.fit(&empty, &[]),
        Err(Error::InvalidArgument { .. })
    ));
    // Not 2-D.
    let flat = Tensor::from_vec(vec![0.0f64, 1.0], &[2]).unwrap();
    assert!(matches!(p.fit(&flat, &[0, 1]), Err(Error::Shape { .. })));
    // Bad hyper-parameters.
    assert!(LogisticRegression::new()
        .c(0.0)
        .fit(&x, &[0, 1, 0, 1])
        .is_err());
    assert!(LogisticRegression::new()
        .max_iter(0)
        .fit(&x, &[0, 1, 0, 1])
        .is_err());
    // Predict before fit, and with the wrong width.
    assert!(matches!(
        LogisticRegression::new().predict(&x),
        Err(Error::InvalidArgument { .. })
    ));
    p.fit(&x, &[0, 1, 0, 1]).unwrap();
    let wide = Tensor::<f64>::zeros(&[2, 2]);
    assert!(matches!(p.predict(&wide), Err(Error::Shape { .. })));
    // A non-integer label column is refused before it reaches a classifier.
    assert!(nidl::probe::labels_from_f64("test", &[0.0, 1.5]).is_err());
}

#[test]
fn features_of_1e300_fail_the_line_search_as_in_scikit_learn() {
    // scikit-learn 1.9.1 (scipy 1.17.1) on these 40 rows: ConvergenceWarning "lbfgs failed to
    // converge after 0 iteration(s) (status=2): ABNORMAL", n_iter_ [0], coef_ and intercept_ 0.
    // The gradient at 0 is ~1e299, whose squared norm overflows: no step can be taken.
    let n = 40;
    let x: Vec<f64> = (0..n)
        .flat_map(|i| [1e300, (((i * 7) % 11) as f64 - 5.0) * 1e299, 1e300])
        .collect();
    let x = Tensor::from_vec(x, &[n, 3]).unwrap();
    let y: Vec<i64> = (0..n as i64).map(|i| i % 2).collect();
    let mut p = LogisticRegression::new().max_iter(200);
    p.fit(&x, &y).unwrap();
    assert_eq!(p.converged(), Some(false));
    assert_eq!(p.termination(), Some(Termination::LineSearchFailure));
    assert_eq!(p.n_iter(), Some(0));
    assert_eq!(p.coef().unwrap().data().unwrap(), &[0.0; 3]);
    assert_eq!(p.intercept(), Some(&[0.0][..]));
    assert!(Termination::LineSearchFailure
        .to_string()
        .contains("line search failed"));
}
