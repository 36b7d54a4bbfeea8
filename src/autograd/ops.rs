//! The differentiable operations, as methods of [`Graph`]: each computes its value through a
//! [`Tensor`] method and records an [`Op`]. Composite ops (cosine-similarity matrix, mean) are
//! built from primitives so they need no backward of their own.

use super::{Graph, Op, Var};
use crate::error::{Error, Result};
use crate::tensor::Conv2dGeometry;
use crate::tensor::{BinaryOp, Element, Tensor, UnaryOp};

/// `eps` of `torch.nn.functional.normalize`.
pub const NORMALIZE_EPS: f64 = 1e-12;

impl<T: Element> Graph<T> {
    /// `op(a) · op(b)` for 2-D `a`, `b`; `trans_a`/`trans_b` use the operand transposed
    /// without copying it.
    pub fn matmul_t(&mut self, a: Var, b: Var, trans_a: bool, trans_b: bool) -> Result<Var> {
        self.check_var("matmul", a)?;
        self.check_var("matmul", b)?;
        let value = self.value(a).matmul(self.value(b), trans_a, trans_b)?;
        Ok(self.record(
            value,
            Op::MatMul {
                a,
                b,
                trans_a,
                trans_b,
            },
            &[a, b],
        ))
    }

    /// `a · b`.
    pub fn matmul(&mut self, a: Var, b: Var) -> Result<Var> {
        self.matmul_t(a, b, false, false)
    }

    /// `a op b`, `b` broadcast onto `a` (NumPy rules, right-aligned).
    pub fn binary(&mut self, a: Var, b: Var, op: BinaryOp) -> Result<Var> {
        self.check_var("binary", a)?;
        self.check_var("binary", b)?;
        let value = self.value(a).binary(self.value(b), op)?;
        Ok(self.record(value, Op::Binary { a, b, op }, &[a, b]))
    }

    /// `a + b` with broadcasting.
    pub fn add(&mut self, a: Var, b: Var) -> Result<Var> {
        self.binary(a, b, BinaryOp::Add)
    }

    /// `a − b` with broadcasting.
    pub fn sub(&mut self, a: Var, b: Var) -> Result<Var> {
        self.binary(a, b, BinaryOp::Sub)
    }

    /// `a ⊙ b` with broadcasting.
    pub fn mul(&mut self, a: Var, b: Var) -> Result<Var> {
        self.binary(a, b, BinaryOp::Mul)
    }

    /// `a ⊘ b` with broadcasting.
    pub fn div(&mut self, a: Var, b: Var) -> Result<Var> {
        self.binary(a, b, BinaryOp::Div)
    }

    /// `a op s` for a constant `s`.
    pub fn scalar(&mut self, a: Var, s: T, op: BinaryOp) -> Result<Var> {
        self.check_var("scalar", a)?;
        let value = self.value(a).scalar_op(s, op)?;
        Ok(self.record(value, Op::Scalar { a, s, op }, &[a]))
    }

    /// `a + s`.
    pub fn add_scalar(&mut self, a: Var, s: T) -> Result<Var> {
        self.scalar(a, s, BinaryOp::Add)
    }

    /// `a · s`.
    pub fn mul_scalar(&mut self, a: Var, s: T) -> Result<Var> {
        self.scalar(a, s, BinaryOp::Mul)
    }

    /// An elementwise function.
    pub fn unary(&mut self, a: Var, op: UnaryOp) -> Result<Var> {
        self.check_var("unary", a)?;
        let value = self.value(a).map(op)?;
        Ok(self.record(value, Op::Unary { a, op }, &[a]))
    }

    /// `max(a, 0)`.
    pub fn relu(&mut self, a: Var) -> Result<Var> {
        self.unary(a, UnaryOp::Relu)
    }

    /// `e^a`.
    pub fn exp(&mut self, a: Var) -> Result<Var> {
        self.unary(a, UnaryOp::Exp)
    }

    /// `ln a`.
    pub fn ln(&mut self, a: Var) -> Result<Var> {
        self.unary(a, UnaryOp::Ln)
    }

    /// `√a`.
    pub fn sqrt(&mut self, a: Var) -> Result<Var> {
        self.unary(a, UnaryOp::Sqrt)
    }

    /// `−a`.
    pub fn neg(&mut self, a: Var) -> Result<Var> {
        self.unary(a, UnaryOp::Neg)
    }

    /// Elementwise logistic sigmoid `1 / (1 + e^(−a))`.
    pub fn sigmoid(&mut self, a: Var) -> Result<Var> {
        self.unary(a, UnaryOp::Sigmoid)
    }

    /// `a·Φ(a)`, the exact GELU (`torch.nn.GELU()`).
    pub fn gelu(&mut self, a: Var) -> Result<Var> {
        self.unary(a, UnaryOp::Gelu)
    }

    /// Sum along `axis`, keeping it with length 1.
    pub fn sum_axis(&mut self, a: Var, axis: usize) -> Result<Var> {
        self.check_var("sum_axis", a)?;
        let value = self.value(a).sum_axis(axis)?;
        Ok(self.record(value, Op::Sum { a }, &[a]))
    }

    /// Sum of every element (a 0-d result).
    pub fn sum(&mut self, a: Var) -> Result<Var> {
        self.check_var("sum", a)?;
        let value = self.value(a).sum_all()?;
        Ok(self.record(value, Op::Sum { a }, &[a]))
    }

    /// Mean along `axis`, keeping it with length 1.
    pub fn mean_axis(&mut self, a: Var, axis: usize) -> Result<Var> {
        let n = *self.value(a).shape().get(axis).ok_or_else(|| {
            Error::invalid(
                "mean_axis",
                format!(
                    "axis {axis} out of range for shape {:?}",
                    self.value(a).shape()
                ),
            )
        })?;
        let s = self.sum_axis(a, axis)?;
        self.scalar(s, T::from_usize(n), BinaryOp::Div)
    }

    /// Mean of every element (a 0-d result).
    pub fn mean(&mut self, a: Var) -> Result<Var> {
        self.check_var("mean", a)?;
        let n = self.value(a).len();
        if n == 0 {
            return Err(Error::shape(
                "mean",
                "a non-empty tensor",
                &[self.value(a).shape()],
            ));
        }
        let s = self.sum(a)?;
        self.scalar(s, T::from_usize(n), BinaryOp::Div)
    }

    /// The same elements under `shape`.
    pub fn reshape(&mut self, a: Var, shape: &[usize]) -> Result<Var> {
        self.check_var("reshape", a)?;
        let value = self.value(a).reshape(shape)?;
        Ok(self.record(value, Op::Reshape { a }, &[a]))
    }

    /// `[N, d1, d2, ...]` → `[N, d1·d2·...]`.
    pub fn flatten(&mut self, a: Var) -> Result<Var> {
        self.check_var("flatten", a)?;
        let shape = self.value(a).shape();
        let Some(&n) = shape.first() else {
            return Err(Error::shape("flatten", "at least 1 axis", &[shape]));
        };
        let rest = shape[1..].iter().product();
        self.reshape(a, &[n, rest])
    }

    /// Concatenation along `axis`.
    pub fn concat(&mut self, parts: &[Var], axis: usize) -> Result<Var> {
        for &p in parts {
            self.check_var("concat", p)?;
        }
        let values: Vec<&Tensor<T>> = parts.iter().map(|&p| self.value(p)).collect();
        let value = Tensor::concat(&values, axis)?;
        Ok(self.record(
            value,
            Op::Concat {
                parts: parts.to_vec(),
                axis,
            },
            parts,
        ))
    }

    /// `start..end` along `axis`.
    pub fn slice(&mut self, a: Var, axis: usize, start: usize, end: usize) -> Result<Var> {
        self.check_var("slice", a)?;
        let value = self.value(a).slice(axis, start, end)?;
        Ok(self.record(value, Op::Slice { a, axis, start }, &[a]))
    }

    /// Transpose of a matrix.
    pub fn transpose(&mut self, a: Var) -> Result<Var> {
        self.check_var("transpose", a)?;
        let value = self.value(a).transpose()?;
        Ok(self.record(value, Op::Transpose { a }, &[a]))
    }

    /// 2-D convolution of `x` `[N, C, H, W]` with `w` `[O, C, KH, KW]`, plus optional bias `[O]`.
    pub fn conv2d(&mut self, x: Var, w: Var, b: Option<Var>, geom: Conv2dGeometry) -> Result<Var> {
        self.check_var("conv2d", x)?;
        self.check_var("conv2d", w)?;
        let mut inputs = vec![x, w];
        if let Some(b) = b {
            self.check_var("conv2d", b)?;
            inputs.push(b);
        }
        let value = self
            .value(x)
            .conv2d(self.value(w), b.map(|b| self.value(b)), geom)?;
        Ok(self.record(value, Op::Conv2d { x, w, b, geom }, &inputs))
    }

    /// `avg_pool2d(relu(conv2d(x, w, b)), k)`, one op on the tape with the bits of the three.
    /// When the graph records and an input needs a gradient, it keeps the relu output for the
    /// backward pass; otherwise (inference: embedding, validation) one fused kernel computes
    /// the pooled output without the full-size intermediates.
    pub fn conv2d_relu_pool(
        &mut self,
        x: Var,
        w: Var,
        b: Option<Var>,
        geom: Conv2dGeometry,
        k: usize,
    ) -> Result<Var> {
        let inputs: Vec<Var> = [x, w].into_iter().chain(b).collect();
        for &v in &inputs {
            self.check_var("conv2d_relu_pool", v)?;
        }
        if self.recording && inputs.iter().any(|v| self.nodes[v.0].requires_grad) {
            let (value, act) = self.value(x).conv2d_relu_pool_train(
                self.value(w),
                b.map(|b| self.value(b)),
                geom,
                k,
            )?;
            let op = Op::Conv2dReluPool {
                x,
                w,
                b,
                geom,
                k,
                act,
            };
            return Ok(self.record(value, op, &inputs));
        }
        let value =
            self.value(x)
                .conv2d_relu_pool(self.value(w), b.map(|b| self.value(b)), geom, k)?;
        Ok(self.record(value, Op::Leaf, &inputs))
    }

    /// Average pooling with kernel = stride = `k`.
    pub fn avg_pool2d(&mut self, x: Var, k: usize) -> Result<Var> {
        self.check_var("avg_pool2d", x)?;
        let value = self.value(x).avg_pool2d(k)?;
        Ok(self.record(value, Op::AvgPool2d { x, k }, &[x]))
    }

    /// Nearest-neighbour upsampling of `[N, C, H, W]` by `k` into `[N, C, k·H, k·W]`.
    pub fn upsample_nearest2d(&mut self, x: Var, k: usize) -> Result<Var> {
        self.check_var("upsample_nearest2d", x)?;
        let value = self.value(x).upsample_nearest2d(k)?;
        Ok(self.record(value, Op::UpsampleNearest2d { x, k }, &[x]))
    }

    /// Each row divided by `max(‖row‖₂, 1e-12)` (`F.normalize(a, dim=1)`).
    pub fn l2_normalize_rows(&mut self, a: Var) -> Result<Var> {
        self.check_var("l2_normalize_rows", a)?;
        let eps = T::from_f64(NORMALIZE_EPS);
        let (value, norms) = self.value(a).l2_normalize_rows(eps)?;
        Ok(self.record(value, Op::L2NormalizeRows { a, norms }, &[a]))
    }

    /// Weight normalisation (`torch.nn.utils.weight_norm(linear, dim=0)`): the weight
    /// `W[o, :] = g[o]·v[o, :]/‖v[o, :]‖` from direction `v` `[out, in]` and magnitude `g`
    /// `[out, 1]`, composed as `normalize(v) ⊙ g` (broadcast over the columns). The norm is
    /// clamped at 1e-12 as in [`Graph::l2_normalize_rows`]; PyTorch's is not, which differs
    /// only for an all-zero row of `v` (PyTorch gives NaN there).
    pub fn weight_norm(&mut self, v: Var, g: Var) -> Result<Var> {
        self.check_var("weight_norm", v)?;
        self.check_var("weight_norm", g)?;
        let (vs, gs) = (self.value(v).shape(), self.value(g).shape());
        if vs.len() != 2 || gs != [vs[0], 1] {
            return Err(Error::shape(
                "weight_norm",
                "direction v [out, in] and magnitude g [out, 1]",
                &[vs, gs],
            ));
        }
        let dir = self.l2_normalize_rows(v)?;
        self.mul(dir, g)
    }

    /// Pairwise cosine similarities of the rows of `a` `[n, d]` and `b` `[m, d]`: `[n, m]`,
    /// composed as `normalize(a) · normalize(b)ᵀ`.
    pub fn cosine_similarity_matrix(&mut self, a: Var, b: Var) -> Result<Var> {
        let na = self.l2_normalize_rows(a)?;
        let nb = if a == b {
            na
        } else {
            self.l2_normalize_rows(b)?
        };
        self.matmul_t(na, nb, false, true)
    }

    /// Row-wise `log Σ_j e^{a_ij}`, shape `[n, 1]`.
    pub fn logsumexp_rows(&mut self, a: Var) -> Result<Var> {
        self.check_var("logsumexp_rows", a)?;
        let value = self.value(a).logsumexp_rows()?;
        Ok(self.record(value, Op::LogSumExpRows { a }, &[a]))
    }

    /// Row-wise log-softmax.
    pub fn log_softmax_rows(&mut self, a: Var) -> Result<Var> {
        self.check_var("log_softmax_rows", a)?;
        let value = self.value(a).log_softmax_rows()?;
        Ok(self.record(value, Op::LogSoftmaxRows { a }, &[a]))
    }

    /// Elements where `mask` is true replaced by `value` (one flag per element, row-major).
    pub fn masked_fill(&mut self, a: Var, mask: &[bool], value: T) -> Result<Var> {
        self.check_var("masked_fill", a)?;
        let out = self.value(a).masked_fill(mask, value)?;
        Ok(self.record(
            out,
            Op::MaskedFill {
                a,
                mask: mask.to_vec(),
            },
            &[a],
        ))
    }

    /// Rows `indices` of `a` (first axis), repeats allowed.
    pub fn gather_rows(&mut self, a: Var, indices: &[usize]) -> Result<Var> {
        self.check_var("gather_rows", a)?;
        let value = self.value(a).gather_rows(indices)?;
        Ok(self.record(
            value,
            Op::GatherRows {
                a,
                indices: indices.to_vec(),
            },
            &[a],
        ))
    }
}
