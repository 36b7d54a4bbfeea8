// IM2COL (after conv_geometry.wgsl): the unfold for convolution, `cols[n, (c·KH + kh)·KW + kw,
// oh·OW + ow] = x[n, c, oh·s − pad + kh, ow·s − pad + kw]` (0 outside), one thread per entry.
// Parameters: p = [items, C, H, W, KH, KW, OH, OW, stride, pad].
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> cols: array<f32>;

fn item(t: u32) {
    let d = conv_geometry();
    let sp = d.oh_n * d.ow_n;
    let ckk = d.c_in * d.kh_n * d.kw_n;
    let pos = t % sp;
    let row = (t / sp) % ckk;
    let n = t / (sp * ckk);
    let kw = row % d.kw_n;
    let kh = (row / d.kw_n) % d.kh_n;
    let c = row / (d.kw_n * d.kh_n);
    let iy = i32((pos / d.ow_n) * d.s + kh) - i32(d.pad);
    let ix = i32((pos % d.ow_n) * d.s + kw) - i32(d.pad);
    var v = 0.0;
    if (iy >= 0 && iy < i32(d.h) && ix >= 0 && ix < i32(d.w)) {
        v = x[((n * d.c_in + c) * d.h + u32(iy)) * d.w + u32(ix)];
    }
    cols[t] = v;
}
