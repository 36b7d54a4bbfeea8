//! 2-D convolution on the CPU (im2col + GEMM forward, GEMM + col2im backward), on slices.
//!
//! # Algorithm
//! Per image, the input is unfolded ("im2col") into a `[K, cols]` matrix whose column `j` holds
//! the input patch under output position `j`, and one [`gemm`] multiplies the weight by it
//! (`out = W · cols`). Backward recomputes the unfold — patch-major this time, `[cols, K]` — and
//! accumulates `grad_w += grad_out · colsᵀ`; when the input needs a gradient it also computes
//! `dcols = Wᵀ · grad_out` and folds it back onto the image ("col2im"). Both operands of every
//! GEMM are laid out so `matrixmultiply` packs them with row copies, never a strided gather.
//!
//! Measured alternatives (LeNet, batch 256, 2-core Zen 4): one wide GEMM over all images of a
//! task (`N = images·OH·OW`) was 2–3× slower than per-image GEMMs, because GEMMs that large make
//! `matrixmultiply` (built with its `threading` feature) start its own threads inside rayon's;
//! with `MATMUL_NUM_THREADS=1` it was at best ~10% faster (conv2 forward) and otherwise equal.
//! Per image, every LeNet GEMM stays below that size. A gather-packed `colsᵀ` for `grad_w` was
//! ~10% slower on conv2 than the patch-major unfold.
//!
//! **Row stacking.** With few output channels (LeNet's conv1 has 6) `M = C_out` fills only part
//! of `matrixmultiply`'s 16-row AVX-512 micro-tile (8 rows with AVX2), so most of each
//! micro-kernel call multiplies padding. We then compute `R` vertically adjacent output rows per
//! column: the unfold takes patches `KH + (R−1)·s` rows tall at vertical stride `R·s`, and the
//! weight becomes `[C_out·R, C_in·(KH + (R−1)·s)·KW]`, row `(co, r)` holding `W[co]` moved down
//! `r·s` rows (zeros elsewhere). `M` grows to `C_out·R`, the unfold shrinks by about
//! `R·KH / (KH + R − 1)`, and backward folds the stacked weight gradient by summing the `R`
//! shifted copies. On conv1 (R = 2) this cut forward time by ~30% and backward by ~38%.
//!
//! **Tuning constants:**
//! - [`IMAGES_PER_TASK`]: images per rayon task. Fixed, so the task split — and the order in
//!   which per-task partial weight gradients are summed — never depends on the thread count.
//!   Larger tasks amortise scratch set-up and the partial-gradient reduction, smaller ones balance
//!   load on small batches; 4–16 measured the same on LeNet.
//! - [`STACK_ROWS_TARGET`]: row stacking picks `R = STACK_ROWS_TARGET / C_out` (at least 1).
//!   Larger `R` adds zero rows to the stacked kernel (wasted multiply-adds); `R = 1` turns the
//!   trick off (it is also off when the stride exceeds the kernel height).
//! - [`GEMM_ALIGN`]: padding of the GEMM dimensions that may grow (10–15% on conv1).

use super::direct::{self, Epilogue};
use super::gemm::gemm;
use super::lanes::{add_into, sum_slice};
use crate::backend::op::ConvDims as Dims;
use crate::backend::{Element, Lanes};
use rayon::prelude::*;

/// Images per rayon task (see the module docs for the trade-off).
pub const IMAGES_PER_TASK: usize = 8;

/// GEMM dimensions that are free to grow (the forward's rows and columns, the weight gradient's
/// columns, grad_x's rows) are padded with zeros to a multiple of this: `matrixmultiply`'s widest
/// micro-tile is 16×16 (AVX-512 f32), and a ragged edge costs a masked tile store plus a scalar
/// packing loop. The padding costs at most 15 zero rows/columns of multiply-adds.
pub const GEMM_ALIGN: usize = 16;

/// Row stacking aims for `C_out · R` close to this many GEMM rows (see the module docs).
pub const STACK_ROWS_TARGET: usize = 16;

/// The geometry of one unfold: patches `kh × kw` at strides `sh`, `sw` over a `c × h × w` image
/// padded by `p`, giving `oh × ow` columns.
#[derive(Clone, Copy, Debug)]
struct Unfold {
    c: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    p: usize,
    oh: usize,
    ow: usize,
}

impl Unfold {
    /// Rows of the unfolded matrix.
    fn k(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// Columns of the unfolded matrix.
    fn n(&self) -> usize {
        self.oh * self.ow
    }
}

/// Output positions `o` in `0..n_out` whose input index `o·s + k − p` lies in `0..len`.
#[inline]
fn valid_range(k: usize, p: usize, s: usize, len: usize, n_out: usize) -> (usize, usize) {
    let lo = if p > k { (p - k).div_ceil(s) } else { 0 };
    let hi = if len + p > k {
        ((len + p - k - 1) / s + 1).min(n_out)
    } else {
        0
    };
    (lo.min(hi), hi)
}

/// `dst = src` for short rows: whole lanes, the ragged end as one more lane overlapping the
/// previous one, scalars only below one lane (no `memcpy` call per row).
#[inline(always)]
fn copy_short<T: Element>(dst: &mut [T], src: &[T]) {
    let w = T::Lanes::WIDTH;
    let n = dst.len();
    let src = &src[..n];
    if n < w {
        dst.copy_from_slice(src);
        return;
    }
    let body = n / w * w;
    for i in (0..body).step_by(w) {
        T::Lanes::load(&src[i..]).store(&mut dst[i..]);
    }
    if body < n {
        T::Lanes::load(&src[n - w..]).store(&mut dst[n - w..]);
    }
}

/// `dst = src + b` for short rows.
#[inline(always)]
fn copy_add_short<T: Element>(dst: &mut [T], src: &[T], b: T) {
    let w = T::Lanes::WIDTH;
    let n = dst.len();
    let body = n / w * w;
    let bl = T::Lanes::splat(b);
    for i in (0..body).step_by(w) {
        (T::Lanes::load(&src[i..]) + bl).store(&mut dst[i..]);
    }
    for i in body..n {
        dst[i] = src[i] + b;
    }
}

/// Unfolds one image `[C, H, W]` into `cols` `[K, OH·OW]` (row stride `ld`), row `(c, ki, kj)`.
///
/// Writes only the positions that read the image: the zero-padding positions depend on the
/// geometry alone, so the caller zeroes `cols` once and reuses it for every image.
fn im2col<T: Element>(u: &Unfold, img: &[T], cols: &mut [T], ld: usize) {
    let n = u.n();
    let plane_len = u.h * u.w;
    for c in 0..u.c {
        let plane = &img[c * plane_len..(c + 1) * plane_len];
        for ki in 0..u.kh {
            let (oh_lo, oh_hi) = valid_range(ki, u.p, u.sh, u.h, u.oh);
            for kj in 0..u.kw {
                let r = (c * u.kh + ki) * u.kw + kj;
                let row = &mut cols[r * ld..r * ld + n];
                let (ow_lo, ow_hi) = valid_range(kj, u.p, u.sw, u.w, u.ow);
                if ow_lo == ow_hi {
                    continue;
                }
                for oh in oh_lo..oh_hi {
                    let ih = oh * u.sh + ki - u.p;
                    let src = &plane[ih * u.w..(ih + 1) * u.w];
                    let dst = &mut row[oh * u.ow + ow_lo..oh * u.ow + ow_hi];
                    let iw0 = ow_lo * u.sw + kj - u.p;
                    if u.sw == 1 {
                        copy_short(dst, &src[iw0..iw0 + dst.len()]);
                    } else {
                        for (i, v) in dst.iter_mut().enumerate() {
                            *v = src[iw0 + i * u.sw];
                        }
                    }
                }
            }
        }
    }
}

/// Kernel offsets `k` in `0..kn` whose input index `o·s + k − p` lies in `0..len`.
#[inline]
fn kernel_range(o: usize, s: usize, p: usize, len: usize, kn: usize) -> (usize, usize) {
    let base = o * s;
    let lo = p.saturating_sub(base).min(kn);
    let hi = (len + p).saturating_sub(base).min(kn).max(lo);
    (lo, hi)
}

/// Unfolds one image into patch-major `cols_t` `[OH·OW, K]`, row stride `ld` (the transpose of
/// [`im2col`]'s layout), so that the weight-gradient GEMM packs its `B` operand with whole-row
/// copies instead of a strided gather. Zero-padding positions are left untouched, as in
/// [`im2col`].
///
/// Kernel rows are `KW` long: common widths get a copy of fixed length (no call, no loop).
fn im2col_patches<T: Element>(u: &Unfold, img: &[T], cols_t: &mut [T], ld: usize) {
    match u.kw {
        1 => patches_fixed::<T, 1>(u, img, cols_t, ld),
        2 => patches_fixed::<T, 2>(u, img, cols_t, ld),
        3 => patches_fixed::<T, 3>(u, img, cols_t, ld),
        4 => patches_fixed::<T, 4>(u, img, cols_t, ld),
        5 => patches_fixed::<T, 5>(u, img, cols_t, ld),
        7 => patches_fixed::<T, 7>(u, img, cols_t, ld),
        _ => patches_fixed::<T, 0>(u, img, cols_t, ld),
    }
}

/// [`im2col_patches`] for kernel width `KW` (0: any width, read from `u`).
#[inline(always)]
fn patches_fixed<T: Element, const KW: usize>(u: &Unfold, img: &[T], cols_t: &mut [T], ld: usize) {
    let kw = if KW == 0 { u.kw } else { KW };
    let k = ld;
    // Output columns whose whole kernel row lies inside the image.
    let (ow_lo, ow_hi) = {
        let lo = u.p.div_ceil(u.sw).min(u.ow);
        let hi = if u.w + u.p >= kw {
            ((u.w + u.p - kw) / u.sw + 1).min(u.ow)
        } else {
            0
        };
        (lo, hi.max(lo))
    };
    for oh in 0..u.oh {
        let (ki_lo, ki_hi) = kernel_range(oh, u.sh, u.p, u.h, u.kh);
        let band = &mut cols_t[oh * u.ow * k..(oh + 1) * u.ow * k];
        for c in 0..u.c {
            for ki in ki_lo..ki_hi {
                let ih = oh * u.sh + ki - u.p;
                let xrow = &img[(c * u.h + ih) * u.w..(c * u.h + ih + 1) * u.w];
                let at = (c * u.kh + ki) * kw;
                for ow in ow_lo..ow_hi {
                    let src = &xrow[ow * u.sw - u.p..];
                    let dst = &mut band[ow * k + at..];
                    if KW == 0 {
                        copy_short(&mut dst[..kw], src);
                    } else {
                        let a: [T; KW] = src[..KW].try_into().expect("kernel row");
                        dst[..KW].copy_from_slice(&a);
                    }
                }
                // Columns whose kernel row is cut by the left or right padding.
                for ow in (0..ow_lo).chain(ow_hi..u.ow) {
                    let (kj_lo, kj_hi) = kernel_range(ow, u.sw, u.p, u.w, kw);
                    if kj_lo < kj_hi {
                        let iw0 = ow * u.sw + kj_lo - u.p;
                        let dst = &mut band[ow * k + at + kj_lo..ow * k + at + kj_hi];
                        for (v, &x) in dst.iter_mut().zip(&xrow[iw0..]) {
                            *v = x;
                        }
                    }
                }
            }
        }
    }
}

/// Folds `cols` `[K, OH·OW]` (row stride `ld`) back onto the image gradient `img` `[C, H, W]`
/// (adding; the caller zeroes `img`). The exact transpose of [`im2col`].
fn col2im<T: Element>(u: &Unfold, cols: &[T], ld: usize, img: &mut [T]) {
    let n = u.n();
    let plane_len = u.h * u.w;
    for c in 0..u.c {
        let plane = &mut img[c * plane_len..(c + 1) * plane_len];
        for ki in 0..u.kh {
            let (oh_lo, oh_hi) = valid_range(ki, u.p, u.sh, u.h, u.oh);
            for kj in 0..u.kw {
                let r = (c * u.kh + ki) * u.kw + kj;
                let row = &cols[r * ld..r * ld + n];
                let (ow_lo, ow_hi) = valid_range(kj, u.p, u.sw, u.w, u.ow);
                if ow_lo == ow_hi {
                    continue;
                }
                for oh in oh_lo..oh_hi {
                    let ih = oh * u.sh + ki - u.p;
                    let src = &row[oh * u.ow + ow_lo..oh * u.ow + ow_hi];
                    let dst = &mut plane[ih * u.w..(ih + 1) * u.w];
                    let iw0 = ow_lo * u.sw + kj - u.p;
                    if u.sw == 1 {
                        add_into(&mut dst[iw0..iw0 + src.len()], src);
                    } else {
                        for (i, &v) in src.iter().enumerate() {
                            dst[iw0 + i * u.sw] += v;
                        }
                    }
                }
            }
        }
    }
}

/// Output rows `R` stacked per unfolded column (see the module docs). Stacking needs
/// s ≤ KH: with gaps between kernel rows the stacked patch would grow faster than the rows it
/// computes.
pub(super) fn stack_rows(d: &Dims) -> usize {
    if d.s <= d.kh {
        (STACK_ROWS_TARGET / d.co.max(1)).clamp(1, d.oh.max(1))
    } else {
        1
    }
}

/// The reduction length `C_in·(KH + (R−1)·s)·KW` of the forward GEMM (with row stacking).
pub(crate) fn gemm_k(d: &Dims) -> usize {
    d.c * (d.kh + (stack_rows(d) - 1) * d.s) * d.kw
}

/// How one convolution maps onto per-image GEMMs: row stacking and padded GEMM dimensions.
struct Plan<T: Element> {
    d: Dims,
    /// Output rows computed per unfolded column (1 = plain im2col).
    r: usize,
    u: Unfold,
    /// Unfolded rows `C_in·KH'·KW` and columns `⌈OH/R⌉·OW`.
    k: usize,
    n: usize,
    /// GEMM rows `C_out·R` and the padded sizes (multiples of [`GEMM_ALIGN`]).
    m: usize,
    m_pad: usize,
    k_pad: usize,
    n_pad: usize,
    /// The forward GEMM's `A`: the (stacked) weight transposed, `[k, m_pad]` (columns past `m`
    /// zero), so that packing it reads whole rows.
    w_fwd_t: Vec<T>,
}

impl<T: Element> Plan<T> {
    fn new(d: Dims, weight: &[T]) -> Self {
        let r = stack_rows(&d);
        let u = Unfold {
            c: d.c,
            h: d.h,
            w: d.w,
            kh: d.kh + (r - 1) * d.s,
            kw: d.kw,
            sh: r * d.s,
            sw: d.s,
            p: d.p,
            oh: d.oh.div_ceil(r),
            ow: d.ow,
        };
        let (k, n, m) = (u.k(), u.n(), d.co * r);
        let m_pad = m.next_multiple_of(GEMM_ALIGN);
        let mut plan = Plan {
            d,
            r,
            u,
            k,
            n,
            m,
            m_pad,
            k_pad: k.next_multiple_of(GEMM_ALIGN),
            n_pad: n.next_multiple_of(GEMM_ALIGN),
            w_fwd_t: Vec::new(),
        };
        let w = plan.stacked_weight(weight, m_pad, k);
        plan.w_fwd_t = (0..k * m_pad)
            .map(|i| w[(i % m_pad) * k + i / m_pad])
            .collect();
        plan
    }

    /// The stacked weight as a `[rows, ld]` matrix (zeros past row `m` and column `k`): row
    /// `(co, r)` holds `W[co]` moved down by `r·s` kernel rows.
    fn stacked_weight(&self, weight: &[T], rows: usize, ld: usize) -> Vec<T> {
        let (d, r, kh) = (&self.d, self.r, self.u.kh);
        let mut w = vec![T::ZERO; rows * ld];
        for co in 0..d.co {
            for rr in 0..r {
                let dst = &mut w[(co * r + rr) * ld..(co * r + rr + 1) * ld];
                for c in 0..d.c {
                    for ki in 0..d.kh {
                        let src = ((co * d.c + c) * d.kh + ki) * d.kw;
                        let at = (c * kh + ki + rr * d.s) * d.kw;
                        dst[at..at + d.kw].copy_from_slice(&weight[src..src + d.kw]);
                    }
                }
            }
        }
        w
    }

    /// Sums the `R` shifted copies of a stacked weight gradient `[m, ld]` into
    /// `[C_out, C_in·KH·KW]`.
    fn fold_weight_grad(&self, gw_stacked: &[T], ld: usize) -> Vec<T> {
        let (d, r, kh) = (&self.d, self.r, self.u.kh);
        let mut gw = vec![T::ZERO; d.co * d.c * d.kh * d.kw];
        for co in 0..d.co {
            for rr in 0..r {
                let src = &gw_stacked[(co * r + rr) * ld..(co * r + rr + 1) * ld];
                for c in 0..d.c {
                    for ki in 0..d.kh {
                        let dst = ((co * d.c + c) * d.kh + ki) * d.kw;
                        let at = (c * kh + ki + rr * d.s) * d.kw;
                        add_into(&mut gw[dst..dst + d.kw], &src[at..at + d.kw]);
                    }
                }
            }
        }
        gw
    }
}

/// x: `[N, C_in, H, W]`, weight: `[C_out, C_in, KH, KW]`, bias: `[C_out]` (shapes checked) →
/// `[N, C_out, OH, OW]`, bit-identical for any number of rayon threads: the direct kernel of
/// `direct.rs` where it applies (the same bits), else im2col + GEMM.
pub(crate) fn conv2d<T: Element>(x: &[T], weight: &[T], bias: Option<&[T]>, d: &Dims) -> Vec<T> {
    if direct::plan(d, Epilogue::Bias, gemm_k(d)) {
        if let Some(out) = direct::conv2d(x, weight, bias, d, Epilogue::Bias) {
            return out;
        }
    }
    conv2d_gemm(x, weight, bias, d)
}

/// `avg_pool2d(relu(conv2d(x) + bias), 2)` in one pass where the direct kernel applies, else
/// `None` (the caller composes the three kernels; both give the same bits).
pub(crate) fn conv2d_relu_pool2<T: Element>(
    x: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    d: &Dims,
) -> Option<Vec<T>> {
    if direct::plan(d, Epilogue::BiasReluPool2, gemm_k(d)) {
        direct::conv2d(x, weight, bias, d, Epilogue::BiasReluPool2)
    } else {
        None
    }
}

/// [`conv2d_relu_pool2`] that also returns `relu(conv2d(x) + bias)` (what its backward needs),
/// in one pass where the direct kernel applies (OH and OW even), else `None`.
pub(crate) fn conv2d_relu_pool2_keep<T: Element>(
    x: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    d: &Dims,
) -> Option<(Vec<T>, Vec<T>)> {
    if direct::plan(d, Epilogue::BiasReluPool2Keep, gemm_k(d)) {
        direct::conv2d_keep(x, weight, bias, d)
    } else {
        None
    }
}

/// Gradients `(grad_x if need_input_grad, grad_w, grad_b)` of `avg_pool2d(relu(conv2d(x)), 2)`
/// from the relu output `act` and the pooled gradient `g`, in one pass of the direct kernels
/// where they apply (the bits of `pool::avg_pool2d_relu_backward` then [`conv2d_backward`]),
/// else `None`.
pub(crate) fn conv2d_relu_pool2_backward<T: Element>(
    x: &[T],
    weight: &[T],
    act: &[T],
    g: &[T],
    d: &Dims,
    need_input_grad: bool,
) -> Option<(Option<Vec<T>>, Vec<T>, Vec<T>)> {
    if !(direct::plan(d, Epilogue::BiasReluPool2Keep, gemm_k(d)) && direct::plan_weight_grad(d)) {
        return None;
    }
    let order = direct::GemmOrder {
        rows: stack_rows(d),
        images: IMAGES_PER_TASK,
    };
    direct::relu_pool2_backward(x, weight, act, g, d, order, need_input_grad)
}

/// [`conv2d`] by im2col + GEMM.
pub(super) fn conv2d_gemm<T: Element>(
    x: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    d: &Dims,
) -> Vec<T> {
    let mut out = vec![T::ZERO; d.n * d.out_img()];
    if out.is_empty() {
        return out;
    }
    let plan = Plan::new(*d, weight);
    let (k, n, np, r) = (plan.k, plan.n, plan.n_pad, plan.r);
    let sp = d.oh * d.ow;
    let per_task = IMAGES_PER_TASK;
    out.par_chunks_mut(per_task * d.out_img())
        .zip(x.par_chunks(per_task * d.in_img()))
        .for_each_init(
            // Scratch per task: the unfold `[k, n_pad]` (zeroed once: see `im2col`) and
            // the product `[m_pad, n_pad]` before it is scattered into the output.
            || (vec![T::ZERO; k * np], vec![T::ZERO; plan.m_pad * np]),
            |(cols, prod), (out_chunk, x_chunk)| {
                for (o, xi) in out_chunk
                    .chunks_mut(d.out_img())
                    .zip(x_chunk.chunks(d.in_img()))
                {
                    im2col(&plan.u, xi, cols, np);
                    // m = C_out·R padded, n = ⌈OH/R⌉·OW padded, k = C_in·(KH+(R−1)s)·KW;
                    // A = stacked W stored transposed `[k, m_pad]`, B = cols, C = prod.
                    gemm(
                        true,
                        false,
                        plan.m_pad,
                        np,
                        k,
                        T::ONE,
                        &plan.w_fwd_t,
                        cols,
                        T::ZERO,
                        prod,
                    );
                    for (co, plane) in o.chunks_mut(sp).enumerate() {
                        let b = bias.map_or(T::ZERO, |b| b[co]);
                        if r == 1 {
                            copy_add_short(plane, &prod[co * np..co * np + n], b);
                            continue;
                        }
                        // Row (co, r), column (ohb, ow) of prod is output row ohb·R + r.
                        for (oh, dst) in plane.chunks_mut(d.ow).enumerate() {
                            let at = (co * r + oh % r) * np + (oh / r) * d.ow;
                            copy_add_short(dst, &prod[at..at + d.ow], b);
                        }
                    }
                }
            },
        );
    out
}

/// Gradients of [`conv2d`] given the output gradient (shapes checked): `(grad_x` when
/// `need_input_grad`, `grad_w, grad_b)`. `grad_w` and `grad_b` are summed per task of
/// [`IMAGES_PER_TASK`] images, then over tasks in order, so they are bit-identical for any
/// number of rayon threads.
///
/// `grad_w` and (without row stacking) `grad_x` come from the direct kernels of `direct.rs`
/// where they apply (the same sums in the same order: the same bits on a CPU with FMA), the
/// rest from the GEMMs below; `grad_b` always from the latter.
#[allow(clippy::type_complexity)]
pub(crate) fn conv2d_backward<T: Element>(
    x: &[T],
    weight: &[T],
    grad_out: &[T],
    d: &Dims,
    need_input_grad: bool,
) -> (Option<Vec<T>>, Vec<T>, Vec<T>) {
    if d.n > 0 && d.out_img() > 0 && direct::plan_weight_grad(d) {
        let order = direct::GemmOrder {
            rows: stack_rows(d),
            images: IMAGES_PER_TASK,
        };
        if let Some(gw) = direct::weight_grad(x, grad_out, d, order) {
            let direct_gx = need_input_grad && order.rows == 1;
            let gx = if direct_gx {
                direct::input_grad(weight, grad_out, d)
            } else {
                None
            };
            let gemm_gx = need_input_grad && gx.is_none();
            let (gemm_gx, _, gb) = conv2d_backward_gemm(x, weight, grad_out, d, gemm_gx, false);
            return (gx.or(gemm_gx), gw, gb);
        }
    }
    conv2d_backward_gemm(x, weight, grad_out, d, need_input_grad, true)
}

/// [`conv2d_backward`] by GEMMs; `grad_w` is only computed when `need_weight_grad` (zeros
/// otherwise).
#[allow(clippy::type_complexity)]
pub(super) fn conv2d_backward_gemm<T: Element>(
    x: &[T],
    weight: &[T],
    grad_out: &[T],
    d: &Dims,
    need_input_grad: bool,
    need_weight_grad: bool,
) -> (Option<Vec<T>>, Vec<T>, Vec<T>) {
    let mut gx = need_input_grad.then(|| vec![T::ZERO; x.len()]);
    if d.n == 0 || d.out_img() == 0 {
        return (gx, vec![T::ZERO; weight.len()], vec![T::ZERO; d.co]);
    }
    let plan = Plan::new(*d, weight);
    let (n, m, kp, r) = (plan.n, plan.m, plan.k_pad, plan.r);
    // Wᵀ for grad_x: the stacked weight `[m, k_pad]`, read transposed.
    let w_t = if need_input_grad {
        plan.stacked_weight(weight, m, kp)
    } else {
        Vec::new()
    };
    let sp = d.oh * d.ow;
    let per_task = IMAGES_PER_TASK;
    let tasks = d.n.div_ceil(per_task);
    // One optional disjoint `&mut` chunk of grad_x per task.
    let gx_chunks: Vec<Option<&mut [T]>> = match gx.as_mut() {
        Some(v) if d.in_img() > 0 => v.chunks_mut(per_task * d.in_img()).map(Some).collect(),
        _ => (0..tasks).map(|_| None).collect(),
    };
    let partials: Vec<(Vec<T>, Vec<T>)> = gx_chunks
        .into_par_iter()
        .enumerate()
        .map_init(
            // Scratch per task: the patch-major unfold `[n, k_pad]` (zeroed once), the
            // stacked grad_out `[m, n]` (R > 1; padding rows stay zero) and dcols `[k_pad, n]`.
            || {
                let go_len = if r > 1 { m * n } else { 0 };
                let dcols_len = if need_input_grad { kp * n } else { 0 };
                (
                    vec![T::ZERO; if need_weight_grad { n * kp } else { 0 }],
                    vec![T::ZERO; go_len],
                    vec![T::ZERO; dcols_len],
                )
            },
            |(cols_t, go_stacked, dcols), (t, mut gx_chunk)| {
                let i0 = t * per_task;
                let i1 = (i0 + per_task).min(d.n);
                let mut gw = vec![T::ZERO; if need_weight_grad { m * kp } else { 0 }];
                let mut gb = vec![T::ZERO; d.co];
                for i in i0..i1 {
                    let xi = &x[i * d.in_img()..(i + 1) * d.in_img()];
                    let go = &grad_out[i * d.out_img()..(i + 1) * d.out_img()];
                    for (g, plane) in gb.iter_mut().zip(go.chunks(sp)) {
                        *g += sum_slice(plane);
                    }
                    if !need_weight_grad && gx_chunk.is_none() {
                        continue;
                    }
                    let go_m: &[T] = if r == 1 {
                        go
                    } else {
                        for (co, plane) in go.chunks(sp).enumerate() {
                            for (oh, src) in plane.chunks(d.ow).enumerate() {
                                let at = (co * r + oh % r) * n + (oh / r) * d.ow;
                                copy_short(&mut go_stacked[at..at + d.ow], src);
                            }
                        }
                        go_stacked
                    };
                    if need_weight_grad {
                        im2col_patches(&plan.u, xi, cols_t, kp);
                        // grad_w += grad_out · colsᵀ: m = C_out·R, n = k_pad, k = ⌈OH/R⌉·OW;
                        // A = grad_out `[m, n]`, B = cols_t `[n, k_pad]`, C = gw `[m, k_pad]`.
                        gemm(
                            false,
                            false,
                            m,
                            kp,
                            n,
                            T::ONE,
                            go_m,
                            cols_t,
                            T::ONE,
                            &mut gw,
                        );
                    }
                    if let Some(gxc) = gx_chunk.as_deref_mut() {
                        // dcols = Wᵀ · grad_out: m = k_pad, n = ⌈OH/R⌉·OW, k = C_out·R;
                        // A = w_t stored `[C_out·R, k_pad]` (transposed), B = grad_out.
                        gemm(true, false, kp, n, m, T::ONE, &w_t, go_m, T::ZERO, dcols);
                        let gxi = &mut gxc[(i - i0) * d.in_img()..(i - i0 + 1) * d.in_img()];
                        col2im(&plan.u, dcols, n, gxi);
                    }
                }
                (gw, gb)
            },
        )
        .collect();
    // Partial sums in task order: independent of how rayon scheduled the tasks.
    let mut gw = vec![T::ZERO; m * kp];
    let mut gb = vec![T::ZERO; d.co];
    for (pw, pb) in &partials {
        if need_weight_grad {
            add_into(&mut gw, pw);
        }
        add_into(&mut gb, pb);
    }
    let gw = plan.fold_weight_grad(&gw, kp);
    (gx, gw, gb)
}
