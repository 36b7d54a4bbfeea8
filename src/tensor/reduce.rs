//! Reductions along an axis and over all elements.

use super::{Element, Tensor};
use crate::backend::op::BinaryOp;
use crate::error::{Error, Result};

impl<T: Element> Tensor<T> {
    /// The reduced shape (the axis kept with length 1), or the error naming `op`.
    fn reduced_shape(&self, op: &'static str, axis: usize) -> Result<Vec<usize>> {
        let split = self.around_axis(op, axis)?;
        if split.len == 0 {
            return Err(Error::shape(op, "a non-empty axis", &[self.shape()]));
        }
        let mut shape = self.shape().to_vec();
        shape[axis] = 1;
        Ok(shape)
    }

    /// Sum along `axis`, keeping it with length 1.
    pub fn sum_axis(&self, axis: usize) -> Result<Tensor<T>> {
        let shape = self.reduced_shape("sum_axis", axis)?;
        let split = self.around_axis("sum_axis", axis)?;
        Ok(Tensor::wrap(self.storage().sum_axis(split)?, &shape))
    }

    /// Mean along `axis`, keeping it with length 1.
    pub fn mean_axis(&self, axis: usize) -> Result<Tensor<T>> {
        let n = T::from_usize(*self.shape().get(axis).unwrap_or(&1));
        self.sum_axis(axis)?.scalar_op(n, BinaryOp::Div)
    }

    /// Maximum along `axis`, keeping it with length 1 (NaN wins, as in PyTorch).
    pub fn max_axis(&self, axis: usize) -> Result<Tensor<T>> {
        let shape = self.reduced_shape("max_axis", axis)?;
        let split = self.around_axis("max_axis", axis)?;
        Ok(Tensor::wrap(self.storage().max_axis(split)?, &shape))
    }

    /// Sum of all elements as a 0-d tensor on the tensor's device (no read back from a GPU).
    /// On the CPU: fixed-size partial sums added in chunk order, the same for any thread count.
    pub fn sum_all(&self) -> Result<Tensor<T>> {
        Ok(Tensor::wrap(self.storage().sum_all()?, &[]))
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
        assert_eq!(s.data().unwrap()[..4], [12., 15., 18., 21.]);
        let m = a.max_axis(2).unwrap();
        assert_eq!(m.shape(), &[2, 3, 1]);
        assert_eq!(m.data().unwrap(), &[3., 7., 11., 15., 19., 23.]);
        assert_eq!(a.mean_axis(0).unwrap().data().unwrap()[0], 6.0);
        assert_eq!(a.sum_all().unwrap().item().unwrap(), 276.0);
        assert!(a.sum_axis(3).is_err());
    }
}
