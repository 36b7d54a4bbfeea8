// GATHER_ROWS: row gather `out[k, i] = a[idx[k], i]`, one thread per output element.
// Parameters: p = [n_idx·inner, inner].
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn item(t: u32) {
    let inner = p(1u);
    out[t] = a[idx[t / inner] * inner + t % inner];
}
