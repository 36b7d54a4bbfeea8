//! The CPU backend: host storage, and [`BackendStorage`] implemented by kernels on slices (one
//! file per family). Parallelism is rayon over chunks of fixed size, so every result is
//! bit-identical for any `RAYON_NUM_THREADS`.

pub(crate) mod conv;
mod direct;
pub(crate) mod elementwise;
mod fused;
mod gelu;
pub mod gemm;
mod lanes;
mod layout;
mod optim;
mod pool;
pub(crate) mod reduce;
mod rows;
mod upsample;

use crate::backend::op::{
    AdamStep, AxisSplit, BinaryOp, Broadcast, ConvDims, GemmDims, PoolDims, SgdStep, UnaryOp,
};
use crate::backend::BackendStorage;
use crate::backend::Element;
use crate::error::Result;
use reduce::Reduce;

/// Elements per rayon task in elementwise and reduction kernels. Fixed, so the split (and any
/// reduction order) does not depend on the number of threads.
pub(crate) const PAR_CHUNK: usize = 1 << 15;

/// A tensor's elements in host memory.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CpuStorage<T: Element> {
    data: Vec<T>,
}

impl<T: Element> CpuStorage<T> {
    /// Storage holding `data`.
    pub(crate) fn new(data: Vec<T>) -> Self {
        CpuStorage { data }
    }

    /// The elements.
    pub(crate) fn as_slice(&self) -> &[T] {
        &self.data
    }

    /// The elements, mutably.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// The elements, by value.
    pub(crate) fn into_vec(self) -> Vec<T> {
        self.data
    }
}

impl<T: Element> BackendStorage<T> for CpuStorage<T> {
    fn len(&self) -> usize {
        self.data.len()
    }

    fn to_host(&self) -> Result<Vec<T>> {
        Ok(self.data.clone())
    }

    fn zeros(&self, len: usize) -> Result<Self> {
        Ok(Self::new(vec![T::ZERO; len]))
    }

    fn binary(&self, rhs: &Self, op: BinaryOp, b: &Broadcast) -> Result<Self> {
        Ok(Self::new(elementwise::binary(&self.data, &rhs.data, op, b)))
    }

    fn scalar(&self, s: T, op: BinaryOp) -> Result<Self> {
        Ok(Self::new(elementwise::scalar(&self.data, s, op)))
    }

    fn unary(&self, op: UnaryOp) -> Result<Self> {
        Ok(Self::new(elementwise::unary(&self.data, op)))
    }

    fn add_assign(&mut self, g: &Self) -> Result<()> {
        elementwise::add_assign(&mut self.data, &g.data);
        Ok(())
    }

    fn sum_to_shape(&self, b: &Broadcast, out_len: usize) -> Result<Self> {
        Ok(Self::new(elementwise::sum_to_shape(&self.data, b, out_len)))
    }

    fn sum_axis(&self, split: AxisSplit) -> Result<Self> {
        Ok(Self::new(reduce::reduce_axis(
            &self.data,
            split,
            Reduce::Sum,
        )))
    }

    fn max_axis(&self, split: AxisSplit) -> Result<Self> {
        Ok(Self::new(reduce::reduce_axis(
            &self.data,
            split,
            Reduce::Max,
        )))
    }

    fn sum_all(&self) -> Result<Self> {
        Ok(Self::new(vec![reduce::sum_all(&self.data)]))
    }

    fn transpose(&self, rows: usize, cols: usize) -> Result<Self> {
        Ok(Self::new(layout::transpose(&self.data, rows, cols)))
    }

    fn concat(parts: &[&Self], outer: usize, lens: &[usize], inner: usize) -> Result<Self> {
        let slices: Vec<&[T]> = parts.iter().map(|p| p.as_slice()).collect();
        Ok(Self::new(layout::concat(&slices, outer, lens, inner)))
    }

    fn slice(&self, split: AxisSplit, start: usize, end: usize) -> Result<Self> {
        Ok(Self::new(layout::slice(&self.data, split, start, end)))
    }

    fn gather_rows(&self, indices: &[usize], inner: usize) -> Result<Self> {
        Ok(Self::new(layout::gather_rows(&self.data, indices, inner)))
    }

    fn scatter_add_rows(&self, indices: &[usize], inner: usize, rows: usize) -> Result<Self> {
        Ok(Self::new(fused::scatter_add_rows(
            &self.data, indices, inner, rows,
        )))
    }

    fn matmul(&self, rhs: &Self, d: GemmDims) -> Result<Self> {
        Ok(Self::new(layout::matmul(&self.data, &rhs.data, d)))
    }

    fn logsumexp_rows(&self, rows: usize, d: usize) -> Result<Self> {
        Ok(Self::new(rows::logsumexp_rows(&self.data, rows, d)))
    }

    fn logsumexp_rows_backward(
        &self,
        lse: &Self,
        g: &Self,
        _rows: usize,
        d: usize,
    ) -> Result<Self> {
        Ok(Self::new(fused::logsumexp_rows_backward(
            &self.data, &lse.data, &g.data, d,
        )))
    }

    fn log_softmax_rows(&self, _rows: usize, d: usize) -> Result<Self> {
        Ok(Self::new(rows::log_softmax_rows(&self.data, d)))
    }

    fn log_softmax_rows_backward(&self, mut g: Self, _rows: usize, d: usize) -> Result<Self> {
        fused::log_softmax_rows_backward(&self.data, &mut g.data, d);
        Ok(g)
    }

    fn l2_normalize_rows(&self, rows: usize, d: usize, eps: T) -> Result<(Self, Self)> {
        let (y, norms) = rows::l2_normalize_rows(&self.data, rows, d, eps);
        Ok((Self::new(y), Self::new(norms)))
    }

    fn l2_normalize_rows_backward(
        &self,
        norms: &Self,
        eps: T,
        mut g: Self,
        _rows: usize,
        d: usize,
    ) -> Result<Self> {
        fused::l2_normalize_rows_backward(&self.data, &norms.data, eps, &mut g.data, d);
        Ok(g)
    }

    fn gelu_backward(&self, mut g: Self) -> Result<Self> {
        gelu::gelu_backward(&self.data, &mut g.data);
        Ok(g)
    }

    fn relu_backward(&self, mut g: Self) -> Result<Self> {
        fused::relu_backward(&self.data, &mut g.data);
        Ok(g)
    }

    fn masked_fill(mut self, mask: &[bool], value: T) -> Result<Self> {
        fused::masked_fill(&mut self.data, mask, value);
        Ok(self)
    }

    fn conv2d(&self, weight: &Self, bias: Option<&Self>, d: &ConvDims) -> Result<Self> {
        let bias = bias.map(|b| b.as_slice());
        Ok(Self::new(conv::conv2d(&self.data, &weight.data, bias, d)))
    }

    fn conv2d_relu_pool(
        &self,
        weight: &Self,
        bias: Option<&Self>,
        d: &ConvDims,
        pool: &PoolDims,
    ) -> Result<Self> {
        let b = bias.map(|b| b.as_slice());
        if pool.k == 2 {
            if let Some(out) = conv::conv2d_relu_pool2(&self.data, &weight.data, b, d) {
                return Ok(Self::new(out));
            }
        }
        crate::backend::conv2d_relu_pool_composed(self, weight, bias, d, pool)
    }

    fn conv2d_relu_pool_train(
        &self,
        weight: &Self,
        bias: Option<&Self>,
        d: &ConvDims,
        pool: &PoolDims,
    ) -> Result<(Self, Self)> {
        let b = bias.map(|b| b.as_slice());
        if pool.k == 2 {
            if let Some((out, act)) = conv::conv2d_relu_pool2_keep(&self.data, &weight.data, b, d) {
                return Ok((Self::new(out), Self::new(act)));
            }
        }
        crate::backend::conv2d_relu_pool_train_composed(self, weight, bias, d, pool)
    }

    fn conv2d_relu_pool_backward(
        &self,
        weight: &Self,
        act: &Self,
        g: &Self,
        d: &ConvDims,
        pool: &PoolDims,
        need_input_grad: bool,
    ) -> Result<(Option<Self>, Self, Self)> {
        if pool.k == 2 {
            let (x, w) = (&self.data, &weight.data);
            let fused =
                conv::conv2d_relu_pool2_backward(x, w, &act.data, &g.data, d, need_input_grad);
            if let Some((gx, gw, gb)) = fused {
                return Ok((gx.map(Self::new), Self::new(gw), Self::new(gb)));
            }
        }
        let go = pool::avg_pool2d_relu_backward(&act.data, &g.data, pool);
        let (gx, gw, gb) = conv::conv2d_backward(&self.data, &weight.data, &go, d, need_input_grad);
        Ok((gx.map(Self::new), Self::new(gw), Self::new(gb)))
    }

    fn conv2d_backward(
        &self,
        weight: &Self,
        grad_out: &Self,
        d: &ConvDims,
        need_input_grad: bool,
    ) -> Result<(Option<Self>, Self, Self)> {
        let (gx, gw, gb) =
            conv::conv2d_backward(&self.data, &weight.data, &grad_out.data, d, need_input_grad);
        Ok((gx.map(Self::new), Self::new(gw), Self::new(gb)))
    }

    fn avg_pool2d(&self, d: &PoolDims) -> Result<Self> {
        Ok(Self::new(pool::avg_pool2d(&self.data, d)))
    }

    fn avg_pool2d_backward(&self, d: &PoolDims) -> Result<Self> {
        Ok(Self::new(pool::avg_pool2d_backward(&self.data, d)))
    }

    fn upsample_nearest2d(&self, d: &PoolDims) -> Result<Self> {
        Ok(Self::new(upsample::upsample_nearest2d(&self.data, d)))
    }

    fn upsample_nearest2d_backward(&self, d: &PoolDims) -> Result<Self> {
        Ok(Self::new(upsample::upsample_nearest2d_backward(
            &self.data, d,
        )))
    }

    fn adam_step(&mut self, m: &mut Self, v: &mut Self, g: &Self, c: &AdamStep<T>) -> Result<()> {
        optim::adam_step(&mut self.data, &mut m.data, &mut v.data, &g.data, c);
        Ok(())
    }

    fn sgd_step(&mut self, momentum: Option<&mut Self>, g: &Self, c: &SgdStep<T>) -> Result<()> {
        let buf = momentum.map(|b| b.data.as_mut_slice());
        optim::sgd_step(&mut self.data, buf, &g.data, c);
        Ok(())
    }

    fn ema_update(&mut self, source: &Self, m: T, one_minus_m: T) -> Result<()> {
        optim::ema_update(&mut self.data, &source.data, m, one_minus_m);
        Ok(())
    }
}
