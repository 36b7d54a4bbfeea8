// Helper of the pooling kernels: `pool_geometry()` reads the pooling parameters `p(1..=5)` =
// H, W, OH, OW, k.
struct PoolGeometry {
    h: u32, w: u32, oh_n: u32, ow_n: u32, k: u32,
}

fn pool_geometry() -> PoolGeometry {
    return PoolGeometry(p(1u), p(2u), p(3u), p(4u), p(5u));
}
