//! The configurable encoders: `ConvNet` (geometry, names, sizes, forward/backward, bad
//! geometry) and `Mlp::with_batch_norm` (torchvision's layout with `norm_layer`).

mod common;

use common::gradcheck_module;
use nidl::autograd::Graph;
use nidl::nn::{param_grads, ConvBlock, ConvNet, Mlp, Module, Pooling};
use nidl::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// 3×20×24 → conv(8, k3, p1) 8×20×24 → avg 2: 8×10×12 → conv(16, k3, s2) 16×4×5
/// ((10 − 3)/2 + 1 = 4, (12 − 3)/2 + 1 = 5) → flatten 320 → linear 10.
fn small_net() -> ConvNet<f32> {
    let blocks = [
        ConvBlock::new(8, 3).padding(1).pooling(Pooling::Avg(2)),
        ConvBlock::new(16, 3).stride(2),
    ];
    ConvNet::new([3, 20, 24], &blocks, 10, &mut StdRng::seed_from_u64(0)).unwrap()
}

#[test]
fn convnet_sizes_and_names_match_a_hand_count() {
    let net = small_net();
    assert_eq!(net.flattened(), 16 * 4 * 5);
    assert_eq!(net.latent(), 10);
    assert_eq!(net.input_shape(), [3, 20, 24]);
    // conv1 8·3·9 + 8 = 224, conv2 16·8·9 + 16 = 1168, linear 320·10 + 10 = 3210.
    assert_eq!(net.num_parameters(), 224 + 1168 + 3210);
    // nn.Sequential(Conv2d, ReLU, AvgPool2d, Conv2d, ReLU, Flatten, Linear).
    let names: Vec<String> = net.state_dict().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["0.weight", "0.bias", "3.weight", "3.bias", "6.weight", "6.bias"]
    );
    let shapes: Vec<Vec<usize>> = net
        .state_dict()
        .into_iter()
        .map(|(_, t)| t.shape().to_vec())
        .collect();
    assert_eq!(
        shapes,
        [
            vec![8, 3, 3, 3],
            vec![8],
            vec![16, 8, 3, 3],
            vec![16],
            vec![10, 320],
            vec![10]
        ]
    );
    // PyTorch's default bounds: ±1/√fan_in.
    let w = net.parameters()[2].value.data().unwrap().to_vec();
    let bound = 1.0 / (8.0f32 * 9.0).sqrt();
    assert!(w.iter().all(|v| v.abs() <= bound));
}

#[test]
fn convnet_forward_and_backward_run() {
    let net = small_net();
    let mut rng = StdRng::seed_from_u64(1);
    let x = Tensor::<f32>::rand_normal(&[2, 3, 20, 24], 0.0, 1.0, &mut rng);
    let mut g = Graph::new();
    let xv = g.input(x);
    let y = net.forward(&mut g, xv).unwrap();
    assert_eq!(g.value(y).shape(), &[2, 10]);
    let sq = g.mul(y, y).unwrap();
    let loss = g.sum(sq).unwrap();
    let grads = g.backward(loss).unwrap();
    let pg = param_grads(&net, &grads);
    assert_eq!(pg.len(), 6);
    for (p, gr) in net.parameters().iter().zip(&pg) {
        assert_eq!(p.value.shape(), gr.shape());
        assert!(gr.data().unwrap().iter().all(|v| v.is_finite()));
    }
    // Every parameter gets a gradient (no dead branch in the stack).
    assert!(pg
        .iter()
        .all(|t| t.data().unwrap().iter().any(|&v| v != 0.0)));

    // A wrong image size is a shape error naming the expected input.
    let mut g = Graph::inference();
    let bad = g.input(Tensor::zeros(&[2, 3, 24, 20]));
    let m = net.forward(&mut g, bad).unwrap_err().to_string();
    assert!(
        m.contains("ConvNet") && m.contains("[batch, 3, 20, 24]") && m.contains("[2, 3, 24, 20]"),
        "{m}"
    );
}

#[test]
fn convnet_gradient_matches_finite_differences() {
    let blocks = [ConvBlock::new(2, 3).pooling(Pooling::Avg(2))];
    let net = ConvNet::<f64>::new([2, 6, 7], &blocks, 3, &mut StdRng::seed_from_u64(5)).unwrap();
    gradcheck_module(&net, &[2, 2, 6, 7], 3, 6);
}

#[test]
fn convnet_without_blocks_is_a_linear_on_the_pixels() {
    let net = ConvNet::<f32>::new([1, 2, 3], &[], 4, &mut StdRng::seed_from_u64(0)).unwrap();
    assert_eq!(net.flattened(), 6);
    assert_eq!(net.num_parameters(), 6 * 4 + 4);
    let names: Vec<String> = net.state_dict().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["1.weight", "1.bias"]);
}

#[test]
fn collapsing_geometry_is_an_error_naming_the_block() {
    let mut rng = StdRng::seed_from_u64(0);
    // 3×8×8 → conv k5: 4×4 → avg 2: 2×2 → conv k3 p0 needs 3 ≤ 2: collapses.
    let blocks = [
        ConvBlock::new(4, 5).pooling(Pooling::Avg(2)),
        ConvBlock::new(4, 3),
    ];
    let m = ConvNet::<f32>::new([3, 8, 8], &blocks, 2, &mut rng)
        .err()
        .unwrap()
        .to_string();
    assert!(
        m.contains("block 1")
            && m.contains("[4, 2, 2]")
            && m.contains("[3, 8, 8]")
            && m.contains("nothing"),
        "{m}"
    );
    // Pooling larger than the conv output.
    let m = ConvNet::<f32>::new(
        [1, 4, 9],
        &[ConvBlock::new(2, 1).pooling(Pooling::Avg(5))],
        2,
        &mut rng,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(m.contains("block 0") && m.contains("[1, 4, 9]"), "{m}");
    for bad in [
        ConvBlock::new(0, 3),
        ConvBlock::new(2, 0),
        ConvBlock::new(2, 3).stride(0),
        ConvBlock::new(2, 3).pooling(Pooling::Avg(0)),
    ] {
        let m = ConvNet::<f32>::new([1, 9, 9], &[bad], 2, &mut rng)
            .err()
            .unwrap()
            .to_string();
        assert!(m.contains("block 0") && m.contains("positive"), "{m}");
    }
    assert!(ConvNet::<f32>::new([0, 9, 9], &[], 2, &mut rng).is_err());
    assert!(ConvNet::<f32>::new([1, 9, 9], &[], 0, &mut rng).is_err());
}

#[test]
fn mlp_with_batch_norm_follows_torchvision_norm_layer_layout() {
    let bn = Mlp::<f64>::with_batch_norm(5, &[4, 3, 2], &mut StdRng::seed_from_u64(2)).unwrap();
    let names: Vec<String> = bn.state_dict().into_iter().map(|(n, _)| n).collect();
    // MLP(5, [4, 3, 2], norm_layer=BatchNorm1d): Linear, BN, ReLU, Dropout per hidden layer.
    assert_eq!(
        names,
        [
            "0.weight",
            "0.bias",
            "1.weight",
            "1.bias",
            "4.weight",
            "4.bias",
            "5.weight",
            "5.bias",
            "8.weight",
            "8.bias",
            "1.running_mean",
            "1.running_var",
            "5.running_mean",
            "5.running_var"
        ]
    );
    // 5·4+4 + 2·4 + 4·3+3 + 2·3 + 3·2+2.
    assert_eq!(bn.num_parameters(), 24 + 8 + 15 + 6 + 8);
    assert_eq!(bn.batch_norms().len(), 2);
    // The linears are drawn exactly as Mlp::new draws them.
    let plain = Mlp::<f64>::new(5, &[4, 3, 2], &mut StdRng::seed_from_u64(2)).unwrap();
    for (a, b) in bn.linears().iter().zip(plain.linears()) {
        assert_eq!(a.weight.value, b.weight.value);
    }
    assert!(plain.batch_norms().is_empty());

    // Training: each hidden pre-activation is normalised over the batch, so a batch whose rows
    // are all equal gives the same output as β = 0 inputs: the ReLU of 0, then the last linear's
    // bias alone.
    let mut g = Graph::new();
    let x = g.input(Tensor::ones(&[3, 5]));
    let y = bn.forward(&mut g, x).unwrap();
    let out = g.value(y).data().unwrap().to_vec();
    let bias = bn.linears()[2]
        .bias
        .as_ref()
        .unwrap()
        .value
        .data()
        .unwrap()
        .to_vec();
    for row in out.chunks(2) {
        for (v, b) in row.iter().zip(&bias) {
            assert!((v - b).abs() < 1e-12, "{v} vs {b}");
        }
    }
    // The running statistics moved: mean 0.1·batch mean.
    let (rm, _) = bn.batch_norms()[0].running_stats();
    assert!(rm.data().unwrap().iter().any(|&v| v != 0.0));

    // Clone keeps values (and statistics) under fresh parameter identities.
    let c = bn.clone();
    assert_eq!(c.state_dict(), bn.state_dict());
    assert_ne!(c.parameters()[0].id(), bn.parameters()[0].id());
    // State round trip into a fresh network.
    let mut fresh =
        Mlp::<f64>::with_batch_norm(5, &[4, 3, 2], &mut StdRng::seed_from_u64(9)).unwrap();
    fresh.load_state_dict(&bn.state_dict()).unwrap();
    assert_eq!(fresh.state_dict(), bn.state_dict());
    assert!(Mlp::<f64>::with_batch_norm(5, &[], &mut StdRng::seed_from_u64(2)).is_err());
}
