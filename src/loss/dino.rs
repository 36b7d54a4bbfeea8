//! DINO's self-distillation loss, as nidl 0.0.2's `DINOLoss` computes it.

use crate::autograd::{Graph, Var};
use crate::error::{Error, Result};
use crate::tensor::{BinaryOp, Device, Element, Tensor};

/// The hyper-parameters of a [`DinoLoss`] (nidl's `DINOLoss` arguments).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DinoLossConfig {
    /// Width `D` of the head's output (and of the centre).
    pub output_dim: usize,
    /// Teacher temperature at epoch 0.
    pub warmup_teacher_temp: f64,
    /// Teacher temperature after the warm-up.
    pub teacher_temp: f64,
    /// Epochs of the linear warm-up from `warmup_teacher_temp` to `teacher_temp`.
    pub warmup_teacher_temp_epochs: usize,
    /// Student temperature.
    pub student_temp: f64,
    /// Weight of the old centre in its moving average.
    pub center_momentum: f64,
}

impl Default for DinoLossConfig {
    /// nidl's defaults: 4096, 0.04, 0.07, 30, 0.1, 0.9.
    fn default() -> Self {
        DinoLossConfig {
            output_dim: 4096,
            warmup_teacher_temp: 0.04,
            teacher_temp: 0.07,
            warmup_teacher_temp_epochs: 30,
            student_temp: 0.1,
            center_momentum: 0.9,
        }
    }
}

/// The DINO loss (Caron et al., ICCV 2021) with nidl's numbers.
///
/// With teacher outputs `t_v` for the `T` global views, student outputs `s_u` for all `S`
/// views (globals first, in the teacher's order), batch size `B`, centre `c`, teacher
/// temperature `τ_t(epoch)` and student temperature `τ_s`:
///
/// `P_v = softmax((t_v − c)/τ_t)`, `L_u = log_softmax(s_u/τ_s)` (row-wise),
///
/// `ℓ = −(1/(n·B)) Σ_{v<T} Σ_{u<S, u≠v} Σ_{b,d} P_v[b,d]·L_u[b,d]`, `n = T·S − min(T, S)`
///
/// (nidl's `einsum("tbd,sbd->ts")` with the diagonal zeroed). After the loss, the centre moves
/// toward the teacher's batch mean: `c ← m·c + (1 − m)·mean_{v,b} t_v[b]` (`update_center`).
///
/// Teacher temperature: nidl holds its warm-up schedule as a float32
/// `torch.linspace(warmup_teacher_temp, teacher_temp, warmup_teacher_temp_epochs)` and the
/// final value as a float32 tensor; [`DinoLoss::teacher_temperature`] reproduces those float32
/// values bit for bit, so `f64` losses agree with nidl's to rounding.
///
/// The centre is state: a checkpoint holds it ([`DinoLoss::state`], [`DinoLoss::load_state`]).
#[derive(Debug, Clone)]
pub struct DinoLoss<T: Element> {
    config: DinoLossConfig,
    center: Tensor<T>,
}

/// The state name of the centre.
const CENTER: &str = "center";

impl<T: Element> DinoLoss<T> {
    /// The loss of `config`, its centre zeros `[1, output_dim]` on the CPU.
    ///
    /// Errors: [`Error::InvalidArgument`] naming the field at fault: `output_dim` 0, a
    /// temperature not positive and finite, `center_momentum` outside `[0, 1]`.
    pub fn new(config: DinoLossConfig) -> Result<Self> {
        const OP: &str = "DinoLoss::new";
        if config.output_dim == 0 {
            return Err(Error::invalid(OP, "output_dim must be positive, got 0"));
        }
        for (name, t) in [
            ("warmup_teacher_temp", config.warmup_teacher_temp),
            ("teacher_temp", config.teacher_temp),
            ("student_temp", config.student_temp),
        ] {
            if !(t > 0.0 && t.is_finite()) {
                return Err(Error::invalid(
                    OP,
                    format!("{name} must be positive and finite, got {t}"),
                ));
            }
        }
        if !(0.0..=1.0).contains(&config.center_momentum) {
            return Err(Error::invalid(
                OP,
                format!(
                    "center_momentum must be in [0, 1], got {}",
                    config.center_momentum
                ),
            ));
        }
        Ok(DinoLoss {
            config,
            center: Tensor::zeros(&[1, config.output_dim]),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &DinoLossConfig {
        &self.config
    }

    /// The teacher temperature at `epoch` (0-based; `None`: the final `teacher_temp`), as the
    /// float32 value nidl uses: during the warm-up `torch.linspace`'s element `epoch` — PyTorch
    /// computes it as `fma(step, epoch, start)` in the first half and `fma(−step,
    /// epochs − 1 − epoch, end)` in the second, `step = (end − start)/(epochs − 1)` in float32
    /// — and `float32(teacher_temp)` after it.
    pub fn teacher_temperature(&self, epoch: Option<usize>) -> f64 {
        let c = &self.config;
        let warmup = c.warmup_teacher_temp_epochs;
        match epoch {
            Some(e) if e < warmup => {
                let (start, end) = (c.warmup_teacher_temp as f32, c.teacher_temp as f32);
                if warmup == 1 {
                    return f64::from(start);
                }
                let step = (end - start) / (warmup - 1) as f32;
                let v = if e < warmup / 2 {
                    step.mul_add(e as f32, start)
                } else {
                    (-step).mul_add((warmup - 1 - e) as f32, end)
                };
                f64::from(v)
            }
            _ => f64::from(c.teacher_temp as f32),
        }
    }

    /// The 0-d loss node of `student` (a node of `g`, `[S·B, D]`: the `S` views stacked
    /// view-major, the `T` global views first) against `teacher` (`[T·B, D]`, its `T =
    /// n_global_views` views in the same order; a constant, no gradient flows into it) at
    /// `epoch` (see [`DinoLoss::teacher_temperature`]); then the centre's moving-average update
    /// from `teacher`, as nidl's `forward` does on every call (validation too).
    ///
    /// Composed as: teacher `softmax = exp(log_softmax_rows((t − c)/τ_t))` (constants), the
    /// per-student-view weights `W_u = Σ_{v≠u} P_v`, then on the graph `log_softmax_rows(s/τ_s)`
    /// → `⊙ W` → `sum` → `·(−1)` → `/(n·B)`. The existing row ops serve: no new kernel.
    ///
    /// Errors: [`Error::Shape`] unless both are 2-D with `D = output_dim` columns, `teacher`'s
    /// rows are `n_global_views·B` with `B ≥ 1` and `student`'s a positive multiple of `B`;
    /// [`Error::InvalidArgument`] for `n_global_views = 0`, a `student` not on `g`, or one view
    /// each (no cross-view pair). Nothing (the centre included) changes on error.
    pub fn forward(
        &mut self,
        g: &mut Graph<T>,
        teacher: &Tensor<T>,
        student: Var,
        n_global_views: usize,
        epoch: Option<usize>,
    ) -> Result<Var> {
        let (b, s_views) = self.check(g, teacher, student, n_global_views)?;
        let t_views = n_global_views;
        let tau_t = T::from_f64(self.teacher_temperature(epoch));
        let probs = teacher
            .sub(&self.center)?
            .scalar_op(tau_t, BinaryOp::Div)?
            .log_softmax_rows()?
            .exp()?;
        let view = |v: usize| probs.slice(0, v * b, (v + 1) * b);
        let mut weights = Vec::with_capacity(s_views);
        for u in 0..s_views {
            let mut w: Option<Tensor<T>> = None;
            for v in (0..t_views).filter(|&v| v != u) {
                let p = view(v)?;
                w = Some(match w {
                    Some(acc) => acc.add(&p)?,
                    None => p,
                });
            }
            weights.push(match w {
                Some(w) => w,
                None => teacher.zeros_like_on(&[b, self.config.output_dim])?,
            });
        }
        let weights = Tensor::concat(&weights.iter().collect::<Vec<_>>(), 0)?;
        let terms = t_views * s_views - t_views.min(s_views);
        let scaled = g.scalar(
            student,
            T::from_f64(self.config.student_temp),
            BinaryOp::Div,
        )?;
        let log_probs = g.log_softmax_rows(scaled)?;
        let w = g.input(weights);
        let cross = g.mul(log_probs, w)?;
        let total = g.sum(cross)?;
        let neg = g.neg(total)?;
        let loss = g.scalar(neg, T::from_usize(terms * b), BinaryOp::Div)?;
        self.update_center(teacher)?;
        Ok(loss)
    }

    /// Checks `forward`'s operands; returns `(B, S)`.
    fn check(
        &self,
        g: &Graph<T>,
        teacher: &Tensor<T>,
        student: Var,
        n_global_views: usize,
    ) -> Result<(usize, usize)> {
        const OP: &str = "dino_loss";
        if student.index() >= g.len() {
            return Err(Error::invalid(
                OP,
                format!(
                    "variable {} is not on this graph ({} nodes)",
                    student.index(),
                    g.len()
                ),
            ));
        }
        if n_global_views == 0 {
            return Err(Error::invalid(OP, "n_global_views must be at least 1"));
        }
        let d = self.config.output_dim;
        let (ts, ss) = (teacher.shape(), g.value(student).shape());
        let expected = || {
            format!(
                "teacher [{n_global_views}·B, {d}] with B ≥ 1 and student [S·B, {d}] with S ≥ 1"
            )
        };
        let (&[tr, td], &[sr, sd]) = (ts, ss) else {
            return Err(Error::shape(OP, expected(), &[ts, ss]));
        };
        if td != d || sd != d || tr == 0 || tr % n_global_views != 0 {
            return Err(Error::shape(OP, expected(), &[ts, ss]));
        }
        let b = tr / n_global_views;
        if sr == 0 || sr % b != 0 {
            return Err(Error::shape(OP, expected(), &[ts, ss]));
        }
        let s_views = sr / b;
        if n_global_views * s_views == n_global_views.min(s_views) {
            return Err(Error::invalid(
                OP,
                "one teacher view and one student view leave no cross-view pair",
            ));
        }
        Ok((b, s_views))
    }

    /// `c ← m·c + (1 − m)·mean(teacher rows)`.
    fn update_center(&mut self, teacher: &Tensor<T>) -> Result<()> {
        let rows = teacher.shape()[0];
        let mean = teacher
            .sum_axis(0)?
            .scalar_op(T::from_usize(rows), BinaryOp::Div)?;
        let mut center = self.center.to_device(teacher.device())?;
        center.ema_update(&mean, self.config.center_momentum)?;
        self.center = center;
        Ok(())
    }

    /// The centre `[1, D]`.
    pub fn center(&self) -> &Tensor<T> {
        &self.center
    }

    /// The state a checkpoint must hold: `[("center", [1, D])]`.
    pub fn state(&self) -> Vec<(String, Tensor<T>)> {
        vec![(CENTER.to_string(), self.center.clone())]
    }

    /// Restores [`DinoLoss::state`].
    ///
    /// Errors: [`Error::InvalidArgument`] when `center` is missing, [`Error::Shape`] when it is
    /// not `[1, D]`; the centre is unchanged then.
    pub fn load_state(&mut self, state: &[(String, Tensor<T>)]) -> Result<()> {
        let (_, c) = state.iter().find(|(n, _)| n == CENTER).ok_or_else(|| {
            Error::invalid("DinoLoss::load_state", format!("missing entry '{CENTER}'"))
        })?;
        if c.shape() != self.center.shape() {
            return Err(Error::shape(
                "DinoLoss::load_state",
                format!("entry '{CENTER}' shaped [1, {}]", self.config.output_dim),
                &[c.shape()],
            ));
        }
        self.center = c.to_device(self.center.device())?;
        Ok(())
    }

    /// Moves the centre to `device`.
    pub fn to_device(&mut self, device: Device) -> Result<()> {
        self.center = self.center.to_device(device)?;
        Ok(())
    }
}
