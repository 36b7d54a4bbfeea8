//! A small configurable convolutional encoder for images of any size and channel count.

use super::{AvgPool2d, Conv2d, Flatten, Linear, Module, Relu, Sequential, Visitor, VisitorMut};
use crate::autograd::{Graph, Var};
use crate::error::{Error, Result};
use crate::tensor::{Conv2dGeometry, Element};
use rand::RngCore;

/// What follows a block's ReLU. (Max pooling has no autograd op yet, so it is not offered.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pooling {
    /// No pooling.
    None,
    /// Average pooling with kernel = stride = the size (`nn.AvgPool2d(size)`; trailing rows and
    /// columns that do not fill a window are dropped, as PyTorch does).
    Avg(usize),
}

/// One block of a [`ConvNet`]: `Conv2d(in → channels, kernel, stride, padding)` → ReLU →
/// pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvBlock {
    /// Output channels.
    pub channels: usize,
    /// Square kernel size.
    pub kernel: usize,
    /// Stride (≥ 1).
    pub stride: usize,
    /// Zero padding on every side.
    pub padding: usize,
    /// Pooling after the ReLU.
    pub pooling: Pooling,
}

impl ConvBlock {
    /// `channels` outputs, a `kernel × kernel` kernel, stride 1, no padding, no pooling.
    pub fn new(channels: usize, kernel: usize) -> Self {
        ConvBlock {
            channels,
            kernel,
            stride: 1,
            padding: 0,
            pooling: Pooling::None,
        }
    }

    /// The same block with `stride`.
    pub fn stride(self, stride: usize) -> Self {
        ConvBlock { stride, ..self }
    }

    /// The same block with `padding`.
    pub fn padding(self, padding: usize) -> Self {
        ConvBlock { padding, ..self }
    }

    /// The same block with `pooling`.
    pub fn pooling(self, pooling: Pooling) -> Self {
        ConvBlock { pooling, ..self }
    }

    /// The `[C, H, W]` this block makes of `[c, h, w]`, or `None` when the geometry collapses
    /// (the padded input smaller than the kernel, or the output smaller than the pooling window).
    fn output(&self, [_, h, w]: [usize; 3]) -> Option<[usize; 3]> {
        let conv = |x: usize| {
            let padded = x + 2 * self.padding;
            (padded >= self.kernel).then(|| (padded - self.kernel) / self.stride + 1)
        };
        let (h, w) = (conv(h)?, conv(w)?);
        match self.pooling {
            Pooling::None => Some([self.channels, h, w]),
            Pooling::Avg(k) => (h >= k && w >= k).then(|| [self.channels, h / k, w / k]),
        }
    }
}

/// A stack of [`ConvBlock`]s, then Flatten, then a Linear to the latent size: a small encoder
/// for `[N, C, H, W]` images of a size fixed at construction.
///
/// Built from [`Conv2d`], [`Relu`], [`AvgPool2d`], [`Flatten`] and [`Linear`] in a
/// [`Sequential`], so its state names are those of the PyTorch `nn.Sequential` holding the same
/// layers (`0.weight` for the first convolution, `1` its ReLU, `2` its pooling, …, then the
/// flatten and the linear), and its initialisation is PyTorch's default, drawn layer by layer.
pub struct ConvNet<T: Element> {
    layers: Sequential<T>,
    input: [usize; 3],
    flattened: usize,
    latent: usize,
}

impl<T: Element> ConvNet<T> {
    /// An encoder for `input = [C, H, W]` images: `blocks` in order (possibly none), then a
    /// Linear from the flattened output to `latent`. Errors on a zero size, a zero stride or
    /// pooling size, or a geometry that shrinks to nothing, naming the block and the shapes.
    pub fn new(
        input: [usize; 3],
        blocks: &[ConvBlock],
        latent: usize,
        rng: &mut dyn RngCore,
    ) -> Result<Self> {
        const OP: &str = "ConvNet::new";
        if input.contains(&0) || latent == 0 {
            return Err(Error::invalid(
                OP,
                format!(
                    "need a non-empty input and latent size, got input {input:?}, latent {latent}"
                ),
            ));
        }
        let mut layers = Sequential::new();
        let mut shape = input;
        for (i, b) in blocks.iter().enumerate() {
            if b.channels == 0 || b.kernel == 0 || b.stride == 0 || b.pooling == Pooling::Avg(0) {
                return Err(Error::invalid(
                    OP,
                    format!("block {i}: channels, kernel, stride and pooling size must be positive, got {b:?}"),
                ));
            }
            let out = b.output(shape).ok_or_else(|| {
                Error::invalid(
                    OP,
                    format!(
                        "block {i} ({b:?}) shrinks its input {shape:?} to nothing (the network's \
                         input is {input:?}); use a smaller kernel, stride or pooling, or padding"
                    ),
                )
            })?;
            let geom = Conv2dGeometry {
                stride: b.stride,
                padding: b.padding,
            };
            layers = layers
                .push(Conv2d::new(shape[0], b.channels, b.kernel, geom, rng)?)
                .push(Relu);
            if let Pooling::Avg(k) = b.pooling {
                layers = layers.push(AvgPool2d { kernel: k });
            }
            shape = out;
        }
        let flattened = shape.iter().product();
        let layers = layers
            .push(Flatten)
            .push(Linear::new(flattened, latent, true, rng));
        Ok(ConvNet {
            layers,
            input,
            flattened,
            latent,
        })
    }

    /// The `[C, H, W]` the encoder takes.
    pub fn input_shape(&self) -> [usize; 3] {
        self.input
    }

    /// The width of the flattened output of the last block (the Linear's input).
    pub fn flattened(&self) -> usize {
        self.flattened
    }

    /// The output dimension.
    pub fn latent(&self) -> usize {
        self.latent
    }
}

impl<T: Element> Module<T> for ConvNet<T> {
    fn forward(&self, g: &mut Graph<T>, x: Var) -> Result<Var> {
        let s = g.value(x).shape();
        if s.len() != 4 || s[1..] != self.input {
            let [c, h, w] = self.input;
            return Err(Error::shape(
                "ConvNet",
                format!("input [batch, {c}, {h}, {w}]"),
                &[s],
            ));
        }
        self.layers.forward(g, x)
    }

    fn visit<'a>(&'a self, prefix: &str, f: &mut Visitor<'_, 'a, T>) {
        self.layers.visit(prefix, f);
    }

    fn visit_mut<'a>(&'a mut self, prefix: &str, f: &mut VisitorMut<'_, 'a, T>) {
        self.layers.visit_mut(prefix, f);
    }
}
