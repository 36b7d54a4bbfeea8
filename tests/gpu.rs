//! The wgpu backend against the CPU kernels: every GPU kernel on f32 within 1e-4 relative of the
//! CPU result (relative to each value, with a floor of 1 % of the array's largest magnitude
//! for values that cancel), and whole SimCLR training steps within 1e-3 of the CPU run's loss.
//! Runs on any Vulkan/Metal/DX12 adapter; CI uses Mesa's software Vulkan (lavapipe). Without an
//! adapter these tests fail with the error that names what was looked for.
#![cfg(feature = "gpu")]

mod common;

use common::simclr::{random_views, SimClrStep};
use nidl::autograd::Graph;
use nidl::tensor::Conv2dGeometry;
use nidl::tensor::{BinaryOp, Device, UnaryOp};
use nidl::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Uniform values in [-2, 2) from `seed`.
fn rand(shape: &[usize], seed: u64) -> Tensor<f32> {
    Tensor::rand_uniform(shape, -2.0, 2.0, &mut StdRng::seed_from_u64(seed))
}

fn gpu(t: &Tensor<f32>) -> Tensor<f32> {
    t.to_device(Device::Gpu)
        .expect("a GPU adapter (lavapipe in CI)")
}

/// Asserts the GPU result equals the CPU one within 1e-4 relative (floor: 1 % of the largest
/// magnitude), with the same shape, and that it stayed on the GPU.
fn check(what: &str, on_gpu: &Tensor<f32>, on_cpu: &Tensor<f32>) {
    assert_eq!(on_gpu.device(), Device::Gpu, "{what}: result left the GPU");
    assert_eq!(on_gpu.shape(), on_cpu.shape(), "{what}: shape");
    let to64 = |t: &Tensor<f32>| {
        t.to_vec()
            .unwrap()
            .iter()
            .map(|&v| f64::from(v))
            .collect::<Vec<_>>()
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
fn matmul_in_every_transpose_combination() {
    for &(m, n, k) in &[(1, 1, 1), (67, 45, 33), (130, 70, 200), (256, 256, 32)] {
        for ta in [false, true] {
            for tb in [false, true] {
                let a = rand(&if ta { [k, m] } else { [m, k] }, 1);
                let b = rand(&if tb { [n, k] } else { [k, n] }, 2);
                let cpu = a.matmul(&b, ta, tb).unwrap();
                let on_gpu = gpu(&a).matmul(&gpu(&b), ta, tb).unwrap();
                check(
                    &format!("matmul {m}x{n}x{k} ta={ta} tb={tb}"),
                    &on_gpu,
                    &cpu,
                );
            }
        }
    }
}

#[test]
fn elementwise_broadcasts_scalars_and_maps() {
    let a = rand(&[3, 5, 7], 3);
    let positive = a.map(UnaryOp::Exp).unwrap();
    for bshape in [&[3, 5, 7][..], &[7], &[5, 1], &[3, 1, 7], &[1]] {
        let b = rand(bshape, 4).map(UnaryOp::Exp).unwrap(); // positive: safe divisor
        for op in [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div] {
            let cpu = a.binary(&b, op).unwrap();
            check(
                &format!("{op:?} by {bshape:?}"),
                &gpu(&a).binary(&gpu(&b), op).unwrap(),
                &cpu,
            );
            // A host operand is uploaded.
            check(
                &format!("{op:?} host rhs"),
                &gpu(&a).binary(&b, op).unwrap(),
                &cpu,
            );
        }
    }
    for op in [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div] {
        check(
            &format!("scalar {op:?}"),
            &gpu(&a).scalar_op(1.7, op).unwrap(),
            &a.scalar_op(1.7, op).unwrap(),
        );
    }
    for op in [UnaryOp::Relu, UnaryOp::Exp, UnaryOp::Neg] {
        check(
            &format!("{op:?}"),
            &gpu(&a).map(op).unwrap(),
            &a.map(op).unwrap(),
        );
    }
    for op in [UnaryOp::Ln, UnaryOp::Sqrt] {
        check(
            &format!("{op:?}"),
            &gpu(&positive).map(op).unwrap(),
            &positive.map(op).unwrap(),
        );
    }
    let g = rand(&[3, 5, 7], 5);
    let out = a.relu().unwrap();
    check(
        "relu_backward",
        &gpu(&out).relu_backward(gpu(&g)).unwrap(),
        &out.relu_backward(g.clone()).unwrap(),
    );
    let mask: Vec<bool> = (0..a.len()).map(|i| i % 3 == 0).collect();
    check(
        "masked_fill",
        &gpu(&a).masked_fill(&mask, -9.5).unwrap(),
        &a.masked_fill(&mask, -9.5).unwrap(),
    );
    check(
        "zero_where",
        &Tensor::zero_where(gpu(&g), &mask).unwrap(),
        &Tensor::zero_where(g.clone(), &mask).unwrap(),
    );
    let mut acc = gpu(&a);
    acc.add_assign(&gpu(&g)).unwrap();
    check("add_assign", &acc, &a.add(&g).unwrap());
}

#[test]
fn broadcasting_over_more_axes_than_the_kernel_holds_merges_them() {
    // Ten axes: equal shapes merge into one, this broadcast into six runs of axes.
    let a = rand(&[2, 2, 2, 2, 2, 2, 2, 2, 2, 3], 12);
    for bshape in [a.shape(), &[2, 1, 2, 1, 2, 3][..]] {
        let b = rand(bshape, 13);
        check(
            &format!("add over 10 axes by {bshape:?}"),
            &gpu(&a).add(&gpu(&b)).unwrap(),
            &a.add(&b).unwrap(),
        );
        if bshape == a.shape() {
            let mut acc = gpu(&a);
            acc.add_assign(&gpu(&b)).unwrap();
            check("add_assign over 10 axes", &acc, &a.add(&b).unwrap());
        }
    }
    // Ten alternations of broadcast and not cannot merge: a clear error, not a panic.
    let b = rand(&[2, 1, 2, 1, 2, 1, 2, 1, 2, 1], 14);
    let a = rand(&[2; 10], 15);
    let err = gpu(&a).add(&gpu(&b)).unwrap_err().to_string();
    assert!(
        err.contains("at most 8") && err.contains("[2, 1, 2"),
        "{err}"
    );
}

#[test]
fn reductions() {
    let a = rand(&[4, 300, 6], 6);
    for axis in 0..3 {
        check(
            &format!("sum_axis {axis}"),
            &gpu(&a).sum_axis(axis).unwrap(),
            &a.sum_axis(axis).unwrap(),
        );
    }
    let long = rand(&[70_001], 7);
    check(
        "sum_all",
        &gpu(&long).sum_all().unwrap(),
        &long.sum_all().unwrap(),
    );
    for shape in [&[6][..], &[300, 1], &[4, 1, 6], &[1, 300, 6]] {
        check(
            &format!("sum_to_shape {shape:?}"),
            &gpu(&a).sum_to_shape(shape).unwrap(),
            &a.sum_to_shape(shape).unwrap(),
        );
    }
}

#[test]
fn layout_ops() {
    let a = rand(&[4, 6, 5], 8);
    let b = rand(&[4, 2, 5], 9);
    check(
        "concat axis 1",
        &Tensor::concat(&[&gpu(&a), &gpu(&b), &gpu(&a)], 1).unwrap(),
        &Tensor::concat(&[&a, &b, &a], 1).unwrap(),
    );
    check(
        "concat axis 0",
        &Tensor::concat(&[&gpu(&a), &a], 0).unwrap(),
        &Tensor::concat(&[&a, &a], 0).unwrap(),
    );
    check(
        "slice",
        &gpu(&a).slice(1, 2, 5).unwrap(),
        &a.slice(1, 2, 5).unwrap(),
    );
    let m = rand(&[37, 23], 10);
    check(
        "transpose",
        &gpu(&m).transpose().unwrap(),
        &m.transpose().unwrap(),
    );
    let idx = [3, 0, 3, 36, 5];
    check(
        "gather_rows",
        &gpu(&m).gather_rows(&idx).unwrap(),
        &m.gather_rows(&idx).unwrap(),
    );
    let g = rand(&[5, 23], 11);
    check(
        "scatter_add_rows",
        &gpu(&g).scatter_add_rows(&idx, &[37, 23]).unwrap(),
        &g.scatter_add_rows(&idx, &[37, 23]).unwrap(),
    );
    let r = gpu(&m).reshape(&[23, 37]).unwrap();
    assert_eq!(r.device(), Device::Gpu);
    assert_eq!(r.to_vec().unwrap(), m.to_vec().unwrap());
}

fn geom(stride: usize, padding: usize) -> Conv2dGeometry {
    Conv2dGeometry { stride, padding }
}

#[test]
fn convolution_and_pooling() {
    let cases = [
        ([3, 2, 11, 9], [4, 2, 3, 3], geom(1, 0)),
        ([2, 3, 8, 8], [5, 3, 5, 5], geom(1, 2)),
        ([2, 2, 9, 10], [3, 2, 3, 2], geom(2, 1)),
        ([17, 1, 28, 28], [6, 1, 5, 5], geom(1, 0)),
        // A window of 20·4·4 = 320 > 256: the im2col + GEMM paths, also strided.
        ([2, 20, 7, 6], [3, 20, 4, 4], geom(1, 1)),
        ([2, 20, 9, 8], [3, 20, 4, 4], geom(2, 1)),
    ];
    for (i, (xs, ws, geom)) in cases.into_iter().enumerate() {
        let x = rand(&xs, 20 + i as u64);
        let w = rand(&ws, 30 + i as u64);
        let b = rand(&[ws[0]], 40 + i as u64);
        let cpu = x.conv2d(&w, Some(&b), geom).unwrap();
        let on_gpu = gpu(&x).conv2d(&gpu(&w), Some(&gpu(&b)), geom).unwrap();
        check(&format!("conv2d case {i}"), &on_gpu, &cpu);
        let g = rand(cpu.shape(), 50 + i as u64);
        let (gx, gw, gb) = x.conv2d_backward(&w, &g, geom, true).unwrap();
        let (ggx, ggw, ggb) = gpu(&x)
            .conv2d_backward(&gpu(&w), &gpu(&g), geom, true)
            .unwrap();
        check(
            &format!("conv2d grad_x case {i}"),
            &ggx.unwrap(),
            &gx.unwrap(),
        );
        check(&format!("conv2d grad_w case {i}"), &ggw, &gw);
        check(&format!("conv2d grad_b case {i}"), &ggb, &gb);
        let (no_gx, ..) = gpu(&x)
            .conv2d_backward(&gpu(&w), &gpu(&g), geom, false)
            .unwrap();
        assert!(no_gx.is_none());
    }
    let x = rand(&[3, 4, 9, 8], 60);
    for k in [2, 3] {
        let cpu = x.avg_pool2d(k).unwrap();
        check(
            &format!("avg_pool2d k={k}"),
            &gpu(&x).avg_pool2d(k).unwrap(),
            &cpu,
        );
        let g = rand(cpu.shape(), 61);
        check(
            &format!("avg_pool2d_backward k={k}"),
            &Tensor::avg_pool2d_backward(&gpu(&g), x.shape(), k).unwrap(),
            &Tensor::avg_pool2d_backward(&g, x.shape(), k).unwrap(),
        );
    }
}

#[test]
fn row_kernels_of_the_losses() {
    let mut a = rand(&[40, 33], 70);
    a.data_mut().unwrap()[33..66].fill(0.0); // a zero row: its norm is clamped to eps
    let (y, norms) = a.l2_normalize_rows(1e-12).unwrap();
    let (gy, gnorms) = gpu(&a).l2_normalize_rows(1e-12).unwrap();
    check("l2_normalize_rows", &gy, &y);
    check("l2 norms", &gnorms, &norms);
    let g = rand(&[40, 33], 71);
    check(
        "l2_normalize_rows_backward",
        &gy.l2_normalize_rows_backward(&gnorms, 1e-12, gpu(&g))
            .unwrap(),
        &y.l2_normalize_rows_backward(&norms, 1e-12, g.clone())
            .unwrap(),
    );
    let x = rand(&[40, 33], 72).mul_scalar(10.0).unwrap();
    let lse = x.logsumexp_rows().unwrap();
    let glse = gpu(&x).logsumexp_rows().unwrap();
    check("logsumexp_rows", &glse, &lse);
    let gl = rand(&[40, 1], 73);
    check(
        "logsumexp_rows_backward",
        &gpu(&x).logsumexp_rows_backward(&glse, &gpu(&gl)).unwrap(),
        &x.logsumexp_rows_backward(&lse, &gl).unwrap(),
    );
    let ls = x.log_softmax_rows().unwrap();
    let gls = gpu(&x).log_softmax_rows().unwrap();
    check("log_softmax_rows", &gls, &ls);
    check(
        "log_softmax_rows_backward",
        &gls.log_softmax_rows_backward(gpu(&g)).unwrap(),
        &ls.log_softmax_rows_backward(g.clone()).unwrap(),
    );
}

#[test]
fn adamw_steps_match() {
    use nidl::optim::AdamW;
    let make = || {
        AdamW::new(1e-2)
            .weight_decay(0.1)
            .exclude_1d_from_decay(true)
    };
    adam_steps_match("AdamW", make(), make());
}

#[test]
fn adam_with_l2_decay_steps_match() {
    use nidl::optim::Adam;
    let make = || Adam::new(1e-2).weight_decay(0.1);
    adam_steps_match("Adam (L2 decay)", make(), make());
}

/// Five steps of a weight and a bias, on the CPU and on the GPU, end at the same values.
fn adam_steps_match(
    what: &str,
    mut cpu_opt: impl nidl::optim::Optimizer<f32>,
    mut gpu_opt: impl nidl::optim::Optimizer<f32>,
) {
    let p0 = rand(&[70, 13], 80);
    let bias = rand(&[13], 81);
    let (mut cp, mut cb) = (p0.clone(), bias.clone());
    let (mut gp, mut gb) = (gpu(&p0), gpu(&bias));
    for step in 0..5 {
        let g1 = rand(&[70, 13], 90 + step);
        let g2 = rand(&[13], 100 + step);
        cpu_opt.step(&mut [&mut cp, &mut cb], &[&g1, &g2]).unwrap();
        gpu_opt
            .step(&mut [&mut gp, &mut gb], &[&gpu(&g1), &gpu(&g2)])
            .unwrap();
    }
    check(&format!("{what} weight after 5 steps"), &gp, &cp);
    check(&format!("{what} bias after 5 steps"), &gb, &cb);
}

#[test]
fn sgd_steps_match_and_stay_on_the_gpu() {
    use nidl::optim::{Optimizer, Sgd};
    let p0 = rand(&[40, 9], 120);
    type Make = fn() -> Sgd<f32>;
    let configs: [(&str, Make); 3] = [
        ("plain", || Sgd::new(1e-2)),
        ("momentum, dampening, decay", || {
            Sgd::new(1e-2)
                .momentum(0.9)
                .dampening(0.1)
                .weight_decay(0.05)
        }),
        ("Nesterov", || Sgd::new(1e-2).momentum(0.9).nesterov(true)),
    ];
    for (name, make) in configs {
        let (mut cpu_opt, mut gpu_opt) = (make(), make());
        let (mut cp, mut gp) = (p0.clone(), gpu(&p0));
        for step in 0..5 {
            let grad = rand(&[40, 9], 130 + step);
            cpu_opt.step(&mut [&mut cp], &[&grad]).unwrap();
            gpu_opt.step(&mut [&mut gp], &[&gpu(&grad)]).unwrap();
        }
        check(&format!("SGD ({name}) after 5 steps"), &gp, &cp);
    }
}

#[test]
fn simclr_steps_track_the_cpu_run_and_read_back_only_the_loss() {
    let mut cpu = SimClrStep::<f32>::new(7);
    let mut on_gpu = SimClrStep::<f32>::new(7);
    nidl::nn::move_to(&mut on_gpu.encoder, Device::Gpu).unwrap();
    nidl::nn::move_to(&mut on_gpu.head, Device::Gpu).unwrap();
    for step in 0..4 {
        let views = random_views::<f32>(64, 100 + step);
        let before = nidl::gpu::readbacks();
        let gpu_loss = on_gpu.step(views.clone()).unwrap();
        let readbacks = nidl::gpu::readbacks() - before;
        let cpu_loss = cpu.step(views).unwrap();
        assert!(
            (gpu_loss - cpu_loss).abs() <= 1e-3,
            "step {step}: GPU loss {gpu_loss} vs CPU {cpu_loss}"
        );
        assert_eq!(readbacks, 1, "step {step}: only the loss comes back");
    }
    // The parameters stayed on the device through the optimizer steps.
    let mut devices = Vec::new();
    for p in nidl::nn::Module::parameters(&on_gpu.encoder)
        .into_iter()
        .chain(nidl::nn::Module::parameters(&on_gpu.head))
    {
        devices.push(p.value.device());
    }
    assert!(devices.len() > 4, "{devices:?}");
    assert!(devices.iter().all(|&d| d == Device::Gpu), "{devices:?}");
}

#[test]
fn inference_graph_embeds_on_the_gpu() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut lenet = nidl::nn::LeNet::<f32>::new(32, &mut rng).unwrap();
    let x = rand(&[10, 1, 28, 28], 4);
    let cpu = {
        let mut g = Graph::inference();
        let v = g.input(x.clone());
        let out = nidl::nn::Module::forward(&lenet, &mut g, v).unwrap();
        g.value(out).clone()
    };
    nidl::nn::move_to(&mut lenet, Device::Gpu).unwrap();
    let mut g = Graph::inference();
    let v = g.input(x);
    let out = nidl::nn::Module::forward(&lenet, &mut g, v).unwrap();
    check("LeNet embedding", g.value(out), &cpu);
}

#[test]
fn device_failures_are_errors_naming_the_op_and_the_size() {
    // Small operands whose result passes the adapter's largest storage binding: the device
    // refuses the output buffer, and the op returns that as Error::Device, no panic.
    let limit = nidl::gpu::gpu().unwrap().max_tensor_bytes() as usize / 4;
    let m = 1024;
    let n = limit / m + 1;
    let a = gpu(&Tensor::ones(&[m, 1]));
    let b = gpu(&Tensor::ones(&[1, n]));
    match a.matmul(&b, false, false) {
        Err(nidl::Error::Device(msg)) => assert!(
            msg.contains("matmul") && msg.contains(&(m * n).to_string()),
            "{msg}"
        ),
        other => panic!("expected a device error, got {other:?}"),
    }
    // A row gather repeating one row past the limit.
    let row = gpu(&Tensor::ones(&[1, m]));
    let err = row.gather_rows(&vec![0; n]).unwrap_err().to_string();
    assert!(
        err.contains("gather_rows") && err.contains("exceeds"),
        "{err}"
    );
    // Host access to device data is explicit: data() refuses, to_vec() reads back.
    let err = a.data().unwrap_err().to_string();
    assert!(
        err.contains("on the GPU") && err.contains("to_vec"),
        "{err}"
    );
    assert_eq!(a.to_vec().unwrap(), vec![1.0; m]);
}

#[test]
fn f64_tensors_cannot_move_to_the_gpu() {
    let t = Tensor::<f64>::zeros(&[2]);
    let err = t.to_device(Device::Gpu).unwrap_err().to_string();
    assert!(err.contains("f32") && err.contains("f64"), "{err}");
}

#[test]
fn batch_norm_trains_on_the_gpu_with_its_running_statistics() {
    use nidl::nn::{BatchNorm1d, Module};
    let x = rand(&[9, 6], 110);
    let up = rand(&[9, 6], 111);
    let run = |device: Device| {
        let mut bn = BatchNorm1d::<f32>::new(6);
        nidl::nn::move_to(&mut bn, device).unwrap();
        let mut g = Graph::new();
        let xv = g.input(x.to_device(device).unwrap());
        let y = bn.forward(&mut g, xv).unwrap();
        let u = g.input(up.clone());
        let p = g.mul(y, u).unwrap();
        let loss = g.sum(p).unwrap();
        let grads = g.backward(loss).unwrap();
        let mut param_grads = nidl::nn::param_grads(&bn, &grads);
        let (mean, var) = bn.running_stats();
        param_grads.extend([mean, var, g.value(y).clone()]);
        param_grads
    };
    let cpu = run(Device::Cpu);
    let on_gpu = run(Device::Gpu);
    // The running statistics move with the module, there and back.
    let mut bn = BatchNorm1d::<f32>::new(6);
    for device in [Device::Gpu, Device::Cpu] {
        nidl::nn::move_to(&mut bn, device).unwrap();
        let (mean, var) = bn.running_stats();
        assert_eq!((mean.device(), var.device()), (device, device));
    }
    for (i, what) in [
        "grad weight",
        "grad bias",
        "running mean",
        "running var",
        "output",
    ]
    .iter()
    .enumerate()
    {
        check(what, &on_gpu[i], &cpu[i]);
    }
}

#[test]
fn logsumexp_of_non_finite_and_empty_rows_is_the_cpu_result() {
    let (inf, nan) = (f32::INFINITY, f32::NAN);
    let rows = [
        [-inf, -inf],
        [1.0, inf],
        [inf, -inf],
        [nan, 1.0],
        [1.0, nan],
        [inf, nan],
        [-inf, 3.0],
    ];
    let x = Tensor::from_vec(rows.concat(), &[rows.len(), 2]).unwrap();
    let same = |what: &str, on_gpu: &Tensor<f32>, on_cpu: &Tensor<f32>| {
        for (i, (g, c)) in on_gpu
            .to_vec()
            .unwrap()
            .iter()
            .zip(on_cpu.to_vec().unwrap())
            .enumerate()
        {
            assert!(
                *g == c || (g.is_nan() && c.is_nan()),
                "{what}[{i}]: GPU {g} vs CPU {c}"
            );
        }
    };
    same(
        "logsumexp_rows",
        &gpu(&x).logsumexp_rows().unwrap(),
        &x.logsumexp_rows().unwrap(),
    );
    same(
        "log_softmax_rows",
        &gpu(&x).log_softmax_rows().unwrap(),
        &x.log_softmax_rows().unwrap(),
    );
    let empty = Tensor::<f32>::zeros(&[3, 0]);
    let lse = gpu(&empty).logsumexp_rows().unwrap();
    assert_eq!(lse.to_vec().unwrap(), &[f32::NEG_INFINITY; 3]);
    assert_eq!(
        empty.logsumexp_rows().unwrap().to_vec().unwrap(),
        lse.to_vec().unwrap()
    );
}

/// One more than a grid axis holds (65535 workgroups).
const PAST_ONE_AXIS: usize = 65_536;

#[test]
fn grids_longer_than_one_axis_fold_or_run_in_chunks() {
    // One thread per item over 65535·256 + 1 items: the 1-D grid folds into y.
    let long = rand(&[65_535 * 256 + 1], 140);
    check(
        "relu, folded grid",
        &gpu(&long).relu().unwrap(),
        &long.relu().unwrap(),
    );
    // One workgroup per row over more rows than an axis holds.
    let tall = rand(&[PAST_ONE_AXIS + 7, 3], 141);
    check(
        "row sums, folded grid",
        &gpu(&tall).sum_axis(1).unwrap(),
        &tall.sum_axis(1).unwrap(),
    );
    // GEMM tiles past one axis along rows (64-row tiles) and along columns (64-column tiles).
    let rows = 64 * PAST_ONE_AXIS + 5;
    let (a, b) = (rand(&[rows, 2], 142), rand(&[2, 3], 143));
    check(
        "GEMM, row tiles in chunks",
        &gpu(&a).matmul(&gpu(&b), false, false).unwrap(),
        &a.matmul(&b, false, false).unwrap(),
    );
    let (a, b) = (rand(&[2, 1], 144), rand(&[1, 64 * PAST_ONE_AXIS + 5], 145));
    check(
        "GEMM, column tiles in chunks",
        &gpu(&a).matmul(&gpu(&b), false, false).unwrap(),
        &a.matmul(&b, false, false).unwrap(),
    );
    // A convolution's input gradient runs one GEMM per image: more images than an axis holds.
    let x = rand(&[PAST_ONE_AXIS + 3, 1, 3, 3], 146);
    let w = rand(&[2, 1, 3, 3], 147);
    let g = rand(&[PAST_ONE_AXIS + 3, 2, 1, 1], 148);
    let (gx, ..) = x.conv2d_backward(&w, &g, geom(1, 0), true).unwrap();
    let (ggx, ..) = gpu(&x)
        .conv2d_backward(&gpu(&w), &gpu(&g), geom(1, 0), true)
        .unwrap();
    check("conv grad_x, batch in chunks", &ggx.unwrap(), &gx.unwrap());
}
