//! Unit tests for the optimizer internals: list checks, state parsing, and the schedules'
//! chained rules.

use super::*;

fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(data.to_vec(), shape).unwrap()
}

#[test]
fn layout_rejects_length_and_shape_changes() {
    let mut layout = Layout::default();
    let mut a = t(&[1.0, 2.0], &[2]);
    let mut b = t(&[1.0; 6], &[2, 3]);
    let ga = t(&[0.0; 2], &[2]);
    let gb = t(&[0.0; 6], &[2, 3]);
    let gb_bad = t(&[0.0; 6], &[3, 2]);
    // grad shape differs from its param: the message names the index and both shapes.
    let err = layout
        .check("op", &[&mut a, &mut b], &[&ga, &gb_bad])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("grads[1]") && err.contains("[2, 3]") && err.contains("[3, 2]"),
        "{err}"
    );
    assert!(!layout.is_built(), "a failed check must not record shapes");
    // list lengths differ.
    let err = layout
        .check("op", &[&mut a, &mut b], &[&ga])
        .unwrap_err()
        .to_string();
    assert!(err.contains("2 parameter tensors but 1 gradient"), "{err}");
    layout.check("op", &[&mut a, &mut b], &[&ga, &gb]).unwrap();
    assert!(layout.is_built());
    // the list shrinks after the state was built.
    let err = layout
        .check("op", &[&mut a], &[&ga])
        .unwrap_err()
        .to_string();
    assert!(err.contains("built for 2"), "{err}");
    // a shape changes after the state was built.
    let mut b2 = t(&[1.0; 6], &[3, 2]);
    let err = layout
        .check("op", &[&mut a, &mut b2], &[&ga, &gb_bad])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("params[1]") && err.contains("[2, 3]") && err.contains("[3, 2]"),
        "{err}"
    );
}

#[test]
fn parse_state_accepts_any_order_and_rejects_bad_names() {
    let s = |name: &str, v: Tensor<f64>| (name.to_string(), v);
    let ok = vec![
        s("b.1", t(&[4.0], &[1])),
        s("a.0", t(&[1.0, 2.0], &[2])),
        s("step", Tensor::scalar(3.0)),
        s("b.0", t(&[3.0, 3.0], &[2])),
        s("a.1", t(&[5.0], &[1])),
    ];
    let p = parse_state("op", &ok, &["step"], &["a", "b"]).unwrap();
    assert_eq!(p.scalars, vec![Some(3.0)]);
    assert_eq!(p.lists[0][0].data().unwrap(), &[1.0, 2.0]);
    assert_eq!(p.lists[1][1].data().unwrap(), &[4.0]);

    let unknown = vec![s("c.0", t(&[1.0], &[1]))];
    let err = parse_state("op", &unknown, &["step"], &["a"])
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("unknown state entry \"c.0\""), "{err}");

    let gap = vec![s("a.0", t(&[1.0], &[1])), s("a.2", t(&[1.0], &[1]))];
    let err = parse_state("op", &gap, &[], &["a"])
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("\"a.1\" missing"), "{err}");

    let dup = vec![
        s("step", Tensor::scalar(1.0)),
        s("step", Tensor::scalar(1.0)),
    ];
    let err = parse_state("op", &dup, &["step"], &[])
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("twice"), "{err}");

    let uneven = vec![s("a.0", t(&[1.0], &[1])), s("b.0", t(&[1.0, 2.0], &[2]))];
    let err = parse_state("op", &uneven, &[], &["a", "b"])
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("of one shape"), "{err}");

    let counts = vec![s("a.0", t(&[1.0], &[1]))];
    let err = parse_state("op", &counts, &[], &["a", "b"])
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("0 \"b.<i>\" entries but 1"), "{err}");
}

#[test]
fn step_results_do_not_depend_on_the_thread_count() {
    // Three chunks of the CPU update (1 << 14 elements each) and a ragged tail.
    let n = 3 * (1 << 14) + 5;
    let p0: Vec<f32> = (0..n).map(|i| ((i % 97) as f32 - 48.0) / 10.0).collect();
    let g: Vec<f32> = (0..n).map(|i| ((i % 89) as f32 - 44.0) / 50.0).collect();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut p = Tensor::from_vec(p0.clone(), &[n]).unwrap();
            let g = Tensor::from_vec(g.clone(), &[n]).unwrap();
            let mut opt = AdamW::new(1e-2);
            for _ in 0..3 {
                opt.step(&mut [&mut p], &[&g]).unwrap();
            }
            p
        })
    };
    assert_eq!(run(1), run(4));
}

#[test]
fn hyperparameters_are_checked_at_step() {
    let mut p = t(&[1.0], &[1]);
    let g = t(&[1.0], &[1]);
    let err = Adam::new(1e-3)
        .betas(0.9, 1.0)
        .step(&mut [&mut p], &[&g])
        .unwrap_err();
    assert!(err.to_string().contains("betas.1"), "{err}");
    let err = AdamW::new(-1.0).step(&mut [&mut p], &[&g]).unwrap_err();
    assert!(err.to_string().contains("lr"), "{err}");
    let err = Sgd::new(0.1)
        .nesterov(true)
        .step(&mut [&mut p], &[&g])
        .unwrap_err();
    assert!(err.to_string().contains("Nesterov"), "{err}");
    assert_eq!(
        p.data().unwrap(),
        &[1.0],
        "a rejected step leaves the parameters alone"
    );
}

#[test]
fn cosine_chained_rule_tracks_the_closed_form_and_wraps() {
    let s = CosineAnnealingLr::new(1.0, 4, 0.1).unwrap();
    for e in 0..=4 {
        assert!((s.lr_at(e) - s.closed_form(e)).abs() < 1e-15, "epoch {e}");
    }
    assert!((s.lr_at(4) - 0.1).abs() < 1e-15);
    // Past T_max the chained rule climbs back: lr_{T+k} = lr_{T−k}.
    for k in 1..=4 {
        assert!((s.lr_at(4 + k) - s.lr_at(4 - k)).abs() < 1e-14, "k {k}");
    }
    assert_eq!(s.lrs(6)[5], s.lr_at(5));
    assert!(CosineAnnealingLr::new(1.0, 0, 0.0).is_err());
}

#[test]
fn linear_warmup_cosine_follows_bolts() {
    // W = 5, M = 15, base 1, start 0, eta_min 0.
    let s = LinearWarmupCosine::new(1.0, 5, 15).unwrap();
    let lrs = s.lrs(17);
    // Warmup: t·(1 − 0)/(W − 1) = t/4, reaching base at t = 4 and staying at t = 5.
    for (t, want) in [0.0, 0.25, 0.5, 0.75, 1.0, 1.0].iter().enumerate() {
        assert!((lrs[t] - want).abs() < 1e-15, "t {t}: {}", lrs[t]);
    }
    // Cosine: (1 + cos(π(t − 5)/10))/2, 0 at t = 15, then back up.
    for (t, &lr) in lrs.iter().enumerate().skip(5) {
        let want = (1.0 + (std::f64::consts::PI * (t - 5) as f64 / 10.0).cos()) / 2.0;
        assert!((lr - want).abs() < 1e-14, "t {t}: {lr} vs {want}");
        assert!((lr - s.closed_form(t)).abs() < 1e-14);
    }
    assert!(lrs[15].abs() < 1e-15);
    // Start factor and eta_min.
    let s = LinearWarmupCosine::new(2.0, 3, 10)
        .unwrap()
        .start_lr_factor(0.1)
        .eta_min(0.5);
    assert_eq!(s.lr_at(0), 0.2);
    assert!((s.lr_at(1) - 1.1).abs() < 1e-15);
    assert_eq!(s.lr_at(3), 2.0);
    assert!((s.lr_at(10) - 0.5).abs() < 1e-15);
    // No warmup: the rate starts at base.
    let s = LinearWarmupCosine::new(1.0, 0, 4).unwrap();
    assert_eq!(s.lr_at(0), 1.0);
    assert!((s.lr_at(2) - 0.5).abs() < 1e-15);
    // One warmup step: start, then base.
    let s = LinearWarmupCosine::new(1.0, 1, 4).unwrap();
    assert_eq!((s.lr_at(0), s.lr_at(1)), (0.0, 1.0));
    assert!(LinearWarmupCosine::new(1.0, 4, 4).is_err());
}
