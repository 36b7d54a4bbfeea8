// SUM_AXIS: sum over the middle axis of `[outer, len, inner]`, one thread per output element.
// Parameters: p = [outer·inner, len, inner].
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
