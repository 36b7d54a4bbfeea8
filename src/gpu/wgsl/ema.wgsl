// EMA: `out = m·target + (1 − m)·source` (a momentum teacher's update), two products then
// their sum as the CPU computes them, one thread per element. Parameters: p = [n, m, 1 − m].
@group(0) @binding(1) var<storage, read> target_in: array<f32>;
@group(0) @binding(2) var<storage, read> source_in: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn item(i: u32) {
    let a = pf(1u) * target_in[i];
    let b = pf(2u) * source_in[i];
    out[i] = a + b;
}
