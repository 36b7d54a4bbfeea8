//! Augmentation pipelines built at run time (from an experiment file): one enum per sample kind,
//! whose variants are the transforms that kind takes, and [`Pipeline`], a sequence of them.
//!
//! [`Transform::apply`] is generic over the RNG, so transforms cannot be boxed as trait objects;
//! an enum dispatches instead, and each variant draws exactly what its transform draws, in the
//! same order. An empty pipeline is the identity.
//!
//! ```
//! use nidl::datasets::transforms::{
//!     GaussianBlur, ImageAugment, MultiViews, Pipeline, RandomHorizontalFlip, Transform,
//! };
//! use nidl::datasets::transforms::Image;
//! use rand::{rngs::StdRng, SeedableRng};
//!
//! # fn main() -> nidl::Result<()> {
//! let views = MultiViews::new(
//!     Pipeline(vec![
//!         ImageAugment::HorizontalFlip(RandomHorizontalFlip::new(0.5)?),
//!         ImageAugment::Blur(GaussianBlur::new(3)?),
//!     ]),
//!     2,
//! )?;
//! let img = Image::new(3, 8, 10, vec![0.5f32; 240])?;
//! let v = views.apply(img, &mut StdRng::seed_from_u64(0))?;
//! assert_eq!(v.0[1].shape(), [3, 8, 10]);
//! # Ok(())
//! # }
//! ```

use super::color::{RandomBrightness, RandomContrast};
use super::flip::{RandomHorizontalFlip, RandomVerticalFlip};
use super::image::Image;
use super::tabular::{GaussianNoise, RandomMask};
use super::{GaussianBlur, Normalize, RandomResizedCrop, Transform};
use crate::error::Result;
use crate::tensor::Element;
use rand::Rng;

/// One augmentation of an `f32` image (`C × H × W`, any size).
#[derive(Clone, Debug)]
pub enum ImageAugment {
    /// [`RandomResizedCrop`].
    ResizedCrop(RandomResizedCrop),
    /// [`GaussianBlur`].
    Blur(GaussianBlur),
    /// [`RandomHorizontalFlip`].
    HorizontalFlip(RandomHorizontalFlip),
    /// [`RandomVerticalFlip`].
    VerticalFlip(RandomVerticalFlip),
    /// [`RandomBrightness`] (values in `[0, 1]`: before `Normalize`).
    Brightness(RandomBrightness),
    /// [`RandomContrast`] (values in `[0, 1]`: before `Normalize`).
    Contrast(RandomContrast),
    /// [`Normalize`].
    Normalize(Normalize),
}

impl Transform<Image<f32>> for ImageAugment {
    type Output = Image<f32>;
    fn apply<R: Rng + ?Sized>(&self, img: Image<f32>, rng: &mut R) -> Result<Image<f32>> {
        match self {
            ImageAugment::ResizedCrop(t) => t.apply(img, rng),
            ImageAugment::Blur(t) => t.apply(img, rng),
            ImageAugment::HorizontalFlip(t) => t.apply(img, rng),
            ImageAugment::VerticalFlip(t) => t.apply(img, rng),
            ImageAugment::Brightness(t) => t.apply(img, rng),
            ImageAugment::Contrast(t) => t.apply(img, rng),
            ImageAugment::Normalize(t) => t.apply(img, rng),
        }
    }
}

/// One augmentation of a feature vector.
#[derive(Clone, Copy, Debug)]
pub enum TabularAugment {
    /// [`RandomMask`].
    Mask(RandomMask),
    /// [`GaussianNoise`].
    Noise(GaussianNoise),
}

impl<T: Element> Transform<Vec<T>> for TabularAugment {
    type Output = Vec<T>;
    fn apply<R: Rng + ?Sized>(&self, x: Vec<T>, rng: &mut R) -> Result<Vec<T>> {
        match self {
            TabularAugment::Mask(t) => t.apply(x, rng),
            TabularAugment::Noise(t) => t.apply(x, rng),
        }
    }
}

/// Transforms applied in order, each to the previous one's output (torchvision's `Compose` of a
/// list); the empty pipeline returns its input.
#[derive(Clone, Debug)]
pub struct Pipeline<A>(pub Vec<A>);

impl<A> Default for Pipeline<A> {
    /// The empty pipeline (the identity).
    fn default() -> Self {
        Pipeline(Vec::new())
    }
}

impl<S, A: Transform<S, Output = S>> Transform<S> for Pipeline<A> {
    type Output = S;
    fn apply<R: Rng + ?Sized>(&self, input: S, rng: &mut R) -> Result<S> {
        self.0.iter().try_fold(input, |x, t| t.apply(x, rng))
    }
}
