// COL2IM (after conv_geometry.wgsl): the fold for the convolution backward, one thread per
// input pixel summing the patch entries it fed, in (kh, kw) order (a gather: no atomics).
// Parameters: p = [items, C, H, W, KH, KW, OH, OW, stride, pad].
@group(0) @binding(1) var<storage, read> cols: array<f32>;
@group(0) @binding(2) var<storage, read_write> gx: array<f32>;

fn item(t: u32) {
    let d = conv_geometry();
    let sp = d.oh_n * d.ow_n;
    let ix = t % d.w;
    let iy = (t / d.w) % d.h;
    let c = (t / (d.w * d.h)) % d.c_in;
    let n = t / (d.w * d.h * d.c_in);
    var acc = 0.0;
    for (var kh = 0u; kh < d.kh_n; kh++) {
        let ty = i32(iy + d.pad) - i32(kh);
        if (ty < 0 || u32(ty) % d.s != 0u || u32(ty) / d.s >= d.oh_n) {
            continue;
        }
        for (var kw = 0u; kw < d.kw_n; kw++) {
            let tx = i32(ix + d.pad) - i32(kw);
            if (tx < 0 || u32(tx) % d.s != 0u || u32(tx) / d.s >= d.ow_n) {
                continue;
            }
            let row = (c * d.kh_n + kh) * d.kw_n + kw;
            let pos = (u32(ty) / d.s) * d.ow_n + u32(tx) / d.s;
            acc += cols[(n * d.c_in * d.kh_n * d.kw_n + row) * sp + pos];
        }
    }
    gx[t] = acc;
}
