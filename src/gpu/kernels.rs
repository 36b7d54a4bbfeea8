//! The WGSL kernels. Each is one shader module: a shared prelude (the parameter block at
//! binding 0, its accessors, and for the one-thread-per-item kernels the entry point that calls
//! `item(i)` for `i < p(0)`), then the kernel's own bindings (inputs, then outputs) and code.
//!
//! Algorithm choices and tuning constants:
//! - GEMM: 64×64 output tiles per workgroup of 16×16 threads, each thread a 4×4 block, K in
//!   steps of 16 through workgroup memory. Bigger tiles cut global reads (each loaded element
//!   is used 64 times) but leave fewer workgroups for small matrices; 64 fits the batch-256
//!   training shapes (256×256 similarity, 256×64 heads) with 16 or more workgroups. Products
//!   of at most 32 rows (the convolutions' per-image products, C_out = 6 or 16) use 16-row
//!   tiles instead, which cut the wasted rows 4-fold.
//! - Row reductions that feed a scalar (sum of all elements) use one workgroup per row and a
//!   tree in workgroup memory; the per-row ops of the losses (logsumexp, log-softmax, L2
//!   normalisation) use one thread per row: their rows are short (≤ 512) and few.
//! - Convolution is im2col + the batched GEMM, its backward the GEMM + col2im; col2im gathers
//!   (each input pixel sums the patches it is in) instead of scattering, so it needs no atomics
//!   and adds in a fixed order.

/// Words in every kernel's parameter block (a uniform buffer of `PARAM_WORDS / 4` vec4s).
pub(super) const PARAM_WORDS: usize = 32;

/// How the kernel's threads map to work.
#[derive(Clone, Copy)]
enum Layout {
    /// One thread per item over a folded 1-D grid; the body defines `fn item(i: u32)`, `p(0)`
    /// is the item count.
    Items,
    /// The body defines its own entry point `main`.
    Custom,
}

/// One compute kernel.
pub(super) struct Kernel {
    /// Name (the pipeline cache key and the debug label).
    pub name: &'static str,
    layout: Layout,
    body: &'static str,
}

const PRELUDE: &str = r#"
// Binding 0 of every kernel: its parameters as u32 words (f32 ones bit-cast).
@group(0) @binding(0) var<uniform> params: array<vec4<u32>, 8>;

fn p(i: u32) -> u32 {
    return params[i / 4u][i % 4u];
}

fn pf(i: u32) -> f32 {
    return bitcast<f32>(p(i));
}
"#;

const ITEMS_MAIN: &str = r#"
@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = (wid.y * nwg.x + wid.x) * 256u + lid;
    if (i < p(0u)) {
        item(i);
    }
}
"#;

impl Kernel {
    /// The complete WGSL source.
    pub fn source(&self) -> String {
        match self.layout {
            Layout::Items => format!("{PRELUDE}{ITEMS_MAIN}{}", self.body),
            Layout::Custom => format!("{PRELUDE}{}", self.body),
        }
    }
}

/// WGSL `conv_geometry()`: the convolution parameters `p(1..=9)` = C, H, W, KH, KW, OH, OW,
/// stride, pad, shared by the convolution kernels.
macro_rules! conv_geometry_fn {
    () => {
        r#"
struct ConvGeometry {
    c_in: u32, h: u32, w: u32, kh_n: u32, kw_n: u32, oh_n: u32, ow_n: u32, s: u32, pad: u32,
}

fn conv_geometry() -> ConvGeometry {
    return ConvGeometry(p(1u), p(2u), p(3u), p(4u), p(5u), p(6u), p(7u), p(8u), p(9u));
}
"#
    };
}

/// WGSL `pool_geometry()`: the pooling parameters `p(1..=5)` = H, W, OH, OW, k.
macro_rules! pool_geometry_fn {
    () => {
        r#"
struct PoolGeometry {
    h: u32, w: u32, oh_n: u32, ow_n: u32, k: u32,
}

fn pool_geometry() -> PoolGeometry {
    return PoolGeometry(p(1u), p(2u), p(3u), p(4u), p(5u));
}
"#
    };
}

/// Unary maps and scalar ops: `p = [n, op, s]`; op 0 relu, 1 exp, 2 ln, 3 sqrt, 4 neg,
/// 5..8 `x + s`, `x − s`, `x · s`, `x / s`.
pub(super) const MAP: Kernel = Kernel {
    name: "map",
    layout: Layout::Items,
    body: r#"
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn item(i: u32) {
    let x = a[i];
    let s = pf(2u);
    var y = x;
    switch p(1u) {
        case 0u: { y = select(0.0, x, x > 0.0); }
        case 1u: { y = exp(x); }
        case 2u: { y = log(x); }
        case 3u: { y = sqrt(x); }
        case 4u: { y = -x; }
        case 5u: { y = x + s; }
        case 6u: { y = x - s; }
        case 7u: { y = x * s; }
        case 8u: { y = x / s; }
        default: {}
    }
    out[i] = y;
}
"#,
};

/// `out = a op b` with `b` broadcast: `p = [n, op, ndim, fill, shape[8], b_strides[8]]`
/// (b's stride is 0 along broadcast axes); op 0..3 add, sub, mul, div; 4 relu backward (`a` the
/// relu output, `b` the gradient); 5 masked fill (`b` the mask as 0/1, `fill` the value).
pub(super) const BINARY: Kernel = Kernel {
    name: "binary",
    layout: Layout::Items,
    body: r#"
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn item(i: u32) {
    let nd = p(2u);
    var rem = i;
    var j = 0u;
    for (var d = 0u; d < nd; d++) {
        let axis = nd - 1u - d;
        let len = p(4u + axis);
        j += (rem % len) * p(12u + axis);
        rem = rem / len;
    }
    let x = a[i];
    let y = b[j];
    var r = x;
    switch p(1u) {
        case 0u: { r = x + y; }
        case 1u: { r = x - y; }
        case 2u: { r = x * y; }
        case 3u: { r = x / y; }
        case 4u: { r = select(0.0, y, x > 0.0); }
        case 5u: { r = select(x, pf(3u), y != 0.0); }
        default: {}
    }
    out[i] = r;
}
"#,
};

/// The batched GEMM `C_z = op(A_z)·op(B_z)`, for a tile of `16·ROWS` rows and 64 columns:
/// `p = [M, N, K, trans_a, trans_b, batch stride of A, of B, of C, workgroup offset along x, y,
/// z]` (a stride of 0 shares the operand); grid `[⌈N/64⌉, ⌈M/(16·ROWS)⌉, batch]`, dispatched in
/// chunks of at most 65535 workgroups per axis, the offsets saying where a chunk starts. Each
/// of the 16×16 threads computes `ROWS` rows × 4 columns, strided by 16 so neighbouring threads
/// touch neighbouring elements.
macro_rules! gemm_body {
    ($rows:literal) => {
        concat!(
            "const ROWS: u32 = ",
            $rows,
            "u;\n",
            r#"
const TILE_M: u32 = 16u * ROWS;

@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

var<workgroup> tile_a: array<f32, TILE_M * 16u>; // [TILE_M rows][16 k]
var<workgroup> tile_b: array<f32, 1024>;         // [16 k][64 cols]

fn load_a(z: u32, r: u32, k: u32) -> f32 {
    let m = p(0u);
    let kk = p(2u);
    if (r >= m || k >= kk) {
        return 0.0;
    }
    let at = select(r * kk + k, k * m + r, p(3u) != 0u);
    return a[z * p(5u) + at];
}

fn load_b(z: u32, k: u32, col: u32) -> f32 {
    let n = p(1u);
    let kk = p(2u);
    if (k >= kk || col >= n) {
        return 0.0;
    }
    let at = select(k * n + col, col * kk + k, p(4u) != 0u);
    return b[z * p(6u) + at];
}

@compute @workgroup_size(16, 16)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let m = p(0u);
    let n = p(1u);
    let kk = p(2u);
    let z = wid.z + p(10u);
    let row0 = (wid.y + p(9u)) * TILE_M;
    let col0 = (wid.x + p(8u)) * 64u;
    let t = lid.y * 16u + lid.x;
    var acc: array<f32, ROWS * 4u>;
    for (var k0 = 0u; k0 < kk; k0 += 16u) {
        for (var q = 0u; q < ROWS; q++) {
            let e = t + q * 256u;
            tile_a[e] = load_a(z, row0 + e / 16u, k0 + e % 16u);
        }
        for (var q = 0u; q < 4u; q++) {
            let e = t + q * 256u;
            tile_b[e] = load_b(z, k0 + e / 64u, col0 + e % 64u);
        }
        workgroupBarrier();
        for (var k = 0u; k < 16u; k++) {
            var av: array<f32, ROWS>;
            var bv: array<f32, 4>;
            for (var i = 0u; i < ROWS; i++) {
                av[i] = tile_a[(lid.y + 16u * i) * 16u + k];
            }
            for (var j = 0u; j < 4u; j++) {
                bv[j] = tile_b[k * 64u + lid.x + 16u * j];
            }
            for (var i = 0u; i < ROWS; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i * 4u + j] = fma(av[i], bv[j], acc[i * 4u + j]);
                }
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < ROWS; i++) {
        for (var j = 0u; j < 4u; j++) {
            let r = row0 + lid.y + 16u * i;
            let col = col0 + lid.x + 16u * j;
            if (r < m && col < n) {
                c[z * p(7u) + r * n + col] = acc[i * 4u + j];
            }
        }
    }
}
"#
        )
    };
}

/// Rows of the output tile of [`GEMM`] (of [`GEMM_SKINNY`]: 16).
pub(super) const GEMM_TILE_ROWS: usize = 64;

/// The batched GEMM with 64×64 output tiles (each thread 4×4): bigger tiles cut global reads
/// (each loaded element is used 64 times) but waste work on products with few rows.
pub(super) const GEMM: Kernel = Kernel {
    name: "gemm",
    layout: Layout::Custom,
    body: gemm_body!("4"),
};

/// The batched GEMM with 16×64 output tiles (each thread 1×4), for products of at most 32 rows
/// (the convolutions' `C_out × (OH·OW)` products): a 64-row tile would compute 4–10× the rows.
pub(super) const GEMM_SKINNY: Kernel = Kernel {
    name: "gemm_skinny",
    layout: Layout::Custom,
    body: gemm_body!("1"),
};

/// Sum over the middle axis of `[outer, len, inner]`: `p = [outer·inner, len, inner]`.
pub(super) const SUM_AXIS: Kernel = Kernel {
    name: "sum_axis",
    layout: Layout::Items,
    body: r#"
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn item(i: u32) {
    let len = p(1u);
    let inner = p(2u);
    let o = i / inner;
    let r = i % inner;
    var s = 0.0;
    for (var j = 0u; j < len; j++) {
        s += a[(o * len + j) * inner + r];
    }
    out[i] = s;
}
"#,
};

/// Sum of each row of `[rows, len]`, one workgroup per row (grid folded into x, y):
/// `p = [rows, len]`; 256 strided partial sums, then a tree.
pub(super) const SUM_ROWS: Kernel = Kernel {
    name: "sum_rows",
    layout: Layout::Custom,
    body: r#"
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> part: array<f32, 256>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let row = wid.y * nwg.x + wid.x;
    let rows = p(0u);
    let len = p(1u);
    var s = 0.0;
    if (row < rows) {
        for (var j = lid; j < len; j += 256u) {
            s += a[row * len + j];
        }
    }
    part[lid] = s;
    workgroupBarrier();
    for (var w = 128u; w > 0u; w = w / 2u) {
        if (lid < w) {
            part[lid] += part[lid + w];
        }
        workgroupBarrier();
    }
    if (lid == 0u && row < rows) {
        out[row] = part[0];
    }
}
"#,
};

/// `row_lse(base, d)`: the logsumexp of `x[base..base + d]` (max-shifted; NaN wins the max),
/// shared by the row kernels that read a binding named `x`. As on the CPU, a non-finite max is
/// the result (−∞ for an empty row or a row of −∞, +∞ with any +∞, NaN with any NaN); the
/// checks go through the bits, since WGSL lets compilers assume floats are finite.
macro_rules! row_lse_fn {
    () => {
        r#"
// |v|'s bits: above 0x7f800000 for NaN, equal for ±∞.
fn magnitude_bits(v: f32) -> u32 {
    return bitcast<u32>(v) & 0x7fffffffu;
}

fn row_lse(base: u32, d: u32) -> f32 {
    if (d == 0u) {
        return bitcast<f32>(0xff800000u); // −∞
    }
    var m = x[base];
    for (var j = 1u; j < d; j++) {
        let v = x[base + j];
        if (v > m || magnitude_bits(v) > 0x7f800000u) {
            m = v;
        }
    }
    if (magnitude_bits(m) >= 0x7f800000u) {
        return m;
    }
    var s = 0.0;
    for (var j = 0u; j < d; j++) {
        s += exp(x[base + j] - m);
    }
    return m + log(s);
}
"#
    };
}

/// Row-wise logsumexp of `x` `[rows, d]`: `p = [rows, d]`.
pub(super) const LOGSUMEXP_ROWS: Kernel = Kernel {
    name: "logsumexp_rows",
    layout: Layout::Items,
    body: concat!(
        row_lse_fn!(),
        r#"
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn item(r: u32) {
    let d = p(1u);
    out[r] = row_lse(r * d, d);
}
"#
    ),
};

/// Row-wise log-softmax of `x` `[rows, d]`: `p = [rows, d]`.
pub(super) const LOG_SOFTMAX_ROWS: Kernel = Kernel {
    name: "log_softmax_rows",
    layout: Layout::Items,
    body: concat!(
        row_lse_fn!(),
        r#"
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn item(r: u32) {
    let d = p(1u);
    let lse = row_lse(r * d, d);
    for (var j = 0u; j < d; j++) {
        out[r * d + j] = x[r * d + j] - lse;
    }
}
"#
    ),
};

/// `dx_ij = g_i · e^(x_ij − lse_i)`: `p = [rows, d]`.
pub(super) const LOGSUMEXP_ROWS_BACKWARD: Kernel = Kernel {
    name: "logsumexp_rows_backward",
    layout: Layout::Items,
    body: r#"
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

fn item(r: u32) {
    let d = p(1u);
    for (var j = 0u; j < d; j++) {
        out[r * d + j] = g[r] * exp(x[r * d + j] - lse[r]);
    }
}
"#,
};

/// `dx_ij = g_ij − e^(y_ij)·Σ_k g_ik` for the log-softmax output `y`: `p = [rows, d]`.
pub(super) const LOG_SOFTMAX_ROWS_BACKWARD: Kernel = Kernel {
    name: "log_softmax_rows_backward",
    layout: Layout::Items,
    body: r#"
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn item(r: u32) {
    let d = p(1u);
    var gs = 0.0;
    for (var j = 0u; j < d; j++) {
        gs += g[r * d + j];
    }
    for (var j = 0u; j < d; j++) {
        out[r * d + j] = g[r * d + j] - exp(y[r * d + j]) * gs;
    }
}
"#,
};

/// Rows divided by `max(‖row‖, eps)`, and those clamped norms: `p = [rows, d, eps]`.
pub(super) const L2_NORMALIZE_ROWS: Kernel = Kernel {
    name: "l2_normalize_rows",
    layout: Layout::Items,
    body: r#"
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> norms: array<f32>;

fn item(r: u32) {
    let d = p(1u);
    var sq = 0.0;
    for (var j = 0u; j < d; j++) {
        let v = x[r * d + j];
        sq += v * v;
    }
    let n = max(sqrt(sq), pf(2u));
    norms[r] = n;
    for (var j = 0u; j < d; j++) {
        y[r * d + j] = x[r * d + j] / n;
    }
}
"#,
};

/// `dx = (g − y·(g·y))/n`, or `g/n` for a row whose norm was clamped to eps: `p = [rows, d, eps]`.
pub(super) const L2_NORMALIZE_ROWS_BACKWARD: Kernel = Kernel {
    name: "l2_normalize_rows_backward",
    layout: Layout::Items,
    body: r#"
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> norms: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

fn item(r: u32) {
    let d = p(1u);
    let n = norms[r];
    var gy = 0.0;
    if (n > pf(2u)) {
        for (var j = 0u; j < d; j++) {
            gy += g[r * d + j] * y[r * d + j];
        }
    }
    for (var j = 0u; j < d; j++) {
        out[r * d + j] = (g[r * d + j] - y[r * d + j] * gy) / n;
    }
}
"#,
};

/// Copies a block along one axis: `dst[o, dst_off + j, i] = src[o, src_off + j, i]` for
/// `j < len`: `p = [outer·len·inner, len, inner, src axis length, dst axis length, src_off,
/// dst_off]` (concat and slice).
pub(super) const COPY_AXIS: Kernel = Kernel {
    name: "copy_axis",
    layout: Layout::Items,
    body: r#"
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn item(t: u32) {
    let len = p(1u);
    let inner = p(2u);
    let i = t % inner;
    let j = (t / inner) % len;
    let o = t / (inner * len);
    dst[(o * p(4u) + p(6u) + j) * inner + i] = src[(o * p(3u) + p(5u) + j) * inner + i];
}
"#,
};

/// Matrix transpose: `p = [r·c, r, c]`, `out[j, i] = a[i, j]`.
pub(super) const TRANSPOSE: Kernel = Kernel {
    name: "transpose",
    layout: Layout::Items,
    body: r#"
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn item(t: u32) {
    let r = p(1u);
    let c = p(2u);
    let i = t % r;
    let j = t / r;
    out[t] = a[i * c + j];
}
"#,
};

/// Row gather: `p = [n_idx·inner, inner]`, `out[k, i] = a[idx[k], i]`.
pub(super) const GATHER_ROWS: Kernel = Kernel {
    name: "gather_rows",
    layout: Layout::Items,
    body: r#"
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn item(t: u32) {
    let inner = p(1u);
    out[t] = a[idx[t / inner] * inner + t % inner];
}
"#,
};

/// Row scatter-add (the gradient of a gather), gathered per output element in index order:
/// `p = [rows·inner, inner, n_idx]`, `out[r, i] = Σ_{k: idx[k] = r} g[k, i]`.
pub(super) const SCATTER_ADD_ROWS: Kernel = Kernel {
    name: "scatter_add_rows",
    layout: Layout::Items,
    body: r#"
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn item(t: u32) {
    let inner = p(1u);
    let r = t / inner;
    let i = t % inner;
    var s = 0.0;
    for (var k = 0u; k < p(2u); k++) {
        if (idx[k] == r) {
            s += g[k * inner + i];
        }
    }
    out[t] = s;
}
"#,
};

/// Unfold for convolution: `cols[n, (c·KH + kh)·KW + kw, oh·OW + ow] = x[n, c, oh·s − pad + kh,
/// ow·s − pad + kw]` (0 outside): `p = [items, C, H, W, KH, KW, OH, OW, stride, pad]`.
pub(super) const IM2COL: Kernel = Kernel {
    name: "im2col",
    layout: Layout::Items,
    body: concat!(
        conv_geometry_fn!(),
        r#"
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> cols: array<f32>;

fn item(t: u32) {
    let d = conv_geometry();
    let sp = d.oh_n * d.ow_n;
    let ckk = d.c_in * d.kh_n * d.kw_n;
    let pos = t % sp;
    let row = (t / sp) % ckk;
    let n = t / (sp * ckk);
    let kw = row % d.kw_n;
    let kh = (row / d.kw_n) % d.kh_n;
    let c = row / (d.kw_n * d.kh_n);
    let iy = i32((pos / d.ow_n) * d.s + kh) - i32(d.pad);
    let ix = i32((pos % d.ow_n) * d.s + kw) - i32(d.pad);
    var v = 0.0;
    if (iy >= 0 && iy < i32(d.h) && ix >= 0 && ix < i32(d.w)) {
        v = x[((n * d.c_in + c) * d.h + u32(iy)) * d.w + u32(ix)];
    }
    cols[t] = v;
}
"#
    ),
};

/// Direct convolution for inputs with few channels: one thread per output element sums its
/// `C·KH·KW` window, plus the bias: `p = [items, C, H, W, KH, KW, OH, OW, stride, pad, C_out]`.
pub(super) const CONV2D_DIRECT: Kernel = Kernel {
    name: "conv2d_direct",
    layout: Layout::Items,
    body: concat!(
        conv_geometry_fn!(),
        r#"
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

fn item(t: u32) {
    let d = conv_geometry();
    let c_out = p(10u);
    let ow = t % d.ow_n;
    let oh = (t / d.ow_n) % d.oh_n;
    let co = (t / (d.ow_n * d.oh_n)) % c_out;
    let n = t / (d.ow_n * d.oh_n * c_out);
    var acc = 0.0;
    for (var c = 0u; c < d.c_in; c++) {
        for (var kh = 0u; kh < d.kh_n; kh++) {
            let iy = i32(oh * d.s + kh) - i32(d.pad);
            if (iy < 0 || iy >= i32(d.h)) {
                continue;
            }
            for (var kw = 0u; kw < d.kw_n; kw++) {
                let ix = i32(ow * d.s + kw) - i32(d.pad);
                if (ix < 0 || ix >= i32(d.w)) {
                    continue;
                }
                let xv = x[((n * d.c_in + c) * d.h + u32(iy)) * d.w + u32(ix)];
                acc = fma(xv, wt[((co * d.c_in + c) * d.kh_n + kh) * d.kw_n + kw], acc);
            }
        }
    }
    out[t] = acc + bias[co];
}
"#
    ),
};

/// Weight gradient of a convolution with a small window, one workgroup per weight element
/// (grid folded into x, y): 256 strided partial sums of `G·X` over (image, output position),
/// then a tree: `p = [weights, C, H, W, KH, KW, OH, OW, stride, pad, C_out, N]`.
pub(super) const CONV2D_GRAD_WEIGHT_DIRECT: Kernel = Kernel {
    name: "conv2d_grad_weight_direct",
    layout: Layout::Custom,
    body: concat!(
        conv_geometry_fn!(),
        r#"
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> gw: array<f32>;

var<workgroup> part: array<f32, 256>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let e = wid.y * nwg.x + wid.x;
    let d = conv_geometry();
    let c_out = p(10u);
    let images = p(11u);
    let kw = e % d.kw_n;
    let kh = (e / d.kw_n) % d.kh_n;
    let c = (e / (d.kw_n * d.kh_n)) % d.c_in;
    let co = e / (d.kw_n * d.kh_n * d.c_in);
    let sp = d.oh_n * d.ow_n;
    var acc = 0.0;
    if (e < p(0u)) {
        for (var q = lid; q < images * sp; q += 256u) {
            let n = q / sp;
            let pos = q % sp;
            let iy = i32((pos / d.ow_n) * d.s + kh) - i32(d.pad);
            let ix = i32((pos % d.ow_n) * d.s + kw) - i32(d.pad);
            if (iy >= 0 && iy < i32(d.h) && ix >= 0 && ix < i32(d.w)) {
                let xv = x[((n * d.c_in + c) * d.h + u32(iy)) * d.w + u32(ix)];
                acc = fma(g[(n * c_out + co) * sp + pos], xv, acc);
            }
        }
    }
    part[lid] = acc;
    workgroupBarrier();
    for (var half = 128u; half > 0u; half = half / 2u) {
        if (lid < half) {
            part[lid] += part[lid + half];
        }
        workgroupBarrier();
    }
    if (lid == 0u && e < p(0u)) {
        gw[e] = part[0];
    }
}
"#
    ),
};

/// Fold for the convolution backward: each input pixel sums the patch entries it fed, in
/// (kh, kw) order: `p = [items, C, H, W, KH, KW, OH, OW, stride, pad]`.
pub(super) const COL2IM: Kernel = Kernel {
    name: "col2im",
    layout: Layout::Items,
    body: concat!(
        conv_geometry_fn!(),
        r#"
@group(0) @binding(1) var<storage, read> cols: array<f32>;
@group(0) @binding(2) var<storage, read_write> gx: array<f32>;

fn item(t: u32) {
    let d = conv_geometry();
    let sp = d.oh_n * d.ow_n;
    let ix = t % d.w;
    let iy = (t / d.w) % d.h;
    let c = (t / (d.w * d.h)) % d.c_in;
    let n = t / (d.w * d.h * d.c_in);
    var acc = 0.0;
    for (var kh = 0u; kh < d.kh_n; kh++) {
        let ty = i32(iy + d.pad) - i32(kh);
        if (ty < 0 || u32(ty) % d.s != 0u || u32(ty) / d.s >= d.oh_n) {
            continue;
        }
        for (var kw = 0u; kw < d.kw_n; kw++) {
            let tx = i32(ix + d.pad) - i32(kw);
            if (tx < 0 || u32(tx) % d.s != 0u || u32(tx) / d.s >= d.ow_n) {
                continue;
            }
            let row = (c * d.kh_n + kh) * d.kw_n + kw;
            let pos = (u32(ty) / d.s) * d.ow_n + u32(tx) / d.s;
            acc += cols[(n * d.c_in * d.kh_n * d.kw_n + row) * sp + pos];
        }
    }
    gx[t] = acc;
}
"#
    ),
};

/// Average pooling, kernel = stride = k: `p = [planes·OH·OW, H, W, OH, OW, k]`.
pub(super) const AVG_POOL2D: Kernel = Kernel {
    name: "avg_pool2d",
    layout: Layout::Items,
    body: concat!(
        pool_geometry_fn!(),
        r#"
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn item(t: u32) {
    let d = pool_geometry();
    let ow = t % d.ow_n;
    let oh = (t / d.ow_n) % d.oh_n;
    let plane = t / (d.ow_n * d.oh_n);
    var s = 0.0;
    for (var i = 0u; i < d.k; i++) {
        for (var j = 0u; j < d.k; j++) {
            s += x[(plane * d.h + oh * d.k + i) * d.w + ow * d.k + j];
        }
    }
    out[t] = s / f32(d.k * d.k);
}
"#
    ),
};

/// Gradient of average pooling: `p = [planes·H·W, H, W, OH, OW, k]`.
pub(super) const AVG_POOL2D_BACKWARD: Kernel = Kernel {
    name: "avg_pool2d_backward",
    layout: Layout::Items,
    body: concat!(
        pool_geometry_fn!(),
        r#"
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> gx: array<f32>;

fn item(t: u32) {
    let d = pool_geometry();
    let ix = t % d.w;
    let iy = (t / d.w) % d.h;
    let plane = t / (d.w * d.h);
    var v = 0.0;
    if (iy / d.k < d.oh_n && ix / d.k < d.ow_n) {
        v = g[(plane * d.oh_n + iy / d.k) * d.ow_n + ix / d.k] / f32(d.k * d.k);
    }
    gx[t] = v;
}
"#
    ),
};

/// One Adam/AdamW step into fresh buffers (see `optim::adam` for the formula): `p = [n, flags
/// (bit 0 decoupled decay, bit 1 L2 decay), shrink, l2_wd, 1 − β1, β2, 1 − β2, √bc2,
/// −lr/bc1, eps]`.
pub(super) const ADAM: Kernel = Kernel {
    name: "adam",
    layout: Layout::Items,
    body: r#"
@group(0) @binding(1) var<storage, read> param: array<f32>;
@group(0) @binding(2) var<storage, read> m_in: array<f32>;
@group(0) @binding(3) var<storage, read> v_in: array<f32>;
@group(0) @binding(4) var<storage, read> grad: array<f32>;
@group(0) @binding(5) var<storage, read_write> param_out: array<f32>;
@group(0) @binding(6) var<storage, read_write> m_out: array<f32>;
@group(0) @binding(7) var<storage, read_write> v_out: array<f32>;

// torch.lerp: start + w·(end − start) for |w| < 0.5, else end − (end − start)·(1 − w).
fn lerp(start: f32, end: f32, w: f32) -> f32 {
    if (abs(w) < 0.5) {
        return start + w * (end - start);
    }
    return end - (end - start) * (1.0 - w);
}

fn item(i: u32) {
    let flags = p(1u);
    var x = param[i];
    if ((flags & 1u) != 0u) {
        x = x * pf(2u);
    }
    var g = grad[i];
    if ((flags & 2u) != 0u) {
        g = g + pf(3u) * x;
    }
    let m = lerp(m_in[i], g, pf(4u));
    let v = v_in[i] * pf(5u) + pf(6u) * g * g;
    let denom = sqrt(v) / pf(7u) + pf(9u);
    param_out[i] = x + pf(8u) * m / denom;
    m_out[i] = m;
    v_out[i] = v;
}
"#,
};
