//! DINO's projection head (nidl's `DINOProjectionHead`) and its weight-normalised last layer.

use super::{join, BatchNorm1d, Gelu, Linear, Module, Param, Sequential, State, StateMut};
use super::{Visitor, VisitorMut};
use crate::autograd::{Graph, Var};
use crate::error::{Error, Result};
use crate::tensor::{Element, Tensor};
use rand::RngCore;
use rand_distr::{Distribution, Normal};

/// The magnitude `g` of a [`WeightNormLinear`]: trained, or held fixed.
#[derive(Debug)]
enum Magnitude<T: Element> {
    /// A trainable parameter.
    Trained(Param<T>),
    /// A buffer: no gradient, no optimizer step, no weight decay.
    Fixed(Tensor<T>),
}

/// `y = x·Wᵀ` with `W[o, :] = g[o]·v[o, :]/‖v[o, :]‖`: `torch.nn.utils.weight_norm` on a
/// bias-free `Linear` (dim 0). State names are PyTorch's: `weight_g` `[out, 1]`, then
/// `weight_v` `[out, in]`. A fixed magnitude (nidl's `norm_last_layer=True`, which sets
/// `weight_g.requires_grad = False`) is a buffer rather than a parameter, so no optimizer
/// touches it — PyTorch's optimizers skip a parameter without a gradient, weight decay included.
#[derive(Debug)]
pub struct WeightNormLinear<T: Element> {
    /// The direction `v` `[out_features, in_features]`.
    pub weight_v: Param<T>,
    weight_g: Magnitude<T>,
}

impl<T: Element> WeightNormLinear<T> {
    /// `weight_norm(Linear(in, out, bias=False))` followed by `weight_g.fill_(1)`, as nidl
    /// builds DINO's last layer: `v` drawn as PyTorch's default `Linear` weight (uniform in
    /// ±1/√in), `g = 1`, trained unless `fixed_magnitude`.
    pub fn new(
        in_features: usize,
        out_features: usize,
        fixed_magnitude: bool,
        rng: &mut dyn RngCore,
    ) -> Self {
        let weight_v = Param::uniform_fan_in(&[out_features, in_features], in_features, rng);
        let ones = Tensor::ones(&[out_features, 1]);
        let weight_g = if fixed_magnitude {
            Magnitude::Fixed(ones)
        } else {
            Magnitude::Trained(Param::new(ones))
        };
        WeightNormLinear { weight_v, weight_g }
    }

    /// The magnitude `g` `[out, 1]`.
    pub fn weight_g(&self) -> &Tensor<T> {
        match &self.weight_g {
            Magnitude::Trained(p) => &p.value,
            Magnitude::Fixed(t) => t,
        }
    }

    /// Its trainable parameters: `weight_v`, and `weight_g` unless fixed.
    pub fn trainable(&self) -> Vec<&Param<T>> {
        match &self.weight_g {
            Magnitude::Trained(g) => vec![g, &self.weight_v],
            Magnitude::Fixed(_) => vec![&self.weight_v],
        }
    }
}

impl<T: Element> Module<T> for WeightNormLinear<T> {
    fn forward(&self, g: &mut Graph<T>, x: Var) -> Result<Var> {
        let vs = self.weight_v.value.shape();
        let xs = g.value(x).shape();
        if xs.len() != 2 || xs[1] != vs[1] {
            return Err(Error::shape(
                "WeightNormLinear",
                format!("input [batch, {}]", vs[1]),
                &[xs, vs],
            ));
        }
        let v = self.weight_v.var(g);
        let m = match &self.weight_g {
            Magnitude::Trained(p) => p.var(g),
            Magnitude::Fixed(t) => g.input(t.clone()),
        };
        let w = g.weight_norm(v, m)?;
        g.matmul_t(x, w, false, true)
    }

    fn visit<'a>(&'a self, prefix: &str, f: &mut Visitor<'_, 'a, T>) {
        let name = join(prefix, "weight_g");
        match &self.weight_g {
            Magnitude::Trained(p) => f(&name, State::Param(p)),
            Magnitude::Fixed(t) => f(&name, State::Buffer(t)),
        }
        self.weight_v.visit_field(&join(prefix, "weight_v"), f);
    }

    fn visit_mut<'a>(&'a mut self, prefix: &str, f: &mut VisitorMut<'_, 'a, T>) {
        let name = join(prefix, "weight_g");
        match &mut self.weight_g {
            Magnitude::Trained(p) => f(&name, StateMut::Param(p)),
            Magnitude::Fixed(t) => f(&name, StateMut::Buffer(t)),
        }
        self.weight_v.visit_field_mut(&join(prefix, "weight_v"), f);
    }
}

/// The widths and switches of a [`DinoHead`] (nidl's `DINOProjectionHead` arguments).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DinoHeadConfig {
    /// Input width (the encoder's output).
    pub input_dim: usize,
    /// Width of the two hidden layers.
    pub hidden_dim: usize,
    /// Width of the L2-normalised bottleneck.
    pub bottleneck_dim: usize,
    /// Output width (the number of DINO "prototypes").
    pub output_dim: usize,
    /// Batch norm after the two hidden linears (which then have no bias).
    pub batch_norm: bool,
    /// Keep the last layer's magnitude fixed at 1 (`norm_last_layer`).
    pub norm_last_layer: bool,
}

impl Default for DinoHeadConfig {
    /// nidl's defaults: 2048, 2048, 256, 4096, batch norm, normalised last layer.
    fn default() -> Self {
        DinoHeadConfig {
            input_dim: 2048,
            hidden_dim: 2048,
            bottleneck_dim: 256,
            output_dim: 4096,
            batch_norm: true,
            norm_last_layer: true,
        }
    }
}

/// nidl's `DINOProjectionHead`: `Linear(input, hidden) [→ BatchNorm1d] → GELU → Linear(hidden,
/// hidden) [→ BatchNorm1d] → GELU → Linear(hidden, bottleneck)`, then each row L2-normalised
/// (`F.normalize`), then the weight-normalised, bias-free [`WeightNormLinear`] to `output`.
///
/// State names are PyTorch's: the MLP is `layers` (`layers.0.weight`, `layers.1.running_mean`
/// with batch norm, ..., `layers.6.bias`; without batch norm `layers.0`, `layers.2`,
/// `layers.4`), the last layer `last_layer.weight_g` and `last_layer.weight_v`.
///
/// Initialisation as nidl's where it matters for the numbers' scale: the MLP's linear weights
/// normal with std 0.02 truncated to [−2, 2] (nidl's `_init_weights`; at 100 σ the bounds never
/// bite), biases 0, batch norm γ = 1, β = 0; the last layer keeps PyTorch's default `Linear`
/// draw (nidl applies `_init_weights` before creating it) and `g = 1`. The random streams are
/// ours, not PyTorch's, so the values differ from a seeded PyTorch run.
pub struct DinoHead<T: Element> {
    layers: Sequential<T>,
    last_layer: WeightNormLinear<T>,
    config: DinoHeadConfig,
}

/// Std of nidl's truncated-normal initialisation of the head's linear weights.
const INIT_STD: f64 = 0.02;

/// Its truncation bounds (absolute, as `trunc_normal_(a=-2, b=2)`).
const INIT_BOUND: f64 = 2.0;

/// A `[out, in]` weight drawn normal(0, [`INIT_STD`]), redrawn outside ±[`INIT_BOUND`], and a
/// zero bias when asked: one of nidl's initialised `Linear`s.
fn trunc_normal_linear<T: Element>(
    in_features: usize,
    out_features: usize,
    bias: bool,
    rng: &mut dyn RngCore,
) -> Linear<T> {
    let normal = Normal::new(0.0, INIT_STD).expect("a positive, finite std");
    let data: Vec<T> = (0..in_features * out_features)
        .map(|_| loop {
            let v: f64 = normal.sample(rng);
            if (-INIT_BOUND..=INIT_BOUND).contains(&v) {
                break T::from_f64(v);
            }
        })
        .collect();
    let weight =
        Tensor::from_vec(data, &[out_features, in_features]).expect("the data has out·in elements");
    Linear {
        weight: Param::new(weight),
        bias: bias.then(|| Param::new(Tensor::zeros(&[out_features]))),
    }
}

impl<T: Element> DinoHead<T> {
    /// The head of `config`, weights drawn from `rng` in layer order.
    ///
    /// Errors: [`Error::InvalidArgument`] naming the width that is zero.
    pub fn new(config: &DinoHeadConfig, rng: &mut dyn RngCore) -> Result<Self> {
        let widths = [
            ("input_dim", config.input_dim),
            ("hidden_dim", config.hidden_dim),
            ("bottleneck_dim", config.bottleneck_dim),
            ("output_dim", config.output_dim),
        ];
        if let Some((name, _)) = widths.iter().find(|(_, w)| *w == 0) {
            return Err(Error::invalid(
                "DinoHead::new",
                format!("{name} must be positive, got 0 ({config:?})"),
            ));
        }
        let c = config;
        let mut layers = Sequential::new();
        for (i, o) in [(c.input_dim, c.hidden_dim), (c.hidden_dim, c.hidden_dim)] {
            layers = layers.push(trunc_normal_linear(i, o, !c.batch_norm, rng));
            if c.batch_norm {
                layers = layers.push(BatchNorm1d::new(o));
            }
            layers = layers.push(Gelu);
        }
        layers = layers.push(trunc_normal_linear(
            c.hidden_dim,
            c.bottleneck_dim,
            true,
            rng,
        ));
        let last_layer =
            WeightNormLinear::new(c.bottleneck_dim, c.output_dim, c.norm_last_layer, rng);
        Ok(DinoHead {
            layers,
            last_layer,
            config: *config,
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &DinoHeadConfig {
        &self.config
    }

    /// The weight-normalised last layer.
    pub fn last_layer(&self) -> &WeightNormLinear<T> {
        &self.last_layer
    }

    /// The trainable parameters of the last layer (`weight_v`, and `weight_g` when trained):
    /// those nidl's DINO leaves without gradient for the first `freeze_last_layer` epochs.
    pub fn last_layer_parameters(&self) -> Vec<&Param<T>> {
        self.last_layer.trainable()
    }
}

/// True for a state name of a [`DinoHead`]'s last layer (`last_layer.…`, after any prefix the
/// head sits under, e.g. `head.last_layer.weight_v`).
pub fn is_last_layer_name(name: &str) -> bool {
    name.starts_with("last_layer.") || name.contains(".last_layer.")
}

impl<T: Element> Module<T> for DinoHead<T> {
    fn forward(&self, g: &mut Graph<T>, x: Var) -> Result<Var> {
        let h = self
            .layers
            .forward(g, x)
            .map_err(|e| e.in_module("layers"))?;
        let h = g.l2_normalize_rows(h)?;
        self.last_layer
            .forward(g, h)
            .map_err(|e| e.in_module("last_layer"))
    }

    crate::params!(T; layers, last_layer);
}
