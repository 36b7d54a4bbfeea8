//! Nearest-neighbour upsampling by an integer factor on the CPU, on slices.
//!
//! The geometry is the [`PoolDims`] of the pooling that maps the upsampled planes (`h × w`)
//! back onto the input ones (`oh × ow`, `h = k·oh`, `w = k·ow`): upsampling copies each input
//! element over its `k × k` window, its gradient sums each window (row-major, the order
//! PyTorch's CPU kernel adds them in).
//!
//! Algorithm: direct loops over whole planes. Parallelism: rayon over disjoint `&mut` chunks of
//! whole planes, about [`PAR_CHUNK`] upsampled elements per task; the split depends only on the
//! plane size, never on the thread count, so results are bit-identical for any
//! `RAYON_NUM_THREADS`.

use super::PAR_CHUNK;
use crate::backend::op::PoolDims;
use crate::backend::Element;
use rayon::prelude::*;

/// Planes per rayon task for upsampled planes of `plane_len` elements.
fn planes_per_task(plane_len: usize) -> usize {
    (PAR_CHUNK / plane_len.max(1)).max(1)
}

/// `x` (`d.planes` planes of `oh × ow`) upsampled to `h × w` planes: every element repeated
/// over its `k × k` window.
pub(crate) fn upsample_nearest2d<T: Element>(x: &[T], d: &PoolDims) -> Vec<T> {
    let PoolDims {
        planes,
        h,
        w,
        oh,
        ow,
        k,
    } = *d;
    let mut out = vec![T::ZERO; planes * h * w];
    if out.is_empty() {
        return out;
    }
    let per_task = planes_per_task(h * w);
    out.par_chunks_mut(per_task * h * w)
        .zip(x.par_chunks(per_task * oh * ow))
        .for_each(|(out_chunk, x_chunk)| {
            for (op, xp) in out_chunk.chunks_mut(h * w).zip(x_chunk.chunks(oh * ow)) {
                for (band, x_row) in op.chunks_exact_mut(k * w).zip(xp.chunks(ow)) {
                    for row in band.chunks_exact_mut(w) {
                        for (win, &v) in row.chunks_exact_mut(k).zip(x_row) {
                            win.fill(v);
                        }
                    }
                }
            }
        });
    out
}

/// Gradient of [`upsample_nearest2d`]: each `k × k` window of `grad_out` (`h × w` planes)
/// summed into its input element.
pub(crate) fn upsample_nearest2d_backward<T: Element>(grad_out: &[T], d: &PoolDims) -> Vec<T> {
    let PoolDims {
        planes,
        h,
        w,
        oh,
        ow,
        k,
    } = *d;
    let mut gx = vec![T::ZERO; planes * oh * ow];
    if gx.is_empty() {
        return gx;
    }
    let per_task = planes_per_task(h * w);
    gx.par_chunks_mut(per_task * oh * ow)
        .zip(grad_out.par_chunks(per_task * h * w))
        .for_each(|(gx_chunk, go_chunk)| {
            for (gp, gop) in gx_chunk.chunks_mut(oh * ow).zip(go_chunk.chunks(h * w)) {
                for (y, acc) in gp.chunks_mut(ow).enumerate() {
                    // acc[x] = Σ over window rows i, then columns j, of g[y·k + i][x·k + j].
                    for row in gop[y * k * w..(y + 1) * k * w].chunks_exact(w) {
                        for (a, win) in acc.iter_mut().zip(row.chunks_exact(k)) {
                            *a = win.iter().fold(*a, |s, &v| s + v);
                        }
                    }
                }
            }
        });
    gx
}
