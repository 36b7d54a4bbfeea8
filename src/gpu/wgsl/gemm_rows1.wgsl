// GEMM_SKINNY's variant of gemm.wgsl: 1 row per thread, 16-row output tiles.
const ROWS: u32 = 1u;
