//! Gaussian blur as torchvision computes it (`torchvision.transforms.functional.gaussian_blur`).
//!
//! torchvision builds the 1-D kernel in `f32`: `x = linspace(-(k-1)/2, (k-1)/2, k)`,
//! `pdf = exp(-0.5·(x/σ)²)`, `kernel = pdf / sum(pdf)`; the 2-D kernel is the outer product of
//! that kernel with itself. The image is padded by `k/2` on each side in `reflect` mode (the edge
//! pixel is not repeated: `… 2 1 | 0 1 2 …`) and convolved per channel in `f32`. A PIL (`u8`)
//! image is converted to `f32` first and rounded half to even back to `u8` afterwards, as
//! torchvision does.

use super::image::{Image, Pixel};
use crate::error::{Error, Result};
use crate::tensor::{Element, Lanes};

/// The SIMD pack the convolution computes with (8 × f32).
type L = <f32 as Element>::Lanes;
/// Output pixels per pack.
const LANES: usize = <L as Lanes<f32>>::WIDTH;

/// torchvision's `_get_gaussian_kernel1d(kernel_size, sigma)` in `f32`.
pub fn gaussian_kernel1d(kernel_size: usize, sigma: f32) -> Vec<f32> {
    let half = (kernel_size as f32 - 1.0) * 0.5;
    // torch.linspace(-half, half, k): start + i·step, step = (end − start)/(k − 1), in f32.
    let step = if kernel_size > 1 {
        (2.0 * half) / (kernel_size as f32 - 1.0)
    } else {
        0.0
    };
    let pdf: Vec<f32> = (0..kernel_size)
        .map(|i| {
            let x = -half + i as f32 * step;
            let t = x / sigma;
            (-0.5 * (t * t)).exp()
        })
        .collect();
    let sum: f32 = pdf.iter().sum();
    pdf.iter().map(|p| p / sum).collect()
}

/// The `kernel_size × kernel_size` kernel, `k2[i][j] = k1[i]·k1[j]` in `f32`, row-major.
pub fn gaussian_kernel2d(kernel_size: usize, sigma: f32) -> Vec<f32> {
    let k1 = gaussian_kernel1d(kernel_size, sigma);
    k1.iter()
        .flat_map(|&a| k1.iter().map(move |&b| a * b))
        .collect()
}

/// Index of `i ∈ [-pad, n + pad)` reflected into `[0, n)` (numpy/torch `reflect`, needs `pad < n`).
fn reflect(i: i64, n: i64) -> usize {
    let r = if i < 0 {
        -i
    } else if i >= n {
        2 * (n - 1) - i
    } else {
        i
    };
    r as usize
}

/// Blurs every channel of `img` with the `kernel_size × kernel_size` Gaussian of std `sigma`,
/// reflect-padded. `kernel_size` must be odd and smaller than twice each image side (torch's
/// reflect padding needs `kernel_size / 2 < side`); `sigma` must be positive.
pub fn gaussian_blur<P: Pixel>(img: &Image<P>, kernel_size: usize, sigma: f32) -> Result<Image<P>> {
    const OP: &str = "gaussian_blur";
    if kernel_size == 0 || kernel_size.is_multiple_of(2) {
        return Err(Error::invalid(
            OP,
            format!("kernel_size must be odd and positive, got {kernel_size}"),
        ));
    }
    if !(sigma > 0.0 && sigma.is_finite()) {
        return Err(Error::invalid(
            OP,
            format!("sigma must be positive and finite, got {sigma}"),
        ));
    }
    let (h, w) = (img.height(), img.width());
    let pad = kernel_size / 2;
    if pad >= h || pad >= w {
        return Err(Error::invalid(
            OP,
            format!("reflect padding {pad} needs an image larger than that, got {h}×{w}"),
        ));
    }
    let kernel = gaussian_kernel2d(kernel_size, sigma);
    let taps: Vec<L> = kernel.iter().map(|&k| L::splat(k)).collect();
    // Rows are padded to whole SIMD packs (`wv` outputs, the extra ones discarded), plus the
    // reflected borders; the zero columns past them only feed discarded outputs.
    let wv = w.div_ceil(LANES) * LANES;
    let (ph, pw) = (h + 2 * pad, wv + 2 * pad);
    let mut padded = vec![0f32; ph * pw];
    let mut acc = vec![0f32; wv];
    let mut out = Vec::with_capacity(img.data().len());
    for plane in img.data().chunks_exact(h * w) {
        // Reflect-pad: each padded row is a reflected source row, its ends reflected columns.
        for (py, prow) in padded.chunks_exact_mut(pw).enumerate() {
            let sy = reflect(py as i64 - pad as i64, h as i64);
            let src = &plane[sy * w..(sy + 1) * w];
            for (d, &s) in prow[pad..pad + w].iter_mut().zip(src) {
                *d = s.to_f32();
            }
            for p in 0..pad {
                prow[p] = src[pad - p].to_f32();
                prow[pad + w + p] = src[w - 2 - p].to_f32();
            }
        }
        // out[y][x] = Σ_ky Σ_kx k[ky][kx]·padded[y+ky][x+kx], summed from 0 in that order, in
        // f32 (lane-wise IEEE multiply and add: the same bits as the scalar loop).
        for y in 0..h {
            for x0 in (0..wv).step_by(LANES) {
                let mut s = L::splat(0.0);
                for (ky, krow) in taps.chunks_exact(kernel_size).enumerate() {
                    let prow = &padded[(y + ky) * pw + x0..(y + ky + 1) * pw];
                    for (kx, &kv) in krow.iter().enumerate() {
                        s += kv * L::load(&prow[kx..]);
                    }
                }
                s.store(&mut acc[x0..]);
            }
            P::extend_from_f32(&mut out, &acc[..w]);
        }
    }
    Image::new(img.channels(), h, w, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_is_normalised_and_symmetric() {
        let k = gaussian_kernel1d(3, 0.7);
        assert!((k.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(k[0], k[2]);
        // Hand-worked: pdf(±1) = exp(-0.5/0.49) = 0.360447…, k[1] = 1/(1 + 2·0.360447) = 0.581…
        assert!((k[1] - 1.0 / (1.0 + 2.0 * (-0.5f32 / 0.49).exp())).abs() < 1e-6);
    }

    #[test]
    fn reflect_does_not_repeat_the_edge() {
        let got: Vec<usize> = (-2..6).map(|i| reflect(i, 4)).collect();
        assert_eq!(got, vec![2, 1, 0, 1, 2, 3, 2, 1]);
    }

    /// The convolution written plainly: pixel by pixel, taps in (ky, kx) order.
    fn naive(img: &[f32], h: usize, w: usize, k: usize, sigma: f32) -> Vec<f32> {
        let kernel = gaussian_kernel2d(k, sigma);
        let pad = (k / 2) as i64;
        let mut out = vec![0.0; h * w];
        for y in 0..h {
            for x in 0..w {
                let mut s = 0.0f32;
                for ky in 0..k {
                    for kx in 0..k {
                        let sy = reflect(y as i64 + ky as i64 - pad, h as i64);
                        let sx = reflect(x as i64 + kx as i64 - pad, w as i64);
                        s += kernel[ky * k + kx] * img[sy * w + sx];
                    }
                }
                out[y * w + x] = s;
            }
        }
        out
    }

    #[test]
    fn simd_rows_give_the_plain_sums_bit_for_bit() {
        let mut state = 7u64;
        for (h, w, k) in [(28, 28, 3), (5, 13, 3), (9, 17, 5), (2, 2, 3), (4, 9, 7)] {
            let px: Vec<f32> = (0..h * w)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (state >> 40) as f32 / (1u64 << 24) as f32
                })
                .collect();
            let img = Image::new(1, h, w, px.clone()).unwrap();
            let got = gaussian_blur(&img, k, 0.83).unwrap();
            let want = naive(&px, h, w, k, 0.83);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(got.data()), bits(&want), "{h}x{w} k{k}");
        }
    }

    #[test]
    fn rejects_bad_arguments() {
        let img = Image::gray(2, 2, vec![0u8; 4]).unwrap();
        assert!(gaussian_blur(&img, 2, 1.0).is_err());
        assert!(gaussian_blur(&img, 3, 0.0).is_err());
        assert!(gaussian_blur(&img, 5, 1.0).is_err());
        assert!(gaussian_blur(&img, 3, 1.0).is_ok());
    }
}
