//! Optimizer updates on the CPU: one pass over each parameter and its state, element by
//! element in the operation order of PyTorch's single-tensor implementation.
//!
//! Parallelism: element updates are independent, so large tensors are split into fixed chunks
//! of [`OPTIM_CHUNK`] elements for rayon; the result is the same for any thread count.

use crate::backend::op::{AdamStep, SgdStep};
use crate::backend::Element;
use rayon::prelude::*;

/// Elements per rayon task in the update loops. Small enough that a projection head's weight
/// matrix spreads over the cores, large enough that a task outweighs its scheduling; tensors of at
/// most one chunk are updated on the calling thread.
pub(crate) const OPTIM_CHUNK: usize = 1 << 14;

/// `torch.lerp(start, end, weight)` for a scalar weight, in PyTorch's two-branch form.
#[inline(always)]
fn lerp<T: Element>(start: T, end: T, weight: T) -> T {
    if weight.abs() < T::from_f64(0.5) {
        start + weight * (end - start)
    } else {
        end - (end - start) * (T::ONE - weight)
    }
}

/// One Adam/AdamW update of `p` and its moments `m`, `v` from `g` (see [`AdamStep`]).
pub(crate) fn adam_step<T: Element>(
    p: &mut [T],
    m: &mut [T],
    v: &mut [T],
    g: &[T],
    c: &AdamStep<T>,
) {
    update3(p, m, v, g, |p, m, v, g| {
        if c.decoupled {
            *p *= c.shrink;
        }
        let g = if c.l2 { g + c.l2_wd * *p } else { g };
        *m = lerp(*m, g, c.one_minus_beta1);
        *v = *v * c.beta2 + c.one_minus_beta2 * g * g;
        let denom = v.sqrt() / c.bc2_sqrt + c.eps;
        *p += c.neg_step_size * *m / denom;
    });
}

/// One SGD update of `p` (and its momentum buffer) from `g` (see [`SgdStep`]).
pub(crate) fn sgd_step<T: Element>(
    p: &mut [T],
    momentum: Option<&mut [T]>,
    g: &[T],
    c: &SgdStep<T>,
) {
    // grad.add(param, alpha=wd)
    let decayed = move |p: T, g: T| match c.weight_decay {
        Some(wd) => g + wd * p,
        None => g,
    };
    let Some(buf) = momentum else {
        update1(p, g, |p, g| {
            let g = decayed(*p, g);
            *p += c.neg_lr * g;
        });
        return;
    };
    update2(p, buf, g, |p, b, g| {
        let g = decayed(*p, g);
        *b = if c.first {
            g // torch.clone(grad)
        } else {
            *b * c.momentum + c.one_minus_dampening * g // buf.mul_(m).add_(g, alpha=1-d)
        };
        let d = if c.nesterov { g + c.momentum * *b } else { *b };
        *p += c.neg_lr * d; // param.add_(d, alpha=-lr)
    });
}

/// `p ← m·p + one_minus_m·s` for every element: two products, then their sum, as PyTorch's
/// `m * p + (1 - m) * s` computes it (three kernels, no fused multiply-add), so an `f64`
/// momentum update is bit-identical to nidl's.
pub(crate) fn ema_update<T: Element>(p: &mut [T], s: &[T], m: T, one_minus_m: T) {
    update1(p, s, |p, s| *p = m * *p + one_minus_m * s);
}

/// `f(p, g)` for every element, in [`OPTIM_CHUNK`]-sized rayon tasks when large.
fn update1<T: Element>(p: &mut [T], g: &[T], f: impl Fn(&mut T, T) + Sync) {
    let run = |p: &mut [T], g: &[T]| {
        for (p, &g) in p.iter_mut().zip(g) {
            f(p, g);
        }
    };
    if p.len() <= OPTIM_CHUNK {
        run(p, g);
    } else {
        p.par_chunks_mut(OPTIM_CHUNK)
            .zip(g.par_chunks(OPTIM_CHUNK))
            .for_each(|(p, g)| run(p, g));
    }
}

/// `f(p, s, g)` for every element (one state buffer `s`), chunked as [`update1`].
fn update2<T: Element>(p: &mut [T], s: &mut [T], g: &[T], f: impl Fn(&mut T, &mut T, T) + Sync) {
    let run = |p: &mut [T], s: &mut [T], g: &[T]| {
        for ((p, s), &g) in p.iter_mut().zip(s.iter_mut()).zip(g) {
            f(p, s, g);
        }
    };
    if p.len() <= OPTIM_CHUNK {
        run(p, s, g);
    } else {
        p.par_chunks_mut(OPTIM_CHUNK)
            .zip(s.par_chunks_mut(OPTIM_CHUNK))
            .zip(g.par_chunks(OPTIM_CHUNK))
            .for_each(|((p, s), g)| run(p, s, g));
    }
}

/// `f(p, s1, s2, g)` for every element (two state buffers), chunked as [`update1`].
fn update3<T: Element>(
    p: &mut [T],
    s1: &mut [T],
    s2: &mut [T],
    g: &[T],
    f: impl Fn(&mut T, &mut T, &mut T, T) + Sync,
) {
    let run = |p: &mut [T], s1: &mut [T], s2: &mut [T], g: &[T]| {
        for (((p, s1), s2), &g) in p.iter_mut().zip(s1.iter_mut()).zip(s2.iter_mut()).zip(g) {
            f(p, s1, s2, g);
        }
    };
    if p.len() <= OPTIM_CHUNK {
        run(p, s1, s2, g);
    } else {
        p.par_chunks_mut(OPTIM_CHUNK)
            .zip(s1.par_chunks_mut(OPTIM_CHUNK))
            .zip(s2.par_chunks_mut(OPTIM_CHUNK))
            .zip(g.par_chunks(OPTIM_CHUNK))
            .for_each(|(((p, s1), s2), g)| run(p, s1, s2, g));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_updates_match_the_serial_loop() {
        // Three chunks and a ragged tail: the rayon path must give the per-element result.
        let n = 2 * OPTIM_CHUNK + 123;
        let g: Vec<f64> = (0..n)
            .map(|i| ((i * 7919) % 1000) as f64 / 1000.0 - 0.5)
            .collect();
        let mut p = vec![1.0; n];
        let mut s1 = vec![0.5; n];
        let mut s2 = vec![0.25; n];
        update3(&mut p, &mut s1, &mut s2, &g, |p, a, b, g| {
            *a += g;
            *b *= g;
            *p -= *a * *b;
        });
        for i in [0, OPTIM_CHUNK - 1, OPTIM_CHUNK, n - 1] {
            let a = 0.5 + g[i];
            let b = 0.25 * g[i];
            assert_eq!((s1[i], s2[i], p[i]), (a, b, 1.0 - a * b));
        }
        let mut q = vec![2.0; n];
        let mut s = vec![0.0; n];
        update2(&mut q, &mut s, &g, |p, s, g| {
            *s = g;
            *p += g;
        });
        assert!(q.iter().zip(&g).all(|(q, g)| *q == 2.0 + g));
        assert_eq!(s, g);
        update1(&mut q, &g, |p, g| *p -= g);
        assert!(q.iter().all(|&q| q == 2.0 || (q - 2.0).abs() < 1e-15));
    }

    #[test]
    fn lerp_uses_both_torch_branches() {
        // Small weight: start + w·(end − start); large weight: end − (end − start)·(1 − w).
        let small = lerp(1.0f64, 3.0, 0.25);
        assert_eq!(small, 1.0 + 0.25 * 2.0);
        let large = lerp(1.0f64, 3.0, 0.75);
        assert_eq!(large, 3.0 - 2.0 * 0.25);
    }
}
