//! CPU kernels of the tape's fused ops that have no other home: masked fill, and the backward
//! passes of relu, the row ops and row gathers. Each works in place on the gradient it is given
//! where it can.

use super::rows::ROWS_PER_TASK;
use super::PAR_CHUNK;
use crate::backend::Element;
use rayon::prelude::*;

/// Gradient of relu given its output `out`: `g` where `out > 0`, else 0 (in place on `g`).
pub(crate) fn relu_backward<T: Element>(out: &[T], g: &mut [T]) {
    g.par_chunks_mut(PAR_CHUNK)
        .zip(out.par_chunks(PAR_CHUNK))
        .for_each(|(gc, oc)| {
            for (gv, &o) in gc.iter_mut().zip(oc) {
                *gv = if o > T::ZERO { *gv } else { T::ZERO };
            }
        });
}

/// The elements of `x` where `mask` is true set to `value`, in place.
pub(crate) fn masked_fill<T: Element>(x: &mut [T], mask: &[bool], value: T) {
    for (v, &m) in x.iter_mut().zip(mask) {
        if m {
            *v = value;
        }
    }
}

/// Gradient of L2 row normalisation given its output `y` `[n, d]` (`y = x/n`) and the clamped
/// norms: `dx = (g − y·(g·y))/n`, or `g/eps` for a row whose norm was clamped to `eps` (its
/// norm is then a constant). In place on `g`.
pub(crate) fn l2_normalize_rows_backward<T: Element>(
    y: &[T],
    norms: &[T],
    eps: T,
    g: &mut [T],
    d: usize,
) {
    g.par_chunks_mut(d.max(1)).enumerate().for_each(|(r, row)| {
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
}

/// Gradient of logsumexp for input `x` `[n, d]`, output `lse` and output gradient `g` (`n`
/// each): `dx_ij = g_i · e^(x_ij − lse_i)`.
pub(crate) fn logsumexp_rows_backward<T: Element>(x: &[T], lse: &[T], g: &[T], d: usize) -> Vec<T> {
    let d = d.max(1);
    let mut gx = x.to_vec();
    gx.par_chunks_mut(ROWS_PER_TASK * d)
        .enumerate()
        .for_each(|(t, block)| {
            for (j, row) in block.chunks_mut(d).enumerate() {
                let r = t * ROWS_PER_TASK + j;
                let (l, gr) = (lse[r], g[r]);
                row.iter_mut().for_each(|v| *v = gr * (*v - l).exp());
            }
        });
    gx
}

/// Gradient of log-softmax given its output `y` `[n, d]`: `dx_ij = g_ij − e^(y_ij) · Σ_k g_ik`,
/// in place on `g`.
pub(crate) fn log_softmax_rows_backward<T: Element>(y: &[T], g: &mut [T], d: usize) {
    let d = d.max(1);
    g.par_chunks_mut(ROWS_PER_TASK * d)
        .zip(y.par_chunks(ROWS_PER_TASK * d))
        .for_each(|(gb, yb)| {
            for (row, y) in gb.chunks_mut(d).zip(yb.chunks(d)) {
                let gs: T = row.iter().copied().sum();
                row.iter_mut()
                    .zip(y)
                    .for_each(|(gv, &yv)| *gv -= yv.exp() * gs);
            }
        });
}

/// `rows` rows of `inner` whose row `indices[j]` accumulates row `j` of `g` (repeated indices
/// add up, in index order).
pub(crate) fn scatter_add_rows<T: Element>(
    g: &[T],
    indices: &[usize],
    inner: usize,
    rows: usize,
) -> Vec<T> {
    let mut out = vec![T::ZERO; rows * inner];
    for (j, &i) in indices.iter().enumerate() {
        let src = &g[j * inner..(j + 1) * inner];
        out[i * inner..(i + 1) * inner]
            .iter_mut()
            .zip(src)
            .for_each(|(d, &s)| *d += s);
    }
    out
}
