//! Row-wise kernels of 2-D tensors used by the contrastive losses: stable logsumexp and
//! log-softmax, and L2 normalisation. Rows are independent; rayon splits them in fixed blocks.

use super::{Element, Tensor};
use crate::error::Result;
use rayon::prelude::*;

/// Rows handed to one rayon task by the row kernels (independent of the thread count).
const ROWS_PER_TASK: usize = 64;

/// `max + ln Σ e^(x − max)` of one row (−∞ for an empty row or a row of −∞, +∞ if any +∞,
/// NaN if any NaN).
fn logsumexp_row<T: Element>(row: &[T]) -> T {
    if row.is_empty() {
        return T::from_f64(f64::NEG_INFINITY);
    }
    let m = super::reduce::max_slice(row);
    if !m.is_finite() {
        return m;
    }
    let s: T = row.iter().map(|&v| (v - m).exp()).sum();
    m + s.ln()
}

impl<T: Element> Tensor<T> {
    /// Row-wise `log Σ_j e^{x_ij}` of a 2-D tensor, computed stably; shape `[n, 1]`.
    pub fn logsumexp_rows(&self) -> Result<Tensor<T>> {
        let (n, d) = self.dims2("logsumexp_rows")?;
        #[cfg(feature = "gpu")]
        if super::on_gpu(&[self]) {
            return crate::gpu::ops::logsumexp_rows(self, n, d);
        }
        let mut out = vec![T::ZERO; n];
        let x = self.data();
        out.par_chunks_mut(ROWS_PER_TASK)
            .enumerate()
            .for_each(|(t, o)| {
                for (j, v) in o.iter_mut().enumerate() {
                    let r = t * ROWS_PER_TASK + j;
                    *v = logsumexp_row(&x[r * d..(r + 1) * d]);
                }
            });
        Tensor::from_vec(out, &[n, 1])
    }

    /// Row-wise `x_ij − logsumexp_j(x_i·)`, shape unchanged.
    pub fn log_softmax_rows(&self) -> Result<Tensor<T>> {
        let (_n, d) = self.dims2("log_softmax_rows")?;
        #[cfg(feature = "gpu")]
        if super::on_gpu(&[self]) {
            return crate::gpu::ops::log_softmax_rows(self, _n, d);
        }
        let mut out = self.data().to_vec();
        out.par_chunks_mut(ROWS_PER_TASK * d.max(1))
            .for_each(|block| {
                for row in block.chunks_mut(d.max(1)) {
                    let lse = logsumexp_row(row);
                    row.iter_mut().for_each(|v| *v -= lse);
                }
            });
        Tensor::from_vec(out, self.shape())
    }

    /// Each row divided by `max(‖row‖₂, eps)` (as `torch.nn.functional.normalize`); also returns
    /// the clamped norms (`[n]`), which the backward pass needs.
    pub fn l2_normalize_rows(&self, eps: T) -> Result<(Tensor<T>, Tensor<T>)> {
        let (n, d) = self.dims2("l2_normalize_rows")?;
        #[cfg(feature = "gpu")]
        if super::on_gpu(&[self]) {
            return crate::gpu::ops::l2_normalize_rows(self, eps);
        }
        let mut out = self.data().to_vec();
        let mut norms = vec![T::ZERO; n];
        out.par_chunks_mut(d.max(1))
            .zip(norms.par_iter_mut())
            .for_each(|(row, nrm)| {
                let sq: T = row.iter().map(|&v| v * v).sum();
                let r = sq.sqrt().max(eps);
                *nrm = r;
                row.iter_mut().for_each(|v| *v /= r);
            });
        Ok((
            Tensor::from_vec(out, &[n, d])?,
            Tensor::from_vec(norms, &[n])?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logsumexp_is_stable_for_large_values() {
        // ln(e^1000 + e^1000) = 1000 + ln 2, which a naive sum overflows.
        let x = Tensor::from_vec(vec![1000.0f64, 1000.0, -1e300, 0.0], &[2, 2]).unwrap();
        let l = x.logsumexp_rows().unwrap();
        assert!((l.data()[0] - (1000.0 + 2f64.ln())).abs() < 1e-12);
        assert!((l.data()[1] - 0.0).abs() < 1e-12);
        let s = x.log_softmax_rows().unwrap();
        assert!((s.data()[0] + 2f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn logsumexp_of_non_finite_and_empty_rows() {
        let (inf, nan) = (f64::INFINITY, f64::NAN);
        let x = Tensor::from_vec(vec![-inf, -inf, 1.0, inf, nan, 1.0], &[3, 2]).unwrap();
        let l = x.logsumexp_rows().unwrap();
        assert_eq!(&l.data()[..2], &[-inf, inf]);
        assert!(l.data()[2].is_nan());
        let empty = Tensor::<f64>::zeros(&[2, 0]).logsumexp_rows().unwrap();
        assert_eq!(empty.data(), &[-inf, -inf]);
    }

    #[test]
    fn normalize_divides_by_clamped_norm() {
        let x = Tensor::from_vec(vec![3.0f64, 4.0, 0.0, 0.0], &[2, 2]).unwrap();
        let (y, n) = x.l2_normalize_rows(1e-12).unwrap();
        assert_eq!(y.data(), &[0.6, 0.8, 0.0, 0.0]);
        assert_eq!(n.data(), &[5.0, 1e-12]);
    }
}
