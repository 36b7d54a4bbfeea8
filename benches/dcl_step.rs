//! One full DCL training step as `nidl dcl-mnist` runs it (batch 128 × 2 views of 1×28×28,
//! LeNet encoder of latent 32 + nidl's SimCLR head 32 → 64 → 32 + DCL loss + AdamW + the
//! per-step warmup-cosine schedule), f32, and the same with the DCLW weighting, reported as
//! samples per second (criterion's "elements" are the 128 samples of a step; each sample is two
//! views through encoder and head, forward and backward).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use nidl::autograd::Graph;
use nidl::datasets::loader::Batch;
use nidl::nn::LeNet;
use nidl::train::{Dcl, DclConfig, Estimator};
use nidl::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Samples per step.
const BATCH: usize = 128;

/// The model `nidl dcl-mnist` trains (DCLW when `sigma` is given), sized for a 10-epoch run of
/// 100 steps per epoch.
fn model(sigma: Option<f64>) -> Dcl {
    let mut rng = StdRng::seed_from_u64(42);
    let encoder = LeNet::new(32, &mut rng).unwrap();
    let config = DclConfig {
        proj_hidden_dim: 64,
        proj_output_dim: 32,
        sigma,
        ..DclConfig::default()
    };
    let mut est = Dcl::new(Box::new(encoder), 32, config, &mut rng).unwrap();
    est.set_run_length(10, 100).unwrap();
    est
}

/// Two random views of `BATCH` images, view-major.
fn batch() -> Batch<f32> {
    let mut rng = StdRng::seed_from_u64(7);
    Batch {
        views: Tensor::rand_uniform(&[2 * BATCH, 1, 28, 28], -1.0, 1.0, &mut rng),
        n_views: 2,
        labels: Tensor::zeros(&[BATCH]),
        indices: (0..BATCH).collect(),
    }
}

/// Loss, backward and the optimizer step of `est` on `batch`.
fn step(est: &mut Dcl, batch: &Batch<f32>) {
    let mut g = Graph::new();
    let loss = est.loss(&mut g, batch).unwrap();
    let grads = g.backward(loss).unwrap();
    est.apply_gradients(&grads).unwrap();
}

fn dcl_step(c: &mut Criterion) {
    // As the `nidl` binary does at start-up (see `nidl::memory`).
    nidl::memory::retain_freed_memory();
    let mut group = c.benchmark_group("dcl_step");
    group.throughput(Throughput::Elements(BATCH as u64));
    let views = batch();
    for (name, sigma) in [
        ("lenet_b128x2_f32", None),
        ("dclw_lenet_b128x2_f32", Some(0.5)),
    ] {
        let mut est = model(sigma);
        group.bench_function(name, |b| {
            b.iter_batched(|| (), |()| step(&mut est, &views), BatchSize::SmallInput)
        });
    }
    group.finish();
}

criterion_group!(benches, dcl_step);
criterion_main!(benches);
