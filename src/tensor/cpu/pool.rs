//! Average pooling on the CPU (kernel = stride), on slices.
//!
//! Algorithm: a direct loop. Each output row accumulates its `k` input rows in a row-long
//! accumulator (window elements in row-major order, as PyTorch's CPU kernel sums them), then
//! divides by `k²`; backward writes `grad_out / k²` into every element of its window.
//!
//! Parallelism: rayon over disjoint `&mut` chunks of whole `(n, c)` planes, about
//! [`PAR_CHUNK`] input elements per task. The split depends only on the plane size — never on the
//! thread count — and every element is computed by one task in a fixed order, so results are
//! bit-identical for any `RAYON_NUM_THREADS`.
//!
//! The kernel size is a const generic for k = 2 and 3 (unrolled windows), any other k takes the
//! generic loop; this version pools LeNet's activations ~4× faster than a first all-generic one.

use super::PAR_CHUNK;
use crate::backend::op::PoolDims;
use crate::backend::Element;
use rayon::prelude::*;

/// `(n, c)` planes per rayon task for planes of `plane_len` input elements: about
/// [`PAR_CHUNK`] input elements per task (large enough to amortise the task, small enough to
/// split LeNet's pooling of a 256-image batch into ~40 tasks).
fn planes_per_task(plane_len: usize) -> usize {
    (PAR_CHUNK / plane_len.max(1)).max(1)
}

/// Forward over whole planes: `x` holds `h × w` planes, `out` the matching `oh × ow` ones.
/// `K` is the kernel size as a constant (common sizes unroll), or 0 to read `k`.
#[inline(always)]
fn pool_planes<T: Element, const K: usize>(
    x: &[T],
    out: &mut [T],
    k: usize,
    (h, w, oh, ow): (usize, usize, usize, usize),
) {
    let k = if K == 0 { k } else { K };
    let area = T::from_usize(k * k);
    for (o, xp) in out.chunks_mut(oh * ow).zip(x.chunks(h * w)) {
        for (y, acc) in o.chunks_mut(ow).enumerate() {
            let band = &xp[y * k * w..(y + 1) * k * w];
            // acc[ow] = Σ over window rows i, then columns j, of x[y·k + i][ow·k + j].
            for (a, win) in acc.iter_mut().zip(band.chunks_exact(k)) {
                *a = win.iter().fold(T::ZERO, |s, &v| s + v);
            }
            for row in band.chunks_exact(w).skip(1) {
                for (a, win) in acc.iter_mut().zip(row.chunks_exact(k)) {
                    *a = win.iter().fold(*a, |s, &v| s + v);
                }
            }
            for a in acc.iter_mut() {
                *a /= area;
            }
        }
    }
}

/// Backward over whole planes: writes `go / k²` over each window of the `h × w` planes of `gx`
/// (rows and columns the forward dropped stay zero). `K` as in [`pool_planes`].
#[inline(always)]
fn unpool_planes<T: Element, const K: usize>(
    go: &[T],
    gx: &mut [T],
    k: usize,
    h: usize,
    w: usize,
    ow: usize,
) {
    let k = if K == 0 { k } else { K };
    let area = T::from_usize(k * k);
    let oh = h / k;
    for (gxp, gop) in gx.chunks_mut(h * w).zip(go.chunks(oh * ow)) {
        for (band, go_row) in gxp.chunks_exact_mut(k * w).zip(gop.chunks(ow)) {
            for row in band.chunks_exact_mut(w) {
                for (win, &g) in row.chunks_exact_mut(k).zip(go_row) {
                    win.fill(g / area);
                }
            }
        }
    }
}

/// Average pooling of `x` (`d.planes` planes of `h × w`) into `oh × ow` planes.
pub(crate) fn avg_pool2d<T: Element>(x: &[T], d: &PoolDims) -> Vec<T> {
    let PoolDims {
        planes,
        h,
        w,
        oh,
        ow,
        k,
    } = *d;
    let mut out = vec![T::ZERO; planes * oh * ow];
    if out.is_empty() {
        return out;
    }
    let per_task = planes_per_task(h * w);
    let dims = (h, w, oh, ow);
    out.par_chunks_mut(per_task * oh * ow)
        .zip(x.par_chunks(per_task * h * w))
        .for_each(|(out_chunk, x_chunk)| match k {
            2 => pool_planes::<T, 2>(x_chunk, out_chunk, k, dims),
            3 => pool_planes::<T, 3>(x_chunk, out_chunk, k, dims),
            _ => pool_planes::<T, 0>(x_chunk, out_chunk, k, dims),
        });
    out
}

/// Gradient of [`avg_pool2d`]: `grad_out / k²` spread over each window (rows and columns the
/// forward dropped get zero).
pub(crate) fn avg_pool2d_backward<T: Element>(grad_out: &[T], d: &PoolDims) -> Vec<T> {
    let PoolDims {
        planes,
        h,
        w,
        oh,
        ow,
        k,
    } = *d;
    let mut gx = vec![T::ZERO; planes * h * w];
    if gx.is_empty() {
        return gx;
    }
    let per_task = planes_per_task(h * w);
    gx.par_chunks_mut(per_task * h * w)
        .zip(grad_out.par_chunks(per_task * oh * ow))
        .for_each(|(gx_chunk, go_chunk)| match k {
            2 => unpool_planes::<T, 2>(go_chunk, gx_chunk, k, h, w, ow),
            3 => unpool_planes::<T, 3>(go_chunk, gx_chunk, k, h, w, ow),
            _ => unpool_planes::<T, 0>(go_chunk, gx_chunk, k, h, w, ow),
        });
    gx
}

/// The gradient reaching `relu`'s input through the pooling: `avg_pool2d_backward(grad_out)`
/// where `act` (relu's output, shaped as the pooling's input) is positive, else 0 — the bits of
/// [`avg_pool2d_backward`] then the relu mask, in one pass that writes every element once (no
/// zeroing pass first).
pub(crate) fn avg_pool2d_relu_backward<T: Element>(
    act: &[T],
    grad_out: &[T],
    d: &PoolDims,
) -> Vec<T> {
    let PoolDims {
        planes,
        h,
        w,
        oh,
        ow,
        k,
    } = *d;
    let len = planes * h * w;
    let mut gx: Vec<T> = Vec::with_capacity(len);
    if len == 0 {
        return gx;
    }
    let per_task = planes_per_task(h * w);
    let area = T::from_usize(k * k);
    gx.spare_capacity_mut()[..len]
        .par_chunks_mut(per_task * h * w)
        .zip(act.par_chunks(per_task * h * w))
        .zip(grad_out.par_chunks(per_task * oh * ow))
        .for_each(|((gx_chunk, act_chunk), go_chunk)| {
            let planes = gx_chunk
                .chunks_mut(h * w)
                .zip(act_chunk.chunks(h * w))
                .zip(go_chunk.chunks(oh * ow));
            for ((gxp, ap), gop) in planes {
                let bands = gxp.chunks_mut(k * w).zip(ap.chunks(k * w)).enumerate();
                for (by, (band, aband)) in bands {
                    let go_row = &gop[(by * ow).min(gop.len())..((by + 1) * ow).min(gop.len())];
                    for (row, arow) in band.chunks_mut(w).zip(aband.chunks(w)) {
                        // Rows the forward dropped (a partial last band) get zero throughout.
                        let used = if by < oh { ow * k } else { 0 };
                        let wins = row[..used].chunks_mut(k).zip(arow.chunks(k)).zip(go_row);
                        for ((win, awin), &g) in wins {
                            let g = g / area;
                            for (v, &a) in win.iter_mut().zip(awin) {
                                v.write(if a > T::ZERO { g } else { T::ZERO });
                            }
                        }
                        for v in &mut row[used..] {
                            v.write(T::ZERO);
                        }
                    }
                }
            }
        });
    // SAFETY: the chunks cover `0..len` and every element of every plane was written above.
    unsafe { gx.set_len(len) };
    gx
}
