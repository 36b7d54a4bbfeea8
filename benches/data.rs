//! The data pipeline: MNIST parsing and the seed's augmented batches.
//!
//! - `mnist_parse/*`: reading the 60 000 training images (elements = images): from the gzip files
//!   on disk (read + gunzip + validate, what `Mnist::load` does), and validating already
//!   decompressed idx bytes.
//! - `augment/*`: one batch of 128 MNIST digits × 2 views, each `RandomResizedCrop(28) →
//!   GaussianBlur(3) → ToTensor → Normalize`, stacked into `[256, 1, 28, 28]` (elements = views),
//!   on the global pool (all cores) and on one thread.
//! - `view_parts/*`: the pieces of one view on one thread (elements = views).
//! - `epoch/*`: 8 batches each followed by a simulated training step (2 ms of single-threaded
//!   work, the serial part of a step), with and without prefetching.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use nidl::datasets::loader::Dataset;
use nidl::datasets::loader::Loader;
use nidl::datasets::mnist::{decode, default_dir, Mnist, MnistSplit};
use nidl::datasets::transforms::{
    gaussian_blur, mnist_contrast_transforms, mnist_scale_transforms, resized_crop, MultiViews,
    Transform,
};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "../tests/common/simclr.rs"]
mod simclr;

use simclr::SimClrStep;

fn mnist_parse(c: &mut Criterion) {
    let dir = default_dir();
    let mut g = c.benchmark_group("mnist_parse");
    g.sample_size(10);
    g.throughput(Throughput::Elements(60_000));
    g.bench_function("train_60k_gzip_files", |b| {
        b.iter(|| black_box(Mnist::load(&dir, MnistSplit::Train).unwrap()))
    });
    let ip = dir.join("train-images-idx3-ubyte.gz");
    let lp = dir.join("train-labels-idx1-ubyte.gz");
    let images = decode(std::fs::read(&ip).unwrap(), &ip).unwrap();
    let labels = decode(std::fs::read(&lp).unwrap(), &lp).unwrap();
    g.bench_function("train_60k_decoded_bytes", |b| {
        b.iter_batched(
            || (images.clone(), labels.clone()),
            |(i, l)| black_box(Mnist::from_idx(i, Path::new("img"), l, Path::new("lbl")).unwrap()),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// The parts of one view, on one thread (elements = views).
fn view_parts(c: &mut Criterion) {
    let mnist = Mnist::load(default_dir(), MnistSplit::Test).unwrap();
    let (img, _) = mnist.get(0).unwrap();
    let mut rng = StdRng::seed_from_u64(0);
    let mut g = c.benchmark_group("view_parts");
    g.throughput(Throughput::Elements(1));
    g.bench_function("resized_crop_17x20_to_28", |b| {
        b.iter(|| black_box(resized_crop(&img, 3, 5, 17, 20, 28, 28).unwrap()))
    });
    g.bench_function("gaussian_blur_3x3_u8", |b| {
        b.iter(|| black_box(gaussian_blur(&img, 3, 0.7).unwrap()))
    });
    let to_float = mnist_scale_transforms().unwrap();
    g.bench_function("to_tensor_normalize", |b| {
        b.iter(|| black_box(to_float.apply(img.clone(), &mut rng).unwrap()))
    });
    let contrast = mnist_contrast_transforms().unwrap();
    g.bench_function("whole_view", |b| {
        b.iter(|| black_box(contrast.apply(img.clone(), &mut rng).unwrap()))
    });
    g.finish();
}

fn seed_loader() -> Loader<Mnist, MultiViews<nidl::datasets::transforms::MnistContrastTransforms>> {
    let mnist = Arc::new(Mnist::load(default_dir(), MnistSplit::Train).unwrap());
    let views = MultiViews::new(mnist_contrast_transforms().unwrap(), 2).unwrap();
    Loader::new(mnist, views, 128)
        .unwrap()
        .shuffle(true)
        .seed(42)
}

fn augment(c: &mut Criterion) {
    let loader = seed_loader().prefetch(false);
    let mut g = c.benchmark_group("augment");
    g.throughput(Throughput::Elements(256));
    let mut b_idx = 0;
    g.bench_function("batch128x2_crop_blur_norm", |b| {
        b.iter(|| {
            b_idx = (b_idx + 1) % 400;
            black_box(loader.batch(0, b_idx).unwrap())
        })
    });
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    g.bench_function("batch128x2_crop_blur_norm_1thread", |b| {
        b.iter(|| {
            b_idx = (b_idx + 1) % 400;
            one.install(|| black_box(loader.batch(0, b_idx).unwrap()))
        })
    });
    g.finish();
}

/// Single-threaded busy work for `d` (a stand-in for the serial part of a training step).
fn spin(d: Duration) {
    let t = Instant::now();
    let mut x = 0u64;
    while t.elapsed() < d {
        x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

/// 4 batches, each followed by the seed's SimCLR training step on it (LeNet + head + InfoNCE +
/// AdamW, f32): does prefetching hide the loader behind real training work?
fn epoch_with_step(c: &mut Criterion) {
    const BATCHES: usize = 4;
    let mut g = c.benchmark_group("epoch");
    g.sample_size(10);
    g.throughput(Throughput::Elements(256 * BATCHES as u64));
    for prefetch in [false, true] {
        let loader = seed_loader()
            .limit_batches(Some(BATCHES))
            .prefetch(prefetch);
        let mut step = SimClrStep::<f32>::new(42);
        let name = if prefetch {
            "4_batches_simclr_step_prefetch"
        } else {
            "4_batches_simclr_step_no_prefetch"
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                for batch in loader.epoch(1) {
                    black_box(step.step(batch.unwrap().views).unwrap());
                }
            })
        });
    }
    g.finish();
}

fn epoch(c: &mut Criterion) {
    const BATCHES: usize = 8;
    let mut g = c.benchmark_group("epoch");
    g.sample_size(10);
    g.throughput(Throughput::Elements(256 * BATCHES as u64));
    for prefetch in [false, true] {
        let loader = seed_loader()
            .limit_batches(Some(BATCHES))
            .prefetch(prefetch);
        let name = if prefetch {
            "8_batches_2ms_step_prefetch"
        } else {
            "8_batches_2ms_step_no_prefetch"
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                for batch in loader.epoch(1) {
                    black_box(batch.unwrap());
                    spin(Duration::from_millis(2));
                }
            })
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    mnist_parse,
    view_parts,
    augment,
    epoch,
    epoch_with_step
);
criterion_main!(benches);
