//! Matrix multiply: the crate's only caller of `matrixmultiply`.
//!
//! Algorithm: `matrixmultiply`'s packed, cache-blocked micro-kernels (runtime-selected AVX/FMA).
//! Parallelism: rayon over fixed blocks of [`ROW_BLOCK`] rows of `C`; each element of `C` is
//! computed by one call with the full `k` loop, so the result is bit-identical for any thread count.

use super::Element;
use rayon::prelude::*;

/// Rows of `C` handed to one rayon task. Larger blocks amortise packing of `B` better; smaller
/// ones balance load on small matrices. 64 keeps a 512² f32 product at 8 tasks.
pub const ROW_BLOCK: usize = 64;

/// Below this many multiply-adds a product runs on the calling thread (task overhead dominates).
pub const PARALLEL_MIN_MACS: usize = 1 << 20;

/// `C = alpha · op(A) · op(B) + beta · C` for row-major, contiguous slices.
///
/// `op(A)` is `m × k`: `A` is stored `m × k`, or `k × m` when `trans_a`. `op(B)` is `k × n`: `B`
/// is stored `k × n`, or `n × k` when `trans_b`. `C` is `m × n`. With `beta == 0` the old content
/// of `C` is ignored (NaNs included).
///
/// # Panics
/// If a slice is shorter than its stated dimensions (an internal invariant: callers check shapes).
#[allow(clippy::too_many_arguments)]
pub fn gemm<T: Element>(
    trans_a: bool,
    trans_b: bool,
    m: usize,
    n: usize,
    k: usize,
    alpha: T,
    a: &[T],
    b: &[T],
    beta: T,
    c: &mut [T],
) {
    assert!(
        a.len() >= m * k && b.len() >= k * n && c.len() >= m * n,
        "gemm: slice too short"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // matrixmultiply treats k == 0 as C = beta·C; make beta == 0 clear NaNs as documented.
        scale_c(beta, &mut c[..m * n]);
        return;
    }
    // Row stride / column stride of the stored operands, seen as op(A) (m × k) and op(B) (k × n).
    let (rsa, csa) = if trans_a {
        (1, m as isize)
    } else {
        (k as isize, 1)
    };
    let (rsb, csb) = if trans_b {
        (1, k as isize)
    } else {
        (n as isize, 1)
    };
    let run = |row0: usize, c_block: &mut [T]| {
        let rows = c_block.len() / n;
        let a_off = if trans_a { row0 } else { row0 * k };
        // SAFETY: `a[a_off..]` holds rows `row0..row0+rows` of op(A) under the strides above,
        // `b` holds op(B) (length checked), and `c_block` is a disjoint `rows × n` block of C.
        unsafe {
            T::gemm_raw(
                rows,
                k,
                n,
                alpha,
                a[a_off..].as_ptr(),
                rsa,
                csa,
                b.as_ptr(),
                rsb,
                csb,
                beta,
                c_block.as_mut_ptr(),
                n as isize,
                1,
            );
        }
    };
    let c = &mut c[..m * n];
    if m * n * k >= PARALLEL_MIN_MACS && m > ROW_BLOCK {
        c.par_chunks_mut(ROW_BLOCK * n)
            .enumerate()
            .for_each(|(i, block)| run(i * ROW_BLOCK, block));
    } else {
        run(0, c);
    }
}

fn scale_c<T: Element>(beta: T, c: &mut [T]) {
    if beta == T::ZERO {
        c.fill(T::ZERO);
    } else {
        c.iter_mut().for_each(|v| *v *= beta);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive triple loop over op(A)·op(B).
    fn reference(
        ta: bool,
        tb: bool,
        m: usize,
        n: usize,
        k: usize,
        a: &[f64],
        b: &[f64],
    ) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0;
                for p in 0..k {
                    let av = if ta { a[p * m + i] } else { a[i * k + p] };
                    let bv = if tb { b[j * k + p] } else { b[p * n + j] };
                    s += av * bv;
                }
                c[i * n + j] = s;
            }
        }
        c
    }

    #[test]
    fn all_transpose_combinations_match_naive_product() {
        // Sizes cross ROW_BLOCK and PARALLEL_MIN_MACS so the parallel path runs too.
        for &(m, n, k) in &[(3, 4, 5), (130, 70, 120), (1, 1, 1), (7, 1, 300)] {
            let a: Vec<f64> = (0..m * k)
                .map(|i| ((i * 37 % 101) as f64 - 50.0) / 17.0)
                .collect();
            let b: Vec<f64> = (0..k * n)
                .map(|i| ((i * 53 % 89) as f64 - 44.0) / 13.0)
                .collect();
            for &(ta, tb) in &[(false, false), (true, false), (false, true), (true, true)] {
                let mut c = vec![f64::NAN; m * n];
                gemm(ta, tb, m, n, k, 1.0, &a, &b, 0.0, &mut c);
                let r = reference(ta, tb, m, n, k, &a, &b);
                for (x, y) in c.iter().zip(&r) {
                    assert!(
                        (x - y).abs() <= 1e-12 * (1.0 + y.abs()),
                        "{m}x{n}x{k} {ta} {tb}"
                    );
                }
            }
        }
    }

    #[test]
    fn beta_accumulates_and_k_zero_clears() {
        let a = [1.0f32, 2.0];
        let b = [3.0f32, 4.0];
        let mut c = [10.0f32];
        gemm(false, false, 1, 1, 2, 2.0, &a, &b, 1.0, &mut c);
        assert_eq!(c[0], 10.0 + 2.0 * 11.0);
        let mut c = [f32::NAN; 4];
        gemm(false, false, 2, 2, 0, 1.0, &[], &[], 0.0, &mut c);
        assert_eq!(c, [0.0; 4]);
    }
}
