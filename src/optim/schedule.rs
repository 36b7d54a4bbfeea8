//! Learning-rate schedules, value for value identical to PyTorch's schedulers.
//!
//! PyTorch's schedulers are *chained*: `scheduler.step()` computes the new rate from the
//! optimizer's current one (`group["lr"]`), not from a closed form, and the two differ in the last
//! bits (and, past the end of the cosine, in the branch taken). [`LrSchedule::next_lr`] is that
//! chained rule; [`LrSchedule::lr_at`] replays it from step 0, so `lr_at(t)` is the rate PyTorch's
//! optimizer holds after `t` calls to `scheduler.step()` (with nobody else touching the rate).
//!
//! A trainer that keeps the optimizer's rate in step with the schedule can call
//! `opt.set_lr(schedule.next_lr(t, opt.lr()))` each step (O(1)), or `lr_at(t)` after a resume
//! (O(t)).

use crate::error::{Error, Result};
use std::f64::consts::PI;

/// A learning rate per step (or per epoch — the unit is whatever the caller counts).
pub trait LrSchedule {
    /// The rate at step 0, before any `scheduler.step()`.
    fn initial_lr(&self) -> f64;
    /// The rate at step `t ≥ 1` given the rate `prev_lr` at step `t − 1` (PyTorch's chainable
    /// `get_lr`).
    fn next_lr(&self, t: usize, prev_lr: f64) -> f64;
    /// The rate at step `t`: [`initial_lr`](LrSchedule::initial_lr) chained through
    /// [`next_lr`](LrSchedule::next_lr) `t` times.
    fn lr_at(&self, t: usize) -> f64 {
        (1..=t).fold(self.initial_lr(), |lr, s| self.next_lr(s, lr))
    }
    /// The rates at steps `0..n`.
    fn lrs(&self, n: usize) -> Vec<f64> {
        let mut out = Vec::with_capacity(n);
        let mut lr = self.initial_lr();
        for t in 0..n {
            if t > 0 {
                lr = self.next_lr(t, lr);
            }
            out.push(lr);
        }
        out
    }
}

/// `torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max, eta_min)` with the optimizer's
/// rate `base_lr`.
///
/// PyTorch's chained rule (reproduced operation for operation, so values match it bit for bit):
///
/// ```text
/// lr_0 = base_lr
/// lr_t = lr_{t−1} + (base_lr − eta_min)·(1 − cos(π/T_max))/2          if (t − 1 − T_max) mod 2·T_max = 0
/// lr_t = (1 + cos(π·t/T_max)) / (1 + cos(π·(t−1)/T_max))·(lr_{t−1} − eta_min) + eta_min   otherwise
/// ```
///
/// For `t ≤ T_max` this equals the closed form `eta_min + (base_lr − eta_min)(1 + cos(π·t/T_max))/2`
/// up to rounding; past `T_max` the rate climbs back along the cosine (period `2·T_max`). The
/// reference values (`T_max` 10, `eta_min = base_lr/50`, epochs 0..11) are reproduced exactly by
/// the chained rule and *not* by the closed form, which differs in the last bits at epochs 7 and
/// 11.
#[derive(Clone, Debug, PartialEq)]
pub struct CosineAnnealingLr {
    base_lr: f64,
    t_max: usize,
    eta_min: f64,
}

impl CosineAnnealingLr {
    /// The schedule from `base_lr` down to `eta_min` over `t_max` steps; errors if `t_max` is 0
    /// or a rate is not finite.
    pub fn new(base_lr: f64, t_max: usize, eta_min: f64) -> Result<Self> {
        const OP: &str = "CosineAnnealingLr::new";
        if t_max == 0 {
            return Err(Error::invalid(OP, "t_max must be at least 1, got 0"));
        }
        check_finite(OP, "base_lr", base_lr)?;
        check_finite(OP, "eta_min", eta_min)?;
        Ok(CosineAnnealingLr {
            base_lr,
            t_max,
            eta_min,
        })
    }

    /// The closed form `eta_min + (base_lr − eta_min)(1 + cos(π·t/T_max))/2` (PyTorch's
    /// `_get_closed_form_lr`, used when `step(epoch)` is given an epoch); equal to
    /// [`lr_at`](LrSchedule::lr_at) up to rounding.
    pub fn closed_form(&self, t: usize) -> f64 {
        self.eta_min
            + (self.base_lr - self.eta_min) * (1.0 + (PI * t as f64 / self.t_max as f64).cos())
                / 2.0
    }
}

impl LrSchedule for CosineAnnealingLr {
    fn initial_lr(&self) -> f64 {
        self.base_lr
    }

    fn next_lr(&self, t: usize, prev_lr: f64) -> f64 {
        let t_max = self.t_max as f64;
        let t_f = t as f64;
        if (t as i128 - 1 - self.t_max as i128).rem_euclid(2 * self.t_max as i128) == 0 {
            prev_lr + (self.base_lr - self.eta_min) * (1.0 - (PI / t_max).cos()) / 2.0
        } else {
            (1.0 + (PI * t_f / t_max).cos()) / (1.0 + (PI * (t_f - 1.0) / t_max).cos())
                * (prev_lr - self.eta_min)
                + self.eta_min
        }
    }
}

/// Linear warmup then cosine annealing, per step: lightning-bolts'
/// `LinearWarmupCosineAnnealingLR(optimizer, warmup_epochs, max_epochs, warmup_start_lr, eta_min)`
/// (which nidl 0.0.2 copies into `nidl.utils`; its default `"warmup_cosine"` schedule steps it
/// after every optimizer step), with
/// `W = warmup_steps`, `M = total_steps`, `s = warmup_start_lr`:
///
/// ```text
/// lr_t = base_lr                                      if t = W
/// lr_0 = s
/// lr_t = lr_{t−1} + (base_lr − s)/(W − 1)             if 0 < t < W
/// lr_t = lr_{t−1} + (base_lr − eta_min)·(1 − cos(π/(M−W)))/2     if (t − 1 − M) mod 2(M−W) = 0
/// lr_t = (1 + cos(π(t−W)/(M−W))) / (1 + cos(π(t−W−1)/(M−W)))·(lr_{t−1} − eta_min) + eta_min
/// ```
///
/// In closed form: `s + t·(base_lr − s)/(W − 1)` during warmup — so the rate reaches `base_lr`
/// at step `W − 1` and stays there at step `W` — then
/// `eta_min + (base_lr − eta_min)(1 + cos(π(t − W)/(M − W)))/2`, reaching `eta_min` at `t = M`
/// (and climbing back along the cosine after it). With `W = 0` there is no warmup: the rate
/// starts at `base_lr`. Defaults as bolts: `warmup_start_lr = 0`, `eta_min = 0`.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearWarmupCosine {
    base_lr: f64,
    warmup_steps: usize,
    total_steps: usize,
    warmup_start_lr: f64,
    eta_min: f64,
}

impl LinearWarmupCosine {
    /// Warmup from 0 to `base_lr` over `warmup_steps`, then cosine to 0 at `total_steps`; errors
    /// unless `total_steps > warmup_steps` and `base_lr` is finite.
    pub fn new(base_lr: f64, warmup_steps: usize, total_steps: usize) -> Result<Self> {
        const OP: &str = "LinearWarmupCosine::new";
        if total_steps <= warmup_steps {
            return Err(Error::invalid(
                OP,
                format!("total_steps ({total_steps}) must exceed warmup_steps ({warmup_steps})"),
            ));
        }
        check_finite(OP, "base_lr", base_lr)?;
        Ok(LinearWarmupCosine {
            base_lr,
            warmup_steps,
            total_steps,
            warmup_start_lr: 0.0,
            eta_min: 0.0,
        })
    }

    /// The rate at step 0 (bolts' `warmup_start_lr`, default 0).
    pub fn warmup_start_lr(mut self, lr: f64) -> Self {
        self.warmup_start_lr = lr;
        self
    }

    /// The warmup's starting rate as a fraction of `base_lr`: `warmup_start_lr = factor·base_lr`.
    pub fn start_lr_factor(mut self, factor: f64) -> Self {
        self.warmup_start_lr = factor * self.base_lr;
        self
    }

    /// The rate the cosine ends at, at `total_steps` (default 0).
    pub fn eta_min(mut self, eta_min: f64) -> Self {
        self.eta_min = eta_min;
        self
    }

    /// Bolts' `_get_closed_form_lr` (see the type's documentation); equal to
    /// [`lr_at`](LrSchedule::lr_at) up to rounding.
    pub fn closed_form(&self, t: usize) -> f64 {
        let (w, m) = (self.warmup_steps, self.total_steps);
        if t < w {
            self.warmup_start_lr
                + t as f64 * (self.base_lr - self.warmup_start_lr) / (w.max(2) - 1) as f64
        } else {
            self.eta_min
                + 0.5
                    * (self.base_lr - self.eta_min)
                    * (1.0 + (PI * (t - w) as f64 / (m - w) as f64).cos())
        }
    }
}

impl LrSchedule for LinearWarmupCosine {
    fn initial_lr(&self) -> f64 {
        if self.warmup_steps == 0 {
            self.base_lr
        } else {
            self.warmup_start_lr
        }
    }

    fn next_lr(&self, t: usize, prev_lr: f64) -> f64 {
        let (w, m) = (self.warmup_steps, self.total_steps);
        if t == w {
            return self.base_lr;
        }
        if t == 0 {
            return self.warmup_start_lr;
        }
        if t < w {
            // t < w with t ≥ 1 implies w ≥ 2: no division by zero.
            return prev_lr + (self.base_lr - self.warmup_start_lr) / (w - 1) as f64;
        }
        let span = (m - w) as f64;
        if (t as i128 - 1 - m as i128).rem_euclid(2 * (m - w) as i128) == 0 {
            prev_lr + (self.base_lr - self.eta_min) * (1.0 - (PI / span).cos()) / 2.0
        } else {
            (1.0 + (PI * (t - w) as f64 / span).cos())
                / (1.0 + (PI * (t - w - 1) as f64 / span).cos())
                * (prev_lr - self.eta_min)
                + self.eta_min
        }
    }
}

fn check_finite(op: &'static str, what: &str, v: f64) -> Result<()> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(
            op,
            format!("{what} must be finite, got {v}"),
        ))
    }
}
