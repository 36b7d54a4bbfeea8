//! What every compute device implements, below the tensors: the element types ([`Element`]),
//! plain op descriptors ([`op`]) and one crate-private trait over a device's storage holding
//! every kernel the tape, the layers, the losses and the optimizers need.
//!
//! The [`Tensor`](crate::Tensor) methods check shapes and arguments, describe the op with the
//! types of [`op`], and call the kernels through the storage enum of `tensor/storage.rs`, which
//! picks the device. A backend may assume checked operands: lengths agree with the
//! descriptors. Every method returns `Result`, so a device failure (out of memory, a buffer
//! past the device's limits, a lost device) reaches the caller as an [`Error`](crate::Error)
//! instead of a panic. The CPU implementation is `tensor/cpu/`, the GPU one `gpu/`; neither
//! knows `Tensor`.

mod element;
pub mod op;

pub use element::{Element, Lanes};

use crate::error::Result;
use op::{
    AdamStep, AxisSplit, BinaryOp, Broadcast, ConvDims, GemmDims, PoolDims, SgdStep, UnaryOp,
};

/// The elements of one tensor on one device, and the kernels that compute on them. Shapes are
/// the caller's: storage is a flat run of `len()` elements in row-major order.
pub(crate) trait BackendStorage<T: Element>: Sized {
    /// Number of elements.
    fn len(&self) -> usize;
    /// The elements, copied to host memory.
    fn to_host(&self) -> Result<Vec<T>>;
    /// `len` zeros on the same device.
    fn zeros(&self, len: usize) -> Result<Self>;

    /// `self op rhs`, `rhs` broadcast onto `self` as `b` says.
    fn binary(&self, rhs: &Self, op: BinaryOp, b: &Broadcast) -> Result<Self>;
    /// `self op s` for every element.
    fn scalar(&self, s: T, op: BinaryOp) -> Result<Self>;
    /// `op(self)` for every element.
    fn unary(&self, op: UnaryOp) -> Result<Self>;
    /// `self += g` elementwise (equal lengths).
    fn add_assign(&mut self, g: &Self) -> Result<()>;
    /// `self` (shaped like a broadcast result) summed down to the right operand of `b`, which
    /// has `out_len` elements: the adjoint of broadcasting.
    fn sum_to_shape(&self, b: &Broadcast, out_len: usize) -> Result<Self>;

    /// Sums over the middle axis of `split` (`[outer, 1, inner]` out).
    fn sum_axis(&self, split: AxisSplit) -> Result<Self>;
    /// Maximum over the middle axis of `split` (NaN wins); the axis is non-empty.
    fn max_axis(&self, split: AxisSplit) -> Result<Self>;
    /// The sum of every element (one element out).
    fn sum_all(&self) -> Result<Self>;

    /// Transpose of a `[rows, cols]` matrix.
    fn transpose(&self, rows: usize, cols: usize) -> Result<Self>;
    /// The parts, each seen as `[outer, len_i, inner]`, joined along the middle axis.
    fn concat(parts: &[&Self], outer: usize, lens: &[usize], inner: usize) -> Result<Self>;
    /// Indices `start..end` of the middle axis of `split`.
    fn slice(&self, split: AxisSplit, start: usize, end: usize) -> Result<Self>;
    /// Rows `indices` (each `inner` long); indices are in range.
    fn gather_rows(&self, indices: &[usize], inner: usize) -> Result<Self>;
    /// `rows` rows of `inner`, row `indices[j]` summing row `j` of `self`.
    fn scatter_add_rows(&self, indices: &[usize], inner: usize, rows: usize) -> Result<Self>;
    /// The matrix products `d` describes, `self` holding the A's and `rhs` the B's.
    fn matmul(&self, rhs: &Self, d: GemmDims) -> Result<Self>;

    /// Row-wise stable `log Σ e^x` of `[rows, d]` (`rows` out).
    fn logsumexp_rows(&self, rows: usize, d: usize) -> Result<Self>;
    /// Its gradient for input `self`, output `lse` and output gradient `g` (`rows` each).
    fn logsumexp_rows_backward(&self, lse: &Self, g: &Self, rows: usize, d: usize) -> Result<Self>;
    /// Row-wise `x − logsumexp(x)`.
    fn log_softmax_rows(&self, rows: usize, d: usize) -> Result<Self>;
    /// Its gradient given the output `self` and the output gradient `g`.
    fn log_softmax_rows_backward(&self, g: Self, rows: usize, d: usize) -> Result<Self>;
    /// Rows divided by `max(‖row‖, eps)`, and those clamped norms.
    fn l2_normalize_rows(&self, rows: usize, d: usize, eps: T) -> Result<(Self, Self)>;
    /// Its gradient given the output `self`, the clamped `norms` and the output gradient `g`.
    fn l2_normalize_rows_backward(
        &self,
        norms: &Self,
        eps: T,
        g: Self,
        rows: usize,
        d: usize,
    ) -> Result<Self>;

    /// The gradient of relu given its output `self`: `g` where `self > 0`, else 0.
    fn relu_backward(&self, g: Self) -> Result<Self>;
    /// The gradient of gelu given its input `self`: `g·(Φ(x) + x·φ(x))`.
    fn gelu_backward(&self, g: Self) -> Result<Self>;
    /// `value` where `mask` is true, else the element (one flag per element); the CPU fills
    /// in place.
    fn masked_fill(self, mask: &[bool], value: T) -> Result<Self>;

    /// Convolution of images `self` with `weight` (+ `bias`).
    fn conv2d(&self, weight: &Self, bias: Option<&Self>, d: &ConvDims) -> Result<Self>;
    /// `avg_pool2d(relu(conv2d(self) + bias))` (`pool` the pooling of the convolution's
    /// output), with the bits of those three kernels; by default it runs them in turn, a
    /// backend may fuse them.
    fn conv2d_relu_pool(
        &self,
        weight: &Self,
        bias: Option<&Self>,
        d: &ConvDims,
        pool: &PoolDims,
    ) -> Result<Self> {
        conv2d_relu_pool_composed(self, weight, bias, d, pool)
    }
    /// [`conv2d_relu_pool`](BackendStorage::conv2d_relu_pool) for a backward pass: the pooled
    /// output and `relu(conv2d(self) + bias)` at full size (what
    /// [`conv2d_relu_pool_backward`](BackendStorage::conv2d_relu_pool_backward) needs), with
    /// the bits of the three kernels; by default it runs them in turn, a backend may fuse them.
    fn conv2d_relu_pool_train(
        &self,
        weight: &Self,
        bias: Option<&Self>,
        d: &ConvDims,
        pool: &PoolDims,
    ) -> Result<(Self, Self)> {
        conv2d_relu_pool_train_composed(self, weight, bias, d, pool)
    }
    /// Gradients `(grad_x if asked, grad_w, grad_b)` of `avg_pool2d(relu(conv2d(self)))` given
    /// the relu output `act` and the pooled output's gradient `g`, with the bits of the three
    /// backward kernels in turn (the default); `d` has at least one image and one output
    /// element.
    #[allow(clippy::type_complexity, clippy::too_many_arguments)]
    fn conv2d_relu_pool_backward(
        &self,
        weight: &Self,
        act: &Self,
        g: &Self,
        d: &ConvDims,
        pool: &PoolDims,
        need_input_grad: bool,
    ) -> Result<(Option<Self>, Self, Self)> {
        // d relu(h)/dh = 1 where act > 0; each pooled input gets g/k².
        let go = act.relu_backward(g.avg_pool2d_backward(pool)?)?;
        self.conv2d_backward(weight, &go, d, need_input_grad)
    }
    /// Convolution gradients `(grad_x if asked, grad_w, grad_b)` for input `self`; `d` has at
    /// least one image and one output element.
    #[allow(clippy::type_complexity)]
    fn conv2d_backward(
        &self,
        weight: &Self,
        grad_out: &Self,
        d: &ConvDims,
        need_input_grad: bool,
    ) -> Result<(Option<Self>, Self, Self)>;
    /// Average pooling of `self`; `d` has at least one output element.
    fn avg_pool2d(&self, d: &PoolDims) -> Result<Self>;
    /// Its gradient given the output gradient `self`; `d` has at least one input element.
    fn avg_pool2d_backward(&self, d: &PoolDims) -> Result<Self>;
    /// Nearest-neighbour upsampling of `self` (`d.planes` planes of `oh × ow`) into planes of
    /// `h × w` (`h = k·oh`, `w = k·ow`: `d` is the pooling that maps the output back); `d` has
    /// at least one output element.
    fn upsample_nearest2d(&self, d: &PoolDims) -> Result<Self>;
    /// Its gradient given the output gradient `self`: each `k × k` window summed; `d` has at
    /// least one input element.
    fn upsample_nearest2d_backward(&self, d: &PoolDims) -> Result<Self>;

    /// One Adam/AdamW update of parameter `self` and its moments `m`, `v` from gradient `g`.
    fn adam_step(&mut self, m: &mut Self, v: &mut Self, g: &Self, c: &AdamStep<T>) -> Result<()>;
    /// One SGD update of parameter `self` (and its momentum buffer) from gradient `g`.
    fn sgd_step(&mut self, momentum: Option<&mut Self>, g: &Self, c: &SgdStep<T>) -> Result<()>;
    /// The exponential moving average `self ← m·self + one_minus_m·source` (equal lengths), no
    /// gradient: a momentum teacher's update.
    fn ema_update(&mut self, source: &Self, m: T, one_minus_m: T) -> Result<()>;
}

/// [`BackendStorage::conv2d_relu_pool`] as its three kernels in turn.
pub(crate) fn conv2d_relu_pool_composed<T: Element, S: BackendStorage<T>>(
    x: &S,
    weight: &S,
    bias: Option<&S>,
    d: &ConvDims,
    pool: &PoolDims,
) -> Result<S> {
    x.conv2d(weight, bias, d)?
        .unary(UnaryOp::Relu)?
        .avg_pool2d(pool)
}

/// [`BackendStorage::conv2d_relu_pool_train`] as its three kernels in turn: `(pooled, act)`.
pub(crate) fn conv2d_relu_pool_train_composed<T: Element, S: BackendStorage<T>>(
    x: &S,
    weight: &S,
    bias: Option<&S>,
    d: &ConvDims,
    pool: &PoolDims,
) -> Result<(S, S)> {
    let act = x.conv2d(weight, bias, d)?.unary(UnaryOp::Relu)?;
    Ok((act.avg_pool2d(pool)?, act))
}
