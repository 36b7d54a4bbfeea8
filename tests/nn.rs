//! Layers: naming, initialisation bounds, state round trips, evaluation mode, bad input.

mod common;

use common::gradcheck_module;
use nidl::autograd::Graph;
use nidl::nn::{BatchNorm1d, HeadBlock, LeNet, Linear, Mlp, Module, ProjectionHead};
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
    let w = l.weight.value.data().unwrap();
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
    assert!(
        (rm.data().unwrap()[0] - 0.2).abs() < 1e-15 && (rv.data().unwrap()[0] - 1.1).abs() < 1e-15
    );
    let mut e = Graph::inference();
    let x = e.input(Tensor::from_vec(vec![0.2, 1.2], &[2, 1]).unwrap());
    let y = bn.forward(&mut e, x).unwrap();
    let s = (1.1f64 + 1e-5).sqrt();
    assert!((e.value(y).data().unwrap()[1] - 1.0 / s).abs() < 1e-12);
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
    gradcheck_module(&BatchNorm1d::<f64>::new(3), &[6, 3], 3, 7);
}

#[test]
fn inference_graph_records_nothing() {
    let net = LeNet::<f32>::new(4, &mut StdRng::seed_from_u64(9)).unwrap();
    let mut g = Graph::inference();
    let x = g.input(Tensor::zeros(&[1, 1, 28, 28]));
    let y = net.forward(&mut g, x).unwrap();
    assert!(g.backward(y).is_err());
}

#[test]
fn barlow_twins_head_has_nidls_layers_and_state_names() {
    let head = ProjectionHead::<f64>::barlow_twins(4, 6, 3, &mut StdRng::seed_from_u64(1)).unwrap();
    let state: Vec<(String, Vec<usize>)> = head
        .state_dict()
        .into_iter()
        .map(|(n, t)| (n, t.shape().to_vec()))
        .collect();
    // Parameters first, then buffers, in module order (PyTorch's `state_dict` keys; its
    // `num_batches_tracked` counters are not kept). No bias on the linears before a batch norm.
    let expected: Vec<(String, Vec<usize>)> = [
        ("layers.0.weight", vec![6, 4]),
        ("layers.1.weight", vec![6]),
        ("layers.1.bias", vec![6]),
        ("layers.3.weight", vec![6, 6]),
        ("layers.4.weight", vec![6]),
        ("layers.4.bias", vec![6]),
        ("layers.6.weight", vec![3, 6]),
        ("layers.6.bias", vec![3]),
        ("layers.1.running_mean", vec![6]),
        ("layers.1.running_var", vec![6]),
        ("layers.4.running_mean", vec![6]),
        ("layers.4.running_var", vec![6]),
    ]
    .into_iter()
    .map(|(n, s)| (n.to_string(), s))
    .collect();
    assert_eq!(state, expected);
    assert_eq!(head.blocks().len(), 3);
    // 24 + 12 + 36 + 12 + 18 + 3 parameters.
    assert_eq!(head.num_parameters(), 105);
    // Training updates the running statistics; evaluation uses them; both give [N, 3].
    let x = Tensor::<f64>::rand_normal(&[5, 4], 0.0, 1.0, &mut StdRng::seed_from_u64(2));
    let mut g = Graph::new();
    let xv = g.input(x.clone());
    let y = head.forward(&mut g, xv).unwrap();
    assert_eq!(g.value(y).shape(), &[5, 3]);
    let moved = head.state_dict();
    assert_ne!(
        moved[8].1.data().unwrap(),
        &[0.0; 6][..],
        "running mean moved"
    );
    let mut e = Graph::inference();
    let xv = e.input(x);
    let ye = head.forward(&mut e, xv).unwrap();
    assert_eq!(e.value(ye).shape(), &[5, 3]);
    // State round trip into a head drawn from another seed.
    let mut other =
        ProjectionHead::<f64>::barlow_twins(4, 6, 3, &mut StdRng::seed_from_u64(9)).unwrap();
    other.load_state_dict(&moved).unwrap();
    assert_eq!(other.state_dict(), moved);
}

#[test]
fn projection_head_gradient_check_through_batch_norm() {
    let head = ProjectionHead::<f64>::barlow_twins(3, 5, 2, &mut StdRng::seed_from_u64(3)).unwrap();
    gradcheck_module(&head, &[6, 3], 2, 4);
}

#[test]
fn projection_head_bad_blocks_are_errors() {
    let block = |i, o| HeadBlock {
        in_features: i,
        out_features: o,
        batch_norm: false,
        relu: true,
    };
    let mut rng = StdRng::seed_from_u64(0);
    let err = |blocks: &[HeadBlock]| {
        ProjectionHead::<f32>::new(blocks, &mut StdRng::seed_from_u64(0))
            .err()
            .unwrap()
            .to_string()
    };
    assert!(err(&[]).contains("no blocks"));
    assert!(err(&[block(3, 0)]).contains("positive widths"));
    let e = err(&[block(3, 4), block(5, 2)]);
    assert!(
        e.contains("block 1 takes 5 features but block 0 gives 4"),
        "{e}"
    );
    let ok = ProjectionHead::<f32>::new(&[block(3, 4), block(4, 2)], &mut rng).unwrap();
    let names: Vec<String> = ok.state_dict().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "layers.0.weight",
            "layers.0.bias",
            "layers.2.weight",
            "layers.2.bias"
        ]
    );
}

/// A user's module: a child module, a raw parameter and a child with buffers, named in one line.
struct Custom {
    fc: nidl::nn::Linear<f64>,
    scale: nidl::nn::Param<f64>,
    norm: nidl::nn::BatchNorm1d<f64>,
}

impl Module<f64> for Custom {
    fn forward(
        &self,
        g: &mut nidl::autograd::Graph<f64>,
        x: nidl::autograd::Var,
    ) -> nidl::Result<nidl::autograd::Var> {
        let h = self.fc.forward(g, x)?;
        let s = self.scale.var(g);
        let h = g.mul(h, s)?;
        self.norm.forward(g, h)
    }
    nidl::params!(f64; fc, scale, norm);
}

#[test]
fn params_macro_names_child_modules_and_raw_parameters_in_order() {
    let mut rng = StdRng::seed_from_u64(1);
    let mut m = Custom {
        fc: nidl::nn::Linear::new(3, 2, true, &mut rng),
        scale: nidl::nn::Param::new(Tensor::ones(&[2])),
        norm: nidl::nn::BatchNorm1d::new(2),
    };
    let names: Vec<String> = m.state_dict().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "fc.weight",
            "fc.bias",
            "scale",
            "norm.weight",
            "norm.bias",
            "norm.running_mean",
            "norm.running_var"
        ]
    );
    assert_eq!(m.parameters().len(), 5);
    assert_eq!(m.num_parameters(), 6 + 2 + 2 + 2 + 2);
    assert_eq!(nidl::nn::param_values_mut(&mut m).len(), 5);
    // Prefixed names, as an estimator sees them, through the public joiner.
    let mut seen = Vec::new();
    m.visit("encoder", &mut |n, _| seen.push(n.to_string()));
    assert_eq!(seen[2], nidl::nn::join("encoder", "scale"));
    assert_eq!(seen[2], "encoder.scale");
    // A state dict round-trips through load_state_dict, buffers included.
    let mut state = m.state_dict();
    state[2].1 = Tensor::from_vec(vec![2.0, 3.0], &[2]).unwrap();
    state[5].1 = Tensor::from_vec(vec![0.5, -0.5], &[2]).unwrap();
    m.load_state_dict(&state).unwrap();
    assert_eq!(m.scale.value.data().unwrap(), [2.0, 3.0]);
    assert_eq!(m.norm.running_stats().0.data().unwrap(), [0.5, -0.5]);
}
