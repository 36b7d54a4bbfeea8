// Helper of the row kernels that read a binding named `x`: `row_lse(base, d)` is the
// logsumexp of `x[base..base + d]` (max-shifted; NaN wins the max). As on the CPU, a
// non-finite max is the result (−∞ for an empty row or a row of −∞, +∞ with any +∞, NaN with
// any NaN); the checks go through the bits (`magnitude_bits`), since WGSL lets compilers assume
// floats are finite.

// |v|'s bits: above 0x7f800000 for NaN, equal for ±∞.
fn magnitude_bits(v: f32) -> u32 {
    return bitcast<u32>(v) & 0x7fffffffu;
}

fn row_lse(base: u32, d: u32) -> f32 {
    if (d == 0u) {
        return bitcast<f32>(0xff800000u); // −∞
    }
    var m = x[base];
    for (var j = 1u; j < d; j++) {
        let v = x[base + j];
        if (v > m || magnitude_bits(v) > 0x7f800000u) {
            m = v;
        }
    }
    if (magnitude_bits(m) >= 0x7f800000u) {
        return m;
    }
    var s = 0.0;
    for (var j = 0u; j < d; j++) {
        s += exp(x[base + j] - m);
    }
    return m + log(s);
}
