// L2_NORMALIZE_ROWS_BACKWARD: `dx = (g − y·(g·y))/n`, or `g/n` for a row whose norm was
// clamped to eps, one thread per row. Parameters: p = [rows, d, eps].
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
