//! Direct convolution for small channel counts on AVX + FMA (f32 and f64), with the bias and,
//! optionally, relu and 2×2 average pooling fused into the output pass.
//!
//! # Algorithm
//! Images go into the SIMD lanes ("batch in lanes"): a tile of `L` images (8 f32, 4 f64) is
//! transposed into `[C_in, H + 2p, W + 2p]` vectors of `L` (zero padding included), so every
//! lane does the same work and no output width is ever ragged. One register block is `CT`
//! output channels × a 2×2 block of output positions (one pooling window): per kernel tap it
//! loads 4 input vectors and broadcasts `CT` weights for `4·CT` FMAs. The epilogue adds the
//! bias and either stores the four outputs or applies relu and pools them in registers, so the
//! fused op writes only the pooled activation.
//!
//! **Same bits as the GEMM path.** Each output is `fma(w, x, acc)` over the taps in the order
//! `(c, ki, kj)`, starting from zero, then `+ bias` — exactly what `matrixmultiply`'s FMA
//! micro-kernel computes for im2col + GEMM when `K` fits in one of its `KC` = 256 blocks (the
//! zero taps row stacking adds leave a sum unchanged). Relu and pooling repeat `unary_slice`
//! and `pool_planes` operation for operation (`max(v, 0)`; `((0 + v00) + v01) + v10) + v11`,
//! then `/ 4`). So on a CPU with AVX2 + FMA (where `matrixmultiply` picks its FMA kernel) the
//! direct and GEMM paths agree bit for bit for finite inputs — the tests check it — and results
//! do not depend on which path ran. (With an infinite input the GEMM path's zero-weight padding
//! taps make NaN where the direct path, which has no such taps, may not.) Without AVX2 + FMA, or
//! for geometries outside [`plan`]'s limits, the callers take the GEMM path.
//!
//! **Backward.** [`weight_grad`] and [`input_grad`] run on the same tiles and repeat the GEMM
//! path's sums too: the weight gradient per stacked row and `KC` block of output positions,
//! the blocks added image by image and task by task as `matrixmultiply` (β = 1) and the
//! partial-sum loop do, then the row-stacking fold; the input gradient as `Wᵀ · grad_out`
//! (a chain over output channels) folded back tap by tap as col2im does. No col2im or
//! patch unfold remains for LeNet, and the first layer computes no input gradient.
//!
//! Measured (LeNet, batch 256, f32, `benches/conv.rs`; 2-core AMD EPYC with AVX2 shared with
//! other jobs, load average 5–7, so absolute times are inflated and vary ±30% between runs;
//! before → after in the same sitting; the README's Performance table has a quieter sitting's
//! figures): conv1 forward 4.9 → 1.5–2.6 ms, conv1 forward +
//! backward 12.1 → 3.4–4.6 ms, conv2 forward 6.1 → 1.8–2.8 ms, conv2 forward + backward
//! 19.8 → 8.4–10 ms. `CT = 3` (12 accumulators) spilled accumulators to the stack (seen in
//! `perf annotate`); `CT = 2` (8) keeps the inner loop at 4 loads, 2 broadcasts and 8 FMAs per
//! tap with no spill. A strided scalar gather (one lane at a time) took 19% of conv1's
//! backward; writing the lanes of each column contiguously removed it from the profile.
//!
//! **Tuning constants:** [`CO_TILE`] (`CT` above: accumulators `4·CT` plus 4 inputs and one
//! broadcast must fit the 16 vector registers), [`IMAGES_PER_TASK`] (a multiple of every lane
//! count; fixed, so the split never depends on the thread count — each output is computed by
//! one task alone, so results are bit-identical for any `RAYON_NUM_THREADS`).

use crate::backend::op::ConvDims;
use crate::backend::Element;

/// Output channels per register block (see the module docs).
pub const CO_TILE: usize = 2;

/// Images per rayon task: a multiple of both lane counts (8 f32, 4 f64).
pub const IMAGES_PER_TASK: usize = 16;

/// `matrixmultiply`'s `KC` for f32 and f64: a GEMM with a longer `K` sums it in blocks, which
/// the direct kernel does not reproduce, so longer reductions take the GEMM path.
pub const GEMM_KC: usize = 256;

/// What the output pass does after the sum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Epilogue {
    /// `conv + bias`, `[N, C_out, OH, OW]` (OH and OW even).
    Bias,
    /// `avg_pool2d(relu(conv + bias), 2)`, `[N, C_out, OH/2, OW/2]`.
    BiasReluPool2,
}

/// Whether the direct kernel takes convolution `d` with epilogue `e`, given `gemm_k`, the
/// reduction length of the GEMM path it must agree with: stride 1, no more than 64 output
/// channels (beyond, the GEMM path's tiles are full), `gemm_k ≤ GEMM_KC`, and whole 2×2 blocks
/// for [`Epilogue::Bias`].
pub(crate) fn plan(d: &ConvDims, e: Epilogue, gemm_k: usize) -> bool {
    let blocks = match e {
        Epilogue::Bias => d.oh.is_multiple_of(2) && d.ow.is_multiple_of(2),
        Epilogue::BiasReluPool2 => d.oh >= 2 && d.ow >= 2,
    };
    available()
        && blocks
        && d.s == 1
        && d.n > 0
        && d.c > 0
        && (1..=64).contains(&d.co)
        && gemm_k <= GEMM_KC
}

/// Whether [`weight_grad`] takes convolution `d`: stride 1 and no more than 64 output channels.
pub(crate) fn plan_weight_grad(d: &ConvDims) -> bool {
    available() && d.s == 1 && d.n > 0 && d.c > 0 && (1..=64).contains(&d.co)
}

/// The input gradient `[N, C_in, H, W]` of convolution `d` (weight `weight`, output gradient
/// `grad_out`), or `None` as for [`conv2d`]: the GEMM path's sums in its order, so the same
/// bits on a CPU with FMA. Applies (the caller checks) to stride 1 without row stacking and
/// at most [`GEMM_KC`] output channels (one block for `Wᵀ · grad_out`), with [`plan_weight_grad`].
pub(crate) fn input_grad<T: Element>(weight: &[T], grad_out: &[T], d: &ConvDims) -> Option<Vec<T>> {
    #[cfg(target_arch = "x86_64")]
    {
        if !available() || d.co > GEMM_KC {
            return None;
        }
        let mut gx = vec![T::ZERO; d.n * d.in_img()];
        let done = input_grad_as::<T, std::arch::x86_64::__m256>(weight, grad_out, d, &mut gx)
            || input_grad_as::<T, std::arch::x86_64::__m256d>(weight, grad_out, d, &mut gx);
        done.then_some(gx)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (weight, grad_out, d);
        None
    }
}

/// [`input_grad`] on lanes `V` when `T` is `V`'s scalar; false (nothing written) otherwise.
#[cfg(target_arch = "x86_64")]
fn input_grad_as<T: Element, V: avx::Vector>(
    weight: &[T],
    grad_out: &[T],
    d: &ConvDims,
    gx: &mut [T],
) -> bool {
    let (Some(w), Some(go), Some(gx)) = (cast(weight), cast(grad_out), cast_mut(gx)) else {
        return false;
    };
    avx::input_grad::<V>(w, go, d, gx);
    true
}

/// How the GEMM path orders the weight gradient's sums, which [`weight_grad`] repeats: `rows`
/// output rows stacked per unfolded column, `images` images per task.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GemmOrder {
    /// Row stacking `R`.
    pub rows: usize,
    /// Images per task.
    pub images: usize,
}

/// The weight gradient `[C_out, C_in, KH, KW]` of convolution `d` at input `x` for output
/// gradient `grad_out`, or `None` as for [`conv2d`]. The caller has checked
/// [`plan_weight_grad`]. The sums run in the GEMM path's order `o` and with its roundings, so on
/// a CPU with FMA the bits are the GEMM path's.
pub(crate) fn weight_grad<T: Element>(
    x: &[T],
    grad_out: &[T],
    d: &ConvDims,
    o: GemmOrder,
) -> Option<Vec<T>> {
    #[cfg(target_arch = "x86_64")]
    {
        if !available() {
            return None;
        }
        let mut gw = vec![T::ZERO; d.co * d.c * d.kh * d.kw];
        let done = weight_grad_as::<T, std::arch::x86_64::__m256>(x, grad_out, d, o, &mut gw)
            || weight_grad_as::<T, std::arch::x86_64::__m256d>(x, grad_out, d, o, &mut gw);
        done.then_some(gw)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (x, grad_out, d, o);
        None
    }
}

/// [`weight_grad`] on lanes `V` when `T` is `V`'s scalar; false (nothing written) otherwise.
#[cfg(target_arch = "x86_64")]
fn weight_grad_as<T: Element, V: avx::Vector>(
    x: &[T],
    grad_out: &[T],
    d: &ConvDims,
    o: GemmOrder,
    gw: &mut [T],
) -> bool {
    let (Some(x), Some(go), Some(gw)) = (cast(x), cast(grad_out), cast_mut(gw)) else {
        return false;
    };
    avx::weight_grad::<V>(x, go, d, o, gw);
    true
}

/// True when the CPU has AVX2 and FMA ([`crate::cpu_features::avx2_fma`]), where matrixmultiply
/// runs the fused kernels whose bits the direct kernels reproduce.
pub(crate) fn available() -> bool {
    crate::cpu_features::avx2_fma()
}

/// Output elements of one image under epilogue `e`.
pub(crate) fn out_img(d: &ConvDims, e: Epilogue) -> usize {
    match e {
        Epilogue::Bias => d.out_img(),
        Epilogue::BiasReluPool2 => d.co * (d.oh / 2) * (d.ow / 2),
    }
}

/// The convolution of `x` by `weight` (+ `bias`) with epilogue `e`, or `None` when `T` is
/// neither f32 nor f64 or the CPU lacks AVX + FMA. The caller has checked [`plan`].
pub(crate) fn conv2d<T: Element>(
    x: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    d: &ConvDims,
    e: Epilogue,
) -> Option<Vec<T>> {
    #[cfg(target_arch = "x86_64")]
    {
        if !available() {
            return None;
        }
        let mut out = vec![T::ZERO; d.n * out_img(d, e)];
        let done = run_as::<T, std::arch::x86_64::__m256>(x, weight, bias, d, e, &mut out)
            || run_as::<T, std::arch::x86_64::__m256d>(x, weight, bias, d, e, &mut out);
        done.then_some(out)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (x, weight, bias, d, e);
        None
    }
}

/// Runs the kernel on lanes `V` when `T` is `V`'s scalar; false (nothing written) otherwise.
#[cfg(target_arch = "x86_64")]
fn run_as<T: Element, V: avx::Vector>(
    x: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    d: &ConvDims,
    e: Epilogue,
    out: &mut [T],
) -> bool {
    let (Some(x), Some(w), Some(o)) = (cast(x), cast(weight), cast_mut(out)) else {
        return false;
    };
    let b = match bias.map(cast) {
        Some(None) => return false,
        b => b.flatten(),
    };
    avx::run::<V>(x, w, b, d, e, o);
    true
}

/// `s` as a slice of `E` when `T` is `E`.
fn cast<T: 'static, E: 'static>(s: &[T]) -> Option<&[E]> {
    (std::any::TypeId::of::<T>() == std::any::TypeId::of::<E>())
        // SAFETY: T and E are the same type.
        .then(|| unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<E>(), s.len()) })
}

/// `s` as a mutable slice of `E` when `T` is `E`.
fn cast_mut<T: 'static, E: 'static>(s: &mut [T]) -> Option<&mut [E]> {
    (std::any::TypeId::of::<T>() == std::any::TypeId::of::<E>())
        // SAFETY: T and E are the same type, and the borrow is moved into the result.
        .then(|| unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<E>(), s.len()) })
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use super::{out_img, Epilogue, GemmOrder, CO_TILE, GEMM_KC, IMAGES_PER_TASK};
    use crate::backend::op::ConvDims;
    use rayon::prelude::*;
    use std::arch::x86_64::*;

    /// One AVX register of `L` lanes of `E`; every method needs AVX + FMA.
    pub(super) trait Vector: Copy + Send {
        /// The scalar.
        type E: Copy + Send + Sync + Default + 'static + std::ops::AddAssign;
        /// Lanes.
        const L: usize;
        unsafe fn zero() -> Self;
        unsafe fn splat(v: Self::E) -> Self;
        /// `a·b + c`, one rounding.
        unsafe fn fma(a: Self, b: Self, c: Self) -> Self;
        unsafe fn add(a: Self, b: Self) -> Self;
        /// `_mm256_max_p*(a, b)`: `b` when either is NaN, as `wide`'s `max` (relu's kernel).
        unsafe fn max(a: Self, b: Self) -> Self;
        unsafe fn div(a: Self, b: Self) -> Self;
        /// The scalar 4 (the pooling window's area).
        fn four() -> Self::E;
    }

    /// `impl Vector` for one register type from its intrinsics.
    macro_rules! impl_vector {
        ($v:ty, $e:ty, $l:expr, $zero:ident, $splat:ident, $fma:ident, $add:ident, $max:ident, $div:ident) => {
            impl Vector for $v {
                type E = $e;
                const L: usize = $l;
                #[inline(always)]
                unsafe fn zero() -> Self {
                    $zero()
                }
                #[inline(always)]
                unsafe fn splat(v: $e) -> Self {
                    $splat(v)
                }
                #[inline(always)]
                unsafe fn fma(a: Self, b: Self, c: Self) -> Self {
                    $fma(a, b, c)
                }
                #[inline(always)]
                unsafe fn add(a: Self, b: Self) -> Self {
                    $add(a, b)
                }
                #[inline(always)]
                unsafe fn max(a: Self, b: Self) -> Self {
                    $max(a, b)
                }
                #[inline(always)]
                unsafe fn div(a: Self, b: Self) -> Self {
                    $div(a, b)
                }
                fn four() -> $e {
                    4.0
                }
            }
        };
    }
    impl_vector!(
        __m256,
        f32,
        8,
        _mm256_setzero_ps,
        _mm256_set1_ps,
        _mm256_fmadd_ps,
        _mm256_add_ps,
        _mm256_max_ps,
        _mm256_div_ps
    );
    impl_vector!(
        __m256d,
        f64,
        4,
        _mm256_setzero_pd,
        _mm256_set1_pd,
        _mm256_fmadd_pd,
        _mm256_add_pd,
        _mm256_max_pd,
        _mm256_div_pd
    );

    /// Channels, height, width and padding of one image in a tile.
    type Chw = (usize, usize, usize, usize);

    /// Runs the kernel over all images, [`IMAGES_PER_TASK`] per rayon task.
    pub(super) fn run<V: Vector>(
        x: &[V::E],
        w: &[V::E],
        bias: Option<&[V::E]>,
        d: &ConvDims,
        e: Epilogue,
        out: &mut [V::E],
    ) {
        debug_assert!(
            super::available(),
            "the AVX2 + FMA kernels run only where detected"
        );
        let (hp, wp) = (d.h + 2 * d.p, d.w + 2 * d.p);
        let (in_img, o_img) = (d.in_img(), out_img(d, e));
        out.par_chunks_mut(IMAGES_PER_TASK * o_img)
            .zip(x.par_chunks(IMAGES_PER_TASK * in_img))
            .for_each_init(
                // Scratch per task: the transposed, padded input tile (zero padding written
                // once) and the output tile, both in vectors of L images.
                || {
                    // SAFETY: AVX is present (checked by `conv2d` before any call).
                    let z = unsafe { V::zero() };
                    (vec![z; d.c * hp * wp], vec![z; o_img])
                },
                |(xt, ot), (o_chunk, x_chunk)| {
                    for (o_tile, x_tile) in o_chunk
                        .chunks_mut(V::L * o_img)
                        .zip(x_chunk.chunks(V::L * in_img))
                    {
                        gather::<V>(x_tile, (d.c, d.h, d.w, d.p), xt);
                        // SAFETY: AVX + FMA are present (checked by `conv2d`); the scratch
                        // lengths match the geometry.
                        unsafe { tile::<V>(xt, w, bias, d, e, ot) };
                        scatter::<V>(ot, o_tile, o_img);
                    }
                },
            );
    }

    /// Writes the images of `x_tile` (up to `L`, each `[c, h, w]`) into lanes of the tile `xt`
    /// `[c, h + 2p, w + 2p]` (the padding is left as it is: zero); lanes past the last image
    /// are zeroed.
    fn gather<V: Vector>(x_tile: &[V::E], (c, h, w, p): Chw, xt: &mut [V]) {
        let (hp, wp) = (h + 2 * p, w + 2 * p);
        let in_img = c * h * w;
        let images = x_tile.len() / in_img;
        // SAFETY: `xt` is `c·hp·wp` vectors of `L` scalars each, so this view covers it.
        let xs: &mut [V::E] =
            unsafe { std::slice::from_raw_parts_mut(xt.as_mut_ptr().cast(), xt.len() * V::L) };
        let zero = V::E::default();
        for ci in 0..c {
            for y in 0..h {
                let row = ((ci * hp + y + p) * wp + p) * V::L;
                let dst = &mut xs[row..row + w * V::L];
                let src = |l: usize| &x_tile[l * in_img + (ci * h + y) * w..][..w];
                if images == V::L {
                    // Whole tile: column by column, the lanes contiguous.
                    let rows: [&[V::E]; 8] = std::array::from_fn(|l| src(l.min(V::L - 1)));
                    for (i, lanes) in dst.chunks_exact_mut(V::L).enumerate() {
                        for (l, v) in lanes.iter_mut().enumerate() {
                            *v = rows[l][i];
                        }
                    }
                } else {
                    for (i, lanes) in dst.chunks_exact_mut(V::L).enumerate() {
                        for (l, v) in lanes.iter_mut().enumerate() {
                            *v = if l < images { src(l)[i] } else { zero };
                        }
                    }
                }
            }
        }
    }

    /// Copies lane `l` of the output tile `ot` to image `l` of `o_tile`.
    fn scatter<V: Vector>(ot: &[V], o_tile: &mut [V::E], o_img: usize) {
        // SAFETY: `ot` is `o_img` vectors of `L` scalars.
        let os: &[V::E] =
            unsafe { std::slice::from_raw_parts(ot.as_ptr().cast(), ot.len() * V::L) };
        for (l, img) in o_tile.chunks_mut(o_img).enumerate() {
            for (i, v) in img.iter_mut().enumerate() {
                *v = os[i * V::L + l];
            }
        }
    }

    /// The weight gradient `Σ_n Σ_(oh,ow) grad_out[n, co, oh, ow] · x[n, c, oh + ki − p,
    /// ow + kj − p]` summed in the GEMM path's order (`conv.rs`: row stacking `R = o.rows`,
    /// tasks of `o.images` images, `K` blocks of [`GEMM_KC`]): for stacked row `(co, r)` (output
    /// rows `oh ≡ r mod R`) and each block of stacked positions `j = (oh / R)·OW + ow`, a chain
    /// from zero in `j` order; each task adds its images' block chains in image, then block
    /// order; the tasks' sums are added in task order, then the `R` copies in `r` order.
    pub(super) fn weight_grad<V: Vector>(
        x: &[V::E],
        go: &[V::E],
        d: &ConvDims,
        o: GemmOrder,
        gw: &mut [V::E],
    ) {
        debug_assert!(
            super::available(),
            "the AVX2 + FMA kernels run only where detected"
        );
        let (hp, wp) = (d.h + 2 * d.p, d.w + 2 * d.p);
        let (in_img, o_img) = (d.in_img(), d.out_img());
        let len = gw.len();
        let blocks = (d.oh.div_ceil(o.rows) * d.ow).div_ceil(GEMM_KC);
        let partials: Vec<Vec<V::E>> = x
            .par_chunks(o.images * in_img)
            .zip(go.par_chunks(o.images * o_img))
            .map_init(
                || {
                    // SAFETY: AVX is present (checked by `weight_grad`'s caller).
                    let z = unsafe { V::zero() };
                    let chains = vec![z; blocks * o.rows * len];
                    (vec![z; d.c * hp * wp], vec![z; o_img], chains)
                },
                |(xt, got, chains), (x_chunk, go_chunk)| {
                    let mut sum = vec![V::E::default(); o.rows * len];
                    for (x_tile, go_tile) in x_chunk
                        .chunks(V::L * in_img)
                        .zip(go_chunk.chunks(V::L * o_img))
                    {
                        gather::<V>(x_tile, (d.c, d.h, d.w, d.p), xt);
                        gather::<V>(go_tile, (d.co, d.oh, d.ow, 0), got);
                        // SAFETY: AVX + FMA are present; scratch lengths match the geometry.
                        unsafe { weight_grad_tile::<V>(xt, got, d, o.rows, chains) };
                        // SAFETY: `chains` is vectors of `L` scalars.
                        let cs: &[V::E] = unsafe {
                            std::slice::from_raw_parts(chains.as_ptr().cast(), chains.len() * V::L)
                        };
                        for l in 0..go_tile.len() / o_img {
                            for cb in cs.chunks_exact(sum.len() * V::L) {
                                for (s, lanes) in sum.iter_mut().zip(cb.chunks_exact(V::L)) {
                                    *s += lanes[l];
                                }
                            }
                        }
                    }
                    sum
                },
            )
            .collect();
        let mut total = vec![V::E::default(); o.rows * len];
        for p in &partials {
            for (t, &v) in total.iter_mut().zip(p) {
                *t += v;
            }
        }
        for copy in total.chunks(len) {
            for (g, &v) in gw.iter_mut().zip(copy) {
                *g += v;
            }
        }
    }

    /// The input gradient `col2im(Wᵀ · grad_out)` in the GEMM path's order (no row stacking):
    /// for each input channel `c` and kernel tap `(ki, kj)` in order, `dcol[oh, ow]` is a chain
    /// from zero over `co` of `w[co, c, ki, kj] · grad_out[co, oh, ow]`, then added to
    /// `grad_x[c, oh + ki − p, ow + kj − p]` position by position in row-major order. Each image
    /// is computed alone, so any split gives the same bits.
    pub(super) fn input_grad<V: Vector>(w: &[V::E], go: &[V::E], d: &ConvDims, gx: &mut [V::E]) {
        debug_assert!(
            super::available(),
            "the AVX2 + FMA kernels run only where detected"
        );
        let (hp, wp) = (d.h + 2 * d.p, d.w + 2 * d.p);
        let (in_img, o_img) = (d.in_img(), d.out_img());
        gx.par_chunks_mut(IMAGES_PER_TASK * in_img)
            .zip(go.par_chunks(IMAGES_PER_TASK * o_img))
            .for_each_init(
                || {
                    // SAFETY: AVX is present (checked by `input_grad`'s caller).
                    let z = unsafe { V::zero() };
                    let dcols = vec![z; d.kw * d.oh * d.ow];
                    (vec![z; d.c * hp * wp], vec![z; o_img], dcols)
                },
                |(gxt, got, dcols), (gx_chunk, go_chunk)| {
                    for (gx_tile, go_tile) in gx_chunk
                        .chunks_mut(V::L * in_img)
                        .zip(go_chunk.chunks(V::L * o_img))
                    {
                        gather::<V>(go_tile, (d.co, d.oh, d.ow, 0), got);
                        // SAFETY: AVX + FMA are present; scratch lengths match the geometry.
                        unsafe { input_grad_tile::<V>(w, got, d, dcols, gxt) };
                        // SAFETY: `gxt` is vectors of `L` scalars.
                        let gs: &[V::E] = unsafe {
                            std::slice::from_raw_parts(gxt.as_ptr().cast(), gxt.len() * V::L)
                        };
                        for (l, img) in gx_tile.chunks_mut(in_img).enumerate() {
                            for (ci, plane) in img.chunks_mut(d.h * d.w).enumerate() {
                                for (y, row) in plane.chunks_mut(d.w).enumerate() {
                                    let at = ((ci * hp + y + d.p) * wp + d.p) * V::L + l;
                                    for (x, v) in row.iter_mut().enumerate() {
                                        *v = gs[at + x * V::L];
                                    }
                                }
                            }
                        }
                    }
                },
            );
    }

    /// One tile of [`input_grad`] into the padded tile `gxt` (zeroed here).
    #[target_feature(enable = "avx,fma")]
    unsafe fn input_grad_tile<V: Vector>(
        w: &[V::E],
        got: &[V],
        d: &ConvDims,
        dcols: &mut [V],
        gxt: &mut [V],
    ) {
        let (hp, wp) = (d.h + 2 * d.p, d.w + 2 * d.p);
        let sp = d.oh * d.ow;
        let taps = d.kh * d.kw;
        assert!(
            got.len() >= d.co * sp
                && dcols.len() >= d.kw * sp
                && gxt.len() >= d.c * hp * wp
                && w.len() >= d.co * d.c * taps
        );
        gxt.fill(V::zero());
        for c in 0..d.c {
            for ki in 0..d.kh {
                let mut kj = 0;
                while kj + 5 <= d.kw {
                    dcol_block::<V, 5>(w, got, d, (c, ki, kj), dcols);
                    kj += 5;
                }
                while kj < d.kw {
                    dcol_block::<V, 1>(w, got, d, (c, ki, kj), dcols);
                    kj += 1;
                }
                // col2im: tap by tap, positions in row-major order.
                for kj in 0..d.kw {
                    for oh in 0..d.oh {
                        let dst = (c * hp + oh + ki) * wp + kj;
                        let src = kj * sp + oh * d.ow;
                        for ow in 0..d.ow {
                            let g = gxt.get_unchecked_mut(dst + ow);
                            *g = V::add(*g, *dcols.get_unchecked(src + ow));
                        }
                    }
                }
            }
        }
    }

    /// `dcols[kj0 + jj, pos] = Σ_co w[co, c, ki, kj0 + jj] · got[co, pos]` (chains from zero in
    /// `co` order) for `jj < J`, two positions at a time.
    #[inline(always)]
    unsafe fn dcol_block<V: Vector, const J: usize>(
        w: &[V::E],
        got: &[V],
        d: &ConvDims,
        (c, ki, kj0): (usize, usize, usize),
        dcols: &mut [V],
    ) {
        let sp = d.oh * d.ow;
        let taps = d.kh * d.kw;
        let zero = V::zero();
        let wp = w.as_ptr();
        let gp = got.as_ptr();
        let tap0 = c * taps + ki * d.kw + kj0;
        let ck = d.c * taps;
        let mut pos = 0;
        while pos < sp {
            let two = pos + 1 < sp;
            let (mut a0, mut a1) = ([zero; J], [zero; J]);
            for co in 0..d.co {
                let g0 = *gp.add(co * sp + pos);
                let g1 = if two {
                    *gp.add(co * sp + pos + 1)
                } else {
                    zero
                };
                let wc = wp.add(co * ck + tap0);
                for (jj, (v0, v1)) in a0.iter_mut().zip(&mut a1).enumerate() {
                    let wv = V::splat(*wc.add(jj));
                    *v0 = V::fma(wv, g0, *v0);
                    *v1 = V::fma(wv, g1, *v1);
                }
            }
            for jj in 0..J {
                dcols[(kj0 + jj) * sp + pos] = a0[jj];
                if two {
                    dcols[(kj0 + jj) * sp + pos + 1] = a1[jj];
                }
            }
            pos += 2;
        }
    }

    /// One tile's block chains into `chains` (`[block, r, C_out, C_in, KH, KW]` vectors):
    /// pairs of output channels × kernel columns in blocks of 5, 3 and 1.
    #[target_feature(enable = "avx,fma")]
    unsafe fn weight_grad_tile<V: Vector>(
        xt: &[V],
        got: &[V],
        d: &ConvDims,
        rows: usize,
        chains: &mut [V],
    ) {
        let pairs = d.co / 2 * 2;
        for co0 in (0..pairs).step_by(2) {
            weight_grad_cols::<V, 2>(xt, got, d, rows, co0, chains);
        }
        for co0 in pairs..d.co {
            weight_grad_cols::<V, 1>(xt, got, d, rows, co0, chains);
        }
    }

    /// Channels `co0..co0 + CT`: every stacked row, block, input channel and kernel row.
    #[inline(always)]
    unsafe fn weight_grad_cols<V: Vector, const CT: usize>(
        xt: &[V],
        got: &[V],
        d: &ConvDims,
        rows: usize,
        co0: usize,
        chains: &mut [V],
    ) {
        let n = d.oh.div_ceil(rows) * d.ow;
        let len = d.co * d.c * d.kh * d.kw;
        for r in 0..rows {
            for (b, j0) in (0..n).step_by(GEMM_KC).enumerate() {
                let seg = Segment {
                    r,
                    rows,
                    j0,
                    j1: (j0 + GEMM_KC).min(n),
                };
                let out = &mut chains[(b * rows + r) * len..(b * rows + r + 1) * len];
                for c in 0..d.c {
                    for ki in 0..d.kh {
                        let mut kj = 0;
                        while kj + 5 <= d.kw {
                            weight_grad_block::<V, CT, 5>(xt, got, d, seg, co0, (c, ki, kj), out);
                            kj += 5;
                        }
                        while kj + 3 <= d.kw {
                            weight_grad_block::<V, CT, 3>(xt, got, d, seg, co0, (c, ki, kj), out);
                            kj += 3;
                        }
                        while kj < d.kw {
                            weight_grad_block::<V, CT, 1>(xt, got, d, seg, co0, (c, ki, kj), out);
                            kj += 1;
                        }
                    }
                }
            }
        }
    }

    /// Stacked positions `j0..j1` of stacked row `r` of `rows`.
    #[derive(Clone, Copy)]
    struct Segment {
        r: usize,
        rows: usize,
        j0: usize,
        j1: usize,
    }

    /// `out[co0 + t, c, ki, kj0 + jj] = Σ_(j in seg) go[co0 + t, oh, ow] · xt[c, oh + ki,
    /// ow + kj0 + jj]` with `oh = (j / OW)·R + r`, `ow = j % OW` (rows past OH skipped: their
    /// stacked gradient is zero), for `t < CT`, `jj < J`: chains from zero in `j` order.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn weight_grad_block<V: Vector, const CT: usize, const J: usize>(
        xt: &[V],
        got: &[V],
        d: &ConvDims,
        seg: Segment,
        co0: usize,
        (c, ki, kj0): (usize, usize, usize),
        out: &mut [V],
    ) {
        let (hp, wp) = (d.h + 2 * d.p, d.w + 2 * d.p);
        let sp = d.oh * d.ow;
        // The last tap read: row OH − 1 + ki < hp, column OW − 1 + kj0 + J − 1 < wp.
        assert!(xt.len() >= d.c * hp * wp && got.len() >= (co0 + CT) * sp && kj0 + J <= d.kw);
        let zero = V::zero();
        let mut a = [[zero; J]; CT];
        let gp = got.as_ptr();
        let mut j = seg.j0;
        while j < seg.j1 {
            let (ohb, ow0) = (j / d.ow, j % d.ow);
            let ow1 = (ow0 + seg.j1 - j).min(d.ow);
            let oh = ohb * seg.rows + seg.r;
            if oh < d.oh {
                let row = xt.as_ptr().add((c * hp + oh + ki) * wp + kj0);
                for ow in ow0..ow1 {
                    let mut g = [zero; CT];
                    for (t, gv) in g.iter_mut().enumerate() {
                        *gv = *gp.add((co0 + t) * sp + oh * d.ow + ow);
                    }
                    for jj in 0..J {
                        let xv = *row.add(ow + jj);
                        for (at, &gt) in a.iter_mut().zip(&g) {
                            at[jj] = V::fma(gt, xv, at[jj]);
                        }
                    }
                }
            }
            j += ow1 - ow0;
        }
        let taps = d.kh * d.kw;
        for (t, at) in a.iter().enumerate() {
            let base = ((co0 + t) * d.c + c) * taps + ki * d.kw + kj0;
            out[base..base + J].copy_from_slice(at);
        }
    }

    /// Every output of one tile: channel blocks of [`CO_TILE`], then single channels.
    #[target_feature(enable = "avx,fma")]
    unsafe fn tile<V: Vector>(
        xt: &[V],
        w: &[V::E],
        bias: Option<&[V::E]>,
        d: &ConvDims,
        e: Epilogue,
        ot: &mut [V],
    ) {
        let full = d.co / CO_TILE * CO_TILE;
        for co0 in (0..full).step_by(CO_TILE) {
            match e {
                Epilogue::Bias => block::<V, CO_TILE, false>(xt, w, bias, d, co0, ot),
                Epilogue::BiasReluPool2 => block::<V, CO_TILE, true>(xt, w, bias, d, co0, ot),
            }
        }
        for co0 in full..d.co {
            match e {
                Epilogue::Bias => block::<V, 1, false>(xt, w, bias, d, co0, ot),
                Epilogue::BiasReluPool2 => block::<V, 1, true>(xt, w, bias, d, co0, ot),
            }
        }
    }

    /// Channels `co0..co0 + CT` over every 2×2 output block; `POOL` picks the epilogue.
    #[inline(always)]
    unsafe fn block<V: Vector, const CT: usize, const POOL: bool>(
        xt: &[V],
        w: &[V::E],
        bias: Option<&[V::E]>,
        d: &ConvDims,
        co0: usize,
        ot: &mut [V],
    ) {
        let (hp, wp) = (d.h + 2 * d.p, d.w + 2 * d.p);
        let (kh, kw) = (d.kh, d.kw);
        let taps = kh * kw;
        let ck = d.c * taps;
        let (ph, pw) = (d.oh / 2, d.ow / 2);
        assert!(xt.len() >= d.c * hp * wp && w.len() >= (co0 + CT) * ck);
        let zero = V::zero();
        let four = V::splat(V::four());
        let xp = xt.as_ptr();
        let mut b = [zero; CT];
        for (t, bv) in b.iter_mut().enumerate() {
            *bv = bias.map_or(zero, |bs| V::splat(bs[co0 + t]));
        }
        for py in 0..ph {
            for px in 0..pw {
                let mut acc = [[zero; 4]; CT];
                for c in 0..d.c {
                    let wc = &w[co0 * ck + c * taps..];
                    for ki in 0..kh {
                        // Row 2py + ki of channel c, from column 2px: inside the padded tile
                        // since 2py + 1 + kh − 1 < OH + kh − 1 + 1 ≤ hp (likewise columns).
                        let row = xp.add((c * hp + 2 * py + ki) * wp + 2 * px);
                        for kj in 0..kw {
                            let p = row.add(kj);
                            let xs = [*p, *p.add(1), *p.add(wp), *p.add(wp + 1)];
                            for (t, a) in acc.iter_mut().enumerate() {
                                let wv = V::splat(*wc.get_unchecked(t * ck + ki * kw + kj));
                                for q in 0..4 {
                                    a[q] = V::fma(wv, xs[q], a[q]);
                                }
                            }
                        }
                    }
                }
                for t in 0..CT {
                    let co = co0 + t;
                    if POOL {
                        let mut s = zero;
                        for &v in &acc[t] {
                            s = V::add(s, V::max(V::add(v, b[t]), zero));
                        }
                        ot[(co * ph + py) * pw + px] = V::div(s, four);
                    } else {
                        let at = (co * d.oh + 2 * py) * d.ow + 2 * px;
                        ot[at] = V::add(acc[t][0], b[t]);
                        ot[at + 1] = V::add(acc[t][1], b[t]);
                        ot[at + d.ow] = V::add(acc[t][2], b[t]);
                        ot[at + d.ow + 1] = V::add(acc[t][3], b[t]);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::conv::{
        conv2d_backward_gemm, conv2d_gemm, gemm_k, stack_rows,
        IMAGES_PER_TASK as GEMM_IMAGES_PER_TASK,
    };
    use super::super::elementwise::unary;
    use super::super::pool::avg_pool2d;
    use super::*;
    use crate::backend::op::{Conv2dGeometry, PoolDims, UnaryOp};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// (N, C_in, H, W, C_out, K, padding): LeNet's layers, batches that leave a ragged tile
    /// (f32 lanes 8, f64 lanes 4) and task, odd pooled sizes, C_out not a multiple of the
    /// channel block, and a reduction of exactly `GEMM_KC` taps.
    const CASES: [(usize, usize, usize, usize, usize, usize, usize); 7] = [
        (21, 1, 28, 28, 6, 5, 2),
        (19, 6, 14, 14, 16, 5, 0),
        (1, 2, 7, 9, 4, 3, 1),
        (5, 3, 6, 6, 7, 2, 1),
        (3, 1, 4, 4, 1, 1, 0),
        (2, 4, 9, 9, 9, 8, 0),
        (IMAGES_PER_TASK + 1, 2, 9, 11, 2, 3, 1),
    ];

    fn dims((n, c, h, w, co, k, p): (usize, usize, usize, usize, usize, usize, usize)) -> ConvDims {
        let geom = Conv2dGeometry {
            stride: 1,
            padding: p,
        };
        ConvDims::new("test", &[n, c, h, w], &[co, c, k, k], geom).unwrap()
    }

    fn random<T: Element>(len: usize, rng: &mut StdRng) -> Vec<T> {
        (0..len)
            .map(|_| T::from_f64(rng.gen_range(-1.0..1.0)))
            .collect()
    }

    fn bits<T: Element>(v: &[T]) -> Vec<u64> {
        v.iter().map(|x| x.to_f64().to_bits()).collect()
    }

    /// The direct kernel against im2col + GEMM (+ relu + pooling), bit for bit.
    fn same_bits_as_gemm_path<T: Element>() {
        let mut rng = StdRng::seed_from_u64(5);
        if !available() {
            // Without AVX2 + FMA every caller gets the GEMM path: nothing is planned for the
            // direct kernels and they decline to run.
            for case in CASES {
                let d = dims(case);
                assert!(!plan(&d, Epilogue::BiasReluPool2, gemm_k(&d)), "{case:?}");
                let x = random::<T>(d.n * d.in_img(), &mut rng);
                let w = random::<T>(d.co * d.c * d.kh * d.kw, &mut rng);
                assert!(
                    conv2d(&x, &w, None, &d, Epilogue::Bias).is_none(),
                    "{case:?}"
                );
            }
            return;
        }
        for case in CASES {
            let d = dims(case);
            let x = random::<T>(d.n * d.in_img(), &mut rng);
            let w = random::<T>(d.co * d.c * d.kh * d.kw, &mut rng);
            let b = random::<T>(d.co, &mut rng);
            for bias in [Some(&b[..]), None] {
                let want = conv2d_gemm(&x, &w, bias, &d);
                if plan(&d, Epilogue::Bias, gemm_k(&d)) {
                    let got = conv2d(&x, &w, bias, &d, Epilogue::Bias).unwrap();
                    assert_eq!(bits(&got), bits(&want), "{case:?} conv");
                }
                assert!(plan(&d, Epilogue::BiasReluPool2, gemm_k(&d)), "{case:?}");
                let pool = PoolDims {
                    planes: d.n * d.co,
                    h: d.oh,
                    w: d.ow,
                    oh: d.oh / 2,
                    ow: d.ow / 2,
                    k: 2,
                };
                let want = avg_pool2d(&unary(&want, UnaryOp::Relu), &pool);
                let got = conv2d(&x, &w, bias, &d, Epilogue::BiasReluPool2).unwrap();
                assert_eq!(bits(&got), bits(&want), "{case:?} conv+relu+pool");
            }
        }
    }

    #[test]
    fn direct_f32_has_the_gemm_paths_bits() {
        same_bits_as_gemm_path::<f32>();
    }

    #[test]
    fn direct_f64_has_the_gemm_paths_bits() {
        same_bits_as_gemm_path::<f64>();
    }

    /// The weight gradient against the GEMM path's, bit for bit, including reductions longer
    /// than `GEMM_KC` (two blocks) and row stacking with an output height that `R` does not
    /// divide.
    fn weight_grad_same_bits_as_gemm_path<T: Element>() {
        let mut rng = StdRng::seed_from_u64(6);
        let extra = [
            (3, 11, 6, 6, 4, 5, 0),
            (9, 2, 7, 5, 3, 3, 2),
            (10, 1, 20, 30, 2, 3, 0),
        ];
        for case in CASES.into_iter().chain(extra) {
            let d = dims(case);
            let x = random::<T>(d.n * d.in_img(), &mut rng);
            let w = random::<T>(d.co * d.c * d.kh * d.kw, &mut rng);
            let go = random::<T>(d.n * d.out_img(), &mut rng);
            assert_eq!(plan_weight_grad(&d), available(), "{case:?}");
            let order = GemmOrder {
                rows: stack_rows(&d),
                images: GEMM_IMAGES_PER_TASK,
            };
            let Some(got) = weight_grad(&x, &go, &d, order) else {
                assert!(
                    !available(),
                    "{case:?}: the direct kernel declined on an AVX2 CPU"
                );
                continue;
            };
            let (_, want, _) = conv2d_backward_gemm(&x, &w, &go, &d, false, true);
            assert_eq!(bits(&got), bits(&want), "{case:?} grad_w");
        }
    }

    #[test]
    fn weight_grad_has_the_gemm_paths_bits() {
        weight_grad_same_bits_as_gemm_path::<f32>();
        weight_grad_same_bits_as_gemm_path::<f64>();
    }

    /// The input gradient against the GEMM path's, bit for bit, where no rows are stacked
    /// (LeNet's conv2; kernel widths 5, 3 and 2; an odd number of output positions).
    fn input_grad_same_bits_as_gemm_path<T: Element>() {
        let mut rng = StdRng::seed_from_u64(7);
        let cases = [
            (19, 6, 14, 14, 16, 5, 0),
            (2, 4, 9, 9, 9, 8, 0),
            (5, 3, 7, 7, 16, 3, 1),
            (3, 2, 6, 5, 17, 2, 1),
            (IMAGES_PER_TASK + 2, 1, 5, 5, 20, 3, 2),
        ];
        for case in cases {
            let d = dims(case);
            assert_eq!(stack_rows(&d), 1, "{case:?}");
            let x = random::<T>(d.n * d.in_img(), &mut rng);
            let w = random::<T>(d.co * d.c * d.kh * d.kw, &mut rng);
            let go = random::<T>(d.n * d.out_img(), &mut rng);
            let Some(got) = input_grad(&w, &go, &d) else {
                assert!(
                    !available(),
                    "{case:?}: the direct kernel declined on an AVX2 CPU"
                );
                continue;
            };
            let (want, _, _) = conv2d_backward_gemm(&x, &w, &go, &d, true, false);
            assert_eq!(bits(&got), bits(&want.unwrap()), "{case:?} grad_x");
        }
    }

    #[test]
    fn input_grad_has_the_gemm_paths_bits() {
        input_grad_same_bits_as_gemm_path::<f32>();
        input_grad_same_bits_as_gemm_path::<f64>();
    }

    #[test]
    fn plan_sends_long_reductions_and_strides_to_the_gemm_path() {
        let d = dims((1, 11, 6, 6, 4, 5, 0));
        // 11·5·5 = 275 taps > GEMM_KC.
        assert!(!plan(&d, Epilogue::BiasReluPool2, gemm_k(&d)));
        let strided = ConvDims::new(
            "test",
            &[1, 1, 8, 8],
            &[2, 1, 3, 3],
            Conv2dGeometry {
                stride: 2,
                padding: 0,
            },
        )
        .unwrap();
        assert!(!plan(&strided, Epilogue::BiasReluPool2, gemm_k(&strided)));
        // Odd output sizes: the plain convolution needs whole 2×2 blocks.
        let odd = dims((1, 1, 7, 7, 2, 3, 0));
        assert!(!plan(&odd, Epilogue::Bias, gemm_k(&odd)));
        assert_eq!(
            plan(&odd, Epilogue::BiasReluPool2, gemm_k(&odd)),
            available()
        );
    }
}
