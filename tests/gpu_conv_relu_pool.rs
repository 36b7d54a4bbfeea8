//! The fused recorded op `conv2d_relu_pool` (issue 17) on the wgpu backend against the CPU:
//! its training form (pooled output and the kept relu output) and its backward, f32 within
//! 1e-4 relative (floor: 1 % of the array's largest magnitude), as `tests/gpu.rs` checks every
//! kernel. The GPU runs the documented composition (conv2d → relu → avg_pool2d forward;
//! avg_pool2d_backward → relu_backward → conv2d_backward back), the CPU its fused kernels.
//! Runs on any Vulkan/Metal/DX12 adapter; CI uses Mesa's software Vulkan (lavapipe).
#![cfg(feature = "gpu")]

mod common;

use nidl::autograd::Graph;
use nidl::tensor::{Conv2dGeometry, Device};
use nidl::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn rand(shape: &[usize], seed: u64) -> Tensor<f32> {
    Tensor::rand_uniform(shape, -2.0, 2.0, &mut StdRng::seed_from_u64(seed))
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

#[test]
fn conv2d_relu_pool_train_and_backward_match_the_cpu() {
    // LeNet's two layers (the CPU's direct kernels), an odd output (composed forward on the
    // CPU too) and k = 3.
    let cases = [
        ([9, 1, 28, 28], [6, 1, 5, 5], 2, 2),
        ([9, 6, 14, 14], [16, 6, 5, 5], 0, 2),
        ([3, 2, 9, 9], [4, 2, 3, 3], 0, 2),
        ([2, 3, 8, 8], [5, 3, 3, 3], 1, 3),
    ];
    for (i, (xs, ws, padding, k)) in cases.into_iter().enumerate() {
        let geom = Conv2dGeometry { stride: 1, padding };
        let seed = 10 * i as u64;
        let (x, w, b) = (
            rand(&xs, seed),
            rand(&ws, seed + 1),
            rand(&[ws[0]], seed + 2),
        );
        let (pooled, act) = x.conv2d_relu_pool_train(&w, Some(&b), geom, k).unwrap();
        let (gpooled, gact) = gpu(&x)
            .conv2d_relu_pool_train(&gpu(&w), Some(&gpu(&b)), geom, k)
            .unwrap();
        check(&format!("case {i} pooled"), &gpooled, &pooled);
        check(&format!("case {i} act"), &gact, &act);
        let g = rand(pooled.shape(), seed + 3);
        // The CPU's act on both sides: the relu mask is then the same exactly.
        let (gx, gw, gb) = x
            .conv2d_relu_pool_backward(&w, &act, &g, geom, k, true)
            .unwrap();
        let (ggx, ggw, ggb) = gpu(&x)
            .conv2d_relu_pool_backward(&gpu(&w), &gpu(&act), &gpu(&g), geom, k, true)
            .unwrap();
        check(&format!("case {i} grad_x"), &ggx.unwrap(), &gx.unwrap());
        check(&format!("case {i} grad_w"), &ggw, &gw);
        check(&format!("case {i} grad_b"), &ggb, &gb);
    }
}

#[test]
fn recorded_conv2d_relu_pool_on_the_gpu_matches_the_cpu() {
    // Through the tape: L = Σ y·c for y = conv2d_relu_pool(x, w, b), gradients of w and b.
    let geom = Conv2dGeometry {
        stride: 1,
        padding: 2,
    };
    let (x, w, b) = (
        rand(&[5, 1, 28, 28], 1),
        rand(&[6, 1, 5, 5], 2),
        rand(&[6], 3),
    );
    let c = rand(&[5, 6, 14, 14], 4);
    let run = |x: Tensor<f32>, w: Tensor<f32>, b: Tensor<f32>, c: Tensor<f32>| {
        let mut g = Graph::new();
        let (xv, wv, bv) = (
            g.input(x),
            g.param(nidl::autograd::ParamId::fresh(), &w),
            g.param(nidl::autograd::ParamId::fresh(), &b),
        );
        let cv = g.input(c);
        let y = g.conv2d_relu_pool(xv, wv, Some(bv), geom, 2).unwrap();
        let yc = g.mul(y, cv).unwrap();
        let loss = g.sum(yc).unwrap();
        let grads = g.backward(loss).unwrap();
        (
            g.value(y).clone(),
            grads.get(wv).unwrap().clone(),
            grads.get(bv).unwrap().clone(),
        )
    };
    let cpu = run(x.clone(), w.clone(), b.clone(), c.clone());
    let on_gpu = run(gpu(&x), gpu(&w), gpu(&b), gpu(&c));
    check("recorded y", &on_gpu.0, &cpu.0);
    check("recorded grad_w", &on_gpu.1, &cpu.1);
    check("recorded grad_b", &on_gpu.2, &cpu.2);
}
