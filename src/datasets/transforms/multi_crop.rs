//! DINO's multi-crop views (Caron et al. 2021): two *global* views of a sample, then `n_local`
//! *local* views, each from its own transform, in that order (nidl's `DINO` takes them so:
//! `num_large_crops = 2` global views first, `num_local_crops` local views after).
//!
//! nidl 0.0.2 ships no multi-crop transform (its users pass a `MultiViewsTransform` of a list of
//! transforms); the defaults here are those of DINO's reference code
//! (`DataAugmentationDINO`): global crops of area scale `(0.4, 1.0)`, local crops of area scale
//! `(0.05, 0.4)`, and nidl's `num_local_crops = 8`.
//!
//! **Local crop size.** DINO resizes its local crops to 96 pixels (global: 224), a lower
//! resolution than the global views. Here every view has the size of the image: the loader stacks
//! the views of a batch into one tensor, and the encoders (the seed's LeNet takes 1×28×28 only)
//! accept one input size. A local crop is thus a small box of the image (0.05–0.4 of its area,
//! sides of about 6–18 pixels on a 28×28 digit) resized *up* to 28×28: the same "local part of
//! the sample" as DINO's, at the encoder's input size.
//!
//! ```
//! use nidl::datasets::transforms::{mnist_multi_crop, Image, Transform};
//! use nidl::rand::{rngs::StdRng, SeedableRng};
//!
//! # fn main() -> nidl::Result<()> {
//! let crops = mnist_multi_crop(4)?;
//! let views = crops.apply(Image::gray(28, 28, vec![128u8; 784])?, &mut StdRng::seed_from_u64(0))?;
//! assert_eq!(views.0.len(), 2 + 4);
//! assert!(views.0.iter().all(|v| v.shape() == [1, 28, 28]));
//! # Ok(())
//! # }
//! ```

use super::{
    GaussianBlur, GaussianNoise, MnistContrastTransforms, Normalize, Pipeline, RandomMask,
    RandomResizedCrop, TabularAugment, ToTensor, Transform, TransformExt, Views,
};
use crate::error::Result;
use rand::Rng;

/// The number of global views: DINO always takes 2 (nidl: `num_large_crops = 2  # it is never
/// changed in DINO`).
pub const N_GLOBAL_CROPS: usize = 2;

/// nidl's default number of local views (`num_local_crops = 8`).
pub const DEFAULT_N_LOCAL_CROPS: usize = 8;

/// DINO's area scale of the global crops (`global_crops_scale = (0.4, 1.0)`).
pub const GLOBAL_CROP_SCALE: (f64, f64) = (0.4, 1.0);

/// DINO's area scale of the local crops (`local_crops_scale = (0.05, 0.4)`).
pub const LOCAL_CROP_SCALE: (f64, f64) = (0.05, 0.4);

/// Two global views from `global`, then `n_local` local views from `local`: view 0 takes the
/// first draws of the RNG, view 1 the next, then the local views in order (as
/// [`MultiViews`](super::MultiViews) does for its views). Both transforms must give the same kind
/// of item (the loader stacks all views of a batch; for images, of one size).
#[derive(Clone, Debug)]
pub struct MultiCrop<G, L> {
    global: G,
    local: L,
    n_local: usize,
}

impl<G, L> MultiCrop<G, L> {
    /// [`N_GLOBAL_CROPS`] views of `global`, then `n_local` views of `local` (`n_local` may be
    /// 0: the two global views only).
    pub fn new(global: G, local: L, n_local: usize) -> Self {
        MultiCrop {
            global,
            local,
            n_local,
        }
    }

    /// The number of local views.
    pub fn n_local(&self) -> usize {
        self.n_local
    }

    /// The number of views in all: `2 + n_local`.
    pub fn n_views(&self) -> usize {
        N_GLOBAL_CROPS + self.n_local
    }

    /// The transform of the global views.
    pub fn global(&self) -> &G {
        &self.global
    }

    /// The transform of the local views.
    pub fn local(&self) -> &L {
        &self.local
    }
}

impl<In, G, L> Transform<In> for MultiCrop<G, L>
where
    In: Clone,
    G: Transform<In>,
    L: Transform<In, Output = G::Output>,
{
    type Output = Views<G::Output>;
    fn apply<R: Rng + ?Sized>(&self, input: In, rng: &mut R) -> Result<Views<G::Output>> {
        let mut views = Vec::with_capacity(self.n_views());
        for _ in 0..N_GLOBAL_CROPS {
            views.push(self.global.apply(input.clone(), rng)?);
        }
        for _ in 0..self.n_local {
            views.push(self.local.apply(input.clone(), rng)?);
        }
        Ok(Views(views))
    }
}

/// One MNIST crop as the seed builds its SimCLR views, with the crop's area `scale`:
/// `RandomResizedCrop(28, scale)`, `GaussianBlur(3)` (on the `u8` image), `ToTensor`,
/// `Normalize((0.5,), (0.5,))`.
pub fn mnist_crop(scale: (f64, f64)) -> Result<MnistContrastTransforms> {
    Ok(RandomResizedCrop::new(28)?
        .scale(scale.0, scale.1)?
        .then(GaussianBlur::new(3)?)
        .then(ToTensor)
        .then(Normalize::new(&[0.5], &[0.5])?))
}

/// DINO's views of an MNIST digit: two global crops ([`GLOBAL_CROP_SCALE`]) and `n_local` local
/// crops ([`LOCAL_CROP_SCALE`]), each [`mnist_crop`], all 1×28×28 (see the module docs).
pub fn mnist_multi_crop(
    n_local: usize,
) -> Result<MultiCrop<MnistContrastTransforms, MnistContrastTransforms>> {
    Ok(MultiCrop::new(
        mnist_crop(GLOBAL_CROP_SCALE)?,
        mnist_crop(LOCAL_CROP_SCALE)?,
        n_local,
    ))
}

/// The seed's OpenBHB views for global views: mask each feature with probability 0.8, then
/// (with probability 0.5) noise of std 0.5.
pub const GLOBAL_TABULAR_VIEWS: (f64, f64) = (0.8, 0.5);

/// Local views of feature vectors (a choice of nidl-rs; DINO and nidl have no tabular crops): a
/// local view sees a smaller part of the sample, as a local image crop does, so it masks each
/// feature with probability 0.9 (keeping about half the features a global view keeps), with
/// the same noise.
pub const LOCAL_TABULAR_VIEWS: (f64, f64) = (0.9, 0.5);

/// One tabular view: [`RandomMask`]`(mask)` then [`GaussianNoise`]`(std)`.
pub fn tabular_view((mask, std): (f64, f64)) -> Result<Pipeline<TabularAugment>> {
    Ok(Pipeline(vec![
        TabularAugment::Mask(RandomMask::new(mask)?),
        TabularAugment::Noise(GaussianNoise::new(std)?),
    ]))
}

/// DINO's views of a feature vector (OpenBHB-like data): two global views
/// ([`GLOBAL_TABULAR_VIEWS`]) and `n_local` local ones ([`LOCAL_TABULAR_VIEWS`]).
pub fn tabular_multi_crop(
    n_local: usize,
) -> Result<MultiCrop<Pipeline<TabularAugment>, Pipeline<TabularAugment>>> {
    Ok(MultiCrop::new(
        tabular_view(GLOBAL_TABULAR_VIEWS)?,
        tabular_view(LOCAL_TABULAR_VIEWS)?,
        n_local,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::transforms::{Identity, Image};
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// A digit-like image: a bright square on black.
    fn digit() -> Image<u8> {
        let mut px = vec![0u8; 784];
        for y in 8..20 {
            for x in 10..18 {
                px[y * 28 + x] = 255;
            }
        }
        Image::gray(28, 28, px).unwrap()
    }

    #[test]
    fn globals_come_first_then_locals_in_rng_order() {
        // Views drawn by hand from one stream, in the documented order, equal the transform's.
        let (g, l) = (
            mnist_crop((0.4, 1.0)).unwrap(),
            mnist_crop((0.05, 0.4)).unwrap(),
        );
        let crops = MultiCrop::new(g.clone(), l.clone(), 3);
        assert_eq!(crops.n_views(), 5);
        let got = crops.apply(digit(), &mut StdRng::seed_from_u64(7)).unwrap();
        let mut rng = StdRng::seed_from_u64(7);
        let mut want = Vec::new();
        for _ in 0..2 {
            want.push(g.apply(digit(), &mut rng).unwrap());
        }
        for _ in 0..3 {
            want.push(l.apply(digit(), &mut rng).unwrap());
        }
        assert_eq!(got.0, want);
    }

    #[test]
    fn same_seed_same_views_other_seed_other_views() {
        let crops = mnist_multi_crop(DEFAULT_N_LOCAL_CROPS).unwrap();
        let a = crops.apply(digit(), &mut StdRng::seed_from_u64(1)).unwrap();
        let b = crops.apply(digit(), &mut StdRng::seed_from_u64(1)).unwrap();
        let c = crops.apply(digit(), &mut StdRng::seed_from_u64(2)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.0.len(), 10);
        assert!(a.0.iter().all(|v| v.shape() == [1, 28, 28]));
        // All views differ from each other (distinct draws).
        for i in 0..a.0.len() {
            for j in 0..i {
                assert_ne!(a.0[i], a.0[j], "views {i} and {j}");
            }
        }
    }

    #[test]
    fn local_boxes_are_smaller_than_global_ones() {
        // The crop boxes the two kinds draw: areas within their scale ranges (up to the integer
        // rounding of the sides), so local boxes cover at most ~0.4 of the digit's 784 pixels
        // and global ones at least ~0.4.
        let (g, l) = (
            RandomResizedCrop::new(28)
                .unwrap()
                .scale(GLOBAL_CROP_SCALE.0, GLOBAL_CROP_SCALE.1)
                .unwrap(),
            RandomResizedCrop::new(28)
                .unwrap()
                .scale(LOCAL_CROP_SCALE.0, LOCAL_CROP_SCALE.1)
                .unwrap(),
        );
        let mut rng = StdRng::seed_from_u64(3);
        let area = |t: &RandomResizedCrop, rng: &mut StdRng| {
            let b = t.get_params(28, 28, rng);
            (b.height * b.width) as f64 / 784.0
        };
        let (mut lmax, mut gmin) = (0.0f64, 1.0f64);
        for _ in 0..2000 {
            lmax = lmax.max(area(&l, &mut rng));
            gmin = gmin.min(area(&g, &mut rng));
        }
        assert!(lmax < 0.5, "largest local box {lmax}");
        assert!(gmin > 0.3, "smallest global box {gmin}");
        assert!(lmax > gmin, "the ranges meet near 0.4: {lmax} {gmin}");
    }

    #[test]
    fn tabular_variant_masks_local_views_harder() {
        // Global views: no masking; local views: every feature masked. Noise 0 keeps values.
        let global = RandomMask::new(0.0)
            .unwrap()
            .then(GaussianNoise::new(0.0).unwrap());
        let local = RandomMask::new(1.0).unwrap().then(Identity);
        let crops = MultiCrop::new(global, local, 2);
        let x = vec![1.0f32, 2.0, 3.0];
        let v = crops
            .apply(x.clone(), &mut StdRng::seed_from_u64(0))
            .unwrap();
        assert_eq!(v.0, vec![x.clone(), x, vec![0.0; 3], vec![0.0; 3]]);
    }

    #[test]
    fn tabular_defaults_keep_fewer_features_in_local_views() {
        // On a vector of ones, a view the noise coin spared holds only 0s (masked) and 1s
        // (kept): the fraction of 1s is the kept fraction, 1 − mask probability.
        let crops = tabular_multi_crop(4).unwrap();
        let (mut global, mut local) = (Vec::new(), Vec::new());
        for seed in 0..20 {
            let v = crops
                .apply(vec![1.0f64; 1000], &mut StdRng::seed_from_u64(seed))
                .unwrap();
            assert_eq!(v.0.len(), 6);
            for (i, view) in v.0.iter().enumerate() {
                if view.iter().all(|&e| e == 0.0 || e == 1.0) {
                    let kept = view.iter().filter(|&&e| e == 1.0).count() as f64 / 1000.0;
                    if i < 2 { &mut global } else { &mut local }.push(kept);
                }
            }
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        assert!(
            global.len() > 5 && local.len() > 10,
            "{} {}",
            global.len(),
            local.len()
        );
        assert!(
            (mean(&global) - 0.2).abs() < 0.02,
            "global keeps {}",
            mean(&global)
        );
        assert!(
            (mean(&local) - 0.1).abs() < 0.02,
            "local keeps {}",
            mean(&local)
        );
    }

    #[test]
    fn no_local_view_gives_the_two_globals() {
        let v = mnist_multi_crop(0)
            .unwrap()
            .apply(digit(), &mut StdRng::seed_from_u64(0))
            .unwrap();
        assert_eq!(v.0.len(), 2);
    }
}
