// UPSAMPLE_NEAREST2D_BACKWARD (after pool_geometry.wgsl): the gradient of nearest-neighbour
// upsampling, one thread per input element summing its k × k window of the output gradient
// (rows, then columns, as the CPU). Parameters: p = [planes·OH·OW, H, W, OH, OW, k].
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> gx: array<f32>;

fn item(t: u32) {
    let d = pool_geometry();
    let ow = t % d.ow_n;
    let oh = (t / d.ow_n) % d.oh_n;
    let plane = t / (d.ow_n * d.oh_n);
    var s = 0.0;
    for (var i = 0u; i < d.k; i++) {
        for (var j = 0u; j < d.k; j++) {
            s += g[(plane * d.h + oh * d.k + i) * d.w + ow * d.k + j];
        }
    }
    gx[t] = s;
}
