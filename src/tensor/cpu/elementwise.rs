//! Elementwise kernels on the CPU: binary ops with broadcasting, unary maps, scalar ops — on
//! `wide` lanes, rayon over fixed chunks of [`PAR_CHUNK`] elements.

use super::lanes::{add_into, sum_slice};
use super::PAR_CHUNK;
use crate::backend::op::{BinaryOp, Broadcast, UnaryOp};
use crate::backend::{Element, Lanes};
use rayon::prelude::*;

/// `out[i] = f(a[i], b[i])` over lanes, then the scalar tail.
#[inline(always)]
fn zip_with<T: Element>(
    a: &[T],
    b: &[T],
    out: &mut [T],
    fl: impl Fn(T::Lanes, T::Lanes) -> T::Lanes,
    fs: impl Fn(T, T) -> T,
) {
    let w = T::Lanes::WIDTH;
    let body = out.len() / w * w;
    for i in (0..body).step_by(w) {
        fl(T::Lanes::load(&a[i..]), T::Lanes::load(&b[i..])).store(&mut out[i..]);
    }
    for i in body..out.len() {
        out[i] = fs(a[i], b[i]);
    }
}

/// `out[i] = f(a[i], s)` over lanes, then the scalar tail.
#[inline(always)]
fn map_scalar<T: Element>(
    a: &[T],
    s: T,
    out: &mut [T],
    fl: impl Fn(T::Lanes, T::Lanes) -> T::Lanes,
    fs: impl Fn(T, T) -> T,
) {
    let w = T::Lanes::WIDTH;
    let sl = T::Lanes::splat(s);
    let body = out.len() / w * w;
    for i in (0..body).step_by(w) {
        fl(T::Lanes::load(&a[i..]), sl).store(&mut out[i..]);
    }
    for i in body..out.len() {
        out[i] = fs(a[i], s);
    }
}

/// Applies `op` to equal-length slices.
pub(crate) fn binary_slices<T: Element>(op: BinaryOp, a: &[T], b: &[T], out: &mut [T]) {
    match op {
        BinaryOp::Add => zip_with(a, b, out, |x, y| x + y, |x, y| x + y),
        BinaryOp::Sub => zip_with(a, b, out, |x, y| x - y, |x, y| x - y),
        BinaryOp::Mul => zip_with(a, b, out, |x, y| x * y, |x, y| x * y),
        BinaryOp::Div => zip_with(a, b, out, |x, y| x / y, |x, y| x / y),
    }
}

/// Applies `op` with the same right operand `s` for every element.
pub(crate) fn binary_scalar<T: Element>(op: BinaryOp, a: &[T], s: T, out: &mut [T]) {
    match op {
        BinaryOp::Add => map_scalar(a, s, out, |x, y| x + y, |x, y| x + y),
        BinaryOp::Sub => map_scalar(a, s, out, |x, y| x - y, |x, y| x - y),
        BinaryOp::Mul => map_scalar(a, s, out, |x, y| x * y, |x, y| x * y),
        BinaryOp::Div => map_scalar(a, s, out, |x, y| x / y, |x, y| x / y),
    }
}

/// Applies a unary op to a slice. Relu and Neg run on lanes; exp, ln and sqrt use the
/// correctly-rounded scalar functions (the f64 reference path must be exact to ~1 ulp).
pub(crate) fn unary_slice<T: Element>(op: UnaryOp, a: &[T], out: &mut [T]) {
    match op {
        UnaryOp::Relu => map_scalar(
            a,
            T::ZERO,
            out,
            |x, z| x.max(z),
            |x, z| if x > z { x } else { z },
        ),
        UnaryOp::Neg => map_scalar(a, T::ZERO, out, |x, z| z - x, |x, _| -x),
        UnaryOp::Exp => out.iter_mut().zip(a).for_each(|(o, &x)| *o = x.exp()),
        UnaryOp::Ln => out.iter_mut().zip(a).for_each(|(o, &x)| *o = x.ln()),
        UnaryOp::Sqrt => out.iter_mut().zip(a).for_each(|(o, &x)| *o = x.sqrt()),
        UnaryOp::Sigmoid => out.iter_mut().zip(a).for_each(|(o, &x)| *o = sigmoid(x)),
        UnaryOp::Gelu => super::gelu::gelu_slice(a, out),
    }
}

fn broadcast_rec<T: Element>(
    op: BinaryOp,
    groups: &[(usize, bool)],
    a: &[T],
    b: &[T],
    out: &mut [T],
) {
    match groups {
        [] => binary_slices(op, a, b, out),
        [(_, true)] => binary_slices(op, a, b, out),
        [(_, false)] => binary_scalar(op, a, b[0], out),
        [(len, kept), rest @ ..] => {
            let (il, ir) = (Broadcast::full_len(rest), Broadcast::kept_len(rest));
            for i in 0..*len {
                let bo = if *kept { i * ir } else { 0 };
                broadcast_rec(
                    op,
                    rest,
                    &a[i * il..(i + 1) * il],
                    &b[bo..bo + ir],
                    &mut out[i * il..(i + 1) * il],
                );
            }
        }
    }
}

/// Accumulates `g` (shaped like the left operand) into `acc` (shaped like the right one) over
/// the broadcast runs: the adjoint of [`broadcast_rec`]'s read of `b`.
fn reduce_rec<T: Element>(groups: &[(usize, bool)], g: &[T], acc: &mut [T]) {
    match groups {
        [] | [(_, true)] => add_into(acc, g),
        [(_, false)] => acc[0] += sum_slice(g),
        [(len, kept), rest @ ..] => {
            let (il, ir) = (Broadcast::full_len(rest), Broadcast::kept_len(rest));
            for i in 0..*len {
                let ao = if *kept { i * ir } else { 0 };
                reduce_rec(rest, &g[i * il..(i + 1) * il], &mut acc[ao..ao + ir]);
            }
        }
    }
}

/// `a op b` with `b` broadcast onto `a` as `bc` says.
pub(crate) fn binary<T: Element>(a: &[T], b: &[T], op: BinaryOp, bc: &Broadcast) -> Vec<T> {
    let mut out = vec![T::ZERO; a.len()];
    let groups = &bc.runs;
    if bc.is_elementwise() {
        out.par_chunks_mut(PAR_CHUNK)
            .zip(a.par_chunks(PAR_CHUNK).zip(b.par_chunks(PAR_CHUNK)))
            .for_each(|(o, (x, y))| binary_slices(op, x, y, o));
    } else if let [(outer, kept), rest @ ..] = groups.as_slice() {
        // Parallel over the outermost run; each task handles whole inner blocks.
        let (il, ir) = (Broadcast::full_len(rest), Broadcast::kept_len(rest));
        if rest.is_empty() {
            broadcast_rec(op, groups, a, b, &mut out);
        } else {
            out.par_chunks_mut(il)
                .enumerate()
                .take(*outer)
                .for_each(|(i, o)| {
                    let bo = if *kept { i * ir } else { 0 };
                    broadcast_rec(op, rest, &a[i * il..(i + 1) * il], &b[bo..bo + ir], o);
                });
        }
    }
    out
}

/// `g` (shaped like the left operand of `bc`) summed down to the right operand's `out_len`
/// elements.
pub(crate) fn sum_to_shape<T: Element>(g: &[T], bc: &Broadcast, out_len: usize) -> Vec<T> {
    let mut acc = vec![T::ZERO; out_len];
    reduce_rec(&bc.runs, g, &mut acc);
    acc
}

/// `a op s` for every element.
pub(crate) fn scalar<T: Element>(a: &[T], s: T, op: BinaryOp) -> Vec<T> {
    let mut out = vec![T::ZERO; a.len()];
    out.par_chunks_mut(PAR_CHUNK)
        .zip(a.par_chunks(PAR_CHUNK))
        .for_each(|(o, x)| binary_scalar(op, x, s, o));
    out
}

/// `op(a)` for every element.
pub(crate) fn unary<T: Element>(a: &[T], op: UnaryOp) -> Vec<T> {
    let mut out = vec![T::ZERO; a.len()];
    out.par_chunks_mut(PAR_CHUNK)
        .zip(a.par_chunks(PAR_CHUNK))
        .for_each(|(o, x)| unary_slice(op, x, o));
    out
}

/// `acc += g` for equal lengths.
pub(crate) fn add_assign<T: Element>(acc: &mut [T], g: &[T]) {
    acc.par_chunks_mut(PAR_CHUNK)
        .zip(g.par_chunks(PAR_CHUNK))
        .for_each(|(a, b)| add_into(a, b));
}

/// The logistic sigmoid in the form that never overflows: `1/(1 + e^(−x))` for `x ≥ 0`,
/// `e^x/(1 + e^x)` below (full relative precision for large negative `x`, where
/// `1/(1 + e^(−x))` would lose it to `1 + e^(−x)` rounding; NaN stays NaN).
fn sigmoid<T: Element>(x: T) -> T {
    if x >= T::ZERO {
        T::ONE / (T::ONE + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::ONE + e)
    }
}
