//! Thin singular value decomposition `A = U·diag(S)·Vᵀ` of a small dense matrix, by one-sided
//! Jacobi rotations.
//!
//! Algorithm (Hestenes' one-sided Jacobi): the columns of `A` (`m × n`, `m ≥ n`; a wide matrix
//! is decomposed through its transpose) are made mutually orthogonal by plane rotations
//! applied on the right, `A ← A·J`, accumulated in `V ← V·J`. Each rotation of the pair of
//! columns `(p, q)` zeroes their inner product `γ = a_pᵀa_q`: with `α = ‖a_p‖²`, `β = ‖a_q‖²`,
//! `ζ = (β − α) / 2γ`, `t = sign(ζ) / (|ζ| + √(1 + ζ²))`, `c = 1/√(1 + t²)`, `s = c·t`.
//! Sweeps over every pair in a fixed order repeat until no pair is further from orthogonal
//! than [`ORTHOGONALITY_TOL`] (relative to the columns' norms); then `σ_j = ‖a_j‖`,
//! `u_j = a_j / σ_j`. One-sided Jacobi computes small singular values to high relative
//! accuracy (no `AᵀA` is formed), costs `O(m·n²)` per sweep and converges quadratically (a
//! handful of sweeps); it is meant for the latent widths of the SSL metrics (tens to a few
//! hundred columns), not for large matrices. Everything runs in a fixed order on one thread,
//! so the result is bit-identical from run to run.
//!
//! Singular values come in decreasing order. The columns of `U` for zero singular values
//! (rank-deficient `A`) are completed to an orthonormal set by Gram–Schmidt on the standard
//! basis, so `U` always has orthonormal columns.

use crate::error::{Error, Result};

/// A pair of columns is taken as orthogonal when `|a_pᵀa_q| ≤ TOL·‖a_p‖·‖a_q‖`: a few units in
/// the last place, as LAPACK's `dgesvj` (smaller values only add sweeps that change nothing).
pub const ORTHOGONALITY_TOL: f64 = 4.0 * f64::EPSILON;

/// Sweeps after which the iteration gives up (quadratic convergence needs about 10 even for a
/// few hundred columns; more means the input is not a finite matrix).
pub const MAX_SWEEPS: usize = 80;

/// The thin SVD of an `m × n` matrix: `k = min(m, n)` singular triplets.
#[derive(Clone, Debug)]
pub struct Svd {
    /// Rows of the decomposed matrix.
    pub m: usize,
    /// Columns of the decomposed matrix.
    pub n: usize,
    /// `m × k` row-major, orthonormal columns (the left singular vectors).
    pub u: Vec<f64>,
    /// The `k` singular values, decreasing, non-negative.
    pub s: Vec<f64>,
    /// `k × n` row-major, orthonormal rows (the right singular vectors, transposed).
    pub vt: Vec<f64>,
}

impl Svd {
    /// The number of singular values, `min(m, n)`.
    pub fn k(&self) -> usize {
        self.s.len()
    }

    /// `U·Vᵀ` (`m × n` row-major): the orthogonal factor of the polar decomposition, the
    /// rotation of the orthogonal Procrustes problem.
    pub fn u_vt(&self) -> Vec<f64> {
        let (m, n, k) = (self.m, self.n, self.k());
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            let row = &mut out[i * n..(i + 1) * n];
            for l in 0..k {
                let u = self.u[i * k + l];
                for (o, v) in row.iter_mut().zip(&self.vt[l * n..(l + 1) * n]) {
                    *o += u * v;
                }
            }
        }
        out
    }

    /// `U·diag(S)·Vᵀ` (`m × n` row-major), the matrix decomposed (up to rounding).
    pub fn reconstruct(&self) -> Vec<f64> {
        let (m, n, k) = (self.m, self.n, self.k());
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            let row = &mut out[i * n..(i + 1) * n];
            for l in 0..k {
                let us = self.u[i * k + l] * self.s[l];
                for (o, v) in row.iter_mut().zip(&self.vt[l * n..(l + 1) * n]) {
                    *o += us * v;
                }
            }
        }
        out
    }
}

/// The thin SVD of the row-major `m × n` matrix `a`.
///
/// Errors: [`Error::Shape`] if `a.len() != m·n` or the matrix is empty;
/// [`Error::NonFinite`] if an entry is NaN or infinite; [`Error::InvalidArgument`] if the
/// rotations do not converge in [`MAX_SWEEPS`] sweeps.
pub fn svd(a: &[f64], m: usize, n: usize) -> Result<Svd> {
    if a.len() != m * n || m == 0 || n == 0 {
        return Err(Error::shape(
            "svd",
            format!("a non-empty {m}×{n} matrix ({} elements)", m * n),
            &[&[a.len()]],
        ));
    }
    if a.iter().any(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            what: format!("svd: an entry of the {m}×{n} matrix"),
        });
    }
    if m >= n {
        // Columns of A, contiguous.
        let cols: Vec<Vec<f64>> = (0..n)
            .map(|j| (0..m).map(|i| a[i * n + j]).collect())
            .collect();
        let (u_cols, s, v_cols) = jacobi(cols, m)?;
        Ok(Svd {
            m,
            n,
            u: row_major(&u_cols, m),
            s,
            vt: transposed_row_major(&v_cols, n),
        })
    } else {
        // Aᵀ = U'·S·V'ᵀ, so A = V'·S·U'ᵀ: U = V', Vᵀ = U'ᵀ. The columns of Aᵀ are A's rows.
        let cols: Vec<Vec<f64>> = a.chunks_exact(n).map(<[f64]>::to_vec).collect();
        let (u_cols, s, v_cols) = jacobi(cols, n)?;
        Ok(Svd {
            m,
            n,
            u: row_major(&v_cols, m),
            s,
            vt: transposed_row_major(&u_cols, n),
        })
    }
}

/// A matrix as its columns, each a `Vec` of its rows' values.
type Columns = Vec<Vec<f64>>;

/// One-sided Jacobi on the `k` columns (each of `rows` values, `rows ≥ k`) of a tall matrix:
/// returns the columns of `U` (`rows` values each), the singular values (decreasing) and the
/// columns of `V` (`k` values each), in the same order.
fn jacobi(mut a: Columns, rows: usize) -> Result<(Columns, Vec<f64>, Columns)> {
    let k = a.len();
    let mut v: Columns = (0..k)
        .map(|j| (0..k).map(|i| f64::from(u8::from(i == j))).collect())
        .collect();
    let dot = |x: &[f64], y: &[f64]| -> f64 { x.iter().zip(y).map(|(p, q)| p * q).sum() };
    let mut converged = false;
    for _ in 0..MAX_SWEEPS {
        let mut rotated = false;
        for p in 0..k {
            for q in p + 1..k {
                let alpha = dot(&a[p], &a[p]);
                let beta = dot(&a[q], &a[q]);
                let gamma = dot(&a[p], &a[q]);
                if gamma == 0.0 || gamma.abs() <= ORTHOGONALITY_TOL * (alpha * beta).sqrt() {
                    continue;
                }
                rotated = true;
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
                let c = 1.0 / (1.0 + t * t).sqrt();
                let s = c * t;
                for cols in [&mut a, &mut v] {
                    let (left, right) = cols.split_at_mut(q);
                    for (x, y) in left[p].iter_mut().zip(right[0].iter_mut()) {
                        let (xp, yq) = (*x, *y);
                        *x = c * xp - s * yq;
                        *y = s * xp + c * yq;
                    }
                }
            }
        }
        if !rotated {
            converged = true;
            break;
        }
    }
    if !converged {
        return Err(Error::invalid(
            "svd",
            format!("the Jacobi rotations did not converge in {MAX_SWEEPS} sweeps ({rows}×{k})"),
        ));
    }
    let norms: Vec<f64> = a.iter().map(|c| dot(c, c).sqrt()).collect();
    // Decreasing singular values; ties keep the column order (a stable sort).
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&i, &j| norms[j].total_cmp(&norms[i]));
    let s: Vec<f64> = order.iter().map(|&j| norms[j]).collect();
    let v_sorted: Vec<Vec<f64>> = order.iter().map(|&j| v[j].clone()).collect();
    let mut u: Vec<Vec<f64>> = Vec::with_capacity(k);
    for &j in &order {
        let sigma = norms[j];
        // A column this small relative to the largest carries no direction of its own: a zero
        // singular value, completed below.
        if sigma > s[0] * f64::EPSILON * rows as f64 && sigma > 0.0 {
            u.push(a[j].iter().map(|x| x / sigma).collect());
        } else {
            u.push(Vec::new());
        }
    }
    complete_orthonormal(&mut u, rows);
    Ok((u, s, v_sorted))
}

/// Fills the empty columns of `u` (each non-empty one of `rows` values, orthonormal) with unit
/// vectors orthogonal to all the others: Gram–Schmidt (twice, for orthogonality to rounding)
/// on the standard basis vectors `e_0, e_1, …`, taking those that keep a norm above 1/2.
fn complete_orthonormal(u: &mut [Vec<f64>], rows: usize) {
    let mut basis = 0..rows;
    for j in 0..u.len() {
        if !u[j].is_empty() {
            continue;
        }
        for e in basis.by_ref() {
            let mut w: Vec<f64> = (0..rows).map(|i| f64::from(u8::from(i == e))).collect();
            for _ in 0..2 {
                for other in u.iter().filter(|c| !c.is_empty()) {
                    let proj: f64 = other.iter().zip(&w).map(|(a, b)| a * b).sum();
                    for (x, o) in w.iter_mut().zip(other) {
                        *x -= proj * o;
                    }
                }
            }
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm > 0.5 {
                u[j] = w.iter().map(|x| x / norm).collect();
                break;
            }
        }
    }
}

/// Columns (each `rows` values) as a row-major `rows × columns` matrix.
fn row_major(cols: &[Vec<f64>], rows: usize) -> Vec<f64> {
    let k = cols.len();
    let mut out = vec![0.0; rows * k];
    for (j, c) in cols.iter().enumerate() {
        for (i, x) in c.iter().enumerate() {
            out[i * k + j] = *x;
        }
    }
    out
}

/// Columns (each `len` values) as the rows of a row-major `columns × len` matrix.
fn transposed_row_major(cols: &[Vec<f64>], len: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(cols.len() * len);
    for c in cols {
        out.extend_from_slice(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + b.abs())
    }

    /// Checks `U` (m×k) orthonormal columns, `Vᵀ` (k×n) orthonormal rows, and `U·S·Vᵀ = a`.
    fn check(a: &[f64], m: usize, n: usize) -> Svd {
        let d = svd(a, m, n).unwrap();
        let k = m.min(n);
        assert_eq!(d.k(), k);
        for p in 0..k {
            for q in 0..k {
                let uu: f64 = (0..m).map(|i| d.u[i * k + p] * d.u[i * k + q]).sum();
                let vv: f64 = (0..n).map(|j| d.vt[p * n + j] * d.vt[q * n + j]).sum();
                let want = f64::from(u8::from(p == q));
                assert!(close(uu, want, 1e-13), "UᵀU[{p},{q}] = {uu}");
                assert!(close(vv, want, 1e-13), "VᵀV[{p},{q}] = {vv}");
            }
        }
        for w in d.s.windows(2) {
            assert!(w[0] >= w[1], "singular values not decreasing: {:?}", d.s);
        }
        let scale = a.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        for (r, x) in d.reconstruct().iter().zip(a) {
            assert!((r - x).abs() <= 1e-13 * (1.0 + scale), "{r} vs {x}");
        }
        d
    }

    /// A = [[3, 0], [4, 5]]: AᵀA = [[25, 20], [20, 25]], eigenvalues 45 and 5, so the singular
    /// values are √45 = 3√5 and √5; V's columns are (1, 1)/√2 and (1, −1)/√2 (up to sign).
    #[test]
    fn hand_worked_two_by_two() {
        let d = check(&[3.0, 0.0, 4.0, 5.0], 2, 2);
        assert!(close(d.s[0], 45f64.sqrt(), 1e-15), "{:?}", d.s);
        assert!(close(d.s[1], 5f64.sqrt(), 1e-15), "{:?}", d.s);
        let h = 0.5f64.sqrt();
        assert!(close(d.vt[0].abs(), h, 1e-15) && close(d.vt[1].abs(), h, 1e-15));
        assert!(
            d.vt[0] * d.vt[1] > 0.0,
            "first right vector ∝ (1, 1): {:?}",
            d.vt
        );
    }

    /// A diagonal matrix's singular values are the absolute diagonal, sorted: 3, 2, 1.
    #[test]
    fn diagonal_sorted_absolute() {
        let d = check(&[1.0, 0.0, 0.0, 0.0, -3.0, 0.0, 0.0, 0.0, 2.0], 3, 3);
        assert_eq!(d.s, vec![3.0, 2.0, 1.0]);
    }

    /// A rank-1 outer product x·yᵀ has one singular value ‖x‖·‖y‖ = 3·5 = 15, the rest 0, and
    /// U still has orthonormal columns (completed).
    #[test]
    fn rank_deficient_completed() {
        let (x, y) = ([1.0, 2.0, 2.0], [3.0, 4.0, 0.0]);
        let a: Vec<f64> = x
            .iter()
            .flat_map(|p| y.iter().map(move |q| p * q))
            .collect();
        let d = check(&a, 3, 3);
        assert!(close(d.s[0], 15.0, 1e-14), "{:?}", d.s);
        assert!(d.s[1].abs() < 1e-13 && d.s[2].abs() < 1e-13, "{:?}", d.s);
        let zero = check(&[0.0; 6], 3, 2);
        assert_eq!(zero.s, vec![0.0, 0.0]);
    }

    /// Tall and wide matrices (the wide one through its transpose) give the same singular
    /// values; a rotation's U·Vᵀ is the matrix itself.
    #[test]
    fn tall_wide_and_polar_factor() {
        let a: Vec<f64> = (0..12).map(|i| ((i * 7 + 3) % 11) as f64 - 5.0).collect();
        let tall = check(&a, 4, 3);
        let at: Vec<f64> = (0..3)
            .flat_map(|j| (0..4).map(move |i| (i, j)))
            .map(|(i, j)| a[i * 3 + j])
            .collect();
        let wide = check(&at, 3, 4);
        for (s, t) in tall.s.iter().zip(&wide.s) {
            assert!(close(*s, *t, 1e-14), "{:?} vs {:?}", tall.s, wide.s);
        }
        let (c, s) = (0.6, 0.8);
        let rot = [c, -s, s, c];
        let d = check(&rot, 2, 2);
        for (r, x) in d.u_vt().iter().zip(&rot) {
            assert!((r - x).abs() < 1e-15, "{:?}", d.u_vt());
        }
    }

    /// A larger pseudo-random matrix: orthogonality and reconstruction hold, and the result is
    /// bit-identical when computed twice.
    #[test]
    fn larger_matrix_deterministic() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let a: Vec<f64> = (0..40 * 24)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
            })
            .collect();
        let d = check(&a, 40, 24);
        let again = svd(&a, 40, 24).unwrap();
        assert_eq!(d.s, again.s);
        assert_eq!(d.u, again.u);
        assert_eq!(d.vt, again.vt);
    }

    #[test]
    fn bad_input() {
        assert!(matches!(
            svd(&[1.0; 5], 2, 3),
            Err(Error::Shape { op: "svd", .. })
        ));
        assert!(matches!(svd(&[], 0, 3), Err(Error::Shape { .. })));
        let e = svd(&[1.0, f64::NAN, 0.0, 1.0], 2, 2).unwrap_err();
        assert!(matches!(e, Error::NonFinite { .. }), "{e}");
    }
}
