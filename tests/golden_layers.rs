//! Layers and tape ops against PyTorch (golden values in tests/data): f64 within 1e-9 relative,
//! f32 within 1e-4. Each case applies the op, then back-propagates PyTorch's upstream gradient
//! `g` through `loss = Σ y ⊙ g`, so the input gradients are exactly PyTorch's `.grad`.

mod common;

use common::{assert_close, golden};
use nidl::autograd::{Graph, ParamId, Var};
use nidl::nn::{BatchNorm1d, Module};
use nidl::tensor::Conv2dGeometry;
use nidl::{Element, Result, Tensor};

/// Runs `f` on `inputs` (as parameters), returns the output and each input's gradient under
/// the upstream gradient `g`.
fn forward_backward<T: Element>(
    inputs: &[Tensor<f64>],
    g: &Tensor<f64>,
    f: impl Fn(&mut Graph<T>, &[Var]) -> Result<Var>,
) -> (Vec<f64>, Vec<Vec<f64>>) {
    let mut graph = Graph::<T>::new();
    let vars: Vec<Var> = inputs
        .iter()
        .map(|x| graph.param(ParamId::fresh(), &x.cast().unwrap()))
        .collect();
    let y = f(&mut graph, &vars).unwrap();
    let gv = graph.input(g.cast().unwrap());
    let prod = graph.mul(y, gv).unwrap();
    let loss = graph.sum(prod).unwrap();
    let grads = graph.backward(loss).unwrap();
    let to64 = |t: &Tensor<T>| {
        t.data()
            .unwrap()
            .iter()
            .map(|v| v.to_f64())
            .collect::<Vec<f64>>()
    };
    let out = to64(graph.value(y));
    (
        out,
        vars.iter().map(|&v| to64(grads.get(v).unwrap())).collect(),
    )
}

/// An op under test, built on a graph of precision `T` from its input nodes.
type Build<'a, T> = &'a dyn Fn(&mut Graph<T>, &[Var]) -> Result<Var>;

/// Checks output and gradients of one golden case in f64 and f32.
fn check_case(case: &str, inputs: &[&str], grads: &[&str], f: Build<f64>, f32f: Build<f32>) {
    let xs: Vec<Tensor<f64>> = inputs.iter().map(|n| golden(case, n)).collect();
    let g = golden(case, "g");
    let y = golden(case, "y");
    for (precision, rtol, floor) in [("f64", 1e-9, 1e-12), ("f32", 1e-4, F32_FLOOR)] {
        let (out, gs) = if precision == "f64" {
            forward_backward::<f64>(&xs, &g, f)
        } else {
            forward_backward::<f32>(&xs, &g, f32f)
        };
        assert_close(
            &format!("{case} {precision} y"),
            &out,
            y.data().unwrap(),
            rtol,
            floor * max_abs(y.data().unwrap()),
        );
        for (name, got) in grads.iter().zip(&gs) {
            let want = golden(case, name);
            assert_close(
                &format!("{case} {precision} {name}"),
                got,
                want.data().unwrap(),
                rtol,
                floor * max_abs(want.data().unwrap()),
            );
        }
    }
}

/// f32 results are compared relative to each value, with a floor of 1% of the array's largest
/// magnitude: an output that is a near-cancellation of O(1) terms carries f32 rounding of the
/// terms (~1e-7 absolute), which no f32 implementation (PyTorch's included) avoids.
const F32_FLOOR: f64 = 1e-2;

fn max_abs(x: &[f64]) -> f64 {
    x.iter().fold(0.0, |m, v| m.max(v.abs()))
}

macro_rules! both {
    ($body:expr) => {
        (
            &$body as &dyn Fn(&mut Graph<f64>, &[Var]) -> Result<Var>,
            &$body as &dyn Fn(&mut Graph<f32>, &[Var]) -> Result<Var>,
        )
    };
}

fn linear_relu<T: Element>(g: &mut Graph<T>, v: &[Var]) -> Result<Var> {
    let y = g.matmul_t(v[0], v[1], false, true)?;
    let y = g.add(y, v[2])?;
    g.relu(y)
}

#[test]
fn linear_relu_matches_pytorch() {
    let (f, f32f) = both!(linear_relu);
    check_case(
        "linear_relu",
        &["x", "w", "b"],
        &["grad_x", "grad_w", "grad_b"],
        f,
        f32f,
    );
}

fn conv<T: Element>(
    stride: usize,
    padding: usize,
) -> impl Fn(&mut Graph<T>, &[Var]) -> Result<Var> {
    move |g: &mut Graph<T>, v: &[Var]| {
        g.conv2d(v[0], v[1], Some(v[2]), Conv2dGeometry { stride, padding })
    }
}

#[test]
fn conv2d_matches_pytorch() {
    for (case, stride, padding) in [
        ("conv2d_pad2", 1, 2),
        ("conv2d_nopad", 1, 0),
        ("conv2d_stride2", 2, 1),
    ] {
        let (f, f32f) = (conv::<f64>(stride, padding), conv::<f32>(stride, padding));
        check_case(
            case,
            &["x", "w", "b"],
            &["grad_x", "grad_w", "grad_b"],
            &f,
            &f32f,
        );
    }
}

fn pool<T: Element>(g: &mut Graph<T>, v: &[Var]) -> Result<Var> {
    g.avg_pool2d(v[0], 2)
}

#[test]
fn avg_pool2d_matches_pytorch() {
    let (f, f32f) = both!(pool);
    check_case("avgpool2d", &["x"], &["grad_x"], f, f32f);
}

fn batch_norm<T: Element>(
    case_gamma: &Tensor<f64>,
    case_beta: &Tensor<f64>,
    g: &mut Graph<T>,
    x: Var,
) -> (BatchNorm1d<T>, Result<Var>) {
    let mut bn = BatchNorm1d::<T>::new(case_gamma.len());
    bn.weight.value = case_gamma.cast().unwrap();
    bn.bias.value = case_beta.cast().unwrap();
    let y = bn.forward(g, x);
    (bn, y)
}

#[test]
fn batch_norm1d_train_step_matches_pytorch() {
    let case = "batch_norm1d";
    let (x, g_up) = (golden(case, "x"), golden(case, "g"));
    let (gamma, beta) = (golden(case, "gamma"), golden(case, "beta"));
    // f64 then f32: y, grads of x, γ, β, and the running statistics after one step.
    fn run<T: Element>(
        x: &Tensor<f64>,
        g_up: &Tensor<f64>,
        gamma: &Tensor<f64>,
        beta: &Tensor<f64>,
        rtol: f64,
        atol: f64,
    ) {
        let case = "batch_norm1d";
        let mut g = Graph::<T>::new();
        let xv = g.param(ParamId::fresh(), &x.cast().unwrap());
        let (bn, y) = batch_norm::<T>(gamma, beta, &mut g, xv);
        let y = y.unwrap();
        let gv = g.input(g_up.cast().unwrap());
        let p = g.mul(y, gv).unwrap();
        let loss = g.sum(p).unwrap();
        let grads = g.backward(loss).unwrap();
        let f = |t: &Tensor<T>| {
            t.data()
                .unwrap()
                .iter()
                .map(|v| v.to_f64())
                .collect::<Vec<_>>()
        };
        let name = T::NAME;
        assert_close(
            &format!("bn {name} y"),
            &f(g.value(y)),
            golden(case, "y").data().unwrap(),
            rtol,
            atol,
        );
        assert_close(
            &format!("bn {name} grad_x"),
            &f(grads.get(xv).unwrap()),
            golden(case, "grad_x").data().unwrap(),
            rtol,
            atol,
        );
        assert_close(
            &format!("bn {name} grad_gamma"),
            &f(grads.param(bn.weight.id()).unwrap()),
            golden(case, "grad_gamma").data().unwrap(),
            rtol,
            atol,
        );
        assert_close(
            &format!("bn {name} grad_beta"),
            &f(grads.param(bn.bias.id()).unwrap()),
            golden(case, "grad_beta").data().unwrap(),
            rtol,
            atol,
        );
        let (rm, rv) = bn.running_stats();
        assert_close(
            &format!("bn {name} running_mean"),
            &f(&rm),
            golden(case, "running_mean").data().unwrap(),
            rtol,
            atol,
        );
        assert_close(
            &format!("bn {name} running_var"),
            &f(&rv),
            golden(case, "running_var").data().unwrap(),
            rtol,
            atol,
        );
    }
    run::<f64>(&x, &g_up, &gamma, &beta, 1e-9, 1e-12);
    run::<f32>(&x, &g_up, &gamma, &beta, 1e-4, 1e-4);
}
