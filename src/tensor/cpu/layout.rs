//! Data movement on the CPU: transpose, concatenation, slices, row gathers, and the matrix
//! product through [`gemm`](super::gemm::gemm).

use super::gemm::gemm;
use crate::backend::op::{AxisSplit, GemmDims};
use crate::backend::Element;

/// Transpose of `x` `[r, c]`. Blocked so both the reads and the writes stay within a few cache
/// lines per tile.
pub(crate) fn transpose<T: Element>(x: &[T], r: usize, c: usize) -> Vec<T> {
    const TILE: usize = 32;
    let mut out = vec![T::ZERO; r * c];
    for i0 in (0..r).step_by(TILE) {
        for j0 in (0..c).step_by(TILE) {
            for i in i0..(i0 + TILE).min(r) {
                for j in j0..(j0 + TILE).min(c) {
                    out[j * r + i] = x[i * c + j];
                }
            }
        }
    }
    out
}

/// `parts`, each `[outer, lens[i], inner]`, joined along the middle axis.
pub(crate) fn concat<T: Element>(
    parts: &[&[T]],
    outer: usize,
    lens: &[usize],
    inner: usize,
) -> Vec<T> {
    let mut data = Vec::with_capacity(outer * lens.iter().sum::<usize>() * inner);
    for o in 0..outer {
        for (p, &len) in parts.iter().zip(lens) {
            let run = len * inner;
            data.extend_from_slice(&p[o * run..(o + 1) * run]);
        }
    }
    data
}

/// Indices `start..end` of the middle axis of `x` seen as `split`.
pub(crate) fn slice<T: Element>(x: &[T], split: AxisSplit, start: usize, end: usize) -> Vec<T> {
    let AxisSplit { outer, len, inner } = split;
    let mut data = Vec::with_capacity(outer * (end - start) * inner);
    for o in 0..outer {
        let base = o * len * inner;
        data.extend_from_slice(&x[base + start * inner..base + end * inner]);
    }
    data
}

/// Rows `indices` of `x` (rows of `inner` elements).
pub(crate) fn gather_rows<T: Element>(x: &[T], indices: &[usize], inner: usize) -> Vec<T> {
    let mut data = Vec::with_capacity(indices.len() * inner);
    for &i in indices {
        data.extend_from_slice(&x[i * inner..(i + 1) * inner]);
    }
    data
}

/// The products `d` describes: `C_z = op(A_z)·op(B_z)` for `z < batch`.
pub(crate) fn matmul<T: Element>(a: &[T], b: &[T], d: GemmDims) -> Vec<T> {
    let GemmDims { m, n, k, .. } = d;
    let mut out = vec![T::ZERO; d.batch * m * n];
    for (z, c) in out.chunks_mut((m * n).max(1)).enumerate().take(d.batch) {
        let (a, b) = (&a[z * d.stride_a..], &b[z * d.stride_b..]);
        // C = 1·op(A)·op(B) + 0·C, op(A) m × k, op(B) k × n.
        gemm(d.trans_a, d.trans_b, m, n, k, T::ONE, a, b, T::ZERO, c);
    }
    out
}
