//! Fully connected layer.

use super::{join, Module, Param, Visitor, VisitorMut};
use crate::autograd::{Graph, Var};
use crate::error::{Error, Result};
use crate::tensor::Element;
use rand::RngCore;

/// `y = x·Wᵀ + b`, `W` shaped `[out, in]` as in PyTorch.
#[derive(Debug, Clone)]
pub struct Linear<T: Element> {
    /// Weight `[out_features, in_features]`.
    pub weight: Param<T>,
    /// Bias `[out_features]`, if any.
    pub bias: Option<Param<T>>,
}

impl<T: Element> Linear<T> {
    /// PyTorch's default initialisation: weight and bias uniform in ±1/√in_features.
    pub fn new(in_features: usize, out_features: usize, bias: bool, rng: &mut dyn RngCore) -> Self {
        let weight = Param::uniform_fan_in(&[out_features, in_features], in_features, rng);
        let bias = bias.then(|| Param::uniform_fan_in(&[out_features], in_features, rng));
        Linear { weight, bias }
    }

    /// `(in_features, out_features)`.
    pub fn dims(&self) -> (usize, usize) {
        let s = self.weight.value.shape();
        (s[1], s[0])
    }
}

impl<T: Element> Module<T> for Linear<T> {
    fn forward(&self, g: &mut Graph<T>, x: Var) -> Result<Var> {
        let (fan_in, _) = self.dims();
        let xs = g.value(x).shape();
        if xs.len() != 2 || xs[1] != fan_in {
            return Err(Error::shape(
                "Linear",
                format!("input [batch, {fan_in}]"),
                &[xs, self.weight.value.shape()],
            ));
        }
        let w = self.weight.var(g);
        let y = g.matmul_t(x, w, false, true)?;
        match &self.bias {
            Some(b) => {
                let b = b.var(g);
                g.add(y, b)
            }
            None => Ok(y),
        }
    }

    fn visit<'a>(&'a self, prefix: &str, f: &mut Visitor<'_, 'a, T>) {
        self.weight.visit_field(&join(prefix, "weight"), f);
        if let Some(b) = &self.bias {
            b.visit_field(&join(prefix, "bias"), f);
        }
    }

    fn visit_mut<'a>(&'a mut self, prefix: &str, f: &mut VisitorMut<'_, 'a, T>) {
        self.weight.visit_field_mut(&join(prefix, "weight"), f);
        if let Some(b) = &mut self.bias {
            b.visit_field_mut(&join(prefix, "bias"), f);
        }
    }
}
