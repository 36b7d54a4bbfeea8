//! Ridge against scikit-learn 1.7 (golden files), hand-worked cases, the dual path, and bad
//! input.

mod common;

use common::{assert_close, golden};
use nidl::probe::{Probe, Ridge};
use nidl::{Error, Tensor};

#[test]
fn single_target_matches_sklearn() {
    let mut r = Ridge::new();
    r.fit(&golden("ridge", "X"), &golden("ridge", "y")).unwrap();
    let coef = r.coef().unwrap();
    assert_eq!(coef.shape(), &[1, 32]);
    let want = golden("ridge", "coef");
    let want_b = golden("ridge", "intercept"); // stored as shape (1,)
    assert_close(
        "coef",
        coef.data().unwrap(),
        want.data().unwrap(),
        1e-8,
        1e-12,
    );
    assert_close(
        "intercept",
        r.intercept().unwrap(),
        want_b.data().unwrap(),
        1e-8,
        1e-12,
    );
    let pred = r.predict(&golden("ridge", "X_test")).unwrap();
    assert_eq!(pred.shape(), &[500]);
    assert_close(
        "pred",
        pred.data().unwrap(),
        golden("ridge", "pred").data().unwrap(),
        1e-8,
        1e-12,
    );
    let worst = coef
        .data()
        .unwrap()
        .iter()
        .zip(want.data().unwrap())
        .map(|(a, b)| ((a - b) / b).abs())
        .fold(0.0, f64::max);
    println!(
        "ridge: max coef rel err {worst:e}, intercept {:e}",
        ((r.intercept().unwrap()[0] - want_b.data().unwrap()[0]) / want_b.data().unwrap()[0]).abs()
    );
}

#[test]
fn several_targets_in_one_solve_match_sklearn() {
    let mut r = Ridge::new();
    r.fit(&golden("ridge_multi", "X"), &golden("ridge_multi", "y"))
        .unwrap();
    let want = golden("ridge_multi", "coef");
    assert_eq!(r.coef().unwrap().shape(), want.shape());
    assert_close(
        "coef",
        r.coef().unwrap().data().unwrap(),
        want.data().unwrap(),
        1e-8,
        1e-12,
    );
    assert_close(
        "intercept",
        r.intercept().unwrap(),
        golden("ridge_multi", "intercept").data().unwrap(),
        1e-8,
        1e-12,
    );
    let pred = r.predict(&golden("ridge_multi", "X_test")).unwrap();
    assert_eq!(pred.shape(), &[500, 2]);
    assert_close(
        "pred",
        pred.data().unwrap(),
        golden("ridge_multi", "pred").data().unwrap(),
        1e-8,
        1e-12,
    );
}

#[test]
fn hand_worked_one_feature() {
    // x = [0, 1, 2], y = [1, 3, 5] (y = 2x + 1), α = 1.
    // x̄ = 1, ȳ = 3; x_c = [−1, 0, 1], y_c = [−2, 0, 2]; x_cᵀx_c = 2, x_cᵀy_c = 4.
    // w = 4 / (2 + 1) = 4/3; b = ȳ − w·x̄ = 3 − 4/3 = 5/3.
    let x = Tensor::from_vec(vec![0.0f32, 1.0, 2.0], &[3, 1]).unwrap();
    let y = Tensor::from_vec(vec![1.0, 3.0, 5.0], &[3]).unwrap();
    let mut r = Ridge::new();
    r.fit(&x, &y).unwrap();
    assert!((r.coef().unwrap().data().unwrap()[0] - 4.0 / 3.0).abs() < 1e-15);
    assert!((r.intercept().unwrap()[0] - 5.0 / 3.0).abs() < 1e-15);
    // Without intercept: w = xᵀy / (xᵀx + α) = (0 + 3 + 10) / (5 + 1) = 13/6.
    let mut r = Ridge::new().fit_intercept(false);
    r.fit(&x, &y).unwrap();
    assert!((r.coef().unwrap().data().unwrap()[0] - 13.0 / 6.0).abs() < 1e-15);
    assert_eq!(r.intercept().unwrap(), &[0.0]);
}

#[test]
fn dual_path_for_wide_data_matches_the_primal_solution() {
    // d = 12 > n = 5 takes the dual (n × n) system; its answer must satisfy the primal
    // optimality conditions, checked here directly.
    let (n, d) = (5usize, 12usize);
    let x: Vec<f64> = (0..n * d)
        .map(|i| ((i * 37 % 23) as f64 - 11.0) / 7.0)
        .collect();
    let y: Vec<f64> = (0..n).map(|i| (i as f64 * 1.3).sin()).collect();
    let mut r = Ridge::new().alpha(0.5);
    r.fit(
        &Tensor::from_vec(x.clone(), &[n, d]).unwrap(),
        &Tensor::from_vec(y.clone(), &[n]).unwrap(),
    )
    .unwrap();
    let w = r.coef().unwrap().data().unwrap().to_vec();
    let b = r.intercept().unwrap()[0];
    // Optimality of the primal objective: X_cᵀ(X_c w − y_c) + α w = 0 and b = ȳ − x̄·w.
    let xm: Vec<f64> = (0..d)
        .map(|j| (0..n).map(|i| x[i * d + j]).sum::<f64>() / n as f64)
        .collect();
    let ym = y.iter().sum::<f64>() / n as f64;
    let resid: Vec<f64> = (0..n)
        .map(|i| (0..d).map(|j| (x[i * d + j] - xm[j]) * w[j]).sum::<f64>() - (y[i] - ym))
        .collect();
    for j in 0..d {
        let g: f64 = (0..n)
            .map(|i| (x[i * d + j] - xm[j]) * resid[i])
            .sum::<f64>()
            + 0.5 * w[j];
        assert!(g.abs() < 1e-12, "gradient {j}: {g}");
    }
    let bx: f64 = xm.iter().zip(&w).map(|(a, c)| a * c).sum();
    assert!((b - (ym - bx)).abs() < 1e-12);
}

#[test]
fn bad_input_is_a_typed_error() {
    let x = Tensor::from_vec(vec![0.0f64, 1.0, 2.0, 3.0], &[4, 1]).unwrap();
    let y = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[4]).unwrap();
    let mut r = Ridge::new();
    let nan_x = Tensor::from_vec(vec![0.0f64, 1.0, f64::NAN, 3.0], &[4, 1]).unwrap();
    assert!(matches!(r.fit(&nan_x, &y), Err(Error::NonFinite { .. })));
    let inf_y = Tensor::from_vec(vec![1.0, f64::INFINITY, 3.0, 4.0], &[4]).unwrap();
    assert!(matches!(r.fit(&x, &inf_y), Err(Error::NonFinite { .. })));
    let short = Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]).unwrap();
    assert!(matches!(r.fit(&x, &short), Err(Error::Shape { .. })));
    assert!(matches!(
        r.fit(&Tensor::<f64>::zeros(&[0, 2]), &Tensor::<f64>::zeros(&[0])),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(Ridge::new().alpha(-1.0).fit(&x, &y).is_err());
    // Non-positive-definite: α = 0 with two identical (collinear) columns → XᵀX singular.
    let col = Tensor::from_vec(vec![0.0f64, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0], &[4, 2]).unwrap();
    let e = Ridge::new().alpha(0.0).fit(&col, &y).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { .. }), "{e}");
    assert!(e.to_string().contains("not positive definite"), "{e}");
    // Through the dual (d = 3 > n = 2) with α = 0: two identical rows centre to zero, so
    // X_cX_cᵀ = 0 is singular.
    let rows = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 1.0, 2.0, 3.0], &[2, 3]).unwrap();
    let y2 = Tensor::from_vec(vec![1.0, 2.0], &[2]).unwrap();
    assert!(Ridge::new().alpha(0.0).fit(&rows, &y2).is_err());
    // Predict before fit / wrong width.
    assert!(Ridge::new().predict(&x).is_err());
    r.fit(&x, &y).unwrap();
    assert!(matches!(
        r.predict(&Tensor::<f64>::zeros(&[1, 3])),
        Err(Error::Shape { .. })
    ));
}
