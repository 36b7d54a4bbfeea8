//! DINO's new kernels on the CPU, f32: the exact GELU forward and backward and the EMA
//! (momentum-teacher) update, in elements per second ("Gelem/s"); and the DINO loss forward +
//! backward on a head output of nidl's default width (2 global + 8 local views, batch 64,
//! D = 4096), in student rows per second.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nidl::autograd::{Graph, ParamId};
use nidl::loss::{DinoLoss, DinoLossConfig};
use nidl::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// A DINO head's hidden activations: batch 640 (10 views of 64) × 2048.
const ELEMENTS: usize = 640 * 2048;

fn randn(shape: &[usize], seed: u64) -> Tensor<f32> {
    Tensor::rand_normal(shape, 0.0, 1.0, &mut StdRng::seed_from_u64(seed))
}

fn kernels(c: &mut Criterion) {
    let x = randn(&[ELEMENTS], 1);
    let g = randn(&[ELEMENTS], 2);
    let mut group = c.benchmark_group("dino_ops");
    group.throughput(Throughput::Elements(ELEMENTS as u64));
    group.sample_size(20);
    group.bench_function("gelu_forward_f32", |b| b.iter(|| x.gelu().unwrap()));
    group.bench_function("gelu_backward_f32", |b| {
        b.iter(|| x.gelu_backward(g.clone()).unwrap())
    });
    let mut teacher = x.clone();
    group.bench_function("ema_update_f32", |b| {
        b.iter(|| teacher.ema_update(&g, 0.996).unwrap())
    });
    group.finish();
}

fn loss(c: &mut Criterion) {
    let (views, batch, d) = (10, 64, 4096);
    let teacher = randn(&[2 * batch, d], 3);
    let student = randn(&[views * batch, d], 4);
    let cfg = DinoLossConfig::default();
    let mut loss = DinoLoss::<f32>::new(cfg).unwrap();
    let mut group = c.benchmark_group("dino_loss");
    group.throughput(Throughput::Elements((views * batch) as u64));
    group.sample_size(10);
    group.bench_function("forward_backward_2+8views_b64_d4096_f32", |b| {
        b.iter(|| {
            let mut g = Graph::new();
            let s = g.param(ParamId::fresh(), &student);
            let l = loss.forward(&mut g, &teacher, s, 2, Some(0)).unwrap();
            g.backward(l).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, kernels, loss);
criterion_main!(benches);
