//! The tape's fused ops that have no other home: masked fill, and the backward passes of relu,
//! the row ops and row gathers. Arguments the tape passes are shaped by its invariants (a
//! gradient has its node's shape); the public ones are checked.

use super::{Element, Tensor};
use crate::error::{Error, Result};

impl<T: Element> Tensor<T> {
    /// Gradient of `relu` given its output `self`: `g` where `self > 0`, else 0.
    ///
    /// Errors: [`Error::Shape`] when `g` is not shaped like `self`.
    pub fn relu_backward(&self, g: Tensor<T>) -> Result<Tensor<T>> {
        self.expect_same_shape("relu_backward", &g)?;
        let shape = g.shape().to_vec();
        Ok(Tensor::wrap(
            self.storage().relu_backward(g.into_storage())?,
            &shape,
        ))
    }

    /// Gradient of `gelu` given its input `self`: `g·(Φ(x) + x·φ(x))`.
    ///
    /// Errors: [`Error::Shape`] when `g` is not shaped like `self`.
    pub fn gelu_backward(&self, g: Tensor<T>) -> Result<Tensor<T>> {
        self.expect_same_shape("gelu_backward", &g)?;
        let shape = g.shape().to_vec();
        Ok(Tensor::wrap(
            self.storage().gelu_backward(g.into_storage())?,
            &shape,
        ))
    }

    /// Elements where `mask` is true replaced by `value` (one flag per element, row-major).
    pub fn masked_fill(&self, mask: &[bool], value: T) -> Result<Tensor<T>> {
        if mask.len() != self.len() {
            return Err(Error::shape(
                "masked_fill",
                "one mask flag per element",
                &[self.shape(), &[mask.len()]],
            ));
        }
        self.clone().fill_where(mask, value)
    }

    /// `g` with the elements where `mask` is true set to 0 (the gradient of a masked fill),
    /// filled in place on the CPU.
    pub fn zero_where(g: Tensor<T>, mask: &[bool]) -> Result<Tensor<T>> {
        if mask.len() != g.len() {
            return Err(Error::shape(
                "zero_where",
                "one mask flag per element",
                &[g.shape(), &[mask.len()]],
            ));
        }
        g.fill_where(mask, T::ZERO)
    }

    /// The tensor with `value` where `mask` (checked: one flag per element) is true.
    fn fill_where(self, mask: &[bool], value: T) -> Result<Tensor<T>> {
        let shape = self.shape().to_vec();
        Ok(Tensor::wrap(
            self.into_storage().masked_fill(mask, value)?,
            &shape,
        ))
    }

    /// Gradient of [`Tensor::l2_normalize_rows`] given its output `self` (`y = x/n`) and the
    /// clamped norms `[n]`: `dx = (g − y·(g·y))/n`, or `g/eps` for a row whose norm was clamped
    /// to `eps` (its norm is then a constant).
    pub fn l2_normalize_rows_backward(
        &self,
        norms: &Tensor<T>,
        eps: T,
        g: Tensor<T>,
    ) -> Result<Tensor<T>> {
        let (n, d) = self.dims2("l2_normalize_rows_backward")?;
        self.expect_same_shape("l2_normalize_rows_backward", &g)?;
        if norms.shape() != [n] {
            return Err(Error::shape(
                "l2_normalize_rows_backward",
                format!("norms [{n}]"),
                &[self.shape(), norms.shape()],
            ));
        }
        let storage = self.storage().l2_normalize_rows_backward(
            norms.storage(),
            eps,
            g.into_storage(),
            n,
            d,
        )?;
        Ok(Tensor::wrap(storage, &[n, d]))
    }

    /// Gradient of [`Tensor::logsumexp_rows`] for input `self` and output `lse` (`[n, 1]`):
    /// `dx_ij = g_i · e^(x_ij − lse_i)` (the row softmax scaled by the row's gradient).
    pub fn logsumexp_rows_backward(&self, lse: &Tensor<T>, g: &Tensor<T>) -> Result<Tensor<T>> {
        let (n, d) = self.dims2("logsumexp_rows_backward")?;
        if lse.len() != n || g.len() != n {
            return Err(Error::shape(
                "logsumexp_rows_backward",
                format!("lse and g of {n} rows"),
                &[self.shape(), lse.shape(), g.shape()],
            ));
        }
        let storage = self
            .storage()
            .logsumexp_rows_backward(lse.storage(), g.storage(), n, d)?;
        Ok(Tensor::wrap(storage, self.shape()))
    }

    /// Gradient of [`Tensor::log_softmax_rows`] given its output `self` (`y`):
    /// `dx_ij = g_ij − e^(y_ij) · Σ_k g_ik`.
    pub fn log_softmax_rows_backward(&self, g: Tensor<T>) -> Result<Tensor<T>> {
        let (n, d) = self.dims2("log_softmax_rows_backward")?;
        self.expect_same_shape("log_softmax_rows_backward", &g)?;
        let storage = self
            .storage()
            .log_softmax_rows_backward(g.into_storage(), n, d)?;
        Ok(Tensor::wrap(storage, self.shape()))
    }

    /// A tensor of `shape` whose row `indices[j]` accumulates row `j` of `self` (the gradient of
    /// a row gather; repeated indices add up).
    pub fn scatter_add_rows(&self, indices: &[usize], shape: &[usize]) -> Result<Tensor<T>> {
        let Some(&rows) = shape.first() else {
            return Err(Error::shape(
                "scatter_add_rows",
                "an output of at least 1 axis",
                &[self.shape(), shape],
            ));
        };
        let inner: usize = shape[1..].iter().product();
        if self.len() != indices.len() * inner {
            return Err(Error::shape(
                "scatter_add_rows",
                "one row per index",
                &[self.shape(), shape],
            ));
        }
        if let Some(&i) = indices.iter().find(|&&i| i >= rows) {
            return Err(Error::invalid(
                "scatter_add_rows",
                format!("row index {i} out of range for shape {shape:?}"),
            ));
        }
        let storage = self.storage().scatter_add_rows(indices, inner, rows)?;
        Ok(Tensor::wrap(storage, shape))
    }
}
