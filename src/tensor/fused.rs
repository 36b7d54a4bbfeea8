//! Kernels of the tape's fused ops that have no other home: masked fill, and the backward
//! passes of relu, the row ops and row gathers. Like every kernel they are `Tensor` methods, so
//! the tape reaches them through the one dispatch boundary.

use super::{Element, Tensor, PAR_CHUNK};
use crate::error::{Error, Result};
use rayon::prelude::*;

/// Rows handed to one rayon task by the row kernels (independent of the thread count).
const ROWS_PER_TASK: usize = 64;

impl<T: Element> Tensor<T> {
    /// Gradient of `relu` given its output `self`: `g` where `self > 0`, else 0 (in place on `g`).
    pub fn relu_backward(&self, mut g: Tensor<T>) -> Tensor<T> {
        #[cfg(feature = "gpu")]
        if super::on_gpu(&[self, &g]) {
            return super::device_result(crate::gpu::ops::binary(
                self,
                &g,
                crate::gpu::ops::Combine::ReluBackward,
            ));
        }
        g.data_mut()
            .par_chunks_mut(PAR_CHUNK)
            .zip(self.data().par_chunks(PAR_CHUNK))
            .for_each(|(gc, oc)| {
                for (gv, &o) in gc.iter_mut().zip(oc) {
                    *gv = if o > T::ZERO { *gv } else { T::ZERO };
                }
            });
        g
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
        #[cfg(feature = "gpu")]
        if super::on_gpu(&[self]) {
            let mask = crate::gpu::ops::mask_tensor(mask, self)?;
            return crate::gpu::ops::binary(self, &mask, crate::gpu::ops::Combine::Fill(value));
        }
        let data = self
            .data()
            .iter()
            .zip(mask)
            .map(|(&v, &m)| if m { value } else { v })
            .collect();
        Tensor::from_vec(data, self.shape())
    }

    /// `g` with the elements where `mask` is true set to 0 (the gradient of a masked fill).
    pub fn zero_where(mut g: Tensor<T>, mask: &[bool]) -> Tensor<T> {
        #[cfg(feature = "gpu")]
        if super::on_gpu(&[&g]) {
            // A gradient has its node's shape, so only the device can fail.
            return super::device_result(g.masked_fill(mask, T::ZERO));
        }
        g.data_mut().iter_mut().zip(mask).for_each(|(gv, &m)| {
            if m {
                *gv = T::ZERO
            }
        });
        g
    }

    /// Gradient of [`Tensor::l2_normalize_rows`] given its output `self` (`y = x/n`) and the
    /// clamped norms `[n]`: `dx = (g − y·(g·y))/n`, or `g/eps` for a row whose norm was clamped
    /// to `eps` (its norm is then a constant).
    pub fn l2_normalize_rows_backward(
        &self,
        norms: &Tensor<T>,
        eps: T,
        mut g: Tensor<T>,
    ) -> Tensor<T> {
        #[cfg(feature = "gpu")]
        if super::on_gpu(&[self, norms, &g]) {
            return super::device_result(crate::gpu::ops::l2_normalize_rows_backward(
                self, norms, eps, &g,
            ));
        }
        let d = self.shape()[1].max(1);
        let y = self.data();
        let norms = norms.data();
        g.data_mut()
            .par_chunks_mut(d)
            .enumerate()
            .for_each(|(r, row)| {
                let yr = &y[r * d..(r + 1) * d];
                let gy: T = if norms[r] <= eps {
                    T::ZERO
                } else {
                    row.iter().zip(yr).map(|(&a, &b)| a * b).sum()
                };
                for (gv, &yv) in row.iter_mut().zip(yr) {
                    *gv = (*gv - yv * gy) / norms[r];
                }
            });
        g
    }

    /// Gradient of [`Tensor::logsumexp_rows`] for input `self` and output `lse` (`[n, 1]`):
    /// `dx_ij = g_i · e^(x_ij − lse_i)` (the row softmax scaled by the row's gradient).
    pub fn logsumexp_rows_backward(&self, lse: &Tensor<T>, g: &Tensor<T>) -> Tensor<T> {
        #[cfg(feature = "gpu")]
        if super::on_gpu(&[self, lse, g]) {
            return super::device_result(crate::gpu::ops::logsumexp_rows_backward(self, lse, g));
        }
        let d = self.shape()[1].max(1);
        let mut gx = self.clone();
        gx.data_mut()
            .par_chunks_mut(ROWS_PER_TASK * d)
            .enumerate()
            .for_each(|(t, block)| {
                for (j, row) in block.chunks_mut(d).enumerate() {
                    let r = t * ROWS_PER_TASK + j;
                    let (l, gr) = (lse.data()[r], g.data()[r]);
                    row.iter_mut().for_each(|v| *v = gr * (*v - l).exp());
                }
            });
        gx
    }

    /// Gradient of [`Tensor::log_softmax_rows`] given its output `self` (`y`):
    /// `dx_ij = g_ij − e^(y_ij) · Σ_k g_ik`.
    pub fn log_softmax_rows_backward(&self, mut g: Tensor<T>) -> Tensor<T> {
        #[cfg(feature = "gpu")]
        if super::on_gpu(&[self, &g]) {
            return super::device_result(crate::gpu::ops::log_softmax_rows_backward(self, &g));
        }
        let d = self.shape()[1].max(1);
        g.data_mut()
            .par_chunks_mut(ROWS_PER_TASK * d)
            .zip(self.data().par_chunks(ROWS_PER_TASK * d))
            .for_each(|(gb, yb)| {
                for (row, y) in gb.chunks_mut(d).zip(yb.chunks(d)) {
                    let gs: T = row.iter().copied().sum();
                    row.iter_mut()
                        .zip(y)
                        .for_each(|(gv, &yv)| *gv -= yv.exp() * gs);
                }
            });
        g
    }

    /// A tensor of `shape` whose row `indices[j]` accumulates row `j` of `self` (the gradient of
    /// a row gather; repeated indices add up).
    pub fn scatter_add_rows(&self, indices: &[usize], shape: &[usize]) -> Result<Tensor<T>> {
        let inner: usize = shape[1..].iter().product();
        if self.len() != indices.len() * inner {
            return Err(Error::shape(
                "scatter_add_rows",
                "one row per index",
                &[self.shape(), shape],
            ));
        }
        if let Some(&i) = indices.iter().find(|&&i| i >= shape[0]) {
            return Err(Error::invalid(
                "scatter_add_rows",
                format!("row index {i} out of range for shape {shape:?}"),
            ));
        }
        #[cfg(feature = "gpu")]
        if super::on_gpu(&[self]) {
            return crate::gpu::ops::scatter_add_rows(self, indices, shape);
        }
        let mut out = Tensor::zeros(shape);
        for (j, &i) in indices.iter().enumerate() {
            let src = &self.data()[j * inner..(j + 1) * inner];
            out.data_mut()[i * inner..(i + 1) * inner]
                .iter_mut()
                .zip(src)
                .for_each(|(d, &s)| *d += s);
        }
        Ok(out)
    }
}
