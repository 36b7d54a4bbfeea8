//! Random flips (torchvision's `RandomHorizontalFlip` and `RandomVerticalFlip`) for images of any
//! size and channel count.

use super::image::{Image, Pixel};
use super::{uniform_f32, Transform};
use crate::error::{Error, Result};
use rand::Rng;

/// The image mirrored left to right (torchvision's `F.hflip`): column `x` becomes `W − 1 − x`.
pub fn hflip<P: Pixel>(img: &Image<P>) -> Image<P> {
    let mut out = img.clone();
    let w = img.width().max(1);
    for row in out.data_mut().chunks_exact_mut(w) {
        row.reverse();
    }
    out
}

/// The image mirrored top to bottom (torchvision's `F.vflip`): row `y` becomes `H − 1 − y`.
pub fn vflip<P: Pixel>(img: &Image<P>) -> Image<P> {
    let mut out = img.clone();
    let (h, w) = (img.height(), img.width());
    if h * w == 0 {
        return out;
    }
    for plane in out.data_mut().chunks_exact_mut(h * w) {
        for y in 0..h / 2 {
            let (top, bottom) = plane.split_at_mut((h - 1 - y) * w);
            top[y * w..(y + 1) * w].swap_with_slice(&mut bottom[..w]);
        }
    }
    out
}

/// The flip probability `p ∈ [0, 1]`, checked for `op`.
fn probability(op: &'static str, p: f64) -> Result<f32> {
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::invalid(op, format!("p must be in [0, 1], got {p}")));
    }
    Ok(p as f32)
}

/// torchvision's `RandomHorizontalFlip(p)`: one `f32` draw `u ∈ [0, 1)` per image (as
/// `torch.rand(1)`), mirrored left to right when `u < p`.
#[derive(Clone, Copy, Debug)]
pub struct RandomHorizontalFlip {
    p: f32,
}

impl RandomHorizontalFlip {
    /// Flips with probability `p ∈ [0, 1]` (torchvision's default is 0.5).
    pub fn new(p: f64) -> Result<Self> {
        Ok(RandomHorizontalFlip {
            p: probability("RandomHorizontalFlip", p)?,
        })
    }
}

impl<P: Pixel> Transform<Image<P>> for RandomHorizontalFlip {
    type Output = Image<P>;
    fn apply<R: Rng + ?Sized>(&self, img: Image<P>, rng: &mut R) -> Result<Image<P>> {
        Ok(if uniform_f32(rng, 0.0, 1.0) < self.p {
            hflip(&img)
        } else {
            img
        })
    }
}

/// torchvision's `RandomVerticalFlip(p)`: one `f32` draw `u ∈ [0, 1)` per image, mirrored top to
/// bottom when `u < p`.
#[derive(Clone, Copy, Debug)]
pub struct RandomVerticalFlip {
    p: f32,
}

impl RandomVerticalFlip {
    /// Flips with probability `p ∈ [0, 1]` (torchvision's default is 0.5).
    pub fn new(p: f64) -> Result<Self> {
        Ok(RandomVerticalFlip {
            p: probability("RandomVerticalFlip", p)?,
        })
    }
}

impl<P: Pixel> Transform<Image<P>> for RandomVerticalFlip {
    type Output = Image<P>;
    fn apply<R: Rng + ?Sized>(&self, img: Image<P>, rng: &mut R) -> Result<Image<P>> {
        Ok(if uniform_f32(rng, 0.0, 1.0) < self.p {
            vflip(&img)
        } else {
            img
        })
    }
}
