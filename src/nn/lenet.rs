//! The seed's MNIST encoder.

use super::{Conv2d, Linear, Module};
use crate::autograd::{Graph, Var};
use crate::error::{Error, Result};
use crate::tensor::Conv2dGeometry;
use crate::tensor::Element;
use rand::RngCore;

/// LeNet-5-like encoder for `[N, 1, 28, 28]` images, as the seed's `LeNetEncoder`:
/// Conv2d(1,6,5,pad 2) → ReLU → AvgPool(2) → Conv2d(6,16,5) → ReLU → AvgPool(2) → flatten(400)
/// → Linear(400,120) → ReLU → Linear(120,84) → ReLU → Linear(84,latent).
/// State names match the PyTorch module (`conv1.weight`, ..., `fc3.bias`).
#[derive(Debug, Clone)]
pub struct LeNet<T: Element> {
    /// First convolution, 1 → 6 channels.
    pub conv1: Conv2d<T>,
    /// Second convolution, 6 → 16 channels.
    pub conv2: Conv2d<T>,
    /// 400 → 120.
    pub fc1: Linear<T>,
    /// 120 → 84.
    pub fc2: Linear<T>,
    /// 84 → latent.
    pub fc3: Linear<T>,
}

impl<T: Element> LeNet<T> {
    /// A freshly initialised encoder with a `latent`-dimensional output (PyTorch defaults,
    /// drawn in the PyTorch module's parameter order).
    pub fn new(latent: usize, rng: &mut dyn RngCore) -> Result<Self> {
        if latent == 0 {
            return Err(Error::invalid("LeNet::new", "latent size must be positive"));
        }
        Ok(LeNet {
            conv1: Conv2d::new(
                1,
                6,
                5,
                Conv2dGeometry {
                    stride: 1,
                    padding: 2,
                },
                rng,
            )?,
            conv2: Conv2d::new(
                6,
                16,
                5,
                Conv2dGeometry {
                    stride: 1,
                    padding: 0,
                },
                rng,
            )?,
            fc1: Linear::new(400, 120, true, rng),
            fc2: Linear::new(120, 84, true, rng),
            fc3: Linear::new(84, latent, true, rng),
        })
    }

    /// The output dimension.
    pub fn latent(&self) -> usize {
        self.fc3.dims().1
    }
}

impl<T: Element> Module<T> for LeNet<T> {
    fn forward(&self, g: &mut Graph<T>, x: Var) -> Result<Var> {
        let s = g.value(x).shape();
        if s.len() != 4 || s[1..] != [1, 28, 28] {
            return Err(Error::shape("LeNet", "input [batch, 1, 28, 28]", &[s]));
        }
        let h = self
            .conv1
            .forward_relu_pool(g, x, 2)
            .map_err(|e| e.in_module("conv1"))?;
        let h = self
            .conv2
            .forward_relu_pool(g, h, 2)
            .map_err(|e| e.in_module("conv2"))?;
        let h = g.flatten(h)?;
        let h = self.fc1.forward(g, h).map_err(|e| e.in_module("fc1"))?;
        let h = g.relu(h)?;
        let h = self.fc2.forward(g, h).map_err(|e| e.in_module("fc2"))?;
        let h = g.relu(h)?;
        self.fc3.forward(g, h).map_err(|e| e.in_module("fc3"))
    }

    crate::params!(T; conv1, conv2, fc1, fc2, fc3);
}
