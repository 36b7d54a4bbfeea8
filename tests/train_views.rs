//! SimCLR and y-Aware forward each view through encoder and head on its own, as nidl 0.0.1's
//! `training_step` does (`Z1 = g(f(V1)); Z2 = g(f(V2))`): with a batch-norm encoder the loss is
//! that of two separate passes (each view normalised by its own batch statistics), not of one
//! `[2B]` pass, and the running statistics move once per view. y-Aware's auxiliary variable is
//! every column of the batch's labels (nidl's `labels.view(n, -1)`); labels its bandwidth cannot
//! use are an error naming their shape.

use nidl::autograd::Graph;
use nidl::datasets::loader::Batch;
use nidl::loss::{Bandwidth, InfoNce, YAwareInfoNce};
use nidl::nn::{Mlp, Module};
use nidl::train::{Estimator, SimClr, SimClrConfig, YAware, YAwareConfig};
use nidl::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Samples per batch, features per sample, the encoder's output width.
const B: usize = 6;
const D: usize = 5;
const LATENT: usize = 4;

/// The batch-norm encoder every estimator and twin here starts from.
fn encoder() -> Mlp<f32> {
    Mlp::with_batch_norm(D, &[7, LATENT], &mut StdRng::seed_from_u64(3)).unwrap()
}

/// Two views of `B` samples (view-major, the second shifted and scaled so the views' batch
/// statistics differ) and one label per sample.
fn batch() -> Batch<f32> {
    let labels = Tensor::from_vec((0..B).map(|i| i as f64).collect(), &[B]).unwrap();
    batch_with(labels)
}

/// The views of [`batch`] with other labels.
fn batch_with(labels: Tensor<f64>) -> Batch<f32> {
    let mut rng = StdRng::seed_from_u64(11);
    let v1: Vec<f32> = (0..B * D).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let v2: Vec<f32> = v1.iter().map(|x| 2.0 * x + 0.7).collect();
    Batch {
        views: Tensor::from_vec([v1, v2].concat(), &[2 * B, D]).unwrap(),
        n_views: 2,
        labels,
        indices: (0..B).collect(),
    }
}

/// The head's weights as the estimator holds them, loaded into an MLP of the same widths.
fn head_of(est: &dyn Estimator, widths: &[usize]) -> Mlp<f32> {
    let mut head = Mlp::new(LATENT, widths, &mut StdRng::seed_from_u64(0)).unwrap();
    let state: Vec<(String, Tensor<f32>)> = est
        .state()
        .into_iter()
        .filter_map(|(n, t)| n.strip_prefix("head.").map(|n| (n.to_string(), t)))
        .collect();
    head.load_state_dict(&state).unwrap();
    head
}

/// The estimator's first batch-norm running statistics, `(mean, var)`.
fn running_stats(est: &dyn Estimator) -> (Vec<f32>, Vec<f32>) {
    let get = |name: &str| {
        let (_, t) = est.state().into_iter().find(|(n, _)| n == name).unwrap();
        t.data().unwrap().to_vec()
    };
    (get("encoder.1.running_mean"), get("encoder.1.running_var"))
}

/// What a twin of the encoder and `head` give on `batch`, forwarded view by view (`joint =
/// false`) or as one `[2B]` batch (`joint = true`): the projections `(z1, z2)` on `g`, and the
/// twin's running statistics afterwards.
fn twin_pass(
    g: &mut Graph<f32>,
    head: &Mlp<f32>,
    batch: &Batch<f32>,
    joint: bool,
) -> (
    (nidl::autograd::Var, nidl::autograd::Var),
    (Vec<f32>, Vec<f32>),
) {
    let enc = encoder();
    let mut project = |x: Tensor<f32>| {
        let x = g.input(x);
        let h = enc.forward(g, x).unwrap();
        head.forward(g, h).unwrap()
    };
    let z = if joint {
        let z = project(batch.views.clone());
        (
            g.slice(z, 0, 0, B).unwrap(),
            g.slice(z, 0, B, 2 * B).unwrap(),
        )
    } else {
        let z1 = project(batch.view(0).unwrap());
        (z1, project(batch.view(1).unwrap()))
    };
    let (m, v) = enc.batch_norms()[0].running_stats();
    (z, (m.data().unwrap().to_vec(), v.data().unwrap().to_vec()))
}

/// Checks `est`'s training loss on `batch` against `loss` of the twins' projections: equal to
/// the view-by-view pass (and its running statistics), clearly unlike the joint pass.
fn check(
    est: &mut dyn Estimator,
    batch: Batch<f32>,
    head_widths: &[usize],
    loss: impl Fn(&mut Graph<f32>, nidl::autograd::Var, nidl::autograd::Var) -> f32,
) {
    let head = head_of(est, head_widths);
    let mut g = Graph::new();
    let got = est.loss(&mut g, &batch).unwrap();
    let got = g.value(got).data().unwrap()[0];
    let stats = running_stats(est);

    let mut each = Graph::new();
    let ((z1, z2), each_stats) = twin_pass(&mut each, &head, &batch, false);
    let want = loss(&mut each, z1, z2);
    assert_eq!(got, want, "{}: loss of two separate passes", est.name());
    assert_eq!(
        stats,
        each_stats,
        "{}: running stats, once per view",
        est.name()
    );

    let mut joint = Graph::new();
    let ((z1, z2), joint_stats) = twin_pass(&mut joint, &head, &batch, true);
    let old = loss(&mut joint, z1, z2);
    assert!(
        (got - old).abs() > 1e-3,
        "{}: the joint [2B] pass gives another loss ({got} vs {old})",
        est.name()
    );
    assert_ne!(stats.0, joint_stats.0, "{}", est.name());
}

#[test]
fn simclr_forwards_each_view_on_its_own() {
    let mut rng = StdRng::seed_from_u64(5);
    let cfg = SimClrConfig::default();
    let widths = cfg.hidden_dims.clone();
    let mut est = SimClr::new(Box::new(encoder()), LATENT, cfg, &mut rng).unwrap();
    check(&mut est, batch(), &widths, |g, z1, z2| {
        let l = InfoNce::new(0.1).forward(g, z1, z2).unwrap();
        g.value(l).data().unwrap()[0]
    });
}

/// A y-Aware with a small head and `bandwidth` around the batch-norm encoder.
fn yaware(bandwidth: Bandwidth) -> YAware {
    let cfg = YAwareConfig {
        head: (LATENT, 8, 3),
        bandwidth,
        ..YAwareConfig::default()
    };
    YAware::new(Box::new(encoder()), cfg, &mut StdRng::seed_from_u64(5)).unwrap()
}

/// Checks y-Aware's training loss on `batch` against the loss of the twins' projections with
/// the batch's labels, all of their columns (see [`check`]).
fn check_yaware(bandwidth: Bandwidth, batch: Batch<f32>) {
    let mut est = yaware(bandwidth.clone());
    let loss = YAwareInfoNce::new(Default::default(), bandwidth, 0.1);
    let labels: Tensor<f32> = batch.labels.cast().unwrap();
    check(&mut est, batch, &[8, 3], |g, z1, z2| {
        let l = loss.forward(g, z1, z2, Some(&labels)).unwrap();
        g.value(l).data().unwrap()[0]
    });
}

#[test]
fn yaware_forwards_each_view_on_its_own() {
    check_yaware(Bandwidth::Scalar(1.0), batch());
}

/// `[B, 2]` labels: column 0 the sample's index, column 1 its index mod 3 (scaled).
fn two_column_labels() -> Tensor<f64> {
    let y: Vec<f64> = (0..B)
        .flat_map(|i| [i as f64, (i % 3) as f64 * 0.7])
        .collect();
    Tensor::from_vec(y, &[B, 2]).unwrap()
}

/// The training loss of a fresh y-Aware on `batch`.
fn yaware_loss(bandwidth: Bandwidth, batch: &Batch<f32>) -> nidl::Result<f32> {
    let mut g = Graph::new();
    let l = yaware(bandwidth).loss(&mut g, batch)?;
    Ok(g.value(l).data()?[0])
}

#[test]
fn yaware_uses_every_label_column_as_its_auxiliary_variable() {
    // [B, k] labels are one k-vector per sample (H = σ² I_k for a scalar bandwidth, as nidl's
    // `labels.view(n, -1)` with a scalar bandwidth), and so are [B, k] labels under a diagonal
    // bandwidth of k entries.
    check_yaware(Bandwidth::Scalar(2.0), batch_with(two_column_labels()));
    check_yaware(
        Bandwidth::Diagonal(vec![2.0, 0.5]),
        batch_with(two_column_labels()),
    );
    // Both columns count: the loss is neither that of column 0 nor that of column 1 alone.
    let both = yaware_loss(Bandwidth::Scalar(2.0), &batch_with(two_column_labels())).unwrap();
    for j in 0..2 {
        let col: Vec<f64> = two_column_labels()
            .data()
            .unwrap()
            .iter()
            .skip(j)
            .step_by(2)
            .copied()
            .collect();
        let one = Tensor::from_vec(col, &[B]).unwrap();
        let alone = yaware_loss(Bandwidth::Scalar(2.0), &batch_with(one)).unwrap();
        assert!((both - alone).abs() > 1e-4, "column {j}: {both} vs {alone}");
    }
}

#[test]
fn labels_the_bandwidth_cannot_use_are_an_error_naming_their_shape() {
    let two = batch_with(two_column_labels());
    let cubes = batch_with(Tensor::from_vec(vec![0.0; B * 4], &[B, 2, 2]).unwrap());
    let cases = [
        // A bandwidth for one label column, two columns given.
        (Bandwidth::Diagonal(vec![16.0]), &two, "[6, 2]"),
        (Bandwidth::Full(vec![16.0]), &two, "[6, 2]"),
        // Labels of rank 3 (nidl would flatten them to [B, 4]).
        (Bandwidth::Scalar(1.0), &cubes, "[6, 2, 2]"),
    ];
    for (bandwidth, batch, shape) in cases {
        // Training (where a bandwidth is fitted first) and validation alike.
        for mut g in [Graph::new(), Graph::inference()] {
            let e = yaware(bandwidth.clone()).loss(&mut g, batch).unwrap_err();
            assert!(matches!(e, nidl::Error::Shape { .. }), "{bandwidth:?}: {e}");
            assert!(e.to_string().contains(shape), "{bandwidth:?}: {e}");
        }
    }
}
