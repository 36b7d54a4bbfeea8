// L2_NORMALIZE_ROWS: rows divided by `max(‖row‖, eps)`, and those clamped norms, one thread
// per row. Parameters: p = [rows, d, eps].
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
