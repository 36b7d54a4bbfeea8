//! Slice primitives on `wide` lanes shared by the CPU kernels: accumulation, sum and maximum.
//! Their order of operations depends only on the length, never on threads.

use crate::backend::{Element, Lanes};

/// `dst[i] += src[i]` on lanes, then the scalar tail.
#[inline(always)]
pub(crate) fn add_into<T: Element>(dst: &mut [T], src: &[T]) {
    let w = T::Lanes::WIDTH;
    let n = dst.len();
    let body = n / w * w;
    for i in (0..body).step_by(w) {
        (T::Lanes::load(&dst[i..]) + T::Lanes::load(&src[i..])).store(&mut dst[i..]);
    }
    for i in body..n {
        dst[i] += src[i];
    }
}

/// Sum of a slice: lane-wise partial sums, then the lanes in order, then the tail. The order
/// depends only on the length, never on threads.
pub(crate) fn sum_slice<T: Element>(x: &[T]) -> T {
    let w = T::Lanes::WIDTH;
    let body = x.len() / w * w;
    let mut acc = T::Lanes::splat(T::ZERO);
    for i in (0..body).step_by(w) {
        acc = acc + T::Lanes::load(&x[i..]);
    }
    x[body..].iter().fold(acc.reduce_sum(), |s, &v| s + v)
}

/// Maximum of a non-empty slice (NaN-propagating).
pub(crate) fn max_slice<T: Element>(x: &[T]) -> T {
    x.iter()
        .fold(x[0], |m, &v| if v > m || v.is_nan() { v } else { m })
}
