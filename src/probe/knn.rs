//! k-nearest-neighbour probes (uniform weights, Euclidean distance), as scikit-learn's
//! `KNeighborsClassifier` / `KNeighborsRegressor(n_neighbors=k)` with brute-force search.
//!
//! Objective: for a query `q`, the `k` training rows with the smallest `‖q − x_j‖²`, ties broken
//! by the lower training index (scikit-learn keeps the earlier index on equal distances). The
//! classifier votes (ties between classes go to the smallest label, as scikit-learn's mode and
//! `argmax` do); the regressor averages the neighbours' targets.
//!
//! Algorithm (exact, parallel, blocked through GEMM):
//! 1. *Screening.* Training rows are centred on their mean and scaled by a power of two
//!    (distances keep their order), then stored augmented as `[−2·x̂, ‖x̂‖²]`; queries as
//!    `[q̂, 1]`. One GEMM per tile of [`QUERY_BLOCK`] queries × [`train_block`] rows gives
//!    `v_j = ‖x̂_j‖² − 2·q̂·x̂_j = ‖q̂ − x̂_j‖² − ‖q̂‖²`, in `f32` when the values allow it
//!    (else `f64`). A per-query bound `e ≥ |v_j − exact|` (rounding of the casts, the dot product
//!    of length `d + 1` and the final `f64` distance, see [`error_bound`]) makes the screen
//!    exact: every row with `v_j ≤ T + 2e`, `T` the running `k`-th smallest `v`, is kept as a
//!    candidate, and no row outside that set can be among the `k` nearest.
//! 2. *Ranking.* Candidates get their distance recomputed directly, `Σ (q_i − x_i)²` in `f64`
//!    from the original values (each difference scaled by the same power of two, which changes
//!    no rounding but keeps huge values from overflowing), and the `k` smallest by
//!    `(distance, index)` are returned.
//!
//! Query blocks run in parallel (rayon); each query's result depends only on its own rows, so
//! results do not depend on the thread count.

use super::{
    as_f64, check_features, check_label_len, check_predict_features, check_targets, encode_labels,
    not_fitted, Classifier, Probe,
};
use crate::error::{Error, Result};
use crate::tensor::gemm::gemm;
use crate::tensor::{Element, Tensor};
use rayon::prelude::*;
use std::sync::OnceLock;

/// Queries per parallel task and per GEMM tile. 64 gives 150+ tasks for 10 000 queries and
/// keeps each tile GEMM on one thread (`tensor::gemm` only splits taller products).
pub const QUERY_BLOCK: usize = 64;

/// Upper bound on `(d + 1)·(QUERY_BLOCK + train rows)` for one tile GEMM: `matrixmultiply`
/// (with its `threading` feature) starts its own threads once `m·k + k·n ≥ 2¹⁵`, which would
/// oversubscribe the cores from inside the parallel query loop. Below it, the tile is computed
/// on the rayon worker that scans it.
pub const TILE_GEMM_SIZE: usize = 1 << 15;

/// Training rows per tile for `d` features: as many as [`TILE_GEMM_SIZE`] allows, within
/// `[256, 4096]` (at d = 32: 928 rows, a 232 KiB `f32` tile that stays in L2 while scanned).
/// Depends on `d` only, never on the thread count.
pub fn train_block(d: usize) -> usize {
    ((TILE_GEMM_SIZE - 1) / (d + 1))
        .saturating_sub(QUERY_BLOCK)
        .clamp(256, 4096)
}

/// Largest scaled query magnitude screened in `f32` (products stay far from overflow).
const F32_QUERY_LIMIT: f64 = 1.152921504606847e18; // 2^60

/// The `k` nearest training rows of each query, nearest first.
#[derive(Clone, Debug, PartialEq)]
pub struct Neighbors {
    /// Neighbours per query.
    pub k: usize,
    /// Training-row indices, `(m, k)` row-major.
    pub indices: Vec<usize>,
    /// Euclidean distances, `(m, k)` row-major, non-decreasing along each row.
    pub distances: Vec<f64>,
}

impl Neighbors {
    /// Number of queries.
    pub fn len(&self) -> usize {
        self.indices.len().checked_div(self.k).unwrap_or(0)
    }

    /// True when there are no queries.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// The indices and distances of query `i`.
    ///
    /// # Panics
    /// If `i ≥ self.len()`.
    pub fn row(&self, i: usize) -> (&[usize], &[f64]) {
        let r = i * self.k..(i + 1) * self.k;
        (&self.indices[r.clone()], &self.distances[r])
    }
}

/// The searchable training set.
#[derive(Clone, Debug)]
struct Index {
    n: usize,
    d: usize,
    /// Original rows, `f64`, `(n, d)`: the ranking distances come from these.
    raw: Vec<f64>,
    /// Column means (the centre of the screening coordinates).
    mean: Vec<f64>,
    /// Power-of-two scale of the screening coordinates.
    scale: f64,
    /// `max_j ‖x̂_j‖` in screening coordinates.
    max_norm: f64,
    /// `[−2·x̂, ‖x̂‖²]` in `f32`, `(n, d + 1)`.
    screen32: Vec<f32>,
    /// The same in `f64`, built on first use (queries too large for `f32`).
    screen64: OnceLock<Vec<f64>>,
}

impl Index {
    fn build(raw: Vec<f64>, n: usize, d: usize) -> Index {
        let mut mean = vec![0.0; d];
        for r in raw.chunks(d) {
            mean.iter_mut().zip(r).for_each(|(m, v)| *m += v);
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let max_abs = raw
            .chunks(d)
            .flat_map(|r| r.iter().zip(&mean).map(|(v, m)| (v - m).abs()))
            .fold(0.0f64, f64::max);
        // s = 2^−⌊log2 max_abs⌋ puts the largest centred magnitude in [1, 2); exact scaling.
        // (The exponent is clamped so subnormal or huge data still gets a finite, exact scale.)
        let scale = if max_abs > 0.0 && max_abs.is_finite() {
            (-(max_abs.log2().floor())).clamp(-1000.0, 1000.0).exp2()
        } else {
            1.0
        };
        let mut index = Index {
            n,
            d,
            raw,
            mean,
            scale,
            max_norm: 0.0,
            screen32: Vec::new(),
            screen64: OnceLock::new(),
        };
        let hat = index.hat_rows(&index.raw);
        index.max_norm = hat
            .chunks(d)
            .map(|r| r.iter().map(|v| v * v).sum::<f64>().sqrt())
            .fold(0.0, f64::max);
        index.screen32 = augment_train::<f32>(&hat, d);
        index
    }

    /// Rows in screening coordinates: `(x − mean)·scale`.
    fn hat_rows(&self, rows: &[f64]) -> Vec<f64> {
        rows.chunks(self.d)
            .flat_map(|r| r.iter().zip(&self.mean).map(|(v, m)| (v - m) * self.scale))
            .collect()
    }

    fn screen64(&self) -> &[f64] {
        self.screen64
            .get_or_init(|| augment_train::<f64>(&self.hat_rows(&self.raw), self.d))
    }

    /// The `k` nearest rows to each row of `q` (`(m, d)` row-major `f64`).
    fn search(&self, q: &[f64], m: usize, k: usize) -> Neighbors {
        let d = self.d;
        let mut indices = vec![0usize; m * k];
        let mut distances = vec![0.0f64; m * k];
        indices
            .par_chunks_mut(QUERY_BLOCK * k)
            .zip(distances.par_chunks_mut(QUERY_BLOCK * k))
            .enumerate()
            .for_each(|(b, (ind, dist))| {
                let q0 = b * QUERY_BLOCK;
                let qb = ind.len() / k;
                let q_raw = &q[q0 * d..(q0 + qb) * d];
                let q_hat = self.hat_rows(q_raw);
                let norms: Vec<f64> = q_hat
                    .chunks(d)
                    .map(|r| r.iter().map(|v| v * v).sum::<f64>().sqrt())
                    .collect();
                let in_f32 = q_hat.iter().all(|v| v.abs() <= F32_QUERY_LIMIT);
                let candidates = if in_f32 {
                    screen_block::<f32>(&self.screen32, &q_hat, &norms, self.max_norm, d, k)
                } else {
                    screen_block::<f64>(self.screen64(), &q_hat, &norms, self.max_norm, d, k)
                };
                for (i, mut cand) in candidates.into_iter().enumerate() {
                    if cand.len() < k {
                        // Only non-finite screening values (overflow) can get here: rank all.
                        cand = (0..self.n).collect();
                    }
                    let qi = &q_raw[i * d..(i + 1) * d];
                    let mut scored: Vec<(f64, usize)> = cand
                        .into_iter()
                        .map(|j| (sq_dist(qi, &self.raw[j * d..(j + 1) * d], self.scale), j))
                        .collect();
                    scored.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                    for (slot, &(d2, j)) in scored[..k].iter().enumerate() {
                        ind[i * k + slot] = j;
                        dist[i * k + slot] = d2.sqrt() / self.scale;
                    }
                }
            });
        Neighbors {
            k,
            indices,
            distances,
        }
    }
}

/// `Σ ((a_i − b_i)·s)²`, left to right. `s` is a power of two, so this is exactly `s²` times the
/// unscaled sum (same rounding, same order and ties) while neither overflows nor underflows, and
/// it keeps the order where the unscaled squares would overflow.
fn sq_dist(a: &[f64], b: &[f64], s: f64) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let t = (x - y) * s;
            t * t
        })
        .sum()
}

/// Training rows `x̂` as `[−2·S(x̂), ‖S(x̂)‖²]` in precision `S`, in blocks of
/// [`train_block`]`(d)` rows, each block stored transposed (`(d + 1) × rows`, row-major) so the
/// tile GEMM reads it as a plain `k × n` operand, which `matrixmultiply` packs with contiguous
/// copies instead of strided gathers.
fn augment_train<S: Element>(hat: &[f64], d: usize) -> Vec<S> {
    let d1 = d + 1;
    let n = hat.len() / d;
    let block = train_block(d);
    let mut out = vec![S::ZERO; n * d1];
    for t0 in (0..n).step_by(block) {
        let tb = block.min(n - t0);
        let dst = &mut out[t0 * d1..(t0 + tb) * d1];
        for (i, r) in hat[t0 * d..(t0 + tb) * d].chunks(d).enumerate() {
            let mut norm = 0.0;
            for (j, &v) in r.iter().enumerate() {
                let s = S::from_f64(v);
                norm += s.to_f64() * s.to_f64();
                dst[j * tb + i] = S::from_f64(-2.0) * s;
            }
            dst[d * tb + i] = S::from_f64(norm);
        }
    }
    out
}

/// Unit roundoff of `S` (2⁻²⁴ for `f32`, 2⁻⁵³ for `f64`).
fn unit_roundoff<S: Element>() -> f64 {
    if S::NAME == "f32" {
        f64::from(f32::EPSILON) / 2.0
    } else {
        f64::EPSILON / 2.0
    }
}

/// A bound on `|v_j − (‖q̂ − x̂_j‖² − ‖q̂‖²)|` for the screening value computed in precision `S`,
/// plus the rounding of the final `f64` distance, for a query of norm `a` against rows of norm
/// at most `b` in `d` dimensions (screening coordinates).
///
/// With `u` the unit roundoff of `S` and `u' = u + 2⁻⁵²` (the `f64` centring folded in): the
/// casts perturb `q̂·x̂` by at most `2.01·u'·a·b`; the length-`(d+1)` dot product adds
/// `γ_{d+1}·(2ab + b²)`; the cast of `‖x̂‖²` adds `3.1·u'·b²`. Together they stay below
/// `2.5·(d + 8)·u'·(ab + b²)`. The `f64` distance of the ranking step errs by at most
/// `(d + 2)·2⁻⁵³·(a + b)²`, bounded here by `(d + 4)·2⁻⁵¹·(a + b)²`, and
/// `2⁻¹⁴⁰·(d + 1)·(1 + a + b)²` covers values that underflow to subnormals.
pub fn error_bound(u: f64, a: f64, b: f64, d: usize) -> f64 {
    let up = u + f64::EPSILON;
    let dd = d as f64;
    2.5 * (dd + 8.0) * up * (a * b + b * b)
        + (dd + 4.0) * (-51f64).exp2() * (a + b) * (a + b)
        + (-140f64).exp2() * (dd + 1.0) * (1.0 + a + b) * (1.0 + a + b)
}

/// Screens one block of queries (`q_hat`, `(qb, d)` in screening coordinates) against every
/// training row; returns each query's candidate indices (a superset of its `k` nearest).
fn screen_block<S: Element>(
    train: &[S],
    q_hat: &[f64],
    norms: &[f64],
    max_norm: f64,
    d: usize,
    k: usize,
) -> Vec<Vec<usize>> {
    let d1 = d + 1;
    let n = train.len() / d1;
    let qb = norms.len();
    let u = unit_roundoff::<S>();
    let mut queries = Vec::with_capacity(qb * d1);
    for r in q_hat.chunks(d) {
        queries.extend(r.iter().map(|&v| S::from_f64(v)));
        queries.push(S::ONE);
    }
    let mut states: Vec<Selection<S>> = norms
        .iter()
        .map(|&a| Selection::new(k, 2.0 * error_bound(u, a, max_norm, d) * (1.0 + 4.0 * u), u))
        .collect();
    let block = train_block(d);
    let mut tile = vec![S::ZERO; qb * block.min(n)];
    for t0 in (0..n).step_by(block) {
        let tb = block.min(n - t0);
        let tile = &mut tile[..qb * tb];
        // V (qb × tb) = [q̂, 1] (qb × (d+1)) · [−2x̂, ‖x̂‖²]ᵀ ((d+1) × tb, stored so).
        gemm(
            false,
            false,
            qb,
            tb,
            d1,
            S::ONE,
            &queries,
            &train[t0 * d1..(t0 + tb) * d1],
            S::ZERO,
            tile,
        );
        for (row, st) in tile.chunks(tb).zip(states.iter_mut()) {
            st.scan(row, t0);
        }
    }
    states.into_iter().map(Selection::finish).collect()
}

/// Running selection for one query: a max-heap of the `k` smallest screening values and the
/// candidates within the margin of its top.
struct Selection<S> {
    k: usize,
    /// Max-heap (largest first) of the `k` smallest values seen.
    heap: Vec<S>,
    /// `2e·(1 + 4u)`: the candidate margin above the heap's top.
    margin: f64,
    u: f64,
    /// Current admission threshold (+∞ until `k` values were seen).
    threshold: S,
    candidates: Vec<(S, usize)>,
    /// Prune the candidate list when it grows past this.
    cap: usize,
}

impl<S: Element> Selection<S> {
    fn new(k: usize, margin: f64, u: f64) -> Self {
        Selection {
            k,
            heap: Vec::with_capacity(k),
            margin,
            u,
            threshold: S::from_f64(f64::INFINITY),
            candidates: Vec::new(),
            cap: 4 * k + 64,
        }
    }

    /// `T + margin`, rounded up past the cast back to `S` (4u·|T| covers it).
    fn compute_threshold(&self) -> S {
        let t = self.heap[0].to_f64();
        S::from_f64(t + self.margin + 4.0 * self.u * t.abs())
    }

    /// Admits the values of one tile row (training rows `base..`). Most values exceed the
    /// threshold, so 16 at a time are tested with a branch-free OR (vectorised) first.
    fn scan(&mut self, row: &[S], base: usize) {
        const LANES: usize = 16;
        let mut chunks = row.chunks_exact(LANES);
        let mut offset = base;
        for c in &mut chunks {
            let threshold = self.threshold;
            if c.iter().fold(false, |hit, &v| hit | (v <= threshold)) {
                self.admit(c, offset);
            }
            offset += LANES;
        }
        self.admit(chunks.remainder(), offset);
    }

    fn admit(&mut self, values: &[S], base: usize) {
        for (j, &v) in values.iter().enumerate() {
            if v <= self.threshold {
                self.candidates.push((v, base + j));
                if self.heap.len() < self.k {
                    heap_push(&mut self.heap, v);
                    if self.heap.len() == self.k {
                        self.threshold = self.compute_threshold();
                    }
                } else if v < self.heap[0] {
                    heap_replace_top(&mut self.heap, v);
                    self.threshold = self.compute_threshold();
                }
                if self.candidates.len() > self.cap {
                    let threshold = self.threshold;
                    self.candidates.retain(|&(c, _)| c <= threshold);
                    self.cap = self.cap.max(2 * self.candidates.len());
                }
            }
        }
    }

    fn finish(mut self) -> Vec<usize> {
        let threshold = self.threshold;
        self.candidates.retain(|&(c, _)| c <= threshold);
        self.candidates.into_iter().map(|(_, j)| j).collect()
    }
}

/// Pushes onto a max-heap stored in a `Vec`.
fn heap_push<S: PartialOrd + Copy>(h: &mut Vec<S>, v: S) {
    h.push(v);
    let mut i = h.len() - 1;
    while i > 0 {
        let p = (i - 1) / 2;
        if h[p] < h[i] {
            h.swap(p, i);
            i = p;
        } else {
            break;
        }
    }
}

/// Replaces the top (largest) of a non-empty max-heap and restores the heap order.
fn heap_replace_top<S: PartialOrd + Copy>(h: &mut [S], v: S) {
    h[0] = v;
    let mut i = 0;
    loop {
        let (l, r) = (2 * i + 1, 2 * i + 2);
        let mut big = i;
        if l < h.len() && h[l] > h[big] {
            big = l;
        }
        if r < h.len() && h[r] > h[big] {
            big = r;
        }
        if big == i {
            break;
        }
        h.swap(i, big);
        i = big;
    }
}

/// Validates `k` against the training size.
fn check_k(op: &'static str, k: usize, n: usize) -> Result<()> {
    if k == 0 {
        return Err(Error::invalid(op, "k (n_neighbors) must be at least 1"));
    }
    if k > n {
        return Err(Error::invalid(
            op,
            format!("k = {k} neighbours requested but only {n} training rows"),
        ));
    }
    Ok(())
}

/// k-NN classifier: majority vote of the `k` nearest training rows (`k = 5` by default).
#[derive(Clone, Debug)]
pub struct KNeighborsClassifier {
    k: usize,
    fitted: Option<(Index, Vec<i64>, Vec<usize>)>,
}

impl Default for KNeighborsClassifier {
    fn default() -> Self {
        KNeighborsClassifier::new(5)
    }
}

impl KNeighborsClassifier {
    /// A classifier voting over `k` neighbours.
    pub fn new(k: usize) -> Self {
        KNeighborsClassifier { k, fitted: None }
    }

    /// The `k` nearest training rows of each row of `x`.
    pub fn kneighbors<T: Element>(&self, x: &Tensor<T>) -> Result<Neighbors> {
        const OP: &str = "KNeighborsClassifier::kneighbors";
        let (index, _, _) = self.fitted.as_ref().ok_or_else(|| not_fitted(OP))?;
        let m = check_predict_features(OP, x, index.d)?;
        Ok(index.search(&as_f64(x)?, m, self.k))
    }

    /// Votes per class, `(m, K)` row-major.
    fn votes<T: Element>(&self, x: &Tensor<T>) -> Result<(Vec<usize>, usize)> {
        let nb = self.kneighbors(x)?;
        let (_, classes, codes) = self
            .fitted
            .as_ref()
            .ok_or_else(|| not_fitted("KNeighborsClassifier::predict"))?;
        let kc = classes.len();
        let mut votes = vec![0usize; nb.len() * kc];
        for (i, v) in votes.chunks_mut(kc).enumerate() {
            for &j in nb.row(i).0 {
                v[codes[j]] += 1;
            }
        }
        Ok((votes, kc))
    }
}

impl Probe for KNeighborsClassifier {
    type Targets = [i64];
    type Output = Vec<i64>;

    /// Stores `x` `(n, d)` and labels `y`; needs `1 ≤ k ≤ n`.
    fn fit<T: Element>(&mut self, x: &Tensor<T>, y: &[i64]) -> Result<()> {
        const OP: &str = "KNeighborsClassifier::fit";
        self.fitted = None;
        let (n, d) = check_features(OP, x)?;
        check_label_len(OP, n, y)?;
        check_k(OP, self.k, n)?;
        let (classes, codes) = encode_labels(y);
        self.fitted = Some((Index::build(as_f64(x)?.into_owned(), n, d), classes, codes));
        Ok(())
    }

    /// The most voted class among the `k` neighbours (the smallest label on ties).
    fn predict<T: Element>(&self, x: &Tensor<T>) -> Result<Vec<i64>> {
        let (votes, kc) = self.votes(x)?;
        let classes = self.classes();
        Ok(votes
            .chunks(kc)
            .map(|v| {
                let mut best = 0;
                for (c, &n) in v.iter().enumerate() {
                    if n > v[best] {
                        best = c;
                    }
                }
                classes[best]
            })
            .collect())
    }
}

impl Classifier for KNeighborsClassifier {
    fn classes(&self) -> &[i64] {
        self.fitted.as_ref().map_or(&[], |f| f.1.as_slice())
    }

    /// The fraction of the `k` neighbours in each class.
    fn predict_proba<T: Element>(&self, x: &Tensor<T>) -> Result<Tensor<f64>> {
        let (votes, kc) = self.votes(x)?;
        let m = votes.len() / kc;
        let p = votes.iter().map(|&v| v as f64 / self.k as f64).collect();
        Tensor::from_vec(p, &[m, kc])
    }
}

/// k-NN regressor: mean target of the `k` nearest training rows (`k = 5` by default).
#[derive(Clone, Debug)]
pub struct KNeighborsRegressor {
    k: usize,
    /// Index, targets `(n, t)`, `t`, and whether the targets were 1-D.
    fitted: Option<(Index, Vec<f64>, usize, bool)>,
}

impl Default for KNeighborsRegressor {
    fn default() -> Self {
        KNeighborsRegressor::new(5)
    }
}

impl KNeighborsRegressor {
    /// A regressor averaging over `k` neighbours.
    pub fn new(k: usize) -> Self {
        KNeighborsRegressor { k, fitted: None }
    }

    /// The `k` nearest training rows of each row of `x`.
    pub fn kneighbors<T: Element>(&self, x: &Tensor<T>) -> Result<Neighbors> {
        const OP: &str = "KNeighborsRegressor::kneighbors";
        let (index, ..) = self.fitted.as_ref().ok_or_else(|| not_fitted(OP))?;
        let m = check_predict_features(OP, x, index.d)?;
        Ok(index.search(&as_f64(x)?, m, self.k))
    }
}

impl Probe for KNeighborsRegressor {
    type Targets = Tensor<f64>;
    type Output = Tensor<f64>;

    /// Stores `x` `(n, d)` and targets `y` `(n,)` or `(n, t)`; needs `1 ≤ k ≤ n`.
    fn fit<T: Element>(&mut self, x: &Tensor<T>, y: &Tensor<f64>) -> Result<()> {
        const OP: &str = "KNeighborsRegressor::fit";
        self.fitted = None;
        let (n, d) = check_features(OP, x)?;
        let t = check_targets(OP, n, y)?;
        check_k(OP, self.k, n)?;
        self.fitted = Some((
            Index::build(as_f64(x)?.into_owned(), n, d),
            y.data()?.to_vec(),
            t,
            y.ndim() == 1,
        ));
        Ok(())
    }

    /// The neighbours' mean target, shaped `(m,)` or `(m, t)` like the training targets.
    fn predict<T: Element>(&self, x: &Tensor<T>) -> Result<Tensor<f64>> {
        let nb = self.kneighbors(x)?;
        let (_, targets, t, one_d) = self
            .fitted
            .as_ref()
            .ok_or_else(|| not_fitted("KNeighborsRegressor::predict"))?;
        let m = nb.len();
        let mut out = vec![0.0; m * t];
        for (i, o) in out.chunks_mut(*t).enumerate() {
            for &j in nb.row(i).0 {
                o.iter_mut()
                    .zip(&targets[j * t..(j + 1) * t])
                    .for_each(|(a, v)| *a += v);
            }
            o.iter_mut().for_each(|a| *a /= self.k as f64);
        }
        if *one_d {
            Tensor::from_vec(out, &[m])
        } else {
            Tensor::from_vec(out, &[m, *t])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_keeps_the_k_smallest() {
        let mut h = Vec::new();
        for v in [5.0, 1.0, 4.0] {
            heap_push(&mut h, v);
        }
        assert_eq!(h[0], 5.0);
        heap_replace_top(&mut h, 2.0);
        assert_eq!(h[0], 4.0);
    }

    #[test]
    fn error_bound_grows_with_dimension_and_norms() {
        let u = unit_roundoff::<f32>();
        assert!(error_bound(u, 1.0, 1.0, 32) > error_bound(u, 1.0, 1.0, 8));
        assert!(error_bound(u, 2.0, 1.0, 32) > error_bound(u, 1.0, 1.0, 32));
        // For unit-scale data in 32-D the f32 screen margin is ~1e-5 of the squared norms.
        assert!(error_bound(u, 1.0, 1.0, 32) < 2e-5);
    }
}
