//! The geometry metrics of self-supervised embeddings, as nidl 0.0.2's `nidl.metrics.ssl`
//! defines them, on `f64` point clouds ([`Points`]: `n` rows of `d` values, row-major).
//!
//! | function | nidl's definition | better |
//! |---|---|---|
//! | [`alignment_score`] | `mean_i ‖z1_i − z2_i‖^α`, rows L2-normalised first by default (Wang & Isola 2020) | lower |
//! | [`uniformity_score`] | `log mean_{i≠j} exp(−t·‖z_i − z_j‖²)`, rows normalised by default | lower |
//! | [`contrastive_accuracy_score`] | how often `z2_i` is among the top-k most similar rows of `z2` to `z1_i` (dot products of the normalised rows), and the other way round, averaged | higher, in [0, 1] |
//! | [`procrustes_similarity`] | `‖X̃ᵀỸ‖_* / (‖X̃‖_F·‖Ỹ‖_F)` of the centred clouds (the Frobenius cosine of the best fit `Y ≈ s·XΩ + b`), clamped to [0, 1] | higher |
//! | [`procrustes_r2`] | `1 − Σ_i ‖Ỹ_i − (X̃R)_i‖ / Σ_i ‖Ỹ_i‖` with `R = UVᵀ` from the SVD of `X̃ᵀỸ` (nidl sums row norms, not squares) | higher, ≤ 1 |
//! | [`kruskal_similarity`] | `1 − ‖d_X − d_Y‖ / ‖d_Y − mean(d_Y)‖` over the pairwise Euclidean distances (or cosine similarities) `i < j` | higher, ≤ 1 |
//!
//! Defaults are nidl's: `normalize = true` ([`NORMALIZE`]), `alpha = 2` ([`ALIGNMENT_ALPHA`]),
//! `t = 2` ([`UNIFORMITY_T`]), `topk = 1` ([`CONTRASTIVE_TOPK`]), Euclidean Kruskal distances;
//! [`SslReport`] computes all six with them. Normalising divides a row by
//! `max(‖z‖, 10⁻¹²)` as `torch.nn.functional.normalize` does.
//!
//! Where this module departs from nidl, it refuses what nidl turns into a meaningless number:
//! a zero row to be normalised (nidl maps it to the zero vector, which is on no sphere), NaN or
//! infinite values, and a Kruskal similarity whose reference distances are all equal (nidl
//! divides by zero). As nidl, the Procrustes metrics are 0 when a centred cloud is
//! (numerically) zero: `‖X̃‖·‖Ỹ‖ ≤ 10⁻⁸` for the similarity, `‖Ỹ‖ ≤ 10⁻⁸` for the R²
//! (`torch.isclose(·, 0)`). Contrastive accuracy breaks ties in favour of the true pair (nidl's
//! order of tied candidates is `torch.topk`'s).
//!
//! Work: the pairwise metrics (uniformity, contrastive accuracy, Kruskal) cost `O(n²·d)`; they
//! run in parallel over fixed blocks of rows, each block's partial result combined in row order
//! afterwards, so the values do not depend on the number of threads.

use crate::error::{Error, Result};
use crate::linalg::svd;
use rayon::prelude::*;

/// nidl's default: rows are L2-normalised before alignment, uniformity and contrastive accuracy.
pub const NORMALIZE: bool = true;
/// nidl's default exponent of the alignment's distances.
pub const ALIGNMENT_ALPHA: f64 = 2.0;
/// nidl's default temperature of the uniformity's Gaussian potential.
pub const UNIFORMITY_T: f64 = 2.0;
/// nidl's default `k` of the contrastive top-k accuracy.
pub const CONTRASTIVE_TOPK: usize = 1;
/// The smallest norm a row is divided by when normalised (nidl's `eps`).
pub const NORMALIZE_EPS: f64 = 1e-12;
/// `torch.isclose(v, 0)` with its default `atol`: the Procrustes metrics' degenerate case.
pub const PROCRUSTES_ZERO: f64 = 1e-8;

/// Rows per parallel block of the pairwise metrics: fixed, so the combination order (and the
/// result) does not depend on the number of threads.
const ROW_BLOCK: usize = 16;

/// A point cloud: `n` rows of `d` values, row-major (`values[i·d + j]`).
#[derive(Clone, Copy, Debug)]
pub struct Points<'a> {
    values: &'a [f64],
    n: usize,
    d: usize,
}

impl<'a> Points<'a> {
    /// `values` as `n` rows of `d`.
    ///
    /// Errors: [`Error::Shape`] if `values.len() != n·d` or `d == 0`.
    pub fn new(values: &'a [f64], n: usize, d: usize) -> Result<Self> {
        if values.len() != n * d || d == 0 {
            return Err(Error::shape(
                "ssl metrics",
                format!("{n} rows of {d} (> 0) values"),
                &[&[values.len()]],
            ));
        }
        Ok(Points { values, n, d })
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.n
    }

    /// The number of values per row.
    pub fn cols(&self) -> usize {
        self.d
    }

    /// Row `i`.
    fn row(&self, i: usize) -> &'a [f64] {
        &self.values[i * self.d..(i + 1) * self.d]
    }
}

/// Checks `p` has at least `min_rows` rows and only finite values; errors name `op`.
fn check(op: &'static str, p: &Points, min_rows: usize) -> Result<()> {
    if p.n < min_rows {
        return Err(Error::shape(
            op,
            format!("at least {min_rows} rows"),
            &[&[p.n, p.d]],
        ));
    }
    if let Some(k) = p.values.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            what: format!(
                "{op}: row {} of the {}×{} input is {}",
                k / p.d,
                p.n,
                p.d,
                p.values[k]
            ),
        });
    }
    Ok(())
}

/// Checks two clouds have the same number of rows (and, with `same_width`, of columns).
fn check_pair(op: &'static str, x: &Points, y: &Points, same_width: bool) -> Result<()> {
    if x.n != y.n || (same_width && x.d != y.d) {
        let expected = if same_width {
            "two inputs of the same shape"
        } else {
            "two inputs with the same number of rows"
        };
        return Err(Error::shape(op, expected, &[&[x.n, x.d], &[y.n, y.d]]));
    }
    Ok(())
}

/// `x·y`, with four partial sums (vectorisable; a fixed order).
fn dot(x: &[f64], y: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (xc, yc) = (x.chunks_exact(4), y.chunks_exact(4));
    let tail: f64 = xc
        .remainder()
        .iter()
        .zip(yc.remainder())
        .map(|(a, b)| a * b)
        .sum();
    for (a, b) in xc.zip(yc) {
        for l in 0..4 {
            acc[l] += a[l] * b[l];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// `‖x − y‖²`, with four partial sums.
fn squared_distance(x: &[f64], y: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (xc, yc) = (x.chunks_exact(4), y.chunks_exact(4));
    let tail: f64 = xc
        .remainder()
        .iter()
        .zip(yc.remainder())
        .map(|(a, b)| (a - b) * (a - b))
        .sum();
    for (a, b) in xc.zip(yc) {
        for l in 0..4 {
            let e = a[l] - b[l];
            acc[l] += e * e;
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// The rows of `p` divided by `max(‖row‖, eps)` (`torch.nn.functional.normalize`), or a copy
/// when `normalize` is off. A zero row cannot be normalised: an [`Error::InvalidArgument`]
/// naming `op` and the row.
fn normalized(op: &'static str, p: &Points, normalize: bool) -> Result<Vec<f64>> {
    let mut out = p.values.to_vec();
    if !normalize {
        return Ok(out);
    }
    for (i, row) in out.chunks_exact_mut(p.d).enumerate() {
        let norm = dot(row, row).sqrt();
        if norm == 0.0 {
            return Err(Error::invalid(
                op,
                format!(
                    "row {i} of the {}×{} input is zero: it has no direction to normalise",
                    p.n, p.d
                ),
            ));
        }
        let scale = norm.max(NORMALIZE_EPS);
        row.iter_mut().for_each(|v| *v /= scale);
    }
    Ok(out)
}

/// Maps every row `i` (with the rows after it, for pair metrics) to a partial result, in
/// parallel over fixed blocks of rows; returns the partials in row order.
fn per_row<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let blocks: Vec<Vec<T>> = (0..n.div_ceil(ROW_BLOCK))
        .into_par_iter()
        .map(|b| {
            (b * ROW_BLOCK..((b + 1) * ROW_BLOCK).min(n))
                .map(&f)
                .collect()
        })
        .collect();
    blocks.into_iter().flatten().collect()
}

/// nidl's `alignment_score(z1, z2, normalize, alpha)`: the mean over rows of `‖z1_i − z2_i‖^α`
/// (after normalising the rows when `normalize`). Lower is better.
///
/// Errors: inputs of different shapes or without rows ([`Error::Shape`]); NaN or infinite
/// values ([`Error::NonFinite`]); a zero row to normalise, `alpha` not finite and positive
/// ([`Error::InvalidArgument`]).
pub fn alignment_score(z1: &Points, z2: &Points, normalize: bool, alpha: f64) -> Result<f64> {
    const OP: &str = "alignment_score";
    check_pair(OP, z1, z2, true)?;
    check(OP, z1, 1)?;
    check(OP, z2, 1)?;
    if !(alpha.is_finite() && alpha > 0.0) {
        return Err(Error::invalid(OP, format!("alpha = {alpha}: must be > 0")));
    }
    let (a, b) = (
        normalized(OP, z1, normalize)?,
        normalized(OP, z2, normalize)?,
    );
    let d = z1.d;
    let sum: f64 = a
        .chunks_exact(d)
        .zip(b.chunks_exact(d))
        .map(|(x, y)| squared_distance(x, y).sqrt().powf(alpha))
        .sum();
    Ok(sum / z1.n as f64)
}

/// nidl's `uniformity_score(z, normalize, t)`: `log` of the mean over the pairs `i ≠ j` of
/// `exp(−t·‖z_i − z_j‖²)` (rows normalised first when `normalize`), computed as a
/// log-sum-exp so that it does not underflow. Lower is more uniform.
///
/// Errors: fewer than 2 rows ([`Error::Shape`]); NaN or infinite values
/// ([`Error::NonFinite`]); a zero row to normalise, `t` negative or not finite
/// ([`Error::InvalidArgument`]).
pub fn uniformity_score(z: &Points, normalize: bool, t: f64) -> Result<f64> {
    const OP: &str = "uniformity_score";
    check(OP, z, 2)?;
    if !(t.is_finite() && t >= 0.0) {
        return Err(Error::invalid(OP, format!("t = {t}: must be ≥ 0")));
    }
    let v = normalized(OP, z, normalize)?;
    let p = Points::new(&v, z.n, z.d)?;
    // Per row i: (max, Σ exp(a − max)) of a = −t·‖z_i − z_j‖² over j > i.
    let rows = per_row(p.n, |i| {
        let a: Vec<f64> = (i + 1..p.n)
            .map(|j| -t * squared_distance(p.row(i), p.row(j)))
            .collect();
        let max = a.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = a.iter().map(|x| (x - max).exp()).sum();
        (max, sum)
    });
    let max = rows.iter().map(|r| r.0).fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = rows
        .iter()
        .filter(|r| r.0 > f64::NEG_INFINITY)
        .map(|(m, s)| s * (m - max).exp())
        .sum();
    let pairs = (p.n * (p.n - 1) / 2) as f64;
    Ok(max + sum.ln() - pairs.ln())
}

/// nidl's `contrastive_accuracy_score(z1, z2, normalize, topk)`: the fraction of rows `i` for
/// which `z2_i` is among the `topk` rows of `z2` most similar to `z1_i` (dot products, of the
/// normalised rows when `normalize`), averaged with the same fraction from `z2` to `z1`.
/// `topk` larger than the number of rows counts as all of them. A candidate tied with the true
/// pair does not push it out of the top k. Higher is better, in [0, 1].
///
/// Errors: inputs of different shapes or without rows ([`Error::Shape`]); NaN or infinite
/// values ([`Error::NonFinite`]); a zero row to normalise, `topk == 0`
/// ([`Error::InvalidArgument`]).
pub fn contrastive_accuracy_score(
    z1: &Points,
    z2: &Points,
    normalize: bool,
    topk: usize,
) -> Result<f64> {
    const OP: &str = "contrastive_accuracy_score";
    check_pair(OP, z1, z2, true)?;
    check(OP, z1, 1)?;
    check(OP, z2, 1)?;
    if topk == 0 {
        return Err(Error::invalid(OP, "topk = 0: must be ≥ 1"));
    }
    let (a, b) = (
        normalized(OP, z1, normalize)?,
        normalized(OP, z2, normalize)?,
    );
    let (n, d) = (z1.n, z1.d);
    let (a, b) = (Points::new(&a, n, d)?, Points::new(&b, n, d)?);
    let diag: Vec<f64> = (0..n).map(|i| dot(a.row(i), b.row(i))).collect();
    // One pass over the similarity matrix S = A·Bᵀ by rows: row i's count of candidates above
    // S_ii (z1 → z2), and per block, each column's count of entries above its S_jj (z2 → z1).
    let blocks: Vec<(Vec<usize>, Vec<usize>)> = (0..n.div_ceil(ROW_BLOCK))
        .into_par_iter()
        .map(|blk| {
            let rows = blk * ROW_BLOCK..((blk + 1) * ROW_BLOCK).min(n);
            let mut above_row = Vec::with_capacity(rows.len());
            let mut above_col = vec![0usize; n];
            for i in rows {
                let mut count = 0;
                for (j, col) in above_col.iter_mut().enumerate() {
                    let s = dot(a.row(i), b.row(j));
                    count += usize::from(s > diag[i]);
                    *col += usize::from(s > diag[j]);
                }
                above_row.push(count);
            }
            (above_row, above_col)
        })
        .collect();
    let mut above_col = vec![0usize; n];
    let mut hits_12 = 0usize;
    for (rows, cols) in &blocks {
        hits_12 += rows.iter().filter(|&&c| c < topk).count();
        above_col.iter_mut().zip(cols).for_each(|(t, c)| *t += c);
    }
    let hits_21 = above_col.iter().filter(|&&c| c < topk).count();
    Ok(0.5 * (hits_12 as f64 / n as f64 + hits_21 as f64 / n as f64))
}

/// `p` minus its column means, row-major.
fn centred(p: &Points) -> Vec<f64> {
    let mut mean = vec![0.0; p.d];
    for i in 0..p.n {
        mean.iter_mut().zip(p.row(i)).for_each(|(m, v)| *m += v);
    }
    mean.iter_mut().for_each(|m| *m /= p.n as f64);
    let mut out = p.values.to_vec();
    for row in out.chunks_exact_mut(p.d) {
        row.iter_mut().zip(&mean).for_each(|(v, m)| *v -= m);
    }
    out
}

/// `Xᵀ·Y` (`dx × dy`, row-major) of row-major `n × dx` and `n × dy` matrices.
fn cross(x: &[f64], dx: usize, y: &[f64], dy: usize) -> Vec<f64> {
    let mut m = vec![0.0; dx * dy];
    for (xr, yr) in x.chunks_exact(dx).zip(y.chunks_exact(dy)) {
        for (a, mrow) in xr.iter().zip(m.chunks_exact_mut(dy)) {
            mrow.iter_mut().zip(yr).for_each(|(o, b)| *o += a * b);
        }
    }
    m
}

/// The checks of the two-cloud metrics: the same number of rows, at least 2, finite values.
fn check_clouds(op: &'static str, x: &Points, y: &Points) -> Result<()> {
    check_pair(op, x, y, false)?;
    check(op, x, 2)?;
    check(op, y, 2)
}

/// nidl's `procrustes_similarity(X, Y)`: the nuclear norm of `X̃ᵀỸ` over `‖X̃‖_F·‖Ỹ‖_F` for
/// the column-centred clouds `X̃`, `Ỹ` — the Frobenius cosine between `Y` and its best fit
/// `s·XΩ + b` (Ω orthogonal, `s` a scale, `b` a shift) — clamped to [0, 1]; 0 when
/// `‖X̃‖·‖Ỹ‖ ≤ 10⁻⁸` ([`PROCRUSTES_ZERO`]). The widths of `X` and `Y` may differ.
///
/// Errors: different numbers of rows or fewer than 2 ([`Error::Shape`]); NaN or infinite
/// values ([`Error::NonFinite`]).
pub fn procrustes_similarity(x: &Points, y: &Points) -> Result<f64> {
    const OP: &str = "procrustes_similarity";
    check_clouds(OP, x, y)?;
    let (xc, yc) = (centred(x), centred(y));
    let nx = dot(&xc, &xc).sqrt();
    let ny = dot(&yc, &yc).sqrt();
    if nx * ny <= PROCRUSTES_ZERO {
        return Ok(0.0);
    }
    let m = svd(&cross(&xc, x.d, &yc, y.d), x.d, y.d)?;
    let nuclear: f64 = m.s.iter().sum();
    Ok((nuclear / (nx * ny)).clamp(0.0, 1.0))
}

/// nidl's `procrustes_r2(X, Y)`: `1 − Σ_i ‖Ỹ_i − (X̃R)_i‖ / Σ_i ‖Ỹ_i‖` for the column-centred
/// clouds and the orthogonal Procrustes rotation `R = UVᵀ` of `X̃ᵀỸ = U·S·Vᵀ` (nidl's
/// "variance-weighted R²" sums the rows' norms, not their squares); 0 when `‖Ỹ‖ ≤ 10⁻⁸`.
/// Not symmetric in `X` and `Y`; at most 1.
///
/// Errors: different numbers of rows or fewer than 2 ([`Error::Shape`]); NaN or infinite
/// values ([`Error::NonFinite`]).
pub fn procrustes_r2(x: &Points, y: &Points) -> Result<f64> {
    const OP: &str = "procrustes_r2";
    check_clouds(OP, x, y)?;
    let (xc, yc) = (centred(x), centred(y));
    if dot(&yc, &yc).sqrt() <= PROCRUSTES_ZERO {
        return Ok(0.0);
    }
    let r = svd(&cross(&xc, x.d, &yc, y.d), x.d, y.d)?.u_vt();
    let (mut res, mut tot) = (0.0, 0.0);
    let mut fit = vec![0.0; y.d];
    for (xr, yr) in xc.chunks_exact(x.d).zip(yc.chunks_exact(y.d)) {
        fit.iter_mut().for_each(|f| *f = 0.0);
        for (a, rrow) in xr.iter().zip(r.chunks_exact(y.d)) {
            fit.iter_mut().zip(rrow).for_each(|(f, b)| *f += a * b);
        }
        res += squared_distance(yr, &fit).sqrt();
        tot += dot(yr, yr).sqrt();
    }
    Ok(1.0 - res / tot)
}

/// Count, mean and sum of squared deviations of a set of values (merged with Chan et al.'s
/// update, stable in one pass).
#[derive(Clone, Copy, Default)]
struct Moments {
    count: f64,
    mean: f64,
    m2: f64,
}

impl Moments {
    /// The moments of `values` (two passes over them).
    fn of(values: &[f64]) -> Moments {
        if values.is_empty() {
            return Moments::default();
        }
        let count = values.len() as f64;
        let mean = values.iter().sum::<f64>() / count;
        let m2 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
        Moments { count, mean, m2 }
    }

    /// The moments of the union of two sets.
    fn merge(self, o: Moments) -> Moments {
        if o.count == 0.0 {
            return self;
        }
        if self.count == 0.0 {
            return o;
        }
        let count = self.count + o.count;
        let delta = o.mean - self.mean;
        Moments {
            count,
            mean: self.mean + delta * o.count / count,
            m2: self.m2 + o.m2 + delta * delta * self.count * o.count / count,
        }
    }
}

/// nidl's `kruskal_similarity(X, Y, spherical)`: `1 − ‖d_X − d_Y‖ / ‖d_Y − mean(d_Y)‖` over the
/// pairs `i < j`, where `d` is the Euclidean distance between rows (or, with `spherical`, the
/// cosine similarity: the dot product of the normalised rows) — an R² of `Y`'s pairwise
/// geometry by `X`'s, a scaled Kruskal stress. Not symmetric; at most 1.
///
/// Errors: different numbers of rows or fewer than 2 ([`Error::Shape`]); NaN or infinite
/// values ([`Error::NonFinite`]); a zero row with `spherical`, or all of `Y`'s pairwise values
/// equal (e.g. 2 rows: the ratio is 0/0 in nidl) ([`Error::InvalidArgument`]).
pub fn kruskal_similarity(x: &Points, y: &Points, spherical: bool) -> Result<f64> {
    const OP: &str = "kruskal_similarity";
    check_clouds(OP, x, y)?;
    let (xv, yv) = (normalized(OP, x, spherical)?, normalized(OP, y, spherical)?);
    let (xp, yp) = (Points::new(&xv, x.n, x.d)?, Points::new(&yv, y.n, y.d)?);
    let pair = |p: &Points, i: usize, j: usize| {
        if spherical {
            dot(p.row(i), p.row(j))
        } else {
            squared_distance(p.row(i), p.row(j)).sqrt()
        }
    };
    // Per row i, over j > i: Σ (d_X − d_Y)² and the moments of d_Y.
    let rows = per_row(x.n, |i| {
        let dy: Vec<f64> = (i + 1..y.n).map(|j| pair(&yp, i, j)).collect();
        let res: f64 = dy
            .iter()
            .zip(i + 1..x.n)
            .map(|(b, j)| (pair(&xp, i, j) - b).powi(2))
            .sum();
        (res, Moments::of(&dy))
    });
    let res: f64 = rows.iter().map(|r| r.0).sum();
    let m = rows
        .iter()
        .fold(Moments::default(), |acc, r| acc.merge(r.1));
    if m.m2 <= 0.0 {
        return Err(Error::invalid(
            OP,
            format!(
                "the {} pairwise {} of Y ({}×{}) are all equal: the similarity is undefined",
                m.count,
                if spherical { "cosines" } else { "distances" },
                y.n,
                y.d
            ),
        ));
    }
    Ok(1.0 - res.sqrt() / m.m2.sqrt())
}

/// The six metrics of two views' embeddings with nidl's default arguments, as the SSL metrics
/// callback logs them; uniformity is that of the first view.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SslReport {
    /// [`alignment_score`] of the two views.
    pub alignment: f64,
    /// [`uniformity_score`] of the first view.
    pub uniformity: f64,
    /// [`contrastive_accuracy_score`] (top-1) of the two views.
    pub contrastive_accuracy: f64,
    /// [`procrustes_similarity`] of the first view to the second.
    pub procrustes_similarity: f64,
    /// [`procrustes_r2`] of the first view to the second.
    pub procrustes_r2: f64,
    /// [`kruskal_similarity`] (Euclidean) of the first view to the second.
    pub kruskal_similarity: f64,
}

impl SslReport {
    /// The six metrics of the views `z1`, `z2` (same shape, at least 3 rows for Kruskal's to
    /// be defined); errors are those of the six functions.
    pub fn new(z1: &Points, z2: &Points) -> Result<SslReport> {
        Self::build(z1, z2, Err)
    }

    /// The six metrics of `z1`, `z2`, each one that the functions refuse (collapsed views, a
    /// zero row to normalise, an SVD that does not converge) as NaN: a training run logs a
    /// collapse rather than ending at it.
    pub fn degenerate_as_nan(z1: &Points, z2: &Points) -> SslReport {
        Self::build(z1, z2, |_| Ok(f64::NAN)).expect("every error is mapped to NaN")
    }

    /// The six metrics, each error passed through `on_error`.
    fn build(
        z1: &Points,
        z2: &Points,
        on_error: impl Fn(Error) -> Result<f64>,
    ) -> Result<SslReport> {
        let f = |r: Result<f64>| r.or_else(&on_error);
        Ok(SslReport {
            alignment: f(alignment_score(z1, z2, NORMALIZE, ALIGNMENT_ALPHA))?,
            uniformity: f(uniformity_score(z1, NORMALIZE, UNIFORMITY_T))?,
            contrastive_accuracy: f(contrastive_accuracy_score(
                z1,
                z2,
                NORMALIZE,
                CONTRASTIVE_TOPK,
            ))?,
            procrustes_similarity: f(procrustes_similarity(z1, z2))?,
            procrustes_r2: f(procrustes_r2(z1, z2))?,
            kruskal_similarity: f(kruskal_similarity(z1, z2, false))?,
        })
    }

    /// The metrics' names, in the order of [`metrics`](Self::metrics).
    pub const NAMES: [&'static str; 6] = [
        "alignment",
        "uniformity",
        "contrastive_accuracy",
        "procrustes_similarity",
        "procrustes_r2",
        "kruskal_similarity",
    ];

    /// `(name, value)` in the order above: `alignment`, `uniformity`, `contrastive_accuracy`,
    /// `procrustes_similarity`, `procrustes_r2`, `kruskal_similarity` ([`NAMES`](Self::NAMES)).
    pub fn metrics(&self) -> [(&'static str, f64); 6] {
        let values = [
            self.alignment,
            self.uniformity,
            self.contrastive_accuracy,
            self.procrustes_similarity,
            self.procrustes_r2,
            self.kruskal_similarity,
        ];
        std::array::from_fn(|i| (Self::NAMES[i], values[i]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(v: &[f64], d: usize) -> Points<'_> {
        Points::new(v, v.len() / d, d).unwrap()
    }

    /// A collapsed second view (three equal rows): its pairwise distances are all 0, so
    /// Kruskal's similarity is undefined (an error from `new`, NaN from `degenerate_as_nan`);
    /// alignment stays defined: z1 = e1, e2, e1 against z2 = e1 thrice gives distances² 0, 2,
    /// 0, mean 2/3.
    #[test]
    fn collapse_is_nan_only_where_undefined() {
        let a = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0];
        let b = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0];
        let (z1, z2) = (pts(&a, 2), pts(&b, 2));
        assert!(SslReport::new(&z1, &z2).is_err());
        let r = SslReport::degenerate_as_nan(&z1, &z2);
        assert!(r.kruskal_similarity.is_nan());
        assert!((r.alignment - 2.0 / 3.0).abs() < 1e-12);
    }

    /// z1 = (1, 0), (0, 1); z2 = (0, 1), (1, 0): each distance √2, so alignment (α = 2) is 2;
    /// each row's best match in the other view is the wrong one: contrastive accuracy 0, and 1
    /// with top-2.
    #[test]
    fn hand_worked_alignment_and_accuracy() {
        let (a, b) = ([1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 1.0, 0.0]);
        let (z1, z2) = (pts(&a, 2), pts(&b, 2));
        assert!((alignment_score(&z1, &z2, true, 2.0).unwrap() - 2.0).abs() < 1e-15);
        assert_eq!(contrastive_accuracy_score(&z1, &z2, true, 1).unwrap(), 0.0);
        assert_eq!(contrastive_accuracy_score(&z1, &z2, true, 2).unwrap(), 1.0);
        assert_eq!(contrastive_accuracy_score(&z1, &z1, true, 1).unwrap(), 1.0);
    }

    /// Two antipodal unit vectors: one pair at squared distance 4, uniformity log e^(−2·4) = −8.
    #[test]
    fn hand_worked_uniformity() {
        let v = [0.0, 3.0, 0.0, -2.0];
        let u = uniformity_score(&pts(&v, 2), true, 2.0).unwrap();
        assert!((u + 8.0).abs() < 1e-15, "{u}");
        // Far apart unnormalised points: exp(−2·10⁶) underflows, the log-sum-exp does not.
        let far = [0.0, 0.0, 1000.0, 0.0];
        let u = uniformity_score(&pts(&far, 2), false, 2.0).unwrap();
        assert!((u + 2e6).abs() < 1e-6, "{u}");
    }

    /// Y = 2·X·R + b for a rotation R: the scale-free Procrustes similarity is 1; Y's pairwise
    /// distances are twice X's, so Kruskal's similarity (Euclidean) of X to Y is
    /// 1 − ‖d − 2d‖ / ‖2d − mean(2d)‖ = 1 − ‖d‖ / (2·‖d − mean d‖).
    #[test]
    fn hand_worked_procrustes_and_kruskal() {
        let x = [0.0, 0.0, 1.0, 0.0, 0.0, 2.0, 3.0, 1.0];
        let (c, s) = (0.6, 0.8);
        let y: Vec<f64> = x
            .chunks(2)
            .flat_map(|r| {
                [
                    2.0 * (c * r[0] - s * r[1]) + 5.0,
                    2.0 * (s * r[0] + c * r[1]) - 1.0,
                ]
            })
            .collect();
        let (px, py) = (pts(&x, 2), pts(&y, 2));
        assert!((procrustes_similarity(&px, &py).unwrap() - 1.0).abs() < 1e-14);
        // R² with Y twice the size: the rotation fits Ỹ/2, so each residual is half of ‖Ỹ_i‖.
        assert!((procrustes_r2(&px, &py).unwrap() - 0.5).abs() < 1e-14);
        assert!((procrustes_r2(&px, &px).unwrap() - 1.0).abs() < 1e-14);
        let d: Vec<f64> = (0..4)
            .flat_map(|i| (i + 1..4).map(move |j| (i, j)))
            .map(|(i, j)| squared_distance(px.row(i), px.row(j)).sqrt())
            .collect();
        let mean = d.iter().sum::<f64>() / 6.0;
        let spread = d
            .iter()
            .map(|v| (2.0 * v - 2.0 * mean).powi(2))
            .sum::<f64>()
            .sqrt();
        let want = 1.0 - d.iter().map(|v| v * v).sum::<f64>().sqrt() / spread;
        let k = kruskal_similarity(&px, &py, false).unwrap();
        assert!((k - want).abs() < 1e-14, "{k} vs {want}");
        assert!((kruskal_similarity(&px, &px, false).unwrap() - 1.0).abs() < 1e-15);
    }

    /// A constant cloud: nidl's 0 for the Procrustes metrics; Kruskal refuses equal distances.
    #[test]
    fn degenerate_clouds() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 7.0];
        let flat = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        let (px, pf) = (pts(&x, 2), pts(&flat, 2));
        assert_eq!(procrustes_similarity(&px, &pf).unwrap(), 0.0);
        assert_eq!(procrustes_r2(&px, &pf).unwrap(), 0.0);
        let e = kruskal_similarity(&px, &pf, false).unwrap_err();
        assert!(e.to_string().contains("kruskal_similarity"), "{e}");
        let two = pts(&x[..4], 2);
        assert!(kruskal_similarity(&two, &two, false).is_err());
    }

    #[test]
    fn bad_input_names_function_and_shape() {
        let a = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        let b = [1.0, 0.0, 0.0, 1.0];
        let e = alignment_score(&pts(&a, 2), &pts(&b, 2), true, 2.0).unwrap_err();
        assert!(
            matches!(&e, Error::Shape { op: "alignment_score", shapes, .. } if shapes == &vec![vec![3, 2], vec![2, 2]]),
            "{e}"
        );
        let e = procrustes_r2(&pts(&a[..2], 2), &pts(&a[..2], 2)).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Shape {
                    op: "procrustes_r2",
                    ..
                }
            ),
            "{e}"
        );
        let zero = [0.0, 0.0, 1.0, 1.0];
        let e = uniformity_score(&pts(&zero, 2), true, 2.0).unwrap_err();
        assert!(
            e.to_string().contains("row 0") && e.to_string().contains("zero"),
            "{e}"
        );
        let nan = [0.0, f64::NAN, 1.0, 1.0];
        let e = contrastive_accuracy_score(&pts(&nan, 2), &pts(&zero, 2), false, 1).unwrap_err();
        assert!(matches!(e, Error::NonFinite { .. }), "{e}");
        assert!(contrastive_accuracy_score(&pts(&b, 2), &pts(&b, 2), true, 0).is_err());
        assert!(alignment_score(&pts(&b, 2), &pts(&b, 2), true, -1.0).is_err());
        assert!(Points::new(&b, 3, 2).is_err());
        assert!(Points::new(&[], 0, 0).is_err());
    }

    /// The pairwise metrics give bit-identical values with 1 and 3 threads.
    #[test]
    fn thread_count_does_not_change_values() {
        let v: Vec<f64> = (0..70 * 5).map(|i| ((i * 37 % 101) as f64).sin()).collect();
        let w: Vec<f64> = v.iter().map(|x| x * 0.7 + 0.1 * (x * 13.0).cos()).collect();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| SslReport::new(&pts(&v, 5), &pts(&w, 5)).unwrap())
        };
        assert_eq!(run(1), run(3));
    }
}
