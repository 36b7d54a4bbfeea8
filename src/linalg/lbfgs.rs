//! Limited-memory BFGS for smooth unconstrained problems, run as scipy's `L-BFGS-B` runs them.
//!
//! scikit-learn's `LogisticRegression(solver="lbfgs")` calls
//! `scipy.optimize.minimize(method="L-BFGS-B")` with no bounds, and users compare our
//! coefficients and iteration counts with theirs, so this module follows that code path step for
//! step (scipy ≥ 1.15 `src/lbfgsb.c`: `mainlb`, `lnsrlb`, `matupd`; MINPACK-2 `dcsrch` and
//! `dcstep`), where an unconstrained problem takes these branches:
//!
//! 1. Evaluate `f(x₀)`, `g(x₀)`; stop at once if `max|g| ≤ gtol`.
//! 2. Direction `d = −H·g`, `H` the L-BFGS inverse-Hessian approximation from the last
//!    `history` pairs `(s, y)` with `H₀ = I/θ`, `θ = yᵀy / sᵀy` of the newest pair (the compact
//!    form L-BFGS-B solves by Sherman–Morrison–Woodbury is the same matrix; we use the two-loop
//!    recursion). With no pairs (`θ = 1`) the direction is `−g`.
//! 3. Line search along `d` with the Moré–Thuente algorithm (`dcsrch`): sufficient decrease
//!    `1e-3`, curvature `0.9`, interval tolerance `0.1`, steps in `[0, 1e10]`. The first step is
//!    `min(1/‖d‖, 1e10)` on the very first iteration and `1` afterwards. A search that asks for
//!    more than `max_line_search` evaluations, or a direction that is not a descent direction,
//!    restores the previous point and restarts from steepest descent with the memory cleared
//!    (or, with an empty memory already, stops: [`Termination::LineSearchFailure`]). So does a
//!    first step that is not a positive finite number (a direction whose norm overflows, where
//!    L-BFGS-B's Cauchy point turns to NaN), and a trial point where `f` or its gradient is NaN
//!    or infinite, at which the search stops at once (scipy's goes on through NaN values until
//!    `maxls` and fails all the same); from steepest descent that stops the run with
//!    [`Termination::NonFiniteObjective`], as it does at `x₀`.
//! 4. After each accepted step, in this order: the iteration cap (`n_iter ≥ max_iter`, as
//!    scipy's driver checks it before the convergence tests), the evaluation cap
//!    (`n_eval > max_fun`), then `max|g| ≤ gtol`, then
//!    `f_old − f ≤ ftol · max(|f_old|, |f|, 1)`.
//! 5. The pair `s = stp·d`, `y = g − g_old` is kept unless `sᵀy ≤ ε·(−stp·g_oldᵀd)`.
//!
//! scikit-learn passes `maxiter = max_iter`, `maxls = 50`, `gtol = tol` and
//! `ftol = 64·ε` ([`LbfgsOptions::sklearn`]).

use crate::error::{Error, Result};
use std::collections::VecDeque;

/// Sufficient-decrease constant of `lnsrlb`'s line search: `f(stp) ≤ f(0) + 1e-3·stp·f'(0)`.
const LS_FTOL: f64 = 1e-3;
/// Curvature constant of `lnsrlb`'s line search: `|f'(stp)| ≤ 0.9·|f'(0)|`.
const LS_GTOL: f64 = 0.9;
/// Relative width of the bracketing interval below which the search gives up (a warning).
const LS_XTOL: f64 = 0.1;
/// Largest step `lnsrlb` allows on an unconstrained problem.
const STPMAX: f64 = 1e10;

/// Settings of [`minimize`]; the field names are scipy's option names where one exists.
#[derive(Clone, Debug, PartialEq)]
pub struct LbfgsOptions {
    /// Number of `(s, y)` correction pairs kept (scipy's `maxcor`; 10).
    pub history: usize,
    /// Most iterations (accepted steps); reaching it stops the run unconverged (`maxiter`).
    pub max_iter: usize,
    /// The run stops unconverged once more than this many evaluations were made (`maxfun`).
    pub max_fun: usize,
    /// Converged when `max_i |g_i| ≤ gtol` (`gtol`, L-BFGS-B's `pgtol`).
    pub gtol: f64,
    /// Converged when `(f_old − f) / max(|f_old|, |f|, 1) ≤ ftol` (`ftol`, i.e. `factr·ε`).
    pub ftol: f64,
    /// Most evaluations in one line search (`maxls`).
    pub max_line_search: usize,
}

impl Default for LbfgsOptions {
    /// scipy's defaults for `minimize(method="L-BFGS-B")`.
    fn default() -> Self {
        LbfgsOptions {
            history: 10,
            max_iter: 15_000,
            max_fun: 15_000,
            gtol: 1e-5,
            ftol: 1e7 * f64::EPSILON,
            max_line_search: 20,
        }
    }
}

impl LbfgsOptions {
    /// The options scikit-learn's `LogisticRegression(solver="lbfgs", tol, max_iter)` passes:
    /// `maxls = 50`, `gtol = tol`, `ftol = 64·ε`, `maxiter = max_iter`.
    pub fn sklearn(tol: f64, max_iter: usize) -> Self {
        LbfgsOptions {
            max_iter,
            gtol: tol,
            ftol: 64.0 * f64::EPSILON,
            max_line_search: 50,
            ..LbfgsOptions::default()
        }
    }

    fn validate(&self) -> Result<()> {
        if self.history == 0 {
            return Err(Error::invalid("lbfgs", "history must be at least 1"));
        }
        if self.max_line_search == 0 {
            return Err(Error::invalid(
                "lbfgs",
                "max_line_search must be at least 1",
            ));
        }
        for (name, v) in [("gtol", self.gtol), ("ftol", self.ftol)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::invalid(
                    "lbfgs",
                    format!("{name} must be finite and ≥ 0, got {v}"),
                ));
            }
        }
        Ok(())
    }
}

/// Why [`minimize`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Termination {
    /// `max|g| ≤ gtol` (scipy: `CONVERGENCE: NORM OF PROJECTED GRADIENT <= PGTOL`).
    GradientTolerance,
    /// The relative decrease of `f` fell to `ftol` (scipy: `CONVERGENCE: REL_REDUCTION_OF_F`).
    RelativeReduction,
    /// `max_iter` iterations were made (scipy: `STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT`).
    MaxIterations,
    /// More than `max_fun` evaluations were made (scipy: `STOP: TOTAL NO. OF F,G EVALUATIONS`).
    MaxEvaluations,
    /// The line search failed from steepest descent (scipy: `ABNORMAL_TERMINATION_IN_LNSRCH`).
    LineSearchFailure,
    /// The objective or its gradient was NaN or infinite at `x₀`, or at every trial point of a
    /// line search from steepest descent (an overflow; scipy: `ABNORMAL`).
    NonFiniteObjective,
}

impl Termination {
    /// Whether a convergence test stopped the run.
    pub fn converged(self) -> bool {
        matches!(
            self,
            Termination::GradientTolerance | Termination::RelativeReduction
        )
    }
}

impl std::fmt::Display for Termination {
    /// Why the run stopped, in words, with scipy's message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Termination::GradientTolerance => {
                "converged: gradient within gtol (CONVERGENCE: NORM OF PROJECTED GRADIENT <= PGTOL)"
            }
            Termination::RelativeReduction => {
                "converged: relative reduction of the objective within ftol (CONVERGENCE: \
                 REL_REDUCTION_OF_F_<=_FACTR*EPSMCH)"
            }
            Termination::MaxIterations => {
                "iteration limit reached (STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT)"
            }
            Termination::MaxEvaluations => {
                "evaluation limit reached (STOP: TOTAL NO. OF F,G EVALUATIONS EXCEEDS LIMIT)"
            }
            Termination::LineSearchFailure => {
                "the line search failed (ABNORMAL_TERMINATION_IN_LNSRCH)"
            }
            Termination::NonFiniteObjective => {
                "the objective or its gradient is not finite (overflow; ABNORMAL)"
            }
        })
    }
}

/// The outcome of [`minimize`].
#[derive(Clone, Debug)]
pub struct LbfgsResult {
    /// The last accepted point.
    pub x: Vec<f64>,
    /// `f(x)`.
    pub f: f64,
    /// `∇f(x)`.
    pub grad: Vec<f64>,
    /// Accepted steps (scipy's `nit`, scikit-learn's `n_iter_`).
    pub n_iter: usize,
    /// Objective evaluations (scipy's `nfev`).
    pub n_eval: usize,
    /// Why the run stopped.
    pub termination: Termination,
}

impl LbfgsResult {
    /// True when a convergence test stopped the run (scipy's `status == 0`).
    pub fn converged(&self) -> bool {
        self.termination.converged()
    }
}

/// Minimises `f` from `x0`. `fg(x, g)` returns `f(x)` and writes `∇f(x)` into `g`.
///
/// Errors: an error from `fg` is returned as is; invalid options are an
/// [`Error::InvalidArgument`]. Not converging is not an error, nor is a NaN or infinite `f` or
/// gradient: see [`LbfgsResult::termination`] (the result holds the last point where both were
/// finite, or `x₀`).
pub fn minimize<F>(fg: F, x0: &[f64], opts: &LbfgsOptions) -> Result<LbfgsResult>
where
    F: FnMut(&[f64], &mut [f64]) -> Result<f64>,
{
    minimize_observed(fg, x0, opts, |_| {})
}

/// [`minimize`], calling `observe(k)` after the `k`-th accepted step (`k = 1, 2, …`, up to
/// [`LbfgsOptions::max_iter`]), before the stopping tests of that iteration. The observer only
/// watches (e.g. to show progress): the run and its result are exactly those of [`minimize`].
pub fn minimize_observed<F, O>(
    mut fg: F,
    x0: &[f64],
    opts: &LbfgsOptions,
    mut observe: O,
) -> Result<LbfgsResult>
where
    F: FnMut(&[f64], &mut [f64]) -> Result<f64>,
    O: FnMut(usize),
{
    opts.validate()?;
    let n = x0.len();
    let mut x = x0.to_vec();
    let mut g = vec![0.0; n];
    let mut n_eval = 0usize;
    let mut eval = |x: &[f64], g: &mut [f64], n_eval: &mut usize| -> Result<f64> {
        *n_eval += 1;
        fg(x, g)
    };
    // Whether `f` and the gradient `g` are finite.
    let finite = |f: f64, g: &[f64]| f.is_finite() && g.iter().all(|v| v.is_finite());

    let mut f = eval(&x, &mut g, &mut n_eval)?;
    let finish = |x, f, grad, n_iter, n_eval, termination| LbfgsResult {
        x,
        f,
        grad,
        n_iter,
        n_eval,
        termination,
    };
    if !finite(f, &g) {
        return Ok(finish(x, f, g, 0, n_eval, Termination::NonFiniteObjective));
    }
    if inf_norm(&g) <= opts.gtol {
        return Ok(finish(x, f, g, 0, n_eval, Termination::GradientTolerance));
    }
    if opts.max_iter == 0 {
        return Ok(finish(x, f, g, 0, n_eval, Termination::MaxIterations));
    }

    let mut memory = Memory::new(opts.history, n);
    let mut iter = 0usize;
    let mut d = vec![0.0; n];
    let mut x_old = vec![0.0; n];
    let mut g_old = vec![0.0; n];
    loop {
        memory.direction(&g, &mut d);

        // ---- Line search (lnsrlb + dcsrch) ----
        let dnorm = dot(&d, &d).sqrt();
        let mut stp = if iter == 0 {
            (1.0 / dnorm).min(STPMAX)
        } else {
            1.0
        };
        x_old.copy_from_slice(&x);
        g_old.copy_from_slice(&g);
        let f_old = f;
        let gd_old = dot(&g, &d);
        let mut gd = gd_old;
        // A direction that is not a descent direction makes the search impossible (info −4), as
        // does one too long for a finite slope or a positive first step (an overflow).
        let mut failed = !(gd_old < 0.0 && gd_old.is_finite() && stp > 0.0 && stp.is_finite());
        let mut non_finite = false;
        if !failed {
            let mut search = Dcsrch::start(f, gd_old, stp, 0.0, STPMAX);
            let mut task = LineTask::Evaluate;
            let mut evaluations = 0usize;
            while task == LineTask::Evaluate {
                // lnsrlb counts this request; mainlb refuses it past `maxls` evaluations.
                if evaluations >= opts.max_line_search {
                    failed = true;
                    break;
                }
                evaluations += 1;
                x.iter_mut()
                    .zip(x_old.iter().zip(&d))
                    .for_each(|(xi, (ti, di))| *xi = stp * di + ti);
                f = eval(&x, &mut g, &mut n_eval)?;
                if !finite(f, &g) {
                    (failed, non_finite) = (true, true);
                    break;
                }
                gd = dot(&g, &d);
                task = search.step(f, gd, &mut stp);
            }
        }
        if failed {
            x.copy_from_slice(&x_old);
            g.copy_from_slice(&g_old);
            f = f_old;
            if memory.is_empty() {
                let why = if non_finite {
                    Termination::NonFiniteObjective
                } else {
                    Termination::LineSearchFailure
                };
                return Ok(finish(x, f, g, iter, n_eval, why));
            }
            // Refresh the memory and restart from steepest descent.
            memory.clear();
            continue;
        }

        // ---- A new iterate (NEW_X) ----
        iter += 1;
        observe(iter);
        if iter >= opts.max_iter {
            return Ok(finish(x, f, g, iter, n_eval, Termination::MaxIterations));
        }
        if n_eval > opts.max_fun {
            return Ok(finish(x, f, g, iter, n_eval, Termination::MaxEvaluations));
        }
        if inf_norm(&g) <= opts.gtol {
            return Ok(finish(
                x,
                f,
                g,
                iter,
                n_eval,
                Termination::GradientTolerance,
            ));
        }
        if f_old - f <= opts.ftol * f_old.abs().max(f.abs()).max(1.0) {
            return Ok(finish(
                x,
                f,
                g,
                iter,
                n_eval,
                Termination::RelativeReduction,
            ));
        }

        // ---- Memory update (matupd), skipped without enough curvature ----
        // sᵀy = stp·(g − g_old)ᵀd, computed as L-BFGS-B does for the skip test.
        let (sy, descent) = if stp == 1.0 {
            (gd - gd_old, -gd_old)
        } else {
            ((gd - gd_old) * stp, -gd_old * stp)
        };
        if sy <= f64::EPSILON * descent {
            continue;
        }
        memory.push(stp, &d, &g, &g_old, sy);
    }
}

/// The L-BFGS memory: the newest `history` pairs `s = x_{k+1} − x_k`, `y = g_{k+1} − g_k`.
struct Memory {
    history: usize,
    n: usize,
    /// `(s, y, sᵀy)`, oldest first.
    pairs: VecDeque<(Vec<f64>, Vec<f64>, f64)>,
    /// `θ = yᵀy / sᵀy` of the newest pair: the initial Hessian approximation is `θ·I`.
    theta: f64,
    /// Scratch for the two-loop recursion's `α_i`.
    alpha: Vec<f64>,
}

impl Memory {
    fn new(history: usize, n: usize) -> Memory {
        Memory {
            history,
            n,
            pairs: VecDeque::with_capacity(history),
            theta: 1.0,
            alpha: Vec::with_capacity(history),
        }
    }

    fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    fn clear(&mut self) {
        self.pairs.clear();
        self.theta = 1.0;
    }

    /// Adds `s = stp·d`, `y = g − g_old` (recycling the oldest pair's buffers when full).
    fn push(&mut self, stp: f64, d: &[f64], g: &[f64], g_old: &[f64], sy: f64) {
        let (mut s, mut y) = if self.pairs.len() == self.history {
            let (s, y, _) = self
                .pairs
                .pop_front()
                .expect("memory is full, so not empty");
            (s, y)
        } else {
            (vec![0.0; self.n], vec![0.0; self.n])
        };
        if stp == 1.0 {
            s.copy_from_slice(d);
        } else {
            s.iter_mut().zip(d).for_each(|(si, di)| *si = stp * di);
        }
        y.iter_mut()
            .zip(g.iter().zip(g_old))
            .for_each(|(yi, (a, b))| *yi = a - b);
        self.theta = dot(&y, &y) / sy;
        self.pairs.push_back((s, y, sy));
    }

    /// `d = −H·g` by the two-loop recursion with `H₀ = I/θ`.
    fn direction(&mut self, g: &[f64], d: &mut [f64]) {
        // q ← g; newest to oldest: α_i = ρ_i·s_iᵀq, q ← q − α_i·y_i.
        d.copy_from_slice(g);
        self.alpha.clear();
        for (s, y, sy) in self.pairs.iter().rev() {
            let a = dot(s, d) / sy;
            d.iter_mut().zip(y).for_each(|(di, yi)| *di -= a * yi);
            self.alpha.push(a);
        }
        // r ← H₀·q; oldest to newest: β = ρ_i·y_iᵀr, r ← r + (α_i − β)·s_i.
        let inv_theta = 1.0 / self.theta;
        d.iter_mut().for_each(|v| *v *= inv_theta);
        for ((s, y, sy), a) in self.pairs.iter().zip(self.alpha.iter().rev()) {
            let b = dot(y, d) / sy;
            d.iter_mut().zip(s).for_each(|(di, si)| *di += (a - b) * si);
        }
        d.iter_mut().for_each(|v| *v = -*v);
    }
}

/// What the line search asks for next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LineTask {
    /// Evaluate `f` and `f'` at the (updated) step and call [`Dcsrch::step`] again.
    Evaluate,
    /// Both Wolfe conditions hold at the step.
    Converged,
    /// No further progress is possible (rounding, interval too small, `stpmin`/`stpmax`);
    /// L-BFGS-B accepts the step all the same.
    Warning,
}

/// MINPACK-2 `dcsrch` (Moré & Thuente 1994): finds a step satisfying
/// `ψ(stp) = f(stp) − f(0) − ftol·stp·f'(0) ≤ 0` and `|f'(stp)| ≤ gtol·|f'(0)|`, keeping an
/// interval `[stx, sty]` that brackets such a step once one is bracketed.
struct Dcsrch {
    brackt: bool,
    stage: u8,
    ginit: f64,
    gtest: f64,
    gx: f64,
    gy: f64,
    finit: f64,
    fx: f64,
    fy: f64,
    stx: f64,
    sty: f64,
    stmin: f64,
    stmax: f64,
    width: f64,
    width1: f64,
    stpmin: f64,
    stpmax: f64,
}

impl Dcsrch {
    /// Starts a search from `f(0) = f`, `f'(0) = g < 0` with first trial step `stp`
    /// (the caller evaluates at `stp` next: `dcsrch`'s `START` always answers `FG`).
    fn start(f: f64, g: f64, stp: f64, stpmin: f64, stpmax: f64) -> Dcsrch {
        const XTRAPU: f64 = 4.0;
        let width = stpmax - stpmin;
        Dcsrch {
            brackt: false,
            stage: 1,
            ginit: g,
            gtest: LS_FTOL * g,
            gx: g,
            gy: g,
            finit: f,
            fx: f,
            fy: f,
            stx: 0.0,
            sty: 0.0,
            stmin: 0.0,
            stmax: stp + XTRAPU * stp,
            width,
            width1: width / 0.5,
            stpmin,
            stpmax,
        }
    }

    /// Takes `f(stp)`, `f'(stp)` and either stops or sets the next trial step in `stp`.
    fn step(&mut self, f: f64, g: f64, stp: &mut f64) -> LineTask {
        const XTRAPL: f64 = 1.1;
        const XTRAPU: f64 = 4.0;
        // Stage 2 starts once ψ(stp) ≤ 0 and f'(stp) ≥ 0.
        let ftest = self.finit + *stp * self.gtest;
        if self.stage == 1 && f <= ftest && g >= 0.0 {
            self.stage = 2;
        }
        // Warnings, then convergence (which overrides them), as dcsrch orders its tests.
        let mut task = LineTask::Evaluate;
        if self.brackt && (*stp <= self.stmin || *stp >= self.stmax) {
            task = LineTask::Warning;
        }
        if self.brackt && self.stmax - self.stmin <= LS_XTOL * self.stmax {
            task = LineTask::Warning;
        }
        if *stp == self.stpmax && f <= ftest && g <= self.gtest {
            task = LineTask::Warning;
        }
        if *stp == self.stpmin && (f > ftest || g >= self.gtest) {
            task = LineTask::Warning;
        }
        if f <= ftest && g.abs() <= LS_GTOL * (-self.ginit) {
            task = LineTask::Converged;
        }
        if task != LineTask::Evaluate {
            return task;
        }

        // In stage 1, with a lower but not sufficiently lower value, step on the modified
        // function ψ (values and slopes shifted by gtest).
        if self.stage == 1 && f <= self.fx && f > ftest {
            let mut fxm = self.fx - self.stx * self.gtest;
            let mut fym = self.fy - self.sty * self.gtest;
            let mut gxm = self.gx - self.gtest;
            let mut gym = self.gy - self.gtest;
            let fm = f - *stp * self.gtest;
            let gm = g - self.gtest;
            dcstep(
                &mut self.stx,
                &mut fxm,
                &mut gxm,
                &mut self.sty,
                &mut fym,
                &mut gym,
                stp,
                fm,
                gm,
                &mut self.brackt,
                self.stmin,
                self.stmax,
            );
            self.fx = fxm + self.stx * self.gtest;
            self.fy = fym + self.sty * self.gtest;
            self.gx = gxm + self.gtest;
            self.gy = gym + self.gtest;
        } else {
            dcstep(
                &mut self.stx,
                &mut self.fx,
                &mut self.gx,
                &mut self.sty,
                &mut self.fy,
                &mut self.gy,
                stp,
                f,
                g,
                &mut self.brackt,
                self.stmin,
                self.stmax,
            );
        }

        // Bisect when the interval did not shrink enough over two steps.
        if self.brackt {
            if (self.sty - self.stx).abs() >= 0.66 * self.width1 {
                *stp = self.stx + 0.5 * (self.sty - self.stx);
            }
            self.width1 = self.width;
            self.width = (self.sty - self.stx).abs();
        }
        if self.brackt {
            self.stmin = self.stx.min(self.sty);
            self.stmax = self.stx.max(self.sty);
        } else {
            self.stmin = *stp + XTRAPL * (*stp - self.stx);
            self.stmax = *stp + XTRAPU * (*stp - self.stx);
        }
        *stp = stp.max(self.stpmin).min(self.stpmax);
        // With no further progress possible, fall back to the best step so far.
        if self.brackt
            && (*stp <= self.stmin
                || *stp >= self.stmax
                || self.stmax - self.stmin <= LS_XTOL * self.stmax)
        {
            *stp = self.stx;
        }
        LineTask::Evaluate
    }
}

/// MINPACK-2 `dcstep`: a safeguarded cubic/quadratic/secant step that updates the interval
/// `[stx, sty]` known to contain a step satisfying the Wolfe conditions. Four cases, by how
/// `f(stp)` and `f'(stp)` compare with the best point `stx` (see Moré & Thuente, section 4).
#[allow(clippy::too_many_arguments)]
fn dcstep(
    stx: &mut f64,
    fx: &mut f64,
    dx: &mut f64,
    sty: &mut f64,
    fy: &mut f64,
    dy: &mut f64,
    stp: &mut f64,
    fp: f64,
    dp: f64,
    brackt: &mut bool,
    stpmin: f64,
    stpmax: f64,
) {
    let sgnd = dp * (*dx / dx.abs());
    let stpf;
    if fp > *fx {
        // Case 1: a higher value; the minimum is bracketed. Cubic step if closer to stx than
        // the quadratic step, else their average.
        let theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        let s = theta.abs().max(dx.abs()).max(dp.abs());
        let mut gamma = s * ((theta / s).powi(2) - (*dx / s) * (dp / s)).sqrt();
        if *stp < *stx {
            gamma = -gamma;
        }
        let p = (gamma - *dx) + theta;
        let q = ((gamma - *dx) + gamma) + dp;
        let r = p / q;
        let stpc = *stx + r * (*stp - *stx);
        let stpq = *stx + ((*dx / ((*fx - fp) / (*stp - *stx) + *dx)) / 2.0) * (*stp - *stx);
        stpf = if (stpc - *stx).abs() < (stpq - *stx).abs() {
            stpc
        } else {
            stpc + (stpq - stpc) / 2.0
        };
        *brackt = true;
    } else if sgnd < 0.0 {
        // Case 2: lower value, slopes of opposite sign; bracketed. Cubic step if farther from
        // stp than the secant step, else the secant step.
        let theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        let s = theta.abs().max(dx.abs()).max(dp.abs());
        let mut gamma = s * ((theta / s).powi(2) - (*dx / s) * (dp / s)).sqrt();
        if *stp > *stx {
            gamma = -gamma;
        }
        let p = (gamma - dp) + theta;
        let q = ((gamma - dp) + gamma) + *dx;
        let r = p / q;
        let stpc = *stp + r * (*stx - *stp);
        let stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
        stpf = if (stpc - *stp).abs() > (stpq - *stp).abs() {
            stpc
        } else {
            stpq
        };
        *brackt = true;
    } else if dp.abs() < dx.abs() {
        // Case 3: lower value, same-sign slopes, slope magnitude decreasing. The cubic step is
        // used only if the cubic tends to infinity along the step or its minimum lies beyond stp.
        let theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        let s = theta.abs().max(dx.abs()).max(dp.abs());
        let mut gamma = s * ((theta / s).powi(2) - (*dx / s) * (dp / s)).max(0.0).sqrt();
        if *stp > *stx {
            gamma = -gamma;
        }
        let p = (gamma - dp) + theta;
        let q = (gamma + (*dx - dp)) + gamma;
        let r = p / q;
        let stpc = if r < 0.0 && gamma != 0.0 {
            *stp + r * (*stx - *stp)
        } else if *stp > *stx {
            stpmax
        } else {
            stpmin
        };
        let stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
        if *brackt {
            // Bracketed: the step closer to stp, kept within 0.66 of the way to sty.
            let closer = if (stpc - *stp).abs() < (stpq - *stp).abs() {
                stpc
            } else {
                stpq
            };
            stpf = if *stp > *stx {
                (*stp + 0.66 * (*sty - *stp)).min(closer)
            } else {
                (*stp + 0.66 * (*sty - *stp)).max(closer)
            };
        } else {
            // Not bracketed: the step farther from stp, within [stpmin, stpmax].
            let farther = if (stpc - *stp).abs() > (stpq - *stp).abs() {
                stpc
            } else {
                stpq
            };
            stpf = stpmax.min(farther).max(stpmin);
        }
    } else {
        // Case 4: lower value, same-sign slopes, slope magnitude not decreasing. Bracketed: the
        // cubic step from the sty side; otherwise the bound in the step's direction.
        stpf = if *brackt {
            let theta = 3.0 * (fp - *fy) / (*sty - *stp) + *dy + dp;
            let s = theta.abs().max(dy.abs()).max(dp.abs());
            let mut gamma = s * ((theta / s).powi(2) - (*dy / s) * (dp / s)).sqrt();
            if *stp > *sty {
                gamma = -gamma;
            }
            let p = (gamma - dp) + theta;
            let q = ((gamma - dp) + gamma) + *dy;
            let r = p / q;
            *stp + r * (*sty - *stp)
        } else if *stp > *stx {
            stpmax
        } else {
            stpmin
        };
    }

    // Update the interval that contains a minimiser.
    if fp > *fx {
        *sty = *stp;
        *fy = fp;
        *dy = dp;
    } else {
        if sgnd < 0.0 {
            *sty = *stx;
            *fy = *fx;
            *dy = *dx;
        }
        *stx = *stp;
        *fx = fp;
        *dx = dp;
    }
    *stp = stpf;
}

/// `Σ a_i·b_i`, left to right.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `max_i |v_i|` (0 for an empty vector).
fn inf_norm(v: &[f64]) -> f64 {
    v.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rosenbrock: f = Σ 100(x_{i+1} − x_i²)² + (1 − x_i)², minimum 0 at (1, …, 1).
    fn rosenbrock(x: &[f64], g: &mut [f64]) -> Result<f64> {
        let n = x.len();
        g.fill(0.0);
        let mut f = 0.0;
        for i in 0..n - 1 {
            let a = x[i + 1] - x[i] * x[i];
            let b = 1.0 - x[i];
            f += 100.0 * a * a + b * b;
            g[i] += -400.0 * a * x[i] - 2.0 * b;
            g[i + 1] += 200.0 * a;
        }
        Ok(f)
    }

    #[test]
    fn minimises_rosenbrock() {
        let opts = LbfgsOptions {
            gtol: 1e-10,
            ftol: 0.0,
            ..LbfgsOptions::default()
        };
        let r = minimize(rosenbrock, &[-1.2, 1.0, -1.2, 1.0], &opts).unwrap();
        assert!(r.converged(), "{:?}", r.termination);
        for v in &r.x {
            assert!((v - 1.0).abs() < 1e-8, "{:?}", r.x);
        }
    }

    #[test]
    fn quadratic_first_step_is_exact_along_the_gradient() {
        // f = ½‖x‖² from x₀ = (3, 4): g = x₀, d = −g, ‖d‖ = 5, first trial step 1/5:
        // x₁ = x₀ − g/5 = (2.4, 3.2), f = 8 ≤ 12.5 − 1e-3·0.2·25 and |g₁ᵀd| = 20 ≤ 0.9·25, so
        // the search accepts it. Then s = y = (−0.6, −0.8), θ = yᵀy/sᵀy = 1, H = I, and the
        // second direction −H·g₁ = −x₁ reaches the minimum with stp = 1.
        let f = |x: &[f64], g: &mut [f64]| {
            g.copy_from_slice(x);
            Ok(0.5 * dot(x, x))
        };
        let r = minimize(f, &[3.0, 4.0], &LbfgsOptions::default()).unwrap();
        assert_eq!(r.termination, Termination::GradientTolerance);
        assert!(r.x.iter().all(|v| v.abs() < 1e-12), "{:?}", r.x);
        assert_eq!(r.n_iter, 2);
    }

    #[test]
    fn the_observer_sees_each_iteration_and_changes_nothing() {
        let opts = LbfgsOptions {
            gtol: 1e-10,
            ftol: 0.0,
            ..LbfgsOptions::default()
        };
        let x0 = [-1.2, 1.0, -1.2, 1.0];
        let plain = minimize(rosenbrock, &x0, &opts).unwrap();
        let mut seen = Vec::new();
        let watched = minimize_observed(rosenbrock, &x0, &opts, |k| seen.push(k)).unwrap();
        assert_eq!(seen, (1..=plain.n_iter).collect::<Vec<_>>());
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&watched.x), bits(&plain.x));
        assert_eq!(watched.f.to_bits(), plain.f.to_bits());
        assert_eq!(
            (watched.n_iter, watched.n_eval, watched.termination),
            (plain.n_iter, plain.n_eval, plain.termination)
        );
    }

    #[test]
    fn iteration_cap_is_checked_before_convergence() {
        // The quadratic above converges at iteration 2; max_iter = 2 reports the cap, as
        // scipy's driver does.
        let f = |x: &[f64], g: &mut [f64]| {
            g.copy_from_slice(x);
            Ok(0.5 * dot(x, x))
        };
        let opts = LbfgsOptions {
            max_iter: 2,
            ..LbfgsOptions::default()
        };
        let r = minimize(f, &[3.0, 4.0], &opts).unwrap();
        assert_eq!(r.termination, Termination::MaxIterations);
        assert!(!r.converged());
        assert_eq!(r.n_iter, 2);
    }

    #[test]
    fn non_finite_objective_is_reported_not_an_error() {
        // NaN at x₀: nothing to do.
        let f = |_: &[f64], g: &mut [f64]| {
            g.fill(1.0);
            Ok(f64::NAN)
        };
        let r = minimize(f, &[1.0], &LbfgsOptions::default()).unwrap();
        assert_eq!(r.termination, Termination::NonFiniteObjective);
        assert!(!r.converged());
        assert_eq!((r.x, r.n_iter, r.n_eval), (vec![1.0], 0, 1));
        // Finite at x₀ = 0 only: the first line search meets infinities, x₀ is kept.
        let f = |x: &[f64], g: &mut [f64]| {
            if x[0] == 0.0 {
                g[0] = -1.0;
                Ok(0.0)
            } else {
                g[0] = f64::INFINITY;
                Ok(f64::INFINITY)
            }
        };
        let r = minimize(f, &[0.0], &LbfgsOptions::default()).unwrap();
        assert_eq!(r.termination, Termination::NonFiniteObjective);
        assert_eq!((r.x, r.f, r.n_iter, r.n_eval), (vec![0.0], 0.0, 0, 2));
        let bad = LbfgsOptions {
            history: 0,
            ..LbfgsOptions::default()
        };
        assert!(minimize(rosenbrock, &[0.0, 0.0], &bad).is_err());
    }

    #[test]
    fn a_gradient_too_large_for_a_step_fails_the_line_search() {
        // f = 1e300·x: ‖d‖² overflows, so the first step 1/‖d‖ is 0 (scipy's Cauchy point is
        // NaN there): the search cannot start, and x₀ stays after 0 iterations.
        let f = |x: &[f64], g: &mut [f64]| {
            g.fill(1e300);
            Ok(1e300 * x.iter().sum::<f64>())
        };
        let r = minimize(f, &[0.0, 0.0], &LbfgsOptions::default()).unwrap();
        assert_eq!(r.termination, Termination::LineSearchFailure);
        assert!(!r.converged());
        assert_eq!((r.x, r.n_iter, r.n_eval), (vec![0.0, 0.0], 0, 1));
    }

    #[test]
    fn dcsrch_finds_a_wolfe_step_on_a_cubic() {
        // φ(a) = (a − 2)² − 4 along a line: φ(0) = 0, φ'(0) = −4; the Wolfe conditions with
        // ftol 1e-3, gtol 0.9 hold for |2(a − 2)| ≤ 3.6, i.e. a ∈ [0.2, 3.8].
        let phi = |a: f64| ((a - 2.0) * (a - 2.0) - 4.0, 2.0 * (a - 2.0));
        let mut stp = 10.0;
        let mut s = Dcsrch::start(0.0, -4.0, stp, 0.0, STPMAX);
        let mut task = LineTask::Evaluate;
        let mut evals = 0;
        while task == LineTask::Evaluate && evals < 20 {
            let (f, g) = phi(stp);
            evals += 1;
            task = s.step(f, g, &mut stp);
        }
        assert_eq!(task, LineTask::Converged);
        assert!((0.2..=3.8).contains(&stp), "{stp}");
    }
}
