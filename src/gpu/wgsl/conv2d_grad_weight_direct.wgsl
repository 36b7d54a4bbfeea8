// CONV2D_GRAD_WEIGHT_DIRECT (after conv_geometry.wgsl): weight gradient of a convolution with
// a small window, one workgroup per weight element (grid folded into x, y): 256 strided
// partial sums of `G·X` over (image, output position), then a tree. Parameters: p = [weights,
// C, H, W, KH, KW, OH, OW, stride, pad, C_out, N].
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> gw: array<f32>;

var<workgroup> part: array<f32, 256>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let e = wid.y * nwg.x + wid.x;
    let d = conv_geometry();
    let c_out = p(10u);
    let images = p(11u);
    let kw = e % d.kw_n;
    let kh = (e / d.kw_n) % d.kh_n;
    let c = (e / (d.kw_n * d.kh_n)) % d.c_in;
    let co = e / (d.kw_n * d.kh_n * d.c_in);
    let sp = d.oh_n * d.ow_n;
    var acc = 0.0;
    if (e < p(0u)) {
        for (var q = lid; q < images * sp; q += 256u) {
            let n = q / sp;
            let pos = q % sp;
            let iy = i32((pos / d.ow_n) * d.s + kh) - i32(d.pad);
            let ix = i32((pos % d.ow_n) * d.s + kw) - i32(d.pad);
            if (iy >= 0 && iy < i32(d.h) && ix >= 0 && ix < i32(d.w)) {
                let xv = x[((n * d.c_in + c) * d.h + u32(iy)) * d.w + u32(ix)];
                acc = fma(g[(n * c_out + co) * sp + pos], xv, acc);
            }
        }
    }
    part[lid] = acc;
    workgroupBarrier();
    for (var half = 128u; half > 0u; half = half / 2u) {
        if (lid < half) {
            part[lid] += part[lid + half];
        }
        workgroupBarrier();
    }
    if (lid == 0u && e < p(0u)) {
        gw[e] = part[0];
    }
}
