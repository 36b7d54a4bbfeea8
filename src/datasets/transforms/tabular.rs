//! Augmentations of feature vectors (the seed's OpenBHB scenario):
//!
//! ```python
//! lambda x: x.flatten(),
//! lambda x: (np.random.rand(*x.shape) > mask_prob).astype(np.float32) * x,      # RandomMask
//! lambda x: x + ((np.random.rand() > 0.5) * np.random.randn(*x.shape) * noise_std
//!               ).astype(np.float32),                                         # GaussianNoise
//! ```

use super::image::{Image, Pixel};
use super::Transform;
use crate::error::{Error, Result};
use crate::tensor::{Element, Tensor};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// `x.flatten()`: an image or tensor to the vector of its elements in row-major order (a vector
/// passes through unchanged).
#[derive(Clone, Copy, Debug, Default)]
pub struct FlattenSample;

impl<T: Element> Transform<Vec<T>> for FlattenSample {
    type Output = Vec<T>;
    fn apply<R: Rng + ?Sized>(&self, x: Vec<T>, _rng: &mut R) -> Result<Vec<T>> {
        Ok(x)
    }
}

impl<T: Element> Transform<Tensor<T>> for FlattenSample {
    type Output = Vec<T>;
    fn apply<R: Rng + ?Sized>(&self, x: Tensor<T>, _rng: &mut R) -> Result<Vec<T>> {
        Ok(x.into_vec()?)
    }
}

impl<P: Pixel> Transform<Image<P>> for FlattenSample {
    type Output = Vec<P>;
    fn apply<R: Rng + ?Sized>(&self, x: Image<P>, _rng: &mut R) -> Result<Vec<P>> {
        Ok(x.into_vec())
    }
}

/// Zeroes each feature independently: a feature is kept where `U(0, 1) > p` (so `p` is the
/// probability of masking it), as `(rand(*x.shape) > p) * x` — masked entries become `0·x`.
#[derive(Clone, Copy, Debug)]
pub struct RandomMask {
    p: f64,
}

impl RandomMask {
    /// Masks each feature with probability `p ∈ [0, 1]`.
    pub fn new(p: f64) -> Result<Self> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::invalid(
                "RandomMask",
                format!("p must be in [0, 1], got {p}"),
            ));
        }
        Ok(RandomMask { p })
    }

    /// The masking probability.
    pub fn p(&self) -> f64 {
        self.p
    }
}

impl<T: Element> Transform<Vec<T>> for RandomMask {
    type Output = Vec<T>;
    fn apply<R: Rng + ?Sized>(&self, mut x: Vec<T>, rng: &mut R) -> Result<Vec<T>> {
        for v in x.iter_mut() {
            let keep = rng.gen::<f64>() > self.p;
            *v = if keep { T::ONE } else { T::ZERO } * *v;
        }
        Ok(x)
    }
}

/// With probability 0.5 adds `N(0, std²)` noise to every feature, else leaves the vector as it
/// is: one coin per vector, as the seed's `(rand() > 0.5) * randn(*x.shape) * std`. The noise is
/// drawn in `f64` and rounded to the element type before the addition, as `.astype(float32)`.
#[derive(Clone, Copy, Debug)]
pub struct GaussianNoise {
    std: f64,
}

impl GaussianNoise {
    /// Noise of standard deviation `std ≥ 0`.
    pub fn new(std: f64) -> Result<Self> {
        if !(std >= 0.0 && std.is_finite()) {
            return Err(Error::invalid(
                "GaussianNoise",
                format!("std must be finite and ≥ 0, got {std}"),
            ));
        }
        Ok(GaussianNoise { std })
    }

    /// The noise's standard deviation.
    pub fn std(&self) -> f64 {
        self.std
    }
}

impl<T: Element> Transform<Vec<T>> for GaussianNoise {
    type Output = Vec<T>;
    fn apply<R: Rng + ?Sized>(&self, mut x: Vec<T>, rng: &mut R) -> Result<Vec<T>> {
        if rng.gen::<f64>() > 0.5 {
            for v in x.iter_mut() {
                let z: f64 = StandardNormal.sample(rng);
                *v += T::from_f64(z * self.std);
            }
        }
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn mask_extremes() {
        let mut rng = StdRng::seed_from_u64(1);
        let x = vec![1.0f32, -2.0, 3.0];
        assert_eq!(
            RandomMask::new(0.0)
                .unwrap()
                .apply(x.clone(), &mut rng)
                .unwrap(),
            x
        );
        let m = RandomMask::new(1.0).unwrap().apply(x, &mut rng).unwrap();
        assert!(m.iter().all(|&v| v == 0.0));
        assert!(RandomMask::new(1.5).is_err());
    }

    #[test]
    fn noise_is_all_or_nothing() {
        let noise = GaussianNoise::new(0.5).unwrap();
        let (mut same, mut changed) = (0, 0);
        for seed in 0..200 {
            let x = vec![0.0f64; 16];
            let y = noise
                .apply(x.clone(), &mut StdRng::seed_from_u64(seed))
                .unwrap();
            if y == x {
                same += 1;
            } else {
                assert!(y.iter().all(|&v| v != 0.0));
                changed += 1;
            }
        }
        assert!(same > 60 && changed > 60, "{same} / {changed}");
        assert!(GaussianNoise::new(-1.0).is_err());
    }
}
