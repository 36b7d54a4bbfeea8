//! Cholesky factorisation `A = L·Lᵀ` of a symmetric positive-definite matrix, and solves.
//!
//! Algorithm: the row-oriented Cholesky–Crout recurrence on the lower triangle,
//! `L_jj = sqrt(A_jj − Σ_{p<j} L_jp²)`, `L_ij = (A_ij − Σ_{p<j} L_ip·L_jp) / L_jj` for `i > j`,
//! each inner sum a contiguous dot product of two rows of `L`. The probes factor matrices of
//! the embedding width (32–512), where this O(n³/3) loop costs far less than forming `XᵀX`, so
//! no blocking is needed. As LAPACK's `potrf` does, a pivot that is not strictly positive (or
//! not finite) stops the factorisation with an error: the matrix is not positive definite.

use crate::error::{Error, Result};

/// The lower-triangular Cholesky factor `L` of an `n × n` symmetric positive-definite matrix.
#[derive(Clone, Debug)]
pub struct Cholesky {
    n: usize,
    /// Row-major `n × n`; only the lower triangle (diagonal included) is meaningful.
    l: Vec<f64>,
}

impl Cholesky {
    /// Factors the row-major `n × n` matrix `a` (only its lower triangle is read).
    ///
    /// Errors: [`Error::Shape`] if `a.len() != n·n`; [`Error::InvalidArgument`] naming the pivot
    /// if the matrix is not positive definite (a pivot `≤ 0`, NaN or infinite).
    pub fn factor(a: &[f64], n: usize) -> Result<Cholesky> {
        if a.len() != n * n {
            return Err(Error::shape(
                "Cholesky::factor",
                format!("{n}×{n} = {} elements", n * n),
                &[&[a.len()]],
            ));
        }
        let mut l = vec![0.0; n * n];
        for j in 0..n {
            // Rows 0..j of L are final; row j's off-diagonal part was filled by earlier columns.
            let row_j = &l[j * n..j * n + j];
            let diag = a[j * n + j] - row_j.iter().map(|v| v * v).sum::<f64>();
            if !(diag.is_finite() && diag > 0.0) {
                return Err(Error::invalid(
                    "Cholesky::factor",
                    format!("the {n}×{n} matrix is not positive definite (pivot {j} is {diag:e})"),
                ));
            }
            let ljj = diag.sqrt();
            l[j * n + j] = ljj;
            for i in j + 1..n {
                let (upper, lower) = l.split_at_mut(i * n);
                let row_j = &upper[j * n..j * n + j];
                let row_i = &mut lower[..n];
                let dot: f64 = row_i[..j].iter().zip(row_j).map(|(x, y)| x * y).sum();
                row_i[j] = (a[i * n + j] - dot) / ljj;
            }
        }
        Ok(Cholesky { n, l })
    }

    /// The order `n` of the factored matrix.
    pub fn order(&self) -> usize {
        self.n
    }

    /// The factor `L`, row-major `n × n` with zeros above the diagonal.
    pub fn lower(&self) -> &[f64] {
        &self.l
    }

    /// Solves `A·X = B` in place for a row-major `n × nrhs` right-hand side `b`:
    /// forward substitution with `L`, then back substitution with `Lᵀ`.
    ///
    /// Errors: [`Error::Shape`] if `b.len() != n·nrhs`.
    pub fn solve_in_place(&self, b: &mut [f64], nrhs: usize) -> Result<()> {
        let n = self.n;
        if b.len() != n * nrhs {
            return Err(Error::shape(
                "Cholesky::solve_in_place",
                format!("{n}×{nrhs} right-hand side"),
                &[&[n, n], &[b.len()]],
            ));
        }
        let l = &self.l;
        // L·Z = B, row by row: z_i = (b_i − Σ_{p<i} L_ip z_p) / L_ii.
        for i in 0..n {
            for p in 0..i {
                let lip = l[i * n + p];
                if lip != 0.0 {
                    let (zp, zi) = split_rows(b, nrhs, p, i);
                    zi.iter_mut()
                        .zip(zp.iter())
                        .for_each(|(v, &w)| *v -= lip * w);
                }
            }
            let lii = l[i * n + i];
            b[i * nrhs..(i + 1) * nrhs]
                .iter_mut()
                .for_each(|v| *v /= lii);
        }
        // Lᵀ·X = Z, bottom up: x_i = (z_i − Σ_{p>i} L_pi x_p) / L_ii.
        for i in (0..n).rev() {
            for p in i + 1..n {
                let lpi = l[p * n + i];
                if lpi != 0.0 {
                    let (xi, xp) = split_rows(b, nrhs, i, p);
                    xi.iter_mut()
                        .zip(xp.iter())
                        .for_each(|(v, &w)| *v -= lpi * w);
                }
            }
            let lii = l[i * n + i];
            b[i * nrhs..(i + 1) * nrhs]
                .iter_mut()
                .for_each(|v| *v /= lii);
        }
        Ok(())
    }
}

/// Rows `lo` and `hi` (`lo < hi`) of a row-major matrix with `cols` columns, both mutable.
fn split_rows(b: &mut [f64], cols: usize, lo: usize, hi: usize) -> (&mut [f64], &mut [f64]) {
    let (a, c) = b.split_at_mut(hi * cols);
    (&mut a[lo * cols..(lo + 1) * cols], &mut c[..cols])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factors_and_solves_a_hand_worked_system() {
        // A = [[4, 2], [2, 3]] = L·Lᵀ with L = [[2, 0], [1, √2]].
        // A·x = [2, 1] has x = A⁻¹·b = (1/8)·[[3, −2], [−2, 4]]·[2, 1] = [0.5, 0].
        let a = [4.0, 2.0, 2.0, 3.0];
        let c = Cholesky::factor(&a, 2).unwrap();
        let l = c.lower();
        assert_eq!(l[0], 2.0);
        assert_eq!(l[2], 1.0);
        assert!((l[3] - 2f64.sqrt()).abs() < 1e-15);
        let mut b = [2.0, 1.0];
        c.solve_in_place(&mut b, 1).unwrap();
        assert!((b[0] - 0.5).abs() < 1e-15 && b[1].abs() < 1e-15, "{b:?}");
    }

    #[test]
    fn several_right_hand_sides_match_the_product() {
        let n = 6;
        // A = MᵀM + I is positive definite.
        let m: Vec<f64> = (0..n * n)
            .map(|i| ((i * 7 % 11) as f64 - 5.0) / 3.0)
            .collect();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|p| m[p * n + i] * m[p * n + j]).sum::<f64>()
                    + if i == j { 1.0 } else { 0.0 };
            }
        }
        let x: Vec<f64> = (0..n * 3).map(|i| (i as f64).sin()).collect();
        let mut b = vec![0.0; n * 3];
        for i in 0..n {
            for r in 0..3 {
                b[i * 3 + r] = (0..n).map(|p| a[i * n + p] * x[p * 3 + r]).sum();
            }
        }
        let c = Cholesky::factor(&a, n).unwrap();
        c.solve_in_place(&mut b, 3).unwrap();
        for (u, v) in b.iter().zip(&x) {
            assert!((u - v).abs() < 1e-12, "{u} vs {v}");
        }
    }

    #[test]
    fn rejects_indefinite_singular_and_nan_matrices() {
        // [[1, 2], [2, 1]] has eigenvalues 3 and −1: pivot 1 is 1 − 4 = −3.
        let e = Cholesky::factor(&[1.0, 2.0, 2.0, 1.0], 2).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { .. }), "{e}");
        assert!(e.to_string().contains("not positive definite"), "{e}");
        // Singular: pivot 1 is exactly 0.
        assert!(Cholesky::factor(&[1.0, 1.0, 1.0, 1.0], 2).is_err());
        assert!(Cholesky::factor(&[f64::NAN], 1).is_err());
        assert!(matches!(
            Cholesky::factor(&[1.0, 2.0], 2),
            Err(Error::Shape { .. })
        ));
    }
}
