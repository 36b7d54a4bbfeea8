//! One full DINO training step on MNIST-sized views, f32, reported as samples/s (criterion's
//! "elements" are the batch's 128 samples): the `dino-mnist` preset's model (LeNet student and
//! teacher, DINO head 32 → 256 → 256 → 64 → 1024) on 2 global + 2 local views per sample
//! (`lenet_b128_2g2l`) and on nidl's default 8 local views (`lenet_b128_2g8l`): the student's
//! forward and backward on every view, the teacher's forward on the global ones, the DINO loss,
//! two AdamW steps (the last layer has its own), the schedule and the teacher's EMA update.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use nidl::autograd::Graph;
use nidl::datasets::loader::Batch;
use nidl::nn::LeNet;
use nidl::train::{Dino, DinoConfig, Estimator};
use nidl::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Samples per batch.
const BATCH: usize = 128;

/// The preset's DINO with `n_local` local views, sized for a 10-epoch run of 100 steps each.
fn dino(n_local: usize) -> Dino {
    let mut rng = StdRng::seed_from_u64(42);
    let student = LeNet::<f32>::new(32, &mut rng).unwrap();
    let teacher = LeNet::<f32>::new(32, &mut StdRng::seed_from_u64(0)).unwrap();
    let config = DinoConfig {
        proj_hidden_dim: 256,
        proj_bottleneck_dim: 64,
        proj_output_dim: 1024,
        num_local_crops: n_local,
        ..DinoConfig::default()
    };
    let mut est = Dino::new(Box::new(student), Box::new(teacher), 32, config, &mut rng).unwrap();
    est.set_run_length(10, 100).unwrap();
    est
}

/// A batch of `BATCH` samples × `n_views` random 1×28×28 views, view-major.
fn batch(n_views: usize) -> Batch<f32> {
    let mut rng = StdRng::seed_from_u64(7);
    Batch {
        views: Tensor::rand_normal(&[n_views * BATCH, 1, 28, 28], 0.0, 1.0, &mut rng),
        n_views,
        labels: Tensor::zeros(&[BATCH]),
        indices: (0..BATCH).collect(),
    }
}

fn dino_step(c: &mut Criterion) {
    // As the `nidl` binary does at start-up (see `nidl::memory`).
    nidl::memory::retain_freed_memory();
    let mut group = c.benchmark_group("dino_step");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(10);
    for n_local in [2, 8] {
        let mut est = dino(n_local);
        let views = batch(2 + n_local);
        group.bench_function(format!("lenet_b{BATCH}_2g{n_local}l"), |b| {
            b.iter_batched(
                || views.clone(),
                |v| {
                    let mut g = Graph::new();
                    let loss = est.loss(&mut g, &v).unwrap();
                    let grads = g.backward(loss).unwrap();
                    est.apply_gradients(&grads).unwrap();
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, dino_step);
criterion_main!(benches);
