//! Elementwise ops: binary ops with broadcasting, unary maps, scalar ops.

use super::{Element, Tensor};
use crate::backend::op::{BinaryOp, Broadcast, UnaryOp};
use crate::error::{Error, Result};

impl<T: Element> Tensor<T> {
    /// `self op rhs`, where `rhs` broadcasts onto `self`'s shape (NumPy rules, right-aligned;
    /// e.g. `[n, d] + [d]` adds a row to every row, `[n, d] * [n, 1]` scales each row).
    pub fn binary(&self, rhs: &Tensor<T>, op: BinaryOp) -> Result<Tensor<T>> {
        let b = Broadcast::new(op.name(), self.shape(), rhs.shape())?;
        let storage = self
            .storage()
            .binary(rhs.storage(), op, &b)
            .map_err(|e| match e {
                // A device's limits depend on the broadcast pattern: name the shapes.
                Error::Device(m) => Error::Device(format!(
                    "{m} (shapes {:?} and {:?})",
                    self.shape(),
                    rhs.shape()
                )),
                other => other,
            })?;
        Ok(Tensor::wrap(storage, self.shape()))
    }

    /// `self + rhs` with broadcasting (see [`Tensor::binary`]).
    pub fn add(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        self.binary(rhs, BinaryOp::Add)
    }

    /// `self - rhs` with broadcasting.
    pub fn sub(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        self.binary(rhs, BinaryOp::Sub)
    }

    /// `self * rhs` (elementwise) with broadcasting.
    pub fn mul(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        self.binary(rhs, BinaryOp::Mul)
    }

    /// `self / rhs` (elementwise) with broadcasting.
    pub fn div(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        self.binary(rhs, BinaryOp::Div)
    }

    /// `self += g` elementwise for equal shapes (gradient accumulation). On the GPU the sum is
    /// a new buffer that replaces `self`'s.
    ///
    /// Errors: [`Error::Shape`] when the shapes differ.
    pub fn add_assign(&mut self, g: &Tensor<T>) -> Result<()> {
        self.expect_same_shape("add_assign", g)?;
        self.storage_mut().add_assign(g.storage())
    }

    /// Sums `self` (shaped like a broadcast result) down to `shape`, the adjoint of broadcasting
    /// a `shape`-tensor onto `self.shape()`.
    pub fn sum_to_shape(&self, shape: &[usize]) -> Result<Tensor<T>> {
        let b = Broadcast::new("sum_to_shape", self.shape(), shape)?;
        let out_len = shape.iter().product();
        Ok(Tensor::wrap(
            self.storage().sum_to_shape(&b, out_len)?,
            shape,
        ))
    }

    /// `op(self, s)` for every element.
    pub fn scalar_op(&self, s: T, op: BinaryOp) -> Result<Tensor<T>> {
        Ok(Tensor::wrap(self.storage().scalar(s, op)?, self.shape()))
    }

    /// `self + s`.
    pub fn add_scalar(&self, s: T) -> Result<Tensor<T>> {
        self.scalar_op(s, BinaryOp::Add)
    }

    /// `self * s`.
    pub fn mul_scalar(&self, s: T) -> Result<Tensor<T>> {
        self.scalar_op(s, BinaryOp::Mul)
    }

    /// A unary map applied to every element.
    pub fn map(&self, op: UnaryOp) -> Result<Tensor<T>> {
        Ok(Tensor::wrap(self.storage().unary(op)?, self.shape()))
    }

    /// `max(x, 0)`.
    pub fn relu(&self) -> Result<Tensor<T>> {
        self.map(UnaryOp::Relu)
    }

    /// `e^x`.
    pub fn exp(&self) -> Result<Tensor<T>> {
        self.map(UnaryOp::Exp)
    }

    /// `ln x`.
    pub fn ln(&self) -> Result<Tensor<T>> {
        self.map(UnaryOp::Ln)
    }

    /// `√x`.
    pub fn sqrt(&self) -> Result<Tensor<T>> {
        self.map(UnaryOp::Sqrt)
    }

    /// `x·Φ(x)`, the exact GELU (`torch.nn.functional.gelu`, `approximate='none'`).
    pub fn gelu(&self) -> Result<Tensor<T>> {
        self.map(UnaryOp::Gelu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::cpu::PAR_CHUNK;

    fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
        Tensor::from_vec(data.to_vec(), shape).unwrap()
    }

    #[test]
    fn row_column_and_middle_broadcasts() {
        let a = t(&[1., 2., 3., 4., 5., 6.], &[2, 3]);
        assert_eq!(
            a.add(&t(&[10., 20., 30.], &[3])).unwrap().data().unwrap(),
            &[11., 22., 33., 14., 25., 36.]
        );
        assert_eq!(
            a.mul(&t(&[2., 3.], &[2, 1])).unwrap().data().unwrap(),
            &[2., 4., 6., 12., 15., 18.]
        );
        // [2, 2, 2] + [2, 1]: broadcast over the last axis, kept in the middle.
        let b = t(&[0., 1., 2., 3., 4., 5., 6., 7.], &[2, 2, 2]);
        let r = b.add(&t(&[100., 200.], &[2, 1])).unwrap();
        assert_eq!(
            r.data().unwrap(),
            &[100., 101., 202., 203., 104., 105., 206., 207.]
        );
        // The adjoint sums back.
        assert_eq!(
            b.sum_to_shape(&[2, 1]).unwrap().data().unwrap(),
            &[0. + 1. + 4. + 5., 2. + 3. + 6. + 7.]
        );
        assert_eq!(a.sum_to_shape(&[3]).unwrap().data().unwrap(), &[5., 7., 9.]);
    }

    #[test]
    fn incompatible_broadcast_names_op_and_shapes() {
        let a = t(&[1., 2., 3., 4., 5., 6.], &[2, 3]);
        let e = a.sub(&t(&[1., 2.], &[2])).unwrap_err().to_string();
        assert!(
            e.contains("sub") && e.contains("[2, 3]") && e.contains("[2]"),
            "{e}"
        );
    }

    #[test]
    fn long_vectors_use_lanes_and_tail() {
        let n = 2 * PAR_CHUNK + 5;
        let a: Vec<f32> = (0..n).map(|i| i as f32 - 1000.0).collect();
        let x = Tensor::from_vec(a.clone(), &[n]).unwrap();
        let r = x.relu().unwrap();
        assert!(r
            .data()
            .unwrap()
            .iter()
            .zip(&a)
            .all(|(r, a)| *r == a.max(0.0)));
        let s = x.add(&x).unwrap();
        assert!(s.data().unwrap().iter().zip(&a).all(|(s, a)| *s == 2.0 * a));
    }
}
