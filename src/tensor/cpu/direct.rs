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
//! **The fused op on the tape** (`Graph::conv2d_relu_pool` while recording, issue 17). Its
//! forward ([`conv2d_keep`], [`Epilogue::BiasReluPool2Keep`]) writes the pooled output and the
//! relu output `act` — what the backward needs — in the same pass (the tape used to hold
//! conv, relu and pool outputs from three passes). Its backward ([`relu_pool2_backward`]) is
//! one pass over tiles: `act` and the pooled gradient `g` are gathered into lanes and the
//! convolution's output gradient `act > 0 ? g/4 : 0` is made there (never written out, so no
//! zeroed pool-backward buffer, no relu-backward pass, no second gather for the input
//! gradient); the weight, bias and input gradients are all taken from those lanes, each in the
//! order of the composed path (pool backward → relu backward → [`weight_grad`] / the GEMM
//! path's per-plane `sum_slice` for the bias / [`input_grad`]), so the fused op has the
//! composed ops' bits and training is bit-identical to the three-op tape.
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
    /// As [`Epilogue::BiasReluPool2`], and also `relu(conv + bias)` itself, `[N, C_out, OH,
    /// OW]` (OH and OW even): what the backward pass of the fused op needs.
    BiasReluPool2Keep,
}

/// Whether the direct kernel takes convolution `d` with epilogue `e`, given `gemm_k`, the
/// reduction length of the GEMM path it must agree with: stride 1, no more than 64 output
/// channels (beyond, the GEMM path's tiles are full), `gemm_k ≤ GEMM_KC`, and whole 2×2 blocks
/// for [`Epilogue::Bias`].
pub(crate) fn plan(d: &ConvDims, e: Epilogue, gemm_k: usize) -> bool {
    let blocks = match e {
        Epilogue::Bias | Epilogue::BiasReluPool2Keep => {
            d.oh.is_multiple_of(2) && d.ow.is_multiple_of(2)
        }
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

/// Gradients `(grad_x if need_input_grad, grad_w, grad_b)` of `avg_pool2d(relu(conv2d(x)), 2)`
/// given the relu output `act` `[N, C_out, OH, OW]` and the pooled output's gradient `g`, in
/// one pass over tiles of images in lanes: the convolution's output gradient is made in the
/// lanes (`act > 0 ? g/4 : 0`) and never written out, and the bias gradient is summed there.
/// The bits of `pool::avg_pool2d_relu_backward` then `conv::conv2d_backward` (the GEMM path's
/// order `o` for grad_w and grad_b, the direct kernel's for grad_x). `None` when `T` is neither
/// f32 nor f64, the CPU lacks AVX2 + FMA, or the geometry is outside: the caller has checked
/// [`plan`] with [`Epilogue::BiasReluPool2Keep`] and [`plan_weight_grad`]; grad_x needs no row
/// stacking (`o.rows == 1`) and at most [`GEMM_KC`] output channels.
pub(crate) fn relu_pool2_backward<T: Element>(
    x: &[T],
    weight: &[T],
    act: &[T],
    g: &[T],
    d: &ConvDims,
    o: GemmOrder,
    need_input_grad: bool,
) -> Option<(Option<Vec<T>>, Vec<T>, Vec<T>)> {
    #[cfg(target_arch = "x86_64")]
    {
        if !available() || (need_input_grad && (o.rows != 1 || d.co > GEMM_KC)) {
            return None;
        }
        let mut gx = need_input_grad.then(|| vec![T::ZERO; d.n * d.in_img()]);
        let mut gw = vec![T::ZERO; d.co * d.c * d.kh * d.kw];
        let mut gb = vec![T::ZERO; d.co];
        let mut out = (gx.as_deref_mut(), &mut gw[..], &mut gb[..]);
        let done = relu_pool2_backward_as::<T, std::arch::x86_64::__m256>(
            x, weight, act, g, d, o, &mut out,
        ) || relu_pool2_backward_as::<T, std::arch::x86_64::__m256d>(
            x, weight, act, g, d, o, &mut out,
        );
        done.then_some((gx, gw, gb))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (x, weight, act, g, d, o, need_input_grad);
        None
    }
}

/// The outputs of [`relu_pool2_backward`]: `grad_x` (when asked), `grad_w`, `grad_b`.
#[cfg(target_arch = "x86_64")]
type BackwardOut<'a, T> = (Option<&'a mut [T]>, &'a mut [T], &'a mut [T]);

/// [`relu_pool2_backward`] on lanes `V` when `T` is `V`'s scalar; false (nothing written)
/// otherwise.
#[cfg(target_arch = "x86_64")]
fn relu_pool2_backward_as<T: Element, V: avx::Vector>(
    x: &[T],
    weight: &[T],
    act: &[T],
    g: &[T],
    d: &ConvDims,
    o: GemmOrder,
    out: &mut BackwardOut<'_, T>,
) -> bool {
    let (Some(x), Some(w), Some(a), Some(g)) = (cast(x), cast(weight), cast(act), cast(g)) else {
        return false;
    };
    let (Some(gw), Some(gb)) = (cast_mut(&mut *out.1), cast_mut(&mut *out.2)) else {
        return false;
    };
    let gx = match out.0.as_deref_mut().map(cast_mut) {
        Some(None) => return false,
        gx => gx.flatten(),
    };
    avx::relu_pool2_backward::<V>(x, w, a, g, d, o, (gx, gw, gb));
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
        Epilogue::BiasReluPool2 | Epilogue::BiasReluPool2Keep => d.co * (d.oh / 2) * (d.ow / 2),
    }
}

/// The convolution of `x` by `weight` (+ `bias`) with epilogue `e`, or `None` when `T` is
/// neither f32 nor f64 or the CPU lacks AVX + FMA. The caller has checked [`plan`]; with
/// [`Epilogue::BiasReluPool2Keep`] use [`conv2d_keep`] (this returns only the pooled output).
pub(crate) fn conv2d<T: Element>(
    x: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    d: &ConvDims,
    e: Epilogue,
) -> Option<Vec<T>> {
    let e = match e {
        Epilogue::BiasReluPool2Keep => Epilogue::BiasReluPool2,
        e => e,
    };
    run_with_act(x, weight, bias, d, e).map(|(out, _)| out)
}

/// `avg_pool2d(relu(conv + bias), 2)` and `relu(conv + bias)` ([`Epilogue::BiasReluPool2Keep`])
/// in one pass, or `None` as for [`conv2d`]. The caller has checked [`plan`] for that epilogue.
pub(crate) fn conv2d_keep<T: Element>(
    x: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    d: &ConvDims,
) -> Option<(Vec<T>, Vec<T>)> {
    run_with_act(x, weight, bias, d, Epilogue::BiasReluPool2Keep)
}

/// The output under epilogue `e` and, for [`Epilogue::BiasReluPool2Keep`], the full-size relu
/// output (empty otherwise); `None` as for [`conv2d`].
fn run_with_act<T: Element>(
    x: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    d: &ConvDims,
    e: Epilogue,
) -> Option<(Vec<T>, Vec<T>)> {
    #[cfg(target_arch = "x86_64")]
    {
        if !available() {
            return None;
        }
        let mut out = vec![T::ZERO; d.n * out_img(d, e)];
        let act_len = if e == Epilogue::BiasReluPool2Keep {
            d.n * d.out_img()
        } else {
            0
        };
        let mut act = vec![T::ZERO; act_len];
        let done =
            run_as::<T, std::arch::x86_64::__m256>(x, weight, bias, d, e, &mut out, &mut act)
                || run_as::<T, std::arch::x86_64::__m256d>(
                    x, weight, bias, d, e, &mut out, &mut act,
                );
        done.then_some((out, act))
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
    act: &mut [T],
) -> bool {
    let (Some(x), Some(w), Some(o), Some(a)) =
        (cast(x), cast(weight), cast_mut(out), cast_mut(act))
    else {
        return false;
    };
    let b = match bias.map(cast) {
        Some(None) => return false,
        b => b.flatten(),
    };
    avx::run::<V>(x, w, b, d, e, o, a);
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
        type E: crate::backend::Element;
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
        /// `v` where `a > 0`, else +0 (NaN in `a` gives 0), as `relu_backward`'s select.
        unsafe fn where_positive(a: Self, v: Self) -> Self;
        /// The scalar 4 (the pooling window's area).
        fn four() -> Self::E;
    }

    /// `impl Vector` for one register type from its intrinsics.
    macro_rules! impl_vector {
        ($v:ty, $e:ty, $l:expr, $zero:ident, $splat:ident, $fma:ident, $add:ident, $max:ident, $div:ident, $cmp:ident, $and:ident) => {
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
                #[inline(always)]
                unsafe fn where_positive(a: Self, v: Self) -> Self {
                    $and($cmp::<_CMP_GT_OQ>(a, $zero()), v)
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
        _mm256_div_ps,
        _mm256_cmp_ps,
        _mm256_and_ps
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
        _mm256_div_pd,
        _mm256_cmp_pd,
        _mm256_and_pd
    );

    /// Channels, height, width and padding of one image in a tile.
    type Chw = (usize, usize, usize, usize);

    /// Runs the kernel over all images, [`IMAGES_PER_TASK`] per rayon task; `act` receives the
    /// full-size relu output under [`Epilogue::BiasReluPool2Keep`] (empty otherwise).
    pub(super) fn run<V: Vector>(
        x: &[V::E],
        w: &[V::E],
        bias: Option<&[V::E]>,
        d: &ConvDims,
        e: Epilogue,
        out: &mut [V::E],
        act: &mut [V::E],
    ) {
        debug_assert!(
            super::available(),
            "the AVX2 + FMA kernels run only where detected"
        );
        let (hp, wp) = (d.h + 2 * d.p, d.w + 2 * d.p);
        let (in_img, o_img) = (d.in_img(), out_img(d, e));
        let a_img = if e == Epilogue::BiasReluPool2Keep {
            d.out_img()
        } else {
            0
        };
        // One optional disjoint `&mut` chunk of `act` per task.
        let act_chunks: Vec<Option<&mut [V::E]>> = if a_img > 0 {
            act.chunks_mut(IMAGES_PER_TASK * a_img).map(Some).collect()
        } else {
            (0..d.n.div_ceil(IMAGES_PER_TASK)).map(|_| None).collect()
        };
        out.par_chunks_mut(IMAGES_PER_TASK * o_img)
            .zip(x.par_chunks(IMAGES_PER_TASK * in_img))
            .zip(act_chunks)
            .for_each_init(
                // Scratch per task: the transposed, padded input tile (zero padding written
                // once) and the output tiles, all in vectors of L images.
                || {
                    // SAFETY: AVX is present (checked by `conv2d` before any call).
                    let z = unsafe { V::zero() };
                    (vec![z; d.c * hp * wp], vec![z; o_img], vec![z; a_img])
                },
                |(xt, ot, at), ((o_chunk, x_chunk), mut a_chunk)| {
                    for (i, (o_tile, x_tile)) in o_chunk
                        .chunks_mut(V::L * o_img)
                        .zip(x_chunk.chunks(V::L * in_img))
                        .enumerate()
                    {
                        gather::<V>(x_tile, (d.c, d.h, d.w, d.p), xt);
                        // SAFETY: AVX + FMA are present (checked by `conv2d`); the scratch
                        // lengths match the geometry.
                        unsafe { tile::<V>(xt, w, bias, d, e, ot, at) };
                        scatter::<V>(ot, o_tile, o_img);
                        if let Some(a) = a_chunk.as_deref_mut() {
                            let images = o_tile.len() / o_img;
                            let a_tile = &mut a[i * V::L * a_img..(i * V::L + images) * a_img];
                            scatter::<V>(at, a_tile, a_img);
                        }
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
                        let images = go_tile.len() / o_img;
                        add_tile_weight_grad::<V>(xt, got, d, o.rows, images, chains, &mut sum);
                    }
                    sum
                },
            )
            .collect();
        fold_weight_grad(partials.iter().map(|p| &p[..]), o.rows, gw);
    }

    /// Adds one tile's weight-gradient chains (`images` lanes of `got`) into the task's
    /// `sum`, image by image, then block by block, as the GEMM path does.
    fn add_tile_weight_grad<V: Vector>(
        xt: &[V],
        got: &[V],
        d: &ConvDims,
        rows: usize,
        images: usize,
        chains: &mut [V],
        sum: &mut [V::E],
    ) {
        // SAFETY: AVX + FMA are present (checked by the callers' entry points); scratch
        // lengths match the geometry.
        unsafe { weight_grad_tile::<V>(xt, got, d, rows, chains) };
        // SAFETY: `chains` is vectors of `L` scalars.
        let cs: &[V::E] =
            unsafe { std::slice::from_raw_parts(chains.as_ptr().cast(), chains.len() * V::L) };
        for l in 0..images {
            for cb in cs.chunks_exact(sum.len() * V::L) {
                for (s, lanes) in sum.iter_mut().zip(cb.chunks_exact(V::L)) {
                    *s += lanes[l];
                }
            }
        }
    }

    /// The tasks' partial sums (`[rows, len]` each) added in task order, then the `R` copies
    /// in `r` order, into `gw` (`len` zeros).
    fn fold_weight_grad<'a, E: Copy + Default + std::ops::AddAssign + 'a>(
        partials: impl Iterator<Item = &'a [E]>,
        rows: usize,
        gw: &mut [E],
    ) {
        let len = gw.len();
        let mut total = vec![E::default(); rows * len];
        for p in partials {
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

    /// [`super::relu_pool2_backward`]: per task of `o.images` images, tile by tile, the input
    /// and the relu output gathered into lanes, the pooled gradient spread back and masked in
    /// the lanes ([`relu_pool_grad_tile`]), then the weight gradient (as [`weight_grad`]), the
    /// bias gradient (as `lanes::sum_slice` per image plane: [`add_tile_bias_grad`]) and the
    /// input gradient (as [`input_grad`]) from those lanes.
    pub(super) fn relu_pool2_backward<V: Vector>(
        x: &[V::E],
        w: &[V::E],
        act: &[V::E],
        g: &[V::E],
        d: &ConvDims,
        o: GemmOrder,
        (gx, gw, gb): (Option<&mut [V::E]>, &mut [V::E], &mut [V::E]),
    ) {
        debug_assert!(
            super::available(),
            "the AVX2 + FMA kernels run only where detected"
        );
        let (hp, wp) = (d.h + 2 * d.p, d.w + 2 * d.p);
        let (in_img, o_img) = (d.in_img(), d.out_img());
        let p_img = o_img / 4;
        let len = gw.len();
        let blocks = (d.oh.div_ceil(o.rows) * d.ow).div_ceil(GEMM_KC);
        let tasks = d.n.div_ceil(o.images);
        let need_gx = gx.is_some();
        // One optional disjoint `&mut` chunk of grad_x per task.
        let gx_chunks: Vec<Option<&mut [V::E]>> = match gx {
            Some(v) => v.chunks_mut(o.images * in_img).map(Some).collect(),
            None => (0..tasks).map(|_| None).collect(),
        };
        let partials: Vec<(Vec<V::E>, Vec<V::E>)> = gx_chunks
            .into_par_iter()
            .enumerate()
            .map_init(
                || {
                    // SAFETY: AVX is present (checked by `relu_pool2_backward`'s caller).
                    let z = unsafe { V::zero() };
                    let gx_scratch = if need_gx {
                        (vec![z; d.kw * d.oh * d.ow], vec![z; d.c * hp * wp])
                    } else {
                        (Vec::new(), Vec::new())
                    };
                    (
                        vec![z; d.c * hp * wp],
                        vec![z; o_img],
                        vec![z; o_img],
                        vec![z; p_img],
                        vec![z; blocks * o.rows * len],
                        gx_scratch,
                    )
                },
                |(xt, got, at, gt, chains, (dcols, gxt)), (t, mut gx_chunk)| {
                    let mut sum = vec![V::E::default(); o.rows * len];
                    let mut bias = vec![V::E::default(); d.co];
                    let (i0, i1) = (t * o.images, ((t + 1) * o.images).min(d.n));
                    for (k, start) in (i0..i1).step_by(V::L).enumerate() {
                        let images = V::L.min(i1 - start);
                        let tile = start..start + images;
                        let x_tile = &x[tile.start * in_img..tile.end * in_img];
                        gather::<V>(x_tile, (d.c, d.h, d.w, d.p), xt);
                        let a_tile = &act[tile.start * o_img..tile.end * o_img];
                        gather::<V>(a_tile, (d.co, d.oh, d.ow, 0), at);
                        let g_tile = &g[tile.start * p_img..tile.end * p_img];
                        gather::<V>(g_tile, (d.co, d.oh / 2, d.ow / 2, 0), gt);
                        // SAFETY: AVX is present; scratch lengths match the geometry.
                        unsafe { relu_pool_grad_tile::<V>(at, gt, d, got) };
                        add_tile_weight_grad::<V>(xt, got, d, o.rows, images, chains, &mut sum);
                        add_tile_bias_grad::<V>(got, d, images, &mut bias);
                        if let Some(gxc) = gx_chunk.as_deref_mut() {
                            // SAFETY: AVX + FMA are present; scratch lengths match the geometry.
                            unsafe { input_grad_tile::<V>(w, got, d, dcols, gxt) };
                            let off = k * V::L * in_img;
                            scatter_unpadded::<V>(gxt, d, &mut gxc[off..off + images * in_img]);
                        }
                    }
                    (sum, bias)
                },
            )
            .collect();
        fold_weight_grad(partials.iter().map(|p| &p.0[..]), o.rows, gw);
        // Task sums in task order, from zero (as `lanes::add_into` on the GEMM path).
        for (_, bias) in &partials {
            for (b, &v) in gb.iter_mut().zip(bias) {
                *b += v;
            }
        }
    }

    /// `got[c, y, x] = at[c, y, x] > 0 ? gt[c, y/2, x/2] / 4 : 0` over one tile (OH, OW even):
    /// the pooling's backward (`g / 4` over each window) then relu's, as the composition.
    #[target_feature(enable = "avx,fma")]
    unsafe fn relu_pool_grad_tile<V: Vector>(at: &[V], gt: &[V], d: &ConvDims, got: &mut [V]) {
        let (ph, pw) = (d.oh / 2, d.ow / 2);
        assert!(at.len() >= d.out_img() && got.len() >= d.out_img() && gt.len() >= d.co * ph * pw);
        let four = V::splat(V::four());
        for c in 0..d.co {
            for py in 0..ph {
                for px in 0..pw {
                    let gv = V::div(*gt.get_unchecked((c * ph + py) * pw + px), four);
                    for dy in 0..2 {
                        let at_row = (c * d.oh + 2 * py + dy) * d.ow + 2 * px;
                        for dx in 0..2 {
                            let i = at_row + dx;
                            *got.get_unchecked_mut(i) = V::where_positive(*at.get_unchecked(i), gv);
                        }
                    }
                }
            }
        }
    }

    /// Adds each image's bias gradient `Σ_(y,x) got[c, y, x]` (lanes `0..images`) to `bias[c]`,
    /// image by image, each sum in `lanes::sum_slice`'s order: `W`-lane partial sums over
    /// positions (`W` the `wide` lanes of the scalar), those lanes in order, then the tail.
    fn add_tile_bias_grad<V: Vector>(got: &[V], d: &ConvDims, images: usize, bias: &mut [V::E]) {
        use crate::backend::{Element, Lanes};
        let width = <V::E as Element>::Lanes::WIDTH;
        let sp = d.oh * d.ow;
        let body = sp / width * width;
        // SAFETY: `got` is vectors of `L` scalars.
        let gs: &[V::E] =
            unsafe { std::slice::from_raw_parts(got.as_ptr().cast(), got.len() * V::L) };
        let zero = V::E::default();
        for (c, b) in bias.iter_mut().enumerate() {
            let plane = &gs[c * sp * V::L..(c + 1) * sp * V::L];
            // part[j][l]: image l's running sum over positions ≡ j (mod W) below `body`.
            let mut part = [[zero; 8]; 8];
            for (pos, lanes) in plane[..body * V::L].chunks_exact(V::L).enumerate() {
                let pj = &mut part[pos % width];
                for (p, &v) in pj.iter_mut().zip(lanes) {
                    *p += v;
                }
            }
            for l in 0..images {
                let mut s = zero;
                for pj in &part[..width] {
                    s += pj[l];
                }
                for lanes in plane[body * V::L..].chunks_exact(V::L) {
                    s += lanes[l];
                }
                *b += s;
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
                        scatter_unpadded::<V>(gxt, d, gx_tile);
                    }
                },
            );
    }

    /// Copies the inside of the padded lane tile `gxt` `[c, h + 2p, w + 2p]` to the images of
    /// `gx_tile` (lane `l` to image `l`).
    fn scatter_unpadded<V: Vector>(gxt: &[V], d: &ConvDims, gx_tile: &mut [V::E]) {
        let (hp, wp) = (d.h + 2 * d.p, d.w + 2 * d.p);
        // SAFETY: `gxt` is vectors of `L` scalars.
        let gs: &[V::E] =
            unsafe { std::slice::from_raw_parts(gxt.as_ptr().cast(), gxt.len() * V::L) };
        for (l, img) in gx_tile.chunks_mut(d.in_img()).enumerate() {
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

    /// Every output of one tile: channel blocks of [`CO_TILE`], then single channels. `at`
    /// (the relu output tile) is written only under [`Epilogue::BiasReluPool2Keep`].
    #[target_feature(enable = "avx,fma")]
    unsafe fn tile<V: Vector>(
        xt: &[V],
        w: &[V::E],
        bias: Option<&[V::E]>,
        d: &ConvDims,
        e: Epilogue,
        ot: &mut [V],
        at: &mut [V],
    ) {
        let full = d.co / CO_TILE * CO_TILE;
        for co0 in (0..full).step_by(CO_TILE) {
            match e {
                Epilogue::Bias => block::<V, CO_TILE, false, false>(xt, w, bias, d, co0, ot, at),
                Epilogue::BiasReluPool2 => {
                    block::<V, CO_TILE, true, false>(xt, w, bias, d, co0, ot, at)
                }
                Epilogue::BiasReluPool2Keep => {
                    block::<V, CO_TILE, true, true>(xt, w, bias, d, co0, ot, at)
                }
            }
        }
        for co0 in full..d.co {
            match e {
                Epilogue::Bias => block::<V, 1, false, false>(xt, w, bias, d, co0, ot, at),
                Epilogue::BiasReluPool2 => block::<V, 1, true, false>(xt, w, bias, d, co0, ot, at),
                Epilogue::BiasReluPool2Keep => {
                    block::<V, 1, true, true>(xt, w, bias, d, co0, ot, at)
                }
            }
        }
    }

    /// Channels `co0..co0 + CT` over every 2×2 output block; `POOL` picks the epilogue, `KEEP`
    /// (with `POOL`) also stores the relu outputs into `at`.
    #[inline(always)]
    unsafe fn block<V: Vector, const CT: usize, const POOL: bool, const KEEP: bool>(
        xt: &[V],
        w: &[V::E],
        bias: Option<&[V::E]>,
        d: &ConvDims,
        co0: usize,
        ot: &mut [V],
        at: &mut [V],
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
                        for (q, &v) in acc[t].iter().enumerate() {
                            let r = V::max(V::add(v, b[t]), zero);
                            s = V::add(s, r);
                            if KEEP {
                                let pos = (2 * py + q / 2) * d.ow + 2 * px + q % 2;
                                at[co * d.oh * d.ow + pos] = r;
                            }
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

    /// The fused lane backward against the pooling + relu backward then the convolution's
    /// backward, bit for bit, with and without grad_x; also the relu output the keeping
    /// forward writes against conv2d + relu. Cases with even outputs (the only ones planned).
    fn relu_pool2_backward_same_bits<T: Element>() {
        use super::super::conv::conv2d_backward;
        use super::super::pool::avg_pool2d_relu_backward;
        let mut rng = StdRng::seed_from_u64(8);
        let extra = [
            (2 * IMAGES_PER_TASK + 3, 6, 14, 14, 16, 5, 0),
            (9, 1, 28, 28, 6, 5, 2),
        ];
        for case in CASES.into_iter().chain(extra) {
            let d = dims(case);
            if !plan(&d, Epilogue::BiasReluPool2Keep, gemm_k(&d)) {
                assert!(!available() || d.oh % 2 == 1 || d.ow % 2 == 1, "{case:?}");
                continue;
            }
            let x = random::<T>(d.n * d.in_img(), &mut rng);
            let w = random::<T>(d.co * d.c * d.kh * d.kw, &mut rng);
            let b = random::<T>(d.co, &mut rng);
            let (pooled, act) = conv2d_keep(&x, &w, Some(&b), &d).unwrap();
            let act_want = unary(&conv2d_gemm(&x, &w, Some(&b), &d), UnaryOp::Relu);
            assert_eq!(bits(&act), bits(&act_want), "{case:?} act");
            let g = random::<T>(pooled.len(), &mut rng);
            let pool = PoolDims {
                planes: d.n * d.co,
                h: d.oh,
                w: d.ow,
                oh: d.oh / 2,
                ow: d.ow / 2,
                k: 2,
            };
            let go = avg_pool2d_relu_backward(&act, &g, &pool);
            let order = GemmOrder {
                rows: stack_rows(&d),
                images: GEMM_IMAGES_PER_TASK,
            };
            for need_gx in [false, true] {
                let Some((gx, gw, gb)) = relu_pool2_backward(&x, &w, &act, &g, &d, order, need_gx)
                else {
                    assert!(need_gx && order.rows > 1, "{case:?}: declined");
                    continue;
                };
                let (wx, ww, wb) = conv2d_backward(&x, &w, &go, &d, need_gx);
                assert_eq!(gx.is_some(), need_gx, "{case:?}");
                if let (Some(gx), Some(wx)) = (gx, wx) {
                    assert_eq!(bits(&gx), bits(&wx), "{case:?} grad_x");
                }
                assert_eq!(bits(&gw), bits(&ww), "{case:?} grad_w");
                assert_eq!(bits(&gb), bits(&wb), "{case:?} grad_b");
            }
        }
    }

    #[test]
    fn relu_pool2_backward_has_the_composed_bits() {
        relu_pool2_backward_same_bits::<f32>();
        relu_pool2_backward_same_bits::<f64>();
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
