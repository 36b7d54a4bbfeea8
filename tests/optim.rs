//! Optimizers and schedules against PyTorch: golden trajectories for Adam and AdamW (f64 to
//! 1e-12 relative, f32 to 1e-5), the CosineAnnealingLR values, a hand-worked SGD case, weight-decay
//! exclusion of 1-D tensors, checkpoint round trips and bad-input errors.

use nidl::datasets::npy::read_tensor;
use nidl::optim::{Adam, AdamW, CosineAnnealingLr, LinearWarmupCosine, LrSchedule, Optimizer, Sgd};
use nidl::{Element, Tensor};
use std::path::PathBuf;

fn golden(case: &str, name: &str) -> Tensor<f64> {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "data",
        case,
        &format!("{name}.npy"),
    ]
    .iter()
    .collect();
    read_tensor::<f64>(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `|a − b| ≤ tol·max(1, |b|)` elementwise (relative for the O(1) parameters here).
fn assert_close<T: Element>(got: &Tensor<T>, want: &Tensor<f64>, tol: f64, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    for (i, (&g, &w)) in got
        .data()
        .unwrap()
        .iter()
        .zip(want.data().unwrap())
        .enumerate()
    {
        let err = (g.to_f64() - w).abs();
        assert!(
            err <= tol * w.abs().max(1.0),
            "{what}[{i}]: got {g}, want {w} (error {err:e}, tolerance {tol:e})"
        );
    }
}

/// Runs `opt` through the golden case's steps in `T`, checking the parameters after each step.
fn run_golden<T: Element, O: Optimizer<T>>(case: &str, mut opt: O, tol: f64) {
    let p0 = golden(case, "p0");
    let grads = golden(case, "grads");
    let params = golden(case, "params");
    let steps = grads.shape()[0];
    assert_eq!(steps, 6);
    let mut p: Tensor<T> = p0.cast().unwrap();
    for s in 0..steps {
        let g: Tensor<T> = grads
            .slice(0, s, s + 1)
            .unwrap()
            .reshape(p0.shape())
            .unwrap()
            .cast()
            .unwrap();
        opt.step(&mut [&mut p], &[&g]).unwrap();
        let want = params
            .slice(0, s, s + 1)
            .unwrap()
            .reshape(p0.shape())
            .unwrap();
        assert_close(
            &p,
            &want,
            tol,
            &format!("{case} {} step {}", T::NAME, s + 1),
        );
    }
}

#[test]
fn adam_matches_torch_f64() {
    // torch.optim.Adam(lr=0.01, betas=(0.9, 0.99), weight_decay=5e-5)
    run_golden::<f64, _>(
        "adam",
        Adam::new(0.01).betas(0.9, 0.99).weight_decay(5e-5),
        1e-12,
    );
}

#[test]
fn adam_matches_torch_f32() {
    run_golden::<f32, _>(
        "adam",
        Adam::new(0.01).betas(0.9, 0.99).weight_decay(5e-5),
        1e-5,
    );
}

#[test]
fn adamw_matches_torch_f64() {
    // torch.optim.AdamW(lr=0.01, weight_decay=0.01): betas (0.9, 0.999), eps 1e-8 by default,
    // and 0.01 is also AdamW's default decay.
    run_golden::<f64, _>("adamw", AdamW::new(0.01).weight_decay(0.01), 1e-12);
    run_golden::<f64, _>("adamw", AdamW::new(0.01), 1e-12);
}

#[test]
fn adamw_matches_torch_f32() {
    run_golden::<f32, _>("adamw", AdamW::new(0.01).weight_decay(0.01), 1e-5);
}

#[test]
fn cosine_annealing_matches_torch() {
    // CosineAnnealingLR(T_max=10, eta_min=lr/50), lr=1e-4, epochs 0..11. Epochs 10 and 11 lie at
    // and past T_max; torch's chained rule (not the closed form) gives these values.
    let lrs = golden("cosine_lr", "lrs");
    assert_eq!(lrs.shape(), &[12]);
    let lr = 1e-4;
    let s = CosineAnnealingLr::new(lr, 10, lr / 50.0).unwrap();
    let got = s.lrs(12);
    for (e, (&g, &w)) in got.iter().zip(lrs.data().unwrap()).enumerate() {
        assert!(
            (g - w).abs() <= 1e-14 * w.abs(),
            "epoch {e}: got {g:e}, want {w:e}"
        );
        assert_eq!(s.lr_at(e), g, "lr_at agrees with lrs at epoch {e}");
    }
    // The closed form is close but is not what torch reports at epoch 11.
    assert!((s.closed_form(11) - lrs.data().unwrap()[11]).abs() < 1e-18);
    assert_ne!(s.closed_form(11), lrs.data().unwrap()[11]);
}

#[test]
fn sgd_hand_worked_momentum_and_nesterov() {
    // One scalar parameter p0 = 1, lr 0.1, momentum 0.9, grads 1 then 2.
    //
    // Heavy ball: step 1 b = g = 1 (the first buffer is the gradient), p = 1 − 0.1·1 = 0.9;
    //             step 2 b = 0.9·1 + 2 = 2.9,                           p = 0.9 − 0.29 = 0.61.
    // Nesterov:   step 1 b = 1, d = g + 0.9·b = 1.9,                    p = 1 − 0.19 = 0.81;
    //             step 2 b = 2.9, d = 2 + 0.9·2.9 = 4.61,               p = 0.81 − 0.461 = 0.349.
    // Dampening 0.5 (ignored on the first step): b = 1, p = 0.9; b = 0.9 + 0.5·2 = 1.9, p = 0.71.
    // Weight decay 0.5: g' = 1 + 0.5·1 = 1.5, b = 1.5, p = 1 − 0.15 = 0.85;
    //             g' = 2 + 0.5·0.85 = 2.425, b = 0.9·1.5 + 2.425 = 3.775, p = 0.85 − 0.3775 = 0.4725.
    // No momentum: p = 1 − 0.1 = 0.9, then 0.9 − 0.2 = 0.7.
    let cases: Vec<(Sgd<f64>, [f64; 2])> = vec![
        (Sgd::new(0.1).momentum(0.9), [0.9, 0.61]),
        (Sgd::new(0.1).momentum(0.9).nesterov(true), [0.81, 0.349]),
        (Sgd::new(0.1).momentum(0.9).dampening(0.5), [0.9, 0.71]),
        (
            Sgd::new(0.1).momentum(0.9).weight_decay(0.5),
            [0.85, 0.4725],
        ),
        (Sgd::new(0.1), [0.9, 0.7]),
    ];
    for (k, (mut opt, want)) in cases.into_iter().enumerate() {
        let mut p = Tensor::from_vec(vec![1.0], &[1, 1]).unwrap();
        for (s, g) in [1.0, 2.0].into_iter().enumerate() {
            let g = Tensor::from_vec(vec![g], &[1, 1]).unwrap();
            opt.step(&mut [&mut p], &[&g]).unwrap();
            let got = p.data().unwrap()[0];
            assert!(
                (got - want[s]).abs() < 1e-14,
                "case {k} step {}: {got} vs {}",
                s + 1,
                want[s]
            );
        }
    }
}

/// A 2-D weight and a 1-D bias, both 1.0, stepped once with zero gradients: only weight decay
/// moves them. Returns (weight value, bias value).
fn decay_only<O: Optimizer<f64>>(mut opt: O) -> (f64, f64) {
    let mut w = Tensor::full(&[2, 3], 1.0);
    let mut b = Tensor::full(&[3], 1.0);
    let gw = Tensor::zeros(&[2, 3]);
    let gb = Tensor::zeros(&[3]);
    opt.step(&mut [&mut w, &mut b], &[&gw, &gb]).unwrap();
    assert!(w.data().unwrap().iter().all(|&v| v == w.data().unwrap()[0]));
    assert!(b.data().unwrap().iter().all(|&v| v == b.data().unwrap()[0]));
    (w.data().unwrap()[0], b.data().unwrap()[0])
}

#[test]
fn exclude_1d_from_decay() {
    // AdamW with zero gradients: m = v = 0, so the Adam update is 0/(0 + eps) = 0 and only the
    // decoupled decay p·(1 − lr·wd) = 1 − 0.1·0.5 = 0.95 acts.
    assert_eq!(decay_only(AdamW::new(0.1).weight_decay(0.5)), (0.95, 0.95));
    assert_eq!(
        decay_only(
            AdamW::new(0.1)
                .weight_decay(0.5)
                .exclude_1d_from_decay(true)
        ),
        (0.95, 1.0)
    );
    // SGD: g' = 0 + 0.5·1, p = 1 − 0.1·0.5 = 0.95.
    assert_eq!(decay_only(Sgd::new(0.1).weight_decay(0.5)), (0.95, 0.95));
    assert_eq!(
        decay_only(Sgd::new(0.1).weight_decay(0.5).exclude_1d_from_decay(true)),
        (0.95, 1.0)
    );
    // Adam: the L2 term makes g' = 0.5, and the first Adam step moves p by −lr·sign(g') (up to
    // eps): 1 − 0.1 = 0.9. Excluded, the bias sees a zero gradient and stays at 1.
    let (w, b) = decay_only(Adam::new(0.1).weight_decay(0.5));
    assert!((w - 0.9).abs() < 1e-7 && (b - 0.9).abs() < 1e-7, "{w} {b}");
    let (w, b) = decay_only(Adam::new(0.1).weight_decay(0.5).exclude_1d_from_decay(true));
    assert!((w - 0.9).abs() < 1e-7 && b == 1.0, "{w} {b}");
}

/// Steps `make()` three times, checkpoints its state, restores it into a fresh `make()`, and
/// checks both continue identically for three more steps.
fn round_trip<T: Element, O: Optimizer<T>>(make: impl Fn() -> O) {
    let shapes: [&[usize]; 3] = [&[4, 3], &[3], &[2, 2, 2]];
    let grad = |s: usize, i: usize, shape: &[usize]| {
        let n: usize = shape.iter().product();
        let v = (0..n)
            .map(|k| T::from_f64((((s * 31 + i * 17 + k * 7) % 13) as f64 - 6.0) / 4.0))
            .collect();
        Tensor::from_vec(v, shape).unwrap()
    };
    let mut params: Vec<Tensor<T>> = shapes
        .iter()
        .map(|s| Tensor::full(s, T::from_f64(0.5)))
        .collect();
    let mut a = make();
    assert!(a.state().is_empty(), "no state before the first step");
    let step = |opt: &mut O, params: &mut Vec<Tensor<T>>, s: usize| {
        let grads: Vec<Tensor<T>> = shapes
            .iter()
            .enumerate()
            .map(|(i, sh)| grad(s, i, sh))
            .collect();
        let grad_refs: Vec<&Tensor<T>> = grads.iter().collect();
        let mut refs: Vec<&mut Tensor<T>> = params.iter_mut().collect();
        opt.step(&mut refs, &grad_refs).unwrap();
    };
    for s in 0..3 {
        step(&mut a, &mut params, s);
    }
    let saved = a.state();
    assert!(!saved.is_empty());
    let mut b = make();
    b.load_state(&saved).unwrap();
    assert_eq!(b.state(), saved);
    let mut params_b = params.clone();
    for s in 3..6 {
        step(&mut a, &mut params, s);
        step(&mut b, &mut params_b, s);
    }
    assert_eq!(params, params_b, "restored optimizer continues bit for bit");
    assert_eq!(a.state(), b.state());
    // A state for other shapes is rejected at the next step.
    let mut c = make();
    c.load_state(&saved).unwrap();
    let mut wrong = Tensor::full(&[3, 4], T::ONE);
    let (mut p1, mut p2) = (params[1].clone(), params[2].clone());
    let g0 = Tensor::zeros(&[3, 4]);
    let (g1, g2) = (Tensor::zeros(&[3]), Tensor::zeros(&[2, 2, 2]));
    let err = c
        .step(&mut [&mut wrong, &mut p1, &mut p2], &[&g0, &g1, &g2])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("params[0]") && err.contains("[4, 3]") && err.contains("[3, 4]"),
        "{err}"
    );
    // An empty state resets the optimizer.
    c.load_state(&[]).unwrap();
    assert!(c.state().is_empty());
}

#[test]
fn state_round_trip_continues_identically() {
    round_trip::<f64, _>(|| Adam::new(0.01).betas(0.9, 0.99).weight_decay(5e-5));
    round_trip::<f32, _>(|| AdamW::new(0.01).exclude_1d_from_decay(true));
    round_trip::<f64, _>(|| {
        Sgd::new(0.05)
            .momentum(0.9)
            .nesterov(true)
            .weight_decay(1e-3)
    });
    round_trip::<f32, _>(|| Sgd::new(0.05).momentum(0.8).dampening(0.1));
}

#[test]
fn state_names_and_bad_states() {
    let mut opt = Adam::<f64>::new(0.01);
    let mut p = Tensor::full(&[2, 2], 1.0);
    let g = Tensor::full(&[2, 2], 0.5);
    opt.step(&mut [&mut p], &[&g]).unwrap();
    opt.step(&mut [&mut p], &[&g]).unwrap();
    let state = opt.state();
    let names: Vec<&str> = state.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["step", "exp_avg.0", "exp_avg_sq.0"]);
    assert_eq!(state[0].1.data().unwrap(), &[2.0]);
    assert_eq!(opt.steps_taken(), 2);

    let mut fresh = Adam::<f64>::new(0.01);
    let missing_step: Vec<_> = state[1..].to_vec();
    let err = fresh.load_state(&missing_step).unwrap_err().to_string();
    assert!(err.contains("\"step\" missing"), "{err}");
    let mut bad_step = state.clone();
    bad_step[0].1 = Tensor::scalar(1.5);
    assert!(fresh.load_state(&bad_step).is_err());
    let mut unknown = state.clone();
    unknown.push(("momentum_buffer.0".into(), Tensor::zeros(&[2, 2])));
    let err = fresh.load_state(&unknown).unwrap_err().to_string();
    assert!(
        err.contains("Adam::load_state") && err.contains("momentum_buffer.0"),
        "{err}"
    );
    // Momentum buffers are refused by an SGD without momentum.
    let sgd_state = vec![("momentum_buffer.0".to_string(), Tensor::<f64>::zeros(&[2]))];
    assert!(Sgd::<f64>::new(0.1).load_state(&sgd_state).is_err());
    assert!(Sgd::<f64>::new(0.1)
        .momentum(0.9)
        .load_state(&sgd_state)
        .is_ok());
}

#[test]
fn shape_mismatch_errors() {
    let mut w = Tensor::<f32>::zeros(&[4, 3]);
    let mut b = Tensor::<f32>::zeros(&[3]);
    let gw = Tensor::<f32>::zeros(&[3, 4]);
    let gb = Tensor::<f32>::zeros(&[3]);
    let optimizers: Vec<Box<dyn Optimizer<f32>>> = vec![
        Box::new(Sgd::new(0.1).momentum(0.9)),
        Box::new(Adam::new(0.1)),
        Box::new(AdamW::new(0.1)),
    ];
    for mut opt in optimizers {
        let err = opt
            .step(&mut [&mut b, &mut w], &[&gb, &gw])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("grads[1]") && err.contains("[4, 3]") && err.contains("[3, 4]"),
            "{err}"
        );
        let err = opt
            .step(&mut [&mut b, &mut w], &[&gb])
            .unwrap_err()
            .to_string();
        assert!(err.contains("2 parameter tensors but 1 gradient"), "{err}");
        assert!(opt.state().is_empty(), "failed steps build no state");
        assert_eq!(w.data().unwrap(), &[0.0; 12]);
        // Once built, the list may not change length.
        opt.step(&mut [&mut b], &[&gb]).unwrap();
        let err = opt
            .step(&mut [&mut b, &mut w], &[&gb, &gw])
            .unwrap_err()
            .to_string();
        assert!(err.contains("grads[1]"), "{err}");
        let gw_ok = Tensor::<f32>::zeros(&[4, 3]);
        let err = opt
            .step(&mut [&mut b, &mut w], &[&gb, &gw_ok])
            .unwrap_err()
            .to_string();
        assert!(err.contains("built for 1"), "{err}");
    }
}

#[test]
fn set_lr_drives_the_update() {
    // A schedule sets the rate each step; SGD without momentum moves p by exactly −lr·g.
    let sched = LinearWarmupCosine::new(0.4, 2, 6).unwrap();
    let mut opt = Sgd::<f64>::new(sched.initial_lr());
    let mut p = Tensor::full(&[1], 0.0);
    let g = Tensor::full(&[1], 1.0);
    let mut expected = 0.0;
    for t in 0..6 {
        if t > 0 {
            let lr = sched.next_lr(t, opt.lr());
            opt.set_lr(lr);
        }
        assert_eq!(opt.lr(), sched.lr_at(t));
        expected -= opt.lr();
        opt.step(&mut [&mut p], &[&g]).unwrap();
        assert!((p.data().unwrap()[0] - expected).abs() < 1e-15);
    }
}
