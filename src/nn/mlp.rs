//! Composition: `Relu`, `Flatten`, `Sequential`, and torchvision's `MLP`.

use super::{join, BatchNorm1d, Linear, Module, Visitor, VisitorMut};
use crate::autograd::{Graph, Var};
use crate::error::{Error, Result};
use crate::tensor::Element;
use rand::RngCore;

/// `max(x, 0)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Relu;

impl<T: Element> Module<T> for Relu {
    fn forward(&self, g: &mut Graph<T>, x: Var) -> Result<Var> {
        g.relu(x)
    }
    crate::params!(T;);
}

/// `[N, d1, d2, ...]` → `[N, d1·d2·...]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flatten;

impl<T: Element> Module<T> for Flatten {
    fn forward(&self, g: &mut Graph<T>, x: Var) -> Result<Var> {
        g.flatten(x)
    }
    crate::params!(T;);
}

/// Modules applied in order; their state is named by position (`0.weight`, `2.bias`, ...), as
/// in `torch.nn.Sequential`.
#[derive(Default)]
pub struct Sequential<T: Element> {
    layers: Vec<Box<dyn Module<T>>>,
}

impl<T: Element> Sequential<T> {
    /// An empty sequence.
    pub fn new() -> Self {
        Sequential { layers: Vec::new() }
    }

    /// Appends a layer.
    pub fn push(mut self, layer: impl Module<T> + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// True without layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl<T: Element> Module<T> for Sequential<T> {
    fn forward(&self, g: &mut Graph<T>, x: Var) -> Result<Var> {
        self.layers.iter().enumerate().try_fold(x, |h, (i, l)| {
            l.forward(g, h).map_err(|e| e.in_module(&i.to_string()))
        })
    }

    fn visit<'a>(&'a self, prefix: &str, f: &mut Visitor<'_, 'a, T>) {
        for (i, l) in self.layers.iter().enumerate() {
            l.visit(&join(prefix, &i.to_string()), f);
        }
    }

    fn visit_mut<'a>(&'a mut self, prefix: &str, f: &mut VisitorMut<'_, 'a, T>) {
        for (i, l) in self.layers.iter_mut().enumerate() {
            l.visit_mut(&join(prefix, &i.to_string()), f);
        }
    }
}

/// torchvision's `MLP(in_channels, hidden_channels)` without dropout: `Linear + ReLU` for each
/// hidden width but the last, then a bare `Linear` to the last width; with
/// [`Mlp::with_batch_norm`], `Linear + BatchNorm1d + ReLU` (torchvision's
/// `norm_layer=nn.BatchNorm1d`). State names follow torchvision's indices: without norm a ReLU
/// and a no-op dropout sit between linears, so linear `i` is module `3i` (`0.weight`,
/// `3.weight`, ...); with norm, linear `i` is module `4i` and its batch norm `4i + 1`
/// (`0.weight`, `1.weight`, `1.running_mean`, `4.weight`, ...).
#[derive(Debug, Clone)]
pub struct Mlp<T: Element> {
    linears: Vec<Linear<T>>,
    /// One per hidden layer (all but the last linear), or none.
    norms: Vec<BatchNorm1d<T>>,
}

impl<T: Element> Mlp<T> {
    /// `in_features → widths[0] → ... → widths[last]`; `widths` must be non-empty.
    pub fn new(in_features: usize, widths: &[usize], rng: &mut dyn RngCore) -> Result<Self> {
        Self::build("Mlp::new", in_features, widths, false, rng)
    }

    /// As [`Mlp::new`], with a `BatchNorm1d` (PyTorch defaults) after each hidden linear, before
    /// its ReLU. The weights are drawn exactly as [`Mlp::new`] draws them (batch norm draws
    /// nothing).
    pub fn with_batch_norm(
        in_features: usize,
        widths: &[usize],
        rng: &mut dyn RngCore,
    ) -> Result<Self> {
        Self::build("Mlp::with_batch_norm", in_features, widths, true, rng)
    }

    fn build(
        op: &'static str,
        in_features: usize,
        widths: &[usize],
        batch_norm: bool,
        rng: &mut dyn RngCore,
    ) -> Result<Self> {
        if widths.is_empty() || in_features == 0 || widths.contains(&0) {
            return Err(Error::invalid(
                op,
                format!("need positive sizes, got in {in_features}, widths {widths:?}"),
            ));
        }
        let mut linears = Vec::with_capacity(widths.len());
        let mut fan_in = in_features;
        for &w in widths {
            linears.push(Linear::new(fan_in, w, true, rng));
            fan_in = w;
        }
        let hidden = &widths[..widths.len() - 1];
        let norms = match batch_norm {
            true => hidden.iter().map(|&w| BatchNorm1d::new(w)).collect(),
            false => Vec::new(),
        };
        Ok(Mlp { linears, norms })
    }

    /// The linear layers in order.
    pub fn linears(&self) -> &[Linear<T>] {
        &self.linears
    }

    /// The batch norms after the hidden linears, in order (empty without batch norm).
    pub fn batch_norms(&self) -> &[BatchNorm1d<T>] {
        &self.norms
    }

    /// The module index of linear `i` (and `i + 1` of its batch norm), as torchvision numbers them.
    fn index(&self, i: usize) -> usize {
        if self.norms.is_empty() {
            3 * i
        } else {
            4 * i
        }
    }
}

impl<T: Element> Module<T> for Mlp<T> {
    fn forward(&self, g: &mut Graph<T>, x: Var) -> Result<Var> {
        let last = self.linears.len() - 1;
        let mut h = x;
        for (i, l) in self.linears.iter().enumerate() {
            let index = self.index(i);
            h = l
                .forward(g, h)
                .map_err(|e| e.in_module(&index.to_string()))?;
            if i < last {
                if let Some(norm) = self.norms.get(i) {
                    h = norm
                        .forward(g, h)
                        .map_err(|e| e.in_module(&(index + 1).to_string()))?;
                }
                h = g.relu(h)?;
            }
        }
        Ok(h)
    }

    fn visit<'a>(&'a self, prefix: &str, f: &mut Visitor<'_, 'a, T>) {
        for (i, l) in self.linears.iter().enumerate() {
            l.visit(&join(prefix, &self.index(i).to_string()), f);
            if let Some(norm) = self.norms.get(i) {
                norm.visit(&join(prefix, &(self.index(i) + 1).to_string()), f);
            }
        }
    }

    fn visit_mut<'a>(&'a mut self, prefix: &str, f: &mut VisitorMut<'_, 'a, T>) {
        let stride = self.index(1);
        let mut norms = self.norms.iter_mut();
        for (i, l) in self.linears.iter_mut().enumerate() {
            l.visit_mut(&join(prefix, &(stride * i).to_string()), f);
            if let Some(norm) = norms.next() {
                norm.visit_mut(&join(prefix, &(stride * i + 1).to_string()), f);
            }
        }
    }
}
