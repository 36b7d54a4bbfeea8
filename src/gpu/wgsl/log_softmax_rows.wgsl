// LOG_SOFTMAX_ROWS (after row_lse.wgsl): row-wise log-softmax of `x` `[rows, d]`, one thread
// per row. Parameters: p = [rows, d].
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn item(r: u32) {
    let d = p(1u);
    let lse = row_lse(r * d, d);
    for (var j = 0u; j < d; j++) {
        out[r * d + j] = x[r * d + j] - lse;
    }
}
