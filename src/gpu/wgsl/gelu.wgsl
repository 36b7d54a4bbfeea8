// GELU: `gelu(x) = x·Φ(x)` (mode 0) or its gradient `g·(Φ(x) + x·φ(x))` (mode 1, `g` bound
// to `grad`; mode 0 binds `x` there too and ignores it), one thread per element. Parameters:
// p = [n, mode].
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn item(i: u32) {
    let v = x[i];
    let cdf = normal_cdf(v);
    if (p(1u) == 0u) {
        out[i] = v * cdf;
    } else {
        out[i] = grad[i] * (cdf + v * 0.3989422804014327 * exp(-0.5 * v * v));
    }
}
