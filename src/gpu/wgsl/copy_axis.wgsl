// COPY_AXIS (concat and slice): copies a block along one axis, `dst[o, dst_off + j, i] =
// src[o, src_off + j, i]` for `j < len`, one thread per copied element. Parameters: p =
// [outer·len·inner, len, inner, src axis length, dst axis length, src_off, dst_off].
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn item(t: u32) {
    let len = p(1u);
    let inner = p(2u);
    let i = t % inner;
    let j = (t / inner) % len;
    let o = t / (inner * len);
    dst[(o * p(4u) + p(6u) + j) * inner + i] = src[(o * p(3u) + p(5u) + j) * inner + i];
}
