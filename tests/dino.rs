//! DINO's building blocks against nidl 0.0.2 / PyTorch (`scripts/dino_golden.py`, data in
//! `tests/data/dino/`): the exact GELU, weight normalisation, the EMA (momentum) update, the
//! `DinoHead`, and the DINO loss with its teacher-temperature schedule and centre; f64
//! finite-difference gradient checks; bad inputs; determinism across thread counts.

mod common;

use common::{assert_close, golden};
use nidl::autograd::gradcheck::check_gradients;
use nidl::autograd::{Graph, ParamId, Var};
use nidl::datasets::npy::read_tensor;
use nidl::loss::{DinoLoss, DinoLossConfig};
use nidl::nn::{
    ema_update, is_last_layer_name, momentum_lambda, BatchNorm1d, DinoHead, DinoHeadConfig, Linear,
    Module, Sequential,
};
use nidl::{Element, Error, Result, Tensor};
use rand::rngs::StdRng;
use rand::SeedableRng;

const GRAD_TOL: f64 = 1e-6;
const H: f64 = 1e-6;

fn randn(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::rand_normal(shape, 0.0, 1.0, &mut StdRng::seed_from_u64(seed))
}

fn to_f64<T: Element>(x: &Tensor<T>) -> Vec<f64> {
    x.to_vec().unwrap().iter().map(|v| v.to_f64()).collect()
}

fn check(name: &str, inputs: &[Tensor<f64>], f: impl Fn(&mut Graph<f64>, &[Var]) -> Result<Var>) {
    let r = check_gradients(inputs, H, f).unwrap();
    eprintln!("{name}: max relative error {:.2e}", r.max_rel_error);
    assert!(
        r.max_rel_error <= GRAD_TOL,
        "{name}: max relative error {:.3e} at {:?} (analytic, numeric) = {:?}",
        r.max_rel_error,
        r.worst,
        r.worst_values
    );
}

fn scalar(case: &str, name: &str) -> Vec<f64> {
    golden(case, name).to_vec().unwrap()
}

// ---- GELU -----------------------------------------------------------------------------------

/// GELU and its derivative in f64 on [−10, 10], the tails (±27.5, ±40) and random points.
///
/// Against mpmath (40 digits): gelu within 2e-14 relative everywhere, the left tail included
/// (the floor 1e-300 makes it a purely relative check); gelu' within 2e-14 relative with an
/// absolute floor of 2e-14. Against torch's `gelu` and its autograd
/// derivative: 1e-12 relative with an absolute floor of 1e-15 — torch computes
/// `0.5·x·(1 + erf(x/√2))`, whose `1 + erf` cancels for negative `x` (it returns −0 for
/// gelu(−8.4) = −2.2e-16), so it is the less accurate of the two there.
#[test]
fn gelu_matches_mpmath_and_torch_f64() {
    let c = "dino/gelu";
    let x = golden(c, "x");
    let got = to_f64(&x.gelu().unwrap());
    let mut g = Graph::new();
    let v = g.param(ParamId::fresh(), &x);
    let y = g.gelu(v).unwrap();
    let s = g.sum(y).unwrap();
    let grads = g.backward(s).unwrap();
    let dgot = to_f64(grads.get(v).unwrap());
    assert_close(
        "gelu vs mpmath",
        &got,
        &scalar(c, "gelu_mpmath"),
        2e-14,
        1e-300,
    );
    // gelu' = Φ + x·φ crosses 0 at x ≈ −0.752, where its two terms cancel: absolute there.
    assert_close(
        "gelu' vs mpmath",
        &dgot,
        &scalar(c, "dgelu_mpmath"),
        2e-14,
        1.0,
    );
    assert_close("gelu vs torch", &got, &scalar(c, "gelu"), 1e-12, 1e-3);
    assert_close("gelu' vs torch", &dgot, &scalar(c, "dgelu"), 1e-12, 1e-3);
}

#[test]
fn gelu_matches_torch_f32() {
    let x = golden("dino/gelu", "x").cast::<f32>().unwrap();
    let got = to_f64(&x.gelu().unwrap());
    assert_close("gelu f32", &got, &scalar("dino/gelu", "gelu"), 1e-6, 1e-6);
}

#[test]
fn gelu_gradcheck() {
    // Spread over both branches of erf (|x|/√2 below and above 2.5) and the tails.
    let x = randn(&[4, 9], 11).mul_scalar(3.0).unwrap();
    check("gelu", &[x], |g, v| {
        let y = g.gelu(v[0])?;
        let y = g.mul(y, v[0])?; // a non-linear reduction: the gradient is not just gelu'
        g.sum(y)
    });
}

// ---- weight norm ----------------------------------------------------------------------------

/// torch._weight_norm(v, g, dim=0) and the gradients of sum(w·r).
#[test]
fn weight_norm_matches_torch() {
    let c = "dino/weight_norm";
    let (v0, g0, r) = (golden(c, "v"), golden(c, "g"), golden(c, "r"));
    let mut g = Graph::new();
    let v = g.param(ParamId::fresh(), &v0);
    let m = g.param(ParamId::fresh(), &g0);
    let w = g.weight_norm(v, m).unwrap();
    assert_close("w", &to_f64(g.value(w)), &scalar(c, "w"), 1e-12, 1e-12);
    let rv = g.input(r);
    let p = g.mul(w, rv).unwrap();
    let s = g.sum(p).unwrap();
    let grads = g.backward(s).unwrap();
    let (gv, gg) = (grads.get(v).unwrap(), grads.get(m).unwrap());
    assert_close("grad v", &to_f64(gv), &scalar(c, "grad_v"), 1e-12, 1e-12);
    assert_close("grad g", &to_f64(gg), &scalar(c, "grad_g"), 1e-12, 1e-12);
}

#[test]
fn weight_norm_gradcheck_and_bad_shapes() {
    let v = randn(&[4, 3], 1);
    let m = randn(&[4, 1], 2);
    let r = randn(&[4, 3], 3);
    check("weight_norm", &[v.clone(), m.clone()], |g, x| {
        let w = g.weight_norm(x[0], x[1])?;
        let rv = g.input(r.clone());
        let p = g.mul(w, rv)?;
        g.sum(p)
    });
    let mut g = Graph::new();
    let vv = g.input(v);
    let bad = g.input(randn(&[3, 1], 4));
    match g.weight_norm(vv, bad) {
        Err(Error::Shape { op, shapes, .. }) => {
            assert_eq!(op, "weight_norm");
            assert_eq!(shapes, vec![vec![4, 3], vec![3, 1]]);
        }
        other => panic!("{other:?}"),
    }
}

// ---- EMA ------------------------------------------------------------------------------------

/// The golden network: `Sequential(Linear(3, 4), BatchNorm1d(4), Linear(4, 2))`, every
/// parameter loaded from `ema/<prefix>.<name>.npy` (running statistics at their defaults).
fn ema_net<T: Element>(prefix: &str) -> Sequential<T> {
    let mut rng = StdRng::seed_from_u64(0);
    let mut net = Sequential::new()
        .push(Linear::<T>::new(3, 4, true, &mut rng))
        .push(BatchNorm1d::<T>::new(4))
        .push(Linear::<T>::new(4, 2, true, &mut rng));
    let state: Vec<(String, Tensor<T>)> = net
        .state_dict()
        .into_iter()
        .map(|(name, t)| {
            if name.contains("running") {
                return (name, t);
            }
            let path = common::golden_path("dino/ema", &format!("{prefix}.{name}"));
            (name, read_tensor::<T>(&path).unwrap())
        })
        .collect();
    net.load_state_dict(&state).unwrap();
    net
}

/// nidl's MomentumUpdater(0.99, 1.0) for 3 steps of a 3-step run, bit for bit, in f64 and f32;
/// the λ schedule bit for bit; buffers untouched.
fn ema_matches_nidl<T: Element>(file_prefix: &str) {
    let lambdas = scalar("dino/ema", "lambdas");
    let student = ema_net::<T>(&format!("{file_prefix}online"));
    let mut teacher = ema_net::<T>(&format!("{file_prefix}momentum0"));
    let buffers_before: Vec<_> = teacher
        .state_dict()
        .into_iter()
        .filter(|(n, _)| n.contains("running"))
        .collect();
    for (step, &want_lambda) in (1..=3).zip(&lambdas) {
        let lambda = momentum_lambda(0.99, 1.0, step - 1, 3);
        assert_eq!(
            lambda.to_bits(),
            want_lambda.to_bits(),
            "lambda at step {step}"
        );
        ema_update(&mut teacher, &student, lambda).unwrap();
        for (name, t) in teacher.state_dict() {
            if name.contains("running") {
                continue;
            }
            let path =
                common::golden_path("dino/ema", &format!("{file_prefix}momentum{step}.{name}"));
            let want = read_tensor::<T>(&path).unwrap();
            let (got, want) = (t.to_vec().unwrap(), want.to_vec().unwrap());
            let same = got
                .iter()
                .zip(&want)
                .all(|(a, b)| a.to_f64().to_bits() == b.to_f64().to_bits());
            assert!(same, "{} step {step} {name}: {got:?} vs {want:?}", T::NAME);
        }
    }
    let buffers_after: Vec<_> = teacher
        .state_dict()
        .into_iter()
        .filter(|(n, _)| n.contains("running"))
        .collect();
    for ((n, a), (_, b)) in buffers_before.iter().zip(&buffers_after) {
        assert_eq!(a.to_vec().unwrap(), b.to_vec().unwrap(), "buffer {n} moved");
    }
}

#[test]
fn ema_update_matches_nidl_bit_for_bit_f64() {
    ema_matches_nidl::<f64>("");
}

#[test]
fn ema_update_matches_nidl_bit_for_bit_f32() {
    ema_matches_nidl::<f32>("f32.");
}

/// Hand case: m = 0.75, t = 4, s = 8: 0.75·4 + 0.25·8 = 5; m = 1 keeps t, m = 0 copies s.
#[test]
fn ema_update_hand_values_and_errors() {
    let s = Tensor::from_vec(vec![8.0, -8.0], &[2]).unwrap();
    let mut t = Tensor::from_vec(vec![4.0f64, 4.0], &[2]).unwrap();
    t.ema_update(&s, 0.75).unwrap();
    assert_eq!(t.to_vec().unwrap(), vec![5.0, 1.0]);
    t.ema_update(&s, 1.0).unwrap();
    assert_eq!(t.to_vec().unwrap(), vec![5.0, 1.0]);
    t.ema_update(&s, 0.0).unwrap();
    assert_eq!(t.to_vec().unwrap(), vec![8.0, -8.0]);
    for bad in [-0.1, 1.5, f64::NAN] {
        match t.ema_update(&s, bad) {
            Err(Error::InvalidArgument { op, message }) => {
                assert_eq!(op, "ema_update");
                assert!(message.contains("momentum"), "{message}");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
    let wrong = Tensor::<f64>::zeros(&[3]);
    assert!(matches!(
        t.ema_update(&wrong, 0.5),
        Err(Error::Shape { .. })
    ));
    assert_eq!(
        t.to_vec().unwrap(),
        vec![8.0, -8.0],
        "unchanged after errors"
    );
}

/// Modules whose parameters differ in shape or name are refused, and nothing moves.
#[test]
fn ema_update_refuses_mismatched_modules() {
    let mut rng = StdRng::seed_from_u64(1);
    let student = Sequential::new().push(Linear::<f64>::new(3, 4, true, &mut rng));
    let mut other_shape = Sequential::new().push(Linear::<f64>::new(3, 5, true, &mut rng));
    let before = other_shape.state_dict();
    match ema_update(&mut other_shape, &student, 0.9) {
        Err(Error::Shape { op, expected, .. }) => {
            assert_eq!(op, "ema_update");
            assert!(expected.contains("0.weight"), "{expected}");
        }
        other => panic!("{other:?}"),
    }
    let mut no_bias = Sequential::new().push(Linear::<f64>::new(3, 4, false, &mut rng));
    match ema_update(&mut no_bias, &student, 0.9) {
        Err(Error::InvalidArgument { message, .. }) => {
            assert!(message.contains("1 parameters, the student 2"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    for ((n, a), (_, b)) in before.iter().zip(other_shape.state_dict()) {
        assert_eq!(a.to_vec().unwrap(), b.to_vec().unwrap(), "{n} changed");
    }
}

/// A tensor longer than the optimizer's rayon chunk: the same bits on 1 and 4 threads.
#[test]
fn ema_update_is_bit_identical_across_thread_counts() {
    let n = 100_003;
    let s = randn(&[n], 5).cast::<f32>().unwrap();
    let t0 = randn(&[n], 6).cast::<f32>().unwrap();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut t = t0.clone();
            t.ema_update(&s, 0.996).unwrap();
            t.to_vec().unwrap()
        })
    };
    let (one, four) = (run(1), run(4));
    assert!(one
        .iter()
        .zip(&four)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
}

// ---- DINO loss ------------------------------------------------------------------------------

fn loss_config(case: &str) -> (DinoLossConfig, usize) {
    let c = scalar(case, "config");
    let cfg = DinoLossConfig {
        output_dim: c[0] as usize,
        warmup_teacher_temp: c[1],
        teacher_temp: c[2],
        warmup_teacher_temp_epochs: c[3] as usize,
        student_temp: c[4],
        center_momentum: c[5],
    };
    (cfg, c[6] as usize)
}

/// One golden case in precision `T`: for each step, the loss, its gradient w.r.t. the student
/// outputs, and the centre after the call.
fn loss_matches_nidl<T: Element>(name: &str, rtol: f64) {
    let case = format!("dino/loss_{name}");
    let (cfg, n_global) = loss_config(&case);
    let epochs = scalar(&case, "epochs");
    let losses = scalar(&case, "losses");
    let mut loss = DinoLoss::<T>::new(cfg).unwrap();
    for (k, (&epoch, &want)) in epochs.iter().zip(&losses).enumerate() {
        let epoch = (epoch >= 0.0).then_some(epoch as usize);
        let teacher = golden(&case, &format!("teacher_{k}")).cast::<T>().unwrap();
        let student = golden(&case, &format!("student_{k}")).cast::<T>().unwrap();
        let mut g = Graph::new();
        let s = g.param(ParamId::fresh(), &student);
        let l = loss.forward(&mut g, &teacher, s, n_global, epoch).unwrap();
        let what = format!("{name} {} step {k}", T::NAME);
        let got = g.value(l).item().unwrap().to_f64();
        assert_close(&format!("{what} loss"), &[got], &[want], rtol, 1e-12);
        let grads = g.backward(l).unwrap();
        // Relative to each value, with a floor of the array's largest magnitude: the gradient
        // `(softmax_s − Σ P_t)/(n·B·τ_s)` cancels, so its small entries carry the absolute
        // error of the large ones (in f32, logits up to 3·3/0.04 ≈ 225 round at ~1e-5).
        let (want_grad, want_center) = (
            scalar(&case, &format!("grad_{k}")),
            scalar(&case, &format!("center_{k}")),
        );
        let scale = |v: &[f64]| v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        assert_close(
            &format!("{what} grad"),
            &to_f64(grads.get(s).unwrap()),
            &want_grad,
            rtol,
            scale(&want_grad),
        );
        assert_close(
            &format!("{what} center"),
            &to_f64(loss.center()),
            &want_center,
            rtol,
            scale(&want_center),
        );
    }
}

const LOSS_CASES: [&str; 4] = ["global_only", "local4", "defaults_d32", "one_global"];

#[test]
fn dino_loss_matches_nidl_f64() {
    for name in LOSS_CASES {
        loss_matches_nidl::<f64>(name, 1e-9);
    }
}

#[test]
fn dino_loss_matches_nidl_f32() {
    for name in LOSS_CASES {
        loss_matches_nidl::<f32>(name, 1e-4);
    }
}

/// nidl's float32 teacher-temperature schedule, bit for bit, in and after the warm-up, for
/// warm-ups of 0, 1, 7, 10, 13, 16 (decreasing), 30 and 101 epochs.
#[test]
fn teacher_temperature_schedule_is_nidls_float32() {
    for i in 0..8 {
        let c = scalar("dino/temperatures", &format!("case_{i}"));
        let (start, end, epochs, after) = (c[0], c[1], c[2] as usize, c[3]);
        let sched = &c[4..];
        assert_eq!(sched.len(), epochs);
        let loss = DinoLoss::<f64>::new(DinoLossConfig {
            output_dim: 2,
            warmup_teacher_temp: start,
            teacher_temp: end,
            warmup_teacher_temp_epochs: epochs,
            ..DinoLossConfig::default()
        })
        .unwrap();
        for (e, &want) in sched.iter().enumerate() {
            let got = loss.teacher_temperature(Some(e));
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "case {i} epoch {e}: {got} vs {want}"
            );
        }
        for e in [epochs, epochs + 1, epochs + 100] {
            assert_eq!(loss.teacher_temperature(Some(e)).to_bits(), after.to_bits());
        }
        assert_eq!(loss.teacher_temperature(None).to_bits(), after.to_bits());
    }
}

#[test]
fn dino_loss_gradcheck() {
    // T = 2 global, S = 5 views, B = 3, D = 6; a non-zero centre from one earlier call.
    let (b, d) = (3, 6);
    let cfg = DinoLossConfig {
        output_dim: d,
        ..DinoLossConfig::default()
    };
    let mut base = DinoLoss::<f64>::new(cfg).unwrap();
    let mut g = Graph::new();
    let warm = g.input(randn(&[5 * b, d], 7));
    base.forward(&mut g, &randn(&[2 * b, d], 8), warm, 2, Some(0))
        .unwrap();
    let teacher = randn(&[2 * b, d], 9).mul_scalar(2.0).unwrap();
    let student = randn(&[5 * b, d], 10);
    check("dino loss", &[student], |g, v| {
        let mut loss = base.clone();
        loss.forward(g, &teacher, v[0], 2, Some(3))
    });
}

/// Hand case: one teacher view, two student views of one sample, D = 2, τ_s = 1, centre 0,
/// a teacher so confident that P = (1, 0) to the last bit (its logits differ by 1000/τ_t):
/// only the pair (t0, s1) counts (n = 1·2 − 1 = 1, B = 1), so ℓ = −log_softmax(s1)[0] =
/// log(1 + e^{s1[1] − s1[0]}); with s1 = (0, ln 3): ℓ = ln 4. The centre moves to
/// 0.1·(1000, 0) = (100, 0).
#[test]
fn dino_loss_hand_case() {
    let cfg = DinoLossConfig {
        output_dim: 2,
        student_temp: 1.0,
        ..DinoLossConfig::default()
    };
    let mut loss = DinoLoss::<f64>::new(cfg).unwrap();
    let teacher = Tensor::from_vec(vec![1000.0, 0.0], &[1, 2]).unwrap();
    let mut g = Graph::new();
    let s = g.input(Tensor::from_vec(vec![5.0, -7.0, 0.0, 3f64.ln()], &[2, 2]).unwrap());
    let l = loss.forward(&mut g, &teacher, s, 1, None).unwrap();
    let got = g.value(l).item().unwrap();
    assert!((got - 4f64.ln()).abs() < 1e-15, "{got}");
    let c = loss.center().to_vec().unwrap();
    assert!((c[0] - 100.0).abs() < 1e-12 && c[1] == 0.0, "{c:?}");
}

#[test]
fn dino_loss_refuses_bad_inputs_and_keeps_its_centre() {
    let cfg = DinoLossConfig {
        output_dim: 4,
        ..DinoLossConfig::default()
    };
    let mut loss = DinoLoss::<f64>::new(cfg).unwrap();
    let mut g = Graph::new();
    let s = g.input(randn(&[6, 4], 1));
    let shape_err = |r: Result<Var>| match r {
        Err(Error::Shape { op, .. }) => assert_eq!(op, "dino_loss"),
        other => panic!("{other:?}"),
    };
    // Wrong width, rows not a multiple of the views, student rows not a multiple of B.
    shape_err(loss.forward(&mut g, &randn(&[4, 3], 2), s, 2, None));
    shape_err(loss.forward(&mut g, &randn(&[5, 4], 2), s, 2, None));
    shape_err(loss.forward(&mut g, &randn(&[8, 4], 2), s, 2, None));
    match loss.forward(&mut g, &randn(&[6, 4], 2), s, 0, None) {
        Err(Error::InvalidArgument { message, .. }) => assert!(message.contains("n_global_views")),
        other => panic!("{other:?}"),
    }
    // One teacher view, one student view: no pair.
    let one = g.input(randn(&[3, 4], 3));
    match loss.forward(&mut g, &randn(&[3, 4], 2), one, 1, None) {
        Err(Error::InvalidArgument { message, .. }) => assert!(message.contains("no cross-view")),
        other => panic!("{other:?}"),
    }
    assert_eq!(loss.center().to_vec().unwrap(), vec![0.0; 4]);
    for (field, cfg) in [
        (
            "output_dim",
            DinoLossConfig {
                output_dim: 0,
                ..DinoLossConfig::default()
            },
        ),
        (
            "student_temp",
            DinoLossConfig {
                student_temp: 0.0,
                ..DinoLossConfig::default()
            },
        ),
        (
            "teacher_temp",
            DinoLossConfig {
                teacher_temp: f64::INFINITY,
                ..DinoLossConfig::default()
            },
        ),
        (
            "center_momentum",
            DinoLossConfig {
                center_momentum: 1.5,
                ..DinoLossConfig::default()
            },
        ),
    ] {
        match DinoLoss::<f64>::new(cfg) {
            Err(Error::InvalidArgument { message, .. }) => {
                assert!(message.contains(field), "{field}: {message}")
            }
            other => panic!("{field}: {other:?}"),
        }
    }
}

/// The centre survives a state round trip; a missing or mis-shaped entry is refused.
#[test]
fn dino_loss_state_round_trip() {
    let cfg = DinoLossConfig {
        output_dim: 3,
        ..DinoLossConfig::default()
    };
    let mut a = DinoLoss::<f64>::new(cfg).unwrap();
    let mut g = Graph::new();
    let s = g.input(randn(&[4, 3], 1));
    a.forward(&mut g, &randn(&[4, 3], 2), s, 2, Some(0))
        .unwrap();
    let state = a.state();
    assert_eq!(state[0].0, "center");
    let mut b = DinoLoss::<f64>::new(cfg).unwrap();
    b.load_state(&state).unwrap();
    assert_eq!(b.center().to_vec().unwrap(), a.center().to_vec().unwrap());
    assert!(matches!(
        b.load_state(&[]),
        Err(Error::InvalidArgument { .. })
    ));
    let wrong = vec![("center".to_string(), Tensor::<f64>::zeros(&[1, 4]))];
    assert!(matches!(b.load_state(&wrong), Err(Error::Shape { .. })));
    assert_eq!(b.center().to_vec().unwrap(), a.center().to_vec().unwrap());
}

// ---- DinoHead -------------------------------------------------------------------------------

/// nidl's DINOProjectionHead (float64, train mode) with its weights copied in: output, input
/// gradient and parameter gradients of sum(y·r), and the batch-norm running statistics.
fn head_matches_torch(name: &str, batch_norm: bool, norm_last_layer: bool) {
    let case = format!("dino/head_{name}");
    let cfg = DinoHeadConfig {
        input_dim: 6,
        hidden_dim: 10,
        bottleneck_dim: 4,
        output_dim: 7,
        batch_norm,
        norm_last_layer,
    };
    let mut head = DinoHead::<f64>::new(&cfg, &mut StdRng::seed_from_u64(0)).unwrap();
    let state: Vec<(String, Tensor<f64>)> = head
        .state_dict()
        .into_iter()
        .map(|(n, _)| {
            let t = golden(&case, &n);
            (n, t)
        })
        .collect();
    head.load_state_dict(&state).unwrap();
    let mut g = Graph::new();
    let x = g.param(ParamId::fresh(), &golden(&case, "x"));
    let y = head.forward(&mut g, x).unwrap();
    assert_close(
        &format!("{name} y"),
        &to_f64(g.value(y)),
        &scalar(&case, "y"),
        1e-9,
        1e-9,
    );
    let r = g.input(golden(&case, "r"));
    let p = g.mul(y, r).unwrap();
    let s = g.sum(p).unwrap();
    let grads = g.backward(s).unwrap();
    assert_close(
        &format!("{name} grad x"),
        &to_f64(grads.get(x).unwrap()),
        &scalar(&case, "grad_x"),
        1e-9,
        1e-9,
    );
    let mut trainable = Vec::new();
    head.visit("", &mut |n, st| {
        if let nidl::nn::State::Param(p) = st {
            trainable.push((n.to_string(), p.id()));
        }
    });
    for (n, id) in &trainable {
        assert_close(
            &format!("{name} grad {n}"),
            &to_f64(grads.param(*id).unwrap()),
            &scalar(&case, &format!("grad.{n}")),
            1e-9,
            1e-9,
        );
    }
    // Exactly nidl's trainable set: weight_g only when the last layer is not normalised.
    let has_g = trainable.iter().any(|(n, _)| n == "last_layer.weight_g");
    assert_eq!(has_g, !norm_last_layer);
    // With batch norm: 4 linear tensors + 2 × (γ, β) + v; without: 6 linear tensors + v.
    let expected_names = if batch_norm { 9 } else { 7 } + usize::from(!norm_last_layer);
    assert_eq!(trainable.len(), expected_names, "{trainable:?}");
    if batch_norm {
        for (n, t) in head.state_dict() {
            if n.contains("running") {
                assert_close(
                    &format!("{name} {n}"),
                    &to_f64(&t),
                    &scalar(&case, &format!("after.{n}")),
                    1e-9,
                    1e-9,
                );
            }
        }
    }
}

#[test]
fn dino_head_matches_torch_with_batch_norm_and_fixed_magnitude() {
    head_matches_torch("bn_norm", true, true);
}

#[test]
fn dino_head_matches_torch_without_batch_norm_with_trained_magnitude() {
    head_matches_torch("nobn_free", false, false);
}

#[test]
fn dino_head_gradcheck_names_and_init() {
    let cfg = DinoHeadConfig {
        input_dim: 3,
        hidden_dim: 5,
        bottleneck_dim: 4,
        output_dim: 6,
        batch_norm: true,
        norm_last_layer: false,
    };
    let head = DinoHead::<f64>::new(&cfg, &mut StdRng::seed_from_u64(3)).unwrap();
    let names: Vec<String> = head.state_dict().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "layers.0.weight",
            "layers.1.weight",
            "layers.1.bias",
            "layers.3.weight",
            "layers.4.weight",
            "layers.4.bias",
            "layers.6.weight",
            "layers.6.bias",
            "last_layer.weight_g",
            "last_layer.weight_v",
            "layers.1.running_mean",
            "layers.1.running_var",
            "layers.4.running_mean",
            "layers.4.running_var",
        ]
    );
    let last: Vec<_> = head
        .last_layer_parameters()
        .iter()
        .map(|p| p.id())
        .collect();
    let mut last_by_name = Vec::new();
    head.visit("", &mut |n, st| {
        if let nidl::nn::State::Param(p) = st {
            if is_last_layer_name(n) {
                last_by_name.push(p.id());
            }
        }
    });
    assert_eq!(last, last_by_name);
    assert_eq!(last.len(), 2);
    assert!(is_last_layer_name("head.last_layer.weight_v"));
    assert!(!is_last_layer_name("layers.6.weight"));
    // nidl's init: hidden weights N(0, 0.02), biases 0, g = 1.
    let sd = head.state_dict();
    let get = |n: &str| sd.iter().find(|(k, _)| k == n).unwrap().1.to_vec().unwrap();
    let w0 = get("layers.0.weight");
    let std = (w0.iter().map(|v| v * v).sum::<f64>() / w0.len() as f64).sqrt();
    assert!(std > 0.005 && std < 0.05, "std {std}");
    assert!(get("layers.6.bias").iter().all(|&v| v == 0.0));
    assert!(get("last_layer.weight_g").iter().all(|&v| v == 1.0));
    // Gradient through the whole head w.r.t. its input (train mode, batch statistics).
    let x = randn(&[4, 3], 4);
    check("dino head", &[x], |g, v| {
        let y = head.forward(g, v[0])?;
        let y2 = g.mul(y, y)?;
        g.sum(y2)
    });
}

#[test]
fn dino_head_refuses_zero_widths_and_wrong_inputs() {
    let cfg = DinoHeadConfig {
        bottleneck_dim: 0,
        ..DinoHeadConfig::default()
    };
    match DinoHead::<f32>::new(&cfg, &mut StdRng::seed_from_u64(0)) {
        Err(Error::InvalidArgument { message, .. }) => assert!(message.contains("bottleneck_dim")),
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("accepted a zero width"),
    }
    let cfg = DinoHeadConfig {
        input_dim: 3,
        hidden_dim: 4,
        bottleneck_dim: 2,
        output_dim: 5,
        ..DinoHeadConfig::default()
    };
    let head = DinoHead::<f64>::new(&cfg, &mut StdRng::seed_from_u64(0)).unwrap();
    let mut g = Graph::new();
    let x = g.input(randn(&[4, 2], 1));
    let e = head.forward(&mut g, x).unwrap_err().to_string();
    assert!(e.contains("layers.0") && e.contains("[4, 2]"), "{e}");
}

/// A frozen graph (the teacher's forward) runs batch norm on batch statistics, updates its
/// running statistics, records nothing and refuses a backward pass.
#[test]
fn frozen_graph_trains_batch_norm_without_a_tape() {
    let cfg = DinoHeadConfig {
        input_dim: 3,
        hidden_dim: 4,
        bottleneck_dim: 2,
        output_dim: 5,
        ..DinoHeadConfig::default()
    };
    let head = DinoHead::<f64>::new(&cfg, &mut StdRng::seed_from_u64(0)).unwrap();
    let x = randn(&[6, 3], 2);
    let mut frozen = Graph::frozen();
    assert!(frozen.is_training());
    let xv = frozen.input(x.clone());
    let y_frozen = head.forward(&mut frozen, xv).unwrap();
    let (_, mean_after) = head
        .state_dict()
        .into_iter()
        .find(|(n, _)| n == "layers.1.running_mean")
        .unwrap();
    let mean_after = mean_after.to_vec().unwrap();
    assert!(mean_after.iter().any(|&v| v != 0.0), "running mean moved");
    assert!(frozen.backward(y_frozen).is_err());
    let mut train = Graph::new();
    let xt = train.input(x);
    let y_train = head.forward(&mut train, xt).unwrap();
    assert_eq!(
        frozen.value(y_frozen).to_vec().unwrap(),
        train.value(y_train).to_vec().unwrap(),
        "same batch statistics as a training graph"
    );
}
