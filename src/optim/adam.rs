//! Adam and AdamW, as `torch.optim.Adam` / `torch.optim.AdamW` (single-tensor path).

use super::{check_at_least, check_beta, decay_for, parse_state, Layout, Optimizer};
use crate::backend::op::AdamStep;
use crate::error::{Error, Result};
use crate::tensor::{Element, Tensor};

/// The state and update shared by [`Adam`] and [`AdamW`]; they differ only in how weight decay
/// enters (`decoupled`).
#[derive(Clone, Debug)]
struct AdamCore<T: Element> {
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    exclude_1d: bool,
    decoupled: bool,
    /// Steps taken (PyTorch's `state["step"]`, the same for every parameter).
    step: u64,
    /// First moments `m`, one per parameter; empty until the first step.
    exp_avg: Vec<Tensor<T>>,
    /// Second moments `v`, one per parameter; empty until the first step.
    exp_avg_sq: Vec<Tensor<T>>,
    layout: Layout,
}

impl<T: Element> AdamCore<T> {
    fn new(lr: f64, decoupled: bool) -> Self {
        AdamCore {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: if decoupled { 1e-2 } else { 0.0 },
            exclude_1d: false,
            decoupled,
            step: 0,
            exp_avg: Vec::new(),
            exp_avg_sq: Vec::new(),
            layout: Layout::default(),
        }
    }

    fn validate(&self, op: &'static str) -> Result<()> {
        check_at_least(op, "lr", self.lr, 0.0)?;
        check_at_least(op, "eps", self.eps, 0.0)?;
        check_beta(op, "betas.0", self.beta1)?;
        check_beta(op, "betas.1", self.beta2)?;
        check_at_least(op, "weight_decay", self.weight_decay, 0.0)
    }

    /// One step of PyTorch's `_single_tensor_adam` (amsgrad off, maximize off):
    ///
    /// ```text
    /// step ← step + 1
    /// p ← p·(1 − lr·wd)                        (AdamW, decoupled)
    /// g ← g + wd·p                             (Adam, L2)
    /// m ← lerp(m, g, 1 − β1)                   (exp_avg.lerp_(grad, 1 - beta1))
    /// v ← v·β2 + ((1 − β2)·g)·g                (exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2))
    /// bc1 = 1 − β1^step,  bc2 = 1 − β2^step    (f64, as Python floats)
    /// denom = √v / √bc2 + eps
    /// p ← p + (−lr/bc1)·m / denom              (param.addcdiv_(exp_avg, denom, value=-step_size))
    /// ```
    fn step(
        &mut self,
        op: &'static str,
        params: &mut [&mut Tensor<T>],
        grads: &[&Tensor<T>],
    ) -> Result<()> {
        self.validate(op)?;
        self.layout.check(op, params, grads)?;
        if self.exp_avg.is_empty() {
            self.exp_avg = params
                .iter()
                .map(|p| p.zeros_like_on(p.shape()))
                .collect::<Result<_>>()?;
            self.exp_avg_sq = self.exp_avg.clone();
        }
        self.step += 1;
        // Python-float arithmetic in f64, then rounded to T where PyTorch hands it to a kernel.
        let step = self.step as f64;
        let bias_correction1 = 1.0 - self.beta1.powf(step);
        let bias_correction2 = 1.0 - self.beta2.powf(step);
        let step_size = self.lr / bias_correction1;
        for (i, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            let wd = decay_for(self.weight_decay, self.exclude_1d, p.ndim());
            let c = AdamStep {
                decoupled: self.decoupled && wd != 0.0,
                l2: !self.decoupled && wd != 0.0,
                shrink: T::from_f64(1.0 - self.lr * wd),
                l2_wd: T::from_f64(wd),
                one_minus_beta1: T::from_f64(1.0 - self.beta1),
                beta2: T::from_f64(self.beta2),
                one_minus_beta2: T::from_f64(1.0 - self.beta2),
                bc2_sqrt: T::from_f64(bias_correction2.powf(0.5)),
                neg_step_size: T::from_f64(-step_size),
                eps: T::from_f64(self.eps),
            };
            p.adam_step(&mut self.exp_avg[i], &mut self.exp_avg_sq[i], g, &c)?;
        }
        Ok(())
    }

    fn state(&self) -> Vec<(String, Tensor<T>)> {
        if !self.layout.is_built() {
            return Vec::new();
        }
        let mut out = vec![(
            "step".to_string(),
            Tensor::scalar(T::from_f64(self.step as f64)),
        )];
        for (i, m) in self.exp_avg.iter().enumerate() {
            out.push((format!("exp_avg.{i}"), m.clone()));
        }
        for (i, v) in self.exp_avg_sq.iter().enumerate() {
            out.push((format!("exp_avg_sq.{i}"), v.clone()));
        }
        out
    }

    fn load_state(&mut self, op: &'static str, state: &[(String, Tensor<T>)]) -> Result<()> {
        if state.is_empty() {
            self.step = 0;
            self.exp_avg.clear();
            self.exp_avg_sq.clear();
            self.layout.set(None);
            return Ok(());
        }
        let parsed = parse_state(op, state, &["step"], &["exp_avg", "exp_avg_sq"])?;
        let Some(step) = parsed.scalars[0] else {
            return Err(Error::invalid(op, "state entry \"step\" missing"));
        };
        let step = step.to_f64();
        if !(step.is_finite() && step >= 0.0 && step.fract() == 0.0) {
            return Err(Error::invalid(
                op,
                format!("state entry \"step\" must be a count, got {step}"),
            ));
        }
        let mut lists = parsed.lists.into_iter();
        let exp_avg = lists.next().unwrap_or_default();
        let exp_avg_sq = lists.next().unwrap_or_default();
        self.layout
            .set(Some(exp_avg.iter().map(|m| m.shape().to_vec()).collect()));
        self.step = step as u64;
        self.exp_avg = exp_avg;
        self.exp_avg_sq = exp_avg_sq;
        Ok(())
    }
}

/// Builder methods and the [`Optimizer`] impl shared by [`Adam`] and [`AdamW`].
macro_rules! adam_family {
    ($name:ident, $op:literal, $load_op:literal) => {
        impl<T: Element> $name<T> {
            /// Coefficients for the running averages of the gradient and its square.
            pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
                self.0.beta1 = beta1;
                self.0.beta2 = beta2;
                self
            }

            /// Term added to the denominator for numerical stability.
            pub fn eps(mut self, eps: f64) -> Self {
                self.0.eps = eps;
                self
            }

            /// Weight-decay coefficient (see the type's documentation for how it enters).
            pub fn weight_decay(mut self, weight_decay: f64) -> Self {
                self.0.weight_decay = weight_decay;
                self
            }

            /// With `true`, tensors with `ndim ≤ 1` (biases, norm scales) get no weight decay.
            pub fn exclude_1d_from_decay(mut self, exclude: bool) -> Self {
                self.0.exclude_1d = exclude;
                self
            }

            /// Steps taken so far.
            pub fn steps_taken(&self) -> u64 {
                self.0.step
            }
        }

        impl<T: Element> Optimizer<T> for $name<T> {
            fn step(&mut self, params: &mut [&mut Tensor<T>], grads: &[&Tensor<T>]) -> Result<()> {
                self.0.step($op, params, grads)
            }

            fn lr(&self) -> f64 {
                self.0.lr
            }

            fn set_lr(&mut self, lr: f64) {
                self.0.lr = lr;
            }

            /// `"step"` (a scalar), `"exp_avg.<i>"` and `"exp_avg_sq.<i>"` per parameter; empty
            /// before the first step.
            fn state(&self) -> Vec<(String, Tensor<T>)> {
                self.0.state()
            }

            fn load_state(&mut self, state: &[(String, Tensor<T>)]) -> Result<()> {
                self.0.load_state($load_op, state)
            }
        }
    };
}

/// `torch.optim.Adam` with L2 weight decay added to the gradient (`g ← g + wd·p`) before the
/// moment updates. Defaults are PyTorch's: betas (0.9, 0.999), eps 1e-8, weight decay 0.
///
/// Per element, in PyTorch's order (all in `T`; scalars computed in f64 and rounded to `T`):
/// `m ← lerp(m, g, 1−β1)`, `v ← v·β2 + ((1−β2)·g)·g`, `denom = √v/√(1−β2^t) + eps`,
/// `p ← p + (−lr/(1−β1^t))·m / denom`. Build with
/// `Adam::new(1e-4).betas(0.9, 0.99).weight_decay(5e-5)` (nidl 0.0.1's y-Aware and Barlow Twins
/// defaults).
#[derive(Clone, Debug)]
pub struct Adam<T: Element>(AdamCore<T>);

impl<T: Element> Adam<T> {
    /// Adam with learning rate `lr` and PyTorch's defaults for everything else.
    pub fn new(lr: f64) -> Self {
        Adam(AdamCore::new(lr, false))
    }
}

adam_family!(Adam, "Adam::step", "Adam::load_state");

/// `torch.optim.AdamW`: Adam with decoupled weight decay, `p ← p·(1 − lr·wd)` applied first, the
/// gradient left as is. Defaults are PyTorch's: betas (0.9, 0.999), eps 1e-8, weight decay 1e-2.
///
/// Build with `AdamW::new(lr).weight_decay(1e-4).betas(0.9, 0.999)`.
#[derive(Clone, Debug)]
pub struct AdamW<T: Element>(AdamCore<T>);

impl<T: Element> AdamW<T> {
    /// AdamW with learning rate `lr` and PyTorch's defaults for everything else.
    pub fn new(lr: f64) -> Self {
        AdamW(AdamCore::new(lr, true))
    }
}

adam_family!(AdamW, "AdamW::step", "AdamW::load_state");
