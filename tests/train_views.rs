//! SimCLR and y-Aware forward each view through encoder and head on its own, as nidl 0.0.1's
//! `training_step` does (`Z1 = g(f(V1)); Z2 = g(f(V2))`): with a batch-norm encoder the loss is
//! that of two separate passes (each view normalised by its own batch statistics), not of one
//! `[2B]` pass, and the running statistics move once per view.

use nidl::autograd::Graph;
use nidl::datasets::loader::Batch;
use nidl::loss::{InfoNce, YAwareInfoNce};
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
    let mut rng = StdRng::seed_from_u64(11);
    let v1: Vec<f32> = (0..B * D).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let v2: Vec<f32> = v1.iter().map(|x| 2.0 * x + 0.7).collect();
    Batch {
        views: Tensor::from_vec([v1, v2].concat(), &[2 * B, D]).unwrap(),
        n_views: 2,
        labels: Tensor::from_vec((0..B).map(|i| i as f64).collect(), &[B]).unwrap(),
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

/// Checks `est`'s training loss on [`batch`] against `loss` of the twins' projections: equal to
/// the view-by-view pass (and its running statistics), clearly unlike the joint pass.
fn check(
    est: &mut dyn Estimator,
    head_widths: &[usize],
    loss: impl Fn(&mut Graph<f32>, nidl::autograd::Var, nidl::autograd::Var) -> f32,
) {
    let batch = batch();
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
    check(&mut est, &widths, |g, z1, z2| {
        let l = InfoNce::new(0.1).forward(g, z1, z2).unwrap();
        g.value(l).data().unwrap()[0]
    });
}

#[test]
fn yaware_forwards_each_view_on_its_own() {
    let mut rng = StdRng::seed_from_u64(5);
    let cfg = YAwareConfig {
        head: (LATENT, 8, 3),
        ..YAwareConfig::default()
    };
    let loss = YAwareInfoNce::new(cfg.kernel, cfg.bandwidth.clone(), cfg.temperature);
    let mut est = YAware::new(Box::new(encoder()), cfg, &mut rng).unwrap();
    let labels: Tensor<f32> = batch().labels.cast().unwrap();
    check(&mut est, &[8, 3], |g, z1, z2| {
        let l = loss.forward(g, z1, z2, Some(&labels)).unwrap();
        g.value(l).data().unwrap()[0]
    });
}
