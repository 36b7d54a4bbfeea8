//! LeNet forward (inference graph, no tape) over 70 000 images in batches of 512, f32 — what a
//! probing callback does each time it embeds MNIST's train and test sets. Throughput in images/s.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nidl::autograd::Graph;
use nidl::nn::{LeNet, Module};
use nidl::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

const IMAGES: usize = 70_000;
const BATCH: usize = 512;

fn embed(c: &mut Criterion) {
    // As the `nidl` binary does at start-up (see `nidl::memory`).
    nidl::memory::retain_freed_memory();
    let mut rng = StdRng::seed_from_u64(0);
    let net = LeNet::<f32>::new(32, &mut rng).unwrap();
    // One batch of data, reused: the bench measures compute, not memory for 70 000 images.
    let batch = Tensor::<f32>::rand_uniform(&[BATCH, 1, 28, 28], -1.0, 1.0, &mut rng);
    let mut group = c.benchmark_group("embed");
    group.throughput(Throughput::Elements(IMAGES as u64));
    group.sample_size(10);
    group.bench_function("lenet_70000_b512_f32", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(IMAGES * 32);
            let mut g = Graph::inference();
            for start in (0..IMAGES).step_by(BATCH) {
                let n = BATCH.min(IMAGES - start);
                g.clear();
                let xb = if n == BATCH {
                    batch.clone()
                } else {
                    batch.slice(0, 0, n).unwrap()
                };
                let x = g.input(xb);
                let z = net.forward(&mut g, x).unwrap();
                out.extend_from_slice(g.value(z).data());
            }
            out
        })
    });
    group.finish();
}

criterion_group!(benches, embed);
criterion_main!(benches);
