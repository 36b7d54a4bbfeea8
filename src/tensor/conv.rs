//! 2-D convolution kernels (im2col + GEMM forward, GEMM + col2im backward).
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

use super::gemm::gemm;
use super::reduce::sum_slice;
use super::{Element, Lanes, Tensor};
use crate::error::{Error, Result};
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

/// Stride and zero padding of a 2-D convolution (same in both spatial axes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dGeometry {
    /// Step between neighbouring output positions, in input pixels (≥ 1).
    pub stride: usize,
    /// Zero rows/columns added on every side of the input.
    pub padding: usize,
}

/// The checked shapes of one convolution.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dims {
    /// Images.
    pub n: usize,
    /// Input channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub co: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Stride.
    pub s: usize,
    /// Padding.
    pub p: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
}

impl Dims {
    fn new(op: &'static str, x: &[usize], wt: &[usize], geom: Conv2dGeometry) -> Result<Dims> {
        let (&[n, c, h, w], &[co, ci, kh, kw]) = (x, wt) else {
            return Err(Error::shape(
                op,
                "x [N, C_in, H, W] and weight [C_out, C_in, KH, KW]",
                &[x, wt],
            ));
        };
        if geom.stride == 0 {
            return Err(Error::invalid(op, "stride must be at least 1, got 0"));
        }
        if ci != c {
            return Err(Error::shape(
                op,
                "weight C_in equal to the input's channels",
                &[x, wt],
            ));
        }
        let p = geom.padding;
        if kh == 0 || kw == 0 || kh > h + 2 * p || kw > w + 2 * p {
            return Err(Error::shape(
                op,
                format!("a non-empty kernel no larger than the input padded by {p}"),
                &[x, wt],
            ));
        }
        let s = geom.stride;
        Ok(Dims {
            n,
            c,
            h,
            w,
            co,
            kh,
            kw,
            s,
            p,
            oh: (h + 2 * p - kh) / s + 1,
            ow: (w + 2 * p - kw) / s + 1,
        })
    }

    fn in_img(&self) -> usize {
        self.c * self.h * self.w
    }

    fn out_img(&self) -> usize {
        self.co * self.oh * self.ow
    }
}

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

/// `dst += src` for short rows.
#[inline(always)]
fn add_short<T: Element>(dst: &mut [T], src: &[T]) {
    let w = T::Lanes::WIDTH;
    let n = dst.len();
    let body = n / w * w;
    for i in (0..body).step_by(w) {
        (T::Lanes::load(&dst[i..]) + T::Lanes::load(&src[i..])).store(&mut dst[i..]);
    }
    for i in body..n {
        dst[i] += src[i];
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
                        add_short(&mut dst[iw0..iw0 + src.len()], src);
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
        // Stacking needs s ≤ KH: with gaps between kernel rows the stacked patch would grow
        // faster than the rows it computes.
        let r = if d.s <= d.kh {
            (STACK_ROWS_TARGET / d.co.max(1)).clamp(1, d.oh.max(1))
        } else {
            1
        };
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
                        add_short(&mut gw[dst..dst + d.kw], &src[at..at + d.kw]);
                    }
                }
            }
        }
        gw
    }
}

impl<T: Element> Tensor<T> {
    /// x: `[N, C_in, H, W]`, weight: `[C_out, C_in, KH, KW]`, bias: `[C_out]` →
    /// `[N, C_out, OH, OW]`, OH = (H + 2p − KH)/s + 1 (floor), likewise OW.
    ///
    /// Errors: [`Error::Shape`] for a wrong rank, mismatched input channels, a bias that is not
    /// `[C_out]` or a kernel larger than the padded input; [`Error::InvalidArgument`] for stride 0.
    /// The result is bit-identical for any number of rayon threads.
    pub fn conv2d(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        geom: Conv2dGeometry,
    ) -> Result<Tensor<T>> {
        let d = Dims::new("conv2d", self.shape(), weight.shape(), geom)?;
        if let Some(b) = bias {
            if b.shape() != [d.co] {
                return Err(Error::shape(
                    "conv2d",
                    format!("bias [{}] (C_out)", d.co),
                    &[self.shape(), weight.shape(), b.shape()],
                ));
            }
        }
        #[cfg(feature = "gpu")]
        if super::on_gpu(&[self, weight]) {
            return crate::gpu::ops::conv2d(self, weight, bias, &d);
        }
        let out_shape = [d.n, d.co, d.oh, d.ow];
        let mut out = vec![T::ZERO; d.n * d.out_img()];
        if out.is_empty() {
            return Tensor::from_vec(out, &out_shape);
        }
        let plan = Plan::new(d, weight.data());
        let bias = bias.map(|b| b.data());
        let (k, n, np, r) = (plan.k, plan.n, plan.n_pad, plan.r);
        let sp = d.oh * d.ow;
        let per_task = IMAGES_PER_TASK;
        out.par_chunks_mut(per_task * d.out_img())
            .zip(self.data().par_chunks(per_task * d.in_img()))
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
        Tensor::from_vec(out, &out_shape)
    }

    /// Gradients of conv2d given the output gradient `grad_out` (self = x): returns
    /// (grad_x, grad_w, grad_b). grad_x is only computed when `need_input_grad` (the first
    /// layer's input needs none) — None otherwise.
    ///
    /// Errors: as [`conv2d`](Tensor::conv2d), plus [`Error::Shape`] when `grad_out` is not
    /// `[N, C_out, OH, OW]`.
    ///
    /// `grad_w` and `grad_b` are summed per task of [`IMAGES_PER_TASK`] images, then over tasks
    /// in order, so they are bit-identical for any number of rayon threads.
    #[allow(clippy::type_complexity)] // the signature is the crate-wide API
    pub fn conv2d_backward(
        &self,
        weight: &Tensor<T>,
        grad_out: &Tensor<T>,
        geom: Conv2dGeometry,
        need_input_grad: bool,
    ) -> Result<(Option<Tensor<T>>, Tensor<T>, Tensor<T>)> {
        let d = Dims::new("conv2d_backward", self.shape(), weight.shape(), geom)?;
        if grad_out.shape() != [d.n, d.co, d.oh, d.ow] {
            return Err(Error::shape(
                "conv2d_backward",
                format!("grad_out [{}, {}, {}, {}]", d.n, d.co, d.oh, d.ow),
                &[self.shape(), weight.shape(), grad_out.shape()],
            ));
        }
        #[cfg(feature = "gpu")]
        if super::on_gpu(&[self, weight, grad_out]) && d.n > 0 && d.out_img() > 0 {
            return crate::gpu::ops::conv2d_backward(self, weight, grad_out, &d, need_input_grad);
        }
        let mut gx = need_input_grad.then(|| vec![T::ZERO; self.len()]);
        if d.n == 0 || d.out_img() == 0 {
            let gx = gx.map(|v| Tensor::from_vec(v, self.shape())).transpose()?;
            return Ok((gx, Tensor::zeros(weight.shape()), Tensor::zeros(&[d.co])));
        }
        let plan = Plan::new(d, weight.data());
        let (n, m, kp, r) = (plan.n, plan.m, plan.k_pad, plan.r);
        // Wᵀ for grad_x: the stacked weight `[m, k_pad]`, read transposed.
        let w_t = if need_input_grad {
            plan.stacked_weight(weight.data(), m, kp)
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
                        vec![T::ZERO; n * kp],
                        vec![T::ZERO; go_len],
                        vec![T::ZERO; dcols_len],
                    )
                },
                |(cols_t, go_stacked, dcols), (t, mut gx_chunk)| {
                    let i0 = t * per_task;
                    let i1 = (i0 + per_task).min(d.n);
                    let mut gw = vec![T::ZERO; m * kp];
                    let mut gb = vec![T::ZERO; d.co];
                    for i in i0..i1 {
                        let xi = &self.data()[i * d.in_img()..(i + 1) * d.in_img()];
                        let go = &grad_out.data()[i * d.out_img()..(i + 1) * d.out_img()];
                        for (g, plane) in gb.iter_mut().zip(go.chunks(sp)) {
                            *g += sum_slice(plane);
                        }
                        im2col_patches(&plan.u, xi, cols_t, kp);
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
            add_short(&mut gw, pw);
            add_short(&mut gb, pb);
        }
        let gw = plan.fold_weight_grad(&gw, kp);
        let gx = gx.map(|v| Tensor::from_vec(v, self.shape())).transpose()?;
        Ok((
            gx,
            Tensor::from_vec(gw, weight.shape())?,
            Tensor::from_vec(gb, &[d.co])?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// (N, C_in, H, W, C_out, KH, KW, stride, padding)
    type Case = (
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
    );

    /// LeNet's two layers plus stride 2 / padding 1 / non-square / C_in > 1 / 1×1 kernels,
    /// stride larger than the kernel (no row stacking), padding larger than the kernel, and
    /// batches that span several tasks. C_out 1..16 exercises row stacking R = 16, 8, 4, 2, 1.
    const CASES: [Case; 9] = [
        (3, 1, 28, 28, 6, 5, 5, 1, 2),
        (2, 6, 14, 14, 16, 5, 5, 1, 0),
        (3, 3, 7, 9, 4, 3, 2, 2, 1),
        (1, 2, 5, 5, 3, 3, 3, 3, 0),
        (5, 2, 6, 4, 1, 1, 1, 1, 0),
        (IMAGES_PER_TASK + 3, 1, 8, 8, 2, 3, 3, 1, 1),
        (1, 1, 9, 9, 2, 2, 2, 3, 0),
        (2, 1, 3, 3, 2, 2, 2, 1, 3),
        (2, 2, 6, 7, 8, 4, 3, 2, 2),
    ];

    fn out_size(len: usize, k: usize, s: usize, p: usize) -> usize {
        (len + 2 * p - k) / s + 1
    }

    /// Input index `o·s + k − p`, or None inside the zero padding.
    fn in_index(o: usize, k: usize, s: usize, p: usize, len: usize) -> Option<usize> {
        (o * s + k).checked_sub(p).filter(|&i| i < len)
    }

    /// Direct-loop convolution:
    /// out[n,co,oh,ow] = b[co] + Σ w[co,c,ki,kj]·x[n,c,oh·s+ki−p,ow·s+kj−p], zero outside x.
    fn naive_forward(case: Case, x: &[f64], w: &[f64], b: &[f64]) -> Vec<f64> {
        let (n, c, h, wd, co, kh, kw, s, p) = case;
        let (oh, ow) = (out_size(h, kh, s, p), out_size(wd, kw, s, p));
        let mut out = vec![0.0; n * co * oh * ow];
        for i in 0..n {
            for o in 0..co {
                for y in 0..oh {
                    for z in 0..ow {
                        let mut acc = b[o];
                        for ci in 0..c {
                            for ki in 0..kh {
                                for kj in 0..kw {
                                    if let (Some(ih), Some(iw)) =
                                        (in_index(y, ki, s, p, h), in_index(z, kj, s, p, wd))
                                    {
                                        acc += w[((o * c + ci) * kh + ki) * kw + kj]
                                            * x[((i * c + ci) * h + ih) * wd + iw];
                                    }
                                }
                            }
                        }
                        out[((i * co + o) * oh + y) * ow + z] = acc;
                    }
                }
            }
        }
        out
    }

    /// Direct-loop gradients of `naive_forward`: every product w·x of the forward sum sends
    /// go·x to grad_w, go·w to grad_x, and go to grad_b.
    fn naive_backward(case: Case, x: &[f64], w: &[f64], go: &[f64]) -> [Vec<f64>; 3] {
        let (n, c, h, wd, co, kh, kw, s, p) = case;
        let (oh, ow) = (out_size(h, kh, s, p), out_size(wd, kw, s, p));
        let (mut gx, mut gw, mut gb) = (vec![0.0; x.len()], vec![0.0; w.len()], vec![0.0; co]);
        for i in 0..n {
            for o in 0..co {
                for y in 0..oh {
                    for z in 0..ow {
                        let g = go[((i * co + o) * oh + y) * ow + z];
                        gb[o] += g;
                        for ci in 0..c {
                            for ki in 0..kh {
                                for kj in 0..kw {
                                    if let (Some(ih), Some(iw)) =
                                        (in_index(y, ki, s, p, h), in_index(z, kj, s, p, wd))
                                    {
                                        let xi = ((i * c + ci) * h + ih) * wd + iw;
                                        let wi = ((o * c + ci) * kh + ki) * kw + kj;
                                        gw[wi] += g * x[xi];
                                        gx[xi] += g * w[wi];
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        [gx, gw, gb]
    }

    struct Inputs<T: Element> {
        x: Tensor<T>,
        w: Tensor<T>,
        b: Tensor<T>,
        go: Tensor<T>,
        geom: Conv2dGeometry,
    }

    fn inputs<T: Element>(case: Case, seed: u64) -> Inputs<T> {
        let (n, c, h, wd, co, kh, kw, s, p) = case;
        let mut rng = StdRng::seed_from_u64(seed);
        let (oh, ow) = (out_size(h, kh, s, p), out_size(wd, kw, s, p));
        Inputs {
            x: Tensor::rand_uniform(&[n, c, h, wd], -1.0, 1.0, &mut rng),
            w: Tensor::rand_uniform(&[co, c, kh, kw], -1.0, 1.0, &mut rng),
            b: Tensor::rand_uniform(&[co], -1.0, 1.0, &mut rng),
            go: Tensor::rand_uniform(&[n, co, oh, ow], -1.0, 1.0, &mut rng),
            geom: Conv2dGeometry {
                stride: s,
                padding: p,
            },
        }
    }

    fn assert_close<T: Element>(got: &[T], want: &[f64], tol: f64, what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            let g = g.to_f64();
            assert!(
                (g - w).abs() <= tol * (1.0 + w.abs()),
                "{what}[{i}]: got {g}, want {w}"
            );
        }
    }

    fn as_f64<T: Element>(t: &Tensor<T>) -> Vec<f64> {
        t.data().iter().map(|v| v.to_f64()).collect()
    }

    fn check_case<T: Element>(case: Case, tol: f64) {
        let t = inputs::<T>(case, 7);
        let (x, w, b, go) = (as_f64(&t.x), as_f64(&t.w), as_f64(&t.b), as_f64(&t.go));
        let what = format!("{} {case:?}", T::NAME);

        let out = t.x.conv2d(&t.w, Some(&t.b), t.geom).unwrap();
        assert_eq!(out.shape(), t.go.shape(), "{what}: output shape");
        assert_close(
            out.data(),
            &naive_forward(case, &x, &w, &b),
            tol,
            &format!("{what} out"),
        );
        let no_bias = t.x.conv2d(&t.w, None, t.geom).unwrap();
        let zero_b = vec![0.0; b.len()];
        let want = naive_forward(case, &x, &w, &zero_b);
        assert_close(no_bias.data(), &want, tol, &format!("{what} out (no bias)"));

        let [gx, gw, gb] = naive_backward(case, &x, &w, &go);
        let (got_gx, got_gw, got_gb) = t.x.conv2d_backward(&t.w, &t.go, t.geom, true).unwrap();
        let got_gx = got_gx.expect("grad_x requested");
        assert_eq!(got_gx.shape(), t.x.shape());
        assert_eq!(got_gw.shape(), t.w.shape());
        assert_eq!(got_gb.shape(), t.b.shape());
        assert_close(got_gx.data(), &gx, tol, &format!("{what} grad_x"));
        assert_close(got_gw.data(), &gw, tol, &format!("{what} grad_w"));
        assert_close(got_gb.data(), &gb, tol, &format!("{what} grad_b"));

        let (none, gw2, gb2) = t.x.conv2d_backward(&t.w, &t.go, t.geom, false).unwrap();
        assert!(
            none.is_none(),
            "{what}: grad_x computed though not asked for"
        );
        assert_eq!(gw2, got_gw, "{what}: grad_w depends on need_input_grad");
        assert_eq!(gb2, got_gb, "{what}: grad_b depends on need_input_grad");
    }

    #[test]
    fn matches_direct_loops_f64() {
        for case in CASES {
            check_case::<f64>(case, 1e-12);
        }
    }

    #[test]
    fn matches_direct_loops_f32() {
        for case in CASES {
            check_case::<f32>(case, 2e-4);
        }
    }

    #[test]
    fn tiny_hand_worked_case() {
        // x = [[1, 2], [3, 4]], w = [[1, 0], [0, 1]] (adds the diagonal), b = 0.5, padding 0:
        // a single output 1·1 + 4·1 + 0.5 = 5.5. With grad_out = 2: grad_w = 2·x,
        // grad_x = 2·w, grad_b = 2.
        let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2]).unwrap();
        let w = Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0], &[1, 1, 2, 2]).unwrap();
        let b = Tensor::from_vec(vec![0.5], &[1]).unwrap();
        let geom = Conv2dGeometry {
            stride: 1,
            padding: 0,
        };
        let out = x.conv2d(&w, Some(&b), geom).unwrap();
        assert_eq!(out.shape(), [1, 1, 1, 1]);
        assert_eq!(out.data(), [5.5]);
        let go = Tensor::from_vec(vec![2.0], &[1, 1, 1, 1]).unwrap();
        let (gx, gw, gb) = x.conv2d_backward(&w, &go, geom, true).unwrap();
        assert_eq!(gx.unwrap().data(), [2.0, 0.0, 0.0, 2.0]);
        assert_eq!(gw.data(), [2.0, 4.0, 6.0, 8.0]);
        assert_eq!(gb.data(), [2.0]);
    }

    #[test]
    fn backward_matches_finite_differences() {
        // L = Σ out · go; central differences of L in x, w and b against conv2d_backward (f64).
        let case: Case = (2, 2, 6, 5, 3, 3, 2, 2, 1);
        let t = inputs::<f64>(case, 11);
        let loss = |x: &Tensor<f64>, w: &Tensor<f64>, b: &Tensor<f64>| -> f64 {
            let out = x.conv2d(w, Some(b), t.geom).unwrap();
            out.data().iter().zip(t.go.data()).map(|(o, g)| o * g).sum()
        };
        let (gx, gw, gb) = t.x.conv2d_backward(&t.w, &t.go, t.geom, true).unwrap();
        let eps = 1e-6;
        let fd = |which: usize, i: usize| -> f64 {
            let mut ts = [t.x.clone(), t.w.clone(), t.b.clone()];
            ts[which].data_mut()[i] += eps;
            let up = loss(&ts[0], &ts[1], &ts[2]);
            ts[which].data_mut()[i] -= 2.0 * eps;
            let down = loss(&ts[0], &ts[1], &ts[2]);
            (up - down) / (2.0 * eps)
        };
        for (which, g) in [gx.unwrap(), gw, gb].iter().enumerate() {
            for (i, &v) in g.data().iter().enumerate() {
                let want = fd(which, i);
                assert!(
                    (v - want).abs() <= 1e-6 * (1.0 + want.abs()),
                    "operand {which}[{i}]: analytic {v}, numeric {want}"
                );
            }
        }
    }

    #[test]
    fn bit_identical_for_any_thread_count() {
        // LeNet's layers with a batch spanning several tasks and a ragged last task.
        for case in [
            (3 * IMAGES_PER_TASK + 5, 1, 28, 28, 6, 5, 5, 1, 2),
            (3 * IMAGES_PER_TASK + 5, 6, 14, 14, 16, 5, 5, 1, 0),
        ] {
            let t = inputs::<f32>(case, 3);
            let run = |threads: usize| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| {
                        let out = t.x.conv2d(&t.w, Some(&t.b), t.geom).unwrap();
                        let (gx, gw, gb) = t.x.conv2d_backward(&t.w, &t.go, t.geom, true).unwrap();
                        (out, gx.unwrap(), gw, gb)
                    })
            };
            let (a, b) = (run(1), run(2));
            let bits = |v: &Tensor<f32>| v.data().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a.0), bits(&b.0), "{case:?} forward");
            assert_eq!(bits(&a.1), bits(&b.1), "{case:?} grad_x");
            assert_eq!(bits(&a.2), bits(&b.2), "{case:?} grad_w");
            assert_eq!(bits(&a.3), bits(&b.3), "{case:?} grad_b");
        }
    }

    #[test]
    fn empty_batch_gives_empty_output_and_zero_gradients() {
        let t = inputs::<f64>((1, 2, 5, 5, 3, 3, 3, 1, 1), 1);
        let x = Tensor::<f64>::zeros(&[0, 2, 5, 5]);
        let out = x.conv2d(&t.w, Some(&t.b), t.geom).unwrap();
        assert_eq!(out.shape(), [0, 3, 5, 5]);
        let (gx, gw, gb) = x.conv2d_backward(&t.w, &out, t.geom, true).unwrap();
        assert_eq!(gx.unwrap().shape(), [0, 2, 5, 5]);
        assert_eq!(gw, Tensor::zeros(&[3, 2, 3, 3]));
        assert_eq!(gb, Tensor::zeros(&[3]));
    }

    #[test]
    fn bad_shapes_and_arguments_are_errors() {
        let g = Conv2dGeometry {
            stride: 1,
            padding: 0,
        };
        let x = Tensor::<f32>::zeros(&[2, 3, 8, 8]);
        let w = Tensor::<f32>::zeros(&[4, 3, 3, 3]);
        let shape_err = |r: Result<Tensor<f32>>, needle: &str| match r {
            Err(e @ Error::Shape { op: "conv2d", .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(needle), "{msg} should mention {needle}");
            }
            other => panic!("expected a conv2d shape error, got {other:?}"),
        };
        // Wrong rank of x and of the weight.
        shape_err(Tensor::zeros(&[3, 8, 8]).conv2d(&w, None, g), "[3, 8, 8]");
        shape_err(x.conv2d(&Tensor::zeros(&[4, 3, 3]), None, g), "[4, 3, 3]");
        // Channel mismatch.
        shape_err(
            x.conv2d(&Tensor::zeros(&[4, 2, 3, 3]), None, g),
            "[4, 2, 3, 3]",
        );
        // Kernel larger than the (padded) input; fits once padded.
        shape_err(
            x.conv2d(&Tensor::zeros(&[4, 3, 9, 3]), None, g),
            "[4, 3, 9, 3]",
        );
        let padded = Conv2dGeometry {
            stride: 1,
            padding: 1,
        };
        assert!(x
            .conv2d(&Tensor::zeros(&[4, 3, 9, 3]), None, padded)
            .is_ok());
        // Bias of the wrong length.
        shape_err(x.conv2d(&w, Some(&Tensor::zeros(&[3])), g), "bias");
        // Stride 0.
        let zero = Conv2dGeometry {
            stride: 0,
            padding: 0,
        };
        assert!(matches!(
            x.conv2d(&w, None, zero),
            Err(Error::InvalidArgument { op: "conv2d", .. })
        ));
        // grad_out of the wrong shape.
        let go = Tensor::<f32>::zeros(&[2, 4, 6, 5]);
        match x.conv2d_backward(&w, &go, g, true) {
            Err(Error::Shape { op, shapes, .. }) => {
                assert_eq!(op, "conv2d_backward");
                assert_eq!(shapes[2], [2, 4, 6, 5]);
            }
            other => panic!("expected a shape error, got {other:?}"),
        }
        assert!(matches!(
            x.conv2d_backward(&w, &go, zero, false),
            Err(Error::InvalidArgument { .. })
        ));
    }
}
