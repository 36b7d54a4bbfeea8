//! Plain descriptions of the ops the backends compute: which operation, on which geometry. No
//! data and no device here — the [`Tensor`](crate::Tensor) methods check their operands and
//! build these, and every backend reads them.

use crate::error::{Error, Result};

/// A binary elementwise operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b`
    Div,
}

impl BinaryOp {
    /// The op's name in error messages.
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
        }
    }
}

/// A unary elementwise operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    /// `max(x, 0)`
    Relu,
    /// `e^x`
    Exp,
    /// `ln x`
    Ln,
    /// `√x`
    Sqrt,
    /// `-x`
    Neg,
    /// `1 / (1 + e^(−x))`, the logistic sigmoid
    Sigmoid,
    /// `x·Φ(x)`, `Φ` the standard normal CDF (exact GELU, `torch.nn.GELU()`'s default).
    Gelu,
}

impl UnaryOp {
    /// The op's name in error messages.
    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Relu => "relu",
            UnaryOp::Exp => "exp",
            UnaryOp::Ln => "ln",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Neg => "neg",
            UnaryOp::Sigmoid => "sigmoid",
            UnaryOp::Gelu => "gelu",
        }
    }
}

/// How a right operand broadcasts onto a left one (NumPy rules, right-aligned), as runs of
/// merged axes of the left shape: each run is either kept (the right operand has the full
/// length there) or broadcast (it has length 1). Axes of length 1 in both are dropped and
/// neighbouring runs of the same kind merged, so equal shapes give one kept run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Broadcast {
    /// `(elements of the run, kept)` from the outermost run in.
    pub runs: Vec<(usize, bool)>,
}

impl Broadcast {
    /// The runs of broadcasting `rhs` onto `lhs`, or the shape error naming `op`.
    pub(crate) fn new(op: &'static str, lhs: &[usize], rhs: &[usize]) -> Result<Broadcast> {
        let mismatch = || Error::shape(op, "right operand broadcastable to the left", &[lhs, rhs]);
        if rhs.len() > lhs.len() {
            return Err(mismatch());
        }
        let pad = lhs.len() - rhs.len();
        let mut runs: Vec<(usize, bool)> = Vec::new();
        for (i, &l) in lhs.iter().enumerate() {
            let r = if i < pad { 1 } else { rhs[i - pad] };
            if l == 1 && r == 1 {
                continue;
            }
            let kept = match (l == r, r == 1) {
                (true, _) => true,
                (false, true) => false,
                (false, false) => return Err(mismatch()),
            };
            match runs.last_mut() {
                Some((len, k)) if *k == kept => *len *= l,
                _ => runs.push((l, kept)),
            }
        }
        Ok(Broadcast { runs })
    }

    /// True when the right operand has the left one's shape (no axis is broadcast).
    pub(crate) fn is_elementwise(&self) -> bool {
        self.runs.iter().all(|r| r.1)
    }

    /// Elements of the right operand covered by `runs` (the product of kept runs).
    pub(crate) fn kept_len(runs: &[(usize, bool)]) -> usize {
        runs.iter().filter(|r| r.1).map(|r| r.0).product()
    }

    /// Elements of the left operand covered by `runs`.
    pub(crate) fn full_len(runs: &[(usize, bool)]) -> usize {
        runs.iter().map(|r| r.0).product()
    }
}

/// A tensor seen as a 3-D block `[outer, len, inner]` around one axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AxisSplit {
    /// Product of the axes before it.
    pub outer: usize,
    /// The axis' length.
    pub len: usize,
    /// Product of the axes after it.
    pub inner: usize,
}

/// The shapes of a batch of matrix products `C_z = op(A_z)·op(B_z)`, `C_z` `[m, n]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    pub(crate) fn single(m: usize, n: usize, k: usize, trans_a: bool, trans_b: bool) -> Self {
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

/// Stride and zero padding of a 2-D convolution (same in both spatial axes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dGeometry {
    /// Step between neighbouring output positions, in input pixels (≥ 1).
    pub stride: usize,
    /// Zero rows/columns added on every side of the input.
    pub padding: usize,
}

/// The most elements a convolution may have in one padded input image, in its output, or in
/// one image's im2col buffer (`C·KH·KW·OH·OW`): `u32::MAX` (32 GiB of f64), far above any real
/// layer, so that a huge padding or kernel gives an error instead of an allocation failure.
pub(crate) const MAX_CONV_ELEMENTS: usize = u32::MAX as usize;

/// The checked shapes of one convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConvDims {
    /// Images.
    pub n: usize,
    /// Input channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub co: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Stride.
    pub s: usize,
    /// Padding.
    pub p: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
}

impl ConvDims {
    /// The geometry of `x` `[N, C_in, H, W]` convolved with `wt` `[C_out, C_in, KH, KW]`, or
    /// the error naming `op` and both shapes (also when a padded image, the output or one
    /// image's im2col buffer would overflow or exceed [`MAX_CONV_ELEMENTS`]).
    pub(crate) fn new(
        op: &'static str,
        x: &[usize],
        wt: &[usize],
        geom: Conv2dGeometry,
    ) -> Result<ConvDims> {
        let (&[n, c, h, w], &[co, ci, kh, kw]) = (x, wt) else {
            return Err(Error::shape(
                op,
                "x [N, C_in, H, W] and weight [C_out, C_in, KH, KW]",
                &[x, wt],
            ));
        };
        if geom.stride == 0 {
            return Err(Error::invalid(op, "stride must be at least 1, got 0"));
        }
        if ci != c {
            return Err(Error::shape(
                op,
                "weight C_in equal to the input's channels",
                &[x, wt],
            ));
        }
        if c == 0 || h == 0 || w == 0 || co == 0 {
            return Err(Error::shape(
                op,
                "images of at least one channel, row and column, and at least one output channel",
                &[x, wt],
            ));
        }
        let p = geom.padding;
        let too_big = || {
            Error::shape(
                op,
                format!(
                    "padding {p} and kernel giving at most {MAX_CONV_ELEMENTS} elements per \
                     padded image, output or im2col buffer"
                ),
                &[x, wt],
            )
        };
        let padded = |edge: usize| p.checked_mul(2).and_then(|p2| edge.checked_add(p2));
        let (Some(hp), Some(wp)) = (padded(h), padded(w)) else {
            return Err(too_big());
        };
        if kh == 0 || kw == 0 || kh > hp || kw > wp {
            return Err(Error::shape(
                op,
                format!("a non-empty kernel no larger than the input padded by {p}"),
                &[x, wt],
            ));
        }
        let s = geom.stride;
        let (oh, ow) = ((hp - kh) / s + 1, (wp - kw) / s + 1);
        let within_cap = |factors: &[usize]| {
            factors
                .iter()
                .try_fold(1usize, |acc, &f| acc.checked_mul(f))
                .is_some_and(|e| e <= MAX_CONV_ELEMENTS)
        };
        if !within_cap(&[c, hp, wp])
            || !within_cap(&[n, co, oh, ow])
            || !within_cap(&[c, kh, kw, oh, ow])
        {
            return Err(too_big());
        }
        Ok(ConvDims {
            n,
            c,
            h,
            w,
            co,
            kh,
            kw,
            s,
            p,
            oh,
            ow,
        })
    }

    /// Elements of one input image.
    pub(crate) fn in_img(&self) -> usize {
        self.c * self.h * self.w
    }

    /// Elements of one output image.
    pub(crate) fn out_img(&self) -> usize {
        self.co * self.oh * self.ow
    }
}

/// The geometry of an average pooling (kernel = stride): planes (N·C), input H×W, output
/// OH×OW (floor), window edge k.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// The per-step constants of one Adam/AdamW update of one tensor, in PyTorch's operation order:
///
/// ```text
/// p ← p·shrink                     (decoupled)
/// g ← g + l2_wd·p                  (l2)
/// m ← lerp(m, g, 1 − β1)
/// v ← v·β2 + ((1 − β2)·g)·g
/// p ← p + neg_step_size·m / (√v / bc2_sqrt + eps)
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct AdamStep<T> {
    /// Decoupled weight decay: `p ← p·shrink` first.
    pub decoupled: bool,
    /// L2 weight decay: `g ← g + l2_wd·p`.
    pub l2: bool,
    /// `1 − lr·wd`.
    pub shrink: T,
    /// The L2 decay factor.
    pub l2_wd: T,
    /// `1 − β1`.
    pub one_minus_beta1: T,
    /// `β2`.
    pub beta2: T,
    /// `1 − β2`.
    pub one_minus_beta2: T,
    /// `√(1 − β2^step)`.
    pub bc2_sqrt: T,
    /// `−lr/(1 − β1^step)`.
    pub neg_step_size: T,
    /// `eps`.
    pub eps: T,
}

/// The per-step constants of one SGD update of one tensor, in PyTorch's operation order:
///
/// ```text
/// g ← g + wd·p                               (wd ≠ 0)
/// b ← g (first step) or b·momentum + one_minus_dampening·g   (with a momentum buffer)
/// d ← g + momentum·b (Nesterov) or b         (with a momentum buffer), else g
/// p ← p + neg_lr·d
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct SgdStep<T> {
    /// `−lr`.
    pub neg_lr: T,
    /// The L2 weight decay, `None` for none.
    pub weight_decay: Option<T>,
    /// The momentum factor (used only with a momentum buffer).
    pub momentum: T,
    /// `1 − dampening`.
    pub one_minus_dampening: T,
    /// The momentum buffer is fresh: this step sets it to the gradient.
    pub first: bool,
    /// Nesterov momentum.
    pub nesterov: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_runs_and_strides() {
        // [2, 3, 4] + [3, 1]: axis 0 broadcast, axis 1 kept, axis 2 broadcast.
        let b = Broadcast::new("add", &[2, 3, 4], &[3, 1]).unwrap();
        assert_eq!(b.runs, vec![(2, false), (3, true), (4, false)]);
        // Equal shapes merge into one kept run; size-1 axes drop out.
        let e = Broadcast::new("add", &[2, 1, 3], &[2, 1, 3]).unwrap();
        assert_eq!(e.runs, vec![(6, true)]);
        assert!(e.is_elementwise());
        // [4, 5, 6] * [5, 6]: the kept run merges across both inner axes.
        let r = Broadcast::new("mul", &[4, 5, 6], &[5, 6]).unwrap();
        assert_eq!(r.runs, vec![(4, false), (30, true)]);
        assert!(Broadcast::new("sub", &[2, 3], &[2]).is_err());
        assert!(Broadcast::new("sub", &[3], &[2, 3]).is_err());
    }

    #[test]
    fn conv_dims_refuse_huge_padding_without_overflow() {
        let geom = |padding| Conv2dGeometry { stride: 1, padding };
        let (x, wt) = ([1, 1, 4, 4], [1, 1, 3, 3]);
        // Padding 1: 4 + 2 − 3 + 1 = 4 output rows and columns.
        let ok = ConvDims::new("conv2d", &x, &wt, geom(1)).unwrap();
        assert_eq!((ok.oh, ok.ow), (4, 4));
        // 2^40: (4 + 2^41 − 2)² output elements overflow usize; 2^62 and usize::MAX overflow
        // `h + 2p` itself; 2^16: 131 074² ≈ 1.7e10 elements > u32::MAX (the cap).
        for p in [1 << 16, 1 << 40, 1 << 62, usize::MAX] {
            match ConvDims::new("conv2d", &x, &wt, geom(p)) {
                Err(Error::Shape { op, shapes, .. }) => {
                    assert_eq!(op, "conv2d");
                    assert_eq!(shapes, vec![x.to_vec(), wt.to_vec()]);
                }
                other => panic!("padding {p}: {other:?}"),
            }
        }
        // A huge kernel with a big padding: the padded image (70 001² ≈ 4.9e9) is over the cap.
        let big_kernel = [1, 1, 70_000, 70_000];
        assert!(ConvDims::new("conv2d", &[1, 1, 1, 1], &big_kernel, geom(35_000)).is_err());
    }
}
