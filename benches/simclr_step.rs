//! One full SimCLR training step (batch 128 × 2 views, LeNet + head [64, 32] + InfoNCE + AdamW),
//! f32, reported as samples (augmented views) per second.

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
    group.finish();
}

criterion_group!(benches, simclr_step);
criterion_main!(benches);
