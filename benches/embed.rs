//! What a probing callback does each time it probes MNIST: embed the 60 000 training and the
//! 10 000 test images (ToTensor + Normalize, LeNet encoder on inference graphs, batches of 512)
//! through `train::embed_set`, f32. Throughput as FLOP/s: criterion's "elements" are
//! floating-point operations ("Gelem/s" reads as GFLOP/s), [`LENET_FORWARD_FLOPS`] per image
//! (data loading and the normalisation transform are timed but not counted).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nidl::datasets::loader::Loader;
use nidl::datasets::mnist::{self, Mnist, MnistSplit};
use nidl::datasets::transforms::mnist_scale_transforms;
use nidl::nn::LeNet;
use nidl::train::callbacks::{embed_set, Embedded, NoProgress};
use nidl::train::{SimClr, SimClrConfig};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::sync::Arc;

const BATCH: usize = 512;

/// FLOPs of one LeNet forward per image (2 per multiply-add): conv1 2·6·28·28·25, conv2
/// 2·16·10·10·150, fc 2·(400·120 + 120·84 + 84·32); padding, bias, relu and pooling not counted.
const LENET_FORWARD_FLOPS: u64 =
    2 * (6 * 28 * 28 * 25 + 16 * 10 * 10 * 150 + 400 * 120 + 120 * 84 + 84 * 32);

fn embed(c: &mut Criterion) {
    // As the `nidl` binary does at start-up (see `nidl::memory`).
    nidl::memory::retain_freed_memory();
    let dir = mnist::default_dir();
    let loader = |split| {
        let set = Arc::new(Mnist::load(&dir, split).expect("MNIST in data/mnist"));
        Loader::new(set, mnist_scale_transforms().unwrap(), BATCH)
            .unwrap()
            .prefetch(false)
    };
    let (train, test) = (loader(MnistSplit::Train), loader(MnistSplit::Test));
    let mut rng = StdRng::seed_from_u64(0);
    let encoder = LeNet::<f32>::new(32, &mut rng).unwrap();
    let est = SimClr::new(Box::new(encoder), 32, SimClrConfig::default(), &mut rng).unwrap();
    let (mut train_emb, mut test_emb) = (Embedded::default(), Embedded::default());
    let mut group = c.benchmark_group("embed");
    group.throughput(Throughput::Elements(70_000 * LENET_FORWARD_FLOPS));
    group.sample_size(10);
    group.bench_function("mnist_lenet_60000+10000_b512_f32", |b| {
        b.iter(|| {
            embed_set(&est, &train, &mut train_emb, "train", &NoProgress).unwrap();
            embed_set(&est, &test, &mut test_emb, "test", &NoProgress).unwrap();
        })
    });
    group.finish();
}

criterion_group!(benches, embed);
criterion_main!(benches);
