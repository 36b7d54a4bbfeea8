//! The wgpu kernels of DINO's building blocks against the CPU ones (f32): the exact GELU and
//! its gradient, the EMA update, and the ops composed on them — weight norm, the `DinoHead`
//! forward and backward, the DINO loss with its centre. Tolerance as `tests/gpu.rs`: 1e-4
//! relative with a floor of 1 % of the array's largest magnitude. Runs on any adapter; CI
//! uses lavapipe.
#![cfg(feature = "gpu")]

mod common;

use nidl::autograd::{Graph, ParamId};
use nidl::loss::{DinoLoss, DinoLossConfig};
use nidl::nn::{move_to, DinoHead, DinoHeadConfig, Module};
use nidl::tensor::Device;
use nidl::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn randn(shape: &[usize], std: f64, seed: u64) -> Tensor<f32> {
    Tensor::rand_normal(shape, 0.0, std, &mut StdRng::seed_from_u64(seed))
}

fn gpu(t: &Tensor<f32>) -> Tensor<f32> {
    t.to_device(Device::Gpu)
        .expect("a GPU adapter (lavapipe in CI)")
}

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

/// Both erf branches (|x|/√2 below and above 2.5) and the tails (|x| up to ~20).
#[test]
fn gelu_and_its_gradient() {
    let x = randn(&[37, 29], 5.0, 1);
    check("gelu", &gpu(&x).gelu().unwrap(), &x.gelu().unwrap());
    let g = randn(&[37, 29], 1.0, 2);
    check(
        "gelu backward",
        &gpu(&x).gelu_backward(gpu(&g)).unwrap(),
        &x.gelu_backward(g).unwrap(),
    );
    // Relative accuracy in the tails: gelu(−12) ≈ −2e-32, gelu(−3.6) ≈ −5.8e-4 (erfc by the
    // continued fraction on both devices), gelu(12) = 12.
    let tails = Tensor::from_vec(vec![-30.0f32, -12.0, -3.6, 3.6, 12.0, 30.0], &[6]).unwrap();
    let (on_gpu, on_cpu) = (
        gpu(&tails).gelu().unwrap().to_vec().unwrap(),
        tails.gelu().unwrap().to_vec().unwrap(),
    );
    for (a, b) in on_gpu.iter().zip(&on_cpu) {
        assert!((a - b).abs() <= 1e-5 * b.abs(), "{a} vs {b}");
    }
}

#[test]
fn ema_update() {
    let (t, s) = (randn(&[1000, 3], 1.0, 3), randn(&[1000, 3], 1.0, 4));
    let mut on_cpu = t.clone();
    on_cpu.ema_update(&s, 0.996).unwrap();
    let mut on_gpu = gpu(&t);
    on_gpu.ema_update(&gpu(&s), 0.996).unwrap();
    check("ema_update", &on_gpu, &on_cpu);
    // Two products and a sum on both devices: the same f32 bits.
    assert_eq!(on_gpu.to_vec().unwrap(), on_cpu.to_vec().unwrap());
}

/// A DINO head on the GPU: forward, the input gradient and the last layer's gradients.
#[test]
fn dino_head_forward_and_backward() {
    for norm_last_layer in [true, false] {
        let cfg = DinoHeadConfig {
            input_dim: 12,
            hidden_dim: 32,
            bottleneck_dim: 8,
            output_dim: 40,
            batch_norm: true,
            norm_last_layer,
        };
        let cpu_head = DinoHead::<f32>::new(&cfg, &mut StdRng::seed_from_u64(5)).unwrap();
        let mut gpu_head = DinoHead::<f32>::new(&cfg, &mut StdRng::seed_from_u64(5)).unwrap();
        move_to(&mut gpu_head, Device::Gpu).unwrap();
        let x = randn(&[16, 12], 1.0, 6);
        let run = |head: &DinoHead<f32>, x: Tensor<f32>| {
            let mut g = Graph::new();
            let xv = g.param(ParamId::fresh(), &x);
            let y = head.forward(&mut g, xv).unwrap();
            let y2 = g.mul(y, y).unwrap();
            let s = g.sum(y2).unwrap();
            let grads = g.backward(s).unwrap();
            let last: Vec<Tensor<f32>> = head
                .last_layer_parameters()
                .iter()
                .map(|p| grads.param(p.id()).unwrap().clone())
                .collect();
            (g.value(y).clone(), grads.get(xv).unwrap().clone(), last)
        };
        let (yc, gxc, lc) = run(&cpu_head, x.clone());
        let (yg, gxg, lg) = run(&gpu_head, gpu(&x));
        let what = format!("norm_last_layer={norm_last_layer}");
        check(&format!("{what} head y"), &yg, &yc);
        check(&format!("{what} head grad x"), &gxg, &gxc);
        for (i, (a, b)) in lg.iter().zip(&lc).enumerate() {
            check(&format!("{what} last layer grad {i}"), a, b);
        }
    }
}

/// The DINO loss (2 global + 4 local views) and its centre on the GPU over two steps.
#[test]
fn dino_loss_and_centre() {
    let (b, d) = (8, 64);
    let cfg = DinoLossConfig {
        output_dim: d,
        ..DinoLossConfig::default()
    };
    let mut on_cpu = DinoLoss::<f32>::new(cfg).unwrap();
    let mut on_gpu = DinoLoss::<f32>::new(cfg).unwrap();
    on_gpu.to_device(Device::Gpu).unwrap();
    for step in 0..2u64 {
        let teacher = randn(&[2 * b, d], 2.0, 10 + step);
        let student = randn(&[6 * b, d], 2.0, 20 + step);
        let mut run = |loss: &mut DinoLoss<f32>, t: Tensor<f32>, s: Tensor<f32>| {
            let mut g = Graph::new();
            let sv = g.param(ParamId::fresh(), &s);
            let l = loss
                .forward(&mut g, &t, sv, 2, Some(step as usize))
                .unwrap();
            let grads = g.backward(l).unwrap();
            (g.value(l).clone(), grads.get(sv).unwrap().clone())
        };
        let (lc, gc) = run(&mut on_cpu, teacher.clone(), student.clone());
        let (lg, gg) = run(&mut on_gpu, gpu(&teacher), gpu(&student));
        check(&format!("step {step} loss"), &lg, &lc);
        check(&format!("step {step} grad"), &gg, &gc);
        check(
            &format!("step {step} centre"),
            on_gpu.center(),
            on_cpu.center(),
        );
    }
}
