// AVG_POOL2D (after pool_geometry.wgsl): average pooling with kernel = stride = k, one thread
// per output element. Parameters: p = [planes·OH·OW, H, W, OH, OW, k].
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn item(t: u32) {
    let d = pool_geometry();
    let ow = t % d.ow_n;
    let oh = (t / d.ow_n) % d.oh_n;
    let plane = t / (d.ow_n * d.oh_n);
    var s = 0.0;
    for (var i = 0u; i < d.k; i++) {
        for (var j = 0u; j < d.k; j++) {
            s += x[(plane * d.h + oh * d.k + i) * d.w + ow * d.k + j];
        }
    }
    out[t] = s / f32(d.k * d.k);
}
