//! f32 and f64 GEMM through `tensor::gemm` at 128², 256², 512² (square, no transposes); the
//! throughput "elements" are floating-point operations (2·n³), so criterion's elem/s is FLOP/s.
//! `fma_peak_f32` measures the machine's own peak to compare against.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nidl::tensor::gemm::gemm;
use nidl::Element;

fn run<T: Element>(c: &mut Criterion, name: &str) {
    let mut group = c.benchmark_group(name);
    for n in [128usize, 256, 512] {
        let a: Vec<T> = (0..n * n)
            .map(|i| T::from_f64(((i * 7 % 13) as f64 - 6.0) / 7.0))
            .collect();
        let b = a.clone();
        let mut out = vec![T::ZERO; n * n];
        group.throughput(Throughput::Elements(2 * (n * n * n) as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |bench, &n| {
            bench.iter(|| gemm(false, false, n, n, n, T::ONE, &a, &b, T::ZERO, &mut out))
        });
    }
    group.finish();
}

/// FMA iterations per accumulator in one peak measurement.
const PEAK_ITERS: usize = 1 << 16;
/// Independent accumulators: enough to cover FMA latency × throughput on current x86 cores.
const PEAK_CHAINS: usize = 12;

/// The machine's f32 peak, measured: `PEAK_CHAINS` independent FMA chains on the widest vectors
/// the CPU has (AVX-512, else AVX2+FMA), on every core at once. Elements = FLOPs.
fn fma_peak(c: &mut Criterion) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        #[target_feature(enable = "avx512f")]
        unsafe fn chains512() -> f32 {
            let mut acc = [_mm512_set1_ps(0.0); PEAK_CHAINS];
            let (a, b) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
            for _ in 0..PEAK_ITERS {
                for v in acc.iter_mut() {
                    *v = _mm512_fmadd_ps(*v, a, b);
                }
            }
            acc.iter().map(|&v| _mm512_reduce_add_ps(v)).sum()
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn chains256() -> f32 {
            let mut acc = [_mm256_set1_ps(0.0); PEAK_CHAINS];
            let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
            for _ in 0..PEAK_ITERS {
                for v in acc.iter_mut() {
                    *v = _mm256_fmadd_ps(*v, a, b);
                }
            }
            let mut out = [0f32; 8];
            acc.iter().for_each(|&v| {
                let mut lanes = [0f32; 8];
                _mm256_storeu_ps(lanes.as_mut_ptr(), v);
                out.iter_mut().zip(lanes).for_each(|(o, l)| *o += l);
            });
            out.iter().sum()
        }
        let (lanes, run): (usize, fn() -> f32) = if is_x86_feature_detected!("avx512f") {
            // SAFETY: the feature was detected at run time.
            (16, || unsafe { chains512() })
        } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: the features were detected at run time.
            (8, || unsafe { chains256() })
        } else {
            return;
        };
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut group = c.benchmark_group("fma_peak_f32");
        group.throughput(Throughput::Elements(
            (2 * lanes * PEAK_CHAINS * PEAK_ITERS * threads) as u64,
        ));
        group.bench_function(format!("{threads}_threads_{}bit", lanes * 32), |bench| {
            bench.iter(|| {
                std::thread::scope(|s| {
                    let hs: Vec<_> = (0..threads).map(|_| s.spawn(run)).collect();
                    hs.into_iter().map(|h| h.join().unwrap_or(0.0)).sum::<f32>()
                })
            })
        });
        group.finish();
    }
}

fn gemm_benches(c: &mut Criterion) {
    fma_peak(c);
    run::<f32>(c, "gemm_f32");
    run::<f64>(c, "gemm_f64");
}

criterion_group!(benches, gemm_benches);
criterion_main!(benches);
