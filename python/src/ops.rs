//! Reference ops: the engine's losses and layers evaluated on NumPy arrays, with the gradients
//! of their inputs from the engine's autograd, in the precision of the inputs (float32 or
//! float64).

use crate::convert::{detached, f64s, floats, same_precision, to_numpy, value_error, Float};
use crate::with_floats;
use nidl::autograd::{Graph, ParamId, Var};
use nidl::loss::{Bandwidth, BarlowTwinsLoss, InfoNce, Kernel, Normalization, YAwareInfoNce};
use nidl::nn::{BatchNorm1d, Module};
use nidl::tensor::Conv2dGeometry;
use nidl::{Error, Tensor};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The output of `build` on `inputs` (each a parameter node) and each input's gradient: of the
/// output itself when `upstream` is `None` (a scalar loss), else of `Σ output ⊙ upstream`
/// (a vector-Jacobian product, PyTorch's `y.backward(upstream)`).
fn forward_backward<T: Float>(
    inputs: &[Tensor<T>],
    upstream: Option<&Tensor<T>>,
    build: impl Fn(&mut Graph<T>, &[Var]) -> nidl::Result<Var>,
) -> nidl::Result<(Tensor<T>, Vec<Tensor<T>>)> {
    let mut g = Graph::new();
    let vars: Vec<Var> = inputs
        .iter()
        .map(|x| g.param(ParamId::fresh(), x))
        .collect();
    let y = build(&mut g, &vars)?;
    let target = match upstream {
        None => y,
        Some(u) => vjp_target(&mut g, y, u)?,
    };
    let grads = g.backward(target)?;
    let out = g.value(y).clone();
    let input_grads = vars
        .iter()
        .zip(inputs)
        .map(|(&v, x)| {
            grads
                .get(v)
                .cloned()
                .unwrap_or_else(|| Tensor::zeros(x.shape()))
        })
        .collect();
    Ok((out, input_grads))
}

/// The scalar `Σ y ⊙ u`, whose gradient is the vector-Jacobian product with `u`.
fn vjp_target<T: Float>(g: &mut Graph<T>, y: Var, u: &Tensor<T>) -> nidl::Result<Var> {
    if g.value(y).shape() != u.shape() {
        return Err(Error::shape(
            "grad_output",
            "grad_output of the output's shape",
            &[g.value(y).shape(), u.shape()],
        ));
    }
    let uv = g.input(u.clone());
    let prod = g.mul(y, uv)?;
    g.sum(prod)
}

/// `(loss, grad_z1, grad_z2)` of a two-view loss, in the precision of `z1`.
type LossGrads<'py> = (f64, Bound<'py, PyAny>, Bound<'py, PyAny>);

/// Evaluates a two-view loss and its gradients with the GIL released.
fn two_view_loss<'py, T: Float>(
    py: Python<'py>,
    z1: Tensor<T>,
    z2: &Bound<'py, PyAny>,
    build: impl Fn(&mut Graph<T>, Var, Var) -> nidl::Result<Var> + Send,
) -> PyResult<LossGrads<'py>> {
    let z2 = same_precision::<T>(z2, "z2")?;
    let (loss, mut grads) = detached(py, move || {
        forward_backward(&[z1, z2], None, |g, v| build(g, v[0], v[1]))
    })?;
    let loss = loss.item().map_err(value_error)?.to_f64();
    let g2 = to_numpy(py, grads.pop().expect("two gradients"))?.into_any();
    let g1 = to_numpy(py, grads.pop().expect("two gradients"))?.into_any();
    Ok((loss, g1, g2))
}

/// SimCLR's InfoNCE (NT-Xent) as nidl computes it: `(loss, grad_z1, grad_z2)`.
#[pyfunction]
#[pyo3(signature = (z1, z2, temperature = 0.1))]
fn info_nce<'py>(
    py: Python<'py>,
    z1: &Bound<'py, PyAny>,
    z2: &Bound<'py, PyAny>,
    temperature: f64,
) -> PyResult<LossGrads<'py>> {
    let loss = InfoNce::new(temperature);
    with_floats!(floats(z1, "z1")?, |t| two_view_loss(
        py,
        t,
        z2,
        |g, a, b| loss.forward(g, a, b)
    ))
}

/// Barlow Twins' loss as nidl computes it: `(loss, grad_z1, grad_z2)`.
#[pyfunction]
#[pyo3(signature = (z1, z2, lambd = 5e-3))]
fn barlow_twins<'py>(
    py: Python<'py>,
    z1: &Bound<'py, PyAny>,
    z2: &Bound<'py, PyAny>,
    lambd: f64,
) -> PyResult<LossGrads<'py>> {
    let loss = BarlowTwinsLoss::new(lambd);
    with_floats!(floats(z1, "z1")?, |t| two_view_loss(
        py,
        t,
        z2,
        |g, a, b| loss.forward(g, a, b)
    ))
}

/// The kernel named `name` (nidl's `KernelMetric` names).
fn kernel(name: &str) -> PyResult<Kernel> {
    Ok(match name {
        "gaussian" => Kernel::Gaussian,
        "epanechnikov" => Kernel::Epanechnikov,
        "exponential" => Kernel::Exponential,
        "linear" => Kernel::Linear,
        "cosine" => Kernel::Cosine,
        _ => {
            return Err(PyValueError::new_err(format!(
                "kernel must be one of 'gaussian', 'epanechnikov', 'exponential', 'linear', \
                 'cosine', got {name:?}"
            )))
        }
    })
}

/// A bandwidth from Python: a number (`σ²`), `"scott"`, `"silverman"`, a 1-D float64 array
/// (a diagonal `H`) or a 2-D one (a full `H`).
fn bandwidth(obj: &Bound<'_, PyAny>) -> PyResult<Bandwidth> {
    if let Ok(s) = obj.extract::<String>() {
        return match s.as_str() {
            "scott" => Ok(Bandwidth::Scott),
            "silverman" => Ok(Bandwidth::Silverman),
            _ => Err(PyValueError::new_err(format!(
                "bandwidth must be a number, 'scott', 'silverman' or a float64 array, got {s:?}"
            ))),
        };
    }
    if let Ok(v) = obj.extract::<f64>() {
        return Ok(Bandwidth::Scalar(v));
    }
    let h = f64s(obj, "bandwidth")?;
    match h.ndim() {
        1 => Ok(Bandwidth::Diagonal(h.into_vec().map_err(value_error)?)),
        2 if h.shape()[0] == h.shape()[1] => {
            Ok(Bandwidth::Full(h.into_vec().map_err(value_error)?))
        }
        _ => Err(value_error(Error::shape(
            "bandwidth",
            "a 1-D diagonal or a square 2-D matrix",
            &[h.shape()],
        ))),
    }
}

/// The weight normalisation named `name`: `"nidl"` (nidl's column normalisation) or `"rows"`.
fn normalization(name: &str) -> PyResult<Normalization> {
    match name {
        "nidl" => Ok(Normalization::NidlColumns),
        "rows" => Ok(Normalization::Rows),
        _ => Err(PyValueError::new_err(format!(
            "normalization must be 'nidl' or 'rows', got {name:?}"
        ))),
    }
}

/// The y-Aware loss from the Python arguments.
fn yaware(
    kernel_name: &str,
    bw: &Bound<'_, PyAny>,
    temperature: f64,
    norm: &str,
) -> PyResult<YAwareInfoNce> {
    Ok(
        YAwareInfoNce::new(kernel(kernel_name)?, bandwidth(bw)?, temperature)
            .with_normalization(normalization(norm)?),
    )
}

/// y-Aware InfoNCE as nidl computes it: `(loss, grad_z1, grad_z2)`; labels `y` (`(B,)` or
/// `(B, k)`, same dtype as `z1`) or `None` for nidl's unlabelled fallback.
#[pyfunction]
#[pyo3(signature = (z1, z2, y = None, kernel = "gaussian", bandwidth = None, temperature = 0.1, normalization = "nidl"))]
#[allow(clippy::too_many_arguments)]
fn yaware_info_nce<'py>(
    py: Python<'py>,
    z1: &Bound<'py, PyAny>,
    z2: &Bound<'py, PyAny>,
    y: Option<&Bound<'py, PyAny>>,
    kernel: &str,
    bandwidth: Option<&Bound<'py, PyAny>>,
    temperature: f64,
    normalization: &str,
) -> PyResult<LossGrads<'py>> {
    let one = 1.0f64.into_pyobject(py)?.into_any();
    let loss = yaware(
        kernel,
        bandwidth.unwrap_or(&one),
        temperature,
        normalization,
    )?;
    with_floats!(floats(z1, "z1")?, |t| {
        let labels = match y {
            Some(y) => Some(same_precision(y, "y")?),
            None => None,
        };
        two_view_loss(py, t, z2, |g, a, b| loss.forward(g, a, b, labels.as_ref()))
    })
}

/// The `2B × 2B` y-Aware weight matrix for float64 labels `y` (`(B,)` or `(B, k)`).
#[pyfunction]
#[pyo3(signature = (y, kernel = "gaussian", bandwidth = None, normalization = "nidl"))]
fn yaware_weights<'py>(
    py: Python<'py>,
    y: &Bound<'py, PyAny>,
    kernel: &str,
    bandwidth: Option<&Bound<'py, PyAny>>,
    normalization: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let one = 1.0f64.into_pyobject(py)?.into_any();
    let loss = yaware(kernel, bandwidth.unwrap_or(&one), 0.1, normalization)?;
    let y = f64s(y, "y")?;
    let w = detached(py, || loss.weights(&y))?;
    Ok(to_numpy(py, w)?.into_any())
}

/// A dict of named arrays.
fn arrays<'py, T: Float>(
    py: Python<'py>,
    named: Vec<(&str, Tensor<T>)>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in named {
        d.set_item(k, to_numpy(py, v)?)?;
    }
    Ok(d)
}

/// A layer's output `y` and, given `grad_output`, the gradients `grad_<name>` of its inputs.
fn layer<'py, T: Float>(
    py: Python<'py>,
    inputs: Vec<(&str, Tensor<T>)>,
    grad_output: Option<&Bound<'py, PyAny>>,
    build: impl Fn(&mut Graph<T>, &[Var]) -> nidl::Result<Var> + Send,
) -> PyResult<Bound<'py, PyDict>> {
    let upstream = grad_output
        .map(|g| same_precision::<T>(g, "grad_output"))
        .transpose()?;
    let (names, tensors): (Vec<&str>, Vec<Tensor<T>>) = inputs.into_iter().unzip();
    let (y, grads) = detached(py, move || match &upstream {
        Some(u) => forward_backward(&tensors, Some(u), &build),
        None => {
            let mut g = Graph::new();
            let vars: Vec<Var> = tensors.iter().map(|x| g.input(x.clone())).collect();
            let y = build(&mut g, &vars)?;
            Ok((g.value(y).clone(), Vec::new()))
        }
    })?;
    let grad_names: Vec<String> = names.iter().map(|n| format!("grad_{n}")).collect();
    let mut out = vec![("y", y)];
    out.extend(grad_names.iter().map(String::as_str).zip(grads));
    arrays(py, out)
}

/// `torch.nn.functional.conv2d(x, w, b, stride, padding)`: `{"y"}`, plus `grad_x`, `grad_w`
/// (and `grad_b`) given `grad_output`. `x` `(N, C, H, W)`, `w` `(O, C, kh, kw)`, `b` `(O,)`.
#[pyfunction]
#[pyo3(signature = (x, w, b = None, stride = 1, padding = 0, grad_output = None))]
fn conv2d<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    w: &Bound<'py, PyAny>,
    b: Option<&Bound<'py, PyAny>>,
    stride: usize,
    padding: usize,
    grad_output: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let geom = Conv2dGeometry { stride, padding };
    with_floats!(floats(x, "x")?, |t| {
        let mut inputs = vec![("x", t), ("w", same_precision(w, "w")?)];
        if let Some(b) = b {
            inputs.push(("b", same_precision(b, "b")?));
        }
        layer(py, inputs, grad_output, |g, v| {
            g.conv2d(v[0], v[1], v.get(2).copied(), geom)
        })
    })
}

/// `torch.nn.functional.avg_pool2d(x, kernel_size)` (stride = kernel size): `{"y"}`, plus
/// `grad_x` given `grad_output`.
#[pyfunction]
#[pyo3(signature = (x, kernel_size = 2, grad_output = None))]
fn avg_pool2d<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    kernel_size: usize,
    grad_output: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    with_floats!(floats(x, "x")?, |t| layer(
        py,
        vec![("x", t)],
        grad_output,
        |g, v| g.avg_pool2d(v[0], kernel_size)
    ))
}

/// One training step of `torch.nn.BatchNorm1d(C)` on `x` `(N, C)` with scale `gamma` and
/// shift `beta`, running statistics starting at 0 and 1.
fn batch_norm_step<T: Float>(
    x: Tensor<T>,
    gamma: Tensor<T>,
    beta: Tensor<T>,
    upstream: Option<Tensor<T>>,
    eps: f64,
    momentum: f64,
) -> nidl::Result<Vec<(&'static str, Tensor<T>)>> {
    let c = gamma.len();
    if beta.shape() != [c] || gamma.shape() != [c] {
        return Err(Error::shape(
            "batch_norm1d",
            "gamma and beta of shape (C,)",
            &[gamma.shape(), beta.shape()],
        ));
    }
    let mut bn = BatchNorm1d::<T>::new(c);
    bn.weight.value = gamma;
    bn.bias.value = beta;
    bn.eps = eps;
    bn.momentum = momentum;
    let mut g = Graph::new();
    let xv = g.param(ParamId::fresh(), &x);
    let y = bn.forward(&mut g, xv)?;
    let mut out = vec![("y", g.value(y).clone())];
    if let Some(u) = upstream {
        let target = vjp_target(&mut g, y, &u)?;
        let grads = g.backward(target)?;
        let grad = |t: Option<&Tensor<T>>, shape: &[usize]| {
            t.cloned().unwrap_or_else(|| Tensor::zeros(shape))
        };
        out.push(("grad_x", grad(grads.get(xv), x.shape())));
        out.push(("grad_gamma", grad(grads.param(bn.weight.id()), &[c])));
        out.push(("grad_beta", grad(grads.param(bn.bias.id()), &[c])));
    }
    let (rm, rv) = bn.running_stats();
    out.push(("running_mean", rm));
    out.push(("running_var", rv));
    Ok(out)
}

/// One training-mode step of `torch.nn.BatchNorm1d`: `{"y", "running_mean", "running_var"}`,
/// plus `grad_x`, `grad_gamma`, `grad_beta` given `grad_output`.
#[pyfunction]
#[pyo3(signature = (x, gamma, beta, grad_output = None, eps = 1e-5, momentum = 0.1))]
fn batch_norm1d<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    gamma: &Bound<'py, PyAny>,
    beta: &Bound<'py, PyAny>,
    grad_output: Option<&Bound<'py, PyAny>>,
    eps: f64,
    momentum: f64,
) -> PyResult<Bound<'py, PyDict>> {
    // `!(eps > 0.0)` also refuses a NaN eps.
    if !(eps > 0.0 && eps.is_finite()) {
        return Err(PyValueError::new_err(format!(
            "batch_norm1d: eps must be a finite number > 0, got {eps}"
        )));
    }
    if !(0.0..=1.0).contains(&momentum) {
        return Err(PyValueError::new_err(format!(
            "batch_norm1d: momentum must be in [0, 1], got {momentum}"
        )));
    }
    with_floats!(floats(x, "x")?, |t| {
        let (gm, bt) = (
            same_precision(gamma, "gamma")?,
            same_precision(beta, "beta")?,
        );
        let up = grad_output
            .map(|g| same_precision(g, "grad_output"))
            .transpose()?;
        let out = detached(py, || batch_norm_step(t, gm, bt, up, eps, momentum))?;
        arrays(py, out)
    })
}

/// Registers the reference ops.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(info_nce, m)?)?;
    m.add_function(wrap_pyfunction!(barlow_twins, m)?)?;
    m.add_function(wrap_pyfunction!(yaware_info_nce, m)?)?;
    m.add_function(wrap_pyfunction!(yaware_weights, m)?)?;
    m.add_function(wrap_pyfunction!(conv2d, m)?)?;
    m.add_function(wrap_pyfunction!(avg_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(batch_norm1d, m)?)?;
    Ok(())
}
