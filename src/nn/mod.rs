//! Layers: the [`Module`] trait, parameters, and the networks the seed uses.
//!
//! Encoders: [`LeNet`] (the seed's MNIST encoder), [`Mlp`] (torchvision's MLP, optionally with
//! batch norm: [`Mlp::with_batch_norm`]) for feature vectors, and [`ConvNet`] (a stack of
//! [`ConvBlock`]s, then a linear to the latent) for images of any size and channel count.
//!
//! A module owns its [`Param`]s; `forward` places them on a [`Graph`] (once per graph, however
//! often the module runs) and records ops. Parameters and buffers are visited by name
//! (`conv1.weight`, `0.bias`, PyTorch's `state_dict` keys) for optimizers and checkpoints.

mod batch_norm;
mod conv;
mod convnet;
mod head;
mod lenet;
mod linear;
mod mlp;

pub use batch_norm::BatchNorm1d;
pub use conv::{AvgPool2d, Conv2d};
pub use convnet::{ConvBlock, ConvNet, Pooling};
pub use head::{HeadBlock, ProjectionHead};
pub use lenet::LeNet;
pub use linear::Linear;
pub use mlp::{Flatten, Mlp, Relu, Sequential};

use crate::autograd::{Grads, Graph, ParamId, Var};
use crate::error::{Error, Result};
use crate::tensor::{Device, Element, Tensor};
use rand::RngCore;

/// A trainable tensor with a process-unique identity.
#[derive(Debug)]
pub struct Param<T: Element> {
    id: ParamId,
    /// The current value.
    pub value: Tensor<T>,
}

impl<T: Element> Clone for Param<T> {
    /// A copy with a fresh identity (a separate parameter with the same value).
    fn clone(&self) -> Self {
        Param::new(self.value.clone())
    }
}

impl<T: Element> Param<T> {
    /// A new parameter holding `value`.
    pub fn new(value: Tensor<T>) -> Self {
        Param {
            id: ParamId::fresh(),
            value,
        }
    }

    /// Its identity on graphs and in [`Grads`].
    pub fn id(&self) -> ParamId {
        self.id
    }

    /// Its node on `g` (placed on first use).
    pub fn var(&self, g: &mut Graph<T>) -> Var {
        g.param(self.id, &self.value)
    }

    /// Weights uniform in ±1/√fan_in: PyTorch's default for `Linear` and `Conv2d` (weight:
    /// kaiming-uniform with a = √5, which reduces to this bound; bias: the same bound).
    pub fn uniform_fan_in(shape: &[usize], fan_in: usize, rng: &mut dyn RngCore) -> Self {
        let bound = 1.0 / (fan_in as f64).sqrt();
        Param::new(Tensor::rand_uniform(shape, -bound, bound, rng))
    }
}

/// A layer or network.
pub trait Module<T: Element>: Send + Sync {
    /// Applies the module to `x`, recording on `g` (training or evaluation behaviour per
    /// [`Graph::is_training`]).
    fn forward(&self, g: &mut Graph<T>, x: Var) -> Result<Var>;

    /// Calls `f(name, param)` for every parameter, names prefixed by `prefix`.
    fn visit_params<'a>(&'a self, prefix: &str, f: &mut dyn FnMut(String, &'a Param<T>));

    /// Calls `f(name, param)` for every parameter, mutably, in the same order.
    fn visit_params_mut<'a>(
        &'a mut self,
        prefix: &str,
        f: &mut dyn FnMut(String, &'a mut Param<T>),
    );

    /// Calls `f(name, buffer)` for every non-trainable state tensor (running statistics).
    fn visit_buffers_mut<'a>(
        &'a mut self,
        _prefix: &str,
        _f: &mut dyn FnMut(String, &'a mut Tensor<T>),
    ) {
    }

    /// Calls `f(name, buffer)` for every non-trainable state tensor.
    fn visit_buffers(&self, _prefix: &str, _f: &mut dyn FnMut(String, &Tensor<T>)) {}

    /// Every parameter, in a fixed order.
    fn parameters(&self) -> Vec<&Param<T>> {
        let mut out = Vec::new();
        self.visit_params("", &mut |_, p| out.push(p));
        out
    }

    /// Number of trainable scalars.
    fn num_parameters(&self) -> usize {
        let mut n = 0;
        self.visit_params("", &mut |_, p| n += p.value.len());
        n
    }

    /// Parameters and buffers by name (PyTorch `state_dict` keys), in a fixed order.
    fn state_dict(&self) -> Vec<(String, Tensor<T>)> {
        let mut out = Vec::new();
        self.visit_params("", &mut |n, p| out.push((n, p.value.clone())));
        self.visit_buffers("", &mut |n, b| out.push((n, b.clone())));
        out
    }

    /// Restores parameters and buffers by name; every entry of the module must be present with
    /// its shape, otherwise an error names the first one at fault and nothing is changed.
    fn load_state_dict(&mut self, state: &[(String, Tensor<T>)]) -> Result<()> {
        let lookup = |name: &str, shape: &[usize]| -> Result<Tensor<T>> {
            let (_, t) = state.iter().find(|(n, _)| n == name).ok_or_else(|| {
                Error::invalid("load_state_dict", format!("missing entry '{name}'"))
            })?;
            if t.shape() != shape {
                return Err(Error::shape(
                    "load_state_dict",
                    format!("entry '{name}' shaped as the module's"),
                    &[shape, t.shape()],
                ));
            }
            Ok(t.clone())
        };
        // Check everything first so a failure leaves the module untouched.
        let mut first_err = None;
        self.visit_params("", &mut |n, p| {
            if first_err.is_none() {
                first_err = lookup(&n, p.value.shape()).err();
            }
        });
        self.visit_buffers("", &mut |n, b| {
            if first_err.is_none() {
                first_err = lookup(&n, b.shape()).err();
            }
        });
        if let Some(e) = first_err {
            return Err(e);
        }
        self.visit_params_mut("", &mut |n, p| {
            p.value = lookup(&n, p.value.shape()).expect("checked above");
        });
        self.visit_buffers_mut("", &mut |n, b| {
            *b = lookup(&n, b.shape()).expect("checked above");
        });
        Ok(())
    }
}

/// `prefix.name`, or `name` at the top level.
pub(crate) fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// The gradient of every parameter of `module` in [`Module::visit_params`] order (zeros for a
/// parameter no gradient reached), ready for an optimizer step.
pub fn param_grads<T: Element>(module: &dyn Module<T>, grads: &Grads<T>) -> Vec<Tensor<T>> {
    let mut out = Vec::new();
    module.visit_params("", &mut |_, p| {
        out.push(
            grads
                .param(p.id())
                .cloned()
                .unwrap_or_else(|| Tensor::zeros(p.value.shape())),
        );
    });
    out
}

/// Moves every parameter and buffer (running statistics) of `module` to `device`.
///
/// Errors: [`crate::Error::Device`] when the device cannot be used; tensors moved before the
/// failure stay moved.
pub fn move_to<T: Element>(module: &mut dyn Module<T>, device: Device) -> Result<()> {
    for p in param_values_mut(module) {
        *p = p.to_device(device)?;
    }
    let mut buffers = Vec::new();
    module.visit_buffers_mut("", &mut |_, b| buffers.push(b));
    for b in buffers {
        *b = b.to_device(device)?;
    }
    Ok(())
}

/// Mutable references to every parameter tensor of `module`, in [`Module::visit_params`] order.
pub fn param_values_mut<T: Element>(module: &mut dyn Module<T>) -> Vec<&mut Tensor<T>> {
    let mut out = Vec::new();
    module.visit_params_mut("", &mut |_, p| out.push(&mut p.value));
    out
}
