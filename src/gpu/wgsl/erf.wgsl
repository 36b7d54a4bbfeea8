// `erfc_f32(z)` and `normal_cdf(x)`: the CPU's method (`tensor/cpu/gelu.rs`) in f32 — the
// all-positive series `erf z = (2/√π)·e^{−z²}·Σ 2ⁿ z^{2n+1}/(2n+1)!!`, and for `erfc` of
// z ≥ 1.25 (where `1 − erf` would cancel) the continued fraction `erfc z = e^{−z²}/√π /
// (z + (1/2)/(z + 1/(z + …)))` with `cf_depth(z)` levels (about half the CPU's f64 depths,
// still far below f32's ε); 0 beyond z = 10 (erfc(10) ≈ 2e-45).
fn erf_series(z: f32) -> f32 {
    let z2 = 2.0 * z * z;
    var term = z;
    var sum = z;
    for (var n = 1u; n < 64u; n++) {
        term = term * z2 / (2.0 * f32(n) + 1.0);
        sum = sum + term;
        if (term <= 1e-8 * sum) {
            break;
        }
    }
    return 1.1283791670955126 * exp(-z * z) * sum;
}

fn cf_depth(z: f32) -> u32 {
    if (z < 1.5) {
        return 60u;
    }
    if (z < 2.0) {
        return 40u;
    }
    if (z < 2.5) {
        return 30u;
    }
    return 20u;
}

fn erfc_f32(z: f32) -> f32 {
    let a = abs(z);
    var tail = 0.0;
    if (a < 1.25) {
        tail = 1.0 - erf_series(a);
    } else if (a < 10.0) {
        var f = a;
        for (var k = cf_depth(a); k >= 1u; k--) {
            f = a + (f32(k) * 0.5) / f;
        }
        tail = exp(-a * a) / (1.7724538509055159 * f);
    }
    // erfc(−a) = 2 − erfc(a).
    return select(2.0 - tail, tail, z >= 0.0);
}

// Φ(x) = erfc(−x/√2)/2.
fn normal_cdf(x: f32) -> f32 {
    return 0.5 * erfc_f32(-x * 0.7071067811865476);
}
