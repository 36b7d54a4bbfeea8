//! Convolution and pooling layers (NCHW).

use super::{Module, Param};
use crate::autograd::{Graph, Var};
use crate::error::{Error, Result};
use crate::tensor::Conv2dGeometry;
use crate::tensor::Element;
use rand::RngCore;

/// 2-D convolution with bias, square kernel, PyTorch's default initialisation.
#[derive(Debug, Clone)]
pub struct Conv2d<T: Element> {
    /// Weight `[out_channels, in_channels, k, k]`.
    pub weight: Param<T>,
    /// Bias `[out_channels]`.
    pub bias: Param<T>,
    /// Stride and padding.
    pub geom: Conv2dGeometry,
}

impl<T: Element> Conv2d<T> {
    /// Weight and bias uniform in ±1/√(in_channels·k²), as PyTorch initialises `nn.Conv2d`.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        geom: Conv2dGeometry,
        rng: &mut dyn RngCore,
    ) -> Result<Self> {
        if in_channels == 0 || out_channels == 0 || kernel == 0 || geom.stride == 0 {
            return Err(Error::invalid(
                "Conv2d::new",
                format!("channels, kernel and stride must be positive (in {in_channels}, out {out_channels}, kernel {kernel}, stride {})", geom.stride),
            ));
        }
        let fan_in = in_channels * kernel * kernel;
        Ok(Conv2d {
            weight: Param::uniform_fan_in(
                &[out_channels, in_channels, kernel, kernel],
                fan_in,
                rng,
            ),
            bias: Param::uniform_fan_in(&[out_channels], fan_in, rng),
            geom,
        })
    }
}

impl<T: Element> Conv2d<T> {
    /// `avg_pool2d(relu(self.forward(x)), k)`, fused into one kernel on graphs that record no
    /// gradient for it ([`Graph::conv2d_relu_pool`]).
    pub fn forward_relu_pool(&self, g: &mut Graph<T>, x: Var, k: usize) -> Result<Var> {
        let (w, b) = (self.weight.var(g), self.bias.var(g));
        g.conv2d_relu_pool(x, w, Some(b), self.geom, k)
    }
}

impl<T: Element> Module<T> for Conv2d<T> {
    fn forward(&self, g: &mut Graph<T>, x: Var) -> Result<Var> {
        let (w, b) = (self.weight.var(g), self.bias.var(g));
        g.conv2d(x, w, Some(b), self.geom)
    }

    crate::params!(T; weight, bias);
}

/// Average pooling with kernel = stride.
#[derive(Debug, Clone, Copy)]
pub struct AvgPool2d {
    /// Window size (and stride).
    pub kernel: usize,
}

impl<T: Element> Module<T> for AvgPool2d {
    fn forward(&self, g: &mut Graph<T>, x: Var) -> Result<Var> {
        g.avg_pool2d(x, self.kernel)
    }
    crate::params!(T;);
}
