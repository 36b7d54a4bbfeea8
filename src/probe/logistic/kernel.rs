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
//! Per tile of 128 rows (16 KiB of `X` at d = 32 in `f32`, plus the 128 × K logits):
//! 1. `Z = X·Wᵀ + b`, two panels × five classes at a time (10 vector accumulators, 7 loads per
//!    10 fused multiply-adds);
//! 2. per panel, the row max `m`, `e_k = exp(z_k − m)` ([`exp_group`]), `s = Σ e_k`, the loss
//!    `m + ln s − z_y` and the residual `e/s − onehot(y)` in place of `Z`; `ln s` is taken once
//!    per lane per tile as the log of the product of the tile's 32 sums (each in `[1, K]`, so
//!    the product cannot overflow for any `K < 4·10⁹`);
//! 3. `G += Rᵀ·X`, five classes × two features at a time over the tile's panels.
//!
//! Tiles are grouped in fixed blocks of [`BLOCK_TILES`] tiles (1 024 rows), the unit of
//! parallelism; each block's partial gradient and loss are summed over its lanes in a fixed
//! order, and the caller adds the blocks in block order, so the result does not depend on the
//! thread count.
//!
//! Two builds of the same code: with AVX2 and FMA (detected at run time on x86-64) the vector
//! arithmetic compiles to 256-bit fused multiply-adds; everywhere else to the baseline
//! instruction set with separate multiply and add. The two differ only in rounding (the unit
//! tests compare them); on one machine the choice is fixed, so results are reproducible.
//!
//! Measured alternatives (one evaluation at 60 000 × 32, 10 classes, one thread, CPU time on a
//! shared 2-core AMD EPYC with AVX2): two `matrixmultiply` GEMMs per 780-row block
//! (`Z = X_c·Wᵀ`, then `(P − Y)ᵀ·X_c`) around a separate softmax pass with `wide`'s `exp`,
//! 9.9 ms; this pass with `X` in `f64`, 5.9 ms (it waited on memory: hence the `f32` store and
//! the prefetch of the next tile); in `f32`, 4.2 ms; 64-row tiles instead of 128, 4.7 ms;
//! Horner's `exp` one vector at a time (a 13-step dependency chain), softmax 2× slower than
//! the lockstep groups. The portable build (no FMA, 128-bit lanes) takes 11.3 ms.

/// Rows per lane group (one `[f64; 4]`).
pub const LANES: usize = 4;
/// Panels per tile (128 rows): what the three steps of the pass keep in L1.
pub const TILE_PANELS: usize = 32;
/// Rows per tile.
pub const TILE_ROWS: usize = LANES * TILE_PANELS;
/// Tiles per parallel block (1 024 rows). Fixed, so block boundaries and the order of the
/// partial sums never depend on the thread count.
pub const BLOCK_TILES: usize = 8;
/// Classes per register tile (weight rows are padded to a multiple of it).
pub const K_STEP: usize = 5;
/// Features per register tile in the gradient step (features are padded to a multiple of it).
pub const J_STEP: usize = 2;
/// Vectors whose `exp` runs in lockstep; divides `TILE_PANELS · K_STEP`.
const EXP_GROUP: usize = 8;

/// Four `f64` lanes (four rows of a panel).
pub type F4 = [f64; LANES];

/// `a·b + c` as one instruction set computes it: fused (one rounding) or separate.
pub trait Madd {
    /// `a·b + c`.
    fn madd(a: f64, b: f64, c: f64) -> f64;
}

/// `a.mul_add(b, c)`: one rounding; fast only where the CPU has FMA.
pub struct Fused;
impl Madd for Fused {
    #[inline(always)]
    fn madd(a: f64, b: f64, c: f64) -> f64 {
        a.mul_add(b, c)
    }
}

/// `a * b + c`: two roundings; the baseline instruction set.
pub struct Separate;
impl Madd for Separate {
    #[inline(always)]
    fn madd(a: f64, b: f64, c: f64) -> f64 {
        a * b + c
    }
}

#[inline(always)]
fn madd4<M: Madd>(a: F4, b: F4, c: F4) -> F4 {
    [
        M::madd(a[0], b[0], c[0]),
        M::madd(a[1], b[1], c[1]),
        M::madd(a[2], b[2], c[2]),
        M::madd(a[3], b[3], c[3]),
    ]
}

#[inline(always)]
fn map2(a: F4, b: F4, f: impl Fn(f64, f64) -> f64) -> F4 {
    [f(a[0], b[0]), f(a[1], b[1]), f(a[2], b[2]), f(a[3], b[3])]
}

/// `e^x` on `G` vectors of four lanes, for `x ≤ 0` (shifted logits); NaN stays NaN, below
/// −708 gives 0.
///
/// Cody–Waite reduction `x = n·ln 2 + r`, `n = round(x·log₂e)` (by the 1.5·2⁵² trick, no
/// rounding instruction needed), `|r| ≤ ln2/2 + 2⁻⁴⁰` with `ln 2` split in a 32-bit head
/// (so `n·LN2_HI` is exact for `|n| ≤ 2²¹`) and a tail; then `e^r` by its degree-13 Taylor
/// polynomial in Horner form and the scaling `2^n` through the exponent bits.
///
/// Error: the truncated series' relative error is `|r|¹⁴/14! ≤ 4.3·10⁻¹⁸ = 0.04 ulp`; the
/// reduction's, `|n|·|LN2_LO error| ≤ 1025·2⁻¹⁰⁶ ≈ 10⁻²⁹` absolute in `r`; Horner's rounding,
/// with every term after the first two below `r²/2 ≤ 0.061`, stays within about 1 ulp of the
/// result, so the result is within 2 ulp of `e^x` over `[−708, 0]` (the unit test measures ≤ 2
/// against the correctly rounded reference on a dense sweep). Below −708 the true value is
/// under 3.3·10⁻³⁰⁸: flushed to 0, negligible next to the row's largest term `e⁰ = 1`.
///
/// Only for `x ≤ 0` (the callers pass `z − max z`; NaN propagates): above ln(f64::MAX) the
/// exponent bits would wrap instead of giving infinity.
///
/// In place on `G` vectors at once: the polynomial's steps run in lockstep over the group, so
/// `G` independent multiply-add chains hide each other's latency.
#[inline(always)]
fn exp_group<M: Madd, const G: usize>(x: &mut [F4; G]) {
    debug_assert!(
        x.iter().flatten().all(|v| v.is_nan() || *v <= 0.0),
        "exp_group takes x ≤ 0"
    );
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    // 1.5·2⁵²: adding it rounds to an integer held in the low mantissa bits.
    const SHIFT: f64 = 6_755_399_441_055_744.0;
    // ln 2 = LN2_HI + LN2_LO, LN2_HI with 32 significant bits.
    // fdlibm's split: 0.6931471803691238…, 1.9082149292705877…e−10.
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    const C: [f64; 14] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5_040.0,
        1.0 / 40_320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
        1.0 / 479_001_600.0,
        1.0 / 6_227_020_800.0,
    ];
    let mut t = [[0.0; LANES]; G];
    let mut r = [[0.0; LANES]; G];
    let mut p = [[C[13]; LANES]; G];
    for g in 0..G {
        // Below −709 the clamp keeps 2^n's exponent field in range (NaN fails the test and
        // stays NaN).
        let xl = x[g].map(|v| if v < -709.0 { -709.0 } else { v });
        t[g] = madd4::<M>(xl, [LOG2E; LANES], [SHIFT; LANES]);
        let n = t[g].map(|v| v - SHIFT);
        r[g] = madd4::<M>(n, [-LN2_HI; LANES], xl);
        r[g] = madd4::<M>(n, [-LN2_LO; LANES], r[g]);
    }
    for &c in C[..13].iter().rev() {
        for g in 0..G {
            p[g] = madd4::<M>(p[g], r[g], [c; LANES]);
        }
    }
    for g in 0..G {
        // 2^n from the integer in t's low bits (n ≥ −1023 here, so the field is ≥ 0).
        let scale = t[g].map(|v| {
            let n = v.to_bits().wrapping_sub(SHIFT.to_bits()) as i64;
            f64::from_bits(((n + 1023) as u64) << 52)
        });
        let v = map2(p[g], scale, |a, b| a * b);
        x[g] = map2(x[g], v, |x, v| if x < -708.0 { 0.0 } else { v });
    }
}

/// One stored panel row: four values of one feature, as `f32` or `f64`.
pub trait Stored: Copy + Send + Sync {
    /// The four values as `f64` (exactly).
    fn widen(self) -> F4;
}

impl Stored for [f32; LANES] {
    #[inline(always)]
    fn widen(self) -> F4 {
        self.map(f64::from)
    }
}

impl Stored for [f64; LANES] {
    #[inline(always)]
    fn widen(self) -> F4 {
        self
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
    /// Class codes, one per real row.
    pub codes: &'a [usize],
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
        assert!(has_avx2_fma(), "the fused build needs AVX2 and FMA");
        // SAFETY: the CPU has AVX2 and FMA (checked above), all block_avx2 requires.
        unsafe { block_avx2(pass, x, bi, out) };
        return;
    }
    assert!(!fused, "the fused build needs x86-64 with AVX2 and FMA");
    block_with::<Separate, S>(pass, x, bi, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn block_avx2<S: Stored>(pass: &Pass, x: &[S], bi: usize, out: &mut BlockOut) {
    block_with::<Fused, S>(pass, x, bi, out);
}

/// The pass over block `bi` of the panels `xs`.
#[inline(always)]
fn block_with<M: Madd, S: Stored>(pass: &Pass, xs: &[S], bi: usize, out: &mut BlockOut) {
    let Pass {
        model,
        panels,
        codes,
        w,
        b,
    } = *pass;
    let (n, dp) = (panels.n, panels.dp);
    let kp = model.rows_padded();
    debug_assert!(w.len() == dp * kp && b.len() == kp);
    out.gw4.fill([0.0; LANES]);
    let mut gb4 = vec![[0.0; LANES]; kp];
    let mut loss4 = [0.0; LANES];
    let tiles = xs.len() / dp / TILE_PANELS;
    let first = bi * BLOCK_TILES;
    for t in first..tiles.min(first + BLOCK_TILES) {
        let p0 = t * TILE_PANELS;
        let x = &xs[p0 * dp..(p0 + TILE_PANELS) * dp];
        if let Some(next) = xs.get((p0 + TILE_PANELS) * dp..(p0 + 2 * TILE_PANELS) * dp) {
            prefetch(next);
        }
        logits::<M, S>(x, dp, w, b, kp, &mut out.z);
        let tile_loss = match model {
            Model::Multinomial { classes } => {
                softmax_residual::<M>(&mut out.z, kp, classes, codes, n, p0 * LANES)
            }
            Model::Binary => binary_residual(&mut out.z, kp, codes, n, p0 * LANES),
        };
        loss4 = map2(loss4, tile_loss, |a, b| a + b);
        for p in 0..TILE_PANELS {
            for (g, r) in gb4.iter_mut().zip(&out.z[p * kp..(p + 1) * kp]) {
                *g = map2(*g, *r, |a, b| a + b);
            }
        }
        gradient::<M, S>(x, dp, &out.z, kp, &mut out.gw4);
    }
    let hsum = |v: &F4| (v[0] + v[1]) + (v[2] + v[3]);
    out.gw
        .iter_mut()
        .zip(&out.gw4)
        .for_each(|(g, v)| *g = hsum(v));
    out.gb.iter_mut().zip(&gb4).for_each(|(g, v)| *g = hsum(v));
    out.loss = hsum(&loss4);
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
fn logits<M: Madd, S: Stored>(x: &[S], dp: usize, wt: &[f64], b: &[f64], kp: usize, z: &mut [F4]) {
    for pp in (0..TILE_PANELS).step_by(2) {
        let (xa, xb) = (&x[pp * dp..(pp + 1) * dp], &x[(pp + 1) * dp..(pp + 2) * dp]);
        for k0 in (0..kp).step_by(K_STEP) {
            let mut acc = [[[0.0; LANES]; K_STEP]; 2];
            for t in 0..K_STEP {
                acc[0][t] = [b[k0 + t]; LANES];
                acc[1][t] = [b[k0 + t]; LANES];
            }
            for (j, wj) in wt.chunks_exact(kp).enumerate().take(dp) {
                let (va, vb) = (xa[j].widen(), xb[j].widen());
                let wj: &[f64; K_STEP] = wj[k0..k0 + K_STEP].try_into().expect("K_STEP classes");
                for t in 0..K_STEP {
                    let wv = [wj[t]; LANES];
                    acc[0][t] = madd4::<M>(va, wv, acc[0][t]);
                    acc[1][t] = madd4::<M>(vb, wv, acc[1][t]);
                }
            }
            for t in 0..K_STEP {
                z[pp * kp + k0 + t] = acc[0][t];
                z[(pp + 1) * kp + k0 + t] = acc[1][t];
            }
        }
    }
}

/// `1.0` for the lanes of panel rows `row0..row0 + 4` below `n`, else `0.0`.
#[inline(always)]
fn mask(row0: usize, n: usize) -> F4 {
    let mut m = [0.0; LANES];
    for (l, v) in m.iter_mut().enumerate() {
        if row0 + l < n {
            *v = 1.0;
        }
    }
    m
}

/// Step 2, multinomial: turns each panel's logits into residuals `softmax(z) − e_y` (0 for the
/// padding rows and classes) and returns the lanes' `Σ [logsumexp(z) − z_y]`.
#[inline(always)]
fn softmax_residual<M: Madd>(
    z: &mut [F4],
    kp: usize,
    classes: usize,
    codes: &[usize],
    n: usize,
    row0: usize,
) -> F4 {
    let mut loss = [0.0; LANES];
    // Shift each row by its max (padding classes to −∞, so their e^z is 0); the loss's
    // `max − z_y` part.
    let mut y = [[0usize; LANES]; TILE_PANELS];
    for (p, zp) in z.chunks_exact_mut(kp).enumerate() {
        let r0 = row0 + p * LANES;
        let mut m = zp[0];
        for zk in &zp[1..classes] {
            m = map2(m, *zk, |a, b| if b > a { b } else { a });
        }
        for l in 0..LANES {
            if r0 + l < n {
                y[p][l] = codes[r0 + l];
                loss[l] += m[l] - zp[y[p][l]][l];
            }
        }
        for zk in &mut zp[..classes] {
            *zk = map2(*zk, m, |a, b| a - b);
        }
        zp[classes..].fill([f64::NEG_INFINITY; LANES]);
    }
    for group in z.chunks_exact_mut(EXP_GROUP) {
        let group: &mut [F4; EXP_GROUP] = group.try_into().expect("a whole group");
        exp_group::<M, EXP_GROUP>(group);
    }
    let mut prod = [1.0; LANES];
    for (p, zp) in z.chunks_exact_mut(kp).enumerate() {
        let r0 = row0 + p * LANES;
        let live = mask(r0, n);
        let mut s = zp[0];
        for e in &zp[1..classes] {
            s = map2(s, *e, |a, b| a + b);
        }
        // Padding rows contribute a factor 1 (and a residual 0).
        let s_live = map2(s, live, |s, on| if on != 0.0 { s } else { 1.0 });
        prod = map2(prod, s_live, |a, b| a * b);
        let scale = map2(live, s, |on, s| on / s);
        for e in zp.iter_mut() {
            *e = map2(*e, scale, |a, b| a * b);
        }
        for l in 0..LANES {
            if r0 + l < n {
                zp[y[p][l]][l] -= 1.0;
            }
        }
    }
    map2(loss, prod, |a, b| a + b.ln())
}

/// Step 2, binary: residuals `σ(z) − y` (0 for padding) in column 0, 0 in the padding
/// classes; returns the lanes' `Σ [log(1 + e^z) − y·z]` (scikit-learn's stable branches).
#[inline(always)]
fn binary_residual(z: &mut [F4], kp: usize, codes: &[usize], n: usize, row0: usize) -> F4 {
    let mut loss = [0.0; LANES];
    for p in 0..TILE_PANELS {
        let r0 = row0 + p * LANES;
        let zp = &mut z[p * kp..(p + 1) * kp];
        for l in 0..LANES {
            if r0 + l < n {
                let (lo, g) = super::binary_point(zp[0][l], codes[r0 + l]);
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
fn gradient<M: Madd, S: Stored>(x: &[S], dp: usize, r: &[F4], kp: usize, g4: &mut [F4]) {
    for k0 in (0..kp).step_by(K_STEP) {
        for j0 in (0..dp).step_by(J_STEP) {
            let mut acc = [[[0.0; LANES]; J_STEP]; K_STEP];
            for t in 0..K_STEP {
                for u in 0..J_STEP {
                    acc[t][u] = g4[(k0 + t) * dp + j0 + u];
                }
            }
            for p in 0..TILE_PANELS {
                let rp = &r[p * kp + k0..p * kp + k0 + K_STEP];
                let xp = &x[p * dp + j0..p * dp + j0 + J_STEP];
                let xv: [F4; J_STEP] = std::array::from_fn(|u| xp[u].widen());
                for t in 0..K_STEP {
                    for u in 0..J_STEP {
                        acc[t][u] = madd4::<M>(rp[t], xv[u], acc[t][u]);
                    }
                }
            }
            for t in 0..K_STEP {
                for u in 0..J_STEP {
                    g4[(k0 + t) * dp + j0 + u] = acc[t][u];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place between two positive finite doubles.
    fn ulps(a: f64, b: f64) -> u64 {
        a.to_bits().abs_diff(b.to_bits())
    }

    /// The AVX2 + FMA build of the exp, on one vector.
    fn exp_fused(x: F4) -> F4 {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        fn run(x: F4) -> F4 {
            let mut v = [x];
            exp_group::<Fused, 1>(&mut v);
            v[0]
        }
        assert!(has_avx2_fma());
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has AVX2 and FMA (asserted above).
        return unsafe { run(x) };
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("only x86-64 has the fused build")
    }

    #[test]
    fn exp_is_within_2_ulp_of_libm_on_both_builds() {
        let mut worst = [0u64; 2];
        let mut x = -708.0;
        while x <= 0.0 {
            let v = [x, x * 0.5, x * 1e-3, x * 1e-9];
            let fused = if has_avx2_fma() {
                Some(exp_fused(v))
            } else {
                None
            };
            let mut separate = [v];
            exp_group::<Separate, 1>(&mut separate);
            let separate = separate[0];
            for l in 0..LANES {
                let want = v[l].exp();
                worst[0] = worst[0].max(ulps(separate[l], want));
                if let Some(f) = fused {
                    worst[1] = worst[1].max(ulps(f[l], want));
                }
            }
            x += 0.000_713_7;
        }
        // libm's exp is within 1 ulp of e^x itself, so 3 ulp from libm bounds 2 from e^x.
        assert!(worst[0] <= 3 && worst[1] <= 3, "{worst:?}");
        let mut edge = [[-708.5, -1e6, f64::NEG_INFINITY, f64::NAN], [0.0; 4]];
        exp_group::<Separate, 2>(&mut edge);
        assert_eq!(&edge[0][..3], &[0.0, 0.0, 0.0]);
        assert!(edge[0][3].is_nan());
        assert_eq!(edge[1], [1.0; 4]);
    }
}
