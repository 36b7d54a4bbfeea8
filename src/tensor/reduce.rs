//! Reductions along an axis and over all elements, on `wide` lanes, in a fixed order.

use super::{Element, Lanes, Tensor, PAR_CHUNK};
use crate::error::Result;
use rayon::prelude::*;

/// Sum of a slice: lane-wise partial sums, then the lanes in order, then the tail. The order
/// depends only on the length, never on threads.
pub(crate) fn sum_slice<T: Element>(x: &[T]) -> T {
    let w = T::Lanes::WIDTH;
    let body = x.len() / w * w;
    let mut acc = T::Lanes::splat(T::ZERO);
    for i in (0..body).step_by(w) {
        acc = acc + T::Lanes::load(&x[i..]);
    }
    x[body..].iter().fold(acc.reduce_sum(), |s, &v| s + v)
}

/// Maximum of a non-empty slice (NaN-propagating).
pub(crate) fn max_slice<T: Element>(x: &[T]) -> T {
    x.iter()
        .fold(x[0], |m, &v| if v > m || v.is_nan() { v } else { m })
}

/// Which reduction an axis kernel computes.
#[derive(Clone, Copy)]
enum Reduce {
    Sum,
    Max,
}

impl<T: Element> Tensor<T> {
    fn reduce_axis(&self, axis: usize, how: Reduce, op: &'static str) -> Result<Tensor<T>> {
        let (outer, len, inner) = self.around_axis(op, axis)?;
        if len == 0 {
            return Err(crate::error::Error::shape(
                op,
                "a non-empty axis",
                &[self.shape()],
            ));
        }
        let mut shape = self.shape().to_vec();
        shape[axis] = 1;
        let mut out = vec![T::ZERO; outer * inner];
        let x = self.data();
        // One output block of `inner` values per outer index; blocks are independent.
        let per_task = (PAR_CHUNK / (len * inner).max(1)).max(1);
        out.par_chunks_mut(inner * per_task)
            .enumerate()
            .for_each(|(t, block)| {
                for (j, o) in block.chunks_mut(inner).enumerate() {
                    let base = (t * per_task + j) * len * inner;
                    let src = &x[base..base + len * inner];
                    match (how, inner) {
                        (Reduce::Sum, 1) => o[0] = sum_slice(src),
                        (Reduce::Max, 1) => o[0] = max_slice(src),
                        (Reduce::Sum, _) => {
                            for row in src.chunks(inner) {
                                super::elementwise::binary_inplace_add(o, row);
                            }
                        }
                        (Reduce::Max, _) => {
                            o.copy_from_slice(&src[..inner]);
                            for row in src.chunks(inner).skip(1) {
                                for (m, &v) in o.iter_mut().zip(row) {
                                    if v > *m || v.is_nan() {
                                        *m = v;
                                    }
                                }
                            }
                        }
                    }
                }
            });
        Tensor::from_vec(out, &shape)
    }

    /// Sum along `axis`, keeping it with length 1.
    pub fn sum_axis(&self, axis: usize) -> Result<Tensor<T>> {
        #[cfg(feature = "gpu")]
        if super::on_gpu(&[self]) {
            let dims = self.around_axis("sum_axis", axis)?;
            let mut shape = self.shape().to_vec();
            shape[axis] = 1;
            return crate::gpu::ops::sum_axis(self, dims, &shape);
        }
        self.reduce_axis(axis, Reduce::Sum, "sum_axis")
    }

    /// Mean along `axis`, keeping it with length 1.
    pub fn mean_axis(&self, axis: usize) -> Result<Tensor<T>> {
        let n = T::from_usize(*self.shape().get(axis).unwrap_or(&1));
        Ok(self.sum_axis(axis)?.scalar_op(n, super::BinaryOp::Div))
    }

    /// Maximum along `axis`, keeping it with length 1 (NaN wins, as in PyTorch).
    pub fn max_axis(&self, axis: usize) -> Result<Tensor<T>> {
        self.reduce_axis(axis, Reduce::Max, "max_axis")
    }

    /// Sum of all elements: fixed [`PAR_CHUNK`] partial sums added in chunk order.
    pub fn sum_all(&self) -> T {
        let partials: Vec<T> = self.data().par_chunks(PAR_CHUNK).map(sum_slice).collect();
        partials.into_iter().fold(T::ZERO, |a, b| a + b)
    }

    /// Sum of all elements as a 0-d tensor on the tensor's device (no read back from a GPU).
    pub fn sum_all_tensor(&self) -> Tensor<T> {
        #[cfg(feature = "gpu")]
        if super::on_gpu(&[self]) {
            return super::device_result(crate::gpu::ops::sum_all(self));
        }
        Tensor::scalar(self.sum_all())
    }

    /// Mean of all elements (NaN for an empty tensor).
    pub fn mean_all(&self) -> T {
        self.sum_all() / T::from_usize(self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_reductions_keep_the_axis() {
        let a = Tensor::from_vec((0..24).map(|v| v as f64).collect(), &[2, 3, 4]).unwrap();
        let s = a.sum_axis(1).unwrap();
        assert_eq!(s.shape(), &[2, 1, 4]);
        assert_eq!(s.data()[..4], [12., 15., 18., 21.]);
        let m = a.max_axis(2).unwrap();
        assert_eq!(m.shape(), &[2, 3, 1]);
        assert_eq!(m.data(), &[3., 7., 11., 15., 19., 23.]);
        assert_eq!(a.mean_axis(0).unwrap().data()[0], 6.0);
        assert_eq!(a.sum_all(), 276.0);
        assert!(a.sum_axis(3).is_err());
    }
}
