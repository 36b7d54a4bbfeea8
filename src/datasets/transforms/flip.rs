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

/// A random flip: one `f32` draw `u ∈ [0, 1)` per image (as `torch.rand(1)`), mirrored when
/// `u < p` — top to bottom when `VERTICAL`, left to right otherwise. Use it by its torchvision
/// names, [`RandomHorizontalFlip`] and [`RandomVerticalFlip`].
#[derive(Clone, Copy, Debug)]
pub struct RandomFlip<const VERTICAL: bool> {
    p: f32,
}

/// torchvision's `RandomHorizontalFlip(p)`: mirrored left to right ([`hflip`]) with probability `p`.
pub type RandomHorizontalFlip = RandomFlip<false>;

/// torchvision's `RandomVerticalFlip(p)`: mirrored top to bottom ([`vflip`]) with probability `p`.
pub type RandomVerticalFlip = RandomFlip<true>;

impl<const VERTICAL: bool> RandomFlip<VERTICAL> {
    /// Flips with probability `p ∈ [0, 1]` (torchvision's default is 0.5).
    pub fn new(p: f64) -> Result<Self> {
        if !(0.0..=1.0).contains(&p) {
            let op = match VERTICAL {
                true => "RandomVerticalFlip",
                false => "RandomHorizontalFlip",
            };
            return Err(Error::invalid(op, format!("p must be in [0, 1], got {p}")));
        }
        Ok(RandomFlip { p: p as f32 })
    }
}

impl<P: Pixel, const VERTICAL: bool> Transform<Image<P>> for RandomFlip<VERTICAL> {
    type Output = Image<P>;
    fn apply<R: Rng + ?Sized>(&self, img: Image<P>, rng: &mut R) -> Result<Image<P>> {
        Ok(match (uniform_f32(rng, 0.0, 1.0) < self.p, VERTICAL) {
            (false, _) => img,
            (true, true) => vflip(&img),
            (true, false) => hflip(&img),
        })
    }
}
