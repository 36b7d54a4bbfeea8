//! The logistic objective's one pass over `X`: logits, softmax (or the binary loss), residual and
//! `Xᵀ·R` per small tile of rows that stays in L1, four rows per SIMD lane group.
//!
//! Layout. `X` is repacked once, at construction, into *panels* of [`LANES`] rows: panel `p`
//! holds, for each feature `j`, the four values `x[4p..4p+4][j]` side by side, so every
//! vector operation works on four rows at once and no step needs a transpose or a horizontal
//! sum until a block ends. Rows are padded with zeros to whole tiles of [`TILE_PANELS`] panels
//! (the padding is masked out of the loss and the residual); features to a multiple of
//! [`J_STEP`]; weight rows (classes) to a multiple of [`K_STEP`] with zero rows.
//!
//! Per tile of 64 rows (8 KiB of `X` at d = 32 in `f32`, plus the 64 × K logits):
//! 1. `Z = X·Wᵀ + b`, two panels × five classes at a time (10 vector accumulators, 7 loads per
//!    10 fused multiply-adds);
//! 2. per panel, the row max `m`, `e_k = exp(z_k − m)` ([`exp_nonpositive`]), `s = Σ e_k`, the
//!    loss `m + ln s − z_y` and the residual `e/s − onehot(y)` in place of `Z`, all lane
//!    operations (the label enters as a packed vector of class codes, [`pack_labels`]: `z_y`
//!    and the one-hot are blends on `code == k`); `ln s` once per lane per tile;
//! 3. `G += Rᵀ·X`, five classes × two features at a time over the tile's panels.
//!
//! Tiles are grouped in fixed blocks of [`BLOCK_TILES`] tiles (1 024 rows), the unit of
//! parallelism; each block's partial gradient and loss are summed over its lanes in a fixed
//! order, and the caller adds the blocks in block order, so the result does not depend on the
//! thread count. A block's scratch ([`BlockOut`]) is allocated once, with the objective.
//!
//! Two builds of the same code, generic over [`Lanes`](super::lanes::Lanes): `Avx` (256-bit
//! AVX2 registers and fused multiply-adds through `std::arch`, detected at run time on x86-64)
//! and [`Portable`] (arrays, separate multiply and add). The two differ only in rounding (the
//! unit tests compare them); on one machine the choice is fixed, so results are reproducible.
//!
//! Measured alternatives (one evaluation at 60 000 × 32, 10 classes, one thread, CPU time on a
//! shared 2-core AMD EPYC with AVX2; session 5, machine lightly loaded): two `matrixmultiply`
//! GEMMs per 780-row block (`Z = X_c·Wᵀ`, then `(P − Y)ᵀ·X_c`) around a separate softmax pass
//! with `wide`'s `exp`, 9.9 ms; this pass with `X` in `f64`, 5.9 ms (it waited on memory:
//! hence the `f32` store and the prefetch of the next tile); in `f32`, 4.2 ms; Horner's `exp`
//! one vector at a time (a 13-step dependency chain), softmax 2× slower than the lockstep
//! groups. The portable build (no FMA, 128-bit lanes) takes 11.3 ms. Session 6 (load average
//! 16–20, so only ratios, each the best of 8 alternating runs): the lane-operation softmax and
//! explicit AVX2 registers instead of per-lane label code and auto-vectorised arrays, 1.03×
//! with 128-row tiles; 64-row tiles then 1.16–1.19× over the 128-row pass (32-row tiles
//! 1.08×; exp groups of 4 or 16 vectors instead of 8, no clear difference; without the
//! prefetch, no clear difference).

#[cfg(target_arch = "x86_64")]
use super::lanes::Avx;
use super::lanes::{exp_nonpositive, Lanes, Portable, F4, LANES};

/// Panels per tile (64 rows): what the three steps of the pass keep in L1.
pub const TILE_PANELS: usize = 16;
/// Rows per tile.
pub const TILE_ROWS: usize = LANES * TILE_PANELS;
/// Tiles per parallel block (1 024 rows). Fixed, so block boundaries and the order of the
/// partial sums never depend on the thread count.
pub const BLOCK_TILES: usize = 16;
/// Classes per register tile (weight rows are padded to a multiple of it).
pub const K_STEP: usize = 5;
/// Features per register tile in the gradient step (features are padded to a multiple of it).
pub const J_STEP: usize = 2;
/// Vectors whose `exp` runs in lockstep; divides `TILE_PANELS · K_STEP`.
const EXP_GROUP: usize = 8;
const _: () = assert!((TILE_PANELS * K_STEP).is_multiple_of(EXP_GROUP));

/// One stored panel row: four values of one feature, as `f32` or `f64`.
pub trait Stored: Copy + Send + Sync {
    /// The four values as `f64` lanes (exactly).
    fn lanes<L: Lanes>(&self) -> L;
}

impl Stored for [f32; LANES] {
    #[inline(always)]
    fn lanes<L: Lanes>(&self) -> L {
        L::load_f32(self)
    }
}

impl Stored for [f64; LANES] {
    #[inline(always)]
    fn lanes<L: Lanes>(&self) -> L {
        L::load(self)
    }
}

/// The panels' values: `f32` when every element of `X` is exactly an `f32` (embeddings
/// usually are), halving the memory the pass streams, else `f64`. Widening is exact, so the
/// choice never changes a result.
enum Store {
    F32(Vec<[f32; LANES]>),
    F64(Vec<F4>),
}

/// `X` repacked into panels (see the module docs).
pub struct Panels {
    /// Real rows.
    pub n: usize,
    /// Real features.
    pub d: usize,
    /// Features padded to [`J_STEP`].
    pub dp: usize,
    /// Panels (padded to whole tiles) of `dp` values each.
    panels: usize,
    /// Panel `p`, feature `j` at `p·dp + j`.
    data: Store,
}

impl Panels {
    /// Packs row-major `x` `(n, d)`, converting each element with `to_f64`.
    pub fn pack<T: Copy>(x: &[T], n: usize, d: usize, to_f64: impl Fn(T) -> f64) -> Panels {
        let dp = d.div_ceil(J_STEP) * J_STEP;
        let panels = n.div_ceil(TILE_ROWS) * TILE_PANELS;
        let fits_f32 = x.iter().all(|&v| {
            let v = to_f64(v);
            f64::from(v as f32) == v
        });
        let data = if fits_f32 {
            Store::F32(pack_as(x, d, dp, panels, |v| to_f64(v) as f32))
        } else {
            Store::F64(pack_as(x, d, dp, panels, to_f64))
        };
        Panels {
            n,
            d,
            dp,
            panels,
            data,
        }
    }

    /// Padded rows (a whole number of tiles).
    fn rows_padded(&self) -> usize {
        self.panels * LANES
    }

    /// Number of parallel blocks.
    pub fn n_blocks(&self) -> usize {
        self.rows_padded().div_ceil(BLOCK_TILES * TILE_ROWS)
    }

    /// Whether the values are held as `f32`.
    #[cfg(test)]
    pub fn is_f32(&self) -> bool {
        matches!(self.data, Store::F32(_))
    }
}

/// The class codes of `panels`' rows packed as the pass reads them: one vector per panel of
/// its four rows' codes as `f64` (exact below 2⁵³), −1 for the padding rows.
pub fn pack_labels(codes: &[usize], panels: &Panels) -> Vec<F4> {
    debug_assert_eq!(codes.len(), panels.n);
    let mut labels = vec![[-1.0; LANES]; panels.panels];
    for (i, &c) in codes.iter().enumerate() {
        labels[i / LANES][i % LANES] = c as f64;
    }
    labels
}

/// The panel layout of `x` `(·, d)` with `dp` features and `panels` panels, zero-padded.
fn pack_as<T: Copy, S: Copy + Default>(
    x: &[T],
    d: usize,
    dp: usize,
    panels: usize,
    convert: impl Fn(T) -> S,
) -> Vec<[S; LANES]> {
    let mut data = vec![[S::default(); LANES]; panels * dp];
    for (i, row) in x.chunks_exact(d).enumerate() {
        let (p, l) = (i / LANES, i % LANES);
        for (j, &v) in row.iter().enumerate() {
            data[p * dp + j][l] = convert(v);
        }
    }
    data
}

/// Which objective the pointwise step computes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Model {
    /// `K ≥ 3` classes, softmax.
    Multinomial {
        /// Number of classes `K`.
        classes: usize,
    },
    /// Two classes, one logit, `y ∈ {0, 1}`.
    Binary,
}

impl Model {
    /// Real weight rows: `K`, or 1 for the binary model.
    pub fn rows(self) -> usize {
        match self {
            Model::Multinomial { classes } => classes,
            Model::Binary => 1,
        }
    }

    /// Weight rows padded to [`K_STEP`].
    pub fn rows_padded(self) -> usize {
        self.rows().div_ceil(K_STEP) * K_STEP
    }
}

/// One block's scratch and results.
pub struct BlockOut {
    /// `Σ` over the block's rows of `r ⊗ x`, `(rows_padded × dp)`, lanes summed.
    pub gw: Vec<f64>,
    /// `Σ r`, `rows_padded`.
    pub gb: Vec<f64>,
    /// `Σ` of the pointwise losses.
    pub loss: f64,
    /// Per-lane accumulators of `gw`.
    gw4: Vec<F4>,
    /// Per-lane accumulators of `gb`.
    gb4: Vec<F4>,
    /// The tile's logits, then residuals: panel `p`, class `k` at `p·kp + k`.
    z: Vec<F4>,
}

impl BlockOut {
    /// Scratch for `model` on `panels`.
    pub fn new(model: Model, panels: &Panels) -> BlockOut {
        let kp = model.rows_padded();
        BlockOut {
            gw: vec![0.0; kp * panels.dp],
            gb: vec![0.0; kp],
            loss: 0.0,
            gw4: vec![[0.0; LANES]; kp * panels.dp],
            gb4: vec![[0.0; LANES]; kp],
            z: vec![[0.0; LANES]; TILE_PANELS * kp],
        }
    }
}

/// Whether this CPU runs the AVX2 + FMA build.
pub fn has_avx2_fma() -> bool {
    crate::cpu_features::avx2_fma()
}

/// What one evaluation's pass reads.
pub struct Pass<'a> {
    /// The objective.
    pub model: Model,
    /// `X`.
    pub panels: &'a Panels,
    /// Class codes packed by [`pack_labels`].
    pub labels: &'a [F4],
    /// The transposed weights `(dp × rows_padded)`, zero-padded.
    pub w: &'a [f64],
    /// The biases `(rows_padded)`, zero-padded.
    pub b: &'a [f64],
}

/// The pass over block `bi` into `out`. `fused` picks the AVX2 + FMA build and must only be
/// true where [`has_avx2_fma`] is.
pub fn block(fused: bool, pass: &Pass, bi: usize, out: &mut BlockOut) {
    match &pass.panels.data {
        Store::F32(x) => block_on(fused, pass, x, bi, out),
        Store::F64(x) => block_on(fused, pass, x, bi, out),
    }
}

/// [`block`] on the panels `x` (of `S`), in the build `fused` picks.
fn block_on<S: Stored>(fused: bool, pass: &Pass, x: &[S], bi: usize, out: &mut BlockOut) {
    #[cfg(target_arch = "x86_64")]
    if fused {
        assert!(Avx::available(), "the fused build needs AVX2 and FMA");
        // SAFETY: the CPU has AVX2 and FMA (checked above), all block_avx2 requires.
        unsafe { block_avx2(pass, x, bi, out) };
        return;
    }
    assert!(!fused, "the fused build needs x86-64 with AVX2 and FMA");
    block_with::<Portable, S>(pass, x, bi, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn block_avx2<S: Stored>(pass: &Pass, x: &[S], bi: usize, out: &mut BlockOut) {
    block_with::<Avx, S>(pass, x, bi, out);
}

/// `Σ` of the four lanes, in a fixed order.
#[inline(always)]
fn hsum(v: &F4) -> f64 {
    (v[0] + v[1]) + (v[2] + v[3])
}

/// The pass over block `bi` of the panels `xs`, in build `L`.
#[inline(always)]
fn block_with<L: Lanes, S: Stored>(pass: &Pass, xs: &[S], bi: usize, out: &mut BlockOut) {
    let Pass {
        model,
        panels,
        labels,
        w,
        b,
    } = *pass;
    let dp = panels.dp;
    let kp = model.rows_padded();
    debug_assert!(w.len() == dp * kp && b.len() == kp);
    debug_assert!(labels.len() * dp == xs.len());
    out.gw4.fill([0.0; LANES]);
    out.gb4.fill([0.0; LANES]);
    let mut loss4 = L::splat(0.0);
    let tiles = xs.len() / dp / TILE_PANELS;
    let first = bi * BLOCK_TILES;
    for t in first..tiles.min(first + BLOCK_TILES) {
        let p0 = t * TILE_PANELS;
        let x = &xs[p0 * dp..(p0 + TILE_PANELS) * dp];
        let tile_labels = &labels[p0..p0 + TILE_PANELS];
        if let Some(next) = xs.get((p0 + TILE_PANELS) * dp..(p0 + 2 * TILE_PANELS) * dp) {
            prefetch(next);
        }
        logits::<L, S>(x, dp, w, b, kp, &mut out.z);
        let tile_loss = match model {
            Model::Multinomial { classes } => {
                softmax_residual::<L>(&mut out.z, kp, classes, tile_labels)
            }
            Model::Binary => L::load(&binary_residual(&mut out.z, kp, tile_labels)),
        };
        loss4 = loss4.add(tile_loss);
        for zp in out.z.chunks_exact(kp) {
            for (g, r) in out.gb4.iter_mut().zip(zp) {
                *g = L::load(g).add(L::load(r)).to_array();
            }
        }
        gradient::<L, S>(x, dp, &out.z, kp, &mut out.gw4);
    }
    out.gw
        .iter_mut()
        .zip(&out.gw4)
        .for_each(|(g, v)| *g = hsum(v));
    out.gb
        .iter_mut()
        .zip(&out.gb4)
        .for_each(|(g, v)| *g = hsum(v));
    out.loss = hsum(&loss4.to_array());
}

/// Asks the cache for `v` (the next tile's panels) while this tile computes: streaming `X`
/// from memory is otherwise what the pass waits on.
#[inline(always)]
fn prefetch<S>(v: &[S]) {
    // Elements per 64-byte cache line.
    let per_line = (64 / std::mem::size_of::<S>()).max(1);
    #[cfg(target_arch = "x86_64")]
    for line in v.chunks(per_line) {
        // SAFETY: prefetching reads nothing and cannot fault; the address is in `v`.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                line.as_ptr().cast::<i8>(),
            )
        };
    }
}

/// Step 1: `z[p·kp + k] = b_k + Σ_j wt[j·kp + k]·x[p·dp + j]` for the tile's panels.
#[inline(always)]
fn logits<L: Lanes, S: Stored>(x: &[S], dp: usize, wt: &[f64], b: &[f64], kp: usize, z: &mut [F4]) {
    for (xx, zz) in x.chunks_exact(2 * dp).zip(z.chunks_exact_mut(2 * kp)) {
        let (xa, xb) = xx.split_at(dp);
        for k0 in (0..kp).step_by(K_STEP) {
            let bk: &[f64; K_STEP] = b[k0..k0 + K_STEP].try_into().expect("K_STEP classes");
            let mut acc_a = [L::splat(0.0); K_STEP];
            for (a, &bk) in acc_a.iter_mut().zip(bk) {
                *a = L::splat(bk);
            }
            let mut acc_b = acc_a;
            for ((va, vb), wj) in xa.iter().zip(xb).zip(wt.chunks_exact(kp)) {
                let (va, vb) = (va.lanes::<L>(), vb.lanes::<L>());
                let wj: &[f64; K_STEP] = wj[k0..k0 + K_STEP].try_into().expect("K_STEP classes");
                for t in 0..K_STEP {
                    let wv = L::splat(wj[t]);
                    acc_a[t] = va.madd(wv, acc_a[t]);
                    acc_b[t] = vb.madd(wv, acc_b[t]);
                }
            }
            for t in 0..K_STEP {
                zz[k0 + t] = acc_a[t].to_array();
                zz[kp + k0 + t] = acc_b[t].to_array();
            }
        }
    }
}

/// Step 2, multinomial: turns each panel's logits into residuals `softmax(z) − e_y` (0 for the
/// padding rows and classes) and returns the lanes' `Σ [logsumexp(z) − z_y]`. `labels` holds
/// the tile's class codes, one vector per panel, −1 for padding rows; every step is a lane
/// operation (the label's logit and the one-hot are blends on `code == k`).
///
/// `ln s` is taken once per lane per tile, as the log of the product of the tile's sums
/// (each in `[1, K]`, so the product of 16 cannot overflow for any `K < 10¹⁹`).
#[inline(always)]
fn softmax_residual<L: Lanes>(z: &mut [F4], kp: usize, classes: usize, labels: &[F4]) -> L {
    let zero = L::splat(0.0);
    let mut loss = zero;
    // Shift each row by its max (padding classes to −∞, so their e^z is 0); the loss's
    // `max − z_y` part (0 for padding rows).
    for (zp, code) in z.chunks_exact_mut(kp).zip(labels) {
        let code = L::load(code);
        let mut m = L::load(&zp[0]);
        for zk in &zp[1..classes] {
            m = m.max_keep(L::load(zk));
        }
        let mut zy = zero;
        for (k, zk) in zp[..classes].iter_mut().enumerate() {
            let v = L::load(zk);
            zy = L::select(code.eq(L::splat(k as f64)), v, zy);
            *zk = v.sub(m).to_array();
        }
        loss = loss.add(L::select(code.ge(zero), m.sub(zy), zero));
        zp[classes..].fill([f64::NEG_INFINITY; LANES]);
    }
    for group in z.chunks_exact_mut(EXP_GROUP) {
        let group: &mut [F4; EXP_GROUP] = group.try_into().expect("a whole group");
        let mut v = [L::splat(0.0); EXP_GROUP];
        for (v, z) in v.iter_mut().zip(group.iter()) {
            *v = L::load(z);
        }
        let e = exp_nonpositive::<L, EXP_GROUP>(v);
        for (v, e) in group.iter_mut().zip(e) {
            *v = e.to_array();
        }
    }
    let one = L::splat(1.0);
    let mut prod = one;
    for (zp, code) in z.chunks_exact_mut(kp).zip(labels) {
        let code = L::load(code);
        let live = code.ge(zero);
        let mut s = L::load(&zp[0]);
        for e in &zp[1..classes] {
            s = s.add(L::load(e));
        }
        // Padding rows contribute a factor 1 (and a residual 0).
        prod = prod.mul(L::select(live, s, one));
        let scale = L::select(live, one.div(s), zero);
        for (k, e) in zp.iter_mut().enumerate() {
            let one_hot = L::select(code.eq(L::splat(k as f64)), one, zero);
            *e = L::load(e).mul(scale).sub(one_hot).to_array();
        }
    }
    let mut ln_prod = prod.to_array();
    for v in &mut ln_prod {
        *v = v.ln();
    }
    loss.add(L::load(&ln_prod))
}

/// Step 2, binary: residuals `σ(z) − y` (0 for padding) in column 0, 0 in the padding
/// classes; returns the lanes' `Σ [log(1 + e^z) − y·z]` (scikit-learn's stable branches).
/// `labels` as for [`softmax_residual`].
#[inline(always)]
fn binary_residual(z: &mut [F4], kp: usize, labels: &[F4]) -> F4 {
    let mut loss = [0.0; LANES];
    for (zp, code) in z.chunks_exact_mut(kp).zip(labels) {
        for l in 0..LANES {
            if code[l] >= 0.0 {
                let (lo, g) = super::binary_point(zp[0][l], code[l] as usize);
                loss[l] += lo;
                zp[0][l] = g;
            } else {
                zp[0][l] = 0.0;
            }
        }
        zp[1..].fill([0.0; LANES]);
    }
    loss
}

/// Step 3: `g4[k·dp + j] += Σ_p r[p·kp + k] ⊙ x[p·dp + j]` over the tile's panels.
#[inline(always)]
fn gradient<L: Lanes, S: Stored>(x: &[S], dp: usize, r: &[F4], kp: usize, g4: &mut [F4]) {
    for k0 in (0..kp).step_by(K_STEP) {
        for j0 in (0..dp).step_by(J_STEP) {
            let mut acc = [[L::splat(0.0); J_STEP]; K_STEP];
            for t in 0..K_STEP {
                for u in 0..J_STEP {
                    acc[t][u] = L::load(&g4[(k0 + t) * dp + j0 + u]);
                }
            }
            for (rp, xp) in r.chunks_exact(kp).zip(x.chunks_exact(dp)) {
                let rp: &[F4; K_STEP] = rp[k0..k0 + K_STEP].try_into().expect("K_STEP classes");
                let xp: &[S; J_STEP] = xp[j0..j0 + J_STEP].try_into().expect("J_STEP features");
                let xv = [xp[0].lanes::<L>(), xp[1].lanes::<L>()];
                for t in 0..K_STEP {
                    let rv = L::load(&rp[t]);
                    for u in 0..J_STEP {
                        acc[t][u] = rv.madd(xv[u], acc[t][u]);
                    }
                }
            }
            for t in 0..K_STEP {
                for u in 0..J_STEP {
                    g4[(k0 + t) * dp + j0 + u] = acc[t][u].to_array();
                }
            }
        }
    }
}
