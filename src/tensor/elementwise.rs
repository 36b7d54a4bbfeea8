//! Elementwise kernels: binary ops with broadcasting, unary maps, scalar ops — on `wide` lanes.

use super::{Element, Lanes, Tensor, PAR_CHUNK};
use crate::error::{Error, Result};
use rayon::prelude::*;

/// A binary elementwise operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b`
    Div,
}

/// A unary elementwise operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    /// `max(x, 0)`
    Relu,
    /// `e^x`
    Exp,
    /// `ln x`
    Ln,
    /// `√x`
    Sqrt,
    /// `-x`
    Neg,
}

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
    }
}

/// How a right operand broadcasts onto a left one: runs of merged axes, each either kept
/// (`true`: the operand has the full length) or broadcast (`false`: the operand has length 1).
/// Size-1 axes are dropped, adjacent runs of the same kind merged.
pub(crate) fn broadcast_groups(
    op: &'static str,
    lhs: &[usize],
    rhs: &[usize],
) -> Result<Vec<(usize, bool)>> {
    if rhs.len() > lhs.len() {
        return Err(Error::shape(
            op,
            "right operand broadcastable to the left",
            &[lhs, rhs],
        ));
    }
    let pad = lhs.len() - rhs.len();
    let mut groups: Vec<(usize, bool)> = Vec::new();
    for (i, &l) in lhs.iter().enumerate() {
        let r = if i < pad { 1 } else { rhs[i - pad] };
        if l == 1 && r == 1 {
            continue;
        }
        let kept = match (l == r, r == 1) {
            (true, _) => true,
            (false, true) => false,
            (false, false) => {
                return Err(Error::shape(
                    op,
                    "right operand broadcastable to the left",
                    &[lhs, rhs],
                ))
            }
        };
        match groups.last_mut() {
            Some((len, k)) if *k == kept => *len *= l,
            _ => groups.push((l, kept)),
        }
    }
    Ok(groups)
}

/// Elements of the operand covered by `groups` (the product of kept runs).
fn kept_len(groups: &[(usize, bool)]) -> usize {
    groups.iter().filter(|g| g.1).map(|g| g.0).product()
}

/// Elements of the full operand covered by `groups`.
fn full_len(groups: &[(usize, bool)]) -> usize {
    groups.iter().map(|g| g.0).product()
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
            let (il, ir) = (full_len(rest), kept_len(rest));
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
        [] | [(_, true)] => binary_inplace_add(acc, g),
        [(_, false)] => acc[0] += super::reduce::sum_slice(g),
        [(len, kept), rest @ ..] => {
            let (il, ir) = (full_len(rest), kept_len(rest));
            for i in 0..*len {
                let ao = if *kept { i * ir } else { 0 };
                reduce_rec(rest, &g[i * il..(i + 1) * il], &mut acc[ao..ao + ir]);
            }
        }
    }
}

/// `acc[i] += g[i]` on lanes.
pub(crate) fn binary_inplace_add<T: Element>(acc: &mut [T], g: &[T]) {
    let w = T::Lanes::WIDTH;
    let body = acc.len() / w * w;
    for i in (0..body).step_by(w) {
        (T::Lanes::load(&acc[i..]) + T::Lanes::load(&g[i..])).store(&mut acc[i..]);
    }
    for i in body..acc.len() {
        acc[i] += g[i];
    }
}

impl<T: Element> Tensor<T> {
    /// `self op rhs`, where `rhs` broadcasts onto `self`'s shape (NumPy rules, right-aligned;
    /// e.g. `[n, d] + [d]` adds a row to every row, `[n, d] * [n, 1]` scales each row).
    pub fn binary(&self, rhs: &Tensor<T>, op: BinaryOp) -> Result<Tensor<T>> {
        let name = match op {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
        };
        let groups = broadcast_groups(name, self.shape(), rhs.shape())?;
        #[cfg(feature = "gpu")]
        if super::on_gpu(&[self, rhs]) {
            return crate::gpu::ops::binary(self, rhs, crate::gpu::ops::Combine::Op(op));
        }
        let mut out = vec![T::ZERO; self.len()];
        let (a, b) = (self.data(), rhs.data());
        if groups.iter().all(|g| g.1) {
            out.par_chunks_mut(PAR_CHUNK)
                .zip(a.par_chunks(PAR_CHUNK).zip(b.par_chunks(PAR_CHUNK)))
                .for_each(|(o, (x, y))| binary_slices(op, x, y, o));
        } else if let [(outer, kept), rest @ ..] = groups.as_slice() {
            // Parallel over the outermost run; each task handles whole inner blocks.
            let (il, ir) = (full_len(rest), kept_len(rest));
            if rest.is_empty() {
                broadcast_rec(op, &groups, a, b, &mut out);
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
        Tensor::from_vec(out, self.shape())
    }

    /// `self + rhs` with broadcasting (see [`Tensor::binary`]).
    pub fn add(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        self.binary(rhs, BinaryOp::Add)
    }

    /// `self - rhs` with broadcasting.
    pub fn sub(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        self.binary(rhs, BinaryOp::Sub)
    }

    /// `self * rhs` (elementwise) with broadcasting.
    pub fn mul(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        self.binary(rhs, BinaryOp::Mul)
    }

    /// `self / rhs` (elementwise) with broadcasting.
    pub fn div(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        self.binary(rhs, BinaryOp::Div)
    }

    /// Sums `self` (shaped like a broadcast result) down to `shape`, the adjoint of broadcasting
    /// a `shape`-tensor onto `self.shape()`.
    pub fn sum_to_shape(&self, shape: &[usize]) -> Result<Tensor<T>> {
        let groups = broadcast_groups("sum_to_shape", self.shape(), shape)?;
        #[cfg(feature = "gpu")]
        if super::on_gpu(&[self]) {
            // Sum each broadcast axis (right-aligned) in turn, then drop the leading ones.
            let lead = self.ndim() - shape.len();
            let mut acc = self.clone();
            for axis in 0..self.ndim() {
                if axis < lead || (shape[axis - lead] == 1 && self.shape()[axis] != 1) {
                    acc = acc.sum_axis(axis)?;
                }
            }
            return acc.reshape(shape);
        }
        let mut acc = vec![T::ZERO; shape.iter().product()];
        reduce_rec(&groups, self.data(), &mut acc);
        Tensor::from_vec(acc, shape)
    }

    /// `op(self, s)` for every element.
    pub fn scalar_op(&self, s: T, op: BinaryOp) -> Tensor<T> {
        #[cfg(feature = "gpu")]
        if super::on_gpu(&[self]) {
            return super::device_result(crate::gpu::ops::scalar(self, s, op));
        }
        let mut out = vec![T::ZERO; self.len()];
        out.par_chunks_mut(PAR_CHUNK)
            .zip(self.data().par_chunks(PAR_CHUNK))
            .for_each(|(o, x)| binary_scalar(op, x, s, o));
        Tensor::from_vec(out, self.shape()).expect("same shape")
    }

    /// `self + s`.
    pub fn add_scalar(&self, s: T) -> Tensor<T> {
        self.scalar_op(s, BinaryOp::Add)
    }

    /// `self * s`.
    pub fn mul_scalar(&self, s: T) -> Tensor<T> {
        self.scalar_op(s, BinaryOp::Mul)
    }

    /// A unary map applied to every element.
    pub fn map(&self, op: UnaryOp) -> Tensor<T> {
        #[cfg(feature = "gpu")]
        if super::on_gpu(&[self]) {
            return super::device_result(crate::gpu::ops::unary(self, op));
        }
        let mut out = vec![T::ZERO; self.len()];
        out.par_chunks_mut(PAR_CHUNK)
            .zip(self.data().par_chunks(PAR_CHUNK))
            .for_each(|(o, x)| unary_slice(op, x, o));
        Tensor::from_vec(out, self.shape()).expect("same shape")
    }

    /// `max(x, 0)`.
    pub fn relu(&self) -> Tensor<T> {
        self.map(UnaryOp::Relu)
    }

    /// `e^x`.
    pub fn exp(&self) -> Tensor<T> {
        self.map(UnaryOp::Exp)
    }

    /// `ln x`.
    pub fn ln(&self) -> Tensor<T> {
        self.map(UnaryOp::Ln)
    }

    /// `√x`.
    pub fn sqrt(&self) -> Tensor<T> {
        self.map(UnaryOp::Sqrt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
        Tensor::from_vec(data.to_vec(), shape).unwrap()
    }

    #[test]
    fn row_column_and_middle_broadcasts() {
        let a = t(&[1., 2., 3., 4., 5., 6.], &[2, 3]);
        assert_eq!(
            a.add(&t(&[10., 20., 30.], &[3])).unwrap().data(),
            &[11., 22., 33., 14., 25., 36.]
        );
        assert_eq!(
            a.mul(&t(&[2., 3.], &[2, 1])).unwrap().data(),
            &[2., 4., 6., 12., 15., 18.]
        );
        // [2, 2, 2] + [2, 1]: broadcast over the last axis, kept in the middle.
        let b = t(&[0., 1., 2., 3., 4., 5., 6., 7.], &[2, 2, 2]);
        let r = b.add(&t(&[100., 200.], &[2, 1])).unwrap();
        assert_eq!(r.data(), &[100., 101., 202., 203., 104., 105., 206., 207.]);
        // The adjoint sums back.
        assert_eq!(
            b.sum_to_shape(&[2, 1]).unwrap().data(),
            &[0. + 1. + 4. + 5., 2. + 3. + 6. + 7.]
        );
        assert_eq!(a.sum_to_shape(&[3]).unwrap().data(), &[5., 7., 9.]);
    }

    #[test]
    fn incompatible_broadcast_names_op_and_shapes() {
        let a = t(&[1., 2., 3., 4., 5., 6.], &[2, 3]);
        let e = a.sub(&t(&[1., 2.], &[2])).unwrap_err().to_string();
        assert!(
            e.contains("sub") && e.contains("[2, 3]") && e.contains("[2]"),
            "{e}"
        );
    }

    #[test]
    fn long_vectors_use_lanes_and_tail() {
        let n = 2 * PAR_CHUNK + 5;
        let a: Vec<f32> = (0..n).map(|i| i as f32 - 1000.0).collect();
        let x = Tensor::from_vec(a.clone(), &[n]).unwrap();
        let r = x.relu();
        assert!(r.data().iter().zip(&a).all(|(r, a)| *r == a.max(0.0)));
        let s = x.add(&x).unwrap();
        assert!(s.data().iter().zip(&a).all(|(s, a)| *s == 2.0 * a));
    }
}
