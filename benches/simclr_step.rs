//! One full SimCLR training step (batch 128 × 2 views, LeNet + head [64, 32] + InfoNCE + AdamW),
//! f32, reported as samples (augmented views) per second. With `--features gpu` the same step
//! also runs on the GPU (parameters and optimizer state on the device, the batch uploaded and
//! the loss read back every step, as in training).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

#[path = "../tests/common/simclr.rs"]
mod simclr;

use simclr::{random_views, SimClrStep};

fn simclr_step(c: &mut Criterion) {
    // As the `nidl` binary does at start-up (see `nidl::memory`).
    nidl::memory::retain_freed_memory();
    let mut group = c.benchmark_group("simclr_step");
    group.throughput(Throughput::Elements(256));
    let mut step = SimClrStep::<f32>::new(42);
    let views = random_views::<f32>(128, 7);
    group.bench_function("lenet_b128x2_f32", |b| {
        b.iter_batched(
            || views.clone(),
            |v| step.step(v).unwrap(),
            BatchSize::LargeInput,
        )
    });
    #[cfg(feature = "gpu")]
    {
        let mut on_gpu = SimClrStep::<f32>::new(42);
        nidl::nn::move_to(&mut on_gpu.encoder, nidl::tensor::Device::Gpu).unwrap();
        nidl::nn::move_to(&mut on_gpu.head, nidl::tensor::Device::Gpu).unwrap();
        let name = format!(
            "lenet_b128x2_f32_gpu ({})",
            nidl::gpu::gpu().unwrap().name()
        );
        group.bench_function(name, |b| {
            b.iter_batched(
                || views.clone(),
                |v| on_gpu.step(v).unwrap(),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, simclr_step);
criterion_main!(benches);
