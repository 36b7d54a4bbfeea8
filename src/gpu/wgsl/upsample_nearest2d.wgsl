// UPSAMPLE_NEAREST2D (after pool_geometry.wgsl): nearest-neighbour upsampling by k, one thread
// per output element; the geometry is the pooling from the output (H × W) back to the input
// (OH × OW). Parameters: p = [planes·H·W, H, W, OH, OW, k].
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn item(t: u32) {
    let d = pool_geometry();
    let ix = t % d.w;
    let iy = (t / d.w) % d.h;
    let plane = t / (d.w * d.h);
    out[t] = x[(plane * d.oh_n + iy / d.k) * d.ow_n + ix / d.k];
}
