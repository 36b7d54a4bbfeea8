//! The MLP probes against scikit-learn 1.7 (golden files of `scripts/mlp_probe_golden.py`): the
//! objective and its gradient at scikit-learn's own initial and fitted weights, and fits
//! started from those initial weights; a finite-difference check of the gradient;
//! determinism across thread counts; the seeded initialisation; bad input.

mod common;

use common::{golden, with_threads};
use nidl::metrics::regression::r2_score;
use nidl::probe::mlp::{Targets, BLOCK_ROWS};
use nidl::probe::{Classifier, MlpClassifier, MlpObjective, MlpRegressor, Probe};
use nidl::{Error, Tensor};

const ROOT: &str = "mlp_probe";

fn case(name: &str, key: &str) -> Tensor<f64> {
    golden(&format!("{ROOT}/{name}"), key)
}

fn values(name: &str, key: &str) -> Vec<f64> {
    case(name, key).into_vec().unwrap()
}

fn labels(v: &[f64]) -> Vec<i64> {
    v.iter().map(|&c| c as i64).collect()
}

/// The sorted classes and each label's code.
fn codes(y: &[i64]) -> Vec<usize> {
    let mut classes = y.to_vec();
    classes.sort_unstable();
    classes.dedup();
    y.iter()
        .map(|c| classes.binary_search(c).unwrap())
        .collect()
}

/// The golden layer sizes, and the hidden ones.
fn units(name: &str) -> (Vec<usize>, Vec<usize>) {
    let u: Vec<usize> = values(name, "units").iter().map(|&v| v as usize).collect();
    let hidden = u[1..u.len() - 1].to_vec();
    (u, hidden)
}

/// `max |a − b|` over the arrays, relative to `max(1, max |b|)`.
fn max_err(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / scale)
        .fold(0.0, f64::max)
}

/// Checks our objective at scikit-learn's initial (`0`) and fitted (`final`) parameters.
fn check_objective(name: &str) {
    let x = values(name, "X");
    let y = values(name, "y");
    let (u, _) = units(name);
    let alpha = values(name, "alpha")[0];
    let n = x.len() / u[0];
    let c = codes(&labels(&y));
    let targets = match name {
        "multiclass" => Targets::Softmax(&c),
        "binary" => Targets::Logistic(&c),
        _ => Targets::Identity(&y),
    };
    let mut obj = MlpObjective::new(&x, n, &u, targets, alpha).unwrap();
    for at in ["0", "_final"] {
        let params = values(name, &format!("x{at}"));
        let mut g = vec![0.0; obj.n_params()];
        let f = obj.value_grad(&params, &mut g);
        let want_f = values(name, &format!("loss{at}"))[0];
        let want_g = values(name, &format!("grad{at}"));
        let (ef, eg) = ((f - want_f).abs(), max_err(&g, &want_g));
        println!("{name} x{at}: |f − sklearn| = {ef:e}, max |∇f − sklearn| = {eg:e}");
        assert!(
            ef <= 1e-10 * want_f.abs().max(1.0),
            "{name} x{at}: {f} vs {want_f}"
        );
        assert!(eg <= 1e-10, "{name} x{at}: gradient error {eg:e}");
    }
}

#[test]
fn objective_and_gradient_equal_sklearn_multiclass() {
    check_objective("multiclass");
}

#[test]
fn objective_and_gradient_equal_sklearn_binary() {
    check_objective("binary");
}

#[test]
fn objective_and_gradient_equal_sklearn_regressor() {
    check_objective("regressor");
    // Two targets: scikit-learn's loss averages over the columns, its gradient does not; we
    // keep its pair (module docs of `mlp`).
    check_objective("regressor_multi");
}

#[test]
fn first_ten_lbfgs_iterations_follow_sklearns() {
    // From the same start, our L-BFGS (scipy's L-BFGS-B step for step) and scikit-learn's
    // reach the same point after 10 iterations up to rounding, which grows along a
    // nonconvex path: the 200-iteration fits below agree in what they predict, not in bits.
    for name in ["multiclass", "binary", "regressor", "regressor_multi"] {
        let (_, hidden) = units(name);
        let x = case(name, "X");
        let y = values(name, "y");
        let alpha = values(name, "alpha")[0];
        let x0 = values(name, "x0");
        let params = if name.starts_with("regressor") {
            let mut p = MlpRegressor::new()
                .hidden(&hidden)
                .alpha(alpha)
                .max_iter(10)
                .initial_params(x0);
            p.fit(&x, &case(name, "y")).unwrap();
            p.params().unwrap().to_vec()
        } else {
            let mut p = MlpClassifier::new()
                .hidden(&hidden)
                .alpha(alpha)
                .max_iter(10)
                .initial_params(x0);
            p.fit(&x, &labels(&y)).unwrap();
            p.params().unwrap().to_vec()
        };
        let err = max_err(&params, &values(name, "x_iter10"));
        println!("{name}: after 10 iterations, max |θ − sklearn's| = {err:e}");
        assert!(err <= 1e-9, "{name}: {err:e}");
    }
}

/// A classifier fitted from scikit-learn's initial weights, and the share of test labels on
/// which it agrees with scikit-learn's fit.
fn classifier_agreement(name: &str) -> f64 {
    let (_, hidden) = units(name);
    let mut p = MlpClassifier::new()
        .hidden(&hidden)
        .alpha(values(name, "alpha")[0])
        .initial_params(values(name, "x0"));
    p.fit(&case(name, "X"), &labels(&values(name, "y")))
        .unwrap();
    let pred = p.predict(&case(name, "X_test")).unwrap();
    let want = labels(&values(name, "pred"));
    let same = pred.iter().zip(&want).filter(|(a, b)| a == b).count();
    let share = same as f64 / want.len() as f64;
    let accuracy = |v: &[i64]| {
        let t = labels(&values(name, "y_test"));
        v.iter().zip(&t).filter(|(a, b)| a == b).count() as f64 / t.len() as f64
    };
    println!(
        "{name}: {same}/{} test labels equal to sklearn's; accuracy ours {:.4}, sklearn {:.4}; \
         n_iter ours {}, sklearn {}; loss ours {:.6}, sklearn {:.6}",
        want.len(),
        accuracy(&pred),
        accuracy(&want),
        p.n_iter().unwrap(),
        values(name, "n_iter")[0],
        p.loss().unwrap(),
        values(name, "loss_final")[0],
    );
    let proba = p.predict_proba(&case(name, "X_test")).unwrap();
    assert_eq!(proba.shape(), case(name, "proba").shape());
    share
}

#[test]
fn classifier_fit_from_sklearn_init_agrees_on_held_out_labels() {
    for name in ["multiclass", "binary"] {
        let share = classifier_agreement(name);
        assert!(share >= 0.99, "{name}: {share} of the labels agree");
    }
}

#[test]
fn regressor_fit_from_sklearn_init_agrees_on_held_out_predictions() {
    for name in ["regressor", "regressor_multi"] {
        let (_, hidden) = units(name);
        let y = case(name, "y");
        let mut p = MlpRegressor::new()
            .hidden(&hidden)
            .alpha(values(name, "alpha")[0])
            .initial_params(values(name, "x0"));
        p.fit(&case(name, "X"), &y).unwrap();
        let pred = p.predict(&case(name, "X_test")).unwrap();
        let want = values(name, "pred");
        let truth = values(name, "y_test");
        let (ours, theirs) = (
            r2_score(&truth, pred.data().unwrap()).unwrap(),
            r2_score(&truth, &want).unwrap(),
        );
        let between = r2_score(&want, pred.data().unwrap()).unwrap();
        println!(
            "{name}: test R2 ours {ours:.5}, sklearn {theirs:.5}; R2 of ours against sklearn's \
             predictions {between:.6}; n_iter ours {}, sklearn {}",
            p.n_iter().unwrap(),
            values(name, "n_iter")[0]
        );
        assert_eq!(pred.shape(), case(name, "y_test").shape());
        assert!(
            (ours - theirs).abs() <= 0.01,
            "{name}: R2 {ours} vs {theirs}"
        );
        assert!(between >= 0.99, "{name}: R2 against sklearn {between}");
    }
}

/// Deterministic pseudo-random values in `[−1, 1)`.
fn noise(n: usize, salt: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let h = (i.wrapping_mul(2_654_435_761) ^ salt.wrapping_mul(40_503)) % 10_007;
            h as f64 / 5_003.5 - 1.0
        })
        .collect()
}

/// Central differences of `f` at `params` against its reported gradient, each entry, with a
/// scale factor on the reported gradient (1, or `t` for the multi-output regressor).
fn gradcheck(obj: &mut MlpObjective, params: &[f64], scale: f64) {
    let np = obj.n_params();
    let mut g = vec![0.0; np];
    obj.value_grad(params, &mut g);
    let mut scratch = vec![0.0; np];
    let h = 1e-6;
    let mut worst = 0.0f64;
    for i in 0..np {
        let mut p = params.to_vec();
        p[i] += h;
        let fp = obj.value_grad(&p, &mut scratch);
        p[i] -= 2.0 * h;
        let fm = obj.value_grad(&p, &mut scratch);
        let fd = (fp - fm) / (2.0 * h) * scale;
        let err = (fd - g[i]).abs() / (g[i].abs() + 1e-3);
        worst = worst.max(err);
        assert!(
            err < 1e-5,
            "parameter {i}: finite difference {fd}, gradient {}",
            g[i]
        );
    }
    println!("gradcheck over {np} parameters: worst relative error {worst:e}");
}

#[test]
fn gradient_matches_finite_differences() {
    let (n, d) = (40, 3);
    let x = noise(n * d, 1);
    let y_class: Vec<usize> = (0..n).map(|i| (i * 7 + i / 3) % 4).collect();
    let y_bin: Vec<usize> = (0..n)
        .map(|i| usize::from(x[i * d] + x[i * d + 1] > 0.0))
        .collect();
    let y_reg = noise(n, 2);
    let y_two = noise(2 * n, 3);
    let cases: Vec<(Vec<usize>, Targets, f64, f64)> = vec![
        (vec![d, 5, 4, 4], Targets::Softmax(&y_class), 0.3, 1.0),
        (vec![d, 6, 1], Targets::Logistic(&y_bin), 0.1, 1.0),
        (vec![d, 5, 1], Targets::Identity(&y_reg), 0.2, 1.0),
        // t = 2: the gradient is that of 2 × the loss's data term (no penalty here).
        (vec![d, 4, 2], Targets::Identity(&y_two), 0.0, 2.0),
    ];
    for (units, targets, alpha, scale) in cases {
        let mut obj = MlpObjective::new(&x, n, &units, targets, alpha).unwrap();
        let params: Vec<f64> = noise(obj.n_params(), units.len() + 5)
            .iter()
            .map(|v| 0.8 * v)
            .collect();
        gradcheck(&mut obj, &params, scale);
    }
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn bit_identical_for_1_and_3_threads() {
    // More rows than one block, and a last partial block.
    let (n, d) = (2 * BLOCK_ROWS + 77, 4);
    let x = Tensor::from_vec(noise(n * d, 9), &[n, d]).unwrap();
    let y: Vec<i64> = (0..n).map(|i| (i % 3) as i64 * 10).collect();
    let run = |threads| {
        with_threads(threads, || {
            let mut p = MlpClassifier::new().hidden(&[7]).max_iter(15).seed(3);
            p.fit(&x, &y).unwrap();
            let proba = p.predict_proba(&x).unwrap();
            (bits(p.params().unwrap()), bits(proba.data().unwrap()))
        })
    };
    assert_eq!(run(1), run(3));
}

#[test]
fn seeded_initialisation_is_glorot_uniform_and_reproducible() {
    let (n, d) = (30, 3);
    let x = Tensor::from_vec(noise(n * d, 4), &[n, d]).unwrap();
    let y = Tensor::from_vec(noise(n, 5), &[n]).unwrap();
    // One iteration moves the parameters by a short step only; compare the starts through
    // fits of one iteration with equal and different seeds.
    let fit = |seed| {
        let mut p = MlpRegressor::new().hidden(&[8]).max_iter(1).seed(seed);
        p.fit(&x, &y).unwrap();
        p.params().unwrap().to_vec()
    };
    assert_eq!(bits(&fit(7)), bits(&fit(7)));
    assert_ne!(bits(&fit(7)), bits(&fit(8)));
    // Glorot bounds: √(6/(3 + 8)) ≈ 0.739 for layer 0, √(6/(8 + 1)) ≈ 0.816 for layer 1; a
    // fit of one iteration stays near them.
    let p = fit(7);
    assert_eq!(p.len(), 3 * 8 + 8 + 8 + 1);
    assert!(p.iter().all(|v| v.abs() < 1.5), "{p:?}");
}

#[test]
fn default_network_is_sklearns_hundred_units() {
    let (n, d) = (60, 2);
    let x = Tensor::from_vec(noise(n * d, 6), &[n, d]).unwrap();
    let y: Vec<i64> = (0..n)
        .map(|i| i64::from(x.data().unwrap()[i * d] > 0.0))
        .collect();
    let mut p = MlpClassifier::new();
    p.fit(&x, &y).unwrap();
    assert_eq!(p.units().unwrap(), &[2, 100, 1]);
    assert_eq!(p.classes(), &[0, 1]);
    // A separable threshold on x0: the training labels are learnt.
    assert_eq!(p.predict(&x).unwrap(), y);
    let proba = p.predict_proba(&x).unwrap();
    for row in proba.data().unwrap().chunks(2) {
        assert!((row[0] + row[1] - 1.0).abs() < 1e-15);
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let x = Tensor::from_vec(vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0], &[3, 2]).unwrap();
    let mut c = MlpClassifier::new().hidden(&[3]);
    // NaN in X.
    let nan = Tensor::from_vec(vec![0.0, f64::NAN, 2.0, 3.0, 4.0, 5.0], &[3, 2]).unwrap();
    assert!(matches!(
        c.fit(&nan, &[0, 1, 0]),
        Err(Error::NonFinite { .. })
    ));
    // One class.
    let e = c.fit(&x, &[4, 4, 4]).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { .. }) && e.to_string().contains("single class"));
    // Labels that do not match the rows.
    assert!(matches!(c.fit(&x, &[0, 1]), Err(Error::Shape { .. })));
    // Not fitted yet, then columns that differ from the fit's.
    assert!(matches!(c.predict(&x), Err(Error::InvalidArgument { .. })));
    c.fit(&x, &[0, 1, 0]).unwrap();
    let wide = Tensor::from_vec(vec![0.0; 9], &[3, 3]).unwrap();
    assert!(matches!(c.predict(&wide), Err(Error::Shape { .. })));
    assert!(matches!(c.predict_proba(&wide), Err(Error::Shape { .. })));
    // Initial parameters of the wrong length; NaN among them.
    let mut bad = MlpClassifier::new()
        .hidden(&[3])
        .initial_params(vec![0.1; 5]);
    let e = bad.fit(&x, &[0, 1, 0]).unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "{e}");
    let mut nan_init = MlpClassifier::new()
        .hidden(&[3])
        .initial_params(vec![f64::NAN; 2 * 3 + 3 + 3 + 1]);
    assert!(matches!(
        nan_init.fit(&x, &[0, 1, 0]),
        Err(Error::NonFinite { .. })
    ));
    // Bad options.
    for (p, what) in [
        (MlpClassifier::new().hidden(&[4, 0]), "0 units"),
        (MlpClassifier::new().alpha(-1.0), "alpha"),
        (MlpClassifier::new().tol(f64::NAN), "tol"),
        (MlpClassifier::new().max_iter(0), "max_iter"),
    ] {
        let mut p = p;
        let e = p.fit(&x, &[0, 1, 0]).unwrap_err();
        assert!(
            matches!(e, Error::InvalidArgument { .. }) && e.to_string().contains(what),
            "{e}"
        );
    }
    // Regression targets: NaN, wrong length.
    let mut r = MlpRegressor::new().hidden(&[3]);
    let y_nan = Tensor::from_vec(vec![1.0, f64::NAN, 0.0], &[3]).unwrap();
    assert!(matches!(r.fit(&x, &y_nan), Err(Error::NonFinite { .. })));
    let y_short = Tensor::from_vec(vec![1.0, 2.0], &[2]).unwrap();
    assert!(matches!(r.fit(&x, &y_short), Err(Error::Shape { .. })));
    // 2-D targets give 2-D predictions, 1-D give 1-D.
    let y2 = Tensor::from_vec(vec![1.0, 2.0, 0.0, 1.0, 3.0, 0.5], &[3, 2]).unwrap();
    r.fit(&x, &y2).unwrap();
    assert_eq!(r.predict(&x).unwrap().shape(), &[3, 2]);
    // The objective refuses a network whose outputs do not fit the targets.
    let xs = [0.0; 6];
    let codes = [0usize, 1, 2];
    assert!(matches!(
        MlpObjective::new(&xs, 3, &[2, 4, 2], Targets::Softmax(&codes), 0.0),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        MlpObjective::new(&xs, 3, &[2, 4, 1], Targets::Logistic(&codes), 0.0),
        Err(Error::InvalidArgument { .. })
    ));
}
