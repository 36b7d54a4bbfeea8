//! Convolution throughput on LeNet's two layers (f32, batch 256), forward and forward+backward.
//!
//! Throughput is reported as `Throughput::Elements(flops)`: criterion's "elements" are FLOPs
//! (2 per multiply-add of the convolution itself, not of any padding the kernels add), so
//! "Gelem/s" reads as GFLOP/s. Forward = 2·N·C_out·OH·OW·C_in·KH·KW; backward adds the same again
//! for grad_w and once more for grad_x when the layer's input needs a gradient (conv2 only).
//!
//! Run: `cargo bench --bench conv -- --warm-up-time 1 --measurement-time 3`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use nidl::tensor::Conv2dGeometry;
use nidl::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

struct Layer {
    name: &'static str,
    c_in: usize,
    c_out: usize,
    hw: usize,
    k: usize,
    padding: usize,
    /// Whether backward computes grad_x (false for the first layer, whose input is the data).
    input_grad: bool,
}

const BATCH: usize = 256;

fn bench_conv(c: &mut Criterion) {
    let layers = [
        Layer {
            name: "lenet_conv1",
            c_in: 1,
            c_out: 6,
            hw: 28,
            k: 5,
            padding: 2,
            input_grad: false,
        },
        Layer {
            name: "lenet_conv2",
            c_in: 6,
            c_out: 16,
            hw: 14,
            k: 5,
            padding: 0,
            input_grad: true,
        },
    ];
    let mut rng = StdRng::seed_from_u64(0);
    for l in &layers {
        let geom = Conv2dGeometry {
            stride: 1,
            padding: l.padding,
        };
        let x = Tensor::<f32>::rand_normal(&[BATCH, l.c_in, l.hw, l.hw], 0.0, 1.0, &mut rng);
        let w = Tensor::<f32>::rand_normal(&[l.c_out, l.c_in, l.k, l.k], 0.0, 0.1, &mut rng);
        let b = Tensor::<f32>::rand_normal(&[l.c_out], 0.0, 0.1, &mut rng);
        let out = x.conv2d(&w, Some(&b), geom).unwrap();
        let go = Tensor::<f32>::rand_normal(out.shape(), 0.0, 1.0, &mut rng);
        let (oh, ow) = (out.shape()[2], out.shape()[3]);
        // One GEMM's worth of FLOPs (elements = FLOPs).
        let gemm_flops = (2 * BATCH * l.c_out * oh * ow * l.c_in * l.k * l.k) as u64;

        let mut g = c.benchmark_group(l.name);
        g.sample_size(20);
        g.throughput(Throughput::Elements(gemm_flops));
        g.bench_function("forward", |bch| {
            bch.iter(|| black_box(x.conv2d(&w, Some(&b), geom).unwrap()))
        });
        let passes = if l.input_grad { 3 } else { 2 };
        g.throughput(Throughput::Elements(gemm_flops * passes));
        g.bench_function("forward_backward", |bch| {
            bch.iter(|| {
                let out = x.conv2d(&w, Some(&b), geom).unwrap();
                black_box(&out);
                black_box(x.conv2d_backward(&w, &go, geom, l.input_grad).unwrap())
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench_conv);
criterion_main!(benches);
