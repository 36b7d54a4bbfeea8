// LOGSUMEXP_ROWS_BACKWARD: `dx_ij = g_i · e^(x_ij − lse_i)`, one thread per row.
// Parameters: p = [rows, d].
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
