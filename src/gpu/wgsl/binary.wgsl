// BINARY: `out = a op b` with `b` broadcast, one thread per element. Parameters: p = [n, op,
// ndim, fill, shape[8], b_strides[8]] (b's stride is 0 along broadcast axes); op 0..3 add,
// sub, mul, div; 4 relu backward (`a` the relu output, `b` the gradient); 5 masked fill (`b`
// the mask as 0/1, `fill` the value).
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
