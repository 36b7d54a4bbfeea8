// LOG_SOFTMAX_ROWS_BACKWARD: `dx_ij = g_ij − e^(y_ij)·Σ_k g_ik` for the log-softmax output
// `y`, one thread per row. Parameters: p = [rows, d].
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
