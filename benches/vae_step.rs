//! One full β-VAE training step on MNIST-sized images (batch 128, one view: LeNet encoder →
//! fc_mu, fc_logvar (32) → reparameterisation → conv decoder with nearest upsampling → sigmoid
//! → Bernoulli β-VAE loss → backward → AdamW), f32, as `nidl vae-mnist` trains it; throughput
//! in samples/s (criterion's "elements" are images). With `--features gpu` the same step also
//! runs on the GPU (the model there, the batch uploaded and the loss read back every step, as
//! in training).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use nidl::autograd::Graph;
use nidl::datasets::loader::Batch;
use nidl::loss::ReconstructionDistribution;
use nidl::nn::LeNet;
use nidl::train::{BetaVae, BetaVaeConfig, Estimator, SampleShape};
use nidl::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Images per batch (the `vae-mnist` preset's).
const BATCH: usize = 128;

/// The `vae-mnist` preset's model drawn from `seed`.
fn vae(seed: u64) -> BetaVae {
    let mut rng = StdRng::seed_from_u64(seed);
    let encoder = LeNet::<f32>::new(32, &mut rng).unwrap();
    let config = BetaVaeConfig {
        default_dist: ReconstructionDistribution::Bernoulli,
        lr: 1e-3,
        ..BetaVaeConfig::default()
    };
    let shape = SampleShape::Image([1, 28, 28]);
    BetaVae::new(Box::new(encoder), 32, shape, config, &mut rng).unwrap()
}

/// One step: loss, backward, AdamW.
fn step(est: &mut BetaVae, batch: &Batch<f32>) -> f32 {
    let mut g = Graph::new();
    let loss = est.loss(&mut g, batch).unwrap();
    let value = g.value(loss).item().unwrap();
    let grads = g.backward(loss).unwrap();
    est.apply_gradients(&grads).unwrap();
    value
}

fn vae_step(c: &mut Criterion) {
    // As the `nidl` binary does at start-up (see `nidl::memory`).
    nidl::memory::retain_freed_memory();
    let batch = Batch {
        views: Tensor::rand_uniform(&[BATCH, 1, 28, 28], 0.0, 1.0, &mut StdRng::seed_from_u64(7)),
        n_views: 1,
        labels: Tensor::zeros(&[BATCH]),
        indices: (0..BATCH).collect(),
    };
    let mut group = c.benchmark_group("vae_step");
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut est = vae(42);
    group.bench_function("lenet_convdecoder_b128_f32", |b| {
        b.iter_batched(|| (), |_| step(&mut est, &batch), BatchSize::SmallInput)
    });
    #[cfg(feature = "gpu")]
    {
        let mut on_gpu = vae(42);
        on_gpu.move_to(nidl::tensor::Device::Gpu).unwrap();
        let name = format!(
            "lenet_convdecoder_b128_f32_gpu ({})",
            nidl::gpu::gpu().unwrap().name()
        );
        group.bench_function(name, |b| {
            b.iter_batched(|| (), |_| step(&mut on_gpu, &batch), BatchSize::SmallInput)
        });
    }
    group.finish();
}

criterion_group!(benches, vae_step);
criterion_main!(benches);
