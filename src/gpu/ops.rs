//! The GPU side of the tensor dispatch boundary: each function runs one [`Tensor`] method on
//! device buffers and returns a device tensor. Called only by those methods, after their shape
//! checks; host operands are uploaded (`Tensor::gpu_buffer`).

use super::{gpu, grid_1d, kernels as k, Buffer, Gpu, MAX_GROUPS_PER_AXIS};
use crate::error::{Error, Result};
use crate::optim::AdamCoefficients;
use crate::tensor::conv::Dims as ConvDims;
use crate::tensor::{BinaryOp, Element, Tensor, UnaryOp};
use std::sync::Arc;

/// Most axes the broadcasting kernel handles (its parameter block holds 8 lengths and strides).
const MAX_AXES: usize = 8;

/// A size as a kernel parameter. Every size passed is at most the element count of a tensor
/// that already has a device buffer, and buffers are capped at the largest storage binding
/// (checked at allocation, at most 2³² bytes), so it always fits.
fn w(v: usize) -> u32 {
    u32::try_from(v).expect("tensor sizes on the GPU fit in u32")
}

/// An f32 kernel parameter as its bits.
fn f<T: Element>(v: T) -> u32 {
    (v.to_f64() as f32).to_bits()
}

/// Runs a one-thread-per-item kernel over `items` threads into a fresh buffer of `out_len`
/// elements; `params` follow the item count in the parameter block.
fn items(
    g: &Gpu,
    kernel: &k::Kernel,
    items: usize,
    params: &[u32],
    inputs: &[&wgpu::Buffer],
    out_len: usize,
) -> Result<Buffer> {
    let out = g.alloc(out_len)?;
    let mut block = vec![w(items)];
    block.extend_from_slice(params);
    g.run(kernel, &block, inputs, &[&out], grid_1d(items));
    Ok(out)
}

/// A one-thread-per-item kernel over `n` items reading `a` and writing a tensor of `shape`.
fn one_input<T: Element>(
    kernel: &k::Kernel,
    a: &Tensor<T>,
    n: usize,
    params: &[u32],
    shape: &[usize],
) -> Result<Tensor<T>> {
    let g = gpu()?;
    let ab = a.gpu_buffer()?;
    let out = items(g, kernel, n, params, &[ab.raw()], shape.iter().product())?;
    Ok(Tensor::from_gpu(out, shape))
}

/// The device buffers of `ts` (uploading host ones).
fn buffers<T: Element>(ts: &[&Tensor<T>]) -> Result<Vec<Arc<Buffer>>> {
    ts.iter().map(|t| t.gpu_buffer()).collect()
}

/// `op(a)` elementwise (kernel `map`, ops 0–4).
pub(crate) fn unary<T: Element>(a: &Tensor<T>, op: UnaryOp) -> Result<Tensor<T>> {
    let code = match op {
        UnaryOp::Relu => 0,
        UnaryOp::Exp => 1,
        UnaryOp::Ln => 2,
        UnaryOp::Sqrt => 3,
        UnaryOp::Neg => 4,
    };
    map(a, code, 0.0f32.to_bits())
}

/// `a op s` elementwise (kernel `map`, ops 5–8).
pub(crate) fn scalar<T: Element>(a: &Tensor<T>, s: T, op: BinaryOp) -> Result<Tensor<T>> {
    let code = match op {
        BinaryOp::Add => 5,
        BinaryOp::Sub => 6,
        BinaryOp::Mul => 7,
        BinaryOp::Div => 8,
    };
    map(a, code, f(s))
}

fn map<T: Element>(a: &Tensor<T>, code: u32, s: u32) -> Result<Tensor<T>> {
    one_input(&k::MAP, a, a.len(), &[code, s], a.shape())
}

/// What the `binary` kernel computes.
#[derive(Clone, Copy)]
pub(crate) enum Combine<T> {
    /// `a op b`.
    Op(BinaryOp),
    /// `b` where `a > 0`, else 0 (`a` the relu output, `b` its gradient).
    ReluBackward,
    /// The value where `b` (a 0/1 mask) is 1, else `a`.
    Fill(T),
}

/// `a ∘ b` elementwise with `b` broadcast onto `a`'s shape (right-aligned; shapes checked).
///
/// Errors: [`Error::Device`] when the broadcast pattern needs more than [`MAX_AXES`] axes
/// after merging neighbours (equal shapes always need one), or the GPU fails.
pub(crate) fn binary<T: Element>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    how: Combine<T>,
) -> Result<Tensor<T>> {
    let g = gpu()?;
    let bufs = buffers(&[a, b])?;
    let (code, fill) = match how {
        Combine::Op(BinaryOp::Add) => (0, 0),
        Combine::Op(BinaryOp::Sub) => (1, 0),
        Combine::Op(BinaryOp::Mul) => (2, 0),
        Combine::Op(BinaryOp::Div) => (3, 0),
        Combine::ReluBackward => (4, 0),
        Combine::Fill(v) => (5, f(v)),
    };
    let axes = broadcast_axes(a.shape(), b.shape());
    if axes.len() > MAX_AXES {
        return Err(Error::Device(format!(
            "the GPU broadcast kernel handles at most {MAX_AXES} alternations of broadcast and \
             non-broadcast axes; shapes {:?} and {:?} need {}",
            a.shape(),
            b.shape(),
            axes.len()
        )));
    }
    let mut lens = [1u32; MAX_AXES];
    let mut strides = [0u32; MAX_AXES];
    for (d, &(len, stride)) in axes.iter().enumerate() {
        lens[d] = w(len);
        strides[d] = w(stride);
    }
    let mut params = vec![code, w(axes.len()), fill];
    params.extend_from_slice(&lens);
    params.extend_from_slice(&strides);
    let out = items(
        g,
        &k::BINARY,
        a.len(),
        &params,
        &[bufs[0].raw(), bufs[1].raw()],
        a.len(),
    )?;
    Ok(Tensor::from_gpu(out, a.shape()))
}

/// The output axes of broadcasting `b` onto `shape`, as `(length, stride in b)` with stride 0
/// where `b` is broadcast: axes of length 1 dropped, and neighbours merged where `b` is
/// broadcast along both or contiguous across both.
fn broadcast_axes(shape: &[usize], bshape: &[usize]) -> Vec<(usize, usize)> {
    let lead = shape.len() - bshape.len();
    let mut axes: Vec<(usize, usize)> = Vec::new();
    for (d, &len) in shape.iter().enumerate() {
        if len == 1 {
            continue;
        }
        let stride = if d >= lead && bshape[d - lead] != 1 {
            bshape[d - lead + 1..].iter().product()
        } else {
            0
        };
        match axes.last_mut() {
            Some((prev_len, prev_stride)) if *prev_stride == stride * len => {
                *prev_len *= len;
                *prev_stride = stride;
            }
            _ => axes.push((len, stride)),
        }
    }
    axes
}

/// A mask as a 0/1 f32 device tensor shaped like `like`.
pub(crate) fn mask_tensor<T: Element>(mask: &[bool], like: &Tensor<T>) -> Result<Tensor<T>> {
    let flags = mask
        .iter()
        .map(|&m| if m { T::ONE } else { T::ZERO })
        .collect();
    Tensor::from_vec(flags, like.shape())
}

/// The shapes of a batch of matrix products `C_z = op(A_z)·op(B_z)`, `C_z` `[m, n]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GemmDims {
    /// Rows of `op(A)` and `C`.
    pub m: usize,
    /// Columns of `op(B)` and `C`.
    pub n: usize,
    /// Columns of `op(A)`, rows of `op(B)`.
    pub k: usize,
    /// A is stored transposed (`[k, m]`).
    pub trans_a: bool,
    /// B is stored transposed (`[n, k]`).
    pub trans_b: bool,
    /// Number of products.
    pub batch: usize,
    /// Elements between consecutive A's (0: one A for all).
    pub stride_a: usize,
    /// Elements between consecutive B's (0: one B for all).
    pub stride_b: usize,
}

impl GemmDims {
    /// One product.
    pub fn single(m: usize, n: usize, k: usize, trans_a: bool, trans_b: bool) -> Self {
        GemmDims {
            m,
            n,
            k,
            trans_a,
            trans_b,
            batch: 1,
            stride_a: 0,
            stride_b: 0,
        }
    }
}

/// Output tile columns of the GEMM kernels.
const GEMM_TILE_COLS: usize = 64;

/// Products of at most this many rows use the 16-row-tile GEMM.
const SKINNY_ROWS: usize = 32;

/// The batched product into a fresh buffer of `batch·m·n` elements. A grid longer than
/// [`MAX_GROUPS_PER_AXIS`] along any axis is dispatched in chunks, each told its offset.
fn gemm_buffer(g: &Gpu, a: &Buffer, b: &Buffer, d: GemmDims) -> Result<Buffer> {
    let out = g.alloc(d.batch * d.m * d.n)?;
    if d.k == 0 {
        g.clear(&out);
        return Ok(out);
    }
    let (kernel, tile_rows) = if d.m <= SKINNY_ROWS {
        (&k::GEMM_SKINNY, 16)
    } else {
        (&k::GEMM, k::GEMM_TILE_ROWS)
    };
    let grid = [
        w(d.n.div_ceil(GEMM_TILE_COLS)),
        w(d.m.div_ceil(tile_rows)),
        w(d.batch),
    ];
    // The last three words are the chunk's workgroup offsets.
    let mut params = [
        w(d.m),
        w(d.n),
        w(d.k),
        u32::from(d.trans_a),
        u32::from(d.trans_b),
        w(d.stride_a),
        w(d.stride_b),
        w(d.m * d.n),
        0,
        0,
        0,
    ];
    let chunks = |len: u32| (0..len).step_by(MAX_GROUPS_PER_AXIS as usize);
    for z0 in chunks(grid[2]) {
        for y0 in chunks(grid[1]) {
            for x0 in chunks(grid[0]) {
                params[8..].copy_from_slice(&[x0, y0, z0]);
                let groups = [
                    (grid[0] - x0).min(MAX_GROUPS_PER_AXIS),
                    (grid[1] - y0).min(MAX_GROUPS_PER_AXIS),
                    (grid[2] - z0).min(MAX_GROUPS_PER_AXIS),
                ];
                g.run(kernel, &params, &[a.raw(), b.raw()], &[&out], groups);
            }
        }
    }
    Ok(out)
}

/// `op(a)·op(b)` (batched as `d` says) as a tensor of `shape`.
pub(crate) fn gemm<T: Element>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    d: GemmDims,
    shape: &[usize],
) -> Result<Tensor<T>> {
    let g = gpu()?;
    let bufs = buffers(&[a, b])?;
    Ok(Tensor::from_gpu(
        gemm_buffer(g, &bufs[0], &bufs[1], d)?,
        shape,
    ))
}

/// Sum over the middle axis of `a` seen as `[outer, len, inner]`, as a tensor of `shape`.
pub(crate) fn sum_axis<T: Element>(
    a: &Tensor<T>,
    (outer, len, inner): (usize, usize, usize),
    shape: &[usize],
) -> Result<Tensor<T>> {
    let g = gpu()?;
    let ab = a.gpu_buffer()?;
    let out = if inner == 1 {
        sum_rows(g, &ab, outer, len)?
    } else {
        items(
            g,
            &k::SUM_AXIS,
            outer * inner,
            &[w(len), w(inner)],
            &[ab.raw()],
            outer * inner,
        )?
    };
    Ok(Tensor::from_gpu(out, shape))
}

/// Row sums of `[rows, len]`, one workgroup per row.
fn sum_rows(g: &Gpu, a: &Buffer, rows: usize, len: usize) -> Result<Buffer> {
    let out = g.alloc(rows)?;
    if len == 0 {
        g.clear(&out);
    } else {
        let grid = grid_1d(rows * super::WORKGROUP as usize);
        g.run(&k::SUM_ROWS, &[w(rows), w(len)], &[a.raw()], &[&out], grid);
    }
    Ok(out)
}

/// The sum of every element as a 0-d tensor.
pub(crate) fn sum_all<T: Element>(a: &Tensor<T>) -> Result<Tensor<T>> {
    sum_axis(a, (1, a.len(), 1), &[])
}

/// Row-wise logsumexp `[rows, 1]` of `a` `[rows, d]`.
pub(crate) fn logsumexp_rows<T: Element>(
    a: &Tensor<T>,
    rows: usize,
    d: usize,
) -> Result<Tensor<T>> {
    row_op(&k::LOGSUMEXP_ROWS, &[a], rows, d, rows, &[rows, 1])
}

/// Row-wise log-softmax of `a` `[rows, d]`.
pub(crate) fn log_softmax_rows<T: Element>(
    a: &Tensor<T>,
    rows: usize,
    d: usize,
) -> Result<Tensor<T>> {
    row_op(&k::LOG_SOFTMAX_ROWS, &[a], rows, d, rows * d, a.shape())
}

/// Gradient of logsumexp: `x` `[rows, d]`, its output `lse` and gradient `g` (`[rows, 1]`).
pub(crate) fn logsumexp_rows_backward<T: Element>(
    x: &Tensor<T>,
    lse: &Tensor<T>,
    g: &Tensor<T>,
) -> Result<Tensor<T>> {
    let (rows, d) = x.dims2("logsumexp_rows_backward")?;
    row_op(
        &k::LOGSUMEXP_ROWS_BACKWARD,
        &[x, lse, g],
        rows,
        d,
        rows * d,
        x.shape(),
    )
}

/// Gradient of log-softmax given its output `y` and gradient `g`.
pub(crate) fn log_softmax_rows_backward<T: Element>(
    y: &Tensor<T>,
    g: &Tensor<T>,
) -> Result<Tensor<T>> {
    let (rows, d) = y.dims2("log_softmax_rows_backward")?;
    row_op(
        &k::LOG_SOFTMAX_ROWS_BACKWARD,
        &[y, g],
        rows,
        d,
        rows * d,
        y.shape(),
    )
}

/// A one-thread-per-row kernel with `p = [rows, d]` writing one output of `out_len`.
fn row_op<T: Element>(
    kernel: &k::Kernel,
    inputs: &[&Tensor<T>],
    rows: usize,
    d: usize,
    out_len: usize,
    shape: &[usize],
) -> Result<Tensor<T>> {
    let g = gpu()?;
    let bufs = buffers(inputs)?;
    let raws: Vec<&wgpu::Buffer> = bufs.iter().map(|b| b.raw()).collect();
    let out = items(g, kernel, rows, &[w(d)], &raws, out_len)?;
    Ok(Tensor::from_gpu(out, shape))
}

/// Rows of `a` `[rows, d]` divided by their norms clamped to `eps`, and those norms `[rows]`.
pub(crate) fn l2_normalize_rows<T: Element>(
    a: &Tensor<T>,
    eps: T,
) -> Result<(Tensor<T>, Tensor<T>)> {
    let (rows, d) = a.dims2("l2_normalize_rows")?;
    let g = gpu()?;
    let ab = a.gpu_buffer()?;
    let (y, norms) = (g.alloc(rows * d)?, g.alloc(rows)?);
    g.run(
        &k::L2_NORMALIZE_ROWS,
        &[w(rows), w(d), f(eps)],
        &[ab.raw()],
        &[&y, &norms],
        grid_1d(rows),
    );
    Ok((
        Tensor::from_gpu(y, a.shape()),
        Tensor::from_gpu(norms, &[rows]),
    ))
}

/// Gradient of the row normalisation given its output `y`, the clamped `norms` and `g`.
pub(crate) fn l2_normalize_rows_backward<T: Element>(
    y: &Tensor<T>,
    norms: &Tensor<T>,
    eps: T,
    grad: &Tensor<T>,
) -> Result<Tensor<T>> {
    let (rows, d) = y.dims2("l2_normalize_rows_backward")?;
    let g = gpu()?;
    let bufs = buffers(&[y, norms, grad])?;
    let out = items(
        g,
        &k::L2_NORMALIZE_ROWS_BACKWARD,
        rows,
        &[w(d), f(eps)],
        &[bufs[0].raw(), bufs[1].raw(), bufs[2].raw()],
        rows * d,
    )?;
    Ok(Tensor::from_gpu(out, y.shape()))
}

/// Concatenation of `parts` along an axis with `outer`/`inner` sizes around it.
pub(crate) fn concat<T: Element>(
    parts: &[&Tensor<T>],
    axis: usize,
    outer: usize,
    inner: usize,
    shape: &[usize],
) -> Result<Tensor<T>> {
    let g = gpu()?;
    let out = g.alloc(shape.iter().product())?;
    let mut offset = 0;
    for p in parts {
        let len = p.shape()[axis];
        let pb = p.gpu_buffer()?;
        let params = [
            w(outer * len * inner),
            w(len),
            w(inner),
            w(len),
            w(shape[axis]),
            0,
            w(offset),
        ];
        g.run(
            &k::COPY_AXIS,
            &params,
            &[pb.raw()],
            &[&out],
            grid_1d(outer * len * inner),
        );
        offset += len;
    }
    Ok(Tensor::from_gpu(out, shape))
}

/// `start..` along an axis (`shape` is the result's) of `a` seen as `[outer, len, inner]`.
pub(crate) fn slice<T: Element>(
    a: &Tensor<T>,
    (outer, len, inner): (usize, usize, usize),
    start: usize,
    shape: &[usize],
) -> Result<Tensor<T>> {
    let n: usize = shape.iter().product();
    let take = n / (outer * inner).max(1);
    let params = [w(take), w(inner), w(len), w(take), w(start), 0];
    one_input(&k::COPY_AXIS, a, n, &params, shape)
}

/// Transpose of `a` `[r, c]`.
pub(crate) fn transpose<T: Element>(a: &Tensor<T>, r: usize, c: usize) -> Result<Tensor<T>> {
    one_input(&k::TRANSPOSE, a, r * c, &[w(r), w(c)], &[c, r])
}

/// Rows `indices` of `a` (each `inner` long), as a tensor of `shape`.
pub(crate) fn gather_rows<T: Element>(
    a: &Tensor<T>,
    indices: &[usize],
    inner: usize,
    shape: &[usize],
) -> Result<Tensor<T>> {
    let g = gpu()?;
    let ab = a.gpu_buffer()?;
    let idx: Vec<u32> = indices.iter().map(|&i| w(i)).collect();
    let ib = g.upload_u32(&idx);
    let n = indices.len() * inner;
    let out = items(g, &k::GATHER_ROWS, n, &[w(inner)], &[ab.raw(), &ib], n)?;
    Ok(Tensor::from_gpu(out, shape))
}

/// A tensor of `shape` whose row `indices[j]` sums row `j` of `grad`.
pub(crate) fn scatter_add_rows<T: Element>(
    grad: &Tensor<T>,
    indices: &[usize],
    shape: &[usize],
) -> Result<Tensor<T>> {
    let g = gpu()?;
    let gb = grad.gpu_buffer()?;
    let idx: Vec<u32> = indices.iter().map(|&i| w(i)).collect();
    let ib = g.upload_u32(&idx);
    let inner: usize = shape[1..].iter().product();
    let n: usize = shape.iter().product();
    let params = [w(inner), w(indices.len())];
    let out = items(g, &k::SCATTER_ADD_ROWS, n, &params, &[gb.raw(), &ib], n)?;
    Ok(Tensor::from_gpu(out, shape))
}

/// The unfold / fold parameter block of a convolution (after the item count).
fn conv_params(d: &ConvDims) -> [u32; 9] {
    [
        w(d.c),
        w(d.h),
        w(d.w),
        w(d.kh),
        w(d.kw),
        w(d.oh),
        w(d.ow),
        w(d.s),
        w(d.p),
    ]
}

/// `[N, C·KH·KW, OH·OW]` patches of `x`.
fn im2col(g: &Gpu, x: &Buffer, d: &ConvDims) -> Result<Buffer> {
    let n = d.n * d.c * d.kh * d.kw * d.oh * d.ow;
    items(g, &k::IM2COL, n, &conv_params(d), &[x.raw()], n)
}

/// Convolution. Windows of at most [`DIRECT_CONV_WINDOW`] elements (LeNet's: 25 and 150) run
/// the direct kernel, one thread per output; bigger ones im2col + one GEMM per image against
/// the shared weight, plus the bias.
pub(crate) fn conv2d<T: Element>(
    x: &Tensor<T>,
    weight: &Tensor<T>,
    bias: Option<&Tensor<T>>,
    d: &ConvDims,
) -> Result<Tensor<T>> {
    let g = gpu()?;
    let bufs = buffers(&[x, weight])?;
    let (ckk, sp) = (d.c * d.kh * d.kw, d.oh * d.ow);
    let shape = [d.n, d.co, d.oh, d.ow];
    if ckk <= DIRECT_CONV_WINDOW {
        let zeros;
        let bias = match bias {
            Some(b) => b.gpu_buffer()?,
            None => {
                zeros = Arc::new(g.zeros(d.co)?);
                zeros
            }
        };
        let n = d.n * d.co * sp;
        let mut params = conv_params(d).to_vec();
        params.push(w(d.co));
        let raws = [bufs[0].raw(), bufs[1].raw(), bias.raw()];
        let out = items(g, &k::CONV2D_DIRECT, n, &params, &raws, n)?;
        return Ok(Tensor::from_gpu(out, &shape));
    }
    let cols = im2col(g, &bufs[0], d)?;
    let dims = GemmDims {
        m: d.co,
        n: sp,
        k: ckk,
        trans_a: false,
        trans_b: false,
        batch: d.n,
        stride_a: 0,
        stride_b: ckk * sp,
    };
    let out = Tensor::from_gpu(gemm_buffer(g, &bufs[1], &cols, dims)?, &[d.n, d.co, sp]);
    let out = match bias {
        Some(b) => out.add(&b.reshape(&[d.co, 1])?)?,
        None => out,
    };
    out.reshape(&shape)
}

/// Largest `C·KH·KW` window the direct convolution kernel takes: its per-output loop is then
/// short, and it skips the im2col buffer (`C·KH·KW` times the input) altogether.
const DIRECT_CONV_WINDOW: usize = 256;

/// Convolution gradients `(grad_x if asked, grad_w, grad_b)`: `db = Σ G`, `dx = col2im(Wᵀ·G_n)`,
/// and `dW` for small windows (as in [`conv2d`]) by one workgroup per weight reducing over
/// images and positions, else `Σ_n G_n·cols_nᵀ`. Measured on lavapipe, LeNet at batch 256:
/// the direct `dW` takes 139 / 281 ms for conv1 / conv2 against 523 / 240 ms through the GEMM
/// (conv1's per-image products are 6 × 25 × 576: all tile waste); a direct `dx` (a thread per
/// input element gathering `C_out·KH·KW` terms) took 208 ms against about 100 ms for this.
#[allow(clippy::type_complexity)] // mirrors Tensor::conv2d_backward
pub(crate) fn conv2d_backward<T: Element>(
    x: &Tensor<T>,
    weight: &Tensor<T>,
    grad_out: &Tensor<T>,
    d: &ConvDims,
    need_input_grad: bool,
) -> Result<(Option<Tensor<T>>, Tensor<T>, Tensor<T>)> {
    let g = gpu()?;
    let bufs = buffers(&[x, weight, grad_out])?;
    let (ckk, sp) = (d.c * d.kh * d.kw, d.oh * d.ow);
    let gb = grad_out
        .reshape(&[d.n, d.co, sp])?
        .sum_axis(2)?
        .sum_axis(0)?
        .reshape(&[d.co])?;
    let gw = if ckk <= DIRECT_CONV_WINDOW {
        let weights = weight.len();
        let gw = g.alloc(weights)?;
        let mut params = vec![w(weights)];
        params.extend_from_slice(&conv_params(d));
        params.extend([w(d.co), w(d.n)]);
        let grid = grid_1d(weights * super::WORKGROUP as usize);
        let raws = [bufs[2].raw(), bufs[0].raw()];
        g.run(&k::CONV2D_GRAD_WEIGHT_DIRECT, &params, &raws, &[&gw], grid);
        Tensor::from_gpu(gw, weight.shape())
    } else {
        let cols = im2col(g, &bufs[0], d)?;
        let per_image = GemmDims {
            m: d.co,
            n: ckk,
            k: sp,
            trans_a: false,
            trans_b: true,
            batch: d.n,
            stride_a: d.co * sp,
            stride_b: ckk * sp,
        };
        Tensor::<T>::from_gpu(
            gemm_buffer(g, &bufs[2], &cols, per_image)?,
            &[d.n, d.co, ckk],
        )
        .sum_axis(0)?
        .reshape(weight.shape())?
    };
    let gx = if need_input_grad {
        let dcols_dims = GemmDims {
            m: ckk,
            n: sp,
            k: d.co,
            trans_a: true,
            trans_b: false,
            batch: d.n,
            stride_a: 0,
            stride_b: d.co * sp,
        };
        let dcols = gemm_buffer(g, &bufs[1], &bufs[2], dcols_dims)?;
        let n = d.n * d.c * d.h * d.w;
        let gx = items(g, &k::COL2IM, n, &conv_params(d), &[dcols.raw()], n)?;
        Some(Tensor::from_gpu(gx, x.shape()))
    } else {
        None
    };
    Ok((gx, gw, gb))
}

/// The geometry of an average pooling: planes (N·C), input H×W, output OH×OW, window k.
pub(crate) struct PoolDims {
    /// N·C.
    pub planes: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
    /// Window edge (= stride).
    pub k: usize,
}

impl PoolDims {
    fn params(&self) -> [u32; 5] {
        [w(self.h), w(self.w), w(self.oh), w(self.ow), w(self.k)]
    }
}

/// Average pooling of `x` into a tensor of `shape`.
pub(crate) fn avg_pool2d<T: Element>(
    x: &Tensor<T>,
    d: &PoolDims,
    shape: &[usize],
) -> Result<Tensor<T>> {
    one_input(
        &k::AVG_POOL2D,
        x,
        d.planes * d.oh * d.ow,
        &d.params(),
        shape,
    )
}

/// Gradient of average pooling for an input of `shape`.
pub(crate) fn avg_pool2d_backward<T: Element>(
    grad: &Tensor<T>,
    d: &PoolDims,
    shape: &[usize],
) -> Result<Tensor<T>> {
    one_input(
        &k::AVG_POOL2D_BACKWARD,
        grad,
        d.planes * d.h * d.w,
        &d.params(),
        shape,
    )
}

/// One Adam step: the new parameter, first and second moments, in fresh buffers.
pub(crate) fn adam<T: Element>(
    param: &Tensor<T>,
    m: &Tensor<T>,
    v: &Tensor<T>,
    grad: &Tensor<T>,
    c: &AdamCoefficients<T>,
) -> Result<(Tensor<T>, Tensor<T>, Tensor<T>)> {
    let g = gpu()?;
    let bufs = buffers(&[param, m, v, grad])?;
    let n = param.len();
    let (po, mo, vo) = (g.alloc(n)?, g.alloc(n)?, g.alloc(n)?);
    let flags = u32::from(c.decoupled) | (u32::from(c.l2) << 1);
    let params = [
        w(n),
        flags,
        f(c.shrink),
        f(c.l2_wd),
        f(c.one_minus_beta1),
        f(c.beta2),
        f(c.one_minus_beta2),
        f(c.bc2_sqrt),
        f(c.neg_step_size),
        f(c.eps),
    ];
    let raws: Vec<&wgpu::Buffer> = bufs.iter().map(|b| b.raw()).collect();
    g.run(&k::ADAM, &params, &raws, &[&po, &mo, &vo], grid_1d(n));
    let shape = param.shape();
    Ok((
        Tensor::from_gpu(po, shape),
        Tensor::from_gpu(mo, shape),
        Tensor::from_gpu(vo, shape),
    ))
}
