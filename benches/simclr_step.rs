//! One full SimCLR training step (batch 128 × 2 views, LeNet + head [64, 32] + InfoNCE + AdamW),
//! f32, reported as FLOP/s: criterion's "elements" are floating-point operations, so
//! "Gelem/s" reads as GFLOP/s ([`STEP_FLOPS`] says how they are counted). With `--features gpu` the same step
//! also runs on the GPU (parameters and optimizer state on the device, the batch uploaded and
//! the loss read back every step, as in training).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

#[path = "../tests/common/simclr.rs"]
mod simclr;

use simclr::{random_views, SimClrStep};

/// FLOPs of one LeNet forward per image (2 per multiply-add): conv1 2·6·28·28·25, conv2
/// 2·16·10·10·150, fc 2·(400·120 + 120·84 + 84·32); padding and bias adds not counted.
const LENET_FORWARD_FLOPS: u64 =
    2 * (6 * 28 * 28 * 25 + 16 * 10 * 10 * 150 + 400 * 120 + 120 * 84 + 84 * 32);

/// FLOPs of one step over 256 views: forward of LeNet and the head 32 → 64 → 32 per view; the
/// backward the same again for every weight gradient and once more for every input gradient
/// except conv1's (never computed); InfoNCE's 256 × 256 cosine matrix (2·256·256·32) forward,
/// twice that backward. Elementwise ops, normalisation and AdamW are not counted.
const STEP_FLOPS: u64 = {
    let head = 2 * (32 * 64 + 64 * 32);
    let forward = LENET_FORWARD_FLOPS + head;
    let conv1 = 2 * 6 * 28 * 28 * 25;
    let per_view = forward + 2 * forward - conv1;
    256 * per_view + 3 * 2 * 256 * 256 * 32
};

fn simclr_step(c: &mut Criterion) {
    // As the `nidl` binary does at start-up (see `nidl::memory`).
    nidl::memory::retain_freed_memory();
    let mut group = c.benchmark_group("simclr_step");
    group.throughput(Throughput::Elements(STEP_FLOPS));
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
