// MAP: unary maps and scalar ops, one thread per element. Parameters: p = [n, op, s]; op 0
// relu, 1 exp, 2 ln, 3 sqrt, 4 neg, 5..8 `x + s`, `x − s`, `x · s`, `x / s`; 16 sigmoid.
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn item(i: u32) {
    let x = a[i];
    let s = pf(2u);
    var y = x;
    switch p(1u) {
        case 0u: { y = select(0.0, x, x > 0.0); }
        case 1u: { y = exp(x); }
        case 2u: { y = log(x); }
        case 3u: { y = sqrt(x); }
        case 4u: { y = -x; }
        case 5u: { y = x + s; }
        case 6u: { y = x - s; }
        case 7u: { y = x * s; }
        case 8u: { y = x / s; }
        // sigmoid, in the form that never overflows (as the CPU's).
        case 16u: { let e = exp(-abs(x)); y = select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0); }
        default: {}
    }
    out[i] = y;
}
