//! Layers: naming, initialisation bounds, state round trips, evaluation mode, bad input.

use nidl::autograd::gradcheck::check_gradients;
use nidl::autograd::Graph;
use nidl::nn::{BatchNorm1d, LeNet, Linear, Mlp, Module};
use nidl::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

#[test]
fn lenet_state_names_and_sizes_match_the_pytorch_module() {
    let net = LeNet::<f32>::new(32, &mut StdRng::seed_from_u64(0)).unwrap();
    let names: Vec<String> = net.state_dict().into_iter().map(|(n, _)| n).collect();
    let expected = [
        "conv1.weight",
        "conv1.bias",
        "conv2.weight",
        "conv2.bias",
        "fc1.weight",
        "fc1.bias",
        "fc2.weight",
        "fc2.bias",
        "fc3.weight",
        "fc3.bias",
    ];
    assert_eq!(names, expected);
    // 6·25+6 + 16·150+16 + 400·120+120 + 120·84+84 + 84·32+32, counted by hand.
    assert_eq!(net.num_parameters(), 156 + 2416 + 48120 + 10164 + 2720);
}

#[test]
fn default_init_is_uniform_within_one_over_sqrt_fan_in() {
    let l = Linear::<f64>::new(400, 120, true, &mut StdRng::seed_from_u64(1));
    let bound = 1.0 / 400f64.sqrt();
    let w = l.weight.value.data();
    assert!(w.iter().all(|v| v.abs() <= bound));
    // Uniform on ±b has variance b²/3; 48 000 draws pin it within a few percent.
    let var = w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64;
    assert!(
        (var / (bound * bound / 3.0) - 1.0).abs() < 0.05,
        "variance ratio {}",
        var / (bound * bound / 3.0)
    );
}

#[test]
fn mlp_follows_torchvision_layout() {
    let mlp = Mlp::<f64>::new(284, &[64, 32], &mut StdRng::seed_from_u64(2)).unwrap();
    let names: Vec<String> = mlp.state_dict().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["0.weight", "0.bias", "3.weight", "3.bias"]);
    let mut g = Graph::inference();
    let x = g.input(Tensor::ones(&[5, 284]));
    let y = mlp.forward(&mut g, x).unwrap();
    assert_eq!(g.value(y).shape(), &[5, 32]);
    assert!(Mlp::<f64>::new(3, &[], &mut StdRng::seed_from_u64(2)).is_err());
}

#[test]
fn state_dict_round_trip_and_rejected_load_changes_nothing() {
    let a = LeNet::<f64>::new(8, &mut StdRng::seed_from_u64(3)).unwrap();
    let mut b = LeNet::<f64>::new(8, &mut StdRng::seed_from_u64(4)).unwrap();
    b.load_state_dict(&a.state_dict()).unwrap();
    assert_eq!(a.state_dict(), b.state_dict());
    let before = b.state_dict();
    let mut bad = a.state_dict();
    bad[3].1 = Tensor::zeros(&[2]);
    let e = b.load_state_dict(&bad).unwrap_err().to_string();
    assert!(
        e.contains("conv2.bias") && e.contains("[16]") && e.contains("[2]"),
        "{e}"
    );
    bad[3].1 = Tensor::zeros(&[16]);
    bad.truncate(9);
    let e = b.load_state_dict(&bad).unwrap_err().to_string();
    assert!(e.contains("fc3.bias"), "{e}");
    assert_eq!(b.state_dict(), before);
}

#[test]
fn wrong_input_shapes_are_errors_naming_the_layer() {
    let net = LeNet::<f32>::new(4, &mut StdRng::seed_from_u64(5)).unwrap();
    let mut g = Graph::new();
    let x = g.input(Tensor::zeros(&[2, 1, 27, 28]));
    let e = net.forward(&mut g, x).unwrap_err().to_string();
    assert!(e.contains("LeNet") && e.contains("[2, 1, 27, 28]"), "{e}");
    let l = Linear::<f32>::new(3, 2, true, &mut StdRng::seed_from_u64(6));
    let x = g.input(Tensor::zeros(&[4, 5]));
    let e = l.forward(&mut g, x).unwrap_err().to_string();
    assert!(e.contains("Linear") && e.contains("[4, 5]"), "{e}");
}

#[test]
fn batch_norm_eval_uses_running_stats_and_train_rejects_batch_of_one() {
    // After one training step on x with batch mean μ and unbiased variance s², running stats are
    // 0.9·0 + 0.1·μ and 0.9·1 + 0.1·s². Here x = [[1], [3]]: μ = 2, s² = 2.
    let bn = BatchNorm1d::<f64>::new(1);
    let mut g = Graph::new();
    let x = g.input(Tensor::from_vec(vec![1.0, 3.0], &[2, 1]).unwrap());
    bn.forward(&mut g, x).unwrap();
    let (rm, rv) = bn.running_stats();
    assert!((rm.data()[0] - 0.2).abs() < 1e-15 && (rv.data()[0] - 1.1).abs() < 1e-15);
    let mut e = Graph::inference();
    let x = e.input(Tensor::from_vec(vec![0.2, 1.2], &[2, 1]).unwrap());
    let y = bn.forward(&mut e, x).unwrap();
    let s = (1.1f64 + 1e-5).sqrt();
    assert!((e.value(y).data()[1] - 1.0 / s).abs() < 1e-12);
    let mut g = Graph::new();
    let one = g.input(Tensor::zeros(&[1, 1]));
    assert!(bn
        .forward(&mut g, one)
        .unwrap_err()
        .to_string()
        .contains("more than 1 value"));
}

#[test]
fn batch_norm_gradient_check() {
    let x = Tensor::<f64>::rand_normal(&[6, 3], 0.0, 1.0, &mut StdRng::seed_from_u64(7));
    let w = Tensor::<f64>::rand_normal(&[6, 3], 0.0, 1.0, &mut StdRng::seed_from_u64(8));
    let r = check_gradients(&[x], 1e-6, |g, v| {
        let bn = BatchNorm1d::<f64>::new(3);
        let y = bn.forward(g, v[0])?;
        let wv = g.input(w.clone());
        let p = g.mul(y, wv)?;
        g.sum(p)
    })
    .unwrap();
    assert!(r.max_rel_error <= 1e-6, "{r:?}");
}

#[test]
fn inference_graph_records_nothing() {
    let net = LeNet::<f32>::new(4, &mut StdRng::seed_from_u64(9)).unwrap();
    let mut g = Graph::inference();
    let x = g.input(Tensor::zeros(&[1, 1, 28, 28]));
    let y = net.forward(&mut g, x).unwrap();
    assert!(g.backward(y).is_err());
}
