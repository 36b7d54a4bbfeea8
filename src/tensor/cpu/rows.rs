//! Row-wise kernels on the CPU for `[n, d]` matrices (the contrastive losses): stable
//! logsumexp and log-softmax, L2 normalisation. Rows are independent; rayon splits them in
//! fixed blocks.

use super::lanes::max_slice;
use crate::backend::Element;
use rayon::prelude::*;

/// Rows handed to one rayon task by the row kernels (independent of the thread count).
pub(crate) const ROWS_PER_TASK: usize = 64;

/// `max + ln Σ e^(x − max)` of one row (−∞ for an empty row or a row of −∞, +∞ if any +∞,
/// NaN if any NaN).
pub(crate) fn logsumexp_row<T: Element>(row: &[T]) -> T {
    if row.is_empty() {
        return T::from_f64(f64::NEG_INFINITY);
    }
    let m = max_slice(row);
    if !m.is_finite() {
        return m;
    }
    let s: T = row.iter().map(|&v| (v - m).exp()).sum();
    m + s.ln()
}

/// Row-wise `log Σ_j e^{x_ij}` of `x` `[n, d]`, `n` values.
pub(crate) fn logsumexp_rows<T: Element>(x: &[T], n: usize, d: usize) -> Vec<T> {
    let mut out = vec![T::ZERO; n];
    out.par_chunks_mut(ROWS_PER_TASK)
        .enumerate()
        .for_each(|(t, o)| {
            for (j, v) in o.iter_mut().enumerate() {
                let r = t * ROWS_PER_TASK + j;
                *v = logsumexp_row(&x[r * d..(r + 1) * d]);
            }
        });
    out
}

/// Row-wise `x_ij − logsumexp_j(x_i·)` of `x` `[n, d]`.
pub(crate) fn log_softmax_rows<T: Element>(x: &[T], d: usize) -> Vec<T> {
    let mut out = x.to_vec();
    out.par_chunks_mut(ROWS_PER_TASK * d.max(1))
        .for_each(|block| {
            for row in block.chunks_mut(d.max(1)) {
                let lse = logsumexp_row(row);
                row.iter_mut().for_each(|v| *v -= lse);
            }
        });
    out
}

/// Each row of `x` `[n, d]` divided by `max(‖row‖₂, eps)`, and the clamped norms.
pub(crate) fn l2_normalize_rows<T: Element>(
    x: &[T],
    n: usize,
    d: usize,
    eps: T,
) -> (Vec<T>, Vec<T>) {
    let mut out = x.to_vec();
    let mut norms = vec![T::ZERO; n];
    out.par_chunks_mut(d.max(1))
        .zip(norms.par_iter_mut())
        .for_each(|(row, nrm)| {
            let sq: T = row.iter().map(|&v| v * v).sum();
            let r = sq.sqrt().max(eps);
            *nrm = r;
            row.iter_mut().for_each(|v| *v /= r);
        });
    (out, norms)
}
