// AVG_POOL2D_BACKWARD (after pool_geometry.wgsl): the gradient of average pooling, one thread
// per input element. Parameters: p = [planes·H·W, H, W, OH, OW, k].
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> gx: array<f32>;

fn item(t: u32) {
    let d = pool_geometry();
    let ix = t % d.w;
    let iy = (t / d.w) % d.h;
    let plane = t / (d.w * d.h);
    var v = 0.0;
    if (iy / d.k < d.oh_n && ix / d.k < d.ow_n) {
        v = g[(plane * d.oh_n + iy / d.k) * d.ow_n + ix / d.k] / f32(d.k * d.k);
    }
    gx[t] = v;
}
