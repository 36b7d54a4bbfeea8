// The prelude of every kernel: binding 0, the parameter block of PARAM_WORDS = 32 u32 words
// (8 vec4s; f32 parameters bit-cast), and its accessors `p(i)` (word i) and `pf(i)` (word i
// as f32). Each kernel's own bindings follow from 1, inputs then outputs.
@group(0) @binding(0) var<uniform> params: array<vec4<u32>, 8>;

fn p(i: u32) -> u32 {
    return params[i / 4u][i % 4u];
}

fn pf(i: u32) -> f32 {
    return bitcast<f32>(p(i));
}
