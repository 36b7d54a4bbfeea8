//! Row-wise ops of 2-D tensors used by the contrastive losses: stable logsumexp and
//! log-softmax, and L2 normalisation.

use super::{Element, Tensor};
use crate::error::Result;

impl<T: Element> Tensor<T> {
    /// Row-wise `log Σ_j e^{x_ij}` of a 2-D tensor, computed stably; shape `[n, 1]`.
    pub fn logsumexp_rows(&self) -> Result<Tensor<T>> {
        let (n, d) = self.dims2("logsumexp_rows")?;
        Ok(Tensor::wrap(self.storage().logsumexp_rows(n, d)?, &[n, 1]))
    }

    /// Row-wise `x_ij − logsumexp_j(x_i·)`, shape unchanged.
    pub fn log_softmax_rows(&self) -> Result<Tensor<T>> {
        let (n, d) = self.dims2("log_softmax_rows")?;
        Ok(Tensor::wrap(
            self.storage().log_softmax_rows(n, d)?,
            self.shape(),
        ))
    }

    /// Each row divided by `max(‖row‖₂, eps)` (as `torch.nn.functional.normalize`); also returns
    /// the clamped norms (`[n]`), which the backward pass needs.
    pub fn l2_normalize_rows(&self, eps: T) -> Result<(Tensor<T>, Tensor<T>)> {
        let (n, d) = self.dims2("l2_normalize_rows")?;
        let (y, norms) = self.storage().l2_normalize_rows(n, d, eps)?;
        Ok((Tensor::wrap(y, &[n, d]), Tensor::wrap(norms, &[n])))
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
        assert!((l.data().unwrap()[0] - (1000.0 + 2f64.ln())).abs() < 1e-12);
        assert!((l.data().unwrap()[1] - 0.0).abs() < 1e-12);
        let s = x.log_softmax_rows().unwrap();
        assert!((s.data().unwrap()[0] + 2f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn logsumexp_of_non_finite_and_empty_rows() {
        let (inf, nan) = (f64::INFINITY, f64::NAN);
        let x = Tensor::from_vec(vec![-inf, -inf, 1.0, inf, nan, 1.0], &[3, 2]).unwrap();
        let l = x.logsumexp_rows().unwrap();
        assert_eq!(&l.data().unwrap()[..2], &[-inf, inf]);
        assert!(l.data().unwrap()[2].is_nan());
        let empty = Tensor::<f64>::zeros(&[2, 0]).logsumexp_rows().unwrap();
        assert_eq!(empty.data().unwrap(), &[-inf, -inf]);
    }

    #[test]
    fn normalize_divides_by_clamped_norm() {
        let x = Tensor::from_vec(vec![3.0f64, 4.0, 0.0, 0.0], &[2, 2]).unwrap();
        let (y, n) = x.l2_normalize_rows(1e-12).unwrap();
        assert_eq!(y.data().unwrap(), &[0.6, 0.8, 0.0, 0.0]);
        assert_eq!(n.data().unwrap(), &[5.0, 1e-12]);
    }
}
