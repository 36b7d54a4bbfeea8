//! Augmentations and multi-view transforms, matching torchvision where the seed uses it.
//!
//! A [`Transform<In>`] maps one sample to another with randomness drawn from an explicit RNG, so
//! the caller decides where randomness comes from (the [loader](super::loader) gives every sample
//! its own stream). Transforms compose with [`TransformExt::then`]; [`MultiViews`] applies one `n`
//! times to the same input for contrastive learning.
//!
//! Images ([`Image`]) come in two pixel types, as in torchvision's pipeline: `u8` is a PIL image
//! (the seed crops and blurs the PIL image, with PIL's integer rounding), `f32` a tensor image
//! (after [`ToTensor`]). The seed's MNIST views are
//!
//! ```text
//! RandomResizedCrop(28) → GaussianBlur(3) → ToTensor → Normalize((0.5,), (0.5,))
//! ```
//!
//! ([`mnist_contrast_transforms`]), its probing images `ToTensor → Normalize`
//! ([`mnist_scale_transforms`]). Tabular transforms for feature vectors are [`FlattenSample`],
//! [`RandomMask`] and [`GaussianNoise`]. DINO's global and local views are a [`MultiCrop`]
//! ([`mnist_multi_crop`], [`tabular_multi_crop`]).
//!
//! For images of any size and channel count there are also [`RandomHorizontalFlip`],
//! [`RandomVerticalFlip`] (either pixel type) and, on `f32` images in `[0, 1]`,
//! [`RandomBrightness`] and [`RandomContrast`] (torchvision's `ColorJitter` for those two
//! factors). Pipelines chosen at run time (from an experiment file) are a [`Pipeline`] of
//! [`ImageAugment`] or [`TabularAugment`] values: enums of the transforms above, since the
//! RNG-generic [`Transform`] cannot be boxed.
//!
//! ```
//! use nidl::datasets::transforms::{mnist_contrast_transforms, Image, MultiViews, Transform};
//! use nidl::rand::{rngs::StdRng, SeedableRng};
//!
//! # fn main() -> nidl::Result<()> {
//! let digit = Image::gray(28, 28, vec![0u8; 784])?;
//! let views = MultiViews::new(mnist_contrast_transforms()?, 2)?;
//! let v = views.apply(digit, &mut StdRng::seed_from_u64(0))?;
//! assert_eq!(v.0.len(), 2);
//! assert_eq!(v.0[0].shape(), [1, 28, 28]);
//! assert!(v.0[0].data().iter().all(|&x| x == -1.0)); // black stays black: (0 − 0.5) / 0.5
//! # Ok(())
//! # }
//! ```

mod augment;
mod blur;
mod color;
mod flip;
mod image;
mod multi_crop;
mod resample;
mod tabular;

pub use augment::{ImageAugment, Pipeline, TabularAugment};
pub use blur::{gaussian_blur, gaussian_kernel1d, gaussian_kernel2d};
pub use color::{
    adjust_brightness, adjust_contrast, Brightness, ColorFactor, Contrast, RandomBrightness,
    RandomColor, RandomContrast,
};
pub use flip::{hflip, vflip, RandomFlip, RandomHorizontalFlip, RandomVerticalFlip};
pub use image::{Image, Pixel};
pub use multi_crop::{
    mnist_crop, mnist_multi_crop, tabular_multi_crop, tabular_view, MultiCrop,
    DEFAULT_N_LOCAL_CROPS, GLOBAL_CROP_SCALE, GLOBAL_TABULAR_VIEWS, LOCAL_CROP_SCALE,
    LOCAL_TABULAR_VIEWS, N_GLOBAL_CROPS,
};
pub use tabular::{FlattenSample, GaussianNoise, RandomMask};

use crate::error::{Error, Result};
use rand::{Rng, RngCore};

/// A (possibly random) map from one sample to another.
///
/// `apply` draws all its randomness from `rng`, so the same input and the same RNG state give
/// the same output. Implementations are `Send + Sync`: the loader applies one transform to many
/// samples in parallel.
pub trait Transform<In>: Send + Sync {
    /// What the transform produces.
    type Output;

    /// Transforms `input`, drawing randomness from `rng`.
    fn apply<R: Rng + ?Sized>(&self, input: In, rng: &mut R) -> Result<Self::Output>;
}

/// `.then(next)` for chaining transforms (torchvision's `Compose`). A separate trait because
/// several transforms accept more than one input type (`u8` and `f32` images), so the input is
/// only known once the chain is applied.
pub trait TransformExt: Sized {
    /// This transform followed by `next`: `Compose([self, next])`.
    fn then<B>(self, next: B) -> Compose<Self, B> {
        Compose {
            first: self,
            second: next,
        }
    }
}

impl<T: Send + Sync> TransformExt for T {}

/// `first` then `second`; built by [`TransformExt::then`].
#[derive(Clone, Debug)]
pub struct Compose<A, B> {
    first: A,
    second: B,
}

impl<In, A, B> Transform<In> for Compose<A, B>
where
    A: Transform<In>,
    B: Transform<A::Output>,
{
    type Output = B::Output;
    fn apply<R: Rng + ?Sized>(&self, input: In, rng: &mut R) -> Result<B::Output> {
        let mid = self.first.apply(input, rng)?;
        self.second.apply(mid, rng)
    }
}

/// Returns its input unchanged.
#[derive(Clone, Copy, Debug, Default)]
pub struct Identity;

impl<In> Transform<In> for Identity {
    type Output = In;
    fn apply<R: Rng + ?Sized>(&self, input: In, _rng: &mut R) -> Result<In> {
        Ok(input)
    }
}

/// A transform from a closure `Fn(In, &mut dyn RngCore) -> Result<Out>`; see [`from_fn`].
#[derive(Clone, Copy, Debug)]
pub struct FnTransform<F>(F);

/// Wraps a closure as a [`Transform`] (torchvision's `Lambda`); the closure gets the RNG as
/// `&mut dyn RngCore` (use `rand::Rng` methods on it).
pub fn from_fn<F>(f: F) -> FnTransform<F> {
    FnTransform(f)
}

/// Lets a `?Sized` generic RNG be passed on as `&mut dyn RngCore`.
struct DynRng<'a, R: ?Sized>(&'a mut R);

impl<R: RngCore + ?Sized> RngCore for DynRng<'_, R> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> std::result::Result<(), rand::Error> {
        self.0.try_fill_bytes(dest)
    }
}

impl<In, Out, F> Transform<In> for FnTransform<F>
where
    F: Fn(In, &mut dyn RngCore) -> Result<Out> + Send + Sync,
{
    type Output = Out;
    fn apply<R: Rng + ?Sized>(&self, input: In, rng: &mut R) -> Result<Out> {
        (self.0)(input, &mut DynRng(rng))
    }
}

/// The views [`MultiViews`] produces, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Views<T>(pub Vec<T>);

/// Applies a transform `n_views` times to the same input, each time with fresh draws from the
/// RNG (nidl's `MultiViewsTransform`): view 1 takes the first draws, view 2 the next, …
#[derive(Clone, Debug)]
pub struct MultiViews<T> {
    transform: T,
    n_views: usize,
}

impl<T> MultiViews<T> {
    /// `n_views ≥ 1` independent applications of `transform`.
    pub fn new(transform: T, n_views: usize) -> Result<Self> {
        if n_views == 0 {
            return Err(Error::invalid("MultiViews", "n_views must be at least 1"));
        }
        Ok(MultiViews { transform, n_views })
    }

    /// The number of views.
    pub fn n_views(&self) -> usize {
        self.n_views
    }

    /// The transform applied to each view.
    pub fn transform(&self) -> &T {
        &self.transform
    }
}

impl<In: Clone, T: Transform<In>> Transform<In> for MultiViews<T> {
    type Output = Views<T::Output>;
    fn apply<R: Rng + ?Sized>(&self, input: In, rng: &mut R) -> Result<Views<T::Output>> {
        let mut views = Vec::with_capacity(self.n_views);
        for _ in 1..self.n_views {
            views.push(self.transform.apply(input.clone(), rng)?);
        }
        views.push(self.transform.apply(input, rng)?);
        Ok(Views(views))
    }
}

/// torchvision's `ToTensor` on a PIL image: `u8` grey levels to `f32` in `[0, 1]` (`v / 255`).
#[derive(Clone, Copy, Debug, Default)]
pub struct ToTensor;

impl Transform<Image<u8>> for ToTensor {
    type Output = Image<f32>;
    fn apply<R: Rng + ?Sized>(&self, img: Image<u8>, _rng: &mut R) -> Result<Image<f32>> {
        let [c, h, w] = img.shape();
        let data = img.data().iter().map(|&v| v as f32 / 255.0).collect();
        Image::new(c, h, w, data)
    }
}

/// torchvision's `Normalize(mean, std)`: `(x − mean[c]) / std[c]` per channel, in `f32`. A
/// one-element `mean`/`std` applies to every channel (torch broadcasting).
#[derive(Clone, Debug)]
pub struct Normalize {
    mean: Vec<f32>,
    std: Vec<f32>,
}

impl Normalize {
    /// Per-channel `mean` and `std` (equal lengths ≥ 1, every std non-zero and finite).
    pub fn new(mean: &[f32], std: &[f32]) -> Result<Self> {
        if mean.is_empty() || mean.len() != std.len() {
            return Err(Error::invalid(
                "Normalize",
                format!(
                    "mean and std need the same non-zero length, got {} and {}",
                    mean.len(),
                    std.len()
                ),
            ));
        }
        if let Some(s) = std.iter().find(|s| **s == 0.0 || !s.is_finite()) {
            return Err(Error::invalid(
                "Normalize",
                format!("std must be non-zero and finite, got {s}"),
            ));
        }
        Ok(Normalize {
            mean: mean.to_vec(),
            std: std.to_vec(),
        })
    }
}

impl Transform<Image<f32>> for Normalize {
    type Output = Image<f32>;
    fn apply<R: Rng + ?Sized>(&self, mut img: Image<f32>, _rng: &mut R) -> Result<Image<f32>> {
        let [c, h, w] = img.shape();
        if self.mean.len() != 1 && self.mean.len() != c {
            return Err(Error::shape(
                "Normalize",
                format!("{} channels (or 1) as mean/std", self.mean.len()),
                &[&img.shape()],
            ));
        }
        for (ch, plane) in img.data_mut().chunks_exact_mut((h * w).max(1)).enumerate() {
            let k = if self.mean.len() == 1 { 0 } else { ch };
            let (m, s) = (self.mean[k], self.std[k]);
            for v in plane {
                *v = (*v - m) / s;
            }
        }
        Ok(img)
    }
}

/// A crop box: rows `top..top + height`, columns `left..left + width`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CropBox {
    /// First row.
    pub top: usize,
    /// First column.
    pub left: usize,
    /// Number of rows.
    pub height: usize,
    /// Number of columns.
    pub width: usize,
}

/// torchvision's `resized_crop` on a PIL image: crop the box (zero outside the image), then
/// PIL's antialiased bilinear resize to `out_height × out_width`.
pub fn resized_crop<P: Pixel>(
    img: &Image<P>,
    top: i64,
    left: i64,
    height: usize,
    width: usize,
    out_height: usize,
    out_width: usize,
) -> Result<Image<P>> {
    img.crop(top, left, height, width)?
        .resize_bilinear(out_height, out_width)
}

/// Python's `round()`: to nearest, ties to even.
fn round_half_even(x: f64) -> i64 {
    x.round_ties_even() as i64
}

/// A uniform `f32` draw in `[low, high)` as `torch.empty(1).uniform_(low, high)` computes it.
fn uniform_f32<R: Rng + ?Sized>(rng: &mut R, low: f32, high: f32) -> f32 {
    low + rng.gen::<f32>() * (high - low)
}

/// torchvision's `RandomResizedCrop(size, scale, ratio)`: a random box of random area and
/// aspect ratio, resized to `size` with PIL's antialiased bilinear filter.
///
/// The box follows `RandomResizedCrop.get_params` step for step: up to 10 attempts, each drawing
/// the area fraction uniformly in `scale` and the aspect ratio log-uniformly in `ratio` (both as
/// `f32`, like torch), `w = round(√(area·r))`, `h = round(√(area/r))` (Python rounding), accepted
/// when it fits, its corner then uniform over the valid positions; after 10 failures, the
/// central crop with the aspect ratio clamped to `ratio`.
#[derive(Clone, Debug)]
pub struct RandomResizedCrop {
    height: usize,
    width: usize,
    scale: (f64, f64),
    ratio: (f64, f64),
}

impl RandomResizedCrop {
    /// A square output of `size × size`, scale `(0.08, 1.0)`, ratio `(3/4, 4/3)`.
    pub fn new(size: usize) -> Result<Self> {
        Self::with_size(size, size)
    }

    /// An output of `height × width`, default scale and ratio.
    pub fn with_size(height: usize, width: usize) -> Result<Self> {
        if height == 0 || width == 0 {
            return Err(Error::invalid(
                "RandomResizedCrop",
                format!("output size must be non-zero, got {height}×{width}"),
            ));
        }
        Ok(RandomResizedCrop {
            height,
            width,
            scale: (0.08, 1.0),
            ratio: (3.0 / 4.0, 4.0 / 3.0),
        })
    }

    /// Range of the crop's area as a fraction of the image's (`0 ≤ min ≤ max`).
    pub fn scale(mut self, min: f64, max: f64) -> Result<Self> {
        if !(min >= 0.0 && min <= max && max.is_finite()) {
            return Err(Error::invalid(
                "RandomResizedCrop",
                format!("scale must satisfy 0 ≤ min ≤ max < ∞, got ({min}, {max})"),
            ));
        }
        self.scale = (min, max);
        Ok(self)
    }

    /// Range of the crop's aspect ratio width/height (`0 < min ≤ max`).
    pub fn ratio(mut self, min: f64, max: f64) -> Result<Self> {
        if !(min > 0.0 && min <= max && max.is_finite()) {
            return Err(Error::invalid(
                "RandomResizedCrop",
                format!("ratio must satisfy 0 < min ≤ max < ∞, got ({min}, {max})"),
            ));
        }
        self.ratio = (min, max);
        Ok(self)
    }

    /// `get_params`: the random box for an image of `height × width` (an empty image gets the
    /// empty box).
    pub fn get_params<R: Rng + ?Sized>(&self, height: usize, width: usize, rng: &mut R) -> CropBox {
        if height == 0 || width == 0 {
            return CropBox {
                top: 0,
                left: 0,
                height: 0,
                width: 0,
            };
        }
        let area = (height * width) as f64;
        // torch.log(torch.tensor(ratio)) is f32.
        let log_ratio = ((self.ratio.0 as f32).ln(), (self.ratio.1 as f32).ln());
        for _ in 0..10 {
            let target_area =
                area * uniform_f32(rng, self.scale.0 as f32, self.scale.1 as f32) as f64;
            let aspect = uniform_f32(rng, log_ratio.0, log_ratio.1).exp() as f64;
            let w = round_half_even((target_area * aspect).sqrt());
            let h = round_half_even((target_area / aspect).sqrt());
            if 0 < w && w <= width as i64 && 0 < h && h <= height as i64 {
                let (h, w) = (h as usize, w as usize);
                let top = rng.gen_range(0..=height - h);
                let left = rng.gen_range(0..=width - w);
                return CropBox {
                    top,
                    left,
                    height: h,
                    width: w,
                };
            }
        }
        // Fallback to the central crop.
        let in_ratio = width as f64 / height as f64;
        let (h, w) = if in_ratio < self.ratio.0 {
            (round_half_even(width as f64 / self.ratio.0) as usize, width)
        } else if in_ratio > self.ratio.1 {
            (
                height,
                round_half_even(height as f64 * self.ratio.1) as usize,
            )
        } else {
            (height, width)
        };
        let (h, w) = (h.clamp(1, height), w.clamp(1, width));
        CropBox {
            top: (height - h) / 2,
            left: (width - w) / 2,
            height: h,
            width: w,
        }
    }
}

impl<P: Pixel> Transform<Image<P>> for RandomResizedCrop {
    type Output = Image<P>;
    fn apply<R: Rng + ?Sized>(&self, img: Image<P>, rng: &mut R) -> Result<Image<P>> {
        if img.height() == 0 || img.width() == 0 {
            return Err(Error::shape(
                "RandomResizedCrop",
                "a non-empty image",
                &[&img.shape()],
            ));
        }
        let b = self.get_params(img.height(), img.width(), rng);
        resized_crop(
            &img,
            b.top as i64,
            b.left as i64,
            b.height,
            b.width,
            self.height,
            self.width,
        )
    }
}

/// torchvision's `GaussianBlur(kernel_size, sigma = (0.1, 2.0))`: σ drawn uniformly (as `f32`)
/// per call, then [`gaussian_blur`] with that σ on both axes.
#[derive(Clone, Debug)]
pub struct GaussianBlur {
    kernel_size: usize,
    sigma: (f32, f32),
}

impl GaussianBlur {
    /// An odd `kernel_size`, σ ∈ U(0.1, 2.0).
    pub fn new(kernel_size: usize) -> Result<Self> {
        if kernel_size == 0 || kernel_size.is_multiple_of(2) {
            return Err(Error::invalid(
                "GaussianBlur",
                format!("kernel_size must be odd and positive, got {kernel_size}"),
            ));
        }
        Ok(GaussianBlur {
            kernel_size,
            sigma: (0.1, 2.0),
        })
    }

    /// The range σ is drawn from (`0 < min ≤ max`).
    pub fn sigma(mut self, min: f32, max: f32) -> Result<Self> {
        if !(min > 0.0 && min <= max && max.is_finite()) {
            return Err(Error::invalid(
                "GaussianBlur",
                format!("sigma must satisfy 0 < min ≤ max < ∞, got ({min}, {max})"),
            ));
        }
        self.sigma = (min, max);
        Ok(self)
    }

    /// `get_params`: one σ draw.
    pub fn get_sigma<R: Rng + ?Sized>(&self, rng: &mut R) -> f32 {
        uniform_f32(rng, self.sigma.0, self.sigma.1)
    }
}

impl<P: Pixel> Transform<Image<P>> for GaussianBlur {
    type Output = Image<P>;
    fn apply<R: Rng + ?Sized>(&self, img: Image<P>, rng: &mut R) -> Result<Image<P>> {
        let sigma = self.get_sigma(rng);
        gaussian_blur(&img, self.kernel_size, sigma)
    }
}

/// The seed's SimCLR view of an MNIST digit (one view; wrap in [`MultiViews`] for two).
pub type MnistContrastTransforms =
    Compose<Compose<Compose<RandomResizedCrop, GaussianBlur>, ToTensor>, Normalize>;

/// The seed's `contrast_transforms`: `RandomResizedCrop(28)`, `GaussianBlur(3)` (both on the
/// `u8` image, as on the PIL image), `ToTensor`, `Normalize((0.5,), (0.5,))`.
pub fn mnist_contrast_transforms() -> Result<MnistContrastTransforms> {
    Ok(RandomResizedCrop::new(28)?
        .then(GaussianBlur::new(3)?)
        .then(ToTensor)
        .then(Normalize::new(&[0.5], &[0.5])?))
}

/// The seed's `scale_transforms` for probing: `ToTensor`, `Normalize((0.5,), (0.5,))`.
pub fn mnist_scale_transforms() -> Result<Compose<ToTensor, Normalize>> {
    Ok(ToTensor.then(Normalize::new(&[0.5], &[0.5])?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn crop_params_fit_and_cover_the_scale_range() {
        let t = RandomResizedCrop::new(28).unwrap();
        let mut rng = StdRng::seed_from_u64(3);
        let mut areas = Vec::new();
        for _ in 0..2000 {
            let b = t.get_params(28, 28, &mut rng);
            assert!(b.height >= 1 && b.top + b.height <= 28);
            assert!(b.width >= 1 && b.left + b.width <= 28);
            let r = b.width as f64 / b.height as f64;
            // Rounding to integers can push the ratio a little past the range on small boxes.
            assert!(r > 0.5 && r < 2.0, "{b:?}");
            areas.push((b.height * b.width) as f64 / 784.0);
        }
        let min = areas.iter().cloned().fold(1.0, f64::min);
        let max = areas.iter().cloned().fold(0.0, f64::max);
        assert!(min < 0.12 && max > 0.9, "{min} {max}");
    }

    #[test]
    fn crop_fallback_is_central_and_ratio_clamped() {
        // An impossible scale forces the fallback: a 10×40 image (ratio 4 > 4/3).
        let t = RandomResizedCrop::new(8).unwrap().scale(5.0, 6.0).unwrap();
        let b = t.get_params(10, 40, &mut StdRng::seed_from_u64(0));
        // h = 10, w = round(10·4/3) = 13, centred: left = (40 − 13) / 2 = 13.
        assert_eq!(
            b,
            CropBox {
                top: 0,
                left: 13,
                height: 10,
                width: 13
            }
        );
        let b = t.get_params(40, 10, &mut StdRng::seed_from_u64(0));
        // w = 10, h = round(10 / 0.75) = 13, top = (40 − 13) / 2 = 13.
        assert_eq!(
            b,
            CropBox {
                top: 13,
                left: 0,
                height: 13,
                width: 10
            }
        );
        let b = t.get_params(10, 12, &mut StdRng::seed_from_u64(0));
        assert_eq!(
            b,
            CropBox {
                top: 0,
                left: 0,
                height: 10,
                width: 12
            }
        );
    }

    #[test]
    fn python_rounding() {
        assert_eq!(round_half_even(2.5), 2);
        assert_eq!(round_half_even(3.5), 4);
        assert_eq!(round_half_even(3.4999), 3);
    }

    #[test]
    fn normalize_checks_channels() {
        let n = Normalize::new(&[0.5, 0.5], &[0.5, 0.5]).unwrap();
        let img = Image::new(3, 1, 1, vec![0.0f32; 3]).unwrap();
        assert!(n.apply(img, &mut StdRng::seed_from_u64(0)).is_err());
        assert!(Normalize::new(&[0.5], &[0.0]).is_err());
        assert!(Normalize::new(&[0.5], &[]).is_err());
    }

    #[test]
    fn closures_compose() {
        let t = from_fn(|x: Vec<f32>, rng: &mut dyn RngCore| {
            Ok(x.into_iter()
                .map(|v| v + rng.gen::<f32>())
                .collect::<Vec<f32>>())
        })
        .then(Identity);
        let y = t
            .apply(vec![0.0; 4], &mut StdRng::seed_from_u64(1))
            .unwrap();
        assert!(y.iter().all(|&v| (0.0..1.0).contains(&v)));
    }
}
