//! Layers: the [`Module`] trait, parameters, and the networks the seed uses.
//!
//! Encoders: [`LeNet`] (the seed's MNIST encoder), [`Mlp`] (torchvision's MLP, optionally with
//! batch norm: [`Mlp::with_batch_norm`]) for feature vectors, and [`ConvNet`] (a stack of
//! [`ConvBlock`]s, then a linear to the latent) for images of any size and channel count.
//!
//! A module owns its [`Param`]s; `forward` places them on a [`Graph`] (once per graph, however
//! often the module runs) and records ops. Parameters and buffers are visited by name
//! (`conv1.weight`, `0.bias`, PyTorch's `state_dict` keys) for optimizers and checkpoints: one
//! line, [`params!`](crate::params), names a module's fields for both walks.

mod batch_norm;
mod conv;
mod convnet;
mod decoder;
mod dino_head;
mod gelu;
mod head;
mod lenet;
mod linear;
mod mlp;
mod momentum;

pub use batch_norm::BatchNorm1d;
pub use conv::{AvgPool2d, Conv2d};
pub use convnet::{ConvBlock, ConvNet, Pooling};
pub use decoder::ConvDecoder;
pub use dino_head::{is_last_layer_name, DinoHead, DinoHeadConfig, WeightNormLinear};
pub use gelu::Gelu;
pub use head::{HeadBlock, ProjectionHead};
pub use lenet::LeNet;
pub use linear::Linear;
pub use mlp::{Flatten, Mlp, Relu, Sequential};
pub use momentum::{ema_update, momentum_lambda};

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

    /// Visits this parameter under `name` (how [`params!`](crate::params) visits a `Param`
    /// field).
    pub fn visit_field<'a>(&'a self, name: &str, f: &mut Visitor<'_, 'a, T>) {
        f(name, State::Param(self))
    }

    /// Visits this parameter under `name`, mutably.
    pub fn visit_field_mut<'a>(&'a mut self, name: &str, f: &mut VisitorMut<'_, 'a, T>) {
        f(name, StateMut::Param(self))
    }

    /// Weights uniform in ±1/√fan_in: PyTorch's default for `Linear` and `Conv2d` (weight:
    /// kaiming-uniform with a = √5, which reduces to this bound; bias: the same bound).
    pub fn uniform_fan_in(shape: &[usize], fan_in: usize, rng: &mut dyn RngCore) -> Self {
        let bound = 1.0 / (fan_in as f64).sqrt();
        Param::new(Tensor::rand_uniform(shape, -bound, bound, rng))
    }
}

/// One entry of a module's state, as [`Module::visit`] hands it over: a trainable parameter,
/// or a buffer (non-trainable state such as batch-norm running statistics; borrowed only for
/// the call).
pub enum State<'a, 'b, T: Element> {
    /// A trainable parameter.
    Param(&'a Param<T>),
    /// A buffer.
    Buffer(&'b Tensor<T>),
}

/// One entry of a module's state, mutably, as [`Module::visit_mut`] hands it over.
pub enum StateMut<'a, T: Element> {
    /// A trainable parameter.
    Param(&'a mut Param<T>),
    /// A buffer.
    Buffer(&'a mut Tensor<T>),
}

/// The callback of [`Module::visit`]: `f(name, entry)`.
pub type Visitor<'v, 'a, T> = dyn for<'b> FnMut(&str, State<'a, 'b, T>) + 'v;

/// The callback of [`Module::visit_mut`]: `f(name, entry)`.
pub type VisitorMut<'v, 'a, T> = dyn FnMut(&str, StateMut<'a, T>) + 'v;

/// A layer or network: a struct, a `forward`, and one line naming its parameters.
///
/// [`visit`](Module::visit) and [`visit_mut`](Module::visit_mut) walk the module's state by name
/// (PyTorch's `state_dict` keys: `conv1.weight`, `0.bias`, ...), in one fixed order; optimizers,
/// checkpoints and device moves use nothing else. [`params!`](crate::params) writes both from
/// the list of fields:
///
/// ```
/// use nidl::autograd::{Graph, Var};
/// use nidl::nn::{Linear, Module};
/// use nidl::rand::{rngs::StdRng, SeedableRng};
///
/// struct TwoLayers {
///     fc1: Linear<f32>,
///     fc2: Linear<f32>,
/// }
///
/// impl Module<f32> for TwoLayers {
///     fn forward(&self, g: &mut Graph<f32>, x: Var) -> nidl::Result<Var> {
///         let h = self.fc1.forward(g, x)?;
///         let h = g.relu(h)?;
///         self.fc2.forward(g, h)
///     }
///     nidl::params!(f32; fc1, fc2);
/// }
///
/// let mut rng = StdRng::seed_from_u64(0);
/// let m = TwoLayers { fc1: Linear::new(4, 8, true, &mut rng), fc2: Linear::new(8, 2, true, &mut rng) };
/// let names: Vec<String> = m.state_dict().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]);
/// ```
pub trait Module<T: Element>: Send + Sync {
    /// Applies the module to `x`, recording on `g` (training or evaluation behaviour per
    /// [`Graph::is_training`]).
    fn forward(&self, g: &mut Graph<T>, x: Var) -> Result<Var>;

    /// Calls `f(name, entry)` for every parameter and buffer, names prefixed by `prefix`
    /// ([`join`]), in a fixed order. Written by [`params!`](crate::params).
    fn visit<'a>(&'a self, prefix: &str, f: &mut Visitor<'_, 'a, T>);

    /// [`visit`](Module::visit), mutably, in the same order. Written by
    /// [`params!`](crate::params).
    fn visit_mut<'a>(&'a mut self, prefix: &str, f: &mut VisitorMut<'_, 'a, T>);

    /// Every parameter, in [`visit`](Module::visit) order.
    fn parameters(&self) -> Vec<&Param<T>> {
        let mut out = Vec::new();
        self.visit("", &mut |_, s| {
            if let State::Param(p) = s {
                out.push(p)
            }
        });
        out
    }

    /// Number of trainable scalars.
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(|p| p.value.len()).sum()
    }

    /// Parameters, then buffers, by name (PyTorch `state_dict` keys), each in
    /// [`visit`](Module::visit) order.
    fn state_dict(&self) -> Vec<(String, Tensor<T>)> {
        let (mut params, mut buffers) = (Vec::new(), Vec::new());
        self.visit("", &mut |n, s| match s {
            State::Param(p) => params.push((n.to_string(), p.value.clone())),
            State::Buffer(b) => buffers.push((n.to_string(), b.clone())),
        });
        params.extend(buffers);
        params
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
        // Check everything first (parameters, then buffers) so a failure leaves the module
        // untouched.
        let (mut param_err, mut buffer_err) = (None, None);
        self.visit("", &mut |n, s| match s {
            State::Param(p) if param_err.is_none() => {
                param_err = lookup(n, p.value.shape()).err();
            }
            State::Buffer(b) if buffer_err.is_none() => buffer_err = lookup(n, b.shape()).err(),
            _ => {}
        });
        if let Some(e) = param_err.or(buffer_err) {
            return Err(e);
        }
        self.visit_mut("", &mut |n, s| match s {
            StateMut::Param(p) => p.value = lookup(n, p.value.shape()).expect("checked above"),
            StateMut::Buffer(b) => *b = lookup(n, b.shape()).expect("checked above"),
        });
        Ok(())
    }
}

/// Writes [`Module::visit`] and [`Module::visit_mut`] inside an `impl Module<T> for …` block
/// from the element type and the fields holding the module's state, in order:
/// `nidl::params!(f32; conv1, conv2, fc)` names `conv1.<…>`, `conv2.<…>`, `fc.<…>`. A field is a
/// child module (any [`Module`]) or a [`Param`] (named by the field itself); `nidl::params!(T;)`
/// declares a module without state.
#[macro_export]
macro_rules! params {
    ($t:ty; $($field:ident),* $(,)?) => {
        fn visit<'a>(&'a self, prefix: &str, f: &mut $crate::nn::Visitor<'_, 'a, $t>) {
            #[allow(unused_imports)]
            use $crate::nn::VisitField as _;
            $(self.$field.visit_field(&$crate::nn::join(prefix, stringify!($field)), f);)*
            let _ = (prefix, f);
        }
        fn visit_mut<'a>(&'a mut self, prefix: &str, f: &mut $crate::nn::VisitorMut<'_, 'a, $t>) {
            #[allow(unused_imports)]
            use $crate::nn::VisitField as _;
            $(self.$field.visit_field_mut(&$crate::nn::join(prefix, stringify!($field)), f);)*
            let _ = (prefix, f);
        }
    };
}

/// How [`params!`](crate::params) visits a field that is a child module (a [`Param`] field is
/// visited by `Param`'s inherent methods of the same names, which take precedence).
pub trait VisitField<T: Element> {
    /// Visits the field's state under `name`.
    fn visit_field<'a>(&'a self, name: &str, f: &mut Visitor<'_, 'a, T>);
    /// Visits the field's state under `name`, mutably.
    fn visit_field_mut<'a>(&'a mut self, name: &str, f: &mut VisitorMut<'_, 'a, T>);
}

impl<T: Element, M: Module<T> + ?Sized> VisitField<T> for M {
    fn visit_field<'a>(&'a self, name: &str, f: &mut Visitor<'_, 'a, T>) {
        self.visit(name, f)
    }
    fn visit_field_mut<'a>(&'a mut self, name: &str, f: &mut VisitorMut<'_, 'a, T>) {
        self.visit_mut(name, f)
    }
}

/// A state entry's full name: `prefix.name`, or `name` at the top level (`prefix` empty), as
/// PyTorch joins `state_dict` keys. [`Module::visit`] implementations name their children with
/// it.
pub fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// The gradient of every parameter of `module` in [`Module::visit`] order (zeros for a
/// parameter no gradient reached), ready for an optimizer step.
pub fn param_grads<T: Element>(module: &dyn Module<T>, grads: &Grads<T>) -> Vec<Tensor<T>> {
    module
        .parameters()
        .into_iter()
        .map(|p| {
            grads
                .param(p.id())
                .cloned()
                .unwrap_or_else(|| Tensor::zeros(p.value.shape()))
        })
        .collect()
}

/// Moves every parameter and buffer (running statistics) of `module` to `device`.
///
/// Errors: [`crate::Error::Device`] when the device cannot be used; tensors moved before the
/// failure stay moved.
pub fn move_to<T: Element>(module: &mut dyn Module<T>, device: Device) -> Result<()> {
    let (mut params, mut buffers) = (Vec::new(), Vec::new());
    module.visit_mut("", &mut |_, s| match s {
        StateMut::Param(p) => params.push(&mut p.value),
        StateMut::Buffer(b) => buffers.push(b),
    });
    for t in params.into_iter().chain(buffers) {
        *t = t.to_device(device)?;
    }
    Ok(())
}

/// Mutable references to every parameter tensor of `module`, in [`Module::visit`] order.
pub fn param_values_mut<T: Element>(module: &mut dyn Module<T>) -> Vec<&mut Tensor<T>> {
    let mut out = Vec::new();
    module.visit_mut("", &mut |_, s| {
        if let StateMut::Param(p) = s {
            out.push(&mut p.value)
        }
    });
    out
}
