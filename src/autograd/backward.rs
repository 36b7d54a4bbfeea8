//! The reverse pass: one `match` over [`Op`], each arm stating its derivative.

use super::{Graph, Op, ParamId, Var};
use crate::error::{Error, Result};
use crate::tensor::{BinaryOp, Element, Tensor, UnaryOp};
use std::collections::HashMap;

/// Gradients of a scalar loss with respect to the leaves of a graph that require them
/// (parameters). Gradients of intermediate nodes are freed during the pass.
#[derive(Debug)]
pub struct Grads<T: Element> {
    grads: Vec<Option<Tensor<T>>>,
    params: HashMap<ParamId, Var>,
}

impl<T: Element> Grads<T> {
    /// The gradient of a leaf node, if any gradient reached it.
    pub fn get(&self, v: Var) -> Option<&Tensor<T>> {
        self.grads.get(v.index()).and_then(|g| g.as_ref())
    }

    /// The gradient of a parameter, if the parameter was used and a gradient reached it.
    pub fn param(&self, id: ParamId) -> Option<&Tensor<T>> {
        self.params.get(&id).and_then(|&v| self.get(v))
    }
}

/// Adds `g` into the slot, taking ownership when the slot is empty.
fn accumulate<T: Element>(slot: &mut Option<Tensor<T>>, g: Tensor<T>) -> Result<()> {
    match slot {
        Some(acc) => acc.add_assign(&g)?,
        None => *slot = Some(g),
    }
    Ok(())
}

impl<T: Element> Graph<T> {
    /// Gradients of the one-element node `loss` with respect to every parameter that reaches it.
    pub fn backward(&self, loss: Var) -> Result<Grads<T>> {
        self.check_var("backward", loss)?;
        if !self.recording {
            return Err(Error::invalid(
                "backward",
                "the graph was built for inference and recorded no op",
            ));
        }
        let lv = self.value(loss);
        if lv.len() != 1 {
            return Err(Error::shape(
                "backward",
                "a one-element loss",
                &[lv.shape()],
            ));
        }
        let mut grads: Vec<Option<Tensor<T>>> = (0..self.nodes.len()).map(|_| None).collect();
        grads[loss.index()] = Some(Tensor::ones(lv.shape()).to_device(lv.device())?);
        for i in (0..=loss.index()).rev() {
            let node = &self.nodes[i];
            if matches!(node.op, Op::Leaf) {
                continue;
            }
            let Some(g) = grads[i].take() else { continue };
            for (input, gi) in self.input_grads(&node.op, &node.value, g)? {
                if self.nodes[input.index()].requires_grad {
                    accumulate(&mut grads[input.index()], gi)?;
                }
            }
        }
        Ok(Grads {
            grads,
            params: self.params.clone(),
        })
    }

    fn wants(&self, v: Var) -> bool {
        self.nodes[v.index()].requires_grad
    }

    /// The gradient contributions of one op to its inputs, given the gradient `g` of its output
    /// `out`.
    fn input_grads(
        &self,
        op: &Op<T>,
        out: &Tensor<T>,
        g: Tensor<T>,
    ) -> Result<Vec<(Var, Tensor<T>)>> {
        let val = |v: Var| self.value(v);
        let mut res = Vec::with_capacity(2);
        match op {
            Op::Leaf => {}
            // C = op(A)·op(B): d op(A) = G·op(B)ᵀ, d op(B) = op(A)ᵀ·G; a transposed operand
            // takes the transpose of that, folded into the GEMM flags (no copies).
            &Op::MatMul {
                a,
                b,
                trans_a,
                trans_b,
            } => {
                if self.wants(a) {
                    let ga = if trans_a {
                        val(b).matmul(&g, trans_b, true)? // dA = op(B)·Gᵀ
                    } else {
                        g.matmul(val(b), false, !trans_b)? // dA = G·op(B)ᵀ
                    };
                    res.push((a, ga));
                }
                if self.wants(b) {
                    let gb = if trans_b {
                        g.matmul(val(a), true, trans_a)? // dB = Gᵀ·op(A)
                    } else {
                        val(a).matmul(&g, !trans_a, false)? // dB = op(A)ᵀ·G
                    };
                    res.push((b, gb));
                }
            }
            // Broadcast b: its gradient is summed over the broadcast axes (sum_to_shape).
            &Op::Binary { a, b, op } => {
                let bshape = val(b).shape();
                let (ga, gb) = match op {
                    // d(a+b) = (g, g)
                    BinaryOp::Add => (g.clone(), g.sum_to_shape(bshape)?),
                    // d(a−b) = (g, −g)
                    BinaryOp::Sub => (g.clone(), g.sum_to_shape(bshape)?.map(UnaryOp::Neg)?),
                    // d(a·b) = (g·b, g·a)
                    BinaryOp::Mul => (g.mul(val(b))?, g.mul(val(a))?.sum_to_shape(bshape)?),
                    // d(a/b) = (g/b, −g·a/b² = −g·out/b)
                    BinaryOp::Div => {
                        let gb = g
                            .mul(out)?
                            .div(val(b))?
                            .sum_to_shape(bshape)?
                            .map(UnaryOp::Neg)?;
                        (g.div(val(b))?, gb)
                    }
                };
                res.push((a, ga));
                res.push((b, gb));
            }
            &Op::Scalar { a, s, op } => {
                let ga = match op {
                    // d(a ± s) = g
                    BinaryOp::Add | BinaryOp::Sub => g,
                    // d(a·s) = g·s
                    BinaryOp::Mul => g.mul_scalar(s)?,
                    // d(a/s) = g/s
                    BinaryOp::Div => g.scalar_op(s, BinaryOp::Div)?,
                };
                res.push((a, ga));
            }
            &Op::Unary { a, op } => {
                let ga = match op {
                    // relu' = 1 where out > 0
                    UnaryOp::Relu => out.relu_backward(g)?,
                    // (e^a)' = e^a = out
                    UnaryOp::Exp => g.mul(out)?,
                    // (ln a)' = 1/a
                    UnaryOp::Ln => g.div(val(a))?,
                    // (√a)' = 1/(2√a) = 1/(2·out)
                    UnaryOp::Sqrt => g.div(out)?.mul_scalar(T::from_f64(0.5))?,
                    // (−a)' = −1
                    UnaryOp::Neg => g.map(UnaryOp::Neg)?,
                    // σ' = σ·(1 − σ) = out − out²
                    UnaryOp::Sigmoid => g.mul(&out.sub(&out.mul(out)?)?)?,
                    // gelu'(a) = Φ(a) + a·φ(a)
                    UnaryOp::Gelu => val(a).gelu_backward(g)?,
                };
                res.push((a, ga));
            }
            // A sum's gradient is g broadcast back over the summed axes.
            &Op::Sum { a } => res.push((a, val(a).zeros_like_on(val(a).shape())?.add(&g)?)),
            &Op::Reshape { a } => res.push((a, g.reshape(val(a).shape())?)),
            // Each part gets its own range of g.
            Op::Concat { parts, axis } => {
                let mut start = 0;
                for &p in parts {
                    let len = val(p).shape()[*axis];
                    if self.wants(p) {
                        res.push((p, g.slice(*axis, start, start + len)?));
                    }
                    start += len;
                }
            }
            // g is placed back into its range, zeros elsewhere.
            &Op::Slice { a, axis, start } => {
                let shape = val(a).shape();
                let mut before = shape.to_vec();
                before[axis] = start;
                let mut after = shape.to_vec();
                after[axis] = shape[axis] - start - g.shape()[axis];
                let (z0, z1) = (
                    val(a).zeros_like_on(&before)?,
                    val(a).zeros_like_on(&after)?,
                );
                res.push((a, Tensor::concat(&[&z0, &g, &z1], axis)?));
            }
            &Op::Transpose { a } => res.push((a, g.transpose()?)),
            // Conv: dW = G·colsᵀ, dx = col2im(Wᵀ·G), db = Σ G (in the conv kernel).
            &Op::Conv2d { x, w, b, geom } => {
                let (gx, gw, gb) = val(x).conv2d_backward(val(w), &g, geom, self.wants(x))?;
                if let Some(gx) = gx {
                    res.push((x, gx));
                }
                res.push((w, gw));
                if let Some(b) = b {
                    res.push((b, gb));
                }
            }
            // y = pool(relu(conv(x))): dconv = relu'·(g/k² over each window), then as Conv2d.
            Op::Conv2dReluPool {
                x,
                w,
                b,
                geom,
                k,
                act,
            } => {
                let (x, w, b) = (*x, *w, *b);
                let (gx, gw, gb) =
                    val(x).conv2d_relu_pool_backward(val(w), act, &g, *geom, *k, self.wants(x))?;
                if let Some(gx) = gx {
                    res.push((x, gx));
                }
                res.push((w, gw));
                if let Some(b) = b {
                    res.push((b, gb));
                }
            }
            // Each input of a window gets g/k².
            &Op::AvgPool2d { x, k } => {
                res.push((x, Tensor::avg_pool2d_backward(&g, val(x).shape(), k)?))
            }
            // Each input gets the sum of the gradients of its k×k copies.
            &Op::UpsampleNearest2d { x, k } => res.push((
                x,
                Tensor::upsample_nearest2d_backward(&g, val(x).shape(), k)?,
            )),
            // y = x/n, n = ‖x‖: dx = (g − y·(g·y))/n; a clamped row has constant n = eps: dx = g/eps.
            Op::L2NormalizeRows { a, norms } => {
                let eps = T::from_f64(super::ops::NORMALIZE_EPS);
                res.push((*a, out.l2_normalize_rows_backward(norms, eps, g)?))
            }
            // d lse_i / d x_ij = softmax_ij = e^(x_ij − lse_i)
            &Op::LogSumExpRows { a } => res.push((a, val(a).logsumexp_rows_backward(out, &g)?)),
            // y = x − lse: dx_ij = g_ij − softmax_ij·Σ_k g_ik, softmax = e^y
            &Op::LogSoftmaxRows { a } => res.push((a, out.log_softmax_rows_backward(g)?)),
            // Filled elements are constants: no gradient.
            Op::MaskedFill { a, mask } => res.push((*a, Tensor::zero_where(g, mask)?)),
            // Scatter-add each picked row's gradient back to its source row.
            Op::GatherRows { a, indices } => {
                res.push((*a, g.scatter_add_rows(indices, val(*a).shape())?))
            }
        }
        Ok(res)
    }
}
