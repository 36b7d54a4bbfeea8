//! Stochastic gradient descent with momentum, as `torch.optim.SGD`.

use super::{check_at_least, decay_for, parse_state, Layout, Optimizer};
use crate::backend::op::SgdStep;
use crate::error::{Error, Result};
use crate::tensor::{Element, Tensor};

/// `torch.optim.SGD`: for each parameter `p` with gradient `g`, in PyTorch's operation order,
///
/// ```text
/// g ← g + wd·p                                  (if wd ≠ 0)
/// b ← g                                         (first step: the buffer is a copy of g)
/// b ← momentum·b + (1 − dampening)·g            (later steps)
/// g ← g + momentum·b  (Nesterov)  or  g ← b      (if momentum ≠ 0)
/// p ← p − lr·g
/// ```
///
/// Defaults are PyTorch's: momentum 0, dampening 0, no Nesterov, no weight decay. Build with
/// `Sgd::new(lr).momentum(0.9).nesterov(true)`.
#[derive(Clone, Debug)]
pub struct Sgd<T: Element> {
    lr: f64,
    momentum: f64,
    dampening: f64,
    nesterov: bool,
    weight_decay: f64,
    exclude_1d: bool,
    /// Momentum buffers, one per parameter; empty until the first step (and when momentum = 0).
    bufs: Vec<Tensor<T>>,
    layout: Layout,
}

impl<T: Element> Sgd<T> {
    const OP: &'static str = "Sgd::step";

    /// Plain SGD with learning rate `lr` and PyTorch's defaults for everything else.
    pub fn new(lr: f64) -> Self {
        Sgd {
            lr,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            exclude_1d: false,
            bufs: Vec::new(),
            layout: Layout::default(),
        }
    }

    /// Momentum factor (default 0: no buffer).
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }

    /// Dampening of the gradient's contribution to the momentum buffer (default 0).
    pub fn dampening(mut self, dampening: f64) -> Self {
        self.dampening = dampening;
        self
    }

    /// Nesterov momentum (default off; needs momentum > 0 and dampening 0).
    pub fn nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
        self
    }

    /// L2 penalty added to the gradient: `g ← g + wd·p` (default 0).
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// With `true`, tensors with `ndim ≤ 1` (biases, norm scales) get no weight decay.
    pub fn exclude_1d_from_decay(mut self, exclude: bool) -> Self {
        self.exclude_1d = exclude;
        self
    }

    /// PyTorch's argument checks, naming the argument at fault.
    fn validate(&self) -> Result<()> {
        check_at_least(Self::OP, "lr", self.lr, 0.0)?;
        check_at_least(Self::OP, "momentum", self.momentum, 0.0)?;
        check_at_least(Self::OP, "weight_decay", self.weight_decay, 0.0)?;
        if !self.dampening.is_finite() {
            return Err(Error::invalid(
                Self::OP,
                format!("dampening must be finite, got {}", self.dampening),
            ));
        }
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(Error::invalid(
                Self::OP,
                format!(
                    "Nesterov momentum requires momentum > 0 and dampening = 0, got momentum {} \
                     and dampening {}",
                    self.momentum, self.dampening
                ),
            ));
        }
        Ok(())
    }
}

impl<T: Element> Optimizer<T> for Sgd<T> {
    fn step(&mut self, params: &mut [&mut Tensor<T>], grads: &[&Tensor<T>]) -> Result<()> {
        self.validate()?;
        self.layout.check(Self::OP, params, grads)?;
        let use_momentum = self.momentum != 0.0;
        let first = use_momentum && self.bufs.is_empty();
        if first {
            self.bufs = params
                .iter()
                .map(|p| p.zeros_like_on(p.shape()))
                .collect::<Result<_>>()?;
        }
        // Scalars rounded to T where PyTorch rounds them (`alpha.to<scalar_t>()`).
        for (i, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            let wd = decay_for(self.weight_decay, self.exclude_1d, p.ndim());
            let c = SgdStep {
                neg_lr: T::from_f64(-self.lr),
                weight_decay: (wd != 0.0).then(|| T::from_f64(wd)),
                momentum: T::from_f64(self.momentum),
                one_minus_dampening: T::from_f64(1.0 - self.dampening),
                first,
                nesterov: self.nesterov,
            };
            let buf = if use_momentum {
                self.bufs.get_mut(i)
            } else {
                None
            };
            p.sgd_step(buf, g, &c)?;
        }
        Ok(())
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    /// `"momentum_buffer.<i>"` per parameter once a momentum step has been taken.
    fn state(&self) -> Vec<(String, Tensor<T>)> {
        self.bufs
            .iter()
            .enumerate()
            .map(|(i, b)| (format!("momentum_buffer.{i}"), b.clone()))
            .collect()
    }

    fn load_state(&mut self, state: &[(String, Tensor<T>)]) -> Result<()> {
        const OP: &str = "Sgd::load_state";
        let parsed = parse_state(OP, state, &[], &["momentum_buffer"])?;
        let bufs = parsed.lists.into_iter().next().unwrap_or_default();
        if !bufs.is_empty() && self.momentum == 0.0 {
            return Err(Error::invalid(
                OP,
                "momentum buffers given to an optimizer without momentum",
            ));
        }
        if bufs.is_empty() {
            self.layout.set(None);
        } else {
            self.layout
                .set(Some(bufs.iter().map(|b| b.shape().to_vec()).collect()));
        }
        self.bufs = bufs;
        Ok(())
    }
}
