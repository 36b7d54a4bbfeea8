//! DCL and DCLW (decoupled contrastive losses): golden values from nidl 0.0.2 (PyTorch autograd,
//! `scripts/dcl_golden.py`, `tests/data/dcl/`), finite-difference gradient checks in f64,
//! hand-worked cases and bad-input errors.

mod common;

use common::{assert_close, golden};
use nidl::autograd::gradcheck::check_gradients;
use nidl::autograd::{Graph, ParamId};
use nidl::loss::{DclLoss, InfoNce, DCLW_DEFAULT_SIGMA};
use nidl::{Element, Error, Tensor};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Every case `scripts/dcl_golden.py` writes.
const CASES: [&str; 10] = [
    "dcl_default",
    "dcl_t0.5_b3_d4",
    "dcl_t0.07_b16_d32",
    "dcl_b1",
    "dcl_aligned",
    "dclw_default",
    "dclw_t0.2_s1_b6_d16",
    "dclw_t0.07_s0.3_b16_d32",
    "dclw_b1",
    "dclw_aligned",
];

/// The loss of a golden case's `params.npy`: `[temperature, sigma]`, sigma NaN for DCL.
fn case_loss(case: &str) -> DclLoss {
    let p = golden(&format!("dcl/{case}"), "params");
    let p = p.data().unwrap();
    if p[1].is_nan() {
        DclLoss::new(p[0])
    } else {
        DclLoss::weighted(p[1], p[0])
    }
}

/// The loss value and the gradients into `z1`, `z2`, computed in precision `T`.
fn loss_and_grads<T: Element>(
    loss: &DclLoss,
    z1: &Tensor<f64>,
    z2: &Tensor<f64>,
) -> (f64, Vec<f64>, Vec<f64>) {
    let mut g = Graph::<T>::new();
    let v1 = g.param(ParamId::fresh(), &z1.cast::<T>().unwrap());
    let v2 = g.param(ParamId::fresh(), &z2.cast::<T>().unwrap());
    let l = loss.forward(&mut g, v1, v2).unwrap();
    let value = g.value(l).item().unwrap().to_f64();
    let grads = g.backward(l).unwrap();
    let to_f64 = |t: &Tensor<T>| t.data().unwrap().iter().map(|v| v.to_f64()).collect();
    (
        value,
        to_f64(grads.get(v1).unwrap()),
        to_f64(grads.get(v2).unwrap()),
    )
}

/// Every golden case in precision `T`: the loss and both gradients within `rtol` (relative,
/// with an absolute floor `atol` for gradients near zero).
fn golden_cases<T: Element>(rtol: f64, atol: f64) {
    for case in CASES {
        let dir = format!("dcl/{case}");
        let loss = case_loss(case);
        let (value, g1, g2) = loss_and_grads::<T>(&loss, &golden(&dir, "z1"), &golden(&dir, "z2"));
        let name = |what: &str| format!("{case} {what} {}", T::NAME);
        assert_close(
            &name("loss"),
            &[value],
            golden(&dir, "loss").data().unwrap(),
            rtol,
            0.0,
        );
        assert_close(
            &name("grad_z1"),
            &g1,
            golden(&dir, "grad_z1").data().unwrap(),
            rtol,
            atol,
        );
        assert_close(
            &name("grad_z2"),
            &g2,
            golden(&dir, "grad_z2").data().unwrap(),
            rtol,
            atol,
        );
    }
}

#[test]
fn dcl_and_dclw_match_nidl_f64() {
    golden_cases::<f64>(1e-9, 1e-9);
}

#[test]
fn dcl_and_dclw_match_nidl_f32() {
    golden_cases::<f32>(1e-4, 1e-4);
}

#[test]
fn defaults_are_nidls() {
    assert_eq!(
        DclLoss::default(),
        DclLoss::new(0.1),
        "DCLLoss(temperature=0.1)"
    );
    assert_eq!(DclLoss::default().vmf_sigma, None);
    assert_eq!(DCLW_DEFAULT_SIGMA, 0.5, "DCLWLoss(sigma=0.5)");
}

/// B = 2, d = 2, τ = 1, σ = 1: z1 = [e1, e2], z2 = [e1, e1], so the stacked z = [e1, e2, e1, e1]
/// and the positive of row i is row (i + 2) mod 4. Row by row (negatives: j ∉ {i, p(i)}):
///
///   row 0 (e1): negatives s01 = 0, s03 = 1 → log(1 + e);  positive s02 = 1, weight w0;
///   row 1 (e2): negatives s10 = 0, s12 = 0 → log 2;       positive s13 = 0;
///   row 2 (e1): negatives s21 = 0, s23 = 1 → log(1 + e);  positive s20 = 1, weight w0;
///   row 3 (e1): negatives s30 = 1, s32 = 1 → log(2e) = log 2 + 1; positive s31 = 0.
///
/// ℓ = ¼ [2 log(1 + e) + 2 log 2 + 1 − 2 w0]. DCL: w0 = 1. DCLW: the pair cosines are (1, 0),
/// softmax (e, 1)/(e + 1), so w0 = 2 − 2e/(e + 1) = 2/(e + 1).
#[test]
fn hand_worked_dcl_and_dclw() {
    let z1 = Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0], &[2, 2]).unwrap();
    let z2 = Tensor::from_vec(vec![1.0, 0.0, 1.0, 0.0], &[2, 2]).unwrap();
    let e = std::f64::consts::E;
    let expected = |w0: f64| 0.25 * (2.0 * (1.0 + e).ln() + 2.0 * 2f64.ln() + 1.0 - 2.0 * w0);
    for (loss, w0) in [
        (DclLoss::new(1.0), 1.0),
        (DclLoss::weighted(1.0, 1.0), 2.0 / (e + 1.0)),
    ] {
        let (got, ..) = loss_and_grads::<f64>(&loss, &z1, &z2);
        let want = expected(w0);
        assert!(
            (got - want).abs() < 1e-14,
            "{loss:?}: got {got}, expected {want}"
        );
    }
}

/// Identical unit views z1 = z2 = [e1, e2], τ = 0.5: every row's positive is 1 and its two
/// negatives are 0, so ℓ = log 2 − 1/τ = log 2 − 2 for DCL; the pair cosines are equal, so the
/// DCLW weights are 2 − 2 · ½ = 1 and DCLW gives the same. InfoNCE keeps the positive in the
/// denominator: log(2 + e²) − 2, which DCL must not equal.
#[test]
fn decoupling_removes_the_positive_from_the_denominator() {
    let z = Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0], &[2, 2]).unwrap();
    let want = 2f64.ln() - 2.0;
    for loss in [DclLoss::new(0.5), DclLoss::weighted(0.3, 0.5)] {
        let (got, ..) = loss_and_grads::<f64>(&loss, &z, &z);
        assert!(
            (got - want).abs() < 1e-14,
            "{loss:?}: got {got}, expected {want}"
        );
    }
    let mut g = Graph::<f64>::new();
    let (a, b) = (g.input(z.clone()), g.input(z));
    let l = InfoNce::new(0.5).forward(&mut g, a, b).unwrap();
    let info = g.value(l).item().unwrap();
    let want_info = (2.0 + 2f64.exp()).ln() - 2.0;
    assert!(
        (info - want_info).abs() < 1e-14,
        "InfoNCE {info} vs {want_info}"
    );
}

/// Finite differences in f64 (central, h = 1e-6) of DCL and DCLW, the latter's gradient flowing
/// through the weights too. (The batch of one is left out: its loss is ≈ −9e15, far beyond what a
/// finite difference resolves; its gradients are checked against PyTorch in the golden cases.)
#[test]
fn gradcheck_dcl_and_dclw() {
    let cases = [
        (4, 3, DclLoss::new(0.1)),
        (3, 5, DclLoss::new(0.5)),
        (2, 2, DclLoss::new(1.0)),
        (4, 3, DclLoss::weighted(0.5, 0.1)),
        (5, 4, DclLoss::weighted(1.0, 0.3)),
        (3, 6, DclLoss::weighted(0.2, 0.5)),
    ];
    for (i, (b, d, loss)) in cases.into_iter().enumerate() {
        let mut rng = StdRng::seed_from_u64(40 + i as u64);
        let inputs = [
            Tensor::rand_normal(&[b, d], 0.0, 1.0, &mut rng),
            Tensor::rand_normal(&[b, d], 0.0, 1.0, &mut rng),
        ];
        let r = check_gradients(&inputs, 1e-6, |g, v| loss.forward(g, v[0], v[1])).unwrap();
        eprintln!(
            "{loss:?} B{b} d{d}: max relative error {:.2e}",
            r.max_rel_error
        );
        assert!(
            r.max_rel_error <= 1e-6,
            "{loss:?} B{b} d{d}: max relative error {:.3e} at {:?} (analytic, numeric) = {:?}",
            r.max_rel_error,
            r.worst,
            r.worst_values
        );
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let mut g = Graph::<f64>::new();
    let ok = g.input(Tensor::zeros(&[4, 3]));
    for (s1, s2) in [
        (&[4, 3][..], &[4, 2][..]),
        (&[4, 3], &[3, 3]),
        (&[0, 3], &[0, 3]),
    ] {
        let a = g.input(Tensor::zeros(s1));
        let b = g.input(Tensor::zeros(s2));
        let err = DclLoss::default().forward(&mut g, a, b).unwrap_err();
        assert!(matches!(err, Error::Shape { .. }), "{s1:?} {s2:?}: {err}");
    }
    for loss in [
        DclLoss::new(0.0),
        DclLoss::new(f64::NAN),
        DclLoss::weighted(0.0, 0.1),
        DclLoss::weighted(-1.0, 0.1),
        DclLoss::weighted(f64::INFINITY, 0.1),
    ] {
        let err = loss.forward(&mut g, ok, ok).unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument { .. }),
            "{loss:?}: {err}"
        );
        let text = err.to_string();
        assert!(
            text.contains("dcl") && (text.contains("temperature") || text.contains("sigma")),
            "{text}"
        );
    }
}
