//! Images as the augmentations see them: `channels × height × width` pixels, channel-major.
//!
//! Two pixel types play the two roles torchvision's pipeline has: `u8` is a PIL image (what
//! `RandomResizedCrop` and `GaussianBlur` work on in the seed, with PIL's integer rounding), `f32`
//! is a tensor image (after `ToTensor`). The [`Pixel`] trait holds what differs between them.

use super::resample;
use crate::error::{Error, Result};

/// A `channels × height × width` image, row-major within a channel, channels one after another
/// (the layout of a `[C, H, W]` tensor).
#[derive(Clone, Debug, PartialEq)]
pub struct Image<P> {
    channels: usize,
    height: usize,
    width: usize,
    data: Vec<P>,
}

impl<P: Pixel> Image<P> {
    /// An image from its pixels in `[C, H, W]` order; errors if `data.len()` ≠ `C·H·W`.
    pub fn new(channels: usize, height: usize, width: usize, data: Vec<P>) -> Result<Self> {
        let n = channels
            .checked_mul(height)
            .and_then(|n| n.checked_mul(width));
        if n != Some(data.len()) {
            return Err(Error::shape(
                "Image::new",
                "channels × height × width pixels",
                &[&[channels, height, width], &[data.len()]],
            ));
        }
        Ok(Image {
            channels,
            height,
            width,
            data,
        })
    }

    /// A one-channel (grey-level) image of `height × width` pixels.
    pub fn gray(height: usize, width: usize, data: Vec<P>) -> Result<Self> {
        Self::new(1, height, width, data)
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// `[channels, height, width]`.
    pub fn shape(&self) -> [usize; 3] {
        [self.channels, self.height, self.width]
    }

    /// The pixels in `[C, H, W]` order.
    pub fn data(&self) -> &[P] {
        &self.data
    }

    /// The pixels in `[C, H, W]` order, mutably.
    pub fn data_mut(&mut self) -> &mut [P] {
        &mut self.data
    }

    /// Consumes the image, returning its pixels.
    pub fn into_vec(self) -> Vec<P> {
        self.data
    }

    /// The `height × width` box whose top-left corner is (`top`, `left`), as PIL's
    /// `Image.crop((left, top, left + width, top + height))`: pixels outside the image are 0.
    /// Errors on an empty box.
    pub fn crop(&self, top: i64, left: i64, height: usize, width: usize) -> Result<Self> {
        if height == 0 || width == 0 {
            return Err(Error::invalid(
                "Image::crop",
                format!("empty crop box {height}×{width} at ({top}, {left})"),
            ));
        }
        let mut data = vec![P::default(); self.channels * height * width];
        // Columns of the box that fall inside the image: [x0, x1) in box coordinates.
        let x0 = left.saturating_neg().clamp(0, width as i64) as usize;
        let x1 = (self.width as i64)
            .saturating_sub(left)
            .clamp(0, width as i64) as usize;
        for c in 0..self.channels {
            let src = &self.data[c * self.height * self.width..(c + 1) * self.height * self.width];
            let dst = &mut data[c * height * width..(c + 1) * height * width];
            for (y, row) in dst.chunks_exact_mut(width).enumerate() {
                let sy = top.saturating_add(y as i64);
                if sy < 0 || sy >= self.height as i64 || x0 >= x1 {
                    continue;
                }
                let s = sy as usize * self.width;
                let sx0 = (left + x0 as i64) as usize;
                row[x0..x1].copy_from_slice(&src[s + sx0..s + sx0 + (x1 - x0)]);
            }
        }
        Image::new(self.channels, height, width, data)
    }

    /// Resized to `height × width` with PIL's antialiased bilinear filter (`Image.resize(...,
    /// BILINEAR)`): a triangle filter stretched by the downscale factor, two separable passes,
    /// horizontal first. See [`Pixel::resize_bilinear`] for the arithmetic of each pixel type.
    pub fn resize_bilinear(&self, height: usize, width: usize) -> Result<Self> {
        if height == 0 || width == 0 || self.height == 0 || self.width == 0 {
            return Err(Error::invalid(
                "Image::resize_bilinear",
                format!(
                    "cannot resize a {}×{} image to {height}×{width}",
                    self.height, self.width
                ),
            ));
        }
        if (height, width) == (self.height, self.width) {
            // PIL returns a copy when the size does not change.
            return Ok(self.clone());
        }
        let data = P::resize_bilinear(self, height, width);
        Image::new(self.channels, height, width, data)
    }
}

/// A pixel type: `u8` (PIL 8-bit, integer arithmetic) or `f32` (tensor, float arithmetic).
pub trait Pixel: Copy + Default + Send + Sync + 'static {
    /// The value as `f32` (grey level 0..=255 for `u8`).
    fn to_f32(self) -> f32;
    /// A computed value stored back: `u8` rounds half to even and saturates (torchvision's
    /// `round().to(uint8)` after a float op on a PIL image), `f32` stores it unchanged.
    fn from_f32(v: f32) -> Self;
    /// Appends `from_f32(v)` for every `v` of `src` to `dst`.
    fn extend_from_f32(dst: &mut Vec<Self>, src: &[f32]) {
        dst.extend(src.iter().map(|&v| Self::from_f32(v)));
    }
    /// PIL's bilinear resize of `img` to `height × width` (both non-zero and different from the
    /// image's size in at least one axis): `u8` uses PIL's 8-bit path (coefficients in 22-bit
    /// fixed point, rounding and clipping to 0..=255 after each pass), `f32` PIL's mode-`F` path
    /// (double-precision sums, `f32` storage after each pass).
    fn resize_bilinear(img: &Image<Self>, height: usize, width: usize) -> Vec<Self>;
}

/// 1.5·2^23: `(v + MAGIC) − MAGIC` is `v` rounded half to even, for |v| < 2^22.
const MAGIC: f32 = 12_582_912.0;

impl Pixel for u8 {
    fn to_f32(self) -> f32 {
        self as f32
    }

    fn from_f32(v: f32) -> Self {
        // Round half to even as torch.round does, then saturate (`as` maps NaN to 0). Adding and
        // subtracting 1.5·2^23 rounds to an integer in the FPU's round-to-nearest-even mode,
        // exactly for |v| < 2^22 — cheaper than a libm call on targets without SSE4.1.
        let r = if v.abs() < 4_194_304.0 {
            (v + MAGIC) - MAGIC
        } else {
            v
        };
        r as u8
    }

    fn extend_from_f32(dst: &mut Vec<u8>, src: &[f32]) {
        // Eight lanes at a time: clamp to [0, 255], round half to even with the 1.5·2^23 trick
        // (lane-wise IEEE adds), truncate the now-integral values. Same results as `from_f32`.
        use wide::f32x8;
        let (zero, top, magic) = (f32x8::splat(0.0), f32x8::splat(255.0), f32x8::splat(MAGIC));
        let mut chunks = src.chunks_exact(8);
        for c in &mut chunks {
            let v = f32x8::from(std::array::from_fn::<f32, 8, _>(|i| c[i]));
            let r = (v.max(zero).min(top) + magic) - magic;
            dst.extend(r.fast_trunc_int().to_array().iter().map(|&x| x as u8));
        }
        dst.extend(chunks.remainder().iter().map(|&v| u8::from_f32(v)));
    }

    fn resize_bilinear(img: &Image<u8>, height: usize, width: usize) -> Vec<u8> {
        resample::resize_u8(img.data(), img.shape(), height, width)
    }
}

impl Pixel for f32 {
    fn to_f32(self) -> f32 {
        self
    }

    fn from_f32(v: f32) -> Self {
        v
    }

    fn resize_bilinear(img: &Image<f32>, height: usize, width: usize) -> Vec<f32> {
        resample::resize_f32(img.data(), img.shape(), height, width)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_pads_with_zeros_outside() {
        let img = Image::gray(2, 3, vec![1u8, 2, 3, 4, 5, 6]).unwrap();
        let c = img.crop(-1, 1, 3, 3).unwrap();
        assert_eq!(c.data(), &[0, 0, 0, 2, 3, 0, 5, 6, 0]);
        let inside = img.crop(1, 0, 1, 2).unwrap();
        assert_eq!(inside.data(), &[4, 5]);
        let outside = img.crop(5, 5, 1, 1).unwrap();
        assert_eq!(outside.data(), &[0]);
        for (t, l) in [
            (i64::MIN, i64::MIN),
            (i64::MAX, i64::MAX),
            (0, i64::MIN),
            (i64::MIN, 0),
        ] {
            assert_eq!(img.crop(t, l, 2, 2).unwrap().data(), &[0; 4]);
        }
        assert!(img.crop(0, 0, 0, 1).is_err());
    }

    #[test]
    fn new_checks_the_pixel_count() {
        assert!(Image::<u8>::new(1, 2, 2, vec![0; 3]).is_err());
        assert!(Image::<f32>::new(2, 2, 2, vec![0.0; 8]).is_ok());
    }

    #[test]
    fn u8_rounds_half_to_even_and_saturates() {
        assert_eq!(u8::from_f32(2.5), 2);
        assert_eq!(u8::from_f32(3.5), 4);
        assert_eq!(u8::from_f32(255.00002), 255);
        assert_eq!(u8::from_f32(-0.3), 0);
        assert_eq!(u8::from_f32(f32::NAN), 0);
        assert_eq!(u8::from_f32(1e30), 255);
        let mut all = Vec::new();
        for i in -100..=2650 {
            let v = i as f32 * 0.1;
            assert_eq!(u8::from_f32(v), v.round_ties_even() as u8, "{v}");
            all.push(v);
        }
        all.extend([0.5, 1.5, 2.5, 254.5, 255.5, -0.5, 1e9, -1e9]);
        let mut bulk = Vec::new();
        u8::extend_from_f32(&mut bulk, &all);
        let one_by_one: Vec<u8> = all.iter().map(|&v| u8::from_f32(v)).collect();
        assert_eq!(bulk, one_by_one);
    }
}
