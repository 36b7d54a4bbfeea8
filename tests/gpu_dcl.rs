//! DCL and DCLW on the wgpu backend against the CPU: the loss and its gradients (composed from
//! existing ops, each with its own kernel parity test in tests/gpu.rs) within 1e-4 relative, and
//! whole `Dcl` estimator steps (LeNet, head, loss, AdamW, schedule) within 1e-3 of the CPU run's
//! loss. Runs on any Vulkan/Metal/DX12 adapter; CI uses Mesa's software Vulkan (lavapipe).
#![cfg(feature = "gpu")]

mod common;

use nidl::autograd::{Graph, ParamId};
use nidl::datasets::loader::Batch;
use nidl::loss::DclLoss;
use nidl::nn::LeNet;
use nidl::tensor::Device;
use nidl::train::{Dcl, DclConfig, Estimator};
use nidl::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn to64(t: &Tensor<f32>) -> Vec<f64> {
    t.to_vec().unwrap().iter().map(|&v| f64::from(v)).collect()
}

/// The loss and the gradients into both views, with the views on `device`; asserts the
/// gradients come back on that device.
fn loss_and_grads(loss: &DclLoss, z: &[Tensor<f32>; 2], device: Device) -> Vec<Vec<f64>> {
    let mut g = Graph::<f32>::new();
    let on = |t: &Tensor<f32>| t.to_device(device).expect("a GPU adapter (lavapipe in CI)");
    let v1 = g.param(ParamId::fresh(), &on(&z[0]));
    let v2 = g.param(ParamId::fresh(), &on(&z[1]));
    let l = loss.forward(&mut g, v1, v2).unwrap();
    let value = to64(g.value(l));
    let grads = g.backward(l).unwrap();
    let (g1, g2) = (grads.get(v1).unwrap(), grads.get(v2).unwrap());
    assert_eq!((g1.device(), g2.device()), (device, device));
    vec![value, to64(g1), to64(g2)]
}

#[test]
fn dcl_and_dclw_loss_and_gradients_match_the_cpu() {
    let mut rng = StdRng::seed_from_u64(11);
    let z = [
        Tensor::rand_normal(&[48, 24], 0.0, 1.0, &mut rng),
        Tensor::rand_normal(&[48, 24], 0.0, 1.0, &mut rng),
    ];
    for loss in [
        DclLoss::new(0.1),
        DclLoss::weighted(0.5, 0.1),
        DclLoss::weighted(0.2, 0.3),
    ] {
        let cpu = loss_and_grads(&loss, &z, Device::Cpu);
        let gpu = loss_and_grads(&loss, &z, Device::Gpu);
        for (what, (a, b)) in ["loss", "grad_z1", "grad_z2"]
            .iter()
            .zip(gpu.iter().zip(&cpu))
        {
            let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            common::assert_close(&format!("{loss:?} {what}"), a, b, 1e-4, scale * 1e-2);
        }
    }
}

/// DCL (or DCLW) on a LeNet with a small head, for a 2-epoch run of 2 steps per epoch.
fn model(sigma: Option<f64>) -> Dcl {
    let mut rng = StdRng::seed_from_u64(5);
    let encoder = LeNet::new(16, &mut rng).unwrap();
    let config = DclConfig {
        proj_hidden_dim: 32,
        proj_output_dim: 16,
        sigma,
        warmup_epochs: 1,
        lr: 1e-3,
        ..DclConfig::default()
    };
    let mut est = Dcl::new(Box::new(encoder), 16, config, &mut rng).unwrap();
    est.set_run_length(2, 2).unwrap();
    est
}

#[test]
fn dcl_estimator_steps_track_the_cpu_run() {
    for sigma in [None, Some(0.5)] {
        let mut cpu = model(sigma);
        let mut on_gpu = model(sigma);
        on_gpu.move_to(Device::Gpu).unwrap();
        for step in 0..4u64 {
            let mut rng = StdRng::seed_from_u64(100 + step);
            let batch = Batch {
                views: Tensor::rand_uniform(&[64, 1, 28, 28], -1.0, 1.0, &mut rng),
                n_views: 2,
                labels: Tensor::zeros(&[32]),
                indices: (0..32).collect(),
            };
            let mut losses = Vec::new();
            for est in [&mut cpu, &mut on_gpu] {
                let mut g = Graph::new();
                let l = est.loss(&mut g, &batch).unwrap();
                losses.push(f64::from(g.value(l).to_vec().unwrap()[0]));
                let grads = g.backward(l).unwrap();
                est.apply_gradients(&grads).unwrap();
            }
            assert!(
                (losses[0] - losses[1]).abs() <= 1e-3,
                "{sigma:?} step {step}: CPU loss {} vs GPU {}",
                losses[0],
                losses[1]
            );
        }
    }
}
