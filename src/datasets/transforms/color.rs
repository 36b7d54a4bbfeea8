//! Brightness and contrast jitter with torchvision's `ColorJitter` semantics for those two
//! factors, on `f32` images with values in `[0, 1]` (apply them before [`Normalize`](super::Normalize)).
//!
//! A jitter of strength `s` draws its factor uniformly (as `f32`, like
//! `torch.empty(1).uniform_`) in `[max(0, 1 − s), 1 + s]`; `s = 0` is the identity and draws
//! nothing, as torchvision skips a factor whose range is `(1, 1)`. Unlike `ColorJitter`, which
//! applies its factors in a random order, each is its own transform, applied where it stands in
//! the pipeline.

use super::image::Image;
use super::{uniform_f32, Transform};
use crate::error::{Error, Result};
use rand::Rng;
use std::marker::PhantomData;

/// `factor·x + (1 − factor)·other` clamped to `[0, 1]` (torchvision's `_blend` for float images).
fn blend(x: f32, other: f32, factor: f32) -> f32 {
    (factor * x + (1.0 - factor) * other).clamp(0.0, 1.0)
}

/// torchvision's `adjust_brightness(img, factor)` for a float image: every value times `factor`,
/// clamped to `[0, 1]`.
pub fn adjust_brightness(mut img: Image<f32>, factor: f32) -> Image<f32> {
    for v in img.data_mut() {
        *v = blend(*v, 0.0, factor);
    }
    img
}

/// torchvision's `adjust_contrast(img, factor)` for a float image: every value blended with the
/// mean `m` of the image's grey levels, `factor·x + (1 − factor)·m`, clamped to `[0, 1]`. For 3
/// channels the grey level is `0.2989·r + 0.587·g + 0.114·b` (`rgb_to_grayscale`); for any other
/// channel count (torchvision takes 1 only) `m` is the mean of every value. The mean is summed in
/// `f64` and rounded to `f32`.
pub fn adjust_contrast(mut img: Image<f32>, factor: f32) -> Image<f32> {
    let [c, h, w] = img.shape();
    let plane = h * w;
    let data = img.data();
    let mean = if data.is_empty() {
        0.0
    } else if c == 3 {
        let (r, g, b) = (&data[..plane], &data[plane..2 * plane], &data[2 * plane..]);
        let sum: f64 = (0..plane)
            .map(|i| f64::from(0.2989 * r[i] + 0.587 * g[i] + 0.114 * b[i]))
            .sum();
        (sum / plane as f64) as f32
    } else {
        (data.iter().map(|&v| f64::from(v)).sum::<f64>() / data.len() as f64) as f32
    };
    for v in img.data_mut() {
        *v = blend(*v, mean, factor);
    }
    img
}

/// What a colour jitter adjusts: [`Brightness`] or [`Contrast`].
pub trait ColorFactor: Copy + Send + Sync + std::fmt::Debug {
    /// The transform's name in error messages.
    const NAME: &'static str;
    /// Adjusts `img` by `factor` ([`adjust_brightness`] or [`adjust_contrast`]).
    fn adjust(img: Image<f32>, factor: f32) -> Image<f32>;
}

/// The brightness factor of `ColorJitter` ([`adjust_brightness`]).
#[derive(Clone, Copy, Debug)]
pub struct Brightness;

impl ColorFactor for Brightness {
    const NAME: &'static str = "RandomBrightness";
    fn adjust(img: Image<f32>, factor: f32) -> Image<f32> {
        adjust_brightness(img, factor)
    }
}

/// The contrast factor of `ColorJitter` ([`adjust_contrast`]).
#[derive(Clone, Copy, Debug)]
pub struct Contrast;

impl ColorFactor for Contrast {
    const NAME: &'static str = "RandomContrast";
    fn adjust(img: Image<f32>, factor: f32) -> Image<f32> {
        adjust_contrast(img, factor)
    }
}

/// One `ColorJitter` factor of strength `s`: `F::adjust` by a factor uniform in
/// `[max(0, 1 − s), 1 + s]`. Use it by its names, [`RandomBrightness`] and [`RandomContrast`].
#[derive(Clone, Copy, Debug)]
pub struct RandomColor<F> {
    range: (f32, f32),
    factor: PhantomData<F>,
}

/// `ColorJitter(brightness = s)`: [`adjust_brightness`] by a factor uniform in
/// `[max(0, 1 − s), 1 + s]`.
pub type RandomBrightness = RandomColor<Brightness>;

/// `ColorJitter(contrast = s)`: [`adjust_contrast`] by a factor uniform in
/// `[max(0, 1 − s), 1 + s]`.
pub type RandomContrast = RandomColor<Contrast>;

impl<F: ColorFactor> RandomColor<F> {
    /// Jitter of strength `s ≥ 0` (finite).
    pub fn new(s: f64) -> Result<Self> {
        if !(s >= 0.0 && s.is_finite()) {
            return Err(Error::invalid(
                F::NAME,
                format!("the jitter strength must be finite and ≥ 0, got {s}"),
            ));
        }
        Ok(RandomColor {
            range: ((1.0 - s).max(0.0) as f32, (1.0 + s) as f32),
            factor: PhantomData,
        })
    }

    /// The range the factor is drawn from.
    pub fn range(&self) -> (f32, f32) {
        self.range
    }
}

impl<F: ColorFactor> Transform<Image<f32>> for RandomColor<F> {
    type Output = Image<f32>;
    fn apply<R: Rng + ?Sized>(&self, img: Image<f32>, rng: &mut R) -> Result<Image<f32>> {
        // The identity range (1, 1) draws nothing, as torchvision skips such a factor.
        if self.range == (1.0, 1.0) {
            return Ok(img);
        }
        let f = uniform_f32(rng, self.range.0, self.range.1);
        Ok(F::adjust(img, f))
    }
}
