//! The β-VAE's GPU kernels against the CPU ones (sigmoid, nearest upsampling and its gradient,
//! f32 within 1e-4 relative as `tests/gpu.rs`), and whole β-VAE training steps on the GPU
//! within 1e-3 of the CPU run's losses. Runs on any Vulkan/Metal/DX12 adapter; CI uses Mesa's
//! software Vulkan (lavapipe).
#![cfg(feature = "gpu")]

mod common;

use nidl::autograd::Graph;
use nidl::datasets::loader::Batch;
use nidl::loss::ReconstructionDistribution;
use nidl::nn::LeNet;
use nidl::tensor::{Device, UnaryOp};
use nidl::train::{BetaVae, BetaVaeConfig, Estimator, SampleShape};
use nidl::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Uniform values in [lo, hi) from `seed`.
fn rand(shape: &[usize], lo: f64, hi: f64, seed: u64) -> Tensor<f32> {
    Tensor::rand_uniform(shape, lo, hi, &mut StdRng::seed_from_u64(seed))
}

fn gpu(t: &Tensor<f32>) -> Tensor<f32> {
    t.to_device(Device::Gpu)
        .expect("a GPU adapter (lavapipe in CI)")
}

/// The GPU result within 1e-4 relative of the CPU one (floor: 1 % of the largest magnitude),
/// same shape, still on the GPU.
fn check(what: &str, on_gpu: &Tensor<f32>, on_cpu: &Tensor<f32>) {
    assert_eq!(on_gpu.device(), Device::Gpu, "{what}: result left the GPU");
    assert_eq!(on_gpu.shape(), on_cpu.shape(), "{what}: shape");
    let to64 = |t: &Tensor<f32>| -> Vec<f64> {
        t.to_vec().unwrap().iter().map(|&v| f64::from(v)).collect()
    };
    let expected = to64(on_cpu);
    let scale = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    common::assert_close(
        what,
        &to64(on_gpu),
        &expected,
        1e-4,
        (scale * 1e-2).max(1e-30),
    );
}

#[test]
fn sigmoid_matches_the_cpu_also_in_the_tails() {
    let mut x = rand(&[37, 29], -12.0, 12.0, 1);
    // Far tails: no overflow to NaN on either device.
    x.data_mut().unwrap()[..4].copy_from_slice(&[-200.0, 200.0, -88.0, 88.0]);
    let cpu = x.map(UnaryOp::Sigmoid).unwrap();
    let on_gpu = gpu(&x).map(UnaryOp::Sigmoid).unwrap();
    check("sigmoid", &on_gpu, &cpu);
    let head = on_gpu.to_vec().unwrap();
    assert_eq!(&head[..2], &[0.0, 1.0]);
}

#[test]
fn upsample_nearest2d_and_its_gradient_match_the_cpu() {
    let x = rand(&[3, 5, 7, 6], -2.0, 2.0, 2);
    for k in [1, 2, 3] {
        let cpu = x.upsample_nearest2d(k).unwrap();
        let on_gpu = gpu(&x).upsample_nearest2d(k).unwrap();
        // A copy: equal bits.
        assert_eq!(on_gpu.to_vec().unwrap(), cpu.to_vec().unwrap(), "k={k}");
        check(&format!("upsample_nearest2d k={k}"), &on_gpu, &cpu);
        let g = rand(cpu.shape(), -2.0, 2.0, 3);
        check(
            &format!("upsample_nearest2d_backward k={k}"),
            &Tensor::upsample_nearest2d_backward(&gpu(&g), x.shape(), k).unwrap(),
            &Tensor::upsample_nearest2d_backward(&g, x.shape(), k).unwrap(),
        );
    }
}

/// The `vae-mnist` model (bernoulli) drawn from seed 42.
fn vae() -> BetaVae {
    let mut rng = StdRng::seed_from_u64(42);
    let encoder = LeNet::<f32>::new(32, &mut rng).unwrap();
    let config = BetaVaeConfig {
        default_dist: ReconstructionDistribution::Bernoulli,
        lr: 1e-3,
        ..BetaVaeConfig::default()
    };
    BetaVae::new(
        Box::new(encoder),
        32,
        SampleShape::Image([1, 28, 28]),
        config,
        &mut rng,
    )
    .unwrap()
}

#[test]
fn vae_training_steps_on_the_gpu_follow_the_cpu() {
    let batch = Batch {
        views: rand(&[32, 1, 28, 28], 0.0, 1.0, 4),
        n_views: 1,
        labels: Tensor::zeros(&[32]),
        indices: (0..32).collect(),
    };
    let losses = |device: Device| -> Vec<f64> {
        let mut est = vae();
        est.move_to(device).unwrap();
        (0..3)
            .map(|_| {
                let mut g = Graph::new();
                let loss = est.loss(&mut g, &batch).unwrap();
                assert_eq!(g.value(loss).device(), device);
                let v = f64::from(g.value(loss).item().unwrap());
                let grads = g.backward(loss).unwrap();
                est.apply_gradients(&grads).unwrap();
                v
            })
            .collect()
    };
    let (cpu, on_gpu) = (losses(Device::Cpu), losses(Device::Gpu));
    common::assert_close("vae losses", &on_gpu, &cpu, 1e-3, 0.0);
}
