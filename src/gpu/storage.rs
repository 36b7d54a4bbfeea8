//! The GPU implementation of the backend trait: tensor storage as an f32 device buffer, and
//! each kernel of the trait as one or a few WGSL dispatches into fresh buffers. Operands arrive
//! checked (shapes and lengths agree with the op descriptors).

use super::{gpu, grid_1d, kernels as k, Buffer, Gpu, MAX_GROUPS_PER_AXIS, WORKGROUP};
use crate::backend::op::{
    AdamStep, AxisSplit, BinaryOp, Broadcast, ConvDims, GemmDims, PoolDims, SgdStep, UnaryOp,
};
use crate::backend::BackendStorage;
use crate::backend::Element;
use crate::error::{Error, Result};
use std::marker::PhantomData;
use std::sync::Arc;

/// Most runs the broadcasting kernel handles (its parameter block holds 8 lengths and strides).
const MAX_AXES: usize = 8;

/// Output tile columns of the GEMM kernels.
const GEMM_TILE_COLS: usize = 64;

/// Products of at most this many rows use the 16-row-tile GEMM.
const SKINNY_ROWS: usize = 32;

/// Largest `C·KH·KW` window the direct convolution kernels take: their per-output loop is then
/// short, and they skip the im2col buffer (`C·KH·KW` times the input) altogether.
const DIRECT_CONV_WINDOW: usize = 256;

/// A tensor's elements as f32 in a device buffer. A buffer is never written after the kernel
/// that made it, so clones share it and reshapes copy nothing.
pub(crate) struct GpuStorage<T> {
    buffer: Arc<Buffer>,
    _element: PhantomData<T>,
}

impl<T> Clone for GpuStorage<T> {
    fn clone(&self) -> Self {
        GpuStorage {
            buffer: Arc::clone(&self.buffer),
            _element: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for GpuStorage<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GpuStorage({} elements)", self.buffer.len())
    }
}

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
    inputs: &[&Buffer],
    out_len: usize,
) -> Result<Buffer> {
    let out = g.alloc(out_len)?;
    let mut block = vec![w(items)];
    block.extend_from_slice(params);
    let raws: Vec<&wgpu::Buffer> = inputs.iter().map(|b| b.raw()).collect();
    g.run(kernel, &block, &raws, &[&out], grid_1d(items));
    Ok(out)
}

/// The broadcast runs as `(length, stride in the right operand)`, stride 0 where it is
/// broadcast: what the strided `binary` kernel walks.
fn run_strides(b: &Broadcast) -> Vec<(usize, usize)> {
    let mut stride = 1;
    let mut out: Vec<(usize, usize)> = b
        .runs
        .iter()
        .rev()
        .map(|&(len, kept)| {
            if kept {
                let s = stride;
                stride *= len;
                (len, s)
            } else {
                (len, 0)
            }
        })
        .collect();
    out.reverse();
    out
}

/// What the `binary` kernel computes.
#[derive(Clone, Copy)]
enum Combine {
    /// `a op b`.
    Op(BinaryOp),
    /// `b` where `a > 0`, else 0 (`a` the relu output, `b` its gradient).
    ReluBackward,
    /// The value (f32 bits) where `b` (a 0/1 mask) is 1, else `a`.
    Fill(u32),
}

/// The batched product `d` into a fresh buffer of `batch·m·n` elements. A grid longer than
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

/// Sum over the middle axis of `a` seen as `split`.
fn sum_axis_buffer(g: &Gpu, a: &Buffer, split: AxisSplit) -> Result<Buffer> {
    let AxisSplit { outer, len, inner } = split;
    if inner == 1 {
        return sum_rows(g, a, outer, len);
    }
    let n = outer * inner;
    items(g, &k::SUM_AXIS, n, &[w(len), w(inner)], &[a], n)
}

/// Row sums of `[rows, len]`, one workgroup per row.
fn sum_rows(g: &Gpu, a: &Buffer, rows: usize, len: usize) -> Result<Buffer> {
    let out = g.alloc(rows)?;
    if len == 0 {
        g.clear(&out);
    } else {
        let grid = grid_1d(rows * WORKGROUP as usize);
        g.run(&k::SUM_ROWS, &[w(rows), w(len)], &[a.raw()], &[&out], grid);
    }
    Ok(out)
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
    items(g, &k::IM2COL, n, &conv_params(d), &[x], n)
}

/// The parameter block of the pooling kernels (after the item count).
fn pool_params(d: &PoolDims) -> [u32; 5] {
    [w(d.h), w(d.w), w(d.oh), w(d.ow), w(d.k)]
}

impl<T: Element> GpuStorage<T> {
    /// Storage around a buffer a kernel wrote.
    fn new(buffer: Buffer) -> Self {
        GpuStorage {
            buffer: Arc::new(buffer),
            _element: PhantomData,
        }
    }

    /// Host elements copied to a new device buffer.
    ///
    /// Errors: [`Error::Device`] for an element type the backend does not compute in (f32
    /// only), when no GPU can be opened or the buffer cannot be allocated.
    pub(crate) fn upload(data: &[T]) -> Result<Self> {
        let f32s = T::as_f32(data).ok_or_else(|| {
            Error::Device(format!(
                "the GPU backend computes in f32; a {} tensor cannot move there",
                T::NAME
            ))
        })?;
        Ok(Self::new(super::upload(f32s)?))
    }

    /// True when both are the same buffer.
    pub(crate) fn same_buffer(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.buffer, &other.buffer)
    }

    /// A one-thread-per-item kernel over `n` items reading `self` (and `others`), writing
    /// `out_len` elements.
    fn kernel(
        &self,
        kernel: &k::Kernel,
        n: usize,
        params: &[u32],
        others: &[&Self],
        out_len: usize,
    ) -> Result<Self> {
        let mut inputs = vec![&*self.buffer];
        inputs.extend(others.iter().map(|o| &*o.buffer));
        Ok(Self::new(items(
            gpu()?,
            kernel,
            n,
            params,
            &inputs,
            out_len,
        )?))
    }

    /// `self ∘ b` elementwise with `b` broadcast as `runs` says.
    ///
    /// Errors: [`Error::Device`] when the pattern needs more than [`MAX_AXES`] runs (equal
    /// shapes always need one), or the GPU fails.
    fn combine(&self, b: &Self, how: Combine, runs: &[(usize, usize)]) -> Result<Self> {
        let (code, fill) = match how {
            Combine::Op(BinaryOp::Add) => (0, 0),
            Combine::Op(BinaryOp::Sub) => (1, 0),
            Combine::Op(BinaryOp::Mul) => (2, 0),
            Combine::Op(BinaryOp::Div) => (3, 0),
            Combine::ReluBackward => (4, 0),
            Combine::Fill(v) => (5, v),
        };
        if runs.len() > MAX_AXES {
            return Err(Error::Device(format!(
                "the GPU broadcast kernel handles at most {MAX_AXES} alternations of broadcast \
                 and non-broadcast axes; this broadcast needs {}",
                runs.len()
            )));
        }
        let mut lens = [1u32; MAX_AXES];
        let mut strides = [0u32; MAX_AXES];
        for (d, &(len, stride)) in runs.iter().enumerate() {
            lens[d] = w(len);
            strides[d] = w(stride);
        }
        let mut params = vec![code, w(runs.len()), fill];
        params.extend_from_slice(&lens);
        params.extend_from_slice(&strides);
        let n = self.buffer.len();
        self.kernel(&k::BINARY, n, &params, &[b], n)
    }

    /// `self ∘ b` for equal lengths.
    fn combine_elementwise(&self, b: &Self, how: Combine) -> Result<Self> {
        self.combine(b, how, &[(self.buffer.len(), 1)])
    }

    /// The `map` kernel with op `code` and scalar `s` (f32 bits).
    fn map(&self, code: u32, s: u32) -> Result<Self> {
        let n = self.buffer.len();
        self.kernel(&k::MAP, n, &[code, s], &[], n)
    }

    /// A one-thread-per-row kernel with parameter `d`.
    fn row_kernel(
        &self,
        kernel: &k::Kernel,
        others: &[&Self],
        rows: usize,
        d: usize,
        out_len: usize,
    ) -> Result<Self> {
        self.kernel(kernel, rows, &[w(d)], others, out_len)
    }
}

impl<T: Element> BackendStorage<T> for GpuStorage<T> {
    fn len(&self) -> usize {
        self.buffer.len()
    }

    fn to_host(&self) -> Result<Vec<T>> {
        Ok(self
            .buffer
            .read()?
            .into_iter()
            .map(|v| T::from_f64(f64::from(v)))
            .collect())
    }

    fn zeros(&self, len: usize) -> Result<Self> {
        Ok(Self::new(gpu()?.zeros(len)?))
    }

    fn binary(&self, rhs: &Self, op: BinaryOp, b: &Broadcast) -> Result<Self> {
        self.combine(rhs, Combine::Op(op), &run_strides(b))
    }

    /// Kernel `map`, ops 5–8.
    fn scalar(&self, s: T, op: BinaryOp) -> Result<Self> {
        let code = match op {
            BinaryOp::Add => 5,
            BinaryOp::Sub => 6,
            BinaryOp::Mul => 7,
            BinaryOp::Div => 8,
        };
        self.map(code, f(s))
    }

    /// Kernel `map`, ops 0–4 and 16 (sigmoid); gelu runs kernel `gelu`.
    fn unary(&self, op: UnaryOp) -> Result<Self> {
        let code = match op {
            UnaryOp::Relu => 0,
            UnaryOp::Exp => 1,
            UnaryOp::Ln => 2,
            UnaryOp::Sqrt => 3,
            UnaryOp::Neg => 4,
            UnaryOp::Sigmoid => 16,
            // Its own kernel (mode 0), `self` in both input slots.
            UnaryOp::Gelu => {
                let n = self.buffer.len();
                return self.kernel(&k::GELU, n, &[0], &[self], n);
            }
        };
        self.map(code, 0.0f32.to_bits())
    }

    /// The sum is a new buffer that replaces `self`'s (buffers are never written twice).
    fn add_assign(&mut self, g: &Self) -> Result<()> {
        *self = self.combine_elementwise(g, Combine::Op(BinaryOp::Add))?;
        Ok(())
    }

    /// Each broadcast run summed in turn, outermost first.
    fn sum_to_shape(&self, b: &Broadcast, out_len: usize) -> Result<Self> {
        let g = gpu()?;
        let mut acc = self.clone();
        // Runs still to come keep their full length; those done are 1 (summed) or kept.
        for (i, &(len, kept)) in b.runs.iter().enumerate() {
            if kept {
                continue;
            }
            let outer = Broadcast::kept_len(&b.runs[..i]);
            let inner = Broadcast::full_len(&b.runs[i + 1..]);
            let split = AxisSplit { outer, len, inner };
            acc = Self::new(sum_axis_buffer(g, &acc.buffer, split)?);
        }
        if acc.buffer.len() != out_len {
            // Only all-size-1 shapes give no run: the sum of everything.
            acc = Self::new(sum_rows(g, &acc.buffer, 1, acc.buffer.len())?);
        }
        Ok(acc)
    }

    fn sum_axis(&self, split: AxisSplit) -> Result<Self> {
        Ok(Self::new(sum_axis_buffer(gpu()?, &self.buffer, split)?))
    }

    fn max_axis(&self, _split: AxisSplit) -> Result<Self> {
        Err(Error::Device(
            "max_axis has no GPU kernel; move the tensor to the CPU first".into(),
        ))
    }

    fn sum_all(&self) -> Result<Self> {
        Ok(Self::new(sum_rows(
            gpu()?,
            &self.buffer,
            1,
            self.buffer.len(),
        )?))
    }

    fn transpose(&self, rows: usize, cols: usize) -> Result<Self> {
        self.kernel(
            &k::TRANSPOSE,
            rows * cols,
            &[w(rows), w(cols)],
            &[],
            rows * cols,
        )
    }

    fn concat(parts: &[&Self], outer: usize, lens: &[usize], inner: usize) -> Result<Self> {
        let g = gpu()?;
        let total: usize = lens.iter().sum();
        let out = g.alloc(outer * total * inner)?;
        let mut offset = 0;
        for (p, &len) in parts.iter().zip(lens) {
            let n = outer * len * inner;
            let params = [w(n), w(len), w(inner), w(len), w(total), 0, w(offset)];
            g.run(
                &k::COPY_AXIS,
                &params,
                &[p.buffer.raw()],
                &[&out],
                grid_1d(n),
            );
            offset += len;
        }
        Ok(Self::new(out))
    }

    fn slice(&self, split: AxisSplit, start: usize, end: usize) -> Result<Self> {
        let AxisSplit { outer, len, inner } = split;
        let take = end - start;
        let n = outer * take * inner;
        let params = [w(take), w(inner), w(len), w(take), w(start), 0];
        self.kernel(&k::COPY_AXIS, n, &params, &[], n)
    }

    fn gather_rows(&self, indices: &[usize], inner: usize) -> Result<Self> {
        let g = gpu()?;
        let idx: Vec<u32> = indices.iter().map(|&i| w(i)).collect();
        let ib = g.upload_u32(&idx);
        let n = indices.len() * inner;
        let out = g.alloc(n)?;
        let grid = grid_1d(n);
        g.run(
            &k::GATHER_ROWS,
            &[w(n), w(inner)],
            &[self.buffer.raw(), &ib],
            &[&out],
            grid,
        );
        Ok(Self::new(out))
    }

    fn scatter_add_rows(&self, indices: &[usize], inner: usize, rows: usize) -> Result<Self> {
        let g = gpu()?;
        let idx: Vec<u32> = indices.iter().map(|&i| w(i)).collect();
        let ib = g.upload_u32(&idx);
        let n = rows * inner;
        let out = g.alloc(n)?;
        let params = [w(n), w(inner), w(indices.len())];
        g.run(
            &k::SCATTER_ADD_ROWS,
            &params,
            &[self.buffer.raw(), &ib],
            &[&out],
            grid_1d(n),
        );
        Ok(Self::new(out))
    }

    fn matmul(&self, rhs: &Self, d: GemmDims) -> Result<Self> {
        Ok(Self::new(gemm_buffer(
            gpu()?,
            &self.buffer,
            &rhs.buffer,
            d,
        )?))
    }

    fn logsumexp_rows(&self, rows: usize, d: usize) -> Result<Self> {
        self.row_kernel(&k::LOGSUMEXP_ROWS, &[], rows, d, rows)
    }

    fn logsumexp_rows_backward(&self, lse: &Self, g: &Self, rows: usize, d: usize) -> Result<Self> {
        self.row_kernel(&k::LOGSUMEXP_ROWS_BACKWARD, &[lse, g], rows, d, rows * d)
    }

    fn log_softmax_rows(&self, rows: usize, d: usize) -> Result<Self> {
        self.row_kernel(&k::LOG_SOFTMAX_ROWS, &[], rows, d, rows * d)
    }

    fn log_softmax_rows_backward(&self, g: Self, rows: usize, d: usize) -> Result<Self> {
        self.row_kernel(&k::LOG_SOFTMAX_ROWS_BACKWARD, &[&g], rows, d, rows * d)
    }

    fn l2_normalize_rows(&self, rows: usize, d: usize, eps: T) -> Result<(Self, Self)> {
        let g = gpu()?;
        let (y, norms) = (g.alloc(rows * d)?, g.alloc(rows)?);
        g.run(
            &k::L2_NORMALIZE_ROWS,
            &[w(rows), w(d), f(eps)],
            &[self.buffer.raw()],
            &[&y, &norms],
            grid_1d(rows),
        );
        Ok((Self::new(y), Self::new(norms)))
    }

    fn l2_normalize_rows_backward(
        &self,
        norms: &Self,
        eps: T,
        g: Self,
        rows: usize,
        d: usize,
    ) -> Result<Self> {
        let params = [w(d), f(eps)];
        self.kernel(
            &k::L2_NORMALIZE_ROWS_BACKWARD,
            rows,
            &params,
            &[norms, &g],
            rows * d,
        )
    }

    fn relu_backward(&self, g: Self) -> Result<Self> {
        self.combine_elementwise(&g, Combine::ReluBackward)
    }

    /// Kernel `gelu`, mode 1.
    fn gelu_backward(&self, g: Self) -> Result<Self> {
        let n = self.buffer.len();
        self.kernel(&k::GELU, n, &[1], &[&g], n)
    }

    fn masked_fill(self, mask: &[bool], value: T) -> Result<Self> {
        let flags: Vec<f32> = mask.iter().map(|&m| if m { 1.0 } else { 0.0 }).collect();
        let mask = Self::new(super::upload(&flags)?);
        self.combine_elementwise(&mask, Combine::Fill(f(value)))
    }

    /// Windows of at most [`DIRECT_CONV_WINDOW`] elements (LeNet's: 25 and 150) run the direct
    /// kernel, one thread per output; bigger ones im2col + one GEMM per image against the
    /// shared weight, plus the bias.
    fn conv2d(&self, weight: &Self, bias: Option<&Self>, d: &ConvDims) -> Result<Self> {
        let g = gpu()?;
        let (ckk, sp) = (d.c * d.kh * d.kw, d.oh * d.ow);
        if ckk <= DIRECT_CONV_WINDOW {
            let zeros;
            let bias = match bias {
                Some(b) => b,
                None => {
                    zeros = Self::new(g.zeros(d.co)?);
                    &zeros
                }
            };
            let n = d.n * d.co * sp;
            let mut params = conv_params(d).to_vec();
            params.push(w(d.co));
            return self.kernel(&k::CONV2D_DIRECT, n, &params, &[weight, bias], n);
        }
        let cols = im2col(g, &self.buffer, d)?;
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
        let out = Self::new(gemm_buffer(g, &weight.buffer, &cols, dims)?);
        match bias {
            // [N, C_out, OH·OW] + bias [C_out, 1]: broadcast over images and positions.
            Some(b) => {
                let runs = Broadcast::new("conv2d", &[d.n, d.co, sp], &[d.co, 1])?;
                out.combine(b, Combine::Op(BinaryOp::Add), &run_strides(&runs))
            }
            None => Ok(out),
        }
    }

    /// `db = Σ G`, `dx = col2im(Wᵀ·G_n)`, and `dW` for small windows (as in
    /// [`conv2d`](BackendStorage::conv2d)) by one workgroup per weight reducing over images and
    /// positions, else `Σ_n G_n·cols_nᵀ`. Measured on lavapipe, LeNet at batch 256: the direct
    /// `dW` takes 139 / 281 ms for conv1 / conv2 against 523 / 240 ms through the GEMM (conv1's
    /// per-image products are 6 × 25 × 576: all tile waste); a direct `dx` (a thread per input
    /// element gathering `C_out·KH·KW` terms) took 208 ms against about 100 ms for this.
    fn conv2d_backward(
        &self,
        weight: &Self,
        grad_out: &Self,
        d: &ConvDims,
        need_input_grad: bool,
    ) -> Result<(Option<Self>, Self, Self)> {
        let g = gpu()?;
        let (ckk, sp) = (d.c * d.kh * d.kw, d.oh * d.ow);
        // grad_out [N, C_out, OH·OW]: sum the positions, then the images.
        let per_image = sum_axis_buffer(
            g,
            &grad_out.buffer,
            AxisSplit {
                outer: d.n * d.co,
                len: sp,
                inner: 1,
            },
        )?;
        let gb = Self::new(sum_axis_buffer(
            g,
            &per_image,
            AxisSplit {
                outer: 1,
                len: d.n,
                inner: d.co,
            },
        )?);
        let weights = weight.buffer.len();
        let gw = if ckk <= DIRECT_CONV_WINDOW {
            let gw = g.alloc(weights)?;
            let mut params = vec![w(weights)];
            params.extend_from_slice(&conv_params(d));
            params.extend([w(d.co), w(d.n)]);
            let grid = grid_1d(weights * WORKGROUP as usize);
            let raws = [grad_out.buffer.raw(), self.buffer.raw()];
            g.run(&k::CONV2D_GRAD_WEIGHT_DIRECT, &params, &raws, &[&gw], grid);
            Self::new(gw)
        } else {
            let cols = im2col(g, &self.buffer, d)?;
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
            let each = gemm_buffer(g, &grad_out.buffer, &cols, per_image)?;
            let split = AxisSplit {
                outer: 1,
                len: d.n,
                inner: weights,
            };
            Self::new(sum_axis_buffer(g, &each, split)?)
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
            let dcols = gemm_buffer(g, &weight.buffer, &grad_out.buffer, dcols_dims)?;
            let n = d.n * d.c * d.h * d.w;
            Some(Self::new(items(
                g,
                &k::COL2IM,
                n,
                &conv_params(d),
                &[&dcols],
                n,
            )?))
        } else {
            None
        };
        Ok((gx, gw, gb))
    }

    fn avg_pool2d(&self, d: &PoolDims) -> Result<Self> {
        let n = d.planes * d.oh * d.ow;
        self.kernel(&k::AVG_POOL2D, n, &pool_params(d), &[], n)
    }

    fn avg_pool2d_backward(&self, d: &PoolDims) -> Result<Self> {
        let n = d.planes * d.h * d.w;
        self.kernel(&k::AVG_POOL2D_BACKWARD, n, &pool_params(d), &[], n)
    }

    fn upsample_nearest2d(&self, d: &PoolDims) -> Result<Self> {
        let n = d.planes * d.h * d.w;
        self.kernel(&k::UPSAMPLE_NEAREST2D, n, &pool_params(d), &[], n)
    }

    fn upsample_nearest2d_backward(&self, d: &PoolDims) -> Result<Self> {
        let n = d.planes * d.oh * d.ow;
        self.kernel(&k::UPSAMPLE_NEAREST2D_BACKWARD, n, &pool_params(d), &[], n)
    }

    /// One fused kernel writing the new parameter and moments to fresh buffers.
    fn adam_step(
        &mut self,
        m: &mut Self,
        v: &mut Self,
        grad: &Self,
        c: &AdamStep<T>,
    ) -> Result<()> {
        let g = gpu()?;
        let n = self.buffer.len();
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
        let raws = [
            self.buffer.raw(),
            m.buffer.raw(),
            v.buffer.raw(),
            grad.buffer.raw(),
        ];
        g.run(&k::ADAM, &params, &raws, &[&po, &mo, &vo], grid_1d(n));
        (*self, *m, *v) = (Self::new(po), Self::new(mo), Self::new(vo));
        Ok(())
    }

    /// One fused kernel writing the new parameter (and momentum buffer) to fresh buffers.
    fn sgd_step(&mut self, momentum: Option<&mut Self>, grad: &Self, c: &SgdStep<T>) -> Result<()> {
        let g = gpu()?;
        let n = self.buffer.len();
        let flags = u32::from(c.weight_decay.is_some())
            | (u32::from(momentum.is_some()) << 1)
            | (u32::from(c.first) << 2)
            | (u32::from(c.nesterov) << 3);
        let params = [
            w(n),
            flags,
            f(c.neg_lr),
            f(c.weight_decay.unwrap_or(T::ZERO)),
            f(c.momentum),
            f(c.one_minus_dampening),
        ];
        let po = g.alloc(n)?;
        match momentum {
            Some(buf) => {
                let bo = g.alloc(n)?;
                let raws = [self.buffer.raw(), buf.buffer.raw(), grad.buffer.raw()];
                g.run(&k::SGD, &params, &raws, &[&po, &bo], grid_1d(n));
                *buf = Self::new(bo);
            }
            None => {
                // The kernel's buffer slots are fixed: the gradient stands in for the buffer
                // it does not read, and a scratch buffer takes the write it does not need.
                let scratch = g.alloc(1)?;
                let raws = [self.buffer.raw(), grad.buffer.raw(), grad.buffer.raw()];
                g.run(&k::SGD, &params, &raws, &[&po, &scratch], grid_1d(n));
            }
        }
        *self = Self::new(po);
        Ok(())
    }

    /// Kernel `ema` into a fresh buffer that replaces `self`'s.
    fn ema_update(&mut self, source: &Self, m: T, one_minus_m: T) -> Result<()> {
        let n = self.buffer.len();
        *self = self.kernel(&k::EMA, n, &[f(m), f(one_minus_m)], &[source], n)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_strides_follow_the_runs() {
        // [2, 3, 4] + [3, 1]: axis 0 broadcast, axis 1 kept, axis 2 broadcast.
        let b = Broadcast::new("add", &[2, 3, 4], &[3, 1]).unwrap();
        assert_eq!(run_strides(&b), vec![(2, 0), (3, 1), (4, 0)]);
        // [4, 5, 6] * [5, 6]: one kept run across both inner axes.
        let r = Broadcast::new("mul", &[4, 5, 6], &[5, 6]).unwrap();
        assert_eq!(run_strides(&r), vec![(4, 0), (30, 1)]);
        // [2, 3] + [2, 1]: rows kept with stride 1, columns broadcast.
        let c = Broadcast::new("add", &[2, 3], &[2, 1]).unwrap();
        assert_eq!(run_strides(&c), vec![(2, 1), (3, 0)]);
    }
}
