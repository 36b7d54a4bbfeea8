// CONV2D_DIRECT (after conv_geometry.wgsl): direct convolution for inputs with few channels,
// one thread per output element summing its `C·KH·KW` window, plus the bias. Parameters:
// p = [items, C, H, W, KH, KW, OH, OW, stride, pad, C_out].
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

fn item(t: u32) {
    let d = conv_geometry();
    let c_out = p(10u);
    let ow = t % d.ow_n;
    let oh = (t / d.ow_n) % d.oh_n;
    let co = (t / (d.ow_n * d.oh_n)) % c_out;
    let n = t / (d.ow_n * d.oh_n * c_out);
    var acc = 0.0;
    for (var c = 0u; c < d.c_in; c++) {
        for (var kh = 0u; kh < d.kh_n; kh++) {
            let iy = i32(oh * d.s + kh) - i32(d.pad);
            if (iy < 0 || iy >= i32(d.h)) {
                continue;
            }
            for (var kw = 0u; kw < d.kw_n; kw++) {
                let ix = i32(ow * d.s + kw) - i32(d.pad);
                if (ix < 0 || ix >= i32(d.w)) {
                    continue;
                }
                let xv = x[((n * d.c_in + c) * d.h + u32(iy)) * d.w + u32(ix)];
                acc = fma(xv, wt[((co * d.c_in + c) * d.kh_n + kh) * d.kw_n + kw], acc);
            }
        }
    }
    out[t] = acc + bias[co];
}
