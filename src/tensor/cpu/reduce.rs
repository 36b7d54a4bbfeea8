//! Reductions on the CPU, along an axis and over all elements, on `wide` lanes, in a fixed
//! order: chunks of fixed size, so the result never depends on the thread count.

use super::lanes::{add_into, max_slice, sum_slice};
use super::PAR_CHUNK;
use crate::backend::op::AxisSplit;
use crate::backend::Element;
use rayon::prelude::*;

/// Which reduction an axis kernel computes.
#[derive(Clone, Copy)]
pub(crate) enum Reduce {
    /// Sum.
    Sum,
    /// Maximum (NaN wins).
    Max,
}

/// The reduction `how` of `x` seen as `split` over its middle axis (non-empty), `[outer, inner]`
/// out.
pub(crate) fn reduce_axis<T: Element>(x: &[T], split: AxisSplit, how: Reduce) -> Vec<T> {
    let AxisSplit { outer, len, inner } = split;
    let mut out = vec![T::ZERO; outer * inner];
    // One output block of `inner` values per outer index; blocks are independent.
    let per_task = (PAR_CHUNK / (len * inner).max(1)).max(1);
    out.par_chunks_mut(inner * per_task)
        .enumerate()
        .for_each(|(t, block)| {
            for (j, o) in block.chunks_mut(inner).enumerate() {
                let base = (t * per_task + j) * len * inner;
                let src = &x[base..base + len * inner];
                match (how, inner) {
                    (Reduce::Sum, 1) => o[0] = sum_slice(src),
                    (Reduce::Max, 1) => o[0] = max_slice(src),
                    (Reduce::Sum, _) => {
                        for row in src.chunks(inner) {
                            add_into(o, row);
                        }
                    }
                    (Reduce::Max, _) => {
                        o.copy_from_slice(&src[..inner]);
                        for row in src.chunks(inner).skip(1) {
                            for (m, &v) in o.iter_mut().zip(row) {
                                if v > *m || v.is_nan() {
                                    *m = v;
                                }
                            }
                        }
                    }
                }
            }
        });
    out
}

/// Sum of all elements: fixed [`PAR_CHUNK`] partial sums added in chunk order.
pub(crate) fn sum_all<T: Element>(x: &[T]) -> T {
    let partials: Vec<T> = x.par_chunks(PAR_CHUNK).map(sum_slice).collect();
    partials.into_iter().fold(T::ZERO, |a, b| a + b)
}
