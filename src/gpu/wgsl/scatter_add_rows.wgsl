// SCATTER_ADD_ROWS: row scatter-add (the gradient of a gather), `out[r, i] = Σ_{k: idx[k] = r}
// g[k, i]`, gathered per output element in index order. Parameters: p = [rows·inner, inner,
// n_idx].
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
