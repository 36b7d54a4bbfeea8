// TRANSPOSE: matrix transpose `out[j, i] = a[i, j]`, one thread per element. Parameters:
// p = [r·c, r, c].
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn item(t: u32) {
    let r = p(1u);
    let c = p(2u);
    let i = t % r;
    let j = t / r;
    out[t] = a[i * c + j];
}
