//! Decoders from a latent code back to a sample, for autoencoders ([`crate::train::BetaVae`]).

use super::{Conv2d, Linear, Module};
use crate::autograd::{Graph, Var};
use crate::error::{Error, Result};
use crate::tensor::{Conv2dGeometry, Element};
use rand::RngCore;

/// Channels of the decoder's first feature map (`H/4 × W/4`).
const FIRST_CHANNELS: usize = 16;
/// Channels after the first convolution (`H/2 × W/2`).
const MID_CHANNELS: usize = 8;

/// A small convolutional decoder from `[N, latent]` to `[N, C, H, W]` images (`H`, `W`
/// divisible by 4), mirroring LeNet's two stages of pooling by 2:
///
/// `Linear(latent, 16·H/4·W/4)` → ReLU → reshape `[N, 16, H/4, W/4]` → nearest upsample ×2 →
/// `Conv2d(16, 8, 3, pad 1)` → ReLU → nearest upsample ×2 → `Conv2d(8, C, 3, pad 1)`.
///
/// Upsampling is nearest-neighbour followed by a convolution rather than a transposed
/// convolution: the same receptive field without the checkerboard artefacts of a stride-2
/// transposed convolution with a 3×3 kernel (Odena et al., 2016), and it needs only the one
/// new op ([`Graph::upsample_nearest2d`]). The output is unbounded (no activation): the
/// estimator adds the sigmoid a Bernoulli decoder needs. PyTorch's default initialisation,
/// drawn in field order. State: `fc.*`, `conv1.*`, `conv2.*`.
#[derive(Debug, Clone)]
pub struct ConvDecoder<T: Element> {
    /// `latent → 16·H/4·W/4`.
    pub fc: Linear<T>,
    /// `16 → 8` channels at `H/2 × W/2`.
    pub conv1: Conv2d<T>,
    /// `8 → C` channels at `H × W`.
    pub conv2: Conv2d<T>,
    /// The output image shape `[C, H, W]`.
    shape: [usize; 3],
}

impl<T: Element> ConvDecoder<T> {
    /// A decoder from `latent` values to `[C, H, W]` = `shape` images.
    ///
    /// Errors: [`Error::InvalidArgument`] for a zero latent size or channel count, or an `H` or
    /// `W` that is not a positive multiple of 4.
    pub fn new(latent: usize, shape: [usize; 3], rng: &mut dyn RngCore) -> Result<Self> {
        let [c, h, w] = shape;
        if latent == 0 || c == 0 || h == 0 || w == 0 || h % 4 != 0 || w % 4 != 0 {
            return Err(Error::invalid(
                "ConvDecoder::new",
                format!(
                    "needs a positive latent size and images whose height and width are \
                     positive multiples of 4, got latent {latent}, image {c}×{h}×{w}"
                ),
            ));
        }
        let same = Conv2dGeometry {
            stride: 1,
            padding: 1,
        };
        Ok(ConvDecoder {
            fc: Linear::new(latent, FIRST_CHANNELS * (h / 4) * (w / 4), true, rng),
            conv1: Conv2d::new(FIRST_CHANNELS, MID_CHANNELS, 3, same, rng)?,
            conv2: Conv2d::new(MID_CHANNELS, c, 3, same, rng)?,
            shape,
        })
    }

    /// The output image shape `[C, H, W]`.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }
}

impl<T: Element> Module<T> for ConvDecoder<T> {
    fn forward(&self, g: &mut Graph<T>, z: Var) -> Result<Var> {
        let [_, h, w] = self.shape;
        let n = g.value(z).shape().first().copied().unwrap_or(0);
        let x = self.fc.forward(g, z).map_err(|e| e.in_module("fc"))?;
        let x = g.relu(x)?;
        let x = g.reshape(x, &[n, FIRST_CHANNELS, h / 4, w / 4])?;
        let x = g.upsample_nearest2d(x, 2)?;
        let x = self.conv1.forward(g, x).map_err(|e| e.in_module("conv1"))?;
        let x = g.relu(x)?;
        let x = g.upsample_nearest2d(x, 2)?;
        self.conv2.forward(g, x).map_err(|e| e.in_module("conv2"))
    }

    crate::params!(T; fc, conv1, conv2);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn decodes_to_the_image_shape_and_names_its_state() {
        let mut rng = StdRng::seed_from_u64(0);
        let d = ConvDecoder::<f32>::new(5, [1, 28, 28], &mut rng).unwrap();
        let mut g = Graph::inference();
        let z = g.input(Tensor::zeros(&[3, 5]));
        let x = d.forward(&mut g, z).unwrap();
        assert_eq!(g.value(x).shape(), [3, 1, 28, 28]);
        let names: Vec<String> = d.state_dict().into_iter().map(|(n, _)| n).collect();
        let want = [
            "fc.weight",
            "fc.bias",
            "conv1.weight",
            "conv1.bias",
            "conv2.weight",
            "conv2.bias",
        ];
        assert_eq!(names, want);
        assert_eq!(d.fc.dims(), (5, 16 * 7 * 7));
    }

    #[test]
    fn refuses_shapes_it_cannot_rebuild() {
        let mut rng = StdRng::seed_from_u64(0);
        for (latent, shape) in [(0, [1, 28, 28]), (4, [1, 30, 28]), (4, [0, 28, 28])] {
            assert!(matches!(
                ConvDecoder::<f32>::new(latent, shape, &mut rng),
                Err(Error::InvalidArgument { .. })
            ));
        }
    }
}
