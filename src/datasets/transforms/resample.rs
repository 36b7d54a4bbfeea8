//! PIL's antialiased bilinear resize (`Image.resize(size, Image.BILINEAR)`), as Pillow's
//! `libImaging/Resample.c` computes it, so a resized crop matches torchvision on a PIL image.
//!
//! The algorithm: for each output column `xx` the filter is centred at `(xx + 0.5)·scale` in input
//! coordinates (`scale = in / out`); when downscaling, the triangle filter (support 1) is
//! stretched by `scale`, which is what makes it antialiased. Each output pixel takes the
//! normalised filter weights over the input pixels `[xmin, xmin + n)` around the centre. Two
//! separable passes: horizontal on the rows the vertical pass will read, then vertical.
//!
//! 8-bit images (`u8`, PIL modes `L`/`RGB`) use PIL's fixed point: weights scaled by 2^22 and
//! rounded, sums started at 2^21 (round half up), shifted back and clipped to 0..=255 after
//! **each** pass. Float images (`f32`, PIL mode `F`) sum in `f64` and store `f32` after each pass.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// The filter's support at scale 1 (PIL's `BILINEAR = {bilinear_filter, 1.0}`).
const SUPPORT: f64 = 1.0;
/// Fractional bits of PIL's 8-bit weights: 32 bits − 8 for the pixel − 2 for overflow headroom.
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// PIL's triangle filter.
fn bilinear_filter(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        1.0 - x
    } else {
        0.0
    }
}

/// The filter taps of one axis: for output position `i`, weights `weights[i*ksize..][..len[i]]`
/// apply to input positions `start[i]..start[i]+len[i]`; `fixed` holds the same weights in
/// 8-bit fixed point.
struct Coeffs {
    ksize: usize,
    start: Vec<usize>,
    len: Vec<usize>,
    weights: Vec<f64>,
    fixed: Vec<i32>,
}

/// Most `(in, out)` axis tables kept per thread (a 28×28 crop pipeline needs at most 28 per
/// axis). Computing a table costs about as much as resizing a small image, so they are reused.
const CACHE_ENTRIES: usize = 256;

thread_local! {
    static COEFFS: RefCell<HashMap<(usize, usize), Rc<Coeffs>>> = RefCell::new(HashMap::new());
}

/// The table for `in_size → out_size`, from this thread's cache.
fn coeffs(in_size: usize, out_size: usize) -> Rc<Coeffs> {
    COEFFS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(c) = cache.get(&(in_size, out_size)) {
            return Rc::clone(c);
        }
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        let c = Rc::new(precompute(in_size, out_size));
        cache.insert((in_size, out_size), Rc::clone(&c));
        c
    })
}

/// `precompute_coeffs` of Resample.c for the box `[0, in_size)` resized to `out_size`.
fn precompute(in_size: usize, out_size: usize) -> Coeffs {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = SUPPORT * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let mut c = Coeffs {
        ksize,
        start: vec![0; out_size],
        len: vec![0; out_size],
        weights: vec![0.0; out_size * ksize],
        fixed: Vec::new(),
    };
    let ss = 1.0 / filterscale;
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        // C's `(int)` truncates toward zero; `as` does the same.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
        let n = xmax.saturating_sub(xmin);
        let k = &mut c.weights[xx * ksize..xx * ksize + n];
        let mut ww = 0.0;
        for (x, w) in k.iter_mut().enumerate() {
            *w = bilinear_filter(((x + xmin) as f64 - center + 0.5) * ss);
            ww += *w;
        }
        if ww != 0.0 {
            for w in k.iter_mut() {
                *w /= ww;
            }
        }
        c.start[xx] = xmin;
        c.len[xx] = n;
    }
    c.fixed = fixed_point(&c.weights);
    c
}

/// `normalize_coeffs_8bpc`: weights to 22-bit fixed point, rounded half away from zero.
fn fixed_point(weights: &[f64]) -> Vec<i32> {
    let one = (1u32 << PRECISION_BITS) as f64;
    weights
        .iter()
        .map(|&w| {
            if w < 0.0 {
                (-0.5 + w * one) as i32
            } else {
                (0.5 + w * one) as i32
            }
        })
        .collect()
}

/// `clip8`: a fixed-point sum back to a grey level.
fn clip8(ss: i32) -> u8 {
    (ss >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Rows of the input the vertical pass reads: `[first, last)`.
fn row_span(v: &Coeffs) -> (usize, usize) {
    let first = v.start.first().copied().unwrap_or(0);
    let last = v
        .start
        .iter()
        .zip(&v.len)
        .map(|(s, n)| s + n)
        .max()
        .unwrap_or(first);
    (first, last.max(first))
}

/// One 8-bit pass along the slow axis: output line `i` (of `src`'s line length `len`) is
/// `clip8(2^21 + Σ_t k[t]·src[start[i] − base + t])`, summed a whole line at a time (integer
/// sums are exact, so any order gives PIL's result, and this one vectorises).
fn pass_u8(src: &[u8], len: usize, c: &Coeffs, base: usize, out: &mut [u8], acc: &mut Vec<i32>) {
    let half = 1i32 << (PRECISION_BITS - 1);
    acc.resize(len, 0);
    for (i, oline) in out.chunks_exact_mut(len).enumerate() {
        let (s, n) = (c.start[i] - base, c.len[i]);
        let k = &c.fixed[i * c.ksize..i * c.ksize + n];
        acc.fill(half);
        for (line, &w) in src[s * len..(s + n) * len].chunks_exact(len).zip(k) {
            for (a, &p) in acc.iter_mut().zip(line) {
                *a += p as i32 * w;
            }
        }
        for (o, &a) in oline.iter_mut().zip(acc.iter()) {
            *o = clip8(a);
        }
    }
}

/// `dst[x·rows + y] = src[y·cols + x]` for a `rows × cols` block.
fn transpose(src: &[u8], rows: usize, cols: usize, dst: &mut Vec<u8>) {
    dst.clear();
    dst.resize(rows * cols, 0);
    for (y, line) in src.chunks_exact(cols).take(rows).enumerate() {
        for (x, &p) in line.iter().enumerate() {
            dst[x * rows + y] = p;
        }
    }
}

/// PIL's 8-bit resize of every channel of the `[channels, ih, iw]` `pixels` (channel-major,
/// row-major within a channel) to `height × width`.
///
/// The horizontal pass runs on the transposed rows (so each output column is a weighted sum of
/// whole input columns, like the vertical pass) and is transposed back: same sums, vectorised.
pub(super) fn resize_u8(
    pixels: &[u8],
    [channels, ih, iw]: [usize; 3],
    height: usize,
    width: usize,
) -> Vec<u8> {
    debug_assert_eq!(pixels.len(), channels * ih * iw);
    if ih == 0 || iw == 0 || height == 0 || width == 0 {
        return vec![0; channels * height * width];
    }
    let need_h = width != iw;
    let need_v = height != ih;
    let vert = coeffs(ih, height);
    let horiz = need_h.then(|| coeffs(iw, width));
    let (first, last) = if need_h { row_span(&vert) } else { (0, ih) };
    let ny = last - first;
    let mut out = vec![0u8; channels * height * width];
    let (mut cols, mut hcols, mut tmp) = (Vec::new(), Vec::new(), Vec::new());
    let mut acc: Vec<i32> = Vec::new();
    let planes = pixels.chunks_exact(ih * iw);
    let out_planes = out.chunks_exact_mut(height * width);
    for (plane, oplane) in planes.zip(out_planes) {
        // Horizontal pass over the rows [first, last) only (PIL's `ybox_first..ybox_last`).
        let (src, sw): (&[u8], usize) = match &horiz {
            Some(h) => {
                transpose(&plane[first * iw..last * iw], ny, iw, &mut cols);
                hcols.clear();
                hcols.resize(width * ny, 0);
                pass_u8(&cols, ny, h, 0, &mut hcols, &mut acc);
                transpose(&hcols, width, ny, &mut tmp);
                (&tmp, width)
            }
            None => (plane, iw),
        };
        if need_v {
            // Row indices are relative to `first` when the horizontal pass ran.
            pass_u8(
                src,
                sw,
                &vert,
                if need_h { first } else { 0 },
                oplane,
                &mut acc,
            );
        } else {
            oplane.copy_from_slice(src);
        }
    }
    out
}

/// PIL's mode-`F` resize of every channel of the `[channels, ih, iw]` `pixels` (channel-major,
/// row-major within a channel) to `height × width`.
pub(super) fn resize_f32(
    pixels: &[f32],
    [channels, ih, iw]: [usize; 3],
    height: usize,
    width: usize,
) -> Vec<f32> {
    debug_assert_eq!(pixels.len(), channels * ih * iw);
    if ih == 0 || iw == 0 || height == 0 || width == 0 {
        return vec![0.0; channels * height * width];
    }
    let need_h = width != iw;
    let need_v = height != ih;
    let vert = coeffs(ih, height);
    let horiz = need_h.then(|| coeffs(iw, width));
    let (first, last) = if need_h { row_span(&vert) } else { (0, ih) };
    let mut out = Vec::with_capacity(channels * height * width);
    let mut tmp = Vec::new();
    let mut acc: Vec<f64> = Vec::new();
    for plane in pixels.chunks_exact(ih * iw) {
        let (src, sw): (&[f32], usize) = match &horiz {
            Some(h) => {
                tmp.clear();
                for row in plane[first * iw..last * iw].chunks_exact(iw) {
                    for xx in 0..width {
                        let (s, n) = (h.start[xx], h.len[xx]);
                        let k = &h.weights[xx * h.ksize..xx * h.ksize + n];
                        let ss: f64 = row[s..s + n]
                            .iter()
                            .zip(k)
                            .map(|(&p, &w)| p as f64 * w)
                            .sum();
                        tmp.push(ss as f32);
                    }
                }
                (&tmp, width)
            }
            None => (plane, iw),
        };
        if !need_v {
            out.extend_from_slice(src);
            continue;
        }
        // Row by row, tap by tap: each pixel still sums its taps in PIL's order.
        let base = if need_h { first } else { 0 };
        let start = out.len();
        out.resize(start + height * sw, 0.0);
        acc.resize(sw, 0.0);
        for (yy, orow) in out[start..].chunks_exact_mut(sw).enumerate() {
            let (s, n) = (vert.start[yy] - base, vert.len[yy]);
            let k = &vert.weights[yy * vert.ksize..yy * vert.ksize + n];
            acc.fill(0.0);
            for (row, &w) in src[s * sw..(s + n) * sw].chunks_exact(sw).zip(k) {
                for (a, &p) in acc.iter_mut().zip(row) {
                    *a += p as f64 * w;
                }
            }
            for (o, &a) in orow.iter_mut().zip(&acc) {
                *o = a as f32;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_scale_has_one_tap() {
        let c = precompute(5, 5);
        for i in 0..5 {
            assert_eq!(c.start[i], i);
            let k = &c.weights[i * c.ksize..i * c.ksize + c.len[i]];
            assert_eq!(k[0], 1.0);
            assert!(k[1..].iter().all(|&w| w == 0.0));
        }
    }

    #[test]
    fn weights_sum_to_one_when_downscaling() {
        let c = precompute(28, 9);
        for i in 0..9 {
            let s: f64 = c.weights[i * c.ksize..i * c.ksize + c.len[i]].iter().sum();
            assert!((s - 1.0).abs() < 1e-12);
        }
    }

    /// Resample.c's 8-bit loops as written: pixel by pixel, taps in order.
    fn reference_u8(img: &[u8], ih: usize, iw: usize, height: usize, width: usize) -> Vec<u8> {
        let half = 1i32 << (PRECISION_BITS - 1);
        let (h, v) = (precompute(iw, width), precompute(ih, height));
        let mut tmp = vec![0u8; ih * width];
        for y in 0..ih {
            for xx in 0..width {
                let mut ss = half;
                for t in 0..h.len[xx] {
                    ss += img[y * iw + h.start[xx] + t] as i32 * h.fixed[xx * h.ksize + t];
                }
                tmp[y * width + xx] = clip8(ss);
            }
        }
        let mut out = vec![0u8; height * width];
        for yy in 0..height {
            for xx in 0..width {
                let mut ss = half;
                for t in 0..v.len[yy] {
                    ss += tmp[(v.start[yy] + t) * width + xx] as i32 * v.fixed[yy * v.ksize + t];
                }
                out[yy * width + xx] = clip8(ss);
            }
        }
        out
    }

    #[test]
    fn matches_the_plain_loops() {
        let mut state = 11u64;
        for (ih, iw, oh, ow) in [
            (17, 20, 28, 28),
            (9, 6, 28, 28),
            (28, 28, 9, 13),
            (3, 40, 7, 5),
            (1, 1, 4, 3),
        ] {
            let px: Vec<u8> = (0..ih * iw)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (state >> 56) as u8
                })
                .collect();
            assert_eq!(
                resize_u8(&px, [1, ih, iw], oh, ow),
                reference_u8(&px, ih, iw, oh, ow),
                "{ih}x{iw}->{oh}x{ow}"
            );
        }
    }

    #[test]
    fn constant_image_stays_constant() {
        let px = vec![200u8; 35];
        for (h, w) in [(3, 9), (28, 28), (2, 2), (7, 11)] {
            let out = resize_u8(&px, [1, 7, 5], h, w);
            assert_eq!(out.len(), h * w);
            assert!(out.iter().all(|&v| v == 200), "{h}x{w}: {out:?}");
        }
    }
}
